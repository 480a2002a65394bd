# SPDX-License-Identifier: Apache-2.0
# Checking the sealed segments while walld runs. A flipped bit in a
# sealed segment: `walctl verify` (through walld) names file, offset and
# LSN and exits 65, as `walctl verify --dir` does; the background scrub
# (scrub.rate, scrub.interval) finds it within its interval, logs it once
# and counts it; its pace is bounded by scrub.rate; scrub.at_start refuses
# to start on it (exit 65). A clean log: exit 0, and the stats show a
# complete pass. A reload turns the scrub on.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fixtures/damage.sh"

fixture_base "$T/base" "$T/base.sock" || fail "cannot build the good directory"
want=$(fixture_damage sealed-bitflip "$T/base" "$DATA") || fail "fixture"
set -- $want
file=$2 off=$3 lsn=$4
place="$file: offset $off: LSN $lsn: record checksum mismatch"

# walctl verify through walld, text and JSON.
start_walld
st=0; "$WALCTL" verify >"$T/out" 2>"$T/err" || st=$?
expect_eq "verify: exit" $st 65
grep -qx "$place" "$T/out" || fail "verify: $(cat "$T/out")"
grep -q "sealed segments, [0-9]* records, .*1 problems$" "$T/out" ||
	fail "verify: no summary: $(cat "$T/out")"
expect_eq "verify: stderr" "$(cat "$T/err")" "walctl: verify: 1 problem found"
grep -q "error: verify: $DATA/$place$" "$LOG" || fail "verify: not logged"
st=0; "$WALCTL" verify --json >"$T/json" 2>/dev/null || st=$?
expect_eq "verify --json: exit" $st 65
python3 - "$T/json" "$file" "$off" "$lsn" <<'PY' || fail "verify --json: $(cat "$T/json")"
import json, sys
r = json.load(open(sys.argv[1]))
p = r["problem_list"]
assert r["mode"] == "online" and r["problems"] == 1 and len(p) == 1, r
assert p[0]["file"] == sys.argv[2] and p[0]["offset"] == int(sys.argv[3]), p
# LSNs are decimal strings, as in every walctl JSON output.
assert p[0]["lsn"] == sys.argv[4], p
assert isinstance(r["first_lsn"], str) and isinstance(r["last_lsn"], str), r
assert r["dir"] is None and r["more"] is False, r
assert r["damaged_records"] == 1 and r["records"] > 0 and r["segments"] > 0, r
PY
# Appends go on; the damage is counted once, however often it is met.
"$WALCTL" append "after the check" >/dev/null || fail "append after verify"
expect_eq "damaged_records_total" "$(stat_of damaged_records_total)" 1
expect_eq "verify_requests_total" "$(stat_of verify_requests_total)" 2
expect_eq "logged once" "$(grep -c "offset $off: LSN $lsn:" "$LOG")" 1
# --keyring is for --dir only (walld uses its own ring).
st=0; "$WALCTL" verify --keyring /nonexistent 2>/dev/null || st=$?
expect_eq "verify --keyring without --dir: exit" $st 64
stop_walld || fail "stop"
st=0; "$WALCTL" verify --dir "$DATA" --json >"$T/json" 2>/dev/null || st=$?
expect_eq "verify --dir --json: exit" $st 65
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["mode"]=="offline" and r["problems"]==1, r' \
    "$T/json" || fail "verify --dir --json: $(cat "$T/json")"
ok "walctl verify through walld: file, offset, LSN, exit 65; --json; logged once"

# The background scrub finds it within its interval (the first pass
# begins at start-up), logs it once however many passes meet it.
cat >"$T/walld.yaml" <<YAML
scrub:
  rate: 64MiB
  interval: 1s
YAML
: >"$LOG"
start_walld --config "$T/walld.yaml"
i=0
while [ "$(stat_of scrub_passes_total)" -lt 2 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "no two scrub passes in 5 s"
	sleep 0.05
done
grep -q "error: scrub: $DATA/$place$" "$LOG" || fail "the scrub did not log it"
expect_eq "logged once over passes" "$(grep -c "offset $off: LSN $lsn:" "$LOG")" 1
expect_eq "damaged_records_total" "$(stat_of damaged_records_total)" 1
expect_eq "scrub_problems_total" "$(stat_of scrub_problems_total)" 1
last=$(stat_of scrub_last_complete)
now=$(date +%s)
[ "$last" -gt $((now - 10)) ] && [ "$last" -le "$now" ] ||
	fail "scrub_last_complete $last, now $now"
[ "$(stat_of scrub_bytes_total)" -gt 0 ] || fail "scrub_bytes_total is 0"
"$WALCTL" stats --prometheus >"$T/prom" || fail "stats --prometheus"
grep -qx 'walld_damaged_records_total 1' "$T/prom" || fail "metric"
grep -q '^walld_scrub_passes_total [1-9]' "$T/prom" || fail "passes metric"
grep -q '^walld_scrub_last_complete_timestamp_seconds [1-9]' "$T/prom" ||
	fail "last complete metric"
stop_walld || fail "stop"
ok "the background scrub: found in its first pass, logged once, counted"

# The rate bounds the pace: the sealed segments hold about 18 KB, so at
# 6 KiB a second a pass takes about 3 s.
cat >"$T/walld.yaml" <<YAML
scrub:
  rate: 6KiB
  interval: 1h
YAML
: >"$LOG"
t0=$(date +%s%N)
start_walld --config "$T/walld.yaml"
i=0
while [ "$(stat_of scrub_passes_total)" -lt 1 ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "no pass in 15 s at 6 KiB/s"
	sleep 0.05
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
sb=$(stat_of scrub_bytes_total)
# The last chunk is not waited for: 80% of the whole, at least.
min=$(( sb * 1000 / 6144 * 8 / 10 ))
[ $ms -ge $min ] ||
	fail "a pass over $sb bytes at 6 KiB/s took $ms ms (at least $min expected)"
stop_walld || fail "stop"
ok "scrub.rate bounds the pace: $sb bytes in $ms ms at 6 KiB/s"

# scrub.at_start refuses to start on the damage, naming it; exit 65.
printf 'scrub:\n  at_start: true\n' >"$T/walld.yaml"
: >"$LOG"
st=0
"$WALLD" $ALLOW_ROOT --socket "$SOCK" --data-dir "$DATA" \
    --config "$T/walld.yaml" >>"$LOG" 2>&1 || st=$?
expect_eq "at_start on damage: exit" $st 65
grep -q "error: scrub.at_start: $DATA/$place$" "$LOG" ||
	fail "at_start: the place is not logged"
grep -q "refusing to start" "$LOG" || fail "at_start: no refusal line"
grep -q "info: ready" "$LOG" && fail "at_start: walld got ready"
ok "scrub.at_start: refused with exit 65, file, offset and LSN logged"

# A clean log: at_start lets walld start, verify says 0, and a reload
# turns the background scrub on: the stats show a complete pass.
rm -rf "$DATA" && cp -a "$T/base" "$DATA" || fail "copy"
: >"$LOG"
start_walld --config "$T/walld.yaml"
grep -q "scrub.at_start: [0-9]* sealed segments, [0-9]* records, .* 0 problems" "$LOG" ||
	fail "at_start on a clean log: $(grep at_start "$LOG")"
"$WALCTL" verify >"$T/out" || fail "verify of a clean log: $(cat "$T/out")"
grep -q ", 0 problems$" "$T/out" || fail "verify: $(cat "$T/out")"
expect_eq "no pass while off" "$(stat_of scrub_passes_total)" 0
expect_eq "no pass while off: last" "$(stat_of scrub_last_complete)" 0
printf 'scrub:\n  at_start: true\n  rate: 1MiB\n  interval: 1h\n' >"$T/walld.yaml"
kill -HUP "$WALLD_PID"
i=0
while [ "$(stat_of scrub_passes_total)" -lt 1 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "no pass within 5 s of the reload"
	sleep 0.05
done
[ "$(stat_of scrub_last_complete)" -gt 0 ] || fail "scrub_last_complete is 0"
expect_eq "clean: damaged_records_total" "$(stat_of damaged_records_total)" 0
grep -q "scrub: pass complete: .* 0 problems" "$LOG" || fail "no pass logged"
grep -E "error: (scrub|verify)" "$LOG" && fail "errors on a clean log"
# A sealed log has no active segment: every segment is checked.
"$WALCTL" append "the last record" >/dev/null || fail "append"
"$WALCTL" seal >/dev/null || fail "seal"
"$WALCTL" verify --json >"$T/json" || fail "verify of a sealed log: $(cat "$T/json")"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["problems"]==0 and r["last_lsn"]==sys.argv[2], r' \
    "$T/json" "$(stat_of durable_lsn)" || fail "sealed: $(cat "$T/json")"
stop_walld || fail "stop"
ok "a clean log: at_start starts, verify exits 0 (sealed too), a reload turns the scrub on"

# Many damaged records: each logged once over passes, each counted once.
rm -rf "$DATA"
: >"$LOG"
start_walld
seq 1 60 | sed 's/^/a record to damage, number /' |
    "$WALCTL" append --lines >/dev/null || fail "append"
"$WALCTL" rotate >/dev/null || fail "rotate"
stop_walld || fail "stop"
l=1
while [ $l -le 50 ]; do
	w=$("$B/tests/walfix" where "$DATA" $l) || fail "where $l"
	set -- $w
	"$B/tests/walfix" flip "$DATA/$1" $(($2 + 40 + $3 / 2)) || fail "flip $l"
	l=$((l + 1))
done
printf 'scrub:\n  rate: 64MiB\n  interval: 1s\n' >"$T/walld.yaml"
start_walld --config "$T/walld.yaml"
i=0
while [ "$(stat_of scrub_passes_total)" -lt 3 ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "no three passes in 10 s"
	sleep 0.05
done
expect_eq "logged" "$(grep -c "error: scrub: .*record checksum mismatch" "$LOG")" 50
expect_eq "scrub_problems_total" "$(stat_of scrub_problems_total)" 50
expect_eq "damaged_records_total" "$(stat_of damaged_records_total)" 50
st=0; "$WALCTL" verify --json >"$T/json" 2>/dev/null || st=$?
expect_eq "verify: exit" $st 65
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["problems"]==50 and len(r["problem_list"])==50 and r["damaged_records"]==50 and r["records"]==10, r' \
    "$T/json" || fail "verify: $(cat "$T/json")"
expect_eq "logged, after verify" "$(grep -c "record checksum mismatch" "$LOG")" 50
stop_walld || fail "stop"
ok "50 damaged records: each logged once over passes and requests, counted once"

# VERIFY's framing: version 2 only, an empty body, no flags; each else is
# BAD_REQUEST and the connection closes.
start_walld
raw_verify() {	# NAME EXPECT ARGS...
	name=$1 want=$2
	shift 2
	"$B/tests/rawclient" -s "$SOCK" -t 3000 "$@" recv-all >"$T/out" 2>&1
	grep -q "$want" "$T/out" || fail "$name: $(cat "$T/out")"
	grep -qx "eof\|reset" "$T/out" || fail "$name: not closed: $(cat "$T/out")"
}
raw_verify "VERIFY on version 1" \
    "error id=9 code=bad_request msg=verify needs protocol version 2" \
    hello-v 1 1 recv 1 frame 16 0x12 0 9 -
raw_verify "VERIFY with a body" \
    "error id=9 code=bad_request msg=verify: the body must be empty" \
    hello recv 1 frame 24 0x12 0 9 0100000000000000
raw_verify "VERIFY with a flag" "code=bad_request msg=bad frame" \
    hello recv 1 frame 16 0x12 0x01 9 -
"$WALCTL" ping >/dev/null || fail "walld after bad VERIFYs"
stop_walld || fail "stop"
ok "VERIFY: version 2, an empty body, no flags"

# Truncation while a pass reads: the segments it removes (or recycles)
# are skipped, never reported as damage.
rm -rf "$DATA"
: >"$LOG"
start_walld
n=0
while [ $n -lt 12 ]; do
	"$WALCTL" append "segment $n, one record" >/dev/null || fail append
	"$WALCTL" rotate >/dev/null || fail rotate
	n=$((n + 1))
done
stop_walld || fail "stop"
printf 'scrub:\n  rate: 8KiB\n  interval: 1h\n' >"$T/walld.yaml"
: >"$LOG"
start_walld --config "$T/walld.yaml"
sleep 0.5
"$WALCTL" truncate --before 10 >/dev/null || fail "truncate"
i=0
while [ "$(stat_of scrub_passes_total)" -lt 1 ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "no pass in 15 s"
	sleep 0.05
done
grep -E "error: (scrub|verify)" "$LOG" && fail "truncation taken for damage"
expect_eq "problems" "$(stat_of scrub_problems_total)" 0
"$WALCTL" verify >/dev/null || fail "verify after truncation"
stop_walld || fail "stop"
grep -q "scrub: pass complete: [0-9] sealed segments" "$LOG" ||
	fail "the pass did not skip the segments truncated: $(grep "pass complete" "$LOG")"
ok "a truncation during a pass: no false damage"

# VERIFY needs the stats permission (it reads, changes nothing). Needs
# root, to run walctl as other uids.
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	echo "note: the permission check is not run: it needs root and setpriv"
	exit 0
fi
chmod 0711 "$T"
cat >"$T/walld.yaml" <<YAML
socket:
  mode: "0666"
access:
  - user: 4243
    ops: stats
  - user: 4244
    ops: append
    tenants: any
YAML
: >"$LOG"
start_walld --config "$T/walld.yaml"
setpriv --reuid=4243 --regid=4243 --clear-groups "$WALCTL" verify \
    >/dev/null 2>"$T/err" || fail "verify with stats: $(cat "$T/err")"
st=0
setpriv --reuid=4244 --regid=4244 --clear-groups "$WALCTL" verify \
    >/dev/null 2>"$T/err" || st=$?
expect_eq "verify without stats: exit" $st 77
grep -q "verify: stats not permitted for uid 4244" "$T/err" ||
	fail "verify without stats: $(cat "$T/err")"
stop_walld || fail "stop"
ok "verify needs the stats permission"
