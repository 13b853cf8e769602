#!/usr/bin/env bash
# make demo: a district, a town and two villages on loopback. Village 1's
# link is down while its grid worker records cases; the link comes back
# and the district sees them: the case list, the statistics, equal digests
# (of the record state, `qiao digest`, and of the entries held, `qiao
# heads`). Everything it starts is stopped at the end (also on Ctrl-C or
# error).
set -u
: "${QIAO:=$(dirname "$0")/../build/qiao}"
W=$(mktemp -d "${TMPDIR:-/tmp}/qiao-demo-XXXXXX")
BASE=$((25000 + ($$ % 1500) * 3))
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$W/||g; s|$QIAO|qiao|"; "$@"; }
die() { echo "demo: $*" >&2; exit 1; }

init() { # name role region name [root]
	"$QIAO" init --dir "$W/$1" --role "$2" --region "$3" --name "$4" \
		${5:+--root "$5"} 2>/dev/null || die "init $1"
}
start() { # name
	"$QIAO" node run --dir "$W/$1" 2>>"$W/$1.log" &
	PIDS+=($!)
	eval "PID_$1=$!"
}
digest() { # node scope: the entries held for that scope
	"$QIAO" heads --dir "$W/$1" --scope "$2" | tail -n 1 | cut -d' ' -f2
}
state() { # node scope: the record state under that region
	"$QIAO" digest --dir "$W/$1" --under "$2"
}
wait_equal() { # scope node node... ; bounded
	local i want ok n
	for i in $(seq 1 100); do
		want=$(digest "$2" "$1") ok=1
		for n in "${@:3}"; do
			[ "$(digest "$n" "$1")" = "$want" ] || ok=0
		done
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

say "A district, a town, two villages (keys, enrolments)"
D=$(init d district 500116 "区综治中心") || exit 1
T=$(init t town 500116001 "城南街道" "$D") || exit 1
V1=$(init v1 village 500116001001 "东村" "$D") || exit 1
V2=$(init v2 village 500116001002 "西村" "$D") || exit 1
run "$QIAO" enroll --dir "$W/d" --pubkey "$T" --role town \
	--region 500116001 --name "城南街道" || die enroll
run "$QIAO" enroll --dir "$W/t" --pubkey "$V1" --role village \
	--region 500116001001 --name "东村" || die enroll
run "$QIAO" enroll --dir "$W/t" --pubkey "$V2" --role village \
	--region 500116001002 --name "西村" || die enroll

say "Bootstrap: each station learns who is enrolled before its first link"
# A link admits only keys whose enrolment the other end holds: the town
# imports the district's log (it enrols the town), each village its town's
# export (the district's log and the town's, which enrols the village).
run "$QIAO" log export --dir "$W/d" -o "$W/district.qlog" || die export
run "$QIAO" log import --dir "$W/t" "$W/district.qlog" || die import
run "$QIAO" log export --dir "$W/t" -o "$W/town.qlog" || die export
for v in v1 v2; do
	run "$QIAO" log import --dir "$W/$v" "$W/town.qlog" || die import
done
printf '[net]\nlisten = tcp://127.0.0.1:%s\nchange_poll = 100ms\n' \
	"$BASE" >>"$W/d/qiao.conf"
printf '[net]\nlisten = tcp://127.0.0.1:%s\nupstream = tcp://127.0.0.1:%s\nchange_poll = 100ms\nreconnect_max = 2s\n' \
	$((BASE + 1)) "$BASE" >>"$W/t/qiao.conf"
for v in v1 v2; do
	printf '[net]\nupstream = tcp://127.0.0.1:%s\nchange_poll = 100ms\nreconnect_max = 2s\n' \
		$((BASE + 1)) >>"$W/$v/qiao.conf"
done

say "The district, the town and village 2 run; village 1's link is down"
start d
start t
start v2
wait_equal 500116001 t d || die "the town did not reach the district"
wait_equal 500116001002 v2 t d || die "village 2 did not reach its town"
echo "district, town and village 2 are up and in sync"

say "Village 1 records cases while offline"
run "$QIAO" grid add --dir "$W/v1" --code 500116001001001 --kind grid \
	--name "第一网格" >/dev/null || die "grid"
G=500116001001001
run "$QIAO" case open --dir "$W/v1" --grid $G --category 邻里纠纷 \
	--title "宅基地边界争执" \
	--description "张家与李家因宅基地边界发生争执，网格员上门了解情况" ||
	die "case"
run "$QIAO" case open --dir "$W/v1" --grid $G --category 邻里纠纷 \
	--title "楼上漏水" \
	--description "村民反映楼上漏水影响楼下住户，双方协商未果请求调解" ||
	die "case"
C3=$("$QIAO" case open --dir "$W/v1" --grid $G --category 农村土地 \
	--title "灌溉用水" \
	--description "两户因共用水渠灌溉时间产生矛盾，申请村调委会调处") ||
	die "case"
run "$QIAO" case accept "$C3" --dir "$W/v1" >/dev/null || die "accept"
run "$QIAO" case resolve "$C3" --dir "$W/v1" --level village \
	--result "调委会调解，双方约定轮流灌溉" || die "resolve"
run "$QIAO" case list --dir "$W/v1"
echo "cases the district sees of village 1 so far:" \
	"$("$QIAO" case list --dir "$W/d" --under 500116001001 --json |
		grep -c '"id"')"

say "Village 1's link is restored"
start v1
wait_equal 500116001001 v1 t d || die "village 1 did not converge"
[ "$(state v1 500116001001)" = "$(state d 500116001001)" ] ||
	die "the district's record state differs from village 1's"
echo "village 1, the town and the district agree on village 1's scope"

say "The district sees village 1's cases"
run "$QIAO" case list --dir "$W/d" --under 500116001001
say "The town's statistics, at the district"
run "$QIAO" stats --dir "$W/d" --under 500116001
say "Equal digests for shared scopes"
for n in v1 t d; do
	printf '%-3s records 500116001001  %s\n' "$n" "$(state $n 500116001001)"
done
for n in v1 t d; do
	printf '%-3s entries 500116001001  %s\n' "$n" "$(digest $n 500116001001)"
done
for n in v2 t d; do
	printf '%-3s entries 500116001002  %s\n' "$n" "$(digest $n 500116001002)"
done
for n in t d; do
	printf '%-3s entries 500116001     %s\n' "$n" "$(digest $n 500116001)"
done
say "The district's view of its peers"
run "$QIAO" status --dir "$W/d"

say "Every link proved both stations' keys and is encrypted"
grep -h ': link up$' "$W"/*.log | sed 's/^[^ ]* //'
say "A station nobody enrolled is refused at the link, and learns nothing"
init x village 500116001009 "无名站" "$D" >/dev/null || exit 1
run "$QIAO" log import --dir "$W/x" "$W/town.qlog" >/dev/null || die import
run "$QIAO" log append --dir "$W/x" --type note --text "未登记站点的记录" \
	>/dev/null || die append
run "$QIAO" sync --dir "$W/x" --peer "tcp://127.0.0.1:$((BASE + 1))" \
	--timeout 10s && die "an unenrolled station was let in"
echo "the town's log:"
grep -h 'refused' "$W/t.log" | sed 's/^[^ ]* //'

say "Stopping everything the demo started"
for p in "${PIDS[@]}"; do
	kill -TERM "$p" 2>/dev/null
done
wait
PIDS=()
echo "done"
