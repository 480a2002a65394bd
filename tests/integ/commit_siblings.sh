# SPDX-License-Identifier: Apache-2.0
# commit_siblings counts connections with a request waiting for
# durability, not requests. With commit_delay 1s: one connection that
# pipelines four waiting appends is one sibling, so with commit_siblings 2
# its batch is not held (counting requests, it was held a second); with
# commit_siblings 1 it is.
. "$(dirname "$0")/lib.sh"

RAW=$B/tests/rawclient

# hex_le N BYTES: N as BYTES little-endian bytes, in hex.
hex_le() {
	n=$1 i=0 out=
	while [ $i -lt "$2" ]; do
		out=$out$(printf %02x $((n % 256)))
		n=$((n / 256))
		i=$((i + 1))
	done
	echo "$out"
}

# pipeline ID...: HELLO (id 1), then an empty waiting APPEND (type 1,
# tenant 0) with each ID, as one hex string: rawclient sends it with one
# write, so walld reads every request before it kicks a flush.
pipeline() {
	hex=1400000001000000$(hex_le 1 8)01000100
	for id; do
		hex=${hex}1800000002000000$(hex_le "$id" 8)0100000000000000
	done
	echo "$hex"
}

# one_conn_ms: sends the pipeline on one connection and prints the
# milliseconds until its five replies are in.
one_conn_ms() {
	t0=$(date +%s%N)
	"$RAW" -s "$SOCK" -t 5000 raw "$(pipeline 2 3 4 5)" recv 5 \
	    >"$T/out" 2>&1 || fail "rawclient: $(cat "$T/out")"
	t1=$(date +%s%N)
	[ "$(grep -c '^append-reply' "$T/out")" = 4 ] ||
	    fail "four append replies wanted: $(cat "$T/out")"
	echo $(((t1 - t0) / 1000000))
}

conf() {	# SIBLINGS
	cat >"$T/walld.yaml" <<YAML
group_commit:
  commit_delay: 1s
  commit_siblings: $1
YAML
}

conf 2
start_walld --config "$T/walld.yaml"
ms=$(one_conn_ms)
[ "$ms" -lt 600 ] ||
    fail "commit_siblings 2: one connection's four appends took $ms ms (held by the delay?)"
ok "commit_siblings 2: one connection with four waiting appends is not held ($ms ms)"

conf 1
kill -HUP "$WALLD_PID"
i=0
while [ "$(grep -c 'configuration reloaded' "$LOG")" -lt 1 ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "no reload line"
	sleep 0.05
done
ms=$(one_conn_ms)
[ "$ms" -ge 900 ] ||
    fail "commit_siblings 1: one connection's appends took $ms ms, not the 1 s delay"
ok "commit_siblings 1: one waiting connection is held for commit_delay ($ms ms)"

stop_walld TERM || fail "walld did not stop cleanly"
