/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replpub.c: a test tool, not walld's replicator. Publishes the records
 * of a data directory into a JetStream stream, one message each, as
 * docs/REPLICATION.md lays them out (repl/replmsg.c), synchronously and
 * in LSN order, so that the tests of walctl restore and read --nats have
 * a stream without a running walld:
 *
 *	replpub --nats URL --stream NAME --dir DIR [--prefix P] [--from LSN]
 *	    [--epoch N] [--skip LSN] [--garble LSN]
 *
 * The stream is made (subjects "P.>", P walld.log by default) when it
 * does not exist. The log's identity is DIR's REPLICA (made when there
 * is none); --epoch publishes under another epoch. --skip leaves the
 * record at LSN out (a gap), --garble publishes it without its
 * Walld-Segment header: what the tests feed restore to see it refuse.
 * Prints the number of messages published.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "replmsg.h"
#include "wal-reader.h"

/* Prints "replpub: what: why" and exits 1. */
static void __attribute__((noreturn))
replpub_die(const char *what, const char *why)
{
	fprintf(stderr, "replpub: %s: %s\n", what, why);
	exit(1);
}

/* Parses a decimal number or exits. */
static uint64_t
replpub_number(const char *opt, const char *s)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0')
		replpub_die(opt, "not a number");
	return (v);
}

/* Makes the stream unless it exists. */
static void
replpub_stream(jsCtx *js, const char *name, const char *prefix)
{
	jsStreamConfig	 sc;
	jsStreamInfo	*si = NULL;
	jsErrCode	 jerr = 0;
	natsStatus	 st;
	char		 subj[REPL_SUBJECT_SIZE];
	const char	*subjs[1] = { subj };

	if (js_GetStreamInfo(&si, js, name, NULL, &jerr) == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return;
	}
	snprintf(subj, sizeof subj, "%s.>", prefix);
	jsStreamConfig_Init(&sc);
	sc.Name = name;
	sc.Subjects = subjs;
	sc.SubjectsLen = 1;
	if ((st = js_AddStream(&si, js, &sc, NULL, &jerr)) != NATS_OK)
		replpub_die(name, natsStatus_GetText(st));
	jsStreamInfo_Destroy(si);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "nats",	required_argument,	NULL, 'n' },
		{ "stream",	required_argument,	NULL, 's' },
		{ "dir",	required_argument,	NULL, 'd' },
		{ "prefix",	required_argument,	NULL, 'p' },
		{ "from",	required_argument,	NULL, 'f' },
		{ "epoch",	required_argument,	NULL, 'e' },
		{ "skip",	required_argument,	NULL, 'k' },
		{ "garble",	required_argument,	NULL, 'g' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*url = NULL, *stream = NULL, *dir = NULL;
	const char		*prefix = "walld.log";
	uint64_t		 from = 0, epoch = 0, skip = 0, garble = 0;
	uint64_t		 n = 0;
	struct repl_ident	 id;
	struct wal_reader	*rd;
	struct wal_record	 rec;
	natsConnection		*nc = NULL;
	jsCtx			*js = NULL;
	natsMsg			*msg;
	jsErrCode		 jerr = 0;
	natsStatus		 st;
	char			*cause = NULL;
	int			 ch, k;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n': url = optarg; break;
		case 's': stream = optarg; break;
		case 'd': dir = optarg; break;
		case 'p': prefix = optarg; break;
		case 'f': from = replpub_number("--from", optarg); break;
		case 'e': epoch = replpub_number("--epoch", optarg); break;
		case 'k': skip = replpub_number("--skip", optarg); break;
		case 'g': garble = replpub_number("--garble", optarg); break;
		default: replpub_die("usage", "see the top of replpub.c");
		}
	}
	if (url == NULL || stream == NULL || dir == NULL || optind != argc)
		replpub_die("usage", "--nats, --stream and --dir are needed");
	if (repl_ident_load(dir, 1, &id, &cause) != 0)
		replpub_die(dir, cause);
	if (epoch != 0)
		id.epoch = epoch;
	if ((st = natsConnection_ConnectTo(&nc, url)) != NATS_OK ||
	    (st = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK)
		replpub_die(url, natsStatus_GetText(st));
	replpub_stream(js, stream, prefix);
	if ((rd = wal_reader_open_raw(dir, from, NULL, &cause)) == NULL)
		replpub_die(dir, cause);
	while ((k = wal_reader_next(rd, UINT64_MAX, &rec, &cause)) == 1) {
		if (rec.lsn == skip)
			continue;
		if (replmsg_encode(&msg, prefix, &id, &rec, &cause) != 0)
			replpub_die(dir, cause);
		if (rec.lsn == garble)
			natsMsgHeader_Delete(msg, REPL_H_SEGMENT);
		st = js_PublishMsg(NULL, js, msg, NULL, &jerr);
		natsMsg_Destroy(msg);
		if (st != NATS_OK)
			replpub_die(stream, natsStatus_GetText(st));
		n++;
	}
	if (k != 0)
		replpub_die(dir, cause);
	wal_reader_close(rd);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	printf("%" PRIu64 "\n", n);
	return (0);
}
