#!/usr/bin/env bash
# The node's CLI as a user meets it: config errors with file and line,
# usage errors, the shipped configs, `qiao node run` with defaults and a
# clean stop, `qiao sync` once, `qiao status`, and sync by file (heads,
# bundle export, bundle import) including damaged files.
source "$(dirname "$0")/lib.sh"

PORT=$((24000 + ($$ % 1500) * 3))
ROOT=$(dirname "$0")/..

D=$($QIAO init --dir "$T/d" --role district --region 500116 2>/dev/null)
TK=$($QIAO init --dir "$T/t" --role town --region 500116001 --root "$D")
VK=$($QIAO init --dir "$T/v" --role village --region 500116001001 --root "$D")
$QIAO enroll --dir "$T/d" --pubkey "$TK" --role town --region 500116001 \
	--name town >/dev/null
$QIAO enroll --dir "$T/t" --pubkey "$VK" --role village \
	--region 500116001001 --name village >/dev/null
for n in d t v; do
	printf 'durable = no\nmapsize = 64M\n' >>"$T/$n/qiao.conf"
done

# Config errors name the file and the line.
cfg() { cat >"$T/bad.conf"; }
printf '[node]\ndir = %s\n[net]\nlisten = tcp://127.0.0.1:1\nwindw = 3\n' \
	"$T/t" | cfg
check conf-unknown-key 1 $QIAO node run --config "$T/bad.conf"
expect conf-unknown-key-line grep -q 'bad.conf:5: unknown key "windw" in \[net\]' "$T/err"
printf '[node]\ndir = %s\n[net]\nwindow = 0\n' "$T/t" | cfg
check conf-bad-value 1 $QIAO node run --config "$T/bad.conf"
expect conf-bad-value-line grep -q 'bad.conf:4: window must be a number from 1 to 64' "$T/err"
printf '[node]\ndir = %s\n[net]\nupstream = http://x\n' "$T/t" | cfg
check conf-bad-url 1 $QIAO node run --config "$T/bad.conf"
expect conf-bad-url-line grep -q 'bad.conf:4: expected a URL' "$T/err"
printf '[node]\ndir = %s\n[net]\nlisten = tcp://a:1\nlisten = tcp://b:1\n' \
	"$T/t" | cfg
check conf-duplicate 1 $QIAO node run --config "$T/bad.conf"
expect conf-duplicate-line grep -q 'bad.conf:5: duplicate listen' "$T/err"
printf '[node]\ndir = %s\n[net]\nbatch_bytes = 1M\nmax_message = 1M\n' \
	"$T/t" | cfg
check conf-batch-vs-message 1 $QIAO node run --config "$T/bad.conf"
expect conf-batch-vs-message-says grep -q 'max_message must exceed batch_bytes' "$T/err"
printf '[net]\nlisten = tcp://127.0.0.1:1\n' | cfg
check conf-needs-dir 1 $QIAO node run --config "$T/bad.conf"
check conf-missing-file 1 $QIAO node run --config "$T/nope.conf"

# The shipped configs parse (their stores do not exist here).
for f in village town district; do
	sed "s|^dir = .*|dir = $T/none-$f|" "$ROOT/conf/$f.conf" >"$T/$f.conf"
	check "shipped-$f-conf" 1 $QIAO node run --config "$T/$f.conf"
	expect "shipped-$f-conf-parses" grep -q "no store at" "$T/err"
done
expect systemd-unit-runs-node grep -q '^ExecStart=.*qiao node run --config' \
	"$ROOT/conf/qiao-node.service"

# Usage errors exit 2.
check usage-node 2 $QIAO node
check usage-node-sub 2 $QIAO node start
check usage-node-opt 2 $QIAO node run --bogus
check usage-sync-peer 2 $QIAO sync --dir "$T/v"
check usage-sync-url 2 $QIAO sync --dir "$T/v" --peer 127.0.0.1:7420
check usage-sync-timeout 2 $QIAO sync --dir "$T/v" --peer tcp://127.0.0.1:1 --timeout soon
check usage-heads-scope 2 $QIAO heads --dir "$T/v" --scope 50011x
check usage-bundle 2 $QIAO bundle
check usage-bundle-for 2 $QIAO bundle export --dir "$T/v" -o "$T/x"
check usage-bundle-import 2 $QIAO bundle import --dir "$T/v"
check help-node 0 $QIAO help node
check help-sync 0 $QIAO sync --help

# A fresh store: status works and lists no peers.
check status-fresh 0 $QIAO status --dir "$T/v"
expect status-fresh-lists grep -q '^peers' "$T/out"
check status-fresh-json 0 $QIAO status --dir "$T/v" --json
expect status-fresh-json-peers grep -q '"peers": \[\]' "$T/out"

# The town gets the district's log by file: heads -> bundle -> import.
check heads-file 0 $QIAO heads --dir "$T/t" -o "$T/t.heads"
check bundle-export 0 $QIAO bundle export --dir "$T/d" --for "$T/t.heads" -o "$T/d-t.qb"
expect bundle-export-says grep -q 'wrote 1 entries' "$T/out"
check bundle-import 0 $QIAO bundle import --dir "$T/t" "$T/d-t.qb"
expect bundle-import-stored grep -q 'stored 1, already held 0, rejected 0' "$T/out"
check bundle-import-again 0 $QIAO bundle import --dir "$T/t" "$T/d-t.qb"
expect bundle-import-again-held grep -q 'stored 0, already held 1' "$T/out"

# The village's bootstrap before its first link: its town's export (the
# district's log, which enrols the town, and the town's, which enrols the
# village).
check town-log-export 0 $QIAO log export --dir "$T/t" -o "$T/t.log"
check village-log-import 0 $QIAO log import --dir "$T/v" "$T/t.log"
expect village-knows-its-town grep -q 'stored 2' "$T/out"

# qiao node run --dir with built-in defaults (no [net]): runs, stops on
# SIGINT with exit 0.
$QIAO node run --dir "$T/v" 2>"$T/v.log" &
p=$!
PIDS+=($p)
sleep 0.5
kill -INT $p
wait $p
rc=$?
expect node-run-defaults-sigint [ $rc = 0 ]
expect node-run-logs grep -q 'listen none; 0 upstream' "$T/v.log"

# qiao node run --config FILE: an upstream nobody answers is redialed with
# backoff, doubling from reconnect_min up to reconnect_max (logged at
# debug level); SIGTERM stops it with exit 0.
cat >"$T/backoff.conf" <<EOF
[node]
dir = $T/v
role = village
region = 500116001001
root = $D
log_level = debug
[net]
upstream = tcp://127.0.0.1:1
reconnect_min = 100ms
reconnect_max = 400ms
EOF
$QIAO node run --config "$T/backoff.conf" 2>"$T/backoff.log" &
p=$!
PIDS+=($p)
for i in $(seq 1 100); do # four redials take 1.5 s; wait at most 10
	[ "$(grep -c 'redial in' "$T/backoff.log")" -ge 4 ] && break
	sleep 0.1
done
kill -TERM $p
wait $p
rc=$?
expect node-run-config-sigterm [ $rc = 0 ]
sed -n 's/.*tcp:[/][/]127.0.0.1:1: redial in \([0-9]*\)ms$/\1/p' "$T/backoff.log" |
	head -n 4 | tr '\n' ' ' >"$T/backoff"
expect node-redial-backoff-doubles-to-max [ "$(cat "$T/backoff")" = "100 200 400 400 " ]

# A --config that names only the store takes the station's role, region
# and root from what qiao init wrote (DIR/qiao.conf): without the root the
# node would trust only itself. One that contradicts the store is refused.
printf '[node]\ndir = %s\nlog_level = info\n' "$T/v" >"$T/only-dir.conf"
$QIAO node run --config "$T/only-dir.conf" 2>"$T/only-dir.log" &
p=$!
PIDS+=($p)
for i in $(seq 1 50); do
	grep -q 'running on' "$T/only-dir.log" && break
	sleep 0.1
done
kill -TERM $p
wait $p
expect node-run-config-takes-store-identity \
	grep -q '(village 500116001001) running on' "$T/only-dir.log"
printf '[node]\ndir = %s\nregion = 500116001002\n' "$T/v" >"$T/other.conf"
check node-run-config-other-station 1 $QIAO node run --config "$T/other.conf"
expect node-run-config-other-station-says \
	grep -q 'region: the config says 500116001002, the store.s .*500116001001' "$T/err"

# The village writes offline, then syncs once with its running town
# (which wrote two notes meanwhile).
for i in 1 2 3 4 5; do
	$QIAO log append --dir "$T/v" --type note --text "纠纷登记 $i" >/dev/null
done
for i in 1 2; do
	$QIAO log append --dir "$T/t" --type note --text "通知 $i" >/dev/null
done
printf '[net]\nlisten = tcp://127.0.0.1:%s\nchange_poll = 50ms\n' "$PORT" \
	>>"$T/t/qiao.conf"
$QIAO node run --dir "$T/t" 2>"$T/t.log" &
TP=$!
PIDS+=($TP)
check sync-once 0 $QIAO sync --dir "$T/v" --peer "tcp://127.0.0.1:$PORT" --timeout 30s
expect sync-once-says grep -q 'in sync with tcp://127.0.0.1:'"$PORT"': received 2, sent 5 entries' "$T/out"
check digest-village 0 $QIAO heads --dir "$T/v" --scope 500116001001
vd=$(tail -n 1 "$T/out")
check digest-town 0 $QIAO heads --dir "$T/t" --scope 500116001001
expect sync-once-equal-digests [ "$vd" = "$(tail -n 1 "$T/out")" ]
check sync-again 0 $QIAO sync --dir "$T/v" --peer "tcp://127.0.0.1:$PORT" --json
expect sync-again-nothing grep -q '"sent": 0' "$T/out"
check status-after-sync 0 $QIAO status --dir "$T/v"
expect status-shows-town grep -q "^  ${TK:0:16}  town     500116001 " "$T/out"
expect status-nothing-behind grep -Eq "^  ${TK:0:16} .* 0 +0  tcp://127.0.0.1:$PORT" "$T/out"
kill -TERM $TP
wait $TP
expect town-sigterm-exit-0 [ $? = 0 ]

# A village write while the town is down: status counts it as behind.
$QIAO log append --dir "$T/v" --type note --text "offline" >/dev/null
check status-behind 0 $QIAO status --dir "$T/v" --json
expect status-behind-one grep -q '"they_lack": 1' "$T/out"
check sync-unreachable 1 $QIAO sync --dir "$T/v" --peer "tcp://127.0.0.1:$PORT" --timeout 1s
expect sync-unreachable-says grep -q 'could not sync with' "$T/err"

# Sync by file the other way, and damaged files.
check heads-town 0 $QIAO heads --dir "$T/t" -o "$T/t2.heads"
check bundle-village 0 $QIAO bundle export --dir "$T/v" --for "$T/t2.heads" -o "$T/v-t.qb"
expect bundle-village-one grep -q 'wrote 1 entries' "$T/out"
head -c -3 "$T/v-t.qb" >"$T/cut.qb"
check bundle-truncated 1 $QIAO bundle import --dir "$T/t" "$T/cut.qb"
expect bundle-truncated-says grep -q 'truncated\|malformed' "$T/err"
head -c 200 /dev/urandom >"$T/junk.qb"
check bundle-junk 1 $QIAO bundle import --dir "$T/t" "$T/junk.qb"
expect bundle-junk-says grep -q 'not a qiao bundle file' "$T/err"
check heads-junk 1 $QIAO bundle export --dir "$T/v" --for "$T/junk.qb" -o "$T/x.qb"
expect heads-junk-says grep -q 'not a qiao heads file' "$T/err"
check bundle-good 0 $QIAO bundle import --dir "$T/t" "$T/v-t.qb"
check verify-town 0 $QIAO log verify --dir "$T/t"
check digest-village2 0 $QIAO heads --dir "$T/v" --scope 500116001001
vd=$(tail -n 1 "$T/out")
check digest-town2 0 $QIAO heads --dir "$T/t" --scope 500116001001
expect bundle-equal-digests [ "$vd" = "$(tail -n 1 "$T/out")" ]
finish
