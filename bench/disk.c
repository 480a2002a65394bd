/* SPDX-License-Identifier: Apache-2.0 */
/*
 * disk.c: the disk's own limits, for walbench's ratios: a 4 KiB
 * pwrite+fdatasync loop into a preallocated (written) file and into a
 * growing one, and O_DIRECT sequential 1 MiB write+fdatasync bandwidth,
 * into written blocks and into new (fallocated, never written) ones.
 * The files live in the directory given (the data directory's file
 * system) and are removed afterwards.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define DISK_SYNC_FILE	(64u << 20)	/* preallocated for the 4 KiB loop */
#define DISK_DIRECT_FILE (256u << 20)	/* preallocated for O_DIRECT */
#define DISK_NEW_FILE	(512u << 20)	/* fallocated, written once */
#define DISK_SMALL	4096u
#define DISK_BIG	(1u << 20)
#define DISK_MAX_OPS	200000

/* Writes len bytes of buf at off, whole; see bench.h. */
int
disk_pwrite_all(int fd, const uint8_t *buf, size_t len, off_t off)
{
	ssize_t	n;

	while (len > 0) {
		n = pwrite(fd, buf, len, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return (-1);
		}
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return (0);
}

/* Fills a file with size bytes of buf, synced; see bench.h. */
int
disk_fill(int fd, const uint8_t *buf, size_t chunk, size_t size)
{
	size_t	off;

	for (off = 0; off < size; off += chunk)
		if (disk_pwrite_all(fd, buf, chunk, (off_t)off) == -1)
			return (-1);
	return (fsync(fd));
}

/* Times write+fdatasync of len bytes at sequential offsets (wrapping at
   wrap; 0: the file grows) for about seconds, or until the offset would
   pass stop (0: no such end). */
static int
disk_loop(int fd, const uint8_t *buf, size_t len, size_t wrap, size_t stop,
    double seconds, struct hist *h, double *bytes_per_s)
{
	uint64_t	start, end, t0, t1;
	size_t		off = 0;
	long		ops = 0;

	hist_init(h);
	start = bench_now();
	end = start + (uint64_t)(seconds * 1e9);
	do {
		t0 = bench_now();
		if (disk_pwrite_all(fd, buf, len, (off_t)off) == -1 ||
		    fdatasync(fd) == -1)
			return (-1);
		t1 = bench_now();
		hist_add(h, t1 - t0);
		off += len;
		if (wrap != 0 && off + len > wrap)
			off = 0;
		ops++;
	} while (t1 < end && ops < DISK_MAX_OPS &&
	    (stop == 0 || off + len <= stop));
	*bytes_per_s = (double)ops * (double)len / ((double)(t1 - start) / 1e9);
	return (0);
}

/* Opens a new scratch file in dir; its name is unlinked at once. */
static int
disk_scratch(const char *dir, const char *name, int flags)
{
	char	path[4096];
	int	fd;

	snprintf(path, sizeof path, "%s/%s.%ld", dir, name, (long)getpid());
	fd = open(path, O_RDWR|O_CREAT|O_TRUNC|O_CLOEXEC|flags, 0600);
	if (fd == -1)
		return (-1);
	if (unlink(path) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* The share of the time that test gets among the tests run: they weigh
   3, 2, 3 and 2 (tenths of it when all four run). */
static double
disk_share(unsigned tests, unsigned test)
{
	double	all = 0;

	all += (tests & DISK_TEST_SYNC) ? 3 : 0;
	all += (tests & DISK_TEST_GROW) ? 2 : 0;
	all += (tests & DISK_TEST_DIRECT) ? 3 : 0;
	all += (tests & DISK_TEST_NEW) ? 2 : 0;
	return ((test == DISK_TEST_SYNC || test == DISK_TEST_DIRECT ? 3 : 2) /
	    all);
}

int
disk_measure(const char *dir, double seconds, unsigned tests,
    struct disk_result *r)
{
	struct hist	*h;
	uint8_t		*buf = NULL;
	double		 bps;
	int		 fd = -1;
	size_t		 i;
	const char	*what = "allocate";

	r->sync_p50_us = r->sync_p99_us = r->sync_ops = -1;
	r->grow_p50_us = r->grow_p99_us = -1;
	r->direct_mbs = r->direct_p50_us = r->direct_new_mbs = -1;
	if ((h = malloc(sizeof *h)) == NULL ||
	    posix_memalign((void **)&buf, 4096, DISK_BIG) != 0)
		goto fail;
	for (i = 0; i < DISK_BIG; i++)
		buf[i] = (uint8_t)(i * 131 + 7);

	/* 4 KiB into allocated, written blocks: what a WAL pays per sync. */
	if (tests & DISK_TEST_SYNC) {
		what = "4 KiB sync file";
		if ((fd = disk_scratch(dir, ".walbench-sync", 0)) == -1 ||
		    disk_fill(fd, buf, DISK_BIG, DISK_SYNC_FILE) == -1 ||
		    disk_loop(fd, buf, DISK_SMALL, DISK_SYNC_FILE, 0, seconds *
		    disk_share(tests, DISK_TEST_SYNC), h, &bps) == -1)
			goto fail;
		r->sync_p50_us = (double)hist_quantile(h, 0.5) / 1e3;
		r->sync_p99_us = (double)hist_quantile(h, 0.99) / 1e3;
		r->sync_ops = bps / DISK_SMALL;
		close(fd);
		fd = -1;
	}

	/* 4 KiB appended: every fdatasync also commits the new size. */
	if (tests & DISK_TEST_GROW) {
		what = "4 KiB growing file";
		if ((fd = disk_scratch(dir, ".walbench-grow", O_APPEND)) ==
		    -1 || disk_loop(fd, buf, DISK_SMALL, 0, 0, seconds *
		    disk_share(tests, DISK_TEST_GROW), h, &bps) == -1)
			goto fail;
		r->grow_p50_us = (double)hist_quantile(h, 0.5) / 1e3;
		r->grow_p99_us = (double)hist_quantile(h, 0.99) / 1e3;
		close(fd);
		fd = -1;
	}

	/* O_DIRECT 1 MiB sequential, into written blocks. */
	if (tests & DISK_TEST_DIRECT) {
		what = "O_DIRECT file";
		if ((fd = disk_scratch(dir, ".walbench-direct", O_DIRECT)) ==
		    -1) {
			if (errno == EINVAL)	/* no O_DIRECT here */
				goto done;
			goto fail;
		}
		if (disk_fill(fd, buf, DISK_BIG, DISK_DIRECT_FILE) == -1 ||
		    disk_loop(fd, buf, DISK_BIG, DISK_DIRECT_FILE, 0, seconds *
		    disk_share(tests, DISK_TEST_DIRECT), h, &bps) == -1)
			goto fail;
		r->direct_mbs = bps / 1e6;
		r->direct_p50_us = (double)hist_quantile(h, 0.5) / 1e3;
		close(fd);
		fd = -1;
	}

	/* The same into new blocks, as a log's fresh segments get them. */
	if (tests & DISK_TEST_NEW) {
		what = "O_DIRECT new-block file";
		if ((fd = disk_scratch(dir, ".walbench-new", O_DIRECT)) == -1) {
			if (errno == EINVAL)	/* no O_DIRECT here */
				goto done;
			goto fail;
		}
		if (fallocate(fd, 0, 0, DISK_NEW_FILE) == -1) {
			/* Not measured where it cannot be (no room, no
			   fallocate). */
			if (errno != EOPNOTSUPP && errno != ENOSPC &&
			    errno != ENOSYS && errno != EINVAL)
				goto fail;
		} else if (fsync(fd) == -1 || disk_loop(fd, buf, DISK_BIG, 0,
		    DISK_NEW_FILE, seconds * disk_share(tests, DISK_TEST_NEW),
		    h, &bps) == -1)
			goto fail;
		else
			r->direct_new_mbs = bps / 1e6;
		close(fd);
		fd = -1;
	}
done:
	free(buf);
	free(h);
	return (0);

fail:
	fprintf(stderr, "walbench: disk: %s in %s: %s\n", what, dir,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	free(buf);
	free(h);
	return (-1);
}
