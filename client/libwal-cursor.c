/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libwal-cursor.c: durable consumer cursors (libwal.h, docs/CURSORS.md):
 * the blocking calls for CURSOR_CREATE, COMMIT, GET, LIST and DROP of
 * protocol version 2. Each is one request through libwal_call.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libwal.h"
#include "libwal-int.h"
#include "wire.h"

/* 1 when name is a valid cursor name. */
int
wal_cursor_name_valid(const char *name)
{
	return (name != NULL && wire_cursor_name_valid(name,
	    strnlen(name, WIRE_CURSOR_NAME_MAX + 1)));
}

/* Checks what every cursor call needs: version 2 and a valid name. */
static enum wal_result
libwal_cursor_check(struct wal_conn *c, const char *name)
{
	if (c->closed) {
		libwal_seterr(c, 0, "%s", wal_result_name(WAL_RESULT_CLOSED));
		return (WAL_RESULT_CLOSED);
	}
	if (c->version < 2) {
		libwal_seterr(c, 0, "cursors need protocol version 2; walld "
		    "(%s) speaks %u", c->server != NULL ? c->server : "?",
		    c->version);
		return (WAL_RESULT_VERSION);
	}
	if (name != NULL && !wal_cursor_name_valid(name)) {
		libwal_seterr(c, 0, "not a valid cursor name (1..64 bytes of "
		    "[A-Za-z0-9._-], the first a letter or a digit)");
		return (WAL_RESULT_INVALID);
	}
	return (WAL_RESULT_OK);
}

/* One cursor request with a u64 reply. */
static enum wal_result
libwal_cursor_u64(struct wal_conn *c, uint8_t op, const char *name,
    uint64_t lsn, uint64_t *v)
{
	uint8_t		frame[WIRE_ENC_MAX];
	size_t		n, len;
	enum wal_result	res;

	if ((res = libwal_cursor_check(c, name)) != WAL_RESULT_OK)
		return (res);
	len = strlen(name);
	n = wire_enc_cursor(frame, op, 0, lsn, len);
	return (libwal_call(c, op, 0, frame + WIRE_HDR_LEN, n - WIRE_HDR_LEN,
	    name, len, v, c->timeout_ms));
}

enum wal_result
wal_conn_cursor_create(struct wal_conn *c, const char *name, uint64_t lsn,
    uint64_t *cur_lsn)
{
	return (libwal_cursor_u64(c, WIRE_OP_CURSOR_CREATE, name, lsn,
	    cur_lsn));
}

enum wal_result
wal_conn_cursor_commit(struct wal_conn *c, const char *name, uint64_t lsn)
{
	return (libwal_cursor_u64(c, WIRE_OP_CURSOR_COMMIT, name, lsn, NULL));
}

enum wal_result
wal_conn_cursor_drop(struct wal_conn *c, const char *name, uint64_t *last_lsn)
{
	return (libwal_cursor_u64(c, WIRE_OP_CURSOR_DROP, name, 0, last_lsn));
}

/* The cursor's durable state. */
enum wal_result
wal_conn_cursor_get(struct wal_conn *c, const char *name,
    struct wal_cursor_state *st)
{
	const char	*cause;
	enum wal_result	 res;
	size_t		 len;

	memset(st, 0, sizeof *st);
	if ((res = libwal_cursor_check(c, name)) != WAL_RESULT_OK)
		return (res);
	len = strlen(name);
	res = libwal_call(c, WIRE_OP_CURSOR_GET, 0, NULL, 0, name, len, NULL,
	    c->timeout_ms);
	if (res != WAL_RESULT_OK)
		return (res);
	if (c->w_body == NULL || wire_dec_cursor_state(c->w_body,
	    c->w_body_len, &st->lsn, &st->commit_ms, &cause) != 0) {
		libwal_seterr(c, 0, "cursor-get reply lost");
		return (WAL_RESULT_PROTOCOL);
	}
	memcpy(st->name, name, len + 1);
	free(c->w_body);
	c->w_body = NULL;
	return (WAL_RESULT_OK);
}

/* Appends the entries of one LIST reply to *list; *last is the last name
   (for the next page). -1 when out of memory. */
static int
libwal_cursor_take(struct wal_conn *c, struct wal_cursor_state **list,
    size_t *n, size_t *cap, char *last, uint32_t *flags)
{
	struct wal_cursor_state	*nl;
	struct wire_cursor_ent	 e;
	const uint8_t		*p;
	const char		*cause;
	size_t			 left;
	uint32_t		 count, i;

	if (wire_dec_cursor_list(c->w_body, c->w_body_len, &count, flags,
	    &cause) != 0)
		return (-1);
	p = c->w_body + WIRE_CURSOR_LIST_FIXED;
	left = c->w_body_len - WIRE_CURSOR_LIST_FIXED;
	for (i = 0; i < count; i++) {
		if (wire_dec_cursor_ent(&p, &left, &e, &cause) != 0)
			return (-1);
		if (*n == *cap) {
			*cap = *cap == 0 ? 64 : *cap * 2;
			if ((nl = realloc(*list, *cap * sizeof *nl)) == NULL)
				return (-1);
			*list = nl;
		}
		nl = &(*list)[(*n)++];
		memset(nl, 0, sizeof *nl);
		memcpy(nl->name, e.name, e.name_len);
		nl->lsn = e.lsn;
		nl->commit_ms = e.commit_ms;
		memcpy(last, e.name, e.name_len);
		last[e.name_len] = '\0';
	}
	return (0);
}

/* Every cursor: LIST requests, a page at a time. */
enum wal_result
wal_conn_cursor_list(struct wal_conn *c, struct wal_cursor_state **list,
    size_t *n)
{
	char		last[WAL_CURSOR_NAME_MAX + 1] = "";
	size_t		cap = 0;
	uint32_t	flags;
	enum wal_result	res;

	*list = NULL;
	*n = 0;
	if ((res = libwal_cursor_check(c, NULL)) != WAL_RESULT_OK)
		return (res);
	for (;;) {
		res = libwal_call(c, WIRE_OP_CURSOR_LIST, 0, NULL, 0, last,
		    strlen(last), NULL, c->timeout_ms);
		if (res != WAL_RESULT_OK)
			break;
		if (c->w_body == NULL || libwal_cursor_take(c, list, n, &cap,
		    last, &flags) != 0) {
			libwal_seterr(c, 0, "out of memory for the cursor list");
			res = WAL_RESULT_SYSTEM;
			break;
		}
		free(c->w_body);
		c->w_body = NULL;
		if ((flags & WIRE_CURSOR_MORE) == 0)
			return (WAL_RESULT_OK);
	}
	free(c->w_body);
	c->w_body = NULL;
	free(*list);
	*list = NULL;
	*n = 0;
	return (res);
}
