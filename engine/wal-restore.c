/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal-restore.c: a writer that rebuilds a data directory from records as
 * stored, in LSN order, each with its segment's header fields (struct
 * wal_segmeta): walctl restore's, from a replication stream.
 *
 * WHAT IS WRITTEN. Each segment as walld wrote it (FORMAT.md sections
 * 3-5): the header from the records' segmeta (version 2, flags from the
 * key id), the records at 8-byte alignment with their CRCs over the
 * segment id, header and payload, and a footer (never LOG_SEALED) when
 * the next segment begins. The last segment is left active: no footer,
 * its size rounded up to 4096 with room for a footer, zeros after the
 * records, so that walld's recovery at open seals it there and starts a
 * fresh segment (with a fresh salt: no nonce is reused).
 *
 * A STREAM THAT BEGINS INSIDE A SEGMENT. Recovery and readers want a
 * segment's first record to carry the header's first LSN. A plaintext
 * segment can begin at the first record there is: the same header but
 * for the first LSN (record CRCs depend on the segment id, not on it).
 * An encrypted one cannot: its data key and key check are derived from
 * its first LSN (FORMAT.md section 12), so it is refused.
 *
 * NOTHING HALF WRITTEN LOOKS GOOD. The first segment gets its header only
 * at the end, after every other byte is synced: until then walld and the
 * readers refuse the directory ("bad segment header magic"), whatever a
 * crash leaves. A failure removes what was made (wal_restore_abort).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cause.h"
#include "crc32c.h"
#include "keyring.h"
#include "segment.h"
#include "sysio.h"
#include "wal-int.h"
#include "wal-reader.h"
#include "wal-restore.h"

#define RESTORE_CHUNK	(1u << 20)	/* record bytes per pwrite */

struct wal_restore {
	char		*dir;
	int		 dirfd;
	int		 made_dir;	/* wal_restore_open created it */
	int		 failed;	/* a system call failed: abort only */

	/* The segment being written. */
	int		 fd;		/* -1 before the first record */
	char		 name[SEG_NAME_SIZE];
	struct wal_segmeta meta;	/* as its records say */
	uint64_t	 first;		/* its header's first LSN */
	uint32_t	 seed;		/* its record CRC seed */
	uint64_t	 count;
	uint64_t	 end;		/* offset after its last record */
	uint32_t	 crc;		/* data CRC of its records */
	uint64_t	 last_batch;
	unsigned char	*buf;		/* bytes from boff not written yet */
	size_t		 len;
	size_t		 cap;
	uint64_t	 boff;

	/* The log so far. */
	uint64_t	 next_lsn;	/* 0 before the first record */
	uint64_t	 records;
	uint64_t	 first_lsn;
	struct wal_segmeta head;	/* the first segment's, for its header */
	uint64_t	 head_first;
	uint64_t	*segs;		/* first LSNs of the segments made */
	size_t		 nsegs;
	size_t		 segcap;
};

/* The header of the segment a record's segmeta describes; see the top. */
void
wal_restore_header(const struct wal_segmeta *m, uint64_t first,
    struct seg_header *h)
{
	memset(h, 0, sizeof *h);
	h->version = SEG_VERSION;
	h->hdr_len = SEG_HDR_SIZE;
	h->flags = m->key_id != 0 ? SEG_F_ENCRYPTED : 0;
	h->first_lsn = first;
	memcpy(h->id, m->id, sizeof h->id);
	h->ctime_ns = m->ctime_ns;
	h->key_id = m->key_id;
	memcpy(h->salt, m->salt, sizeof h->salt);
	memcpy(h->check, m->check, sizeof h->check);
	h->seed = segment_seed(SEG_VERSION, m->id);
}

/* Writes the header rec has as stored, its CRC field 0, and its
   extension fields after it; returns their length. */
uint32_t
wal_restore_rec_header(unsigned char *p, const struct wal_record *rec)
{
	struct rec_header	h;
	struct rec_ext		x = { .time_ns = rec->time_ns,
				    .producer = rec->producer,
				    .seq = rec->seq };
	uint32_t		xlen;

	memset(&h, 0, sizeof h);
	h.flags = segment_ext_flags(&x);
	xlen = rec_ext_len(h.flags);
	h.type = rec->type;
	h.vshard = rec->vshard;
	h.tenant = rec->tenant;
	h.len = xlen + rec->len;
	h.lsn = rec->lsn;
	h.batch_lsn = rec->batch_lsn;
	segment_encode_rec(p, &h);
	segment_encode_ext(p + REC_HDR_SIZE, &x);
	return (xlen);
}

/* 1 when a and b are the same segment header's fields. */
int
wal_restore_same(const struct wal_segmeta *a, const struct wal_segmeta *b)
{
	return (a->first_lsn == b->first_lsn && a->ctime_ns == b->ctime_ns &&
	    a->key_id == b->key_id && memcmp(a->id, b->id, sizeof a->id) == 0 &&
	    memcmp(a->salt, b->salt, sizeof a->salt) == 0 &&
	    memcmp(a->check, b->check, sizeof a->check) == 0);
}

/* 1 when dir (open as fd) has nothing in it; -1 on a read error. */
static int
wal_restore_empty(int fd)
{
	struct dirent	*de;
	DIR		*d;
	int		 dfd, r = 1;

	if ((dfd = dup(fd)) == -1)
		return (-1);
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return (-1);
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				r = -1;
			break;
		}
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			r = 0;
			break;
		}
	}
	closedir(d);
	return (r);
}

/* Starts a restore; see wal-restore.h. */
struct wal_restore *
wal_restore_open(const char *dir, char **cause)
{
	struct wal_restore	*r;
	int			 k;

	if ((r = calloc(1, sizeof *r)) == NULL ||
	    (r->dir = strdup(dir)) == NULL) {
		cause_set(cause, "%s: %s", dir, strerror(errno));
		free(r);
		return (NULL);
	}
	r->fd = r->dirfd = -1;
	if (mkdir(dir, 0750) == 0) {
		r->made_dir = 1;
		if (wal_io_sync_parent(dir, cause) != 0)
			goto fail;
	} else if (errno != EEXIST) {
		cause_set(cause, "mkdir: %s: %s", dir, strerror(errno));
		goto fail;
	}
	r->dirfd = sysio.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (r->dirfd == -1) {
		cause_set(cause, "open: %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (!r->made_dir && (k = wal_restore_empty(r->dirfd)) != 1) {
		if (k == -1)
			cause_set(cause, "readdir: %s: %s", dir,
			    strerror(errno));
		else
			cause_set(cause, "%s: not empty: a restore writes "
			    "only into a new or empty directory", dir);
		goto fail;
	}
	return (r);

fail:
	if (r->dirfd != -1)
		sysio.close(r->dirfd);
	if (r->made_dir)
		rmdir(dir);
	free(r->dir);
	free(r);
	return (NULL);
}

/* Writes the buffered bytes of the segment. */
static int
wal_restore_flush(struct wal_restore *r, char **cause)
{
	if (r->len == 0)
		return (0);
	if (wal_io_pwrite(r->fd, r->buf, r->len, r->boff) != 0) {
		wal_io_cause_dir(cause, "pwrite", r->dir, r->name, r->boff);
		return (-1);
	}
	r->boff += r->len;
	r->len = 0;
	return (0);
}

/* Makes room for need more bytes in the buffer. */
static int
wal_restore_room(struct wal_restore *r, size_t need, char **cause)
{
	unsigned char	*nb;
	size_t		 cap;

	if (r->len + need <= r->cap)
		return (0);
	if (r->len > 0 && wal_restore_flush(r, cause) != 0)
		return (-1);
	if (need <= r->cap)
		return (0);
	cap = need > RESTORE_CHUNK ? need : RESTORE_CHUNK;
	if ((nb = realloc(r->buf, cap)) == NULL) {
		cause_set(cause, "%s: %s", r->dir, strerror(errno));
		return (-1);
	}
	r->buf = nb;
	r->cap = cap;
	return (0);
}

/* Seals the segment being written: footer, then wal_io_finish's order. */
static int
wal_restore_seal(struct wal_restore *r, char **cause)
{
	struct seg_footer	f;
	unsigned char		foot[FOOTER_SIZE];

	if (wal_restore_flush(r, cause) != 0)
		return (-1);
	f.first_lsn = r->first;
	f.last_lsn = r->next_lsn - 1;
	f.count = r->count;
	f.offset = r->end;
	f.data_crc = r->crc;
	f.flags = 0;
	segment_encode_footer(foot, &f, r->seed);
	if (wal_io_finish_dir(r->dirfd, r->dir, r->fd, r->name, foot,
	    FOOTER_SIZE, r->end, r->end + FOOTER_SIZE, cause) != 0)
		return (-1);
	sysio.close(r->fd);
	r->fd = -1;
	return (0);
}

/* Creates the segment that begins at first; its header goes in the
   buffer, but for the restore's first segment (wal_restore_close). */
static int
wal_restore_begin(struct wal_restore *r, const struct wal_segmeta *m,
    uint64_t first, char **cause)
{
	struct seg_header	 h;
	uint64_t		*ns;
	size_t			 cap;

	if (r->nsegs == r->segcap) {
		cap = r->segcap ? r->segcap * 2 : 16;
		if ((ns = reallocarray(r->segs, cap, sizeof *ns)) == NULL) {
			cause_set(cause, "%s: %s", r->dir, strerror(errno));
			return (-1);
		}
		r->segs = ns;
		r->segcap = cap;
	}
	segment_name(r->name, first);
	r->fd = sysio.openat(r->dirfd, r->name, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, 0640);
	if (r->fd == -1) {
		wal_io_cause_dir(cause, "open", r->dir, r->name, 0);
		return (-1);
	}
	r->segs[r->nsegs++] = first;
	r->meta = *m;
	r->first = first;
	r->seed = segment_seed(SEG_VERSION, m->id);
	r->count = 0;
	r->crc = 0;
	r->end = SEG_HDR_SIZE;
	r->len = 0;
	r->boff = SEG_HDR_SIZE;
	if (r->nsegs == 1) {
		r->head = *m;
		r->head_first = first;
		return (0);
	}
	if (wal_restore_room(r, SEG_HDR_SIZE, cause) != 0)
		return (-1);
	wal_restore_header(m, first, &h);
	segment_encode_header(r->buf, &h);
	r->len = SEG_HDR_SIZE;
	r->boff = 0;
	return (0);
}

/*
 * Whether rec can come next, and whether it begins a segment (*begin,
 * at *first). WAL_RESTORE_REFUSED and *cause if not.
 */
static int
wal_restore_check(struct wal_restore *r, const struct wal_record *rec,
    int *begin, uint64_t *first, char **cause)
{
	const struct wal_segmeta	*m = rec->seg;
	const char			*why;

	*begin = 0;
	*first = m != NULL ? m->first_lsn : 0;
	why = "no segment header fields";
	if (m == NULL)
		goto refuse;
	why = "LSN 0";
	if (rec->lsn == 0)
		goto refuse;
	if (r->next_lsn != 0 && rec->lsn != r->next_lsn) {
		cause_set(cause, "LSN %llu where %llu was expected: records "
		    "come in LSN order, with no gap", (unsigned long long)
		    rec->lsn, (unsigned long long)r->next_lsn);
		return (WAL_RESTORE_REFUSED);
	}
	why = "payload above the hard maximum of 16 MiB";
	if (rec->len > REC_MAX_PAYLOAD - REC_EXT_MAX)
		goto refuse;
	why = "encrypted payload shorter than its authentication tag";
	if (m->key_id != 0 && rec->len < KEYRING_TAG_LEN)
		goto refuse;
	why = "batch LSN above the record's LSN";
	if (rec->batch_lsn > rec->lsn)
		goto refuse;
	why = "segment's first LSN above the record's LSN";
	if (m->first_lsn > rec->lsn)
		goto refuse;
	if (r->fd != -1 && m->first_lsn == r->meta.first_lsn &&
	    memcmp(m->id, r->meta.id, sizeof m->id) == 0) {
		why = "its segment's header fields differ from the ones of "
		    "the records before it in that segment";
		if (!wal_restore_same(m, &r->meta))
			goto refuse;
		why = "batch LSN below the one before it in the segment";
		if (rec->batch_lsn < r->last_batch)
			goto refuse;
		return (0);
	}
	/* A new segment: from its first record, but at the very start. */
	*begin = 1;
	why = "its segment has the id of the segment before it, and "
	    "another first LSN";
	if (r->fd != -1 && memcmp(m->id, r->meta.id, sizeof m->id) == 0)
		goto refuse;
	if (m->first_lsn != rec->lsn) {
		if (r->fd != -1) {
			cause_set(cause, "LSN %llu: its segment begins at LSN "
			    "%llu, but the record before it is in another "
			    "segment (first LSN %llu): the segment headers "
			    "disagree", (unsigned long long)rec->lsn,
			    (unsigned long long)m->first_lsn,
			    (unsigned long long)r->meta.first_lsn);
			return (WAL_RESTORE_REFUSED);
		}
		if (m->key_id != 0) {
			cause_set(cause, "LSN %llu: the records begin inside "
			    "an encrypted segment (first LSN %llu, key id "
			    "%u), whose key is derived from its first LSN: "
			    "it cannot begin at a later one (restore from "
			    "the start of a segment)", (unsigned long long)
			    rec->lsn, (unsigned long long)m->first_lsn,
			    m->key_id);
			return (WAL_RESTORE_REFUSED);
		}
		*first = rec->lsn;
	}
	why = "batch LSN below its segment's first LSN";
	if (rec->batch_lsn < m->first_lsn)
		goto refuse;
	return (0);

refuse:
	cause_set(cause, "LSN %llu: %s", (unsigned long long)rec->lsn, why);
	return (WAL_RESTORE_REFUSED);
}

/* Adds the next record; see wal-restore.h. */
int
wal_restore_add(struct wal_restore *r, const struct wal_record *rec,
    char **cause)
{
	unsigned char		*p;
	uint64_t		 rs, first;
	uint32_t		 xlen, slen;
	int			 begin, k;

	if (r->failed) {
		cause_set(cause, "%s: the restore failed earlier", r->dir);
		return (-1);
	}
	if ((k = wal_restore_check(r, rec, &begin, &first, cause)) != 0)
		return (k);
	if (begin && ((r->fd != -1 && wal_restore_seal(r, cause) != 0) ||
	    wal_restore_begin(r, rec->seg, first, cause) != 0))
		goto fail;
	rs = seg_rec_size(rec->len + REC_EXT_MAX);
	if (wal_restore_room(r, (size_t)rs, cause) != 0)
		goto fail;
	p = r->buf + r->len;
	xlen = wal_restore_rec_header(p, rec);
	slen = xlen + rec->len;
	rs = seg_rec_size(slen);
	if (rec->len > 0)
		memcpy(p + REC_HDR_SIZE + xlen, rec->payload, rec->len);
	memset(p + REC_HDR_SIZE + slen, 0, rs - REC_HDR_SIZE - slen);
	seg_put32(p + 20, segment_rec_crc(r->seed, p, p + REC_HDR_SIZE,
	    slen));
	r->crc = crc32c(r->crc, p, rs);
	r->len += rs;
	r->end += rs;
	r->count++;
	r->last_batch = rec->batch_lsn;
	if (r->records++ == 0)
		r->first_lsn = rec->lsn;
	r->next_lsn = rec->lsn + 1;
	if (r->len >= RESTORE_CHUNK && wal_restore_flush(r, cause) != 0)
		goto fail;
	return (0);

fail:
	r->failed = 1;
	return (-1);
}

/* What was restored so far. */
void
wal_restore_stats(const struct wal_restore *r, struct wal_restore_stats *st)
{
	st->records = r->records;
	st->segments = r->nsegs;
	st->first_lsn = r->first_lsn;
	st->last_lsn = r->records > 0 ? r->next_lsn - 1 : 0;
}

/* Leaves the last segment active (see the top) and synced. */
static int
wal_restore_leave_active(struct wal_restore *r, char **cause)
{
	uint64_t	size;
	const char	*call;

	if (wal_restore_flush(r, cause) != 0)
		return (-1);
	/* Zeros after the records, and room for the footer recovery
	   writes: nothing at size - 80 can pass for one. */
	size = WAL_ROUND_UP(r->end + FOOTER_SIZE, IO_ALIGN);
	call = "ftruncate";
	if (sysio.ftruncate(r->fd, (off_t)size) != 0)
		goto fail;
	call = "fsync";
	if (sysio.fsync(r->fd) != 0)
		goto fail;
	call = "close";
	if (sysio.close(r->fd) != 0) {
		r->fd = -1;
		goto fail;
	}
	r->fd = -1;
	return (0);

fail:
	wal_io_cause_dir(cause, call, r->dir, r->name, r->end);
	return (-1);
}

/* Writes the first segment's header, which makes the directory a log. */
static int
wal_restore_publish(struct wal_restore *r, char **cause)
{
	struct seg_header	 h;
	unsigned char		*hb;
	const char		*call = "open";
	int			 fd;

	segment_name(r->name, r->segs[0]);
	if ((hb = malloc(SEG_HDR_SIZE)) == NULL) {
		cause_set(cause, "%s: %s", r->dir, strerror(errno));
		return (-1);
	}
	wal_restore_header(&r->head, r->head_first, &h);
	segment_encode_header(hb, &h);
	fd = sysio.openat(r->dirfd, r->name, O_WRONLY | O_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	call = "pwrite";
	if (wal_io_pwrite(fd, hb, SEG_HDR_SIZE, 0) != 0)
		goto fail;
	call = "fdatasync";
	if (sysio.fdatasync(fd) != 0)
		goto fail;
	call = "close";
	if (sysio.close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	call = "fsync directory";
	if (sysio.fsync(r->dirfd) != 0)
		goto fail;
	free(hb);
	return (0);

fail:
	wal_io_cause_dir(cause, call, r->dir, r->name, 0);
	if (fd != -1)
		sysio.close(fd);
	free(hb);
	return (-1);
}

/* Frees a restore whose files are closed or to be left. */
static void
wal_restore_free(struct wal_restore *r)
{
	if (r->fd != -1)
		sysio.close(r->fd);
	if (r->dirfd != -1)
		sysio.close(r->dirfd);
	free(r->segs);
	free(r->buf);
	free(r->dir);
	free(r);
}

/* Finishes the restore; see wal-restore.h. */
int
wal_restore_close(struct wal_restore *r, char **cause)
{
	if (r->failed) {
		cause_set(cause, "%s: the restore failed earlier", r->dir);
		return (-1);
	}
	if (r->records == 0) {
		cause_set(cause, "%s: no record to restore", r->dir);
		return (-1);
	}
	if (wal_restore_leave_active(r, cause) != 0 ||
	    wal_restore_publish(r, cause) != 0) {
		r->failed = 1;
		return (-1);
	}
	wal_restore_free(r);
	return (0);
}

/* Removes name from the directory; ENOENT is no failure. */
static int
wal_restore_unlink(struct wal_restore *r, const char *name, char **cause)
{
	if (sysio.unlinkat(r->dirfd, name, 0) == 0 || errno == ENOENT)
		return (0);
	cause_set(cause, "unlink: %s/%s: %s", r->dir, name, strerror(errno));
	return (-1);
}

/* Gives up; see wal-restore.h. */
int
wal_restore_abort(struct wal_restore *r, char **cause)
{
	char	name[SEG_NAME_SIZE], *c2 = NULL;
	size_t	i;
	int	ok = 0;

	if (r->fd != -1) {
		sysio.close(r->fd);
		r->fd = -1;
	}
	for (i = 0; i < r->nsegs; i++) {
		segment_name(name, r->segs[i]);
		if (wal_restore_unlink(r, name, c2 == NULL ? &c2 : NULL) != 0)
			ok = -1;
	}
	if (wal_restore_unlink(r, REPLICA_NAME, c2 == NULL ? &c2 : NULL) != 0 ||
	    wal_restore_unlink(r, REPLICA_TMP_NAME, c2 == NULL ? &c2 : NULL) !=
	    0)
		ok = -1;
	if (ok == 0 && r->made_dir) {
		if (rmdir(r->dir) != 0) {
			cause_set(&c2, "rmdir: %s: %s", r->dir,
			    strerror(errno));
			ok = -1;
		} else if (wal_io_sync_parent(r->dir, &c2) != 0)
			ok = -1;
	} else if (ok == 0 && sysio.fsync(r->dirfd) != 0) {
		cause_set(&c2, "fsync directory: %s: %s", r->dir,
		    strerror(errno));
		ok = -1;
	}
	if (ok != 0)
		cause_set(cause, "%s (the restore's files in %s may be left: "
		    "remove them before restoring there again)",
		    c2 != NULL ? c2 : "out of memory", r->dir);
	free(c2);
	wal_restore_free(r);
	return (ok);
}
