/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_frame.c: libFuzzer target for the wire decoder (proto/frame.c).
 * The input is a byte stream as a peer would send it, after one byte that
 * picks the max_frame limit. Every frame header is checked with
 * wire_peek_hdr and every body (whole or cut short) goes through every
 * wire_dec_*; what decodes must stay inside the frame and encode back to
 * the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static const uint32_t fuzz_limits[8] = {
	0, WIRE_HDR_LEN, WIRE_HDR_LEN + 1, 64, 4096, 65560, 1048600,
	WIRE_MAX_FRAME_HARD + 1
};

/* The pointer range [p, p + n) lies inside [b, b + len). */
static void
fuzz_inside(const void *p, size_t n, const uint8_t *b, size_t len)
{
	const uint8_t	*q = p;

	if (q < b || q > b + len || n > (size_t)(b + len - q))
		abort();
}

static void
fuzz_body(uint8_t op, const uint8_t *b, size_t n)
{
	struct wire_hello	 hello;
	struct wire_hello_reply	 hr;
	struct wire_append	 a;
	struct wire_read	 r;
	struct wire_record	 rec;
	struct wire_error	 e;
	struct wire_cursor	 cu;
	struct wire_cursor_ent	 ce;
	uint8_t			 out[WIRE_ENC_MAX];
	const uint8_t		*p;
	const char		*why;
	uint64_t		 v, ms;
	uint32_t		 count, flags, i;
	size_t			 k, left;

	why = NULL;
	if (wire_dec_hello(b, n, &hello, &why) == 0) {
		if (hello.min_version == 0 ||
		    hello.min_version > hello.max_version)
			abort();
		k = wire_enc_hello(out, 1, hello.min_version,
		    hello.max_version);
		if (k != WIRE_HDR_LEN + 4 || memcmp(out + WIRE_HDR_LEN, b, 4))
			abort();
	} else if (why == NULL)
		abort();
	why = NULL;
	if (wire_dec_hello_reply(b, n, &hr, &why) == 0) {
		fuzz_inside(hr.server, hr.server_len, b, n);
		if (hr.max_frame > WIRE_MAX_FRAME_HARD ||
		    (uint64_t)hr.max_record + WIRE_HDR_LEN + WIRE_APPEND_FIXED >
		    hr.max_frame || memchr(hr.server, 0, hr.server_len))
			abort();
		wire_enc_hello_reply(out, 1, hr.version, hr.max_record,
		    hr.max_frame, hr.server_len);
		if (memcmp(out + WIRE_HDR_LEN, b, 12) != 0)
			abort();
	} else if (why == NULL)
		abort();
	why = NULL;
	if (wire_dec_append(b, n, &a, &why) == 0) {
		fuzz_inside(a.payload, a.len, b, n);
		if ((const uint8_t *)a.payload + a.len != b + n)
			abort();
		k = wire_enc_append(out, 1, 0, a.type, a.vshard, a.tenant,
		    a.len);
		if (k != WIRE_HDR_LEN + WIRE_APPEND_FIXED ||
		    memcmp(out + WIRE_HDR_LEN, b, WIRE_APPEND_FIXED) != 0)
			abort();
	} else if (why == NULL)
		abort();
	why = NULL;
	if (wire_dec_read(b, n, &r, &why) == 0) {
		if (r.to != 0 && r.to < r.from)
			abort();
		k = wire_enc_read(out, 1, 0, &r);
		if (k != WIRE_HDR_LEN + 24 || memcmp(out + WIRE_HDR_LEN, b, 24))
			abort();
	} else if (why == NULL)
		abort();
	why = NULL;
	if (wire_dec_record(b, n, &rec, &why) == 0) {
		fuzz_inside(rec.payload, rec.len, b, n);
		if (rec.lsn == 0)
			abort();
		wire_enc_record(out, 1, rec.lsn, rec.type, rec.vshard,
		    rec.tenant, rec.len);
		if (memcmp(out + WIRE_HDR_LEN, b, WIRE_RECORD_FIXED) != 0)
			abort();
	} else if (why == NULL)
		abort();
	why = NULL;
	if (wire_dec_u64(b, n, &v, &why) == 0) {
		wire_enc_u64(out, op, 1, v);
		if (memcmp(out + WIRE_HDR_LEN, b, 8) != 0)
			abort();
	} else if (why == NULL)
		abort();
	why = NULL;
	if (wire_dec_error(b, n, &e, &why) == 0) {
		fuzz_inside(e.msg, e.msg_len, b, n);
		if (e.code == 0 || memchr(e.msg, 0, e.msg_len) != NULL)
			abort();
		wire_enc_error(out, 1, e.code, e.msg_len);
		if (memcmp(out + WIRE_HDR_LEN, b, 4) != 0)
			abort();
	} else if (why == NULL)
		abort();
	/* Cursor bodies: a name inside the body and valid; a list whose
	   entries all decode, each inside it. */
	why = NULL;
	if (wire_dec_cursor(op, b, n, &cu, &why) == 0) {
		fuzz_inside(cu.name, cu.name_len, b, n);
		if (cu.name_len != 0 &&
		    !wire_cursor_name_valid(cu.name, cu.name_len))
			abort();
	} else if (why == NULL)
		abort();
	why = NULL;
	if (wire_dec_cursor_state(b, n, &v, &ms, &why) != 0 && why == NULL)
		abort();
	why = NULL;
	if (wire_dec_cursor_list(b, n, &count, &flags, &why) == 0) {
		p = b + WIRE_CURSOR_LIST_FIXED;
		left = n - WIRE_CURSOR_LIST_FIXED;
		for (i = 0; i < count; i++) {
			if (wire_dec_cursor_ent(&p, &left, &ce, &why) != 0)
				abort();
			fuzz_inside(ce.name, ce.name_len, b, n);
		}
		if (left != 0)
			abort();
	} else if (why == NULL)
		abort();
	(void)wire_op_name(op);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_hdr	 h;
	const char	*why;
	uint32_t	 max_frame, limit;
	size_t		 off = 1, avail, n;
	int		 rc;

	if (size < 1)
		return (0);
	max_frame = fuzz_limits[data[0] & 7];
	limit = max_frame == 0 || max_frame > WIRE_MAX_FRAME_HARD ?
	    WIRE_MAX_FRAME_HARD : max_frame;
	while (off < size) {
		avail = size - off;
		why = NULL;
		memset(&h, 0xa5, sizeof h);
		rc = wire_peek_hdr(data + off, avail, max_frame, &h, &why);
		if (rc == 0) {
			if (avail >= WIRE_HDR_LEN)
				abort();	/* a whole header is there */
			break;
		}
		if (rc < 0) {
			if (why == NULL)
				abort();
			break;
		}
		if (rc != 1 || h.len < WIRE_HDR_LEN || h.len > limit)
			abort();
		/* The body as far as the input goes (a frame cut short). */
		n = (h.len < avail ? h.len : avail) - WIRE_HDR_LEN;
		fuzz_body(h.op, data + off + WIRE_HDR_LEN, n);
		(void)wire_err_name((uint16_t)(h.id & 0xffff));
		if (h.len > avail)
			break;
		off += h.len;
	}
	return (0);
}
