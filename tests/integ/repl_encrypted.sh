# repl_encrypted: an encrypted log replicated into a three-node JetStream
# cluster keeps its plaintext off the NATS servers (docs/REPLICATION.md,
# "Data": the ciphertext and tag as stored; the keys never leave walld).
#
# walld with a key ring writes records carrying a known marker
# ("PLAINTEXT-MARKER-i", some large ones too), every one replicated; the
# servers are stopped (so that whatever they buffer is written) and their
# storage directories (streams, RAFT logs, metadata) are searched for the
# marker: nowhere. walctl read --nats --keyring gives the plaintext back,
# as read --dir --keyring does; without the key ring the stream cannot be
# read. Then, to show the search can find what is there, an unencrypted
# walld on the same servers replicates the same records into another
# stream, and the same search finds the marker on every server.
#
# What makes it fail: walld publishing decrypted payloads (the search
# finds the marker: tried by a local edit making the replicator read
# with the key ring); a stream that does not decrypt back to the log.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/repl-lib.sh"

t_start=$(now_ms)
MARK=PLAINTEXT-MARKER

# stores_with PATTERN: the nodes (n1 n2 n3) whose storage directory holds
# PATTERN anywhere, in any file.
stores_with() {
	for n in 1 2 3; do
		[ -d "$T/nats/n$n" ] || rfail "no storage directory for n$n"
		grep -r -l -a -F -e "$1" "$T/nats/n$n" >/dev/null 2>&1 && printf 'n%s ' $n
	done
	echo
}

# all_nodes STOP|START: every node stopped (SIGTERM: it writes what it
# holds), or started again with the stream's replicas all current.
all_nodes() {
	for n in 1 2 3; do
		if [ "$1" = STOP ]; then
			nats_node_stop $n || rfail "stop n$n"
		else
			nats_node_start $n || rfail "start n$n"
		fi
	done
	if [ "$1" = START ]; then
		nats_wait_leader 30 || rfail "no meta leader after the restart"
	fi
}

# marker_lines N: N records "PLAINTEXT-MARKER-i", every 50th 64 KiB long.
marker_lines() {
	awk -v n="$1" -v m="$MARK" 'BEGIN { p = "z";
	    while (length(p) < 65536) p = p p;
	    for (i = 1; i <= n; i++)
		printf "%s-%d %s\n", m, i, (i % 50 == 0 ? p : "") }'
}

repl_start_cluster
KR=$T/keyring
(umask 077; "$WALCTL" keygen --id 1 >"$KR") || fail keygen
repl_yaml "$T/enc.yaml" "timeout: 2s"
cat >>"$T/enc.yaml" <<YAML
encryption:
  keyring: $KR
YAML

start_walld --config "$T/enc.yaml"
wait_state "$SOCK" running 20
marker_lines 300 >"$T/lines"
"$WALCTL" append --lines --tenant 4 <"$T/lines" >/dev/null || fail "append --lines"
"$WALCTL" rotate >/dev/null || fail rotate
lsn=$("$WALCTL" append --ack replicated "$MARK-last") ||
	rfail "append --ack replicated: exit $?"
n=$(wait_replicated "$SOCK" 30)
expect_eq "records" "$n" 301
stop_walld || fail "walld exit status $?"
grep -r -l -a -F -e "$MARK" "$DATA" && fail "the marker is in walld's own encrypted log"
nats_stream_current "$STREAM" 20 || rfail "the stream's replicas are not current"

all_nodes STOP
found=$(stores_with "$MARK")
[ -z "${found% }" ] || fail "plaintext of an encrypted log on the NATS servers: $found"
# The stores do hold the stream: its messages' subjects are there.
expect_eq "nodes storing the stream" "$(stores_with walld.log.0)" "n1 n2 n3 "
ok "encrypted: 301 records replicated; the marker is nowhere in the three servers' storage"

all_nodes START
nats_stream_current "$STREAM" 30 || rfail "the stream did not settle after the restart"
"$WALCTL" read --dir "$DATA" --keyring "$KR" >"$T/want" || fail "read --dir --keyring"
"$WALCTL" read --nats "$NATS_URLS" --stream "$STREAM" --keyring "$KR" >"$T/got" ||
	rfail "read --nats --keyring: exit $?"
cmp -s "$T/want" "$T/got" || fail "read --nats --keyring differs from read --dir --keyring"
expect_eq "records read back with the marker" "$(grep -c "$MARK-" "$T/got")" 301
grep -q "data=\"$MARK-300 zzzz" "$T/got" || fail "record 300 not read back"
"$WALCTL" read --dir "$DATA" --keyring "$KR" --json --from 290 >"$T/want" ||
	fail "read --dir --json"
"$WALCTL" read --nats "$NATS_URLS" --stream "$STREAM" --keyring "$KR" --json \
    --from 290 >"$T/got" || rfail "read --nats --json"
cmp -s "$T/want" "$T/got" || fail "read --nats --keyring --json differs"
st=0
"$WALCTL" read --nats "$NATS_URLS" --stream "$STREAM" >/dev/null 2>"$T/err" || st=$?
expect_eq "read --nats without the key ring: exit" $st 65
check_stream_seq 301 "$(log_id "$DATA")" 1
ok "read --nats --keyring gives the plaintext back, as read --dir --keyring"

# The search can fail: the same records, unencrypted, into another stream.
DATA=$T/plain
STREAM=PLAIN
repl_yaml "$T/plain.yaml" "timeout: 2s" "subject_prefix: plain.log"
start_walld --config "$T/plain.yaml"
wait_state "$SOCK" running 20
"$WALCTL" append --lines <"$T/lines" >/dev/null || fail "append --lines"
n=$(wait_replicated "$SOCK" 30)
expect_eq "unencrypted records" "$n" 300
stop_walld || fail "walld exit status $?"
nats_stream_current "$STREAM" 20 || rfail "the stream's replicas are not current"
all_nodes STOP
expect_eq "nodes holding the marker of the unencrypted log" \
    "$(stores_with "$MARK-123 ")" "n1 n2 n3 "
ok "control: the same search finds the marker of an unencrypted log on every server"
echo "wall time: $(($(now_ms) - t_start)) ms"
