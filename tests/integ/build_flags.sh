# SPDX-License-Identifier: Apache-2.0
# The build as a user or a packager runs it (docs/PACKAGING.md): in a copy
# of the tree, `make CFLAGS=-O0` with a check.h that stops any compile
# that includes it builds walld, walctl and libwal, with the project's own
# flags still there (-std=gnu11, -D_GNU_SOURCE: the build fails without
# them) and the user's -O0 in place of -O2, and builds no test.
. "$(dirname "$0")/lib.sh"

SRC=$T/src
mkdir "$SRC" || fail "mkdir $SRC"
# The tracked files when this is a git checkout, else the tree's sources.
if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$TOP" && git ls-files -z | xargs -0 cp --parents -t "$SRC") ||
	    fail "copying the tracked files"
else
	(cd "$TOP" && cp -r Makefile common client daemon engine proto repl \
	    conf man systemd tools "$SRC") || fail "copying the tree"
fi
# A check.h found before the real one: any compile of plain `make` that
# needs the Check package fails on it.
mkdir "$T/nocheck" || fail "mkdir $T/nocheck"
echo '#error "plain make must not need check.h"' >"$T/nocheck/check.h" ||
    fail "$T/nocheck/check.h"

st=0
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$SRC" -j2 B=b \
    CFLAGS=-O0 CPPFLAGS="-I$T/nocheck" >"$T/make.log" 2>&1 || st=$?
[ $st = 0 ] || { tail -n 20 "$T/make.log" >&2; fail "make CFLAGS=-O0: exit $st"; }
for f in walld walctl libwal.so libwal.a libwal.pc; do
	[ -f "$SRC/b/$f" ] || fail "make built no $f"
done
[ ! -d "$SRC/b/tests" ] || [ -z "$(ls "$SRC/b/tests")" ] ||
    fail "plain make built tests: $(ls "$SRC/b/tests" | head -3)"
grep -q -- '-O0' "$T/make.log" || fail "the user's -O0 is not in the compile lines"
grep -q -- '-O2' "$T/make.log" && fail "-O2 is still there beside CFLAGS=-O0"
grep -q -- '-std=gnu11' "$T/make.log" || fail "the project's -std=gnu11 went with CFLAGS"
"$SRC/b/walctl" --version >/dev/null || fail "the built walctl does not run"
n=$(grep -c "^cc " "$T/make.log")
ok "make CFLAGS=-O0 ($n compiles) without check.h: walld, walctl, libwal; no tests; project flags kept"
