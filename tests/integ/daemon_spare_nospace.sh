# SPDX-License-Identifier: Apache-2.0
# A request that waits for the next segment while the preparer thread is
# still making it, and the preparer then finds the disk full: the request
# gets NO_SPACE (walctl exit 75) as soon as that is known, not a wait until
# the disk has room again (the preparer retries every second, for ever).
# The disk is made full by tests/shims/failopen.c: while $T/full exists,
# opening spare.tmp takes 1.5 s (so the second request comes while the
# spare is being prepared) and then fails with ENOSPC. Before the fix,
# walld woke the waiting requests only when a spare was made: the second
# rotate below waited until walctl's timeout.
. "$(dirname "$0")/lib.sh"

SHIM=$B/tests/libfailopen.so
[ -f "$SHIM" ] || fail "$SHIM is not built (make tests)"
# The shim comes before ASan's runtime in the sanitizer build.
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0

WALD_FAILOPEN_PATH=spare.tmp WALD_FAILOPEN_ERRNO=28 \
    WALD_FAILOPEN_IF="$T/full" WALD_FAILOPEN_DELAY_MS=1500 \
    LD_PRELOAD="$SHIM" start_walld
"$WALCTL" append "before" >/dev/null || fail "append before"

: >"$T/full" || fail "touch $T/full"
# The first rotate moves into the spare made at start; the preparer is
# then asked for the next one, and stays 1.5 s in its open.
"$WALCTL" rotate >/dev/null || fail "rotate into the spare made at start"
# The new segment takes appends meanwhile (a rotate of an empty segment
# would need no spare).
"$WALCTL" append "during" >/dev/null || fail "append into the new segment"
st=0
timeout 20 "$WALCTL" rotate >/dev/null 2>"$T/err" || st=$?
expect_eq "rotate while the next spare fails: exit" $st 75
grep -q "no space" "$T/err" || fail "rotate: $(cat "$T/err")"
ok "a rotate waiting for a spare the disk has no room for: NO_SPACE, not a wait"

# Room again: the preparer's next try succeeds, and rotations go on.
rm -f "$T/full"
i=0
until "$WALCTL" rotate >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "rotate refused 10 s after the disk had room"
	sleep 0.1
done
"$WALCTL" append "after" >/dev/null || fail "append after"
expect_eq "records" "$("$WALCTL" read | sed 's/.*data=//' | tr '\n' ' ')" \
    '"before" "during" "after" '
stop_walld || fail "walld exit status $?"
ok "room again: rotations and appends go on, nothing lost"
