# SPDX-License-Identifier: Apache-2.0
# Nobody is told SEALED before the seal is durable (issue 22). With every
# fdatasync slowed to 600 ms (strace), a SEAL's batch takes that long to
# become durable; an append sent meanwhile must wait, and get SEALED only
# once the SEAL itself is answered; an appender told SEALED before walld
# is killed finds the log sealed after a restart (SEALED means "no append
# will ever succeed again").
. "$(dirname "$0")/lib.sh"
RAW=$B/tests/rawclient
command -v strace >/dev/null || fail "strace missing (tools/deps.sh installs it)"

slow_walld() {
	strace -f -qq -o /dev/null -e trace=fdatasync \
	    -e inject=fdatasync:delay_enter=600000 \
	    "$WALLD" $ALLOW_ROOT --socket "$SOCK" --data-dir "$DATA" >>"$LOG" 2>&1 &
	STRACE_PID=$!
	EXTRA_PIDS=$STRACE_PID
	i=0
	while ! "$WALCTL" ping >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 400 ] || fail "walld did not answer within 20 s"
		sleep 0.05
	done
	# walld is strace's child: killing strace would leave it running.
	WALLD_PID=$(pgrep -P "$STRACE_PID" -x walld) ||
		fail "no walld under strace $STRACE_PID"
}

# kill_slow: SIGKILL to walld, then strace is reaped.
kill_slow() {
	kill -KILL "$WALLD_PID"
	wait "$STRACE_PID" 2>/dev/null
	WALLD_PID=
	EXTRA_PIDS=
}

slow_walld
echo before | "$WALCTL" append >/dev/null || fail "append before the seal"
"$WALCTL" seal >"$T/seal.out" 2>&1 &
SEAL=$!
EXTRA_PIDS="$STRACE_PID $SEAL"
sleep 0.2
# The seal is marked and being synced: an append now must not be told
# SEALED within 200 ms (it waits for the seal's durability).
"$RAW" -s "$SOCK" -t 200 hello recv 1 append 0 x recv 1 >"$T/early" 2>&1
grep -q 'code=sealed' "$T/early" &&
	fail "told SEALED while the seal was not durable: $(cat "$T/early")"
wait $SEAL || fail "seal: $(cat "$T/seal.out")"
"$RAW" -s "$SOCK" -t 5000 hello recv 1 append 0 x recv 1 >"$T/late" 2>&1
grep -q 'code=sealed' "$T/late" || fail "after the seal: $(cat "$T/late")"
ok "an append during the seal's fdatasync waits; SEALED once the seal is durable"
kill_slow

# Killed at random points around a SEAL: whoever was told SEALED finds
# the log sealed after the restart.
round=0
while [ $round -lt 6 ]; do
	rm -rf "$DATA"
	slow_walld
	echo one | "$WALCTL" append >/dev/null || fail "round $round: append"
	"$WALCTL" seal >/dev/null 2>&1 &
	S=$!
	"$RAW" -s "$SOCK" -t 3000 hello recv 1 sleep 100 append 0 y recv 1 \
	    >"$T/r.$round" 2>&1 &
	R=$!
	EXTRA_PIDS="$STRACE_PID $S $R"
	sleep "0.$((round * 2 + 1))"
	kill_slow
	wait $S 2>/dev/null
	wait $R 2>/dev/null
	start_walld
	st=0
	echo after | "$WALCTL" append >/dev/null 2>&1 || st=$?
	if grep -q 'code=sealed' "$T/r.$round"; then
		expect_eq "round $round: told SEALED, then an append after the restart" \
		    "$st" 73
	fi
	stop_walld TERM || fail "round $round: stop"
	round=$((round + 1))
done
ok "6 kills around a SEAL: no appender was told SEALED of a log that came back unsealed"
