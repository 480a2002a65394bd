# SPDX-License-Identifier: Apache-2.0
# walctl read: the text and JSON formats exactly, escapes, filters, ranges,
# --follow, and read --dir printing byte for byte what the daemon printed.
. "$(dirname "$0")/lib.sh"
start_walld

"$WALCTL" append --tenant 1 "abc" >/dev/null || fail append
printf 'q"b\\s\n\t\r\001\377 ~' | "$WALCTL" append --type 2 --vshard 3 >/dev/null ||
    fail append
printf 'line one\nline two\nline three\n' |
    "$WALCTL" append --lines --tenant 2 --type 7 >/dev/null || fail "append --lines"
"$WALCTL" append --tenant 4294967295 --type 65535 --vshard 65535 "max" >/dev/null ||
    fail append

cat >"$T/want.txt" <<'X'
lsn=1 type=0 tenant=1 vshard=0 len=3 data="abc"
lsn=2 type=2 tenant=0 vshard=3 len=12 data="q\"b\\s\n\t\r\x01\xff ~"
lsn=3 type=7 tenant=2 vshard=0 len=8 data="line one"
lsn=4 type=7 tenant=2 vshard=0 len=8 data="line two"
lsn=5 type=7 tenant=2 vshard=0 len=10 data="line three"
lsn=6 type=65535 tenant=4294967295 vshard=65535 len=3 data="max"
X
"$WALCTL" read >"$T/got.txt" || fail "read"
cmp -s "$T/want.txt" "$T/got.txt" || fail "text format: $(diff "$T/want.txt" "$T/got.txt")"

cat >"$T/want.json" <<'X'
{"lsn":"1","type":0,"tenant":1,"vshard":0,"payload":"YWJj"}
{"lsn":"2","type":2,"tenant":0,"vshard":3,"payload":"cSJiXHMKCQ0B/yB+"}
{"lsn":"3","type":7,"tenant":2,"vshard":0,"payload":"bGluZSBvbmU="}
{"lsn":"4","type":7,"tenant":2,"vshard":0,"payload":"bGluZSB0d28="}
{"lsn":"5","type":7,"tenant":2,"vshard":0,"payload":"bGluZSB0aHJlZQ=="}
{"lsn":"6","type":65535,"tenant":4294967295,"vshard":65535,"payload":"bWF4"}
X
"$WALCTL" read --json >"$T/got.json" || fail "read --json"
cmp -s "$T/want.json" "$T/got.json" || fail "JSON format: $(diff "$T/want.json" "$T/got.json")"
ok "read: text and JSON formats"

expect_eq "--tenant 2" "$("$WALCTL" read --tenant 2 | cut -d' ' -f1 | tr '\n' ' ')" \
    "lsn=3 lsn=4 lsn=5 "
expect_eq "--type 2" "$("$WALCTL" read --type 2 | cut -d' ' -f1)" "lsn=2"
expect_eq "--vshard 3" "$("$WALCTL" read --vshard 3 | cut -d' ' -f1)" "lsn=2"
expect_eq "--tenant 2 --type 0" "$("$WALCTL" read --tenant 2 --type 0)" ""
expect_eq "--from 2 --to 4" "$("$WALCTL" read --from 2 --to 4 | cut -d' ' -f1 | tr '\n' ' ')" \
    "lsn=2 lsn=3 lsn=4 "
expect_eq "--from past the end" "$("$WALCTL" read --from 100)" ""
st=0; "$WALCTL" read --from 5 --to 4 2>/dev/null || st=$?
expect_eq "--to below --from" $st 64
st=0; "$WALCTL" read --from x 2>/dev/null || st=$?
expect_eq "bad --from" $st 64
ok "read: filters and ranges"

# --follow prints what exists, then new records as they come.
"$WALCTL" read --from 6 --follow --tenant 9 >"$T/follow" 2>&1 &
fpid=$!
"$WALCTL" append --tenant 9 "followed" >/dev/null || fail append
i=0
while ! grep -q followed "$T/follow"; do
	i=$((i + 1)); [ $i -lt 200 ] || fail "--follow did not print the new record"
	sleep 0.05
done
kill $fpid; wait $fpid 2>/dev/null
expect_eq "follow output" "$(cat "$T/follow")" \
    "lsn=7 type=0 tenant=9 vshard=0 len=8 data=\"followed\""
ok "read --follow"

# The same reads online and offline, byte for byte.
"$WALCTL" append --file /dev/null >/dev/null
for args in "" "--json" "--tenant 2" "--from 2 --to 5 --json" "--type 7 --vshard 0" \
    "--from 3"; do
	"$WALCTL" read $args >"$T/online.$$" || fail "read $args"
	mv "$T/online.$$" "$T/online.$(echo "$args" | tr -c 'a-z0-9\n' _)"
done
stop_walld || fail "walld exit status $?"
for args in "" "--json" "--tenant 2" "--from 2 --to 5 --json" "--type 7 --vshard 0" \
    "--from 3"; do
	"$WALCTL" read --dir "$DATA" $args >"$T/offline" || fail "read --dir $args"
	cmp -s "$T/offline" "$T/online.$(echo "$args" | tr -c 'a-z0-9\n' _)" ||
	    fail "read --dir $args differs from the daemon's read"
done
expect_eq "offline line count" "$("$WALCTL" read --dir "$DATA" | wc -l)" 8
st=0; "$WALCTL" read --dir "$T/nothing" 2>/dev/null || st=$?
expect_eq "read --dir of a missing directory" $st 66
ok "read --dir: byte for byte equal to the daemon's read"
