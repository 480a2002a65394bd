/* SPDX-License-Identifier: Apache-2.0 */
/*
 * archive.h: archive.command (as PostgreSQL's archive_command), run once
 * for each sealed segment, in LSN order, one at a time, in a child process
 * the event loop watches; retried with exponential back-off; the position
 * (the last segment archived) kept in the data directory's ARCHIVED file,
 * so that a restart archives no segment twice.
 */
#ifndef WALD_ARCHIVE_H
#define WALD_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct archive;

struct archive_stats {
	int		enabled;	/* a command is set */
	int		running;	/* a command is running now */
	uint64_t	backlog;	/* sealed segments not archived yet */
	uint64_t	archived;	/* segments archived since start */
	uint64_t	failures;	/* failed runs since start */
	unsigned	failing;	/* failed runs in a row, now */
	char		last[32];	/* last segment archived, "" for none */
};

/* Reads the position in dir (ARCHIVED) and starts archiving whatever is
   sealed and not archived yet. command NULL: off until a reload sets one.
   Delays in microseconds; timeout 0: a run may take any time. NULL and
   *cause on failure. */
struct archive	*archive_create(struct event_base *, const char *dir,
		    const char *command, uint64_t retry_min, uint64_t retry_max,
		    uint64_t timeout, char **cause);
/* Stops a command still running (SIGTERM, then SIGKILL after 2 s: that
   segment is archived again at the next start) and frees. */
void		 archive_free(struct archive *);
/* Called after each batch with the active segment's first LSN and the
   log's sealed flag: looks for newly sealed segments when they change. */
void		 archive_check(struct archive *, uint64_t active_first,
		    int sealed);
/* A reload: a new command (NULL: off), delays and timeout (from the next
   run on). A changed command is tried at once, without waiting out the
   back-off. */
void		 archive_reload(struct archive *, const char *command,
		    uint64_t retry_min, uint64_t retry_max, uint64_t timeout);
/* The first LSN of the first sealed segment not archived yet (truncation
   must keep it and everything after), its name in name (size at least
   32); UINT64_MAX when archiving is off or every sealed segment is
   archived (the engine never removes the active segment). */
uint64_t	 archive_hold(struct archive *, char *name, size_t size);
void		 archive_stats(struct archive *, struct archive_stats *);
/* 1 when a command is set. */
int		 archive_enabled(struct archive *);

#endif
