# repl_stop: walld stops cleanly while connected to the NATS cluster,
# right after a replicated append, again and again.
#
# natsConnection_Destroy returns before the library's callback thread has
# run the disconnected callback it queued, and that callback is given
# walld's replication state. walld must not free that state until the
# library's threads are gone (daemon/replica.c, replica_stop).
#
# What makes it fail: the state freed at once. The callback then reads
# freed memory: in the sanitizer build, walld's report and exit status 1.
# The race is narrow: 3 stops in about 1,300 hit it on the development
# VM (and CI's repl_backlog, once), so these rounds catch it only now
# and then; they also check that every stop exits 0 and that the stream
# holds each round's record once.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/repl-lib.sh"

ROUNDS=${WALD_REPL_STOP_ROUNDS:-12}
repl_start_cluster
repl_yaml "$T/r.yaml" "timeout: 2s"
k=0
while [ $k -lt "$ROUNDS" ]; do
	k=$((k + 1))
	start_walld --config "$T/r.yaml"
	wait_state "$SOCK" running 20
	"$WALCTL" append --ack replicated "round $k" >/dev/null ||
		rfail "round $k: replicated append: exit $?"
	st=0
	stop_walld || st=$?
	[ $st -eq 0 ] || fail "round $k: walld exit status $st after SIGTERM"
	! grep -q "ERROR: AddressSanitizer\|runtime error:" "$LOG" ||
		fail "round $k: a sanitizer report in walld's log"
done
expect_eq "the stream's last message (sequence, LSN)" \
    "$(stream_last | awk '{ print $1, $2 }')" "$ROUNDS $ROUNDS"
ok "$ROUNDS stops right after a replicated append: exit status 0 each time, no sanitizer report"
