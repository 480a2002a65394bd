# SPDX-License-Identifier: Apache-2.0
# A real full disk: walld on a small file system (a 24 MiB ext4 image
# mounted through a loop device; a tmpfs of that size where loop devices
# are not to be had), 1 MiB segments. A filler file leaves room for about
# two more segments; appends go on until they are refused with "no space"
# (walctl exit 75, nothing written), and stay refused; the filler is
# removed, and appends resume by themselves, with no restart, across more
# rollovers. After a restart every acknowledged record is there, intact,
# and walctl verify finds no problem. Needs root (mount).
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "skip: needs root to mount a small file system"; exit 77; }

M=$T/mnt
DATA=$M/data
mkdir "$M"
trap 'if [ -n "$WALLD_PID" ]; then kill -KILL "$WALLD_PID" 2>/dev/null;
    wait "$WALLD_PID" 2>/dev/null; WALLD_PID=; fi;
    umount "$M" 2>/dev/null; cleanup' EXIT
fs=
if command -v mkfs.ext4 >/dev/null && truncate -s 24M "$T/fs.img" &&
    mkfs.ext4 -q -F "$T/fs.img" >"$T/mkfs" 2>&1 &&
    mount -o loop "$T/fs.img" "$M" 2>"$T/mount"; then
	fs="ext4 on a loop device"
elif mount -t tmpfs -o size=24m tmpfs "$M" 2>>"$T/mount"; then
	why=$(cat "$T/mkfs" "$T/mount" 2>/dev/null | head -n 1)
	fs="tmpfs (no ext4 on a loop device: ${why:-no mkfs.ext4})"
else
	fail "cannot mount a small file system: $(cat "$T/mkfs" "$T/mount" 2>/dev/null)"
fi
echo "file system: $fs, $(df -h --output=size "$M" | tail -n 1 | tr -d ' ')"

cat >"$T/walld.yaml" <<YAML
storage:
  segment_size: 1MiB
YAML
start_walld --config "$T/walld.yaml"

# Leave room for about two and a half segments besides walld's files.
avail=$(df --output=avail -B1 "$M" | tail -n 1)
fallocate -l $((avail - 2560 * 1024)) "$M/filler" ||
	dd if=/dev/zero of="$M/filler" bs=1M count=$(((avail - 2560 * 1024) >> 20)) \
	    status=none
# Records of about 50 KB: "rec-I-" and the same printable block.
P=$(head -c 37500 /dev/urandom | base64 -w 0)

# append I: 0 and the LSN in $T/acked, or walctl's exit status.
append() {
	st=0
	lsn=$("$WALCTL" append "rec-$1-$P" 2>"$T/err") || st=$?
	[ $st -ne 0 ] || echo "$lsn $1" >>"$T/acked"
	return $st
}

i=0 st=0
while [ $i -lt 400 ]; do
	i=$((i + 1))
	append $i || { st=$?; break; }
done
n=$(wc -l <"$T/acked")
[ $st -ne 0 ] || fail "400 appends of 50 KB fit in a file system that had 2.5 MiB"
expect_eq "walctl exit status when the disk is full" $st 75
grep -q "no space" "$T/err" || fail "not 'no space': $(cat "$T/err")"
ok "appends refused with 'no space' after $n acknowledged"
i=$((i + 1))
st=0
append $i || st=$?
expect_eq "exit status of the next append, disk still full" $st 75
grep -q "preparing the next segment" "$LOG" || fail "the log does not tell the disk is full"

rm -f "$M/filler"
k=0
until append $((i + 1)); do
	k=$((k + 1))
	[ $k -lt 100 ] || fail "appends did not resume within 10 s of freeing space: $(cat "$T/err")"
	sleep 0.1
done
i=$((i + 1))
last=$(tail -n 1 "$T/acked" | cut -d' ' -f1)
max=$(head -n "$n" "$T/acked" | awk '$1 > m { m = $1 } END { print m + 0 }')
[ "$last" -gt "$max" ] || fail "LSN $last reissued (acknowledged up to $max)"
ok "appends resumed $((k / 10)).$((k % 10)) s after space was freed, LSN $last"
# More rollovers on the freed space.
j=0
while [ $j -lt 50 ]; do
	j=$((j + 1)) i=$((i + 1))
	append $i || fail "append $j after space returned: $(cat "$T/err")"
done
grep -q "appends resume" "$LOG" || fail "the log does not tell appends resume"
stop_walld TERM || fail "stop"

"$WALCTL" verify --dir "$DATA" >"$T/verify" 2>&1 ||
	{ cat "$T/verify"; fail "walctl verify"; }
start_walld --config "$T/walld.yaml"
while read -r lsn k; do
	want="lsn=$lsn type=0 tenant=0 vshard=0 len=$((${#P} + ${#k} + 5)) data=\"rec-$k-$P\""
	got=$("$WALCTL" read --from "$lsn" --to "$lsn") || fail "read LSN $lsn"
	[ "$got" = "$want" ] || fail "acknowledged LSN $lsn (record $k) lost or altered"
done <"$T/acked"
ok "full disk ($fs): $(wc -l <"$T/acked") acknowledged records intact after a restart"
