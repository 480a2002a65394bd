/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_frame.c: Check suite for proto/frame.c. Every message round trips,
 * a short buffer asks for more, and every malformed header or body is
 * refused with a cause.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* Peeks a frame and checks its header; returns the body pointer. */
static const uint8_t *
check_frame_peek(const uint8_t *buf, size_t n, uint8_t op, uint8_t flags,
    uint64_t id, struct wire_hdr *h)
{
	const char	*cause = NULL;

	ck_assert_int_eq(wire_peek_hdr(buf, n, WIRE_MAX_FRAME_HARD, h, &cause),
	    1);
	ck_assert_ptr_null(cause);
	ck_assert_uint_eq(h->op, op);
	ck_assert_uint_eq(h->flags, flags);
	ck_assert_uint_eq(h->id, id);
	return (buf + WIRE_HDR_LEN);
}

START_TEST(test_hello)
{
	uint8_t			 b[WIRE_ENC_MAX];
	struct wire_hdr		 h;
	struct wire_hello	 m;
	const char		*cause;
	size_t			 n;

	n = wire_enc_hello(b, 7, 1, 3);
	ck_assert_uint_eq(n, WIRE_HDR_LEN + 4);
	check_frame_peek(b, n, WIRE_OP_HELLO, 0, 7, &h);
	ck_assert_uint_eq(h.len, n);
	ck_assert_int_eq(wire_dec_hello(b + 16, h.len - 16, &m, &cause), 0);
	ck_assert_uint_eq(m.min_version, 1);
	ck_assert_uint_eq(m.max_version, 3);

	ck_assert_int_eq(wire_dec_hello(b + 16, 3, &m, &cause), -1);
	ck_assert_int_eq(wire_dec_hello(b + 16, 5, &m, &cause), -1);
	n = wire_enc_hello(b, 7, 3, 1);
	cause = NULL;
	ck_assert_int_eq(wire_dec_hello(b + 16, 4, &m, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	n = wire_enc_hello(b, 7, 0, 1);
	ck_assert_int_eq(wire_dec_hello(b + 16, 4, &m, &cause), -1);
}
END_TEST

START_TEST(test_hello_reply)
{
	uint8_t			 b[WIRE_ENC_MAX + 16];
	struct wire_hdr		 h;
	struct wire_hello_reply	 m;
	const char		*cause, *srv = "walld 0.1";
	size_t			 n;

	n = wire_enc_hello_reply(b, 9, 1, 1 << 20, (1 << 20) + 64,
	    strlen(srv));
	ck_assert_uint_eq(n, WIRE_HDR_LEN + 12);
	memcpy(b + n, srv, strlen(srv));
	check_frame_peek(b, n, WIRE_OP_HELLO|WIRE_REPLY, 0, 9, &h);
	ck_assert_uint_eq(h.len, n + strlen(srv));
	ck_assert_int_eq(wire_dec_hello_reply(b + 16, h.len - 16, &m, &cause),
	    0);
	ck_assert_uint_eq(m.version, 1);
	ck_assert_uint_eq(m.max_record, 1 << 20);
	ck_assert_uint_eq(m.max_frame, (1 << 20) + 64);
	ck_assert_uint_eq(m.server_len, strlen(srv));
	ck_assert_int_eq(memcmp(m.server, srv, m.server_len), 0);

	/* Too short, reserved bits, zero version, frame too small. */
	ck_assert_int_eq(wire_dec_hello_reply(b + 16, 11, &m, &cause), -1);
	b[16 + 2] = 1;
	ck_assert_int_eq(wire_dec_hello_reply(b + 16, 12, &m, &cause), -1);
	wire_enc_hello_reply(b, 9, 0, 100, 1000, 0);
	ck_assert_int_eq(wire_dec_hello_reply(b + 16, 12, &m, &cause), -1);
	wire_enc_hello_reply(b, 9, 1, 1000, 1023, 0);
	ck_assert_int_eq(wire_dec_hello_reply(b + 16, 12, &m, &cause), -1);
	wire_enc_hello_reply(b, 9, 1, 1000, 1024, 0);
	ck_assert_int_eq(wire_dec_hello_reply(b + 16, 12, &m, &cause), 0);
	wire_enc_hello_reply(b, 9, 1, 0, 1000, 0);
	ck_assert_int_eq(wire_dec_hello_reply(b + 16, 12, &m, &cause), -1);
	wire_enc_hello_reply(b, 9, 1, 100, WIRE_MAX_FRAME_HARD + 1, 0);
	ck_assert_int_eq(wire_dec_hello_reply(b + 16, 12, &m, &cause), -1);
	n = wire_enc_hello_reply(b, 9, 1, 100, 1000, 3);
	memcpy(b + n, "a\0b", 3);
	ck_assert_int_eq(wire_dec_hello_reply(b + 16, 15, &m, &cause), -1);
}
END_TEST

START_TEST(test_append)
{
	uint8_t			 b[WIRE_ENC_MAX + 16];
	struct wire_hdr		 h;
	struct wire_append	 m;
	const char		*cause;
	size_t			 n;

	n = wire_enc_append(b, 0x1122334455667788ull, WIRE_F_NOWAIT, 0xfffe,
	    0x1234, 0xdeadbeef, 5);
	ck_assert_uint_eq(n, WIRE_HDR_LEN + WIRE_APPEND_FIXED);
	memcpy(b + n, "a\0b\xff", 5);
	check_frame_peek(b, n, WIRE_OP_APPEND, WIRE_F_NOWAIT,
	    0x1122334455667788ull, &h);
	ck_assert_uint_eq(h.len, n + 5);
	ck_assert_int_eq(wire_dec_append(b + 16, h.len - 16, &m, &cause), 0);
	ck_assert_uint_eq(m.type, 0xfffe);
	ck_assert_uint_eq(m.vshard, 0x1234);
	ck_assert_uint_eq(m.tenant, 0xdeadbeef);
	ck_assert_uint_eq(m.len, 5);
	ck_assert_int_eq(memcmp(m.payload, "a\0b\xff", 5), 0);

	/* Empty payload is fine; a short fixed part is not. */
	ck_assert_int_eq(wire_dec_append(b + 16, 8, &m, &cause), 0);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_int_eq(wire_dec_append(b + 16, 7, &m, &cause), -1);
	ck_assert_int_eq(wire_dec_append(b + 16, 0, &m, &cause), -1);

	/* Exact byte layout. */
	n = wire_enc_append(b, 1, 0, 2, 3, 4, 0);
	ck_assert_int_eq(memcmp(b, "\x18\0\0\0\x02\0\0\0\x01\0\0\0\0\0\0\0"
	    "\x02\0\x03\0\x04\0\0\0", 24), 0);
}
END_TEST

START_TEST(test_read)
{
	uint8_t			 b[WIRE_ENC_MAX];
	struct wire_hdr		 h;
	struct wire_read	 r = { 5, 100, 7, 8, 9, 0, 0 }, m;
	const char		*cause;
	size_t			 n;
	uint8_t			 fl = WIRE_F_FOLLOW|WIRE_F_TENANT|
				    WIRE_F_VSHARD|WIRE_F_TYPE;

	n = wire_enc_read(b, 3, fl, &r);
	ck_assert_uint_eq(n, WIRE_HDR_LEN + 24);
	check_frame_peek(b, n, WIRE_OP_READ, fl, 3, &h);
	ck_assert_int_eq(wire_dec_read(b + 16, 24, &m, &cause), 0);
	ck_assert_uint_eq(m.from, 5);
	ck_assert_uint_eq(m.to, 100);
	ck_assert_uint_eq(m.tenant, 7);
	ck_assert_uint_eq(m.vshard, 8);
	ck_assert_uint_eq(m.type, 9);
	ck_assert_int_eq(wire_dec_read(b + 16, 23, &m, &cause), -1);
	ck_assert_int_eq(wire_dec_read(b + 16, 25, &m, &cause), -1);

	/* to = 0 means no end; to below from is refused. */
	r.to = 0;
	wire_enc_read(b, 3, 0, &r);
	ck_assert_int_eq(wire_dec_read(b + 16, 24, &m, &cause), 0);
	r.to = 4;
	wire_enc_read(b, 3, 0, &r);
	ck_assert_int_eq(wire_dec_read(b + 16, 24, &m, &cause), -1);
}
END_TEST

START_TEST(test_record)
{
	uint8_t			 b[WIRE_ENC_MAX + 16];
	struct wire_hdr		 h;
	struct wire_record	 m;
	const char		*cause;
	size_t			 n;

	n = wire_enc_record(b, 11, 0xfedcba9876543210ull, 1, 2, 3, 3);
	ck_assert_uint_eq(n, WIRE_HDR_LEN + WIRE_RECORD_FIXED);
	memcpy(b + n, "xyz", 3);
	check_frame_peek(b, n, WIRE_OP_RECORD, 0, 11, &h);
	ck_assert_int_eq(wire_dec_record(b + 16, h.len - 16, &m, &cause), 0);
	ck_assert_uint_eq(m.lsn, 0xfedcba9876543210ull);
	ck_assert_uint_eq(m.type, 1);
	ck_assert_uint_eq(m.vshard, 2);
	ck_assert_uint_eq(m.tenant, 3);
	ck_assert_uint_eq(m.len, 3);
	ck_assert_int_eq(memcmp(m.payload, "xyz", 3), 0);
	ck_assert_int_eq(wire_dec_record(b + 16, 15, &m, &cause), -1);
	wire_enc_record(b, 11, 0, 1, 2, 3, 0);
	ck_assert_int_eq(wire_dec_record(b + 16, 16, &m, &cause), -1);
}
END_TEST

START_TEST(test_u64_replies)
{
	static const uint8_t	 ops[] = { WIRE_OP_APPEND|WIRE_REPLY,
	    WIRE_OP_SYNC|WIRE_REPLY, WIRE_OP_SEAL|WIRE_REPLY,
	    WIRE_OP_ROTATE|WIRE_REPLY, WIRE_OP_TRUNCATE|WIRE_REPLY,
	    WIRE_OP_TRUNCATE, WIRE_OP_READ_END };
	uint8_t			 b[WIRE_ENC_MAX];
	struct wire_hdr		 h;
	const char		*cause;
	uint64_t		 v;
	size_t			 i, n;

	for (i = 0; i < sizeof ops; i++) {
		n = wire_enc_u64(b, ops[i], i, UINT64_MAX - i);
		ck_assert_uint_eq(n, WIRE_HDR_LEN + 8);
		check_frame_peek(b, n, ops[i], 0, i, &h);
		ck_assert_uint_eq(h.len, 24);
		ck_assert_int_eq(wire_dec_u64(b + 16, 8, &v, &cause), 0);
		ck_assert_uint_eq(v, UINT64_MAX - i);
		ck_assert_int_eq(wire_dec_u64(b + 16, 7, &v, &cause), -1);
		ck_assert_int_eq(wire_dec_u64(b + 16, 9, &v, &cause), -1);
	}
}
END_TEST

START_TEST(test_empty_bodies)
{
	static const uint8_t	 ops[] = { WIRE_OP_SYNC, WIRE_OP_SEAL,
	    WIRE_OP_ROTATE, WIRE_OP_STATS, WIRE_OP_PING, WIRE_OP_READ_CANCEL,
	    WIRE_OP_PING|WIRE_REPLY };
	uint8_t			 b[WIRE_ENC_MAX];
	struct wire_hdr		 h;
	size_t			 i, n;

	for (i = 0; i < sizeof ops; i++) {
		n = wire_enc_hdr(b, ops[i], 0, 42, 0);
		ck_assert_uint_eq(n, WIRE_HDR_LEN);
		check_frame_peek(b, n, ops[i], 0, 42, &h);
		ck_assert_uint_eq(h.len, WIRE_HDR_LEN);
	}
}
END_TEST

START_TEST(test_error)
{
	uint8_t			 b[WIRE_ENC_MAX + 32];
	struct wire_hdr		 h;
	struct wire_error	 m;
	const char		*cause, *msg = "log is sealed";
	size_t			 n;

	n = wire_enc_error(b, 12, WIRE_E_SEALED, strlen(msg));
	ck_assert_uint_eq(n, WIRE_HDR_LEN + 4);
	memcpy(b + n, msg, strlen(msg));
	check_frame_peek(b, n, WIRE_OP_ERROR, 0, 12, &h);
	ck_assert_int_eq(wire_dec_error(b + 16, h.len - 16, &m, &cause), 0);
	ck_assert_uint_eq(m.code, WIRE_E_SEALED);
	ck_assert_uint_eq(m.msg_len, strlen(msg));
	ck_assert_int_eq(memcmp(m.msg, msg, m.msg_len), 0);
	ck_assert_str_eq(wire_err_name(m.code), "sealed");

	ck_assert_int_eq(wire_dec_error(b + 16, 3, &m, &cause), -1);
	b[16 + 3] = 1;
	ck_assert_int_eq(wire_dec_error(b + 16, 4, &m, &cause), -1);
	wire_enc_error(b, 12, 0, 0);
	ck_assert_int_eq(wire_dec_error(b + 16, 4, &m, &cause), -1);
	n = wire_enc_error(b, 12, WIRE_E_IO, 2);
	memcpy(b + n, "a\0", 2);
	ck_assert_int_eq(wire_dec_error(b + 16, 6, &m, &cause), -1);
}
END_TEST

START_TEST(test_truncated)
{
	uint8_t			 b[WIRE_ENC_MAX];
	struct wire_hdr		 h;
	const char		*cause;
	size_t			 i;

	wire_enc_u64(b, WIRE_OP_SYNC|WIRE_REPLY, 1, 2);
	for (i = 0; i < WIRE_HDR_LEN; i++)
		ck_assert_int_eq(wire_peek_hdr(b, i, 1 << 20, &h, &cause), 0);
	ck_assert_int_eq(wire_peek_hdr(b, WIRE_HDR_LEN, 1 << 20, &h, &cause),
	    1);
	/* Garbage in a short buffer still asks for more, never reads it. */
	memset(b, 0xff, sizeof b);
	ck_assert_int_eq(wire_peek_hdr(b, 15, 1 << 20, &h, &cause), 0);
}
END_TEST

START_TEST(test_bad_headers)
{
	uint8_t			 b[WIRE_ENC_MAX];
	struct wire_hdr		 h;
	const char		*cause;
	uint32_t		 len;

	/* Length below the header: 0 and 15. */
	for (len = 0; len < WIRE_HDR_LEN; len++) {
		wire_enc_hdr(b, WIRE_OP_PING, 0, 1, 0);
		b[0] = len;
		cause = NULL;
		ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause),
		    -1);
		ck_assert_ptr_nonnull(cause);
		ck_assert_uint_eq(h.len, len);
	}

	/* Length above max_frame, and the largest u32. */
	wire_enc_hdr(b, WIRE_OP_APPEND, 0, 1, 1000);
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1016, &h, &cause), 1);
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1015, &h, &cause), -1);
	/* A refused header still gives its length: too large, not malformed. */
	ck_assert_uint_eq(h.len, 1016);
	memset(b, 0xff, 4);
	cause = NULL;
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_uint_eq(h.len, UINT32_MAX);
	ck_assert_int_eq(wire_peek_hdr(b, 16, UINT32_MAX, &h, &cause), -1);
	/* max_frame above the hard limit is clamped to it. */
	wire_enc_hdr(b, WIRE_OP_APPEND, 0, 1, WIRE_MAX_FRAME_HARD);
	ck_assert_int_eq(wire_peek_hdr(b, 16, UINT32_MAX, &h, &cause), -1);

	/* Reserved u16 not zero, either byte. */
	wire_enc_hdr(b, WIRE_OP_PING, 0, 1, 0);
	b[6] = 1;
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), -1);
	wire_enc_hdr(b, WIRE_OP_PING, 0, 1, 0);
	b[7] = 0x80;
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), -1);

	/* Flags not defined for the op. */
	wire_enc_hdr(b, WIRE_OP_PING, WIRE_F_NOWAIT, 1, 0);
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), -1);
	wire_enc_hdr(b, WIRE_OP_APPEND, 0x10, 1, 8);	/* 0x08: PRODUCER */
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), -1);
	wire_enc_hdr(b, WIRE_OP_SYNC, WIRE_F_NOWAIT, 1, 0);
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), -1);
	/* The acknowledgement levels (replication) are append's and sync's. */
	wire_enc_hdr(b, WIRE_OP_APPEND, WIRE_F_NOWAIT|WIRE_F_REPLICATED, 1, 8);
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), 1);
	wire_enc_hdr(b, WIRE_OP_SYNC, WIRE_F_LOCAL, 1, 0);
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), 1);
	wire_enc_hdr(b, WIRE_OP_SEAL, WIRE_F_REPLICATED, 1, 0);
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), -1);
	wire_enc_hdr(b, WIRE_OP_READ, 0x40, 1, 24);	/* 0x10, 0x20: times */
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), -1);
	wire_enc_hdr(b, WIRE_OP_READ, WIRE_F_SINCE|WIRE_F_UNTIL, 1, 40);
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), 1);
	wire_enc_hdr(b, WIRE_OP_TRUNCATE, 0x04, 1, 8);	/* 0x01, 0x02 known */
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), -1);
	wire_enc_hdr(b, WIRE_OP_APPEND|WIRE_REPLY, WIRE_F_NOWAIT, 1, 8);
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), -1);

	/* An unknown op passes the header check: the receiver answers it. */
	wire_enc_hdr(b, 0x42, 0x03, 1, 0);
	ck_assert_int_eq(wire_peek_hdr(b, 16, 1 << 20, &h, &cause), 1);
	ck_assert_str_eq(wire_op_name(0x42), "unknown");
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(wire_op_name(WIRE_OP_APPEND), "append");
	ck_assert_str_eq(wire_op_name(WIRE_OP_READ_END), "read-end");
	ck_assert_str_eq(wire_err_name(WIRE_E_IO), "io");
	ck_assert_str_eq(wire_err_name(WIRE_E_BAD_REQUEST), "bad_request");
	ck_assert_str_eq(wire_err_name(999), "unknown");
}
END_TEST

/* Builds the suite. */
/* Cursor requests and replies, both ways; bad names and bodies refused. */
START_TEST(test_cursor)
{
	uint8_t			 buf[256], ent[WIRE_CURSOR_ENT_MAX];
	struct wire_cursor	 m;
	struct wire_cursor_ent	 e;
	const uint8_t		*p;
	const char		*cause;
	uint64_t		 lsn, ms;
	uint32_t		 count, flags;
	size_t			 n, len, left;

	n = wire_enc_cursor(buf, WIRE_OP_CURSOR_COMMIT, 5, 42, 3);
	ck_assert_uint_eq(n, WIRE_HDR_LEN + 8);
	memcpy(buf + n, "etl", 3);
	ck_assert_int_eq(wire_dec_cursor(WIRE_OP_CURSOR_COMMIT,
	    buf + WIRE_HDR_LEN, 11, &m, &cause), 0);
	ck_assert_uint_eq(m.lsn, 42);
	ck_assert_uint_eq(m.name_len, 3);
	ck_assert_int_eq(memcmp(m.name, "etl", 3), 0);
	ck_assert_int_eq(wire_dec_cursor(WIRE_OP_CURSOR_COMMIT,
	    buf + WIRE_HDR_LEN, 8, &m, &cause), -1);
	ck_assert_int_eq(wire_dec_cursor(WIRE_OP_CURSOR_GET,
	    (const uint8_t *)"a b", 3, &m, &cause), -1);
	ck_assert_int_eq(wire_dec_cursor(WIRE_OP_CURSOR_GET,
	    (const uint8_t *)"", 0, &m, &cause), -1);
	ck_assert_int_eq(wire_dec_cursor(WIRE_OP_CURSOR_LIST,
	    (const uint8_t *)"", 0, &m, &cause), 0);
	ck_assert_int_eq(wire_dec_cursor(WIRE_OP_CURSOR_CREATE,
	    (const uint8_t *)"12345", 5, &m, &cause), -1);

	n = wire_enc_cursor_state(buf, 9, 7, 1234);
	ck_assert_int_eq(wire_dec_cursor_state(buf + WIRE_HDR_LEN,
	    n - WIRE_HDR_LEN, &lsn, &ms, &cause), 0);
	ck_assert_uint_eq(lsn, 7);
	ck_assert_uint_eq(ms, 1234);

	len = wire_put_cursor_ent(ent, 11, 22, "a.b", 3);
	ck_assert_uint_eq(len, WIRE_CURSOR_ENT_FIXED + 3);
	n = wire_enc_cursor_list(buf, 9, 2, WIRE_CURSOR_MORE, 2 * len);
	memcpy(buf + n, ent, len);
	memcpy(buf + n + len, ent, len);
	ck_assert_int_eq(wire_dec_cursor_list(buf + WIRE_HDR_LEN,
	    WIRE_CURSOR_LIST_FIXED + 2 * len, &count, &flags, &cause), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(flags, WIRE_CURSOR_MORE);
	p = buf + n;
	left = 2 * len;
	ck_assert_int_eq(wire_dec_cursor_ent(&p, &left, &e, &cause), 0);
	ck_assert_uint_eq(e.lsn, 11);
	ck_assert_uint_eq(e.commit_ms, 22);
	ck_assert_uint_eq(left, len);
	/* A count above the entries, bytes after them. */
	ck_assert_int_eq(wire_dec_cursor_list(buf + WIRE_HDR_LEN,
	    WIRE_CURSOR_LIST_FIXED + len, &count, &flags, &cause), -1);
	buf[WIRE_HDR_LEN] = 1;
	ck_assert_int_eq(wire_dec_cursor_list(buf + WIRE_HDR_LEN,
	    WIRE_CURSOR_LIST_FIXED + 2 * len, &count, &flags, &cause), -1);
	/* READ_END may carry SEALED_END or UNTIL_END, nothing else; a
	   reply may not carry flags. */
	n = wire_enc_u64(buf, WIRE_OP_READ_END, 3, 9);
	buf[5] = WIRE_F_SEALED_END;
	ck_assert_int_eq(wire_peek_hdr(buf, n, 0, &(struct wire_hdr){ 0 },
	    &cause), 1);
	buf[5] = WIRE_F_UNTIL_END;
	ck_assert_int_eq(wire_peek_hdr(buf, n, 0, &(struct wire_hdr){ 0 },
	    &cause), 1);
	buf[5] = 0x04;
	ck_assert_int_eq(wire_peek_hdr(buf, n, 0, &(struct wire_hdr){ 0 },
	    &cause), -1);
	n = wire_enc_u64(buf, WIRE_OP_CURSOR_COMMIT | WIRE_REPLY, 3, 9);
	buf[5] = 1;
	ck_assert_int_eq(wire_peek_hdr(buf, n, 0, &(struct wire_hdr){ 0 },
	    &cause), -1);
}
END_TEST

static Suite *
check_frame_suite(void)
{
	Suite	*s = suite_create("frame");
	TCase	*tc = tcase_create("frame");

	tcase_add_test(tc, test_hello);
	tcase_add_test(tc, test_hello_reply);
	tcase_add_test(tc, test_append);
	tcase_add_test(tc, test_read);
	tcase_add_test(tc, test_record);
	tcase_add_test(tc, test_u64_replies);
	tcase_add_test(tc, test_empty_bodies);
	tcase_add_test(tc, test_error);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_bad_headers);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_cursor);
	suite_add_tcase(s, tc);
	return (s);
}

/* Runs the suite. */
int
main(void)
{
	SRunner	*sr = srunner_create(check_frame_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
