/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsdump.c: a TEST TOOL, not part of walld. It looks into a NATS JetStream
 * stream for the replication tests (docs/REPLICATION.md) and drives the
 * three-node test cluster of tests/helpers/nats-cluster.sh. Links libnats.
 *
 * usage: jsdump [--urls URLS] [--stream NAME] [--timeout MS] COMMAND [...]
 *   info	 the stream's state, one "key value" line each: messages, bytes,
 *		 first_seq, last_seq, replicas (configured), cluster, leader
 *		 (- when none), current (the leader and the followers that are
 *		 current).
 *   dump	 every message in sequence order, one line each:
 *		   seq N subject S lsn L id I len N sha H
 *		 L and I are the Walld-Lsn and Nats-Msg-Id headers, - when absent;
 *		 H is the data's 64-bit FNV-1a as 16 hex digits. A sequence number
 *		 with no message (deleted) prints "seq N deleted". One request
 *		 per message: for test-sized streams. Fails when the stream's
 *		 info names no leader (see below). With --first K, from sequence
 *		 K on (not the stream's first); with --count N, N at most.
 *   last	 the stream's last message, as a line of dump ("empty" when the
 *		 stream has none). Fails when the info names no leader.
 *   wait-leader waits up to --timeout until JetStream answers an account
 *		 info request (a meta leader is elected): exit 0, else 1.
 *   ping	 waits up to --timeout until a server answers (connect, flush).
 *   create --subjects S[,S...] [--replicas N] [--max-bytes B]
 *	   [--duplicates MS]
 *		 creates the stream, file storage, N replicas (default 1); with
 *		 --max-bytes, at most B bytes, the oldest messages discarded; a
 *		 de-duplication window of MS milliseconds (default: the
 *		 server's, 2 minutes).
 *   publish --subject S --count N [--first K] [--size B] [--id-prefix P]
 *		 publishes messages K..K+N-1 (K defaults to 1) one at a time,
 *		 each waiting for its acknowledgement up to --timeout, with the
 *		 headers Nats-Msg-Id "P-i" (P defaults to jsdump) and Walld-Lsn
 *		 "i", B bytes of data each (default 32); prints "id P-i seq S"
 *		 per message (" duplicate" appended when JetStream de-duplicated
 *		 it). Stops at the first failure, saying after how many ms.
 *   pubbench --subject S --count N [--size B] [--time SECS] [--warmup K]
 *		 the round trip of one JetStream publish alone: publishes K
 *		 messages unmeasured (default 10), then up to N more, ONE AT A
 *		 TIME, each waiting for its acknowledgement (js_PublishMsg), for
 *		 at most SECS seconds when --time is given. Each message is what
 *		 walld sends for a record, less most of the headers: B bytes of
 *		 data (default 32), a Nats-Msg-Id ("P-i") and the expected-last-
 *		 id check naming the message before it. Publish into a stream of
 *		 its own (made with create), never walld's. With --stream, each
 *		 acknowledgement must come from that stream. Prints "key value"
 *		 lines: count, size, seconds, per_s, p50_us, p90_us, p99_us,
 *		 mean_us, min_us, max_us (each publish's round trip, exact
 *		 nearest-rank quantiles), and cpu_s (jsdump's own CPU, every
 *		 thread, over the measured publishes). --leader NAME (needs
 *		 --stream): first make server NAME the stream's leader, by
 *		 asking the leader to step down (10 times at most), so that
 *		 the round trip takes the same path as another stream's.
 *		 --async: still one message at a time, but the way walld's
 *		 replicator sends: js_PublishMsgAsync, the round trip ending
 *		 when the ack handler runs (libnats then writes through its
 *		 flusher thread, not at once as for a request). --send-asap:
 *		 the connection's SendAsap option (every publish written at
 *		 once). --window W (implies --async): W messages in flight,
 *		 as walld's replicator keeps up to publish_window: the round
 *		 trips are each message's publish to its ack, and per_s the
 *		 stream's throughput (acks from the first measured publish to
 *		 the last ack); the warm-up publishes are not counted.
 *   free-ports N prints N distinct free TCP ports of 127.0.0.1, one a line:
 *		 the kernel's choice, all bound at once, then released.
 * URLS: comma-separated nats:// URLs (default nats://127.0.0.1:4222).
 * --timeout MS (default 5000): the connect timeout and the wait of each
 * request; for wait-leader and ping the whole wait.
 * Exit: 0 done; 1 a NATS or system failure, said on stderr; 2 usage.
 *
 * Beware (nats-server 2.9.10): for a moment after it restarts, a replica
 * that is behind and has not heard from the stream's leader yet may answer
 * a stream info request with its own state and leader "-", and the first
 * answer is the one taken. Wait for "leader" and "current" before trusting
 * the counts.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

/* The header names of docs/REPLICATION.md, written here again on purpose:
 * a test tool that shared walld's constants would not notice them change. */
#define H_MSG_ID	"Nats-Msg-Id"
#define H_LSN		"Walld-Lsn"

#define MAX_URLS	16
#define MAX_SUBJECTS	16
#define MAX_PORTS	64
#define MAX_DATA	(64 * 1024 * 1024)
#define MAX_BENCH	10000000	/* pubbench: round trips kept, at most */

struct opts {
	const char		*urls;
	const char		*stream;
	const char		*subjects;
	const char		*subject;
	const char		*id_prefix;
	int			 first_set;	/* --first given */
	int64_t			 timeout_ms;
	long			 replicas;
	int64_t			 duplicates_ms;	/* 0: the server's default */
	unsigned long long	 count;
	unsigned long long	 first;
	unsigned long long	 warmup;
	int64_t			 time_ms;	/* pubbench: 0 for no limit */
	const char		*leader;	/* pubbench: wanted leader */
	int			 async;		/* pubbench --async */
	int			 send_asap;	/* pubbench --send-asap */
	unsigned long long	 window;	/* pubbench --window */
	int64_t			 max_bytes;	/* create --max-bytes */
	size_t			 size;
};

struct conn {
	natsConnection	*nc;
	jsCtx		*js;
	/* pubbench --async: what the ack handler saw of the last message. */
	int64_t		 ack_ns;	/* when it ran; 0: not yet */
	int		 ack_ok;
	char		 ack_err[200];
	/* pubbench --window: send times by message number & mask, the
	   round trips of the measured messages (those above warm), and
	   whether any message failed (ack_err then says why). */
	int64_t		*sent;
	uint64_t	 mask;
	unsigned long long warm;
	int64_t		*rtt;
	unsigned long long nrtt, cap;
	int64_t		 last_ack_ns;
	int		 failed;
};

static void __attribute__((noreturn))
usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "jsdump: %s\n", why);
	fprintf(stderr,
	    "usage: jsdump [--urls URLS] [--stream NAME] [--timeout MS] COMMAND\n"
	    "  info | dump [--first K] [--count N] | last | wait-leader | ping\n"
	    "  create --subjects S[,S...] [--replicas N] [--max-bytes B]\n"
	    "    [--duplicates MS]\n"
	    "  publish --subject S --count N [--first K] [--size B] [--id-prefix P]\n"
	    "  pubbench --subject S --count N [--size B] [--time SECS] [--warmup K]\n"
	    "    [--leader NAME] [--async] [--send-asap] [--window W]\n"
	    "  free-ports N\n");
	exit(2);
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1) {
		perror("jsdump: clock_gettime");
		exit(1);
	}
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
sleep_ms(int64_t ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Says what failed, with the library's last error text when it adds to
 * the status's (less its "(file.c:line): " prefix). */
static int
nats_fail(const char *what, natsStatus s, jsErrCode jerr)
{
	const char	*last = nats_GetLastError(NULL), *p;

	fprintf(stderr, "jsdump: %s: %s", what, natsStatus_GetText(s));
	if (jerr != 0)
		fprintf(stderr, " (JetStream error %d)", (int)jerr);
	if (last != NULL && *last == '(' && (p = strstr(last, "): ")) != NULL)
		last = p + 3;
	if (last != NULL && *last != '\0' &&
	    strcmp(last, natsStatus_GetText(s)) != 0)
		fprintf(stderr, ": %s", last);
	fputc('\n', stderr);
	return (-1);
}

static unsigned long long
parse_num(const char *s, const char *what, unsigned long long max)
{
	unsigned long long	 v;
	char			*end;

	errno = 0;
	if (*s < '0' || *s > '9')
		usage(what);
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		usage(what);
	return (v);
}

/* Splits a comma-separated list in place into at most max pieces. */
static int
split_list(char *s, const char **out, int max)
{
	char	*save = NULL, *tok;
	int	 n = 0;

	for (tok = strtok_r(s, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (n == max)
			return (-1);
		out[n++] = tok;
	}
	return (n);
}

static int64_t now_ns(void);

/* pubbench --async: the ack handler (libnats's thread). */
static void
async_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
    void *arg)
{
	struct conn	*c = arg;

	(void)js;
	if (pae != NULL)
		snprintf(c->ack_err, sizeof(c->ack_err), "%s%s%s",
		    natsStatus_GetText(pae->Err), pae->ErrText != NULL ?
		    ": " : "", pae->ErrText != NULL ? pae->ErrText : "");
	else if (pa == NULL)
		snprintf(c->ack_err, sizeof(c->ack_err), "no acknowledgement");
	else if (pa->Duplicate)
		snprintf(c->ack_err, sizeof(c->ack_err), "taken as a duplicate "
		    "(not stored)");
	__atomic_store_n(&c->ack_ok, pae == NULL && pa != NULL &&
	    !pa->Duplicate, __ATOMIC_RELAXED);
	__atomic_store_n(&c->ack_ns, now_ns(), __ATOMIC_RELEASE);
	natsMsg_Destroy(msg);
}

/* pubbench --window: the ack handler. Messages are told apart by the
   number that ends their Nats-Msg-Id. */
static void
window_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
    void *arg)
{
	struct conn		*c = arg;
	const char		*id = NULL, *p;
	unsigned long long	 i;
	int64_t			 now = now_ns();

	(void)js;
	if (pae != NULL || pa == NULL || pa->Duplicate ||
	    natsMsgHeader_Get(msg, H_MSG_ID, &id) != NATS_OK || id == NULL ||
	    (p = strrchr(id, '-')) == NULL) {
		if (!c->failed)
			snprintf(c->ack_err, sizeof(c->ack_err), "%s: %s%s%s",
			    id != NULL ? id : "a message", pae != NULL ?
			    natsStatus_GetText(pae->Err) : pa == NULL ?
			    "no acknowledgement" : pa->Duplicate ?
			    "taken as a duplicate" : "no id", pae != NULL &&
			    pae->ErrText != NULL ? ": " : "", pae != NULL &&
			    pae->ErrText != NULL ? pae->ErrText : "");
		__atomic_store_n(&c->failed, 1, __ATOMIC_RELEASE);
		natsMsg_Destroy(msg);
		return;
	}
	i = strtoull(p + 1, NULL, 10);
	if (i > c->warm && c->nrtt < c->cap) {
		c->rtt[c->nrtt++] = now - c->sent[i & c->mask];
		c->last_ack_ns = now;
	}
	natsMsg_Destroy(msg);
}

/* Connects to the servers of o->urls, connect timeout timeout_ms; quiet:
 * a failure to connect is not said. */
static int
conn_open(struct conn *c, const struct opts *o, int64_t timeout_ms, int quiet)
{
	natsOptions	*no = NULL;
	natsStatus	 s;
	jsOptions	 jo;
	const char	*urls[MAX_URLS];
	char		*copy;
	int		 n;

	memset(c, 0, sizeof(*c));
	if ((copy = strdup(o->urls)) == NULL) {
		perror("jsdump: strdup");
		return (-1);
	}
	if ((n = split_list(copy, urls, MAX_URLS)) <= 0) {
		free(copy);
		usage("--urls: 1 to 16 comma-separated URLs");
	}
	s = natsOptions_Create(&no);
	if (s == NATS_OK)
		s = natsOptions_SetServers(no, urls, n);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(no, timeout_ms);
	if (s == NATS_OK)
		s = natsOptions_SetName(no, "jsdump");
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(no, 100);
	if (s == NATS_OK && o->send_asap)
		s = natsOptions_SetSendAsap(no, true);
	free(copy);
	if (s != NATS_OK) {
		natsOptions_Destroy(no);
		return (nats_fail("options", s, 0));
	}
	s = natsConnection_Connect(&c->nc, no);
	natsOptions_Destroy(no);
	if (s != NATS_OK) {
		c->nc = NULL;
		return (quiet ? -1 : nats_fail(o->urls, s, 0));
	}
	s = jsOptions_Init(&jo);
	if (s == NATS_OK) {
		jo.Wait = o->timeout_ms;
		if (o->window > 1) {
			jo.PublishAsync.AckHandler = window_ack;
			jo.PublishAsync.AckHandlerClosure = c;
			jo.PublishAsync.MaxPending = (int64_t)o->window;
			jo.PublishAsync.StallWait = o->timeout_ms;
		} else if (o->async) {
			jo.PublishAsync.AckHandler = async_ack;
			jo.PublishAsync.AckHandlerClosure = c;
		}
		s = natsConnection_JetStream(&c->js, c->nc, &jo);
	}
	if (s != NATS_OK) {
		natsConnection_Destroy(c->nc);
		c->nc = NULL;
		return (nats_fail("JetStream context", s, 0));
	}
	return (0);
}

static void
conn_close(struct conn *c)
{
	if (c->js != NULL)
		jsCtx_Destroy(c->js);
	if (c->nc != NULL)
		natsConnection_Destroy(c->nc);
	c->js = NULL;
	c->nc = NULL;
}

static int
cmd_info(struct conn *c, const struct opts *o)
{
	jsStreamInfo	*si = NULL;
	jsClusterInfo	*ci;
	jsErrCode	 jerr = 0;
	natsStatus	 s;
	const char	*leader = "-";
	int		 current = 0, i;

	if ((s = js_GetStreamInfo(&si, c->js, o->stream, NULL, &jerr)) !=
	    NATS_OK)
		return (nats_fail(o->stream, s, jerr));
	ci = si->Cluster;
	if (ci != NULL && ci->Leader != NULL && *ci->Leader != '\0') {
		leader = ci->Leader;
		current = 1;
		for (i = 0; i < ci->ReplicasLen; i++)
			if (ci->Replicas[i]->Current && !ci->Replicas[i]->Offline)
				current++;
	}
	printf("messages %" PRIu64 "\n", si->State.Msgs);
	printf("bytes %" PRIu64 "\n", si->State.Bytes);
	printf("first_seq %" PRIu64 "\n", si->State.FirstSeq);
	printf("last_seq %" PRIu64 "\n", si->State.LastSeq);
	printf("replicas %" PRId64 "\n", si->Config->Replicas);
	printf("cluster %s\n", ci != NULL && ci->Name != NULL ? ci->Name : "-");
	printf("leader %s\n", leader);
	printf("current %d\n", current);
	jsStreamInfo_Destroy(si);
	return (0);
}

/* 64-bit FNV-1a. */
static uint64_t
fnv1a(const void *p, size_t n)
{
	const unsigned char	*b = p;
	uint64_t		 h = 14695981039346656037ULL;

	while (n-- > 0) {
		h ^= *b++;
		h *= 1099511628211ULL;
	}
	return (h);
}

/* Prints s with every byte that is not printable ASCII as '?', so that a
 * line always splits into its fields. */
static void
print_token(const char *s)
{
	for (; *s != '\0'; s++)
		putchar(*s > ' ' && *s < 0x7f ? *s : '?');
}

/* A header's value, or NULL when the message has none. */
static int
header(natsMsg *m, const char *key, const char **val)
{
	natsStatus	s;

	s = natsMsgHeader_Get(m, key, val);
	if (s == NATS_NOT_FOUND) {
		*val = NULL;
		return (0);
	}
	if (s != NATS_OK)
		return (nats_fail(key, s, 0));
	return (0);
}

/* The stream's info, refused when it names no leader: it came from a
 * replica that may be behind. */
static int
led_info(struct conn *c, const struct opts *o, jsStreamInfo **si)
{
	jsErrCode	 jerr = 0;
	natsStatus	 s;

	*si = NULL;
	if ((s = js_GetStreamInfo(si, c->js, o->stream, NULL, &jerr)) !=
	    NATS_OK)
		return (nats_fail(o->stream, s, jerr));
	if ((*si)->Cluster != NULL &&
	    ((*si)->Cluster->Leader == NULL || *(*si)->Cluster->Leader == '\0')) {
		jsStreamInfo_Destroy(*si);
		*si = NULL;
		fprintf(stderr, "jsdump: %s: the stream info came without a "
		    "leader: from a replica that may be behind\n", o->stream);
		return (-1);
	}
	return (0);
}

/* Prints the dump line of sequence seq. */
static int
dump_one(struct conn *c, const struct opts *o, uint64_t seq)
{
	natsMsg		*m = NULL;
	jsErrCode	 jerr = 0;
	natsStatus	 s;
	const char	*lsn, *id;
	char		 what[64];

	s = js_GetMsg(&m, c->js, o->stream, seq, NULL, &jerr);
	if (s == NATS_NOT_FOUND) {
		printf("seq %" PRIu64 " deleted\n", seq);
		return (0);
	}
	if (s != NATS_OK) {
		snprintf(what, sizeof(what), "get message %" PRIu64, seq);
		return (nats_fail(what, s, jerr));
	}
	if (header(m, H_LSN, &lsn) == -1 || header(m, H_MSG_ID, &id) == -1) {
		natsMsg_Destroy(m);
		return (-1);
	}
	printf("seq %" PRIu64 " subject ", seq);
	print_token(natsMsg_GetSubject(m));
	fputs(" lsn ", stdout);
	print_token(lsn != NULL ? lsn : "-");
	fputs(" id ", stdout);
	print_token(id != NULL ? id : "-");
	printf(" len %d sha %016" PRIx64 "\n", natsMsg_GetDataLength(m),
	    fnv1a(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m)));
	natsMsg_Destroy(m);
	return (0);
}

static int
cmd_dump(struct conn *c, const struct opts *o)
{
	jsStreamInfo		*si;
	uint64_t		 seq, first, last, msgs;
	unsigned long long	 n = 0;

	if (led_info(c, o, &si) == -1)
		return (-1);
	first = si->State.FirstSeq;
	last = si->State.LastSeq;
	msgs = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	if (o->first_set && o->first > first)
		first = o->first;
	for (seq = first; msgs > 0 && seq <= last; seq++) {
		if (o->count > 0 && n++ == o->count)
			break;
		if (dump_one(c, o, seq) == -1)
			return (-1);
	}
	return (0);
}

static int
cmd_last(struct conn *c, const struct opts *o)
{
	jsStreamInfo	*si;
	uint64_t	 last, msgs;

	if (led_info(c, o, &si) == -1)
		return (-1);
	last = si->State.LastSeq;
	msgs = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	if (msgs == 0) {
		puts("empty");
		return (0);
	}
	return (dump_one(c, o, last));
}

/* Retries until the deadline: connecting, then an account info request
 * (answered once the cluster has a meta leader) or, for ping, a flush. */
static int
cmd_wait(const struct opts *o, int leader)
{
	struct conn	 c;
	jsAccountInfo	*ai;
	jsOptions	 jo;
	jsErrCode	 jerr;
	natsStatus	 s = NATS_TIMEOUT;
	int64_t		 start = now_ms(), left;

	memset(&c, 0, sizeof(c));
	while ((left = start + o->timeout_ms - now_ms()) > 0) {
		if (left > 1000)
			left = 1000;
		if (c.nc == NULL) {
			/* Connection refused is the normal case while the
			 * servers start: not said. */
			if (conn_open(&c, o, left, 1) == -1) {
				sleep_ms(100);
				continue;
			}
		}
		if (!leader) {
			if ((s = natsConnection_FlushTimeout(c.nc, left)) ==
			    NATS_OK)
				break;
		} else {
			ai = NULL;
			jerr = 0;
			if ((s = jsOptions_Init(&jo)) == NATS_OK) {
				jo.Wait = left;
				s = js_GetAccountInfo(&ai, c.js, &jo, &jerr);
			}
			if (s == NATS_OK) {
				jsAccountInfo_Destroy(ai);
				break;
			}
		}
		sleep_ms(100);
	}
	if (s != NATS_OK || c.nc == NULL) {
		if (c.nc == NULL)
			fprintf(stderr, "jsdump: %s: no server answered in %"
			    PRId64 " ms\n", o->urls, o->timeout_ms);
		else
			nats_fail(leader ? "account info (JetStream meta "
			    "leader)" : "flush", s, 0);
		conn_close(&c);
		return (-1);
	}
	printf("%s after %" PRId64 " ms\n", leader ? "leader" : "answered",
	    now_ms() - start);
	conn_close(&c);
	return (0);
}

static int
cmd_create(struct conn *c, const struct opts *o)
{
	jsStreamConfig	 cfg;
	jsStreamInfo	*si = NULL;
	jsErrCode	 jerr = 0;
	natsStatus	 s;
	const char	*subjects[MAX_SUBJECTS];
	char		*copy;
	int		 n;

	if (o->subjects == NULL)
		usage("create: --subjects is required");
	if ((copy = strdup(o->subjects)) == NULL) {
		perror("jsdump: strdup");
		return (-1);
	}
	if ((n = split_list(copy, subjects, MAX_SUBJECTS)) <= 0) {
		free(copy);
		usage("--subjects: 1 to 16 comma-separated subjects");
	}
	if ((s = jsStreamConfig_Init(&cfg)) != NATS_OK) {
		free(copy);
		return (nats_fail("stream configuration", s, 0));
	}
	cfg.Name = o->stream;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = n;
	cfg.Replicas = o->replicas;
	cfg.Storage = js_FileStorage;
	if (o->max_bytes > 0) {
		cfg.MaxBytes = o->max_bytes;
		cfg.Discard = js_DiscardOld;
	}
	cfg.Duplicates = o->duplicates_ms * 1000000;
	s = js_AddStream(&si, c->js, &cfg, NULL, &jerr);
	free(copy);
	if (s != NATS_OK)
		return (nats_fail(o->stream, s, jerr));
	printf("created %s replicas %" PRId64 "\n", o->stream,
	    si->Config->Replicas);
	jsStreamInfo_Destroy(si);
	return (0);
}

/* Fills the data of message i: a pattern that differs per message. */
static void
fill(char *buf, size_t size, unsigned long long i)
{
	size_t	j;

	for (j = 0; j < size; j++)
		buf[j] = (char)('a' + (i + j) % 26);
}

static int
cmd_publish(struct conn *c, const struct opts *o)
{
	jsPubOptions	 po;
	jsPubAck	*ack;
	jsErrCode	 jerr;
	natsMsg		*m;
	natsStatus	 s;
	unsigned long long i;
	int64_t		 t0;
	char		*buf, id[256], lsn[32], what[320];
	int		 rc = 0;

	if (o->subject == NULL || o->count == 0)
		usage("publish: --subject and --count are required");
	if (o->first > UINT64_MAX - o->count)
		usage("publish: --first + --count is too large");
	if ((buf = malloc(o->size > 0 ? o->size : 1)) == NULL) {
		perror("jsdump: malloc");
		return (-1);
	}
	for (i = o->first; i < o->first + o->count; i++) {
		snprintf(id, sizeof(id), "%s-%llu", o->id_prefix, i);
		snprintf(lsn, sizeof(lsn), "%llu", i);
		fill(buf, o->size, i);
		m = NULL;
		s = natsMsg_Create(&m, o->subject, NULL, buf, (int)o->size);
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, H_MSG_ID, id);
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, H_LSN, lsn);
		if (s == NATS_OK)
			s = jsPubOptions_Init(&po);
		if (s != NATS_OK) {
			natsMsg_Destroy(m);
			rc = nats_fail("message", s, 0);
			break;
		}
		po.MaxWait = o->timeout_ms;
		ack = NULL;
		jerr = 0;
		t0 = now_ms();
		s = js_PublishMsg(&ack, c->js, m, &po, &jerr);
		natsMsg_Destroy(m);
		if (s != NATS_OK) {
			snprintf(what, sizeof(what), "publish %s: failed after %"
			    PRId64 " ms", id, now_ms() - t0);
			rc = nats_fail(what, s, jerr);
			break;
		}
		printf("id %s seq %" PRIu64 "%s\n", id, ack->Sequence,
		    ack->Duplicate ? " duplicate" : "");
		jsPubAck_Destroy(ack);
		if (fflush(stdout) == EOF) {
			perror("jsdump: stdout");
			rc = -1;
			break;
		}
	}
	free(buf);
	return (rc);
}

/* Nanoseconds on the monotonic clock. */
static int64_t
now_ns(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1) {
		perror("jsdump: clock_gettime");
		exit(1);
	}
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/* This process's CPU time so far, every thread (libnats has its own). */
static double
cpu_seconds(void)
{
	struct rusage	ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1) {
		perror("jsdump: getrusage");
		return (-1);
	}
	return ((double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x < y ? -1 : x > y);
}

/* The nearest-rank q-quantile of n sorted samples (n > 0), in µs. */
static double
quantile_us(const int64_t *v, size_t n, double q)
{
	size_t	k = (size_t)(q * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return ((double)v[k - 1] / 1e3);
}

/*
 * One publish of message i of the run, waiting for its acknowledgement:
 * header Nats-Msg-Id "<run>-i", expecting prev (when not empty) as the
 * stream's last id, as walld's replicator does; then i's id is in prev.
 * Its round trip (js_PublishMsg alone) in *rtt_ns.
 */
static int
pub_one(struct conn *c, const struct opts *o, const char *run, char *buf,
    unsigned long long i, char *prev, size_t prevlen, int64_t *rtt_ns)
{
	jsPubOptions	 po;
	jsPubAck	*ack = NULL;
	jsErrCode	 jerr = 0;
	natsMsg		*m = NULL;
	natsStatus	 s;
	int64_t		 t0, t1;
	char		 id[320], what[400];

	snprintf(id, sizeof(id), "%s-%llu", run, i);
	fill(buf, o->size, i);
	s = natsMsg_Create(&m, o->subject, NULL, buf, (int)o->size);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, H_MSG_ID, id);
	if (s == NATS_OK)
		s = jsPubOptions_Init(&po);
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		return (nats_fail("message", s, 0));
	}
	po.MaxWait = o->timeout_ms;
	po.ExpectLastMsgId = prev[0] != '\0' ? prev : NULL;
	po.ExpectStream = o->stream;
	if (o->async) {
		__atomic_store_n(&c->ack_ns, 0, __ATOMIC_RELAXED);
		c->ack_ok = 0;
		c->ack_err[0] = '\0';
		t0 = now_ns();
		s = js_PublishMsgAsync(c->js, &m, &po);
		if (s == NATS_OK)
			s = js_PublishAsyncComplete(c->js, &po);
		t1 = __atomic_load_n(&c->ack_ns, __ATOMIC_ACQUIRE);
		*rtt_ns = (t1 != 0 ? t1 : now_ns()) - t0;
		natsMsg_Destroy(m);	/* only if not taken */
		if (s != NATS_OK) {
			snprintf(what, sizeof(what), "publish %s: failed after "
			    "%.1f ms", id, (double)*rtt_ns / 1e6);
			return (nats_fail(what, s, 0));
		}
		if (!__atomic_load_n(&c->ack_ok, __ATOMIC_RELAXED)) {
			fprintf(stderr, "jsdump: publish %s: %s\n", id,
			    c->ack_err[0] != '\0' ? c->ack_err : "failed");
			return (-1);
		}
		snprintf(prev, prevlen, "%s", id);
		return (0);
	}
	t0 = now_ns();
	s = js_PublishMsg(&ack, c->js, m, &po, &jerr);
	*rtt_ns = now_ns() - t0;
	natsMsg_Destroy(m);
	if (s != NATS_OK) {
		snprintf(what, sizeof(what), "publish %s: failed after %.1f ms",
		    id, (double)*rtt_ns / 1e6);
		return (nats_fail(what, s, jerr));
	}
	if (ack->Duplicate) {
		fprintf(stderr, "jsdump: publish %s: taken as a duplicate "
		    "(not stored): not a round trip to measure\n", id);
		jsPubAck_Destroy(ack);
		return (-1);
	}
	jsPubAck_Destroy(ack);
	snprintf(prev, prevlen, "%s", id);
	return (0);
}

/* The stream's leader, waiting up to --timeout for one that is not
   `not` (NULL: any); into name. While an election goes on, the info
   request may go unanswered: asked again, 1 s each. 0, or -1 (said). */
static int
stream_leader(struct conn *c, const struct opts *o, const char *not,
    char *name, size_t len)
{
	jsStreamInfo	*si;
	jsOptions	 jo;
	jsErrCode	 jerr;
	natsStatus	 s;
	int64_t		 end = now_ms() + o->timeout_ms, left;
	const char	*l;

	while ((left = end - now_ms()) > 0) {
		si = NULL;
		jerr = 0;
		if ((s = jsOptions_Init(&jo)) != NATS_OK)
			return (nats_fail("JetStream options", s, 0));
		jo.Wait = left < 1000 ? left : 1000;
		s = js_GetStreamInfo(&si, c->js, o->stream, &jo, &jerr);
		if (s != NATS_OK && s != NATS_TIMEOUT)
			return (nats_fail(o->stream, s, jerr));
		l = s == NATS_OK && si->Cluster != NULL ?
		    si->Cluster->Leader : NULL;
		if (l != NULL && *l != '\0' && (not == NULL ||
		    strcmp(l, not) != 0)) {
			snprintf(name, len, "%s", l);
			jsStreamInfo_Destroy(si);
			return (0);
		}
		jsStreamInfo_Destroy(si);
		sleep_ms(100);
	}
	fprintf(stderr, "jsdump: %s: no %sleader within %" PRId64 " ms\n",
	    o->stream, not != NULL ? "new " : "", o->timeout_ms);
	return (-1);
}

/* Makes o->leader the stream's leader: the leader steps down until the
   election lands there, 10 times at most. 0, or -1 (said). */
static int
lead_by(struct conn *c, const struct opts *o)
{
	natsMsg		*reply;
	natsStatus	 s;
	char		 leader[256], subj[320];
	const char	*data;
	int		 i;

	if (stream_leader(c, o, NULL, leader, sizeof(leader)) == -1)
		return (-1);
	snprintf(subj, sizeof(subj), "$JS.API.STREAM.LEADER.STEPDOWN.%s",
	    o->stream);
	for (i = 0; i < 10 && strcmp(leader, o->leader) != 0; i++) {
		reply = NULL;
		s = natsConnection_Request(&reply, c->nc, subj, NULL, 0,
		    o->timeout_ms);
		if (s != NATS_OK)
			return (nats_fail("leader step-down", s, 0));
		data = natsMsg_GetData(reply);
		if (data == NULL || strstr(data, "\"success\":true") == NULL) {
			fprintf(stderr, "jsdump: %s: leader step-down refused: "
			    "%.*s\n", o->stream, natsMsg_GetDataLength(reply),
			    data != NULL ? data : "");
			natsMsg_Destroy(reply);
			return (-1);
		}
		natsMsg_Destroy(reply);
		if (stream_leader(c, o, leader, leader, sizeof(leader)) == -1)
			return (-1);
	}
	if (strcmp(leader, o->leader) != 0) {
		fprintf(stderr, "jsdump: %s: the leader is still %s, not %s, "
		    "after %d step-downs\n", o->stream, leader, o->leader, i);
		return (-1);
	}
	return (0);
}

/* One message of a windowed run: message i, published asynchronously
   (stalling while W are in flight) after the one in prev. */
static int
pub_window_one(struct conn *c, const struct opts *o, const char *run,
    char *buf, unsigned long long i, char *prev, size_t prevlen)
{
	jsPubOptions	 po;
	natsMsg		*m = NULL;
	natsStatus	 s;
	char		 id[320], what[400];

	snprintf(id, sizeof(id), "%s-%llu", run, i);
	fill(buf, o->size, i);
	s = natsMsg_Create(&m, o->subject, NULL, buf, (int)o->size);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, H_MSG_ID, id);
	if (s == NATS_OK)
		s = jsPubOptions_Init(&po);
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		return (nats_fail("message", s, 0));
	}
	po.ExpectLastMsgId = prev[0] != '\0' ? prev : NULL;
	po.ExpectStream = o->stream;
	c->sent[i & c->mask] = now_ns();
	s = js_PublishMsgAsync(c->js, &m, &po);
	natsMsg_Destroy(m);	/* only if not taken */
	if (s != NATS_OK) {
		snprintf(what, sizeof(what), "publish %s", id);
		return (nats_fail(what, s, 0));
	}
	snprintf(prev, prevlen, "%s", id);
	return (0);
}

/* pubbench --window: K warm-up messages, then up to N more (until
   --time), W in flight; waits for every ack at the end. */
static int
cmd_pubwindow(struct conn *c, const struct opts *o, const char *run,
    char *buf)
{
	jsPubOptions	 po;
	natsStatus	 s;
	unsigned long long i, n;
	uint64_t	 slots;
	int64_t		 t0, end, sum = 0;
	double		 cpu0, cpu1, secs;
	char		 prev[320] = "";
	int		 rc = 0;

	for (slots = 1; slots < o->window + 1; slots <<= 1)
		;
	if ((c->sent = calloc(slots, sizeof(*c->sent))) == NULL ||
	    (c->rtt = calloc(o->count, sizeof(*c->rtt))) == NULL) {
		perror("jsdump: malloc");
		return (-1);
	}
	c->mask = slots - 1;
	c->warm = o->warmup;
	c->cap = o->count;
	for (i = 1; i <= o->warmup && rc == 0; i++)
		rc = pub_window_one(c, o, run, buf, i, prev, sizeof(prev));
	if (rc == 0 && (s = jsPubOptions_Init(&po)) == NATS_OK) {
		po.MaxWait = o->timeout_ms;
		if ((s = js_PublishAsyncComplete(c->js, &po)) != NATS_OK)
			rc = nats_fail("warm-up acknowledgements", s, 0);
	}
	cpu0 = cpu_seconds();
	t0 = now_ns();
	end = o->time_ms > 0 ? t0 + o->time_ms * 1000000 : INT64_MAX;
	for (n = 0; rc == 0 && n < o->count && now_ns() < end &&
	    !__atomic_load_n(&c->failed, __ATOMIC_ACQUIRE); n++)
		rc = pub_window_one(c, o, run, buf, o->warmup + n + 1, prev,
		    sizeof(prev));
	if ((s = jsPubOptions_Init(&po)) == NATS_OK) {
		po.MaxWait = o->timeout_ms;
		s = js_PublishAsyncComplete(c->js, &po);
	}
	if (rc == 0 && s != NATS_OK)
		rc = nats_fail("waiting for the acknowledgements", s, 0);
	cpu1 = cpu_seconds();
	if (__atomic_load_n(&c->failed, __ATOMIC_ACQUIRE)) {
		fprintf(stderr, "jsdump: publish %s\n", c->ack_err);
		rc = -1;
	}
	if (rc == 0 && c->nrtt == 0) {
		fprintf(stderr, "jsdump: pubbench: no publish measured\n");
		rc = -1;
	}
	if (rc == 0) {
		qsort(c->rtt, c->nrtt, sizeof(*c->rtt), cmp_i64);
		for (i = 0; i < c->nrtt; i++)
			sum += c->rtt[i];
		secs = (double)(c->last_ack_ns - t0) / 1e9;
		printf("count %llu\n", c->nrtt);
		printf("size %zu\n", o->size);
		printf("window %llu\n", o->window);
		printf("seconds %.3f\n", secs);
		printf("per_s %.1f\n", (double)c->nrtt / secs);
		printf("p50_us %.1f\n", quantile_us(c->rtt, c->nrtt, 0.5));
		printf("p90_us %.1f\n", quantile_us(c->rtt, c->nrtt, 0.9));
		printf("p99_us %.1f\n", quantile_us(c->rtt, c->nrtt, 0.99));
		printf("mean_us %.1f\n", (double)sum / (double)c->nrtt / 1e3);
		printf("min_us %.1f\n", (double)c->rtt[0] / 1e3);
		printf("max_us %.1f\n", (double)c->rtt[c->nrtt - 1] / 1e3);
		if (cpu0 >= 0 && cpu1 >= 0)
			printf("cpu_s %.3f\n", cpu1 - cpu0);
	}
	return (rc);
}

/*
 * pubbench: K unmeasured publishes, then up to N measured (until --time),
 * each alone. The ids are unique to the run (pid and start time), so that
 * JetStream's de-duplication window never takes one run's for another's.
 */
static int
cmd_pubbench(struct conn *c, const struct opts *o)
{
	unsigned long long i, n = 0;
	int64_t		*rtt, end, t0, t1, sum = 0;
	double		 cpu0, cpu1, secs;
	char		*buf, run[256], prev[320] = "";
	int		 rc = 0;

	if (o->subject == NULL || o->count == 0)
		usage("pubbench: --subject and --count are required");
	if (o->count > MAX_BENCH)
		usage("pubbench: --count: at most 10000000");
	if (o->leader != NULL && o->stream == NULL)
		usage("pubbench: --leader needs --stream");
	if (o->leader != NULL && lead_by(c, o) == -1)
		return (-1);
	if ((buf = malloc(o->size > 0 ? o->size : 1)) == NULL ||
	    (rtt = calloc(o->count, sizeof(*rtt))) == NULL) {
		perror("jsdump: malloc");
		free(buf);
		return (-1);
	}
	snprintf(run, sizeof(run), "%s-%ld-%lld", o->id_prefix,
	    (long)getpid(), (long long)time(NULL));
	if (o->window > 1) {
		free(rtt);
		rc = cmd_pubwindow(c, o, run, buf);
		free(buf);
		return (rc);
	}
	for (i = 0; i < o->warmup && rc == 0; i++)
		rc = pub_one(c, o, run, buf, i + 1, prev, sizeof(prev),
		    &rtt[0]);
	cpu0 = cpu_seconds();
	t0 = now_ns();
	end = o->time_ms > 0 ? t0 + o->time_ms * 1000000 : INT64_MAX;
	while (rc == 0 && n < o->count && now_ns() < end) {
		rc = pub_one(c, o, run, buf, o->warmup + n + 1, prev,
		    sizeof(prev), &rtt[n]);
		if (rc == 0)
			sum += rtt[n++];
	}
	t1 = now_ns();
	cpu1 = cpu_seconds();
	free(buf);
	if (rc != 0 || n == 0) {
		if (rc == 0)
			fprintf(stderr, "jsdump: pubbench: no publish measured\n");
		free(rtt);
		return (-1);
	}
	qsort(rtt, n, sizeof(*rtt), cmp_i64);
	secs = (double)(t1 - t0) / 1e9;
	printf("count %llu\n", n);
	printf("size %zu\n", o->size);
	printf("seconds %.3f\n", secs);
	printf("per_s %.1f\n", (double)n / secs);
	printf("p50_us %.1f\n", quantile_us(rtt, n, 0.5));
	printf("p90_us %.1f\n", quantile_us(rtt, n, 0.9));
	printf("p99_us %.1f\n", quantile_us(rtt, n, 0.99));
	printf("mean_us %.1f\n", (double)sum / (double)n / 1e3);
	printf("min_us %.1f\n", (double)rtt[0] / 1e3);
	printf("max_us %.1f\n", (double)rtt[n - 1] / 1e3);
	if (cpu0 >= 0 && cpu1 >= 0)
		printf("cpu_s %.3f\n", cpu1 - cpu0);
	free(rtt);
	return (0);
}

/* Binds n sockets at once to 127.0.0.1 port 0 and prints their ports. */
static int
cmd_free_ports(unsigned long long n)
{
	struct sockaddr_in	 sin;
	socklen_t		 len;
	int			 fds[MAX_PORTS];
	unsigned long long	 i, opened = 0;
	int			 rc = 0;

	for (i = 0; i < n; i++) {
		if ((fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
		    -1) {
			perror("jsdump: socket");
			rc = -1;
			break;
		}
		opened++;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = 0;
		len = sizeof(sin);
		if (bind(fds[i], (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    getsockname(fds[i], (struct sockaddr *)&sin, &len) == -1) {
			perror("jsdump: bind 127.0.0.1:0");
			rc = -1;
			break;
		}
		printf("%u\n", (unsigned)ntohs(sin.sin_port));
	}
	for (i = 0; i < opened; i++)
		if (close(fds[i]) == -1) {
			perror("jsdump: close");
			rc = -1;
		}
	return (rc);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "urls",	required_argument, NULL, 'u' },
		{ "stream",	required_argument, NULL, 's' },
		{ "timeout",	required_argument, NULL, 't' },
		{ "subjects",	required_argument, NULL, 'S' },
		{ "replicas",	required_argument, NULL, 'r' },
		{ "subject",	required_argument, NULL, 'j' },
		{ "count",	required_argument, NULL, 'c' },
		{ "first",	required_argument, NULL, 'f' },
		{ "size",	required_argument, NULL, 'z' },
		{ "id-prefix",	required_argument, NULL, 'p' },
		{ "time",	required_argument, NULL, 'T' },
		{ "warmup",	required_argument, NULL, 'w' },
		{ "leader",	required_argument, NULL, 'L' },
		{ "async",	no_argument,	   NULL, 'A' },
		{ "send-asap",	no_argument,	   NULL, 'Y' },
		{ "window",	required_argument, NULL, 'W' },
		{ "max-bytes",	required_argument, NULL, 'M' },
		{ "duplicates",	required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts	 o = {
		.urls = "nats://127.0.0.1:4222", .timeout_ms = 5000,
		.replicas = 1, .first = 1, .size = 32, .id_prefix = "jsdump",
		.warmup = 10,
	};
	struct conn	 c;
	const char	*cmd;
	unsigned long long n;
	int		 ch, rc;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': o.urls = optarg; break;
		case 's': o.stream = optarg; break;
		case 't':
			o.timeout_ms = (int64_t)parse_num(optarg,
			    "--timeout: milliseconds, 1..86400000", 86400000);
			if (o.timeout_ms == 0)
				usage("--timeout: milliseconds, 1..86400000");
			break;
		case 'S': o.subjects = optarg; break;
		case 'r':
			o.replicas = (long)parse_num(optarg,
			    "--replicas: 1..5", 5);
			if (o.replicas == 0)
				usage("--replicas: 1..5");
			break;
		case 'j': o.subject = optarg; break;
		case 'c': o.count = parse_num(optarg, "--count", UINT64_MAX); break;
		case 'f':
			o.first = parse_num(optarg, "--first", UINT64_MAX);
			o.first_set = 1;
			break;
		case 'z':
			o.size = (size_t)parse_num(optarg,
			    "--size: bytes, 0..67108864", MAX_DATA);
			break;
		case 'p': o.id_prefix = optarg; break;
		case 'T':
			o.time_ms = (int64_t)parse_num(optarg,
			    "--time: seconds, 1..86400", 86400) * 1000;
			if (o.time_ms == 0)
				usage("--time: seconds, 1..86400");
			break;
		case 'L': o.leader = optarg; break;
		case 'A': o.async = 1; break;
		case 'Y': o.send_asap = 1; break;
		case 'W':
			o.window = parse_num(optarg, "--window: 1..65536",
			    65536);
			if (o.window == 0)
				usage("--window: 1..65536");
			if (o.window > 1)
				o.async = 1;
			break;
		case 'M':
			o.max_bytes = (int64_t)parse_num(optarg,
			    "--max-bytes: bytes", INT64_MAX);
			break;
		case 'w':
			o.warmup = parse_num(optarg, "--warmup: 0..1000000",
			    1000000);
			break;
		case 'D':
			o.duplicates_ms = (int64_t)parse_num(optarg,
			    "--duplicates: milliseconds, 1..86400000", 86400000);
			if (o.duplicates_ms == 0)
				usage("--duplicates: milliseconds, 1..86400000");
			break;
		default: usage(NULL);
		}
	}
	if (optind >= argc)
		usage("no command");
	cmd = argv[optind];
	if (strcmp(cmd, "free-ports") == 0) {
		if (optind + 2 != argc)
			usage("free-ports N");
		n = parse_num(argv[optind + 1], "free-ports: 1..64", MAX_PORTS);
		if (n == 0)
			usage("free-ports: 1..64");
		return (cmd_free_ports(n) == 0 ? 0 : 1);
	}
	if (optind + 1 != argc)
		usage("one command");
	if (strcmp(cmd, "wait-leader") == 0 || strcmp(cmd, "ping") == 0) {
		rc = cmd_wait(&o, strcmp(cmd, "wait-leader") == 0);
		nats_Close();
		return (rc == 0 ? 0 : 1);
	}
	if (strcmp(cmd, "info") != 0 && strcmp(cmd, "dump") != 0 &&
	    strcmp(cmd, "last") != 0 && strcmp(cmd, "create") != 0 &&
	    strcmp(cmd, "publish") != 0 && strcmp(cmd, "pubbench") != 0)
		usage("unknown command");
	if (o.stream == NULL && strcmp(cmd, "publish") != 0 &&
	    strcmp(cmd, "pubbench") != 0)
		usage("--stream is required");
	if (conn_open(&c, &o, o.timeout_ms, 0) == -1) {
		nats_Close();
		return (1);
	}
	if (strcmp(cmd, "info") == 0)
		rc = cmd_info(&c, &o);
	else if (strcmp(cmd, "dump") == 0)
		rc = cmd_dump(&c, &o);
	else if (strcmp(cmd, "last") == 0)
		rc = cmd_last(&c, &o);
	else if (strcmp(cmd, "create") == 0)
		rc = cmd_create(&c, &o);
	else if (strcmp(cmd, "pubbench") == 0)
		rc = cmd_pubbench(&c, &o);
	else
		rc = cmd_publish(&c, &o);
	if (fflush(stdout) == EOF) {
		perror("jsdump: stdout");
		rc = -1;
	}
	conn_close(&c);
	nats_Close();
	return (rc == 0 ? 0 : 1);
}
