/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walctl-admin.c: the operator's subcommands: stats (text, JSON or
 * Prometheus, once or every N seconds), status (a summary for a person),
 * segments (a data directory's segments, read offline), ping, reload,
 * restore (a data directory rebuilt from a replication stream, then
 * verified) and keygen (a key for a key ring).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cause.h"
#include "keyring.h"
#include "libwal.h"
#include "metrics.h"
#include "segment.h"
#include "wal.h"
#include "wal-reader.h"
#include "wal-restore.h"
#include "walctl.h"
#include "walctl-stream.h"

/* Writes s as a JSON string body (without quotes). */
static void
walctl_json_str(const char *s, size_t n)
{
	size_t	i;
	int	ch;

	for (i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
}

/* 1 when s is a JSON number as walld prints them. */
static int
walctl_is_number(const char *s, size_t n)
{
	size_t	i = 0;
	int	digits = 0, dot = 0;

	if (n > 0 && s[0] == '-')
		i++;
	for (; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digits++;
		else if (s[i] == '.' && !dot && digits > 0)
			dot = 1;
		else
			return (0);
	}
	return (digits > 0 && s[n - 1] != '.' &&
	    !(n > 1 && s[0] == '0' && s[1] >= '0' && s[1] <= '9'));
}

/* The stats whose value is a word or a name, never a number: JSON
   strings, null for "none". */
static const char *const walctl_stats_words[] = {
	"version", "state", "data_dir", "encryption", "cursor_lowest",
	"archive_last_segment", "replication_state", NULL
};

/* 1 when the stat called name (n bytes) is one of the words. */
static int
walctl_stats_is_word(const char *name, size_t n)
{
	const char *const	*wp;

	for (wp = walctl_stats_words; *wp != NULL; wp++)
		if (strlen(*wp) == n && memcmp(*wp, name, n) == 0)
			return (1);
	return (0);
}

/* Writes v (n bytes) as a JSON string. */
static void
walctl_json_string(const char *v, size_t n)
{
	putchar('"');
	walctl_json_str(v, n);
	putchar('"');
}

/* Writes a list "1,2,3" ("none": empty) as a JSON array of numbers. */
static void
walctl_json_list(const char *v, size_t n)
{
	const char	*p, *end = v + n, *e;
	int		 first = 1;

	putchar('[');
	for (p = v; p < end; p = e + 1) {
		e = memchr(p, ',', end - p);
		if (e == NULL)
			e = end;
		if (walctl_is_number(p, e - p) && *p != '-') {
			printf("%s", first ? "" : ",");
			fwrite(p, 1, e - p, stdout);
			first = 0;
		}
	}
	putchar(']');
}

/*
 * Prints stats text as one JSON object in which every field has one type,
 * whatever its value (walctl(1), "JSON"): an LSN (a stat named *_lsn) is
 * a string of decimal digits, as in every JSON walctl prints; a word stat
 * a string, null for "none"; keys_needed an array of numbers; every
 * other stat a number. A stat walctl does not know yet is a number when
 * it looks like one, else a string (null for "none").
 */
static void
walctl_stats_json(const char *text)
{
	const char	*line, *eol, *sp, *v;
	size_t		 klen, vlen;
	int		 first = 1, no_cursors = 0;

	putchar('{');
	for (line = text; *line != '\0'; line = eol + (*eol != '\0')) {
		eol = strchr(line, '\n');
		if (eol == NULL)
			eol = line + strlen(line);
		sp = memchr(line, ' ', eol - line);
		if (sp == NULL || sp == line)
			continue;
		klen = sp - line;
		v = sp + 1;
		vlen = eol - v;
		printf("%s\"", first ? "" : ",");
		first = 0;
		walctl_json_str(line, klen);
		printf("\":");
		if (klen == 7 && memcmp(line, "cursors", 7) == 0)
			no_cursors = vlen == 1 && *v == '0';
		if (klen == 11 && memcmp(line, "keys_needed", 11) == 0)
			walctl_json_list(v, vlen);
		else if (klen > 4 && memcmp(line + klen - 4, "_lsn", 4) == 0)
			walctl_json_string(v, vlen);
		else if (vlen == 4 && memcmp(v, "none", 4) == 0 &&
		    (!(klen == 13 && memcmp(line, "cursor_lowest", 13) == 0) ||
		    no_cursors))
			fputs("null", stdout);	/* a cursor may be "none" */
		else if (walctl_stats_is_word(line, klen) ||
		    !walctl_is_number(v, vlen))
			walctl_json_string(v, vlen);
		else
			fwrite(v, 1, vlen, stdout);
	}
	printf("}\n");
}

/* Sleeps s seconds (stats --interval). */
static void
walctl_sleep(uint64_t s)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = 0;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Prints one sample of the stats in the form asked for. */
static int
walctl_stats_print(const char *text, int json, int prom)
{
	if (json)
		walctl_stats_json(text);
	else if (!prom)
		fputs(text, stdout);
	else if (metrics_format(text, stdout) != 0 && !ferror(stdout)) {
		walctl_warnx("stats: %s", strerror(errno));
		return (EX_OSERR);
	}
	return (walctl_flush_stdout());
}

/* walctl stats [--json | --prometheus] [--interval N]: prints walld's
   metrics, once or every N seconds. The Prometheus form is made here
   from the stats text, by the same code (proto/metrics.c) as walld's
   metrics file. */
int
walctl_cmd_stats(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ "prometheus",	no_argument,		NULL, OPT_PROMETHEUS },
		{ "interval",	required_argument,	NULL, OPT_INTERVAL },
		{ NULL, 0, NULL, 0 }
	};
	struct wal_conn	*c;
	enum wal_result	 r;
	uint64_t	 interval = 0, n;
	char		*text;
	int		 ch, ex, json = 0, prom = 0;

	while ((ch = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		if (walctl_common_opt(w, ch) == 0)
			continue;
		if (ch == OPT_JSON)
			json = 1;
		else if (ch == OPT_PROMETHEUS)
			prom = 1;
		else if (ch == OPT_INTERVAL) {
			if (walctl_number("--interval", optarg, 86400,
			    &interval) != 0)
				return (EX_USAGE);
			if (interval == 0)
				return (walctl_usage_why(w->cmd, "--interval: "
				    "at least 1 second"));
		} else
			return (walctl_usage(w->cmd));
	}
	if ((ex = walctl_no_args(w, argc, argv)) != EX_OK)
		return (ex);
	if (json && prom)
		return (walctl_usage_why(w->cmd, "--json and --prometheus go "
		    "without each other"));
	if ((ex = walctl_connect(w, &c)) != EX_OK)
		return (ex);
	for (n = 0;; n++) {
		if ((r = wal_conn_stats(c, &text)) != WAL_RESULT_OK) {
			ex = walctl_conn_fail(c, "stats", r);
			break;
		}
		/* Text samples are told apart by a blank line; JSON ones are
		   one object a line. */
		if (n > 0 && !json)
			putchar('\n');
		ex = walctl_stats_print(text, json, prom);
		free(text);
		if (ex != EX_OK || interval == 0)
			break;
		walctl_sleep(interval);
	}
	wal_conn_close(c);
	return (ex);
}

/* walctl ping: exit 0 when walld answers. */
int
walctl_cmd_ping(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct wal_conn	*c;
	enum wal_result	 r;
	int		 ch, ex;

	while ((ch = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		if (walctl_common_opt(w, ch) != 0)
			return (walctl_usage(w->cmd));
	}
	if ((ex = walctl_no_args(w, argc, argv)) != EX_OK)
		return (ex);
	if ((ex = walctl_connect(w, &c)) != EX_OK)
		return (ex);
	wal_conn_set_timeout(c, w->timeout_ms);
	r = wal_conn_ping(c);
	if (r != WAL_RESULT_OK) {
		if (r == WAL_RESULT_UNKNOWN || r == WAL_RESULT_CLOSED)
			r = WAL_RESULT_UNAVAILABLE;
		ex = walctl_conn_fail(c, "ping", r);
	}
	wal_conn_close(c);
	return (ex);
}

/* walctl reload: walld reloads its configuration; the outcome is the
   exit code (0, or 78 with walld's reason), for ExecReload=. */
int
walctl_cmd_reload(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct wal_conn	*c;
	enum wal_result	 r;
	int		 ch, ex;

	while ((ch = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		if (walctl_common_opt(w, ch) != 0)
			return (walctl_usage(w->cmd));
	}
	if ((ex = walctl_no_args(w, argc, argv)) != EX_OK)
		return (ex);
	if ((ex = walctl_connect(w, &c)) != EX_OK)
		return (ex);
	if ((r = wal_conn_reload(c)) != WAL_RESULT_OK)
		ex = walctl_conn_fail(c, "reload", r);
	wal_conn_close(c);
	return (ex);
}

/* Runs wal_verify on a restored directory: its report goes to stderr
   when it finds anything. */
static int
walctl_restore_verify(const char *dir)
{
	char	*text = NULL;
	size_t	 len = 0;
	FILE	*f;
	int	 n;

	if ((f = open_memstream(&text, &len)) == NULL) {
		walctl_warnx("restore: %s", strerror(errno));
		return (EX_OSERR);
	}
	n = wal_verify(dir, f);
	if (fclose(f) != 0) {
		walctl_warnx("restore: %s", strerror(errno));
		free(text);
		return (EX_OSERR);
	}
	if (n != 0) {
		fputs(text, stderr);
		walctl_warnx("restore: %s: verify found %s in what was "
		    "restored (above): do not start walld on it", dir,
		    n > 0 ? "problems" : "the directory unreadable");
	}
	free(text);
	return (n != 0 ? EX_SOFTWARE : EX_OK);
}

/*
 * Restores the stream's records, from sequence first to last, into dir,
 * then writes REPLICA. The highest epoch is the last message's: epochs
 * never go down in the stream (walctl_stream_next checks).
 */
static int
walctl_restore_records(struct walctl_stream *s, const char *name,
    struct wal_restore *r, const char *dir, uint64_t first, uint64_t last,
    struct repl_ident *top, char **cause)
{
	struct walctl_stream_msg m;
	uint64_t		 lsn;
	char			*c2 = NULL;
	int			 ex, done, k;

	if ((ex = walctl_stream_peek(s, last, &lsn, top, cause)) != EX_OK ||
	    (ex = walctl_stream_start(s, first, last, cause)) != EX_OK)
		return (ex);
	if (top->epoch == UINT64_MAX) {
		cause_set(cause, "stream %s: epoch %" PRIu64 ": no higher one "
		    "for the restored log", name, top->epoch);
		return (EX_DATAERR);
	}
	for (;;) {
		if ((ex = walctl_stream_next(s, &m, &done, cause)) != EX_OK ||
		    done)
			break;
		if (strcmp(m.ident.log_id, top->log_id) != 0) {
			cause_set(cause, "stream %s: sequence %" PRIu64 ": log "
			    "%s, but the last message's is %s", name, m.seq,
			    m.ident.log_id, top->log_id);
			return (EX_DATAERR);
		}
		if ((k = wal_restore_add(r, &m.rec, &c2)) != 0) {
			cause_set(cause, "stream %s: sequence %" PRIu64 ": %s",
			    name, m.seq, c2 != NULL ? c2 : "out of memory");
			free(c2);
			return (k == WAL_RESTORE_REFUSED ? EX_DATAERR :
			    EX_IOERR);
		}
	}
	if (ex != EX_OK)
		return (ex);
	top->epoch++;
	if (repl_ident_store(dir, top, cause) != 0)
		return (EX_IOERR);
	return (EX_OK);
}

/* walctl restore: rebuilds a data directory from a replication stream. */
int
walctl_cmd_restore(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "nats",	required_argument,	NULL, OPT_NATS },
		{ "stream",	required_argument,	NULL, OPT_STREAM },
		{ "creds",	required_argument,	NULL, OPT_CREDS },
		{ "dir",	required_argument,	NULL, OPT_DIR },
		{ "from-seq",	required_argument,	NULL, OPT_FROM_SEQ },
		{ NULL, 0, NULL, 0 }
	};
	struct walctl_stream_opts so;
	struct walctl_stream	*s = NULL;
	struct wal_restore	*r = NULL;
	struct wal_restore_stats st;
	struct repl_ident	 top;
	const char		*dir = NULL;
	uint64_t		 from = 0, first, last;
	char			*cause = NULL;
	int			 ch, ex;

	memset(&so, 0, sizeof so);
	so.timeout_ms = w->timeout_ms;
	while ((ch = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		if (walctl_common_opt(w, ch) == 0)
			continue;
		if (ch == OPT_NATS)
			so.urls = optarg;
		else if (ch == OPT_STREAM)
			so.stream = optarg;
		else if (ch == OPT_CREDS)
			so.creds = optarg;
		else if (ch == OPT_DIR)
			dir = optarg;
		else if (ch == OPT_FROM_SEQ) {
			if (walctl_number("--from-seq", optarg, UINT64_MAX,
			    &from) != 0)
				return (EX_USAGE);
		} else
			return (walctl_usage(w->cmd));
	}
	if ((ex = walctl_no_args(w, argc, argv)) != EX_OK)
		return (ex);
	if (so.urls == NULL || so.stream == NULL || dir == NULL)
		return (walctl_usage_why(w->cmd, "--nats, --stream and --dir "
		    "are required"));

	if ((ex = walctl_stream_open(&s, &so, &first, &last, &cause)) != EX_OK)
		goto out;
	if (last < first) {
		cause_set(&cause, "stream %s: no message: nothing to restore",
		    so.stream);
		ex = EX_NOINPUT;
		goto out;
	}
	if (from != 0 && (from < first || from > last)) {
		cause_set(&cause, "--from-seq %" PRIu64 ": stream %s holds "
		    "sequences %" PRIu64 " to %" PRIu64, from, so.stream,
		    first, last);
		ex = EX_DATAERR;
		goto out;
	}
	if ((r = wal_restore_open(dir, &cause)) == NULL) {
		ex = EX_CANTCREAT;
		goto out;
	}
	if ((ex = walctl_restore_records(s, so.stream, r, dir, from != 0 ?
	    from : first, last, &top, &cause)) != EX_OK)
		goto out;
	wal_restore_stats(r, &st);
	if (wal_restore_close(r, &cause) != 0) {
		ex = EX_IOERR;
		goto out;
	}
	r = NULL;
	if ((ex = walctl_restore_verify(dir)) != EX_OK)
		goto out;
	printf("records %" PRIu64 "\nsegments %" PRIu64 "\nfirst_lsn %" PRIu64
	    "\nlast_lsn %" PRIu64 "\nlog %s\nepoch %" PRIu64 "\n", st.records,
	    st.segments, st.first_lsn, st.last_lsn, top.log_id, top.epoch);
	ex = walctl_flush_stdout();

out:
	if (cause != NULL)
		walctl_warnx("restore: %s", cause);
	free(cause);
	cause = NULL;
	if (r != NULL) {
		if (wal_restore_abort(r, &cause) == 0)
			walctl_warnx("restore: %s: nothing restored is left",
			    dir);
		else
			walctl_warnx("restore: %s", cause != NULL ? cause :
			    "out of memory");
		free(cause);
	}
	walctl_stream_close(s);
	return (ex);
}

/* walctl keygen: prints a new key ring line from OpenSSL's generator. */
int
walctl_cmd_keygen(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "id",		required_argument,	NULL, OPT_ID },
		{ "keyring",	required_argument,	NULL, OPT_KEYRING },
		{ NULL, 0, NULL, 0 }
	};
	struct keyring	*kr;
	uint32_t	 ids[KEYRING_MAX_KEYS];
	char		 line[KEYRING_LINE_MAX], *cause = NULL;
	const char	*keyring = NULL;
	uint64_t	 id = 0;
	size_t		 n, len, done;
	ssize_t		 k;
	int		 ch;

	while ((ch = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		if (walctl_common_opt(w, ch) == 0)
			continue;
		if (ch == OPT_ID) {
			if (walctl_number("--id", optarg, UINT32_MAX, &id) != 0)
				return (EX_USAGE);
			if (id == 0)
				return (walctl_usage_why(w->cmd, "--id 0 is not "
				    "allowed (0 means \"not encrypted\")"));
		} else if (ch == OPT_KEYRING)
			keyring = optarg;
		else
			return (walctl_usage(w->cmd));
	}
	if (optind != argc)
		return (walctl_no_args(w, argc, argv));
	if (keyring != NULL && id != 0)
		return (walctl_usage_why(w->cmd, "--id and --keyring go "
		    "without each other"));
	if (keyring != NULL) {
		/* The next id after the ring's highest. */
		if ((kr = walctl_keyring("keygen", keyring)) == NULL)
			return (EX_NOINPUT);
		n = keyring_ids(kr, ids, KEYRING_MAX_KEYS);
		id = (uint64_t)ids[n - 1] + 1;
		keyring_free(kr);
		if (id > UINT32_MAX) {
			walctl_warnx("keygen: %s: no key id left above %u",
			    keyring, UINT32_MAX);
			return (EX_DATAERR);
		}
	} else if (id == 0)
		id = 1;
	if (keyring_generate((uint32_t)id, line, sizeof line, &cause) != 0) {
		walctl_warnx("keygen: %s", cause != NULL ? cause : "failed");
		free(cause);
		return (EX_SOFTWARE);
	}
	/* Straight to the descriptor: no copy of the key in stdio's buffer. */
	len = strlen(line);
	for (done = 0; done < len; done += (size_t)k) {
		k = write(STDOUT_FILENO, line + done, len - done);
		if (k == -1 && errno == EINTR) {
			k = 0;
			continue;
		}
		if (k <= 0) {
			walctl_warnx("stdout: %s", strerror(errno));
			OPENSSL_cleanse(line, sizeof line);
			return (EX_IOERR);
		}
	}
	OPENSSL_cleanse(line, sizeof line);
	return (EX_OK);
}

/* A time in unix ns as UTC ISO 8601 to the second. */
static void
walctl_fmt_ns(uint64_t ns, char *buf, size_t size)
{
	struct tm	tm;
	time_t		t = (time_t)(ns / 1000000000u);

	if (ns == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, size, "-");
	else
		strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The first LSN of the last segment archived, from the directory's
   ARCHIVED file: 1 and *first; 0 when there is none (archive.command off,
   or nothing archived yet); -1 (said why) when it cannot be read. */
static int
walctl_segments_archived(int dirfd, const char *dir, uint64_t *first)
{
	char	buf[SEG_NAME_SIZE + 2];
	ssize_t	n;
	int	fd;

	if ((fd = openat(dirfd, ARCHIVED_NAME, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return (0);
		walctl_warnx("segments: %s/%s: %s", dir, ARCHIVED_NAME,
		    strerror(errno));
		return (-1);
	}
	n = read(fd, buf, sizeof buf - 1);
	if (n == -1) {
		walctl_warnx("segments: %s/%s: %s", dir, ARCHIVED_NAME,
		    strerror(errno));
		close(fd);
		return (-1);
	}
	close(fd);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (segment_parse_name(buf, first) != 0) {
		walctl_warnx("segments: %s/%s: \"%s\" is not a segment name",
		    dir, ARCHIVED_NAME, buf);
		return (-1);
	}
	return (1);
}

/*
 * One segment's line: its first and last LSN ("-": none yet), sealed
 * (a valid footer), active (the last segment, without one: its records
 * are scanned for the last LSN) or damaged (neither: walctl verify says
 * more), its key id (0: not encrypted), creation time, size in bytes, and
 * archived (y/n; "-" without an archive position). Or the same as a JSON
 * object (walctl(1), "JSON": LSNs strings, null for none, archived a
 * boolean). 0, or 1 when damaged.
 */
static int
walctl_segment_line(int dirfd, const char *dir, const struct seg_ent *e,
    int is_last, int have_arch, uint64_t arch_first, int64_t repl, int json)
{
	struct seg_header	 h;
	struct seg_footer	 ft;
	struct seg_scan		 sc;
	struct stat		 sb;
	const char		*why = NULL, *state;
	char			 when[32], lastbuf[24], *cause = NULL;
	uint64_t		 last = 0;
	int			 fd, k, have_last = 0, bad = 0, replicated;

	if ((fd = openat(dirfd, e->name, O_RDONLY | O_CLOEXEC)) == -1 &&
	    errno == ENOENT)
		return (0);	/* truncated away since the listing */
	if (fd == -1 || fstat(fd, &sb) != 0) {
		walctl_warnx("segments: %s/%s: %s", dir, e->name,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return (1);
	}
	if (segment_read_header(fd, &h, &why) != 0) {
		walctl_warnx("segments: %s/%s: %s", dir, e->name, why);
		close(fd);
		return (1);
	}
	k = segment_read_footer(fd, (uint64_t)sb.st_size, h.first_lsn, h.seed,
	    &ft, &why);
	if (k == 1) {
		state = "sealed";
		last = ft.last_lsn;
		have_last = ft.count > 0;
	} else if (k == 0) {
		/* No footer: the active segment; or, before the last, one
		   whose footer a rotation is writing while walld runs
		   (walctl verify --dir tells damage, with walld stopped). */
		state = is_last ? "active" : "sealing";
		memset(&sc, 0, sizeof sc);
		sc.fd = fd;
		sc.size = (uint64_t)sb.st_size;
		sc.first_lsn = h.first_lsn;
		sc.seed = h.seed;
		if (segment_scan(&sc, &cause) != 0) {
			walctl_warnx("segments: %s/%s: %s", dir, e->name,
			    cause != NULL ? cause : "cannot scan");
			free(cause);
			state = "damaged";
			bad = 1;
		} else if (sc.count > 0) {
			last = sc.next_lsn - 1;
			have_last = 1;
		}
	} else {
		walctl_warnx("segments: %s/%s: footer: %s", dir, e->name,
		    k == -1 ? strerror(errno) : why);
		state = "damaged";
		bad = 1;
	}
	close(fd);
	if (have_last)
		snprintf(lastbuf, sizeof lastbuf, json ? "\"%" PRIu64 "\"" :
		    "%" PRIu64, last);
	else
		snprintf(lastbuf, sizeof lastbuf, json ? "null" : "-");
	walctl_fmt_ns(h.ctime_ns, when, sizeof when);
	/* Replicated: every record of it in the stream (unknown offline:
	   walld learns it from the stream). An empty segment has none to
	   wait for. */
	replicated = repl < 0 ? -1 : !have_last || last <= (uint64_t)repl;
	if (json) {
		/* No ctime_ns: nanoseconds since 1970 are above 2^53. */
		printf("{\"first_lsn\":\"%" PRIu64 "\",\"last_lsn\":%s,"
		    "\"state\":\"%s\",\"key_id\":%" PRIu32 ","
		    "\"created\":%s%s%s,\"size\":%jd,\"archived\":%s,"
		    "\"replicated\":%s}\n",
		    h.first_lsn, lastbuf, state, h.key_id,
		    h.ctime_ns != 0 ? "\"" : "", h.ctime_ns != 0 ? when : "null",
		    h.ctime_ns != 0 ? "\"" : "", (intmax_t)sb.st_size,
		    !have_arch ? "null" : k == 1 && h.first_lsn <= arch_first ?
		    "true" : "false", replicated < 0 ? "null" : replicated ?
		    "true" : "false");
		return (bad);
	}
	printf("%-20" PRIu64 " %-20s %-7s %10" PRIu32 " %-20s %12jd %-8s %s\n",
	    h.first_lsn, lastbuf, state, h.key_id, when, (intmax_t)sb.st_size,
	    !have_arch ? "-" : k == 1 && h.first_lsn <= arch_first ? "y" : "n",
	    replicated < 0 ? "-" : replicated ? "y" : "n");
	return (bad);
}

/* The data directory walld at the socket names in its stats, into buf
   (PATH_MAX bytes), and its replicated LSN into *repl (-1 when walld
   does not replicate). */
static int
walctl_segments_ask(struct walctl *w, char *buf, int64_t *repl)
{
	struct wal_conn	*c;
	enum wal_result	 r;
	const char	*v;
	char		*t;
	int		 ex, n;

	if ((ex = walctl_connect(w, &c)) != EX_OK)
		return (ex);
	if ((r = wal_conn_stats(c, &t)) != WAL_RESULT_OK) {
		ex = walctl_conn_fail(c, "segments", r);
		wal_conn_close(c);
		return (ex);
	}
	wal_conn_close(c);
	if ((n = walctl_stat(t, "data_dir", &v)) < 0 || n >= PATH_MAX) {
		free(t);
		return (walctl_usage_why(w->cmd, "walld does not say where "
		    "its data directory is (an older walld): give --dir DIR"));
	}
	memcpy(buf, v, (size_t)n);
	buf[n] = '\0';
	*repl = -1;
	if ((n = walctl_stat(t, "replication_state", &v)) > 0 &&
	    !(n == 3 && memcmp(v, "off", 3) == 0) &&
	    (n = walctl_stat(t, "replicated_lsn", &v)) > 0 && n < 20)
		*repl = strtoll(v, NULL, 10);
	free(t);
	return (EX_OK);
}

/* walctl segments [--dir DIR]: one line per segment, read from the
   directory (walld's own, named by its stats, without --dir). */
int
walctl_cmd_segments(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "dir",	required_argument,	NULL, OPT_DIR },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 }
	};
	struct seg_ent	*ents = NULL;
	const char	*dir = NULL;
	char		 asked[PATH_MAX];
	uint64_t	 arch_first = 0;
	int64_t		 repl = -1;
	size_t		 n = 0, i;
	char		*cause = NULL;
	int		 ch, ex, dirfd, have_arch, bad = 0, json = 0;

	while ((ch = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		if (walctl_common_opt(w, ch) == 0)
			continue;
		if (ch == OPT_DIR)
			dir = optarg;
		else if (ch == OPT_JSON)
			json = 1;
		else
			return (walctl_usage(w->cmd));
	}
	if ((ex = walctl_no_args(w, argc, argv)) != EX_OK)
		return (ex);
	/* Without --dir, the directory of the walld at the socket. */
	if (dir == NULL) {
		if ((ex = walctl_segments_ask(w, asked, &repl)) != EX_OK)
			return (ex);
		dir = asked;
	}
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		walctl_warnx("segments: %s: %s", dir, strerror(errno));
		return (EX_NOINPUT);
	}
	if (segment_list(dirfd, dir, &ents, &n, NULL, NULL, NULL,
	    &cause) != 0) {
		walctl_warnx("segments: %s", cause != NULL ? cause : dir);
		free(cause);
		close(dirfd);
		return (EX_NOINPUT);
	}
	if ((have_arch = walctl_segments_archived(dirfd, dir,
	    &arch_first)) == -1) {
		free(ents);
		close(dirfd);
		return (EX_NOINPUT);
	}
	if (n == 0) {
		walctl_warnx("segments: %s: no segment file (not a data "
		    "directory, or a failed mount?)", dir);
		free(ents);
		close(dirfd);
		return (EX_NOINPUT);
	}
	if (!json)
		printf("%-20s %-20s %-7s %10s %-20s %12s %-8s %s\n", "FIRST_LSN",
		    "LAST_LSN", "STATE", "KEY_ID", "CREATED", "SIZE",
		    "ARCHIVED", "REPLICATED");
	for (i = 0; i < n; i++)
		bad += walctl_segment_line(dirfd, dir, &ents[i], i + 1 == n,
		    have_arch == 1, arch_first, repl, json);
	free(ents);
	close(dirfd);
	if ((ex = walctl_flush_stdout()) != EX_OK)
		return (ex);
	if (bad > 0) {
		walctl_warnx("segments: %s: %d damaged segment%s (walctl verify "
		    "--dir says more)", dir, bad, bad == 1 ? "" : "s");
		return (EX_DATAERR);
	}
	return (EX_OK);
}

/* A stat as a string for status ("?" when walld did not send it). */
static const char *
walctl_stat_str(const char *text, const char *key, char *buf, size_t size)
{
	const char	*v;
	int		 n;

	if ((n = walctl_stat(text, key, &v)) < 0)
		return ("?");
	snprintf(buf, size, "%.*s", n, v);
	return (buf);
}

/* walctl status: a short summary of walld for a person (the numbers for
   a program are in stats --json). */
int
walctl_cmd_status(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct wal_conn	*c;
	enum wal_result	 r;
	const char	*v;
	char		*t, b[8][80];
	int		 ch, ex;

	while ((ch = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		if (walctl_common_opt(w, ch) != 0)
			return (walctl_usage(w->cmd));
	}
	if ((ex = walctl_no_args(w, argc, argv)) != EX_OK)
		return (ex);
	if ((ex = walctl_connect(w, &c)) != EX_OK)
		return (ex);
	if ((r = wal_conn_stats(c, &t)) != WAL_RESULT_OK) {
		ex = walctl_conn_fail(c, "status", r);
		wal_conn_close(c);
		return (ex);
	}
	wal_conn_close(c);
	printf("walld %s: %s\n", walctl_stat_str(t, "version", b[0], 80),
	    walctl_stat_str(t, "state", b[1], 80));
	printf("  log:          LSNs %s to %s durable, next %s\n",
	    walctl_stat_str(t, "first_lsn", b[0], 80),
	    walctl_stat_str(t, "durable_lsn", b[1], 80),
	    walctl_stat_str(t, "next_lsn", b[2], 80));
	printf("  segments:     %s, %s bytes on disk, %s bytes free\n",
	    walctl_stat_str(t, "segments", b[0], 80),
	    walctl_stat_str(t, "bytes_on_disk", b[1], 80),
	    walctl_stat_str(t, "disk_free_bytes", b[2], 80));
	printf("  clients:      %s connected, %s waiting for durability\n",
	    walctl_stat_str(t, "connections", b[0], 80),
	    walctl_stat_str(t, "waiters", b[1], 80));
	if (walctl_stat(t, "replication_state", &v) == 3 &&
	    strncmp(v, "off", 3) == 0)
		printf("  replication:  off\n");
	else
		printf("  replication:  %s, replicated to LSN %s, backlog %s "
		    "records\n", walctl_stat_str(t, "replication_state", b[0],
		    80), walctl_stat_str(t, "replicated_lsn", b[1], 80),
		    walctl_stat_str(t, "replication_backlog_records", b[2],
		    80));
	if (walctl_stat(t, "archive_enabled", &v) == 1 && *v == '1')
		printf("  archive:      %s segments waiting, last archived %s\n",
		    walctl_stat_str(t, "archive_backlog", b[0], 80),
		    walctl_stat_str(t, "archive_last_segment", b[1], 80));
	if (walctl_stat(t, "cursors", &v) > 0)
		printf("  cursors:      %s, furthest behind: %s at LSN %s\n",
		    walctl_stat_str(t, "cursors", b[0], 80),
		    walctl_stat_str(t, "cursor_lowest", b[1], 80),
		    walctl_stat_str(t, "cursor_lowest_lsn", b[2], 80));
	printf("  encryption:   %s, active key %s\n",
	    walctl_stat_str(t, "encryption", b[0], 80),
	    walctl_stat_str(t, "active_key_id", b[1], 80));
	printf("  damaged:      %s records met by reads\n",
	    walctl_stat_str(t, "damaged_records_total", b[0], 80));
	free(t);
	return (walctl_flush_stdout());
}
