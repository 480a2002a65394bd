#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages walld needs, when missing: with apt-get when
# root, otherwise it prints the exact command and fails.
#   tools/deps.sh build   what `make` and `make run` need: a C compiler,
#                         pkg-config and the four libraries walld links
#   tools/deps.sh test    that, and what `make check` needs besides (the
#                         default): Check, the test tools, the packaging
#                         tools of tests/integ/deb_package.sh
# README.md, "Dependencies", lists both sets.
set=${1:-test}
case $set in
build|test) ;;
*) echo "usage: tools/deps.sh [build | test]" >&2; exit 64 ;;
esac

# build: libevent, libyaml, OpenSSL's libcrypto, and the NATS C client for
# replication into NATS JetStream (docs/REPLICATION.md). debian/control's
# Build-Depends are the same list.
pkgs="build-essential pkg-config libevent-dev libssl-dev libyaml-dev libnats-dev"

if [ "$set" = test ]; then
# The unit tests: Check.
pkgs="$pkgs check"
# The replication tests and `make run-cluster`: a real three-node JetStream
# cluster on 127.0.0.1 (tests/helpers/nats-cluster.sh); the restore tests.
pkgs="$pkgs nats-server"
# The arm64 check (tests/integ/cross_arm64.sh): Debian's cross compiler
# and qemu-user, to run the ARMv8 CRC32C path on this machine.
pkgs="$pkgs gcc-aarch64-linux-gnu qemu-user-static"
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
# The Rust client (rust/, tests/integ/client_rust.sh): Debian's cargo and
# rustc (rustdoc comes with rustc).
pkgs="$pkgs cargo rustc"
# The Python client (python/, tests/integ/client_python.sh): Debian's
# python3 with pytest, and pip, setuptools and wheel to install the package
# offline (pip --no-build-isolation).
pkgs="$pkgs python3 python3-pytest python3-pip python3-setuptools python3-wheel"
# The Debian package (tests/integ/deb_package.sh): dpkg-buildpackage
# (dpkg-dev), debhelper, lintian; fakeroot is not needed
# (Rules-Requires-Root: no).
pkgs="$pkgs dpkg-dev debhelper lintian"
fi

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps ($set): installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# apt-get's own lines stay visible: what it installs, and why it fails.
	apt-get update -q && apt-get install -y -q $missing || {
		echo "deps: apt-get install failed" >&2; exit 1; }
else
	echo "deps ($set): missing packages; run:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
