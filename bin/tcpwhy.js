#!/usr/bin/env -S node --max-semi-space-size=4 --max-old-space-size=64 --single-threaded-gc
// The tcpwhy command. The V8 flags keep the heap small: under an RST flood
// tcpwhy allocates fast, and V8's defaults would let the heap grow to
// hundreds of MB before collecting (docs/benchmarks.md, peak RSS).
import '../dist/src/cli/main.js';
