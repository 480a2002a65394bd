# SPDX-License-Identifier: Apache-2.0
# Idempotent producers (PROTOCOL.md "Producers", docs/PRODUCERS.md) against
# the real walld:
# - a retry gets the original LSN and writes nothing; a gap is refused
#   (exit 80) and writes nothing;
# - a retry after a clean restart and after kill -9 gets the original LSN
#   (the table is rebuilt from the snapshot and the records);
# - two producers append through libwal's retrying producer while walld is
#   killed -9 and restarted again and again: every sequence number is in
#   the log exactly once, at the LSN the producer was given;
# - with producers.max 40, 120 producers leave 40 in the table (80
#   evicted, counted); the most recent ones are still recognised.
. "$(dirname "$0")/lib.sh"

cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
producers:
  max: 40
  window: 8
YAML
start_walld --config "$T/walld.yaml"

# One producer by hand.
l1=$("$WALCTL" append --producer 7 --seq 1 one) || fail "seq 1"
l1b=$("$WALCTL" append --producer 7 --seq 1 one) || fail "seq 1 again"
expect_eq "retry of seq 1" "$l1b" "$l1"
st=0
"$WALCTL" append --producer 7 --seq 3 three 2>"$T/err" || st=$?
expect_eq "exit status of a gap" "$st" 80
grep -q "sequence 3 is out of order: the next is 2" "$T/err" ||
	fail "gap message: $(cat "$T/err")"
l2=$("$WALCTL" append --producer 7 --seq 2 two) || fail "seq 2"
# The same id under another tenant is another producer.
lt=$("$WALCTL" append --tenant 5 --producer 7 --seq 9 other) ||
	fail "tenant 5"
[ "$lt" -gt "$l2" ] || fail "tenant 5's producer 7 got $lt"
"$WALCTL" read --to "$lt" >"$T/read"
expect_eq "records after retries and a gap" "$(wc -l <"$T/read")" 3
ok "a retry gets the original LSN, a gap exits 80, nothing written twice"

# Clean restart: the snapshot written at close.
stop_walld
start_walld --config "$T/walld.yaml"
expect_eq "retry after restart" \
	"$("$WALCTL" append --producer 7 --seq 2 two)" "$l2"
l3=$("$WALCTL" append --producer 7 --seq 3 three) || fail "seq 3"
# kill -9 right after the acknowledgement: the record is there, the
# snapshot is older; the records after it are read back.
stop_walld KILL || true
start_walld --config "$T/walld.yaml"
expect_eq "retry after kill -9" \
	"$("$WALCTL" append --producer 7 --seq 3 three)" "$l3"
# Too old for the window (8): refused, not written.
i=4
while [ $i -le 20 ]; do
	"$WALCTL" append --producer 7 --seq $i "n$i" >/dev/null || fail "seq $i"
	i=$((i + 1))
done
st=0
"$WALCTL" append --producer 7 --seq 3 three 2>"$T/err" || st=$?
expect_eq "exit status of a retry beyond the window" "$st" 80
grep -q "retries are recognised from 13" "$T/err" ||
	fail "window message: $(cat "$T/err")"
ok "retries recognised after a restart and after kill -9; beyond the window refused"

# A new segment's first append has the table's snapshot written while
# walld runs (by its preparer thread, not the loop): PRODUCERS then
# covers the records before it, which a kill -9 keeps.
l21=$("$WALCTL" append --producer 7 --seq 21 n21) || fail "seq 21"
"$WALCTL" rotate >/dev/null || fail rotate
"$WALCTL" append --producer 7 --seq 22 n22 >/dev/null || fail "seq 22"
covered() { od -An -t u8 -j 16 -N 8 "$DATA/PRODUCERS" | tr -d ' '; }
k=0
until [ "$(covered)" -ge "$l21" ]; do
	k=$((k + 1))
	[ $k -lt 50 ] || fail "PRODUCERS covers LSN $(covered), not $l21, 5 s after a new segment's first append"
	sleep 0.1
done
stop_walld KILL || true
c=$(covered)
[ "$c" -ge "$l21" ] || fail "PRODUCERS after kill -9 covers LSN $c"
start_walld --config "$T/walld.yaml"
expect_eq "retry of seq 21 after kill -9" \
	"$("$WALCTL" append --producer 7 --seq 21 n21)" "$l21"
ok "a new segment's snapshot written while walld runs: it covered LSN $c >= $l21 at the kill -9"

# Two producers retrying through kill -9 after kill -9.
N=${PROD_COUNT:-2000}
# The files exist before the producers start (a background job's
# redirection may come after the loop's first look).
: >"$T/p101"
: >"$T/p102"
"$B/tests/walprod" "$SOCK" 101 "$N" >"$T/p101" 2>"$T/p101.err" &
p1=$!
"$B/tests/walprod" "$SOCK" 102 "$N" >"$T/p102" 2>"$T/p102.err" &
p2=$!
EXTRA_PIDS="$p1 $p2"
# A kill -9 each time producer 101 has got another N/16 acknowledgements
# since the last kill (a restart takes a while, and the producers append
# as soon as walld listens again) (polled every 10 ms, so the kill lands at a
# random point of some append): up to 7 kills, however fast the disk and
# however slow a restart. Not before both have an acknowledgement: a
# producer that cannot connect at all when it opens is told so and exits.
kills=0
base=0
while [ $kills -lt 7 ] && kill -0 $p1 2>/dev/null; do
	got=$(wc -l <"$T/p101")
	if [ "$got" -lt $((base + N / 16)) ] ||
	    [ "$(wc -l <"$T/p102")" -lt 1 ]; then
		sleep 0.01
		continue
	fi
	stop_walld KILL || true
	kills=$((kills + 1))
	start_walld --config "$T/walld.yaml"
	base=$got
done
wait $p1 || fail "producer 101: $(cat "$T/p101.err")"
wait $p2 || fail "producer 102: $(cat "$T/p102.err")"
EXTRA_PIDS=
[ $kills -ge 3 ] || fail "only $kills kills happened"
for p in 101 102; do
	expect_eq "producer $p acknowledgements" "$(wc -l <"$T/p$p")" "$N"
done
"$WALCTL" read --type 1 >"$T/all" || fail "read"
# Every (producer, seq) exactly once, at the LSN it was given: lines
# 'lsn=L type=1 ... data="P:S"'.
for p in 101 102; do
	awk -v p=$p '{ split($1, l, "="); d = $NF; gsub(/^data="|"$/, "", d);
	    split(d, a, ":"); if (a[1] == p) print a[2], l[2] }' "$T/all" |
	    sort -n >"$T/log$p"
	expect_eq "producer $p records in the log" "$(wc -l <"$T/log$p")" "$N"
	sort -n "$T/p$p" | cmp -s - "$T/log$p" ||
		fail "producer $p: log and acknowledgements differ: $(sort -n "$T/p$p" | diff - "$T/log$p" | head -5)"
done
retries=$(cat "$T/p101.err" "$T/p102.err" | awk '/retries/ { s += $4 } END { print s + 0 }')
ok "$kills kill -9s, $retries retries: 2 x $N sequences each once, at the LSN acknowledged"

# The table's memory is bounded: 120 producers, room for 40.
i=1000
while [ $i -lt 1120 ]; do
	"$WALCTL" append --producer $i --seq 1 "p$i" >/dev/null || fail "producer $i"
	i=$((i + 1))
done
"$WALCTL" stats >"$T/stats"
expect_eq "producers kept" "$(awk '$1 == "producers" { print $2 }' "$T/stats")" 40
ev=$(awk '$1 == "producers_evicted_total" { print $2 }' "$T/stats")
[ "$ev" -ge 80 ] || fail "producers_evicted_total $ev"
grep -q "producer table full (40 producers)" "$LOG" || fail "no eviction log line"
last=$("$WALCTL" read --json | tail -n 1 | awk -F'"' '{ print $4 }')
expect_eq "the newest producer still recognised" \
	"$("$WALCTL" append --producer 1119 --seq 1 p1119)" "$last"
ok "120 producers: 40 kept, $ev evicted and logged, the newest still recognised"
