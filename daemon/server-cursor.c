/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server-cursor.c: the cursor requests of protocol version 2 (CREATE,
 * COMMIT, GET, LIST, DROP; PROTOCOL.md "Version 2: cursors"): checked
 * against the session and the access list, then handed to the cursor
 * store (cursor.c). A change is answered when the store says its write is
 * durable; until then the connection is held open by a reference.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "config.h"
#include "cursor.h"
#include "log.h"
#include "server-int.h"
#include "wire.h"

#define SERVER_CURSOR_LIST_MAX	(64 * 1024)	/* a LIST reply's body */

/* A change waiting for the cursor file's write: whom to answer. */
struct server_cursor_wait {
	struct conn	*conn;
	uint64_t	 id;
	uint8_t		 op;
	uint64_t	 lsn;		/* the reply's */
};

/* Counts, logs and answers a denied cursor request. */
static void
server_cursor_denied(struct conn *c, uint64_t id, enum access_op op,
    const char *what)
{
	struct server	*srv = c->srv;

	srv->count.denied++;
	srv->count.denied_op[op]++;
	log_limited("access denied", LOG_LVL_INFO, "connection %llu (pid %ld "
	    "uid %ld gid %ld): %s not permitted", (unsigned long long)c->serial,
	    (long)c->pid, (long)c->uid, (long)c->gid, what);
	conn_error(c, id, WIRE_E_NOT_PERMITTED, "%s not permitted for uid %ld",
	    what, (long)c->uid);
}

/* The store wrote (or failed to write) the change: the reply. */
static void
server_cursor_done_cb(void *arg, int ok, const char *cause)
{
	struct server_cursor_wait	*w = arg;
	struct conn			*c = w->conn;

	c->refs--;
	if (c->fd != -1) {
		if (ok)
			conn_reply_u64(c, w->op, w->id, w->lsn);
		else
			conn_error(c, w->id, WIRE_E_IO, "%s: outcome unknown: "
			    "%s", wire_op_name(w->op), cause != NULL ? cause :
			    "the cursors file was not written");
		conn_maybe_close(c);
	}
	conn_release(c);
	free(w);
}

/* CREATE, COMMIT, DROP: the change, answered once durable. */
static void
server_cursor_change(struct conn *c, const struct wire_hdr *h,
    const struct wire_cursor *m, const char *name)
{
	struct server			*srv = c->srv;
	struct access_peer		 p = conn_peer(c);
	struct server_cursor_wait	*w;
	enum cursor_rc			 rc;
	uint64_t			 lsn = m->lsn;
	char				 what[CURSOR_NAME_MAX + 32];

	if (!access_allows_cursor(srv->cfg->access, &p, name, m->name_len)) {
		snprintf(what, sizeof what, "%s of cursor %s",
		    wire_op_name(h->op) + strlen("cursor-"), name);
		server_cursor_denied(c, h->id, ACCESS_CURSOR, what);
		return;
	}
	/* While walld drains, a consumer's last commit is still taken
	   (the stop waits for its write); not after a WAL failure. */
	if (srv->state == SRV_FAILED) {
		conn_error(c, h->id, WIRE_E_SHUTTING_DOWN, "walld is stopping "
		    "after a WAL failure; cursor %s is unchanged", name);
		return;
	}
	if (h->op != WIRE_OP_CURSOR_DROP && lsn > srv->durable) {
		conn_error(c, h->id, WIRE_E_RANGE, "cursor %s: LSN %llu is "
		    "above the durable LSN %llu (a cursor names a record "
		    "consumed)", name, (unsigned long long)lsn,
		    (unsigned long long)srv->durable);
		return;
	}
	if ((w = calloc(1, sizeof *w)) == NULL) {
		conn_error(c, h->id, WIRE_E_INTERNAL, "out of memory");
		return;
	}
	switch (h->op) {
	case WIRE_OP_CURSOR_CREATE:
		rc = cursor_create(srv->cursors, name, &lsn, srv->cfg->cursors_max,
		    server_cursor_done_cb, w);
		break;
	case WIRE_OP_CURSOR_COMMIT:
		rc = cursor_commit(srv->cursors, name, &lsn,
		    server_cursor_done_cb, w);
		break;
	default:
		rc = cursor_drop(srv->cursors, name, &lsn,
		    server_cursor_done_cb, w);
		break;
	}
	switch (rc) {
	case CURSOR_QUEUED:
		w->conn = c;
		w->id = h->id;
		w->op = h->op;
		w->lsn = lsn;
		c->refs++;
		return;
	case CURSOR_ENOENT:
		conn_error(c, h->id, WIRE_E_NOT_FOUND, "no cursor named %s",
		    name);
		break;
	case CURSOR_EBACK:
		conn_error(c, h->id, WIRE_E_RANGE, "cursor %s is at LSN %llu; "
		    "a commit never moves it back (to %llu): drop and create "
		    "it to start again", name, (unsigned long long)lsn,
		    (unsigned long long)m->lsn);
		break;
	case CURSOR_EFULL:
		conn_error(c, h->id, WIRE_E_BUSY, "cursor %s: cursors.max (%u) "
		    "cursors exist; drop one first", name,
		    srv->cfg->cursors_max);
		break;
	case CURSOR_EFAILED:
		conn_error(c, h->id, WIRE_E_IO, "cursor %s is unchanged: an "
		    "earlier write of the cursors file failed; cursors are "
		    "read-only until walld restarts", name);
		break;
	case CURSOR_ENOMEM:
		conn_error(c, h->id, WIRE_E_INTERNAL, "cursor %s: out of "
		    "memory", name);
		break;
	}
	free(w);
}

/* LIST: the durable cursors after `after`, as many as fit a reply. */
static void
server_cursor_list(struct conn *c, uint64_t id, const char *after)
{
	const struct cursor_info	*t;
	uint8_t				 head[WIRE_ENC_MAX], *buf;
	size_t				 n, i, len = 0, limit, nl;
	uint32_t			 count = 0, flags = 0;

	t = cursor_list(c->srv->cursors, &n);
	/* A client takes frames up to max_record + 32 bytes (PROTOCOL.md,
	   HELLO reply). */
	limit = (size_t)c->max_record + 16 - WIRE_CURSOR_LIST_FIXED;
	if (limit > SERVER_CURSOR_LIST_MAX)
		limit = SERVER_CURSOR_LIST_MAX;
	if ((buf = malloc(limit)) == NULL) {
		conn_error(c, id, WIRE_E_INTERNAL, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(t[i].name, after) <= 0)
			continue;
		nl = strlen(t[i].name);
		if (len + WIRE_CURSOR_ENT_FIXED + nl > limit) {
			flags |= WIRE_CURSOR_MORE;
			break;
		}
		len += wire_put_cursor_ent(buf + len, t[i].lsn, t[i].commit_ms,
		    t[i].name, nl);
		count++;
	}
	if (count == 0 && flags != 0) {
		conn_error(c, id, WIRE_E_TOO_LARGE, "cursor-list: not one "
		    "cursor fits a reply under this connection's max_record "
		    "(%u)", c->max_record);
		free(buf);
		return;
	}
	conn_send(c, head, wire_enc_cursor_list(head, id, count, flags, len),
	    buf, len);
	free(buf);
}

/* A cursor request (request_frame's, for ops 0x0b..0x0f). */
void
server_cursor_request(struct conn *c, const struct wire_hdr *h,
    const uint8_t *body, size_t n)
{
	struct server			*srv = c->srv;
	struct access_peer		 p = conn_peer(c);
	struct wire_cursor		 m;
	const struct cursor_info	*ci;
	const char			*why;
	uint8_t				 buf[WIRE_ENC_MAX];
	char				 name[CURSOR_NAME_MAX + 1];

	if (c->version < 2) {
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "%s needs protocol "
		    "version 2; this connection chose %u", wire_op_name(h->op),
		    c->version);
		return;
	}
	if (wire_dec_cursor(h->op, body, n, &m, &why) != 0) {
		conn_fatal(c, h->id, WIRE_E_BAD_REQUEST, "%s: %s",
		    wire_op_name(h->op), why);
		return;
	}
	memcpy(name, m.name, m.name_len);
	name[m.name_len] = '\0';
	if (h->op != WIRE_OP_CURSOR_GET && h->op != WIRE_OP_CURSOR_LIST) {
		server_cursor_change(c, h, &m, name);
		return;
	}
	/* Get and list follow read permission. */
	if (access_read_scope(srv->cfg->access, &p) == ACCESS_SCOPE_NONE) {
		server_cursor_denied(c, h->id, ACCESS_READ, wire_op_name(h->op));
		return;
	}
	if (h->op == WIRE_OP_CURSOR_LIST) {
		server_cursor_list(c, h->id, name);
		return;
	}
	if ((ci = cursor_get(srv->cursors, name)) == NULL) {
		conn_error(c, h->id, WIRE_E_NOT_FOUND, "no cursor named %s",
		    name);
		return;
	}
	conn_send(c, buf, wire_enc_cursor_state(buf, h->id, ci->lsn,
	    ci->commit_ms), NULL, 0);
}
