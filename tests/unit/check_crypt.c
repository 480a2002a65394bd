/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_crypt.c: Check suite for encryption at rest in the engine (wal.c,
 * wal-reader.c, wal-verify.c with keyring.c): round trip, restart,
 * rotation, an empty segment taking a new key, no (key, nonce) pair used
 * twice after a torn tail or a restored backup, tampering and moved
 * records detected, wrong and missing keys refused; batches sealed in
 * parts by a stamper thread ahead of the flusher, a batch written in two
 * parts while the stamper finishes it, and encryption failing.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "crc32c.h"
#include "keyring.h"
#include "segment.h"
#include "sysio.h"
#include "wal.h"
#include "wal-reader.h"

#define SEG1M	(1ull << 20)
#define K1	"1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
#define K2	"2 2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40\n"
#define K1X	"1 ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"

static char	crypt_logbuf[16384];

/* Keeps the engine's log lines. */
static void
crypt_log_cb(int level, const char *msg)
{
	size_t	have = strlen(crypt_logbuf);

	(void)level;
	snprintf(crypt_logbuf + have, sizeof crypt_logbuf - have, "%s\n", msg);
}

/* A key ring from text, or the test fails. */
static struct keyring *
crypt_ring(const char *text)
{
	struct keyring	*kr;
	char		*cause = NULL;

	if ((kr = keyring_parse(text, strlen(text), "ring", &cause)) == NULL)
		ck_abort_msg("key ring: %s", cause);
	return (kr);
}

/* A fresh directory under /tmp; the caller frees the path. */
static char *
crypt_tmpdir(void)
{
	char	tmpl[] = "/tmp/check_crypt.XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	return (strdup(tmpl));
}

/* Runs a shell command, which must succeed. */
static void __attribute__((format(printf, 1, 2)))
crypt_sh(const char *fmt, ...)
{
	char	cmd[2048];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(system(cmd), 0);
}

/* The options of the tests' logs: 1 MiB segments, a key ring (may be
   NULL), the engine's log kept. */
static void
crypt_options(struct wal_options *o, const char *dir, struct keyring *kr)
{
	memset(o, 0, sizeof *o);
	o->dir = dir;
	o->segment_size = SEG1M;
	o->keyring = kr;
	o->log = crypt_log_cb;
}

/* wal_open with a key ring (may be NULL); *cause on failure. */
static struct wal *
crypt_try_open(const char *dir, struct keyring *kr, char **cause)
{
	struct wal_options	o;

	crypt_options(&o, dir, kr);
	return (wal_open(&o, cause));
}

/* wal_open that must succeed. */
static struct wal *
crypt_open(const char *dir, struct keyring *kr)
{
	struct wal	*w;
	char		*cause = NULL;

	if ((w = crypt_try_open(dir, kr, &cause)) == NULL)
		ck_abort_msg("wal_open %s: %s", dir, cause);
	return (w);
}

/* wal_open that must fail, with a cause holding want. */
static void
crypt_open_fails(const char *dir, struct keyring *kr, const char *want)
{
	char	*cause = NULL;

	ck_assert_ptr_null(crypt_try_open(dir, kr, &cause));
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, want) != NULL, "cause: %s (want %s)",
	    cause, want);
	free(cause);
}

/* Payload length of an LSN: 0 and 1 bytes included. */
static uint32_t
crypt_len(uint64_t lsn)
{
	return (lsn % 50 == 0 ? 0 : lsn % 50 == 1 ? 1 :
	    100 + (uint32_t)(lsn * 37 % 3000));
}

/* Deterministic payload of a record; salt tells runs apart. */
static void
crypt_payload(uint64_t lsn, unsigned salt, unsigned char *buf, uint32_t len)
{
	uint32_t	i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(lsn * 31 + i * 7 + salt);
}

static uint64_t
crypt_sync(struct wal *w)
{
	uint64_t	 d = 0;
	char		*cause = NULL;

	if (wal_sync(w, &d, &cause) != 0)
		ck_abort_msg("wal_sync: %s", cause);
	return (d);
}

/* Appends the record of the next LSN, flushing or preparing as asked. */
static uint64_t
crypt_append(struct wal *w, unsigned salt)
{
	static unsigned char	 buf[4096];
	struct wal_stats	 st;
	uint64_t		 lsn;
	uint32_t		 len;
	enum wal_rc		 rc;
	char			*cause = NULL;
	int			 tries;

	wal_stats(w, &st);
	len = crypt_len(st.next_lsn);
	crypt_payload(st.next_lsn, salt, buf, len);
	for (tries = 0; tries < 10; tries++) {
		rc = wal_append(w, (uint16_t)(st.next_lsn % 7),
		    (uint32_t)(st.next_lsn % 3), (uint16_t)(st.next_lsn % 5),
		    buf, len, &lsn);
		if (rc == WAL_OK) {
			ck_assert_uint_eq(lsn, st.next_lsn);
			return (lsn);
		}
		if (rc == WAL_EFULL)
			crypt_sync(w);
		else if (rc == WAL_EWAIT) {
			if (wal_prepare_spare(w, &cause) != 0)
				ck_abort_msg("prepare: %s", cause);
		} else
			ck_abort_msg("wal_append: rc %d", rc);
	}
	ck_abort_msg("wal_append: no progress");
	return (0);
}

/* Appends records until LSN lsn. */
static void
crypt_append_upto(struct wal *w, uint64_t lsn)
{
	while (crypt_append(w, 0) < lsn)
		;
}

/* Appends n records, syncing every `every` and at the end. */
static void
crypt_write(struct wal *w, int n, int every, unsigned salt)
{
	int	i;

	for (i = 0; i < n; i++) {
		crypt_append(w, salt);
		if (every > 0 && (i + 1) % every == 0)
			crypt_sync(w);
	}
	crypt_sync(w);
}

/*
 * Reads the log from its start with kr and checks every record against
 * what crypt_write wrote (salt for LSNs >= salt_from, else 0); returns
 * how many. Fails the test on any error.
 */
static uint64_t
crypt_readall(const char *dir, struct keyring *kr, uint64_t first,
    uint64_t salt_from, unsigned salt)
{
	struct wal_reader	*r;
	struct wal_record	 rec;
	unsigned char		 buf[4096];
	uint64_t		 n = 0, next = first;
	char			*cause = NULL;
	int			 k;

	if ((r = wal_reader_open_keys(dir, 0, NULL, kr, &cause)) == NULL)
		ck_abort_msg("reader: %s", cause);
	while ((k = wal_reader_next(r, UINT64_MAX, &rec, &cause)) == 1) {
		ck_assert_uint_eq(rec.lsn, next);
		ck_assert_uint_eq(rec.len, crypt_len(rec.lsn));
		crypt_payload(rec.lsn, rec.lsn >= salt_from ? salt : 0, buf,
		    rec.len);
		ck_assert_msg(memcmp(buf, rec.payload, rec.len) == 0,
		    "LSN %llu: payload differs", (unsigned long long)rec.lsn);
		ck_assert_uint_eq(rec.type, rec.lsn % 7);
		ck_assert_uint_eq(rec.tenant, rec.lsn % 3);
		ck_assert_uint_eq(rec.vshard, rec.lsn % 5);
		next++;
		n++;
	}
	if (k != 0)
		ck_abort_msg("reader: %s", cause);
	wal_reader_close(r);
	return (n);
}

/* Reads from the start and returns the first error (the test frees it). */
static char *
crypt_read_error(const char *dir, struct keyring *kr)
{
	struct wal_reader	*r;
	struct wal_record	 rec;
	char			*cause = NULL;
	int			 k;

	if ((r = wal_reader_open_keys(dir, 0, NULL, kr, &cause)) == NULL)
		return (cause);
	while ((k = wal_reader_next(r, UINT64_MAX, &rec, &cause)) == 1)
		;
	wal_reader_close(r);
	ck_assert_int_eq(k, -1);
	return (cause);
}

/* Runs wal_verify_keys into a buffer; returns the problem count. */
static int
crypt_verify(const char *dir, struct keyring *kr, char *out, size_t len)
{
	FILE	*f;
	size_t	 n;
	int	 problems;

	ck_assert_ptr_nonnull(f = tmpfile());
	problems = wal_verify_keys(dir, kr, f);
	rewind(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
	return (problems);
}

/* Path of the segment beginning at first. */
static void
crypt_segpath(char *buf, size_t len, const char *dir, uint64_t first)
{
	char	name[SEG_NAME_SIZE];

	segment_name(name, first);
	snprintf(buf, len, "%s/%s", dir, name);
}

/* Reads a whole file. */
static unsigned char *
crypt_slurp(const char *path, size_t *len)
{
	struct stat	 sb;
	unsigned char	*b;
	int		 fd;

	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	ck_assert_ptr_nonnull(b = malloc((size_t)sb.st_size + 1));
	ck_assert_int_eq(pread(fd, b, (size_t)sb.st_size, 0), sb.st_size);
	close(fd);
	*len = (size_t)sb.st_size;
	return (b);
}

/* Writes a whole file back (same size). */
static void
crypt_spit(const char *path, const unsigned char *b, size_t len)
{
	int	fd;

	ck_assert_int_ne(fd = open(path, O_WRONLY), -1);
	ck_assert_int_eq(pwrite(fd, b, len, 0), (ssize_t)len);
	close(fd);
}

/* The header of a segment file. */
static struct seg_header
crypt_header(const char *dir, uint64_t first)
{
	struct seg_header	 h;
	unsigned char		*b;
	const char		*why;
	char			 path[512];
	size_t			 len;

	crypt_segpath(path, sizeof path, dir, first);
	b = crypt_slurp(path, &len);
	ck_assert_msg(segment_decode_header(b, &h, &why) == 0, "%s", why);
	free(b);
	return (h);
}

/* Offset of the record with LSN lsn in a segment image, walking headers. */
static uint64_t
crypt_find(const unsigned char *b, size_t len, uint64_t lsn)
{
	struct rec_header	 h;
	const char		*why;
	uint64_t		 off = SEG_HDR_SIZE;

	while (off + REC_HDR_SIZE <= len) {
		ck_assert_msg(segment_decode_rec(b + off, &h, &why) == 0,
		    "offset %llu: %s", (unsigned long long)off, why);
		if (h.lsn == lsn && !(h.flags & REC_F_FOOTER))
			return (off);
		off += seg_rec_size(h.len);
	}
	ck_abort_msg("LSN %llu not found", (unsigned long long)lsn);
	return (0);
}

/*
 * Sets the CRCs right after a change to the record at off: its own, and
 * the footer's CRC of the records when the segment is sealed, so that
 * only authentication can tell.
 */
static void
crypt_fix_crcs(unsigned char *b, size_t len, uint64_t off)
{
	struct seg_header	 sh;
	struct rec_header	 h;
	struct seg_footer	 f;
	const char		*why;

	ck_assert_int_eq(segment_decode_header(b, &sh, &why), 0);
	ck_assert_int_eq(segment_decode_rec(b + off, &h, &why), 0);
	seg_put32(b + off + 20, segment_rec_crc(sh.seed, b + off, b + off +
	    REC_HDR_SIZE, h.len));
	if (len >= SEG_HDR_SIZE + FOOTER_SIZE && segment_decode_footer(b +
	    len - FOOTER_SIZE, sh.seed, &f, &why) == 0 &&
	    f.offset == len - FOOTER_SIZE) {
		f.data_crc = crc32c(0, b + SEG_HDR_SIZE, f.offset -
		    SEG_HDR_SIZE);
		segment_encode_footer(b + len - FOOTER_SIZE, &f, sh.seed);
	}
}

/* One use of a (data key, nonce) pair, as found on disk. */
struct crypt_use {
	unsigned char	key[16 + 32 + 8 + 4];	/* id, salt, first, key id */
	uint64_t	nonce;			/* the LSN; 0: the key check */
	uint32_t	what;			/* CRC of the record bytes */
};

struct crypt_uses {
	struct crypt_use	*v;
	size_t			 n, cap;
	unsigned char		 key[16 + 32 + 8 + 4];	/* of the segment */
};

static void
crypt_use_add(struct crypt_uses *u, uint64_t nonce, uint32_t what)
{
	if (u->n == u->cap) {
		u->cap = u->cap ? 2 * u->cap : 1024;
		u->v = realloc(u->v, u->cap * sizeof *u->v);
		ck_assert_ptr_nonnull(u->v);
	}
	memcpy(u->v[u->n].key, u->key, sizeof u->key);
	u->v[u->n].nonce = nonce;
	u->v[u->n].what = what;
	u->n++;
}

/* Scan callback: one record's nonce under the segment's data key. */
static void
crypt_use_cb(void *arg, const struct rec_header *h, const unsigned char *p,
    uint64_t off)
{
	(void)off;
	(void)p;
	crypt_use_add(arg, h->lsn, h->crc);
}

/*
 * The test helper of the nonce argument: walks every segment of dir and
 * collects (data key, nonce) for each encrypted record and key check. A
 * data key is named by what derives it: segment id, salt, first LSN and
 * master key id.
 */
static void
crypt_collect(const char *dir, struct crypt_uses *u)
{
	struct seg_ent		*ents;
	struct seg_header	 h;
	struct seg_scan		 s;
	struct stat		 sb;
	unsigned char		 hb[SEG_HDR_SIZE];
	const char		*why;
	char			*cause = NULL;
	size_t			 n, i;
	int			 dfd, fd;

	ck_assert_int_ne(dfd = open(dir, O_RDONLY | O_DIRECTORY), -1);
	ck_assert_int_eq(segment_list(dfd, dir, &ents, &n, NULL, NULL, NULL,
	    &cause), 0);
	for (i = 0; i < n; i++) {
		ck_assert_int_ne(fd = openat(dfd, ents[i].name, O_RDONLY), -1);
		ck_assert_int_eq(fstat(fd, &sb), 0);
		ck_assert_int_eq(pread(fd, hb, sizeof hb, 0), sizeof hb);
		ck_assert_int_eq(segment_decode_header(hb, &h, &why), 0);
		ck_assert_msg(h.flags & SEG_F_ENCRYPTED, "%s: not encrypted",
		    ents[i].name);
		memcpy(u->key, h.id, 16);
		memcpy(u->key + 16, h.salt, 32);
		seg_put64(u->key + 48, h.first_lsn);
		seg_put32(u->key + 56, h.key_id);
		crypt_use_add(u, 0, 0);		/* the key check */
		memset(&s, 0, sizeof s);
		s.fd = fd;
		s.size = (uint64_t)sb.st_size;
		s.first_lsn = h.first_lsn;
		s.seed = h.seed;
		s.rec_cb = crypt_use_cb;
		s.rec_arg = u;
		ck_assert_int_eq(segment_scan(&s, &cause), 0);
		close(fd);
	}
	free(ents);
	close(dfd);
}

static int
crypt_use_cmp(const void *a, const void *b)
{
	const struct crypt_use	*x = a, *y = b;
	int			 c;

	if ((c = memcmp(x->key, y->key, sizeof x->key)) != 0)
		return (c);
	if (x->nonce != y->nonce)
		return (x->nonce < y->nonce ? -1 : 1);
	return (x->what < y->what ? -1 : x->what > y->what);
}

/*
 * Counts the (data key, nonce) pairs used for two different records (the
 * same pair twice with the same bytes is one record seen in two walks),
 * and the distinct data keys.
 */
static size_t
crypt_reused(struct crypt_uses *u, size_t *keys)
{
	size_t	i, bad = 0;

	*keys = u->n > 0;
	qsort(u->v, u->n, sizeof *u->v, crypt_use_cmp);
	for (i = 1; i < u->n; i++) {
		if (memcmp(u->v[i].key, u->v[i - 1].key, sizeof u->v[i].key)) {
			(*keys)++;
			continue;
		}
		if (u->v[i].nonce == u->v[i - 1].nonce &&
		    u->v[i].what != u->v[i - 1].what) {
			fprintf(stderr, "nonce %llu used twice under one data "
			    "key\n", (unsigned long long)u->v[i].nonce);
			bad++;
		}
	}
	return (bad);
}

/* Asserts no pair is reused; returns the number of data keys. */
static size_t
crypt_assert_unique(struct crypt_uses *u)
{
	size_t	keys;

	ck_assert_uint_eq(crypt_reused(u, &keys), 0);
	return (keys);
}

/* How many distinct data keys encrypted a record with this LSN. */
static size_t
crypt_keys_for(const struct crypt_uses *u, uint64_t lsn)
{
	size_t	i, n = 0;

	for (i = 0; i < u->n; i++) {
		if (u->v[i].nonce == lsn && (i == 0 ||
		    memcmp(u->v[i].key, u->v[i - 1].key, sizeof u->v[i].key) ||
		    u->v[i - 1].nonce != lsn))
			n++;
	}
	return (n);
}

START_TEST(test_roundtrip)
{
	struct keyring		*kr = crypt_ring(K1);
	struct wal		*w;
	struct wal_stats	 st;
	struct seg_header	 h;
	unsigned char		*b, pat[64];
	char			*dir = crypt_tmpdir(), path[512], out[4096];
	size_t			 len, i;
	uint32_t		 ids[4];
	char			*cause = NULL;

	w = crypt_open(dir, kr);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.active_key_id, 1);
	crypt_write(w, 120, 7, 0);
	ck_assert_int_eq(wal_rotate(w, &cause), 0);
	crypt_write(w, 80, 0, 0);
	ck_assert_uint_eq(wal_keys_needed(w, ids, 4), 1);
	ck_assert_uint_eq(ids[0], 1);
	wal_close(w);

	/* On disk: the flag, key id, salt and key check; no plaintext. */
	h = crypt_header(dir, 1);
	ck_assert_uint_eq(h.flags & SEG_F_ENCRYPTED, SEG_F_ENCRYPTED);
	ck_assert_uint_eq(h.key_id, 1);
	crypt_segpath(path, sizeof path, dir, 1);
	b = crypt_slurp(path, &len);
	crypt_payload(77, 0, pat, sizeof pat);
	for (i = SEG_HDR_SIZE; i + sizeof pat <= len; i++)
		ck_assert_msg(memcmp(b + i, pat, sizeof pat) != 0,
		    "plaintext at offset %zu", i);
	/* Stored length = the time extension + payload + tag. */
	ck_assert_uint_eq(seg_get32(b + crypt_find(b, len, 5) + 16),
	    8 + crypt_len(5) + KEYRING_TAG_LEN);
	free(b);

	ck_assert_uint_eq(crypt_readall(dir, kr, 1, 0, 0), 200);
	ck_assert_int_eq(crypt_verify(dir, kr, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "every record authenticated") != NULL, "%s",
	    out);
	/* Without keys: the structure and CRCs still check. */
	ck_assert_int_eq(crypt_verify(dir, NULL, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "records not authenticated") != NULL, "%s",
	    out);

	/* Restart with the key ring: recovery authenticates, appends go on. */
	w = crypt_open(dir, kr);
	crypt_write(w, 50, 10, 0);
	wal_close(w);
	ck_assert_uint_eq(crypt_readall(dir, kr, 1, 0, 0), 250);
	ck_assert_int_eq(crypt_verify(dir, kr, out, sizeof out), 0);
	crypt_sh("rm -rf '%s'", dir);
	keyring_free(kr);
	free(dir);
}
END_TEST

/*
 * FORMAT.md section 12 from the text alone, with OpenSSL's other entry
 * points (the EVP_PKEY HKDF, one-shot GCM, the tag by ctrl): the data
 * key, the key check, and each record's nonce, associated data and tag.
 * keyring.c must agree with it, or logs already written stop opening.
 */
static void
spec_data_key(const unsigned char *master, const struct seg_header *h,
    unsigned char *dk)
{
	EVP_PKEY_CTX	*pc;
	unsigned char	 info[13 + 16 + 8];
	size_t		 dlen = 32;

	memcpy(info, "walld segment", 13);
	memcpy(info + 13, h->id, 16);
	seg_put64(info + 29, h->first_lsn);
	ck_assert_ptr_nonnull(pc = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL));
	ck_assert_int_eq(EVP_PKEY_derive_init(pc), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_hkdf_md(pc, EVP_sha256()), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set1_hkdf_salt(pc, h->salt, 32), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set1_hkdf_key(pc, master, 32), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_add1_hkdf_info(pc, info, sizeof info),
	    1);
	ck_assert_int_eq(EVP_PKEY_derive(pc, dk, &dlen), 1);
	ck_assert_uint_eq(dlen, 32);
	EVP_PKEY_CTX_free(pc);
}

/* GCM-decrypts ct (len bytes) with tag; 1 when it authenticates. */
static int
spec_open(const unsigned char *dk, uint64_t lsn, const unsigned char *aad,
    size_t alen, const unsigned char *ct, int len, const unsigned char *tag,
    unsigned char *pt)
{
	EVP_CIPHER_CTX	*e;
	unsigned char	 nonce[12] = { 0 }, t[16];
	int		 n, ok;

	seg_put64(nonce, lsn);
	memcpy(t, tag, sizeof t);
	ck_assert_ptr_nonnull(e = EVP_CIPHER_CTX_new());
	ok = EVP_DecryptInit_ex(e, EVP_aes_256_gcm(), NULL, dk, nonce) == 1 &&
	    EVP_DecryptUpdate(e, NULL, &n, aad, (int)alen) == 1 &&
	    (len == 0 || EVP_DecryptUpdate(e, pt, &n, ct, len) == 1) &&
	    EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_SET_TAG, 16, t) == 1 &&
	    EVP_DecryptFinal_ex(e, pt + len, &n) == 1;
	EVP_CIPHER_CTX_free(e);
	return (ok);
}

START_TEST(test_format_spec)
{
	static const uint64_t	 lsns[] = { 1, 2, 7, 50, 51, 99 };
	unsigned char		 master[32], dk[32], aad[16 + 8 + 40 + 24];
	unsigned char		 pt[4096], want[4096], nothing[1], tag[16];
	struct keyring		*kr = crypt_ring(K1);
	struct seg_header	 h;
	struct rec_header	 rh;
	struct wal		*w;
	const unsigned char	*r;
	const char		*why;
	char			*dir = crypt_tmpdir(), path[512];
	unsigned char		*b;
	size_t			 len, i, x;
	int			 plen, n;
	EVP_CIPHER_CTX		*e;

	w = crypt_open(dir, kr);
	crypt_write(w, 100, 9, 3);
	wal_close(w);
	for (i = 0; i < sizeof master; i++)	/* K1's key */
		master[i] = (unsigned char)i;
	h = crypt_header(dir, 1);
	spec_data_key(master, &h, dk);

	/* The key check: the tag of nothing under the nonce of LSN 0. */
	memcpy(aad, h.id, 16);
	seg_put64(aad + 16, h.first_lsn);
	memset(pt, 0, 12);
	ck_assert_ptr_nonnull(e = EVP_CIPHER_CTX_new());
	ck_assert_int_eq(EVP_EncryptInit_ex(e, EVP_aes_256_gcm(), NULL, dk,
	    pt), 1);
	ck_assert_int_eq(EVP_EncryptUpdate(e, NULL, &n, aad, 24), 1);
	ck_assert_int_eq(EVP_EncryptFinal_ex(e, nothing, &n), 1);
	ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_GET_TAG, 16, tag),
	    1);
	EVP_CIPHER_CTX_free(e);
	ck_assert_int_eq(memcmp(tag, h.check, 16), 0);

	crypt_segpath(path, sizeof path, dir, 1);
	b = crypt_slurp(path, &len);
	for (i = 0; i < sizeof lsns / sizeof lsns[0]; i++) {
		r = b + crypt_find(b, len, lsns[i]);
		ck_assert_int_eq(segment_decode_rec(r, &rh, &why), 0);
		x = rec_ext_len(rh.flags);
		plen = (int)(rh.len - x - 16);
		ck_assert_uint_eq((uint32_t)plen, crypt_len(lsns[i]));
		/* id || first LSN || the header, CRC zeroed || extensions */
		memcpy(aad + 24, r, 40 + x);
		memset(aad + 24 + 20, 0, 4);
		ck_assert_msg(spec_open(dk, lsns[i], aad, 24 + 40 + x,
		    r + 40 + x, plen, r + 40 + x + plen, pt),
		    "LSN %llu does not open as FORMAT.md says",
		    (unsigned long long)lsns[i]);
		crypt_payload(lsns[i], 3, want, (uint32_t)plen);
		ck_assert_int_eq(memcmp(pt, want, (size_t)plen), 0);
		/* The header is authenticated: another tenant fails. */
		aad[24 + 12] ^= 1;
		ck_assert(!spec_open(dk, lsns[i], aad, 24 + 40 + x,
		    r + 40 + x, plen, r + 40 + x + plen, pt));
	}
	free(b);
	crypt_sh("rm -rf '%s'", dir);
	keyring_free(kr);
	free(dir);
}
END_TEST

START_TEST(test_rotation)
{
	struct keyring		*k1 = crypt_ring(K1), *k12 = crypt_ring(K1 K2);
	struct keyring		*k2 = crypt_ring(K2), *k1x2 = crypt_ring(K1X K2);
	struct wal		*w;
	struct wal_stats	 st;
	struct wal_reader	*r;
	struct wal_record	 rec;
	uint64_t		 first2, first3, nf;
	uint32_t		 ids[4];
	char			*dir = crypt_tmpdir(), *cause = NULL;

	w = crypt_open(dir, k1);
	crypt_write(w, 30, 0, 0);
	/* A reader following the log, started under the old ring. */
	r = wal_reader_open_keys(dir, 0, NULL, k1, &cause);
	ck_assert_ptr_nonnull(r);
	crypt_append(w, 0);		/* in the filling batch, key 1 */
	ck_assert_int_eq(wal_set_keyring(w, k12, &cause), 0);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.active_key_id, 2);
	/* The next append ends the segment: nothing more under key 1. */
	first2 = st.next_lsn;
	crypt_write(w, 40, 5, 0);
	ck_assert_uint_eq(crypt_header(dir, 1).key_id, 1);
	ck_assert_uint_eq(crypt_header(dir, first2).key_id, 2);
	ck_assert_uint_eq(wal_keys_needed(w, ids, 4), 2);
	ck_assert_uint_eq(ids[0], 1);
	ck_assert_uint_eq(ids[1], 2);
	/* The reader goes on across the rotation with the new ring. */
	wal_reader_set_keyring(r, k12);
	nf = 0;
	while (wal_reader_next(r, UINT64_MAX, &rec, &cause) == 1)
		nf++;
	ck_assert_uint_eq(nf, 71);
	wal_reader_close(r);
	ck_assert_uint_eq(crypt_readall(dir, k12, 1, 0, 0), 71);

	/* Dropping key 1, or changing it, is refused naming the segment. */
	ck_assert_int_eq(wal_set_keyring(w, k2, &cause), -1);
	ck_assert_msg(strstr(cause, "lacks key id 1, which segment "
	    "00000000000000000001.wal needs") != NULL, "%s", cause);
	free(cause);
	ck_assert_int_eq(wal_set_keyring(w, k1x2, &cause), -1);
	ck_assert_msg(strstr(cause, "has other bytes for key id 1") != NULL,
	    "%s", cause);
	free(cause);
	ck_assert_int_eq(wal_set_keyring(w, NULL, &cause), -1);
	ck_assert_msg(strstr(cause, "cannot be turned off") != NULL, "%s",
	    cause);
	free(cause);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.active_key_id, 2);

	/* Once segment 1 is truncated away, key 1 may go. */
	ck_assert_int_eq(wal_rotate(w, &cause), 0);
	wal_stats(w, &st);
	first3 = st.next_lsn;
	crypt_write(w, 5, 0, 0);
	ck_assert_int_eq(wal_truncate_before(w, first2, &nf, &cause), 0);
	ck_assert_uint_eq(nf, first2);
	ck_assert_int_eq(wal_set_keyring(w, k2, &cause), 0);
	ck_assert_uint_eq(wal_keys_needed(w, ids, 4), 1);
	ck_assert_uint_eq(ids[0], 2);
	/* Same active key: no new segment. */
	crypt_write(w, 5, 0, 0);
	ck_assert_uint_eq(crypt_header(dir, first3).key_id, 2);
	wal_close(w);
	ck_assert_uint_eq(crypt_readall(dir, k2, first2, 0, 0), 50);
	/* Restart with only key 2. */
	w = crypt_open(dir, k2);
	wal_close(w);
	crypt_sh("rm -rf '%s'", dir);
	keyring_free(k1);
	keyring_free(k12);
	keyring_free(k2);
	keyring_free(k1x2);
	free(dir);
}
END_TEST

START_TEST(test_rekey_empty)
{
	struct keyring		*k1 = crypt_ring(K1), *k12 = crypt_ring(K1 K2);
	struct wal		*w;
	struct wal_stats	 st;
	struct wal_reader	*r;
	struct wal_record	 rec;
	uint32_t		 ids[4];
	char			*dir = crypt_tmpdir(), *cause = NULL;

	/* The segment walld starts with has no record yet. */
	w = crypt_open(dir, k1);
	ck_assert_uint_eq(crypt_header(dir, 1).key_id, 1);
	r = wal_reader_open_keys(dir, 0, NULL, k12, &cause);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(wal_reader_next(r, UINT64_MAX, &rec, &cause), 0);
	ck_assert_int_eq(wal_set_keyring(w, k12, &cause), 0);
	/* A rotation of it does nothing but take the new key (the new file
	   comes from the spare). */
	ck_assert_int_eq(wal_mark_rotate(w), WAL_EWAIT);
	ck_assert_int_eq(wal_prepare_spare(w, &cause), 0);
	ck_assert_int_eq(wal_mark_rotate(w), WAL_OK);
	ck_assert(!wal_pending(w));
	crypt_write(w, 10, 0, 0);
	/* Replaced by a file of the same name under key 2. */
	ck_assert_uint_eq(crypt_header(dir, 1).key_id, 2);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.segments, 1);
	ck_assert_uint_eq(wal_keys_needed(w, ids, 4), 1);
	ck_assert_uint_eq(ids[0], 2);
	ck_assert_int_eq(wal_reader_next(r, UINT64_MAX, &rec, &cause), 1);
	ck_assert_uint_eq(rec.lsn, 1);
	wal_reader_close(r);
	wal_close(w);
	ck_assert_uint_eq(crypt_readall(dir, k12, 1, 0, 0), 10);
	crypt_sh("rm -rf '%s'", dir);
	keyring_free(k1);
	keyring_free(k12);
	free(dir);
}
END_TEST

START_TEST(test_torn_tail_nonces)
{
	struct keyring		*kr = crypt_ring(K1);
	struct crypt_uses	 u;
	struct wal		*w;
	struct wal_stats	 st;
	unsigned char		*b;
	char			*dir = crypt_tmpdir(), path[512];
	size_t			 len;
	uint64_t		 off;

	memset(&u, 0, sizeof u);
	w = crypt_open(dir, kr);
	crypt_write(w, 90, 10, 0);
	crypt_write(w, 10, 0, 0);	/* the last flush: LSNs 91..100 */
	wal_close(w);
	crypt_collect(dir, &u);

	/* Tear it: the header of LSN 98 is gone, 99 and 100 are there. */
	crypt_segpath(path, sizeof path, dir, 1);
	b = crypt_slurp(path, &len);
	off = crypt_find(b, len, 98);
	memset(b + off, 0, REC_HDR_SIZE);
	crypt_spit(path, b, len);
	free(b);

	crypt_logbuf[0] = '\0';
	w = crypt_open(dir, kr);
	ck_assert_msg(strstr(crypt_logbuf, "torn tail cut") != NULL, "%s",
	    crypt_logbuf);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.next_lsn, 98);	/* 98..100 are issued again */
	crypt_write(w, 30, 7, 1);
	wal_close(w);
	/* And once more after a plain restart. */
	w = crypt_open(dir, kr);
	crypt_write(w, 5, 0, 1);
	wal_close(w);

	crypt_collect(dir, &u);
	/* Segment 1, the one after the cut, the one after the restart. */
	ck_assert_uint_eq(crypt_assert_unique(&u), 3);
	/* LSNs 98..100 were encrypted twice, under two data keys. */
	ck_assert_uint_eq(crypt_keys_for(&u, 98), 2);
	ck_assert_uint_eq(crypt_keys_for(&u, 100), 2);
	ck_assert_uint_eq(crypt_readall(dir, kr, 1, 98, 1), 132);
	/* The helper does see a reuse: one more record as LSN 5 under
	   segment 1's key, other bytes. */
	for (len = 0; len < u.n && u.v[len].nonce != 5; len++)
		;
	ck_assert_uint_lt(len, u.n);
	memcpy(u.key, u.v[len].key, sizeof u.key);
	crypt_use_add(&u, 5, u.v[len].what + 1);
	ck_assert_uint_eq(crypt_reused(&u, &len), 1);
	free(u.v);
	crypt_sh("rm -rf '%s'", dir);
	keyring_free(kr);
	free(dir);
}
END_TEST

START_TEST(test_backup_restore_nonces)
{
	struct keyring		*kr = crypt_ring(K1);
	struct crypt_uses	 u;
	struct wal		*w;
	char			*dir = crypt_tmpdir(), bak[512];

	memset(&u, 0, sizeof u);
	snprintf(bak, sizeof bak, "%s.bak", dir);
	w = crypt_open(dir, kr);
	crypt_write(w, 50, 10, 0);
	wal_close(w);
	crypt_sh("cp -a '%s' '%s'", dir, bak);
	w = crypt_open(dir, kr);
	crypt_write(w, 50, 10, 0);		/* LSNs 51..100 */
	wal_close(w);
	crypt_collect(dir, &u);
	/* Restore the backup and write LSNs 51..100 again, other data. */
	crypt_sh("rm -rf '%s' && cp -a '%s' '%s'", dir, bak, dir);
	w = crypt_open(dir, kr);
	crypt_write(w, 50, 10, 2);
	wal_close(w);
	crypt_collect(dir, &u);
	crypt_assert_unique(&u);
	ck_assert_uint_eq(crypt_keys_for(&u, 51), 2);
	ck_assert_uint_eq(crypt_readall(dir, kr, 1, 51, 2), 100);
	free(u.v);
	crypt_sh("rm -rf '%s' '%s'", dir, bak);
	keyring_free(kr);
	free(dir);
}
END_TEST

/* Writes two sealed segments (1..40, 41..80) and an active one. */
static void
crypt_three_segments(const char *dir, struct keyring *kr)
{
	struct wal	*w;
	char		*cause = NULL;

	w = crypt_open(dir, kr);
	crypt_write(w, 40, 8, 0);
	ck_assert_int_eq(wal_rotate(w, &cause), 0);
	crypt_write(w, 40, 8, 0);
	ck_assert_int_eq(wal_rotate(w, &cause), 0);
	crypt_write(w, 40, 8, 0);
	wal_close(w);
}

/* Alters the record lsn of a segment (0 a header field, 1 a ciphertext
   byte, 2 a tag byte, 3 its time, an extension field) and sets its CRCs
   right. */
static void
crypt_edit(const char *dir, uint64_t first, uint64_t lsn, int what)
{
	unsigned char	*b;
	char		 path[512];
	size_t		 len;
	uint64_t	 off;

	crypt_segpath(path, sizeof path, dir, first);
	b = crypt_slurp(path, &len);
	off = crypt_find(b, len, lsn);
	switch (what) {
	case 0:		/* the tenant, a header field */
		b[off + 12] ^= 1;
		break;
	case 1:		/* a ciphertext byte */
		b[off + REC_HDR_SIZE + rec_ext_len(seg_get16(b + off + 6)) +
		    1] ^= 0x40;
		break;
	case 3:		/* the time, authenticated though not encrypted */
		ck_assert(seg_get16(b + off + 6) & REC_F_TIME);
		b[off + REC_HDR_SIZE + 2] ^= 1;
		break;
	case 2:		/* a tag byte */
		b[off + REC_HDR_SIZE + seg_get32(b + off + 16) - 1] ^= 1;
		break;
	}
	crypt_fix_crcs(b, len, off);
	crypt_spit(path, b, len);
	free(b);
}

/* The damage must show in verify (with keys), the reader, and not
   without keys (the CRCs were set right). */
static void
crypt_expect_auth_failure(const char *dir, struct keyring *kr,
    uint64_t first, uint64_t lsn)
{
	char	out[8192], want[128], *cause;

	ck_assert_int_eq(crypt_verify(dir, NULL, out, sizeof out), 0);
	ck_assert_int_eq(crypt_verify(dir, kr, out, sizeof out), 1);
	snprintf(want, sizeof want, "%020llu.wal: offset ",
	    (unsigned long long)first);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
	snprintf(want, sizeof want, ": LSN %llu: record fails authentication",
	    (unsigned long long)lsn);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
	cause = crypt_read_error(dir, kr);
	ck_assert_msg(strstr(cause, want) != NULL, "%s", cause);
	free(cause);
}

START_TEST(test_tamper)
{
	struct keyring	*kr = crypt_ring(K1);
	char		*dir = crypt_tmpdir(), copy[512];
	int		 what;

	crypt_three_segments(dir, kr);
	snprintf(copy, sizeof copy, "%s.copy", dir);
	for (what = 0; what < 4; what++) {
		/* In a sealed segment: verify and reads catch it. */
		crypt_sh("rm -rf '%s' && cp -a '%s' '%s'", copy, dir, copy);
		crypt_edit(copy, 41, 45, what);
		crypt_expect_auth_failure(copy, kr, 41, 45);
		/* In the last segment: wal_open refuses and changes nothing. */
		crypt_sh("rm -rf '%s' && cp -a '%s' '%s'", copy, dir, copy);
		crypt_edit(copy, 81, 90, what);
		crypt_expect_auth_failure(copy, kr, 81, 90);
		crypt_open_fails(copy, kr, "00000000000000000081.wal: offset ");
		crypt_open_fails(copy, kr, ": LSN 90: record fails "
		    "authentication under key id 1");
	}
	crypt_sh("rm -rf '%s' '%s'", dir, copy);
	keyring_free(kr);
	free(dir);
}
END_TEST

/*
 * Moves records between segments: LSN 1 of segment 1 and LSN 51 of
 * segment 41 (both 1-byte payloads) trade places, each given the LSN and
 * batch LSN of its new position and right CRCs, so the structure is
 * intact; only authentication can tell.
 */
START_TEST(test_swap_between_segments)
{
	struct keyring	*kr = crypt_ring(K1);
	struct wal	*w;
	unsigned char	*a, *b, tmp[8192];
	char		*dir = crypt_tmpdir(), pa[512], pb[512], out[8192];
	char		*cause;
	size_t		 la, lb, rs;
	uint64_t	 oa, ob;
	unsigned char	 ha[16], hb[16];

	ck_assert_uint_eq(crypt_len(1), crypt_len(51));
	w = crypt_open(dir, kr);
	crypt_write(w, 40, 8, 0);
	ck_assert_int_eq(wal_rotate(w, &cause), 0);
	crypt_write(w, 40, 8, 0);
	ck_assert_int_eq(wal_rotate(w, &cause), 0);
	wal_close(w);
	crypt_segpath(pa, sizeof pa, dir, 1);
	crypt_segpath(pb, sizeof pb, dir, 41);
	a = crypt_slurp(pa, &la);
	b = crypt_slurp(pb, &lb);
	oa = crypt_find(a, la, 1);
	ob = crypt_find(b, lb, 51);
	rs = seg_rec_size(seg_get32(a + oa + 16));
	ck_assert_uint_eq(rs, seg_rec_size(seg_get32(b + ob + 16)));
	memcpy(ha, a + oa + 24, 16);		/* LSN and batch LSN */
	memcpy(hb, b + ob + 24, 16);
	memcpy(tmp, a + oa, rs);
	memcpy(a + oa, b + ob, rs);
	memcpy(b + ob, tmp, rs);
	memcpy(a + oa + 24, ha, 16);
	memcpy(b + ob + 24, hb, 16);
	crypt_fix_crcs(a, la, oa);
	crypt_fix_crcs(b, lb, ob);
	crypt_spit(pa, a, la);
	crypt_spit(pb, b, lb);
	free(a);
	free(b);
	ck_assert_int_eq(crypt_verify(dir, NULL, out, sizeof out), 0);
	ck_assert_int_eq(crypt_verify(dir, kr, out, sizeof out), 2);
	ck_assert_msg(strstr(out, "00000000000000000001.wal: offset 4096: LSN 1: "
	    "record fails authentication") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "00000000000000000041.wal: offset ") != NULL &&
	    strstr(out, ": LSN 51: record fails authentication") != NULL, "%s",
	    out);
	cause = crypt_read_error(dir, kr);
	ck_assert_msg(strstr(cause, "offset 4096: LSN 1: record fails "
	    "authentication") != NULL, "%s", cause);
	free(cause);
	crypt_sh("rm -rf '%s'", dir);
	keyring_free(kr);
	free(dir);
}
END_TEST

START_TEST(test_wrong_or_missing_key)
{
	struct keyring	*k1 = crypt_ring(K1), *k1x = crypt_ring(K1X);
	struct keyring	*k2 = crypt_ring(K2);
	char		*dir = crypt_tmpdir(), out[8192], *cause;

	crypt_three_segments(dir, k1);
	crypt_open_fails(dir, NULL, "00000000000000000001.wal: offset 0: LSN 1:"
	    " encrypted with key id 1, and no key ring was given");
	crypt_open_fails(dir, k2, "00000000000000000001.wal: offset 0: LSN 1: "
	    "encrypted with key id 1, which the key ring does not have");
	crypt_open_fails(dir, k1x, "00000000000000000001.wal: offset 0: LSN 1:"
	    " encrypted with key id 1, but the key ring's key 1 is not the "
	    "one it was written with (key check mismatch)");
	cause = crypt_read_error(dir, NULL);
	ck_assert_msg(strstr(cause, "no key ring was given") != NULL, "%s",
	    cause);
	free(cause);
	cause = crypt_read_error(dir, k1x);
	ck_assert_msg(strstr(cause, "key check mismatch") != NULL, "%s", cause);
	free(cause);
	ck_assert_int_eq(crypt_verify(dir, k1x, out, sizeof out), 3);
	ck_assert_int_eq(crypt_verify(dir, k2, out, sizeof out), 3);
	ck_assert_msg(strstr(out, "which the key ring does not have") != NULL,
	    "%s", out);
	/* Nothing was changed: the right key opens it. */
	ck_assert_uint_eq(crypt_readall(dir, k1, 1, 0, 0), 120);
	crypt_sh("rm -rf '%s'", dir);
	keyring_free(k1);
	keyring_free(k1x);
	keyring_free(k2);
	free(dir);
}
END_TEST

START_TEST(test_plain_then_encrypted)
{
	struct keyring		*kr = crypt_ring(K1);
	struct wal		*w;
	struct wal_stats	 st;
	uint32_t		 ids[4];
	char			*dir = crypt_tmpdir(), *cause = NULL, out[4096];

	w = crypt_open(dir, NULL);
	crypt_write(w, 20, 0, 0);
	ck_assert_int_eq(wal_set_keyring(w, kr, &cause), -1);
	ck_assert_msg(strstr(cause, "cannot be turned on") != NULL, "%s",
	    cause);
	free(cause);
	wal_close(w);
	/* A restart with a key ring encrypts the segments from then on. */
	w = crypt_open(dir, kr);
	wal_stats(w, &st);
	crypt_write(w, 20, 0, 0);
	ck_assert_uint_eq(wal_keys_needed(w, ids, 4), 1);
	wal_close(w);
	ck_assert_uint_eq(crypt_header(dir, 1).key_id, 0);
	ck_assert_uint_eq(crypt_header(dir, st.next_lsn).key_id, 1);
	ck_assert_uint_eq(crypt_readall(dir, kr, 1, 0, 0), 40);
	ck_assert_int_eq(crypt_verify(dir, kr, out, sizeof out), 0);
	/* Without keys only the plaintext part can be read. */
	cause = crypt_read_error(dir, NULL);
	ck_assert_msg(strstr(cause, "LSN 21: encrypted with key id 1") != NULL,
	    "%s", cause);
	free(cause);
	crypt_sh("rm -rf '%s'", dir);
	keyring_free(kr);
	free(dir);
}
END_TEST

/*
 * Stamping ahead (wal_stamp_wanted, wal_stamp_ahead) with a batch out, as
 * the daemon does it: the filling batch is sealed in parts, by the
 * stamper and then by the flusher, while its buffer grows (max_record
 * 4 KiB: 64 KiB buffers at first) and segments roll over (the footer's
 * data CRC is put together from the batches' own). threaded: a real
 * stamper thread runs beside; otherwise the test seals at chosen points.
 */
struct ahead_ctx {
	struct wal	*w;
	int		 stop;	/* atomic */
};

static void *
ahead_stamper(void *arg)
{
	struct ahead_ctx	*c = arg;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		wal_stamp_ahead(c->w);
		usleep(20);
	}
	return (NULL);
}

/* Writes the batch that is out, if any, and takes it back. */
static void
ahead_finish(struct wal *w, struct wal_batch **out)
{
	char	*cause = NULL;

	if (*out == NULL)
		return;
	if (wal_flush_io(w, *out, &cause) != 0)
		ck_abort_msg("wal_flush_io: %s", cause);
	wal_flush_end(w, *out);
	*out = NULL;
}

/* Opens dir for the sealing tests: 1 MiB segments, records up to 4 KiB
   (64 KiB batch buffers at first). */
static struct wal *
ahead_open(const char *dir, struct keyring *kr, enum wal_direct direct)
{
	struct wal_options	 o;
	struct wal		*w;
	char			*cause = NULL;

	crypt_options(&o, dir, kr);
	o.max_record = 4096;
	o.direct_io = direct;
	if ((w = wal_open(&o, &cause)) == NULL)
		ck_abort_msg("wal_open: %s", cause);
	return (w);
}

/* The log in dir holds LSNs 1 to n as written, verifies clean and
   recovers to them; then dir is removed and freed. */
static void
ahead_check(char *dir, struct keyring *kr, uint64_t n)
{
	struct wal_stats	 st;
	struct wal		*w;
	char			 rep[4096];

	ck_assert_uint_eq(crypt_readall(dir, kr, 1, 0, 0), n);
	ck_assert_msg(crypt_verify(dir, kr, rep, sizeof rep) == 0, "%s", rep);
	/* Recovery reads the active segment's records, CRCs and all. */
	w = crypt_open(dir, kr);
	wal_stats(w, &st);
	ck_assert_uint_eq(st.next_lsn, n + 1);
	wal_close(w);
	crypt_sh("rm -rf '%s'", dir);
	free(dir);
}

static void
ahead_run(struct keyring *kr, int threaded, enum wal_direct direct)
{
	struct ahead_ctx	 c;
	struct wal_batch	*out = NULL;
	struct wal		*w;
	struct wal_stats	 st;
	pthread_t		 t;
	unsigned char		 buf[4096];
	char			*dir = crypt_tmpdir(), *cause = NULL;
	uint64_t		 lsn, n = 0;
	uint32_t		 len;
	enum wal_rc		 rc;

	w = ahead_open(dir, kr, direct);
	c.w = w;
	c.stop = 0;
	if (threaded)
		ck_assert_int_eq(pthread_create(&t, NULL, ahead_stamper, &c), 0);
	srandom(threaded ? 11 : 12);
	while (n < 4000) {
		wal_stats(w, &st);
		len = crypt_len(st.next_lsn);
		crypt_payload(st.next_lsn, 0, buf, len);
		rc = wal_append(w, (uint16_t)(st.next_lsn % 7),
		    (uint32_t)(st.next_lsn % 3), (uint16_t)(st.next_lsn % 5),
		    buf, len, &lsn);
		if (rc == WAL_EFULL) {
			ahead_finish(w, &out);
			out = wal_flush_begin(w);
			continue;
		}
		if (rc == WAL_EWAIT) {
			if (wal_prepare_spare(w, &cause) != 0)
				ck_abort_msg("prepare: %s", cause);
			continue;
		}
		ck_assert_int_eq(rc, WAL_OK);
		n++;
		/* The loop publishes after each read; the stamper, here,
		   at random points. */
		(void)wal_stamp_wanted(w);
		if (!threaded && random() % 16 == 0)
			wal_stamp_ahead(w);
		/* The flusher finishes at random points too. */
		if (random() % 150 == 0) {
			ahead_finish(w, &out);
			out = wal_flush_begin(w);
		}
	}
	ahead_finish(w, &out);
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	if (threaded)
		ck_assert_int_eq(pthread_join(t, NULL), 0);
	crypt_sync(w);
	wal_stats(w, &st);
	ck_assert_uint_gt(st.segments, 3);
	ck_assert_int_eq(st.direct_io, direct == WAL_DIRECT_ON);
	/* Sealed in parts: some by the stamper, the rest by the flusher (a
	   real thread may do any share). */
	if (!threaded) {
		ck_assert_uint_gt(st.stamped_ahead, 0);
		ck_assert_uint_lt(st.stamped_ahead, st.bytes_written);
	}
	wal_close(w);

	ahead_check(dir, kr, 4000);
}

START_TEST(test_stamp_ahead)
{
	struct keyring	*kr = crypt_ring(K1);

	ahead_run(kr, 0, WAL_DIRECT_ON);
	ahead_run(kr, 0, WAL_DIRECT_OFF);
	ahead_run(NULL, 0, WAL_DIRECT_ON);
	ahead_run(kr, 1, WAL_DIRECT_ON);
	ahead_run(NULL, 1, WAL_DIRECT_OFF);
	keyring_free(kr);
}
END_TEST

/*
 * A split batch (wal_flush_begin): one handed to the flusher with a long
 * tail the stamper has not reached. The flusher writes the sealed part
 * while the stamper seals the tail, then writes the tail. The pwrite hook
 * plays the stamper during the first write, and fails the second when
 * asked.
 */
static struct {
	struct wal	*w;
	int		 calls;
	size_t		 len[4];
	off_t		 off[4];
	int		 fail_second;
} split;

static ssize_t
split_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	int	i = split.calls++;

	if (i < 4) {
		split.len[i] = n;
		split.off[i] = off;
	}
	if (i == 0)
		wal_stamp_ahead(split.w);	/* the stamper, meanwhile */
	if (i == 1 && split.fail_second) {
		errno = EIO;
		return (-1);
	}
	return (sysio_real.pwrite(fd, buf, n, off));
}

static void
split_run(struct keyring *kr, enum wal_direct direct, int fail_second)
{
	struct wal_batch	*b;
	struct wal_stats	 st;
	struct wal		*w;
	char			*dir = crypt_tmpdir(), *cause = NULL;
	uint64_t		 n;
	int			 r;

	w = ahead_open(dir, kr, direct);
	/* About 375 KB published and sealed, then 150 KB more. */
	crypt_append_upto(w, 250);
	(void)wal_stamp_wanted(w);
	wal_stamp_ahead(w);
	crypt_append_upto(w, 350);
	wal_stats(w, &st);
	n = st.stamped_ahead;
	ck_assert_uint_gt(n, 256u << 10);

	ck_assert_ptr_nonnull(b = wal_flush_begin(w));
	/* A plain log seals at CRC speed: it never splits. */
	ck_assert_int_eq(wal_batch_split(b), kr != NULL);
	memset(&split, 0, sizeof split);
	split.w = w;
	split.fail_second = fail_second;
	sysio.pwrite = split_pwrite;
	r = wal_flush_io(w, b, &cause);
	sysio = sysio_real;
	wal_flush_end(w, b);
	wal_stats(w, &st);
	if (kr == NULL) {
		ck_assert_int_eq(r, 0);
		ck_assert_int_eq(split.calls, 1);
		ck_assert_uint_eq(st.stamped_ahead, n);
		goto check;
	}
	/* The sealed part first, from the batch's first block; the stamper
	   sealed the rest meanwhile; then the rest, right after it. */
	ck_assert_int_eq(split.calls, 2);
	ck_assert_uint_ge(split.len[0], n - (direct == WAL_DIRECT_ON ?
	    4096 : 0));
	ck_assert_uint_le(split.len[0], n + 4096);
	ck_assert_uint_eq((uint64_t)split.off[1],
	    (uint64_t)split.off[0] + split.len[0]);
	if (direct == WAL_DIRECT_ON)
		ck_assert_uint_eq(split.len[0] % 4096, 0);
	if (fail_second) {
		ck_assert_int_eq(r, -1);
		ck_assert_msg(cause != NULL && strstr(cause, "pwrite") != NULL,
		    "cause: %s", cause != NULL ? cause : "(none)");
		free(cause);
		ck_assert_int_eq(st.failed, 1);
		ck_assert_uint_eq(st.durable_lsn, 0);
		wal_close(w);
		/* Nothing was acknowledged; what was written recovers
		   whole, up to where the write stopped. */
		w = crypt_open(dir, kr);
		wal_close(w);
		n = crypt_readall(dir, kr, 1, 0, 0);
		ck_assert_uint_gt(n, 0);	/* the first part */
		ck_assert_uint_lt(n, 350);
		ahead_check(dir, kr, n);
		return;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(st.durable_lsn, 350);
	ck_assert_uint_eq(st.stamped_ahead, st.bytes_written);
check:
	wal_close(w);
	ahead_check(dir, kr, 350);
}

START_TEST(test_stamp_split)
{
	struct keyring	*kr = crypt_ring(K1);

	split_run(kr, WAL_DIRECT_ON, 0);
	split_run(kr, WAL_DIRECT_OFF, 0);
	split_run(kr, WAL_DIRECT_ON, 1);
	split_run(NULL, WAL_DIRECT_ON, 0);
	keyring_free(kr);
}
END_TEST

/*
 * Encryption failing on the record of one LSN: keyring_encrypt is wrapped at
 * link time (-Wl,--wrap=keyring_encrypt, Makefile), so wal-stamp.c's calls come
 * here. Whether the stamper meets the failure ahead of the flusher or the
 * flusher meets it, the flush fails with a cause naming the LSN, the log
 * latches, nothing of the batch is acknowledged, and what was synced
 * before recovers whole.
 */
static uint64_t	seal_fail_lsn;		/* 0: none fails */

int	__real_keyring_encrypt(struct keyring_ctx *, const unsigned char *,
	    const void *, uint32_t, unsigned char *);
int	__wrap_keyring_encrypt(struct keyring_ctx *, const unsigned char *,
	    const void *, uint32_t, unsigned char *);

int
__wrap_keyring_encrypt(struct keyring_ctx *c, const unsigned char *hdr,
    const void *in, uint32_t len, unsigned char *out)
{
	if (seal_fail_lsn != 0 && seg_get64(hdr + 24) == seal_fail_lsn)
		return (-1);
	return (__real_keyring_encrypt(c, hdr, in, len, out));
}

static void
seal_fail_run(struct keyring *kr, int ahead)
{
	struct wal_batch	*b;
	struct wal_stats	 st;
	struct wal		*w;
	char			*dir = crypt_tmpdir(), *cause = NULL;
	uint64_t		 lsn;
	int			 r;

	w = ahead_open(dir, kr, WAL_DIRECT_ON);
	crypt_append_upto(w, 20);
	ck_assert_uint_eq(crypt_sync(w), 20);
	seal_fail_lsn = 25;
	crypt_append_upto(w, 30);
	if (ahead) {
		(void)wal_stamp_wanted(w);
		wal_stamp_ahead(w);
		wal_stats(w, &st);
		/* It sealed 21 to 24, then stopped at 25. Its failure
		   alone must fail the flush, which would seal 25 fine. */
		ck_assert_uint_gt(st.stamped_ahead, 0);
		seal_fail_lsn = 0;
	}
	ck_assert_ptr_nonnull(b = wal_flush_begin(w));
	r = wal_flush_io(w, b, &cause);
	wal_flush_end(w, b);
	seal_fail_lsn = 0;
	ck_assert_int_eq(r, -1);
	ck_assert_msg(cause != NULL &&
	    strstr(cause, "encrypting the record of LSN 25 failed") != NULL,
	    "cause: %s", cause != NULL ? cause : "(none)");
	free(cause);
	wal_stats(w, &st);
	ck_assert_int_eq(st.failed, 1);
	ck_assert_uint_eq(st.durable_lsn, 20);
	ck_assert_int_eq(wal_append(w, 1, 1, 1, "x", 1, &lsn), WAL_EFAILED);
	wal_close(w);
	/* Nothing of the failed batch reached the file. */
	ahead_check(dir, kr, 20);
}

START_TEST(test_stamp_fails)
{
	struct keyring	*kr = crypt_ring(K1);

	seal_fail_run(kr, 0);
	seal_fail_run(kr, 1);
	keyring_free(kr);
}
END_TEST

static Suite *
crypt_suite(void)
{
	Suite	*s = suite_create("crypt");
	TCase	*tc = tcase_create("crypt");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_format_spec);
	tcase_add_test(tc, test_rotation);
	tcase_add_test(tc, test_rekey_empty);
	tcase_add_test(tc, test_torn_tail_nonces);
	tcase_add_test(tc, test_backup_restore_nonces);
	tcase_add_test(tc, test_tamper);
	tcase_add_test(tc, test_swap_between_segments);
	tcase_add_test(tc, test_wrong_or_missing_key);
	tcase_add_test(tc, test_plain_then_encrypted);
	tcase_add_test(tc, test_stamp_ahead);
	tcase_add_test(tc, test_stamp_split);
	tcase_add_test(tc, test_stamp_fails);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(crypt_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
