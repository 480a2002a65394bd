/* SPDX-License-Identifier: Apache-2.0 */
/*
 * retention.h: the holds every truncation keeps, TRUNCATE's plan, and the
 * retention policy's timer (retention.c, docs/RETENTION.md). Loop thread.
 */
#ifndef WALD_RETENTION_H
#define WALD_RETENTION_H

#include <stdint.h>

struct server;

/* What a truncation before an LSN would remove. */
struct retention_plan {
	uint64_t	before;		/* after the holds */
	uint64_t	first_after;	/* the log's first LSN afterwards */
	uint64_t	segments;	/* removed */
	uint64_t	bytes;		/* their files' sizes */
	uint64_t	last_removed;	/* highest LSN removed (0: none) */
};

#define RETENTION_SAY_NOT	0
#define RETENTION_SAY_ONCE	1
#define RETENTION_SAY_LIMITED	2
uint64_t	 retention_hold(struct server *, uint64_t before, int say);
int		 retention_plan(struct server *, uint64_t before,
		    struct retention_plan *);
int		 retention_cut(struct server *, uint64_t before,
		    const char *why, uint64_t *first, char **cause);
void		 retention_run(struct server *);
int		 retention_start(struct server *);
void		 retention_stop(struct server *);

#endif
