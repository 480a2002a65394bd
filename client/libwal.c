/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libwal.c: the walld client library (libwal.h is its documentation), as
 * an application meets it: connecting and the HELLO exchange, the blocking
 * calls, submit, pump and completions, and read cursors. The machinery
 * under them (requests in flight, framing, replies) is libwal-io.c's.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libwal.h"
#include "libwal-int.h"
#include "wire.h"

/* Names a result. */
const char *
wal_result_name(enum wal_result r)
{
	switch (r) {
	case WAL_RESULT_OK:		return ("ok");
	case WAL_RESULT_UNKNOWN:	return ("outcome unknown");
	case WAL_RESULT_BAD_REQUEST:	return ("bad request");
	case WAL_RESULT_TOO_LARGE:	return ("too large");
	case WAL_RESULT_NOT_PERMITTED:	return ("not permitted");
	case WAL_RESULT_SEALED:		return ("sealed");
	case WAL_RESULT_NO_SPACE:	return ("no space");
	case WAL_RESULT_SHUTTING_DOWN:	return ("shutting down");
	case WAL_RESULT_VERSION:	return ("unsupported version");
	case WAL_RESULT_RANGE:		return ("out of range");
	case WAL_RESULT_BUSY:		return ("busy");
	case WAL_RESULT_INTERNAL:	return ("internal error");
	case WAL_RESULT_UNAVAILABLE:	return ("unavailable");
	case WAL_RESULT_CLOSED:		return ("connection closed");
	case WAL_RESULT_PROTOCOL:	return ("protocol error");
	case WAL_RESULT_SYSTEM:		return ("system error");
	case WAL_RESULT_INVALID:	return ("invalid argument");
	case WAL_RESULT_REPL_UNAVAILABLE: return ("durable, not replicated");
	case WAL_RESULT_REPL_BACKLOG:	return ("replication backlog full");
	case WAL_RESULT_NOT_FOUND:	return ("not found");
	case WAL_RESULT_SEQUENCE:	return ("sequence out of order");
	case WAL_RESULT_HELD:		return ("held by a cursor");
	case WAL_RESULT_DAMAGED:	return ("damaged");
	case WAL_RESULT_CONFIG:		return ("reload refused");
	}
	return ("unknown result");
}

/* Tells whether a failed request may be sent again as it is. */
int
wal_result_retryable(enum wal_result r)
{
	return (r == WAL_RESULT_NO_SPACE || r == WAL_RESULT_SHUTTING_DOWN ||
	    r == WAL_RESULT_BUSY || r == WAL_RESULT_CLOSED ||
	    r == WAL_RESULT_REPL_BACKLOG);
}


/* Sends one request and waits for its reply (blocking calls). */
enum wal_result
libwal_call(struct wal_conn *c, uint8_t op, uint8_t flags,
    const uint8_t *fixed, size_t flen, const void *tail, size_t tlen,
    uint64_t *v, int timeout_ms)
{
	struct libwal_req	*r;
	enum wal_result		 res;
	int64_t			 deadline;

	res = libwal_enqueue(c, op, flags, fixed, flen, tail, tlen, 1, &r);
	if (res != WAL_RESULT_OK)
		return (res);
	c->w_id = r->id;
	c->w_done = 0;

	deadline = libwal_deadline(timeout_ms);
	while (!c->w_done) {
		if (libwal_step(c, deadline) == -1) {
			libwal_break(c, WAL_RESULT_UNKNOWN,
			    "timed out waiting for walld");
		}
	}
	c->w_id = 0;
	if (c->w_result == WAL_RESULT_OK && v != NULL)
		*v = c->w_u64;
	return (c->w_result);
}

/* Sends HELLO and takes the server's limits. */
static enum wal_result
libwal_hello(struct wal_conn *c, int timeout_ms)
{
	uint8_t	frame[WIRE_ENC_MAX];
	size_t	n;

	/* The encoder's body; libwal_enqueue writes the header with the id. */
	n = wire_enc_hello(frame, 0, WIRE_VERSION_MIN, WIRE_VERSION);
	return (libwal_call(c, WIRE_OP_HELLO, 0, frame + WIRE_HDR_LEN,
	    n - WIRE_HDR_LEN, NULL, 0, NULL, timeout_ms));
}

/* Connects the socket within the deadline; -1 with result and *cause. */
static int
libwal_connect(int fd, const char *path, int64_t deadline,
    enum wal_result *res, char **cause)
{
	struct sockaddr_un	sun;
	struct pollfd		pfd;
	socklen_t		sl;
	int			err;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		*res = WAL_RESULT_INVALID;
		*cause = libwal_fmt("%s: socket path too long", path);
		return (-1);
	}
	strcpy(sun.sun_path, path);

	for (;;) {
		if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
			return (0);
		err = errno;
		if (err == EINTR)
			continue;
		if (err == EAGAIN && libwal_left(deadline) != 0) {
			/* The listen backlog is full: walld is busy. */
			poll(NULL, 0, 10);
			continue;
		}
		if (err == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, libwal_left(deadline)) == 1) {
				sl = sizeof err;
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
				    &sl) == 0 && err == 0)
					return (0);
			} else
				err = ETIMEDOUT;
		}
		break;
	}
	if (err == EACCES || err == EPERM)
		*res = WAL_RESULT_NOT_PERMITTED;
	else if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR ||
	    err == EAGAIN || err == ETIMEDOUT || err == ENOTSOCK)
		*res = WAL_RESULT_UNAVAILABLE;
	else
		*res = WAL_RESULT_SYSTEM;
	*cause = libwal_fmt("connect to %s: %s", path, strerror(err));
	errno = err;
	return (-1);
}

/* Connects to walld and does the HELLO exchange. */
enum wal_result
wal_conn_open(struct wal_conn **connp, const char *path, int timeout_ms,
    char **cause)
{
	struct wal_conn	*c;
	enum wal_result	 res;
	int64_t		 deadline = libwal_deadline(timeout_ms);
	char		*why = NULL;

	*connp = NULL;
	if (path == NULL || *path == '\0')
		path = getenv(WAL_SOCKET_ENV);
	if (path == NULL || *path == '\0')
		path = WAL_SOCKET_DEFAULT;

	if ((c = calloc(1, sizeof *c)) == NULL)
		goto nomem;
	c->fd = -1;
	c->next_id = 1;
	c->oldest = 1;
	c->timeout_ms = -1;
	c->out_cap = c->in_cap = LIBWAL_BUF_INIT;
	c->reqs_cap = c->done_cap = LIBWAL_RING_INIT;
	c->out = malloc(c->out_cap);
	c->in = malloc(c->in_cap);
	c->reqs = calloc(c->reqs_cap, sizeof *c->reqs);
	c->done = calloc(c->done_cap, sizeof *c->done);
	if (c->out == NULL || c->in == NULL || c->reqs == NULL ||
	    c->done == NULL)
		goto nomem;

	c->fd = socket(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		res = WAL_RESULT_SYSTEM;
		why = libwal_fmt("socket: %s", strerror(errno));
		goto fail;
	}
	if (libwal_connect(c->fd, path, deadline, &res, &why) == -1)
		goto fail;

	res = libwal_hello(c, libwal_left(deadline));
	if (res != WAL_RESULT_OK) {
		if (res == WAL_RESULT_UNKNOWN || res == WAL_RESULT_CLOSED)
			res = WAL_RESULT_UNAVAILABLE;
		why = libwal_fmt("hello to %s: %s", path, wal_conn_error(c));
		goto fail;
	}
	*connp = c;
	return (WAL_RESULT_OK);

nomem:
	res = WAL_RESULT_SYSTEM;
	why = libwal_fmt("out of memory");
fail:
	if (cause != NULL)
		*cause = why;
	else
		free(why);
	if (c != NULL)
		wal_conn_close(c);
	return (res);
}

/* Closes the socket and frees the connection. */
void
wal_conn_close(struct wal_conn *c)
{
	struct wal_cursor	*cur;
	size_t			 i;

	if (c == NULL)
		return;
	for (cur = c->cursors; cur != NULL; cur = cur->next)
		cur->conn = NULL;
	if (c->fd != -1)
		close(c->fd);
	for (i = 0; i < c->done_count; i++)
		free(c->done[(c->done_head + i) % c->done_cap].msg);
	free(c->done);
	free(c->done_msg);
	free(c->reqs);
	free(c->in);
	free(c->out);
	free(c->server);
	free(c->w_text);
	free(c->w_body);
	free(c->err);
	free(c->hangup);
	free(c);
}

/* The server's largest payload. */
uint32_t
wal_conn_max_record(struct wal_conn *c)
{
	return (c->max_record);
}

/* The server's largest accepted frame. */
uint32_t
wal_conn_max_frame(struct wal_conn *c)
{
	return (c->max_frame);
}

/* The protocol version in use. */
uint16_t
wal_conn_version(struct wal_conn *c)
{
	return (c->version);
}

/* The server's version string. */
const char *
wal_conn_server(struct wal_conn *c)
{
	return (c->server != NULL ? c->server : "");
}

/* Sets the time limit of blocking calls. */
void
wal_conn_set_timeout(struct wal_conn *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

/* The acknowledgement level of later appends and syncs. */
void
wal_conn_set_ack(struct wal_conn *c, enum wal_ack ack)
{
	c->ack = ack == WAL_ACK_REPLICATED ? WIRE_F_REPLICATED :
	    ack == WAL_ACK_LOCAL ? WIRE_F_LOCAL : 0;
}

/* The message of the last failure. */
const char *
wal_conn_error(struct wal_conn *c)
{
	return (c->err != NULL ? c->err : "no error");
}

/* The daemon's code of the last failure (0: local). */
uint16_t
wal_conn_error_code(struct wal_conn *c)
{
	return (c->err_code);
}

/* Tells whether the connection is closed. */
int
wal_conn_closed(struct wal_conn *c)
{
	return (c->closed);
}

/* Checks a payload against the server's limit before sending. */
int
libwal_check_len(struct wal_conn *c, size_t len)
{
	if (len > c->max_record) {
		libwal_seterr(c, 0, "record of %zu bytes is above walld's "
		    "limit of %u bytes", len, c->max_record);
		return (-1);
	}
	return (0);
}

/* Appends with or without waiting for durability. */
static enum wal_result
libwal_append(struct wal_conn *c, uint8_t flags, uint16_t type,
    uint32_t tenant, uint16_t vshard, const void *data, size_t len,
    uint64_t *lsn)
{
	uint8_t	fixed[WIRE_ENC_MAX];
	size_t	off;

	if (libwal_check_len(c, len) == -1)
		return (WAL_RESULT_TOO_LARGE);
	off = wire_enc_append(fixed, 0, flags, type, vshard, tenant, len);
	return (libwal_call(c, WIRE_OP_APPEND, flags, fixed + WIRE_HDR_LEN,
	    off - WIRE_HDR_LEN, data, len, lsn, c->timeout_ms));
}

/* Appends one record and waits until it is durable. */
enum wal_result
wal_conn_append(struct wal_conn *c, uint16_t type, uint32_t tenant,
    uint16_t vshard, const void *data, size_t len, uint64_t *lsn)
{
	return (libwal_append(c, c->ack, type, tenant, vshard, data, len,
	    lsn));
}

/* Appends one record and waits for its LSN only. */
enum wal_result
wal_conn_append_nowait(struct wal_conn *c, uint16_t type, uint32_t tenant,
    uint16_t vshard, const void *data, size_t len, uint64_t *lsn)
{
	return (libwal_append(c, WIRE_F_NOWAIT, type, tenant, vshard, data,
	    len, lsn));
}

/* Waits until everything sent before is durable. */
enum wal_result
wal_conn_sync(struct wal_conn *c, uint64_t *durable)
{
	return (libwal_call(c, WIRE_OP_SYNC, c->ack, NULL, 0, NULL, 0, durable,
	    c->timeout_ms));
}

/* Seals the log. */
enum wal_result
wal_conn_seal(struct wal_conn *c, uint64_t *last)
{
	return (libwal_call(c, WIRE_OP_SEAL, 0, NULL, 0, NULL, 0, last,
	    c->timeout_ms));
}

/* Starts a new segment. */
enum wal_result
wal_conn_rotate(struct wal_conn *c, uint64_t *first)
{
	return (libwal_call(c, WIRE_OP_ROTATE, 0, NULL, 0, NULL, 0, first,
	    c->timeout_ms));
}

/* Deletes the segments wholly below before. */
enum wal_result
wal_conn_truncate(struct wal_conn *c, uint64_t before, uint64_t *new_first)
{
	uint8_t	frame[WIRE_ENC_MAX];

	wire_enc_u64(frame, WIRE_OP_TRUNCATE, 0, before);
	return (libwal_call(c, WIRE_OP_TRUNCATE, 0, frame + WIRE_HDR_LEN, 8,
	    NULL, 0, new_first, c->timeout_ms));
}

/* Truncates with guard rails, or says what would go. */
enum wal_result
wal_conn_truncate_ex(struct wal_conn *c, uint64_t before, int flags,
    uint64_t *new_first, uint64_t *segments, uint64_t *bytes)
{
	uint8_t		frame[WIRE_ENC_MAX], wf = 0;
	enum wal_result	r;

	if (flags & ~(WAL_TRUNCATE_DRY_RUN | WAL_TRUNCATE_FORCE)) {
		libwal_seterr(c, 0, "unknown truncate flags %#x", flags);
		return (WAL_RESULT_INVALID);
	}
	if (flags != 0 && c->version < 2) {
		libwal_seterr(c, 0, "walld speaks protocol version %u: "
		    "truncate's dry run and force need version 2", c->version);
		return (WAL_RESULT_VERSION);
	}
	if (flags & WAL_TRUNCATE_DRY_RUN)
		wf |= WIRE_F_DRY_RUN;
	if (flags & WAL_TRUNCATE_FORCE)
		wf |= WIRE_F_FORCE;
	c->w_plan[0] = c->w_plan[1] = 0;
	wire_enc_u64(frame, WIRE_OP_TRUNCATE, 0, before);
	r = libwal_call(c, WIRE_OP_TRUNCATE, wf, frame + WIRE_HDR_LEN, 8,
	    NULL, 0, new_first, c->timeout_ms);
	if (segments != NULL)
		*segments = c->w_plan[0];
	if (bytes != NULL)
		*bytes = c->w_plan[1];
	return (r);
}

/* Fetches the metrics text. */
enum wal_result
wal_conn_stats(struct wal_conn *c, char **text)
{
	enum wal_result	res;

	*text = NULL;
	res = libwal_call(c, WIRE_OP_STATS, 0, NULL, 0, NULL, 0, NULL,
	    c->timeout_ms);
	if (res == WAL_RESULT_OK) {
		*text = c->w_text;
		c->w_text = NULL;
		if (*text == NULL && (*text = strdup("")) == NULL) {
			libwal_seterr(c, 0, "out of memory");
			return (WAL_RESULT_SYSTEM);
		}
	}
	return (res);
}

/* Round trip. */
enum wal_result
wal_conn_ping(struct wal_conn *c)
{
	return (libwal_call(c, WIRE_OP_PING, 0, NULL, 0, NULL, 0, NULL,
	    c->timeout_ms));
}

/* Asks walld to reload its configuration. */
enum wal_result
wal_conn_reload(struct wal_conn *c)
{
	return (libwal_call(c, WIRE_OP_RELOAD, 0, NULL, 0, NULL, 0, NULL,
	    c->timeout_ms));
}

/* Queues a request whose completion the application takes. */
enum wal_result
libwal_submit(struct wal_conn *c, uint8_t op, uint8_t flags,
    const uint8_t *fixed, size_t flen, const void *tail, size_t tlen,
    uint64_t *id)
{
	struct libwal_req	*r;
	enum wal_result		 res;

	res = libwal_enqueue(c, op, flags, fixed, flen, tail, tlen, 0, &r);
	if (res != WAL_RESULT_OK)
		return (res);
	*id = r->id;
	/* Writes, but never reads: a reply taken here would sit among the
	   completions while the caller's loop waits for the socket. */
	if (c->out_len - c->out_off >= LIBWAL_FLUSH_AT)
		libwal_flush(c);
	return (WAL_RESULT_OK);
}

/* Queues an append. */
enum wal_result
wal_conn_submit_append(struct wal_conn *c, uint16_t type, uint32_t tenant,
    uint16_t vshard, const void *data, size_t len, int flags, uint64_t *id)
{
	uint8_t	fixed[WIRE_ENC_MAX];
	uint8_t	wf = 0;
	size_t	off;

	if (flags & ~WAL_APPEND_NOWAIT) {
		libwal_seterr(c, 0, "unknown append flags %#x", flags);
		return (WAL_RESULT_INVALID);
	}
	if (flags & WAL_APPEND_NOWAIT)
		wf |= WIRE_F_NOWAIT;
	else
		wf |= c->ack;
	if (libwal_check_len(c, len) == -1)
		return (WAL_RESULT_TOO_LARGE);
	off = wire_enc_append(fixed, 0, wf, type, vshard, tenant, len);
	return (libwal_submit(c, WIRE_OP_APPEND, wf, fixed + WIRE_HDR_LEN,
	    off - WIRE_HDR_LEN, data, len, id));
}

/* Queues a sync. */
enum wal_result
wal_conn_submit_sync(struct wal_conn *c, uint64_t *id)
{
	return (libwal_submit(c, WIRE_OP_SYNC, c->ack, NULL, 0, NULL, 0, id));
}

/* The socket, for an event loop. */
int
wal_conn_fd(struct wal_conn *c)
{
	return (c->fd);
}

/* The poll events the connection needs. */
short
wal_conn_events(struct wal_conn *c)
{
	if (c->out_off < c->out_len)
		return (POLLIN|POLLOUT);
	return (POLLIN);
}

/* Writes and reads what the socket allows, without blocking. */
enum wal_result
wal_conn_pump(struct wal_conn *c)
{
	libwal_flush(c);
	if (!c->closed)
		libwal_read(c);
	return (c->closed ? c->close_result : WAL_RESULT_OK);
}

/* Takes the next completion, if any. */
int
wal_conn_completion(struct wal_conn *c, struct wal_completion *comp)
{
	struct libwal_done	*d;

	if (c->done_count == 0)
		return (0);
	d = &c->done[c->done_head];
	c->done_head = (c->done_head + 1) % c->done_cap;
	c->done_count--;
	free(c->done_msg);
	c->done_msg = d->msg;
	d->msg = NULL;
	comp->id = d->id;
	comp->result = d->result;
	comp->code = d->code;
	comp->lsn = d->lsn;
	comp->msg = c->done_msg;
	if (comp->result != WAL_RESULT_OK && comp->msg == NULL)
		comp->msg = wal_result_name(comp->result);
	return (1);
}

/* Waits for the next completion. */
int
wal_conn_wait(struct wal_conn *c, int timeout_ms, struct wal_completion *comp)
{
	int64_t	deadline = libwal_deadline(timeout_ms);

	for (;;) {
		if (wal_conn_completion(c, comp))
			return (1);
		if (c->nsubmitted == 0 || c->closed)
			return (-1);
		if (libwal_step(c, deadline) == -1)
			return (0);
	}
}

/* Submitted requests whose completions were not taken. */
size_t
wal_conn_inflight(struct wal_conn *c)
{
	return (c->nsubmitted + c->done_count);
}

/* Bytes queued and not yet written. */
size_t
wal_conn_output_pending(struct wal_conn *c)
{
	return (c->out_len - c->out_off);
}

/* Starts a read stream. */
enum wal_result
wal_cursor_open(struct wal_conn *c, const struct wal_cursor_opts *o,
    struct wal_cursor **curp)
{
	struct wal_cursor	*cur;
	struct wire_read	 rd;
	uint8_t			 frame[WIRE_ENC_MAX], flags = 0;
	size_t			 n;

	*curp = NULL;
	if (c->closed) {
		libwal_seterr(c, 0, "connection closed: %s",
		    wal_result_name(c->close_result));
		return (WAL_RESULT_CLOSED);
	}
	if (o->to != 0 && o->to < o->from) {
		libwal_seterr(c, 0, "read range ends (%llu) before it "
		    "starts (%llu)", (unsigned long long)o->to,
		    (unsigned long long)o->from);
		return (WAL_RESULT_INVALID);
	}
	if ((o->has_since || o->has_until) && c->version < 2) {
		libwal_seterr(c, 0, "walld speaks protocol version %u: reading "
		    "by time needs version 2", c->version);
		return (WAL_RESULT_VERSION);
	}
	if ((cur = calloc(1, sizeof *cur)) == NULL) {
		libwal_seterr(c, 0, "out of memory for a cursor");
		return (WAL_RESULT_SYSTEM);
	}
	memset(&rd, 0, sizeof rd);
	rd.from = o->from;
	rd.to = o->to;
	if (o->follow)
		flags |= WIRE_F_FOLLOW;
	if (o->has_tenant) {
		flags |= WIRE_F_TENANT;
		rd.tenant = o->tenant;
	}
	if (o->has_vshard) {
		flags |= WIRE_F_VSHARD;
		rd.vshard = o->vshard;
	}
	if (o->has_type) {
		flags |= WIRE_F_TYPE;
		rd.type = o->type;
	}
	if (o->has_since) {
		flags |= WIRE_F_SINCE;
		rd.since_ns = o->since_ns;
	}
	if (o->has_until) {
		flags |= WIRE_F_UNTIL;
		rd.until_ns = o->until_ns;
	}
	cur->id = c->next_id++;
	n = wire_enc_read(frame, cur->id, flags, &rd);
	if (libwal_queue(c, frame, n, NULL, 0) == -1) {
		free(cur);
		return (WAL_RESULT_SYSTEM);
	}
	cur->conn = c;
	cur->state = LIBWAL_CUR_RUNNING;
	cur->next = c->cursors;
	c->cursors = cur;
	libwal_flush(c);
	*curp = cur;
	return (WAL_RESULT_OK);
}

/* Hands out the next stored record. */
static void
libwal_cursor_pop(struct wal_cursor *cur, struct wal_entry *e)
{
	struct wire_record	 rec;
	const char		*cause;
	uint32_t		 len;

	memcpy(&len, cur->buf + cur->rd, sizeof len);
	/* Checked when it arrived. */
	(void)wire_dec_record(cur->buf + cur->rd + sizeof len, len, &rec,
	    &cause);
	cur->rd += sizeof len + len;
	e->lsn = rec.lsn;
	e->type = rec.type;
	e->vshard = rec.vshard;
	e->tenant = rec.tenant;
	e->len = rec.len;
	e->payload = rec.payload;
}

/* Waits for the next record of the stream. */
int
wal_cursor_next(struct wal_cursor *cur, int timeout_ms, struct wal_entry *e)
{
	struct wal_conn	*c = cur->conn;
	int64_t		 deadline = libwal_deadline(timeout_ms);

	/* The record handed out last is no longer needed. */
	if (cur->rd == cur->wr)
		cur->rd = cur->wr = 0;
	for (;;) {
		if (cur->rd < cur->wr) {
			libwal_cursor_pop(cur, e);
			return (1);
		}
		if (cur->state == LIBWAL_CUR_ENDED)
			return (0);
		if (cur->state == LIBWAL_CUR_FAILED)
			return (-1);
		if (c == NULL) {
			libwal_cursor_fail(cur, WAL_RESULT_CLOSED,
			    "connection closed", 17);
			return (-1);
		}
		if (timeout_ms == 0) {
			wal_conn_pump(c);
			if (cur->rd < cur->wr || cur->state !=
			    LIBWAL_CUR_RUNNING)
				continue;
			return (WAL_CURSOR_AGAIN);
		}
		if (libwal_step(c, deadline) == -1)
			return (WAL_CURSOR_AGAIN);
	}
}

/* 1 when the read ended at the end of a sealed log. */
int
wal_cursor_sealed(struct wal_cursor *cur)
{
	return (cur->state == LIBWAL_CUR_ENDED && cur->sealed_end);
}

/* 1 when walld ended a follow read because it is past its until time. */
int
wal_cursor_until_end(struct wal_cursor *cur)
{
	return (cur->state == LIBWAL_CUR_ENDED && cur->until_end);
}

/* Where a later read should start. */
uint64_t
wal_cursor_next_lsn(struct wal_cursor *cur)
{
	return (cur->next_lsn);
}

/* Why the stream failed. */
enum wal_result
wal_cursor_result(struct wal_cursor *cur)
{
	return (cur->state == LIBWAL_CUR_FAILED ? cur->result :
	    WAL_RESULT_OK);
}

/* The message of the stream failure. */
const char *
wal_cursor_error(struct wal_cursor *cur)
{
	return (cur->err != NULL ? cur->err : "no error");
}

/* Cancels the read if it runs, drains it, and frees the cursor. */
void
wal_cursor_close(struct wal_cursor *cur)
{
	struct wal_conn		 *c = cur->conn;
	struct wal_cursor	**pp;
	uint8_t			  frame[WIRE_ENC_MAX];
	int64_t			  deadline;
	size_t			  n;

	if (c != NULL && !c->closed && cur->state == LIBWAL_CUR_RUNNING) {
		cur->closing = 1;
		n = wire_enc_hdr(frame, WIRE_OP_READ_CANCEL, 0, cur->id, 0);
		if (libwal_queue(c, frame, n, NULL, 0) == -1)
			libwal_break(c, WAL_RESULT_SYSTEM, "out of memory");
		deadline = libwal_deadline(c->timeout_ms);
		while (cur->state == LIBWAL_CUR_RUNNING) {
			if (libwal_step(c, deadline) == -1)
				libwal_break(c, WAL_RESULT_UNKNOWN,
				    "timed out cancelling a read");
		}
	}
	if (c != NULL) {
		for (pp = &c->cursors; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == cur) {
				*pp = cur->next;
				break;
			}
		}
	}
	free(cur->buf);
	free(cur->err);
	free(cur);
}
