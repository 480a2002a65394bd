/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conn.c: one client connection's bytes. Its input (a partial frame, or
 * frames held back by a limit), the whole frames taken out of it, its
 * output buffer and the send() that drains it, reading on and off (held
 * back by a limit, half-closed, closing), and its end: the close of the
 * socket, then the free once no waiter points at it (the reaper).
 *
 * The connection layer calls nothing above it. Whole frames leave through
 * the server's frame_cb; a connection about to close has its read streams
 * ended through closing_cb; a closed one goes to the server's closed_cb,
 * which unlinks it and hands it to the reaper (server-int.h, conn_cbs).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "access.h"
#include "config.h"
#include "log.h"
#include "server-int.h"
#include "wire.h"

#define OUT_KEEP	4096	/* output buffer kept while idle */

static void	conn_update_read(struct conn *);

/* A connection accepted on fd (non-blocking): its peer's credentials, its
   events, reading from now on. NULL when it cannot be set up; fd is then
   closed and the failure logged. */
struct conn *
conn_create(struct server *srv, int fd, event_callback_fn read_cb,
    event_callback_fn write_cb)
{
	struct conn	*c;
	struct ucred	 cred;
	socklen_t	 clen = sizeof cred;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		log_limited("accept", LOG_LVL_ERR, "accept: out of memory");
		if (close(fd) == -1)
			log_debug("accept: close: %s", strerror(errno));
		return (NULL);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
		c->uid = cred.uid;
		c->gid = cred.gid;
		c->pid = cred.pid;
	} else {
		c->uid = (uid_t)-1;
		c->gid = (gid_t)-1;
		c->pid = -1;
	}
	/* Without its groups a peer only loses group rules: go on. */
	if (access_peer_groups(fd, &c->groups, &c->ngroups) != 0)
		log_limited("accept", LOG_LVL_WARN, "SO_PEERGROUPS: %s; group "
		    "rules of the access list do not apply to pid %ld",
		    strerror(errno), (long)c->pid);
	c->srv = srv;
	c->serial = ++srv->serial;
	c->fd = fd;
	TAILQ_INIT(&c->streams);
	c->rev = event_new(srv->base, fd, EV_READ | EV_PERSIST, read_cb, c);
	c->wev = event_new(srv->base, fd, EV_WRITE | EV_PERSIST, write_cb, c);
	if (c->rev == NULL || c->wev == NULL || event_add(c->rev, NULL) != 0) {
		log_limited("accept", LOG_LVL_ERR, "accept: cannot set up a "
		    "connection");
		if (c->rev != NULL)
			event_free(c->rev);
		if (c->wev != NULL)
			event_free(c->wev);
		if (close(fd) == -1)
			log_debug("accept: close: %s", strerror(errno));
		free(c->groups);
		free(c);
		return (NULL);
	}
	c->reading = 1;
	return (c);
}

/* The connection's peer, for the access list. */
struct access_peer
conn_peer(const struct conn *c)
{
	struct access_peer	p = { c->uid, c->gid, c->groups, c->ngroups };

	return (p);
}

/* Output queued and not yet written. */
size_t
conn_out_pending(const struct conn *c)
{
	return (c->out_len - c->out_off);
}

/* Makes room for n more bytes of output. */
static int
conn_out_reserve(struct conn *c, size_t n)
{
	uint8_t	*p;
	size_t	 ncap;

	if (c->out_len + n <= c->out_cap)
		return (0);
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_len + n <= c->out_cap)
			return (0);
	}
	for (ncap = c->out_cap > 0 ? c->out_cap : 512; ncap < c->out_len + n;
	    ncap *= 2)
		;
	if ((p = realloc(c->out, ncap)) == NULL)
		return (-1);
	c->out = p;
	c->out_cap = ncap;
	return (0);
}

/* Writes are not made at once: the connection joins the dirty list and
   flush_ev, which runs after the callbacks of this loop turn, writes each
   one's output with one send(). All acknowledgements a batch completes
   for a connection go out together. */
static void
conn_mark_dirty(struct conn *c)
{
	struct server	*srv = c->srv;

	if (c->dirty || c->writing)
		return;	/* a write is coming anyway */
	if (TAILQ_EMPTY(&srv->dirty))
		event_active(srv->flush_ev, EV_WRITE, 0);
	TAILQ_INSERT_TAIL(&srv->dirty, c, dirty_entry);
	c->dirty = 1;
}

/* Takes the first connection off the dirty list; NULL when it is empty. */
struct conn *
conn_dirty_pop(struct server *srv)
{
	struct conn	*c;

	if ((c = TAILQ_FIRST(&srv->dirty)) != NULL) {
		TAILQ_REMOVE(&srv->dirty, c, dirty_entry);
		c->dirty = 0;
	}
	return (c);
}

/* Sends one frame whose fixed part is hdr[0..n) and whose tail is tail. */
void
conn_send(struct conn *c, const uint8_t *hdr, size_t n, const void *tail,
    size_t tail_len)
{
	struct server	*srv = c->srv;

	if (c->fd == -1)
		return;
	if (conn_out_reserve(c, n + tail_len) != 0) {
		conn_kill(c, "out of memory queueing a reply");
		return;
	}
	memcpy(c->out + c->out_len, hdr, n);
	if (tail_len > 0)
		memcpy(c->out + c->out_len + n, tail, tail_len);
	c->out_len += n + tail_len;
	conn_mark_dirty(c);
	/* The limit is on what piles up beyond one frame of the largest
	   record, so that a reader of large records is never taken for a
	   client that does not read (read streams pause far below it). */
	if (conn_out_pending(c) > srv->cfg->max_conn_output +
	    srv->cfg->max_record + WIRE_HDR_LEN + WIRE_RECORD_FIXED) {
		srv->count.dropped_slow++;
		log_limited("slow client", LOG_LVL_WARN, "connection %llu "
		    "(pid %ld): output above %llu bytes: client does not read "
		    "its replies; disconnecting", (unsigned long long)c->serial,
		    (long)c->pid, (unsigned long long)srv->cfg->max_conn_output);
		conn_kill(c, NULL);
	}
}

/* Sends a frame whose body is one u64; op is the frame's own op. */
void
conn_send_u64(struct conn *c, uint8_t op, uint64_t id, uint64_t v)
{
	uint8_t	buf[WIRE_ENC_MAX];

	conn_send(c, buf, wire_enc_u64(buf, op, id, v), NULL, 0);
}

/* Replies to request req_op with one u64. */
void
conn_reply_u64(struct conn *c, uint8_t req_op, uint64_t id, uint64_t v)
{
	conn_send_u64(c, req_op | WIRE_REPLY, id, v);
}

/* Replies to request op with an empty body. */
void
conn_reply_empty(struct conn *c, uint8_t op, uint64_t id)
{
	uint8_t	buf[WIRE_ENC_MAX];

	conn_send(c, buf, wire_enc_hdr(buf, op | WIRE_REPLY, 0, id, 0), NULL, 0);
}

/* Sends an error reply with a formatted message. */
void
conn_error(struct conn *c, uint64_t id, uint16_t code, const char *fmt, ...)
{
	uint8_t	buf[WIRE_ENC_MAX];
	char	msg[512];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof msg)
		n = sizeof msg - 1;
	if (code <= WIRE_E_MAX)
		c->srv->count.errors[code]++;
	conn_send(c, buf, wire_enc_error(buf, id, code, (size_t)n), msg,
	    (size_t)n);
}

/* Replies with an error and closes the connection once it is sent: a
   peer that breaks the protocol is not trusted with anything more. */
void
conn_fatal(struct conn *c, uint64_t id, uint16_t code, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->srv->count.protocol_errors++;
	log_limited("bad client", LOG_LVL_WARN, "connection %llu (pid %ld "
	    "uid %ld): %s; closing", (unsigned long long)c->serial,
	    (long)c->pid, (long)c->uid, msg);
	conn_error(c, id, code, "%s", msg);
	conn_close_soon(c);
}

/* Stops reading, ends the connection's reads (closing_cb) and closes it
   once the replies already due are written: after a protocol error, or
   when walld stops. */
void
conn_close_soon(struct conn *c)
{
	c->closing = 1;
	if (c->fd == -1)
		return;
	c->srv->cbs.closing_cb(c);
	if (c->fd == -1)
		return;	/* a reply passed the output limit */
	conn_update_read(c);
	conn_maybe_close(c);
}

/* Lets a held-back connection be read again. */
static void
conn_unblock(struct conn *c)
{
	if (c->blocked != BLOCK_NONE) {
		TAILQ_REMOVE(&c->srv->blocked, c, blocked_entry);
		c->blocked = BLOCK_NONE;
	}
}

/* Holds the connection back until the next batch completes (or a spare
   segment is ready): the request that did not fit stays in its input. */
void
conn_block(struct conn *c, enum conn_block why)
{
	if (c->blocked == BLOCK_NONE)
		TAILQ_INSERT_TAIL(&c->srv->blocked, c, blocked_entry);
	c->blocked = why;
}

/* Runs the held frames of every blocked connection again, oldest first;
   one that blocks again waits for the next round. */
void
conn_resume_blocked(struct server *srv)
{
	struct conn	*c;
	unsigned	 n = 0, i;

	TAILQ_FOREACH(c, &srv->blocked, blocked_entry)
		n++;
	for (i = 0; i < n && (c = TAILQ_FIRST(&srv->blocked)) != NULL; i++) {
		conn_unblock(c);
		conn_process(c);
	}
}

/* Reading is wanted while the connection is open, has not half-closed,
   is not closing and is not held back by a limit. */
static void
conn_update_read(struct conn *c)
{
	int	want;

	if (c->fd == -1)
		return;
	want = !c->eof && !c->closing && c->blocked == BLOCK_NONE;
	if (want == c->reading)
		return;
	if ((want ? event_add(c->rev, NULL) : event_del(c->rev)) != 0) {
		conn_kill(c, "cannot change the connection's read event");
		return;
	}
	c->reading = want;
}

/* The largest frame walld accepts from a connection, as its HELLO reply
   announced: an APPEND of the largest record (PROTOCOL.md). */
uint32_t
conn_max_frame(const struct conn *c)
{
	return (c->max_record + WIRE_HDR_LEN + WIRE_APPEND_FIXED);
}

/* Hands the whole frames at the start of buf[0..len) to frame_cb; returns
   how many bytes they took. Stops early when the connection blocks or
   closes. A header that breaks the rules ends the connection: TOO_LARGE
   for a length above max_frame, BAD_REQUEST otherwise. */
static size_t
conn_frames(struct conn *c, uint8_t *buf, size_t len)
{
	struct wire_hdr	 h;
	const char	*why;
	uint32_t	 max_frame;
	size_t		 used = 0;

	while (c->fd != -1 && !c->closing && c->blocked == BLOCK_NONE &&
	    len - used >= WIRE_HDR_LEN) {
		max_frame = c->hello ? conn_max_frame(c) : WIRE_MAX_FRAME_HARD;
		if (wire_peek_hdr(buf + used, WIRE_HDR_LEN, max_frame, &h,
		    &why) < 0) {
			conn_fatal(c, 0, h.len > max_frame ? WIRE_E_TOO_LARGE :
			    WIRE_E_BAD_REQUEST, "bad frame: %s", why);
			break;
		}
		/* Before HELLO, a HELLO is all a client may send: a longer
		   frame is refused at its header, so that nothing is held
		   for a connection that has not said who it is. */
		if (!c->hello && h.len > WIRE_HDR_LEN + WIRE_HELLO_LEN) {
			conn_fatal(c, h.id, WIRE_E_BAD_REQUEST, "%s before "
			    "hello (a frame of %u bytes)", wire_op_name(h.op),
			    h.len);
			break;
		}
		if (len - used < h.len)
			break;
		if (c->srv->cbs.frame_cb(c, &h, buf + used + WIRE_HDR_LEN,
		    h.len - WIRE_HDR_LEN) == DISPATCH_DEFER)
			break;
		used += h.len;
	}
	return (used);
}

/* Keeps buf[0..n) at the end of the connection's input. */
static int
conn_in_add(struct conn *c, const uint8_t *buf, size_t n)
{
	uint8_t	*p;
	size_t	 ncap;

	if (c->in_len + n > c->in_cap) {
		for (ncap = c->in_cap > 0 ? c->in_cap : 4096;
		    ncap < c->in_len + n; ncap *= 2)
			;
		if ((p = realloc(c->in, ncap)) == NULL) {
			conn_kill(c, "out of memory reading a frame");
			return (-1);
		}
		c->in = p;
		c->in_cap = ncap;
	}
	memcpy(c->in + c->in_len, buf, n);
	c->in_len += n;
	return (0);
}

/* Handles every whole frame held in the connection's input. */
void
conn_process(struct conn *c)
{
	size_t	used;

	if (c->fd == -1)
		return;
	used = c->in_len > 0 ? conn_frames(c, c->in, c->in_len) : 0;
	if (c->fd == -1)
		return;
	if (used > 0) {
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
	if (c->in_len == 0 && c->in_cap > 0) {
		free(c->in);	/* idle connections hold no buffer */
		c->in = NULL;
		c->in_cap = 0;
	}
	if (c->eof && c->blocked == BLOCK_NONE && !c->closing &&
	    c->in_len > 0) {
		conn_fatal(c, 0, WIRE_E_BAD_REQUEST, "truncated frame (%zu "
		    "bytes) before end of stream", c->in_len);
		return;
	}
	conn_update_read(c);
	conn_maybe_close(c);
}

/* Closes a connection whose socket failed. A peer that went away (reset,
   broken pipe: a client killed, or closing with replies unread) is a
   normal end, logged at debug level only; other errors at info. */
static void
conn_kill_errno(struct conn *c, int err)
{
	if (err == ECONNRESET || err == EPIPE) {
		log_debug("connection %llu (pid %ld): %s",
		    (unsigned long long)c->serial, (long)c->pid,
		    strerror(err));
		conn_kill(c, NULL);
		return;
	}
	conn_kill(c, strerror(err));
}

/* One read() per turn of the loop, into the server's read buffer; whole
   frames are handled from there, only a remainder is copied. Returns 1
   when bytes came, 0 at the end of the stream (c->eof is set: the caller
   answers what was sent, then the connection closes), -1 when there was
   nothing to read or the connection died keeping a remainder. */
int
conn_read(struct conn *c)
{
	struct server	*srv = c->srv;
	ssize_t		 n;
	size_t		 used;

	n = read(c->fd, srv->rbuf, RBUF_SIZE);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_kill_errno(c, errno);
		return (-1);
	}
	if (n == 0) {
		c->eof = 1;
		return (0);
	}
	if (c->in_len > 0) {
		if (conn_in_add(c, srv->rbuf, (size_t)n) == 0)
			conn_process(c);
		return (1);
	}
	used = conn_frames(c, srv->rbuf, (size_t)n);
	if (c->fd != -1 && used < (size_t)n && !c->closing &&
	    conn_in_add(c, srv->rbuf + used, (size_t)n - used) != 0)
		return (-1);
	conn_update_read(c);
	conn_maybe_close(c);
	return (1);
}

/* Writes what the output holds until it is empty or the socket is full.
   Returns 1 when all is written, 0 when some is left, -1 when c died. */
int
conn_write_out(struct conn *c)
{
	ssize_t	n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (0);
		conn_kill_errno(c, errno);
		return (-1);
	}
	c->out_off = c->out_len = 0;
	if (c->out_cap > OUT_KEEP) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	return (1);
}

/* Writes the output, then waits for the socket to be writable when some
   is left, or when `more` (a read stream has more to send: it then sends
   one buffer per turn of the loop and never starves the others). */
void
conn_flush(struct conn *c, int more)
{
	int	rc, want;

	if ((rc = conn_write_out(c)) < 0)
		return;
	want = rc == 0 || more;
	if (want != c->writing) {
		if ((want ? event_add(c->wev, NULL) : event_del(c->wev)) != 0) {
			conn_kill(c, "cannot change the connection's write "
			    "event");
			return;
		}
		c->writing = want;
	}
	if (rc == 1)
		conn_maybe_close(c);
}

/* Closes a connection that is done once its replies are written. */
void
conn_maybe_close(struct conn *c)
{
	if (c->fd == -1)
		return;
	/* Requests still in the input (held back by a limit) are answered
	   first: conn_process runs them when the connection is unblocked. */
	if (c->eof && c->pending == 0 && c->refs == 0 && c->nstreams == 0 &&
	    c->in_len == 0)
		c->closing = 1;
	/* A closing connection still gets the replies of the appends it
	   sent before (a protocol error after them, a half-close). */
	if (c->closing && c->pending == 0 && c->refs == 0 &&
	    conn_out_pending(c) == 0)
		conn_kill(c, NULL);
}

/* Closes the socket now and hands the connection to the server
   (closed_cb), which passes it on to the reaper: waiters that still
   point here are dropped when their batch completes (the records stay in
   the log). */
void
conn_kill(struct conn *c, const char *why)
{
	struct server	*srv = c->srv;

	if (c->fd == -1)
		return;
	if (why != NULL)
		log_limited("connection closed", LOG_LVL_INFO, "connection "
		    "%llu (pid %ld): %s", (unsigned long long)c->serial,
		    (long)c->pid, why);
	conn_unblock(c);
	if (c->dirty) {
		TAILQ_REMOVE(&srv->dirty, c, dirty_entry);
		c->dirty = 0;
	}
	/* event_free takes an added event out of the loop first. The
	   buffers are freed with c (the reaper): a caller may still be
	   handling a frame that lies in c->in. */
	event_free(c->rev);
	event_free(c->wev);
	c->rev = c->wev = NULL;
	c->reading = c->writing = 0;
	if (close(c->fd) == -1)
		log_debug("connection %llu: close: %s",
		    (unsigned long long)c->serial, strerror(errno));
	c->fd = -1;
	srv->cbs.closed_cb(c);
}

/* Frees a dead connection once no waiter points at it. The free itself
   is deferred to reap_ev, so a callback that killed c may still look at
   it until it returns. */
void
conn_release(struct conn *c)
{
	if (c->fd != -1 || c->refs != 0 || c->reaping)
		return;
	c->reaping = 1;
	TAILQ_INSERT_TAIL(&c->srv->dead, c, entry);
	event_active(c->srv->reap_ev, EV_READ, 0);
}

/* reap_ev: frees the dead connections. */
void
conn_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct conn	*c;

	(void)fd; (void)what;
	while ((c = TAILQ_FIRST(&srv->dead)) != NULL) {
		TAILQ_REMOVE(&srv->dead, c, entry);
		free(c->groups);
		free(c->in);
		free(c->out);
		free(c);
	}
}
