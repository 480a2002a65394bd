# SPDX-License-Identifier: Apache-2.0
# archive_order: with 1 MiB segments, rollovers and rotations, every
# sealed segment is archived exactly once, in LSN order, byte for byte;
# the archive reads offline as a log; the position (ARCHIVED) survives a
# restart, so nothing is archived twice, and the segment sealed by the
# restart is archived too, as is the last one after a seal; the engine
# does not take ARCHIVED for a stray.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/archive"
cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
archive:
  command: "cp %p $T/archive/%f.tmp && mv $T/archive/%f.tmp $T/archive/%f && echo %f >>$T/list"
  retry_min: 50ms
  retry_max: 200ms
YAML
start_walld --config "$T/walld.yaml"

# wait_archived: until the backlog is 0 and nothing runs (10 s at most).
wait_archived() {
	i=0
	while [ "$(stat_of archive_backlog)" != 0 ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "archive backlog $(stat_of archive_backlog) after 10 s"
		sleep 0.05
	done
}

# sealed_segments: the segment files of the data directory but the last
# (the active one), oldest first.
sealed_segments() {
	ls "$DATA" | grep '\.wal$' | sort | sed '$d'
}

# About 3.5 MiB of 32 KiB records: rollovers at each 1 MiB.
head -c 24576 /dev/urandom | base64 -w 0 >"$T/rec"
echo >>"$T/rec"
i=0
while [ $i -lt 110 ]; do
	cat "$T/rec"
	i=$((i + 1))
done >"$T/lines"
"$WALCTL" append --lines <"$T/lines" >/dev/null || fail "append --lines"
# And a few rotations between small appends.
for r in 1 2 3; do
	"$WALCTL" append "small $r" >/dev/null || fail "append"
	"$WALCTL" rotate >/dev/null || fail "rotate"
done
"$WALCTL" append "in the active segment" >/dev/null || fail "append"
wait_archived

sealed_segments >"$T/want"
n=$(wc -l <"$T/want")
[ "$n" -ge 6 ] || fail "only $n sealed segments"
cmp -s "$T/want" "$T/list" || fail "archived, in order: $(cat "$T/list"); sealed: $(cat "$T/want")"
while read -r f; do
	cmp -s "$DATA/$f" "$T/archive/$f" || fail "$f: the archived copy differs"
done <"$T/want"
expect_eq "archive_archived_total" "$(stat_of archive_archived_total)" "$n"
expect_eq "archive_failures_total" "$(stat_of archive_failures_total)" 0
expect_eq "archive_last_segment" "$(stat_of archive_last_segment)" \
	"$(tail -n 1 "$T/want")"
expect_eq "ARCHIVED" "$(cat "$DATA/ARCHIVED")" "$(tail -n 1 "$T/want")"
expect_eq "archived lines in the log" "$(grep -c 'archive: .* archived' "$LOG")" "$n"
ok "$n sealed segments archived once each, in order, byte for byte"

# The archive is a log of its own: it verifies, and reads offline as the
# records before the active segment.
"$WALCTL" verify --dir "$T/archive" >"$T/verify" 2>&1 ||
	fail "walctl verify of the archive: $(cat "$T/verify")"
active=$(ls "$DATA" | grep '\.wal$' | sort | tail -n 1)
to=$(echo "${active%.wal}" | awk '{ print $1 - 1 }')
"$WALCTL" read --dir "$T/archive" --json >"$T/archive.json" ||
	fail "read --dir of the archive"
"$WALCTL" read --to "$to" --json >"$T/log.json" || fail "read --to $to"
[ -s "$T/log.json" ] || fail "no records read"
cmp -s "$T/archive.json" "$T/log.json" ||
	fail "the archive's records differ from the log's up to $to"
ok "the archive verifies and reads offline"

# A restart: nothing archived again; the segment the restart seals (the
# active one, if it had records) is archived once, and new ones follow.
stop_walld TERM || fail "stop"
start_walld --config "$T/walld.yaml"
if grep -q "ARCHIVED.*not a segment" "$LOG"; then
	fail "the engine warns about ARCHIVED"
fi
"$WALCTL" append "after the restart" >/dev/null || fail "append"
"$WALCTL" rotate >/dev/null || fail "rotate"
"$WALCTL" append "after the rotation" >/dev/null || fail "append"
wait_archived
sealed_segments >"$T/want2"
cmp -s "$T/want2" "$T/list" ||
	fail "after a restart: archived $(cat "$T/list"); sealed: $(cat "$T/want2")"
dups=$(sort "$T/list" | uniq -d)
[ -z "$dups" ] || fail "archived twice: $dups"
[ "$(wc -l <"$T/want2")" -gt "$n" ] || fail "no new segment archived"
ok "the position survives a restart: no segment twice, none skipped"

# A seal seals the last segment: it is archived too, and then every
# segment of the log is in the archive.
"$WALCTL" seal >/dev/null || fail "seal"
ls "$DATA" | grep '\.wal$' | sort >"$T/want3"
i=0
while ! cmp -s "$T/want3" "$T/list"; do
	i=$((i + 1))
	[ $i -lt 100 ] ||
		fail "after a seal: archived $(cat "$T/list"); segments: $(cat "$T/want3")"
	sleep 0.05
done
wait_archived
"$WALCTL" read --dir "$T/archive" --json >"$T/archive.json" || fail "read"
"$WALCTL" read --json >"$T/log.json" || fail "read"
cmp -s "$T/archive.json" "$T/log.json" || fail "the archive is not the log"
ok "a seal: the last segment is archived; the archive holds the whole log"

stop_walld TERM || fail "stop"
