/* SPDX-License-Identifier: Apache-2.0 */
/*
 * failsync.c: an LD_PRELOAD shim for tests. With WALD_FAIL_SYNC_AFTER=N
 * in the environment, the N-th and every later fdatasync/fsync of a file
 * whose name ends in ".wal" fails with EIO (or the errno named by
 * WALD_FAIL_ERRNO); every other call goes to the C library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int	(*real_fdatasync)(int);
static int	(*real_fsync)(int);
static long	calls;

/* 1 when fd is a segment file. */
static int
is_segment(int fd)
{
	char	link[64], path[PATH_MAX];
	ssize_t	n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof path - 1)) <= 0)
		return (0);
	path[n] = '\0';
	return (n > 4 && strcmp(path + n - 4, ".wal") == 0);
}

static int
should_fail(int fd)
{
	const char	*after = getenv("WALD_FAIL_SYNC_AFTER");
	const char	*err = getenv("WALD_FAIL_ERRNO");

	if (after == NULL || !is_segment(fd))
		return (0);
	if (__atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST) < atol(after))
		return (0);
	errno = err != NULL ? atoi(err) : EIO;
	return (1);
}

int
fdatasync(int fd)
{
	if (real_fdatasync == NULL)
		real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	if (should_fail(fd))
		return (-1);
	return (real_fdatasync(fd));
}

int
fsync(int fd)
{
	if (real_fsync == NULL)
		real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (should_fail(fd))
		return (-1);
	return (real_fsync(fd));
}
