# SPDX-License-Identifier: Apache-2.0
# libwal from C++: tests/cxx/libwal_cxx.cc, built by `make all` with the
# C++ compiler against client/libwal.h (whose extern "C" guards make it
# link), runs against a walld on a private socket: blocking, nowait and
# pipelined appends, sync, acknowledgement levels, read back with cursors.
# Then walctl, a C client, reads what the C++ program wrote, and the C++
# example of README.md is built with ${CXX:-c++} and run.
. "$(dirname "$0")/lib.sh"

BIN=$B/tests/libwal_cxx
[ -x "$BIN" ] || fail "no $BIN: make all builds it (needs a C++ compiler)"

start_walld
st=0
timeout 60 "$BIN" "$SOCK" >"$T/out" 2>&1 || st=$?
cat "$T/out"
[ $st = 0 ] || fail "libwal_cxx: exit status $st"
last=$(sed -n 's/^last LSN \([0-9]*\)$/\1/p' "$T/out")
[ -n "$last" ] || fail "libwal_cxx printed no last LSN"
expect_eq "durable LSN after the C++ program" "$(stat_of durable_lsn)" "$last"
expect_eq "walctl's read of the first record" \
	"$("$WALCTL" read --from 1 --to 1)" \
	'lsn=1 type=1 tenant=42 vshard=3 len=14 data="hello from C++"'
ok "a C++ program appends and reads through libwal"

# README.md's example, as a user builds it from the build tree.
awk '/^## C\+\+$/ { s = 1 } s && /^```cpp$/ { c = 1; next }
	c && /^```$/ { exit } c' "$TOP/README.md" >"$T/app.cc"
[ -s "$T/app.cc" ] || fail "no C++ example in README.md"
san=
case $B in *-san) san="-fsanitize=address,undefined" ;; esac
"${CXX:-c++}" -std=c++17 -Wall -Wextra -Werror -I"$TOP/client" $san \
	-o "$T/app" "$T/app.cc" "$B/libwal.a" >"$T/cxx.log" 2>&1 || {
	cat "$T/cxx.log" >&2
	fail "README.md's C++ example does not build"
}
expect_eq "README.md's C++ example" "$("$T/app")" \
	"durable at LSN $((last + 1))"
ok "README.md's C++ example builds and appends"

stop_walld TERM || fail "walld did not stop cleanly"
