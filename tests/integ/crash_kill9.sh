# kill -9 at random moments, many times in a row, while several clients
# append (pipelined, random sizes, several tenants/vshards) into small
# segments (so rollovers happen), with rotations and truncations going on.
# After each restart: every acknowledged record is present and intact, LSNs
# increase, nothing appears that no client sent, and new appends land above
# every LSN acknowledged before. ROUNDS (default 8) sets the length; `make
# soak` runs a long one.
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
	ms=$((100 + $(rand 700)))
	case $(rand 4) in
	0)	"$WALCTL" rotate >/dev/null 2>&1 ;;
	1)	first=$("$WALCTL" sync 2>/dev/null) &&
		"$WALCTL" truncate --before $((first / 2 + 1)) >/dev/null 2>&1 ;;
	esac
	sleep "$(awk -v ms=$ms 'BEGIN { print ms / 1000 }')"
	[ "$(rand 2)" = 0 ] && "$WALCTL" rotate >/dev/null 2>&1 &
	kill -KILL "$WALLD_PID"
	wait "$WALLD_PID" 2>/dev/null
	WALLD_PID=
	wait "$lpid" 2>/dev/null

	min=$(cat "$T"/ack.r$r.* | awk 'NR == 1 || $1 < m { m = $1 } END { print m + 0 }')
	max=$(cat "$T"/ack.r$r.* | awk '$1 > m { m = $1 } END { print m + 0 }')
	n=$(cat "$T"/ack.r$r.* | wc -l)
	[ "$n" -gt 0 ] || fail "round $r: nothing acknowledged in ${ms} ms"
	[ "$min" -gt "$prev_max" ] ||
		fail "round $r: LSN $min reissued (earlier rounds reached $prev_max)"
	prev_max=$max
	echo "round $r: killed after ${ms} ms; $n acknowledged, LSNs $min..$max"
	r=$((r + 1))
done

# Truncation may have removed early records: check only what is still there.
start_walld --config "$T/walld.yaml"
"$B/tests/walload" check -t -D "$DATA" -a 16 -b 2048 "$T"/ack.r* || fail "final check"
ok "$ROUNDS kill -9 rounds: nothing acknowledged was lost"
