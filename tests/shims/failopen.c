/* SPDX-License-Identifier: Apache-2.0 */
/*
 * failopen.c: an LD_PRELOAD shim for tests. open() and openat() of the
 * path named by WALD_FAILOPEN_PATH fail with the errno number in
 * WALD_FAILOPEN_ERRNO (say 5, EIO), as a failing disk or an exhausted
 * system would make them; every other call goes to the C library. With
 * WALD_FAILOPEN_IF, only while the file it names exists; with
 * WALD_FAILOPEN_DELAY_MS, after that many milliseconds (a slow disk).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int	(*real_open)(const char *, int, ...);
static int	(*real_openat)(int, const char *, int, ...);

/* The errno to fail path with, or 0. */
static int
failopen_errno(const char *path)
{
	const char	*p = getenv("WALD_FAILOPEN_PATH");
	const char	*e = getenv("WALD_FAILOPEN_ERRNO");
	const char	*when = getenv("WALD_FAILOPEN_IF");
	const char	*d = getenv("WALD_FAILOPEN_DELAY_MS");
	struct timespec	 ts;
	long		 ms;

	if (p == NULL || e == NULL || path == NULL || strcmp(p, path) != 0)
		return (0);
	if (when != NULL && access(when, F_OK) != 0)
		return (0);
	if (d != NULL && (ms = atol(d)) > 0) {
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	return (atoi(e));
}

int
open(const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode = 0;
	int	err;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if ((err = failopen_errno(path)) != 0) {
		errno = err;
		return (-1);
	}
	if (real_open == NULL)
		real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT,
		    "open");
	return (real_open(path, flags, mode));
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode = 0;
	int	err;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if ((err = failopen_errno(path)) != 0) {
		errno = err;
		return (-1);
	}
	if (real_openat == NULL)
		real_openat = (int (*)(int, const char *, int, ...))dlsym(
		    RTLD_NEXT, "openat");
	return (real_openat(dirfd, path, flags, mode));
}
