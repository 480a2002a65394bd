# SPDX-License-Identifier: Apache-2.0
# walctl read --since/--until (the records' times, FORMAT.md section 4a):
# through walld and with --dir alike; every record has a time that never
# goes back; a follow read with --until ends once nothing can match; a bad
# time is a usage error.
. "$(dirname "$0")/lib.sh"

start_walld
"$WALCTL" append old1 >/dev/null && "$WALCTL" append old2 >/dev/null ||
	fail append
sleep 2
mid=$(date +%s)
sleep 2
"$WALCTL" append new1 >/dev/null || fail append
for src in "" "--dir $DATA"; do
	expect_eq "read $src --since $mid" \
	    "$("$WALCTL" read $src --since "$mid" | sed 's/.*data=//')" '"new1"'
	expect_eq "read $src --until $mid" \
	    "$("$WALCTL" read $src --until "$mid" | sed 's/.*data=//' | tr '\n' ' ')" \
	    '"old1" "old2" '
	# A relative time that names $mid (within a second) however long
	# the reads before took: the records are 2 s either side of it.
	ago=$(( $(date +%s) - mid ))
	expect_eq "read $src --since -1h --until -${ago}s" \
	    "$("$WALCTL" read $src --since -1h --until "-${ago}s" | wc -l)" 2
	expect_eq "read $src --since a UTC date in 2099" \
	    "$("$WALCTL" read $src --since 2099-01-01T00:00:00Z | wc -l)" 0
done

# --follow --until: ends (exit 0) once nothing later can match. A record
# after the time ends it at once, through walld and with --dir alike.
for src in "" "--dir $DATA"; do
	st=0
	timeout 20 "$WALCTL" read $src --follow --until "$mid" >"$T/fu" ||
		st=$?
	expect_eq "read $src --follow --until (a later record): exit" $st 0
	expect_eq "read $src --follow --until (a later record)" \
	    "$(sed 's/.*data=//' "$T/fu" | tr '\n' ' ')" '"old1" "old2" '
done
# With the time still ahead and nothing after it: the read follows
# (a record appended meanwhile comes), then ends by itself once the time
# has passed. walld's own read ends on the clock, not on a record.
u=$(( $(date +%s) + 4 ))
timeout 30 "$WALCTL" read --follow --since "$mid" --until "$u" >"$T/fu" &
rpid=$!
EXTRA_PIDS="$EXTRA_PIDS $rpid"
"$WALCTL" append during >/dev/null || fail append
sleep 1
kill -0 $rpid 2>/dev/null || fail "read --follow --until ended before its time"
st=0
wait $rpid || st=$?
expect_eq "read --follow --until (time passed): exit" $st 0
[ "$(date +%s)" -ge "$u" ] || fail "read --follow --until ended before $u"
expect_eq "read --follow --until (time passed)" \
    "$(sed 's/.*data=//' "$T/fu" | tr '\n' ' ')" '"new1" "during" '
ok "read --follow --until: ends (exit 0) at a later record, or once its time has passed"

st=0
"$WALCTL" read --since yesterday 2>"$T/err" || st=$?
expect_eq "a bad time" $st 64
grep -q "walctl: read: --since: invalid time: yesterday" "$T/err" || fail "$(cat "$T/err")"
ok "read --since/--until: the same through walld and --dir; bad times refused"
