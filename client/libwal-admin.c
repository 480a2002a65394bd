/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libwal-admin.c: administrative calls of protocol version 2 that answer
 * with a report: VERIFY (wal_conn_verify, libwal.h), one blocking
 * request through libwal_call.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libwal.h"
#include "libwal-int.h"
#include "wire.h"

/* The report of a VERIFY reply's body (checked by libwal-io.c); NULL when
   out of memory. */
static struct wal_verify_report *
libwal_verify_take(const uint8_t *b, size_t n)
{
	struct wal_verify_report	*rep;
	struct wal_verify_problem	*p;
	struct wire_verify		 v;
	struct wire_verify_ent		 e;
	const uint8_t			*q;
	const char			*cause;
	size_t				 left, i;

	if (wire_dec_verify(b, n, &v, &cause) != 0 ||
	    (rep = calloc(1, sizeof *rep)) == NULL)
		return (NULL);
	rep->segments = v.segments;
	rep->records = v.records;
	rep->damaged = v.damaged;
	rep->problems = v.problems;
	rep->first_lsn = v.first_lsn;
	rep->last_lsn = v.last_lsn;
	rep->bytes = v.bytes;
	rep->authenticated = (v.flags & WIRE_VERIFY_KEYS) != 0;
	rep->more = (v.flags & WIRE_VERIFY_MORE) != 0;
	if (v.count > 0 &&
	    (rep->list = calloc(v.count, sizeof *rep->list)) == NULL) {
		free(rep);
		return (NULL);
	}
	q = b + WIRE_VERIFY_FIXED;
	left = n - WIRE_VERIFY_FIXED;
	for (i = 0; i < v.count; i++) {
		if (wire_dec_verify_ent(&q, &left, &e, &cause) != 0)
			break;	/* checked already: cannot happen */
		p = &rep->list[i];
		memcpy(p->file, e.file, e.file_len);
		p->file[e.file_len] = '\0';
		p->offset = e.off;
		p->lsn = e.lsn;
		if ((p->what = strndup(e.what, e.what_len)) == NULL) {
			rep->nlisted = i;
			wal_verify_report_free(rep);
			return (NULL);
		}
		rep->nlisted = i + 1;
	}
	return (rep);
}

/* Asks walld to check its sealed segments. */
enum wal_result
wal_conn_verify(struct wal_conn *c, struct wal_verify_report **report)
{
	enum wal_result	res;

	*report = NULL;
	if (c->closed) {
		libwal_seterr(c, 0, "%s", wal_result_name(WAL_RESULT_CLOSED));
		return (WAL_RESULT_CLOSED);
	}
	if (c->version < 2) {
		libwal_seterr(c, 0, "verify needs protocol version 2; walld "
		    "(%s) speaks %u", c->server != NULL ? c->server : "?",
		    c->version);
		return (WAL_RESULT_VERSION);
	}
	res = libwal_call(c, WIRE_OP_VERIFY, 0, NULL, 0, NULL, 0, NULL,
	    c->timeout_ms);
	if (res == WAL_RESULT_OK) {
		if (c->w_body == NULL ||
		    (*report = libwal_verify_take(c->w_body,
		    c->w_body_len)) == NULL) {
			libwal_seterr(c, 0, "out of memory for the verify "
			    "report");
			res = WAL_RESULT_SYSTEM;
		}
	}
	free(c->w_body);
	c->w_body = NULL;
	return (res);
}

void
wal_verify_report_free(struct wal_verify_report *rep)
{
	size_t	i;

	if (rep == NULL)
		return;
	for (i = 0; i < rep->nlisted; i++)
		free(rep->list[i].what);
	free(rep->list);
	free(rep);
}
