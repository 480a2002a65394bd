/* SPDX-License-Identifier: Apache-2.0 */
/*
 * simio.c: the crash-simulating sysio layer (see simio.h). Real calls keep
 * the directory as the page cache would show it; the model keeps, per
 * file, the durable bytes and the list of unsynced changes, and for the
 * directory the durable names and the list of unsynced operations. Files
 * are tracked by name at open time, not by inode number (numbers are
 * reused after an unlink). Syncs are not passed to the disk: nothing here
 * needs the real ones, and the tests run many thousands of them.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simio.h"
#include "sysio.h"

#define SIM_MAXFD	4096
#define SIM_SECTOR	512
#define SIM_NAME	64
#define SIM_DIRECT_ALIGN 4096	/* the engine's O_DIRECT unit; the kernel
				   would refuse a misaligned write */

enum sim_fdkind { FD_NONE, FD_FILE, FD_DIR, FD_OTHER };
enum sim_dirop_kind { DOP_CREATE, DOP_RENAME, DOP_UNLINK };

/* An unsynced change to a file: a write, or a new size. */
struct sim_change {
	int		 resize;
	uint64_t	 off;		/* resize: the new size */
	uint64_t	 len;
	unsigned char	*data;
};

/* A file's bytes. */
struct sim_img {
	unsigned char	*p;
	uint64_t	 size;
	uint64_t	 cap;
};

/* A file (an inode): durable content and unsynced changes. */
struct sim_file {
	struct sim_img	 img;
	struct sim_change *ch;
	size_t		 nch;
	size_t		 chcap;
};

struct sim_name {
	char	name[SIM_NAME];
	size_t	file;
};

struct sim_ns {
	struct sim_name	*v;
	size_t		 n;
	size_t		 cap;
};

/* An unsynced directory operation. */
struct sim_dirop {
	enum sim_dirop_kind kind;
	char		 name[SIM_NAME];
	char		 to[SIM_NAME];	/* rename */
	size_t		 file;
};

struct sim_fd {
	enum sim_fdkind	kind;
	size_t		file;
	int		direct;
};

static struct {
	pthread_mutex_t	 lock;
	int		 on;
	char		*dir;
	uint64_t	 rng;
	uint64_t	 ops;
	uint64_t	 crash_at;
	int		 crashed;
	uint64_t	 calls[SIMIO_NCALLS];
	void		(*cut_cb)(void *, uint64_t);
	void		*cut_arg;
	struct simio_fault faults[8];
	size_t		 nfaults;
	struct sim_file	*files;
	size_t		 nfiles;
	size_t		 filecap;
	struct sim_ns	 live;
	struct sim_ns	 durable;
	struct sim_dirop *dops;
	size_t		 ndops;
	size_t		 dopcap;
	struct sim_fd	 fd[SIM_MAXFD];
} sim = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Out of memory in a test helper: nothing sensible to do but stop. */
static void *
sim_xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n == 0 ? 1 : n)) == NULL) {
		perror("simio");
		abort();
	}
	return (p);
}

/* xorshift64*: the one source of randomness, seeded by simio_start. */
static uint64_t
sim_rand(void)
{
	sim.rng ^= sim.rng >> 12;
	sim.rng ^= sim.rng << 25;
	sim.rng ^= sim.rng >> 27;
	return (sim.rng * 0x2545F4914F6CDD1DULL);
}

/* Looks a name up: its index in ns, or -1. */
static ssize_t
sim_ns_find(const struct sim_ns *ns, const char *name)
{
	size_t	i;

	for (i = 0; i < ns->n; i++) {
		if (strcmp(ns->v[i].name, name) == 0)
			return ((ssize_t)i);
	}
	return (-1);
}

/* Points name at file, replacing what it named. */
static void
sim_ns_set(struct sim_ns *ns, const char *name, size_t file)
{
	ssize_t	i = sim_ns_find(ns, name);

	if (i == -1) {
		if (ns->n == ns->cap) {
			ns->cap = ns->cap ? ns->cap * 2 : 16;
			ns->v = sim_xrealloc(ns->v, ns->cap * sizeof *ns->v);
		}
		i = (ssize_t)ns->n++;
		snprintf(ns->v[i].name, SIM_NAME, "%s", name);
	}
	ns->v[i].file = file;
}

/* Removes name. */
static void
sim_ns_del(struct sim_ns *ns, const char *name)
{
	ssize_t	i = sim_ns_find(ns, name);

	if (i != -1)
		ns->v[i] = ns->v[--ns->n];
}

/* A new file, empty on disk. */
static size_t
sim_file_new(void)
{
	struct sim_file	*f;

	if (sim.nfiles == sim.filecap) {
		sim.filecap = sim.filecap ? sim.filecap * 2 : 16;
		sim.files = sim_xrealloc(sim.files, sim.filecap *
		    sizeof *sim.files);
	}
	f = &sim.files[sim.nfiles];
	memset(f, 0, sizeof *f);
	return (sim.nfiles++);
}

/* Sets the size, zero-filling what grows. */
static void
sim_img_resize(struct sim_img *m, uint64_t size)
{
	if (size > m->cap) {
		m->cap = size + (size >> 2) + 4096;
		m->p = sim_xrealloc(m->p, m->cap);
	}
	if (size > m->size)
		memset(m->p + m->size, 0, size - m->size);
	m->size = size;
}

/* Records an unsynced change (data copied). */
static void
sim_file_change(struct sim_file *f, int resize, uint64_t off,
    const void *data, uint64_t len)
{
	struct sim_change	*c;

	if (f->nch == f->chcap) {
		f->chcap = f->chcap ? f->chcap * 2 : 16;
		f->ch = sim_xrealloc(f->ch, f->chcap * sizeof *f->ch);
	}
	c = &f->ch[f->nch++];
	c->resize = resize;
	c->off = off;
	c->len = len;
	c->data = NULL;
	if (!resize && len > 0) {
		c->data = sim_xrealloc(NULL, len);
		memcpy(c->data, data, len);
	}
}

/*
 * Applies unsynced changes to a file's bytes as the policy says, oldest
 * first. A write's sectors (512-byte units of the file) are each atomic:
 * MIXED keeps all of a write, none of it, or each sector at random; a
 * kept later write over a lost earlier one is a reordering the disk may
 * do.
 */
static void
sim_img_apply(struct sim_img *m, const struct sim_change *ch, size_t n,
    enum simio_keep k, uint64_t *lost)
{
	const struct sim_change	*c;
	uint64_t		 s, a, b;
	size_t			 i;
	int			 how, keep;

	for (i = 0; i < n; i++) {
		c = &ch[i];
		how = k == SIMIO_KEEP ? 1 : k == SIMIO_DROP ? 0 :
		    (int)(sim_rand() % 4);
		if (c->resize) {
			keep = how == 1 || (how >= 2 && (sim_rand() & 1));
			if (keep)
				sim_img_resize(m, c->off);
			else if (lost != NULL)
				(*lost)++;
			continue;
		}
		for (s = c->off - c->off % SIM_SECTOR; s < c->off + c->len;
		    s += SIM_SECTOR) {
			keep = how == 1 || (how >= 2 && (sim_rand() & 1));
			if (!keep) {
				if (lost != NULL)
					(*lost)++;
				continue;
			}
			a = s > c->off ? s : c->off;
			b = s + SIM_SECTOR < c->off + c->len ? s + SIM_SECTOR :
			    c->off + c->len;
			if (b > m->size)
				sim_img_resize(m, b);
			memcpy(m->p + a, c->data + (a - c->off), b - a);
		}
	}
}

/* Makes a file's unsynced changes durable as the policy says. */
static void
sim_file_settle(struct sim_file *f, enum simio_keep k)
{
	size_t	i;

	sim_img_apply(&f->img, f->ch, f->nch, k, NULL);
	for (i = 0; i < f->nch; i++)
		free(f->ch[i].data);
	f->nch = 0;
}

/*
 * Applies unsynced directory operations to a set of names as the policy
 * says. Journaling file systems keep them in order, so what survives is a
 * prefix: MIXED keeps the first k of them, k at random; or, half of the
 * time, any subset (harsher than any journal).
 */
static void
sim_ns_apply(struct sim_ns *ns, const struct sim_dirop *ops, size_t n,
    enum simio_keep k, uint64_t *lost)
{
	const struct sim_dirop	*d;
	ssize_t			 i;
	size_t			 j, keep;
	int			 subset;

	keep = k == SIMIO_KEEP ? n : k == SIMIO_DROP ? 0 :
	    (size_t)(sim_rand() % (n + 1));
	subset = k == SIMIO_MIXED && (sim_rand() & 1);
	for (j = 0; j < n; j++) {
		d = &ops[j];
		if (subset ? (sim_rand() & 1) != 0 : j >= keep) {
			if (lost != NULL)
				(*lost)++;
			continue;
		}
		switch (d->kind) {
		case DOP_CREATE:
			sim_ns_set(ns, d->name, d->file);
			break;
		case DOP_RENAME:
			/* Only if the source is there: its create may be lost. */
			i = sim_ns_find(ns, d->name);
			if (i == -1 || ns->v[i].file != d->file)
				break;
			sim_ns_del(ns, d->name);
			sim_ns_set(ns, d->to, d->file);
			break;
		case DOP_UNLINK:
			i = sim_ns_find(ns, d->name);
			if (i != -1 && ns->v[i].file == d->file)
				sim_ns_del(ns, d->name);
			break;
		}
	}
}

/* Makes the directory's unsynced operations durable. */
static void
sim_dir_settle(void)
{
	sim_ns_apply(&sim.durable, sim.dops, sim.ndops, SIMIO_KEEP, NULL);
	sim.ndops = 0;
}

/* Records an unsynced directory operation. */
static void
sim_dirop(enum sim_dirop_kind kind, const char *name, const char *to,
    size_t file)
{
	struct sim_dirop	*d;

	if (sim.ndops == sim.dopcap) {
		sim.dopcap = sim.dopcap ? sim.dopcap * 2 : 16;
		sim.dops = sim_xrealloc(sim.dops, sim.dopcap * sizeof *sim.dops);
	}
	d = &sim.dops[sim.ndops++];
	d->kind = kind;
	snprintf(d->name, SIM_NAME, "%s", name);
	snprintf(d->to, SIM_NAME, "%s", to != NULL ? to : "");
	d->file = file;
}

static const struct sysio simio_table;

/*
 * Counts a mutating call of kind c. Returns -1 when it must fail: after
 * the power cut (errno EIO), or by an injected fault (errno set; *short_
 * write set instead for a short pwrite). *crash is set when this call is
 * the power cut: the caller does it (unless a sync) and then fails.
 */
static int
sim_enter(enum simio_call c, int *short_write, int *crash)
{
	const struct simio_fault	*f;
	uint64_t			 n;
	size_t				 i;

	*crash = 0;
	if (short_write != NULL)
		*short_write = 0;
	if (sim.crashed) {
		errno = EIO;
		return (-1);
	}
	if (sim.cut_cb != NULL) {
		/* A power cut here, before this call: the test checks it with
		   the real system calls, then the run goes on. */
		pthread_mutex_unlock(&sim.lock);
		sysio = sysio_real;
		sim.cut_cb(sim.cut_arg, sim.ops);
		sysio = simio_table;
		pthread_mutex_lock(&sim.lock);
	}
	sim.ops++;
	n = ++sim.calls[c];
	if (sim.crash_at != 0 && sim.ops == sim.crash_at) {
		sim.crashed = 1;
		*crash = 1;
		return (0);
	}
	for (i = 0; i < sim.nfaults; i++) {
		f = &sim.faults[i];
		if (f->call != c || n < f->nth ||
		    n >= f->nth + (f->count ? f->count : 1))
			continue;
		if (f->err == 0 && short_write != NULL) {
			*short_write = 1;
			return (0);
		}
		errno = f->err;
		return (-1);
	}
	return (0);
}

/* The model's file behind a name in the directory, or -1. */
static ssize_t
sim_lookup(const char *name)
{
	ssize_t	i = sim_ns_find(&sim.live, name);

	return (i == -1 ? -1 : (ssize_t)sim.live.v[i].file);
}

/* 1 when dirfd is the simulated directory and name is a plain name in it. */
static int
sim_ours(int dirfd, const char *name)
{
	return (dirfd >= 0 && dirfd < SIM_MAXFD &&
	    sim.fd[dirfd].kind == FD_DIR && strchr(name, '/') == NULL &&
	    strlen(name) < SIM_NAME);
}

/* Remembers what a new descriptor is. */
static void
sim_fd_set(int fd, enum sim_fdkind kind, size_t file, int direct)
{
	if (fd < 0)
		return;
	if (fd >= SIM_MAXFD) {
		fprintf(stderr, "simio: descriptor %d above %d\n", fd,
		    SIM_MAXFD);
		abort();
	}
	sim.fd[fd].kind = kind;
	sim.fd[fd].file = file;
	sim.fd[fd].direct = direct;
}

/* The descriptor's entry, NULL when it is not one of ours. */
static struct sim_fd *
sim_fd_get(int fd)
{
	if (fd < 0 || fd >= SIM_MAXFD || sim.fd[fd].kind == FD_NONE ||
	    sim.fd[fd].kind == FD_OTHER)
		return (NULL);
	return (&sim.fd[fd]);
}

static int
simio_open(const char *path, int flags, mode_t mode)
{
	int	fd, dir;

	pthread_mutex_lock(&sim.lock);
	dir = strcmp(path, sim.dir) == 0;
	fd = sysio_real.open(path, flags & ~O_DIRECT, mode);
	sim_fd_set(fd, dir ? FD_DIR : FD_OTHER, 0, 0);
	pthread_mutex_unlock(&sim.lock);
	return (fd);
}

static int
simio_openat(int dirfd, const char *name, int flags, mode_t mode)
{
	ssize_t	file;
	int	fd = -1, crash = 0, creating, err;

	pthread_mutex_lock(&sim.lock);
	if (!sim_ours(dirfd, name)) {
		fd = sysio_real.openat(dirfd, name, flags & ~O_DIRECT, mode);
		sim_fd_set(fd, FD_OTHER, 0, 0);
		goto out;
	}
	file = sim_lookup(name);
	creating = file == -1 && (flags & O_CREAT);
	if (creating || (file != -1 && (flags & O_TRUNC))) {
		if (sim_enter(SIMIO_CREATE, NULL, &crash) != 0)
			goto out;
	}
	/* At the power cut only the model changes: a sweep's parent goes
	   on with the real directory. */
	fd = crash ? -1 : sysio_real.openat(dirfd, name, flags & ~O_DIRECT,
	    mode);
	if (fd == -1 && !crash)
		goto out;
	if (creating) {
		file = (ssize_t)sim_file_new();
		sim_ns_set(&sim.live, name, (size_t)file);
		sim_dirop(DOP_CREATE, name, NULL, (size_t)file);
	} else if (file == -1) {
		/* A directory, or a file made behind simio's back. */
		sim_fd_set(fd, FD_OTHER, 0, 0);
		goto out;
	} else if (flags & O_TRUNC)
		sim_file_change(&sim.files[file], 1, 0, NULL, 0);
	if (crash)
		errno = EIO;
	else
		sim_fd_set(fd, FD_FILE, (size_t)file, (flags & O_DIRECT) != 0);
out:
	err = errno;
	pthread_mutex_unlock(&sim.lock);
	errno = err;
	return (fd);
}

static int
simio_close(int fd)
{
	pthread_mutex_lock(&sim.lock);
	if (fd >= 0 && fd < SIM_MAXFD)
		sim.fd[fd].kind = FD_NONE;
	pthread_mutex_unlock(&sim.lock);
	return (sysio_real.close(fd));
}

static ssize_t
simio_pread(int fd, void *buf, size_t n, off_t off)
{
	return (sysio_real.pread(fd, buf, n, off));
}

static ssize_t
simio_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct sim_fd	*e;
	ssize_t		 r;
	int		 short_write, crash, err;

	pthread_mutex_lock(&sim.lock);
	if ((e = sim_fd_get(fd)) == NULL || e->kind != FD_FILE) {
		pthread_mutex_unlock(&sim.lock);
		return (sysio_real.pwrite(fd, buf, n, off));
	}
	if (e->direct && ((uintptr_t)buf % SIM_DIRECT_ALIGN != 0 ||
	    n % SIM_DIRECT_ALIGN != 0 || off % SIM_DIRECT_ALIGN != 0)) {
		pthread_mutex_unlock(&sim.lock);
		fprintf(stderr, "simio: misaligned O_DIRECT write of %zu bytes "
		    "at offset %lld\n", n, (long long)off);
		errno = EINVAL;
		return (-1);
	}
	if (sim_enter(SIMIO_PWRITE, &short_write, &crash) != 0) {
		err = errno;
		pthread_mutex_unlock(&sim.lock);
		errno = err;
		return (-1);
	}
	/* A short write: half of it (whole blocks under O_DIRECT, as the
	   kernel would). */
	if (short_write && !e->direct && n > 1)
		n /= 2;
	else if (short_write && e->direct && n > SIM_DIRECT_ALIGN)
		n = (n / 2) & ~(size_t)(SIM_DIRECT_ALIGN - 1);
	if (crash) {
		/* Written into the page cache, never synced: the model only. */
		sim_file_change(&sim.files[e->file], 0, (uint64_t)off, buf,
		    (uint64_t)n);
		pthread_mutex_unlock(&sim.lock);
		errno = EIO;
		return (-1);
	}
	r = sysio_real.pwrite(fd, buf, n, off);
	err = errno;
	if (r > 0)
		sim_file_change(&sim.files[e->file], 0, (uint64_t)off, buf,
		    (uint64_t)r);
	pthread_mutex_unlock(&sim.lock);
	errno = err;
	return (r);
}

/*
 * fsync and fdatasync: both make the file's changes durable (its size
 * too: fdatasync covers what is needed to read the data back). On a
 * directory: its operations. A failed one settles at random, for good.
 */
static int
sim_sync(int fd, enum simio_call c)
{
	struct sim_fd	*e;
	int		 crash, err;

	pthread_mutex_lock(&sim.lock);
	if ((e = sim_fd_get(fd)) == NULL) {
		pthread_mutex_unlock(&sim.lock);
		return (0);
	}
	if (e->kind == FD_DIR)
		c = SIMIO_DIRSYNC;
	if (sim_enter(c, NULL, &crash) != 0 || crash) {
		err = crash ? EIO : errno;
		/* Linux: a file's pages are clean now, on disk or not. A
		   directory's operations stay in the journal's hands. */
		if (!crash && !sim.crashed && e->kind == FD_FILE)
			sim_file_settle(&sim.files[e->file], SIMIO_MIXED);
		pthread_mutex_unlock(&sim.lock);
		errno = err;
		return (-1);
	}
	if (e->kind == FD_DIR)
		sim_dir_settle();
	else
		sim_file_settle(&sim.files[e->file], SIMIO_KEEP);
	pthread_mutex_unlock(&sim.lock);
	return (0);
}

static int
simio_fsync(int fd)
{
	return (sim_sync(fd, SIMIO_FSYNC));
}

static int
simio_fdatasync(int fd)
{
	return (sim_sync(fd, SIMIO_FDATASYNC));
}

static int
simio_ftruncate(int fd, off_t len)
{
	struct sim_fd	*e;
	int		 crash, r, err;

	pthread_mutex_lock(&sim.lock);
	if ((e = sim_fd_get(fd)) == NULL || e->kind != FD_FILE) {
		pthread_mutex_unlock(&sim.lock);
		return (sysio_real.ftruncate(fd, len));
	}
	if (sim_enter(SIMIO_FTRUNCATE, NULL, &crash) != 0) {
		err = errno;
		pthread_mutex_unlock(&sim.lock);
		errno = err;
		return (-1);
	}
	r = crash ? 0 : sysio_real.ftruncate(fd, len);
	err = errno;
	if (r == 0)
		sim_file_change(&sim.files[e->file], 1, (uint64_t)len, NULL, 0);
	pthread_mutex_unlock(&sim.lock);
	errno = crash ? EIO : err;
	return (crash ? -1 : r);
}

static int
simio_fallocate(int fd, int mode, off_t off, off_t len)
{
	struct sim_fd	*e;
	struct stat	 sb;
	int		 crash, r, err;

	pthread_mutex_lock(&sim.lock);
	if ((e = sim_fd_get(fd)) == NULL || e->kind != FD_FILE) {
		pthread_mutex_unlock(&sim.lock);
		return (sysio_real.fallocate(fd, mode, off, len));
	}
	if (sim_enter(SIMIO_FALLOCATE, NULL, &crash) != 0) {
		err = errno;
		pthread_mutex_unlock(&sim.lock);
		errno = err;
		return (-1);
	}
	r = crash ? 0 : sysio_real.fallocate(fd, mode, off, len);
	err = errno;
	if (r == 0 && mode == 0 && fstat(fd, &sb) == 0)
		sim_file_change(&sim.files[e->file], 1,
		    (uint64_t)sb.st_size > (uint64_t)(off + len) ?
		    (uint64_t)sb.st_size : (uint64_t)(off + len), NULL, 0);
	pthread_mutex_unlock(&sim.lock);
	errno = crash ? EIO : err;
	return (crash ? -1 : r);
}

static int
simio_renameat(int olddirfd, const char *from, int newdirfd, const char *to)
{
	ssize_t	file = -1;
	int	crash, r, err;

	pthread_mutex_lock(&sim.lock);
	if (!sim_ours(olddirfd, from) || !sim_ours(newdirfd, to) ||
	    (!sim.crashed && (file = sim_lookup(from)) == -1)) {
		pthread_mutex_unlock(&sim.lock);
		return (sysio_real.renameat(olddirfd, from, newdirfd, to));
	}
	if (sim_enter(SIMIO_RENAME, NULL, &crash) != 0) {
		err = errno;
		pthread_mutex_unlock(&sim.lock);
		errno = err;
		return (-1);
	}
	r = crash ? 0 : sysio_real.renameat(olddirfd, from, newdirfd, to);
	err = errno;
	if (r == 0) {
		sim_ns_del(&sim.live, from);
		sim_ns_set(&sim.live, to, (size_t)file);
		sim_dirop(DOP_RENAME, from, to, (size_t)file);
	}
	pthread_mutex_unlock(&sim.lock);
	errno = crash ? EIO : err;
	return (crash ? -1 : r);
}

static int
simio_unlinkat(int dirfd, const char *name, int flags)
{
	ssize_t	file = -1;
	int	crash, r, err;

	pthread_mutex_lock(&sim.lock);
	if (!sim_ours(dirfd, name) ||
	    (!sim.crashed && (file = sim_lookup(name)) == -1)) {
		pthread_mutex_unlock(&sim.lock);
		return (sysio_real.unlinkat(dirfd, name, flags));
	}
	if (sim_enter(SIMIO_UNLINK, NULL, &crash) != 0) {
		err = errno;
		pthread_mutex_unlock(&sim.lock);
		errno = err;
		return (-1);
	}
	r = crash ? 0 : sysio_real.unlinkat(dirfd, name, flags);
	err = errno;
	if (r == 0) {
		sim_ns_del(&sim.live, name);
		sim_dirop(DOP_UNLINK, name, NULL, (size_t)file);
	}
	pthread_mutex_unlock(&sim.lock);
	errno = crash ? EIO : err;
	return (crash ? -1 : r);
}

static const struct sysio simio_table = {
	.open = simio_open,
	.openat = simio_openat,
	.close = simio_close,
	.pread = simio_pread,
	.pwrite = simio_pwrite,
	.fsync = simio_fsync,
	.fdatasync = simio_fdatasync,
	.ftruncate = simio_ftruncate,
	.fallocate = simio_fallocate,
	.renameat = simio_renameat,
	.unlinkat = simio_unlinkat,
};

/* 1 when a directory entry is a regular file. */
static int
sim_regular(int dfd, const struct dirent *de)
{
	struct stat	sb;

	if (de->d_type != DT_UNKNOWN)
		return (de->d_type == DT_REG);
	return (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(sb.st_mode));
}

/* Reads a whole regular file into a new model file. */
static void
sim_load(int dfd, const char *name)
{
	struct sim_file	*f;
	struct stat	 sb;
	size_t		 i;
	ssize_t		 n;
	uint64_t	 done = 0;
	int		 fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) != 0) {
		perror("simio: load");
		abort();
	}
	i = sim_file_new();
	f = &sim.files[i];
	sim_img_resize(&f->img, (uint64_t)sb.st_size);
	while (done < f->img.size) {
		n = pread(fd, f->img.p + done, f->img.size - done, (off_t)done);
		if (n <= 0) {
			perror("simio: load");
			abort();
		}
		done += (uint64_t)n;
	}
	close(fd);
	sim_ns_set(&sim.live, name, i);
	sim_ns_set(&sim.durable, name, i);
}

void
simio_start(const char *dir, uint64_t seed)
{
	DIR		*d;
	struct dirent	*de;

	simio_stop();
	pthread_mutex_lock(&sim.lock);
	sim.dir = strdup(dir);
	sim.rng = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
	if (sim.rng == 0)
		sim.rng = 1;
	if ((d = opendir(dir)) == NULL) {
		perror("simio: opendir");
		abort();
	}
	while ((de = readdir(d)) != NULL) {
		if (sim_regular(dirfd(d), de) && strlen(de->d_name) < SIM_NAME)
			sim_load(dirfd(d), de->d_name);
	}
	closedir(d);
	sim.on = 1;
	sysio = simio_table;
	pthread_mutex_unlock(&sim.lock);
}

void
simio_on_call(void (*cb)(void *, uint64_t), void *arg)
{
	pthread_mutex_lock(&sim.lock);
	sim.cut_cb = cb;
	sim.cut_arg = arg;
	pthread_mutex_unlock(&sim.lock);
}

void
simio_clear_faults(void)
{
	pthread_mutex_lock(&sim.lock);
	sim.nfaults = 0;
	pthread_mutex_unlock(&sim.lock);
}

void
simio_crash_at(uint64_t op)
{
	pthread_mutex_lock(&sim.lock);
	sim.crash_at = op;
	pthread_mutex_unlock(&sim.lock);
}

void
simio_fault(const struct simio_fault *f)
{
	pthread_mutex_lock(&sim.lock);
	if (sim.nfaults < sizeof sim.faults / sizeof sim.faults[0])
		sim.faults[sim.nfaults++] = *f;
	pthread_mutex_unlock(&sim.lock);
}

uint64_t
simio_ops(void)
{
	return (sim.ops);
}

uint64_t
simio_calls(enum simio_call c)
{
	return (sim.calls[c]);
}

int
simio_crashed(void)
{
	return (sim.crashed);
}

uint64_t
simio_unsynced(const char *suffix)
{
	struct sim_file	*f;
	const char	*name;
	uint64_t	 n = 0;
	size_t		 i, j, len;

	pthread_mutex_lock(&sim.lock);
	for (i = 0; i < sim.live.n; i++) {
		name = sim.live.v[i].name;
		f = &sim.files[sim.live.v[i].file];
		len = strlen(name);
		if (suffix != NULL && (len < strlen(suffix) ||
		    strcmp(name + len - strlen(suffix), suffix) != 0))
			continue;
		for (j = 0; j < f->nch; j++)
			n += f->ch[j].resize ? 0 : f->ch[j].len;
	}
	pthread_mutex_unlock(&sim.lock);
	return (n);
}

/* Writes len bytes to a new file name in dfd. */
static int
sim_write_file(int dfd, const char *name, const unsigned char *p,
    uint64_t len)
{
	uint64_t	done = 0;
	ssize_t		n;
	int		fd;

	if ((fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0640)) == -1)
		return (-1);
	while (done < len) {
		n = pwrite(fd, p + done, len - done, (off_t)done);
		if (n <= 0) {
			close(fd);
			return (-1);
		}
		done += (uint64_t)n;
	}
	return (close(fd));
}

int
simio_image(const char *dst, enum simio_keep files, enum simio_keep dirops,
    uint64_t seed, char *desc, size_t desclen)
{
	DIR		*d;
	struct dirent	*de;
	struct sim_ns	 ns;
	struct sim_file	*f;
	struct sim_img	 m;
	uint64_t	 lost_sectors = 0, lost_dirops = 0, rng;
	size_t		 i;
	int		 dfd, r = 0, err;

	pthread_mutex_lock(&sim.lock);
	rng = sim.rng;
	sim.rng = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
	if (sim.rng == 0)
		sim.rng = 1;
	ns.n = ns.cap = sim.durable.n;
	ns.v = sim_xrealloc(NULL, ns.n * sizeof *ns.v);
	if (ns.n > 0)
		memcpy(ns.v, sim.durable.v, ns.n * sizeof *ns.v);
	sim_ns_apply(&ns, sim.dops, sim.ndops, dirops, &lost_dirops);
	if (dst == NULL)
		dst = sim.dir;
	if ((mkdir(dst, 0750) != 0 && errno != EEXIST) ||
	    (d = opendir(dst)) == NULL) {
		r = -1;
		goto out;
	}
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (sim_regular(dfd, de) && unlinkat(dfd, de->d_name, 0) != 0)
			r = -1;
	}
	for (i = 0; r == 0 && i < ns.n; i++) {
		f = &sim.files[ns.v[i].file];
		m.size = m.cap = f->img.size;
		m.p = sim_xrealloc(NULL, m.cap);
		if (m.size > 0)
			memcpy(m.p, f->img.p, m.size);
		sim_img_apply(&m, f->ch, f->nch, files, &lost_sectors);
		r = sim_write_file(dfd, ns.v[i].name, m.p, m.size);
		free(m.p);
	}
	closedir(d);
	if (desc != NULL)
		snprintf(desc, desclen, "power cut after %llu calls%s: %llu "
		    "unsynced sectors or sizes lost, %llu directory operations "
		    "undone", (unsigned long long)sim.ops,
		    sim.crashed ? " (crash point)" : "",
		    (unsigned long long)lost_sectors,
		    (unsigned long long)lost_dirops);
out:
	err = errno;
	free(ns.v);
	sim.rng = rng;
	pthread_mutex_unlock(&sim.lock);
	errno = err;
	return (r);
}

int
simio_power_loss(const char *dst, enum simio_keep files,
    enum simio_keep dirops, char *desc, size_t desclen)
{
	int	r, err;

	sysio = sysio_real;
	r = simio_image(dst, files, dirops, sim_rand(), desc, desclen);
	err = errno;
	simio_stop();
	errno = err;
	return (r);
}

void
simio_stop(void)
{
	size_t	i, j;

	pthread_mutex_lock(&sim.lock);
	sysio = sysio_real;
	for (i = 0; i < sim.nfiles; i++) {
		for (j = 0; j < sim.files[i].nch; j++)
			free(sim.files[i].ch[j].data);
		free(sim.files[i].ch);
		free(sim.files[i].img.p);
	}
	free(sim.files);
	free(sim.live.v);
	free(sim.durable.v);
	free(sim.dops);
	free(sim.dir);
	sim.files = NULL;
	sim.nfiles = sim.filecap = 0;
	memset(&sim.live, 0, sizeof sim.live);
	memset(&sim.durable, 0, sizeof sim.durable);
	sim.dops = NULL;
	sim.ndops = sim.dopcap = 0;
	sim.dir = NULL;
	sim.on = 0;
	sim.ops = sim.crash_at = 0;
	sim.crashed = 0;
	sim.cut_cb = NULL;
	sim.cut_arg = NULL;
	memset(sim.calls, 0, sizeof sim.calls);
	sim.nfaults = 0;
	memset(sim.fd, 0, sizeof sim.fd);
	pthread_mutex_unlock(&sim.lock);
}
