/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal-reader.c: reads records in LSN order from the segment files, from any
 * LSN, with filters applied to the header before the payload is touched.
 * Needs no writer; never looks at records above the caller's limit. With
 * a key ring it decrypts the payloads of encrypted segments; a record
 * that fails authentication is damage, never returned. (Records skipped
 * by a filter are not decrypted, so not authenticated either.)
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cause.h"
#include "keyring.h"
#include "segment.h"
#include "sysio.h"
#include "wal-reader.h"
#include "wal.h"

struct wal_reader {
	char		*dir;
	int		 dirfd;
	struct wal_filter filter;
	uint64_t	 want;		/* lowest LSN to return */
	uint64_t	 expect;	/* LSN of the record at off */
	int		 log_sealed;

	int		 fd;		/* current segment, -1 between two */
	char		 name[SEG_NAME_SIZE];
	uint64_t	 seg_first;
	uint64_t	 off;
	dev_t		 dev;
	ino_t		 ino;
	int		 gone;		/* the name left the file while we read
					   it: truncated, the file maybe reused */
	uint32_t	 seed;		/* its record CRC seed */
	int		 reused;	/* SEG_F_REUSED: an earlier segment's
					   bytes follow its last record */
	int		 durable;	/* every LSN up to a limit exists
					   (wal_reader_durable) */
	int		 raw;		/* wal_reader_raw */
	int		 past_until;	/* a record later than until_ns was
					   passed: no later one can match */
	struct wal_segmeta meta;	/* the current segment's */

	unsigned char	*buf;
	size_t		 cap;
	uint64_t	 boff;		/* file offset of buf[0] */
	size_t		 blen;
	uint64_t	 blimit;	/* limit when buf was read */
	size_t		 chunk;		/* bytes to read next: small while
					   following the end, growing to 1 MiB */

	struct keyring	*ring;		/* NULL: encrypted segments refused */
	struct keyring_ctx *ctx;	/* keyed when the segment is encrypted */
	unsigned char	*plain;		/* the decrypted payload */
	size_t		 plain_cap;

	struct wal_read_fault fault;	/* why the last call failed */
};

#define READER_MIN_CHUNK	(64u << 10)

/*
 * Where our segment's name leads: 0 to the file we opened, 1 to another
 * (an empty active segment replaced at a restart), 2 nowhere: the
 * segment was truncated, and its file may be reused for a new segment
 * (wal.c, RECYCLING). The name goes before the file is touched,
 * so bytes read while it still led to our file are the segment's.
 */
static int
wal_reader_name(struct wal_reader *r)
{
	struct stat	sb;

	if (r->fd == -1)
		return (0);
	if (fstatat(r->dirfd, r->name, &sb, 0) != 0)
		return (errno == ENOENT ? 2 : 0);
	return (sb.st_dev != r->dev || sb.st_ino != r->ino);
}

/* Records why the reader failed, at its current segment, offset and LSN. */
static void
wal_reader_set_fault(struct wal_reader *r, enum wal_read_fault_kind kind)
{
	r->fault.kind = kind;
	r->fault.err = 0;
	snprintf(r->fault.file, sizeof r->fault.file, "%s",
	    r->fd != -1 ? r->name : "");
	r->fault.off = r->off;
	r->fault.lsn = r->expect;
}

/* Sets *cause to "DIR/FILE: offset N: LSN M: what", unless what was read
   came from a segment truncated meanwhile: that is not damage. */
static void
wal_reader_damage(struct wal_reader *r, char **cause, const char *what)
{
	if (r->gone || wal_reader_name(r) != 0) {
		wal_reader_set_fault(r, WAL_READ_RANGE);
		cause_set(cause, "%s/%s: offset %llu: LSN %llu: the segment "
		    "was truncated while being read (its file may be reused)"
		    ": read from a later LSN", r->dir, r->name,
		    (unsigned long long)r->off, (unsigned long long)r->expect);
		return;
	}
	wal_reader_set_fault(r, WAL_READ_DAMAGED);
	cause_set(cause, "%s/%s: offset %llu: LSN %llu: %s", r->dir,
	    r->name, (unsigned long long)r->off,
	    (unsigned long long)r->expect, what);
}

/* Opens the segment beginning at first and checks its header. */
static int
wal_reader_open_seg(struct wal_reader *r, uint64_t first, char **cause)
{
	struct seg_header	 h;
	struct stat		 sb;
	const char		*why;
	char			*c2 = NULL;

	segment_name(r->name, first);
	r->seg_first = first;
	r->off = 0;
	r->expect = first;
	r->blen = 0;
	r->fd = sysio.openat(r->dirfd, r->name, O_RDONLY | O_CLOEXEC, 0);
	if (r->fd == -1 || fstat(r->fd, &sb) != 0) {
		/* Gone between the listing and here: truncated. */
		r->fault.kind = errno == ENOENT ? WAL_READ_RANGE :
		    errno == EIO ? WAL_READ_DAMAGED : WAL_READ_OTHER;
		r->fault.err = errno;
		snprintf(r->fault.file, sizeof r->fault.file, "%s", r->name);
		r->fault.off = 0;
		r->fault.lsn = first;
		cause_set(cause, "open: %s/%s: %s", r->dir, r->name,
		    strerror(errno));
		return (-1);
	}
	r->dev = sb.st_dev;
	r->ino = sb.st_ino;
	r->gone = 0;
	if (segment_read_header(r->fd, &h, &why) != 0 ||
	    (h.first_lsn != first && (why = "first LSN in the header does "
	    "not match the file name") != NULL)) {
		wal_reader_damage(r, cause, why);
		return (-1);
	}
	r->seed = h.seed;
	r->reused = (h.flags & SEG_F_REUSED) != 0;
	r->meta.first_lsn = h.first_lsn;
	r->meta.ctime_ns = h.ctime_ns;
	r->meta.key_id = h.key_id;
	memcpy(r->meta.id, h.id, sizeof r->meta.id);
	memcpy(r->meta.salt, h.salt, sizeof r->meta.salt);
	memcpy(r->meta.check, h.check, sizeof r->meta.check);
	if (!r->raw && keyring_ctx_segment(r->ctx, r->ring, &h, &c2) != 0) {
		wal_reader_damage(r, cause, c2 != NULL ? c2 : "no key");
		/* A key missing or not matching: not the data's fault. */
		if (r->fault.kind == WAL_READ_DAMAGED)
			r->fault.kind = WAL_READ_OTHER;
		free(c2);
		return (-1);
	}
	r->off = SEG_HDR_SIZE;
	return (0);
}

/* Closes the current segment. */
static void
wal_reader_close_seg(struct wal_reader *r)
{
	if (r->fd != -1)
		sysio.close(r->fd);
	r->fd = -1;
	r->blen = 0;
}

/*
 * Opens the segment that follows a sealed one (first LSN r->expect): 1,
 * 0 when it does not exist yet, -1 when the log has a gap there.
 */
static int
wal_reader_next_seg(struct wal_reader *r, char **cause)
{
	struct seg_ent	*ents;
	size_t		 n, i;
	uint64_t	 first = r->expect;
	int		 found = 0, after = 0;

	if (segment_list(r->dirfd, r->dir, &ents, &n, NULL, NULL, NULL,
	    cause) != 0) {
		r->fault.kind = WAL_READ_OTHER;
		r->fault.err = errno;
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (ents[i].first == first)
			found = 1;
		else if (ents[i].first > first)
			after = 1;
	}
	/* Below the first segment left: truncated while we read. */
	r->fault.kind = n > 0 && first < ents[0].first ? WAL_READ_RANGE :
	    WAL_READ_DAMAGED;
	r->fault.file[0] = '\0';
	r->fault.off = 0;
	r->fault.lsn = first;
	free(ents);
	if (found)
		return (wal_reader_open_seg(r, first, cause) == 0 ? 1 : -1);
	if (after) {
		cause_set(cause, "%s: LSN %llu: no segment holds it, but "
		    "later segments exist (missing or truncated segment)",
		    r->dir, (unsigned long long)first);
		return (-1);
	}
	return (0);
}

/* Reads the file from off into the buffer, growing it to at least need. */
static int
wal_reader_fill(struct wal_reader *r, uint64_t off, size_t need,
    uint64_t limit, char **cause)
{
	unsigned char	*nb;
	size_t		 done = 0, want;
	ssize_t		 n;

	want = need > r->chunk ? need : r->chunk;
	if (want > r->cap) {
		if ((nb = realloc(r->buf, want)) == NULL) {
			r->fault.kind = WAL_READ_OTHER;
			r->fault.err = ENOMEM;
			cause_set(cause, "%s: %s", r->dir, strerror(errno));
			return (-1);
		}
		r->buf = nb;
		r->cap = want;
	}
	if (r->chunk < SCAN_CHUNK)
		r->chunk *= 2;
	while (done < want) {
		n = sysio.pread(r->fd, r->buf + done, want - done,
		    (off_t)(off + done));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			wal_reader_set_fault(r, errno == EIO ?
			    WAL_READ_DAMAGED : WAL_READ_OTHER);
			r->fault.err = errno;
			cause_set(cause, "pread: %s/%s: offset %llu: %s",
			    r->dir, r->name, (unsigned long long)(off + done),
			    strerror(errno));
			return (-1);
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	r->boff = off;
	r->blen = done;
	r->blimit = limit;
	if (wal_reader_name(r) == 2) {
		/* Maybe read from the file's next life: none of it. */
		r->gone = 1;
		r->blen = 0;
	}
	return (0);
}

/*
 * Makes n bytes at r->off available and trustworthy: read no earlier than
 * when the record at r->off was within the limit. 1, 0 at end of file, -1.
 */
static int
wal_reader_need(struct wal_reader *r, size_t n, uint64_t limit,
    char **cause)
{
	if (r->blen == 0 || r->off < r->boff ||
	    r->off + n > r->boff + r->blen || r->blimit < r->expect) {
		if (wal_reader_fill(r, r->off, n, limit, cause) != 0)
			return (-1);
	}
	return (r->off + n <= r->boff + r->blen);
}

/* 1 if the file under our segment's name is no longer the one we read. */
static int
wal_reader_replaced(struct wal_reader *r)
{
	return (wal_reader_name(r) == 1);
}

/* 1 if the record header passes the filter and the from-LSN. */
static int
wal_reader_match(struct wal_reader *r, const struct rec_header *h)
{
	const struct wal_filter	*f = &r->filter;

	if (h->lsn < r->want)
		return (0);
	if (f->has_tenant && h->tenant != f->tenant)
		return (0);
	if (f->has_vshard && h->vshard != f->vshard)
		return (0);
	if (f->has_type && h->type != f->type)
		return (0);
	return (1);
}

/* Decrypts the record at p (len stored bytes after its extension
   fields) into r->plain. */
static int
wal_reader_decrypt(struct wal_reader *r, const unsigned char *p,
    uint32_t len, struct wal_record *rec, char **cause)
{
	uint32_t	 xlen = rec_ext_len(seg_get16(p + 6));
	unsigned char	*nb;
	size_t		 need = len > 0 ? len : 1;

	if (len < KEYRING_TAG_LEN) {
		wal_reader_damage(r, cause, "encrypted record shorter than its "
		    "authentication tag");
		return (-1);
	}
	if (need > r->plain_cap) {
		if ((nb = realloc(r->plain, need)) == NULL) {
			r->fault.kind = WAL_READ_OTHER;
			r->fault.err = ENOMEM;
			cause_set(cause, "%s: %s", r->dir, strerror(errno));
			return (-1);
		}
		r->plain = nb;
		r->plain_cap = need;
	}
	if (keyring_decrypt(r->ctx, p, p + REC_HDR_SIZE + xlen, len,
	    r->plain) != 0) {
		wal_reader_damage(r, cause, "record fails authentication "
		    "(altered, moved from elsewhere, or not written under "
		    "this key)");
		return (-1);
	}
	rec->len = len - KEYRING_TAG_LEN;
	rec->payload = r->plain;
	return (0);
}

/* Gives a reader a new key ring; see wal.h. */
void
wal_reader_set_keyring(struct wal_reader *r, struct keyring *kr)
{
	struct keyring	*old = r->ring;

	r->ring = keyring_hold(kr);
	keyring_free(old);
}

/* Opens a reader; raw: payloads as stored, no key ring. */
static struct wal_reader *
wal_reader_open_mode(const char *dir, uint64_t from,
    const struct wal_filter *f, struct keyring *kr, int raw,
    struct wal_read_fault *fault, char **cause)
{
	struct wal_reader	*r;
	struct seg_ent		*ents = NULL;
	size_t			 n, i;

	if (fault != NULL) {
		memset(fault, 0, sizeof *fault);
		fault->kind = WAL_READ_OTHER;
		fault->err = ENOMEM;	/* unless said otherwise below */
	}
	if ((r = calloc(1, sizeof *r)) == NULL ||
	    (r->dir = strdup(dir)) == NULL) {
		cause_set(cause, "%s: %s", dir, strerror(errno));
		free(r);
		return (NULL);
	}
	r->fd = r->dirfd = -1;
	r->raw = raw;
	r->ring = keyring_hold(kr);
	if ((r->ctx = keyring_ctx_create(0)) == NULL) {
		cause_set(cause, "%s: %s", dir, strerror(ENOMEM));
		goto fail;
	}
	if (f != NULL)
		r->filter = *f;
	r->cap = r->chunk = SCAN_CHUNK;
	if ((r->buf = malloc(r->cap)) == NULL) {
		cause_set(cause, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	r->dirfd = sysio.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (r->dirfd == -1) {
		r->fault.kind = WAL_READ_OTHER;
		r->fault.err = errno;
		cause_set(cause, "open: %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (segment_list(r->dirfd, dir, &ents, &n, NULL, NULL, NULL,
	    cause) != 0) {
		r->fault.kind = WAL_READ_OTHER;
		r->fault.err = errno;
		goto fail;
	}
	if (n == 0) {
		r->fault.kind = WAL_READ_RANGE;
		cause_set(cause, "%s: no segment files", dir);
		goto fail;
	}
	if (from == 0)
		from = ents[0].first;
	if (from < ents[0].first) {
		r->fault.kind = WAL_READ_RANGE;
		r->fault.lsn = from;
		cause_set(cause, "%s: LSN %llu is below the log's first "
		    "LSN %llu (truncated)", dir, (unsigned long long)from,
		    (unsigned long long)ents[0].first);
		goto fail;
	}
	for (i = n - 1; i > 0 && ents[i].first > from; i--)
		/* nothing */;
	r->want = from;
	if (wal_reader_open_seg(r, ents[i].first, cause) != 0)
		goto fail;
	free(ents);
	return (r);

fail:
	if (fault != NULL && r != NULL && r->fault.kind != WAL_READ_OK)
		*fault = r->fault;
	free(ents);
	wal_reader_close(r);
	return (NULL);
}

/* Positions at the first record with LSN >= from (0: the first LSN). */
struct wal_reader *
wal_reader_open(const char *dir, uint64_t from, const struct wal_filter *f,
    char **cause)
{
	return (wal_reader_open_keys(dir, from, f, NULL, cause));
}

/* The same, decrypting with a key ring; see wal-reader.h. */
struct wal_reader *
wal_reader_open_keys(const char *dir, uint64_t from,
    const struct wal_filter *f, struct keyring *kr, char **cause)
{
	return (wal_reader_open_mode(dir, from, f, kr, 0, NULL, cause));
}

/* The same, saying why it failed; see wal-reader.h. */
struct wal_reader *
wal_reader_open_fault(const char *dir, uint64_t from,
    const struct wal_filter *f, struct keyring *kr,
    struct wal_read_fault *fault, char **cause)
{
	return (wal_reader_open_mode(dir, from, f, kr, 0, fault, cause));
}

/* Why the last wal_reader_next that returned -1 failed. */
void
wal_reader_fault(const struct wal_reader *r, struct wal_read_fault *fault)
{
	*fault = r->fault;
}

/* The payloads as stored; see wal-reader.h. */
struct wal_reader *
wal_reader_open_raw(const char *dir, uint64_t from,
    const struct wal_filter *f, char **cause)
{
	return (wal_reader_open_mode(dir, from, f, NULL, 1, NULL, cause));
}

int
wal_reader_past_until(const struct wal_reader *r)
{
	return (r->past_until);
}

/* The limits this reader is given are LSNs that exist; see wal.h. */
void
wal_reader_durable(struct wal_reader *r)
{
	r->durable = 1;
}

/*
 * Whether the header at r->off, in a reused segment, is what the file
 * held before (FORMAT.md, section 7) rather than one of its records: it
 * did not decode (bad), or has another LSN than the one expected (an
 * earlier segment's are all lower). 0: no (or not a reused segment, or a
 * reader whose limit says a record is there); 1: yes, and the segment
 * has no footer, so this is the end of its records for now, as zeros are
 * in a new file; 2: yes, but the segment has a footer, which it may have
 * got after the header was read: read again before calling it damage.
 */
static int
wal_reader_stale(struct wal_reader *r, int bad, const struct rec_header *h)
{
	struct seg_footer	 ft;
	struct stat		 sb;
	const char		*why;

	if (!r->reused || r->durable)
		return (0);
	if (!bad && (h->flags & REC_F_FOOTER ? h->lsn + 1 == r->expect :
	    h->lsn == r->expect))
		return (0);
	return (fstat(r->fd, &sb) == 0 && segment_read_footer(r->fd,
	    (uint64_t)sb.st_size, r->seg_first, r->seed, &ft, &why) == 0 ?
	    1 : 2);
}

/*
 * The next matching record with LSN <= limit: 1; 0 when there is none yet;
 * -1 on damage. Only bytes of records at or below the limit are looked at,
 * and only from a read made once they were within it.
 */
int
wal_reader_next(struct wal_reader *r, uint64_t limit, struct wal_record *rec,
    char **cause)
{
	struct rec_header	 h;
	struct rec_ext		 x;
	struct seg_footer	 ft;
	const unsigned char	*p;
	const char		*why;
	uint64_t		 rs, refilled = UINT64_MAX;
	uint32_t		 xlen;
	char			*c2 = NULL;
	int			 checked = 0, k, stale, bad;

	for (;;) {
		if (r->log_sealed)
			return (0);
		if (r->fd == -1) {
			if ((k = wal_reader_next_seg(r, cause)) != 1)
				return (k);
		}
		if (r->expect > limit)
			return (0);
		if ((k = wal_reader_need(r, REC_HDR_SIZE, limit, cause)) == -1)
			return (-1);
		p = r->buf + (r->off - r->boff);
		bad = 0;
		stale = 0;
		if (k != 0 && seg_get32(p) == REC_MAGIC) {
			bad = segment_decode_rec(p, &h, &why) != 0;
			stale = wal_reader_stale(r, bad, &h);
		}
		if (stale == 2 && refilled != r->off) {
			refilled = r->off;
			r->blimit = 0;
			continue;
		}
		if (k == 0 || seg_get32(p) != REC_MAGIC || stale == 1) {
			/* The end for now; read again in case it moved. */
			if (refilled != r->off) {
				refilled = r->off;
				r->blimit = 0;
				continue;
			}
			if (r->gone) {
				/* Truncated under us: its records were all
				   read if the next segment begins here. */
				wal_reader_close_seg(r);
				if ((k = wal_reader_next_seg(r, &c2)) == 1)
					continue;
				free(c2);
				c2 = NULL;
				wal_reader_set_fault(r, WAL_READ_RANGE);
				cause_set(cause, "%s/%s: offset %llu: LSN "
				    "%llu: the segment was truncated while "
				    "being read: read from a later LSN", r->dir,
				    r->name, (unsigned long long)r->off,
				    (unsigned long long)r->expect);
				return (-1);
			}
			if (!checked && wal_reader_replaced(r)) {
				/* An empty segment replaced at restart. */
				checked = 1;
				if (r->want < r->expect)
					r->want = r->expect;
				wal_reader_close_seg(r);
				if (wal_reader_open_seg(r, r->seg_first,
				    cause) != 0)
					return (-1);
				continue;
			}
			r->chunk = READER_MIN_CHUNK;
			return (0);
		}
		if (bad) {
			wal_reader_damage(r, cause, why);
			return (-1);
		}
		rs = seg_rec_size(h.len);
		if (h.flags & REC_F_FOOTER) {
			if ((k = wal_reader_need(r, FOOTER_SIZE, limit,
			    cause)) == -1)
				return (-1);
			p = r->buf + (r->off - r->boff);
			if (k == 0 || segment_decode_footer(p, r->seed, &ft,
			    &why) != 0) {
				wal_reader_damage(r, cause, k == 0 ?
				    "footer runs past the end of the file" :
				    why);
				return (-1);
			}
			if (ft.first_lsn != r->seg_first ||
			    ft.last_lsn + 1 != r->expect || ft.offset != r->off) {
				wal_reader_damage(r, cause, "footer does not "
				    "match the records before it");
				return (-1);
			}
			if (ft.flags & FOOTER_F_LOG_SEALED) {
				r->log_sealed = 1;
				return (0);
			}
			/* The next segment would begin at this one's first
			   LSN: this very file, read again for ever. */
			if (r->expect == r->seg_first) {
				wal_reader_damage(r, cause, "footer of an empty "
				    "segment does not seal the log");
				return (-1);
			}
			wal_reader_close_seg(r);
			continue;
		}
		if (h.lsn != r->expect) {
			wal_reader_damage(r, cause, "unexpected LSN in record "
			    "header");
			return (-1);
		}
		if (!wal_reader_match(r, &h)) {
			/* Skip the payload without reading it. */
			r->off += rs;
			r->expect++;
			continue;
		}
		if ((k = wal_reader_need(r, rs, limit, cause)) == -1)
			return (-1);
		p = r->buf + (r->off - r->boff);
		if (k == 0) {
			wal_reader_damage(r, cause, "record runs past the end "
			    "of the file");
			return (-1);
		}
		if (segment_rec_crc(r->seed, p, p + REC_HDR_SIZE, h.len) !=
		    h.crc) {
			wal_reader_damage(r, cause, "record checksum mismatch");
			return (-1);
		}
		segment_decode_ext(p + REC_HDR_SIZE, h.flags, &x);
		xlen = rec_ext_len(h.flags);
		/* Times never go back: no record from here on matches. The
		   reader stays at this one. */
		if (r->filter.has_until && x.time_ns > r->filter.until_ns) {
			r->past_until = 1;
			return (0);
		}
		if ((r->filter.has_since && (x.time_ns == 0 ||
		    x.time_ns < r->filter.since_ns)) ||
		    (r->filter.has_until && x.time_ns == 0)) {
			r->off += rs;
			r->expect++;
			continue;
		}
		rec->lsn = h.lsn;
		rec->type = h.type;
		rec->tenant = h.tenant;
		rec->vshard = h.vshard;
		rec->len = h.len - xlen;
		rec->payload = p + REC_HDR_SIZE + xlen;
		rec->batch_lsn = h.batch_lsn;
		rec->time_ns = x.time_ns;
		rec->producer = x.producer;
		rec->seq = x.seq;
		rec->seg = &r->meta;
		if (!r->raw && keyring_ctx_keyed(r->ctx) &&
		    wal_reader_decrypt(r, p, h.len - xlen, rec, cause) != 0)
			return (-1);
		r->off += rs;
		r->expect++;
		return (1);
	}
}

/* Closes the reader and frees it. */
void
wal_reader_close(struct wal_reader *r)
{
	if (r == NULL)
		return;
	wal_reader_close_seg(r);
	if (r->dirfd != -1)
		sysio.close(r->dirfd);
	keyring_ctx_free(r->ctx);
	keyring_free(r->ring);
	free(r->plain);
	free(r->buf);
	free(r->dir);
	free(r);
}
