# SPDX-License-Identifier: Apache-2.0
# SIGTERM while clients append: walld stops accepting, finishes and
# acknowledges what it took, exits 0, and every acknowledged record is in
# the log.
. "$(dirname "$0")/lib.sh"

start_walld
"$B/tests/walload" run -s "$SOCK" -o "$T/ack" -P 4 -n 0 -d 32 &
lpid=$!
# A second of load, once the clients are getting acknowledgements (on a
# loaded machine they may take longer than that to connect).
i=0
while ! cat "$T"/ack.* 2>/dev/null | grep -q .; do
	kill -0 "$lpid" 2>/dev/null || fail "walload exited"
	i=$((i + 1))
	[ $i -lt 200 ] || fail "no append was acknowledged in 10 s"
	sleep 0.05
done
sleep 1
stop_walld TERM || fail "walld exited $? on SIGTERM, want 0"
wait "$lpid" || fail "walload"
n=$(cat "$T"/ack.* | wc -l)
[ "$n" -gt 0 ] || fail "no append was acknowledged"
"$B/tests/walload" check -D "$DATA" "$T"/ack.* || fail "log check"
grep -q "stopping" "$LOG" || fail "no stop line in the log"
ok "SIGTERM drained $n acknowledged appends, exit 0"
