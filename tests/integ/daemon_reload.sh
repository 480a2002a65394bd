# SPDX-License-Identifier: Apache-2.0
# A reload is all or nothing: a key ring that drops a key a present
# segment needs is refused, and then nothing of the new configuration is
# applied (here archive.command), by SIGHUP as by `walctl reload`, which
# exits 78 with walld's reason. A good reload through walctl exits 0 and
# applies everything. Seal, rotate, truncate and reload are logged with
# the peer's pid and uid.
. "$(dirname "$0")/lib.sh"

KR=$T/keyring
(umask 077; "$WALCTL" keygen --id 1 >"$KR") || fail keygen
"$WALCTL" keygen --id 2 >"$T/key2" || fail keygen
cat >"$T/walld.yaml" <<YAML
encryption:
  keyring: $KR
YAML
start_walld --config "$T/walld.yaml"
for i in 1 2 3; do "$WALCTL" append "r$i" >/dev/null || fail append; done
expect_eq "archive_enabled at start" "$(stat_of archive_enabled)" 0

# The new configuration turns archiving on; the new key ring lacks key 1,
# which the segment written so far needs.
cat >>"$T/walld.yaml" <<YAML
archive:
  command: "true"
YAML
cp "$KR" "$T/keyring.good"
(umask 077; cat "$T/key2" >"$KR")

# --check-config (ExecReload='s first step) reads the segments' headers
# when it can: the ring that drops key 1 fails there already.
printf 'storage:\n  data_dir: %s\n' "$DATA" >>"$T/walld.yaml"
st=0; "$WALLD" --check-config --config "$T/walld.yaml" >"$T/out" 2>&1 || st=$?
expect_eq "check-config, a ring without key 1" $st 78
grep -q "^walld: key ring $KR: $DATA/00000000000000000001.wal: .*1" "$T/out" ||
	fail "check-config: $(cat "$T/out")"
(umask 077; cat "$T/keyring.good" >"$KR")
"$WALLD" --check-config --config "$T/walld.yaml" >"$T/out" 2>&1 ||
	fail "check-config, the good ring: $(cat "$T/out")"
grep -q "every segment's key present" "$T/out" || fail "check-config: $(cat "$T/out")"
(umask 077; cat "$T/key2" >"$KR")
ok "--check-config checks the key ring against the segments"

kill -HUP "$WALLD_PID"
i=0
until grep -q "reload: .*nothing changed" "$LOG"; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "no refusal logged after SIGHUP"
	sleep 0.05
done
expect_eq "archive_enabled after a refused SIGHUP" "$(stat_of archive_enabled)" 0
expect_eq "active key after a refused SIGHUP" "$(stat_of active_key_id)" 1
ok "SIGHUP with a key ring missing a needed key: nothing applied"

st=0; "$WALCTL" reload >"$T/out" 2>"$T/err" || st=$?
expect_eq "walctl reload refused: exit" $st 78
grep -q "^walctl: reload: reload refused: the new key ring lacks key id 1, which segment 00000000000000000001.wal needs" "$T/err" ||
	fail "walctl reload's message: $(cat "$T/err")"
grep -q "nothing changed" "$T/err" || fail "the message does not say nothing changed: $(cat "$T/err")"
expect_eq "archive_enabled after a refused reload" "$(stat_of archive_enabled)" 0
grep -Eq "info: reload: asked by connection [0-9]+ \(pid [0-9]+, uid $(id -u)\)" "$LOG" ||
	fail "the reload request is not logged with pid and uid"
ok "walctl reload refused: exit 78, walld's reason, nothing changed"

# Both keys: the reload applies, key 2 becomes active, archiving starts.
(umask 077; cat "$T/keyring.good" "$T/key2" >"$KR")
"$WALCTL" reload >"$T/out" 2>"$T/err" || fail "reload: $(cat "$T/err")"
expect_eq "active key after a good reload" "$(stat_of active_key_id)" 2
expect_eq "archive_enabled after a good reload" "$(stat_of archive_enabled)" 1
ok "walctl reload applied: exit 0, everything applied"

# Admin actions leave a trace with who asked.
"$WALCTL" append "r4" >/dev/null || fail append
"$WALCTL" rotate >/dev/null || fail rotate
"$WALCTL" truncate --before 2 >/dev/null || fail truncate
"$WALCTL" seal >/dev/null || fail seal
for op in rotate truncate seal; do
	grep -Eq "info: $op: asked by connection [0-9]+ \(pid [0-9]+, uid $(id -u)\)" "$LOG" ||
		fail "$op is not logged with pid and uid"
done
ok "seal, rotate, truncate and reload are logged with pid and uid"

# RELOAD needs the access list's `keys` operation: a uid with only
# `stats` is refused (77), one with `keys` may reload.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	stop_walld || fail stop
	rm -rf "$DATA"
	chmod 0711 "$T"
	cat >"$T/walld.yaml" <<YAML
socket:
  mode: "0666"
access:
  - user: 4243
    ops: [stats]
  - user: 4244
    ops: [keys]
YAML
	start_walld --config "$T/walld.yaml"
	st=0
	setpriv --reuid=4243 --regid=4243 --clear-groups "$WALCTL" reload \
	    2>"$T/err" || st=$?
	expect_eq "reload without keys: exit" $st 77
	setpriv --reuid=4244 --regid=4244 --clear-groups "$WALCTL" reload ||
		fail "reload with keys refused"
	grep -Eq "info: reload: asked by connection [0-9]+ \(pid [0-9]+, uid 4244\)" "$LOG" ||
		fail "the reload of uid 4244 is not logged"
	ok "reload needs the keys permission"
else
	ok "not root or no setpriv: the keys permission is not tried (skipped)"
fi
