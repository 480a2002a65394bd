/* SPDX-License-Identifier: Apache-2.0 */
/*
 * batcher.c: the flusher, spare-preparer and stamper threads of group
 * commit.
 *
 * Durability order, enforced here and in ack.c (ack_done): the loop appends
 * records to the filling batch; batcher_kick detaches it (wal_flush_begin)
 * only when the flusher is idle; the flusher (or, for a small batch, the
 * loop: see below) writes and fdatasyncs it; only when that has returned
 * success does the loop learn the new durable LSN (done_cb), and only then
 * are replies for those records queued. No fixed delay: a batch closes
 * the moment the flusher is free.
 *
 * Hand-offs cost latency, so there are as few as can be, and no mutex on
 * the way: the loop hands a batch over with one sem_post (a condition
 * variable would add a futex call: glibc's wait returns holding its mutex
 * marked contended, so the flusher's unlock always makes a wake call); the
 * flusher hands it back with a release store and one write to an eventfd
 * that the loop polls like any socket. libevent itself is used from the
 * loop thread only, and needs no locking.
 *
 * Those hand-offs buy an overlap (the loop reads and copies the next batch
 * while the disk syncs this one) that pays only when the loop has much to
 * do per batch. A small batch gains nothing from it and pays for two
 * thread switches, and at many clients with one append in flight each,
 * the flusher's eager cycle also makes batches half the size the arrivals
 * allow (each its own fdatasync). So when a kick finds the filling batch
 * small (at most INLINE_RECORDS records and INLINE_BYTES bytes), it does
 * not detach it at once: inline_ev runs after the other callbacks of this
 * loop turn (so every client that was ready has been read), and if the
 * batch is still that small and neither begins nor ends a segment, the
 * loop writes out the replies already due, then writes and syncs the
 * batch itself with the same wal_flush_io, so nothing about durability
 * changes. Requests that arrive meanwhile wait in their sockets and make
 * the next batch. A larger batch goes to the flusher, and with it the
 * overlap. The loop does not block for a disk whose last flush took more
 * than INLINE_MAX_USEC: the flusher takes the batches until one is quick
 * again (BENCHMARKS.md, "The loop writes small batches itself").
 *
 * While a batch is out, the stamper stamps the filling batch's records as
 * they arrive (wal_stamp_ahead: encryption and CRCs), so that the flusher
 * finds most of the next batch stamped instead of stamping it in series
 * with the write. The loop publishes after each connection it reads
 * (batcher_poll) and wakes the stamper with a sem_post only when it sleeps
 * and wal_stamp_wanted says the backlog is worth it.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "batcher.h"
#include "cause.h"
#include "log.h"
#include "wal.h"

/* A batch the loop writes itself, and the slowest last flush it does it
   after; see the top. */
#define INLINE_RECORDS	64
#define INLINE_BYTES	(64u << 10)
#define INLINE_MAX_USEC	10000
/* batcher_poll takes a finished batch back only when the next one holds
   this much: enough to keep the disk busy. Smaller records make the loop
   the bottleneck, and more batches of fewer records cost it more. */
#define BATCHER_POLL_BYTES (256u << 10)

struct batcher {
	struct event_base	*base;
	struct wal		*wal;
	struct batcher_cbs	 cbs;

	pthread_mutex_t		 lock;		/* the preparer's fields */
	pthread_cond_t		 prep_cond;	/* preparer waits for a request */
	sem_t			 go;		/* flusher waits for a batch */
	sem_t			 stamp_go;	/* stamper waits for work */
	pthread_t		 flusher;
	pthread_t		 preparer;
	pthread_t		 stamper;
	int			 stamper_idle;	/* atomic: posting stamp_go
						   is needed to wake it */
	int			 stopping;	/* atomic */

	/* Owned by the loop while NULL, by the flusher while set: posting
	   `go` hands it over, `finished` (release/acquire) hands it back. */
	struct wal_batch	*batch;
	int			 finished;	/* atomic */
	int			 spare_news;	/* atomic: the preparer made one,
						   or failed to */
	/* Set by the flusher, read by the loop once finished. */
	int			 result;
	char			*cause;
	uint64_t		 usec;
	uint64_t		 handoff_usec;	/* posted -> flusher began */
	uint64_t		 finished_at;	/* when the flusher ended */
	uint64_t		 posted_at;	/* set by the loop before go */

	int			 want_spare;
	int			 spare_failed;	/* last preparation failed */
	int			 want_prod;	/* a producer snapshot waits */

	int			 efd;		/* threads -> loop */
	struct event		*efd_ev;
	struct event		*inline_ev;	/* decides, maybe flushes inline */
	int			 inline_pending; /* inline_ev is active */
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

/* Wakes the loop: efd_ev runs there and looks at what is finished. */
static void
batcher_wake_loop(struct batcher *b)
{
	uint64_t	one = 1;

	/* EAGAIN means the counter is full: the loop is woken anyway. */
	if (write(b->efd, &one, sizeof one) == -1 && errno != EAGAIN)
		log_err("waking the event loop: %s", strerror(errno));
}

/* Writes and syncs b->batch (on the flusher, or inline on the loop) and
   keeps the result, its cause and the time it took for batcher_done. */
static void
batcher_flush(struct batcher *b)
{
	uint64_t	start;
	char		*cause = NULL;

	start = batcher_now_usec();
	b->result = wal_flush_io(b->wal, b->batch, &cause);
	b->cause = cause;
	b->usec = batcher_now_usec() - start;
}

/* Waits for a post of sem; 0 when it was the one that stops the thread. */
static int
batcher_wait(struct batcher *b, sem_t *sem)
{
	while (sem_wait(sem) != 0)
		;	/* EINTR */
	return (!__atomic_load_n(&b->stopping, __ATOMIC_ACQUIRE));
}

/* The flusher thread: writes and syncs each batch it is handed. */
static void *
batcher_flusher_main(void *arg)
{
	struct batcher	*b = arg;

	while (batcher_wait(b, &b->go)) {
		/* The loop hands over the next batch only after it has taken
		   this one back (b->batch NULL), so the result fields are not
		   overwritten before it reads them. */
		b->handoff_usec = batcher_now_usec() - b->posted_at;
		batcher_flush(b);
		b->finished_at = batcher_now_usec();
		__atomic_store_n(&b->finished, 1, __ATOMIC_RELEASE);
		batcher_wake_loop(b);
	}
	return (NULL);
}

/* The stamper thread: stamps the filling batch ahead of the flusher while
   it writes the one before (wal_stamp_ahead), each time it is woken. */
static void *
batcher_stamper_main(void *arg)
{
	struct batcher	*b = arg;

	while (batcher_wait(b, &b->stamp_go)) {
		wal_stamp_ahead(b->wal);
		__atomic_store_n(&b->stamper_idle, 1, __ATOMIC_RELEASE);
	}
	return (NULL);
}

/* Sets one of the preparer's requests (*flag, under b->lock) and wakes
   it. */
static void
batcher_ask_preparer(struct batcher *b, int *flag)
{
	pthread_mutex_lock(&b->lock);
	*flag = 1;
	pthread_mutex_unlock(&b->lock);
	pthread_cond_signal(&b->prep_cond);
}

/* Writes the producer table's snapshot the loop queued (preparer
   thread). A failure only costs time at the next open. */
static void
batcher_write_producers(struct batcher *b)
{
	char	*cause = NULL;

	if (wal_producer_write_pending(b->wal, &cause) != 0) {
		log_warn("producer snapshot: %s", cause != NULL ? cause :
		    "failed");
		free(cause);
	}
}

/* The preparer thread: keeps a spare segment ready; after a
   failure (a full disk) it retries every second until it succeeds. It
   also writes the producer table's snapshots, off the loop. */
static void *
batcher_preparer_main(void *arg)
{
	struct batcher	*b = arg;
	struct timespec	 ts;
	char		*cause;
	int		 rc, failed_before;

	pthread_mutex_lock(&b->lock);
	while (!__atomic_load_n(&b->stopping, __ATOMIC_ACQUIRE)) {
		if (b->want_prod) {
			b->want_prod = 0;
			pthread_mutex_unlock(&b->lock);
			batcher_write_producers(b);
			pthread_mutex_lock(&b->lock);
			continue;
		}
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

		/* Either way the loop looks again at what waits for a
		   spare: appends go on into it, or, the disk full, are
		   refused (WAL_ENOSPC) instead of waiting for the retry. */
		__atomic_store_n(&b->spare_news, 1, __ATOMIC_RELEASE);
		batcher_wake_loop(b);
		pthread_mutex_lock(&b->lock);
		b->spare_failed = (rc != 0);
		if (rc == 0)
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		while (!__atomic_load_n(&b->stopping, __ATOMIC_ACQUIRE) &&
		    !b->want_prod &&
		    pthread_cond_timedwait(&b->prep_cond, &b->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&b->lock);
	return (NULL);
}

/* Loop side of a finished batch. */
static void
batcher_done(struct batcher *b)
{
	struct wal_batch	*batch;
	uint64_t		 durable, last, nrec;
	char			*cause;
	int			 rc, i;

	batch = b->batch;
	__atomic_store_n(&b->finished, 0, __ATOMIC_RELAXED);
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
	if (b->posted_at != 0) {	/* the flusher's, not an inline one */
		b->stats.handoff_usec_total += b->handoff_usec;
		b->stats.return_usec_total += batcher_now_usec() -
		    b->finished_at;
		b->posted_at = 0;
	} else {
		b->stats.inline_flushes++;
		b->stats.inline_records += nrec;
	}
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

	durable = wal_flush_end(b->wal, batch);
	b->batch = NULL;
	if (rc == 0 && !wal_spare_ready(b->wal))
		batcher_want_spare(b);
	if (wal_producer_take_new(b->wal))
		batcher_ask_preparer(b, &b->want_prod);

	b->cbs.done_cb(b->cbs.arg, rc == 0, durable, cause);
	free(cause);
}

/* The eventfd: a batch finished, or a spare segment is ready, or both. */
static void
batcher_efd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batcher	*b = arg;
	uint64_t	 n;
	int		 finished, spare;

	(void)what;
	if (read(fd, &n, sizeof n) == -1 && errno != EAGAIN)
		log_err("reading the flusher's eventfd: %s", strerror(errno));
	finished = __atomic_load_n(&b->finished, __ATOMIC_ACQUIRE);
	spare = __atomic_exchange_n(&b->spare_news, 0, __ATOMIC_ACQ_REL);
	if (finished)
		batcher_done(b);
	if (spare)
		b->cbs.spare_cb(b->cbs.arg);
}

/* Wakes the stamper if it sleeps. */
static void
batcher_wake_stamper(struct batcher *b)
{
	if (!__atomic_load_n(&b->stamper_idle, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&b->stamper_idle, 0, __ATOMIC_RELAXED);
	if (sem_post(&b->stamp_go) != 0) {
		log_err("waking the stamper: %s", strerror(errno));
		__atomic_store_n(&b->stamper_idle, 1, __ATOMIC_RELAXED);
	}
}

/* Takes a finished batch back mid-turn, and wakes the stamper; see
   batcher.h. */
void
batcher_poll(struct batcher *b)
{
	/* No inline flush is pending while a batch is out, and one done
	   inline is finished before any read callback runs. */
	if (b->batch != NULL &&
	    wal_pending_bytes(b->wal) >= BATCHER_POLL_BYTES &&
	    __atomic_load_n(&b->finished, __ATOMIC_ACQUIRE))
		batcher_done(b);
	/* Publish in any case: a stamper already awake goes on with what
	   is published while it works. Wake it only when it sleeps. */
	if (b->batch != NULL && wal_stamp_wanted(b->wal))
		batcher_wake_stamper(b);
}

/* Detaches the filling batch: 0, or -1 when there is nothing to write. */
static int
batcher_detach(struct batcher *b)
{
	struct wal_batch	*batch;

	if ((batch = wal_flush_begin(b->wal)) == NULL)
		return (-1);
	/* The stamper finishes a split batch while the flusher writes. */
	if (wal_batch_split(batch))
		batcher_wake_stamper(b);
	b->started++;
	b->batch = batch;
	return (0);
}

/* Hands the detached batch to the flusher. */
static void
batcher_post(struct batcher *b)
{
	b->posted_at = batcher_now_usec();	/* sem_post publishes it */
	if (sem_post(&b->go) != 0)	/* only EOVERFLOW: cannot happen */
		log_err("handing a batch to the flusher: %s", strerror(errno));
}

/* Whether the filling batch is one the loop may write itself. */
static int
batcher_small(struct batcher *b)
{
	return (wal_pending_records(b->wal) <= INLINE_RECORDS &&
	    wal_pending_bytes(b->wal) <= INLINE_BYTES);
}

/* The end of the loop turn in which a small batch was kicked: written on
   the loop if it is still small, else handed to the flusher (see the
   top). */
static void
batcher_inline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batcher	*b = arg;
	int		 small;

	(void)fd; (void)what;
	b->inline_pending = 0;
	small = batcher_small(b);
	if (batcher_detach(b) != 0)
		return;
	if (!small || !wal_batch_plain(b->batch)) {
		batcher_post(b);
		return;
	}
	/* The loop is about to block in fdatasync: replies already due
	   go out first. */
	b->cbs.flush_cb(b->cbs.arg);
	batcher_flush(b);
	batcher_done(b);	/* a kick from here only activates inline_ev */
}

/* Starts a flush of the filling batch, if it has anything: on the flusher,
   or for a small batch maybe at the end of this loop turn (see the top). */
static void
batcher_start(struct batcher *b)
{
	if (b->batch != NULL || b->inline_pending || !wal_pending(b->wal))
		return;
	/* b->usec is the last flush's: none is out (b->batch is NULL). */
	if (b->delay_usec == 0 && b->usec <= INLINE_MAX_USEC &&
	    batcher_small(b)) {
		b->inline_pending = 1;
		event_active(b->inline_ev, EV_READ, 0);
		return;
	}
	if (batcher_detach(b) == 0)
		batcher_post(b);
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
	return (b->batch != NULL || b->delaying || b->inline_pending);
}

uint64_t
batcher_started(struct batcher *b)
{
	return (b->started);
}

void
batcher_want_spare(struct batcher *b)
{
	batcher_ask_preparer(b, &b->want_spare);
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
	*st = b->stats;	/* the loop's own: batcher_done keeps them */
}

/* Stops and joins the first n threads (flusher, preparer, stamper). */
static void
batcher_stop(struct batcher *b, size_t n)
{
	pthread_mutex_lock(&b->lock);
	__atomic_store_n(&b->stopping, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&b->prep_cond);
	pthread_mutex_unlock(&b->lock);
	if (sem_post(&b->go) != 0)
		log_err("stopping the flusher: %s", strerror(errno));
	if (sem_post(&b->stamp_go) != 0)
		log_err("stopping the stamper: %s", strerror(errno));
	if (n > 0)
		pthread_join(b->flusher, NULL);
	if (n > 1)
		pthread_join(b->preparer, NULL);
	if (n > 2)
		pthread_join(b->stamper, NULL);
}

struct batcher *
batcher_create(struct event_base *base, struct wal *w,
    const struct batcher_cbs *cbs, char **cause)
{
	struct batcher		*b;
	struct wal_stats	 ws;
	size_t			 i;
	int			 error;
	struct {
		pthread_t	*t;
		void		*(*main)(void *);
		const char	*name;
	} threads[] = {
		{ NULL, batcher_flusher_main, "flusher" },
		{ NULL, batcher_preparer_main, "preparer" },
		{ NULL, batcher_stamper_main, "stamper" },
	};

	if ((b = calloc(1, sizeof *b)) == NULL)
		goto nomem;
	threads[0].t = &b->flusher;
	threads[1].t = &b->preparer;
	threads[2].t = &b->stamper;
	b->efd = -1;
	b->base = base;
	b->wal = w;
	b->cbs = *cbs;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->prep_cond, NULL);
	b->stamper_idle = 1;
	if (sem_init(&b->go, 0, 0) != 0) {
		cause_set(cause, "sem_init: %s", strerror(errno));
		goto fail;
	}
	if (sem_init(&b->stamp_go, 0, 0) != 0) {
		cause_set(cause, "sem_init: %s", strerror(errno));
		sem_destroy(&b->go);
		goto fail;
	}
	b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->efd == -1) {
		cause_set(cause, "eventfd: %s", strerror(errno));
		goto fail;
	}
	b->efd_ev = event_new(base, b->efd, EV_READ | EV_PERSIST,
	    batcher_efd_cb, b);
	b->delay_ev = evtimer_new(base, batcher_delay_cb, b);
	b->inline_ev = event_new(base, -1, 0, batcher_inline_cb, b);
	if (b->efd_ev == NULL || b->delay_ev == NULL || b->inline_ev == NULL)
		goto nomem;
	if (event_add(b->efd_ev, NULL) != 0) {
		*cause = strdup("cannot watch the flusher's eventfd");
		goto fail;
	}
	b->want_spare = !wal_spare_ready(w);
	wal_producer_set_writer(w);	/* the preparer writes its snapshots */
	wal_stats(w, &ws);
	b->last_lsn = ws.next_lsn - 1;
	for (i = 0; i < sizeof threads / sizeof threads[0]; i++) {
		if ((error = pthread_create(threads[i].t, NULL,
		    threads[i].main, b)) != 0) {
			batcher_stop(b, i);
			cause_set(cause, "starting the %s thread: %s",
			    threads[i].name, strerror(error));
			goto fail;
		}
	}
	return (b);

nomem:
	*cause = strdup("out of memory");
fail:
	if (b != NULL) {
		if (b->efd_ev != NULL)
			event_free(b->efd_ev);
		if (b->efd != -1)
			close(b->efd);
		if (b->delay_ev != NULL)
			event_free(b->delay_ev);
		if (b->inline_ev != NULL)
			event_free(b->inline_ev);
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
	batcher_stop(b, 3);
	free(b->cause);
	event_free(b->efd_ev);
	if (close(b->efd) == -1)
		log_warn("closing the flusher's eventfd: %s", strerror(errno));
	event_free(b->delay_ev);
	event_free(b->inline_ev);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->prep_cond);
	sem_destroy(&b->go);
	sem_destroy(&b->stamp_go);
	free(b);
}
