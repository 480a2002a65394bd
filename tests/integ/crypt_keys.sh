# SPDX-License-Identifier: Apache-2.0
# crypt_keys: encryption at rest with a key ring. walctl keygen; the key
# ring's permission and syntax checks (at start and in --check-config);
# records round-trip through walld and offline (read --dir, verify with
# and without --keyring); no plaintext on disk; stats; a restart with the
# ring; starting without a key a segment needs, or with a wrong one,
# fails naming the key id and the segment; the systemd credential.
. "$(dirname "$0")/lib.sh"

# keygen: "ID HEX", 64 hex digits, a new key each time.
k1=$("$WALCTL" keygen --id 1) || fail "keygen"
echo "$k1" | grep -Eqx '1 [0-9a-f]{64}' || fail "keygen line: $k1"
[ "$("$WALCTL" keygen --id 1)" != "$k1" ] || fail "keygen repeated a key"
expect_eq "keygen default id" "$("$WALCTL" keygen | cut -d' ' -f1)" 1
"$WALCTL" keygen --id 0 >/dev/null 2>&1 && fail "keygen --id 0 accepted"
ok "walctl keygen"

KR=$T/keyring
(umask 077; echo "$k1" >"$KR")
cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
encryption:
  keyring: $KR
YAML

# Permissions: group or other access is refused, at start and by
# --check-config (exit 78, bad configuration).
chmod 0644 "$KR"
st=0; "$WALLD" --check-config --config "$T/walld.yaml" >"$T/out" 2>&1 || st=$?
expect_eq "check-config, keyring 0644" "$st" 78
grep -q "mode 0644 gives group or others access; refused" "$T/out" ||
    fail "no permission error: $(cat "$T/out")"
st=0; "$WALLD" $ALLOW_ROOT --socket "$SOCK" --data-dir "$DATA" --config "$T/walld.yaml" \
    >"$T/out" 2>&1 || st=$?
expect_eq "walld, keyring 0644" "$st" 78
grep -q "key ring: $KR: mode 0644" "$T/out" || fail "start: $(cat "$T/out")"
chmod 0640 "$KR"
"$WALLD" --check-config --config "$T/walld.yaml" >/dev/null 2>&1 &&
    fail "0640 accepted"
chmod 0600 "$KR"
"$WALLD" --check-config --config "$T/walld.yaml" >"$T/out" 2>&1 ||
    fail "0600 refused: $(cat "$T/out")"
grep -q "key ring $KR: 1 keys, active key id 1" "$T/out" || fail "$(cat "$T/out")"
ok "key ring mode: 0600 accepted, 0644 and 0640 refused"

# Malformed: file and line, and never the key bytes.
(umask 077; { echo "# ring"; echo "$k1"; echo "2 abc"; } >"$T/bad")
sed "s|$KR|$T/bad|" "$T/walld.yaml" >"$T/bad.yaml"
st=0; "$WALLD" --check-config --config "$T/bad.yaml" >"$T/out" 2>&1 || st=$?
expect_eq "check-config, malformed ring" "$st" 78
grep -q "$T/bad:3: the key must be exactly 64 hex digits" "$T/out" ||
    fail "malformed: $(cat "$T/out")"
grep -q "$(echo "$k1" | cut -c3-20)" "$T/out" && fail "key bytes in an error"
ok "malformed key ring: file:line"

start_walld --config "$T/walld.yaml"
grep -q "encryption: on: key ring $KR: 1 keys, active key id 1" "$LOG" ||
    fail "no encryption line in the log"
i=0
while [ $i -lt 400 ]; do
	printf 'secret-payload-%05d\n' $i
	i=$((i + 1))
done | "$WALCTL" append --lines --tenant 3 >/dev/null || fail "append"
"$WALCTL" append --tenant 4 "" >/dev/null || fail "empty append"
expect_eq "encryption stat" "$(stat_of encryption)" on
expect_eq "active_key_id" "$(stat_of active_key_id)" 1
expect_eq "keys_needed" "$(stat_of keys_needed)" 1
expect_eq "read through walld" "$("$WALCTL" read --tenant 3 | grep -c 'data="secret-payload-')" 400
expect_eq "record 7" "$("$WALCTL" read --from 7 --to 7)" \
    'lsn=7 type=0 tenant=3 vshard=0 len=20 data="secret-payload-00006"'
expect_eq "empty record" "$("$WALCTL" read --from 401 --to 401)" \
    'lsn=401 type=0 tenant=4 vshard=0 len=0 data=""'
ok "records round-trip through walld"

stop_walld || fail "walld exit $?"
grep -rq "secret-payload" "$DATA" && fail "plaintext in the data directory"
ok "no plaintext on disk"

"$WALCTL" read --dir "$DATA" --keyring "$KR" >"$T/offline" || fail "read --dir --keyring"
expect_eq "offline records" "$(grep -c 'data="secret-payload-' "$T/offline")" 400
st=0; "$WALCTL" read --dir "$DATA" >/dev/null 2>"$T/out" || st=$?
expect_eq "read --dir without a key ring (first segment: cannot open)" "$st" 66
grep -q "00000000000000000001.wal: offset 0: LSN 1: encrypted with key id 1, and no key ring was given" "$T/out" ||
    fail "read --dir error: $(cat "$T/out")"
"$WALCTL" read --keyring "$KR" >/dev/null 2>&1 && fail "--keyring without --dir accepted"
"$WALCTL" verify --dir "$DATA" >"$T/out" || fail "verify without keys: $(cat "$T/out")"
grep -q "records not authenticated (no key ring given" "$T/out" || fail "$(cat "$T/out")"
"$WALCTL" verify --dir "$DATA" --keyring "$KR" >"$T/out" || fail "verify: $(cat "$T/out")"
grep -q "every record authenticated" "$T/out" || fail "$(cat "$T/out")"
ok "walctl read --dir and verify --dir, with and without --keyring"

# A wrong key under the same id, and a ring without the id: walld
# refuses to start, naming the key id and the segment.
(umask 077; "$WALCTL" keygen --id 1 >"$T/wrong"; "$WALCTL" keygen --id 2 >"$T/other")
sed "s|$KR|$T/wrong|" "$T/walld.yaml" >"$T/wrong.yaml"
sed "s|$KR|$T/other|" "$T/walld.yaml" >"$T/other.yaml"
st=0; "$WALLD" $ALLOW_ROOT --socket "$SOCK" --data-dir "$DATA" --config "$T/wrong.yaml" \
    >"$T/out" 2>&1 || st=$?
expect_eq "walld with a wrong key" "$st" 1
grep -q "00000000000000000001.wal: offset 0: LSN 1: encrypted with key id 1, but the key ring's key 1 is not the one it was written with" "$T/out" ||
    fail "wrong key: $(cat "$T/out")"
st=0; "$WALLD" $ALLOW_ROOT --socket "$SOCK" --data-dir "$DATA" --config "$T/other.yaml" \
    >"$T/out" 2>&1 || st=$?
expect_eq "walld without the key" "$st" 1
grep -q "00000000000000000001.wal: offset 0: LSN 1: encrypted with key id 1, which the key ring does not have" "$T/out" ||
    fail "missing key: $(cat "$T/out")"
st=0; "$WALLD" $ALLOW_ROOT --socket "$SOCK" --data-dir "$DATA" >"$T/out" 2>&1 || st=$?
expect_eq "walld without a key ring" "$st" 1
grep -q "encrypted with key id 1, and no key ring was given" "$T/out" ||
    fail "no ring: $(cat "$T/out")"
st=0; "$WALCTL" verify --dir "$DATA" --keyring "$T/wrong" >"$T/out" 2>&1 || st=$?
expect_eq "verify with a wrong key" "$st" 65
ok "wrong or missing key: refused with key id and segment"

# Restart with the ring: everything still reads; appends go on.
start_walld --config "$T/walld.yaml"
"$WALCTL" append "after restart" >/dev/null || fail "append"
expect_eq "records after restart" "$("$WALCTL" read | wc -l)" 402
expect_eq "keys_needed after restart" "$(stat_of keys_needed)" 1
stop_walld || fail "walld exit $?"
ok "restart with the key ring"

# Under systemd: $CREDENTIALS_DIRECTORY/keyring when the configuration
# names no file; a file the configuration names comes first.
mkdir -p "$T/cred"
(umask 077; cp "$KR" "$T/cred/keyring")
printf 'storage:\n  segment_size: 1MiB\n' >"$T/nokey.yaml"
CREDENTIALS_DIRECTORY=$T/cred "$WALLD" --check-config --config "$T/nokey.yaml" \
    >"$T/out" 2>&1 || fail "credential: $(cat "$T/out")"
grep -q "key ring $T/cred/keyring: 1 keys" "$T/out" || fail "$(cat "$T/out")"
CREDENTIALS_DIRECTORY=$T/cred "$WALLD" --check-config --config "$T/other.yaml" \
    >"$T/out" 2>&1 || fail "credential: $(cat "$T/out")"
grep -q "key ring $T/other: 1 keys, active key id 2" "$T/out" || fail "$(cat "$T/out")"
CREDENTIALS_DIRECTORY=$T/cred start_walld --config "$T/nokey.yaml"
expect_eq "encryption from the credential" "$(stat_of encryption)" on
expect_eq "records, credential key ring" "$("$WALCTL" read | wc -l)" 402
stop_walld || fail "walld exit $?"
ok "systemd credential \$CREDENTIALS_DIRECTORY/keyring"
