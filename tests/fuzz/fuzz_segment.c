/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_segment.c: libFuzzer target for the record and segment decoder: the
 * input is written out as a whole data directory, which then goes through
 * wal_verify, a wal_reader over every record (with and without a filter),
 * and wal_open (recovery), an append and a sync.
 *
 * Input: u8 flags, then up to 4 segment files, each either raw:
 *	u64 first LSN (names the file "%020llu.wal")
 *	u32 file size (at most 4 MiB; the file is zero-padded up to it)
 *	u32 content length, then that many bytes (cut to what is left)
 * or, with flags bit 2, built from a description (valid by construction,
 * then damaged on purpose, so that recovery's hard cases are reached):
 *	u64 first LSN, u8 records, u8 how (bit 0 a footer, bit 1 the footer
 *	seals the log, bit 2 zero-pad to 1 MiB as an active segment is,
 *	bit 3 one batch for all records, else one each, bit 4 format
 *	version 1 (record CRCs without the segment id), bit 5 the header
 *	says the file is reused)
 *	per record: u8 payload length, u8 tenant, u8 LSN skip (0: the next
 *	LSN), then the payload
 *	u8 damages, each u16 offset (from the end of the header, modulo the
 *	file size) and u8 xor mask
 * flags: bit 0 recompute the CRCs of raw files (header, records, footer
 * data CRC) so that mutations get past them; bit 1 run wal_open too;
 * bit 2 described segments; bits 3-7 the tenant of a filtered read.
 *
 * With FUZZ_SEGMENT_DEBUG set, what verify, the reader and wal_open
 * found goes to stderr (to check a seed).
 *
 * File system calls go to a private directory (TMPDIR, best on tmpfs);
 * fsync and fdatasync are no-ops here (sysio table): only the decoding
 * is under test, not durability.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#define FUZZ_MAX_FILE	(4u << 20)
#define FUZZ_MAX_SEGS	4
#define FUZZ_MAX_READ	100000		/* records read per reader */

static char	 fuzz_dir[256];
static FILE	*fuzz_null;

static int
fuzz_nosync(int fd)
{
	(void)fd;
	return (0);
}

/* Removes every file of the directory (segments, spare, lock). */
static void
fuzz_clear(void)
{
	struct dirent	*de;
	DIR		*d;
	char		 path[512];

	if ((d = opendir(fuzz_dir)) == NULL)
		abort();
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", fuzz_dir, de->d_name);
		if (unlink(path) != 0)
			abort();
	}
	closedir(d);
}

static void
fuzz_cleanup(void)
{
	fuzz_clear();
	rmdir(fuzz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*tmp = getenv("TMPDIR");

	(void)argc; (void)argv;
	if (tmp == NULL || *tmp == '\0')
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(fuzz_dir, sizeof fuzz_dir, "%s/fuzz_segment.%ld", tmp,
	    (long)getpid());
	if (mkdir(fuzz_dir, 0700) != 0 && errno != EEXIST)
		abort();
	if ((fuzz_null = fopen("/dev/null", "w")) == NULL)
		abort();
	sysio.fsync = fuzz_nosync;
	sysio.fdatasync = fuzz_nosync;
	atexit(fuzz_cleanup);
	return (0);
}

/* The record CRC seed the header of image f calls for. */
static uint32_t
fuzz_seed(const unsigned char *f)
{
	return (segment_seed(seg_get16(f + 8), f + 24));
}

/* Makes the CRCs of a segment image right where its structure allows. */
static void
fuzz_fix_crcs(unsigned char *f, size_t size)
{
	uint64_t	off = SEG_HDR_SIZE, rs;
	uint32_t	len, seed;
	uint16_t	flags;

	if (size < SEG_HDR_SIZE)
		return;
	seed = fuzz_seed(f);
	seg_put32(f + SEG_HDR_SIZE - 4, crc32c(0, f, SEG_HDR_SIZE - 4));
	while (off + REC_HDR_SIZE <= size) {
		if (seg_get32(f + off) != REC_MAGIC ||
		    f[off + 5] != REC_HDR_SIZE)
			break;
		flags = seg_get16(f + off + 6);
		len = seg_get32(f + off + 16);
		if (len > size - off - REC_HDR_SIZE)
			break;
		if ((flags & REC_F_FOOTER) && len >= 36)
			seg_put32(f + off + REC_HDR_SIZE + 32,
			    crc32c(0, f + SEG_HDR_SIZE, off - SEG_HDR_SIZE));
		seg_put32(f + off + 20, segment_rec_crc(seed, f + off,
		    f + off + REC_HDR_SIZE, len));
		rs = seg_rec_size(len);
		if (rs > size - off)
			break;
		off += rs;
	}
}

/* Appends one record (header, payload, zero padding) at *off. */
static void
fuzz_put_rec(unsigned char *f, uint64_t *off, uint16_t flags,
    uint32_t tenant, const void *payload, uint32_t len, uint64_t lsn,
    uint64_t batch)
{
	unsigned char	*p = f + *off;

	seg_put32(p, REC_MAGIC);
	p[4] = REC_VERSION;
	p[5] = REC_HDR_SIZE;
	seg_put16(p + 6, flags);
	seg_put16(p + 8, (uint16_t)(lsn & 0xffff));
	seg_put16(p + 10, (uint16_t)(tenant * 7));
	seg_put32(p + 12, tenant);
	seg_put32(p + 16, len);
	seg_put32(p + 20, 0);
	seg_put64(p + 24, lsn);
	seg_put64(p + 32, batch);
	memcpy(p + REC_HDR_SIZE, payload, len);
	seg_put32(p + 20, segment_rec_crc(fuzz_seed(f), p, p + REC_HDR_SIZE,
	    len));
	*off += seg_rec_size(len);
}

/* Builds a described segment (see the top); returns its size, 0 when the
   input ran out. *pos moves past the description. */
static size_t
fuzz_build(const uint8_t *data, size_t size, size_t *pos, unsigned char *f,
    uint64_t *first)
{
	unsigned char	 fp[FOOTER_PAYLOAD];
	uint64_t	 off = SEG_HDR_SIZE, lsn, batch, end;
	size_t		 i = *pos, n, k;
	unsigned	 nrec, how, r, len, ndmg;

	if (i + 10 > size)
		return (0);
	*first = seg_get64(data + i);
	if (*first == 0)
		*first = 1;
	nrec = data[i + 8];
	how = data[i + 9];
	i += 10;
	memset(f, 0, SEG_HDR_SIZE);
	memcpy(f, SEG_MAGIC, 8);
	seg_put16(f + 8, (how & 16) ? SEG_VERSION_UNSEEDED : SEG_VERSION);
	seg_put16(f + 10, SEG_HDR_SIZE);
	seg_put32(f + 12, (how & 32) ? SEG_F_REUSED : 0);
	seg_put64(f + 16, *first);
	memcpy(f + 24, "fuzz-segment-id!", 16);
	seg_put32(f + SEG_HDR_SIZE - 4, crc32c(0, f, SEG_HDR_SIZE - 4));
	lsn = *first - 1;
	batch = *first;
	for (r = 0; r < nrec && i + 3 <= size; r++) {
		len = data[i];
		lsn += 1 + data[i + 2];
		if (!(how & 8))
			batch = lsn;
		n = size - (i + 3) < len ? size - (i + 3) : len;
		fuzz_put_rec(f, &off, 0, data[i + 1], data + i + 3, (uint32_t)n,
		    lsn, batch);
		i += 3 + n;
	}
	if (how & 1) {
		end = off;
		seg_put64(fp, *first);
		seg_put64(fp + 8, lsn);
		seg_put64(fp + 16, r);
		seg_put64(fp + 24, end);
		seg_put32(fp + 32, crc32c(0, f + SEG_HDR_SIZE, end -
		    SEG_HDR_SIZE));
		seg_put32(fp + 36, (how & 2) ? FOOTER_F_LOG_SEALED : 0);
		fuzz_put_rec(f, &off, REC_F_FOOTER, 0, fp, FOOTER_PAYLOAD, lsn,
		    lsn + 1);
	}
	n = (how & 4) && off < WAL_MIN_SEGMENT ? WAL_MIN_SEGMENT : off;
	if (i < size) {
		ndmg = data[i++];
		for (k = 0; k < ndmg && i + 3 <= size; k++, i += 3)
			f[SEG_HDR_SIZE + seg_get16(data + i) % (n -
			    SEG_HDR_SIZE + 1 > 1 ? n - SEG_HDR_SIZE : 1)] ^=
			    data[i + 2];
	}
	*pos = i;
	return (n);
}

/* Writes the segment files; returns how many. */
static int
fuzz_write_dir(const uint8_t *data, size_t size, int fix, int build)
{
	unsigned char	*img;
	uint64_t	 first;
	uint32_t	 fsize, clen;
	size_t		 off = 1;
	char		 name[SEG_NAME_SIZE], path[512];
	int		 n = 0, fd;

	/* Described segments: at most 255 records of 255 bytes, plus a
	   footer, fit in 1 MiB. */
	while (build && n < FUZZ_MAX_SEGS) {
		if ((img = calloc(1, WAL_MIN_SEGMENT)) == NULL)
			abort();
		if ((fsize = (uint32_t)fuzz_build(data, size, &off, img,
		    &first)) == 0) {
			free(img);
			break;
		}
		segment_name(name, first);
		snprintf(path, sizeof path, "%s/%s", fuzz_dir, name);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
			abort();
		if (write(fd, img, fsize) != (ssize_t)fsize)
			abort();
		close(fd);
		free(img);
		n++;
	}
	while (!build && n < FUZZ_MAX_SEGS && off + 16 <= size) {
		first = seg_get64(data + off);
		fsize = seg_get32(data + off + 8);
		clen = seg_get32(data + off + 12);
		off += 16;
		if (fsize > FUZZ_MAX_FILE)
			fsize = FUZZ_MAX_FILE;
		if (clen > size - off)
			clen = (uint32_t)(size - off);
		if (clen > fsize)
			fsize = clen;
		if ((img = calloc(1, fsize + 1)) == NULL)
			abort();
		memcpy(img, data + off, clen);
		off += clen;
		if (fix)
			fuzz_fix_crcs(img, fsize);
		segment_name(name, first);
		snprintf(path, sizeof path, "%s/%s", fuzz_dir, name);
		/* Two segments with one name: the later one wins. */
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
			abort();
		if (fsize > 0 && write(fd, img, fsize) != (ssize_t)fsize)
			abort();
		close(fd);
		free(img);
		n++;
	}
	return (n);
}

/* Reads every record the reader gives; checks what it hands out. */
static void
fuzz_read(const struct wal_filter *f)
{
	struct wal_reader	*r;
	struct wal_record	 rec;
	uint64_t		 prev = 0;
	char			*cause = NULL;
	int			 rc = 0, i;

	if ((r = wal_reader_open(fuzz_dir, 0, f, &cause)) == NULL) {
		if (cause == NULL)
			abort();
		free(cause);
		return;
	}
	for (i = 0; i < FUZZ_MAX_READ; i++) {
		rc = wal_reader_next(r, UINT64_MAX, &rec, &cause);
		if (rc != 1)
			break;
		if (rec.lsn <= prev || rec.len > REC_MAX_PAYLOAD ||
		    (rec.len > 0 && rec.payload == NULL))
			abort();
		if (f != NULL && f->has_tenant && rec.tenant != f->tenant)
			abort();
		/* Touch the payload: ASan checks it is all there. */
		if (rec.len > 0)
			(void)crc32c(0, rec.payload, rec.len);
		prev = rec.lsn;
	}
	if (getenv("FUZZ_SEGMENT_DEBUG") != NULL)
		fprintf(stderr, "fuzz_segment: read %d records%s%s\n", i,
		    rc < 0 ? ": " : "", rc < 0 ? cause : "");
	if (rc < 0) {
		if (cause == NULL)
			abort();
		free(cause);
	}
	wal_reader_close(r);
}

/* Recovery, then one append and a sync: the log must stay usable. */
static void
fuzz_open(void)
{
	struct wal_options	 o;
	struct wal		*w;
	uint64_t		 lsn, durable;
	char			*cause = NULL;
	enum wal_rc		 rc;

	memset(&o, 0, sizeof o);
	o.dir = fuzz_dir;
	o.segment_size = WAL_MIN_SEGMENT;
	o.direct_io = WAL_DIRECT_OFF;
	o.max_record = 4096;
	o.batch_bytes = 64 << 10;
	o.no_lock = 1;
	if ((w = wal_open(&o, &cause)) == NULL) {
		if (cause == NULL)
			abort();
		if (getenv("FUZZ_SEGMENT_DEBUG") != NULL)
			fprintf(stderr, "fuzz_segment: wal_open: %s\n", cause);
		free(cause);
		return;
	}
	rc = wal_append(w, 1, 2, 3, "fuzz", 4, &lsn);
	if (rc != WAL_OK && rc != WAL_ESEALED)
		abort();
	if (wal_sync(w, &durable, &cause) != 0) {
		/* No I/O can fail here but a bad path: report it. */
		fprintf(stderr, "fuzz_segment: wal_sync: %s\n", cause);
		abort();
	}
	if (rc == WAL_OK && durable < lsn)
		abort();
	wal_close(w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wal_filter	f;

	if (size < 1)
		return (0);
	fuzz_clear();
	if (fuzz_write_dir(data, size, data[0] & 1, data[0] & 4) == 0)
		return (0);
	(void)wal_verify(fuzz_dir, getenv("FUZZ_SEGMENT_DEBUG") != NULL ?
	    stderr : fuzz_null);
	fuzz_read(NULL);
	memset(&f, 0, sizeof f);
	f.tenant = data[0] >> 3;
	f.has_tenant = 1;
	fuzz_read(&f);
	if (data[0] & 2)
		fuzz_open();
	fuzz_clear();
	return (0);
}
