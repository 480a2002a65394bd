# SPDX-License-Identifier: Apache-2.0
# The three clients against one walld: Python (python/, through
# tests/helpers/interop.py), Rust (rust/, its example interop, built here
# with Debian's cargo) and C (libwal, tests/helpers/walinterop) append at
# the same time, each $INTEROP_COUNT records (3000) of its own tenant and
# types, binary payloads with every byte value, empty and 70 KB ones,
# blocking, nowait and pipelined. Then each of the three reads the whole
# log back: the three readings must be identical byte for byte, and be
# exactly the records the writers got LSNs for, with their payloads. Each
# also reads another writer's tenant alone (the TENANT filter).
. "$(dirname "$0")/lib.sh"

COUNT=${INTEROP_COUNT:-3000}
PY=/usr/bin/python3
CARGO=/usr/bin/cargo
WALINTEROP=$B/tests/walinterop
export LC_ALL=C
[ -x "$PY" ] || fail "no $PY (Debian's python3; tools/deps.sh installs it)"
[ -x "$CARGO" ] && [ -x /usr/bin/rustc ] ||
	fail "no /usr/bin/cargo or /usr/bin/rustc: tools/deps.sh installs cargo and rustc"
[ -x "$WALINTEROP" ] || fail "no $WALINTEROP: make all builds it"

# The Rust side, built as client_rust.sh builds: everything under $B.
export CARGO_TARGET_DIR="$B/rust-target" CARGO_HOME="$B/cargo-home"
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO_TERM_COLOR=never
unset RUSTUP_TOOLCHAIN RUSTFLAGS
mkdir -p "$CARGO_HOME"
(cd "$TOP/rust" && timeout 300 "$CARGO" build --offline --locked --quiet \
	--example interop) >"$T/cargo.log" 2>&1 || {
	cat "$T/cargo.log" >&2
	fail "cargo build --example interop"
}
RS=$CARGO_TARGET_DIR/debug/examples/interop

# side NAME ARGS...: becomes one side's helper, bounded by timeout(1)
# (exec: run it in a subshell, whose PID is then timeout's).
side() {
	name=$1
	shift
	case $name in
	py)	export PYTHONPATH="$TOP/python" PYTHONDONTWRITEBYTECODE=1
		exec timeout 120 "$PY" "$TOP/tests/helpers/interop.py" "$@" ;;
	rs)	exec timeout 120 "$RS" "$@" ;;
	c)	exec timeout 120 "$WALINTEROP" "$@" ;;
	esac
	exit 70
}

# all3 WHAT ARGS...: the three sides at once, each `side NAME ARGS`, output
# to $T/WHAT.NAME; fails naming the first side that failed.
all3() {
	what=$1
	shift
	pids=
	for s in py rs c; do
		side "$s" "$@" >"$T/$what.$s" 2>"$T/$what.$s.err" &
		pids="$pids $!"
	done
	EXTRA_PIDS=$pids
	for s in py rs c; do
		set -- $pids
		p=$1
		pids=${pids#*"$p"}
		st=0
		wait "$p" || st=$?
		[ $st = 0 ] || fail "$what by the $s client: exit $st: $(cat "$T/$what.$s.err")"
	done
	EXTRA_PIDS=
}

start_walld

all3 append append "$SOCK" "$COUNT"
for s in py rs c; do
	expect_eq "records the $s writer got LSNs for" \
		"$(wc -l <"$T/append.$s")" "$COUNT"
done
total=$((3 * COUNT))
expect_eq "durable LSN after the writers" "$(stat_of durable_lsn)" "$total"
ok "Python, Rust and C appended $COUNT records each at the same time"

all3 dump dump "$SOCK"
cmp "$T/dump.py" "$T/dump.rs" || fail "the Python and Rust readings differ"
cmp "$T/dump.py" "$T/dump.c" || fail "the Python and C readings differ"
expect_eq "records read" "$(wc -l <"$T/dump.py")" "$total"
ok "the three readings of the log are identical ($(wc -c <"$T/dump.py") bytes)"

# Every record a writer got an LSN for is there, with its header and
# payload, and nothing else is.
sort -n -k1,1 "$T/append.py" "$T/append.rs" "$T/append.c" >"$T/expected"
if ! cmp -s "$T/expected" "$T/dump.py"; then
	diff "$T/expected" "$T/dump.py" | cut -c1-160 | head -n 10 >&2
	fail "the log is not the records the writers were given LSNs for"
fi
for t in 1001 2002 3003; do
	n=$(awk -v t=$t '$3 == t' "$T/dump.py" | wc -l)
	expect_eq "records of tenant $t" "$n" "$COUNT"
done
expect_eq "empty payloads" "$(awk '$5 == "-"' "$T/dump.py" | wc -l)" \
	"$((3 * ((COUNT + 95) / 97)))"
[ "$(awk 'length($5) > 140000' "$T/dump.py" | wc -l)" -ge 3 ] ||
	fail "no 70 KB payloads in the log"
ok "the log holds exactly the $total acknowledged records, with their payloads"

# How much the writers interleaved (for the record; not a failure).
switches=$(awk 'NR > 1 && $3 != prev { n++ } { prev = $3 } END { print n + 0 }' \
	"$T/dump.py")
echo "writers' records alternate $switches times in LSN order"

# One tenant each: Python reads Rust's, Rust C's, C Python's.
(side py dump "$SOCK" 2002) >"$T/t.py" || fail "Python read of tenant 2002"
(side rs dump "$SOCK" 3003) >"$T/t.rs" || fail "Rust read of tenant 3003"
(side c dump "$SOCK" 1001) >"$T/t.c" || fail "C read of tenant 1001"
for x in "py 2002 rs" "rs 3003 c" "c 1001 py"; do
	set -- $x
	awk -v t="$2" '$3 == t' "$T/dump.py" | cmp -s - "$T/t.$1" ||
		fail "the $1 client's read of tenant $2 is not its records"
	cmp -s "$T/append.$3" "$T/t.$1" ||
		fail "the $1 client's read of tenant $2 differs from what the $3 writer appended"
done
ok "each client reads another's tenant alone"

stop_walld TERM || fail "walld did not stop cleanly"
