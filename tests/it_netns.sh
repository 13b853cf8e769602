#!/usr/bin/env bash
# Network faults between real namespaces. The test builds its own network:
# a bridge in a hub namespace and three node namespaces on it (district D
# 10.77.0.1, town T 10.77.0.2, village V 10.77.0.3), each on a veth pair.
# This kernel has no netem, so:
#   - loss: nftables in each node namespace drops 30% of the packets that
#     arrive on its veth (`numgen random mod 100 < 30 drop`), every hop,
#     both ways, for the whole test;
#   - latency: V reaches its town through tests/tools/delayrelay in T's
#     namespace, which holds every chunk 800 ms each way;
#   - a partition: V's namespace drops everything on its veth for 10 s,
#     longer than the link timeout, so the link is dropped and must be
#     dialled again -- through the loss, where a lost SYN or first message
#     is normal.
# Under all of it: V's and D's writes cross; V writes during the
# partition, T too; after healing, V, T and D hold equal digests for V's
# scope, verify passes on all three (no entry twice, chains whole), and
# V's log shows it connected again after the partition.
#
# Skipped, saying why, where namespaces cannot be made (not root, no
# iproute2 or nftables, a kernel without them). Every wait is bounded; the
# namespaces are removed on exit, also on failure.
source "$(dirname "$0")/lib.sh"
RELAY=$BUILD/san/tools/delayrelay
S=$$
NS_H=qiao-hub-$S NS_D=qiao-d-$S NS_T=qiao-t-$S NS_V=qiao-v-$S

netns_cleanup() {
	local p n
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for n in "$NS_V" "$NS_T" "$NS_D" "$NS_H"; do
		ip netns del "$n" 2>/dev/null
	done
	cleanup
}
trap netns_cleanup EXIT
trap 'exit 130' INT TERM # so the EXIT trap cleans up

why=""
if [ "$(id -u)" != 0 ]; then
	why="needs root to create network namespaces"
elif ! command -v ip >/dev/null || ! command -v nft >/dev/null; then
	why="needs iproute2 (ip) and nftables (nft)"
elif ! ip netns add "$NS_H" 2>"$T/err"; then
	why="cannot create a network namespace: $(head -c 200 "$T/err")"
fi
if [ -n "$why" ]; then
	skip netns "$why"
	exit 0
fi

# The network: a bridge in the hub, one veth per node.
ipn() { ip -n "$@"; }
setup_net() {
	local i=1 ns
	ipn "$NS_H" link add br0 type bridge &&
		ipn "$NS_H" link set br0 up || return 1
	for ns in "$NS_D" "$NS_T" "$NS_V"; do
		ip netns add "$ns" &&
			ipn "$NS_H" link add "v$i" type veth peer name eth0 \
				netns "$ns" &&
			ipn "$NS_H" link set "v$i" master br0 &&
			ipn "$NS_H" link set "v$i" up &&
			ipn "$ns" addr add "10.77.0.$i/24" dev eth0 &&
			ipn "$ns" link set eth0 up &&
			ipn "$ns" link set lo up || return 1
		# 30% of what arrives on the veth is lost.
		ip netns exec "$ns" nft -f - <<-EOF || return 1
			table inet loss {
				chain in {
					type filter hook input priority 0;
					iifname "eth0" counter
					iifname "eth0" numgen random mod 100 < 30 counter drop
				}
			}
		EOF
		i=$((i + 1))
	done
}
if ! setup_net 2>"$T/err"; then
	skip netns "cannot build the test network: $(head -c 200 "$T/err")"
	exit 0
fi
pass network-built
partition() { # on|off: V's veth carries nothing
	if [ "$1" = on ]; then
		ip netns exec "$NS_V" nft -f - <<-EOF
			table inet part {
				chain in { type filter hook input priority -10;
					iifname "eth0" drop; }
				chain out { type filter hook output priority -10;
					oifname "eth0" drop; }
			}
		EOF
	else
		ip netns exec "$NS_V" nft delete table inet part
	fi
}
# A deployment.
R=$($QIAO root init --dir "$T/root" --region 500116 2>/dev/null)
DK=$($QIAO init --dir "$T/d" --role district --region 500116 --name 区 \
	--root "$R" 2>/dev/null)
TK=$($QIAO init --dir "$T/t" --role town --region 500116001 --name 镇 \
	--root "$R" 2>/dev/null)
VK=$($QIAO init --dir "$T/v" --role village --region 500116001001 \
	--name 村 --root "$R" 2>/dev/null)
{
	$QIAO enroll --dir "$T/root" --pubkey "$DK" --role district \
		--region 500116 --name 区 &&
	$QIAO enroll --dir "$T/root" --pubkey "$TK" --role town \
		--region 500116001 --name 镇 &&
	$QIAO log export --dir "$T/root" -o "$T/root.log" &&
	for n in d t v; do $QIAO log import --dir "$T/$n" "$T/root.log"; done &&
	$QIAO enroll --dir "$T/t" --pubkey "$VK" --role village \
		--region 500116001001 --name 村 &&
	$QIAO log export --dir "$T/t" -o "$T/town.log" &&
	$QIAO log import --dir "$T/v" "$T/town.log"
} >/dev/null 2>&1 && pass deployment || fail deployment "enrolment failed"
for n in d t v; do
	cat >>"$T/$n/qiao.conf" <<-EOF
		durable = no
		[net]
		reconnect_min = 2s
		reconnect_max = 4s
		change_poll = 100ms
		poll_interval = 2s
		timeout = 7s
	EOF
done
echo "listen = tcp://10.77.0.1:7420" >>"$T/d/qiao.conf"
printf 'listen = tcp://10.77.0.2:7420\nupstream = tcp://10.77.0.1:7420\n' \
	>>"$T/t/qiao.conf"
# V dials the relay in T's namespace, which delays 800 ms each way.
echo "upstream = tcp://10.77.0.2:7421" >>"$T/v/qiao.conf"

run_in() { # ns name: qiao node run for store name in namespace ns
	ip netns exec "$1" "$QIAO" node run --dir "$T/$2" 2>>"$T/$2.log" &
	PIDS+=($!)
}
seq_of() { head_seq "$T/$1" "$2"; } # node author
digest() { # node scope
	"$QIAO" heads --dir "$T/$1" --scope "$2" 2>/dev/null | tail -n1 |
		awk '{print $2}'
}
same_digest() { # scope node...
	local want n
	want=$(digest "$2" "$1")
	for n in "${@:3}"; do
		[ "$(digest "$n" "$1")" = "$want" ] || return 1
	done
}
write() { # node count text
	local i
	for i in $(seq 1 "$2"); do
		"$QIAO" log append --dir "$T/$1" --type note --text "$3 $i" \
			>/dev/null 2>&1 || return 1
	done
}
holds() { [ "$(seq_of "$1" "$2")" -ge "$3" ]; }

ip netns exec "$NS_T" "$RELAY" 10.77.0.2 7421 10.77.0.2 7420 800 \
	2>"$T/relay.log" &
PIDS+=($!)
run_in "$NS_D" d
run_in "$NS_T" t
run_in "$NS_V" v
t0=$SECONDS
write v 10 网格员记录 && write d 2 区通知 || fail writes "append failed"
# Bounds, not targets: under this loss and delay the SP handshake, the link
# handshake (two more round trips, 1.6 s each) and the sync's windows take
# 15..60 s here; a link that never comes up fails them.
if wait_until 90 holds d "$VK" 10 && wait_until 40 holds v "$DK" 2; then
	pass lossy-slow-links-carry-both-ways
else
	fail lossy-slow-links-carry-both-ways "D holds $(seq_of d "$VK") of V's 10, V $(seq_of v "$DK") of D's 2"
fi
echo "# converged under loss and delay in $((SECONDS - t0))s"

# Partition: V is cut off for 10 s; both sides write on.
partition on || fail partition "nft failed"
write v 5 断网期间 && write t 3 镇通知 || fail writes-partitioned "append failed"
sleep 10
expect partition-holds [ "$(seq_of d "$VK")" = 10 ]
partition off || fail heal "nft failed"
t0=$SECONDS
if wait_until 90 same_digest 500116001001 v t d; then
	pass heal-equal-digests
else
	fail heal-equal-digests "V $(digest v 500116001001) T $(digest t 500116001001) D $(digest d 500116001001); D holds $(seq_of d "$VK") of V's 15"
fi
echo "# converged after healing in $((SECONDS - t0))s"
expect village-has-town-notes [ "$(seq_of v "$TK")" -ge 3 ]
expect district-has-all-of-v [ "$(seq_of d "$VK")" = 15 ]
expect village-dialled-again [ "$(grep -c 'connected to' "$T/v.log")" -ge 2 ]
echo "# V connected $(grep -c 'connected to' "$T/v.log") times, dropped $(grep -c 'silent\|went away' "$T/v.log") times"
for p in "${PIDS[@]}"; do
	kill -TERM "$p" 2>/dev/null
done
wait 2>/dev/null
PIDS=()
# No duplicates: each store holds every author's entries once, exactly
# as many as the heads' seqs add up to.
seqsum() { # node
	"$QIAO" heads --dir "$T/$1" 2>/dev/null | grep -E '^[0-9a-f]{64} ' |
		awk '{ s += $2 } END { print s + 0 }'
}
for n in d t v; do
	check "verify-$n" 0 "$QIAO" log verify --dir "$T/$n"
	expect "entries-once-$n" grep -q "entries $(seqsum "$n")," "$T/out"
done
# The loss was real: the nftables counters of all three namespaces, what
# arrived on the veths and what was dropped, about 30% of it.
all=0 dropped=0
for ns in "$NS_D" "$NS_T" "$NS_V"; do
	ip netns exec "$ns" nft list chain inet loss in >"$T/nft" 2>&1
	a=$(grep -v drop "$T/nft" | grep -o 'packets [0-9]*' | grep -o '[0-9]*$')
	d=$(grep drop "$T/nft" | grep -o 'packets [0-9]*' | grep -o '[0-9]*$')
	all=$((all + ${a:-0})) dropped=$((dropped + ${d:-0}))
done
echo "# the veths dropped $dropped of $all packets"
between() { [ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
expect loss-was-real [ "$all" -gt 100 ]
expect loss-about-30-percent between $((100 * dropped / (all + 1))) 20 40
finish
