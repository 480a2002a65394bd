/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyring.h: encryption at rest. The key ring (master keys by id, read
 * from a file), the per-segment data keys derived from them (HKDF-SHA256),
 * and AES-256-GCM of record payloads. Formats: docs/KEYS.md (the file)
 * and docs/FORMAT.md, section 12 (what is on disk).
 */
#ifndef WALD_KEYRING_H
#define WALD_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#define KEYRING_KEY_LEN		32	/* AES-256 master and data keys */
#define KEYRING_SALT_LEN	32	/* per segment, in its header */
#define KEYRING_SEGID_LEN	16	/* the segment id of the header */
#define KEYRING_TAG_LEN		16	/* GCM tag after each payload */
#define KEYRING_CHECK_LEN	16	/* key check value in the header */
#define KEYRING_MAX_KEYS	1024
#define KEYRING_MAX_FILE	(64u << 10)
#define KEYRING_LINE_MAX	96	/* a keygen line with its NUL */

struct keyring;
struct keyring_ctx;
struct seg_header;
struct rec_header;

/* Reads a key ring file: refused when group or others may access it, or
   malformed ("FILE:LINE: why"). The caller keyring_free()s it. */
struct keyring	*keyring_load(const char *path, char **cause);
/* The same from text in memory; name is used in the errors. */
struct keyring	*keyring_parse(const char *text, size_t len, const char *name,
		    char **cause);
/* Where walld's key ring is, in this order: the configured file (may be
   NULL); else $CREDENTIALS_DIRECTORY/keyring when that file exists (a
   systemd LoadCredential=keyring:...); else none. 0 and *path (allocated,
   NULL for none), or -1 and *cause. */
int		 keyring_locate(const char *configured, char **path,
		    char **cause);
/* Takes one more reference (rings are immutable and shared). */
struct keyring	*keyring_hold(struct keyring *);
/* Drops a reference; the last one wipes the keys and frees. */
void		 keyring_free(struct keyring *);
/* The id new segments are written under. */
uint32_t	 keyring_active(const struct keyring *);
int		 keyring_has(const struct keyring *, uint32_t id);
/* The ids, ascending, into ids (at most max); returns how many there are. */
size_t		 keyring_ids(const struct keyring *, uint32_t *ids, size_t max);
/* 1 when the master key bytes of id are not the same in a and b. */
int		 keyring_differs(const struct keyring *a, const struct keyring *b,
		    uint32_t id);
/* Formats "ID HEX\n" for a new random key (RAND_priv_bytes): 0, or -1. */
int		 keyring_generate(uint32_t id, char *line, size_t len,
		    char **cause);

/* A cipher context: one per writer (encrypt) or reader (decrypt). */
struct keyring_ctx *keyring_ctx_create(int encrypt);
void		 keyring_ctx_free(struct keyring_ctx *);
/* Derives the data key of one segment and loads it. 0, or -1 and *cause
   (the key id is not in the ring). */
int		 keyring_ctx_key(struct keyring_ctx *, const struct keyring *,
		    uint32_t key_id, const unsigned char *salt,
		    const unsigned char *segid, uint64_t first_lsn,
		    char **cause);
/* Reader side: keys ctx for the segment whose header is h, and checks the
   key against the header's key check. 0 (also for a plaintext segment:
   then ctx is unkeyed), or -1 and *cause: no ring, no such key id, or
   the wrong key. */
int		 keyring_ctx_segment(struct keyring_ctx *, const struct keyring *,
		    const struct seg_header *h, char **cause);
/* Makes dst (created for the same direction) a copy of src: the same
   segment key and identity, usable on another thread. 0, or -1. */
int		 keyring_ctx_copy(struct keyring_ctx *dst,
		    const struct keyring_ctx *src);
/* 1 when ctx holds a segment's key. */
int		 keyring_ctx_keyed(const struct keyring_ctx *);
/* The key check value of the loaded segment key (KEYRING_CHECK_LEN). */
const unsigned char *keyring_ctx_check(const struct keyring_ctx *);

/*
 * Encrypts len bytes of in to out, followed by the tag (len + 16 bytes).
 * hdr is the record's 40-byte header as it will be stored (its length
 * field already counts the tag); its CRC field is not authenticated.
 * in and out are the same buffer (in place) or do not overlap at all.
 * 0, or -1 (a library failure).
 */
int		 keyring_encrypt(struct keyring_ctx *, const unsigned char *hdr,
		    const void *in, uint32_t len, unsigned char *out);
/* Decrypts a stored payload of len bytes (ciphertext and tag) to out
   (len - 16 bytes). 0, or -1 when it fails authentication. */
int		 keyring_decrypt(struct keyring_ctx *, const unsigned char *hdr,
		    const unsigned char *in, uint32_t len, unsigned char *out);

/* Authenticates every record of a segment scan: seg_scan.rec_cb =
   keyring_auth_cb, rec_arg = this, ctx keyed for the segment. */
struct keyring_auth {
	struct keyring_ctx	*ctx;
	unsigned char		*buf;		/* plaintext scratch */
	size_t			 cap;
	uint64_t		 nbad;		/* records failing it */
	uint64_t		 bad_off;	/* the first of them */
	uint64_t		 bad_lsn;
	int			 nomem;		/* scratch allocation failed */
	/* Called for each record that fails; may be NULL. */
	void			(*bad_cb)(void *, uint64_t off, uint64_t lsn);
	void			*bad_arg;
};
void		 keyring_auth_cb(void *, const struct rec_header *,
		    const unsigned char *rec, uint64_t off);
/* Frees the scratch buffer. */
void		 keyring_auth_clear(struct keyring_auth *);

#endif
