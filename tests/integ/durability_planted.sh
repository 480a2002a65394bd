# SPDX-License-Identifier: Apache-2.0
# The tests' own test: a build with a planted durability bug (make
# PLANT=1, -DWALD_PLANT_EARLY_ACK: a batch is acknowledged without its
# fdatasync) must make the durability suites fail, loudly. Builds into
# build-planted/ (without the sanitizers: the bug is what is under test),
# then runs on it:
#   - check_powerloss, which checks every acknowledgement as it happens:
#     it must fail at the first one;
#   - check_powerloss with that check off, power cuts alone: a cut must
#     lose an acknowledged record;
#   - durability_fiu.sh against the planted walld: appends must go on
#     being acknowledged while every fdatasync fails, and the suite must
#     say so;
#   - powerloss_daemon.sh against the planted walld: the image a power
#     cut leaves must lack acknowledged records or hold them damaged,
#     and the suite must say so.
# `make check-planted` runs this alone.
. "$(dirname "$0")/lib.sh"

unset MAKEFLAGS MFLAGS MAKELEVEL
P=$TOP/build-planted
make -C "$TOP" PLANT=1 SANITIZE= build-planted/tests/check_powerloss \
    build-planted/walld build-planted/walctl build-planted/tests/walload \
    build-planted/tests/libpowercut.so \
    >"$T/build.log" 2>&1 || {
	tail -n 30 "$T/build.log" >&2
	fail "the planted build failed"
}
[ -x "$P/tests/check_powerloss" ] || fail "nothing was built"
# The failing runs leave their directories: in $T, removed at the end.
export WALD_POWERLOSS_DIR=$T

# A failure of the test: the Check line that says which and why.
failure() {	# LOG
	grep -m 1 ':F:' "$1" | sed 's/^.*:F:/F:/' | cut -c 1-400
}

if CK_RUN_CASE=cut "$P/tests/check_powerloss" >"$T/pl1" 2>&1; then
	cat "$T/pl1"
	fail "check_powerloss passed on the planted build"
fi
grep -q "acknowledgement before fdatasync" "$T/pl1" || {
	cat "$T/pl1"
	fail "check_powerloss failed on the planted build, but not on the bug"
}
ok "check_powerloss catches it: $(failure "$T/pl1")"

if WALD_POWERLOSS_NO_ACK_CHECK=1 CK_RUN_CASE=cut "$P/tests/check_powerloss" \
    >"$T/pl2" 2>&1; then
	cat "$T/pl2"
	fail "check_powerloss (power cuts alone) passed on the planted build"
fi
grep -q "power cut" "$T/pl2" || {
	cat "$T/pl2"
	fail "check_powerloss (power cuts alone) failed, but not after a cut"
}
ok "power cuts alone catch it: $(failure "$T/pl2")"

command -v fiu-run >/dev/null || fail "fiu-run not found: run tools/deps.sh"
if WALD_BUILD=$P sh "$TOP/tests/integ/durability_fiu.sh" >"$T/fiu" 2>&1; then
	cat "$T/fiu"
	fail "durability_fiu passed on the planted build"
fi
grep -q "acknowledged while" "$T/fiu" || {
	cat "$T/fiu"
	fail "durability_fiu failed on the planted build, but not on the bug"
}
ok "durability_fiu catches it: $(grep -m 1 '^FAIL' "$T/fiu" | cut -c 1-300)"

if WALD_BUILD=$P sh "$TOP/tests/integ/powerloss_daemon.sh" >"$T/pcut" 2>&1
then
	cat "$T/pcut"
	fail "powerloss_daemon passed on the planted build"
fi
# The bug shows in one of two ways, by where the cut falls: an
# acknowledged record is missing, or (flushes no longer ordered by a
# sync) walctl verify finds an acknowledged record damaged below a later
# flush that reached the disk.
grep -q "lost an acknowledged record\|acknowledged data is damaged" "$T/pcut" || {
	tail -n 40 "$T/pcut"
	fail "powerloss_daemon failed on the planted build, but not on the bug"
}
ok "powerloss_daemon catches it: $(grep -m 1 '^FAIL' "$T/pcut" | cut -c 1-300)"
