#!/usr/bin/env bash
# qiao audit through the command line, on a synthetic district: a case's
# bundle exported and verified offline with only the root key (exit 0, or
# 3 with findings), tampered bundles made with tests/tools/forge rejected
# with their reasons (exit 1), reconcile naming a step a re-signed bundle
# left out, every case under a town in one bundle, and bad input refused
# with one clear line (exit 2 for usage).
. "$(dirname "$0")/lib.sh"

FORGE=${BUILD:-$PWD/build}/san/tools/forge
D=$T/d

not_grep() { ! grep -q "$@"; }

"$QIAO" sim gen --dir "$D" --seed 5 --towns 2 --villages 6 --microgrids 60 \
	--cases 60 --registry 5 --meetings 3 >/dev/null 2>&1 ||
	{ fail setup "sim gen failed"; exit 1; }
ROOT=$("$QIAO" id --dir "$D")
[ -x "$FORGE" ] || { fail setup "no $FORGE (make check-tests)"; exit 1; }

# A case that was transferred to its town (two stations sign it) and
# whose bundle verifies with nothing to flag; and one with findings.
good="" findings=""
for id in $("$QIAO" case list --dir "$D" --json |
	sed -n 's/^ *"id": "\([0-9a-f]*\)".*/\1/p'); do
	"$QIAO" audit export --dir "$D" --case "$id" -o "$T/try.qab" \
		>/dev/null 2>&1 || continue
	"$QIAO" audit verify "$T/try.qab" --root "$ROOT" >/dev/null 2>&1
	rc=$?
	steps=$("$FORGE" audit-ops "$T/try.qab" | wc -l)
	signers=$("$FORGE" audit-ops "$T/try.qab" | cut -d' ' -f4 | sort -u |
		wc -l)
	if [ -z "$good" ] && [ "$rc" -eq 0 ] && [ "$signers" -ge 2 ] &&
		[ "$steps" -ge 6 ]; then
		good=$id
	fi
	[ -z "$findings" ] && [ "$rc" -eq 3 ] && findings=$id
	[ -n "$good" ] && [ -n "$findings" ] && break
done
[ -n "$good" ] || { fail setup "no case verifies clean"; exit 1; }

# The genuine bundle.
check export 0 "$QIAO" audit export --dir "$D" --case "$good" -o "$T/c.qab"
expect export.says grep -q 'exported 1 case' "$T/out"
expect export.selfcheck grep -q 'self-check: verifies' "$T/out"
expect export.mode0600 [ "$(stat -c %a "$T/c.qab")" = 600 ]
check verify 0 "$QIAO" audit verify "$T/c.qab" --root "$ROOT"
expect verify.verdict grep -q '^verdict: VERIFIED:' "$T/out"
expect verify.timeline grep -qE '^  open +20[0-9-]+ [0-9:]+ +500116' "$T/out"
expect verify.sla grep -qE '^    response +[0-9]+:[0-9]+ +target 1:00 +met' "$T/out"
expect verify.view grep -q 'complete up to the exporter' "$T/out"
nsteps=$("$FORGE" audit-ops "$T/c.qab" | wc -l)
check verify.json 0 "$QIAO" audit verify "$T/c.qab" --root "$ROOT" --json
expect verify.json.verdict grep -q '"verdict": "verified"' "$T/out"
expect verify.json.exit grep -q '"exit": 0' "$T/out"
expect verify.json.steps [ "$(grep -c '"step": ' "$T/out")" -eq "$nsteps" ]
check case.show 0 "$QIAO" case show --dir "$D" "$good" --json
expect verify.json.same_timeline [ "$(grep -c '"type": ' "$T/out")" -eq "$nsteps" ]
check reconcile 0 "$QIAO" audit reconcile "$T/c.qab" --dir "$D"
expect reconcile.says grep -q 'nothing left out' "$T/out"

# Findings: the history holds, a target was missed.
if [ -n "$findings" ]; then
	check findings.export 0 "$QIAO" audit export --dir "$D" --case "$findings" -o "$T/f.qab"
	check findings.verify 3 "$QIAO" audit verify "$T/f.qab" --root "$ROOT"
	expect findings.named grep -qE 'target-missed|conflict|review' "$T/out"
	expect findings.verdict grep -q '^verdict: VERIFIED WITH FINDINGS' "$T/out"
else
	skip findings "no case with findings in this district"
fi

# Tampering, each with its reason. The village's middle step left out:
last=$((nsteps - 1))
check tamper.drop 0 "$FORGE" audit-drop "$T/c.qab" "$T/t1.qab" 0 2
check tamper.drop.verify 1 "$QIAO" audit verify "$T/t1.qab" --root "$ROOT"
expect tamper.drop.statement grep -q 'statement: ' "$T/out"
expect tamper.drop.missing grep -q 'missing-dep: ' "$T/out"
expect tamper.drop.verdict grep -q '^verdict: FAILED' "$T/out"
expect tamper.drop.stderr grep -q '^qiao: audit verify: .* does not verify: ' "$T/err"
# ...and the exporter re-signing its statement over what is left:
check tamper.restate 0 "$FORGE" audit-restate "$T/t1.qab" "$T/t2.qab" "$D" "$ROOT"
check tamper.restate.verify 1 "$QIAO" audit verify "$T/t2.qab" --root "$ROOT"
expect tamper.restate.missing grep -q 'missing-dep: ' "$T/out"
expect tamper.restate.only_closure not_grep '  statement: ' "$T/out"
# The latest step left out and the statement re-signed: the bundle alone
# cannot tell (docs/AUDIT.md), a store holding the step can.
check tamper.tail 0 "$FORGE" audit-drop "$T/c.qab" "$T/t3.qab" 0 "$last"
check tamper.tail.restate 0 "$FORGE" audit-restate "$T/t3.qab" "$T/t4.qab" "$D" "$ROOT"
"$QIAO" audit verify "$T/t4.qab" --root "$ROOT" >"$T/out" 2>&1
expect tamper.tail.verify_cannot_tell [ $? -ne 1 ]
check tamper.tail.reconcile 1 "$QIAO" audit reconcile "$T/t4.qab" --dir "$D"
expect tamper.tail.reconcile.names grep -q '^omitted: case ' "$T/out"
check tamper.tail.reconcile.json 1 "$QIAO" audit reconcile "$T/t4.qab" --dir "$D" --json
expect tamper.tail.reconcile.json.one [ "$(grep -c '"step": ' "$T/out")" -eq 1 ]
# Reordered in the file, a signature broken, a certificate left out:
check tamper.swap 0 "$FORGE" audit-swap "$T/c.qab" "$T/t5.qab" 0 1 2
check tamper.swap.verify 1 "$QIAO" audit verify "$T/t5.qab" --root "$ROOT"
expect tamper.swap.reason grep -q 'malformed: .*rank order' "$T/out"
check tamper.flip 0 "$FORGE" audit-flip "$T/c.qab" "$T/t6.qab" 0 1
check tamper.flip.verify 1 "$QIAO" audit verify "$T/t6.qab" --root "$ROOT"
expect tamper.flip.reason grep -q 'bad-signature: ' "$T/out"
village=$("$FORGE" audit-ops "$T/c.qab" | head -1 | cut -d' ' -f4)
vcert=$("$FORGE" audit-trust "$T/c.qab" | awk -v k="$village" '$5 == k { print $1; exit }')
check tamper.untrust 0 "$FORGE" audit-untrust "$T/c.qab" "$T/t7.qab" "$vcert"
check tamper.untrust.restate 0 "$FORGE" audit-restate "$T/t7.qab" "$T/t8.qab" "$D" "$ROOT"
check tamper.untrust.verify 1 "$QIAO" audit verify "$T/t8.qab" --root "$ROOT"
expect tamper.untrust.reason grep -q 'unknown-author: ' "$T/out"
# Another root: nothing in the bundle is enrolled.
other=$("$QIAO" root init --dir "$T/other" 2>/dev/null)
check wrong_root 1 "$QIAO" audit verify "$T/c.qab" --root "$other"
expect wrong_root.reason grep -q 'exporter: ' "$T/out"
check wrong_root.json 1 "$QIAO" audit verify "$T/c.qab" --root "$other" --json
expect wrong_root.json.verdict grep -q '"verdict": "failed"' "$T/out"

# Every case under the first town, one statement.
town=$("$QIAO" case list --dir "$D" --json |
	sed -n 's/^ *"grid": "\([0-9]\{9\}\).*/\1/p' | head -1)
ncases=$("$QIAO" case list --dir "$D" --under "$town" --json | grep -c '"id": ')
check all.export 0 "$QIAO" audit export --dir "$D" --all --under "$town" -o "$T/all.qab" --json
expect all.export.cases grep -q "\"cases\": $ncases," "$T/out"
"$QIAO" audit verify "$T/all.qab" --root "$ROOT" --summary --json >"$T/out" 2>"$T/err"
rc=$?
expect all.verify.rc [ "$rc" -eq 0 -o "$rc" -eq 3 ]
expect all.verify.no_failures grep -q '"failures": \[\]' "$T/out"
expect all.verify.count grep -q "\"cases\": $ncases," "$T/out"
expect all.verify.under grep -q "\"under\": \"$town\"" "$T/out"
check all.summary 0 sh -c "'$QIAO' audit verify '$T/all.qab' --root $ROOT --summary >'$T/sum'; [ \$? -ne 1 ]"
expect all.summary.lines [ "$(grep -cE '^[0-9a-f]{12}  ' "$T/sum")" -eq "$ncases" ]
check all.reconcile 0 "$QIAO" audit reconcile "$T/all.qab" --dir "$D"

# Bad input: one line, usage errors exit 2.
check usage.no_root 2 "$QIAO" audit verify "$T/c.qab"
expect usage.no_root.line grep -q '^qiao: audit verify: ' "$T/err"
check usage.bad_root 2 "$QIAO" audit verify "$T/c.qab" --root abc
check usage.two_files 2 "$QIAO" audit verify "$T/c.qab" "$T/c.qab" --root "$ROOT"
check usage.no_file 1 "$QIAO" audit verify "$T/nope.qab" --root "$ROOT"
expect usage.no_file.line grep -q '^qiao: audit verify: cannot open' "$T/err"
head -c 3000 /dev/urandom >"$T/junk.qab"
check junk 1 "$QIAO" audit verify "$T/junk.qab" --root "$ROOT"
expect junk.reason grep -q 'malformed: not a qiao audit bundle' "$T/out"
head -c 2000 "$T/c.qab" >"$T/short.qab"
check truncated 1 "$QIAO" audit verify "$T/short.qab" --root "$ROOT"
expect truncated.reason grep -q 'malformed: byte ' "$T/out"
check usage.export.no_out 2 "$QIAO" audit export --dir "$D" --case "$good"
check usage.export.both 2 "$QIAO" audit export --dir "$D" --case "$good" --all -o "$T/x.qab"
check usage.export.neither 2 "$QIAO" audit export --dir "$D" -o "$T/x.qab"
check usage.export.under_alone 2 "$QIAO" audit export --dir "$D" --case "$good" --under 500116 -o "$T/x.qab"
check usage.export.bad_under 2 "$QIAO" audit export --dir "$D" --all --under 5001x -o "$T/x.qab"
check usage.export.bad_id 2 "$QIAO" audit export --dir "$D" --case zz -o "$T/x.qab"
check export.unknown_case 1 "$QIAO" audit export --dir "$D" --case 0123456789ab -o "$T/x.qab"
expect export.unknown_case.line grep -q '^qiao: audit export: ' "$T/err"
expect export.unknown_case.nofile [ ! -e "$T/x.qab" ]
check export.none_under 1 "$QIAO" audit export --dir "$D" --all --under 500116099 -o "$T/x.qab"
check export.no_store 1 "$QIAO" audit export --dir "$T/nostore" --case "$good" -o "$T/x.qab"
check usage.sub 2 "$QIAO" audit frobnicate
check help 0 "$QIAO" help audit
expect help.text grep -q 'qiao audit verify FILE --root HEX' "$T/out"
check reconcile.junk 1 "$QIAO" audit reconcile "$T/junk.qab" --dir "$D"

finish
