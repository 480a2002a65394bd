/*
 * fuzz_segment.c: libFuzzer target for the record and segment decoder: the
 * input is written out as a whole data directory, which then goes through
 * wal_verify, a wal_reader over every record (with and without a filter),
 * and wal_open (recovery), an append and a sync.
 *
 * Input: u8 flags, then up to 4 segment files, each
 *	u64 first LSN (names the file "%020llu.wal")
 *	u32 file size (at most 4 MiB; the file is zero-padded up to it)
 *	u32 content length, then that many bytes (cut to what is left)
 * flags: bit 0 recompute the CRCs (header, records, footer data CRC) so
 * that mutations get past them; bit 1 run wal_open too; bits 2-7 the
 * tenant of a filtered read.
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

/* Makes the CRCs of a segment image right where its structure allows. */
static void
fuzz_fix_crcs(unsigned char *f, size_t size)
{
	uint64_t	off = SEG_HDR_SIZE, rs;
	uint32_t	len;
	uint16_t	flags;

	if (size < SEG_HDR_SIZE)
		return;
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
		seg_put32(f + off + 20, segment_rec_crc(f + off,
		    f + off + REC_HDR_SIZE, len));
		rs = seg_rec_size(len);
		if (rs > size - off)
			break;
		off += rs;
	}
}

/* Writes the segment files; returns how many. */
static int
fuzz_write_dir(const uint8_t *data, size_t size, int fix)
{
	unsigned char	*img;
	uint64_t	 first;
	uint32_t	 fsize, clen;
	size_t		 off = 1;
	char		 name[SEG_NAME_SIZE], path[512];
	int		 n = 0, fd;

	while (n < FUZZ_MAX_SEGS && off + 16 <= size) {
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
		if (rec.lsn <= prev || rec.len > WAL_MAX_PAYLOAD_HARD ||
		    (rec.len > 0 && rec.payload == NULL))
			abort();
		if (f != NULL && f->has_tenant && rec.tenant != f->tenant)
			abort();
		/* Touch the payload: ASan checks it is all there. */
		if (rec.len > 0)
			(void)crc32c(0, rec.payload, rec.len);
		prev = rec.lsn;
	}
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
	if (fuzz_write_dir(data, size, data[0] & 1) == 0)
		return (0);
	(void)wal_verify(fuzz_dir, fuzz_null);
	fuzz_read(NULL);
	memset(&f, 0, sizeof f);
	f.tenant = data[0] >> 2;
	f.has_tenant = 1;
	fuzz_read(&f);
	if (data[0] & 2)
		fuzz_open();
	fuzz_clear();
	return (0);
}
