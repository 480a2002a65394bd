# SPDX-License-Identifier: Apache-2.0
# systemd_notify: walld speaks sd_notify to $NOTIFY_SOCKET, as under
# Type=notify: STATUS=recovering, READY=1, STATUS= with the durable LSN,
# WATCHDOG=1 from its loop when WATCHDOG_USEC is set (none otherwise),
# RELOADING=1 then READY=1 around a SIGHUP, and STOPPING=1 on SIGTERM, in
# that order and all from walld's own pid (NotifyAccess=main).
. "$(dirname "$0")/lib.sh"

LISTEN=$B/tests/notify_listen
[ -x "$LISTEN" ] || fail "$LISTEN: not built (make all)"
NSOCK=$T/notify
OUT=$T/notify.out
printf 'logging:\n  level: info\n' >"$T/walld.yaml"
LPID=
trap 'if [ -n "$LPID" ]; then kill "$LPID" 2>/dev/null; fi; cleanup' EXIT

# Starts the fake service manager on $NSOCK; waits until it is bound.
listen_start() {
	rm -f "$OUT"
	"$LISTEN" "$NSOCK" 60 >"$OUT" &
	LPID=$!
	i=0
	while ! [ -S "$NSOCK" ] && ! grep -q "@${NSOCK#@}\$" /proc/net/unix; do
		kill -0 "$LPID" 2>/dev/null || fail "notify_listen failed"
		i=$((i + 1))
		[ $i -lt 100 ] || fail "notify_listen did not bind $NSOCK"
		sleep 0.05
	done
}
# Stops it once the messages sent so far have arrived: walld has exited,
# so its last is STOPPING=1 or a STATUS= after it; the listener may still
# be writing them out (up to 10 s), and then has a little more time for
# any that should not be there.
listen_stop() {
	i=0
	while ! grep -q " STOPPING=1\$" "$OUT"; do
		i=$((i + 1))
		[ $i -lt 200 ] || break
		sleep 0.05
	done
	sleep 0.3
	kill "$LPID" && wait "$LPID" 2>/dev/null
	LPID=
}
# first_line PATTERN: number of the first line of $OUT matching, or 0.
first_line() {
	awk -v re="$1" '$0 ~ re { print NR; exit } END { if (!NR) print 0 }' "$OUT" |
	    head -n 1
}
last_line() {
	awk -v re="$1" '$0 ~ re { n = NR } END { print n + 0 }' "$OUT"
}

# With a watchdog of 200 ms: pings every 100 ms.
listen_start
export NOTIFY_SOCKET=$NSOCK WATCHDOG_USEC=200000
start_walld --config "$T/walld.yaml"
unset NOTIFY_SOCKET WATCHDOG_USEC
pid=$WALLD_PID
lsn=$("$WALCTL" append "notify test") || fail "append"
expect_eq "first LSN" "$lsn" 1
sleep 0.5
kill -HUP "$pid"
sleep 0.5
stop_walld TERM || fail "walld exited $? on SIGTERM, want 0"
listen_stop
cat "$OUT"

# Every message comes from walld's main pid.
others=$(awk -v p="$pid" '$1 != p' "$OUT" | wc -l)
expect_eq "messages from another pid than walld's ($pid)" "$others" 0

recovering=$(first_line " STATUS=recovering ")
ready=$(first_line " READY=1$")
status=$(first_line " STATUS=read-write, durable LSN 0, ")
durable=$(first_line " STATUS=read-write, durable LSN 1, ")
watchdog=$(first_line " WATCHDOG=1$")
nwatchdog=$(grep -c " WATCHDOG=1$" "$OUT")
reloading=$(first_line " RELOADING=1$")
stopping=$(first_line " STOPPING=1$")
last_ready=$(last_line " READY=1$")
last_watchdog=$(last_line " WATCHDOG=1$")

[ "$recovering" -gt 0 ] || fail "no STATUS=recovering"
[ "$ready" -gt "$recovering" ] || fail "no READY=1 after STATUS=recovering"
[ "$status" -gt "$ready" ] || fail "no STATUS= with the state and durable LSN after READY=1"
[ "$durable" -gt "$status" ] || fail "no STATUS= showing durable LSN 1 after the append"
[ "$watchdog" -gt "$ready" ] || fail "no WATCHDOG=1 after READY=1"
# 1 s between READY and STOPPING at one ping per 100 ms: expect ~10.
[ "$nwatchdog" -ge 4 ] || fail "$nwatchdog WATCHDOG=1 in about 1 s, want ~10"
[ "$reloading" -gt "$watchdog" ] || fail "no RELOADING=1 after SIGHUP"
[ "$last_ready" -gt "$reloading" ] || fail "no READY=1 after RELOADING=1"
[ "$stopping" -gt "$last_ready" ] || fail "no STOPPING=1 after the reload's READY=1"
[ "$last_watchdog" -lt "$stopping" ] || fail "WATCHDOG=1 after STOPPING=1"
[ "$(last_line " READY=1$| RELOADING=1$")" -lt "$stopping" ] ||
    fail "READY=1 or RELOADING=1 after STOPPING=1"
after=$(awk -v s="$stopping" 'NR > s && $2 !~ /^STATUS=/' "$OUT" | wc -l)
expect_eq "messages other than STATUS= after STOPPING=1" "$after" 0
ok "READY, STATUS, $nwatchdog WATCHDOG, RELOADING/READY, STOPPING in order"

# Without WATCHDOG_USEC: no ping. With WATCHDOG_PID naming another
# process (the watchdog is not walld's): no ping either. The second run
# uses an abstract socket ("@name"), as NOTIFY_SOCKET may name one.
for wd in none other; do
	[ $wd = none ] || NSOCK=@walld-test-notify-$$
	listen_start
	if [ $wd = other ]; then
		export WATCHDOG_USEC=200000 WATCHDOG_PID=1
	fi
	export NOTIFY_SOCKET=$NSOCK
	start_walld
	unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
	sleep 0.5
	stop_walld TERM || fail "walld exited $? on SIGTERM, want 0"
	listen_stop
	grep -q " READY=1$" "$OUT" || fail "watchdog $wd: no READY=1"
	grep -q " STOPPING=1$" "$OUT" || fail "watchdog $wd: no STOPPING=1"
	! grep -q "WATCHDOG=1" "$OUT" || fail "watchdog $wd: WATCHDOG=1 sent"
done
ok "no WATCHDOG=1 without WATCHDOG_USEC, nor for another WATCHDOG_PID"
ok "an abstract NOTIFY_SOCKET works"
