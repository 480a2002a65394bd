# SPDX-License-Identifier: Apache-2.0
# File descriptor exhaustion: walld runs with an open-files limit of 64
# (soft and hard, so it cannot raise it) and gets far more connections.
# It must not spin (its CPU time stays low while the extra connections
# wait), it keeps serving the clients it has, and once descriptors free up
# it takes new connections again.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/hostile.sh"

LIMIT=64
( ulimit -n $LIMIT && exec "$WALLD" $ALLOW_ROOT --socket "$SOCK" --data-dir "$DATA" ) \
	>>"$LOG" 2>&1 &
WALLD_PID=$!
wait_ready
grep -q "open files limit: $LIMIT" "$LOG" || fail "no open files limit line"
load_start 2

# Three times the limit in connections, held.
mkfifo "$T/hold"
"$RAW" -s "$SOCK" -t 3000 idle $((LIMIT * 3)) <"$T/hold" >"$T/idle.out" 2>&1 &
holder=$!
exec 3>"$T/hold"
i=0
while ! grep -q '^ready' "$T/idle.out"; do
	kill -0 $holder 2>/dev/null || fail "the holder exited: $(cat "$T/idle.out")"
	i=$((i + 1))
	[ $i -lt 400 ] || fail "the holder is not ready after 20 s"
	sleep 0.05
done
echo "$(cat "$T/idle.out") (of $((LIMIT * 3)) connections)"
served=$(sed -n 's/^ready \([0-9]*\) .*/\1/p' "$T/idle.out")
[ "$served" -gt 0 ] && [ "$served" -lt $LIMIT ] ||
	fail "walld answered $served of $((LIMIT * 3)) connections"
sleep 1
load_progress "existing clients at the descriptor limit"
kill -0 "$WALLD_PID" 2>/dev/null || fail "walld died at the descriptor limit"

# No spinning: with the load stopped, walld's CPU time over 2 s while the
# extra connections wait stays under 10%.
load_stop "at the descriptor limit"
t0=$(cpu_ticks); sleep 2; t1=$(cpu_ticks)
ticks=$((t1 - t0))
hz=$(getconf CLK_TCK)
[ $ticks -le $((hz / 5)) ] ||
	fail "walld used $ticks ticks (of $hz a second) in 2 s at the limit"
ok "at the descriptor limit: $ticks clock ticks of CPU in 2 s (spinning would be $((hz * 2)))"
grep -q "open files limit $LIMIT" "$LOG" ||
	fail "no log line about the descriptor limit"

# Descriptors free up: walld takes new connections again.
exec 3>&-
wait $holder
i=0
while ! "$WALCTL" ping >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "walld does not take connections after they freed up"
	sleep 0.05
done
"$WALCTL" append --tenant 9 "after the limit" >/dev/null ||
	fail "append after the limit"
ok "descriptors freed: walld takes connections again"

# Every descriptor in use: two clients connect, then start 16 follow
# reads each (a reader holds two descriptors); the last reads fail with an
# error, new connections are refused, walld does not spin and lives on.
next=$(stat_of next_lsn)
set -- hello sleep 1000
i=0
while [ $i -lt 16 ]; do
	set -- "$@" read-follow "$next" 0
	i=$((i + 1))
done
"$RAW" -s "$SOCK" -t 500 "$@" recv-all sleep 5000 >"$T/r1" 2>&1 &
r1=$!
"$RAW" -s "$SOCK" -t 500 "$@" recv-all sleep 5000 >"$T/r2" 2>&1 &
r2=$!
sleep 2
cat "$T/r1" "$T/r2" | grep -q "code=busy.*Too many open files" ||
	fail "no read failed for lack of descriptors: $(cat "$T/r1" "$T/r2")"
"$RAW" -s "$SOCK" -t 1000 idle 20 </dev/null >"$T/idle2.out" 2>&1
t0=$(cpu_ticks); sleep 1; t1=$(cpu_ticks)
[ $((t1 - t0)) -le $((hz / 5)) ] ||
	fail "walld used $((t1 - t0)) ticks in 1 s with every descriptor in use"
kill -0 "$WALLD_PID" 2>/dev/null || fail "walld died without descriptors"
wait $r1 $r2
i=0
while ! "$WALCTL" ping >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "walld does not take connections after readers"
	sleep 0.05
done
ok "every descriptor in use by readers: $(grep '^ready' "$T/idle2.out") of 20 new connections; reads refused; walld lives on"
stop_walld TERM || fail "walld did not stop cleanly"
load_check

# accept() failing with EMFILE (the shim fails it while a flag file
# exists): the listener backs off for 100 ms at a time instead of spinning
# on a socket that stays readable, and takes the waiting connections once
# accept() works again.
# The shim must come after the sanitizer runtime; tell ASan not to mind.
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0
LD_PRELOAD=$B/tests/libemfile.so WALD_EMFILE_FLAG=$T/emfile start_walld
touch "$T/emfile"
"$RAW" -s "$SOCK" -t 5000 hello recv 1 >"$T/waiting" 2>&1 &
waiting=$!
sleep 0.5
t0=$(cpu_ticks); sleep 2; t1=$(cpu_ticks)
ticks=$((t1 - t0))
[ $ticks -le $((hz / 5)) ] ||
	fail "walld used $ticks ticks (of $hz a second) in 2 s with accept failing"
grep -q "accept: Too many open files; pausing new connections" "$LOG" ||
	fail "no accept back-off logged"
ok "accept failing with EMFILE: backs off, $ticks clock ticks of CPU in 2 s"
rm "$T/emfile"
wait $waiting
expect_line "$T/waiting" "hello-reply id=1" "a connection waiting through EMFILE"
ok "once accept works again, the waiting connection is answered"
stop_walld TERM || fail "walld did not stop cleanly"
