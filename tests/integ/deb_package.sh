# SPDX-License-Identifier: Apache-2.0
# deb_package: the Debian packages (debian/) as a user gets them. A copy of
# the tree is built with `dpkg-buildpackage -us -uc -b` (dpkg-buildflags'
# hardening, BIND_NOW included); lintian reports no error; the packages
# install with dpkg -i (the walld user and groups made, walld.socket
# enabled, the configuration a conffile); the installed walld runs as the
# walld user on a private socket (not the unit's) and the installed walctl
# appends and reads; a C++ program builds against the installed libwal.h
# and libwal.so (pkg-config) and appends; dpkg --purge then leaves nothing.
#
# It needs root (dpkg -i) and a machine without walld installed: it skips
# (exit 77) only when not root. The package is built from the source
# whatever the build under test, so the sanitizer pass of CI (make check
# SANITIZE=1) does not run it again: it skips there too, saying so.
# run alone: it installs the packages into this system (dpkg -i) and builds
# the whole tree (tests/run.sh runs it after the others, by itself).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "skip: needs root (dpkg -i, dpkg --purge)"
	exit 77
fi
case $(basename "$B") in
build-san)
	echo "skip: the package is built from the source, not from $B: the plain build's make check runs this test"
	exit 77 ;;
esac

for t in dpkg-buildpackage dh lintian c++ pkg-config setpriv readelf nm; do
	command -v $t >/dev/null || fail "$t not found: run tools/deps.sh test"
done
PKGS="walld walctl libwal1 libwal-dev"
VERSION=$(sed -n 's/^#define WALD_VERSION[^"]*"\(.*\)"/\1/p' "$TOP/daemon/version.h")
[ -n "$VERSION" ] || fail "no WALD_VERSION in daemon/version.h"

# Refuses a machine where walld is installed, or its accounts exist: the
# purge at the end would remove what this test did not make.
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) || st=
	case $st in
	""|un*) ;;
	*) fail "package $p is on this machine ($st): the test installs and purges it" ;;
	esac
done
for a in passwd:walld group:walld group:walld-clients; do
	! getent "${a%%:*}" "${a#*:}" >/dev/null ||
	    fail "${a#*:} (${a%%:*}) exists already: the test makes and removes it"
done
for d in /etc/walld /var/lib/walld; do
	[ ! -e "$d" ] || fail "$d exists already: the test makes and removes it"
done

# dpkg waits for nobody: another apt-get on the machine holds its lock for
# a while. Retries for up to 120 s while the lock is the only trouble.
dpkg_run() {
	i=0
	while :; do
		if dpkg "$@" >"$T/dpkg.log" 2>&1; then
			return 0
		fi
		grep -q "lock" "$T/dpkg.log" || return 1
		i=$((i + 1))
		[ $i -lt 120 ] || return 1
		sleep 1
	done
}

INSTALLED=
deb_cleanup() {
	if [ -n "$WALLD_PID" ] && kill -0 "$WALLD_PID" 2>/dev/null; then
		kill -KILL "$WALLD_PID" 2>/dev/null
		wait "$WALLD_PID" 2>/dev/null
		WALLD_PID=
	fi
	if [ -n "$INSTALLED" ]; then
		dpkg_run --purge $PKGS || cat "$T/dpkg.log" >&2
	fi
	cleanup
}
trap deb_cleanup EXIT

# The build, in a copy: the files git tracks or would (build trees and
# other ignored files left out), so the tree under test stays as it was.
start=$(date +%s)
mkdir "$T/src" || fail "mkdir $T/src"
(cd "$TOP" && git ls-files -z -co --exclude-standard) >"$T/files" ||
    fail "git ls-files in $TOP"
(cd "$TOP" && tar --null --ignore-failed-read -T "$T/files" -cf -) |
    tar -xf - -C "$T/src" || fail "copying the tree to $T/src"
[ -x "$T/src/debian/rules" ] || fail "no debian/rules in the copy"
(cd "$T/src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    DEB_BUILD_OPTIONS=noddebs dpkg-buildpackage -us -uc -b -j2) >"$T/build.log" 2>&1 || {
	tail -n 40 "$T/build.log" >&2
	fail "dpkg-buildpackage"
}
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
DEBS=
for p in $PKGS; do
	f=$T/${p}_${VERSION}_$ARCH.deb
	[ -f "$f" ] || fail "no $f: is debian/changelog's version daemon/version.h's ($VERSION)?"
	DEBS="$DEBS $f"
done
grep -q -- "-Wl,-z,now" "$T/build.log" || fail "the link had no -Wl,-z,now (BIND_NOW)"
grep -q -- "-fstack-protector-strong" "$T/build.log" || fail "no -fstack-protector-strong"
ok "dpkg-buildpackage -us -uc -b: $PKGS $VERSION in $(( $(date +%s) - start )) s"

# lintian: no error (warnings and the rest are listed in the log, and in
# docs/PACKAGING.md with their reasons).
start=$(date +%s)
lintian --fail-on error --info "$T/walld_${VERSION}_$ARCH.changes" >"$T/lintian.log" 2>&1 || {
	cat "$T/lintian.log" >&2
	fail "lintian reports errors"
}
sed 's/^/lintian: /' "$T/lintian.log"
ok "lintian: no error ($(( $(date +%s) - start )) s)"

# What is in the packages: the library in the multiarch directory, only
# libwal.h's functions exported, hardened executables.
X=$T/x
for f in $DEBS; do
	dpkg-deb -x "$f" "$X" || fail "dpkg-deb -x $f"
done
SO=$X/usr/lib/$MA/libwal.so.1
[ -f "$SO" ] || fail "no usr/lib/$MA/libwal.so.1 in libwal1"
[ -f "$X/usr/lib/$MA/pkgconfig/libwal.pc" ] || fail "no libwal.pc in usr/lib/$MA/pkgconfig"
[ -f "$X/usr/share/doc/libwal-dev/PROTOCOL.md.gz" ] ||
    fail "libwal-dev has no PROTOCOL.md.gz, which libwal.h points at"
grep -q "/usr/share/doc/libwal-dev/PROTOCOL.md.gz" "$X/usr/include/libwal.h" ||
    fail "libwal.h does not point at the installed PROTOCOL.md.gz"
nm -D --defined-only "$SO" >"$T/nm.out" || fail "nm -D $SO"
awk '{ print $NF }' "$T/nm.out" | LC_ALL=C sort >"$T/exported"
# libwal.h's functions, each under the version node libwal.map puts it
# in (LIBWAL_1, then one node per release that added some), and the nodes.
grep -o '\bwal_[a-z_]*(' "$TOP/client/libwal.h" | tr -d '(' |
    LC_ALL=C sort -u >"$T/api.names"
awk '/^[A-Z][A-Z0-9_.]* *[{]/ { node = $1; print node }
    /^[ \t]+wal_[a-z_]*;/ { f = $1; sub(/;/, "", f); print f "@@" node }' \
    "$TOP/client/libwal.map" | LC_ALL=C sort >"$T/api"
sed -n 's/@@.*//p' "$T/api" | LC_ALL=C sort | diff "$T/api.names" - >&2 ||
	fail "libwal.map does not list libwal.h's functions (< header, > map)"
diff "$T/api" "$T/exported" >&2 || fail "libwal.so.1 exports other than libwal.h's functions (< header, > exported)"
for e in "$X/usr/sbin/walld" "$X/usr/bin/walctl" "$SO"; do
	readelf -d "$e" | grep -q "FLAGS.*\bNOW\b" || fail "$e: no BIND_NOW"
	readelf -l "$e" | grep -q GNU_RELRO || fail "$e: no RELRO"
done
readelf -h "$X/usr/sbin/walld" | grep -q "Type: *DYN" || fail "walld is not PIE"
nm -D "$X/usr/sbin/walld" | grep -q "__stack_chk_fail" || fail "walld: no stack protector"
nm -D "$X/usr/sbin/walld" | grep -q "__[a-z]*_chk@" || fail "walld: no fortified calls"
ok "libwal.so.1 in /usr/lib/$MA exports libwal.h's $(($(wc -l <"$T/api") - 1)) functions only; PIE, RELRO, BIND_NOW, stack protector, fortify"

# Installed.
INSTALLED=1
dpkg_run -i $DEBS || { cat "$T/dpkg.log" >&2; fail "dpkg -i"; }
for p in $PKGS; do
	expect_eq "dpkg status of $p" "$(dpkg-query -W -f='${db:Status-Abbrev}' $p)" "ii "
done
getent passwd walld >/dev/null || fail "no walld user after install"
getent group walld-clients >/dev/null || fail "no walld-clients group after install"
[ -L /etc/systemd/system/sockets.target.wants/walld.socket ] ||
    fail "walld.socket is not enabled (no sockets.target.wants link)"
[ ! -e /etc/systemd/system/multi-user.target.wants/walld.service ] ||
    fail "walld.service is enabled: walld.socket starts it"
dpkg-query -W -f='${Conffiles}\n' walld | grep -q "^ /etc/walld/walld.yaml " ||
    fail "/etc/walld/walld.yaml is not a conffile"
expect_eq "walld --version" "$(/usr/sbin/walld --version)" "walld $VERSION"
expect_eq "walctl --version" "$(/usr/bin/walctl --version)" "walctl $VERSION"
/usr/sbin/walld --check-config --config /etc/walld/walld.yaml >/dev/null ||
    fail "the installed walld refuses the installed configuration"
ok "dpkg -i: walld user and groups, walld.socket enabled, a conffile, versions $VERSION"

# The installed walld as the walld user, on a private socket and data
# directory under $T (not the unit's /run/walld/walld.sock), stopped by PID.
chmod 0755 "$T" && mkdir "$T/run" && chown walld:walld "$T/run" ||
    fail "a directory for the walld user under $T"
SOCK=$T/run/walld.sock
DATA=$T/run/data
export WALLD_SOCKET=$SOCK
setpriv --reuid=walld --regid=walld --init-groups --inh-caps=-all \
    /usr/sbin/walld --config /etc/walld/walld.yaml --socket "$SOCK" \
    --data-dir "$DATA" >>"$LOG" 2>&1 &
WALLD_PID=$!
i=0
while ! /usr/bin/walctl ping >/dev/null 2>&1; do
	kill -0 "$WALLD_PID" 2>/dev/null || fail "the installed walld exited at start-up"
	i=$((i + 1))
	[ $i -lt 200 ] || fail "the installed walld did not answer within 10 s"
	sleep 0.05
done
expect_eq "walld's user" "$(stat -c %U /proc/$WALLD_PID)" walld
expect_eq "the data directory's owner" "$(stat -c %U "$DATA")" walld
expect_eq "walctl append" "$(/usr/bin/walctl append "from the package")" 1
ok "the installed walld runs as walld on $SOCK; the installed walctl appends"

# A C++ program against the installed header and library, through the
# installed libwal.pc.
cat >"$T/pkg.cc" <<'EOF'
#include <cstdio>
#include <cstring>
#include <libwal.h>

int
main(int argc, char **argv)
{
	struct wal_conn	*c;
	char		*cause = nullptr;
	uint64_t	 lsn = 0;

	if (argc != 3)
		return 64;
	enum wal_result r = wal_conn_open(&c, argv[1], 5000, &cause);
	if (r != WAL_RESULT_OK) {
		std::fprintf(stderr, "open: %s: %s\n", wal_result_name(r),
		    cause != nullptr ? cause : "");
		return 1;
	}
	r = wal_conn_append(c, 2, 9, 4, argv[2], std::strlen(argv[2]), &lsn);
	if (r != WAL_RESULT_OK) {
		std::fprintf(stderr, "append: %s (code %u)\n", wal_conn_error(c),
		    (unsigned)wal_conn_error_code(c));
		return 1;
	}
	std::printf("%llu\n", (unsigned long long)lsn);
	wal_conn_close(c);
	return WAL_E_SEALED == 4 ? 0 : 1;
}
EOF
flags=$(pkg-config --cflags --libs libwal) || fail "pkg-config libwal (installed)"
c++ -std=c++17 -Wall -Wextra -Werror -pedantic -o "$T/pkg-cxx" "$T/pkg.cc" $flags \
    >"$T/cxx.log" 2>&1 || { cat "$T/cxx.log" >&2; fail "a C++ program against the installed libwal"; }
# (/lib/$MA where /lib is a link to /usr/lib: ld.so.cache names either.)
ldd "$T/pkg-cxx" | grep -Eq "libwal\.so\.1 => (/usr)?/lib/$MA/libwal\.so\.1 " || {
	ldd "$T/pkg-cxx" >&2
	fail "the C++ program does not load /usr/lib/$MA/libwal.so.1"
}
expect_eq "the C++ program's append" "$("$T/pkg-cxx" "$SOCK" "from C++")" 2
/usr/bin/walctl read --json >"$T/read.out" || fail "walctl read"
expect_eq "records read back" "$(wc -l <"$T/read.out")" 2
grep -q '"tenant":9' "$T/read.out" || { cat "$T/read.out" >&2; fail "the C++ record not read back"; }
kill -TERM "$WALLD_PID" || fail "kill $WALLD_PID"
st=0
wait "$WALLD_PID" || st=$?
WALLD_PID=
expect_eq "walld's exit status after SIGTERM" $st 0
ok "a C++ program builds against the installed libwal.h and libwal.so.1 and appends; walctl reads both records"

# Purged: nothing of the packages, their accounts or their state is left.
# (/var/lib/walld stands in for what walld.service would have written.)
mkdir -p /var/lib/walld/x && chown -R walld:walld /var/lib/walld ||
    fail "making /var/lib/walld"
dpkg -L $PKGS >"$T/owned.all" || fail "dpkg -L $PKGS"
LC_ALL=C sort -u "$T/owned.all" >"$T/owned" || fail "sort $T/owned.all"
dpkg_run --purge $PKGS || { cat "$T/dpkg.log" >&2; fail "dpkg --purge"; }
INSTALLED=
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) || st=
	case $st in ""|un*) ;; *) fail "$p still known to dpkg after purge ($st)" ;; esac
done
left=
while read -r f; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	# A directory is left only when no other package has it ("/.", and
	# /lib, a link to usr/lib, are the system's).
	if [ -d "$f" ]; then
		[ "$f" = /. ] || [ -L "$f" ] && continue
		[ -n "$(dpkg -S "$f" 2>/dev/null)" ] && continue
	fi
	left="$left $f"
done <"$T/owned"
for f in /etc/walld /var/lib/walld /run/walld \
    /etc/systemd/system/sockets.target.wants/walld.socket \
    /var/lib/systemd/deb-systemd-helper-enabled/walld.socket.dsh-also \
    /var/lib/systemd/deb-systemd-helper-enabled/sockets.target.wants/walld.socket; do
	[ ! -e "$f" ] && [ ! -L "$f" ] || left="$left $f"
done
[ -z "$left" ] || fail "left after dpkg --purge:$left"
for a in passwd:walld group:walld group:walld-clients; do
	! getent "${a%%:*}" "${a#*:}" >/dev/null || fail "${a#*:} (${a%%:*}) left after purge"
done
ok "dpkg --purge: no file, account, unit link or state left"
