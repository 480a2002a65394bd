# SPDX-License-Identifier: Apache-2.0
# The short fuzzing run of `make check`: builds the libFuzzer targets
# (clang, ASan, UBSan) into build-fuzz/, replays every regression input in
# tests/fuzz/regress/, and fuzzes the frame decoder, the segment decoder,
# the configuration loader, the key ring parser and the live request path
# (a real server in the fuzzer, each input a client's connection, its
# replies checked against PROTOCOL.md) for FUZZ_SECONDS (default 15) each. `make fuzz`
# is the long run.
set -u
TOP=${WALD_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
# The fuzz targets are built with ASan and UBSan into build-fuzz/ whatever
# the build under test: the sanitizer pass of CI would run the very same
# binaries again. It runs in the plain pass only (skipped, and said so).
case ${WALD_BUILD:-} in
*/build-san)
	echo "skip: the fuzz targets are the same ASan+UBSan binaries in both passes; they run in the plain build's pass"
	exit 77 ;;
esac
cd "$TOP" || exit 1
if ! command -v clang >/dev/null 2>&1; then
	echo "FAIL: clang is missing (tools/deps.sh installs it: clang libclang-rt-14-dev)"
	exit 1
fi
make -s fuzz-build >/tmp/walld-fuzz-build.$$ 2>&1 || {
	cat /tmp/walld-fuzz-build.$$
	rm -f /tmp/walld-fuzz-build.$$
	echo "FAIL: building the fuzz targets"
	exit 1
}
rm -f /tmp/walld-fuzz-build.$$
sh tests/fuzz/run.sh build-fuzz "${FUZZ_SECONDS:-15}" || {
	echo "FAIL: fuzzing found a problem"
	exit 1
}
echo "ok: fuzz targets: regressions replayed, ${FUZZ_SECONDS:-15} s each"
