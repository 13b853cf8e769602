#!/usr/bin/env bash
# Three tiers as real processes on 127.0.0.1: a district, two towns, four
# villages. Villages write while their town is down; the town returns;
# every node reaches equal digests for the scopes it shares; a town killed
# with -9 mid-sync resumes without losing or duplicating anything.
#
# Most entries are notes (qiao log append: cheap to write in bulk); two
# villages also open cases, and their record state (qiao digest) must be
# the same on the village, its town and the district.
source "$(dirname "$0")/lib.sh"

BASE=$((20000 + ($$ % 1500) * 20))
PORT_D=$BASE PORT_T1=$((BASE + 1)) PORT_T2=$((BASE + 2))
declare -A KEY REGION PID

init() { # name role region [root]
	local name=$1 role=$2 region=$3 root=${4:-}
	KEY[$name]=$($QIAO init --dir "$T/$name" --role "$role" \
		--region "$region" --name "$name" ${root:+--root "$root"} \
		2>/dev/null)
	REGION[$name]=$region
	# Short timers so the test runs in seconds, not minutes.
	cat >>"$T/$name/qiao.conf" <<-EOF
		durable = no
		mapsize = 64M
		[net]
		reconnect_min = 100ms
		reconnect_max = 1s
		change_poll = 50ms
		poll_interval = 2s
		timeout = 20s
		batch_bytes = 8K
		window = 2
	EOF
}

start() { # name
	$QIAO node run --dir "$T/$1" 2>>"$T/$1.log" &
	PID[$1]=$!
	PIDS+=($!)
}

stop() { # name: SIGTERM, then wait for it (bounded)
	local p=${PID[$1]} i
	kill -TERM "$p" 2>/dev/null
	for i in $(seq 1 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	wait "$p" 2>/dev/null
	STOP_RC=$?
}

# The entries held for a scope (qiao heads); state() the record state.
digest() { # node scope
	$QIAO heads --dir "$T/$1" --scope "$2" 2>/dev/null | tail -n 1 |
		awk '{print $2 " " $6}'
}

state() { # node region
	$QIAO digest --dir "$T/$1" --under "$2" 2>/dev/null
}

same_state() { # region node node...
	local region=$1 want n
	shift
	want=$(state "$1" "$region")
	[ -n "$want" ] || return 1
	for n in "$@"; do
		[ "$(state "$n" "$region")" = "$want" ] || return 1
	done
}

cases() { # node: a grid and two cases in it
	local g=${REGION[$1]}001
	$QIAO grid add --dir "$T/$1" --code "$g" --kind grid --name 网格 \
		>/dev/null &&
	$QIAO case open --dir "$T/$1" --grid "$g" --category 邻里纠纷 \
		--title "宅基地边界争执" >/dev/null &&
	$QIAO case open --dir "$T/$1" --grid "$g" --category 邻里纠纷 \
		--title "楼上漏水" >/dev/null
}

seq_of() { head_seq "$T/$1" "${KEY[$2]}"; } # node author-node

holds() { # node author-node count
	[ "$(seq_of "$1" "$2")" = "$3" ]
}

holds_more() { # node author-node count
	[ "$(seq_of "$1" "$2")" -gt "$3" ]
}

same_digest() { # scope node node...
	local scope=$1 want got n
	shift
	want=$(digest "$1" "$scope")
	[ -n "$want" ] || return 1
	for n in "$@"; do
		got=$(digest "$n" "$scope")
		[ "$got" = "$want" ] || return 1
	done
}

write() { # node count [size]
	local i text
	text=$(printf '村民反映邻里纠纷%.0s' $(seq 1 "${3:-4}"))
	for i in $(seq 1 "$2"); do
		$QIAO log append --dir "$T/$1" --type note \
			--text "$1 $i $text" >/dev/null || return 1
	done
}

init d district 500116
init t1 town 500116001 "${KEY[d]}"
init t2 town 500116002 "${KEY[d]}"
init v1 village 500116001001 "${KEY[d]}"
init v2 village 500116001002 "${KEY[d]}"
init v3 village 500116002001 "${KEY[d]}"
init v4 village 500116002002 "${KEY[d]}"
ok=1
for t in t1 t2; do
	$QIAO enroll --dir "$T/d" --pubkey "${KEY[$t]}" --role town \
		--region "${REGION[$t]}" --name "$t" >/dev/null || ok=0
done
for v in v1 v2; do
	$QIAO enroll --dir "$T/t1" --pubkey "${KEY[$v]}" --role village \
		--region "${REGION[$v]}" --name "$v" >/dev/null || ok=0
done
for v in v3 v4; do
	$QIAO enroll --dir "$T/t2" --pubkey "${KEY[$v]}" --role village \
		--region "${REGION[$v]}" --name "$v" >/dev/null || ok=0
done
[ $ok = 1 ] && pass enrol || fail enrol "enrolments failed"
# The bootstrap before any link (README, "Trust"): a link admits only keys
# whose enrolment the other end holds. The district's log (which enrols the
# towns) goes to each town; each town's export (the district's log and its
# own, which enrols its villages) to its villages.
ok=1
$QIAO log export --dir "$T/d" -o "$T/d.log" >/dev/null || ok=0
for t in t1 t2; do
	$QIAO log import --dir "$T/$t" "$T/d.log" >/dev/null || ok=0
	$QIAO log export --dir "$T/$t" -o "$T/$t.log" >/dev/null || ok=0
done
for v in v1 v2; do
	$QIAO log import --dir "$T/$v" "$T/t1.log" >/dev/null || ok=0
done
for v in v3 v4; do
	$QIAO log import --dir "$T/$v" "$T/t2.log" >/dev/null || ok=0
done
[ $ok = 1 ] && pass bootstrap-by-log-export || fail bootstrap-by-log-export "export/import failed"

echo "listen = tcp://127.0.0.1:$PORT_D" >>"$T/d/qiao.conf"
printf 'listen = tcp://127.0.0.1:%s\nupstream = tcp://127.0.0.1:%s\n' \
	"$PORT_T1" "$PORT_D" >>"$T/t1/qiao.conf"
printf 'listen = tcp://127.0.0.1:%s\nupstream = tcp://127.0.0.1:%s\n' \
	"$PORT_T2" "$PORT_D" >>"$T/t2/qiao.conf"
for v in v1 v2; do
	echo "upstream = tcp://127.0.0.1:$PORT_T1" >>"$T/$v/qiao.conf"
done
# Village 1 sends one small batch per round trip, so a backlog takes long
# enough to kill its town in the middle of it.
sed -i 's/^batch_bytes = 8K/batch_bytes = 4K/; s/^window = 2/window = 1/' \
	"$T/v1/qiao.conf"
for v in v3 v4; do
	echo "upstream = tcp://127.0.0.1:$PORT_T2" >>"$T/$v/qiao.conf"
done

# Town 1 is down; everyone else runs.
for n in d t2 v1 v2 v3 v4; do start $n; done
write d 2 && write v1 5 && write v2 4 && write v3 3 && write v4 6 &&
	pass writes-while-running || fail writes-while-running "append failed"
cases v1 && cases v3 && pass cases-while-running ||
	fail cases-while-running "grid add / case open failed"

# Town 2's villages reach the district through it.
if wait_until 30 same_digest 500116002001 v3 t2 d &&
	wait_until 30 same_digest 500116002002 v4 t2 d; then
	pass relay-through-town
else
	fail relay-through-town "v3/v4 digests differ: $(digest v3 500116002001) / $(digest d 500116002001)"
fi
expect village-log-stays-home-while-town-down \
	[ "$(seq_of d v1)" = 0 ]

# Town 1 returns.
start t1
if wait_until 30 same_digest 500116001001 v1 t1 d &&
	wait_until 30 same_digest 500116001002 v2 t1 d; then
	pass town-returns-villages-catch-up
else
	fail town-returns-villages-catch-up "v1 $(digest v1 500116001001) t1 $(digest t1 500116001001) d $(digest d 500116001001)"
fi
expect district-holds-v1-writes [ "$(seq_of d v1)" = 8 ]
expect district-holds-v2-writes [ "$(seq_of d v2)" = 4 ]
if same_state 500116001001 v1 t1 d && same_state 500116002001 v3 t2 d; then
	pass equal-record-state
else
	fail equal-record-state "v1 $(state v1 500116001001) d $(state d 500116001001)"
fi
check district-stats 0 $QIAO stats --dir "$T/d" --under 500116 --json
expect district-counts-all-cases grep -q '"screened": 4' "$T/out"
if wait_until 30 same_digest 500116001 t1 d &&
	wait_until 30 same_digest 500116002 t2 d; then
	pass towns-equal-district
else
	fail towns-equal-district "t1 $(digest t1 500116001) d $(digest d 500116001)"
fi
# Down the tree: the district's notes reach every village, and siblings
# stay apart (a village holds its own, its town's, the district's logs).
ok=1
for v in v1 v2 v3 v4; do
	wait_until 30 same_digest "${REGION[$v]}" "$v" d || ok=0
done
[ $ok = 1 ] && pass equal-digests-all-village-scopes ||
	fail equal-digests-all-village-scopes "a village scope differs"
expect village-holds-district-log [ "$(seq_of v3 d)" = 4 ]
expect village-lacks-sibling-log [ "$(seq_of v1 v2)" = 0 ]
check sibling-cases-not-held 0 $QIAO case list --dir "$T/v2" --json
expect sibling-cases-not-held-empty [ "$(grep -c '"id"' "$T/out")" = 0 ]
expect village-lacks-other-town [ "$(seq_of v1 t2)" = 0 ]

# Live: a write while all run is gossiped promptly up two hops.
write v4 1
if wait_until 15 holds d v4 7; then
	pass live-write-reaches-district
else
	fail live-write-reaches-district "district holds $(seq_of d v4) of v4's 7"
fi

check status-json 0 $QIAO status --dir "$T/t1" --json
expect status-lists-peers grep -q '"last_sync": "20' "$T/out"
expect status-counts-nothing-behind \
	[ "$(grep -c '"they_lack": 0' "$T/out")" -ge 1 ]

# kill -9 mid-sync: town 1 away, village 1 writes a backlog; town 1 comes
# back and is killed while taking it in; restarted, it ends with exactly
# the village's log, verified, nothing lost, nothing twice.
stop t1
write v1 250 100 || fail backlog "append failed"
start t1
wait_until 30 holds_more t1 v1 8
kill -9 "${PID[t1]}"
wait "${PID[t1]}" 2>/dev/null
mid=$(seq_of t1 v1)
echo "# town 1 killed holding $mid of village 1's 258 entries"
if [ "$mid" -gt 8 ] && [ "$mid" -lt 258 ]; then
	pass killed-mid-sync
else
	skip killed-mid-sync "the kill landed at $mid of 258 (not mid-stream)"
fi
start t1
if wait_until 60 same_digest 500116001001 v1 t1 d; then
	pass resumes-after-kill-9
else
	fail resumes-after-kill-9 "t1 holds $(seq_of t1 v1), d $(seq_of d v1) of 258"
fi
check verify-after-kill-9 0 $QIAO log verify --dir "$T/t1"
expect no-entry-lost-or-doubled [ "$(seq_of t1 v1)" = 258 ]

# Clean stop on SIGTERM.
for n in d t1 t2 v1 v2 v3 v4; do
	stop $n
	[ "$STOP_RC" = 0 ] || fail "sigterm-$n" "exit $STOP_RC"
done
pass sigterm-clean-exit
# Every link proved both keys (after the bootstrap, none was refused).
expect links-up [ "$(cat "$T"/*.log | grep -c ': link up$')" -ge 7 ]
expect no-link-refused [ "$(cat "$T"/*.log | grep -c 'refused')" = 0 ]
expect logs-say-stopping [ "$(grep -c 'stopping' "$T"/*.log | awk -F: '{s+=$2} END {print s}')" -ge 7 ]
finish
