# SPDX-License-Identifier: Apache-2.0
# archive_retry: an archive command that fails (until a flag file exists)
# is retried with back-off, each failure counted and logged with the
# command's message; the backlog shows in stats and in STATUS=; truncate
# is held back meanwhile (the segments stay, the reply and the log say
# so). Once the flag exists every segment is archived once, in order, and
# truncate removes them. A reload changes the command, and an unset
# command turns archiving (and the hold on truncation) off.
. "$(dirname "$0")/lib.sh"

LISTEN=$B/tests/notify_listen
[ -x "$LISTEN" ] || fail "$LISTEN: not built (make all)"
mkdir -p "$T/archive"
cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
archive:
  command: "test -e $T/flag || { echo 'no flag for %f' >&2; exit 3; }; cp %p $T/archive/%f && echo %f >>$T/list"
  retry_min: 50ms
  retry_max: 400ms
YAML
# A fake service manager, for STATUS= (sent with each watchdog ping).
NSOCK=$T/notify
"$LISTEN" "$NSOCK" 60 >"$T/notify.out" &
LPID=$!
trap 'kill "$LPID" 2>/dev/null; cleanup' EXIT
i=0
while ! [ -S "$NSOCK" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "notify_listen did not bind"
	sleep 0.05
done
export NOTIFY_SOCKET=$NSOCK WATCHDOG_USEC=400000
start_walld --config "$T/walld.yaml"
unset NOTIFY_SOCKET WATCHDOG_USEC

segments() { ls "$DATA" | grep -c '\.wal$'; }

# Three sealed segments (rotations), the fourth active.
for r in 1 2 3; do
	"$WALCTL" append "segment $r, record 1" >/dev/null || fail "append"
	"$WALCTL" append "segment $r, record 2" >/dev/null || fail "append"
	"$WALCTL" rotate >/dev/null || fail "rotate"
done
"$WALCTL" append "active" >/dev/null || fail "append"
expect_eq "segments" "$(segments)" 4
i=0
while [ "$(stat_of archive_failures_total)" -lt 4 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "fewer than 4 failed runs in 5 s"
	sleep 0.05
done
expect_eq "archive_backlog" "$(stat_of archive_backlog)" 3
expect_eq "archive_archived_total" "$(stat_of archive_archived_total)" 0
expect_eq "archive_last_segment" "$(stat_of archive_last_segment)" none
[ ! -e "$T/list" ] || fail "archived while failing: $(cat "$T/list")"
grep -q "archive: 00000000000000000001.wal: command exited with status 3 (no flag for 00000000000000000001.wal); retrying in" "$LOG" ||
	fail "no log line with the status and the command's message"
# STATUS= goes with the next watchdog ping (every 200 ms), which may come
# after the failures counted above: up to 5 s.
i=0
until grep -q "STATUS=read-write, durable LSN 7, 1 connections, archive backlog 3 (archive.command failing)" "$T/notify.out" ||
	grep -q "STATUS=read-write, durable LSN 7, 0 connections, archive backlog 3 (archive.command failing)" "$T/notify.out"; do
	i=$((i + 1))
	[ $i -lt 100 ] ||
		fail "no STATUS= with the backlog: $(grep STATUS "$T/notify.out" | tail -n 2)"
	sleep 0.05
done
"$WALCTL" stats --prometheus >"$T/prom" || fail "stats --prometheus"
expect_eq "walld_archive_backlog_segments" \
	"$(awk '$1 == "walld_archive_backlog_segments" { print $2 }' "$T/prom")" 3
ok "a failing command is retried; backlog in stats, metrics and STATUS="

# Back-off: the delay doubles from 50 ms to 400 ms; about 1.5 s brings
# at most a dozen more runs, where a tight loop would bring hundreds.
f1=$(stat_of archive_failures_total)
sleep 1.5
f2=$(stat_of archive_failures_total)
[ $((f2 - f1)) -ge 2 ] && [ $((f2 - f1)) -le 12 ] ||
	fail "$((f2 - f1)) failures in 1.5 s with back-off up to 400 ms"
grep -q "retrying in 400ms" "$LOG" || fail "the back-off did not reach 400 ms"
# Logged rate-limited: at most 5 lines in any 10 s (log_limited).
[ "$(grep -c 'archive: 00000000000000000001.wal: command exited' "$LOG")" -le 10 ] ||
	fail "every failure logged"
ok "exponential back-off, failures logged rate-limited"

# Truncation is held back: nothing was archived, so nothing goes.
first=$("$WALCTL" truncate --before 8) || fail "truncate"
expect_eq "first LSN after a held-back truncate" "$first" 1
expect_eq "segments after a held-back truncate" "$(segments)" 4
expect_eq "truncate_held_total" "$(stat_of truncate_held_total)" 1
grep -q "truncate before LSN 8: held back to LSN 1: 00000000000000000001.wal is not archived yet" "$LOG" ||
	fail "no log line for the held-back truncate"
ok "truncate holds back while segments are not archived"

# The flag appears: the next retry archives all three, in order, once.
touch "$T/flag"
i=0
while [ "$(stat_of archive_backlog)" != 0 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "backlog $(stat_of archive_backlog) 5 s after the flag"
	sleep 0.05
done
printf '%s\n' 00000000000000000001.wal 00000000000000000003.wal \
	00000000000000000005.wal >"$T/want"
cmp -s "$T/want" "$T/list" || fail "archived: $(cat "$T/list")"
expect_eq "archive_archived_total" "$(stat_of archive_archived_total)" 3
grep -q "archive: 00000000000000000001.wal archived after [0-9]* failed attempts" "$LOG" ||
	fail "no log line for the recovery"
# Truncation now removes what is archived, and keeps the active segment.
first=$("$WALCTL" truncate --before 8) || fail "truncate"
expect_eq "first LSN after truncate" "$first" 7
expect_eq "segments after truncate" "$(segments)" 1
expect_eq "truncate_held_total" "$(stat_of truncate_held_total)" 1
ok "the command succeeds later: archived in order, then truncated"

# A partial hold: 7.wal archived, 8.wal failing: truncate removes the
# first and keeps the second.
"$WALCTL" rotate >/dev/null || fail "rotate"		# seals 7.wal
i=0
while [ "$(tail -n 1 "$T/list")" != 00000000000000000007.wal ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "7.wal not archived within 5 s"
	sleep 0.05
done
rm "$T/flag"
f1=$(stat_of archive_failures_total)
"$WALCTL" append "segment 8" >/dev/null || fail "append"
"$WALCTL" rotate >/dev/null || fail "rotate"		# seals 8.wal
"$WALCTL" append "segment 9" >/dev/null || fail "append"
i=0
while [ "$(stat_of archive_failures_total)" = "$f1" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "8.wal did not fail within 5 s"
	sleep 0.05
done
expect_eq "archive_backlog" "$(stat_of archive_backlog)" 1
first=$("$WALCTL" truncate --before 9) || fail "truncate"
expect_eq "first LSN, held back at 8.wal" "$first" 8
expect_eq "segments" "$(segments)" 2
expect_eq "truncate_held_total" "$(stat_of truncate_held_total)" 2
ok "truncate removes what is archived and keeps the rest"

# A reload that makes the back-off 30 s: after the next failure nothing
# runs for a while. A reload with a command that works runs it at once.
sed -i -e "s|  retry_min: .*|  retry_min: 30s|" \
	-e "s|  retry_max: .*|  retry_max: 30s|" "$T/walld.yaml"
f0=$(stat_of archive_failures_total)
kill -HUP "$WALLD_PID"
# The retry already scheduled (400 ms at most) fails once more, and the
# next waits 30 s. (Its log line is past the rate limit.)
sleep 1
f1=$(stat_of archive_failures_total)
[ "$f1" -gt "$f0" ] || fail "no failure within 1 s of the reload"
sleep 0.5
expect_eq "failures while backing off 30 s" \
	"$(stat_of archive_failures_total)" "$f1"
sed -i "s|  command: .*|  command: \"cp %p $T/archive/%f \&\& echo %f >>$T/list2\"|" \
	"$T/walld.yaml"
kill -HUP "$WALLD_PID"
i=0
while [ "$(stat_of archive_backlog)" != 0 ]; do
	i=$((i + 1))
	[ $i -lt 40 ] || fail "the reloaded command did not run within 2 s"
	sleep 0.05
done
expect_eq "archived by the new command" "$(cat "$T/list2")" \
	00000000000000000008.wal
grep -q "archive: command: cp %p" "$LOG" || fail "no log line for the new command"

# No command: no archiving, and truncation is not held back.
sed -i "s|  command: .*|  command: ~|" "$T/walld.yaml"
kill -HUP "$WALLD_PID"
i=0
while ! grep -q "archive: off" "$LOG"; do
	i=$((i + 1))
	[ $i -lt 40 ] || fail "no log line for archiving off"
	sleep 0.05
done
"$WALCTL" rotate >/dev/null || fail "rotate"		# seals 9.wal
"$WALCTL" append "segment 10" >/dev/null || fail "append"
expect_eq "archive_enabled" "$(stat_of archive_enabled)" 0
expect_eq "archive_backlog when off" "$(stat_of archive_backlog)" 0
first=$("$WALCTL" truncate --before 10) || fail "truncate"
expect_eq "first LSN, archiving off" "$first" 10
expect_eq "list2 when off" "$(wc -l <"$T/list2")" 1
ok "reload: a new command runs at once; no command, no archiving, no hold"

stop_walld TERM || fail "stop"
kill "$LPID" 2>/dev/null
