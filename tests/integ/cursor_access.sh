# SPDX-License-Identifier: Apache-2.0
# Access to cursors: a rule's cursor operation lets a user create, commit
# and drop the cursors its cursors: list names (exactly, or by a prefix
# and "*"), and no others; get and list need read; a user with neither is
# refused everything; read --cursor by a user who may read but not commit
# fails at its first commit, and the cursor stays where it was.
# The rule's syntax errors are configuration errors with their position.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "skip: needs root to run walctl as other uids"; exit 77; }
command -v setpriv >/dev/null || { echo "skip: no setpriv"; exit 77; }

ETL=4251	# cursor on etl-* and audit, read
READER=4252	# read only
WRITER=4253	# append only
chmod 0711 "$T"
cat >"$T/walld.yaml" <<YAML
socket:
  mode: "0666"
access:
  - user: $ETL
    ops: [read, cursor]
    tenants: any
    cursors: [etl-*, audit]
  - user: $READER
    ops: read
    tenants: any
  - user: $WRITER
    ops: append
    tenants: any
YAML
start_walld --config "$T/walld.yaml"
for i in 1 2 3 4; do "$WALCTL" append "r$i" >/dev/null || fail append; done

as() {	# as UID CMD...
	u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --clear-groups "$@"
}
allowed() {	# allowed WHAT UID ARGS...
	what=$1 a_uid=$2
	shift 2
	as "$a_uid" "$WALCTL" "$@" >"$T/got" 2>"$T/err" ||
		fail "$what: refused: $(cat "$T/err")"
}
denied() {	# denied WHAT MSG UID ARGS...
	what=$1 msg=$2 a_uid=$3
	shift 3
	st=0
	as "$a_uid" "$WALCTL" "$@" >/dev/null 2>"$T/err" || st=$?
	expect_eq "exit status of $what" "$st" 77
	grep -q -- "$msg" "$T/err" || fail "$what: no '$msg' in: $(cat "$T/err")"
}

allowed "create etl-a" $ETL cursor create etl-a
allowed "create etl-" $ETL cursor create etl-
allowed "create audit" $ETL cursor create audit 1
allowed "commit etl-a" $ETL cursor commit etl-a 3
allowed "drop etl-" $ETL cursor drop etl-
denied "create etl" "create of cursor etl not permitted for uid $ETL" $ETL cursor create etl
denied "create audit2" "create of cursor audit2 not permitted" $ETL cursor create audit2
denied "create xetl-a" "not permitted" $ETL cursor create xetl-a
"$WALCTL" cursor create ops 2 >/dev/null || fail "root: create ops"
denied "commit ops" "commit of cursor ops not permitted for uid $ETL" $ETL cursor commit ops 3
denied "drop ops" "drop of cursor ops not permitted" $ETL cursor drop ops
allowed "read --cursor etl-a" $ETL read --cursor etl-a
expect_eq "read --cursor etl-a" "$(cut -d' ' -f1 "$T/got")" "lsn=4"
expect_eq "etl-a committed" "$("$WALCTL" cursor get etl-a | cut -d' ' -f2)" 4
ok "cursor: only the names the rule lists, exactly or by prefix"

allowed "reader: get" $READER cursor get etl-a
expect_eq "reader: get" "$(cut -d' ' -f1,2 "$T/got")" "etl-a 4"
allowed "reader: cursors" $READER cursors
expect_eq "reader: cursors" "$(awk 'NR > 1 { print $1, $2, $3 }' "$T/got" | tr '\n' ';')" \
    "audit 1 -;etl-a 4 -;ops 2 -;"
denied "reader: create" "create of cursor r1 not permitted" $READER cursor create r1
denied "reader: commit" "commit of cursor ops not permitted" $READER cursor commit ops 4
denied "reader: read --cursor" "commit of cursor ops at LSN 4" $READER read --cursor ops
expect_eq "ops unchanged" "$("$WALCTL" cursor get ops | cut -d' ' -f2)" 2
ok "read permission: get and list, no changes"

denied "writer: get" "cursor-get not permitted for uid $WRITER" $WRITER cursor get ops
denied "writer: cursors" "cursor-list not permitted" $WRITER cursors
denied "writer: create" "not permitted" $WRITER cursor create w1
expect_eq "denied_cursor_total" "$(stat_of denied_cursor_total)" 9
ok "neither: everything refused"

# The syntax, checked at load.
check() {	# check WHAT MSG: $T/bad.yaml refused with MSG
	st=0
	"$WALLD" --check-config --config "$T/bad.yaml" >"$T/out" 2>&1 || st=$?
	[ $st -ne 0 ] || fail "$1: accepted"
	grep -q -- "$2" "$T/out" || fail "$1: no '$2' in: $(cat "$T/out")"
}
printf 'access:\n  - user: %s\n    ops: read\n    tenants: any\n    cursors: etl-*\n' $ETL >"$T/bad.yaml"
check "cursors without cursor" "lists cursors but does not grant cursor"
printf 'access:\n  - user: %s\n    ops: cursor\n    cursors: [ok, "-bad"]\n' $ETL >"$T/bad.yaml"
check "bad name" 'access\[0\].cursors: "-bad" is not a cursor name'
printf 'access:\n  - user: %s\n    ops: [cursor, flush]\n' $ETL >"$T/bad.yaml"
check "unknown op" "stats, cursor, any"
ok "cursors: syntax errors refused at load"
