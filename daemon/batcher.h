/* SPDX-License-Identifier: Apache-2.0 */
/*
 * batcher.h: group commit. The loop fills the WAL's batch; the batcher
 * hands it to a flusher thread that writes and fdatasyncs it while the loop
 * fills the next, then reports back on the loop; a small batch the loop
 * writes and syncs itself (batcher.c says when). A second thread keeps a
 * spare segment prepared; a third stamps the filling batch's records ahead
 * of the flusher while a batch is out.
 */
#ifndef WALD_BATCHER_H
#define WALD_BATCHER_H

#include <stdint.h>

struct event_base;
struct wal;
struct batcher;

struct batcher_cbs {
	/* A batch finished: ok, with the durable LSN; or failed with cause. */
	void	(*done_cb)(void *arg, int ok, uint64_t durable,
		    const char *cause);
	/* A spare segment became ready (after a wait or a full disk), or
	   preparing one failed: what waits for a spare looks again. */
	void	(*spare_cb)(void *arg);
	/* The loop is about to block in an inline flush (a small batch):
	   write the replies already due now. */
	void	(*flush_cb)(void *arg);
	void	 *arg;
};

struct batcher	*batcher_create(struct event_base *, struct wal *,
		    const struct batcher_cbs *, char **cause);
/* Stops the threads and frees; no batch may be in flight. */
void		 batcher_free(struct batcher *);
/* Starts a flush when the flusher is idle and there is something to write.
   `waiting` is the number of connections waiting for durability, for the
   optional commit delay. */
void		 batcher_kick(struct batcher *, unsigned waiting);
/* Takes back a batch the flusher has finished, if there is one and the
   filling batch is large, without waiting for its eventfd: for the loop's
   long turns, so that the flusher is handed the next batch at once. Then,
   while a batch is out, publishes the filling batch's records to the
   stamper and wakes it if it sleeps and the backlog is worth it. After each
   connection read, from a top-level callback only. */
void		 batcher_poll(struct batcher *);
/* 1 while a batch is being written (or held by the commit delay). */
int		 batcher_busy(struct batcher *);
/* Number of batches started so far: a mark made now rides batch n + 1. */
uint64_t	 batcher_started(struct batcher *);
/* Asks the preparer to make a spare segment now. */
void		 batcher_want_spare(struct batcher *);
/* Commit delay (0 = off): wait this long before a flush when at least
   `siblings` connections are waiting, so more join the batch. */
void		 batcher_set_delay(struct batcher *, uint64_t usec,
		    unsigned siblings);
/* Statistics. */
struct batcher_stats {
	uint64_t	flushes;
	uint64_t	flush_usec_total;
	uint64_t	flush_usec_max;
	uint64_t	hist[16];	/* flush duration: <=2^(i+4) us; [15] more */
	uint64_t	batch_records_total;	/* records made durable */
	/* Of the batches the flusher wrote: from the loop's hand-over to
	   the flusher starting on it, and from the flusher finishing to the
	   loop taking it back (the times the disk waits on the threads). */
	uint64_t	handoff_usec_total;
	uint64_t	return_usec_total;
	/* The batches the loop wrote itself, and their records. */
	uint64_t	inline_flushes;
	uint64_t	inline_records;
	uint64_t	batch_hist[16];	/* records per flush: <=2^i; [15] more */
};
void		 batcher_stats(struct batcher *, struct batcher_stats *);

#endif
