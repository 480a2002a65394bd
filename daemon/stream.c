/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream.c: the reads clients ask for. Each READ is a stream: a reader on
 * the segment files, bounded by the durable LSN, that sends RECORD frames
 * while the connection's output has room and parks on the server's
 * followers list when it reaches the durable end (a follow read) or has
 * skipped many records the peer may not read; then one READ_END, or an
 * ERROR, ends it. A follow read with an until time ends once no later
 * record can match it (stream_until_over).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "access.h"
#include "config.h"
#include "log.h"
#include "server-int.h"
#include "wal.h"
#include "wal-reader.h"
#include "wire.h"

#define MAX_STREAMS	16		/* reads at once on one connection */
#define READ_OUT_HIGH	(256 * 1024)	/* pause a read stream here */
#define READ_OUT_LOW	(64 * 1024)	/* and resume below this */
#define STREAM_SKIP_MAX	4096		/* records a read skips, then yields */

/* One read: records from `next` on, up to `to`, maybe following. */
struct stream {
	TAILQ_ENTRY(stream)	 entry;		/* conn->streams */
	TAILQ_ENTRY(stream)	 follow_entry;	/* server->followers */
	struct conn		*conn;
	struct wal_reader	*reader;
	uint64_t		 id;
	uint64_t		 to;
	uint64_t		 next;
	int			 follow;
	int			 following;	/* on server->followers */
	uint64_t		 until_ns;	/* with until_ev */
	struct event		*until_ev;	/* a follow read with an until
						   time: that time has come */
};

/* Ends one read stream and frees it. */
static void
stream_free(struct stream *st)
{
	struct conn	*c = st->conn;

	if (st->following)
		TAILQ_REMOVE(&c->srv->followers, st, follow_entry);
	TAILQ_REMOVE(&c->streams, st, entry);
	c->nstreams--;
	wal_reader_close(st->reader);
	if (st->until_ev != NULL)
		event_free(st->until_ev);
	free(st);
}

/* Ends one read and tells the client where it ended, with flags (version
   2: WIRE_F_SEALED_END). The stream is freed first, as in stream_end. */
static void
stream_end_flags(struct stream *st, uint8_t flags)
{
	struct conn	*c = st->conn;
	uint64_t	 id = st->id, next = st->next;
	uint8_t		 buf[WIRE_ENC_MAX];
	size_t		 len;

	stream_free(st);
	len = wire_enc_u64(buf, WIRE_OP_READ_END, id, next);
	buf[5] = flags;
	conn_send(c, buf, len, NULL, 0);
}

/* Ends one read and tells the client where it ended. The stream is freed
   first: the reply may pass the output limit and close the connection,
   which ends (frees) every stream still listed. */
static void
stream_end(struct stream *st)
{
	stream_end_flags(st, 0);
}

/* Counts a damaged record once among the last ones met, so that a client
   reading it again and again does not make one flipped bit look like
   many. A record is its file and offset. */
static void
stream_count_damage(struct server *srv, const struct wal_read_fault *f)
{
	struct server_counters	*k = &srv->count;
	size_t			 i, n = sizeof k->damaged_seen /
				     sizeof k->damaged_seen[0];

	for (i = 0; i < n && i < k->damaged_next; i++)
		if (k->damaged_seen[i].off == f->off &&
		    strcmp(k->damaged_seen[i].file, f->file) == 0)
			return;
	i = k->damaged_next++ % n;
	snprintf(k->damaged_seen[i].file, sizeof k->damaged_seen[i].file,
	    "%s", f->file);
	k->damaged_seen[i].off = f->off;
	k->damaged++;
}

/* Answers a read the reader failed: RANGE when what was asked for is not
   in the log, DAMAGED (logged, counted) when the log is damaged there,
   BUSY when walld is out of descriptors or memory (nothing wrong with
   the request or the log: retry), INTERNAL otherwise. cause names the place; the client's message is
   the cause alone (walctl puts "read:" before it). */
static void
stream_fail(struct conn *c, uint64_t id, const struct wal_read_fault *f,
    const char *cause)
{
	if (cause == NULL)
		cause = "cannot read the log";
	switch (f->kind) {
	case WAL_READ_RANGE:
		conn_error(c, id, WIRE_E_RANGE, "%s", cause);
		return;
	case WAL_READ_DAMAGED:
		stream_count_damage(c->srv, f);
		log_limited("damaged record", LOG_LVL_ERR, "read: %s "
		    "(connection %llu, pid %ld, uid %ld)", cause,
		    (unsigned long long)c->serial, (long)c->pid, (long)c->uid);
		conn_error(c, id, WIRE_E_DAMAGED, "%s", cause);
		return;
	default:
		if (f->err == EMFILE || f->err == ENFILE || f->err == ENOMEM) {
			conn_error(c, id, WIRE_E_BUSY, "%s", cause);
			return;
		}
		log_limited("read failed", LOG_LVL_ERR, "read: %s "
		    "(connection %llu)", cause, (unsigned long long)c->serial);
		conn_error(c, id, WIRE_E_INTERNAL, "%s", cause);
		return;
	}
}

/* Parks a stream on the followers list, to be pumped again after the next
   batch or from pump_ev. */
static void
stream_park(struct stream *st)
{
	if (!st->following) {
		TAILQ_INSERT_TAIL(&st->conn->srv->followers, st, follow_entry);
		st->following = 1;
	}
}

/* Whether a follow read with an until time is over: no record after the
   ones it has read can match. Either it has passed a record later than
   until (times never go back), or every record appended so far is
   durable and read (limit is the durable end) and one appended now would
   be later than until. */
static int
stream_until_over(struct stream *st, uint64_t limit)
{
	struct server	*srv = st->conn->srv;

	if (st->until_ev == NULL)	/* no until time */
		return (0);
	if (wal_reader_past_until(st->reader))
		return (1);
	return (limit == srv->durable && srv->durable + 1 >= srv->next_lsn &&
	    wal_time_next(srv->wal) > st->until_ns);
}

static void	stream_pump(struct stream *);

/* until_ev: the until time of a parked follow read has come; pumped, it
   ends unless records of before it are still on their way to the disk
   (then the pump after their batch ends it). */
static void
stream_until_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*st = arg;

	(void)fd; (void)what;
	if (!st->following)
		return;
	TAILQ_REMOVE(&st->conn->srv->followers, st, follow_entry);
	st->following = 0;
	stream_pump(st);
}

/* Parks a follow read at the durable end; one with an until time still
   ahead also gets a timer for it. */
static void
stream_park_follow(struct stream *st)
{
	struct server	*srv = st->conn->srv;
	struct timeval	 tv;
	uint64_t	 now, wait;

	stream_park(st);
	if (st->until_ev == NULL)	/* no until, or not a follow read */
		return;
	/* Past it already: records of before it are on their way to the
	   disk, and the pump after their batch ends the read. */
	now = wal_time_next(srv->wal);
	if (now > st->until_ns || evtimer_pending(st->until_ev, NULL))
		return;
	/* A millisecond past it, so that the clock is past it then. */
	wait = (st->until_ns - now) / 1000 + 1000;	/* µs */
	tv.tv_sec = (time_t)(wait / 1000000);
	tv.tv_usec = (suseconds_t)(wait % 1000000);
	if (evtimer_add(st->until_ev, &tv) != 0)
		log_err("read: arming the timer of its until time failed");
}

/* 1 when the peer may read records of tenant: a read without a tenant
   filter skips the others. */
static int
stream_may_read(const struct conn *c, uint32_t tenant)
{
	struct access_peer	p = conn_peer(c);

	return (access_allows(c->srv->cfg->access, &p, ACCESS_READ, tenant));
}

/* Streams records of one read until the connection's output is full,
   the durable end is reached, or the range ends. May free st. */
static void
stream_pump(struct stream *st)
{
	struct conn		*c = st->conn;
	struct server		*srv = c->srv;
	struct wal_record	 rec;
	struct wal_read_fault	 fault;
	uint8_t			 buf[WIRE_ENC_MAX];
	uint64_t		 limit, id;
	char			*cause = NULL;
	int			 rc, skipped = 0;

	for (;;) {
		if (c->fd == -1)
			return;
		/* A read that skips many records (tenants the peer may not
		   read) yields to the loop now and then: park it and resume
		   it from pump_ev, after the events already waiting. */
		if (skipped >= STREAM_SKIP_MAX) {
			stream_park(st);
			event_active(srv->pump_ev, EV_READ, 0);
			return;
		}
		/* Pause at READ_OUT_HIGH, or at half the output limit when
		   that is lower; the write callback resumes us. */
		if (conn_out_pending(c) >= READ_OUT_HIGH ||
		    conn_out_pending(c) >= srv->cfg->max_conn_output / 2)
			return;
		/* Records sent are durable ones. */
		limit = srv->durable;
		if (st->to != 0 && st->to < limit)
			limit = st->to;
		rc = wal_reader_next(st->reader, limit, &rec, &cause);
		if (rc < 0) {
			id = st->id;
			wal_reader_fault(st->reader, &fault);
			stream_free(st);	/* first, as in stream_end */
			stream_fail(c, id, &fault, cause);
			free(cause);
			return;
		}
		if (rc == 1) {
			st->next = rec.lsn + 1;
			if (!stream_may_read(c, rec.tenant)) {
				skipped++;
				continue;
			}
			conn_send(c, buf, wire_enc_record(buf, st->id, rec.lsn,
			    rec.type, rec.vshard, rec.tenant, rec.len),
			    rec.payload, rec.len);
			continue;
		}
		if (limit + 1 > st->next)
			st->next = limit + 1;
		/* Version 2: at the end of a sealed log nothing will follow;
		   a follow read ends, saying so (PROTOCOL.md, "Version 2"). */
		if (c->version >= 2 && limit == srv->durable &&
		    wal_seal_durable(srv->wal)) {
			stream_end_flags(st, WIRE_F_SEALED_END);
			conn_maybe_close(c);
			return;
		}
		if (st->follow && srv->state == SRV_RUNNING &&
		    (st->to == 0 || srv->durable < st->to)) {
			/* UNTIL is version 2's, and so is the flag. */
			if (stream_until_over(st, limit)) {
				stream_end_flags(st, WIRE_F_UNTIL_END);
				conn_maybe_close(c);
				return;
			}
			stream_park_follow(st);
			return;
		}
		stream_end(st);
		conn_maybe_close(c);
		return;
	}
}

/* Resumes every read of the connection that is not parked. */
static void
stream_pump_conn(struct conn *c)
{
	struct stream	*st, *next;

	TAILQ_FOREACH_SAFE(st, &c->streams, entry, next) {
		if (!st->following)
			stream_pump(st);
		if (c->fd == -1)
			break;	/* closed: every stream is gone */
	}
}

/* Starts a READ: a reader from r->from with the filters flags ask for,
   sending what is durable at once. */
void
stream_open(struct conn *c, uint64_t id, uint8_t flags,
    const struct wire_read *r)
{
	struct wal_filter	 f;
	struct wal_read_fault	 fault;
	struct stream		*st;
	char			*cause = NULL;

	if (c->nstreams >= MAX_STREAMS) {
		conn_error(c, id, WIRE_E_BUSY, "read: %d reads are already "
		    "streaming on this connection", MAX_STREAMS);
		return;
	}
	if ((st = calloc(1, sizeof *st)) == NULL) {
		conn_error(c, id, WIRE_E_INTERNAL, "out of memory");
		return;
	}
	memset(&f, 0, sizeof f);
	f.tenant = r->tenant;
	f.vshard = r->vshard;
	f.type = r->type;
	f.has_tenant = (flags & WIRE_F_TENANT) != 0;
	f.has_vshard = (flags & WIRE_F_VSHARD) != 0;
	f.has_type = (flags & WIRE_F_TYPE) != 0;
	f.since_ns = r->since_ns;
	f.until_ns = r->until_ns;
	f.has_since = (flags & WIRE_F_SINCE) != 0;
	f.has_until = (flags & WIRE_F_UNTIL) != 0;
	st->reader = wal_reader_open_fault(c->srv->cfg->data_dir, r->from, &f,
	    c->srv->keyring, &fault, &cause);
	if (st->reader == NULL) {
		stream_fail(c, id, &fault, cause);
		free(cause);
		free(st);
		return;
	}
	wal_reader_durable(st->reader);
	st->conn = c;
	st->id = id;
	st->to = r->to;
	st->next = r->from;
	st->follow = (flags & WIRE_F_FOLLOW) != 0;
	st->until_ns = f.until_ns;
	if (st->follow && f.has_until &&
	    (st->until_ev = evtimer_new(c->srv->base, stream_until_cb, st)) ==
	    NULL) {
		wal_reader_close(st->reader);
		free(st);
		conn_error(c, id, WIRE_E_INTERNAL, "out of memory");
		return;
	}
	TAILQ_INSERT_TAIL(&c->streams, st, entry);
	c->nstreams++;
	stream_pump(st);
}

/* READ_CANCEL: ends the read with that id, if it is still streaming. */
void
stream_cancel(struct conn *c, uint64_t id)
{
	struct stream	*st;

	TAILQ_FOREACH(st, &c->streams, entry) {
		if (st->id == id) {
			stream_end(st);
			break;
		}
	}
}

/* Ends every read of the connection, with its READ_END when tell. */
void
stream_end_all(struct conn *c, int tell)
{
	struct stream	*st;

	while ((st = TAILQ_FIRST(&c->streams)) != NULL) {
		if (tell)
			stream_end(st);
		else
			stream_free(st);
	}
}

/* The client half-closed. Reads sent before are requests too and run to
   their end; a follow read, which would never end (and keep its files
   open after the peer is gone), ends at the durable end of the log. */
void
stream_eof(struct conn *c)
{
	struct stream	*st;

	TAILQ_FOREACH(st, &c->streams, entry) {
		st->follow = 0;
		if (st->following) {
			TAILQ_REMOVE(&c->srv->followers, st, follow_entry);
			st->following = 0;
		}
	}
	stream_pump_conn(c);
}

/* The socket took the connection's output: its reads go on once that is
   below READ_OUT_LOW. 0 when it is not (the write event stays armed and
   says when to go on) or the connection died. What the streams queue now
   does not make c dirty: with the write event armed, the caller's
   conn_flush writes it. */
int
stream_resume(struct conn *c)
{
	if (conn_out_pending(c) >= READ_OUT_LOW)
		return (0);
	stream_pump_conn(c);
	return (c->fd != -1);
}

/* 1 when a read of c has more to send (it is not parked): the connection
   then waits for its socket to be writable, one buffer per loop turn. */
int
stream_busy(const struct conn *c)
{
	const struct stream	*st;

	TAILQ_FOREACH(st, &c->streams, entry)
		if (!st->following)
			return (1);
	return (0);
}

/* Pumps the reads parked on followers: those waiting for records (after
   a batch) and those that yielded (pump_ev). */
void
stream_pump_followers(struct server *srv)
{
	struct stream	*st;
	size_t		 n = 0;

	/* Pumping a stream may re-queue it, or close its connection and
	   free its siblings: take them one at a time, as many as there were. */
	TAILQ_FOREACH(st, &srv->followers, follow_entry)
		n++;
	while (n-- > 0 && (st = TAILQ_FIRST(&srv->followers)) != NULL) {
		TAILQ_REMOVE(&srv->followers, st, follow_entry);
		st->following = 0;
		stream_pump(st);
	}
}

/* pump_ev: resumes the reads that yielded. */
void
stream_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	stream_pump_followers(arg);
}

/* Streaming reads go on into segments under a reloaded key ring. */
void
stream_set_keyring(struct server *srv, struct keyring *kr)
{
	struct conn	*c;
	struct stream	*st;

	TAILQ_FOREACH(c, &srv->conns, entry) {
		TAILQ_FOREACH(st, &c->streams, entry)
			wal_reader_set_keyring(st->reader, kr);
	}
}
