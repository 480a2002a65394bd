/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libwal-codes.c: libwal.h declares the daemon's error codes for users
 * (enum wal_error_code), who cannot see proto/wire.h. These assertions keep
 * the two lists equal at compile time; the file has no code.
 */
#include "libwal.h"
#include "wire.h"

#define LIBWAL_SAME_CODE(name) \
	_Static_assert((int)WAL_E_##name == (int)WIRE_E_##name, \
	    "libwal.h's WAL_E_" #name " differs from wire.h's")

LIBWAL_SAME_CODE(BAD_REQUEST);
LIBWAL_SAME_CODE(TOO_LARGE);
LIBWAL_SAME_CODE(NOT_PERMITTED);
LIBWAL_SAME_CODE(SEALED);
LIBWAL_SAME_CODE(NO_SPACE);
LIBWAL_SAME_CODE(IO);
LIBWAL_SAME_CODE(SHUTTING_DOWN);
LIBWAL_SAME_CODE(VERSION);
LIBWAL_SAME_CODE(RANGE);
LIBWAL_SAME_CODE(BUSY);
LIBWAL_SAME_CODE(INTERNAL);
LIBWAL_SAME_CODE(REPL_UNAVAILABLE);
LIBWAL_SAME_CODE(REPL_BACKLOG);
LIBWAL_SAME_CODE(DAMAGED);
LIBWAL_SAME_CODE(SEQUENCE);
LIBWAL_SAME_CODE(NOT_FOUND);
LIBWAL_SAME_CODE(HELD);
LIBWAL_SAME_CODE(CONFIG);
/* A code added to wire.h must be added to libwal.h too. */
_Static_assert((int)WIRE_E_MAX == (int)WAL_E_CONFIG,
    "wire.h has an error code libwal.h does not declare");
