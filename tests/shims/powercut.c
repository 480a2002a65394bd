/* SPDX-License-Identifier: Apache-2.0 */
/*
 * powercut.c: an LD_PRELOAD shim for tests that lets a power cut be
 * simulated under the real walld. For files directly in the directory
 * named by WALD_POWERCUT_DIR it appends to an undo journal
 * (WALD_POWERCUT_JOURNAL) what each change overwrote, before making it,
 * and which changes a successful sync made durable, after it returned;
 * tests/helpers/powercut_image.py rolls a copy of the directory back to
 * what a power cut would leave. Every other call goes to the C library.
 *
 * Journal: a sequence of entries, each written with one write() to the
 * journal opened O_APPEND, so a kill -9 leaves whole entries and at most
 * one torn last one (its length or its CRC does not match):
 *
 *   off  size  field
 *   0    4     magic "PCJ1"
 *   4    4     total length of the entry, trailer included
 *   8    8     seq: 1, 2, 3... in journal order
 *   16   1     type: W data, S file synced, D directory synced, C create,
 *              R rename, U unlink, X unsupported (the image tool refuses)
 *   17   1     flags: 1 = the old bytes were all zero
 *   18   2     length of name1
 *   20   2     length of name2
 *   22   2     zero
 *   24   8     inode of the file (W, S, U; for R the replaced file's, or 0)
 *   32   8     W: offset of the old bytes; S, D: the sync covers entries
 *              with a smaller seq; R, U: aside copy number (0: none)
 *   40   8     W: the file's size before the change
 *   48   4     W: number of old bytes (bytes of the file at the offset
 *              that the change overwrote or cut away, up to its old size)
 *   52   8     CLOCK_BOOTTIME when the entry was made, in nanoseconds
 *              (what /proc/uptime counts)
 *   60   ...   name1, name2, then the old bytes without the zeros they
 *              end with (the entry's length tells how many are there)
 *   end  4     CRC-32 (zlib's) of everything before it
 *
 * Little-endian integers. name1 is the file's name in the directory at the
 * time (R: the old name; X: what was not supported), name2 the new name of
 * an R. A file replaced by a rename, or unlinked, is copied first to
 * JOURNAL.aside/N so that the image tool can bring it back.
 *
 * WALD_POWERCUT_FAIL_SYNC_AFTER=N: the N-th and every later fsync or
 * fdatasync of a file or of the directory fails with EIO, without syncing.
 *
 * One mutex orders the journal with the calls: an entry and its change are
 * made under it, so the journal's order is the order of the changes; a
 * sync takes the seq before it starts and marks only entries older than
 * that.
 */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PC_MAGIC	0x314a4350u	/* "PCJ1" little-endian */
#define PC_HDR		60
#define PC_FDS		65536
#define PC_ZERO		1

enum { FD_OTHER, FD_FILE, FD_DIR };

static struct {
	int	(*open)(const char *, int, ...);
	int	(*openat)(int, const char *, int, ...);
	int	(*close)(int);
	ssize_t	(*pread)(int, void *, size_t, off_t);
	ssize_t	(*pwrite)(int, const void *, size_t, off_t);
	ssize_t	(*pwritev)(int, const struct iovec *, int, off_t);
	ssize_t	(*write)(int, const void *, size_t);
	int	(*ftruncate)(int, off_t);
	int	(*fallocate)(int, int, off_t, off_t);
	int	(*fsync)(int);
	int	(*fdatasync)(int);
	int	(*rename)(const char *, const char *);
	int	(*renameat)(int, const char *, int, const char *);
	int	(*renameat2)(int, const char *, int, const char *, unsigned);
	int	(*unlink)(const char *);
	int	(*unlinkat)(int, const char *, int);
	int	(*mkdir)(const char *, mode_t);
	int	(*mkdirat)(int, const char *, mode_t);
	int	(*link)(const char *, const char *);
	int	(*linkat)(int, const char *, int, const char *, int);
} real;

static pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t	 once = PTHREAD_ONCE_INIT;
static int		 active;	/* WALD_POWERCUT_DIR and _JOURNAL set */
static char		 dir[PATH_MAX];	/* its real path */
static size_t		 dirlen;
static char		 aside[PATH_MAX];
static int		 jfd = -1;
static uint64_t		 seq;
static long		 fail_after;	/* 0: never */
static long		 syncs;
static unsigned char	 kind[PC_FDS];
static uint32_t		 crc_tab[256];

/* The impossible, or a journal that cannot be written: the test must not
   go on believing it has one. */
static void
die(const char *what)
{
	char	msg[512];
	int	n;

	n = snprintf(msg, sizeof msg, "powercut: %s: %s\n", what,
	    strerror(errno));
	if (n > 0 && real.write != NULL)
		(void)!real.write(2, msg, (size_t)n < sizeof msg ? (size_t)n :
		    sizeof msg - 1);
	abort();
}

static void *
sym(const char *name)
{
	void	*p = dlsym(RTLD_NEXT, name);

	if (p == NULL)
		abort();
	return (p);
}

/* Finds the C library's calls and reads the environment, once. */
static void
init(void)
{
	const char	*d = getenv("WALD_POWERCUT_DIR");
	const char	*j = getenv("WALD_POWERCUT_JOURNAL");
	const char	*f = getenv("WALD_POWERCUT_FAIL_SYNC_AFTER");
	uint32_t	 c, i, k;

	real.open = sym("open");
	real.openat = sym("openat");
	real.close = sym("close");
	real.pread = sym("pread");
	real.pwrite = sym("pwrite");
	real.pwritev = sym("pwritev");
	real.write = sym("write");
	real.ftruncate = sym("ftruncate");
	real.fallocate = sym("fallocate");
	real.fsync = sym("fsync");
	real.fdatasync = sym("fdatasync");
	real.rename = sym("rename");
	real.renameat = sym("renameat");
	real.renameat2 = sym("renameat2");
	real.unlink = sym("unlink");
	real.unlinkat = sym("unlinkat");
	real.mkdir = sym("mkdir");
	real.mkdirat = sym("mkdirat");
	real.link = sym("link");
	real.linkat = sym("linkat");
	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_tab[i] = c;
	}
	if (d == NULL || j == NULL || *d == '\0' || *j == '\0')
		return;
	if (realpath(d, dir) == NULL)
		die(d);
	dirlen = strlen(dir);
	if (snprintf(aside, sizeof aside, "%s.aside", j) >= (int)sizeof aside)
		die("journal name too long");
	if (real.mkdir(aside, 0700) != 0 && errno != EEXIST)
		die(aside);
	jfd = real.open(j, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (jfd == -1)
		die(j);
	if (f != NULL)
		fail_after = atol(f);
	active = 1;
}

static void
lock(void)
{
	if (pthread_mutex_lock(&mu) != 0)
		abort();
}

static void
unlock(void)
{
	if (pthread_mutex_unlock(&mu) != 0)
		abort();
}

static int
on(void)
{
	if (pthread_once(&once, init) != 0)
		abort();
	return (active);
}

static uint32_t
crc32(uint32_t c, const unsigned char *p, size_t n)
{
	c = ~c;
	while (n-- > 0)
		c = crc_tab[(c ^ *p++) & 0xff] ^ (c >> 8);
	return (~c);
}

static void
put(unsigned char *p, uint64_t v, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

struct entry {
	int		 type;
	const char	*name1, *name2;
	uint64_t	 ino, off, size, aux;
	const unsigned char *data;
	uint32_t	 ndata;
};

/* Appends one entry with one write(); the caller holds mu. */
static void
journal(const struct entry *e)
{
	size_t		 l1 = e->name1 ? strlen(e->name1) : 0;
	size_t		 l2 = e->name2 ? strlen(e->name2) : 0;
	size_t		 nd = e->ndata, len;
	unsigned char	*b, *p;
	int		 zero = 1, saved = errno;
	struct timespec	 ts;
	ssize_t		 w;

	while (nd > 0 && e->data[nd - 1] == 0)	/* zeros at the end: left out */
		nd--;
	zero = nd == 0;
	len = PC_HDR + l1 + l2 + nd + 4;
	if (l1 > 65535 || l2 > 65535 || len > UINT32_MAX)
		die("journal entry too long");
	if ((b = calloc(1, len)) == NULL)
		die("journal entry");
	put(b, PC_MAGIC, 4);
	put(b + 4, len, 4);
	put(b + 8, ++seq, 8);
	b[16] = (unsigned char)e->type;
	b[17] = zero && e->ndata > 0 ? PC_ZERO : 0;
	put(b + 18, l1, 2);
	put(b + 20, l2, 2);
	put(b + 24, e->ino, 8);
	put(b + 32, e->type == 'W' ? e->off : e->aux, 8);
	put(b + 40, e->size, 8);
	put(b + 48, e->ndata, 4);
	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		die("clock_gettime");
	put(b + 52, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, 8);
	p = b + PC_HDR;
	memcpy(p, e->name1 ? e->name1 : "", l1);
	memcpy(p + l1, e->name2 ? e->name2 : "", l2);
	if (nd > 0)
		memcpy(p + l1 + l2, e->data, nd);
	put(b + len - 4, crc32(0, b, len - 4), 4);
	w = real.write(jfd, b, len);
	if (w != (ssize_t)len)
		die("journal write");
	free(b);
	errno = saved;
}

/* The name in the directory that fd's file has now, or NULL when it is
   not (or no longer) there. */
static const char *
fd_name(int fd, char *buf, size_t cap)
{
	char	link[64];
	ssize_t	n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((n = readlink(link, buf, cap - 1)) <= 0)
		return (NULL);
	buf[n] = '\0';
	if ((size_t)n <= dirlen + 1 || memcmp(buf, dir, dirlen) != 0 ||
	    buf[dirlen] != '/' || strchr(buf + dirlen + 1, '/') != NULL)
		return (NULL);
	if (n > 10 && strcmp(buf + n - 10, " (deleted)") == 0)
		return (NULL);
	return (buf + dirlen + 1);
}

/* Makes p the path of name in dir (or in the aside directory). */
static void
path_in(char *p, size_t cap, const char *d, const char *name)
{
	int	n = snprintf(p, cap, "%s/%s", d, name);

	if (n < 0 || (size_t)n >= cap)
		die("path too long");
}

/* What fd is, for the table. */
static int
classify(int fd)
{
	char	buf[PATH_MAX], link[64];
	ssize_t	n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((n = readlink(link, buf, sizeof buf - 1)) <= 0)
		return (FD_OTHER);
	buf[n] = '\0';
	if ((size_t)n == dirlen && memcmp(buf, dir, dirlen) == 0)
		return (FD_DIR);
	return (fd_name(fd, buf, sizeof buf) != NULL ? FD_FILE : FD_OTHER);
}

static int
kind_of(int fd)
{
	return (fd >= 0 && fd < PC_FDS ? kind[fd] : FD_OTHER);
}

static void
set_kind(int fd)
{
	if (fd < 0)
		return;
	if (fd >= PC_FDS)
		die("file descriptor above the shim's table");
	kind[fd] = (unsigned char)classify(fd);
}

/* Whether path (relative to dirfd) names an entry directly in the
   directory; its name goes to name (NAME_MAX + 1 bytes). */
static int
in_dir(int dirfd, const char *path, char *name)
{
	char		 full[PATH_MAX], parent[PATH_MAX], base[PATH_MAX];
	char		 link[64], *slash;
	ssize_t		 n;

	if (path[0] == '/') {
		if (snprintf(full, sizeof full, "%s", path) >= (int)sizeof full)
			return (0);
	} else {
		if (dirfd == AT_FDCWD) {
			if (getcwd(base, sizeof base) == NULL)
				return (0);
		} else {
			snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
			if ((n = readlink(link, base, sizeof base - 1)) <= 0)
				return (0);
			base[n] = '\0';
		}
		if (snprintf(full, sizeof full, "%s/%s", base, path) >=
		    (int)sizeof full)
			return (0);
	}
	while ((n = (ssize_t)strlen(full)) > 1 && full[n - 1] == '/')
		full[n - 1] = '\0';
	slash = strrchr(full, '/');
	if (slash == NULL || strlen(slash + 1) > NAME_MAX ||
	    strcmp(slash + 1, ".") == 0 || strcmp(slash + 1, "..") == 0 ||
	    slash[1] == '\0')
		return (0);
	strcpy(name, slash + 1);
	*slash = '\0';
	if (realpath(full[0] ? full : "/", parent) == NULL)
		return (0);
	return (strcmp(parent, dir) == 0);
}

/* Reads size bytes at off of the file open as fd, through a descriptor of
   its own (fd may be O_DIRECT or write-only). */
static unsigned char *
read_old(int fd, off_t off, size_t n)
{
	unsigned char	*b;
	char		 link[64];
	ssize_t		 r;
	size_t		 got = 0;
	int		 rfd;

	if ((b = malloc(n ? n : 1)) == NULL)
		die("old bytes");
	if (n == 0)
		return (b);
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((rfd = real.open(link, O_RDONLY | O_CLOEXEC)) == -1)
		die("reopen to read the old bytes");
	while (got < n) {
		r = real.pread(rfd, b + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("read of the old bytes");
		got += (size_t)r;
	}
	if (real.close(rfd) != 0)
		die("close");
	return (b);
}

/* Journals the bytes [off, off + n) of fd's file, up to its size, and the
   size, before a change to them; the caller holds mu. */
static void
journal_data(int fd, off_t off, uint64_t n)
{
	char		 buf[PATH_MAX];
	const char	*name;
	struct stat	 st;
	struct entry	 e = { .type = 'W' };
	uint64_t	 keep = 0;

	if ((name = fd_name(fd, buf, sizeof buf)) == NULL)
		return;		/* unlinked: see DURABILITY.md */
	if (fstat(fd, &st) != 0)
		die("fstat");
	if ((uint64_t)off < (uint64_t)st.st_size)
		keep = (uint64_t)st.st_size - (uint64_t)off;
	if (keep > n)
		keep = n;
	if (keep > UINT32_MAX)
		die("a change of more than 4 GiB");
	e.name1 = name;
	e.ino = st.st_ino;
	e.off = (uint64_t)off;
	e.size = (uint64_t)st.st_size;
	e.ndata = (uint32_t)keep;
	e.data = read_old(fd, off, keep);
	journal(&e);
	free((void *)e.data);
}

/* Copies the file name in the directory to the aside directory; returns
   its number there. The caller holds mu. */
static uint64_t
copy_aside(const char *name, uint64_t *ino)
{
	char		 from[PATH_MAX], to[PATH_MAX], num[32], b[65536];
	struct stat	 st;
	uint64_t	 id = seq + 1;	/* the seq of the entry about to come */
	ssize_t		 r, w, done;
	int		 in, out;

	path_in(from, sizeof from, dir, name);
	snprintf(num, sizeof num, "%llu", (unsigned long long)id);
	path_in(to, sizeof to, aside, num);
	if ((in = real.open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		die(from);
	if (fstat(in, &st) != 0)
		die("fstat");
	*ino = st.st_ino;
	if ((out = real.open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		die(to);
	for (;;) {
		if ((r = read(in, b, sizeof b)) < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read for the aside copy");
		if (r == 0)
			break;
		for (done = 0; done < r; done += w)
			if ((w = real.write(out, b + done, (size_t)(r - done))) <= 0)
				die("write of the aside copy");
	}
	if (real.close(in) != 0 || real.close(out) != 0)
		die("close");
	return (id);
}

/* Journals a rename of name1 to name2 (R) or an unlink of name1 (U), with
   a copy aside of the file that goes; the caller holds mu. */
static void
journal_dirop(int type, const char *name1, const char *name2)
{
	struct entry	 e = { .type = type, .name1 = name1, .name2 = name2 };
	const char	*gone = type == 'U' ? name1 : type == 'R' ? name2 : NULL;
	char		 p[PATH_MAX];
	struct stat	 st;

	/* What does not exist cannot be renamed or unlinked: the call will
	   fail and change nothing, and its entry would undo a change that
	   was never made. */
	path_in(p, sizeof p, dir, name1);
	if (lstat(p, &st) != 0) {
		if (errno != ENOENT)
			die(p);
		return;
	}
	if (gone != NULL) {
		path_in(p, sizeof p, dir, gone);
		if (lstat(p, &st) == 0) {
			if (!S_ISREG(st.st_mode)) {
				e.type = 'X';
				e.name1 = "rename or unlink of a non-file";
			} else
				e.aux = copy_aside(gone, &e.ino);
		} else if (errno != ENOENT)
			die(p);
	}
	journal(&e);
}

static void
journal_unsupported(const char *what)
{
	struct entry	 e = { .type = 'X', .name1 = what };

	journal(&e);
}

/* Before an open: journals a file's creation, or what O_TRUNC cuts. */
static void
before_open(int dirfd, const char *path, int flags)
{
	char		 name[NAME_MAX + 1], p[PATH_MAX];
	struct stat	 st;
	struct entry	 e = { .type = 'C', .name1 = name };
	int		 fd;

	if (!(flags & (O_CREAT | O_TRUNC)) || !in_dir(dirfd, path, name))
		return;
	path_in(p, sizeof p, dir, name);
	if (lstat(p, &st) != 0) {
		if (errno != ENOENT)
			die(p);
		if (flags & O_CREAT)
			journal(&e);
		return;
	}
	if (!(flags & O_TRUNC) || !S_ISREG(st.st_mode) || st.st_size == 0 ||
	    (flags & O_ACCMODE) == O_RDONLY)
		return;
	if ((fd = real.open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		die(p);
	journal_data(fd, 0, (uint64_t)st.st_size);
	if (real.close(fd) != 0)
		die("close");
}

static int
do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int	fd;

	if (!on())
		return (real.openat(dirfd, path, flags, mode));
	/* An open that creates and cuts nothing journals nothing: no lock
	   held across it (opening a FIFO, as libfiu's control thread does,
	   waits for the other end, and would stop every other call). */
	if (!(flags & (O_CREAT | O_TRUNC))) {
		fd = real.openat(dirfd, path, flags, mode);
		if (fd >= 0) {
			int saved = errno;
			set_kind(fd);
			errno = saved;
		}
		return (fd);
	}
	lock();
	before_open(dirfd, path, flags);
	fd = real.openat(dirfd, path, flags, mode);
	if (fd >= 0) {
		int saved = errno;
		set_kind(fd);
		errno = saved;
	}
	unlock();
	return (fd);
}

int
open(const char *path, int flags, ...)
{
	mode_t	mode = 0;
	va_list	ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return (do_openat(AT_FDCWD, path, flags, mode));
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	mode_t	mode = 0;
	va_list	ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return (do_openat(dirfd, path, flags, mode));
}

int
close(int fd)
{
	if (on() && fd >= 0 && fd < PC_FDS)
		kind[fd] = FD_OTHER;
	return (real.close(fd));
}

ssize_t
pwrite(int fd, const void *b, size_t n, off_t off)
{
	ssize_t	r;

	if (!on() || kind_of(fd) != FD_FILE)
		return (real.pwrite(fd, b, n, off));
	lock();
	journal_data(fd, off, n);
	r = real.pwrite(fd, b, n, off);
	unlock();
	return (r);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	uint64_t	n = 0;
	ssize_t		r;
	int		i;

	if (!on() || kind_of(fd) != FD_FILE)
		return (real.pwritev(fd, iov, cnt, off));
	for (i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	lock();
	journal_data(fd, off, n);
	r = real.pwritev(fd, iov, cnt, off);
	unlock();
	return (r);
}

ssize_t
write(int fd, const void *b, size_t n)
{
	struct stat	st;
	off_t		off;
	ssize_t		r;
	int		fl;

	if (!on() || kind_of(fd) != FD_FILE)
		return (real.write(fd, b, n));
	lock();
	if ((fl = fcntl(fd, F_GETFL)) == -1)
		die("fcntl");
	if (fl & O_APPEND) {
		if (fstat(fd, &st) != 0)
			die("fstat");
		off = st.st_size;
	} else if ((off = lseek(fd, 0, SEEK_CUR)) == -1)
		die("lseek");
	journal_data(fd, off, n);
	r = real.write(fd, b, n);
	unlock();
	return (r);
}

int
ftruncate(int fd, off_t len)
{
	struct stat	st;
	int		r;

	if (!on() || kind_of(fd) != FD_FILE)
		return (real.ftruncate(fd, len));
	lock();
	if (fstat(fd, &st) != 0)
		die("fstat");
	if (len != st.st_size)	/* cut: the bytes cut away; grown: the size */
		journal_data(fd, len < st.st_size ? len : st.st_size,
		    len < st.st_size ? (uint64_t)(st.st_size - len) : 0);
	r = real.ftruncate(fd, len);
	unlock();
	return (r);
}

int
fallocate(int fd, int mode, off_t off, off_t len)
{
	struct stat	st;
	int		r;

	if (!on() || kind_of(fd) != FD_FILE)
		return (real.fallocate(fd, mode, off, len));
	lock();
	if (fstat(fd, &st) != 0)
		die("fstat");
	if (mode & ~FALLOC_FL_KEEP_SIZE)	/* punches, zeroes, collapses */
		journal_unsupported("fallocate that changes bytes");
	else if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > st.st_size)
		journal_data(fd, st.st_size, 0);
	r = real.fallocate(fd, mode, off, len);
	unlock();
	return (r);
}

/* fsync and fdatasync: a success marks the file's (or the directory's)
   entries older than the call as durable; a failure marks nothing. */
static int
do_sync(int fd, int (*call)(int))
{
	char		 buf[PATH_MAX];
	struct entry	 e;
	struct stat	 st;
	uint64_t	 upto;
	int		 k = kind_of(fd), r;

	if (!on() || k == FD_OTHER)
		return (call(fd));
	lock();
	upto = seq + 1;
	memset(&e, 0, sizeof e);
	e.type = k == FD_DIR ? 'D' : 'S';
	e.aux = upto;
	if (k == FD_FILE) {
		if (fstat(fd, &st) != 0)
			die("fstat");
		e.ino = st.st_ino;
		e.name1 = fd_name(fd, buf, sizeof buf);
	}
	if (fail_after > 0 && ++syncs >= fail_after) {
		unlock();
		errno = EIO;
		return (-1);
	}
	unlock();
	if ((r = call(fd)) != 0)
		return (r);
	lock();
	journal(&e);
	unlock();
	return (0);
}

int
fsync(int fd)
{
	if (!on())
		return (real.fsync(fd));
	return (do_sync(fd, real.fsync));
}

int
fdatasync(int fd)
{
	if (!on())
		return (real.fdatasync(fd));
	return (do_sync(fd, real.fdatasync));
}

static int
do_rename(int ofd, const char *from, int nfd, const char *to, unsigned fl)
{
	char	n1[NAME_MAX + 1], n2[NAME_MAX + 1];
	int	i1, i2, r;

	if (!on())
		return (real.renameat2(ofd, from, nfd, to, fl));
	lock();
	i1 = in_dir(ofd, from, n1);
	i2 = in_dir(nfd, to, n2);
	if (i1 && i2 && fl == 0)
		journal_dirop('R', n1, n2);
	else if (i1 || i2)
		journal_unsupported("rename into, out of, or with flags");
	r = fl == 0 ? real.renameat(ofd, from, nfd, to) :
	    real.renameat2(ofd, from, nfd, to, fl);
	unlock();
	return (r);
}

int
rename(const char *from, const char *to)
{
	return (do_rename(AT_FDCWD, from, AT_FDCWD, to, 0));
}

int
renameat(int ofd, const char *from, int nfd, const char *to)
{
	return (do_rename(ofd, from, nfd, to, 0));
}

int
renameat2(int ofd, const char *from, int nfd, const char *to, unsigned fl)
{
	return (do_rename(ofd, from, nfd, to, fl));
}

int
unlinkat(int dfd, const char *path, int flags)
{
	char	name[NAME_MAX + 1];
	int	r;

	if (!on())
		return (real.unlinkat(dfd, path, flags));
	lock();
	if (in_dir(dfd, path, name)) {
		if (flags & AT_REMOVEDIR)
			journal_unsupported("rmdir in the directory");
		else
			journal_dirop('U', name, NULL);
	}
	r = real.unlinkat(dfd, path, flags);
	unlock();
	return (r);
}

int
unlink(const char *path)
{
	return (unlinkat(AT_FDCWD, path, 0));
}

int
mkdirat(int dfd, const char *path, mode_t mode)
{
	char	name[NAME_MAX + 1];
	int	r;

	if (!on())
		return (real.mkdirat(dfd, path, mode));
	lock();
	if (in_dir(dfd, path, name))
		journal_unsupported("mkdir in the directory");
	r = real.mkdirat(dfd, path, mode);
	unlock();
	return (r);
}

int
mkdir(const char *path, mode_t mode)
{
	return (mkdirat(AT_FDCWD, path, mode));
}

int
linkat(int ofd, const char *from, int nfd, const char *to, int flags)
{
	char	name[NAME_MAX + 1];
	int	r;

	if (!on())
		return (real.linkat(ofd, from, nfd, to, flags));
	lock();
	if (in_dir(nfd, to, name))
		journal_unsupported("link into the directory");
	r = real.linkat(ofd, from, nfd, to, flags);
	unlock();
	return (r);
}

int
link(const char *from, const char *to)
{
	return (linkat(AT_FDCWD, from, AT_FDCWD, to, 0));
}

#if __SIZEOF_LONG__ == 8
/* The 64-bit-offset names (what a program built with _FILE_OFFSET_BITS=64
   calls, such as python3): the same calls where off_t has 64 bits. The
   opens are the same functions under a second name. */
int	open64(const char *, int, ...) __attribute__((alias("open")));
int	openat64(int, const char *, int, ...) __attribute__((alias("openat")));

ssize_t
pwrite64(int fd, const void *b, size_t n, off64_t off)
{
	return (pwrite(fd, b, n, off));
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	return (pwritev(fd, iov, cnt, off));
}

int
ftruncate64(int fd, off64_t len)
{
	return (ftruncate(fd, len));
}

int
fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	return (fallocate(fd, mode, off, len));
}
#endif
