#!/usr/bin/env bash
# Crash safety: a process appending in a loop is killed with SIGKILL at
# random moments, many times. Afterwards the store verifies, and every entry
# whose append was acknowledged (its commit returned) is there, unchanged.
. "$(dirname "$0")/lib.sh"
APPENDER=$BUILD/san/tools/appender
ROUNDS=${CRASH_ROUNDS:-40}
seed=${QIAO_SEED:-$$}
RANDOM=$seed

"$QIAO" init --dir "$T/s" >/dev/null 2>&1 || fail init "qiao init failed"
: >"$T/acks"
for ((r = 1; r <= ROUNDS; r++)); do
	"$APPENDER" "$T/s" >>"$T/acks" 2>>"$T/appender.err" &
	pid=$!
	# 50..650 ms: across start-up, signing, commit and fsync.
	sleep "0.$(printf %03d $((50 + RANDOM % 600)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
# A line cut by the kill is not an acknowledgement.
grep -E '^[0-9]+ [0-9a-f]{64}$' "$T/acks" >"$T/acked"
n=$(wc -l <"$T/acked")
expect appended_across_rounds [ "$n" -gt "$ROUNDS" ]
expect appender_never_failed [ ! -s "$T/appender.err" ]

check verify_after_kills 0 "$QIAO" log verify --dir "$T/s"
"$QIAO" log show --dir "$T/s" --json |
	grep -E '"(seq|hash)":' | paste - - |
	sed -E 's/.*"seq": ([0-9]+),.*"hash": "([0-9a-f]+)".*/\1 \2/' \
	>"$T/held"
missing=$(sort "$T/acked" | comm -23 - <(sort "$T/held") | wc -l)
expect no_acknowledged_entry_missing [ "$missing" -eq 0 ]
if [ "$missing" -ne 0 ]; then
	echo "seed $seed: $missing acknowledged entries missing" >&2
fi
# Restarting and appending again continues the same chain.
check append_after_kills 0 "$QIAO" log append --dir "$T/s" --type note \
	--text 恢复
expect chain_continues [ "$(cut -d' ' -f1 "$T/out")" -gt "$(tail -n1 "$T/acked" | cut -d' ' -f1)" ]
finish
