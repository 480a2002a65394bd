#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# run-cluster.sh: `make run-cluster`. Starts a three-node NATS JetStream
# cluster on 127.0.0.1, its stores and logs under ./var/nats, then walld in
# the foreground replicating into it (conf/walld-cluster.yaml). Ctrl-C (or
# SIGTERM to this script) stops walld in order, then the three servers.
#
#   node  clients  routes  store, log
#   n1    4222     6222    var/nats/n1/, var/nats/n1.log
#   n2    4223     6223    var/nats/n2/, var/nats/n2.log
#   n3    4224     6224    var/nats/n3/, var/nats/n3.log
#
# usage: tools/run-cluster.sh [BUILD]   (BUILD: the build directory, build)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
b=${1:-build}
B=$top/$b
WALLD_PID=

NATS_SETSID=1
. "$top/tests/helpers/nats-cluster.sh"
NATS_CLIENT_PORTS="4222 4223 4224"
NATS_ROUTE_PORTS="6222 6223 6224"
NATS_CLUSTER_NAME=walld-dev

# walld_wait: walld was told to stop: it has 30 s to finish, then SIGKILL.
# Sets st to its exit status, unless an earlier wait had it (127 now).
walld_wait() {
	i=0
	while kill -0 "$WALLD_PID" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			echo "run-cluster: walld did not stop in 30 s: SIGKILL" >&2
			kill -KILL "$WALLD_PID" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	st2=0
	wait "$WALLD_PID" 2>/dev/null || st2=$?
	[ $st2 -eq 127 ] || st=$st2
	WALLD_PID=
}
stop_all() {
	if [ -n "$WALLD_PID" ]; then
		kill -TERM "$WALLD_PID" 2>/dev/null
		walld_wait
	fi
	nats_cluster_stop
}
# on_signal STATUS: while walld runs, the signal goes on to it (a Ctrl-C
# reaches it anyway) and ends the wait below early: walld then finishes its
# batches. Before, it ends the script.
on_signal() {
	[ -n "$WALLD_PID" ] || exit "$1"
	kill -TERM "$WALLD_PID" 2>/dev/null
}
trap stop_all EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

"$B/walld" --check-config --config conf/walld-cluster.yaml || exit $?
mkdir -p var/nats var/cluster || exit 1
echo "run-cluster: starting nats-server n1, n2, n3 (logs: var/nats/n*.log)"
if ! nats_cluster_start "$top/var/nats"; then
	nats_logs 10 >&2
	echo "run-cluster: the NATS cluster did not start; are ports 4222-4224, 6222-6224 free?" >&2
	exit 1
fi
cat <<EOF
run-cluster: NATS cluster up: $NATS_URLS
run-cluster: walld: socket var/cluster/walld.sock, data var/cluster/data
In another terminal:
  export WALLD_SOCKET=\$PWD/var/cluster/walld.sock
  $b/walctl append "hello"
  $b/tests/jsdump --urls $NATS_URLS --stream WALLD info
  $b/tests/jsdump --urls $NATS_URLS --stream WALLD dump
Ctrl-C stops walld, then the servers.
EOF

# walld gets SIGTERM too if this script dies without its traps.
guard=
if setpriv --help 2>/dev/null | grep -q pdeathsig; then
	guard="setpriv --pdeathsig TERM"
fi
# walld refuses root without --allow-root; this is a try on one machine.
$guard "$B/walld" --config conf/walld-cluster.yaml \
    $([ "$(id -u)" != 0 ] || echo --allow-root) &
WALLD_PID=$!
st=0
wait "$WALLD_PID" || st=$?
if [ $st -gt 128 ]; then
	walld_wait	# the wait ended by a signal (or walld by one)
fi
WALLD_PID=
echo "run-cluster: walld exited with status $st; stopping the NATS servers"
nats_cluster_stop
exit $st
