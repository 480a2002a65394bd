# SPDX-License-Identifier: Apache-2.0
# archive_restart: a stop ends an archive command still running (its
# process group, within 2 s, a member that ignores SIGTERM included) and
# the segment is archived at the next
# start, once; a restart archives nothing again; an unreadable ARCHIVED
# is reported and archiving starts over from the oldest segment (twice
# rather than never).
. "$(dirname "$0")/lib.sh"

M=$$	# in the command's sleep, so that only it is looked for
trap 'pkill -KILL -f "sleep 30\.$M\$" 2>/dev/null; cleanup' EXIT
mkdir -p "$T/archive"
# conf COMMAND: the configuration with that archive command.
conf() {
	cat >"$T/walld.yaml" <<YAML
archive:
  command: "$1"
  retry_min: 50ms
  retry_max: 200ms
YAML
}
# The shell dies of SIGTERM; its subshell's sleep ignores it.
conf "echo \$\$ >$T/pid; (trap '' TERM; exec sleep 30.$M); echo %f >>$T/list"
start_walld --config "$T/walld.yaml"
"$WALCTL" append "one" >/dev/null || fail "append"
"$WALCTL" rotate >/dev/null || fail "rotate"
"$WALCTL" append "two" >/dev/null || fail "append"
i=0
while ! [ -s "$T/pid" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the archive command did not start"
	sleep 0.05
done
cmdpid=$(cat "$T/pid")
kill -0 "$cmdpid" || fail "the command is not running"
start=$(date +%s)
stop_walld TERM || fail "walld exited $? on SIGTERM"
[ $(($(date +%s) - start)) -le 4 ] || fail "the stop took $(($(date +%s) - start)) s"
grep -q "archive: stopping the command for 00000000000000000001.wal" "$LOG" ||
	fail "no log line for the command stopped"
! kill -0 "$cmdpid" 2>/dev/null || fail "the command outlived walld"
! pgrep -f "sleep 30\.$M\$" >/dev/null ||
	fail "a process of the command's group outlived walld"
[ ! -e "$T/list" ] || fail "archived: $(cat "$T/list")"
[ ! -e "$DATA/ARCHIVED" ] || fail "ARCHIVED moved: $(cat "$DATA/ARCHIVED")"
ok "a stop ends the running command (process group) and keeps the position"

conf "cp %p $T/archive/%f && echo %f >>$T/list"
start_walld --config "$T/walld.yaml"
# The start seals the segment that was active (2.wal): both go, in order.
i=0
while [ "$(stat_of archive_backlog)" != 0 ] || ! [ -e "$T/list" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "not archived after the restart"
	sleep 0.05
done
printf '%s\n' 00000000000000000001.wal 00000000000000000002.wal >"$T/want"
cmp -s "$T/want" "$T/list" || fail "archived after the restart: $(cat "$T/list")"
stop_walld TERM || fail "stop"
start_walld --config "$T/walld.yaml"
"$WALCTL" append "three" >/dev/null || fail "append"
"$WALCTL" rotate >/dev/null || fail "rotate"
i=0
while [ "$(wc -l <"$T/list")" -lt 3 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the next segment was not archived"
	sleep 0.05
done
sleep 0.3
dups=$(sort "$T/list" | uniq -d)
[ -z "$dups" ] || fail "archived twice: $dups"
expect_eq "ARCHIVED" "$(cat "$DATA/ARCHIVED")" "$(tail -n 1 "$T/list")"
ok "the interrupted segment is archived at the next start, once; no repeats"
stop_walld TERM || fail "stop"

echo garbage >"$DATA/ARCHIVED"
n=$(wc -l <"$T/list")
start_walld --config "$T/walld.yaml"
grep -q "archive: $DATA/ARCHIVED: not a segment name; archiving from the oldest segment" "$LOG" ||
	fail "no warning about a bad ARCHIVED"
i=0
while [ "$(stat_of archive_backlog)" != 0 ] || [ "$(wc -l <"$T/list")" -le "$n" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "nothing archived again"
	sleep 0.05
done
expect_eq "archived again" "$(sed -n "$((n + 1))p" "$T/list")" \
	00000000000000000001.wal
ok "an unreadable ARCHIVED: warned, archived again from the oldest"
stop_walld TERM || fail "stop"
