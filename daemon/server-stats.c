/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server-stats.c: what walld tells about itself. The stats text, one
 * "name value" line per counter: the STATS reply, and through metrics.c
 * the Prometheus metrics of `walctl stats --prometheus` and of the
 * metrics file (server_stats_text). Never anything about a key, a tenant
 * or a user.
 */
#include <sys/statvfs.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "access.h"
#include "archive.h"
#include "batcher.h"
#include "config.h"
#include "cursor.h"
#include "replica.h"
#include "scrub.h"
#include "server-int.h"
#include "server.h"
#include "version.h"
#include "wal.h"
#include "wire.h"

/* The state walld is in, one word: read-write, sealed, stopping or
   failed (the stats text, walld_state and systemd's STATUS=). */
const char *
server_stats_state(const struct server *srv, const struct wal_stats *st)
{
	if (srv->state == SRV_FAILED || st->failed)
		return ("failed");
	if (st->sealed)
		return ("sealed");
	if (srv->state == SRV_DRAINING)
		return ("stopping");
	return ("read-write");
}

/* Appends one "name value" line to the stats text. */
static void __attribute__((format(printf, 2, 3)))
server_stats_line(struct evbuffer *eb, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(eb, fmt, ap);
	va_end(ap);
	evbuffer_add(eb, "\n", 1);
}

/* A batcher histogram: NAME_le_B for the 15 bounds B doubling from
   first, then NAME_le_inf (batcher.h keeps the buckets). */
static void
server_stats_hist(struct evbuffer *eb, const char *name, uint64_t first,
    const uint64_t hist[16])
{
	unsigned	i;

	for (i = 0; i < 15; i++)
		server_stats_line(eb, "%s_le_%llu %llu", name,
		    (unsigned long long)(first << i),
		    (unsigned long long)hist[i]);
	server_stats_line(eb, "%s_le_inf %llu", name,
	    (unsigned long long)hist[15]);
}

/* The replication lines (docs/REPLICATION.md): its state ("off" without
   replication.servers), the replicated LSN, the backlog durable here and
   not replicated (records, and bytes estimated from the mean record so
   far), the counters, and the publish-to-acknowledgement latency. */
static void
server_stats_repl(struct evbuffer *eb, struct server *srv)
{
	struct replica_stats	rs;
	uint64_t		backlog = ack_backlog(srv);
	size_t			i;

	if (srv->replica == NULL) {
		server_stats_line(eb, "replication_state off");
		return;
	}
	replica_stats(srv->replica, &rs);
	server_stats_line(eb, "replication_state %s",
	    replica_state_name(rs.state));
	server_stats_line(eb, "replicated_lsn %llu",
	    (unsigned long long)srv->replicated);
	server_stats_line(eb, "replication_backlog_records %llu",
	    (unsigned long long)backlog);
	server_stats_line(eb, "replication_backlog_bytes %llu",
	    (unsigned long long)ack_backlog_bytes(srv));
	server_stats_line(eb, "replication_published_total %llu",
	    (unsigned long long)rs.published);
	server_stats_line(eb, "replication_acked_total %llu",
	    (unsigned long long)rs.acked);
	server_stats_line(eb, "replication_acked_bytes_total %llu",
	    (unsigned long long)rs.acked_bytes);
	server_stats_line(eb, "replication_errors_total %llu",
	    (unsigned long long)rs.errors);
	server_stats_line(eb, "replication_resyncs_total %llu",
	    (unsigned long long)rs.resyncs);
	server_stats_line(eb, "replication_timeouts_total %llu",
	    (unsigned long long)srv->repl_timeouts);
	server_stats_line(eb, "replication_backlog_refused_total %llu",
	    (unsigned long long)srv->repl_refused);
	for (i = 0; i < REPLICA_NBUCKETS; i++)
		server_stats_line(eb, "replication_publish_usec_le_%llu %llu",
		    (unsigned long long)replica_bucket_us[i],
		    (unsigned long long)rs.lat_le[i]);
	server_stats_line(eb, "replication_publish_usec_le_inf %llu",
	    (unsigned long long)rs.lat_le[REPLICA_NBUCKETS]);
	server_stats_line(eb, "replication_publish_usec_total %llu",
	    (unsigned long long)rs.lat_sum_us);
}

/* The data directory, absolute (walctl segments reads it when walld and
   walctl share a machine); left out when its name would break the line. */
static void
server_stats_data_dir(struct evbuffer *eb, const char *dir)
{
	char	*abs = NULL;

	if (dir[0] != '/' && (abs = realpath(dir, NULL)) != NULL)
		dir = abs;
	if (strchr(dir, '\n') == NULL)
		server_stats_line(eb, "data_dir %s", dir);
	free(abs);
}

/* The encryption lines: on/off, the active key id, the key ids present
   segments need (an operator may drop a key from the ring once it is not
   listed here). Never anything about the keys themselves. */
static void
server_stats_keys(struct evbuffer *eb, struct server *srv,
    const struct wal_stats *st)
{
	uint32_t	ids[64];
	size_t		n, i;

	n = wal_keys_needed(srv->wal, ids, 64);
	server_stats_line(eb, "encryption %s", srv->keyring != NULL ? "on" :
	    "off");
	server_stats_line(eb, "active_key_id %u", st->active_key_id);
	evbuffer_add_printf(eb, "keys_needed ");
	for (i = 0; i < n && i < 64; i++)
		evbuffer_add_printf(eb, "%s%u", i > 0 ? "," : "", ids[i]);
	server_stats_line(eb, "%s", n == 0 ? "none" : n > 64 ? ",..." : "");
}

/* The consumer cursors: how many, and the lowest (what retention keeps
   the log for), by LSN and by name ("none": no cursor). */
static void
server_stats_cursors(struct evbuffer *eb, struct server *srv)
{
	const struct cursor_info *list;
	char		name[CURSOR_NAME_MAX + 1];
	size_t		n, i;
	uint64_t	lo;

	if (srv->cursors == NULL)
		return;
	list = cursor_list(srv->cursors, &n);
	lo = cursor_lowest(srv->cursors, name, sizeof name);
	server_stats_line(eb, "cursors %zu", n);
	server_stats_line(eb, "cursor_lowest_lsn %llu",
	    lo == CURSOR_NONE ? 0ull : (unsigned long long)lo);
	server_stats_line(eb, "cursor_lowest %s", lo == CURSOR_NONE ? "none" :
	    name);
	/* Each cursor's lag in bytes, an estimate (wal_bytes_after): one
	   line per cursor, "cursor_lag_bytes:NAME N" (PROTOCOL.md, STATS). */
	for (i = 0; i < n; i++)
		server_stats_line(eb, "cursor_lag_bytes:%s %llu", list[i].name,
		    (unsigned long long)wal_bytes_after(srv->wal,
		    list[i].lsn));
}

/* Writes walld's counters into eb, one "name value" line each: the STATS
   reply; metrics.c's table turns them into the Prometheus metrics of
   `walctl stats --prometheus` and of the metrics file. */
void
server_stats_fill(struct server *srv, struct evbuffer *eb)
{
	struct wal_stats	 st;
	struct batcher_stats	 bs;
	struct archive_stats	 as;
	struct statvfs		 vfs;
	unsigned		 i;

	wal_stats(srv->wal, &st);
	batcher_stats(srv->batcher, &bs);
	server_stats_line(eb, "version %s", WALD_VERSION);
	server_stats_line(eb, "state %s", server_stats_state(srv, &st));
	server_stats_data_dir(eb, srv->cfg->data_dir);
	server_stats_line(eb, "first_lsn %llu",
	    (unsigned long long)st.first_lsn);
	server_stats_line(eb, "next_lsn %llu", (unsigned long long)st.next_lsn);
	server_stats_line(eb, "durable_lsn %llu",
	    (unsigned long long)st.durable_lsn);
	server_stats_line(eb, "segments %llu", (unsigned long long)st.segments);
	server_stats_line(eb, "bytes_on_disk %llu",
	    (unsigned long long)st.bytes_on_disk);
	if (statvfs(srv->cfg->data_dir, &vfs) == 0) {
		server_stats_line(eb, "disk_free_bytes %llu",
		    (unsigned long long)vfs.f_bavail * vfs.f_frsize);
		server_stats_line(eb, "disk_size_bytes %llu",
		    (unsigned long long)vfs.f_blocks * vfs.f_frsize);
	}
	server_stats_line(eb, "bytes_written %llu",
	    (unsigned long long)st.bytes_written);
	server_stats_line(eb, "stamped_ahead_bytes %llu",
	    (unsigned long long)st.stamped_ahead);
	server_stats_line(eb, "direct_io %d", st.direct_io);
	server_stats_line(eb, "segments_recycled_total %llu",
	    (unsigned long long)st.recycled);
	server_stats_line(eb, "recycled_segments_held %llu",
	    (unsigned long long)st.recycle_held);
	server_stats_line(eb, "retention_removals_total %llu",
	    (unsigned long long)srv->retention.runs_removed);
	server_stats_line(eb, "retention_cursor_overruns_total %llu",
	    (unsigned long long)srv->retention.overruns);
	server_stats_line(eb, "producers %llu",
	    (unsigned long long)st.producers);
	server_stats_line(eb, "producers_evicted_total %llu",
	    (unsigned long long)st.producers_evicted);
	server_stats_line(eb, "producer_retries_total %llu",
	    (unsigned long long)srv->count.producer_dups);
	server_stats_line(eb, "producer_refused_total %llu",
	    (unsigned long long)srv->count.producer_refused);
	server_stats_keys(eb, srv, &st);
	server_stats_line(eb, "appends_total %llu",
	    (unsigned long long)srv->count.appends);
	server_stats_line(eb, "append_bytes_total %llu",
	    (unsigned long long)srv->count.append_bytes);
	server_stats_line(eb, "fsyncs_total %llu",
	    (unsigned long long)bs.flushes);
	server_stats_line(eb, "fsync_usec_total %llu",
	    (unsigned long long)bs.flush_usec_total);
	server_stats_line(eb, "fsync_usec_max %llu",
	    (unsigned long long)bs.flush_usec_max);
	server_stats_hist(eb, "fsync_usec", 16, bs.hist);
	server_stats_line(eb, "batch_records_total %llu",
	    (unsigned long long)bs.batch_records_total);
	server_stats_hist(eb, "batch_records", 1, bs.batch_hist);
	server_stats_line(eb, "batch_handoff_usec_total %llu",
	    (unsigned long long)bs.handoff_usec_total);
	server_stats_line(eb, "batch_return_usec_total %llu",
	    (unsigned long long)bs.return_usec_total);
	server_stats_line(eb, "fsyncs_inline_total %llu",
	    (unsigned long long)bs.inline_flushes);
	server_stats_line(eb, "batch_records_inline_total %llu",
	    (unsigned long long)bs.inline_records);
	server_stats_line(eb, "connections %u", srv->nconns);
	server_stats_line(eb, "connections_total %llu",
	    (unsigned long long)srv->count.connections_total);
	server_stats_line(eb, "waiters %zu", srv->wq.len + srv->rq.len);
	server_stats_line(eb, "protocol_errors_total %llu",
	    (unsigned long long)srv->count.protocol_errors);
	server_stats_line(eb, "slow_clients_dropped_total %llu",
	    (unsigned long long)srv->count.dropped_slow);
	server_stats_line(eb, "denied_total %llu",
	    (unsigned long long)srv->count.denied);
	for (i = 0; i < ACCESS_NOPS; i++)
		server_stats_line(eb, "denied_%s_total %llu", access_op_name(i),
		    (unsigned long long)srv->count.denied_op[i]);
	for (i = 1; i <= WIRE_E_MAX; i++)
		if (strcmp(wire_err_name(i), "unknown") != 0)	/* unused */
			server_stats_line(eb, "errors_%s_total %llu",
			    wire_err_name(i),
			    (unsigned long long)srv->count.errors[i]);
	archive_stats(srv->archive, &as);
	server_stats_line(eb, "archive_enabled %d", as.enabled);
	server_stats_line(eb, "archive_backlog %llu",
	    (unsigned long long)as.backlog);
	server_stats_line(eb, "archive_archived_total %llu",
	    (unsigned long long)as.archived);
	server_stats_line(eb, "archive_failures_total %llu",
	    (unsigned long long)as.failures);
	server_stats_line(eb, "archive_last_segment %s", as.last[0] != '\0' ?
	    as.last : "none");
	server_stats_line(eb, "truncate_held_total %llu",
	    (unsigned long long)srv->count.truncate_held);
	server_stats_cursors(eb, srv);
	server_stats_line(eb, "damaged_records_total %llu",
	    (unsigned long long)srv->count.damaged);
	scrub_stats(srv, eb);
	server_stats_repl(eb, srv);
}

/* The stats text in a string of its own, for the metrics file. */
char *
server_stats_text(struct server *srv)
{
	struct evbuffer	*eb;
	char		*text;
	size_t		 len;

	if ((eb = evbuffer_new()) == NULL)
		return (NULL);
	server_stats_fill(srv, eb);
	len = evbuffer_get_length(eb);
	if ((text = malloc(len + 1)) != NULL) {
		if (evbuffer_remove(eb, text, len) != (int)len) {
			free(text);
			text = NULL;
		} else
			text[len] = '\0';
	}
	evbuffer_free(eb);
	return (text);
}
