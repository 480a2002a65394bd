/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal-start.c: the log's durable start. START in the data directory holds
 * the log's first LSN ("first_lsn N\n"). Truncation moves it forward
 * before it removes a segment (temp file, fsync, rename, directory
 * fsync), so that at open a first segment above it can only mean that
 * segments were lost (an oldest segment deleted by hand): walld refuses
 * the directory instead of taking a later LSN for the log's start.
 * docs/FORMAT.md, "The log's start".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cause.h"
#include "segment.h"
#include "sysio.h"
#include "wal-int.h"

#define START_MAX	64	/* bytes of START read */

/* Reads START: 1 and *first, 0 when there is none, -1 and *cause. */
static int
wal_start_read(struct wal *w, uint64_t *first, char **cause)
{
	char			 buf[START_MAX + 1], *end;
	unsigned long long	 v;
	ssize_t			 n;
	int			 fd;

	fd = sysio.openat(w->dirfd, START_NAME, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW, 0);
	if (fd == -1) {
		if (errno == ENOENT)
			return (0);
		wal_io_cause(w, cause, "open", START_NAME, 0);
		return (-1);
	}
	n = sysio.pread(fd, buf, START_MAX, 0);
	if (n == -1) {
		wal_io_cause(w, cause, "read", START_NAME, 0);
		sysio.close(fd);
		return (-1);
	}
	sysio.close(fd);
	buf[n] = '\0';
	errno = 0;
	if (strncmp(buf, "first_lsn ", 10) != 0 || buf[10] < '0' ||
	    buf[10] > '9' || (v = strtoull(buf + 10, &end, 10)) == 0 ||
	    errno != 0 || strcmp(end, "\n") != 0) {
		cause_set(cause, "%s/%s: not \"first_lsn N\" (N >= 1): the "
		    "file is damaged; write the log's first LSN in it, or "
		    "remove it to take the first segment's", w->dir,
		    START_NAME);
		return (-1);
	}
	*first = v;
	return (1);
}

/* Writes START: temp file, fsync, rename, directory fsync. */
static int
wal_start_write(struct wal *w, uint64_t first, char **cause)
{
	char	buf[START_MAX];
	int	fd, n;

	n = snprintf(buf, sizeof buf, "first_lsn %" PRIu64 "\n", first);
	fd = sysio.openat(w->dirfd, START_TMP_NAME, O_WRONLY | O_CREAT |
	    O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1) {
		wal_io_cause(w, cause, "open", START_TMP_NAME, 0);
		return (-1);
	}
	if (wal_io_pwrite(fd, buf, (size_t)n, 0) != 0 ||
	    sysio.fsync(fd) != 0) {
		wal_io_cause(w, cause, "write", START_TMP_NAME, 0);
		sysio.close(fd);
		return (-1);
	}
	if (sysio.close(fd) != 0) {
		wal_io_cause(w, cause, "close", START_TMP_NAME, 0);
		return (-1);
	}
	if (sysio.renameat(w->dirfd, START_TMP_NAME, w->dirfd,
	    START_NAME) != 0) {
		wal_io_cause(w, cause, "rename", START_TMP_NAME, 0);
		return (-1);
	}
	if (sysio.fsync(w->dirfd) != 0) {
		wal_io_cause(w, cause, "fsync directory", START_NAME, 0);
		return (-1);
	}
	return (0);
}

/*
 * At open: the first segment against START. Above it: segments are
 * missing, refused. Below it: a truncation stopped between moving START
 * and removing its segments; they are still whole, so the log keeps them
 * and START goes back to them. No START (a new log, a directory from
 * before it existed, or restored): written from the first segment.
 * Called before recovery with fix 0 (refuse only, change nothing), and
 * after it with fix 1 (write START where it is missing or behind).
 */
int
wal_start_check(struct wal *w, int fix, char **cause)
{
	struct seg_ent	*ents = NULL;
	uint64_t	 start = 0;
	size_t		 n;
	int		 k;

	if ((k = wal_start_read(w, &start, cause)) == -1)
		return (-1);
	if (segment_list(w->dirfd, w->dir, &ents, &n, NULL, NULL, NULL,
	    cause) != 0)
		return (-1);
	if (n == 0) {
		free(ents);
		if (k == 1 && start > 1) {
			cause_set(cause, "%s: the log starts at LSN %" PRIu64
			    " (%s) but no segment file is left: its segments "
			    "were removed or not restored", w->dir, start,
			    START_NAME);
			return (-1);
		}
		/* A new log: it starts at LSN 1. */
		return (k == 1 || !fix ? 0 : wal_start_write(w, 1, cause));
	}
	if (k == 1 && ents[0].first > start) {
		cause_set(cause, "%s: the log starts at LSN %" PRIu64 " (%s) "
		    "but its first segment is %s (LSN %" PRIu64 "): the "
		    "segments holding LSN %" PRIu64 " to %" PRIu64 " are "
		    "missing (deleted by hand?); put them back, or, to accept "
		    "the loss, write \"first_lsn %" PRIu64 "\" into %s",
		    w->dir, start, START_NAME, ents[0].name, ents[0].first,
		    start, ents[0].first - 1, ents[0].first, START_NAME);
		free(ents);
		return (-1);
	}
	if ((k == 1 && ents[0].first == start) || !fix) {
		free(ents);
		return (0);
	}
	if (k == 1)
		wal_log(w, WAL_LOG_WARNING, "wal: %s/%s says LSN %" PRIu64
		    " but %s (LSN %" PRIu64 ") is still there: a truncation "
		    "was interrupted; the log starts at LSN %" PRIu64 " (truncate "
		    "again)", w->dir, START_NAME, start, ents[0].name,
		    ents[0].first, ents[0].first);
	start = ents[0].first;
	free(ents);
	return (wal_start_write(w, start, cause));
}

/* Before truncation removes segments: START moves to the first segment
   that stays (the loop of wal_truncate_before stops at it). */
int
wal_start_advance(struct wal *w, uint64_t lsn, char **cause)
{
	uint64_t	first;
	size_t		i = 0;

	pthread_mutex_lock(&w->lock);
	while (w->nsegs - i >= 2 && w->segs[i].sealed && w->segs[i].last < lsn)
		i++;
	first = w->segs[i].first;
	pthread_mutex_unlock(&w->lock);
	if (i == 0)
		return (0);
	return (wal_start_write(w, first, cause));
}
