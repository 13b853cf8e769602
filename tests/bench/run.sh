#!/usr/bin/env bash
# Runs every benchmark: the C programs built from tests/bench/bench_*.c
# (in $BUILD/bench/) and the scripts tests/bench/bench_*.sh. Each prints
# its figures as "name: value" lines, measured in one run on this machine.
set -u
cd "$(dirname "$0")/../.."
: "${BUILD:=$PWD/build}"
: "${QIAO:=$BUILD/qiao}"
export QIAO BUILD
rc=0
for b in "$BUILD"/bench/bench_*; do
	[ -x "$b" ] || continue
	"$b" || rc=1
done
for s in tests/bench/bench_*.sh; do
	[ -e "$s" ] || continue
	bash "$s" || rc=1
done
exit $rc
