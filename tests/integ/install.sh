# SPDX-License-Identifier: Apache-2.0
# install: `make install DESTDIR=... PREFIX=/usr` puts every file where a
# Debian system expects it (and nothing else); the installed walld runs on
# the installed configuration; a small client builds against the installed
# pkg-config file (shared and static libwal) and appends; `make uninstall`
# removes every file again, keeping only a configuration the admin changed.
# run alone: `make install` reads and writes the build under test
# (tests/run.sh runs it after the others, by itself).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/helpers/make_install.sh"

command -v pkg-config >/dev/null || fail "pkg-config not found: run tools/deps.sh"
command -v cc >/dev/null || fail "cc not found: run tools/deps.sh (build-essential)"
command -v groff >/dev/null || fail "groff not found: run tools/deps.sh (groff-base)"

R=$T/root
make_target install DESTDIR="$R" PREFIX=/usr

# Exactly these files, and symbolic links.
cat >"$T/want" <<'EOF'
etc/walld/walld.yaml
usr/bin/walctl
usr/include/libwal.h
usr/lib/libwal.a
usr/lib/libwal.so
usr/lib/libwal.so.1
usr/lib/pkgconfig/libwal.pc
usr/lib/systemd/system/walld.service
usr/lib/systemd/system/walld.socket
usr/lib/sysusers.d/walld.conf
usr/sbin/walld
usr/share/bash-completion/completions/walctl
usr/share/man/man1/walctl.1
usr/share/man/man5/walld.yaml.5
usr/share/man/man8/walld.8
usr/share/zsh/vendor-completions/_walctl
EOF
(cd "$R" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort) >"$T/got"
diff "$T/want" "$T/got" >&2 || fail "installed files differ from the list (< want, > got)"
ok "make install: the 16 files, nothing else"

mode() { stat -c %a "$R/$1"; }
expect_eq "walld mode" "$(mode usr/sbin/walld)" 755
expect_eq "walctl mode" "$(mode usr/bin/walctl)" 755
expect_eq "libwal.so.1 mode" "$(mode usr/lib/libwal.so.1)" 755
for f in usr/lib/libwal.a usr/include/libwal.h usr/lib/pkgconfig/libwal.pc \
    etc/walld/walld.yaml usr/lib/systemd/system/walld.service \
    usr/share/man/man8/walld.8 usr/share/bash-completion/completions/walctl \
    usr/share/zsh/vendor-completions/_walctl; do
	expect_eq "$f mode" "$(mode $f)" 644
done
expect_eq "libwal.so link" "$(readlink "$R/usr/lib/libwal.so")" libwal.so.1
soname=$(objdump -p "$R/usr/lib/libwal.so.1" | awk '$1 == "SONAME" { print $2 }')
expect_eq "SONAME" "$soname" libwal.so.1
ok "modes, the libwal.so symlink and SONAME"

# The units name the installed paths; the configuration the system ones.
grep -qx "ExecStart=/usr/sbin/walld --config /etc/walld/walld.yaml" \
    "$R/usr/lib/systemd/system/walld.service" || fail "ExecStart="
grep -qx "ListenStream=/run/walld/walld.sock" \
    "$R/usr/lib/systemd/system/walld.socket" || fail "ListenStream="
C=$R/etc/walld/walld.yaml
grep -qx "  path: /run/walld/walld.sock" "$C" || fail "socket.path in $C"
grep -qx "  data_dir: /var/lib/walld" "$C" || fail "storage.data_dir in $C"
! grep -n '\./var' "$C" >&2 || fail "$C still names ./var"
"$R/usr/sbin/walld" --check-config --config "$C" >/dev/null ||
    fail "the installed walld refuses the installed configuration"
grep -qx "prefix=/usr" "$R/usr/lib/pkgconfig/libwal.pc" || fail "libwal.pc prefix"
ok "units, configuration and libwal.pc name /usr, /etc, /run and /var/lib"

# The man pages format without a warning.
for m in man1/walctl.1 man5/walld.yaml.5 man8/walld.8; do
	LC_ALL=C.UTF-8 groff -mandoc -Tutf8 -ww -z "$R/usr/share/man/$m" \
	    >"$T/groff.out" 2>&1 || fail "groff $m"
	[ ! -s "$T/groff.out" ] || { cat "$T/groff.out" >&2; fail "groff warns on $m"; }
done
ok "man pages format cleanly"

# A client built against the installed library, found through pkg-config.
cat >"$T/client.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <libwal.h>

int
main(int argc, char **argv)
{
	struct wal_conn	*c;
	enum wal_result	 r;
	char		*cause = NULL;
	uint64_t	 lsn;

	if (argc != 3)
		return (64);
	r = wal_conn_open(&c, argv[1], 5000, &cause);
	if (r != WAL_RESULT_OK) {
		fprintf(stderr, "client: %s: %s\n", wal_result_name(r),
		    cause != NULL ? cause : "");
		return (1);
	}
	r = wal_conn_append(c, 7, 42, 3, argv[2], strlen(argv[2]), &lsn);
	if (r != WAL_RESULT_OK) {
		fprintf(stderr, "client: append: %s\n", wal_conn_error(c));
		return (1);
	}
	printf("%llu\n", (unsigned long long)lsn);
	wal_conn_close(c);
	return (0);
}
EOF
export PKG_CONFIG_PATH=$R/usr/lib/pkgconfig PKG_CONFIG_LIBDIR=$R/usr/lib/pkgconfig
pc() { PKG_CONFIG_SYSROOT_DIR=$R pkg-config "$@" libwal; }
flags=$(pc --cflags --libs) || fail "pkg-config libwal"
expect_eq "pkg-config --cflags --libs" "$(echo $flags)" \
    "-I$R/usr/include -L$R/usr/lib -lwal"
expect_eq "pkg-config --define-prefix" \
    "$(echo $(pkg-config --define-prefix --cflags --libs libwal))" \
    "-I$R/usr/include -L$R/usr/lib -lwal"
expect_eq "pkg-config --modversion" "$(pc --modversion)" 0.1.0
# A SANITIZE=1 libwal needs its runtime linked into the client.
san=
[ "$(basename "$B")" != build-san ] || san=-fsanitize=address,undefined
cc -std=c99 -Wall -Wextra -Werror $san -o "$T/client" "$T/client.c" $flags ||
    fail "building the client against the installed libwal.so"
cc -std=c99 -Wall -Wextra -Werror $san -o "$T/client-static" "$T/client.c" \
    $(pc --cflags) "$R/usr/lib/libwal.a" || fail "building the client against libwal.a"
LD_LIBRARY_PATH=$R/usr/lib ldd "$T/client" | grep -q "libwal.so.1 => $R/usr/lib/libwal.so.1" ||
    fail "the client does not load the installed libwal.so.1"
! ldd "$T/client-static" | grep -q libwal || fail "the static client needs libwal.so"
ok "a client builds against the installed pkg-config file (shared and static)"

# The installed walld, on the installed configuration (paths overridden).
WALLD=$R/usr/sbin/walld WALCTL=$R/usr/bin/walctl
start_walld --config "$C"
lsn=$(LD_LIBRARY_PATH=$R/usr/lib "$T/client" "$SOCK" "shared client") ||
    fail "the shared client could not append"
expect_eq "shared client's LSN" "$lsn" 1
lsn=$("$T/client-static" "$SOCK" "static client") || fail "the static client could not append"
expect_eq "static client's LSN" "$lsn" 2
"$WALCTL" read --json >"$T/read.out" || fail "walctl read"
grep -q '"tenant":42' "$T/read.out" || { cat "$T/read.out" >&2; fail "tenant 42 not read back"; }
expect_eq "records read back" "$(wc -l <"$T/read.out")" 2
stop_walld TERM || fail "walld exited $?, want 0"
ok "the installed walld serves both clients"

# Uninstall removes every file.
make_target uninstall DESTDIR="$R" PREFIX=/usr
left=$(cd "$R" && find . ! -type d)
[ -z "$left" ] || fail "left after make uninstall: $left"
[ ! -d "$R/etc/walld" ] || fail "$R/etc/walld left behind"
ok "make uninstall leaves no file"

# A configuration the admin changed survives uninstall, and a new install
# (without DESTDIR: here PREFIX inside $T) does not overwrite it.
P=$T/usr
make_target install PREFIX="$P"
PC=$P/etc/walld/walld.yaml
grep -qx "  path: /run/walld/walld.sock" "$PC" || fail "$PC not installed"
sed -i 's/^  level: info$/  level: debug/' "$PC"
make_target install PREFIX="$P"
grep -q "kept $PC" "$T/make.log" || fail "install did not say it kept $PC"
grep -qx "  level: debug" "$PC" || fail "install overwrote the changed $PC"
make_target uninstall PREFIX="$P"
grep -q "kept $PC" "$T/make.log" || fail "uninstall did not say it kept $PC"
left=$(cd "$P" && find . ! -type d)
expect_eq "left after uninstall" "$left" "./etc/walld/walld.yaml"
ok "a changed configuration is kept by install and uninstall"
