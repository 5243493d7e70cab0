// Package kernelpeer runs l2tap against the Linux kernel's own L2TPv3
// Ethernet pseudowire (l2tp_eth) and checks that the two interoperate.
//
// The host kernel need not have any L2TP support: the kernel peer is a
// stock Debian kernel booted in QEMU from a small initramfs (see build.sh
// and init). The guest's virtio NIC is backed by a TAP device inside a
// private network namespace, where l2tap also runs, so the underlay
// 192.0.2.0/24 and 2001:db8::/64 never touches the host's own network.
//
//	netns kp-<pid>                         QEMU guest (Debian kernel)
//	  kptap0 192.0.2.1, 2001:db8::1  <--->  eth0 192.0.2.2, 2001:db8::2
//	  l2tap TAP kpl2tap0 10.77.0.1          l2tpeth0 10.77.0.2
//
// The guest serves shell commands on a second serial port; Guest.Run sends
// one and returns its output and exit status.
//
// The tests need root, qemu-system-x86_64, ip and ping on the host and
// Debian's apt to fetch the guest's packages. With CI=true a missing
// prerequisite fails the run; otherwise the tests are skipped.
package kernelpeer
