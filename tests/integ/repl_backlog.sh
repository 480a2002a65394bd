# repl_backlog: replication.backlog_bytes holds from walld's start
# (PROTOCOL.md REPL_BACKLOG, docs/REPLICATION.md "Backlog").
#
# walld starts while every NATS server is down (so nothing has been
# replicated since its start), with backlog_bytes at its minimum, 1 MiB,
# and backlog_records far away: appends of 64 KiB go on until about
# 1 MiB waits to be replicated, then are refused with exit 75 (nothing
# written), saying backlog_bytes; stats show the backlog in records and
# bytes. With the servers back the backlog drains, appends are taken again, and the
# stream is the log.
#
# What makes it fail: a byte limit applied only once the stream has
# acknowledged something since walld started (appends go on past 1 MiB:
# more than 17 taken), or not at all; a refusal that wrote its record; a
# backlog that counts the whole log while the stream has not been reached
# since the start (every append refused at once).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/repl-lib.sh"

t_start=$(now_ms)
repl_start_cluster
for n in 1 2 3; do
	nats_node_stop $n || rfail "stop n$n"
done
repl_yaml "$T/r.yaml" "timeout: 2s" "backlog_bytes: 1MiB" "backlog_records: 1000"
start_walld --config "$T/r.yaml"
head -c 65536 /dev/zero | tr '\0' b >"$T/rec"

# append_until_refused MAX: appends $T/rec until one is refused (at most
# MAX taken); sets taken, st and leaves the refusal in $T/err.
append_until_refused() {
	taken=0
	while :; do
		st=0
		"$WALCTL" append --file "$T/rec" >/dev/null 2>"$T/err" || st=$?
		[ $st -eq 0 ] || break
		taken=$((taken + 1))
		[ $taken -le "$1" ] || rfail "$taken appends of 64 KiB taken with backlog_bytes 1MiB and the servers down"
	done
}

append_until_refused 40
expect_eq "a 64 KiB append past backlog_bytes: exit" $st 75
grep -q "not replicated yet (replication.backlog_records 1000 or backlog_bytes 1048576 reached); nothing was written" "$T/err" ||
	fail "refusal: $(cat "$T/err")"
[ $taken -ge 15 ] && [ $taken -le 17 ] ||
	fail "$taken appends of 64 KiB taken before the refusal; backlog_bytes is 1 MiB"
expect_eq "next_lsn after the refusal" "$(stat_of next_lsn)" $((taken + 1))
expect_eq "replication_backlog_records" "$(stat_of replication_backlog_records)" $taken
b=$(stat_of replication_backlog_bytes)
[ "$b" -ge 1048576 ] || fail "replication_backlog_bytes $b at the refusal"
grep -q "replication backlog full ($taken records, about [1-9][0-9]* bytes" "$LOG" ||
	fail "no log line with the backlog in bytes"
ok "servers down from the start: $taken appends of 64 KiB, then refused by backlog_bytes (exit 75); backlog $b bytes"

# Truncation keeps every segment that holds a record not replicated.
"$WALCTL" rotate >/dev/null || fail rotate
first=$("$WALCTL" truncate --before $((taken + 1))) || fail "truncate: exit $?"
expect_eq "the log's first LSN after truncate, nothing replicated" "$first" 1
grep -q "truncate before LSN $((taken + 1)): held back to LSN 1: LSN 1 is not replicated yet" "$LOG" ||
	fail "no log line for the held truncation"
ok "truncate --before $((taken + 1)) held back at LSN 1: nothing replicated yet"
# walctl segments (through walld: it knows the replicated LSN): none
# of the segments with records is replicated.
"$WALCTL" segments >"$T/segs" || fail "segments: $(cat "$T/segs")"
awk 'NR > 1 && $2 != "-" && $8 != "n" { bad = 1 } END { exit bad }' \
    "$T/segs" || fail "segments while nothing is replicated: $(cat "$T/segs")"

# Nor does retention's max_bytes (a limit that wins over cursors) remove
# a segment not replicated; then it is taken off again (reload).
# reload: SIGHUP, then until walld says it reloaded (5 s).
reload() {
	n0=$(grep -c "configuration reloaded" "$LOG")
	kill -HUP "$WALLD_PID"
	i=0
	while [ "$(grep -c "configuration reloaded" "$LOG")" -le "$n0" ]; do
		i=$((i + 1)); [ $i -lt 100 ] || fail "no reload"; sleep 0.05
	done
}
printf 'retention:\n  max_bytes: 1MiB\n  interval: 100ms\n' >>"$T/r.yaml"
reload
sleep 0.5
expect_eq "the log's first LSN under retention, nothing replicated" \
    "$(stat_of first_lsn)" 1
grep -q "retention: truncate before LSN [0-9]*: held back to LSN 1: LSN 1 is not replicated yet" "$LOG" ||
	fail "no log line for the held retention"
repl_yaml "$T/r.yaml" "timeout: 2s" "backlog_bytes: 1MiB" "backlog_records: 1000"
reload
ok "retention.max_bytes held back at LSN 1 too: nothing replicated yet"

# Back: the backlog drains, appends are taken again.
t0=$(now_ms)
for n in 1 2 3; do
	nats_node_start $n || rfail "start n$n"
done
last=$(wait_replicated "$SOCK" 60)
echo "servers back: the backlog replicated in $(($(now_ms) - t0)) ms"
expect_eq "replicated" "$last" $taken
"$WALCTL" segments >"$T/segs" || fail "segments: $(cat "$T/segs")"
awk 'NR > 1 && $8 != "y" { bad = 1 } END { exit bad || NR < 3 }' \
    "$T/segs" || fail "segments once all is replicated: $(cat "$T/segs")"
"$WALCTL" append --ack replicated --file "$T/rec" >/dev/null ||
	rfail "append after the drain: exit $?"
stop_walld || fail "walld exit status $?"
nats_stream_current "$STREAM" 30 || rfail "the stream did not settle"
check_stream_seq $((taken + 1)) "$(log_id "$DATA")" 1
same_as_stream "$DATA"
ok "servers back: drained, appends taken, the stream is the log"

# walld restarted while the servers are down, its log (16 or so records)
# all replicated, backlog_records 10: what was durable at the start is not
# known to wait (nor known to be replicated): appends are taken until 10
# more wait, as if none had been; a replicated sync still fails (exit 79).
base=$((taken + 1))
for n in 1 2 3; do
	nats_node_stop $n || rfail "stop n$n"
done
repl_yaml "$T/r10.yaml" "timeout: 2s" "backlog_records: 10"
start_walld --config "$T/r10.yaml"
append_until_refused 30
expect_eq "appends taken after a restart with the servers down" $taken 10
expect_eq "then refused: exit" $st 75
expect_eq "replication_backlog_records" "$(stat_of replication_backlog_records)" 10
st=0
"$WALCTL" sync --ack replicated >/dev/null 2>"$T/err" || st=$?
expect_eq "sync --ack replicated with the servers down: exit" $st 79
for n in 1 2 3; do
	nats_node_start $n || rfail "start n$n"
done
last=$(wait_replicated "$SOCK" 60)
expect_eq "replicated" "$last" $((base + taken))
stop_walld || fail "walld exit status $?"
nats_stream_current "$STREAM" 30 || rfail "the stream did not settle"
check_stream_seq "$last" "$(log_id "$DATA")" 1
same_as_stream "$DATA"
ok "restarted with the servers down: 10 appends taken (not the whole log counted as backlog), then refused; drained"

# All replicated: truncation goes ahead.
start_walld --config "$T/r10.yaml"
wait_state "$SOCK" running 30
"$WALCTL" rotate >/dev/null || fail rotate
first=$("$WALCTL" truncate --before $((last + 1))) || fail "truncate: exit $?"
expect_eq "the log's first LSN after truncate, all replicated" "$first" $((last + 1))
stop_walld || fail "walld exit status $?"
ok "all replicated: truncate --before $((last + 1)) removes every segment below it"
echo "wall time: $(($(now_ms) - t_start)) ms"
