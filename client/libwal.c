/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libwal.c: the walld client library (libwal.h is its documentation).
 * One non-blocking socket per connection, an output buffer written in large
 * sends, an input buffer cut into frames, a ring of requests in flight keyed
 * by id, a queue of completions, and read cursors.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libwal.h"
#include "wire.h"

#define LIBWAL_BUF_INIT		(64u << 10)	/* first size of in/out buffers */
#define LIBWAL_FLUSH_AT		(256u << 10)	/* submit writes past this much */
#define LIBWAL_RING_INIT	1024		/* first request ring size */

/* A request in flight, in the ring slot of its id. */
struct libwal_req {
	uint64_t	 id;
	uint64_t	 end;		/* output stream offset after its last byte */
	uint8_t		 op;
	uint8_t		 active;
	uint8_t		 waited;	/* a blocking call waits: no completion */
};

/* A completion not yet taken by the application. */
struct libwal_done {
	uint64_t	 id;
	enum wal_result	 result;
	uint16_t	 code;
	uint64_t	 lsn;
	char		*msg;		/* allocated, only on failure */
};

enum libwal_cur_state { LIBWAL_CUR_RUNNING, LIBWAL_CUR_ENDED,
    LIBWAL_CUR_FAILED };

struct wal_cursor {
	struct wal_conn		*conn;		/* NULL once detached */
	struct wal_cursor	*next;		/* the connection's list */
	uint64_t		 id;
	enum libwal_cur_state	 state;
	int			 closing;	/* drop records: close drains */
	uint64_t		 next_lsn;
	enum wal_result		 result;
	char			*err;

	/* Records received: u32 body length, then the RECORD body. */
	uint8_t			*buf;
	size_t			 rd, wr, cap;
};

struct wal_conn {
	int			 fd;
	int			 closed;
	enum wal_result		 close_result;
	uint64_t		 next_id;
	int			 timeout_ms;
	uint8_t			 ack;		/* WIRE_F_REPLICATED, _LOCAL or 0 */

	uint16_t		 version;
	uint32_t		 max_record;
	uint32_t		 max_frame;	/* 0 until the HELLO reply */
	uint32_t		 recv_max;	/* largest frame walld may send */
	char			*server;

	uint8_t			*out;
	size_t			 out_off, out_len, out_cap;
	uint64_t		 queued;	/* bytes ever queued */
	uint64_t		 sent;		/* bytes ever written */

	uint8_t			*in;
	size_t			 in_off, in_len, in_cap;

	struct libwal_req	*reqs;		/* ring, reqs_cap a power of 2 */
	size_t			 reqs_cap;
	uint64_t		 oldest;	/* no active request below this id */
	size_t			 nreqs;		/* active requests */
	size_t			 nsubmitted;	/* active and not waited */

	struct libwal_done	*done;		/* ring of completions */
	size_t			 done_cap, done_head, done_count;
	char			*done_msg;	/* message of the last one taken */

	/* The reply a blocking call waits for. */
	uint64_t		 w_id;
	int			 w_done;
	enum wal_result		 w_result;
	uint64_t		 w_u64;
	char			*w_text;

	struct wal_cursor	*cursors;

	char			*err;
	uint16_t		 err_code;
	char			*hangup;	/* ERROR received for no request */
};

static void	libwal_break(struct wal_conn *, enum wal_result, const char *);

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

/* Formats into a new string; NULL only when out of memory. */
static char *
libwal_vfmt(const char *fmt, va_list ap)
{
	char	*s;

	if (vasprintf(&s, fmt, ap) == -1)
		return (NULL);
	return (s);
}

/* Formats into a new string, or a static one when out of memory. */
static char *
libwal_fmt(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = libwal_vfmt(fmt, ap);
	va_end(ap);
	return (s);
}

/* Sets the connection's error message and daemon code. */
static void
libwal_seterr(struct wal_conn *c, uint16_t code, const char *fmt, ...)
{
	va_list	 ap;

	free(c->err);
	va_start(ap, fmt);
	c->err = libwal_vfmt(fmt, ap);
	va_end(ap);
	c->err_code = code;
}

/* Milliseconds on the monotonic clock. */
static int64_t
libwal_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* A deadline from a timeout; -1 for none. */
static int64_t
libwal_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return (-1);
	return (libwal_now() + timeout_ms);
}

/* Milliseconds left before a deadline, for poll. */
static int
libwal_left(int64_t deadline)
{
	int64_t	left;

	if (deadline < 0)
		return (-1);
	left = deadline - libwal_now();
	if (left < 0)
		return (0);
	if (left > 1000000)
		return (1000000);
	return ((int)left);
}

/* Maps a daemon error code to a result for a request of op. */
static enum wal_result
libwal_map(uint16_t code, uint8_t op)
{
	switch (code) {
	case WIRE_E_BAD_REQUEST:	return (WAL_RESULT_BAD_REQUEST);
	case WIRE_E_TOO_LARGE:		return (WAL_RESULT_TOO_LARGE);
	case WIRE_E_NOT_PERMITTED:	return (WAL_RESULT_NOT_PERMITTED);
	case WIRE_E_SEALED:		return (WAL_RESULT_SEALED);
	case WIRE_E_NO_SPACE:		return (WAL_RESULT_NO_SPACE);
	case WIRE_E_IO:			return (WAL_RESULT_UNKNOWN);
	case WIRE_E_SHUTTING_DOWN:	return (WAL_RESULT_SHUTTING_DOWN);
	case WIRE_E_VERSION:		return (WAL_RESULT_VERSION);
	case WIRE_E_RANGE:		return (WAL_RESULT_RANGE);
	case WIRE_E_BUSY:		return (WAL_RESULT_BUSY);
	case WIRE_E_REPL_UNAVAILABLE:	return (WAL_RESULT_REPL_UNAVAILABLE);
	case WIRE_E_REPL_BACKLOG:	return (WAL_RESULT_REPL_BACKLOG);
	}
	/* INTERNAL, or a code from a later version: for a request that
	   writes, nobody can say whether it was done. */
	switch (op) {
	case WIRE_OP_APPEND:
	case WIRE_OP_SYNC:
	case WIRE_OP_SEAL:
	case WIRE_OP_ROTATE:
	case WIRE_OP_TRUNCATE:
		return (WAL_RESULT_UNKNOWN);
	}
	return (WAL_RESULT_INTERNAL);
}

/* Gives a new request its ring slot; NULL when out of memory. */
static struct libwal_req *
libwal_req_new(struct wal_conn *c, uint8_t op, int waited)
{
	struct libwal_req	*r, *nr;
	uint64_t		 id = c->next_id, i;
	size_t			 cap;

	if (c->nreqs == 0)
		c->oldest = id;
	if (id - c->oldest >= c->reqs_cap) {
		cap = c->reqs_cap * 2;
		while (id - c->oldest >= cap)
			cap *= 2;
		nr = calloc(cap, sizeof *nr);
		if (nr == NULL)
			return (NULL);
		for (i = c->oldest; i < id; i++) {
			r = &c->reqs[i & (c->reqs_cap - 1)];
			if (r->active && r->id == i)
				nr[i & (cap - 1)] = *r;
		}
		free(c->reqs);
		c->reqs = nr;
		c->reqs_cap = cap;
	}
	r = &c->reqs[id & (c->reqs_cap - 1)];
	r->id = id;
	r->end = 0;
	r->op = op;
	r->active = 1;
	r->waited = waited;
	c->next_id++;
	c->nreqs++;
	if (!waited)
		c->nsubmitted++;
	return (r);
}

/* Finds the active request with this id. */
static struct libwal_req *
libwal_req_find(struct wal_conn *c, uint64_t id)
{
	struct libwal_req	*r;

	if (c->nreqs == 0 || id < c->oldest || id >= c->next_id)
		return (NULL);
	r = &c->reqs[id & (c->reqs_cap - 1)];
	if (!r->active || r->id != id)
		return (NULL);
	return (r);
}

/* Retires a request and moves oldest past the ids no longer active. */
static void
libwal_req_end(struct wal_conn *c, struct libwal_req *r)
{
	struct libwal_req	*o;

	r->active = 0;
	c->nreqs--;
	if (!r->waited)
		c->nsubmitted--;
	if (c->nreqs == 0) {
		c->oldest = c->next_id;
		return;
	}
	while (c->oldest < c->next_id) {
		o = &c->reqs[c->oldest & (c->reqs_cap - 1)];
		if (o->active && o->id == c->oldest)
			break;
		c->oldest++;
	}
}

/* Queues a completion for the application. */
static void
libwal_done_push(struct wal_conn *c, uint64_t id, enum wal_result result,
    uint16_t code, uint64_t lsn, const char *msg, size_t msg_len)
{
	struct libwal_done	*nd, *d;
	size_t			 i, cap;

	if (c->done_count == c->done_cap) {
		cap = c->done_cap * 2;
		nd = calloc(cap, sizeof *nd);
		if (nd == NULL) {
			/* Nowhere to keep it: the connection cannot go on. */
			libwal_break(c, WAL_RESULT_SYSTEM,
			    "out of memory for completions");
			return;
		}
		for (i = 0; i < c->done_count; i++)
			nd[i] = c->done[(c->done_head + i) % c->done_cap];
		free(c->done);
		c->done = nd;
		c->done_cap = cap;
		c->done_head = 0;
	}
	d = &c->done[(c->done_head + c->done_count) % c->done_cap];
	d->id = id;
	d->result = result;
	d->code = code;
	d->lsn = lsn;
	d->msg = NULL;
	if (result != WAL_RESULT_OK)
		d->msg = strndup(msg, msg_len);
	c->done_count++;
}

/* Completes a request: to its blocking caller or as a completion. */
static void
libwal_complete(struct wal_conn *c, struct libwal_req *r,
    enum wal_result result, uint16_t code, uint64_t v, const char *msg,
    size_t msg_len)
{
	uint64_t	id = r->id;
	int		waited = r->waited;

	libwal_req_end(c, r);
	if (!waited) {
		libwal_done_push(c, id, result, code, v, msg, msg_len);
		return;
	}
	if (id != c->w_id)
		return;		/* its caller gave up */
	c->w_done = 1;
	c->w_result = result;
	c->w_u64 = v;
	if (result != WAL_RESULT_OK)
		libwal_seterr(c, code, "%.*s", (int)msg_len, msg);
}

/* Ends a cursor's stream with a failure. */
static void
libwal_cursor_fail(struct wal_cursor *cur, enum wal_result result,
    const char *msg, size_t msg_len)
{
	cur->state = LIBWAL_CUR_FAILED;
	cur->result = result;
	free(cur->err);
	cur->err = strndup(msg, msg_len);
}

/*
 * Closes the connection after a fatal error: no byte more is sent or read.
 * Requests in flight complete with UNKNOWN when walld received them whole,
 * with CLOSED when it cannot have (not every byte was written).
 */
static void
libwal_break(struct wal_conn *c, enum wal_result result, const char *why)
{
	struct libwal_req	*r;
	struct wal_cursor	*cur;
	uint64_t		 id;
	char			*msg;
	const char		*m;

	if (c->closed)
		return;
	c->closed = 1;
	c->close_result = result;
	shutdown(c->fd, SHUT_RDWR);
	if (c->hangup != NULL)
		msg = libwal_fmt("%s (walld said: %s)", why, c->hangup);
	else
		msg = strdup(why);
	m = msg != NULL ? msg : why;
	/* A blocking call whose reply arrived before the hang-up keeps that
	   reply's error (walld often answers, then closes). */
	if (c->w_id == 0 || !c->w_done)
		libwal_seterr(c, 0, "%s", m);

	for (id = c->oldest; c->nreqs > 0 && id < c->next_id; id++) {
		r = libwal_req_find(c, id);
		if (r == NULL)
			continue;
		if (c->sent >= r->end)
			libwal_complete(c, r, WAL_RESULT_UNKNOWN, 0, 0, m,
			    strlen(m));
		else
			libwal_complete(c, r, WAL_RESULT_CLOSED, 0, 0, m,
			    strlen(m));
	}
	for (cur = c->cursors; cur != NULL; cur = cur->next) {
		if (cur->state == LIBWAL_CUR_RUNNING)
			libwal_cursor_fail(cur, result, m, strlen(m));
	}
	c->out_off = c->out_len = 0;
	c->in_off = c->in_len = 0;
	free(msg);
}

/* Makes room for n more bytes of output. */
static int
libwal_out_room(struct wal_conn *c, size_t n)
{
	uint8_t	*nb;
	size_t	 cap;

	if (c->out_cap - c->out_len >= n)
		return (0);
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_cap - c->out_len >= n)
			return (0);
	}
	cap = c->out_cap;
	while (cap - c->out_len < n)
		cap *= 2;
	if ((nb = realloc(c->out, cap)) == NULL)
		return (-1);
	c->out = nb;
	c->out_cap = cap;
	return (0);
}

/* Queues a frame: its encoded head and a tail (payload) copied after. */
static int
libwal_queue(struct wal_conn *c, const uint8_t *head, size_t hlen,
    const void *tail, size_t tlen)
{
	if (libwal_out_room(c, hlen + tlen) == -1) {
		libwal_seterr(c, 0, "out of memory for %zu bytes of output",
		    hlen + tlen);
		return (-1);
	}
	memcpy(c->out + c->out_len, head, hlen);
	if (tlen > 0)
		memcpy(c->out + c->out_len + hlen, tail, tlen);
	c->out_len += hlen + tlen;
	c->queued += hlen + tlen;
	return (0);
}

/* Reads what the socket has and dispatches whole frames. */
static void	libwal_read(struct wal_conn *);

/* Writes queued output until the socket would block. */
static void
libwal_flush(struct wal_conn *c)
{
	ssize_t	n;

	while (!c->closed && c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL|MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EPIPE || errno == ECONNRESET) {
				/* Take the replies walld sent before it went. */
				libwal_read(c);
				libwal_break(c, WAL_RESULT_CLOSED,
				    "walld closed the connection");
				return;
			}
			libwal_break(c, WAL_RESULT_SYSTEM, strerror(errno));
			return;
		}
		c->out_off += n;
		c->sent += n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
}

/* Stores a RECORD body in its cursor. */
static int
libwal_cursor_store(struct wal_cursor *cur, const uint8_t *b, size_t n)
{
	uint8_t		*nb;
	uint32_t	 len = n;
	size_t		 cap;

	if (cur->closing)
		return (0);
	if (cur->cap - cur->wr < n + sizeof len) {
		if (cur->rd > 0) {
			memmove(cur->buf, cur->buf + cur->rd, cur->wr - cur->rd);
			cur->wr -= cur->rd;
			cur->rd = 0;
		}
		cap = cur->cap != 0 ? cur->cap : LIBWAL_BUF_INIT;
		while (cap - cur->wr < n + sizeof len)
			cap *= 2;
		if (cap != cur->cap) {
			if ((nb = realloc(cur->buf, cap)) == NULL)
				return (-1);
			cur->buf = nb;
			cur->cap = cap;
		}
	}
	memcpy(cur->buf + cur->wr, &len, sizeof len);
	memcpy(cur->buf + cur->wr + sizeof len, b, n);
	cur->wr += n + sizeof len;
	return (0);
}

/* Finds the cursor reading with this id. */
static struct wal_cursor *
libwal_cursor_find(struct wal_conn *c, uint64_t id)
{
	struct wal_cursor	*cur;

	for (cur = c->cursors; cur != NULL; cur = cur->next) {
		if (cur->id == id && cur->state == LIBWAL_CUR_RUNNING)
			return (cur);
	}
	return (NULL);
}

/* Acts on a frame for a cursor: RECORD, READ_END or ERROR. */
static void
libwal_dispatch_cursor(struct wal_conn *c, struct wal_cursor *cur,
    const struct wire_hdr *h, const uint8_t *b, size_t n)
{
	struct wire_record	 rec;
	struct wire_error	 e;
	const char		*cause;
	uint64_t		 v;

	switch (h->op) {
	case WIRE_OP_RECORD:
		if (wire_dec_record(b, n, &rec, &cause) == -1) {
			libwal_break(c, WAL_RESULT_PROTOCOL, cause);
			return;
		}
		if (libwal_cursor_store(cur, b, n) == -1)
			libwal_break(c, WAL_RESULT_SYSTEM,
			    "out of memory for read records");
		return;
	case WIRE_OP_READ_END:
		if (wire_dec_u64(b, n, &v, &cause) == -1) {
			libwal_break(c, WAL_RESULT_PROTOCOL, cause);
			return;
		}
		cur->next_lsn = v;
		cur->state = LIBWAL_CUR_ENDED;
		return;
	case WIRE_OP_ERROR:
		if (wire_dec_error(b, n, &e, &cause) == -1) {
			libwal_break(c, WAL_RESULT_PROTOCOL, cause);
			return;
		}
		if (e.msg_len == 0) {
			e.msg = wal_result_name(libwal_map(e.code,
			    WIRE_OP_READ));
			e.msg_len = strlen(e.msg);
		}
		libwal_cursor_fail(cur, libwal_map(e.code, WIRE_OP_READ),
		    e.msg, e.msg_len);
		return;
	}
	libwal_break(c, WAL_RESULT_PROTOCOL, "unexpected frame for a read");
}

/* Acts on the reply (or ERROR) to a request. */
static void
libwal_dispatch_reply(struct wal_conn *c, struct libwal_req *r,
    const struct wire_hdr *h, const uint8_t *b, size_t n)
{
	struct wire_hello_reply	 hr;
	struct wire_error	 e;
	const char		*cause;
	uint64_t		 v = 0;

	if (h->op == WIRE_OP_ERROR) {
		if (wire_dec_error(b, n, &e, &cause) == -1) {
			libwal_break(c, WAL_RESULT_PROTOCOL, cause);
			return;
		}
		if (e.msg_len == 0) {
			e.msg = wal_result_name(libwal_map(e.code, r->op));
			e.msg_len = strlen(e.msg);
		}
		libwal_complete(c, r, libwal_map(e.code, r->op), e.code, 0,
		    e.msg, e.msg_len);
		return;
	}
	if (h->op != (r->op | WIRE_REPLY)) {
		libwal_break(c, WAL_RESULT_PROTOCOL,
		    "reply does not match its request");
		return;
	}

	switch (r->op) {
	case WIRE_OP_HELLO:
		if (wire_dec_hello_reply(b, n, &hr, &cause) == -1) {
			libwal_break(c, WAL_RESULT_PROTOCOL, cause);
			return;
		}
		if (hr.version != WIRE_VERSION) {
			libwal_break(c, WAL_RESULT_PROTOCOL,
			    "walld chose a version that was not offered");
			return;
		}
		free(c->server);
		c->server = strndup(hr.server, hr.server_len);
		c->version = hr.version;
		c->max_record = hr.max_record;
		c->max_frame = hr.max_frame;
		/* walld may send a RECORD of max_record, above max_frame. */
		c->recv_max = hr.max_frame;
		if ((uint64_t)hr.max_record + WIRE_HDR_LEN + WIRE_RECORD_FIXED >
		    c->recv_max)
			c->recv_max = hr.max_record + WIRE_HDR_LEN +
			    WIRE_RECORD_FIXED;
		break;
	case WIRE_OP_PING:
		if (n != 0) {
			libwal_break(c, WAL_RESULT_PROTOCOL,
			    "ping reply has a body");
			return;
		}
		break;
	case WIRE_OP_STATS:
		if (r->waited && r->id == c->w_id) {
			free(c->w_text);
			if ((c->w_text = strndup((const char *)b, n)) == NULL) {
				libwal_break(c, WAL_RESULT_SYSTEM,
				    "out of memory for stats");
				return;
			}
		}
		break;
	default:
		if (wire_dec_u64(b, n, &v, &cause) == -1) {
			libwal_break(c, WAL_RESULT_PROTOCOL, cause);
			return;
		}
		break;
	}
	libwal_complete(c, r, WAL_RESULT_OK, 0, v, NULL, 0);
}

/* Acts on one whole frame from walld. */
static void
libwal_dispatch_frame(struct wal_conn *c, const struct wire_hdr *h,
    const uint8_t *b, size_t n)
{
	struct libwal_req	*r;
	struct wal_cursor	*cur;
	struct wire_error	 e;
	const char		*cause;

	if (h->op == WIRE_OP_RECORD || h->op == WIRE_OP_READ_END ||
	    h->op == WIRE_OP_ERROR) {
		if ((cur = libwal_cursor_find(c, h->id)) != NULL) {
			libwal_dispatch_cursor(c, cur, h, b, n);
			return;
		}
	}
	if ((r = libwal_req_find(c, h->id)) != NULL &&
	    (h->op == WIRE_OP_ERROR ||
	    ((h->op & WIRE_REPLY) != 0 && h->op < WIRE_OP_RECORD))) {
		libwal_dispatch_reply(c, r, h, b, n);
		return;
	}
	if (h->op == WIRE_OP_ERROR) {
		/* For no request: walld says why it is about to hang up. */
		if (wire_dec_error(b, n, &e, &cause) == -1) {
			libwal_break(c, WAL_RESULT_PROTOCOL, cause);
			return;
		}
		free(c->hangup);
		c->hangup = libwal_fmt("%s: %.*s", wire_err_name(e.code),
		    (int)e.msg_len, e.msg);
		return;
	}
	libwal_break(c, WAL_RESULT_PROTOCOL, "unexpected frame from walld");
}

/* Cuts the input into frames and dispatches the whole ones. */
static int
libwal_parse(struct wal_conn *c)
{
	struct wire_hdr	 h;
	const char	*cause;
	size_t		 avail;
	uint8_t		*nb;
	int		 rc;

	while (!c->closed) {
		avail = c->in_len - c->in_off;
		rc = wire_peek_hdr(c->in + c->in_off, avail, c->recv_max, &h,
		    &cause);
		if (rc == -1) {
			libwal_break(c, WAL_RESULT_PROTOCOL, cause);
			return (-1);
		}
		if (rc == 0)
			break;
		if (avail < h.len) {
			/* Make room for the whole frame (at most max_frame). */
			if (c->in_cap - c->in_off < h.len && c->in_off > 0) {
				memmove(c->in, c->in + c->in_off, avail);
				c->in_off = 0;
				c->in_len = avail;
			}
			if (c->in_cap < h.len) {
				if ((nb = realloc(c->in, h.len)) == NULL) {
					libwal_break(c, WAL_RESULT_SYSTEM,
					    "out of memory for input");
					return (-1);
				}
				c->in = nb;
				c->in_cap = h.len;
			}
			break;
		}
		libwal_dispatch_frame(c, &h, c->in + c->in_off + WIRE_HDR_LEN,
		    h.len - WIRE_HDR_LEN);
		if (c->closed)
			return (-1);	/* the input is gone with the connection */
		c->in_off += h.len;
	}
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	return (0);
}

/* Reads what the socket has and dispatches whole frames. A read that
   leaves room in the buffer took all there was: no second read just to
   be told EAGAIN (one system call less per reply; the socket is watched
   level-triggered, so anything arriving later is seen at the next poll). */
static void
libwal_read(struct wal_conn *c)
{
	ssize_t	n;
	size_t	room;

	while (!c->closed) {
		if (c->in_len == c->in_cap ||
		    (c->in_off > 0 && c->in_cap - c->in_len < 4096)) {
			memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
			c->in_len -= c->in_off;
			c->in_off = 0;
		}
		room = c->in_cap - c->in_len;
		n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == ECONNRESET) {
				libwal_break(c, WAL_RESULT_CLOSED,
				    "walld closed the connection");
				return;
			}
			libwal_break(c, WAL_RESULT_SYSTEM, strerror(errno));
			return;
		}
		if (n == 0) {
			libwal_break(c, WAL_RESULT_CLOSED,
			    c->in_len > c->in_off ?
			    "walld closed the connection in a frame" :
			    "walld closed the connection");
			return;
		}
		c->in_len += n;
		if (libwal_parse(c) == -1 || (size_t)n < room)
			return;
	}
}

/*
 * Waits for the socket once (until deadline, -1 none), then writes and
 * reads what it can. -1 when the deadline passed with nothing to do.
 */
static int
libwal_step(struct wal_conn *c, int64_t deadline)
{
	struct pollfd	pfd;
	int		n;

	libwal_flush(c);
	if (c->closed)
		return (0);
	pfd.fd = c->fd;
	pfd.events = wal_conn_events(c);
	pfd.revents = 0;
	n = poll(&pfd, 1, libwal_left(deadline));
	if (n == -1) {
		if (errno == EINTR)
			return (0);
		libwal_break(c, WAL_RESULT_SYSTEM, strerror(errno));
		return (0);
	}
	if (n == 0)
		return (-1);
	if (pfd.revents & POLLOUT)
		libwal_flush(c);
	if (pfd.revents & (POLLIN|POLLHUP|POLLERR))
		libwal_read(c);
	return (0);
}

/* Queues one request frame (header, fixed body part, then tail) and its
   ring slot: OK and *rp, or CLOSED or SYSTEM with the error set. */
static enum wal_result
libwal_enqueue(struct wal_conn *c, uint8_t op, uint8_t flags,
    const uint8_t *fixed, size_t flen, const void *tail, size_t tlen,
    int waited, struct libwal_req **rp)
{
	struct libwal_req	*r;
	uint8_t			 head[WIRE_ENC_MAX];
	size_t			 hl;

	if (c->closed) {
		libwal_seterr(c, 0, "connection closed: %s",
		    wal_result_name(c->close_result));
		return (WAL_RESULT_CLOSED);
	}
	if ((r = libwal_req_new(c, op, waited)) == NULL) {
		libwal_seterr(c, 0, "out of memory for a request");
		return (WAL_RESULT_SYSTEM);
	}
	hl = wire_enc_hdr(head, op, flags, r->id, flen + tlen);
	if (flen > 0)
		memcpy(head + hl, fixed, flen);
	if (libwal_queue(c, head, hl + flen, tail, tlen) == -1) {
		libwal_req_end(c, r);
		return (WAL_RESULT_SYSTEM);
	}
	r->end = c->queued;
	*rp = r;
	return (WAL_RESULT_OK);
}

/* Sends one request and waits for its reply (blocking calls). */
static enum wal_result
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
	n = wire_enc_hello(frame, 0, WIRE_VERSION, WIRE_VERSION);
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
static int
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

/* Queues a request whose completion the application takes. */
static enum wal_result
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
