# SPDX-License-Identifier: Apache-2.0
# walctl as a tool for the hand and for programs: option errors in one line
# and a pointer to the help (exit 64, none of getopt's own words); help per
# command and a one-line list; JSON with one type per field across read,
# stats, cursors, append and sync (LSNs strings, null not "none"); status;
# segments --dir; stats --interval.
. "$(dirname "$0")/lib.sh"
start_walld

# usage_error WHAT WANT-FIRST-LINE ARGS...: exit 64, two lines on stderr:
# the reason, then where the help is; nothing on stdout.
usage_error() {
	what=$1 want=$2
	shift 2
	st=0; "$WALCTL" "$@" >"$T/uout" 2>"$T/uerr" || st=$?
	expect_eq "$what: exit" $st 64
	expect_eq "$what: message" "$(head -n 1 "$T/uerr")" "$want"
	expect_eq "$what: lines" "$(wc -l <"$T/uerr")" 2
	expect_eq "$what: stdout" "$(wc -c <"$T/uout")" 0
	grep -q "^try 'walctl help" "$T/uerr" || fail "$what: no pointer to the help: $(cat "$T/uerr")"
}
usage_error "unknown long option" "walctl: read: unknown option --frob" read --frob
usage_error "missing argument" "walctl: read: option --from needs an argument" read --from
usage_error "argument not taken" "walctl: read: option --json takes no argument" read --json=1
usage_error "unknown short option" "walctl: tail: unknown option -x" tail -x
usage_error "missing short argument" "walctl: tail: option -n needs an argument" tail -n
usage_error "bad number" "walctl: read: --from: invalid number: abc (0 to 18446744073709551615)" read --from abc
usage_error "extra argument" "walctl: sync: unexpected argument 'extra'" sync extra
usage_error "required option" "walctl: truncate: --before LSN is required" truncate
usage_error "global option" "walctl: unknown option --frob" --frob ping
usage_error "unknown command" "walctl: frobnicate: unknown command" frobnicate
usage_error "no command" "walctl: no command given"
usage_error "verify's options too" "walctl: verify: option --dir needs an argument" verify --dir
expect_eq "pointer names the command" "$("$WALCTL" read --frob 2>&1 | tail -n 1)" "try 'walctl help read'"
# getopt's own messages never show ("unrecognized option", "requires").
for args in "read --frob" "read --from" "tail -x" "-t" "stats --interval"; do
	"$WALCTL" $args 2>"$T/err" && fail "$args succeeded"
	grep -q "unrecognized\|requires an argument\|invalid option" "$T/err" &&
	    fail "getopt's message for $args: $(cat "$T/err")"
done
ok "option errors: one line, the help pointer, 64"

# Help: the list has one line per command; help CMD and CMD --help agree.
"$WALCTL" help >"$T/help" || fail "help"
"$WALCTL" --help | cmp -s - "$T/help" || fail "--help differs from help"
for cmd in append sync read tail cursors stats status segments verify; do
	n=$(grep -c "^  $cmd  *[a-z]" "$T/help")
	expect_eq "one line for $cmd" "$n" 1
	"$WALCTL" help $cmd >"$T/h1" || fail "help $cmd"
	"$WALCTL" $cmd --help >"$T/h2" || fail "$cmd --help"
	cmp -s "$T/h1" "$T/h2" || fail "help $cmd differs from $cmd --help"
	grep -q "^usage: walctl .*$cmd" "$T/h1" || fail "help $cmd: $(head -n 1 "$T/h1")"
done
grep -q -- "--dump" "$T/h1" && fail "help verify shows read's options"
"$WALCTL" help read | grep -q -- "--limit" || fail "help read lacks --limit"
usage_error "help of nothing" "walctl: help: nope: unknown command" help nope
ok "help CMD, CMD --help, one line per command"

# JSON: every output parses, and a field has one type in all of them.
"$WALCTL" append --tenant 2 --type 3 --vshard 1 "one" >/dev/null || fail append
"$WALCTL" append --json "two" >"$T/append.json" || fail "append --json"
printf 'x\ny\n' | "$WALCTL" append --lines --json >"$T/lines.json" || fail "append --lines --json"
"$WALCTL" sync --json >"$T/sync.json" || fail "sync --json"
"$WALCTL" cursor create etl 2 >/dev/null || fail "cursor create"
"$WALCTL" cursor create idle >/dev/null || fail "cursor create"
"$WALCTL" cursor commit etl 3 >/dev/null || fail "cursor commit"
"$WALCTL" read --json >"$T/read.json" || fail "read --json"
"$WALCTL" stats --json >"$T/stats.json" || fail "stats --json"
"$WALCTL" cursors --json >"$T/cursors.json" || fail "cursors --json"
python3 - "$T" <<'X' || fail "JSON types"
import json, sys
t = sys.argv[1]
def lines(name):
    return [json.loads(l) for l in open(t + "/" + name)]
def digits(v):
    return isinstance(v, str) and v.isdigit()
seen = {}
def check(where, obj):
    for k, v in obj.items():
        kind = "null" if v is None else type(v).__name__
        # A field is one type, or null where it may have no value.
        if kind != "null":
            prev = seen.setdefault(k, (kind, where))
            assert prev[0] == kind, (k, kind, where, prev)
        if k == "lsn" or k.endswith("_lsn"):
            assert digits(v), (where, k, v)
append = lines("append.json"); check("append", append[0])
assert list(append[0]) == ["lsn"] and append[0]["lsn"] == "2", append
lns = lines("lines.json")
assert [o["lsn"] for o in lns] == ["3", "4"], lns
sync = lines("sync.json"); check("sync", sync[0])
assert sync == [{"durable_lsn": "4"}], sync
for o in lines("read.json"):
    check("read", o)
    for k in ("type", "tenant", "vshard"):
        assert isinstance(o[k], int), o
    assert isinstance(o["payload"], str)
cur = {o["name"]: o for o in lines("cursors.json")}
for o in cur.values():
    check("cursors", o)
    assert isinstance(o["lag_records"], int) and isinstance(o["commit_ms"], int)
assert cur["etl"]["lsn"] == "3" and cur["etl"]["lag_records"] == 1, cur
assert cur["idle"]["committed"] is None, cur
assert isinstance(cur["etl"]["committed"], str), cur
stats = lines("stats.json"); assert len(stats) == 1
s = stats[0]; check("stats", s)
for k, v in s.items():
    assert v != "none", (k, v)
    if k.endswith("_lsn"):
        continue
    if k in ("version", "state", "data_dir", "encryption", "cursor_lowest",
             "archive_last_segment", "replication_state"):
        assert v is None or isinstance(v, str), (k, v)
    elif k == "keys_needed":
        assert isinstance(v, list) and all(isinstance(i, int) for i in v), v
    else:
        assert isinstance(v, int), (k, v)
assert s["next_lsn"] == "5" and s["durable_lsn"] == "4", s
assert s["archive_last_segment"] is None and s["keys_needed"] == [], s
assert s["cursor_lowest"] == "idle" and s["cursor_lowest_lsn"] == "0", s
X
ok "JSON: LSNs strings everywhere, null not \"none\", one type per field"

# status: a short summary.
"$WALCTL" status >"$T/status" || fail status
grep -q "^walld [0-9.]*: read-write$" "$T/status" || fail "status: $(cat "$T/status")"
grep -q "LSNs 1 to 4 durable, next 5" "$T/status" || fail "status log: $(cat "$T/status")"
grep -q "^  clients: .* connected" "$T/status" || fail "status clients: $(cat "$T/status")"
grep -q "^  replication:  off$" "$T/status" || fail "status replication: $(cat "$T/status")"
ok "status"

# stats --interval: a sample every N seconds until interrupted.
"$WALCTL" stats --json --interval 1 >"$T/samples" 2>&1 &
spid=$!
EXTRA_PIDS=$spid
# Two samples (however slowly walctl starts), then no more than one a
# second for the time it ran.
t0=$(date +%s)
i=0
while [ "$(wc -l <"$T/samples")" -lt 2 ] && [ $i -lt 200 ]; do
	i=$((i + 1))
	sleep 0.05
done
kill -TERM $spid	# (SIGINT is ignored by a background job of sh)
wait $spid 2>/dev/null
EXTRA_PIDS=
ran=$(( $(date +%s) - t0 + 1 ))
n=$(wc -l <"$T/samples")
[ "$n" -ge 2 ] && [ "$n" -le $((ran + 1)) ] ||
	fail "stats --interval 1 for about $ran s: $n samples"
python3 -c 'import json, sys
for l in open(sys.argv[1]): json.loads(l)' "$T/samples" || fail "samples are not JSON lines"
usage_error "interval 0" "walctl: stats: --interval: at least 1 second" stats --interval 0
ok "stats --interval"

# segments --dir: one line per segment, sealed then active, LSNs that
# follow one another; without --dir, walld's own directory.
"$WALCTL" rotate >/dev/null || fail rotate
"$WALCTL" append "in the second" >/dev/null || fail append
"$WALCTL" sync >/dev/null || fail sync
"$WALCTL" segments --dir "$DATA" >"$T/segs" || fail "segments: $(cat "$T/segs")"
expect_eq "segments: lines" "$(wc -l <"$T/segs")" 3
expect_eq "segments: header" "$(head -n 1 "$T/segs" | tr -s ' ')" \
    "FIRST_LSN LAST_LSN STATE KEY_ID CREATED SIZE ARCHIVED REPLICATED"
expect_eq "segments: first" "$(sed -n 2p "$T/segs" | awk '{ print $1, $2, $3, $4, $7, $8 }')" "1 4 sealed 0 - -"
expect_eq "segments: second" "$(sed -n 3p "$T/segs" | awk '{ print $1, $2, $3, $4, $7, $8 }')" "5 5 active 0 - -"
sed -n 2p "$T/segs" | awk '{ print $5 }' | grep -q '^20[0-9-]*T[0-9:]*Z$' || fail "segments: time: $(cat "$T/segs")"
# An archive position marks the segments up to it.
printf '%020d.wal\n' 1 >"$DATA/ARCHIVED"
expect_eq "segments: archived" "$("$WALCTL" segments --dir "$DATA" | awk 'NR > 1 { print $7 }' | tr '\n' ' ')" "y n "
"$WALCTL" segments --dir "$DATA" --json >"$T/segs.json" || fail "segments --json"
rm -f "$DATA/ARCHIVED"
"$WALCTL" segments --dir "$DATA" --json >>"$T/segs.json" || fail "segments --json"
python3 - "$T/segs.json" <<'X' || fail "segments --json: $(cat "$T/segs.json")"
import json, sys
segs = [json.loads(l) for l in open(sys.argv[1])]
assert all(s["replicated"] is None for s in segs), segs
assert [(s["first_lsn"], s["last_lsn"], s["state"], s["archived"]) for s in segs] == [
    ("1", "4", "sealed", True), ("5", "5", "active", False),
    ("1", "4", "sealed", None), ("5", "5", "active", None)], segs
for s in segs:
    assert isinstance(s["key_id"], int) and isinstance(s["size"], int), s
    assert isinstance(s["created"], str) and s["created"].endswith("Z"), s
X
# Without --dir: the directory walld names in its stats (data_dir).
expect_eq "stats data_dir" "$(stat_of data_dir)" "$(cd "$DATA" && pwd -P)"
"$WALCTL" segments >"$T/segs.online" || fail "segments without --dir"
"$WALCTL" segments --dir "$DATA" | cmp -s - "$T/segs.online" ||
	fail "segments without --dir differs: $(cat "$T/segs.online")"
mkdir "$T/empty"
st=0; "$WALCTL" segments --dir "$T/empty" 2>/dev/null || st=$?
expect_eq "segments of an empty directory" $st 66
ok "segments, with --dir and without"

# Bash completion: commands, a command's options, an option's values, and
# the cursors walld has (walctl on $PATH asks it).
complete_words() {
	PATH=$B:$PATH bash -c '. "$1/tools/completion/walctl.bash"
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	_walctl
	echo "${COMPREPLY[*]}"' _ "$TOP" "$@"
}
expect_eq "complete a command" "$(complete_words walctl re)" "read restore reload"
expect_eq "complete after -s" "$(complete_words walctl -s "$SOCK" seg)" "segments"
expect_eq "complete read's options" "$(complete_words walctl read --l)" "--limit --last"
expect_eq "complete stats' options" "$(complete_words walctl stats --)" \
    "--json --prometheus --interval --socket --help"
expect_eq "complete --ack" "$(complete_words walctl sync --ack r)" "replicated"
expect_eq "complete help CMD" "$(complete_words walctl help cur)" "cursor cursors"
expect_eq "complete a cursor verb" "$(complete_words walctl cursor c)" "create commit"
expect_eq "complete a cursor name" "$(complete_words walctl cursor get e)" "etl"
expect_eq "complete --cursor" "$(complete_words walctl tail --cursor i)" "idle"
if command -v zsh >/dev/null; then
	zsh -n "$TOP/tools/completion/_walctl" || fail "_walctl does not parse"
fi
ok "bash completion"
stop_walld || fail "walld exit status $?"
