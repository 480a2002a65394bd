/* SPDX-License-Identifier: Apache-2.0 */
/*
 * frame.c: encoder and decoder of walld wire frames (proto/PROTOCOL.md).
 * Pure byte shuffling, no I/O and no allocation: every length is checked
 * against the frame before a byte of the body is looked at.
 */
#include <stdint.h>
#include <string.h>

#include "wire.h"

/* Reads a little-endian u16. */
static uint16_t
frame_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

/* Reads a little-endian u32. */
static uint32_t
frame_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	    ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24));
}

/* Reads a little-endian u64. */
static uint64_t
frame_get64(const uint8_t *p)
{
	return ((uint64_t)frame_get32(p) | ((uint64_t)frame_get32(p + 4) << 32));
}

/* Writes a little-endian u16. */
static void
frame_put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

/* Writes a little-endian u32. */
static void
frame_put32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

/* Writes a little-endian u64. */
static void
frame_put64(uint8_t *p, uint64_t v)
{
	frame_put32(p, (uint32_t)v);
	frame_put32(p + 4, (uint32_t)(v >> 32));
}

/* Flag bits an op may carry; -1 when the op is not known. */
static int
frame_op_flags(uint8_t op)
{
	switch (op) {
	case WIRE_OP_APPEND:
		return (WIRE_F_NOWAIT|WIRE_F_REPLICATED|WIRE_F_LOCAL|
		    WIRE_F_PRODUCER);
	case WIRE_OP_SYNC:
		return (WIRE_F_REPLICATED|WIRE_F_LOCAL);
	case WIRE_OP_READ:
		return (WIRE_F_FOLLOW|WIRE_F_TENANT|WIRE_F_VSHARD|WIRE_F_TYPE|
		    WIRE_F_SINCE|WIRE_F_UNTIL);
	case WIRE_OP_TRUNCATE:
		return (WIRE_F_DRY_RUN|WIRE_F_FORCE);
	case WIRE_OP_HELLO:
	case WIRE_OP_SEAL:
	case WIRE_OP_ROTATE:
	case WIRE_OP_STATS:
	case WIRE_OP_PING:
	case WIRE_OP_READ_CANCEL:
	case WIRE_OP_CURSOR_CREATE:
	case WIRE_OP_CURSOR_COMMIT:
	case WIRE_OP_CURSOR_GET:
	case WIRE_OP_CURSOR_LIST:
	case WIRE_OP_CURSOR_DROP:
	case WIRE_OP_CURSOR_CREATE|WIRE_REPLY:
	case WIRE_OP_CURSOR_COMMIT|WIRE_REPLY:
	case WIRE_OP_CURSOR_GET|WIRE_REPLY:
	case WIRE_OP_CURSOR_LIST|WIRE_REPLY:
	case WIRE_OP_CURSOR_DROP|WIRE_REPLY:
	case WIRE_OP_RELOAD:
	case WIRE_OP_RELOAD|WIRE_REPLY:
	case WIRE_OP_VERIFY:
	case WIRE_OP_VERIFY|WIRE_REPLY:
	case WIRE_OP_HELLO|WIRE_REPLY:
	case WIRE_OP_APPEND|WIRE_REPLY:
	case WIRE_OP_SYNC|WIRE_REPLY:
	case WIRE_OP_SEAL|WIRE_REPLY:
	case WIRE_OP_ROTATE|WIRE_REPLY:
	case WIRE_OP_TRUNCATE|WIRE_REPLY:
	case WIRE_OP_STATS|WIRE_REPLY:
	case WIRE_OP_PING|WIRE_REPLY:
	case WIRE_OP_RECORD:
	case WIRE_OP_ERROR:
		return (0);
	case WIRE_OP_READ_END:
		return (WIRE_F_SEALED_END | WIRE_F_UNTIL_END);
	}
	return (-1);
}

/* Looks at the start of a stream for a whole, valid frame header. */
int
wire_peek_hdr(const uint8_t *buf, size_t avail, uint32_t max_frame,
    struct wire_hdr *h, const char **cause)
{
	uint32_t	len;
	int		allowed;

	if (avail < WIRE_HDR_LEN)
		return (0);
	if (max_frame == 0 || max_frame > WIRE_MAX_FRAME_HARD)
		max_frame = WIRE_MAX_FRAME_HARD;

	/* The length first, even when the header is refused: the receiver
	   answers a length above max_frame with TOO_LARGE. */
	len = frame_get32(buf);
	h->len = len;
	if (len < WIRE_MIN_FRAME) {
		*cause = "frame length below the header length";
		return (-1);
	}
	if (len > max_frame) {
		*cause = "frame length above the maximum frame size";
		return (-1);
	}
	if (frame_get16(buf + 6) != 0) {
		*cause = "reserved header field is not zero";
		return (-1);
	}
	allowed = frame_op_flags(buf[4]);
	if (allowed != -1 && (buf[5] & ~allowed) != 0) {
		*cause = "reserved flag bits set";
		return (-1);
	}

	h->op = buf[4];
	h->flags = buf[5];
	h->id = frame_get64(buf + 8);
	return (1);
}

/* Decodes a HELLO request body. */
int
wire_dec_hello(const uint8_t *b, size_t n, struct wire_hello *m,
    const char **cause)
{
	if (n != WIRE_HELLO_LEN) {
		*cause = "hello body is not 4 bytes";
		return (-1);
	}
	m->min_version = frame_get16(b);
	m->max_version = frame_get16(b + 2);
	if (m->min_version == 0 || m->min_version > m->max_version) {
		*cause = "hello version range is empty";
		return (-1);
	}
	return (0);
}

/* Decodes a HELLO reply body. */
int
wire_dec_hello_reply(const uint8_t *b, size_t n, struct wire_hello_reply *m,
    const char **cause)
{
	if (n < 12) {
		*cause = "hello reply body shorter than 12 bytes";
		return (-1);
	}
	if (frame_get16(b + 2) != 0) {
		*cause = "hello reply reserved field is not zero";
		return (-1);
	}
	m->version = frame_get16(b);
	m->max_record = frame_get32(b + 4);
	m->max_frame = frame_get32(b + 8);
	m->server = (const char *)(b + 12);
	m->server_len = n - 12;
	if (m->version == 0) {
		*cause = "hello reply version is zero";
		return (-1);
	}
	if (m->max_record == 0) {
		*cause = "hello reply max_record is zero";
		return (-1);
	}
	if (m->max_frame > WIRE_MAX_FRAME_HARD) {
		*cause = "hello reply max_frame above the hard limit";
		return (-1);
	}
	if ((uint64_t)m->max_record + WIRE_HDR_LEN + WIRE_APPEND_FIXED >
	    m->max_frame) {
		*cause = "hello reply max_frame cannot hold a max_record append";
		return (-1);
	}
	if (memchr(m->server, '\0', m->server_len) != NULL) {
		*cause = "hello reply server string contains a NUL";
		return (-1);
	}
	return (0);
}

/* Decodes an APPEND request body. */
int
wire_dec_append(const uint8_t *b, size_t n, struct wire_append *m,
    const char **cause)
{
	if (n < WIRE_APPEND_FIXED) {
		*cause = "append body shorter than 8 bytes";
		return (-1);
	}
	if (n - WIRE_APPEND_FIXED > UINT32_MAX) {
		*cause = "append payload too long";
		return (-1);
	}
	m->type = frame_get16(b);
	m->vshard = frame_get16(b + 2);
	m->tenant = frame_get32(b + 4);
	m->payload = b + WIRE_APPEND_FIXED;
	m->len = (uint32_t)(n - WIRE_APPEND_FIXED);
	m->producer = 0;
	m->seq = 0;
	return (0);
}

/* Decodes an APPEND body with flag PRODUCER: the producer id and the
   sequence number come between the fixed part and the payload. */
int
wire_dec_append_prod(const uint8_t *b, size_t n, struct wire_append *m,
    const char **cause)
{
	if (n < WIRE_APPEND_FIXED + WIRE_PRODUCER_LEN) {
		*cause = "append body with a producer shorter than 24 bytes";
		return (-1);
	}
	if (wire_dec_append(b, n - WIRE_PRODUCER_LEN, m, cause) != 0)
		return (-1);
	m->producer = frame_get64(b + WIRE_APPEND_FIXED);
	m->seq = frame_get64(b + WIRE_APPEND_FIXED + 8);
	m->payload = b + WIRE_APPEND_FIXED + WIRE_PRODUCER_LEN;
	if (m->producer == 0 || m->seq == 0) {
		*cause = m->producer == 0 ? "producer id 0" :
		    "sequence number 0";
		return (-1);
	}
	return (0);
}

/* Decodes a READ request body. */
int
wire_dec_read(const uint8_t *b, size_t n, struct wire_read *m,
    const char **cause)
{
	if (n != 24 && n != WIRE_READ_TIMES_LEN) {
		*cause = "read body is not 24 or 40 bytes";
		return (-1);
	}
	m->since_ns = n == WIRE_READ_TIMES_LEN ? frame_get64(b + 24) : 0;
	m->until_ns = n == WIRE_READ_TIMES_LEN ? frame_get64(b + 32) : 0;
	m->from = frame_get64(b);
	m->to = frame_get64(b + 8);
	m->tenant = frame_get32(b + 16);
	m->vshard = frame_get16(b + 20);
	m->type = frame_get16(b + 22);
	if (m->to != 0 && m->to < m->from) {
		*cause = "read range ends before it starts";
		return (-1);
	}
	return (0);
}

/* Decodes a RECORD body. */
int
wire_dec_record(const uint8_t *b, size_t n, struct wire_record *m,
    const char **cause)
{
	if (n < WIRE_RECORD_FIXED) {
		*cause = "record body shorter than 16 bytes";
		return (-1);
	}
	if (n - WIRE_RECORD_FIXED > UINT32_MAX) {
		*cause = "record payload too long";
		return (-1);
	}
	m->lsn = frame_get64(b);
	m->type = frame_get16(b + 8);
	m->vshard = frame_get16(b + 10);
	m->tenant = frame_get32(b + 12);
	m->payload = b + WIRE_RECORD_FIXED;
	m->len = (uint32_t)(n - WIRE_RECORD_FIXED);
	if (m->lsn == 0) {
		*cause = "record LSN is zero";
		return (-1);
	}
	return (0);
}

/* Decodes a body that is exactly one u64. */
int
wire_dec_u64(const uint8_t *b, size_t n, uint64_t *v, const char **cause)
{
	if (n != 8) {
		*cause = "body is not 8 bytes";
		return (-1);
	}
	*v = frame_get64(b);
	return (0);
}

/* Decodes an ERROR body. */
int
wire_dec_error(const uint8_t *b, size_t n, struct wire_error *m,
    const char **cause)
{
	if (n < 4) {
		*cause = "error body shorter than 4 bytes";
		return (-1);
	}
	if (frame_get16(b + 2) != 0) {
		*cause = "error reserved field is not zero";
		return (-1);
	}
	m->code = frame_get16(b);
	m->msg = (const char *)(b + 4);
	m->msg_len = n - 4;
	if (m->code == 0) {
		*cause = "error code is zero";
		return (-1);
	}
	if (memchr(m->msg, '\0', m->msg_len) != NULL) {
		*cause = "error message contains a NUL";
		return (-1);
	}
	return (0);
}

/* 1 when name is 1..64 bytes of [A-Za-z0-9._-], the first a letter or a
   digit (a name cannot look like an option, nor be "." or ".."). */
int
wire_cursor_name_valid(const char *name, size_t len)
{
	size_t	i;
	char	ch;

	if (len == 0 || len > WIRE_CURSOR_NAME_MAX)
		return (0);
	for (i = 0; i < len; i++) {
		ch = name[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9'))
			continue;
		if (i > 0 && (ch == '.' || ch == '_' || ch == '-'))
			continue;
		return (0);
	}
	return (1);
}

/* Decodes a cursor request: u64 lsn then the name for create and commit,
   the name alone for the others (list: the name to list after, maybe
   empty). */
int
wire_dec_cursor(uint8_t op, const uint8_t *b, size_t n, struct wire_cursor *m,
    const char **cause)
{
	size_t	off = 0;

	m->lsn = 0;
	if (op == WIRE_OP_CURSOR_CREATE || op == WIRE_OP_CURSOR_COMMIT) {
		if (n < 8) {
			*cause = "cursor body shorter than 8 bytes";
			return (-1);
		}
		m->lsn = frame_get64(b);
		off = 8;
	}
	m->name = (const char *)(b + off);
	m->name_len = n - off;
	if (op == WIRE_OP_CURSOR_LIST && m->name_len == 0)
		return (0);
	if (!wire_cursor_name_valid(m->name, m->name_len)) {
		*cause = "not a valid cursor name (1..64 bytes of "
		    "[A-Za-z0-9._-], the first a letter or a digit)";
		return (-1);
	}
	return (0);
}

/* Decodes a CURSOR_GET reply. */
int
wire_dec_cursor_state(const uint8_t *b, size_t n, uint64_t *lsn,
    uint64_t *commit_ms, const char **cause)
{
	if (n != 16) {
		*cause = "cursor-get reply body is not 16 bytes";
		return (-1);
	}
	*lsn = frame_get64(b);
	*commit_ms = frame_get64(b + 8);
	return (0);
}

/* Takes one CURSOR_LIST entry. */
int
wire_dec_cursor_ent(const uint8_t **p, size_t *left,
    struct wire_cursor_ent *e, const char **cause)
{
	const uint8_t	*b = *p;
	size_t		 nl;

	if (*left < WIRE_CURSOR_ENT_FIXED) {
		*cause = "cursor list entry cut short";
		return (-1);
	}
	nl = b[16];
	if (nl > *left - WIRE_CURSOR_ENT_FIXED ||
	    !wire_cursor_name_valid((const char *)b + WIRE_CURSOR_ENT_FIXED,
	    nl)) {
		*cause = "cursor list entry has no valid name";
		return (-1);
	}
	e->lsn = frame_get64(b);
	e->commit_ms = frame_get64(b + 8);
	e->name = (const char *)b + WIRE_CURSOR_ENT_FIXED;
	e->name_len = nl;
	*p = b + WIRE_CURSOR_ENT_FIXED + nl;
	*left -= WIRE_CURSOR_ENT_FIXED + nl;
	return (0);
}

/* Decodes a CURSOR_LIST reply's head and checks its entries. */
int
wire_dec_cursor_list(const uint8_t *b, size_t n, uint32_t *count,
    uint32_t *flags, const char **cause)
{
	struct wire_cursor_ent	 e;
	const uint8_t		*p;
	size_t			 left;
	uint32_t		 i;

	if (n < WIRE_CURSOR_LIST_FIXED) {
		*cause = "cursor list reply shorter than 8 bytes";
		return (-1);
	}
	*count = frame_get32(b);
	*flags = frame_get32(b + 4);
	if ((*flags & ~(uint32_t)WIRE_CURSOR_MORE) != 0) {
		*cause = "cursor list reply has unknown flags";
		return (-1);
	}
	p = b + WIRE_CURSOR_LIST_FIXED;
	left = n - WIRE_CURSOR_LIST_FIXED;
	for (i = 0; i < *count; i++)
		if (wire_dec_cursor_ent(&p, &left, &e, cause) != 0)
			return (-1);
	if (left != 0) {
		*cause = "cursor list reply has bytes after its entries";
		return (-1);
	}
	return (0);
}

/* Writes a frame header for a body of body_len bytes. */
size_t
wire_enc_hdr(uint8_t *out, uint8_t op, uint8_t flags, uint64_t id,
    size_t body_len)
{
	frame_put32(out, (uint32_t)(WIRE_HDR_LEN + body_len));
	out[4] = op;
	out[5] = flags;
	frame_put16(out + 6, 0);
	frame_put64(out + 8, id);
	return (WIRE_HDR_LEN);
}

/* Writes a whole HELLO request. */
size_t
wire_enc_hello(uint8_t *out, uint64_t id, uint16_t min_version,
    uint16_t max_version)
{
	size_t	off;

	off = wire_enc_hdr(out, WIRE_OP_HELLO, 0, id, 4);
	frame_put16(out + off, min_version);
	frame_put16(out + off + 2, max_version);
	return (off + 4);
}

/* Writes a HELLO reply; the server string (server_len bytes) follows. */
size_t
wire_enc_hello_reply(uint8_t *out, uint64_t id, uint16_t version,
    uint32_t max_record, uint32_t max_frame, size_t server_len)
{
	size_t	off;

	off = wire_enc_hdr(out, WIRE_OP_HELLO|WIRE_REPLY, 0, id,
	    12 + server_len);
	frame_put16(out + off, version);
	frame_put16(out + off + 2, 0);
	frame_put32(out + off + 4, max_record);
	frame_put32(out + off + 8, max_frame);
	return (off + 12);
}

/* Writes an APPEND request up to its payload (payload_len bytes follow). */
size_t
wire_enc_append(uint8_t *out, uint64_t id, uint8_t flags, uint16_t type,
    uint16_t vshard, uint32_t tenant, uint32_t payload_len)
{
	size_t	off;

	off = wire_enc_hdr(out, WIRE_OP_APPEND, flags, id,
	    WIRE_APPEND_FIXED + (size_t)payload_len);
	frame_put16(out + off, type);
	frame_put16(out + off + 2, vshard);
	frame_put32(out + off + 4, tenant);
	return (off + WIRE_APPEND_FIXED);
}

/* The same with a producer id and sequence number (flag PRODUCER). */
size_t
wire_enc_append_prod(uint8_t *out, uint64_t id, uint8_t flags, uint16_t type,
    uint16_t vshard, uint32_t tenant, uint64_t producer, uint64_t seq,
    uint32_t payload_len)
{
	size_t	off;

	off = wire_enc_append(out, id, flags | WIRE_F_PRODUCER, type, vshard,
	    tenant, payload_len + WIRE_PRODUCER_LEN);
	frame_put64(out + off, producer);
	frame_put64(out + off + 8, seq);
	return (off + WIRE_PRODUCER_LEN);
}

/* Writes a whole TRUNCATE reply to a DRY_RUN: the log's first LSN
   afterwards, the segments and the bytes that would go. */
size_t
wire_enc_truncate_plan(uint8_t *out, uint64_t id, uint64_t first,
    uint64_t segments, uint64_t bytes)
{
	size_t	off;

	off = wire_enc_hdr(out, WIRE_OP_TRUNCATE | WIRE_REPLY, 0, id, 24);
	frame_put64(out + off, first);
	frame_put64(out + off + 8, segments);
	frame_put64(out + off + 16, bytes);
	return (off + 24);
}

/* Decodes a TRUNCATE DRY_RUN reply body. */
int
wire_dec_truncate_plan(const uint8_t *b, size_t n, uint64_t *first,
    uint64_t *segments, uint64_t *bytes, const char **cause)
{
	if (n != 24) {
		*cause = "truncate plan body is not 24 bytes";
		return (-1);
	}
	*first = frame_get64(b);
	*segments = frame_get64(b + 8);
	*bytes = frame_get64(b + 16);
	return (0);
}

/* Writes a whole READ request. */
size_t
wire_enc_read(uint8_t *out, uint64_t id, uint8_t flags,
    const struct wire_read *m)
{
	size_t	off;

	off = wire_enc_hdr(out, WIRE_OP_READ, flags, id,
	    (flags & (WIRE_F_SINCE|WIRE_F_UNTIL)) ? WIRE_READ_TIMES_LEN : 24);
	frame_put64(out + off, m->from);
	frame_put64(out + off + 8, m->to);
	frame_put32(out + off + 16, m->tenant);
	frame_put16(out + off + 20, m->vshard);
	frame_put16(out + off + 22, m->type);
	if (flags & (WIRE_F_SINCE|WIRE_F_UNTIL)) {
		frame_put64(out + off + 24, m->since_ns);
		frame_put64(out + off + 32, m->until_ns);
		return (off + WIRE_READ_TIMES_LEN);
	}
	return (off + 24);
}

/* Writes a RECORD frame up to its payload (payload_len bytes follow). */
size_t
wire_enc_record(uint8_t *out, uint64_t id, uint64_t lsn, uint16_t type,
    uint16_t vshard, uint32_t tenant, uint32_t payload_len)
{
	size_t	off;

	off = wire_enc_hdr(out, WIRE_OP_RECORD, 0, id,
	    WIRE_RECORD_FIXED + (size_t)payload_len);
	frame_put64(out + off, lsn);
	frame_put16(out + off + 8, type);
	frame_put16(out + off + 10, vshard);
	frame_put32(out + off + 12, tenant);
	return (off + WIRE_RECORD_FIXED);
}

/* Writes a whole frame whose body is one u64. */
size_t
wire_enc_u64(uint8_t *out, uint8_t op, uint64_t id, uint64_t v)
{
	size_t	off;

	off = wire_enc_hdr(out, op, 0, id, 8);
	frame_put64(out + off, v);
	return (off + 8);
}

/* Writes an ERROR frame up to its message (msg_len bytes follow). */
size_t
wire_enc_error(uint8_t *out, uint64_t id, uint16_t code, size_t msg_len)
{
	size_t	off;

	off = wire_enc_hdr(out, WIRE_OP_ERROR, 0, id, 4 + msg_len);
	frame_put16(out + off, code);
	frame_put16(out + off + 2, 0);
	return (off + 4);
}

/* Writes a cursor request up to its name (name_len bytes follow). */
size_t
wire_enc_cursor(uint8_t *out, uint8_t op, uint64_t id, uint64_t lsn,
    size_t name_len)
{
	size_t	off, fixed = 0;

	if (op == WIRE_OP_CURSOR_CREATE || op == WIRE_OP_CURSOR_COMMIT)
		fixed = 8;
	off = wire_enc_hdr(out, op, 0, id, fixed + name_len);
	if (fixed != 0)
		frame_put64(out + off, lsn);
	return (off + fixed);
}

/* Writes a whole CURSOR_GET reply. */
size_t
wire_enc_cursor_state(uint8_t *out, uint64_t id, uint64_t lsn,
    uint64_t commit_ms)
{
	size_t	off;

	off = wire_enc_hdr(out, WIRE_OP_CURSOR_GET|WIRE_REPLY, 0, id, 16);
	frame_put64(out + off, lsn);
	frame_put64(out + off + 8, commit_ms);
	return (off + 16);
}

/* Writes the head of a CURSOR_LIST reply. */
size_t
wire_enc_cursor_list(uint8_t *out, uint64_t id, uint32_t count,
    uint32_t flags, size_t entries_len)
{
	size_t	off;

	off = wire_enc_hdr(out, WIRE_OP_CURSOR_LIST|WIRE_REPLY, 0, id,
	    WIRE_CURSOR_LIST_FIXED + entries_len);
	frame_put32(out + off, count);
	frame_put32(out + off + 4, flags);
	return (off + WIRE_CURSOR_LIST_FIXED);
}

/* Writes one CURSOR_LIST entry. */
size_t
wire_put_cursor_ent(uint8_t *out, uint64_t lsn, uint64_t commit_ms,
    const char *name, size_t name_len)
{
	frame_put64(out, lsn);
	frame_put64(out + 8, commit_ms);
	out[16] = (uint8_t)name_len;
	memcpy(out + WIRE_CURSOR_ENT_FIXED, name, name_len);
	return (WIRE_CURSOR_ENT_FIXED + name_len);
}

/* Names a message type for log lines. */
const char *
wire_op_name(uint8_t op)
{
	switch (op) {
	case WIRE_OP_HELLO:		return ("hello");
	case WIRE_OP_APPEND:		return ("append");
	case WIRE_OP_SYNC:		return ("sync");
	case WIRE_OP_SEAL:		return ("seal");
	case WIRE_OP_ROTATE:		return ("rotate");
	case WIRE_OP_READ:		return ("read");
	case WIRE_OP_TRUNCATE:		return ("truncate");
	case WIRE_OP_STATS:		return ("stats");
	case WIRE_OP_PING:		return ("ping");
	case WIRE_OP_READ_CANCEL:	return ("read-cancel");
	case WIRE_OP_CURSOR_CREATE:	return ("cursor-create");
	case WIRE_OP_CURSOR_COMMIT:	return ("cursor-commit");
	case WIRE_OP_CURSOR_GET:	return ("cursor-get");
	case WIRE_OP_CURSOR_LIST:	return ("cursor-list");
	case WIRE_OP_CURSOR_DROP:	return ("cursor-drop");
	case WIRE_OP_RELOAD:		return ("reload");
	case WIRE_OP_RELOAD|WIRE_REPLY:	return ("reload-reply");
	case WIRE_OP_VERIFY:		return ("verify");
	case WIRE_OP_VERIFY|WIRE_REPLY:	return ("verify-reply");
	case WIRE_OP_HELLO|WIRE_REPLY:	return ("hello-reply");
	case WIRE_OP_APPEND|WIRE_REPLY:	return ("append-reply");
	case WIRE_OP_SYNC|WIRE_REPLY:	return ("sync-reply");
	case WIRE_OP_SEAL|WIRE_REPLY:	return ("seal-reply");
	case WIRE_OP_ROTATE|WIRE_REPLY:	return ("rotate-reply");
	case WIRE_OP_TRUNCATE|WIRE_REPLY: return ("truncate-reply");
	case WIRE_OP_STATS|WIRE_REPLY:	return ("stats-reply");
	case WIRE_OP_PING|WIRE_REPLY:	return ("ping-reply");
	case WIRE_OP_CURSOR_CREATE|WIRE_REPLY: return ("cursor-create-reply");
	case WIRE_OP_CURSOR_COMMIT|WIRE_REPLY: return ("cursor-commit-reply");
	case WIRE_OP_CURSOR_GET|WIRE_REPLY: return ("cursor-get-reply");
	case WIRE_OP_CURSOR_LIST|WIRE_REPLY: return ("cursor-list-reply");
	case WIRE_OP_CURSOR_DROP|WIRE_REPLY: return ("cursor-drop-reply");
	case WIRE_OP_RECORD:		return ("record");
	case WIRE_OP_READ_END:		return ("read-end");
	case WIRE_OP_ERROR:		return ("error");
	}
	return ("unknown");
}

/* The fixed part of a VERIFY reply. */
void
wire_put_verify(uint8_t *out, const struct wire_verify *v)
{
	frame_put64(out, v->segments);
	frame_put64(out + 8, v->records);
	frame_put64(out + 16, v->damaged);
	frame_put64(out + 24, v->problems);
	frame_put64(out + 32, v->first_lsn);
	frame_put64(out + 40, v->last_lsn);
	frame_put64(out + 48, v->bytes);
	frame_put32(out + 56, v->count);
	frame_put32(out + 60, v->flags);
}

/* One entry of a VERIFY reply. */
size_t
wire_put_verify_ent(uint8_t *out, uint64_t off, uint64_t lsn,
    const char *file, const char *what)
{
	size_t	fl = strlen(file), wl = strlen(what);

	if (fl > WIRE_VERIFY_FILE_MAX)
		fl = WIRE_VERIFY_FILE_MAX;
	if (wl > WIRE_VERIFY_WHAT_MAX)
		wl = WIRE_VERIFY_WHAT_MAX;
	frame_put64(out, off);
	frame_put64(out + 8, lsn);
	out[16] = (uint8_t)fl;
	out[17] = 0;
	frame_put16(out + 18, (uint16_t)wl);
	memcpy(out + WIRE_VERIFY_ENT_FIXED, file, fl);
	memcpy(out + WIRE_VERIFY_ENT_FIXED + fl, what, wl);
	return (WIRE_VERIFY_ENT_FIXED + fl + wl);
}

/* Takes one VERIFY entry from *p. */
int
wire_dec_verify_ent(const uint8_t **p, size_t *left,
    struct wire_verify_ent *e, const char **cause)
{
	const uint8_t	*b = *p;
	size_t		 need;

	if (*left < WIRE_VERIFY_ENT_FIXED) {
		*cause = "verify reply: an entry is cut short";
		return (-1);
	}
	e->off = frame_get64(b);
	e->lsn = frame_get64(b + 8);
	e->file_len = b[16];
	e->what_len = frame_get16(b + 18);
	if (b[17] != 0 || e->file_len > WIRE_VERIFY_FILE_MAX ||
	    e->what_len > WIRE_VERIFY_WHAT_MAX) {
		*cause = "verify reply: an entry's lengths are invalid";
		return (-1);
	}
	need = WIRE_VERIFY_ENT_FIXED + e->file_len + e->what_len;
	if (*left < need) {
		*cause = "verify reply: an entry is cut short";
		return (-1);
	}
	e->file = (const char *)b + WIRE_VERIFY_ENT_FIXED;
	e->what = e->file + e->file_len;
	*p += need;
	*left -= need;
	return (0);
}

/* A VERIFY reply: the fixed part, and every entry checked. */
int
wire_dec_verify(const uint8_t *b, size_t n, struct wire_verify *v,
    const char **cause)
{
	struct wire_verify_ent	 e;
	const uint8_t		*p;
	size_t			 left;
	uint32_t		 i;

	if (n < WIRE_VERIFY_FIXED) {
		*cause = "verify reply: body too short";
		return (-1);
	}
	v->segments = frame_get64(b);
	v->records = frame_get64(b + 8);
	v->damaged = frame_get64(b + 16);
	v->problems = frame_get64(b + 24);
	v->first_lsn = frame_get64(b + 32);
	v->last_lsn = frame_get64(b + 40);
	v->bytes = frame_get64(b + 48);
	v->count = frame_get32(b + 56);
	v->flags = frame_get32(b + 60);
	if (v->flags & ~(uint32_t)(WIRE_VERIFY_MORE|WIRE_VERIFY_KEYS)) {
		*cause = "verify reply: unknown flags";
		return (-1);
	}
	if (v->count > v->problems) {
		*cause = "verify reply: more entries than problems";
		return (-1);
	}
	p = b + WIRE_VERIFY_FIXED;
	left = n - WIRE_VERIFY_FIXED;
	for (i = 0; i < v->count; i++)
		if (wire_dec_verify_ent(&p, &left, &e, cause) != 0)
			return (-1);
	if (left != 0) {
		*cause = "verify reply: bytes after the last entry";
		return (-1);
	}
	return (0);
}

/* Names an error code as an identifier: log lines and metric names. */
const char *
wire_err_name(uint16_t code)
{
	switch (code) {
	case WIRE_E_BAD_REQUEST:	return ("bad_request");
	case WIRE_E_TOO_LARGE:		return ("too_large");
	case WIRE_E_NOT_PERMITTED:	return ("not_permitted");
	case WIRE_E_SEALED:		return ("sealed");
	case WIRE_E_NO_SPACE:		return ("no_space");
	case WIRE_E_IO:			return ("io");
	case WIRE_E_SHUTTING_DOWN:	return ("shutting_down");
	case WIRE_E_VERSION:		return ("version");
	case WIRE_E_RANGE:		return ("range");
	case WIRE_E_BUSY:		return ("busy");
	case WIRE_E_INTERNAL:		return ("internal");
	case WIRE_E_REPL_UNAVAILABLE:	return ("repl_unavailable");
	case WIRE_E_REPL_BACKLOG:	return ("repl_backlog");
	case WIRE_E_SEQUENCE:		return ("sequence");
	case WIRE_E_NOT_FOUND:		return ("not_found");
	case WIRE_E_HELD:		return ("held");
	case WIRE_E_DAMAGED:		return ("damaged");
	case WIRE_E_CONFIG:		return ("config");
	}
	return ("unknown");
}
