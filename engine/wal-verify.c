/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal-verify.c: the offline checker behind `walctl verify`: reads every
 * segment of a directory, checks every header, record CRC, LSN and footer,
 * and prints each problem as "FILE: offset N: LSN M: what", then a summary.
 * Structure and CRCs need no key; with a key ring it also checks each
 * encrypted segment's key and authenticates every record in it.
 * wal_verify_run is the same walk for a running walld (its scrub): the
 * sealed segments only, each problem handed to a callback, the reads
 * paced, and segments that truncation takes away meanwhile skipped.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cause.h"
#include "keyring.h"
#include "segment.h"
#include "sysio.h"
#include "wal-reader.h"
#include "wal.h"

struct wal_verify {
	const char	*dir;
	FILE		*out;		/* NULL: problems to opts->problem_cb */
	const struct wal_verify_opts *opts;	/* NULL: offline */
	int		 problems;
	uint64_t	 damaged;	/* records found damaged */
	const char	*name;		/* the segment being authenticated */
	/* A live log (opts->live): the segment being checked, to tell
	   whether truncation took it away while it was read. */
	int		 dirfd;
	int		 fd;
	int		 gone;		/* it went: its problems are not */
	/* The records' callback when authenticating (chained, for pacing). */
	void		(*auth_cb)(void *, const struct rec_header *,
			    const unsigned char *, uint64_t);
	void		*auth_arg;
	uint64_t	 paced;		/* offset in the segment paced up to */
};

/* 1 when, on a live log, the segment being checked is no longer in the
   directory under its name (truncated, or renamed to be recycled): what
   was read may not be what the log holds, and it is not the log's any
   more anyway. */
static int
wal_verify_gone(struct wal_verify *v, const char *name)
{
	struct stat	a, b;

	if (v->opts == NULL || !v->opts->live || v->fd == -1)
		return (0);
	if (v->gone)
		return (1);
	if (fstat(v->fd, &a) != 0 ||
	    fstatat(v->dirfd, name, &b, AT_SYMLINK_NOFOLLOW) != 0 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		v->gone = 1;
	return (v->gone);
}

/* Reports one problem: printed, or handed to the callback. */
static void __attribute__((format(printf, 5, 6)))
wal_verify_problem(struct wal_verify *v, const char *name, uint64_t off,
    uint64_t lsn, const char *fmt, ...)
{
	va_list	ap;
	char	what[512];

	if (wal_verify_gone(v, name))
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (v->out != NULL)
		fprintf(v->out, "%s/%s: offset %llu: LSN %llu: %s\n", v->dir,
		    name, (unsigned long long)off, (unsigned long long)lsn,
		    what);
	if (v->opts != NULL && v->opts->problem_cb != NULL)
		v->opts->problem_cb(v->opts->arg, name, off, lsn, what);
	v->problems++;
}

/* Says why the walk could not start: printed, or as a problem with no
   file (LSN 0) when there is no stream. */
static void __attribute__((format(printf, 2, 3)))
wal_verify_fail(struct wal_verify *v, const char *fmt, ...)
{
	va_list	ap;
	char	what[512];

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (v->out != NULL)
		fprintf(v->out, "%s\n", what);
	if (v->opts != NULL && v->opts->problem_cb != NULL)
		v->opts->problem_cb(v->opts->arg, "", 0, 0, what);
}

/* Prints a note (offline only: a live check has no reader for them). */
static void __attribute__((format(printf, 2, 3)))
wal_verify_note(struct wal_verify *v, const char *fmt, ...)
{
	va_list	ap;

	if (v->out == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(v->out, fmt, ap);
	va_end(ap);
}

/* Every record a segment's scan finds valid: authenticated (when a key
   ring is given) and paced (opts->pace_cb, every WAL_VERIFY_PACE bytes). */
#define WAL_VERIFY_PACE	(256u << 10)
static void
wal_verify_rec_cb(void *arg, const struct rec_header *h,
    const unsigned char *p, uint64_t off)
{
	struct wal_verify	*v = arg;

	if (v->auth_cb != NULL)
		v->auth_cb(v->auth_arg, h, p, off);
	if (v->opts != NULL && v->opts->pace_cb != NULL &&
	    off >= v->paced + WAL_VERIFY_PACE) {
		v->opts->pace_cb(v->opts->arg, off - v->paced);
		v->paced = off;
	}
}

/* Reports a record that fails authentication. */
static void
wal_verify_auth_cb(void *arg, uint64_t off, uint64_t lsn)
{
	struct wal_verify	*v = arg;

	wal_verify_problem(v, v->name, off, lsn, "record fails authentication "
	    "(altered, moved from elsewhere, or not written under this key)");
}

/* Notes a file that is not part of the log. */
static void
wal_verify_stray_cb(void *arg, const char *name)
{
	struct wal_verify	*v = arg;

	wal_verify_note(v, "note: %s/%s: not a segment file, ignored\n",
	    v->dir, name);
}

/* Reports a name that looks like a segment but does not parse. */
static void
wal_verify_bad_cb(void *arg, const char *name)
{
	struct wal_verify	*v = arg;

	wal_verify_problem(v, name, 0, 0, "looks like a segment but its name "
	    "is not a first LSN as 20 digits");
}

/* 1 when the header at p (avail bytes there, at file offset off) is a
   whole valid record below end, with an LSN in (after, last]: where the
   walk can go on after a damaged header. */
static int
wal_verify_resync_ok(const unsigned char *p, size_t avail, uint32_t seed,
    uint64_t after, uint64_t last, struct rec_header *h)
{
	const char	*why;

	if (avail < REC_HDR_SIZE || seg_get32(p) != REC_MAGIC ||
	    segment_decode_rec(p, h, &why) != 0 || (h->flags & REC_F_FOOTER))
		return (0);
	if (h->lsn <= after || h->lsn > last || seg_rec_size(h->len) > avail)
		return (0);
	return (segment_rec_crc(seed, p, p + REC_HDR_SIZE, h->len) == h->crc);
}

/*
 * A sealed segment's records after the first bad one, at off (LSN lsn),
 * up to its footer: each is checked as segment_scan checks it, each bad
 * one is reported, and the walk goes on after it: over its length when
 * its header is sound, else from the next valid record (the LSNs between
 * are reported lost). Good records go to s->rec_cb and are added to
 * *good. The region is read whole (one segment at most).
 */
static void
wal_verify_rest(struct wal_verify *v, const char *name, int fd,
    const struct seg_scan *s, const struct seg_footer *ft, uint64_t off,
    uint64_t lsn, uint64_t *good)
{
	struct rec_header	 h;
	unsigned char		*buf, *p;
	const char		*why;
	size_t			 len, pos = 0, q;
	uint64_t		 rs = 0;
	ssize_t			 n;
	int			 first = 1, sound;

	if (ft->offset <= off)
		return;
	len = (size_t)(ft->offset - off);
	if ((buf = malloc(len)) == NULL) {
		wal_verify_problem(v, name, off, lsn, "checking the records "
		    "after: %s", strerror(errno));
		return;
	}
	for (q = 0; q < len; q += (size_t)n) {
		n = sysio.pread(fd, buf + q, len - q, (off_t)(off + q));
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			wal_verify_problem(v, name, off + q, lsn, "pread: %s",
			    n == 0 ? "end of file" : strerror(errno));
			free(buf);
			return;
		}
	}
	while (pos < len) {
		p = buf + pos;
		why = NULL;
		sound = 0;
		if (len - pos < REC_HDR_SIZE)
			why = "record header runs into the footer";
		else if (segment_decode_rec(p, &h, &why) != 0)
			;
		else if ((h.flags & REC_F_FOOTER) || h.lsn != lsn)
			why = "unexpected LSN in record header";
		else if ((rs = seg_rec_size(h.len)) > len - pos) {
			why = "record runs into the footer";
		} else {
			sound = 1;
			if (segment_rec_crc(s->seed, p, p + REC_HDR_SIZE,
			    h.len) != h.crc)
				why = "record checksum mismatch";
		}
		if (why == NULL) {
			if (s->rec_cb != NULL)
				s->rec_cb(s->rec_arg, &h, p, off + pos);
			(*good)++;
			pos += (size_t)rs;
			lsn++;
			continue;
		}
		/* The first was reported by the caller, from the scan. */
		if (!first)
			wal_verify_problem(v, name, off + pos, lsn, "%s", why);
		first = 0;
		v->damaged++;
		if (sound) {
			pos += (size_t)rs;
			lsn++;
			continue;
		}
		/* Its length cannot be trusted: find the next record. */
		for (q = pos + REC_ALIGN; q < len; q += REC_ALIGN)
			if (wal_verify_resync_ok(buf + q, len - q, s->seed,
			    lsn, ft->last_lsn, &h))
				break;
		if (q >= len) {
			if (lsn < ft->last_lsn) {
				wal_verify_problem(v, name, off + pos, lsn + 1,
				    "LSN %llu..%llu: no valid record after the "
				    "damaged one, up to the footer",
				    (unsigned long long)(lsn + 1),
				    (unsigned long long)ft->last_lsn);
				v->damaged += ft->last_lsn - lsn;
			}
			lsn = ft->last_lsn + 1;
			break;
		}
		if (h.lsn > lsn + 1) {
			wal_verify_problem(v, name, off + pos, lsn + 1, "LSN "
			    "%llu..%llu: lost with the damaged header before "
			    "them (the next valid record is at offset %llu)",
			    (unsigned long long)(lsn + 1),
			    (unsigned long long)(h.lsn - 1),
			    (unsigned long long)(off + q));
			v->damaged += h.lsn - 1 - lsn;
		}
		pos = q;
		lsn = h.lsn;
	}
	if (pos >= len && lsn != ft->last_lsn + 1)
		wal_verify_problem(v, name, ft->offset, lsn, "records end at "
		    "LSN %llu but the footer says the last is %llu",
		    (unsigned long long)(lsn - 1),
		    (unsigned long long)ft->last_lsn);
	free(buf);
}

/* Names segment_list passes by: wal_verify_keys reports them. */
static void
wal_verify_skip_cb(void *arg, const char *name)
{
	(void)arg;
	(void)name;
}

/* Checks that dir can be verified: a directory that can be read, with at
   least one segment file (walld makes the first at its first start). */
int
wal_verify_dir_check(const char *dir, char **cause)
{
	struct seg_ent	*ents = NULL;
	size_t		 n;
	int		 dirfd;

	dirfd = sysio.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dirfd == -1) {
		cause_set(cause, "%s: %s", dir, strerror(errno));
		return (-1);
	}
	if (segment_list(dirfd, dir, &ents, &n, wal_verify_skip_cb,
	    wal_verify_skip_cb, NULL, cause) != 0) {
		sysio.close(dirfd);
		return (-1);
	}
	free(ents);
	sysio.close(dirfd);
	if (n == 0) {
		cause_set(cause, "%s: no segment file: not a walld data "
		    "directory, or not mounted", dir);
		return (-1);
	}
	return (0);
}

/* Checks every segment offline; see wal.h. */
int
wal_verify(const char *dir, FILE *out)
{
	return (wal_verify_keys(dir, NULL, out));
}

/* Checks every segment offline, authenticating with kr; see wal.h. */
int
wal_verify_keys(const char *dir, struct keyring *kr, FILE *out)
{
	struct wal_verify_opts	 o;

	memset(&o, 0, sizeof o);
	o.keyring = kr;
	return (wal_verify_run(dir, &o, out, NULL));
}

/* The walk behind both; see wal-reader.h. */
int
wal_verify_run(const char *dir, const struct wal_verify_opts *o, FILE *out,
    struct wal_verify_result *res)
{
	struct keyring		*kr = o->keyring;
	struct wal_verify	 v;
	struct keyring_ctx	*ctx;
	struct keyring_auth	 auth;
	uint64_t		 nenc = 0, nauth = 0, nfail = 0, good;
	uint32_t		 ids[8];
	size_t			 nids = 0, j;
	struct seg_ent		*ents = NULL;
	struct seg_header	 h;
	struct seg_scan		 s;
	struct seg_tail		 t;
	enum seg_verdict	 verdict;
	struct seg_footer	 ft;
	struct stat		 sb;
	unsigned char		*hb = NULL;
	char			*cause = NULL;
	const char		*why, *state = "no segments";
	uint64_t		 records = 0, first = 0, last = 0, prev = 0;
	uint64_t		 seg_records, seg_damaged, checked = 0;
	uint64_t		 bytes = 0;
	size_t			 n, i;
	int			 dirfd, fd, have_prev = 0, is_last, k;
	int			 seg_problems, stopped = 0, e;

	memset(&v, 0, sizeof v);
	v.dir = dir;
	v.out = out;
	v.opts = o;
	v.fd = -1;
	if (res != NULL)
		memset(res, 0, sizeof *res);
	memset(&auth, 0, sizeof auth);
	if ((ctx = keyring_ctx_create(0)) == NULL) {
		wal_verify_fail(&v, "%s: %s", dir, strerror(ENOMEM));
		return (-1);
	}
	dirfd = sysio.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dirfd == -1) {
		wal_verify_fail(&v, "%s: %s", dir, strerror(errno));
		keyring_ctx_free(ctx);
		return (-1);
	}
	v.dirfd = dirfd;
	if (segment_list(dirfd, dir, &ents, &n, wal_verify_stray_cb,
	    wal_verify_bad_cb, &v, &cause) != 0 ||
	    (hb = malloc(SEG_HDR_SIZE)) == NULL) {
		wal_verify_fail(&v, "%s", cause != NULL ? cause :
		    strerror(errno));
		free(cause);
		free(ents);
		sysio.close(dirfd);
		keyring_ctx_free(ctx);
		return (-1);
	}
	for (i = 0; i < n; i++) {
		/* The active segment (and any after it) is not checked live. */
		if (o->below != 0 && ents[i].first >= o->below)
			break;
		if (stopped)
			break;
		is_last = i + 1 == n;
		v.fd = -1;
		v.gone = 0;
		fd = sysio.openat(dirfd, ents[i].name, O_RDONLY | O_CLOEXEC, 0);
		if (fd == -1 && errno == ENOENT && o->live) {
			/* Truncated since the directory was listed. */
			have_prev = 0;
			continue;
		}
		if (fd == -1 || fstat(fd, &sb) != 0) {
			e = errno;
			wal_verify_problem(&v, ents[i].name, 0, ents[i].first,
			    "open: %s", strerror(e));
			if (fd != -1)
				sysio.close(fd);
			have_prev = 0;
			continue;
		}
		v.fd = fd;
		v.paced = 0;
		v.auth_cb = NULL;
		seg_records = records;
		seg_damaged = v.damaged;
		seg_problems = v.problems;
		if (sysio.pread(fd, hb, SEG_HDR_SIZE, 0) != SEG_HDR_SIZE) {
			wal_verify_problem(&v, ents[i].name, 0, ents[i].first,
			    "cannot read the segment header");
			goto next_bad;
		}
		if (segment_decode_header(hb, &h, &why) != 0) {
			wal_verify_problem(&v, ents[i].name, 0, ents[i].first,
			    "%s", why);
			goto next_bad;
		}
		if (h.first_lsn != ents[i].first) {
			wal_verify_problem(&v, ents[i].name, 0, ents[i].first,
			    "header says first LSN %llu",
			    (unsigned long long)h.first_lsn);
			goto next_bad;
		}
		if (have_prev && ents[i].first != prev + 1)
			wal_verify_problem(&v, ents[i].name, 0, prev + 1,
			    "gap: the previous segment ends at LSN %llu",
			    (unsigned long long)prev);
		if (i == 0 || (o->live && first == 0))
			first = ents[i].first;

		memset(&s, 0, sizeof s);
		s.fd = fd;
		s.size = (uint64_t)sb.st_size;
		s.first_lsn = ents[i].first;
		s.seed = h.seed;
		s.rec_cb = wal_verify_rec_cb;
		s.rec_arg = &v;
		if (h.flags & SEG_F_ENCRYPTED) {
			nenc++;
			for (j = 0; j < nids && ids[j] != h.key_id; j++)
				;
			if (j == nids && nids < sizeof ids / sizeof ids[0])
				ids[nids++] = h.key_id;
		}
		if (kr != NULL && keyring_ctx_segment(ctx, kr, &h, &cause) != 0) {
			/* The structure can still be checked. */
			wal_verify_problem(&v, ents[i].name, 0, ents[i].first,
			    "%s", cause);
			free(cause);
			cause = NULL;
		} else if (kr != NULL && keyring_ctx_keyed(ctx)) {
			auth.ctx = ctx;
			auth.nbad = 0;
			auth.bad_cb = wal_verify_auth_cb;
			auth.bad_arg = &v;
			v.name = ents[i].name;
			v.auth_cb = keyring_auth_cb;
			v.auth_arg = &auth;
		}
		if (segment_scan(&s, &cause) != 0) {
			wal_verify_problem(&v, ents[i].name, 0, ents[i].first,
			    "%s", cause);
			free(cause);
			cause = NULL;
			goto next_bad;
		}
		if (auth.nomem) {
			wal_verify_problem(&v, ents[i].name, 0, ents[i].first,
			    "authenticating records: %s", strerror(ENOMEM));
			auth.nomem = 0;
		}
		records += s.count;
		if (s.count > 0)
			last = s.next_lsn - 1;
		if (s.bad_padding)
			wal_verify_problem(&v, ents[i].name, s.bad_padding_off,
			    0, "record padding is not zero");
		if (s.stop == SEG_STOP_FOOTER) {
			if (s.end + FOOTER_SIZE != s.size) {
				if (is_last)
					wal_verify_note(&v, "note: %s/%s: footer at "
					    "offset %llu but the file goes on "
					    "to %llu: the cut was not finished "
					    "(the next open finishes it)\n",
					    dir, ents[i].name,
					    (unsigned long long)s.end,
					    (unsigned long long)s.size);
				else
					wal_verify_problem(&v, ents[i].name,
					    s.end, s.next_lsn, "footer is not "
					    "at the end of the file (size "
					    "%llu)", (unsigned long long)s.size);
			}
			if (s.footer.flags & FOOTER_F_LOG_SEALED) {
				if (!is_last)
					wal_verify_problem(&v, ents[i].name,
					    s.end, s.next_lsn, "footer seals "
					    "the log but segments follow");
				state = "sealed";
			} else
				state = "last segment sealed, none active";
		} else if (!is_last) {
			if (s.stop == SEG_STOP_BAD)
				wal_verify_problem(&v, ents[i].name, s.end,
				    s.next_lsn, "%s", s.why);
			k = segment_read_footer(fd, s.size, ents[i].first,
			    h.seed, &ft, &why);
			if (k != 1) {
				wal_verify_problem(&v, ents[i].name, s.size >=
				    FOOTER_SIZE ? s.size - FOOTER_SIZE : 0,
				    s.next_lsn, "no valid footer on a segment "
				    "that is not the last%s%s",
				    k == 2 ? ": " : "", k == 2 ? why : "");
				goto next_bad;
			}
			if (s.stop != SEG_STOP_BAD)
				wal_verify_problem(&v, ents[i].name, s.end,
				    s.next_lsn, "records end before the footer "
				    "at offset %llu", (unsigned long long)
				    ft.offset);
			else {
				/* Every damaged record, not the first only. */
				good = 0;
				wal_verify_rest(&v, ents[i].name, fd, &s, &ft,
				    s.end, s.next_lsn, &good);
				records += good;
			}
			/* Go on from what the footer says. */
			s.next_lsn = ft.last_lsn + 1;
			last = ft.last_lsn;
		} else if ((k = segment_read_footer(fd, s.size, ents[i].first,
		    h.seed, &ft, &why)) == 2 ||
		    (k == 0 && s.size % IO_ALIGN != 0)) {
			/* What walld refuses, not a torn tail (FORMAT.md, 8). */
			state = "damaged";
			wal_verify_problem(&v, ents[i].name, s.size >=
			    FOOTER_SIZE ? s.size - FOOTER_SIZE : 0,
			    ents[i].first, "%s", k == 2 ? why : "no footer, and "
			    "the size is not that of an active segment");
		} else {
			state = "active";
			if (segment_tail_verdict(&s, h.flags, &t, &verdict,
			    &why, &cause) != 0) {
				wal_verify_problem(&v, ents[i].name, s.end,
				    s.next_lsn, "%s", cause);
				free(cause);
				cause = NULL;
			} else if (verdict == SEG_END_DAMAGED) {
				wal_verify_problem(&v, ents[i].name, s.end,
				    s.next_lsn, "%s, but a later flush was "
				    "written after it (LSN %llu at offset %llu):"
				    " acknowledged data is damaged", why,
				    (unsigned long long)t.later_lsn,
				    (unsigned long long)t.later_off);
			} else if (verdict == SEG_END_UNDECIDED) {
				wal_verify_problem(&v, ents[i].name, s.end,
				    s.next_lsn, "%s, and the bytes after it "
				    "hold more headers shaped like records (from "
				    "offset %llu) than can be checked: a torn "
				    "tail cannot be told from damage", why,
				    (unsigned long long)t.undecided_off);
			} else if (verdict == SEG_END_TORN) {
				wal_verify_note(&v, "note: %s/%s: offset %llu: LSN %llu:"
				    " torn tail of the last flush (%s): the "
				    "next open cuts it\n", dir, ents[i].name,
				    (unsigned long long)s.end,
				    (unsigned long long)s.next_lsn, why);
			}
		}
		prev = s.next_lsn - 1;
		have_prev = 1;
		if (v.auth_cb != NULL) {
			/* Counted once its records were all checked. */
			if (auth.nbad == 0)
				nauth++;
			else
				nfail++;
		}
		goto next;

next_bad:
		have_prev = 0;
next:
		if (wal_verify_gone(&v, ents[i].name)) {
			/* What it held is not the log's any more. */
			records = seg_records;
			v.damaged = seg_damaged;
			v.problems = seg_problems;
			have_prev = 0;
		} else {
			checked++;
			bytes += (uint64_t)sb.st_size;
		}
		if (o->pace_cb != NULL && (uint64_t)sb.st_size > v.paced &&
		    o->pace_cb(o->arg, (uint64_t)sb.st_size - v.paced) != 0)
			stopped = 1;
		v.fd = -1;
		sysio.close(fd);
	}
	if (res != NULL) {
		res->segments = checked;
		res->records = records;
		res->damaged = v.damaged;
		res->problems = (uint64_t)v.problems;
		res->first_lsn = first;
		res->last_lsn = last;
		res->bytes = bytes;
		res->encrypted = nenc;
		res->authenticated = nauth;
		res->stopped = stopped;
	}
	if (out == NULL)
		goto done;
	if (nenc > 0 && kr == NULL) {
		fprintf(out, "note: %s: %llu encrypted segments (key id%s", dir,
		    (unsigned long long)nenc, nids > 1 ? "s" : "");
		for (j = 0; j < nids; j++)
			fprintf(out, "%s %u", j > 0 ? "," : "", ids[j]);
		fprintf(out, "): headers, structure and CRCs checked; records "
		    "not authenticated (no key ring given: --keyring FILE)\n");
	} else if (nenc > 0)
		fprintf(out, "note: %s: %llu encrypted segments: %llu with "
		    "every record authenticated, %llu with records that fail "
		    "authentication, %llu not checked\n", dir,
		    (unsigned long long)nenc, (unsigned long long)nauth,
		    (unsigned long long)nfail,
		    (unsigned long long)(nenc - nauth - nfail));
	if (v.damaged > 0)
		fprintf(out, "%s: %llu damaged record%s\n", dir,
		    (unsigned long long)v.damaged, v.damaged == 1 ? "" : "s");
	if (records > 0)
		fprintf(out, "%s: %zu segments, %llu records, LSN %llu..%llu, "
		    "%s, %d problems\n", dir, n, (unsigned long long)records,
		    (unsigned long long)first, (unsigned long long)last, state,
		    v.problems);
	else
		fprintf(out, "%s: %zu segments, no records, %s, %d problems\n",
		    dir, n, state, v.problems);
done:
	keyring_auth_clear(&auth);
	keyring_ctx_free(ctx);
	free(hb);
	free(ents);
	sysio.close(dirfd);
	return (v.problems);
}

/* Checks a key ring against the segments of dir; see wal-reader.h. */
int
wal_verify_keyring(const char *dir, struct keyring *kr, char **cause)
{
	struct seg_ent		*ents = NULL;
	struct keyring_ctx	*ctx;
	struct seg_header	 h;
	const char		*why;
	char			*c2 = NULL;
	size_t			 n, i;
	int			 dirfd, fd, rc = 0;

	dirfd = sysio.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dirfd == -1)
		return (1);
	if (segment_list(dirfd, dir, &ents, &n, wal_verify_skip_cb,
	    wal_verify_skip_cb, NULL, &c2) != 0) {
		free(c2);
		sysio.close(dirfd);
		return (1);
	}
	if ((ctx = keyring_ctx_create(0)) == NULL) {
		cause_set(cause, "%s: %s", dir, strerror(ENOMEM));
		free(ents);
		sysio.close(dirfd);
		return (-1);
	}
	for (i = 0; i < n && rc == 0; i++) {
		fd = sysio.openat(dirfd, ents[i].name, O_RDONLY | O_CLOEXEC, 0);
		if (fd == -1) {
			rc = 1;
			break;
		}
		/* A header that does not decode is for walld's recovery to
		   report; only the keys are looked at here. */
		if (segment_read_header(fd, &h, &why) == 0 &&
		    keyring_ctx_segment(ctx, kr, &h, &c2) != 0) {
			cause_set(cause, "%s/%s: %s", dir, ents[i].name,
			    c2 != NULL ? c2 : "no key");
			free(c2);
			c2 = NULL;
			rc = -1;
		}
		sysio.close(fd);
	}
	keyring_ctx_free(ctx);
	free(ents);
	sysio.close(dirfd);
	return (rc);
}
