/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_powerloss.c: the power-loss and injected-error suite of the WAL
 * engine. A deterministic workload (appends with group commit through
 * wal_flush_begin/io/end, rollovers of 1 MiB segments, rotations,
 * truncations, a restart, a seal) runs over simio, the crash-simulating
 * sysio layer; the power is cut at every mutating call in turn, and what
 * the disk may hold then (unsynced writes lost, kept or torn at 512-byte
 * sectors; unsynced directory operations undone) is recovered with the
 * real system calls and checked: everything acknowledged is there and
 * intact, LSNs are contiguous, nothing appears that was never appended,
 * new appends continue above every acknowledged LSN, and recovery never
 * refuses a directory that only lost power. docs/DURABILITY.md tells the
 * failure model.
 *
 * The workload runs once per sweep: before each mutating call, simio
 * hands over; the test writes what a power cut there would leave into a
 * side directory, recovers and checks it, and the run goes on.
 * WALD_POWERLOSS_TRIALS (default 3) sets the power cuts tried per call;
 * `make soak` raises it. WALD_POWERLOSS_STRIDE (default 1; 6 under
 * AddressSanitizer, where the plain build's run has already swept every
 * call) cuts before every Nth call only, starting at a call that moves
 * with the day (WALD_POWERLOSS_OFFSET sets it). Injected errors (EIO,
 * ENOSPC, short writes) are each followed by a power cut too.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "keyring.h"
#include "segment.h"
#include "simio.h"
#include "sysio.h"
#include "wal.h"
#include "wal-reader.h"

#define PL_SEG		(1ull << 20)
#define PL_RECYCLE	2	/* truncated segments kept for reuse */
#define PL_MAXLSN	16384
#define PL_MAXPAYLOAD	20000
#define PL_PHASE_A	(1300u << 10)	/* record bytes before the restart */
#define PL_PHASE_B	(2400u << 10)	/* record bytes in all */

/* What one run of the workload did, as its clients would have seen it. */
struct pl_run {
	/* in */
	const char	*dir;
	enum wal_direct	 direct;
	uint64_t	 rng;		/* the workload's shape */
	int		 check_acks;	/* ack => every segment byte synced */
	uint64_t	 free_after;	/* lift the injected errors after this
					   many appends refused for space */
	/* out */
	struct wal	*w;
	int		 gen;		/* opens so far: payloads carry it */
	uint64_t	 assigned;	/* highest LSN handed out */
	uint64_t	 acked;		/* highest LSN acknowledged durable */
	uint64_t	 trunc;		/* highest truncate_before asked for */
	uint64_t	 recycled;	/* spares made from truncated segments */
	uint64_t	 bytes;		/* payload bytes appended */
	uint64_t	 enospc;	/* appends refused for lack of space */
	uint64_t	 resumed;	/* appends taken after such a refusal */
	int		 seal_marked;
	int		 seal_acked;
	int		 stopped;	/* failed log or power cut: no more */
	char		 why[512];
	uint8_t		 appended[PL_MAXLSN];	/* bit g: appended by open g */
	uint8_t		 acked_gen[PL_MAXLSN];
	uint32_t	 crc[PL_MAXLSN][8];	/* of the payload open g sent */
};

static unsigned char	pl_buf[PL_MAXPAYLOAD];
static struct keyring	*pl_ring;	/* encryption at rest, when set */
/* How pl_open has spares made: AUTO, which the workload's small batches
   keep to zeros, or FALLOCATE for the fallocated-only spares. */
static enum wal_spare_mode pl_spare = WAL_SPARE_AUTO;

/* Fails the test with a message. */
static void __attribute__((noreturn, format(printf, 1, 2)))
pl_fail(const char *fmt, ...)
{
	static char	msg[16384];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ck_abort_msg("%s", msg);
	abort();
}

/* splitmix64. */
static uint64_t
pl_mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return (x ^ (x >> 31));
}

/* The workload's next random number. */
static uint64_t
pl_rand(struct pl_run *r)
{
	r->rng = pl_mix(r->rng);
	return (r->rng);
}

/* The payload appended as LSN lsn by open number gen: header (lsn, gen,
   length), then bytes derived from them. Sizes from 16 bytes to 20 KB,
   so that flushes end anywhere in a sector and span several blocks. */
static uint32_t
pl_payload(uint64_t lsn, int gen, unsigned char *buf)
{
	uint64_t	h = pl_mix(lsn * 16 + (uint64_t)gen), v = 0;
	uint32_t	len, i;

	switch (h % 20) {
	case 0:
		len = 4000 + (uint32_t)((h >> 8) % 16000);
		break;
	case 1: case 2: case 3: case 4: case 5:
		len = 300 + (uint32_t)((h >> 8) % 3700);
		break;
	default:
		len = 16 + (uint32_t)((h >> 8) % 300);
		break;
	}
	seg_put64(buf, lsn);
	seg_put32(buf + 8, (uint32_t)gen);
	seg_put32(buf + 12, len);
	for (i = 16; i < len; i++) {
		if ((i & 7) == 0)
			v = pl_mix(h + i);
		buf[i] = (unsigned char)(v >> ((i & 7) * 8));
	}
	return (len);
}

/* Notes why the run stopped (the first reason only). */
static void __attribute__((format(printf, 2, 3)))
pl_stop(struct pl_run *r, const char *fmt, ...)
{
	va_list	ap;

	if (!r->stopped) {
		va_start(ap, fmt);
		vsnprintf(r->why, sizeof r->why, fmt, ap);
		va_end(ap);
	}
	r->stopped = 1;
}

/* Opens the log (recovery) for the next generation. */
static void
pl_open(struct pl_run *r)
{
	struct wal_options	o;
	char			*cause = NULL;

	memset(&o, 0, sizeof o);
	o.dir = r->dir;
	o.segment_size = PL_SEG;
	o.direct_io = r->direct;
	o.batch_bytes = 256u << 10;
	o.keyring = pl_ring;
	o.spare_mode = pl_spare;
	o.recycle_segments = PL_RECYCLE;
	r->gen++;
	ck_assert_int_lt(r->gen, 8);
	if ((r->w = wal_open(&o, &cause)) == NULL) {
		pl_stop(r, "wal_open: %s", cause);
		free(cause);
	}
}

/* Prepares a spare segment. 0, or -1 (the run stops unless it was only
   a lack of space, which a later try may not meet). */
static int
pl_prepare(struct pl_run *r)
{
	char	*cause = NULL;
	int	 err;

	if (wal_prepare_spare(r->w, &cause) == 0)
		return (0);
	err = errno;
	if (simio_crashed() || err != ENOSPC)
		pl_stop(r, "prepare spare: %s", cause);
	free(cause);
	return (-1);
}

/* Appends one record straight into the filling batch. The wal_rc. */
static enum wal_rc
pl_append_once(struct pl_run *r)
{
	struct wal_stats	st;
	enum wal_rc		rc;
	uint64_t		lsn = 0;
	uint32_t		len;

	wal_stats(r->w, &st);
	ck_assert_uint_lt(st.next_lsn, PL_MAXLSN);
	len = pl_payload(st.next_lsn, r->gen, pl_buf);
	rc = wal_append(r->w, (uint16_t)(st.next_lsn % 4),
	    (uint32_t)(st.next_lsn % 3), (uint16_t)(st.next_lsn % 5), pl_buf,
	    len, &lsn);
	if (rc == WAL_OK) {
		ck_assert_uint_eq(lsn, st.next_lsn);
		r->appended[lsn] |= (uint8_t)(1u << r->gen);
		r->crc[lsn][r->gen] = crc32c(0, pl_buf, len);
		if (lsn > r->assigned)
			r->assigned = lsn;
		r->bytes += len;
	}
	return (rc);
}

/*
 * One group commit, as walld's batcher does it: detach the filling batch,
 * let up to `extra` more records into the next one while it is out, write
 * and sync it, take it back. Only a wal_flush_io that returned 0 before
 * the power cut acknowledges; at that moment every byte written to a
 * segment must have been synced (unless the test looks away on purpose).
 */
static void
pl_flush(struct pl_run *r, int extra)
{
	struct wal_batch	*b;
	char			*cause = NULL;
	uint64_t		 durable, lsn, unsynced;
	int			 rc, i;

	if (r->stopped || (b = wal_flush_begin(r->w)) == NULL)
		return;
	for (i = 0; i < extra; i++) {
		if (pl_append_once(r) != WAL_OK)
			break;
	}
	rc = wal_flush_io(r->w, b, &cause);
	if (rc == 0 && !simio_crashed() && r->check_acks &&
	    (unsynced = simio_unsynced(".wal")) != 0)
		pl_fail("a batch up to LSN %llu is acknowledged while "
		    "%llu bytes written to segments were never synced: an "
		    "acknowledgement before fdatasync",
		    (unsigned long long)wal_batch_last_lsn(b),
		    (unsigned long long)unsynced);
	durable = wal_flush_end(r->w, b);
	if (rc != 0 || simio_crashed()) {
		pl_stop(r, "flush: %s", rc != 0 && cause != NULL ? cause :
		    "power cut");
		free(cause);
		return;
	}
	for (lsn = r->acked + 1; lsn <= durable; lsn++)
		r->acked_gen[lsn] = (uint8_t)r->gen;
	if (durable > r->acked)
		r->acked = durable;
	if (r->seal_marked)
		r->seal_acked = 1;
	/* The preparer runs right after a flush, or when an append waits. */
	if (!wal_spare_ready(r->w) && pl_rand(r) % 2 == 0)
		pl_prepare(r);
}

/* Appends one record, flushing or preparing as the engine asks. 0, 1 when
   refused with nothing written (sealed, no space), -1 when stopped. */
static int
pl_append(struct pl_run *r)
{
	struct wal_stats	st;
	int			tries, refused = 0;

	for (tries = 0; tries < 16 && !r->stopped; tries++) {
		switch (pl_append_once(r)) {
		case WAL_OK:
			if (refused)
				r->resumed++;
			return (0);
		case WAL_EFULL:
			pl_flush(r, (int)(pl_rand(r) % 3));
			break;
		case WAL_EWAIT:
		case WAL_ESPARE:	/* a failure pl_prepare meets again */
			pl_prepare(r);
			break;
		case WAL_EDUP:
		case WAL_ESEQ:
		case WAL_ENOMEM:
			ck_abort_msg("producer result without a producer");
			break;
		case WAL_ENOSPC:
			/* Refused before anything was written: no LSN used. */
			wal_stats(r->w, &st);
			if (st.next_lsn != r->assigned + 1)
				pl_fail("an append refused for space used LSN "
				    "%llu", (unsigned long long)r->assigned + 1);
			if (!refused)
				r->enospc++;
			refused = 1;
			if (r->free_after != 0 && r->enospc >= r->free_after)
				simio_clear_faults();
			if (pl_prepare(r) != 0 && !r->stopped)
				return (1);
			break;
		case WAL_ESEALED:
			return (1);
		case WAL_EFAILED:
			pl_stop(r, "append: the log has failed");
			break;
		case WAL_ETOOBIG:
			pl_fail("append: too big");
		}
	}
	if (!r->stopped)
		pl_fail("append made no progress in 16 tries");
	return (-1);
}

/* Ends the active segment: the next record starts a new one. */
static void
pl_rotate(struct pl_run *r)
{
	int	tries;

	for (tries = 0; tries < 8 && !r->stopped; tries++) {
		switch (wal_mark_rotate(r->w)) {
		case WAL_OK:
			return;
		case WAL_EFULL:
			pl_flush(r, 0);
			break;
		case WAL_EWAIT:
		case WAL_ENOSPC:
		case WAL_ESPARE:
			if (pl_prepare(r) != 0)
				return;
			break;
		default:
			pl_stop(r, "rotate refused");
			return;
		}
	}
}

/* Asks to drop the segments below half of what is acknowledged. */
static void
pl_truncate(struct pl_run *r)
{
	uint64_t	 lsn = r->acked / 2 + 1, first;
	char		*cause = NULL;

	if (lsn > r->trunc)
		r->trunc = lsn;
	if (wal_truncate_before(r->w, lsn, &first, &cause) != 0) {
		if (simio_crashed())
			pl_stop(r, "truncate: %s", cause);
		free(cause);
	}
}

/* Appends and group commits until `until` payload bytes were appended. */
static void
pl_phase(struct pl_run *r, uint64_t until)
{
	uint64_t	k, x;
	int		rc, refusals = 0;

	while (!r->stopped && r->bytes < until) {
		for (k = 1 + pl_rand(r) % 10; k > 0 && !r->stopped; k--) {
			rc = pl_append(r);
			if (rc < 0)
				return;
			if (rc > 0) {
				/* No space: go on, a later try may find some. */
				if (++refusals > 64)
					pl_stop(r, "no space, 64 times");
				break;
			}
		}
		pl_flush(r, (int)(pl_rand(r) % 4));
		x = pl_rand(r) % 60;
		if (x == 0)
			pl_rotate(r);
		else if (x == 1 && r->acked > 0)
			pl_truncate(r);
	}
}

/* Adds the spares this open made from truncated segments. */
static void
pl_count_recycled(struct pl_run *r)
{
	struct wal_stats	st;

	wal_stats(r->w, &st);
	r->recycled += st.recycled;
}

/*
 * The workload: appends over a rollover or two, a restart (the log is
 * closed without a flush and recovered), more appends and rollovers, and
 * a seal. Every decision comes from r->rng, so a run is the same sequence
 * of calls as long as no fault or power cut changes it.
 */
static void
pl_workload(struct pl_run *r)
{
	pl_open(r);
	if (r->stopped)
		return;
	pl_phase(r, PL_PHASE_A);
	if (r->stopped)
		return;
	pl_count_recycled(r);
	wal_close(r->w);
	r->w = NULL;
	pl_open(r);
	if (r->stopped)
		return;
	pl_phase(r, PL_PHASE_B);
	while (!r->stopped && wal_pending(r->w))
		pl_flush(r, 0);
	if (r->stopped)
		return;
	if (wal_mark_seal(r->w) != WAL_OK) {
		pl_stop(r, "seal refused");
		return;
	}
	r->seal_marked = 1;
	pl_flush(r, 1);
	if (!r->stopped)
		pl_count_recycled(r);
}

/* Removes a directory and what is in it. */
static void
pl_rmdir(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		 sub[512];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_DIR) {
			snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
			pl_rmdir(sub);
		} else if (unlinkat(dirfd(d), de->d_name, 0) != 0)
			pl_fail("unlink %s/%s: %s", dir, de->d_name,
			    strerror(errno));
	}
	closedir(d);
	if (rmdir(dir) != 0)
		pl_fail("rmdir %s: %s", dir, strerror(errno));
}

/* A fresh base directory under WALD_POWERLOSS_DIR, else on tmpfs when
   there is one: the simulation needs no real disk, and must not wear one
   out. A failed test leaves it for a look. */
static char *
pl_base(void)
{
	const char	*parent = getenv("WALD_POWERLOSS_DIR");
	char		 tmpl[512];

	if (parent == NULL || *parent == '\0')
		parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(tmpl, sizeof tmpl, "%s/check_powerloss.XXXXXX", parent);
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	return (strdup(tmpl));
}

/*
 * A sweep's setting: the environment variable `name` when it is set, else
 * `plain`, or `asan` under AddressSanitizer, where each recovery costs
 * several times more and the plain build's pass has swept in full; at
 * least 1.
 */
static uint64_t
pl_setting(const char *name, long plain, long asan)
{
	const char	*s = getenv(name);
	long		 n;

#ifdef __SANITIZE_ADDRESS__
	n = s != NULL ? atol(s) : asan;
	(void)plain;
#else
	n = s != NULL ? atol(s) : plain;
	(void)asan;
#endif
	return (n < 1 ? 1 : (uint64_t)n);
}

/* The number of power cuts to try per call: 3 (all lost, all kept,
   mixed); under ASan 1, the three kinds in turn, call after call. */
static int
pl_trials(void)
{
	return ((int)pl_setting("WALD_POWERLOSS_TRIALS", 3, 1));
}

/* The stride of the sweep: 1 (every call); under ASan 6. Memory errors
   in recovery show at any cut; the plain build's pass sweeps every call
   for the durability checks. */
static uint64_t
pl_stride(void)
{
	return (pl_setting("WALD_POWERLOSS_STRIDE", 1, 6));
}

/* At how many of the calls of its kind each injected error is tried: 25;
   under ASan 10. */
static uint64_t
pl_fault_places(void)
{
	return (pl_setting("WALD_POWERLOSS_FAULT_PLACES", 25, 10));
}

/* Which call of each stride is cut: WALD_POWERLOSS_OFFSET, or one that
   changes each day, so that successive runs cover every call. */
static uint64_t
pl_offset(uint64_t stride)
{
	const char	*s = getenv("WALD_POWERLOSS_OFFSET");
	time_t		 now;

	if (s != NULL)
		return (strtoull(s, NULL, 10) % stride);
	if ((now = time(NULL)) == (time_t)-1)
		return (0);
	return ((uint64_t)(now / 86400) % stride);
}

/* Whether acknowledgements are checked as they happen. The planted-bug
   test turns this off to show that the power cuts alone catch it. */
static int
pl_check_acks(void)
{
	const char	*s = getenv("WALD_POWERLOSS_NO_ACK_CHECK");

	return (s == NULL || *s == '\0');
}

/*
 * Fails if the last segment in dir holds a record valid in it (its CRC
 * seeded with the segment's id) with an LSN below its first, or a valid
 * footer of another segment: what a reused file held before must never
 * be valid in its new segment. Sealed segments end at their footer; the
 * last one is where it could.
 */
static void
pl_check_stale(const char *dir, const char *what, const char *when)
{
	struct seg_ent		*ents = NULL;
	struct seg_header	 sh;
	struct rec_header	 h;
	struct seg_footer	 ft;
	struct stat		 sb;
	unsigned char		*buf;
	const char		*why;
	char			*cause = NULL, path[512];
	uint64_t		 first, off, rs;
	size_t			 n;
	int			 fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
		pl_fail("open %s: %s", dir, strerror(errno));
	if (segment_list(fd, dir, &ents, &n, NULL, NULL, NULL, &cause) != 0)
		pl_fail("%s: %s", what, cause);
	close(fd);
	if (n == 0) {
		free(ents);
		return;
	}
	first = ents[n - 1].first;
	snprintf(path, sizeof path, "%s/%s", dir, ents[n - 1].name);
	free(ents);
	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &sb) != 0)
		pl_fail("open %s: %s", path, strerror(errno));
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL || pread(fd, buf, (size_t)sb.st_size, 0) !=
	    sb.st_size)
		pl_fail("read %s: %s", path, strerror(errno));
	close(fd);
	if ((uint64_t)sb.st_size < SEG_HDR_SIZE ||
	    segment_decode_header(buf, &sh, &why) != 0)
		pl_fail("%s: %s: %s: no valid header", what, when, path);
	for (off = SEG_HDR_SIZE; off + REC_HDR_SIZE <= (uint64_t)sb.st_size;
	    off += REC_ALIGN) {
		if (seg_get32(buf + off) != REC_MAGIC ||
		    segment_decode_rec(buf + off, &h, &why) != 0)
			continue;
		rs = seg_rec_size(h.len);
		if (off + rs > (uint64_t)sb.st_size || segment_rec_crc(sh.seed,
		    buf + off, buf + off + REC_HDR_SIZE, h.len) != h.crc)
			continue;
		if ((h.flags & REC_F_FOOTER) ? segment_decode_footer(buf + off,
		    sh.seed, &ft, &why) == 0 && ft.first_lsn != first :
		    h.lsn < first)
			pl_fail("%s: %s: %s: offset %llu: a %s of LSN %llu, below "
			    "the segment's first LSN %llu: stale bytes", what,
			    when, path, (unsigned long long)off,
			    (h.flags & REC_F_FOOTER) ? "footer" : "record",
			    (unsigned long long)h.lsn, (unsigned long long)first);
	}
	free(buf);
}

/* Runs walctl verify's checker on dir; fails unless it finds nothing,
   and checks that no stale record shows (pl_check_stale). */
static void
pl_verify_clean(const char *dir, const char *what, const char *when)
{
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*f;
	int	 problems;

	if ((f = open_memstream(&out, &len)) == NULL)
		pl_fail("open_memstream: %s", strerror(errno));
	problems = wal_verify_keys(dir, pl_ring, f);
	fclose(f);
	if (problems != 0)
		pl_fail("%s: walctl verify finds %d problems %s:\n%s", what,
		    problems, when, out);
	free(out);
	pl_check_stale(dir, what, when);
}

/*
 * Recovers what the power cut left in dir, with the real system calls,
 * and checks it against what the run's clients were told.
 */
static void
pl_verify(const char *dir, const struct pl_run *r, const char *what)
{
	struct wal_options	 o;
	struct wal_stats	 st;
	struct wal_reader	*rd;
	struct wal_record	 rec;
	struct wal		*w;
	char			*cause = NULL;
	uint64_t		 expect, lsn = 0, hdr_lsn;
	uint32_t		 gen;
	int			 k;

	/* The offline checker finds nothing wrong: a torn tail is a note. */
	pl_verify_clean(dir, what, "after the power cut");

	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.segment_size = PL_SEG;
	o.keyring = pl_ring;
	o.recycle_segments = PL_RECYCLE;
	if ((w = wal_open(&o, &cause)) == NULL)
		pl_fail("%s: recovery refused a directory that only lost "
		    "power: %s", what, cause);
	wal_stats(w, &st);
	if (st.next_lsn <= r->acked)
		pl_fail("%s: the log continues at LSN %llu, but LSN %llu was "
		    "acknowledged", what, (unsigned long long)st.next_lsn,
		    (unsigned long long)r->acked);
	if (st.first_lsn > (r->trunc > 1 ? r->trunc : 1))
		pl_fail("%s: the log starts at LSN %llu; truncation asked for "
		    "no more than %llu", what, (unsigned long long)st.first_lsn,
		    (unsigned long long)r->trunc);
	if (r->seal_acked && !st.sealed)
		pl_fail("%s: the seal was acknowledged, the log is not sealed "
		    "after recovery", what);
	/* New appends continue above every acknowledged LSN. */
	expect = st.next_lsn;
	if (st.sealed) {
		if ((k = wal_append(w, 1, 1, 1, "x", 1, &lsn)) != WAL_ESEALED)
			pl_fail("%s: an append to the sealed log: %d", what, k);
	} else {
		k = wal_append(w, 9, 9, 9, "after the power cut", 19, &lsn);
		if (k == WAL_EWAIT) {
			if (wal_prepare_spare(w, &cause) != 0)
				pl_fail("%s: prepare: %s", what, cause);
			k = wal_append(w, 9, 9, 9, "after the power cut", 19,
			    &lsn);
		}
		if (k != WAL_OK || lsn != expect)
			pl_fail("%s: the append after recovery: rc %d, LSN "
			    "%llu where %llu was expected", what, k,
			    (unsigned long long)lsn, (unsigned long long)expect);
		if (wal_sync(w, NULL, &cause) != 0)
			pl_fail("%s: sync after recovery: %s", what, cause);
	}
	wal_close(w);

	/* Every record: contiguous LSNs, each one appended as it reads. */
	if ((rd = wal_reader_open_keys(dir, 0, NULL, pl_ring, &cause)) == NULL)
		pl_fail("%s: reader: %s", what, cause);
	expect = st.first_lsn;
	while ((k = wal_reader_next(rd, UINT64_MAX, &rec, &cause)) == 1) {
		if (rec.lsn != expect)
			pl_fail("%s: LSN %llu where %llu was expected", what,
			    (unsigned long long)rec.lsn,
			    (unsigned long long)expect);
		expect++;
		if (!st.sealed && rec.lsn == st.next_lsn) {
			if (rec.len != 19 || memcmp(rec.payload,
			    "after the power cut", 19) != 0)
				pl_fail("%s: LSN %llu: not the record appended "
				    "after recovery", what,
				    (unsigned long long)rec.lsn);
			continue;
		}
		if (rec.lsn >= PL_MAXLSN || rec.len < 16)
			pl_fail("%s: LSN %llu: a record never appended", what,
			    (unsigned long long)rec.lsn);
		hdr_lsn = seg_get64(rec.payload);
		gen = seg_get32((const unsigned char *)rec.payload + 8);
		if (hdr_lsn != rec.lsn || gen >= 8 ||
		    !(r->appended[rec.lsn] & (1u << gen)))
			pl_fail("%s: LSN %llu: a record never appended (it says "
			    "LSN %llu, open %u)", what,
			    (unsigned long long)rec.lsn,
			    (unsigned long long)hdr_lsn, gen);
		if (seg_get32((const unsigned char *)rec.payload + 12) !=
		    rec.len || crc32c(0, rec.payload, rec.len) !=
		    r->crc[rec.lsn][gen])
			pl_fail("%s: LSN %llu: payload altered", what,
			    (unsigned long long)rec.lsn);
		if (rec.lsn <= r->acked && gen != r->acked_gen[rec.lsn])
			pl_fail("%s: LSN %llu: acknowledged as appended by open "
			    "%u, holds the record of open %u", what,
			    (unsigned long long)rec.lsn, r->acked_gen[rec.lsn],
			    gen);
	}
	if (k < 0)
		pl_fail("%s: reading the recovered log: %s", what, cause);
	wal_reader_close(rd);
	if (expect != st.next_lsn + (st.sealed ? 0 : 1))
		pl_fail("%s: the records end at LSN %llu; recovery said the "
		    "next is %llu (acknowledged: up to %llu)", what,
		    (unsigned long long)(expect - 1),
		    (unsigned long long)st.next_lsn,
		    (unsigned long long)r->acked);
	pl_verify_clean(dir, what, "after recovery");
}

static const char *
pl_keep_name(enum simio_keep k)
{
	return (k == SIMIO_DROP ? "drop" : k == SIMIO_KEEP ? "keep" : "mixed");
}

/* One trial's parameters. */
struct pl_trial {
	enum wal_direct		 direct;
	uint64_t		 wseed;
	uint64_t		 crash_at;	/* 0: no crash point */
	const struct simio_fault *fault;	/* NULL: none */
	enum simio_keep		 files;
	enum simio_keep		 dirops;
	uint64_t		 seed;
	uint64_t		 free_after;	/* see struct pl_run */
	int			 no_verify;	/* the caller recovers */
};

/*
 * Runs the workload over simio in base/d, cuts the power as the trial
 * says, and checks the recovery. Returns the mutating calls made; *out
 * gets the run.
 */
static uint64_t
pl_trial(const char *base, const struct pl_trial *t, struct pl_run *out,
    char *what, size_t whatlen)
{
	char		dir[256], desc[256];
	uint64_t	ops;

	snprintf(dir, sizeof dir, "%s/d", base);
	pl_rmdir(dir);
	ck_assert_int_eq(mkdir(dir, 0750), 0);
	memset(out, 0, sizeof *out);
	out->dir = dir;
	out->direct = t->direct;
	out->rng = t->wseed;
	out->check_acks = pl_check_acks();
	out->free_after = t->free_after;
	simio_start(dir, t->seed);
	if (t->crash_at != 0)
		simio_crash_at(t->crash_at);
	if (t->fault != NULL)
		simio_fault(t->fault);
	pl_workload(out);
	if (out->w != NULL)
		wal_close(out->w);
	out->w = NULL;
	ops = simio_ops();
	ck_assert_int_eq(simio_power_loss(NULL, t->files, t->dirops, desc,
	    sizeof desc), 0);
	snprintf(what, whatlen, "direct_io %s, workload %llu, crash point "
	    "%llu, fault %d/%llu/%d, files %s, directory %s, seed %llu "
	    "(in %s): acked up to %llu; %s; stopped: %s",
	    t->direct == WAL_DIRECT_ON ? "on" : "off",
	    (unsigned long long)t->wseed, (unsigned long long)t->crash_at,
	    t->fault ? (int)t->fault->call : -1,
	    t->fault ? (unsigned long long)t->fault->nth : 0ull,
	    t->fault ? t->fault->err : 0, pl_keep_name(t->files),
	    pl_keep_name(t->dirops), (unsigned long long)t->seed, dir,
	    (unsigned long long)out->acked, desc,
	    out->stopped ? out->why : "no");
	if (!t->no_verify)
		pl_verify(dir, out, what);
	out->dir = NULL;
	return (ops);
}

/* The power cut of trial i at one call: all unsynced changes lost, all
   kept (what kill -9 leaves), or mixed, the directory cut at random. */
static void
pl_policy(int i, enum simio_keep *files, enum simio_keep *dirops)
{
	*files = i == 0 ? SIMIO_DROP : i == 1 ? SIMIO_KEEP : SIMIO_MIXED;
	*dirops = i == 0 ? SIMIO_DROP : i == 1 ? SIMIO_KEEP :
	    i % 3 == 2 ? SIMIO_MIXED : (enum simio_keep)(i % 3);
}

/* What a sweep checks at each call. */
struct pl_cut {
	const char		*base;
	const struct pl_run	*r;
	const char		*label;
	int			 trials;
	uint64_t		 stride;	/* cut before every stride-th call */
	uint64_t		 offset;	/* from this one */
	uint64_t		 cuts;
};

/* Sets a sweep's trials and stride. */
static void
pl_cut_init(struct pl_cut *c)
{
	c->trials = pl_trials();
	c->stride = pl_stride();
	c->offset = pl_offset(c->stride);
}

/*
 * simio's hook, before mutating call n + 1: writes what each of a few
 * power cuts there would leave (pl_policy) into base/cut, recovers and
 * checks it against what the run's clients were told so far.
 */
static void
pl_cut_cb(void *arg, uint64_t n)
{
	struct pl_cut	*c = arg;
	enum simio_keep	 files, dirops;
	char		 cut[256], desc[256], what[2048];
	int		 i;

	if (c->stride > 1 && n % c->stride != c->offset)
		return;
	snprintf(cut, sizeof cut, "%s/cut", c->base);
	for (i = 0; i < c->trials; i++) {
		/* Every kind of cut comes round, however few per call. */
		pl_policy((int)((n + (uint64_t)i) % (uint64_t)(c->trials < 3 ?
		    3 : c->trials)), &files, &dirops);
		if (simio_image(cut, files, dirops, n * 1000 + (uint64_t)i,
		    desc, sizeof desc) != 0)
			pl_fail("power cut into %s: %s", cut, strerror(errno));
		snprintf(what, sizeof what, "%s: power cut %d before call %llu "
		    "(files %s, directory %s; %s; in %s): acked up to %llu; "
		    "stopped: %s", c->label, i, (unsigned long long)n + 1,
		    pl_keep_name(files), pl_keep_name(dirops), desc, cut,
		    (unsigned long long)c->r->acked,
		    c->r->stopped ? c->r->why : "no");
		pl_verify(cut, c->r, what);
		c->cuts++;
	}
}

/*
 * Cuts the power before every mutating call of the workload, and after
 * the last, a few ways each (pl_policy); then checks the run that went on
 * to the end as a power cut that lost nothing.
 */
static void
pl_sweep(enum wal_direct direct, uint64_t wseed)
{
	static struct pl_run	 r;
	struct pl_cut		 c;
	char			*base = pl_base(), dir[256], what[256],
				 desc[256];
	uint64_t		 total;

	snprintf(dir, sizeof dir, "%s/d", base);
	ck_assert_int_eq(mkdir(dir, 0750), 0);
	memset(&r, 0, sizeof r);
	r.dir = dir;
	r.direct = direct;
	r.rng = wseed;
	r.check_acks = pl_check_acks();
	snprintf(what, sizeof what, "direct_io %s, workload %llu%s",
	    direct == WAL_DIRECT_ON ? "on" : "off", (unsigned long long)wseed,
	    pl_ring != NULL ? ", encrypted" : "");
	memset(&c, 0, sizeof c);
	c.base = base;
	c.r = &r;
	c.label = what;
	pl_cut_init(&c);
	simio_start(dir, wseed);
	simio_on_call(pl_cut_cb, &c);
	pl_workload(&r);
	if (r.w != NULL)
		wal_close(r.w);
	r.w = NULL;
	total = simio_ops();
	simio_on_call(NULL, NULL);
	sysio = sysio_real;
	c.stride = 1;	/* after the last call, always */
	pl_cut_cb(&c, total);
	ck_assert_int_eq(simio_power_loss(NULL, SIMIO_KEEP, SIMIO_KEEP, desc,
	    sizeof desc), 0);
	if (r.stopped)
		ck_abort_msg("%s: stopped: %s", what, r.why);
	pl_verify(dir, &r, what);
	/* The workload as meant: rollovers, a truncation, a recycled
	   segment, the seal. */
	ck_assert_msg(r.seal_acked, "%s: the seal was not acknowledged", what);
	ck_assert_uint_gt(r.acked, 500);
	ck_assert_uint_gt(r.trunc, 0);
	ck_assert_uint_gt(r.recycled, 0);
	fprintf(stderr, "power loss, %s: %llu calls, %llu power cuts recovered "
	    "and checked (stride %llu, offset %llu)\n", what,
	    (unsigned long long)total, (unsigned long long)c.cuts,
	    (unsigned long long)pl_stride(), (unsigned long long)c.offset);
	pl_rmdir(base);
	free(base);
}

START_TEST(test_sim_model)
{
	/* The simulator itself: unsynced data and names go, synced stay. */
	char	*base = pl_base(), dir[256], path[300], desc[256];
	int	 dfd, fd;
	char	 b[8];

	snprintf(dir, sizeof dir, "%s/d", base);
	ck_assert_int_eq(mkdir(dir, 0750), 0);
	simio_start(dir, 1);
	ck_assert_int_ne(dfd = sysio.open(dir, O_RDONLY | O_DIRECTORY, 0), -1);
	ck_assert_int_ne(fd = sysio.openat(dfd, "a", O_RDWR | O_CREAT, 0640),
	    -1);
	ck_assert_int_eq(sysio.pwrite(fd, "synced", 6, 0), 6);
	ck_assert_int_eq(sysio.fdatasync(fd), 0);
	ck_assert_int_eq(sysio.fsync(dfd), 0);
	ck_assert_int_eq(sysio.pwrite(fd, "LOST", 4, 0), 4);
	ck_assert_int_eq(sysio.renameat(dfd, "a", dfd, "b"), 0);
	sysio.close(fd);
	sysio.close(dfd);
	ck_assert_uint_eq(simio_unsynced(NULL), 4);
	ck_assert_int_eq(simio_power_loss(NULL, SIMIO_DROP, SIMIO_DROP, desc,
	    sizeof desc), 0);
	snprintf(path, sizeof path, "%s/a", dir);
	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_eq(read(fd, b, sizeof b), 6);
	ck_assert_int_eq(memcmp(b, "synced", 6), 0);
	close(fd);
	snprintf(path, sizeof path, "%s/b", dir);
	ck_assert_int_eq(access(path, F_OK), -1);

	/* A crash point stops every later write; KEEP is what kill -9 does. */
	simio_start(dir, 2);
	simio_crash_at(2);
	ck_assert_int_ne(dfd = sysio.open(dir, O_RDONLY | O_DIRECTORY, 0), -1);
	ck_assert_int_ne(fd = sysio.openat(dfd, "a", O_RDWR, 0), -1);
	ck_assert_int_eq(sysio.pwrite(fd, "kept", 4, 0), 4);
	ck_assert_int_eq(sysio.pwrite(fd, "gone", 4, 2), -1);
	ck_assert_int_eq(simio_crashed(), 1);
	ck_assert_int_eq(sysio.fdatasync(fd), -1);
	sysio.close(fd);
	sysio.close(dfd);
	ck_assert_int_eq(simio_power_loss(NULL, SIMIO_KEEP, SIMIO_KEEP, desc,
	    sizeof desc), 0);
	snprintf(path, sizeof path, "%s/a", dir);
	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_eq(read(fd, b, sizeof b), 6);
	ck_assert_int_eq(memcmp(b, "kegone", 6), 0);
	close(fd);

	/* A failed fsync: what it covered is decided then, for good. */
	simio_start(dir, 3);
	simio_fault(&(struct simio_fault){ SIMIO_FDATASYNC, 1, 1, EIO });
	ck_assert_int_ne(dfd = sysio.open(dir, O_RDONLY | O_DIRECTORY, 0), -1);
	ck_assert_int_ne(fd = sysio.openat(dfd, "a", O_RDWR, 0), -1);
	ck_assert_int_eq(sysio.pwrite(fd, "x", 1, 0), 1);
	ck_assert_int_eq(sysio.fdatasync(fd), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_uint_eq(simio_unsynced(NULL), 0);
	ck_assert_int_eq(sysio.fdatasync(fd), 0);
	sysio.close(fd);
	sysio.close(dfd);
	simio_stop();
	pl_rmdir(base);
	free(base);
}
END_TEST

START_TEST(test_powerloss_buffered)
{
	pl_sweep(WAL_DIRECT_OFF, 11);
}
END_TEST

START_TEST(test_powerloss_direct)
{
	pl_sweep(WAL_DIRECT_ON, 12);
}
END_TEST

START_TEST(test_powerloss_encrypted)
{
	/* The same with encryption at rest: recovery authenticates the
	   records of the last segment. */
	static const char	 ring[] = "7 "
	    "00112233445566778899aabbccddeeff"
	    "0123456789abcdef0123456789abcdef active\n";
	char			*cause = NULL;

	if ((pl_ring = keyring_parse(ring, strlen(ring), "ring", &cause)) ==
	    NULL)
		ck_abort_msg("key ring: %s", cause);
	pl_sweep(WAL_DIRECT_OFF, 13);
	keyring_free(pl_ring);
	pl_ring = NULL;
}
END_TEST

START_TEST(test_powerloss_fallocated)
{
	/* Spares fallocated only, never written with zeros (what a log
	   written in large flushes gets): the tail past the last record
	   reads as zeros all the same in a new file; in a reused one it
	   holds the earlier segment's records, none valid in the new one
	   (workload 15 begins segments in kept files; 14 did not). */
	pl_spare = WAL_SPARE_FALLOCATE;
	pl_sweep(WAL_DIRECT_ON, 15);
	pl_spare = WAL_SPARE_AUTO;
}
END_TEST

START_TEST(test_faults)
{
	static const struct simio_fault kinds[] = {
		{ SIMIO_FDATASYNC, 0, 1, EIO },
		{ SIMIO_FSYNC, 0, 1, EIO },
		{ SIMIO_DIRSYNC, 0, 1, EIO },
		{ SIMIO_PWRITE, 0, 1, EIO },
		{ SIMIO_PWRITE, 0, 1, ENOSPC },
		{ SIMIO_PWRITE, 0, 1, 0 },	/* a short write */
		{ SIMIO_FALLOCATE, 0, 1, ENOSPC },
		{ SIMIO_FALLOCATE, 0, 1, EOPNOTSUPP },	/* no fallocate */
		{ SIMIO_FTRUNCATE, 0, 1, EIO },
		{ SIMIO_CREATE, 0, 1, ENOSPC },
		{ SIMIO_RENAME, 0, 1, EIO },
		{ SIMIO_UNLINK, 0, 1, EIO },
	};
	static struct pl_run	 r;
	struct simio_fault	 f;
	struct pl_trial		 t;
	char			*base = pl_base(), what[2048];
	uint64_t		 calls[SIMIO_NCALLS], n, step, tried = 0;
	size_t			 k;
	int			 c;

	/* How many calls of each kind the workload makes. */
	memset(&t, 0, sizeof t);
	t.direct = _i == 0 ? WAL_DIRECT_OFF : WAL_DIRECT_ON;
	t.wseed = 21;
	t.files = t.dirops = SIMIO_KEEP;
	t.seed = 1;
	pl_trial(base, &t, &r, what, sizeof what);
	ck_assert_msg(r.seal_acked, "%s", what);
	/* pl_trial forgot the counts with the model: count again. */
	{
		char	dir[256];

		snprintf(dir, sizeof dir, "%s/d", base);
		pl_rmdir(dir);
		ck_assert_int_eq(mkdir(dir, 0750), 0);
		memset(&r, 0, sizeof r);
		r.dir = dir;
		r.direct = t.direct;
		r.rng = t.wseed;
		simio_start(dir, 1);
		pl_workload(&r);
		wal_close(r.w);
		for (c = 0; c < SIMIO_NCALLS; c++)
			calls[c] = simio_calls((enum simio_call)c);
		simio_stop();
	}
	/* Each error at up to ~25 of the calls of its kind (pl_fault_places),
	   then a power cut with mixed losses, then recovery. */
	for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		f = kinds[k];
		step = calls[f.call] / pl_fault_places() + 1;
		for (n = 1 + k % step; n <= calls[f.call]; n += step) {
			f.nth = n;
			t.fault = &f;
			t.files = t.dirops = SIMIO_MIXED;
			t.seed = k * 100000 + n;
			pl_trial(base, &t, &r, what, sizeof what);
			tried++;
			/* Errors the engine absorbs must not stop it. */
			if (f.call == SIMIO_PWRITE && f.err == 0)
				ck_assert_msg(r.seal_acked, "a short write "
				    "stopped the log: %s", what);
			if (f.call == SIMIO_FALLOCATE && f.err == EOPNOTSUPP)
				ck_assert_msg(r.seal_acked, "a file system "
				    "without fallocate stopped the "
				    "log: %s", what);
			if (f.call == SIMIO_FALLOCATE && !r.seal_acked)
				ck_assert_msg(strstr(r.why, "wal_open") != NULL,
				    "ENOSPC while preparing a segment stopped "
				    "the log: %s", what);
		}
	}
	fprintf(stderr, "injected errors, direct_io %s: %llu runs recovered "
	    "and checked\n", t.direct == WAL_DIRECT_ON ? "on" : "off",
	    (unsigned long long)tried);
	pl_rmdir(base);
	free(base);
}
END_TEST

START_TEST(test_enospc_resume)
{
	/* No space for the next segment: the appends that need it are
	   refused with nothing written; once space is freed (the errors
	   lifted after three refusals), a preparation succeeds and appends
	   resume, with no reopen. */
	static struct pl_run	 r;
	struct simio_fault	 f = { SIMIO_FALLOCATE, 2, 1000, ENOSPC };
	struct pl_trial		 t;
	char			*base = pl_base(), what[2048];

	memset(&t, 0, sizeof t);
	t.direct = WAL_DIRECT_OFF;
	t.wseed = 31;
	t.fault = &f;
	t.files = SIMIO_MIXED;
	t.dirops = SIMIO_MIXED;
	t.seed = 5;
	t.free_after = 3;
	pl_trial(base, &t, &r, what, sizeof what);
	ck_assert_msg(r.enospc >= 3, "appends were not refused: %s", what);
	ck_assert_msg(r.resumed > 0, "appends did not resume: %s", what);
	ck_assert_msg(r.seal_acked, "the workload did not finish: %s", what);
	pl_rmdir(base);
	free(base);
}
END_TEST

START_TEST(test_truncate_dirsync_eio)
{
	/* A truncation whose directory fsync fails: the segment is gone from
	   the directory all the same, and a later truncation goes on from
	   there (it must not trip over the missing file for ever). After a
	   power cut the segment may be back: that is harmless. */
	struct simio_fault	 f = { SIMIO_DIRSYNC, 0, 1, EIO };
	struct wal_options	 o;
	struct wal_stats	 st;
	struct wal		*w;
	char			*base = pl_base(), dir[256], desc[256],
				 *cause = NULL;
	uint64_t		 lsn, first, last = 0;
	int			 i, k;

	snprintf(dir, sizeof dir, "%s/d", base);
	ck_assert_int_eq(mkdir(dir, 0750), 0);
	simio_start(dir, 1);
	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.segment_size = PL_SEG;
	ck_assert_ptr_nonnull(w = wal_open(&o, &cause));
	for (k = 0; k < 4; k++) {
		for (i = 0; i < 10; i++) {
			ck_assert_int_eq(wal_append(w, 1, 2, 3, "record", 6,
			    &lsn), WAL_OK);
			last = lsn;
		}
		ck_assert_int_eq(wal_sync(w, NULL, &cause), 0);
		ck_assert_int_eq(wal_rotate(w, &cause), 0);
	}
	f.nth = simio_calls(SIMIO_DIRSYNC) + 1;
	simio_fault(&f);
	ck_assert_int_eq(wal_truncate_before(w, last + 1, &first, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "fsync directory"));
	free(cause);
	cause = NULL;
	if (wal_truncate_before(w, last + 1, &first, &cause) != 0)
		ck_abort_msg("truncation after a failed directory fsync: %s",
		    cause);
	/* Only the last segment (31..40) is left: truncation never takes it. */
	wal_stats(w, &st);
	ck_assert_uint_eq(st.segments, 1);
	ck_assert_uint_eq(first, last - 9);
	wal_close(w);
	ck_assert_int_eq(simio_power_loss(NULL, SIMIO_MIXED, SIMIO_MIXED, desc,
	    sizeof desc), 0);
	ck_assert_ptr_nonnull(w = wal_open(&o, &cause));
	wal_close(w);
	pl_verify_clean(dir, desc, "after a truncation and a power cut");
	pl_rmdir(base);
	free(base);
}
END_TEST

START_TEST(test_powerloss_in_recovery)
{
	/* A power cut, then another before each call of the recovery from
	   it (sealing the torn segment, replacing the spare, starting a new
	   segment), a few ways each; then the recovery that went through. */
	static struct pl_run	 r;
	struct pl_trial		 t;
	struct pl_cut		 c;
	struct wal_options	 o;
	struct wal		*w;
	char			*base = pl_base(), what[2048], dir[256],
				 desc[256], *cause = NULL;
	uint64_t		 total, n;

	snprintf(dir, sizeof dir, "%s/d", base);
	memset(&t, 0, sizeof t);
	t.direct = _i == 0 ? WAL_DIRECT_OFF : WAL_DIRECT_ON;
	t.wseed = 41;
	t.files = t.dirops = SIMIO_KEEP;
	total = pl_trial(base, &t, &r, what, sizeof what);
	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.segment_size = PL_SEG;
	o.direct_io = t.direct;
	memset(&c, 0, sizeof c);
	c.base = base;
	c.r = &r;
	c.label = what;
	pl_cut_init(&c);
	for (n = 5; n <= total; n += total / 12) {
		t.crash_at = n;
		t.files = t.dirops = SIMIO_MIXED;
		t.seed = n;
		t.no_verify = 1;
		pl_trial(base, &t, &r, what, sizeof what);
		simio_start(dir, n);
		simio_on_call(pl_cut_cb, &c);
		w = wal_open(&o, &cause);
		if (w == NULL)
			ck_abort_msg("%s: recovery failed: %s", what, cause);
		wal_close(w);
		simio_on_call(NULL, NULL);
		ck_assert_int_eq(simio_power_loss(NULL, SIMIO_KEEP, SIMIO_KEEP,
		    desc, sizeof desc), 0);
		pl_verify(dir, &r, what);
	}
	fprintf(stderr, "power loss in recovery, direct_io %s: %llu power "
	    "cuts recovered and checked\n", t.direct == WAL_DIRECT_ON ? "on" :
	    "off", (unsigned long long)c.cuts);
	/* Recovery makes a few dozen calls each time: with a stride, still
	   a cut in every one of them at least. */
	ck_assert_uint_ge(c.cuts, 12);
	pl_rmdir(base);
	free(base);
}
END_TEST

/* The suite. */
static Suite *
check_powerloss_suite(void)
{
	Suite	*s = suite_create("powerloss");
	TCase	*sim = tcase_create("sim");
	TCase	*cut = tcase_create("cut");
	TCase	*fault = tcase_create("fault");
	TCase	*rec = tcase_create("recovery");

	/* CK_RUN_CASE=cut (say) runs one case. */
	tcase_add_test(sim, test_sim_model);
	tcase_set_timeout(cut, 1200);
	tcase_add_test(cut, test_powerloss_buffered);
	tcase_add_test(cut, test_powerloss_direct);
	tcase_add_test(cut, test_powerloss_encrypted);
	tcase_add_test(cut, test_powerloss_fallocated);
	tcase_set_timeout(fault, 1200);
	tcase_add_loop_test(fault, test_faults, 0, 2);
	tcase_add_test(fault, test_enospc_resume);
	tcase_add_test(fault, test_truncate_dirsync_eio);
	tcase_set_timeout(rec, 1200);
	tcase_add_loop_test(rec, test_powerloss_in_recovery, 0, 2);
	suite_add_tcase(s, sim);
	suite_add_tcase(s, cut);
	suite_add_tcase(s, fault);
	suite_add_tcase(s, rec);
	return (s);
}

/* Runs the suite; non-zero exit on any failure. */
int
main(void)
{
	SRunner	*sr = srunner_create(check_powerloss_suite());
	int	 failed;

	/* Thousands of recoveries allocate and free the engine's 1 MiB
	   buffers: keep them in the heap rather than map them each time. */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
