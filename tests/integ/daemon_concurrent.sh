# SPDX-License-Identifier: Apache-2.0
# Several client processes append at once, pipelined: every one gets
# increasing LSNs, together they are dense (1..N), every acknowledged
# record is in the log intact after a restart, and new appends continue
# above them.
. "$(dirname "$0")/lib.sh"

start_walld
"$B/tests/walload" run -s "$SOCK" -o "$T/ack" -P 6 -n 1500 -d 16 ||
	fail "walload run"
stop_walld TERM || fail "walld did not stop cleanly"
"$B/tests/walload" check -D "$DATA" -x "$T"/ack.* || fail "log check"
ok "6 x 1500 pipelined appends: dense, increasing, intact"

start_walld
lsn=$(echo hello | "$WALCTL" append) || fail "append after restart"
expect_eq "first LSN after restart" "$lsn" 9001
ok "appends continue above every earlier LSN"
