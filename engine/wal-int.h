/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal-int.h: the engine's private face, shared by the files that make up
 * the writer (wal.c, wal-batch.c, wal-stamp.c, wal-spare.c, wal-recover.c,
 * wal-io.c), and by wal-restore.c for wal-io.c's helpers. Nothing outside
 * engine/ includes it.
 *
 * Who owns what. struct wal is one sub-struct per owner, and each says
 * which thread or lock guards it: the loop thread fills batches (loop),
 * the flusher writes them to the active segment (act), the preparer makes
 * spare segments (spare, under lock), the stamper encrypts and checksums
 * records ahead of the flusher (stamp, under stamp.lock). What open fixes
 * is read by all of them without a lock.
 */
#ifndef WALD_WAL_INT_H
#define WALD_WAL_INT_H

#include <sys/types.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "keyring.h"
#include "segment.h"
#include "wal.h"

#define WAL_DEFAULT_BATCH	(8ull << 20)
#define WAL_ZERO_CHUNK		(1u << 20)
/* A segment written in flushes of this many bytes on average, or more:
   the next spares are fallocated only, not written with zeros (see
   wal_prepare_spare). Measured on the development VM (BENCHMARKS.md,
   issue 26): flushes of 3.5 KiB are faster with zeros, flushes of 65 KiB
   with fallocated blocks. */
#define WAL_BIG_FLUSH		(32u << 10)
#define WAL_ROUND_UP(x, a)	(((x) + (a) - 1) & ~((uint64_t)(a) - 1))
/* The stamper stamps this much before it looks for newly published
   records (wal_stamp_ahead); whoever takes a batch from it stops it
   sooner, after the record in progress (wal_stamp_release). */
#define WAL_STAMP_CHUNK		(256u << 10)
/* Record bytes not stamped yet that are worth waking the stamper for: it
   encrypts about 2.4 GB/s of 4 KiB records and 0.6 GB/s of 128-byte ones
   on one core of the development machine, but stamping plain records is
   two CRCs (20 GB/s), which is worth a thread switch only for a larger
   backlog (on 128-byte records it never paid). */
#define WAL_STAMP_AHEAD_ENC	(16u << 10)
#define WAL_STAMP_AHEAD_PLAIN	(256u << 10)
/* A batch handed to the flusher with this many record bytes not stamped
   yet is written in two parts: the flusher writes the stamped part while
   the stamper finishes the rest (wal_flush_io). Below it, one more pwrite
   costs more than stamping the rest on the flusher; plain records are
   stamped at CRC speed, so for them it never pays. */
#define WAL_SPLIT_TAIL		(64u << 10)
#define WAL_SPLIT_PREFIX	(256u << 10)	/* and at least this stamped */

/* Log levels of the log callback (syslog's numbers). */
#define WAL_LOG_ERR		3
#define WAL_LOG_WARNING		4
#define WAL_LOG_INFO		6
#define WAL_LOG_DEBUG		7

enum wal_spare_state {
	SPARE_NONE,
	SPARE_PREPARING,
	SPARE_READY,
	SPARE_ACTIVATING,
	SPARE_FAILED,
};

/* One segment file of the log, as the writer knows it. */
struct wal_seg {
	uint64_t	first;
	uint64_t	last;		/* first - 1 while empty */
	uint64_t	size;
	int		sealed;		/* has its footer */
	uint32_t	key_id;		/* 0: not encrypted */
};

/* What the header of a new segment will say, beyond its first LSN. */
struct wal_segparm {
	unsigned char	id[16];
	unsigned char	salt[KEYRING_SALT_LEN];
	unsigned char	check[KEYRING_CHECK_LEN];
	uint32_t	key_id;		/* 0: not encrypted */
	uint32_t	seed;		/* segment_seed of id */
};

struct wal_batch {
	unsigned char	*buf;		/* IO_ALIGN aligned */
	size_t		 cap;
	size_t		 pre;		/* partial tail block copied in front */
	size_t		 len;		/* record bytes after pre */
	uint64_t	 off;		/* file offset of its first record */
	uint64_t	 seg_first;
	uint64_t	 first_lsn;
	uint64_t	 last_lsn;
	uint64_t	 nrec;
	int		 begins_seg;	/* activate the spare before writing */
	struct wal_segparm sp;		/* its header, when begins_seg */
	int		 ends_seg;	/* write the footer after the records */
	int		 seals;		/* the footer seals the whole log */
	int		 ok;		/* written and synced */
	/* The records are stamped (encrypted, then their CRCs set) with the
	   batch's own copy of the filling segment's key, taken before the
	   stamper or the flusher first touches them (wal_stamp_key): the
	   loop may key the next segment meanwhile. ctx_gen is the loop's
	   wctx_gen it was copied at. */
	struct keyring_ctx *ctx;
	uint64_t	 ctx_gen;
	uint32_t	 seed;		/* its segment's record CRC seed */
	/* Stamping ahead (wal_stamp_ahead): the loop publishes how many
	   record bytes are complete (pub, a release store); the stamper,
	   then the flusher, stamp them in order. stamped: record bytes
	   stamped so far; dcrc: the CRC-32C of those bytes, carried into the
	   segment's data CRC when the batch is written. ahead_off (atomic):
	   stamping ahead failed on this batch, for ahead_cause; its flush
	   fails with that cause (a record half stamped must never be stamped
	   again: GCM twice over gives back the plaintext). */
	size_t		 pub;		/* atomic */
	size_t		 stamped;	/* atomic where the loop reads it */
	uint32_t	 dcrc;
	int		 ahead_off;
	int		 split;		/* out, and the stamper finishes it
					   while its stamped part is written */
	int		 stop;		/* atomic: the stamper is to stop
					   after the record in progress */
	char		*ahead_cause;
};

/* The filling side: the loop thread's alone, but for the atomics. */
struct wal_loop {
	struct wal_batch *fill;
	struct wal_batch *other;	/* NULL while a batch is out */
	struct wal_batch *out;
	struct wal_batch  batches[2];
	uint64_t	 next_lsn;
	uint64_t	 durable_lsn;
	uint64_t	 seg_first;	/* the filling segment's first LSN */
	uint64_t	 off;		/* where the next record goes in it */
	int		 seal_pending;	/* atomic */
	int		 sealed;	/* atomic: the log is sealed */
	struct keyring	*ring;		/* NULL: not encrypting */
	struct keyring_ctx *wctx;	/* keyed for the filling segment */
	uint64_t	 wctx_gen;	/* bumped each time wctx is keyed */
	uint32_t	 key_id;	/* its key id */
	uint32_t	 seed;		/* its record CRC seed */
	int		 rekey;		/* the active key is not key_id */
	uint64_t	 last_time;	/* the time the last record got */
};

/* One idempotent producer (wal-producer.c): its last sequence number and
   the LSNs of the last n (at most window) of them, in prodtab.lsns. */
struct wal_prod {
	uint64_t	id;
	uint64_t	last_seq;
	uint32_t	tenant;
	uint32_t	n;
	int32_t		hnext;		/* next in its bucket */
	int32_t		older;		/* the recency list */
	int32_t		newer;
};

/* The producer table: the loop thread's. */
struct wal_prodtab {
	uint32_t	 cap;		/* producers_max */
	uint32_t	 window;
	uint32_t	 used;
	uint32_t	 nbuckets;
	struct wal_prod	*ents;		/* cap of them; NULL until used */
	uint64_t	*lsns;		/* cap * window */
	int32_t		*buckets;
	int32_t		 lru_old;
	int32_t		 lru_new;
	uint64_t	 evicted;
	unsigned	 nomem;
	uint64_t	 snap_seg;	/* the segment of the last snapshot */
	/* With a writer thread (wal_producer_set_writer), the snapshot of
	   a segment's start is made on the loop and written by that
	   thread: pend under the WAL's lock; writer and pend_new the
	   loop's. */
	int		 writer;
	int		 pend_new;	/* queued since wal_producer_take_new */
	unsigned char	*pend;
	size_t		 pend_len;
};

/* The active segment: the flusher thread's (and open's). */
struct wal_active {
	int		 fd;		/* -1 when none */
	char		 name[SEG_NAME_SIZE];
	uint64_t	 first;
	uint64_t	 last;
	uint64_t	 count;
	uint64_t	 off;		/* where the next batch is written */
	uint32_t	 crc;		/* data CRC of its records so far */
	uint32_t	 seed;		/* its record CRC seed */
	uint64_t	 flushes_at;	/* flushes before its activation */
	int		 noted;		/* flushes_at is set */
	unsigned char	*hbuf;		/* segment header block */
	unsigned char	*fbuf;		/* footer write, two blocks */
};

/* Spare segments and the files kept to make them: under wal.lock, but
   zbuf (the preparer's) and the atomics. */
struct wal_spare {
	enum wal_spare_mode mode;	/* fixed at open */
	enum wal_spare_state state;
	int		 fd;
	int		 err;		/* errno of the last failure */
	int		 reused;	/* the ready spare is a kept file */
	int		 big_flushes;	/* atomic: the last segment's were */
	/* Truncated segments kept for reuse (recycle-FIRST.tmp), oldest
	   first: their first LSNs. */
	uint64_t	*pool;
	size_t		 npool;
	size_t		 pool_max;	/* fixed at open */
	uint64_t	 recycled;	/* segments begun in a kept file */
	unsigned char	*zbuf;		/* zeros for spare preparation */
};

/* The stamper, under stamp.lock: fill is the filling batch once the loop
   has let the stamper at it (its key copied); out is a batch out that the
   stamper finishes first (a split one); busy is the batch the stamper is
   stamping outside the lock, which no one else may touch or move until it
   is NULL again (cond). */
struct wal_stamper {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	struct wal_batch *fill;
	struct wal_batch *out;
	struct wal_batch *busy;
	uint64_t	 ahead;		/* atomic: bytes the stamper stamped */
};

struct wal {
	/* Fixed at open: any thread reads them. */
	char		*dir;
	int		 dirfd;
	int		 lockfd;
	uint64_t	 seg_size;
	uint32_t	 max_record;
	uint64_t	 batch_cap;
	size_t		 buf_max;
	int		 direct;
	uint32_t	 tag;		/* bytes a record's payload grows by */
	void		(*log)(int, const char *);

	int		 failed;	/* atomic latch (wal_io_latch) */

	struct wal_loop	 loop;
	struct wal_prodtab prod;
	struct wal_active act;
	struct wal_stamper stamp;

	/* Shared, under lock: the segment list, the counters and the
	   spare's state. */
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	struct wal_spare spare;
	struct wal_seg	*segs;
	size_t		 nsegs;
	size_t		 segcap;
	uint64_t	 bytes_written;
	uint64_t	 flushes;
};

/* wal.c: one line to the log callback; a segment onto the list (lock held). */
void		 wal_log(struct wal *, int level, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
int		 wal_segs_push(struct wal *, uint64_t first, uint64_t last,
		    uint64_t size, int sealed, uint32_t key_id);

/* wal-start.c: the log's durable start (START) */
int		 wal_start_check(struct wal *, int fix, char **cause);
int		 wal_start_advance(struct wal *, uint64_t lsn, char **cause);

/* wal-io.c */
void		 wal_io_cause(struct wal *, char **cause, const char *call,
		    const char *name, uint64_t off);
void		 wal_io_cause_dir(char **cause, const char *call,
		    const char *dir, const char *name, uint64_t off);
int		 wal_io_failed(struct wal *);
void		 wal_io_latch(struct wal *, const char *what, char *cause);
int		 wal_io_pwrite(int fd, const void *, size_t, uint64_t off);
void		*wal_io_alloc(size_t);
int		 wal_io_sync_parent(const char *path, char **cause);
int		 wal_io_finish(struct wal *, int fd, const char *name,
		    const void *buf, size_t n, uint64_t woff, uint64_t end,
		    char **cause);
int		 wal_io_finish_dir(int dirfd, const char *dir, int fd,
		    const char *name, const void *buf, size_t n, uint64_t woff,
		    uint64_t end, char **cause);

/* wal-batch.c */
void		 wal_batch_reset(struct wal_batch *);
int		 wal_batch_seg_params(struct wal *, struct wal_segparm *,
		    uint64_t first, char **cause);

/* wal-stamp.c */
void		 wal_stamp_release(struct wal *, struct wal_batch *, int wait);
int		 wal_stamp_key(struct wal *, struct wal_batch *);
int		 wal_stamp_batch(struct wal *, struct wal_batch *,
		    char **cause);
ssize_t		 wal_stamp_write_done(struct wal *, struct wal_batch *,
		    uint64_t wstart, char **cause);

/* wal-spare.c */
int		 wal_spare_unneeded(struct wal *);
void		 wal_spare_note_segment(struct wal *, const char *name,
		    uint64_t bytes, uint64_t n);
int		 wal_spare_adopt(struct wal *, char **cause);
int		 wal_spare_activate(struct wal *, uint64_t first,
		    const struct wal_segparm *, char **cause);
enum wal_rc	 wal_spare_claim(struct wal *);

/* wal-recover.c */
/* wal-producer.c */
enum wal_rc	 wal_producer_check(struct wal *,
		    const struct wal_producer_seq *, uint32_t tenant,
		    uint64_t *lsn);
void		 wal_producer_note(struct wal *,
		    const struct wal_producer_seq *, uint32_t tenant,
		    uint64_t lsn);
int		 wal_producer_save(struct wal *, int sync, char **cause);
int		 wal_producer_rebuild(struct wal *, char **cause);
void		 wal_producer_segment(struct wal *);
void		 wal_producer_free(struct wal *);
void		 wal_producer_stats(struct wal *, uint64_t *producers,
		    uint64_t *evicted);
int		 wal_recover(struct wal *, char **cause);

#endif
