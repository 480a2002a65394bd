/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replica.c: the replicator thread (replica.h, docs/REPLICATION.md). It
 * reads durable records from the segment files with a raw reader and
 * publishes them, in LSN order, with JetStream's asynchronous publish;
 * the NATS library's thread calls replica_ack_cb with each answer. Every
 * message expects the sequence of the one before it as the stream's last
 * (the expected-last-sequence check), so a message lands only right after
 * its predecessor: a gap or a second writer makes the stream refuse it, and
 * the thread then asks the stream where it stands and resumes there
 * (replica_resync), or stops for good when another walld owns the log.
 *
 * Who touches what: the thread owns the connection, the reader and the
 * publishing side; the ack callback owns acked/lsn (atomics) and sets
 * `failed`; the loop calls replica_durable (under lock) and reads the
 * atomics. notify_fd is written once per batch of changes (notified).
 */
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "cause.h"
#include "config.h"
#include "log.h"
#include "replica.h"
#include "replmsg.h"
#include "wal-reader.h"

#define REPLICA_MAX_SERVERS	32
#define REPLICA_RETRY_MS	1000	/* between connection attempts */
#define REPLICA_HEADROOM	1024	/* headers beyond max_record */
#define REPLICA_CLOSE_MS	5000	/* for the library's threads to end */

const uint64_t replica_bucket_us[REPLICA_NBUCKETS] = {
	250, 500, 1000, 2000, 5000, 10000, 50000, 1000000
};

struct replica {
	/* Fixed at start. */
	char		*dir;
	char		*servers;
	char		*stream;
	char		*prefix;
	char		*creds, *user, *password, *token, *tls_ca;
	int		 replicas;
	uint32_t	 window;	/* messages in flight, at most */
	uint32_t	 slots;		/* window rounded up to a power of 2 */
	uint64_t	 timeout_us;
	uint32_t	 max_record;
	uint64_t	 start_durable;	/* the durable LSN at start */
	int		 notify_fd;
	struct repl_ident ident;
	pthread_t	 thread;

	/* Under lock: what the loop says, and the last error's text. */
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	uint64_t	 durable;
	int		 stop;
	char		 error[REPLICA_WHY_SIZE];

	/* Atomics. */
	uint64_t	 lsn;		/* replicated LSN */
	int		 state;		/* enum replica_state */
	int		 failed;	/* the ack callback met an error */
	int		 notified;	/* notify_fd written, not yet read */
	int		 synced;	/* a resync has succeeded */
	uint64_t	 published, acked, acked_bytes, errors, resyncs;
	uint64_t	 lat_count, lat_sum_us;
	uint64_t	 lat_le[REPLICA_NBUCKETS + 1];
	uint64_t	*sent_us;	/* by LSN % slots: when it was sent */

	/* The thread's. */
	natsOptions	*opts;
	natsConnection	*nc;
	jsCtx		*js;
	int		 js_used;	/* js took an async publish */
	struct wal_reader *rd;
	uint64_t	 next;		/* LSN to publish next */
	uint64_t	 last_seq;	/* the stream's last sequence, as the
					   next message expects it; 0: none */
};

/* Microseconds on the monotonic clock. */
static uint64_t
replica_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* Tells the loop that something changed, once until it has looked. */
static void
replica_notify(struct replica *r)
{
	uint64_t	one = 1;

	if (__atomic_exchange_n(&r->notified, 1, __ATOMIC_SEQ_CST))
		return;
	if (write(r->notify_fd, &one, sizeof one) != (ssize_t)sizeof one)
		log_err("replication: waking the loop: %s", strerror(errno));
}

static void
replica_set_state(struct replica *r, enum replica_state st)
{
	if (__atomic_exchange_n(&r->state, (int)st, __ATOMIC_ACQ_REL) !=
	    (int)st)
		replica_notify(r);
}

/* Records the last error (and counts it); logged by the caller. */
static void __attribute__((format(printf, 2, 3)))
replica_error(struct replica *r, const char *fmt, ...)
{
	va_list	ap;

	pthread_mutex_lock(&r->lock);
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&r->lock);
	__atomic_fetch_add(&r->errors, 1, __ATOMIC_RELAXED);
}

/*
 * A failed call of the NATS library in words: its status, what the
 * library last said on this thread when that says more ("Error" alone
 * does not tell a stream without quorum from a server out of storage),
 * and JetStream's error code when the server gave one.
 */
static const char *
replica_why(natsStatus s, jsErrCode jerr, char *buf, size_t len)
{
	const char	*st = natsStatus_GetText(s), *last;
	natsStatus	 ls = NATS_OK;
	int		 n;

	/* The thread's last error is this failure's only when its status
	   is the one returned: else it may be an older one's. */
	last = nats_GetLastError(&ls);
	if (ls == s && last != NULL && last[0] != '\0' &&
	    strcmp(last, st) != 0)
		n = snprintf(buf, len, "%s: %s", st, last);
	else
		n = snprintf(buf, len, "%s", st);
	if (jerr != 0 && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " (JetStream error %d)",
		    (int)jerr);
	return (buf);
}

/* Adds one publish-to-ack time to the histogram. */
static void
replica_latency(struct replica *r, uint64_t us)
{
	size_t	i;

	__atomic_fetch_add(&r->lat_count, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&r->lat_sum_us, us, __ATOMIC_RELAXED);
	for (i = 0; i < REPLICA_NBUCKETS && us > replica_bucket_us[i]; i++)
		;
	__atomic_fetch_add(&r->lat_le[i], 1, __ATOMIC_RELAXED);
}

/*
 * The NATS library's thread: the stream's answer to one message. Acks
 * come in publishing order on the one connection; an ack that is not for
 * the next LSN, or any error, fails the run of publishes, which the
 * thread then resyncs from the stream.
 */
static void
replica_ack_cb(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
    void *arg)
{
	struct replica		*r = arg;
	struct repl_ident	 id;
	uint64_t		 lsn, acked;
	int			 more;

	(void)js;
	/* A "duplicate" with no sequence says the stream holds nothing for
	   it (nats-server 2.10 answers a retried publish so): a failure. */
	if (pae != NULL || pa == NULL || (pa->Duplicate && pa->Sequence == 0) ||
	    replmsg_lsn(msg, &lsn, &id) != 0) {
		/* The text, when it is not the status's own again. */
		more = pae != NULL && pae->ErrText != NULL &&
		    strcmp(pae->ErrText, natsStatus_GetText(pae->Err)) != 0;
		if (!__atomic_exchange_n(&r->failed, 1, __ATOMIC_ACQ_REL))
			replica_error(r, "publish: %s%s%s", pae != NULL ?
			    natsStatus_GetText(pae->Err) : "no answer",
			    more ? ": " : "", more ? pae->ErrText : "");
		natsMsg_Destroy(msg);
		return;
	}
	acked = __atomic_load_n(&r->lsn, __ATOMIC_ACQUIRE);
	if (lsn == acked + 1 && !__atomic_load_n(&r->failed,
	    __ATOMIC_ACQUIRE)) {
		replica_latency(r, replica_now_us() -
		    r->sent_us[lsn & (r->slots - 1)]);
		__atomic_fetch_add(&r->acked, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&r->acked_bytes,
		    (uint64_t)natsMsg_GetDataLength(msg), __ATOMIC_RELAXED);
		__atomic_store_n(&r->lsn, lsn, __ATOMIC_SEQ_CST);
		replica_notify(r);
	} else if (lsn > acked + 1 &&
	    !__atomic_exchange_n(&r->failed, 1, __ATOMIC_ACQ_REL))
		replica_error(r, "publish: acknowledgement for LSN %" PRIu64
		    " while LSN %" PRIu64 " is not acknowledged", lsn,
		    acked + 1);
	natsMsg_Destroy(msg);
}

static void
replica_disconnected_cb(natsConnection *nc, void *arg)
{
	struct replica	*r = arg;

	(void)nc;
	if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) == REPLICA_RUNNING)
		replica_set_state(r, REPLICA_CONNECTING);
}

/* Waits up to ms, or until a stop or (next > 0) until the durable LSN
   reaches next; 1 when stopping. *durable is the durable LSN then. */
static int
replica_wait(struct replica *r, uint64_t ms, uint64_t next, uint64_t *durable)
{
	struct timespec	ts;
	int		stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&r->lock);
	while (!r->stop && (next == 0 || r->durable < next) &&
	    pthread_cond_timedwait(&r->cond, &r->lock, &ts) == 0)
		;
	stop = r->stop;
	if (durable != NULL)
		*durable = r->durable;
	pthread_mutex_unlock(&r->lock);
	return (stop);
}

/* Waits up to ms, or until a stop: 1 when stopping. */
static int
replica_sleep(struct replica *r, uint64_t ms)
{
	return (replica_wait(r, ms, 0, NULL));
}

/* Drops the connection and everything in flight. */
static void
replica_disconnect(struct replica *r)
{
	natsMsgList	pending;
	jsPubOptions	po;
	int		i;

	if (r->js != NULL) {
		jsPubOptions_Init(&po);
		po.MaxWait = 1000;
		(void)js_PublishAsyncComplete(r->js, &po);
		/* The library makes a context's list of pending messages at
		   its first async publish, and js_PublishAsyncGetPendingList
		   reads it without checking (nats.c 3.4.1): on a context that
		   never published, as after a resync that failed right after
		   connecting, it would crash. */
		if (r->js_used && js_PublishAsyncGetPendingList(&pending,
		    r->js) == NATS_OK) {
			for (i = 0; i < pending.Count; i++)
				natsMsg_Destroy(pending.Msgs[i]);
			free(pending.Msgs);
		}
		jsCtx_Destroy(r->js);
		r->js = NULL;
		r->js_used = 0;
	}
	if (r->nc != NULL) {
		natsConnection_Destroy(r->nc);
		r->nc = NULL;
	}
}

/* Connects and makes the JetStream context. 0, or -1 (error recorded). */
static int
replica_connect(struct replica *r)
{
	jsOptions	jo;
	natsStatus	s;
	int64_t		maxp;

	s = natsConnection_Connect(&r->nc, r->opts);
	if (s != NATS_OK) {
		replica_error(r, "connect to %s: %s", r->servers,
		    natsStatus_GetText(s));
		r->nc = NULL;
		return (-1);
	}
	maxp = natsConnection_GetMaxPayload(r->nc);
	if (maxp < (int64_t)r->max_record + REPLICA_HEADROOM) {
		replica_error(r, "the NATS servers' max_payload is %" PRId64
		    " bytes, below limits.max_record (%u) + %u: raise "
		    "max_payload in the NATS servers' configuration", maxp,
		    r->max_record, REPLICA_HEADROOM);
		replica_disconnect(r);
		return (-1);
	}
	jsOptions_Init(&jo);
	jo.Wait = (int64_t)(r->timeout_us / 1000);
	jo.PublishAsync.MaxPending = r->window;
	jo.PublishAsync.AckHandler = replica_ack_cb;
	jo.PublishAsync.AckHandlerClosure = r;
	jo.PublishAsync.StallWait = 100;
	s = natsConnection_JetStream(&r->js, r->nc, &jo);
	if (s != NATS_OK) {
		replica_error(r, "JetStream context: %s",
		    natsStatus_GetText(s));
		replica_disconnect(r);
		return (-1);
	}
	return (0);
}

/* Makes sure the stream exists as configured. 0, -1 (retry), -2 (never). */
static int
replica_stream(struct replica *r, jsStreamInfo **si)
{
	jsStreamConfig	 sc;
	jsErrCode	 jerr = 0;
	char		 subj[REPL_SUBJECT_SIZE], why[REPLICA_WHY_SIZE];
	const char	*subjects[1] = { subj };
	natsStatus	 s;

	snprintf(subj, sizeof subj, "%s.>", r->prefix);
	s = js_GetStreamInfo(si, r->js, r->stream, NULL, &jerr);
	if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
		jsStreamConfig_Init(&sc);
		sc.Name = r->stream;
		sc.Subjects = subjects;
		sc.SubjectsLen = 1;
		sc.Storage = js_FileStorage;
		sc.Replicas = r->replicas;
		sc.MaxMsgSize = (int32_t)(r->max_record + REPLICA_HEADROOM);
		sc.DenyDelete = true;
		s = js_AddStream(si, r->js, &sc, NULL, &jerr);
		if (s != NATS_OK) {
			replica_error(r, "creating stream %s: %s", r->stream,
			    replica_why(s, jerr, why, sizeof why));
			return (-1);
		}
		log_info("replication: created stream %s (subjects %s, %d "
		    "replicas)", r->stream, subj, r->replicas);
		return (0);
	}
	if (s != NATS_OK) {
		replica_error(r, "stream %s: %s", r->stream,
		    replica_why(s, jerr, why, sizeof why));
		return (-1);
	}
	if ((*si)->Config->SubjectsLen != 1 ||
	    strcmp((*si)->Config->Subjects[0], subj) != 0) {
		replica_error(r, "stream %s exists with other subjects than "
		    "%s: not this log's stream (replication.stream, "
		    "replication.subject_prefix)", r->stream, subj);
		jsStreamInfo_Destroy(*si);
		*si = NULL;
		return (-2);
	}
	if ((*si)->Config->Replicas != r->replicas)
		log_warn("replication: stream %s has %" PRId64 " replicas, "
		    "replication.replicas says %d: the stream's count holds",
		    r->stream, (*si)->Config->Replicas, r->replicas);
	return (0);
}

/*
 * Opens the reader at lsn, the LSN of the stream's last message (last),
 * and checks that last is this directory's record there: the same record
 * header, stored payload and segment (its 16-byte id). A walld that took
 * the stream over publishes its first message after its own copy of that
 * record, so this holds for a restored directory too. When it does not,
 * the stream went on without this directory (another walld of this log,
 * of which this directory is an older copy, published there), and
 * publishing after it would fork the log. 0 (the reader is past lsn, or
 * NULL when lsn is truncated away here: nothing to compare), -1 to retry,
 * -2 never to publish.
 */
static int
replica_check_last(struct replica *r, natsMsg *last, uint64_t lsn,
    uint64_t epoch)
{
	struct wal_record	 mine, theirs;
	struct wal_segmeta	 seg;
	struct repl_ident	 id;
	char			*cause = NULL;
	int			 k;

	if (replmsg_decode(last, &theirs, &seg, &id, &cause) != 0) {
		replica_error(r, "stream %s: its last message (LSN %" PRIu64
		    "): %s: refusing to publish after it", r->stream, lsn,
		    cause != NULL ? cause : "out of memory");
		free(cause);
		return (-2);
	}
	if ((r->rd = wal_reader_open_raw(r->dir, lsn, NULL, &cause)) ==
	    NULL) {
		free(cause);	/* below the first LSN here: truncated */
		return (0);
	}
	wal_reader_durable(r->rd);
	k = wal_reader_next(r->rd, lsn, &mine, &cause);
	if (k != 1 || mine.lsn != lsn) {
		replica_error(r, "reading LSN %" PRIu64 ": %s", lsn,
		    k < 0 && cause != NULL ? cause : "not found");
		free(cause);
		return (-1);
	}
	if (mine.batch_lsn == theirs.batch_lsn && mine.type == theirs.type &&
	    mine.tenant == theirs.tenant && mine.vshard == theirs.vshard &&
	    mine.len == theirs.len && memcmp(mine.payload, theirs.payload,
	    mine.len) == 0 && mine.seg->key_id == seg.key_id &&
	    memcmp(mine.seg->id, seg.id, sizeof seg.id) == 0)
		return (0);
	replica_error(r, "stream %s: its last message, LSN %" PRIu64 " of "
	    "epoch %" PRIu64 ", is not this directory's record at LSN %"
	    PRIu64 ": refusing to publish after it", r->stream, lsn, epoch,
	    lsn);
	log_err("replication: stream %s went on without this directory: "
	    "another walld of this log (the one this directory was restored "
	    "from, or another copy of it) published LSN %" PRIu64 " there; "
	    "publishing after it would fork the log. To go on with the "
	    "stream's history, restore from it (walctl restore)", r->stream,
	    lsn);
	return (-2);
}

/*
 * Asks the stream where it stands and positions the reader after its last
 * message (docs/REPLICATION.md, "What walld does"). 0; -1 to retry later;
 * -2 when this walld must never publish into the stream (fenced, or not
 * this log's stream).
 */
static int
replica_resync(struct replica *r)
{
	jsStreamInfo		*si = NULL;
	natsMsg			*last = NULL;
	struct repl_ident	 id;
	jsErrCode		 jerr = 0;
	natsStatus		 s;
	uint64_t		 lsn = 0, durable;
	char			*cause = NULL, why[REPLICA_WHY_SIZE];
	int			 rc;

	__atomic_fetch_add(&r->resyncs, 1, __ATOMIC_RELAXED);
	if ((rc = replica_stream(r, &si)) != 0)
		return (rc);
	if (si->State.LastSeq > 0) {
		s = js_GetMsg(&last, r->js, r->stream, si->State.LastSeq, NULL,
		    &jerr);
		if (s != NATS_OK) {
			replica_error(r, "stream %s: reading its last message "
			    "(%" PRIu64 "): %s", r->stream, si->State.LastSeq,
			    replica_why(s, jerr, why, sizeof why));
			jsStreamInfo_Destroy(si);
			return (-1);
		}
		rc = replmsg_lsn(last, &lsn, &id);
		r->last_seq = si->State.LastSeq;
		if (rc != 0 || strcmp(id.log_id, r->ident.log_id) != 0) {
			replica_error(r, "stream %s: its last message is not "
			    "this log's (log %s): refusing to publish into it",
			    r->stream, r->ident.log_id);
			natsMsg_Destroy(last);
			jsStreamInfo_Destroy(si);
			return (-2);
		}
		pthread_mutex_lock(&r->lock);
		durable = r->durable;
		pthread_mutex_unlock(&r->lock);
		if (id.epoch > r->ident.epoch) {
			replica_set_state(r, REPLICA_FENCED);
			replica_error(r, "stream %s: epoch %" PRIu64 " of this "
			    "log published LSN %" PRIu64 " (this walld is "
			    "epoch %" PRIu64 "): the log was taken over "
			    "elsewhere; this walld is fenced and publishes "
			    "nothing more", r->stream, id.epoch, lsn,
			    r->ident.epoch);
			natsMsg_Destroy(last);
			jsStreamInfo_Destroy(si);
			return (-2);
		}
		if (lsn > durable) {
			replica_error(r, "stream %s holds LSN %" PRIu64 " of "
			    "this log (epoch %" PRIu64 "), beyond its durable "
			    "LSN %" PRIu64 " here: the stream is ahead of this "
			    "directory; restore from the stream (walctl "
			    "restore)", r->stream, lsn, id.epoch, durable);
			natsMsg_Destroy(last);
			jsStreamInfo_Destroy(si);
			return (-2);
		}
	} else
		r->last_seq = 0;
	jsStreamInfo_Destroy(si);

	wal_reader_close(r->rd);
	r->rd = NULL;
	if (last != NULL) {
		rc = replica_check_last(r, last, lsn, id.epoch);
		natsMsg_Destroy(last);
		if (rc != 0)
			return (rc);
	}
	if (r->rd == NULL)
		r->rd = wal_reader_open_raw(r->dir, lsn + (lsn > 0), NULL,
		    &cause);
	if (r->rd == NULL) {
		replica_error(r, "reading the log from LSN %" PRIu64 ": %s",
		    lsn + 1, cause != NULL ? cause : "out of memory");
		free(cause);
		return (-1);
	}
	wal_reader_durable(r->rd);
	r->next = lsn + 1;
	__atomic_store_n(&r->lsn, lsn, __ATOMIC_RELEASE);
	__atomic_store_n(&r->synced, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&r->failed, 0, __ATOMIC_RELEASE);
	replica_notify(r);
	return (0);
}

/*
 * Publishes what is durable and not yet published, up to the window
 * (js_PublishMsgAsync stalls while it is full). 0 while all is well, -1
 * when the run must be resynced, 1 when stopping.
 */
static int
replica_publish(struct replica *r, uint64_t durable)
{
	struct wal_record	 rec;
	jsPubOptions		 po;
	natsMsg			*msg = NULL;
	natsStatus		 s;
	char			*cause = NULL;
	int			 k;

	while (r->next <= durable) {
		if (__atomic_load_n(&r->failed, __ATOMIC_ACQUIRE))
			return (-1);
		k = wal_reader_next(r->rd, durable, &rec, &cause);
		if (k == 0)
			return (0);
		if (k < 0) {
			replica_error(r, "reading LSN %" PRIu64 ": %s",
			    r->next, cause != NULL ? cause : "failed");
			free(cause);
			return (-1);
		}
		if (replmsg_encode(&msg, r->prefix, &r->ident, &rec,
		    &cause) != 0) {
			replica_error(r, "%s", cause != NULL ? cause :
			    "out of memory");
			free(cause);
			return (-1);
		}
		/* The expected last sequence, not the expected last message
		   id: nats-server keeps the last id in memory, and after a
		   restart recovers it only when the last message is within
		   the de-duplication window (2.9.10 to 2.12): past that,
		   every publish expecting an id would be refused, for good.
		   A sequence the stream always knows. */
		jsPubOptions_Init(&po);
		po.ExpectLastSeq = r->last_seq;	/* 0: an empty stream */
		r->sent_us[rec.lsn & (r->slots - 1)] = replica_now_us();
		for (;;) {
			s = js_PublishMsgAsync(r->js, &msg, &po);
			if (s != NATS_TIMEOUT)
				break;
			/* The window is full: wait for acks, or give up on
			   a stream that no longer answers. */
			if (__atomic_load_n(&r->failed, __ATOMIC_ACQUIRE) ||
			    replica_sleep(r, 0)) {
				natsMsg_Destroy(msg);
				return (-1);
			}
			if (replica_now_us() - r->sent_us[(__atomic_load_n(
			    &r->lsn, __ATOMIC_ACQUIRE) + 1) & (r->slots - 1)] >
			    r->timeout_us) {
				natsMsg_Destroy(msg);
				replica_error(r, "publish: no acknowledgement "
				    "within replication.timeout");
				return (-1);
			}
		}
		natsMsg_Destroy(msg);	/* only if not taken */
		if (s != NATS_OK) {
			replica_error(r, "publish LSN %" PRIu64 ": %s",
			    rec.lsn, natsStatus_GetText(s));
			return (-1);
		}
		r->js_used = 1;
		r->last_seq++;
		r->next = rec.lsn + 1;
		__atomic_fetch_add(&r->published, 1, __ATOMIC_RELAXED);
	}
	return (0);
}

/* 1 when the oldest message in flight has waited past the timeout. */
static int
replica_stalled(struct replica *r)
{
	uint64_t	acked = __atomic_load_n(&r->lsn, __ATOMIC_ACQUIRE);

	return (acked + 1 < r->next && replica_now_us() -
	    r->sent_us[(acked + 1) & (r->slots - 1)] > r->timeout_us);
}

/* The thread: connect, resync, publish; on any failure, start over. */
static void *
replica_main(void *arg)
{
	struct replica	*r = arg;
	uint64_t	 durable;
	int		 rc, logged = 0;
	char		 err[REPLICA_WHY_SIZE];

	for (;;) {
		if (r->nc == NULL && replica_connect(r) != 0)
			goto retry;
		if ((rc = replica_resync(r)) == -2)
			break;
		if (rc != 0)
			goto retry;
		if (logged)
			log_info("replication: stream %s: publishing again "
			    "from LSN %" PRIu64, r->stream, r->next);
		else
			log_info("replication: stream %s on %s: publishing "
			    "from LSN %" PRIu64, r->stream, r->servers,
			    r->next);
		logged = 0;
		replica_set_state(r, REPLICA_RUNNING);
		pthread_mutex_lock(&r->lock);
		durable = r->durable;
		pthread_mutex_unlock(&r->lock);
		for (;;) {
			if ((rc = replica_publish(r, durable)) != 0 ||
			    replica_stalled(r))
				break;
			/* Caught up: until more is durable (or 100 ms, to
			   look at acks that stopped coming). */
			if (replica_wait(r, 100, r->next, &durable))
				goto out;
		}
		if (!__atomic_load_n(&r->failed, __ATOMIC_ACQUIRE) &&
		    replica_stalled(r))
			replica_error(r, "publish: no acknowledgement within "
			    "replication.timeout");
retry:
		if (replica_state(r) != REPLICA_CONNECTING)
			replica_set_state(r, REPLICA_CONNECTING);
		pthread_mutex_lock(&r->lock);
		snprintf(err, sizeof err, "%s", r->error);
		pthread_mutex_unlock(&r->lock);
		if (!logged) {
			log_warn("replication: %s; retrying every %d ms, "
			    "appends waiting for replication wait", err,
			    REPLICA_RETRY_MS);
			logged = 1;
		}
		/* A connection that failed mid-run is dropped; messages in
		   flight are published again after the resync. */
		if (r->nc != NULL && natsConnection_Status(r->nc) !=
		    NATS_CONN_STATUS_CONNECTED)
			replica_disconnect(r);
		else if (r->js != NULL)
			replica_disconnect(r);
		if (replica_sleep(r, REPLICA_RETRY_MS))
			goto out;
	}
	/* Fenced or refused: say so once, loudly, and publish nothing. */
	pthread_mutex_lock(&r->lock);
	snprintf(err, sizeof err, "%s", r->error);
	pthread_mutex_unlock(&r->lock);
	if (replica_state(r) != REPLICA_FENCED)
		replica_set_state(r, REPLICA_REFUSED);
	log_err("replication: %s", err);
	replica_disconnect(r);
	while (!replica_sleep(r, 60000))
		;
out:
	replica_disconnect(r);
	return (NULL);
}

/* Sets the connection options from the configuration. 0, or -1. */
static int
replica_options(struct replica *r, char **cause)
{
	const char	*urls[REPLICA_MAX_SERVERS];
	char		*list, *save = NULL, *u;
	int		 n = 0;
	natsStatus	 s;

	if ((list = strdup(r->servers)) == NULL) {
		cause_set(cause, "replication: %s", strerror(errno));
		return (-1);
	}
	for (u = strtok_r(list, ",", &save); u != NULL && n <
	    REPLICA_MAX_SERVERS; u = strtok_r(NULL, ",", &save))
		urls[n++] = u;
	s = natsOptions_Create(&r->opts);
	if (s == NATS_OK)
		s = natsOptions_SetServers(r->opts, urls, n);
	if (s == NATS_OK)
		s = natsOptions_SetName(r->opts, "walld");
	/* Each publish written at once: libnats's flusher otherwise waits a
	   millisecond to gather more, which a replicated acknowledgement
	   would wait too (BENCHMARKS.md, replication). */
	if (s == NATS_OK)
		s = natsOptions_SetSendAsap(r->opts, true);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(r->opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(r->opts, 250);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(r->opts, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(r->opts,
		    replica_disconnected_cb, r);
	if (s == NATS_OK && r->creds != NULL)
		s = natsOptions_SetUserCredentialsFromFiles(r->opts, r->creds,
		    NULL);
	if (s == NATS_OK && r->user != NULL)
		s = natsOptions_SetUserInfo(r->opts, r->user, r->password);
	if (s == NATS_OK && r->token != NULL)
		s = natsOptions_SetToken(r->opts, r->token);
	if (s == NATS_OK && r->tls_ca != NULL) {
		s = natsOptions_LoadCATrustedCertificates(r->opts, r->tls_ca);
		if (s == NATS_OK)
			s = natsOptions_SetSecure(r->opts, true);
	}
	free(list);
	if (s != NATS_OK) {
		cause_set(cause, "replication: NATS options: %s%s",
		    natsStatus_GetText(s), r->tls_ca != NULL ? " (check "
		    "replication.tls_ca and replication.credentials)" : "");
		return (-1);
	}
	return (0);
}

static void
replica_free(struct replica *r)
{
	wal_reader_close(r->rd);
	natsOptions_Destroy(r->opts);
	free(r->sent_us);
	free(r->dir);
	free(r->servers);
	free(r->stream);
	free(r->prefix);
	free(r->creds);
	free(r->user);
	free(r->password);
	free(r->token);
	free(r->tls_ca);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}

/* A copy of s, NULL staying NULL; 0 or -1. */
static int
replica_dup(char **dst, const char *s)
{
	*dst = NULL;
	return (s != NULL && (*dst = strdup(s)) == NULL ? -1 : 0);
}

struct replica *
replica_start(const struct config *cfg, const char *dir, uint64_t durable,
    int notify_fd, char **cause)
{
	struct replica	*r;
	int		 err;

	if ((r = calloc(1, sizeof *r)) == NULL) {
		cause_set(cause, "replication: %s", strerror(errno));
		return (NULL);
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->notify_fd = notify_fd;
	r->durable = durable;
	r->start_durable = durable;
	r->replicas = (int)cfg->repl_replicas;
	r->window = cfg->repl_window;
	for (r->slots = 1; r->slots < r->window + 1; r->slots <<= 1)
		;
	r->timeout_us = cfg->repl_timeout_us;
	r->max_record = cfg->max_record;
	if (replica_dup(&r->dir, dir) != 0 ||
	    replica_dup(&r->servers, cfg->repl_servers) != 0 ||
	    replica_dup(&r->stream, cfg->repl_stream) != 0 ||
	    replica_dup(&r->prefix, cfg->repl_subject_prefix) != 0 ||
	    replica_dup(&r->creds, cfg->repl_creds) != 0 ||
	    replica_dup(&r->user, cfg->repl_user) != 0 ||
	    replica_dup(&r->password, cfg->repl_password) != 0 ||
	    replica_dup(&r->token, cfg->repl_token) != 0 ||
	    replica_dup(&r->tls_ca, cfg->repl_tls_ca) != 0 ||
	    (r->sent_us = calloc(r->slots, sizeof *r->sent_us)) == NULL) {
		cause_set(cause, "replication: %s", strerror(errno));
		goto fail;
	}
	if (repl_ident_load(dir, 1, &r->ident, cause) != 0 ||
	    replica_options(r, cause) != 0)
		goto fail;
	if ((err = pthread_create(&r->thread, NULL, replica_main, r)) != 0) {
		cause_set(cause, "replication: pthread_create: %s",
		    strerror(err));
		goto fail;
	}
	log_info("replication: log %s, epoch %" PRIu64 ", into stream %s "
	    "(%d replicas) on %s", r->ident.log_id, r->ident.epoch, r->stream,
	    r->replicas, r->servers);
	return (r);

fail:
	replica_free(r);
	return (NULL);
}

void
replica_durable(struct replica *r, uint64_t durable)
{
	pthread_mutex_lock(&r->lock);
	if (durable > r->durable) {
		r->durable = durable;
		pthread_cond_signal(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
}

uint64_t
replica_lsn(struct replica *r)
{
	/* Clear, then read: a full barrier between the two (an exchange),
	   so that a notifier that still sees 1 wrote its LSN where this
	   read finds it. A plain store could be passed by the load, and an
	   acknowledgement then be neither read nor signalled. */
	(void)__atomic_exchange_n(&r->notified, 0, __ATOMIC_SEQ_CST);
	return (__atomic_load_n(&r->lsn, __ATOMIC_SEQ_CST));
}

uint64_t
replica_floor(struct replica *r)
{
	if (__atomic_load_n(&r->synced, __ATOMIC_ACQUIRE))
		return (__atomic_load_n(&r->lsn, __ATOMIC_ACQUIRE));
	return (r->start_durable);
}

enum replica_state
replica_state(struct replica *r)
{
	return ((enum replica_state)__atomic_load_n(&r->state,
	    __ATOMIC_ACQUIRE));
}

const char *
replica_state_name(enum replica_state st)
{
	switch (st) {
	case REPLICA_CONNECTING:
		return ("connecting");
	case REPLICA_RUNNING:
		return ("running");
	case REPLICA_FENCED:
		return ("fenced");
	case REPLICA_REFUSED:
		return ("refused");
	}
	return ("unknown");
}

void
replica_stats(struct replica *r, struct replica_stats *st)
{
	size_t	i;

	memset(st, 0, sizeof *st);
	st->state = replica_state(r);
	st->lsn = __atomic_load_n(&r->lsn, __ATOMIC_ACQUIRE);
	st->published = __atomic_load_n(&r->published, __ATOMIC_RELAXED);
	st->acked = __atomic_load_n(&r->acked, __ATOMIC_RELAXED);
	st->acked_bytes = __atomic_load_n(&r->acked_bytes, __ATOMIC_RELAXED);
	st->errors = __atomic_load_n(&r->errors, __ATOMIC_RELAXED);
	st->resyncs = __atomic_load_n(&r->resyncs, __ATOMIC_RELAXED);
	st->lat_count = __atomic_load_n(&r->lat_count, __ATOMIC_RELAXED);
	st->lat_sum_us = __atomic_load_n(&r->lat_sum_us, __ATOMIC_RELAXED);
	for (i = 0; i <= REPLICA_NBUCKETS; i++)
		st->lat_le[i] = __atomic_load_n(&r->lat_le[i],
		    __ATOMIC_RELAXED);
	pthread_mutex_lock(&r->lock);
	memcpy(st->error, r->error, sizeof st->error);
	pthread_mutex_unlock(&r->lock);
}

void
replica_stop(struct replica *r)
{
	natsStatus	s;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	/* The thread destroyed its connection, but the library's own
	   threads may still run a callback with r: natsConnection_Destroy
	   queues the disconnected callback for its callback thread and
	   returns. r is freed only once they are gone (walld uses NATS for
	   nothing else, and is stopping). */
	natsOptions_Destroy(r->opts);
	r->opts = NULL;
	if ((s = nats_CloseAndWait(REPLICA_CLOSE_MS)) != NATS_OK) {
		log_warn("replication: the NATS library's threads did not end "
		    "within %d ms (%s); its callbacks' state is left in memory",
		    REPLICA_CLOSE_MS, natsStatus_GetText(s));
		return;
	}
	replica_free(r);
}
