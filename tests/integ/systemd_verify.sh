# SPDX-License-Identifier: Apache-2.0
# systemd_verify: the units as `make install` writes them pass
# `systemd-analyze verify` without a single warning (their binaries, man
# pages and dependencies all found), the sysusers file creates every user
# and group the units name, and the configuration the service starts with
# is valid.
# run alone: `make install` reads and writes the build under test
# (tests/run.sh runs it after the others, by itself).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/make_install.sh"

command -v systemd-analyze >/dev/null ||
    fail "systemd-analyze not found: run tools/deps.sh (package systemd)"
command -v systemd-sysusers >/dev/null ||
    fail "systemd-sysusers not found: run tools/deps.sh (package systemd)"
command -v man >/dev/null ||
    fail "man not found: run tools/deps.sh (package man-db)"

# PREFIX inside $T: ExecStart= then names a binary that exists.
P=$T/usr
make_target install PREFIX="$P"
U=$P/lib/systemd/system
for f in walld.service walld.socket; do
	[ -f "$U/$f" ] || fail "$U/$f not installed"
done
grep -qx "ExecStart=$P/sbin/walld --config $P/etc/walld/walld.yaml" \
    "$U/walld.service" || fail "ExecStart= not rewritten for PREFIX=$P"

# Verify; man(1) finds the pages of Documentation= through MANPATH.
verify() {
	MANPATH=$P/share/man systemd-analyze verify --recursive-errors=yes "$@" \
	    >"$T/verify.out" 2>&1
}
verify "$U/walld.socket" "$U/walld.service" || {
	cat "$T/verify.out" >&2; fail "systemd-analyze verify failed"; }
[ ! -s "$T/verify.out" ] || {
	cat "$T/verify.out" >&2; fail "systemd-analyze verify warned"; }
ok "systemd-analyze verify: walld.socket and walld.service clean"

# The check is not vacuous: a broken copy is reported.
mkdir "$T/bad"
sed -e "s|^ExecStart=$P/sbin/walld|ExecStart=$T/no/walld|" \
    -e 's|^ProtectHome=yes|ProtectHome=maybe|' "$U/walld.service" \
    >"$T/bad/walld.service"
cp "$U/walld.socket" "$T/bad/"
verify "$T/bad/walld.socket" "$T/bad/walld.service" && [ ! -s "$T/verify.out" ] &&
    fail "systemd-analyze verify accepted a missing ExecStart binary"
grep -q "no/walld" "$T/verify.out" || fail "no complaint about the missing binary"
grep -q "maybe" "$T/verify.out" || fail "no complaint about ProtectHome=maybe"
ok "systemd-analyze verify reports a broken copy"

# The sysusers file, applied to an empty root, creates what the units name.
S=$T/sysroot
mkdir -p "$S/etc"
systemd-sysusers --root="$S" "$P/lib/sysusers.d/walld.conf" >"$T/sysusers.out" 2>&1 || {
    cat "$T/sysusers.out" >&2; fail "systemd-sysusers refused walld.conf"; }
for key in User Group SocketUser SocketGroup; do
	for v in $(sed -n "s/^$key=//p" "$U/walld.service" "$U/walld.socket"); do
		case $key in
		*User)	db=passwd ;;
		*)	db=group ;;
		esac
		grep -q "^$v:" "$S/etc/$db" || fail "$key=$v: not created by walld.conf"
	done
done
grep -q "^walld:x:[0-9]*:[0-9]*:[^:]*:/var/lib/walld:/usr/sbin/nologin$" \
    "$S/etc/passwd" || fail "walld user: $(grep ^walld: "$S/etc/passwd")"
grep -q "^walld-clients:" "$S/etc/group" || fail "no walld-clients group"
ok "walld.conf (sysusers) creates the walld user and groups the units name"

# ExecReload's first line (walld --check-config on the installed file).
check=$(sed -n 's/^ExecReload=\(.*--check-config.*\)/\1/p' "$U/walld.service")
[ -n "$check" ] || fail "no ExecReload= with --check-config"
$check >"$T/check.out" 2>&1 || { cat "$T/check.out" >&2; fail "$check"; }
ok "the installed configuration passes walld --check-config"
