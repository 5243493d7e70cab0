#!/usr/bin/env bash
# Builds l2tap and runs a real pseudowire between two network namespaces:
#
#   [ns l2demo-a]  10.10.0.1 on TAP demo0                  [ns l2demo-b]  10.10.0.2 on TAP demo0
#        l2tap  <── L2TPv3 over UDP 192.0.2.1:1701 ⇄ 192.0.2.2:1701 (veth) ──>  l2tap
#
# then pings across it, runs a short iperf3 and prints both sides' counters.
# Needs root, iproute2, iputils-ping and iperf3 (make deps installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

A=l2demo-a-$$
B=l2demo-b-$$
BIN=$(mktemp -d)/l2tap
pids=()

cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	rm -rf "$(dirname "$BIN")"
}
trap cleanup EXIT

need() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null || { echo "demo: $tool is missing: run 'make deps' (as root) first" >&2; exit 1; }
	done
}
[ "$(id -u)" = 0 ] || { echo "demo: needs root for namespaces and TAP devices (try: sudo make demo)" >&2; exit 1; }
need go ip ping iperf3

echo "== build"
go build -o "$BIN" .

echo "== underlay: $A (192.0.2.1) <-veth-> $B (192.0.2.2)"
ip netns add "$A"
ip netns add "$B"
ip link add ua netns "$A" type veth peer name ub netns "$B"
ip -n "$A" addr add 192.0.2.1/24 dev ua
ip -n "$B" addr add 192.0.2.2/24 dev ub
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set ua up
ip -n "$B" link set ub up

# start_l2tap NS SRC DST LOG: runs l2tap in NS and waits for its ready line.
start_l2tap() {
	local ns=$1 src=$2 dst=$3 log=$4
	ip netns exec "$ns" "$BIN" -udp -src "$src" -dst "$dst" -srcport 1701 -dstport 1701 \
		-txsession 0x1234 -txcookie 0xc0ffee -rxcookie 0xc0ffee -counter -ifname demo0 \
		>"$log.out" 2>"$log.err" &
	pids+=($!)
	for _ in $(seq 50); do
		grep -q "ready" "$log.err" 2>/dev/null && { sed 's/^/   /' "$log.err"; return; }
		sleep 0.1
	done
	echo "demo: l2tap in $ns did not start:" >&2
	cat "$log.err" >&2
	exit 1
}

LOGS=$(dirname "$BIN")
echo "== l2tap on both sides (UDP, session 0x1234, 32-bit cookie, sequenced sublayer)"
start_l2tap "$A" 192.0.2.1 192.0.2.2 "$LOGS/a"
start_l2tap "$B" 192.0.2.2 192.0.2.1 "$LOGS/b"
ip -n "$A" addr add 10.10.0.1/24 dev demo0
ip -n "$B" addr add 10.10.0.2/24 dev demo0

echo "== ping across the pseudowire (and a 1400-byte ping)"
ip netns exec "$A" ping -c 3 -i 0.2 10.10.0.2
ip netns exec "$A" ping -c 2 -i 0.2 -s 1400 10.10.0.2 | tail -2

echo "== iperf3, 3 seconds of TCP"
ip netns exec "$B" iperf3 -s -1 -D -B 10.10.0.2 >/dev/null
sleep 0.3
ip netns exec "$A" iperf3 -c 10.10.0.2 -t 3 -f m | grep -E "sender|receiver"

echo "== counters (side A, then side B)"
for pid in "${pids[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done
pids=()
paste "$LOGS/a.out" "$LOGS/b.out" | awk '{ printf "   %-22s %12s %12s\n", $1, $2, $4 }'
echo "== done: the TAPs are gone with l2tap, the namespaces are removed next"
