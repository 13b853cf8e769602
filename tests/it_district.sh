#!/usr/bin/env bash
# A whole synthetic district: `qiao sim gen` with the district's figures,
# then `qiao stats` shows them: 30,041 screened, 29,364 resolved (97.75%),
# 29,132 at grassroots level (96.97%). The generator is deterministic per
# seed, and refuses bad options without touching the store.
#
# The full district is about 300,000 entries: it runs on the optimised
# binary ($QIAO_FAST, else $BUILD/qiao, which `make test` builds) because
# the sanitizer build takes minutes over it; everything smaller runs on
# $QIAO as usual.
. "$(dirname "$0")/lib.sh"

FAST=${QIAO_FAST:-${BUILD:-build}/qiao}
[ -x "$FAST" ] || FAST=$QIAO

# Determinism: one seed, one district; another seed, another.
small=(--towns 2 --villages 5 --microgrids 40 --cases 300 --registry 20 --meetings 10)
check sim.small.a 0 "$QIAO" sim gen --dir "$T/a" --seed 42 "${small[@]}"
expect sim.small.report grep -q '^cases 300 (resolved 293, at grassroots 291)$' "$T/out"
check sim.small.b 0 "$QIAO" sim gen --dir "$T/b" --seed 42 "${small[@]}"
check sim.small.c 0 "$QIAO" sim gen --dir "$T/c" --seed 43 "${small[@]}"
da=$("$QIAO" digest --dir "$T/a") db=$("$QIAO" digest --dir "$T/b") dc=$("$QIAO" digest --dir "$T/c")
expect sim.same_seed_same_state [ "$da" = "$db" ]
expect sim.other_seed_other_state [ "$da" != "$dc" ]
check sim.verify 0 "$QIAO" log verify --dir "$T/a"
check sim.reindex 0 "$QIAO" reindex --dir "$T/a"
expect sim.reindex.unchanged grep -q 'digest unchanged' "$T/out"
check sim.list 0 "$QIAO" case list --dir "$T/a" --status closed --json
expect sim.chinese grep -q '"title": ".*[纠纷扰民欠]' "$T/out"

# Bad options: usage errors, nothing written.
check sim.bad.seed 2 "$QIAO" sim gen --dir "$T/x"
check sim.bad.counts 2 "$QIAO" sim gen --dir "$T/x" --seed 1 --cases 10 --resolved 11
check sim.bad.grassroots 2 "$QIAO" sim gen --dir "$T/x" --seed 1 --cases 10 --resolved 5 --grassroots 6
check sim.bad.number 2 "$QIAO" sim gen --dir "$T/x" --seed 1 --towns many
check sim.bad.region 2 "$QIAO" sim gen --dir "$T/x" --seed 1 --region 5001
expect sim.bad.nothing_made [ ! -e "$T/x" ]
"$QIAO" root init --dir "$T/r" >/dev/null 2>&1
"$QIAO" init --dir "$T/v" --role village --region 500116001001 \
	--root "$("$QIAO" id --dir "$T/r")" >/dev/null 2>&1
check sim.bad.not_anchor 1 "$QIAO" sim gen --dir "$T/v" --seed 1 --cases 5
expect sim.bad.not_anchor.says grep -q 'trust anchor' "$T/err"
expect sim.bad.not_anchor.empty [ "$("$QIAO" log verify --dir "$T/v" | head -1)" = "authors 0, entries 0, bodies 0, forks held 0" ]

# The district's figures.
check district.gen 0 "$FAST" sim gen --dir "$T/d" --seed 1 --cases 30041 --resolved 29364 --grassroots 29132
check district.stats 0 "$FAST" stats --dir "$T/d"
expect district.screened grep -qx 'screened  *30041' "$T/out"
expect district.resolved grep -qx 'resolved  *29364' "$T/out"
expect district.resolution_rate grep -qx 'resolution rate  *97.75%' "$T/out"
expect district.grassroots grep -qx 'grassroots resolved  *29132' "$T/out"
expect district.grassroots_rate grep -qx 'grassroots rate  *96.97%' "$T/out"
check district.stats.json 0 "$FAST" stats --dir "$T/d" --json
expect district.json.screened grep -q '"screened": 30041,' "$T/out"
expect district.json.grassroots grep -q '"grassroots_resolved": 29132,' "$T/out"
check district.stats.by_town 0 "$FAST" stats --dir "$T/d" --by town --csv
expect district.by_town.rows [ "$(grep -c '^500116[0-9]\{3\},' "$T/out")" -eq 30 ]
expect district.by_town.total grep -q '^total,"",30041,29364,0.977464,29132,0.969741,' "$T/out"
# The defaults follow the real district: 301 villages, 10,620 micro-grids.
check district.stats.by_village 0 "$FAST" stats --dir "$T/d" --by village --csv
expect district.by_village.rows [ "$(grep -c '^500116[0-9]\{6\},' "$T/out")" -eq 301 ]
check district.grid.villages 0 "$FAST" grid list --dir "$T/d" --kind village --json
expect district.grid.villages.301 [ "$(grep -c '"code"' "$T/out")" -eq 301 ]
check district.grid.micro 0 "$FAST" grid list --dir "$T/d" --kind micro --json
expect district.grid.micro.10620 [ "$(grep -c '"code"' "$T/out")" -eq 10620 ]

finish
