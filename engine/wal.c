/*
 * wal.c: the segmented write-ahead log: recovery at open, group-commit
 * batches, spare segments made ahead, rollover, seal and truncation. The
 * reader is in wal-reader.c, the checker in wal-verify.c, and the byte
 * layout helpers in segment.c. docs/FORMAT.md is the long form of this:
 *
 * DIRECTORY. Segment files "%020llu.wal" named by their first LSN, a
 * preallocated "spare.tmp" (the next segment, not yet part of the log),
 * "recycle-%020llu.tmp" (truncated segments' files kept for spares: see
 * RECYCLING), and "LOCK" (flock'ed by the writer, holds its pid).
 * Anything else is ignored.
 * All integers are little-endian; CRC is CRC-32C (Castagnoli, reflected,
 * init 0xFFFFFFFF, final xor 0xFFFFFFFF).
 *
 * SEGMENT HEADER, bytes 0..4095:
 *	0 magic "WALLDSEG"	8 u16 version (2 written; 1 read: record
 *	   CRCs without the id)	10 u16 header length (4096)
 *	12 u32 flags (bit 0 encrypted; bit 16 reused: an earlier segment's
 *	   bytes follow the last record; bits 0-15 required: unknown =>
 *	   refuse; bits 16-31 optional, ignored)	16 u64 first LSN
 *	24 16-byte random segment id	40 u64 creation time, unix ns
 *	48 u32 key id (0: none)		52 u32 reserved (0)
 *	56 32-byte salt (zero unless encrypted)	88 16-byte key check (zero
 *	unless encrypted)	104..4091 reserved (0)	4092 u32 CRC of 0..4091
 *
 * RECORD, from offset 4096, each at a multiple of 8:
 *	0 u32 magic 0x43524c57 ("WLRC")	4 u8 version (1)
 *	5 u8 header length (40)	6 u16 flags (bit 0 FOOTER; bits 0-3 required:
 *	   unknown => invalid; bits 4-15 optional, ignored)
 *	8 u16 type	10 u16 vshard	12 u32 tenant	16 u32 payload length
 *	   (<= 16 MiB, checked before anything is read)
 *	20 u32 CRC of the segment id (version 2), the header with this
 *	   field zeroed, then the payload
 *	24 u64 LSN	32 u64 batch LSN: first LSN of the flush that wrote it
 *	40 payload, then zeros up to a multiple of 8 (not in the CRC)
 *
 * FOOTER: a record with flag FOOTER, type/vshard/tenant 0, length 40, LSN =
 * last LSN, batch LSN = last LSN + 1; payload: 0 u64 first LSN, 8 u64 last
 * LSN (first - 1 when empty), 16 u64 record count, 24 u64 offset of the
 * footer, 32 u32 CRC of all bytes [4096, footer offset), 36 u32 flags (bit
 * 0 LOG_SEALED: no segment follows, ever). A sealed segment ends exactly at
 * its footer's end; an active one is the full preallocated size, and
 * reads as zeros after its last record (written zeros, or fallocated
 * blocks never written: see wal_prepare_spare), or, when reused, as
 * whatever the file held before, which is never valid in it (RECYCLING).
 *
 * WRITES. A batch is written with one pwrite and one fdatasync (two
 * pwrites, one after the other, when the sealer finishes it meanwhile:
 * wal_flush_io). With O_DIRECT it covers [tail rounded down to 4096, end
 * rounded up to 4096): the buffer starts with a copy of the partial last
 * block, so the bytes of records already acknowledged are rewritten
 * identical (buffered I/O writes back the same page cache content).
 * Failure model: a 512-byte sector is written atomically, so after power
 * loss each sector holds its old or its new content, and for the
 * acknowledged prefix both are the same: a torn write can only damage
 * records of the flush that was not acknowledged.
 *
 * RECOVERY of the last, unsealed segment: scan records from 4096 while each
 * is valid with LSN n = previous + 1. At the first invalid one, search the
 * rest of the file for valid records. A flush starts only after the
 * previous one's fdatasync succeeded, so a valid record with batch LSN > n
 * (or a footer) after the damage proves the damaged bytes were acknowledged:
 * corruption, open fails and nothing is changed. Otherwise the damage is the
 * torn tail of the last flush: the segment is sealed at the cut (footer,
 * ftruncate) and logged (in a reused file, the end of the records is
 * logged as such: what follows is the earlier segment). Every other
 * inconsistency (headers, footers, gaps) refuses to open; there is no
 * silent salvage.
 *
 * ENCRYPTION (keyring.c has the details and the nonce argument): with a
 * key ring, every segment this writer creates is encrypted under the
 * ring's active key: its header carries the key id, a fresh random salt
 * and a key check; each record's payload is stored as AES-256-GCM
 * ciphertext || tag, the length field counting both, the CRC over what is
 * stored. The loop copies plaintext into the batch (wal_append); the
 * sealer thread (wal_seal_ahead) and then the flusher (wal_seal_batch)
 * encrypt it in place before the write, with the batch's copy of the
 * segment's key. A segment's id, salt and key are
 * chosen when the loop starts filling it (wal_seg_params), not when the
 * flusher activates it. Recovery checks
 * every encrypted segment's key and authenticates the records of the last
 * one; CRCs alone tell a torn tail (an authentication failure is never a
 * torn tail: open refuses).
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cause.h"
#include "crc32c.h"
#include "keyring.h"
#include "segment.h"
#include "sysio.h"
#include "wal.h"

#define WAL_DEFAULT_BATCH	(8ull << 20)
#define WAL_ZERO_CHUNK		(1u << 20)
/* A segment written in flushes of this many bytes on average, or more:
   the next spares are fallocated only, not written with zeros (see
   wal_prepare_spare). */
#define WAL_BIG_FLUSH		(256u << 10)
#define WAL_ROUND_UP(x, a)	(((x) + (a) - 1) & ~((uint64_t)(a) - 1))
/* The sealer seals this much before it looks for newly published records
   (wal_seal_ahead); whoever takes a batch from it stops it sooner, after
   the record in progress (wal_seal_release). */
#define WAL_SEAL_CHUNK		(256u << 10)
/* Record bytes not sealed yet that are worth waking the sealer for: it
   encrypts about 2.4 GB/s of 4 KiB records and 0.6 GB/s of 128-byte ones
   on one core of the development machine, but sealing plain records is
   two CRCs (20 GB/s), which is worth a thread switch only for a larger
   backlog (on 128-byte records it never paid). */
#define WAL_SEAL_AHEAD_ENC	(16u << 10)
#define WAL_SEAL_AHEAD_PLAIN	(256u << 10)
/* A batch handed to the flusher with this many record bytes not sealed
   yet is written in two parts: the flusher writes the sealed part while
   the sealer finishes the rest (wal_flush_io). Below it, one more pwrite
   costs more than sealing the rest on the flusher; plain records are
   sealed at CRC speed, so for them it never pays. */
#define WAL_SPLIT_TAIL		(64u << 10)
#define WAL_SPLIT_PREFIX	(256u << 10)	/* and at least this sealed */

enum wal_spare_state {
	SPARE_NONE,
	SPARE_PREPARING,
	SPARE_READY,
	SPARE_ACTIVATING,
	SPARE_FAILED,
};

struct wal_seg {
	uint64_t	first;
	uint64_t	last;		/* first - 1 while empty */
	uint64_t	size;
	int		sealed;
	uint32_t	key_id;		/* 0: not encrypted */
};

/* What the header of a new segment will say, beyond its first LSN. */
struct wal_segparm {
	unsigned char	id[16];
	unsigned char	salt[KEYRING_SALT_LEN];
	unsigned char	check[KEYRING_CHECK_LEN];
	uint32_t	key_id;		/* 0: not encrypted */
	uint32_t	seed;		/* segment_seed of id */
};

struct wal_batch {
	unsigned char	*buf;		/* IO_ALIGN aligned */
	size_t		 cap;
	size_t		 pre;		/* partial tail block copied in front */
	size_t		 len;		/* record bytes after pre */
	uint64_t	 off;		/* file offset of the first record byte */
	uint64_t	 seg_first;
	uint64_t	 first_lsn;
	uint64_t	 last_lsn;
	uint64_t	 nrec;
	int		 begins_seg;	/* activate the spare before writing */
	struct wal_segparm sp;		/* its header, when begins_seg */
	int		 ends_seg;	/* write the footer after the records */
	int		 seals;		/* the footer seals the whole log */
	int		 ok;		/* written and synced */
	/* The records are sealed (encrypted, then their CRCs set) with the
	   batch's own copy of the filling segment's key, taken before the
	   sealer or the flusher first touches them (wal_batch_key): the
	   loop may key the next segment meanwhile. ctx_gen is the wal's
	   wctx_gen it was copied at. */
	struct keyring_ctx *ctx;
	uint64_t	 ctx_gen;
	uint32_t	 seed;		/* its segment's record CRC seed */
	/* Sealing ahead (wal_seal_ahead): the loop publishes how many record
	   bytes are complete (pub, a release store); the sealer, then the
	   flusher, seal them in order. sealed: record bytes sealed so far;
	   dcrc: the CRC-32C of those bytes, carried into the segment's data
	   CRC when the batch is written. ahead_off (atomic): sealing ahead
	   failed on this batch, for ahead_cause; its flush fails with that
	   cause (a record half sealed must never be sealed again: GCM
	   twice over gives back the plaintext). */
	size_t		 pub;		/* atomic */
	size_t		 sealed;	/* atomic where the loop reads it */
	uint32_t	 dcrc;
	int		 ahead_off;
	int		 split;		/* out, and the sealer finishes it
					   while its sealed part is written */
	int		 stop;		/* atomic: the sealer is to stop
					   after the record in progress */
	char		*ahead_cause;
};

struct wal {
	char		*dir;
	int		 dirfd;
	int		 lockfd;
	uint64_t	 seg_size;
	uint32_t	 max_record;
	uint64_t	 batch_cap;
	size_t		 buf_max;
	int		 direct;
	void		(*log)(int, const char *);

	/* Loop thread. */
	struct wal_batch *fill;
	struct wal_batch *other;	/* NULL while a batch is out */
	struct wal_batch *out;
	struct wal_batch  batches[2];
	uint64_t	 next_lsn;
	uint64_t	 durable_lsn;
	uint64_t	 fill_seg_first;
	uint64_t	 fill_off;
	int		 seal_pending;	/* atomic */
	int		 sealed;	/* atomic */
	struct keyring	*ring;		/* NULL: not encrypting */
	struct keyring_ctx *wctx;	/* keyed for the filling segment */
	uint64_t	 wctx_gen;	/* bumped each time wctx is keyed */
	uint32_t	 fill_key;	/* its key id */
	uint32_t	 fill_seed;	/* its record CRC seed */
	uint32_t	 tag;		/* bytes a record's payload grows by */
	int		 rekey;		/* the active key is not fill_key */

	/* Flusher thread (and open). */
	int		 afd;		/* active segment, -1 when none */
	char		 aname[SEG_NAME_SIZE];
	uint64_t	 afirst;
	uint64_t	 alast;
	uint64_t	 acount;
	uint64_t	 aoff;
	uint32_t	 acrc;
	uint32_t	 aseed;		/* its record CRC seed */
	uint64_t	 act_flushes;	/* flushes before its activation */
	int		 act_noted;	/* act_flushes is set */
	unsigned char	*hbuf;		/* segment header block */
	unsigned char	*fbuf;		/* footer write, two blocks */
	unsigned char	*zbuf;		/* zeros for spare preparation */

	int		 failed;	/* atomic latch */
	int		 big_flushes;	/* atomic: the last segment's were */
	enum wal_spare_mode spare_mode;

	/* Shared: under lock. */
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	enum wal_spare_state spare_state;
	int		 spare_fd;
	int		 spare_errno;
	struct wal_seg	*segs;
	size_t		 nsegs;
	size_t		 segcap;
	uint64_t	 bytes_written;
	uint64_t	 flushes;
	/* Truncated segments kept for reuse (recycle-FIRST.tmp), oldest
	   first: their first LSNs. */
	uint64_t	*pool;
	size_t		 npool;
	size_t		 pool_max;
	int		 spare_reused;	/* the ready spare is a kept file */
	uint64_t	 recycled;	/* segments begun in a kept file */

	/* Sealing ahead, under slock: sfill is the filling batch once the
	   loop has let the sealer at it (its key copied); sout is a batch
	   out that the sealer finishes first (a split one); sbusy is the batch
	   the sealer is sealing outside the lock, which no one else may touch
	   or move until it is NULL again (scond). */
	pthread_mutex_t	 slock;
	pthread_cond_t	 scond;
	struct wal_batch *sfill;
	struct wal_batch *sout;
	struct wal_batch *sbusy;
	uint64_t	 sealed_ahead;	/* atomic: bytes the sealer sealed */
};

/* Sends one formatted line to the log callback, if there is one. */
static void __attribute__((format(printf, 3, 4)))
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

/* Sets *cause to "CALL: DIR/NAME: offset N: strerror(errno)". */
static void
wal_syscall_cause(struct wal *w, char **cause, const char *call,
    const char *name, uint64_t off)
{
	int	err = errno;

	cause_set(cause, "%s: %s/%s: offset %llu: %s", call, w->dir, name,
	    (unsigned long long)off, strerror(err));
	errno = err;
}

/* 1 once a write or sync has failed. */
static int
wal_is_failed(struct wal *w)
{
	return (__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE));
}

/* Writes all of buf at off, looping on short writes. 0 or -1 (errno). */
static int
wal_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		n = sysio.pwrite(fd, p, len, (off_t)off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			errno = EIO;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return (0);
}

/* Takes batch b from the sealer: it starts no more work on it, and with
   wait, has stopped after the record of it it was sealing, if any. */
static void
wal_seal_release(struct wal *w, struct wal_batch *b, int wait)
{
	pthread_mutex_lock(&w->slock);
	if (w->sfill == b)
		w->sfill = NULL;
	if (w->sout == b)
		w->sout = NULL;
	if (wait && w->sbusy == b) {
		__atomic_store_n(&b->stop, 1, __ATOMIC_RELAXED);
		while (w->sbusy == b)
			pthread_cond_wait(&w->scond, &w->slock);
		__atomic_store_n(&b->stop, 0, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&w->slock);
}

/* Allocates an IO_ALIGN-aligned buffer, or NULL. */
static void *
wal_alloc_aligned(size_t len)
{
	void	*p;

	if (posix_memalign(&p, IO_ALIGN, len) != 0)
		return (NULL);
	return (p);
}

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
	if ((nb = wal_alloc_aligned(cap)) == NULL)
		return (-1);
	/* The sealer may be sealing these bytes: take the batch from it
	   until the loop publishes again. */
	if (w->sfill == b)
		wal_seal_release(w, b, 1);
	memcpy(nb, b->buf, b->pre + b->len);
	free(b->buf);
	b->buf = nb;
	b->cap = cap;
	return (0);
}

/* Empties a batch for reuse. */
static void
wal_batch_reset(struct wal_batch *b)
{
	b->pre = b->len = 0;
	b->off = b->seg_first = 0;
	b->first_lsn = b->last_lsn = b->nrec = 0;
	b->begins_seg = b->ends_seg = b->seals = b->ok = 0;
	__atomic_store_n(&b->pub, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&b->sealed, 0, __ATOMIC_RELAXED);
	b->dcrc = 0;
	b->split = 0;
	__atomic_store_n(&b->stop, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&b->ahead_off, 0, __ATOMIC_RELAXED);
	free(b->ahead_cause);
	b->ahead_cause = NULL;
}

/* Adds a segment at the end of the list; called with the lock held. */
static int
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
		wal_syscall_cause(w, cause, "open", LOCK_NAME, 0);
		return (-1);
	}
	if (no_lock)
		return (0);
	if (flock(w->lockfd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK) {
			wal_syscall_cause(w, cause, "flock", LOCK_NAME, 0);
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
	    wal_pwrite_all(w->lockfd, buf, (size_t)len, 0) != 0) {
		wal_syscall_cause(w, cause, "write", LOCK_NAME, 0);
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
		wal_log(w, 6, "wal: %s: direct_io: off (configured)", w->dir);
		return (0);
	}
	fd = sysio.openat(w->dirfd, LOCK_NAME, O_RDONLY | O_DIRECT |
	    O_CLOEXEC, 0);
	if (fd != -1) {
		sysio.close(fd);
		w->direct = 1;
		wal_log(w, 6, "wal: %s: direct_io: on (%s)", w->dir,
		    mode == WAL_DIRECT_ON ? "configured" : "auto, supported");
		return (0);
	}
	if (mode == WAL_DIRECT_ON) {
		cause_set(cause, "direct_io: on: %s: O_DIRECT is not "
		    "supported here: %s", w->dir, strerror(errno));
		return (-1);
	}
	w->direct = 0;
	wal_log(w, 6, "wal: %s: direct_io: off (auto: O_DIRECT refused: %s)",
	    w->dir, strerror(errno));
	return (0);
}

/* 1 when no spare segment will ever be needed (the log is sealed). */
static int
wal_no_spare_needed(struct wal *w)
{
	return (__atomic_load_n(&w->sealed, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&w->seal_pending, __ATOMIC_ACQUIRE));
}

/* Segment `name` took `bytes` of records in n flushes: whether spares
   prepared from now on are written with zeros follows from that. */
static void
wal_note_segment(struct wal *w, const char *name, uint64_t bytes,
    uint64_t n)
{
	int	big;

	big = bytes / n >= WAL_BIG_FLUSH;
	if (big != __atomic_load_n(&w->big_flushes, __ATOMIC_RELAXED)) {
		__atomic_store_n(&w->big_flushes, big, __ATOMIC_RELAXED);
		if (w->spare_mode == WAL_SPARE_AUTO)
			wal_log(w, 6, "wal: %s: segment %s took %llu bytes a "
			    "flush: spare segments are now %s", w->dir, name,
			    (unsigned long long)(bytes / n),
			    big ? "fallocated only" : "written with zeros");
	}
}

/* At an activation (flusher, or open): notes whether the segment it ends
   was written in large flushes, for the spares prepared from now on. At
   open, the recovered last segment did (wal_recover_last). */
static void
wal_note_flushes(struct wal *w)
{
	uint64_t	flushes, n;

	pthread_mutex_lock(&w->lock);
	flushes = w->flushes;
	pthread_mutex_unlock(&w->lock);
	n = flushes - w->act_flushes;
	if (w->act_noted && n > 0 && w->aoff > SEG_HDR_SIZE)
		wal_note_segment(w, w->aname, w->aoff - SEG_HDR_SIZE, n);
	w->act_flushes = flushes;
	w->act_noted = 1;
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
 *   synced (wal_activate); a crash before that leaves a spare.tmp, which
 *   start-up removes, or a recycle-*.tmp, which it keeps or removes.
 */

/* Takes the oldest kept file for a spare: 1 and *first, or 0. */
static int
wal_pool_take(struct wal *w, uint64_t *first)
{
	int	got = 0;

	pthread_mutex_lock(&w->lock);
	if (w->npool > 0) {
		*first = w->pool[0];
		memmove(w->pool, w->pool + 1, (w->npool - 1) * sizeof *w->pool);
		w->npool--;
		got = 1;
	}
	pthread_mutex_unlock(&w->lock);
	return (got);
}

/* Start-up: keeps the files a previous run kept, the oldest up to
   recycle_segments (none once the log is sealed), and removes the
   others. A name of theirs that is not a regular file is not walld's:
   left alone. */
static int
wal_pool_adopt(struct wal *w, char **cause)
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
			wal_log(w, 4, "wal: %s/%s: not a regular file: ignored",
			    w->dir, name);
			continue;
		}
		if (w->npool < w->pool_max && !wal_no_spare_needed(w)) {
			w->pool[w->npool++] = ents[i].first;
			continue;
		}
		if (sysio.unlinkat(w->dirfd, name, 0) != 0) {
			wal_syscall_cause(w, cause, "unlink", name, 0);
			goto out;
		}
		removed = 1;
	}
	if (removed && sysio.fsync(w->dirfd) != 0) {
		wal_syscall_cause(w, cause, "fsync directory", ".", 0);
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
				if (wal_pwrite_all(fd, w->zbuf, IO_ALIGN,
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
		wal_log(w, 4, "wal: %s/%s: unlink: %s", w->dir, SPARE_NAME,
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
	int		fd = -1, err, zero, reused = 0;
	const char	*call;

	pthread_mutex_lock(&w->lock);
	while (w->spare_state == SPARE_PREPARING ||
	    w->spare_state == SPARE_ACTIVATING)
		pthread_cond_wait(&w->cond, &w->lock);
	if (w->spare_state == SPARE_READY || wal_no_spare_needed(w)) {
		pthread_mutex_unlock(&w->lock);
		return (0);
	}
	w->spare_state = SPARE_PREPARING;
	pthread_mutex_unlock(&w->lock);

	off = 0;
	if (wal_pool_take(w, &first)) {
		if ((fd = wal_spare_recycle(w, first, &written, &call)) ==
		    -1) {
			err = errno;
			wal_syscall_cause(w, cause, call, SPARE_NAME, 0);
			wal_log(w, 3, "wal: prepare spare: %s: %s/%s: %s", call,
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
	zero = w->spare_mode == WAL_SPARE_ZEROS ||
	    (w->spare_mode == WAL_SPARE_AUTO &&
	    !__atomic_load_n(&w->big_flushes, __ATOMIC_RELAXED));
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
		if (wal_pwrite_all(fd, w->zbuf, n, off) != 0)
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
	w->spare_reused = reused;
	w->spare_fd = fd;
	w->spare_state = SPARE_READY;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return (0);

fail:
	err = errno;
	wal_syscall_cause(w, cause, call, SPARE_NAME, off);
	wal_log(w, 3, "wal: prepare spare: %s: %s/%s: %s", call, w->dir,
	    SPARE_NAME, strerror(err));
	if (fd != -1) {
		sysio.close(fd);
		sysio.unlinkat(w->dirfd, SPARE_NAME, 0);
	}
failed:
	pthread_mutex_lock(&w->lock);
	w->spare_state = SPARE_FAILED;
	w->spare_errno = err;
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

	if (wal_no_spare_needed(w))
		return (1);
	pthread_mutex_lock(&w->lock);
	ready = w->spare_state == SPARE_READY;
	pthread_mutex_unlock(&w->lock);
	return (ready);
}

/*
 * Turns the spare into the active segment beginning at first, with the
 * header sp: written and synced, renamed to its name, directory synced;
 * only then can a record in it be acknowledged. Replaces an empty segment
 * of that name (left by a crash, or the active one when its key changed).
 */
static int
wal_activate(struct wal *w, uint64_t first, const struct wal_segparm *sp,
    char **cause)
{
	struct seg_header	 h;
	struct timespec		 ts;
	char			 name[SEG_NAME_SIZE];
	const char		*call;
	int			 fd;

	pthread_mutex_lock(&w->lock);
	if (w->spare_state != SPARE_READY) {
		pthread_mutex_unlock(&w->lock);
		cause_set(cause, "activate: %s: no spare segment is ready",
		    w->dir);
		errno = EAGAIN;
		return (-1);
	}
	w->spare_state = SPARE_ACTIVATING;
	fd = w->spare_fd;
	w->spare_fd = -1;
	pthread_mutex_unlock(&w->lock);

	memset(&h, 0, sizeof h);
	h.version = SEG_VERSION;
	h.hdr_len = SEG_HDR_SIZE;
	h.first_lsn = first;
	memcpy(h.id, sp->id, sizeof h.id);
	pthread_mutex_lock(&w->lock);
	if (w->spare_reused)
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
	segment_encode_header(w->hbuf, &h);
	segment_name(name, first);

	call = "pwrite";
	if (wal_pwrite_all(fd, w->hbuf, SEG_HDR_SIZE, 0) != 0)
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

	wal_note_flushes(w);
	if (w->afd != -1)
		sysio.close(w->afd);	/* the empty segment just replaced */
	w->afd = fd;
	memcpy(w->aname, name, sizeof name);
	w->afirst = first;
	w->alast = first - 1;
	w->acount = 0;
	w->aoff = SEG_HDR_SIZE;
	w->acrc = 0;
	w->aseed = sp->seed;
	pthread_mutex_lock(&w->lock);
	w->spare_state = SPARE_NONE;
	w->recycled += (uint64_t)w->spare_reused;
	w->spare_reused = 0;
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
	wal_log(w, 7, "wal: new segment %s/%s", w->dir, name);
	return (0);

fail:
	wal_syscall_cause(w, cause, call, SPARE_NAME, 0);
	sysio.close(fd);
	pthread_mutex_lock(&w->lock);
	w->spare_state = SPARE_NONE;
	w->spare_reused = 0;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return (-1);
}

/*
 * Says whether a new segment can be promised to the filling batch. A spare
 * is promised while a batch that ends a segment is filling, and while a
 * batch that begins one is out: the flush that activates it has not ended.
 */
static enum wal_rc
wal_claim_spare(struct wal *w)
{
	enum wal_spare_state	st;
	int			err;

	if (w->out != NULL && w->out->begins_seg)
		return (WAL_EFULL);
	pthread_mutex_lock(&w->lock);
	st = w->spare_state;
	err = w->spare_errno;
	pthread_mutex_unlock(&w->lock);
	if (st == SPARE_READY)
		return (WAL_OK);
	if (st == SPARE_FAILED && err == ENOSPC)
		return (WAL_ENOSPC);
	return (WAL_EWAIT);
}

/* Latches the log failed for a reason other than I/O, and logs it. */
static void
wal_fail(struct wal *w, const char *what, char *cause)
{
	__atomic_store_n(&w->failed, 1, __ATOMIC_RELEASE);
	wal_log(w, 3, "wal: %s: %s: %s; log latched failed, appends refused "
	    "until restart", w->dir, what, cause != NULL ? cause : "failed");
	free(cause);
}

/*
 * Chooses what the header of the segment beginning at first will say: a
 * random id and, with a key ring, the active key id, a fresh salt and the
 * key check; loads the segment's data key into the writer's context,
 * which each batch of the segment copies before its records are sealed
 * (wal_batch_key; the sealer and the flusher seal with the copy). This
 * happens when the loop starts filling a segment, before the flusher
 * activates it (the spare is made ahead and gets this header only then).
 */
static int
wal_seg_params(struct wal *w, struct wal_segparm *sp, uint64_t first,
    char **cause)
{
	memset(sp, 0, sizeof *sp);
	if (getrandom(sp->id, sizeof sp->id, 0) != (ssize_t)sizeof sp->id) {
		cause_set(cause, "getrandom: %s", strerror(errno));
		return (-1);
	}
	sp->seed = segment_seed(SEG_VERSION, sp->id);
	w->fill_seed = sp->seed;
	w->fill_key = 0;
	w->rekey = 0;
	if (w->ring == NULL)
		return (0);
	/* A fresh salt per segment file: see the nonce argument, keyring.c. */
	if (RAND_bytes(sp->salt, sizeof sp->salt) != 1) {
		cause_set(cause, "RAND_bytes failed: no salt for a new "
		    "segment");
		return (-1);
	}
	sp->key_id = keyring_active(w->ring);
	w->wctx_gen++;
	if (keyring_ctx_key(w->wctx, w->ring, sp->key_id, sp->salt, sp->id,
	    first, cause) != 0)
		return (-1);
	memcpy(sp->check, keyring_ctx_check(w->wctx), sizeof sp->check);
	w->fill_key = sp->key_id;
	return (0);
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
wal_rekey(struct wal *w)
{
	struct wal_batch	*b = w->fill;
	enum wal_rc		 rc;
	char			*cause = NULL;

	if (w->fill_off > SEG_HDR_SIZE) {
		if (b->begins_seg)
			return (WAL_EFULL);
		if ((rc = wal_claim_spare(w)) != WAL_OK)
			return (rc);
		b->ends_seg = 1;
		return (WAL_EFULL);
	}
	if (!b->begins_seg) {
		if ((rc = wal_claim_spare(w)) != WAL_OK)
			return (rc);
		b->begins_seg = 1;
	}
	if (wal_seg_params(w, &b->sp, w->fill_seg_first, &cause) != 0) {
		wal_fail(w, "new segment key", cause);
		return (WAL_EFAILED);
	}
	return (WAL_OK);
}

/* Assigns the next LSN and copies the record into the filling batch. Its
   payload is encrypted and its CRC set off the loop thread, by the sealer
   (wal_seal_ahead) or the flusher (wal_seal_batch). */
enum wal_rc
wal_append(struct wal *w, uint16_t type, uint32_t tenant, uint16_t vshard,
    const void *payload, uint32_t len, uint64_t *lsn)
{
	struct wal_batch	*b = w->fill;
	struct rec_header	 h;
	unsigned char		*p;
	uint64_t		 rs;
	uint32_t		 slen;
	enum wal_rc		 rc;

	if (wal_is_failed(w))
		return (WAL_EFAILED);
	if (w->sealed || w->seal_pending)
		return (WAL_ESEALED);
	if (len > w->max_record)
		return (WAL_ETOOBIG);
	if (b->ends_seg)
		return (WAL_EFULL);
	if (w->rekey && (rc = wal_rekey(w)) != WAL_OK)
		return (rc);
	slen = len + w->tag;		/* stored: ciphertext and tag */
	rs = seg_rec_size(slen);
	if (w->fill_off + rs + FOOTER_SIZE > w->seg_size) {
		/* A batch that begins a segment cannot also claim the next. */
		if (b->begins_seg)
			return (WAL_EFULL);
		if ((rc = wal_claim_spare(w)) != WAL_OK)
			return (rc);
		b->ends_seg = 1;
		return (WAL_EFULL);
	}
	if (b->nrec > 0 && b->len + rs > w->batch_cap)
		return (WAL_EFULL);
	if (wal_batch_grow(w, b, WAL_ROUND_UP(b->pre + b->len + rs,
	    IO_ALIGN)) != 0)
		return (WAL_EFULL);

	p = b->buf + b->pre + b->len;
	memset(&h, 0, sizeof h);
	h.type = type;
	h.vshard = vshard;
	h.tenant = tenant;
	h.len = slen;
	h.lsn = w->next_lsn;
	h.batch_lsn = b->nrec > 0 ? b->first_lsn : w->next_lsn;
	segment_encode_rec(p, &h);	/* its CRC field 0 until sealed */
	if (len > 0)
		memcpy(p + REC_HDR_SIZE, payload, len);
	memset(p + REC_HDR_SIZE + len, 0, rs - REC_HDR_SIZE - len);

	if (b->nrec == 0) {
		b->first_lsn = w->next_lsn;
		b->seed = w->fill_seed;	/* its segment's from now on */
	}
	b->last_lsn = w->next_lsn;
	b->nrec++;
	b->len += rs;
	w->fill_off += rs;
	*lsn = w->next_lsn++;
	return (WAL_OK);
}

/* The filling batch ends the active segment; see wal.h. */
enum wal_rc
wal_mark_rotate(struct wal *w)
{
	struct wal_batch	*b = w->fill;
	enum wal_rc		 rc;

	if (wal_is_failed(w))
		return (WAL_EFAILED);
	if (w->sealed || w->seal_pending)
		return (WAL_ESEALED);
	if (b->ends_seg)
		return (WAL_OK);
	/* No record in the segment: rotating it would leave an empty one;
	   after a key change it takes the new key instead. */
	if (w->fill_off == SEG_HDR_SIZE)
		return (w->rekey ? wal_rekey(w) : WAL_OK);
	if (b->begins_seg)
		return (WAL_EFULL);
	if ((rc = wal_claim_spare(w)) != WAL_OK)
		return (rc);
	b->ends_seg = 1;
	return (WAL_OK);
}

/* The filling batch seals the log; see wal.h. */
enum wal_rc
wal_mark_seal(struct wal *w)
{
	struct wal_batch	*b = w->fill;

	if (wal_is_failed(w))
		return (WAL_EFAILED);
	if (w->sealed || w->seal_pending)
		return (WAL_ESEALED);
	/*
	 * A pending rollover footer becomes the sealing one; a batch that
	 * begins a segment already holds the spare it needs.
	 */
	b->ends_seg = 1;
	b->seals = 1;
	__atomic_store_n(&w->seal_pending, 1, __ATOMIC_RELEASE);
	return (WAL_OK);
}

/* Whether the filling batch has anything to write; see wal.h. */
int
wal_pending(struct wal *w)
{
	return (w->fill != NULL && (w->fill->nrec > 0 || w->fill->ends_seg));
}

/* Record bytes in the filling batch; see wal.h. */
uint64_t
wal_pending_bytes(struct wal *w)
{
	return (w->fill != NULL ? w->fill->len : 0);
}

/* Gives batch b (loop thread) its copy of the filling segment's key, if
   it has records and an older copy: 0, or -1 with the log latched failed.
   A batch's segment, so its key, is fixed once it holds a record. */
static int
wal_batch_key(struct wal *w, struct wal_batch *b)
{
	if (w->ring == NULL || b->nrec == 0 || b->ctx_gen == w->wctx_gen)
		return (0);
	if (keyring_ctx_copy(b->ctx, w->wctx) != 0) {
		wal_fail(w, "copying the segment key", NULL);
		return (-1);
	}
	b->ctx_gen = w->wctx_gen;
	return (0);
}

/* Publishes the filling batch's records to the sealer; see wal.h. */
int
wal_seal_wanted(struct wal *w)
{
	struct wal_batch	*b = w->fill;
	size_t			 backlog;

	if (b == NULL || b->nrec == 0 ||
	    __atomic_load_n(&b->ahead_off, __ATOMIC_RELAXED))
		return (0);
	if (w->sfill != b) {
		if (wal_is_failed(w) || wal_batch_key(w, b) != 0)
			return (0);
		pthread_mutex_lock(&w->slock);
		w->sfill = b;
		pthread_mutex_unlock(&w->slock);
	}
	__atomic_store_n(&b->pub, b->len, __ATOMIC_RELEASE);
	backlog = b->len - __atomic_load_n(&b->sealed, __ATOMIC_RELAXED);
	return (backlog >= (w->tag != 0 ? WAL_SEAL_AHEAD_ENC :
	    WAL_SEAL_AHEAD_PLAIN));
}

/* Detaches the filling batch for writing; see wal.h. */
struct wal_batch *
wal_flush_begin(struct wal *w)
{
	struct wal_batch	*b = w->fill, *nb = w->other;
	size_t			 end;
	char			*cause = NULL;

	if (w->out != NULL || nb == NULL)
		return (NULL);
	if (b->nrec == 0 && !b->ends_seg)
		return (NULL);

	/* A failure latches the log: the flusher then refuses the batch,
	   and its waiters learn the outcome is unknown. */
	(void)wal_batch_key(w, b);
	/* The flusher takes it over (wal_flush_io waits for the record the
	   sealer is sealing, if any). With a long tail not sealed yet, the
	   sealer goes on with it while the flusher writes the part before. */
	b->split = w->tag != 0 && !wal_is_failed(w) &&
	    !__atomic_load_n(&b->ahead_off, __ATOMIC_RELAXED) &&
	    b->len - __atomic_load_n(&b->sealed, __ATOMIC_RELAXED) >=
	    WAL_SPLIT_TAIL;
	wal_seal_release(w, b, 0);
	if (b->split) {
		pthread_mutex_lock(&w->slock);
		__atomic_store_n(&b->pub, b->len, __ATOMIC_RELEASE);
		w->sout = b;
		pthread_mutex_unlock(&w->slock);
	}
	wal_batch_reset(nb);
	if (b->ends_seg) {
		if (!b->seals) {
			w->fill_seg_first = w->next_lsn;
			w->fill_off = SEG_HDR_SIZE;
			nb->begins_seg = 1;
			if (wal_seg_params(w, &nb->sp, w->next_lsn,
			    &cause) != 0)
				wal_fail(w, "new segment", cause);
		}
	} else if (w->direct) {
		/* The new batch rewrites the partial last block as is: room
		   for it now, its bytes once b is sealed (wal_flush_end). */
		nb->pre = w->fill_off % IO_ALIGN;
	}
	nb->off = w->fill_off;
	nb->seg_first = w->fill_seg_first;
	if (w->direct) {
		end = b->pre + b->len;
		memset(b->buf + end, 0, WAL_ROUND_UP(end, IO_ALIGN) - end);
	}
	w->fill = nb;
	w->other = NULL;
	w->out = b;
	return (b);
}

/* Highest LSN in the batch (0 if it has no record). */
uint64_t
wal_batch_last_lsn(const struct wal_batch *b)
{
	return (b->nrec > 0 ? b->last_lsn : 0);
}

/* Sealed in two parts; see wal.h. */
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
wal_seal_active(struct wal *w, struct wal_batch *b, char **cause)
{
	struct seg_footer	 f;
	unsigned char		 foot[FOOTER_SIZE];
	uint64_t		 e = w->aoff, t, bstart;
	size_t			 k, n;
	const char		*call;

	f.first_lsn = w->afirst;
	f.last_lsn = w->alast;
	f.count = w->acount;
	f.offset = e;
	f.data_crc = w->acrc;
	f.flags = b->seals ? FOOTER_F_LOG_SEALED : 0;
	segment_encode_footer(foot, &f, w->aseed);

	call = "pwrite";
	if (w->direct) {
		t = e & ~(uint64_t)(IO_ALIGN - 1);
		k = (size_t)(e - t);
		bstart = b->off - b->pre;
		memcpy(w->fbuf, b->buf + (t - bstart), k);
		memcpy(w->fbuf + k, foot, FOOTER_SIZE);
		n = (size_t)WAL_ROUND_UP(k + FOOTER_SIZE, IO_ALIGN);
		memset(w->fbuf + k + FOOTER_SIZE, 0, n - k - FOOTER_SIZE);
		if (wal_pwrite_all(w->afd, w->fbuf, n, t) != 0)
			goto fail;
	} else if (wal_pwrite_all(w->afd, foot, FOOTER_SIZE, e) != 0)
		goto fail;
	call = "fdatasync";
	if (sysio.fdatasync(w->afd) != 0)
		goto fail;
	call = "ftruncate";
	if (sysio.ftruncate(w->afd, (off_t)(e + FOOTER_SIZE)) != 0)
		goto fail;
	call = "fsync";
	if (sysio.fsync(w->afd) != 0)
		goto fail;
	call = "fsync directory";
	if (sysio.fsync(w->dirfd) != 0)
		goto fail;
	sysio.close(w->afd);
	w->afd = -1;
	pthread_mutex_lock(&w->lock);
	w->segs[w->nsegs - 1].size = e + FOOTER_SIZE;
	w->segs[w->nsegs - 1].sealed = 1;
	pthread_mutex_unlock(&w->lock);
	wal_log(w, 7, "wal: sealed segment %s/%s at offset %llu%s", w->dir,
	    w->aname, (unsigned long long)e, b->seals ? " (log sealed)" : "");
	return (0);

fail:
	wal_syscall_cause(w, cause, call, w->aname, e);
	return (-1);
}

/*
 * Seals records of batch b (before they are written), from b->sealed on,
 * up to `end`, stopping at the first record that begins `chunk` bytes or
 * more after b->sealed: encrypts each payload in place under the batch's
 * segment key, sets each record's CRC, and carries b->dcrc over them.
 * The loop only copied them in: this is the work it is spared. Whoever
 * calls this owns b: the sealer while it is sbusy, the flusher once it is
 * out and the sealer has left it.
 */
static int
wal_seal_recs(struct wal *w, struct wal_batch *b, size_t end, size_t chunk,
    char **cause)
{
	size_t		 off = b->sealed, rs;
	unsigned char	*p;
	uint32_t	 slen;
	int		 rc = 0;

	while (off < end && off - b->sealed < chunk &&
	    !__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		p = b->buf + b->pre + off;
		slen = seg_get32(p + 16);
		rs = seg_rec_size(slen);
		/* w->tag, fixed at open, not w->ring: a reload may swap
		   the ring on the loop while this runs on another thread. */
		if (w->tag != 0 && keyring_seal(b->ctx, p, p + REC_HDR_SIZE,
		    slen - w->tag, p + REC_HDR_SIZE) != 0) {
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
	   sealed without taking slock (wal_flush_io). */
	__atomic_store_n(&b->sealed, off, __ATOMIC_RELEASE);
	return (rc);
}

/* Seals the filling batch's published records; see wal.h. */
void
wal_seal_ahead(struct wal *w)
{
	struct wal_batch	*b;
	size_t			 pub, from;
	char			*cause;
	int			 rc;

	pthread_mutex_lock(&w->slock);
	for (;;) {
		/* Ours: the batch out first, its flusher will wait for it. */
		if ((b = w->sout) == NULL || b->ahead_off ||
		    b->sealed >= b->pub)
			b = w->sfill;
		if (b == NULL || b->ahead_off)
			break;
		pub = __atomic_load_n(&b->pub, __ATOMIC_ACQUIRE);
		if (b->sealed >= pub)
			break;
		w->sbusy = b;
		pthread_mutex_unlock(&w->slock);
		cause = NULL;
		from = b->sealed;
		rc = wal_seal_recs(w, b, pub, WAL_SEAL_CHUNK, &cause);
		__atomic_fetch_add(&w->sealed_ahead, b->sealed - from,
		    __ATOMIC_RELAXED);
		pthread_mutex_lock(&w->slock);
		if (rc != 0) {
			b->ahead_cause = cause;	/* the flusher reports it */
			__atomic_store_n(&b->ahead_off, 1, __ATOMIC_RELAXED);
		}
		w->sbusy = NULL;
		pthread_cond_broadcast(&w->scond);
	}
	pthread_mutex_unlock(&w->slock);
}

/*
 * Seals what is left of a batch (flusher thread; the sealer has left it:
 * wal_flush_io), and carries the segment's data CRC over all its records.
 * A failure of the sealer on it is final.
 */
static int
wal_seal_batch(struct wal *w, struct wal_batch *b, char **cause)
{
	if (__atomic_load_n(&b->ahead_off, __ATOMIC_RELAXED)) {
		*cause = b->ahead_cause;
		b->ahead_cause = NULL;
		errno = EIO;
		return (-1);
	}
	if (wal_seal_recs(w, b, b->len, SIZE_MAX, cause) != 0)
		return (-1);
	w->acrc = crc32c_combine(w->acrc, b->dcrc, b->len);
	return (0);
}

/*
 * Writes the sealed part of a split batch (wal_flush_begin) from the start
 * of its buffer while the sealer seals the rest, which lies beyond it:
 * the bytes written and those being sealed never overlap. Returns how many
 * bytes of the write (from wstart) are done, 0 if the part is too small
 * to be worth a write of its own, or -1.
 */
static ssize_t
wal_write_sealed(struct wal *w, struct wal_batch *b, uint64_t wstart,
    char **cause)
{
	size_t	n;

	/* Acquire: pairs with the sealer's store in wal_seal_recs. */
	n = __atomic_load_n(&b->sealed, __ATOMIC_ACQUIRE);
	if (w->direct)
		n = (b->pre + n) & ~(size_t)(IO_ALIGN - 1);
	if (n < WAL_SPLIT_PREFIX ||
	    __atomic_load_n(&b->ahead_off, __ATOMIC_RELAXED))
		return (0);
	if (wal_pwrite_all(w->afd, b->buf, n, wstart) != 0) {
		wal_syscall_cause(w, cause, "pwrite", w->aname, wstart);
		return (-1);
	}
	return ((ssize_t)n);
}

/*
 * Writes and syncs a batch (flusher thread): activates the spare if the
 * batch begins a segment, seals its records, one pwrite (two for a split
 * batch: the part the sealer finished, then the rest) and one fdatasync,
 * then the footer if it ends one. Any failure latches the log: an fsync is
 * never retried.
 */
int
wal_flush_io(struct wal *w, struct wal_batch *b, char **cause)
{
	uint64_t	wstart;
	size_t		wlen, done = 0;
	ssize_t		n;

	/* The sealer may still be sealing a record of b: b is the flusher's
	   once it has left, whatever happens next. A split batch it goes
	   on sealing while the first part is written. */
	if (!b->split)
		wal_seal_release(w, b, 1);
	b->ok = 0;
	if (wal_is_failed(w)) {
		wal_seal_release(w, b, 1);
		cause_set(cause, "%s: the log failed earlier: nothing is "
		    "written until a restart recovers it", w->dir);
		errno = EIO;
		return (-1);
	}
	if (b->begins_seg && wal_activate(w, b->seg_first, &b->sp,
	    cause) != 0)
		goto fail;
	if (w->afd == -1 || (b->len > 0 && b->off != w->aoff)) {
		cause_set(cause, "%s: internal error: batch at offset %llu "
		    "does not follow the active segment (%s, offset %llu)",
		    w->dir, (unsigned long long)b->off, w->aname,
		    (unsigned long long)w->aoff);
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
			if ((n = wal_write_sealed(w, b, wstart, cause)) < 0)
				goto fail;
			done = (size_t)n;
			wal_seal_release(w, b, 1);
		}
		if (wal_seal_batch(w, b, cause) != 0)
			goto fail;
		if (wal_pwrite_all(w->afd, b->buf + done, wlen - done,
		    wstart + done) != 0) {
			wal_syscall_cause(w, cause, "pwrite", w->aname,
			    wstart + done);
			goto fail;
		}
#ifndef WALD_PLANT_EARLY_ACK	/* a planted bug for the tests' own test:
				   acknowledged without an fdatasync */
		if (sysio.fdatasync(w->afd) != 0) {
			wal_syscall_cause(w, cause, "fdatasync", w->aname,
			    wstart);
			goto fail;
		}
#endif
		w->acount += b->nrec;
		w->alast = b->last_lsn;
		w->aoff = b->off + b->len;
		pthread_mutex_lock(&w->lock);
		w->segs[w->nsegs - 1].last = w->alast;
		w->bytes_written += b->len;
		w->flushes++;
		pthread_mutex_unlock(&w->lock);
	}
	if (b->ends_seg && wal_seal_active(w, b, cause) != 0)
		goto fail;
	b->ok = 1;
	return (0);

fail:
	wal_seal_release(w, b, 1);
	__atomic_store_n(&w->failed, 1, __ATOMIC_RELEASE);
	wal_log(w, 3, "wal: %s: log latched failed, appends refused until "
	    "restart", (cause != NULL && *cause != NULL) ? *cause : w->dir);
	return (-1);
}

/* Takes the batch back (loop thread) and returns the durable LSN. */
uint64_t
wal_flush_end(struct wal *w, struct wal_batch *b)
{
	struct wal_batch	*nb = w->fill;
	uint64_t		 end;

	if (b->ok) {
		if (b->nrec > 0)
			w->durable_lsn = b->last_lsn;
		if (b->seals)
			__atomic_store_n(&w->sealed, 1, __ATOMIC_RELEASE);
		/* The filling batch begins with b's partial last block, as
		   written (sealed): see wal_flush_begin. */
		end = b->off + b->len;
		if (nb->pre > 0 && nb->off == end && nb->seg_first == b->seg_first)
			memcpy(nb->buf, b->buf + (end - nb->pre) -
			    (b->off - b->pre), nb->pre);
	}
	wal_batch_reset(b);
	w->out = NULL;
	w->other = b;
	return (w->durable_lsn);
}

/* Offline: flushes the filling batch on this thread. */
int
wal_sync(struct wal *w, uint64_t *durable, char **cause)
{
	struct wal_batch	*b;
	int			 r;

	if (w->out != NULL) {
		cause_set(cause, "%s: a batch is in flight", w->dir);
		return (-1);
	}
	if ((b = wal_flush_begin(w)) == NULL) {
		if (wal_is_failed(w) && w->fill->nrec == 0 &&
		    w->durable_lsn + 1 < w->next_lsn) {
			cause_set(cause, "%s: the log has failed", w->dir);
			return (-1);
		}
		if (durable != NULL)
			*durable = w->durable_lsn;
		return (0);
	}
	r = wal_flush_io(w, b, cause);
	wal_flush_end(w, b);
	if (durable != NULL)
		*durable = w->durable_lsn;
	return (r);
}

/* Offline: seals the log (a footer even when the batch is empty). */
int
wal_seal(struct wal *w, uint64_t *last, char **cause)
{
	enum wal_rc	rc;

	if (!w->sealed) {
		rc = wal_mark_seal(w);
		if (rc == WAL_EFAILED) {
			cause_set(cause, "%s: the log has failed", w->dir);
			return (-1);
		}
		if (wal_sync(w, NULL, cause) != 0)
			return (-1);
	}
	if (!w->sealed) {
		cause_set(cause, "%s: seal did not complete", w->dir);
		return (-1);
	}
	if (last != NULL)
		*last = w->next_lsn - 1;
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
		keep = w->npool < w->pool_max && !wal_no_spare_needed(w);
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
			wal_syscall_cause(w, cause, "unlink", name, 0);
			return (-1);
		}
		/* Gone from the directory: forget it even if the fsync fails
		   (a power cut may bring it back, which is harmless). */
		pthread_mutex_lock(&w->lock);
		memmove(w->segs, w->segs + 1, (w->nsegs - 1) * sizeof *w->segs);
		w->nsegs--;
		if (keep)
			w->pool[w->npool++] = first;
		pthread_mutex_unlock(&w->lock);
		if (sysio.fsync(w->dirfd) != 0) {
			wal_syscall_cause(w, cause, "fsync directory", name, 0);
			return (-1);
		}
		wal_log(w, 6, "wal: truncated %s/%s", w->dir, name);
	}
	if (new_first != NULL) {
		pthread_mutex_lock(&w->lock);
		*new_first = w->nsegs > 0 ? w->segs[0].first : w->next_lsn;
		pthread_mutex_unlock(&w->lock);
	}
	return (0);
}

/* Fills in the counters of wal.h. */
void
wal_stats(struct wal *w, struct wal_stats *st)
{
	size_t	i;

	memset(st, 0, sizeof *st);
	pthread_mutex_lock(&w->lock);
	st->first_lsn = w->nsegs > 0 ? w->segs[0].first : w->next_lsn;
	st->segments = w->nsegs;
	for (i = 0; i < w->nsegs; i++)
		st->bytes_on_disk += w->segs[i].size;
	st->bytes_written = w->bytes_written;
	st->flushes = w->flushes;
	st->recycled = w->recycled;
	st->recycle_held = w->npool;
	pthread_mutex_unlock(&w->lock);
	st->sealed_ahead = __atomic_load_n(&w->sealed_ahead, __ATOMIC_RELAXED);
	st->next_lsn = w->next_lsn;
	st->durable_lsn = w->durable_lsn;
	st->active_first_lsn = w->fill_seg_first;
	st->active_offset = w->fill_off;
	st->sealed = w->sealed || w->seal_pending;
	st->failed = wal_is_failed(w);
	st->direct_io = w->direct;
	st->active_key_id = keyring_active(w->ring);
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
	if (w->fill != NULL && w->fill->begins_seg)
		wal_id_add(ids, &n, &total, max, w->fill->sp.key_id);
	if (w->out != NULL && w->out->begins_seg)
		wal_id_add(ids, &n, &total, max, w->out->sp.key_id);
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

	if ((kr == NULL) != (w->ring == NULL)) {
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
		} else if (i == w->nsegs && w->fill != NULL &&
		    w->fill->begins_seg) {
			id = w->fill->sp.key_id;
			segment_name(name, w->fill->seg_first);
		} else if (i == w->nsegs + 1 && w->out != NULL &&
		    w->out->begins_seg) {
			id = w->out->sp.key_id;
			segment_name(name, w->out->seg_first);
		} else
			continue;
		if (id == 0 || !keyring_differs(w->ring, kr, id))
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
	keyring_free(w->ring);
	w->ring = keyring_hold(kr);
	if (keyring_active(kr) != w->fill_key)
		w->rekey = 1;
	return (0);
}

/* Logs a file in the directory that is not part of the log. */
static void
wal_stray_cb(void *arg, const char *name)
{
	struct wal	*w = arg;

	wal_log(w, 4, "wal: %s/%s: not a segment file: ignored", w->dir, name);
}

/* Seals a recovered segment at end: footer, sync, cut, sync. */
static int
wal_recover_seal(struct wal *w, const char *name, const struct seg_scan *s,
    char **cause)
{
	struct seg_footer	 f;
	unsigned char		 foot[FOOTER_SIZE];
	const char		*call = "open";
	int			 fd;

	f.first_lsn = s->first_lsn;
	f.last_lsn = s->next_lsn - 1;
	f.count = s->count;
	f.offset = s->end;
	f.data_crc = s->data_crc;
	f.flags = 0;
	segment_encode_footer(foot, &f, s->seed);
	if ((fd = sysio.openat(w->dirfd, name, O_RDWR | O_CLOEXEC, 0)) == -1)
		goto fail;
	call = "pwrite";
	if (wal_pwrite_all(fd, foot, sizeof foot, s->end) != 0)
		goto fail;
	call = "fdatasync";
	if (sysio.fdatasync(fd) != 0)
		goto fail;
	call = "ftruncate";
	if (sysio.ftruncate(fd, (off_t)(s->end + FOOTER_SIZE)) != 0)
		goto fail;
	call = "fsync";
	if (sysio.fsync(fd) != 0)
		goto fail;
	sysio.close(fd);
	fd = -1;
	call = "fsync directory";
	if (sysio.fsync(w->dirfd) != 0)
		goto fail;
	return (0);

fail:
	wal_syscall_cause(w, cause, call, name, s->end);
	if (fd != -1)
		sysio.close(fd);
	return (-1);
}

/* Cuts a segment whose footer was written but not yet truncated to. */
static int
wal_recover_truncate(struct wal *w, const char *name, uint64_t size,
    char **cause)
{
	const char	*call = "open";
	int		 fd;

	if ((fd = sysio.openat(w->dirfd, name, O_RDWR | O_CLOEXEC, 0)) == -1)
		goto fail;
	call = "ftruncate";
	if (sysio.ftruncate(fd, (off_t)size) != 0)
		goto fail;
	call = "fsync";
	if (sysio.fsync(fd) != 0)
		goto fail;
	sysio.close(fd);
	fd = -1;
	call = "fsync directory";
	if (sysio.fsync(w->dirfd) != 0)
		goto fail;
	return (0);

fail:
	wal_syscall_cause(w, cause, call, name, size);
	if (fd != -1)
		sysio.close(fd);
	return (-1);
}

/*
 * Recovers the last segment, which has no footer at its end: scans it,
 * tells a torn tail from corruption, and seals it at its recovered end.
 * *empty is set when it holds no record (the caller replaces it). When
 * rctx is keyed (an encrypted segment), every record kept must pass
 * authentication too, or open fails with nothing changed: a record with
 * a good CRC that does not authenticate was altered, not torn.
 */
static int
wal_recover_last(struct wal *w, const struct seg_ent *e, int fd,
    uint64_t size, struct keyring_ctx *rctx, const struct seg_header *hdr,
    int *empty, char **cause)
{
	uint32_t		key_id = hdr->key_id;
	struct seg_scan		s;
	struct seg_tail		t;
	struct keyring_auth	auth;
	char			*c2 = NULL;
	const char		*what;
	int			 r;

	*empty = 0;
	memset(&s, 0, sizeof s);
	memset(&auth, 0, sizeof auth);
	s.fd = fd;
	s.size = size;
	s.first_lsn = e->first;
	s.seed = hdr->seed;
	if (keyring_ctx_keyed(rctx)) {
		auth.ctx = rctx;
		s.rec_cb = keyring_auth_cb;
		s.rec_arg = &auth;
	}
	r = segment_scan(&s, &c2);
	keyring_auth_clear(&auth);
	if (r != 0) {
		cause_set(cause, "%s/%s: %s", w->dir, e->name, c2);
		free(c2);
		return (-1);
	}
	if (auth.nomem) {
		cause_set(cause, "%s/%s: authenticating records: %s",
		    w->dir, e->name, strerror(ENOMEM));
		return (-1);
	}
	if (auth.nbad > 0) {
		cause_set(cause, "%s/%s: offset %llu: LSN %llu: record "
		    "fails authentication under key id %u (altered, or moved "
		    "from elsewhere; %llu such records): acknowledged data is "
		    "damaged; nothing was changed (run walctl verify --keyring, "
		    "see docs/FORMAT.md)", w->dir, e->name,
		    (unsigned long long)auth.bad_off,
		    (unsigned long long)auth.bad_lsn, key_id,
		    (unsigned long long)auth.nbad);
		return (-1);
	}
	/* The segment the last run was writing says how it wrote: the
	   spares of this run start from that, not from zeros every time
	   (a heavy writer's first spare would double its writes). */
	if (s.flushes > 0)
		wal_note_segment(w, e->name, s.end - SEG_HDR_SIZE, s.flushes);
	if (s.stop == SEG_STOP_FOOTER) {
		/* Crash between the footer and the ftruncate: finish it. */
		if (wal_recover_truncate(w, e->name, s.end + FOOTER_SIZE,
		    cause) != 0)
			return (-1);
		wal_log(w, 6, "wal: recovery: %s/%s: footer at offset %llu: "
		    "finished sealing", w->dir, e->name,
		    (unsigned long long)s.end);
		pthread_mutex_lock(&w->lock);
		wal_segs_push(w, e->first, s.next_lsn - 1,
		    s.end + FOOTER_SIZE, 1, key_id);
		pthread_mutex_unlock(&w->lock);
		w->next_lsn = s.next_lsn;
		if (s.footer.flags & FOOTER_F_LOG_SEALED)
			w->sealed = 1;
		return (0);
	}
	if (segment_search_tail(&s, &t, &c2) != 0) {
		cause_set(cause, "%s/%s: %s", w->dir, e->name, c2);
		free(c2);
		return (-1);
	}
	what = s.stop == SEG_STOP_BAD ? s.why : "record missing (zeros)";
	if (t.later) {
		cause_set(cause, "%s/%s: offset %llu: LSN %llu: %s, but "
		    "a later flush was written after it (%s with LSN %llu, "
		    "batch LSN %llu, at offset %llu): acknowledged data is "
		    "damaged; nothing was changed (run walctl verify, see "
		    "docs/FORMAT.md)", w->dir, e->name,
		    (unsigned long long)s.end, (unsigned long long)s.next_lsn,
		    what, t.later_footer ? "a footer" : "a record",
		    (unsigned long long)t.later_lsn,
		    (unsigned long long)t.later_batch,
		    (unsigned long long)t.later_off);
		return (-1);
	}
	if (t.undecided) {
		cause_set(cause, "%s/%s: offset %llu: LSN %llu: %s, and "
		    "the bytes after it hold more headers shaped like records "
		    "(from offset %llu) than can be checked, so a torn tail "
		    "cannot be told from damage; nothing was changed (run "
		    "walctl verify, see docs/FORMAT.md)", w->dir, e->name,
		    (unsigned long long)s.end, (unsigned long long)s.next_lsn,
		    what, (unsigned long long)t.undecided_off);
		return (-1);
	}
	if ((hdr->flags & SEG_F_REUSED) && !t.torn) {
		/* What follows is the file's earlier segment (whose records
		   are not valid in this one), or a flush never acknowledged
		   of which nothing valid is left: the two cannot be told
		   apart, and neither matters. */
		wal_log(w, 6, "wal: recovery: %s/%s: records end at offset "
		    "%llu, next LSN %llu (a reused file: what follows is its "
		    "earlier contents or a flush never acknowledged)", w->dir,
		    e->name, (unsigned long long)s.end,
		    (unsigned long long)s.next_lsn);
	} else if (t.nonzero || s.stop == SEG_STOP_BAD) {
		wal_log(w, 4, "wal: recovery: %s/%s: torn tail cut at offset "
		    "%llu, first lost LSN %llu (%s)", w->dir, e->name,
		    (unsigned long long)s.end, (unsigned long long)s.next_lsn,
		    what);
	}
	w->next_lsn = s.next_lsn;
	if (s.count == 0) {
		*empty = 1;
		return (0);
	}
	if (wal_recover_seal(w, e->name, &s, cause) != 0)
		return (-1);
	pthread_mutex_lock(&w->lock);
	wal_segs_push(w, e->first, s.next_lsn - 1, s.end + FOOTER_SIZE, 1,
	    key_id);
	pthread_mutex_unlock(&w->lock);
	return (0);
}

/*
 * Checks every segment (header, footer of the sealed ones, LSN continuity)
 * and recovers the last one. Refuses, changing nothing, on any damage that
 * is not the torn tail of the last flush.
 */
static int
wal_recover(struct wal *w, char **cause)
{
	struct seg_ent		*ents = NULL;
	size_t			 n, i;
	unsigned char		*hb;
	struct seg_header	 h;
	struct seg_footer	 f;
	struct stat		 sb;
	struct keyring_ctx	*rctx;
	const char		*why = NULL;
	char			*c2 = NULL;
	uint64_t		 prev_last = 0;
	int			 fd = -1, r, empty, ok = -1;

	if (segment_list(w->dirfd, w->dir, &ents, &n, wal_stray_cb, NULL,
	    w, cause) != 0)
		return (-1);
	rctx = keyring_ctx_create(0);
	if ((hb = malloc(SEG_HDR_SIZE)) == NULL || rctx == NULL) {
		cause_set(cause, "%s: %s", w->dir, strerror(ENOMEM));
		keyring_ctx_free(rctx);
		free(hb);
		free(ents);
		return (-1);
	}
	w->next_lsn = 1;
	for (i = 0; i < n; i++) {
		fd = sysio.openat(w->dirfd, ents[i].name, O_RDONLY | O_CLOEXEC,
		    0);
		if (fd == -1 || fstat(fd, &sb) != 0) {
			wal_syscall_cause(w, cause, "open", ents[i].name, 0);
			goto out;
		}
		if ((uint64_t)sb.st_size < SEG_HDR_SIZE) {
			cause_set(cause, "%s/%s: offset 0: LSN %llu: file "
			    "of %lld bytes is shorter than a segment header",
			    w->dir, ents[i].name,
			    (unsigned long long)ents[i].first,
			    (long long)sb.st_size);
			goto out;
		}
		r = (int)sysio.pread(fd, hb, SEG_HDR_SIZE, 0);
		if (r != SEG_HDR_SIZE) {
			if (r >= 0)
				errno = EIO;
			wal_syscall_cause(w, cause, "pread", ents[i].name, 0);
			goto out;
		}
		if (segment_decode_header(hb, &h, &why) != 0 ||
		    (h.first_lsn != ents[i].first &&
		    (why = "first LSN in the header does not match the file "
		    "name") != NULL)) {
			cause_set(cause, "%s/%s: offset 0: LSN %llu: %s",
			    w->dir, ents[i].name,
			    (unsigned long long)ents[i].first, why);
			goto out;
		}
		/* Every key a segment needs, and the right one: at start. */
		if (keyring_ctx_segment(rctx, w->ring, &h, &c2) != 0) {
			cause_set(cause, "%s/%s: offset 0: LSN %llu: %s",
			    w->dir, ents[i].name,
			    (unsigned long long)ents[i].first, c2);
			free(c2);
			goto out;
		}
		if (i > 0 && ents[i].first != prev_last + 1) {
			cause_set(cause, "%s/%s: offset 0: LSN %llu: gap in "
			    "the log: the previous segment ends at LSN %llu "
			    "(a segment is missing?)", w->dir, ents[i].name,
			    (unsigned long long)(prev_last + 1),
			    (unsigned long long)prev_last);
			goto out;
		}
		if (i > 0 && w->sealed) {
			cause_set(cause, "%s/%s: offset 0: LSN %llu: segment "
			    "after one whose footer sealed the log", w->dir,
			    ents[i].name, (unsigned long long)ents[i].first);
			goto out;
		}
		r = segment_read_footer(fd, (uint64_t)sb.st_size, h.first_lsn,
		    h.seed, &f, &why);
		if (r == -1) {
			wal_syscall_cause(w, cause, "pread", ents[i].name,
			    (uint64_t)sb.st_size - FOOTER_SIZE);
			goto out;
		}
		if (r == 1) {
			pthread_mutex_lock(&w->lock);
			r = wal_segs_push(w, f.first_lsn, f.last_lsn,
			    (uint64_t)sb.st_size, 1, h.key_id);
			pthread_mutex_unlock(&w->lock);
			if (r != 0) {
				cause_set(cause, "%s", strerror(errno));
				goto out;
			}
			prev_last = f.last_lsn;
			w->next_lsn = f.last_lsn + 1;
			if (f.flags & FOOTER_F_LOG_SEALED)
				w->sealed = 1;
		} else if (i + 1 < n || r == 2 ||
		    sb.st_size % IO_ALIGN != 0) {
			if (r != 2)
				why = i + 1 < n ? "no footer on a segment that "
				    "is not the last" : "no footer, and the size "
				    "is not that of an active segment";
			cause_set(cause, "%s/%s: offset %llu: LSN %llu: %s",
			    w->dir, ents[i].name, (unsigned long long)
			    (sb.st_size >= FOOTER_SIZE ? sb.st_size -
			    FOOTER_SIZE : 0), (unsigned long long)(prev_last +
			    (i > 0 ? 1 : 0)), why);
			goto out;
		} else {
			if (wal_recover_last(w, &ents[i], fd,
			    (uint64_t)sb.st_size, rctx, &h, &empty,
			    cause) != 0)
				goto out;
		}
		sysio.close(fd);
		fd = -1;
	}
	ok = 0;

out:
	if (fd != -1)
		sysio.close(fd);
	keyring_ctx_free(rctx);
	free(hb);
	free(ents);
	return (ok);
}

/* Frees everything; closes every file. */
static void
wal_free(struct wal *w)
{
	int	i;

	if (w->afd != -1)
		sysio.close(w->afd);
	if (w->spare_fd != -1)
		sysio.close(w->spare_fd);
	if (w->lockfd != -1)
		sysio.close(w->lockfd);
	if (w->dirfd != -1)
		sysio.close(w->dirfd);
	for (i = 0; i < 2; i++) {
		free(w->batches[i].buf);
		free(w->batches[i].ahead_cause);
		keyring_ctx_free(w->batches[i].ctx);
	}
	free(w->hbuf);
	free(w->fbuf);
	free(w->zbuf);
	free(w->segs);
	free(w->pool);
	free(w->dir);
	keyring_ctx_free(w->wctx);
	keyring_free(w->ring);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->slock);
	pthread_cond_destroy(&w->scond);
	free(w);
}

/* Fsyncs the directory holding path, after path was created in it. */
static int
wal_sync_parent(const char *path, char **cause)
{
	char	*copy, *slash;
	int	 fd, r = 0;

	if ((copy = strdup(path)) == NULL) {
		cause_set(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	while ((slash = strrchr(copy, '/')) != NULL && slash[1] == '\0' &&
	    slash != copy)
		*slash = '\0';
	if ((slash = strrchr(copy, '/')) == NULL)
		strcpy(copy, ".");
	else if (slash == copy)
		copy[1] = '\0';
	else
		*slash = '\0';
	fd = sysio.open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd == -1 || sysio.fsync(fd) != 0) {
		cause_set(cause, "fsync directory: %s: %s", copy,
		    strerror(errno));
		r = -1;
	}
	if (fd != -1)
		sysio.close(fd);
	free(copy);
	return (r);
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
	pthread_mutex_init(&w->slock, NULL);
	pthread_cond_init(&w->scond, NULL);
	w->dirfd = w->lockfd = w->afd = w->spare_fd = -1;
	w->log = o->log;
	if ((w->dir = strdup(o->dir)) == NULL) {
		cause_set(cause, "wal: %s", strerror(errno));
		goto fail;
	}

	w->seg_size = o->segment_size ? o->segment_size : WAL_DEFAULT_SEGMENT;
	w->spare_mode = o->spare_mode;
	w->pool_max = o->recycle_segments;
	if (w->pool_max > 0 &&
	    (w->pool = calloc(w->pool_max, sizeof *w->pool)) == NULL) {
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
		w->ring = keyring_hold(o->keyring);
		w->tag = KEYRING_TAG_LEN;
		w->wctx = keyring_ctx_create(1);
		w->batches[0].ctx = keyring_ctx_create(1);
		w->batches[1].ctx = keyring_ctx_create(1);
		if (w->wctx == NULL || w->batches[0].ctx == NULL ||
		    w->batches[1].ctx == NULL) {
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
	if (w->max_record > REC_MAX_PAYLOAD - w->tag) {
		/* The stored payload carries the GCM tag too. */
		wal_log(w, 4, "wal: %s: max record lowered from %u to %u bytes: "
		    "an encrypted record stores a %u-byte tag", w->dir,
		    w->max_record, REC_MAX_PAYLOAD - w->tag, w->tag);
		w->max_record = REC_MAX_PAYLOAD - w->tag;
	}
	room = w->seg_size - SEG_HDR_SIZE - FOOTER_SIZE - REC_HDR_SIZE -
	    REC_ALIGN - w->tag;
	if (w->max_record > room) {
		wal_log(w, 4, "wal: %s: max record lowered from %u to %llu "
		    "bytes to fit a segment of %llu", w->dir, w->max_record,
		    (unsigned long long)room, (unsigned long long)w->seg_size);
		w->max_record = (uint32_t)room;
	}
	w->batch_cap = o->batch_bytes ? o->batch_bytes : WAL_DEFAULT_BATCH;
	if (w->batch_cap < seg_rec_size(w->max_record + w->tag))
		w->batch_cap = seg_rec_size(w->max_record + w->tag);
	w->buf_max = (size_t)WAL_ROUND_UP(IO_ALIGN + w->batch_cap, IO_ALIGN) +
	    IO_ALIGN;

	if (mkdir(w->dir, 0750) == 0) {
		if (wal_sync_parent(w->dir, cause) != 0)
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
	    w->tag) + IO_ALIGN, IO_ALIGN);
	if (initial < (64u << 10))
		initial = 64u << 10;
	if (initial > w->buf_max)
		initial = w->buf_max;
	w->hbuf = wal_alloc_aligned(SEG_HDR_SIZE);
	w->fbuf = wal_alloc_aligned(2 * IO_ALIGN);
	w->zbuf = wal_alloc_aligned(WAL_ZERO_CHUNK);
	for (i = 0; i < 2; i++) {
		w->batches[i].buf = wal_alloc_aligned(initial);
		w->batches[i].cap = initial;
	}
	if (w->hbuf == NULL || w->fbuf == NULL || w->zbuf == NULL ||
	    w->batches[0].buf == NULL || w->batches[1].buf == NULL) {
		cause_set(cause, "wal: %s", strerror(errno));
		goto fail;
	}
	memset(w->zbuf, 0, WAL_ZERO_CHUNK);

	if (wal_recover(w, cause) != 0)
		goto fail;

	/* A spare left by a crash may be partly prepared: start over. */
	if (sysio.unlinkat(w->dirfd, SPARE_NAME, 0) == 0) {
		if (sysio.fsync(w->dirfd) != 0) {
			wal_syscall_cause(w, cause, "fsync directory",
			    SPARE_NAME, 0);
			goto fail;
		}
	} else if (errno != ENOENT) {
		wal_syscall_cause(w, cause, "unlink", SPARE_NAME, 0);
		goto fail;
	}
	if (wal_pool_adopt(w, cause) != 0)
		goto fail;
	if (!w->sealed) {
		/* Never write into an old segment: always start a new one. */
		if (wal_prepare_spare(w, cause) != 0 ||
		    wal_seg_params(w, &sp, w->next_lsn, cause) != 0 ||
		    wal_activate(w, w->next_lsn, &sp, cause) != 0)
			goto fail;
	}

	w->fill = &w->batches[0];
	w->other = &w->batches[1];
	wal_batch_reset(w->fill);
	wal_batch_reset(w->other);
	w->fill_seg_first = w->next_lsn;
	w->fill_off = SEG_HDR_SIZE;
	w->fill->off = w->fill_off;
	w->fill->seg_first = w->fill_seg_first;
	w->durable_lsn = w->next_lsn - 1;
	wal_log(w, 6, "wal: opened %s: %zu segments, first LSN %llu, next LSN "
	    "%llu%s", w->dir, w->nsegs,
	    (unsigned long long)(w->nsegs ? w->segs[0].first : w->next_lsn),
	    (unsigned long long)w->next_lsn, w->sealed ? ", sealed" : "");
	if (w->ring != NULL)
		wal_log(w, 6, "wal: %s: new segments are encrypted under key "
		    "id %u", w->dir, keyring_active(w->ring));
	return (w);

fail:
	wal_free(w);
	return (NULL);
}

/* Closes files and frees; no batch may be in flight. Does not flush. */
void
wal_close(struct wal *w)
{
	if (w != NULL)
		wal_free(w);
}
