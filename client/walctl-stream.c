/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walctl-stream.c: reading a walld replication stream back from NATS
 * JetStream (walctl-stream.h), with decryption for read --nats. The
 * messages come from an ordered consumer: an ephemeral push consumer
 * without acknowledgements, with flow control and heartbeats, that the
 * client library recreates from the last sequence it delivered when it
 * misses one; so the stream is read in order at the server's pace, and
 * any sequence or LSN that does not follow is the stream's, and an error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <nats/nats.h>

#include "cause.h"
#include "keyring.h"
#include "replmsg.h"
#include "segment.h"
#include "wal-reader.h"
#include "wal-restore.h"
#include "walctl-stream.h"

#define STREAM_WAIT_MS	30000	/* no message for this long: give up */
#define STREAM_MAX_URLS	16

struct walctl_stream {
	char		*name;
	natsOptions	*opts;
	natsConnection	*nc;
	jsCtx		*js;
	char		*filter;	/* the subjects to consume */
	natsSubscription *sub;
	natsMsg		*msg;		/* the message last returned */
	uint64_t	 next_seq;	/* the sequence expected next */
	uint64_t	 last;		/* the last to read */
	uint64_t	 prev_lsn;	/* 0 before the first message */
	struct repl_ident prev;		/* the message before's */

	struct keyring_ctx *ctx;	/* decryption */
	struct wal_segmeta keyed;	/* the segment ctx is keyed for */
	int		 have_key;
	unsigned char	*plain;
	size_t		 plain_cap;
};

/* A failed NATS call: "stream S: what: status (JetStream error N)". */
static int
walctl_stream_fail(struct walctl_stream *s, char **cause, int ex,
    const char *what, natsStatus st, jsErrCode jerr)
{
	if (jerr != 0)
		cause_set(cause, "stream %s: %s: %s (JetStream error %d)",
		    s->name, what, natsStatus_GetText(st), (int)jerr);
	else
		cause_set(cause, "stream %s: %s: %s", s->name, what,
		    natsStatus_GetText(st));
	return (ex);
}

/* Sets the servers of "URL[,URL...]". */
static int
walctl_stream_servers(struct walctl_stream *s, const char *urls,
    char **cause)
{
	const char	*list[STREAM_MAX_URLS];
	char		*copy, *p, *tok;
	int		 n = 0, ex = EX_OK;
	natsStatus	 st;

	if ((copy = strdup(urls)) == NULL) {
		cause_set(cause, "%s", strerror(errno));
		return (EX_OSERR);
	}
	for (p = copy; (tok = strsep(&p, ",")) != NULL; ) {
		if (*tok == '\0' || n == STREAM_MAX_URLS) {
			cause_set(cause, "--nats %s: %s", urls, *tok == '\0' ?
			    "an empty URL in the list" : "more than 16 URLs");
			free(copy);
			return (EX_USAGE);
		}
		list[n++] = tok;
	}
	if ((st = natsOptions_SetServers(s->opts, list, n)) != NATS_OK) {
		cause_set(cause, "--nats %s: %s", urls, natsStatus_GetText(st));
		ex = EX_USAGE;
	}
	free(copy);
	return (ex);
}

/* Connects and looks the stream up; see walctl-stream.h. */
int
walctl_stream_open(struct walctl_stream **out,
    const struct walctl_stream_opts *o, uint64_t *first, uint64_t *last,
    char **cause)
{
	struct walctl_stream	*s;
	jsStreamInfo		*si = NULL;
	jsOptions		 jo;
	jsErrCode		 jerr = 0;
	natsStatus		 st;
	int			 ex;

	*out = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->name = strdup(o->stream)) == NULL ||
	    (s->ctx = keyring_ctx_create(0)) == NULL) {
		cause_set(cause, "%s", strerror(ENOMEM));
		walctl_stream_close(s);
		return (EX_OSERR);
	}
	if ((st = natsOptions_Create(&s->opts)) != NATS_OK) {
		ex = walctl_stream_fail(s, cause, EX_OSERR, "options", st, 0);
		goto fail;
	}
	if ((ex = walctl_stream_servers(s, o->urls, cause)) != EX_OK)
		goto fail;
	st = natsOptions_SetTimeout(s->opts, o->timeout_ms);
	if (st == NATS_OK)
		st = natsOptions_SetName(s->opts, "walctl");
	if (st == NATS_OK && o->creds != NULL)
		st = natsOptions_SetUserCredentialsFromFiles(s->opts, o->creds,
		    NULL);
	if (st != NATS_OK) {
		ex = walctl_stream_fail(s, cause, EX_USAGE, "options", st, 0);
		goto fail;
	}
	if ((st = natsConnection_Connect(&s->nc, s->opts)) != NATS_OK) {
		cause_set(cause, "%s: connect: %s", o->urls,
		    natsStatus_GetText(st));
		ex = EX_UNAVAILABLE;
		goto fail;
	}
	jsOptions_Init(&jo);
	jo.Wait = o->timeout_ms;
	if ((st = natsConnection_JetStream(&s->js, s->nc, &jo)) != NATS_OK) {
		ex = walctl_stream_fail(s, cause, EX_OSERR, "JetStream", st, 0);
		goto fail;
	}
	st = js_GetStreamInfo(&si, s->js, s->name, NULL, &jerr);
	if (st == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
		cause_set(cause, "stream %s: no such stream", s->name);
		ex = EX_NOINPUT;
		goto fail;
	}
	if (st != NATS_OK) {
		ex = walctl_stream_fail(s, cause, EX_UNAVAILABLE,
		    "stream info", st, jerr);
		goto fail;
	}
	*first = si->State.FirstSeq;
	*last = si->State.LastSeq;
	if (si->State.Msgs == 0)
		*first = *last + 1;
	/* The stream's own subject filter; ">" for one with several or
	   none (a mirror). */
	s->filter = strdup(si->Config->SubjectsLen == 1 ?
	    si->Config->Subjects[0] : ">");
	jsStreamInfo_Destroy(si);
	if (s->filter == NULL) {
		cause_set(cause, "%s", strerror(ENOMEM));
		ex = EX_OSERR;
		goto fail;
	}
	*out = s;
	return (EX_OK);

fail:
	walctl_stream_close(s);
	return (ex);
}

/* The LSN and identity of one message; see walctl-stream.h. */
int
walctl_stream_peek(struct walctl_stream *s, uint64_t seq, uint64_t *lsn,
    struct repl_ident *id, char **cause)
{
	natsMsg		*m = NULL;
	jsErrCode	 jerr = 0;
	natsStatus	 st;
	char		 what[64];

	st = js_GetMsg(&m, s->js, s->name, seq, NULL, &jerr);
	if (st == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
		cause_set(cause, "stream %s: sequence %" PRIu64 ": no such "
		    "message", s->name, seq);
		return (EX_DATAERR);
	}
	if (st != NATS_OK) {
		snprintf(what, sizeof what, "sequence %" PRIu64, seq);
		return (walctl_stream_fail(s, cause, EX_UNAVAILABLE, what, st,
		    jerr));
	}
	if (replmsg_lsn(m, lsn, id) != 0) {
		cause_set(cause, "stream %s: sequence %" PRIu64 ": %s, %s or "
		    "%s missing or malformed: not a walld stream?", s->name,
		    seq, REPL_H_LOG, REPL_H_EPOCH, REPL_H_LSN);
		natsMsg_Destroy(m);
		return (EX_DATAERR);
	}
	natsMsg_Destroy(m);
	return (EX_OK);
}

/* Subscribes from seq; see walctl-stream.h. */
int
walctl_stream_start(struct walctl_stream *s, uint64_t seq, uint64_t last,
    char **cause)
{
	jsSubOptions	so;
	jsErrCode	jerr = 0;
	natsStatus	st;

	jsSubOptions_Init(&so);
	so.Stream = s->name;
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverByStartSequence;
	so.Config.OptStartSeq = seq;
	st = js_SubscribeSync(&s->sub, s->js, s->filter, NULL, &so, &jerr);
	if (st != NATS_OK)
		return (walctl_stream_fail(s, cause, EX_UNAVAILABLE,
		    "subscribe", st, jerr));
	s->next_seq = seq;
	s->last = last;
	return (EX_OK);
}

/* Checks that m's subject ends in its vshard and that it follows the
   message before it: the same log, no lower epoch, the next LSN. */
static int
walctl_stream_check(struct walctl_stream *s, struct walctl_stream_msg *m,
    char **cause)
{
	const char	*subj = natsMsg_GetSubject(s->msg), *dot;
	char		 tail[8];

	snprintf(tail, sizeof tail, "%u", (unsigned)m->rec.vshard);
	if ((dot = strrchr(subj, '.')) == NULL || strcmp(dot + 1, tail) != 0) {
		cause_set(cause, "stream %s: sequence %" PRIu64 ": subject %s "
		    "does not end in its vshard %s", s->name, m->seq, subj,
		    tail);
		return (EX_DATAERR);
	}
	if (s->prev_lsn == 0)
		return (EX_OK);
	if (strcmp(m->ident.log_id, s->prev.log_id) != 0) {
		cause_set(cause, "stream %s: sequence %" PRIu64 ": log %s, "
		    "where the messages before it are of log %s", s->name,
		    m->seq, m->ident.log_id, s->prev.log_id);
		return (EX_DATAERR);
	}
	if (m->ident.epoch < s->prev.epoch) {
		cause_set(cause, "stream %s: sequence %" PRIu64 ": epoch %"
		    PRIu64 " after epoch %" PRIu64 ": a walld that another "
		    "one took over published after it", s->name, m->seq,
		    m->ident.epoch, s->prev.epoch);
		return (EX_DATAERR);
	}
	if (m->rec.lsn != s->prev_lsn + 1) {
		cause_set(cause, "stream %s: sequence %" PRIu64 ": LSN %"
		    PRIu64 " where %" PRIu64 " was expected (the stream "
		    "must hold consecutive LSNs)", s->name, m->seq,
		    m->rec.lsn, s->prev_lsn + 1);
		return (EX_DATAERR);
	}
	return (EX_OK);
}

/* The next message; see walctl-stream.h. */
int
walctl_stream_next(struct walctl_stream *s, struct walctl_stream_msg *m,
    int *done, char **cause)
{
	jsMsgMetaData	*md = NULL;
	natsStatus	 st;
	char		*c2 = NULL, what[64];
	int		 ex;

	natsMsg_Destroy(s->msg);
	s->msg = NULL;
	*done = s->next_seq > s->last;
	if (*done)
		return (EX_OK);
	while ((st = natsSubscription_NextMsg(&s->msg, s->sub,
	    STREAM_WAIT_MS)) == NATS_TIMEOUT && s->last == UINT64_MAX)
		;
	if (st == NATS_TIMEOUT) {
		cause_set(cause, "stream %s: no message for %d s while "
		    "sequence %" PRIu64 " was expected (the stream had %"
		    PRIu64 ")", s->name, STREAM_WAIT_MS / 1000, s->next_seq,
		    s->last);
		return (EX_TEMPFAIL);
	}
	if (st != NATS_OK) {
		snprintf(what, sizeof what, "waiting for sequence %" PRIu64,
		    s->next_seq);
		return (walctl_stream_fail(s, cause, EX_UNAVAILABLE, what, st,
		    0));
	}
	if (natsMsg_GetMetaData(&md, s->msg) != NATS_OK) {
		cause_set(cause, "stream %s: a message on %s without JetStream "
		    "metadata where sequence %" PRIu64 " was expected",
		    s->name, natsMsg_GetSubject(s->msg), s->next_seq);
		return (EX_PROTOCOL);
	}
	m->seq = md->Sequence.Stream;
	jsMsgMetaData_Destroy(md);
	if (m->seq != s->next_seq) {
		cause_set(cause, "stream %s: sequence %" PRIu64 " came where %"
		    PRIu64 " was expected: messages are missing (deleted from "
		    "the stream?)", s->name, m->seq, s->next_seq);
		return (EX_DATAERR);
	}
	if (replmsg_decode(s->msg, &m->rec, &m->seg, &m->ident, &c2) != 0) {
		cause_set(cause, "stream %s: sequence %" PRIu64 ": %s",
		    s->name, m->seq, c2 != NULL ? c2 : "malformed");
		free(c2);
		return (EX_DATAERR);
	}
	if ((ex = walctl_stream_check(s, m, cause)) != EX_OK)
		return (ex);
	s->prev = m->ident;
	s->prev_lsn = m->rec.lsn;
	s->next_seq++;
	return (EX_OK);
}

/* Messages arrived and not returned yet; see walctl-stream.h. */
int
walctl_stream_pending(struct walctl_stream *s)
{
	int	msgs = 0, bytes = 0;

	if (s->sub == NULL || natsSubscription_GetPending(s->sub, &msgs,
	    &bytes) != NATS_OK)
		return (0);
	return (msgs > 0);
}

/* Keys the context for m's segment, unless it is keyed for it. */
static int
walctl_stream_key(struct walctl_stream *s, struct keyring *kr,
    const struct walctl_stream_msg *m, char **cause)
{
	struct seg_header	 h;
	const struct wal_segmeta *g = &m->seg;
	char			*c2 = NULL;

	if (s->have_key && wal_restore_same(&s->keyed, g))
		return (EX_OK);
	s->have_key = 0;
	wal_restore_header(g, g->first_lsn, &h);
	if (keyring_ctx_segment(s->ctx, kr, &h, &c2) != 0) {
		cause_set(cause, "stream %s: sequence %" PRIu64 ": LSN %"
		    PRIu64 ": %s", s->name, m->seq, m->rec.lsn,
		    c2 != NULL ? c2 : "no key");
		free(c2);
		return (EX_DATAERR);
	}
	s->keyed = *g;
	s->have_key = 1;
	return (EX_OK);
}

/* Decrypts m's record; see walctl-stream.h. The associated data is the
   record's header as stored (FORMAT.md section 12), rebuilt here. */
int
walctl_stream_decrypt(struct walctl_stream *s, struct keyring *kr,
    struct walctl_stream_msg *m, char **cause)
{
	unsigned char		 hb[REC_HDR_SIZE + REC_EXT_MAX], *nb;
	uint32_t		 len = m->rec.len;
	int			 ex;

	if (m->seg.key_id == 0)
		return (EX_OK);
	if ((ex = walctl_stream_key(s, kr, m, cause)) != EX_OK)
		return (ex);
	if (len < KEYRING_TAG_LEN) {
		cause_set(cause, "stream %s: sequence %" PRIu64 ": LSN %" PRIu64
		    ": encrypted record shorter than its authentication tag",
		    s->name, m->seq, m->rec.lsn);
		return (EX_DATAERR);
	}
	if (len > s->plain_cap) {
		if ((nb = realloc(s->plain, len)) == NULL) {
			cause_set(cause, "%s", strerror(errno));
			return (EX_OSERR);
		}
		s->plain = nb;
		s->plain_cap = len;
	}
	wal_restore_rec_header(hb, &m->rec);
	if (keyring_decrypt(s->ctx, hb, m->rec.payload, len, s->plain) != 0) {
		cause_set(cause, "stream %s: sequence %" PRIu64 ": LSN %" PRIu64
		    ": record fails authentication (altered, or not written "
		    "under this key)", s->name, m->seq, m->rec.lsn);
		return (EX_DATAERR);
	}
	m->rec.payload = s->plain;
	m->rec.len = len - KEYRING_TAG_LEN;
	return (EX_OK);
}

/* Unsubscribes (the server drops the consumer), disconnects, frees. */
void
walctl_stream_close(struct walctl_stream *s)
{
	if (s == NULL)
		return;
	natsMsg_Destroy(s->msg);
	if (s->sub != NULL) {
		(void)natsSubscription_Unsubscribe(s->sub);
		natsSubscription_Destroy(s->sub);
	}
	jsCtx_Destroy(s->js);
	natsConnection_Destroy(s->nc);
	natsOptions_Destroy(s->opts);
	keyring_ctx_free(s->ctx);
	free(s->plain);
	free(s->filter);
	free(s->name);
	free(s);
}
