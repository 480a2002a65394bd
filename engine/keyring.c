/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyring.c: encryption at rest. Owns the key ring (master keys by id,
 * read from a file), derives per-segment data keys, and encrypts and
 * decrypts record payloads with AES-256-GCM. docs/KEYS.md has the file
 * format, docs/FORMAT.md section 12 the on-disk layout; in short:
 *
 * KEY RING FILE. One key a line: "<id> <64 hex digits> [active]", id a
 * decimal in 1..4294967295; blank lines and "#" comments are ignored. The
 * active key is the one marked "active" (at most one), else the highest
 * id. Refused when group or others have any permission on it.
 *
 * DATA KEY of a segment = HKDF-SHA256(IKM = master key of the header's key
 * id, salt = the header's 32-byte random salt, info = "walld segment" ||
 * segment id (16 bytes) || first LSN (u64 LE)), 32 bytes.
 *
 * RECORD: AES-256-GCM under the data key; nonce (12 bytes) = LSN (u64 LE)
 * || 4 zero bytes; associated data (64 bytes) = segment id || first LSN
 * (u64 LE) || the 40-byte record header with its CRC field zeroed (magic,
 * version, flags, type, vshard, tenant, stored length, LSN, batch LSN).
 * Stored payload = ciphertext || 16-byte tag; the length field counts both.
 *
 * KEY CHECK (header bytes 88..103): the GCM tag of an empty message under
 * the data key, nonce of LSN 0, associated data = segment id || first LSN.
 * LSN 0 is never a record's, so this nonce is used once per data key.
 *
 * WHY A NONCE NEVER REPEATS UNDER ONE KEY. A nonce is the LSN, and within
 * one segment file LSNs are distinct (each record has the previous + 1).
 * Every segment file gets its own data key: its salt is 32 fresh bytes
 * from RAND_bytes (and its id 16 from getrandom), both written into its
 * header when walld creates it, and never again; the HKDF info also binds
 * the segment id and first LSN. So two segments share a data key only if
 * they drew the same salt: probability 2^-256 per pair. Hence:
 * - across segments: different data keys;
 * - after a restart: walld never reopens a segment for writing (wal_open
 *   seals the last one at its recovered end and starts a fresh segment
 *   with a fresh salt, even when it replaces an empty one of that name);
 * - after a torn tail is cut and its LSNs are handed out again: the cut
 *   segment is sealed, the reissued LSNs go into a new segment under a new
 *   data key; the torn records' nonces belong to the old key;
 * - after a backup is restored (segments copied back, then written on): a
 *   restored segment is never appended to, new segments draw new salts;
 * - after a key rotation: the new master key makes new data keys anyway.
 * The nonce and the associated data use the LSN in the header: a record
 * cannot be moved to another position (other LSN) or another segment
 * (other key, other segment id in the associated data) and still open.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "cause.h"
#include "keyring.h"
#include "segment.h"

#define KEYRING_INFO		"walld segment"
#define KEYRING_INFO_LEN	(sizeof KEYRING_INFO - 1)
#define KEYRING_IDENT_LEN	(KEYRING_SEGID_LEN + 8)
#define KEYRING_AAD_LEN		(KEYRING_IDENT_LEN + REC_HDR_SIZE + REC_EXT_MAX)
#define KEYRING_NONCE_LEN	12

/* One master key. Lives only in the locked mapping of its ring. */
struct keyring_key {
	uint32_t	id;
	unsigned char	key[KEYRING_KEY_LEN];
};

struct keyring {
	int			 refs;		/* atomic */
	uint32_t		 active;
	size_t			 n;
	struct keyring_key	*keys;		/* mmap'ed, mlock'ed, not dumped */
	size_t			 maplen;
	int			 locked;
};

struct keyring_ctx {
	EVP_CIPHER_CTX	*evp;
	int		 encrypt;
	int		 keyed;
	unsigned char	 ident[KEYRING_IDENT_LEN];	/* segment id, first LSN */
	unsigned char	 check[KEYRING_CHECK_LEN];
};

/* 1 for the blanks that separate fields of a line. */
static int
keyring_blank(int c)
{
	return (c == ' ' || c == '\t' || c == '\r');
}

/*
 * Parses one line (without its newline) into *k (key bytes only when
 * store). 0 and *active when it holds a key, 1 when it is blank or a
 * comment, -1 and *why when it is malformed. Never quotes key material.
 */
static int
keyring_parse_line(const char *s, size_t len, struct keyring_key *k,
    int store, int *active, const char **why)
{
	size_t		i = 0, j, start;
	uint64_t	id = 0;
	int		hi, lo;

	*active = 0;
	while (i < len && keyring_blank(s[i]))
		i++;
	if (i == len || s[i] == '#')
		return (1);
	start = i;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		id = id * 10 + (uint64_t)(s[i] - '0');
		if (id > UINT32_MAX) {
			*why = "key id above 4294967295";
			return (-1);
		}
		i++;
	}
	if (i == start || (i < len && !keyring_blank(s[i]))) {
		*why = "expected a key id (a decimal number), a blank, then "
		    "the key as 64 hex digits";
		return (-1);
	}
	if (id == 0) {
		*why = "key id 0 is not allowed (0 means \"not encrypted\")";
		return (-1);
	}
	while (i < len && keyring_blank(s[i]))
		i++;
	start = i;
	while (i < len && OPENSSL_hexchar2int((unsigned char)s[i]) >= 0)
		i++;
	if (i - start != 2 * KEYRING_KEY_LEN ||
	    (i < len && !keyring_blank(s[i]) && s[i] != '#')) {
		*why = "the key must be exactly 64 hex digits (32 bytes)";
		return (-1);
	}
	k->id = (uint32_t)id;
	if (store) {
		for (j = 0; j < KEYRING_KEY_LEN; j++) {
			hi = OPENSSL_hexchar2int((unsigned char)s[start + 2 * j]);
			lo = OPENSSL_hexchar2int((unsigned char)s[start + 2 * j + 1]);
			k->key[j] = (unsigned char)(hi << 4 | lo);
		}
	}
	while (i < len && keyring_blank(s[i]))
		i++;
	if (i + 6 <= len && memcmp(s + i, "active", 6) == 0 &&
	    (i + 6 == len || keyring_blank(s[i + 6]) || s[i + 6] == '#')) {
		*active = 1;
		i += 6;
		while (i < len && keyring_blank(s[i]))
			i++;
	}
	if (i < len && s[i] != '#') {
		*why = "unexpected text after the key (only \"active\" or a "
		    "# comment may follow)";
		return (-1);
	}
	return (0);
}

/*
 * One pass over the text: checks every line and counts the keys; with
 * keys != NULL also stores them. 0, or -1 and *cause as "NAME:LINE: why".
 */
static int
keyring_scan(const char *text, size_t len, const char *name,
    struct keyring_key *keys, size_t *nkeys, uint32_t *active, char **cause)
{
	struct keyring_key	 k, *dst;
	const char		*p = text, *end = text + len, *nl, *why = NULL;
	size_t			 line = 0, n = 0, i, active_line = 0;
	size_t			*lines;
	uint32_t		*ids, marked = 0, highest = 0;
	int			 r, is_active, rc = -1;

	/* For the duplicate check: ids and lines only, nothing secret. */
	lines = calloc(KEYRING_MAX_KEYS, sizeof *lines);
	ids = calloc(KEYRING_MAX_KEYS, sizeof *ids);
	if (lines == NULL || ids == NULL) {
		cause_set(cause, "%s: %s", name, strerror(errno));
		free(lines);
		free(ids);
		return (-1);
	}
	while (p < end) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL) {
			cause_set(cause, "%s:%zu: a NUL byte (not a text "
			    "file?)", name, line);
			goto out;
		}
		dst = keys != NULL && n < KEYRING_MAX_KEYS ? &keys[n] : &k;
		r = keyring_parse_line(p, (size_t)(nl - p), dst, keys != NULL,
		    &is_active, &why);
		if (r == -1) {
			cause_set(cause, "%s:%zu: %s", name, line, why);
			goto out;
		}
		if (r == 0) {
			if (n == KEYRING_MAX_KEYS) {
				cause_set(cause, "%s:%zu: more than %d keys",
				    name, line, KEYRING_MAX_KEYS);
				goto out;
			}
			for (i = 0; i < n; i++) {
				if (ids[i] == dst->id) {
					cause_set(cause, "%s:%zu: key id %u "
					    "appears twice (first on line %zu)",
					    name, line, dst->id, lines[i]);
					goto out;
				}
			}
			if (is_active) {
				if (active_line != 0) {
					cause_set(cause, "%s:%zu: a second "
					    "key marked active (the first is "
					    "on line %zu)", name, line,
					    active_line);
					goto out;
				}
				active_line = line;
				marked = dst->id;
			}
			if (dst->id > highest)
				highest = dst->id;
			ids[n] = dst->id;
			lines[n] = line;
			n++;
		}
		p = nl + 1;
	}
	if (n == 0) {
		cause_set(cause, "%s: no key in the key ring", name);
		goto out;
	}
	*nkeys = n;
	*active = marked != 0 ? marked : highest;
	rc = 0;
out:
	OPENSSL_cleanse(&k, sizeof k);
	free(lines);
	free(ids);
	return (rc);
}

/* Parses a key ring from text; see keyring.h. */
struct keyring *
keyring_parse(const char *text, size_t len, const char *name, char **cause)
{
	struct keyring	*kr;
	size_t		 n, pg;
	uint32_t	 active;

	if (keyring_scan(text, len, name, NULL, &n, &active, cause) != 0)
		return (NULL);
	if ((kr = calloc(1, sizeof *kr)) == NULL) {
		cause_set(cause, "%s: %s", name, strerror(errno));
		return (NULL);
	}
	/*
	 * The keys live in their own pages: locked in memory (never written
	 * to swap; best effort, RLIMIT_MEMLOCK may say no) and left out of
	 * core dumps. Nothing else is put there.
	 */
	pg = (size_t)sysconf(_SC_PAGESIZE);
	kr->maplen = (n * sizeof *kr->keys + pg - 1) / pg * pg;
	kr->keys = mmap(NULL, kr->maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (kr->keys == MAP_FAILED) {
		cause_set(cause, "%s: mmap: %s", name, strerror(errno));
		free(kr);
		return (NULL);
	}
	kr->locked = mlock(kr->keys, kr->maplen) == 0;
	(void)madvise(kr->keys, kr->maplen, MADV_DONTDUMP);
	if (keyring_scan(text, len, name, kr->keys, &kr->n, &kr->active,
	    cause) != 0) {
		kr->refs = 1;
		keyring_free(kr);
		return (NULL);
	}
	kr->refs = 1;
	return (kr);
}

/* Reads a key ring file; see keyring.h. */
struct keyring *
keyring_load(const char *path, char **cause)
{
	struct keyring	*kr = NULL;
	struct stat	 sb;
	char		*buf = NULL;
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		cause_set(cause, "key ring: %s: %s", path, strerror(errno));
		return (NULL);
	}
	if (fstat(fd, &sb) != 0) {
		cause_set(cause, "key ring: %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		cause_set(cause, "key ring: %s: not a regular file", path);
		goto out;
	}
	if (sb.st_mode & 077) {
		cause_set(cause, "key ring: %s: mode %04o gives group or "
		    "others access; refused (chmod 600 %s)", path,
		    (unsigned)(sb.st_mode & 07777), path);
		goto out;
	}
	if (sb.st_size > KEYRING_MAX_FILE) {
		cause_set(cause, "key ring: %s: larger than %u bytes", path,
		    KEYRING_MAX_FILE);
		goto out;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		cause_set(cause, "key ring: %s: %s", path, strerror(errno));
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			cause_set(cause, "key ring: %s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	kr = keyring_parse(buf, got, path, cause);
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, (size_t)sb.st_size + 1);
		free(buf);
	}
	close(fd);
	return (kr);
}

/* Finds the key ring file: configured, else the systemd credential. */
int
keyring_locate(const char *configured, char **path, char **cause)
{
	const char	*dir;

	*path = NULL;
	if (configured != NULL && *configured != '\0') {
		if ((*path = strdup(configured)) == NULL)
			goto nomem;
		return (0);
	}
	dir = getenv("CREDENTIALS_DIRECTORY");
	if (dir == NULL || *dir == '\0')
		return (0);
	if (asprintf(path, "%s/keyring", dir) == -1) {
		*path = NULL;
		goto nomem;
	}
	if (access(*path, F_OK) != 0) {
		free(*path);
		*path = NULL;
	}
	return (0);
nomem:
	cause_set(cause, "key ring: %s", strerror(ENOMEM));
	return (-1);
}

/* Takes one more reference. */
struct keyring *
keyring_hold(struct keyring *kr)
{
	if (kr != NULL)
		__atomic_add_fetch(&kr->refs, 1, __ATOMIC_RELAXED);
	return (kr);
}

/* Drops a reference; the last one wipes the keys and unmaps them. */
void
keyring_free(struct keyring *kr)
{
	if (kr == NULL || __atomic_sub_fetch(&kr->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	OPENSSL_cleanse(kr->keys, kr->maplen);
	if (kr->locked)
		munlock(kr->keys, kr->maplen);
	munmap(kr->keys, kr->maplen);
	free(kr);
}

/* The id new segments are written under. */
uint32_t
keyring_active(const struct keyring *kr)
{
	return (kr != NULL ? kr->active : 0);
}

/* The key of id, or NULL. */
static const struct keyring_key *
keyring_find(const struct keyring *kr, uint32_t id)
{
	size_t	i;

	for (i = 0; kr != NULL && i < kr->n; i++) {
		if (kr->keys[i].id == id)
			return (&kr->keys[i]);
	}
	return (NULL);
}

int
keyring_has(const struct keyring *kr, uint32_t id)
{
	return (keyring_find(kr, id) != NULL);
}

/* Orders ids. */
static int
keyring_id_cmp(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

/* The ids in ascending order; returns how many the ring has. */
size_t
keyring_ids(const struct keyring *kr, uint32_t *ids, size_t max)
{
	size_t	i;

	if (kr == NULL)
		return (0);
	for (i = 0; i < kr->n && i < max; i++)
		ids[i] = kr->keys[i].id;
	if (i > 1)	/* ids may be NULL when max is 0 */
		qsort(ids, i, sizeof *ids, keyring_id_cmp);
	return (kr->n);
}

/* 1 when both rings have id with other key bytes, or only one has it. */
int
keyring_differs(const struct keyring *a, const struct keyring *b,
    uint32_t id)
{
	const struct keyring_key	*x = keyring_find(a, id);
	const struct keyring_key	*y = keyring_find(b, id);

	if (x == NULL || y == NULL)
		return (x != y);
	return (CRYPTO_memcmp(x->key, y->key, KEYRING_KEY_LEN) != 0);
}

/* Formats a new key line; see keyring.h. */
int
keyring_generate(uint32_t id, char *line, size_t len, char **cause)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 key[KEYRING_KEY_LEN];
	size_t			 o, i;
	int			 n;

	if (id == 0) {
		cause_set(cause, "key id 0 is not allowed");
		return (-1);
	}
	n = snprintf(line, len, "%u ", id);
	if (n < 0 || (size_t)n + 2 * KEYRING_KEY_LEN + 2 > len) {
		cause_set(cause, "key line buffer too small");
		return (-1);
	}
	if (RAND_priv_bytes(key, sizeof key) != 1) {
		cause_set(cause, "RAND_priv_bytes failed: no randomness");
		return (-1);
	}
	o = (size_t)n;
	for (i = 0; i < KEYRING_KEY_LEN; i++) {
		line[o++] = hex[key[i] >> 4];
		line[o++] = hex[key[i] & 15];
	}
	line[o++] = '\n';
	line[o] = '\0';
	OPENSSL_cleanse(key, sizeof key);
	return (0);
}

/* A cipher context for one writer or reader. */
struct keyring_ctx *
keyring_ctx_create(int encrypt)
{
	struct keyring_ctx	*c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return (NULL);
	if ((c->evp = EVP_CIPHER_CTX_new()) == NULL) {
		free(c);
		return (NULL);
	}
	c->encrypt = encrypt;
	return (c);
}

/* Copies a keyed context; see keyring.h. */
int
keyring_ctx_copy(struct keyring_ctx *dst, const struct keyring_ctx *src)
{
	if (dst->encrypt != src->encrypt ||
	    EVP_CIPHER_CTX_copy(dst->evp, src->evp) != 1)
		return (-1);
	dst->keyed = src->keyed;
	memcpy(dst->ident, src->ident, sizeof dst->ident);
	memcpy(dst->check, src->check, sizeof dst->check);
	return (0);
}

/* Frees a context (OpenSSL wipes the key schedule). */
void
keyring_ctx_free(struct keyring_ctx *c)
{
	if (c == NULL)
		return;
	EVP_CIPHER_CTX_free(c->evp);
	OPENSSL_cleanse(c, sizeof *c);
	free(c);
}

/* data key = HKDF-SHA256(master, salt, "walld segment" || id || first). */
static int
keyring_hkdf(const unsigned char *master, const unsigned char *salt,
    const unsigned char *ident, unsigned char *out)
{
	unsigned char	 info[KEYRING_INFO_LEN + KEYRING_IDENT_LEN];
	EVP_KDF		*kdf;
	EVP_KDF_CTX	*kctx = NULL;
	OSSL_PARAM	 p[5];
	int		 ok = 0;

	memcpy(info, KEYRING_INFO, KEYRING_INFO_LEN);
	memcpy(info + KEYRING_INFO_LEN, ident, KEYRING_IDENT_LEN);
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)master, KEYRING_KEY_LEN);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)salt, KEYRING_SALT_LEN);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info,
	    sizeof info);
	p[4] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, KEYRING_KEY_LEN, p) == 1;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return (ok ? 0 : -1);
}

/* The 12-byte nonce of an LSN: LSN little-endian, then 4 zero bytes. */
static void
keyring_nonce(unsigned char *iv, uint64_t lsn)
{
	seg_put64(iv, lsn);
	memset(iv + 8, 0, KEYRING_NONCE_LEN - 8);
}

/* The key check: GCM tag of nothing, nonce of LSN 0, AAD = identity. */
static int
keyring_make_check(const unsigned char *key, const unsigned char *ident,
    unsigned char *check)
{
	EVP_CIPHER_CTX	*e;
	unsigned char	 iv[KEYRING_NONCE_LEN];
	int		 n, ok = 0;

	if ((e = EVP_CIPHER_CTX_new()) == NULL)
		return (-1);
	keyring_nonce(iv, 0);
	if (EVP_EncryptInit_ex(e, EVP_aes_256_gcm(), NULL, key, iv) == 1 &&
	    EVP_EncryptUpdate(e, NULL, &n, ident, KEYRING_IDENT_LEN) == 1 &&
	    EVP_EncryptFinal_ex(e, check, &n) == 1 &&
	    EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_GET_TAG, KEYRING_CHECK_LEN,
	    check) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(e);
	return (ok ? 0 : -1);
}

/* Derives and loads a segment's data key; see keyring.h. */
int
keyring_ctx_key(struct keyring_ctx *c, const struct keyring *kr,
    uint32_t key_id, const unsigned char *salt, const unsigned char *segid,
    uint64_t first_lsn, char **cause)
{
	const struct keyring_key	*k;
	unsigned char			 dk[KEYRING_KEY_LEN];
	int				 ok;

	c->keyed = 0;
	if ((k = keyring_find(kr, key_id)) == NULL) {
		cause_set(cause, "the key ring has no key id %u", key_id);
		return (-1);
	}
	memcpy(c->ident, segid, KEYRING_SEGID_LEN);
	seg_put64(c->ident + KEYRING_SEGID_LEN, first_lsn);
	/* The data key exists only here and in OpenSSL's key schedule. */
	ok = keyring_hkdf(k->key, salt, c->ident, dk) == 0 &&
	    keyring_make_check(dk, c->ident, c->check) == 0 &&
	    EVP_CipherInit_ex(c->evp, EVP_aes_256_gcm(), NULL, dk, NULL,
	    c->encrypt) == 1;
	OPENSSL_cleanse(dk, sizeof dk);
	if (!ok) {
		cause_set(cause, "deriving the data key of key id %u "
		    "failed (OpenSSL)", key_id);
		return (-1);
	}
	c->keyed = 1;
	return (0);
}

/* Keys a reader's ctx for a segment and checks the key; see keyring.h. */
int
keyring_ctx_segment(struct keyring_ctx *c, const struct keyring *kr,
    const struct seg_header *h, char **cause)
{
	c->keyed = 0;
	if (!(h->flags & SEG_F_ENCRYPTED))
		return (0);
	if (kr == NULL) {
		cause_set(cause, "encrypted with key id %u, and no key ring "
		    "was given", h->key_id);
		return (-1);
	}
	if (!keyring_has(kr, h->key_id)) {
		cause_set(cause, "encrypted with key id %u, which the key "
		    "ring does not have", h->key_id);
		return (-1);
	}
	if (keyring_ctx_key(c, kr, h->key_id, h->salt, h->id, h->first_lsn,
	    cause) != 0)
		return (-1);
	if (CRYPTO_memcmp(c->check, h->check, KEYRING_CHECK_LEN) != 0) {
		c->keyed = 0;
		cause_set(cause, "encrypted with key id %u, but the key ring's "
		    "key %u is not the one it was written with (key check "
		    "mismatch)", h->key_id, h->key_id);
		return (-1);
	}
	return (0);
}

int
keyring_ctx_keyed(const struct keyring_ctx *c)
{
	return (c->keyed);
}

const unsigned char *
keyring_ctx_check(const struct keyring_ctx *c)
{
	return (c->check);
}

/*
 * One GCM operation on a record: nonce from the header's LSN, the
 * associated data (the segment's identity, the header with its CRC field
 * zeroed, and the extension fields that follow it at hdr), then the
 * payload. Encrypting writes the tag after out;
 * decrypting checks the tag that follows in.
 */
static int
keyring_gcm(struct keyring_ctx *c, const unsigned char *hdr,
    const unsigned char *in, uint32_t len, unsigned char *out,
    const unsigned char *tag_in, unsigned char *tag_out)
{
	unsigned char	iv[KEYRING_NONCE_LEN], aad[KEYRING_AAD_LEN];
	unsigned char	tag[KEYRING_TAG_LEN];
	OSSL_PARAM	tp[2];
	uint32_t	alen;
	int		n;

	if (!c->keyed)
		return (-1);
	keyring_nonce(iv, seg_get64(hdr + 24));
	alen = REC_HDR_SIZE + rec_ext_len(seg_get16(hdr + 6));
	memcpy(aad, c->ident, KEYRING_IDENT_LEN);
	memcpy(aad + KEYRING_IDENT_LEN, hdr, alen);
	memset(aad + KEYRING_IDENT_LEN + 20, 0, 4);	/* the CRC field */
	if (EVP_CipherInit_ex(c->evp, NULL, NULL, NULL, iv, -1) != 1 ||
	    EVP_CipherUpdate(c->evp, NULL, &n, aad, (int)(KEYRING_IDENT_LEN +
	    alen)) != 1)
		return (-1);
	if (len > 0 && EVP_CipherUpdate(c->evp, out, &n, in, (int)len) != 1)
		return (-1);
	/* The tag as a parameter: EVP_CIPHER_CTX_ctrl would translate to
	   the same call, for 20-30 ns more a record (BENCHMARKS.md). */
	tp[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	    tag_out != NULL ? tag_out : tag, KEYRING_TAG_LEN);
	tp[1] = OSSL_PARAM_construct_end();
	if (tag_in != NULL) {
		memcpy(tag, tag_in, sizeof tag);
		if (EVP_CIPHER_CTX_set_params(c->evp, tp) != 1)
			return (-1);
	}
	if (EVP_CipherFinal_ex(c->evp, out + len, &n) != 1)
		return (-1);
	if (tag_out != NULL && EVP_CIPHER_CTX_get_params(c->evp, tp) != 1)
		return (-1);
	return (0);
}

/* Encrypts a payload; see keyring.h. */
int
keyring_encrypt(struct keyring_ctx *c, const unsigned char *hdr, const void *in,
    uint32_t len, unsigned char *out)
{
	if (!c->encrypt)
		return (-1);
	return (keyring_gcm(c, hdr, in, len, out, NULL, out + len));
}

/* Decrypts and authenticates a stored payload; see keyring.h. */
int
keyring_decrypt(struct keyring_ctx *c, const unsigned char *hdr,
    const unsigned char *in, uint32_t len, unsigned char *out)
{
	if (c->encrypt || len < KEYRING_TAG_LEN)
		return (-1);
	return (keyring_gcm(c, hdr, in, len - KEYRING_TAG_LEN, out,
	    in + len - KEYRING_TAG_LEN, NULL));
}

/* Opens one record of a scan into the scratch buffer; counts failures. */
void
keyring_auth_cb(void *arg, const struct rec_header *h,
    const unsigned char *rec, uint64_t off)
{
	struct keyring_auth	*a = arg;
	unsigned char		*nb;
	size_t			 need = h->len > 0 ? h->len : 1;

	if (a->nomem)
		return;
	if (need > a->cap) {
		if ((nb = realloc(a->buf, need)) == NULL) {
			a->nomem = 1;
			return;
		}
		a->buf = nb;
		a->cap = need;
	}
	if (keyring_decrypt(a->ctx, rec, rec + REC_HDR_SIZE +
	    rec_ext_len(h->flags), h->len - rec_ext_len(h->flags), a->buf) == 0)
		return;
	if (a->nbad++ == 0) {
		a->bad_off = off;
		a->bad_lsn = h->lsn;
	}
	if (a->bad_cb != NULL)
		a->bad_cb(a->bad_arg, off, h->lsn);
}

/* Frees the scratch buffer of an authenticating scan. */
void
keyring_auth_clear(struct keyring_auth *a)
{
	free(a->buf);
	a->buf = NULL;
	a->cap = 0;
}
