#!/bin/sh
# Installs the Debian packages walld needs to build and test, when missing:
# with apt-get when root, otherwise it prints the exact command and fails.
pkgs="build-essential pkg-config libevent-dev libssl-dev libyaml-dev check"
# Replication into NATS JetStream: the C client (docs/REPLICATION.md).
pkgs="$pkgs libnats-dev"
# The restore tests (tests/integ/repl_restore.sh): a JetStream server.
pkgs="$pkgs nats-server"
# The systemd and install tests: systemd-analyze, systemd-socket-activate,
# systemd-sysusers; man(1) for verify's Documentation= check; groff for
# the man pages; strace for the system call filter.
pkgs="$pkgs systemd man-db groff-base strace"
# The durability tests: fiu-run and fiu-ctrl (libfiu's fault injection),
# mkfs.ext4 for the full-disk test's loop-mounted file system.
pkgs="$pkgs fiu-utils libfiu-dev e2fsprogs"
# The fuzz targets (tests/fuzz/): clang, with libFuzzer and the sanitizer
# runtimes; the access tests: setpriv (util-linux), useradd (passwd).
pkgs="$pkgs clang libclang-rt-14-dev util-linux passwd"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq $missing >/dev/null || {
		echo "deps: apt-get install failed" >&2; exit 1; }
else
	echo "deps: missing packages; run:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
