# repl_fork: the stream never holds two histories of one log.
#
# walld A replicates LSNs 1..10 and stops; the log is restored from the
# stream into another directory (epoch 2), and walld B starts there with
# no NATS server reachable: it appends LSNs 11..15 locally and stops. A
# comes back first, publishes its own 11 and 12 (epoch 1: nothing has
# fenced it, B never reached the stream). Then B comes back to the real
# servers: the stream's last message, A's LSN 12, is not B's record at
# LSN 12, and publishing B's 13.. after it would make the stream A's
# 1..12 then B's 13..15: a log that neither walld wrote. B must publish
# nothing (state refused or fenced, stream unchanged, replicated appends
# exit 79), saying why; A goes on replicating.
#
# The same holds for any two walld on copies of one directory that reach
# the stream one after the other (a copied data directory, a VM snapshot
# started twice): whoever publishes second, past the point where the
# copies parted, must stop.
#
# What makes it fail: a replicator that resumes after the stream's last
# message because its LSN is not above its own durable LSN, without
# checking that the message is its own record (the stream then holds
# B's epoch-2 messages after A's epoch-1 LSNs 11 and 12).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/repl-lib.sh"

t_start=$(now_ms)
SOCK2=$T/b.sock
DATA2=$T/b

start_walld2() {	# CONFIG
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
stop_walld2() {
	kill -TERM "$WALLD2_PID"
	st=0
	wait "$WALLD2_PID" || st=$?
	WALLD2_PID=
	return $st
}

repl_start_cluster
repl_yaml "$T/r.yaml" "timeout: 2s"
# B's first run: a server that is not there (port 1 of 127.0.0.1).
cat >"$T/off.yaml" <<YAML
storage:
  segment_size: 1MiB
replication:
  servers: [nats://127.0.0.1:1]
  stream: $STREAM
  timeout: 2s
YAML

start_walld --config "$T/r.yaml"
wait_state "$SOCK" running 20
seq 1 10 | sed 's/^/A /' | "$WALCTL" append --lines --ack replicated \
    >/dev/null || rfail "A: 10 replicated appends"
stop_walld || fail "walld A exit status $?"
lid=$(log_id "$DATA")
mkdir "$DATA2"
"$WALCTL" restore --nats "$NATS_URLS" --stream "$STREAM" --dir "$DATA2" \
    >"$T/restore" 2>&1 || rfail "restore: $(cat "$T/restore")"

start_walld2 "$T/off.yaml"
seq 11 15 | sed 's/^/B /' | "$WALCTL" -s "$SOCK2" append --lines --ack local \
    >"$T/b.lsns" || fail "B: local appends"
expect_eq "B's LSNs" "$(head -n 1 "$T/b.lsns")..$(tail -n 1 "$T/b.lsns")" 11..15
stop_walld2 || fail "walld B exit status $?"
ok "A replicated 1..10; restored for B (epoch 2); B wrote 11..15 without reaching NATS"

start_walld --config "$T/r.yaml"
wait_state "$SOCK" running 20
seq 11 12 | sed 's/^/A /' | "$WALCTL" append --lines --ack replicated \
    >"$T/a.lsns" || rfail "A: replicated appends 11, 12"
set -- $(stream_last)
expect_eq "the stream's last message" "$2 $3" "12 $lid-1-12"
ok "A came back first: its 11 and 12 are in the stream (epoch 1)"

start_walld2 "$T/r.yaml"
t0=$(now_ms)
while :; do
	s=$(wstat "$SOCK2" replication_state)
	case $s in
	refused|fenced) break ;;
	esac
	[ $(($(now_ms) - t0)) -lt 15000 ] || break
	sleep 0.1
done
# Whatever B's state, the stream must not have moved past A's 12.
sleep 1
set -- $(stream_last)
expect_eq "the stream's last message with B running" "$2 $3" "12 $lid-1-12"
expect_eq "the stream's messages" "$(stream_info messages)" 12
case $s in
refused|fenced) ;;
*) rfail "B: replication_state '$s' after 15 s, with the stream past its copy" ;;
esac
grep -q "replication: stream $STREAM: its last message, LSN 12 of epoch 1, is not this directory's record at LSN 12" "$LOG2" ||
	rfail "B did not say why it stopped"
grep "replication: stream $STREAM" "$LOG2" | tail -n 2
expect_eq "B: replication_published_total" \
    "$(wstat "$SOCK2" replication_published_total)" 0
st=0
"$WALCTL" -s "$SOCK2" append --ack replicated "B 16" >/dev/null 2>"$T/err" || st=$?
expect_eq "B: a replicated append: exit" $st 79
ok "B: $s, publishes nothing after A's LSN 12"

# A goes on, and the stream is A's log.
seq 13 20 | sed 's/^/A /' | "$WALCTL" append --lines --ack replicated \
    >/dev/null || rfail "A: replicated appends 13..20"
stop_walld2 || fail "walld B exit status $?"
stop_walld || fail "walld A exit status $?"
check_stream_seq 20 "$lid" 1
same_as_stream "$DATA"
ok "A goes on: the stream is A's log, LSNs 1..20, epoch 1"
echo "wall time: $(($(now_ms) - t_start)) ms"
