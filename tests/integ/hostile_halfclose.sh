# SPDX-License-Identifier: Apache-2.0
# Requests followed by a half-close (shutdown(SHUT_WR)): walld answers
# every request sent before it (appends, sync, stats, a long read, appends
# held back by the in-flight limit), then closes; a frame cut by the
# half-close gets an error. A well-behaved client appends throughout.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/hostile.sh"

cat >"$T/walld.yaml" <<YAML
limits:
  max_inflight_per_connection: 64KiB
YAML
start_walld --config "$T/walld.yaml"
load_start 2

# Pipelined requests, then the half-close at once.
"$RAW" -s "$SOCK" -t 5000 hello append 100 a append 100 b sync stats ping \
	append-nowait 100 c shutwr recv-all >"$T/out" 2>&1
for want in "hello-reply id=1" "append-reply id=2" "append-reply id=3" \
    "sync-reply id=4" "stats-reply id=5" "ping-reply id=6" \
    "append-reply id=7" "^eof$"; do
	expect_line "$T/out" "$want" "pipelined requests, then a half-close"
done
expect_eq "frames before the close" "$(grep -c . "$T/out")" 8
ok "every request sent before a half-close is answered, then closed"

# Appends held back by max_inflight_per_connection (64 KiB): 100 appends
# of 10 KiB wait in the input buffer when the half-close comes.
"$RAW" -s "$SOCK" -t 10000 hello appends 100 101 10000 sync shutwr recv-all \
	>"$T/out" 2>&1
expect_eq "append replies" "$(grep -c '^append-reply' "$T/out")" 100
expect_line "$T/out" "sync-reply id=102" "sync after held-back appends"
expect_line "$T/out" "^eof$" "held-back appends"
ok "appends held back by the in-flight limit are all answered after a half-close"

# A read of more than walld streams at once (256 KiB), then a half-close:
# every record and the READ_END come before the close.
"$RAW" -s "$SOCK" -t 10000 hello appends 200 102 4000 recv 201 >/dev/null
"$RAW" -s "$SOCK" -t 10000 hello read 0 0 102 shutwr recv-all >"$T/out" 2>&1
expect_eq "records of tenant 102" "$(grep -c '^record id=2 ' "$T/out")" 200
expect_line "$T/out" "read-end id=2" "a long read before a half-close"
expect_line "$T/out" "^eof$" "a long read before a half-close"
ok "a long read sent before a half-close streams to its end"

# A frame cut by the half-close: the requests before it are answered,
# then an error, then the close.
"$RAW" -s "$SOCK" -t 5000 hello append 100 d raw 200000000200 shutwr \
	recv-all >"$T/out" 2>&1
expect_line "$T/out" "append-reply id=2" "append before a cut frame"
expect_line "$T/out" "error id=0 code=bad_request.*truncated frame" \
	"a frame cut by the half-close"
expect_line "$T/out" "^eof$" "a frame cut by the half-close"
ok "a frame cut by a half-close: error, closed"

# Half-close with nothing sent; and right after HELLO.
"$RAW" -s "$SOCK" -t 5000 shutwr recv-all >"$T/out" 2>&1
expect_line "$T/out" "^eof$" "half-close before hello"
"$RAW" -s "$SOCK" -t 5000 hello shutwr recv-all >"$T/out" 2>&1
expect_line "$T/out" "hello-reply id=1" "hello, then a half-close"
expect_line "$T/out" "^eof$" "hello, then a half-close"
ok "half-close with nothing pending: closed"

walld_alive "after the half-closes"
sleep 0.2
expect_eq "connections left" "$(stat_of connections)" 3
load_stop
stop_walld TERM || fail "walld did not stop cleanly"
load_check
