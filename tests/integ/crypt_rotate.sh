# SPDX-License-Identifier: Apache-2.0
# crypt_rotate: key rotation without downtime. While clients append
# (walload, pipelined) and a follow reader streams, three new active keys
# are added to the key ring and walld is sent SIGHUP: each seals the
# active segment and starts the next under the new key. Every record
# acknowledged is in the log intact, decrypted through walld (reads span
# every key) and offline; segments never go back to an older key; stats
# show the keys needed; dropping a key a present segment needs is refused
# naming the segments, and allowed once they are truncated.
. "$(dirname "$0")/lib.sh"

KR=$T/keyring
(umask 077; "$WALCTL" keygen --id 1 >"$KR")
cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
encryption:
  keyring: $KR
YAML
start_walld --config "$T/walld.yaml"

# key_ids: the key id of each segment, in LSN order (from walnonce).
key_ids() {
	"$B/tests/walnonce" "$DATA" | awk '$2 == 0 {
		k = substr($1, length($1) - 7)
		printf "%d\n", ("0x" substr(k, 7, 2) substr(k, 5, 2) substr(k, 3, 2) substr(k, 1, 2)) + 0
	}'
}
# wait_stat NAME VALUE: up to 10 s.
wait_stat() {
	i=0
	while [ "$(stat_of "$1")" != "$2" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "$1 did not become $2 (is $(stat_of "$1"))"
		sleep 0.05
	done
}

"$WALCTL" read --follow --json >"$T/follow" 2>"$T/follow.err" &
fpid=$!
# The load runs until its clients are stopped (-n 0).
"$B/tests/walload" run -s "$SOCK" -o "$T/ack" -P 4 -n 0 -d 8 \
    -a 16 -b 2048 >"$T/load" 2>&1 &
lpid=$!
for k in 2 3 4; do
	sleep 0.3
	a0=$(stat_of appends_total)
	"$WALCTL" keygen --keyring "$KR" >>"$KR" || fail "keygen"
	kill -HUP "$WALLD_PID"
	wait_stat active_key_id $k
	sleep 0.2
	[ "$(stat_of appends_total)" -gt "$a0" ] || fail "no appends around rotation $k"
done
pkill -TERM -P "$lpid"		# walload's clients, by their parent
wait "$lpid" 2>/dev/null
total=$(settled_lsn)
[ "$(cat "$T"/ack.* | wc -l)" -gt 1000 ] || fail "too few appends: $(cat "$T/load")"
expect_eq "rotations logged" "$(grep -c 'key rotation: ' "$LOG")" 3
grep -q "reload: key ring $KR: 4 keys, active key id 4" "$LOG" || fail "reload line"
expect_eq "keys_needed" "$(stat_of keys_needed)" "1,2,3,4"
ok "3 key rotations under 4 pipelined clients: $total records"

# Reads through walld span every key; the follow reader saw all of it.
expect_eq "records read through walld" "$("$WALCTL" read | wc -l)" "$total"
i=0
while [ "$(wc -l <"$T/follow")" -lt "$total" ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "follow reader: $(wc -l <"$T/follow") records; $(cat "$T/follow.err")"
	sleep 0.05
done
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
expect_eq "follow: last LSN" "$(tail -n 1 "$T/follow" | sed 's/.*"lsn":"\([0-9]*\)".*/\1/')" "$total"
ok "reads through walld (and a follow read) across four keys"

# Segment by segment the key id never goes back; each key has segments.
key_ids >"$T/ids" || fail "walnonce"
sort -n -c "$T/ids" || fail "a segment under an older key after a newer one: $(echo $(cat "$T/ids"))"
expect_eq "key ids used" "$(echo $(uniq "$T/ids"))" "1 2 3 4"
ok "segments by key: $(echo $(uniq -c "$T/ids" | awk '{ print $2 ": " $1 }'))"

# Dropping key 1 while segments need it: refused, the old ring kept.
cp "$KR" "$T/keyring.full"
sed -i '/^1 /d' "$KR"
kill -HUP "$WALLD_PID"
i=0
while ! grep -q "reload: the new key ring lacks key id 1, which segments* 0000" "$LOG"; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "dropping key 1 was not refused"
	sleep 0.05
done
grep "lacks key id 1" "$LOG" | grep -q "keeping the running key ring (active key id 4)" ||
    fail "refusal: $(grep 'lacks key id 1' "$LOG")"
expect_eq "keys_needed after refusal" "$(stat_of keys_needed)" "1,2,3,4"
expect_eq "reads after refusal" "$("$WALCTL" read | wc -l)" "$total"
ok "dropping a key present segments need is refused, naming them"

# Truncate the segments under key 1: now it may go.
first2=$("$B/tests/walnonce" "$DATA" | awk '$2 == 0 && $1 ~ /02000000$/ { print $4; exit }' | sed 's/^0*//; s/\.wal$//')
[ -n "$first2" ] || fail "no segment under key 2"
"$WALCTL" truncate --before "$first2" >/dev/null || fail "truncate"
kill -HUP "$WALLD_PID"
wait_stat keys_needed "2,3,4"
expect_eq "records left" "$("$WALCTL" read | wc -l)" $((total - first2 + 1))
ok "key 1 dropped once its segments were truncated (log starts at $first2)"

stop_walld || fail "walld exit $?"
"$WALCTL" verify --dir "$DATA" --keyring "$KR" >"$T/out" || fail "verify: $(cat "$T/out")"
"$B/tests/walload" check -t -D "$DATA" -a 16 -b 2048 -k "$KR" "$T"/ack.* ||
    fail "walload check"
start_walld --config "$T/walld.yaml"
expect_eq "records after restart" "$("$WALCTL" read | wc -l)" $((total - first2 + 1))
ok "restart with keys 2..4: every acknowledged record intact"
