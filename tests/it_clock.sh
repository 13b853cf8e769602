#!/usr/bin/env bash
# Clock skew, with faketime: village F's clock runs a day fast, village S's
# a day slow; their town T and the district D keep true time. Every process
# acting as F or S (its node, its CLI) runs under faketime. They work and
# sync as usual; then "sane" means, and the test asserts:
#
#  1. Accepted: D and T hold all of F's and S's entries (a wrong clock is
#     no reason to lose a dispute), and `qiao log verify` passes (every log's
#     stamps increase).
#  2. Flagged, where a person looks: `qiao status` at T and D lists F as
#     stamping entries ahead (by 23 to 25 hours), and S nowhere; at S, the
#     stations above it (root, district, town) are listed ahead by about a
#     day and status says this clock may be behind. F lists nobody.
#  3. Nobody's clock is dragged forward: after taking in F's entries, the
#     next entries T and D sign are stamped within 5 minutes of true time;
#     after taking in D's and T's, S's next entry is stamped within 5
#     minutes of S's own (slow) clock.
#  4. SLA times: a case worked at F and one at S, each answered, arrived
#     and fed back 2 seconds after intake, show at the district response,
#     arrival and feedback times of 1 to 60 seconds -- their own clocks'
#     intervals, not a day more or less. A case F opens and transfers to T,
#     which arrives at true time (a day "before" F's intake): its arrival
#     time is not negative (0, from a stamp before intake) and not absurd
#     (under an hour). The district's SLA rates lie in [0, 1].
#
# The sanitizer build runs under libfaketime with verify_asan_link_order=0
# (libfaketime's LD_PRELOAD comes first); checked below before relying on
# it.
source "$(dirname "$0")/lib.sh"
# libfaketime preloaded directly (what the faketime command does), so the
# process we start and later kill is qiao itself, not a wrapper; the
# monotonic clock stays true (nng's timers).
LIBFT=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n1)
if [ -z "$LIBFT" ]; then
	skip clock-skew "libfaketime is not installed (Debian package faketime)"
	exit 0
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
FAST=(env "LD_PRELOAD=$LIBFT" FAKETIME=+1d FAKETIME_DONT_FAKE_MONOTONIC=1)
SLOW=(env "LD_PRELOAD=$LIBFT" FAKETIME=-1d FAKETIME_DONT_FAKE_MONOTONIC=1)
now_ms() { date +%s%3N; }
DAY=86400000

# faketime really moves the sanitizer binary's clock.
"$QIAO" init --dir "$T/probe" >/dev/null 2>&1
"${FAST[@]}" "$QIAO" log append --dir "$T/probe" --type note --text x \
	>/dev/null 2>"$T/err"
probe=$("$QIAO" log show --dir "$T/probe" --json 2>/dev/null |
	grep -o '"hlc": [0-9]*' | grep -o '[0-9]*$' | tail -n1)
if [ -z "$probe" ] ||
	[ $(((probe >> 16) - $(now_ms))) -lt $((DAY - 600000)) ]; then
	skip clock-skew "faketime does not move qiao's clock here: $(head -c 200 "$T/err")"
	exit 0
fi
pass faketime-moves-the-clock

R=$($QIAO root init --dir "$T/root" --region 500116 2>/dev/null)
DK=$($QIAO init --dir "$T/d" --role district --region 500116 --name 区 \
	--root "$R" 2>/dev/null)
TK=$($QIAO init --dir "$T/t" --role town --region 500116001 --name 镇 \
	--root "$R" 2>/dev/null)
FK=$($QIAO init --dir "$T/f" --role village --region 500116001001 \
	--name 快钟村 --root "$R" 2>/dev/null)
SK=$($QIAO init --dir "$T/s" --role village --region 500116001002 \
	--name 慢钟村 --root "$R" 2>/dev/null)
{
	$QIAO enroll --dir "$T/root" --pubkey "$DK" --role district \
		--region 500116 --name 区 &&
	$QIAO enroll --dir "$T/root" --pubkey "$TK" --role town \
		--region 500116001 --name 镇 &&
	$QIAO log export --dir "$T/root" -o "$T/root.log" &&
	$QIAO log import --dir "$T/d" "$T/root.log" &&
	$QIAO log import --dir "$T/t" "$T/root.log" &&
	"${FAST[@]}" $QIAO log import --dir "$T/f" "$T/root.log" &&
	"${SLOW[@]}" $QIAO log import --dir "$T/s" "$T/root.log" &&
	$QIAO enroll --dir "$T/t" --pubkey "$FK" --role village \
		--region 500116001001 --name 快钟村 &&
	$QIAO enroll --dir "$T/t" --pubkey "$SK" --role village \
		--region 500116001002 --name 慢钟村 &&
	$QIAO log export --dir "$T/t" -o "$T/town.log" &&
	"${FAST[@]}" $QIAO log import --dir "$T/f" "$T/town.log" &&
	"${SLOW[@]}" $QIAO log import --dir "$T/s" "$T/town.log"
} >/dev/null 2>&1 && pass deployment || fail deployment "enrolment failed"

BASE=$((28000 + ($$ % 1500) * 2))
for n in d t f s; do
	cat >>"$T/$n/qiao.conf" <<-EOF
		durable = no
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
	$((BASE + 1)) "$BASE" >>"$T/t/qiao.conf"
for n in f s; do
	echo "upstream = tcp://127.0.0.1:$((BASE + 1))" >>"$T/$n/qiao.conf"
done

# as NODE CMD...: runs qiao as that station, on its clock.
as() {
	local n=$1
	shift
	case $n in
	f) "${FAST[@]}" "$QIAO" "$@" --dir "$T/f" ;;
	s) "${SLOW[@]}" "$QIAO" "$@" --dir "$T/s" ;;
	*) "$QIAO" "$@" --dir "$T/$n" ;;
	esac
}
declare -A PID
start() {
	case $1 in
	f) "${FAST[@]}" "$QIAO" node run --dir "$T/f" 2>>"$T/f.log" & ;;
	s) "${SLOW[@]}" "$QIAO" node run --dir "$T/s" 2>>"$T/s.log" & ;;
	*) "$QIAO" node run --dir "$T/$1" 2>>"$T/$1.log" & ;;
	esac
	PID[$1]=$!
	PIDS+=($!)
}
seq_of() { head_seq "$T/$1" "$2"; } # node author
holds_all() { # node: holds F's and S's logs as they are now
	[ "$(seq_of "$1" "$FK")" = "$(seq_of f "$FK")" ] &&
		[ "$(seq_of "$1" "$SK")" = "$(seq_of s "$SK")" ]
}
# last_ms NODE AUTHOR: the stamp (ms) of AUTHOR's latest entry NODE holds.
last_ms() {
	local h
	h=$("$QIAO" log show --dir "$T/$1" --author "$2" --json 2>/dev/null |
		grep -o '"hlc": [0-9]*' | tail -n1 | grep -o '[0-9]*$')
	echo $((${h:-0} >> 16))
}
between() { # v lo hi: lo <= v <= hi
	[ -n "$1" ] && [ "$1" != null ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}
within() { # a b tolerance: |a - b| <= tolerance
	local d=$(($1 - $2))
	[ ${d#-} -le "$3" ]
}
sla_of() { # node case field: ms, or "null"
	"$QIAO" case show --dir "$T/$1" "$2" --json 2>/dev/null |
		tr -d ' \n' | grep -o "\"$3\":[0-9a-z]*" | cut -d: -f2
}

# Each skewed village works a case through its SLA steps, 2 s apart.
work_case() { # node grid
	local c
	as "$1" grid add --code "$2" --kind grid --name 网格 >/dev/null &&
		c=$(as "$1" case open --grid "$2" --category 邻里纠纷 \
			--title 楼上漏水) && sleep 2 &&
		as "$1" case accept "$c" >/dev/null &&
		as "$1" case arrive "$c" >/dev/null &&
		as "$1" case feedback "$c" >/dev/null && echo "$c"
}
work_case f 500116001001001 >"$T/cf" &
w1=$!
work_case s 500116001002001 >"$T/cs" &
w2=$!
wait $w1 && wait $w2 && pass skewed-stations-work ||
	fail skewed-stations-work "case steps failed"
CF=$(cat "$T/cf") CS=$(cat "$T/cs")
# F also opens a case it hands to the town.
CX=$(as f case open --grid 500116001001001 --category 土地纠纷 --title 宅基地)
as f case accept "$CX" >/dev/null
as f case transfer "$CX" --to 500116001 >/dev/null || fail transfer "failed"
as f log append --type note --text 快钟记录 >/dev/null
as s log append --type note --text 慢钟记录 >/dev/null

for n in d t f s; do start $n; done
if wait_until 40 holds_all d && wait_until 10 holds_all t; then
	pass accepted-at-town-and-district
else
	fail accepted-at-town-and-district "district holds F $(seq_of d "$FK")/$(seq_of f "$FK"), S $(seq_of d "$SK")/$(seq_of s "$SK")"
fi
# The town takes the transferred case and arrives, on true time.
check town-accepts-transfer 0 as t case accept "$CX"
check town-arrives 0 as t case arrive "$CX"

# 3. Nobody dragged forward.
for n in t d; do
	k=$TK
	[ $n = d ] && k=$DK
	as $n log append --type note --text "$n 之后" >/dev/null
	if within "$(last_ms $n "$k")" "$(now_ms)" 300000; then
		pass "$n-clock-not-dragged-forward"
	else
		fail "$n-clock-not-dragged-forward" "stamped $(($(last_ms $n "$k") - $(now_ms))) ms from true time"
	fi
done
# S has taken in the district's and town's entries (a day ahead of it).
wait_until 20 bash -c "[ \"\$($QIAO heads --dir $T/s | grep -c '^$DK')\" = 1 ]" ||
	fail s-holds-district "S never received the district's log"
as s log append --type note --text 慢钟之后 >/dev/null
if within "$(last_ms s "$SK")" $(($(now_ms) - DAY)) 300000; then
	pass s-clock-not-dragged-forward
else
	fail s-clock-not-dragged-forward "S stamped $(($(last_ms s "$SK") - $(now_ms))) ms from true time"
fi
as f log append --type note --text 快钟之后 >/dev/null
expect f-keeps-its-own-clock within "$(last_ms f "$FK")" $(($(now_ms) + DAY)) 300000
wait_until 20 holds_all d

# 2. Flagged where a person looks.
skewed_keys() { # node: keys listed as skewed by status --json
	"$QIAO" status --dir "$T/$1" --json 2>/dev/null | tr -d ' \n' |
		grep -o '"skewed":\[[^]]*\]' | grep -o '"key":"[0-9a-f]*"' |
		cut -d'"' -f4
}
ahead_of() { # node key: ahead_ms listed for that key
	"$QIAO" status --dir "$T/$1" --json 2>/dev/null | tr -d ' \n' |
		grep -o "\"key\":\"$2\"[^}]*" | grep -o '"ahead_ms":[0-9]*' |
		cut -d: -f2
}
for n in t d; do
	expect "$n-flags-fast-village" grep -qx "$FK" <(skewed_keys $n)
	a=$(ahead_of $n "$FK")
	expect "$n-says-a-day-ahead" between "${a:-0}" $((DAY - 3600000)) \
		$((DAY + 3600000))
	expect "$n-does-not-flag-slow-village" [ "$(skewed_keys $n | grep -c "$SK")" = 0 ]
done
check t-status-text 0 "$QIAO" status --dir "$T/t"
expect t-status-text-lists-fast-village grep -Eq "^  ${FK:0:16}  village  500116001001 .* 23h|^  ${FK:0:16}  village  500116001001 .* 1d" "$T/out"
expect t-status-text-says-skew grep -q '^skew      1 author stamped entries' "$T/out"
expect s-flags-district grep -qx "$DK" <(skewed_keys s)
expect s-flags-town grep -qx "$TK" <(skewed_keys s)
check s-status-json 0 as s status --json
expect s-suspects-its-own-clock grep -q '"behind_suspected": true' "$T/out"
check s-status-text 0 as s status
expect s-status-text-says-check grep -q "this station's clock may be behind" "$T/out"
expect f-flags-nobody [ -z "$(skewed_keys f)" ]

# 1. Order: every log's stamps increase, everywhere.
for n in d t; do
	check "$n-verifies" 0 "$QIAO" log verify --dir "$T/$n"
done

# 4. SLA at the district.
sane_sla() { # case field
	between "$(sla_of d "$1" "$2")" 1000 60000
}
for f in response arrival feedback; do
	expect "fast-case-$f-1-to-60s" sane_sla "$CF" $f
	expect "slow-case-$f-1-to-60s" sane_sla "$CS" $f
done
if wait_until 20 bash -c "[ \"\$($QIAO case show --dir $T/d $CX --json | tr -d ' \n' | grep -o '\"arrival\":[0-9]*')\" != '' ]"; then
	a=$(sla_of d "$CX" arrival)
	expect cross-clock-arrival-not-negative-not-absurd between "$a" 0 \
		3600000
else
	fail cross-clock-arrival "the district never saw the town's arrival"
fi
check district-stats 0 "$QIAO" stats --dir "$T/d" --json
rates_ok() {
	local r
	for r in $(tr -d ' \n' <"$T/out" | grep -o '"sla_[a-z]*_rate":[0-9.]*' |
		cut -d: -f2); do
		awk -v r="$r" 'BEGIN { exit !(r >= 0 && r <= 1) }' || return 1
	done
}
expect district-sla-rates-in-0-1 rates_ok
for n in d t f s; do
	kill -TERM "${PID[$n]}" 2>/dev/null
	wait "${PID[$n]}" 2>/dev/null
done
finish
