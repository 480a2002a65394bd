#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# cross_arm64: engine/crc32c.c built for arm64 with Debian's cross
# compiler runs under qemu-user: the ARMv8 CRC32C instructions give the
# published vectors and the same CRC as the table, on CPUs with the CRC
# extension; the table-only path (built for x86-64 with CRC32C_PORTABLE,
# as on an architecture without the instruction) gives them too. Then the
# Check suites, cross-built for arm64 against Debian's arm64 libraries, run
# under qemu-user (in the plain build's pass only; see below).
. "$(dirname "$0")/lib.sh"

CC_ARM=aarch64-linux-gnu-gcc
QEMU=/usr/bin/qemu-aarch64-static
command -v $CC_ARM >/dev/null || fail "$CC_ARM missing (tools/deps.sh installs gcc-aarch64-linux-gnu)"
[ -x $QEMU ] || fail "$QEMU missing (tools/deps.sh installs qemu-user-static)"

SRC="$WALD_TOP/tests/cross/crc32c_vectors.c $WALD_TOP/engine/crc32c.c"
FLAGS="-O2 -std=gnu11 -Wall -Wextra -Werror -I$WALD_TOP/engine -pthread"

$CC_ARM $FLAGS -static -o "$T/crc_arm64" $SRC || fail "arm64 build failed"
file_out=$(od -An -tx1 -j18 -N2 "$T/crc_arm64" | tr -d ' ')
[ "$file_out" = "b700" ] || fail "not an arm64 ELF (e_machine $file_out)"
out=$($QEMU -cpu max "$T/crc_arm64") || fail "arm64: $out"
echo "$out" | grep -q "hardware CRC-32C: yes" || fail "arm64: the CRC extension was not used: $out"
ok "arm64 (qemu, CRC extension): vectors and hardware == table"

cc $FLAGS -DCRC32C_PORTABLE -o "$T/crc_portable" $SRC || fail "portable build failed"
out=$("$T/crc_portable") || fail "portable: $out"
echo "$out" | grep -q "hardware CRC-32C: no" || fail "portable: $out"
ok "table only: vectors"

# The Check suites for arm64. Debian 12's libevent-dev is not Multi-Arch:
# same, so libevent-dev:arm64 cannot be installed beside the amd64 one
# the native build needs; the arm64 -dev packages are downloaded instead,
# with apt-get's own state kept under $X (the machine's apt and dpkg are
# left alone: no foreign architecture added), and unpacked into a sysroot
# kept between runs.
case $(basename "$B") in
build-san)
	echo "note: the arm64 Check suites run in the plain build's pass only (CI time)"
	exit 0 ;;
esac
X=$B/cross-arm64
S=$X/sysroot
MA=aarch64-linux-gnu
if [ ! -f "$S/.complete" ]; then
	rm -rf "$X/apt" "$S"
	mkdir -p "$X/apt/lists/partial" "$X/apt/cache/archives/partial" "$S" ||
	    fail "mkdir $X/apt"
	: >"$X/apt/status" || fail "$X/apt/status"
	{
		echo 'APT::Architecture "arm64";'
		echo 'APT::Architectures { "arm64"; };'
		echo 'APT::Install-Recommends "false";'
		echo "Dir::State::Lists \"$X/apt/lists\";"
		echo "Dir::State::status \"$X/apt/status\";"
		echo "Dir::Cache \"$X/apt/cache\";"
		echo 'Debug::NoLocking "true";'
	} >"$X/apt/apt.conf" || fail "$X/apt/apt.conf"
	APT_CONFIG=$X/apt/apt.conf apt-get update -q >"$T/apt.log" 2>&1 ||
	    { cat "$T/apt.log" >&2; fail "apt-get update (arm64)"; }
	APT_CONFIG=$X/apt/apt.conf apt-get install -q -y --download-only \
	    libevent-dev libssl-dev libyaml-dev libnats-dev check >"$T/apt.log" 2>&1 ||
	    { cat "$T/apt.log" >&2; fail "apt-get download of the arm64 -dev packages"; }
	for d in "$X"/apt/cache/archives/*.deb; do
		dpkg-deb -x "$d" "$S" || fail "dpkg-deb -x $d"
	done
	: >"$S/.complete" || fail "$S/.complete"
fi
L=$S/usr/lib/$MA
UNITS=
for u in "$TOP"/tests/unit/check_*.c; do
	UNITS="$UNITS $X/b/tests/$(basename "$u" .c)"
done
start=$(date +%s)
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    PKG_CONFIG_SYSROOT_DIR="$S" PKG_CONFIG_LIBDIR="$L/pkgconfig" \
    make -s -j2 -C "$TOP" B="$X/b" CC=$CC_ARM WERROR=1 \
    CPPFLAGS="-isystem $S/usr/include -isystem $S/usr/include/$MA" \
    LDFLAGS="-L$L -Wl,-rpath-link,$L" $UNITS "$X/b/walld" >"$T/make.log" 2>&1 ||
    { tail -n 30 "$T/make.log" >&2; fail "cross-building the Check suites for arm64"; }
ok "arm64: walld and $(echo $UNITS | wc -w) Check suites cross-built in $(( $(date +%s) - start )) s"

# check_libwal starts $WALD_BUILD/walld: qemu-user hands an exec to the
# kernel, which has no binfmt_misc entry for arm64 here, so walld is a
# script that runs it under qemu.
mkdir "$T/wrap" || fail "mkdir $T/wrap"
printf '#!/bin/sh\nexec %s -cpu max %s "$@"\n' "$QEMU" "$X/b/walld" >"$T/wrap/walld" &&
    chmod 0755 "$T/wrap/walld" || fail "$T/wrap/walld"
# check_wal and check_powerloss sample what they sweep natively: their
# torn tail at every 16th byte of the record (329 s under qemu on the
# shared 2-core machine at every byte; 28 s so), and the power cut before
# every 8th call, one cut each (past 600 s at every call, 3 each; 48 s so).
# The plain native pass sweeps every byte and call; the engine code is the
# same C on both architectures but for CRC-32C, which the vectors above
# and check_crc32c, check_crypt and check_restore cover in full.
for t in $UNITS; do
	name=$(basename "$t")
	case $name in
	check_wal) sample="WALD_TORN_STRIDE=16" ;;
	check_powerloss) sample="WALD_POWERLOSS_STRIDE=8 WALD_POWERLOSS_TRIALS=1" ;;
	*) sample= ;;
	esac
	start=$(date +%s)
	st=0
	(cd "$TOP" && env $sample WALD_TOP=$TOP WALD_BUILD=$T/wrap \
	    QEMU_LD_PREFIX=/usr/$MA LD_LIBRARY_PATH=$L CK_TIMEOUT_MULTIPLIER=5 \
	    $QEMU -cpu max "$t") >"$T/$name.log" 2>&1 || st=$?
	[ $st = 0 ] || { tail -n 20 "$T/$name.log" >&2; fail "arm64 $name: exit status $st"; }
	ok "arm64 $name${sample:+ ($sample)}: $(tail -n 1 "$T/$name.log") ($(( $(date +%s) - start )) s)"
done
