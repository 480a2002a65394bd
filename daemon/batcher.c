/*
 * batcher.c: the flusher and spare-preparer threads of group commit.
 *
 * Durability order, enforced here and in server.c: the loop appends records
 * to the filling batch; batcher_kick detaches it (wal_flush_begin) only when
 * the flusher is idle; the flusher writes and fdatasyncs it; only when that
 * has returned success does the loop learn the new durable LSN (done_cb),
 * and only then are replies for those records queued. No fixed delay: a
 * batch closes the moment the flusher is free.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "batcher.h"
#include "log.h"
#include "wal.h"

struct batcher {
	struct event_base	*base;
	struct wal		*wal;
	struct batcher_cbs	 cbs;

	pthread_mutex_t		 lock;
	pthread_cond_t		 flush_cond;	/* flusher waits for a batch */
	pthread_cond_t		 prep_cond;	/* preparer waits for a request */
	pthread_t		 flusher;
	pthread_t		 preparer;
	int			 stopping;

	/* Owned by the loop while NULL, by the flusher while set. */
	struct wal_batch	*batch;
	uint64_t		 taken_back;	/* batches the loop took back */
	/* Set by the flusher, read by the loop in done_ev. */
	int			 result;
	char			*cause;
	uint64_t		 usec;

	int			 want_spare;
	int			 spare_failed;	/* last preparation failed */

	struct event		*done_ev;
	struct event		*spare_ev;
	struct event		*delay_ev;
	uint64_t		 delay_usec;
	unsigned		 delay_siblings;
	int			 delaying;
	uint64_t		 started;
	uint64_t		 last_lsn;	/* last LSN of the batches so far */

	struct batcher_stats	 stats;
};

static uint64_t
batcher_now_usec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* The flusher thread: writes and syncs each batch it is handed. */
static void *
batcher_flusher_main(void *arg)
{
	struct batcher		*b = arg;
	struct wal_batch	*batch;
	char			*cause;
	uint64_t		 start, seen;
	int			 rc;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		while (b->batch == NULL && !b->stopping)
			pthread_cond_wait(&b->flush_cond, &b->lock);
		if (b->batch == NULL)
			break;
		batch = b->batch;
		pthread_mutex_unlock(&b->lock);

		cause = NULL;
		start = batcher_now_usec();
		rc = wal_flush_io(b->wal, batch, &cause);

		pthread_mutex_lock(&b->lock);
		b->result = rc;
		b->cause = cause;
		b->usec = batcher_now_usec() - start;
		/* Hand the batch back: done_ev runs on the loop. Wait until it
		   is taken back, not until b->batch is NULL: the loop may have
		   handed over the next batch before this thread wakes up. */
		seen = b->taken_back;
		event_active(b->done_ev, EV_READ, 0);
		while (b->taken_back == seen && !b->stopping)
			pthread_cond_wait(&b->flush_cond, &b->lock);
		if (b->stopping)
			break;
	}
	pthread_mutex_unlock(&b->lock);
	return (NULL);
}

/* The preparer thread: keeps a pre-zeroed spare segment ready; after a
   failure (a full disk) it retries every second until it succeeds. */
static void *
batcher_preparer_main(void *arg)
{
	struct batcher	*b = arg;
	struct timespec	 ts;
	char		*cause;
	int		 rc, failed_before;

	pthread_mutex_lock(&b->lock);
	while (!b->stopping) {
		if (!b->want_spare && !b->spare_failed) {
			pthread_cond_wait(&b->prep_cond, &b->lock);
			continue;
		}
		b->want_spare = 0;
		failed_before = b->spare_failed;
		pthread_mutex_unlock(&b->lock);

		cause = NULL;
		rc = wal_spare_ready(b->wal) ? 0 : wal_prepare_spare(b->wal, &cause);
		if (rc != 0 && !failed_before)
			log_err("preparing the next segment: %s", cause);
		else if (rc == 0 && failed_before)
			log_info("next segment prepared; appends resume");
		free(cause);

		pthread_mutex_lock(&b->lock);
		b->spare_failed = (rc != 0);
		if (rc == 0) {
			event_active(b->spare_ev, EV_READ, 0);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		while (!b->stopping &&
		    pthread_cond_timedwait(&b->prep_cond, &b->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&b->lock);
	return (NULL);
}

/* Loop side of a finished batch. */
static void
batcher_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batcher		*b = arg;
	struct wal_batch	*batch;
	uint64_t		 durable, last, nrec;
	char			*cause;
	int			 rc, i;

	(void)fd; (void)what;
	pthread_mutex_lock(&b->lock);
	batch = b->batch;
	/* Its records: LSNs are contiguous, so its last LSN less the last
	   one before it (0 for a batch that only seals or rotates). */
	last = wal_batch_last_lsn(batch);
	nrec = last > b->last_lsn ? last - b->last_lsn : 0;
	if (last > b->last_lsn)
		b->last_lsn = last;
	b->stats.batch_records_total += nrec;
	for (i = 0; i < 15 && nrec > (1ull << i); i++)
		;
	b->stats.batch_hist[i]++;
	rc = b->result;
	cause = b->cause;
	b->cause = NULL;
	b->stats.flushes++;
	b->stats.flush_usec_total += b->usec;
	if (b->usec > b->stats.flush_usec_max)
		b->stats.flush_usec_max = b->usec;
	for (i = 0; i < 15 && b->usec > (16ull << i); i++)
		;
	b->stats.hist[i]++;
	pthread_mutex_unlock(&b->lock);

	durable = wal_flush_end(b->wal, batch);
	pthread_mutex_lock(&b->lock);
	b->batch = NULL;
	b->taken_back++;
	pthread_cond_signal(&b->flush_cond);
	if (rc == 0 && !wal_spare_ready(b->wal)) {
		b->want_spare = 1;
		pthread_cond_signal(&b->prep_cond);
	}
	pthread_mutex_unlock(&b->lock);

	b->cbs.done_cb(b->cbs.arg, rc == 0, durable, cause);
	free(cause);
}

static void
batcher_spare_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batcher	*b = arg;

	(void)fd; (void)what;
	b->cbs.spare_cb(b->cbs.arg);
}

/* Starts the flusher on the filling batch, if it has anything. */
static void
batcher_start(struct batcher *b)
{
	struct wal_batch	*batch;

	if (b->batch != NULL)
		return;
	batch = wal_flush_begin(b->wal);
	if (batch == NULL)
		return;
	b->started++;
	pthread_mutex_lock(&b->lock);
	b->batch = batch;
	pthread_cond_signal(&b->flush_cond);
	pthread_mutex_unlock(&b->lock);
}

static void
batcher_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batcher	*b = arg;

	(void)fd; (void)what;
	b->delaying = 0;
	batcher_start(b);
}

void
batcher_kick(struct batcher *b, unsigned waiting)
{
	struct timeval	tv;

	if (b->batch != NULL || b->delaying)
		return;
	if (b->delay_usec > 0 && waiting >= b->delay_siblings && waiting > 0) {
		tv.tv_sec = b->delay_usec / 1000000;
		tv.tv_usec = b->delay_usec % 1000000;
		b->delaying = 1;
		evtimer_add(b->delay_ev, &tv);
		return;
	}
	batcher_start(b);
}

int
batcher_busy(struct batcher *b)
{
	return (b->batch != NULL || b->delaying);
}

uint64_t
batcher_started(struct batcher *b)
{
	return (b->started);
}

void
batcher_want_spare(struct batcher *b)
{
	pthread_mutex_lock(&b->lock);
	b->want_spare = 1;
	pthread_cond_signal(&b->prep_cond);
	pthread_mutex_unlock(&b->lock);
}

void
batcher_set_delay(struct batcher *b, uint64_t usec, unsigned siblings)
{
	b->delay_usec = usec;
	b->delay_siblings = siblings;
}

void
batcher_stats(struct batcher *b, struct batcher_stats *st)
{
	pthread_mutex_lock(&b->lock);
	*st = b->stats;
	pthread_mutex_unlock(&b->lock);
}

struct batcher *
batcher_create(struct event_base *base, struct wal *w,
    const struct batcher_cbs *cbs, char **cause)
{
	struct batcher		*b;
	struct wal_stats	 ws;
	int			 error;

	if ((b = calloc(1, sizeof *b)) == NULL)
		goto nomem;
	b->base = base;
	b->wal = w;
	b->cbs = *cbs;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->flush_cond, NULL);
	pthread_cond_init(&b->prep_cond, NULL);
	b->done_ev = event_new(base, -1, 0, batcher_done_cb, b);
	b->spare_ev = event_new(base, -1, 0, batcher_spare_cb, b);
	b->delay_ev = evtimer_new(base, batcher_delay_cb, b);
	if (b->done_ev == NULL || b->spare_ev == NULL || b->delay_ev == NULL)
		goto nomem;
	b->want_spare = !wal_spare_ready(w);
	wal_stats(w, &ws);
	b->last_lsn = ws.next_lsn - 1;
	if ((error = pthread_create(&b->flusher, NULL, batcher_flusher_main,
	    b)) != 0) {
		if (asprintf(cause, "starting the flusher thread: %s",
		    strerror(error)) == -1)
			*cause = NULL;
		goto fail;
	}
	if ((error = pthread_create(&b->preparer, NULL, batcher_preparer_main,
	    b)) != 0) {
		pthread_mutex_lock(&b->lock);
		b->stopping = 1;
		pthread_cond_broadcast(&b->flush_cond);
		pthread_mutex_unlock(&b->lock);
		pthread_join(b->flusher, NULL);
		if (asprintf(cause, "starting the preparer thread: %s",
		    strerror(error)) == -1)
			*cause = NULL;
		goto fail;
	}
	return (b);

nomem:
	*cause = strdup("out of memory");
fail:
	if (b != NULL) {
		if (b->done_ev != NULL)
			event_free(b->done_ev);
		if (b->spare_ev != NULL)
			event_free(b->spare_ev);
		if (b->delay_ev != NULL)
			event_free(b->delay_ev);
		free(b);
	}
	return (NULL);
}

/* Stops the threads and frees. The caller has waited for any batch in
   flight (batcher_busy is 0): a batch still out is finished by the flusher
   but not taken back. */
void
batcher_free(struct batcher *b)
{
	pthread_mutex_lock(&b->lock);
	b->stopping = 1;
	pthread_cond_broadcast(&b->flush_cond);
	pthread_cond_broadcast(&b->prep_cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->flusher, NULL);
	pthread_join(b->preparer, NULL);
	free(b->cause);
	event_free(b->done_ev);
	event_free(b->spare_ev);
	event_free(b->delay_ev);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->flush_cond);
	pthread_cond_destroy(&b->prep_cond);
	free(b);
}
