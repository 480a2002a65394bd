/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libwal-producer.c: idempotent appends (PROTOCOL.md, "Producers"): the
 * APPEND with a producer id and sequence number, and struct wal_producer,
 * which numbers its appends and sends one again, on a new connection when
 * needed, until walld gives its LSN or a definite answer.
 */
#include <sys/random.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libwal-int.h"
#include "libwal.h"
#include "wire.h"

#define PROD_BACKOFF_MIN_MS	10
#define PROD_BACKOFF_MAX_MS	1000

struct wal_producer {
	struct wal_conn	*conn;		/* NULL while disconnected */
	char		*path;		/* NULL: libwal's default */
	uint64_t	 id;
	uint64_t	 next_seq;
	int		 retry_ms;
	enum wal_ack	 ack;
	uint64_t	 retries;
	char		*err;
	/* The append whose outcome is unknown (pending), kept to resend;
	   ambiguous once a try may have reached walld without an answer. */
	int		 pending;
	int		 ambiguous;
	uint16_t	 type;
	uint32_t	 tenant;
	uint16_t	 vshard;
	void		*data;
	size_t		 len;
};

/* Checks that the connection speaks version 2. */
static int
libwal_prod_version(struct wal_conn *c)
{
	if (wal_conn_version(c) >= 2)
		return (0);
	libwal_seterr(c, 0, "walld speaks protocol version %u: idempotent "
	    "appends need version 2", wal_conn_version(c));
	return (-1);
}

/* Checks an idempotent append and encodes its fixed part into fixed:
   the result (OK) and its length in *flen. */
static enum wal_result
libwal_prod_encode(struct wal_conn *c, uint64_t producer, uint64_t seq,
    uint16_t type, uint32_t tenant, uint16_t vshard, size_t len,
    uint8_t *fixed, size_t *flen)
{
	if (producer == 0 || seq == 0) {
		libwal_seterr(c, 0, "producer id and sequence number start "
		    "at 1");
		return (WAL_RESULT_INVALID);
	}
	if (libwal_prod_version(c) != 0)
		return (WAL_RESULT_VERSION);
	if (libwal_check_len(c, len) == -1)
		return (WAL_RESULT_TOO_LARGE);
	*flen = wire_enc_append_prod(fixed, 0, c->ack, type, vshard, tenant,
	    producer, seq, (uint32_t)len) - WIRE_HDR_LEN;
	return (WAL_RESULT_OK);
}

/* Appends as a producer and waits. */
enum wal_result
wal_conn_append_seq(struct wal_conn *c, uint64_t producer, uint64_t seq,
    uint16_t type, uint32_t tenant, uint16_t vshard, const void *data,
    size_t len, uint64_t *lsn)
{
	uint8_t		fixed[WIRE_ENC_MAX];
	size_t		flen;
	enum wal_result	r;

	if ((r = libwal_prod_encode(c, producer, seq, type, tenant, vshard,
	    len, fixed, &flen)) != WAL_RESULT_OK)
		return (r);
	return (libwal_call(c, WIRE_OP_APPEND, c->ack | WIRE_F_PRODUCER,
	    fixed + WIRE_HDR_LEN, flen, data, len, lsn, c->timeout_ms));
}

/* Queues an append as a producer. */
enum wal_result
wal_conn_submit_append_seq(struct wal_conn *c, uint64_t producer,
    uint64_t seq, uint16_t type, uint32_t tenant, uint16_t vshard,
    const void *data, size_t len, uint64_t *id)
{
	uint8_t		fixed[WIRE_ENC_MAX];
	size_t		flen;
	enum wal_result	r;

	if ((r = libwal_prod_encode(c, producer, seq, type, tenant, vshard,
	    len, fixed, &flen)) != WAL_RESULT_OK)
		return (r);
	return (libwal_submit(c, WIRE_OP_APPEND, c->ack | WIRE_F_PRODUCER,
	    fixed + WIRE_HDR_LEN, flen, data, len, id));
}

/* Keeps a message as the producer's last error. */
static void
libwal_prod_err(struct wal_producer *p, const char *msg)
{
	char	*m;

	if ((m = strdup(msg)) == NULL)
		return;
	free(p->err);
	p->err = m;
}

/* Connects when not connected. */
static enum wal_result
libwal_prod_connect(struct wal_producer *p, int timeout_ms)
{
	enum wal_result	 r;
	char		*cause = NULL;

	if (p->conn != NULL && !wal_conn_closed(p->conn))
		return (WAL_RESULT_OK);
	if (p->conn != NULL) {
		wal_conn_close(p->conn);
		p->conn = NULL;
	}
	r = wal_conn_open(&p->conn, p->path, timeout_ms, &cause);
	if (r != WAL_RESULT_OK) {
		libwal_prod_err(p, cause != NULL ? cause :
		    wal_result_name(r));
		free(cause);
		return (r);
	}
	wal_conn_set_ack(p->conn, p->ack);
	return (WAL_RESULT_OK);
}

/* Opens a producer. */
enum wal_result
wal_producer_open(struct wal_producer **pp, const char *path,
    uint64_t producer, uint64_t next_seq, int retry_ms, char **cause)
{
	struct wal_producer	*p;
	enum wal_result		 r;

	*pp = NULL;
	if ((p = calloc(1, sizeof *p)) == NULL ||
	    (path != NULL && (p->path = strdup(path)) == NULL)) {
		if (cause != NULL)
			*cause = libwal_fmt("%s", strerror(errno));
		free(p);
		return (WAL_RESULT_SYSTEM);
	}
	while (producer == 0) {
		if (getrandom(&producer, sizeof producer, 0) !=
		    (ssize_t)sizeof producer) {
			if (cause != NULL)
				*cause = libwal_fmt("getrandom: %s",
				    strerror(errno));
			wal_producer_close(p);
			return (WAL_RESULT_SYSTEM);
		}
	}
	p->id = producer;
	p->next_seq = next_seq == 0 ? 1 : next_seq;
	p->retry_ms = retry_ms;
	if ((r = libwal_prod_connect(p, retry_ms)) != WAL_RESULT_OK) {
		if (cause != NULL)
			*cause = libwal_fmt("%s", wal_producer_error(p));
		wal_producer_close(p);
		return (r);
	}
	if (libwal_prod_version(p->conn) != 0) {
		if (cause != NULL)
			*cause = libwal_fmt("%s", wal_conn_error(p->conn));
		wal_producer_close(p);
		return (WAL_RESULT_VERSION);
	}
	*pp = p;
	return (WAL_RESULT_OK);
}

/* 1 when a failure leaves the append's outcome open or nothing written
   for a reason that passes: send it again. */
static int
libwal_prod_again(enum wal_result r)
{
	switch (r) {
	case WAL_RESULT_UNKNOWN:
	case WAL_RESULT_UNAVAILABLE:
	case WAL_RESULT_CLOSED:
	case WAL_RESULT_SHUTTING_DOWN:
	case WAL_RESULT_BUSY:
	case WAL_RESULT_NO_SPACE:
	case WAL_RESULT_REPL_BACKLOG:
	case WAL_RESULT_SYSTEM:
	case WAL_RESULT_PROTOCOL:
		return (1);
	default:
		return (0);
	}
}

/* Milliseconds on the monotonic clock. */
static int64_t
libwal_prod_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Sends the pending append until it settles or time runs out. */
static enum wal_result
libwal_prod_send(struct wal_producer *p, uint64_t *lsn)
{
	enum wal_result	 r;
	int64_t		 start = libwal_prod_now(), left;
	int		 backoff = PROD_BACKOFF_MIN_MS, tries = 0;
	struct timespec	 ts;

	for (;;) {
		left = p->retry_ms < 0 ? -1 : p->retry_ms -
		    (libwal_prod_now() - start);
		if (tries > 0 && p->retry_ms >= 0 && left <= 0)
			return (WAL_RESULT_UNKNOWN);
		if (tries++ > 0)
			p->retries++;
		r = libwal_prod_connect(p, left > INT32_MAX ? INT32_MAX :
		    (int)left);
		if (r == WAL_RESULT_OK) {
			r = wal_conn_append_seq(p->conn, p->id, p->next_seq,
			    p->type, p->tenant, p->vshard, p->data, p->len,
			    lsn);
			if (r != WAL_RESULT_OK)
				libwal_prod_err(p, wal_conn_error(p->conn));
		}
		if (r == WAL_RESULT_OK || !libwal_prod_again(r))
			return (r);
		if (r == WAL_RESULT_UNKNOWN || r == WAL_RESULT_SYSTEM ||
		    r == WAL_RESULT_PROTOCOL)
			p->ambiguous = 1;
		if (p->conn != NULL && r != WAL_RESULT_BUSY &&
		    r != WAL_RESULT_NO_SPACE && r != WAL_RESULT_REPL_BACKLOG) {
			wal_conn_close(p->conn);
			p->conn = NULL;
		}
		ts.tv_sec = backoff / 1000;
		ts.tv_nsec = (long)(backoff % 1000) * 1000000;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		if (backoff < PROD_BACKOFF_MAX_MS)
			backoff *= 2;
	}
}

/* Settles the pending append: its sequence number is used once walld
   took it (OK, or durable but not replicated), and free again when it
   was definitely refused the first time it was sent. A refusal after a
   try whose outcome is unknown (the record may be in the log: say an
   access change after a restart), or INTERNAL, settles nothing: the
   number stays the record's, the append stays pending. */
static enum wal_result
libwal_prod_settle(struct wal_producer *p, enum wal_result r)
{
	if (r == WAL_RESULT_UNKNOWN)
		return (r);		/* still pending */
	if (r != WAL_RESULT_OK && r != WAL_RESULT_REPL_UNAVAILABLE &&
	    (p->ambiguous || r == WAL_RESULT_INTERNAL))
		return (r);		/* still pending */
	p->ambiguous = 0;
	p->pending = 0;
	free(p->data);
	p->data = NULL;
	if (r == WAL_RESULT_OK || r == WAL_RESULT_REPL_UNAVAILABLE)
		p->next_seq++;
	return (r);
}

/* Appends one record as the producer. */
enum wal_result
wal_producer_append(struct wal_producer *p, uint16_t type, uint32_t tenant,
    uint16_t vshard, const void *data, size_t len, uint64_t *lsn)
{
	if (p->pending) {
		libwal_prod_err(p, "an earlier append's outcome is unknown: "
		    "settle it with wal_producer_resume first");
		return (WAL_RESULT_INVALID);
	}
	if ((p->data = malloc(len > 0 ? len : 1)) == NULL) {
		libwal_prod_err(p, strerror(errno));
		return (WAL_RESULT_SYSTEM);
	}
	if (len > 0)
		memcpy(p->data, data, len);
	p->len = len;
	p->type = type;
	p->tenant = tenant;
	p->vshard = vshard;
	p->pending = 1;
	p->ambiguous = 0;
	return (libwal_prod_settle(p, libwal_prod_send(p, lsn)));
}

/* Sends the append whose outcome was unknown again. */
enum wal_result
wal_producer_resume(struct wal_producer *p, uint64_t *lsn)
{
	if (!p->pending) {
		libwal_prod_err(p, "no append is pending");
		return (WAL_RESULT_INVALID);
	}
	return (libwal_prod_settle(p, libwal_prod_send(p, lsn)));
}

void
wal_producer_set_ack(struct wal_producer *p, enum wal_ack ack)
{
	p->ack = ack;
	if (p->conn != NULL)
		wal_conn_set_ack(p->conn, ack);
}

uint64_t
wal_producer_id(struct wal_producer *p)
{
	return (p->id);
}

uint64_t
wal_producer_next_seq(struct wal_producer *p)
{
	return (p->next_seq);
}

uint64_t
wal_producer_retries(struct wal_producer *p)
{
	return (p->retries);
}

const char *
wal_producer_error(struct wal_producer *p)
{
	return (p->err != NULL ? p->err : "no error");
}

void
wal_producer_close(struct wal_producer *p)
{
	if (p == NULL)
		return;
	if (p->conn != NULL)
		wal_conn_close(p->conn);
	free(p->path);
	free(p->data);
	free(p->err);
	free(p);
}
