/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libwal-io.c: a connection's machinery under the calls of libwal.c. The
 * ring of requests in flight keyed by id, the output buffer written in
 * large sends, the input buffer cut into frames, and each reply dispatched
 * to its blocking caller, a completion, or a read cursor; and the failure
 * that breaks a connection.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libwal.h"
#include "libwal-int.h"
#include "wire.h"

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
char *
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
void
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
int64_t
libwal_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return (-1);
	return (libwal_now() + timeout_ms);
}

/* Milliseconds left before a deadline, for poll. */
int
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
	case WIRE_E_NOT_FOUND:		return (WAL_RESULT_NOT_FOUND);
	case WIRE_E_HELD:		return (WAL_RESULT_HELD);
	case WIRE_E_SEQUENCE:		return (WAL_RESULT_SEQUENCE);
	case WIRE_E_DAMAGED:		return (WAL_RESULT_DAMAGED);
	case WIRE_E_CONFIG:		return (WAL_RESULT_CONFIG);
	}
	/* INTERNAL, or a code from a later version: for a request that
	   writes, nobody can say whether it was done. */
	switch (op) {
	case WIRE_OP_APPEND:
	case WIRE_OP_SYNC:
	case WIRE_OP_SEAL:
	case WIRE_OP_ROTATE:
	case WIRE_OP_TRUNCATE:
	case WIRE_OP_CURSOR_CREATE:
	case WIRE_OP_CURSOR_COMMIT:
	case WIRE_OP_CURSOR_DROP:
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
void
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
void
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
int
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

/* Writes queued output until the socket would block. */
void
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
		cur->sealed_end = (h->flags & WIRE_F_SEALED_END) != 0;
		cur->until_end = (h->flags & WIRE_F_UNTIL_END) != 0;
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

/* Keeps a cursor get or list, or a verify, reply's body for its blocking
   caller (which decodes it), after checking it; -1 when the connection
   broke. */
static int
libwal_keep_body(struct wal_conn *c, struct libwal_req *r, const uint8_t *b,
    size_t n)
{
	const char	*cause;
	uint64_t	 a, z;
	uint32_t	 count, flags;
	struct wire_verify vr;
	int		 rc;

	if (r->op == WIRE_OP_VERIFY)
		rc = wire_dec_verify(b, n, &vr, &cause);
	else if (r->op == WIRE_OP_CURSOR_GET)
		rc = wire_dec_cursor_state(b, n, &a, &z, &cause);
	else
		rc = wire_dec_cursor_list(b, n, &count, &flags, &cause);
	if (rc == -1) {
		libwal_break(c, WAL_RESULT_PROTOCOL, cause);
		return (-1);
	}
	if (!r->waited || r->id != c->w_id)
		return (0);
	free(c->w_body);
	c->w_body_len = n;
	if ((c->w_body = malloc(n > 0 ? n : 1)) == NULL) {
		libwal_break(c, WAL_RESULT_SYSTEM, "out of memory for a reply");
		return (-1);
	}
	memcpy(c->w_body, b, n);
	return (0);
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
		if (hr.version < WIRE_VERSION_MIN ||
		    hr.version > WIRE_VERSION) {
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
	case WIRE_OP_RELOAD:
		if (n != 0) {
			libwal_break(c, WAL_RESULT_PROTOCOL, r->op == WIRE_OP_PING ?
			    "ping reply has a body" : "reload reply has a body");
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
	case WIRE_OP_CURSOR_GET:
	case WIRE_OP_CURSOR_LIST:
	case WIRE_OP_VERIFY:
		if (libwal_keep_body(c, r, b, n) == -1)
			return;
		break;
	case WIRE_OP_TRUNCATE:
		/* A DRY_RUN's plan (24 bytes), or the first LSN after. */
		if (n == 24) {
			if (wire_dec_truncate_plan(b, n, &v, &c->w_plan[0],
			    &c->w_plan[1], &cause) == -1) {
				libwal_break(c, WAL_RESULT_PROTOCOL, cause);
				return;
			}
			break;
		}
		if (wire_dec_u64(b, n, &v, &cause) == -1) {
			libwal_break(c, WAL_RESULT_PROTOCOL, cause);
			return;
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
void
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
int
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
enum wal_result
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
