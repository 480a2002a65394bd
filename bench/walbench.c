/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walbench.c: walld's benchmark. `walbench run` forks P client processes
 * of C connections each and keeps D appends in flight per connection;
 * it reports durable appends/s and MB/s, the latency from submit to
 * durable ack (every append, in a histogram), walld's fsyncs and records
 * per fsync (its stats), its CPU per append and peak RSS (/proc).
 * `walbench disk` measures the disk's own limits, `walbench idle` what an
 * idle connection costs walld. One markdown table row per run.
 * `walbench run --system redis|pg|sqlite|file` loads another system with
 * the same processes, connections, appends in flight, payloads, window,
 * histogram and CPU accounting (peers.c), so that every figure compares
 * servers, not client models (issue 26).
 * `walbench run --idempotent` makes every walld connection a producer of
 * its own that numbers its appends 1, 2, 3, ... (issue 21), to measure
 * what idempotent appends cost against plain ones.
 */
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "libwal.h"

#define EXIT_USAGE	64
#define MAX_PROCS	4096
#define MAX_CONNS	65536
#define MAX_DEPTH	65536
#define RECORD_TYPE	1
#define STUCK_MS	10000	/* no reply for this long: walld is stuck */

struct bench_opts {
	const char	*socket;
	int		 procs;
	int		 conns;		/* per process */
	int		 depth;		/* appends in flight per connection */
	uint32_t	 min_size;
	uint32_t	 max_size;
	double		 seconds;	/* duration mode */
	double		 warmup;
	uint64_t	 count;		/* count mode when not 0 */
	uint32_t	 tenants;
	uint32_t	 vshards;
	pid_t		 pid;		/* walld; 0: the socket's peer */
	const char	*label;
	const char	*json;		/* append a JSON line to this file */
	const char	*encrypt;	/* NULL, "on" or "off" */
	enum wal_ack	 ack;		/* --ack */
	int		 header;
	int		 reset_peak;
	int		 idle;		/* idle mode: connections to open */
	const char	*dir;		/* disk mode */
	unsigned	 disk_tests;	/* disk mode: DISK_TEST_* */
	enum bench_system system;	/* --system */
	int		 idempotent;	/* --idempotent */
};

/* What one client process found, in memory shared with the parent. */
struct proc_result {
	struct hist	 h;
	uint64_t	 appends;	/* acknowledged within the window */
	uint64_t	 bytes;
	uint64_t	 total;		/* acknowledged at all */
	uint64_t	 errors;
	uint64_t	 last_done;	/* time of the last ack (count mode) */
	uint64_t	 cpu_start;	/* own CPU time (ns) at the window's start */
	uint64_t	 cpu_end;	/* and at its end */
	int		 in_window;	/* 0 before, 1 in, 2 after the window */
	int		 failed;
	char		 error[200];
};

struct shared {
	uint64_t		 prod_base;	/* --idempotent: the run's
						   producer ids, high half */
	uint64_t		 t_go;
	uint64_t		 t_measure;	/* acks from here on count */
	uint64_t		 t_end;		/* no submit, no count after */
	struct proc_result	 r[];
};

/* One connection of a client process. sent/len are rings indexed by the
   request id: ids count up by one per request and at most depth are in
   flight, so id & mask never collides. */
struct bconn {
	struct wal_conn	*wc;
	uint64_t	*sent;
	uint32_t	*len;
	uint64_t	 mask;
	int		 inflight;
	uint64_t	 quota;		/* appends left to submit */
	struct peer_redis *rc;		/* --system redis */
	struct peer_sync *sp;		/* pg, sqlite, file */
	uint64_t	 next_id;	/* redis: ids given out, in order */
	uint64_t	 done_id;	/* and answered (in the same order) */
	uint64_t	 producer;	/* --idempotent: this connection's id */
	uint64_t	 seq;		/* and the last sequence number sent */
};

struct bctx {
	const struct bench_opts	*o;
	struct shared		*sh;
	struct proc_result	*pr;
	const uint8_t		*payload;
	uint64_t		 rng;
	int			 stop;		/* a failure: submit no more */
};

/* walld's counters at one moment. */
struct snap {
	uint64_t	t;
	uint64_t	appends;
	uint64_t	append_bytes;
	uint64_t	fsyncs;
	double		cpu_s;		/* utime + stime, all threads */
	int		has_cpu;
	double		busy_s;		/* the whole machine's busy CPU time */
	double		kthr_s;		/* kernel threads' CPU time */
	uint64_t	producers;	/* walld's producer table (0: none) */
	uint64_t	prod_retries;	/* appends answered as retries */
	uint64_t	prod_refused;	/* and refused out of order */
};

static const char *const sys_names[] = {
	[SYS_WALLD] = "walld", [SYS_REDIS] = "redis", [SYS_PG] = "pg",
	[SYS_SQLITE] = "sqlite", [SYS_FILE] = "file",
};

static const char *
sys_name(enum bench_system sys)
{
	return (sys_names[sys]);
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: walbench [run] [options]    load walld and report one table row\n"
"       walbench disk --dir DIR [-t SECONDS] [--test sync,grow,direct,new]\n"
"       walbench idle [-n CONNECTIONS] [-s SOCKET] [--pid PID]\n"
"       walbench header             print the table header of `run`\n"
"       walbench startup [-s SOCKET] -- WALLD ARGS...\n"
"                                   start walld, time until it answers\n"
"       walbench null -s SOCKET [--dir DIR]\n"
"                                   serve walld's protocol, acknowledging\n"
"                                   each append at once, writing nothing;\n"
"                                   with --dir, writing and syncing each\n"
"                                   loop turn's appends first (a file of\n"
"                                   256 MiB in DIR, written beforehand)\n"
"\n"
"run:\n"
"  -s, --socket PATH   walld's socket (default $WALLD_SOCKET)\n"
"  -p, --procs P       client processes (1)\n"
"  -c, --conns C       connections per process (1)\n"
"  -d, --depth D       appends in flight per connection (1)\n"
"  -S, --size S|A-B    payload bytes, fixed or uniform in A..B (128);\n"
"                      k/KiB and m/MiB suffixes\n"
"  -t, --time SECONDS  measured duration (5)\n"
"  -w, --warmup SECS   load before measuring starts (1)\n"
"  -n, --count N       instead of a duration: N appends in all, timed\n"
"      --tenants N     spread appends over N tenants (1)\n"
"      --vshards N     spread appends over N vshards (1)\n"
"      --encrypt on|off  the walld setting expected; n/a when walld has\n"
"                      no encryption\n"
"      --ack local|replicated  the acknowledgement level (default:\n"
"                      walld's replication.ack; docs/REPLICATION.md)\n"
"      --pid PID       walld's pid (default: the socket's peer)\n"
"      --reset-peak    reset walld's peak RSS first (/proc/PID/clear_refs)\n"
"  -l, --label TEXT    first column of the row\n"
"      --header        print the table header first\n"
"      --json FILE     also append the results as one JSON line to FILE\n"
"      --idempotent    every connection is a producer of its own (ids\n"
"                      distinct per connection and run) and numbers its\n"
"                      appends 1, 2, 3, ... (protocol version 2; walld's\n"
"                      producers.window should be >= -d for retries,\n"
"                      which walbench never makes)\n"
"      --system S      what -s names and the load goes to (default walld:\n"
"                      walld or `walbench null`):\n"
"                      redis   Redis's Unix socket: XADD walbench * f <payload>,\n"
"                              D pipelined per connection\n"
"                      pg      a libpq conninfo (host=SOCKET_DIR ...): one\n"
"                              INSERT a transaction; -c 1 -d 1\n"
"                      sqlite  a database file, WAL mode, synchronous=FULL,\n"
"                              one INSERT a transaction; -c 1 -d 1\n"
"                      file    a file, O_APPEND, fdatasync per record;\n"
"                              -c 1 -d 1\n"
"                      The table or file is made afresh first. --pid names\n"
"                      the server (Redis, the postmaster: its children count)\n"
"                      for its CPU; SQLite and the file have none.\n"
"\n"
"Latency is from submit to durable ack, every append counted. MB are\n"
"10^6 bytes of payload. walld's CPU and RSS come from /proc, fsyncs from\n"
"its stats (fsyncs_total, appends_total).\n");
}

static void
fatal(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "walbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Parses "128", "4k", "4KiB", "1m". */
static int
parse_size(const char *s, uint32_t *out)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return (-1);
	if (*end == 'k' || *end == 'K') {
		v <<= 10;
		end++;
	} else if (*end == 'm' || *end == 'M') {
		v <<= 20;
		end++;
	}
	if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
		end += strlen(end);
	if (*end != '\0' || v > UINT32_MAX)
		return (-1);
	*out = (uint32_t)v;
	return (0);
}

static int
parse_range(const char *s, uint32_t *lo, uint32_t *hi)
{
	char	buf[64], *dash;

	if (strlen(s) >= sizeof buf)
		return (-1);
	strcpy(buf, s);
	if ((dash = strchr(buf, '-')) == NULL) {
		if (parse_size(buf, lo) == -1)
			return (-1);
		*hi = *lo;
		return (0);
	}
	*dash = '\0';
	if (parse_size(buf, lo) == -1 || parse_size(dash + 1, hi) == -1 ||
	    *hi < *lo)
		return (-1);
	return (0);
}

static long
parse_int(const char *what, const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "walbench: %s: want a number in %ld..%ld, "
		    "not '%s'\n", what, min, max, s);
		exit(EXIT_USAGE);
	}
	return (v);
}

static double
parse_secs(const char *what, const char *s)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 86400) {
		fprintf(stderr, "walbench: %s: want seconds, not '%s'\n",
		    what, s);
		exit(EXIT_USAGE);
	}
	return (v);
}

static uint64_t
rng_next(uint64_t *s)
{
	uint64_t	x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return (x);
}

/* This process's CPU time in ns. */
static uint64_t
proc_self_cpu(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/* Sleeps until the CLOCK_MONOTONIC time t (ns). */
static void
sleep_until(uint64_t t)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)(t / 1000000000u);
	ts.tv_nsec = (long)(t % 1000000000u);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

/* Raises the open-files limit to its hard limit: each connection is one. */
static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * /proc and walld's stats.
 */

/* walld's CPU time (user + system, every thread) in seconds. */
static int
proc_cpu(pid_t pid, double *secs)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 ut, st;
	FILE			*f;
	size_t			 n;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: state is
	   field 3, utime 14 and stime 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
	    "%llu", &ut, &st) != 2)
		return (-1);
	*secs = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return (0);
}

/* The machine's busy CPU time in seconds (all CPUs): user, system, irq
   and softirq of /proc/stat. Niced work is left out: it yields the CPU. */
static int
proc_busy(double *secs)
{
	unsigned long long	 v[7];
	FILE			*f;
	int			 n;

	if ((f = fopen("/proc/stat", "r")) == NULL)
		return (-1);
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
	    &v[2], &v[3], &v[4], &v[5], &v[6]);
	fclose(f);
	if (n != 7)
		return (-1);
	*secs = (double)(v[0] + v[2] + v[5] + v[6]) /
	    (double)sysconf(_SC_CLK_TCK);
	return (0);
}

/* A server of several processes (PostgreSQL's backends, a Redis
   rewriting its AOF in a child): the CPU time in seconds of pid and of
   its live children, with what their exited children used. */
static int
proc_tree_cpu(pid_t pid, double *secs)
{
	unsigned long long	 ut, st, cut, cst, sum = 0;
	struct dirent		*de;
	char			 path[300], buf[1024], *p;
	long			 ppid, self;
	int			 found = 0;
	DIR			*d;
	FILE			*f;
	size_t			 n;

	if ((d = opendir("/proc")) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		self = strtol(de->d_name, NULL, 10);
		snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u "
		    "%llu %llu %llu %llu", &ppid, &ut, &st, &cut, &cst) != 5)
			continue;
		if (self == (long)pid || ppid == (long)pid) {
			sum += ut + st + cut + cst;
			found |= self == (long)pid;
		}
	}
	closedir(d);
	if (!found)
		return (-1);
	*secs = (double)sum / (double)sysconf(_SC_CLK_TCK);
	return (0);
}

#define PF_KTHREAD	0x00200000	/* task flag of kernel threads */

/* The CPU time of every kernel thread (journal, block I/O completion,
   workqueues) in seconds: work the kernel does for walld's I/O, but not
   in walld's own threads. */
static int
proc_kthreads(double *secs)
{
	unsigned long long	 ut, st, flags, sum = 0;
	struct dirent		*de;
	char			 path[300], buf[1024], *p;
	DIR			*d;
	FILE			*f;
	size_t			 n;

	if ((d = opendir("/proc")) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %llu %*u %*u %*u %*u "
		    "%llu %llu", &flags, &ut, &st) != 3)
			continue;
		if (flags & PF_KTHREAD)
			sum += ut + st;
	}
	closedir(d);
	*secs = (double)sum / (double)sysconf(_SC_CLK_TCK);
	return (0);
}

/* A "Name:  N kB" line of /proc/PID/status, in KiB; -1 if missing. */
static long
proc_status_kib(pid_t pid, const char *name)
{
	char	 path[64], line[256];
	size_t	 len = strlen(name);
	long	 v = -1;
	FILE	*f;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return (v);
}

/* Resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0). */
static int
proc_reset_peak(pid_t pid)
{
	char	 path[64];
	FILE	*f;
	int	 rc;

	snprintf(path, sizeof path, "/proc/%ld/clear_refs", (long)pid);
	if ((f = fopen(path, "w")) == NULL)
		return (-1);
	rc = fputs("5\n", f) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return (rc);
}

/* One value of walld's stats text; -1 when the name is not there. */
static int
stat_value(const char *text, const char *name, char *out, size_t outlen)
{
	size_t		 len = strlen(name), n;
	const char	*p = text, *e;

	while (*p != '\0') {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) > len && strncmp(p, name, len) == 0 &&
		    p[len] == ' ') {
			n = (size_t)(e - p) - len - 1;
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, p + len + 1, n);
			out[n] = '\0';
			return (0);
		}
		p = *e == '\0' ? e : e + 1;
	}
	return (-1);
}

static uint64_t
stat_u64(const char *text, const char *name)
{
	char	v[64];

	if (stat_value(text, name, v, sizeof v) == -1)
		fatal("walld's stats have no %s", name);
	return (strtoull(v, NULL, 10));
}

/* A stat that older walld and the null server do not have: 0 then. */
static uint64_t
stat_opt(const char *text, const char *name)
{
	char	v[64];

	if (stat_value(text, name, v, sizeof v) == -1)
		return (0);
	return (strtoull(v, NULL, 10));
}

/* Takes the server's counters now: walld's stats when sc is its
   connection; for another system only its CPU (pid and its children),
   none when there is no server (pid 0: SQLite, the shared file). */
static void
snap_take(struct wal_conn *sc, pid_t pid, struct snap *s)
{
	enum wal_result	 r;
	char		*text;

	memset(s, 0, sizeof *s);
	if (sc != NULL) {
		if ((r = wal_conn_stats(sc, &text)) != WAL_RESULT_OK)
			fatal("stats: %s: %s", wal_result_name(r),
			    wal_conn_error(sc));
		s->appends = stat_u64(text, "appends_total");
		s->append_bytes = stat_u64(text, "append_bytes_total");
		s->fsyncs = stat_u64(text, "fsyncs_total");
		s->producers = stat_opt(text, "producers");
		s->prod_retries = stat_opt(text, "producer_retries_total");
		s->prod_refused = stat_opt(text, "producer_refused_total");
		free(text);
		s->has_cpu = pid > 0 && proc_cpu(pid, &s->cpu_s) == 0;
	} else if (pid > 0) {
		s->has_cpu = proc_tree_cpu(pid, &s->cpu_s) == 0;
	} else {
		s->has_cpu = 1;		/* no server: its CPU is 0 */
	}
	s->t = bench_now();
	if (proc_busy(&s->busy_s) == -1 || proc_kthreads(&s->kthr_s) == -1)
		s->busy_s = -1;
}

/* walld's pid: the peer of a connected socket. */
static pid_t
peer_pid(struct wal_conn *c)
{
	struct ucred	cred;
	socklen_t	len = sizeof cred;

	if (getsockopt(wal_conn_fd(c), SOL_SOCKET, SO_PEERCRED, &cred,
	    &len) == -1)
		return (0);
	return (cred.pid);
}

/*
 * Client processes.
 */

static void
proc_fail(struct bctx *x, const char *fmt, ...)
{
	va_list	ap;

	x->stop = 1;
	if (x->pr->failed)
		return;
	x->pr->failed = 1;
	va_start(ap, fmt);
	vsnprintf(x->pr->error, sizeof x->pr->error, fmt, ap);
	va_end(ap);
}

static int
may_submit(struct bctx *x, struct bconn *b, uint64_t now)
{
	return (!x->stop && b->quota > 0 && now < x->sh->t_end);
}

/* Queues one append on b. */
static void
bconn_submit(struct bctx *x, struct bconn *b, uint64_t now)
{
	const struct bench_opts	*o = x->o;
	enum wal_result		 r;
	uint64_t		 id, rnd = rng_next(&x->rng);
	uint32_t		 len = o->min_size, tenant = 0, vshard = 0;

	if (o->max_size > o->min_size)
		len += (uint32_t)(rnd % (o->max_size - o->min_size + 1));
	if (o->tenants > 1)
		tenant = (uint32_t)((rnd >> 20) % o->tenants);
	if (o->vshards > 1)
		vshard = (uint32_t)((rnd >> 40) % o->vshards);
	if (o->system == SYS_REDIS) {
		if (peer_redis_submit(b->rc, x->payload + (rnd & 63), len) ==
		    -1) {
			proc_fail(x, "out of memory");
			return;
		}
		id = b->next_id++;
		goto sent;
	}
	/* Idempotent: the next sequence number, taken only when the append
	   is queued. An append walld refuses (BUSY, NO_SPACE) leaves a gap
	   that makes the next ones SEQUENCE: the run fails, as it should,
	   since walbench does not retry. */
	if (o->idempotent)
		r = wal_conn_submit_append_seq(b->wc, b->producer, b->seq + 1,
		    RECORD_TYPE, tenant, (uint16_t)vshard,
		    x->payload + (rnd & 63), len, &id);
	else
		r = wal_conn_submit_append(b->wc, RECORD_TYPE, tenant,
		    (uint16_t)vshard, x->payload + (rnd & 63), len, 0, &id);
	if (r == WAL_RESULT_OK && o->idempotent)
		b->seq++;
	if (r != WAL_RESULT_OK) {
		proc_fail(x, "submit: %s: %s", wal_result_name(r),
		    wal_conn_error(b->wc));
		return;
	}
sent:
	b->sent[id & b->mask] = now;
	b->len[id & b->mask] = len;
	b->inflight++;
	b->quota--;
}

/* Keeps depth appends in flight on b while the run goes on. */
static void
bconn_fill(struct bctx *x, struct bconn *b)
{
	uint64_t	now = bench_now();

	while (b->inflight < x->o->depth && may_submit(x, b, now))
		bconn_submit(x, b, now);
}

/* Accounts one answered append (request id on b): an error when not
   ok, else its latency and bytes when inside the window. */
static void
bconn_account(struct bctx *x, struct bconn *b, uint64_t id, int ok)
{
	struct proc_result	*pr = x->pr;
	uint64_t		 now = bench_now();

	b->inflight--;
	pr->last_done = now;
	if (pr->in_window == 0 && now >= x->sh->t_measure) {
		pr->cpu_start = proc_self_cpu();
		pr->in_window = 1;
	}
	if (pr->in_window == 1 && now >= x->sh->t_end) {
		pr->cpu_end = proc_self_cpu();
		pr->in_window = 2;
	}
	if (!ok) {
		pr->errors++;
		return;
	}
	pr->total++;
	if (now < x->sh->t_measure || now >= x->sh->t_end)
		return;
	hist_add(&pr->h, now - b->sent[id & b->mask]);
	pr->appends++;
	pr->bytes += b->len[id & b->mask];
}

/* Accounts one completion from walld. */
static void
bconn_done(struct bctx *x, struct bconn *b, const struct wal_completion *c)
{
	bconn_account(x, b, c->id, c->result == WAL_RESULT_OK);
	if (c->result != WAL_RESULT_OK && !wal_result_retryable(c->result))
		proc_fail(x, "append: %s: %s", wal_result_name(c->result),
		    c->msg != NULL ? c->msg : "");
}

/* One connection: the blocking wait of libwal does the fewest system
   calls (one send, one poll, the reads) per burst of replies. */
static void
proc_loop_one(struct bctx *x, struct bconn *b)
{
	struct wal_completion	comp;
	int			n;

	for (;;) {
		bconn_fill(x, b);
		if (b->inflight == 0)
			return;
		n = wal_conn_wait(b->wc, STUCK_MS, &comp);
		if (n == 0) {
			proc_fail(x, "no reply from walld for %d ms", STUCK_MS);
			return;
		}
		if (n == -1) {
			proc_fail(x, "connection: %s", wal_conn_error(b->wc));
			return;
		}
		bconn_done(x, b, &comp);
	}
}

/* Takes b's completions and refills it until no reply is waiting. */
static void
proc_service(struct bctx *x, struct bconn *b)
{
	struct wal_completion	comp;
	enum wal_result		r;
	int			got;

	for (;;) {
		got = 0;
		while (wal_conn_completion(b->wc, &comp)) {
			bconn_done(x, b, &comp);
			got++;
		}
		bconn_fill(x, b);
		if (got == 0 || wal_conn_output_pending(b->wc) == 0)
			return;
		if ((r = wal_conn_pump(b->wc)) != WAL_RESULT_OK) {
			proc_fail(x, "connection: %s: %s", wal_result_name(r),
			    wal_conn_error(b->wc));
			return;
		}
	}
}

/* Several connections: one poll over all of them. */
static void
proc_loop_many(struct bctx *x, struct bconn *bs, int n)
{
	struct pollfd	*pfd;
	enum wal_result	 r;
	int		 i, busy, rc;

	if ((pfd = calloc((size_t)n, sizeof *pfd)) == NULL) {
		proc_fail(x, "out of memory");
		return;
	}
	/* The first pump may already read replies (a fast server): they are
	   taken now, as the socket will not wake poll for them again. */
	for (i = 0; i < n; i++) {
		bconn_fill(x, &bs[i]);
		if ((r = wal_conn_pump(bs[i].wc)) != WAL_RESULT_OK) {
			proc_fail(x, "connection: %s: %s", wal_result_name(r),
			    wal_conn_error(bs[i].wc));
			goto out;
		}
		proc_service(x, &bs[i]);
	}
	for (;;) {
		busy = 0;
		for (i = 0; i < n; i++) {
			pfd[i].fd = wal_conn_fd(bs[i].wc);
			pfd[i].events = wal_conn_events(bs[i].wc);
			pfd[i].revents = 0;
			if (bs[i].inflight > 0)
				busy++;
		}
		if (busy == 0)
			break;
		rc = poll(pfd, (nfds_t)n, STUCK_MS);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc <= 0) {
			proc_fail(x, rc == 0 ? "no reply from walld for 10 s" :
			    "poll: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if ((r = wal_conn_pump(bs[i].wc)) != WAL_RESULT_OK) {
				proc_fail(x, "connection: %s: %s",
				    wal_result_name(r), wal_conn_error(bs[i].wc));
				goto out;
			}
			proc_service(x, &bs[i]);
		}
	}
out:
	free(pfd);
}

/* Redis: every connection of the process in one poll. Requests are
   queued as the connection has room in its depth and written at once;
   replies come in request order and are matched by counting. */
static void
proc_loop_redis(struct bctx *x, struct bconn *bs, int n)
{
	struct pollfd	*pfd;
	char		 err[200], msg[200];
	int		 i, busy, rc, got, ok;

	if ((pfd = calloc((size_t)n, sizeof *pfd)) == NULL) {
		proc_fail(x, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		bconn_fill(x, &bs[i]);
		if (peer_redis_flush(bs[i].rc, err, sizeof err) == -1) {
			proc_fail(x, "%s", err);
			goto out;
		}
	}
	for (;;) {
		busy = 0;
		for (i = 0; i < n; i++) {
			pfd[i].fd = peer_redis_fd(bs[i].rc);
			pfd[i].events = POLLIN;
			if (peer_redis_want_write(bs[i].rc))
				pfd[i].events |= POLLOUT;
			pfd[i].revents = 0;
			if (bs[i].inflight > 0)
				busy++;
		}
		if (busy == 0 || x->stop)
			break;
		rc = poll(pfd, (nfds_t)n, STUCK_MS);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc <= 0) {
			proc_fail(x, rc == 0 ? "no reply from Redis for 10 s" :
			    "poll: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			struct bconn *b = &bs[i];

			if (pfd[i].revents == 0)
				continue;
			if ((pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) &&
			    peer_redis_read(b->rc, err, sizeof err) == -1) {
				proc_fail(x, "%s", err);
				goto out;
			}
			while ((got = peer_redis_reply(b->rc, &ok, msg,
			    sizeof msg)) == 1) {
				bconn_account(x, b, b->done_id++, ok);
				if (!ok)
					proc_fail(x, "XADD: %s", msg);
			}
			if (got == -1) {
				proc_fail(x, "%s", msg);
				goto out;
			}
			bconn_fill(x, b);
			if (peer_redis_flush(b->rc, err, sizeof err) == -1) {
				proc_fail(x, "%s", err);
				goto out;
			}
		}
	}
out:
	free(pfd);
}

/* PostgreSQL, SQLite, the shared file: one connection, one append at a
   time, each answered once durable. */
static void
proc_loop_sync(struct bctx *x, struct bconn *b)
{
	const struct bench_opts	*o = x->o;
	uint64_t		 now, rnd;
	uint32_t		 len;
	char			 err[200];
	int			 rc;

	while (may_submit(x, b, now = bench_now())) {
		rnd = rng_next(&x->rng);
		len = o->min_size;
		if (o->max_size > o->min_size)
			len += (uint32_t)(rnd % (o->max_size - o->min_size + 1));
		b->sent[0] = now;
		b->len[0] = len;
		b->inflight++;
		b->quota--;
		rc = peer_sync_append(b->sp, x->payload + (rnd & 63), len, err,
		    sizeof err);
		bconn_account(x, b, 0, rc == 0);
		if (rc == -1) {
			proc_fail(x, "%s", err);
			return;
		}
	}
}

/* Opens connection i of the process idx to the system o names; -1 and
   the process failed when it cannot. */
static int
bconn_open(struct bctx *x, struct bconn *b, int idx)
{
	const struct bench_opts	*o = x->o;
	enum wal_result		 r;
	char			*cause = NULL, err[300];

	switch (o->system) {
	case SYS_WALLD:
		r = wal_conn_open(&b->wc, o->socket, STUCK_MS, &cause);
		if (r != WAL_RESULT_OK) {
			proc_fail(x, "connect: %s: %s", wal_result_name(r),
			    cause != NULL ? cause : "");
			return (-1);
		}
		wal_conn_set_ack(b->wc, o->ack);
		return (0);
	case SYS_REDIS:
		b->rc = peer_redis_open(o->socket, err, sizeof err);
		break;
	default:
		b->sp = peer_sync_open(o->system, o->socket, (uint32_t)idx,
		    err, sizeof err);
		break;
	}
	if (b->rc == NULL && b->sp == NULL) {
		proc_fail(x, "connect: %s", err);
		return (-1);
	}
	return (0);
}

static void
bconn_close(struct bconn *b)
{
	if (b->wc != NULL)
		wal_conn_close(b->wc);
	peer_redis_close(b->rc);
	peer_sync_close(b->sp);
}

/* A client process: connects, says ready, waits for go, runs. */
static int
proc_main(const struct bench_opts *o, struct shared *sh, int idx,
    const uint8_t *payload, int ready_fd, int go_fd)
{
	struct bctx	 x;
	struct bconn	*bs;
	uint64_t	 cap, quota = UINT64_MAX, share, left;
	char		 c;
	int		 i, nconn = o->conns;
	ssize_t		 n;

	memset(&x, 0, sizeof x);
	x.o = o;
	x.sh = sh;
	x.pr = &sh->r[idx];
	x.payload = payload;
	x.rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(idx + 1);
	for (cap = 1; cap < (uint64_t)o->depth; cap <<= 1)
		;
	if ((bs = calloc((size_t)nconn, sizeof *bs)) == NULL)
		fatal("out of memory");
	for (i = 0; i < nconn; i++) {
		if (o->count != 0) {
			/* Spread count over every connection of every process. */
			share = o->count / ((uint64_t)o->procs * (uint64_t)nconn);
			left = o->count % ((uint64_t)o->procs * (uint64_t)nconn);
			quota = share + ((uint64_t)idx * (uint64_t)nconn +
			    (uint64_t)i < left ? 1 : 0);
		}
		bs[i].quota = quota;
		bs[i].mask = cap - 1;
		/* Distinct and never 0: the low half is 1 + the connection's
		   index among all of the run's. */
		bs[i].producer = sh->prod_base |
		    ((uint64_t)idx * (uint64_t)nconn + (uint64_t)i + 1);
		bs[i].sent = calloc(cap, sizeof *bs[i].sent);
		bs[i].len = calloc(cap, sizeof *bs[i].len);
		if (bs[i].sent == NULL || bs[i].len == NULL)
			fatal("out of memory");
		if (bconn_open(&x, &bs[i], idx) == -1) {
			(void)!write(ready_fd, "E", 1);
			return (1);
		}
	}
	if (write(ready_fd, "R", 1) != 1)
		return (1);
	close(ready_fd);
	while ((n = read(go_fd, &c, 1)) == -1 && errno == EINTR)
		;
	close(go_fd);
	if (o->system == SYS_REDIS)
		proc_loop_redis(&x, bs, nconn);
	else if (o->system != SYS_WALLD)
		proc_loop_sync(&x, &bs[0]);
	else if (nconn == 1)
		proc_loop_one(&x, &bs[0]);
	else
		proc_loop_many(&x, bs, nconn);
	if (x.pr->in_window == 1)
		x.pr->cpu_end = proc_self_cpu();
	for (i = 0; i < nconn; i++)
		bconn_close(&bs[i]);
	return (x.pr->failed ? 1 : 0);
}

/*
 * The table.
 */

static void
print_header(void)
{
	printf("| run | procs×conns×depth | payload B | appends/s | MB/s | "
	    "p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | fsyncs/s | "
	    "records/fsync | server CPU µs/append | server peak RSS MiB | "
	    "client CPU µs/append | kernel threads, cores | other CPU, cores | "
	    "errors |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	    "---:|---:|---:|---:|---:|---:|\n");
}

static void
size_text(const struct bench_opts *o, char *buf, size_t len)
{
	if (o->min_size == o->max_size)
		snprintf(buf, len, "%" PRIu32, o->min_size);
	else
		snprintf(buf, len, "%" PRIu32 "-%" PRIu32, o->min_size,
		    o->max_size);
}

/* The row for a run that could not happen (encryption not in walld). */
static void
print_na(const struct bench_opts *o, const char *why)
{
	char		 size[32];
	FILE		*f;

	size_text(o, size, sizeof size);
	if (o->header)
		print_header();
	printf("| %s | %d×%d×%d | %s | n/a | n/a | n/a | n/a | n/a | n/a | "
	    "n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | %s |\n", o->label,
	    o->procs, o->conns, o->depth, size, why);
	if (o->json != NULL && (f = fopen(o->json, "a")) != NULL) {
		fprintf(f, "{\"label\":\"%s\",\"na\":\"%s\"}\n", o->label, why);
		fclose(f);
	}
}

/* Formats a value, or "n/a" when it is negative. */
static const char *
fmt(char *buf, size_t len, const char *f, double v)
{
	if (v < 0)
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, f, v);
	return (buf);
}

static double
us(uint64_t ns)
{
	return ((double)ns / 1e3);
}

/* Loads walld as o says and prints the row. */
static int
cmd_run(const struct bench_opts *o)
{
	struct wal_conn		*sc;
	struct shared		*sh;
	struct hist		*all;
	struct snap		 a, b;
	struct rusage		 ru;
	enum wal_result		 r;
	uint8_t			*payload;
	pid_t			*kids, pid, walld;
	size_t			 shsize, i;
	uint64_t		 appends = 0, bytes = 0, total = 0, errors = 0;
	uint64_t		 last = 0, now;
	double			 secs, aps, cpu_us = -1, rpf = -1, fps = -1;
	double			 client_us = -1, client_s = 0, other = -1;
	double			 kthr = -1;
	double			 dt;
	long			 hwm, rss;
	char			*cause = NULL, *text, enc[32] = "off", size[32];
	char			 v[12][32], ready, err[300];
	int			 go[2], rdy[2], st, failed = 0, nready = 0;
	FILE			*f;

	if (o->system != SYS_WALLD) {
		/* Another system: no stats, its pid from --pid (none for
		   SQLite and the file: the clients do all the work). */
		sc = NULL;
		walld = o->pid;
		snprintf(enc, sizeof enc, "n/a");
		if (o->system != SYS_REDIS &&
		    peer_sync_setup(o->system, o->socket, err, sizeof err) == -1)
			fatal("%s", err);
		goto load;
	}
	r = wal_conn_open(&sc, o->socket, STUCK_MS, &cause);
	if (r != WAL_RESULT_OK)
		fatal("connect: %s: %s", wal_result_name(r),
		    cause != NULL ? cause : "");
	if (wal_conn_max_record(sc) < o->max_size)
		fatal("payloads up to %" PRIu32 " B, but walld takes at most "
		    "%" PRIu32, o->max_size, wal_conn_max_record(sc));
	if (o->idempotent && wal_conn_version(sc) < 2)
		fatal("--idempotent: the server speaks protocol version %u; "
		    "idempotent appends need 2", (unsigned)wal_conn_version(sc));
	walld = o->pid != 0 ? o->pid : peer_pid(sc);
	if ((r = wal_conn_stats(sc, &text)) != WAL_RESULT_OK)
		fatal("stats: %s", wal_conn_error(sc));
	if (stat_value(text, "encryption", enc, sizeof enc) == -1) {
		free(text);
		if (o->encrypt != NULL && strcmp(o->encrypt, "on") == 0) {
			print_na(o, "walld has no encryption");
			wal_conn_close(sc);
			return (0);
		}
		snprintf(enc, sizeof enc, "off");
	} else {
		free(text);
		if (o->encrypt != NULL &&
		    (strcmp(enc, "off") == 0) != (strcmp(o->encrypt, "off") == 0))
			fatal("walld runs with encryption %s, not %s", enc,
			    o->encrypt);
	}
load:
	if (o->reset_peak && walld > 0 && proc_reset_peak(walld) == -1)
		fprintf(stderr, "walbench: cannot reset walld's peak RSS: %s\n",
		    strerror(errno));

	/* Random payload bytes, shared read-only by the children. */
	if ((payload = malloc((size_t)o->max_size + 64)) == NULL)
		fatal("out of memory");
	for (i = 0, now = bench_now() | 1; i < (size_t)o->max_size + 64; i++)
		payload[i] = (uint8_t)rng_next(&now);

	shsize = sizeof *sh + (size_t)o->procs * sizeof sh->r[0];
	sh = mmap(NULL, shsize, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS,
	    -1, 0);
	if (sh == MAP_FAILED)
		fatal("mmap %zu bytes: %s", shsize, strerror(errno));
	for (i = 0; i < (size_t)o->procs; i++)
		hist_init(&sh->r[i].h);
	/* The run's producer ids: this process and the time in the high
	   half, so that a second run on the same walld is new producers,
	   not old ones starting again at 1 (which walld would refuse). */
	sh->prod_base = ((uint64_t)(uint32_t)getpid() << 32) ^
	    (bench_now() << 32);
	if ((kids = calloc((size_t)o->procs, sizeof *kids)) == NULL ||
	    (all = malloc(sizeof *all)) == NULL)
		fatal("out of memory");
	if (pipe(go) == -1 || pipe(rdy) == -1)
		fatal("pipe: %s", strerror(errno));
	fflush(stdout);
	for (i = 0; i < (size_t)o->procs; i++) {
		if ((pid = fork()) == -1) {
			fprintf(stderr, "walbench: fork: %s\n", strerror(errno));
			failed = 1;
			break;
		}
		if (pid == 0) {
			close(go[1]);
			close(rdy[0]);
			_exit(proc_main(o, sh, (int)i, payload, rdy[1], go[0]));
		}
		kids[i] = pid;
	}
	close(go[0]);
	close(rdy[1]);
	while (!failed && nready < o->procs) {
		ssize_t n = read(rdy[0], &ready, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n != 1 || ready != 'R')
			failed = 1;
		else
			nready++;
	}
	close(rdy[0]);

	now = bench_now();
	sh->t_go = now;
	if (failed) {
		sh->t_measure = sh->t_end = now;	/* children stop at once */
	} else if (o->count != 0) {
		sh->t_measure = now;
		sh->t_end = UINT64_MAX;
		snap_take(sc, walld, &a);
	} else {
		sh->t_measure = now + (uint64_t)(o->warmup * 1e9);
		sh->t_end = sh->t_measure + (uint64_t)(o->seconds * 1e9);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	close(go[1]);				/* go */
	if (!failed && o->count == 0) {
		sleep_until(sh->t_measure);
		snap_take(sc, walld, &a);
		sleep_until(sh->t_end);
		snap_take(sc, walld, &b);
	}
	for (i = 0; i < (size_t)o->procs && kids[i] != 0; i++) {
		while (waitpid(kids[i], &st, 0) == -1 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed = 1;
	}
	if (!failed && o->count != 0)
		snap_take(sc, walld, &b);

	hist_init(all);
	for (i = 0; i < (size_t)o->procs; i++) {
		struct proc_result *pr = &sh->r[i];

		if (pr->failed)
			fprintf(stderr, "walbench: client %zu: %s\n", i,
			    pr->error);
		hist_merge(all, &pr->h);
		appends += pr->appends;
		bytes += pr->bytes;
		total += pr->total;
		errors += pr->errors;
		if (pr->last_done > last)
			last = pr->last_done;
		if (pr->cpu_end > pr->cpu_start)
			client_s += (double)(pr->cpu_end - pr->cpu_start) / 1e9;
	}
	if (failed)
		fatal("a client process failed; no result");
	/* No retries happen here: any that walld saw, or any append refused
	   out of order, means the producers were not what this run says. */
	if (sc != NULL && (b.prod_retries != a.prod_retries ||
	    b.prod_refused != a.prod_refused))
		fprintf(stderr, "walbench: walld counted %" PRIu64 " producer "
		    "retries and %" PRIu64 " refused appends in the window\n",
		    b.prod_retries - a.prod_retries,
		    b.prod_refused - a.prod_refused);

	secs = o->count != 0 ? (double)(last - sh->t_go) / 1e9 :
	    (double)(sh->t_end - sh->t_measure) / 1e9;
	aps = (double)appends / secs;
	if (b.fsyncs > a.fsyncs) {
		fps = (double)(b.fsyncs - a.fsyncs) / ((double)(b.t - a.t) / 1e9);
		rpf = (double)(b.appends - a.appends) /
		    (double)(b.fsyncs - a.fsyncs);
	}
	if (sc != NULL && a.has_cpu && b.has_cpu && b.appends > a.appends)
		cpu_us = (b.cpu_s - a.cpu_s) * 1e6 /
		    (double)(b.appends - a.appends);
	else if (sc == NULL && walld > 0 && a.has_cpu && b.has_cpu &&
	    appends > 0)
		cpu_us = (b.cpu_s - a.cpu_s) * 1e6 / (double)appends;
	/* The clients' CPU within the window; failing that, over their
	   whole life. */
	if (client_s > 0 && appends > 0)
		client_us = client_s * 1e6 / (double)appends;
	else if (getrusage(RUSAGE_CHILDREN, &ru) == 0 && total > 0)
		client_us = ((double)ru.ru_utime.tv_sec * 1e6 +
		    (double)ru.ru_utime.tv_usec +
		    (double)ru.ru_stime.tv_sec * 1e6 +
		    (double)ru.ru_stime.tv_usec) / (double)total;
	/* What else ran on the machine meanwhile: busy CPU less walld's and
	   the clients'. Anything well above 0 skews the run. */
	dt = (double)(b.t - a.t) / 1e9;
	if (a.busy_s >= 0 && b.busy_s >= 0 && a.has_cpu && b.has_cpu &&
	    client_s > 0 && dt > 0) {
		/* A kernel worker that exited between the snapshots takes
		   its CPU time out of the sum: never below 0, so that it
		   does not count as other work. */
		kthr = (b.kthr_s - a.kthr_s) / dt;
		if (kthr < 0)
			kthr = 0;
		other = (b.busy_s - a.busy_s - (b.cpu_s - a.cpu_s)) / dt -
		    kthr - client_s / secs;
		if (other < 0)
			other = 0;
	}
	/* A server of one process only: PostgreSQL's is its postmaster's
	   and its backends', not one number. */
	hwm = walld > 0 && o->system != SYS_PG ?
	    proc_status_kib(walld, "VmHWM") : -1;
	rss = walld > 0 && o->system != SYS_PG ?
	    proc_status_kib(walld, "VmRSS") : -1;

	size_text(o, size, sizeof size);
	if (o->header)
		print_header();
	printf("| %s | %d×%d×%d | %s | %.0f | %.1f | %.1f | %.1f | %.1f | "
	    "%.1f | %.1f | %s | %s | %s | %s | %s | %s | %s | %" PRIu64 " |\n",
	    o->label, o->procs, o->conns, o->depth, size, aps,
	    (double)bytes / secs / 1e6,
	    us(hist_quantile(all, 0.5)), us(hist_quantile(all, 0.9)),
	    us(hist_quantile(all, 0.99)), us(hist_quantile(all, 0.999)),
	    us(all->max),
	    fmt(v[0], sizeof v[0], "%.0f", fps),
	    fmt(v[1], sizeof v[1], "%.1f", rpf),
	    fmt(v[2], sizeof v[2], "%.2f", cpu_us),
	    fmt(v[3], sizeof v[3], "%.1f", hwm < 0 ? -1 : (double)hwm / 1024),
	    fmt(v[4], sizeof v[4], "%.2f", client_us),
	    fmt(v[5], sizeof v[5], "%.2f", kthr),
	    fmt(v[6], sizeof v[6], "%.2f", other), errors);
	fflush(stdout);
	if (o->json != NULL) {
		if ((f = fopen(o->json, "a")) == NULL)
			fatal("%s: %s", o->json, strerror(errno));
		fprintf(f, "{\"label\":\"%s\",\"system\":\"%s\",\"procs\":%d,"
		    "\"conns\":%d,"
		    "\"depth\":%d,\"size_min\":%" PRIu32 ",\"size_max\":%" PRIu32
		    ",\"encryption\":\"%s\",\"seconds\":%.3f,"
		    "\"appends\":%" PRIu64 ",\"appends_per_s\":%.1f,"
		    "\"mb_per_s\":%.2f,\"p50_us\":%.2f,\"p90_us\":%.2f,"
		    "\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f,"
		    "\"fsyncs_per_s\":%.1f,\"records_per_fsync\":%.2f,"
		    "\"walld_cpu_us_per_append\":%.3f,"
		    "\"walld_peak_rss_kib\":%ld,\"walld_rss_kib\":%ld,"
		    "\"client_cpu_us_per_append\":%.3f,"
		    "\"kthread_cpu_cores\":%.2f,\"other_cpu_cores\":%.2f,"
		    "\"errors\":%" PRIu64 ",\"idempotent\":%s,"
		    "\"producers\":%" PRIu64 ",\"producer_retries\":%" PRIu64
		    ",\"producer_refused\":%" PRIu64 "}\n",
		    o->label, sys_name(o->system), o->procs, o->conns, o->depth,
		    o->min_size, o->max_size, enc, secs, appends, aps,
		    (double)bytes / secs / 1e6,
		    us(hist_quantile(all, 0.5)), us(hist_quantile(all, 0.9)),
		    us(hist_quantile(all, 0.99)), us(hist_quantile(all, 0.999)),
		    us(all->max), fps, rpf, cpu_us, hwm, rss, client_us, kthr,
		    other, errors, o->idempotent ? "true" : "false",
		    b.producers, b.prod_retries - a.prod_retries,
		    b.prod_refused - a.prod_refused);
		fclose(f);
	}
	if (sc != NULL)
		wal_conn_close(sc);
	if (munmap(sh, shsize) == -1)
		fatal("munmap: %s", strerror(errno));
	free(kids);
	free(all);
	free(payload);
	return (0);
}

/* --test: a comma-separated list of sync, grow, direct and new. */
static unsigned
parse_disk_tests(const char *arg)
{
	static const struct { const char *name; unsigned bit; } t[] = {
		{ "sync", DISK_TEST_SYNC }, { "grow", DISK_TEST_GROW },
		{ "direct", DISK_TEST_DIRECT }, { "new", DISK_TEST_NEW },
	};
	unsigned	mask = 0;
	size_t		i, n;
	const char	*p = arg;

	while (*p != '\0') {
		n = strcspn(p, ",");
		for (i = 0; i < sizeof t / sizeof t[0]; i++)
			if (strlen(t[i].name) == n &&
			    strncmp(p, t[i].name, n) == 0)
				break;
		if (i == sizeof t / sizeof t[0]) {
			fprintf(stderr, "walbench: --test: want sync, grow, "
			    "direct or new (comma-separated), not '%s'\n", arg);
			exit(EXIT_USAGE);
		}
		mask |= t[i].bit;
		p += n + (p[n] == ',');
	}
	if (mask == 0) {
		fprintf(stderr, "walbench: --test: name a test\n");
		exit(EXIT_USAGE);
	}
	return (mask);
}

/* Measures the disk's limits in o->dir. */
static int
cmd_disk(const struct bench_opts *o)
{
	struct disk_result	d;
	char			v[8][32];
	FILE			*f;

	if (disk_measure(o->dir, o->seconds, o->disk_tests, &d) == -1)
		return (1);
	if (o->header) {
		printf("| disk test | p50 µs | p99 µs | ops/s | MB/s |\n");
		printf("|---|---:|---:|---:|---:|\n");
	}
	if (o->disk_tests & DISK_TEST_SYNC)
		printf("| 4 KiB pwrite+fdatasync, preallocated file | %s | %s | "
		    "%s | |\n", fmt(v[0], sizeof v[0], "%.1f", d.sync_p50_us),
		    fmt(v[1], sizeof v[1], "%.1f", d.sync_p99_us),
		    fmt(v[2], sizeof v[2], "%.0f", d.sync_ops));
	if (o->disk_tests & DISK_TEST_GROW)
		printf("| 4 KiB write+fdatasync, growing file | %s | %s | | |\n",
		    fmt(v[3], sizeof v[3], "%.1f", d.grow_p50_us),
		    fmt(v[4], sizeof v[4], "%.1f", d.grow_p99_us));
	if (o->disk_tests & DISK_TEST_DIRECT)
		printf("| O_DIRECT 1 MiB write+fdatasync, sequential | %s | | | "
		    "%s |\n", fmt(v[5], sizeof v[5], "%.0f", d.direct_p50_us),
		    fmt(v[6], sizeof v[6], "%.0f", d.direct_mbs));
	if (o->disk_tests & DISK_TEST_NEW)
		printf("| O_DIRECT 1 MiB write+fdatasync, sequential, into new "
		    "(fallocated) blocks | | | | %s |\n",
		    fmt(v[7], sizeof v[7], "%.0f", d.direct_new_mbs));
	if (o->json != NULL) {
		if ((f = fopen(o->json, "a")) == NULL)
			fatal("%s: %s", o->json, strerror(errno));
		fprintf(f, "{\"label\":\"disk\",\"sync_p50_us\":%.2f,"
		    "\"sync_p99_us\":%.2f,\"sync_ops\":%.0f,"
		    "\"grow_p50_us\":%.2f,\"grow_p99_us\":%.2f,"
		    "\"direct_mb_per_s\":%.1f,\"direct_p50_us\":%.1f,"
		    "\"direct_new_mb_per_s\":%.1f}\n",
		    d.sync_p50_us, d.sync_p99_us, d.sync_ops, d.grow_p50_us,
		    d.grow_p99_us, d.direct_mbs, d.direct_p50_us,
		    d.direct_new_mbs);
		fclose(f);
	}
	return (0);
}

/* What an idle connection costs walld: its RSS growth over n connections
   that did their HELLO, divided by n. */
static int
cmd_idle(const struct bench_opts *o)
{
	struct wal_conn	**cs, *sc;
	enum wal_result	  r;
	pid_t		  walld;
	long		  before, after;
	char		 *cause = NULL;
	int		  i;
	FILE		 *f;

	raise_nofile();
	r = wal_conn_open(&sc, o->socket, STUCK_MS, &cause);
	if (r != WAL_RESULT_OK)
		fatal("connect: %s: %s", wal_result_name(r),
		    cause != NULL ? cause : "");
	walld = o->pid != 0 ? o->pid : peer_pid(sc);
	if (walld <= 0 || (cs = calloc((size_t)o->idle, sizeof *cs)) == NULL)
		fatal("no walld pid, or out of memory");
	if (wal_conn_ping(sc) != WAL_RESULT_OK)
		fatal("ping: %s", wal_conn_error(sc));
	before = proc_status_kib(walld, "VmRSS");
	for (i = 0; i < o->idle; i++) {
		r = wal_conn_open(&cs[i], o->socket, STUCK_MS, &cause);
		if (r != WAL_RESULT_OK)
			fatal("connection %d: %s: %s", i, wal_result_name(r),
			    cause != NULL ? cause : "");
	}
	/* A round trip after the last HELLO: walld has seen them all. */
	if (wal_conn_ping(sc) != WAL_RESULT_OK)
		fatal("ping: %s", wal_conn_error(sc));
	after = proc_status_kib(walld, "VmRSS");
	if (o->header) {
		printf("| idle connections | walld RSS before KiB | after KiB | "
		    "bytes per connection |\n|---:|---:|---:|---:|\n");
	}
	printf("| %d | %ld | %ld | %.0f |\n", o->idle, before, after,
	    (double)(after - before) * 1024 / o->idle);
	if (o->json != NULL && (f = fopen(o->json, "a")) != NULL) {
		fprintf(f, "{\"label\":\"idle\",\"connections\":%d,"
		    "\"rss_before_kib\":%ld,\"rss_after_kib\":%ld,"
		    "\"bytes_per_conn\":%.0f}\n", o->idle, before, after,
		    (double)(after - before) * 1024 / o->idle);
		fclose(f);
	}
	for (i = 0; i < o->idle; i++)
		wal_conn_close(cs[i]);
	wal_conn_close(sc);
	free(cs);
	return (0);
}

/* Starts walld (argv) and times how long it takes to answer a ping;
   prints "pid=N ms=T". walld keeps running, its stdout sent to stderr. */
static int
cmd_startup(const struct bench_opts *o, char **argv)
{
	struct wal_conn	*c;
	struct timespec	 nap = { 0, 200000 };
	uint64_t	 t0, t1;
	pid_t		 pid;
	int		 st;

	t0 = bench_now();
	if ((pid = fork()) == -1)
		fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(2, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "walbench: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	for (;;) {
		if (wal_conn_open(&c, o->socket, 1000, NULL) == WAL_RESULT_OK) {
			if (wal_conn_ping(c) == WAL_RESULT_OK)
				break;
			wal_conn_close(c);
		}
		if (waitpid(pid, &st, WNOHANG) == pid)
			fatal("%s exited during start-up (status %d)", argv[0],
			    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		if (bench_now() - t0 > 300 * 1000000000ull) {
			kill(pid, SIGKILL);
			fatal("%s did not answer within 300 s", argv[0]);
		}
		nanosleep(&nap, NULL);
	}
	t1 = bench_now();
	wal_conn_close(c);
	printf("pid=%ld ms=%.2f\n", (long)pid, (double)(t1 - t0) / 1e6);
	return (0);
}

enum {
	OPT_TENANTS = 256, OPT_VSHARDS, OPT_ENCRYPT, OPT_PID, OPT_RESET_PEAK,
	OPT_HEADER, OPT_JSON, OPT_DIR, OPT_ACK, OPT_SYSTEM, OPT_IDEMPOTENT,
	OPT_TEST,
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "procs",	required_argument,	NULL, 'p' },
		{ "conns",	required_argument,	NULL, 'c' },
		{ "depth",	required_argument,	NULL, 'd' },
		{ "size",	required_argument,	NULL, 'S' },
		{ "time",	required_argument,	NULL, 't' },
		{ "warmup",	required_argument,	NULL, 'w' },
		{ "count",	required_argument,	NULL, 'n' },
		{ "label",	required_argument,	NULL, 'l' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "tenants",	required_argument,	NULL, OPT_TENANTS },
		{ "vshards",	required_argument,	NULL, OPT_VSHARDS },
		{ "encrypt",	required_argument,	NULL, OPT_ENCRYPT },
		{ "pid",	required_argument,	NULL, OPT_PID },
		{ "reset-peak",	no_argument,		NULL, OPT_RESET_PEAK },
		{ "header",	no_argument,		NULL, OPT_HEADER },
		{ "json",	required_argument,	NULL, OPT_JSON },
		{ "dir",	required_argument,	NULL, OPT_DIR },
		{ "ack",	required_argument,	NULL, OPT_ACK },
		{ "system",	required_argument,	NULL, OPT_SYSTEM },
		{ "idempotent",	no_argument,		NULL, OPT_IDEMPOTENT },
		{ "test",	required_argument,	NULL, OPT_TEST },
		{ NULL, 0, NULL, 0 }
	};
	struct bench_opts	 o;
	int			 socket_given = 0;
	const char		*cmd = "run";
	long			 n;
	int			 ch;

	memset(&o, 0, sizeof o);
	o.socket = getenv(WAL_SOCKET_ENV);
	o.procs = o.conns = o.depth = 1;
	o.min_size = o.max_size = 128;
	o.seconds = 5;
	o.warmup = 1;
	o.tenants = o.vshards = 1;
	o.label = NULL;
	if (argc > 1 && argv[1][0] != '-') {
		cmd = argv[1];
		argc--;
		argv++;
	}
	if (strcmp(cmd, "disk") == 0) {
		o.seconds = 4;
		o.disk_tests = DISK_TEST_ALL;
	}
	if (strcmp(cmd, "idle") == 0)
		o.idle = 1000;
	while ((ch = getopt_long(argc, argv, "s:p:c:d:S:t:w:n:l:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			o.socket = optarg;
			socket_given = 1;
			break;
		case 'p':
			o.procs = (int)parse_int("--procs", optarg, 1, MAX_PROCS);
			break;
		case 'c':
			o.conns = (int)parse_int("--conns", optarg, 1, MAX_CONNS);
			break;
		case 'd':
			o.depth = (int)parse_int("--depth", optarg, 1, MAX_DEPTH);
			break;
		case 'S':
			if (parse_range(optarg, &o.min_size, &o.max_size) == -1) {
				fprintf(stderr, "walbench: --size: want N or "
				    "MIN-MAX, not '%s'\n", optarg);
				return (EXIT_USAGE);
			}
			break;
		case 't':
			o.seconds = parse_secs("--time", optarg);
			break;
		case 'w':
			o.warmup = parse_secs("--warmup", optarg);
			break;
		case 'n':
			if (strcmp(cmd, "idle") == 0)
				o.idle = (int)parse_int("-n", optarg, 1, 1000000);
			else
				o.count = (uint64_t)parse_int("--count", optarg,
				    1, INT64_MAX);
			break;
		case 'l':
			o.label = optarg;
			break;
		case 'h':
			usage(stdout);
			return (0);
		case OPT_TENANTS:
			o.tenants = (uint32_t)parse_int("--tenants", optarg, 1,
			    UINT32_MAX);
			break;
		case OPT_VSHARDS:
			o.vshards = (uint32_t)parse_int("--vshards", optarg, 1,
			    UINT16_MAX + 1);
			break;
		case OPT_ENCRYPT:
			if (strcmp(optarg, "on") != 0 &&
			    strcmp(optarg, "off") != 0) {
				fprintf(stderr, "walbench: --encrypt: on or "
				    "off\n");
				return (EXIT_USAGE);
			}
			o.encrypt = optarg;
			break;
		case OPT_ACK:
			if (strcmp(optarg, "local") == 0)
				o.ack = WAL_ACK_LOCAL;
			else if (strcmp(optarg, "replicated") == 0)
				o.ack = WAL_ACK_REPLICATED;
			else {
				fprintf(stderr, "walbench: --ack: local or "
				    "replicated\n");
				return (EXIT_USAGE);
			}
			break;
		case OPT_PID:
			n = parse_int("--pid", optarg, 1, INT32_MAX);
			o.pid = (pid_t)n;
			break;
		case OPT_RESET_PEAK:
			o.reset_peak = 1;
			break;
		case OPT_HEADER:
			o.header = 1;
			break;
		case OPT_IDEMPOTENT:
			o.idempotent = 1;
			break;
		case OPT_JSON:
			o.json = optarg;
			break;
		case OPT_DIR:
			o.dir = optarg;
			break;
		case OPT_TEST:
			o.disk_tests = parse_disk_tests(optarg);
			break;
		case OPT_SYSTEM:
			for (n = 0; n < (long)(sizeof sys_names /
			    sizeof sys_names[0]); n++)
				if (strcmp(optarg, sys_names[n]) == 0)
					break;
			if (n == (long)(sizeof sys_names / sizeof sys_names[0])) {
				fprintf(stderr, "walbench: --system: walld, "
				    "redis, pg, sqlite or file, not '%s'\n",
				    optarg);
				return (EXIT_USAGE);
			}
			o.system = (enum bench_system)n;
			break;
		default:
			usage(stderr);
			return (EXIT_USAGE);
		}
	}
	if (optind != argc && strcmp(cmd, "startup") != 0) {
		usage(stderr);
		return (EXIT_USAGE);
	}
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(cmd, "header") == 0) {
		print_header();
		return (0);
	}
	if (strcmp(cmd, "disk") == 0) {
		if (o.dir == NULL) {
			fprintf(stderr, "walbench: disk: --dir DIR is needed\n");
			return (EXIT_USAGE);
		}
		return (cmd_disk(&o));
	}
	if (strcmp(cmd, "idle") == 0)
		return (cmd_idle(&o));
	if (strcmp(cmd, "null") == 0) {
		/* Never $WALLD_SOCKET: that is where walld is. */
		if (!socket_given) {
			fprintf(stderr, "walbench: null: -s SOCKET is needed\n");
			return (EXIT_USAGE);
		}
		return (null_serve(o.socket, o.dir) == 0 ? 0 : 1);
	}
	if (strcmp(cmd, "startup") == 0) {
		if (argv[optind] == NULL) {
			usage(stderr);
			return (EXIT_USAGE);
		}
		return (cmd_startup(&o, argv + optind));
	}
	if (strcmp(cmd, "run") != 0) {
		usage(stderr);
		return (EXIT_USAGE);
	}
	if ((long)o.procs * o.conns > MAX_CONNS) {
		fprintf(stderr, "walbench: at most %d connections in all\n",
		    MAX_CONNS);
		return (EXIT_USAGE);
	}
	if (o.label == NULL)
		o.label = sys_name(o.system);
	if (o.system != SYS_WALLD) {
		if (!socket_given) {
			fprintf(stderr, "walbench: --system %s: -s names it\n",
			    sys_name(o.system));
			return (EXIT_USAGE);
		}
		if (o.encrypt != NULL || o.ack != WAL_ACK_DEFAULT || o.tenants > 1 ||
		    o.vshards > 1 || o.idempotent) {
			fprintf(stderr, "walbench: --encrypt, --ack, --tenants, "
			    "--vshards and --idempotent are walld's\n");
			return (EXIT_USAGE);
		}
		if (o.system != SYS_REDIS && (o.conns != 1 || o.depth != 1)) {
			fprintf(stderr, "walbench: --system %s answers one "
			    "append at a time: -c 1 -d 1\n", sys_name(o.system));
			return (EXIT_USAGE);
		}
		if (!peer_built(o.system)) {
			fprintf(stderr, "walbench: built without %s: make bench "
			    "installs it (tools/bench-deps.sh) and rebuilds\n",
			    o.system == SYS_PG ? "libpq" : "SQLite");
			return (1);
		}
	}
	if (o.count == 0 && o.seconds <= 0) {
		fprintf(stderr, "walbench: --time must be above 0\n");
		return (EXIT_USAGE);
	}
	raise_nofile();
	return (cmd_run(&o));
}
