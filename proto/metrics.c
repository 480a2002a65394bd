/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c: walld's stats as Prometheus metrics (text format 0.0.4).
 * metrics_table is the one list of metric names: each row turns one stat
 * of the stats text (server.c builds it), or a family of stats, into one
 * metric family with its HELP and TYPE. walld's metrics file and
 * `walctl stats --prometheus` both come through here. A stat without a
 * row is not exported: a new counter needs a row (and a line in
 * README.md, "Monitor").
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cause.h"
#include "metrics.h"

#define METRICS_MAX_STATS	1024	/* stats lines looked at */
#define METRICS_MAX_BUCKETS	64	/* buckets of one histogram */
#define METRICS_INF		UINT64_MAX

enum metrics_kind {
	MK_VALUE,	/* one stat, a whole number, as it is */
	MK_SECONDS,	/* one stat in microseconds, written in seconds */
	MK_LABELED,	/* every stat "<stat>LABEL<suffix>", label="LABEL" */
	MK_HISTOGRAM,	/* buckets "<stat>BOUND" (a whole number, or "inf"),
			   each counting its own range (not cumulative); the
			   sum in the stat <suffix>; scale as MK_SECONDS */
	MK_STATE,	/* a word stat: one sample per known state, 1 for the
			   current one, 0 for the others */
	MK_INFO,	/* a word stat: value 1 with label="WORD" */
	MK_SEGMENT,	/* a segment file name stat: its first LSN, 0 for none */
};

struct metrics_row {
	const char		*name;
	const char		*type;
	enum metrics_kind	 kind;
	const char		*stat;
	const char		*suffix;
	const char		*label;
	uint64_t		 scale;	/* the stat's unit per metric unit */
	const char		*help;
};

#define USEC	1000000ull

/*
 * Every metric walld exports. Counters are since walld started; LSNs are
 * gauges. No label carries a tenant, a user or anything else unbounded.
 */
static const struct metrics_row metrics_table[] = {
	{ "walld_build_info", "gauge", MK_INFO, "version", NULL, "version", 1,
	  "walld's version, as a label; the value is always 1" },
	{ "walld_state", "gauge", MK_STATE, "state", NULL, "state", 1,
	  "1 for walld's state (read-write, sealed, stopping, failed), 0 for "
	  "the others" },
	{ "walld_first_lsn", "gauge", MK_VALUE, "first_lsn", NULL, NULL, 1,
	  "Lowest LSN still in the log" },
	{ "walld_next_lsn", "gauge", MK_VALUE, "next_lsn", NULL, NULL, 1,
	  "LSN the next append will get" },
	{ "walld_durable_lsn", "gauge", MK_VALUE, "durable_lsn", NULL, NULL, 1,
	  "Highest LSN known durable (0: none)" },
	{ "walld_segments", "gauge", MK_VALUE, "segments", NULL, NULL, 1,
	  "Segment files in the data directory" },
	{ "walld_segment_bytes", "gauge", MK_VALUE, "bytes_on_disk", NULL,
	  NULL, 1, "Bytes of the segment files on disk" },
	{ "walld_disk_free_bytes", "gauge", MK_VALUE, "disk_free_bytes", NULL,
	  NULL, 1, "Bytes available to walld on the data directory's file "
	  "system" },
	{ "walld_disk_size_bytes", "gauge", MK_VALUE, "disk_size_bytes", NULL,
	  NULL, 1, "Size in bytes of the data directory's file system" },
	{ "walld_written_bytes_total", "counter", MK_VALUE, "bytes_written",
	  NULL, NULL, 1, "Bytes of records (headers included) written to "
	  "segments" },
	{ "walld_stamped_ahead_bytes_total", "counter", MK_VALUE,
	  "stamped_ahead_bytes", NULL, NULL, 1, "Bytes of records stamped "
	  "(encrypted, CRCs set) by the stamper thread, ahead of the "
	  "flusher" },
	{ "walld_direct_io", "gauge", MK_VALUE, "direct_io", NULL, NULL, 1,
	  "1 when segments are written with O_DIRECT" },
	{ "walld_segments_recycled_total", "counter", MK_VALUE,
	  "segments_recycled_total", NULL, NULL, 1, "New segments made from "
	  "the files of truncated ones" },
	{ "walld_recycled_segments_held", "gauge", MK_VALUE,
	  "recycled_segments_held", NULL, NULL, 1, "Files of truncated "
	  "segments kept for reuse" },
	{ "walld_retention_removals_total", "counter", MK_VALUE,
	  "retention_removals_total", NULL, NULL, 1, "Passes of the "
	  "retention policy that removed segments" },
	{ "walld_retention_cursor_overruns_total", "counter", MK_VALUE,
	  "retention_cursor_overruns_total", NULL, NULL, 1, "Times a "
	  "retention limit (max_bytes, max_age) removed records a cursor had "
	  "not consumed (the log names the cursor)" },
	{ "walld_producers", "gauge", MK_VALUE, "producers", NULL, NULL, 1,
	  "Idempotent producers in the producer table" },
	{ "walld_producers_evicted_total", "counter", MK_VALUE,
	  "producers_evicted_total", NULL, NULL, 1, "Producers forgotten "
	  "because the table was full (producers.max): their retries are "
	  "no longer recognised" },
	{ "walld_producer_retries_total", "counter", MK_VALUE,
	  "producer_retries_total", NULL, NULL, 1, "Idempotent appends "
	  "answered with the LSN their record already had" },
	{ "walld_producer_refused_total", "counter", MK_VALUE,
	  "producer_refused_total", NULL, NULL, 1, "Idempotent appends "
	  "refused: sequence number out of order" },
	{ "walld_appends_total", "counter", MK_VALUE, "appends_total", NULL,
	  NULL, 1, "Records appended" },
	{ "walld_append_bytes_total", "counter", MK_VALUE,
	  "append_bytes_total", NULL, NULL, 1, "Payload bytes appended" },
	{ "walld_fsync_duration_seconds", "histogram", MK_HISTOGRAM,
	  "fsync_usec_le_", "fsync_usec_total", NULL, USEC,
	  "Time to write and fdatasync one batch" },
	{ "walld_fsync_duration_max_seconds", "gauge", MK_SECONDS,
	  "fsync_usec_max", NULL, NULL, USEC,
	  "Longest write and fdatasync of one batch" },
	{ "walld_batch_records", "histogram", MK_HISTOGRAM, "batch_records_le_",
	  "batch_records_total", NULL, 1,
	  "Records made durable by one batch (one fdatasync)" },
	{ "walld_batch_handoff_seconds_total", "counter", MK_SECONDS,
	  "batch_handoff_usec_total", NULL, NULL, USEC, "Time from the "
	  "event loop handing a batch to the flusher thread to the flusher "
	  "starting on it" },
	{ "walld_batch_return_seconds_total", "counter", MK_SECONDS,
	  "batch_return_usec_total", NULL, NULL, USEC, "Time from the "
	  "flusher thread finishing a batch to the event loop taking it "
	  "back (and answering its appends)" },
	{ "walld_fsyncs_inline_total", "counter", MK_VALUE,
	  "fsyncs_inline_total", NULL, NULL, 1, "Batches the event loop "
	  "wrote and synced itself (small ones), not the flusher thread" },
	{ "walld_batch_records_inline_total", "counter", MK_VALUE,
	  "batch_records_inline_total", NULL, NULL, 1, "Records made "
	  "durable by the batches the event loop wrote itself" },
	{ "walld_connections", "gauge", MK_VALUE, "connections", NULL, NULL, 1,
	  "Client connections open" },
	{ "walld_connections_total", "counter", MK_VALUE, "connections_total",
	  NULL, NULL, 1, "Client connections accepted" },
	{ "walld_waiters", "gauge", MK_VALUE, "waiters", NULL, NULL, 1,
	  "Appends and syncs waiting for durability" },
	{ "walld_errors_total", "counter", MK_LABELED, "errors_", "_total",
	  "kind", 1, "Error replies sent, by error code" },
	{ "walld_protocol_errors_total", "counter", MK_VALUE,
	  "protocol_errors_total", NULL, NULL, 1,
	  "Connections closed after a malformed request" },
	{ "walld_slow_clients_dropped_total", "counter", MK_VALUE,
	  "slow_clients_dropped_total", NULL, NULL, 1,
	  "Connections closed because the client did not read its replies" },
	{ "walld_denied_total", "counter", MK_LABELED, "denied_", "_total",
	  "kind", 1, "Requests refused by the access list, by operation" },
	{ "walld_archive_enabled", "gauge", MK_VALUE, "archive_enabled", NULL,
	  NULL, 1, "1 when archive.command is set" },
	{ "walld_archive_backlog_segments", "gauge", MK_VALUE,
	  "archive_backlog", NULL, NULL, 1,
	  "Sealed segments not archived yet" },
	{ "walld_archived_segments_total", "counter", MK_VALUE,
	  "archive_archived_total", NULL, NULL, 1,
	  "Segments archived (archive.command exited 0)" },
	{ "walld_archive_failures_total", "counter", MK_VALUE,
	  "archive_failures_total", NULL, NULL, 1,
	  "Runs of archive.command that failed" },
	{ "walld_archive_last_segment_lsn", "gauge", MK_SEGMENT,
	  "archive_last_segment", NULL, NULL, 1,
	  "First LSN of the last segment archived (0: none yet)" },
	{ "walld_cursors", "gauge", MK_VALUE, "cursors", NULL, NULL, 1,
	  "Consumer cursors walld keeps (cursors.max at most)" },
	{ "walld_cursor_lowest_lsn", "gauge", MK_VALUE, "cursor_lowest_lsn",
	  NULL, NULL, 1,
	  "LSN of the cursor furthest behind (0: none, or nothing consumed)" },
	{ "walld_damaged_records_total", "counter", MK_VALUE,
	  "damaged_records_total", NULL, NULL, 1,
	  "Damaged records that reads, walctl verify or the scrub met "
	  "(each counted once)" },
	{ "walld_scrub_last_complete_timestamp_seconds", "gauge", MK_VALUE,
	  "scrub_last_complete", NULL, NULL, 1,
	  "When the last complete background scrub pass ended, unix seconds "
	  "(0: none since walld started)" },
	{ "walld_scrub_read_bytes_total", "counter", MK_VALUE,
	  "scrub_bytes_total", NULL, NULL, 1,
	  "Bytes of sealed segments the background scrub read" },
	{ "walld_scrub_passes_total", "counter", MK_VALUE,
	  "scrub_passes_total", NULL, NULL, 1,
	  "Complete background scrub passes" },
	{ "walld_scrub_problems_total", "counter", MK_VALUE,
	  "scrub_problems_total", NULL, NULL, 1,
	  "Problems the scrub or walctl verify found at a place none had "
	  "been found before (each logged once)" },
	{ "walld_verify_requests_total", "counter", MK_VALUE,
	  "verify_requests_total", NULL, NULL, 1,
	  "Checks run for walctl verify (VERIFY requests)" },
	{ "walld_truncate_held_total", "counter", MK_VALUE,
	  "truncate_held_total", NULL, NULL, 1,
	  "Truncations held back because a segment was not archived or "
	  "replicated yet" },
	{ "walld_replication_state", "gauge", MK_INFO, "replication_state",
	  NULL, "state", 1, "Replication into NATS JetStream: off, "
	  "connecting, running, fenced or refused, as a label" },
	{ "walld_replicated_lsn", "gauge", MK_VALUE, "replicated_lsn", NULL,
	  NULL, 1, "Highest LSN the stream holds with every LSN before it" },
	{ "walld_replication_backlog_records", "gauge", MK_VALUE,
	  "replication_backlog_records", NULL, NULL, 1,
	  "Records durable here and not replicated yet" },
	{ "walld_replication_backlog_bytes", "gauge", MK_VALUE,
	  "replication_backlog_bytes", NULL, NULL, 1,
	  "Their payload bytes (estimated from the mean record)" },
	{ "walld_replication_published_total", "counter", MK_VALUE,
	  "replication_published_total", NULL, NULL, 1,
	  "Messages published into the stream" },
	{ "walld_replication_acked_total", "counter", MK_VALUE,
	  "replication_acked_total", NULL, NULL, 1,
	  "Messages the stream acknowledged" },
	{ "walld_replication_errors_total", "counter", MK_VALUE,
	  "replication_errors_total", NULL, NULL, 1,
	  "Publish, connection and stream errors (each followed by a resync)" },
	{ "walld_replication_resyncs_total", "counter", MK_VALUE,
	  "replication_resyncs_total", NULL, NULL, 1,
	  "Times walld asked the stream where it stands" },
	{ "walld_replication_timeouts_total", "counter", MK_VALUE,
	  "replication_timeouts_total", NULL, NULL, 1,
	  "Replicated appends and syncs answered REPL_UNAVAILABLE" },
	{ "walld_replication_backlog_refused_total", "counter", MK_VALUE,
	  "replication_backlog_refused_total", NULL, NULL, 1,
	  "Appends refused because the backlog was full" },
	{ "walld_replication_publish_seconds", "histogram", MK_HISTOGRAM,
	  "replication_publish_usec_le_", "replication_publish_usec_total",
	  NULL, USEC, "Time from publishing a record to the stream's "
	  "acknowledgement" },
};
#define METRICS_NROWS	(sizeof metrics_table / sizeof metrics_table[0])

/* The states of walld_state, in the order written. */
static const char *const metrics_states[] = {
	"read-write", "sealed", "stopping", "failed", NULL
};

/* One "name value" line of the stats text (not NUL-terminated). */
struct metrics_stat {
	const char	*name;
	size_t		 nlen;
	const char	*val;
	size_t		 vlen;
};

/* Splits the stats text into lines; returns how many (at most max). */
static size_t
metrics_parse(const char *text, struct metrics_stat *st, size_t max)
{
	const char	*line, *eol, *sp;
	size_t		 n = 0;

	for (line = text; *line != '\0' && n < max; line = eol + (*eol != '\0')) {
		eol = strchr(line, '\n');
		if (eol == NULL)
			eol = line + strlen(line);
		sp = memchr(line, ' ', (size_t)(eol - line));
		if (sp == NULL || sp == line)
			continue;
		st[n].name = line;
		st[n].nlen = (size_t)(sp - line);
		st[n].val = sp + 1;
		st[n].vlen = (size_t)(eol - sp - 1);
		n++;
	}
	return (n);
}

/* The stat called name, or NULL. */
static const struct metrics_stat *
metrics_find(const struct metrics_stat *st, size_t n, const char *name)
{
	size_t	i, len = strlen(name);

	for (i = 0; i < n; i++) {
		if (st[i].nlen == len && memcmp(st[i].name, name, len) == 0)
			return (&st[i]);
	}
	return (NULL);
}

/* Parses a whole decimal number of n bytes. 0, or -1 when it is not one. */
static int
metrics_uint(const char *s, size_t n, uint64_t *v)
{
	size_t	i;

	*v = 0;
	if (n == 0 || n > 20)
		return (-1);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		if (*v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return (-1);
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return (0);
}

/* Writes v / scale exactly, without trailing zeros ("0.000016", "2"). */
static void
metrics_scaled(char *buf, size_t size, uint64_t v, uint64_t scale)
{
	char	frac[24];
	size_t	len;

	if (scale <= 1) {
		snprintf(buf, size, "%llu", (unsigned long long)v);
		return;
	}
	/* scale is a power of ten: scale + the remainder, less its leading
	   1, is the remainder with its leading zeros. */
	snprintf(frac, sizeof frac, "%llu",
	    (unsigned long long)(scale + v % scale));
	snprintf(buf, size, "%llu.%s", (unsigned long long)(v / scale),
	    frac + 1);
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '0')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '.')
		buf[--len] = '\0';
}

/* Writes a label value with the format's escapes (\\, \", \n). */
static void
metrics_label_value(FILE *out, const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\' || s[i] == '"')
			fprintf(out, "\\%c", s[i]);
		else if (s[i] == '\n')
			fputs("\\n", out);
		else
			fputc(s[i], out);
	}
}

static void
metrics_header(FILE *out, const struct metrics_row *r)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", r->name, r->help, r->name,
	    r->type);
}

/* One bucket of a histogram: its upper bound and its own count. */
struct metrics_bucket {
	uint64_t	bound;		/* METRICS_INF for the last */
	uint64_t	count;
};

/* Writes a histogram family from its bucket stats and sum stat. */
static void
metrics_histogram(FILE *out, const struct metrics_row *r,
    const struct metrics_stat *st, size_t n)
{
	struct metrics_bucket	 b[METRICS_MAX_BUCKETS], t;
	const struct metrics_stat *sum;
	size_t			 plen = strlen(r->stat), nb = 0, i, j;
	uint64_t		 v, total = 0, sumv;
	char			 num[48];

	sum = metrics_find(st, n, r->suffix);
	if (sum == NULL || metrics_uint(sum->val, sum->vlen, &sumv) != 0)
		return;
	for (i = 0; i < n && nb < METRICS_MAX_BUCKETS; i++) {
		if (st[i].nlen <= plen || memcmp(st[i].name, r->stat, plen) != 0)
			continue;
		if (metrics_uint(st[i].val, st[i].vlen, &v) != 0)
			continue;
		if (st[i].nlen - plen == 3 &&
		    memcmp(st[i].name + plen, "inf", 3) == 0)
			b[nb].bound = METRICS_INF;
		else if (metrics_uint(st[i].name + plen, st[i].nlen - plen,
		    &b[nb].bound) != 0 || b[nb].bound == METRICS_INF)
			continue;
		b[nb].count = v;
		nb++;
	}
	if (nb == 0)
		return;
	for (i = 1; i < nb; i++) {	/* a handful: insertion sort */
		t = b[i];
		for (j = i; j > 0 && b[j - 1].bound > t.bound; j--)
			b[j] = b[j - 1];
		b[j] = t;
	}
	metrics_header(out, r);
	for (i = 0; i < nb; i++) {
		total += b[i].count;
		if (b[i].bound == METRICS_INF)
			continue;
		metrics_scaled(num, sizeof num, b[i].bound, r->scale);
		fprintf(out, "%s_bucket{le=\"%s\"} %llu\n", r->name, num,
		    (unsigned long long)total);
	}
	fprintf(out, "%s_bucket{le=\"+Inf\"} %llu\n", r->name,
	    (unsigned long long)total);
	metrics_scaled(num, sizeof num, sumv, r->scale);
	fprintf(out, "%s_sum %s\n", r->name, num);
	fprintf(out, "%s_count %llu\n", r->name, (unsigned long long)total);
}

/* Writes the family "<stat>LABEL<suffix>" with label="LABEL". */
static void
metrics_labeled(FILE *out, const struct metrics_row *r,
    const struct metrics_stat *st, size_t n)
{
	size_t		plen = strlen(r->stat), slen = strlen(r->suffix), i;
	uint64_t	v;
	int		any = 0;

	for (i = 0; i < n; i++) {
		if (st[i].nlen <= plen + slen ||
		    memcmp(st[i].name, r->stat, plen) != 0 ||
		    memcmp(st[i].name + st[i].nlen - slen, r->suffix,
		    slen) != 0 ||
		    metrics_uint(st[i].val, st[i].vlen, &v) != 0)
			continue;
		if (!any)
			metrics_header(out, r);
		any = 1;
		fprintf(out, "%s{%s=\"", r->name, r->label);
		metrics_label_value(out, st[i].name + plen,
		    st[i].nlen - plen - slen);
		fprintf(out, "\"} %llu\n", (unsigned long long)v);
	}
}

/* Writes one family; a stat that is missing or malformed leaves it out. */
static void
metrics_row(FILE *out, const struct metrics_row *r,
    const struct metrics_stat *st, size_t n)
{
	const struct metrics_stat	*s = NULL;
	const char *const		*w;
	uint64_t			 v;
	char				 num[48];
	int				 seen = 0;

	if (r->kind == MK_HISTOGRAM) {
		metrics_histogram(out, r, st, n);
		return;
	}
	if (r->kind == MK_LABELED) {
		metrics_labeled(out, r, st, n);
		return;
	}
	if ((s = metrics_find(st, n, r->stat)) == NULL || s->vlen == 0)
		return;
	switch (r->kind) {
	case MK_VALUE:
	case MK_SECONDS:
		if (metrics_uint(s->val, s->vlen, &v) != 0)
			return;
		metrics_scaled(num, sizeof num, v, r->scale);
		metrics_header(out, r);
		fprintf(out, "%s %s\n", r->name, num);
		break;
	case MK_SEGMENT:
		/* "00000000000000000033.wal": the digits; "none": 0. */
		v = 0;
		if (s->vlen > 4 && memcmp(s->val + s->vlen - 4, ".wal", 4) == 0 &&
		    metrics_uint(s->val, s->vlen - 4, &v) != 0)
			return;
		metrics_header(out, r);
		fprintf(out, "%s %llu\n", r->name, (unsigned long long)v);
		break;
	case MK_STATE:
		metrics_header(out, r);
		for (w = metrics_states; *w != NULL; w++) {
			v = strlen(*w) == s->vlen &&
			    memcmp(*w, s->val, s->vlen) == 0;
			seen |= (int)v;
			fprintf(out, "%s{%s=\"%s\"} %d\n", r->name, r->label, *w,
			    (int)v);
		}
		if (!seen) {	/* a state this table does not know yet */
			fprintf(out, "%s{%s=\"", r->name, r->label);
			metrics_label_value(out, s->val, s->vlen);
			fprintf(out, "\"} 1\n");
		}
		break;
	case MK_INFO:
		metrics_header(out, r);
		fprintf(out, "%s{%s=\"", r->name, r->label);
		metrics_label_value(out, s->val, s->vlen);
		fprintf(out, "\"} 1\n");
		break;
	case MK_LABELED:
	case MK_HISTOGRAM:
		break;
	}
}

int
metrics_format(const char *stats, FILE *out)
{
	struct metrics_stat	*st;
	size_t			 n, i;

	if ((st = calloc(METRICS_MAX_STATS, sizeof *st)) == NULL)
		return (-1);
	n = metrics_parse(stats, st, METRICS_MAX_STATS);
	for (i = 0; i < METRICS_NROWS; i++)
		metrics_row(out, &metrics_table[i], st, n);
	free(st);
	if (fflush(out) != 0 || ferror(out)) {
		if (errno == 0)
			errno = EIO;
		return (-1);
	}
	return (0);
}

int
metrics_write_file(const char *path, const char *stats, char **cause)
{
	const char	*slash = strrchr(path, '/'), *call;
	char		*tmp;
	size_t		 dlen = slash != NULL ? (size_t)(slash - path) + 1 : 0;
	FILE		*f;
	int		 fd, saved;

	*cause = NULL;
	if (asprintf(&tmp, "%.*s.%s.tmp", (int)dlen, path, path + dlen) == -1) {
		*cause = strdup("out of memory");
		return (-1);
	}
	call = "open";
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd == -1)
		goto fail;
	/* Readable by the collector whatever walld's umask (0077 under
	   systemd); the directory decides who may get there. */
	call = "fchmod";
	if (fchmod(fd, 0644) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail_unlink;
	}
	call = "fdopen";
	if ((f = fdopen(fd, "w")) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail_unlink;
	}
	call = "write";
	if (metrics_format(stats, f) != 0) {
		saved = errno;
		fclose(f);
		errno = saved;
		goto fail_unlink;
	}
	call = "close";
	if (fclose(f) != 0)
		goto fail_unlink;
	call = "rename";
	if (rename(tmp, path) != 0)
		goto fail_unlink;
	free(tmp);
	return (0);

fail_unlink:
	saved = errno;
	unlink(tmp);
	errno = saved;
fail:
	saved = errno;
	cause_set(cause, "%s: %s: %s", call[0] == 'r' ? path : tmp, call,
	    strerror(saved));
	free(tmp);
	errno = saved;
	return (-1);
}
