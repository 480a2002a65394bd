# SPDX-License-Identifier: Apache-2.0
# walctl read --dump and append --load: a dump of a log with mixed types,
# tenants, vshards and payloads (empty, binary, large) replays into a fresh
# walld record for record, the same through walld and with --dir; a dump
# cut short, damaged or not a dump at all is refused (65); read --raw
# prints the payloads alone; --limit and --last bound what is printed.
. "$(dirname "$0")/lib.sh"
start_walld

# The records: every field at its edges, payloads with NUL and newlines.
"$WALCTL" append --type 0 --tenant 0 --vshard 0 "plain" >/dev/null || fail append
printf 'a\000b\nc\377' | "$WALCTL" append --type 65535 --tenant 4294967295 \
    --vshard 65535 >/dev/null || fail "append binary"
: | "$WALCTL" append --type 9 --tenant 3 --vshard 1 >/dev/null || fail "append empty"
printf 'one\ntwo\nthree\n' | "$WALCTL" append --lines --type 7 --tenant 2 \
    --vshard 5 >/dev/null || fail "append --lines"
head -c 300000 /dev/urandom >"$T/big"
"$WALCTL" append --type 4 --tenant 11 --vshard 2 --file "$T/big" >/dev/null ||
    fail "append big"
"$WALCTL" append --type 1 --tenant 1 --vshard 1 "last" >/dev/null || fail append
n=$("$WALCTL" sync) || fail sync
expect_eq "records" "$n" 8

"$WALCTL" read --dump >"$T/dump" || fail "read --dump"
expect_eq "magic line" "$(head -n 1 "$T/dump")" "walctl-dump 1"
"$WALCTL" read --json >"$T/want.json" || fail "read --json"

# Replays into a fresh walld, LSNs new: one printed per record, in order.
stop_walld || fail "walld exit status $?"
mv "$DATA" "$T/data1"
start_walld
"$WALCTL" append --tenant 99 "before the load" >/dev/null || fail append
"$WALCTL" append --load "$T/dump" >"$T/lsns" || fail "append --load"
expect_eq "LSNs printed" "$(tr '\n' ' ' <"$T/lsns")" "2 3 4 5 6 7 8 9 "
"$WALCTL" read --from 2 --json >"$T/got.json" || fail "read after load"
# Record for record: type, tenant, vshard and payload; the LSN moved by 1.
python3 - "$T/want.json" "$T/got.json" <<'X' || fail "replayed records differ"
import json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
assert len(want) == len(got) == 8, (len(want), len(got))
for w, g in zip(want, got):
    assert int(g["lsn"]) == int(w["lsn"]) + 1, (w, g)
    for k in ("type", "tenant", "vshard", "payload"):
        assert w[k] == g[k], (k, w, g)
X
ok "a dump replays into a fresh walld record for record"

# From stdin, and with --json: one {"lsn":"N"} per record.
"$WALCTL" append --load - --json <"$T/dump" >"$T/lsns.json" || fail "append --load -"
expect_eq "--json LSNs" "$(head -n 1 "$T/lsns.json")" '{"lsn":"10"}'
expect_eq "--json lines" "$(wc -l <"$T/lsns.json")" 8

# read --dir dumps the same bytes as walld does.
"$WALCTL" read --dir "$T/data1" --dump >"$T/dump.dir" || fail "read --dir --dump"
cmp -s "$T/dump" "$T/dump.dir" || fail "read --dir --dump differs from read --dump"
ok "append --load - --json; read --dir --dump is byte for byte the same"

# A dump cut short (inside a record, or at a boundary: no end mark), one
# with bytes after its end, and something that is not a dump: 65, and what
# came before the damage is appended.
size=$(wc -c <"$T/dump")
head -c $((size - 20)) "$T/dump" >"$T/cut"
st=0; "$WALCTL" append --load "$T/cut" >"$T/out" 2>"$T/err" || st=$?
expect_eq "cut dump" $st 65
grep -q "^walctl: append: .*: no end mark after record 8: the dump is truncated" "$T/err" ||
    fail "cut dump message: $(cat "$T/err")"
expect_eq "cut dump: records appended" "$(wc -l <"$T/out")" 8
head -c 30 "$T/dump" >"$T/cut2"
st=0; "$WALCTL" append --load "$T/cut2" >/dev/null 2>"$T/err" || st=$?
expect_eq "dump cut in a record" $st 65
grep -q "record 1: cut short" "$T/err" || fail "cut record message: $(cat "$T/err")"
{ cat "$T/dump"; echo extra; } >"$T/long"
st=0; "$WALCTL" append --load "$T/long" >/dev/null 2>"$T/err" || st=$?
expect_eq "bytes after the end" $st 65
echo "lsn=1 not a dump" >"$T/text"
st=0; "$WALCTL" append --load "$T/text" >/dev/null 2>"$T/err" || st=$?
expect_eq "not a dump" $st 65
grep -q "not a walctl dump" "$T/err" || fail "not a dump message: $(cat "$T/err")"
st=0; "$WALCTL" append --load "$T/none" 2>/dev/null || st=$?
expect_eq "no such file" $st 66
st=0; "$WALCTL" append --load "$T/dump" --tenant 3 2>"$T/err" || st=$?
expect_eq "--load with --tenant" $st 64
expect_eq "usage lines" "$(wc -l <"$T/err")" 2
ok "a damaged dump is refused (65) after the records before the damage"

# --raw: the payloads' bytes, nothing else.
"$WALCTL" read --raw --from 2 --to 4 >"$T/raw" || fail "read --raw"
printf 'plaina\000b\nc\377' | cmp -s - "$T/raw" || fail "read --raw: $(od -c "$T/raw")"
"$WALCTL" read --raw --from 8 --to 8 | cmp -s - "$T/big" || fail "read --raw of the big record"
st=0; "$WALCTL" read --raw --json 2>/dev/null || st=$?
expect_eq "--raw with --json" $st 64
ok "read --raw"

# --limit / -n: at most N records; --last N: the log's last N.
expect_eq "--limit" "$("$WALCTL" read --limit 2 | cut -d' ' -f1 | tr '\n' ' ')" "lsn=1 lsn=2 "
expect_eq "-n with a filter" "$("$WALCTL" read -n 2 --tenant 2 | cut -d' ' -f1 | tr '\n' ' ')" \
    "lsn=5 lsn=6 "
expect_eq "--limit --dir" "$("$WALCTL" read --dir "$T/data1" --limit 1 | cut -d' ' -f1)" "lsn=1"
"$WALCTL" read --dump --limit 3 >"$T/d3" || fail "read --dump --limit"
"$WALCTL" append --load "$T/d3" >"$T/l3" || fail "a limited dump loads"
expect_eq "limited dump" "$(wc -l <"$T/l3")" 3
last=$("$WALCTL" sync)
expect_eq "--last 2" "$("$WALCTL" read --last 2 | cut -d' ' -f1 | tr '\n' ' ')" \
    "lsn=$((last - 1)) lsn=$last "
expect_eq "--last 0" "$("$WALCTL" read --last 0 | wc -l)" 0
st=0; "$WALCTL" read --last 2 --from 1 2>/dev/null || st=$?
expect_eq "--last with --from" $st 64
st=0; "$WALCTL" read --limit 0 2>/dev/null || st=$?
expect_eq "--limit 0" $st 64
ok "read --limit, -n and --last"

# A followed dump never reaches its end mark: refused unless --to ends it.
st=0; "$WALCTL" read --dump --follow >/dev/null 2>"$T/err" || st=$?
expect_eq "--dump --follow" $st 64
grep -q "needs --to" "$T/err" || fail "--dump --follow: $(cat "$T/err")"
to=$(stat_of durable_lsn)
"$WALCTL" read --dump --follow --to "$to" >"$T/followed" || fail "--dump --follow --to"
"$WALCTL" read --dump --to "$to" | cmp -s - "$T/followed" ||
	fail "a followed dump with --to differs from a plain one"
ok "read --dump --follow needs --to, and then is the same dump"
stop_walld || fail "walld exit status $?"
