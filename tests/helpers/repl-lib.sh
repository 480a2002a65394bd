# repl-lib.sh: what the replication tests (tests/integ/repl_*.sh) share.
# Sourced after tests/integ/lib.sh: the three-node JetStream cluster of
# nats-cluster.sh, walld configurations that replicate into it, and
# checks that look at the stream itself through jsdump and walctl read
# --nats, never at what walld says about it.
#
# Everything started is stopped by PID at exit: walld (lib.sh's
# WALLD_PID, and WALLD2_PID for a second one), EXTRA_PIDS, then the NATS
# servers (continued first, should a test have stopped one with SIGSTOP).
. "$TOP/tests/helpers/nats-cluster.sh"

STREAM=WALLD
WALLD2_PID=
LOG2=$T/walld2.log

repl_cleanup() {
	if [ -n "$WALLD2_PID" ]; then
		kill -KILL "$WALLD2_PID" 2>/dev/null
		wait "$WALLD2_PID" 2>/dev/null
	fi
	if [ -n "$WALLD_PID" ]; then
		kill -KILL "$WALLD_PID" 2>/dev/null
		wait "$WALLD_PID" 2>/dev/null
		WALLD_PID=
	fi
	for _rc_n in 1 2 3; do
		eval _rc_p=\${NATS_PID_$_rc_n:-}
		[ -z "$_rc_p" ] || kill -CONT "$_rc_p" 2>/dev/null
	done
	nats_cluster_stop
	cleanup
}
trap repl_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# rfail MESSAGE: fail, with the NATS servers' last log lines too.
rfail() {
	nats_logs 8 >&2
	if [ -f "$LOG2" ]; then
		echo "--- second walld's log (last 20 lines):" >&2
		tail -n 20 "$LOG2" >&2
	fi
	fail "$@"
}

# walld_alive: fails when walld (WALLD_PID) has exited, with its status.
walld_alive() {
	kill -0 "$WALLD_PID" 2>/dev/null && return 0
	_wa_st=0
	wait "$WALLD_PID" || _wa_st=$?
	WALLD_PID=
	rfail "walld exited (status $_wa_st${1:+; $1})"
}

# now_ms: milliseconds on the wall clock.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# repl_start_cluster: the three nodes, up with a meta leader.
repl_start_cluster() {
	_rs_t0=$(now_ms)
	nats_cluster_start "$T/nats" || rfail "the NATS cluster did not start"
	echo "NATS cluster up in $(($(now_ms) - _rs_t0)) ms: $NATS_URLS"
}

# repl_yaml FILE [LINE...]: a configuration replicating into the cluster's
# stream $STREAM, with 1 MiB segments; each LINE ("key: value") goes into
# the replication section. Callers may append other sections.
repl_yaml() {
	_ry_f=$1
	shift
	{
		echo "storage:"
		echo "  segment_size: 1MiB"
		echo "replication:"
		echo "  servers: [$(echo "$NATS_URLS" | sed 's/,/, /g')]"
		echo "  stream: $STREAM"
		for _ry_l in "$@"; do
			echo "  $_ry_l"
		done
	} >"$_ry_f"
}

# wstat SOCKET NAME: one value from the stats of the walld at SOCKET.
wstat() {
	"$WALCTL" -s "$1" stats | awk -v k="$2" '$1 == k { print $2 }'
}

# wait_state SOCKET STATE SECONDS: until replication_state is STATE.
wait_state() {
	_ws_end=$(($(now_ms) + $3 * 1000))
	while [ "$(wstat "$1" replication_state)" != "$2" ]; do
		[ "$(now_ms)" -lt $_ws_end ] ||
			rfail "replication_state is '$(wstat "$1" replication_state)', not $2, after $3 s"
		sleep 0.1
	done
}

# wait_replicated SOCKET SECONDS: waits until everything handed an LSN is
# durable and replicated (as walld says: the stream is checked apart);
# prints that LSN.
wait_replicated() {
	_wr_end=$(($(now_ms) + $2 * 1000))
	while :; do
		_wr_s=$("$WALCTL" -s "$1" stats)
		_wr_d=$(echo "$_wr_s" | awk '$1 == "durable_lsn" { print $2 }')
		_wr_n=$(echo "$_wr_s" | awk '$1 == "next_lsn" { print $2 }')
		_wr_r=$(echo "$_wr_s" | awk '$1 == "replicated_lsn" { print $2 }')
		if [ -n "$_wr_d" ] && [ "$_wr_d" = $((_wr_n - 1)) ] &&
		    [ "$_wr_r" = "$_wr_d" ]; then
			echo "$_wr_d"
			return 0
		fi
		[ "$(now_ms)" -lt $_wr_end ] ||
			rfail "not replicated after $2 s: durable $_wr_d, next $_wr_n, replicated $_wr_r"
		sleep 0.1
	done
}

# js COMMAND...: jsdump on the cluster's stream.
js() {
	"$JSDUMP" --urls "$NATS_URLS" --stream "$STREAM" --timeout 3000 "$@"
}

# stream_info KEY: one value of the stream's info (asked again, up to 10
# times, while the servers answer with an error).
stream_info() {
	_si_i=0
	while ! js info >"$T/info" 2>"$T/js.err"; do
		_si_i=$((_si_i + 1))
		[ $_si_i -lt 10 ] || rfail "jsdump info: $(cat "$T/js.err")"
		sleep 0.5
	done
	awk -v k="$1" '$1 == k { print $2 }' "$T/info"
}

# stream_last: the stream's last message as "SEQ LSN ID", or "0 0 -" for
# an empty stream. Asked of the stream's leader: retried (up to 10 s)
# while no leader answers.
stream_last() {
	_sl_i=0
	while ! _sl_out=$(js last 2>"$T/js.err"); do
		_sl_i=$((_sl_i + 1))
		[ $_sl_i -lt 50 ] || rfail "jsdump last: $(cat "$T/js.err")"
		sleep 0.2
	done
	if [ "$_sl_out" = empty ]; then
		echo "0 0 -"
	else
		echo "$_sl_out" | awk '{ print $2, $6, $8 }'
	fi
}

# log_id DIR: the log identity in DIR's REPLICA file.
log_id() {
	sed -n 's/^log //p' "$1/REPLICA"
}

# check_stream_seq N LOG EPOCHS: the stream holds exactly messages 1..N,
# sequence i holding LSN i, each Nats-Msg-Id "LOG-E-i" with E one of
# EPOCHS (a space-separated list, in non-decreasing order along the
# stream): no gap, no duplicate, no message of another log.
check_stream_seq() {
	# The servers may answer "JetStream system temporarily unavailable"
	# for some seconds after a restart, though the stream is led and
	# current (a leader moving mid-dump; 5 s were not enough once, with a
	# sanitizer build beside it): asked again, up to 30 times a second
	# apart. What the dump holds is checked below, never retried.
	_cs_i=0
	while ! js dump >"$T/dump" 2>"$T/js.err"; do
		_cs_i=$((_cs_i + 1))
		[ $_cs_i -lt 30 ] || rfail "jsdump dump: $(cat "$T/js.err")"
		echo "jsdump dump, try $_cs_i: $(cat "$T/js.err")"
		sleep 1
	done
	awk -v n="$1" -v lid="$2" -v epochs="$3" '
	    BEGIN { split(epochs, e, " "); for (i in e) ok[e[i]] = 1; prev = 0 }
	    {
		if ($1 != "seq" || $2 != NR || $3 == "deleted" || $6 != NR) {
			print "line " NR ": " $0; bad = 1; next
		}
		k = split($8, id, "-")
		if (k != 3 || id[1] != lid || id[3] != NR || !(id[2] in ok) ||
		    id[2] + 0 < prev) {
			print "line " NR ": id " $8; bad = 1; next
		}
		prev = id[2] + 0
		if (seen[$8]++) { print "line " NR ": id " $8 " twice"; bad = 1 }
	    }
	    END {
		if (NR != n) { print NR " messages, not " n; bad = 1 }
		exit bad
	    }' "$T/dump" >"$T/dump.bad" ||
		rfail "the stream is not LSNs 1..$1 once each: $(head -n 5 "$T/dump.bad")"
}

# same_as_stream DIR [read options]: walctl read --dir DIR and walctl read
# --nats of the stream print the same, byte for byte.
same_as_stream() {
	_ss_d=$1
	shift
	"$WALCTL" read --dir "$_ss_d" "$@" >"$T/read.dir" 2>"$T/read.err" ||
		rfail "read --dir $_ss_d: $(cat "$T/read.err")"
	# A server error (exit 69 or 75: "JetStream system temporarily
	# unavailable" for some seconds after the servers restart, longer on
	# a loaded machine: once still after 10 s) is tried again, up to 30
	# times a second apart;
	# anything about the stream itself (exit 65: a gap, a duplicate) is
	# not.
	_ss_i=0
	while :; do
		_ss_st=0
		"$WALCTL" read --nats "$NATS_URLS" --stream "$STREAM" "$@" \
		    >"$T/read.nats" 2>"$T/read.err" || _ss_st=$?
		[ $_ss_st -ne 0 ] || break
		_ss_i=$((_ss_i + 1))
		case $_ss_st in
		69|75) [ $_ss_i -lt 30 ] && { sleep 1; continue; } ;;
		esac
		rfail "read --nats: exit $_ss_st: $(cat "$T/read.err")"
	done
	[ -s "$T/read.dir" ] || rfail "read --dir $_ss_d: nothing"
	cmp -s "$T/read.dir" "$T/read.nats" ||
		rfail "the stream and $_ss_d differ: $(diff "$T/read.dir" "$T/read.nats" | head -n 4)"
}
