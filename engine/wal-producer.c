/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal-producer.c: idempotent appends. Each record an idempotent producer
 * appends carries its producer id and sequence number (FORMAT.md, record
 * extension fields). The table here remembers, per (tenant, producer), the
 * last sequence number and the LSNs of the last `window` ones, so that a
 * retry of an append already in the log gets its original LSN instead of
 * a second record (PROTOCOL.md, "Producers"; docs/PRODUCERS.md).
 *
 * The table holds nothing that is not in the log: an entry is made when
 * the record gets its LSN, and at open it is rebuilt from the records
 * themselves, so a record cut as a torn tail is forgotten with it. The
 * rebuild starts from a snapshot, PRODUCERS in the directory, written at
 * each new segment and at close; it covers the records up to an LSN known
 * durable when it was taken, and the records after it are read again.
 * A snapshot lost or damaged costs time, never correctness: the records
 * are read from the start of the log then.
 *
 * PRODUCERS, little-endian: "WALLDPRD", u32 version (1), u32 window,
 * u64 covered LSN, u64 entries; per entry u64 producer, u32 tenant, u32
 * n, u64 last sequence, n u64 LSNs (of sequences last-n+1 .. last); then
 * u32 CRC-32C of everything before.
 *
 * Memory: at most producers_max entries, each with window LSNs, allocated
 * at the first idempotent append. When the table is full the producer
 * that appended longest ago is forgotten (counted, logged): its next
 * append is taken as a new producer's, and a retry of one of its old
 * appends is not recognised.
 *
 * Threads: the loop thread's (wal_append_as), and open's. walld's loop
 * only encodes a new segment's snapshot: its preparer thread writes it
 * (wal_producer_write_pending), so that the loop never waits for that
 * file's fdatasync (1-2 ms under a heavy log).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cause.h"
#include "crc32c.h"
#include "segment.h"
#include "sysio.h"
#include "wal-int.h"
#include "wal-reader.h"
#include "wal.h"

#define PROD_MAGIC	"WALLDPRD"
#define PROD_VERSION	1
#define PROD_NAME	PRODUCERS_NAME
#define PROD_TMP_NAME	PRODUCERS_TMP_NAME
#define PROD_NONE	(-1)

/* The bucket of (id, tenant). */
static uint32_t
wal_prod_hash(const struct wal_prodtab *t, uint64_t id, uint32_t tenant)
{
	uint64_t	h = (id ^ ((uint64_t)tenant << 32 | tenant)) *
			    0x9e3779b97f4a7c15ull;

	return ((uint32_t)(h >> 32) & (t->nbuckets - 1));
}

/* Allocates the table at its first use. 0, or -1 (no memory). */
static int
wal_prod_alloc(struct wal_prodtab *t)
{
	uint32_t	i;

	if (t->ents != NULL)
		return (0);
	t->nbuckets = 1;
	while (t->nbuckets < t->cap * 2)
		t->nbuckets <<= 1;
	t->ents = calloc(t->cap, sizeof *t->ents);
	t->lsns = calloc((size_t)t->cap * t->window, sizeof *t->lsns);
	t->buckets = malloc(t->nbuckets * sizeof *t->buckets);
	if (t->ents == NULL || t->lsns == NULL || t->buckets == NULL) {
		free(t->ents);
		free(t->lsns);
		free(t->buckets);
		t->ents = NULL;
		t->lsns = NULL;
		t->buckets = NULL;
		return (-1);
	}
	for (i = 0; i < t->nbuckets; i++)
		t->buckets[i] = PROD_NONE;
	t->lru_old = t->lru_new = PROD_NONE;
	return (0);
}

/* The entry of (id, tenant), or PROD_NONE. */
static int32_t
wal_prod_find(const struct wal_prodtab *t, uint64_t id, uint32_t tenant)
{
	int32_t	i;

	if (t->ents == NULL)
		return (PROD_NONE);
	for (i = t->buckets[wal_prod_hash(t, id, tenant)]; i != PROD_NONE;
	    i = t->ents[i].hnext) {
		if (t->ents[i].id == id && t->ents[i].tenant == tenant)
			return (i);
	}
	return (PROD_NONE);
}

/* Takes entry i out of the recency list. */
static void
wal_prod_unlink(struct wal_prodtab *t, int32_t i)
{
	struct wal_prod	*e = &t->ents[i];

	if (e->older != PROD_NONE)
		t->ents[e->older].newer = e->newer;
	else
		t->lru_old = e->newer;
	if (e->newer != PROD_NONE)
		t->ents[e->newer].older = e->older;
	else
		t->lru_new = e->older;
}

/* Puts entry i at the recent end of the list. */
static void
wal_prod_touch(struct wal_prodtab *t, int32_t i)
{
	struct wal_prod	*e = &t->ents[i];

	e->older = t->lru_new;
	e->newer = PROD_NONE;
	if (t->lru_new != PROD_NONE)
		t->ents[t->lru_new].newer = i;
	else
		t->lru_old = i;
	t->lru_new = i;
}

/* Forgets the producer that appended longest ago; returns its slot. */
static int32_t
wal_prod_evict(struct wal *w)
{
	struct wal_prodtab	*t = &w->prod;
	int32_t			 i = t->lru_old, *pp;
	struct wal_prod		*e = &t->ents[i];

	wal_prod_unlink(t, i);
	for (pp = &t->buckets[wal_prod_hash(t, e->id, e->tenant)];
	    *pp != i; pp = &t->ents[*pp].hnext)
		;
	*pp = e->hnext;
	t->evicted++;
	if (t->evicted == 1 || t->evicted % 1000 == 0)
		wal_log(w, WAL_LOG_WARNING, "wal: %s: producer table full "
		    "(%u producers): producer %llu of tenant %lu forgotten, "
		    "%llu so far; a retry of its appends is not recognised "
		    "(producers.max)", w->dir, t->cap,
		    (unsigned long long)e->id, (unsigned long)e->tenant,
		    (unsigned long long)t->evicted);
	return (i);
}

/* Records that (ps, tenant) got lsn: the table's one writer, for appends
   and for the records read back at open. Best effort when there is no
   memory for the table: then retries are not recognised (logged). */
void
wal_producer_note(struct wal *w, const struct wal_producer_seq *ps,
    uint32_t tenant, uint64_t lsn)
{
	struct wal_prodtab	*t = &w->prod;
	struct wal_prod		*e;
	int32_t			 i;
	uint32_t		 b;

	if (wal_prod_alloc(t) != 0) {
		if (!t->nomem++)
			wal_log(w, WAL_LOG_ERR, "wal: %s: no memory for the "
			    "producer table: retries are not recognised",
			    w->dir);
		return;
	}
	if ((i = wal_prod_find(t, ps->producer, tenant)) != PROD_NONE) {
		e = &t->ents[i];
		wal_prod_unlink(t, i);
		if (ps->seq == e->last_seq + 1) {
			if (e->n < t->window)
				e->n++;
		} else
			e->n = 1;	/* a fresh start (read back at open) */
	} else {
		if (t->used < t->cap)
			i = (int32_t)t->used++;
		else
			i = wal_prod_evict(w);
		e = &t->ents[i];
		e->id = ps->producer;
		e->tenant = tenant;
		e->n = 1;
		b = wal_prod_hash(t, e->id, tenant);
		e->hnext = t->buckets[b];
		t->buckets[b] = i;
	}
	e->last_seq = ps->seq;
	t->lsns[(size_t)i * t->window + ps->seq % t->window] = lsn;
	wal_prod_touch(t, i);
}

/* Checks an append of (ps, tenant) before it is made; see wal.h. */
enum wal_rc
wal_producer_check(struct wal *w, const struct wal_producer_seq *ps,
    uint32_t tenant, uint64_t *lsn)
{
	struct wal_prodtab	*t = &w->prod;
	struct wal_prod		*e;
	int32_t			 i;

	if (ps->producer == 0 || ps->seq == 0)
		return (WAL_ESEQ);
	/* Without the table a retry could not be recognised: refuse
	   rather than take the append blind. */
	if (wal_prod_alloc(t) != 0)
		return (WAL_ENOMEM);
	if ((i = wal_prod_find(t, ps->producer, tenant)) == PROD_NONE)
		return (WAL_OK);	/* a new producer: any start */
	e = &t->ents[i];
	if (ps->seq == e->last_seq + 1)
		return (WAL_OK);
	if (ps->seq <= e->last_seq && e->last_seq - ps->seq < e->n) {
		*lsn = t->lsns[(size_t)i * t->window + ps->seq % t->window];
		return (WAL_EDUP);
	}
	return (WAL_ESEQ);
}

/* 1 and *lsn when (ps, tenant) is an append in the log already; see
   wal.h. */
int
wal_producer_held(struct wal *w, const struct wal_producer_seq *ps,
    uint32_t tenant, uint64_t *lsn)
{
	return (ps->producer != 0 && ps->seq != 0 &&
	    wal_producer_check(w, ps, tenant, lsn) == WAL_EDUP);
}

/* The sequence number the producer's next append must have (0: any, the
   producer is not known); see wal.h. */
uint64_t
wal_producer_next(struct wal *w, uint64_t producer, uint32_t tenant,
    uint64_t *oldest)
{
	struct wal_prodtab	*t = &w->prod;
	int32_t			 i;

	if ((i = wal_prod_find(t, producer, tenant)) == PROD_NONE)
		return (0);
	if (oldest != NULL)
		*oldest = t->ents[i].last_seq - t->ents[i].n + 1;
	return (t->ents[i].last_seq + 1);
}

/* Appends n bytes to a growing buffer. 0, or -1 (no memory). */
static int
wal_prod_put(unsigned char **buf, size_t *len, size_t *cap, const void *p,
    size_t n)
{
	unsigned char	*nb;
	size_t		 ncap;

	if (*len + n > *cap) {
		ncap = *cap == 0 ? 4096 : *cap;
		while (ncap < *len + n)
			ncap *= 2;
		if ((nb = realloc(*buf, ncap)) == NULL)
			return (-1);
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	return (0);
}

/* The snapshot's bytes: every entry's sequences whose LSN is at most
   covered. 0, or -1 (no memory). */
static int
wal_prod_encode(const struct wal_prodtab *t, uint64_t covered,
    unsigned char **out, size_t *outlen)
{
	unsigned char	 b[32], *buf = NULL;
	size_t		 len = 0, cap = 0;
	uint64_t	 count = 0, seq, last;
	uint32_t	 n, k;
	int32_t		 i;

	memcpy(b, PROD_MAGIC, 8);
	seg_put32(b + 8, PROD_VERSION);
	seg_put32(b + 12, t->window);
	seg_put64(b + 16, covered);
	seg_put64(b + 24, 0);		/* the count, set below */
	if (wal_prod_put(&buf, &len, &cap, b, 32) != 0)
		return (-1);
	for (i = t->lru_old; t->ents != NULL && i != PROD_NONE;
	    i = t->ents[i].newer) {
		const struct wal_prod *e = &t->ents[i];
		const uint64_t *l = t->lsns + (size_t)i * t->window;

		/* The newest sequences may not be durable yet. */
		last = e->last_seq;
		n = e->n;
		while (n > 0 && l[last % t->window] > covered) {
			last--;
			n--;
		}
		if (n == 0)
			continue;
		seg_put64(b, e->id);
		seg_put32(b + 8, e->tenant);
		seg_put32(b + 12, n);
		seg_put64(b + 16, last);
		if (wal_prod_put(&buf, &len, &cap, b, 24) != 0)
			goto nomem;
		for (k = 0; k < n; k++) {
			seq = last - n + 1 + k;
			seg_put64(b, l[seq % t->window]);
			if (wal_prod_put(&buf, &len, &cap, b, 8) != 0)
				goto nomem;
		}
		count++;
	}
	seg_put64(buf + 24, count);
	seg_put32(b, crc32c(0, buf, len));
	if (wal_prod_put(&buf, &len, &cap, b, 4) != 0)
		goto nomem;
	*out = buf;
	*outlen = len;
	return (0);
nomem:
	free(buf);
	return (-1);
}

/* Writes an encoded snapshot, buf[0..len), which it frees: temp file,
   its data synced, rename; with `sync`, the directory synced too
   (without, a crash may undo the rename: open then reads the older
   snapshot and more records). 0, or -1 and *cause. */
static int
wal_prod_write(struct wal *w, unsigned char *buf, size_t len, int sync,
    char **cause)
{
	size_t		 off = 0;
	ssize_t		 k;
	int		 fd;

	fd = sysio.openat(w->dirfd, PROD_TMP_NAME, O_WRONLY | O_CREAT |
	    O_TRUNC | O_CLOEXEC, 0640);
	if (fd == -1) {
		cause_set(cause, "open: %s/%s: %s", w->dir, PROD_TMP_NAME,
		    strerror(errno));
		free(buf);
		return (-1);
	}
	while (off < len) {
		if ((k = sysio.pwrite(fd, buf + off, len - off, (off_t)off)) ==
		    -1) {
			if (errno == EINTR)
				continue;
			cause_set(cause, "write: %s/%s: %s", w->dir,
			    PROD_TMP_NAME, strerror(errno));
			goto fail;
		}
		off += (size_t)k;
	}
	free(buf);
	buf = NULL;
	/* Its data before the rename, always: renamed over the last one
	   and lost in a crash, the next start would read the whole log. */
	if (sysio.fdatasync(fd) != 0) {
		cause_set(cause, "fsync: %s/%s: %s", w->dir, PROD_TMP_NAME,
		    strerror(errno));
		goto fail;
	}
	if (sysio.close(fd) != 0) {
		fd = -1;
		cause_set(cause, "close: %s/%s: %s", w->dir, PROD_TMP_NAME,
		    strerror(errno));
		goto fail;
	}
	fd = -1;
	if (sysio.renameat(w->dirfd, PROD_TMP_NAME, w->dirfd, PROD_NAME) !=
	    0) {
		cause_set(cause, "rename: %s/%s: %s", w->dir, PROD_TMP_NAME,
		    strerror(errno));
		goto fail;
	}
	if (sync && sysio.fsync(w->dirfd) != 0) {
		cause_set(cause, "fsync: %s: %s", w->dir, strerror(errno));
		return (-1);
	}
	return (0);
fail:
	free(buf);
	if (fd != -1)
		(void)sysio.close(fd);
	(void)sysio.unlinkat(w->dirfd, PROD_TMP_NAME, 0);
	return (-1);
}

/* Writes the snapshot of what is durable now (wal_prod_write). 0, or -1
   and *cause. */
int
wal_producer_save(struct wal *w, int sync, char **cause)
{
	unsigned char	*buf;
	size_t		 len;

	if (wal_prod_encode(&w->prod, w->loop.durable_lsn, &buf, &len) != 0) {
		cause_set(cause, "%s/%s: no memory", w->dir, PROD_NAME);
		return (-1);
	}
	return (wal_prod_write(w, buf, len, sync, cause));
}

/* Reads the snapshot into the table: the LSN it covers, 0 when there is
   none or it is damaged (then said why in *why). */
static uint64_t
wal_prod_load(struct wal *w, char *why, size_t whylen)
{
	struct wal_prodtab		*t = &w->prod;
	struct wal_producer_seq		 ps;
	unsigned char			*buf = NULL;
	struct stat			 sb;
	uint64_t			 covered = 0, count, i, last;
	size_t				 off;
	uint32_t			 n, k, tenant;
	ssize_t				 got;
	int				 fd;

	*why = '\0';
	fd = sysio.openat(w->dirfd, PROD_NAME, O_RDONLY | O_CLOEXEC, 0);
	if (fd == -1) {
		if (errno != ENOENT)
			snprintf(why, whylen, "open: %s", strerror(errno));
		return (0);
	}
	if (fstat(fd, &sb) != 0 || sb.st_size < 36 || sb.st_size > (1 << 30)) {
		snprintf(why, whylen, "its size is wrong");
		goto out;
	}
	if ((buf = malloc((size_t)sb.st_size)) == NULL) {
		snprintf(why, whylen, "no memory");
		goto out;
	}
	got = sysio.pread(fd, buf, (size_t)sb.st_size, 0);
	if (got != sb.st_size) {
		snprintf(why, whylen, "read: %s", got == -1 ?
		    strerror(errno) : "short");
		goto out;
	}
	if (memcmp(buf, PROD_MAGIC, 8) != 0 || seg_get32(buf + 8) !=
	    PROD_VERSION || seg_get32(buf + sb.st_size - 4) !=
	    crc32c(0, buf, (size_t)sb.st_size - 4)) {
		snprintf(why, whylen, "bad magic, version or checksum");
		goto out;
	}
	count = seg_get64(buf + 24);
	off = 32;
	for (i = 0; i < count; i++) {
		if (off + 24 > (size_t)sb.st_size - 4)
			break;
		ps.producer = seg_get64(buf + off);
		tenant = seg_get32(buf + off + 8);
		n = seg_get32(buf + off + 12);
		last = seg_get64(buf + off + 16);
		off += 24;
		if (n == 0 || n > last || off + (size_t)n * 8 >
		    (size_t)sb.st_size - 4)
			break;
		for (k = 0; k < n; k++) {
			ps.seq = last - n + 1 + k;
			wal_producer_note(w, &ps, tenant,
			    seg_get64(buf + off + (size_t)k * 8));
		}
		off += (size_t)n * 8;
	}
	if (i < count || off != (size_t)sb.st_size - 4) {
		snprintf(why, whylen, "an entry is malformed");
		goto out;
	}
	covered = seg_get64(buf + 16);
	if (covered > w->loop.next_lsn - 1) {
		/* It covers records the log no longer has: not this log's
		   state (restored from elsewhere, or its tail lost). */
		snprintf(why, whylen, "it covers LSN %llu, beyond the log's "
		    "last, %llu", (unsigned long long)covered,
		    (unsigned long long)(w->loop.next_lsn - 1));
		covered = 0;
	}
out:
	free(buf);
	(void)sysio.close(fd);
	if (covered == 0 && t->used > 0) {
		/* Half read: start again from the records alone. */
		t->used = 0;
		for (k = 0; k < t->nbuckets; k++)
			t->buckets[k] = PROD_NONE;
		t->lru_old = t->lru_new = PROD_NONE;
	}
	return (covered);
}

/*
 * Rebuilds the table at open, once recovery has made every record in the
 * directory durable: the snapshot, then the records after it. 0, or -1
 * and *cause (a record that cannot be read: the log is damaged).
 */
int
wal_producer_rebuild(struct wal *w, char **cause)
{
	struct wal_reader	*r;
	struct wal_record	 rec;
	struct wal_producer_seq	 ps;
	uint64_t		 covered, from, last = w->loop.next_lsn - 1;
	uint64_t		 seen = 0;
	char			 why[160], *c2 = NULL;
	int			 k;

	covered = wal_prod_load(w, why, sizeof why);
	if (why[0] != '\0')
		wal_log(w, WAL_LOG_WARNING, "wal: %s/%s: %s: ignored; the "
		    "producer table is read from the records instead", w->dir,
		    PROD_NAME, why);
	/* The last record at least: its time is where the next begin. */
	from = covered < last ? covered + 1 : last;
	if (w->nsegs > 0 && from < w->segs[0].first)
		from = w->segs[0].first;
	if (last >= from) {
		if ((r = wal_reader_open_raw(w->dir, from, NULL, cause)) ==
		    NULL)
			return (-1);
		wal_reader_durable(r);
		while ((k = wal_reader_next(r, last, &rec, &c2)) == 1) {
			seen++;
			if (rec.time_ns > w->loop.last_time)
				w->loop.last_time = rec.time_ns;
			if (rec.producer == 0 || rec.lsn <= covered)
				continue;
			ps.producer = rec.producer;
			ps.seq = rec.seq;
			wal_producer_note(w, &ps, rec.tenant, rec.lsn);
		}
		wal_reader_close(r);
		if (k == -1) {
			cause_set(cause, "reading the producers' records: %s",
			    c2);
			free(c2);
			return (-1);
		}
		if (seen > 1)
			wal_log(w, WAL_LOG_INFO, "wal: %s: producer table: "
			    "%u producers, from %llu records after LSN %llu",
			    w->dir, w->prod.used, (unsigned long long)seen,
			    (unsigned long long)covered);
	}
	w->prod.snap_seg = w->loop.seg_first;
	return (0);
}

/* A new segment began taking records: a snapshot now keeps the rebuild
   at open to about a segment's records. A failure only costs time. With
   a writer thread it is only encoded here, and replaces one still
   queued (this one covers more). */
void
wal_producer_segment(struct wal *w)
{
	unsigned char	*buf, *old;
	size_t		 len;
	char		*cause = NULL;

	w->prod.snap_seg = w->loop.seg_first;
	if (wal_prod_encode(&w->prod, w->loop.durable_lsn, &buf, &len) != 0) {
		wal_log(w, WAL_LOG_WARNING, "wal: producer snapshot: %s/%s: "
		    "no memory", w->dir, PROD_NAME);
		return;
	}
	if (!w->prod.writer) {
		if (wal_prod_write(w, buf, len, 0, &cause) != 0) {
			wal_log(w, WAL_LOG_WARNING, "wal: producer snapshot: "
			    "%s", cause);
			free(cause);
		}
		return;
	}
	pthread_mutex_lock(&w->lock);
	old = w->prod.pend;
	w->prod.pend = buf;
	w->prod.pend_len = len;
	pthread_mutex_unlock(&w->lock);
	free(old);
	w->prod.pend_new = 1;
}

/* See wal.h. Loop thread, before the writer starts. */
void
wal_producer_set_writer(struct wal *w)
{
	w->prod.writer = 1;
}

/* See wal.h. Loop thread. */
int
wal_producer_take_new(struct wal *w)
{
	int	n = w->prod.pend_new;

	w->prod.pend_new = 0;
	return (n);
}

/* See wal.h. The writer thread. */
int
wal_producer_write_pending(struct wal *w, char **cause)
{
	unsigned char	*buf;
	size_t		 len;

	pthread_mutex_lock(&w->lock);
	buf = w->prod.pend;
	len = w->prod.pend_len;
	w->prod.pend = NULL;
	pthread_mutex_unlock(&w->lock);
	if (buf == NULL)
		return (0);
	return (wal_prod_write(w, buf, len, 0, cause));
}

/* Frees the table. */
void
wal_producer_free(struct wal *w)
{
	free(w->prod.pend);
	free(w->prod.ents);
	free(w->prod.lsns);
	free(w->prod.buckets);
	memset(&w->prod, 0, sizeof w->prod);
}

/* Producer table figures for wal_stats. */
void
wal_producer_stats(struct wal *w, uint64_t *producers, uint64_t *evicted)
{
	*producers = w->prod.used;
	*evicted = w->prod.evicted;
}
