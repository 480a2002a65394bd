# SPDX-License-Identifier: Apache-2.0
# walctl append: DATA, --file and stdin payloads (binary, NUL bytes), labels,
# --lines with one LSN per input line in order, and the usage and size
# exit codes.
. "$(dirname "$0")/lib.sh"
start_walld

# One record from DATA, then the LSNs count up by one.
l1=$("$WALCTL" append --type 3 --tenant 7 --vshard 9 "hello") || fail "append DATA"
l2=$("$WALCTL" append "world") || fail "append DATA 2"
expect_eq "second LSN" "$l2" $((l1 + 1))
got=$("$WALCTL" read --from "$l1" --to "$l1")
expect_eq "labels and payload" "$got" \
    "lsn=$l1 type=3 tenant=7 vshard=9 len=5 data=\"hello\""

# Binary payloads with NUL bytes, from stdin and from --file, round trip.
head -c 70000 /dev/urandom >"$T/bin"
printf 'a\000b\000\000c\377\n' >>"$T/bin"
l3=$("$WALCTL" append --tenant 1 <"$T/bin") || fail "append stdin"
l4=$("$WALCTL" append --tenant 1 --file "$T/bin") || fail "append --file"
for l in $l3 $l4; do
	"$WALCTL" read --from "$l" --to "$l" --json |
	    sed 's/.*"payload":"\([^"]*\)".*/\1/' | base64 -d >"$T/back"
	cmp -s "$T/bin" "$T/back" || fail "binary payload of LSN $l differs"
done
# An empty stdin is an empty record.
l5=$("$WALCTL" append </dev/null) || fail "append empty"
got=$("$WALCTL" read --from "$l5" --to "$l5")
expect_eq "empty record" "$got" "lsn=$l5 type=0 tenant=0 vshard=0 len=0 data=\"\""
ok "append: DATA, stdin and --file, binary-safe"

# --lines: one LSN per line, dense and in input order; empty lines are
# records; a last line without a newline is one too.
seq 1 5000 | sed 's/^/line /' >"$T/lines"
printf '\nlast' >>"$T/lines"
"$WALCTL" append --lines --tenant 5 <"$T/lines" >"$T/lsns" || fail "append --lines"
expect_eq "LSN count" "$(wc -l <"$T/lsns")" 5002
first=$(head -n 1 "$T/lsns")
expect_eq "first --lines LSN" "$first" $((l5 + 1))
seq "$first" $((first + 5001)) | cmp -s - "$T/lsns" || fail "LSNs not dense and in order"
"$WALCTL" read --tenant 5 --json | python3 -c '
import base64, json, sys
out = sys.stdout.buffer
for line in sys.stdin:
    out.write(base64.b64decode(json.loads(line)["payload"]) + b"\n")
' >"$T/lines.back"
printf '\n' >>"$T/lines"
cmp -s "$T/lines" "$T/lines.back" || fail "--lines payloads differ"
expect_eq "line 5001 is empty" "$("$WALCTL" read --from $((first + 5000)) --to $((first + 5000)))" \
    "lsn=$((first + 5000)) type=0 tenant=5 vshard=0 len=0 data=\"\""
ok "append --lines: 5002 records, LSNs in input order"

# --lines answers each line before waiting for more input.
mkfifo "$T/fifo"
"$WALCTL" append --lines <"$T/fifo" >"$T/slow" &
pid=$!
exec 3>"$T/fifo"
echo one >&3
i=0
while [ ! -s "$T/slow" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "--lines waits for EOF before answering"
	sleep 0.05
done
echo two >&3
exec 3>&-
wait $pid || fail "append --lines from a fifo"
expect_eq "fifo LSNs" "$(wc -l <"$T/slow")" 2
ok "append --lines: answers while input pauses"

# Usage errors: 64.
st=0; "$WALCTL" append a b 2>/dev/null || st=$?
expect_eq "two DATA arguments" $st 64
st=0; "$WALCTL" append --type 65536 x 2>/dev/null || st=$?
expect_eq "type above 16 bits" $st 64
st=0; "$WALCTL" append --tenant -1 x 2>/dev/null || st=$?
expect_eq "negative tenant" $st 64
st=0; "$WALCTL" append --lines x 2>/dev/null || st=$?
expect_eq "--lines with DATA" $st 64
st=0; "$WALCTL" append --bogus x 2>/dev/null || st=$?
expect_eq "unknown option" $st 64
st=0; "$WALCTL" append --file "$T/none" 2>/dev/null || st=$?
expect_eq "missing --file" $st 66

# A record above max_record (default 1 MiB): 65, nothing written.
before=$("$WALCTL" sync)
head -c $((1024 * 1024 + 1)) /dev/zero >"$T/big"
st=0; "$WALCTL" append --file "$T/big" 2>"$T/err" || st=$?
expect_eq "too large" $st 65
grep -q "too large\|above" "$T/err" || fail "too large message: $(cat "$T/err")"
head -c $((1024 * 1024)) /dev/zero | "$WALCTL" append >/dev/null || fail "max record"
expect_eq "after the too-large record" "$("$WALCTL" sync)" $((before + 1))
ok "append: exit codes 64, 65, 66"

stop_walld || fail "walld exit status $?"
