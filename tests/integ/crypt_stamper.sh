# SPDX-License-Identifier: Apache-2.0
# crypt_stamper: the stamper thread at work, then kill -9. Clients append
# 1-4 KiB records with 128 in flight each, so that while one batch is
# written the next holds far more than the stamper's threshold, into small
# segments (the stamper's batches roll over). The stats must show the
# stamper sealing, and after kill -9 and a restart every acknowledged
# record is there, intact (and authenticated), and nothing else. First
# with an encrypted log, then with a plain one (sealing is the CRCs).
. "$(dirname "$0")/lib.sh"

KR=$T/keyring
(umask 077; "$WALCTL" keygen --id 1 >"$KR")

for mode in encrypted plain; do
	rm -rf "$DATA" "$T"/ack.*
	printf 'storage:\n  segment_size: 1MiB\n' >"$T/walld.yaml"
	[ $mode = plain ] ||
	    printf 'encryption:\n  keyring: %s\n' "$KR" >>"$T/walld.yaml"
	keys=
	[ $mode = plain ] || keys="-k $KR"
	start_walld --config "$T/walld.yaml"

	"$B/tests/walload" run -s "$SOCK" -o "$T/ack" -P 4 -n 0 -d 128 \
		-a 1024 -b 4096 >"$T/load" 2>&1 &
	lpid=$!
	# Up to 30 s for the stamper to have sealed 4 MiB.
	i=0
	while [ "$(stat_of stamped_ahead_bytes)" -lt 4194304 ]; do
		kill -0 "$lpid" 2>/dev/null || fail "$mode: walload exited: $(cat "$T/load")"
		i=$((i + 1))
		[ $i -lt 600 ] || fail "$mode: the stamper stamped only $(stat_of stamped_ahead_bytes) bytes of $(stat_of bytes_written) written"
		sleep 0.05
	done
	ahead=$(stat_of stamped_ahead_bytes)
	written=$(stat_of bytes_written)
	kill -KILL "$WALLD_PID"
	wait "$WALLD_PID" 2>/dev/null
	WALLD_PID=
	wait "$lpid" 2>/dev/null
	n=$(cat "$T"/ack.* | wc -l)
	[ "$n" -gt 1000 ] || fail "$mode: only $n appends acknowledged"

	# Recovery reads (and authenticates) the active segment; then the
	# offline check: every acknowledged record, nothing any client did
	# not send.
	start_walld --config "$T/walld.yaml"
	# shellcheck disable=SC2086
	"$B/tests/walload" check -t -D "$DATA" -a 1024 -b 4096 $keys \
		"$T"/ack.* >"$T/check" 2>&1 ||
		{ cat "$T/check"; fail "$mode: check after kill -9"; }
	stop_walld || fail "$mode: walld exited badly"
	ok "$mode: $n acknowledged; the stamper sealed $ahead of $written bytes; all intact after kill -9"
done
