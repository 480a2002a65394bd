/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mkseeds.c: writes the seed corpus of fuzz_segment (`make fuzz-seeds`).
 * Each seed is a data directory the engine itself made (records, a
 * rotation, a seal, a torn tail), encoded in fuzz_segment's input format
 * with the zeros at the end of each file left out.
 *
 *   mkseeds OUTDIR
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "segment.h"
#include "wal.h"

static char	work[] = "/tmp/mkseeds.XXXXXX";

static void
die(const char *what, const char *cause)
{
	fprintf(stderr, "mkseeds: %s: %s\n", what, cause != NULL ? cause :
	    strerror(errno));
	exit(1);
}

static void
put(FILE *f, const void *p, size_t n)
{
	if (fwrite(p, 1, n, f) != n)
		die("write", NULL);
}

static void
put32(FILE *f, uint32_t v)
{
	unsigned char	b[4];

	seg_put32(b, v);
	put(f, b, 4);
}

static void
put64(FILE *f, uint64_t v)
{
	unsigned char	b[8];

	seg_put64(b, v);
	put(f, b, 8);
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* Encodes the segment files of dir as one seed named out/name. */
static void
encode(const char *dir, const char *out, const char *name, uint8_t flags)
{
	struct dirent	*de;
	struct stat	 sb;
	DIR		*d;
	FILE		*f;
	char		 path[1024], *names[16];
	unsigned char	*buf;
	uint64_t	 first;
	size_t		 n = 0, i, len;
	int		 fd;

	if ((d = opendir(dir)) == NULL)
		die(dir, NULL);
	while ((de = readdir(d)) != NULL && n < 4) {
		if (segment_parse_name(de->d_name, &first) == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof names[0], name_cmp);
	snprintf(path, sizeof path, "%s/%s", out, name);
	if ((f = fopen(path, "w")) == NULL)
		die(path, NULL);
	put(f, &flags, 1);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &sb) != 0)
			die(path, NULL);
		if ((buf = malloc((size_t)sb.st_size + 1)) == NULL ||
		    read(fd, buf, (size_t)sb.st_size) != sb.st_size)
			die(path, NULL);
		close(fd);
		for (len = (size_t)sb.st_size; len > 0 && buf[len - 1] == 0;
		    len--)
			;
		segment_parse_name(names[i], &first);
		put64(f, first);
		put32(f, (uint32_t)sb.st_size);
		put32(f, (uint32_t)len);
		put(f, buf, len);
		free(buf);
		free(names[i]);
	}
	fclose(f);
}

static struct wal *
open_dir(const char *dir)
{
	struct wal_options	 o;
	struct wal		*w;
	char			*cause = NULL;

	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.segment_size = WAL_MIN_SEGMENT;
	o.direct_io = WAL_DIRECT_OFF;
	o.max_record = 4096;
	o.batch_bytes = 64 << 10;
	if ((w = wal_open(&o, &cause)) == NULL)
		die(dir, cause);
	return (w);
}

static void
append(struct wal *w, int n, uint32_t tenant)
{
	char		 payload[64];
	uint64_t	 lsn, durable;
	char		*cause = NULL;
	int		 i;

	for (i = 0; i < n; i++) {
		snprintf(payload, sizeof payload, "record %d of tenant %u", i,
		    tenant);
		if (wal_append(w, (uint16_t)i, tenant, (uint16_t)(i % 3),
		    payload, (uint32_t)strlen(payload), &lsn) != WAL_OK)
			die("append", "refused");
	}
	if (wal_sync(w, &durable, &cause) != 0)
		die("sync", cause);
}

static void
fresh(char *dir, size_t size, const char *name)
{
	char	cmd[1100];

	snprintf(dir, size, "%s/%s", work, name);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		die("rm", "failed");
}

int
main(int argc, char **argv)
{
	struct wal	*w;
	char		 dir[1024], path[1100], *cause = NULL;
	uint64_t	 last;
	int		 fd;

	if (argc != 2)
		die("usage", "mkseeds OUTDIR");
	if (mkdtemp(work) == NULL)
		die("mkdtemp", NULL);

	fresh(dir, sizeof dir, "empty");
	wal_close(open_dir(dir));
	encode(dir, argv[1], "empty", 3);

	fresh(dir, sizeof dir, "records");
	w = open_dir(dir);
	append(w, 5, 1);
	append(w, 3, 2);
	wal_close(w);
	encode(dir, argv[1], "records", 3);
	encode(dir, argv[1], "records-nofix", 0);
	encode(dir, argv[1], "records-read", 1 | (2 << 3));

	fresh(dir, sizeof dir, "rotated");
	w = open_dir(dir);
	append(w, 4, 7);
	if (wal_rotate(w, &cause) != 0)
		die("rotate", cause);
	append(w, 2, 8);
	wal_close(w);
	encode(dir, argv[1], "rotated", 3);

	fresh(dir, sizeof dir, "sealed");
	w = open_dir(dir);
	append(w, 3, 1);
	if (wal_seal(w, &last, &cause) != 0)
		die("seal", cause);
	wal_close(w);
	encode(dir, argv[1], "sealed", 3);

	/* A torn tail: bytes of a half-written record after the last one. */
	fresh(dir, sizeof dir, "torn");
	w = open_dir(dir);
	append(w, 3, 1);
	wal_close(w);
	snprintf(path, sizeof path, "%s/00000000000000000001.wal", dir);
	if ((fd = open(path, O_WRONLY)) == -1 ||
	    pwrite(fd, "WLRC\1(\0\0garbage", 15, 4096 + 3 * 72) != 15)
		die(path, NULL);
	close(fd);
	encode(dir, argv[1], "torn", 2);

	snprintf(path, sizeof path, "rm -rf '%s'", work);
	return (system(path) == 0 ? 0 : 1);
}
