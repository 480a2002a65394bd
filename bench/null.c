/* SPDX-License-Identifier: Apache-2.0 */
/*
 * null.c: `walbench null`, a server that speaks walld's protocol and
 * acknowledges every append as soon as it has read it, writing nothing.
 *
 * It is a yardstick, not a log. Loaded like walld, it shows what the
 * clients, the socket and the scheduler cost on their own: one read and
 * one send per acknowledgement, on libevent as walld's loop is, no disk,
 * no batch, no second thread. No server that answers every client on its
 * own socket can do better on the same machine with the same load, so a
 * figure it cannot reach cannot be reached by walld either
 * (BENCHMARKS.md, "The ceiling of the clients").
 *
 * It keeps PROTOCOL.md's session and framing rules (HELLO first and once,
 * ERROR version when no version is shared, ERROR then close on a bad
 * header or body) and answers HELLO, APPEND (the LSN is a counter; an
 * idempotent append's producer fields are read and not checked), STATS
 * (the counters walbench reads, fsyncs_total always 0), PING and SYNC;
 * SEAL, ROTATE, READ, TRUNCATE and unknown requests are ERROR bad_request,
 * and the connection is closed.
 *
 * With --dir DIR it is the least a durable server can be: the same, but
 * each append's payload (behind a 16-byte header) is copied into one
 * buffer, and at the end of every loop turn that buffer is written and
 * fdatasync'ed, Redis's `appendfsync always` way, before the turn's
 * replies go out. It writes into a file of NULL_SYNC_SIZE bytes written
 * with zeros at start-up and wrapped around, so no write allocates a
 * block or converts an extent: the disk at its fastest. One thread, no
 * checksum, no encryption, no index: what is left between it and walld
 * is walld's own work (BENCHMARKS.md, "A durable yardstick").
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "bench.h"
#include "wire.h"

#define NULL_MAX_RECORD	(1u << 20)
#define NULL_MAX_FRAME	(NULL_MAX_RECORD + 24)
#define NULL_RBUF	(256 * 1024)
#define NULL_NAME	"walbench-null"
#define NULL_SYNC_SIZE	(256u << 20)	/* the --dir file, reused in turn */
#define NULL_SYNC_FILE	"walbench-null.log"
#define NULL_REC_HDR	16

struct nconn {
	TAILQ_ENTRY(nconn) entry;
	int		 fd;
	int		 hello;		/* HELLO answered */
	uint16_t	 version;	/* the protocol version chosen */
	struct event	*rev;
	struct event	*wev;
	uint8_t		*in;		/* a frame begun in an earlier read */
	size_t		 in_len, in_cap;
	uint8_t		*out;		/* replies not yet sent */
	size_t		 out_len, out_off, out_cap;
	struct nsrv	*srv;
	int		 held;		/* its replies wait for the sync */
	int		 failed;	/* and then it is closed */
	TAILQ_ENTRY(nconn) held_entry;
};

struct nsrv {
	struct event_base	*base;
	TAILQ_HEAD(, nconn)	 conns;
	uint8_t			*rbuf;
	uint64_t		 lsn;		/* the last LSN given out */
	uint64_t		 bytes;		/* payload bytes acknowledged */
	/* --dir only (sync_fd -1 without it): */
	int			 sync_fd;
	uint8_t			*wbuf;		/* this turn's records */
	size_t			 wlen, wcap;
	size_t			 woff;		/* where they go in the file */
	uint64_t		 syncs;
	TAILQ_HEAD(, nconn)	 held;		/* replies waiting for the sync */
	int			 stop;
};

static void	nconn_read_cb(evutil_socket_t, short, void *);

static void
nconn_free(struct nconn *c)
{
	TAILQ_REMOVE(&c->srv->conns, c, entry);
	if (c->held)
		TAILQ_REMOVE(&c->srv->held, c, held_entry);
	event_free(c->rev);
	event_free(c->wev);
	if (close(c->fd) == -1)
		fprintf(stderr, "walbench null: close: %s\n", strerror(errno));
	free(c->in);
	free(c->out);
	free(c);
}

/* Room for n more bytes at the end of a buffer; -1 when out of memory. */
static int
grow(uint8_t **buf, size_t *cap, size_t len, size_t n)
{
	size_t	 want = *cap > 0 ? *cap : 4096;
	uint8_t	*p;

	while (want < len + n)
		want *= 2;
	if (want == *cap)
		return (0);
	if ((p = realloc(*buf, want)) == NULL)
		return (-1);
	*buf = p;
	*cap = want;
	return (0);
}

static int
nconn_put(struct nconn *c, const void *p, size_t n)
{
	if (grow(&c->out, &c->out_cap, c->out_len, n) == -1)
		return (-1);
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return (0);
}

/* --dir: one append's record into this turn's buffer (a header of the
   LSN, the length, the type and the vshard, then the payload); -1 when
   out of memory. */
static int
null_record(struct nsrv *s, const struct wire_append *a)
{
	uint8_t	*p;

	if (grow(&s->wbuf, &s->wcap, s->wlen, NULL_REC_HDR + a->len) == -1)
		return (-1);
	p = s->wbuf + s->wlen;
	memcpy(p, &s->lsn, 8);
	memcpy(p + 8, &a->len, 4);
	memcpy(p + 12, &a->type, 2);
	memcpy(p + 14, &a->vshard, 2);
	memcpy(p + NULL_REC_HDR, a->payload, a->len);
	s->wlen += NULL_REC_HDR + a->len;
	return (0);
}

/* The reply to one whole frame; -1 to close the connection. */
static int
nconn_frame(struct nconn *c, const struct wire_hdr *h, const uint8_t *body)
{
	struct nsrv		*s = c->srv;
	struct wire_append	 a;
	struct wire_hello	 hello;
	uint8_t			 hdr[WIRE_ENC_MAX];
	char			 text[160];
	const char		*why;
	size_t			 n = h->len - WIRE_HDR_LEN;
	int			 tn;

	if (!c->hello && h->op != WIRE_OP_HELLO)
		goto bad;
	switch (h->op) {
	case WIRE_OP_APPEND:
		if (h->flags & WIRE_F_PRODUCER) {
			if (c->version < 2 ||
			    wire_dec_append_prod(body, n, &a, &why) != 0)
				break;
		} else if (wire_dec_append(body, n, &a, &why) != 0)
			break;
		s->bytes += a.len;
		++s->lsn;
		if (s->sync_fd != -1 && null_record(s, &a) == -1)
			return (-1);
		return (nconn_put(c, hdr, wire_enc_u64(hdr,
		    WIRE_OP_APPEND | WIRE_REPLY, h->id, s->lsn)));
	case WIRE_OP_HELLO:
		if (c->hello || wire_dec_hello(body, n, &hello, &why) != 0)
			break;
		if (hello.min_version > WIRE_VERSION ||
		    hello.max_version < WIRE_VERSION_MIN) {
			(void)nconn_put(c, hdr, wire_enc_error(hdr, h->id,
			    WIRE_E_VERSION, 0));
			return (-1);
		}
		/* The highest version both speak, as walld picks it. */
		c->hello = 1;
		c->version = hello.max_version < WIRE_VERSION ?
		    hello.max_version : WIRE_VERSION;
		if (nconn_put(c, hdr, wire_enc_hello_reply(hdr, h->id,
		    c->version, NULL_MAX_RECORD, NULL_MAX_FRAME,
		    strlen(NULL_NAME))) == -1)
			return (-1);
		return (nconn_put(c, NULL_NAME, strlen(NULL_NAME)));
	case WIRE_OP_SYNC:
		if (n != 0)
			break;
		return (nconn_put(c, hdr, wire_enc_u64(hdr,
		    WIRE_OP_SYNC | WIRE_REPLY, h->id, s->lsn)));
	case WIRE_OP_PING:
		if (n != 0)
			break;
		return (nconn_put(c, hdr, wire_enc_hdr(hdr,
		    WIRE_OP_PING | WIRE_REPLY, 0, h->id, 0)));
	case WIRE_OP_STATS:
		if (n != 0)
			break;
		tn = snprintf(text, sizeof text, "appends_total %" PRIu64
		    "\nappend_bytes_total %" PRIu64 "\nfsyncs_total %" PRIu64
		    "\n", s->lsn, s->bytes, s->syncs);
		if (nconn_put(c, hdr, wire_enc_hdr(hdr,
		    WIRE_OP_STATS | WIRE_REPLY, 0, h->id, (size_t)tn)) == -1)
			return (-1);
		return (nconn_put(c, text, (size_t)tn));
	default:
		break;
	}
bad:
	(void)nconn_put(c, hdr, wire_enc_error(hdr, h->id,
	    WIRE_E_BAD_REQUEST, 0));
	return (-1);
}

/* Answers the whole frames at the front of buf; returns the bytes used,
   or -1 to close the connection. */
static ssize_t
nconn_frames(struct nconn *c, const uint8_t *buf, size_t len)
{
	struct wire_hdr	 h;
	const char	*why;
	size_t		 used = 0;
	int		 r;

	uint8_t		 hdr[WIRE_ENC_MAX];
	uint32_t	 flen;

	while ((r = wire_peek_hdr(buf + used, len - used, NULL_MAX_FRAME, &h,
	    &why)) == 1 && h.len <= len - used) {
		if (nconn_frame(c, &h, buf + used + WIRE_HDR_LEN) == -1)
			return (-1);
		used += h.len;
	}
	if (r == -1) {
		/* h is not filled: the length is in the first four bytes. */
		flen = (uint32_t)buf[used] | (uint32_t)buf[used + 1] << 8 |
		    (uint32_t)buf[used + 2] << 16 |
		    (uint32_t)buf[used + 3] << 24;
		(void)nconn_put(c, hdr, wire_enc_error(hdr, 0,
		    flen > NULL_MAX_FRAME ? WIRE_E_TOO_LARGE :
		    WIRE_E_BAD_REQUEST, 0));
		return (-1);
	}
	return ((ssize_t)used);
}

/* Sends what is queued; 1 when all went, 0 when the socket is full, -1
   on an error. */
static int
nconn_flush(struct nconn *c)
{
	ssize_t	n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			c->out_off += (size_t)n;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (0);
		else if (errno != EINTR)
			return (-1);
	}
	c->out_off = c->out_len = 0;
	if (c->out_cap > NULL_RBUF) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	return (1);
}

/* After a read or a write: send, and read again only once the replies are
   out (a client that does not read its replies is not read either). */
static void
nconn_turn(struct nconn *c, int fail)
{
	int	r = fail ? -1 : nconn_flush(c);

	if (r == 1 && event_pending(c->wev, EV_WRITE, NULL))
		r = event_del(c->wev) == 0 && event_add(c->rev, NULL) == 0 ?
		    1 : -1;
	else if (r == 0 && !event_pending(c->wev, EV_WRITE, NULL))
		r = event_del(c->rev) == 0 && event_add(c->wev, NULL) == 0 ?
		    0 : -1;
	if (r == -1) {
		if (fail)
			(void)nconn_flush(c);
		nconn_free(c);
	}
}

static void
nconn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	nconn_turn(arg, 0);
}

static void
nconn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct nconn	*c = arg;
	uint8_t		*rb = c->srv->rbuf;
	ssize_t		 n, used;
	int		 fail = 0;

	(void)what;
	if ((n = read(fd, rb, NULL_RBUF)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		if (errno != ECONNRESET)
			fprintf(stderr, "walbench null: read: %s\n",
			    strerror(errno));
		fail = 1;
	} else if (n == 0) {
		fail = 1;
	} else if (c->in_len > 0) {
		if (grow(&c->in, &c->in_cap, c->in_len, (size_t)n) == -1)
			fail = 1;
		else {
			memcpy(c->in + c->in_len, rb, (size_t)n);
			c->in_len += (size_t)n;
			if ((used = nconn_frames(c, c->in, c->in_len)) == -1)
				fail = 1;
			else {
				memmove(c->in, c->in + used,
				    c->in_len - (size_t)used);
				c->in_len -= (size_t)used;
				if (c->in_len == 0 && c->in_cap > NULL_RBUF) {
					free(c->in);	/* a large frame's */
					c->in = NULL;
					c->in_cap = 0;
				}
			}
		}
	} else if ((used = nconn_frames(c, rb, (size_t)n)) == -1) {
		fail = 1;
	} else if (used < n) {
		if (grow(&c->in, &c->in_cap, 0, (size_t)(n - used)) == -1)
			fail = 1;
		else {
			memcpy(c->in, rb + used, (size_t)(n - used));
			c->in_len = (size_t)(n - used);
		}
	}
	if (c->srv->sync_fd == -1) {
		nconn_turn(c, fail);
		return;
	}
	/* Its replies (and, when it failed, its end) wait for the sync at
	   the end of this loop turn. */
	if (fail) {
		c->failed = 1;
		if (event_del(c->rev) == -1)
			fprintf(stderr, "walbench null: event_del failed\n");
	}
	if (!c->held) {
		c->held = 1;
		TAILQ_INSERT_TAIL(&c->srv->held, c, held_entry);
	}
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct nsrv	*s = arg;
	struct nconn	*c;

	(void)l;
	(void)sa;
	(void)salen;
	if ((c = calloc(1, sizeof *c)) == NULL) {
		if (close(fd) == -1)
			fprintf(stderr, "walbench null: close: %s\n",
			    strerror(errno));
		return;
	}
	c->fd = fd;
	c->srv = s;
	TAILQ_INSERT_TAIL(&s->conns, c, entry);
	c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, nconn_read_cb,
	    c);
	c->wev = event_new(s->base, fd, EV_WRITE | EV_PERSIST, nconn_write_cb,
	    c);
	if (c->rev == NULL || c->wev == NULL || event_add(c->rev, NULL) == -1) {
		fprintf(stderr, "walbench null: cannot watch a connection\n");
		if (c->rev != NULL && c->wev != NULL) {
			nconn_free(c);
			return;
		}
		TAILQ_REMOVE(&s->conns, c, entry);
		if (c->rev != NULL)
			event_free(c->rev);
		if (c->wev != NULL)
			event_free(c->wev);
		if (close(fd) == -1)
			fprintf(stderr, "walbench null: close: %s\n",
			    strerror(errno));
		free(c);
	}
}

/* --dir: the end of a loop turn. Writes and syncs the turn's records,
   then sends the replies held for them; -1 (reported) when the file
   failed, and the server stops: a yardstick that loses writes measures
   nothing. */
static int
null_commit(struct nsrv *s)
{
	struct nconn	*c;

	if (s->wlen > 0) {
		if (s->wlen > NULL_SYNC_SIZE) {
			fprintf(stderr, "walbench null: a turn of %zu bytes "
			    "is more than the file\n", s->wlen);
			return (-1);
		}
		if (s->woff + s->wlen > NULL_SYNC_SIZE)
			s->woff = 0;
		if (disk_pwrite_all(s->sync_fd, s->wbuf, s->wlen,
		    (off_t)s->woff) == -1 || fdatasync(s->sync_fd) == -1) {
			fprintf(stderr, "walbench null: %s: %s\n",
			    NULL_SYNC_FILE, strerror(errno));
			return (-1);
		}
		s->woff += s->wlen;
		s->wlen = 0;
		s->syncs++;
	}
	while ((c = TAILQ_FIRST(&s->held)) != NULL) {
		TAILQ_REMOVE(&s->held, c, held_entry);
		c->held = 0;
		nconn_turn(c, c->failed);
	}
	return (0);
}

/* --dir: the file, written with zeros and synced before the first
   client; its fd, or -1 (reported). */
static int
null_sync_open(const char *dir, char *path, size_t pathsz)
{
	uint8_t	*zero;
	int	 fd, rc;

	if ((size_t)snprintf(path, pathsz, "%s/%s", dir, NULL_SYNC_FILE) >=
	    pathsz) {
		fprintf(stderr, "walbench null: --dir too long: %s\n", dir);
		return (-1);
	}
	if ((zero = calloc(1, 1u << 20)) == NULL) {
		fprintf(stderr, "walbench null: out of memory\n");
		return (-1);
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		fprintf(stderr, "walbench null: %s: %s\n", path,
		    strerror(errno));
		free(zero);
		return (-1);
	}
	rc = disk_fill(fd, zero, 1u << 20, NULL_SYNC_SIZE);
	free(zero);
	if (rc == -1) {
		fprintf(stderr, "walbench null: %s: %s\n", path,
		    strerror(errno));
		if (close(fd) == -1 || unlink(path) == -1)
			fprintf(stderr, "walbench null: %s: %s\n", path,
			    strerror(errno));
		return (-1);
	}
	return (fd);
}

/* An accept that failed (EMFILE, ...): reported, and the server stops,
   as a yardstick that drops clients would measure nothing. */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct nsrv	*s = arg;

	fprintf(stderr, "walbench null: accept: %s\n",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	evconnlistener_disable(l);
	s->stop = 1;
	event_base_loopbreak(s->base);
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct nsrv	*s = arg;

	(void)sig;
	(void)what;
	s->stop = 1;
	event_base_loopbreak(s->base);
}

/* Whether something accepts connections at the address. */
static int
null_in_use(const struct sockaddr_un *sun)
{
	int	fd, r;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (0);
	r = connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0;
	if (close(fd) == -1)
		fprintf(stderr, "walbench null: close: %s\n", strerror(errno));
	return (r);
}

/* Serves on path until SIGTERM or SIGINT; prints "ready" once listening.
   With dir, syncs what it acknowledges (see the top). */
int
null_serve(const char *path, const char *dir)
{
	struct sockaddr_un	 sun;
	struct evconnlistener	*l;
	struct event		*term, *intr;
	struct nsrv		 s;
	char			 file[PATH_MAX];
	int			 r;

	memset(&s, 0, sizeof s);
	TAILQ_INIT(&s.conns);
	TAILQ_INIT(&s.held);
	s.sync_fd = -1;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "walbench null: socket path too long: %s\n",
		    path);
		return (-1);
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (null_in_use(&sun)) {
		fprintf(stderr, "walbench null: %s: a server answers there; "
		    "not taking its socket\n", path);
		return (-1);
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		fprintf(stderr, "walbench null: %s: %s\n", path,
		    strerror(errno));
		return (-1);
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR ||
	    (s.rbuf = malloc(NULL_RBUF)) == NULL ||
	    (s.base = event_base_new()) == NULL) {
		fprintf(stderr, "walbench null: cannot start\n");
		return (-1);
	}
	l = evconnlistener_new_bind(s.base, accept_cb, &s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 1024,
	    (struct sockaddr *)&sun, (int)sizeof sun);
	if (l != NULL)
		evconnlistener_set_error_cb(l, accept_error_cb);
	term = evsignal_new(s.base, SIGTERM, stop_cb, &s);
	intr = evsignal_new(s.base, SIGINT, stop_cb, &s);
	if (l == NULL || term == NULL || intr == NULL ||
	    evsignal_add(term, NULL) == -1 || evsignal_add(intr, NULL) == -1) {
		fprintf(stderr, "walbench null: %s: %s\n", path,
		    strerror(errno));
		return (-1);
	}
	if (dir != NULL && (s.sync_fd = null_sync_open(dir, file,
	    sizeof file)) == -1)
		return (-1);
	printf("ready\n");
	fflush(stdout);
	if (s.sync_fd == -1)
		r = event_base_dispatch(s.base);
	else
		while ((r = event_base_loop(s.base, EVLOOP_ONCE)) != -1 &&
		    !s.stop && null_commit(&s) == 0)
			;
	if (r == -1)
		fprintf(stderr, "walbench null: the event loop failed\n");
	if (s.sync_fd == -1)
		fprintf(stderr, "walbench null: %" PRIu64 " appends "
		    "acknowledged\n", s.lsn);
	else
		fprintf(stderr, "walbench null: %" PRIu64 " appends "
		    "acknowledged after %" PRIu64 " syncs\n", s.lsn, s.syncs);
	if (s.sync_fd != -1 && (close(s.sync_fd) == -1 || unlink(file) == -1))
		fprintf(stderr, "walbench null: %s: %s\n", file,
		    strerror(errno));
	free(s.wbuf);
	while (!TAILQ_EMPTY(&s.conns))
		nconn_free(TAILQ_FIRST(&s.conns));
	evconnlistener_free(l);
	event_free(term);
	event_free(intr);
	if (unlink(path) == -1)
		fprintf(stderr, "walbench null: %s: %s\n", path,
		    strerror(errno));
	event_base_free(s.base);
	free(s.rbuf);
	return (0);
}
