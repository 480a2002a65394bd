/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walctl-write.c: the subcommands that write to the log or reshape it over
 * a connection to walld: append (one record, or --lines or --load, a dump
 * replayed, with a window of appends in flight, LSNs printed in input
 * order), sync, seal, rotate and truncate.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "libwal.h"
#include "walctl.h"

#define WALCTL_WINDOW		4096		/* appends in flight (--lines) */
#define WALCTL_WINDOW_BYTES	(2u << 20)	/* bytes queued (--lines) */
#define WALCTL_DUMP_MAX		(16u << 20)	/* no record's payload is
						   larger (segment.h) */

/* Reads a whole file descriptor into an allocated buffer. */
static int
walctl_slurp(int fd, const char *name, uint8_t **out, size_t *len)
{
	uint8_t	*b = NULL, *nb;
	size_t	 cap = 0, n = 0;
	ssize_t	 got;

	for (;;) {
		if (cap - n < 65536) {
			cap = cap == 0 ? 65536 : cap * 2;
			if ((nb = realloc(b, cap)) == NULL) {
				walctl_warnx("%s: out of memory", name);
				free(b);
				return (EX_OSERR);
			}
			b = nb;
		}
		got = read(fd, b + n, cap - n);
		if (got == -1) {
			if (errno == EINTR)
				continue;
			walctl_warnx("%s: %s", name, strerror(errno));
			free(b);
			return (EX_NOINPUT);
		}
		if (got == 0)
			break;
		n += got;
	}
	*out = b;
	*len = n;
	return (EX_OK);
}


/* Prints an LSN alone, or with --json as {"NAME":"N"}: LSNs are JSON
   strings everywhere in walctl (walctl(1), "JSON"). */
static void
walctl_print_lsn(int json, const char *name, uint64_t lsn)
{
	if (json)
		printf("{\"%s\":\"%" PRIu64 "\"}\n", name, lsn);
	else
		printf("%" PRIu64 "\n", lsn);
}

/* Fills a fixed window of in-order results for --lines. */
struct walctl_lines {
	struct wal_conn	*c;
	uint64_t	 first_id;	/* id of line 1 */
	uint64_t	 printed;	/* lines whose LSN went out */
	uint64_t	 submitted;
	uint64_t	*lsn;		/* WALCTL_WINDOW slots by line */
	uint8_t		*state;		/* 0 waiting, 1 ok, 2 failed */
	int		 failed;	/* exit code of the first failure */
	uint64_t	 fail_line;
	int		 json;		/* {"lsn":"N"} lines */
	const char	*unit;		/* "line" or "record" (--load) */
};

/* Prints the LSNs that are next in input order and durable. */
static void
walctl_lines_print(struct walctl_lines *l)
{
	size_t	slot;

	while (l->printed < l->submitted) {
		slot = l->printed % WALCTL_WINDOW;
		if (l->state[slot] != 1 || l->failed != EX_OK)
			break;
		walctl_print_lsn(l->json, "lsn", l->lsn[slot]);
		l->state[slot] = 0;
		l->printed++;
	}
}

/* Records one completion of --lines. */
static void
walctl_lines_done(struct walctl_lines *l, const struct wal_completion *comp)
{
	uint64_t	line = comp->id - l->first_id;
	size_t		slot = line % WALCTL_WINDOW;
	char		what[64];

	if (comp->result == WAL_RESULT_OK) {
		l->lsn[slot] = comp->lsn;
		l->state[slot] = 1;
	} else {
		l->state[slot] = 2;
		if (l->failed == EX_OK || line < l->fail_line) {
			snprintf(what, sizeof what, "append: %s %" PRIu64,
			    l->unit, line + 1);
			l->failed = walctl_fail(what, comp->result, comp->code,
			    comp->msg);
			l->fail_line = line;
		}
	}
	walctl_lines_print(l);
}

/* Takes completions: waits for one when block, else only ready ones. */
static void
walctl_lines_collect(struct walctl_lines *l, int block)
{
	struct wal_completion	comp;

	if (block) {
		if (wal_conn_wait(l->c, -1, &comp) == 1)
			walctl_lines_done(l, &comp);
	} else
		wal_conn_pump(l->c);
	while (wal_conn_completion(l->c, &comp))
		walctl_lines_done(l, &comp);
}

/* The end of --lines and --load: frees what they held; the exit code,
   ex or a failure to write standard output. */
static int
walctl_lines_end(struct walctl_lines *l, void *buf, int ex)
{
	free(buf);
	free(l->lsn);
	free(l->state);
	if (ex == EX_OK)
		return (walctl_flush_stdout());
	fflush(stdout);
	return (ex);
}

/*
 * append --lines: one record per input line, many in flight. Lines are
 * read with read(2) so that, when no more input is ready, everything
 * queued is flushed and its LSNs printed before blocking on input.
 */
static int
walctl_append_lines(struct wal_conn *c, int fd, const char *name,
    const struct walctl_rec_opts *o, uint64_t producer, uint64_t seq,
    int json)
{
	struct walctl_lines	 l;
	struct pollfd		 pfd;
	uint8_t			*buf, *nb, *nl;
	size_t			 cap = 1u << 20, off = 0, len = 0, llen;
	ssize_t			 got;
	uint64_t		 id;
	enum wal_result		 r;
	int			 eof = 0, ex;

	memset(&l, 0, sizeof l);
	l.c = c;
	l.json = json;
	l.unit = "line";
	l.lsn = calloc(WALCTL_WINDOW, sizeof *l.lsn);
	l.state = calloc(WALCTL_WINDOW, 1);
	buf = malloc(cap);
	if (l.lsn == NULL || l.state == NULL || buf == NULL) {
		walctl_warnx("append: out of memory");
		return (EX_OSERR);
	}

	while (l.failed == EX_OK) {
		nl = memchr(buf + off, '\n', len - off);
		if (nl == NULL && !eof) {
			/* Need more input: compact, grow, and read. */
			if (off > 0) {
				memmove(buf, buf + off, len - off);
				len -= off;
				off = 0;
			}
			if (len == cap) {
				if ((nb = realloc(buf, cap * 2)) == NULL) {
					walctl_warnx("append: out of memory");
					ex = EX_OSERR;
					goto out;
				}
				buf = nb;
				cap *= 2;
			}
			pfd.fd = fd;
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 0) == 0) {
				/* Idle input: make what we have durable. */
				while (wal_conn_inflight(c) > 0)
					walctl_lines_collect(&l, 1);
				if ((ex = walctl_flush_stdout()) != EX_OK)
					goto out;
			}
			got = read(fd, buf + len, cap - len);
			if (got == -1) {
				if (errno == EINTR)
					continue;
				walctl_warnx("%s: %s", name, strerror(errno));
				ex = EX_IOERR;
				goto out;
			}
			if (got == 0)
				eof = 1;
			len += got;
			continue;
		}
		if (nl == NULL && off == len)
			break;				/* all done */
		llen = nl != NULL ? (size_t)(nl - (buf + off)) : len - off;

		while (wal_conn_inflight(c) >= WALCTL_WINDOW ||
		    wal_conn_output_pending(c) >= WALCTL_WINDOW_BYTES)
			walctl_lines_collect(&l, 1);
		if (producer != 0)
			r = wal_conn_submit_append_seq(c, producer,
			    seq + l.submitted, o->type, o->tenant, o->vshard,
			    buf + off, llen, &id);
		else
			r = wal_conn_submit_append(c, o->type, o->tenant,
			    o->vshard, buf + off, llen, 0, &id);
		if (r != WAL_RESULT_OK) {
			char	what[64];

			snprintf(what, sizeof what, "append: line %" PRIu64,
			    l.submitted + 1);
			l.failed = walctl_conn_fail(c, what, r);
			l.fail_line = l.submitted;
			break;
		}
		if (l.submitted == 0)
			l.first_id = id;
		l.submitted++;
		off += llen + (nl != NULL ? 1 : 0);
		walctl_lines_collect(&l, 0);
	}
	/* Drain: every LSN is printed once durable, in input order. */
	while (wal_conn_inflight(c) > 0)
		walctl_lines_collect(&l, 1);
	ex = l.failed;
out:
	return (walctl_lines_end(&l, buf, ex));
}

/* Reads n bytes of a dump: 1; 0 at its end before any byte; -1 (said
   why, *ex set) on an error or a short read. */
static int
walctl_load_read(FILE *f, const char *name, void *buf, size_t n,
    uint64_t rec, int *ex)
{
	size_t	got;

	if ((got = fread(buf, 1, n, f)) == n)
		return (1);
	if (ferror(f)) {
		walctl_warnx("append: %s: %s", name, strerror(errno));
		*ex = EX_IOERR;
		return (-1);
	}
	if (got == 0)
		return (0);
	walctl_warnx("append: %s: record %" PRIu64 ": cut short: the dump is "
	    "truncated", name, rec);
	*ex = EX_DATAERR;
	return (-1);
}

/* A big-endian number of n bytes at p. */
static uint64_t
walctl_load_be(const unsigned char *p, int n)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return (v);
}

/*
 * append --load: replays a dump of read --dump (its format: walctl.h),
 * each record with its type, tenant and vshard (the LSNs are new), many
 * in flight as with --lines, one LSN printed per record in dump order. A
 * dump that is cut short or damaged is an error (65) after the records
 * before the damage: they are appended, and their LSNs printed.
 */
static int
walctl_append_load(struct wal_conn *c, FILE *f, const char *name, int json)
{
	struct walctl_lines	 l;
	unsigned char		 magic[WALCTL_DUMP_MAGIC_LEN];
	unsigned char		 h[WALCTL_DUMP_HDR];
	uint8_t			*buf = NULL, *nb;
	size_t			 cap = 0;
	uint64_t		 id, lsn, n = 0;
	uint32_t		 len;
	enum wal_result		 r;
	int			 ex = EX_OK, k;

	memset(&l, 0, sizeof l);
	l.c = c;
	l.json = json;
	l.unit = "record";
	l.lsn = calloc(WALCTL_WINDOW, sizeof *l.lsn);
	l.state = calloc(WALCTL_WINDOW, 1);
	if (l.lsn == NULL || l.state == NULL) {
		walctl_warnx("append: out of memory");
		free(l.lsn);
		free(l.state);
		return (EX_OSERR);
	}
	if ((k = walctl_load_read(f, name, magic, sizeof magic, 0, &ex)) != 1 ||
	    memcmp(magic, WALCTL_DUMP_MAGIC, sizeof magic) != 0) {
		if (k != -1) {
			walctl_warnx("append: %s: not a walctl dump (it begins "
			    "with the line \"walctl-dump 1\")", name);
			ex = EX_DATAERR;
		}
		goto out;
	}
	while (l.failed == EX_OK) {
		if ((k = walctl_load_read(f, name, h, sizeof h, n + 1,
		    &ex)) == -1)
			break;
		if (k == 0) {
			walctl_warnx("append: %s: no end mark after record %"
			    PRIu64 ": the dump is truncated", name, n);
			ex = EX_DATAERR;
			break;
		}
		lsn = walctl_load_be(h + 8, 8);
		len = (uint32_t)walctl_load_be(h + 16, 4);
		if (len == WALCTL_DUMP_END) {
			if (lsn != n) {
				walctl_warnx("append: %s: the end mark counts %"
				    PRIu64 " records, the dump holds %" PRIu64,
				    name, lsn, n);
				ex = EX_DATAERR;
			} else if (fgetc(f) != EOF) {
				walctl_warnx("append: %s: bytes after the end "
				    "mark", name);
				ex = EX_DATAERR;
			}
			break;
		}
		if (len > WALCTL_DUMP_MAX) {
			walctl_warnx("append: %s: record %" PRIu64 " (LSN %"
			    PRIu64 "): length %" PRIu32 " is above any "
			    "record's: the dump is damaged", name, n + 1, lsn,
			    len);
			ex = EX_DATAERR;
			break;
		}
		if (len > cap) {
			if ((nb = realloc(buf, len)) == NULL) {
				walctl_warnx("append: out of memory");
				ex = EX_OSERR;
				break;
			}
			buf = nb;
			cap = len;
		}
		if (len > 0 && walctl_load_read(f, name, buf, len, n + 1,
		    &ex) != 1) {
			if (ex == EX_OK) {
				walctl_warnx("append: %s: record %" PRIu64
				    ": cut short: the dump is truncated", name,
				    n + 1);
				ex = EX_DATAERR;
			}
			break;
		}
		while (wal_conn_inflight(c) >= WALCTL_WINDOW ||
		    wal_conn_output_pending(c) >= WALCTL_WINDOW_BYTES)
			walctl_lines_collect(&l, 1);
		r = wal_conn_submit_append(c,
		    (uint16_t)walctl_load_be(h, 2),
		    (uint32_t)walctl_load_be(h + 2, 4),
		    (uint16_t)walctl_load_be(h + 6, 2), buf, len, 0, &id);
		if (r != WAL_RESULT_OK) {
			char	what[64];

			snprintf(what, sizeof what, "append: record %" PRIu64,
			    n + 1);
			l.failed = walctl_conn_fail(c, what, r);
			l.fail_line = l.submitted;
			break;
		}
		if (l.submitted == 0)
			l.first_id = id;
		l.submitted++;
		n++;
		walctl_lines_collect(&l, 0);
	}
	/* Every record sent completes, and its LSN is printed in order. */
	while (wal_conn_inflight(c) > 0)
		walctl_lines_collect(&l, 1);
	if (l.failed != EX_OK)
		ex = l.failed;
out:
	return (walctl_lines_end(&l, buf, ex));
}

/* walctl append: one record (DATA, --file, or stdin), or --lines. */
int
walctl_cmd_append(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "type",	required_argument,	NULL, OPT_TYPE },
		{ "tenant",	required_argument,	NULL, OPT_TENANT },
		{ "vshard",	required_argument,	NULL, OPT_VSHARD },
		{ "file",	required_argument,	NULL, OPT_FILE },
		{ "lines",	no_argument,		NULL, OPT_LINES },
		{ "ack",	required_argument,	NULL, OPT_ACK },
		{ "producer",	required_argument,	NULL, OPT_PRODUCER },
		{ "seq",	required_argument,	NULL, OPT_SEQ },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ "load",	required_argument,	NULL, OPT_LOAD },
		{ NULL, 0, NULL, 0 }
	};
	struct walctl_rec_opts	 o;
	FILE			*lf;
	struct wal_conn		*c;
	const char		*file = NULL, *name, *load = NULL;
	uint8_t			*data = NULL;
	const void		*payload;
	size_t			 len;
	uint64_t		 lsn, producer = 0, seq = 0;
	enum wal_result		 r;
	int			 ch, lines = 0, bad = 0, fd, ex, json = 0;

	memset(&o, 0, sizeof o);
	while ((ch = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		if (walctl_common_opt(w, ch) == 0 ||
		    walctl_rec_opt(&o, ch, &bad) == 0)
			;
		else if (ch == OPT_FILE)
			file = optarg;
		else if (ch == OPT_LINES)
			lines = 1;
		else if (ch == OPT_PRODUCER)
			bad = walctl_number("--producer", optarg, UINT64_MAX,
			    &producer) != 0;
		else if (ch == OPT_SEQ)
			bad = walctl_number("--seq", optarg, UINT64_MAX,
			    &seq) != 0;
		else if (ch == OPT_JSON)
			json = 1;
		else if (ch == OPT_LOAD)
			load = optarg;
		else
			return (walctl_usage(w->cmd));
		if (bad)
			return (EX_USAGE);
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		return (walctl_usage_why(w->cmd, "unexpected argument '%s'",
		    argv[1]));
	if (argc == 1 && (file != NULL || lines))
		return (walctl_usage_why(w->cmd, "DATA goes without --file "
		    "and --lines"));
	if ((producer == 0) != (seq == 0))
		return (walctl_usage_why(w->cmd, "--producer and --seq go "
		    "together, and neither is 0"));
	if (load != NULL) {
		/* The dump holds each record's type, tenant and vshard. */
		if (argc == 1 || file != NULL || lines || producer != 0 ||
		    o.has_type || o.has_tenant || o.has_vshard)
			return (walctl_usage_why(w->cmd, "--load goes without "
			    "DATA, --file, --lines, --producer, --type, "
			    "--tenant and --vshard"));
		if (strcmp(load, "-") == 0)
			lf = stdin;
		else if ((lf = fopen(load, "re")) == NULL) {
			walctl_warnx("append: %s: %s", load, strerror(errno));
			return (EX_NOINPUT);
		}
		if ((ex = walctl_connect(w, &c)) == EX_OK) {
			ex = walctl_append_load(c, lf, lf == stdin ? "stdin" :
			    load, json);
			wal_conn_close(c);
		}
		if (lf != stdin && fclose(lf) != 0 && ex == EX_OK) {
			walctl_warnx("append: %s: %s", load, strerror(errno));
			ex = EX_IOERR;
		}
		return (ex);
	}

	fd = STDIN_FILENO;
	name = "stdin";
	if (file != NULL) {
		name = file;
		if ((fd = open(file, O_RDONLY|O_CLOEXEC)) == -1) {
			walctl_warnx("%s: %s", file, strerror(errno));
			return (EX_NOINPUT);
		}
	}
	if ((ex = walctl_connect(w, &c)) != EX_OK)
		goto out;

	if (lines) {
		ex = walctl_append_lines(c, fd, name, &o, producer, seq, json);
		wal_conn_close(c);
		goto out;
	}
	if (argc == 1) {
		payload = argv[0];
		len = strlen(argv[0]);
	} else if ((ex = walctl_slurp(fd, name, &data, &len)) != EX_OK) {
		wal_conn_close(c);
		goto out;
	} else
		payload = data;
	if (producer != 0)
		r = wal_conn_append_seq(c, producer, seq, o.type, o.tenant,
		    o.vshard, payload, len, &lsn);
	else
		r = wal_conn_append(c, o.type, o.tenant, o.vshard, payload,
		    len, &lsn);
	if (r != WAL_RESULT_OK)
		ex = walctl_conn_fail(c, "append", r);
	else {
		walctl_print_lsn(json, "lsn", lsn);
		ex = walctl_flush_stdout();
	}
	wal_conn_close(c);
out:
	free(data);
	if (fd != STDIN_FILENO)
		close(fd);
	return (ex);
}

/* Runs a request whose reply is one LSN and prints it. */
static int
walctl_lsn_cmd(struct walctl *w, int argc, char **argv,
    enum wal_result (*fn)(struct wal_conn *, uint64_t *))
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "ack",	required_argument,	NULL, OPT_ACK },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 }
	};
	struct wal_conn	*c;
	enum wal_result	 r;
	uint64_t	 lsn;
	int		 ch, ex, json = 0;

	while ((ch = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		/* --ack and --json are a sync's alone. */
		if ((ch == OPT_ACK || ch == OPT_JSON) && fn != wal_conn_sync)
			return (walctl_usage_why(w->cmd, "%s goes with sync "
			    "only", ch == OPT_ACK ? "--ack" : "--json"));
		if (ch == OPT_JSON)
			json = 1;
		else if (walctl_common_opt(w, ch) != 0)
			return (walctl_usage(w->cmd));
	}
	if ((ex = walctl_no_args(w, argc, argv)) != EX_OK)
		return (ex);
	if ((ex = walctl_connect(w, &c)) != EX_OK)
		return (ex);
	r = fn(c, &lsn);
	if (r != WAL_RESULT_OK)
		ex = walctl_conn_fail(c, w->cmd->name, r);
	else {
		walctl_print_lsn(json, "durable_lsn", lsn);
		ex = walctl_flush_stdout();
	}
	wal_conn_close(c);
	return (ex);
}

/* walctl sync: prints the durable LSN. */
int
walctl_cmd_sync(struct walctl *w, int argc, char **argv)
{
	return (walctl_lsn_cmd(w, argc, argv, wal_conn_sync));
}

/* walctl seal: prints the last LSN. */
int
walctl_cmd_seal(struct walctl *w, int argc, char **argv)
{
	return (walctl_lsn_cmd(w, argc, argv, wal_conn_seal));
}

/* walctl rotate: prints the first LSN of the new segment. */
int
walctl_cmd_rotate(struct walctl *w, int argc, char **argv)
{
	return (walctl_lsn_cmd(w, argc, argv, wal_conn_rotate));
}

/* walctl truncate --before LSN: prints the new first LSN. */
int
walctl_cmd_truncate(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "before",	required_argument,	NULL, OPT_BEFORE },
		{ "dry-run",	no_argument,		NULL, OPT_DRY_RUN },
		{ "force",	no_argument,		NULL, OPT_FORCE },
		{ NULL, 0, NULL, 0 }
	};
	struct wal_conn	*c;
	enum wal_result	 r;
	uint64_t	 before = 0, first, segs = 0, bytes = 0;
	int		 ch, ex, have = 0, flags = 0;

	while ((ch = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		if (walctl_common_opt(w, ch) == 0)
			continue;
		if (ch == OPT_DRY_RUN) {
			flags |= WAL_TRUNCATE_DRY_RUN;
			continue;
		}
		if (ch == OPT_FORCE) {
			flags |= WAL_TRUNCATE_FORCE;
			continue;
		}
		if (ch != OPT_BEFORE)
			return (walctl_usage(w->cmd));
		if (walctl_number("--before", optarg, UINT64_MAX, &before))
			return (EX_USAGE);
		have = 1;
	}
	if ((ex = walctl_no_args(w, argc, argv)) != EX_OK)
		return (ex);
	if (!have)
		return (walctl_usage_why(w->cmd, "--before LSN is required"));
	if ((ex = walctl_connect(w, &c)) != EX_OK)
		return (ex);
	r = wal_conn_truncate_ex(c, before, flags, &first, &segs, &bytes);
	if (r != WAL_RESULT_OK)
		ex = walctl_conn_fail(c, "truncate", r);
	else {
		if (flags & WAL_TRUNCATE_DRY_RUN)
			printf("would remove %" PRIu64 " segments (%" PRIu64
			    " bytes); the log would start at LSN %" PRIu64 "\n",
			    segs, bytes, first);
		else
			printf("%" PRIu64 "\n", first);
		ex = walctl_flush_stdout();
	}
	wal_conn_close(c);
	return (ex);
}
