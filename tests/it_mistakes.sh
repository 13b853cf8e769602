#!/usr/bin/env bash
# Everything a user can mistype — paths, region codes, ids, keys, dates,
# numbers, flags, subcommands, config files — across every command. Each
# mistake must give exactly one line on stderr, "qiao: <command>: ...",
# saying what is wrong (the expected words are in the table), exit 2 for a
# usage error and 1 for anything else, and leave every store as it was:
# the same data.mdb bytes, the same files (nothing half-created).
#
# The stores are set up as a deployment is: a root, a district, a town and
# a village enrolled by them, each importing the enrolments it needs.
source "$(dirname "$0")/lib.sh"

S=$T/st
mkdir -p "$S"
R=$($QIAO root init --dir "$S/r" --region 500116 --name 根 2>/dev/null)
D=$($QIAO init --dir "$S/d" --role district --region 500116 --name 区 \
	--root "$R" 2>/dev/null)
TK=$($QIAO init --dir "$S/t" --role town --region 500116001 --name 镇 \
	--root "$R" 2>/dev/null)
V=$($QIAO init --dir "$S/v" --role village --region 500116001001 \
	--name 村 --root "$R" 2>/dev/null)
{
	$QIAO enroll --dir "$S/r" --pubkey "$D" --role district \
		--region 500116 --name 区 &&
	$QIAO enroll --dir "$S/r" --pubkey "$TK" --role town \
		--region 500116001 --name 镇 &&
	$QIAO log export --dir "$S/r" -o "$T/root.log" &&
	$QIAO log import --dir "$S/d" "$T/root.log" &&
	$QIAO log import --dir "$S/t" "$T/root.log" &&
	$QIAO log import --dir "$S/v" "$T/root.log" &&
	$QIAO enroll --dir "$S/t" --pubkey "$V" --role village \
		--region 500116001001 --name 村 &&
	$QIAO log export --dir "$S/t" -o "$T/town.log" &&
	$QIAO log import --dir "$S/v" "$T/town.log" &&
	$QIAO grid add --dir "$S/v" --code 500116001001001 --kind grid \
		--name 第一网格 &&
	$QIAO log append --dir "$S/v" --type note --text 入户走访 &&
	$QIAO heads --dir "$S/t" -o "$T/t.heads"
} >/dev/null 2>&1 && pass setup || fail setup "the deployment did not set up"
C=$($QIAO case open --dir "$S/v" --grid 500116001001001 --category 邻里纠纷 \
	--title 楼上漏水 2>/dev/null)
[ -n "$C" ] || fail setup-case "case open failed"

# Files and directories a user might point at by mistake.
mkdir -p "$T/adir"
echo "not a store" >"$T/afile"
echo QIAO >"$T/short"
: >"$T/empty.conf"
head -c 300 /dev/urandom >"$T/junk"
# Stores whose config has a mistake (copies of the village's); the
# mistake starts on line L1 = BASE + 1.
BASE=$(wc -l <"$S/v/qiao.conf")
conf_case() { # name line-to-append
	cp -r "$S/v" "$S/$1"
	printf '%s\n' "$2" >>"$S/$1/qiao.conf"
}
conf_case cbadkey "colour = blue"
conf_case cbadval "mapsize = lots"
conf_case cbadsect "[nett]
listen = tcp://127.0.0.1:7420"
conf_case cnoeq "listen tcp://127.0.0.1:7420"
conf_case cbadurl "[net]
upstream = tcp://10.0.0.1"
conf_case cbadip "[net]
upstream = tcp://10.0.0.256:7420"
conf_case cbaddur "[net]
timeout = soon"
conf_case cdup "[net]
listen = tcp://127.0.0.1:7420
listen = tcp://127.0.0.1:7421"

# A fingerprint of every store: data bytes and the set of files.
fingerprint() {
	(cd "$S" && find . -path '*/lock.mdb' -prune -o -printf '%p %s\n' |
		sort && find . -name data.mdb -o -name qiao.conf -o \
		-name 'key*' | sort | xargs md5sum) | md5sum
}

# WANT_RC | words stderr must hold | the command line after "qiao"
table=$(cat <<'EOF'
2|unknown command "bogus"|bogus
2|unknown command "--dir"|--dir $S/v log show
2|no command "bogus"|help bogus
2|one command at a time|help log case
2|unexpected argument "x"|version x
1|no station key in $T/none|id --dir $T/none
2|unexpected argument "extra"|id --dir $S/v extra
1|already holds a station key|init --dir $S/v
1|cannot create /proc/qiao|init --dir /proc/qiao
2|--role must be village, town or district|init --dir $T/n1 --role mayor
2|a village's region code has 12 digits|init --dir $T/n1 --role village --region 5001
2|--region must be a region code of digits|init --dir $T/n1 --region 50011x
2|--root must be a public key of 64 hex digits|init --dir $T/n1 --root zz
2|option --name needs a value|init --dir $T/n1 --name
2|unknown option --roles|init --dir $T/n1 --roles village
2|--dir ROOTDIR is required|root init
1|already holds a station key|root init --dir $S/r
2|unknown subcommand "bogus"|root bogus --dir $T/n1
2|--pubkey must be a public key|enroll --dir $S/t --pubkey abc --role village --region 500116001002 --name x
2|a town's region code has 9 digits|enroll --dir $S/d --pubkey $V --role town --region 500116001001 --name x
2|--until must be a date|enroll --dir $S/t --pubkey $V --role village --region 500116001001 --name x --until 2026-13-45
2|--until must be a date|enroll --dir $S/t --pubkey $V --role village --region 500116001001 --name x --until 2027-02-29
2|--supersedes and --after go together|enroll --dir $S/t --pubkey $V --role village --region 500116001001 --name x --supersedes $D
2|are required|enroll --dir $S/t --role village --region 500116001002 --name x
1|may not|enroll --dir $S/t --pubkey $D --role village --region 500116002001 --name x
1|no store at $T/adir|enroll --dir $T/adir --pubkey $V --role village --region 500116001001 --name x
2|--pubkey must be a public key|revoke --dir $S/t --pubkey $V0
2|--after must be a number|revoke --dir $S/t --pubkey $V --after last
1|root key cannot be revoked|revoke --dir $S/t --pubkey $R
2|which?|log
2|unknown subcommand "apend"|log apend --dir $S/v --type note --text x
2|--type must be note|log append --dir $S/v --type memo --text x
2|--type and --text are required|log append --dir $S/v --type note
2|--text must not be empty|log append --dir $S/v --type note --text ""
2|--text is not valid UTF-8|log append --dir $S/v --type note --text $'\xff\xfe'
1|no store at $T/adir|log append --dir $T/adir --type note --text x
1|no store at $T/none|log append --dir $T/none --type note --text x
1|afile/qiao.conf: Not a directory|log show --dir $T/afile
2|--author must be a public key|log show --dir $S/v --author 12345
2|unknown option -x|log show --dir $S/v -x
2|unknown option --json=yes|log show --dir $S/v --json=yes
2|unexpected argument "extra"|log verify --dir $S/v extra
2|-o FILE is required|log export --dir $S/v
2|-o needs a file name|log export --dir $S/v -o ""
1|it is a directory|log export --dir $S/v -o $T/adir
1|No such file or directory|log export --dir $S/v -o $T/nodir/x.log
2|--from must be a number|log export --dir $S/v -o $T/x.log --from first
2|give exactly one FILE|log import --dir $S/v
2|give exactly one FILE|log import --dir $S/v $T/root.log $T/town.log
1|No such file or directory|log import --dir $S/v $T/nofile.log
1|a directory|log import --dir $S/v $T/adir
1|bad magic|log import --dir $S/v $T/afile
1|too short|log import --dir $S/v $T/short
1|bad magic|log import --dir $S/v $T/junk
2|unexpected argument "extra"|log forks --dir $S/v extra
2|--code must be a region code of 9, 12, 15 or 18 digits|grid add --dir $S/v --code 12345 --kind grid --name g
2|--kind must be one of|grid add --dir $S/v --code 500116001001002 --kind planet --name g
2|--households must be a number|grid add --dir $S/v --code 500116001001002 --kind grid --name g --households -3
2|--households must be a number|grid add --dir $S/v --code 500116001001002 --kind grid --name g --households 99999999999999999999999
1|outside this station's region|grid add --dir $S/v --code 500116002001001 --kind grid --name g
2|a new grid needs --kind and --name|grid add --dir $S/v --code 500116001001003
2|--name is not valid UTF-8|grid add --dir $S/v --code 500116001001001 --name $'\xff'
1|no grid "500116001001999"|grid show --dir $S/v 500116001001999
2|give exactly one CODE|grid show --dir $S/v
2|--under must be a region code of digits|grid list --dir $S/v --under 5001x
2|--name does not apply here|grid list --dir $S/v --name x
2|--grid must be a region code|reg add --dir $S/v --grid 5001 --kind person --name 张三
2|--kind must be one of address, person, house, org|reg add --dir $S/v --grid 500116001001001 --kind alien --name 张三
2|are required|reg add --dir $S/v --grid 500116001001001 --kind person
1|no grid 500116001001999|reg add --dir $S/v --grid 500116001001999 --kind person --name 张三
2|a registry record id is 8 to 64 hex digits|reg show --dir $S/v 1234
1|no registry record "123456789abc"|reg show --dir $S/v 123456789abc
2|which?|case
2|unknown subcommand "opne"|case opne --dir $S/v
2|are required|case open --dir $S/v --grid 500116001001001 --title t
2|--matter must be one of family, shared, public|case open --dir $S/v --grid 500116001001001 --category c --title t --matter private
2|--risk must be one of|case open --dir $S/v --grid 500116001001001 --category c --title t --risk huge
2|--title must not be empty|case open --dir $S/v --grid 500116001001001 --category c --title ""
1|no grid 500116001001999|case open --dir $S/v --grid 500116001001999 --category c --title t
2|give exactly one case ID|case accept --dir $S/v
2|a case id is 8 to 64 hex digits|case accept --dir $S/v not-an-id
2|a case id is 8 to 64 hex digits|case accept --dir $S/v ab
1|no case "0123456789ab"|case accept --dir $S/v 0123456789ab
2|--to does not apply here|case accept --dir $S/v $C --to 500116001
2|--to must be the code of the case's village, town or district|case transfer --dir $S/v $C --to 500116002
2|--level must be one of grid, village, town, district|case resolve --dir $S/v $C --level planet
2|--satisfied must be yes or no|case evaluate --dir $S/v $C --satisfied maybe
1|wrong step for the status|case close --dir $S/v $C
2|--note is required|case reopen --dir $S/v $C
2|--note must not be empty|case note --dir $S/v $C --note ""
2|--status must be one of|case list --dir $S/v --status done
2|--date must be a date YYYY-MM-DD|meeting add --dir $S/v --code 500116001001001 --level grid --date 2026-02-30 --topic t
2|--date must be a date YYYY-MM-DD|meeting add --dir $S/v --code 500116001001001 --level grid --date 26-2-3 --topic t
2|--level must be one of grid, community, town|meeting add --dir $S/v --code 500116001001001 --level county --date 2026-02-03 --topic t
2|--code must be a region code of 9 digits|meeting add --dir $S/v --code 500116001001001 --level town --date 2026-02-03 --topic t
2|--attendees must be a number|meeting add --dir $S/v --code 500116001001001 --level grid --date 2026-02-03 --topic t --attendees 1e3
1|no case "0123456789ab"|meeting add --dir $S/v --code 500116001001001 --level grid --date 2026-02-03 --topic t --case 0123456789ab
2|--from must be a date|meeting list --dir $S/v --from yesterday
2|a meeting id is 8 to 64 hex digits|meeting show --dir $S/v zz
2|--by must be town, village or grid|stats --dir $S/v --by county
2|--from must be a date|stats --dir $S/v --from 2026-02-31
2|--from is after --to|stats --dir $S/v --from 2026-05-01 --to 2026-04-01
2|--json and --csv exclude each other|stats --dir $S/v --json --csv
2|--under must be a region code of digits|stats --dir $S/v --under abc
2|--under must be a region code of digits|digest --dir $S/v --under abc
2|unexpected argument "extra"|reindex --dir $S/v extra
2|which? (gen)|sim
2|--dir and --seed are required|sim gen --dir $T/n2
2|--seed must be a number|sim gen --dir $T/n2 --seed x
2|--towns must be 1 to 999|sim gen --dir $T/n2 --seed 1 --towns 0
2|--villages must be at least --towns|sim gen --dir $T/n2 --seed 1 --towns 5 --villages 1
2|--region must be a district code of 6 digits|sim gen --dir $T/n2 --seed 1 --region 5001
1|must be its own trust anchor|sim gen --dir $S/v --seed 1 --cases 1
2|which?|node
2|unknown subcommand "start"|node start
2|unknown option --bogus|node run --dir $S/v --bogus
1|nofile.conf: No such file or directory|node run --config $T/nofile.conf
1|afile:1: not INI syntax|node run --config $T/afile
1|[node] dir is required|node run --config $T/empty.conf
1|no store at $T/adir|node run --dir $T/adir
2|--peer URL is required|sync --dir $S/v
2|--peer must be a URL|sync --dir $S/v --peer 127.0.0.1:7420
2|a tcp URL ends in :PORT|sync --dir $S/v --peer tcp://127.0.0.1:99999
2|a tcp URL ends in :PORT|sync --dir $S/v --peer tcp://127.0.0.1
2|not an IPv4 address|sync --dir $S/v --peer tcp://300.1.1.1:7420
2|--timeout must be a duration|sync --dir $S/v --peer tcp://127.0.0.1:1 --timeout soon
1|could not sync with tcp://127.0.0.1:1 within|sync --dir $S/v --peer tcp://127.0.0.1:1 --timeout 300ms
2|unexpected argument "extra"|status --dir $S/v extra
2|--scope must be a region code of digits|heads --dir $S/v --scope 5001x
2|--scope, --peer and --json do not apply|heads --dir $S/v -o $T/h --scope 500116
2|--peer must be a public key|heads --dir $S/v --peer 1234
2|--peer and --scope exclude each other|heads --dir $S/v --peer $V --scope 500116
1|No such file or directory|heads --dir $S/v -o $T/nodir/h
2|which?|bundle
2|--for HEADS_FILE and -o FILE are required|bundle export --dir $S/v -o $T/b
1|No such file or directory|bundle export --dir $S/v --for $T/nofile -o $T/b
1|not a qiao heads file|bundle export --dir $S/v --for $T/junk -o $T/b
1|not a qiao heads file (a directory)|bundle export --dir $S/v --for $T/adir -o $T/b
1|it is a directory|bundle export --dir $S/v --for $T/t.heads -o $T/adir
2|give exactly one FILE|bundle import --dir $S/v
1|No such file or directory|audit export --dir $S/v --case $C -o $T/nodir/x.qab
1|it is a directory|audit export --dir $S/v --case $C -o $T/adir
1|not a qiao bundle file|bundle import --dir $S/v $T/junk
1|not a qiao bundle file|bundle import --dir $S/v $T/t.heads
1|qiao.conf:$L1: unknown key "colour" in [node]|log show --dir $S/cbadkey
1|qiao.conf:$L1: unknown key "colour" in [node]|status --dir $S/cbadkey
1|qiao.conf:$L1: unknown key "colour" in [node]|case list --dir $S/cbadkey
1|qiao.conf:$L1: unknown key "colour" in [node]|log append --dir $S/cbadkey --type note --text x
1|qiao.conf:$L1: unknown key "colour" in [node]|node run --dir $S/cbadkey
1|qiao.conf:$L1: mapsize must be a size|log show --dir $S/cbadval
1|qiao.conf:$L2: unknown section [nett]|digest --dir $S/cbadsect
1|qiao.conf:$L1: unknown key "listen tcp"|heads --dir $S/cnoeq
1|qiao.conf:$L2: a tcp URL ends in :PORT|node run --dir $S/cbadurl
1|qiao.conf:$L2: not an IPv4 address|node run --dir $S/cbadip
1|qiao.conf:$L2: timeout must be a duration|status --dir $S/cbaddur
1|qiao.conf:$L3: duplicate listen in [net]|node run --dir $S/cdup
EOF
)

V0=${V:0:63}
n=0
while IFS='|' read -r want words args; do
	[ -z "$args" ] && continue
	n=$((n + 1))
	before=$(fingerprint)
	eval "set -- $args"
	timeout 20 "$QIAO" "$@" >"$T/o" 2>"$T/e"
	rc=$?
	words=${words//\$T/$T}
	words=${words//\$S/$S}
	words=${words//\$L1/$((BASE + 1))}
	words=${words//\$L2/$((BASE + 2))}
	words=${words//\$L3/$((BASE + 3))}
	name="m$n.${args%% --*}"
	name=${name// /_}
	lines=$(wc -l <"$T/e")
	if [ "$rc" -ne "$want" ]; then
		fail "$name" "exit $rc, want $want: qiao $args :: $(head -c 300 "$T/e")"
	elif [ "$lines" -ne 1 ] || ! head -n1 "$T/e" | grep -q '^qiao: '; then
		fail "$name" "want one line 'qiao: ...' on stderr, got $lines: $(head -c 300 "$T/e")"
	elif ! grep -qF -- "$words" "$T/e"; then
		fail "$name" "stderr lacks \"$words\": $(head -c 300 "$T/e")"
	elif [ "$(fingerprint)" != "$before" ]; then
		fail "$name" "a store or file changed: qiao $args"
	else
		pass "$name"
	fi
done <<<"$table"
echo "# $n mistakes tried"
expect walked-the-whole-table [ "$n" -ge 140 ]

# Mistaken inits and generations left nothing behind.
none_exist() { local f; for f; do [ ! -e "$f" ] || return 1; done; }
expect nothing-half-created none_exist "$T/n1" "$T/n2" "$T/x.log" "$T/b" \
	"$T/h" "$T/b.tmp" "$T/x.log.tmp"

# QIAO_DIR names the store when --dir is absent; a wrong one is one line.
QIAO_DIR=$T/none check env-dir-missing 1 "$QIAO" log show
expect env-dir-missing-says grep -q "no store at $T/none" "$T/err"
# What the mistakes left alone still verifies.
check store-verifies 0 "$QIAO" log verify --dir "$S/v"
finish
