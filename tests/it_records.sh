#!/usr/bin/env bash
# Records, cases and statistics through the CLI, on real stores: a root, a
# district, a town and a village, their logs carried by `qiao log
# export/import`. Every bad input is refused with one clear line and
# leaves the store exactly as it was; concurrent edits of one case at two
# stations are reported identically wherever the entries meet.
. "$(dirname "$0")/lib.sh"

D=$T/district V=$T/village W=$T/town R=$T/root

# A store's state and log, to show a refused command changed nothing.
snap() { "$QIAO" digest --dir "$1"; "$QIAO" log verify --dir "$1" | head -1; }

# bad NAME WANT_RC DIR CMD...: fails as wanted, with a "qiao: " line, and
# the store is unchanged.
bad() {
	local name=$1 want=$2 dir=$3 before
	shift 3
	before=$(snap "$dir" 2>&1)
	check "$name" "$want" "$@" || return
	[ "$(snap "$dir" 2>&1)" = "$before" ] ||
		fail "$name.unchanged" "the store changed"
	grep -q '^qiao: ' "$T/err" || fail "$name.message" "no error line"
	[ ! -s "$T/out" ] || fail "$name.stdout" "printed a result: $(head -c 200 "$T/out")"
}

not_grep() { ! grep -q "$@"; }

# carry FROM TO: everything FROM holds into TO.
carry() {
	"$QIAO" log export --dir "$1" -o "$T/carry.log" >/dev/null &&
		"$QIAO" log import --dir "$2" "$T/carry.log" >/dev/null
}

rootkey=$("$QIAO" root init --dir "$R" 2>/dev/null)
dk=$("$QIAO" init --dir "$D" --role district --region 500116 --name 模拟区 --root "$rootkey" 2>/dev/null)
tk=$("$QIAO" init --dir "$W" --role town --region 500116001 --name 白沙镇 --root "$rootkey" 2>/dev/null)
vk=$("$QIAO" init --dir "$V" --role village --region 500116001001 --name 石门村 --root "$rootkey" 2>/dev/null)
"$QIAO" enroll --dir "$R" --pubkey "$dk" --role district --region 500116 --name 模拟区 >/dev/null
"$QIAO" enroll --dir "$R" --pubkey "$tk" --role town --region 500116001 --name 白沙镇 >/dev/null
for s in "$D" "$W" "$V"; do carry "$R" "$s"; done
"$QIAO" enroll --dir "$W" --pubkey "$vk" --role village --region 500116001001 --name 石门村 >/dev/null

# Grids.
check grid.town 0 "$QIAO" grid add --dir "$W" --code 500116001 --kind town --name 白沙镇 --households 4200
check grid.village 0 "$QIAO" grid add --dir "$W" --code 500116001001 --kind village --name 石门村 --households 620
for s in "$D" "$V"; do carry "$W" "$s"; done
check grid.grid 0 "$QIAO" grid add --dir "$V" --code 500116001001001 --kind grid --name 石门村第一网格 --leader 张伟 --phone 13812345678
expect grid.add.prints_code grep -qx 500116001001001 "$T/out"
check grid.micro 0 "$QIAO" grid add --dir "$V" --code 500116001001001001 --kind micro --name 3栋 --households 64
check grid.list 0 "$QIAO" grid list --dir "$V" --under 500116001001
expect grid.list.rows [ "$(grep -c '^500116001001' "$T/out")" -eq 3 ]
expect grid.list.chinese grep -q '石门村第一网格' "$T/out"
# Aligned by display width (a Chinese character takes two columns): every
# households figure starts where its heading does.
cols=$(sed 's/HOUSEHOLDS.*//;q' "$T/out" | LC_ALL=C.UTF-8 wc -L)
sed -nE 's/^([0-9]+ +[a-z]+ +[^ ]+ +)[0-9]+( .*)?$/\1/p' "$T/out" >"$T/pre"
expect grid.list.aligned [ "$(while IFS= read -r l; do printf '%s' "$l" |
	LC_ALL=C.UTF-8 wc -L; done <"$T/pre" | sort -u | tr '\n' ' ')" = "$cols " ]
expect grid.list.aligned.rows [ "$(wc -l <"$T/pre")" -eq 2 ]
check grid.show 0 "$QIAO" grid show --dir "$V" 500116001001001
expect grid.show.masked grep -q '138\*\*\*\*5678' "$T/out"
check grid.show.reveal 0 "$QIAO" grid show --dir "$V" 500116001001001 --reveal
expect grid.show.revealed grep -q 13812345678 "$T/out"
check grid.update 0 "$QIAO" grid add --dir "$V" --code 500116001001001 --households 320
check grid.show.updated 0 "$QIAO" grid show --dir "$V" 500116001001001 --json
expect grid.show.json.households grep -q '"households": 320' "$T/out"
bad grid.bad.missing 2 "$V" "$QIAO" grid add --dir "$V" --kind grid --name x
bad grid.bad.code 2 "$V" "$QIAO" grid add --dir "$V" --code 5001160010010a1 --kind grid --name x
bad grid.bad.kind_length 2 "$V" "$QIAO" grid add --dir "$V" --code 500116001001002 --kind micro --name x
bad grid.bad.kind 2 "$V" "$QIAO" grid add --dir "$V" --code 500116001001002 --kind park --name x
bad grid.bad.new_without_name 2 "$V" "$QIAO" grid add --dir "$V" --code 500116001001002 --kind grid
bad grid.bad.outside_region 1 "$V" "$QIAO" grid add --dir "$V" --code 500116001002001 --kind grid --name x
bad grid.bad.phone 2 "$V" "$QIAO" grid add --dir "$V" --code 500116001001001 --phone abc
bad grid.bad.show_unknown 1 "$V" "$QIAO" grid show --dir "$V" 500116001001009
bad grid.bad.option 2 "$V" "$QIAO" grid list --dir "$V" --frobnicate
bad grid.bad.sub 2 "$V" "$QIAO" grid remove --dir "$V"

# Registry: identifiers stored, shown masked.
check reg.add 0 "$QIAO" reg add --dir "$V" --grid 500116001001001001 --kind person --name 王建国 --id-no 500116198001011234 --phone 13900001111 --address 石门村3组12号
expect reg.add.prints_id grep -Eqx '[0-9a-f]{12}' "$T/out"
rid=$(cat "$T/out")
check reg.list 0 "$QIAO" reg list --dir "$V"
expect reg.list.masked grep -q '5001\*\*\*\*\*\*\*\*\*\*1234' "$T/out"
expect reg.list.not_full not_grep 500116198001011234 "$T/out"
check reg.show.json 0 "$QIAO" reg show --dir "$V" "$rid" --json
expect reg.show.json.masked grep -q '"id_no": "5001\*\*\*\*\*\*\*\*\*\*1234"' "$T/out"
check reg.show.reveal 0 "$QIAO" reg show --dir "$V" "$rid" --reveal
expect reg.show.revealed grep -q 500116198001011234 "$T/out"
bad reg.bad.unknown_grid 1 "$V" "$QIAO" reg add --dir "$V" --grid 500116001001007 --kind person --name 李四
bad reg.bad.id_no 2 "$V" "$QIAO" reg add --dir "$V" --grid 500116001001001 --kind person --name 李四 --id-no 12345
bad reg.bad.kind 2 "$V" "$QIAO" reg add --dir "$V" --grid 500116001001001 --kind car --name 李四
bad reg.bad.show_unknown 1 "$V" "$QIAO" reg show --dir "$V" 0123456789ab
bad reg.bad.show_id 2 "$V" "$QIAO" reg show --dir "$V" xyz

# A case through its loop; open prints the id alone.
check case.open 0 "$QIAO" case open --dir "$V" --grid 500116001001001001 --category 邻里纠纷 --title 楼上漏水纠纷 --party 王某某 --party 李某某 --matter family --risk general
expect case.open.prints_id_alone grep -Eqx '[0-9a-f]{12}' "$T/out"
cid=$(cat "$T/out")
bad case.bad.unknown 1 "$V" "$QIAO" case accept --dir "$V" 0123456789ab
bad case.bad.id 2 "$V" "$QIAO" case accept --dir "$V" not-an-id
bad case.bad.missing_id 2 "$V" "$QIAO" case accept --dir "$V"
bad case.bad.wrong_step 1 "$V" "$QIAO" case evaluate --dir "$V" "$cid" --satisfied yes
expect case.bad.wrong_step.says grep -q 'wrong step for the status' "$T/err"
bad case.bad.open_grid 1 "$V" "$QIAO" case open --dir "$V" --grid 500116001001005 --category c --title t
bad case.bad.open_code 2 "$V" "$QIAO" case open --dir "$V" --grid 5001 --category c --title t
bad case.bad.open_missing 2 "$V" "$QIAO" case open --dir "$V" --grid 500116001001001 --title t
bad case.bad.matter 2 "$V" "$QIAO" case open --dir "$V" --grid 500116001001001 --category c --title t --matter private
bad case.bad.option 2 "$V" "$QIAO" case accept --dir "$V" "$cid" --to 500116001
check case.accept 0 "$QIAO" case accept --dir "$V" "$cid"
expect case.accept.status grep -q "^$cid accepted$" "$T/out"
check case.route 0 "$QIAO" case route --dir "$V" "$cid" --assignee 张伟 --level grid
check case.arrive 0 "$QIAO" case arrive --dir "$V" "$cid" --note 到达现场
check case.feedback 0 "$QIAO" case feedback --dir "$V" "$cid"
bad case.bad.transfer_to 2 "$V" "$QIAO" case transfer --dir "$V" "$cid" --to 500116002
bad case.bad.satisfied 2 "$V" "$QIAO" case evaluate --dir "$V" "$cid" --satisfied maybe
bad case.bad.level 2 "$V" "$QIAO" case resolve --dir "$V" "$cid" --level province
check case.transfer 0 "$QIAO" case transfer --dir "$V" "$cid" --to 500116001 --body 司法所 --note 需镇调解
expect case.transfer.status grep -q "transferred" "$T/out"
bad case.bad.resolve_while_transferred 1 "$V" "$QIAO" case resolve --dir "$V" "$cid"
carry "$V" "$W"
# A transfer takes effect only when the receiver accepts: until then the
# village still holds the case and the town may not act on it.
check case.transfer.pending 0 "$QIAO" case show --dir "$W" "$cid" --json
expect case.transfer.pending.custodian grep -q '"custodian": "500116001001"' "$T/out"
expect case.transfer.pending.status grep -q '"status": "transferred"' "$T/out"
bad case.bad.town_before_accept 1 "$W" "$QIAO" case mediate --dir "$W" "$cid" --mediator 司法所
check case.town_accepts 0 "$QIAO" case accept --dir "$W" "$cid"
check case.town_mediates 0 "$QIAO" case mediate --dir "$W" "$cid" --mediator 司法所
check case.town_resolves 0 "$QIAO" case resolve --dir "$W" "$cid" --result 达成调解协议
check case.evaluate 0 "$QIAO" case evaluate --dir "$W" "$cid" --satisfied yes --by 王某某
check case.show 0 "$QIAO" case show --dir "$W" "$cid"
expect case.show.custodian grep -q 'custodian *500116001  白沙镇' "$T/out"
expect case.show.level grep -q 'level *司法所' "$T/out"
expect case.show.resolved_level grep -q 'resolved_level *town' "$T/out"
expect case.show.sla grep -q 'response .*target 1:00 *met' "$T/out"
expect case.show.timeline [ "$(grep -cE '^  [0-9]{4}-[0-9]{2}-[0-9]{2} ' "$T/out")" -eq 10 ]
expect case.show.parties grep -q '王某某、李某某\|李某某、王某某' "$T/out"
check case.show.json 0 "$QIAO" case show --dir "$W" "$cid" --json
expect case.show.json.status grep -q '"status": "evaluated"' "$T/out"
check case.list 0 "$QIAO" case list --dir "$W" --status evaluated --under 500116001
expect case.list.row grep -q "^$cid .*楼上漏水纠纷" "$T/out"
check case.list.none 0 "$QIAO" case list --dir "$W" --status closed
expect case.list.none.empty [ ! -s "$T/out" ]
bad case.bad.status 2 "$W" "$QIAO" case list --dir "$W" --status done
carry "$W" "$V"
bad case.bad.not_custodian 1 "$V" "$QIAO" case close --dir "$V" "$cid"
expect case.bad.not_custodian.says grep -q 'does not hold' "$T/err"
check case.note.anyone 0 "$QIAO" case note --dir "$V" "$cid" --note 村委会跟进
check case.note.json 0 "$QIAO" case note --dir "$V" "$cid" --note 再跟进 --json
expect case.note.json.says grep -Pzq '^\{\n  "id": "'"$cid"'",\n  "hash": "[0-9a-f]{64}",\n  "status": "evaluated"\n\}\n$' "$T/out"
# The hash printed is the entry the step signed.
expect case.note.json.hash grep -q "$(sed -n 's/.*"hash": "\(.*\)".*/\1/p' "$T/out")" <("$QIAO" log show --dir "$V" --json)

# Concurrent edits of one case at two stations, then the logs cross in
# both orders: same conflicts, same digest, everywhere.
check conc.open 0 "$QIAO" case open --dir "$V" --grid 500116001001001 --category 邻里纠纷 --title 噪音扰民 --party 张某
c2=$(cat "$T/out")
"$QIAO" case accept --dir "$V" "$c2" >/dev/null
carry "$V" "$D"
check conc.village 0 "$QIAO" case route --dir "$V" "$c2" --category 物业纠纷
check conc.district 0 "$QIAO" case route --dir "$D" "$c2" --category 环境污染纠纷
carry "$V" "$D"
carry "$D" "$V"
carry "$W" "$D"
carry "$D" "$W"
carry "$V" "$W"
check conc.conflicts.v 0 "$QIAO" case conflicts --dir "$V" --json
cp "$T/out" "$T/conf.v"
check conc.conflicts.d 0 "$QIAO" case conflicts --dir "$D" --json
expect conc.conflicts.same cmp -s "$T/conf.v" "$T/out"
expect conc.conflicts.field grep -q '"field": "category"' "$T/out"
check conc.conflicts.human 0 "$QIAO" case conflicts --dir "$W"
expect conc.conflicts.human.values grep -q '物业纠纷' "$T/out"
for s in "$V" "$D" "$W"; do "$QIAO" digest --dir "$s"; done >"$T/digests"
expect conc.digest.same [ "$(sort -u "$T/digests" | wc -l)" -eq 1 ]
# A fresh store taking the logs in the other order agrees too.
F=$T/fresh
"$QIAO" init --dir "$F" --root "$rootkey" >/dev/null 2>&1
for s in "$D" "$W" "$R" "$V"; do carry "$s" "$F"; done
expect conc.digest.fresh [ "$("$QIAO" digest --dir "$F")" = "$(head -1 "$T/digests")" ]
check conc.digest.under 0 "$QIAO" digest --dir "$F" --under 500116001001 --json
expect conc.digest.under.records grep -q '"records": [1-9]' "$T/out"
check reindex 0 "$QIAO" reindex --dir "$F"
expect reindex.unchanged grep -q 'digest unchanged' "$T/out"

# Meetings.
check meeting.add 0 "$QIAO" meeting add --dir "$V" --code 500116001001001 --level grid --date 2024-05-06 --topic 楼道堆物清理 --attendees 23 --decision 一周内清理 --notice 已张榜公示 --evaluation 居民满意 --case "$c2"
mid=$(cat "$T/out")
check meeting.list 0 "$QIAO" meeting list --dir "$V" --from 2024-05-01 --to 2024-05-31
expect meeting.list.row grep -q "^$mid .*2024-05-06 .*楼道堆物清理" "$T/out"
check meeting.show 0 "$QIAO" meeting show --dir "$V" "$mid" --json
expect meeting.show.case grep -q '"cases"' "$T/out"
bad meeting.bad.level 2 "$V" "$QIAO" meeting add --dir "$V" --code 500116001001001 --level county --date 2024-05-06 --topic t
bad meeting.bad.code_for_level 2 "$V" "$QIAO" meeting add --dir "$V" --code 500116001001001 --level community --date 2024-05-06 --topic t
bad meeting.bad.date 2 "$V" "$QIAO" meeting add --dir "$V" --code 500116001001001 --level grid --date 2024-13-40 --topic t
bad meeting.bad.case 1 "$V" "$QIAO" meeting add --dir "$V" --code 500116001001001 --level grid --date 2024-05-06 --topic t --case 0123456789ab

# Statistics over what this village holds: two cases, one resolved at
# town level (grassroots), one meeting.
check stats.json 0 "$QIAO" stats --dir "$W" --json
for k in screened resolved resolution_rate grassroots_resolved \
	grassroots_resolution_rate satisfaction_rate sla_response_rate \
	sla_arrival_rate sla_feedback_rate; do
	expect "stats.json.$k" grep -q "\"$k\": " "$T/out"
done
expect stats.json.values grep -q '"screened": 2,' "$T/out"
expect stats.json.rate grep -q '"resolution_rate": 0.5,' "$T/out"
check stats.human 0 "$QIAO" stats --dir "$W"
expect stats.human.pct grep -q 'resolution rate *50.00%' "$T/out"
check stats.csv 0 "$QIAO" stats --dir "$W" --by village --csv
expect stats.csv.header grep -q '^code,name,screened,resolved,resolution_rate,' "$T/out"
expect stats.csv.row grep -q '^500116001001,"石门村",2,1,0.500000,1,' "$T/out"
check stats.by 0 "$QIAO" stats --dir "$W" --by town
expect stats.by.total grep -q '^total ' "$T/out"
# --from/--to select cases by intake and meetings by their date.
check stats.window.now 0 "$QIAO" stats --dir "$W" --json --from "$(date -d yesterday +%F)" --to "$(date -d tomorrow +%F)"
expect stats.window.now.cases grep -q '"screened": 2,' "$T/out"
check stats.window.later 0 "$QIAO" stats --dir "$W" --json --from "$(date -d '+2 days' +%F)"
expect stats.window.later.none grep -q '"screened": 0,' "$T/out"
carry "$V" "$W" # the village's meeting
check stats.window.may 0 "$QIAO" stats --dir "$W" --json --from 2024-05-01 --to 2024-05-31
expect stats.window.may.meeting grep -q '"meetings": 1,' "$T/out"
expect stats.window.may.no_case grep -q '"screened": 0,' "$T/out"
check stats.window.june 0 "$QIAO" stats --dir "$W" --json --from 2024-06-01
expect stats.window.june.no_meeting grep -q '"meetings": 0,' "$T/out"
bad stats.bad.by 2 "$W" "$QIAO" stats --dir "$W" --by county
bad stats.bad.date 2 "$W" "$QIAO" stats --dir "$W" --from 2024-02-30x
bad stats.bad.range 2 "$W" "$QIAO" stats --dir "$W" --from 2024-03-01 --to 2024-02-01
bad stats.bad.both 2 "$W" "$QIAO" stats --dir "$W" --json --csv
bad digest.bad.under 2 "$W" "$QIAO" digest --dir "$W" --under abc
bad stats.bad.dir 1 "$W" "$QIAO" stats --dir "$T/none"

# Writes with --json: the name and the entry's hash, as JSON.
check json.grid.add 0 "$QIAO" grid add --dir "$V" --code 500116001001001 --leader 李强 --json
expect json.grid.add.code grep -Pzq '^\{\n  "code": "500116001001001",\n  "hash": "[0-9a-f]{64}"\n\}\n$' "$T/out"
check json.reg.add 0 "$QIAO" reg add --dir "$V" --grid 500116001001001 --kind house --name 3组12号 --json
expect json.reg.add.id grep -Pzq '^\{\n  "id": "[0-9a-f]{12}",\n  "hash": "[0-9a-f]{64}"\n\}\n$' "$T/out"
check json.case.open 0 "$QIAO" case open --dir "$V" --grid 500116001001001 --category 咨询 --title 低保政策 --json
expect json.case.open.id grep -Pzq '^\{\n  "id": "[0-9a-f]{12}",\n  "hash": "[0-9a-f]{64}"\n\}\n$' "$T/out"
jid=$(sed -n 's/.*"id": "\(.*\)".*/\1/p' "$T/out")
check json.case.accept 0 "$QIAO" case accept --dir "$V" "$jid" --json
expect json.case.accept.status grep -q '"status": "accepted"' "$T/out"
bad json.case.bad_step 1 "$V" "$QIAO" case close --dir "$V" "$jid" --json
check json.meeting.add 0 "$QIAO" meeting add --dir "$V" --code 500116001001 --level community --date 2024-06-01 --topic 议事 --case "$jid" --json
expect json.meeting.add.id grep -Pzq '^\{\n  "id": "[0-9a-f]{12}",\n  "hash": "[0-9a-f]{64}"\n\}\n$' "$T/out"

# A store anchored on its own key (no --root) holds its cases as the root:
# list names that custodian as show does, not with an empty column.
S=$T/self
"$QIAO" init --dir "$S" --role district --region 500116 >/dev/null 2>&1
for g in "500116001 town 镇" "500116001001 village 村" "500116001001001 grid 网格"; do
	set -- $g
	"$QIAO" grid add --dir "$S" --code "$1" --kind "$2" --name "$3" >/dev/null
done
sid=$("$QIAO" case open --dir "$S" --grid 500116001001001 --category 邻里纠纷 --title 自锚)
check self.case.show 0 "$QIAO" case show --dir "$S" "$sid"
expect self.case.show.root grep -Eq '^  custodian +root' "$T/out"
check self.case.list 0 "$QIAO" case list --dir "$S"
expect self.case.list.root grep -Eq "^${sid:0:12} .* 500116001001001 +root +邻里纠纷" "$T/out"

finish
