# SPDX-License-Identifier: Apache-2.0
# An append's LSN is readable after a restart; seal refuses appends, also
# after a restart; a second seal is harmless.
. "$(dirname "$0")/lib.sh"

start_walld
a=$("$WALCTL" append --tenant 3 "first") || fail "append 1"
b=$("$WALCTL" append --tenant 4 "second") || fail "append 2"
expect_eq "LSNs" "$a $b" "1 2"
stop_walld TERM || fail "stop"

start_walld
got=$("$WALCTL" read --from 2 --json) || fail "read after restart"
want='{"lsn":"2","type":0,"tenant":4,"vshard":0,"payload":"c2Vjb25k"}'
expect_eq "record 2 after restart" "$got" "$want"

last=$("$WALCTL" seal) || fail "seal"
expect_eq "seal's last LSN" "$last" 2
if out=$("$WALCTL" append "late" 2>&1); then
	fail "append after seal succeeded: $out"
fi
echo "$out" | grep -q sealed || fail "append after seal: '$out' lacks 'sealed'"
last=$("$WALCTL" seal) || fail "second seal"
expect_eq "second seal" "$last" 2
stop_walld TERM || fail "stop"

start_walld
if out=$("$WALCTL" append "later" 2>&1); then
	fail "append after seal and restart succeeded: $out"
fi
echo "$out" | grep -q sealed || fail "after restart: '$out' lacks 'sealed'"
expect_eq "state" "$(stat_of state)" sealed
n=$("$WALCTL" read | wc -l)
expect_eq "records readable when sealed" "$n" 2
ok "seal holds across restarts; reads go on"
