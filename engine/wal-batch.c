/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal-batch.c: group-commit batches: the loop appends records and marks
 * (rotate, seal) into the filling batch; the flusher writes and syncs
 * the batch out (wal_flush_io) while the next one fills; the loop takes
 * it back (wal_flush_end). Also the offline helpers that do all three on
 * one thread (wal_sync, wal_seal, wal_rotate).
 *
 * WRITES. A batch is written with one pwrite and one fdatasync (two
 * pwrites, one after the other, when the stamper finishes it meanwhile:
 * wal_flush_io). With O_DIRECT it covers [tail rounded down to 4096, end
 * rounded up to 4096): the buffer starts with a copy of the partial last
 * block, so the bytes of records already acknowledged are rewritten
 * identical (buffered I/O writes back the same page cache content).
 * Failure model: a 512-byte sector is written atomically, so after power
 * loss each sector holds its old or its new content, and for the
 * acknowledged prefix both are the same: a torn write can only damage
 * records of the flush that was not acknowledged.
 *
 */
#include <sys/types.h>
#include <sys/random.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "cause.h"
#include "keyring.h"
#include "segment.h"
#include "sysio.h"
#include "wal-int.h"
#include "wal.h"


/* Grows a batch buffer to hold need bytes (never above buf_max). */
static int
wal_batch_grow(struct wal *w, struct wal_batch *b, size_t need)
{
	unsigned char	*nb;
	size_t		 cap;

	if (need <= b->cap)
		return (0);
	if (need > w->buf_max)
		return (-1);
	cap = b->cap * 2;
	if (cap < need)
		cap = need;
	if (cap > w->buf_max)
		cap = w->buf_max;
	if ((nb = wal_io_alloc(cap)) == NULL)
		return (-1);
	/* The stamper may be stamping these bytes: take the batch from it
	   until the loop publishes again. */
	if (w->stamp.fill == b)
		wal_stamp_release(w, b, 1);
	memcpy(nb, b->buf, b->pre + b->len);
	free(b->buf);
	b->buf = nb;
	b->cap = cap;
	return (0);
}

/* Empties a batch for reuse. */
void
wal_batch_reset(struct wal_batch *b)
{
	b->pre = b->len = 0;
	b->off = b->seg_first = 0;
	b->first_lsn = b->last_lsn = b->nrec = 0;
	b->begins_seg = b->ends_seg = b->seals = b->ok = 0;
	__atomic_store_n(&b->pub, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&b->stamped, 0, __ATOMIC_RELAXED);
	b->dcrc = 0;
	b->split = 0;
	__atomic_store_n(&b->stop, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&b->ahead_off, 0, __ATOMIC_RELAXED);
	free(b->ahead_cause);
	b->ahead_cause = NULL;
}

/*
 * Chooses what the header of the segment beginning at first will say: a
 * random id and, with a key ring, the active key id, a fresh salt and the
 * key check; loads the segment's data key into the writer's context,
 * which each batch of the segment copies before its records are stamped
 * (wal_stamp_key; the stamper and the flusher stamp with the copy). This
 * happens when the loop starts filling a segment, before the flusher
 * activates it (the spare is made ahead and gets this header only then).
 */
int
wal_batch_seg_params(struct wal *w, struct wal_segparm *sp, uint64_t first,
    char **cause)
{
	memset(sp, 0, sizeof *sp);
	if (getrandom(sp->id, sizeof sp->id, 0) != (ssize_t)sizeof sp->id) {
		cause_set(cause, "getrandom: %s", strerror(errno));
		return (-1);
	}
	sp->seed = segment_seed(SEG_VERSION, sp->id);
	w->loop.seed = sp->seed;
	w->loop.key_id = 0;
	w->loop.rekey = 0;
	if (w->loop.ring == NULL)
		return (0);
	/* A fresh salt per segment file: see the nonce argument, keyring.c. */
	if (RAND_bytes(sp->salt, sizeof sp->salt) != 1) {
		cause_set(cause, "RAND_bytes failed: no salt for a new "
		    "segment");
		return (-1);
	}
	sp->key_id = keyring_active(w->loop.ring);
	w->loop.wctx_gen++;
	if (keyring_ctx_key(w->loop.wctx, w->loop.ring, sp->key_id, sp->salt,
	    sp->id,
	    first, cause) != 0)
		return (-1);
	memcpy(sp->check, keyring_ctx_check(w->loop.wctx), sizeof sp->check);
	w->loop.key_id = sp->key_id;
	return (0);
}

/*
 * Makes the filling batch end the filling segment (its footer after the
 * records), claiming the spare the next segment needs: WAL_OK, or why
 * not yet. A batch that begins a segment cannot also claim the next:
 * WAL_EFULL (flush it, then retry).
 */
static enum wal_rc
wal_batch_end_seg(struct wal *w, struct wal_batch *b)
{
	enum wal_rc	rc;

	if (b->begins_seg)
		return (WAL_EFULL);
	if ((rc = wal_spare_claim(w)) != WAL_OK)
		return (rc);
	b->ends_seg = 1;
	return (WAL_OK);
}

/*
 * The active key changed (wal_set_keyring): no record may go into the
 * filling segment under the old one. A segment with records is ended
 * (WAL_EFULL: flush, then retry, as for a full segment). An empty one
 * takes the new key: its header is not written yet (a batch that begins
 * it), or the flush of its first record replaces it with a fresh file of
 * the same name, as recovery replaces an empty segment.
 */
static enum wal_rc
wal_batch_rekey(struct wal *w)
{
	struct wal_batch	*b = w->loop.fill;
	enum wal_rc		 rc;
	char			*cause = NULL;

	if (w->loop.off > SEG_HDR_SIZE) {
		rc = wal_batch_end_seg(w, b);
		return (rc == WAL_OK ? WAL_EFULL : rc);
	}
	if (!b->begins_seg) {
		if ((rc = wal_spare_claim(w)) != WAL_OK)
			return (rc);
		b->begins_seg = 1;
	}
	if (wal_batch_seg_params(w, &b->sp, w->loop.seg_first, &cause) != 0) {
		wal_io_latch(w, "new segment key", cause);
		return (WAL_EFAILED);
	}
	return (WAL_OK);
}

/* The time a record appended now gets: the wall clock, never below the
   record before it (FORMAT.md: times never go back in a log). */
uint64_t
wal_time_next(struct wal *w)
{
	struct timespec	ts;
	uint64_t	t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return (t <= w->loop.last_time ? w->loop.last_time : t);
}

static uint64_t
wal_batch_time(struct wal *w)
{
	w->loop.last_time = wal_time_next(w);
	return (w->loop.last_time);
}

/* Assigns the next LSN and copies the record into the filling batch, its
   extension fields (the time, and the producer when it has one) before
   the payload. Its payload is encrypted and its CRC set off the loop
   thread, by the stamper (wal_stamp_ahead) or the flusher
   (wal_stamp_batch). */
enum wal_rc
wal_append_as(struct wal *w, const struct wal_producer_seq *ps,
    uint16_t type, uint32_t tenant, uint16_t vshard, const void *payload,
    uint32_t len, uint64_t *lsn)
{
	struct wal_batch	*b = w->loop.fill;
	struct rec_header	 h;
	struct rec_ext		 x;
	unsigned char		*p;
	uint64_t		 rs;
	uint32_t		 slen, xlen;
	enum wal_rc		 rc;

	enum wal_rc		 prc = WAL_OK;

	if (wal_io_failed(w))
		return (WAL_EFAILED);
	/* A retry of an append in the log already is answered with it,
	   sealed or not. */
	if (ps != NULL && (prc = wal_producer_check(w, ps, tenant, lsn)) ==
	    WAL_EDUP)
		return (WAL_EDUP);
	if (w->loop.sealed || w->loop.seal_pending)
		return (WAL_ESEALED);
	if (prc != WAL_OK)
		return (prc);	/* WAL_ESEQ, WAL_ENOMEM */
	if (len > w->max_record)
		return (WAL_ETOOBIG);
	if (b->ends_seg)
		return (WAL_EFULL);
	if (w->loop.rekey && (rc = wal_batch_rekey(w)) != WAL_OK)
		return (rc);
	if (w->loop.seg_first != w->prod.snap_seg)
		wal_producer_segment(w);
	memset(&x, 0, sizeof x);
	if (ps != NULL) {
		x.producer = ps->producer;
		x.seq = ps->seq;
	}
	x.time_ns = 1;		/* a placeholder, for its length */
	h.flags = segment_ext_flags(&x);
	xlen = rec_ext_len(h.flags);
	slen = xlen + len + w->tag;	/* stored: extension, ciphertext, tag */
	rs = seg_rec_size(slen);
	if (w->loop.off + rs + FOOTER_SIZE > w->seg_size) {
		/* The segment is full: this record starts the next. */
		rc = wal_batch_end_seg(w, b);
		return (rc == WAL_OK ? WAL_EFULL : rc);
	}
	if (b->nrec > 0 && b->len + rs > w->batch_cap)
		return (WAL_EFULL);
	if (wal_batch_grow(w, b, WAL_ROUND_UP(b->pre + b->len + rs,
	    IO_ALIGN)) != 0)
		return (WAL_EFULL);

	p = b->buf + b->pre + b->len;
	x.time_ns = wal_batch_time(w);
	memset(&h, 0, sizeof h);
	h.flags = segment_ext_flags(&x);
	h.type = type;
	h.vshard = vshard;
	h.tenant = tenant;
	h.len = slen;
	h.lsn = w->loop.next_lsn;
	h.batch_lsn = b->nrec > 0 ? b->first_lsn : w->loop.next_lsn;
	segment_encode_rec(p, &h);	/* its CRC field 0 until stamped */
	segment_encode_ext(p + REC_HDR_SIZE, &x);
	if (len > 0)
		memcpy(p + REC_HDR_SIZE + xlen, payload, len);
	memset(p + REC_HDR_SIZE + xlen + len, 0,
	    rs - REC_HDR_SIZE - xlen - len);

	if (b->nrec == 0) {
		b->first_lsn = w->loop.next_lsn;
		b->seed = w->loop.seed;	/* its segment's from now on */
	}
	b->last_lsn = w->loop.next_lsn;
	b->nrec++;
	b->len += rs;
	w->loop.off += rs;
	*lsn = w->loop.next_lsn++;
	if (ps != NULL)
		wal_producer_note(w, ps, tenant, *lsn);
	return (WAL_OK);
}

/* An append without a producer. */
enum wal_rc
wal_append(struct wal *w, uint16_t type, uint32_t tenant, uint16_t vshard,
    const void *payload, uint32_t len, uint64_t *lsn)
{
	return (wal_append_as(w, NULL, type, tenant, vshard, payload, len,
	    lsn));
}

/* The filling batch ends the active segment; see wal.h. */
enum wal_rc
wal_mark_rotate(struct wal *w)
{
	struct wal_batch	*b = w->loop.fill;

	if (wal_io_failed(w))
		return (WAL_EFAILED);
	if (w->loop.sealed || w->loop.seal_pending)
		return (WAL_ESEALED);
	if (b->ends_seg)
		return (WAL_OK);
	/* No record in the segment: rotating it would leave an empty one;
	   after a key change it takes the new key instead. */
	if (w->loop.off == SEG_HDR_SIZE)
		return (w->loop.rekey ? wal_batch_rekey(w) : WAL_OK);
	return (wal_batch_end_seg(w, b));
}

/* The filling batch seals the log; see wal.h. */
enum wal_rc
wal_mark_seal(struct wal *w)
{
	struct wal_batch	*b = w->loop.fill;

	if (wal_io_failed(w))
		return (WAL_EFAILED);
	if (w->loop.sealed || w->loop.seal_pending)
		return (WAL_ESEALED);
	/*
	 * A pending rollover footer becomes the sealing one; a batch that
	 * begins a segment already holds the spare it needs.
	 */
	b->ends_seg = 1;
	b->seals = 1;
	__atomic_store_n(&w->loop.seal_pending, 1, __ATOMIC_RELEASE);
	return (WAL_OK);
}

/* Whether the filling batch has anything to write; see wal.h. */
int
wal_pending(struct wal *w)
{
	return (w->loop.fill != NULL && (w->loop.fill->nrec > 0 ||
	    w->loop.fill->ends_seg));
}

/* Record bytes in the filling batch; see wal.h. */
uint64_t
wal_pending_bytes(struct wal *w)
{
	return (w->loop.fill != NULL ? w->loop.fill->len : 0);
}

/* Records in the filling batch; see wal.h. */
uint64_t
wal_pending_records(struct wal *w)
{
	return (w->loop.fill != NULL ? w->loop.fill->nrec : 0);
}

/* Detaches the filling batch for writing; see wal.h. */
struct wal_batch *
wal_flush_begin(struct wal *w)
{
	struct wal_batch	*b = w->loop.fill, *nb = w->loop.other;
	size_t			 end;
	char			*cause = NULL;

	if (w->loop.out != NULL || nb == NULL)
		return (NULL);
	if (b->nrec == 0 && !b->ends_seg)
		return (NULL);

	/* A failure latches the log: the flusher then refuses the batch,
	   and its waiters learn the outcome is unknown. */
	(void)wal_stamp_key(w, b);
	/* The flusher takes it over (wal_flush_io waits for the record the
	   stamper is stamping, if any). With a long tail not stamped yet, the
	   stamper goes on with it while the flusher writes the part before. */
	b->split = w->tag != 0 && !wal_io_failed(w) &&
	    !__atomic_load_n(&b->ahead_off, __ATOMIC_RELAXED) &&
	    b->len - __atomic_load_n(&b->stamped, __ATOMIC_RELAXED) >=
	    WAL_SPLIT_TAIL;
	wal_stamp_release(w, b, 0);
	if (b->split) {
		pthread_mutex_lock(&w->stamp.lock);
		__atomic_store_n(&b->pub, b->len, __ATOMIC_RELEASE);
		w->stamp.out = b;
		pthread_mutex_unlock(&w->stamp.lock);
	}
	wal_batch_reset(nb);
	if (b->ends_seg) {
		if (!b->seals) {
			w->loop.seg_first = w->loop.next_lsn;
			w->loop.off = SEG_HDR_SIZE;
			nb->begins_seg = 1;
			if (wal_batch_seg_params(w, &nb->sp, w->loop.next_lsn,
			    &cause) != 0)
				wal_io_latch(w, "new segment", cause);
		}
	} else if (w->direct) {
		/* The new batch rewrites the partial last block as is: room
		   for it now, its bytes once b is stamped (wal_flush_end). */
		nb->pre = w->loop.off % IO_ALIGN;
	}
	nb->off = w->loop.off;
	nb->seg_first = w->loop.seg_first;
	if (w->direct) {
		end = b->pre + b->len;
		memset(b->buf + end, 0, WAL_ROUND_UP(end, IO_ALIGN) - end);
	}
	w->loop.fill = nb;
	w->loop.other = NULL;
	w->loop.out = b;
	return (b);
}

/* Highest LSN in the batch (0 if it has no record). */
uint64_t
wal_batch_last_lsn(const struct wal_batch *b)
{
	return (b->nrec > 0 ? b->last_lsn : 0);
}

/* Stamped in two parts; see wal.h. */
int
wal_batch_split(const struct wal_batch *b)
{
	return (b->split);
}

/* Neither begins nor ends a segment; see wal.h. */
int
wal_batch_plain(const struct wal_batch *b)
{
	return (!b->begins_seg && !b->ends_seg);
}

/*
 * Seals the active segment after batch b: footer written and synced, then
 * the file cut to end at the footer, synced, and the directory synced.
 */
static int
wal_batch_end_segment(struct wal *w, struct wal_batch *b, char **cause)
{
	struct seg_footer	 f;
	unsigned char		 foot[FOOTER_SIZE];
	const unsigned char	*buf = foot;
	uint64_t		 e = w->act.off, woff = e, bstart;
	size_t			 k, n = FOOTER_SIZE;

	f.first_lsn = w->act.first;
	f.last_lsn = w->act.last;
	f.count = w->act.count;
	f.offset = e;
	f.data_crc = w->act.crc;
	f.flags = b->seals ? FOOTER_F_LOG_SEALED : 0;
	segment_encode_footer(foot, &f, w->act.seed);
	if (w->direct) {
		/* The footer inside its block, after the bytes written. */
		woff = e & ~(uint64_t)(IO_ALIGN - 1);
		k = (size_t)(e - woff);
		bstart = b->off - b->pre;
		memcpy(w->act.fbuf, b->buf + (woff - bstart), k);
		memcpy(w->act.fbuf + k, foot, FOOTER_SIZE);
		n = (size_t)WAL_ROUND_UP(k + FOOTER_SIZE, IO_ALIGN);
		memset(w->act.fbuf + k + FOOTER_SIZE, 0, n - k - FOOTER_SIZE);
		buf = w->act.fbuf;
	}
	if (wal_io_finish(w, w->act.fd, w->act.name, buf, n, woff,
	    e + FOOTER_SIZE, cause) != 0)
		return (-1);
	sysio.close(w->act.fd);
	w->act.fd = -1;
	pthread_mutex_lock(&w->lock);
	w->segs[w->nsegs - 1].size = e + FOOTER_SIZE;
	w->segs[w->nsegs - 1].sealed = 1;
	pthread_mutex_unlock(&w->lock);
	wal_log(w, WAL_LOG_DEBUG, "wal: sealed segment %s/%s at offset %llu%s",
	    w->dir, w->act.name, (unsigned long long)e,
	    b->seals ? " (log sealed)" : "");
	return (0);
}

/*
 * Writes and syncs a batch (flusher thread): activates the spare if the
 * batch begins a segment, stamps its records, one pwrite (two for a split
 * batch: the part the stamper finished, then the rest) and one fdatasync,
 * then the footer if it ends one. Any failure latches the log: an fsync is
 * never retried.
 */
int
wal_flush_io(struct wal *w, struct wal_batch *b, char **cause)
{
	uint64_t	wstart;
	size_t		wlen, done = 0;
	ssize_t		n;

	/* The stamper may still be stamping a record of b: b is the flusher's
	   once it has left, whatever happens next. A split batch it goes
	   on stamping while the first part is written. */
	if (!b->split)
		wal_stamp_release(w, b, 1);
	b->ok = 0;
	if (wal_io_failed(w)) {
		wal_stamp_release(w, b, 1);
		cause_set(cause, "%s: the log failed earlier: nothing is "
		    "written until a restart recovers it", w->dir);
		errno = EIO;
		return (-1);
	}
	if (b->begins_seg && wal_spare_activate(w, b->seg_first, &b->sp,
	    cause) != 0)
		goto fail;
	if (w->act.fd == -1 || (b->len > 0 && b->off != w->act.off)) {
		cause_set(cause, "%s: internal error: batch at offset %llu "
		    "does not follow the active segment (%s, offset %llu)",
		    w->dir, (unsigned long long)b->off, w->act.name,
		    (unsigned long long)w->act.off);
		errno = EINVAL;
		goto fail;
	}
	if (b->len > 0) {
		if (w->direct) {
			wstart = b->off - b->pre;
			wlen = (size_t)WAL_ROUND_UP(b->pre + b->len, IO_ALIGN);
		} else {
			wstart = b->off;
			wlen = b->len;
		}
		if (b->split) {
			if ((n = wal_stamp_write_done(w, b, wstart, cause)) < 0)
				goto fail;
			done = (size_t)n;
			wal_stamp_release(w, b, 1);
		}
		if (wal_stamp_batch(w, b, cause) != 0)
			goto fail;
		if (wal_io_pwrite(w->act.fd, b->buf + done, wlen - done,
		    wstart + done) != 0) {
			wal_io_cause(w, cause, "pwrite", w->act.name,
			    wstart + done);
			goto fail;
		}
#ifndef WALD_PLANT_EARLY_ACK	/* a planted bug for the tests' own test:
				   acknowledged without an fdatasync */
		if (sysio.fdatasync(w->act.fd) != 0) {
			wal_io_cause(w, cause, "fdatasync", w->act.name,
			    wstart);
			goto fail;
		}
#endif
		w->act.count += b->nrec;
		w->act.last = b->last_lsn;
		w->act.off = b->off + b->len;
		pthread_mutex_lock(&w->lock);
		w->segs[w->nsegs - 1].last = w->act.last;
		w->bytes_written += b->len;
		w->flushes++;
		pthread_mutex_unlock(&w->lock);
	}
	if (b->ends_seg && wal_batch_end_segment(w, b, cause) != 0)
		goto fail;
	b->ok = 1;
	return (0);

fail:
	wal_stamp_release(w, b, 1);
	__atomic_store_n(&w->failed, 1, __ATOMIC_RELEASE);
	wal_log(w, WAL_LOG_ERR, "wal: %s: log latched failed, appends refused "
	    "until "
	    "restart", (cause != NULL && *cause != NULL) ? *cause : w->dir);
	return (-1);
}

/* Takes the batch back (loop thread) and returns the durable LSN. */
uint64_t
wal_flush_end(struct wal *w, struct wal_batch *b)
{
	struct wal_batch	*nb = w->loop.fill;
	uint64_t		 end;

	if (b->ok) {
		if (b->nrec > 0)
			w->loop.durable_lsn = b->last_lsn;
		if (b->seals)
			__atomic_store_n(&w->loop.sealed, 1, __ATOMIC_RELEASE);
		/* The filling batch begins with b's partial last block, as
		   written (stamped): see wal_flush_begin. */
		end = b->off + b->len;
		if (nb->pre > 0 && nb->off == end &&
		    nb->seg_first == b->seg_first)
			memcpy(nb->buf, b->buf + (end - nb->pre) -
			    (b->off - b->pre), nb->pre);
	}
	wal_batch_reset(b);
	w->loop.out = NULL;
	w->loop.other = b;
	return (w->loop.durable_lsn);
}

/* Offline: flushes the filling batch on this thread. */
int
wal_sync(struct wal *w, uint64_t *durable, char **cause)
{
	struct wal_batch	*b;
	int			 r;

	if (w->loop.out != NULL) {
		cause_set(cause, "%s: a batch is in flight", w->dir);
		return (-1);
	}
	if ((b = wal_flush_begin(w)) == NULL) {
		if (wal_io_failed(w) && w->loop.fill->nrec == 0 &&
		    w->loop.durable_lsn + 1 < w->loop.next_lsn) {
			cause_set(cause, "%s: the log has failed", w->dir);
			return (-1);
		}
		if (durable != NULL)
			*durable = w->loop.durable_lsn;
		return (0);
	}
	r = wal_flush_io(w, b, cause);
	wal_flush_end(w, b);
	if (durable != NULL)
		*durable = w->loop.durable_lsn;
	return (r);
}

/* Offline: seals the log (a footer even when the batch is empty). */
int
wal_seal(struct wal *w, uint64_t *last, char **cause)
{
	enum wal_rc	rc;

	if (!w->loop.sealed) {
		rc = wal_mark_seal(w);
		if (rc == WAL_EFAILED) {
			cause_set(cause, "%s: the log has failed", w->dir);
			return (-1);
		}
		if (wal_sync(w, NULL, cause) != 0)
			return (-1);
	}
	if (!w->loop.sealed) {
		cause_set(cause, "%s: seal did not complete", w->dir);
		return (-1);
	}
	if (last != NULL)
		*last = w->loop.next_lsn - 1;
	return (0);
}

/* Offline: ends the active segment; the next record starts a new one. */
int
wal_rotate(struct wal *w, char **cause)
{
	enum wal_rc	rc;
	int		tries;

	for (tries = 0; tries < 4; tries++) {
		switch (rc = wal_mark_rotate(w)) {
		case WAL_OK:
			return (wal_sync(w, NULL, cause));
		case WAL_EWAIT:
		case WAL_ESPARE:
			if (wal_prepare_spare(w, cause) != 0)
				return (-1);
			break;
		case WAL_EFULL:
			if (wal_sync(w, NULL, cause) != 0)
				return (-1);
			break;
		case WAL_ENOSPC:
			cause_set(cause, "%s: rotate: no space for a new "
			    "segment", w->dir);
			return (-1);
		case WAL_ESEALED:
			cause_set(cause, "%s: rotate: the log is sealed",
			    w->dir);
			return (-1);
		default:
			cause_set(cause, "%s: rotate: the log has failed",
			    w->dir);
			return (-1);
		}
	}
	cause_set(cause, "%s: rotate: no progress", w->dir);
	return (-1);
}
