# SPDX-License-Identifier: Apache-2.0
# The log's start is durable (START in the data directory, moved by
# truncation): a deleted oldest segment is refused at start with a clear
# error, changing nothing, instead of silently becoming the new start; a
# truncated one is not; an interrupted truncation (START ahead of the
# first segment) keeps the segments and says so.
. "$(dirname "$0")/lib.sh"

seg() { printf '%s/%020d.wal' "$DATA" "$1"; }
refused() {	# WHAT: walld must refuse DATA, naming the missing LSNs
	before=$(cd "$DATA" && ls | grep -v '^LOCK$' | xargs md5sum)
	: >"$LOG"
	st=0
	timeout 20 "$WALLD" $ALLOW_ROOT --socket "$SOCK" --data-dir "$DATA" \
	    >>"$LOG" 2>&1 || st=$?
	expect_eq "$1: walld exit status" $st 1
	grep -q "error: .*$DATA: the log starts at LSN $2 (START) but its first segment is $(basename "$(seg "$3")") (LSN $3): the segments holding LSN $2 to $(($3 - 1)) are missing" "$LOG" ||
		fail "$1: not the refusal: $(cat "$LOG")"
	[ "$(cd "$DATA" && ls | grep -v '^LOCK$' | xargs md5sum)" = "$before" ] ||
		fail "$1: walld changed the directory"
}

start_walld
for i in 1 2 3; do "$WALCTL" append "a$i" >/dev/null || fail append; done
"$WALCTL" rotate >/dev/null || fail rotate
for i in 4 5 6; do "$WALCTL" append "b$i" >/dev/null || fail append; done
"$WALCTL" rotate >/dev/null || fail rotate
"$WALCTL" append "c7" >/dev/null || fail append
stop_walld || fail stop
expect_eq "START of a new log" "$(cat "$DATA/START")" "first_lsn 1"

mv "$(seg 1)" "$T/kept.wal" || fail mv
refused "oldest segment deleted" 1 4
mv "$T/kept.wal" "$(seg 1)" || fail mv
ok "a deleted oldest segment is refused, naming the LSNs, changing nothing"

start_walld
first=$("$WALCTL" truncate --before 4) || fail truncate
expect_eq "first LSN after truncate" "$first" 4
expect_eq "START after truncate" "$(cat "$DATA/START")" "first_lsn 4"
stop_walld || fail stop
start_walld
expect_eq "first_lsn after a restart" "$(stat_of first_lsn)" 4
stop_walld || fail stop
ok "truncation moves START: the truncated segment is not missed"

rm "$(seg 4)" || fail rm
refused "oldest segment deleted after truncation" 4 7
echo "first_lsn 7" >"$DATA/START"
start_walld
expect_eq "first_lsn once the loss is accepted" "$(stat_of first_lsn)" 7
stop_walld || fail stop
ok "writing the new first LSN into START accepts the loss"

# START ahead of the first segment: a truncation that stopped between
# moving START and removing the segment. The segment is whole: kept.
echo "first_lsn 8" >"$DATA/START"
start_walld
grep -q "warning: wal: $DATA/START says LSN 8 but $(basename "$(seg 7)") (LSN 7) is still there: a truncation was interrupted" "$LOG" ||
	fail "no warning about the interrupted truncation"
expect_eq "START put back" "$(cat "$DATA/START")" "first_lsn 7"
expect_eq "the record is still read" "$("$WALCTL" read --from 7 --to 7 | cut -d' ' -f1)" lsn=7
stop_walld || fail stop
ok "an interrupted truncation keeps the segments and puts START back"

echo "junk" >"$DATA/START"
st=0; timeout 20 "$WALLD" $ALLOW_ROOT --socket "$SOCK" --data-dir "$DATA" >"$T/out" 2>&1 || st=$?
expect_eq "a damaged START: exit" $st 1
grep -q "$DATA/START: not \"first_lsn N\"" "$T/out" || fail "damaged START: $(cat "$T/out")"
ok "a damaged START is refused"
