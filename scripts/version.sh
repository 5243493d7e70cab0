#!/bin/sh
# Prints the version of this source tree as NAME=VALUE lines, for the
# Makefile to stamp into l2tap (-ldflags -X) and into its Debian package:
#
#   version=     git describe --tags --always --dirty
#   commit=      the full commit hash, with +dirty for a modified work tree
#   date=        the commit's date, RFC 3339 in UTC
#   epoch=       the same as seconds since 1970 (SOURCE_DATE_EPOCH)
#   debversion=  the Debian package version derived from them:
#                  tag v1.2.3 on the commit        1.2.3
#                  5 commits after v1.2.3          1.2.3+git5.abcdef1
#                  no tag (or none like vN...)     0~git20261130.182946.abcdef1
#                  modified work tree              the above with +dirty
#                A Debian version must start with a digit, and the ~ sorts
#                every untagged build before 0, so the first tag (v0.1.0,
#                or any vN...) upgrades them all; the date and time of the
#                commit (UTC) keep untagged builds in commit order. Tags
#                are not pushed by the build: a clone without tags gets
#                the 0~git form.
#
# In a git clone (or worktree) of this repository the values come from git.
# Elsewhere, as in a tarball made by 'git archive', from the file VERSION,
# which git archive fills in (export-subst in .gitattributes) with
# "SHORTHASH HASH EPOCH DESCRIBE" (DESCRIBE empty without tags).
set -eu
cd "$(dirname "$0")/.."
fail() {
	echo "version.sh: $*" >&2
	exit 1
}

top=$(git rev-parse --show-toplevel 2>/dev/null || true)
if [ -n "$top" ] && [ "$(cd "$top" && pwd -P)" = "$(pwd -P)" ]; then
	describe=$(git describe --tags --always --dirty)
	commit=$(git rev-parse HEAD)
	epoch=$(git log -1 --format=%ct HEAD)
	short=$(git rev-parse --short HEAD)
elif [ -r VERSION ] && ! grep -q 'Format:' VERSION; then
	read -r short commit epoch describe <VERSION || true
	[ -n "$describe" ] || describe=$short
else
	fail "neither a git clone nor a tarball with a filled-in VERSION file (make one with git archive)"
fi
case $commit$epoch in
*[!0-9a-f]*) fail "commit $commit or date $epoch is not a hash and a number" ;;
esac

dirty=
case $describe in
*-dirty)
	dirty=+dirty
	commit=$commit+dirty
	;;
esac
tagged=${describe%-dirty}
# Debian's upstream version: digits first; a tag's - becomes ~ (1.0-rc1 sorts before 1.0).
# Without a tag, describe --always gives the abbreviated hash (which may
# start with a digit).
case $commit in
"$tagged"*) tagged= ;;
esac
deb=$(echo "$tagged" | sed -n \
	-e 's/^v\{0,1\}\([0-9][0-9A-Za-z.~+-]*\)-\([0-9][0-9]*\)-g\([0-9a-f]*\)$/\1 \2 \3/p' \
	-e 't' -e 's/^v\{0,1\}\([0-9][0-9A-Za-z.~+-]*\)$/\1/p')
set -- $deb
case $# in
3) deb="$(echo "$1" | tr - '~')+git$2.$3" ;;
1) deb=$(echo "$1" | tr - '~') ;;
*) deb="0~git$(date -u -d "@$epoch" +%Y%m%d.%H%M%S).$short" ;;
esac

echo "version=$describe"
echo "commit=$commit"
echo "date=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
echo "epoch=$epoch"
echo "debversion=$deb$dirty"
echo "short=$short"
