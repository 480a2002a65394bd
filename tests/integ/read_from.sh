# SPDX-License-Identifier: Apache-2.0
# READ `from` (proto/PROTOCOL.md, READ): 0 is the log's first LSN,
# whatever it is; any other LSN below it (1 included, once the log is
# truncated) is RANGE. walctl read gives the same exit code for the same
# condition through walld and with --dir: 66 (EX_NOINPUT) for an LSN not
# in the log.
. "$(dirname "$0")/lib.sh"
start_walld

for i in 1 2 3; do "$WALCTL" append "r$i" >/dev/null || fail append; done
"$WALCTL" rotate >/dev/null || fail rotate
for i in 4 5 6; do "$WALCTL" append "r$i" >/dev/null || fail append; done
"$WALCTL" rotate >/dev/null || fail rotate
"$WALCTL" append "r7" >/dev/null || fail append
expect_eq "--from 1 before truncation" "$("$WALCTL" read --from 1 | head -n 1 | cut -d' ' -f1)" lsn=1
expect_eq "--from 0 before truncation" "$("$WALCTL" read --from 0 | head -n 1 | cut -d' ' -f1)" lsn=1
first=$("$WALCTL" truncate --before 4) || fail truncate
expect_eq "first LSN after truncation" "$first" 4

# online and offline, each `from`: its exit code, and the first LSN read
check() {	# FROM WANT_EXIT WANT_FIRST
	for how in walld dir; do
		st=0
		if [ $how = dir ]; then
			"$WALCTL" read --dir "$DATA" --from "$1" >"$T/out" 2>"$T/err" || st=$?
		else
			"$WALCTL" read --from "$1" >"$T/out" 2>"$T/err" || st=$?
		fi
		expect_eq "--from $1 ($how): exit" $st "$2"
		if [ "$2" = 0 ]; then
			expect_eq "--from $1 ($how): first record" \
			    "$(head -n 1 "$T/out" | cut -d' ' -f1)" "lsn=$3"
		else
			grep -q "LSN $1 is below the log's first LSN 4" "$T/err" ||
				fail "--from $1 ($how): $(cat "$T/err")"
		fi
	done
}
check 0 0 4
check 1 66
check 3 66
check 4 0 4
check 6 0 6
ok "from 0: the first LSN; from 1 or 3 below it: exit 66 through walld and with --dir"
expect_eq "errors_range_total" "$(stat_of errors_range_total)" 2
expect_eq "errors_damaged_total" "$(stat_of errors_damaged_total)" 0
ok "below the first LSN is counted as range, not damaged"
