# repl_fence: restore from the stream, take the log over elsewhere, and
# fence the old walld (docs/REPLICATION.md: "At start", "Restore").
#
# - walld A replicates a log of several segments into a three-node
#   cluster and stops. walctl restore rebuilds it in an empty directory
#   from the stream: read --dir of both is the same, byte for byte;
#   REPLICA says epoch 2.
# - walld B on the restored directory (its own socket) replicating into
#   the same stream: it appends on at the next LSN, and its records reach
#   the stream (message ids of epoch 2).
# - A started again on the original directory is fenced: stats say
#   fenced, its log says so, and it publishes nothing: the stream's count
#   and last message id stay as they were while A takes local appends;
#   a replicated append on A fails with exit 79 after the timeout. B
#   goes on replicating.
# - At the end the stream is LSNs 1..N once each, epoch 1 then epoch 2,
#   and it is B's log record for record.
#
# What makes it fail: a restore that is not the log (read --dir differs);
# B not taking the stream over (its records never reach the stream); A
# not fenced (state, log line), or publishing anything (the stream's
# count or last id move, replication_published_total above 0), or
# answering a replicated append with success.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/repl-lib.sh"

t_start=$(now_ms)
SOCK2=$T/b.sock
DATA2=$T/b

# start_walld2 CONFIG: walld B on $DATA2 and $SOCK2, logging to $LOG2.
start_walld2() {
	"$WALLD" $ALLOW_ROOT --socket "$SOCK2" --data-dir "$DATA2" --config "$1" \
	    >>"$LOG2" 2>&1 &
	WALLD2_PID=$!
	i=0
	while ! "$WALCTL" -s "$SOCK2" ping >/dev/null 2>&1; do
		kill -0 "$WALLD2_PID" 2>/dev/null || rfail "walld B exited at start-up"
		i=$((i + 1))
		[ $i -lt 200 ] || rfail "walld B did not answer within 10 s"
		sleep 0.05
	done
}

# stop_walld2: SIGTERM to B; its exit status.
stop_walld2() {
	kill -TERM "$WALLD2_PID"
	st=0
	wait "$WALLD2_PID" || st=$?
	WALLD2_PID=
	return $st
}

repl_start_cluster
repl_yaml "$T/r.yaml" "timeout: 2s"

# --- A writes and replicates a log of three segments --------------------------
start_walld --config "$T/r.yaml"
wait_state "$SOCK" running 20
lid=$(log_id "$DATA")
awk 'BEGIN { p = sprintf("%3000s", ""); gsub(/ /, "a", p);
    for (i = 1; i <= 400; i++) print "A " i " " substr(p, 1, i * 7 % 3000) }' \
    >"$T/lines"
"$WALCTL" append --lines --tenant 1 --vshard 2 <"$T/lines" >/dev/null ||
	fail "append --lines"
"$WALCTL" rotate >/dev/null || fail rotate
"$WALCTL" append --lines --tenant 7 --vshard 9 --type 3 <"$T/lines" >/dev/null ||
	fail "append --lines"
"$WALCTL" rotate >/dev/null || fail rotate
head -c 20000 /dev/urandom | "$WALCTL" append --ack replicated --tenant 3 \
    >/dev/null || rfail "append --ack replicated"
n=$(wait_replicated "$SOCK" 30)
expect_eq "records written by A" "$n" 801
stop_walld || fail "walld A exit status $?"
[ "$(ls "$DATA" | grep -c '\.wal$')" -ge 3 ] || fail "fewer than 3 segments"

# --- Restore ----------------------------------------------------------------------
mkdir "$DATA2"
"$WALCTL" restore --nats "$NATS_URLS" --stream "$STREAM" --dir "$DATA2" \
    >"$T/restore" 2>&1 || rfail "restore: exit $?: $(cat "$T/restore")"
field() { awk -v k="$1" '$1 == k { print $2 }' "$T/restore"; }
expect_eq "restore: records, first, last, log, epoch" \
    "$(field records) $(field first_lsn) $(field last_lsn) $(field log) $(field epoch)" \
    "801 1 801 $lid 2"
expect_eq "restored REPLICA" "$(cat "$DATA2/REPLICA")" "log $lid
epoch 2"
"$WALCTL" read --dir "$DATA" >"$T/a.read" || fail "read --dir A"
"$WALCTL" read --dir "$DATA2" >"$T/b.read" || fail "read --dir B"
cmp -s "$T/a.read" "$T/b.read" || fail "read --dir: the restored log differs"
"$WALCTL" read --dir "$DATA" --json >"$T/a.read" || fail "read --dir A"
"$WALCTL" read --dir "$DATA2" --json >"$T/b.read" || fail "read --dir B"
cmp -s "$T/a.read" "$T/b.read" || fail "read --dir --json: the restored log differs"
ok "restore: 801 records, read --dir the same byte for byte, epoch 2"

# --- B takes the log over -----------------------------------------------------
start_walld2 "$T/r.yaml"
wait_state "$SOCK2" running 20
lsn=$("$WALCTL" -s "$SOCK2" append --ack replicated "B 1") ||
	rfail "B: append --ack replicated: exit $?"
expect_eq "B's first LSN" "$lsn" 802
"$WALCTL" -s "$SOCK2" append --lines --tenant 5 <"$T/lines" >/dev/null ||
	rfail "B: append --lines"
n=$(wait_replicated "$SOCK2" 30)
expect_eq "B's last LSN" "$n" 1202
set -- $(stream_last)
expect_eq "the stream's last message" "$1 $2 $3" "1202 1202 $lid-2-1202"
msgs=$(stream_info messages) lastid=$3
expect_eq "the stream's messages" "$msgs" 1202
ok "B on the restored directory appends on at LSN 802; its records reach the stream (epoch 2)"

# --- A comes back: fenced -----------------------------------------------------
start_walld --config "$T/r.yaml"
wait_state "$SOCK" fenced 20
grep -q "replication: stream $STREAM: epoch 2 of this log published LSN 1202 (this walld is epoch 1): the log was taken over elsewhere; this walld is fenced and publishes nothing more" "$LOG" ||
	fail "no log line saying A is fenced"
"$WALCTL" append --lines --tenant 9 <"$T/lines" >"$T/a.lsns" ||
	fail "A: local appends while fenced"
expect_eq "A's local appends" "$(head -n 1 "$T/a.lsns") $(tail -n 1 "$T/a.lsns")" "802 1201"
t0=$(now_ms)
st=0
"$WALCTL" append --ack replicated "A fenced" >"$T/out" 2>"$T/err" || st=$?
el=$(($(now_ms) - t0))
expect_eq "A: append --ack replicated while fenced: exit" $st 79
grep -q "LSN 1202 is durable on this machine but not replicated within replication.timeout (replicated LSN [0-9]*, replication fenced)" "$T/err" ||
	fail "A's exit 79: $(cat "$T/err")"
[ $el -ge 1800 ] && [ $el -le 4000 ] ||
	fail "A's REPL_UNAVAILABLE after $el ms; replication.timeout is 2 s"
sleep 1
set -- $(stream_last)
expect_eq "the stream's messages and last id, A fenced" \
    "$(stream_info messages) $3" "$msgs $lastid"
expect_eq "A: replication_published_total" "$(stat_of replication_published_total)" 0
expect_eq "A: replication_state" "$(stat_of replication_state)" fenced
ok "A restarted: fenced (stats, log), publishes nothing; replicated appends get exit 79 after $el ms"

# B goes on.
"$WALCTL" -s "$SOCK2" append --lines --vshard 4 <"$T/lines" >/dev/null ||
	rfail "B: append --lines"
n=$(wait_replicated "$SOCK2" 30)
expect_eq "B's last LSN" "$n" 1602
expect_eq "A: replication_state, at the end" "$(stat_of replication_state)" fenced
stop_walld || fail "walld A exit status $?"
stop_walld2 || fail "walld B exit status $?"
check_stream_seq 1602 "$lid" "1 2"
expect_eq "the last message of epoch 1" "$(awk '$8 ~ /-1-[0-9]+$/ { l = $6 } END { print l }' "$T/dump")" 801
same_as_stream "$DATA2"
ok "B goes on; the stream is B's log: LSNs 1..1602 once each, epoch 1 to 801, then 2"
echo "wall time: $(($(now_ms) - t_start)) ms"
