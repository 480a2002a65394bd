# repl_ack: the acknowledgement levels against a real three-node JetStream
# cluster (docs/REPLICATION.md, PROTOCOL.md "Acknowledgement levels").
#
# - Configuration: the documented replication keys pass --check-config,
#   bad values fail with file:line:column; without replication a
#   REPLICATED append or sync gets REPL_UNAVAILABLE (walctl exit 79) right
#   after the record is durable, and the record is in the log.
# - With replication: each `--ack replicated` append's LSN is in the
#   stream when walctl returns, as the stream itself says (jsdump), with
#   this log's message id; `--ack local`, the default and `sync --ack
#   replicated` work; stats say running and the replicated LSN.
# - With the three servers stopped (SIGSTOP), a replicated append is not
#   answered while a local one is; once they go on, it is, and its LSN is
#   in the stream. `ack: replicated` makes that the default.
#
# What makes it fail: walld answering a REPLICATED append at local
# durability, or when it is published rather than acknowledged: the
# append made while the servers are stopped is answered (tried: ack.c's
# rq answered at durability fails "a replicated append was answered ...
# while every NATS server was stopped"; the jsdump check after each
# append alone passes then, the stream being faster than walctl and
# jsdump); walld waiting or replicating without servers configured (exit
# not 79, or slow); a replicated LSN or state in stats that is wrong; a
# stream that is not the log (check_stream_seq, same_as_stream).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/repl-lib.sh"

# --- Configuration, and REPLICATED without replication ---------------------

cat >"$T/all.yaml" <<YAML
replication:
  servers: [nats://127.0.0.1:4222, "nats://127.0.0.1:4223"]
  stream: WALLD_TEST
  subject_prefix: walld.test
  replicas: 3
  ack: replicated
  publish_window: 128
  timeout: 2s
  backlog_records: 50
  backlog_bytes: 64MiB
  credentials: $T/walld.creds
  user: walld
  password: secret
  token: t0ken
  tls_ca: $T/ca.pem
YAML
"$WALLD" --check-config --config "$T/all.yaml" >"$T/out" 2>&1 ||
	fail "--check-config refused the documented replication keys: $(cat "$T/out")"

# bad LINE2 WANT: a configuration whose line 2 is LINE2 fails with exit 78
# and an error at 2:COLUMN naming the key (WANT: "COLUMN KEY").
bad() {
	printf 'replication:\n  %s\n' "$1" >"$T/bad.yaml"
	st=0
	"$WALLD" --check-config --config "$T/bad.yaml" >"$T/out" 2>&1 || st=$?
	expect_eq "--check-config of '$1': exit" $st 78
	grep -qF "bad.yaml:2:${2%% *}: replication.${2#* }" "$T/out" ||
		fail "--check-config of '$1': $(cat "$T/out") (want bad.yaml:2:${2%% *}: replication.${2#* })"
}
bad "replicas: 7" "13 replicas"
bad "ack: quorum" "8 ack"
bad "timeout: 1ms" "12 timeout"
bad "timeout: soon" "12 timeout"
bad "publish_window: 0" "19 publish_window"
bad "backlog_records: 0" "20 backlog_records"
bad "backlog_bytes: 1KiB" "18 backlog_bytes"
bad "servers: []" "12 servers"
bad "servres: [nats://127.0.0.1:4222]" "3 servres"
bad "subject_prefix: ''" "19 subject_prefix"
ok "--check-config: every replication key accepted; bad values at file:line:column"

# No replication: REPLICATED is REPL_UNAVAILABLE once durable, never waits.
cat >"$T/plain.yaml" <<YAML
storage:
  segment_size: 1MiB
YAML
start_walld --config "$T/plain.yaml"
expect_eq "replication_state without servers" "$(stat_of replication_state)" off
expect_eq "append --ack local" "$("$WALCTL" append --ack local one)" 1
t0=$(now_ms)
st=0
"$WALCTL" append --ack replicated two >"$T/out" 2>"$T/err" || st=$?
el=$(($(now_ms) - t0))
expect_eq "append --ack replicated without replication: exit" $st 79
grep -q "LSN 2 is durable on this machine; walld does not replicate" "$T/err" &&
    grep -q "does not replicate" "$T/err" ||
	fail "append --ack replicated without replication: $(cat "$T/err")"
[ $el -lt 1500 ] || fail "REPL_UNAVAILABLE without replication took $el ms"
st=0
"$WALCTL" sync --ack replicated >"$T/out" 2>"$T/err" || st=$?
expect_eq "sync --ack replicated without replication: exit" $st 79
expect_eq "append (default)" "$("$WALCTL" append three)" 3
stop_walld || fail "walld exit status $?"
"$WALCTL" read --dir "$DATA" >"$T/read" || fail "read --dir"
expect_eq "records" "$(awk '{ print $1 }' "$T/read" | tr '\n' ' ')" \
    "lsn=1 lsn=2 lsn=3 "
grep -q 'lsn=2 .*data="two"' "$T/read" || fail "the unreplicated append is not in the log"
ok "no replication: REPLICATED gets exit 79 in $el ms, the record durable at LSN 2"
rm -r "$DATA"

# --- Replication ------------------------------------------------------------

repl_start_cluster
repl_yaml "$T/r.yaml" "timeout: 3s" "publish_window: 64"
start_walld --config "$T/r.yaml"
wait_state "$SOCK" running 20
lid=$(log_id "$DATA")
expect_eq "REPLICA" "$(cat "$DATA/REPLICA")" "log $lid
epoch 1"

# Each replicated append is in the stream when walld answers: jsdump asks
# the stream's leader right after walctl returned.
i=1
while [ $i -le 20 ]; do
	lsn=$("$WALCTL" append --ack replicated --tenant $i --vshard $((i % 4)) \
	    "replicated $i") || rfail "append --ack replicated $i: exit $?"
	expect_eq "LSN of replicated append $i" "$lsn" $i
	set -- $(stream_last)
	[ "$2" -ge "$lsn" ] ||
		rfail "walld acknowledged LSN $lsn as replicated; the stream's last LSN is $2"
	expect_eq "the stream's sequence of LSN $lsn" "$1" "$2"
	expect_eq "the message id of LSN $lsn" "$3" "$lid-1-$2"
	i=$((i + 1))
done
ok "20 replicated appends: each in the stream when walld answered"

expect_eq "append --ack local" "$("$WALCTL" append --ack local local)" 21
expect_eq "append (default: local)" "$("$WALCTL" append default)" 22
expect_eq "sync --ack replicated" "$("$WALCTL" sync --ack replicated)" 22
set -- $(stream_last)
[ "$2" -ge 22 ] || rfail "sync --ack replicated said 22; the stream's last LSN is $2"
expect_eq "sync --ack local" "$("$WALCTL" sync --ack local)" 22
expect_eq "replication_state" "$(stat_of replication_state)" running
expect_eq "replicated_lsn" "$(stat_of replicated_lsn)" 22
expect_eq "replication_backlog_records" "$(stat_of replication_backlog_records)" 0
[ "$(stat_of replication_acked_total)" -ge 22 ] ||
	fail "replication_acked_total: $(stat_of replication_acked_total)"
expect_eq "replication_timeouts_total" "$(stat_of replication_timeouts_total)" 0
ok "local and default appends, sync --ack replicated; stats: running, replicated_lsn 22"

# nats_pause STOP|CONT: all three servers.
nats_pause() {
	for n in 1 2 3; do
		eval p=\$NATS_PID_$n
		kill -"$1" "$p" || rfail "kill -$1 n$n"
	done
}

# paused_append CONFIG-ACK: with the servers stopped, a replicated append
# (--ack replicated, or the default when CONFIG-ACK is replicated) waits,
# a local one does not; both are answered, and the stream has the first,
# once the servers go on.
paused_append() {
	if [ "$1" = replicated ]; then
		rflag= lflag="--ack local"
	else
		rflag="--ack replicated" lflag=
	fi
	nats_pause STOP
	t0=$(now_ms)
	"$WALCTL" append $rflag "while paused" >"$T/pa.out" 2>"$T/pa.err" &
	apid=$!
	EXTRA_PIDS="$EXTRA_PIDS $apid"
	i=0
	while [ "$(stat_of next_lsn)" != $(($2 + 2)) ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || rfail "the replicated append did not reach walld"
		sleep 0.05
	done
	lsn=$("$WALCTL" append $lflag "local while paused") ||
		rfail "a local append while the servers are stopped: exit $?"
	sleep 1
	kill -0 "$apid" 2>/dev/null ||
		rfail "a replicated append was answered ($(cat "$T/pa.out" "$T/pa.err")) while every NATS server was stopped"
	nats_pause CONT
	st=0
	wait "$apid" || st=$?
	el=$(($(now_ms) - t0))
	expect_eq "the paused replicated append: exit" $st 0
	plsn=$(cat "$T/pa.out")
	expect_eq "LSNs of the paused and the local append" "$plsn $lsn" \
	    "$(($2 + 1)) $(($2 + 2))"
	set -- $(stream_last)
	[ "$2" -ge "$plsn" ] ||
		rfail "LSN $plsn acknowledged as replicated; the stream's last LSN is $2"
	echo "replicated append with the servers stopped for 1 s: answered after $el ms"
}
paused_append local 22
ok "servers stopped: a replicated append waits, a local one does not"

# ack: replicated makes REPLICATED the default.
stop_walld || fail "walld exit status $?"
repl_yaml "$T/r.yaml" "timeout: 3s" "ack: replicated"
start_walld --config "$T/r.yaml"
wait_state "$SOCK" running 20
paused_append replicated 24
last=$(settled_lsn)
expect_eq "last LSN" "$last" 26
stop_walld || fail "walld exit status $?"

check_stream_seq 26 "$lid" 1
same_as_stream "$DATA"
ok "ack: replicated is the default; the stream is the log, LSNs 1..26 once each"
