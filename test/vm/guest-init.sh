#!/bin/sh
# tcpwhy kernel matrix, stage two: PID 1 of the guest, on the host's root
# filesystem (read-only over virtio-9p, under a RAM overlay: writes stay in the
# guest). Mounts what a Linux host has, makes the kernel's own modules and
# config visible where modprobe and tcpwhy look, runs test/vm/guest.js with the
# job the host left in the shared directory, and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
arg() { for w in $(cat /proc/cmdline); do case "$w" in "tcpwhy.$1="*) echo "${w#tcpwhy.$1=}" ;; esac; done; }
off() { sync; /bin/busybox poweroff -f; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug

OUT=/run/tcpwhy-out
mkdir -p "$OUT"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out "$OUT" || { echo "tcpwhy-vm: cannot mount the output directory"; off; }
exec > "$OUT/init.log" 2>&1

REL=$(uname -r)
KROOT=$(arg kroot)
mkdir -p "/lib/modules/$REL" /boot
mount --bind "$KROOT/lib/modules/$REL" "/lib/modules/$REL"
# where a Debian host has it (libbpf and tcpwhy read CONFIG_HZ from it)
cp "$KROOT/boot/config-$REL" /boot/
hostname tcpwhy-vm
ip link set lo up

cd "$(arg repo)" || off
echo "guest up: $(uname -r), $(nproc) CPUs, $(cat /proc/uptime | cut -d' ' -f1) s"
node dist/test/vm/guest.js "$OUT" > "$OUT/guest.log" 2>&1
echo $? > "$OUT/exit-code"
dmesg > "$OUT/dmesg.txt" 2>&1
off
