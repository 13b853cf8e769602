#!/usr/bin/env bash
# The signed log through the qiao command: init, append, show, verify,
# export/import with every rejection reason, forks, and the CLI's errors.
. "$(dirname "$0")/lib.sh"

D=$T/district V=$T/village
check init_district 0 "$QIAO" init --dir "$D" --role district \
	--region 500116 --name 区指挥中心
check init_village 0 "$QIAO" init --dir "$V" --role village \
	--region 500116001001 --name 石桥村 --root "$("$QIAO" id --dir "$D")"
VK=$("$QIAO" id --dir "$V")
expect id_is_64_hex [ "$(printf %s "$VK" | grep -cE '^[0-9a-f]{64}$')" = 1 ]
expect secret_key_is_0600 [ "$(stat -c %a "$V/key")" = 600 ]
expect store_files_are_private [ "$(stat -c %a "$V/data.mdb")" = 600 ]
check init_refuses_to_replace_a_key 1 "$QIAO" init --dir "$V"

for i in 1 2 3 4 5; do
	"$QIAO" log append --dir "$V" --type note --text "走访第${i}户" \
		>>"$T/acks" || fail append "append $i failed"
done
expect append_prints_seq_and_hash \
	[ "$(tail -n1 "$T/acks" | grep -cE '^5 [0-9a-f]{64}$')" = 1 ]
# The store as hex, byte by byte, after five appends: the public key is in
# it (so the search works), the secret seed is not, in text or in binary.
od -An -tx1 -v "$V/data.mdb" | tr -d ' \n' >"$T/store.hex"
expect public_key_in_store grep -q "$(cat "$V/key.pub")" "$T/store.hex"
expect secret_not_in_store \
	[ "$(grep -c "$(sed -n 2p "$V/key")" "$T/store.hex" "$V/data.mdb" |
		grep -vc ':0$')" = 0 ]
check show 0 "$QIAO" log show --dir "$V"
expect show_lists_five [ "$(count '走访第' "$T/out")" = 5 ]
check show_json 0 "$QIAO" log show --dir "$V" --author "$VK" --json
expect show_json_has_text [ "$(count '"text": "走访第3户"' "$T/out")" = 1 ]
check verify_clean_store 0 "$QIAO" log verify --dir "$V"
expect verify_prints_counts [ "$(count '^authors 1, entries 5' "$T/out")" = 1 ]

# The district does not know the village yet: every entry is refused with
# the reason, nothing is stored, the exit code says so.
check export_all 0 "$QIAO" log export --dir "$V" -o "$T/v.log"
check import_unknown_author 1 "$QIAO" log import --dir "$D" "$T/v.log"
expect unknown_author_reason [ "$(count 'unknown-author' "$T/err")" = 5 ]
check enrol_village 0 "$QIAO" enroll --dir "$D" --pubkey "$VK" \
	--role village --region 500116001001 --name 石桥村
check import_after_enrolment 0 "$QIAO" log import --dir "$D" "$T/v.log"
expect import_counts [ "$(count '^stored 5, already held 0' "$T/out")" = 1 ]

# Replayed: the same file again is idempotent — nothing duplicated.
check import_replayed 0 "$QIAO" log import --dir "$D" "$T/v.log"
expect replay_stores_nothing \
	[ "$(count '^stored 0, already held 5, rejected 0' "$T/out")" = 1 ]
"$QIAO" log show --dir "$D" --author "$VK" --json >"$T/shown"
expect replay_no_duplicates [ "$(count '"seq":' "$T/shown")" = 5 ]

# Gap: entries 7.. without 6.
for i in 6 7 8; do
	"$QIAO" log append --dir "$V" --type note --text "n$i" >/dev/null
done
check export_from_7 0 "$QIAO" log export --dir "$V" -o "$T/gap.log" \
	--author "$VK" --from 7
check import_gap 1 "$QIAO" log import --dir "$D" "$T/gap.log"
expect gap_names_missing_range [ "$(count 'seq 7\): gap: missing seq 6$' "$T/err")" = 1 ]
expect gap_names_longer_range [ "$(count 'seq 8\): gap: missing seq 6..7$' "$T/err")" = 1 ]

# Forged signature: flip the last byte of the signature of entry 6.
check export_6 0 "$QIAO" log export --dir "$V" -o "$T/six.log" \
	--author "$VK" --from 6
# Layout: 8 magic, 0x92, 0xc4, len, raw (header || 64-byte signature).
rawlen=$(od -An -tu1 -j10 -N1 "$T/six.log" | tr -d ' ')
off=$((11 + rawlen - 1))
cp "$T/six.log" "$T/forged.log"
b=$(od -An -tu1 -j$off -N1 "$T/forged.log" | tr -d ' ')
printf "$(printf '\\%03o' $((b ^ 1)))" |
	dd of="$T/forged.log" bs=1 seek=$off conv=notrunc 2>/dev/null
check import_forged_signature 1 "$QIAO" log import --dir "$D" "$T/forged.log"
expect forged_reason [ "$(count 'entry 0 .*bad-signature' "$T/err")" = 1 ]
expect forged_keeps_the_valid_rest \
	[ "$(count '^stored 0, already held 0, rejected 3' "$T/out")" = 1 ]

# A file whose last entry is forged: that one is rejected with its reason,
# the valid ones before it are kept, and the exit status says so.
u8() { od -An -tu1 -j"$2" -N1 "$1" | tr -d ' '; }
bin_end() { # FILE OFFSET: the offset after the msgpack bin8/bin16 there
	case $(u8 "$1" "$2") in
	196) echo $(($2 + 2 + $(u8 "$1" $(($2 + 1))))) ;;
	197) echo $(($2 + 3 + $(u8 "$1" $(($2 + 1))) * 256 + $(u8 "$1" $(($2 + 2))))) ;;
	*) echo -1 ;;
	esac
}
off=8
for i in 1 2; do # skip entries 6 and 7: [raw, body] each
	off=$(bin_end "$T/six.log" $(bin_end "$T/six.log" $((off + 1))))
done
raw_end=$(bin_end "$T/six.log" $((off + 1)))
cp "$T/six.log" "$T/forged8.log"
b=$(u8 "$T/forged8.log" $((raw_end - 1)))
printf "$(printf '\\%03o' $((b ^ 1)))" |
	dd of="$T/forged8.log" bs=1 seek=$((raw_end - 1)) conv=notrunc 2>/dev/null
check import_last_forged 1 "$QIAO" log import --dir "$D" "$T/forged8.log"
expect last_forged_reason [ "$(count 'entry 2 .*seq 8.*bad-signature' "$T/err")" = 1 ]
expect last_forged_keeps_the_valid \
	[ "$(count '^stored 2, already held 0, rejected 1' "$T/out")" = 1 ]
"$QIAO" log show --dir "$D" --author "$VK" --json >"$T/shown"
expect valid_entries_kept [ "$(count '"seq":' "$T/shown")" = 7 ]

# Fork and wrong prev: a copy of the station's key (the stolen-PC case)
# signs its own seq 9 and 10 while the station signs different ones.
cp -a "$V" "$T/twin"
"$QIAO" log append --dir "$V" --type note --text "真的第9条" >/dev/null
"$QIAO" log export --dir "$V" -o "$T/real9.log" >/dev/null
"$QIAO" log append --dir "$V" --type note --text "真的第10条" >/dev/null
"$QIAO" log append --dir "$T/twin" --type note --text "伪造第9条" >/dev/null
"$QIAO" log append --dir "$T/twin" --type note --text "伪造第10条" >/dev/null
check import_6_to_8 0 "$QIAO" log import --dir "$D" "$T/six.log"
check export_twin_10 0 "$QIAO" log export --dir "$T/twin" -o "$T/t10.log" \
	--author "$VK" --from 10
check export_twin_9 0 "$QIAO" log export --dir "$T/twin" -o "$T/t9.log" \
	--author "$VK" --from 9
# D holds 1..8 (six.log was exported before 9 existed); the twin's 9, 10
# arrive first, then the station's own.
check import_twin 0 "$QIAO" log import --dir "$D" "$T/t9.log"
"$QIAO" log export --dir "$V" -o "$T/real.log" --author "$VK" --from 9 \
	>/dev/null
check import_fork 1 "$QIAO" log import --dir "$D" "$T/real.log"
expect fork_reported [ "$(count 'seq 9\): fork' "$T/err")" = 1 ]
expect frozen_after_fork [ "$(count 'seq 10\): fork' "$T/err")" = 1 ]
check forks_listed 0 "$QIAO" log forks --dir "$D" --json
expect fork_proof_held [ "$(count '"seq": 9' "$T/out")" = 1 ]
check status_after_fork 0 "$QIAO" status --dir "$D"
expect status_counts_fork grep -q '^forks     1 proof, 1 author frozen' "$T/out"
check status_after_fork_json 0 "$QIAO" status --dir "$D" --json
expect status_json_counts_fork grep -q '"forked_authors": 1' "$T/out"
check verify_after_fork 0 "$QIAO" log verify --dir "$D"
expect verify_counts_fork [ "$(count 'forks held 1' "$T/out")" = 1 ]

# Wrong prev: a store holding the station's real 1..9 gets the twin's 10.
W=$T/witness
"$QIAO" init --dir "$W" --root "$("$QIAO" id --dir "$D")" >/dev/null 2>&1
"$QIAO" log export --dir "$D" -o "$T/dlog.log" \
	--author "$("$QIAO" id --dir "$D")" >/dev/null
check witness_gets_enrolment 0 "$QIAO" log import --dir "$W" "$T/dlog.log"
check witness_gets_real_9 0 "$QIAO" log import --dir "$W" "$T/real9.log"
check import_wrong_prev 1 "$QIAO" log import --dir "$W" "$T/t10.log"
expect wrong_prev_reason [ "$(count 'seq 10\): wrong-prev' "$T/err")" = 1 ]

# Malformed files: framing broken, truncated, not a log at all.
head -c 40 "$T/v.log" >"$T/trunc.log"
check import_truncated 1 "$QIAO" log import --dir "$W" "$T/trunc.log"
expect truncated_says_so [ "$(count 'truncated|malformed at byte' "$T/err")" = 1 ]
echo "not a log" >"$T/junk.log"
check import_junk 1 "$QIAO" log import --dir "$W" "$T/junk.log"
check import_missing_file 1 "$QIAO" log import --dir "$W" "$T/nope.log"
check verify_after_bad_imports 0 "$QIAO" log verify --dir "$W"

# Usage errors exit 2 with one line; operational failures exit 1.
check no_command 2 "$QIAO"
check unknown_command 2 "$QIAO" frobnicate
check unknown_option 2 "$QIAO" log show --dir "$V" --bogus
check missing_value 2 "$QIAO" log append --dir "$V" --type
check bad_type 2 "$QIAO" log append --dir "$V" --type case --text x
check empty_text 2 "$QIAO" log append --dir "$V" --type note --text ""
check bad_author_hex 2 "$QIAO" log show --dir "$V" --author xyz
check bad_from 2 "$QIAO" log export --dir "$V" -o "$T/x" --from -3
check export_needs_o 2 "$QIAO" log export --dir "$V"
check import_two_files 2 "$QIAO" log import --dir "$V" a b
check no_store 1 "$QIAO" log show --dir "$T/none"
expect no_store_message [ "$(count 'no store at' "$T/err")" = 1 ]
expect errors_are_one_line [ "$(wc -l <"$T/err")" = 1 ]
check help 0 "$QIAO" --help
check help_command 0 "$QIAO" help log
check help_flag 0 "$QIAO" log import --help
check help_unknown 2 "$QIAO" help nope
# Every command `qiao --help` lists answers --help and `qiao help CMD`
# with its usage on stdout, exit 0.
"$QIAO" --help | sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p' >"$T/cmds"
expect help_lists_commands [ "$(wc -l <"$T/cmds")" -ge 20 ]
bad=""
while read -r c; do
	out=$("$QIAO" "$c" --help 2>&1) && grep -q '^usage: qiao' <<<"$out" ||
		bad="$bad $c"
	out=$("$QIAO" help "$c" 2>&1) && grep -q '^usage: qiao' <<<"$out" ||
		bad="$bad help:$c"
done <"$T/cmds"
if [ -z "$bad" ]; then pass every_command_has_help
else fail every_command_has_help "no usage, or not exit 0:$bad"; fi
check bad_region 2 "$QIAO" init --dir "$T/x1" --region 12ab
check region_length 2 "$QIAO" init --dir "$T/x2" --role town --region 500116
check bad_root 2 "$QIAO" init --dir "$T/x3" --root 1234

# Key file permissions are enforced before signing.
chmod 644 "$V/key"
check loose_key_refused 1 "$QIAO" log append --dir "$V" --type note --text x
expect loose_key_message [ "$(count 'mode 0644' "$T/err")" -ge 1 ]
chmod 600 "$V/key"

# A bad config is an error naming the file and line.
printf 'bogus = 1\n' >>"$V/qiao.conf"
check bad_config 1 "$QIAO" log show --dir "$V"
expect config_line_named [ "$(count 'qiao.conf:[0-9]+: unknown key "bogus"' "$T/err")" = 1 ]

finish
