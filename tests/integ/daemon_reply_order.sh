# SPDX-License-Identifier: Apache-2.0
# Replies on a connection are in LSN order, also when waiting and NOWAIT
# appends are mixed (PROTOCOL.md, issue 22): a NOWAIT append sent after a
# waiting one is answered after it, not at once ahead of it.
. "$(dirname "$0")/lib.sh"
RAW=$B/tests/rawclient

start_walld
i=0
while [ $i -lt 20 ]; do
	"$RAW" -s "$SOCK" -t 5000 hello recv 1 append 0 a append-nowait 0 b \
	    append 0 c append-nowait 0 d append-nowait 0 e recv 5 \
	    >"$T/out" 2>&1 || fail "rawclient: $(cat "$T/out")"
	got=$(sed -n 's/^append-reply id=\([0-9]*\) value=\([0-9]*\)$/\1 \2/p' \
	    "$T/out" | tr '\n' ' ')
	set -- $got
	[ $# -eq 10 ] || fail "round $i: five replies wanted: $(cat "$T/out")"
	prev=0 id=1
	while [ $# -gt 0 ]; do
		id=$((id + 1))
		[ "$1" = $id ] || fail "round $i: reply order $got (ids 2..6 wanted in order)"
		[ "$2" -gt $prev ] || fail "round $i: LSNs not increasing: $got"
		prev=$2
		shift 2
	done
	i=$((i + 1))
done
ok "20 rounds of waiting and NOWAIT appends mixed: replies in order, LSNs increasing"
