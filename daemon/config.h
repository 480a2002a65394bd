/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h: walld's settings, their defaults, and the YAML loader
 * (libyaml). conf/walld.yaml shows every key with its default.
 */
#ifndef WALD_CONFIG_H
#define WALD_CONFIG_H

#include <stdint.h>
#include <sys/types.h>

struct access;

/* The acknowledgement level of an append or SYNC that does not say. */
enum config_ack { CONFIG_ACK_LOCAL, CONFIG_ACK_REPLICATED };

struct config {
	/* socket: */
	char		*socket_path;		/* socket.path, default /run/walld/walld.sock */
	mode_t		 socket_mode;		/* socket.mode, default 0660 (octal string "0660") */
	char		*socket_owner;		/* socket.owner, user name or uid; NULL = unchanged */
	char		*socket_group;		/* socket.group, group name or gid; NULL = unchanged */
	/* storage: */
	char		*data_dir;		/* storage.data_dir, default /var/lib/walld */
	uint64_t	 segment_size;		/* storage.segment_size, default 64MiB, 1MiB..1GiB */
	int		 direct_io;		/* storage.direct_io: auto|on|off (enum wal_direct) */
	uint32_t	 recycle_segments;	/* storage.recycle_segments, default 4, 0..1024 */
	uint32_t	 producers_max;		/* producers.max */
	int		 retention_cursors;	/* retention.cursors */
	uint64_t	 retention_max_bytes;	/* retention.max_bytes, 0: none */
	uint64_t	 retention_max_age_us;	/* retention.max_age, 0: none */
	uint64_t	 retention_interval_us;	/* retention.interval */
	uint32_t	 producer_window;	/* producers.window */
	/* scrub: (scrub.c) */
	uint64_t	 scrub_rate;		/* scrub.rate, bytes/s, 0: no background scrub */
	uint64_t	 scrub_interval_us;	/* scrub.interval, default 24h, 1s..365d */
	int		 scrub_at_start;	/* scrub.at_start, default false */
	/* group_commit: */
	uint64_t	 max_batch_bytes;	/* group_commit.max_batch_bytes, default 8MiB, 64KiB..256MiB */
	uint64_t	 commit_delay_us;	/* group_commit.commit_delay, default 0 (off), 0..1s */
	uint32_t	 commit_siblings;	/* group_commit.commit_siblings, default 0, 0..100000 */
	/* limits: */
	uint32_t	 max_record;		/* limits.max_record, default 1MiB, 1..16MiB */
	uint32_t	 max_connections;	/* limits.max_connections, default 16384, 1..1000000 */
	uint64_t	 max_conn_inflight;	/* limits.max_inflight_per_connection, default 4MiB */
	uint64_t	 max_total_inflight;	/* limits.max_inflight_total, default 64MiB */
	uint64_t	 max_conn_output;	/* limits.max_output_per_connection, default 8MiB */
	uint32_t	 cursors_max;		/* cursors.max, default 1024, 1..65536 */
	/* logging: */
	int		 log_level;		/* logging.level: error|warning|info|debug, default info */
	/* metrics: */
	char		*metrics_file;		/* metrics.file: Prometheus text file; NULL = none */
	uint64_t	 metrics_interval_us;	/* metrics.interval, default 10s, 1s..60m */
	/* archive: */
	char		*archive_command;	/* archive.command, %p path, %f name; NULL = off */
	uint64_t	 archive_retry_min_us;	/* archive.retry_min, default 1s, 10ms..60m */
	uint64_t	 archive_retry_max_us;	/* archive.retry_max, default 60s, 10ms..60m */
	uint64_t	 archive_timeout_us;	/* archive.timeout, default 0 (none), 0..1440m */
	/* encryption: */
	char		*keyring;		/* encryption.keyring, a key ring file; NULL = the
						   systemd credential "keyring" if there is one, else none */
	/* replication: (docs/REPLICATION.md); off while servers is NULL */
	char		*repl_servers;		/* replication.servers: URLs, a list
						   (kept comma-separated) */
	char		*repl_stream;		/* replication.stream, default WALLD */
	char		*repl_subject_prefix;	/* replication.subject_prefix, default walld.log */
	uint32_t	 repl_replicas;		/* replication.replicas, default 3, 1..5 */
	int		 repl_ack;		/* replication.ack: local|replicated */
	uint32_t	 repl_window;		/* replication.publish_window, default 4096 */
	uint64_t	 repl_timeout_us;	/* replication.timeout, default 5s */
	uint64_t	 repl_backlog_records;	/* replication.backlog_records, default 1000000 */
	uint64_t	 repl_backlog_bytes;	/* replication.backlog_bytes, default 1GiB */
	char		*repl_creds;		/* replication.credentials: a .creds file */
	char		*repl_user;		/* replication.user and .password */
	char		*repl_password;
	char		*repl_token;		/* replication.token */
	char		*repl_tls_ca;		/* replication.tls_ca: CA file; TLS on */
	/* access: (a list, not a mapping; daemon/access.h) */
	struct access	*access;		/* NULL: no list; only root and walld's uid */
};

/* Fills every field with its default (strings are strdup'ed). */
void	config_defaults(struct config *);
/* Reads path over the current values. 0, or -1 with *cause allocated as
   "FILE:LINE:COLUMN: KEY: why" (line and column 1-based). Unknown keys,
   duplicate keys, wrong types and out-of-range values are errors. -2 when
   the file cannot be read now for a reason of the system's (EIO, EMFILE,
   ENOMEM, ...), not of the file's: a later try may succeed. */
int	config_load(struct config *, const char *path, char **cause);
void	config_free(struct config *);

/* "64MiB", "4096", "1GiB", "512KiB", "1MB"(=10^6): bytes. 0 or -1. */
int	config_parse_size(const char *, uint64_t *);
/* "500us", "2ms", "1s", "0": microseconds. 0 or -1. */
int	config_parse_duration(const char *, uint64_t *);

#endif
