/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walnonce.c: lists every (data key, nonce) use in a data directory, for
 * the tests of the nonce argument (engine/keyring.c): one line per valid
 * record of an encrypted segment, and one per segment for its key check:
 *
 *	KEY NONCE CRC FILE OFFSET
 *
 * KEY names the data key by what derives it (segment id, salt, first LSN,
 * master key id, in hex); NONCE is the LSN (0: the key check); CRC is the
 * record's CRC field, which tells two records apart. Two lines with the
 * same KEY and NONCE but another CRC are a reused nonce. Exits 1 when a
 * segment is not encrypted or cannot be read.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "segment.h"

struct walnonce {
	const char	*name;
	char		 key[2 * (16 + 32 + 8 + 4) + 1];
};

/* Prints one record's use. */
static void
walnonce_cb(void *arg, const struct rec_header *h, const unsigned char *p,
    uint64_t off)
{
	struct walnonce	*n = arg;

	(void)p;
	printf("%s %" PRIu64 " %08x %s %" PRIu64 "\n", n->key, h->lsn, h->crc,
	    n->name, off);
}

/* Hex of len bytes, appended at out. */
static char *
walnonce_hex(char *out, const unsigned char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		out += sprintf(out, "%02x", p[i]);
	return (out);
}

int
main(int argc, char **argv)
{
	struct seg_ent		*ents;
	struct seg_header	 h;
	struct seg_scan		 s;
	struct walnonce		 n;
	struct stat		 sb;
	unsigned char		 hb[SEG_HDR_SIZE], num[12];
	const char		*why;
	char			*cause = NULL, *k;
	size_t			 nents, i;
	int			 dfd, fd, bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: walnonce DIR\n");
		return (64);
	}
	if ((dfd = open(argv[1], O_RDONLY | O_DIRECTORY)) == -1 ||
	    segment_list(dfd, argv[1], &ents, &nents, NULL, NULL, NULL,
	    &cause) != 0) {
		fprintf(stderr, "walnonce: %s: %s\n", argv[1],
		    cause != NULL ? cause : "cannot open");
		return (1);
	}
	for (i = 0; i < nents; i++) {
		n.name = ents[i].name;
		if ((fd = openat(dfd, ents[i].name, O_RDONLY)) == -1 ||
		    fstat(fd, &sb) != 0 ||
		    pread(fd, hb, sizeof hb, 0) != (ssize_t)sizeof hb ||
		    segment_decode_header(hb, &h, &why) != 0 ||
		    !(h.flags & SEG_F_ENCRYPTED)) {
			fprintf(stderr, "walnonce: %s: not an encrypted "
			    "segment\n", ents[i].name);
			bad = 1;
			if (fd != -1)
				close(fd);
			continue;
		}
		k = walnonce_hex(n.key, h.id, sizeof h.id);
		k = walnonce_hex(k, h.salt, sizeof h.salt);
		seg_put64(num, h.first_lsn);
		seg_put32(num + 8, h.key_id);
		walnonce_hex(k, num, sizeof num);
		printf("%s 0 key-check %s 88\n", n.key, n.name);
		memset(&s, 0, sizeof s);
		s.fd = fd;
		s.size = (uint64_t)sb.st_size;
		s.first_lsn = h.first_lsn;
		s.seed = h.seed;
		s.rec_cb = walnonce_cb;
		s.rec_arg = &n;
		if (segment_scan(&s, &cause) != 0) {
			fprintf(stderr, "walnonce: %s: %s\n", ents[i].name,
			    cause);
			free(cause);
			cause = NULL;
			bad = 1;
		}
		close(fd);
	}
	free(ents);
	close(dfd);
	if (fflush(stdout) != 0)
		return (1);
	return (bad);
}
