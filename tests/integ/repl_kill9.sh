# repl_kill9: walld replicating into a three-node JetStream cluster under
# concurrent load (tests/helpers/walload: pipelined appends from two
# processes, local acknowledgements), killed with SIGKILL at random
# moments and restarted, ROUNDS times (default 10). Some kills come within
# 100 ms of the start, while the replicator connects and resyncs; the
# others 50-450 ms into the load, while it publishes with messages in
# flight and usually a backlog.
#
# After each restart, and at the end: every acknowledged record is in the
# local log, intact, and no LSN was handed out twice. At the end, once
# walld says all is replicated: the stream holds exactly LSNs 1..N, once
# each and in order, with this log's message ids (jsdump), and walctl
# read --nats prints what walctl read --dir prints.
#
# What makes it fail: a replicator that resumes after a restart at the
# wrong place (a gap or a duplicate in the stream: jsdump, info counts) or
# never resumes (wait_replicated times out); records in the stream that
# differ from the log's (read --nats vs --dir); an acknowledged record
# lost (walload check).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/repl-lib.sh"

ROUNDS=${ROUNDS:-10}
t_start=$(now_ms)
rand() {	# rand N: 0..N-1
	od -An -N4 -tu4 /dev/urandom | awk -v n="$1" '{ print $1 % n }'
}
msleep() {	# msleep MS
	sleep "$(awk -v ms="$1" 'BEGIN { print ms / 1000 }')"
}

repl_start_cluster
repl_yaml "$T/r.yaml" "timeout: 2s" "publish_window: 256"
LOAD="-a 16 -b 1024"

prev_max=0 total=0 r=1
while [ $r -le "$ROUNDS" ]; do
	start_walld --config "$T/r.yaml"
	if [ $r -gt 1 ]; then
		"$B/tests/walload" check -D "$DATA" $LOAD "$T"/ack.r* \
		    >"$T/check" 2>&1 || { cat "$T/check"; fail "round $r: check"; }
	fi
	"$B/tests/walload" run -s "$SOCK" -o "$T/ack.r$r" -P 2 -n 0 -d 4 \
	    $LOAD >/dev/null 2>&1 &
	lpid=$!
	EXTRA_PIDS="$EXTRA_PIDS $lpid"
	if [ $((r % 3)) -eq 1 ]; then
		how="$(rand 100) ms after the start"
		msleep "${how%% *}"
	else
		i=0
		while ! cat "$T"/ack.r$r.* 2>/dev/null | grep -q .; do
			walld_alive "round $r"
			i=$((i + 1))
			[ $i -lt 200 ] || rfail "round $r: nothing acknowledged in 10 s"
			sleep 0.05
		done
		how="$((50 + $(rand 400))) ms into the load"
		msleep "${how%% *}"
	fi
	walld_alive "round $r, before the kill"
	kill -KILL "$WALLD_PID"
	wait "$WALLD_PID" 2>/dev/null
	WALLD_PID=
	wait "$lpid" 2>/dev/null
	n=$(cat "$T"/ack.r$r.* | wc -l)
	min=$(cat "$T"/ack.r$r.* | awk 'NR == 1 || $1 < m { m = $1 } END { print m + 0 }')
	max=$(cat "$T"/ack.r$r.* | awk '$1 > m { m = $1 } END { print m + 0 }')
	if [ "$n" -gt 0 ]; then
		[ "$min" -gt "$prev_max" ] ||
			fail "round $r: LSN $min handed out again (earlier rounds reached $prev_max)"
		prev_max=$max
	fi
	total=$((total + n))
	set -- $(stream_last)
	echo "round $r: killed $how; $n acknowledged (LSNs ${min}..$max); the stream's last LSN $2"
	r=$((r + 1))
done

start_walld --config "$T/r.yaml"
"$B/tests/walload" check -D "$DATA" $LOAD "$T"/ack.r* >"$T/check" 2>&1 ||
	{ cat "$T/check"; fail "final check"; }
t0=$(now_ms)
last=$(wait_replicated "$SOCK" 60)
echo "$total acknowledged in $ROUNDS rounds; last LSN $last; replicated $(($(now_ms) - t0)) ms after the last restart"
[ "$last" -ge "$prev_max" ] || fail "last LSN $last below the acknowledged $prev_max"
stop_walld || fail "walld exit status $?"
nats_stream_current "$STREAM" 30 || rfail "the stream did not settle"
expect_eq "the stream's counts (messages first_seq last_seq)" \
    "$(stream_info messages) $(stream_info first_seq) $(stream_info last_seq)" \
    "$last 1 $last"
t0=$(now_ms)
check_stream_seq "$last" "$(log_id "$DATA")" 1
same_as_stream "$DATA"
echo "stream checked in $(($(now_ms) - t0)) ms"
ok "$ROUNDS kill -9 rounds: nothing acknowledged lost; the stream is the log, LSNs 1..$last once each"
echo "wall time: $(($(now_ms) - t_start)) ms"
