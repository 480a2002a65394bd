/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sysio.h: the table of file system calls the WAL engine makes. Every
 * engine file operation goes through `sysio`, so tests can replace entries
 * to inject EIO, ENOSPC, short writes, or simulate power loss.
 */
#ifndef WALD_SYSIO_H
#define WALD_SYSIO_H

#include <sys/types.h>

struct sysio {
	int	(*open)(const char *path, int flags, mode_t mode);
	int	(*openat)(int dirfd, const char *path, int flags, mode_t mode);
	int	(*close)(int fd);
	ssize_t	(*pread)(int fd, void *buf, size_t n, off_t off);
	ssize_t	(*pwrite)(int fd, const void *buf, size_t n, off_t off);
	int	(*fsync)(int fd);
	int	(*fdatasync)(int fd);
	int	(*ftruncate)(int fd, off_t len);
	int	(*fallocate)(int fd, int mode, off_t off, off_t len);
	int	(*renameat)(int olddirfd, const char *oldpath, int newdirfd,
		    const char *newpath);
	int	(*unlinkat)(int dirfd, const char *path, int flags);
};

extern struct sysio sysio;		/* the table in use */
extern const struct sysio sysio_real;	/* the real system calls */

#endif
