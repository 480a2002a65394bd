# SPDX-License-Identifier: Apache-2.0
# systemd_syscalls: every system call walld makes is one walld.service
# allows (SystemCallFilter=@system-service, less ~@privileged @resources;
# a refused call would fail with EPERM), and every socket it creates is
# AF_UNIX (RestrictAddressFamilies=AF_UNIX). walld runs under strace -f
# through start-up, appends, reads, stats, rotation, a reload, a seal and
# SIGTERM.
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || fail "strace not found: run tools/deps.sh (package strace)"
command -v systemd-analyze >/dev/null ||
    fail "systemd-analyze not found: run tools/deps.sh (package systemd)"
unit=$TOP/systemd/walld.service

# The filter as the unit states it.
allow=$(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$unit")
deny=$(sed -n 's/^SystemCallFilter=~\(.*\)/\1/p' "$unit")
expect_eq "allowed groups" "$allow" "@system-service"
# expand SET...: the system calls of each group or name, one a line.
expand() {
	for g in "$@"; do
		case $g in
		@*)	systemd-analyze syscall-filter --no-pager "$g" 2>/dev/null |
			    sed -n 's/^    \([^#].*\)/\1/p' | while read -r n; do
				expand "$n"
			done ;;
		*)	echo "$g" ;;
		esac
	done
}
expand $allow | sort -u >"$T/allow"
expand $deny | sort -u >"$T/deny"
comm -23 "$T/allow" "$T/deny" >"$T/allowed"
[ "$(wc -l <"$T/allowed")" -gt 100 ] || fail "could not expand the filter"
for s in setuid chown setrlimit sched_setaffinity; do
	! grep -qx "$s" "$T/allowed" || fail "$s allowed: the deny list was not applied"
done
for s in fdatasync pwrite64 accept4 epoll_wait; do
	grep -qx "$s" "$T/allowed" || fail "$s not allowed by the unit's filter"
done

printf 'logging:\n  level: info\n' >"$T/walld.yaml"
# A SANITIZE=1 walld: LeakSanitizer cannot run under ptrace.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    strace -f -qq -o "$T/trace" "$WALLD" $ALLOW_ROOT --socket "$SOCK" --data-dir "$DATA" \
    --config "$T/walld.yaml" >>"$LOG" 2>&1 &
WALLD_PID=$!
i=0
while ! "$WALCTL" ping >/dev/null 2>&1; do
	kill -0 "$WALLD_PID" 2>/dev/null || fail "walld under strace exited"
	i=$((i + 1))
	[ $i -lt 400 ] || fail "walld under strace did not answer within 20 s"
	sleep 0.05
done
seq 1 200 | "$WALCTL" append --lines >/dev/null || fail "append"
"$WALCTL" rotate >/dev/null || fail "rotate"
"$WALCTL" append "after rotate" >/dev/null || fail "append"
"$WALCTL" read >/dev/null || fail "read"
"$WALCTL" stats >/dev/null || fail "stats"
# The strace process is $WALLD_PID; walld is its child.
wpid=$(awk 'NR == 1 { print $1 }' "$T/trace")
kill -HUP "$wpid"
sleep 0.3
"$WALCTL" sync >/dev/null || fail "sync"
"$WALCTL" seal >/dev/null || fail "seal"
kill -TERM "$wpid"
wait "$WALLD_PID" || fail "walld under strace exited $?"
WALLD_PID=

# System call names, with strace's "<... NAME resumed>" lines included.
sed -n -e 's/^[0-9]*  *<\.\.\. \([a-z0-9_]*\) resumed>.*/\1/p' \
    -e 's/^[0-9]*  *\([a-z0-9_]*\)(.*/\1/p' "$T/trace" | sort -u >"$T/used"
[ "$(wc -l <"$T/used")" -gt 20 ] || { head -n 20 "$T/trace" >&2; cat "$T/used" >&2; fail "too few system calls traced"; }
# execve is strace starting walld, made before the filter applies too.
refused=$(comm -23 "$T/used" "$T/allowed")
[ -z "$refused" ] || fail "walld calls what walld.service refuses: $(echo $refused)"
ok "$(wc -l <"$T/used") distinct system calls, all allowed by walld.service:"
echo $(cat "$T/used")

others=$(grep -E '^[0-9]+ +socket(pair)?\(' "$T/trace" | grep -v '(AF_UNIX,' || true)
[ -z "$others" ] || fail "sockets other than AF_UNIX: $others"
ok "only AF_UNIX sockets"
