# SPDX-License-Identifier: Apache-2.0
# walld: build, test, run. `make` builds walld, walctl and libwal only;
# `make check` builds the tests too and runs them. `make run` installs the
# build dependencies when missing, `make check` the test ones as well
# (Debian packages; see tools/deps.sh).
#
# CFLAGS, CPPFLAGS, LDFLAGS (and CXXFLAGS) are the user's, or
# dpkg-buildflags': `make CFLAGS=-O0` replaces only the optimisation and
# debug flags. The project's own flags are WALD_*, always added before
# them. WERROR=1 turns warnings into errors: on for the test goals (make
# check, unit, integ, soak) and in CI (.ci/run), off for a plain build so
# that a newer compiler's new warning does not break a user's build.

PREFIX	?= /usr/local
DESTDIR	?=
SANITIZE ?=
ifneq ($(filter check unit integ soak check-planted tests,$(MAKECMDGOALS)),)
WERROR	?= 1
endif
WERROR	?=

CC	?= cc
CFLAGS	?= -O2 -g
CPPFLAGS ?=
LDFLAGS	?=

WALD_CFLAGS   = -std=gnu11 -Wall -Wextra -Wshadow -Wmissing-prototypes \
		-Wstrict-prototypes -Wpointer-arith -Wundef -pthread -fPIC
WALD_CPPFLAGS = -D_GNU_SOURCE
WALD_LDFLAGS  = -pthread
ifeq ($(WERROR),1)
WALD_CFLAGS   += -Werror
endif

ifeq ($(SANITIZE),1)
B	:= build-san
WALD_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
WALD_LDFLAGS += -fsanitize=address,undefined
else
B	:= build
endif

# PLANT=1: a build with a planted durability bug (batches acknowledged
# without their fdatasync), into build-planted/; see `make check-planted`.
ifeq ($(PLANT),1)
B	:= build-planted
WALD_CPPFLAGS += -DWALD_PLANT_EARLY_ACK
endif

# PKG_CONFIG: a cross build names its own (aarch64-linux-gnu-pkg-config).
PKG_CONFIG ?= pkg-config
PKGS	 = libevent yaml-0.1 libcrypto libnats
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CHECK_LIBS = $(shell $(PKG_CONFIG) --libs check 2>/dev/null)
WALD_CPPFLAGS += $(PKG_CFLAGS)

# What every compile and link gets: the project's flags, then the user's.
ALL_CFLAGS  = $(WALD_CPPFLAGS) $(CPPFLAGS) $(WALD_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(WALD_LDFLAGS) $(LDFLAGS)

# The WAL engine: used by walld, walctl's offline tools and the tests.
ENGINE_SRC = engine/wal.c engine/wal-io.c engine/wal-batch.c engine/wal-stamp.c \
	     engine/wal-spare.c engine/wal-recover.c engine/crc32c.c engine/sysio.c engine/segment.c \
	     engine/wal-reader.c engine/wal-verify.c engine/wal-restore.c engine/keyring.c \
	     engine/wal-producer.c \
	     engine/wal-start.c \
	     common/cause.c
PROTO_SRC  = proto/frame.c
# Replication's message layout (docs/REPLICATION.md): walld and walctl.
REPL_SRC   = repl/replmsg.c
# walld itself, beyond the engine.
DAEMON_SRC = $(REPL_SRC) daemon/replica.c daemon/config.c daemon/config-yaml.c \
	     daemon/config-access.c daemon/log.c \
	     daemon/server.c daemon/conn.c daemon/ack.c daemon/stream.c \
	     daemon/request.c daemon/server-stats.c daemon/server-reload.c \
	     daemon/batcher.c daemon/notify.c \
	     daemon/access.c proto/metrics.c daemon/archive.c \
	     daemon/cursor.c daemon/server-cursor.c daemon/retention.c \
	     daemon/scrub.c
DAEMON_MAIN = daemon/main.c
LIBWAL_SRC = client/libwal.c client/libwal-io.c client/libwal-producer.c \
	     client/libwal-cursor.c client/libwal-codes.c client/libwal-admin.c
# walctl shares metrics.c with walld: one table of metric names.
WALCTL_SRC = client/walctl.c client/walctl-write.c client/walctl-read.c \
	     client/walctl-admin.c client/walctl-stream.c proto/metrics.c $(REPL_SRC) \
	     client/walctl-consume.c client/walctl-cursor.c

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

ENGINE_OBJ = $(call obj,$(ENGINE_SRC))
PROTO_OBJ  = $(call obj,$(PROTO_SRC))
DAEMON_OBJ = $(call obj,$(DAEMON_SRC))
LIBWAL_OBJ = $(call obj,$(LIBWAL_SRC)) $(PROTO_OBJ)

UNIT_SRC   = $(wildcard tests/unit/check_*.c)
UNIT_BIN   = $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
HELPER_SRC = $(wildcard tests/helpers/*.c)
HELPER_BIN = $(patsubst tests/helpers/%.c,$(B)/tests/%,$(HELPER_SRC))
SHIM_SRC   = $(wildcard tests/shims/*.c)
SHIM_BIN   = $(patsubst tests/shims/%.c,$(B)/tests/lib%.so,$(SHIM_SRC))

BINS = $(B)/walld $(B)/walctl $(B)/libwal.so.1 $(B)/libwal.a

.PHONY: all tests deps deps-build run run-cluster check unit integ clean install uninstall \
	bench bench-peers bench-repl bench-matrix
# What a user or a package builds: walld, walctl, libwal (shared, static,
# pkg-config file). No Check, no C++ compiler needed.
all: $(BINS) $(B)/libwal.pc
# What the tests need besides: the Check suites, the helpers, the fault
# injection shims, the C++ test programs and walbench.
tests: all $(B)/walbench $(UNIT_BIN) $(HELPER_BIN) $(SHIM_BIN)

# tools/deps.sh: `build` is what `make` needs, `test` adds what the tests
# and the package test need (README.md, "Dependencies").
deps-build:
	@sh tools/deps.sh build
deps:
	@sh tools/deps.sh test

# Each folder sees only the headers of the layers below it: engine/ its
# own, proto/ its own, repl/ (records as NATS messages) the engine,
# client/ proto/, the engine and repl/ (walctl's offline tools), daemon/
# all four; common/ (cause.h) is below them all. Tests and benchmarks see
# everything.
INC_common = -Icommon
INC_engine = -Iengine -Icommon
INC_proto  = -Iproto -Icommon
INC_repl   = -Irepl -Iengine -Icommon
INC_client = -Iclient -Iproto -Iengine -Irepl -Icommon
INC_daemon = -Idaemon -Iproto -Iengine -Irepl -Icommon
INC_ALL	   = -Idaemon -Iproto -Iengine -Irepl -Iclient -Icommon
inc = $(or $(INC_$(firstword $(subst /, ,$(1)))),$(INC_ALL))

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(call inc,$<) -MMD -MP -c -o $@ $<

$(B)/libengine.a: $(ENGINE_OBJ)
	rm -f $@ && ar rcs $@ $^
$(B)/libwal.a: $(LIBWAL_OBJ)
	rm -f $@ && ar rcs $@ $^
# libwal.so exports libwal.h's functions and nothing else: the version
# script client/libwal.map lists them (docs/PACKAGING.md, "libwal's ABI").
$(B)/libwal.so.1: $(LIBWAL_OBJ) client/libwal.map
	$(CC) -shared -Wl,-soname,libwal.so.1 -Wl,--version-script=client/libwal.map \
	    -Wl,-z,defs $(ALL_LDFLAGS) -o $@ $(LIBWAL_OBJ)
	ln -sf libwal.so.1 $(B)/libwal.so

# pkg-config metadata of libwal (client/libwal.pc.in), for `make install`.
# The one version number is daemon/version.h's: libwal's, the man pages'
# (their .Os line, filled in by `make install`) and debian/changelog's
# (checked by tests/integ/deb_package.sh) follow it.
VERSION	       := $(shell sed -n 's/^\#define WALD_VERSION[^"]*"\(.*\)"/\1/p' daemon/version.h)
LIBWAL_VERSION := $(VERSION)
$(B)/libwal.pc: client/libwal.pc.in Makefile
	@mkdir -p $(B)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(LIBWAL_VERSION)|' $< >$@

# walctl --version: daemon/version.h's number, which client/ cannot include.
$(B)/obj/client/walctl.o: daemon/version.h
$(B)/obj/client/walctl.o: WALD_CPPFLAGS += -DWALCTL_VERSION='"$(VERSION)"'

$(B)/walld: $(call obj,$(DAEMON_MAIN)) $(DAEMON_OBJ) $(PROTO_OBJ) $(B)/libengine.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(B)/walctl: $(call obj,$(WALCTL_SRC)) $(B)/libwal.a $(B)/libengine.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Unit tests link everything but main(); each is a Check suite.
$(B)/tests/check_%: tests/unit/check_%.c $(DAEMON_OBJ) $(B)/libwal.a $(B)/libengine.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_ALL) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)
# The encryption suite makes keyring_encrypt fail on purpose: wal-stamp.c's
# calls go to its __wrap_keyring_encrypt.
$(B)/tests/check_crypt: CHECK_LIBS += -Wl,--wrap=keyring_encrypt
# The power-loss suite also links the crash-simulating sysio layer.
$(B)/tests/check_powerloss: $(call obj,tests/unit/simio.c)
# tests/helpers-noleaks.c: no leak scan at a helper's exit in the
# sanitizer build (the file says why).
$(B)/tests/%: tests/helpers/%.c tests/helpers-noleaks.c $(B)/libwal.a $(B)/libengine.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_ALL) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
# jsdump, the replication tests' look into JetStream, links only libnats.
$(B)/tests/jsdump: tests/helpers/jsdump.c tests/helpers-noleaks.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs libnats 2>/dev/null)
# The stream publisher of the restore tests encodes with repl/.
$(B)/tests/replpub: $(call obj,$(REPL_SRC))

# The C++ test programs (tests/cxx/*.cc): libwal.h from C++ with the
# installed header's view (-Iclient only), linked with libwal.a; run by
# tests/integ/client_cxx.sh.
CXXFLAGS ?= -O2 -g
WALD_CXXFLAGS = -std=c++17 -Wall -Wextra -Wshadow -pedantic -pthread \
		$(if $(filter 1,$(WERROR)),-Werror)
CXX_SRC	 = $(wildcard tests/cxx/*.cc)
CXX_BIN	 = $(patsubst tests/cxx/%.cc,$(B)/tests/%,$(CXX_SRC))
tests: $(CXX_BIN)
$(CXX_BIN): $(B)/tests/%: tests/cxx/%.cc $(B)/libwal.a
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(WALD_CXXFLAGS) $(CXXFLAGS) -Iclient -MMD -MP -MF $@.d \
	    -o $@ $< $(B)/libwal.a $(ALL_LDFLAGS)

# LD_PRELOAD shims for fault injection; never built with the sanitizers.
$(B)/tests/lib%.so: tests/shims/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -shared -fPIC \
	    -o $@ $< -ldl

# As root (who may run it to install packages), with --allow-root: walld
# refuses root without it.
run: deps-build all
	mkdir -p var
	$(B)/walld --config conf/walld.yaml $$([ "$$(id -u)" != 0 ] || echo --allow-root)

# Replication to try by hand: a three-node NATS JetStream cluster on
# 127.0.0.1 (clients 4222-4224, routes 6222-6224, under ./var/nats) and
# walld in the foreground replicating into it (conf/walld-cluster.yaml).
# Ctrl-C stops walld, then the servers. README.md, "Try replication".
run-cluster: deps tests
	@sh tools/run-cluster.sh $(B)

check: deps tests
	@sh tests/run.sh $(B)

unit: tests
	@sh tests/run.sh $(B) unit
integ: tests
	@sh tests/run.sh $(B) integ

# Long runs of the crash suites, nightly or before a release: 200 rounds
# of kill -9, and 20 power cuts before every write and sync.
.PHONY: soak check-planted
soak: deps tests
	@ROUNDS=200 WALD_BUILD=$(CURDIR)/$(B) WALD_TOP=$(CURDIR) \
	    sh tests/integ/crash_kill9.sh
	@WALD_POWERLOSS_TRIALS=20 $(B)/tests/check_powerloss
	@SOAK_SECONDS=$${SOAK_SECONDS:-3600} WALD_BUILD=$(CURDIR)/$(B) \
	    WALD_TOP=$(CURDIR) sh tests/soak/mixed.sh

# The tests' own test: the durability suites fail on a build with a
# planted bug (PLANT=1, built into build-planted/ by the script).
check-planted: deps
	@WALD_TOP=$(CURDIR) sh tests/integ/durability_planted.sh

# Install layout: `make install PREFIX=/usr DESTDIR=/tmp/root`. The
# configuration goes to /etc when PREFIX is /usr, else to PREFIX/etc; the
# units and the sysusers file go under PREFIX/lib, where systemd also looks
# (/usr/local/lib/systemd/system, ...). See README.md, "Install". Each
# directory may be set on its own: debian/rules sets
# LIBDIR=/usr/lib/$(DEB_HOST_MULTIARCH) and UNITDIR=/lib/systemd/system.
SYSCONFDIR  ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
BINDIR	    ?= $(PREFIX)/bin
SBINDIR	    ?= $(PREFIX)/sbin
LIBDIR	    ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
MANDIR	    ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/vendor-completions
UNITDIR	    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MANPAGES    = man/walld.8 man/walld.yaml.5 client/walctl.1
# The units name /usr/sbin/walld, /usr/bin/walctl and /etc/walld/;
# rewritten for PREFIX.
UNIT_SED    = sed -e 's|/usr/sbin/|$(SBINDIR)/|g' -e 's|/usr/bin/|$(BINDIR)/|g' \
	      -e 's|/etc/walld/|$(SYSCONFDIR)/walld/|g'
# The man pages' footer names walld and its version, not the system's
# default (groff's is "BSD").
MAN_SED	    = sed -e 's|^\.Os$$|.Os walld $(VERSION)|'
CONF_DIST   = $(B)/walld.yaml.dist
# libwal.pc names its directories from ${prefix} where it can, so that
# `pkg-config --define-prefix` relocates it.
PC_LIBDIR     = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))

# The installed default configuration: conf/walld.yaml with the system
# paths (/run/walld/walld.sock, /var/lib/walld) in place of ./var.
$(CONF_DIST): conf/walld.yaml
	@mkdir -p $(B)
	sed -e 's|^\(  path:\) *\./var/walld\.sock *$$|\1 /run/walld/walld.sock|' \
	    -e 's|^\(  data_dir:\) *\./var/data *$$|\1 /var/lib/walld|' \
	    -e '/^# This copy is for development/,/^#   storage\.data_dir:/c\
# This is the installed copy: walld.service starts walld with it. Under\
# systemd the socket comes from walld.socket (socket.* below then only\
# applies when walld is started by hand) and the data directory is\
# /var/lib/walld (StateDirectory=).' $< >$@
	@! grep -n '\./var' $@ || { echo "$@: ./var left in the installed configuration" >&2; rm -f $@; exit 1; }

install: $(BINS) $(CONF_DIST) $(MANPAGES)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/walld $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0755 $(B)/walld $(DESTDIR)$(SBINDIR)/walld
	install -m 0755 $(B)/walctl $(DESTDIR)$(BINDIR)/walctl
	install -m 0755 $(B)/libwal.so.1 $(DESTDIR)$(LIBDIR)/libwal.so.1
	ln -sf libwal.so.1 $(DESTDIR)$(LIBDIR)/libwal.so
	install -m 0644 $(B)/libwal.a $(DESTDIR)$(LIBDIR)/libwal.a
	install -m 0644 client/libwal.h $(DESTDIR)$(INCLUDEDIR)/libwal.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(PC_LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|' -e 's|@VERSION@|$(LIBWAL_VERSION)|' \
	    client/libwal.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/libwal.pc
	chmod 0644 $(DESTDIR)$(LIBDIR)/pkgconfig/libwal.pc
	$(UNIT_SED) systemd/walld.service >$(DESTDIR)$(UNITDIR)/walld.service
	$(UNIT_SED) systemd/walld.socket >$(DESTDIR)$(UNITDIR)/walld.socket
	chmod 0644 $(DESTDIR)$(UNITDIR)/walld.service $(DESTDIR)$(UNITDIR)/walld.socket
	install -m 0644 systemd/walld.sysusers $(DESTDIR)$(SYSUSERSDIR)/walld.conf
	$(MAN_SED) man/walld.8 >$(DESTDIR)$(MANDIR)/man8/walld.8
	$(MAN_SED) man/walld.yaml.5 >$(DESTDIR)$(MANDIR)/man5/walld.yaml.5
	$(MAN_SED) client/walctl.1 >$(DESTDIR)$(MANDIR)/man1/walctl.1
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/walld.8 $(DESTDIR)$(MANDIR)/man5/walld.yaml.5 \
	    $(DESTDIR)$(MANDIR)/man1/walctl.1
	install -m 0644 tools/completion/walctl.bash $(DESTDIR)$(BASHCOMPDIR)/walctl
	install -m 0644 tools/completion/_walctl $(DESTDIR)$(ZSHCOMPDIR)/_walctl
	@# An existing configuration is the admin's: never overwritten.
	@if [ -z "$(DESTDIR)" ] && [ -e $(SYSCONFDIR)/walld/walld.yaml ]; then \
	    echo "install: kept $(SYSCONFDIR)/walld/walld.yaml; the new default is $(CONF_DIST)"; \
	else \
	    echo "install -m 0644 $(CONF_DIST) $(DESTDIR)$(SYSCONFDIR)/walld/walld.yaml"; \
	    install -m 0644 $(CONF_DIST) $(DESTDIR)$(SYSCONFDIR)/walld/walld.yaml; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

uninstall: $(CONF_DIST)
	rm -f $(DESTDIR)$(SBINDIR)/walld $(DESTDIR)$(BINDIR)/walctl \
	    $(DESTDIR)$(LIBDIR)/libwal.so.1 $(DESTDIR)$(LIBDIR)/libwal.so \
	    $(DESTDIR)$(LIBDIR)/libwal.a $(DESTDIR)$(INCLUDEDIR)/libwal.h \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/libwal.pc \
	    $(DESTDIR)$(UNITDIR)/walld.service $(DESTDIR)$(UNITDIR)/walld.socket \
	    $(DESTDIR)$(SYSUSERSDIR)/walld.conf \
	    $(DESTDIR)$(MANDIR)/man8/walld.8 $(DESTDIR)$(MANDIR)/man5/walld.yaml.5 \
	    $(DESTDIR)$(MANDIR)/man1/walctl.1 \
	    $(DESTDIR)$(BASHCOMPDIR)/walctl $(DESTDIR)$(ZSHCOMPDIR)/_walctl
	@# The configuration goes only when it is the unchanged default.
	@f=$(DESTDIR)$(SYSCONFDIR)/walld/walld.yaml; \
	if [ -e "$$f" ] && ! cmp -s "$$f" $(CONF_DIST); then \
	    echo "uninstall: kept $$f (changed from the default)"; \
	else \
	    rm -f "$$f"; \
	    [ ! -d "$${f%/*}" ] || rmdir --ignore-fail-on-non-empty "$${f%/*}"; \
	fi

# walbench (bench/): the load generator; `make bench` runs every system
# from one driver (bench/peers.sh) and then the standard report
# (bench/run.sh), `make bench-matrix` the first alone, `make bench-peers`
# Redis's numbers from redis-benchmark (bench/redis.sh), `make bench-repl`
# replication's cost (bench/repl.sh).
# The peer drivers (bench/peers.c) use libpq and SQLite when they are
# installed (tools/bench-deps.sh, run by make bench): walbench is built
# either way. bench-peers.flags holds what was found, rewritten only when
# that changes, so an install rebuilds peers.o and walbench.
BENCH_SRC = bench/walbench.c bench/hist.c bench/disk.c bench/null.c \
	    bench/peers.c
$(B)/bench-peers.flags: FORCE
	@mkdir -p $(B); f=""; \
	if pkg-config --exists libpq; then \
	    f="$$f -DWALBENCH_PQ $$(pkg-config --cflags libpq)"; fi; \
	if pkg-config --exists sqlite3; then \
	    f="$$f -DWALBENCH_SQLITE $$(pkg-config --cflags sqlite3)"; fi; \
	echo "$$f" | cmp -s - $@ || echo "$$f" >$@
$(B)/bench-peers.libs: $(B)/bench-peers.flags
	@l=""; \
	if pkg-config --exists libpq; then l="$$l $$(pkg-config --libs libpq)"; fi; \
	if pkg-config --exists sqlite3; then l="$$l $$(pkg-config --libs sqlite3)"; fi; \
	echo "$$l" >$@
$(B)/obj/bench/peers.o: bench/peers.c $(B)/bench-peers.flags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $$(cat $(B)/bench-peers.flags) $(INC_ALL) -MMD -MP \
	    -c -o $@ $<
$(B)/walbench: $(call obj,$(BENCH_SRC)) $(B)/libwal.a $(B)/bench-peers.libs
	$(CC) $(ALL_LDFLAGS) -o $@ $(call obj,$(BENCH_SRC)) $(B)/libwal.a \
	    $(shell $(PKG_CONFIG) --libs libevent 2>/dev/null) \
	    $$(cat $(B)/bench-peers.libs)
.PHONY: FORCE
FORCE:

# make bench: the bench's own packages first (Redis, PostgreSQL, SQLite,
# perf: tools/bench-deps.sh), then every system from one driver in
# alternating rounds (bench/peers.sh, issue 26), then the rest of the
# standard report (bench/run.sh). bench-matrix: the first part alone.
bench: deps
	@sh tools/bench-deps.sh
	@$(MAKE) --no-print-directory $(B)/walld $(B)/walctl $(B)/walbench
	@sh bench/peers.sh $(B)
	@sh bench/run.sh $(B)
bench-matrix: deps
	@sh tools/bench-deps.sh
	@$(MAKE) --no-print-directory $(B)/walld $(B)/walctl $(B)/walbench
	@sh bench/peers.sh $(B)
bench-peers: deps $(B)/walbench
	@sh bench/redis.sh
# Replicated against local acknowledgements, with a three-node NATS
# JetStream cluster on this machine (bench/repl.sh, issue 20).
bench-repl: deps $(B)/walld $(B)/walctl $(B)/walbench $(B)/tests/jsdump
	@sh bench/repl.sh $(B)

# Fuzzing (tests/fuzz/): libFuzzer targets built with clang, ASan and UBSan
# into build-fuzz/. `make fuzz` runs each for FUZZ_TIME seconds over its
# corpus; `make check` runs each for about 20 s (tests/integ/fuzz_short.sh).
# Both replay tests/fuzz/regress/ first. `make fuzz-seeds` remakes the
# segment seeds with the engine.
FUZZ_CC	   ?= clang
FUZZ_TIME  ?= 600
FZ	    = build-fuzz
FUZZ_CFLAGS = -g -O1 -std=gnu11 -Wall -Wextra -D_GNU_SOURCE \
	      $(if $(filter 1,$(WERROR)),-Werror) \
	      $(INC_ALL) $(PKG_CFLAGS) -fno-omit-frame-pointer \
	      -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_BINS   = $(FZ)/fuzz_frame $(FZ)/fuzz_segment $(FZ)/fuzz_config \
	      $(FZ)/fuzz_keyring $(FZ)/fuzz_server
fzobj	    = $(patsubst %.c,$(FZ)/obj/%.o,$(1))

$(FZ)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<
$(FZ)/fuzz_frame: tests/fuzz/fuzz_frame.c $(call fzobj,$(PROTO_SRC))
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^
$(FZ)/fuzz_segment: tests/fuzz/fuzz_segment.c $(call fzobj,$(ENGINE_SRC))
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -pthread -o $@ $^ $(PKG_LIBS)
$(FZ)/fuzz_config: tests/fuzz/fuzz_config.c \
	    $(call fzobj,daemon/config.c daemon/config-yaml.c \
	    daemon/config-access.c daemon/access.c proto/frame.c common/cause.c)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)
$(FZ)/fuzz_keyring: tests/fuzz/fuzz_keyring.c \
	    $(call fzobj,engine/keyring.c engine/segment.c engine/crc32c.c \
	    engine/sysio.c common/cause.c)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -pthread -o $@ $^ $(PKG_LIBS)
# The live request path: the whole daemon but main.c, and the engine.
$(FZ)/fuzz_server: tests/fuzz/fuzz_server.c \
	    $(call fzobj,$(DAEMON_SRC) $(ENGINE_SRC) $(PROTO_SRC))
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -pthread -o $@ $^ $(PKG_LIBS)

.PHONY: fuzz fuzz-build fuzz-seeds clean-fuzz
fuzz-build: $(FUZZ_BINS)
fuzz: deps fuzz-build
	@sh tests/fuzz/run.sh $(FZ) $(FUZZ_TIME)
fuzz-seeds: $(B)/libengine.a
	@mkdir -p $(FZ)
	$(CC) $(ALL_CFLAGS) $(INC_ALL) -o $(FZ)/mkseeds tests/fuzz/mkseeds.c $(B)/libengine.a \
	    $(PKG_LIBS)
	$(FZ)/mkseeds tests/fuzz/corpus/fuzz_segment
clean: clean-fuzz
clean-fuzz:
	rm -rf $(FZ)

clean:
	rm -rf build build-san build-planted

# (Not those of the arm64 cross build kept in $(B)/cross-arm64.)
-include $(shell find $(B) -path $(B)/cross-arm64 -prune -o -name '*.d' -print 2>/dev/null)
-include $(shell find build-fuzz -name '*.d' 2>/dev/null)
