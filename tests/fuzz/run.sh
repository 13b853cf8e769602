#!/usr/bin/env bash
# Runs each libFuzzer target (build/fuzz/fuzz_*) for FUZZ_SECONDS, starting
# from its seed corpus in tests/fuzz/corpus/<name>/; new inputs go to a
# scratch corpus, never into the tree. Crashes are saved under
# build/fuzz-artifacts/. Prints PASS/FAIL per target.
set -u
cd "$(dirname "$0")/../.."
: "${BUILD:=$PWD/build}"
: "${FUZZ_SECONDS:=60}"
art="$BUILD/fuzz-artifacts"
mkdir -p "$art"
failed=0
for bin in "$BUILD"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	seeds="tests/fuzz/corpus/${name#fuzz_}"
	work=$(mktemp -d)
	log="$BUILD/test-logs/$name.log"
	mkdir -p "$(dirname "$log")"
	if "$bin" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 \
		-timeout=10 -print_final_stats=1 \
		-artifact_prefix="$art/$name-" "$work" "$seeds" >"$log" 2>&1
	then
		runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
			grep -o '[0-9]*$')
		echo "PASS fuzz.$name (${runs:-?} runs in ${FUZZ_SECONDS}s)"
	else
		echo "FAIL fuzz.$name: see $log and $art"
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
		failed=1
	fi
	rm -rf "$work"
done
exit $failed
