# SPDX-License-Identifier: Apache-2.0
# Durable consumer cursors: create, commit, get, list, drop with walctl;
# the rules (never back, never above the durable LSN, cursors.max, names);
# the wire's own checks (a bad name, a version-1 connection: BAD_REQUEST);
# read --cursor resuming after the cursor and committing what it printed;
# cursors surviving a stop, a kill -9 right after an acknowledged commit,
# and a damaged CURSORS file refused at start-up.
. "$(dirname "$0")/lib.sh"

cat >"$T/walld.yaml" <<YAML
cursors:
  max: 3
YAML
start_walld --config "$T/walld.yaml"
for i in 1 2 3 4 5 6 7 8 9 10; do
	"$WALCTL" append "rec $i" >/dev/null || fail "append $i"
done

expect_eq "create" "$("$WALCTL" cursor create etl)" 0
expect_eq "create at 4" "$("$WALCTL" cursor create audit 4)" 4
expect_eq "create again keeps it" "$("$WALCTL" cursor create audit 9)" 4
expect_eq "commit" "$("$WALCTL" cursor commit etl 6)" 6
expect_eq "commit again" "$("$WALCTL" cursor commit etl 6)" 6
expect_eq "get" "$("$WALCTL" cursor get etl | cut -d' ' -f1,2)" "etl 6"
"$WALCTL" cursor get etl | grep -Eq '^etl 6 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' ||
	fail "get: no commit time: $("$WALCTL" cursor get etl)"
expect_eq "never committed" "$("$WALCTL" cursor get audit)" "audit 4 -"

st=0; "$WALCTL" cursor commit etl 5 2>"$T/err" || st=$?
expect_eq "commit back: exit" $st 66
grep -q "never moves it back" "$T/err" || fail "commit back: $(cat "$T/err")"
st=0; "$WALCTL" cursor commit etl 11 2>"$T/err" || st=$?
expect_eq "commit above durable: exit" $st 66
grep -q "above the durable LSN 10" "$T/err" || fail "above: $(cat "$T/err")"
st=0; "$WALCTL" cursor create late 11 2>/dev/null || st=$?
expect_eq "create above durable: exit" $st 66
st=0; "$WALCTL" cursor get nosuch 2>"$T/err" || st=$?
expect_eq "get missing: exit" $st 66
grep -q "no cursor named nosuch" "$T/err" || fail "missing: $(cat "$T/err")"
st=0; "$WALCTL" cursor commit nosuch 1 2>/dev/null || st=$?
expect_eq "commit missing: exit" $st 66
st=0; "$WALCTL" cursor drop nosuch 2>/dev/null || st=$?
expect_eq "drop missing: exit" $st 66
ok "create, commit, get; back, above, missing refused"

for bad in -x .x "a b" "a/b" "" \
    0123456789012345678901234567890123456789012345678901234567890123x; do
	st=0; "$WALCTL" cursor create "$bad" 2>/dev/null || st=$?
	expect_eq "bad name '$bad'" $st 64
done
# The daemon's own check, and cursors on a version-1 connection.
if ! command -v python3 >/dev/null; then
	echo "note: no python3: the wire's own checks are not run"
else
python3 - "$SOCK" <<'PY' || fail "wire checks"
import socket, struct, sys
def conn(vmax):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(struct.pack("<IBBHQHH", 20, 1, 0, 0, 1, 1, vmax))
    hdr = s.recv(16, socket.MSG_WAITALL)
    n = struct.unpack("<I", hdr[:4])[0]
    s.recv(n - 16, socket.MSG_WAITALL)
    return s
def ask(s, op, body):
    s.sendall(struct.pack("<IBBHQ", 16 + len(body), op, 0, 0, 7) + body)
    hdr = s.recv(16, socket.MSG_WAITALL)
    n, rop = struct.unpack("<IB", hdr[:5])
    body = s.recv(n - 16, socket.MSG_WAITALL) if n > 16 else b""
    return rop, body
def expect_error(what, rop, body, code):
    if rop != 0xff or struct.unpack("<H", body[:2])[0] != code:
        sys.exit("%s: op 0x%02x body %r, want error %d" % (what, rop, body, code))
s = conn(2)
rop, body = ask(s, 0x0d, b"etl")
if rop != 0x8d or struct.unpack("<QQ", body)[0] != 6:
    sys.exit("get: op 0x%02x body %r" % (rop, body))
rop, body = ask(s, 0x0e, b"")
if rop != 0x8e or struct.unpack("<II", body[:8]) != (2, 0):
    sys.exit("list: op 0x%02x body %r" % (rop, body))
rop, body = ask(s, 0x0b, struct.pack("<Q", 0) + b"-bad")
expect_error("bad name", rop, body, 1)
s = conn(1)
rop, body = ask(s, 0x0d, b"etl")
expect_error("version 1", rop, body, 1)
if b"version 2" not in body:
    sys.exit("version 1: %r" % body)
PY
fi
ok "bad names refused (walctl: 64; walld: BAD_REQUEST); version 1: BAD_REQUEST"

expect_eq "create third" "$("$WALCTL" cursor create c3)" 0
st=0; "$WALCTL" cursor create c4 2>"$T/err" || st=$?
expect_eq "past cursors.max: exit" $st 75
grep -q "cursors.max (3)" "$T/err" || fail "max: $(cat "$T/err")"
expect_eq "drop" "$("$WALCTL" cursor drop c3)" 0
expect_eq "create after a drop" "$("$WALCTL" cursor create c4 2)" 2
"$WALCTL" cursors >"$T/list" || fail cursors
expect_eq "cursors lines" "$(awk 'NR > 1 { print $1, $2, $3 }' "$T/list" | tr '\n' ';')" \
    "audit 4 6;c4 2 8;etl 6 4;"
"$WALCTL" cursors --json >"$T/json" || fail "cursors --json"
grep -q '^{"name":"etl","lsn":"6","lag_records":4,"lag_bytes":[0-9]*,"commit_ms":[0-9]*,"committed":"20' "$T/json" ||
	fail "cursors --json: $(cat "$T/json")"
grep -q '"name":"audit","lsn":"4","lag_records":6,"lag_bytes":[0-9]*,"commit_ms":0,"committed":null}' "$T/json" ||
	fail "cursors --json: $(cat "$T/json")"
# Lag in bytes (an estimate from the segments): the further behind, the
# more; in the plain list too.
lb() { sed -n "s/.*\"name\":\"$1\".*\"lag_bytes\":\([0-9]*\).*/\1/p" "$T/json"; }
[ "$(lb audit)" -gt "$(lb etl)" ] && [ "$(lb etl)" -gt 0 ] ||
	fail "lag_bytes: audit $(lb audit), etl $(lb etl)"
expect_eq "cursors LAG_BYTES column" \
    "$(awk '$1 == "etl" { print $4 }' "$T/list")" "$(lb etl)"
expect_eq "stats: cursors" "$(stat_of cursors)" 3
expect_eq "stats: cursor_lowest_lsn" "$(stat_of cursor_lowest_lsn)" 2
expect_eq "stats: cursor_lowest" "$(stat_of cursor_lowest)" c4
ok "cursors.max, drop, list with lag, stats"

# read --cursor: starts after the cursor, commits what it printed.
expect_eq "read --cursor" "$("$WALCTL" read --cursor etl | cut -d' ' -f1 | tr '\n' ' ')" \
    "lsn=7 lsn=8 lsn=9 lsn=10 "
expect_eq "committed to the end" "$("$WALCTL" cursor get etl | cut -d' ' -f2)" 10
expect_eq "read --cursor again" "$("$WALCTL" read --cursor etl)" ""
# A filter: the records it skips are consumed too.
"$WALCTL" append --tenant 5 "t5" >/dev/null
"$WALCTL" append --tenant 6 "t6" >/dev/null
expect_eq "read --cursor --tenant" "$("$WALCTL" read --cursor audit --tenant 6 | cut -d' ' -f1)" \
    "lsn=12"
expect_eq "filtered: committed" "$("$WALCTL" cursor get audit | cut -d' ' -f2)" 12
st=0; "$WALCTL" read --cursor nosuch 2>/dev/null || st=$?
expect_eq "read --cursor missing: exit" $st 66
ok "read --cursor"

# Kept across a stop, and an acknowledged commit across kill -9.
stop_walld || fail "stop: $?"
start_walld --config "$T/walld.yaml"
expect_eq "after a stop" "$("$WALCTL" cursor get etl | cut -d' ' -f1,2)" "etl 10"
"$WALCTL" append "one more" >/dev/null
"$WALCTL" cursor commit etl 13 >/dev/null || fail "commit 13"
kill -KILL "$WALLD_PID"; wait "$WALLD_PID" 2>/dev/null; WALLD_PID=
start_walld --config "$T/walld.yaml"
expect_eq "after kill -9" "$("$WALCTL" cursor get etl | cut -d' ' -f1,2)" "etl 13"
expect_eq "all after kill -9" "$("$WALCTL" cursors | awk 'NR > 1 { print $1, $2 }' | tr '\n' ';')" \
    "audit 12;c4 2;etl 13;"
ok "cursors survive a stop and kill -9"

# A damaged file: walld refuses to start and says why.
stop_walld || fail "stop: $?"
printf 'X' | dd of="$DATA/CURSORS" bs=1 seek=20 conv=notrunc 2>/dev/null
st=0; "$WALLD" $ALLOW_ROOT --socket "$SOCK" --data-dir "$DATA" --config "$T/walld.yaml" \
    >"$T/start.log" 2>&1 || st=$?
[ $st -ne 0 ] || fail "walld started with a damaged CURSORS"
grep -q "CURSORS: damaged: offset [0-9]*: CRC mismatch" "$T/start.log" ||
	fail "damaged: $(cat "$T/start.log")"
ok "a damaged CURSORS file stops walld at start-up"
