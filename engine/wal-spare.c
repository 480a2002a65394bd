/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal-spare.c: spare segments: prepared ahead by the preparer thread
 * (fallocated, zeroed when that pays, synced), made from the files of
 * truncated segments when they are kept (RECYCLING below), and turned
 * into the active segment by the flusher (wal_spare_activate): header
 * written and synced, renamed, directory synced.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cause.h"
#include "segment.h"
#include "sysio.h"
#include "wal-int.h"
#include "wal.h"


/* 1 when no spare segment will ever be needed (the log is sealed). */
int
wal_spare_unneeded(struct wal *w)
{
	return (__atomic_load_n(&w->loop.sealed, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&w->loop.seal_pending, __ATOMIC_ACQUIRE));
}

/* Segment `name` took `bytes` of records in n flushes: whether spares
   prepared from now on are written with zeros follows from that. */
void
wal_spare_note_segment(struct wal *w, const char *name, uint64_t bytes,
    uint64_t n)
{
	int	big;

	big = bytes / n >= WAL_BIG_FLUSH;
	if (big != __atomic_load_n(&w->spare.big_flushes, __ATOMIC_RELAXED)) {
		__atomic_store_n(&w->spare.big_flushes, big, __ATOMIC_RELAXED);
		if (w->spare.mode == WAL_SPARE_AUTO)
			wal_log(w, WAL_LOG_INFO, "wal: %s: segment %s took "
			    "%llu bytes a "
			    "flush: spare segments are now %s", w->dir, name,
			    (unsigned long long)(bytes / n),
			    big ? "fallocated only" : "written with zeros");
	}
}

/* At an activation (flusher, or open): notes whether the segment it ends
   was written in large flushes, for the spares prepared from now on. At
   open, the recovered last segment did (wal_recover_last). */
static void
wal_spare_note_flushes(struct wal *w)
{
	uint64_t	flushes, n;

	pthread_mutex_lock(&w->lock);
	flushes = w->flushes;
	pthread_mutex_unlock(&w->lock);
	n = flushes - w->act.flushes_at;
	if (w->act.noted && n > 0 && w->act.off > SEG_HDR_SIZE)
		wal_spare_note_segment(w, w->act.name,
		    w->act.off - SEG_HDR_SIZE, n);
	w->act.flushes_at = flushes;
	w->act.noted = 1;
}

/*
 * RECYCLING. A truncated segment's file is kept, while fewer than
 * recycle_segments are, as recycle-FIRST.tmp, and the next spare is made
 * from it: renamed to spare.tmp, cut to the segment size, its last block
 * zeroed, fallocated and synced like a new one. Nothing else of it is
 * zeroed: its blocks are written already, and a write over written
 * blocks changes no extent, so fdatasync commits only data (a write into
 * new or unwritten blocks also commits their allocation or conversion,
 * and on a thin-provisioned disk waits for the host to allocate them).
 * What the file held never becomes part of the log:
 * - every record's CRC starts from its segment's random id (version 2
 *   segments, FORMAT.md section 4), so the earlier segment's records,
 *   and anything a client forged in a payload, are not valid in the new
 *   one; the new header says SEG_F_REUSED, so that readers and recovery
 *   take what follows the last record for the end of the records, not
 *   for a torn tail or damage;
 * - the zeroed last block keeps a footer out of the place where a sealed
 *   segment's footer is looked for;
 * - the spare is not part of the log until its header is written and
 *   synced (wal_spare_activate); a crash before that leaves a spare.tmp, which
 *   start-up removes, or a recycle-*.tmp, which it keeps or removes.
 */

/* Takes the oldest kept file for a spare: 1 and *first, or 0. */
static int
wal_spare_pool_take(struct wal *w, uint64_t *first)
{
	int	got = 0;

	pthread_mutex_lock(&w->lock);
	if (w->spare.npool > 0) {
		*first = w->spare.pool[0];
		memmove(w->spare.pool, w->spare.pool + 1,
		    (w->spare.npool - 1) * sizeof *w->spare.pool);
		w->spare.npool--;
		got = 1;
	}
	pthread_mutex_unlock(&w->lock);
	return (got);
}

/* Start-up: keeps the files a previous run kept, the oldest up to
   recycle_segments (none once the log is sealed), and removes the
   others. A name of theirs that is not a regular file is not walld's:
   left alone. */
int
wal_spare_adopt(struct wal *w, char **cause)
{
	char		 name[RECYCLE_NAME_SIZE];
	struct seg_ent	*ents;
	struct stat	 sb;
	size_t		 n, i;
	int		 removed = 0, rc = -1;

	if (segment_list_kept(w->dirfd, w->dir, &ents, &n, cause) != 0)
		return (-1);
	for (i = 0; i < n; i++) {
		segment_recycle_name(name, ents[i].first);
		if (fstatat(w->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(sb.st_mode)) {
			wal_log(w, WAL_LOG_WARNING, "wal: %s/%s: not a regular "
			    "file: ignored",
			    w->dir, name);
			continue;
		}
		if (w->spare.npool < w->spare.pool_max &&
		    !wal_spare_unneeded(w)) {
			w->spare.pool[w->spare.npool++] = ents[i].first;
			continue;
		}
		if (sysio.unlinkat(w->dirfd, name, 0) != 0) {
			wal_io_cause(w, cause, "unlink", name, 0);
			goto out;
		}
		removed = 1;
	}
	if (removed && sysio.fsync(w->dirfd) != 0) {
		wal_io_cause(w, cause, "fsync directory", ".", 0);
		goto out;
	}
	rc = 0;
out:
	free(ents);
	return (rc);
}

/* Opens a kept file as the spare, cut to the segment size, its last
   block zeroed: the fd and *written (the bytes the file held: blocks
   written before), or -1 and errno (*call says what failed; no spare.tmp
   is left), -3 when the file is gone. */
static int
wal_spare_recycle(struct wal *w, uint64_t first, uint64_t *written,
    const char **call)
{
	char		name[RECYCLE_NAME_SIZE];
	struct stat	sb;
	int		fd = -1, err;

	segment_recycle_name(name, first);
	*call = "rename (of a kept segment file)";
	if (sysio.renameat(w->dirfd, name, w->dirfd, SPARE_NAME) != 0)
		return (errno == ENOENT ? -3 : -1);
	*call = "open";
	fd = sysio.openat(w->dirfd, SPARE_NAME, O_RDWR | O_CLOEXEC |
	    O_NOFOLLOW | (w->direct ? O_DIRECT : 0), 0);
	if (fd != -1) {
		*call = "fstat";
		if (fstat(fd, &sb) == 0) {
			*written = (uint64_t)sb.st_size < w->seg_size ?
			    (uint64_t)sb.st_size : w->seg_size;
			*call = "ftruncate";
			if (sysio.ftruncate(fd, (off_t)w->seg_size) == 0) {
				/* No footer can be found at the end of an
				   active segment but its own. */
				*call = "pwrite";
				if (wal_io_pwrite(fd, w->spare.zbuf, IO_ALIGN,
				    w->seg_size - IO_ALIGN) == 0)
					return (fd);
			}
		}
	}
	/* Not made into a spare: its old bytes must not wait there (best
	   effort: start-up removes a spare.tmp in any case). */
	err = errno;
	if (fd != -1)
		sysio.close(fd);
	if (sysio.unlinkat(w->dirfd, SPARE_NAME, 0) != 0)
		wal_log(w, WAL_LOG_WARNING, "wal: %s/%s: unlink: %s", w->dir,
		    SPARE_NAME,
		    strerror(errno));
	errno = err;
	return (-1);
}

/* Makes sure a spare segment is ready; see wal.h. */
int
wal_prepare_spare(struct wal *w, char **cause)
{
	uint64_t	off, first, written = 0;
	size_t		n;
	int		fd = -1, err, zero, reused = 0, before;
	const char	*call;

	pthread_mutex_lock(&w->lock);
	while (w->spare.state == SPARE_PREPARING ||
	    w->spare.state == SPARE_ACTIVATING)
		pthread_cond_wait(&w->cond, &w->lock);
	if (w->spare.state == SPARE_READY || wal_spare_unneeded(w)) {
		pthread_mutex_unlock(&w->lock);
		return (0);
	}
	/* A retry failing as the last try did is logged at debug level
	   only: the preparer retries every second while a disk error
	   lasts. */
	before = w->spare.state == SPARE_FAILED ? w->spare.err : 0;
	w->spare.state = SPARE_PREPARING;
	pthread_mutex_unlock(&w->lock);

	off = 0;
	if (wal_spare_pool_take(w, &first)) {
		if ((fd = wal_spare_recycle(w, first, &written, &call)) ==
		    -1) {
			err = errno;
			wal_io_cause(w, cause, call, SPARE_NAME, 0);
			wal_log(w, err == before ? WAL_LOG_DEBUG : WAL_LOG_ERR,
			    "wal: prepare spare: %s: %s/%s: %s", call,
			    w->dir, SPARE_NAME, strerror(err));
			fd = -1;
			goto failed;
		}
		if (fd == -3)
			fd = -1;
		else
			reused = 1;
	}
	call = "open";
	if (fd == -1 && (fd = sysio.openat(w->dirfd, SPARE_NAME, O_RDWR |
	    O_CREAT | O_TRUNC | O_CLOEXEC | (w->direct ? O_DIRECT : 0),
	    0640)) == -1)
		goto fail;
	/* Zeros cost a second write of every byte, which a log written in
	   large flushes feels; fallocated blocks cost each fdatasync a
	   journal commit (their extents turn from unwritten to written),
	   which large flushes hardly notice and small ones do. A reused
	   file's blocks were written in its earlier life: only those past
	   its old size would need them. */
	zero = w->spare.mode == WAL_SPARE_ZEROS ||
	    (w->spare.mode == WAL_SPARE_AUTO &&
	    !__atomic_load_n(&w->spare.big_flushes, __ATOMIC_RELAXED));
	call = "fallocate";
	if (sysio.fallocate(fd, 0, 0, (off_t)w->seg_size) != 0) {
		if (errno != EOPNOTSUPP && errno != ENOSYS)
			goto fail;
		zero = 1;	/* only writing reserves the space */
	}
	call = "pwrite";
	off = written & ~(uint64_t)(IO_ALIGN - 1);
	for (; zero && off < w->seg_size; off += n) {
		n = w->seg_size - off < WAL_ZERO_CHUNK ?
		    (size_t)(w->seg_size - off) : WAL_ZERO_CHUNK;
		if (wal_io_pwrite(fd, w->spare.zbuf, n, off) != 0)
			goto fail;
	}
	call = "fsync";
	if (sysio.fsync(fd) != 0)
		goto fail;
	if (sysio.fsync(w->dirfd) != 0) {
		call = "fsync directory";
		goto fail;
	}
	pthread_mutex_lock(&w->lock);
	w->spare.reused = reused;
	w->spare.fd = fd;
	w->spare.state = SPARE_READY;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return (0);

fail:
	err = errno;
	wal_io_cause(w, cause, call, SPARE_NAME, off);
	wal_log(w, err == before ? WAL_LOG_DEBUG : WAL_LOG_ERR,
	    "wal: prepare spare: %s: %s/%s: %s", call, w->dir, SPARE_NAME,
	    strerror(err));
	if (fd != -1) {
		sysio.close(fd);
		sysio.unlinkat(w->dirfd, SPARE_NAME, 0);
	}
failed:
	pthread_mutex_lock(&w->lock);
	w->spare.state = SPARE_FAILED;
	w->spare.err = err;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	errno = err;
	return (-1);
}

/* 1 when a spare is ready or not needed. */
int
wal_spare_ready(struct wal *w)
{
	int	ready;

	if (wal_spare_unneeded(w))
		return (1);
	pthread_mutex_lock(&w->lock);
	ready = w->spare.state == SPARE_READY;
	pthread_mutex_unlock(&w->lock);
	return (ready);
}

/*
 * Turns the spare into the active segment beginning at first, with the
 * header sp: written and synced, renamed to its name, directory synced;
 * only then can a record in it be acknowledged. Replaces an empty segment
 * of that name (left by a crash, or the active one when its key changed).
 */
int
wal_spare_activate(struct wal *w, uint64_t first, const struct wal_segparm *sp,
    char **cause)
{
	struct seg_header	 h;
	struct timespec		 ts;
	char			 name[SEG_NAME_SIZE];
	const char		*call;
	int			 fd;

	pthread_mutex_lock(&w->lock);
	if (w->spare.state != SPARE_READY) {
		pthread_mutex_unlock(&w->lock);
		cause_set(cause, "activate: %s: no spare segment is ready",
		    w->dir);
		errno = EAGAIN;
		return (-1);
	}
	w->spare.state = SPARE_ACTIVATING;
	fd = w->spare.fd;
	w->spare.fd = -1;
	pthread_mutex_unlock(&w->lock);

	memset(&h, 0, sizeof h);
	h.version = SEG_VERSION;
	h.hdr_len = SEG_HDR_SIZE;
	h.first_lsn = first;
	memcpy(h.id, sp->id, sizeof h.id);
	pthread_mutex_lock(&w->lock);
	if (w->spare.reused)
		h.flags |= SEG_F_REUSED;
	pthread_mutex_unlock(&w->lock);
	if (sp->key_id != 0) {
		h.flags |= SEG_F_ENCRYPTED;
		h.key_id = sp->key_id;
		memcpy(h.salt, sp->salt, sizeof h.salt);
		memcpy(h.check, sp->check, sizeof h.check);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	h.ctime_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	segment_encode_header(w->act.hbuf, &h);
	segment_name(name, first);

	call = "pwrite";
	if (wal_io_pwrite(fd, w->act.hbuf, SEG_HDR_SIZE, 0) != 0)
		goto fail;
	call = "fdatasync";
	if (sysio.fdatasync(fd) != 0)
		goto fail;
	call = "renameat";
	if (sysio.renameat(w->dirfd, SPARE_NAME, w->dirfd, name) != 0)
		goto fail;
	call = "fsync directory";
	if (sysio.fsync(w->dirfd) != 0)
		goto fail;

	wal_spare_note_flushes(w);
	if (w->act.fd != -1)
		sysio.close(w->act.fd);	/* the empty segment just replaced */
	w->act.fd = fd;
	memcpy(w->act.name, name, sizeof name);
	w->act.first = first;
	w->act.last = first - 1;
	w->act.count = 0;
	w->act.off = SEG_HDR_SIZE;
	w->act.crc = 0;
	w->act.seed = sp->seed;
	pthread_mutex_lock(&w->lock);
	w->spare.state = SPARE_NONE;
	w->spare.recycled += (uint64_t)w->spare.reused;
	w->spare.reused = 0;
	if (w->nsegs > 0 && w->segs[w->nsegs - 1].first == first &&
	    !w->segs[w->nsegs - 1].sealed)
		w->segs[w->nsegs - 1].key_id = sp->key_id;
	else if (wal_segs_push(w, first, first - 1, w->seg_size, 0,
	    sp->key_id) != 0) {
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		cause_set(cause, "activate: %s", strerror(errno));
		return (-1);
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	wal_log(w, WAL_LOG_DEBUG, "wal: new segment %s/%s", w->dir, name);
	return (0);

fail:
	wal_io_cause(w, cause, call, SPARE_NAME, 0);
	sysio.close(fd);
	pthread_mutex_lock(&w->lock);
	w->spare.state = SPARE_NONE;
	w->spare.reused = 0;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return (-1);
}

/*
 * Says whether a new segment can be promised to the filling batch. A spare
 * is promised while a batch that ends a segment is filling, and while a
 * batch that begins one is out: the flush that activates it has not ended.
 */
enum wal_rc
wal_spare_claim(struct wal *w)
{
	enum wal_spare_state	st;
	int			err;

	if (w->loop.out != NULL && w->loop.out->begins_seg)
		return (WAL_EFULL);
	pthread_mutex_lock(&w->lock);
	st = w->spare.state;
	err = w->spare.err;
	pthread_mutex_unlock(&w->lock);
	if (st == SPARE_READY)
		return (WAL_OK);
	if (st != SPARE_FAILED)
		return (WAL_EWAIT);
	/* A failed preparation is retried (the preparer, every second), but
	   what needs the spare is refused meanwhile, never kept waiting for
	   a disk that may not recover. */
	return (err == ENOSPC || err == EDQUOT ? WAL_ENOSPC : WAL_ESPARE);
}

int
wal_spare_errno(struct wal *w)
{
	int	err = 0;

	pthread_mutex_lock(&w->lock);
	if (w->spare.state == SPARE_FAILED)
		err = w->spare.err;
	pthread_mutex_unlock(&w->lock);
	return (err);
}
