# SPDX-License-Identifier: Apache-2.0
# walctl read --since/--until (the records' times, FORMAT.md section 4a):
# through walld and with --dir alike; every record has a time that never
# goes back; a bad time is a usage error.
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
st=0
"$WALCTL" read --since yesterday 2>"$T/err" || st=$?
expect_eq "a bad time" $st 64
grep -q "walctl: read: --since: invalid time: yesterday" "$T/err" || fail "$(cat "$T/err")"
ok "read --since/--until: the same through walld and --dir; bad times refused"
