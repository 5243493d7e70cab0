#!/usr/bin/env bash
# Benchmark l2tap against QEMU's l2tpv3 netdev and against a bare veth pair.
#
# Two network namespaces (bnA, bnB) are joined by a veth pair carrying the
# underlay 192.0.2.1/24 <-> 192.0.2.2/24.  Each run measures, in turn:
#   veth   iperf3 straight over the underlay (the ceiling)
#   qemu   a guest-less QEMU per namespace bridging TAP qtap0 to an l2tpv3
#          netdev; overlay 10.9.0.1/24 <-> 10.9.0.2/24 on the TAPs
#   l2tap  l2tap per namespace bridging TAP ltap0 to the same pseudowire
#   l2tap-ip, l2tap-ip6   the same with IP encapsulation (protocol 115) over
#          the IPv4 underlay and over the IPv6 one (2001:db8::1 <-> ::2)
#   l2tap-1500, l2tap-1500-frag   l2tap as above with -mtu 1500 over the
#          1500-byte underlay: TCP's MSS clamped to fit the path (the default
#          for a TAP MTU above the path's), and with -mss-clamp off, every
#          full-size frame fragmented into two outer packets
#   l2tap-base    l2tap as in l2tap, run from L2TAP_BASE_BIN (another build,
#          such as the last release): l2tap/l2tap-base holds a change
#          against its base in the same run
#   l2tap-socket  l2tap per namespace on a -socket, and a guest-less QEMU
#          standing in for a VM whose NIC is on it: a hub joins its
#          -netdev stream to a tap netdev on TAP stap0 (the bridge CPU counts
#          both processes; compare with qemu, the VM's own l2tpv3 netdev)
#   l2tap-vhost   l2tap per namespace on -vhost-user, and one DPDK
#          dpdk-testpmd (io forwarding, one polling core) standing in for
#          both VMs: each end is a net_virtio_user port on that namespace's
#          l2tap socket paired with a net_af_packet port on a veth pair whose
#          other end, vtap0, is in the namespace, where iperf3 runs (checksum
#          and segmentation offloads off on vtap0, as af_packet carries no
#          virtio-net header).  testpmd plays the guest's virtio-net driver,
#          not the VMM's netdev, so the bridge CPU counts l2tap alone (for
#          l2tap-socket QEMU is counted because it stands for the VM's netdev
#          work).  The frames are MTU-sized (no superframes reach l2tap), so
#          the row measures l2tap's cost per frame, and testpmd's polling core
#          is one CPU taken from the rest.  Needs dpdk-testpmd (dpdk-dev) and
#          128 free 2 MiB huge pages (reserved for the run if fewer are free,
#          and given back).
# and for each: iperf3 TCP with 1 and 4 streams and 1 stream each way at once
# (--bidir), 60-byte frames over UDP,
# ping RTT, CPU time of the bridge processes per GB moved and their peak RSS.
# Servers run in bnB, clients in bnA.  Setups are interleaved run by run so
# slow drift on a noisy machine hits all of them alike; the report uses the
# median of the runs.
#
# Environment:
#   RUNS=3            repeats per setup
#   DURATION=5        seconds per iperf3 test
#   OUT=bench-out/    output directory (bench.json, bench.png, raw/)
#   BENCH_SETUPS="veth qemu l2tap l2tap-ip l2tap-ip6 l2tap-1500 l2tap-1500-frag l2tap-socket l2tap-vhost"
#   L2TAP_FLAGS=      extra flags appended to both l2tap command lines
#   L2TAP_BIN=        use this binary instead of building one
#   L2TAP_BASE_BIN=   the binary the l2tap-base setup runs (required by it)
#   UNDERLAY_MTU=1500 MTU of the veth pair (9000: a jumbo underlay)
#   OVERLAY_MTU=1450  TAP MTU for QEMU: 1500 - IPv4 20 - UDP 8 - L2TPv3 8
#                     (session id + UDP-mode header, no cookie/sublayer)
#                     - Ethernet 14; l2tap chooses its own and it is recorded
#   PING_COUNT=20     pings for the RTT figure (interval 50 ms)
#   PIN_BRIDGE=, PIN_IPERF=   optional taskset CPU lists (default: no pinning)
#   PYTHON=           interpreter with matplotlib (default: first that has it)
#   BENCH_NS=bn       namespace name prefix (NAME A and NAME B), so two runs can
#                     share a machine
#
# Needs root.  Exits non-zero if a setup passes no traffic.
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
OUT=${OUT:-bench-out/}
BENCH_SETUPS=${BENCH_SETUPS:-"veth qemu l2tap l2tap-ip l2tap-ip6 l2tap-1500 l2tap-1500-frag l2tap-socket l2tap-vhost"}
L2TAP_FLAGS=${L2TAP_FLAGS:-}
L2TAP_BIN=${L2TAP_BIN:-}
L2TAP_BASE_BIN=${L2TAP_BASE_BIN:-}
OVERLAY_MTU=${OVERLAY_MTU:-1450}
UNDERLAY_MTU=${UNDERLAY_MTU:-1500}
PING_COUNT=${PING_COUNT:-20}
PIN_BRIDGE=${PIN_BRIDGE:-}
PIN_IPERF=${PIN_IPERF:-}

NS_A=${BENCH_NS:-bn}A
NS_B=${BENCH_NS:-bn}B
UNDER_A=192.0.2.1
UNDER_B=192.0.2.2
UNDER6_A=2001:db8::1
UNDER6_B=2001:db8::2
OVER_A=10.9.0.1
OVER_B=10.9.0.2
L2TP_PORT=1701
IPERF_PORT=5201
UDP_LEN=18 # 18 B payload + UDP 8 + IPv4 20 + Ethernet 14 = 60-byte frame

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
OUT=${OUT%/}
RAW=$OUT/raw
CLK_TCK=$(getconf CLK_TCK)

BRIDGE_PIDS=() # bridge processes of the setup being measured (A end, B end)
BRIDGE_DEV=    # their TAP's name (the same in both namespaces)
BRIDGE_LOGS=()
FRONTEND_PIDS=() # frontends of the setup (testpmd): watched, not counted
FRONTEND_LOGS=()
HUGE_WORK=       # scripts/hugepages.sh's directory: its state, the hugetlbfs mount
HUGE_DIR=        # that mount, testpmd's --huge-dir
HUB_PID=         # the QEMU start_hub started last
VHOST_LINKS=()   # the veths start_vhost made in the host's namespace: deleted with the setup
PY=

LOG_TAG=bench
# shellcheck source=scripts/proclib.sh
source "$(dirname "${BASH_SOURCE[0]}")/proclib.sh"

# bench_cleanup: the processes stopped (testpmd maps the huge pages), the
# huge pages given back, then proclib's cleanup (namespaces, exit status).
bench_cleanup() {
	local rc=$? pid
	set +e
	for pid in "${!STARTED[@]}"; do
		stop_pid "$pid"
	done
	delete_vhost_links
	if [[ -n $HUGE_WORK ]]; then
		"$ROOT/scripts/hugepages.sh" release "$HUGE_WORK" && rmdir "$HUGE_WORK"
	fi
	(exit "$rc")
	cleanup
}
trap bench_cleanup EXIT

# ---------------------------------------------------------------- tools

# pick_python: an interpreter that can import matplotlib (the Debian one if
# the default python3 is a separate installation without it).
pick_python() {
	local py
	for py in ${PYTHON:-} /usr/bin/python3 python3; do
		if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import matplotlib' 2>/dev/null; then
			PY=$py
			return 0
		fi
	done
	return 1
}

# need_tools: make sure every program used below exists; install the missing
# ones with apt-get, or stop and name them.
need_tools() {
	local -A pkg_of=([ip]=iproute2 [ss]=iproute2 [iperf3]=iperf3 [ping]=iputils-ping
		[timeout]=coreutils [taskset]=util-linux [qemu-system-x86_64]=qemu-system-x86
		[dpdk-testpmd]=dpdk-dev [ethtool]=ethtool)
	local cmds=(ip ss iperf3 ping timeout) missing=() pkgs=() c
	[[ " $BENCH_SETUPS " == *" qemu "* || " $BENCH_SETUPS " == *" l2tap-socket "* ]] && cmds+=(qemu-system-x86_64)
	[[ " $BENCH_SETUPS " == *" l2tap-vhost "* ]] && cmds+=(dpdk-testpmd ethtool)
	[[ -n $PIN_BRIDGE$PIN_IPERF ]] && cmds+=(taskset)
	for c in "${cmds[@]}"; do
		if ! command -v "$c" >/dev/null 2>&1; then
			missing+=("$c")
			pkgs+=("${pkg_of[$c]}")
		fi
	done
	if ! pick_python; then
		missing+=("python3 with matplotlib")
		pkgs+=(python3-matplotlib)
	fi
	if ((${#missing[@]})); then
		log "missing: ${missing[*]}; trying apt-get install ${pkgs[*]}"
		if ! command -v apt-get >/dev/null 2>&1 ||
			! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >&2; then
			die "missing tools: ${missing[*]} (Debian packages: ${pkgs[*]})"
		fi
		for c in "${cmds[@]}"; do
			command -v "$c" >/dev/null 2>&1 || die "still missing after apt-get: $c"
		done
		pick_python || die "still missing after apt-get: python3 with matplotlib"
	fi
	if [[ " $BENCH_SETUPS " == *" l2tap"* && -z $L2TAP_BIN ]] && ! command -v go >/dev/null 2>&1; then
		die "missing tool: go (needed to build l2tap; or set L2TAP_BIN)"
	fi
}

check_args() {
	local s
	((EUID == 0)) || die "must run as root (network namespaces, TAP devices)"
	[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
	[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer, got '$DURATION'"
	[[ $UNDERLAY_MTU =~ ^[1-9][0-9]*$ ]] || die "UNDERLAY_MTU must be a positive integer, got '$UNDERLAY_MTU'"
	[[ -n ${BENCH_SETUPS// /} ]] || die "BENCH_SETUPS is empty"
	for s in $BENCH_SETUPS; do
		case $s in veth | qemu | l2tap | l2tap-ip | l2tap-ip6 | l2tap-1500 | l2tap-1500-frag | l2tap-socket | l2tap-vhost) ;;
		l2tap-base)
			[[ -n $L2TAP_BASE_BIN ]] || die "setup l2tap-base needs L2TAP_BASE_BIN=PATH, the l2tap build to compare with"
			[[ -x $L2TAP_BASE_BIN ]] || die "L2TAP_BASE_BIN=$L2TAP_BASE_BIN is not executable"
			;;
		*) die "unknown setup '$s' in BENCH_SETUPS (veth qemu l2tap l2tap-ip l2tap-ip6 l2tap-1500 l2tap-1500-frag l2tap-socket l2tap-vhost l2tap-base)" ;;
		esac
	done
}

# build_l2tap: compile the program under test from the repository root.
build_l2tap() {
	if [[ -n $L2TAP_BIN ]]; then
		[[ -x $L2TAP_BIN ]] || die "L2TAP_BIN=$L2TAP_BIN is not executable"
		return
	fi
	L2TAP_BIN=$OUT/l2tap
	log "building l2tap ($ROOT)"
	if ! (cd "$ROOT" && go build -o "$L2TAP_BIN" .) >"$RAW/build.log" 2>&1; then
		cat "$RAW/build.log" >&2
		die "go build of l2tap failed (log: $RAW/build.log)"
	fi
}

# ---------------------------------------------------------------- underlay

# make_underlay: namespaces bnA/bnB and the veth pair between them.  IPv6 is
# switched off inside so that router solicitations and MLD reports do not
# show up in the bridges' counters; only the veth ends get it back, with
# static addresses, for l2tap-ip6.
make_underlay() {
	local ns
	for ns in "$NS_A" "$NS_B"; do
		[[ ! -e /run/netns/$ns ]] ||
			die "namespace $ns already exists (another benchmark running? else: ip netns del $ns)"
	done
	for ns in "$NS_A" "$NS_B"; do
		ip netns add "$ns"
		CREATED_NS+=("$ns")
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
		ip -n "$ns" link set lo up
	done
	ip link add bnv0 netns "$NS_A" type veth peer name bnv1 netns "$NS_B"
	ip -n "$NS_A" addr add "$UNDER_A/24" dev bnv0
	ip -n "$NS_B" addr add "$UNDER_B/24" dev bnv1
	if [[ " $BENCH_SETUPS " == *" l2tap-ip6 "* ]]; then
		ip netns exec "$NS_A" sysctl -qw net.ipv6.conf.bnv0.disable_ipv6=0 net.ipv6.conf.bnv0.accept_ra=0
		ip netns exec "$NS_B" sysctl -qw net.ipv6.conf.bnv1.disable_ipv6=0 net.ipv6.conf.bnv1.accept_ra=0
		ip -n "$NS_A" addr add "$UNDER6_A/64" dev bnv0 nodad
		ip -n "$NS_B" addr add "$UNDER6_B/64" dev bnv1 nodad
	fi
	ip -n "$NS_A" link set bnv0 mtu "$UNDERLAY_MTU" up
	ip -n "$NS_B" link set bnv1 mtu "$UNDERLAY_MTU" up
	check_traffic veth "$UNDER_B"
}

# ---------------------------------------------------------------- bridges

# with_pin CPULIST CMD...: run CMD, under taskset if CPULIST is set.
with_pin() {
	local cpus=$1
	shift
	if [[ -n $cpus ]]; then
		exec taskset -c "$cpus" "$@"
	fi
	exec "$@"
}

# wait_for DESC PID SECONDS CMD...: poll CMD until it succeeds while PID lives.
wait_for() {
	local desc=$1 pid=$2 secs=$3 i
	shift 3
	for ((i = 0; i < secs * 20; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		alive "$pid" || return 1
		sleep 0.05
	done
	log "timed out after ${secs}s waiting for $desc"
	return 1
}

# start_hub NS TAP LOG NETDEV: a guest-less QEMU in NS joining TAP (made by
# its tap netdev) and NETDEV (a -netdev value whose id is n) through hub 0,
# one of the bridge processes measured; waits for TAP.  Its PID is left in
# HUB_PID.
start_hub() {
	local ns=$1 tap=$2 logf=$3 netdev=$4 pid
	(with_pin "$PIN_BRIDGE" ip netns exec "$ns" qemu-system-x86_64 \
		-M none -nodefaults -display none \
		-netdev "tap,id=t,ifname=$tap,script=no,downscript=no" \
		-netdev "$netdev" \
		-netdev hubport,id=h0,hubid=0,netdev=t \
		-netdev hubport,id=h1,hubid=0,netdev=n) </dev/null >"$logf" 2>&1 &
	pid=$!
	STARTED[$pid]=1
	BRIDGE_PIDS+=("$pid")
	BRIDGE_LOGS+=("$logf")
	wait_for "$tap in $ns" "$pid" 15 ip -n "$ns" link show "$tap" ||
		die "qemu in $ns did not create $tap: $(tail -n 5 "$logf")"
	HUB_PID=$pid
}

# start_qemu NS SRC DST LOG: guest-less QEMU joining TAP qtap0 and an l2tpv3
# netdev through hub 0.
start_qemu() {
	local ns=$1 src=$2 dst=$3 logf=$4
	start_hub "$ns" qtap0 "$logf" \
		"l2tpv3,id=n,src=$src,dst=$dst,udp=on,srcport=$L2TP_PORT,dstport=$L2TP_PORT,txsession=1,rxsession=1"
	ip -n "$ns" link set qtap0 mtu "$OVERLAY_MTU" up
}

# launch_l2tap NS COUNTERS LOG ARGS...: l2tap ($RUN_BIN) with ARGS and
# $L2TAP_FLAGS in NS; waits for its "l2tap: ready" line.  Counters arrive on
# stdout when it exits.
launch_l2tap() {
	local ns=$1 counters=$2 logf=$3 pid
	shift 3
	# shellcheck disable=SC2086 # L2TAP_FLAGS is a list of words
	(with_pin "$PIN_BRIDGE" ip netns exec "$ns" "$RUN_BIN" "$@" $L2TAP_FLAGS) \
		</dev/null >"$counters" 2>"$logf" &
	pid=$!
	STARTED[$pid]=1
	BRIDGE_PIDS+=("$pid")
	BRIDGE_LOGS+=("$logf")
	wait_for "l2tap ready in $ns" "$pid" 15 grep -q '^l2tap: ready' "$logf" ||
		die "l2tap in $ns did not become ready: $(tail -n 5 "$logf")"
}

# start_l2tap NS SRC DST COUNTERS LOG ENCAP...: l2tap on TAP ltap0 with the
# encapsulation flags ENCAP.
start_l2tap() {
	local ns=$1 src=$2 dst=$3 counters=$4 logf=$5
	shift 5
	launch_l2tap "$ns" "$counters" "$logf" "$@" -src "$src" -dst "$dst" -txsession 1 -ifname ltap0
	ip -n "$ns" link set ltap0 up
}

# start_socket NS SRC DST COUNTERS LOG SOCKET: l2tap on -socket SOCKET, then
# a guest-less QEMU whose -netdev stream connects to it, joined by a hub to
# TAP stap0 (the VM's NIC stand-in).
start_socket() {
	local ns=$1 src=$2 dst=$3 counters=$4 logf=$5 sock=$6
	launch_l2tap "$ns" "$counters" "$logf" -udp -src "$src" -dst "$dst" \
		-srcport "$L2TP_PORT" -dstport "$L2TP_PORT" -txsession 1 -socket "$sock"
	start_hub "$ns" stap0 "$logf.qemu" "stream,id=n,server=off,addr.type=unix,addr.path=$sock"
	wait_for "QEMU on $sock" "$HUB_PID" 15 grep -q 'VM connected' "$logf" ||
		die "qemu in $ns did not connect to $sock: $(tail -n 5 "$logf.qemu")"
	# The MTU l2tap printed for the guest.
	ip -n "$ns" link set stap0 mtu "$(sed -n 's/^l2tap: ready .* mtu=\([0-9]*\) .*/\1/p' "$logf")" up
}

# reserve_huge: 256 MiB of free 2 MiB huge pages for testpmd's -m 256 (its
# memory is what it shares with l2tap) and a hugetlbfs mount of our own,
# through scripts/hugepages.sh: the missing pages reserved, and only those
# given back at exit with the mount.
reserve_huge() {
	HUGE_WORK=$(mktemp -d /tmp/bench-huge.XXXXXX)
	HUGE_DIR=$("$ROOT/scripts/hugepages.sh" reserve 256 "$HUGE_WORK") ||
		die "could not reserve huge pages for testpmd (see above)"
}

# start_vhost DIR: l2tap on -vhost-user in each namespace, then one testpmd
# forwarding (io) between net_virtio_user port 2k on namespace k's socket
# and net_af_packet port 2k+1 on veth vpeK, whose peer vtap0 is in that
# namespace.
start_vhost() {
	local dir=$1 pid ns k mtu
	launch_l2tap "$NS_A" "$dir/counters-a.txt" "$dir/l2tap-a.log" -udp -src "$UNDER_A" -dst "$UNDER_B" \
		-srcport "$L2TP_PORT" -dstport "$L2TP_PORT" -txsession 1 -vhost-user "$dir/a.sock"
	launch_l2tap "$NS_B" "$dir/counters-b.txt" "$dir/l2tap-b.log" -udp -src "$UNDER_B" -dst "$UNDER_A" \
		-srcport "$L2TP_PORT" -dstport "$L2TP_PORT" -txsession 1 -vhost-user "$dir/b.sock"
	# The namespaces' ends of two veth pairs; testpmd takes the other ends.
	for k in A B; do
		[[ $k == A ]] && ns=$NS_A || ns=$NS_B
		ip link add "vpe$k" type veth peer name vtap0 netns "$ns"
		VHOST_LINKS+=("vpe$k")
		ip link set "vpe$k" up
	done
	(with_pin "$PIN_BRIDGE" dpdk-testpmd -l 0-1 -n 1 --no-pci --single-file-segments -m 256 \
		--file-prefix="bench$$" --huge-dir "$HUGE_DIR" \
		--vdev="net_virtio_user0,path=$dir/a.sock,queues=1,queue_size=1024,mrg_rxbuf=1,in_order=0" --vdev=net_af_packet0,iface=vpeA \
		--vdev="net_virtio_user1,path=$dir/b.sock,queues=1,queue_size=1024,mrg_rxbuf=1,in_order=0" --vdev=net_af_packet1,iface=vpeB \
		-- --forward-mode=io --port-topology=paired --nb-cores=1 --rxd=1024 --txd=1024 --total-num-mbufs=32768 --stats-period=60) </dev/null >"$dir/testpmd.log" 2>&1 &
	pid=$!
	STARTED[$pid]=1
	FRONTEND_PIDS+=("$pid")
	FRONTEND_LOGS+=("$dir/testpmd.log")
	wait_for "testpmd forwarding" "$pid" 30 grep -q 'packet forwarding - ports=4' "$dir/testpmd.log" ||
		die "testpmd did not start forwarding: $(tail -n 5 "$dir/testpmd.log")"
	for k in A B; do
		[[ $k == A ]] && ns=$NS_A || ns=$NS_B
		# The MTU l2tap printed for the guest.
		mtu=$(sed -n 's/^l2tap: ready .* mtu=\([0-9]*\).*/\1/p' "$dir/l2tap-${k,,}.log" | head -n 1)
		ip link set "vpe$k" mtu "${mtu:-1500}"
		ip -n "$ns" link set vtap0 mtu "${mtu:-1500}" up
		ip netns exec "$ns" ethtool -K vtap0 tx off tso off gso off >/dev/null ||
			die "ethtool -K vtap0 tx off tso off gso off failed in $ns"
	done
}

# The subshells above exec their command, so $! is the bridge process itself
# (ip netns exec execs as well).

# start_bridges SETUP RUNDIR: bring up both ends and address the overlay.
start_bridges() {
	local setup=$1 dir=$2 dev
	BRIDGE_DEV=
	BRIDGE_PIDS=()
	BRIDGE_LOGS=()
	RUN_BIN=$L2TAP_BIN
	FRONTEND_PIDS=()
	FRONTEND_LOGS=()
	case $setup in
	veth) return 0 ;;
	qemu)
		dev=qtap0
		start_qemu "$NS_A" "$UNDER_A" "$UNDER_B" "$dir/qemu-a.log"
		start_qemu "$NS_B" "$UNDER_B" "$UNDER_A" "$dir/qemu-b.log"
		;;
	l2tap | l2tap-ip | l2tap-ip6 | l2tap-1500 | l2tap-1500-frag | l2tap-base)
		dev=ltap0
		[[ $setup == l2tap-base ]] && RUN_BIN=$L2TAP_BASE_BIN
		local a=$UNDER_A b=$UNDER_B encap=(-udp -srcport "$L2TP_PORT" -dstport "$L2TP_PORT")
		case $setup in
		l2tap-ip) encap=() ;;
		l2tap-ip6) a=$UNDER6_A b=$UNDER6_B encap=(-ipv6) ;;
		l2tap-1500) encap+=(-mtu 1500) ;;
		l2tap-1500-frag) encap+=(-mtu 1500 -mss-clamp off) ;;
		esac
		start_l2tap "$NS_A" "$a" "$b" "$dir/counters-a.txt" "$dir/l2tap-a.log" "${encap[@]}"
		start_l2tap "$NS_B" "$b" "$a" "$dir/counters-b.txt" "$dir/l2tap-b.log" "${encap[@]}"
		;;
	l2tap-socket)
		dev=stap0
		start_socket "$NS_A" "$UNDER_A" "$UNDER_B" "$dir/counters-a.txt" "$dir/l2tap-a.log" "$dir/a.sock"
		start_socket "$NS_B" "$UNDER_B" "$UNDER_A" "$dir/counters-b.txt" "$dir/l2tap-b.log" "$dir/b.sock"
		;;
	l2tap-vhost)
		dev=vtap0
		start_vhost "$dir"
		;;
	esac
	BRIDGE_DEV=$dev
	ip -n "$NS_A" addr add "$OVER_A/24" dev "$dev"
	ip -n "$NS_B" addr add "$OVER_B/24" dev "$dev"
	MTU=$(ip -n "$NS_A" -o link show "$dev" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
}

# stop_bridges: SIGTERM both ends (l2tap then prints its counters).
stop_bridges() {
	local pid rc
	for pid in "${FRONTEND_PIDS[@]}" "${BRIDGE_PIDS[@]}"; do
		rc=0
		stop_pid "$pid" || rc=$?
		((rc == 0 || rc == 143)) || log "bridge pid $pid exited with status $rc"
	done
	BRIDGE_PIDS=()
	FRONTEND_PIDS=()
	delete_vhost_links
}

# delete_vhost_links: the veths of start_vhost deleted, their namespace ends
# (vtap0, with the overlay's address and route) with them, so that the next
# setup's device is the only one on the overlay.
delete_vhost_links() {
	local link
	for link in "${VHOST_LINKS[@]}"; do
		ip link del "$link" 2>/dev/null || log "could not delete veth $link"
	done
	VHOST_LINKS=()
}

# tap_rx_packets: frames the B-side bridge has written into its TAP, or
# nothing for the bare veth.
tap_rx_packets() {
	[[ -n $BRIDGE_DEV ]] || return 0
	ip netns exec "$NS_B" cat "/sys/class/net/$BRIDGE_DEV/statistics/rx_packets"
}

# bridges_alive: fail loudly if a bridge process died during a test.
bridges_alive() {
	local i
	for i in "${!BRIDGE_PIDS[@]}"; do
		alive "${BRIDGE_PIDS[$i]}" ||
			die "bridge process ${BRIDGE_PIDS[$i]} died: $(tail -n 5 "${BRIDGE_LOGS[$i]}")"
	done
	for i in "${!FRONTEND_PIDS[@]}"; do
		alive "${FRONTEND_PIDS[$i]}" ||
			die "frontend process ${FRONTEND_PIDS[$i]} died: $(tail -n 5 "${FRONTEND_LOGS[$i]}")"
	done
}

# bridge_ticks: CPU time (utime+stime, all threads, in clock ticks) used so
# far by both bridge processes; n/a for veth.
bridge_ticks() {
	local pid st total=0
	((${#BRIDGE_PIDS[@]})) || {
		echo n/a
		return
	}
	for pid in "${BRIDGE_PIDS[@]}"; do
		st=$(cat "/proc/$pid/stat" 2>/dev/null) || die "bridge process $pid is gone"
		st=${st##*) }
		# shellcheck disable=SC2086 # split the fields after "(comm) "
		set -- $st
		total=$((total + ${12} + ${13})) # fields 14 and 15 of stat
	done
	echo "$total"
}

# tick_delta BEFORE AFTER
tick_delta() {
	if [[ $1 == n/a ]]; then echo n/a; else echo $(($2 - $1)); fi
}

# vm_hwm PID: peak resident set size in kB.
vm_hwm() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# ---------------------------------------------------------------- traffic

# check_traffic SETUP DST: ping from bnA until DST answers (ARP, learning);
# a setup that passes nothing for 10 s aborts the benchmark.
check_traffic() {
	local setup=$1 dst=$2 i
	for ((i = 0; i < 10; i++)); do
		if ip netns exec "$NS_A" ping -q -n -c 1 -W 1 "$dst" >/dev/null 2>&1; then
			return 0
		fi
	done
	local l
	for l in "${BRIDGE_LOGS[@]}"; do
		log "last lines of $l:"
		tail -n 5 "$l" | sed 's/^/    /' >&2
	done
	die "setup $setup passes no traffic: ping $dst from $NS_A got no answer for 10 s"
}

# outer_fragments: IP fragments the two underlay namespaces have received
# for reassembly so far (ReasmReqds of IPv4 and IPv6): outer packets that
# did not fit the underlay.
outer_fragments() {
	local ns n total=0
	for ns in "$NS_A" "$NS_B"; do
		n=$(ip netns exec "$ns" cat /proc/net/snmp /proc/net/snmp6 2>/dev/null | awk '
			/^Ip: / { if (!c) { for (i = 2; i <= NF; i++) if ($i == "ReasmReqds") c = i } else s += $c }
			/^Ip6ReasmReqds/ { s += $2 }
			END { print s + 0 }')
		total=$((total + n))
	done
	echo "$total"
}

# ping_rtt DST: PING_COUNT echo requests 50 ms apart on an idle path; prints
# "min avg max loss%".
ping_rtt() {
	local out rtt loss
	out=$(ip netns exec "$NS_A" ping -q -n -c "$PING_COUNT" -i 0.05 -W 1 "$1" 2>&1) || true
	rtt=$(sed -n 's|^rtt [^=]*= \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/.*|\1 \2 \3|p' <<<"$out")
	loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' <<<"$out")
	[[ -n $rtt ]] || die "ping $1 got no replies: $out"
	echo "$rtt $loss"
}

# iperf_run OUTJSON DST ARGS...: one-shot iperf3 server in bnB, client in
# bnA with -J; one retry on failure (the machine is shared and noisy).
iperf_run() {
	local out=$1 dst=$2 attempt spid err
	shift 2
	for attempt in 1 2; do
		(with_pin "$PIN_IPERF" ip netns exec "$NS_B" iperf3 -s -1 -p "$IPERF_PORT") \
			</dev/null >"$out.server.log" 2>&1 &
		spid=$!
		STARTED[$spid]=1
		wait_for "iperf3 server" "$spid" 10 \
			bash -c "ip netns exec $NS_B ss -Hltn 'sport = :$IPERF_PORT' | grep -q ." ||
			die "iperf3 server in $NS_B did not start: $(cat "$out.server.log")"
		if (with_pin "$PIN_IPERF" timeout $((DURATION + 30)) ip netns exec "$NS_A" \
			iperf3 -c "$dst" -p "$IPERF_PORT" -t "$DURATION" -J "$@") </dev/null >"$out" 2>"$out.err"; then
			wait_exit "$spid" 5 || true
			stop_pid "$spid" || true
			return 0
		fi
		stop_pid "$spid" || true
		err=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error",""))' "$out" 2>/dev/null || true)
		log "iperf3 $* to $dst failed (attempt $attempt): ${err:-$(tail -n 3 "$out.err")}"
		bridges_alive
		sleep 1
	done
	die "iperf3 $* to $dst failed twice"
}

# iperf_measure NAME DIR REL REC DST [IPERF_ARGS...]: runs one iperf3 test into
# DIR/NAME.json and records its file and the bridge CPU ticks it cost in REC.
iperf_measure() {
	local name=$1 dir=$2 rel=$3 rec=$4 dst=$5 t0 t1
	shift 5
	sleep 0.5
	t0=$(bridge_ticks)
	iperf_run "$dir/$name.json" "$dst" "$@"
	t1=$(bridge_ticks)
	echo "${name}_json=$rel/$name.json" >>"$rec"
	echo "${name}_cpu_ticks=$(tick_delta "$t0" "$t1")" >>"$rec"
	bridges_alive
}

# measure SETUP RUN: bring the setup up, measure everything once, tear down,
# and leave the raw numbers in raw/SETUP-rRUN.rec (key=value lines).
measure() {
	local setup=$1 run=$2 dir dst rec t0 t1 r loss
	dir=$RAW/$setup-r$run
	mkdir -p "$dir"
	rec=$dir.rec
	MTU=1500
	start_bridges "$setup" "$dir"
	if [[ $setup == veth ]]; then dst=$UNDER_B; else dst=$OVER_B; fi
	check_traffic "$setup" "$dst"

	{
		echo "setup=$setup"
		echo "run=$run"
		echo "clk_tck=$CLK_TCK"
		echo "udp_len=$UDP_LEN"
		echo "overlay_mtu=$MTU"
		echo "bridge_pids=${BRIDGE_PIDS[*]}"
	} >"$rec.tmp"

	# Latency on an otherwise idle path.
	read -r r t0 t1 loss < <(ping_rtt "$dst")
	printf 'ping_min_ms=%s\nping_avg_ms=%s\nping_max_ms=%s\nping_loss_pct=%s\n' \
		"$r" "$t0" "$t1" "$loss" >>"$rec.tmp"

	# Bulk TCP with one and with four streams (throughput, retransmits, bridge
	# CPU per byte) and both ways at once, then the packet rate: unthrottled UDP, 60-byte frames.
	r=$(outer_fragments)
	iperf_measure tcp1 "$dir" "$setup-r$run" "$rec.tmp" "$dst"
	echo "tcp1_outer_fragments=$(($(outer_fragments) - r))" >>"$rec.tmp"
	iperf_measure tcp4 "$dir" "$setup-r$run" "$rec.tmp" "$dst" -P 4
	iperf_measure tcpbi "$dir" "$setup-r$run" "$rec.tmp" "$dst" --bidir
	# The receiving TAP's packet count says how many frames the bridges
	# carried, whatever the iperf3 server then managed to read.
	t0=$(tap_rx_packets)
	iperf_measure udp "$dir" "$setup-r$run" "$rec.tmp" "$dst" -u -b 0 -l "$UDP_LEN"
	t1=$(tap_rx_packets)
	[[ -z $t0 ]] || echo "udp_carried=$((t1 - t0))" >>"$rec.tmp"

	# Memory: peak RSS of each bridge process over its whole life.
	if ((${#BRIDGE_PIDS[@]})); then
		echo "hwm_kb_a=$(vm_hwm "${BRIDGE_PIDS[0]}")" >>"$rec.tmp"
		echo "hwm_kb_b=$(vm_hwm "${BRIDGE_PIDS[${#BRIDGE_PIDS[@]} / 2]}")" >>"$rec.tmp"
	fi
	stop_bridges
	if [[ $setup == l2tap* ]]; then
		printf 'counters_a=%s\ncounters_b=%s\n' "$setup-r$run/counters-a.txt" \
			"$setup-r$run/counters-b.txt" >>"$rec.tmp"
	fi
	mv "$rec.tmp" "$rec"
	"$PY" "$ROOT/scripts/bench_report.py" run-line "$rec" >&2
}

# write_meta: parameters and versions, copied into bench.json.
write_meta() {
	local commit dirty=""
	commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [[ -n $(GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
		dirty=-dirty
	fi
	{
		echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "runs=$RUNS"
		echo "duration=$DURATION"
		echo "setups=$BENCH_SETUPS"
		echo "overlay_mtu=$OVERLAY_MTU"
		echo "underlay_mtu=$UNDERLAY_MTU"
		echo "l2tap_flags=$L2TAP_FLAGS"
		echo "l2tap_commit=$commit$dirty"
		echo "pin_bridge=$PIN_BRIDGE"
		echo "pin_iperf=$PIN_IPERF"
		echo "kernel=$(uname -r)"
		echo "cpus=$(nproc)"
		echo "cpu_model=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
		echo "iperf3=$(iperf3 --version 2>/dev/null | head -n 1)"
		if [[ " $BENCH_SETUPS " == *" qemu "* || " $BENCH_SETUPS " == *" l2tap-socket "* ]]; then
			echo "qemu=$(qemu-system-x86_64 --version | head -n 1)"
		fi
		if [[ " $BENCH_SETUPS " == *" l2tap-vhost "* ]]; then
			echo "frontend_vhost=dpdk-testpmd $(dpkg-query -W -f='${Version}' dpdk-dev 2>/dev/null) io forwarding, net_virtio_user + net_af_packet on a veth"
		fi
		if command -v go >/dev/null 2>&1; then echo "go=$(go version)"; fi
	} >"$RAW/meta"
}

main() {
	local run setup started
	check_args
	need_tools
	mkdir -p "$OUT"
	rm -rf "$RAW"
	mkdir -p "$RAW"
	if [[ " $BENCH_SETUPS " == *" l2tap"* ]]; then build_l2tap; fi
	write_meta
	make_underlay
	if [[ " $BENCH_SETUPS " == *" l2tap-vhost "* ]]; then reserve_huge; fi
	started=$SECONDS
	log "setups: $BENCH_SETUPS; $RUNS runs of ${DURATION}s tests; output in $OUT"
	for ((run = 1; run <= RUNS; run++)); do
		for setup in $BENCH_SETUPS; do
			measure "$setup" "$run"
		done
	done
	log "measured in $((SECONDS - started))s"
	"$PY" "$ROOT/scripts/bench_report.py" report "$OUT"
}

main "$@"
