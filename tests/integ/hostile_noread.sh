# SPDX-License-Identifier: Apache-2.0
# A client that sends appends but never reads its replies is disconnected
# once its queued output passes limits.max_output_per_connection (64 KiB
# here); its records stay in the log; others see no effect: a well-behaved
# client keeps appending, and a reader of large records at the same limit
# is not mistaken for a client that does not read.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/hostile.sh"

cat >"$T/walld.yaml" <<YAML
limits:
  max_output_per_connection: 64KiB
  max_record: 256KiB
YAML
start_walld --config "$T/walld.yaml"
load_start 2
rss0=$(rss_kib)

# Appends of 100 bytes, replies never read.
"$RAW" -s "$SOCK" -t 30000 hello flood 100 100 >"$T/out" 2>&1 ||
	fail "rawclient flood"
expect_line "$T/out" "^flood: cut off after" "a client that does not read"
dropped=$(stat_of slow_clients_dropped_total)
expect_eq "slow_clients_dropped_total" "$dropped" 1
grep -q "client does not read its replies" "$LOG" ||
	fail "no log line for the dropped client"
load_progress "after the flood"
ok "a client that never reads: $(sed -n "s/^flood: //p" "$T/out")"

# Its records are in the log (tenant 100).
"$WALCTL" sync >/dev/null || fail "sync"
n=$("$WALCTL" read --tenant 100 | wc -l)
[ "$n" -gt 1000 ] || fail "only $n records of the flooding client in the log"
ok "the dropped client's $n records are in the log"

# Several at once, each with a different pattern; walld serves on.
"$RAW" -s "$SOCK" -t 30000 hello flood 101 1000 >"$T/out1" 2>&1 &
p1=$!
"$RAW" -s "$SOCK" -t 30000 hello flood 102 10 >"$T/out2" 2>&1 &
p2=$!
# stats replies are larger (about 1.5 KiB): a client asking for them and
# never reading is cut off as well.
i=0
set -- hello
while [ $i -lt 400 ]; do
	set -- "$@" stats
	i=$((i + 1))
done
"$RAW" -s "$SOCK" -t 2000 "$@" sleep 3000 >"$T/out3" 2>&1 &
p3=$!
wait $p1 $p2 $p3
expect_line "$T/out1" "^flood: cut off" "flood of 1000-byte appends"
expect_line "$T/out2" "^flood: cut off" "flood of 10-byte appends"
dropped=$(stat_of slow_clients_dropped_total)
expect_eq "slow_clients_dropped_total" "$dropped" 4
walld_alive "after the floods"
load_progress "after the floods"
ok "three clients that never read, at once: all cut off"

# A reader is not a client that does not read: records of 200 KiB (above
# the 64 KiB limit) and 2 MiB of small ones stream to a reading client.
"$RAW" -s "$SOCK" -t 10000 hello appends 5 200 204800 recv 6 >/dev/null
expect_eq "large records read" "$("$WALCTL" read --tenant 200 | wc -l)" 5
"$RAW" -s "$SOCK" -t 10000 hello appends 2000 201 1000 recv 2001 >/dev/null
expect_eq "small records read" "$("$WALCTL" read --tenant 201 | wc -l)" 2000
expect_eq "slow_clients_dropped_total after reads" \
	"$(stat_of slow_clients_dropped_total)" 4
ok "readers of large and many records at the same limit are served"

rss1=$(rss_kib)
rss_bound "after the bad clients" "$rss0" "$rss1"
ok "walld's RSS: $rss0 KiB before, $rss1 KiB after"
expect_eq "connections left" "$(stat_of connections)" 3
load_stop
stop_walld TERM || fail "walld did not stop cleanly"
load_check
