# archive_timeout: a command that runs past archive.timeout is stopped,
# SIGTERM to its process group, then SIGKILL 2 s later when the group
# ignores SIGTERM. Each such run is a failure, logged with the reason and
# retried after the back-off; the segment is then archived by the next
# run, once, and no process of a stopped run is left. walld answers
# requests all along (the stopping does not block its loop).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/archive"
touch "$T/hang1" "$T/hang2"
# First run: sleeps (dies of SIGTERM). Second: ignores SIGTERM, as its
# sleep does (an ignored signal stays ignored across exec). Third: copies.
cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
archive:
  command: "if [ -e $T/hang1 ]; then rm $T/hang1; exec sleep 61; fi; if [ -e $T/hang2 ]; then rm $T/hang2; trap '' TERM; sleep 62; fi; cp %p $T/archive/%f && echo %f >>$T/list"
  retry_min: 50ms
  retry_max: 50ms
  timeout: 300ms
YAML
start_walld --config "$T/walld.yaml"
"$WALCTL" append "segment 1" >/dev/null || fail "append"
"$WALCTL" rotate >/dev/null || fail "rotate"		# seals 1.wal
"$WALCTL" append "segment 2" >/dev/null || fail "append"

i=0
while [ "$(stat_of archive_archived_total)" != 1 ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "not archived within 15 s: $(stat_of archive_failures_total) failures"
	# The loop serves requests while a command is being stopped.
	"$WALCTL" ping >/dev/null || fail "ping while archiving"
	sleep 0.05
done
expect_eq "archive_failures_total" "$(stat_of archive_failures_total)" 2
expect_eq "archived" "$(cat "$T/list")" 00000000000000000001.wal
cmp -s "$DATA/00000000000000000001.wal" "$T/archive/00000000000000000001.wal" ||
	fail "the archived copy differs"
expect_eq "runs stopped" "$(grep -c 'archive: 00000000000000000001.wal: the command (pid [0-9]*) ran longer than archive.timeout (300ms): stopping it' "$LOG")" 2
grep -q 'archive: 00000000000000000001.wal: command stopped after archive.timeout (SIGTERM); retrying in' "$LOG" ||
	fail "no failure logged for the run stopped by SIGTERM"
grep -q 'archive: 00000000000000000001.wal: the command (pid [0-9]*) is still there 2000 ms after SIGTERM: SIGKILL' "$LOG" ||
	fail "no SIGKILL logged for the run that ignored SIGTERM"
grep -q 'archive: 00000000000000000001.wal: command stopped after archive.timeout (SIGKILL); retrying in' "$LOG" ||
	fail "no failure logged for the run stopped by SIGKILL"
grep -q 'archive: 00000000000000000001.wal archived after 2 failed attempts' "$LOG" ||
	fail "no log line for the success"
if pgrep -f "sleep 6[12]\$" >/dev/null; then
	fail "a stopped run left a process: $(pgrep -a -f 'sleep 6[12]$')"
fi
ok "runs past archive.timeout stopped (SIGTERM; SIGKILL when ignored), then archived once"
stop_walld || fail "walld exit $?"
