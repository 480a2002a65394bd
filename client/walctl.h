/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walctl.h: what walctl's files share (walctl is a program: nothing here
 * is an API). The options every subcommand gets, the helpers of walctl.c,
 * and each subcommand, by file:
 *
 *   walctl.c		main, the command table, help, the common helpers
 *   walctl-write.c	append (--lines, --load), sync, seal, rotate, truncate
 *   walctl-read.c	read (walld, --dir, --nats; text, JSON, raw, dump),
 *			verify
 *   walctl-admin.c	stats, status, segments, ping, reload, restore, keygen
 *   walctl-consume.c	reading from walld that follows or commits: read
 *			--follow, read --cursor, tail
 *   walctl-cursor.c	cursor create|commit|get|drop, cursors
 *   walctl-stream.c	a replication stream read back (walctl-stream.h)
 */
#ifndef WALD_WALCTL_H
#define WALD_WALCTL_H

#include <stdint.h>

#include "libwal.h"

struct keyring;
struct walctl_cmd;

/* What every subcommand gets: its arguments and the global options. */
struct walctl {
	const char		*socket;	/* NULL: $WALLD_SOCKET or default */
	int			 timeout_ms;
	enum wal_ack		 ack;		/* --ack */
	const struct walctl_cmd	*cmd;
	int			 argc;		/* the subcommand's, from its */
	char			**argv;		/* name: for option errors */
};

/* A subcommand: a row of walctl.c's table. */
struct walctl_cmd {
	const char	*name;
	int		(*fn)(struct walctl *, int, char **);
	const char	*usage;
	const char	*brief;		/* one line, for `walctl help` */
	const char	*help;
};

/* Options shared by append and read. */
struct walctl_rec_opts {
	uint64_t	 type, tenant, vshard;
	int		 has_type, has_tenant, has_vshard;
};

/* Long options of the subcommands; values >= 256 have no short form. */
enum {
	OPT_TYPE = 256, OPT_TENANT, OPT_VSHARD, OPT_FILE, OPT_LINES,
	OPT_FROM, OPT_TO, OPT_FOLLOW, OPT_JSON, OPT_DIR, OPT_BEFORE,
	OPT_PROMETHEUS,
	OPT_KEYRING, OPT_ID, OPT_NATS, OPT_STREAM, OPT_CREDS, OPT_FROM_SEQ,
	OPT_ACK, OPT_PRODUCER, OPT_SEQ, OPT_DRY_RUN, OPT_FORCE, OPT_SINCE,
	OPT_UNTIL, OPT_CURSOR, OPT_COMMIT_EVERY,
	OPT_COMMIT_MS, OPT_RAW, OPT_DUMP, OPT_LOAD, OPT_LIMIT, OPT_LAST,
	OPT_INTERVAL,
};

/* How records are printed (walctl-read.c). */
enum walctl_out_mode {
	WALCTL_OUT_TEXT,	/* lsn=N type=N ... data="escaped" */
	WALCTL_OUT_JSON,	/* one object a line, the LSN a string */
	WALCTL_OUT_RAW,		/* the payloads' bytes, nothing else */
	WALCTL_OUT_DUMP,	/* the binary dump append --load reads */
};

/*
 * The binary dump (read --dump, append --load; walctl(1), "DUMP"): the
 * line WALCTL_DUMP_MAGIC, then per record a header of WALCTL_DUMP_HDR
 * bytes, all in network byte order: u16 type, u32 tenant, u16 vshard,
 * u64 LSN, u32 payload length; and the payload. It ends with a header
 * whose length is WALCTL_DUMP_END (no payload), type, tenant and vshard
 * 0, and in the LSN field the number of records before it: a dump cut
 * short at a record's boundary is told from a whole one.
 */
#define WALCTL_DUMP_MAGIC	"walctl-dump 1\n"
#define WALCTL_DUMP_MAGIC_LEN	14
#define WALCTL_DUMP_HDR		20
#define WALCTL_DUMP_END		0xffffffffu

/* Output state shared by the record printers (walctl-read.c). */
struct walctl_out {
	enum walctl_out_mode mode;
	uint64_t	 limit;		/* records to print at most (0: all) */
	uint64_t	 count;		/* printed so far */
	int		 done;		/* the limit is reached: stop */
	char		*buf;		/* one record's base64 or escaped text */
	size_t		 cap;
};

/* How walctl-consume.c reads from walld: read --follow, read --cursor,
   tail. */
struct walctl_consume {
	struct wal_cursor_opts	 q;		/* from, to, filters, follow */
	const char		*cursor;	/* NULL: none */
	uint64_t		 commit_every;	/* records between commits */
	uint64_t		 commit_ms;	/* ms between commits */
	int			 reconnect;	/* tail -f: across restarts */
	int			 tail;		/* start at the last_n LSNs
						   up to the end */
	uint64_t		 last_n;
	const char		*what;		/* "read" or "tail" */
};

/* walctl.c */
void		 walctl_warnx(const char *fmt, ...)
		     __attribute__((format(printf, 1, 2)));
int		 walctl_usage(const struct walctl_cmd *);
int		 walctl_usage_why(const struct walctl_cmd *, const char *fmt,
		     ...) __attribute__((format(printf, 2, 3)));
int		 walctl_no_args(struct walctl *, int argc, char **argv);
int		 walctl_stat(const char *text, const char *key,
		     const char **v);
int		 walctl_stat_u64(const char *text, const char *key,
		     uint64_t *v);
int		 walctl_fail(const char *what, enum wal_result, uint16_t code,
		     const char *msg);
int		 walctl_conn_fail(struct wal_conn *, const char *what,
		     enum wal_result);
int		 walctl_time(const char *opt, const char *s, uint64_t *ns);
int		 walctl_number(const char *opt, const char *s, uint64_t max,
		     uint64_t *v);
int		 walctl_connect(struct walctl *, struct wal_conn **);
int		 walctl_flush_stdout(void);
struct keyring	*walctl_keyring(const char *what, const char *path);
int		 walctl_common_opt(struct walctl *, int ch);
int		 walctl_rec_opt(struct walctl_rec_opts *, int ch, int *bad);

/* walctl-write.c */
int		 walctl_cmd_append(struct walctl *, int, char **);
int		 walctl_cmd_sync(struct walctl *, int, char **);
int		 walctl_cmd_seal(struct walctl *, int, char **);
int		 walctl_cmd_rotate(struct walctl *, int, char **);
int		 walctl_cmd_truncate(struct walctl *, int, char **);

/* walctl-read.c */
int		 walctl_print_record(struct walctl_out *, uint64_t lsn,
		     uint16_t type, uint32_t tenant, uint16_t vshard,
		     const void *payload, uint32_t len);
void		 walctl_out_begin(struct walctl_out *);
void		 walctl_out_end(struct walctl_out *);
int		 walctl_cmd_read(struct walctl *, int, char **);
int		 walctl_cmd_verify(struct walctl *, int, char **);

/* walctl-admin.c */
int		 walctl_cmd_stats(struct walctl *, int, char **);
int		 walctl_cmd_ping(struct walctl *, int, char **);
int		 walctl_cmd_reload(struct walctl *, int, char **);
int		 walctl_cmd_restore(struct walctl *, int, char **);
int		 walctl_cmd_keygen(struct walctl *, int, char **);
int		 walctl_cmd_segments(struct walctl *, int, char **);
int		 walctl_cmd_status(struct walctl *, int, char **);

/* walctl-consume.c */
void		 walctl_consume_defaults(struct walctl_consume *,
		     const char *what);
int		 walctl_consume_opt(struct walctl_consume *, int ch, int *bad);
int		 walctl_consume(struct walctl *, struct walctl_consume *,
		     struct walctl_out *);
int		 walctl_cmd_tail(struct walctl *, int, char **);

/* walctl-cursor.c */
int		 walctl_cmd_cursor(struct walctl *, int, char **);
int		 walctl_cmd_cursors(struct walctl *, int, char **);

#endif
