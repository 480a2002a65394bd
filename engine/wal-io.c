/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal-io.c: the writer's low-level I/O: whole writes, aligned buffers,
 * causes that name the call, file and offset, the one sequence that
 * finishes a segment file, and the failure latch: once a write or sync
 * has failed nothing is acknowledged again until a restart recovers
 * the log (the kernel may have dropped the dirty pages; an fsync is
 * never retried).
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cause.h"
#include "segment.h"
#include "sysio.h"
#include "wal-int.h"
#include "wal.h"


/* Sets *cause to "CALL: DIR/NAME: offset N: strerror(errno)". */
void
wal_io_cause_dir(char **cause, const char *call, const char *dir,
    const char *name, uint64_t off)
{
	int	err = errno;

	cause_set(cause, "%s: %s/%s: offset %llu: %s", call, dir, name,
	    (unsigned long long)off, strerror(err));
	errno = err;
}

/* The same for a file of the writer's directory. */
void
wal_io_cause(struct wal *w, char **cause, const char *call,
    const char *name, uint64_t off)
{
	wal_io_cause_dir(cause, call, w->dir, name, off);
}

/* 1 once a write or sync has failed. */
int
wal_io_failed(struct wal *w)
{
	return (__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE));
}

/* Writes all of buf at off, looping on short writes. 0 or -1 (errno). */
int
wal_io_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		n = sysio.pwrite(fd, p, len, (off_t)off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			errno = EIO;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return (0);
}

/* Allocates an IO_ALIGN-aligned buffer, or NULL. */
void *
wal_io_alloc(size_t len)
{
	void	*p;

	if (posix_memalign(&p, IO_ALIGN, len) != 0)
		return (NULL);
	return (p);
}

/* Latches the log failed for a reason other than I/O, and logs it. */
void
wal_io_latch(struct wal *w, const char *what, char *cause)
{
	__atomic_store_n(&w->failed, 1, __ATOMIC_RELEASE);
	wal_log(w, WAL_LOG_ERR, "wal: %s: %s: %s; log latched failed, appends "
	    "refused "
	    "until restart", w->dir, what, cause != NULL ? cause : "failed");
	free(cause);
}

/* Fsyncs the directory holding path, after path was created in it. */
int
wal_io_sync_parent(const char *path, char **cause)
{
	char	*copy, *slash;
	int	 fd, r = 0;

	if ((copy = strdup(path)) == NULL) {
		cause_set(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	while ((slash = strrchr(copy, '/')) != NULL && slash[1] == '\0' &&
	    slash != copy)
		*slash = '\0';
	if ((slash = strrchr(copy, '/')) == NULL)
		strcpy(copy, ".");
	else if (slash == copy)
		copy[1] = '\0';
	else
		*slash = '\0';
	fd = sysio.open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd == -1 || sysio.fsync(fd) != 0) {
		cause_set(cause, "fsync directory: %s: %s", copy,
		    strerror(errno));
		r = -1;
	}
	if (fd != -1)
		sysio.close(fd);
	free(copy);
	return (r);
}

/*
 * Finishes a segment file: writes buf (n bytes at woff: the footer, with
 * O_DIRECT inside its block) and fdatasyncs it, then cuts the file to end
 * at the footer (end), fsyncs it (the size is metadata), and fsyncs the
 * directory. Rollover, seal and recovery all end a segment this way, and
 * in this order: the footer is durable before the file is cut, so a crash
 * in between leaves a footer that recovery finds and finishes (n = 0:
 * only the cut and the syncs). 0, or -1 and *cause naming the call and
 * the footer's offset.
 */
int
wal_io_finish(struct wal *w, int fd, const char *name, const void *buf,
    size_t n, uint64_t woff, uint64_t end, char **cause)
{
	return (wal_io_finish_dir(w->dirfd, w->dir, fd, name, buf, n, woff,
	    end, cause));
}

/* wal_io_finish for a segment of the directory open as dirfd (named dir
   in the cause), without a writer: restore's (wal-restore.c). */
int
wal_io_finish_dir(int dirfd, const char *dir, int fd, const char *name,
    const void *buf, size_t n, uint64_t woff, uint64_t end, char **cause)
{
	const char	*call;

	call = "pwrite";
	if (n > 0 && wal_io_pwrite(fd, buf, n, woff) != 0)
		goto fail;
	call = "fdatasync";
	if (n > 0 && sysio.fdatasync(fd) != 0)
		goto fail;
	call = "ftruncate";
	if (sysio.ftruncate(fd, (off_t)end) != 0)
		goto fail;
	call = "fsync";
	if (sysio.fsync(fd) != 0)
		goto fail;
	call = "fsync directory";
	if (sysio.fsync(dirfd) != 0)
		goto fail;
	return (0);

fail:
	wal_io_cause_dir(cause, call, dir, name, end - FOOTER_SIZE);
	return (-1);
}
