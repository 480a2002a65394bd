# repl_restart: the NATS servers restart while walld is idle, and
# replication goes on (docs/REPLICATION.md "What walld does").
#
# nats-server (2.9.10 here) keeps the stream's last message id, which
# the expected-last-id check compares with, in memory; after a restart
# it recovers it only when the last message is within the stream's
# de-duplication window (2 minutes by default). So after walld was idle
# for longer than the window, every publish that expects a last message
# id fails ("wrong last msg ID"), on every try, for good. The test makes
# the stream ahead with a 1 s window (walld takes an existing stream with
# its subjects), so that 1.5 s of quiet stand for the 2 minutes.
#
# walld replicates 20 records, is idle past the window, the three servers
# are stopped and started again: a replicated append is acknowledged
# within 30 s, the backlog drains, and the stream is the log, LSNs 1..N
# once each.
#
# What makes it fail: a publish that depends on what the servers forget
# over a restart (the last message id): replication never resumes, and
# the replicated append gets exit 79 until the 30 s run out.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/repl-lib.sh"

t_start=$(now_ms)
repl_start_cluster
js create --subjects 'walld.log.>' --replicas 3 --duplicates 1000 >/dev/null ||
	rfail "create the stream with a 1 s de-duplication window"
repl_yaml "$T/r.yaml" "timeout: 2s"
start_walld --config "$T/r.yaml"
wait_state "$SOCK" running 20
seq 1 20 | sed 's/^/A /' | "$WALCTL" append --lines --ack replicated \
    >/dev/null || rfail "20 replicated appends"
sleep 1.5

t0=$(now_ms)
for n in 1 2 3; do
	nats_node_stop $n || rfail "stop n$n"
done
for n in 1 2 3; do
	nats_node_start $n || rfail "start n$n"
done
nats_wait_leader 30 || rfail "no meta leader after the restart"
echo "servers restarted in $(($(now_ms) - t0)) ms"

t0=$(now_ms)
n79=0
while :; do
	st=0
	"$WALCTL" append --ack replicated "B $n79" >"$T/out" 2>"$T/err" || st=$?
	[ $st -eq 0 ] && break
	walld_alive "after the servers' restart"
	[ $st -eq 79 ] || rfail "replicated append after the restart: exit $st: $(cat "$T/err")"
	n79=$((n79 + 1))
	[ $(($(now_ms) - t0)) -lt 30000 ] ||
		rfail "no replicated append acknowledged within 30 s of the servers' restart; last: $(cat "$T/err")"
done
echo "a replicated append acknowledged $(($(now_ms) - t0)) ms after the restart ($n79 got exit 79 before)"
seq 1 20 | sed 's/^/C /' | "$WALCTL" append --lines --ack replicated \
    >/dev/null || rfail "20 replicated appends after the restart"
last=$(wait_replicated "$SOCK" 30)
expect_eq "last LSN" "$last" $((20 + n79 + 1 + 20))
stop_walld || fail "walld exit status $?"
nats_stream_current "$STREAM" 30 || rfail "the stream did not settle"
check_stream_seq "$last" "$(log_id "$DATA")" 1
same_as_stream "$DATA"
ok "servers restarted after walld was idle past the de-duplication window: replication goes on; the stream is the log"
echo "wall time: $(($(now_ms) - t_start)) ms"
