/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sysio.c: the real system calls behind the engine's `sysio` table. Tests
 * swap entries of `sysio` to inject failures; `sysio_real` stays intact.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "sysio.h"

/* open(2) with its mode always given. */
static int
sysio_open(const char *path, int flags, mode_t mode)
{
	return (open(path, flags, mode));
}

/* openat(2) with its mode always given. */
static int
sysio_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return (openat(dirfd, path, flags, mode));
}

const struct sysio sysio_real = {
	.open = sysio_open,
	.openat = sysio_openat,
	.close = close,
	.pread = pread,
	.pwrite = pwrite,
	.fsync = fsync,
	.fdatasync = fdatasync,
	.ftruncate = ftruncate,
	.fallocate = fallocate,
	.renameat = renameat,
	.unlinkat = unlinkat,
};

struct sysio sysio = {
	.open = sysio_open,
	.openat = sysio_openat,
	.close = close,
	.pread = pread,
	.pwrite = pwrite,
	.fsync = fsync,
	.fdatasync = fdatasync,
	.ftruncate = ftruncate,
	.fallocate = fallocate,
	.renameat = renameat,
	.unlinkat = unlinkat,
};
