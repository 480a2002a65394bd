#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# ab.sh: two walld builds measured against each other in one run,
# alternating: A, B, A, B, ... on the same configurations, with the same
# walbench, each run on a fresh data directory on the repository's disk.
# For a change that must not make the hot path slower (a refactor): the
# ratio B/A of each configuration's median over the rounds, and the
# spread of the rounds, say whether B is within the noise of A.
#
#   sh bench/ab.sh WALLD_A WALLD_B [ROUNDS]
#   AB_SECONDS=N    measured seconds per run (5)
#   AB_CONFIGS="LABEL:P:C:D:SIZE ..."  the configurations (see CONFIGS)
#   AB_KEYRING=FILE both walld encrypt with this key ring (docs/CONFIG.md)
#
# Needs build/walbench (make). The other work of the machine is printed
# beside each row ("other CPU"): rows disturbed by it say so.
set -u
A=${1:?usage: ab.sh WALLD_A WALLD_B [ROUNDS]}
BB=${2:?usage: ab.sh WALLD_A WALLD_B [ROUNDS]}
ROUNDS=${3:-3}
SECS=${AB_SECONDS:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
WB=$top/build/walbench
[ -x "$WB" ] || { echo "ab.sh: $WB is missing: make" >&2; exit 1; }
mkdir -p "$top/var/bench"
T=$(mktemp -d "$top/var/bench/ab.XXXXXX")
SOCK=$T/walld.sock
PID=
trap '[ -z "$PID" ] || kill -TERM "$PID" 2>/dev/null; rm -rf "$T/data"' EXIT INT TERM

# walld refuses to run as root without --allow-root (docs/OPERATIONS.md).
ALLOW_ROOT=
[ "$(id -u)" != 0 ] || ALLOW_ROOT=--allow-root

# The configurations: label and walbench's -p -c -d -S.
CONFIGS=${AB_CONFIGS:-"1x1:1:1:1:128 64procx1:64:1:1:128 1x64x16:1:64:16:128 4KiB64x16:1:64:16:4096"}

# run WALLD CONFIG ROUND: one measured run on a fresh directory.
run() {
	label=$(echo "$2" | cut -d: -f1)
	p=$(echo "$2" | cut -d: -f2)
	c=$(echo "$2" | cut -d: -f3)
	d=$(echo "$2" | cut -d: -f4)
	s=$(echo "$2" | cut -d: -f5)
	rm -rf "$T/data"
	printf 'socket:\n  path: %s\nstorage:\n  data_dir: %s\n' "$SOCK" \
	    "$T/data" >"$T/walld.yaml"
	[ -z "${AB_KEYRING:-}" ] ||
	    printf 'encryption:\n  keyring: %s\n' "$AB_KEYRING" >>"$T/walld.yaml"
	out=$("$WB" startup -s "$SOCK" -- "$1" $ALLOW_ROOT --config "$T/walld.yaml" \
	    2>>"$T/walld.log") || { echo "ab.sh: $1 did not start" >&2;
	    tail -n 5 "$T/walld.log" >&2; exit 1; }
	PID=$(echo "$out" | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
	"$WB" run -s "$SOCK" -p "$p" -c "$c" -d "$d" -S "$s" -t "$SECS" \
	    -l "$3 $label" --json "$T/runs.json" >>"$T/rows.md" ||
	    echo "ab.sh: walbench failed on $label" >&2
	kill -TERM "$PID"
	i=0
	while kill -0 "$PID" 2>/dev/null && [ $i -lt 200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	PID=
}

"$WB" header >"$T/rows.md"
r=1
while [ $r -le "$ROUNDS" ]; do
	for cfg in $CONFIGS; do
		run "$A" "$cfg" "A$r"
		run "$BB" "$cfg" "B$r"
	done
	r=$((r + 1))
done

echo "## A/B: A = $A, B = $BB ($ROUNDS rounds of $SECS s, alternating${AB_KEYRING:+, encrypted})"
echo
cat "$T/rows.md"
echo
echo "| configuration | A appends/s (median; min-max) | B appends/s (median; min-max) | B/A | A p50 µs | B p50 µs |"
echo "|---|---:|---:|---:|---:|---:|"
for cfg in $CONFIGS; do
	label=$(echo "$cfg" | cut -d: -f1)
	awk -v l="$label" '
	    function get(s, k,   i) { i = index(s, "\"" k "\":"); if (!i) return "";
		s = substr(s, i + length(k) + 3); sub(/[,}].*/, "", s);
		gsub(/"/, "", s); return s }
	    function med(a, n,   i, j, t) { for (i = 1; i <= n; i++)
		for (j = i + 1; j <= n; j++) if (a[j] < a[i]) {
		    t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	    { lab = get($0, "label"); split(lab, w, " ")
	      if (w[2] != l) next
	      side = substr(w[1], 1, 1)
	      if (side == "A") { na++; ta[na] = get($0, "appends_per_s") + 0
		  la[na] = get($0, "p50_us") + 0 }
	      else { nb++; tb[nb] = get($0, "appends_per_s") + 0
		  lb[nb] = get($0, "p50_us") + 0 } }
	    END { if (!na || !nb) { print "| " l " | n/a | n/a | n/a | | |"; exit }
		amin = amax = ta[1]; bmin = bmax = tb[1]
		for (i = 1; i <= na; i++) { if (ta[i] < amin) amin = ta[i]
		    if (ta[i] > amax) amax = ta[i] }
		for (i = 1; i <= nb; i++) { if (tb[i] < bmin) bmin = tb[i]
		    if (tb[i] > bmax) bmax = tb[i] }
		ma = med(ta, na); mb = med(tb, nb)
		printf "| %s | %.0f; %.0f-%.0f | %.0f; %.0f-%.0f | %.2f | %.0f | %.0f |\n",
		    l, ma, amin, amax, mb, bmin, bmax, mb / ma, med(la, na),
		    med(lb, nb) }' "$T/runs.json"
done
