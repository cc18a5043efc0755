// An IPv6 TCP flood for bench/live-load.ts (hping3 has no IPv6): bare TCP
// segments with SYN (or ACK) set from a raw socket, the source port stepping
// through 1024..65535 as hping3's does, to DST:PORT, for at most SECONDS
// seconds and at most MAX packets (or until SIGINT/SIGTERM). The kernel writes
// the IPv6 header and, asked with IPV6_CHECKSUM, the TCP checksum. Batches go
// out with sendmmsg: one system call per packet would make the sender, not the
// receiver's kernel, the bottleneck.
//
// Usage: syn6-flood DST PORT SECONDS MAX [S|A]
// Prints "sent N dropped D seconds T" on stdout at the end.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define TCP_HDR 20
#define TCP_CSUM_OFFSET 16

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

int main(int argc, char **argv)
{
	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: %s DST PORT SECONDS MAX [S|A]\n", argv[0]);
		return 2;
	}
	struct sockaddr_in6 dst = {.sin6_family = AF_INET6};
	if (inet_pton(AF_INET6, argv[1], &dst.sin6_addr) != 1) {
		fprintf(stderr, "syn6-flood: bad IPv6 address %s\n", argv[1]);
		return 2;
	}
	long port = strtol(argv[2], NULL, 10);
	double seconds = strtod(argv[3], NULL);
	long long max = strtoll(argv[4], NULL, 10);
	uint8_t flags = (argc == 6 && argv[5][0] == 'A') ? 0x10 : 0x02;
	if (port < 1 || port > 65535 || seconds <= 0 || max <= 0) {
		fprintf(stderr, "syn6-flood: bad PORT, SECONDS or MAX\n");
		return 2;
	}

	int fd = socket(AF_INET6, SOCK_RAW, IPPROTO_TCP);
	if (fd < 0) {
		perror("syn6-flood: socket(AF_INET6, SOCK_RAW)");
		return 1;
	}
	int off = TCP_CSUM_OFFSET;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof(off)) < 0) {
		perror("syn6-flood: IPV6_CHECKSUM");
		return 1;
	}
	// The socket also gets a copy of every TCP segment that arrives (the RSTs):
	// the smallest receive buffer drops them early.
	int small = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	static uint8_t pkts[BATCH][TCP_HDR];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = pkts[i];
		iov[i].iov_len = TCP_HDR;
		msgs[i].msg_hdr.msg_name = &dst;
		msgs[i].msg_hdr.msg_namelen = sizeof(dst);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	uint32_t seq = (uint32_t)getpid() * 2654435761u;
	unsigned sport = 1024 + (unsigned)(getpid() % 60000);
	long long sent = 0, dropped = 0;
	double t0 = now(), t = t0;
	while (!stop && sent + dropped < max && t - t0 < seconds) {
		int n = BATCH;
		if (max - sent - dropped < n)
			n = (int)(max - sent - dropped);
		for (int i = 0; i < n; i++) {
			uint8_t *p = pkts[i];
			memset(p, 0, TCP_HDR);
			put16(p, (uint16_t)sport);
			put16(p + 2, (uint16_t)port);
			put32(p + 4, seq);
			put32(p + 8, flags == 0x10 ? seq ^ 0x5a5a5a5a : 0);
			p[12] = 5 << 4; // data offset: 5 words, no options
			p[13] = flags;
			put16(p + 14, 64240);
			seq += 7919;
			sport = sport >= 65535 ? 1024 : sport + 1;
		}
		int r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS || errno == EAGAIN) {
				dropped++; // the packet at the head of the batch; the rest are sent again with new ports
				continue;
			}
			perror("syn6-flood: sendmmsg");
			return 1;
		}
		sent += r;
		t = now();
	}
	printf("sent %lld dropped %lld seconds %.3f\n", sent, dropped, now() - t0);
	return 0;
}
