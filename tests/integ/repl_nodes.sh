# repl_nodes: walld replicating into a three-node JetStream cluster while
# nodes die and come back (docs/REPLICATION.md "What walld does").
#
# - A follower killed: replicated appends go on, none fails.
# - The stream's leader killed: publishes fail ("no responders") until
#   the two left elect a leader; replicated appends fail with exit 79
#   (durable, not replicated) meanwhile, then go on.
# - Two nodes down (no quorum): a replicated append fails with exit 79
#   after replication.timeout (2 s; not much sooner or later), saying the
#   record is durable; local appends go on until the backlog reaches
#   replication.backlog_records (50), then are refused with exit 75
#   (REPL_BACKLOG, nothing written), counted in stats.
# - Both back: the backlog drains within a bounded wait, replicated
#   appends work, and the stream is the local log record for record:
#   LSNs 1..N once each, in order (jsdump), and walctl read --nats prints
#   what walctl read --dir prints.
#
# What makes it fail: replicated appends acknowledged without quorum
# (exit 0 where 79 is wanted), or waiting much longer or shorter than the
# timeout; the backlog limit off by one or not applied, or an append
# written though refused; a replicator that does not resume after the
# errors (the drain times out), or that resumes at the wrong place (a gap
# or a duplicate in the stream, or records that differ).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/repl-lib.sh"

t_start=$(now_ms)
repl_start_cluster
repl_yaml "$T/r.yaml" "timeout: 2s" "publish_window: 64" "backlog_records: 50"
start_walld --config "$T/r.yaml"
wait_state "$SOCK" running 20
lid=$(log_id "$DATA")

# append_lines TAG COUNT [walctl options]: COUNT records "TAG i" in one
# pipelined walctl; its exit status.
append_lines() {
	_al_tag=$1 _al_n=$2
	shift 2
	seq 1 "$_al_n" | sed "s/^/$_al_tag /" |
		"$WALCTL" append --lines "$@" >"$T/lines.out" 2>"$T/lines.err"
}

# leader: the stream leader's node number.
leader() {
	_ld=$(stream_info leader)
	case $_ld in
	n[123]) echo "${_ld#n}" ;;
	*) rfail "stream leader: '$_ld'" ;;
	esac
}

append_lines A 20 --ack replicated || rfail "20 replicated appends: $(cat "$T/lines.err")"
expect_eq "last LSN" "$(tail -n 1 "$T/lines.out")" 20
nats_stream_current "$STREAM" 20 || rfail "the stream is not on three current replicas"
ok "20 replicated appends with every node up"

# --- A follower killed --------------------------------------------------------
l=$(leader)
f=$((l % 3 + 1))
nats_node_kill $f || rfail "kill n$f"
t0=$(now_ms)
append_lines B 20 --ack replicated ||
	rfail "replicated appends with follower n$f killed: $(cat "$T/lines.err")"
echo "follower n$f killed: 20 replicated appends in $(($(now_ms) - t0)) ms"
expect_eq "last LSN" "$(tail -n 1 "$T/lines.out")" 40
nats_node_start $f || rfail "restart n$f"
nats_stream_current "$STREAM" 30 || rfail "n$f did not catch up"
ok "a follower killed: replicated appends go on"

# --- The leader killed --------------------------------------------------------
l=$(leader)
nats_node_kill "$l" || rfail "kill n$l"
t0=$(now_ms)
n79=0 i=1
while :; do
	st=0
	"$WALCTL" append --ack replicated "C $i" >"$T/out" 2>"$T/err" || st=$?
	[ $st -eq 0 ] && break
	walld_alive "the stream's leader n$l killed"
	[ $st -eq 79 ] || rfail "replicated append with the leader n$l killed: exit $st: $(cat "$T/err")"
	grep -q "is durable on this machine but not replicated" "$T/err" ||
		rfail "exit 79 without saying durable: $(cat "$T/err")"
	n79=$((n79 + 1)) i=$((i + 1))
	[ $(($(now_ms) - t0)) -lt 30000 ] ||
		rfail "no replicated append acknowledged within 30 s of killing the leader n$l"
done
echo "leader n$l killed: a replicated append acknowledged after $(($(now_ms) - t0)) ms ($n79 got exit 79 before)"
append_lines D 20 --ack replicated ||
	rfail "replicated appends with n$l killed: $(cat "$T/lines.err")"
last=$(tail -n 1 "$T/lines.out")
expect_eq "last LSN" "$last" $((40 + i + 20))
ok "the leader killed: replicated appends go on once a new leader is elected"

# --- Two down: no quorum ------------------------------------------------------
l2=$(leader)
for n in 1 2 3; do
	[ "$n" = "$l" ] || [ "$n" = "$l2" ] || k=$n
done
nats_node_kill "$k" || rfail "kill n$k"
rep0=$(stat_of replicated_lsn)
err0=$(stat_of replication_errors_total)
expect_eq "replicated_lsn before" "$rep0" "$last"
t0=$(now_ms)
st=0
"$WALCTL" append --ack replicated "E no quorum" >"$T/out" 2>"$T/err" || st=$?
el=$(($(now_ms) - t0))
expect_eq "replicated append without quorum: exit" $st 79
grep -q "LSN $((last + 1)) is durable on this machine but not replicated" "$T/err" ||
	rfail "exit 79: $(cat "$T/err")"
[ $el -ge 1800 ] && [ $el -le 4000 ] ||
	rfail "REPL_UNAVAILABLE after $el ms; replication.timeout is 2 s"
echo "no quorum (n$l, n$k killed): exit 79 after $el ms: $(cat "$T/err")"
st=0
"$WALCTL" sync --ack replicated >"$T/out" 2>"$T/err" || st=$?
expect_eq "sync --ack replicated without quorum: exit" $st 79

# Local appends until the backlog (durable, not replicated) reaches 50.
n=0
while :; do
	st=0
	"$WALCTL" append --ack local "F $n" >"$T/out" 2>"$T/err" || st=$?
	[ $st -eq 0 ] || break
	n=$((n + 1))
	[ $n -le 60 ] || rfail "more than 60 local appends taken with backlog_records 50"
done
expect_eq "a local append at the backlog limit: exit" $st 75
grep -q "not replicated yet (replication.backlog_records 50" "$T/err" ||
	rfail "refusal: $(cat "$T/err")"
durable=$(stat_of durable_lsn)
expect_eq "LSNs after the refusal" "$durable $(stat_of next_lsn)" \
    "$((last + 1 + n)) $((last + 2 + n))"
rep=$(stat_of replicated_lsn)
expect_eq "replicated_lsn without quorum" "$rep" "$rep0"
expect_eq "the backlog when refused" "$(stat_of replication_backlog_records)" 50
expect_eq "backlog = durable - replicated" $((durable - rep)) 50
grep -q "replication backlog full (50 records, about [1-9][0-9]* bytes" "$LOG" ||
	rfail "the refusal's log line does not say the bytes waiting"
[ "$(stat_of replication_backlog_refused_total)" -gt 0 ] ||
	rfail "replication_backlog_refused_total is 0"
[ "$(stat_of replication_timeouts_total)" -ge 2 ] ||
	rfail "replication_timeouts_total: $(stat_of replication_timeouts_total)"
# Without quorum the lone server still answers stream info, so walld goes
# from connecting (after a timeout) to running (resynced) and back.
case $(stat_of replication_state) in
running|connecting) ;;
*) rfail "replication_state without quorum: $(stat_of replication_state)" ;;
esac
[ "$(stat_of replication_errors_total)" -gt "$err0" ] ||
	rfail "replication_errors_total did not move without quorum"
ok "no quorum: exit 79 after $el ms; $n local appends, then refused at a backlog of 50 (exit 75)"

# --- Both back ----------------------------------------------------------------
t0=$(now_ms)
nats_node_start "$l" || rfail "restart n$l"
nats_node_start "$k" || rfail "restart n$k"
done_lsn=$(wait_replicated "$SOCK" 60)
echo "both back: the backlog of 50 drained in $(($(now_ms) - t0)) ms"
expect_eq "replicated after the drain" "$done_lsn" "$durable"
wait_state "$SOCK" running 20
lsn=$("$WALCTL" append --ack replicated "G after") ||
	rfail "replicated append after the drain: exit $?"
expect_eq "LSN after the drain" "$lsn" $((durable + 1))
append_lines H 30 || rfail "local appends after the drain"
last=$(wait_replicated "$SOCK" 30)
expect_eq "last LSN" "$last" $((durable + 31))
stop_walld || fail "walld exit status $?"
nats_stream_current "$STREAM" 30 || rfail "the stream did not settle"

check_stream_seq "$last" "$lid" 1
same_as_stream "$DATA"
ok "both back: the backlog drained; the stream is the log, LSNs 1..$last once each"
echo "wall time: $(($(now_ms) - t_start)) ms"
