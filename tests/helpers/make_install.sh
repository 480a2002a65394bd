# SPDX-License-Identifier: Apache-2.0
# make_install.sh: sourced by the integration tests that install walld
# (after lib.sh). make_target TARGET VAR=VALUE...: runs the top Makefile's
# TARGET for the build under test ($B), quietly; fails the test with make's
# output when it fails.
make_target() {
	case $(basename "$B") in
	build)		;;
	build-san)	set -- "$@" SANITIZE=1 ;;
	*)		set -- "$@" B="$B" ;;
	esac
	# A make above us (make check) must not lend its jobserver to this one.
	if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$TOP" "$@" \
	    >"$T/make.log" 2>&1; then
		cat "$T/make.log" >&2
		fail "make $*"
	fi
}
