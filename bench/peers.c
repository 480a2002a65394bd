/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peers.c: the systems walbench loads besides walld (issue 26), so that
 * every one is driven by the same client processes: Redis over RESP on a
 * Unix socket (XADD, pipelined, non-blocking: peer_redis_*), and three
 * that answer one append at a time (peer_sync_*): PostgreSQL (libpq, one
 * INSERT a transaction), SQLite in WAL mode with synchronous=FULL (one
 * INSERT a transaction into one shared database) and a shared file
 * opened O_APPEND with an fdatasync after every record.
 *
 * PostgreSQL and SQLite need libpq and libsqlite3 at build time
 * (tools/bench-deps.sh installs them); without them walbench is built
 * all the same and says so when asked for those systems.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef WALBENCH_PQ
#include <libpq-fe.h>
#endif
#ifdef WALBENCH_SQLITE
#include <sqlite3.h>
#endif

#include "bench.h"

#define PEER_TABLE	"walbench_log"
#define REDIS_KEY	"walbench"
#define REDIS_RBUF	(64 * 1024)
#define SQLITE_BUSY_MS	60000

static void
cause(char *err, size_t len, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* Room for n more bytes in a growing buffer; -1 when out of memory. */
static int
buf_reserve(uint8_t **buf, size_t *cap, size_t used, size_t n)
{
	size_t	 want = *cap != 0 ? *cap : 4096;
	uint8_t	*p;

	if (used + n <= *cap)
		return (0);
	while (want < used + n)
		want *= 2;
	if ((p = realloc(*buf, want)) == NULL)
		return (-1);
	*buf = p;
	*cap = want;
	return (0);
}

/*
 * Redis: one connection, requests buffered until peer_redis_flush, replies
 * parsed from what peer_redis_read took. Replies come in request order,
 * so the caller matches them by counting.
 */
struct peer_redis {
	int		 fd;
	uint8_t		*out;
	size_t		 out_len, out_off, out_cap;
	uint8_t		*in;
	size_t		 in_len, in_off, in_cap;
};

struct peer_redis *
peer_redis_open(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct peer_redis	*r;
	int			 fl;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		cause(err, errlen, "%s: path too long", path);
		return (NULL);
	}
	strcpy(sun.sun_path, path);
	if ((r = calloc(1, sizeof *r)) == NULL) {
		cause(err, errlen, "out of memory");
		return (NULL);
	}
	if ((r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		cause(err, errlen, "socket: %s", strerror(errno));
		free(r);
		return (NULL);
	}
	if (connect(r->fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    (fl = fcntl(r->fd, F_GETFL)) == -1 ||
	    fcntl(r->fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		cause(err, errlen, "%s: %s", path, strerror(errno));
		(void)close(r->fd);
		free(r);
		return (NULL);
	}
	r->in_cap = REDIS_RBUF;
	if ((r->in = malloc(r->in_cap)) == NULL) {
		cause(err, errlen, "out of memory");
		(void)close(r->fd);
		free(r);
		return (NULL);
	}
	return (r);
}

int
peer_redis_fd(const struct peer_redis *r)
{
	return (r->fd);
}

/* 1 when requests wait to be written. */
int
peer_redis_want_write(const struct peer_redis *r)
{
	return (r->out_off < r->out_len);
}

/* Queues XADD walbench * f <payload>; -1 when out of memory. */
int
peer_redis_submit(struct peer_redis *r, const uint8_t *p, uint32_t len)
{
	char	head[96];
	int	n;

	n = snprintf(head, sizeof head, "*5\r\n$4\r\nXADD\r\n$%zu\r\n%s\r\n"
	    "$1\r\n*\r\n$1\r\nf\r\n$%u\r\n", strlen(REDIS_KEY), REDIS_KEY,
	    (unsigned)len);
	if (n < 0 || (size_t)n >= sizeof head)
		return (-1);
	if (r->out_off == r->out_len)
		r->out_off = r->out_len = 0;
	if (buf_reserve(&r->out, &r->out_cap, r->out_len,
	    (size_t)n + len + 2) == -1)
		return (-1);
	memcpy(r->out + r->out_len, head, (size_t)n);
	r->out_len += (size_t)n;
	memcpy(r->out + r->out_len, p, len);
	r->out_len += len;
	memcpy(r->out + r->out_len, "\r\n", 2);
	r->out_len += 2;
	return (0);
}

/* Writes what it can of the queued requests; -1 on a failure. */
int
peer_redis_flush(struct peer_redis *r, char *err, size_t errlen)
{
	ssize_t	n;

	while (r->out_off < r->out_len) {
		n = send(r->fd, r->out + r->out_off, r->out_len - r->out_off,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return (0);
		if (n == -1) {
			cause(err, errlen, "send: %s", strerror(errno));
			return (-1);
		}
		r->out_off += (size_t)n;
	}
	r->out_off = r->out_len = 0;
	return (0);
}

/* Reads what the socket holds (once, and again while the buffer filled);
   -1 on a failure or when Redis closed the connection. */
int
peer_redis_read(struct peer_redis *r, char *err, size_t errlen)
{
	ssize_t	n;
	size_t	room;

	for (;;) {
		if (r->in_off > 0 && r->in_off == r->in_len)
			r->in_off = r->in_len = 0;
		if (r->in_off > 0 && r->in_len == r->in_cap) {
			memmove(r->in, r->in + r->in_off, r->in_len - r->in_off);
			r->in_len -= r->in_off;
			r->in_off = 0;
		}
		if (r->in_len == r->in_cap &&
		    buf_reserve(&r->in, &r->in_cap, r->in_len, REDIS_RBUF) == -1) {
			cause(err, errlen, "out of memory");
			return (-1);
		}
		room = r->in_cap - r->in_len;
		n = recv(r->fd, r->in + r->in_len, room, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return (0);
		if (n == -1) {
			cause(err, errlen, "recv: %s", strerror(errno));
			return (-1);
		}
		if (n == 0) {
			cause(err, errlen, "Redis closed the connection");
			return (-1);
		}
		r->in_len += (size_t)n;
		if ((size_t)n < room)
			return (0);
	}
}

/*
 * The next whole reply taken by peer_redis_read: 1 and *ok (0 for an
 * error reply, its text in msg), 0 when none is whole yet, -1 on a reply
 * XADD cannot give (an array, a malformed line).
 */
int
peer_redis_reply(struct peer_redis *r, int *ok, char *msg, size_t msglen)
{
	const uint8_t	*p = r->in + r->in_off, *e;
	size_t		 avail = r->in_len - r->in_off, line;
	long long	 blen;
	char		 num[24];

	if (avail == 0)
		return (0);
	if ((e = memchr(p, '\n', avail)) == NULL)
		return (0);
	line = (size_t)(e - p) + 1;
	if (line < 3 || p[line - 2] != '\r')
		goto bad;
	switch (p[0]) {
	case '+':
	case ':':
		*ok = 1;
		r->in_off += line;
		return (1);
	case '-':
		*ok = 0;
		snprintf(msg, msglen, "%.*s", (int)(line - 3), p + 1);
		r->in_off += line;
		return (1);
	case '$':
		if (line - 3 >= sizeof num)
			goto bad;
		memcpy(num, p + 1, line - 3);
		num[line - 3] = '\0';
		blen = strtoll(num, NULL, 10);
		if (blen < 0) {		/* a null bulk: no id */
			*ok = 0;
			snprintf(msg, msglen, "null reply");
			r->in_off += line;
			return (1);
		}
		if (avail < line + (size_t)blen + 2)
			return (0);
		*ok = 1;
		r->in_off += line + (size_t)blen + 2;
		return (1);
	default:
		break;
	}
bad:
	snprintf(msg, msglen, "unexpected reply from Redis: %.*s",
	    (int)(avail < 40 ? avail : 40), p);
	return (-1);
}

void
peer_redis_close(struct peer_redis *r)
{
	if (r == NULL)
		return;
	if (close(r->fd) == -1)
		fprintf(stderr, "walbench: close: %s\n", strerror(errno));
	free(r->out);
	free(r->in);
	free(r);
}

/*
 * PostgreSQL, SQLite and the shared file: one append at a time, answered
 * once durable.
 */
struct peer_sync {
	enum bench_system	 sys;
#ifdef WALBENCH_PQ
	PGconn			*pg;
#endif
#ifdef WALBENCH_SQLITE
	sqlite3			*db;
	sqlite3_stmt		*ins;
#endif
	int			 fd;
	uint8_t			*buf;
	size_t			 cap;
	uint32_t		 tenant;
};

/* 1 when this walbench can drive sys. */
int
peer_built(enum bench_system sys)
{
	switch (sys) {
	case SYS_PG:
#ifdef WALBENCH_PQ
		return (1);
#else
		return (0);
#endif
	case SYS_SQLITE:
#ifdef WALBENCH_SQLITE
		return (1);
#else
		return (0);
#endif
	default:
		return (1);
	}
}

#ifdef WALBENCH_PQ
static PGconn *
pg_connect(const char *conninfo, char *err, size_t errlen)
{
	PGconn	*pg;

	if ((pg = PQconnectdb(conninfo)) == NULL) {
		cause(err, errlen, "PQconnectdb: out of memory");
		return (NULL);
	}
	if (PQstatus(pg) != CONNECTION_OK) {
		cause(err, errlen, "PostgreSQL %s: %s", conninfo,
		    PQerrorMessage(pg));
		PQfinish(pg);
		return (NULL);
	}
	return (pg);
}

/* Runs sql; -1 and the server's message when it did not succeed. */
static int
pg_exec(PGconn *pg, const char *sql, char *err, size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	res = PQexec(pg, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		cause(err, errlen, "%s: %s", sql, PQerrorMessage(pg));
		rc = -1;
	}
	PQclear(res);
	return (rc);
}
#endif

#ifdef WALBENCH_SQLITE
static int
sqlite_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		cause(err, errlen, "%s: %s", sql,
		    msg != NULL ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return (-1);
	}
	return (0);
}
#endif

/*
 * Before the clients start, in the parent: a fresh table (PostgreSQL), a
 * fresh database in WAL mode (SQLite: the mode is kept in the file), an
 * empty file.
 */
int
peer_sync_setup(enum bench_system sys, const char *target, char *err,
    size_t errlen)
{
	int	fd;

	switch (sys) {
	case SYS_PG: {
#ifdef WALBENCH_PQ
		PGconn	*pg;
		int	 rc;

		if ((pg = pg_connect(target, err, errlen)) == NULL)
			return (-1);
		rc = pg_exec(pg, "DROP TABLE IF EXISTS " PEER_TABLE, err,
		    errlen);
		if (rc == 0)
			rc = pg_exec(pg, "CREATE TABLE " PEER_TABLE " (id "
			    "bigserial PRIMARY KEY, tenant integer NOT NULL, "
			    "payload bytea NOT NULL)", err, errlen);
		PQfinish(pg);
		return (rc);
#else
		break;
#endif
	}
	case SYS_SQLITE: {
#ifdef WALBENCH_SQLITE
		sqlite3	*db = NULL;
		int	 rc;

		if (sqlite3_open_v2(target, &db, SQLITE_OPEN_READWRITE |
		    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
			cause(err, errlen, "%s: %s", target,
			    db != NULL ? sqlite3_errmsg(db) : "out of memory");
			sqlite3_close(db);
			return (-1);
		}
		rc = sqlite_exec(db, "PRAGMA journal_mode=WAL", err, errlen);
		if (rc == 0)
			rc = sqlite_exec(db, "DROP TABLE IF EXISTS " PEER_TABLE,
			    err, errlen);
		if (rc == 0)
			rc = sqlite_exec(db, "CREATE TABLE " PEER_TABLE " (id "
			    "INTEGER PRIMARY KEY, tenant INTEGER NOT NULL, "
			    "payload BLOB NOT NULL)", err, errlen);
		if (sqlite3_close(db) != SQLITE_OK && rc == 0) {
			cause(err, errlen, "%s: close failed", target);
			rc = -1;
		}
		return (rc);
#else
		break;
#endif
	}
	case SYS_FILE:
		fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
		if (fd == -1) {
			cause(err, errlen, "%s: %s", target, strerror(errno));
			return (-1);
		}
		if (fsync(fd) == -1 || close(fd) == -1) {
			cause(err, errlen, "%s: %s", target, strerror(errno));
			return (-1);
		}
		return (0);
	default:
		return (0);
	}
	cause(err, errlen, "walbench was built without %s: make bench "
	    "installs it (tools/bench-deps.sh) and rebuilds walbench",
	    sys == SYS_PG ? "libpq" : "SQLite");
	return (-1);
}

struct peer_sync *
peer_sync_open(enum bench_system sys, const char *target, uint32_t tenant,
    char *err, size_t errlen)
{
	struct peer_sync	*s;

	if (!peer_built(sys)) {
		(void)peer_sync_setup(sys, target, err, errlen);
		return (NULL);
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		cause(err, errlen, "out of memory");
		return (NULL);
	}
	s->sys = sys;
	s->fd = -1;
	s->tenant = tenant;
	switch (sys) {
#ifdef WALBENCH_PQ
	case SYS_PG: {
		PGresult	*res;
		Oid		 types[2] = { 23, 17 };	/* int4, bytea */

		if ((s->pg = pg_connect(target, err, errlen)) == NULL)
			goto fail;
		res = PQprepare(s->pg, "ins", "INSERT INTO " PEER_TABLE
		    " (tenant, payload) VALUES ($1, $2)", 2, types);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			cause(err, errlen, "prepare: %s", PQerrorMessage(s->pg));
			PQclear(res);
			goto fail;
		}
		PQclear(res);
		break;
	}
#endif
#ifdef WALBENCH_SQLITE
	case SYS_SQLITE:
		if (sqlite3_open_v2(target, &s->db, SQLITE_OPEN_READWRITE,
		    NULL) != SQLITE_OK) {
			cause(err, errlen, "%s: %s", target, s->db != NULL ?
			    sqlite3_errmsg(s->db) : "out of memory");
			goto fail;
		}
		if (sqlite3_busy_timeout(s->db, SQLITE_BUSY_MS) != SQLITE_OK ||
		    sqlite_exec(s->db, "PRAGMA synchronous=FULL", err,
		    errlen) == -1)
			goto fail;
		if (sqlite3_prepare_v2(s->db, "INSERT INTO " PEER_TABLE
		    " (tenant, payload) VALUES (?, ?)", -1, &s->ins, NULL) !=
		    SQLITE_OK) {
			cause(err, errlen, "prepare: %s", sqlite3_errmsg(s->db));
			goto fail;
		}
		break;
#endif
	case SYS_FILE:
		s->fd = open(target, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (s->fd == -1) {
			cause(err, errlen, "%s: %s", target, strerror(errno));
			goto fail;
		}
		break;
	default:
		cause(err, errlen, "not a one-at-a-time system");
		goto fail;
	}
	return (s);
fail:
	peer_sync_close(s);
	return (NULL);
}

/*
 * One durable append: 0 once it is durable, 1 when the system said busy
 * (SQLite past its busy timeout: counted, not fatal), -1 on a failure.
 */
int
peer_sync_append(struct peer_sync *s, const uint8_t *p, uint32_t len,
    char *err, size_t errlen)
{
	ssize_t		 n;
	size_t		 total;
	uint32_t	 be;

	switch (s->sys) {
#ifdef WALBENCH_PQ
	case SYS_PG: {
		PGresult	*res;
		const char	*vals[2];
		int		 lens[2], fmts[2] = { 1, 1 }, rc = 0;

		be = htonl(s->tenant);
		vals[0] = (const char *)&be;
		lens[0] = sizeof be;
		vals[1] = (const char *)p;
		lens[1] = (int)len;
		res = PQexecPrepared(s->pg, "ins", 2, vals, lens, fmts, 1);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			cause(err, errlen, "INSERT: %s", PQerrorMessage(s->pg));
			rc = -1;
		}
		PQclear(res);
		return (rc);
	}
#endif
#ifdef WALBENCH_SQLITE
	case SYS_SQLITE: {
		int	rc;

		if (sqlite3_bind_int64(s->ins, 1, s->tenant) != SQLITE_OK ||
		    sqlite3_bind_blob(s->ins, 2, p, (int)len, SQLITE_STATIC) !=
		    SQLITE_OK) {
			cause(err, errlen, "bind: %s", sqlite3_errmsg(s->db));
			return (-1);
		}
		rc = sqlite3_step(s->ins);
		if (sqlite3_reset(s->ins) != SQLITE_OK && rc == SQLITE_DONE)
			rc = SQLITE_ERROR;
		if (rc == SQLITE_DONE)
			return (0);
		cause(err, errlen, "INSERT: %s", sqlite3_errmsg(s->db));
		return (rc == SQLITE_BUSY ? 1 : -1);
	}
#endif
	case SYS_FILE:
		/* A record: its length (4 bytes, big-endian), then it. */
		total = sizeof be + len;
		if (buf_reserve(&s->buf, &s->cap, 0, total) == -1) {
			cause(err, errlen, "out of memory");
			return (-1);
		}
		be = htonl(len);
		memcpy(s->buf, &be, sizeof be);
		memcpy(s->buf + sizeof be, p, len);
		/* One write: O_APPEND keeps each record whole and in one
		   place among the other processes' records, so a short
		   write (a full disk) is a failure, not a retry. */
		while ((n = write(s->fd, s->buf, total)) == -1 && errno == EINTR)
			;
		if (n == -1) {
			cause(err, errlen, "write: %s", strerror(errno));
			return (-1);
		}
		if ((size_t)n != total) {
			cause(err, errlen, "write: %zd of %zu bytes", n, total);
			return (-1);
		}
		if (fdatasync(s->fd) == -1) {
			cause(err, errlen, "fdatasync: %s", strerror(errno));
			return (-1);
		}
		return (0);
	default:
		cause(err, errlen, "not a one-at-a-time system");
		return (-1);
	}
}

void
peer_sync_close(struct peer_sync *s)
{
	if (s == NULL)
		return;
#ifdef WALBENCH_PQ
	if (s->pg != NULL)
		PQfinish(s->pg);
#endif
#ifdef WALBENCH_SQLITE
	if (s->ins != NULL)
		(void)sqlite3_finalize(s->ins);
	if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
		fprintf(stderr, "walbench: sqlite3_close: %s\n",
		    sqlite3_errmsg(s->db));
#endif
	if (s->fd != -1 && close(s->fd) == -1)
		fprintf(stderr, "walbench: close: %s\n", strerror(errno));
	free(s->buf);
	free(s);
}
