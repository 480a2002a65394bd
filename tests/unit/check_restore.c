/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_restore.c: Check suite for wal-restore.c: logs written by the
 * engine (several segments, plaintext and encrypted, a key rotation and
 * a restart among them) are read with a raw reader and rebuilt; sealed
 * segments must come back byte for byte, the last one's records too,
 * wal_verify must find nothing, and walld's engine must open the copy and
 * go on at the next LSN. Also: a copy that begins inside a segment, the
 * refusals, and what a failure or an unfinished restore leaves.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyring.h"
#include "segment.h"
#include "sysio.h"
#include "wal.h"
#include "wal-reader.h"
#include "wal-restore.h"

#define SEG1M	(1ull << 20)
#define RING1	"1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
#define RING12	RING1 \
		"2 202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\n"

/* A directory name under /tmp that does not exist yet; caller frees. */
static char *
restore_path(const char *what)
{
	char	tmpl[] = "/tmp/check_restore.XXXXXX", *p;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_int_ne(asprintf(&p, "%s/%s", tmpl, what), -1);
	return (p);
}

/* Removes the temporary directory holding path. */
static void
restore_cleanup(char *path)
{
	char	cmd[600];

	*strrchr(path, '/') = '\0';
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
	free(path);
}

/* A key ring from text. */
static struct keyring *
restore_ring(const char *text)
{
	struct keyring	*kr;
	char		*cause = NULL;

	kr = keyring_parse(text, strlen(text), "ring", &cause);
	if (kr == NULL)
		ck_abort_msg("key ring: %s", cause);
	return (kr);
}

/* Opens a log of 1 MiB segments (kr may be NULL). */
static struct wal *
restore_wal(const char *dir, struct keyring *kr)
{
	struct wal_options	 o;
	struct wal		*w;
	char			*cause = NULL;

	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.segment_size = SEG1M;
	o.keyring = kr;
	if ((w = wal_open(&o, &cause)) == NULL)
		ck_abort_msg("wal_open %s: %s", dir, cause);
	return (w);
}

/* Length of the record at lsn: empty, one byte, large ones, the rest
   between 50 and 2549 bytes. */
static uint32_t
restore_len(uint64_t lsn)
{
	if (lsn % 41 == 0)
		return (0);
	if (lsn % 41 == 1)
		return (1);
	if (lsn % 97 == 0)
		return (70000 + (uint32_t)lsn);
	return (50 + (uint32_t)(lsn * 13 % 2500));
}

/* Fills the payload of the record at lsn. */
static void
restore_fill(uint64_t lsn, unsigned char *p, uint32_t len)
{
	uint32_t	i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(lsn ^ (i * 131u) ^ (i >> 8));
}

/* Flushes the filling batch. */
static void
restore_sync(struct wal *w)
{
	char	*cause = NULL;

	if (wal_sync(w, NULL, &cause) != 0)
		ck_abort_msg("wal_sync: %s", cause);
}

/* Appends records up to LSN last, flushing every few (by LSN), so that
   batches hold several records. */
static void
restore_append(struct wal *w, uint64_t last)
{
	static unsigned char	 buf[80000];
	struct wal_stats	 st;
	uint64_t		 lsn, got;
	uint32_t		 len;
	enum wal_rc		 rc;
	char			*cause = NULL;

	wal_stats(w, &st);
	for (lsn = st.next_lsn; lsn <= last; lsn++) {
		len = restore_len(lsn);
		restore_fill(lsn, buf, len);
		for (;;) {
			rc = wal_append(w, (uint16_t)(lsn % 9), (uint32_t)(lsn %
			    4), (uint16_t)(lsn % 6), buf, len, &got);
			if (rc == WAL_OK)
				break;
			if (rc == WAL_EFULL)
				restore_sync(w);
			else if (rc != WAL_EWAIT)
				ck_abort_msg("wal_append: rc %d", rc);
			else if (wal_prepare_spare(w, &cause) != 0)
				ck_abort_msg("wal_prepare_spare: %s", cause);
		}
		ck_assert_uint_eq(got, lsn);
		if (lsn % 7 == 0)
			restore_sync(w);
	}
	restore_sync(w);
}

/*
 * Writes a log of records 1..1500 into dir: several 1 MiB segments, one
 * ended early by a rotation, one by a restart, and with rekey (a ring
 * whose active key is 2) the segments after LSN 900 under another key.
 */
static void
restore_make_log(const char *dir, struct keyring *kr, struct keyring *rekey)
{
	struct wal	*w;
	char		*cause = NULL;

	w = restore_wal(dir, kr);
	restore_append(w, 400);
	if (wal_rotate(w, &cause) != 0)
		ck_abort_msg("wal_rotate: %s", cause);
	restore_append(w, 700);
	wal_close(w);
	w = restore_wal(dir, kr);
	restore_append(w, 900);
	if (rekey != NULL && wal_set_keyring(w, rekey, &cause) != 0)
		ck_abort_msg("wal_set_keyring: %s", cause);
	restore_append(w, 1500);
	wal_close(w);
}

/* Restores src into dst from a raw reader positioned at from; returns
   wal_restore_add's first failure (cause kept in *cause), or 0. */
static int
restore_run(const char *src, const char *dst, uint64_t from, char **cause)
{
	struct wal_reader	*rd;
	struct wal_restore	*r;
	struct wal_record	 rec;
	int			 k, rc = 0;

	if ((rd = wal_reader_open_raw(src, from, NULL, cause)) == NULL)
		ck_abort_msg("reader: %s", *cause);
	if ((r = wal_restore_open(dst, cause)) == NULL)
		ck_abort_msg("wal_restore_open: %s", *cause);
	while ((k = wal_reader_next(rd, UINT64_MAX, &rec, cause)) == 1) {
		if ((rc = wal_restore_add(r, &rec, cause)) != 0)
			break;
	}
	ck_assert_int_ne(k, -1);
	wal_reader_close(rd);
	if (rc != 0) {
		ck_assert_int_eq(wal_restore_abort(r, NULL), 0);
		return (rc);
	}
	if (wal_restore_close(r, cause) != 0)
		ck_abort_msg("wal_restore_close: %s", *cause);
	return (0);
}

/* The whole file at dir/name; *len its size. */
static unsigned char *
restore_slurp(const char *dir, const char *name, size_t *len)
{
	unsigned char	*b;
	struct stat	 sb;
	char		 path[512];
	int		 fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	*len = (size_t)sb.st_size;
	ck_assert_ptr_nonnull(b = malloc(*len + 1));
	ck_assert_int_eq(pread(fd, b, *len, 0), (ssize_t)*len);
	close(fd);
	return (b);
}

/* The segments of dir, by first LSN. */
static struct seg_ent *
restore_segments(const char *dir, size_t *n)
{
	struct seg_ent	*ents;
	char		*cause = NULL;
	int		 fd;

	ck_assert_int_ne(fd = open(dir, O_RDONLY | O_DIRECTORY), -1);
	if (segment_list(fd, dir, &ents, n, NULL, NULL, NULL, &cause) != 0)
		ck_abort_msg("segment_list: %s", cause);
	close(fd);
	return (ents);
}

/* Where the records of dir/name end (a scan of its records). */
static uint64_t
restore_records_end(const char *dir, const char *name)
{
	struct seg_header	 h;
	struct seg_scan		 s;
	struct stat		 sb;
	const char		*why;
	char			 path[512], *cause = NULL;
	int			 fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	if (segment_read_header(fd, &h, &why) != 0)
		ck_abort_msg("%s: %s", path, why);
	memset(&s, 0, sizeof s);
	s.fd = fd;
	s.size = (uint64_t)sb.st_size;
	s.first_lsn = h.first_lsn;
	s.seed = h.seed;
	if (segment_scan(&s, &cause) != 0)
		ck_abort_msg("scan %s: %s", path, cause);
	close(fd);
	return (s.end);
}

/*
 * The segments of dst against those of src from the one dst begins with:
 * all but dst's last byte for byte; dst's last up to the end of its
 * records, then only zeros to a multiple of 4096 with room for a footer.
 * skip_first: dst's first segment begins inside src's (not compared).
 */
static void
restore_compare_files(const char *src, const char *dst, int skip_first)
{
	struct seg_ent	*se, *de;
	unsigned char	*a, *b;
	size_t		 ns, nd, i, j, la, lb, k;
	uint64_t	 end;

	se = restore_segments(src, &ns);
	de = restore_segments(dst, &nd);
	ck_assert_uint_gt(nd, 1);
	/* src's segment that holds dst's first record */
	for (j = 0; j + 1 < ns && se[j + 1].first <= de[0].first; j++)
		;
	ck_assert(skip_first ? se[j].first < de[0].first :
	    se[j].first == de[0].first);
	ck_assert_uint_ge(ns - j, nd);
	for (i = skip_first ? 1 : 0; i < nd; i++) {
		ck_assert_uint_eq(de[i].first, se[j + i].first);
		a = restore_slurp(src, se[j + i].name, &la);
		b = restore_slurp(dst, de[i].name, &lb);
		if (i + 1 < nd) {
			ck_assert_msg(la == lb && memcmp(a, b, la) == 0,
			    "sealed segment %s differs", de[i].name);
		} else {
			end = restore_records_end(dst, de[i].name);
			ck_assert_uint_eq(lb, (end + FOOTER_SIZE + IO_ALIGN -
			    1) / IO_ALIGN * IO_ALIGN);
			ck_assert_uint_le(end, la);
			ck_assert_msg(memcmp(a, b, end) == 0, "last segment "
			    "%s: its records differ", de[i].name);
			for (k = end; k < lb; k++)
				ck_assert_msg(b[k] == 0, "%s: offset %zu not "
				    "zero", de[i].name, k);
		}
		free(a);
		free(b);
	}
	free(se);
	free(de);
}

/* Reads src and dst from from with kr (raw when NULL): the same records,
   segment fields included (but the first LSN when first_differs). */
static uint64_t
restore_compare_records(const char *src, const char *dst, uint64_t from,
    struct keyring *kr, int first_differs)
{
	struct wal_reader	*ra, *rb;
	struct wal_record	 a, b;
	unsigned char		*copy = NULL;
	uint64_t		 n = 0;
	char			*cause = NULL;
	int			 ka, kb;

	ra = kr != NULL ? wal_reader_open_keys(src, from, NULL, kr, &cause) :
	    wal_reader_open_raw(src, from, NULL, &cause);
	ck_assert_msg(ra != NULL, "reader %s: %s", src, cause);
	rb = kr != NULL ? wal_reader_open_keys(dst, 0, NULL, kr, &cause) :
	    wal_reader_open_raw(dst, 0, NULL, &cause);
	ck_assert_msg(rb != NULL, "reader %s: %s", dst, cause);
	for (;;) {
		ka = wal_reader_next(ra, UINT64_MAX, &a, &cause);
		ck_assert_msg(ka != -1, "read %s: %s", src, cause);
		if (ka == 1) {
			/* The payload is valid until the next call. */
			ck_assert_ptr_nonnull(copy = malloc(a.len + 1));
			memcpy(copy, a.payload, a.len);
			a.payload = copy;
		}
		kb = wal_reader_next(rb, UINT64_MAX, &b, &cause);
		ck_assert_msg(kb != -1, "read %s: %s", dst, cause);
		ck_assert_int_eq(ka, kb);
		if (ka == 0)
			break;
		ck_assert_uint_eq(a.lsn, b.lsn);
		ck_assert_uint_eq(a.batch_lsn, b.batch_lsn);
		ck_assert_uint_eq(a.type, b.type);
		ck_assert_uint_eq(a.tenant, b.tenant);
		ck_assert_uint_eq(a.vshard, b.vshard);
		ck_assert_uint_eq(a.len, b.len);
		ck_assert_msg(memcmp(a.payload, b.payload, a.len) == 0,
		    "LSN %llu: payload differs", (unsigned long long)a.lsn);
		ck_assert_uint_eq(a.seg->key_id, b.seg->key_id);
		ck_assert_uint_eq(a.seg->ctime_ns, b.seg->ctime_ns);
		ck_assert_mem_eq(a.seg->id, b.seg->id, sizeof a.seg->id);
		ck_assert_mem_eq(a.seg->salt, b.seg->salt, sizeof a.seg->salt);
		ck_assert_mem_eq(a.seg->check, b.seg->check,
		    sizeof a.seg->check);
		if (first_differs && a.seg->first_lsn < from)
			ck_assert_uint_eq(b.seg->first_lsn, from);
		else
			ck_assert_uint_eq(a.seg->first_lsn, b.seg->first_lsn);
		free(copy);
		n++;
	}
	wal_reader_close(ra);
	wal_reader_close(rb);
	return (n);
}

/* wal_verify_keys finds no problem in dir. */
static void
restore_verify(const char *dir, struct keyring *kr)
{
	char	*text = NULL;
	size_t	 len = 0;
	FILE	*f;
	int	 n;

	ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
	n = wal_verify_keys(dir, kr, f);
	fclose(f);
	ck_assert_msg(n == 0, "verify %s: %d problems:\n%s", dir, n, text);
	ck_assert_msg(strstr(text, "active") != NULL, "verify: %s", text);
	free(text);
}

/* The engine opens dst, goes on at last + 1, and the records it appends
   are read back after the restored ones. */
static void
restore_continue(const char *dst, struct keyring *kr, uint64_t first,
    uint64_t last)
{
	struct wal_reader	*rd;
	struct wal_record	 rec;
	struct wal_stats	 st;
	struct wal		*w;
	unsigned char		 buf[80000];
	uint64_t		 next = first;
	char			*cause = NULL;
	int			 k;

	w = restore_wal(dst, kr);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.next_lsn, last + 1);
	ck_assert_uint_eq(st.first_lsn, first);
	restore_append(w, last + 60);
	wal_close(w);
	rd = wal_reader_open_keys(dst, 0, NULL, kr, &cause);
	ck_assert_msg(rd != NULL, "reader: %s", cause);
	while ((k = wal_reader_next(rd, UINT64_MAX, &rec, &cause)) == 1) {
		ck_assert_uint_eq(rec.lsn, next);
		ck_assert_uint_eq(rec.len, restore_len(rec.lsn));
		restore_fill(rec.lsn, buf, rec.len);
		ck_assert_msg(memcmp(buf, rec.payload, rec.len) == 0,
		    "LSN %llu: payload", (unsigned long long)rec.lsn);
		next++;
	}
	ck_assert_msg(k == 0, "read: %s", cause);
	ck_assert_uint_eq(next, last + 61);
	wal_reader_close(rd);
	restore_verify(dst, kr);
}

/*
 * Restores the log of restore_make_log in src from LSN from (0: all)
 * into dst, and checks the copy: its files, its records (as stored, and
 * decrypted with kr), verify, and the engine going on after it. inside:
 * from is inside a segment.
 */
static void
restore_check(const char *src, const char *dst, struct keyring *kr,
    uint64_t from, int inside)
{
	uint64_t	 first = from != 0 ? from : 1;
	char		*cause = NULL;

	ck_assert_int_eq(restore_run(src, dst, from, &cause), 0);
	restore_compare_files(src, dst, inside);
	ck_assert_uint_eq(restore_compare_records(src, dst, from, NULL,
	    inside), 1500 - first + 1);
	if (kr != NULL)
		ck_assert_uint_eq(restore_compare_records(src, dst, from, kr,
		    inside), 1500 - first + 1);
	restore_verify(dst, kr);
	restore_continue(dst, kr, first, 1500);
}

/* A whole log, plaintext or encrypted, restored and checked. */
static void
restore_whole(struct keyring *kr, struct keyring *rekey)
{
	char	*src = restore_path("src"), *dst = restore_path("dst");

	restore_make_log(src, kr, rekey);
	restore_check(src, dst, rekey != NULL ? rekey : kr, 0, 0);
	restore_cleanup(src);
	restore_cleanup(dst);
}

START_TEST(test_plain)
{
	restore_whole(NULL, NULL);
}
END_TEST

START_TEST(test_encrypted)
{
	struct keyring	*k1 = restore_ring(RING1), *k12 = restore_ring(RING12);

	restore_whole(k1, k12);
	keyring_free(k1);
	keyring_free(k12);
}
END_TEST

/* The first LSN of the second segment of dir, and one inside it. */
static void
restore_second(const char *dir, uint64_t *start, uint64_t *inside)
{
	struct seg_ent	*e;
	size_t		 n;

	e = restore_segments(dir, &n);
	ck_assert_uint_gt(n, 3);
	*start = e[1].first;
	*inside = e[1].first + (e[2].first - e[1].first) / 2;
	free(e);
}

START_TEST(test_from_segment_start)
{
	struct keyring	*kr = restore_ring(RING1);
	char		*src = restore_path("src"), *dst = restore_path("dst");
	uint64_t	 start, inside;

	restore_make_log(src, kr, NULL);
	restore_second(src, &start, &inside);
	restore_check(src, dst, kr, start, 0);
	keyring_free(kr);
	restore_cleanup(src);
	restore_cleanup(dst);
}
END_TEST

START_TEST(test_inside_segment)
{
	struct keyring	*kr = restore_ring(RING1);
	char		*src = restore_path("src"), *dst = restore_path("dst");
	char		*enc = restore_path("enc"), *cause = NULL;
	uint64_t	 start, inside;
	struct stat	 sb;

	/* Plaintext: the first segment begins at the first record. */
	restore_make_log(src, NULL, NULL);
	restore_second(src, &start, &inside);
	restore_check(src, dst, NULL, inside, 1);
	restore_cleanup(src);

	/* Encrypted: refused, and nothing left. */
	src = restore_path("src");
	restore_make_log(src, kr, NULL);
	restore_second(src, &start, &inside);
	ck_assert_int_eq(restore_run(src, enc, inside, &cause),
	    WAL_RESTORE_REFUSED);
	ck_assert_msg(strstr(cause, "inside an encrypted segment") != NULL,
	    "cause: %s", cause);
	free(cause);
	ck_assert_int_eq(stat(enc, &sb), -1);
	keyring_free(kr);
	restore_cleanup(src);
	restore_cleanup(dst);
	restore_cleanup(enc);
}
END_TEST

/* A record of a one-segment plaintext log, by LSN. */
static void
restore_rec(struct wal_record *rec, struct wal_segmeta *m, uint64_t lsn,
    uint64_t first)
{
	static const unsigned char	payload[] = "restore";

	memset(m, 0, sizeof *m);
	m->first_lsn = first;
	m->ctime_ns = 1234;
	m->id[0] = 7;
	memset(rec, 0, sizeof *rec);
	rec->lsn = lsn;
	rec->batch_lsn = lsn;
	rec->payload = payload;
	rec->len = sizeof payload - 1;
	rec->seg = m;
}

START_TEST(test_refusals)
{
	struct wal_restore	*r;
	struct wal_record	 rec;
	struct wal_segmeta	 m;
	struct stat		 sb;
	char			*dst = restore_path("dst"), *cause = NULL;
	char			 path[600];
	int			 fd;

	/* A directory that holds anything is refused, and kept. */
	ck_assert_int_eq(mkdir(dst, 0750), 0);
	snprintf(path, sizeof path, "%s/other", dst);
	ck_assert_int_ne(fd = open(path, O_WRONLY | O_CREAT, 0600), -1);
	close(fd);
	ck_assert_ptr_null(wal_restore_open(dst, &cause));
	ck_assert_msg(strstr(cause, "not empty") != NULL, "%s", cause);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(unlink(path), 0);

	/* An empty one is taken (and kept by an abort); a gap, a batch
	   LSN above the LSN, a new segment that does not begin with its
	   record are refused. */
	ck_assert_ptr_nonnull(r = wal_restore_open(dst, &cause));
	restore_rec(&rec, &m, 5, 5);
	ck_assert_int_eq(wal_restore_add(r, &rec, &cause), 0);
	restore_rec(&rec, &m, 7, 5);
	ck_assert_int_eq(wal_restore_add(r, &rec, &cause),
	    WAL_RESTORE_REFUSED);
	ck_assert_msg(strstr(cause, "LSN 7 where 6 was expected") != NULL,
	    "%s", cause);
	free(cause);
	restore_rec(&rec, &m, 6, 5);
	rec.batch_lsn = 7;
	ck_assert_int_eq(wal_restore_add(r, &rec, &cause),
	    WAL_RESTORE_REFUSED);
	free(cause);
	restore_rec(&rec, &m, 6, 5);
	m.id[0] = 8;
	ck_assert_int_eq(wal_restore_add(r, &rec, &cause),
	    WAL_RESTORE_REFUSED);
	ck_assert_msg(strstr(cause, "segment headers disagree") != NULL, "%s",
	    cause);
	free(cause);
	restore_rec(&rec, &m, 6, 6);
	ck_assert_int_eq(wal_restore_add(r, &rec, &cause),
	    WAL_RESTORE_REFUSED);
	ck_assert_msg(strstr(cause, "id of the segment before it") != NULL,
	    "%s", cause);
	free(cause);
	restore_rec(&rec, &m, 6, 5);
	m.ctime_ns++;
	ck_assert_int_eq(wal_restore_add(r, &rec, &cause),
	    WAL_RESTORE_REFUSED);
	free(cause);
	restore_rec(&rec, &m, 6, 5);
	ck_assert_int_eq(wal_restore_add(r, &rec, &cause), 0);

	/* Unfinished: the reader refuses it (its first segment has no
	   header yet; here, no bytes at all). */
	ck_assert_ptr_null(wal_reader_open_raw(dst, 0, NULL, &cause));
	ck_assert_msg(strstr(cause, "00000000000000000005.wal") != NULL, "%s",
	    cause);
	free(cause);
	ck_assert_int_eq(wal_restore_abort(r, &cause), 0);
	ck_assert_int_eq(stat(dst, &sb), 0);
	ck_assert_int_eq(rmdir(dst), 0);
	restore_cleanup(dst);
}
END_TEST

/* wal_open refuses dir for its first segment's header (and the LOCK
   file it made is removed again). */
static void
restore_refused(const char *dir)
{
	struct wal_options	 o;
	char			 path[600], *cause = NULL;

	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.segment_size = SEG1M;
	ck_assert_ptr_null(wal_open(&o, &cause));
	ck_assert_msg(strstr(cause, "00000000000000000001.wal: offset 0: "
	    "LSN 1: bad segment header magic") != NULL, "%s", cause);
	free(cause);
	snprintf(path, sizeof path, "%s/%s", dir, LOCK_NAME);
	ck_assert_int_eq(unlink(path), 0);
}

/* fdatasync that fails. */
static int
restore_bad_fdatasync(int fd)
{
	(void)fd;
	errno = EIO;
	return (-1);
}

START_TEST(test_failures)
{
	char		*src = restore_path("src"), *dst = restore_path("dst");
	char		*cause = NULL;
	struct wal_restore *r;
	struct wal_reader *rd;
	struct wal_record rec;
	struct stat	 sb;
	int		 k;

	restore_make_log(src, NULL, NULL);

	/* Sealing a segment fails: the restore is over, its files go. */
	ck_assert_ptr_nonnull(rd = wal_reader_open_raw(src, 0, NULL, &cause));
	ck_assert_ptr_nonnull(r = wal_restore_open(dst, &cause));
	sysio.fdatasync = restore_bad_fdatasync;
	while ((k = wal_reader_next(rd, UINT64_MAX, &rec, &cause)) == 1 &&
	    (k = wal_restore_add(r, &rec, &cause)) == 0)
		;
	ck_assert_int_eq(k, -1);
	ck_assert_msg(strstr(cause, "fdatasync") != NULL, "%s", cause);
	free(cause);
	ck_assert_int_eq(wal_restore_add(r, &rec, &cause), -1);
	free(cause);
	ck_assert_int_eq(wal_restore_close(r, &cause), -1);
	free(cause);
	ck_assert_int_eq(wal_restore_abort(r, &cause), 0);
	ck_assert_int_eq(stat(dst, &sb), -1);
	wal_reader_close(rd);

	/* Writing the first header at the end fails: the same. */
	sysio.fdatasync = sysio_real.fdatasync;
	ck_assert_ptr_nonnull(rd = wal_reader_open_raw(src, 0, NULL, &cause));
	ck_assert_ptr_nonnull(r = wal_restore_open(dst, &cause));
	while ((k = wal_reader_next(rd, UINT64_MAX, &rec, &cause)) == 1)
		ck_assert_int_eq(wal_restore_add(r, &rec, &cause), 0);
	wal_reader_close(rd);
	/* Not finished: the first segment has everything but its header,
	   so walld's engine refuses the directory. */
	restore_refused(dst);
	sysio.fdatasync = restore_bad_fdatasync;
	ck_assert_int_eq(wal_restore_close(r, &cause), -1);
	ck_assert_msg(strstr(cause, "fdatasync") != NULL, "%s", cause);
	free(cause);
	sysio.fdatasync = sysio_real.fdatasync;
	ck_assert_int_eq(wal_restore_abort(r, &cause), 0);
	ck_assert_int_eq(stat(dst, &sb), -1);
	restore_cleanup(src);
	restore_cleanup(dst);
}
END_TEST

static Suite *
restore_suite(void)
{
	Suite	*s = suite_create("restore");
	TCase	*tc = tcase_create("restore");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_encrypted);
	tcase_add_test(tc, test_from_segment_start);
	tcase_add_test(tc, test_inside_segment);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_failures);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(restore_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
