# SPDX-License-Identifier: Apache-2.0
# Bad configuration: file:line:column messages and exit 78; --check-config;
# SIGHUP reload applies what it can, reports the rest, and survives a bad
# file.
. "$(dirname "$0")/lib.sh"

cat >"$T/bad.yaml" <<YAML
storage:
  segment_size: 64MiB
  segmant_size: 1MiB
YAML
st=0
out=$("$WALLD" --check-config --config "$T/bad.yaml" 2>&1) || st=$?
expect_eq "exit status of a bad config" "$st" 78
echo "$out" | grep -q "bad.yaml:3:3" || fail "no file:line:column in '$out'"
echo "$out" | grep -q "segmant_size" || fail "no key name in '$out'"

cat >"$T/range.yaml" <<YAML
limits:
  max_record: 1TiB
YAML
st=0
out=$("$WALLD" --check-config --config "$T/range.yaml" 2>&1) || st=$?
expect_eq "exit status, out of range" "$st" 78
echo "$out" | grep -q "range.yaml:2:" || fail "no position in '$out'"

"$WALLD" --check-config --config "$TOP/conf/walld.yaml" >/dev/null ||
	fail "conf/walld.yaml does not validate"
st=0
"$WALLD" $ALLOW_ROOT --socket "$SOCK" --data-dir "$DATA" --config "$T/bad.yaml" \
	>/dev/null 2>&1 || st=$?
expect_eq "walld with a bad config" "$st" 78
ok "bad config: file:line:column, exit 78"

cat >"$T/good.yaml" <<YAML
logging:
  level: info
YAML
start_walld --config "$T/good.yaml"
cat >"$T/good.yaml" <<YAML
logging:
  level: debug
storage:
  segment_size: 2MiB
YAML
# log_has PATTERN: waits (up to 10 s) for a line of the log; 1 if none.
log_has() {
	i=0
	while ! grep -q "$1" "$LOG"; do
		i=$((i + 1))
		[ $i -lt 200 ] || return 1
		sleep 0.05
	done
}
kill -HUP "$WALLD_PID"
log_has "configuration reloaded" || fail "no reload line"
grep -q "cannot change while running" "$LOG" || fail "storage change not reported"
cp "$T/bad.yaml" "$T/good.yaml"
kill -HUP "$WALLD_PID"
log_has "keeping the running configuration" || fail "bad reload not reported"
"$WALCTL" append "still serving" >/dev/null || fail "append after reloads"
stop_walld TERM || fail "stop"
ok "SIGHUP reload"

# A file that cannot be read now (an I/O error, out of descriptors) is not
# a wrong file: exit 1, which the unit restarts, not 78, which it does not
# (RestartPreventExitStatus=78). A missing file is the admin's to fix: 78.
printf 'storage:\n  data_dir: %s\n' "$DATA" >"$T/io.yaml"
# The shim comes before ASan's runtime in the sanitizer build.
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0
st=0
WALD_FAILOPEN_PATH="$T/io.yaml" WALD_FAILOPEN_ERRNO=5 \
    LD_PRELOAD="$B/tests/libfailopen.so" "$WALLD" $ALLOW_ROOT --config "$T/io.yaml" \
    2>"$T/io.err" || st=$?
expect_eq "exit status with EIO on the config file" "$st" 1
grep -q "cannot be read now" "$T/io.err" || fail "EIO: $(cat "$T/io.err")"
st=0
WALD_FAILOPEN_PATH="$T/io.yaml" WALD_FAILOPEN_ERRNO=24 \
    LD_PRELOAD="$B/tests/libfailopen.so" "$WALLD" $ALLOW_ROOT --config "$T/io.yaml" \
    2>"$T/io.err" || st=$?
expect_eq "exit status with EMFILE on the config file" "$st" 1
st=0
"$WALLD" $ALLOW_ROOT --config "$T/missing.yaml" 2>"$T/io.err" || st=$?
expect_eq "exit status with a missing config file" "$st" 78
ok "a config file that cannot be read now exits 1 (restarted); a missing one 78"
