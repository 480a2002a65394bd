# SPDX-License-Identifier: Apache-2.0
# A failing fdatasync: no record of that batch is acknowledged, clients are
# told the outcome is unknown, walld exits 74, and after a restart every
# record acknowledged before the failure is in the log.
. "$(dirname "$0")/lib.sh"

# The shim must come after the sanitizer runtime; tell ASan not to mind.
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0
LD_PRELOAD=$B/tests/libfailsync.so WALD_FAIL_SYNC_AFTER=40 start_walld

acked=0
st=0
i=0
while [ $i -lt 100 ]; do
	if lsn=$("$WALCTL" append "record $i" 2>"$T/err"); then
		echo "$lsn record $i" >>"$T/acked"
		acked=$((acked + 1))
	else
		st=$?
		break
	fi
	i=$((i + 1))
done
[ $acked -gt 0 ] || fail "nothing acknowledged before the failure"
# walld answers the waiting append before it exits: "I/O failure in
# walld, outcome unknown" is walctl's exit 74 (75 would mean the reply
# never came).
expect_eq "walctl exit status on the failed sync" "$st" 74
grep -q "unknown" "$T/err" || fail "error does not say outcome unknown: $(cat "$T/err")"
st=0
wait_walld || st=$?
expect_eq "walld exit status" "$st" 74
grep -q "fdatasync" "$LOG" || fail "log does not name the failed call"

start_walld
while read -r lsn word n; do
	got=$("$WALCTL" read --from "$lsn" --to "$lsn")
	echo "$got" | grep -q "record $n" || fail "acknowledged LSN $lsn lost: '$got'"
done <"$T/acked"
ok "fsync failure: $acked acknowledged records intact, exit 74"
