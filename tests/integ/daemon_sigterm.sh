# SIGTERM while clients append: walld stops accepting, finishes and
# acknowledges what it took, exits 0, and every acknowledged record is in
# the log.
. "$(dirname "$0")/lib.sh"

start_walld
"$B/tests/walload" run -s "$SOCK" -o "$T/ack" -P 4 -n 0 -d 32 &
lpid=$!
sleep 1
stop_walld TERM || fail "walld exited $? on SIGTERM, want 0"
wait "$lpid" || fail "walload"
n=$(cat "$T"/ack.* | wc -l)
[ "$n" -gt 0 ] || fail "no append was acknowledged in 1 s"
"$B/tests/walload" check -D "$DATA" "$T"/ack.* || fail "log check"
grep -q "stopping" "$LOG" || fail "no stop line in the log"
ok "SIGTERM drained $n acknowledged appends, exit 0"
