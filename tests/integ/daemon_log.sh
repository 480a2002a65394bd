# SPDX-License-Identifier: Apache-2.0
# walld's log: off the journal every line starts with an ISO 8601 UTC
# time with milliseconds; with $JOURNAL_STREAM naming its stderr a line
# has the "<N>" priority prefix and no time (journald stamps it). A
# client hammering a denied operation gets 5 lines logged per 10 s and
# then one line saying how many were suppressed.
. "$(dirname "$0")/lib.sh"

TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z walld: (error|warning|info|debug): '

# Off the journal (and with a JOURNAL_STREAM that names another file).
JOURNAL_STREAM=1:1 start_walld
"$WALCTL" append hello >/dev/null || fail append
stop_walld || fail "stop"
[ -s "$LOG" ] || fail "nothing logged"
bad=$(grep -cvE "$TS" "$LOG")
expect_eq "lines without a time" "$bad" 0
# The time is now's (within a minute): the clock is UTC, not local.
first=$(head -n 1 "$LOG" | cut -c1-16)
now=$(date -u +%Y-%m-%dT%H:%M)
before=$(date -u -d '1 minute ago' +%Y-%m-%dT%H:%M)
[ "$first" = "$now" ] || [ "$first" = "$before" ] ||
	fail "time $first is not now ($now UTC)"
ok "off the journal: every line has a UTC time with milliseconds"

# On the journal: $JOURNAL_STREAM is stderr's device and inode.
: >"$LOG"
JOURNAL_STREAM=$(stat -c '%d:%i' "$LOG") start_walld
stop_walld || fail "stop"
[ -s "$LOG" ] || fail "nothing logged"
grep -E '^[0-9]{4}-' "$LOG" && fail "a time on the journal"
bad=$(grep -cvE '^<[0-7]>(error|warning|info|debug): ' "$LOG")
expect_eq "lines without a priority" "$bad" 0
ok "on the journal: priority prefixes, no time"

# A denial flood. Needs root, to run walctl as a uid the list refuses.
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	echo "note: the denial flood is not checked: it needs root and setpriv"
	exit 0
fi
chmod 0711 "$T"
cat >"$T/walld.yaml" <<YAML
socket:
  mode: "0666"
access:
  - user: 4243
    ops: stats
YAML
: >"$LOG"
start_walld --config "$T/walld.yaml"
n=0
while [ $n -lt 40 ]; do
	setpriv --reuid=4243 --regid=4243 --clear-groups \
	    "$WALCTL" append x >/dev/null 2>&1 && fail "append was allowed"
	n=$((n + 1))
done
got=$("$WALCTL" stats | awk '$1 == "denied_total" { print $2 }')
expect_eq "denials counted" "$got" 40
logged=$(grep -c "append to tenant 0 not permitted" "$LOG")
[ "$logged" -le 10 ] || fail "$logged denials logged of 40"
[ "$logged" -ge 1 ] || fail "no denial logged"
# The count is told once the 10 s window ends, with no new denial.
i=0
while ! grep -qE "access denied: [0-9]+ similar lines suppressed" "$LOG"; do
	i=$((i + 1))
	[ $i -lt 150 ] || fail "no line about the suppressed denials in 15 s"
	sleep 0.1
done
sup=$(grep -oE "access denied: [0-9]+ similar" "$LOG" |
    awk '{ s += $3 } END { print s }')
expect_eq "logged + suppressed" $((logged + sup)) 40
stop_walld || fail "stop"
ok "a denial flood: $logged logged, $sup suppressed and said so"
