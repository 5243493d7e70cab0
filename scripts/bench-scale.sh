#!/usr/bin/env bash
# Scale benchmark: many sessions on one tunnel in one l2tap process.
#
# Two network namespaces (bsA, bsB) are joined by a veth pair carrying the
# underlay 192.0.2.1/24 <-> 192.0.2.2/24.  In each, one l2tap runs from a
# configuration file with one UDP tunnel (port 1701 both ends) and N
# sessions, each with its own session IDs and TAP.  For every N in SCALE_NS:
#   setup      seconds from starting l2tap to its last "l2tap: ready" line
#   rss        VmRSS of the idle process once every TAP is up, and per
#              session: (VmRSS(N) - VmRSS(1)) / (N - 1).  The TAPs' own
#              kernel buffers are not in it (they are not l2tap's memory).
#   fds        open descriptors (/proc/PID/fd)
#   goroutines as l2tap logs them on SIGUSR1
#   stop       seconds from SIGTERM to exit (every TAP removed)
# and it pings across the first and the last session to show they carry
# frames.  Then the throughput phase: an l2tap pair with BUSY sessions
# whose TAPs are moved, once ready, each into a namespace of its own
# (bsa0, bsb0, ...; l2tap keeps the descriptor, so the TAP keeps working
# there) with overlay 10.77.I.1/24 <-> 10.77.I.2/24; it measures iperf3 TCP
# over session 0 alone and then one stream on each of the BUSY sessions at
# once, alternated RUNS times, and reports the medians.
#
# Environment:
#   SCALE_NS="1 10 100 1000"  session counts (1 is needed for the RSS delta)
#   BUSY=4                    sessions carrying traffic at once
#   RUNS=3                    alternated single/aggregate measurements
#   DURATION=5                seconds per iperf3 test
#   SETUP_TIMEOUT=600         seconds allowed for one l2tap to become ready
#   STOP_TIMEOUT=300          seconds allowed for it to exit on SIGTERM
#   OUT=bench-out/            output directory (scale.txt, raw-scale/)
#   L2TAP_BIN=                use this binary instead of building one
#
# Needs root.  A setup that fails or times out is reported in the table,
# not hidden; the script then exits non-zero.
set -euo pipefail

SCALE_NS=${SCALE_NS:-"1 10 100 1000"}
BUSY=${BUSY:-4}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
SETUP_TIMEOUT=${SETUP_TIMEOUT:-600}
STOP_TIMEOUT=${STOP_TIMEOUT:-300}
OUT=${OUT:-bench-out/}
L2TAP_BIN=${L2TAP_BIN:-}

NS_A=bsA
NS_B=bsB
UNDER_A=192.0.2.1
UNDER_B=192.0.2.2
PORT=1701

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
OUT=${OUT%/}
RAW=$OUT/raw-scale

FAILED=0

LOG_TAG=bench-scale
# shellcheck source=scripts/proclib.sh
source "$(dirname "${BASH_SOURCE[0]}")/proclib.sh"

now() { date +%s.%N; }
# elapsed T0 T1: seconds between two now() readings, two decimals.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

check_env() {
	local c n
	((EUID == 0)) || die "must run as root (network namespaces, TAP devices)"
	for c in ip ping iperf3 python3; do
		command -v "$c" >/dev/null 2>&1 || die "missing tool: $c (apt-get install iproute2 iputils-ping iperf3 python3)"
	done
	for n in $SCALE_NS; do
		[[ $n =~ ^[1-9][0-9]*$ ]] && ((n <= 60000)) || die "SCALE_NS: '$n' is not a session count from 1 to 60000"
	done
	[[ " $SCALE_NS " == *" 1 "* ]] || die "SCALE_NS must include 1 (the baseline for RSS per session)"
	[[ $BUSY =~ ^[1-9][0-9]?$ ]] && ((BUSY <= 50)) || die "BUSY must be from 1 to 50, got '$BUSY'"
	[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
	[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer, got '$DURATION'"
}

build_l2tap() {
	if [[ -n $L2TAP_BIN ]]; then
		[[ -x $L2TAP_BIN ]] || die "L2TAP_BIN=$L2TAP_BIN is not executable"
		return
	fi
	command -v go >/dev/null 2>&1 || die "missing tool: go (needed to build l2tap; or set L2TAP_BIN)"
	L2TAP_BIN=$RAW/l2tap
	log "building l2tap ($ROOT)"
	(cd "$ROOT" && go build -o "$L2TAP_BIN" .) >"$RAW/build.log" 2>&1 ||
		die "go build failed: $(cat "$RAW/build.log")"
}

# add_ns NAME: a namespace with loopback up and IPv6 off (no router
# solicitations or MLD reports on the TAPs while they idle).
add_ns() {
	[[ ! -e /run/netns/$1 ]] || die "namespace $1 already exists (another benchmark running? else: ip netns del $1)"
	ip netns add "$1"
	CREATED_NS+=("$1")
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
	ip -n "$1" link set lo up
}

make_underlay() {
	add_ns "$NS_A"
	add_ns "$NS_B"
	ip link add bsv0 netns "$NS_A" type veth peer name bsv1 netns "$NS_B"
	ip -n "$NS_A" addr add "$UNDER_A/24" dev bsv0
	ip -n "$NS_B" addr add "$UNDER_B/24" dev bsv1
	ip -n "$NS_A" link set bsv0 up
	ip -n "$NS_B" link set bsv1 up
	ip netns exec "$NS_A" ping -q -c 1 -W 5 "$UNDER_B" >/dev/null || die "the underlay veth passes no traffic"
}

# write_config FILE N SIDE: one tunnel, N sessions; session I sends ID
# 10000+I from side a and 20000+I from side b, on TAP sI.
write_config() {
	local file=$1 n=$2 side=$3 i tx rx src dst
	if [[ $side == a ]]; then src=$UNDER_A dst=$UNDER_B; else src=$UNDER_B dst=$UNDER_A; fi
	{
		printf '[[tunnel]]\nsrc = "%s"\ndst = "%s"\nudp = true\nsrcport = %d\ndstport = %d\n' \
			"$src" "$dst" "$PORT" "$PORT"
		for ((i = 0; i < n; i++)); do
			if [[ $side == a ]]; then tx=$((10000 + i)) rx=$((20000 + i)); else tx=$((20000 + i)) rx=$((10000 + i)); fi
			printf '  [[tunnel.session]]\n  txsession = %d\n  rxsession = %d\n  ifname = "s%d"\n' "$tx" "$rx" "$i"
		done
	} >"$file"
}

# start_l2tap NS CONFIG N LOG COUNTERS: runs l2tap and waits for N ready
# lines.  Sets L2TAP_PID, and SETUP_S (seconds) or SETUP_ERR.
start_l2tap() {
	local ns=$1 conf=$2 n=$3 logf=$4 counters=$5 t0 ready=0 deadline
	SETUP_S= SETUP_ERR=
	: >"$logf"
	t0=$(now)
	ip netns exec "$ns" "$L2TAP_BIN" -config "$conf" </dev/null >"$counters" 2>"$logf" &
	L2TAP_PID=$!
	STARTED[$L2TAP_PID]=1
	deadline=$((SECONDS + SETUP_TIMEOUT))
	while :; do
		ready=$(grep -c '^l2tap: ready' "$logf" || true)
		((ready < n)) || break
		if ! alive "$L2TAP_PID"; then
			stop_pid "$L2TAP_PID" || true
			SETUP_ERR="exited after $(elapsed "$t0" "$(now)")s: $(grep -v '^l2tap: ready' "$logf" | tail -n 1)"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			SETUP_ERR="$ready of $n ready after ${SETUP_TIMEOUT}s"
			return 1
		fi
		sleep 0.02
	done
	SETUP_S=$(elapsed "$t0" "$(now)")
}

# stop_l2tap PID: SIGTERM and time the exit; sets STOP_S.
stop_l2tap() {
	local t0 rc=0
	t0=$(now)
	stop_pid "$1" "$STOP_TIMEOUT" || rc=$?
	STOP_S=$(elapsed "$t0" "$(now)")
	if ((rc != 0)); then
		log "l2tap pid $1 exited with status $rc"
		STOP_S="$STOP_S(killed)"
		FAILED=1
	fi
}

# links_up NS N: brings TAPs s0..sN-1 up in one ip -batch.
links_up() {
	local i
	for ((i = 0; i < $2; i++)); do echo "link set s$i up"; done | ip -n "$1" -batch -
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }

# goroutines PID LOG: SIGUSR1 and wait for the "goroutines N" line it logs.
goroutines() {
	local pid=$1 logf=$2 before i
	before=$(grep -c 'goroutines' "$logf" || true)
	kill -USR1 "$pid"
	for ((i = 0; i < 100; i++)); do
		if (($(grep -c 'goroutines' "$logf" || true) > before)); then
			grep 'goroutines' "$logf" | tail -n 1 | awk '{ print $NF }'
			return
		fi
		sleep 0.05
	done
	echo "?"
}

# ping_session I: addresses on sI both sides, then pings across it.
ping_session() {
	local i=$1 a b
	a="10.$((100 + i / 250)).$((i % 250)).1"
	b="10.$((100 + i / 250)).$((i % 250)).2"
	ip -n "$NS_A" addr add "$a/24" dev "s$i"
	ip -n "$NS_B" addr add "$b/24" dev "s$i"
	ip netns exec "$NS_A" ping -q -c 3 -i 0.2 -w 10 "$b" >/dev/null
}

declare -A ROW=() # results by "N key"

# scale_one N: one row of the table.
scale_one() {
	local n=$1 dir=$RAW/n$1 pa pb
	mkdir -p "$dir"
	write_config "$dir/a.toml" "$n" a
	write_config "$dir/b.toml" "$n" b
	log "$n sessions: starting side a"
	if ! start_l2tap "$NS_A" "$dir/a.toml" "$n" "$dir/a.log" "$dir/a.counters"; then
		ROW[$n err]="side a: $SETUP_ERR"
		FAILED=1
		[[ -z ${STARTED[$L2TAP_PID]:-} ]] || stop_pid "$L2TAP_PID" || true
		return
	fi
	pa=$L2TAP_PID
	ROW[$n setup_a]=$SETUP_S
	log "$n sessions: side a ready in ${SETUP_S}s, starting side b"
	if ! start_l2tap "$NS_B" "$dir/b.toml" "$n" "$dir/b.log" "$dir/b.counters"; then
		ROW[$n err]="side b: $SETUP_ERR"
		FAILED=1
		[[ -z ${STARTED[$L2TAP_PID]:-} ]] || stop_pid "$L2TAP_PID" || true
		stop_l2tap "$pa"
		return
	fi
	pb=$L2TAP_PID
	ROW[$n setup_b]=$SETUP_S
	links_up "$NS_A" "$n"
	links_up "$NS_B" "$n"
	ROW[$n ping]=ok
	if ! ping_session 0 || { ((n > 1)) && ! ping_session $((n - 1)); }; then
		ROW[$n ping]=FAIL
		FAILED=1
	fi
	sleep 2 # idle: let the pings' buffers go back before reading the RSS
	ROW[$n rss_a]=$(rss_kb "$pa")
	ROW[$n rss_b]=$(rss_kb "$pb")
	ROW[$n fds]=$(fds "$pa")
	ROW[$n threads]=$(awk '/^Threads:/ { print $2 }' "/proc/$pa/status")
	ROW[$n goroutines]=$(goroutines "$pa" "$dir/a.log")
	stop_l2tap "$pb"
	stop_l2tap "$pa"
	ROW[$n stop]=$STOP_S
	log "$n sessions: rss ${ROW[$n rss_a]} kB, fds ${ROW[$n fds]}, goroutines ${ROW[$n goroutines]}, stop ${STOP_S}s"
}

# iperf_bps NS DST OUTJSON: one TCP stream; prints received bits/s.
iperf_bps() {
	timeout $((DURATION + 30)) ip netns exec "$1" iperf3 -c "$2" -t "$DURATION" -J >"$3" 2>&1 ||
		die "iperf3 to $2 from $1 failed: $(tail -n 3 "$3")"
	python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$3"
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
gbps() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1e9 }'; }

SINGLE=() AGG=()

# throughput: BUSY sessions, each TAP in its own namespace pair.
throughput() {
	local dir=$RAW/busy pa pb i r pids sum bps
	mkdir -p "$dir"
	write_config "$dir/a.toml" "$BUSY" a
	write_config "$dir/b.toml" "$BUSY" b
	start_l2tap "$NS_A" "$dir/a.toml" "$BUSY" "$dir/a.log" "$dir/a.counters" || die "throughput phase, side a: $SETUP_ERR"
	pa=$L2TAP_PID
	start_l2tap "$NS_B" "$dir/b.toml" "$BUSY" "$dir/b.log" "$dir/b.counters" || die "throughput phase, side b: $SETUP_ERR"
	pb=$L2TAP_PID
	for ((i = 0; i < BUSY; i++)); do
		add_ns "bsa$i"
		add_ns "bsb$i"
		ip -n "$NS_A" link set "s$i" netns "bsa$i"
		ip -n "$NS_B" link set "s$i" netns "bsb$i"
		ip -n "bsa$i" addr add "10.77.$i.1/24" dev "s$i"
		ip -n "bsb$i" addr add "10.77.$i.2/24" dev "s$i"
		ip -n "bsa$i" link set "s$i" up
		ip -n "bsb$i" link set "s$i" up
		ip netns exec "bsb$i" iperf3 -s >"$dir/server$i.log" 2>&1 </dev/null &
		STARTED[$!]=1
	done
	for ((i = 0; i < BUSY; i++)); do
		ip netns exec "bsa$i" ping -q -c 3 -i 0.2 -w 10 "10.77.$i.2" >/dev/null ||
			die "session $i passes no traffic after its TAPs moved to bsa$i/bsb$i"
		for ((r = 0; r < 100; r++)); do
			[[ -n $(ip netns exec "bsb$i" ss -Hltn 'sport = :5201') ]] && break
			sleep 0.05
		done
	done
	for ((r = 1; r <= RUNS; r++)); do
		bps=$(iperf_bps bsa0 10.77.0.2 "$dir/single-r$r.json")
		SINGLE+=("$bps")
		pids=()
		for ((i = 0; i < BUSY; i++)); do
			iperf_bps "bsa$i" "10.77.$i.2" "$dir/agg-r$r-s$i.json" >"$dir/agg-r$r-s$i.bps" &
			pids+=($!)
		done
		for i in "${pids[@]}"; do wait "$i" || die "an iperf3 client of the aggregate test failed"; done
		sum=0
		for ((i = 0; i < BUSY; i++)); do sum=$((sum + $(cat "$dir/agg-r$r-s$i.bps"))); done
		AGG+=("$sum")
		log "run $r: one session $(gbps "$bps") Gbit/s, $BUSY sessions $(gbps "$sum") Gbit/s"
	done
	ROW[busy_fds]=$(fds "$pa")
	ROW[busy_goroutines]=$(goroutines "$pa" "$dir/a.log")
	stop_l2tap "$pb"
	stop_l2tap "$pa"
	grep '^session ' "$dir/a.counters" >"$dir/a.sessions" || true
}

report() {
	local n base per
	base=${ROW[1 rss_a]:-}
	printf '# l2tap scale: one UDP tunnel, N sessions, one l2tap per side (%s, %s CPUs, %s)\n' \
		"$(uname -r)" "$(nproc)" "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	printf '%9s %9s %9s %10s %11s %6s %8s %11s %7s %5s\n' sessions setup_a_s setup_b_s rss_a_kB "kB/session" fds threads goroutines stop_s ping
	for n in $SCALE_NS; do
		if [[ -n ${ROW[$n err]:-} ]]; then
			printf '%9s  FAILED: %s\n' "$n" "${ROW[$n err]}"
			continue
		fi
		per=-
		if ((n > 1)) && [[ -n $base ]]; then
			per=$(awk -v r="${ROW[$n rss_a]}" -v b="$base" -v n="$n" 'BEGIN { printf "%.1f", (r - b) / (n - 1) }')
		fi
		printf '%9s %9s %9s %10s %11s %6s %8s %11s %7s %5s\n' "$n" "${ROW[$n setup_a]}" "${ROW[$n setup_b]}" \
			"${ROW[$n rss_a]}" "$per" "${ROW[$n fds]}" "${ROW[$n threads]}" "${ROW[$n goroutines]}" "${ROW[$n stop]}" "${ROW[$n ping]}"
	done
	if ((${#SINGLE[@]})); then
		local s a
		s=$(median "${SINGLE[@]}")
		a=$(median "${AGG[@]}")
		printf '\n# TCP, one stream per session, %d runs of %ds, medians (Gbit/s)\n' "$RUNS" "$DURATION"
		printf 'one session alone:          %s   (runs: %s)\n' "$(gbps "$s")" "$(for x in "${SINGLE[@]}"; do gbps "$x"; printf ' '; done)"
		printf '%d sessions at once, sum:    %s   (runs: %s)\n' "$BUSY" "$(gbps "$a")" "$(for x in "${AGG[@]}"; do gbps "$x"; printf ' '; done)"
		printf 'aggregate / single:         %s\n' "$(awk -v a="$a" -v s="$s" 'BEGIN { printf "%.2f", a / s }')"
		printf 'with %d sessions busy: fds %s, goroutines %s\n' "$BUSY" "${ROW[busy_fds]}" "${ROW[busy_goroutines]}"
	fi
}

main() {
	local n
	check_env
	mkdir -p "$OUT"
	rm -rf "$RAW"
	mkdir -p "$RAW"
	build_l2tap
	make_underlay
	for n in $SCALE_NS; do
		scale_one "$n"
	done
	throughput
	report | tee "$OUT/scale.txt"
	((FAILED == 0)) || die "some session counts failed (see above and $RAW)"
}

main "$@"
