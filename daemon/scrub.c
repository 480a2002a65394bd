/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scrub.c: the sealed segments checked while walld runs, with the offline
 * checker's walk (wal_verify_run): every record's CRC, every header and
 * footer, and with walld's key ring every record's authentication.
 *
 * Two worker threads, so that the loop (and the appends) never waits on
 * a check: "online" answers VERIFY requests at full speed; "background"
 * makes a pass every scrub.interval, reading at most scrub.rate bytes a
 * second (it sleeps between chunks of 256 KiB). Each hands the loop its
 * result through an eventfd, as cursor.c's writer does. A check covers
 * the segments below the active one as the loop saw them when it began;
 * a segment that truncation takes away meanwhile is skipped
 * (wal_verify_run's live mode).
 *
 * Each problem is logged once (file, offset, LSN) at error level, however
 * many passes or requests meet it, and counted once in
 * damaged_records_total (with the records reads met: stream.c's ring).
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "cause.h"
#include "config.h"
#include "keyring.h"
#include "log.h"
#include "scrub.h"
#include "server-int.h"
#include "wal-reader.h"
#include "wal.h"
#include "wire.h"

#define SCRUB_FOUND_MAX		4096	/* problems one check keeps */
#define SCRUB_SEEN_MAX		65536	/* places logged, remembered */
#define SCRUB_WAIT_MAX		4096	/* VERIFY requests waiting */

/* One problem a check found. */
struct scrub_found {
	char		file[WIRE_VERIFY_FILE_MAX + 1];
	uint64_t	off;
	uint64_t	lsn;
	char		what[WIRE_VERIFY_WHAT_MAX + 1];
};

/* One check: set up by the loop, run by a worker, read back by the loop. */
struct scrub_job {
	struct scrub		*sc;
	int			 background;
	char			*dir;		/* the data directory, a copy */
	uint64_t		 below;		/* scrub_below's */
	struct keyring		*kr;		/* held; NULL: none */
	struct scrub_found	*found;
	size_t			 nfound;
	size_t			 capfound;
	struct wal_verify_result res;
	int			 rc;		/* wal_verify_run's */
	time_t			 started;
	/* The pacing (background only): bytes read since paced_from. */
	struct timespec		 paced_from;
	uint64_t		 paced_bytes;
	uint64_t		 paced_rate;
};

struct scrub_worker {
	struct scrub		*sc;
	const char		*name;
	pthread_t		 thread;
	int			 started;
	int			 efd;
	struct event		*ev;
	struct scrub_job	*job;		/* under sc->lock */
	int			 done;		/* the job is finished */
};

/* A VERIFY waiting for its answer. */
struct scrub_waiter {
	struct conn		*conn;
	uint64_t		 id;
};

struct scrub_waitq {
	struct scrub_waiter	*w;
	size_t			 n;
	size_t			 cap;
};

struct scrub_place {
	char			 file[WIRE_VERIFY_FILE_MAX + 1];
	uint64_t		 off;
	int			 used;
};

struct scrub {
	struct server		*srv;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;		/* jobs, stop, a new rate */
	int			 locks;		/* lock and cond made */
	int			 stop;
	uint64_t		 rate;		/* scrub.rate, under lock */
	uint64_t		 interval_us;	/* the timer's */
	struct scrub_worker	 online;
	struct scrub_worker	 background;
	struct event		*timer;		/* a background pass is due */
	int			 due;		/* one is, while one runs */
	struct scrub_waitq	 cur;		/* served by the online job */
	struct scrub_waitq	 next;		/* asked after it began */
	/* Counters (bytes under lock: the background worker adds). */
	uint64_t		 bytes;
	uint64_t		 passes;
	uint64_t		 incomplete;
	uint64_t		 last_complete;	/* unix seconds, 0: none */
	uint64_t		 damaged;	/* new places found by scrubs */
	uint64_t		 verifies;	/* VERIFY checks run */
	struct scrub_place	*seen;		/* places logged already: a
						   hash set (scrub_seen_add) */
	size_t			 nseen;
	size_t			 capseen;	/* slots, a power of 2 */
};

/* The walk's callback: keeps a problem (the first SCRUB_FOUND_MAX). */
static void
scrub_problem_cb(void *arg, const char *file, uint64_t off, uint64_t lsn,
    const char *what)
{
	struct scrub_job	*job = arg;
	struct scrub_found	*f;
	size_t			 cap;

	if (job->nfound == job->capfound) {
		if (job->capfound >= SCRUB_FOUND_MAX)
			return;
		cap = job->capfound == 0 ? 16 : job->capfound * 2;
		if ((f = reallocarray(job->found, cap, sizeof *f)) == NULL)
			return;	/* counted in res.problems all the same */
		job->found = f;
		job->capfound = cap;
	}
	f = &job->found[job->nfound++];
	snprintf(f->file, sizeof f->file, "%s", file);
	f->off = off;
	f->lsn = lsn;
	snprintf(f->what, sizeof f->what, "%s", what);
}

/* Adds ns to a time. */
static void
scrub_ts_add(struct timespec *ts, uint64_t ns)
{
	ts->tv_sec += (time_t)(ns / 1000000000u);
	ts->tv_nsec += (long)(ns % 1000000000u);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Counts the pacing from now, at rate. */
static void
scrub_pace_reset(struct scrub_job *job, uint64_t rate)
{
	if (clock_gettime(CLOCK_MONOTONIC, &job->paced_from) != 0)
		memset(&job->paced_from, 0, sizeof job->paced_from);
	job->paced_rate = rate;
	job->paced_bytes = 0;
}

/*
 * The walk's pacing callback. The background pass sleeps until the bytes
 * it has read, at scrub.rate, would have taken the time since the count
 * began (so a burst is paid for after it). Time it spent slower than the
 * rate (a busy disk) is no credit for a later burst: the count begins
 * again from now. A new rate begins it again too; a rate of 0 (scrub
 * turned off) or a stop ends the pass.
 */
static int
scrub_pace_cb(void *arg, uint64_t bytes)
{
	struct scrub_job	*job = arg;
	struct scrub		*sc = job->sc;
	struct timespec		 until, now;
	int			 e, stop = 0;

	pthread_mutex_lock(&sc->lock);
	if (!job->background) {
		stop = sc->stop;
		pthread_mutex_unlock(&sc->lock);
		return (stop);
	}
	sc->bytes += bytes;
	if (sc->stop || sc->rate == 0) {
		pthread_mutex_unlock(&sc->lock);
		return (1);
	}
	if (sc->rate != job->paced_rate)
		scrub_pace_reset(job, sc->rate);
	job->paced_bytes += bytes;
	until = job->paced_from;
	scrub_ts_add(&until, (uint64_t)((long double)job->paced_bytes * 1e9L /
	    (long double)job->paced_rate));
	if (clock_gettime(CLOCK_MONOTONIC, &now) == 0 &&
	    (until.tv_sec < now.tv_sec || (until.tv_sec == now.tv_sec &&
	    until.tv_nsec <= now.tv_nsec))) {
		/* Behind the rate already: no sleep, and no credit. */
		scrub_pace_reset(job, job->paced_rate);
		pthread_mutex_unlock(&sc->lock);
		return (0);
	}
	for (;;) {
		if (sc->stop || sc->rate == 0) {
			stop = 1;
			break;
		}
		if (sc->rate != job->paced_rate) {
			/* The next chunk is paced at the new rate. */
			scrub_pace_reset(job, sc->rate);
			break;
		}
		/* Woken early (a stop, a new rate, the other worker's job):
		   looked at again. */
		e = pthread_cond_timedwait(&sc->cond, &sc->lock, &until);
		if (e == ETIMEDOUT)
			break;
		if (e != 0 && e != EINTR)
			break;
	}
	pthread_mutex_unlock(&sc->lock);
	return (stop);
}

/* A worker: runs each job the loop hands it, then wakes the loop. */
static void *
scrub_worker_main(void *arg)
{
	struct scrub_worker	*wk = arg;
	struct scrub		*sc = wk->sc;
	struct scrub_job	*job;
	struct wal_verify_opts	 o;
	uint64_t		 one = 1;

	for (;;) {
		pthread_mutex_lock(&sc->lock);
		while ((wk->job == NULL || wk->done) && !sc->stop)
			pthread_cond_wait(&sc->cond, &sc->lock);
		if (sc->stop) {
			pthread_mutex_unlock(&sc->lock);
			return (NULL);
		}
		job = wk->job;
		pthread_mutex_unlock(&sc->lock);

		memset(&o, 0, sizeof o);
		o.keyring = job->kr;
		o.below = job->below;
		o.live = 1;
		o.problem_cb = scrub_problem_cb;
		o.pace_cb = scrub_pace_cb;
		o.arg = job;
		if (job->background) {
			pthread_mutex_lock(&sc->lock);
			scrub_pace_reset(job, sc->rate);
			pthread_mutex_unlock(&sc->lock);
		}
		job->rc = wal_verify_run(job->dir, &o, NULL, &job->res);

		pthread_mutex_lock(&sc->lock);
		wk->done = 1;
		pthread_mutex_unlock(&sc->lock);
		while (write(wk->efd, &one, sizeof one) != sizeof one) {
			if (errno != EINTR) {
				log_err("scrub: %s worker: waking the loop: %s",
				    wk->name, strerror(errno));
				break;
			}
		}
	}
}

/* FNV-1a over a place: its file name, then its offset. */
static size_t
scrub_place_hash(const char *file, uint64_t off)
{
	uint64_t	h = 14695981039346656037ull;
	int		i;

	for (; *file != '\0'; file++) {
		h ^= (unsigned char)*file;
		h *= 1099511628211ull;
	}
	for (i = 0; i < 8; i++) {
		h ^= (off >> (i * 8)) & 0xff;
		h *= 1099511628211ull;
	}
	return ((size_t)(h ^ (h >> 32)));
}

/* Doubles the set's slots (the loop thread: a moment per doubling). */
static void
scrub_seen_grow(struct scrub *sc)
{
	struct scrub_place	*t, *p;
	size_t			 cap, i, j;

	cap = sc->capseen == 0 ? 64 : sc->capseen * 2;
	if ((t = calloc(cap, sizeof *t)) == NULL)
		return;
	for (i = 0; i < sc->capseen; i++) {
		p = &sc->seen[i];
		if (!p->used)
			continue;
		for (j = scrub_place_hash(p->file, p->off) & (cap - 1);
		    t[j].used; j = (j + 1) & (cap - 1))
			;
		t[j] = *p;
	}
	free(sc->seen);
	sc->seen = t;
	sc->capseen = cap;
}

/* 1 when the place is not in the set of places logged (it is put in,
   while the set has fewer than SCRUB_SEEN_MAX: past that a place is
   logged each time it is met), 0 when it is. Open addressing, at most
   half full, so a lookup is a few probes. */
static int
scrub_seen_add(struct scrub *sc, const char *file, uint64_t off)
{
	struct scrub_place	*p;
	size_t			 j, mask;

	if ((sc->nseen + 1) * 2 > sc->capseen && sc->nseen < SCRUB_SEEN_MAX)
		scrub_seen_grow(sc);
	if (sc->capseen == 0)
		return (1);
	mask = sc->capseen - 1;
	for (j = scrub_place_hash(file, off) & mask; sc->seen[j].used;
	    j = (j + 1) & mask)
		if (sc->seen[j].off == off &&
		    strcmp(sc->seen[j].file, file) == 0)
			return (0);
	if ((sc->nseen + 1) * 2 > sc->capseen)
		return (1);
	p = &sc->seen[j];
	snprintf(p->file, sizeof p->file, "%s", file);
	p->off = off;
	p->used = 1;
	sc->nseen++;
	return (1);
}

/* 1 the first time a place is met (then it is logged and counted). */
static int
scrub_first_seen(struct scrub *sc, const struct scrub_found *f)
{
	struct server_counters	*k = &sc->srv->count;
	size_t			 i, n = sizeof k->damaged_seen /
				     sizeof k->damaged_seen[0];

	if (!scrub_seen_add(sc, f->file, f->off))
		return (0);
	/* Counted already when a read met it (stream.c's ring). */
	for (i = 0; i < n && i < k->damaged_next; i++)
		if (k->damaged_seen[i].off == f->off &&
		    strcmp(k->damaged_seen[i].file, f->file) == 0)
			return (1);
	i = k->damaged_next++ % n;
	snprintf(k->damaged_seen[i].file, sizeof k->damaged_seen[i].file,
	    "%s", f->file);
	k->damaged_seen[i].off = f->off;
	k->damaged++;
	return (1);
}

/* Logs and counts what a check found that no check had found before. */
static void
scrub_report(struct scrub *sc, struct scrub_job *job, const char *who)
{
	struct scrub_found	*f;
	size_t			 i;

	for (i = 0; i < job->nfound; i++) {
		f = &job->found[i];
		if (f->file[0] == '\0') {
			log_limited("scrub failed", LOG_LVL_ERR, "%s: %s", who,
			    f->what);
			continue;
		}
		if (!scrub_first_seen(sc, f))
			continue;
		sc->damaged++;
		log_err("%s: %s/%s: offset %llu: LSN %llu: %s", who,
		    sc->srv->cfg->data_dir, f->file, (unsigned long long)f->off,
		    (unsigned long long)f->lsn, f->what);
	}
}

/*
 * What a check covers (wal_verify_opts.below): the segments before the
 * first whose footer is not written and synced yet. Not the loop's active
 * segment: while a batch that ends a segment is being written, the loop
 * fills the next one already, and the footer is not on disk yet. When
 * every segment is sealed (the log's seal is durable, or a rotation has
 * not begun the next yet), the LSN after the last: a segment that appears
 * meanwhile is not checked. -1 when out of memory.
 */
static int
scrub_below(struct wal *w, uint64_t *below)
{
	struct wal_seginfo	*segs;
	size_t			 n, m, i;

	n = wal_segments(w, NULL, 0);
	if ((segs = calloc(n + 1, sizeof *segs)) == NULL)
		return (-1);
	m = wal_segments(w, segs, n + 1);
	if (m > n + 1)
		m = n + 1;
	*below = 1;			/* no segment: nothing to check */
	for (i = 0; i < m; i++) {
		if (!segs[i].sealed) {
			*below = segs[i].first;
			break;
		}
		*below = (segs[i].last > segs[i].first ? segs[i].last :
		    segs[i].first) + 1;
	}
	free(segs);
	return (0);
}

/* A new job: the sealed segments (scrub_below). */
static struct scrub_job *
scrub_job_create(struct scrub *sc, int background)
{
	struct server		*srv = sc->srv;
	struct scrub_job	*job;

	if ((job = calloc(1, sizeof *job)) == NULL)
		return (NULL);
	job->sc = sc;
	job->background = background;
	if ((job->dir = strdup(srv->cfg->data_dir)) == NULL ||
	    scrub_below(srv->wal, &job->below) != 0) {
		free(job->dir);
		free(job);
		return (NULL);
	}
	job->kr = keyring_hold(srv->keyring);
	job->started = time(NULL);
	return (job);
}

static void
scrub_job_free(struct scrub_job *job)
{
	if (job == NULL)
		return;
	keyring_free(job->kr);
	free(job->found);
	free(job->dir);
	free(job);
}

/* Hands wk a job; 0, or -1 when there is no memory for one. */
static int
scrub_worker_run(struct scrub_worker *wk, int background)
{
	struct scrub		*sc = wk->sc;
	struct scrub_job	*job;

	if ((job = scrub_job_create(sc, background)) == NULL)
		return (-1);
	pthread_mutex_lock(&sc->lock);
	wk->job = job;
	wk->done = 0;
	pthread_cond_broadcast(&sc->cond);
	pthread_mutex_unlock(&sc->lock);
	return (0);
}

/* Starts a background pass unless one runs (then the next is due). */
static void
scrub_pass_begin(struct scrub *sc)
{
	pthread_mutex_lock(&sc->lock);
	if (sc->background.job != NULL || sc->rate == 0) {
		sc->due = sc->rate != 0;
		pthread_mutex_unlock(&sc->lock);
		return;
	}
	pthread_mutex_unlock(&sc->lock);
	sc->due = 0;
	if (scrub_worker_run(&sc->background, 1) != 0)
		log_limited("scrub failed", LOG_LVL_ERR, "scrub: no memory to "
		    "begin a pass");
}

/* The timer: a pass is due. */
static void
scrub_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	scrub_pass_begin(arg);
}

/* The answer to one VERIFY, from the finished job. */
static void
scrub_answer(struct conn *c, uint64_t id, const struct scrub_job *job)
{
	struct wire_verify	 v;
	uint8_t			 hdr[WIRE_HDR_LEN], *body;
	size_t			 len, max, i, n;

	if (job->rc < 0) {
		conn_error(c, id, WIRE_E_INTERNAL, "verify: %s",
		    job->nfound > 0 ? job->found[0].what :
		    "the data directory cannot be read");
		return;
	}
	if (job->res.stopped) {
		conn_error(c, id, WIRE_E_SHUTTING_DOWN, "verify: walld is "
		    "stopping; the check was not finished");
		return;
	}
	max = WIRE_VERIFY_BODY_MAX;
	if (conn_max_frame(c) > WIRE_HDR_LEN + WIRE_VERIFY_FIXED &&
	    conn_max_frame(c) - WIRE_HDR_LEN < max)
		max = conn_max_frame(c) - WIRE_HDR_LEN;
	if ((body = malloc(max > WIRE_VERIFY_FIXED ? max :
	    WIRE_VERIFY_FIXED)) == NULL) {
		conn_error(c, id, WIRE_E_INTERNAL, "out of memory");
		return;
	}
	memset(&v, 0, sizeof v);
	len = WIRE_VERIFY_FIXED;
	for (i = 0; i < job->nfound; i++) {
		n = WIRE_VERIFY_ENT_FIXED + strlen(job->found[i].file) +
		    strlen(job->found[i].what);
		if (len + n > max)
			break;
		len += wire_put_verify_ent(body + len, job->found[i].off,
		    job->found[i].lsn, job->found[i].file, job->found[i].what);
		v.count++;
	}
	v.segments = job->res.segments;
	v.records = job->res.records;
	v.damaged = job->res.damaged;
	v.problems = job->res.problems;
	if (v.problems < v.count)
		v.problems = v.count;
	v.first_lsn = job->res.first_lsn;
	v.last_lsn = job->res.last_lsn;
	v.bytes = job->res.bytes;
	if (v.count < v.problems)
		v.flags |= WIRE_VERIFY_MORE;
	if (job->kr != NULL)
		v.flags |= WIRE_VERIFY_KEYS;
	wire_put_verify(body, &v);
	wire_enc_hdr(hdr, WIRE_OP_VERIFY | WIRE_REPLY, 0, id, len);
	conn_send(c, hdr, WIRE_HDR_LEN, body, len);
	free(body);
}

/* Lets go of a waiter's connection, answering it when it is still there
   and job is not NULL. */
static void
scrub_waiter_done(struct scrub_waiter *w, const struct scrub_job *job)
{
	struct conn	*c = w->conn;

	c->refs--;
	if (c->fd != -1 && job != NULL) {
		scrub_answer(c, w->id, job);
		conn_maybe_close(c);
	}
	conn_release(c);
}

/* The online worker finished: its waiters' answers; the next check. */
static void
scrub_online_done(struct scrub *sc, struct scrub_job *job)
{
	struct scrub_waitq	 q;
	size_t			 i;

	sc->verifies++;
	scrub_report(sc, job, "verify");
	log_info("verify: %llu sealed segments, %llu records, %llu problems",
	    (unsigned long long)job->res.segments,
	    (unsigned long long)job->res.records,
	    (unsigned long long)job->res.problems);
	q = sc->cur;
	sc->cur = sc->next;
	memset(&sc->next, 0, sizeof sc->next);
	for (i = 0; i < q.n; i++)
		scrub_waiter_done(&q.w[i], job);
	free(q.w);
	if (sc->cur.n > 0 && scrub_worker_run(&sc->online, 0) != 0) {
		for (i = 0; i < sc->cur.n; i++) {
			conn_error(sc->cur.w[i].conn, sc->cur.w[i].id,
			    WIRE_E_INTERNAL, "out of memory");
			scrub_waiter_done(&sc->cur.w[i], NULL);
		}
		sc->cur.n = 0;
	}
}

/* The background worker finished a pass (or stopped in one). */
static void
scrub_background_done(struct scrub *sc, struct scrub_job *job)
{
	scrub_report(sc, job, "scrub");
	if (job->rc < 0 || job->res.stopped) {
		sc->incomplete++;
		log_info("scrub: pass stopped before its end (%s)",
		    job->rc < 0 ? "the data directory cannot be read" :
		    "scrub.rate set to 0, or walld stopping");
		return;
	}
	sc->passes++;
	sc->last_complete = (uint64_t)time(NULL);
	log_info("scrub: pass complete: %llu sealed segments, %llu records, "
	    "%llu bytes, %llu problems, in %llu s",
	    (unsigned long long)job->res.segments,
	    (unsigned long long)job->res.records,
	    (unsigned long long)job->res.bytes,
	    (unsigned long long)job->res.problems,
	    (unsigned long long)(sc->last_complete - (uint64_t)job->started));
}

/* A worker's eventfd: its job is done. */
static void
scrub_efd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct scrub_worker	*wk = arg;
	struct scrub		*sc = wk->sc;
	struct scrub_job	*job = NULL;
	uint64_t		 v;

	(void)what;
	if (read(fd, &v, sizeof v) != sizeof v && errno != EAGAIN)
		log_err("scrub: reading the %s worker's eventfd: %s", wk->name,
		    strerror(errno));
	pthread_mutex_lock(&sc->lock);
	if (wk->job != NULL && wk->done) {
		job = wk->job;
		wk->job = NULL;
		wk->done = 0;
	}
	pthread_mutex_unlock(&sc->lock);
	if (job == NULL)
		return;
	if (wk == &sc->online)
		scrub_online_done(sc, job);
	else {
		scrub_background_done(sc, job);
		if (sc->due)
			scrub_pass_begin(sc);
	}
	scrub_job_free(job);
}

/* VERIFY (version 2; the access list's stats operation). */
void
scrub_request(struct conn *c, uint64_t id)
{
	struct scrub		*sc = c->srv->scrub;
	struct scrub_waitq	*q;
	struct scrub_waiter	*w;
	int			 idle;
	size_t			 cap;

	if (sc == NULL) {
		conn_error(c, id, WIRE_E_INTERNAL, "verify: not available");
		return;
	}
	pthread_mutex_lock(&sc->lock);
	idle = sc->online.job == NULL;
	pthread_mutex_unlock(&sc->lock);
	/* A check under way began before this request: wait for the next. */
	q = idle ? &sc->cur : &sc->next;
	if (sc->cur.n + sc->next.n >= SCRUB_WAIT_MAX) {
		conn_error(c, id, WIRE_E_BUSY, "verify: %u requests wait for "
		    "a check already; retry later", SCRUB_WAIT_MAX);
		return;
	}
	if (q->n == q->cap) {
		cap = q->cap == 0 ? 4 : q->cap * 2;
		if ((w = reallocarray(q->w, cap, sizeof *w)) == NULL) {
			conn_error(c, id, WIRE_E_INTERNAL, "out of memory");
			return;
		}
		q->w = w;
		q->cap = cap;
	}
	if (idle && scrub_worker_run(&sc->online, 0) != 0) {
		conn_error(c, id, WIRE_E_INTERNAL, "out of memory");
		return;
	}
	log_info("verify: asked by connection %llu (pid %ld, uid %ld)",
	    (unsigned long long)c->serial, (long)c->pid, (long)c->uid);
	q->w[q->n].conn = c;
	q->w[q->n].id = id;
	q->n++;
	c->refs++;
}

/* Arms the timer for scrub.interval; a pass at once when start. */
static int
scrub_arm(struct scrub *sc, int start)
{
	const struct config	*cfg = sc->srv->cfg;
	struct timeval		 tv;

	sc->interval_us = cfg->scrub_interval_us;
	if (sc->timer != NULL && event_del(sc->timer) != 0)
		return (-1);
	if (cfg->scrub_rate == 0)
		return (0);
	if (sc->timer == NULL && (sc->timer = event_new(sc->srv->base, -1,
	    EV_PERSIST, scrub_timer_cb, sc)) == NULL)
		return (-1);
	tv.tv_sec = (time_t)(cfg->scrub_interval_us / 1000000);
	tv.tv_usec = (suseconds_t)(cfg->scrub_interval_us % 1000000);
	if (event_add(sc->timer, &tv) != 0)
		return (-1);
	if (start)
		scrub_pass_begin(sc);
	return (0);
}

/* Starts one worker. */
static int
scrub_worker_start(struct scrub *sc, struct scrub_worker *wk,
    const char *name, char **cause)
{
	int	e;

	wk->sc = sc;
	wk->name = name;
	if ((wk->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		cause_set(cause, "scrub: eventfd: %s", strerror(errno));
		return (-1);
	}
	wk->ev = event_new(sc->srv->base, wk->efd, EV_READ | EV_PERSIST,
	    scrub_efd_cb, wk);
	if (wk->ev == NULL || event_add(wk->ev, NULL) != 0) {
		cause_set(cause, "scrub: cannot watch the %s worker", name);
		return (-1);
	}
	if ((e = pthread_create(&wk->thread, NULL, scrub_worker_main,
	    wk)) != 0) {
		cause_set(cause, "scrub: starting the %s worker: %s", name,
		    strerror(e));
		return (-1);
	}
	wk->started = 1;
	return (0);
}

int
scrub_start(struct server *srv, char **cause)
{
	struct scrub		*sc;
	pthread_condattr_t	 ca;
	int			 e;

	if ((sc = calloc(1, sizeof *sc)) == NULL) {
		cause_set(cause, "scrub: out of memory");
		return (-1);
	}
	sc->srv = srv;
	sc->online.efd = sc->background.efd = -1;
	srv->scrub = sc;
	if ((e = pthread_condattr_init(&ca)) != 0 ||
	    (e = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) != 0 ||
	    (e = pthread_cond_init(&sc->cond, &ca)) != 0) {
		cause_set(cause, "scrub: pthread init: %s", strerror(e));
		return (-1);
	}
	pthread_condattr_destroy(&ca);
	if ((e = pthread_mutex_init(&sc->lock, NULL)) != 0) {
		pthread_cond_destroy(&sc->cond);
		cause_set(cause, "scrub: pthread init: %s", strerror(e));
		return (-1);
	}
	sc->locks = 1;
	sc->rate = srv->cfg->scrub_rate;
	if (scrub_worker_start(sc, &sc->online, "online", cause) != 0 ||
	    scrub_worker_start(sc, &sc->background, "background", cause) != 0)
		return (-1);
	if (scrub_arm(sc, 1) != 0) {
		cause_set(cause, "scrub: cannot start the timer");
		return (-1);
	}
	if (sc->rate != 0)
		log_info("scrub: the sealed segments are checked every %llu s "
		    "at %llu bytes/s", (unsigned long long)
		    (srv->cfg->scrub_interval_us / 1000000),
		    (unsigned long long)sc->rate);
	return (0);
}

void
scrub_reconfigure(struct server *srv)
{
	struct scrub	*sc = srv->scrub;
	uint64_t	 old;

	if (sc == NULL)
		return;
	if (sc->rate == srv->cfg->scrub_rate &&
	    sc->interval_us == srv->cfg->scrub_interval_us)
		return;
	pthread_mutex_lock(&sc->lock);
	old = sc->rate;
	sc->rate = srv->cfg->scrub_rate;
	pthread_cond_broadcast(&sc->cond);
	pthread_mutex_unlock(&sc->lock);
	/* A pass begins at once when scrubbing was off. */
	if (scrub_arm(sc, old == 0) != 0)
		log_err("scrub: cannot re-arm the timer; background passes "
		    "stop until a restart");
	if (old != srv->cfg->scrub_rate)
		log_info("scrub: rate %llu bytes/s (was %llu)%s",
		    (unsigned long long)srv->cfg->scrub_rate,
		    (unsigned long long)old, srv->cfg->scrub_rate == 0 ?
		    ": background scrub off" : "");
}

/* Stops a worker's thread (the stop flag is set) and frees its job. */
static void
scrub_worker_stop(struct scrub_worker *wk)
{
	if (wk->started && pthread_join(wk->thread, NULL) != 0)
		log_err("scrub: cannot join the %s worker", wk->name);
	wk->started = 0;
	scrub_job_free(wk->job);
	wk->job = NULL;
	if (wk->ev != NULL)
		event_free(wk->ev);
	wk->ev = NULL;
	if (wk->efd != -1 && close(wk->efd) != 0)
		log_debug("scrub: close: %s", strerror(errno));
	wk->efd = -1;
}

void
scrub_stop(struct server *srv)
{
	struct scrub	*sc = srv->scrub;
	size_t		 i;

	if (sc == NULL)
		return;
	if (sc->locks) {
		pthread_mutex_lock(&sc->lock);
		sc->stop = 1;
		pthread_cond_broadcast(&sc->cond);
		pthread_mutex_unlock(&sc->lock);
	}
	scrub_worker_stop(&sc->online);
	scrub_worker_stop(&sc->background);
	for (i = 0; i < sc->cur.n; i++)
		scrub_waiter_done(&sc->cur.w[i], NULL);
	for (i = 0; i < sc->next.n; i++)
		scrub_waiter_done(&sc->next.w[i], NULL);
	free(sc->cur.w);
	free(sc->next.w);
	if (sc->timer != NULL)
		event_free(sc->timer);
	if (sc->locks) {
		pthread_mutex_destroy(&sc->lock);
		pthread_cond_destroy(&sc->cond);
	}
	free(sc->seen);
	free(sc);
	srv->scrub = NULL;
}

void
scrub_stats(struct server *srv, struct evbuffer *eb)
{
	struct scrub	*sc = srv->scrub;
	uint64_t	 bytes = 0;

	if (sc != NULL) {
		pthread_mutex_lock(&sc->lock);
		bytes = sc->bytes;
		pthread_mutex_unlock(&sc->lock);
	}
	evbuffer_add_printf(eb, "scrub_last_complete %llu\n",
	    (unsigned long long)(sc != NULL ? sc->last_complete : 0));
	evbuffer_add_printf(eb, "scrub_bytes_total %llu\n",
	    (unsigned long long)bytes);
	evbuffer_add_printf(eb, "scrub_passes_total %llu\n",
	    (unsigned long long)(sc != NULL ? sc->passes : 0));
	evbuffer_add_printf(eb, "scrub_problems_total %llu\n",
	    (unsigned long long)(sc != NULL ? sc->damaged : 0));
	evbuffer_add_printf(eb, "verify_requests_total %llu\n",
	    (unsigned long long)(sc != NULL ? sc->verifies : 0));
}

/* at_start's callback: each problem logged as it is found. */
static void
scrub_at_start_cb(void *arg, const char *file, uint64_t off, uint64_t lsn,
    const char *what)
{
	const char	*dir = arg;

	if (file[0] == '\0')
		log_err("scrub.at_start: %s", what);
	else
		log_err("scrub.at_start: %s/%s: offset %llu: LSN %llu: %s",
		    dir, file, (unsigned long long)off,
		    (unsigned long long)lsn, what);
}

int
scrub_at_start(struct wal *w, const char *dir, struct keyring *kr,
    char **cause)
{
	struct wal_verify_opts	 o;
	struct wal_verify_result res;
	time_t			 t0 = time(NULL);
	int			 n;

	memset(&o, 0, sizeof o);
	o.keyring = kr;
	if (scrub_below(w, &o.below) != 0) {
		cause_set(cause, "scrub.at_start: out of memory");
		return (-1);
	}
	o.problem_cb = scrub_at_start_cb;
	o.arg = (void *)(uintptr_t)dir;
	log_info("scrub.at_start: checking the sealed segments of %s", dir);
	if ((n = wal_verify_run(dir, &o, NULL, &res)) < 0) {
		cause_set(cause, "scrub.at_start: %s cannot be read", dir);
		return (-1);
	}
	log_info("scrub.at_start: %llu sealed segments, %llu records, "
	    "%llu bytes, %d problems, in %llu s",
	    (unsigned long long)res.segments, (unsigned long long)res.records,
	    (unsigned long long)res.bytes, n,
	    (unsigned long long)(time(NULL) - t0));
	return (n);
}
