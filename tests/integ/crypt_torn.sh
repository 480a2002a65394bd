# SPDX-License-Identifier: Apache-2.0
# crypt_torn: no (key, nonce) pair is ever used for two records. walld is
# killed (-9) under a pipelined load, the last record it wrote is torn
# (its header zeroed), and recovery cuts it: its LSN is issued again to a
# new record. Every (data key, nonce) use on disk is listed (walnonce)
# before the restart and after new appends and another restart: the same
# pair never appears with two different records, and the reissued LSN is
# under two different data keys.
. "$(dirname "$0")/lib.sh"

KR=$T/keyring
(umask 077; "$WALCTL" keygen --id 5 >"$KR")
cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
encryption:
  keyring: $KR
YAML

# Killed with records in its last segment, and that segment still active
# (a kill right after a segment switch leaves it empty; a kill between a
# full segment's footer and its truncation, or before the next segment is
# made, leaves the last segment sealed, and its last record vouched for by
# the footer: zeroing it would be damage to acknowledged data, which walld
# rightly refuses, not a torn tail. Then again).
round=0
while :; do
	round=$((round + 1))
	[ $round -le 5 ] ||
		fail "the last segment was empty or sealed after 5 kills"
	start_walld --config "$T/walld.yaml"
	"$B/tests/walload" run -s "$SOCK" -o "$T/ack.$round" -P 4 -n 0 -d 8 \
	    -a 16 -b 2048 >/dev/null 2>&1 &
	lpid=$!
	sleep 0.7
	kill -KILL "$WALLD_PID"
	wait "$WALLD_PID" 2>/dev/null
	WALLD_PID=
	wait "$lpid" 2>/dev/null
	"$B/tests/walnonce" "$DATA" >"$T/uses.before" || fail "walnonce"
	lastfile=$(awk '$3 == "key-check" { f = $4 } END { print f }' "$T/uses.before")
	awk -v f="$lastfile" '$4 == f && $3 != "key-check"' "$T/uses.before" |
	    grep -q . || continue
	"$WALCTL" verify --dir "$DATA" >"$T/verify.$round" 2>&1 ||
		fail "verify after kill $round: $(cat "$T/verify.$round")"
	grep -q ", active, 0 problems\$" "$T/verify.$round" && break
	echo "kill $round left the last segment sealed: again"
done

# Tear the last record written: zero its header.
set -- $(awk '$3 != "key-check" { l = $0 } END { print l }' "$T/uses.before")
lost=$2 file=$4 off=$5
dd if=/dev/zero of="$DATA/$file" bs=1 seek="$off" count=40 conv=notrunc \
    2>/dev/null || fail "dd"

start_walld --config "$T/walld.yaml"
grep -q "torn tail cut at offset $off, first lost LSN $lost" "$LOG" ||
    fail "no torn tail cut at $file offset $off (LSN $lost)"
expect_eq "next LSN after the cut" "$(stat_of next_lsn)" "$lost"
seq 1 300 | "$WALCTL" append --lines >/dev/null || fail "append"
stop_walld || fail "walld exit $?"
start_walld --config "$T/walld.yaml"
seq 1 20 | "$WALCTL" append --lines >/dev/null || fail "append"
last=$("$WALCTL" sync) || fail "sync"
stop_walld || fail "walld exit $?"
"$B/tests/walnonce" "$DATA" >"$T/uses.after" || fail "walnonce"
ok "kill -9, torn last record (LSN $lost) cut, 320 appends and a restart"

# A pair seen twice must be the same record (same CRC).
sort -u "$T/uses.before" "$T/uses.after" | awk '{ print $1, $2, $3 }' |
    sort -u | awk '{ print $1, $2 }' | uniq -d >"$T/reused"
[ ! -s "$T/reused" ] || fail "(key, nonce) pairs used twice: $(head -n 3 "$T/reused")"
keys=$(cat "$T/uses.before" "$T/uses.after" | awk -v l="$lost" '$2 == l { print $1 }' | sort -u | wc -l)
expect_eq "data keys that encrypted LSN $lost" "$keys" 2
ok "$(sort -u "$T/uses.before" "$T/uses.after" | wc -l) (key, nonce) uses, none repeated; LSN $lost under 2 data keys"

"$WALCTL" verify --dir "$DATA" --keyring "$KR" >"$T/out" || fail "verify: $(cat "$T/out")"
expect_eq "records read" "$("$WALCTL" read --dir "$DATA" --keyring "$KR" | wc -l)" "$last"
ok "verify --keyring: every record authenticated"
