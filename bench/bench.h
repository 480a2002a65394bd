/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench.h: what walbench's files share: the clock, the latency histogram
 * (hist.c), the disk-limit measurements (disk.c), the null server
 * (null.c) and the drivers of the other systems (peers.c).
 */
#ifndef WALD_BENCH_H
#define WALD_BENCH_H

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <time.h>

/*
 * A log-linear latency histogram in the style of HdrHistogram: values
 * below HIST_SUB (ns) have a bucket each; above, every power of two is
 * cut into HIST_HALF equal buckets, so a bucket is at most 1/64 (1.6 %)
 * of its value wide. Fixed size, no allocation: one lives in the shared
 * memory of each client process and the parent adds them up.
 */
#define HIST_SUB_BITS	7
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_HALF	(HIST_SUB / 2)
#define HIST_MAX_SHIFT	40			/* up to 2^47 ns, 39 hours */
#define HIST_BUCKETS	(HIST_SUB + HIST_MAX_SHIFT * HIST_HALF)

struct hist {
	uint64_t	count;
	uint64_t	min;
	uint64_t	max;
	uint64_t	b[HIST_BUCKETS];
};

void		hist_init(struct hist *);
void		hist_add(struct hist *, uint64_t ns);
void		hist_merge(struct hist *into, const struct hist *from);
/* The value (ns) at quantile q (0..1): the midpoint of its bucket, kept
   within the exact minimum and maximum. 0 when empty. */
uint64_t	hist_quantile(const struct hist *, double q);

/* CLOCK_MONOTONIC in ns (vDSO: no system call). */
static inline uint64_t
bench_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/* The disk's own limits, measured in a directory (disk.c). A field the
   file system could not measure is negative. */
struct disk_result {
	double		sync_p50_us;	/* 4 KiB pwrite+fdatasync, allocated */
	double		sync_p99_us;
	double		sync_ops;	/* per second */
	double		grow_p50_us;	/* the same, appending (file grows) */
	double		grow_p99_us;
	double		direct_mbs;	/* O_DIRECT 1 MiB write+fdatasync, MB/s */
	double		direct_p50_us;	/* one 1 MiB write+fdatasync */
	double		direct_new_mbs;	/* the same into new (fallocated) blocks */
};

/* The tests disk_measure runs (a mask). */
#define DISK_TEST_SYNC		0x1	/* 4 KiB into a preallocated file */
#define DISK_TEST_GROW		0x2	/* 4 KiB appended */
#define DISK_TEST_DIRECT	0x4	/* O_DIRECT 1 MiB into written blocks */
#define DISK_TEST_NEW		0x8	/* the same into new blocks */
#define DISK_TEST_ALL		0xf

/* Measures the limits in dir for about seconds in all, shared among the
   tests asked for (those not run stay -1); -1 and a message on stderr
   when a file cannot be created or written. */
int		disk_measure(const char *dir, double seconds, unsigned tests,
		    struct disk_result *);
/* Writes len bytes of buf at off, whole; -1 with errno on failure. */
int		disk_pwrite_all(int fd, const uint8_t *buf, size_t len,
		    off_t off);
/* Fills fd with size bytes (a multiple of chunk) of buf, chunk bytes at
   a time, then fsyncs it; -1 with errno on failure. */
int		disk_fill(int fd, const uint8_t *buf, size_t chunk,
		    size_t size);

/* `walbench null`: serves walld's protocol on path, acknowledging every
   append at once and writing nothing (null.c), until SIGTERM. */
int		null_serve(const char *path, const char *dir);

/* The systems `walbench run --system` loads. walld and the null server
   speak walld's protocol (libwal); the others have drivers in peers.c. */
enum bench_system {
	SYS_WALLD,
	SYS_REDIS,	/* XADD over RESP, pipelined */
	SYS_PG,		/* libpq, one INSERT a transaction */
	SYS_SQLITE,	/* WAL mode, synchronous=FULL, one INSERT a transaction */
	SYS_FILE,	/* O_APPEND, fdatasync per record */
};

struct peer_redis;
struct peer_redis *peer_redis_open(const char *path, char *err, size_t);
int		peer_redis_fd(const struct peer_redis *);
int		peer_redis_want_write(const struct peer_redis *);
int		peer_redis_submit(struct peer_redis *, const uint8_t *,
		    uint32_t);
int		peer_redis_flush(struct peer_redis *, char *err, size_t);
int		peer_redis_read(struct peer_redis *, char *err, size_t);
int		peer_redis_reply(struct peer_redis *, int *ok, char *msg,
		    size_t);
void		peer_redis_close(struct peer_redis *);

struct peer_sync;
int		peer_built(enum bench_system);
int		peer_sync_setup(enum bench_system, const char *target,
		    char *err, size_t);
struct peer_sync *peer_sync_open(enum bench_system, const char *target,
		    uint32_t tenant, char *err, size_t);
int		peer_sync_append(struct peer_sync *, const uint8_t *, uint32_t,
		    char *err, size_t);
void		peer_sync_close(struct peer_sync *);

#endif
