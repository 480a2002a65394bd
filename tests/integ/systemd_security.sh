# SPDX-License-Identifier: Apache-2.0
# systemd_security: `systemd-analyze security --offline=yes` rates the
# installed walld.service at an overall exposure of 2.0 or lower (0 is
# best, 10 worst), and the sandbox settings it rests on are in place.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/make_install.sh"

command -v systemd-analyze >/dev/null ||
    fail "systemd-analyze not found: run tools/deps.sh (package systemd)"
MAX=2.0

P=$T/usr
make_target install PREFIX="$P"
unit=$P/lib/systemd/system/walld.service

# --threshold=100: the exit status stays 0 whatever the score; we judge it.
systemd-analyze security --offline=yes --threshold=100 "$unit" \
    >"$T/security.out" 2>&1 || { cat "$T/security.out" >&2;
    fail "systemd-analyze security failed"; }
score=$(sed -n 's/.*Overall exposure level for walld\.service: \([0-9][0-9.]*\).*/\1/p' \
    "$T/security.out")
[ -n "$score" ] || { cat "$T/security.out" >&2; fail "no exposure level in the output"; }
echo "settings that still count against walld.service:"
grep "^✗" "$T/security.out" | sed 's/  */ /g'
awk -v s="$score" -v m="$MAX" 'BEGIN { exit !(s + 0 <= m + 0) }' ||
    fail "exposure level $score, want <= $MAX"
ok "exposure level $score (<= $MAX)"

# What the score rests on: a change here must be deliberate.
for want in User=walld NoNewPrivileges=yes CapabilityBoundingSet= \
    ProtectSystem=strict RestrictAddressFamilies=AF_UNIX PrivateNetwork=yes \
    SystemCallFilter=@system-service SystemCallArchitectures=native \
    MemoryDenyWriteExecute=yes UMask=0077; do
	grep -qx "$want" "$unit" || fail "walld.service lacks $want"
done
ok "the sandbox settings are in place"
