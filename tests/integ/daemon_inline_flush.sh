# SPDX-License-Identifier: Apache-2.0
# daemon_inline_flush: small batches are written by the event loop itself,
# large ones by the flusher thread (daemon/batcher.c, DESIGN.md "Group
# commit"), and either way an acknowledged record survives kill -9.
# - 16 clients with one append in flight each: the loop writes batches of
#   more than one record itself (batch_records_inline_total above
#   fsyncs_inline_total; before, only one-record batches were);
# - one client pipelining 256 appends: batches of more than 64 records go
#   to the flusher (more fsyncs than inline ones after it);
# - the first load again, killed with SIGKILL in the middle: every
#   acknowledged record is in the log, intact, after recovery.
. "$(dirname "$0")/lib.sh"

start_walld
"$B/tests/walload" run -s "$SOCK" -o "$T/ack.a" -P 16 -n 300 -d 1 \
	-a 16 -b 256 || fail "walload: 16 clients"
inl=$(stat_of fsyncs_inline_total)
inl_rec=$(stat_of batch_records_inline_total)
all=$(stat_of fsyncs_total)
echo "16 x 1: $all fsyncs, $inl of them on the loop, holding $inl_rec records"
[ "$inl" -gt 0 ] || fail "no batch was written on the loop"
[ "$inl_rec" -gt "$inl" ] ||
	fail "the loop wrote only one-record batches ($inl_rec records in $inl)"
ok "small batches of several records are written on the loop"

"$B/tests/walload" run -s "$SOCK" -o "$T/ack.b" -P 1 -n 5000 -d 256 \
	-a 16 -b 256 || fail "walload: one pipelining client"
inl2=$(stat_of fsyncs_inline_total)
all2=$(stat_of fsyncs_total)
echo "1 x 256: $((all2 - all)) fsyncs, $((inl2 - inl)) on the loop"
[ $((all2 - all)) -gt $((inl2 - inl)) ] ||
	fail "no batch of the pipelined load went to the flusher"
ok "large batches go to the flusher"

stop_walld TERM || fail "walld did not stop cleanly"
"$B/tests/walload" check -D "$DATA" -x -a 16 -b 256 "$T"/ack.a.* "$T"/ack.b.* ||
	fail "log check after a clean stop"
ok "both loads intact after a clean stop"

start_walld
"$B/tests/walload" run -s "$SOCK" -o "$T/ack.c" -P 16 -n 0 -d 1 \
	-a 16 -b 256 >/dev/null 2>&1 &
lpid=$!
i=0
while [ "$(cat "$T"/ack.c.* 2>/dev/null | wc -l)" -lt 2000 ]; do
	kill -0 "$lpid" 2>/dev/null || fail "walload exited before the kill"
	i=$((i + 1))
	[ $i -lt 600 ] || fail "fewer than 2000 appends acknowledged in 30 s"
	sleep 0.05
done
inl=$(stat_of fsyncs_inline_total)
kill -KILL "$WALLD_PID"
wait "$WALLD_PID" 2>/dev/null
WALLD_PID=
wait "$lpid" 2>/dev/null
n=$(cat "$T"/ack.c.* | wc -l)
echo "killed after $n acknowledged appends ($inl batches written on the loop)"
[ "$inl" -gt 0 ] || fail "no batch was written on the loop before the kill"
"$B/tests/walload" check -D "$DATA" -a 16 -b 256 \
	"$T"/ack.a.* "$T"/ack.b.* "$T"/ack.c.* ||
	fail "log check after kill -9"
ok "kill -9 during inline flushes: every acknowledged record intact"
