/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walctl-cursor.c: walld's durable consumer cursors from the command line:
 * cursor create|commit|get|drop, and cursors (the list, with each
 * cursor's lag behind the durable end of the log).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "libwal.h"
#include "walctl.h"

/* A commit time as UTC ISO 8601 with milliseconds, "-" for never. */
static void
cursor_fmt_time(uint64_t ms, char *buf, size_t size)
{
	struct tm	tm;
	time_t		t = (time_t)(ms / 1000);

	if (ms == 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, size, "-");
		return;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

/* Checks a NAME argument; EX_USAGE and a message when it is not one. */
static int
cursor_name_arg(const char *name)
{
	if (wal_cursor_name_valid(name))
		return (EX_OK);
	return (walctl_usage_why(NULL, "\"%s\" is not a cursor name (1..64 "
	    "bytes of [A-Za-z0-9._-], the first a letter or a digit)", name));
}

/* walctl cursor create|commit|get|drop NAME [LSN]. */
int
walctl_cmd_cursor(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct wal_cursor_state	 st;
	struct wal_conn		*c;
	enum wal_result		 r;
	const char		*verb, *name;
	uint64_t		 lsn = 0, v = 0;
	char			 when[80], what[96];
	int			 ch, ex, need_lsn;

	while ((ch = getopt_long(argc, argv, "+:s:h", longopts, NULL)) != -1)
		if (walctl_common_opt(w, ch) != 0)
			return (walctl_usage(w->cmd));
	if (argc - optind < 2)
		return (walctl_usage_why(w->cmd, argc == optind ? "create, "
		    "commit, get or drop?" : "NAME is missing"));
	verb = argv[optind];
	name = argv[optind + 1];
	if (strcmp(verb, "create") == 0)
		need_lsn = -1;		/* optional */
	else if (strcmp(verb, "commit") == 0)
		need_lsn = 1;
	else if (strcmp(verb, "get") == 0 || strcmp(verb, "drop") == 0)
		need_lsn = 0;
	else
		return (walctl_usage_why(w->cmd, "%s: expected create, commit, "
		    "get or drop", verb));
	if (need_lsn == 1 && argc - optind < 3)
		return (walctl_usage_why(w->cmd, "commit: LSN is missing"));
	if (need_lsn == 1 && argc - optind > 3)
		return (walctl_usage_why(w->cmd, "unexpected argument '%s'",
		    argv[optind + 3]));
	if ((need_lsn == 0 && argc - optind != 2) ||
	    (need_lsn == -1 && argc - optind > 3))
		return (walctl_usage_why(w->cmd, "unexpected argument '%s'",
		    argv[optind + (need_lsn == 0 ? 2 : 3)]));
	if ((ex = cursor_name_arg(name)) != EX_OK)
		return (ex);
	if (argc - optind == 3 && walctl_number("LSN", argv[optind + 2],
	    UINT64_MAX, &lsn) != 0)
		return (EX_USAGE);
	if ((ex = walctl_connect(w, &c)) != EX_OK)
		return (ex);
	snprintf(what, sizeof what, "cursor %s %s", verb, name);
	switch (verb[0]) {
	case 'c':
		if (verb[1] == 'r')
			r = wal_conn_cursor_create(c, name, lsn, &v);
		else {
			r = wal_conn_cursor_commit(c, name, lsn);
			v = lsn;
		}
		if (r == WAL_RESULT_OK)
			printf("%" PRIu64 "\n", v);
		break;
	case 'g':
		r = wal_conn_cursor_get(c, name, &st);
		if (r == WAL_RESULT_OK) {
			cursor_fmt_time(st.commit_ms, when, sizeof when);
			printf("%s %" PRIu64 " %s\n", st.name, st.lsn, when);
		}
		break;
	default:
		r = wal_conn_cursor_drop(c, name, &v);
		if (r == WAL_RESULT_OK)
			printf("%" PRIu64 "\n", v);
		break;
	}
	ex = r == WAL_RESULT_OK ? walctl_flush_stdout() :
	    walctl_conn_fail(c, what, r);
	wal_conn_close(c);
	return (ex);
}

/* The durable LSN from the stats, for the lag; 0 and *have 0 when the
   peer may not see the stats. *textp keeps the stats text (the caller
   frees it) for cursor_lag_bytes. */
static uint64_t
cursor_durable(struct wal_conn *c, int *have, char **textp)
{
	char		*text = NULL;
	uint64_t	 d = 0;

	*have = 0;
	*textp = NULL;
	if (wal_conn_stats(c, &text) != WAL_RESULT_OK)
		return (0);
	*have = walctl_stat_u64(text, "durable_lsn", &d);
	*textp = text;
	return (d);
}

/* A cursor's lag in bytes from the stats text ("cursor_lag_bytes:NAME
   N", an estimate): 1 and *v, or 0 when it is not there. */
static int
cursor_lag_bytes(const char *text, const char *name, uint64_t *v)
{
	char	key[sizeof "cursor_lag_bytes:" + WAL_CURSOR_NAME_MAX];

	snprintf(key, sizeof key, "cursor_lag_bytes:%s", name);
	return (walctl_stat_u64(text, key, v));
}

/* walctl cursors [--json]: every cursor, its LSN, lag and commit time. */
int
walctl_cmd_cursors(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 }
	};
	struct wal_cursor_state	*list;
	struct wal_conn		*c;
	enum wal_result		 r;
	uint64_t		 durable, lag, bytes;
	size_t			 n, i;
	char			 when[80], lagbuf[24], bytesbuf[24], *text;
	int			 ch, ex, json = 0, have;

	while ((ch = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		if (walctl_common_opt(w, ch) == 0)
			continue;
		if (ch == OPT_JSON)
			json = 1;
		else
			return (walctl_usage(w->cmd));
	}
	if ((ex = walctl_no_args(w, argc, argv)) != EX_OK)
		return (ex);
	if ((ex = walctl_connect(w, &c)) != EX_OK)
		return (ex);
	if ((r = wal_conn_cursor_list(c, &list, &n)) != WAL_RESULT_OK) {
		ex = walctl_conn_fail(c, "cursors", r);
		wal_conn_close(c);
		return (ex);
	}
	/* After the list: a lag is never negative (a cursor is at most
	   the durable LSN of when it was committed). */
	durable = cursor_durable(c, &have, &text);
	if (!json)
		printf("%-24s %20s %12s %14s %s\n", "NAME", "LSN",
		    "LAG_RECORDS", "LAG_BYTES", "COMMITTED");
	for (i = 0; i < n; i++) {
		lag = have && durable > list[i].lsn ? durable - list[i].lsn : 0;
		cursor_fmt_time(list[i].commit_ms, when, sizeof when);
		if (have)
			snprintf(lagbuf, sizeof lagbuf, "%" PRIu64, lag);
		else
			snprintf(lagbuf, sizeof lagbuf, json ? "null" : "-");
		if (text != NULL && cursor_lag_bytes(text, list[i].name,
		    &bytes))
			snprintf(bytesbuf, sizeof bytesbuf, "%" PRIu64, bytes);
		else
			snprintf(bytesbuf, sizeof bytesbuf, json ? "null" :
			    "-");
		if (json)
			printf("{\"name\":\"%s\",\"lsn\":\"%" PRIu64 "\","
			    "\"lag_records\":%s,\"lag_bytes\":%s,"
			    "\"commit_ms\":%" PRIu64 ","
			    "\"committed\":%s%s%s}\n", list[i].name,
			    list[i].lsn, lagbuf, bytesbuf, list[i].commit_ms,
			    list[i].commit_ms != 0 ? "\"" : "",
			    list[i].commit_ms != 0 ? when : "null",
			    list[i].commit_ms != 0 ? "\"" : "");
		else
			printf("%-24s %20" PRIu64 " %12s %14s %s\n",
			    list[i].name, list[i].lsn, lagbuf, bytesbuf, when);
	}
	free(text);
	free(list);
	wal_conn_close(c);
	return (walctl_flush_stdout());
}
