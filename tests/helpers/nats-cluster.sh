# SPDX-License-Identifier: Apache-2.0
# nats-cluster.sh: a three-node NATS JetStream cluster (servers n1, n2, n3)
# on 127.0.0.1, for the replication tests and `make run-cluster`. Sourced
# (POSIX sh) after $B is set: it uses $B/tests/jsdump. Every function says
# what went wrong on stderr and returns non-zero; callers add `|| fail`.
#
# Under DIR (nats_cluster_start's argument) node N has nN.conf, its
# JetStream store nN/ and its log nN.log (appended to across restarts).
# Ports: the kernel picks free ones (jsdump free-ports), and a start that
# loses a port to another process between the pick and the bind is tried
# again with new ones (3 tries); a caller may fix them instead by setting
# NATS_CLIENT_PORTS and NATS_ROUTE_PORTS (three each, space-separated),
# and the cluster's name (NATS_CLUSTER_NAME, else one unique to this run).
# Each node may keep NATS_MAX_FILE of JetStream files (1GB): a stream that
# reaches it stalls, so a long soak sets more.
# Every process started is known by its PID (NATS_PID_1..3; NATS_ALL_PIDS
# holds every one ever started): call nats_cluster_stop from the trap.
NATS_SERVER=${NATS_SERVER:-/usr/sbin/nats-server}
JSDUMP=${JSDUMP:-$B/tests/jsdump}
NATS_DIR=
NATS_URLS=
NATS_ALL_PIDS=
NATS_PID_1= NATS_PID_2= NATS_PID_3=
# The servers get SIGKILL when the shell that started them dies, even by
# SIGKILL (no trap runs then): setpriv execs the server, keeping its PID.
# NATS_SETSID=1 (run-cluster.sh) starts them in a session of their own too,
# out of reach of the terminal's Ctrl-C: the caller stops them, after
# walld. (setsid execs as well: a child of a shell without job control is
# no process group leader.)
_NATS_GUARD=
if setpriv --help 2>/dev/null | grep -q pdeathsig; then
	_NATS_GUARD="setpriv --pdeathsig KILL"
fi
[ "${NATS_SETSID:-0}" = 0 ] || _NATS_GUARD="setsid $_NATS_GUARD"

# nats_cluster_start DIR: writes the three configurations, starts the nodes
# and waits (up to 30 s) for a JetStream meta leader; exports NATS_URLS.
nats_cluster_start() {
	NATS_DIR=$1
	[ -x "$NATS_SERVER" ] || {
		echo "nats: $NATS_SERVER: not found (apt-get install nats-server)" >&2
		return 1
	}
	[ -x "$JSDUMP" ] || { echo "nats: $JSDUMP: not built" >&2; return 1; }
	mkdir -p "$NATS_DIR" || return 1
	# Unique, so that a route that reaches another test's cluster (a
	# port taken over in between) is refused, never joined.
	NATS_CLUSTER_NAME=${NATS_CLUSTER_NAME:-walld-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')}
	_nc_try=1
	while :; do
		_nats_ports || return 1
		for _nc_n in 1 2 3; do
			_nats_write_conf $_nc_n || return 1
		done
		_nc_ok=yes
		for _nc_n in 1 2 3; do
			_nats_spawn $_nc_n || { _nc_ok=no; break; }
		done
		if [ $_nc_ok = yes ]; then
			for _nc_n in 1 2 3; do
				_nats_wait_up $_nc_n || { _nc_ok=no; break; }
			done
		fi
		[ $_nc_ok = yes ] && break
		nats_cluster_stop
		if [ -n "${NATS_CLIENT_PORTS:-}" ] || [ $_nc_try -ge 3 ]; then
			echo "nats: the cluster did not start (try $_nc_try)" >&2
			return 1
		fi
		echo "nats: a node did not start (a port taken?); new ports" >&2
		_nc_try=$((_nc_try + 1))
	done
	NATS_URLS=nats://127.0.0.1:$NATS_CPORT_1,nats://127.0.0.1:$NATS_CPORT_2,nats://127.0.0.1:$NATS_CPORT_3
	export NATS_URLS
	nats_wait_leader 30
}

# nats_wait_leader [SECONDS]: waits (default 30 s) until JetStream answers
# through any node: the cluster has a meta leader.
nats_wait_leader() {
	"$JSDUMP" --urls "$NATS_URLS" --timeout $((${1:-30} * 1000)) \
	    wait-leader >/dev/null ||
		{ echo "nats: no JetStream meta leader within ${1:-30} s" >&2; return 1; }
}

# nats_stream_current STREAM [SECONDS]: waits (default 30 s) until the
# stream's info names a leader and says every replica is current. Until
# then, after a restart, a replica that is behind may answer for the
# stream with its own counts (leader "-"; see tests/helpers/jsdump.c).
nats_stream_current() {
	_nc_end=$(($(date +%s) + ${2:-30}))
	while :; do
		_nc_info=$("$JSDUMP" --urls "$NATS_URLS" --stream "$1" \
		    --timeout 1000 info 2>&1)
		_nc_l=$(echo "$_nc_info" | awk '$1 == "leader" { print $2 }')
		_nc_c=$(echo "$_nc_info" | awk '$1 == "current" { print $2 }')
		_nc_r=$(echo "$_nc_info" | awk '$1 == "replicas" { print $2 }')
		[ -n "$_nc_l" ] && [ "$_nc_l" != - ] && [ -n "$_nc_c" ] &&
		    [ "$_nc_c" = "$_nc_r" ] && return 0
		if [ "$(date +%s)" -ge $_nc_end ]; then
			echo "nats: stream $1: not led with every replica current in ${2:-30} s:" \
			    $_nc_info >&2
			return 1
		fi
		sleep 0.2
	done
}

# nats_node_start N: starts node N again, with its configuration and store;
# returns once it listens (not waiting for it to catch up).
nats_node_start() {
	_nats_spawn "$1" && _nats_wait_up "$1"
}

# nats_node_kill N: SIGKILL, and reaps it. Fails if it had exited already.
nats_node_kill() {
	eval _nc_p=\${NATS_PID_$1:-}
	[ -n "$_nc_p" ] || { echo "nats: n$1 is not running" >&2; return 1; }
	_nc_rc=0
	kill -KILL "$_nc_p" 2>/dev/null || {
		echo "nats: n$1 (pid $_nc_p) had exited already" >&2
		_nc_rc=1
	}
	wait "$_nc_p" 2>/dev/null
	eval NATS_PID_$1=
	return $_nc_rc
}

# nats_node_stop N: SIGTERM; waits up to 10 s for it to exit, then SIGKILL.
nats_node_stop() {
	eval _nc_p=\${NATS_PID_$1:-}
	[ -n "$_nc_p" ] || { echo "nats: n$1 is not running" >&2; return 1; }
	kill -TERM "$_nc_p" 2>/dev/null
	_nc_i=0
	while kill -0 "$_nc_p" 2>/dev/null; do
		_nc_i=$((_nc_i + 1))
		if [ $_nc_i -ge 100 ]; then
			echo "nats: n$1 (pid $_nc_p) ignored SIGTERM for 10 s; SIGKILL" >&2
			kill -KILL "$_nc_p" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	wait "$_nc_p" 2>/dev/null
	eval NATS_PID_$1=
}

# nats_cluster_stop: stops every node still running (SIGTERM, then SIGKILL
# after 10 s), and kills any other server started here that still runs (a
# failed step lost its PID). Safe to call twice, and before any start.
nats_cluster_stop() {
	for _nc_s in 1 2 3; do
		eval _nc_sp=\${NATS_PID_$_nc_s:-}
		[ -z "$_nc_sp" ] || nats_node_stop $_nc_s
	done
	for _nc_sp in $(nats_left); do
		kill -KILL "$_nc_sp" 2>/dev/null
		wait "$_nc_sp" 2>/dev/null
	done
	return 0
}

# nats_left: prints the PIDs of this harness's servers that still run
# (none once nats_cluster_stop returned).
nats_left() {
	for _nc_p in $NATS_ALL_PIDS; do
		grep -qsF "$NATS_DIR/n" "/proc/$_nc_p/cmdline" && echo "$_nc_p"
	done
	return 0
}

# nats_logs: the last lines of each node's log, for a failing test.
nats_logs() {
	for _nc_n in 1 2 3; do
		[ -f "$NATS_DIR/n$_nc_n.log" ] || continue
		echo "--- nats n$_nc_n log (last ${1:-20} lines):"
		tail -n "${1:-20}" "$NATS_DIR/n$_nc_n.log"
	done
}

# Sets NATS_CPORT_1..3 and NATS_RPORT_1..3.
_nats_ports() {
	if [ -n "${NATS_CLIENT_PORTS:-}" ]; then
		set -- $NATS_CLIENT_PORTS $NATS_ROUTE_PORTS
	else
		set -- $("$JSDUMP" free-ports 6)
	fi
	[ $# -eq 6 ] || { echo "nats: want 3 client and 3 route ports" >&2; return 1; }
	NATS_CPORT_1=$1 NATS_CPORT_2=$2 NATS_CPORT_3=$3
	NATS_RPORT_1=$4 NATS_RPORT_2=$5 NATS_RPORT_3=$6
}

# _nats_write_conf N: node N's configuration. max_payload: a walld record
# (up to 1 MiB, limits.max_record) plus its headers in one message.
_nats_write_conf() {
	eval _nc_cp=\$NATS_CPORT_$1 _nc_rp=\$NATS_RPORT_$1
	_nc_routes=
	for _nc_m in 1 2 3; do
		[ $_nc_m = "$1" ] && continue
		eval _nc_r=\$NATS_RPORT_$_nc_m
		_nc_routes="$_nc_routes${_nc_routes:+, }nats-route://127.0.0.1:$_nc_r"
	done
	cat >"$NATS_DIR/n$1.conf" <<EOF
# Written by tests/helpers/nats-cluster.sh.
server_name: n$1
listen: 127.0.0.1:$_nc_cp
max_payload: 8MB
jetstream {
	store_dir: "$NATS_DIR/n$1"
	max_mem: 64MB
	max_file: ${NATS_MAX_FILE:-1GB}
}
cluster {
	name: $NATS_CLUSTER_NAME
	listen: 127.0.0.1:$_nc_rp
	# Clients get only the URLs they were given.
	no_advertise: true
	routes: [$_nc_routes]
}
EOF
}

# _nats_spawn N: starts node N in the background, under the guard above,
# with one OS thread for Go code (three servers share a small machine with
# the tests). NATS_LOGAT_N: the line of nN.log where this run's output
# begins.
_nats_spawn() {
	eval _nc_p=\${NATS_PID_$1:-}
	if [ -n "$_nc_p" ]; then
		echo "nats: n$1 is running (pid $_nc_p)" >&2
		return 1
	fi
	echo "=== $(date '+%F %T') start" >>"$NATS_DIR/n$1.log" || return 1
	eval NATS_LOGAT_$1=$(($(wc -l <"$NATS_DIR/n$1.log") + 1))
	GOMAXPROCS=1 $_NATS_GUARD "$NATS_SERVER" -c "$NATS_DIR/n$1.conf" \
	    >>"$NATS_DIR/n$1.log" 2>&1 &
	_nc_p=$!
	eval NATS_PID_$1=$_nc_p
	NATS_ALL_PIDS="$NATS_ALL_PIDS $_nc_p"
}

# _nats_wait_up N: waits (up to 15 s) until node N listens on both its
# ports, as its log says (the client port is opened first, then the route
# port; a port another process holds ends the server at once). A client
# finding some server at the port would not tell ours from a stranger.
_nats_wait_up() {
	eval _nc_p=\$NATS_PID_$1 _nc_at=\$NATS_LOGAT_$1
	_nc_i=0
	while ! tail -n +"$_nc_at" "$NATS_DIR/n$1.log" |
	    grep -q "Listening for route connections"; do
		if ! kill -0 "$_nc_p" 2>/dev/null; then
			wait "$_nc_p" 2>/dev/null
			eval NATS_PID_$1=
			echo "nats: n$1 exited at start:" >&2
			tail -n +"$_nc_at" "$NATS_DIR/n$1.log" | tail -n 3 >&2
			return 1
		fi
		_nc_i=$((_nc_i + 1))
		[ $_nc_i -lt 150 ] || { echo "nats: n$1 not listening after 15 s" >&2; return 1; }
		sleep 0.1
	done
}
