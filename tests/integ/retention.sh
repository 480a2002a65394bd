# SPDX-License-Identifier: Apache-2.0
# Truncation's guard rails and the retention policy (docs/RETENTION.md),
# against the real walld:
# - truncate above the durable LSN exits 65 and removes nothing; past a
#   cursor it exits 81 naming the cursor, unless --force (logged);
#   --dry-run says what would go and removes nothing;
# - retention.cursors removes a sealed segment once every cursor has
#   consumed it, never before, and never one not archived yet;
# - retention.max_bytes and max_age win over a lagging cursor, with a log
#   line naming it and walld_retention_cursor_overruns_total.
. "$(dirname "$0")/lib.sh"

stat_of() { "$WALCTL" stats | awk -v k="$1" '$1 == k { print $2 }'; }
# fill N: N records of 200 bytes, then a rotation; prints nothing.
fill() {
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "%0200d\n", i }' |
	    "$WALCTL" append --lines >/dev/null || fail "append --lines"
	"$WALCTL" rotate >/dev/null || fail rotate
}
# wait_first LSN: until the log's first LSN is at least LSN (10 s).
wait_first() {
	i=0
	while [ "$(stat_of first_lsn)" -lt "$1" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "first_lsn $(stat_of first_lsn), not $1 within 10 s"
		sleep 0.05
	done
}

mkdir "$T/archive"
cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
archive:
  command: test -e $T/allow && cp %p $T/archive/%f
  retry_min: 50ms
  retry_max: 200ms
retention:
  cursors: true
  interval: 100ms
YAML
start_walld --config "$T/walld.yaml"
fill 3000
fill 3000
fill 3000
segs=$(stat_of segments)
[ "$segs" -ge 3 ] || fail "$segs segments"
durable=$("$WALCTL" sync)

# Guard rails.
st=0
"$WALCTL" truncate --before 99999999 2>"$T/err" || st=$?
expect_eq "truncate above the durable LSN" $st 65
grep -q "above the durable LSN $durable; nothing removed" "$T/err" ||
	fail "message: $(cat "$T/err")"
ok "truncate above the durable LSN: 65, nothing removed"

# Retention by cursors: nothing goes while one cursor lags, nor before
# the archive has the segment.
"$WALCTL" cursor create slow 10 >/dev/null || fail "cursor create"
"$WALCTL" cursor create fast 10 >/dev/null || fail "cursor create"
"$WALCTL" cursor commit fast "$durable" >/dev/null || fail commit
sleep 0.5
expect_eq "first LSN with a cursor at 10" "$(stat_of first_lsn)" 1
"$WALCTL" cursor commit slow 3500 >/dev/null || fail commit
sleep 0.5
expect_eq "first LSN before the archive has it" "$(stat_of first_lsn)" 1
touch "$T/allow"
wait_first 2
first=$(stat_of first_lsn)
[ "$first" -le 3501 ] || fail "retention removed LSN $((first - 1)), which cursor slow (3500) needs"
ls "$T/archive/00000000000000000001.wal" >/dev/null || fail "not archived"
grep -q "truncated before LSN $first (retention)" "$LOG" || fail "no log line"
sleep 0.5
expect_eq "first LSN while slow is at 3500" "$(stat_of first_lsn)" "$first"
ok "retention.cursors: the first segment went once both cursors and the archive had it (log starts at $first), not the next"

# Past a cursor: refused, naming it.
segs=$(stat_of segments)
st=0
"$WALCTL" truncate --before 7000 2>"$T/err" || st=$?
expect_eq "truncate past a cursor" $st 81
grep -q "cursor slow is at LSN 3500; nothing removed" "$T/err" ||
	fail "message: $(cat "$T/err")"
expect_eq "segments after the refusal" "$(stat_of segments)" "$segs"
ok "truncate past a cursor: 81 naming it, nothing removed"

# --dry-run, then --force past the slow cursor.
"$WALCTL" truncate --dry-run --force --before 7000 >"$T/dry" || fail "dry run"
grep -q "^would remove 1 segments ([0-9]* bytes); the log would start at LSN" "$T/dry" ||
	fail "dry run says: $(cat "$T/dry")"
expect_eq "first LSN after a dry run" "$(stat_of first_lsn)" "$first"
"$WALCTL" truncate --force --before 7000 >/dev/null || fail "truncate --force"
[ "$(stat_of first_lsn)" -gt "$first" ] || fail "--force removed nothing"
grep -q "forced past cursor slow (at LSN 3500) by uid" "$LOG" ||
	fail "no log line for --force"
ok "--dry-run removes nothing; --force goes past the cursor and is logged"
stop_walld

# Limits win over a lagging cursor, and say so.
cat >"$T/limits.yaml" <<YAML
storage:
  segment_size: 1MiB
retention:
  cursors: true
  max_bytes: 3MiB
  interval: 100ms
YAML
start_walld --config "$T/limits.yaml"
first0=$(stat_of first_lsn)
fill 3000
fill 3000
fill 3000
fill 3000
wait_first $((first0 + 1))
sleep 0.3
[ "$(stat_of bytes_on_disk)" -le $((3 << 20)) ] ||
	fail "bytes_on_disk $(stat_of bytes_on_disk) above max_bytes"
[ "$(stat_of retention_cursor_overruns_total)" -ge 1 ] ||
	fail "overruns not counted"
grep -q "retention: a limit (retention.max_bytes or max_age) removes records up to LSN [0-9]* that cursor slow (at LSN 3500) has not consumed" "$LOG" ||
	fail "no log line naming the cursor"
"$WALCTL" stats --prometheus | grep -q '^walld_retention_cursor_overruns_total [1-9]' ||
	fail "metric"
ok "max_bytes: segments removed past the lagging cursor, logged by name and counted"
stop_walld

cat >"$T/age.yaml" <<YAML
storage:
  segment_size: 1MiB
retention:
  max_age: 1s
  interval: 100ms
YAML
DATA=$T/data2
start_walld --config "$T/age.yaml"
before=$(stat_of first_lsn)
fill 100
fill 100
sleep 0.3
expect_eq "first LSN before max_age" "$(stat_of first_lsn)" "$before"
i=0
while [ "$(stat_of first_lsn)" -le "$before" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "max_age removed nothing in 5 s"
	sleep 0.05
done
ok "max_age: segments older than 1 s removed"
