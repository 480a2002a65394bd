# SPDX-License-Identifier: Apache-2.0
# repl_restore: walctl restore and read --nats against one real
# nats-server with JetStream. Logs that walld wrote (plaintext, then
# encrypted) are published into streams by tests/helpers/replpub (a test
# tool standing in for the replicator), restored into new directories,
# and read back: the same records byte for byte, the sealed segments
# identical, REPLICA with the next epoch, walld going on at the next LSN
# and recognising a producer's retry of a record it restored.
# A stream with a gap or a malformed message, or one starting inside an
# encrypted segment, is refused naming the sequence, and leaves nothing.
. "$(dirname "$0")/lib.sh"
REPLPUB=$B/tests/replpub
command -v nats-server >/dev/null ||
    fail "nats-server is not installed (tools/deps.sh installs it)"

# One nats-server with JetStream on a port it chooses, killed at exit.
nats-server -js -a 127.0.0.1 -p -1 -sd "$T/js" >"$T/nats.log" 2>&1 &
EXTRA_PIDS="$EXTRA_PIDS $!"
i=0
while ! grep -qs "Server is ready" "$T/nats.log"; do
	i=$((i + 1)); [ $i -lt 200 ] || fail "nats-server: $(cat "$T/nats.log")"
	sleep 0.05
done
port=$(sed -n 's/.*Listening for client connections on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
    "$T/nats.log")
[ -n "$port" ] || fail "no client port in the nats-server log"
NATS=nats://127.0.0.1:$port

# Writes a log into $DATA through walld (config $1): records of every
# length up to 4 KiB from four tenant/vshard/type groups, binary ones,
# an empty one, a rotation in the middle: three or more 1 MiB segments.
make_log() {
	start_walld --config "$1"
	awk 'BEGIN { p = sprintf("%4096s", ""); gsub(/ /, "x", p);
	    for (i = 1; i <= 1200; i++) print "rec " i " " substr(p, 1, i * 37 % 4000) }' \
	    >"$T/lines"
	"$WALCTL" append --lines --tenant 1 --vshard 0 <"$T/lines" >/dev/null ||
	    fail "append --lines"
	head -c 3000 /dev/urandom | "$WALCTL" append --tenant 2 --vshard 3 \
	    --type 1 >/dev/null || fail "append binary"
	"$WALCTL" append --file /dev/null --tenant 2 --vshard 3 >/dev/null ||
	    fail "append empty"
	PROD_LSN=$("$WALCTL" append --producer 42 --seq 1 --tenant 6 idem) ||
	    fail "append as a producer"
	"$WALCTL" rotate >/dev/null || fail rotate
	"$WALCTL" append --lines --tenant 3 --vshard 7 --type 2 <"$T/lines" \
	    >/dev/null || fail "append --lines"
	head -c 100000 /dev/urandom | "$WALCTL" append --tenant 4 --vshard 65535 \
	    --type 65535 >/dev/null || fail "append binary"
	LAST=$(settled_lsn)
	stop_walld || fail "walld exit status $?"
	[ "$(ls "$DATA"/*.wal | wc -l)" -ge 3 ] || fail "fewer than 3 segments"
}

# same_records DIR1 DIR2 [read options]: read --dir of both, byte for byte.
same_records() {
	d1=$1 d2=$2; shift 2
	"$WALCTL" read --dir "$d1" "$@" >"$T/r1" || fail "read --dir $d1 $*"
	"$WALCTL" read --dir "$d2" "$@" >"$T/r2" || fail "read --dir $d2 $*"
	[ -s "$T/r1" ] || fail "read --dir $d1 $*: nothing"
	cmp -s "$T/r1" "$T/r2" || fail "read --dir $*: $d1 and $d2 differ"
}

# same_sealed DIR1 DIR2: every segment of DIR2 but its last is DIR1's.
same_sealed() {
	n=$(ls "$2" | grep -c '\.wal$')
	for f in $(ls "$2" | grep '\.wal$' | head -n $((n - 1))); do
		cmp -s "$1/$f" "$2/$f" || fail "sealed segment $f differs"
	done
}

# field NAME FILE: the value of one "name value" line of restore's output.
field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

cat >"$T/plain.yaml" <<YAML
storage:
  segment_size: 1MiB
YAML
make_log "$T/plain.yaml"
n=$("$REPLPUB" --nats "$NATS" --stream PLAIN --dir "$DATA") || fail replpub
expect_eq "messages published" "$n" "$LAST"
log=$(sed -n 's/^log //p' "$DATA/REPLICA")

"$WALCTL" restore --nats "$NATS" --stream PLAIN --dir "$T/plain" >"$T/out" ||
    fail "restore: exit $?"
expect_eq "restore: records" "$(field records "$T/out")" "$LAST"
expect_eq "restore: first_lsn" "$(field first_lsn "$T/out")" 1
expect_eq "restore: last_lsn" "$(field last_lsn "$T/out")" "$LAST"
expect_eq "restore: segments" "$(field segments "$T/out")" \
    "$(ls "$DATA" | grep -c '\.wal$')"
expect_eq "restore: log" "$(field log "$T/out")" "$log"
expect_eq "restore: epoch" "$(field epoch "$T/out")" 2
expect_eq "REPLICA" "$(cat "$T/plain/REPLICA")" "log $log
epoch 2"
same_sealed "$DATA" "$T/plain"
same_records "$DATA" "$T/plain"
same_records "$DATA" "$T/plain" --json
"$WALCTL" verify --dir "$T/plain" >/dev/null || fail "verify of the restored"
ok "restore: $LAST records, sealed segments byte for byte, REPLICA epoch 2"

# read --nats prints what read --dir prints, with every option.
for args in "" "--json" "--tenant 3" "--from 100 --to 1500 --json" \
    "--vshard 3 --type 1" "--from $LAST" "--from 1201 --to 1202"; do
	"$WALCTL" read --dir "$DATA" $args >"$T/want" || fail "read --dir $args"
	"$WALCTL" read --nats "$NATS" --stream PLAIN $args >"$T/got" ||
	    fail "read --nats $args: exit $?"
	cmp -s "$T/want" "$T/got" || fail "read --nats $args differs from read --dir"
done
expect_eq "read --nats past the end" \
    "$("$WALCTL" read --nats "$NATS" --stream PLAIN --from $((LAST + 5)))" ""
ok "read --nats: the same output as read --dir"

# --follow prints what the stream has, then what comes.
: >"$T/follow"
"$WALCTL" read --nats "$NATS" --stream PLAIN --from "$LAST" --follow \
    >"$T/follow" 2>&1 &
fpid=$!
EXTRA_PIDS="$EXTRA_PIDS $fpid"
i=0
while [ "$(wc -l <"$T/follow")" -lt 1 ]; do
	i=$((i + 1)); [ $i -lt 200 ] || fail "--follow printed nothing"
	sleep 0.05
done
# One more record, published the way walld would: the restored copy goes
# on at LAST + 1 and its replpub publishes that one record under epoch 2.
cp -a "$T/plain" "$T/more"
DATA0=$DATA DATA=$T/more
start_walld --config "$T/plain.yaml"
expect_eq "a producer's retry on the restored log" \
    "$("$WALCTL" append --producer 42 --seq 1 --tenant 6 idem)" "$PROD_LSN"
expect_eq "append after restore" "$("$WALCTL" append "followed")" $((LAST + 1))
stop_walld || fail "walld on the restored directory: exit $?"
DATA=$DATA0
"$REPLPUB" --nats "$NATS" --stream PLAIN --dir "$T/more" --from $((LAST + 1)) \
    >/dev/null || fail "replpub --from"
i=0
while ! grep -q followed "$T/follow"; do
	i=$((i + 1)); [ $i -lt 200 ] || fail "--follow did not print the new record"
	sleep 0.05
done
kill "$fpid"; wait "$fpid" 2>/dev/null
expect_eq "follow output" "$(tail -n 1 "$T/follow")" \
    "lsn=$((LAST + 1)) type=0 tenant=0 vshard=0 len=8 data=\"followed\""
ok "walld goes on at LSN $((LAST + 1)) on the restored directory; read --nats --follow"

# A second restore takes epoch 3: the stream's highest (2) + 1.
"$WALCTL" restore --nats "$NATS" --stream PLAIN --dir "$T/again" >"$T/out" ||
    fail "second restore"
expect_eq "second restore: epoch" "$(field epoch "$T/out")" 3
expect_eq "second restore: records" "$(field records "$T/out")" $((LAST + 1))
same_records "$T/more" "$T/again"

# inside DIR: an LSN inside the second segment (sequence = LSN here).
inside() {
	echo $(( $(ls "$1" | grep '\.wal$' | sed -n '2s/^0*\([0-9]*\)\.wal$/\1/p') + 1 ))
}

# From a sequence inside a plaintext segment: the copy's first segment
# begins there.
in=$(inside "$DATA")
"$WALCTL" restore --nats "$NATS" --stream PLAIN --dir "$T/part" \
    --from-seq "$in" >"$T/out" || fail "restore --from-seq $in"
expect_eq "--from-seq: first_lsn" "$(field first_lsn "$T/out")" "$in"
same_records "$T/more" "$T/part" --from "$in"
[ -f "$T/part/$(printf %020d "$in").wal" ] || fail "no segment at LSN $in"
"$WALCTL" verify --dir "$T/part" >/dev/null || fail "verify of the part"
ok "second restore: epoch 3; --from-seq inside a plaintext segment"

# Encrypted: restored as stored, read with the key ring only.
KR=$T/keyring
(umask 077; "$WALCTL" keygen --id 1 >"$KR") || fail keygen
cat >"$T/enc.yaml" <<YAML
storage:
  segment_size: 1MiB
encryption:
  keyring: $KR
YAML
DATA=$T/encdata
make_log "$T/enc.yaml"
"$REPLPUB" --nats "$NATS" --stream ENC --prefix enc.log --dir "$DATA" \
    >/dev/null || fail "replpub ENC"
"$WALCTL" restore --nats "$NATS" --stream ENC --dir "$T/enc" >"$T/out" ||
    fail "restore ENC: exit $?"
expect_eq "restore ENC: records" "$(field records "$T/out")" "$LAST"
same_sealed "$DATA" "$T/enc"
same_records "$DATA" "$T/enc" --keyring "$KR"
"$WALCTL" verify --dir "$T/enc" --keyring "$KR" >/dev/null ||
    fail "verify --keyring of the restored"
for args in "" "--json --from 7" "--tenant 2"; do
	"$WALCTL" read --dir "$DATA" --keyring "$KR" $args >"$T/want" ||
	    fail "read --dir --keyring $args"
	"$WALCTL" read --nats "$NATS" --stream ENC --keyring "$KR" $args \
	    >"$T/got" || fail "read --nats --keyring $args: exit $?"
	cmp -s "$T/want" "$T/got" || fail "read --nats --keyring $args differs"
done
st=0; "$WALCTL" read --nats "$NATS" --stream ENC >/dev/null 2>"$T/err" || st=$?
expect_eq "read --nats without the key ring" $st 65
grep -q "sequence 1: LSN 1: encrypted with key id 1, and no key ring was given" \
    "$T/err" || fail "no key: $(cat "$T/err")"
DATA=$T/enc
start_walld --config "$T/enc.yaml"
expect_eq "a producer's retry on the restored encrypted log" \
    "$("$WALCTL" append --producer 42 --seq 1 --tenant 6 idem)" "$PROD_LSN"
expect_eq "append after encrypted restore" "$("$WALCTL" append x)" $((LAST + 1))
stop_walld || fail "walld on the restored encrypted directory: exit $?"
ok "encrypted: restored as stored; read --nats --keyring; walld goes on"

# Refusals: each leaves nothing behind.
refused() {	# WANT-EXIT WANT-TEXT restore-arguments...
	want=$1 text=$2; shift 2
	st=0; "$WALCTL" restore --nats "$NATS" "$@" --dir "$T/bad" >/dev/null \
	    2>"$T/err" || st=$?
	expect_eq "restore $* exit" $st "$want"
	grep -qF -e "$text" "$T/err" || fail "restore $*: $(cat "$T/err")"
	[ ! -e "$T/bad" ] || fail "restore $* left $T/bad"
}
refused 65 "inside an encrypted segment" --stream ENC --from-seq "$(inside "$DATA")"
"$REPLPUB" --nats "$NATS" --stream GAP --prefix gap.log --dir "$DATA0" \
    --skip 10 >/dev/null || fail "replpub GAP"
refused 65 "stream GAP: sequence 10: LSN 11 where 10 was expected" --stream GAP
"$REPLPUB" --nats "$NATS" --stream GARBLED --prefix garbled.log \
    --dir "$DATA0" --garble 7 >/dev/null || fail "replpub GARBLED"
refused 65 "stream GARBLED: sequence 7: message on garbled.log.0: Walld-Segment missing or malformed" \
    --stream GARBLED
refused 66 "stream NONE: no such stream" --stream NONE
refused 65 "--from-seq 99999: stream PLAIN holds sequences 1 to" --stream PLAIN \
    --from-seq 99999
mkdir "$T/bad" && touch "$T/bad/x"
st=0; "$WALCTL" restore --nats "$NATS" --stream PLAIN --dir "$T/bad" \
    2>"$T/err" || st=$?
expect_eq "restore into a directory with a file" $st 73
grep -q "not empty" "$T/err" || fail "not empty: $(cat "$T/err")"
[ -e "$T/bad/x" ] || fail "restore touched a directory that was not empty"
rm -r "$T/bad"
st=0; "$WALCTL" restore --nats nats://127.0.0.1:1 --stream PLAIN --dir "$T/bad" \
    2>/dev/null || st=$?
expect_eq "restore from no server" $st 69
st=0; "$WALCTL" restore --stream PLAIN --dir "$T/bad" 2>/dev/null || st=$?
expect_eq "restore without --nats" $st 64
ok "refused: inside an encrypted segment, a gap, a malformed message, no stream, not empty, no server"
