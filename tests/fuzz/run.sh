#!/usr/bin/env bash
# Runs each libFuzzer target (build/fuzz/fuzz_*) for FUZZ_SECONDS, starting
# from its seed corpus in tests/fuzz/corpus/<name>/; new inputs go to a
# scratch corpus, never into the tree. Crashes are saved under
# build/fuzz-artifacts/. FUZZ_JOBS targets run at a time (default: the
# number of cores, at most 2), so the whole run takes about
# ceil(targets / FUZZ_JOBS) * FUZZ_SECONDS. Prints PASS/FAIL per target.
set -u
cd "$(dirname "$0")/../.."
: "${BUILD:=$PWD/build}"
: "${FUZZ_SECONDS:=60}"
: "${FUZZ_JOBS:=$(n=$(nproc 2>/dev/null || echo 1); [ "$n" -gt 2 ] && n=2; echo "$n")}"
art="$BUILD/fuzz-artifacts"
mkdir -p "$art" "$BUILD/test-logs"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

one() { # bin: runs one target, writes its verdict line to $results
	local bin=$1 name seeds work log runs
	name=$(basename "$bin")
	seeds="tests/fuzz/corpus/${name#fuzz_}"
	work=$(mktemp -d)
	log="$BUILD/test-logs/$name.log"
	if "$bin" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 \
		-timeout=10 -print_final_stats=1 \
		-artifact_prefix="$art/$name-" "$work" "$seeds" >"$log" 2>&1
	then
		runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
			grep -o '[0-9]*$')
		echo "PASS fuzz.$name (${runs:-?} runs in ${FUZZ_SECONDS}s)" \
			>"$results/$name"
	else
		{
			echo "FAIL fuzz.$name: see $log and $art"
			grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
		} >"$results/$name"
	fi
	rm -rf "$work"
}

running=0
for bin in "$BUILD"/fuzz/fuzz_*; do
	[ -x "$bin" ] && [ -f "$bin" ] || continue
	one "$bin" &
	running=$((running + 1))
	if [ "$running" -ge "$FUZZ_JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
failed=0
for f in "$results"/*; do
	[ -e "$f" ] || continue
	cat "$f"
	grep -q '^FAIL' "$f" && failed=1
done
exit $failed
