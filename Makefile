# tcpwhy build. `make test` and `make demo` work on a fresh Debian 12 machine as root:
# they install the system packages, the npm packages, build the BPF object, the native
# addon and the TypeScript, then run.
SHELL := /bin/bash
BPF_OBJ := build/tcpwhy.bpf.o
# libbpf skeleton of the object: compiled into the addon, which sets the
# object's configuration through it
SKEL := build/tcpwhy.skel.h
# TypeScript's bindings to the object's BTF (committed, rewritten when they change)
CONTRACT_STAMP := build/.contract-stamp
ADDON := native/build/Release/tcpwhy_native.node
# node-gyp builds against the headers of the running node (no download).
NODE_PREFIX := $(shell node -p 'require("path").dirname(require("path").dirname(process.execPath))')
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
APT_PACKAGES := clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool iproute2 tcpdump \
	bpftrace hping3 procps libcap2-bin time iptables nftables conntrack util-linux python3 tshark ethtool \
	qemu-system-x86 busybox-static kmod clang-format
STAMP_APT := build/.apt-stamp
# What the benchmarks add (bench/lab-nginx.ts runs its own nginx in a namespace; the
# package's service is stopped if the machine's policy let it start).
BENCH_PACKAGES := nginx wrk
STAMP_BENCH_APT := build/.bench-apt-stamp

.PHONY: all deps bench-deps build lint format test test-host test-kernels demo bench docs clean

all: build

# System packages: installed once per machine (the stamp lives in build/), checked
# again when the Makefile (its package list) changes.
$(STAMP_APT): Makefile
	@mkdir -p build
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install: $$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@touch $@

$(STAMP_BENCH_APT): Makefile | $(STAMP_APT)
	@missing=$$(for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing for the benchmarks: $$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install: $$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		if command -v systemctl >/dev/null && systemctl is-active -q nginx 2>/dev/null; then systemctl stop nginx; systemctl disable -q nginx; fi; \
	fi
	@touch $@

node_modules/.package-lock.json: package.json package-lock.json | $(STAMP_APT)
	npm ci --no-audit --no-fund

deps: $(STAMP_APT) node_modules/.package-lock.json

bench-deps: $(STAMP_BENCH_APT)

build/vmlinux.h: | $(STAMP_APT)
	@mkdir -p build
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BPF_OBJ): bpf/tcpwhy.bpf.c bpf/tcpwhy.h build/vmlinux.h
	clang -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -Ibuild -Ibpf -c $< -o $@

$(SKEL): $(BPF_OBJ)
	bpftool gen skeleton $< > $@.tmp && mv $@.tmp $@

# src/events/generated/contract.ts from the object's BTF, before tsc reads it
$(CONTRACT_STAMP): $(BPF_OBJ) scripts/gen-contract.mjs
	node scripts/gen-contract.mjs
	@touch $@

$(ADDON): native/tcpwhy_native.c native/binding.gyp bpf/tcpwhy.h $(SKEL) node_modules/.package-lock.json
	cd native && ../node_modules/.bin/node-gyp rebuild --silent --nodedir=$(NODE_PREFIX)

dist/.stamp: $(CONTRACT_STAMP) $(shell find src test bench scripts -name '*.ts' 2>/dev/null) tsconfig.json node_modules/.package-lock.json
	npx tsc -p tsconfig.json
	@touch $@

build: deps $(BPF_OBJ) $(ADDON) dist/.stamp

C_SOURCES := bpf/tcpwhy.bpf.c bpf/tcpwhy.h native/tcpwhy_native.c

# Format and lint: Biome for the TypeScript (biome.jsonc), clang-format for the C
# (.clang-format). `make format` rewrites what `make lint` complains about.
lint: deps
	npx biome check --error-on-warnings .
	clang-format --dry-run -Werror $(C_SOURCES)

format: deps
	npx biome check --write .
	clang-format -i $(C_SOURCES)

# Lint, then the whole suite on this machine's kernel, then the Debian 12 6.1 leg of the
# kernel matrix in qemu (the lab with its own hooks and with kprobes, every kernel test).
test: lint build
	node scripts/run-tests.mjs
	node dist/test/vm/run.js --ci

# Only this machine's kernel.
test-host: build
	node scripts/run-tests.mjs

# Every kernel of the matrix (test/vm/kernels.ts), the host's too, with the
# whole job each; writes the matrix into docs/kernel-support.md.
test-kernels: build
	node dist/test/vm/run.js --docs

demo: build
	node dist/src/cli/main.js demo

bench: build $(STAMP_BENCH_APT)
	node dist/bench/rst-flood.js
	node dist/bench/capture-analyze.js
	node dist/bench/live-load.js
	node dist/bench/drop-load.js

docs: build
	node dist/src/events/docs.js
	node dist/src/events/type-gen.js
	node dist/src/causes/docs.js
	node dist/src/schemas/write.js

clean:
	rm -rf build dist native/build
