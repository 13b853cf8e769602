#!/usr/bin/env bash
# A full disk: the store lives on a small tmpfs. Writes fail with a clear
# error and a non-zero exit, nothing already stored is lost or corrupt, and
# once space is freed the station writes again.
. "$(dirname "$0")/lib.sh"
SMALL=$T/small
mkdir -p "$SMALL"
if ! mount -t tmpfs -o size=1m tmpfs "$SMALL" 2>/dev/null; then
	skip disk_full "cannot mount a tmpfs here (needs root)"
	exit 0
fi
trap 'umount "$SMALL" 2>/dev/null; cleanup' EXIT

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
finish
