#!/usr/bin/env bash
# Crash safety: kill -9 at random moments, and nothing acknowledged is lost.
#
# A. Appending. A process appending notes in a loop is killed many times.
#    Acknowledged: the appender printed "seq hash" (its commit returned).
# B. Ingest. `qiao log import` of a village's 3,000-entry export into the
#    district is killed at random points, again and again. Acknowledged:
#    what a reader saw stored after an earlier kill (heads never go back),
#    and every stored entry is the village's own (same hash at that seq).
# C. Sync. A second village (`qiao node run`, with an appender writing into its
#    store all along) streams its log to its town (`qiao node run`); one of
#    the two is killed -9 at a random moment, 50 times (two town kills for
#    every village kill), and restarted. Acknowledged, precisely: for each
#    author, the highest seq the village has recorded that the town holds
#    (`qiao heads --peer TOWN`, the village's peers table: what the town
#    confirmed with SYNCED, announced in HEADS or sent) -- the town must
#    hold at least that after every crash; and every append the appender
#    acknowledged is in the village's log.
# After every kill: `qiao log verify` passes and `qiao reindex` leaves the
# state digest unchanged, on the store of the process that was killed. At
# the end the town holds exactly the village's log: same scope digest, the
# same number of entries as the village's head seq (nothing lost, nothing
# twice).
#
# The killed processes are the sanitizer build ($QIAO); the per-round
# checks run the optimised build beside it ($BUILD/qiao) to keep 50 rounds
# within seconds -- it reads the same store the same way.
source "$(dirname "$0")/lib.sh"
APPENDER=$BUILD/san/tools/appender
QF=${QIAO_FAST:-$BUILD/qiao}
[ -x "$QF" ] || QF=$QIAO
seed=${QIAO_SEED:-$$}
RANDOM=$seed
echo "# seed $seed (QIAO_SEED=$seed replays the kill times)"

ms() { printf '0.%03d' "$1"; } # a sleep of $1 (< 1000) milliseconds

# verify_reindex NAME DIR: the checks after every kill.
verify_reindex() {
	local name=$1 dir=$2
	if ! "$QF" log verify --dir "$dir" >"$T/v.out" 2>&1; then
		fail "$name" "log verify failed: $(tail -n 2 "$T/v.out")"
		return 1
	fi
	"$QF" reindex --dir "$dir" --json >"$T/r.out" 2>&1
	if ! grep -q '"unchanged": true' "$T/r.out"; then
		fail "$name" "reindex changed the digest: $(head -c 300 "$T/r.out")"
		return 1
	fi
	return 0
}

# ---------------------------------------------------------------- A
t0=$SECONDS
ROUNDS_A=${CRASH_ROUNDS:-20}
"$QIAO" init --dir "$T/s" >/dev/null 2>&1 || fail init "qiao init failed"
: >"$T/acks"
for ((r = 1; r <= ROUNDS_A; r++)); do
	"$APPENDER" "$T/s" >>"$T/acks" 2>>"$T/appender.err" &
	pid=$!
	# 40..440 ms: across start-up, signing, commit and fsync.
	sleep "$(ms $((40 + RANDOM % 400)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
# A line cut by the kill is not an acknowledgement.
grep -E '^[0-9]+ [0-9a-f]{64}$' "$T/acks" >"$T/acked"
n=$(wc -l <"$T/acked")
expect appended_across_rounds [ "$n" -gt "$ROUNDS_A" ]
expect appender_never_failed [ ! -s "$T/appender.err" ]
check verify_after_kills 0 "$QIAO" log verify --dir "$T/s"
"$QIAO" log show --dir "$T/s" --json |
	grep -E '"(seq|hash)":' | paste - - |
	sed -E 's/.*"seq": ([0-9]+),.*"hash": "([0-9a-f]+)".*/\1 \2/' \
	>"$T/held"
missing=$(sort "$T/acked" | comm -23 - <(sort "$T/held") | wc -l)
expect no_acknowledged_entry_missing [ "$missing" -eq 0 ]
[ "$missing" -ne 0 ] && echo "seed $seed: $missing acknowledged entries missing" >&2
check append_after_kills 0 "$QIAO" log append --dir "$T/s" --type note \
	--text 恢复
expect chain_continues [ "$(cut -d' ' -f1 "$T/out")" -gt "$(tail -n1 "$T/acked" | cut -d' ' -f1)" ]

echo "# part A took $((SECONDS - t0))s"

# ------------------------------------------------- a small deployment
R=$($QIAO root init --dir "$T/root" --region 500116 2>/dev/null)
D=$($QIAO init --dir "$T/d" --role district --region 500116 --name 区 \
	--root "$R" 2>/dev/null)
TK=$($QIAO init --dir "$T/t" --role town --region 500116001 --name 镇 \
	--root "$R" 2>/dev/null)
VK=$($QIAO init --dir "$T/v" --role village --region 500116001001 \
	--name 村 --root "$R" 2>/dev/null)
WK=$($QIAO init --dir "$T/w" --role village --region 500116001002 \
	--name 邻村 --root "$R" 2>/dev/null)
{
	$QIAO enroll --dir "$T/root" --pubkey "$D" --role district \
		--region 500116 --name 区 &&
	$QIAO enroll --dir "$T/root" --pubkey "$TK" --role town \
		--region 500116001 --name 镇 &&
	$QIAO log export --dir "$T/root" -o "$T/root.log" &&
	$QIAO log import --dir "$T/d" "$T/root.log" &&
	$QIAO log import --dir "$T/t" "$T/root.log" &&
	$QIAO log import --dir "$T/v" "$T/root.log" &&
	$QIAO enroll --dir "$T/t" --pubkey "$VK" --role village \
		--region 500116001001 --name 村 &&
	$QIAO enroll --dir "$T/t" --pubkey "$WK" --role village \
		--region 500116001002 --name 邻村 &&
	$QIAO log export --dir "$T/t" -o "$T/town.log" &&
	$QIAO log import --dir "$T/v" "$T/town.log" &&
	$QIAO log import --dir "$T/w" "$T/town.log"
} >/dev/null 2>&1 && pass deployment || fail deployment "enrolment failed"

# ---------------------------------------------------------------- B
# The village's backlog: 3,000 notes (three import transactions of 1,000),
# then its whole store as one file. The district imports it; a kill lands
# anywhere in the import (its length is measured first); once a round
# completes the import, the district starts again from its state before.
t0=$SECONDS
echo "durable = no" >>"$T/v/qiao.conf" # only makes the backlog quickly
"$APPENDER" "$T/v" 入户走访记录 >"$T/vacks" 2>/dev/null &
apid=$!
for i in $(seq 1 200); do
	[ "$(wc -l <"$T/vacks")" -ge 3000 ] && break
	sleep 0.05
done
kill -9 "$apid" 2>/dev/null
wait "$apid" 2>/dev/null
VN=$("$QF" heads --dir "$T/v" | grep "^$VK" | awk '{print $2}')
"$QF" log export --dir "$T/v" -o "$T/all.log" >/dev/null
# seq -> hash of every village entry, to check what the district holds.
"$QF" log show --dir "$T/v" --author "$VK" --json | grep -E '"(seq|hash)":' |
	paste - - | sed -E 's/.*"seq": ([0-9]+),.*"hash": "([0-9a-f]+)".*/\1 \2/' \
	>"$T/vhashes"
expect backlog-written [ "${VN:-0}" -ge 3000 ]
cp -a "$T/d" "$T/d0"
start_ms=$(date +%s%3N)
"$QIAO" log import --dir "$T/d" "$T/all.log" >/dev/null 2>&1
span=$(($(date +%s%3N) - start_ms))
[ "$span" -gt 999 ] && span=999
rm -rf "$T/d" && cp -a "$T/d0" "$T/d"
ROUNDS_B=${CRASH_ROUNDS_INGEST:-50}
prev=0 mid=0 bad=0
for ((r = 1; r <= ROUNDS_B; r++)); do
	"$QIAO" log import --dir "$T/d" "$T/all.log" >/dev/null 2>&1 &
	pid=$!
	# After the first of its three commits, before the last, mostly.
	sleep "$(ms $((span / 4 + RANDOM % (span * 3 / 4 + 1))))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	verify_reindex "ingest-round-$r" "$T/d" || bad=1
	line=$("$QF" heads --dir "$T/d" | grep "^$VK")
	got=$(awk '{print $2}' <<<"$line")
	got=${got:-0}
	if [ "$got" -lt "$prev" ]; then
		fail "ingest-round-$r" "held $got of the village's entries, $prev before the kill (seed $seed)"
		bad=1
	fi
	if [ "$got" -gt 0 ] &&
		! grep -q "^$got ${line##* }" "$T/vhashes"; then
		fail "ingest-round-$r" "the entry held at seq $got is not the village's (seed $seed)"
		bad=1
	fi
	[ "$got" -gt 0 ] && [ "$got" -lt "$VN" ] && mid=$((mid + 1))
	prev=$got
	if [ "$got" = "$VN" ]; then # complete: again from the start
		rm -rf "$T/d" && cp -a "$T/d0" "$T/d"
		prev=0
	fi
done
[ $bad = 0 ] && pass ingest-kills-verify-reindex-nothing-lost
echo "# ingest: $mid of $ROUNDS_B kills left part of the file stored (an import takes ${span}ms)"
expect ingest-kills-landed-mid-import [ "$mid" -ge 2 ]
check ingest-completes 0 "$QIAO" log import --dir "$T/d" "$T/all.log"
expect ingest-completes-all [ "$("$QF" heads --dir "$T/d" | grep "^$VK" | awk '{print $2}')" = "$VN" ]
check ingest-verify 0 "$QIAO" log verify --dir "$T/d"
echo "# part B took $((SECONDS - t0))s"

# ---------------------------------------------------------------- C
PORT=$((26000 + ($$ % 1500) * 2))
for n in t w; do
	cat >>"$T/$n/qiao.conf" <<-EOF
		[net]
		reconnect_min = 100ms
		reconnect_max = 400ms
		change_poll = 50ms
		poll_interval = 2s
		timeout = 10s
		batch_bytes = 4K
		window = 1
	EOF
done
echo "listen = tcp://127.0.0.1:$PORT" >>"$T/t/qiao.conf"
echo "upstream = tcp://127.0.0.1:$PORT" >>"$T/w/qiao.conf"
declare -A PID
start() { # node
	"$QIAO" node run --dir "$T/$1" 2>>"$T/$1.log" &
	PID[$1]=$!
	PIDS+=($!)
}
seq_in() { # dir author: the seq held of author, 0 if none
	local s
	s=$("$QF" heads --dir "$1" 2>/dev/null | grep "^$2" | awk '{print $2}')
	echo "${s:-0}"
}
# Every author the village knows the town holds: the town holds it.
acked_held() { # round
	local a s held
	"$QF" heads --dir "$T/w" --peer "$TK" | grep -E '^[0-9a-f]{64} ' >"$T/known"
	"$QF" heads --dir "$T/t" | grep -E '^[0-9a-f]{64} ' >"$T/theld"
	while read -r a s; do
		held=$(grep "^$a" "$T/theld" | awk '{print $2}')
		if [ "${held:-0}" -lt "$s" ]; then
			fail "sync-round-$1" "the town acknowledged seq $s of ${a:0:16} but holds ${held:-0} (seed $seed)"
			return 1
		fi
	done <"$T/known"
	[ -s "$T/known" ] && known_any=1
	return 0
}

t0=$SECONDS
start t
start w
"$APPENDER" "$T/w" 直播写入 20 >"$T/live.acks" 2>"$T/live.err" &
apid=$!
PIDS+=($apid)
ROUNDS_C=${CRASH_ROUNDS_SYNC:-50}
bad=0 behind=0 known_any=0 tkills=0 wkills=0
for ((r = 1; r <= ROUNDS_C; r++)); do
	sleep "$(ms $((60 + RANDOM % 300)))"
	victim=t
	[ $((r % 3)) = 0 ] && victim=w
	kill -9 "${PID[$victim]}" 2>/dev/null
	wait "${PID[$victim]}" 2>/dev/null
	if [ $victim = t ]; then
		tkills=$((tkills + 1))
		[ "$(seq_in "$T/t" "$WK")" -lt "$(seq_in "$T/w" "$WK")" ] &&
			behind=$((behind + 1))
	else
		wkills=$((wkills + 1))
	fi
	verify_reindex "sync-round-$r" "$T/$victim" || bad=1
	acked_held "$r" || bad=1
	# The appender's acknowledgements: seqs only go up (an entry lost
	# after its ack would be signed again at the same seq), and the
	# village holds the last one.
	grep -E '^[0-9]+ [0-9a-f]{64}$' "$T/live.acks" >"$T/live.ok"
	last=$(tail -n1 "$T/live.ok" | cut -d' ' -f1)
	if ! awk 'NR > 1 && $1 <= p { exit 1 } { p = $1 }' "$T/live.ok" ||
		[ "$(seq_in "$T/w" "$WK")" -lt "${last:-0}" ]; then
		fail "sync-round-$r" "an acknowledged append is missing (last $last, seed $seed)"
		bad=1
	fi
	start $victim
done
{ kill -9 "$apid" && wait "$apid"; } 2>/dev/null
[ $bad = 0 ] && pass sync-kills-verify-reindex-acknowledged-held
echo "# sync: $tkills town kills ($behind with the town behind the village), $wkills village kills"
expect fifty-rounds [ $((tkills + wkills)) -ge 50 ]
expect kills-landed-mid-stream [ "$behind" -ge 10 ]
expect village-recorded-acknowledgements [ "$known_any" = 1 ]
expect live-appender-never-failed [ ! -s "$T/live.err" ]
grep -E '^[0-9]+ [0-9a-f]{64}$' "$T/live.acks" >"$T/live.ok"
"$QF" log show --dir "$T/w" --author "$WK" --json | grep -E '"(seq|hash)":' |
	paste - - | sed -E 's/.*"seq": ([0-9]+),.*"hash": "([0-9a-f]+)".*/\1 \2/' \
	>"$T/wheld"
expect every-live-append-held [ "$(sort "$T/live.ok" | comm -23 - <(sort "$T/wheld") | wc -l)" = 0 ]

# Healed: the town holds exactly the village's log.
vn=$(seq_in "$T/w" "$WK")
for i in $(seq 1 300); do
	[ "$(seq_in "$T/t" "$WK")" = "$vn" ] && break
	sleep 0.1
done
expect town-catches-up [ "$(seq_in "$T/t" "$WK")" = "$vn" ]
dv=$("$QF" heads --dir "$T/w" --scope 500116001002 | tail -n1)
dt=$("$QF" heads --dir "$T/t" --scope 500116001002 | tail -n1)
expect equal-scope-digests [ "$dv" = "$dt" ]
for n in t w; do
	kill -TERM "${PID[$n]}" 2>/dev/null
	wait "${PID[$n]}" 2>/dev/null
done
check final-verify-town 0 "$QIAO" log verify --dir "$T/t"
expect town-entries-once grep -q "entries $((vn + $(seq_in "$T/t" "$R") + $(seq_in "$T/t" "$TK")))," "$T/out"
check final-verify-village 0 "$QIAO" log verify --dir "$T/w"
echo "# part C took $((SECONDS - t0))s"
finish
