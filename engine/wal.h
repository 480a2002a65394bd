/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal.h: the segmented WAL engine. Owns one directory of segment files:
 * recovery at open, group-commit batches, rollover, seal and truncation.
 * This is the writer's face; the reader and the offline checker are in
 * wal-reader.h. The on-disk format is specified in segment.c and
 * docs/FORMAT.md.
 *
 * Threads. One "loop" thread calls wal_append, wal_mark_*, wal_flush_begin,
 * wal_flush_end, wal_truncate_before and wal_stats. One "flusher" thread
 * calls wal_flush_io on the batch that wal_flush_begin handed out; at most
 * one batch is out at a time, so the loop fills batch N+1 while batch N is
 * written and synced. wal_prepare_spare may run on another thread at any
 * time, and so may wal_stamp_ahead (the stamper thread). The offline helpers (wal_sync,
 * wal_seal, wal_rotate) do begin/io/end on the calling thread and must
 * not be mixed with a batch in flight.
 */
#ifndef WALD_WAL_H
#define WALD_WAL_H

#include <stdint.h>
#include <stdio.h>
#include <stddef.h>

#define WAL_DEFAULT_SEGMENT  (64ull << 20)
#define WAL_DEFAULT_RECORD   (1u << 20)
#define WAL_MIN_SEGMENT      (1ull << 20)

enum wal_direct { WAL_DIRECT_AUTO, WAL_DIRECT_ON, WAL_DIRECT_OFF };

/* How spare segments are made: fallocated, and also written with zeros
   unless the last segment was written in large flushes (AUTO), always
   (ZEROS), or never when fallocate works (FALLOCATE; tests pin these). */
enum wal_spare_mode { WAL_SPARE_AUTO, WAL_SPARE_ZEROS, WAL_SPARE_FALLOCATE };

/* Result codes of wal_append and the mark functions. */
enum wal_rc {
	WAL_OK = 0,
	WAL_EFULL,	/* the filling batch cannot take this now (buffer full, or the
			   segment ends with this batch): flush, then retry */
	WAL_EWAIT,	/* a new segment is needed and is still being prepared:
			   retry after wal_prepare_spare returns */
	WAL_ENOSPC,	/* a new segment is needed and could not be prepared
			   (disk full): nothing was written, retry later */
	WAL_ESPARE,	/* a new segment is needed and its preparation failed
			   otherwise (an I/O error, no descriptors, ...;
			   wal_spare_errno says): nothing was written, retry
			   later */
	WAL_ETOOBIG,	/* payload above max_record */
	WAL_ESEALED,	/* the log is sealed (or a seal is pending) */
	WAL_EFAILED,	/* an earlier write or sync failed: the log is latched */
	WAL_EDUP,	/* wal_append_as: the producer's append is in the log
			   already; *lsn is its LSN, nothing was written */
	WAL_ENOMEM,	/* wal_append_as: no memory for the producer table:
			   nothing was written, retry later */
	WAL_ESEQ,	/* wal_append_as: the sequence number is neither the
			   producer's next nor one of its last `window`:
			   nothing was written (wal_producer_next says) */
};

/* An idempotent producer's append (PROTOCOL.md, "Producers"): its id,
   not 0, and its sequence number, from 1, one more with each append. */
struct wal_producer_seq {
	uint64_t	producer;
	uint64_t	seq;
};

struct keyring;

struct wal_options {
	const char	*dir;
	uint64_t	 segment_size;	/* target size of a segment file; 0 = default */
	enum wal_direct	 direct_io;
	uint32_t	 max_record;	/* max payload bytes; 0 = default, <= hard max */
	uint64_t	 batch_bytes;	/* capacity of one batch buffer; 0 = 8 MiB;
					   raised to hold at least one max record */
	int		 no_lock;	/* tests only: skip the directory lock */
	enum wal_spare_mode spare_mode;	/* 0: WAL_SPARE_AUTO */
	/* Up to this many files of truncated segments are kept to become
	   spares again (written over in place, their blocks kept); 0: none. */
	uint32_t	 recycle_segments;
	/* Encryption at rest (keyring.h): new segments are written under
	   the ring's active key; NULL: not encrypted. Every encrypted
	   segment present must have its key in the ring, or wal_open fails
	   naming the key id and the segment. wal_open takes a reference. */
	struct keyring	*keyring;
	/* The producer table (wal-producer.c): how many producers it keeps
	   (the least recent is forgotten past it) and how many of each
	   one's last appends a retry is recognised for. 0: 4096 and 32. */
	uint32_t	 producers_max;
	uint32_t	 producer_window;
	/* Called for every event worth a log line (recovery cuts, I/O choice,
	   failures). level: 3 err, 4 warning, 6 info, 7 debug. May be NULL. */
	void		(*log)(int level, const char *msg);
};

struct wal_stats {
	uint64_t	first_lsn;	/* lowest LSN still in the log */
	uint64_t	next_lsn;	/* LSN the next append will get */
	uint64_t	durable_lsn;	/* highest LSN known durable (0: none) */
	uint64_t	segments;	/* segment files present */
	uint64_t	bytes_on_disk;	/* sum of segment file sizes */
	uint64_t	bytes_written;	/* record bytes written since open */
	uint64_t	flushes;	/* fdatasyncs of batches since open */
	uint64_t	stamped_ahead;	/* record bytes wal_stamp_ahead stamped */
	uint64_t	recycled;	/* spares made from truncated segments */
	uint64_t	recycle_held;	/* truncated segments kept for that */
	uint64_t	active_first_lsn;
	uint64_t	active_offset;	/* file offset the next record goes to */
	int		sealed;
	int		failed;
	int		direct_io;	/* 1 when O_DIRECT is in use */
	uint32_t	active_key_id;	/* new records' key id; 0: not encrypted */
	uint64_t	producers;	/* in the producer table */
	uint64_t	producers_evicted; /* forgotten since open: table full */
};

struct wal;
struct wal_batch;

/* Opens (creating if needed) the directory, takes its lock, recovers it. */
struct wal	*wal_open(const struct wal_options *, char **cause);
/* Closes files and frees; no batch may be in flight and no
   wal_prepare_spare running. Does not flush. */
void		 wal_close(struct wal *);

/* Assigns the next LSN and copies the record into the filling batch. */
enum wal_rc	 wal_append(struct wal *, uint16_t type, uint32_t tenant,
		    uint16_t vshard, const void *payload, uint32_t len,
		    uint64_t *lsn);
/* The same for an idempotent producer's append (ps; NULL: none):
   WAL_EDUP with the original's LSN when it is a retry of one of the
   producer's last appends, WAL_ESEQ when its sequence number is out of
   order. Producers are told apart by (tenant, id). */
enum wal_rc	 wal_append_as(struct wal *, const struct wal_producer_seq *ps,
		    uint16_t type, uint32_t tenant, uint16_t vshard,
		    const void *payload, uint32_t len, uint64_t *lsn);
/* 1 and *lsn when the producer's append is in the log already (a retry
   wal_append_as would answer with WAL_EDUP), else 0. Loop thread. */
int		 wal_producer_held(struct wal *, const struct wal_producer_seq *,
		    uint32_t tenant, uint64_t *lsn);
/* The sequence number the producer's next append must have, and in
   *oldest (may be NULL) the oldest a retry is recognised for; 0 when
   the producer is not known (any start is taken). Loop thread. */
uint64_t	 wal_producer_next(struct wal *, uint64_t producer,
		    uint32_t tenant, uint64_t *oldest);
/* The producer table's snapshot at each segment's start (FORMAT.md,
   PRODUCERS) is written by the loop itself (open, write, fdatasync,
   rename) unless a writer thread is set: then the loop only encodes it
   and queues it, wal_producer_take_new says when one was queued, and the
   writer writes the latest with wal_producer_write_pending (0, or -1 and
   *cause; a failure only costs time at the next open). The snapshots of
   open and close are written by them, as before. */
void		 wal_producer_set_writer(struct wal *);
int		 wal_producer_take_new(struct wal *);
int		 wal_producer_write_pending(struct wal *, char **cause);
/* The filling batch will end the active segment (footer), the next starts
   a new one. WAL_EWAIT/WAL_ENOSPC when no new segment is ready; WAL_OK and
   nothing to do when the segment has no record yet; WAL_EFULL when the
   filling batch, or the one being written, begins a new segment (flush,
   then retry). wal_append can return WAL_EFULL for the same reason. */
enum wal_rc	 wal_mark_rotate(struct wal *);
/* The filling batch will seal the log; appends fail with WAL_ESEALED. */
enum wal_rc	 wal_mark_seal(struct wal *);

/* 1 when the filling batch has something to write (records or a mark):
   a mark that left nothing to write (rotating an empty segment) needs no
   flush to take effect. */
int		 wal_pending(struct wal *);
/* Bytes of records in the filling batch (loop thread). */
uint64_t	 wal_pending_bytes(struct wal *);
/* Records in the filling batch (loop thread). */
uint64_t	 wal_pending_records(struct wal *);
/* The time, Unix nanoseconds, a record appended now would get: the wall
   clock, or the last record's time when the clock is behind it (loop
   thread). No later record gets an earlier time. */
uint64_t	 wal_time_next(struct wal *);
/* Detaches the filling batch for writing; NULL when there is nothing to
   write or a batch is already out. */
struct wal_batch *wal_flush_begin(struct wal *);
/* Writes and fdatasyncs the batch (flusher thread). 0, or -1 and *cause;
   a failure latches the log failed: nothing later is ever acknowledged. */
int		 wal_flush_io(struct wal *, struct wal_batch *, char **cause);
/* Takes the batch back (loop thread) and returns the durable LSN. */
uint64_t	 wal_flush_end(struct wal *, struct wal_batch *);
/*
 * Stamping ahead. Stamping a batch (encrypting its records, setting
 * their CRCs) otherwise runs on the flusher, in series with the write.
 * While a batch is out, another thread can stamp the filling batch's
 * records as they come, so that the flusher finds them done.
 * wal_stamp_wanted (loop thread) lets the stamper at the filling batch's
 * complete records and returns 1 when enough of them are not stamped yet
 * to be worth waking it. wal_stamp_ahead (the stamper thread) stamps
 * them, in order, and returns when it has caught up; the loop and the
 * flusher, taking a batch from it, wait only for the record it is
 * stamping. A batch detached with a long tail not stamped
 * (wal_batch_split) it finishes first, while the flusher writes the part
 * before.
 */
int		 wal_stamp_wanted(struct wal *);
void		 wal_stamp_ahead(struct wal *);
/* Highest LSN in the batch (0 if it has no record). */
uint64_t	 wal_batch_last_lsn(const struct wal_batch *);
/* 1 when writing the batch is one pwrite and one fdatasync: it neither
   begins nor ends a segment. */
int		 wal_batch_plain(const struct wal_batch *);
/* 1 when the stamper is to finish stamping the batch (just detached)
   while the flusher writes the part it has stamped: the stamper must be
   woken. */
int		 wal_batch_split(const struct wal_batch *);

/* Makes sure a spare segment is ready (see enum wal_spare_mode and
   wal.c). 0, or -1 and *cause
   (errno kept: ENOSPC when the disk is full). Any thread. */
int		 wal_prepare_spare(struct wal *, char **cause);
/* 1 when a spare is ready or not needed. */
int		 wal_spare_ready(struct wal *);
/* Why the last preparation of a spare failed (an errno), or 0. */
int		 wal_spare_errno(struct wal *);

/* Offline helpers: begin + io + end on this thread. */
int		 wal_sync(struct wal *, uint64_t *durable, char **cause);
int		 wal_seal(struct wal *, uint64_t *last, char **cause);
int		 wal_rotate(struct wal *, char **cause);

/* Deletes whole sealed segments whose records are all below lsn, oldest
   first, never the active one; fsyncs the directory. *new_first is the
   log's first LSN afterwards. */
int		 wal_truncate_before(struct wal *, uint64_t lsn,
		    uint64_t *new_first, char **cause);

/* The segments, oldest first (the last is the active one unless the log
   is sealed): up to max of them into out; returns how many there are. */
struct wal_seginfo {
	uint64_t	first;
	uint64_t	last;		/* first - 1 while empty */
	uint64_t	size;		/* of its file */
	int		sealed;		/* has its footer: truncation may take
					   it */
};
size_t		 wal_segments(struct wal *, struct wal_seginfo *, size_t max);
/* About how many bytes of records follow lsn (up to the last one
   appended): whole segments after it, and the share of its own segment
   its later records make, in proportion to their count. An estimate for
   a consumer's lag; loop thread. */
uint64_t	 wal_bytes_after(struct wal *, uint64_t lsn);
/* The time (unix ns) of the first record of the segment whose first LSN
   is first: 0 when it has none, or no time (a version 1 or 2 segment).
   0, or -1 and *cause (it cannot be read). Any thread. */
int		 wal_segment_time(struct wal *, uint64_t first,
		    uint64_t *time_ns, char **cause);

void		 wal_stats(struct wal *, struct wal_stats *);
/* 1 once the log's seal is durable (its footer written and synced); a
   seal still pending (marked, not yet flushed) is 0. wal_append refuses
   either way (WAL_ESEALED); only the first is final. Loop thread. */
int		 wal_seal_durable(struct wal *);
/* The largest payload an append takes: wal_options.max_record, or less
   when a record that large would not fit a segment (fixed at open). */
uint32_t	 wal_max_record(struct wal *);

/* Replaces the key ring (loop thread). Refused (-1, *cause naming the
   segments, nothing changed) when a present segment needs a key the new
   ring lacks or has with other bytes, or when it would turn encryption
   on or off. When the active key changes, no record is written under
   the old one from now on: the next append or wal_mark_rotate starts a
   new segment under the new key. */
int		 wal_set_keyring(struct wal *, struct keyring *, char **cause);
/* The distinct key ids present segments need, ascending, into ids (at
   most max); returns how many there are. */
size_t		 wal_keys_needed(struct wal *, uint32_t *ids, size_t max);

#endif
