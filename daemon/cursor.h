/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cursor.h: durable consumer cursors (docs/CURSORS.md). A table of named
 * LSNs kept in the data directory's CURSORS file, rewritten whole (temp
 * file, fsync, rename, directory fsync) by a worker thread, so that the
 * event loop never waits for an fsync. Changes are answered only once the
 * write that holds them is durable.
 *
 * Every function is called on the loop thread.
 */
#ifndef WALD_CURSOR_H
#define WALD_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#define CURSOR_NAME_MAX		64		/* bytes of a name */
#define CURSOR_NONE		UINT64_MAX	/* cursor_lowest: no cursor */

struct event_base;
struct cursor_store;

/* One cursor as it is on disk: the LSN of the last record its consumer
   has finished with, and when that was committed (Unix ms, 0 never). */
struct cursor_info {
	char		name[CURSOR_NAME_MAX + 1];
	uint64_t	lsn;
	uint64_t	commit_ms;
};

/* What a change request came to. CURSOR_QUEUED: the callback given to it
   will be called once (with ok 1 when the change, or the state it found,
   is durable; 0 and a cause when the write failed: outcome unknown). */
enum cursor_rc {
	CURSOR_QUEUED,
	CURSOR_ENOENT,		/* no such cursor */
	CURSOR_EBACK,		/* commit below the cursor's LSN */
	CURSOR_EFULL,		/* cursors.max cursors exist */
	CURSOR_EFAILED,		/* an earlier write failed: latched */
	CURSOR_ENOMEM,
};

typedef void	(*cursor_cb)(void *arg, int ok, const char *cause);

/* 1 when name (len bytes) is a valid cursor name: 1..CURSOR_NAME_MAX
   bytes of [A-Za-z0-9._-], the first a letter or a digit. */
int		 cursor_name_valid(const char *name, size_t len);

/* Reads dir's CURSORS (none: no cursors) and starts the worker. NULL and
   *cause when the file is damaged or cannot be read: walld must not start
   with its consumers' positions unknown. */
struct cursor_store *cursor_store_open(struct event_base *, const char *dir,
		    char **cause);
/* Waits for the write under way (if any), stops the worker and frees;
   callbacks still queued are called with ok 0. */
void		 cursor_store_free(struct cursor_store *);
/* Called on the loop after each write has been answered (the server's
   stop waits for cursor_store_busy to be 0). */
void		 cursor_store_set_idle_cb(struct cursor_store *,
		    void (*)(void *), void *);
/* 1 while a write is under way or changes wait for one. */
int		 cursor_store_busy(const struct cursor_store *);

/*
 * Changes. Each returns CURSOR_QUEUED (cb called later, never from inside
 * the call) or an error, with *lsn the cursor's LSN where there is one
 * (for messages and replies). The caller has checked the name and that
 * lsn is not above the durable LSN.
 */
/* Creates name at lsn; one that exists is left as it is (*lsn: its LSN,
   the reply waits until that is durable). max: cursors.max. */
enum cursor_rc	 cursor_create(struct cursor_store *, const char *name,
		    uint64_t *lsn, unsigned max, cursor_cb, void *arg);
/* Moves name to lsn; lsn below its LSN is CURSOR_EBACK (*lsn: its LSN),
   the same LSN succeeds (a retried commit). */
enum cursor_rc	 cursor_commit(struct cursor_store *, const char *name,
		    uint64_t *lsn, cursor_cb, void *arg);
/* Removes name; *lsn is the LSN it had. */
enum cursor_rc	 cursor_drop(struct cursor_store *, const char *name,
		    uint64_t *lsn, cursor_cb, void *arg);

/*
 * What is durable (what a reply already told someone), for GET, LIST,
 * stats and retention.
 */
/* The cursor named name, or NULL. */
const struct cursor_info *cursor_get(const struct cursor_store *,
		    const char *name);
/* The cursors sorted by name: *n of them; valid until the loop runs a
   callback of the store again. */
const struct cursor_info *cursor_list(const struct cursor_store *, size_t *n);
/*
 * For retention: the lowest LSN of any cursor and that cursor's name
 * (name of size at least CURSOR_NAME_MAX + 1; "" when none); CURSOR_NONE
 * when there is no cursor. Records at or below it are consumed by every
 * cursor; a segment may go when its last LSN is at or below it. Cursors
 * created but not yet durable count too (their creator may be told of
 * them any moment), so the answer never runs ahead of a reply.
 */
uint64_t	 cursor_lowest(const struct cursor_store *, char *name,
		    size_t size);

#endif
