# SPDX-License-Identifier: Apache-2.0
# Following the log: read --follow exits 75, saying where to resume
# (--from N), when walld stops or dies under it, and 0 at the end of a
# sealed log; tail -n; tail -f across a walld stop and a kill -9 prints
# every LSN exactly once; tail --cursor -f killed and started again loses
# nothing and repeats at most the records of one commit window.
. "$(dirname "$0")/lib.sh"

# wait_lines FILE N: until FILE has N lines (10 s).
wait_lines() {
	i=0
	while [ "$(cat "$1" 2>/dev/null | wc -l)" -lt "$2" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "$1: $(cat "$1" 2>/dev/null | wc -l) lines, want $2"
		sleep 0.05
	done
}
# wait_exit PID: its exit status in $st (10 s; not in a subshell, which
# cannot wait for it).
wait_exit() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "pid $1 did not exit"
		sleep 0.05
	done
	st=0
	wait "$1" || st=$?
}

start_walld
for i in 1 2 3; do "$WALCTL" append "r$i" >/dev/null || fail append; done

# Stopped under a follow: 75 and where to go on.
"$WALCTL" read --follow >"$T/f1" 2>"$T/e1" &
fpid=$!
wait_lines "$T/f1" 3
stop_walld || fail "stop: $?"
wait_exit $fpid
    expect_eq "follow, walld stopped: exit" $st 75
grep -q "walld ended the stream.*resume with --from 4" "$T/e1" ||
	fail "follow, stopped: $(cat "$T/e1")"
ok "read --follow: walld stopped: exit 75, resume with --from 4"

start_walld
"$WALCTL" read --follow --from 2 >"$T/f2" 2>"$T/e2" &
fpid=$!
wait_lines "$T/f2" 2
kill -KILL "$WALLD_PID"; wait "$WALLD_PID" 2>/dev/null; WALLD_PID=
wait_exit $fpid
    expect_eq "follow, walld killed: exit" $st 75
grep -q "resume with --from 4" "$T/e2" || fail "follow, killed: $(cat "$T/e2")"
ok "read --follow: walld killed: exit 75, resume with --from 4"

# tail -n.
start_walld
expect_eq "tail -n 2" "$("$WALCTL" tail -n 2 | cut -d' ' -f1 | tr '\n' ' ')" "lsn=2 lsn=3 "
expect_eq "tail" "$("$WALCTL" tail | wc -l)" 3
expect_eq "tail -n 0" "$("$WALCTL" tail -n 0)" ""
ok "tail -n"

# tail -f and tail --cursor -f across a stop and a kill -9, with appends
# going on (retried while walld is away; a retry may write a record twice,
# which is no matter here: what is counted is LSNs).
"$WALCTL" cursor create tc 3 >/dev/null || fail "cursor create"
"$WALCTL" tail -n 1000 -f >"$T/tail" 2>"$T/tail.err" &
tpid=$!
EXTRA_PIDS="$EXTRA_PIDS $tpid"
"$WALCTL" tail --cursor tc -f --commit-every 5 --commit-ms 600000 \
    >"$T/c1" 2>"$T/c1.err" &
cpid=$!
EXTRA_PIDS="$EXTRA_PIDS $cpid"
(
	i=1
	while [ $i -le 300 ]; do
		if "$WALCTL" append "a$i" >/dev/null 2>&1; then
			i=$((i + 1))
		else
			sleep 0.05
		fi
	done
) &
apid=$!
EXTRA_PIDS="$EXTRA_PIDS $apid"
wait_lines "$T/tail" 63
stop_walld || fail "stop: $?"
start_walld
wait_lines "$T/tail" 123
# The cursor's consumer dies (its uncommitted records come again) and a
# new one takes over.
kill -0 $cpid || fail "tail --cursor -f exited: $(cat "$T/c1.err")"
kill -KILL $cpid; wait $cpid 2>/dev/null
"$WALCTL" tail --cursor tc -f --commit-every 5 --commit-ms 600000 \
    >"$T/c2" 2>"$T/c2.err" &
cpid=$!
EXTRA_PIDS="$EXTRA_PIDS $cpid"
wait_lines "$T/c2" 1
kill -KILL "$WALLD_PID"; wait "$WALLD_PID" 2>/dev/null; WALLD_PID=
sleep 0.3
start_walld
wait "$apid" || fail "appender"
last=$("$WALCTL" seal) || fail seal
wait_exit $tpid
    expect_eq "tail -f ends at the sealed end" $st 0
wait_exit $cpid
    expect_eq "tail --cursor -f ends at the sealed end" $st 0
[ "$last" -ge 303 ] || fail "only $last records"
grep -q "walld went away at LSN" "$T/tail.err" || fail "tail: $(cat "$T/tail.err")"
grep -q "reconnected; resuming at LSN" "$T/tail.err" || fail "tail: $(cat "$T/tail.err")"

# Every LSN 1..last once in tail -f's output.
seq 1 "$last" >"$T/want"
sed -n 's/^lsn=\([0-9]*\) .*/\1/p' "$T/tail" >"$T/got"
cmp -s "$T/want" "$T/got" || fail "tail -f: $(diff "$T/want" "$T/got" | head)"
ok "tail -f across a stop and kill -9: LSNs 1..$last, each once"
seq 4 "$last" >"$T/want"

# With the cursor: nothing lost, at most 5 repeated, and the cursor at
# the end.
cat "$T/c1" "$T/c2" | sed -n 's/^lsn=\([0-9]*\) .*/\1/p' >"$T/cgot"
sort -n -u "$T/cgot" >"$T/cuniq"
cmp -s "$T/want" "$T/cuniq" || fail "tail --cursor: lost: $(diff "$T/want" "$T/cuniq" | head)"
dups=$(( $(wc -l <"$T/cgot") - $(wc -l <"$T/cuniq") ))
[ "$dups" -le 5 ] || fail "tail --cursor: $dups records repeated (window: 5)"
expect_eq "cursor at the end" "$("$WALCTL" cursor get tc | cut -d' ' -f2)" "$last"
ok "tail --cursor -f killed and restarted: nothing lost, $dups repeated"

# A follow on a sealed log ends 0 once past its last record.
"$WALCTL" read --follow --from $((last - 1)) >"$T/f3" 2>"$T/e3" || fail "sealed: $(cat "$T/e3")"
expect_eq "sealed: records" "$(wc -l <"$T/f3")" 2
expect_eq "sealed, past the end" "$("$WALCTL" read --follow --from $((last + 5)))" ""
ok "read --follow on a sealed log ends with 0"
