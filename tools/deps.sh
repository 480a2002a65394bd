#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages walld needs to build and test, when missing:
# with apt-get when root, otherwise it prints the exact command and fails.
pkgs="build-essential pkg-config libevent-dev libssl-dev libyaml-dev check"
# Replication into NATS JetStream: the C client (docs/REPLICATION.md).
pkgs="$pkgs libnats-dev"
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
