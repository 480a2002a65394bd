/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal-stamp.c: stamping, the per-record work done after the loop copied a
 * record in and before it is written: encrypt the payload (with a key
 * ring) and set the record's CRC. The stamper thread stamps the filling
 * batch ahead of the flusher (wal_stamp_ahead); the flusher stamps what
 * is left (wal_stamp_batch). ("Seal" is the log's and a segment
 * footer's word; a record is stamped.)
 *
 * ENCRYPTION (keyring.c has the details and the nonce argument): with a
 * key ring, every segment this writer creates is encrypted under the
 * ring's active key: its header carries the key id, a fresh random salt
 * and a key check; each record's payload is stored as AES-256-GCM
 * ciphertext || tag, the length field counting both, the CRC over what is
 * stored. The loop copies plaintext into the batch (wal_append); the
 * stamper thread (wal_stamp_ahead) and then the flusher (wal_stamp_batch)
 * encrypt it in place before the write, with the batch's copy of the
 * segment's key. A segment's id, salt and key are
 * chosen when the loop starts filling it (wal_seg_params), not when the
 * flusher activates it. Recovery checks
 * every encrypted segment's key and authenticates the records of the last
 * one; CRCs alone tell a torn tail (an authentication failure is never a
 * torn tail: open refuses).
 */
#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cause.h"
#include "crc32c.h"
#include "keyring.h"
#include "segment.h"
#include "sysio.h"
#include "wal-int.h"
#include "wal.h"


/* Takes batch b from the stamper: it starts no more work on it, and with
   wait, has stopped after the record of it it was stamping, if any. */
void
wal_stamp_release(struct wal *w, struct wal_batch *b, int wait)
{
	pthread_mutex_lock(&w->stamp.lock);
	if (w->stamp.fill == b)
		w->stamp.fill = NULL;
	if (w->stamp.out == b)
		w->stamp.out = NULL;
	if (wait && w->stamp.busy == b) {
		__atomic_store_n(&b->stop, 1, __ATOMIC_RELAXED);
		while (w->stamp.busy == b)
			pthread_cond_wait(&w->stamp.cond, &w->stamp.lock);
		__atomic_store_n(&b->stop, 0, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&w->stamp.lock);
}

/* Gives batch b (loop thread) its copy of the filling segment's key, if
   it has records and an older copy: 0, or -1 with the log latched failed.
   A batch's segment, so its key, is fixed once it holds a record. */
int
wal_stamp_key(struct wal *w, struct wal_batch *b)
{
	if (w->loop.ring == NULL || b->nrec == 0 ||
	    b->ctx_gen == w->loop.wctx_gen)
		return (0);
	if (keyring_ctx_copy(b->ctx, w->loop.wctx) != 0) {
		wal_io_latch(w, "copying the segment key", NULL);
		return (-1);
	}
	b->ctx_gen = w->loop.wctx_gen;
	return (0);
}

/* Publishes the filling batch's records to the stamper; see wal.h. */
int
wal_stamp_wanted(struct wal *w)
{
	struct wal_batch	*b = w->loop.fill;
	size_t			 backlog;

	if (b == NULL || b->nrec == 0 ||
	    __atomic_load_n(&b->ahead_off, __ATOMIC_RELAXED))
		return (0);
	if (w->stamp.fill != b) {
		if (wal_io_failed(w) || wal_stamp_key(w, b) != 0)
			return (0);
		pthread_mutex_lock(&w->stamp.lock);
		w->stamp.fill = b;
		pthread_mutex_unlock(&w->stamp.lock);
	}
	__atomic_store_n(&b->pub, b->len, __ATOMIC_RELEASE);
	backlog = b->len - __atomic_load_n(&b->stamped, __ATOMIC_RELAXED);
	return (backlog >= (w->tag != 0 ? WAL_STAMP_AHEAD_ENC :
	    WAL_STAMP_AHEAD_PLAIN));
}

/*
 * Stamps records of batch b (before they are written), from b->stamped on,
 * up to `end`, stopping at the first record that begins `chunk` bytes or
 * more after b->stamped: encrypts each payload in place under the batch's
 * segment key, sets each record's CRC, and carries b->dcrc over them.
 * The loop only copied them in: this is the work it is spared. Whoever
 * calls this owns b: the stamper while it is stamp.busy, the flusher once
 * it is out and the stamper has left it.
 */
static int
wal_stamp_recs(struct wal *w, struct wal_batch *b, size_t end, size_t chunk,
    char **cause)
{
	size_t		 off = b->stamped, rs;
	unsigned char	*p;
	uint32_t	 slen, xlen;
	int		 rc = 0;

	while (off < end && off - b->stamped < chunk &&
	    !__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		p = b->buf + b->pre + off;
		slen = seg_get32(p + 16);
		rs = seg_rec_size(slen);
		/* w->tag, fixed at open, not w->loop.ring: a reload may swap
		   the ring on the loop while this runs on another thread. */
		xlen = rec_ext_len(seg_get16(p + 6));
		if (w->tag != 0 && keyring_encrypt(b->ctx, p, p + REC_HDR_SIZE +
		    xlen, slen - xlen - w->tag, p + REC_HDR_SIZE + xlen) != 0) {
			cause_set(cause, "%s: encrypting the record of LSN "
			    "%llu failed", w->dir,
			    (unsigned long long)seg_get64(p + 24));
			errno = EIO;
			rc = -1;
			break;
		}
		seg_put32(p + 20, crc32c(crc32c(b->seed, p, REC_HDR_SIZE),
		    p + REC_HDR_SIZE, slen));
		b->dcrc = crc32c(b->dcrc, p, rs);
		off += rs;
	}
	/* Release: a split batch's flusher writes what this says is
	   stamped without taking stamp.lock (wal_flush_io). */
	__atomic_store_n(&b->stamped, off, __ATOMIC_RELEASE);
	return (rc);
}

/* Seals the filling batch's published records; see wal.h. */
void
wal_stamp_ahead(struct wal *w)
{
	struct wal_batch	*b;
	size_t			 pub, from;
	char			*cause;
	int			 rc;

	pthread_mutex_lock(&w->stamp.lock);
	for (;;) {
		/* Ours: the batch out first, its flusher will wait for it. */
		if ((b = w->stamp.out) == NULL || b->ahead_off ||
		    b->stamped >= b->pub)
			b = w->stamp.fill;
		if (b == NULL || b->ahead_off)
			break;
		pub = __atomic_load_n(&b->pub, __ATOMIC_ACQUIRE);
		if (b->stamped >= pub)
			break;
		w->stamp.busy = b;
		pthread_mutex_unlock(&w->stamp.lock);
		cause = NULL;
		from = b->stamped;
		rc = wal_stamp_recs(w, b, pub, WAL_STAMP_CHUNK, &cause);
		__atomic_fetch_add(&w->stamp.ahead, b->stamped - from,
		    __ATOMIC_RELAXED);
		pthread_mutex_lock(&w->stamp.lock);
		if (rc != 0) {
			b->ahead_cause = cause;	/* the flusher reports it */
			__atomic_store_n(&b->ahead_off, 1, __ATOMIC_RELAXED);
		}
		w->stamp.busy = NULL;
		pthread_cond_broadcast(&w->stamp.cond);
	}
	pthread_mutex_unlock(&w->stamp.lock);
}

/*
 * Stamps what is left of a batch (flusher thread; the stamper has left it:
 * wal_flush_io), and carries the segment's data CRC over all its records.
 * A failure of the stamper on it is final.
 */
int
wal_stamp_batch(struct wal *w, struct wal_batch *b, char **cause)
{
	if (__atomic_load_n(&b->ahead_off, __ATOMIC_RELAXED)) {
		*cause = b->ahead_cause;
		b->ahead_cause = NULL;
		errno = EIO;
		return (-1);
	}
	if (wal_stamp_recs(w, b, b->len, SIZE_MAX, cause) != 0)
		return (-1);
	w->act.crc = crc32c_combine(w->act.crc, b->dcrc, b->len);
	return (0);
}

/*
 * Writes the stamped part of a split batch (wal_flush_begin) from the start
 * of its buffer while the sealer seals the rest, which lies beyond it:
 * the bytes written and those being stamped never overlap. Returns how many
 * bytes of the write (from wstart) are done, 0 if the part is too small
 * to be worth a write of its own, or -1.
 */
ssize_t
wal_stamp_write_done(struct wal *w, struct wal_batch *b, uint64_t wstart,
    char **cause)
{
	size_t	n;

	/* Acquire: pairs with the stamper's store in wal_stamp_recs. */
	n = __atomic_load_n(&b->stamped, __ATOMIC_ACQUIRE);
	if (w->direct)
		n = (b->pre + n) & ~(size_t)(IO_ALIGN - 1);
	if (n < WAL_SPLIT_PREFIX ||
	    __atomic_load_n(&b->ahead_off, __ATOMIC_RELAXED))
		return (0);
	if (wal_io_pwrite(w->act.fd, b->buf, n, wstart) != 0) {
		wal_io_cause(w, cause, "pwrite", w->act.name, wstart);
		return (-1);
	}
	return ((ssize_t)n);
}
