/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cursor.c: durable consumer cursors (cursor.h, docs/CURSORS.md). Owns the
 * table of cursors, the data directory's CURSORS file and the thread that
 * writes it.
 *
 * CURSORS, every integer little-endian:
 *
 *   0   8    magic "WALDCURS"
 *   8   u32  version, 1
 *   12  u32  count n (at most CURSOR_FILE_MAX)
 *   16  n entries, sorted by name (bytewise), no name twice:
 *         0   u16  name length (1..64)
 *         2   u16  zero
 *         4   u32  zero
 *         8   u64  LSN of the last record consumed (0: none)
 *         16  u64  commit time, Unix milliseconds (0: never committed)
 *         24  the name, [A-Za-z0-9._-], the first byte a letter or digit
 *   end u32  CRC-32C of every byte before it
 *
 * The file is replaced whole: CURSORS.tmp written, fsynced, renamed over
 * CURSORS, the directory fsynced. A crash leaves the old file or the new
 * one, and maybe a CURSORS.tmp, which the next start removes. A file that
 * breaks any rule above (or has bytes after the CRC) is damage, not a torn
 * write: walld refuses to start (cursor_store_open), as a consumer resumed
 * from a wrong position would skip or repeat records silently.
 *
 * Durability order: a change is applied to the table in memory at once
 * (so later requests see it), and answered only after a write that holds
 * it has returned from the directory fsync. GET and LIST show only what
 * is durable. Writes are grouped: changes made while a write is under way
 * go into the next one. One write at a time, on the worker thread; the
 * loop hands it a buffer and hears back through an eventfd.
 */
#include <sys/eventfd.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cause.h"
#include "crc32c.h"
#include "cursor.h"
#include "log.h"
#include "segment.h"
#include "sysio.h"
#include "wire.h"

#define CURSOR_MAGIC		"WALDCURS"
#define CURSOR_VERSION		1
#define CURSOR_HDR		16
#define CURSOR_ENT		24
#define CURSOR_FILE_MAX		1000000		/* entries a file may hold */

/* A change waiting for the write that makes it durable. */
struct cursor_wait {
	uint64_t	 gen;		/* answered once gen_durable >= gen */
	cursor_cb	 cb;
	void		*arg;
};

struct cursor_store {
	struct event_base	*base;
	char			*dir;
	int			 dirfd;

	/* The loop's. ents: every change applied; dur: what is durable. */
	struct cursor_info	*ents;
	size_t			 n, cap;
	struct cursor_info	*dur;
	size_t			 ndur;
	struct cursor_info	*snap;		/* the table being written */
	size_t			 nsnap;
	uint64_t		 gen;		/* changes applied */
	uint64_t		 gen_durable;	/* held by the file */
	uint64_t		 gen_writing;	/* the write under way's */
	int			 writing;
	int			 failed;	/* a write failed: latched */
	struct cursor_wait	*waits;
	size_t			 nwaits, waits_cap;
	void			(*idle_cb)(void *);
	void			*idle_arg;

	/* Shared with the worker, under lock. */
	pthread_t		 thread;
	int			 started;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	uint8_t			*job;		/* the file's bytes; NULL: none */
	size_t			 job_len;
	int			 job_done;
	int			 stop;
	char			 job_cause[256];	/* "" when it worked */

	int			 efd;		/* the worker's "done" */
	struct event		*ev;
	struct event		*answer_ev;	/* answers a change that found
						   its state durable already */
};

static void	cursor_start_write(struct cursor_store *);

/* Little-endian helpers. */
static void
cursor_put32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

static void
cursor_put64(uint8_t *p, uint64_t v)
{
	cursor_put32(p, (uint32_t)v);
	cursor_put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
cursor_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	    ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24));
}

static uint64_t
cursor_get64(const uint8_t *p)
{
	return ((uint64_t)cursor_get32(p) | ((uint64_t)cursor_get32(p + 4) << 32));
}

/* 1 when name is a valid cursor name: the wire's rule (cursor.h). */
int
cursor_name_valid(const char *name, size_t len)
{
	return (wire_cursor_name_valid(name, len));
}

/* Unix time in milliseconds. */
static uint64_t
cursor_now_ms(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (0);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* The index of name in a sorted table, or where it would go (*found 0). */
static size_t
cursor_find(const struct cursor_info *t, size_t n, const char *name,
    int *found)
{
	size_t	lo = 0, hi = n, mid;
	int	cmp;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = strcmp(t[mid].name, name);
		if (cmp == 0) {
			*found = 1;
			return (mid);
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

/* The file's bytes for a table: malloc'd, *len set; NULL when out of
   memory. */
static uint8_t *
cursor_encode(const struct cursor_info *t, size_t n, size_t *len)
{
	uint8_t	*buf, *p;
	size_t	 i, total = CURSOR_HDR + 4, nl;

	for (i = 0; i < n; i++)
		total += CURSOR_ENT + strlen(t[i].name);
	if ((buf = malloc(total)) == NULL)
		return (NULL);
	memcpy(buf, CURSOR_MAGIC, 8);
	cursor_put32(buf + 8, CURSOR_VERSION);
	cursor_put32(buf + 12, (uint32_t)n);
	p = buf + CURSOR_HDR;
	for (i = 0; i < n; i++) {
		nl = strlen(t[i].name);
		memset(p, 0, 8);
		p[0] = nl & 0xff;
		p[1] = (uint8_t)(nl >> 8);
		cursor_put64(p + 8, t[i].lsn);
		cursor_put64(p + 16, t[i].commit_ms);
		memcpy(p + CURSOR_ENT, t[i].name, nl);
		p += CURSOR_ENT + nl;
	}
	cursor_put32(p, crc32c(0, buf, (size_t)(p - buf)));
	*len = total;
	return (buf);
}

/* Parses the file's bytes into a malloc'd table (*t, *n); -1 and *cause
   (what is wrong, where) when they break a rule of the format. */
static int
cursor_decode(const uint8_t *b, size_t len, struct cursor_info **t,
    size_t *n, char **cause)
{
	struct cursor_info	*tab;
	size_t			 off, i, count, nl;
	uint32_t		 crc;

	*t = NULL;
	*n = 0;
	if (len < CURSOR_HDR + 4) {
		cause_set(cause, "%zu bytes, shorter than a header and a "
		    "CRC (20)", len);
		return (-1);
	}
	if (memcmp(b, CURSOR_MAGIC, 8) != 0) {
		cause_set(cause, "offset 0: not a cursors file (bad magic)");
		return (-1);
	}
	crc = crc32c(0, b, len - 4);
	if (crc != cursor_get32(b + len - 4)) {
		cause_set(cause, "offset %zu: CRC mismatch (stored 0x%08x, "
		    "computed 0x%08x)", len - 4, cursor_get32(b + len - 4),
		    crc);
		return (-1);
	}
	if (cursor_get32(b + 8) != CURSOR_VERSION) {
		cause_set(cause, "offset 8: version %u, this walld knows %d",
		    cursor_get32(b + 8), CURSOR_VERSION);
		return (-1);
	}
	count = cursor_get32(b + 12);
	if (count > CURSOR_FILE_MAX) {
		cause_set(cause, "offset 12: %zu cursors, above %d", count,
		    CURSOR_FILE_MAX);
		return (-1);
	}
	if ((tab = calloc(count > 0 ? count : 1, sizeof *tab)) == NULL) {
		cause_set(cause, "out of memory");
		return (-1);
	}
	off = CURSOR_HDR;
	for (i = 0; i < count; i++) {
		if (len - 4 - off < CURSOR_ENT) {
			cause_set(cause, "offset %zu: cursor %zu of %zu cut "
			    "short", off, i + 1, count);
			goto bad;
		}
		nl = (size_t)b[off] | ((size_t)b[off + 1] << 8);
		if (b[off + 2] != 0 || b[off + 3] != 0 ||
		    cursor_get32(b + off + 4) != 0) {
			cause_set(cause, "offset %zu: reserved bytes are not "
			    "zero", off);
			goto bad;
		}
		if (nl > len - 4 - off - CURSOR_ENT ||
		    !cursor_name_valid((const char *)b + off + CURSOR_ENT,
		    nl)) {
			cause_set(cause, "offset %zu: cursor %zu: not a valid "
			    "name", off, i + 1);
			goto bad;
		}
		memcpy(tab[i].name, b + off + CURSOR_ENT, nl);
		tab[i].name[nl] = '\0';
		tab[i].lsn = cursor_get64(b + off + 8);
		tab[i].commit_ms = cursor_get64(b + off + 16);
		if (i > 0 && strcmp(tab[i - 1].name, tab[i].name) >= 0) {
			cause_set(cause, "offset %zu: cursor %s out of order",
			    off, tab[i].name);
			goto bad;
		}
		off += CURSOR_ENT + nl;
	}
	if (off != len - 4) {
		cause_set(cause, "offset %zu: %zu bytes after the last cursor",
		    off, len - 4 - off);
		goto bad;
	}
	*t = tab;
	*n = count;
	return (0);
bad:
	free(tab);
	return (-1);
}

/* Reads CURSORS into the table; a missing file is an empty table. */
static int
cursor_load(struct cursor_store *cs, char **cause)
{
	struct stat	 sb;
	uint8_t		*buf;
	char		*why = NULL;
	ssize_t		 got;
	size_t		 off = 0;
	int		 fd;

	if (unlinkat(cs->dirfd, CURSORS_FILE_TMP_NAME, 0) == 0)
		log_info("cursors: %s/%s: removed (a write a stop cut short; "
		    "%s is the last complete one)", cs->dir, CURSORS_FILE_TMP_NAME,
		    CURSORS_FILE_NAME);
	else if (errno != ENOENT) {
		cause_set(cause, "cursors: %s/%s: unlink: %s", cs->dir,
		    CURSORS_FILE_TMP_NAME, strerror(errno));
		return (-1);
	}
	fd = openat(cs->dirfd, CURSORS_FILE_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		if (errno == ENOENT)
			return (0);
		cause_set(cause, "cursors: %s/%s: open: %s", cs->dir,
		    CURSORS_FILE_NAME, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &sb) != 0) {
		cause_set(cause, "cursors: %s/%s: fstat: %s", cs->dir,
		    CURSORS_FILE_NAME, strerror(errno));
		close(fd);
		return (-1);
	}
	if (sb.st_size > (off_t)CURSOR_FILE_MAX * (CURSOR_ENT +
	    CURSOR_NAME_MAX) + CURSOR_HDR + 4) {
		cause_set(cause, "cursors: %s/%s: %lld bytes, larger than any "
		    "cursors file: damaged; walld does not start with its "
		    "consumers' positions unknown (restore the file, or move "
		    "it away to start with no cursors)", cs->dir, CURSORS_FILE_NAME,
		    (long long)sb.st_size);
		close(fd);
		return (-1);
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		cause_set(cause, "cursors: out of memory");
		close(fd);
		return (-1);
	}
	while (off < (size_t)sb.st_size) {
		got = read(fd, buf + off, (size_t)sb.st_size - off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			cause_set(cause, "cursors: %s/%s: read: %s", cs->dir,
			    CURSORS_FILE_NAME, got < 0 ? strerror(errno) :
			    "the file shrank while it was read");
			free(buf);
			close(fd);
			return (-1);
		}
		off += (size_t)got;
	}
	if (close(fd) != 0)
		log_warn("cursors: %s/%s: close: %s", cs->dir, CURSORS_FILE_NAME,
		    strerror(errno));
	if (cursor_decode(buf, off, &cs->dur, &cs->ndur, &why) != 0) {
		cause_set(cause, "cursors: %s/%s: damaged: %s; walld does not "
		    "start with its consumers' positions unknown (restore the "
		    "file, or move it away to start with no cursors)", cs->dir,
		    CURSORS_FILE_NAME, why);
		free(why);
		free(buf);
		return (-1);
	}
	free(buf);
	return (0);
}

/* Copies a table into a malloc'd one (at least one slot). */
static struct cursor_info *
cursor_copy(const struct cursor_info *t, size_t n)
{
	struct cursor_info	*c;

	if ((c = calloc(n > 0 ? n : 1, sizeof *c)) == NULL)
		return (NULL);
	if (n > 0)
		memcpy(c, t, n * sizeof *c);
	return (c);
}

/* Writes the file's bytes: temp file, fsync, rename, directory fsync.
   The worker's; -1 with why filled in. */
static int
cursor_write_file(struct cursor_store *cs, const uint8_t *b, size_t len,
    char *why, size_t whysz)
{
	const char	*call = "open";
	ssize_t		 w;
	size_t		 off = 0;
	int		 fd, e;

	fd = sysio.openat(cs->dirfd, CURSORS_FILE_TMP_NAME, O_WRONLY | O_CREAT |
	    O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		goto fail;
	call = "write";
	while (off < len) {
		w = sysio.pwrite(fd, b + off, len - off, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			e = errno;
			sysio.close(fd);
			errno = e;
			goto fail;
		}
		off += (size_t)w;
	}
	call = "fsync";
	if (sysio.fsync(fd) != 0) {
		e = errno;
		sysio.close(fd);
		errno = e;
		goto fail;
	}
	call = "close";
	if (sysio.close(fd) != 0)
		goto fail;
	call = "rename";
	if (sysio.renameat(cs->dirfd, CURSORS_FILE_TMP_NAME, cs->dirfd,
	    CURSORS_FILE_NAME) != 0)
		goto fail;
	call = "fsync directory";
	if (sysio.fsync(cs->dirfd) != 0)
		goto fail;
	return (0);
fail:
	snprintf(why, whysz, "%s/%s: %s: %s", cs->dir, CURSORS_FILE_TMP_NAME, call,
	    strerror(errno));
	return (-1);
}

/* The worker: writes each buffer the loop hands it, then says so. */
static void *
cursor_worker(void *arg)
{
	struct cursor_store	*cs = arg;
	uint8_t			*job;
	size_t			 len;
	uint64_t		 one = 1;
	char			 why[sizeof cs->job_cause];

	for (;;) {
		pthread_mutex_lock(&cs->lock);
		while ((cs->job == NULL || cs->job_done) && !cs->stop)
			pthread_cond_wait(&cs->cond, &cs->lock);
		if (cs->job == NULL || cs->job_done) {
			pthread_mutex_unlock(&cs->lock);
			return (NULL);
		}
		job = cs->job;
		len = cs->job_len;
		pthread_mutex_unlock(&cs->lock);

		why[0] = '\0';
		(void)cursor_write_file(cs, job, len, why, sizeof why);

		pthread_mutex_lock(&cs->lock);
		memcpy(cs->job_cause, why, sizeof why);
		cs->job_done = 1;
		pthread_cond_broadcast(&cs->cond);
		pthread_mutex_unlock(&cs->lock);
		while (write(cs->efd, &one, sizeof one) != sizeof one) {
			if (errno != EINTR) {
				log_err("cursors: waking the loop: %s",
				    strerror(errno));
				break;
			}
		}
	}
}

/* Answers the waiters the last write covers (all of them when it failed:
   nothing after it will be written). */
static void
cursor_answer(struct cursor_store *cs, int ok, const char *cause)
{
	struct cursor_wait	 w;
	size_t			 i, keep = 0, n = cs->nwaits;

	/* A callback may queue a new change (and grow waits): answer the
	   ones there were, then keep what was added. */
	for (i = 0; i < n; i++) {
		w = cs->waits[i];
		if (ok && w.gen > cs->gen_durable) {
			cs->waits[keep++] = w;
			continue;
		}
		w.cb(w.arg, ok, cause);
	}
	for (i = n; i < cs->nwaits; i++)
		cs->waits[keep++] = cs->waits[i];
	cs->nwaits = keep;
}

/* Takes the worker's result; on the loop. */
static void
cursor_done(struct cursor_store *cs)
{
	char	cause[sizeof cs->job_cause];
	int	ok;

	pthread_mutex_lock(&cs->lock);
	memcpy(cause, cs->job_cause, sizeof cause);
	free(cs->job);
	cs->job = NULL;
	cs->job_done = 0;
	pthread_mutex_unlock(&cs->lock);
	cs->writing = 0;
	ok = cause[0] == '\0';
	if (ok) {
		free(cs->dur);
		cs->dur = cs->snap;
		cs->ndur = cs->nsnap;
		cs->gen_durable = cs->gen_writing;
	} else {
		free(cs->snap);
		cs->failed = 1;
		log_err("cursors: %s; the cursors file may hold the old or the "
		    "new cursors: the changes waiting are answered \"outcome "
		    "unknown\", and later ones refused until walld restarts",
		    cause);
	}
	cs->snap = NULL;
	cs->nsnap = 0;
	cursor_answer(cs, ok, ok ? NULL : cause);
	if (!cs->failed)
		cursor_start_write(cs);
	if (cs->idle_cb != NULL)
		cs->idle_cb(cs->idle_arg);
}

/* The eventfd: the worker finished a write. */
static void
cursor_efd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cursor_store	*cs = arg;
	uint64_t		 v;
	int			 done;

	(void)what;
	if (read(fd, &v, sizeof v) != sizeof v && errno != EAGAIN)
		log_err("cursors: reading the worker's eventfd: %s",
		    strerror(errno));
	pthread_mutex_lock(&cs->lock);
	done = cs->job != NULL && cs->job_done;
	pthread_mutex_unlock(&cs->lock);
	if (done)
		cursor_done(cs);
}

/* answer_ev: the waiters whose state was durable when they came. */
static void
cursor_answer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cursor_store	*cs = arg;

	(void)fd; (void)what;
	cursor_answer(cs, 1, NULL);
	if (cs->idle_cb != NULL)
		cs->idle_cb(cs->idle_arg);
}

/* Hands the table as it is now to the worker, unless a write is under way
   (the next one will carry the changes) or nothing changed. */
static void
cursor_start_write(struct cursor_store *cs)
{
	uint8_t	*buf;
	size_t	 len;

	if (cs->writing || cs->failed || cs->gen_durable == cs->gen)
		return;
	if ((buf = cursor_encode(cs->ents, cs->n, &len)) == NULL ||
	    (cs->snap = cursor_copy(cs->ents, cs->n)) == NULL) {
		free(buf);
		/* Nothing written: the waiters are told, the table stays
		   as it is in memory, and the next change tries again. */
		log_err("cursors: out of memory for a write of %zu cursors",
		    cs->n);
		cs->failed = 1;
		cursor_answer(cs, 0, "out of memory");
		return;
	}
	cs->nsnap = cs->n;
	cs->gen_writing = cs->gen;
	cs->writing = 1;
	pthread_mutex_lock(&cs->lock);
	cs->job = buf;
	cs->job_len = len;
	cs->job_done = 0;
	pthread_cond_broadcast(&cs->cond);
	pthread_mutex_unlock(&cs->lock);
}

/* Queues cb for the state as it is now. */
static enum cursor_rc
cursor_wait_for(struct cursor_store *cs, cursor_cb cb, void *arg)
{
	struct cursor_wait	*nw;
	size_t			 ncap;

	if (cs->nwaits == cs->waits_cap) {
		ncap = cs->waits_cap == 0 ? 16 : cs->waits_cap * 2;
		if ((nw = realloc(cs->waits, ncap * sizeof *nw)) == NULL)
			return (CURSOR_ENOMEM);
		cs->waits = nw;
		cs->waits_cap = ncap;
	}
	cs->waits[cs->nwaits].gen = cs->gen;
	cs->waits[cs->nwaits].cb = cb;
	cs->waits[cs->nwaits].arg = arg;
	cs->nwaits++;
	/* Nothing to write for it: answered from the loop, not from
	   inside the caller. */
	if (cs->gen_durable == cs->gen)
		event_active(cs->answer_ev, EV_READ, 0);
	return (CURSOR_QUEUED);
}

/* Reads CURSORS and starts the worker (cursor.h). */
struct cursor_store *
cursor_store_open(struct event_base *base, const char *dir, char **cause)
{
	struct cursor_store	*cs;
	int			 e;

	if ((cs = calloc(1, sizeof *cs)) == NULL ||
	    (cs->dir = strdup(dir)) == NULL) {
		free(cs);
		cause_set(cause, "cursors: out of memory");
		return (NULL);
	}
	cs->base = base;
	cs->efd = -1;
	cs->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cs->dirfd == -1) {
		cause_set(cause, "cursors: %s: open directory: %s", dir,
		    strerror(errno));
		goto fail;
	}
	if (cursor_load(cs, cause) != 0)
		goto fail;
	if ((cs->ents = cursor_copy(cs->dur, cs->ndur)) == NULL) {
		cause_set(cause, "cursors: out of memory");
		goto fail;
	}
	cs->n = cs->cap = cs->ndur;
	if (cs->cap == 0)
		cs->cap = 1;
	if ((cs->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		cause_set(cause, "cursors: eventfd: %s", strerror(errno));
		goto fail;
	}
	cs->ev = event_new(base, cs->efd, EV_READ | EV_PERSIST, cursor_efd_cb,
	    cs);
	cs->answer_ev = event_new(base, -1, 0, cursor_answer_cb, cs);
	if (cs->ev == NULL || cs->answer_ev == NULL ||
	    event_add(cs->ev, NULL) != 0) {
		cause_set(cause, "cursors: cannot watch the worker's eventfd");
		goto fail;
	}
	if ((e = pthread_mutex_init(&cs->lock, NULL)) != 0 ||
	    (e = pthread_cond_init(&cs->cond, NULL)) != 0) {
		cause_set(cause, "cursors: pthread init: %s", strerror(e));
		goto fail;
	}
	if ((e = pthread_create(&cs->thread, NULL, cursor_worker, cs)) != 0) {
		cause_set(cause, "cursors: starting the writer thread: %s",
		    strerror(e));
		goto fail;
	}
	cs->started = 1;
	log_info("cursors: %zu in %s/%s", cs->ndur, dir, CURSORS_FILE_NAME);
	return (cs);
fail:
	cursor_store_free(cs);
	return (NULL);
}

/* Stops the worker once its write is done, and frees (cursor.h). */
void
cursor_store_free(struct cursor_store *cs)
{
	int	done;

	if (cs == NULL)
		return;
	if (cs->started) {
		pthread_mutex_lock(&cs->lock);
		cs->stop = 1;
		pthread_cond_broadcast(&cs->cond);
		pthread_mutex_unlock(&cs->lock);
		if (pthread_join(cs->thread, NULL) != 0)
			log_err("cursors: cannot join the writer thread");
		pthread_mutex_lock(&cs->lock);
		done = cs->job != NULL && cs->job_done;
		pthread_mutex_unlock(&cs->lock);
		/* The last write's answers, then no more writes. */
		cs->idle_cb = NULL;
		if (done) {
			cs->failed = 1;		/* no write after this one */
			cursor_done(cs);
		}
		pthread_mutex_destroy(&cs->lock);
		pthread_cond_destroy(&cs->cond);
	}
	cs->failed = 1;
	cursor_answer(cs, 0, "walld stopped before the cursor was written");
	if (cs->ev != NULL)
		event_free(cs->ev);
	if (cs->answer_ev != NULL)
		event_free(cs->answer_ev);
	if (cs->efd != -1)
		close(cs->efd);
	if (cs->dirfd != -1)
		close(cs->dirfd);
	free(cs->job);
	free(cs->snap);
	free(cs->ents);
	free(cs->dur);
	free(cs->waits);
	free(cs->dir);
	free(cs);
}

void
cursor_store_set_idle_cb(struct cursor_store *cs, void (*cb)(void *),
    void *arg)
{
	cs->idle_cb = cb;
	cs->idle_arg = arg;
}

/* 1 while a write is under way or a change waits for one. */
int
cursor_store_busy(const struct cursor_store *cs)
{
	return (cs != NULL && (cs->writing || cs->nwaits > 0));
}

/* Makes room for one more entry in ents. */
static int
cursor_grow(struct cursor_store *cs)
{
	struct cursor_info	*ne;
	size_t			 ncap;

	if (cs->n < cs->cap)
		return (0);
	ncap = cs->cap * 2;
	if ((ne = realloc(cs->ents, ncap * sizeof *ne)) == NULL)
		return (-1);
	cs->ents = ne;
	cs->cap = ncap;
	return (0);
}

/* A change was made to the table: cb waits for the write that holds it,
   which starts now (or after the one under way). CURSOR_ENOMEM when the
   answer cannot be queued: the change stays, only the answer is lost. */
static enum cursor_rc
cursor_changed(struct cursor_store *cs, cursor_cb cb, void *arg)
{
	enum cursor_rc	rc;

	cs->gen++;
	rc = cursor_wait_for(cs, cb, arg) == CURSOR_QUEUED ? CURSOR_QUEUED :
	    CURSOR_ENOMEM;
	cursor_start_write(cs);
	return (rc);
}

/* Creates a cursor (cursor.h). */
enum cursor_rc
cursor_create(struct cursor_store *cs, const char *name, uint64_t *lsn,
    unsigned max, cursor_cb cb, void *arg)
{
	size_t	i;
	int	found;

	if (cs->failed)
		return (CURSOR_EFAILED);
	i = cursor_find(cs->ents, cs->n, name, &found);
	if (found) {
		*lsn = cs->ents[i].lsn;
		return (cursor_wait_for(cs, cb, arg));
	}
	if (cs->n >= max)
		return (CURSOR_EFULL);
	if (cursor_grow(cs) != 0)
		return (CURSOR_ENOMEM);
	memmove(&cs->ents[i + 1], &cs->ents[i], (cs->n - i) * sizeof *cs->ents);
	memset(&cs->ents[i], 0, sizeof cs->ents[i]);
	snprintf(cs->ents[i].name, sizeof cs->ents[i].name, "%s", name);
	cs->ents[i].lsn = *lsn;
	cs->ents[i].commit_ms = 0;
	cs->n++;
	return (cursor_changed(cs, cb, arg));
}

/* Commits an LSN (cursor.h). */
enum cursor_rc
cursor_commit(struct cursor_store *cs, const char *name, uint64_t *lsn,
    cursor_cb cb, void *arg)
{
	size_t	i;
	int	found;

	if (cs->failed)
		return (CURSOR_EFAILED);
	i = cursor_find(cs->ents, cs->n, name, &found);
	if (!found)
		return (CURSOR_ENOENT);
	if (*lsn < cs->ents[i].lsn) {
		*lsn = cs->ents[i].lsn;
		return (CURSOR_EBACK);
	}
	cs->ents[i].lsn = *lsn;
	cs->ents[i].commit_ms = cursor_now_ms();
	return (cursor_changed(cs, cb, arg));
}

/* Drops a cursor (cursor.h). */
enum cursor_rc
cursor_drop(struct cursor_store *cs, const char *name, uint64_t *lsn,
    cursor_cb cb, void *arg)
{
	size_t	i;
	int	found;

	if (cs->failed)
		return (CURSOR_EFAILED);
	i = cursor_find(cs->ents, cs->n, name, &found);
	if (!found)
		return (CURSOR_ENOENT);
	*lsn = cs->ents[i].lsn;
	memmove(&cs->ents[i], &cs->ents[i + 1],
	    (cs->n - i - 1) * sizeof *cs->ents);
	cs->n--;
	return (cursor_changed(cs, cb, arg));
}

/* The durable cursor named name, or NULL. */
const struct cursor_info *
cursor_get(const struct cursor_store *cs, const char *name)
{
	size_t	i;
	int	found;

	i = cursor_find(cs->dur, cs->ndur, name, &found);
	return (found ? &cs->dur[i] : NULL);
}

/* The durable cursors, sorted by name. */
const struct cursor_info *
cursor_list(const struct cursor_store *cs, size_t *n)
{
	*n = cs->ndur;
	return (cs->dur);
}

/* The lowest cursor LSN, durable or about to be (cursor.h). */
uint64_t
cursor_lowest(const struct cursor_store *cs, char *name, size_t size)
{
	const struct cursor_info	*lo = NULL;
	size_t				 i;

	for (i = 0; i < cs->ndur; i++)
		if (lo == NULL || cs->dur[i].lsn < lo->lsn)
			lo = &cs->dur[i];
	for (i = 0; i < cs->n; i++)
		if (lo == NULL || cs->ents[i].lsn < lo->lsn)
			lo = &cs->ents[i];
	if (size > 0)
		snprintf(name, size, "%s", lo != NULL ? lo->name : "");
	return (lo != NULL ? lo->lsn : CURSOR_NONE);
}
