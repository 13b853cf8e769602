#!/usr/bin/env bash
# make bench: every benchmark, figures printed as "name: value", measured in
# one run on this machine. C programs (tests/bench/bench_*.c, built into
# $BUILD/bench/) get a scratch directory as their argument; scripts
# (tests/bench/bench_*.sh) get $SCRATCH and $PIN. Everything runs pinned to
# one CPU with taskset where available (cross-core wake-ups on these small
# VMs make timings bimodal); the first lines say how it ran.
set -u
cd "$(dirname "$0")/../.."
: "${BUILD:=$PWD/build}"
: "${QIAO:=$BUILD/qiao}"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/qiao-bench-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
PIN=""
if command -v taskset >/dev/null && taskset -c 1 true 2>/dev/null; then
	PIN="taskset -c 1"
fi
echo "bench_pinning: ${PIN:-none}"
echo "bench_cpus: $(nproc)"
echo "bench_cpu_model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "bench_scratch_fs: $(df -T "$scratch" | awk 'NR==2 {print $2}')"
export QIAO BUILD PIN SCRATCH="$scratch"
rc=0
for b in "$BUILD"/bench/bench_*; do
	[ -x "$b" ] || continue
	mkdir -p "$scratch/$(basename "$b")"
	$PIN "$b" "$scratch/$(basename "$b")" || rc=1
done
for s in tests/bench/bench_*.sh; do
	[ -e "$s" ] || continue
	$PIN bash "$s" || rc=1
done
exit $rc
