# SPDX-License-Identifier: Apache-2.0
# Malformed frames, impossible lengths (up to 2^32-1), unknown operations,
# wrong protocol versions, bad bodies, truncated frames followed by a
# disconnect, garbage: each gets an error reply where the stream allows
# one, and a closed connection; walld logs them rate-limited, never
# crashes, never makes a large allocation, and a well-behaved client keeps
# appending throughout.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/hostile.sh"

cat >"$T/walld.yaml" <<YAML
limits:
  max_record: 64KiB
YAML
start_walld --config "$T/walld.yaml"
load_start 2
rss0=$(rss_kib)

# raw_case NAME EXPECT ARGS...: runs rawclient (hello first unless ARGS
# start with "-n"), checks a line matches EXPECT and the stream ended.
raw_case() {
	name=$1 want=$2
	shift 2
	if [ "$1" = -n ]; then
		shift
		"$RAW" -s "$SOCK" -t 3000 "$@" recv-all >"$T/out" 2>&1
	else
		"$RAW" -s "$SOCK" -t 3000 hello recv 1 "$@" recv-all >"$T/out" 2>&1
	fi
	expect_line "$T/out" "$want" "$name"
	# Closed shows as eof, or as reset after the error reply when walld
	# closed with bytes of the client's frame still unread (the kernel
	# then resets the stream; the reply was delivered first).
	expect_line "$T/out" '^\(eof\|reset\)$' "$name: connection not closed"
	walld_alive "$name"
}

# Lengths: 2^32-1, the maximum frame + 1, below the header; before and
# after HELLO. max_frame is max_record + 24 = 65560.
raw_case "length 2^32-1" "error id=0 code=too_large" frame 4294967295 2 0 9 -
raw_case "length 2^32-1 before hello" "error id=0 code=too_large" \
	-n frame 4294967295 1 0 9 -
raw_case "length 2^31" "error id=0 code=too_large" frame 2147483648 2 0 9 -
raw_case "length max_frame+1" "error id=0 code=too_large" frame 65561 2 0 9 -
raw_case "length 0" "error id=0 code=bad_request" frame 0 2 0 9 -
raw_case "length 15" "error id=0 code=bad_request" frame 15 9 0 9 -
ok "impossible lengths: too_large or bad_request, then closed"

# Header rules: reserved field, reserved flag bits.
raw_case "reserved field" "error id=0 code=bad_request.*reserved header" \
	raw 10000000090000010100000000000000
raw_case "reserved flags" "error id=0 code=bad_request.*flag" \
	frame 16 9 0x80 9 -
raw_case "append with a flag it has not (0x08 is PRODUCER now)" \
	"error id=0 code=bad_request.*flag" \
	frame 24 2 0x10 9 0000000000000000
raw_case "append with both levels" "error id=9 code=bad_request.*REPLICATED and LOCAL" \
	frame 24 2 0x06 9 0000000000000000
ok "reserved bits: bad_request, then closed"

# Operations: unknown, reply and server-only ops sent by a client.
raw_case "unknown op" "error id=9 code=bad_request msg=unknown operation 0x77" \
	frame 16 0x77 0 9 -
raw_case "op 0" "error id=9 code=bad_request" frame 16 0 0 9 -
raw_case "a reply op" "error id=9 code=bad_request" \
	frame 24 0x82 0 9 0100000000000000
raw_case "a record op" "error id=9 code=bad_request" \
	frame 32 0xc0 0 9 01000000000000000000000000000000
raw_case "an error op" "error id=9 code=bad_request" frame 20 0xff 0 9 01000000
ok "unknown operations: bad_request, then closed"

# Session: versions, order.
raw_case "versions 3..5" "error id=1 code=version" -n hello-v 3 5
raw_case "versions 0..0" "error id=1 code=bad_request" -n hello-v 0 0
raw_case "versions 3..1" "error id=1 code=bad_request" -n hello-v 3 1
raw_case "hello body of 3 bytes" "error id=4 code=bad_request" \
	-n frame 19 1 0 4 010001
raw_case "append before hello" "error id=1 code=bad_request.*before hello" \
	-n append 1 x
raw_case "stats before hello" "error id=1 code=bad_request.*before hello" \
	-n stats
raw_case "second hello" "error id=2 code=bad_request msg=second hello" hello
ok "protocol versions and order: version or bad_request, then closed"

# Bodies of the wrong size for their op.
raw_case "append body of 7 bytes" "error id=9 code=bad_request" \
	frame 23 2 0 9 01000000010000
raw_case "read body of 23 bytes" "error id=9 code=bad_request" \
	frame 39 6 0 9 0000000000000000000000000000000000000000000000
raw_case "read ending before it starts" "error id=9 code=bad_request.*before" \
	frame 40 6 0 9 050000000000000001000000000000000000000000000000
raw_case "truncate body of 4 bytes" "error id=9 code=bad_request" \
	frame 20 7 0 9 01000000
raw_case "sync with a body" "error id=9 code=bad_request.*empty" \
	frame 17 3 0 9 00
raw_case "ping with a body" "error id=9 code=bad_request.*empty" \
	frame 24 9 0 9 0000000000000000
raw_case "record above max_frame" "error id=0 code=too_large" \
	appends 1 1 70000
ok "bodies of the wrong size: bad_request, then closed"

# An append of exactly max_record fills max_frame: taken, stays open.
"$RAW" -s "$SOCK" -t 3000 hello recv 1 appends 1 1 65536 recv 1 ping recv 1 \
	>"$T/out" 2>&1
expect_line "$T/out" "append-reply id=2" "max frame"
expect_line "$T/out" "ping-reply id=3" "connection after a max-size append"
walld_alive "max-size frame"
ok "a frame of exactly max_frame is taken"

# Truncated frames followed by a disconnect: half a header, a header
# promising more than is sent, a body cut short. Each after the HELLO
# reply has come: a client that closed before it would make walld's send
# of that reply fail (EPIPE), and walld close the connection on that
# before it read the cut frame.
pe0=$(stat_of protocol_errors_total)
for args in "raw 1800000002" "frame 1000 2 0 5 0102" \
    "frame 64000 2 0 5 $(head -c 30000 /dev/zero | od -An -v -tx1 | tr -d ' \n')"; do
	# shellcheck disable=SC2086
	"$RAW" -s "$SOCK" -t 10000 hello recv 1 $args >"$T/out" 2>&1 ||
		fail "rawclient: $args"
	expect_line "$T/out" "hello-reply id=1" "hello before a truncated frame"
	walld_alive "truncated frame, then a disconnect"
done
# (The log lines are rate-limited: the counter tells.) rawclient does not
# wait for walld to see the disconnect: the count may still be going up.
i=0
while [ $(($(stat_of protocol_errors_total) - pe0)) -lt 3 ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || break
	sleep 0.05
done
pe=$(stat_of protocol_errors_total)
expect_eq "protocol errors of truncated frames" $((pe - pe0)) 3
ok "truncated frames followed by a disconnect: logged, closed"

# Garbage: random bytes, before and after HELLO.
head -c 32768 /dev/urandom | od -An -v -tx1 | tr -d ' \n' >"$T/garbage"
"$RAW" -s "$SOCK" -t 2000 raw "$(cat "$T/garbage")" recv-all >"$T/out" 2>&1
walld_alive "random bytes before hello"
"$RAW" -s "$SOCK" -t 2000 hello recv 1 raw "$(cat "$T/garbage")" recv-all \
	>"$T/out" 2>&1
walld_alive "random bytes after hello"
ok "random bytes: closed, walld serves on"

# Many bad clients in a row: the log stays short (rate-limited).
lines0=$(grep -c "closing" "$LOG")
start=$(date +%s)
i=0
while [ $i -lt 300 ]; do
	"$RAW" -s "$SOCK" -t 2000 frame 16 0x77 0 9 - recv-all >/dev/null 2>&1
	i=$((i + 1))
done
secs=$(( $(date +%s) - start + 1 ))
lines=$(( $(grep -c "closing" "$LOG") - lines0 ))
# log_limited lets 5 lines through per key per 10 s window.
[ "$lines" -le $(( (secs / 10 + 2) * 5 )) ] ||
	fail "300 bad clients in ${secs}s logged $lines lines"
pe=$(stat_of protocol_errors_total)
[ "$pe" -ge 330 ] || fail "protocol_errors_total $pe"
ok "300 bad clients: $lines log lines, protocol_errors_total $pe"

rss1=$(rss_kib)
rss_bound "after the bad clients" "$rss0" "$rss1"
ok "walld's RSS: $rss0 KiB before, $rss1 KiB after"
expect_eq "connections left" "$(stat_of connections)" 3
load_stop
stop_walld TERM || fail "walld did not stop cleanly"
load_check
