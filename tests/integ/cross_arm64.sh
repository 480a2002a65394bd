#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# cross_arm64: engine/crc32c.c built for arm64 with Debian's cross
# compiler runs under qemu-user: the ARMv8 CRC32C instructions give the
# published vectors and the same CRC as the table, on CPUs with the CRC
# extension; the table-only path (built for x86-64 with CRC32C_PORTABLE,
# as on an architecture without the instruction) gives them too.
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
