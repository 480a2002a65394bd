# SPDX-License-Identifier: Apache-2.0
# kill -9 at random moments, many times in a row, while several clients
# append (pipelined, random sizes, several tenants/vshards) into small
# segments (so rollovers happen), with rotations and truncations going on.
# After each restart: every acknowledged record is present and intact, LSNs
# increase, nothing appears that no client sent, and new appends land above
# every LSN acknowledged before. The last round asks for a seal under the
# load and kills walld 0-30 ms later: an acknowledged seal holds after the
# restart. ROUNDS (default 8) sets the length; `make soak` runs 200.
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-8}
cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
YAML
rand() {	# rand N: 0..N-1
	od -An -N4 -tu4 /dev/urandom | awk -v n="$1" '{ print $1 % n }'
}

prev_max=0
r=1
while [ $r -le "$ROUNDS" ]; do
	start_walld --config "$T/walld.yaml"
	# What recovery left must hold everything acknowledged so far.
	if [ $r -gt 1 ]; then
		"$B/tests/walload" check -t -D "$DATA" -a 16 -b 2048 \
			"$T"/ack.r* >"$T/check" 2>&1 ||
			{ cat "$T/check"; fail "round $r: check"; }
	fi

	"$B/tests/walload" run -s "$SOCK" -o "$T/ack.r$r" -P 4 -n 0 -d 8 \
		-a 16 -b 2048 >/dev/null 2>&1 &
	lpid=$!
	# The kill comes 100-800 ms into the load: counted from its first
	# acknowledgement, not from the start of walload (on a loaded machine
	# its clients may take longer than that to connect and get one).
	i=0
	while ! cat "$T"/ack.r$r.* 2>/dev/null | grep -q .; do
		kill -0 "$lpid" 2>/dev/null || fail "round $r: walload exited"
		i=$((i + 1))
		[ $i -lt 200 ] || fail "round $r: nothing acknowledged in 10 s"
		sleep 0.05
	done
	ms=$((100 + $(rand 700)))
	case $(rand 4) in
	0)	"$WALCTL" rotate >/dev/null 2>&1 ;;
	1)	first=$("$WALCTL" sync 2>/dev/null) &&
		"$WALCTL" truncate --before $((first / 2 + 1)) >/dev/null 2>&1 ;;
	esac
	sleep "$(awk -v ms=$ms 'BEGIN { print ms / 1000 }')"
	if [ $r -eq "$ROUNDS" ]; then
		# Kill during (or just after) a seal.
		"$WALCTL" seal >"$T/seal" 2>&1 &
		spid=$!
		case $(rand 3) in
		0)	;;
		1)	sleep "0.00$(rand 10)" ;;
		2)	sleep "0.0$(rand 3)$(rand 10)" ;;
		esac
	else
		case $(rand 3) in
		0)	"$WALCTL" rotate >/dev/null 2>&1 & ;;
		1)	first=$("$WALCTL" sync 2>/dev/null) &&
			"$WALCTL" truncate --before $((first * 3 / 4 + 1)) \
			    >/dev/null 2>&1 & ;;
		esac
	fi
	kill -KILL "$WALLD_PID"
	wait "$WALLD_PID" 2>/dev/null
	WALLD_PID=
	wait "$lpid" 2>/dev/null
	sealed=no
	if [ $r -eq "$ROUNDS" ] && wait "$spid"; then
		sealed=yes
	fi

	min=$(cat "$T"/ack.r$r.* | awk 'NR == 1 || $1 < m { m = $1 } END { print m + 0 }')
	max=$(cat "$T"/ack.r$r.* | awk '$1 > m { m = $1 } END { print m + 0 }')
	n=$(cat "$T"/ack.r$r.* | wc -l)
	[ "$n" -gt 0 ] || fail "round $r: nothing acknowledged"
	[ "$min" -gt "$prev_max" ] ||
		fail "round $r: LSN $min reissued (earlier rounds reached $prev_max)"
	prev_max=$max
	echo "round $r: killed after ${ms} ms; $n acknowledged, LSNs $min..$max$(
	    [ $r -eq "$ROUNDS" ] && echo "; seal acknowledged: $sealed")"
	r=$((r + 1))
done

# Truncation may have removed early records: check only what is still there.
start_walld --config "$T/walld.yaml"
"$B/tests/walload" check -t -D "$DATA" -a 16 -b 2048 "$T"/ack.r* || fail "final check"
st=0
lsn=$("$WALCTL" append "after the last kill" 2>"$T/err") || st=$?
if [ $sealed = yes ]; then
	expect_eq "append after an acknowledged seal and kill -9: exit" $st 73
	expect_eq "state after an acknowledged seal" "$(stat_of state)" sealed
elif [ $st -eq 73 ]; then
	echo "the seal was written but not acknowledged before the kill"
else
	expect_eq "append after the last kill: exit" $st 0
	[ "$lsn" -gt "$prev_max" ] || fail "LSN $lsn reissued (acknowledged up to $prev_max)"
fi
ok "$ROUNDS kill -9 rounds: nothing acknowledged was lost"
