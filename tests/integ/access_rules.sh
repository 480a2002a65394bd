# SPDX-License-Identifier: Apache-2.0
# An access list: users (by name and by uid) and groups (primary and
# supplementary) get operations on tenant lists and ranges; everything
# else is refused; reads return only the tenants the caller may read;
# administrative operations need their own permission; SIGHUP applies a
# new list to later requests and keeps the old one when the new file is
# bad; an unknown user is a configuration error with its position.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "skip: needs root to run walctl as other uids"; exit 77; }
command -v useradd >/dev/null && command -v groupadd >/dev/null ||
	{ echo "skip: no useradd/groupadd"; exit 77; }

# A throwaway user and a throwaway group, removed on exit.
U=walldt$$
G=walldg$$
useradd --no-create-home --user-group --shell /bin/false "$U" ||
	fail "useradd $U"
groupadd "$G" || { userdel "$U"; fail "groupadd $G"; }
access_cleanup() {
	userdel "$U" 2>/dev/null
	groupdel "$U" 2>/dev/null
	groupdel "$G" 2>/dev/null
	cleanup
}
trap access_cleanup EXIT
UID_U=$(id -u "$U")
GID_U=$(id -g "$U")
GID_G=$(getent group "$G" | cut -d: -f3)
STATS_UID=4243
APPEND_UID=4244
GROUPIE=4245

chmod 0711 "$T"
write_config() {	# the rules for $U, then the fixed ones
	cat >"$T/walld.yaml" <<YAML
socket:
  mode: "0666"
access:
  - user: $U
    ops: [$1]
    tenants: [1, 5, 10-20]
  - user: $STATS_UID
    ops: stats
  - group: $G
    ops: [read, rotate]
    tenants: any
  - user: $APPEND_UID
    ops: append
    tenants: any
YAML
}
write_config "append, read, sync"
start_walld --config "$T/walld.yaml"
grep -q "access: 4 rules in force" "$LOG" || fail "no start-up line about the list"

# as UID GID [GROUPS] CMD...: runs CMD with those credentials.
as() {
	uid=$1 gid=$2 groups=$3
	shift 3
	if [ -n "$groups" ]; then
		setpriv --reuid="$uid" --regid="$gid" --groups="$groups" "$@"
	else
		setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@"
	fi
}
# allowed WHAT UID GID GROUPS ARGS... / denied WHAT MSG UID GID GROUPS ARGS...
allowed() {
	what=$1 a_uid=$2 a_gid=$3 a_groups=$4
	shift 4
	as "$a_uid" "$a_gid" "$a_groups" "$WALCTL" "$@" >"$T/got" 2>"$T/err" ||
		fail "$what: refused: $(cat "$T/err")"
}
denied() {
	what=$1 msg=$2 a_uid=$3 a_gid=$4 a_groups=$5
	shift 5
	st=0
	as "$a_uid" "$a_gid" "$a_groups" "$WALCTL" "$@" >/dev/null 2>"$T/err" ||
		st=$?
	expect_eq "exit status of $what" "$st" 77
	grep -q -- "$msg" "$T/err" || fail "$what: no '$msg' in: $(cat "$T/err")"
}

# Records of several tenants, by root.
for t in 1 2 5 10 15 20 21 30; do
	"$WALCTL" append --tenant $t "root's record for tenant $t" >/dev/null ||
		fail "root append to $t"
done

# The user by name: append and read on 1, 5, 10-20; sync.
for t in 1 5 10 17 20; do
	allowed "append to tenant $t" "$UID_U" "$GID_U" "" append --tenant $t "u $t"
done
for t in 0 2 9 21 4294967295; do
	denied "append to tenant $t" \
		"append to tenant $t not permitted for uid $UID_U" \
		"$UID_U" "$GID_U" "" append --tenant $t x
done
allowed "sync" "$UID_U" "$GID_U" "" sync
ok "user by name: append on its tenants and ranges only"

allowed "read" "$UID_U" "$GID_U" "" read --json
tenants=$(sed 's/.*"tenant":\([0-9]*\).*/\1/' "$T/got" | sort -n -u | tr '\n' ' ')
expect_eq "tenants a filtered read returns" "$tenants" "1 5 10 15 17 20 "
expect_eq "records a filtered read returns" "$(wc -l <"$T/got")" 10
allowed "read of tenant 15" "$UID_U" "$GID_U" "" read --tenant 15
expect_eq "records of tenant 15" "$(wc -l <"$T/got")" 1
denied "read of tenant 2" "read of tenant 2 not permitted for uid $UID_U" \
	"$UID_U" "$GID_U" "" read --tenant 2
ok "reads return only the tenants the user may read; a forbidden filter is refused"

# A follow read is filtered too, record by record as they come.
next=$(stat_of next_lsn)
as "$UID_U" "$GID_U" "" "$WALCTL" read --follow --json --from "$next" \
	>"$T/follow" 2>&1 &
fpid=$!
sleep 0.3
for t in 2 15 30 5; do
	"$WALCTL" append --tenant $t "followed $t" >/dev/null || fail "append $t"
done
i=0
while ! grep -q '"tenant":5' "$T/follow"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "follow: $(cat "$T/follow")"
	sleep 0.05
done
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
tenants=$(sed 's/.*"tenant":\([0-9]*\).*/\1/' "$T/follow" | tr '\n' ' ')
expect_eq "tenants a filtered follow read returns" "$tenants" "15 5 "
ok "a follow read returns only the tenants the user may read"

# Administrative operations are never implied by append or read.
for op in seal rotate stats; do
	denied "$op by $U" "$op not permitted for uid $UID_U" \
		"$UID_U" "$GID_U" "" $op
done
denied "truncate by $U" "truncate not permitted for uid $UID_U" \
	"$UID_U" "$GID_U" "" truncate --before 1
ok "seal, rotate, truncate, stats need their own permission"

# A user by uid with stats only.
allowed "stats by uid $STATS_UID" $STATS_UID $STATS_UID "" stats
denied "append by uid $STATS_UID" "append to tenant 1 not permitted" \
	$STATS_UID $STATS_UID "" append --tenant 1 x
denied "read by uid $STATS_UID" "read not permitted for uid $STATS_UID" \
	$STATS_UID $STATS_UID "" read
# append on any tenant, and nothing else (not even sync).
allowed "append by uid $APPEND_UID" $APPEND_UID $APPEND_UID "" \
	append --tenant 4000000000 x
denied "sync by uid $APPEND_UID" "sync not permitted" \
	$APPEND_UID $APPEND_UID "" sync
ok "users by uid: stats only; append on any tenant only"

# A group, as a supplementary group and as the primary group: read any
# tenant and rotate; nothing else. Without it: nothing.
allowed "read through a supplementary group" $GROUPIE $GROUPIE "$GID_G" read
expect_eq "records read through the group" "$(wc -l <"$T/got")" 18
allowed "rotate through a supplementary group" $GROUPIE $GROUPIE "$GID_G" rotate
allowed "read through the primary group" $GROUPIE "$GID_G" "" read --tenant 2
denied "append through the group" "append to tenant 1 not permitted" \
	$GROUPIE $GROUPIE "$GID_G" append --tenant 1 x
denied "read without the group" "read not permitted for uid $GROUPIE" \
	$GROUPIE $GROUPIE "" read
ok "group rules: supplementary and primary groups"

expect_eq "denied_total" "$(stat_of denied_total)" 15
expect_eq "denied_seal_total" "$(stat_of denied_seal_total)" 1
expect_eq "denied_append_total" "$(stat_of denied_append_total)" 7

# A read that skips many records (10,000 of a tenant it may not read)
# yields to other clients now and then, and still returns the right ones.
allowed "read before" "$UID_U" "$GID_U" "" read
n0=$(wc -l <"$T/got")
"$B/tests/rawclient" -s "$SOCK" -t 10000 hello appends 10000 2 10 \
	append 1 after recv 10002 >/dev/null || fail "rawclient appends"
allowed "read past 10,000 forbidden records" "$UID_U" "$GID_U" "" read
expect_eq "records read past the forbidden ones" "$(wc -l <"$T/got")" \
	$((n0 + 1))
ok "a read past 10,000 records it may not see returns the right ones"

# Reload: the user loses append and gains stats; later requests see it.
write_config "read, stats"
kill -HUP "$WALLD_PID"
i=0
while [ "$(grep -c "access: 4 rules in force" "$LOG")" -lt 2 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "no reload line"
	sleep 0.05
done
denied "append after the reload" "append to tenant 1 not permitted" \
	"$UID_U" "$GID_U" "" append --tenant 1 x
allowed "stats after the reload" "$UID_U" "$GID_U" "" stats
ok "SIGHUP applies the new list to later requests"

# A bad list (an unknown user) is refused at load, with its position, and
# a reload with it keeps the running list.
cat >"$T/bad.yaml" <<YAML
access:
  - user: $U
    ops: any
    tenants: any
  - user: no-such-user-$$
    ops: any
    tenants: any
YAML
st=0
out=$("$WALLD" --check-config --config "$T/bad.yaml" 2>&1) || st=$?
expect_eq "exit status of an unknown user" "$st" 78
echo "$out" | grep -q "bad.yaml:5:11: access\[1\].user: no such user: no-such-user-$$" ||
	fail "unknown user: '$out'"
cp "$T/bad.yaml" "$T/walld.yaml"
kill -HUP "$WALLD_PID"
i=0
while ! grep -q "keeping the running configuration" "$LOG"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "bad reload not reported"
	sleep 0.05
done
allowed "stats after a bad reload" "$UID_U" "$GID_U" "" stats
denied "append after a bad reload" "append to tenant 1 not permitted" \
	"$UID_U" "$GID_U" "" append --tenant 1 x
ok "an unknown user: file:line:column, exit 78; a bad reload keeps the list"

stop_walld TERM || fail "walld did not stop cleanly"
