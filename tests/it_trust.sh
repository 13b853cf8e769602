#!/usr/bin/env bash
# Trust through the command line: a district's root, its district node,
# two towns and their villages, carrying logs between stores with
# `qiao log export` / `qiao log import` (no network). Enrolment,
# unenrolled stations, relayed forgeries, revocation, supersede, expiry,
# who may enrol and revoke.
. "$(dirname "$0")/lib.sh"
FORGE=${BUILD:-build}/san/tools/forge
cd "$T" || exit 1

# qiao with a store directory: q DIR CMD ARGS...
q() { local d=$1; shift; "$QIAO" "$@" --dir "$d"; }
init() { "$QIAO" init --dir "$1" --role "$2" --region "$3" --name "$4" \
	--root "$ROOT" 2>/dev/null; }
# carry FROM TO: export FROM's whole store, import it into TO.
carry() {
	"$QIAO" log export --dir "$1" -o "$T/carry.log" >/dev/null &&
		"$QIAO" log import --dir "$2" "$T/carry.log" >"$T/out" 2>"$T/err"
}
heads() { # heads DIR AUTHOR -> number of that author's entries held
	"$QIAO" log show --dir "$1" --author "$2" 2>/dev/null | grep -c .
}

ROOT=$("$QIAO" root init --dir root | tail -1)
expect root_key_printed test "${#ROOT}" -eq 64
expect root_key_0600 test "$(stat -c %a root/key)" = 600
DIST=$(init dist district 500116 区指挥中心)
TOWN=$(init town town 500116001 城南街道)
TOWN2=$(init town2 town 500116002 城北街道)
VA=$(init va village 500116001001 一村)
VB=$(init vb village 500116001002 二村)
VU=$(init vu village 500116001003 三村)

check enroll_district 0 q root enroll --pubkey "$DIST" --role district \
	--region 500116 --name 区指挥中心
check enroll_town 0 q root enroll --pubkey "$TOWN" --role town \
	--region 500116001 --name 城南街道
check enroll_town2 0 q root enroll --pubkey "$TOWN2" --role town \
	--region 500116002 --name 城北街道
# A region code must fit the role; only a district, town or village.
check enroll_bad_region_usage 2 q root enroll --pubkey "$VA" \
	--role village --region 5001 --name x
check enroll_root_role_usage 2 q root enroll --pubkey "$VA" --role root \
	--region 500116 --name x
for s in dist town town2; do carry root $s; done
expect root_log_carried test "$(heads town "$ROOT")" -eq 3

check town_enrolls_a 0 q town enroll --pubkey "$VA" --role village \
	--region 500116001001 --name 一村
check town_enrolls_b 0 q town enroll --pubkey "$VB" --role village \
	--region 500116001002 --name 二村
# A town enrols only villages, only under its own code.
check town_enrol_outside_refused 1 q town enroll --pubkey "$VU" \
	--role village --region 500116002001 --name x
expect town_enrol_outside_reason grep -q "may not enrol" "$T/err"
check town_enrol_town_refused 1 q town enroll --pubkey "$VU" --role town \
	--region 500116001 --name x
for s in va vb; do carry town $s; done

for i in 1 2 3 4; do q va log append --type note --text "一村 $i" >/dev/null; done
# B's seq 1 and 2 open a case (its PC is lost after them, below); 3 a note.
q vb grid add --code 500116001002001 --kind grid --name 二村一网格 >/dev/null
BCASE=$(q vb case open --grid 500116001002001 --category 邻里纠纷 --title 漏水)
q vb log append --type note --text "二村 3" >/dev/null
# Not enrolled: it records locally all the same.
check unenrolled_records_locally 0 q vu log append --type note --text 三村

# The district gets the town's log and the villages' through the town,
# in one file; entries whose enrolment comes later in the file are
# retried by the importer.
carry va town; carry vb town
check district_imports_via_town 0 carry town dist
expect district_holds_a test "$(heads dist "$VA")" -eq 4
expect district_holds_b test "$(heads dist "$VB")" -eq 3
check district_log_verifies 0 q dist log verify

# The same, with a's entries before their enrolment in one file: the
# importer keeps them back and retries them once the town's are in.
if [ -x "$FORGE" ]; then
	init dist3 district 500116 区备份二 >/dev/null
	carry root dist3
	q va log export -o a-only.log --author "$VA" >/dev/null
	q town log export -o town-only.log --author "$TOWN" >/dev/null
	"$FORGE" cat behind.log a-only.log town-only.log
	expect behind_file_order test "$("$FORGE" find behind.log "$VA" 1)" -eq 0
	check import_retries_behind_enrolment 0 q dist3 log import behind.log
	expect retried_entries_held test "$(heads dist3 "$VA")" -eq 4
else
	skip import_retries_behind_enrolment "no $FORGE (make check-tests)"
fi

# The unenrolled station's entries: refused until its enrolment arrives.
check unenrolled_refused 1 carry vu dist
expect unenrolled_reason grep -q "unknown-author" "$T/err"
expect unenrolled_nothing_held test "$(heads dist "$VU")" -eq 0
check town_enrols_u 0 q town enroll --pubkey "$VU" --role village \
	--region 500116001003 --name 三村
carry town dist
check unenrolled_accepted_after_enrolment 0 carry vu dist
expect unenrolled_now_held test "$(heads dist "$VU")" -eq 1

# A relayed forgery. A fresh district store (only the root's log) gets
# the town's file, in which the relay altered one entry: exactly that one
# is refused, with its reason; everything else is kept.
init dist2 district 500116 区备份 >/dev/null
carry root dist2
q town log export -o relay.log >/dev/null
if [ -x "$FORGE" ]; then
	n=$("$FORGE" count relay.log)
	last_a=$("$FORGE" find relay.log "$VA" 4)
	check forge_flip_signature 0 "$FORGE" flip relay.log bad.log "$last_a"
	check relayed_forgery_rejected 1 q dist2 log import bad.log
	expect relayed_forgery_one_line test \
		"$(count '^qiao: log import: entry ' "$T/err")" -eq 1
	expect relayed_forgery_reason grep -q \
		"author ${VA:0:16}, seq 4): bad-signature" "$T/err"
	# dist2 held the root's 3 entries already.
	expect relayed_forgery_rest_kept grep -q \
		"stored $((n - 4)), already held 3, rejected 1, refused 0" \
		"$T/out"
	expect relayed_forgery_a_kept_before test "$(heads dist2 "$VA")" -eq 3
	# The body swapped on the way: the header's hash gives it away.
	last_b=$("$FORGE" find relay.log "$VB" 3)
	"$FORGE" body relay.log badbody.log "$last_b"
	check relayed_body_rejected 1 q dist2 log import badbody.log
	expect relayed_body_reason grep -q "seq 3): bad-body-hash" "$T/err"
	# Signed by the relay with its own key over the village's header.
	"$FORGE" resign relay.log resigned.log "$last_b" town
	check relayed_resigned_rejected 1 q dist2 log import resigned.log
	expect relayed_resigned_reason grep -q "seq 3): bad-signature" "$T/err"
	# Validly signed by an unenrolled key claiming the village's slot.
	init thief village 500116001009 贼 >/dev/null
	"$FORGE" reauthor relay.log reauthored.log "$last_b" thief
	check relayed_reauthored_rejected 1 q dist2 log import reauthored.log
	expect relayed_reauthored_reason grep -Eq "unknown-author|gap" "$T/err"
	# The genuine file then completes the copy.
	check genuine_after_forgeries 0 q dist2 log import relay.log
	expect dist2_holds_a test "$(heads dist2 "$VA")" -eq 4
else
	skip relayed_forgery "no $FORGE (make check-tests)"
fi

# Revocation: the town revokes village A after seq 2. The district cuts
# what it holds beyond; A's copy offered again is refused; 1-2 stay.
check root_revoke_needs_after 2 q root revoke --pubkey "$VA"
expect root_revoke_needs_after_says grep -q "give --after" "$T/err"
carry town town2 # town2 knows a's certificate, and still may not
check town2_may_not_revoke_a 1 q town2 revoke --pubkey "$VA" --after 0
expect town2_may_not_revoke_reason grep -q "may not revoke" "$T/err"
check town_revokes_a 0 q town revoke --pubkey "$VA" --after 2 --reason 丢失
check district_takes_revocation 0 carry town dist
expect revoked_cut_to_2 test "$(heads dist "$VA")" -eq 2
check district_verifies_after_cut 0 q dist log verify
check revoked_later_entries_refused 1 carry va dist
expect revoked_reason grep -q "seq 3): revoked" "$T/err"
expect revoked_earlier_kept test "$(heads dist "$VA")" -eq 2
check revoked_station_cannot_append 0 carry town va
check revoked_append_refused 1 q va log append --type note --text x
expect revoked_append_reason grep -q "revoked" "$T/err"

# Supersede: village B's PC is lost after seq 2; B2 replaces it.
VB2=$(init vb2 village 500116001002 二村新机)
check supersede_enrol 0 q town enroll --pubkey "$VB2" --role village \
	--region 500116001002 --name 二村新机 --supersedes "$VB" --after 2
check supersede_needs_after 2 q town enroll --pubkey "$VB2" \
	--role village --region 500116001002 --name x --supersedes "$VB"
carry town dist
expect superseded_cut_to_2 test "$(heads dist "$VB")" -eq 2
q vb log append --type note --text thief >/dev/null
check superseded_later_refused 1 carry vb dist
expect superseded_reason grep -q "revoked" "$T/err"
carry town vb2
check successor_writes 0 q vb2 log append --type note --text 继续
check successor_accepted 0 carry vb2 dist
expect successor_held test "$(heads dist "$VB2")" -eq 1
# B's case continues under the new key: custody is the station's region,
# not the lost key.
carry dist vb2
check successor_continues_case 0 q vb2 case accept "$BCASE"
check successor_case_accepted 0 carry vb2 dist
check successor_case_at_district 0 q dist case show "$BCASE" --json
expect successor_case_status grep -q '"status": "accepted"' "$T/out"

# Expiry: an enrolment that ended; entries stamped after it are refused.
VX=$(init vx village 500116001005 五村)
check enrol_until 0 q town enroll --pubkey "$VX" --role village \
	--region 500116001005 --name 五村 --until 2020-01-01
check enrol_bad_until_usage 2 q town enroll --pubkey "$VX" \
	--role village --region 500116001005 --name x --until 2020-13-45
q vx log append --type note --text late >/dev/null
carry town dist
check expired_refused 1 carry vx dist
expect expired_reason grep -q "expired" "$T/err"

finish
