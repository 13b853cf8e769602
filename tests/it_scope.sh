#!/usr/bin/env bash
# Authorisation across stations: a village that claims another village's
# region in its own config can write there on its own PC, but every other
# node refuses those operations with the reason, and they never enter state.
. "$(dirname "$0")/lib.sh"

R=$T/root D=$T/district W=$T/town A=$T/village-a B=$T/village-b
carry() {
	"$QIAO" log export --dir "$1" -o "$T/carry.log" >/dev/null &&
		"$QIAO" log import --dir "$2" "$T/carry.log" >/dev/null 2>&1
}
rootkey=$("$QIAO" root init --dir "$R" 2>/dev/null)
dk=$("$QIAO" init --dir "$D" --role district --region 500116 --name 区 --root "$rootkey" 2>/dev/null)
tk=$("$QIAO" init --dir "$W" --role town --region 500116001 --name 白沙镇 --root "$rootkey" 2>/dev/null)
bk=$("$QIAO" init --dir "$B" --role village --region 500116001002 --name 乙村 --root "$rootkey" 2>/dev/null)
# Village A is enrolled for 500116001001 but its config claims B's code.
ak=$("$QIAO" init --dir "$A" --role village --region 500116001002 --name 甲村 --root "$rootkey" 2>/dev/null)
"$QIAO" enroll --dir "$R" --pubkey "$dk" --role district --region 500116 --name 区 >/dev/null
"$QIAO" enroll --dir "$R" --pubkey "$tk" --role town --region 500116001 --name 白沙镇 >/dev/null
carry "$R" "$W"
"$QIAO" enroll --dir "$W" --pubkey "$ak" --role village --region 500116001001 --name 甲村 >/dev/null
"$QIAO" enroll --dir "$W" --pubkey "$bk" --role village --region 500116001002 --name 乙村 >/dev/null
carry "$R" "$D"
carry "$W" "$D"
carry "$R" "$B"
carry "$W" "$B"

# B records a grid and a case in its own region: fine everywhere.
check b_grid 0 "$QIAO" grid add --dir "$B" --code 500116001002001 --kind grid --name 乙村一网格
check b_case 0 "$QIAO" case open --dir "$B" --grid 500116001002001 --category 邻里纠纷 --title 乙村的纠纷
bcase=$(cat "$T/out")
carry "$B" "$D"

# A, believing its config, writes in B's region on its own PC.
check a_grid_locally 0 "$QIAO" grid add --dir "$A" --code 500116001002009 --kind grid --name 冒用网格
check a_case_locally 0 "$QIAO" case open --dir "$A" --grid 500116001002009 --category 邻里纠纷 --title 冒写乙村
acase=$(cat "$T/out")
"$QIAO" log export --dir "$A" -o "$T/a.log" >/dev/null
before=$("$QIAO" digest --dir "$D" --under 500116001002)
check district_refuses 1 "$QIAO" log import --dir "$D" "$T/a.log"
expect entries_kept_in_the_log [ "$(count '^stored 2, already held 0, rejected 0, refused 2' "$T/out")" = 1 ]
expect refusal_names_the_reason [ "$(count 'operation refused \(unauthorised\)' "$T/err")" = 2 ]
expect refusal_says_why [ "$(count 'outside the author' "$T/err")" -ge 1 ]
check a_case_absent_at_district 1 "$QIAO" case show --dir "$D" "$acase"
check b_case_present_at_district 0 "$QIAO" case show --dir "$D" "$bcase"
expect state_untouched [ "$("$QIAO" digest --dir "$D" --under 500116001002)" = "$before" ]
check log_still_verifies 0 "$QIAO" log verify --dir "$D"
# Relayed through the district, B refuses them too: checks never trust
# the relay.
"$QIAO" log export --dir "$D" -o "$T/d.log" >/dev/null
check village_b_refuses_relayed 1 "$QIAO" log import --dir "$B" "$T/d.log"
expect b_refusal_reason [ "$(count 'operation refused \(unauthorised\)' "$T/err")" = 2 ]
check a_case_absent_at_b 1 "$QIAO" case show --dir "$B" "$acase"
finish
