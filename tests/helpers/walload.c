/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walload.c: a test load for walld. `run` forks client processes that
 * append self-describing records (pipelined) and write every acknowledged
 * LSN to an ack file; `check` reads a data directory offline and verifies
 * that every acknowledged record is there, intact, and that the log holds
 * nothing no client sent.
 *
 * Payload: "WLDT", u32 client, u64 seq, then bytes from a generator seeded
 * by (client, seq), so the checker can rebuild every payload.
 */
#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyring.h"
#include "libwal.h"
#include "wal.h"
#include "wal-reader.h"

#define PAYLOAD_HDR	16
#define MAX_CLIENTS	1024

struct load_opts {
	const char	*socket;
	const char	*prefix;	/* ack files: PREFIX.N */
	int		 procs;
	long		 count;		/* appends per process; 0: until killed */
	int		 depth;		/* appends in flight per process */
	uint32_t	 min_size;
	uint32_t	 max_size;
	uint32_t	 seed;
	int		 nowait_every;	/* every k-th append is NOWAIT + sync */
};

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (x);
}

/* Builds the payload of (client, seq); returns its length. */
static uint32_t
make_payload(uint8_t *buf, uint32_t client, uint64_t seq, uint32_t seed,
    uint32_t min_size, uint32_t max_size)
{
	uint64_t	s = mix(((uint64_t)client << 40) ^ seq ^ ((uint64_t)seed << 20));
	uint32_t	len, i;

	len = min_size + (uint32_t)(s % (max_size - min_size + 1));
	if (len < PAYLOAD_HDR)
		len = PAYLOAD_HDR;
	memcpy(buf, "WLDT", 4);
	memcpy(buf + 4, &client, 4);
	memcpy(buf + 8, &seq, 8);
	for (i = PAYLOAD_HDR; i < len; i++) {
		if ((i & 7) == 0)
			s = mix(s + i);
		buf[i] = (uint8_t)(s >> ((i & 7) * 8));
	}
	return (len);
}

/* One client process: appends with up to depth in flight, logs acks. */
static int
run_client(const struct load_opts *o, uint32_t client)
{
	struct wal_conn		*conn;
	struct wal_completion	 comp;
	enum wal_result		 r;
	char			 path[4096], *cause = NULL;
	uint8_t			*buf;
	uint64_t		*ids_seq, id, seq = 0, last = 0;
	uint32_t		 len;
	FILE			*ack;
	long			 done = 0;
	int			 inflight = 0, rc;
	size_t			 slot;

	snprintf(path, sizeof path, "%s.%u", o->prefix, client);
	if ((ack = fopen(path, "w")) == NULL) {
		fprintf(stderr, "walload: %s: %s\n", path, strerror(errno));
		return (2);
	}
	setvbuf(ack, NULL, _IOLBF, 0);
	if ((buf = malloc(o->max_size + PAYLOAD_HDR)) == NULL ||
	    (ids_seq = calloc(65536, sizeof *ids_seq)) == NULL)
		return (2);
	r = wal_conn_open(&conn, o->socket, 5000, &cause);
	if (r != WAL_RESULT_OK) {
		fprintf(stderr, "walload %u: connect: %s\n", client, cause);
		return (3);
	}
	for (;;) {
		while (inflight < o->depth && (o->count == 0 || (long)seq < o->count)) {
			len = make_payload(buf, client, seq, o->seed,
			    o->min_size, o->max_size);
			r = wal_conn_submit_append(conn, (uint16_t)(seq % 5),
			    client % 7, (uint16_t)(seq % 3), buf, len, 0, &id);
			if (r != WAL_RESULT_OK) {
				fprintf(stderr, "walload %u: submit: %s\n",
				    client, wal_result_name(r));
				goto out;
			}
			ids_seq[id % 65536] = seq;
			seq++;
			inflight++;
		}
		if (inflight == 0)
			break;
		rc = wal_conn_wait(conn, -1, &comp);
		if (rc != 1)
			break;
		inflight--;
		slot = comp.id % 65536;
		if (comp.result == WAL_RESULT_OK) {
			if (comp.lsn <= last) {
				fprintf(stderr, "walload %u: LSN %" PRIu64
				    " after %" PRIu64 ": not increasing\n",
				    client, comp.lsn, last);
				return (4);
			}
			last = comp.lsn;
			fprintf(ack, "%" PRIu64 " %u %" PRIu64 "\n", comp.lsn,
			    client, ids_seq[slot]);
			done++;
		} else if (comp.result == WAL_RESULT_UNKNOWN ||
		    comp.result == WAL_RESULT_CLOSED) {
			goto out;	/* walld went away: stop here */
		} else {
			fprintf(stderr, "walload %u: append: %s: %s\n", client,
			    wal_result_name(comp.result),
			    comp.msg != NULL ? comp.msg : "");
			if (!wal_result_retryable(comp.result))
				return (5);
		}
	}
out:
	wal_conn_close(conn);
	fclose(ack);
	free(buf);
	free(ids_seq);
	return (0);
}

static int
cmd_run(int argc, char **argv)
{
	struct load_opts	o = { .procs = 4, .count = 1000, .depth = 8,
				    .min_size = 16, .max_size = 512, .seed = 1 };
	int			ch, i, st, bad = 0;
	pid_t			pids[MAX_CLIENTS];

	while ((ch = getopt(argc, argv, "s:o:P:n:d:a:b:S:")) != -1) {
		switch (ch) {
		case 's': o.socket = optarg; break;
		case 'o': o.prefix = optarg; break;
		case 'P': o.procs = atoi(optarg); break;
		case 'n': o.count = atol(optarg); break;
		case 'd': o.depth = atoi(optarg); break;
		case 'a': o.min_size = (uint32_t)atol(optarg); break;
		case 'b': o.max_size = (uint32_t)atol(optarg); break;
		case 'S': o.seed = (uint32_t)atol(optarg); break;
		default: return (64);
		}
	}
	if (o.prefix == NULL || o.procs < 1 || o.procs > MAX_CLIENTS ||
	    o.depth < 1 || o.depth > 60000 || o.max_size < o.min_size) {
		fprintf(stderr, "usage: walload run -o PREFIX [-s SOCK] [-P procs]"
		    " [-n count] [-d depth] [-a min] [-b max] [-S seed]\n");
		return (64);
	}
	for (i = 0; i < o.procs; i++) {
		if ((pids[i] = fork()) == -1) {
			perror("walload: fork");
			return (2);
		}
		if (pids[i] == 0)
			_exit(run_client(&o, (uint32_t)i));
	}
	for (i = 0; i < o.procs; i++) {
		if (waitpid(pids[i], &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			fprintf(stderr, "walload: client %d failed (status %d)\n",
			    i, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
			bad = 1;
		}
	}
	return (bad);
}

struct ack {
	uint64_t	lsn;
	uint32_t	client;
	uint64_t	seq;
};

static int
ack_cmp(const void *a, const void *b)
{
	const struct ack	*x = a, *y = b;

	return (x->lsn < y->lsn ? -1 : x->lsn > y->lsn);
}

/* check -D DIR [-a min -b max -S seed] [-x] [-t] [-f] [-k KEYRING] ACKFILE...:
   -x demands the acknowledged LSNs be exactly 1..N (no crash, nothing else
   appended); -t accepts that acknowledged records below the log's first
   LSN were truncated away on purpose; -f accepts records that are not
   walload's (another client appended them; acknowledged LSNs must still
   hold walload's records); -k decrypts with a key ring. */
static int
cmd_check(int argc, char **argv)
{
	struct wal_reader	*rd;
	struct wal_record	 rec;
	struct ack		*acks = NULL;
	size_t			 nacks = 0, cap = 0, ai = 0, i;
	uint32_t		 min_size = 16, max_size = 512, seed = 1, client;
	uint64_t		 seq, prev = 0, nrec = 0, lsn;
	const char		*dir = NULL;
	struct keyring		*kr = NULL;
	uint8_t			*buf;
	char			*cause = NULL;
	FILE			*f;
	int			 ch, dense = 0, trunc = 0, foreign = 0, rc;
	int			 bad = 0;

	while ((ch = getopt(argc, argv, "D:a:b:S:xtfk:")) != -1) {
		switch (ch) {
		case 'D': dir = optarg; break;
		case 'a': min_size = (uint32_t)atol(optarg); break;
		case 'b': max_size = (uint32_t)atol(optarg); break;
		case 'S': seed = (uint32_t)atol(optarg); break;
		case 'x': dense = 1; break;
		case 't': trunc = 1; break;
		case 'f': foreign = 1; break;
		case 'k':
			if ((kr = keyring_load(optarg, &cause)) == NULL) {
				fprintf(stderr, "walload: %s\n", cause);
				return (2);
			}
			break;
		default: return (64);
		}
	}
	if (dir == NULL)
		return (64);
	for (; optind < argc; optind++) {
		if ((f = fopen(argv[optind], "r")) == NULL) {
			fprintf(stderr, "walload: %s: %s\n", argv[optind],
			    strerror(errno));
			return (2);
		}
		while (fscanf(f, "%" SCNu64 " %u %" SCNu64, &lsn, &client,
		    &seq) == 3) {
			if (nacks == cap) {
				cap = cap ? cap * 2 : 4096;
				acks = realloc(acks, cap * sizeof *acks);
				if (acks == NULL)
					return (2);
			}
			acks[nacks++] = (struct ack){ lsn, client, seq };
		}
		fclose(f);
	}
	if (nacks > 0)	/* acks is NULL when no file had a line */
		qsort(acks, nacks, sizeof *acks, ack_cmp);
	for (i = 1; i < nacks; i++) {
		if (acks[i].lsn == acks[i - 1].lsn) {
			fprintf(stderr, "LSN %" PRIu64 " acknowledged twice\n",
			    acks[i].lsn);
			bad = 1;
		}
	}
	if (dense) {
		for (i = 0; i < nacks; i++) {
			if (acks[i].lsn != i + 1) {
				fprintf(stderr, "acknowledged LSNs are not dense:"
				    " position %zu has LSN %" PRIu64 "\n", i,
				    acks[i].lsn);
				bad = 1;
				break;
			}
		}
	}
	if ((buf = malloc(max_size + PAYLOAD_HDR)) == NULL)
		return (2);
	rd = wal_reader_open_keys(dir, 0, NULL, kr, &cause);
	keyring_free(kr);
	if (rd == NULL) {
		fprintf(stderr, "walload: %s\n", cause);
		return (1);
	}
	while ((rc = wal_reader_next(rd, UINT64_MAX, &rec, &cause)) == 1) {
		if (nrec++ == 0 && trunc) {
			while (ai < nacks && acks[ai].lsn < rec.lsn)
				ai++;
		}
		if (rec.lsn <= prev) {
			fprintf(stderr, "LSN %" PRIu64 " after %" PRIu64 "\n",
			    rec.lsn, prev);
			bad = 1;
		}
		prev = rec.lsn;
		if (rec.len < PAYLOAD_HDR ||
		    memcmp(rec.payload, "WLDT", 4) != 0) {
			if (!foreign) {
				fprintf(stderr, "LSN %" PRIu64 ": a record no "
				    "client sent\n", rec.lsn);
				bad = 1;
			}
			continue;
		}
		memcpy(&client, (const uint8_t *)rec.payload + 4, 4);
		memcpy(&seq, (const uint8_t *)rec.payload + 8, 8);
		if (make_payload(buf, client, seq, seed, min_size,
		    max_size) != rec.len || memcmp(buf, rec.payload,
		    rec.len) != 0) {
			fprintf(stderr, "LSN %" PRIu64 ": payload altered\n",
			    rec.lsn);
			bad = 1;
		}
		while (ai < nacks && acks[ai].lsn < rec.lsn) {
			fprintf(stderr, "acknowledged LSN %" PRIu64 " is "
			    "missing\n", acks[ai].lsn);
			bad = 1;
			ai++;
		}
		if (ai < nacks && acks[ai].lsn == rec.lsn) {
			if (acks[ai].client != client || acks[ai].seq != seq) {
				fprintf(stderr, "LSN %" PRIu64 ": holds client "
				    "%u seq %" PRIu64 ", acknowledged as client "
				    "%u seq %" PRIu64 "\n", rec.lsn, client, seq,
				    acks[ai].client, acks[ai].seq);
				bad = 1;
			}
			ai++;
		}
	}
	if (rc < 0) {
		fprintf(stderr, "walload: reading the log: %s\n", cause);
		bad = 1;
	}
	for (; ai < nacks; ai++) {
		fprintf(stderr, "acknowledged LSN %" PRIu64 " is missing\n",
		    acks[ai].lsn);
		bad = 1;
	}
	wal_reader_close(rd);
	printf("checked %" PRIu64 " records, %zu acknowledged, last LSN %"
	    PRIu64 ": %s\n", nrec, nacks, prev, bad ? "FAILED" : "ok");
	free(buf);
	free(acks);
	return (bad);
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return (cmd_run(argc - 1, argv + 1));
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return (cmd_check(argc - 1, argv + 1));
	fprintf(stderr, "usage: walload run|check ...\n");
	return (64);
}
