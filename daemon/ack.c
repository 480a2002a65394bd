/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ack.c: the replies that wait for durability. The waiter rings (appends
 * and syncs, in LSN order: wq for those that wait for the local
 * fdatasync, rq for those that also wait for replication), the seal and
 * rotate waiters (by batch), the kick that starts a flush for them, and
 * what a completed batch, or the replicator, answers. This is the one
 * place that decides when an append, a sync, a seal or a rotation is
 * answered: a reply that promises durability is queued only at or below
 * the durable LSN the batcher reported (ack_done says how), and one that
 * promises replication also at or below the replicated LSN
 * (ack_repl_answer).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "batcher.h"
#include "config.h"
#include "log.h"
#include "replica.h"
#include "server-int.h"
#include "wal.h"
#include "wire.h"

/* Someone waiting for durability: an append (reply: its LSN) or a sync
   (reply: the durable LSN). Kept in LSN order. In rq, repl says whether
   it waits for replication too (else it only keeps its connection's
   replies in order behind one that does), until deadline. */
struct waiter {
	struct conn	*conn;
	uint64_t	 id;
	uint64_t	 lsn;		/* answered at or below the durable LSN */
	uint64_t	 reply;		/* what an append's reply says (its LSN) */
	uint64_t	 deadline;	/* microseconds, CLOCK_MONOTONIC */
	uint32_t	 bytes;
	uint8_t		 op;
	uint8_t		 repl;
};

/* Someone waiting for a seal or rotation: answered when the batch that
   carries the mark completes. */
struct ctl_waiter {
	struct conn	*conn;
	uint64_t	 id;
	uint64_t	 batch;		/* number of the batch carrying it */
	uint64_t	 lsn;		/* what the reply says (ack_ctl_lsn) */
	uint8_t		 op;
};

/* Adds a waiter at the tail of ring q, growing it when full. The
   capacity is a power of two (1024, then doubled), so a slot is an index
   masked, not divided: at 1 process × 64 × 16 appends in flight this is
   called 600,000 times a second. */
static int
ack_push(struct server *srv, struct waitq *q, const struct waiter *w)
{
	struct waiter	*nq;
	size_t		 i, ncap;
	struct conn	*c = w->conn;

	if (q->len == q->cap) {
		ncap = q->cap == 0 ? 1024 : q->cap * 2;
		if ((nq = malloc(ncap * sizeof *nq)) == NULL)
			return (-1);
		for (i = 0; i < q->len; i++)
			nq[i] = q->q[(q->head + i) & (q->cap - 1)];
		free(q->q);
		q->q = nq;
		q->cap = ncap;
		q->head = 0;
	}
	q->q[(q->head + q->len) & (q->cap - 1)] = *w;
	q->len++;
	c->last_wait = w->lsn;
	c->refs++;
	if (c->waits++ == 0)
		srv->wq_conns++;
	if (q == &srv->rq)
		c->rwaits++;
	if (w->op == WIRE_OP_APPEND) {
		c->pending++;
		c->inflight += w->bytes;
		srv->inflight += w->bytes;
	}
	return (0);
}

/* Removes the head waiter of ring q and lets go of its connection. */
static struct waiter
ack_pop(struct server *srv, struct waitq *q)
{
	struct waiter	w = q->q[q->head];

	q->head = (q->head + 1) & (q->cap - 1);
	q->len--;
	w.conn->refs--;
	if (--w.conn->waits == 0)
		srv->wq_conns--;
	if (q == &srv->rq)
		w.conn->rwaits--;
	if (w.op == WIRE_OP_APPEND) {
		w.conn->pending--;
		w.conn->inflight -= w.bytes;
		srv->inflight -= w.bytes;
	}
	return (w);
}

/* Microseconds on the monotonic clock. */
static uint64_t
ack_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* A NOWAIT append's reply (its LSN, as a promise), queued behind the
   connection's last waiting reply so that it is not sent before it. */
static int
ack_behind(struct conn *c, uint64_t id, uint64_t lsn)
{
	struct server	*srv = c->srv;
	struct waiter	 w = { .conn = c, .id = id, .lsn = c->last_wait,
			    .reply = lsn, .op = WIRE_OP_APPEND };

	return (ack_push(srv, c->rwaits > 0 ? &srv->rq : &srv->wq, &w));
}

/*
 * Queues the reply of an append or sync at lsn: in rq when it asks for
 * replication (flags, else the configured default), or when its
 * connection already has a reply there (replies on a connection stay in
 * LSN order); else in wq.
 */
static int
ack_wait_for(struct conn *c, uint64_t id, uint8_t op, uint8_t flags,
    uint64_t lsn, uint64_t reply, uint32_t bytes)
{
	struct server	*srv = c->srv;
	struct waiter	 w = { .conn = c, .id = id, .lsn = lsn,
			    .reply = reply, .bytes = bytes, .op = op };

	if (flags & WIRE_F_REPLICATED)
		w.repl = 1;
	else if (!(flags & WIRE_F_LOCAL))
		w.repl = srv->cfg->repl_ack == CONFIG_ACK_REPLICATED;
	if (!w.repl && c->rwaits == 0)
		return (ack_push(srv, &srv->wq, &w));
	w.deadline = ack_now_us() + srv->cfg->repl_timeout_us;
	return (ack_push(srv, &srv->rq, &w));
}

/* An append or sync at lsn, answered with it. */
static int
ack_wait(struct conn *c, uint64_t id, uint8_t op, uint8_t flags,
    uint64_t lsn, uint32_t bytes)
{
	return (ack_wait_for(c, id, op, flags, lsn, lsn, bytes));
}

/* What a seal or rotate reply says, from the next LSN when the mark went
   into the filling batch: the log's last LSN for a seal; for a rotation,
   the new segment's first LSN, since every record appended after the
   mark goes into the next batch and so the new segment. (Taken when the
   batch completes instead, it would count the appends made meanwhile.) */
static uint64_t
ack_ctl_lsn(uint8_t op, uint64_t next_lsn)
{
	return (op == WIRE_OP_SEAL ? next_lsn - 1 : next_lsn);
}

/* Adds a seal or rotate waiter; its mark rides the filling batch. */
static int
ack_ctl_push(struct server *srv, struct conn *c, uint64_t id, uint8_t op)
{
	struct ctl_waiter	*n;
	size_t			 ncap;

	if (srv->ctl_len == srv->ctl_cap) {
		ncap = srv->ctl_cap == 0 ? 8 : srv->ctl_cap * 2;
		if ((n = realloc(srv->ctl, ncap * sizeof *n)) == NULL)
			return (-1);
		srv->ctl = n;
		srv->ctl_cap = ncap;
	}
	/* The mark is in the filling batch: the next one to start. */
	srv->ctl[srv->ctl_len++] = (struct ctl_waiter){ .conn = c, .id = id,
	    .batch = batcher_started(srv->batcher) + 1,
	    .lsn = ack_ctl_lsn(op, srv->next_lsn), .op = op };
	c->refs++;
	return (0);
}


/* Number of connections with a request (append or sync) waiting for
   durability, for the commit delay: commit_siblings counts connections,
   not requests, as PostgreSQL's counts backends in a transaction. One
   client that pipelines many appends is one sibling. */
static unsigned
ack_waiting(struct server *srv)
{
	return (srv->wq_conns);
}

/* Starts a flush if none is out and something is waiting (batcher_kick:
   on the flusher, or inline for a small batch). */
void
ack_kick(struct server *srv)
{
	if (srv->state != SRV_FAILED)
		batcher_kick(srv->batcher, ack_waiting(srv));
}

/* The record of an append is in the filling batch with its LSN. A NOWAIT
   append is answered at once: its LSN is a promise, not durability
   (PROTOCOL.md); any other waits for the batch that makes it durable. */
void
ack_append(struct conn *c, const struct wire_hdr *h, uint64_t lsn,
    uint32_t len)
{
	struct server	*srv = c->srv;

	srv->next_lsn = lsn + 1;
	if ((h->flags & WIRE_F_NOWAIT) && c->waits == 0) {
		conn_reply_u64(c, WIRE_OP_APPEND, h->id, lsn);
		return;
	}
	if (h->flags & WIRE_F_NOWAIT) {
		/* Its connection has replies waiting: this one goes out
		   right after them, in LSN order (PROTOCOL.md), answered
		   with the last of them, not with its own durability. */
		if (ack_behind(c, h->id, lsn) != 0)
			conn_fatal(c, h->id, WIRE_E_INTERNAL, "out of memory");
		return;
	}
	if (ack_wait(c, h->id, WIRE_OP_APPEND, h->flags, lsn, len) != 0) {
		/* The record is in the batch; only the reply is lost. */
		conn_fatal(c, h->id, WIRE_E_INTERNAL, "out of memory");
	}
}

/* A seal or rotate whose mark is in the filling batch, or a seal of a log
   that was sealed already: answered now when there is nothing to wait
   for, else when the batch carrying the mark completes. */
void
ack_control(struct conn *c, uint64_t id, uint8_t op, int sealed)
{
	struct server		*srv = c->srv;
	struct wal_stats	 st;

	if (sealed) {
		/* Sealing a sealed log is a no-op once it is durable. */
		wal_stats(srv->wal, &st);
		if (srv->durable >= st.next_lsn - 1 && srv->ctl_len == 0) {
			conn_reply_u64(c, op, id, ack_ctl_lsn(op,
			    st.next_lsn));
			return;
		}
	}
	if (!wal_pending(srv->wal)) {
		/* Rotating an empty segment: nothing to write, already done. */
		wal_stats(srv->wal, &st);
		conn_reply_u64(c, op, id, ack_ctl_lsn(op, st.next_lsn));
		return;
	}
	if (ack_ctl_push(srv, c, id, op) != 0)
		conn_fatal(c, id, WIRE_E_INTERNAL, "out of memory");
}

/* Answers every seal/rotate waiter whose batch has completed; with !ok,
   every one, "outcome unknown". */
static void
ack_answer_ctl(struct server *srv, int ok, const char *cause)
{
	struct ctl_waiter	 cw;
	size_t			 i, keep = 0;

	for (i = 0; i < srv->ctl_len; i++) {
		cw = srv->ctl[i];
		if (ok && cw.batch > srv->batches_done) {
			srv->ctl[keep++] = cw;
			continue;
		}
		cw.conn->refs--;
		if (cw.conn->fd != -1) {
			if (!ok)
				conn_error(cw.conn, cw.id, WIRE_E_IO,
				    "outcome unknown: %s", cause);
			else
				conn_reply_u64(cw.conn, cw.op, cw.id, cw.lsn);
			conn_maybe_close(cw.conn);
		}
		conn_release(cw.conn);
	}
	srv->ctl_len = keep;
}

/*
 * Answers the head of rq as far as it can, in LSN order. A waiter is
 * answered only at or below the durable LSN (the rule of ack_done); then
 * with success when it does not wait for replication or its LSN is
 * replicated, or with REPL_UNAVAILABLE once its deadline has passed, or
 * at once when walld does not replicate: the record is durable here
 * either way, and will be replicated (never "outcome unknown"). Arms the
 * timer for the next deadline.
 */
static void
ack_repl_answer(struct server *srv)
{
	struct waiter	 w, *h;
	uint64_t	 now = 0, wait;
	struct timeval	 tv;
	int		 ok;

	while (srv->rq.len > 0) {
		h = &srv->rq.q[srv->rq.head];
		if (h->lsn > srv->durable)
			break;
		if (h->repl && h->lsn > srv->replicated &&
		    srv->replica != NULL) {
			if (now == 0)
				now = ack_now_us();
			if (now < h->deadline)
				break;
		}
		w = ack_pop(srv, &srv->rq);
		ok = !w.repl || w.lsn <= srv->replicated;
		if (!ok)
			srv->repl_timeouts++;
		if (w.conn->fd == -1) {
			conn_release(w.conn);
			continue;
		}
		if (ok)
			conn_reply_u64(w.conn, w.op, w.id,
			    w.op == WIRE_OP_APPEND ? w.reply : srv->durable);
		else if (srv->replica == NULL)
			conn_error(w.conn, w.id, WIRE_E_REPL_UNAVAILABLE,
			    "LSN %" PRIu64 " is durable on this machine; walld "
			    "does not replicate (no replication.servers)",
			    w.lsn);
		else
			conn_error(w.conn, w.id, WIRE_E_REPL_UNAVAILABLE,
			    "LSN %" PRIu64 " is durable on this machine but "
			    "not replicated within replication.timeout "
			    "(replicated LSN %" PRIu64 ", replication %s); walld "
			    "replicates it later: do not send it again", w.lsn,
			    srv->replicated, replica_state_name(replica_state(
			    srv->replica)));
		conn_maybe_close(w.conn);
		conn_release(w.conn);
	}
	if (srv->rq.len == 0 || srv->repl_timer == NULL)
		return;
	h = &srv->rq.q[srv->rq.head];
	if (h->lsn > srv->durable || !h->repl)
		return;		/* the next batch comes back here */
	if (now == 0)
		now = ack_now_us();
	wait = h->deadline > now ? h->deadline - now : 0;
	tv.tv_sec = (time_t)(wait / 1000000);
	tv.tv_usec = (suseconds_t)(wait % 1000000);
	if (evtimer_add(srv->repl_timer, &tv) != 0)
		log_err("replication: cannot arm the timeout timer");
}

/* The replicator moved the replicated LSN or its state (its eventfd). */
void
ack_replicated(struct server *srv)
{
	srv->replicated = replica_lsn(srv->replica);
	ack_repl_answer(srv);
}

/* The oldest replicated waiter's timeout. */
void
ack_repl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	(void)fd;
	(void)what;
	/* Read the replicated LSN afresh: a timeout is never decided on a
	   stale one. */
	if (srv->replica != NULL)
		srv->replicated = replica_lsn(srv->replica);
	ack_repl_answer(srv);
}

/* Records durable here and not yet replicated (0 without replication),
   counted from replica_floor until the stream has been reached since the
   start. */
uint64_t
ack_backlog(struct server *srv)
{
	uint64_t	from;

	if (srv->replica == NULL)
		return (0);
	from = replica_floor(srv->replica);
	if (from < srv->replicated)
		from = srv->replicated;
	return (srv->durable > from ? srv->durable - from : 0);
}

/*
 * About how many bytes those records hold: their number times the mean
 * size of the records appended since walld started (the backlog grows by
 * appends; an outage's backlog is what was appended during it), or, before
 * any append, of those the stream acknowledged. Sizes are not kept per
 * record. Not the mean of the acknowledged ones first: nothing is
 * acknowledged while the stream is down from walld's start, and the
 * byte limit would never hold then.
 */
uint64_t
ack_backlog_bytes(struct server *srv)
{
	struct replica_stats	rs;
	uint64_t		n = ack_backlog(srv);

	if (n == 0)
		return (0);
	if (srv->count.appends > 0)
		return (n * (srv->count.append_bytes / srv->count.appends));
	replica_stats(srv->replica, &rs);
	return (rs.acked > 0 ? n * (rs.acked_bytes / rs.acked) : 0);
}

/* Answers the waiters of both rings that the durable (and replicated)
   LSN now allows, in LSN order. */
static void
ack_answer_durable(struct server *srv)
{
	struct waiter	w;

	while (srv->wq.len > 0 &&
	    srv->wq.q[srv->wq.head].lsn <= srv->durable) {
		w = ack_pop(srv, &srv->wq);
		if (w.conn->fd != -1) {
			conn_reply_u64(w.conn, w.op, w.id,
			    w.op == WIRE_OP_APPEND ? w.reply : srv->durable);
			conn_maybe_close(w.conn);
		}
		conn_release(w.conn);
	}
	ack_repl_answer(srv);
}

/* A sync: answered once every LSN handed out so far is durable (and
   replicated, when it asks), which covers everything the connection sent
   before (and keeps the rings in LSN order). */
void
ack_sync(struct conn *c, uint64_t id, uint8_t flags)
{
	struct server	*srv = c->srv;
	uint64_t	 last = srv->next_lsn - 1;

	if (ack_wait(c, id, WIRE_OP_SYNC, flags, last, 0) != 0) {
		conn_fatal(c, id, WIRE_E_INTERNAL, "out of memory");
		return;
	}
	/* Perhaps at once: what it waits for may be there already. */
	ack_answer_durable(srv);
}

/*
 * A producer's retry of an append in the log already (at lsn): answered
 * with that LSN once it is as durable (or replicated) as this append
 * asks. It waits like a SYNC, for every LSN assigned so far: the ring
 * keeps its LSN order, and the original is among them.
 */
void
ack_dup(struct conn *c, const struct wire_hdr *h, uint64_t lsn)
{
	struct server	*srv = c->srv;
	uint64_t	 last = srv->next_lsn - 1;

	if (ack_wait_for(c, h->id, WIRE_OP_APPEND, h->flags, last > lsn ?
	    last : lsn, lsn, 0) != 0) {
		conn_fatal(c, h->id, WIRE_E_INTERNAL, "out of memory");
		return;
	}
	ack_answer_durable(srv);
}

/*
 * A batch completed: acknowledge what it made durable, in LSN order.
 *
 * Durability order, the promise walld makes: a record is appended to the
 * filling batch (wal_append); the batcher writes it and fdatasyncs the
 * segment, on the flusher thread, or on the loop itself when the batch is
 * small (the same wal_flush_io either way); only when that has returned
 * success does the batcher report the durable LSN here, and only then are
 * the replies of waiters at or below it queued.
 * No reply that promises durability is queued anywhere else. A failed
 * write or sync goes to ack_fail instead: it is never retried, never
 * reported as success.
 */
void
ack_done(struct server *srv, uint64_t durable)
{
	srv->durable = durable;
	ack_answer_durable(srv);
	ack_answer_ctl(srv, 1, NULL);
	if (srv->replica != NULL)
		replica_durable(srv->replica, durable);
}

/* A batch's write or sync failed: every waiter, of that batch and of the
   filling one, is told that the outcome is unknown (the record may or may
   not be in the log after a restart). */
void
ack_fail(struct server *srv, const char *cause)
{
	struct waiter	w;
	struct waitq	*q;

	/* rq after wq would break a connection's order, but a connection
	   with waiters in rq has none in wq after them (ack_wait). */
	for (q = &srv->wq; q != NULL; q = q == &srv->wq ? &srv->rq : NULL) {
		while (q->len > 0) {
			w = ack_pop(srv, q);
			if (w.conn->fd != -1) {
				conn_error(w.conn, w.id, WIRE_E_IO, "outcome "
				    "unknown: the WAL write failed: %s",
				    cause);
				conn_maybe_close(w.conn);
			}
			conn_release(w.conn);
		}
	}
	ack_answer_ctl(srv, 0, cause);
}

/* 1 when every record handed an LSN is durable and no seal or rotate
   waits for its batch. */
int
ack_settled(struct server *srv)
{
	struct wal_stats	st;

	wal_stats(srv->wal, &st);
	return (st.durable_lsn + 1 >= st.next_lsn && srv->ctl_len == 0 &&
	    srv->rq.len == 0);
}

/* Drops every waiter unanswered and frees the queues (server_free, once
   no batch is out). */
void
ack_free(struct server *srv)
{
	while (srv->wq.len > 0)
		conn_release(ack_pop(srv, &srv->wq).conn);
	while (srv->rq.len > 0)
		conn_release(ack_pop(srv, &srv->rq).conn);
	while (srv->ctl_len > 0) {
		srv->ctl_len--;
		srv->ctl[srv->ctl_len].conn->refs--;
		conn_release(srv->ctl[srv->ctl_len].conn);
	}
	free(srv->wq.q);
	free(srv->rq.q);
	free(srv->ctl);
	srv->wq.q = NULL;
	srv->rq.q = NULL;
	srv->ctl = NULL;
}
