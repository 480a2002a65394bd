# SPDX-License-Identifier: Apache-2.0
# 10,000 idle connections held at once (each has said HELLO) while a
# well-behaved client keeps appending: walld's memory per idle connection
# stays small (measured from /proc: at most 16 KiB each), the active
# client keeps most of its throughput, and every connection is gone once
# the holder closes them. Prints the figures.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/hostile.sh"

N=${IDLE_CONNECTIONS:-10000}
# Both walld and the holder need N descriptors: raise the limit (root may
# go past the hard limit; elsewhere the hard limit has to do).
ulimit -n $((N * 2 + 200)) 2>/dev/null || ulimit -n "$(ulimit -Hn)" ||
	fail "cannot raise the open files limit"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 100)) ]; then
	fail "open files limit $(ulimit -n) is below $((N + 100)): cannot hold $N connections"
fi

start_walld
load_start 2
sleep 1
# load_rate: the load's appends/s over 3 s.
load_rate() {
	a0=$(load_acks); sleep 3; a1=$(load_acks)
	echo $(( (a1 - a0) / 3 ))
}
# The load's rate, alone.
rate0=$(load_rate)
rss0=$(rss_kib)

mkfifo "$T/hold"
"$RAW" -s "$SOCK" -t 60000 idle "$N" <"$T/hold" >"$T/idle.out" 2>&1 &
holder=$!
exec 3>"$T/hold"
i=0
while ! grep -q '^ready' "$T/idle.out"; do
	kill -0 $holder 2>/dev/null || fail "the holder exited: $(cat "$T/idle.out")"
	i=$((i + 1))
	[ $i -lt 1200 ] || fail "$N connections not ready within 60 s"
	sleep 0.05
done
expect_eq "connections ready" "$(cat "$T/idle.out")" "ready $N busy=0 silent=0"
expect_eq "connections" "$(stat_of connections)" $((N + 3))
sleep 1
rss1=$(rss_kib)
# The load's rate with every connection held. A window that other work
# on the machine slowed is measured once more: what the idle connections
# cost is there in both windows, a passing disturbance in one.
rate1=$(load_rate)
if [ "$rate1" -lt $((rate0 / 3)) ]; then
	echo "the load ran at $rate1 appends/s beside the idle connections; measuring again"
	rate1=$(load_rate)
fi
per=$(( (rss1 - rss0) * 1024 / N ))
echo "idle connections: $N; walld RSS ${rss0} KiB before, ${rss1} KiB with them held: $per bytes per idle connection"
echo "well-behaved load: $rate0 appends/s alone, $rate1 appends/s beside $N idle connections"
walld_asan || [ "$per" -le 16384 ] ||
	fail "$per bytes per idle connection (> 16 KiB)"
[ "$rate1" -ge $((rate0 / 3)) ] ||
	fail "the load fell from $rate0 to $rate1 appends/s"
load_progress "with $N idle connections"
ok "$N idle connections: $per bytes each; the load kept $rate1 of $rate0 appends/s"

# Close them all: walld is back to the load's connections.
exec 3>&-
wait $holder || fail "the holder failed: $(cat "$T/idle.out")"
i=0
while [ "$(stat_of connections)" -ne 3 ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "connections left: $(stat_of connections)"
	sleep 0.05
done
rss2=$(rss_kib)
ok "all $N closed; walld RSS ${rss2} KiB"
load_stop
stop_walld TERM || fail "walld did not stop cleanly"
load_check
