/* SPDX-License-Identifier: Apache-2.0 */
/*
 * segment.c: the on-disk format of segment files: encode and check the
 * segment header, record headers and footers, list a WAL directory, scan
 * the records of a segment, and search a damaged tail for later flushes.
 * This is the format's specification; docs/FORMAT.md is its long form.
 *
 * DIRECTORY. Segment files "%020llu.wal" named by their first LSN, a
 * preallocated "spare.tmp" (the next segment, not yet part of the log),
 * "recycle-%020llu.tmp" (truncated segments' files kept for spares: see
 * RECYCLING), and "LOCK" (flock'ed by the writer, holds its pid).
 * Open refuses a name that ends in ".wal" but is not 20 digits (it looks
 * like a segment); any other name is not the log's: logged once at open
 * as ignored, and left alone.
 * All integers are little-endian; CRC is CRC-32C (Castagnoli, reflected,
 * init 0xFFFFFFFF, final xor 0xFFFFFFFF).
 *
 * SEGMENT HEADER, bytes 0..4095:
 *	0 magic "WALLDSEG"	8 u16 version (3 written; 2 read: no
 *	   record extensions; 1 read: neither, and record CRCs without the
 *	   id)	10 u16 header length (4096)
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
 *	5 u8 header length (40)	6 u16 flags (bit 0 FOOTER, bit 1 TIME, bit 2
 *	   PRODUCER; bits 0-3 required: unknown => invalid; bits 4-15
 *	   optional, ignored)
 *	8 u16 type	10 u16 vshard	12 u32 tenant	16 u32 stored length:
 *	   extension fields and payload (<= 16 MiB, checked before
 *	   anything is read)
 *	20 u32 CRC of the segment id (version 2), the header with this
 *	   field zeroed, then the payload
 *	24 u64 LSN	32 u64 batch LSN: first LSN of the flush that wrote it
 *	40 extension fields (version 3; never encrypted, in the CRC and, when
 *	   encrypted, in the authenticated data): with TIME a u64 unix ns
 *	   (the wall clock at append, never below the record before it),
 *	   every data record of a version 3 segment has it; then with
 *	   PRODUCER a u64 producer id (not 0) and a u64 sequence number
 *	40 + extension length: payload, then zeros up to a multiple of 8
 *	   (not in the CRC)
 *
 * FOOTER: a record with flag FOOTER, type/vshard/tenant 0, length 40, LSN =
 * last LSN, batch LSN = last LSN + 1; payload: 0 u64 first LSN, 8 u64 last
 * LSN (first - 1 when empty), 16 u64 record count, 24 u64 offset of the
 * footer, 32 u32 CRC of all bytes [4096, footer offset), 36 u32 flags (bit
 * 0 LOG_SEALED: no segment follows, ever). A sealed segment ends exactly at
 * its footer's end; an active one is the full preallocated size, and
 * reads as zeros after its last record (written zeros, or fallocated
 * blocks never written: see wal_prepare_spare), or, when reused, as
 * whatever the file held before, which is never valid in it (RECYCLING,
 * wal-spare.c).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cause.h"
#include "crc32c.h"
#include "segment.h"
#include "sysio.h"

/* Writes the file name of the segment whose first LSN is first. */
void
segment_name(char *buf, uint64_t first)
{
	snprintf(buf, SEG_NAME_SIZE, "%020llu.wal", (unsigned long long)first);
}

/* Parses a segment file name: 0 and *first, or -1 if it is not one. */
int
segment_parse_name(const char *name, uint64_t *first)
{
	unsigned long long	v;
	int			i;

	if (strlen(name) != SEG_NAME_LEN || strcmp(name + 20, ".wal") != 0)
		return (-1);
	for (i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return (-1);
	}
	errno = 0;
	v = strtoull(name, NULL, 10);
	if (errno != 0 || v == 0)
		return (-1);
	*first = v;
	return (0);
}

/* The name a truncated segment is kept under for reuse; see segment.h. */
void
segment_recycle_name(char *buf, uint64_t first)
{
	snprintf(buf, RECYCLE_NAME_SIZE, RECYCLE_PREFIX "%020llu.tmp",
	    (unsigned long long)first);
}

/* 1 and *first if name is a recycled segment's, else 0. */
int
segment_parse_recycle_name(const char *name, uint64_t *first)
{
	char	seg[SEG_NAME_SIZE];
	size_t	plen = sizeof RECYCLE_PREFIX - 1;

	if (strlen(name) != plen + 24 || strncmp(name, RECYCLE_PREFIX,
	    plen) != 0 || strcmp(name + plen + 20, ".tmp") != 0)
		return (0);
	memcpy(seg, name + plen, 20);
	memcpy(seg + 20, ".wal", 5);
	return (segment_parse_name(seg, first) == 0);
}

/* Fills a 4096-byte segment header block, CRC included. */
void
segment_encode_header(unsigned char *p, const struct seg_header *h)
{
	memset(p, 0, SEG_HDR_SIZE);
	memcpy(p, SEG_MAGIC, 8);
	seg_put16(p + 8, h->version);
	seg_put16(p + 10, h->hdr_len);
	seg_put32(p + 12, h->flags);
	seg_put64(p + 16, h->first_lsn);
	memcpy(p + 24, h->id, 16);
	seg_put64(p + 40, h->ctime_ns);
	seg_put32(p + 48, h->key_id);
	memcpy(p + 56, h->salt, 32);
	memcpy(p + 88, h->check, 16);
	seg_put32(p + SEG_HDR_SIZE - 4, crc32c(0, p, SEG_HDR_SIZE - 4));
}

/* Checks and decodes a segment header block: 0, or -1 and *why. */
int
segment_decode_header(const unsigned char *p, struct seg_header *h,
    const char **why)
{
	if (memcmp(p, SEG_MAGIC, 8) != 0) {
		*why = "bad segment header magic";
		return (-1);
	}
	if (seg_get32(p + SEG_HDR_SIZE - 4) != crc32c(0, p, SEG_HDR_SIZE - 4)) {
		*why = "segment header checksum mismatch";
		return (-1);
	}
	h->version = seg_get16(p + 8);
	h->hdr_len = seg_get16(p + 10);
	h->flags = seg_get32(p + 12);
	h->first_lsn = seg_get64(p + 16);
	memcpy(h->id, p + 24, 16);
	h->ctime_ns = seg_get64(p + 40);
	h->key_id = seg_get32(p + 48);
	memcpy(h->salt, p + 56, 32);
	memcpy(h->check, p + 88, 16);
	if (h->version != SEG_VERSION && h->version != SEG_VERSION_NOEXT &&
	    h->version != SEG_VERSION_UNSEEDED) {
		*why = "unsupported segment format version";
		return (-1);
	}
	h->seed = segment_seed(h->version, h->id);
	if (h->hdr_len != SEG_HDR_SIZE) {
		*why = "unsupported segment header length";
		return (-1);
	}
	if ((h->flags & SEG_F_ENCRYPTED) && h->key_id == 0) {
		*why = "encrypted segment with key id 0";
		return (-1);
	}
	if (!(h->flags & SEG_F_ENCRYPTED) && h->key_id != 0) {
		*why = "key id set on a segment that is not encrypted";
		return (-1);
	}
	if (h->flags & SEG_F_REQUIRED & ~SEG_F_KNOWN) {
		*why = "unknown required segment flags";
		return (-1);
	}
	if (h->first_lsn == 0) {
		*why = "first LSN 0 in segment header";
		return (-1);
	}
	return (0);
}

/* Reads and checks the header of an open segment file: 0, or -1 and *why
   (errno set when reading failed). */
int
segment_read_header(int fd, struct seg_header *h, const char **why)
{
	unsigned char	b[SEG_HDR_SIZE];
	ssize_t		n;

	if ((n = sysio.pread(fd, b, sizeof b, 0)) != (ssize_t)sizeof b) {
		*why = n == -1 ? strerror(errno) : "short segment header";
		return (-1);
	}
	return (segment_decode_header(b, h, why));
}

/* Writes a 40-byte record header (the CRC field as given). */
void
segment_encode_rec(unsigned char *p, const struct rec_header *h)
{
	seg_put32(p, REC_MAGIC);
	p[4] = REC_VERSION;
	p[5] = REC_HDR_SIZE;
	seg_put16(p + 6, h->flags);
	seg_put16(p + 8, h->type);
	seg_put16(p + 10, h->vshard);
	seg_put32(p + 12, h->tenant);
	seg_put32(p + 16, h->len);
	seg_put32(p + 20, h->crc);
	seg_put64(p + 24, h->lsn);
	seg_put64(p + 32, h->batch_lsn);
}

/* Decodes and checks a record header (not its CRC): 0, or -1 and *why. */
int
segment_decode_rec(const unsigned char *p, struct rec_header *h,
    const char **why)
{
	if (seg_get32(p) != REC_MAGIC) {
		*why = "bad record magic";
		return (-1);
	}
	h->version = p[4];
	h->hdr_len = p[5];
	h->flags = seg_get16(p + 6);
	h->type = seg_get16(p + 8);
	h->vshard = seg_get16(p + 10);
	h->tenant = seg_get32(p + 12);
	h->len = seg_get32(p + 16);
	h->crc = seg_get32(p + 20);
	h->lsn = seg_get64(p + 24);
	h->batch_lsn = seg_get64(p + 32);
	if (h->version != REC_VERSION) {
		*why = "unsupported record version";
		return (-1);
	}
	if (h->hdr_len != REC_HDR_SIZE) {
		*why = "bad record header length";
		return (-1);
	}
	if (h->flags & REC_F_REQUIRED & ~REC_F_KNOWN) {
		*why = "unknown required record flags";
		return (-1);
	}
	if (h->len > REC_MAX_PAYLOAD) {
		*why = "record length above the hard maximum";
		return (-1);
	}
	if (h->len < rec_ext_len(h->flags) || ((h->flags & REC_F_FOOTER) &&
	    rec_ext_len(h->flags) != 0)) {
		*why = "bad record extension fields";
		return (-1);
	}
	return (0);
}

/* The extension flags a record with x gets. */
uint16_t
segment_ext_flags(const struct rec_ext *x)
{
	return ((x->time_ns != 0 ? REC_F_TIME : 0) |
	    (x->producer != 0 ? REC_F_PRODUCER : 0));
}

/* Writes x's extension fields: the time, then the producer. */
void
segment_encode_ext(unsigned char *p, const struct rec_ext *x)
{
	if (x->time_ns != 0) {
		seg_put64(p, x->time_ns);
		p += 8;
	}
	if (x->producer != 0) {
		seg_put64(p, x->producer);
		seg_put64(p + 8, x->seq);
	}
}

/* Reads the extension fields the flags say are at p. */
void
segment_decode_ext(const unsigned char *p, uint16_t flags, struct rec_ext *x)
{
	memset(x, 0, sizeof *x);
	if (flags & REC_F_TIME) {
		x->time_ns = seg_get64(p);
		p += 8;
	}
	if (flags & REC_F_PRODUCER) {
		x->producer = seg_get64(p);
		x->seq = seg_get64(p + 8);
	}
}

/* What the record CRCs of a segment start from: the CRC-32C of its id,
   so that a record is valid only in the segment file it was written for
   (none of an earlier use of a reused file is, nor one a client forged
   without knowing the id); 0 for version 1 segments. */
uint32_t
segment_seed(uint16_t version, const uint8_t id[16])
{
	return (version == SEG_VERSION_UNSEEDED ? 0 : crc32c(0, id, 16));
}

/* CRC-32C of a record: from seed, its header with the CRC field zeroed,
   then the payload. */
uint32_t
segment_rec_crc(uint32_t seed, const unsigned char *hdr, const void *payload,
    uint32_t len)
{
	unsigned char	tmp[REC_HDR_SIZE];

	memcpy(tmp, hdr, REC_HDR_SIZE);
	memset(tmp + 20, 0, 4);
	return (crc32c(crc32c(seed, tmp, REC_HDR_SIZE), payload, len));
}

/* Writes a complete 80-byte footer record. */
void
segment_encode_footer(unsigned char *p, const struct seg_footer *f,
    uint32_t seed)
{
	struct rec_header	h;
	unsigned char		*q = p + REC_HDR_SIZE;

	memset(&h, 0, sizeof h);
	h.flags = REC_F_FOOTER;
	h.len = FOOTER_PAYLOAD;
	h.lsn = f->last_lsn;
	h.batch_lsn = f->last_lsn + 1;
	segment_encode_rec(p, &h);
	seg_put64(q, f->first_lsn);
	seg_put64(q + 8, f->last_lsn);
	seg_put64(q + 16, f->count);
	seg_put64(q + 24, f->offset);
	seg_put32(q + 32, f->data_crc);
	seg_put32(q + 36, f->flags);
	seg_put32(p + 20, segment_rec_crc(seed, p, q, FOOTER_PAYLOAD));
}

/* Checks and decodes an 80-byte footer record: 0, or -1 and *why. */
int
segment_decode_footer(const unsigned char *p, uint32_t seed,
    struct seg_footer *f, const char **why)
{
	struct rec_header	 h;
	const unsigned char	*q = p + REC_HDR_SIZE;

	if (segment_decode_rec(p, &h, why) != 0)
		return (-1);
	if (!(h.flags & REC_F_FOOTER) || h.len != FOOTER_PAYLOAD) {
		*why = "not a footer record";
		return (-1);
	}
	if (segment_rec_crc(seed, p, q, FOOTER_PAYLOAD) != h.crc) {
		*why = "footer checksum mismatch";
		return (-1);
	}
	f->first_lsn = seg_get64(q);
	f->last_lsn = seg_get64(q + 8);
	f->count = seg_get64(q + 16);
	f->offset = seg_get64(q + 24);
	f->data_crc = seg_get32(q + 32);
	f->flags = seg_get32(q + 36);
	if (f->flags & FOOTER_F_REQUIRED & ~FOOTER_F_KNOWN) {
		*why = "unknown required footer flags";
		return (-1);
	}
	if (f->last_lsn + 1 < f->first_lsn ||
	    f->count != f->last_lsn + 1 - f->first_lsn) {
		*why = "footer LSN range and record count disagree";
		return (-1);
	}
	return (0);
}

/*
 * Looks for the footer of a sealed segment at (size - FOOTER_SIZE). 1 and
 * *f when valid; 0 when there is no footer magic there; 2 and *why when a
 * footer is there but wrong; -1 on a read error (errno).
 */
int
segment_read_footer(int fd, uint64_t size, uint64_t first, uint32_t seed,
    struct seg_footer *f, const char **why)
{
	unsigned char	b[FOOTER_SIZE];
	ssize_t		n;

	if (size < SEG_HDR_SIZE + FOOTER_SIZE)
		return (0);
	n = sysio.pread(fd, b, sizeof b, (off_t)(size - FOOTER_SIZE));
	if (n == -1)
		return (-1);
	if ((size_t)n != sizeof b) {
		errno = EIO;
		return (-1);
	}
	if (seg_get32(b) != REC_MAGIC)
		return (0);
	if (segment_decode_footer(b, seed, f, why) != 0)
		return (2);
	if (f->offset != size - FOOTER_SIZE) {
		*why = "footer offset field does not match the file size";
		return (2);
	}
	if (f->first_lsn != first) {
		*why = "footer first LSN does not match the segment header";
		return (2);
	}
	return (1);
}

/* Orders directory entries by first LSN. */
static int
segment_cmp(const void *a, const void *b)
{
	const struct seg_ent	*x = a, *y = b;

	if (x->first < y->first)
		return (-1);
	return (x->first > y->first);
}

/*
 * Lists the segments of a directory (kept: the files of truncated ones
 * kept for reuse instead), sorted by first LSN. Names ending in ".wal"
 * that do not parse go to bad, or are an error when bad is NULL; other
 * unknown names go to stray (may be NULL).
 */
static int
segment_list_kind(int dirfd, const char *dir, int kept, struct seg_ent **out,
    size_t *nout, void (*stray)(void *, const char *),
    void (*bad)(void *, const char *), void *arg, char **cause)
{
	DIR		*d;
	struct dirent	*de;
	struct seg_ent	*ents = NULL, *tmp;
	size_t		 n = 0, cap = 0, len;
	uint64_t	 first;
	int		 fd;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		cause_set(cause, "%s: open directory: %s", dir,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return (-1);
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (kept) {
			if (segment_parse_recycle_name(de->d_name, &first))
				goto add;
			continue;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, LOCK_NAME) == 0 ||
		    strcmp(de->d_name, SPARE_NAME) == 0 ||
		    strcmp(de->d_name, ARCHIVED_NAME) == 0 ||
		    strcmp(de->d_name, ARCHIVED_TMP_NAME) == 0 ||
		    strcmp(de->d_name, REPLICA_NAME) == 0 ||
		    strcmp(de->d_name, REPLICA_TMP_NAME) == 0 ||
		    strcmp(de->d_name, CURSORS_FILE_NAME) == 0 ||
		    strcmp(de->d_name, CURSORS_FILE_TMP_NAME) == 0 ||
		    strcmp(de->d_name, PRODUCERS_NAME) == 0 ||
		    strcmp(de->d_name, PRODUCERS_TMP_NAME) == 0 ||
		    strcmp(de->d_name, START_NAME) == 0 ||
		    strcmp(de->d_name, START_TMP_NAME) == 0 ||
		    segment_parse_recycle_name(de->d_name, &first) == 1)
			continue;
		len = strlen(de->d_name);
		if (len < 4 || strcmp(de->d_name + len - 4, ".wal") != 0) {
			if (stray != NULL)
				stray(arg, de->d_name);
			continue;
		}
		if (segment_parse_name(de->d_name, &first) != 0) {
			if (bad != NULL) {
				bad(arg, de->d_name);
				continue;
			}
			cause_set(cause, "%s/%s: offset 0: LSN 0: looks like "
			    "a segment but its name is not a first LSN as "
			    "20 digits (%%020llu.wal)", dir, de->d_name);
			goto fail;
		}
add:
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((tmp = reallocarray(ents, cap, sizeof *ents)) ==
			    NULL) {
				cause_set(cause, "%s: %s", dir,
				    strerror(errno));
				goto fail;
			}
			ents = tmp;
		}
		ents[n].first = first;
		segment_name(ents[n].name, first);
		n++;
	}
	if (errno != 0) {
		cause_set(cause, "%s: readdir: %s", dir, strerror(errno));
		goto fail;
	}
	closedir(d);
	if (n > 0)
		qsort(ents, n, sizeof *ents, segment_cmp);
	*out = ents;
	*nout = n;
	return (0);

fail:
	closedir(d);
	free(ents);
	return (-1);
}

/* The segments of a directory; see segment_list_kind. */
int
segment_list(int dirfd, const char *dir, struct seg_ent **out, size_t *nout,
    void (*stray)(void *, const char *), void (*bad)(void *, const char *),
    void *arg, char **cause)
{
	return (segment_list_kind(dirfd, dir, 0, out, nout, stray, bad, arg,
	    cause));
}

/* The files of truncated segments kept for reuse (recycle-FIRST.tmp),
   oldest first; each entry's name is the segment's it was. */
int
segment_list_kept(int dirfd, const char *dir, struct seg_ent **out,
    size_t *nout, char **cause)
{
	return (segment_list_kind(dirfd, dir, 1, out, nout, NULL, NULL, NULL,
	    cause));
}

/* 1 if len bytes at p are all zero. */
static int
segment_is_zero(const unsigned char *p, size_t len)
{
	while (len > 0 && *p == 0) {
		p++;
		len--;
	}
	return (len == 0);
}

/* Reads up to len bytes at off into buf: bytes read, or -1 (errno). */
static ssize_t
segment_pread_full(int fd, unsigned char *buf, size_t len, uint64_t off)
{
	size_t	done = 0;
	ssize_t	n;

	while (done < len) {
		n = sysio.pread(fd, buf + done, len - done,
		    (off_t)(off + done));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return ((ssize_t)done);
}

/*
 * Scans the records of a segment from offset 4096, checking every header,
 * CRC and LSN, until the end of the file, zeros, an invalid record or a
 * footer that matches what came before. -1 only on a read error.
 */
int
segment_scan(struct seg_scan *s, char **cause)
{
	unsigned char		*buf, *p, *nb;
	size_t			 cap = SCAN_CHUNK, blen = 0;
	uint64_t		 boff = 0, off = SEG_HDR_SIZE, rs, want;
	uint64_t		 last_batch = 0;
	struct rec_header	 h;
	struct seg_footer	 f;
	const char		*why;
	ssize_t			 n;

	s->end = off;
	s->next_lsn = s->first_lsn;
	s->count = 0;
	s->flushes = 0;
	s->data_crc = 0;
	s->stop = SEG_STOP_EOF;
	s->why[0] = '\0';
	s->bad_padding = 0;
	if ((buf = malloc(cap)) == NULL) {
		cause_set(cause, "scan: %s", strerror(errno));
		return (-1);
	}
	for (;;) {
		if (off + REC_HDR_SIZE > s->size) {
			s->stop = SEG_STOP_EOF;
			break;
		}
		if (off < boff || off + REC_HDR_SIZE > boff + blen) {
			want = s->size - off < cap ? s->size - off : cap;
			if ((n = segment_pread_full(s->fd, buf, want, off)) ==
			    -1)
				goto readfail;
			boff = off;
			blen = (size_t)n;
			if (blen < REC_HDR_SIZE) {
				s->stop = SEG_STOP_EOF;
				break;
			}
		}
		p = buf + (off - boff);
		if (segment_is_zero(p, REC_HDR_SIZE)) {
			s->stop = SEG_STOP_ZERO;
			break;
		}
		if (segment_decode_rec(p, &h, &why) != 0) {
			s->stop = SEG_STOP_BAD;
			snprintf(s->why, sizeof s->why, "%s", why);
			break;
		}
		rs = seg_rec_size(h.len);
		if (off + rs > s->size) {
			s->stop = SEG_STOP_BAD;
			snprintf(s->why, sizeof s->why,
			    "record of %u bytes runs past the end of the file",
			    h.len);
			break;
		}
		if (off + rs > boff + blen) {
			if (rs > cap) {
				if ((nb = realloc(buf, rs)) == NULL) {
					cause_set(cause, "scan: %s",
					    strerror(errno));
					free(buf);
					return (-1);
				}
				buf = nb;
				cap = rs;
			}
			want = s->size - off < cap ? s->size - off : cap;
			if ((n = segment_pread_full(s->fd, buf, want, off)) ==
			    -1)
				goto readfail;
			boff = off;
			blen = (size_t)n;
			if (blen < rs) {
				s->stop = SEG_STOP_EOF;
				break;
			}
			p = buf;
		}
		if (segment_rec_crc(s->seed, p, p + REC_HDR_SIZE, h.len) !=
		    h.crc) {
			s->stop = SEG_STOP_BAD;
			snprintf(s->why, sizeof s->why, "record checksum "
			    "mismatch");
			break;
		}
		if (h.flags & REC_F_FOOTER) {
			if (segment_decode_footer(p, s->seed, &f, &why) != 0) {
				s->stop = SEG_STOP_BAD;
				snprintf(s->why, sizeof s->why, "%s", why);
			} else if (f.first_lsn != s->first_lsn ||
			    f.last_lsn + 1 != s->next_lsn ||
			    f.count != s->count || f.offset != off ||
			    f.data_crc != s->data_crc) {
				s->stop = SEG_STOP_BAD;
				snprintf(s->why, sizeof s->why, "footer does "
				    "not match the records before it");
			} else {
				s->stop = SEG_STOP_FOOTER;
				s->footer = f;
			}
			break;
		}
		if (h.lsn != s->next_lsn) {
			s->stop = SEG_STOP_BAD;
			snprintf(s->why, sizeof s->why, "record has LSN %llu "
			    "where %llu was expected",
			    (unsigned long long)h.lsn,
			    (unsigned long long)s->next_lsn);
			break;
		}
		if (!s->bad_padding && !segment_is_zero(p + REC_HDR_SIZE +
		    h.len, rs - REC_HDR_SIZE - h.len)) {
			s->bad_padding = 1;
			s->bad_padding_off = off;
		}
		if (s->rec_cb != NULL)
			s->rec_cb(s->rec_arg, &h, p, off);
		/* A flush's records share its batch LSN, and flushes follow
		   one another: a new value is a new flush. */
		if (s->count == 0 || h.batch_lsn != last_batch)
			s->flushes++;
		last_batch = h.batch_lsn;
		s->data_crc = crc32c(s->data_crc, p, rs);
		s->count++;
		s->next_lsn++;
		off += rs;
		s->end = off;
	}
	free(buf);
	return (0);

readfail:
	cause_set(cause, "pread: offset %llu: %s", (unsigned long long)off,
	    strerror(errno));
	free(buf);
	return (-1);
}

/* 1 if the record whose header h was read at off is complete and its CRC
   matches; its payload read is counted in *crc_bytes. */
static int
segment_valid_at(int fd, uint64_t off, const struct rec_header *h,
    const unsigned char *hb, uint32_t seed, uint64_t *crc_bytes)
{
	unsigned char	*pl;
	int		 ok;

	if ((pl = malloc(h->len ? h->len : 1)) == NULL)
		return (0);
	*crc_bytes += h->len;
	ok = segment_pread_full(fd, pl, h->len, off + REC_HDR_SIZE) ==
	    (ssize_t)h->len && segment_rec_crc(seed, hb, pl, h->len) == h->crc;
	free(pl);
	return (ok);
}

/*
 * Whether a record header h read at off, after the damage at s->end (LSN
 * n = s->next_lsn), could be one walld wrote there: a record of the torn
 * flush or of a later one (LSN n or above, batch LSN not above its LSN),
 * or this segment's footer. Records n, n + 1, ... lie between s->end and
 * it, each at least REC_HDR_SIZE bytes, which bounds its LSN. An earlier
 * segment's records in a reused file are all below n, so none of them
 * costs more than this look at its header.
 */
static int
segment_tail_plausible(const struct seg_scan *s, uint64_t off,
    const struct rec_header *h)
{
	uint64_t	n = s->next_lsn, top;

	top = n + (off - s->end) / REC_HDR_SIZE;
	if (h->flags & REC_F_FOOTER)
		return (h->len == FOOTER_PAYLOAD && h->lsn + 1 >= n &&
		    h->lsn + 1 <= top);
	return (h->lsn >= n && h->lsn <= top && h->batch_lsn <= h->lsn);
}

/*
 * Searches [s->end, s->size) of a damaged active segment, at record
 * alignment, for any non-zero byte, for a valid record of the torn flush
 * (LSN n = s->next_lsn or above, batch LSN n or below) and for a valid
 * record written by a later flush (batch LSN above n, or this segment's
 * footer). Only plausible headers (segment_tail_plausible) have their
 * CRC checked, and those checks read at most four times the bytes
 * searched plus one largest record: past that (headers shaped by a
 * client inside its payloads, overlapping), the search stops with
 * t->undecided. -1 on a read error.
 */
int
segment_search_tail(const struct seg_scan *s, struct seg_tail *t,
    char **cause)
{
	unsigned char		*buf, hb[REC_HDR_SIZE], fb[FOOTER_SIZE];
	struct rec_header	 h;
	struct seg_footer	 f;
	const char		*why;
	uint64_t		 off, w, o, budget, crc_bytes = 0;
	size_t			 i, want;
	ssize_t			 got;

	memset(t, 0, sizeof *t);
	budget = 4 * (s->size - s->end) + REC_HDR_SIZE + REC_MAX_PAYLOAD;
	if ((buf = malloc(SCAN_CHUNK)) == NULL) {
		cause_set(cause, "scan: %s", strerror(errno));
		return (-1);
	}
	for (off = s->end; off < s->size; off += (uint64_t)got) {
		want = s->size - off < SCAN_CHUNK ? s->size - off : SCAN_CHUNK;
		if ((got = segment_pread_full(s->fd, buf, want, off)) == -1)
			goto readfail;
		if (got == 0)
			break;
		for (i = 0; i < (size_t)got; i += 8) {
			if (i + 8 > (size_t)got) {
				if (!segment_is_zero(buf + i, (size_t)got - i) &&
				    !t->nonzero) {
					t->nonzero = 1;
					t->nonzero_off = off + i;
				}
				break;
			}
			memcpy(&w, buf + i, 8);
			if (w == 0)
				continue;
			if (!t->nonzero) {
				t->nonzero = 1;
				t->nonzero_off = off + i;
			}
			if (seg_get32(buf + i) != REC_MAGIC)
				continue;
			o = off + i;
			if (o + REC_HDR_SIZE > s->size)
				continue;
			if (i + REC_HDR_SIZE <= (size_t)got)
				memcpy(hb, buf + i, REC_HDR_SIZE);
			else if (segment_pread_full(s->fd, hb, REC_HDR_SIZE, o) !=
			    REC_HDR_SIZE)
				goto readfail;
			if (segment_decode_rec(hb, &h, &why) != 0 ||
			    o + seg_rec_size(h.len) > s->size ||
			    !segment_tail_plausible(s, o, &h))
				continue;
			if (crc_bytes + h.len > budget) {
				t->undecided = 1;
				t->undecided_off = o;
				break;
			}
			if (!segment_valid_at(s->fd, o, &h, hb, s->seed,
			    &crc_bytes))
				continue;
			if (h.flags & REC_F_FOOTER) {
				/* Another segment's (an earlier life's) is
				   not this one's. */
				if (segment_pread_full(s->fd, fb, FOOTER_SIZE,
				    o) != FOOTER_SIZE)
					goto readfail;
				if (segment_decode_footer(fb, s->seed, &f,
				    &why) != 0 || f.first_lsn != s->first_lsn)
					continue;
			} else if (h.batch_lsn <= s->next_lsn) {
				t->torn = 1;	/* of the flush cut short */
				continue;
			}
			t->later = 1;
			t->later_off = o;
			t->later_lsn = h.lsn;
			t->later_batch = h.batch_lsn;
			t->later_footer = (h.flags & REC_F_FOOTER) != 0;
			break;
		}
		if (t->later || t->undecided)
			break;
	}
	free(buf);
	return (0);

readfail:
	cause_set(cause, "pread: offset %llu: %s", (unsigned long long)off,
	    strerror(errno));
	free(buf);
	return (-1);
}

/*
 * The torn-tail rule. segment_scan stopped in the last segment, at s->end,
 * short of a footer: decides what the bytes after it are. A flush starts
 * only after the previous one's fdatasync succeeded, so a valid record of
 * a later flush (or a footer) after the stop proves that the bytes at the
 * stop were acknowledged: damage. Otherwise they are the torn tail of the
 * last flush, which was never acknowledged, or, in a reused file, the
 * file's earlier contents. Recovery acts on the verdict (cuts a torn
 * tail, refuses damage); walctl verify reports it. *t tells where, *what
 * says what was found at the stop. -1 and *cause when a read fails.
 */
int
segment_tail_verdict(const struct seg_scan *s, uint32_t seg_flags,
    struct seg_tail *t, enum seg_verdict *v, const char **what, char **cause)
{
	if (segment_search_tail(s, t, cause) != 0)
		return (-1);
	if (t->later)
		*v = SEG_END_DAMAGED;
	else if (t->undecided)
		*v = SEG_END_UNDECIDED;
	else if ((seg_flags & SEG_F_REUSED) && !t->torn)
		*v = SEG_END_REUSED;
	else if (t->nonzero || s->stop == SEG_STOP_BAD)
		*v = SEG_END_TORN;
	else
		*v = SEG_END_CLEAN;
	if (s->stop == SEG_STOP_BAD)
		*what = s->why;
	else if (*v == SEG_END_TORN)
		*what = "non-zero bytes after the last record";
	else
		*what = "record missing (zeros)";
	return (0);
}
