# SPDX-License-Identifier: Apache-2.0
# Power cuts under the real walld. walld runs with tests/shims/powercut.c
# preloaded, which journals, for every change to its data directory, what
# the change overwrote and which syncs made it durable. Each round: a
# concurrent load into 1 MiB segments, rotations and truncations, then
# kill -9; a copy of the directory is rolled back by
# tests/helpers/powercut_image.py to what a power cut at the kill could
# leave (every unsynced write, size change, creation, rename and unlink
# lost; every other round, a random part of them kept instead, at 512-byte
# sectors). On that image: `walctl verify --dir` finds no problem, walld
# starts (without the shim), every acknowledged record is there and intact
# (`walload check`), and the next append lands above every acknowledged
# LSN. CUTS (default 1) more images a round are cut earlier, at points of
# the journal (the first, third... right after a creation, rename, unlink
# or directory sync: rollovers, rotations, truncations, seal and key
# rotation steps): there, what the earlier rounds acknowledged must hold.
# The next round goes on from the directory as the kill left it.
# One round makes every sync fail with EIO from a random point
# (WALD_POWERCUT_FAIL_SYNC_AFTER): walld must exit 74, and nothing it
# acknowledged may be missing from the image, where the writes of the
# failed syncs are lost. The last round asks for a seal and kills walld
# 0-30 ms later: an acknowledged seal holds in the image.
# All of that twice: a plain log for ROUNDS rounds (default 8, direct_io
# auto: O_DIRECT where the file system has it), then an encrypted one,
# buffered (direct_io off), for ROUNDS / 2, where every round but the
# failing one also rotates the key (a new key in the ring, SIGHUP) before
# the kill.
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-8}
CUTS=${CUTS:-1}
SHIM=$B/tests/libpowercut.so
IMAGE_TOOL=$TOP/tests/helpers/powercut_image.py
[ -f "$SHIM" ] || fail "$SHIM not built"
command -v python3 >/dev/null || fail "python3 not found"
# The shim comes before the ASan runtime in the preload order.
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0
cat >"$T/plain.yaml" <<YAML
storage:
  segment_size: 1MiB
YAML
KR=$T/keyring
(umask 077; "$WALCTL" keygen --id 1 >"$KR") || fail "keygen"
cat >"$T/crypt.yaml" <<YAML
storage:
  segment_size: 1MiB
  direct_io: off
encryption:
  keyring: $KR
YAML
IMG=$T/image
J=$T/journal
rand() {	# rand N: 0..N-1
	od -An -N4 -tu4 /dev/urandom | awk -v n="$1" '{ print $1 % n }'
}

# start_cut [FAIL_AFTER]: walld on $DATA under the shim, a fresh journal.
start_cut() {
	rm -rf "$J" "$J.aside"
	env LD_PRELOAD="$SHIM" WALD_POWERCUT_DIR="$DATA" \
	    WALD_POWERCUT_JOURNAL="$J" \
	    ${1:+WALD_POWERCUT_FAIL_SYNC_AFTER=$1} \
	    "$WALLD" $ALLOW_ROOT --config "$CONF" --socket "$SOCK" \
	    --data-dir "$DATA" >>"$LOG" 2>&1 &
	WALLD_PID=$!
	wait_ready
}

# check_image ROUND SEALED MAX "ACKS" ["CUT"]: the image a power cut at
# the kill (or, with CUT "--at SEQ" or "--at-time T", earlier) would leave
# holds every record of the ack files ACKS; an acknowledged seal (SEALED
# yes) holds, and a new append lands above MAX.
check_image() {
	what="round $1${5:+, cut $5}"
	rm -rf "$IMG"
	cp -a "$DATA" "$IMG" || fail "$what: copy of the directory"
	torn=
	[ $(($1 % 2)) -eq 1 ] || torn="--torn $(rand 1000000)"
	python3 "$IMAGE_TOOL" $torn ${5:-} "$IMG" "$J" \
	    >"$T/image.out" 2>&1 || {
		cat "$T/image.out" >&2
		fail "$what: the image was not built"
	}
	entries=$(awk '{ print $1 }' "$T/image.out")
	undone=$(awk '{ print $4 }' "$T/image.out")
	# A shim that journals nothing would make every image look fine.
	[ "$entries" -gt 0 ] || fail "$what: the journal is empty"
	vst=0
	"$WALCTL" verify --dir "$IMG" $KEYS >"$T/verify" 2>&1 || vst=$?
	# Cut before the first segment was created: an empty log, fine
	# while nothing was acknowledged.
	if [ $vst -eq 66 ] && [ -z "$4" ] &&
	    grep -q "no segment file" "$T/verify"; then
		vst=empty
	elif [ $vst -ne 0 ]; then
		cat "$T/verify" >&2
		keep_failure "$what"
		fail "$what: walctl verify found a problem in the cut image"
	fi
	# walld recovers the image: it must start, without the shim.
	orig=$DATA
	DATA=$IMG
	start_walld --config "$CONF"
	DATA=$orig
	[ $vst = empty ] ||
	"$B/tests/walload" check -t -D "$IMG" $WKEYS -a 16 -b 2048 $4 \
	    >"$T/check" 2>&1 || {
		head -n 10 "$T/check" >&2
		keep_failure "$what"
		fail "$what: the cut image lost an acknowledged record:" \
		    "$(grep -c 'is missing' "$T/check") missing, $(grep -m 1 \
		    -v 'is missing' "$T/check")"
	}
	ast=0	# not st: stop_walld sets it
	lsn=$("$WALCTL" append "after the power cut" 2>"$T/err") || ast=$?
	stop_walld || fail "$what: walld on the image did not stop cleanly"
	[ -z "$4" ] || checked=$((checked + $(cat $4 | wc -l)))
	images=$((images + 1))
	if [ "$2" = yes ] && [ $ast -ne 73 ]; then
		keep_failure "$what"
		fail "$what: append after an acknowledged seal: exit $ast," \
		    "want 73 (the seal did not hold)"
	elif [ $ast -ne 73 ] && [ $ast -ne 0 ]; then
		cat "$T/err" >&2
		fail "$what: append on the image: exit $ast"
	elif [ $ast -eq 0 ]; then
		[ "$lsn" -gt "$3" ] ||
			fail "$what: LSN $lsn reissued (acknowledged up to $3)"
	fi
}

# A failing round's directory and journal, for a look, where
# WALD_POWERCUT_KEEP says (the image is rebuilt from them).
keep_failure() {
	[ -n "${WALD_POWERCUT_KEEP:-}" ] || return 0
	rm -rf "$WALD_POWERCUT_KEEP"
	mkdir -p "$WALD_POWERCUT_KEEP" &&
	cp -a "$DATA" "$J" "$J.aside" $ACKS "$T"/snap* "$KR" "$CONF" \
	    "$WALD_POWERCUT_KEEP"/ &&
	echo "round $1 kept in $WALD_POWERCUT_KEEP (image made from" \
	    "data/ and journal)" >&2
}

# The shim and the image tool themselves, on changes whose outcome is
# known: python3 makes them through the C library (its 64-bit-offset
# calls), then the image at the end and right after entry 8 must be what
# the failure model says.
mkdir "$T/self" || fail "mkdir"
LD_PRELOAD="$SHIM" WALD_POWERCUT_DIR="$T/self" WALD_POWERCUT_JOURNAL="$J" \
    python3 - "$T/self" <<'PY' || fail "the shim's self-test did not run"
import os, sys
d = sys.argv[1]
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
a = os.open(d + "/a", os.O_WRONLY | os.O_CREAT, 0o644)   # 1 C, 2 W
os.pwrite(a, b"A" * 1000, 0)
os.fsync(a)                                              # 3 S
os.fsync(dfd)                                            # 4 D
os.pwrite(a, b"B" * 10, 0)                               # 5 W: lost
os.pwrite(a, b"C" * 10, 2000)                            # 6 W: lost
k = os.open(d + "/keep", os.O_WRONLY | os.O_CREAT, 0o644) # 7 C, 8 W
os.pwrite(k, b"K" * 600, 0)
os.fdatasync(k)                                          # 9 S
os.fsync(dfd)                                            # 10 D
os.ftruncate(k, 100)                                     # 11 W: undone
b = os.open(d + "/b", os.O_WRONLY | os.O_CREAT, 0o644)   # 12 C: undone
os.rename(d + "/a", d + "/c")                            # 13 R: undone
os.unlink(d + "/keep")                                   # 14 U: undone
os.write(b, b"x")                                        # 15 W
PY
self_image() {	# self_image [--at SEQ]: the files of the image, and sizes
	rm -rf "$IMG"
	cp -a "$T/self" "$IMG" &&
	python3 "$IMAGE_TOOL" "$@" "$IMG" "$J" >/dev/null ||
		fail "the self-test's image was not built"
	(cd "$IMG" && for f in *; do
		printf '%s:%s:%s ' "$f" "$(wc -c <"$f")" "$(head -c 1 "$f")"
	done)
}
expect_eq "the self-test's image" "$(self_image)" "a:1000:A keep:600:K "
expect_eq "the self-test's image after entry 8" "$(self_image --at 8)" \
    "a:1000:A "
rm -rf "$J" "$J.aside"

# snap_acks NAME: $T/snap gets the lines acknowledged so far in this round
# (whole lines only), snap_t a time just after, in seconds of /proc/uptime
# rounded up: a cut at snap_t must hold all of them.
snap_acks() {
	: >"$T/snap"
	for f in "$T"/$1.ack.r$r.*; do
		cp "$f" "$T/snap.one" || fail "copy of $f"
		[ -z "$(tail -c 1 "$T/snap.one")" ] || sed -i '$d' "$T/snap.one"
		cat "$T/snap.one" >>"$T/snap"
	done
	snap_t=$(awk '{ printf "%.2f\n", $1 + 0.01 }' /proc/uptime)
}

# phase NAME ROUNDS: a log in $T/NAME, ROUNDS rounds.
phase() {
	DATA=$T/$1
	mkdir "$DATA" || fail "mkdir $DATA"
	prev_max=0 r=1 rounds=$2
	fail_round=$(($2 / 2))
	ACKS="$T/$1.ack.r*"
	while [ $r -le "$rounds" ]; do
		one_round "$1"
		r=$((r + 1))
	done
}

# one_round NAME: round $r of the log in $T/NAME.
one_round() {
	after= rotated=
	[ $r -ne $fail_round ] || after=$((20 + $(rand 300)))
	start_cut $after
	"$B/tests/walload" run -s "$SOCK" -o "$T/$1.ack.r$r" -P 4 -n 0 -d 8 \
		-a 16 -b 2048 >/dev/null 2>&1 &
	lpid=$!
	EXTRA_PIDS=$lpid
	i=0
	while ! cat "$T"/$1.ack.r$r.* 2>/dev/null | grep -q . &&
	    kill -0 "$WALLD_PID" 2>/dev/null; do
		kill -0 "$lpid" 2>/dev/null || fail "round $r: walload exited"
		i=$((i + 1))
		[ $i -lt 200 ] || fail "round $r: nothing acknowledged in 10 s"
		sleep 0.05
	done
	ms=$((100 + $(rand 500)))
	case $(rand 3) in
	0)	"$WALCTL" rotate >/dev/null 2>&1 ;;
	*)	first=$("$WALCTL" sync 2>/dev/null) &&
		"$WALCTL" truncate --before $((first * 3 / 4 + 1)) >/dev/null 2>&1 ;;
	esac
	# Key rotation: a new key in the ring and SIGHUP; walld seals the
	# active segment and starts the next under the new key.
	if [ "$1" = crypt ] && [ $r -ne $fail_round ]
	then
		"$WALCTL" keygen --keyring "$KR" >>"$KR" || fail "keygen"
		kill -HUP "$WALLD_PID"
		keys=$((keys + 1))
		rotated="; key rotated"
	fi
	# Part way: what is acknowledged by now must hold at a cut right
	# after (the acknowledgements carry no journal position: their time
	# does it).
	ms1=$(rand $ms)
	sleep "$(awk -v ms=$ms1 'BEGIN { print ms / 1000 }')"
	snap_acks "$1"
	sleep "$(awk -v ms=$((ms - ms1)) 'BEGIN { print ms / 1000 }')"
	sealed=no
	if [ $r -eq $fail_round ]; then
		# Every sync fails from the chosen one on: walld must give up.
		st=0
		wait_walld || st=$?
		expect_eq "round $r: walld's exit after sync $after failed" $st 74
	else
		if [ $r -eq "$rounds" ]; then
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
		wst=0
		wait "$WALLD_PID" 2>/dev/null || wst=$?
		WALLD_PID=
		# Not dead before (a shim that gave up aborts walld).
		[ $wst -eq 137 ] ||
			fail "round $r: walld ended before the kill (status $wst)"
		if [ $r -eq "$rounds" ] && wait "$spid"; then
			sealed=yes
		fi
	fi
	wait "$lpid" 2>/dev/null
	EXTRA_PIDS=
	wait	# the rotation or truncation sent into the background

	n=$(cat "$T"/$1.ack.r$r.* | wc -l)
	[ $r -eq $fail_round ] || [ "$n" -gt 0 ] ||
		fail "round $r: nothing acknowledged"
	min=$(cat "$T"/$1.ack.r$r.* |
	    awk 'NR == 1 || $1 < m { m = $1 } END { print m + 0 }')
	[ "$n" -eq 0 ] || [ "$min" -gt "$prev_max" ] ||
		fail "round $r: LSN $min reissued (earlier rounds reached $prev_max)"
	max=$(cat $ACKS | awk '$1 > m { m = $1 } END { print m + 0 }')
	check_image $r $sealed $max "$ACKS"
	main_undone=$undone
	# Earlier cuts, swept through the round (CUTS of them, half right
	# after a rollover, rotation, truncation or seal step): what the
	# earlier rounds had acknowledged must hold at each.
	prev_acks=
	k=1
	while [ $k -lt $r ]; do
		prev_acks="$prev_acks $T/$1.ack.r$k.*"
		k=$((k + 1))
	done
	for at in $(python3 "$IMAGE_TOOL" --points "$(rand 1000000)" "$CUTS" \
	    "$J"); do
		check_image $r no $prev_max "$prev_acks" "--at $at"
		cuts=$((cuts + 1))
	done
	check_image $r no $prev_max "$prev_acks $T/snap" "--at-time $snap_t"
	cuts=$((cuts + 1))
	snapped=$((snapped + $(wc -l <"$T/snap")))
	prev_max=$max
	echo "$1 round $r: $n acknowledged, up to LSN $max; image: $main_undone" \
	    "changes undone$([ -z "$torn" ] || echo ", torn")$rotated$(
	    [ $r -ne $fail_round ] || echo "; syncs failed from the ${after}th")$(
	    [ $r -ne "$rounds" ] || echo "; seal acknowledged: $sealed")"
}

checked=0 images=0 keys=0 cuts=0 snapped=0
CONF=$T/plain.yaml KEYS= WKEYS=
phase plain "$ROUNDS"
CONF=$T/crypt.yaml KEYS="--keyring $KR" WKEYS="-k $KR"
phase crypt $(((ROUNDS + 1) / 2))
ok "$images power cuts under walld ($cuts earlier in the rounds," \
    "$checked acknowledged records checked, $snapped of them at a cut" \
    "part way through their round, $keys key rotations):" \
    "nothing acknowledged was lost"
