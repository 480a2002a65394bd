# SPDX-License-Identifier: Apache-2.0
# metrics_prometheus: `walctl stats --prometheus` and the metrics file pass
# a strict parser of the text format (tests/helpers/promcheck.c) and their
# values follow what walld did: appends, bytes, LSNs, fsync and batch-size
# histograms, segments, free disk, connections, errors and denials by
# kind, and the state. The file is rewritten every interval (temp file and
# rename), follows a reload, and both forms name the same metrics.
. "$(dirname "$0")/lib.sh"

PROMCHECK=$B/tests/promcheck
[ -x "$PROMCHECK" ] || fail "$PROMCHECK: not built (make all)"
mkdir -p "$T/textfile"
PROM=$T/textfile/walld.prom
cat >"$T/walld.yaml" <<YAML
socket:
  mode: "0666"
storage:
  segment_size: 1MiB
metrics:
  file: $PROM
  interval: 1s
YAML
started=$(date +%s)
start_walld --config "$T/walld.yaml"

# metric NAME [FILE]: the value of the sample NAME (with its labels, as
# written) from walctl, or from FILE.
metric() {
	if [ $# -gt 1 ]; then
		awk -v k="$1" '$1 == k { print $2 }' "$2"
	else
		"$WALCTL" stats --prometheus | awk -v k="$1" '$1 == k { print $2 }'
	fi
}

# The file is there at start-up, before anything happened.
i=0
while ! [ -f "$PROM" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "no metrics file after 5 s"
	sleep 0.05
done
"$PROMCHECK" -p walld_ "$PROM" || fail "the metrics file at start"
expect_eq "appends at start" "$(metric walld_appends_total "$PROM")" 0
ok "metrics file written at start-up"

# 25 records of known sizes, then a few more in one go.
i=0
while [ $i -lt 25 ]; do
	printf 'record-%d\n' $i
	i=$((i + 1))
done >"$T/lines"
bytes=$(awk '{ n += length($0) } END { print n }' "$T/lines")
"$WALCTL" append --lines <"$T/lines" >/dev/null || fail "append --lines"
"$WALCTL" append "one more" >/dev/null || fail "append"
bytes=$((bytes + 8))
# Batches this small are written on the event loop; a rotation's batch
# ends a segment, which is always the flusher's.
"$WALCTL" rotate >/dev/null || fail "rotate"
"$WALCTL" stats --prometheus >"$T/p1" || fail "walctl stats --prometheus"
"$PROMCHECK" -p walld_ "$T/p1" || fail "walctl stats --prometheus output"
expect_eq "walld_appends_total" "$(metric walld_appends_total "$T/p1")" 26
expect_eq "walld_append_bytes_total" \
	"$(metric walld_append_bytes_total "$T/p1")" "$bytes"
expect_eq "walld_durable_lsn" "$(metric walld_durable_lsn "$T/p1")" 26
expect_eq "walld_next_lsn" "$(metric walld_next_lsn "$T/p1")" 27
expect_eq "walld_first_lsn" "$(metric walld_first_lsn "$T/p1")" 1
# Every record went through exactly one batch: the batch sizes add up.
expect_eq "walld_batch_records_sum" \
	"$(metric walld_batch_records_sum "$T/p1")" 26
fs=$(stat_of fsyncs_total)
expect_eq "walld_fsync_duration_seconds_count" \
	"$(metric walld_fsync_duration_seconds_count "$T/p1")" "$fs"
expect_eq "walld_batch_records_count" \
	"$(metric walld_batch_records_count "$T/p1")" "$fs"
[ "$fs" -ge 2 ] || fail "fsyncs: $fs"
# The batches the loop wrote itself: some of them, holding some of the
# records, and the rest went to the flusher (the rotation's at least).
inl=$(metric walld_fsyncs_inline_total "$T/p1")
inl_rec=$(metric walld_batch_records_inline_total "$T/p1")
[ -n "$inl" ] && [ "$inl" -ge 1 ] && [ "$inl" -lt "$fs" ] ||
	fail "walld_fsyncs_inline_total '$inl' of $fs fsyncs"
[ -n "$inl_rec" ] && [ "$inl_rec" -ge "$inl" ] && [ "$inl_rec" -le 26 ] ||
	fail "walld_batch_records_inline_total '$inl_rec' ($inl batches)"
expect_eq "fsyncs_inline_total" "$(stat_of fsyncs_inline_total)" "$inl"
ok "batches written on the loop: stats and metrics"
# The threads' hand-over times: counted for the flusher's batches (the
# rotation's here), each a part of the time since start, and in the
# metrics in seconds.
up_us=$(( ($(date +%s) - started + 1) * 1000000 ))
for k in handoff return; do
	v=$(stat_of batch_${k}_usec_total)
	case $v in ''|*[!0-9]*) fail "batch_${k}_usec_total: '$v'" ;; esac
	# A thread's wake-up takes microseconds: some time was counted.
	[ "$v" -gt 0 ] && [ "$v" -le "$up_us" ] ||
		fail "batch_${k}_usec_total $v, not in 1..$up_us"
	m=$(metric walld_batch_${k}_seconds_total "$T/p1")
	[ -n "$m" ] || fail "walld_batch_${k}_seconds_total missing"
	awk -v m="$m" -v up="$up_us" 'BEGIN { exit !(m >= 0 && m * 1e6 <= up) }' ||
		fail "walld_batch_${k}_seconds_total $m"
done
ok "batch hand-over and return times: stats and metrics"
expect_eq "walld_state read-write" \
	"$(metric 'walld_state{state="read-write"}' "$T/p1")" 1
expect_eq "walld_state sealed" \
	"$(metric 'walld_state{state="sealed"}' "$T/p1")" 0
expect_eq "walld_segments" "$(metric walld_segments "$T/p1")" \
	"$(stat_of segments)"
[ "$(metric walld_segment_bytes "$T/p1")" -gt 0 ] || fail "segment bytes"
free=$(metric walld_disk_free_bytes "$T/p1")
size=$(metric walld_disk_size_bytes "$T/p1")
[ "$free" -gt 0 ] && [ "$free" -le "$size" ] || fail "disk: $free of $size"
# Within 64 MiB of df's figure. Other writers may be busy, and then the
# free space moves while the test runs: walld's figure is read between two
# df readings taken just before and after it, and must lie within 64 MiB
# of the range they span. A writer that fills and frees space within that
# window can still put it outside: then it is measured again (10 times at
# most; a wrong figure is wrong every time).
df_avail() { df -B1 --output=avail "$DATA" | tail -n 1; }
k=0
while :; do
	d0=$(df_avail)
	wfree=$(metric walld_disk_free_bytes)
	d1=$(df_avail)
	lo=$d0 hi=$d1
	[ "$lo" -le "$hi" ] || lo=$d1 hi=$d0
	[ "$wfree" -gt $((lo - 67108864)) ] &&
	    [ "$wfree" -lt $((hi + 67108864)) ] && break
	k=$((k + 1))
	[ $k -lt 10 ] ||
		fail "free disk $wfree, df says $d0 just before and $d1 just after"
	sleep 0.1
done
# The walctl that asked is the one connection open.
expect_eq "walld_connections" "$(metric walld_connections "$T/p1")" 1
[ "$(metric walld_connections_total "$T/p1")" -ge 3 ] ||
	fail "connections_total"
if grep -q 'tenant' "$T/p1"; then
	fail "a tenant in the metrics: $(grep tenant "$T/p1")"
fi
ok "walctl stats --prometheus: strict format; values match the activity"

# Denials and errors by kind, as labels.
[ "$(id -u)" = 0 ] && {
	chmod 0711 "$T"
	st=0
	setpriv --reuid=4242 --regid=4242 --clear-groups \
		"$WALCTL" append --tenant 3 x >/dev/null 2>&1 || st=$?
	expect_eq "append as uid 4242" "$st" 77
	expect_eq "walld_denied_total{kind=\"append\"}" \
		"$(metric 'walld_denied_total{kind="append"}')" 1
	expect_eq "walld_denied_total{kind=\"read\"}" \
		"$(metric 'walld_denied_total{kind="read"}')" 0
	expect_eq "walld_errors_total{kind=\"not_permitted\"}" \
		"$(metric 'walld_errors_total{kind="not_permitted"}')" 1
	ok "denied requests by kind"
}
"$WALCTL" seal >/dev/null || fail "seal"
"$WALCTL" append "too late" >/dev/null 2>&1 && fail "append after seal"
"$WALCTL" stats --prometheus >"$T/p2" || fail "stats after seal"
"$PROMCHECK" -q -p walld_ "$T/p2" || fail "output after seal"
expect_eq "walld_errors_total{kind=\"sealed\"}" \
	"$(metric 'walld_errors_total{kind="sealed"}' "$T/p2")" 1
expect_eq "walld_state sealed" \
	"$(metric 'walld_state{state="sealed"}' "$T/p2")" 1
expect_eq "walld_state read-write" \
	"$(metric 'walld_state{state="read-write"}' "$T/p2")" 0
ok "errors by kind; the state follows a seal"

# The file catches up within the interval, passes the same checks, and
# names the same metrics as walctl (one table in proto/metrics.c).
i=0
while [ "$(metric 'walld_state{state="sealed"}' "$PROM")" != 1 ]; do
	i=$((i + 1))
	[ $i -lt 60 ] || fail "the metrics file did not follow within 3 s"
	sleep 0.05
done
"$PROMCHECK" -p walld_ "$PROM" || fail "the metrics file"
expect_eq "appends in the file" "$(metric walld_appends_total "$PROM")" 26
grep '^# TYPE' "$PROM" >"$T/types.file"
grep '^# TYPE' "$T/p2" >"$T/types.walctl"
cmp -s "$T/types.file" "$T/types.walctl" ||
	fail "the file and walctl name different metrics: $(diff "$T/types.file" "$T/types.walctl")"
expect_eq "files in the textfile directory" "$(ls -A "$T/textfile")" walld.prom
[ "$(stat -c %a "$PROM")" = 644 ] || fail "mode $(stat -c %a "$PROM")"
ok "metrics file: rewritten every interval, same metrics as walctl"

# A reload moves the file; a file that cannot be written is logged once.
sed -i "s|file: .*|file: $T/textfile/other.prom|" "$T/walld.yaml"
kill -HUP "$WALLD_PID"
i=0
while ! [ -f "$T/textfile/other.prom" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "no file at the reloaded path after 5 s"
	sleep 0.05
done
"$PROMCHECK" -q -p walld_ "$T/textfile/other.prom" || fail "reloaded file"
sed -i "s|file: .*|file: $T/missing/walld.prom|" "$T/walld.yaml"
kill -HUP "$WALLD_PID"
sleep 2.5
n=$(grep -c "metrics file: .*missing.*No such file or directory" "$LOG")
expect_eq "log lines for a metrics file that cannot be written" "$n" 1
"$WALCTL" ping >/dev/null || fail "walld after a failing metrics file"
ok "reload moves the metrics file; a failure is logged once"

stop_walld TERM || fail "stop"
