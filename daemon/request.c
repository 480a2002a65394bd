/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request.c: what each request does. request_frame takes every whole
 * frame out of the connection layer, checks it against the session (HELLO
 * first) and the access list, and runs its handler: HELLO, APPEND, SYNC,
 * SEAL and ROTATE, TRUNCATE, READ and READ_CANCEL, STATS, PING. Replies
 * that wait for durability are ack.c's to send; reads are stream.c's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "access.h"
#include "archive.h"
#include "batcher.h"
#include "config.h"
#include "cursor.h"
#include "log.h"
#include "replica.h"
#include "retention.h"
#include "scrub.h"
#include "server-int.h"
#include "version.h"
#include "wal.h"
#include "wire.h"

/* Checks op against the access list: on tenant when has_tenant, else (a
   read with no tenant filter) on any tenant at all. A denial is answered,
   counted and logged; the connection stays open. */
static int
request_permitted(struct conn *c, uint64_t id, enum access_op op,
    int has_tenant, uint32_t tenant)
{
	struct server		*srv = c->srv;
	struct access_peer	 p = conn_peer(c);
	char			 what[64];

	if (op == ACCESS_READ && !has_tenant) {
		if (access_read_scope(srv->cfg->access, &p) !=
		    ACCESS_SCOPE_NONE)
			return (1);
	} else if (access_allows(srv->cfg->access, &p, op, tenant))
		return (1);
	if (op == ACCESS_APPEND)
		snprintf(what, sizeof what, "append to tenant %lu",
		    (unsigned long)tenant);
	else if (op == ACCESS_READ && has_tenant)
		snprintf(what, sizeof what, "read of tenant %lu",
		    (unsigned long)tenant);
	else
		snprintf(what, sizeof what, "%s", access_op_name(op));
	srv->count.denied++;
	srv->count.denied_op[op]++;
	log_limited("access denied", LOG_LVL_INFO, "connection %llu (pid %ld "
	    "uid %ld gid %ld): %s not permitted", (unsigned long long)c->serial,
	    (long)c->pid, (long)c->uid, (long)c->gid, what);
	conn_error(c, id, WIRE_E_NOT_PERMITTED, "%s not permitted for uid %ld",
	    what, (long)c->uid);
	return (0);
}

/* 1 (and the ERROR sent) when the records durable here and not yet
   replicated reach replication.backlog_records or backlog_bytes: an
   append is refused then, nothing written (PROTOCOL.md, REPL_BACKLOG). */
static int
request_backlog_full(struct conn *c, uint64_t id)
{
	struct server		*srv = c->srv;
	uint64_t		 n = ack_backlog(srv), bytes;

	if (n == 0)
		return (0);
	bytes = ack_backlog_bytes(srv);
	if (n < srv->cfg->repl_backlog_records &&
	    bytes < srv->cfg->repl_backlog_bytes)
		return (0);
	srv->repl_refused++;
	log_limited("repl-backlog", LOG_LVL_WARN, "replication backlog full "
	    "(%llu records, about %llu bytes, not replicated; limits %llu "
	    "records, %llu bytes): appends refused until the stream catches "
	    "up", (unsigned long long)n, (unsigned long long)bytes,
	    (unsigned long long)srv->cfg->repl_backlog_records,
	    (unsigned long long)srv->cfg->repl_backlog_bytes);
	conn_error(c, id, WIRE_E_REPL_BACKLOG, "%llu records durable here are "
	    "not replicated yet (replication.backlog_records %llu or "
	    "backlog_bytes %llu reached); nothing was written; retry later",
	    (unsigned long long)n,
	    (unsigned long long)srv->cfg->repl_backlog_records,
	    (unsigned long long)srv->cfg->repl_backlog_bytes);
	return (1);
}

/*
 * A request the log's seal refuses, while the seal is not durable yet: it
 * waits (the connection held back until the seal's batch completes), so
 * that nobody is told SEALED, "no append will ever succeed again", before
 * it is true: if walld died before the seal reached the disk, the log
 * would come back unsealed. 1 when held back, 0 when the seal is durable.
 */
static int
request_seal_pending(struct conn *c)
{
	if (wal_seal_durable(c->srv->wal))
		return (0);
	ack_kick(c->srv);
	conn_block(c, BLOCK_BATCH);
	return (1);
}

/* A request needed the next segment, and its preparation failed
   (WAL_ENOSPC: a full disk; WAL_ESPARE: another error): refused, nothing
   written; the preparer is asked to try again now. */
static void
request_no_segment(struct conn *c, const struct wire_hdr *h, enum wal_rc rc)
{
	struct server	*srv = c->srv;
	int		 err;

	/* The errno first: the preparer may be trying again already. */
	err = wal_spare_errno(srv->wal);
	batcher_want_spare(srv->batcher);
	if (rc == WAL_ENOSPC)
		conn_error(c, h->id, WIRE_E_NO_SPACE, "no space for the next "
		    "segment; nothing was written; retry later");
	else
		conn_error(c, h->id, WIRE_E_BUSY, "the next segment could not "
		    "be prepared: %s; nothing was written; retry later",
		    err != 0 ? strerror(err) : "see walld's log");
}

/* APPEND: the record goes into the filling batch, unless a limit holds
   the connection back (DISPATCH_DEFER: the frame stays in its input and
   runs again when the connection is resumed). */
static enum dispatch
request_append(struct conn *c, const struct wire_hdr *h, const uint8_t *body,
    size_t n)
{
	struct server		*srv = c->srv;
	struct wire_append	 a;
	struct wal_producer_seq	 ps;
	const char		*cause;
	uint64_t		 lsn, next, oldest = 0;
	enum wal_rc		 rc;
	int			 prod = (h->flags & WIRE_F_PRODUCER) != 0;

	if (prod && c->version < 2) {
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "append: flag "
		    "PRODUCER needs protocol version 2");
		return (DISPATCH_DONE);
	}
	if ((prod ? wire_dec_append_prod(body, n, &a, &cause) :
	    wire_dec_append(body, n, &a, &cause)) != 0) {
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "append: %s", cause);
		return (DISPATCH_DONE);
	}
	if (prod && (h->flags & WIRE_F_NOWAIT)) {
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "append: flags "
		    "PRODUCER and NOWAIT together");
		return (DISPATCH_DONE);
	}
	if ((h->flags & (WIRE_F_REPLICATED|WIRE_F_LOCAL)) ==
	    (WIRE_F_REPLICATED|WIRE_F_LOCAL)) {
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "append: flags "
		    "REPLICATED and LOCAL together");
		return (DISPATCH_DONE);
	}
	if (!request_permitted(c, h->id, ACCESS_APPEND, 1, a.tenant))
		return (DISPATCH_DONE);
	if (srv->state == SRV_DRAINING) {
		conn_error(c, h->id, WIRE_E_SHUTTING_DOWN, "walld is shutting "
		    "down; nothing was written");
		return (DISPATCH_DONE);
	}
	if (srv->state == SRV_FAILED) {
		conn_error(c, h->id, WIRE_E_IO, "walld stopped after a WAL "
		    "write failure; nothing was written");
		return (DISPATCH_DONE);
	}
	ps.producer = a.producer;
	ps.seq = a.seq;
	if (a.len > c->max_record && !(prod && wal_producer_held(srv->wal,
	    &ps, a.tenant, &lsn))) {
		/* (A retry of a record in the log is answered below, even
		   after a reload lowered the limit.) */
		conn_error(c, h->id, WIRE_E_TOO_LARGE, "record of %u bytes is "
		    "above max_record (%u)", a.len, c->max_record);
		return (DISPATCH_DONE);
	}
	if (request_backlog_full(c, h->id))
		return (DISPATCH_DONE);
	if ((c->pending > 0 &&
	    c->inflight + a.len > srv->cfg->max_conn_inflight) ||
	    (srv->wq.len + srv->rq.len > 0 &&
	    srv->inflight + a.len > srv->cfg->max_total_inflight)) {
		/* Stop reading this client until acknowledgements drain. */
		ack_kick(srv);
		conn_block(c, BLOCK_INFLIGHT);
		return (DISPATCH_DEFER);
	}
	rc = wal_append_as(srv->wal, prod ? &ps : NULL, a.type, a.tenant,
	    a.vshard, a.payload, a.len, &lsn);
	switch (rc) {
	case WAL_OK:
		break;
	case WAL_EDUP:
		/* A retry: the original's LSN, once it is as durable as
		   this append asks. */
		srv->count.producer_dups++;
		ack_dup(c, h, lsn);
		return (DISPATCH_DONE);
	case WAL_ENOMEM:
		log_limited("producer-nomem", LOG_LVL_ERR, "no memory for the "
		    "producer table (producers.max %u, window %u): idempotent "
		    "appends refused", srv->cfg->producers_max,
		    srv->cfg->producer_window);
		conn_error(c, h->id, WIRE_E_BUSY, "no memory for the producer "
		    "table; nothing was written; retry later");
		return (DISPATCH_DONE);
	case WAL_ESEQ:
		srv->count.producer_refused++;
		next = wal_producer_next(srv->wal, a.producer, a.tenant,
		    &oldest);
		conn_error(c, h->id, WIRE_E_SEQUENCE, "producer %llu of "
		    "tenant %lu: sequence %llu is out of order: the next is "
		    "%llu, and retries are recognised from %llu; nothing was "
		    "written", (unsigned long long)a.producer,
		    (unsigned long)a.tenant, (unsigned long long)a.seq,
		    (unsigned long long)next, (unsigned long long)oldest);
		return (DISPATCH_DONE);
	case WAL_EFULL:
		ack_kick(srv);
		conn_block(c, BLOCK_BATCH);
		return (DISPATCH_DEFER);
	case WAL_EWAIT:
		batcher_want_spare(srv->batcher);
		conn_block(c, BLOCK_SPARE);
		return (DISPATCH_DEFER);
	case WAL_ENOSPC:
	case WAL_ESPARE:
		request_no_segment(c, h, rc);
		return (DISPATCH_DONE);
	case WAL_ETOOBIG:
		conn_error(c, h->id, WIRE_E_TOO_LARGE, "record of %u bytes is "
		    "too large", a.len);
		return (DISPATCH_DONE);
	case WAL_ESEALED:
		if (request_seal_pending(c))
			return (DISPATCH_DEFER);
		conn_error(c, h->id, WIRE_E_SEALED, "the log is sealed; "
		    "appends are refused");
		return (DISPATCH_DONE);
	case WAL_EFAILED:
		conn_error(c, h->id, WIRE_E_IO, "the WAL is failed after a "
		    "write error; nothing was written");
		return (DISPATCH_DONE);
	}
	srv->count.appends++;
	srv->count.append_bytes += a.len;
	ack_append(c, h, lsn, a.len);
	return (DISPATCH_DONE);
}

/* SYNC: answered once everything sent before is durable, and
   replicated when it asks (ack_sync). */
static void
request_sync(struct conn *c, const struct wire_hdr *h)
{
	if ((h->flags & (WIRE_F_REPLICATED|WIRE_F_LOCAL)) ==
	    (WIRE_F_REPLICATED|WIRE_F_LOCAL)) {
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "sync: flags "
		    "REPLICATED and LOCAL together");
		return;
	}
	if (c->srv->state == SRV_FAILED) {
		conn_error(c, h->id, WIRE_E_IO, "walld stopped after a WAL "
		    "write failure");
		return;
	}
	ack_sync(c, h->id, h->flags);
}

/* Logs an administrative request with who asked (SO_PEERCRED), once it
   is taken (not each time a deferred one is tried again). */
static void
request_log_admin(const struct conn *c, const struct wire_hdr *h)
{
	log_info("%s: asked by connection %llu (pid %ld, uid %ld)",
	    wire_op_name(h->op), (unsigned long long)c->serial, (long)c->pid,
	    (long)c->uid);
}

/* SEAL, ROTATE: the mark goes into the filling batch; the reply comes
   with the batch that carries it (ack_control). */
static enum dispatch
request_control(struct conn *c, const struct wire_hdr *h)
{
	struct server		*srv = c->srv;
	enum wal_rc		 rc;

	if (srv->state != SRV_RUNNING) {
		conn_error(c, h->id, srv->state == SRV_FAILED ? WIRE_E_IO :
		    WIRE_E_SHUTTING_DOWN, "walld is %s", srv->state ==
		    SRV_FAILED ? "stopping after a WAL failure" :
		    "shutting down");
		return (DISPATCH_DONE);
	}
	rc = h->op == WIRE_OP_SEAL ? wal_mark_seal(srv->wal) :
	    wal_mark_rotate(srv->wal);
	switch (rc) {
	case WAL_OK:
		break;
	case WAL_ESEALED:
		if (h->op == WIRE_OP_SEAL) {
			/* Sealing again: answered like the first seal. */
			request_log_admin(c, h);
			ack_control(c, h->id, h->op, 1);
			return (DISPATCH_DONE);
		}
		if (request_seal_pending(c))
			return (DISPATCH_DEFER);
		conn_error(c, h->id, WIRE_E_SEALED, "the log is sealed");
		return (DISPATCH_DONE);
	case WAL_EFULL:
	case WAL_EWAIT:
		batcher_want_spare(srv->batcher);
		ack_kick(srv);
		conn_block(c, rc == WAL_EWAIT ? BLOCK_SPARE : BLOCK_BATCH);
		return (DISPATCH_DEFER);
	case WAL_ENOSPC:
	case WAL_ESPARE:
		request_no_segment(c, h, rc);
		return (DISPATCH_DONE);
	case WAL_ETOOBIG:
	case WAL_EFAILED:
	case WAL_EDUP:
	case WAL_ESEQ:
	case WAL_ENOMEM:
		conn_error(c, h->id, WIRE_E_IO, "the WAL is failed after a "
		    "write error");
		return (DISPATCH_DONE);
	}
	request_log_admin(c, h);
	ack_control(c, h->id, h->op, 0);
	return (DISPATCH_DONE);
}

/*
 * TRUNCATE: whole sealed segments below `before` go, within the holds
 * (retention.c). Guard rails (version 2 flags): `before` above the
 * durable LSN + 1 is RANGE; removing records the lowest cursor has not
 * consumed is HELD unless FORCE; DRY_RUN replies with what would go
 * (first LSN after, segments, bytes) and removes nothing.
 */
static void
request_truncate(struct conn *c, const struct wire_hdr *h, const uint8_t *body,
    size_t n)
{
	struct server		*srv = c->srv;
	struct retention_plan	 p;
	uint64_t		 before, first, lowest = CURSOR_NONE;
	uint8_t			 buf[WIRE_ENC_MAX];
	char			 name[CURSOR_NAME_MAX + 1] = "";
	const char		*why;
	char			*cause = NULL;

	if (wire_dec_u64(body, n, &before, &why) != 0) {
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "truncate: %s", why);
		return;
	}
	if (h->flags != 0 && c->version < 2) {
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "truncate: flags "
		    "need protocol version 2");
		return;
	}
	if (before > srv->durable + 1) {
		conn_error(c, h->id, WIRE_E_RANGE, "truncate before LSN %llu: "
		    "above the durable LSN %llu; nothing removed",
		    (unsigned long long)before,
		    (unsigned long long)srv->durable);
		return;
	}
	if (retention_plan(srv, before, &p) != 0) {
		conn_error(c, h->id, WIRE_E_INTERNAL, "out of memory");
		return;
	}
	if (srv->cursors != NULL)
		lowest = cursor_lowest(srv->cursors, name, sizeof name);
	if (lowest != CURSOR_NONE && p.segments > 0 &&
	    p.last_removed > lowest && !(h->flags & WIRE_F_FORCE)) {
		conn_error(c, h->id, c->version >= 2 ? WIRE_E_HELD :
		    WIRE_E_NOT_PERMITTED, "truncate before LSN %llu "
		    "would remove records up to LSN %llu, and cursor %s is at "
		    "LSN %llu; nothing removed (force to go past it)",
		    (unsigned long long)before,
		    (unsigned long long)p.last_removed, name,
		    (unsigned long long)lowest);
		return;
	}
	if (h->flags & WIRE_F_DRY_RUN) {
		conn_send(c, buf, wire_enc_truncate_plan(buf, h->id,
		    p.first_after, p.segments, p.bytes), NULL, 0);
		return;
	}
	if (lowest != CURSOR_NONE && p.segments > 0 && p.last_removed > lowest)
		log_warn("truncate before LSN %llu forced past cursor %s (at "
		    "LSN %llu) by uid %ld pid %ld", (unsigned long long)before,
		    name, (unsigned long long)lowest, (long)c->uid,
		    (long)c->pid);
	if (retention_cut(srv, before, "truncate", &first, &cause) != 0) {
		conn_error(c, h->id, WIRE_E_IO, "truncate: %s", cause);
		free(cause);
		return;
	}
	conn_reply_u64(c, WIRE_OP_TRUNCATE, h->id, first);
}

/* READ: checked against the access list, then streamed (stream.c). */
static void
request_read(struct conn *c, const struct wire_hdr *h, const uint8_t *body,
    size_t n)
{
	struct wire_read	 r;
	const char		*why;

	if (wire_dec_read(body, n, &r, &why) != 0) {
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "read: %s", why);
		return;
	}
	if ((h->flags & (WIRE_F_SINCE|WIRE_F_UNTIL)) != 0 &&
	    (c->version < 2 || n != WIRE_READ_TIMES_LEN)) {
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "read: flags SINCE "
		    "and UNTIL need protocol version 2 and a 40-byte body");
		return;
	}
	/* A filter on a forbidden tenant is refused up front; otherwise
	   the stream skips the records of tenants the peer may not read. */
	if (!request_permitted(c, h->id, ACCESS_READ,
	    (h->flags & WIRE_F_TENANT) != 0, r.tenant))
		return;
	stream_open(c, h->id, h->flags, &r);
}

/* STATS: the stats text (server-stats.c). */
static void
request_stats(struct conn *c, uint64_t id)
{
	struct evbuffer	*eb;
	uint8_t		 buf[WIRE_ENC_MAX];
	size_t		 len;

	if ((eb = evbuffer_new()) == NULL) {
		conn_error(c, id, WIRE_E_INTERNAL, "out of memory");
		return;
	}
	server_stats_fill(c->srv, eb);
	len = evbuffer_get_length(eb);
	wire_enc_hdr(buf, WIRE_OP_STATS | WIRE_REPLY, 0, id, len);
	conn_send(c, buf, WIRE_HDR_LEN, evbuffer_pullup(eb, -1), len);
	evbuffer_free(eb);
}

/* HELLO: the version both speak, and the limits this walld applies. */
static void
request_hello(struct conn *c, const struct wire_hdr *h, const uint8_t *body,
    size_t n)
{
	struct wire_hello	 hello;
	const char		*why;
	uint8_t			 buf[WIRE_ENC_MAX];
	const char		*version = "walld " WALD_VERSION;

	if (wire_dec_hello(body, n, &hello, &why) != 0) {
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "hello: %s", why);
		return;
	}
	/* The newest version both speak. */
	if (hello.min_version > WIRE_VERSION ||
	    hello.max_version < WIRE_VERSION_MIN ||
	    hello.min_version > hello.max_version) {
		conn_fatal(c, h->id, WIRE_E_VERSION, "protocol versions %u..%u "
		    "are not supported; this walld speaks %u..%u",
		    hello.min_version, hello.max_version, WIRE_VERSION_MIN,
		    WIRE_VERSION);
		return;
	}
	c->version = hello.max_version < WIRE_VERSION ? hello.max_version :
	    WIRE_VERSION;
	/* What walld accepts: the configured limit, or the WAL's when it
	   lowered it (a record must fit a segment). The connection keeps it
	   while it lasts, whatever a reload sets later. */
	c->max_record = c->srv->cfg->max_record;
	if (wal_max_record(c->srv->wal) < c->max_record)
		c->max_record = wal_max_record(c->srv->wal);
	c->hello = 1;
	conn_send(c, buf, wire_enc_hello_reply(buf, h->id, c->version,
	    c->max_record, conn_max_frame(c), strlen(version)),
	    version, strlen(version));
}

/* Handles one whole frame: the connection layer's frame_cb. A request
   before HELLO, a body of the wrong size or an unknown op is a protocol
   error (the connection closes); anything else is checked against the
   access list and goes to its handler. */
enum dispatch
request_frame(struct conn *c, const struct wire_hdr *h, const uint8_t *body,
    size_t n)
{
	enum access_op	 aop;

	if (!c->hello && h->op != WIRE_OP_HELLO) {
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "%s before hello",
		    wire_op_name(h->op));
		return (DISPATCH_DONE);
	}
	switch (h->op) {
	case WIRE_OP_SYNC:
	case WIRE_OP_SEAL:
	case WIRE_OP_ROTATE:
	case WIRE_OP_STATS:
	case WIRE_OP_PING:
	case WIRE_OP_READ_CANCEL:
	case WIRE_OP_RELOAD:
	case WIRE_OP_VERIFY:
		if (n != 0) {
			conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "%s: the body "
			    "must be empty, not %zu bytes", wire_op_name(h->op),
			    n);
			return (DISPATCH_DONE);
		}
		break;
	}
	/* Append and read are checked with their tenant, once decoded. */
	if (h->op != WIRE_OP_APPEND && h->op != WIRE_OP_READ &&
	    access_op_of_wire(h->op, &aop) == 0 &&
	    !request_permitted(c, h->id, aop, 0, 0))
		return (DISPATCH_DONE);
	switch (h->op) {
	case WIRE_OP_HELLO:
		if (c->hello)
			conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "second hello");
		else
			request_hello(c, h, body, n);
		break;
	case WIRE_OP_APPEND:
		return (request_append(c, h, body, n));
	case WIRE_OP_SYNC:
		request_sync(c, h);
		break;
	case WIRE_OP_SEAL:
	case WIRE_OP_ROTATE:
		return (request_control(c, h));
	case WIRE_OP_TRUNCATE:
		request_log_admin(c, h);
		request_truncate(c, h, body, n);
		break;
	case WIRE_OP_RELOAD:
		server_reload_request(c, h->id);
		break;
	case WIRE_OP_VERIFY:
		if (c->version < 2) {
			conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "verify needs "
			    "protocol version 2");
			break;
		}
		scrub_request(c, h->id);
		break;
	case WIRE_OP_READ:
		request_read(c, h, body, n);
		break;
	case WIRE_OP_READ_CANCEL:
		stream_cancel(c, h->id);
		break;
	case WIRE_OP_STATS:
		request_stats(c, h->id);
		break;
	case WIRE_OP_PING:
		conn_reply_empty(c, WIRE_OP_PING, h->id);
		break;
	case WIRE_OP_CURSOR_CREATE:
	case WIRE_OP_CURSOR_COMMIT:
	case WIRE_OP_CURSOR_GET:
	case WIRE_OP_CURSOR_LIST:
	case WIRE_OP_CURSOR_DROP:
		server_cursor_request(c, h, body, n);
		break;
	default:
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "unknown operation "
		    "0x%02x", h->op);
		break;
	}
	return (DISPATCH_DONE);
}
