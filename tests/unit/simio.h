/* SPDX-License-Identifier: Apache-2.0 */
/*
 * simio.h: a crash-simulating `sysio` layer for the durability tests, in
 * the spirit of SQLite's crash-test VFS. The engine's file operations go
 * to a real directory (what the page cache shows), and beside it simio
 * keeps a model of what the disk holds: per file, the durable content and
 * the writes and size changes not yet covered by an fsync/fdatasync of
 * that file; for the directory, the durable names and the creates,
 * renames and unlinks not yet covered by an fsync of the directory.
 *
 * simio_power_loss() rewrites the directory as a power cut at that moment
 * may leave it: unsynced writes lost, kept, or torn at 512-byte sectors,
 * in any combination and order; the unsynced directory operations after
 * some point undone (a journal keeps them in order), or any of them. The
 * failure model is docs/DURABILITY.md's.
 *
 * A test can cut the power before every mutating call in turn, on a copy,
 * while the run goes on (simio_on_call, simio_image); stop the world at
 * the N-th mutating call (every later write or sync fails with EIO, as
 * nothing reaches the disk after a power cut); and inject errors into
 * chosen calls. A failed fsync follows Linux:
 * the changes it covered reached the disk or not, at random, and are
 * never written again (a later fsync that succeeds proves nothing). A
 * failed fsync of the directory leaves its operations undecided: the
 * file system's journal still holds them, in order.
 */
#ifndef WALD_SIMIO_H
#define WALD_SIMIO_H

#include <stdint.h>

/* What happens to unsynced changes at the power cut. */
enum simio_keep {
	SIMIO_DROP,	/* every one is lost */
	SIMIO_KEEP,	/* every one reached the disk (as kill -9 would) */
	SIMIO_MIXED,	/* each write lost, kept, or torn sector by sector;
			   each size change kept or lost; the directory
			   operations kept up to a random point, or (half
			   of the time) each kept or not */
};

/* The mutating calls simio counts, for faults and statistics. */
enum simio_call {
	SIMIO_PWRITE,
	SIMIO_FDATASYNC,
	SIMIO_FSYNC,		/* of a file */
	SIMIO_DIRSYNC,		/* fsync of the directory */
	SIMIO_FTRUNCATE,
	SIMIO_FALLOCATE,
	SIMIO_CREATE,		/* open with O_CREAT of a new name, or O_TRUNC */
	SIMIO_RENAME,
	SIMIO_UNLINK,
	SIMIO_NCALLS
};

/* An injected error: calls nth .. nth + count - 1 of one kind fail. */
struct simio_fault {
	enum simio_call	call;
	uint64_t	nth;	/* 1-based, counted from simio_start */
	uint64_t	count;	/* 0 means 1 */
	int		err;	/* errno; 0 on SIMIO_PWRITE: a short write */
};

/* Routes `sysio` through the model of dir, whose present content is
   taken as durable. seed drives every random choice. */
void		simio_start(const char *dir, uint64_t seed);
/* The power cut happens at mutating call number op (1-based; 0: never):
   a sync there is not done, anything else is done but not synced; that
   call and every later write or sync fail with EIO. */
void		simio_crash_at(uint64_t op);
/* Calls cb(arg, n) at every mutating call from now on, before call n + 1
   is made, with the real system calls in `sysio`: the test cuts the power
   there (simio_image), checks, and the run goes on. NULL stops it. */
void		simio_on_call(void (*cb)(void *arg, uint64_t n), void *arg);
/* Adds an injected error (up to 8). */
void		simio_fault(const struct simio_fault *);
/* Forgets the injected errors (space was freed, say). */
void		simio_clear_faults(void);
/* Mutating calls so far (the crash points passed). */
uint64_t	simio_ops(void);
/* Calls of one kind so far. */
uint64_t	simio_calls(enum simio_call);
/* 1 once the power cut happened. */
int		simio_crashed(void);
/* Bytes written to files whose name ends in suffix (NULL: any) that no
   successful sync has covered. */
uint64_t	simio_unsynced(const char *suffix);
/* Writes into dst (created if need be; its files replaced; NULL: the
   simulated directory) what a power cut now would leave, the model
   unchanged; seed drives the choices. 0, or -1 on a real I/O error. */
int		simio_image(const char *dst, enum simio_keep files,
		    enum simio_keep dirops, uint64_t seed, char *desc,
		    size_t desclen);
/* Writes what the power cut leaves into dst (created if need be; NULL:
   the simulated directory itself, rewritten), puts the real system calls
   back and forgets the model. A one-line summary of what was lost goes to
   desc. 0, or -1 on a real I/O error (errno). */
int		simio_power_loss(const char *dst, enum simio_keep files,
		    enum simio_keep dirops, char *desc, size_t desclen);
/* Puts the real system calls back and forgets the model, no power cut. */
void		simio_stop(void);

#endif
