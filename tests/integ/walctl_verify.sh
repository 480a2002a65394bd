# SPDX-License-Identifier: Apache-2.0
# walctl verify --dir lists every problem: two damaged records in one
# sealed segment are two problems, and a damaged record header does not
# hide the records after it; the same directory gives the same report
# every time; with --keyring a record that fails authentication is never
# followed by "every record authenticated"; and a missing or empty
# directory (a failed mount) fails with exit 66 and its cause on stderr.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fixtures/damage.sh"

fixture_base "$T/base" "$T/base.sock" || fail "cannot build the good directory"
seg=$(fixture_seg 6)

# Two records of one sealed segment, their payloads flipped.
rm -rf "$DATA" && cp -a "$T/base" "$DATA" || fail copy
r7=$(fixture_flip_record "$DATA" 7) || fail "flip 7"
r8=$(fixture_flip_record "$DATA" 8) || fail "flip 8"
st=0
"$WALCTL" verify --dir "$DATA" >"$T/v1" 2>"$T/e1" || st=$?
expect_eq "verify: exit" $st 65
for r in "$r7 7" "$r8 8"; do
	set -- $r
	grep -qx "$DATA/$1: offset $2: LSN $3: record checksum mismatch" "$T/v1" ||
		{ cat "$T/v1"; fail "LSN $3 at $1 offset $2 not reported"; }
done
grep -qx "$DATA: 2 damaged records" "$T/v1" || { cat "$T/v1"; fail "damaged count"; }
grep -qx "$DATA: 4 segments, 18 records, LSN 1..20, active, 2 problems" "$T/v1" ||
	{ cat "$T/v1"; fail "summary"; }
grep -qx "walctl: verify: $DATA: 2 problems found" "$T/e1" || fail "stderr: $(cat "$T/e1")"
"$WALCTL" verify --dir "$DATA" >"$T/v2" 2>&1 || :
"$WALCTL" verify --dir "$DATA" >"$T/v3" 2>&1 || :
cmp -s "$T/v2" "$T/v3" && grep -v '^walctl:' "$T/v2" | cmp -s - "$T/v1" ||
	fail "two runs differ: $(diff "$T/v1" "$T/v3")"
ok "two damaged records in one sealed segment: two problems, the same every run"

# A damaged record header (its version byte): the walk resyncs on the
# next record, which is counted.
rm -rf "$DATA" && cp -a "$T/base" "$DATA" || fail copy
h7=$("$B/tests/walfix" where "$DATA" 7) || fail "where 7"
set -- $(fixture_flip_record "$DATA" 9)
"$B/tests/walfix" flip "$DATA/$1" $(($(echo "$h7" | cut -d' ' -f2) + 4)) ||
	fail flip
st=0; "$WALCTL" verify --dir "$DATA" >"$T/v" 2>/dev/null || st=$?
expect_eq "verify, a damaged header: exit" $st 65
grep -qx "$DATA/$1: offset $2: LSN 9: record checksum mismatch" "$T/v" ||
	{ cat "$T/v"; fail "the record after a damaged header is not checked"; }
grep -qx "$DATA: 4 segments, 18 records, LSN 1..20, active, 2 problems" "$T/v" ||
	{ cat "$T/v"; fail "summary after a damaged header"; }
ok "a damaged record header: the records after it are still checked"

# Missing and empty directories: exit 66, the cause on stderr.
for d in "$T/missing" "$T/empty"; do
	mkdir -p "$T/empty"
	st=0; "$WALCTL" verify --dir "$d" >"$T/out" 2>"$T/err" || st=$?
	expect_eq "verify $d: exit" $st 66
	[ -s "$T/out" ] && fail "verify $d: on stdout: $(cat "$T/out")"
	case $d in
	*missing) want="walctl: verify: $d: No such file or directory" ;;
	*) want="walctl: verify: $d: no segment file: not a walld data directory, or not mounted" ;;
	esac
	expect_eq "verify $d: stderr" "$(cat "$T/err")" "$want"
done
ok "verify --dir on a missing or empty directory: 66 and why, on stderr"

# --keyring: a record altered and its CRC set again fails only
# authentication; the note must not say every record was authenticated.
KR=$T/keyring
(umask 077; "$WALCTL" keygen --id 1 >"$KR") || fail keygen
printf 'encryption:\n  keyring: %s\n' "$KR" >"$T/walld.yaml"
rm -rf "$DATA"
start_walld --config "$T/walld.yaml"
for i in 1 2 3 4 5; do "$WALCTL" append "secret $i" >/dev/null || fail append; done
stop_walld || fail stop
set -- $("$B/tests/walfix" where "$DATA" 3)
"$B/tests/walfix" flip "$DATA/$1" $(($2 + 40 + 2)) &&
    "$B/tests/walfix" refix "$DATA/$1" "$2" || fail "alter LSN 3"
"$WALCTL" verify --dir "$DATA" >/dev/null 2>&1 ||
	fail "the altered record does not pass its CRC: the test is broken"
st=0; "$WALCTL" verify --dir "$DATA" --keyring "$KR" >"$T/v" 2>/dev/null || st=$?
expect_eq "verify --keyring: exit" $st 65
grep -qx "$DATA/$1: offset $2: LSN 3: record fails authentication (altered, moved from elsewhere, or not written under this key)" "$T/v" ||
	{ cat "$T/v"; fail "no authentication failure"; }
grep -qx "note: $DATA: 1 encrypted segments: 0 with every record authenticated, 1 with records that fail authentication, 0 not checked" "$T/v" ||
	{ cat "$T/v"; fail "the authentication note"; }
ok "verify --keyring: an authentication failure is not called every record authenticated"
