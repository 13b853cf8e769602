#!/usr/bin/env bash
# Runs every test: the unit suites (build/san/tests/t_*), the integration
# scripts (tests/it_*.sh) against the sanitizer build of qiao, and a short
# bounded run of each fuzz target. Each test prints PASS/FAIL/SKIP lines; a
# suite that dies without a FAIL line counts as one failure. Full output of
# each suite goes to build/test-logs/. The last line is the verdict:
#   N passed, N failed[, N skipped]
set -u
cd "$(dirname "$0")/.."
: "${BUILD:=$PWD/build}"
: "${QIAO:=$BUILD/san/qiao}"
export QIAO BUILD
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
logs="$BUILD/test-logs"
mkdir -p "$logs"
pass=0 fail=0 skip=0

# count NAME RC START: reads NAME's log, prints its FAIL/SKIP lines and its
# summary line, and adds its counts to the totals.
count() {
	local name=$1 rc=$2 start=$3 p f s
	p=$(grep -c '^PASS ' "$logs/$name.log")
	f=$(grep -c '^FAIL ' "$logs/$name.log")
	s=$(grep -c '^SKIP ' "$logs/$name.log")
	grep -E '^(FAIL|SKIP) ' "$logs/$name.log"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited $rc without a FAIL line; last lines:"
		tail -n 15 "$logs/$name.log" | sed 's/^/    /'
		f=1
	fi
	printf '%-28s %3d passed, %d failed, %d skipped (%ds)\n' \
		"$name" "$p" "$f" "$s" $((SECONDS - start))
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

suite() { # name, command...
	local name=$1 start=$SECONDS
	shift
	"$@" >"$logs/$name.log" 2>&1
	count "$name" $? "$start"
}

# Suites that spend their time waiting on the network they build (the
# namespaces' loss and 800 ms relay) run beside the others rather than
# after them; they use no loopback ports, so nothing is shared.
BESIDE=(it_netns)
declare -A beside_pid beside_start

only=${1:-}
for b in "${BESIDE[@]}"; do
	[ -n "$only" ] && [[ $b != *"$only"* ]] && continue
	[ -e "tests/$b.sh" ] || continue
	beside_start[$b]=$SECONDS
	bash "tests/$b.sh" >"$logs/$b.log" 2>&1 &
	beside_pid[$b]=$!
done
for t in "$BUILD"/san/tests/t_*; do
	[ -x "$t" ] || continue
	[ -n "$only" ] && [[ $(basename "$t") != *"$only"* ]] && continue
	suite "$(basename "$t")" "$t"
done
for t in tests/it_*.sh; do
	name=$(basename "$t" .sh)
	[ -n "$only" ] && [[ $name != *"$only"* ]] && continue
	[ -n "${beside_pid[$name]:-}" ] && continue
	suite "$name" bash "$t"
done
if [ -z "$only" ] || [[ fuzz == *"$only"* ]]; then
	suite fuzz-short env FUZZ_SECONDS="${FUZZ_SHORT_SECONDS:-5}" \
		tests/fuzz/run.sh
fi

for b in "${!beside_pid[@]}"; do
	wait "${beside_pid[$b]}"
	count "$b" $? "${beside_start[$b]}"
done

if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
