# SPDX-License-Identifier: Apache-2.0
# sync, rotate, read with filters, read --follow, truncate, stats.
. "$(dirname "$0")/lib.sh"

cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
YAML
start_walld --config "$T/walld.yaml"

i=0
while [ $i -lt 30 ]; do
	printf 'rec%d\n' $i
	i=$((i + 1))
done | "$WALCTL" append --lines --tenant 1 --vshard 2 --type 7 >"$T/lsns" ||
	fail "append --lines"
expect_eq "lines appended" "$(wc -l <"$T/lsns")" 30
expect_eq "last LSN" "$(tail -n 1 "$T/lsns")" 30
"$WALCTL" append --tenant 2 "other tenant" >/dev/null || fail "append"
"$WALCTL" append --tenant 1 --type 8 "other type" >/dev/null || fail "append"
expect_eq "sync" "$("$WALCTL" sync)" 32

expect_eq "tenant filter" "$("$WALCTL" read --tenant 2 | wc -l)" 1
expect_eq "type filter" "$("$WALCTL" read --tenant 1 --type 7 | wc -l)" 30
expect_eq "vshard filter" "$("$WALCTL" read --vshard 2 | wc -l)" 30
expect_eq "from/to" "$("$WALCTL" read --from 5 --to 9 | wc -l)" 5
ok "read filters"

# Rotate twice: the first segments become sealed and can be truncated. A
# new segment is created by the first record that goes into it.
first=$("$WALCTL" rotate) || fail "rotate"
expect_eq "rotate: first LSN of the next segment" "$first" 33
"$WALCTL" append "in segment 2" >/dev/null || fail "append"
expect_eq "rotate 2" "$("$WALCTL" rotate)" 34
expect_eq "rotating an empty segment" "$("$WALCTL" rotate)" 34
expect_eq "segments after two rotations" "$(stat_of segments)" 2
newfirst=$("$WALCTL" truncate --before 34) || fail "truncate"
expect_eq "first LSN after truncate" "$newfirst" 33
if "$WALCTL" read --from 1 >/dev/null 2>&1; then
	fail "read below the first LSN succeeded"
fi
expect_eq "first_lsn stat" "$(stat_of first_lsn)" 33
ok "rotate and truncate"

# Follow: a reader started now sees a record appended later.
"$WALCTL" read --from 34 --follow --json >"$T/follow" 2>&1 &
fpid=$!
sleep 0.3
"$WALCTL" append --tenant 9 "followed" >/dev/null || fail "append"
i=0
while ! grep -q '"tenant":9' "$T/follow"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "follow did not see the new record"
	sleep 0.05
done
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
ok "read --follow streams new durable records"

fs=$(stat_of fsyncs_total)
ap=$(stat_of appends_total)
[ "$ap" -eq 34 ] || fail "appends_total $ap"
[ "$fs" -ge 1 ] || fail "fsyncs_total $fs"
expect_eq "state" "$(stat_of state)" read-write
ok "stats"
