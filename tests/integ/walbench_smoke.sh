# SPDX-License-Identifier: Apache-2.0
# walbench_smoke: the benchmark tool works against a real walld. A counted
# run (-n) of 2 processes x 2 connections x 4 in flight with a payload
# range and spread tenants makes exactly that many durable appends: the
# row reports them with no errors, the JSON line agrees, and walld's log
# holds every one. The disk probe prints its four rows. `walbench null`
# (the server make bench measures the clients' ceiling with) answers a
# pipelined run of payloads up to 300 KiB, past libwal's write threshold,
# and counts its appends; with --dir it writes and syncs them first, into
# a file of its own that it removes. The peer drivers of `make bench` (issue 26) do
# what they say where it costs nothing to try: the shared file always,
# SQLite when walbench was built with it, Redis when it is installed
# (PostgreSQL's initdb is left to make bench). (Figures are
# BENCHMARKS.md's business: nothing here is about speed.)
. "$(dirname "$0")/lib.sh"
WB=$B/walbench
start_walld

"$WB" run -p 2 -c 2 -d 4 -S 16-300 --tenants 3 --vshards 2 -n 2000 -w 0 \
    -l smoke --header --json "$T/r.json" >"$T/row" 2>"$T/err" ||
    fail "walbench run: $(cat "$T/err")"
row=$(grep '^| smoke ' "$T/row") || fail "no result row: $(cat "$T/row")"
# Columns: label, shape, payload, appends/s, ... errors last.
expect_eq "shape" "$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $3); print $3 }')" "2×2×4"
expect_eq "errors" "$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $(NF-1)); print $(NF-1) }')" 0
rate=$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $5); print $5 }')
[ "${rate:-0}" -gt 0 ] || fail "appends/s: '$rate'"
grep -q '"label":"smoke"' "$T/r.json" || fail "json: $(cat "$T/r.json")"
grep -q '"appends":2000[,}]' "$T/r.json" || fail "json appends: $(cat "$T/r.json")"
expect_eq "durable_lsn" "$(stat_of durable_lsn)" 2000
expect_eq "records in the log" "$("$WALCTL" read | wc -l)" 2000
ok "walbench -n 2000 over 2x2x4: 2000 durable appends, no errors ($rate/s)"

"$WB" disk --dir "$T" -t 1 >"$T/disk" 2>"$T/err" || fail "walbench disk: $(cat "$T/err")"
expect_eq "disk rows" "$(grep -c '^| ' "$T/disk")" 4
grep -q 'pwrite+fdatasync, preallocated' "$T/disk" || fail "disk: $(cat "$T/disk")"
grep -Eq 'into new \(fallocated\) blocks \| \| \| \| ([0-9]|n/a)' "$T/disk" ||
    fail "disk: no new-block row: $(cat "$T/disk")"
ok "walbench disk: $(grep -c '^| ' "$T/disk") rows"
# --test direct: that test alone (peers.sh's reference next to walld's
# 4 KiB runs), its JSON line with the others not measured (-1).
"$WB" disk --dir "$T" -t 1 --test direct --json "$T/d.json" >"$T/disk" 2>"$T/err" ||
    fail "walbench disk --test direct: $(cat "$T/err")"
expect_eq "disk --test direct rows" "$(grep -c '^| ' "$T/disk")" 1
grep -q '^| O_DIRECT 1 MiB write+fdatasync, sequential |' "$T/disk" ||
    fail "disk --test direct: $(cat "$T/disk")"
grep -q '"sync_p50_us":-1.00,' "$T/d.json" ||
    fail "disk --test direct measured the 4 KiB test: $(cat "$T/d.json")"
grep -Eq '"direct_mb_per_s":[0-9]' "$T/d.json" ||
    fail "disk --test direct: no bandwidth: $(cat "$T/d.json")"
"$WB" disk --dir "$T" --test sideways >/dev/null 2>"$T/err" && fail "disk --test sideways was taken"
grep -q 'want sync, grow, direct or new' "$T/err" || fail "disk --test sideways: $(cat "$T/err")"
ok "walbench disk --test direct: one test, the others n/a; a bad name refused"
# start_null NAME [ARGS...]: `walbench null -s $T/NAME.sock ARGS` in the
# background (npid), output in $T/NAME.out and .err, once it is ready.
start_null() {
	n=$1
	shift
	"$WB" null -s "$T/$n.sock" "$@" >"$T/$n.out" 2>"$T/$n.err" &
	npid=$!
	EXTRA_PIDS=$npid
	i=0
	until grep -q ready "$T/$n.out" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 400 ] || fail "walbench null $* did not start: $(cat "$T/$n.err")"
		sleep 0.05
	done
}
start_null null
timeout 120 "$WB" run -s "$T/null.sock" -p 2 -c 8 -d 8 -S 1-300k -n 3000 \
    -w 0 -l null >"$T/nrow" 2>"$T/err" || fail "run against walbench null: $(cat "$T/err")"
expect_eq "errors against null" "$(awk -F'|' '{ gsub(/ /, "", $(NF-1)); print $(NF-1) }' "$T/nrow")" 0
kill -TERM $npid
wait $npid || fail "walbench null exit $?"
EXTRA_PIDS=
grep -q '^walbench null: 3000 appends acknowledged$' "$T/null.err" ||
    fail "walbench null: $(cat "$T/null.err")"
ok "walbench null: 3000 pipelined appends of up to 300 KiB acknowledged"

# With --dir it writes and syncs what it acknowledges: its file (written
# beforehand, 256 MiB) starts with the first record's header (LSN 1), and
# goes when it stops.
mkdir "$T/ns"
start_null ns --dir "$T/ns"
expect_eq "null --dir: its file's size" \
    "$(stat -c %s "$T/ns/walbench-null.log")" 268435456
# (Up to 64 KiB: the 3000 fit in the file without wrapping around.)
timeout 120 "$WB" run -s "$T/ns.sock" -p 2 -c 8 -d 8 -S 1-64k -n 3000 \
    -w 0 -l nullsync >"$T/nrow" 2>"$T/err" || fail "run against walbench null --dir: $(cat "$T/err")"
expect_eq "errors against null --dir" "$(awk -F'|' '{ gsub(/ /, "", $(NF-1)); print $(NF-1) }' "$T/nrow")" 0
expect_eq "null --dir: the first record's LSN at offset 0" \
    "$(od -An -tu8 -N8 "$T/ns/walbench-null.log" | tr -d ' ')" 1
kill -TERM $npid
wait $npid || fail "walbench null --dir exit $?"
EXTRA_PIDS=
syncs=$(sed -n 's/^walbench null: 3000 appends acknowledged after \([0-9]*\) syncs$/\1/p' "$T/ns.err")
[ -n "$syncs" ] && [ "$syncs" -ge 1 ] && [ "$syncs" -le 3000 ] ||
    fail "walbench null --dir: $(cat "$T/ns.err")"
[ ! -e "$T/ns/walbench-null.log" ] || fail "walbench null --dir left its file"
ok "walbench null --dir: 3000 appends written and acknowledged after $syncs syncs"

# The shared file: one record (4-byte length, payload) per append.
"$WB" run --system file -s "$T/shared.log" -p 2 -n 200 -w 0 -l file \
    --json "$T/f.json" >"$T/frow" 2>"$T/err" || fail "walbench --system file: $(cat "$T/err")"
grep -q '"appends":200[,}]' "$T/f.json" || fail "file json: $(cat "$T/f.json")"
expect_eq "shared file bytes" "$(stat -c %s "$T/shared.log")" $((200 * (4 + 128)))
ok "walbench --system file: 200 records of 132 bytes, each fdatasynced"
if grep -q -- -DWALBENCH_SQLITE "$B/bench-peers.flags" 2>/dev/null; then
	"$WB" run --system sqlite -s "$T/peer.db" -p 2 -n 100 -w 0 -l sqlite \
	    --json "$T/s.json" >/dev/null 2>"$T/err" ||
	    fail "walbench --system sqlite: $(cat "$T/err")"
	grep -q '"appends":100[,}]' "$T/s.json" || fail "sqlite json: $(cat "$T/s.json")"
	if command -v sqlite3 >/dev/null 2>&1; then
		expect_eq "sqlite rows" "$(sqlite3 "$T/peer.db" 'SELECT count(*) FROM walbench_log')" 100
		expect_eq "sqlite journal" "$(sqlite3 "$T/peer.db" 'PRAGMA journal_mode')" wal
	fi
	ok "walbench --system sqlite: 100 rows in WAL mode"
fi
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
	mkdir "$T/redis"
	redis-server --port 0 --unixsocket "$T/redis/r.sock" --unixsocketperm 700 \
	    --dir "$T/redis" --appendonly yes --appendfsync always --save '' \
	    --daemonize yes --pidfile "$T/redis/r.pid" \
	    --logfile "$T/redis/r.log" || fail "redis-server did not start"
	i=0
	until [ -s "$T/redis/r.pid" ] && redis-cli -s "$T/redis/r.sock" ping >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "redis-server: $(tail -n 3 "$T/redis/r.log")"
		sleep 0.05
	done
	rpid=$(cat "$T/redis/r.pid")
	EXTRA_PIDS=$rpid
	"$WB" run --system redis -s "$T/redis/r.sock" --pid "$rpid" -p 2 -c 2 \
	    -d 8 -S 16-300 -n 1000 -w 0 -l redis --json "$T/r2.json" \
	    >/dev/null 2>"$T/err" || fail "walbench --system redis: $(cat "$T/err")"
	grep -q '"appends":1000[,}]' "$T/r2.json" || fail "redis json: $(cat "$T/r2.json")"
	expect_eq "stream length" "$(redis-cli -s "$T/redis/r.sock" xlen walbench)" 1000
	kill -TERM "$rpid"
	i=0
	while kill -0 "$rpid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	EXTRA_PIDS=
	ok "walbench --system redis: 1000 pipelined XADDs over 2x2x8"
fi
stop_walld || fail "walld exit $?"
