# SPDX-License-Identifier: Apache-2.0
# hostile.sh: sourced by tests/integ/hostile_*.sh after lib.sh. A
# well-behaved background load (walload, tenants 0..6) that must keep
# getting acknowledgements while a test plays a misbehaving client, and
# measurements of walld from /proc.
RAW=$B/tests/rawclient
WALLOAD=$B/tests/walload
LOAD_PID=
LOAD_ACKS=0

# Runs walld's cleanup after stopping the load (its own process group).
hostile_cleanup() {
	if [ -n "$LOAD_PID" ]; then
		kill -TERM "-$LOAD_PID" 2>/dev/null
		wait "$LOAD_PID" 2>/dev/null
	fi
	cleanup
}
trap hostile_cleanup EXIT

# load_start [PROCS]: walload appending until load_stop, in a session of
# its own so that load_stop can end it and its client processes. Its
# count is finite (minutes of work) so that it can never outlive a test
# by long, whatever happens.
load_start() {
	setsid "$WALLOAD" run -s "$SOCK" -o "$T/ack" -P "${1:-2}" -n 1000000 -d 4 \
		>"$T/load.out" 2>&1 &
	LOAD_PID=$!
	LOAD_ACKS=0
	load_progress "load started"
}

# Acknowledgements the load has logged so far.
load_acks() {
	cat "$T"/ack.* 2>/dev/null | wc -l
}

# load_progress WHAT: the load got new acknowledgements since the last
# call (waits up to 5 s for them).
load_progress() {
	i=0
	while [ "$(load_acks)" -le "$LOAD_ACKS" ]; do
		kill -0 "$LOAD_PID" 2>/dev/null ||
			fail "$1: walload exited: $(cat "$T/load.out")"
		i=$((i + 1))
		[ $i -lt 100 ] || fail "$1: the well-behaved client got no acknowledgement for 5 s"
		sleep 0.05
	done
	LOAD_ACKS=$(load_acks)
}

load_stop() {
	load_progress "${1:-end of test}"
	kill -TERM "-$LOAD_PID" || fail "cannot stop walload"
	wait "$LOAD_PID" 2>/dev/null
	LOAD_PID=
}

# load_check: once walld has stopped, every LSN the load had acknowledged
# is in the log as a record of one of its tenants.
load_check() {
	# (comm wants the order of plain sort, not sort -n.)
	cat "$T"/ack.* | awk '{ print $1 }' | sort >"$T/acked"
	[ "$(sort -u "$T/acked" | wc -l)" -eq "$(wc -l <"$T/acked")" ] ||
		fail "an LSN was acknowledged twice"
	"$WALCTL" read --dir "$DATA" |
		sed -n 's/^lsn=\([0-9]*\) type=[0-9]* tenant=\([0-9]*\) .*/\1 \2/p' |
		awk '$2 < 7 { print $1 }' | sort >"$T/inlog"
	missing=$(comm -23 "$T/acked" "$T/inlog" | wc -l)
	[ "$missing" -eq 0 ] ||
		fail "$missing acknowledged LSNs are not in the log"
	# And intact: walload rebuilds each acknowledged payload (-f: the
	# misbehaving clients' records are there too).
	"$WALLOAD" check -f -D "$DATA" "$T"/ack.* >"$T/check.out" 2>&1 ||
		fail "walload check: $(tail -n 5 "$T/check.out")"
	ok "the well-behaved client's $(wc -l <"$T/acked") acknowledged records are all in the log"
}

# 1 when walld is built with AddressSanitizer, whose quarantine keeps
# freed memory resident: memory bounds mean nothing then.
walld_asan() {
	ldd "$WALLD" 2>/dev/null | grep -q libasan
}

# rss_bound WHAT BEFORE AFTER: walld's RSS (KiB) grew by less than 16 MiB.
rss_bound() {
	if walld_asan; then
		echo "($1: RSS $2 -> $3 KiB, not bounded under ASan)"
		return 0
	fi
	[ $(($3 - $2)) -lt 16384 ] || fail "$1: walld's RSS grew from $2 to $3 KiB"
}

# walld's resident memory in KiB, and CPU time in clock ticks.
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$WALLD_PID/status"
}
cpu_ticks() {
	# Fields 14 and 15 of /proc/PID/stat, after the "(comm)" field.
	sed 's/^.*) //' "/proc/$WALLD_PID/stat" | awk '{ print $12 + $13 }'
}
fd_count() {
	ls "/proc/$WALLD_PID/fd" | wc -l
}

# expect_line FILE PATTERN WHAT: a line of rawclient's output matches.
expect_line() {
	grep -q -- "$2" "$1" || fail "$3: no '$2' in: $(cat "$1")"
}

# walld_alive WHAT: walld still runs and answers.
walld_alive() {
	kill -0 "$WALLD_PID" 2>/dev/null || fail "$1: walld died"
	"$WALCTL" ping >/dev/null || fail "$1: walld does not answer a ping"
}
