# SPDX-License-Identifier: Apache-2.0
# lib.sh: shared by the integration tests. Each test sources it, gets a
# private temporary directory ($T) and runs the real walld on a private
# socket ($SOCK) over a private data directory ($DATA).
set -u
B=${WALD_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
TOP=${WALD_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
WALLD=$B/walld
WALCTL=$B/walctl
T=$(mktemp -d /tmp/walld-integ.XXXXXX)
SOCK=$T/walld.sock
DATA=$T/data
LOG=$T/walld.log
# walld refuses to run as root without --allow-root (walld(8)): the
# tests, often run as root, give it wherever they start walld.
ALLOW_ROOT=
[ "$(id -u)" != 0 ] || ALLOW_ROOT=--allow-root
WALLD_PID=
EXTRA_PIDS=	# other processes a test started: killed at exit too
export WALLD_SOCKET=$SOCK

cleanup() {
	for p in $EXTRA_PIDS; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "$WALLD_PID" ] && kill -0 "$WALLD_PID" 2>/dev/null; then
		kill -KILL "$WALLD_PID" 2>/dev/null
		wait "$WALLD_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$LOG" ]; then
		# A sanitizer's report is longer than the tail, and its stack
		# traces are what tell the bug: they come whole.
		if grep -q "ERROR: AddressSanitizer\|runtime error:" "$LOG"; then
			echo "--- walld log (the sanitizer's report):" >&2
			sed -n '/ERROR: AddressSanitizer\|runtime error:/,/^SUMMARY/p' \
			    "$LOG" | head -n 150 >&2
		fi
		echo "--- walld log (last 30 lines):" >&2
		tail -n 30 "$LOG" >&2
	fi
	exit 1
}

ok() { echo "ok: $*"; }

# Waits (up to 10 s) until the walld of WALLD_PID answers a ping at
# $SOCK; fails if it exits first.
wait_ready() {
	i=0
	while ! "$WALCTL" ping >/dev/null 2>&1; do
		kill -0 "$WALLD_PID" 2>/dev/null || fail "walld exited at start-up"
		i=$((i + 1))
		[ $i -lt 200 ] || fail "walld did not answer within 10 s"
		sleep 0.05
	done
}

# Starts walld in the background with extra arguments; waits until it
# answers a ping (up to 10 s).
start_walld() {
	"$WALLD" $ALLOW_ROOT --socket "$SOCK" --data-dir "$DATA" "$@" >>"$LOG" 2>&1 &
	WALLD_PID=$!
	wait_ready
}

# Stops walld with a signal (default TERM) and returns its exit status.
stop_walld() {
	kill -"${1:-TERM}" "$WALLD_PID"
	st=0
	wait "$WALLD_PID" || st=$?
	WALLD_PID=
	return $st
}

# Waits (up to 10 s) for walld to exit by itself; returns its status.
wait_walld() {
	i=0
	while kill -0 "$WALLD_PID" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "walld did not exit within 10 s"
		sleep 0.05
	done
	st=0
	wait "$WALLD_PID" || st=$?
	WALLD_PID=
	return $st
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

# stat_of NAME: one value from walctl stats.
stat_of() {
	"$WALCTL" stats | awk -v k="$1" '$1 == k { print $2 }'
}

# settled_lsn: once clients have gone, walld still makes durable what it
# had read from them. Waits (up to 10 s) until everything assigned is
# durable and stays so, then prints the durable LSN.
settled_lsn() {
	i=0 last=
	while :; do
		d=$(stat_of durable_lsn) n=$(stat_of next_lsn)
		if [ "$d" = $((n - 1)) ] && [ "$d" = "$last" ]; then
			echo "$d"
			return 0
		fi
		last=$d
		i=$((i + 1))
		[ $i -lt 50 ] || fail "durable_lsn did not settle (durable $d, next $n)"
		sleep 0.2
	done
}
