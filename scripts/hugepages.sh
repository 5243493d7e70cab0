#!/usr/bin/env bash
# Huge pages for a DPDK frontend (dpdk-testpmd) in the tests and benchmarks:
# the one place that reserves 2 MiB huge pages, mounts a hugetlbfs of its
# own for them, and gives both back.
#
#   hugepages.sh reserve MIB WORK   make sure MIB MiB of free 2 MiB huge pages
#                                   exist, reserving only those missing, and
#                                   mount a hugetlbfs at WORK/huge; prints
#                                   that directory (testpmd's --huge-dir)
#   hugepages.sh release WORK       unmount what reserve mounted, give back
#                                   the pages it reserved, remove its state
#
# WORK is a directory of the caller's own (a test's temporary directory);
# reserve keeps what it did in WORK/hugepages.state, so release undoes that
# and nothing else: another user's pages and mounts are left alone, and
# nr_hugepages goes back to its value before reserve unless someone else
# changed it meanwhile (then only the pages reserve added are taken off).
# Both are idempotent: a second reserve with enough pages free and the mount
# in place changes nothing, a release without state does nothing. Changes of
# nr_hugepages are serialised with flock, so that two callers at once do not
# lose each other's. A reserve that cannot get the pages gives back what it
# added and fails. Needs root.
set -euo pipefail

SYS=/sys/kernel/mm/hugepages/hugepages-2048kB
# The lock is taken on the pool's sysfs directory itself, opened read-only:
# a lock file in a world-writable directory (/run/lock, /tmp) would be a
# path another account could plant a link at.
LOCK=$SYS

die() {
	echo "hugepages.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: hugepages.sh reserve MIB WORK | release WORK" >&2
	exit 2
}

# is_hugetlbfs DIR: DIR is a hugetlbfs mount point.
is_hugetlbfs() {
	[[ $(stat -f -c %T "$1" 2>/dev/null) == hugetlbfs ]] && mountpoint -q "$1"
}

# State: ADDED (pages this WORK's reserve added to nr_hugepages) and MOUNTED
# (1 if it mounted WORK/huge).
load_state() {
	ADDED=0 MOUNTED=0
	if [[ -f $STATE ]]; then
		# shellcheck source=/dev/null
		source "$STATE"
	fi
}

save_state() {
	printf 'ADDED=%d\nMOUNTED=%d\n' "$ADDED" "$MOUNTED" >"$STATE.new"
	mv "$STATE.new" "$STATE"
}

# with_lock CMD...: CMD run holding the lock on nr_hugepages.
with_lock() {
	local fd
	exec {fd}<"$LOCK"
	flock "$fd"
	"$@"
	exec {fd}>&-
}

# add_pages NEED: NEED pages free, the missing ones added to nr_hugepages
# (the kernel may find fewer: what it added is what is recorded).
add_pages() {
	local need=$1 free before after
	free=$(<"$SYS/free_hugepages")
	((free < need)) || return 0
	before=$(<"$SYS/nr_hugepages")
	echo $((before + need - free)) >"$SYS/nr_hugepages" || true
	after=$(<"$SYS/nr_hugepages")
	if ((after > before)); then
		ADDED=$((ADDED + after - before))
		save_state
	fi
	free=$(<"$SYS/free_hugepages")
	if ((free < need)); then
		give_back
		die "$need free huge pages of 2 MiB wanted, $free after reserving (memory too fragmented or in use): free some, or reserve them at boot (hugepages=N)"
	fi
}

# give_back: the pages this WORK added taken off nr_hugepages again. Pages
# still in use become surplus pages, freed by the kernel when released.
give_back() {
	local now
	((ADDED > 0)) || return 0
	now=$(<"$SYS/nr_hugepages")
	echo $((now > ADDED ? now - ADDED : 0)) >"$SYS/nr_hugepages"
	ADDED=0
	save_state
}

reserve() {
	local mib=$1 need
	[[ $mib =~ ^[1-9][0-9]*$ ]] || die "reserve $mib: want a number of MiB, such as 256"
	[[ -d $SYS ]] || die "$SYS missing: this kernel has no 2 MiB huge pages (CONFIG_HUGETLBFS)"
	need=$(((mib + 1) / 2))
	load_state
	with_lock add_pages "$need"
	mkdir -p "$WORK/huge"
	if ! is_hugetlbfs "$WORK/huge"; then
		if ! mount -t hugetlbfs -o pagesize=2M nodev "$WORK/huge"; then
			with_lock give_back
			die "mount -t hugetlbfs on $WORK/huge failed"
		fi
		MOUNTED=1
		save_state
	fi
	echo "$WORK/huge"
}

release() {
	load_state
	if ((MOUNTED)) && is_hugetlbfs "$WORK/huge"; then
		# A frontend killed before it cleaned up leaves its files.
		find "$WORK/huge" -mindepth 1 -delete
		umount "$WORK/huge"
		rmdir "$WORK/huge"
		MOUNTED=0
		save_state
	fi
	with_lock give_back
	rm -f "$STATE"
}

[[ $# -ge 2 ]] || usage
cmd=$1
WORK=${!#}
[[ -d $WORK ]] || die "$WORK: not a directory"
WORK=$(cd "$WORK" && pwd)
STATE=$WORK/hugepages.state
case $cmd in
reserve)
	[[ $# -eq 3 ]] || usage
	reserve "$2"
	;;
release)
	[[ $# -eq 2 ]] || usage
	release
	;;
*) usage ;;
esac
