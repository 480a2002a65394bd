# SPDX-License-Identifier: Apache-2.0
# What HELLO announces is what walld accepts, and a connection keeps it
# (issue 22): with 1 MiB segments walld lowers max_record to what fits a
# segment, and HELLO says the lowered value, which an append of exactly
# that size gets; a reload that lowers limits.max_record leaves a
# connection opened before it its announced limit; before HELLO nothing
# larger than a HELLO is taken (no buffering for anonymous connections).
. "$(dirname "$0")/lib.sh"
RAW=$B/tests/rawclient

cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
YAML
start_walld --config "$T/walld.yaml"
"$RAW" -s "$SOCK" -t 5000 hello recv 1 >"$T/hello" 2>&1
max=$(sed -n 's/^hello-reply .* max_record=\([0-9]*\) .*/\1/p' "$T/hello")
[ -n "$max" ] || fail "no hello reply: $(cat "$T/hello")"
[ "$max" -lt 1048576 ] || fail "HELLO announces $max: more than fits a 1 MiB segment"
"$RAW" -s "$SOCK" -t 10000 hello recv 1 appends 1 0 "$max" recv 1 \
    >"$T/out" 2>&1
grep -q '^append-reply id=2 ' "$T/out" ||
	fail "an append of the announced $max bytes: $(cat "$T/out")"
ok "HELLO announces max_record $max, and an append of that size is taken"
stop_walld TERM || fail "walld did not stop cleanly"

cat >"$T/walld.yaml" <<YAML
limits:
  max_record: 64KiB
YAML
start_walld --config "$T/walld.yaml"
"$RAW" -s "$SOCK" -t 10000 hello recv 1 sleep 1500 appends 1 0 32768 \
    recv 1 >"$T/out" 2>&1 &
P=$!
EXTRA_PIDS=$P
sleep 0.5
sed -i 's/max_record: 64KiB/max_record: 1KiB/' "$T/walld.yaml"
kill -HUP "$WALLD_PID"
wait $P
EXTRA_PIDS=
grep -q 'max_record=65536' "$T/out" || fail "first HELLO: $(cat "$T/out")"
grep -q '^append-reply id=2 ' "$T/out" ||
	fail "a 32 KiB append after the reload on a connection promised 64 KiB: $(cat "$T/out")"
"$RAW" -s "$SOCK" -t 5000 hello recv 1 >"$T/hello" 2>&1
grep -q 'max_record=1024 ' "$T/hello" || fail "new HELLO after the reload: $(cat "$T/hello")"
ok "after a reload lowering max_record, an old connection keeps 64 KiB, a new one is told 1 KiB"

# Before HELLO: a frame longer than a HELLO is refused at its header.
"$RAW" -s "$SOCK" -t 3000 frame 4096 1 0 9 - recv-all >"$T/out" 2>&1
grep -q 'error id=9 code=bad_request.*before hello' "$T/out" ||
	fail "4 KiB frame before HELLO: $(cat "$T/out")"
grep -q '^\(eof\|reset\)$' "$T/out" || fail "connection not closed: $(cat "$T/out")"
ok "before HELLO, a frame larger than a HELLO is refused and the connection closed"
