/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal.c: the writer's face: open (with recovery, wal-recover.c) and close,
 * the directory lock, the choice of O_DIRECT, the segment list, stats,
 * truncation and the key ring. Batches are in wal-batch.c, stamping in
 * wal-stamp.c, spare segments in wal-spare.c, system calls and the
 * failure latch in wal-io.c. The on-disk format is specified at the top
 * of segment.c (docs/FORMAT.md is its long form).
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cause.h"
#include "keyring.h"
#include "segment.h"
#include "sysio.h"
#include "wal-int.h"
#include "wal.h"

/* Sends one formatted line to the log callback, if there is one. */
void __attribute__((format(printf, 3, 4)))
wal_log(struct wal *w, int level, const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	if (w->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	w->log(level, buf);
}

/* Adds a segment at the end of the list; called with the lock held. */
int
wal_segs_push(struct wal *w, uint64_t first, uint64_t last, uint64_t size,
    int sealed, uint32_t key_id)
{
	struct wal_seg	*ns;
	size_t		 cap;

	if (w->nsegs == w->segcap) {
		cap = w->segcap ? w->segcap * 2 : 16;
		if ((ns = reallocarray(w->segs, cap, sizeof *ns)) == NULL)
			return (-1);
		w->segs = ns;
		w->segcap = cap;
	}
	w->segs[w->nsegs].first = first;
	w->segs[w->nsegs].last = last;
	w->segs[w->nsegs].size = size;
	w->segs[w->nsegs].sealed = sealed;
	w->segs[w->nsegs].key_id = key_id;
	w->nsegs++;
	return (0);
}

/* Takes the directory lock and writes our pid into it. */
static int
wal_lock_dir(struct wal *w, int no_lock, char **cause)
{
	char	buf[32];
	ssize_t	n;
	long	pid;
	int	len;

	w->lockfd = sysio.openat(w->dirfd, LOCK_NAME,
	    O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (w->lockfd == -1) {
		wal_io_cause(w, cause, "open", LOCK_NAME, 0);
		return (-1);
	}
	if (no_lock)
		return (0);
	if (flock(w->lockfd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK) {
			wal_io_cause(w, cause, "flock", LOCK_NAME, 0);
			return (-1);
		}
		n = sysio.pread(w->lockfd, buf, sizeof buf - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		pid = strtol(buf, NULL, 10);
		cause_set(cause, "%s is locked by another walld (pid %ld)",
		    w->dir, pid);
		return (-1);
	}
	len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (sysio.ftruncate(w->lockfd, 0) != 0 ||
	    wal_io_pwrite(w->lockfd, buf, (size_t)len, 0) != 0) {
		wal_io_cause(w, cause, "write", LOCK_NAME, 0);
		return (-1);
	}
	return (0);
}

/* Chooses O_DIRECT or buffered I/O once, by opening a file with O_DIRECT. */
static int
wal_choose_io(struct wal *w, enum wal_direct mode, char **cause)
{
	int	fd;

	if (mode == WAL_DIRECT_OFF) {
		w->direct = 0;
		wal_log(w, WAL_LOG_INFO, "wal: %s: direct_io: off (configured)",
		    w->dir);
		return (0);
	}
	fd = sysio.openat(w->dirfd, LOCK_NAME, O_RDONLY | O_DIRECT |
	    O_CLOEXEC, 0);
	if (fd != -1) {
		sysio.close(fd);
		w->direct = 1;
		wal_log(w, WAL_LOG_INFO, "wal: %s: direct_io: on (%s)", w->dir,
		    mode == WAL_DIRECT_ON ? "configured" : "auto, supported");
		return (0);
	}
	if (mode == WAL_DIRECT_ON) {
		cause_set(cause, "direct_io: on: %s: O_DIRECT is not "
		    "supported here: %s", w->dir, strerror(errno));
		return (-1);
	}
	w->direct = 0;
	wal_log(w, WAL_LOG_INFO, "wal: %s: direct_io: off (auto: O_DIRECT "
	    "refused: %s)",
	    w->dir, strerror(errno));
	return (0);
}

/* Deletes whole sealed segments below lsn, oldest first; see wal.h. */
int
wal_truncate_before(struct wal *w, uint64_t lsn, uint64_t *new_first,
    char **cause)
{
	char		name[SEG_NAME_SIZE], rname[RECYCLE_NAME_SIZE];
	uint64_t	first;
	int		done, keep;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		done = w->nsegs < 2 || !w->segs[0].sealed ||
		    w->segs[0].last >= lsn;
		first = w->segs[0].first;
		/* Only truncation adds to the pool, so the room stays. */
		keep = w->spare.npool < w->spare.pool_max &&
		    !wal_spare_unneeded(w);
		pthread_mutex_unlock(&w->lock);
		if (done)
			break;
		segment_name(name, first);
		segment_recycle_name(rname, first);
		/* The longer name may need a directory block that a full
		   disk does not have: then the file goes, as without. */
		if (keep && sysio.renameat(w->dirfd, name, w->dirfd,
		    rname) != 0)
			keep = 0;
		if (!keep && sysio.unlinkat(w->dirfd, name, 0) != 0) {
			wal_io_cause(w, cause, "unlink", name, 0);
			return (-1);
		}
		/* Gone from the directory: forget it even if the fsync fails
		   (a power cut may bring it back, which is harmless). */
		pthread_mutex_lock(&w->lock);
		memmove(w->segs, w->segs + 1, (w->nsegs - 1) * sizeof *w->segs);
		w->nsegs--;
		if (keep)
			w->spare.pool[w->spare.npool++] = first;
		pthread_mutex_unlock(&w->lock);
		if (sysio.fsync(w->dirfd) != 0) {
			wal_io_cause(w, cause, "fsync directory", name, 0);
			return (-1);
		}
		wal_log(w, WAL_LOG_INFO, "wal: truncated %s/%s", w->dir, name);
	}
	if (new_first != NULL) {
		pthread_mutex_lock(&w->lock);
		*new_first = w->nsegs > 0 ? w->segs[0].first : w->loop.next_lsn;
		pthread_mutex_unlock(&w->lock);
	}
	return (0);
}

/* Copies the segment list; see wal.h. */
size_t
wal_segments(struct wal *w, struct wal_seginfo *out, size_t max)
{
	size_t	i, n;

	pthread_mutex_lock(&w->lock);
	n = w->nsegs;
	for (i = 0; i < n && i < max; i++) {
		out[i].first = w->segs[i].first;
		out[i].last = w->segs[i].last;
		out[i].size = w->segs[i].size;
		out[i].sealed = w->segs[i].sealed;
	}
	pthread_mutex_unlock(&w->lock);
	return (n);
}

/* The time of a segment's first record; see wal.h. */
int
wal_segment_time(struct wal *w, uint64_t first, uint64_t *time_ns,
    char **cause)
{
	unsigned char		 b[REC_HDR_SIZE + 8];
	struct rec_header	 h;
	char			 name[SEG_NAME_SIZE];
	const char		*why;
	ssize_t			 n;
	int			 fd;

	*time_ns = 0;
	segment_name(name, first);
	fd = sysio.openat(w->dirfd, name, O_RDONLY | O_CLOEXEC, 0);
	if (fd == -1) {
		wal_io_cause(w, cause, "open", name, 0);
		return (-1);
	}
	n = sysio.pread(fd, b, sizeof b, SEG_HDR_SIZE);
	if (n == -1) {
		wal_io_cause(w, cause, "read", name, SEG_HDR_SIZE);
		(void)sysio.close(fd);
		return (-1);
	}
	(void)sysio.close(fd);
	if (n == (ssize_t)sizeof b && seg_get32(b) == REC_MAGIC &&
	    segment_decode_rec(b, &h, &why) == 0 &&
	    !(h.flags & REC_F_FOOTER) && (h.flags & REC_F_TIME))
		*time_ns = seg_get64(b + REC_HDR_SIZE);
	return (0);
}

/* Fills in the counters of wal.h. */
void
wal_stats(struct wal *w, struct wal_stats *st)
{
	size_t	i;

	memset(st, 0, sizeof *st);
	pthread_mutex_lock(&w->lock);
	st->first_lsn = w->nsegs > 0 ? w->segs[0].first : w->loop.next_lsn;
	st->segments = w->nsegs;
	for (i = 0; i < w->nsegs; i++)
		st->bytes_on_disk += w->segs[i].size;
	st->bytes_written = w->bytes_written;
	st->flushes = w->flushes;
	st->recycled = w->spare.recycled;
	st->recycle_held = w->spare.npool;
	pthread_mutex_unlock(&w->lock);
	st->stamped_ahead = __atomic_load_n(&w->stamp.ahead, __ATOMIC_RELAXED);
	st->next_lsn = w->loop.next_lsn;
	st->durable_lsn = w->loop.durable_lsn;
	st->active_first_lsn = w->loop.seg_first;
	st->active_offset = w->loop.off;
	st->sealed = w->loop.sealed || w->loop.seal_pending;
	st->failed = wal_io_failed(w);
	st->direct_io = w->direct;
	st->active_key_id = keyring_active(w->loop.ring);
	wal_producer_stats(w, &st->producers, &st->producers_evicted);
}

/* The seal is durable; see wal.h. */
int
wal_seal_durable(struct wal *w)
{
	return (__atomic_load_n(&w->loop.sealed, __ATOMIC_ACQUIRE));
}

/* The largest payload wal_append takes; see wal.h. */
uint32_t
wal_max_record(struct wal *w)
{
	return (w->max_record);
}

/* Adds id to the sorted set ids[0..*n) (capacity max); keeps the count. */
static void
wal_id_add(uint32_t *ids, size_t *n, size_t *total, size_t max, uint32_t id)
{
	size_t	i, j;

	if (id == 0)
		return;
	for (i = 0; i < *n && ids[i] < id; i++)
		;
	if (i < *n && ids[i] == id)
		return;
	(*total)++;
	if (*n == max)
		return;
	for (j = *n; j > i; j--)
		ids[j] = ids[j - 1];
	ids[i] = id;
	(*n)++;
}

/*
 * The key ids present segments need (loop thread): those in the list,
 * and that of a segment the loop has begun (records encrypted) but the
 * flusher has not activated yet.
 */
size_t
wal_keys_needed(struct wal *w, uint32_t *ids, size_t max)
{
	size_t	i, n = 0, total = 0;

	pthread_mutex_lock(&w->lock);
	for (i = 0; i < w->nsegs; i++)
		wal_id_add(ids, &n, &total, max, w->segs[i].key_id);
	pthread_mutex_unlock(&w->lock);
	if (w->loop.fill != NULL && w->loop.fill->begins_seg)
		wal_id_add(ids, &n, &total, max, w->loop.fill->sp.key_id);
	if (w->loop.out != NULL && w->loop.out->begins_seg)
		wal_id_add(ids, &n, &total, max, w->loop.out->sp.key_id);
	return (total);
}

/* Replaces the key ring; see wal.h. */
int
wal_set_keyring(struct wal *w, struct keyring *kr, char **cause)
{
	char		 names[256], name[SEG_NAME_SIZE];
	size_t		 i, used = 0, nbad = 0;
	uint32_t	 bad_id = 0, id;
	int		 k;

	if ((kr == NULL) != (w->loop.ring == NULL)) {
		cause_set(cause, "%s: encryption cannot be turned %s while "
		    "walld runs (restart walld)", w->dir, kr != NULL ? "on" :
		    "off");
		return (-1);
	}
	if (kr == NULL)
		return (0);
	names[0] = '\0';
	pthread_mutex_lock(&w->lock);
	/* The segments listed, then those begun but not yet activated. */
	for (i = 0; i < w->nsegs + 2; i++) {
		if (i < w->nsegs) {
			id = w->segs[i].key_id;
			segment_name(name, w->segs[i].first);
		} else if (i == w->nsegs && w->loop.fill != NULL &&
		    w->loop.fill->begins_seg) {
			id = w->loop.fill->sp.key_id;
			segment_name(name, w->loop.fill->seg_first);
		} else if (i == w->nsegs + 1 && w->loop.out != NULL &&
		    w->loop.out->begins_seg) {
			id = w->loop.out->sp.key_id;
			segment_name(name, w->loop.out->seg_first);
		} else
			continue;
		if (id == 0 || !keyring_differs(w->loop.ring, kr, id))
			continue;
		if (nbad == 0)
			bad_id = id;
		if (id == bad_id && nbad < 4 && used < sizeof names) {
			k = snprintf(names + used, sizeof names - used, "%s%s",
			    nbad > 0 ? ", " : "", name);
			if (k > 0)
				used += (size_t)k;
		}
		if (id == bad_id)
			nbad++;
	}
	pthread_mutex_unlock(&w->lock);
	if (nbad > 0) {
		cause_set(cause, "the new key ring %s key id %u, which "
		    "segment%s %s%s need%s (drop a key only once the segments "
		    "that need it are truncated)",
		    keyring_has(kr, bad_id) ? "has other bytes for" : "lacks",
		    bad_id, nbad > 1 ? "s" : "", names, nbad > 4 ? ", ..." : "",
		    nbad > 1 ? "" : "s");
		return (-1);
	}
	keyring_free(w->loop.ring);
	w->loop.ring = keyring_hold(kr);
	if (keyring_active(kr) != w->loop.key_id)
		w->loop.rekey = 1;
	return (0);
}

/* Frees everything; closes every file. */
static void
wal_free(struct wal *w)
{
	int	i;

	if (w->act.fd != -1)
		sysio.close(w->act.fd);
	if (w->spare.fd != -1)
		sysio.close(w->spare.fd);
	if (w->lockfd != -1)
		sysio.close(w->lockfd);
	if (w->dirfd != -1)
		sysio.close(w->dirfd);
	for (i = 0; i < 2; i++) {
		free(w->loop.batches[i].buf);
		free(w->loop.batches[i].ahead_cause);
		keyring_ctx_free(w->loop.batches[i].ctx);
	}
	free(w->act.hbuf);
	free(w->act.fbuf);
	free(w->spare.zbuf);
	free(w->segs);
	free(w->spare.pool);
	wal_producer_free(w);
	free(w->dir);
	keyring_ctx_free(w->loop.wctx);
	keyring_free(w->loop.ring);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->stamp.lock);
	pthread_cond_destroy(&w->stamp.cond);
	free(w);
}

/* Opens (creating if needed) the directory, takes its lock, recovers it. */
struct wal *
wal_open(const struct wal_options *o, char **cause)
{
	struct wal		*w;
	struct wal_segparm	 sp;
	uint64_t		 room;
	size_t			 initial;
	int			 i;

	if (o->dir == NULL || *o->dir == '\0') {
		cause_set(cause, "wal: no directory given");
		return (NULL);
	}
	if ((w = calloc(1, sizeof *w)) == NULL) {
		cause_set(cause, "wal: %s", strerror(errno));
		return (NULL);
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_mutex_init(&w->stamp.lock, NULL);
	pthread_cond_init(&w->stamp.cond, NULL);
	w->dirfd = w->lockfd = w->act.fd = w->spare.fd = -1;
	w->log = o->log;
	if ((w->dir = strdup(o->dir)) == NULL) {
		cause_set(cause, "wal: %s", strerror(errno));
		goto fail;
	}

	w->seg_size = o->segment_size ? o->segment_size : WAL_DEFAULT_SEGMENT;
	w->spare.mode = o->spare_mode;
	w->spare.pool_max = o->recycle_segments;
	w->prod.cap = o->producers_max ? o->producers_max : 4096;
	w->prod.window = o->producer_window ? o->producer_window : 32;
	if (w->spare.pool_max > 0 &&
	    (w->spare.pool = calloc(w->spare.pool_max,
	    sizeof *w->spare.pool)) == NULL) {
		cause_set(cause, "wal: %s", strerror(errno));
		goto fail;
	}
	if (w->seg_size < WAL_MIN_SEGMENT) {
		cause_set(cause, "%s: segment size %llu is below the "
		    "minimum of %llu", w->dir,
		    (unsigned long long)w->seg_size,
		    (unsigned long long)WAL_MIN_SEGMENT);
		goto fail;
	}
	w->seg_size &= ~(uint64_t)(IO_ALIGN - 1);
	if (o->keyring != NULL) {
		w->loop.ring = keyring_hold(o->keyring);
		w->tag = KEYRING_TAG_LEN;
		w->loop.wctx = keyring_ctx_create(1);
		w->loop.batches[0].ctx = keyring_ctx_create(1);
		w->loop.batches[1].ctx = keyring_ctx_create(1);
		if (w->loop.wctx == NULL || w->loop.batches[0].ctx == NULL ||
		    w->loop.batches[1].ctx == NULL) {
			cause_set(cause, "wal: %s", strerror(ENOMEM));
			goto fail;
		}
	}
	w->max_record = o->max_record ? o->max_record : WAL_DEFAULT_RECORD;
	if (w->max_record > REC_MAX_PAYLOAD) {
		cause_set(cause, "%s: max record %u is above the hard "
		    "maximum of %u", w->dir, w->max_record,
		    REC_MAX_PAYLOAD);
		goto fail;
	}
	if (w->max_record > REC_MAX_PAYLOAD - w->tag - REC_EXT_MAX) {
		/* What is stored carries the extension fields and the GCM
		   tag too. */
		wal_log(w, WAL_LOG_WARNING, "wal: %s: max record lowered from "
		    "%u to %u bytes: a record stores up to %u bytes of "
		    "extension fields and a %u-byte tag", w->dir,
		    w->max_record, REC_MAX_PAYLOAD - w->tag - REC_EXT_MAX,
		    REC_EXT_MAX, w->tag);
		w->max_record = REC_MAX_PAYLOAD - w->tag - REC_EXT_MAX;
	}
	room = w->seg_size - SEG_HDR_SIZE - FOOTER_SIZE - REC_HDR_SIZE -
	    REC_ALIGN - REC_EXT_MAX - w->tag;
	if (w->max_record > room) {
		wal_log(w, WAL_LOG_WARNING, "wal: %s: max record lowered from "
		    "%u to %llu "
		    "bytes to fit a segment of %llu", w->dir, w->max_record,
		    (unsigned long long)room, (unsigned long long)w->seg_size);
		w->max_record = (uint32_t)room;
	}
	w->batch_cap = o->batch_bytes ? o->batch_bytes : WAL_DEFAULT_BATCH;
	if (w->batch_cap < seg_rec_size(w->max_record + REC_EXT_MAX + w->tag))
		w->batch_cap = seg_rec_size(w->max_record + REC_EXT_MAX +
		    w->tag);
	w->buf_max = (size_t)WAL_ROUND_UP(IO_ALIGN + w->batch_cap, IO_ALIGN) +
	    IO_ALIGN;

	if (mkdir(w->dir, 0750) == 0) {
		if (wal_io_sync_parent(w->dir, cause) != 0)
			goto fail;
	} else if (errno != EEXIST) {
		cause_set(cause, "mkdir: %s: %s", w->dir, strerror(errno));
		goto fail;
	}
	w->dirfd = sysio.open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (w->dirfd == -1) {
		cause_set(cause, "open: %s: %s", w->dir, strerror(errno));
		goto fail;
	}
	if (wal_lock_dir(w, o->no_lock, cause) != 0)
		goto fail;
	if (wal_choose_io(w, o->direct_io, cause) != 0)
		goto fail;

	initial = (size_t)WAL_ROUND_UP(IO_ALIGN + seg_rec_size(w->max_record +
	    REC_EXT_MAX + w->tag) + IO_ALIGN, IO_ALIGN);
	if (initial < (64u << 10))
		initial = 64u << 10;
	if (initial > w->buf_max)
		initial = w->buf_max;
	w->act.hbuf = wal_io_alloc(SEG_HDR_SIZE);
	w->act.fbuf = wal_io_alloc(2 * IO_ALIGN);
	w->spare.zbuf = wal_io_alloc(WAL_ZERO_CHUNK);
	for (i = 0; i < 2; i++) {
		w->loop.batches[i].buf = wal_io_alloc(initial);
		w->loop.batches[i].cap = initial;
	}
	if (w->act.hbuf == NULL || w->act.fbuf == NULL ||
	    w->spare.zbuf == NULL ||
	    w->loop.batches[0].buf == NULL || w->loop.batches[1].buf == NULL) {
		cause_set(cause, "wal: %s", strerror(errno));
		goto fail;
	}
	memset(w->spare.zbuf, 0, WAL_ZERO_CHUNK);

	if (wal_recover(w, cause) != 0)
		goto fail;

	/* A spare left by a crash may be partly prepared: start over. */
	if (sysio.unlinkat(w->dirfd, SPARE_NAME, 0) == 0) {
		if (sysio.fsync(w->dirfd) != 0) {
			wal_io_cause(w, cause, "fsync directory",
			    SPARE_NAME, 0);
			goto fail;
		}
	} else if (errno != ENOENT) {
		wal_io_cause(w, cause, "unlink", SPARE_NAME, 0);
		goto fail;
	}
	if (wal_spare_adopt(w, cause) != 0)
		goto fail;
	if (!w->loop.sealed) {
		/* Never write into an old segment: always start a new one. */
		if (wal_prepare_spare(w, cause) != 0 ||
		    wal_batch_seg_params(w, &sp, w->loop.next_lsn,
		    cause) != 0 ||
		    wal_spare_activate(w, w->loop.next_lsn, &sp, cause) != 0)
			goto fail;
	}

	w->loop.fill = &w->loop.batches[0];
	w->loop.other = &w->loop.batches[1];
	wal_batch_reset(w->loop.fill);
	wal_batch_reset(w->loop.other);
	w->loop.seg_first = w->loop.next_lsn;
	w->loop.off = SEG_HDR_SIZE;
	w->loop.fill->off = w->loop.off;
	w->loop.fill->seg_first = w->loop.seg_first;
	w->loop.durable_lsn = w->loop.next_lsn - 1;
	if (wal_producer_rebuild(w, cause) != 0 ||
	    wal_producer_save(w, 1, cause) != 0)
		goto fail;
	wal_log(w, WAL_LOG_INFO, "wal: opened %s: %zu segments, first LSN "
	    "%llu, next LSN "
	    "%llu%s", w->dir, w->nsegs,
	    (unsigned long long)(w->nsegs ? w->segs[0].first :
	    w->loop.next_lsn),
	    (unsigned long long)w->loop.next_lsn, w->loop.sealed ? ", "
	    "sealed" : "");
	if (w->loop.ring != NULL)
		wal_log(w, WAL_LOG_INFO, "wal: %s: new segments are encrypted "
		    "under key "
		    "id %u", w->dir, keyring_active(w->loop.ring));
	return (w);

fail:
	wal_free(w);
	return (NULL);
}

/* Closes files and frees; no batch may be in flight. Does not flush. */
void
wal_close(struct wal *w)
{
	char	*cause = NULL;

	if (w == NULL)
		return;
	/* The producer table as of what is durable, for the next open. */
	if (!wal_io_failed(w) && wal_producer_save(w, 1, &cause) != 0) {
		wal_log(w, WAL_LOG_WARNING, "wal: producer snapshot: %s",
		    cause);
		free(cause);
	}
	wal_free(w);
}
