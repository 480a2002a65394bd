# SPDX-License-Identifier: Apache-2.0
# Corrupt and missing files (tests/fixtures/damage.sh): a flipped bit in
# a sealed segment, in the middle of the active segment, in its last
# record, in a segment header and in a footer; a truncated sealed segment;
# a deleted middle segment; stray files; a zero-length last segment; a
# cut active segment. For each, what docs/FORMAT.md says happens when
# walld starts (refuse naming file, offset and LSN, changing nothing; cut
# a torn tail; start and report the damage when it is read; ignore a
# stray file with a warning), and `walctl verify --dir` reports the same
# finding: the same file and offset.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fixtures/damage.sh"

cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
YAML
fixture_base "$T/base" "$T/base.sock" || fail "cannot build the good directory"
"$WALCTL" verify --dir "$T/base" >"$T/verify" 2>&1 ||
	{ cat "$T/verify"; fail "the good directory does not verify"; }

# The files' checksums, LOCK aside (walld writes its pid there first).
sums() {
	(cd "$DATA" && ls | grep -v '^LOCK$' | xargs md5sum)
}

# verify_finds WHAT FILE OFFSET [note]: walctl verify reports FILE at
# OFFSET, as a problem (exit 65) or, with "note", as a note (exit 0).
verify_finds() {
	st=0
	"$WALCTL" verify --dir "$DATA" >"$T/verify" 2>&1 || st=$?
	if [ "${4:-}" = note ]; then
		expect_eq "$1: walctl verify exit status" $st 0
		pat="^note: $DATA/$2: offset $3: "
	else
		expect_eq "$1: walctl verify exit status" $st 65
		pat="^$DATA/$2: offset $3: "
	fi
	grep -q "$pat" "$T/verify" ||
		{ cat "$T/verify"; fail "$1: walctl verify does not report $2 at offset $3"; }
	echo "$1: verify: $(grep -m 1 "$pat" "$T/verify" | sed "s|$DATA/||" |
	    cut -c 1-160)"
}

n=0
for c in $FIXTURES; do
	n=$((n + 1))
	want=$(fixture_damage "$c" "$T/base" "$DATA") || fail "$c: fixture"
	[ -n "$want" ] || fail "$c: the fixture says nothing"
	set -- $want
	what=$1 file=$2 off=${3:-} lsn=${4:-}
	: >"$LOG"
	case $what in
	refuse)
		before=$(sums)
		st=0
		timeout 20 "$WALLD" $ALLOW_ROOT --config "$T/walld.yaml" --socket "$SOCK" \
		    --data-dir "$DATA" >>"$LOG" 2>&1 || st=$?
		expect_eq "$c: walld exit status" $st 1
		grep -q "error: $DATA/$file: offset $off: LSN [0-9]*: " "$LOG" ||
			fail "$c: walld does not name $file at offset $off"
		[ "$(sums)" = "$before" ] || fail "$c: walld changed the directory"
		echo "$c: walld: $(grep -m 1 "error: $DATA/$file" "$LOG" |
		    sed "s|.*error: $DATA/||" | cut -c 1-160)"
		verify_finds "$c" "$file" "$off"
		;;
	cut)
		verify_finds "$c" "$file" "$off" note
		start_walld --config "$T/walld.yaml"
		grep -q "$DATA/$file: torn tail cut at offset $off, first lost LSN $lsn" \
		    "$LOG" || fail "$c: walld does not tell the cut at $file offset $off"
		got=$("$WALCTL" append "after the cut") || fail "$c: append"
		expect_eq "$c: the LSN after the cut" "$got" "$lsn"
		stop_walld TERM || fail "$c: stop"
		"$WALCTL" verify --dir "$DATA" >"$T/verify" 2>&1 ||
			{ cat "$T/verify"; fail "$c: verify after the cut"; }
		echo "$c: walld: $(grep -m 1 "torn tail cut" "$LOG" | sed "s|.*$DATA/||")"
		;;
	read)
		verify_finds "$c" "$file" "$off"
		start_walld --config "$T/walld.yaml"
		st=0
		"$WALCTL" read --from "$lsn" --to "$lsn" >/dev/null 2>"$T/err" || st=$?
		rst=$st
		[ $st -ne 0 ] || fail "$c: reading the damaged LSN $lsn succeeded"
		grep -q "$file: offset $off: LSN $lsn: " "$T/err" ||
			fail "$c: reading LSN $lsn does not name $file at offset $off: $(cat "$T/err")"
		"$WALCTL" read --from $((lsn + 1)) --to $((lsn + 1)) >/dev/null ||
			fail "$c: the next record cannot be read"
		got=$("$WALCTL" append "after the damage") || fail "$c: append"
		expect_eq "$c: the next LSN" "$got" 21
		stop_walld TERM || fail "$c: stop"
		echo "$c: read (exit $rst): $(sed "s|.*$DATA/||" "$T/err" | cut -c 1-160)"
		;;
	ignore)
		"$WALCTL" verify --dir "$DATA" >"$T/verify" 2>&1 ||
			{ cat "$T/verify"; fail "$c: verify"; }
		grep -q "^note: $DATA/$file: not a segment file" "$T/verify" ||
			{ cat "$T/verify"; fail "$c: verify does not note $file"; }
		start_walld --config "$T/walld.yaml"
		grep -q "warning: .*$DATA/$file: not a segment file: ignored" "$LOG" ||
			fail "$c: walld does not warn about $file"
		got=$("$WALCTL" append "after the stray file") || fail "$c: append"
		expect_eq "$c: the next LSN" "$got" 21
		stop_walld TERM || fail "$c: stop"
		echo "$c: walld and verify: $file ignored, with a warning"
		;;
	esac
	rm -rf "$DATA"
done
ok "$n damaged directories: walld and walctl verify agree with docs/FORMAT.md"
