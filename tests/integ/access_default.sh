# SPDX-License-Identifier: Apache-2.0
# The default policy, with no access list: only root and walld's own uid
# may do anything; another uid may say hello and ping, and every other
# request is refused with not_permitted naming the operation, the tenant
# and the uid, counted in stats, with the connection left open.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "skip: needs root to run walctl as another uid"; exit 77; }
OTHER=4242
# Another uid must reach the socket: through $T, and by the socket's mode.
chmod 0711 "$T"
cat >"$T/walld.yaml" <<YAML
socket:
  mode: "0666"
YAML
start_walld --config "$T/walld.yaml"
grep -q "access: no access list: only root and uid $(id -u) (walld's own) may use walld" \
	"$LOG" || fail "no start-up line about the default policy"

# as_other CMD...: runs a command as uid/gid $OTHER with no other group.
as_other() {
	setpriv --reuid=$OTHER --regid=$OTHER --clear-groups "$@"
}

"$WALCTL" append --tenant 7 "by root" >/dev/null || fail "root append"
as_other "$WALCTL" ping >/dev/null || fail "ping as uid $OTHER"
ok "hello and ping are always allowed"

# denied WHAT MESSAGE CMD...: walctl fails with 77 and the message.
denied() {
	what=$1 msg=$2
	shift 2
	st=0
	as_other "$WALCTL" "$@" >/dev/null 2>"$T/err" || st=$?
	expect_eq "exit status of $what as uid $OTHER" "$st" 77
	grep -q -- "$msg" "$T/err" || fail "$what: no '$msg' in: $(cat "$T/err")"
}
denied append "append to tenant 7 not permitted for uid $OTHER" \
	append --tenant 7 x
denied "read of a tenant" "read of tenant 7 not permitted for uid $OTHER" \
	read --tenant 7
denied read "read not permitted for uid $OTHER" read
denied sync "sync not permitted for uid $OTHER" sync
denied seal "seal not permitted for uid $OTHER" seal
denied rotate "rotate not permitted for uid $OTHER" rotate
denied truncate "truncate not permitted for uid $OTHER" truncate --before 1
denied stats "stats not permitted for uid $OTHER" stats
ok "every other request of uid $OTHER is refused, naming operation and tenant"

# The connection stays open after a denial.
as_other "$B/tests/rawclient" -s "$SOCK" -t 3000 hello recv 1 append 7 x \
	recv 1 ping recv 1 >"$T/out" 2>&1
grep -q "error id=2 code=not_permitted msg=append to tenant 7 not permitted for uid $OTHER" \
	"$T/out" || fail "denied append: $(cat "$T/out")"
grep -q "ping-reply id=3" "$T/out" || fail "connection closed after a denial"
ok "a denied request leaves the connection open"

expect_eq "denied_total" "$(stat_of denied_total)" 9
expect_eq "denied_append_total" "$(stat_of denied_append_total)" 2
expect_eq "denied_read_total" "$(stat_of denied_read_total)" 2
for op in sync seal rotate truncate stats; do
	expect_eq "denied_${op}_total" "$(stat_of denied_${op}_total)" 1
done
expect_eq "denied_keys_total" "$(stat_of denied_keys_total)" 0
expect_eq "errors_not_permitted_total" "$(stat_of errors_not_permitted_total)" 9
expect_eq "records" "$("$WALCTL" read | wc -l)" 1
grep -q "append to tenant 7 not permitted" "$LOG" || fail "denial not logged"
ok "denials are counted (denied_total, per operation) and logged"

"$WALCTL" seal >/dev/null || fail "root seal"
ok "root may do anything"
stop_walld TERM || fail "walld did not stop cleanly"
