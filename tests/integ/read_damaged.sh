# SPDX-License-Identifier: Apache-2.0
# A flipped bit in a sealed segment, read through walld: the client gets
# the DAMAGED error (walctl exit 65) with one "read:" and the file, offset
# and LSN; walld logs one line naming them, counts the record once in
# damaged_records_total and errors_damaged_total, never as "range"; and
# walctl read --dir says the same with the same exit code.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fixtures/damage.sh"

fixture_base "$T/base" "$T/base.sock" || fail "cannot build the good directory"
want=$(fixture_damage sealed-bitflip "$T/base" "$DATA") || fail "fixture"
set -- $want
file=$2 off=$3 lsn=$4
start_walld

st=0
"$WALCTL" read --from "$lsn" --to "$lsn" >/dev/null 2>"$T/err" || st=$?
expect_eq "read of the damaged LSN: exit" $st 65
expect_eq "the message" "$(cat "$T/err")" \
    "walctl: read: damaged: $DATA/$file: offset $off: LSN $lsn: record checksum mismatch"
grep -q 'read:.*read:' "$T/err" && fail "the message stutters: $(cat "$T/err")"
grep -q "error: read: $DATA/$file: offset $off: LSN $lsn: record checksum mismatch (connection [0-9]*, pid [0-9]*, uid [0-9]*)$" "$LOG" ||
	fail "walld does not log the damage with file, offset and LSN"
ok "a damaged record read through walld: exit 65, one message, one log line"

# The Python client (protocol version 1) names it too: walld.Damaged,
# with the place, not an internal error.
if command -v python3 >/dev/null; then
	st=0
	PYTHONPATH="$TOP/python" PYTHONDONTWRITEBYTECODE=1 python3 -c '
import sys, walld
c = walld.Client(sys.argv[1])
try:
    for r in c.read(int(sys.argv[2]), int(sys.argv[2])):
        pass
except walld.Damaged as e:
    print(e.code, e.message)
    sys.exit(0)
sys.exit("no Damaged raised")
' "$SOCK" "$lsn" >"$T/py" 2>&1 || st=$?
	expect_eq "python: read of the damaged LSN" "$st" 0
	grep -q "^14 .*$file: offset $off: LSN $lsn: record checksum mismatch" "$T/py" ||
		fail "python: $(cat "$T/py")"
	ok "the Python client raises walld.Damaged naming the place"
fi

# Read again, and through a read that starts before it: still one record.
st=0; "$WALCTL" read >/dev/null 2>&1 || st=$?
expect_eq "a whole read over the damage: exit" $st 65
expect_eq "damaged_records_total" "$(stat_of damaged_records_total)" 1
# Two walctl reads, and the Python client's when it ran.
nreads=2
command -v python3 >/dev/null && nreads=3
expect_eq "errors_damaged_total" "$(stat_of errors_damaged_total)" $nreads
expect_eq "errors_range_total" "$(stat_of errors_range_total)" 0
"$WALCTL" stats --prometheus >"$T/prom" || fail "stats --prometheus"
grep -qx 'walld_damaged_records_total 1' "$T/prom" ||
	fail "metric: $(grep damaged "$T/prom")"
grep -qx "walld_errors_total{kind=\"damaged\"} $nreads" "$T/prom" ||
	fail "errors_total: $(grep errors_total "$T/prom")"
grep -qx 'walld_errors_total{kind="range"} 0' "$T/prom" ||
	fail "errors_total range: $(grep errors_total "$T/prom")"
ok "counted once as a damaged record, $nreads times as damaged errors, never as range"

# The records after it are readable; the log goes on.
"$WALCTL" read --from $((lsn + 1)) --to $((lsn + 1)) >/dev/null ||
	fail "the next record cannot be read"
stop_walld TERM || fail "stop"

# Offline, the same condition gives the same exit code and message.
st=0
"$WALCTL" read --dir "$DATA" >/dev/null 2>"$T/err" || st=$?
expect_eq "read --dir over the damage: exit" $st 65
expect_eq "read --dir: the message" "$(cat "$T/err")" \
    "walctl: read: $DATA/$file: offset $off: LSN $lsn: record checksum mismatch"
ok "read --dir: exit 65 with the same place"
