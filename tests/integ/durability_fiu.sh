# SPDX-License-Identifier: Apache-2.0
# Injected I/O errors with libfiu's fiu-run (a tool no one here wrote)
# against the unmodified walld: fdatasync, fsync and pwrite fail with EIO
# or ENOSPC, once at a chosen moment (enabled through fiu-ctrl while walld
# is idle), then at random under a concurrent load with rollovers.
# Expected: no append is acknowledged once every fdatasync fails; clients
# are told the outcome is unknown (walctl exit 74) or lose the connection;
# walld exits 74 and never retries a sync; after a restart without fiu
# every acknowledged record is there, intact, and appends continue above
# every acknowledged LSN.
#
# The directory as walld left it still holds what the page cache had not
# written: a write whose fdatasync failed may be there anyway. So walld
# also runs under tests/shims/powercut.c, after fiu's libraries (a call
# fiu fails never reaches it; one it lets through is journaled), and each
# check is made a second time on the image a power cut at walld's exit
# would leave (tests/helpers/powercut_image.py: every write no successful
# sync covered, undone): there an acknowledgement whose fdatasync failed
# would show as a lost record.
#
# Under AddressSanitizer (make check SANITIZE=1) its runtime must come
# first in LD_PRELOAD, before fiu's libraries: walld is started through
# `sh -c` that puts it there, still by fiu-run.
. "$(dirname "$0")/lib.sh"

command -v fiu-run >/dev/null && command -v fiu-ctrl >/dev/null ||
	fail "fiu-run and fiu-ctrl not found: run tools/deps.sh (fiu-utils)"
ASANLIB=$(ldd "$WALLD" 2>/dev/null | awk '/libasan/ { print $3 }')
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0
cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
YAML

SHIM=$B/tests/libpowercut.so
[ -f "$SHIM" ] || fail "$SHIM is not built (make tests)"
J=$T/journal
IMG=$T/image

# Starts walld under fiu-run with remote control ($T/fiu-PID.in/out), and
# the powercut shim after fiu's libraries, with a fresh journal. (fiu-run
# sets LD_PRELOAD to its own: the shim, and ASan's runtime first when
# walld has it, are added by `sh -c`.)
start_fiu() {
	rm -rf "$J" "$J.aside"
	mkdir -p "$DATA" || fail "mkdir $DATA"	# the shim opens it first
	WALD_POWERCUT_DIR=$DATA WALD_POWERCUT_JOURNAL=$J \
	fiu-run -x -f "$T/fiu" sh -c \
	    'export LD_PRELOAD="${1:+$1 }$0 $LD_PRELOAD"; shift; exec "$@"' \
	    "$SHIM" "$ASANLIB" \
	    "$WALLD" $ALLOW_ROOT --config "$T/walld.yaml" --socket "$SOCK" \
	    --data-dir "$DATA" >>"$LOG" 2>&1 &
	WALLD_PID=$!
	wait_ready
}

# fiu_ctl COMMAND: a libfiu remote control command to the running walld.
fiu_ctl() {
	fiu-ctrl -f "$T/fiu" -c "$1" "$WALLD_PID" >"$T/ctl" 2>&1 ||
		fail "fiu-ctrl -c '$1': $(cat "$T/ctl")"
	grep -q Error "$T/ctl" && fail "fiu-ctrl -c '$1': $(cat "$T/ctl")"
	return 0
}

# check_all WHAT: the image a power cut at walld's exit would leave, and
# then the directory itself, restarted without fiu or the shim: each
# holds every record ever acknowledged, intact, and the next append lands
# above all of them.
check_all() {
	rm -rf "$IMG"
	cp -a "$DATA" "$IMG" || fail "$1: copy of the directory"
	python3 "$TOP/tests/helpers/powercut_image.py" "$IMG" "$J" \
	    >"$T/image.out" 2>&1 || { cat "$T/image.out"; fail "$1: image"; }
	[ "$(awk '{ print $1 }' "$T/image.out")" -gt 0 ] ||
		fail "$1: the shim journaled nothing"
	orig=$DATA
	DATA=$IMG
	start_walld --config "$T/walld.yaml"
	DATA=$orig
	"$B/tests/walload" check -f -D "$IMG" -a 16 -b 2048 "$T"/ack.* \
	    >"$T/check" 2>&1 || { head -n 20 "$T/check"; fail "$1: the" \
	    "power-cut image lost an acknowledged record"; }
	stop_walld TERM || fail "$1: stop (image)"
	echo "$1, power-cut image ($(cat "$T/image.out")): $(sed 's/^checked //' "$T/check")"
	start_walld --config "$T/walld.yaml"
	"$B/tests/walload" check -f -D "$DATA" -a 16 -b 2048 "$T"/ack.* \
	    >"$T/check" 2>&1 || { cat "$T/check"; fail "$1: check"; }
	max=$(cat "$T"/ack.* | awk '$1 > m { m = $1 } END { print m + 0 }')
	lsn=$("$WALCTL" append "after $1") || fail "$1: append after restart"
	[ "$lsn" -gt "$max" ] ||
		fail "$1: LSN $lsn reissued (acknowledged up to $max)"
	stop_walld TERM || fail "$1: stop"
	echo "$1: $(sed 's/^checked //' "$T/check")"
}

# once N CALL ERRNO WHAT: a load, then every CALL fails with ERRNO; one
# more append must not be acknowledged, walld must exit 74.
once() {
	start_fiu
	"$B/tests/walload" run -s "$SOCK" -o "$T/ack.$1" -P 4 -n 300 -d 8 \
	    -a 16 -b 2048 -S 1 >"$T/load" 2>&1 || { cat "$T/load"; fail "$4: load"; }
	fiu_ctl "enable name=$2,failinfo=$3"
	st=0
	"$WALCTL" append "while $2 fails" >"$T/out" 2>"$T/err" || st=$?
	[ $st -ne 0 ] || fail "$4: an append was acknowledged while every" \
	    "$2 fails (LSN $(cat "$T/out"))"
	[ $st -eq 74 ] || [ $st -eq 75 ] ||
		fail "$4: walctl exit $st, not 74 or 75: $(cat "$T/err")"
	grep -q unknown "$T/err" || fail "$4: not 'outcome unknown': $(cat "$T/err")"
	st=0
	wait_walld || st=$?
	expect_eq "$4: walld exit status" "$st" 74
	grep -q "${2##*/}" "$LOG" || fail "$4: the log does not name ${2##*/}"
	ok "$4: not acknowledged, outcome unknown, walld exited 74"
	check_all "$4"
}

once 1 posix/io/sync/fdatasync 5 "fdatasync EIO"
once 2 posix/io/rw/pwrite 5 "pwrite EIO"
once 3 posix/io/rw/pwrite 28 "pwrite ENOSPC"

# random N WHAT COMMAND...: a load until walld fails by itself.
random() {
	n=$1 what=$2
	shift 2
	start_fiu
	"$B/tests/walload" run -s "$SOCK" -o "$T/ack.$n" -P 4 -n 0 -d 8 \
	    -a 16 -b 2048 -S 1 >"$T/load" 2>&1 &
	lpid=$!
	# Failures start once every client is connected (4 + the stats one):
	# a walld that fails at its first write must not refuse a late client.
	i=0
	while [ "$(stat_of connections)" -lt 5 ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "$what: the load did not connect"
		sleep 0.05
	done
	# All failpoints in one fiu-ctrl call: the first may end walld at once.
	for c in "$@"; do
		set -- "$@" -c "$c"
		shift
	done
	fiu-ctrl -f "$T/fiu" "$@" "$WALLD_PID" >"$T/ctl" 2>&1 ||
		fail "$what: fiu-ctrl: $(cat "$T/ctl")"
	grep -q Error "$T/ctl" && fail "$what: fiu-ctrl: $(cat "$T/ctl")"
	i=0
	while kill -0 "$WALLD_PID" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 400 ] || fail "$what: walld still runs after 20 s"
		sleep 0.05
	done
	st=0
	wait "$WALLD_PID" || st=$?
	WALLD_PID=
	expect_eq "$what: walld exit status" "$st" 74
	wait "$lpid" || { cat "$T/load"; fail "$what: a client failed"; }
	why=$(grep 'WAL write failed' "$LOG" | tail -n 1 |
	    sed 's/.*WAL write failed: \([^:]*\): .*: \([^;:]*\); .*/\1: \2/')
	ok "$what: walld exited 74 ($why) after $(cat "$T"/ack.$n.* | wc -l)" \
	    "acknowledged"
	check_all "$what"
}

random 4 "random fdatasync and fsync errors" \
    "enable_random name=posix/io/sync/fdatasync,probability=0.02,failinfo=5" \
    "enable_random name=posix/io/sync/fsync,probability=0.3,failinfo=5"
random 5 "random pwrite errors" \
    "enable_random name=posix/io/rw/pwrite,probability=0.01,failinfo=5"
random 6 "random pwrite ENOSPC" \
    "enable_random name=posix/io/rw/pwrite,probability=0.01,failinfo=28"
ok "fiu-run: nothing acknowledged without a successful fdatasync was lost, on the directory or on the power-cut image"
