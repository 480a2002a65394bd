# SPDX-License-Identifier: Apache-2.0
# The Python client (python/): installs a copy of it offline (pip
# --no-build-isolation: Debian's setuptools and wheel, no index), then runs
# its pytest suite (python/tests) with the installed copy against real
# walld processes on private sockets under $T: round trips, pipelining,
# every error walld answers with, follow reads, walld killed with requests
# in flight, idempotent appends (a Producer across walld killed and
# restarted), consumer cursors (protocol 2), acknowledgement levels (a
# walld without replication: a replicated append is durable and
# ReplicationUnavailable). Debian's /usr/bin/python3 with python3-pytest,
# -pip, -setuptools and -wheel (tools/deps.sh); root for the access-list and
# full-disk cases.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || fail "no $PY (Debian's python3; tools/deps.sh installs it)"
"$PY" -c 'import pytest, setuptools, wheel' 2>"$T/err" ||
	fail "$PY lacks pytest, setuptools or wheel (tools/deps.sh): $(cat "$T/err")"

chmod 0711 "$T"	# other uids (the access-list case) reach their sockets

# walld processes the suite starts: their PIDs land in $T/pids, and are
# killed here if pytest itself was killed before it could.
PIDS=$T/pids
py_cleanup() {
	if [ -f "$PIDS" ]; then
		while read -r p; do
			kill -KILL "$p" 2>/dev/null
		done <"$PIDS"
	fi
	for m in "$T"/walld-py.*/mnt*; do	# the full-disk test's tmpfs
		[ -d "$m" ] && umount "$m" 2>/dev/null
	done
	cleanup
}
trap py_cleanup EXIT

# Install from a copy: the build leaves nothing in the source tree.
cp -R "$TOP/python" "$T/src"
rm -rf "$T/src/build" "$T/src"/*.egg-info
"$PY" -m pip install --no-index --no-build-isolation --no-deps \
	--target "$T/site" "$T/src" >"$T/pip.log" 2>&1 || {
	cat "$T/pip.log" >&2
	fail "pip install --no-build-isolation of python/"
}
where=$(cd "$T" && PYTHONPATH=$T/site "$PY" -c 'import walld; print(walld.__file__)')
expect_eq "the package tested" "$where" "$T/site/walld/__init__.py"
ok "python/ installs offline (pip --no-build-isolation --no-index)"

cd "$T" || fail "cd $T"
WALD_BUILD=$B WALD_TOP=$TOP WALLD_PY_TMP=$T WALLD_PY_PIDS=$PIDS \
PYTHONPATH=$T/site PYTHONDONTWRITEBYTECODE=1 \
	timeout -k 5 600 "$PY" -m pytest -p no:cacheprovider -q -ra \
	"$T/src/tests" &
pytest_pid=$!
EXTRA_PIDS="$EXTRA_PIDS $pytest_pid"
st=0
wait "$pytest_pid" || st=$?
EXTRA_PIDS=
[ "$st" = 0 ] || fail "pytest: exit status $st"
ok "python/tests: pytest passed against walld"
