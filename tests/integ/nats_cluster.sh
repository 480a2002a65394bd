# SPDX-License-Identifier: Apache-2.0
# The replication tests' NATS harness (tests/helpers/nats-cluster.sh) does
# what they will rely on: three real nats-server nodes form a JetStream
# cluster; an R3 stream takes messages, goes on taking them with one node
# killed (after a new stream leader is elected when the killed node led
# it), refuses them within the publisher's timeout with two killed (no
# quorum), takes them again once both are back, with nothing lost and
# nothing twice; and nothing the harness started is left running.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/nats-cluster.sh"
trap 'nats_cluster_stop; cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nfail() {
	nats_logs 15 >&2
	fail "$@"
}

# secs_since T0: seconds (one decimal) since T0, a `date +%s%N` value.
secs_since() {
	echo "$(date +%s%N) $1" | awk '{ printf "%.1f", ($1 - $2) / 1e9 }'
}

# info_of KEY: one value of `jsdump info` on stream H.
info_of() {
	"$JSDUMP" --urls "$NATS_URLS" --stream H --timeout 2000 info |
		awk -v k="$1" '$1 == k { print $2 }'
}

# publish_until FIRST COUNT SECONDS: publishes messages FIRST.. (one call
# of jsdump, which stops at the first failure), again from the start until
# all COUNT are acknowledged or SECONDS have passed. A message that was
# stored but whose acknowledgement was lost comes back as a duplicate:
# the stream stores a Nats-Msg-Id once (within its 2-minute window).
publish_until() {
	pu_t0=$(date +%s%N) pu_i=0
	while ! "$JSDUMP" --urls "$NATS_URLS" --timeout 2000 publish \
	    --subject h.1 --first "$1" --count "$2" >"$T/pub" 2>"$T/pub.err"; do
		pu_i=$((pu_i + 1))
		[ "$(date +%s%N)" -lt $((pu_t0 + $3 * 1000000000)) ] || {
			cat "$T/pub.err" >&2
			nfail "publishing $1..$(($1 + $2 - 1)): not acknowledged in $3 s ($pu_i tries)"
		}
		sleep 0.2
	done
	echo "publishing $1..$(($1 + $2 - 1)): $(secs_since "$pu_t0") s, $((pu_i + 1)) tries"
}

t0=$(date +%s%N)
nats_cluster_start "$T/nats" || nfail "the cluster did not start"
echo "cluster up with a meta leader in $(secs_since "$t0") s: $NATS_URLS"
for n in 1 2 3; do
	eval p=\$NATS_PID_$n
	grep -qsF "$T/nats/n$n.conf" "/proc/$p/cmdline" ||
		nfail "n$n: pid $p is not our nats-server"
done

# A meta leader may not know yet that its two peers have JetStream: until
# it does, placing three replicas fails ("no suitable peers for
# placement", JetStream error 10005; seen once in CI, 2026-12-07). walld
# retries such a failure every second; so does this, for up to 10 s.
cr_t0=$(date +%s%N)
until "$JSDUMP" --urls "$NATS_URLS" --stream H create --subjects 'h.>' \
    --replicas 3 >/dev/null 2>"$T/create.err"; do
	[ "$(date +%s%N)" -lt $((cr_t0 + 10000000000)) ] || {
		cat "$T/create.err" >&2
		nfail "create an R3 stream: not placed in 10 s"
	}
	sleep 0.2
done
echo "R3 stream created in $(secs_since "$cr_t0") s"
publish_until 1 5 10
expect_eq "messages" "$(info_of messages)" 5
expect_eq "replicas" "$(info_of replicas)" 3
nats_stream_current H 10 || nfail "the stream's three replicas are not all current"
ok "an R3 stream takes messages, on three current replicas"

# The first kill takes the stream's leader: the two left elect another.
lead=$(info_of leader)
case $lead in n[123]) ;; *) nfail "stream leader: '$lead'";; esac
l1=${lead#n}
t0=$(date +%s%N)
nats_node_kill "$l1" || nfail "kill n$l1"
publish_until 6 5 30
echo "with n$l1 (the stream leader) killed: publishing again after $(secs_since "$t0") s"
expect_eq "messages with one node down" "$(info_of messages)" 10
ok "one node killed: the stream still takes messages (quorum 2 of 3)"

# The second kill takes the node that is not the stream's leader now: the
# leader left alone cannot commit. Message 11 may still be stored later,
# once the others are back: it is sent again then under the same id.
lead=$(info_of leader)
l2=
for n in 1 2 3; do
	[ "n$n" = "$lead" ] || [ "$n" = "$l1" ] || l2=$n
done
[ -n "$l2" ] || nfail "no node to kill (stream leader '$lead', n$l1 killed)"
nats_node_kill "$l2" || nfail "kill n$l2"
t0=$(date +%s%N)
if "$JSDUMP" --urls "$NATS_URLS" --timeout 3000 publish --subject h.1 \
    --first 11 --count 1 >"$T/pub" 2>"$T/pub.err"; then
	nfail "a message was acknowledged with two of three nodes down: $(cat "$T/pub")"
fi
el=$(secs_since "$t0")
# jsdump says how long the publish waited; the whole run (connecting, to
# the dead nodes too) must not take much longer either.
ms=$(sed -n 's/^jsdump: publish jsdump-11: failed after \([0-9]*\) ms.*/\1/p' "$T/pub.err")
[ -n "$ms" ] || nfail "publishing without quorum: $(cat "$T/pub.err")"
[ "$ms" -le 3500 ] && awk -v s="$el" 'BEGIN { exit !(s <= 10) }' ||
	nfail "publishing without quorum failed after $ms ms ($el s; timeout 3 s)"
echo "without quorum: $(sed 's/^jsdump: //' "$T/pub.err") ($el s)"
ok "two nodes killed: publishing fails within its timeout"

t0=$(date +%s%N)
nats_node_start "$l1" || nfail "restart n$l1"
nats_node_start "$l2" || nfail "restart n$l2"
nats_wait_leader 30 || nfail "no meta leader after the restarts"
publish_until 11 5 60
echo "both back: publishing again $(secs_since "$t0") s after the restarts"
nats_stream_current H 30 || nfail "the stream did not settle after the restarts"
echo "both back: every replica current $(secs_since "$t0") s after the restarts"
expect_eq "messages after the restarts" "$(info_of messages)" 15
expect_eq "last sequence after the restarts" "$(info_of last_seq)" 15

# Every message once, in order: sequence n holds message n.
"$JSDUMP" --urls "$NATS_URLS" --stream H dump >"$T/dump" || nfail "dump"
expect_eq "dumped messages" "$(wc -l <"$T/dump")" 15
awk '$1 != "seq" || $2 != NR || $6 != NR || $8 != "jsdump-" NR ||
    $10 != 32 { print "line " NR ": " $0; bad = 1 } END { exit bad }' \
	"$T/dump" || nfail "dump: messages out of order, missing or twice"
ok "both nodes back: publishing works again, every message once"

all=$NATS_ALL_PIDS
nats_cluster_stop
left=$(nats_left)
[ -z "$left" ] || nfail "nats-server left running: pid $left"
ok "every nats-server started ($(echo $all | wc -w) of them) has stopped"
