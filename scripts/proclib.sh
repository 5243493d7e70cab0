# Process and namespace bookkeeping shared by the benchmark scripts, which
# source this file after setting LOG_TAG. Everything a script starts in the
# background goes into STARTED (pid -> 1), every namespace it makes into
# CREATED_NS; on exit, however it exits, cleanup stops the one and deletes
# the other.

declare -A STARTED=() # background processes started here and not yet reaped
CREATED_NS=()         # namespaces created here

log() { printf '%s: %s\n' "$LOG_TAG" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$LOG_TAG" "$*" >&2
	exit 1
}

# alive PID: true while PID exists and is not a zombie.
alive() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[[ ${st%% *} != Z ]]
}

# wait_exit PID SECONDS: wait for PID to exit; false on timeout.
wait_exit() {
	local pid=$1 i
	for ((i = 0; i < $2 * 20; i++)); do
		alive "$pid" || return 0
		sleep 0.05
	done
	! alive "$pid"
}

# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (5); reap it.
# Returns the exit status of the process (ours are all children of this
# shell).
stop_pid() {
	local pid=$1 secs=${2:-5} rc=0
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		if ! wait_exit "$pid" "$secs"; then
			log "pid $pid ignored SIGTERM, killing"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || rc=$?
	unset "STARTED[$pid]" # reaped: the number may now belong to someone else
	return "$rc"
}

cleanup() {
	local rc=$? pid ns
	set +e
	trap - EXIT INT TERM
	for pid in "${!STARTED[@]}"; do
		stop_pid "$pid"
	done
	for ns in "${CREATED_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
