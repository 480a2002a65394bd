/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walctl-consume.c: reading from walld for a consumer: read --follow, read
 * --cursor and tail. Owns the loop that prints records, commits a cursor
 * after what it printed is flushed to stdout, tells a stream walld ended
 * (exit 75 and where to resume) from the end of a sealed log (exit 0), and,
 * for tail -f, reconnects with back-off when walld restarts.
 *
 * Commit order (docs/CURSORS.md): records are printed, stdout is flushed,
 * and only then is the cursor committed to the last LSN printed: a crash
 * (of walctl, of walld, of the machine) between the two makes the next
 * consumer see those records again, never miss one.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "libwal.h"
#include "walctl.h"

#define CONSUME_COMMIT_EVERY	1000	/* records between commits */
#define CONSUME_COMMIT_MS	1000	/* ms between commits */
#define CONSUME_BACKOFF_MIN	100	/* ms, tail -f's first retry */
#define CONSUME_BACKOFF_MAX	5000
#define CONSUME_TAIL_N		10

/* Where a consume stands. */
struct consume_state {
	uint64_t	 next;		/* the LSN to read from next */
	uint64_t	 committed;	/* the cursor's LSN as last committed */
	uint64_t	 pending;	/* records printed since */
	int64_t		 last_commit;	/* ms, monotonic */
};

/* Milliseconds on the monotonic clock. */
static int64_t
consume_now_ms(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return (0);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
walctl_consume_defaults(struct walctl_consume *k, const char *what)
{
	memset(k, 0, sizeof *k);
	k->commit_every = CONSUME_COMMIT_EVERY;
	k->commit_ms = CONSUME_COMMIT_MS;
	k->what = what;
}

/* Handles --cursor, --commit-every, --commit-ms. */
int
walctl_consume_opt(struct walctl_consume *k, int ch, int *bad)
{
	switch (ch) {
	case OPT_CURSOR:
		if (!wal_cursor_name_valid(optarg)) {
			walctl_usage_why(NULL, "--cursor: \"%s\" is not a "
			    "cursor name (1..64 bytes of [A-Za-z0-9._-], the "
			    "first a letter or a digit)", optarg);
			*bad = 1;
		}
		k->cursor = optarg;
		return (0);
	case OPT_COMMIT_EVERY:
		*bad = walctl_number("--commit-every", optarg, UINT32_MAX,
		    &k->commit_every);
		if (!*bad && k->commit_every == 0) {
			walctl_usage_why(NULL, "--commit-every: 0: at least 1");
			*bad = 1;
		}
		return (0);
	case OPT_COMMIT_MS:
		*bad = walctl_number("--commit-ms", optarg, 3600 * 1000,
		    &k->commit_ms);
		return (0);
	}
	return (-1);
}

/* 1 when a result says the connection (or walld) went away: a consumer
   goes on from where it is on the next connection. */
static int
consume_lost(enum wal_result r)
{
	return (r == WAL_RESULT_UNKNOWN || r == WAL_RESULT_CLOSED ||
	    r == WAL_RESULT_SHUTTING_DOWN);
}

/* Flushes what was printed, then commits the cursor to the last LSN
   printed (st->next - 1) when it moved. EX_OK, or the exit code; *lost
   set (and EX_OK) when the commit failed because walld went away: the
   records stay uncommitted, to be committed with later ones (or read
   again by the next consumer: at least once). */
static int
consume_commit(struct wal_conn *c, struct walctl_consume *k,
    struct consume_state *st, int *lost)
{
	enum wal_result	r;
	uint64_t	lsn = st->next > 0 ? st->next - 1 : 0;
	int		ex;

	/* Never commit what has not left walctl. */
	if ((ex = walctl_flush_stdout()) != EX_OK)
		return (ex);
	st->last_commit = consume_now_ms();
	if (k->cursor == NULL || lsn <= st->committed)
		return (EX_OK);
	if ((r = wal_conn_cursor_commit(c, k->cursor, lsn)) != WAL_RESULT_OK) {
		char	what[128];

		if (consume_lost(r)) {
			*lost = 1;
			return (EX_OK);
		}
		snprintf(what, sizeof what, "%s: commit of cursor %s at LSN "
		    "%" PRIu64, k->what, k->cursor, lsn);
		return (walctl_conn_fail(c, what, r));
	}
	st->committed = lsn;
	st->pending = 0;
	return (EX_OK);
}

/* Where the read starts: after the cursor, or the last N records, or
   q.from. */
static int
consume_start(struct wal_conn *c, struct walctl_consume *k,
    struct consume_state *st)
{
	struct wal_cursor_state	 cs;
	enum wal_result		 r;
	char			*text = NULL;
	uint64_t		 durable = 0, first = 0;
	char			 what[96];

	if (k->cursor != NULL) {
		if ((r = wal_conn_cursor_get(c, k->cursor, &cs)) !=
		    WAL_RESULT_OK) {
			snprintf(what, sizeof what, "%s: cursor %s", k->what,
			    k->cursor);
			return (walctl_conn_fail(c, what, r));
		}
		st->committed = cs.lsn;
		st->next = cs.lsn + 1;
		return (EX_OK);
	}
	if (!k->tail) {
		st->next = k->q.from;
		return (EX_OK);
	}
	/* tail -n: the last N LSNs up to the durable end. */
	if ((r = wal_conn_stats(c, &text)) != WAL_RESULT_OK)
		return (walctl_conn_fail(c, "tail: stats (for the log's end)",
		    r));
	(void)walctl_stat_u64(text, "durable_lsn", &durable);
	(void)walctl_stat_u64(text, "first_lsn", &first);
	free(text);
	st->next = durable >= k->last_n ? durable - k->last_n + 1 : 1;
	if (st->next == 0)
		st->next = 1;
	if (st->next < first)
		st->next = first;
	return (EX_OK);
}

/* Sleeps ms, for the back-off. */
static void
consume_sleep(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * One connection's worth of reading. Returns EX_OK when the read is over
 * (the range or a sealed log's end; *again 0), EX_OK with *again 1 when
 * walld ended the stream or the connection was lost and the caller may
 * reconnect (tail -f), or an exit code.
 */
static int
consume_once(struct wal_conn *c, struct walctl_consume *k,
    struct consume_state *st, struct walctl_out *out, int *again)
{
	struct wal_cursor_opts	 q = k->q;
	struct wal_cursor	*cur;
	struct wal_entry	 e;
	enum wal_result		 r;
	int64_t			 left;
	int			 rc, ex = EX_OK, timeout, lost = 0;

	*again = 0;
	q.from = st->next;
	if (q.to != 0 && q.from > q.to)
		return (EX_OK);
	if ((r = wal_cursor_open(c, &q, &cur)) != WAL_RESULT_OK)
		return (walctl_conn_fail(c, k->what, r));
	for (;;) {
		/* Waiting: what was printed goes out first, and a cursor is
		   committed when its time comes. */
		timeout = 0;
		rc = wal_cursor_next(cur, 0, &e);
		if (rc == WAL_CURSOR_AGAIN) {
			if ((ex = walctl_flush_stdout()) != EX_OK)
				break;
			timeout = -1;
			if (k->cursor != NULL && st->pending > 0) {
				left = st->last_commit + (int64_t)k->commit_ms -
				    consume_now_ms();
				if (left <= 0) {
					if ((ex = consume_commit(c, k, st,
					    &lost)) != EX_OK || lost)
						break;
					continue;
				}
				timeout = (int)left;
			}
			rc = wal_cursor_next(cur, timeout, &e);
			if (rc == WAL_CURSOR_AGAIN)
				continue;
		}
		if (rc == 1) {
			if ((ex = walctl_print_record(out, e.lsn, e.type,
			    e.tenant, e.vshard, e.payload, e.len)) != EX_OK)
				break;
			st->next = e.lsn + 1;
			st->pending++;
			/* read --limit: the last record wanted; commit it. */
			if (out->done) {
				ex = consume_commit(c, k, st, &lost);
				if (ex == EX_OK && lost) {
					/* At least once: a later read gets
					   these again. Said, not hidden. */
					walctl_warnx("%s: walld went away "
					    "before cursor %s was committed "
					    "past LSN %" PRIu64 "; a read with "
					    "--cursor gets the records after "
					    "it again", k->what, k->cursor,
					    st->committed);
					ex = EX_TEMPFAIL;
				}
				lost = 0;	/* the limit is reached: no
						   reconnect */
				break;
			}
			if (k->cursor != NULL && (st->pending >= k->commit_every ||
			    consume_now_ms() - st->last_commit >=
			    (int64_t)k->commit_ms) &&
			    ((ex = consume_commit(c, k, st, &lost)) != EX_OK ||
			    lost))
				break;
			continue;
		}
		if (rc == 0) {
			/* The records the filters skipped are consumed too. */
			if (wal_cursor_next_lsn(cur) > st->next)
				st->next = wal_cursor_next_lsn(cur);
			if ((ex = consume_commit(c, k, st, &lost)) != EX_OK)
				break;
			if (!lost && (!q.follow || wal_cursor_sealed(cur) ||
			    wal_cursor_until_end(cur) ||
			    (q.to != 0 && st->next > q.to)))
				break;
			/* walld ended a follow: it is stopping. */
			*again = 1;
			if (!k->reconnect) {
				walctl_warnx("%s: walld ended the stream (it is "
				    "stopping or restarting); resume with "
				    "--from %" PRIu64 "%s", k->what, st->next,
				    k->cursor != NULL ? " (or --cursor again)" :
				    "");
				ex = EX_TEMPFAIL;
			}
			break;
		}
		/* A failure. Lost connection: where to go on from. */
		r = wal_cursor_result(cur);
		if (consume_lost(r)) {
			if ((ex = walctl_flush_stdout()) != EX_OK)
				break;
			*again = 1;
			if (!k->reconnect) {
				walctl_warnx("%s: %s: %s; resume with --from "
				    "%" PRIu64 "%s", k->what, wal_result_name(r),
				    wal_cursor_error(cur), st->next,
				    k->cursor != NULL ? " (or --cursor again)" :
				    "");
				ex = EX_TEMPFAIL;
			}
			break;
		}
		ex = walctl_fail(k->what, r, 0, wal_cursor_error(cur));
		break;
	}
	/* A commit that found walld gone: as a stream walld ended. */
	if (ex == EX_OK && lost && !*again) {
		*again = 1;
		if (!k->reconnect) {
			walctl_warnx("%s: walld went away before cursor %s was "
			    "committed past LSN %" PRIu64 "; resume with "
			    "--cursor again (or --from %" PRIu64 ")", k->what,
			    k->cursor, st->committed, st->next);
			ex = EX_TEMPFAIL;
		}
	}
	wal_cursor_close(cur);
	return (ex);
}

/* Reads (and commits) until the end, an error, or forever. */
int
walctl_consume(struct walctl *w, struct walctl_consume *k,
    struct walctl_out *out)
{
	struct consume_state	 st;
	struct wal_conn		*c = NULL;
	enum wal_result		 r;
	char			*cause = NULL;
	int			 ex, again, backoff = CONSUME_BACKOFF_MIN;
	int			 started = 0, told = 0;

	memset(&st, 0, sizeof st);
	st.last_commit = consume_now_ms();
	for (;;) {
		r = wal_conn_open(&c, w->socket, w->timeout_ms, &cause);
		if (r != WAL_RESULT_OK) {
			if (!k->reconnect || !started ||
			    (!wal_result_retryable(r) &&
			    r != WAL_RESULT_UNAVAILABLE)) {
				ex = walctl_fail(k->what, r, 0, cause);
				free(cause);
				return (ex);
			}
			free(cause);
			cause = NULL;
			consume_sleep(backoff);
			backoff = backoff * 2 > CONSUME_BACKOFF_MAX ?
			    CONSUME_BACKOFF_MAX : backoff * 2;
			continue;
		}
		if (told) {
			walctl_warnx("%s: reconnected; resuming at LSN %" PRIu64,
			    k->what, st.next);
			told = 0;
		}
		if (!started) {
			if ((ex = consume_start(c, k, &st)) != EX_OK)
				break;
			started = 1;
		}
		ex = consume_once(c, k, &st, out, &again);
		if (ex != EX_OK || !again)
			break;
		/* tail -f: walld went away; come back at st.next. */
		wal_conn_close(c);
		c = NULL;
		walctl_warnx("%s: walld went away at LSN %" PRIu64 "; "
		    "reconnecting", k->what, st.next);
		told = 1;
		backoff = CONSUME_BACKOFF_MIN;
		consume_sleep(backoff);
	}
	if (c != NULL)
		wal_conn_close(c);
	if (ex == EX_OK)
		ex = walctl_flush_stdout();
	return (ex);
}

/* walctl tail [-n N] [-f] [--cursor NAME]: the last records, following. */
int
walctl_cmd_tail(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "lines",	required_argument,	NULL, 'n' },
		{ "follow",	no_argument,		NULL, 'f' },
		{ "type",	required_argument,	NULL, OPT_TYPE },
		{ "tenant",	required_argument,	NULL, OPT_TENANT },
		{ "vshard",	required_argument,	NULL, OPT_VSHARD },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ "cursor",	required_argument,	NULL, OPT_CURSOR },
		{ "commit-every", required_argument,	NULL, OPT_COMMIT_EVERY },
		{ "commit-ms",	required_argument,	NULL, OPT_COMMIT_MS },
		{ NULL, 0, NULL, 0 }
	};
	struct walctl_consume	 k;
	struct walctl_rec_opts	 o;
	struct walctl_out	 out;
	uint64_t		 n = CONSUME_TAIL_N;
	int			 ch, bad = 0, ex, has_n = 0;

	walctl_consume_defaults(&k, "tail");
	memset(&o, 0, sizeof o);
	memset(&out, 0, sizeof out);
	while ((ch = getopt_long(argc, argv, ":s:hn:f", longopts, NULL)) !=
	    -1) {
		if (walctl_common_opt(w, ch) == 0 ||
		    walctl_rec_opt(&o, ch, &bad) == 0 ||
		    walctl_consume_opt(&k, ch, &bad) == 0)
			;
		else if (ch == 'n') {
			bad = walctl_number("-n", optarg, UINT64_MAX, &n);
			has_n = 1;
		} else if (ch == 'f')
			k.q.follow = 1;
		else if (ch == OPT_JSON)
			out.mode = WALCTL_OUT_JSON;
		else
			return (walctl_usage(w->cmd));
		if (bad)
			return (EX_USAGE);
	}
	if ((ex = walctl_no_args(w, argc, argv)) != EX_OK)
		return (ex);
	if (has_n && k.cursor != NULL)
		return (walctl_usage_why(w->cmd, "-n goes without --cursor "
		    "(the cursor says where to start)"));
	if (k.cursor == NULL && n == 0 && !k.q.follow)
		return (EX_OK);
	k.last_n = n;
	k.tail = 1;
	k.reconnect = k.q.follow;
	k.q.type = (uint16_t)o.type;
	k.q.tenant = (uint32_t)o.tenant;
	k.q.vshard = (uint16_t)o.vshard;
	k.q.has_type = o.has_type;
	k.q.has_tenant = o.has_tenant;
	k.q.has_vshard = o.has_vshard;
	ex = walctl_consume(w, &k, &out);
	free(out.buf);
	return (ex);
}
