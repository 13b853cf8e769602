#!/usr/bin/env bash
# Links between real processes on 127.0.0.1 (docs/PROTOCOL.md, "Link
# security"): a station nobody enrolled is refused and nothing moves
# either way; one that does not know its town refuses it and reveals
# nothing; a revoked key is refused at the link with a clear log line; an
# impostor listening in the town's place learns nothing; a man in the
# middle (tests/tools/relay.c) that flips a bit of a sealed frame or
# replays one makes the link fail closed, with nothing of the tampered
# stream stored; afterwards the stations sync through an honest path.
source "$(dirname "$0")/lib.sh"

RELAY=${BUILD:-$(dirname "$0")/../build}/san/tools/relay
if [ ! -x "$RELAY" ]; then
	skip relay "no $RELAY (make check-tests builds it)"
	finish
	exit
fi
BASE=$((30000 + ($$ % 1500) * 4))
TOWN=tcp://127.0.0.1:$BASE
MITM=tcp://127.0.0.1:$((BASE + 1))
IMPOSTOR=tcp://127.0.0.1:$((BASE + 2))
declare -A KEY PID

init() { # name role region [root]
	KEY[$1]=$($QIAO init --dir "$T/$1" --role "$2" --region "$3" \
		--name "$1" ${4:+--root "$4"} 2>/dev/null)
	cat >>"$T/$1/qiao.conf" <<-EOF
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

stop() { # name
	kill -TERM "${PID[$1]}" 2>/dev/null
	wait "${PID[$1]}" 2>/dev/null
}

# Everything a store holds: every author's head and the digest.
heads() { $QIAO heads --dir "$T/$1" 2>/dev/null; }

seq_of() { head_seq "$T/$1" "${KEY[$2]}"; } # node author-node

write() { # node count
	local i
	for i in $(seq 1 "$2"); do
		$QIAO log append --dir "$T/$1" --type note \
			--text "$1 $i 村民反映邻里纠纷，请求调解，网格员已登记" \
			>/dev/null || return 1
	done
}

holds() { # node author-node count
	[ "$(seq_of "$1" "$2")" = "$3" ]
}

relay() { # mode... : a man in the middle between MITM and the town
	: >"$T/relay.log"
	"$RELAY" "$MITM" "$TOWN" "$@" 2>"$T/relay.log" &
	RELAY_PID=$!
	PIDS+=($!)
	wait_until 10 grep -q ready "$T/relay.log"
}

unchanged() { # node file-with-heads-before
	[ "$(heads "$1")" = "$(cat "$2")" ]
}

# A district (the root), its town, and villages: v enrolled; w enrolled,
# later revoked; x never enrolled but holding its town's export; y never
# enrolled and knowing nobody; m a key nobody enrolled posing as the town.
init d district 500116
init t town 500116001 "${KEY[d]}"
for n in v:001 w:002 x:003 y:004; do
	init "${n%%:*}" village "500116001${n##*:}" "${KEY[d]}"
done
init m town 500116001 "${KEY[d]}"
ok=1
$QIAO enroll --dir "$T/d" --pubkey "${KEY[t]}" --role town \
	--region 500116001 --name t >/dev/null || ok=0
$QIAO enroll --dir "$T/t" --pubkey "${KEY[v]}" --role village \
	--region 500116001001 --name v >/dev/null || ok=0
$QIAO enroll --dir "$T/t" --pubkey "${KEY[w]}" --role village \
	--region 500116001002 --name w >/dev/null || ok=0
# The bootstrap (README, "Trust"): the town imports the district's log,
# the villages their town's export; the impostor the district's log too.
$QIAO log export --dir "$T/d" -o "$T/d.qlog" >/dev/null || ok=0
for n in t m; do
	$QIAO log import --dir "$T/$n" "$T/d.qlog" >/dev/null || ok=0
done
$QIAO log export --dir "$T/t" -o "$T/t.qlog" >/dev/null || ok=0
for n in v w x; do
	$QIAO log import --dir "$T/$n" "$T/t.qlog" >/dev/null || ok=0
done
[ $ok = 1 ] && pass setup || fail setup "enrol, export or import failed"
echo "listen = $TOWN" >>"$T/t/qiao.conf"
echo "listen = $IMPOSTOR" >>"$T/m/qiao.conf"
start t
start m
wait_until 10 grep -q 'listening' "$T/t.log"
wait_until 10 grep -q 'listening' "$T/m.log"

# An enrolled station links and syncs.
write v 3
check enrolled-syncs 0 $QIAO sync --dir "$T/v" --peer "$TOWN" --timeout 20s
expect enrolled-synced [ "$(seq_of t v)" = 3 ]

# A station nobody enrolled (though it knows its town): refused by the
# town; nothing pulled, nothing pushed.
write x 3
heads x >"$T/x.before"
heads t >"$T/t.before"
check unenrolled-sync-fails 1 $QIAO sync --dir "$T/x" --peer "$TOWN" --timeout 20s
expect unenrolled-told-refused grep -q 'refused this station' "$T/err"
expect unenrolled-nothing-pulled unchanged x "$T/x.before"
expect unenrolled-nothing-pushed unchanged t "$T/t.before"
expect unenrolled-town-logs-why \
	grep -q "refused peer ${KEY[x]}: not enrolled" "$T/t.log"

# A station that knows nobody refuses the town itself (it cannot tell it
# from an impostor) and never shows its key.
write y 2
heads y >"$T/y.before"
check unbootstrapped-sync-fails 1 $QIAO sync --dir "$T/y" --peer "$TOWN" --timeout 20s
expect unbootstrapped-says-why grep -q 'link refused: not enrolled' "$T/err"
expect unbootstrapped-nothing-pulled unchanged y "$T/y.before"
expect unbootstrapped-nothing-pushed unchanged t "$T/t.before"
expect unbootstrapped-key-never-shown \
	[ "$(grep -c "${KEY[y]}" "$T/t.log")" = 0 ]

# A revoked key: it synced while enrolled; once its town revokes it (after
# seq 2) the town refuses its link, says why, and takes nothing more.
write w 2
check enrolled-w-syncs 0 $QIAO sync --dir "$T/w" --peer "$TOWN" --timeout 20s
check revoke 0 $QIAO revoke --dir "$T/t" --pubkey "${KEY[w]}" --after 2
write w 2
heads w >"$T/w.before"
heads t >"$T/t.before"
check revoked-sync-fails 1 $QIAO sync --dir "$T/w" --peer "$TOWN" --timeout 20s
expect revoked-told-refused grep -q 'refused this station' "$T/err"
expect revoked-town-logs-why \
	grep -q "refused peer ${KEY[w]}: .*revoked" "$T/t.log"
expect revoked-nothing-pushed unchanged t "$T/t.before"
expect revoked-earlier-entries-kept [ "$(seq_of t w)" = 2 ]
expect revoked-nothing-pulled unchanged w "$T/w.before"

# An impostor with a key nobody enrolled listens in the town's place: the
# village refuses it before showing its own key or a single entry.
heads m >"$T/m.before"
heads v >"$T/v.before"
check impostor-refused 1 $QIAO sync --dir "$T/v" --peer "$IMPOSTOR" --timeout 20s
expect impostor-village-says-why grep -q 'link refused: not enrolled' "$T/err"
expect impostor-learns-nothing unchanged m "$T/m.before"
expect impostor-gives-nothing unchanged v "$T/v.before"
expect impostor-never-sees-village-key \
	[ "$(grep -c "${KEY[v]}" "$T/m.log")" = 0 ]

# A man in the middle. Up: it flips a bit of the village's first batch
# (the first sealed frame of 1K or more): the town's link fails closed and
# stores nothing of what the village sent.
write v 40
before=$(seq_of t v)
relay flip up 1024 || fail relay-up "the relay did not start"
check mitm-flip-up-fails 1 $QIAO sync --dir "$T/v" --peer "$MITM" --timeout 5s
wait "$RELAY_PID" 2>/dev/null
expect mitm-flip-up-tampered grep -q tampered "$T/relay.log"
expect mitm-flip-up-nothing-stored [ "$(seq_of t v)" = "$before" ]
expect mitm-flip-up-town-says grep -q 'a sealed frame does not open' "$T/t.log"

# Down: it flips a bit of the town's first batch to the village.
write t 40
heads v >"$T/v.before"
before=$(seq_of v t)
relay flip down 1024 || fail relay-down "the relay did not start"
check mitm-flip-down-fails 1 $QIAO sync --dir "$T/v" --peer "$MITM" --timeout 5s
wait "$RELAY_PID" 2>/dev/null
expect mitm-flip-down-tampered grep -q tampered "$T/relay.log"
expect mitm-flip-down-nothing-stored [ "$(seq_of v t)" = "$before" ]

# Replay: the town's second sealed frame replaced by its first.
relay replay down 0 || fail relay-replay "the relay did not start"
check mitm-replay-fails 1 $QIAO sync --dir "$T/v" --peer "$MITM" --timeout 5s
wait "$RELAY_PID" 2>/dev/null
expect mitm-replay-tampered grep -q 'replayed' "$T/relay.log"
expect mitm-replay-nothing-stored [ "$(seq_of v t)" = "$before" ]
expect mitm-replay-village-says grep -q 'does not open' "$T/err"

# The same relay, honest, carries a good link (so the failures above were
# the tampering): everything arrives.
relay pass || fail relay-pass "the relay did not start"
check honest-relay-syncs 0 $QIAO sync --dir "$T/v" --peer "$MITM" --timeout 30s
wait "$RELAY_PID" 2>/dev/null
expect honest-relay-untampered [ "$(grep -c tampered "$T/relay.log")" = 0 ]
expect honest-relay-town-log [ "$(seq_of v t)" = "$(seq_of t t)" ]
expect honest-relay-village-log [ "$(seq_of t v)" = "$(seq_of v v)" ]

# And the village's node reconnects to its town directly and keeps in
# sync: a later write arrives.
echo "upstream = $TOWN" >>"$T/v/qiao.conf"
start v
write v 2
want=$(seq_of v v)
if wait_until 30 holds t v "$want"; then
	pass reconnect-direct-syncs
else
	fail reconnect-direct-syncs "the town holds $(seq_of t v) of $want"
fi
stop v
d1=$($QIAO heads --dir "$T/v" --scope 500116001001 | tail -n 1)
d2=$($QIAO heads --dir "$T/t" --scope 500116001001 | tail -n 1)
expect equal-digests-after [ "$d1" = "$d2" ]
check verify-town 0 $QIAO log verify --dir "$T/t"
check verify-village 0 $QIAO log verify --dir "$T/v"
stop t
stop m
finish
