/* SPDX-License-Identifier: Apache-2.0 */
/*
 * retention.c: what may leave the log, and when (docs/RETENTION.md).
 *
 * Every truncation, asked for (TRUNCATE) or automatic, keeps two holds: a
 * segment not archived yet stays (archive.command), and so does one that
 * holds a record not replicated yet (replication). TRUNCATE adds guard
 * rails: an LSN above the durable one is refused, one that would remove
 * records a cursor has not consumed needs FORCE, and DRY_RUN says what
 * would go and removes nothing.
 *
 * The retention policy (retention: in walld.yaml) runs on a timer: a
 * sealed segment goes once every cursor has consumed it (retention.cursors,
 * with at least one cursor), or when the segments take more than
 * retention.max_bytes, or when its records are older than
 * retention.max_age. The two limits win over a lagging cursor, with a
 * log line naming it and a counter; nothing wins over the holds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "archive.h"
#include "config.h"
#include "cursor.h"
#include "log.h"
#include "retention.h"
#include "server-int.h"
#include "wal.h"

/* The segment list, allocated: *n of them. NULL on no memory. */
static struct wal_seginfo *
retention_segs(struct server *srv, size_t *n)
{
	struct wal_seginfo	*segs = NULL, *ns;
	size_t			 cap = 16, got;

	for (;;) {
		if ((ns = realloc(segs, cap * sizeof *segs)) == NULL) {
			free(segs);
			return (NULL);
		}
		segs = ns;
		got = wal_segments(srv->wal, segs, cap);
		if (got <= cap) {
			*n = got;
			return (segs);
		}
		cap = got + 16;
	}
}

/* The first LSN truncation may not go past, given the archive and the
   replication holds, for a truncation before `before`; counted and logged
   when a hold shortens it and `say` (RETENTION_SAY_ONCE: a log line each
   time, for a request; RETENTION_SAY_LIMITED: rate-limited, for the
   policy's passes). */
uint64_t
retention_hold(struct server *srv, uint64_t before, int say)
{
	uint64_t	hold;
	char		held[32], what[96];

	hold = archive_hold(srv->archive, held, sizeof held);
	what[0] = '\0';
	if (hold < before)
		snprintf(what, sizeof what, "%s is not archived yet", held);
	if (srv->replica != NULL && srv->replicated + 1 < before &&
	    srv->replicated + 1 < hold) {
		hold = srv->replicated + 1;
		snprintf(what, sizeof what, "LSN %llu is not replicated yet",
		    (unsigned long long)hold);
	}
	if (what[0] != '\0' && say != RETENTION_SAY_NOT) {
		srv->count.truncate_held++;
		if (say == RETENTION_SAY_ONCE)
			log_warn("truncate before LSN %llu: held back to LSN "
			    "%llu: %s", (unsigned long long)before,
			    (unsigned long long)hold, what);
		else
			log_limited("retention-held", LOG_LVL_WARN, "retention: "
			    "truncate before LSN %llu: held back to LSN %llu: "
			    "%s", (unsigned long long)before,
			    (unsigned long long)hold, what);
	}
	return (hold < before ? hold : before);
}

/* What truncating before `before` (holds applied) removes: whole sealed
   segments, never the last one, whose records are all below it. 0, or
   -1 (no memory). */
int
retention_plan(struct server *srv, uint64_t before, struct retention_plan *p)
{
	struct wal_seginfo	*segs;
	size_t			 n, i;

	memset(p, 0, sizeof *p);
	p->before = retention_hold(srv, before, RETENTION_SAY_NOT);
	if ((segs = retention_segs(srv, &n)) == NULL)
		return (-1);
	for (i = 0; i + 1 < n && segs[i].sealed && segs[i].last <
	    p->before; i++) {
		p->segments++;
		p->bytes += segs[i].size;
		p->last_removed = segs[i].last;
	}
	p->first_after = i < n ? segs[i].first : srv->next_lsn;
	free(segs);
	return (0);
}

/* Truncates before `before` (holds applied), logging why. 0 and *first,
   or -1 and *cause. */
int
retention_cut(struct server *srv, uint64_t before, const char *why,
    uint64_t *first, char **cause)
{
	struct wal_stats	st;
	uint64_t		upto = retention_hold(srv, before, strcmp(why,
				    "truncate") == 0 ? RETENTION_SAY_ONCE :
				    RETENTION_SAY_LIMITED);

	wal_stats(srv->wal, &st);
	if (wal_truncate_before(srv->wal, upto, first, cause) != 0) {
		log_err("truncate before %llu: %s", (unsigned long long)before,
		    *cause);
		return (-1);
	}
	if (*first == st.first_lsn && strcmp(why, "truncate") != 0)
		return (0);	/* the policy's pass, held: said above */
	log_info("truncated before LSN %llu (%s): the log now starts at "
	    "%llu", (unsigned long long)upto, why, (unsigned long long)*first);
	return (0);
}

/* Now, unix ns. */
static uint64_t
retention_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/*
 * How many of the oldest segments the policy lets go (never the last).
 * *by_limit is set when a limit (size, age) takes more than the cursors
 * would: then the cursor left behind is named by the caller.
 */
static size_t
retention_count(struct server *srv, const struct wal_seginfo *segs,
    size_t n, uint64_t lowest, int *by_limit)
{
	const struct config	*cfg = srv->cfg;
	size_t			 by_cursor = 0, by_size = 0, by_age = 0, i;
	uint64_t		 total = 0, t, cutoff;
	char			*cause = NULL;

	*by_limit = 0;
	if (n < 2)
		return (0);
	if (cfg->retention_cursors && lowest != CURSOR_NONE) {
		while (by_cursor + 1 < n && segs[by_cursor].last <= lowest)
			by_cursor++;
	}
	if (cfg->retention_max_bytes > 0) {
		for (i = 0; i < n; i++)
			total += segs[i].size;
		while (by_size + 1 < n && total > cfg->retention_max_bytes) {
			total -= segs[by_size].size;
			by_size++;
		}
	}
	if (cfg->retention_max_age_us > 0) {
		cutoff = retention_now_ns() - cfg->retention_max_age_us * 1000;
		/* A segment's newest record is older than the next segment's
		   first: its time says when the segment was done. */
		while (by_age + 1 < n) {
			if (wal_segment_time(srv->wal, segs[by_age + 1].first,
			    &t, &cause) != 0) {
				log_limited("retention-time", LOG_LVL_WARN,
				    "retention: %s", cause);
				free(cause);
				break;
			}
			if (t == 0 || t >= cutoff)
				break;
			by_age++;
		}
	}
	i = by_cursor;
	if (by_size > i || by_age > i) {
		i = by_size > by_age ? by_size : by_age;
		*by_limit = lowest != CURSOR_NONE && segs[i - 1].last > lowest;
	}
	/* Only sealed segments go. */
	while (i > 0 && !segs[i - 1].sealed)
		i--;
	return (i);
}

/* One pass of the policy. */
void
retention_run(struct server *srv)
{
	struct wal_seginfo	*segs;
	char			 name[CURSOR_NAME_MAX + 1];
	char			*cause = NULL;
	uint64_t		 lowest, first;
	size_t			 n, k;
	int			 by_limit;

	if (srv->state != SRV_RUNNING || (!srv->cfg->retention_cursors &&
	    srv->cfg->retention_max_bytes == 0 &&
	    srv->cfg->retention_max_age_us == 0))
		return;
	if ((segs = retention_segs(srv, &n)) == NULL)
		return;
	lowest = srv->cursors != NULL ? cursor_lowest(srv->cursors, name,
	    sizeof name) : CURSOR_NONE;
	k = retention_count(srv, segs, n, lowest, &by_limit);
	if (k > 0 && by_limit) {
		srv->retention.overruns++;
		log_warn("retention: a limit (retention.max_bytes or max_age) "
		    "removes records up to LSN %llu that cursor %s (at LSN "
		    "%llu) has not consumed", (unsigned long long)
		    segs[k - 1].last, name, (unsigned long long)lowest);
	}
	if (k > 0 && retention_cut(srv, segs[k - 1].last + 1, by_limit ?
	    "retention limit" : "retention", &first, &cause) != 0) {
		log_limited("retention-cut", LOG_LVL_ERR, "retention: %s",
		    cause);
		free(cause);
	} else if (k > 0 && first > segs[0].first)
		srv->retention.runs_removed++;
	free(segs);
}

/* The timer. */
static void
retention_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	(void)fd;
	(void)what;
	retention_run(srv);
}

/* Starts (or restarts, after a reload) the timer; 0, or -1. */
int
retention_start(struct server *srv)
{
	struct timeval	tv;

	if (srv->retention.ev == NULL &&
	    (srv->retention.ev = event_new(srv->base, -1, EV_PERSIST,
	    retention_timer_cb, srv)) == NULL)
		return (-1);
	tv.tv_sec = (time_t)(srv->cfg->retention_interval_us / 1000000);
	tv.tv_usec = (suseconds_t)(srv->cfg->retention_interval_us % 1000000);
	return (event_add(srv->retention.ev, &tv));
}

void
retention_stop(struct server *srv)
{
	if (srv->retention.ev != NULL) {
		event_free(srv->retention.ev);
		srv->retention.ev = NULL;
	}
}
