#!/usr/bin/env bash
# A full disk. The store lives on a small tmpfs.
#
# A. The CLI: writes fail with one clear line and exit 1, nothing already
#    stored is lost or corrupt, reads and exports work, and once space is
#    freed the station writes again, continuing its chain.
# B. A running node: a town (`qiao node run`) whose store's disk fills up
#    while a village streams to it. While full it keeps serving: reads
#    (status, heads, log show, verify) answer, and the district, started
#    only now, pulls everything the town holds from it; the village's new
#    entries wait, counted as pending. Once space is freed (the ballast file
#    that filled the disk is removed), the town ingests again without a
#    restart: the pending entries arrive, at the town and the district,
#    and the town appends again. Equal digests, verify passes everywhere.
#
# LMDB runs without MDB_WRITEMAP here (node/store.c never sets it): a full
# disk is an error from write(), reported as "store or disk full", never a
# SIGBUS in the middle of a page.
. "$(dirname "$0")/lib.sh"
SMALL=$T/small
mkdir -p "$SMALL"
if ! mount -t tmpfs -o size=1m tmpfs "$SMALL" 2>/dev/null; then
	skip disk_full "cannot mount a tmpfs here (needs root)"
	exit 0
fi
trap 'kill_all; umount "$SMALL" 2>/dev/null; cleanup' EXIT
trap 'exit 130' INT TERM # so the EXIT trap cleans up
kill_all() {
	local p
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
}

# ---------------------------------------------------------------- A
"$QIAO" init --dir "$SMALL/s" >/dev/null 2>&1 || fail init "init failed"
pad=$(head -c 600 /dev/zero | tr '\0' x)
ok=0 rc=0
for i in $(seq 1 5000); do
	"$QIAO" log append --dir "$SMALL/s" --type note --text "$pad $i" \
		>/dev/null 2>"$T/err" || { rc=$?; break; }
	ok=$i
done
expect fills_up_eventually [ "$rc" -eq 1 ]
expect full_is_one_clear_line \
	[ "$(cat "$T/err")" = "qiao: log append: store or disk full" ]
check verify_when_full 0 "$QIAO" log verify --dir "$SMALL/s"
expect nothing_lost [ "$(count "^authors 1, entries $ok," "$T/out")" = 1 ]
check reads_work_when_full 0 "$QIAO" log show --dir "$SMALL/s" --json
check export_elsewhere_when_full 0 "$QIAO" log export --dir "$SMALL/s" \
	-o "$T/rescue.log"
expect export_complete [ "$(count "^exported $ok entries" "$T/out")" = 1 ]

mount -o remount,size=8m "$SMALL"
check writes_after_space_freed 0 "$QIAO" log append --dir "$SMALL/s" \
	--type note --text 恢复写入
expect continues_the_chain [ "$(cut -d' ' -f1 "$T/out")" = $((ok + 1)) ]
check verify_after_recovery 0 "$QIAO" log verify --dir "$SMALL/s"
rm -rf "$SMALL/s"

# ---------------------------------------------------------------- B
# A deployment: root, district (ordinary disk), town (on the tmpfs),
# village (ordinary disk).
R=$($QIAO root init --dir "$T/root" --region 500116 2>/dev/null)
DK=$($QIAO init --dir "$T/d" --role district --region 500116 --name 区 \
	--root "$R" 2>/dev/null)
TK=$($QIAO init --dir "$SMALL/t" --role town --region 500116001 \
	--name 镇 --root "$R" 2>/dev/null)
VK=$($QIAO init --dir "$T/v" --role village --region 500116001001 \
	--name 村 --root "$R" 2>/dev/null)
{
	$QIAO enroll --dir "$T/root" --pubkey "$DK" --role district \
		--region 500116 --name 区 &&
	$QIAO enroll --dir "$T/root" --pubkey "$TK" --role town \
		--region 500116001 --name 镇 &&
	$QIAO log export --dir "$T/root" -o "$T/root.log" &&
	$QIAO log import --dir "$T/d" "$T/root.log" &&
	$QIAO log import --dir "$SMALL/t" "$T/root.log" &&
	$QIAO log import --dir "$T/v" "$T/root.log" &&
	$QIAO enroll --dir "$SMALL/t" --pubkey "$VK" --role village \
		--region 500116001001 --name 村 &&
	$QIAO log export --dir "$SMALL/t" -o "$T/town.log" &&
	$QIAO log import --dir "$T/v" "$T/town.log"
} >/dev/null 2>&1 && pass deployment || fail deployment "enrolment failed"

BASE=$((27000 + ($$ % 1500) * 2))
for d in "$T/d" "$SMALL/t" "$T/v"; do
	cat >>"$d/qiao.conf" <<-EOF
		[net]
		reconnect_min = 100ms
		reconnect_max = 500ms
		change_poll = 50ms
		poll_interval = 2s
		timeout = 10s
	EOF
done
echo "listen = tcp://127.0.0.1:$BASE" >>"$T/d/qiao.conf"
printf 'listen = tcp://127.0.0.1:%s\nupstream = tcp://127.0.0.1:%s\n' \
	$((BASE + 1)) "$BASE" >>"$SMALL/t/qiao.conf"
echo "upstream = tcp://127.0.0.1:$((BASE + 1))" >>"$T/v/qiao.conf"

declare -A PID
start() { # name dir
	"$QIAO" node run --dir "$2" 2>>"$T/$1.log" &
	PID[$1]=$!
	PIDS+=($!)
}
seq_of() { head_seq "$1" "$2"; } # dir author
holds() { [ "$(seq_of "$1" "$2")" = "$3" ]; }
write() { # dir count text
	local i
	for i in $(seq 1 "$2"); do
		"$QIAO" log append --dir "$1" --type note --text "$3 $i" \
			>/dev/null 2>&1 || return 1
	done
}

start t "$SMALL/t"
start v "$T/v"
write "$T/v" 20 调解记录 || fail village-writes "append failed"
if wait_until 30 holds "$SMALL/t" "$VK" 20; then
	pass town-has-village-log
else
	fail town-has-village-log "town holds $(seq_of "$SMALL/t" "$VK") of 20"
fi

# Fill the town's disk: a ballast file takes what is left, then the town
# writes until its store cannot grow.
# writes until its store cannot grow. LMDB reuses the pages an earlier
# transaction freed, so a small write may still fit after a large one
# failed: the town writes until three small notes in a row do not fit.
dd if=/dev/zero of="$SMALL/ballast" bs=4k >/dev/null 2>&1
fails=0
for i in $(seq 1 2000); do
	if "$QIAO" log append --dir "$SMALL/t" --type note --text "镇 $i" \
		>/dev/null 2>"$T/err"; then
		fails=0
	else
		fails=$((fails + 1))
		[ $fails = 3 ] && break
	fi
done
expect town-disk-full [ $fails = 3 ]
expect town-full-one-line \
	[ "$(cat "$T/err")" = "qiao: log append: store or disk full" ]
tn=$(seq_of "$SMALL/t" "$TK")

# While full: the village writes on; the town cannot store it. (Notes of
# 3 KB: each needs pages of its own, more than a few pages LMDB may still
# find free inside its file.)
write "$T/v" 10 "满盘期间 $(head -c 3000 /dev/zero | tr '\0' z)" ||
	fail village-writes-while-town-full "append failed"
sleep 2
expect village-entries-wait [ "$(seq_of "$SMALL/t" "$VK")" -lt 30 ]
check status-while-full 0 "$QIAO" status --dir "$SMALL/t"
check show-while-full 0 "$QIAO" log show --dir "$SMALL/t" --json
check verify-while-full 0 "$QIAO" log verify --dir "$SMALL/t"
check village-status-pending 0 "$QIAO" status --dir "$T/v" --json
expect village-counts-pending grep -q '"they_lack": [1-9]' "$T/out"
expect town-node-still-running kill -0 "${PID[t]}"
expect town-logs-full grep -q 'disk full' "$T/t.log"
# The district comes up now and pulls all the town holds from it.
start d "$T/d"
if wait_until 30 holds "$T/d" "$TK" "$tn"; then
	pass district-pulls-from-full-town
else
	fail district-pulls-from-full-town "district holds $(seq_of "$T/d" "$TK") of the town's $tn"
fi
tv=$(seq_of "$SMALL/t" "$VK")
if wait_until 20 holds "$T/d" "$VK" "$tv"; then
	pass district-gets-village-entries-town-held
else
	fail district-gets-village-entries-town-held "district holds $(seq_of "$T/d" "$VK") of $tv"
fi
expect town-node-still-running-2 kill -0 "${PID[t]}"

# Space is freed: the town takes in what waited, without a restart.
rm -f "$SMALL/ballast"
if wait_until 30 holds "$SMALL/t" "$VK" 30; then
	pass pending-entries-arrive-at-town
else
	fail pending-entries-arrive-at-town "town holds $(seq_of "$SMALL/t" "$VK") of 30"
fi
if wait_until 30 holds "$T/d" "$VK" 30; then
	pass pending-entries-arrive-at-district
else
	fail pending-entries-arrive-at-district "district holds $(seq_of "$T/d" "$VK") of 30"
fi
check town-writes-again 0 "$QIAO" log append --dir "$SMALL/t" --type note \
	--text 恢复
expect town-chain-continues [ "$(cut -d' ' -f1 "$T/out")" = $((tn + 1)) ]
if wait_until 20 holds "$T/d" "$TK" $((tn + 1)); then
	pass town-write-reaches-district
else
	fail town-write-reaches-district "district holds $(seq_of "$T/d" "$TK") of $((tn + 1))"
fi
expect town-node-never-restarted kill -0 "${PID[t]}"
dt=$("$QIAO" heads --dir "$SMALL/t" --scope 500116001 | tail -n1)
dd_=$("$QIAO" heads --dir "$T/d" --scope 500116001 | tail -n1)
expect equal-digests-town-district [ "$dt" = "$dd_" ]
for n in d t v; do
	kill -TERM "${PID[$n]}" 2>/dev/null
	wait "${PID[$n]}" 2>/dev/null
done
check verify-town-after 0 "$QIAO" log verify --dir "$SMALL/t"
check verify-district-after 0 "$QIAO" log verify --dir "$T/d"
finish
