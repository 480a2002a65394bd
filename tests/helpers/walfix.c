/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walfix.c: damages a walld data directory on purpose, for the fixtures
 * of the corruption tests (tests/fixtures/damage.sh). Offline only.
 *
 *   walfix where DIR LSN	prints "FILE OFFSET LENGTH" of the record with
 *				that LSN (offset of its header, length of its
 *				payload); exit 1 when there is none
 *   walfix footer DIR FILE	prints the offset of the segment's footer
 *   walfix flip FILE OFFSET	flips the lowest bit of the byte at OFFSET
 *   walfix refix FILE OFFSET	sets the CRC of the record at OFFSET to what
 *				its bytes now give: an altered record that
 *				only authentication can catch
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "segment.h"

/* Reads len bytes at off, or exits. */
static void
walfix_pread(int fd, const char *what, void *buf, size_t len, uint64_t off)
{
	ssize_t	n = pread(fd, buf, len, (off_t)off);

	if (n != (ssize_t)len) {
		fprintf(stderr, "walfix: %s: offset %" PRIu64 ": %s\n", what, off,
		    n == -1 ? strerror(errno) : "short read");
		exit(2);
	}
}

/*
 * Walks the records of one segment from its header on, while their LSNs
 * follow one another from the segment's first (a reused file's earlier
 * records lie past the last one); returns the offset of the record with
 * LSN lsn (its payload length in *len), of the footer when lsn is 0, or
 * UINT64_MAX.
 */
static uint64_t
walfix_walk(int fd, const char *name, uint64_t lsn, uint32_t *len)
{
	unsigned char		 hb[REC_HDR_SIZE];
	struct rec_header	 h;
	struct stat		 sb;
	const char		*why;
	uint64_t		 off = SEG_HDR_SIZE, next;

	if (fstat(fd, &sb) != 0 || segment_parse_name(name, &next) != 0)
		return (UINT64_MAX);
	while (off + REC_HDR_SIZE <= (uint64_t)sb.st_size) {
		walfix_pread(fd, name, hb, sizeof hb, off);
		if (segment_decode_rec(hb, &h, &why) != 0 ||
		    h.lsn + !!(h.flags & REC_F_FOOTER) != next++)
			return (UINT64_MAX);
		if (lsn == 0 ? (h.flags & REC_F_FOOTER) != 0 :
		    (!(h.flags & REC_F_FOOTER) && h.lsn == lsn)) {
			*len = h.len;
			return (off);
		}
		if (h.flags & REC_F_FOOTER)
			return (UINT64_MAX);
		off += seg_rec_size(h.len);
	}
	return (UINT64_MAX);
}

/* walfix where DIR LSN */
static int
walfix_where(const char *dir, uint64_t lsn)
{
	struct seg_ent	*ents;
	char		*cause = NULL;
	size_t		 n, i;
	uint64_t	 off;
	uint32_t	 len = 0;
	int		 dfd, fd;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) == -1 ||
	    segment_list(dfd, dir, &ents, &n, NULL, NULL, NULL, &cause) != 0) {
		fprintf(stderr, "walfix: %s: %s\n", dir,
		    cause != NULL ? cause : strerror(errno));
		return (2);
	}
	for (i = n; i-- > 0; ) {
		if (ents[i].first > lsn)
			continue;
		if ((fd = openat(dfd, ents[i].name, O_RDONLY)) == -1) {
			fprintf(stderr, "walfix: %s/%s: %s\n", dir, ents[i].name,
			    strerror(errno));
			return (2);
		}
		off = walfix_walk(fd, ents[i].name, lsn, &len);
		close(fd);
		if (off == UINT64_MAX)
			break;
		printf("%s %" PRIu64 " %u\n", ents[i].name, off, len);
		free(ents);
		close(dfd);
		return (0);
	}
	free(ents);
	close(dfd);
	fprintf(stderr, "walfix: %s: no record with LSN %" PRIu64 "\n", dir,
	    lsn);
	return (1);
}

/* walfix footer DIR FILE */
static int
walfix_footer(const char *dir, const char *name)
{
	char		path[4096];
	uint64_t	off;
	uint32_t	len;
	int		fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY)) == -1) {
		fprintf(stderr, "walfix: %s: %s\n", path, strerror(errno));
		return (2);
	}
	off = walfix_walk(fd, name, 0, &len);
	close(fd);
	if (off == UINT64_MAX) {
		fprintf(stderr, "walfix: %s: no footer\n", path);
		return (1);
	}
	printf("%" PRIu64 "\n", off);
	return (0);
}

/* walfix flip FILE OFFSET */
static int
walfix_flip(const char *path, uint64_t off)
{
	unsigned char	c;
	int		fd;

	if ((fd = open(path, O_RDWR)) == -1) {
		fprintf(stderr, "walfix: %s: %s\n", path, strerror(errno));
		return (2);
	}
	walfix_pread(fd, path, &c, 1, off);
	c ^= 1;
	if (pwrite(fd, &c, 1, (off_t)off) != 1 || fsync(fd) != 0) {
		fprintf(stderr, "walfix: %s: %s\n", path, strerror(errno));
		return (2);
	}
	close(fd);
	return (0);
}

/* walfix refix FILE OFFSET */
static int
walfix_refix(const char *path, uint64_t off)
{
	struct seg_header	 sh;
	struct rec_header	 h;
	unsigned char		*rb;
	const char		*why;
	int			 fd;

	if ((fd = open(path, O_RDWR)) == -1) {
		fprintf(stderr, "walfix: %s: %s\n", path, strerror(errno));
		return (2);
	}
	if (segment_read_header(fd, &sh, &why) != 0) {
		fprintf(stderr, "walfix: %s: %s\n", path, why);
		return (2);
	}
	if ((rb = malloc(REC_HDR_SIZE + REC_MAX_PAYLOAD)) == NULL) {
		fprintf(stderr, "walfix: %s\n", strerror(errno));
		return (2);
	}
	walfix_pread(fd, path, rb, REC_HDR_SIZE, off);
	if (segment_decode_rec(rb, &h, &why) != 0) {
		fprintf(stderr, "walfix: %s: offset %" PRIu64 ": %s\n", path,
		    off, why);
		return (2);
	}
	walfix_pread(fd, path, rb + REC_HDR_SIZE, h.len, off + REC_HDR_SIZE);
	h.crc = segment_rec_crc(sh.seed, rb, rb + REC_HDR_SIZE, h.len);
	segment_encode_rec(rb, &h);
	if (pwrite(fd, rb, REC_HDR_SIZE, (off_t)off) != REC_HDR_SIZE ||
	    fsync(fd) != 0 || close(fd) != 0) {
		fprintf(stderr, "walfix: %s: %s\n", path, strerror(errno));
		return (2);
	}
	free(rb);
	return (0);
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "where") == 0)
		return (walfix_where(argv[2], strtoull(argv[3], NULL, 10)));
	if (argc == 4 && strcmp(argv[1], "footer") == 0)
		return (walfix_footer(argv[2], argv[3]));
	if (argc == 4 && strcmp(argv[1], "flip") == 0)
		return (walfix_flip(argv[2], strtoull(argv[3], NULL, 10)));
	if (argc == 4 && strcmp(argv[1], "refix") == 0)
		return (walfix_refix(argv[2], strtoull(argv[3], NULL, 10)));
	fprintf(stderr, "usage: walfix where DIR LSN | footer DIR FILE | "
	    "flip FILE OFFSET | refix FILE OFFSET\n");
	return (64);
}
