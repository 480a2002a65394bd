/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_wal.c: Check suite for the WAL engine (wal.c, segment.c,
 * wal-reader.c, wal-verify.c): format, LSN continuity, recovery of torn
 * tails versus corruption, seal, truncation, reader, lock, injected faults.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "segment.h"
#include "sysio.h"
#include "wal.h"
#include "wal-reader.h"

#define SEG1M	(1ull << 20)

static char	check_wal_logbuf[16384];

/* Keeps the log lines of the engine for the test to look at. */
static void
check_wal_log_cb(int level, const char *msg)
{
	size_t	have = strlen(check_wal_logbuf);

	(void)level;
	snprintf(check_wal_logbuf + have, sizeof check_wal_logbuf - have,
	    "%s\n", msg);
}

/* Makes a fresh directory under /tmp; the caller frees the path. */
static char *
check_wal_tmpdir(void)
{
	char	tmpl[] = "/tmp/check_wal.XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	return (strdup(tmpl));
}

/* Removes a test directory. */
static void
check_wal_rmdir(const char *dir)
{
	char	cmd[512];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Copies directory src to dst (replacing dst). */
static void
check_wal_copydir(const char *src, const char *dst)
{
	char	cmd[2048];
	int	n;

	n = snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", dst,
	    src, dst);
	ck_assert_int_lt(n, (int)sizeof cmd);
	ck_assert_int_eq(system(cmd), 0);
}

/* Opens a log with the given segment size and I/O mode, or fails. */
/* How check_wal_open has spares made (test_spare_modes changes it). */
static enum wal_spare_mode check_wal_spare_mode = WAL_SPARE_AUTO;
static uint32_t check_wal_recycle;	/* wal_options.recycle_segments */

static struct wal *
check_wal_open(const char *dir, uint64_t seg, enum wal_direct d)
{
	struct wal_options	 o;
	struct wal		*w;
	char			*cause = NULL;

	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.segment_size = seg;
	o.direct_io = d;
	o.log = check_wal_log_cb;
	o.spare_mode = check_wal_spare_mode;
	o.recycle_segments = check_wal_recycle;
	w = wal_open(&o, &cause);
	if (w == NULL)
		ck_abort_msg("wal_open %s: %s", dir, cause);
	return (w);
}

/* Opens a log that must be refused; returns the cause. */
static char *
check_wal_open_fail(const char *dir, uint64_t seg)
{
	struct wal_options	 o;
	struct wal		*w;
	char			*cause = NULL;

	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.segment_size = seg;
	o.log = check_wal_log_cb;
	w = wal_open(&o, &cause);
	ck_assert_ptr_null(w);
	ck_assert_ptr_nonnull(cause);
	return (cause);
}

/* Deterministic payload of a record. */
static void
check_wal_payload(uint64_t lsn, unsigned char *buf, uint32_t len)
{
	uint32_t	i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(lsn * 31 + i * 7);
}

/* Payload length used for an LSN by most tests. */
static uint32_t
check_wal_len(uint64_t lsn)
{
	return (100 + (uint32_t)(lsn * 37 % 3000));
}

/* Syncs or fails the test. */
static uint64_t
check_wal_sync(struct wal *w)
{
	uint64_t	 d = 0;
	char		*cause = NULL;

	if (wal_sync(w, &d, &cause) != 0)
		ck_abort_msg("wal_sync: %s", cause);
	return (d);
}

/* Appends one record, flushing or preparing a spare as asked; its LSN. */
static uint64_t
check_wal_append(struct wal *w, uint16_t type, uint32_t tenant,
    uint16_t vshard, uint32_t len)
{
	static unsigned char	 buf[1 << 16];
	struct wal_stats	 st;
	uint64_t		 lsn;
	enum wal_rc		 rc;
	char			*cause = NULL;
	int			 tries;

	wal_stats(w, &st);
	check_wal_payload(st.next_lsn, buf, len);
	for (tries = 0; tries < 10; tries++) {
		rc = wal_append(w, type, tenant, vshard, buf, len, &lsn);
		if (rc == WAL_OK) {
			ck_assert_uint_eq(lsn, st.next_lsn);
			return (lsn);
		}
		if (rc == WAL_EFULL)
			check_wal_sync(w);
		else if (rc == WAL_EWAIT) {
			if (wal_prepare_spare(w, &cause) != 0)
				ck_abort_msg("prepare: %s", cause);
		} else
			ck_abort_msg("wal_append: rc %d", rc);
	}
	ck_abort_msg("wal_append: no progress");
	return (0);
}

/* Appends n records (default lengths), syncing every `every`, then syncs. */
static void
check_wal_write(struct wal *w, int n, int every)
{
	struct wal_stats	st;
	int			i;

	for (i = 0; i < n; i++) {
		wal_stats(w, &st);
		check_wal_append(w, (uint16_t)(st.next_lsn % 2),
		    (uint32_t)(st.next_lsn % 3), (uint16_t)(st.next_lsn % 5),
		    check_wal_len(st.next_lsn));
		if (every > 0 && (i + 1) % every == 0)
			check_wal_sync(w);
	}
	check_wal_sync(w);
}

/* Reads the whole log from `from` and checks every record; the count. */
static uint64_t
check_wal_readall(const char *dir, uint64_t from, uint64_t expect_first)
{
	struct wal_reader	*r;
	struct wal_record	 rec;
	unsigned char		 buf[4096];
	uint64_t		 n = 0, next = expect_first;
	char			*cause = NULL;
	int			 k;

	r = wal_reader_open(dir, from, NULL, &cause);
	if (r == NULL)
		ck_abort_msg("reader: %s", cause);
	while ((k = wal_reader_next(r, UINT64_MAX, &rec, &cause)) == 1) {
		ck_assert_uint_eq(rec.lsn, next);
		ck_assert_uint_eq(rec.len, check_wal_len(rec.lsn));
		check_wal_payload(rec.lsn, buf, rec.len);
		ck_assert_int_eq(memcmp(buf, rec.payload, rec.len), 0);
		ck_assert_uint_eq(rec.tenant, rec.lsn % 3);
		ck_assert_uint_eq(rec.vshard, rec.lsn % 5);
		ck_assert_uint_eq(rec.type, rec.lsn % 2);
		next++;
		n++;
	}
	if (k != 0)
		ck_abort_msg("reader: %s", cause);
	wal_reader_close(r);
	return (n);
}

/* Number of segment files in a directory. */
static int
check_wal_nsegs(const char *dir)
{
	char	cmd[512], out[64];
	FILE	*f;
	int	n;

	snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '\\.wal$'", dir);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(out, sizeof out, f));
	pclose(f);
	n = atoi(out);
	return (n);
}

/* Path of a segment file. */
static void
check_wal_segpath(char *buf, size_t len, const char *dir, uint64_t first)
{
	char	name[SEG_NAME_SIZE];
	int	n;

	segment_name(name, first);
	n = snprintf(buf, len, "%s/%s", dir, name);
	ck_assert_int_lt(n, (int)len);
}

/* Reads a whole file into memory. */
static unsigned char *
check_wal_slurp(const char *path, size_t *len)
{
	struct stat	 sb;
	unsigned char	*b;
	int		 fd;

	fd = open(path, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	b = malloc((size_t)sb.st_size + 1);
	ck_assert_int_eq(pread(fd, b, (size_t)sb.st_size, 0), sb.st_size);
	close(fd);
	*len = (size_t)sb.st_size;
	return (b);
}

/* Writes len bytes of value c at off in a file. */
static void
check_wal_poke(const char *path, uint64_t off, int c, size_t len)
{
	unsigned char	buf[8192];
	int		fd;

	ck_assert_uint_le(len, sizeof buf);
	memset(buf, c, len);
	fd = open(path, O_WRONLY);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* Flips one bit at off in a file. */
static void
check_wal_flip(const char *path, uint64_t off)
{
	unsigned char	b;
	int		fd;

	fd = open(path, O_RDWR);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x10;
	ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

/* Bytes of extension fields every record wal_append writes has: its
   time (FORMAT.md). */
#define CHECK_WAL_EXT	8

/* Offset of record lsn in a segment starting at first (default lengths). */
static uint64_t
check_wal_offset(uint64_t first, uint64_t lsn)
{
	uint64_t	off = SEG_HDR_SIZE, i;

	for (i = first; i < lsn; i++)
		off += seg_rec_size(CHECK_WAL_EXT + check_wal_len(i));
	return (off);
}

START_TEST(test_format_roundtrip)
{
	unsigned char		 b[SEG_HDR_SIZE], pl[100];
	unsigned char		 cat[16 + REC_HDR_SIZE + 100];
	struct seg_header	 h, h2;
	struct rec_header	 r, r2;
	struct seg_footer	 f, f2;
	const char		*why;
	char			 name[SEG_NAME_SIZE];
	uint64_t		 v;
	uint32_t		 seed;

	memset(&h, 0, sizeof h);
	h.version = SEG_VERSION;
	h.hdr_len = SEG_HDR_SIZE;
	h.first_lsn = 12345;
	memset(h.id, 7, sizeof h.id);
	h.ctime_ns = 1700000000123456789ull;
	h.key_id = 0;
	segment_encode_header(b, &h);
	ck_assert_int_eq(memcmp(b, "WALLDSEG", 8), 0);
	ck_assert_uint_eq(seg_get64(b + 16), 12345);
	ck_assert_int_eq(segment_decode_header(b, &h2, &why), 0);
	ck_assert_uint_eq(h2.first_lsn, 12345);
	ck_assert_uint_eq(h2.ctime_ns, h.ctime_ns);
	ck_assert_int_eq(memcmp(h2.id, h.id, 16), 0);
	/* Version 2: record CRCs begin with the segment id; version 1: not. */
	seed = h2.seed;
	ck_assert_uint_eq(seed, crc32c(0, h.id, 16));
	ck_assert_uint_eq(segment_seed(SEG_VERSION_UNSEEDED, h.id), 0);
	b[100] ^= 1;
	ck_assert_int_eq(segment_decode_header(b, &h2, &why), -1);
	b[100] ^= 1;
	/* An unknown required flag is refused, an optional one is not. */
	seg_put32(b + 12, 0x00010000u);
	seg_put32(b + 4092, crc32c(0, b, 4092));
	ck_assert_int_eq(segment_decode_header(b, &h2, &why), 0);
	seg_put32(b + 12, 0x00000002u);
	seg_put32(b + 4092, crc32c(0, b, 4092));
	ck_assert_int_eq(segment_decode_header(b, &h2, &why), -1);
	seg_put32(b + 12, SEG_F_ENCRYPTED);
	seg_put32(b + 4092, crc32c(0, b, 4092));
	ck_assert_int_eq(segment_decode_header(b, &h2, &why), -1);

	memset(&r, 0, sizeof r);
	r.type = 3;
	r.vshard = 9;
	r.tenant = 77;
	r.len = sizeof pl;
	r.lsn = 42;
	r.batch_lsn = 40;
	memset(pl, 0xab, sizeof pl);
	segment_encode_rec(b, &r);
	seg_put32(b + 20, segment_rec_crc(seed, b, pl, sizeof pl));
	ck_assert_int_eq(segment_decode_rec(b, &r2, &why), 0);
	ck_assert_uint_eq(r2.type, 3);
	ck_assert_uint_eq(r2.vshard, 9);
	ck_assert_uint_eq(r2.tenant, 77);
	ck_assert_uint_eq(r2.len, 100);
	ck_assert_uint_eq(r2.lsn, 42);
	ck_assert_uint_eq(r2.batch_lsn, 40);
	ck_assert_uint_eq(r2.crc, segment_rec_crc(seed, b, pl, sizeof pl));
	ck_assert_uint_ne(r2.crc, segment_rec_crc(0, b, pl, sizeof pl));
	/* As FORMAT.md says: CRC-32C of id || header (CRC field 0) ||
	   payload, in one piece. */
	memcpy(cat, h.id, 16);
	memcpy(cat + 16, b, REC_HDR_SIZE);
	memset(cat + 16 + 20, 0, 4);
	memcpy(cat + 16 + REC_HDR_SIZE, pl, sizeof pl);
	ck_assert_uint_eq(r2.crc, crc32c(0, cat, sizeof cat));
	ck_assert_uint_eq(seg_rec_size(100), 144);
	ck_assert_uint_eq(seg_rec_size(0), 40);
	/* Optional record flags are ignored, unknown required ones refused. */
	seg_put16(b + 6, 0x0010);
	ck_assert_int_eq(segment_decode_rec(b, &r2, &why), 0);
	seg_put16(b + 6, 0x0008);
	ck_assert_int_eq(segment_decode_rec(b, &r2, &why), -1);
	/* Extension flags: known, and the length must hold them; never on
	   a footer. */
	seg_put16(b + 6, REC_F_TIME | REC_F_PRODUCER);
	ck_assert_int_eq(segment_decode_rec(b, &r2, &why), 0);
	seg_put32(b + 16, 23);
	ck_assert_int_eq(segment_decode_rec(b, &r2, &why), -1);
	seg_put32(b + 16, 24);
	ck_assert_int_eq(segment_decode_rec(b, &r2, &why), 0);
	seg_put16(b + 6, REC_F_TIME | REC_F_FOOTER);
	ck_assert_int_eq(segment_decode_rec(b, &r2, &why), -1);
	seg_put16(b + 6, 0);
	seg_put32(b + 16, REC_MAX_PAYLOAD + 1);
	ck_assert_int_eq(segment_decode_rec(b, &r2, &why), -1);

	f.first_lsn = 10;
	f.last_lsn = 19;
	f.count = 10;
	f.offset = 8192;
	f.data_crc = 0xdeadbeef;
	f.flags = FOOTER_F_LOG_SEALED;
	segment_encode_footer(b, &f, seed);
	ck_assert_int_eq(segment_decode_footer(b, seed, &f2, &why), 0);
	ck_assert_int_eq(memcmp(&f, &f2, sizeof f), 0);
	ck_assert_uint_eq(seg_get16(b + 6), REC_F_FOOTER);
	/* Another segment's footer is not valid in this one. */
	ck_assert_int_eq(segment_decode_footer(b, seed ^ 1, &f2, &why), -1);
	b[FOOTER_SIZE - 1] ^= 1;
	ck_assert_int_eq(segment_decode_footer(b, seed, &f2, &why), -1);

	segment_name(name, 1);
	ck_assert_str_eq(name, "00000000000000000001.wal");
	ck_assert_int_eq(segment_parse_name(name, &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(segment_parse_name("1.wal", &v), -1);
	ck_assert_int_eq(segment_parse_name("99999999999999999999.wal", &v),
	    -1);
	ck_assert_int_eq(segment_parse_name("00000000000000000000.wal", &v),
	    -1);
}
END_TEST

START_TEST(test_append_reopen)
{
	struct wal		*w;
	struct wal_stats	 st;
	char			*dir = check_wal_tmpdir();

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.next_lsn, 1);
	ck_assert_uint_eq(st.durable_lsn, 0);
	check_wal_write(w, 100, 7);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.next_lsn, 101);
	ck_assert_uint_eq(st.durable_lsn, 100);
	ck_assert_uint_ge(st.flushes, 14);
	wal_close(w);
	ck_assert_uint_eq(check_wal_readall(dir, 0, 1), 100);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.next_lsn, 101);
	ck_assert_uint_eq(st.durable_lsn, 100);
	ck_assert_uint_eq(st.first_lsn, 1);
	check_wal_write(w, 10, 0);
	wal_close(w);
	ck_assert_uint_eq(check_wal_readall(dir, 0, 1), 110);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_rollover_continuity)
{
	struct wal		*w;
	struct wal_stats	 st;
	char			*dir = check_wal_tmpdir();
	int			 round;

	for (round = 0; round < 3; round++) {
		w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
		wal_stats(w, &st);
		ck_assert_uint_eq(st.next_lsn, (uint64_t)round * 1500 + 1);
		check_wal_write(w, 1500, 50);
		wal_stats(w, &st);
		ck_assert_uint_eq(st.next_lsn, (uint64_t)(round + 1) * 1500 + 1);
		ck_assert_uint_le(st.active_offset, SEG1M - FOOTER_SIZE);
		wal_close(w);
	}
	/* 4.5k records of ~1.6 KiB: several 1 MiB segments. */
	ck_assert_int_ge(check_wal_nsegs(dir), 7);
	ck_assert_uint_eq(check_wal_readall(dir, 0, 1), 4500);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_empty_last_segment)
{
	struct wal		*w;
	struct wal_stats	 st;
	char			*dir = check_wal_tmpdir();
	int			 i, nsegs;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 10, 0);
	wal_close(w);
	/* Each open starts a new (empty) segment; the empty one is reused. */
	for (i = 0; i < 3; i++) {
		w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
		wal_stats(w, &st);
		ck_assert_uint_eq(st.next_lsn, 11);
		ck_assert_uint_eq(st.active_first_lsn, 11);
		wal_close(w);
	}
	nsegs = check_wal_nsegs(dir);
	ck_assert_int_eq(nsegs, 2);
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	ck_assert_uint_eq(check_wal_append(w, 1, 2, 3, 50), 11);
	check_wal_sync(w);
	wal_close(w);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_fully_torn_last_segment)
{
	struct wal		*w;
	struct wal_stats	 st;
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	char			 path[512];

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 10, 0);
	ck_assert_int_eq(wal_rotate(w, &cause), 0);
	check_wal_write(w, 5, 0);	/* LSN 11..15, one flush */
	wal_close(w);
	/* The whole flush is torn: its first record is garbage. */
	check_wal_segpath(path, sizeof path, dir, 11);
	check_wal_poke(path, SEG_HDR_SIZE + 8, 0x5a, 64);
	check_wal_logbuf[0] = '\0';
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	ck_assert_ptr_nonnull(strstr(check_wal_logbuf, "torn tail cut at "
	    "offset 4096, first lost LSN 11"));
	wal_stats(w, &st);
	ck_assert_uint_eq(st.next_lsn, 11);
	ck_assert_uint_eq(check_wal_append(w, 1, 2, 3, 10), 11);
	check_wal_sync(w);
	wal_close(w);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

/* Torn tail at every byte of the last record, zeroed or garbage; or at
   every WALD_TORN_STRIDE-th byte: under qemu (the cross-build's run),
   where each of the ~200 recoveries costs a hundred times more, and by
   default every third byte under AddressSanitizer, whose pass looks for
   memory errors while the plain pass tears at every byte. */
static void
check_wal_torn_every(enum wal_direct d, int garbage)
{
	struct wal		*w;
	struct wal_stats	 st;
	char			*dir = check_wal_tmpdir(), copy[512], path[512];
	char			 want[128];
	const char		*env = getenv("WALD_TORN_STRIDE");
	uint64_t		 start, end, o, stride = 1;
	const int		 n = 20;

#ifdef __SANITIZE_ADDRESS__
	stride = 3;
#endif
	if (env != NULL && strtoull(env, NULL, 10) > 0)
		stride = strtoull(env, NULL, 10);

	w = check_wal_open(dir, SEG1M, d);
	check_wal_write(w, n - 1, 4);
	check_wal_write(w, 1, 0);	/* LSN n alone in the last flush */
	wal_close(w);
	start = check_wal_offset(1, n);
	end = start + seg_rec_size(CHECK_WAL_EXT + check_wal_len(n));
	snprintf(copy, sizeof copy, "%s.copy", dir);
	check_wal_segpath(path, sizeof path, copy, 1);
	for (o = start; o < end; o += stride) {
		check_wal_copydir(dir, copy);
		if (garbage)
			check_wal_poke(path, o, 0xa5, (size_t)(end - o));
		else
			check_wal_poke(path, o, 0, (size_t)(end - o));
		check_wal_logbuf[0] = '\0';
		w = check_wal_open(copy, SEG1M, d);
		wal_stats(w, &st);
		ck_assert_uint_eq(st.next_lsn, n);
		if (o > start || garbage) {
			snprintf(want, sizeof want, "torn tail cut at offset "
			    "%llu, first lost LSN %d", (unsigned long long)start,
			    n);
			ck_assert_msg(strstr(check_wal_logbuf, want) != NULL,
			    "offset %llu: log: %s", (unsigned long long)o,
			    check_wal_logbuf);
		}
		ck_assert_uint_eq(check_wal_append(w, 1, 2, 3, 10), n);
		check_wal_sync(w);
		wal_close(w);
		ck_assert_int_eq(wal_verify(copy, stderr), 0);
	}
	/* The first n - 1 records of the last copy are intact. */
	w = check_wal_open(copy, SEG1M, d);
	wal_close(w);
	check_wal_rmdir(copy);
	check_wal_rmdir(dir);
	free(dir);
}

START_TEST(test_torn_tail_every_offset)
{
	check_wal_torn_every(WAL_DIRECT_AUTO, 0);
}
END_TEST

START_TEST(test_torn_tail_every_offset_garbage)
{
	check_wal_torn_every(WAL_DIRECT_OFF, 1);
}
END_TEST

START_TEST(test_torn_tail_keeps_prefix)
{
	struct wal_reader	*r;
	struct wal_record	 rec;
	struct wal		*w;
	char			*dir = check_wal_tmpdir(), path[512];
	char			*cause = NULL;
	uint64_t		 n = 0;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 19, 4);
	check_wal_write(w, 3, 0);	/* LSN 20..22 in one flush */
	wal_close(w);
	/* Tear the middle record of the last flush: 21 and 22 are lost. */
	check_wal_segpath(path, sizeof path, dir, 1);
	check_wal_poke(path, check_wal_offset(1, 21) + 50, 0, 8);
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	ck_assert_uint_eq(check_wal_append(w, 1, 2, 3, 10), 21);
	check_wal_sync(w);
	wal_close(w);
	r = wal_reader_open(dir, 1, NULL, &cause);
	ck_assert_ptr_nonnull(r);
	while (wal_reader_next(r, UINT64_MAX, &rec, &cause) == 1)
		ck_assert_uint_eq(rec.lsn, ++n);
	ck_assert_uint_eq(n, 21);
	wal_reader_close(r);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_midfile_corruption)
{
	struct wal	*w;
	char		*dir = check_wal_tmpdir(), path[512], want[64];
	char		*cause, *out = NULL;
	unsigned char	*before, *after;
	size_t		 lb, la, outlen = 0;
	uint64_t	 off;
	FILE		*f;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 50, 5);	/* ten flushes */
	wal_close(w);
	check_wal_segpath(path, sizeof path, dir, 1);
	off = check_wal_offset(1, 3);
	check_wal_flip(path, off + REC_HDR_SIZE + 5);
	before = check_wal_slurp(path, &lb);

	cause = check_wal_open_fail(dir, SEG1M);
	ck_assert_ptr_nonnull(strstr(cause, "00000000000000000001.wal"));
	snprintf(want, sizeof want, "offset %llu: LSN 3:",
	    (unsigned long long)off);
	ck_assert_msg(strstr(cause, want) != NULL, "%s", cause);
	free(cause);

	after = check_wal_slurp(path, &la);
	ck_assert_uint_eq(la, lb);
	ck_assert_int_eq(memcmp(before, after, la), 0);
	ck_assert_int_eq(check_wal_nsegs(dir), 1);

	f = open_memstream(&out, &outlen);
	ck_assert_int_ge(wal_verify(dir, f), 1);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(out, want));
	free(out);
	free(before);
	free(after);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

/* A segment image of SEG1M: its header (format version, flags, first
   LSN, an id of idbyte repeated) encoded, zeros after; *h gets the seed. */
static unsigned char *
check_wal_seg_image(struct seg_header *h, uint16_t version, uint32_t flags,
    uint64_t first, int idbyte)
{
	unsigned char	*b;

	ck_assert_ptr_nonnull(b = calloc(1, SEG1M));
	memset(h, 0, sizeof *h);
	h->version = version;
	h->hdr_len = SEG_HDR_SIZE;
	h->flags = flags;
	h->first_lsn = first;
	memset(h->id, idbyte, sizeof h->id);
	segment_encode_header(b, h);
	h->seed = segment_seed(version, h->id);
	return (b);
}

/* Writes len bytes of b as the new segment file dir/first, and frees b. */
static void
check_wal_put_file(const char *dir, uint64_t first, unsigned char *b,
    size_t len)
{
	char	path[512];
	int	fd;

	check_wal_segpath(path, sizeof path, dir, first);
	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0640),
	    0);
	ck_assert_int_eq(write(fd, b, len), (ssize_t)len);
	close(fd);
	free(b);
}

/* Puts the record of LSN lsn as check_wal_write makes it at b + off, its
   CRC from seed; returns the bytes it takes. */
static uint64_t
check_wal_put_rec(unsigned char *b, uint64_t off, uint32_t seed,
    uint64_t lsn, uint64_t batch)
{
	struct rec_header	r;

	memset(&r, 0, sizeof r);
	r.type = (uint16_t)(lsn % 2);
	r.tenant = (uint32_t)(lsn % 3);
	r.vshard = (uint16_t)(lsn % 5);
	r.len = check_wal_len(lsn);
	r.lsn = lsn;
	r.batch_lsn = batch;
	check_wal_payload(lsn, b + off + REC_HDR_SIZE, r.len);
	segment_encode_rec(b + off, &r);
	r.crc = segment_rec_crc(seed, b + off, b + off + REC_HDR_SIZE, r.len);
	segment_encode_rec(b + off, &r);
	return (seg_rec_size(r.len));
}

/*
 * Writes segment dir/first as walld wrote it in format version 1 (record
 * CRCs without the segment id): n records as check_wal_write makes them,
 * then a footer and the cut when sealed, else zeros up to SEG1M.
 */
static void
check_wal_put_v1(const char *dir, uint64_t first, uint64_t n, int sealed)
{
	struct seg_header	 h;
	struct seg_footer	 f;
	unsigned char		*b;
	uint64_t		 off = SEG_HDR_SIZE, lsn;

	b = check_wal_seg_image(&h, SEG_VERSION_UNSEEDED, 0, first,
	    (int)first);
	for (lsn = first; lsn < first + n; lsn++)
		off += check_wal_put_rec(b, off, 0, lsn, lsn);
	if (sealed) {
		f.first_lsn = first;
		f.last_lsn = first + n - 1;
		f.count = n;
		f.offset = off;
		f.data_crc = crc32c(0, b + SEG_HDR_SIZE, off - SEG_HDR_SIZE);
		f.flags = 0;
		segment_encode_footer(b + off, &f, 0);
		off += FOOTER_SIZE;
	}
	check_wal_put_file(dir, first, b, sealed ? (size_t)off : SEG1M);
}

/* A directory written in format version 1 (before the segment id went
   into record CRCs) opens: its sealed segment and its active one read
   back, the active one is sealed where its records end, and what
   follows is written in version 2. */
START_TEST(test_format_v1)
{
	struct wal		*w;
	struct wal_stats	 st;
	struct seg_header	 h;
	const char		*why;
	char			*dir = check_wal_tmpdir(), path[512];
	int			 fd;

	check_wal_put_v1(dir, 1, 20, 1);
	check_wal_put_v1(dir, 21, 15, 0);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	ck_assert_uint_eq(check_wal_readall(dir, 1, 1), 35);
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.next_lsn, 36);
	check_wal_write(w, 10, 0);
	wal_stats(w, &st);
	wal_close(w);
	ck_assert_uint_eq(check_wal_readall(dir, 1, 1), 45);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	check_wal_segpath(path, sizeof path, dir, 21);
	ck_assert_int_ge(fd = open(path, O_RDONLY), 0);
	ck_assert_int_eq(segment_read_header(fd, &h, &why), 0);
	ck_assert_uint_eq(h.version, SEG_VERSION_UNSEEDED);
	close(fd);
	check_wal_segpath(path, sizeof path, dir, st.active_first_lsn);
	ck_assert_uint_eq(st.active_first_lsn, 36);
	ck_assert_int_ge(fd = open(path, O_RDONLY), 0);
	ck_assert_int_eq(segment_read_header(fd, &h, &why), 0);
	ck_assert_uint_eq(h.version, SEG_VERSION);
	close(fd);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

/*
 * Writes dir/00..01.wal as a reused active segment of SEG1M: 20 records
 * (LSN 1..20, each its own flush), then, from the cut, what `how` says:
 * 0 the earlier segment's records (LSNs below 1: never checked), 1
 * headers shaped like records of a later flush every 48 bytes, each
 * claiming the rest of the file (a client's payloads), 2 record 21 with
 * its CRC broken and then record 22 of its flush, valid. Returns the cut.
 */
static uint64_t
check_wal_put_tail(const char *dir, int how)
{
	struct seg_header	 h;
	struct rec_header	 r;
	unsigned char		*b;
	uint64_t		 off = SEG_HDR_SIZE, lsn, cut, o;

	b = check_wal_seg_image(&h, SEG_VERSION, SEG_F_REUSED, 1, 0x5a);
	for (lsn = 1; lsn <= 20; lsn++)
		off += check_wal_put_rec(b, off, h.seed, lsn, lsn);
	cut = off;
	for (o = cut; how == 0 && o + 8192 < SEG1M; )
		o += check_wal_put_rec(b, o, 77, 900 + o % 7, 900);
	for (o = cut; how == 1 && o + REC_HDR_SIZE <= SEG1M; o += 48) {
		memset(&r, 0, sizeof r);
		r.len = (uint32_t)((SEG1M - o - REC_HDR_SIZE) & ~7u);
		r.lsn = 21;
		r.batch_lsn = 21;
		r.crc = 0x12345678;
		segment_encode_rec(b + o, &r);
	}
	if (how == 2) {
		o = cut + check_wal_put_rec(b, cut, h.seed, 21, 21);
		check_wal_put_rec(b, o, h.seed, 22, 21);
		b[cut + REC_HDR_SIZE] ^= 1;
	}
	check_wal_put_file(dir, 1, b, SEG1M);
	return (cut);
}

/* Recovery of a reused segment's end: the earlier records cost nothing
   and say nothing; a torn flush is still called one; headers shaped
   like records, too many to check, make it refuse, not search for ever. */
START_TEST(test_recover_reused_tail)
{
	struct wal		*w;
	struct wal_stats	 st;
	char			*dir, *cause, *out = NULL;
	size_t			 outlen = 0;
	FILE			*f;
	int			 how;

	for (how = 0; how < 3; how++) {
		dir = check_wal_tmpdir();
		check_wal_put_tail(dir, how);
		ck_assert_ptr_nonnull(f = open_memstream(&out, &outlen));
		ck_assert_int_eq(wal_verify(dir, f) != 0, how == 1);
		fclose(f);
		ck_assert_msg(how != 1 || strstr(out, "cannot be told") !=
		    NULL, "%s", out);
		ck_assert_msg((strstr(out, "torn tail of the last flush") !=
		    NULL) == (how == 2), "%d: %s", how, out);
		free(out);
		out = NULL;
		if (how == 1) {
			cause = check_wal_open_fail(dir, SEG1M);
			ck_assert_msg(strstr(cause, "cannot be told") != NULL &&
			    strstr(cause, "offset") != NULL, "%s", cause);
			free(cause);
		} else {
			check_wal_logbuf[0] = '\0';
			w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
			wal_stats(w, &st);
			wal_close(w);
			ck_assert_uint_eq(st.next_lsn, 21);
			ck_assert_msg((strstr(check_wal_logbuf, "torn tail cut"
			    " at") != NULL) == (how == 2), "%s",
			    check_wal_logbuf);
			ck_assert_uint_eq(check_wal_readall(dir, 1, 1), 20);
		}
		check_wal_rmdir(dir);
		free(dir);
	}
}
END_TEST

/* Makes a log with several sealed segments plus an active one, of 10
   records each: of len bytes, or of the default lengths when len is 0. */
static void
check_wal_make_segments_len(const char *dir, int nrot, uint32_t len)
{
	struct wal	*w;
	char		*cause = NULL;
	int		 i, k;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	for (i = 0; i <= nrot; i++) {
		if (i > 0)
			ck_assert_int_eq(wal_rotate(w, &cause), 0);
		if (len == 0)
			check_wal_write(w, 10, 0);
		for (k = 0; len > 0 && k < 10; k++)
			check_wal_append(w, 1, 2, 3, len);
		check_wal_sync(w);
	}
	wal_close(w);
}

/* The same, of the default lengths. */
static void
check_wal_make_segments(const char *dir, int nrot)
{
	check_wal_make_segments_len(dir, nrot, 0);
}

START_TEST(test_missing_middle_segment)
{
	char	*dir = check_wal_tmpdir(), path[512], *cause;

	check_wal_make_segments(dir, 3);	/* 1, 11, 21, 31 */
	ck_assert_int_eq(check_wal_nsegs(dir), 4);
	check_wal_segpath(path, sizeof path, dir, 11);
	ck_assert_int_eq(unlink(path), 0);
	cause = check_wal_open_fail(dir, SEG1M);
	ck_assert_ptr_nonnull(strstr(cause, "00000000000000000021.wal"));
	ck_assert_ptr_nonnull(strstr(cause, "gap"));
	ck_assert_ptr_nonnull(strstr(cause, "LSN 11"));
	free(cause);
	ck_assert_int_eq(check_wal_nsegs(dir), 3);
	ck_assert_int_ge(wal_verify(dir, stderr), 1);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_footer_bitflip)
{
	struct wal	*w;
	char		*dir = check_wal_tmpdir(), path[512], *cause;
	struct stat	 sb;
	uint64_t	 last;
	int		 i;

	check_wal_make_segments(dir, 2);	/* 1, 11 sealed; 21 active */
	check_wal_segpath(path, sizeof path, dir, 11);
	ck_assert_int_eq(stat(path, &sb), 0);
	/* Every byte of the footer of a sealed segment matters. */
	for (i = 0; i < FOOTER_SIZE; i++) {
		check_wal_flip(path, (uint64_t)sb.st_size - FOOTER_SIZE +
		    (uint64_t)i);
		cause = check_wal_open_fail(dir, SEG1M);
		ck_assert_msg(strstr(cause, "00000000000000000011.wal") != NULL,
		    "%s", cause);
		free(cause);
		check_wal_flip(path, (uint64_t)sb.st_size - FOOTER_SIZE +
		    (uint64_t)i);
	}
	/* A bad segment header too. */
	check_wal_flip(path, 20);
	cause = check_wal_open_fail(dir, SEG1M);
	ck_assert_ptr_nonnull(strstr(cause, "00000000000000000011.wal: "
	    "offset 0"));
	free(cause);
	check_wal_flip(path, 20);

	/* The sealing footer of the last segment. */
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	ck_assert_int_eq(wal_seal(w, &last, &cause), 0);
	ck_assert_uint_eq(last, 30);
	wal_close(w);
	check_wal_segpath(path, sizeof path, dir, 31);
	ck_assert_int_eq(stat(path, &sb), 0);
	check_wal_flip(path, (uint64_t)sb.st_size - 4);
	cause = check_wal_open_fail(dir, SEG1M);
	ck_assert_ptr_nonnull(strstr(cause, "00000000000000000031.wal"));
	free(cause);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_sealed_log)
{
	struct wal		*w;
	struct wal_stats	 st;
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	uint64_t		 last, lsn;
	int			 n, i;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 25, 10);
	check_wal_append(w, 1, 1, 1, 10);	/* LSN 26 in the sealing batch */
	ck_assert_int_eq(wal_seal(w, &last, &cause), 0);
	ck_assert_uint_eq(last, 26);
	ck_assert_int_eq(wal_append(w, 1, 1, 1, "x", 1, &lsn), WAL_ESEALED);
	wal_stats(w, &st);
	ck_assert_int_eq(st.sealed, 1);
	ck_assert_uint_eq(st.durable_lsn, 26);
	wal_close(w);
	n = check_wal_nsegs(dir);
	for (i = 0; i < 2; i++) {
		w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
		wal_stats(w, &st);
		ck_assert_int_eq(st.sealed, 1);
		ck_assert_uint_eq(st.next_lsn, 27);
		ck_assert_int_eq(wal_append(w, 1, 1, 1, "x", 1, &lsn),
		    WAL_ESEALED);
		ck_assert_int_eq(wal_spare_ready(w), 1);
		ck_assert_ptr_null(wal_flush_begin(w));
		ck_assert_int_eq(wal_seal(w, &last, &cause), 0);
		ck_assert_uint_eq(last, 26);
		wal_close(w);
		ck_assert_int_eq(check_wal_nsegs(dir), n);
	}
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_seal_empty)
{
	struct wal		*w;
	struct wal_stats	 st;
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	uint64_t		 last;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 5, 0);
	wal_close(w);
	/* Sealing a fresh segment with an empty batch writes a footer. */
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	ck_assert_int_eq(wal_seal(w, &last, &cause), 0);
	ck_assert_uint_eq(last, 5);
	wal_close(w);
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	wal_stats(w, &st);
	ck_assert_int_eq(st.sealed, 1);
	ck_assert_uint_eq(st.next_lsn, 6);
	wal_close(w);
	/* Seal right after a rotation: the new segment is sealed empty. */
	check_wal_rmdir(dir);
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 5, 0);
	ck_assert_int_eq(wal_rotate(w, &cause), 0);
	ck_assert_int_eq(wal_seal(w, &last, &cause), 0);
	wal_close(w);
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	wal_stats(w, &st);
	ck_assert_int_eq(st.sealed, 1);
	ck_assert_uint_eq(st.next_lsn, 6);
	wal_close(w);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_truncate)
{
	struct wal		*w;
	struct wal_stats	 st;
	struct wal_reader	*r;
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	uint64_t		 nf;

	check_wal_make_segments(dir, 4);	/* 1 11 21 31 41(active) */
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	/* 41 is sealed at open, 51 is the new active segment. */
	ck_assert_int_eq(check_wal_nsegs(dir), 6);
	ck_assert_int_eq(wal_truncate_before(w, 1, &nf, &cause), 0);
	ck_assert_uint_eq(nf, 1);
	ck_assert_int_eq(wal_truncate_before(w, 25, &nf, &cause), 0);
	ck_assert_uint_eq(nf, 21);
	ck_assert_int_eq(check_wal_nsegs(dir), 4);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.first_lsn, 21);
	ck_assert_uint_eq(st.segments, 4);
	/* Never the active segment, whatever the LSN. */
	ck_assert_int_eq(wal_truncate_before(w, 1000, &nf, &cause), 0);
	ck_assert_uint_eq(nf, 51);
	ck_assert_int_eq(check_wal_nsegs(dir), 1);
	wal_close(w);

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.first_lsn, 51);
	ck_assert_uint_eq(st.next_lsn, 51);
	ck_assert_uint_eq(check_wal_append(w, 0, 0, 0, 8), 51);
	check_wal_sync(w);
	wal_close(w);
	r = wal_reader_open(dir, 50, NULL, &cause);
	ck_assert_ptr_null(r);
	ck_assert_ptr_nonnull(strstr(cause, "below the log's first LSN 51"));
	free(cause);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

static uint64_t	check_wal_count(const char *, uint64_t,
		    const struct wal_filter *, uint64_t);

/* Opens dir with recycle_segments set. */
static struct wal *
check_wal_open_recycling(const char *dir, uint32_t keep)
{
	struct wal	*w;

	check_wal_recycle = keep;
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_recycle = 0;
	return (w);
}

/* Checks the recycling stats: spares made from kept files, files kept. */
static void
check_wal_recycle_stats(struct wal *w, uint64_t recycled, uint64_t held)
{
	struct wal_stats	st;

	wal_stats(w, &st);
	ck_assert_uint_eq(st.recycled, recycled);
	ck_assert_uint_eq(st.recycle_held, held);
}

/* The record CRC seed of segment first. */
static uint32_t
check_wal_seed(const char *dir, uint64_t first)
{
	struct seg_header	 h;
	const char		*why;
	char			 path[512];
	int			 fd;

	check_wal_segpath(path, sizeof path, dir, first);
	ck_assert_int_ge(fd = open(path, O_RDONLY), 0);
	ck_assert_msg(segment_read_header(fd, &h, &why) == 0, "%s", why);
	close(fd);
	return (h.seed);
}

/* The inode of dir/name; 0 if there is none. */
static ino_t
check_wal_ino_of(const char *dir, const char *name)
{
	char		path[512];
	struct stat	sb;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (stat(path, &sb) != 0)
		return (0);
	return (sb.st_ino);
}

/* The inode of segment first, or of its kept file (recycle-FIRST.tmp). */
static ino_t
check_wal_ino(const char *dir, uint64_t first, int kept)
{
	char	name[RECYCLE_NAME_SIZE];

	if (kept)
		segment_recycle_name(name, first);
	else
		segment_name(name, first);
	return (check_wal_ino_of(dir, name));
}

/*
 * The active segment dir/first is a reused file: its header says so, the
 * earlier segment's records follow its own from off (not zeroed: its
 * blocks are only written over), none of them valid in it, and its last
 * block is zeros. A reader with no limit ends there, walctl verify finds
 * nothing to note, and recovery (of a copy: a crash now) keeps every
 * record without calling the end a torn tail. But where the writer's
 * durable LSN says a record is, an earlier header is damage.
 */
static void
check_wal_reused_tail(const char *dir, uint64_t first, uint64_t off)
{
	struct seg_header	 h;
	struct rec_header	 r;
	struct seg_scan		 s;
	struct seg_tail		 t;
	struct wal_reader	*rd;
	struct wal_record	 rec;
	struct wal_stats	 st;
	struct wal		*w;
	unsigned char		 last[IO_ALIGN], *b;
	const char		*why;
	char			 path[512], *cause = NULL, *out = NULL;
	char			 copy[512];
	size_t			 i, stale = 0, outlen = 0;
	uint64_t		 n = 0;
	FILE			*f;
	int			 fd, k;

	check_wal_segpath(path, sizeof path, dir, first);
	ck_assert_int_ge(fd = open(path, O_RDONLY), 0);
	ck_assert_msg(segment_read_header(fd, &h, &why) == 0, "%s", why);
	ck_assert_uint_eq(h.version, SEG_VERSION);
	ck_assert(h.flags & SEG_F_REUSED);
	memset(&s, 0, sizeof s);
	s.fd = fd;
	s.size = SEG1M;
	s.first_lsn = first;
	s.seed = h.seed;
	ck_assert_int_eq(segment_scan(&s, &cause), 0);
	ck_assert_uint_eq(s.end, off);
	ck_assert_int_eq(segment_search_tail(&s, &t, &cause), 0);
	ck_assert(t.nonzero);
	ck_assert(!t.later && !t.torn && !t.undecided);
	/* The earlier segment's record headers are there. */
	b = check_wal_slurp(path, &i);
	ck_assert_uint_eq(i, SEG1M);
	for (i = off; i + REC_HDR_SIZE <= SEG1M; i += REC_ALIGN)
		if (segment_decode_rec(b + i, &r, &why) == 0 && r.lsn < first)
			stale++;
	free(b);
	ck_assert_uint_gt(stale, 0);
	ck_assert_int_eq(pread(fd, last, sizeof last, SEG1M - IO_ALIGN),
	    IO_ALIGN);
	for (i = 0; i < sizeof last; i++)
		ck_assert_msg(last[i] == 0, "%s: last block not zero", path);
	close(fd);

	rd = wal_reader_open(dir, first, NULL, &cause);
	ck_assert_msg(rd != NULL, "%s", cause);
	while ((k = wal_reader_next(rd, UINT64_MAX, &rec, &cause)) == 1)
		n++;
	ck_assert_msg(k == 0, "reader: %s", k < 0 ? cause : "");
	ck_assert_uint_eq(n, s.count);
	wal_reader_close(rd);
	ck_assert_ptr_nonnull(f = open_memstream(&out, &outlen));
	ck_assert_int_eq(wal_verify(dir, f), 0);
	fclose(f);
	ck_assert_msg(strstr(out, "note") == NULL, "verify: %s", out);
	free(out);

	snprintf(copy, sizeof copy, "%s.copy", dir);
	check_wal_copydir(dir, copy);
	check_wal_logbuf[0] = '\0';
	w = check_wal_open(copy, SEG1M, WAL_DIRECT_AUTO);
	wal_stats(w, &st);
	wal_close(w);
	ck_assert_uint_eq(st.next_lsn, s.next_lsn);
	ck_assert_msg(strstr(check_wal_logbuf, "torn") == NULL, "%s",
	    check_wal_logbuf);
	ck_assert_msg(strstr(check_wal_logbuf, "records end at offset") !=
	    NULL, "%s", check_wal_logbuf);

	/* The first record's LSN made an earlier one's. */
	check_wal_copydir(dir, copy);
	check_wal_segpath(path, sizeof path, copy, first);
	ck_assert_int_ge(fd = open(path, O_WRONLY), 0);
	memset(last, 0, 8);
	last[0] = 1;
	ck_assert_int_eq(pwrite(fd, last, 8, SEG_HDR_SIZE + 24), 8);
	close(fd);
	rd = wal_reader_open(copy, first, NULL, &cause);
	ck_assert_ptr_nonnull(rd);
	wal_reader_durable(rd);
	ck_assert_int_eq(wal_reader_next(rd, first, &rec, &cause), -1);
	ck_assert_msg(strstr(cause, "unexpected LSN") != NULL, "%s", cause);
	free(cause);
	wal_reader_close(rd);
	check_wal_rmdir(copy);
}

/*
 * Truncated segments' files are kept, up to recycle_segments, and become
 * new segments, written over without being zeroed: nothing they held is
 * valid after the records; every record before and after reads back,
 * a restart recovers such a segment without calling its end torn, and
 * keeps what it may.
 */
START_TEST(test_recycle)
{
	struct wal		*w;
	struct wal_stats	 st;
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	char			*out = NULL;
	struct wal_reader	*rd;
	struct wal_record	 rec;
	uint64_t		 nf, seen = 0, n;
	ino_t			 old[2];
	int			 k;
	size_t			 outlen = 0;
	FILE			*f;
	int			 rot;

	/* 1 11 21 31 41(active), of 10 records of 4096 bytes on disk:
	   in a reused file, one such record is followed by the header of
	   the file's earlier second record (O_DIRECT pads a write to the
	   end of its block with zeros: this one ends on a block). */
	check_wal_make_segments_len(dir, 4, 4096 - REC_HDR_SIZE -
	    CHECK_WAL_EXT);
	/* Spares not written with zeros: the old records stay in a
	   reused file, as on a disk whose log is written in large
	   flushes. */
	check_wal_spare_mode = WAL_SPARE_FALLOCATE;
	w = check_wal_open_recycling(dir, 2);	/* 41 sealed, 51 active */
	old[0] = check_wal_ino(dir, 1, 0);
	old[1] = check_wal_ino(dir, 11, 0);
	ck_assert_int_eq(wal_truncate_before(w, 35, &nf, &cause), 0);
	ck_assert_uint_eq(nf, 31);
	/* 1 and 11 kept, 21 removed: the pool holds two. */
	ck_assert_uint_eq(check_wal_ino(dir, 1, 1), old[0]);
	ck_assert_uint_eq(check_wal_ino(dir, 11, 1), old[1]);
	ck_assert_uint_eq(check_wal_ino(dir, 21, 0), 0);
	ck_assert_uint_eq(check_wal_ino(dir, 21, 1), 0);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.recycle_held, 2);
	ck_assert_uint_eq(st.segments, 3);

	for (rot = 0; rot < 4; rot++) {
		/* One record: the file's old ones went further. */
		check_wal_append(w, 1, 2, 3, 4096 - REC_HDR_SIZE -
		    CHECK_WAL_EXT);
		check_wal_sync(w);
		wal_stats(w, &st);
		rd = NULL;
		if (check_wal_ino(dir, st.active_first_lsn, 0) == old[0] ||
		    check_wal_ino(dir, st.active_first_lsn, 0) == old[1]) {
			seen++;
			check_wal_reused_tail(dir, st.active_first_lsn,
			    st.active_offset);
			/* A follower waits at the earlier record header
			   after the one record... */
			rd = wal_reader_open(dir, st.active_first_lsn, NULL,
			    &cause);
			ck_assert_ptr_nonnull(rd);
			ck_assert_int_eq(wal_reader_next(rd, UINT64_MAX, &rec,
			    &cause), 1);
			ck_assert_int_eq(wal_reader_next(rd, UINT64_MAX, &rec,
			    &cause), 0);
		}
		check_wal_write(w, 10, 0);
		ck_assert_int_eq(wal_rotate(w, &cause), 0);
		/* ... and, once records were written over it and the segment
		   was sealed, reads them, not damage. */
		for (n = 0; rd != NULL && (k = wal_reader_next(rd, UINT64_MAX,
		    &rec, &cause)) == 1; n++)
			;
		if (rd != NULL) {
			ck_assert_msg(k == 0, "follower: %s", k < 0 ? cause :
			    "");
			ck_assert_uint_eq(n, 10);
			wal_reader_close(rd);
		}
	}
	check_wal_write(w, 10, 0);
	check_wal_recycle_stats(w, 2, 0);
	check_wal_spare_mode = WAL_SPARE_AUTO;
	wal_stats(w, &st);
	ck_assert_uint_ge(seen, 1);
	ck_assert_uint_eq(check_wal_ino(dir, 1, 1), 0);
	ck_assert_uint_eq(check_wal_ino(dir, 11, 1), 0);
	ck_assert_uint_eq(check_wal_count(dir, 31, NULL, UINT64_MAX),
	    st.next_lsn - 31);

	/* Two kept again. A restart that may keep one removes the other,
	   and makes its new active segment from the one it kept. */
	ck_assert_int_eq(wal_truncate_before(w, 55, &nf, &cause), 0);
	ck_assert_uint_eq(nf, 51);
	ck_assert_uint_ne(check_wal_ino(dir, 31, 1), 0);
	ck_assert_uint_ne(check_wal_ino(dir, 41, 1), 0);
	wal_close(w);
	w = check_wal_open_recycling(dir, 1);
	check_wal_recycle_stats(w, 1, 0);
	ck_assert_uint_eq(check_wal_ino(dir, 31, 1), 0);
	ck_assert_uint_eq(check_wal_ino(dir, 41, 1), 0);
	check_wal_write(w, 10, 0);
	ck_assert_int_eq(wal_truncate_before(w, 65, &nf, &cause), 0);
	ck_assert_uint_eq(nf, 62);	/* 51 held 51..61 */
	check_wal_recycle_stats(w, 1, 1);
	wal_close(w);
	/* With none to keep, a restart removes it. */
	w = check_wal_open_recycling(dir, 0);
	check_wal_recycle_stats(w, 0, 0);
	ck_assert_uint_eq(check_wal_ino(dir, 51, 1), 0);
	wal_stats(w, &st);
	wal_close(w);

	/* walctl verify finds nothing to note: no stale byte anywhere. */
	f = open_memstream(&out, &outlen);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(wal_verify(dir, f), 0);
	fclose(f);
	ck_assert_msg(strstr(out, "torn") == NULL, "verify: %s", out);
	free(out);
	ck_assert_uint_eq(check_wal_count(dir, 62, NULL, UINT64_MAX),
	    st.next_lsn - 62);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

/*
 * The next read of r, inside segment 1 that was truncated and whose file
 * is reused, fails saying so and returns nothing; then r, w and dir go.
 */
static void
check_wal_reader_truncated(struct wal_reader *r, struct wal *w, char *dir)
{
	struct wal_record	 rec;
	char			*cause = NULL;
	int			 k;

	k = wal_reader_next(r, UINT64_MAX, &rec, &cause);
	ck_assert_msg(k == -1, "the reader returned LSN %llu of tenant %u "
	    "(%d)", k == 1 ? (unsigned long long)rec.lsn : 0ull,
	    k == 1 ? rec.tenant : 0, k);
	ck_assert_msg(strstr(cause, "00000000000000000001.wal: offset") !=
	    NULL && strstr(cause, "truncated while being read") != NULL,
	    "%s", cause);
	free(cause);
	wal_reader_close(r);
	wal_close(w);
	check_wal_rmdir(dir);
	free(dir);
}

/* A reader inside a segment that is truncated and whose file is reused
   says so: not damage, and not an end to wait at. */
START_TEST(test_recycle_reader)
{
	struct wal		*w;
	struct wal_stats	 st;
	struct wal_reader	*r;
	struct wal_record	 rec;
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	uint64_t		 nf;
	int			 rot;

	check_wal_make_segments(dir, 4);	/* 1 11 21 31 41(active) */
	w = check_wal_open_recycling(dir, 1);
	r = wal_reader_open(dir, 1, NULL, &cause);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(wal_reader_next(r, 2, &rec, &cause), 1);
	ck_assert_int_eq(wal_reader_next(r, 2, &rec, &cause), 1);
	ck_assert_uint_eq(rec.lsn, 2);
	ck_assert_int_eq(wal_truncate_before(w, 15, &nf, &cause), 0);
	ck_assert_uint_eq(nf, 11);
	for (rot = 0; rot < 3; rot++) {
		check_wal_write(w, 10, 0);
		ck_assert_int_eq(wal_rotate(w, &cause), 0);
	}
	wal_stats(w, &st);
	ck_assert_uint_eq(st.recycled, 1);
	check_wal_reader_truncated(r, w, dir);
}
END_TEST

/* Appends one record of tenant t and syncs it. */
static void
check_wal_append_synced(struct wal *w, uint32_t t, const void *p,
    uint32_t len)
{
	uint64_t	 lsn;
	enum wal_rc	 rc;
	char		*cause = NULL;
	int		 tries;

	for (tries = 0; tries < 8; tries++) {
		rc = wal_append(w, 1, t, 0, p, len, &lsn);
		if (rc == WAL_OK) {
			check_wal_sync(w);
			return;
		}
		if (rc == WAL_EWAIT && wal_prepare_spare(w, &cause) != 0)
			ck_abort_msg("prepare: %s", cause);
		if (rc == WAL_EFULL)
			check_wal_sync(w);
	}
	ck_abort_msg("append: rc %d", rc);
}

/*
 * A reader left inside a truncated segment whose file became a new one
 * must not return what the new segment holds, even bytes a client made
 * to look like the old segment's next record: it fails instead. (The
 * forger here even knows the old segment's id, which no client does:
 * the record CRC alone would not stop it.)
 */
START_TEST(test_recycle_reader_forged)
{
	static unsigned char	 pl[4000];
	struct wal		*w;
	struct wal_reader	*r;
	struct wal_record	 rec;
	struct wal_stats	 st;
	struct rec_header	 h;
	unsigned char		*f;
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	const char		*msg = "FORGED BY TENANT 7";
	uint64_t		 nf;
	uint32_t		 seed;
	ino_t			 old;
	int			 i;

	w = check_wal_open_recycling(dir, 1);
	memset(pl, 'a', sizeof pl);
	for (i = 0; i < 20; i++) {	/* 1..10 in segment 1, 11..20 after */
		if (i == 10)
			ck_assert_int_eq(wal_rotate(w, &cause), 0);
		check_wal_append_synced(w, 1, pl, 1000);
	}
	old = check_wal_ino(dir, 1, 0);
	seed = check_wal_seed(dir, 1);
	r = wal_reader_open(dir, 1, NULL, &cause);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(wal_reader_next(r, 2, &rec, &cause), 1);
	ck_assert_int_eq(wal_reader_next(r, 2, &rec, &cause), 1);
	ck_assert_int_eq(wal_truncate_before(w, 11, &nf, &cause), 0);
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(wal_rotate(w, &cause), 0);
		if (!wal_spare_ready(w))
			ck_assert_int_eq(wal_prepare_spare(w, &cause), 0);
		if (check_wal_ino_of(dir, SPARE_NAME) == old)
			break;
		check_wal_append_synced(w, 1, pl, 1000);
	}
	ck_assert_uint_eq(check_wal_ino_of(dir, SPARE_NAME), old);
	/* The next record begins the new segment at 4096, its payload at
	   4096 + 40; LSN 3 of segment 1 was at 4096 + 2 * 1040. */
	memset(pl, 'x', sizeof pl);
	f = pl + (4096 + 2 * 1040) - (4096 + REC_HDR_SIZE);
	memset(&h, 0, sizeof h);
	h.type = 9;
	h.tenant = 3;
	h.len = (uint32_t)strlen(msg);
	h.lsn = 3;
	h.batch_lsn = 3;
	memcpy(f + REC_HDR_SIZE, msg, h.len);
	segment_encode_rec(f, &h);
	h.crc = segment_rec_crc(seed, f, f + REC_HDR_SIZE, h.len);
	segment_encode_rec(f, &h);
	check_wal_append_synced(w, 7, pl, 3000);
	wal_stats(w, &st);
	ck_assert_uint_eq(check_wal_ino(dir, st.active_first_lsn, 0), old);
	check_wal_reader_truncated(r, w, dir);
}
END_TEST

/* A reader that read all of a segment's records before it was truncated
   and its file reused goes on with the next segment. */
START_TEST(test_recycle_reader_boundary)
{
	struct wal		*w;
	struct wal_reader	*r;
	struct wal_record	 rec;
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	uint64_t		 nf, n = 0;
	int			 rot, k;

	check_wal_make_segments(dir, 4);	/* 1 11 21 31 41(active) */
	w = check_wal_open_recycling(dir, 1);
	r = wal_reader_open(dir, 1, NULL, &cause);
	ck_assert_ptr_nonnull(r);
	while ((k = wal_reader_next(r, 10, &rec, &cause)) == 1)
		n++;
	ck_assert_int_eq(k, 0);
	ck_assert_uint_eq(n, 10);
	ck_assert_int_eq(wal_truncate_before(w, 15, &nf, &cause), 0);
	for (rot = 0; rot < 3; rot++) {
		check_wal_write(w, 10, 0);
		ck_assert_int_eq(wal_rotate(w, &cause), 0);
	}
	check_wal_recycle_stats(w, 1, 0);
	ck_assert_int_eq(wal_reader_next(r, UINT64_MAX, &rec, &cause), 1);
	ck_assert_uint_eq(rec.lsn, 11);
	wal_reader_close(r);
	wal_close(w);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

/* rename as on a full disk, for the longer name of a kept file. */
static int
check_wal_full_rename(int od, const char *from, int nd, const char *to)
{
	if (strncmp(to, RECYCLE_PREFIX, sizeof RECYCLE_PREFIX - 1) == 0) {
		errno = ENOSPC;
		return (-1);
	}
	return (sysio_real.renameat(od, from, nd, to));
}

/* A truncation whose file cannot be kept removes it: freeing space on a
   full disk must not fail for want of a directory block. */
START_TEST(test_recycle_rename_fails)
{
	struct wal	*w;
	char		*dir = check_wal_tmpdir(), *cause = NULL;
	uint64_t	 nf;

	check_wal_make_segments(dir, 4);	/* 1 11 21 31 41(active) */
	w = check_wal_open_recycling(dir, 2);
	sysio.renameat = check_wal_full_rename;
	ck_assert_msg(wal_truncate_before(w, 35, &nf, &cause) == 0, "%s",
	    cause);
	sysio.renameat = sysio_real.renameat;
	ck_assert_uint_eq(nf, 31);
	ck_assert_uint_eq(check_wal_nsegs(dir), 3);
	ck_assert_uint_eq(check_wal_ino(dir, 1, 1), 0);
	ck_assert_uint_eq(check_wal_ino(dir, 11, 1), 0);
	check_wal_recycle_stats(w, 0, 0);
	wal_close(w);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

/* Counts records matching a filter from `from`; checks order. */
static uint64_t
check_wal_count(const char *dir, uint64_t from, const struct wal_filter *f,
    uint64_t limit)
{
	struct wal_reader	*r;
	struct wal_record	 rec;
	char			*cause = NULL;
	uint64_t		 n = 0, prev = 0;
	int			 k;

	r = wal_reader_open(dir, from, f, &cause);
	if (r == NULL)
		ck_abort_msg("reader: %s", cause);
	while ((k = wal_reader_next(r, limit, &rec, &cause)) == 1) {
		ck_assert_uint_ge(rec.lsn, from);
		ck_assert_uint_le(rec.lsn, limit);
		ck_assert_uint_gt(rec.lsn, prev);
		prev = rec.lsn;
		if (f != NULL && f->has_tenant)
			ck_assert_uint_eq(rec.tenant, f->tenant);
		if (f != NULL && f->has_vshard)
			ck_assert_uint_eq(rec.vshard, f->vshard);
		if (f != NULL && f->has_type)
			ck_assert_uint_eq(rec.type, f->type);
		n++;
	}
	if (k != 0)
		ck_abort_msg("reader: %s", cause);
	wal_reader_close(r);
	return (n);
}

/* Expected count, by brute force over LSNs 1..last. */
static uint64_t
check_wal_expect(uint64_t from, uint64_t last, const struct wal_filter *f)
{
	uint64_t	l, n = 0;

	for (l = from; l <= last; l++) {
		if (f->has_tenant && l % 3 != f->tenant)
			continue;
		if (f->has_vshard && l % 5 != f->vshard)
			continue;
		if (f->has_type && l % 2 != f->type)
			continue;
		n++;
	}
	return (n);
}

START_TEST(test_reader_filters)
{
	struct wal		*w;
	struct wal_filter	 f;
	char			*dir = check_wal_tmpdir();
	uint64_t		 froms[] = { 1, 2, 599, 600, 601, 1234, 1800,
				    1801, 5000 };
	size_t			 i;
	int			 t;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 1800, 100);
	wal_close(w);
	ck_assert_int_ge(check_wal_nsegs(dir), 3);
	for (i = 0; i < sizeof froms / sizeof froms[0]; i++) {
		for (t = 0; t < 8; t++) {
			memset(&f, 0, sizeof f);
			f.has_tenant = (t & 1) != 0;
			f.tenant = 1;
			f.has_vshard = (t & 2) != 0;
			f.vshard = 4;
			f.has_type = (t & 4) != 0;
			f.type = 0;
			ck_assert_uint_eq(check_wal_count(dir, froms[i], &f,
			    UINT64_MAX), check_wal_expect(froms[i], 1800, &f));
		}
		ck_assert_uint_eq(check_wal_count(dir, froms[i], NULL, 1000),
		    froms[i] > 1000 ? 0 : 1001 - froms[i]);
	}
	/* Filters on a tenant that does not exist: nothing, quickly. */
	memset(&f, 0, sizeof f);
	f.has_tenant = 1;
	f.tenant = 99;
	ck_assert_uint_eq(check_wal_count(dir, 1, &f, UINT64_MAX), 0);
	ck_assert_uint_eq(check_wal_readall(dir, 700, 700), 1101);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_reader_follow)
{
	struct wal		*w;
	struct wal_reader	*r;
	struct wal_record	 rec;
	struct wal_stats	 st;
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	uint64_t		 durable, expect = 1, lsn;
	int			 round, k;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	r = wal_reader_open(dir, 0, NULL, &cause);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(wal_reader_next(r, 0, &rec, &cause), 0);
	for (round = 0; round < 12; round++) {
		check_wal_write(w, 100, 0);
		/* Appended but not flushed: not visible, not even peeked. */
		lsn = check_wal_append(w, 0, 0, 0, 20);
		wal_stats(w, &st);
		durable = st.durable_lsn;
		ck_assert_uint_eq(durable, lsn - 1);
		while ((k = wal_reader_next(r, durable, &rec, &cause)) == 1) {
			ck_assert_uint_eq(rec.lsn, expect);
			expect++;
		}
		ck_assert_int_eq(k, 0);
		ck_assert_uint_eq(expect, durable + 1);
		ck_assert_int_eq(wal_reader_next(r, durable, &rec, &cause), 0);
		check_wal_sync(w);
		ck_assert_int_eq(wal_reader_next(r, lsn, &rec, &cause), 1);
		ck_assert_uint_eq(rec.lsn, lsn);
		expect++;
		if (round % 4 == 3)
			ck_assert_int_eq(wal_rotate(w, &cause), 0);
	}
	ck_assert_int_ge(check_wal_nsegs(dir), 3);
	/* Across a restart: the empty active segment is replaced. */
	wal_close(w);
	ck_assert_int_eq(wal_reader_next(r, UINT64_MAX, &rec, &cause), 0);
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	wal_close(w);
	/* The reader now holds the new, empty segment open... */
	ck_assert_int_eq(wal_reader_next(r, UINT64_MAX, &rec, &cause), 0);
	/* ...which the next start replaces by a file of the same name. */
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	lsn = check_wal_append(w, 0, 0, 0, 20);
	check_wal_sync(w);
	ck_assert_int_eq(wal_reader_next(r, lsn, &rec, &cause), 1);
	ck_assert_uint_eq(rec.lsn, lsn);
	ck_assert_uint_eq(rec.lsn, expect);
	/* Seal: the reader sees the end of the log. */
	ck_assert_int_eq(wal_seal(w, NULL, &cause), 0);
	ck_assert_int_eq(wal_reader_next(r, UINT64_MAX, &rec, &cause), 0);
	wal_reader_close(r);
	wal_close(w);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_lock)
{
	struct wal_options	 o;
	struct wal		*w, *w2;
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	char			 want[128];

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.segment_size = SEG1M;
	w2 = wal_open(&o, &cause);
	ck_assert_ptr_null(w2);
	snprintf(want, sizeof want, "%s is locked by another walld (pid %ld)",
	    dir, (long)getpid());
	ck_assert_str_eq(cause, want);
	free(cause);
	wal_close(w);
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	wal_close(w);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_too_big)
{
	struct wal_options	 o;
	struct wal		*w;
	static unsigned char	 buf[5000];
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	uint64_t		 lsn;

	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.segment_size = SEG1M;
	o.max_record = 4000;
	w = wal_open(&o, &cause);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(wal_append(w, 0, 0, 0, buf, 4000, &lsn), WAL_OK);
	ck_assert_uint_eq(lsn, 1);
	ck_assert_int_eq(wal_append(w, 0, 0, 0, buf, 4001, &lsn), WAL_ETOOBIG);
	ck_assert_int_eq(wal_append(w, 0, 0, 0, buf, 0, &lsn), WAL_OK);
	ck_assert_uint_eq(lsn, 2);
	wal_close(w);
	/* Above the hard maximum: refused at open. */
	o.max_record = REC_MAX_PAYLOAD + 1;
	ck_assert_ptr_null(wal_open(&o, &cause));
	free(cause);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_direct_io)
{
	struct wal		*w;
	struct wal_stats	 st;
	struct wal_options	 o;
	struct statfs		 sf;
	char			*dir, *cause = NULL;
	char			 tmpl[] = "/dev/shm/check_wal.XXXXXX";
	char			 probe[64];
	int			 mode, fd;

	for (mode = WAL_DIRECT_ON; mode <= WAL_DIRECT_OFF; mode++) {
		dir = check_wal_tmpdir();
		w = check_wal_open(dir, SEG1M, (enum wal_direct)mode);
		wal_stats(w, &st);
		ck_assert_int_eq(st.direct_io, mode == WAL_DIRECT_ON);
		check_wal_write(w, 1000, 13);
		wal_close(w);
		w = check_wal_open(dir, SEG1M, (enum wal_direct)mode);
		check_wal_write(w, 500, 0);
		wal_close(w);
		ck_assert_uint_eq(check_wal_readall(dir, 0, 1), 1500);
		ck_assert_int_eq(wal_verify(dir, stderr), 0);
		check_wal_rmdir(dir);
		free(dir);
	}
	/*
	 * tmpfs refused O_DIRECT before Linux 6.6: there "on" must fail and
	 * "auto" fall back. Newer kernels accept it; then both use it.
	 */
	if (statfs("/dev/shm", &sf) != 0 || sf.f_type != 0x01021994 ||
	    mkdtemp(tmpl) == NULL)
		return;
	snprintf(probe, sizeof probe, "%s/probe", tmpl);
	fd = open(probe, O_CREAT | O_RDWR | O_DIRECT, 0600);
	if (fd != -1)
		close(fd);
	unlink(probe);
	memset(&o, 0, sizeof o);
	o.dir = tmpl;
	o.segment_size = SEG1M;
	o.direct_io = WAL_DIRECT_ON;
	w = wal_open(&o, &cause);
	if (fd == -1) {
		ck_assert_ptr_null(w);
		ck_assert_ptr_nonnull(strstr(cause, "direct_io: on"));
		free(cause);
	} else {
		ck_assert_ptr_nonnull(w);
		wal_close(w);
	}
	w = check_wal_open(tmpl, SEG1M, WAL_DIRECT_AUTO);
	wal_stats(w, &st);
	ck_assert_int_eq(st.direct_io, fd != -1);
	check_wal_write(w, 100, 0);
	wal_close(w);
	ck_assert_uint_eq(check_wal_readall(tmpl, 0, 1), 100);
	check_wal_rmdir(tmpl);
}
END_TEST

START_TEST(test_verify_bitflip)
{
	char	*dir = check_wal_tmpdir(), path[512], want[128], *out = NULL;
	size_t	 outlen = 0;
	uint64_t off;
	FILE	*f;

	check_wal_make_segments(dir, 2);
	f = open_memstream(&out, &outlen);
	ck_assert_int_eq(wal_verify(dir, f), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(out, "3 segments, 30 records, LSN 1..30"));
	free(out);
	/* A bit in record 15 of the sealed segment 11. */
	check_wal_segpath(path, sizeof path, dir, 11);
	off = check_wal_offset(11, 15);
	check_wal_flip(path, off + REC_HDR_SIZE + 3);
	f = open_memstream(&out, &outlen);
	ck_assert_int_eq(wal_verify(dir, f), 1);
	fclose(f);
	snprintf(want, sizeof want, "00000000000000000011.wal: offset %llu: "
	    "LSN 15: record checksum mismatch", (unsigned long long)off);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
	free(out);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_verify_torn_note)
{
	struct wal	*w;
	char		*dir = check_wal_tmpdir(), path[512], *out = NULL;
	size_t		 outlen = 0;
	FILE		*f;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 10, 0);
	check_wal_write(w, 3, 0);
	wal_close(w);
	check_wal_segpath(path, sizeof path, dir, 1);
	check_wal_poke(path, check_wal_offset(1, 12) + 3, 0x77, 10);
	f = open_memstream(&out, &outlen);
	ck_assert_int_eq(wal_verify(dir, f), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(out, "note: "));
	ck_assert_ptr_nonnull(strstr(out, "torn tail"));
	ck_assert_ptr_nonnull(strstr(out, "LSN 12"));
	free(out);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

static int	check_wal_fail_after = -1;

/* fdatasync that fails with EIO once the counter runs out. */
static int
check_wal_bad_fdatasync(int fd)
{
	if (check_wal_fail_after == 0) {
		errno = EIO;
		return (-1);
	}
	if (check_wal_fail_after > 0)
		check_wal_fail_after--;
	return (sysio_real.fdatasync(fd));
}

START_TEST(test_inject_eio)
{
	struct wal		*w;
	struct wal_stats	 st;
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	uint64_t		 lsn, d;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 30, 10);
	sysio.fdatasync = check_wal_bad_fdatasync;
	check_wal_fail_after = 0;
	ck_assert_int_eq(wal_append(w, 0, 1, 1, "abc", 3, &lsn), WAL_OK);
	ck_assert_uint_eq(lsn, 31);
	ck_assert_int_eq(wal_sync(w, &d, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "fdatasync"));
	ck_assert_ptr_nonnull(strstr(cause, "00000000000000000001.wal"));
	ck_assert_ptr_nonnull(strstr(cause, "Input/output error"));
	free(cause);
	ck_assert_uint_eq(d, 30);
	/* Latched: even once fdatasync works again. */
	sysio.fdatasync = sysio_real.fdatasync;
	ck_assert_int_eq(wal_append(w, 0, 1, 1, "abc", 3, &lsn), WAL_EFAILED);
	ck_assert_int_eq(wal_mark_rotate(w), WAL_EFAILED);
	wal_stats(w, &st);
	ck_assert_int_eq(st.failed, 1);
	ck_assert_uint_eq(st.durable_lsn, 30);
	wal_close(w);
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	wal_stats(w, &st);
	ck_assert_uint_ge(st.next_lsn, 31);
	wal_close(w);
	ck_assert_uint_ge(check_wal_count(dir, 1, NULL, 30), 30);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);

	/* A failure while sealing a full segment at rollover. */
	check_wal_rmdir(dir);
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 100, 10);
	sysio.fdatasync = check_wal_bad_fdatasync;
	check_wal_fail_after = 0;	/* the records are synced: the footer */
	ck_assert_int_eq(wal_mark_rotate(w), WAL_EWAIT);
	ck_assert_int_eq(wal_prepare_spare(w, &cause), 0);
	ck_assert_int_eq(wal_mark_rotate(w), WAL_OK);
	ck_assert_int_eq(wal_sync(w, &d, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "fdatasync"));
	free(cause);
	sysio.fdatasync = sysio_real.fdatasync;
	wal_close(w);
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.next_lsn, 101);
	wal_close(w);
	ck_assert_uint_eq(check_wal_readall(dir, 0, 1), 100);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

/* pwrite that counts the large writes of zeros (a spare being zeroed). */
static int	check_wal_zero_writes;

static ssize_t
check_wal_count_zeros(int fd, const void *buf, size_t n, off_t off)
{
	const unsigned char	*p = buf;
	size_t			 i;

	for (i = 0; i < n && p[i] == 0; i++)
		;
	if (n >= (64u << 10) && i == n)
		check_wal_zero_writes++;
	return (sysio_real.pwrite(fd, buf, n, off));
}

/* fallocate that fails with check_wal_fallocate_errno: a full disk, or a
   file system without fallocate. */
static int	check_wal_fallocate_errno = ENOSPC;

static int
check_wal_bad_fallocate(int fd, int mode, off_t off, off_t len)
{
	(void)fd;
	(void)mode;
	(void)off;
	(void)len;
	errno = check_wal_fallocate_errno;
	return (-1);
}

/* Spares are written with zeros or only fallocated as the mode says;
   AUTO follows the size of the last segment's flushes. Every record
   reads back either way. */
START_TEST(test_spare_modes)
{
	struct wal		*w;
	struct wal_stats	 st;
	char			*dir, *cause = NULL;
	uint64_t		 segs;
	int			 i;

	sysio.pwrite = check_wal_count_zeros;
	/* ZEROS, FALLOCATE, then FALLOCATE where fallocate fails. */
	for (i = 0; i < 3; i++) {
		check_wal_spare_mode = i == 0 ? WAL_SPARE_ZEROS :
		    WAL_SPARE_FALLOCATE;
		if (i == 2) {
			check_wal_fallocate_errno = EOPNOTSUPP;
			sysio.fallocate = check_wal_bad_fallocate;
		}
		dir = check_wal_tmpdir();
		check_wal_zero_writes = 0;
		w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
		check_wal_write(w, 2000, 100);
		wal_stats(w, &st);
		ck_assert_uint_ge(st.segments, 3);
		if (i == 1)
			ck_assert_int_eq(check_wal_zero_writes, 0);
		else
			ck_assert_int_ge(check_wal_zero_writes, 2);
		wal_close(w);
		sysio.fallocate = sysio_real.fallocate;
		check_wal_fallocate_errno = ENOSPC;
		ck_assert_uint_eq(check_wal_readall(dir, 0, 1), 2000);
		ck_assert_int_eq(wal_verify(dir, stderr), 0);
		check_wal_rmdir(dir);
		free(dir);
	}

	/* AUTO: small flushes keep the zeros; after a segment written in
	   flushes of 32 KiB and more (300 records of 1.6 KB on average),
	   spares are fallocated only; small flushes bring the zeros back. */
	check_wal_spare_mode = WAL_SPARE_AUTO;
	dir = check_wal_tmpdir();
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_zero_writes = 0;
	check_wal_write(w, 1500, 1);
	ck_assert_int_ge(check_wal_zero_writes, 1);
	check_wal_write(w, 1500, 300);	/* the switch lags a segment */
	wal_stats(w, &st);
	segs = st.segments;
	check_wal_zero_writes = 0;
	check_wal_write(w, 3000, 300);
	wal_stats(w, &st);
	ck_assert_uint_ge(st.segments, segs + 3);
	ck_assert_int_eq(check_wal_zero_writes, 0);
	check_wal_write(w, 3000, 1);
	ck_assert_int_ge(check_wal_zero_writes, 1);

	/* A restart goes by the segment the last run was writing: after
	   large flushes, no zeros from the first segment of the new run on
	   (not even the one wal_open makes); after small ones, zeros. */
	ck_assert_int_eq(wal_rotate(w, &cause), 0);
	check_wal_write(w, 500, 300);
	wal_close(w);
	check_wal_zero_writes = 0;
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 1000, 300);
	wal_stats(w, &st);
	ck_assert_uint_ge(st.segments, segs + 8);
	ck_assert_int_eq(check_wal_zero_writes, 0);
	ck_assert_int_eq(wal_rotate(w, &cause), 0);
	check_wal_write(w, 500, 1);
	wal_close(w);
	check_wal_zero_writes = 0;
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	ck_assert_int_ge(check_wal_zero_writes, 1);
	wal_close(w);
	sysio.pwrite = sysio_real.pwrite;
	ck_assert_uint_eq(check_wal_readall(dir, 0, 1), 11000);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

/* A spare that cannot be made: a full disk (or quota) refuses what needs
   it with WAL_ENOSPC, any other error with WAL_ESPARE, never a wait; a
   later preparation that succeeds lets appends go on. One loop per row. */
static const struct {
	int		err;
	enum wal_rc	rc;
} check_wal_spare_fails[] = {
	{ ENOSPC, WAL_ENOSPC },
	{ EDQUOT, WAL_ENOSPC },
	{ EIO, WAL_ESPARE },
	{ EMFILE, WAL_ESPARE },
};

START_TEST(test_enospc_spare)
{
	struct wal	*w;
	char		*dir = check_wal_tmpdir(), *cause = NULL;
	static char	 buf[60000];
	uint64_t	 lsn;
	enum wal_rc	 rc, want = check_wal_spare_fails[_i].rc;
	int		 i, err = check_wal_spare_fails[_i].err;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_fallocate_errno = err;
	sysio.fallocate = check_wal_bad_fallocate;
	ck_assert_int_eq(wal_prepare_spare(w, &cause), -1);
	ck_assert_int_eq(errno, err);
	free(cause);
	ck_assert_int_eq(wal_spare_ready(w), 0);
	ck_assert_int_eq(wal_spare_errno(w), err);
	for (i = 0; i < 100; i++) {
		rc = wal_append(w, 0, 0, 0, buf, sizeof buf, &lsn);
		if (rc == WAL_EFULL) {
			check_wal_sync(w);
			continue;
		}
		if (rc != WAL_OK)
			break;
	}
	ck_assert_int_eq(rc, want);
	ck_assert_int_eq(wal_mark_rotate(w), want);
	sysio.fallocate = sysio_real.fallocate;
	check_wal_fallocate_errno = ENOSPC;
	ck_assert_int_eq(wal_prepare_spare(w, &cause), 0);
	ck_assert_int_eq(wal_spare_errno(w), 0);
	ck_assert_int_eq(wal_append(w, 0, 0, 0, buf, sizeof buf, &lsn),
	    WAL_EFULL);
	check_wal_sync(w);
	ck_assert_int_eq(wal_append(w, 0, 0, 0, buf, sizeof buf, &lsn), WAL_OK);
	check_wal_sync(w);
	wal_close(w);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_unfinished_truncate)
{
	struct wal		*w;
	struct wal_stats	 st;
	char			*dir = check_wal_tmpdir(), path[512];
	char			*cause = NULL;
	struct stat		 sb;
	off_t			 sealed;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 10, 0);
	ck_assert_int_eq(wal_rotate(w, &cause), 0);
	wal_close(w);
	/* Crash after the footer, before the cut: the file is full size. */
	check_wal_segpath(path, sizeof path, dir, 1);
	ck_assert_int_eq(stat(path, &sb), 0);
	sealed = sb.st_size;
	ck_assert_int_eq(truncate(path, (off_t)SEG1M), 0);
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.next_lsn, 11);
	wal_close(w);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, sealed);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_stray_files)
{
	struct wal	*w;
	char		*dir = check_wal_tmpdir(), path[512], *cause;
	int		 fd;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 3, 0);
	wal_close(w);
	snprintf(path, sizeof path, "%s/notes.txt", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	ck_assert_int_ne(fd, -1);
	close(fd);
	check_wal_logbuf[0] = '\0';
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	ck_assert_ptr_nonnull(strstr(check_wal_logbuf, "notes.txt: not a "
	    "segment file"));
	wal_close(w);
	snprintf(path, sizeof path, "%s/123.wal", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	ck_assert_int_ne(fd, -1);
	close(fd);
	cause = check_wal_open_fail(dir, SEG1M);
	ck_assert_ptr_nonnull(strstr(cause, "123.wal"));
	free(cause);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_rotate_marks)
{
	struct wal		*w;
	struct wal_batch	*b;
	struct wal_stats	 st;
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	uint64_t		 lsn;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	/* Nothing in the segment: rotating is a no-op. */
	ck_assert_int_eq(wal_mark_rotate(w), WAL_OK);
	ck_assert_ptr_null(wal_flush_begin(w));
	ck_assert_int_eq(wal_append(w, 1, 2, 3, "hello", 5, &lsn), WAL_OK);
	ck_assert_int_eq(wal_mark_rotate(w), WAL_EWAIT);
	ck_assert_int_eq(wal_prepare_spare(w, &cause), 0);
	ck_assert_int_eq(wal_spare_ready(w), 1);
	ck_assert_int_eq(wal_mark_rotate(w), WAL_OK);
	ck_assert_int_eq(wal_append(w, 1, 2, 3, "hello", 5, &lsn), WAL_EFULL);
	b = wal_flush_begin(w);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(wal_batch_last_lsn(b), 1);
	ck_assert_ptr_null(wal_flush_begin(w));
	/* The loop fills the next batch while this one is out. */
	ck_assert_int_eq(wal_append(w, 1, 2, 3, "world", 5, &lsn), WAL_OK);
	ck_assert_uint_eq(lsn, 2);
	/* A batch that begins a segment cannot rotate it again. */
	ck_assert_int_eq(wal_mark_rotate(w), WAL_EFULL);
	ck_assert_int_eq(wal_flush_io(w, b, &cause), 0);
	ck_assert_uint_eq(wal_flush_end(w, b), 1);
	ck_assert_uint_eq(check_wal_sync(w), 2);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.active_first_lsn, 2);
	ck_assert_uint_eq(st.segments, 2);
	wal_close(w);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

static size_t	check_wal_short_max = 1000;

/* pwrite that writes at most check_wal_short_max bytes per call. */
static ssize_t
check_wal_short_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (n > check_wal_short_max)
		n = check_wal_short_max;
	return (sysio_real.pwrite(fd, buf, n, off));
}

START_TEST(test_short_writes)
{
	struct wal	*w;
	char		*dir;
	int		 mode;

	sysio.pwrite = check_wal_short_pwrite;
	for (mode = WAL_DIRECT_ON; mode <= WAL_DIRECT_OFF; mode++) {
		/* O_DIRECT can only be short by whole blocks. */
		check_wal_short_max = mode == WAL_DIRECT_ON ? 4096 : 1000;
		dir = check_wal_tmpdir();
		w = check_wal_open(dir, SEG1M, (enum wal_direct)mode);
		check_wal_write(w, 1200, 17);
		wal_close(w);
		w = check_wal_open(dir, SEG1M, (enum wal_direct)mode);
		check_wal_write(w, 100, 0);
		wal_close(w);
		ck_assert_uint_eq(check_wal_readall(dir, 0, 1), 1300);
		ck_assert_int_eq(wal_verify(dir, stderr), 0);
		check_wal_rmdir(dir);
		free(dir);
	}
	sysio.pwrite = sysio_real.pwrite;
}
END_TEST

static int	check_wal_sync_budget = -1;

/* fdatasync that fails with EIO once the budget is spent. */
static int
check_wal_budget_fdatasync(int fd)
{
	if (check_wal_sync_budget == 0) {
		errno = EIO;
		return (-1);
	}
	if (check_wal_sync_budget > 0)
		check_wal_sync_budget--;
	return (sysio_real.fdatasync(fd));
}

/* fsync that fails with EIO once the budget is spent. */
static int
check_wal_budget_fsync(int fd)
{
	if (check_wal_sync_budget == 0) {
		errno = EIO;
		return (-1);
	}
	if (check_wal_sync_budget > 0)
		check_wal_sync_budget--;
	return (sysio_real.fsync(fd));
}

START_TEST(test_fail_every_sync)
{
	struct wal		*w;
	struct wal_stats	 st;
	static unsigned char	 buf[4096];
	char			*dir, *cause = NULL;
	uint64_t		 lsn, durable, d;
	enum wal_rc		 rc;
	int			 n, i, failed;

	for (n = 0; n < 200; n++) {
		dir = check_wal_tmpdir();
		w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
		sysio.fdatasync = check_wal_budget_fdatasync;
		sysio.fsync = check_wal_budget_fsync;
		check_wal_sync_budget = n;
		durable = 0;
		failed = 0;
		for (i = 0; i < 1500 && !failed; ) {
			wal_stats(w, &st);
			check_wal_payload(st.next_lsn, buf,
			    check_wal_len(st.next_lsn));
			rc = wal_append(w, (uint16_t)(st.next_lsn % 2),
			    (uint32_t)(st.next_lsn % 3),
			    (uint16_t)(st.next_lsn % 5), buf,
			    check_wal_len(st.next_lsn), &lsn);
			if (rc == WAL_OK)
				i++;
			if (rc == WAL_EWAIT && wal_prepare_spare(w, &cause) != 0)
				failed = 1;
			if (rc == WAL_EFULL || (rc == WAL_OK && i % 50 == 0)) {
				if (wal_sync(w, &d, &cause) != 0)
					failed = 1;
				else
					durable = d;
			}
			if (rc == WAL_EFAILED)
				failed = 1;
			free(cause);
			cause = NULL;
		}
		sysio.fdatasync = sysio_real.fdatasync;
		sysio.fsync = sysio_real.fsync;
		wal_close(w);
		/* Everything acknowledged is there; the LSNs continue. */
		w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
		wal_stats(w, &st);
		ck_assert_uint_gt(st.next_lsn, durable);
		check_wal_write(w, 1, 0);
		wal_close(w);
		ck_assert_uint_eq(check_wal_readall(dir, 1, 1), st.next_lsn);
		ck_assert_int_eq(wal_verify(dir, stderr), 0);
		check_wal_rmdir(dir);
		free(dir);
		if (!failed)
			break;
	}
	ck_assert_int_lt(n, 200);
}
END_TEST

/* An idempotent append as producer 9 of tenant 4; its rc, *lsn. */
static enum wal_rc
check_wal_prod(struct wal *w, uint64_t seq, uint64_t *lsn)
{
	struct wal_producer_seq	ps = { .producer = 9, .seq = seq };
	char			p[16];
	int			n;

	n = snprintf(p, sizeof p, "seq %llu", (unsigned long long)seq);
	return (wal_append_as(w, &ps, 1, 4, 0, p, (uint32_t)n, lsn));
}

/*
 * The producer table holds only what the log holds: retries are answered
 * with the original LSN across close and open (snapshot), with the
 * snapshot damaged (the records are read again), and a flush cut as a
 * torn tail is forgotten with its records. Every record carries a time
 * that never goes back.
 */
START_TEST(test_producer_table)
{
	struct wal		*w;
	struct wal_reader	*r;
	struct wal_record	 rec;
	char			*dir = check_wal_tmpdir(), path[512];
	char			*cause = NULL;
	uint64_t		 lsn, l3, start, prev = 0;
	uint64_t		 i;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	for (i = 1; i <= 3; i++)
		ck_assert_int_eq(check_wal_prod(w, i, &lsn), WAL_OK);
	l3 = lsn;
	ck_assert_int_eq(check_wal_prod(w, 3, &lsn), WAL_EDUP);
	ck_assert_uint_eq(lsn, l3);	/* in flight: still recognised */
	check_wal_sync(w);
	ck_assert_int_eq(check_wal_prod(w, 5, &lsn), WAL_ESEQ);
	ck_assert_uint_eq(wal_producer_next(w, 9, 4, NULL), 4);
	ck_assert_uint_eq(wal_producer_next(w, 9, 5, NULL), 0);
	/* The same producer id in another tenant is another producer. */
	{
		struct wal_producer_seq	ps = { .producer = 9, .seq = 77 };

		ck_assert_int_eq(wal_append_as(w, &ps, 1, 5, 0, "x", 1,
		    &lsn), WAL_OK);
	}
	check_wal_sync(w);
	wal_close(w);

	/* Close and open: the snapshot. */
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	ck_assert_int_eq(check_wal_prod(w, 3, &lsn), WAL_EDUP);
	ck_assert_uint_eq(lsn, l3);
	wal_close(w);

	/* A damaged snapshot: read from the records instead. */
	snprintf(path, sizeof path, "%s/%s", dir, PRODUCERS_NAME);
	check_wal_flip(path, 40);
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	ck_assert_int_eq(check_wal_prod(w, 3, &lsn), WAL_EDUP);
	ck_assert_uint_eq(lsn, l3);
	ck_assert_uint_eq(wal_producer_next(w, 9, 5, NULL), 78);

	/* Seq 4 in a flush of its own, then cut as a torn tail (zeros)
	   with the snapshot gone: seq 4 is forgotten with its record. */
	ck_assert_int_eq(check_wal_prod(w, 4, &lsn), WAL_OK);
	start = lsn;
	check_wal_sync(w);
	{
		struct wal_stats st;

		wal_stats(w, &st);
		start = st.active_offset;
		check_wal_segpath(path, sizeof path, dir,
		    st.active_first_lsn);
	}
	wal_close(w);
	/* The last record: its time and producer, then "seq 4". */
	check_wal_poke(path, start - seg_rec_size(24 + 5), 0,
	    (size_t)seg_rec_size(24 + 5));
	{
		char	snap[512];

		snprintf(snap, sizeof snap, "%s/%s", dir, PRODUCERS_NAME);
		ck_assert_int_eq(unlink(snap), 0);
	}
	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	ck_assert_uint_eq(wal_producer_next(w, 9, 4, NULL), 4);
	ck_assert_int_eq(check_wal_prod(w, 4, &lsn), WAL_OK);
	check_wal_sync(w);
	wal_close(w);

	/* Times: on every record, never going back. */
	r = wal_reader_open(dir, 0, NULL, &cause);
	ck_assert_ptr_nonnull(r);
	i = 0;
	while (wal_reader_next(r, UINT64_MAX, &rec, &cause) == 1) {
		ck_assert_uint_gt(rec.time_ns, 0);
		ck_assert_uint_ge(rec.time_ns, prev);
		prev = rec.time_ns;
		ck_assert_uint_eq(rec.producer, 9);
		i++;
	}
	ck_assert_uint_eq(i, 5);
	wal_reader_close(r);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_torn_sectors)
{
	struct wal		*w;
	struct wal_stats	 st;
	char			*dir = check_wal_tmpdir(), copy[512], path[512];
	uint64_t		 start, end, s, a, b;
	int			 trial;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	check_wal_write(w, 30, 5);
	check_wal_write(w, 6, 0);	/* LSN 31..36: one flush */
	wal_close(w);
	start = check_wal_offset(1, 31);
	end = check_wal_offset(1, 37);
	snprintf(copy, sizeof copy, "%s.copy", dir);
	check_wal_segpath(path, sizeof path, copy, 1);
	srandom(7);
	for (trial = 0; trial < 150; trial++) {
		check_wal_copydir(dir, copy);
		/* Each sector of the last flush keeps its old or new bytes. */
		for (s = start / 512; s * 512 < end; s++) {
			if (random() & 1)
				continue;
			a = s * 512 > start ? s * 512 : start;
			b = s * 512 + 512 < end ? s * 512 + 512 : end;
			check_wal_poke(path, a, 0, (size_t)(b - a));
		}
		w = check_wal_open(copy, SEG1M, WAL_DIRECT_AUTO);
		wal_stats(w, &st);
		ck_assert_uint_ge(st.next_lsn, 31);
		ck_assert_uint_le(st.next_lsn, 37);
		ck_assert_uint_eq(check_wal_append(w, 1, 2, 3, 10),
		    st.next_lsn);
		check_wal_sync(w);
		wal_close(w);
		ck_assert_uint_ge(check_wal_count(copy, 1, NULL, UINT64_MAX),
		    31);
		ck_assert_int_eq(wal_verify(copy, stderr), 0);
	}
	check_wal_rmdir(copy);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_rotate_while_activating)
{
	struct wal		*w;
	struct wal_batch	*b;
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	static unsigned char	 big[200000];
	uint64_t		 lsn;
	enum wal_rc		 rc;
	int			 i;

	w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	ck_assert_int_eq(wal_append(w, 0, 0, 0, "a", 1, &lsn), WAL_OK);
	ck_assert_int_eq(wal_prepare_spare(w, &cause), 0);
	ck_assert_int_eq(wal_mark_rotate(w), WAL_OK);
	check_wal_sync(w);
	/* The batch that activates the spare is out... */
	ck_assert_int_eq(wal_append(w, 0, 0, 0, "b", 1, &lsn), WAL_OK);
	b = wal_flush_begin(w);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(wal_append(w, 0, 0, 0, "c", 1, &lsn), WAL_OK);
	/* ...so the spare it will use cannot be promised again. */
	ck_assert_int_eq(wal_spare_ready(w), 1);
	ck_assert_int_eq(wal_mark_rotate(w), WAL_EFULL);
	for (i = 0; i < 10; i++) {
		rc = wal_append(w, 0, 0, 0, big, sizeof big, &lsn);
		if (rc != WAL_OK)
			break;
	}
	ck_assert_int_eq(rc, WAL_EFULL);
	ck_assert_int_eq(wal_flush_io(w, b, &cause), 0);
	wal_flush_end(w, b);
	ck_assert_int_eq(wal_spare_ready(w), 0);
	ck_assert_int_eq(wal_mark_rotate(w), WAL_EWAIT);
	ck_assert_int_eq(wal_prepare_spare(w, &cause), 0);
	ck_assert_int_eq(wal_mark_rotate(w), WAL_OK);
	check_wal_sync(w);
	ck_assert_int_eq(wal_append(w, 0, 0, 0, "d", 1, &lsn), WAL_OK);
	check_wal_sync(w);
	wal_close(w);
	ck_assert_int_eq(check_wal_nsegs(dir), 3);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

static uint64_t	check_wal_pread_calls, check_wal_pread_bytes;

/* pread that counts calls and bytes. */
static ssize_t
check_wal_counting_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t	r;

	r = sysio_real.pread(fd, buf, n, off);
	check_wal_pread_calls++;
	if (r > 0)
		check_wal_pread_bytes += (uint64_t)r;
	return (r);
}

START_TEST(test_reader_io)
{
	struct wal		*w;
	struct wal_filter	 f;
	struct wal_options	 o;
	static unsigned char	 big[3 << 20];
	char			*dir = check_wal_tmpdir(), *cause = NULL;
	uint64_t		 lsn, n;
	int			 i;

	/* Small records: the reader reads in large chunks. */
	w = check_wal_open(dir, 64ull << 20, WAL_DIRECT_AUTO);
	check_wal_write(w, 20000, 1000);
	wal_close(w);
	sysio.pread = check_wal_counting_pread;
	check_wal_pread_calls = 0;
	ck_assert_uint_eq(check_wal_readall(dir, 0, 1), 20000);
	ck_assert_uint_lt(check_wal_pread_calls, 100);
	sysio.pread = sysio_real.pread;
	check_wal_rmdir(dir);

	/* Large records that do not match are skipped, not read. */
	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.segment_size = 64ull << 20;
	o.max_record = sizeof big;
	w = wal_open(&o, &cause);
	ck_assert_ptr_nonnull(w);
	for (i = 0; i < 30; i++) {
		ck_assert_int_eq(wal_append(w, 0, 1, 0, big, sizeof big, &lsn),
		    WAL_OK);
		check_wal_sync(w);
		ck_assert_int_eq(wal_append(w, 0, 2, 0, "x", 1, &lsn), WAL_OK);
		check_wal_sync(w);
		if (i % 10 == 9)
			ck_assert_int_eq(wal_rotate(w, NULL), 0);
	}
	wal_close(w);
	memset(&f, 0, sizeof f);
	f.has_tenant = 1;
	f.tenant = 2;
	sysio.pread = check_wal_counting_pread;
	check_wal_pread_bytes = 0;
	n = check_wal_count(dir, 1, &f, UINT64_MAX);
	sysio.pread = sysio_real.pread;
	ck_assert_uint_eq(n, 30);
	ck_assert_uint_lt(check_wal_pread_bytes, 30ull * sizeof big / 2);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

struct check_wal_pipe {
	pthread_mutex_t		 m;
	pthread_cond_t		 c;
	struct wal		*w;
	struct wal_batch	*b;
	int			 done;
	int			 stop;
	int			 rc;
};

/* Flusher thread: writes each batch handed over. */
static void *
check_wal_flusher(void *arg)
{
	struct check_wal_pipe	*p = arg;
	struct wal_batch	*b;
	char			*cause = NULL;
	int			 rc;

	pthread_mutex_lock(&p->m);
	for (;;) {
		while ((p->b == NULL || p->done) && !p->stop)
			pthread_cond_wait(&p->c, &p->m);
		if (p->stop)
			break;
		b = p->b;
		pthread_mutex_unlock(&p->m);
		rc = wal_flush_io(p->w, b, &cause);
		pthread_mutex_lock(&p->m);
		p->rc = rc;
		p->done = 1;
		pthread_cond_broadcast(&p->c);
	}
	pthread_mutex_unlock(&p->m);
	return (NULL);
}

/* Spare thread: keeps a spare ready. */
static void *
check_wal_sparer(void *arg)
{
	struct check_wal_pipe	*p = arg;
	char			*cause = NULL;

	for (;;) {
		pthread_mutex_lock(&p->m);
		if (p->stop) {
			pthread_mutex_unlock(&p->m);
			break;
		}
		pthread_mutex_unlock(&p->m);
		if (!wal_spare_ready(p->w))
			ck_assert_int_eq(wal_prepare_spare(p->w, &cause), 0);
		usleep(500);
	}
	return (NULL);
}

/* Loop side: takes a finished batch back and hands out the next. */
static void
check_wal_pump(struct check_wal_pipe *p, int wait)
{
	struct wal_batch	*b;

	pthread_mutex_lock(&p->m);
	if (p->b != NULL && wait)
		while (!p->done)
			pthread_cond_wait(&p->c, &p->m);
	if (p->b != NULL && p->done) {
		ck_assert_int_eq(p->rc, 0);
		wal_flush_end(p->w, p->b);
		p->b = NULL;
		p->done = 0;
	}
	if (p->b == NULL && (b = wal_flush_begin(p->w)) != NULL) {
		p->b = b;
		pthread_cond_broadcast(&p->c);
	}
	pthread_mutex_unlock(&p->m);
}

START_TEST(test_threads_group_commit)
{
	struct check_wal_pipe	 p;
	struct wal_stats	 st;
	pthread_t		 ft, sp;
	static unsigned char	 buf[4096];
	char			*dir = check_wal_tmpdir();
	uint64_t		 lsn, want = 1;
	enum wal_rc		 rc;
	int			 i;

	memset(&p, 0, sizeof p);
	pthread_mutex_init(&p.m, NULL);
	pthread_cond_init(&p.c, NULL);
	p.w = check_wal_open(dir, SEG1M, WAL_DIRECT_AUTO);
	ck_assert_int_eq(pthread_create(&ft, NULL, check_wal_flusher, &p), 0);
	ck_assert_int_eq(pthread_create(&sp, NULL, check_wal_sparer, &p), 0);
	for (i = 0; i < 20000; i++) {
		check_wal_payload(want, buf, check_wal_len(want));
		rc = wal_append(p.w, (uint16_t)(want % 2), (uint32_t)(want % 3),
		    (uint16_t)(want % 5), buf, check_wal_len(want), &lsn);
		if (rc == WAL_OK) {
			ck_assert_uint_eq(lsn, want);
			want++;
			check_wal_pump(&p, 0);
		} else if (rc == WAL_EFULL)
			check_wal_pump(&p, 1);
		else if (rc == WAL_EWAIT) {
			check_wal_pump(&p, 0);
			usleep(100);
		} else
			ck_abort_msg("append rc %d", rc);
	}
	check_wal_pump(&p, 1);
	check_wal_pump(&p, 1);
	check_wal_pump(&p, 1);
	wal_stats(p.w, &st);
	ck_assert_uint_eq(st.durable_lsn, want - 1);
	pthread_mutex_lock(&p.m);
	p.stop = 1;
	pthread_cond_broadcast(&p.c);
	pthread_mutex_unlock(&p.m);
	pthread_join(ft, NULL);
	pthread_join(sp, NULL);
	wal_close(p.w);
	ck_assert_uint_eq(check_wal_readall(dir, 0, 1), want - 1);
	ck_assert_int_eq(wal_verify(dir, stderr), 0);
	check_wal_rmdir(dir);
	free(dir);
}
END_TEST

/* The suite. */
static Suite *
check_wal_suite(void)
{
	Suite	*s = suite_create("wal");
	TCase	*tc = tcase_create("wal");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_format_roundtrip);
	tcase_add_test(tc, test_format_v1);
	tcase_add_test(tc, test_recover_reused_tail);
	tcase_add_test(tc, test_append_reopen);
	tcase_add_test(tc, test_rollover_continuity);
	tcase_add_test(tc, test_empty_last_segment);
	tcase_add_test(tc, test_fully_torn_last_segment);
	tcase_add_test(tc, test_torn_tail_every_offset);
	tcase_add_test(tc, test_torn_tail_every_offset_garbage);
	tcase_add_test(tc, test_torn_tail_keeps_prefix);
	tcase_add_test(tc, test_midfile_corruption);
	tcase_add_test(tc, test_missing_middle_segment);
	tcase_add_test(tc, test_footer_bitflip);
	tcase_add_test(tc, test_sealed_log);
	tcase_add_test(tc, test_seal_empty);
	tcase_add_test(tc, test_truncate);
	tcase_add_test(tc, test_recycle);
	tcase_add_test(tc, test_recycle_reader);
	tcase_add_test(tc, test_recycle_reader_forged);
	tcase_add_test(tc, test_recycle_reader_boundary);
	tcase_add_test(tc, test_recycle_rename_fails);
	tcase_add_test(tc, test_reader_filters);
	tcase_add_test(tc, test_reader_follow);
	tcase_add_test(tc, test_lock);
	tcase_add_test(tc, test_too_big);
	tcase_add_test(tc, test_direct_io);
	tcase_add_test(tc, test_verify_bitflip);
	tcase_add_test(tc, test_verify_torn_note);
	tcase_add_test(tc, test_inject_eio);
	tcase_add_test(tc, test_spare_modes);
	tcase_add_loop_test(tc, test_enospc_spare, 0,
	    (int)(sizeof check_wal_spare_fails /
	    sizeof check_wal_spare_fails[0]));
	tcase_add_test(tc, test_unfinished_truncate);
	tcase_add_test(tc, test_stray_files);
	tcase_add_test(tc, test_rotate_marks);
	tcase_add_test(tc, test_threads_group_commit);
	tcase_add_test(tc, test_reader_io);
	tcase_add_test(tc, test_rotate_while_activating);
	tcase_add_test(tc, test_short_writes);
	tcase_add_test(tc, test_fail_every_sync);
	tcase_add_test(tc, test_torn_sectors);
	tcase_add_test(tc, test_producer_table);
	suite_add_tcase(s, tc);
	return (s);
}

/* Runs the suite; non-zero exit on any failure. */
int
main(void)
{
	SRunner	*sr = srunner_create(check_wal_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
