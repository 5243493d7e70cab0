#!/bin/bash
# Build the kernel-peer guest image: a stock Debian kernel plus a small
# initramfs carrying busybox, iproute2's ip (with the shared libraries it
# needs) and the L2TPv3 / virtio-net modules with their dependency closure.
#
# Everything is taken from Debian packages fetched with `apt-get download`
# and cached in .cache/ next to this script. A second run downloads nothing
# and repacks only if this script or the guest init changed.
#
# Outputs (paths printed on success, one per line as KEY=PATH):
#   .cache/out/vmlinuz          the kernel
#   .cache/out/initramfs.cpio.gz the initramfs
#
# Environment:
#   KP_CACHE  cache directory (default: <script dir>/.cache)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${KP_CACHE:-$here/.cache}
debs=$cache/debs
root=$cache/root        # small packages extracted here, one directory per package
out=$cache/out
stage=$cache/stage

# Modules the guest loads explicitly; their dependencies are added below.
want_modules=(
	virtio_pci virtio_net
	l2tp_core l2tp_netlink l2tp_eth l2tp_ip l2tp_ip6 l2tp_debugfs
	udp_tunnel ip6_udp_tunnel
)

# Packages whose files go into the image. The kernel image package is
# resolved from the linux-image-amd64 metapackage.
base_pkgs=(busybox-static iproute2 ethtool libc6 libbpf1 libelf1 libmnl0 libbsd0 libcap2 zlib1g libmd0)

log() { echo "build.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in apt-get dpkg-deb ldd sha256sum gzip flock; do
	command -v "$tool" >/dev/null || die "required tool '$tool' not found"
done

mkdir -p "$debs" "$root" "$out"

# Serialise concurrent builds sharing the cache.
exec 9>"$cache/.lock"
flock 9

# fetch PKG: download PKG's .deb into $debs unless a copy is already there.
# Runs `apt-get update` once if the first attempt fails.
updated=0
fetch() {
	local pkg=$1
	if compgen -G "$debs/${pkg}_*.deb" >/dev/null; then
		return 0
	fi
	log "downloading $pkg"
	if ! (cd "$debs" && apt-get download "$pkg" >/dev/null 2>&1); then
		if [ "$updated" = 0 ]; then
			log "apt-get download $pkg failed; running apt-get update"
			apt-get update >/dev/null 2>&1 || die "apt-get update failed"
			updated=1
		fi
		(cd "$debs" && apt-get download "$pkg" >/dev/null 2>&1) ||
			die "apt-get download $pkg failed"
	fi
	compgen -G "$debs/${pkg}_*.deb" >/dev/null || die "no .deb for $pkg after download"
}

# extract PKG: unpack PKG's cached .deb into $root/PKG once.
extract() {
	local pkg=$1 deb
	[ -d "$root/$pkg" ] && return 0
	deb=$(ls "$debs/${pkg}"_*.deb | head -n1)
	rm -rf "$root/$pkg.tmp"
	mkdir -p "$root/$pkg.tmp"
	dpkg-deb -x "$deb" "$root/$pkg.tmp" || die "dpkg-deb -x $deb failed"
	mv "$root/$pkg.tmp" "$root/$pkg"
}

# Resolve the versioned kernel package (e.g. linux-image-6.1.0-56-amd64).
fetch linux-image-amd64
meta=$(ls "$debs"/linux-image-amd64_*.deb | head -n1)
kpkg=$(dpkg-deb -f "$meta" Depends | tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -n1)
[ -n "$kpkg" ] || die "cannot find the kernel package in $meta's Depends"

fetch "$kpkg"
for pkg in "${base_pkgs[@]}"; do
	fetch "$pkg"
	extract "$pkg"
done

# Repack only when the inputs changed.
stamp=$( (cat "$0" "$here/init"; echo "$kpkg"; ls "$debs") | sha256sum | cut -d' ' -f1)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] &&
	[ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.cpio.gz" ]; then
	echo "VMLINUZ=$out/vmlinuz"
	echo "INITRAMFS=$out/initramfs.cpio.gz"
	exit 0
fi

# The kernel package unpacks to ~400 MB: keep it only while packing.
kroot=$cache/kernel
trap 'rm -rf "$kroot" "$stage"' EXIT
rm -rf "$kroot"
mkdir -p "$kroot"
dpkg-deb -x "$(ls "$debs/${kpkg}"_*.deb | head -n1)" "$kroot" || die "dpkg-deb -x $kpkg failed"
vmlinuz=$(ls "$kroot"/boot/vmlinuz-* | head -n1)
moddir=$(ls -d "$kroot"/lib/modules/* | head -n1)
[ -f "$vmlinuz" ] || die "no vmlinuz in $kpkg"
[ -d "$moddir" ] || die "no modules directory in $kpkg"

rm -rf "$stage"
mkdir -p "$stage"/{bin,sbin,lib/modules,lib/x86_64-linux-gnu,lib64,dev,proc,sys,tmp,run,etc}

# Busybox provides the shell and the userland; applet links are made by init.
cp "$root/busybox-static/bin/busybox" "$stage/bin/busybox"
cp "$here/init" "$stage/init"
chmod 755 "$stage/init" "$stage/bin/busybox"

# iproute2's ip (busybox's ip knows nothing about l2tp) and its libraries.
ipbin=$root/iproute2/bin/ip
[ -x "$ipbin" ] || ipbin=$root/iproute2/sbin/ip
[ -x "$ipbin" ] || die "no ip binary in iproute2"
cp "$ipbin" "$stage/sbin/ip"

# find_lib NAME: print the path of the regular file NAME resolves to inside
# the extracted packages, following symlinks within the package tree.
find_lib() {
	local name=$1 pkg hit tgt i
	for pkg in "${base_pkgs[@]}"; do
		hit=$(find "$root/$pkg" -name "$name" \( -type f -o -type l \) 2>/dev/null | head -n1)
		[ -n "$hit" ] || continue
		for i in 1 2 3 4 5; do
			[ -L "$hit" ] || break
			tgt=$(readlink "$hit")
			case $tgt in
			/*) hit=$root/$pkg$tgt ;;
			*) hit=$(dirname "$hit")/$tgt ;;
			esac
		done
		if [ -f "$hit" ] && [ ! -L "$hit" ]; then
			echo "$hit"
			return 0
		fi
	done
	return 1
}

# ldd prints "soname => /host/path (addr)" and the interpreter as "/path (addr)".
while read -r line; do
	case $line in
	*linux-vdso*) continue ;;
	*"=>"*) name=$(echo "$line" | awk '{print $1}'); hostpath=$(echo "$line" | awk '{print $3}') ;;
	/*) hostpath=$(echo "$line" | awk '{print $1}'); name=$(basename "$hostpath") ;;
	*) continue ;;
	esac
	if ! src=$(find_lib "$name"); then
		log "warning: $name not in the downloaded packages; using the host's $hostpath"
		src=$hostpath
	fi
	[ -f "$src" ] || die "cannot find library $name"
	cp -L "$src" "$stage/lib/x86_64-linux-gnu/$name"
	if [ "$name" = ld-linux-x86-64.so.2 ]; then
		cp -L "$src" "$stage/lib64/$name"
	fi
done < <(ldd "$ipbin")
[ -f "$stage/lib64/ld-linux-x86-64.so.2" ] || die "dynamic loader not found for ip"

# ethtool (for `ethtool -k`: the offloads a guest's NIC took) and the
# libraries it needs beyond ip's, from the downloaded packages.
cp "$root/ethtool/sbin/ethtool" "$stage/sbin/ethtool" || die "no ethtool binary in ethtool"
while read -r name; do
	[ -f "$stage/lib/x86_64-linux-gnu/$name" ] && continue
	src=$(find_lib "$name") || die "ethtool needs $name, not in the downloaded packages"
	cp -L "$src" "$stage/lib/x86_64-linux-gnu/$name"
done < <(ldd "$stage/sbin/ethtool" | awk '/=>/ {print $1}')

# Module dependency closure, from each module's depends= field, in load order.
declare -A modpath=() loaded=()
while read -r f; do
	b=$(basename "$f")
	b=${b%%.ko*}
	modpath[$b]=$f
	modpath[${b//-/_}]=$f
done < <(find "$moddir/kernel" -name '*.ko*')

order=()
add_module() {
	local m=${1//-/_} f deps d
	[ -n "${loaded[$m]:-}" ] && return 0
	f=${modpath[$m]:-}
	[ -n "$f" ] || die "module $m not found in $kpkg"
	loaded[$m]=1
	case $f in
	*.ko) deps=$(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | head -n1) ;;
	*.ko.xz) deps=$(xz -dc "$f" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n1) ;;
	*.ko.zst) deps=$(zstd -dc "$f" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n1) ;;
	*.ko.gz) deps=$(gzip -dc "$f" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n1) ;;
	*) die "unknown module format $f" ;;
	esac
	for d in ${deps//,/ }; do
		add_module "$d"
	done
	case $f in
	*.ko) cp "$f" "$stage/lib/modules/$m.ko" ;;
	*.ko.xz) xz -dc "$f" >"$stage/lib/modules/$m.ko" ;;
	*.ko.zst) zstd -dc "$f" >"$stage/lib/modules/$m.ko" ;;
	*.ko.gz) gzip -dc "$f" >"$stage/lib/modules/$m.ko" ;;
	esac
	order+=("$m")
}
for m in "${want_modules[@]}"; do
	add_module "$m"
done
printf '%s\n' "${order[@]}" >"$stage/lib/modules/load-order"
log "modules: ${order[*]}"

# The kernel opens /dev/console before running /init.
if [ "$(id -u)" = 0 ]; then
	mknod -m 600 "$stage/dev/console" c 5 1
fi

(cd "$stage" && find . | "$stage/bin/busybox" cpio -o -H newc 2>/dev/null) | gzip -9 >"$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
cp "$vmlinuz" "$out/vmlinuz"
echo "$stamp" >"$out/stamp"
log "built $(du -h "$out/initramfs.cpio.gz" | cut -f1) initramfs for $kpkg"
echo "VMLINUZ=$out/vmlinuz"
echo "INITRAMFS=$out/initramfs.cpio.gz"
