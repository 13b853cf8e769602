#!/usr/bin/env bash
# make bench: every benchmark, figures printed as "name: value". Pinned to
# one CPU with taskset where available (cross-core wake-ups on these small
# VMs make timings bimodal); the first lines say how it ran.
set -eu
cd "$(dirname "$0")/../.."
: "${BUILD:=$PWD/build}"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/qiao-bench-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
PIN=()
if command -v taskset >/dev/null && taskset -c 1 true 2>/dev/null; then
	PIN=(taskset -c 1)
	echo "bench_pinning: taskset -c 1"
else
	echo "bench_pinning: none"
fi
echo "bench_cpus: $(nproc)"
echo "bench_cpu_model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "bench_scratch_fs: $(df -T "$scratch" | awk 'NR==2 {print $2}')"

mkdir -p "$scratch/log"
"${PIN[@]}" "$BUILD/bench/bench_log" "$scratch/log" "${BENCH_LOG_ENTRIES:-50000}"
