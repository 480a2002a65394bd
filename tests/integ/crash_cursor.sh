# SPDX-License-Identifier: Apache-2.0
# kill -9 of walld while consumers commit cursors, several rounds: after
# each restart every cursor is at or past the last commit walld
# acknowledged for it (and never past one it was sent), and the CURSORS
# file is never found damaged. ROUNDS (default 5) sets the length.
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-5}
rand() {	# rand N: 0..N-1
	od -An -N4 -tu4 /dev/urandom | awk -v n="$1" '{ print $1 % n }'
}
start_walld
seq 1 2000 | "$WALCTL" append --lines >/dev/null || fail "append"
for c in a b c; do
	"$WALCTL" cursor create "$c" >/dev/null || fail "create $c"
done


r=1
while [ $r -le "$ROUNDS" ]; do
	pids=
	for c in a b c; do
		: >"$T/ack.$c"
		: >"$T/ack.$c.sent"
		# Go on from where the cursor is.
		start=$("$WALCTL" cursor get $c | cut -d' ' -f2)
		(
			n=$((start + 1))
			while [ $n -le 2000 ]; do
				echo $n >>"$T/ack.$c.sent"
				"$WALCTL" cursor commit $c $n >/dev/null 2>&1 || break
				echo $n >>"$T/ack.$c"
				n=$((n + 1))
			done
		) &
		pids="$pids $!"
	done
	sleep "0.$((2 + $(rand 7)))"
	kill -KILL "$WALLD_PID"; wait "$WALLD_PID" 2>/dev/null; WALLD_PID=
	for p in $pids; do wait "$p"; done
	start_walld
	for c in a b c; do
		got=$("$WALCTL" cursor get $c | cut -d' ' -f2) || fail "round $r: get $c"
		acked=$(tail -n 1 "$T/ack.$c")
		sent=$(tail -n 1 "$T/ack.$c.sent")
		[ -n "$acked" ] || fail "round $r: cursor $c: no commit acknowledged"
		[ "$got" -ge "$acked" ] ||
			fail "round $r: cursor $c at $got, below the acknowledged $acked"
		[ "$got" -le "$sent" ] ||
			fail "round $r: cursor $c at $got, above the last sent $sent"
	done
	r=$((r + 1))
done
ok "$ROUNDS rounds of kill -9 under commits: every acknowledged commit kept"
