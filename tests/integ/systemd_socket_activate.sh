# SPDX-License-Identifier: Apache-2.0
# systemd_socket_activate: walld started by socket activation, as
# walld.socket does it: systemd-socket-activate owns the socket and starts
# walld (LISTEN_FDS=1, LISTEN_PID) on the first connection; walld serves
# the passed socket, appends work through it, and walld leaves the socket
# in place when it stops. Two passed sockets are refused (exit 1).
. "$(dirname "$0")/lib.sh"

command -v systemd-socket-activate >/dev/null ||
    fail "systemd-socket-activate not found: run tools/deps.sh (package systemd)"

systemd-socket-activate -l "$SOCK" "$WALLD" $ALLOW_ROOT --data-dir "$DATA" \
    --socket "$T/not-this.sock" >>"$LOG" 2>&1 &
WALLD_PID=$!
i=0
while [ ! -S "$SOCK" ]; do
	kill -0 "$WALLD_PID" 2>/dev/null || fail "systemd-socket-activate exited"
	i=$((i + 1))
	[ $i -lt 200 ] || fail "no socket at $SOCK within 10 s"
	sleep 0.05
done
# Nothing started yet: walld creates its data directory first thing.
sleep 0.2
[ ! -e "$DATA" ] || fail "walld started before the first connection"
ok "socket $SOCK bound, walld not started yet"

# The first connection starts walld (the process execs into it).
lsn=$("$WALCTL" -t 10000 append "first") || fail "append through the activated socket"
expect_eq "first LSN" "$lsn" 1
[ -d "$DATA" ] || fail "no data directory after the first connection"
grep -q "listening on the socket passed by systemd" "$LOG" ||
    fail "walld did not say it uses the passed socket"
[ ! -e "$T/not-this.sock" ] || fail "walld bound --socket despite LISTEN_FDS"
ok "the first connection started walld; append got LSN 1"

printf 'a\nb\nc\n' | "$WALCTL" append --lines >/dev/null || fail "append --lines"
n=$("$WALCTL" read | wc -l)
expect_eq "records read back" "$n" 4
# Several clients at once, through the same socket.
pids=
for c in 1 2 3 4; do
	"$WALCTL" append "client $c" >/dev/null &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p" || fail "a concurrent append failed"
done
expect_eq "durable LSN" "$("$WALCTL" sync)" 8
ok "appends and reads work through the passed socket"

stop_walld TERM || fail "walld exited $? on SIGTERM, want 0"
[ -S "$SOCK" ] || fail "walld removed the socket it was passed"
ok "walld stopped (exit 0) and left the passed socket in place"

# A second activation on the same data: the log is recovered.
rm -f "$SOCK"
systemd-socket-activate -l "$SOCK" "$WALLD" $ALLOW_ROOT --data-dir "$DATA" >>"$LOG" 2>&1 &
WALLD_PID=$!
i=0
while [ ! -S "$SOCK" ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "no socket at $SOCK within 10 s"
	sleep 0.05
done
lsn=$("$WALCTL" -t 10000 append "after restart") || fail "append after restart"
expect_eq "LSN after restart" "$lsn" 9
stop_walld TERM || fail "walld exited $? on SIGTERM, want 0"
ok "reactivated walld continues the log at LSN 9"

# Two sockets: walld takes exactly one and says so.
rm -f "$SOCK"
systemd-socket-activate -l "$SOCK" -l "$T/second.sock" "$WALLD" $ALLOW_ROOT \
    --data-dir "$DATA" >>"$LOG" 2>&1 &
WALLD_PID=$!
i=0
while [ ! -S "$SOCK" ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "no socket at $SOCK within 10 s"
	sleep 0.05
done
"$WALCTL" -t 2000 ping >/dev/null 2>&1 && fail "walld served two passed sockets"
st=0
wait_walld || st=$?
expect_eq "exit status with LISTEN_FDS=2" "$st" 1
grep -q "LISTEN_FDS=2: expected exactly one socket" "$LOG" ||
    fail "no error naming LISTEN_FDS=2"
ok "LISTEN_FDS=2 refused with exit status 1"
