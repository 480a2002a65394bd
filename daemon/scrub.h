/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scrub.h: checking the sealed segments while walld runs (scrub.c): the
 * VERIFY request (`walctl verify`), the background scrub at a bounded
 * rate (scrub: in walld.yaml), and scrub.at_start. The checks run on two
 * worker threads of their own; the rest is the loop thread's.
 */
#ifndef WALD_SCRUB_H
#define WALD_SCRUB_H

#include <stdint.h>

struct server;
struct conn;
struct wal;
struct keyring;
struct evbuffer;

/* Starts the workers and, when scrub.rate is set, the background passes
   (the first at once). 0, or -1 and *cause. */
int	scrub_start(struct server *, char **cause);
/* Stops the workers (a pass under way ends at its next pause) and lets
   go of the connections that wait for a VERIFY. */
void	scrub_stop(struct server *);
/* Takes scrub.rate and scrub.interval from the (reloaded) configuration. */
void	scrub_reconfigure(struct server *);
/* VERIFY: answered once a check that began after it is done. */
void	scrub_request(struct conn *, uint64_t id);
/* The scrub_* lines of the stats text. */
void	scrub_stats(struct server *, struct evbuffer *);
/* scrub.at_start: checks every sealed segment of w's directory, before
   walld serves. Returns the number of problems (each logged with file,
   offset and LSN), or -1 and *cause when the check could not run. */
int	scrub_at_start(struct wal *, const char *dir, struct keyring *,
	    char **cause);

#endif
