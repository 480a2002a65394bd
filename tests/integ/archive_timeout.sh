# SPDX-License-Identifier: Apache-2.0
# archive_timeout: a command that runs past archive.timeout is stopped:
# SIGTERM to its process group; SIGKILL to the group once the shell has
# ended (a member that ignored SIGTERM is not left behind), or 2 s later
# when the shell itself ignores SIGTERM. Each such run is a failure,
# logged with the limit and how the command ended, and retried after the
# back-off; the segment is then archived by the next run, once, and no
# process of a stopped run is left. walld answers requests all along.
. "$(dirname "$0")/lib.sh"

# The sleeps carry this test's pid, so that only they are looked for.
M=$$
trap 'pkill -KILL -f "sleep 6[123]\.$M\$" 2>/dev/null; cleanup' EXIT
mkdir -p "$T/archive"
touch "$T/hang1" "$T/hang2" "$T/hang3"
# Run 1 sleeps (dies of SIGTERM). Run 2 ignores SIGTERM, as its sleep does
# (an ignored signal stays ignored across exec): SIGKILL after 2 s. Run 3's
# shell dies of SIGTERM, its subshell's sleep ignores it. Run 4 copies.
cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
archive:
  command: "if [ -e $T/hang1 ]; then rm $T/hang1; exec sleep 61.$M; fi; if [ -e $T/hang2 ]; then rm $T/hang2; trap '' TERM; sleep 62.$M; fi; if [ -e $T/hang3 ]; then rm $T/hang3; (trap '' TERM; exec sleep 63.$M); fi; cp %p $T/archive/%f && echo %f >>$T/list"
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
expect_eq "archive_failures_total" "$(stat_of archive_failures_total)" 3
expect_eq "archived" "$(cat "$T/list")" 00000000000000000001.wal
cmp -s "$DATA/00000000000000000001.wal" "$T/archive/00000000000000000001.wal" ||
	fail "the archived copy differs"
S=00000000000000000001.wal
expect_eq "runs stopped" "$(grep -c "archive: $S: the command (pid [0-9]*) ran longer than archive.timeout (300ms): stopping it" "$LOG")" 3
expect_eq "runs ended by SIGTERM" "$(grep -c "archive: $S: stopped after archive.timeout (300ms): command killed by signal 15; retrying in" "$LOG")" 2
grep -q "archive: $S: the command (pid [0-9]*) is still there 2000 ms after SIGTERM: SIGKILL" "$LOG" ||
	fail "no SIGKILL logged for the run that ignored SIGTERM"
grep -q "archive: $S: stopped after archive.timeout (300ms): command killed by signal 9; retrying in" "$LOG" ||
	fail "no failure logged for the run stopped by SIGKILL"
grep -q "archive: $S archived after 3 failed attempts" "$LOG" ||
	fail "no log line for the success"
if pgrep -f "sleep 6[123]\.$M\$" >/dev/null; then
	fail "a stopped run left a process: $(pgrep -a -f "sleep 6[123]\.$M\$")"
fi
ok "runs past archive.timeout stopped (SIGTERM; SIGKILL when ignored, and to what outlives the shell), then archived once"
stop_walld || fail "walld exit $?"
