# Shared by the integration scripts (tests/it_*.sh): a scratch directory
# removed on exit, PASS/FAIL/SKIP lines in the format tests/run.sh counts,
# and helpers that run qiao and compare exit codes.
set -u
: "${QIAO:?QIAO must name the qiao binary}"
SUITE=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/qiao-$SUITE-XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	# QIAO_KEEP=1 keeps the scratch directory (stores, node logs) to look at.
	if [ -n "${QIAO_KEEP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
FAILED=0
pass() { echo "PASS $SUITE.$1"; }
fail() { echo "FAIL $SUITE.$1: $2"; FAILED=$((FAILED + 1)); }
skip() { echo "SKIP $SUITE.$1: $2"; }

# ok NAME COND-DESCRIPTION: records the last `check` result.
# check NAME WANT_RC CMD...: runs CMD, stdout to $T/out, stderr to $T/err,
# and passes when it exits with WANT_RC.
check() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		pass "$name"
		return 0
	fi
	fail "$name" "exit $rc, want $want: $* :: $(head -c 300 "$T/err")"
	return 1
}

# expect NAME: passes when the given test command succeeds.
expect() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "not true: $*"; fi
}

# Counts lines of a file matching a regex.
count() { grep -c -E "$1" "$2" 2>/dev/null || true; }

finish() { [ "$FAILED" -eq 0 ]; }

# wait_until SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds
# or SECONDS pass, then once more; its status is the answer.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while [ $SECONDS -lt $end ]; do
		"$@" && return 0
		sleep 0.2
	done
	"$@"
}

# head_seq DIR AUTHOR: the highest seq of AUTHOR (64 hex digits) that the
# store DIR holds; 0 when none.
head_seq() {
	local s
	s=$("$QIAO" heads --dir "$1" 2>/dev/null | grep "^$2" | awk '{print $2}')
	echo "${s:-0}"
}
