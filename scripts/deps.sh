#!/usr/bin/env bash
# Installs the Debian packages that the demo, the tests and the benchmarks
# run: QEMU (an l2tpv3 peer and the kernel-peer VM), iperf3, iproute2, ping,
# setpriv (util-linux), ethtool (to switch underlay offloads off),
# systemd-analyze (to check the service unit), qemu-user (to run the tests
# built for other architectures, make cross), groff (to check the manual
# page), zsh (to check its completion), ifupdown (to test the
# /etc/network/interfaces hook; installing it starts nothing and leaves
# running interfaces alone), dpdk-dev (dpdk-testpmd, a vhost-user frontend
# for the -vhost-user tests), tshark (to decode -pcap captures), nftables (to lose
# control packets at random in the keepalive tests), make and
# matplotlib for the benchmark chart; dpkg-dev, debhelper and lintian to
# build and check the Debian package (make deb), adduser for its postinst
# and man-db to find its manual page once installed.
set -euo pipefail
pkgs=(qemu-system-x86 qemu-user dpdk-dev iperf3 iproute2 iputils-ping util-linux ethtool systemd groff-base zsh ifupdown tshark nftables make python3 python3-matplotlib dpkg-dev debhelper lintian adduser man-db)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark's wireshark-common asks whether to install dumpcap setuid: no.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
