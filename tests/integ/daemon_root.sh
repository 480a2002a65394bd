# SPDX-License-Identifier: Apache-2.0
# walld refuses to run as root without --allow-root (exit 78, nothing
# made), and starts with it; a client that goes away with replies unread
# (its socket reset) is a normal end, not logged above debug level.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" = 0 ]; then
	st=0
	"$WALLD" --socket "$SOCK" --data-dir "$DATA" >"$T/out" 2>&1 || st=$?
	expect_eq "walld as root without --allow-root: exit" $st 78
	grep -qx "walld: running as root is refused: run as the walld user (as walld.service does), or pass --allow-root" "$T/out" ||
		fail "the refusal: $(cat "$T/out")"
	[ -e "$DATA" ] && fail "walld made $DATA before refusing"
	[ -e "$SOCK" ] && fail "walld made $SOCK before refusing"
	"$WALLD" --check-config >/dev/null || fail "--check-config as root refused"
	ok "as root: refused without --allow-root (78), nothing made; --check-config works"
else
	ok "not root: the refusal cannot be tried here (skipped)"
fi

start_walld	# with --allow-root when root (lib.sh)
head -c 1000 /dev/zero | tr '\0' x >"$T/rec"
i=0
while [ $i -lt 3000 ]; do cat "$T/rec"; echo; i=$((i + 1)); done |
	"$WALCTL" append --lines >/dev/null || fail append
# walctl stops reading its socket when its stdout (a pipe) is full, and
# dies of SIGPIPE when the pipe's reader exits: walld's socket is reset
# with a megabyte of replies unread.
for n in 1 2 3; do
	"$WALCTL" read --follow 2>/dev/null | sleep 0.3
done
"$WALCTL" ping || fail "walld is not serving"
grep -E "connection [0-9]+ \(pid [0-9]+\): (Connection reset|Broken pipe)" "$LOG" &&
	fail "a client's reset is logged"
grep -E "^([0-9T:.Z-]+ )?walld: (error|warning):" "$LOG" && fail "errors or warnings in the log"
stop_walld || fail "stop"
ok "clients that went away with replies unread: nothing logged"
