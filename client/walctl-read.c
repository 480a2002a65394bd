/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walctl-read.c: reading the log back, as text, JSON, the payloads alone
 * or a binary dump (its format: walctl.h): read from walld
 * (a cursor), from a data directory (--dir, the engine's reader) or from a
 * replication stream (--nats); and verify, the offline checker.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cause.h"
#include "keyring.h"
#include "libwal.h"
#include "wal.h"
#include "wal-reader.h"
#include "walctl.h"
#include "walctl-stream.h"

/* Makes out->buf hold at least need bytes. */
static int
walctl_out_room(struct walctl_out *out, size_t need)
{
	char	*nb;

	if (need <= out->cap)
		return (0);
	if ((nb = realloc(out->buf, need)) == NULL) {
		walctl_warnx("read: out of memory");
		return (-1);
	}
	out->buf = nb;
	out->cap = need;
	return (0);
}

/* Writes a dump record header (walctl.h) to stdout. */
static void
walctl_dump_hdr(uint16_t type, uint32_t tenant, uint16_t vshard,
    uint64_t lsn, uint32_t len)
{
	unsigned char	h[WALCTL_DUMP_HDR];
	int		i;

	h[0] = type >> 8;
	h[1] = type & 0xff;
	for (i = 0; i < 4; i++)
		h[2 + i] = (tenant >> (24 - 8 * i)) & 0xff;
	h[6] = vshard >> 8;
	h[7] = vshard & 0xff;
	for (i = 0; i < 8; i++)
		h[8 + i] = (lsn >> (56 - 8 * i)) & 0xff;
	for (i = 0; i < 4; i++)
		h[16 + i] = (len >> (24 - 8 * i)) & 0xff;
	fwrite(h, 1, sizeof h, stdout);
}

/* Starts the output: a dump's magic line. */
void
walctl_out_begin(struct walctl_out *out)
{
	if (out->mode == WALCTL_OUT_DUMP)
		fputs(WALCTL_DUMP_MAGIC, stdout);
}

/* Ends an output that went well: a dump's end mark, which says how many
   records came before it. */
void
walctl_out_end(struct walctl_out *out)
{
	if (out->mode == WALCTL_OUT_DUMP)
		walctl_dump_hdr(0, 0, 0, out->count, WALCTL_DUMP_END);
}

/* Prints one record: text, a JSON line, the payload alone, or a dump
   record. Write errors show in walctl_flush_stdout at the end. */
int
walctl_print_record(struct walctl_out *out, uint64_t lsn, uint16_t type,
    uint32_t tenant, uint16_t vshard, const void *payload, uint32_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const uint8_t		*p = payload;
	char			*nb;
	size_t			 i;

	if (++out->count == out->limit)
		out->done = 1;
	switch (out->mode) {
	case WALCTL_OUT_TEXT:
		break;
	case WALCTL_OUT_JSON:
		if (walctl_out_room(out, 4 * (((size_t)len + 2) / 3) + 1) != 0)
			return (EX_OSERR);
		EVP_EncodeBlock((unsigned char *)out->buf, p, (int)len);
		printf("{\"lsn\":\"%" PRIu64 "\",\"type\":%u,\"tenant\":%u,"
		    "\"vshard\":%u,\"payload\":\"%s\"}\n", lsn, type, tenant,
		    vshard, out->buf);
		return (EX_OK);
	case WALCTL_OUT_RAW:
		fwrite(p, 1, len, stdout);
		return (EX_OK);
	case WALCTL_OUT_DUMP:
		walctl_dump_hdr(type, tenant, vshard, lsn, len);
		fwrite(p, 1, len, stdout);
		return (EX_OK);
	}
	/* Escaped into one buffer (at most 4 bytes per payload byte), then
	   written with one fwrite: a call per byte ran at 0.03 GB/s. */
	if (walctl_out_room(out, 4 * (size_t)len + 1) != 0)
		return (EX_OSERR);
	nb = out->buf;
	for (i = 0; i < len; i++) {
		switch (p[i]) {
		case '"':	*nb++ = '\\'; *nb++ = '"'; break;
		case '\\':	*nb++ = '\\'; *nb++ = '\\'; break;
		case '\n':	*nb++ = '\\'; *nb++ = 'n'; break;
		case '\r':	*nb++ = '\\'; *nb++ = 'r'; break;
		case '\t':	*nb++ = '\\'; *nb++ = 't'; break;
		default:
			if (p[i] >= 0x20 && p[i] < 0x7f)
				*nb++ = (char)p[i];
			else {
				*nb++ = '\\';
				*nb++ = 'x';
				*nb++ = hex[p[i] >> 4];
				*nb++ = hex[p[i] & 15];
			}
		}
	}
	printf("lsn=%" PRIu64 " type=%u tenant=%u vshard=%u len=%u data=\"",
	    lsn, type, tenant, vshard, len);
	fwrite(out->buf, 1, (size_t)(nb - out->buf), stdout);
	fputs("\"\n", stdout);
	return (EX_OK);
}

/* The exit code of a failed read --dir, the same as walld's answer for
   the same condition gives: 65 damage, 66 not in the log (or not
   readable), 70 anything else. */
static int
walctl_read_fault_exit(const struct wal_read_fault *f)
{
	switch (f->kind) {
	case WAL_READ_DAMAGED:
		return (EX_DATAERR);
	case WAL_READ_RANGE:
		return (EX_NOINPUT);
	case WAL_READ_OK:
	case WAL_READ_OTHER:
		break;
	}
	return (EX_NOINPUT);
}

/* read --dir: the same records, from the files, without walld. */
static int
walctl_read_dir(const char *dir, const struct wal_cursor_opts *q,
    struct keyring *kr, struct walctl_out *out)
{
	struct wal_filter	 f;
	struct wal_reader	*rd;
	struct wal_record	 rec;
	struct wal_read_fault	 fault;
	char			*cause = NULL;
	uint64_t		 limit = q->to != 0 ? q->to : UINT64_MAX;
	int			 rc, ex = EX_OK;

	memset(&f, 0, sizeof f);
	f.tenant = q->tenant;
	f.vshard = q->vshard;
	f.type = q->type;
	f.has_tenant = q->has_tenant;
	f.has_vshard = q->has_vshard;
	f.has_type = q->has_type;
	f.since_ns = q->since_ns;
	f.until_ns = q->until_ns;
	f.has_since = q->has_since;
	f.has_until = q->has_until;
	if ((rd = wal_reader_open_fault(dir, q->from, &f, kr, &fault,
	    &cause)) == NULL) {
		walctl_warnx("read: %s", cause != NULL ? cause : "cannot open");
		free(cause);
		return (walctl_read_fault_exit(&fault));
	}
	for (;;) {
		rc = wal_reader_next(rd, limit, &rec, &cause);
		if (rc == -1) {
			walctl_warnx("read: %s", cause != NULL ? cause :
			    "damaged");
			free(cause);
			wal_reader_fault(rd, &fault);
			ex = walctl_read_fault_exit(&fault);
			break;
		}
		if (rc == 0) {
			/* Follow: poll the files for new records, until a
			   record later than --until says none can match. */
			if (!q->follow || q->to != 0 ||
			    wal_reader_past_until(rd))
				break;
			if (fflush(stdout) == EOF)
				break;
			poll(NULL, 0, 100);
			continue;
		}
		if ((ex = walctl_print_record(out, rec.lsn, rec.type,
		    rec.tenant, rec.vshard, rec.payload, rec.len)) != EX_OK ||
		    out->done)
			break;
	}
	wal_reader_close(rd);
	if (ex == EX_OK)
		ex = walctl_flush_stdout();
	return (ex);
}

/* 1 when a record passes read's filters. */
static int
walctl_read_match(const struct wal_cursor_opts *q, const struct wal_record *r)
{
	return ((!q->has_tenant || r->tenant == q->tenant) &&
	    (!q->has_vshard || r->vshard == q->vshard) &&
	    (!q->has_type || r->type == q->type) &&
	    (!q->has_since || (r->time_ns != 0 && r->time_ns >= q->since_ns)) &&
	    (!q->has_until || (r->time_ns != 0 && r->time_ns <= q->until_ns)));
}

/* Where read --nats starts: the sequence of LSN q->from (*seq past the
   end when there is none yet). */
static int
walctl_read_nats_start(struct walctl_stream *s, const char *name,
    const struct wal_cursor_opts *q, uint64_t first, uint64_t last,
    uint64_t *seq, char **cause)
{
	struct repl_ident	id;
	uint64_t		lsn;
	int			ex;

	*seq = first;
	if (last < first || q->from == 0)
		return (EX_OK);
	if ((ex = walctl_stream_peek(s, first, &lsn, &id, cause)) != EX_OK)
		return (ex);
	if (q->from < lsn) {
		cause_set(cause, "stream %s: LSN %" PRIu64 " is below the "
		    "stream's first LSN %" PRIu64, name, q->from, lsn);
		return (EX_NOINPUT);
	}
	/* Message n + 1 holds LSN lsn(n) + 1 (docs/REPLICATION.md). */
	*seq = q->from - lsn > UINT64_MAX - first ? UINT64_MAX :
	    first + (q->from - lsn);
	return (EX_OK);
}

/* read --nats: the same records, from a replication stream. */
static int
walctl_read_nats(const struct walctl_stream_opts *so,
    const struct wal_cursor_opts *q, struct keyring *kr,
    struct walctl_out *out)
{
	struct walctl_stream	*s = NULL;
	struct walctl_stream_msg m;
	uint64_t		 first, last, seq, end;
	char			*cause = NULL;
	int			 ex, done, head = 1;

	if ((ex = walctl_stream_open(&s, so, &first, &last, &cause)) != EX_OK ||
	    (ex = walctl_read_nats_start(s, so->stream, q, first, last, &seq,
	    &cause)) != EX_OK)
		goto out;
	end = q->follow && q->to == 0 ? UINT64_MAX : last;
	if (seq > end || (ex = walctl_stream_start(s, seq, end, &cause)) !=
	    EX_OK)
		goto out;
	for (;;) {
		/* Following: show what came before waiting for more. */
		if (q->follow && !walctl_stream_pending(s) &&
		    (ex = walctl_flush_stdout()) != EX_OK)
			break;
		if ((ex = walctl_stream_next(s, &m, &done, &cause)) != EX_OK ||
		    done)
			break;
		if (head && q->from != 0 && m.rec.lsn != q->from) {
			cause_set(&cause, "stream %s: sequence %" PRIu64 ": LSN "
			    "%" PRIu64 " where LSN %" PRIu64 " was expected "
			    "(the stream must hold consecutive LSNs)",
			    so->stream, m.seq, m.rec.lsn, q->from);
			ex = EX_DATAERR;
			break;
		}
		head = 0;
		if (q->to != 0 && m.rec.lsn > q->to)
			break;
		/* Times never go back: nothing after it can match. */
		if (q->has_until && m.rec.time_ns > q->until_ns)
			break;
		if (walctl_read_match(q, &m.rec) &&
		    ((ex = walctl_stream_decrypt(s, kr, &m, &cause)) != EX_OK ||
		    (ex = walctl_print_record(out, m.rec.lsn, m.rec.type,
		    m.rec.tenant, m.rec.vshard, m.rec.payload,
		    m.rec.len)) != EX_OK || out->done))
			break;
		if (q->to != 0 && m.rec.lsn >= q->to)
			break;
	}
out:
	if (cause != NULL)
		walctl_warnx("read: %s", cause);
	free(cause);
	walctl_stream_close(s);
	if (ex == EX_OK)
		ex = walctl_flush_stdout();
	return (ex);
}

/* read from walld, neither following nor with a cursor: one cursor
   over the range. */
static int
walctl_read_walld(struct walctl *w, const struct wal_cursor_opts *q,
    struct walctl_out *out)
{
	struct wal_conn		*c;
	struct wal_cursor	*cur;
	struct wal_entry	 e;
	enum wal_result		 r;
	int			 ex, rc;

	if ((ex = walctl_connect(w, &c)) != EX_OK)
		return (ex);
	if ((r = wal_cursor_open(c, q, &cur)) != WAL_RESULT_OK) {
		ex = walctl_conn_fail(c, "read", r);
		wal_conn_close(c);
		return (ex);
	}
	for (;;) {
		rc = wal_cursor_next(cur, -1, &e);
		if (rc == 0)
			break;
		if (rc == -1) {
			ex = walctl_fail("read", wal_cursor_result(cur), 0,
			    wal_cursor_error(cur));
			break;
		}
		if ((ex = walctl_print_record(out, e.lsn, e.type, e.tenant,
		    e.vshard, e.payload, e.len)) != EX_OK || out->done)
			break;
	}
	wal_cursor_close(cur);
	wal_conn_close(c);
	return (ex);
}

/* Sets the output mode of --json, --raw or --dump; a usage error when
   one was set already. */
static int
walctl_read_mode(struct walctl *w, struct walctl_out *out, int ch)
{
	enum walctl_out_mode	m;

	m = ch == OPT_JSON ? WALCTL_OUT_JSON : ch == OPT_RAW ? WALCTL_OUT_RAW :
	    WALCTL_OUT_DUMP;
	if (out->mode != WALCTL_OUT_TEXT && out->mode != m)
		return (walctl_usage_why(w->cmd, "--json, --raw and --dump go "
		    "without each other"));
	out->mode = m;
	return (EX_OK);
}

/* walctl read: prints records in LSN order, from walld, --dir or
   --nats. */
int
walctl_cmd_read(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "from",	required_argument,	NULL, OPT_FROM },
		{ "to",		required_argument,	NULL, OPT_TO },
		{ "type",	required_argument,	NULL, OPT_TYPE },
		{ "tenant",	required_argument,	NULL, OPT_TENANT },
		{ "vshard",	required_argument,	NULL, OPT_VSHARD },
		{ "follow",	no_argument,		NULL, OPT_FOLLOW },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ "raw",	no_argument,		NULL, OPT_RAW },
		{ "dump",	no_argument,		NULL, OPT_DUMP },
		{ "limit",	required_argument,	NULL, 'n' },
		{ "last",	required_argument,	NULL, OPT_LAST },
		{ "dir",	required_argument,	NULL, OPT_DIR },
		{ "keyring",	required_argument,	NULL, OPT_KEYRING },
		{ "nats",	required_argument,	NULL, OPT_NATS },
		{ "stream",	required_argument,	NULL, OPT_STREAM },
		{ "creds",	required_argument,	NULL, OPT_CREDS },
		{ "cursor",	required_argument,	NULL, OPT_CURSOR },
		{ "commit-every", required_argument,	NULL, OPT_COMMIT_EVERY },
		{ "commit-ms",	required_argument,	NULL, OPT_COMMIT_MS },
		{ "since",	required_argument,	NULL, OPT_SINCE },
		{ "until",	required_argument,	NULL, OPT_UNTIL },
		{ NULL, 0, NULL, 0 }
	};
	struct walctl_consume	 cons;
	struct walctl_rec_opts	 o;
	struct walctl_stream_opts so;
	struct keyring		*kr = NULL;
	struct wal_cursor_opts	 q;
	struct walctl_out	 out;
	const char		*dir = NULL, *keyring = NULL;
	uint64_t		 last = 0;
	int			 ch, bad = 0, ex, has_last = 0;

	memset(&o, 0, sizeof o);
	memset(&so, 0, sizeof so);
	memset(&q, 0, sizeof q);
	memset(&out, 0, sizeof out);
	walctl_consume_defaults(&cons, "read");
	so.timeout_ms = w->timeout_ms;
	while ((ch = getopt_long(argc, argv, ":s:hn:", longopts, NULL)) !=
	    -1) {
		if (walctl_common_opt(w, ch) == 0 ||
		    walctl_rec_opt(&o, ch, &bad) == 0 ||
		    walctl_consume_opt(&cons, ch, &bad) == 0)
			;
		else if (ch == OPT_FROM)
			bad = walctl_number("--from", optarg, UINT64_MAX,
			    &q.from);
		else if (ch == OPT_TO)
			bad = walctl_number("--to", optarg, UINT64_MAX, &q.to);
		else if (ch == OPT_SINCE) {
			bad = walctl_time("--since", optarg, &q.since_ns);
			q.has_since = 1;
		} else if (ch == OPT_UNTIL) {
			bad = walctl_time("--until", optarg, &q.until_ns);
			q.has_until = 1;
		} else if (ch == OPT_FOLLOW)
			q.follow = 1;
		else if (ch == OPT_JSON || ch == OPT_RAW || ch == OPT_DUMP)
			bad = walctl_read_mode(w, &out, ch) != EX_OK;
		else if (ch == 'n') {
			bad = walctl_number("--limit", optarg, UINT64_MAX,
			    &out.limit);
			if (!bad && out.limit == 0)
				return (walctl_usage_why(w->cmd, "--limit: at "
				    "least 1"));
		} else if (ch == OPT_LAST) {
			bad = walctl_number("--last", optarg, UINT64_MAX,
			    &last);
			has_last = 1;
		} else if (ch == OPT_DIR)
			dir = optarg;
		else if (ch == OPT_KEYRING)
			keyring = optarg;
		else if (ch == OPT_NATS)
			so.urls = optarg;
		else if (ch == OPT_STREAM)
			so.stream = optarg;
		else if (ch == OPT_CREDS)
			so.creds = optarg;
		else
			return (walctl_usage(w->cmd));
		if (bad)
			return (EX_USAGE);
	}
	if ((ex = walctl_no_args(w, argc, argv)) != EX_OK)
		return (ex);
	if (dir != NULL && so.urls != NULL)
		return (walctl_usage_why(w->cmd, "--dir and --nats go without "
		    "each other"));
	if ((so.urls != NULL) != (so.stream != NULL))
		return (walctl_usage_why(w->cmd, "--nats and --stream go "
		    "together"));
	if (so.creds != NULL && so.urls == NULL)
		return (walctl_usage_why(w->cmd, "--creds goes with --nats"));
	if (q.to != 0 && q.to < q.from)
		return (walctl_usage_why(w->cmd, "--to %" PRIu64 " is below "
		    "--from %" PRIu64, q.to, q.from));
	/* A dump is whole only with its end mark, which a follow without
	   an end never writes: append --load would wait for it. */
	if (out.mode == WALCTL_OUT_DUMP && q.follow && q.to == 0)
		return (walctl_usage_why(w->cmd, "--dump with --follow needs "
		    "--to (a dump ends with a mark a follow never reaches)"));
	q.type = o.type;
	q.tenant = o.tenant;
	q.vshard = o.vshard;
	q.has_type = o.has_type;
	q.has_tenant = o.has_tenant;
	q.has_vshard = o.has_vshard;

	if (keyring != NULL && dir == NULL && so.urls == NULL)
		return (walctl_usage_why(w->cmd, "--keyring goes with --dir or "
		    "--nats (walld decrypts what it sends)"));
	if ((dir != NULL || so.urls != NULL) && cons.cursor != NULL)
		return (walctl_usage_why(w->cmd, "--cursor reads from walld, "
		    "not with --dir or --nats"));
	if (has_last && (dir != NULL || so.urls != NULL ||
	    cons.cursor != NULL || q.from != 0))
		return (walctl_usage_why(w->cmd, "--last reads from walld, "
		    "and goes without --from and --cursor"));
	if (cons.cursor != NULL && q.from != 0)
		return (walctl_usage_why(w->cmd, "--cursor starts after the "
		    "cursor; --from goes without it"));

	walctl_out_begin(&out);
	if (dir != NULL || so.urls != NULL) {
		if (keyring != NULL && (kr = walctl_keyring("read",
		    keyring)) == NULL) {
			free(out.buf);
			return (EX_NOINPUT);
		}
		ex = dir != NULL ? walctl_read_dir(dir, &q, kr, &out) :
		    walctl_read_nats(&so, &q, kr, &out);
		keyring_free(kr);
	} else if (q.follow || cons.cursor != NULL || has_last) {
		/* Following, committing a cursor, or the log's end:
		   walctl-consume.c. */
		cons.q = q;
		if (has_last) {
			cons.tail = 1;
			cons.last_n = last;
		}
		ex = last == 0 && has_last && !q.follow ? EX_OK :
		    walctl_consume(w, &cons, &out);
	} else
		ex = walctl_read_walld(w, &q, &out);
	free(out.buf);
	if (ex == EX_OK) {
		walctl_out_end(&out);
		ex = walctl_flush_stdout();
	}
	return (ex);
}

/* Writes s as a JSON string, quotes included. */
static void
walctl_verify_json_str(const char *s)
{
	int	ch;

	putchar('"');
	for (; *s != '\0'; s++) {
		ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* An LSN as walctl's JSON has them: a decimal string, null for none. */
static void
walctl_verify_json_lsn(const char *name, uint64_t lsn)
{
	if (lsn == 0)
		printf(",\"%s\":null", name);
	else
		printf(",\"%s\":\"%" PRIu64 "\"", name, lsn);
}

/* One problem as a JSON object, after the first with a comma. */
static void
walctl_verify_json_problem(size_t i, const char *file, uint64_t off,
    uint64_t lsn, const char *what)
{
	printf("%s{\"file\":", i > 0 ? "," : "");
	if (file[0] != '\0')
		walctl_verify_json_str(file);
	else
		fputs("null", stdout);
	printf(",\"offset\":%" PRIu64, off);
	walctl_verify_json_lsn("lsn", lsn);
	fputs(",\"what\":", stdout);
	walctl_verify_json_str(what);
	putchar('}');
}

/* The report's numbers as JSON members, after "problem_list". */
static void
walctl_verify_json_tail(const char *dir, uint64_t segments, uint64_t records,
    uint64_t damaged, uint64_t problems, uint64_t first, uint64_t last,
    uint64_t bytes, int keys, int more)
{
	printf("],\"more\":%s,\"dir\":", more ? "true" : "false");
	if (dir != NULL)
		walctl_verify_json_str(dir);
	else
		fputs("null", stdout);
	printf(",\"segments\":%" PRIu64 ",\"records\":%" PRIu64
	    ",\"damaged_records\":%" PRIu64 ",\"problems\":%" PRIu64,
	    segments, records, damaged, problems);
	walctl_verify_json_lsn("first_lsn", records > 0 ? first : 0);
	walctl_verify_json_lsn("last_lsn", records > 0 ? last : 0);
	printf(",\"bytes\":%" PRIu64 ",\"authenticated\":%s}\n", bytes,
	    keys ? "true" : "false");
}

/* --dir --json: each problem the walk finds. */
static void
walctl_verify_json_cb(void *arg, const char *file, uint64_t off,
    uint64_t lsn, const char *what)
{
	size_t	*n = arg;

	walctl_verify_json_problem((*n)++, file, off, lsn, what);
}

/* walctl verify: walld checks its sealed segments (VERIFY). */
static int
walctl_verify_online(struct walctl *w, int json)
{
	struct wal_verify_report	*rep = NULL;
	struct wal_verify_problem	*p;
	struct wal_conn			*c;
	enum wal_result			 r;
	size_t				 i;
	int				 ex;

	if ((ex = walctl_connect(w, &c)) != EX_OK)
		return (ex);
	/* A check of a large log takes a while: no time limit. */
	wal_conn_set_timeout(c, -1);
	if ((r = wal_conn_verify(c, &rep)) != WAL_RESULT_OK) {
		ex = walctl_conn_fail(c, "verify", r);
		wal_conn_close(c);
		return (ex);
	}
	wal_conn_close(c);
	if (json) {
		fputs("{\"mode\":\"online\",\"problem_list\":[", stdout);
		for (i = 0; i < rep->nlisted; i++)
			walctl_verify_json_problem(i, rep->list[i].file,
			    rep->list[i].offset, rep->list[i].lsn,
			    rep->list[i].what);
		walctl_verify_json_tail(NULL, rep->segments, rep->records,
		    rep->damaged, rep->problems, rep->first_lsn, rep->last_lsn,
		    rep->bytes, rep->authenticated, rep->more);
	} else {
		for (i = 0; i < rep->nlisted; i++) {
			p = &rep->list[i];
			if (p->file[0] == '\0')
				printf("walld: %s\n", p->what);
			else
				printf("%s: offset %" PRIu64 ": LSN %" PRIu64
				    ": %s\n", p->file, p->offset, p->lsn,
				    p->what);
		}
		if (rep->more)
			printf("walld: %" PRIu64 " more problems not listed "
			    "(walld's log names each)\n",
			    rep->problems - rep->nlisted);
		if (rep->damaged > 0)
			printf("walld: %" PRIu64 " damaged record%s\n",
			    rep->damaged, rep->damaged == 1 ? "" : "s");
		if (rep->records > 0)
			printf("walld: %" PRIu64 " sealed segments, %" PRIu64
			    " records, LSN %" PRIu64 "..%" PRIu64 ", %s, %"
			    PRIu64 " problems\n", rep->segments, rep->records,
			    rep->first_lsn, rep->last_lsn, rep->authenticated ?
			    "authenticated with walld's key ring" :
			    "CRCs checked (walld holds no key ring)",
			    rep->problems);
		else
			printf("walld: %" PRIu64 " sealed segments, no records, "
			    "%" PRIu64 " problems\n", rep->segments,
			    rep->problems);
	}
	ex = walctl_flush_stdout();
	if (ex == EX_OK && rep->problems > 0) {
		walctl_warnx("verify: %" PRIu64 " problem%s found",
		    rep->problems, rep->problems == 1 ? "" : "s");
		ex = EX_DATAERR;
	}
	wal_verify_report_free(rep);
	return (ex);
}

/* walctl verify [--dir DIR]: every segment offline, or walld's sealed
   ones through walld. */
int
walctl_cmd_verify(struct walctl *w, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "dir",	required_argument,	NULL, OPT_DIR },
		{ "keyring",	required_argument,	NULL, OPT_KEYRING },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 }
	};
	struct wal_verify_opts	 o;
	struct wal_verify_result res;
	struct keyring		*kr = NULL;
	const char		*dir = NULL, *keyring = NULL;
	char			*cause = NULL;
	size_t			 listed = 0;
	int			 ch, n, ex, json = 0;

	while ((ch = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		if (walctl_common_opt(w, ch) == 0)
			continue;
		if (ch == OPT_DIR)
			dir = optarg;
		else if (ch == OPT_KEYRING)
			keyring = optarg;
		else if (ch == OPT_JSON)
			json = 1;
		else
			return (walctl_usage(w->cmd));
	}
	if ((ex = walctl_no_args(w, argc, argv)) != EX_OK)
		return (ex);
	if (dir == NULL) {
		if (keyring != NULL)
			return (walctl_usage_why(w->cmd, "--keyring goes with "
			    "--dir (walld authenticates with its own key ring)"));
		return (walctl_verify_online(w, json));
	}
	/* A nightly check must not pass on a failed mount. */
	if (wal_verify_dir_check(dir, &cause) != 0) {
		walctl_warnx("verify: %s", cause != NULL ? cause : dir);
		free(cause);
		return (EX_NOINPUT);
	}
	if (keyring != NULL && (kr = walctl_keyring("verify", keyring)) == NULL)
		return (EX_NOINPUT);
	if (json) {
		memset(&o, 0, sizeof o);
		o.keyring = kr;
		o.problem_cb = walctl_verify_json_cb;
		o.arg = &listed;
		fputs("{\"mode\":\"offline\",\"problem_list\":[", stdout);
		n = wal_verify_run(dir, &o, NULL, &res);
		if (n >= 0)
			walctl_verify_json_tail(dir, res.segments, res.records,
			    res.damaged, res.problems, res.first_lsn,
			    res.last_lsn, res.bytes, kr != NULL, 0);
		else
			fputs("]}\n", stdout);
	} else
		n = wal_verify_keys(dir, kr, stdout);
	keyring_free(kr);
	if ((ex = walctl_flush_stdout()) != EX_OK)
		return (ex);
	if (n < 0) {
		walctl_warnx("verify: %s: cannot read the directory", dir);
		return (EX_NOINPUT);
	}
	if (n > 0) {
		walctl_warnx("verify: %s: %d problem%s found", dir, n,
		    n == 1 ? "" : "s");
		return (EX_DATAERR);
	}
	return (EX_OK);
}
