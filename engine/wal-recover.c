/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal-recover.c: recovery at open: every segment's header and footer,
 * the LSNs continuous from one to the next, the keys present, and the
 * last segment scanned and finished at its recovered end.
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
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cause.h"
#include "keyring.h"
#include "segment.h"
#include "sysio.h"
#include "wal-int.h"
#include "wal.h"


/* Logs a file in the directory that is not part of the log. */
static void
wal_recover_stray_cb(void *arg, const char *name)
{
	struct wal	*w = arg;

	wal_log(w, WAL_LOG_WARNING, "wal: %s/%s: not a segment file: ignored",
	    w->dir, name);
}

/* Finishes a recovered segment (name, fd open for reading) whose records
   end at end: footer (unless footer is 0: written already), then the cut
   and the syncs of wal_io_finish. */
static int
wal_recover_finish(struct wal *w, const char *name, const struct seg_scan *s,
    int footer, char **cause)
{
	struct seg_footer	 f;
	unsigned char		 foot[FOOTER_SIZE];
	int			 fd, r;

	f.first_lsn = s->first_lsn;
	f.last_lsn = s->next_lsn - 1;
	f.count = s->count;
	f.offset = s->end;
	f.data_crc = s->data_crc;
	f.flags = 0;
	segment_encode_footer(foot, &f, s->seed);
	if ((fd = sysio.openat(w->dirfd, name, O_RDWR | O_CLOEXEC, 0)) == -1) {
		wal_io_cause(w, cause, "open", name, s->end);
		return (-1);
	}
	r = wal_io_finish(w, fd, name, foot, footer ? FOOTER_SIZE : 0, s->end,
	    s->end + FOOTER_SIZE, cause);
	sysio.close(fd);
	return (r);
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
	enum seg_verdict	v;
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
		    "damaged; nothing was changed (run walctl verify "
		    "--keyring, "
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
		wal_spare_note_segment(w, e->name, s.end - SEG_HDR_SIZE,
		    s.flushes);
	if (s.stop == SEG_STOP_FOOTER) {
		/* Crash between the footer and the ftruncate: finish it. */
		if (wal_recover_finish(w, e->name, &s, 0, cause) != 0)
			return (-1);
		wal_log(w, WAL_LOG_INFO, "wal: recovery: %s/%s: footer at "
		    "offset %llu: "
		    "finished sealing", w->dir, e->name,
		    (unsigned long long)s.end);
		pthread_mutex_lock(&w->lock);
		wal_segs_push(w, e->first, s.next_lsn - 1,
		    s.end + FOOTER_SIZE, 1, key_id);
		pthread_mutex_unlock(&w->lock);
		w->loop.next_lsn = s.next_lsn;
		if (s.footer.flags & FOOTER_F_LOG_SEALED)
			w->loop.sealed = 1;
		return (0);
	}
	if (segment_tail_verdict(&s, hdr->flags, &t, &v, &what, &c2) != 0) {
		cause_set(cause, "%s/%s: %s", w->dir, e->name, c2);
		free(c2);
		return (-1);
	}
	switch (v) {
	case SEG_END_DAMAGED:
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
	case SEG_END_UNDECIDED:
		cause_set(cause, "%s/%s: offset %llu: LSN %llu: %s, and "
		    "the bytes after it hold more headers shaped like records "
		    "(from offset %llu) than can be checked, so a torn tail "
		    "cannot be told from damage; nothing was changed (run "
		    "walctl verify, see docs/FORMAT.md)", w->dir, e->name,
		    (unsigned long long)s.end, (unsigned long long)s.next_lsn,
		    what, (unsigned long long)t.undecided_off);
		return (-1);
	case SEG_END_REUSED:
		/* What follows is the file's earlier segment (whose records
		   are not valid in this one), or a flush never acknowledged
		   of which nothing valid is left: the two cannot be told
		   apart, and neither matters. */
		wal_log(w, WAL_LOG_INFO, "wal: recovery: %s/%s: records end "
		    "at offset %llu, next LSN %llu (a reused file: what "
		    "follows is its earlier contents or a flush never "
		    "acknowledged)", w->dir, e->name,
		    (unsigned long long)s.end, (unsigned long long)s.next_lsn);
		break;
	case SEG_END_TORN:
		wal_log(w, WAL_LOG_WARNING, "wal: recovery: %s/%s: torn tail "
		    "cut at offset %llu, first lost LSN %llu (%s)", w->dir,
		    e->name, (unsigned long long)s.end,
		    (unsigned long long)s.next_lsn, what);
		break;
	case SEG_END_CLEAN:
		break;
	}
	w->loop.next_lsn = s.next_lsn;
	if (s.count == 0) {
		*empty = 1;
		return (0);
	}
	if (wal_recover_finish(w, e->name, &s, 1, cause) != 0)
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
int
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

	if (segment_list(w->dirfd, w->dir, &ents, &n, wal_recover_stray_cb,
	    NULL,
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
	w->loop.next_lsn = 1;
	for (i = 0; i < n; i++) {
		fd = sysio.openat(w->dirfd, ents[i].name, O_RDONLY | O_CLOEXEC,
		    0);
		if (fd == -1 || fstat(fd, &sb) != 0) {
			wal_io_cause(w, cause, "open", ents[i].name, 0);
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
			wal_io_cause(w, cause, "pread", ents[i].name, 0);
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
		if (keyring_ctx_segment(rctx, w->loop.ring, &h, &c2) != 0) {
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
		if (i > 0 && w->loop.sealed) {
			cause_set(cause, "%s/%s: offset 0: LSN %llu: segment "
			    "after one whose footer sealed the log", w->dir,
			    ents[i].name, (unsigned long long)ents[i].first);
			goto out;
		}
		r = segment_read_footer(fd, (uint64_t)sb.st_size, h.first_lsn,
		    h.seed, &f, &why);
		if (r == -1) {
			wal_io_cause(w, cause, "pread", ents[i].name,
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
			w->loop.next_lsn = f.last_lsn + 1;
			if (f.flags & FOOTER_F_LOG_SEALED)
				w->loop.sealed = 1;
		} else if (i + 1 < n || r == 2 ||
		    sb.st_size % IO_ALIGN != 0) {
			if (r != 2)
				why = i + 1 < n ? "no footer on a segment that "
				    "is not the last" : "no footer, and the "
				    "size "
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
