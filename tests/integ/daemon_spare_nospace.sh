# SPDX-License-Identifier: Apache-2.0
# A request that waits for the next segment while the preparer thread is
# still making it, and the preparation then fails: the request is refused
# as soon as that is known, not kept waiting until the disk recovers (the
# preparer retries every second, for ever). A full disk gives NO_SPACE, any
# other error (here EIO) BUSY naming it; both say nothing was written, and
# walctl exits 75 for both.
# The failure comes from tests/shims/failopen.c: while $T/full exists,
# opening spare.tmp takes 1.5 s (so the second request comes while the
# spare is being prepared) and then fails with the errno given. Before the
# fix, walld woke the waiting requests only when a spare was made (the
# second rotate below waited until walctl's timeout), and after an error
# other than ENOSPC it kept them waiting for as long as the error lasted.
. "$(dirname "$0")/lib.sh"

SHIM=$B/tests/libfailopen.so
[ -f "$SHIM" ] || fail "$SHIM is not built (make tests)"
# The shim comes before ASan's runtime in the sanitizer build.
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0

# refused ERRNO MESSAGE: the scenario on a fresh data directory; MESSAGE
# is what walctl must print for the refused rotate.
refused() {
	rm -rf "$DATA" "$T/full"
	WALD_FAILOPEN_PATH=spare.tmp WALD_FAILOPEN_ERRNO=$1 \
	    WALD_FAILOPEN_IF="$T/full" WALD_FAILOPEN_DELAY_MS=1500 \
	    LD_PRELOAD="$SHIM" start_walld
	"$WALCTL" append "before" >/dev/null || fail "append before"

	: >"$T/full" || fail "touch $T/full"
	# The first rotate moves into the spare made at start; the preparer
	# is then asked for the next one, and stays 1.5 s in its open.
	"$WALCTL" rotate >/dev/null || fail "rotate into the spare made at start"
	# The new segment takes appends meanwhile (a rotate of an empty
	# segment would need no spare).
	"$WALCTL" append "during" >/dev/null ||
	    fail "append into the new segment"
	st=0
	timeout 20 "$WALCTL" rotate >/dev/null 2>"$T/err" || st=$?
	expect_eq "rotate while the next spare fails with errno $1: exit" $st 75
	grep -q "$2" "$T/err" || fail "rotate: $(cat "$T/err")"
	# Appends that need no new segment still go on meanwhile.
	"$WALCTL" append "meanwhile" >/dev/null ||
	    fail "append while the spare fails"
	ok "errno $1: a rotate waiting for a spare that fails is refused: $2"

	# The error gone: the preparer's next try succeeds, and rotations go
	# on.
	rm -f "$T/full"
	i=0
	until "$WALCTL" rotate >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "rotate refused 10 s after the error ended"
		sleep 0.1
	done
	"$WALCTL" append "after" >/dev/null || fail "append after"
	expect_eq "records" \
	    "$("$WALCTL" read | sed 's/.*data=//' | tr '\n' ' ')" \
	    '"before" "during" "meanwhile" "after" '
	stop_walld || fail "walld exit status $?"
	ok "errno $1 gone: rotations and appends go on, nothing lost"
}

refused 28 "no space"
refused 5 "could not be prepared: Input/output error"
