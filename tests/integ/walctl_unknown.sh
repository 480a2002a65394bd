# SPDX-License-Identifier: Apache-2.0
# walctl when walld dies mid-request: the outcome is unknown, exit 75, for
# a single append and for append --lines; a stopped walld fails ping -t.
. "$(dirname "$0")/lib.sh"
start_walld
"$WALCTL" append "before" >/dev/null || fail append

# Both walctl connect while walld runs, then wait for their input (the
# single append reads stdin after connecting); walld stops answering, the
# requests go out, and walld dies with them in flight.
mkfifo "$T/in1" "$T/in2"
"$WALCTL" append <"$T/in1" >"$T/out" 2>"$T/err" &
apid=$!
"$WALCTL" append --lines <"$T/in2" >"$T/lines" 2>"$T/lerr" &
lpid=$!
exec 3>"$T/in1" 4>"$T/in2"
i=0
while [ "$(stat_of connections)" -lt 3 ]; do
	i=$((i + 1)); [ $i -lt 200 ] || fail "walctl did not connect"
	sleep 0.05
done
# Accepted is not yet greeted: let walld answer both HELLOs before it
# stops answering (else walctl fails to connect: exit 69, not 75). walctl
# reads its input once its HELLO is answered: wait until both sleep
# reading their fifo (10 s at most; where the kernel does not tell, as
# long as that).
on_fifo() {
	case $(cat "/proc/$1/wchan" 2>/dev/null) in
	*pipe_read*) return 0 ;;
	esac
	return 1
}
i=0
until on_fifo $apid && on_fifo $lpid; do
	i=$((i + 1)); [ $i -lt 200 ] || break
	sleep 0.05
done
kill -STOP "$WALLD_PID"
echo "in flight" >&3
exec 3>&-
seq 1 1000 >&4
exec 4>&-
st=0; "$WALCTL" -t 300 ping 2>"$T/perr" || st=$?
expect_eq "ping to a stopped walld" $st 69
sleep 0.3
kill -KILL "$WALLD_PID"
wait "$WALLD_PID" 2>/dev/null
WALLD_PID=
st=0; wait $apid || st=$?
expect_eq "append when walld died" $st 75
grep -q "^walctl: append: outcome unknown" "$T/err" || fail "message: $(cat "$T/err")"
expect_eq "no LSN printed" "$(cat "$T/out")" ""
st=0; wait $lpid || st=$?
expect_eq "append --lines when walld died" $st 75
grep -q "outcome unknown" "$T/lerr" || fail "--lines message: $(cat "$T/lerr")"
ok "outcome unknown: exit 75"

# After a restart the log is usable; the unknown record is there or not.
start_walld
n=$("$WALCTL" read | wc -l)
[ "$n" -ge 1 ] && [ "$n" -le 1002 ] || fail "records after restart: $n"
"$WALCTL" append "after" >/dev/null || fail "append after restart"
stop_walld || fail "walld exit status $?"
ok "restart after the kill"
