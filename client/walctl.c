/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walctl.c: the walld command line tool. A table of subcommands, its help,
 * main, and the helpers they share (messages, exit codes, numbers, options,
 * connecting, usage errors). The subcommands live by group: walctl-write.c
 * (append, sync, seal, rotate, truncate), walctl-read.c (read, verify),
 * walctl-admin.c (stats, status, segments, ping, reload, restore, keygen),
 * walctl-consume.c (read --follow, --cursor, --last; tail), walctl-cursor.c
 * (cursor, cursors); walctl-stream.c reads a replication stream back from
 * NATS JetStream (read --nats, restore).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "keyring.h"
#include "libwal.h"
#include "walctl.h"
#include "wire.h"

/* walld's version (daemon/version.h), given by the Makefile: client/ does
   not include daemon/'s headers. */
#ifndef WALCTL_VERSION
#error "WALCTL_VERSION must be defined (the Makefile sets it)"
#endif

#define WALCTL_CONNECT_MS	5000		/* default connect timeout */
#define WALCTL_EX_SEALED	EX_CANTCREAT	/* 73: the log is sealed */
#define WALCTL_EX_UNREPLICATED	79		/* durable here, not replicated */
#define WALCTL_EX_SEQUENCE	80		/* producer sequence out of order */
#define WALCTL_EX_HELD		81		/* truncation held by a cursor */

static const struct walctl_cmd walctl_cmds[];

/* Prints "walctl: what: why" to stderr. */
void
walctl_warnx(const char *fmt, ...)
{
	va_list	ap;

	fputs("walctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The subcommand running: usage errors name it. NULL before one is
   chosen (the global options). */
static const struct walctl_cmd *walctl_current;

/* Prints a usage error, "walctl: CMD: why" (or "walctl: why" before a
   subcommand), then where the help is: one line each, never the whole
   help, which would bury the reason. Returns EX_USAGE. */
static int
walctl_vusage(const struct walctl_cmd *cmd, const char *fmt, va_list ap)
{
	if (cmd == NULL)
		cmd = walctl_current;
	fputs("walctl: ", stderr);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd->name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	if (cmd != NULL)
		fprintf(stderr, "try 'walctl help %s'\n", cmd->name);
	else
		fputs("try 'walctl help'\n", stderr);
	return (EX_USAGE);
}

/* A usage error with its reason (cmd NULL: the subcommand running). */
int
walctl_usage_why(const struct walctl_cmd *cmd, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	walctl_vusage(cmd, fmt, ap);
	va_end(ap);
	return (EX_USAGE);
}

/* A usage error with no more precise reason than the synopsis, which is
   given on one line. */
int
walctl_usage(const struct walctl_cmd *cmd)
{
	const char	*p;

	fprintf(stderr, "walctl: %s: invalid arguments; usage: walctl %s ",
	    cmd->name, cmd->name);
	for (p = cmd->usage; *p != '\0'; p++) {
		if (*p != '\n') {
			fputc(*p, stderr);
			continue;
		}
		while (p[1] == ' ')
			p++;
		fputc(' ', stderr);
	}
	fprintf(stderr, "\ntry 'walctl help %s'\n", cmd->name);
	return (EX_USAGE);
}

/* The value of stat key in the stats text: its length, and *v pointing
   at it; -1 when the stat is not there. */
int
walctl_stat(const char *text, const char *key, const char **v)
{
	const char	*p;
	size_t		 k = strlen(key);

	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, key, k) == 0 && p[k] == ' ') {
			*v = p + k + 1;
			return ((int)strcspn(*v, "\n"));
		}
	}
	return (-1);
}

/* A stat whose value is a number: 1 and *v, or 0 when it is not there. */
int
walctl_stat_u64(const char *text, const char *key, uint64_t *v)
{
	const char	*p;

	if (walctl_stat(text, key, &p) < 0)
		return (0);
	*v = strtoull(p, NULL, 10);
	return (1);
}

/* EX_OK when getopt took every argument, else the usage error. */
int
walctl_no_args(struct walctl *w, int argc, char **argv)
{
	if (optind >= argc)
		return (EX_OK);
	return (walctl_usage_why(w->cmd, "unexpected argument '%s'",
	    argv[optind]));
}

/*
 * What getopt_long found wrong ('?' or ':'; its own messages are off, and
 * optstrings begin with ':' so that a missing argument is ':'): the
 * option is argv[optind - 1] when that is a long one, else optopt.
 */
static int
walctl_opt_error(const struct walctl_cmd *cmd, int argc, char **argv, int ch)
{
	const char	*a = NULL;
	int		 n;

	if (optind >= 1 && optind <= argc && strncmp(argv[optind - 1], "--",
	    2) == 0)
		a = argv[optind - 1];
	n = a != NULL ? (int)strcspn(a, "=") : 0;
	if (ch == ':' && a != NULL)
		return (walctl_usage_why(cmd, "option %.*s needs an argument",
		    n, a));
	if (ch == ':')
		return (walctl_usage_why(cmd, "option -%c needs an argument",
		    optopt));
	if (optopt == 0 && a != NULL)
		return (walctl_usage_why(cmd, "unknown option %.*s", n, a));
	if (a != NULL && a[n] == '=')
		return (walctl_usage_why(cmd, "option %.*s takes no argument",
		    n, a));
	if (optopt > 32 && optopt < 127)
		return (walctl_usage_why(cmd, "unknown option -%c", optopt));
	return (walctl_usage_why(cmd, "unknown option"));
}

/* Prints a subcommand's usage and description (walctl help CMD). */
static void
walctl_cmd_usage(FILE *f, const struct walctl_cmd *cmd)
{
	fprintf(f, "usage: walctl [-s socket] %s %s\n\n%s\n", cmd->name,
	    cmd->usage, cmd->help);
}

/* The exit code for a libwal result (and walld error code). */
static int
walctl_exit_code(enum wal_result r, uint16_t code)
{
	switch (r) {
	case WAL_RESULT_OK:
		return (EX_OK);
	case WAL_RESULT_UNKNOWN:
		return (code == WIRE_E_IO ? EX_IOERR : EX_TEMPFAIL);
	case WAL_RESULT_NO_SPACE:
	case WAL_RESULT_SHUTTING_DOWN:
	case WAL_RESULT_BUSY:
	case WAL_RESULT_CLOSED:
		return (EX_TEMPFAIL);
	case WAL_RESULT_SEALED:
		return (WALCTL_EX_SEALED);
	case WAL_RESULT_TOO_LARGE:
	case WAL_RESULT_DAMAGED:
		return (EX_DATAERR);
	case WAL_RESULT_RANGE:
		return (EX_NOINPUT);	/* as read --dir: not in the log */
	case WAL_RESULT_NOT_PERMITTED:
		return (EX_NOPERM);
	case WAL_RESULT_UNAVAILABLE:
		return (EX_UNAVAILABLE);
	case WAL_RESULT_VERSION:
	case WAL_RESULT_PROTOCOL:
		return (EX_PROTOCOL);
	case WAL_RESULT_SYSTEM:
		return (EX_OSERR);
	case WAL_RESULT_INVALID:
		return (EX_USAGE);
	case WAL_RESULT_REPL_UNAVAILABLE:
		return (WALCTL_EX_UNREPLICATED);
	case WAL_RESULT_REPL_BACKLOG:
		return (EX_TEMPFAIL);
	case WAL_RESULT_NOT_FOUND:
		return (EX_NOINPUT);
	case WAL_RESULT_SEQUENCE:
		return (WALCTL_EX_SEQUENCE);
	case WAL_RESULT_HELD:
		return (WALCTL_EX_HELD);
	case WAL_RESULT_CONFIG:
		return (EX_CONFIG);	/* as walld --check-config */
	case WAL_RESULT_BAD_REQUEST:
	case WAL_RESULT_INTERNAL:
		break;
	}
	return (EX_SOFTWARE);
}

/* Reports a failed call: "walctl: what: result: message". */
int
walctl_fail(const char *what, enum wal_result r, uint16_t code,
    const char *msg)
{
	const char	*name = wal_result_name(r);

	if (msg == NULL || *msg == '\0' || strcmp(msg, name) == 0)
		walctl_warnx("%s: %s", what, name);
	else if (strstr(msg, name) != NULL)
		walctl_warnx("%s: %s", what, msg);
	else
		walctl_warnx("%s: %s: %s", what, name, msg);
	return (walctl_exit_code(r, code));
}

/* Reports a failed call on a connection. */
int
walctl_conn_fail(struct wal_conn *c, const char *what, enum wal_result r)
{
	return (walctl_fail(what, r, wal_conn_error_code(c),
	    wal_conn_error(c)));
}

/*
 * Parses a time for --since/--until into unix ns: seconds since the epoch
 * ("1765000000"), a UTC date and time ("2026-12-06T05:30:00Z", the Z and
 * the seconds optional, or a space for the T), or an age ("-90s", "-15m",
 * "-2h", "-7d": that long before now). 0, or -1 (said why).
 */
int
walctl_time(const char *opt, const char *s, uint64_t *ns)
{
	struct tm		 tm;
	struct timespec		 now;
	unsigned long long	 n;
	const char		*end;
	char			*e;
	uint64_t		 unit;
	time_t			 t;

	if (*s == '-' && s[1] >= '0' && s[1] <= '9') {
		errno = 0;
		n = strtoull(s + 1, &e, 10);
		unit = *e == 's' ? 1 : *e == 'm' ? 60 : *e == 'h' ? 3600 :
		    *e == 'd' ? 86400 : 0;
		clock_gettime(CLOCK_REALTIME, &now);
		if (errno != 0 || unit == 0 || e[1] != '\0' ||
		    n > (uint64_t)now.tv_sec / unit)
			goto bad;
		*ns = ((uint64_t)now.tv_sec - n * unit) * 1000000000u +
		    (uint64_t)now.tv_nsec;
		return (0);
	}
	if (strchr(s, '-') == NULL) {
		errno = 0;
		n = strtoull(s, &e, 10);
		if (errno != 0 || *s < '0' || *s > '9' || *e != '\0' ||
		    n > UINT64_MAX / 1000000000u)
			goto bad;
		*ns = n * 1000000000u;
		return (0);
	}
	memset(&tm, 0, sizeof tm);
	if ((end = strptime(s, "%Y-%m-%dT%H:%M", &tm)) == NULL &&
	    (end = strptime(s, "%Y-%m-%d %H:%M", &tm)) == NULL)
		goto bad;
	if (*end == ':' && (end = strptime(end, ":%S", &tm)) == NULL)
		goto bad;
	if (*end == 'Z')
		end++;
	if (*end != '\0' || (t = timegm(&tm)) == (time_t)-1 || t < 0)
		goto bad;
	*ns = (uint64_t)t * 1000000000u;
	return (0);
bad:
	walctl_usage_why(NULL, "%s: invalid time: %s (unix seconds, "
	    "YYYY-MM-DDTHH:MM[:SS][Z] in UTC, or -N followed by s, m, h or d)",
	    opt, s);
	return (-1);
}

/* Parses an unsigned decimal (or 0x hex) number no larger than max. */
int
walctl_number(const char *opt, const char *s, uint64_t max, uint64_t *v)
{
	unsigned long long	 n;
	char			*end;

	errno = 0;
	if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		goto bad;
	n = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || n > max)
		goto bad;
	*v = n;
	return (0);
bad:
	walctl_usage_why(NULL, "%s: invalid number: %s (0 to %" PRIu64 ")",
	    opt, s, max);
	return (-1);
}

/* Connects to walld; returns the exit code on failure. */
int
walctl_connect(struct walctl *w, struct wal_conn **c)
{
	enum wal_result	 r;
	char		*cause = NULL;
	int		 ex;

	r = wal_conn_open(c, w->socket, w->timeout_ms, &cause);
	if (r == WAL_RESULT_OK) {
		wal_conn_set_ack(*c, w->ack);
		return (EX_OK);
	}
	ex = walctl_exit_code(r, 0);
	walctl_warnx("%s", cause != NULL ? cause : wal_result_name(r));
	free(cause);
	return (ex);
}

/* Flushes stdout; EX_IOERR when it cannot be written. */
int
walctl_flush_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		walctl_warnx("stdout: %s", strerror(errno));
		return (EX_IOERR);
	}
	return (EX_OK);
}

/* Loads --keyring FILE; NULL (and a message) when it cannot be used. */
struct keyring *
walctl_keyring(const char *what, const char *path)
{
	struct keyring	*kr;
	char		*cause = NULL;

	if ((kr = keyring_load(path, &cause)) == NULL) {
		walctl_warnx("%s: %s", what, cause != NULL ? cause :
		    "cannot load the key ring");
		free(cause);
	}
	return (kr);
}

/* Handles -s/--socket and -h/--help, which every subcommand accepts, and
   getopt's errors, which end walctl. */
int
walctl_common_opt(struct walctl *w, int ch)
{
	switch (ch) {
	case '?':
	case ':':
		exit(walctl_opt_error(w->cmd, w->argc, w->argv, ch));
	case 's':
		w->socket = optarg;
		return (0);
	case 'h':
		walctl_cmd_usage(stdout, w->cmd);
		exit(walctl_flush_stdout());
	case OPT_ACK:
		if (strcmp(optarg, "local") == 0)
			w->ack = WAL_ACK_LOCAL;
		else if (strcmp(optarg, "replicated") == 0)
			w->ack = WAL_ACK_REPLICATED;
		else
			exit(walctl_usage_why(w->cmd, "--ack: expected local "
			    "or replicated, not \"%s\"", optarg));
		return (0);
	}
	return (-1);
}

/* Handles --type/--tenant/--vshard. */
int
walctl_rec_opt(struct walctl_rec_opts *o, int ch, int *bad)
{
	switch (ch) {
	case OPT_TYPE:
		o->has_type = 1;
		*bad = walctl_number("--type", optarg, UINT16_MAX, &o->type);
		return (0);
	case OPT_TENANT:
		o->has_tenant = 1;
		*bad = walctl_number("--tenant", optarg, UINT32_MAX,
		    &o->tenant);
		return (0);
	case OPT_VSHARD:
		o->has_vshard = 1;
		*bad = walctl_number("--vshard", optarg, UINT16_MAX,
		    &o->vshard);
		return (0);
	}
	return (-1);
}


static int	walctl_cmd_help(struct walctl *, int, char **);

static const struct walctl_cmd walctl_cmds[] = {
	{ "append", walctl_cmd_append,
	  "[--type N] [--tenant N] [--vshard N] [--ack local|replicated]\n"
	  "    [--producer ID --seq N] [--lines] [--json]\n"
	  "    [DATA | --file PATH | --load FILE|-]",
	  "append records; prints their LSNs once durable",
	  "Appends one record: DATA, the contents of PATH, or all of stdin.\n"
	  "Prints its LSN once it is durable (with --ack replicated: and held\n"
	  "by the NATS stream walld replicates into; default: walld's\n"
	  "replication.ack). With --lines, each input line (without its\n"
	  "newline) is one record, many in flight, and one LSN per line is\n"
	  "printed in input order. With --producer and --seq the append is\n"
	  "idempotent: run again with the same ID and N, it prints the LSN\n"
	  "the record got the first time and writes nothing (with --lines,\n"
	  "lines are numbered N, N+1, ...); a number out of order exits 80.\n"
	  "--load replays a dump of read --dump (FILE, or - for stdin): each\n"
	  "record with its type, tenant and vshard, one LSN printed per record;\n"
	  "a dump cut short or damaged exits 65 after the records before it.\n"
	  "--json prints each LSN as {\"lsn\":\"N\"}." },
	{ "sync", walctl_cmd_sync, "[--ack local|replicated] [--json]",
	  "wait until everything appended is durable",
	  "Waits until everything appended is durable (and replicated, with\n"
	  "--ack replicated); prints the durable LSN (--json:\n"
	  "{\"durable_lsn\":\"N\"})." },
	{ "seal", walctl_cmd_seal, "",
	  "seal the log: no appends from now on",
	  "Seals the log: every later append fails. Prints the last LSN." },
	{ "rotate", walctl_cmd_rotate, "",
	  "start a new segment",
	  "Starts a new segment; prints the LSN its first record will get." },
	{ "truncate", walctl_cmd_truncate, "--before LSN [--dry-run] [--force]",
	  "delete sealed segments below an LSN",
	  "Deletes whole sealed segments below LSN; prints the new first LSN.\n"
	  "Refused (exit 66) above the durable LSN, and (exit 81, naming it)\n"
	  "when it would remove records a cursor has not consumed, unless\n"
	  "--force. --dry-run says what would go and removes nothing." },
	{ "read", walctl_cmd_read,
	  "[--from LSN] [--to LSN] [--since TIME] [--until TIME]\n"
	  "    [--tenant N] [--vshard N] [--type N]\n"
	  "    [--follow] [--json | --raw | --dump] [-n N | --limit N]\n"
	  "    [--last N] [--cursor NAME [--commit-every N]\n"
	  "    [--commit-ms MS]] [--dir DIR | --nats URL[,URL...] --stream NAME\n"
	  "    [--creds FILE]] [--keyring FILE]",
	  "print records (walld, --dir or --nats) as text, JSON or a dump",
	  "Prints records in LSN order, one line each: lsn=N type=N tenant=N\n"
	  "vshard=N len=N data=\"...\" (non-printable bytes escaped), or with\n"
	  "--json {\"lsn\":\"N\",\"type\":N,\"tenant\":N,\"vshard\":N,"
	  "\"payload\":\"BASE64\"} (the LSN a string, as in all of walctl's\n"
	  "JSON), or with --raw the payloads' bytes alone, or with --dump a\n"
	  "binary dump that append --load replays (walctl(1), DUMP).\n"
	  "-n/--limit prints at most N records; --last N the log's last N\n"
	  "(through walld, without --from).\n"
	  "--since/--until keep the records walld appended in that time (unix\n"
	  "seconds, YYYY-MM-DDTHH:MM[:SS][Z] in UTC, or -N[smhd] ago; records\n"
	  "of logs older than format version 3 have no time and never match).\n"
	  "--follow keeps waiting for new records (with --until, until that\n"
	  "time has passed and every record up to it is printed). --dir reads a data\n"
	  "directory offline, without walld; --nats reads walld's replication\n"
	  "stream NAME in NATS JetStream. With either, --keyring decrypts\n"
	  "encrypted records (a record that fails authentication is an error).\n"
	  "--cursor starts after walld's cursor NAME and commits it as records\n"
	  "are written out (every N records, default 1000, every MS ms, default\n"
	  "1000, and at the end; at least once). A follow that walld ends\n"
	  "(stopping) exits 75 saying where to resume (--from N); one that\n"
	  "reaches the end of a sealed log exits 0." },
	{ "tail", walctl_cmd_tail,
	  "[-n N] [-f] [--cursor NAME [--commit-every N] [--commit-ms MS]]\n"
	  "    [--tenant N] [--vshard N] [--type N] [--json]",
	  "print the last records; -f follows",
	  "Prints the last N records (default 10), or with --cursor those after\n"
	  "the cursor, committing it as read does. With -f, keeps following;\n"
	  "when walld restarts, reconnects with back-off and resumes at the next\n"
	  "LSN (nothing lost or repeated; with --cursor, at least once across\n"
	  "walctl restarts). Ends 0 at the end of a sealed log." },
	{ "cursor", walctl_cmd_cursor,
	  "create NAME [LSN] | commit NAME LSN | get NAME | drop NAME",
	  "create, commit, get or drop a consumer cursor",
	  "Durable consumer cursors kept by walld (docs/CURSORS.md): a name and\n"
	  "the LSN of the last record its consumer finished with. create (at\n"
	  "LSN, default 0; an existing cursor is left as it is) and commit print\n"
	  "the cursor's LSN, get prints \"NAME LSN COMMITTED\", drop the LSN it\n"
	  "had. A commit never moves a cursor back (exit 66). Exit 66: no such\n"
	  "cursor." },
	{ "cursors", walctl_cmd_cursors, "[--json]",
	  "list the consumer cursors and their lag",
	  "Lists walld's cursors: name, LSN, lag in records behind the durable\n"
	  "LSN, and the last commit time (UTC), one line each, or one JSON\n"
	  "object per line." },
	{ "verify", walctl_cmd_verify, "[--json] [--dir DIR [--keyring FILE]]",
	  "check the sealed segments through walld, or a directory offline",
	  "Without --dir, walld checks every sealed segment of its log (on a\n"
	  "thread of its own: appends go on), authenticating with the key\n"
	  "ring it holds. With --dir, checks every segment of a data directory\n"
	  "offline; without --keyring the records of encrypted segments are\n"
	  "checked by CRC only, with it each segment's key is checked and every\n"
	  "record authenticated. Prints each problem (file, offset, LSN, what)\n"
	  "and a summary, or one JSON object with --json; exits 65 when there\n"
	  "is any problem." },
	{ "restore", walctl_cmd_restore,
	  "--nats URL[,URL...] --stream NAME --dir DIR [--creds FILE]\n"
	  "    [--from-seq N]",
	  "rebuild a data directory from the replication stream",
	  "Rebuilds a data directory from walld's replication stream NAME in\n"
	  "NATS JetStream (from its first message, or sequence N): the same\n"
	  "segments, and REPLICA with the stream's log and its highest epoch\n"
	  "+ 1, so that a walld started on DIR takes the stream over. DIR must\n"
	  "be new or empty; on failure nothing is left in it. Verifies DIR,\n"
	  "then prints \"name value\" lines: records, segments, first_lsn,\n"
	  "last_lsn, log, epoch." },
	{ "keygen", walctl_cmd_keygen, "[--id N | --keyring FILE]",
	  "print a new key for the key ring",
	  "Prints a new key ring line, \"ID HEX\": 32 random bytes from\n"
	  "OpenSSL (RAND_priv_bytes) as 64 hex digits. The id is N, or the\n"
	  "highest in FILE plus 1, or 1. Append it to the key ring (mode 0600)\n"
	  "and reload walld to make it the active key (docs/KEYS.md)." },
	{ "stats", walctl_cmd_stats, "[--json | --prometheus] [--interval N]",
	  "print walld's metrics",
	  "Prints walld's metrics, one \"name value\" line each, or one JSON\n"
	  "object, or in the Prometheus text format (what walld writes to\n"
	  "metrics.file). With --interval, again every N seconds until\n"
	  "interrupted (text samples apart by a blank line; JSON one object a\n"
	  "line). In JSON, LSNs (the *_lsn stats) are strings of digits, word\n"
	  "stats strings or null, keys_needed an array, the rest numbers." },
	{ "status", walctl_cmd_status, "",
	  "a short summary of walld's state",
	  "Prints a short summary of walld for a person: its state, the log's\n"
	  "first, durable and next LSN, segments and disk, clients,\n"
	  "replication and its backlog, archive, cursors, encryption, damaged\n"
	  "records met. For a program: stats --json." },
	{ "segments", walctl_cmd_segments, "[--dir DIR] [--json]",
	  "list the segments of a data directory",
	  "Lists the segments of the data directory DIR (without --dir,\n"
	  "walld's own, as its stats name it), read from the files, one\n"
	  "line each: first LSN, last LSN (- for none yet), sealed, active,\n"
	  "sealing (a rotation walld is finishing) or damaged, key id (0: not encrypted), creation time (UTC), size in\n"
	  "bytes, archived (y/n; - when the directory has no archive position),\n"
	  "replicated (y/n; - offline or when walld does not replicate).\n"
	  "A damaged segment exits 65 (walctl verify --dir says more). --json:\n"
	  "one object per segment (LSNs strings, archived true, false or null)." },
	{ "ping", walctl_cmd_ping, "",
	  "check that walld is up",
	  "Exits 0 when walld is up and serving requests." },
	{ "reload", walctl_cmd_reload, "",
	  "make walld reload its configuration",
	  "Asks walld to reload its configuration file, all or nothing (as\n"
	  "SIGHUP does), and waits for the outcome: exits 0 once applied, 78\n"
	  "with walld's reason when it was refused (nothing changed). Needs\n"
	  "the keys permission. For ExecReload= in walld.service." },
	{ "help", walctl_cmd_help, "[COMMAND]",
	  "print the help, or a command's",
	  "Prints the list of commands, or COMMAND's usage and description." },
	{ NULL, NULL, NULL, NULL, NULL }
};

/* Prints the whole help text to f. */
static void
walctl_help(FILE *f)
{
	const struct walctl_cmd	*cmd;

	fprintf(f,
	    "usage: walctl [-s socket] [-t ms] command [options]\n"
	    "       walctl --version | --help\n"
	    "\n"
	    "  -s, --socket PATH   walld's socket (default: $WALLD_SOCKET, "
	    "else\n"
	    "                      " WAL_SOCKET_DEFAULT ")\n"
	    "  -t, --timeout MS    connect timeout (default %d; ping: also "
	    "the reply)\n"
	    "  -h, --help          this help\n"
	    "  -V, --version       print the version and exit\n"
	    "\ncommands (`walctl help COMMAND` for one's options):\n",
	    WALCTL_CONNECT_MS);
	for (cmd = walctl_cmds; cmd->name != NULL; cmd++)
		fprintf(f, "  %-10s %s\n", cmd->name, cmd->brief);
	fprintf(f,
	    "\nexit status:\n"
	    "   0  success\n"
	    "  64  usage error (EX_USAGE)\n"
	    "  65  bad or damaged data: verify found damage, a read met a "
	    "damaged\n"
	    "      record, record too large, a stream message malformed or "
	    "out of\n"
	    "      order (EX_DATAERR)\n"
	    "  66  input file, data directory or stream cannot be read; "
	    "an LSN\n"
	    "      below the log's first (truncated); no such cursor "
	    "(EX_NOINPUT)\n"
	    "  69  walld or the NATS servers cannot be reached "
	    "(EX_UNAVAILABLE)\n"
	    "  70  internal error in walld or walctl (EX_SOFTWARE)\n"
	    "  71  a local system call failed (EX_OSERR)\n"
	    "  73  the log is sealed; restore: DIR is not empty or cannot be "
	    "made\n"
	    "      (EX_CANTCREAT)\n"
	    "  74  I/O failure in walld: outcome unknown; or stdout, or "
	    "restore's\n"
	    "      DIR, could not be written (EX_IOERR)\n"
	    "  75  outcome unknown (connection lost), or no space, busy,\n"
	    "      shutting down, a stream stopped sending: retry "
	    "(EX_TEMPFAIL)\n"
	    "  76  protocol error or version mismatch with walld "
	    "(EX_PROTOCOL)\n"
	    "  77  permission denied (EX_NOPERM)\n"
	    "  78  reload: walld refused the configuration (EX_CONFIG)\n");
}

/* The row of the command called name, or NULL. */
static const struct walctl_cmd *
walctl_find(const char *name)
{
	const struct walctl_cmd	*cmd;

	for (cmd = walctl_cmds; cmd->name != NULL; cmd++)
		if (strcmp(cmd->name, name) == 0)
			return (cmd);
	return (NULL);
}

/* walctl help [COMMAND]. */
static int
walctl_cmd_help(struct walctl *w, int argc, char **argv)
{
	const struct walctl_cmd	*cmd;

	if (argc > 2)
		return (walctl_usage_why(w->cmd, "unexpected argument '%s'",
		    argv[2]));
	if (argc == 2 && strcmp(argv[1], "--help") != 0 &&
	    strcmp(argv[1], "-h") != 0) {
		if ((cmd = walctl_find(argv[1])) == NULL)
			return (walctl_usage_why(w->cmd, "%s: unknown command",
			    argv[1]));
		walctl_cmd_usage(stdout, cmd);
	} else
		walctl_help(stdout);
	return (walctl_flush_stdout());
}

/* Parses the global options, then runs the subcommand, which takes its
   own options (and -s/--socket again) from the rest. */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct walctl_cmd	*cmd;
	struct walctl		 w;
	uint64_t		 v;
	int			 ch;

	memset(&w, 0, sizeof w);
	w.timeout_ms = WALCTL_CONNECT_MS;
	opterr = 0;	/* getopt's messages are walctl's (walctl_opt_error) */
	while ((ch = getopt_long(argc, argv, "+:s:t:hV", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 's':
			w.socket = optarg;
			break;
		case 't':
			if (walctl_number("--timeout", optarg, INT_MAX, &v))
				return (EX_USAGE);
			w.timeout_ms = (int)v;
			break;
		case 'h':
			walctl_help(stdout);
			return (walctl_flush_stdout());
		case 'V':
			printf("walctl %s\n", WALCTL_VERSION);
			return (walctl_flush_stdout());
		default:
			return (walctl_opt_error(NULL, argc, argv, ch));
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return (walctl_usage_why(NULL, "no command given"));
	if ((cmd = walctl_find(argv[0])) == NULL)
		return (walctl_usage_why(NULL, "%s: unknown command", argv[0]));
	w.cmd = cmd;
	w.argc = argc;
	w.argv = argv;
	walctl_current = cmd;
	optind = 0;	/* reset getopt: the subcommand parses from its name */
	return (cmd->fn(&w, argc, argv));
}
