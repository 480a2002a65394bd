# SPDX-License-Identifier: Apache-2.0
# walctl sync, rotate, truncate, stats, ping, seal, verify: their output
# and exit codes, and how the socket is chosen (-s before or after the
# command, $WALLD_SOCKET).
. "$(dirname "$0")/lib.sh"
start_walld

"$WALCTL" append "one" >/dev/null || fail append
l2=$("$WALCTL" append "two") || fail append
expect_eq "sync" "$("$WALCTL" sync)" "$l2"
l3=$("$WALCTL" append "three") || fail append
expect_eq "rotate" "$("$WALCTL" rotate)" $((l3 + 1))
l4=$("$WALCTL" append "four") || fail append
expect_eq "rotate again" "$("$WALCTL" rotate)" $((l4 + 1))
l5=$("$WALCTL" append "UNIQUEPAYLOAD-five") || fail append
expect_eq "sync after rotations" "$("$WALCTL" sync)" "$l5"
ok "sync and rotate print LSNs"

# stats: "name value" lines; --json: one object, numbers as numbers and
# LSNs as strings (walctl(1), "JSON").
"$WALCTL" stats >"$T/stats" || fail stats
grep -qv '^[a-z0-9_]* [^ ].*$' "$T/stats" && fail "stats line not 'name value': $(grep -v '^[a-z0-9_]* ' "$T/stats" | head -1)"
expect_eq "next_lsn" "$(awk '$1 == "next_lsn" { print $2 }' "$T/stats")" $((l5 + 1))
"$WALCTL" stats --json >"$T/stats.json" || fail "stats --json"
expect_eq "stats --json lines" "$(wc -l <"$T/stats.json")" 1
grep -q '^{"[a-z0-9_]*":.*}$' "$T/stats.json" || fail "stats --json: $(cat "$T/stats.json")"
grep -q "\"next_lsn\":\"$((l5 + 1))\"[,}]" "$T/stats.json" || fail "stats --json next_lsn"
ok "stats and stats --json"

# truncate: whole segments below the LSN go; reading them is out of range.
first=$("$WALCTL" truncate --before "$l4") || fail truncate
[ "$first" -le "$l4" ] && [ "$first" -gt 1 ] || fail "truncate printed $first"
st=0; "$WALCTL" read --from 1 >/dev/null 2>"$T/err" || st=$?
expect_eq "read below the first LSN (EX_NOINPUT, as read --dir)" $st 66
expect_eq "read from the first LSN" "$("$WALCTL" read --from "$first" | tail -n 1 | cut -d' ' -f1)" "lsn=$l5"
st=0; "$WALCTL" truncate 2>/dev/null || st=$?
expect_eq "truncate without --before" $st 64
ok "truncate --before prints the new first LSN"

# The truncated segments' files are kept (storage.recycle_segments, 4 by
# default) and become the next segments, written over without being
# zeroed: the log reads the same, and verify notes nothing.
stat_of() { "$WALCTL" stats | awk -v k="$1" '$1 == k { print $2 }'; }
held=$(stat_of recycled_segments_held)
[ "$held" -ge 1 ] || fail "no truncated segment kept: held $held"
expect_eq "kept files" "$(ls "$DATA" | grep -c '^recycle-[0-9]\{20\}\.tmp$')" "$held"
l6=$("$WALCTL" append "six") || fail append
"$WALCTL" rotate >/dev/null || fail rotate
l7=$("$WALCTL" append "seven") || fail append
"$WALCTL" rotate >/dev/null || fail rotate
l8=$("$WALCTL" append "eight") || fail append
[ "$(stat_of segments_recycled_total)" -ge 1 ] || fail "no segment made from a kept file: $(cat "$LOG" | tail -5)"
expect_eq "read across reused files" "$("$WALCTL" read --from "$first" | cut -d' ' -f1 | tr '\n' ' ')" "lsn=$l4 lsn=$l5 lsn=$l6 lsn=$l7 lsn=$l8 "
"$WALCTL" verify --dir "$DATA" >"$T/verify" 2>&1 || fail "verify: $(cat "$T/verify")"
grep -q "^note" "$T/verify" && fail "verify notes: $(cat "$T/verify")"
ok "truncated segments' files are reused for new segments"

# The socket: -s before or after the command, or $WALLD_SOCKET.
"$WALCTL" -s "$SOCK" ping || fail "-s before the command"
"$WALCTL" ping -s "$SOCK" || fail "-s after the command"
"$WALCTL" --socket "$SOCK" ping || fail "--socket"
WALLD_SOCKET=$T/none "$WALCTL" ping --socket "$SOCK" || fail "--socket over the env"
st=0; WALLD_SOCKET=$T/none "$WALCTL" ping 2>"$T/err" || st=$?
expect_eq "ping to nothing" $st 69
grep -q "^walctl: .*$T/none" "$T/err" || fail "unreachable message: $(cat "$T/err")"
for cmd in "append x" sync seal rotate "truncate --before 1" read stats; do
	st=0; "$WALCTL" -s "$T/none" $cmd >/dev/null 2>&1 || st=$?
	expect_eq "$cmd to nothing" $st 69
done
ok "socket selection; 69 when walld cannot be reached"

# Help and usage.
"$WALCTL" --help >"$T/help" || fail "--help"
grep -q "EX_TEMPFAIL" "$T/help" || fail "--help does not list exit codes"
"$WALCTL" append --help | grep -q "^usage: walctl" || fail "append --help"
st=0; "$WALCTL" 2>/dev/null || st=$?
expect_eq "no command" $st 64
st=0; "$WALCTL" frobnicate 2>/dev/null || st=$?
expect_eq "unknown command" $st 64
st=0; "$WALCTL" sync extra 2>/dev/null || st=$?
expect_eq "extra argument" $st 64
ok "help and usage errors"

# Permission denied: 77 (only when root can become another user).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$T"
	st=0
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$WALCTL" -s "$SOCK" ping 2>"$T/err" || st=$?
	expect_eq "ping as nobody" $st 77
	ok "77 when permission is denied"
fi

# seal: prints the last LSN; every later append fails with "sealed", 73.
expect_eq "seal" "$("$WALCTL" seal)" "$l8"
st=0; "$WALCTL" append "late" 2>"$T/err" || st=$?
expect_eq "append after seal" $st 73
grep -q "^walctl: append: .*sealed" "$T/err" || fail "sealed message: $(cat "$T/err")"
st=0; echo x | "$WALCTL" append --lines >/dev/null 2>"$T/err" || st=$?
expect_eq "append --lines after seal" $st 73
grep -q "sealed" "$T/err" || fail "sealed message (--lines): $(cat "$T/err")"
"$WALCTL" ping || fail "ping after seal"
ok "seal: later appends exit 73"

# verify: 0 on a clean directory, 65 on damage.
stop_walld || fail "walld exit status $?"
"$WALCTL" verify --dir "$DATA" >"$T/verify" || fail "verify clean: $(cat "$T/verify")"
hit=$(grep -l "UNIQUEPAYLOAD" "$DATA"/* 2>/dev/null | head -n 1)
[ -n "$hit" ] || fail "no segment holds the payload"
off=$(grep -obUa "UNIQUEPAYLOAD" "$hit" | head -n 1 | cut -d: -f1)
printf 'X' | dd of="$hit" bs=1 seek="$off" conv=notrunc 2>/dev/null
st=0; "$WALCTL" verify --dir "$DATA" >"$T/verify" 2>&1 || st=$?
expect_eq "verify damaged" $st 65
# Without --dir, verify asks walld (tests/integ/scrub.sh): stopped here.
st=0; "$WALCTL" verify 2>/dev/null || st=$?
expect_eq "verify without --dir, walld stopped" $st 69
ok "verify: 0 clean, 65 damaged"
