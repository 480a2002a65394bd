/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_server.c: libFuzzer target for the live request path. One real
 * walld server (daemon/server.c over a WAL in a temporary directory, its
 * batcher threads, its access list) runs in the fuzzer's process; each
 * input is what one client sends on a new connection to its socket, after
 * a valid HELLO when the first byte's low bit is set (so that most inputs
 * reach the requests), then the client half-closes and reads until walld
 * closes. The replies are checked against PROTOCOL.md:
 * - every frame has a valid header; after an ERROR with id 0 only the
 *   replies due to requests sent before the bad frame (then walld
 *   closes), never a second ERROR with id 0;
 * - every other reply carries the id of a request the client sent with a
 *   valid header, and its op is that request's reply op, or RECORD or
 *   READ_END for a READ, or ERROR;
 * - append replies carry increasing LSNs (a producer's retry gets its
 *   record's first LSN, which may be lower); a read's RECORDs increasing
 *   LSNs within its range, and nothing after its READ_END or ERROR;
 * - walld closes the connection once the client has half-closed (a hang
 *   is a failure: libFuzzer's -timeout). Whether every request got its
 *   final reply is not checked.
 * The access list grants everything but seal and keys, so that one input
 * cannot end every later one's appends; those two get NOT_PERMITTED.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "wal.h"
#include "wire.h"

#define FS_MAX_IDS	1024	/* request ids remembered per input */
#define FS_POLL_MS	1

static struct {
	struct config		 cfg;
	struct wal		*w;
	struct event_base	*base;
	struct server		*srv;
	char			 dir[128];
} fs;

/* What the client sent: the ids and ops of its valid request headers. */
struct fs_req {
	uint64_t	id;
	uint8_t		op;
	uint8_t		flags;
	uint8_t		ended;		/* a read's READ_END or ERROR came */
	uint8_t		shared;		/* another request has its id */
	uint64_t	last_lsn;	/* a read's last RECORD */
	uint64_t	from, to;	/* a read's range, when decoded */
};

static void
fs_die(const char *what)
{
	fprintf(stderr, "fuzz_server: %s: %s\n", what, strerror(errno));
	abort();
}

/* Starts the one server: a WAL in a temporary directory, a socket in it. */
static void
fs_init(void)
{
	struct wal_options	 wo;
	char			 path[256], *cause = NULL;
	FILE			*f;
	int			 fd;
	const char		*tmp = getenv("TMPDIR");

	snprintf(fs.dir, sizeof fs.dir, "%s/fuzz_server.XXXXXX",
	    tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(fs.dir) == NULL)
		fs_die("mkdtemp");
	snprintf(path, sizeof path, "%s/walld.yaml", fs.dir);
	if ((f = fopen(path, "w")) == NULL)
		fs_die(path);
	fprintf(f, "socket:\n  path: %s/s.sock\nstorage:\n  data_dir: %s/data\n"
	    "  segment_size: 1MiB\nlogging:\n  level: error\nlimits:\n"
	    "  max_record: 64KiB\naccess:\n  - user: 0\n    ops: [append, "
	    "read, sync, rotate, truncate, stats, cursor]\n    tenants: any\n",
	    fs.dir, fs.dir);
	if (fclose(f) != 0)
		fs_die(path);
	config_defaults(&fs.cfg);
	if (config_load(&fs.cfg, path, &cause) != 0) {
		fprintf(stderr, "fuzz_server: %s\n", cause);
		abort();
	}
	if (mkdir(fs.cfg.data_dir, 0750) != 0)
		fs_die(fs.cfg.data_dir);
	log_init(fs.cfg.log_level);
	memset(&wo, 0, sizeof wo);
	wo.dir = fs.cfg.data_dir;
	wo.segment_size = fs.cfg.segment_size;
	wo.direct_io = WAL_DIRECT_OFF;
	wo.recycle_segments = fs.cfg.recycle_segments;
	wo.producers_max = fs.cfg.producers_max;
	wo.producer_window = fs.cfg.producer_window;
	wo.max_record = fs.cfg.max_record;
	wo.batch_bytes = fs.cfg.max_batch_bytes;
	wo.log = log_engine;
	if ((fs.w = wal_open(&wo, &cause)) == NULL) {
		fprintf(stderr, "fuzz_server: wal_open: %s\n", cause);
		abort();
	}
	if ((fd = server_listen(&fs.cfg, &cause)) == -1) {
		fprintf(stderr, "fuzz_server: listen: %s\n", cause);
		abort();
	}
	if ((fs.base = event_base_new()) == NULL)
		fs_die("event_base_new");
	if ((fs.srv = server_create(fs.base, &fs.cfg, fs.w, fd,
	    &cause)) == NULL) {
		fprintf(stderr, "fuzz_server: server_create: %s\n", cause);
		abort();
	}
}

/* Connects a client to the server's socket. */
static int
fs_connect(void)
{
	struct sockaddr_un	sun;
	int			fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		fs_die("socket");
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", fs.cfg.socket_path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
		fs_die("connect");
	return (fd);
}

/* The requests in what the client sends: each frame with a valid header,
   in order, until the first invalid one (the server stops reading
   there); *overflow when there were more than FS_MAX_IDS. */
static size_t
fs_requests(const uint8_t *b, size_t n, struct fs_req *reqs, int *overflow)
{
	struct wire_hdr	 h;
	struct wire_read rd;
	const char	*cause;
	size_t		 off = 0, k = 0, i, j;

	while (k < FS_MAX_IDS &&
	    wire_peek_hdr(b + off, n - off, WIRE_MAX_FRAME_HARD, &h,
	    &cause) == 1) {
		memset(&reqs[k], 0, sizeof reqs[k]);
		reqs[k].id = h.id;
		reqs[k].op = h.op;
		reqs[k].flags = h.flags;
		if (h.op == WIRE_OP_READ && h.len <= n - off &&
		    wire_dec_read(b + off + WIRE_HDR_LEN, h.len - WIRE_HDR_LEN,
		    &rd, &cause) == 0) {
			reqs[k].from = rd.from;
			reqs[k].to = rd.to;
		}
		k++;
		if (h.len > n - off)
			break;
		off += h.len;
	}
	*overflow = k == FS_MAX_IDS;
	for (i = 0; i < k; i++)
		for (j = i + 1; j < k; j++)
			if (reqs[i].id == reqs[j].id)
				reqs[i].shared = reqs[j].shared = 1;
	return (k);
}

/* The request a reply answers: the first with its id that wants this
   reply op (a read for RECORD and READ_END, any for ERROR) and, for a
   read, has not ended. A client may reuse an id; walld echoes it. */
static struct fs_req *
fs_find(struct fs_req *reqs, size_t n, uint64_t id, uint8_t op)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (reqs[i].id != id)
			continue;
		if (op == WIRE_OP_ERROR)
			return (&reqs[i]);
		if (op == WIRE_OP_RECORD || op == WIRE_OP_READ_END) {
			if (reqs[i].op == WIRE_OP_READ && !reqs[i].ended)
				return (&reqs[i]);
			continue;
		}
		if ((reqs[i].op | WIRE_REPLY) == op)
			return (&reqs[i]);
	}
	return (NULL);
}

/* 1 when the client itself used id 0 (PROTOCOL.md says it never does;
   walld then answers with id 0 too). */
static int
fs_zero_used(const struct fs_req *reqs, size_t n)
{
	while (n > 0)
		if (reqs[--n].id == 0)
			return (1);
	return (0);
}

#define FS_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_server: " __VA_ARGS__);		\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/* Checks every reply frame in buf against the requests sent. */
static void
fs_check(const uint8_t *b, size_t n, struct fs_req *reqs, size_t nreq,
    int overflow, int debug)
{
	struct wire_hdr	 h;
	struct wire_record rec;
	struct fs_req	*r;
	const char	*cause;
	const uint8_t	*body;
	uint64_t	 lsn, last_append = 0;
	size_t		 off = 0, blen;
	int		 rc, closing = 0, zero_used = fs_zero_used(reqs, nreq);

	while (off < n) {
		rc = wire_peek_hdr(b + off, n - off, WIRE_MAX_FRAME_HARD, &h,
		    &cause);
		FS_CHECK(rc == 1, "reply at offset %zu: %s", off,
		    rc == 0 ? "a frame cut short" : cause);
		FS_CHECK(h.len <= n - off, "reply at offset %zu: cut short", off);
		body = b + off + WIRE_HDR_LEN;
		blen = h.len - WIRE_HDR_LEN;
		off += h.len;
		if (debug)
			fprintf(stderr, "fuzz_server: reply op 0x%02x id %llu, "
			    "%zu bytes: %.*s\n", h.op, (unsigned long long)h.id,
			    blen, h.op == WIRE_OP_ERROR && blen > 4 ?
			    (int)(blen - 4) : 0, (const char *)body + 4);
		if (h.id == 0 && !zero_used) {
			FS_CHECK(h.op == WIRE_OP_ERROR, "op 0x%02x with id 0",
			    h.op);
			FS_CHECK(!closing, "a second ERROR with id 0");
			closing = 1;
			continue;
		}
		r = fs_find(reqs, nreq, h.id, h.op);
		if (r == NULL && overflow)
			continue;	/* a request past those remembered */
		if (r == NULL && fs_find(reqs, nreq, h.id, WIRE_OP_ERROR) !=
		    NULL && fs_find(reqs, nreq, h.id, WIRE_OP_ERROR)->shared)
			continue;	/* an id sent twice: which one, unknown */
		FS_CHECK(r != NULL, "op 0x%02x for id %llu: no request sent "
		    "wants it", h.op, (unsigned long long)h.id);
		if (r->shared)
			continue;
		if (h.op == WIRE_OP_ERROR) {
			/* The read it ends, if it was one: the first open read
			   with that id; or an ERROR about the connection. */
			if ((r = fs_find(reqs, nreq, h.id, WIRE_OP_RECORD)) != NULL)
				r->ended = 1;
			continue;
		}
		if (h.op == WIRE_OP_READ_END) {
			r->ended = 1;
			continue;
		}
		if (h.op == WIRE_OP_RECORD) {
			FS_CHECK(wire_dec_record(body, blen, &rec, &cause) == 0,
			    "RECORD: %s", cause);
			FS_CHECK(rec.lsn > r->last_lsn, "read %llu: LSN %llu "
			    "after %llu", (unsigned long long)h.id,
			    (unsigned long long)rec.lsn,
			    (unsigned long long)r->last_lsn);
			FS_CHECK(rec.lsn >= r->from && (r->to == 0 ||
			    rec.lsn <= r->to), "read %llu: LSN %llu outside "
			    "%llu..%llu", (unsigned long long)h.id,
			    (unsigned long long)rec.lsn,
			    (unsigned long long)r->from,
			    (unsigned long long)r->to);
			r->last_lsn = rec.lsn;
			continue;
		}
		if (r->op == WIRE_OP_APPEND) {
			FS_CHECK(blen == 8, "an append reply of %zu bytes", blen);
			memcpy(&lsn, body, 8);
			lsn = le64toh(lsn);
			/* A producer's retry gets the LSN its record got the
			   first time: below those after it. */
			if (r->flags & WIRE_F_PRODUCER) {
				if (lsn > last_append)
					last_append = lsn;
				continue;
			}
			FS_CHECK(lsn > last_append, "append LSN %llu after %llu",
			    (unsigned long long)lsn,
			    (unsigned long long)last_append);
			last_append = lsn;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fs_req	 reqs[FS_MAX_IDS];
	static uint8_t		*in, *out;
	static size_t		 outcap;
	struct pollfd		 pfd;
	size_t			 n = 0, sent = 0, got = 0, nreq;
	ssize_t			 k;
	int			 fd, eof = 0, shut = 0, overflow;
	const int		 debug = getenv("FS_DEBUG") != NULL;

	if (fs.srv == NULL)
		fs_init();
	if (size == 0)
		return (0);
	/* The input, after a HELLO (versions 1..2, id 1) when asked. */
	if ((in = realloc(in, size + WIRE_HDR_LEN + WIRE_HELLO_LEN)) == NULL)
		fs_die("realloc");
	if (data[0] & 1)
		n = wire_enc_hello(in, 1, WIRE_VERSION_MIN, WIRE_VERSION);
	memcpy(in + n, data + 1, size - 1);
	n += size - 1;
	nreq = fs_requests(in, n, reqs, &overflow);

	fd = fs_connect();
	while (!eof) {
		if (sent < n) {
			k = send(fd, in + sent, n - sent, MSG_NOSIGNAL);
			if (k > 0)
				sent += (size_t)k;
			else if (k == -1 && errno == EPIPE)
				sent = n;	/* walld closed: it said why */
			else if (k == -1 && errno != EAGAIN)
				fs_die("send");
		}
		if (sent == n && !shut) {
			if (shutdown(fd, SHUT_WR) != 0 && errno != ENOTCONN)
				fs_die("shutdown");
			shut = 1;
		}
		if (event_base_loop(fs.base, EVLOOP_NONBLOCK) == -1)
			fs_die("event_base_loop");
		for (;;) {
			if (got == outcap) {
				outcap = outcap == 0 ? 65536 : outcap * 2;
				if ((out = realloc(out, outcap)) == NULL)
					fs_die("realloc");
			}
			k = read(fd, out + got, outcap - got);
			if (k > 0) {
				got += (size_t)k;
				continue;
			}
			if (k == 0 || (k == -1 && errno == ECONNRESET))
				eof = 1;
			else if (errno != EAGAIN)
				fs_die("read");
			break;
		}
		if (!eof) {
			pfd.fd = fd;
			pfd.events = POLLIN;
			if (poll(&pfd, 1, FS_POLL_MS) == -1 && errno != EINTR)
				fs_die("poll");
		}
	}
	if (close(fd) != 0)
		fs_die("close");
	if (debug)
		fprintf(stderr, "fuzz_server: %zu bytes in, %zu requests, "
		    "%zu bytes of replies\n", n, nreq, got);
	fs_check(out, got, reqs, nreq, overflow, debug);
	/* Let walld finish with the connection before the next one. */
	if (event_base_loop(fs.base, EVLOOP_NONBLOCK) == -1)
		fs_die("event_base_loop");
	return (0);
}
