# SPDX-License-Identifier: Apache-2.0
# Clients that disconnect while their appends are in a batch: the batch
# still completes, every record walld took is in the log (appends_total
# equals the records in the log at the end), and nothing leaks (no
# connection, descriptor or memory left behind). A well-behaved client
# appends throughout.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/hostile.sh"

start_walld
load_start 2
sleep 0.2
fds0=$(fd_count)
rss0=$(rss_kib)

# Pipelined appends, then close at once without reading a reply.
i=0
while [ $i -lt 50 ]; do
	"$RAW" -s "$SOCK" hello appends 200 300 100 || fail "rawclient"
	i=$((i + 1))
done
walld_alive "after 50 clients closed with appends in flight"
load_progress "after 50 clients closed with appends in flight"
ok "50 clients closed with 200 appends each in flight"

# The same with a pause (the appends are in the batch being synced when
# the close comes), and with NOWAIT appends.
i=0
while [ $i -lt 20 ]; do
	"$RAW" -s "$SOCK" hello appends 50 301 2000 sleep 1 || fail "rawclient"
	"$RAW" -s "$SOCK" hello append-nowait 302 x append-nowait 302 y \
		append 302 z || fail "rawclient"
	i=$((i + 1))
done
ok "clients closed during the sync of their batch"

# Killed mid-stream (a frame cut short, unread replies): SIGKILL.
i=0
while [ $i -lt 20 ]; do
	"$RAW" -s "$SOCK" hello flood 303 30 >/dev/null 2>&1 &
	p=$!
	sleep 0.0$((i % 10))
	kill -KILL $p
	wait $p 2>/dev/null
	i=$((i + 1))
done
walld_alive "after 20 clients killed mid-stream"
load_progress "after 20 clients killed mid-stream"
ok "20 clients killed while flooding"

# Nothing left behind: connections (the load's 2 and this one), file
# descriptors, memory. walld may still be closing the killed clients'
# connections (reading what they had sent before the kill): up to 10 s.
i=0
while [ "$(stat_of connections)" -gt 3 ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || break
	sleep 0.05
done
expect_eq "connections left" "$(stat_of connections)" 3
fds1=$(fd_count)
[ "$fds1" -le "$fds0" ] || fail "walld had $fds0 descriptors, now $fds1"
rss1=$(rss_kib)
rss_bound "after the disconnects" "$rss0" "$rss1"
ok "no leak: $fds1 descriptors (were $fds0), RSS $rss1 KiB (was $rss0)"

load_stop
"$WALCTL" sync >/dev/null || fail "sync"
taken=$(stat_of appends_total)
inlog=$("$WALCTL" read | wc -l)
expect_eq "records in the log vs appends taken" "$inlog" "$taken"
ok "all $taken records walld took are in the log"
stop_walld TERM || fail "walld did not stop cleanly"
load_check
