# SPDX-License-Identifier: Apache-2.0
# mixed: the soak of `make soak` (not of `make check`). For SOAK_SECONDS
# (default 3600), walld replicating into a three-node JetStream cluster
# takes everything at once, round after round:
# - four pipelining clients (walload: random sizes, tenants, vshards, ack
#   log per round) and two idempotent producers (walprod, running through
#   the whole soak, retrying across every kill);
# - a rotation, a truncation, or a reload that flips group_commit and
#   limits settings (each must succeed when walld says so), now and then;
# - a NATS node killed -9 every few rounds and started again a few rounds
#   later (never two down at once: a quorum always exists);
# - walld killed -9 at a random moment of the load, and started again.
# After each restart, every record acknowledged so far is in the log and
# intact. At the end: the same; every producer sequence acknowledged is
# in the log exactly once, at its LSN, and none is there twice; once
# everything is replicated, the stream holds LSNs 1..N exactly once each.
# The figures printed at the end go into docs/DURABILITY.md.
#
#   SOAK_SECONDS=600 WALD_BUILD=$PWD/build WALD_TOP=$PWD sh tests/soak/mixed.sh
. "$(dirname "$0")/../integ/lib.sh"
. "$TOP/tests/helpers/repl-lib.sh"

SECONDS_WANTED=${SOAK_SECONDS:-3600}
# Each client appends at most 100 records of 16-512 bytes a round, and a
# producer one every 5 ms: an hour makes a stream of a few million
# records, which the final check reads back (about 2,000 a second).
LOAD="-a 16 -b 512"
export WALPROD_PAUSE_MS=5
# An hour's stream is about 2 million messages, 1.3 GB on each node:
# with the cluster's default 1 GB it stalled at 1.64 million, 50 minutes
# in ("JetStream resource limits exceeded", 2026-12-07).
export NATS_MAX_FILE=${NATS_MAX_FILE:-8GB}
rand() {	# rand N: 0..N-1
	od -An -N4 -tu4 /dev/urandom | awk -v n="$1" '{ print $1 % n }'
}
msleep() {	# msleep MS
	sleep "$(awk -v ms="$1" 'BEGIN { print ms / 1000 }')"
}
# conf N: the configuration, in one of two variants a reload flips.
conf() {
	repl_yaml "$T/walld.yaml" "timeout: 2s" "publish_window: 256"
	if [ "$1" -eq 0 ]; then
		printf 'group_commit:\n  commit_delay: 0\nlimits:\n  max_record: 1MiB\n'
	else
		printf 'group_commit:\n  commit_delay: 200us\n  commit_siblings: 2\nlimits:\n  max_record: 512KiB\n'
	fi >>"$T/walld.yaml"
	printf 'producers:\n  max: 64\n  window: 16\n' >>"$T/walld.yaml"
}

t_start=$(now_ms)
repl_start_cluster
variant=0
conf $variant
start_walld --config "$T/walld.yaml"

: >"$T/p201"
: >"$T/p202"
"$B/tests/walprod" "$SOCK" 201 100000000 >"$T/p201" 2>"$T/p201.err" &
pp1=$!
"$B/tests/walprod" "$SOCK" 202 100000000 >"$T/p202" 2>"$T/p202.err" &
pp2=$!
EXTRA_PIDS="$pp1 $pp2"

r=0 kills=0 rotations=0 truncations=0 reloads=0 nkills=0 down= down_until=0
prev_max=0
while [ $(( ($(now_ms) - t_start) / 1000 )) -lt "$SECONDS_WANTED" ]; do
	r=$((r + 1))
	if [ $r -gt 1 ]; then
		start_walld --config "$T/walld.yaml"
		"$B/tests/walload" check -t -f -D "$DATA" $LOAD "$T"/ack.r* \
		    >"$T/check" 2>&1 || { cat "$T/check"; rfail "round $r: check"; }
	fi
	for p in $pp1 $pp2; do
		kill -0 $p 2>/dev/null ||
			rfail "round $r: a producer exited: $(cat "$T"/p20?.err)"
	done
	"$B/tests/walload" run -s "$SOCK" -o "$T/ack.r$r" -P 4 -n 100 -d 8 \
	    $LOAD >/dev/null 2>&1 &
	lpid=$!
	EXTRA_PIDS="$pp1 $pp2 $lpid"

	# A NATS node: one down for 1-3 rounds every few rounds.
	if [ -n "$down" ] && [ $r -ge $down_until ]; then
		nats_node_start "$down" || rfail "round $r: restart n$down"
		down=
	elif [ -z "$down" ] && [ $(rand 4) -eq 0 ]; then
		down=$((1 + $(rand 3)))
		nats_node_kill "$down" || rfail "round $r: kill n$down"
		nkills=$((nkills + 1))
		down_until=$((r + 1 + $(rand 3)))
	fi

	msleep $((100 + $(rand 400)))
	case $(rand 4) in
	0)	"$WALCTL" rotate >/dev/null 2>&1 && rotations=$((rotations + 1)) ;;
	1)	d=$("$WALCTL" sync 2>/dev/null) &&
		"$WALCTL" truncate --before $((d / 2 + 1)) >/dev/null 2>&1 &&
		truncations=$((truncations + 1)) ;;
	2)	variant=$((1 - variant))
		conf $variant
		"$WALCTL" reload >"$T/reload" 2>&1 ||
			rfail "round $r: reload: $(cat "$T/reload")"
		reloads=$((reloads + 1)) ;;
	esac
	msleep $((100 + $(rand 1200)))
	walld_alive "round $r, before the kill"
	kill -KILL "$WALLD_PID"
	wait "$WALLD_PID" 2>/dev/null
	WALLD_PID=
	kills=$((kills + 1))
	wait "$lpid" 2>/dev/null
	min=$(cat "$T"/ack.r$r.* | awk 'NR == 1 || $1 < m { m = $1 } END { print m + 0 }')
	max=$(cat "$T"/ack.r$r.* | awk '$1 > m { m = $1 } END { print m + 0 }')
	n=$(cat "$T"/ack.r$r.* | wc -l)
	if [ "$n" -gt 0 ]; then
		[ "$min" -gt "$prev_max" ] ||
			rfail "round $r: LSN $min handed out again (earlier rounds reached $prev_max)"
		prev_max=$max
	fi
	[ $((r % 20)) -ne 0 ] || echo "round $r: $(( ($(now_ms) - t_start) / 1000 )) s, acknowledged up to $prev_max"
done

# The end: every node up, walld up, producers stopped.
[ -z "$down" ] || nats_node_start "$down" || rfail "restart n$down"
start_walld --config "$T/walld.yaml"
kill -TERM $pp1 $pp2 2>/dev/null
wait $pp1 $pp2 2>/dev/null
EXTRA_PIDS=
"$B/tests/walload" check -t -f -D "$DATA" $LOAD "$T"/ack.r* >"$T/check" 2>&1 ||
	{ cat "$T/check"; rfail "final check"; }
acked=$(cat "$T"/ack.r* | wc -l)
# A soak whose clients never got through would prove nothing.
with=$(for f in "$T"/ack.r*.0; do [ -s "$f" ] && echo; done | wc -l)
[ "$acked" -gt 0 ] && [ $((with * 2)) -ge "$r" ] ||
	rfail "only $with of $r rounds had acknowledgements ($acked in all)"

# Producers: each acknowledged (seq, LSN) still in the log is there, at
# that LSN; no sequence is in the log twice (join wants its inputs in
# sort's own order, not numeric). "$WALCTL" read prints lines
# 'lsn=L type=1 ... data="P:S"'.
first=$(stat_of first_lsn)
"$WALCTL" read --type 1 >"$T/all" || rfail "read"
packed=0
for p in 201 202; do
	awk -v p=$p '{ split($1, l, "="); d = $NF; gsub(/^data="|"$/, "", d);
	    split(d, a, ":"); if (a[1] == p) print a[2], l[2] }' "$T/all" |
	    sort -k1,1 >"$T/log$p"
	dup=$(awk '{ print $1 }' "$T/log$p" | uniq -d | head -n 3)
	[ -z "$dup" ] || rfail "producer $p: sequences in the log twice: $dup"
	awk -v f="$first" '$2 >= f' "$T/p$p" | sort -k1,1 >"$T/acked$p"
	join "$T/acked$p" "$T/log$p" | awk '$2 != $3 { print; bad = 1 } END { exit bad }' \
	    >"$T/moved$p" || rfail "producer $p: at another LSN: $(head -n 3 "$T/moved$p")"
	missing=$(join -v 1 "$T/acked$p" "$T/log$p" | head -n 3)
	[ -z "$missing" ] || rfail "producer $p: acknowledged, not in the log: $missing"
	packed=$((packed + $(wc -l <"$T/p$p")))
done
[ "$packed" -gt 0 ] || rfail "no idempotent append was acknowledged"

last=$(wait_replicated "$SOCK" 300)
stop_walld || rfail "walld exit status $?"
nats_stream_current "$STREAM" 300 || rfail "the stream did not settle"
check_stream_seq "$last" "$(log_id "$DATA")" 1
ok "soak: $(( ($(now_ms) - t_start) / 1000 )) s, $r rounds: $kills walld kill -9s, $nkills NATS node kill -9s, $rotations rotations, $truncations truncations, $reloads reloads; $acked appends and $packed idempotent appends acknowledged, every one checked; the stream holds LSNs 1..$last once each"
