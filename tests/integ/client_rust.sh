# SPDX-License-Identifier: Apache-2.0
# The Rust client (rust/): builds it with Debian's cargo and rustc
# (/usr/bin, offline; a rustup toolchain earlier on PATH is not used) and
# runs its tests: unit tests, the integration tests against real walld
# instances each test starts on a private socket (rust/tests/common; the
# acknowledgement levels in rust/tests/ack.rs, idempotent appends across
# walld killed in rust/tests/producer.rs, protocol-2 cursors in
# rust/tests/cursors.rs), and the doc tests. Then
# the README example, built as rust/examples/quickstart, runs against a
# walld started here.
. "$(dirname "$0")/lib.sh"

CARGO=/usr/bin/cargo
[ -x "$CARGO" ] && [ -x /usr/bin/rustc ] ||
	fail "no /usr/bin/cargo or /usr/bin/rustc: tools/deps.sh installs cargo and rustc"
[ -x "$WALLD" ] || fail "no $WALLD: build walld first"

# Everything cargo writes goes under the build directory: its target
# directory and its home (no user configuration, no registry cache).
export CARGO_TARGET_DIR="$B/rust-target"
export CARGO_HOME="$B/cargo-home"
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
export CARGO_TERM_COLOR=never
export WALD_BUILD="$B"
unset RUSTUP_TOOLCHAIN RUSTFLAGS
mkdir -p "$CARGO_HOME"
cd "$TOP/rust" || fail "no rust/"

# Each test starts and kills its own walld, so tests may run side by
# side; two at a time on this two-core machine. timeout(1) bounds a hang.
timeout 900 "$CARGO" test --offline --locked -- --test-threads=2 ||
	fail "cargo test"
ok "cargo test: unit, integration and doc tests"

# The README example, against a walld of this script's.
start_walld
timeout 120 "$CARGO" run --offline --locked --quiet --example quickstart \
	>"$T/example.out" 2>&1 || { cat "$T/example.out"; fail "the README example"; }
cat "$T/example.out"
grep -q '^appended LSN 1$' "$T/example.out" || fail "example: no first LSN"
grep -q '^pipelined 1000 records up to LSN 1003$' "$T/example.out" ||
	fail "example: pipelined LSNs"
expect_eq "records of tenant 42 the example read" \
	"$(grep -c '^LSN [0-9]* type' "$T/example.out")" 3
expect_eq "durable LSN after the example" "$(stat_of durable_lsn)" 1003
ok "the README example runs against walld"

stop_walld TERM || fail "walld did not stop cleanly"
