#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# bench-deps.sh: the Debian packages `make bench` needs beyond the build's
# (tools/deps.sh), when missing: with apt-get when root, otherwise it
# prints the exact command and fails. Not run by `make run` or
# `make check`: only the benchmark loads these systems.
#
# The peers walbench drives (bench/peers.sh, issue 26): Redis 7 (the
# server, and redis-cli to empty its stream between runs); PostgreSQL 15
# (the server) and libpq's headers; SQLite's headers and its shell (the
# report names its version). walbench is rebuilt with libpq and SQLite
# once their headers are there (the Makefile's bench-peers.flags).
pkgs="redis-server redis-tools postgresql libpq-dev libsqlite3-dev sqlite3"
# The cipher's own rate beside figure 6 (openssl speed); the fsync count
# of bench/run.sh (strace).
pkgs="$pkgs openssl strace"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "bench-deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq $missing >/dev/null || {
		echo "bench-deps: apt-get install failed" >&2; exit 1; }
else
	echo "bench-deps: missing packages; run:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
