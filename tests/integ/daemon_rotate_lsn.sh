# SPDX-License-Identifier: Apache-2.0
# A ROTATE's reply is the first LSN of the segment it starts, also while
# other clients append: a segment file bears that LSN as its name, and
# its first record has it. (Taken when the rotation's batch completed,
# the reply counted the appends made meanwhile: issue 22.)
. "$(dirname "$0")/lib.sh"

start_walld
"$B/tests/walload" run -s "$SOCK" -o "$T/ack" -P 4 -n 6000 -d 16 &
LOAD=$!
EXTRA_PIDS=$LOAD
n=0 i=0
while [ $n -lt 20 ] && [ $i -lt 400 ] && kill -0 $LOAD 2>/dev/null; do
	lsn=$("$WALCTL" rotate) || fail "rotate"
	echo "$lsn" >>"$T/rotated"
	n=$((n + 1))
	i=$((i + 1))
	sleep 0.02
done
wait $LOAD || fail "walload run"
EXTRA_PIDS=
[ $n -ge 5 ] || fail "only $n rotations while the load ran"
stop_walld TERM || fail "walld did not stop cleanly"

# The highest LSN in the log: a rotation answered after the last record
# (the load ended) names the LSN the next record will get, in a segment
# no record has begun yet; that is the only reply without a file.
last=$("$WALCTL" read --dir "$DATA" | tail -n 1 | sed 's/^lsn=\([0-9]*\) .*/\1/')
bad=0
while read -r lsn; do
	[ "$lsn" -ne $((last + 1)) ] || continue
	f=$(printf '%s/%020d.wal' "$DATA" "$lsn")
	if [ ! -f "$f" ]; then
		echo "rotate answered $lsn: no segment $f" >&2
		bad=$((bad + 1))
		continue
	fi
	first=$("$WALCTL" read --dir "$DATA" --from "$lsn" --to "$lsn" |
	    awk '{ sub(/^lsn=/, "", $1); print $1; exit }')
	[ "$first" = "$lsn" ] || { echo "segment $lsn: no record $lsn" >&2
	    bad=$((bad + 1)); }
done <"$T/rotated"
[ $bad -eq 0 ] || fail "$bad of $n rotate replies are not a segment's first LSN"
"$B/tests/walload" check -D "$DATA" -x "$T"/ack.* || fail "log check"
ok "$n rotations under load: each reply is its new segment's first LSN"
