/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire.h: the walld wire protocol (proto/PROTOCOL.md is the specification).
 * Message types, limits, and the encoder/decoder in frame.c. No I/O here:
 * callers hand in bytes and get bytes back.
 *
 * Every frame, either direction, little-endian:
 *
 *   0  u32  len     whole frame length in bytes, header included (>= 16)
 *   4  u8   op      message type (WIRE_OP_*)
 *   5  u8   flags   per-op flags
 *   6  u16  zero    reserved, must be 0
 *   8  u64  id      request id, chosen by the client, echoed by replies
 *  16  ...  body    op-specific
 */
#ifndef WALD_WIRE_H
#define WALD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION		2	/* the newest this code speaks */
#define WIRE_VERSION_MIN	1	/* the oldest it still speaks */
#define WIRE_HDR_LEN		16
#define WIRE_MIN_FRAME		WIRE_HDR_LEN
#define WIRE_MAX_FRAME_HARD	(17u << 20)	/* no frame above this, ever */
#define WIRE_APPEND_FIXED	8		/* append body before the payload */
#define WIRE_PRODUCER_LEN	16		/* then, with flag PRODUCER */
#define WIRE_HELLO_LEN		4		/* a HELLO request's body */
#define WIRE_RECORD_FIXED	16		/* record body before the payload */

/* Requests (client to server). */
enum wire_op {
	WIRE_OP_HELLO		= 0x01,
	WIRE_OP_APPEND		= 0x02,
	WIRE_OP_SYNC		= 0x03,
	WIRE_OP_SEAL		= 0x04,
	WIRE_OP_ROTATE		= 0x05,
	WIRE_OP_READ		= 0x06,
	WIRE_OP_TRUNCATE	= 0x07,
	WIRE_OP_STATS		= 0x08,
	WIRE_OP_PING		= 0x09,
	WIRE_OP_READ_CANCEL	= 0x0a,
	/* Version 2 (PROTOCOL.md "Version 2"): durable consumer cursors. */
	WIRE_OP_CURSOR_CREATE	= 0x0b,
	WIRE_OP_CURSOR_COMMIT	= 0x0c,
	WIRE_OP_CURSOR_GET	= 0x0d,
	WIRE_OP_CURSOR_LIST	= 0x0e,
	WIRE_OP_CURSOR_DROP	= 0x0f,
	WIRE_OP_RELOAD		= 0x11,	/* reload the configuration, as SIGHUP */
	WIRE_OP_VERIFY		= 0x12,	/* version 2: check the sealed
					   segments (walld's scrub) */
};
#define WIRE_REPLY		0x80	/* reply op = request op | WIRE_REPLY */
#define WIRE_OP_RECORD		0xc0	/* one record of a read stream */
#define WIRE_OP_READ_END	0xc1	/* end of a read stream */
#define WIRE_OP_ERROR		0xff	/* error reply to any request */

/* Flags. */
#define WIRE_F_NOWAIT		0x01	/* append: reply with the LSN at once */
#define WIRE_F_REPLICATED	0x02	/* append, sync: reply once replicated */
#define WIRE_F_LOCAL		0x04	/* append, sync: once durable here */
#define WIRE_F_PRODUCER		0x08	/* append (version 2): the body has
					   a producer id and sequence */
#define WIRE_F_DRY_RUN		0x01	/* truncate: say, remove nothing */
#define WIRE_F_FORCE		0x02	/* truncate: even past a cursor */
#define WIRE_F_FOLLOW		0x01	/* read: keep streaming new records */
#define WIRE_F_TENANT		0x02	/* read: filter on tenant */
#define WIRE_F_VSHARD		0x04	/* read: filter on vshard */
#define WIRE_F_TYPE		0x08	/* read: filter on record type */
#define WIRE_F_SINCE		0x10	/* read (version 2): records whose
					   time is at or after since_ns */
#define WIRE_F_UNTIL		0x20	/* read (version 2): at or before
					   until_ns */
#define WIRE_READ_TIMES_LEN	40	/* a READ body with since, until */
#define WIRE_F_SEALED_END	0x01	/* read-end (version 2): the log is
					   sealed and the read is past its
					   last record: nothing will follow */
#define WIRE_F_UNTIL_END	0x02	/* read-end (version 2): a FOLLOW
					   read with UNTIL is past it: no
					   later record can match */

/* Error codes (body of WIRE_OP_ERROR). */
enum wire_err {
	WIRE_E_BAD_REQUEST	= 1,	/* malformed or unknown request */
	WIRE_E_TOO_LARGE	= 2,	/* record or frame above the limit */
	WIRE_E_NOT_PERMITTED	= 3,
	WIRE_E_SEALED		= 4,	/* the log is sealed */
	WIRE_E_NO_SPACE		= 5,	/* nothing written; retry later */
	WIRE_E_IO		= 6,	/* write/sync failed: outcome unknown */
	WIRE_E_SHUTTING_DOWN	= 7,	/* not accepted; nothing written */
	WIRE_E_VERSION		= 8,	/* no common protocol version */
	WIRE_E_RANGE		= 9,	/* LSN out of range (e.g. truncated) */
	WIRE_E_BUSY		= 10,	/* limit reached; nothing written */
	WIRE_E_INTERNAL		= 11,
	WIRE_E_REPL_UNAVAILABLE	= 12,	/* durable here, not replicated in
					   time: will be, nothing to redo */
	WIRE_E_REPL_BACKLOG	= 13,	/* nothing written: the backlog not
					   yet replicated is full */
	WIRE_E_DAMAGED		= 14,	/* the log is damaged where a read
					   went: a record failed its checks */
	WIRE_E_SEQUENCE		= 15,	/* a producer's sequence out of
					   order: nothing written */
	WIRE_E_NOT_FOUND	= 16,	/* no such cursor */
	WIRE_E_HELD		= 17,	/* truncation would pass a cursor */
	WIRE_E_CONFIG		= 18,	/* a RELOAD refused: the configuration
					   or key ring has an error; nothing
					   changed */
};
#define WIRE_E_MAX		WIRE_E_CONFIG

/* A decoded frame header. */
struct wire_hdr {
	uint32_t	len;
	uint8_t		op;
	uint8_t		flags;
	uint64_t	id;
};

/* HELLO request body: u16 min_version, u16 max_version. */
struct wire_hello {
	uint16_t	min_version;
	uint16_t	max_version;
};

/* HELLO reply body: u16 version, u16 zero, u32 max_record, u32 max_frame,
   then the server version string (no NUL). */
struct wire_hello_reply {
	uint16_t	 version;
	uint32_t	 max_record;
	uint32_t	 max_frame;
	const char	*server;	/* points into the frame; not NUL-terminated */
	size_t		 server_len;
};

/* APPEND request body: u16 type, u16 vshard, u32 tenant, [with flag
   PRODUCER: u64 producer id, u64 sequence number,] payload.
   Reply body: u64 lsn. */
struct wire_append {
	uint16_t	 type;
	uint16_t	 vshard;
	uint32_t	 tenant;
	uint64_t	 producer;	/* 0: none */
	uint64_t	 seq;
	const void	*payload;	/* points into the frame */
	uint32_t	 len;
};

/* READ request body: u64 from, u64 to (inclusive; 0 = no end), u32 tenant,
   u16 vshard, u16 type; flags say which filters apply and whether to
   follow. The server answers with RECORD frames then one READ_END (body:
   u64 next LSN), or an ERROR; all carry the READ's id. */
struct wire_read {
	uint64_t	from;
	uint64_t	to;
	uint32_t	tenant;
	uint16_t	vshard;
	uint16_t	type;
	uint64_t	since_ns;	/* body of 40 bytes (version 2): unix */
	uint64_t	until_ns;	/* ns, used with WIRE_F_SINCE/UNTIL */
};

/* RECORD body: u64 lsn, u16 type, u16 vshard, u32 tenant, payload. */
struct wire_record {
	uint64_t	 lsn;
	uint16_t	 type;
	uint16_t	 vshard;
	uint32_t	 tenant;
	const void	*payload;
	uint32_t	 len;
};

/*
 * Cursors (version 2, PROTOCOL.md "Version 2: cursors"). A name is 1..64
 * bytes of [A-Za-z0-9._-], the first a letter or a digit.
 *   CURSOR_CREATE, CURSOR_COMMIT body: u64 lsn, then the name;
 *	reply: u64 the cursor's LSN.
 *   CURSOR_GET body: the name; reply: u64 lsn, u64 commit time (Unix ms).
 *   CURSOR_DROP body: the name; reply: u64 the LSN it had.
 *   CURSOR_LIST body: the name to list after (empty: from the first);
 *	reply: u32 count, u32 flags (WIRE_CURSOR_MORE), then count entries
 *	of u64 lsn, u64 commit time, u8 name length, the name; by name.
 */
#define WIRE_CURSOR_NAME_MAX	64
#define WIRE_CURSOR_ENT_FIXED	17	/* list entry before its name */
#define WIRE_CURSOR_ENT_MAX	(WIRE_CURSOR_ENT_FIXED + WIRE_CURSOR_NAME_MAX)
#define WIRE_CURSOR_LIST_FIXED	8	/* list reply before its entries */
#define WIRE_CURSOR_MORE	0x1	/* list reply: more after the last */

struct wire_cursor {
	uint64_t	 lsn;		/* create, commit; else 0 */
	const char	*name;		/* points into the frame */
	size_t		 name_len;
};

/* One entry of a CURSOR_LIST reply. */
struct wire_cursor_ent {
	uint64_t	 lsn;
	uint64_t	 commit_ms;
	const char	*name;		/* points into the frame */
	size_t		 name_len;
};

/*
 * VERIFY (version 2, PROTOCOL.md "VERIFY"): an empty request; walld
 * checks every sealed segment and replies with what it found:
 *   0 u64 segments checked	8 u64 records checked
 *   16 u64 records damaged	24 u64 problems found (listed or not)
 *   32 u64 first LSN checked	40 u64 last LSN checked (0: none)
 *   48 u64 bytes read		56 u32 count of entries that follow
 *   60 u32 flags (WIRE_VERIFY_*)
 * then count entries: u64 offset, u64 LSN, u8 file name length, u8
 * zero, u16 length of what, the file name, what (UTF-8, no NUL).
 */
#define WIRE_VERIFY_FIXED	64
#define WIRE_VERIFY_ENT_FIXED	20
#define WIRE_VERIFY_FILE_MAX	31	/* a segment's name is 24 bytes */
#define WIRE_VERIFY_WHAT_MAX	511
#define WIRE_VERIFY_MORE	0x1	/* more problems than listed */
#define WIRE_VERIFY_KEYS	0x2	/* records of encrypted segments were
					   authenticated (walld holds a key
					   ring) */
#define WIRE_VERIFY_BODY_MAX	(64u << 10)	/* walld lists no more */

struct wire_verify {
	uint64_t	segments;
	uint64_t	records;
	uint64_t	damaged;
	uint64_t	problems;
	uint64_t	first_lsn;
	uint64_t	last_lsn;
	uint64_t	bytes;
	uint32_t	count;
	uint32_t	flags;
};

struct wire_verify_ent {
	uint64_t	 off;
	uint64_t	 lsn;
	const char	*file;		/* point into the frame */
	size_t		 file_len;
	const char	*what;
	size_t		 what_len;
};

/* ERROR body: u16 code, u16 zero, message bytes (UTF-8, no NUL). */
struct wire_error {
	uint16_t	 code;
	const char	*msg;
	size_t		 msg_len;
};

/*
 * Decoding. wire_peek_hdr looks at the first bytes of a stream: it returns
 * 1 and fills *h when a whole header is there and valid, 0 when more bytes
 * are needed, -1 with *cause (a static string) when the header is invalid
 * (length below the header or above max_frame, reserved bits set); then
 * only h->len is filled, the length as sent, so that a receiver can tell a
 * frame above max_frame from a malformed one. The caller then waits for
 * h->len bytes and decodes the body, which is the h->len - WIRE_HDR_LEN
 * bytes after the header.
 */
int	wire_peek_hdr(const uint8_t *buf, size_t avail, uint32_t max_frame,
	    struct wire_hdr *h, const char **cause);

/* Body decoders: 0, or -1 with *cause when the body has the wrong size. */
int	wire_dec_hello(const uint8_t *b, size_t n, struct wire_hello *,
	    const char **cause);
int	wire_dec_hello_reply(const uint8_t *b, size_t n,
	    struct wire_hello_reply *, const char **cause);
int	wire_dec_append(const uint8_t *b, size_t n, struct wire_append *,
	    const char **cause);
int	wire_dec_append_prod(const uint8_t *b, size_t n,
	    struct wire_append *, const char **cause);
int	wire_dec_read(const uint8_t *b, size_t n, struct wire_read *,
	    const char **cause);
int	wire_dec_record(const uint8_t *b, size_t n, struct wire_record *,
	    const char **cause);
int	wire_dec_u64(const uint8_t *b, size_t n, uint64_t *,
	    const char **cause);	/* bodies that are one u64 */
int	wire_dec_error(const uint8_t *b, size_t n, struct wire_error *,
	    const char **cause);
/* 1 when name (len bytes) is a valid cursor name. */
int	wire_cursor_name_valid(const char *name, size_t len);
/* A cursor request of op: with an LSN (create, commit) or without (get,
   drop, list; list's name may be empty). */
int	wire_dec_cursor(uint8_t op, const uint8_t *b, size_t n,
	    struct wire_cursor *, const char **cause);
/* A GET reply. */
int	wire_dec_cursor_state(const uint8_t *b, size_t n, uint64_t *lsn,
	    uint64_t *commit_ms, const char **cause);
/* A LIST reply: checks every entry, gives the count and flags; the
   entries are then taken with wire_dec_cursor_ent from b + 8. */
int	wire_dec_cursor_list(const uint8_t *b, size_t n, uint32_t *count,
	    uint32_t *flags, const char **cause);
/* Takes one list entry from *p (*left bytes), moving past it. */
int	wire_dec_cursor_ent(const uint8_t **p, size_t *left,
	    struct wire_cursor_ent *, const char **cause);
/* A VERIFY reply: checks every entry, fills the fixed part; the entries
   are then taken with wire_dec_verify_ent from b + WIRE_VERIFY_FIXED. */
int	wire_dec_verify(const uint8_t *b, size_t n, struct wire_verify *,
	    const char **cause);
int	wire_dec_verify_ent(const uint8_t **p, size_t *left,
	    struct wire_verify_ent *, const char **cause);

/*
 * Encoding. Each wire_enc_* writes a whole frame header plus the fixed
 * part of the body into out (which has room for WIRE_ENC_MAX bytes: the
 * longest is a READ with times, 16 + 40)
 * and returns the number of bytes written; a variable tail (payload,
 * message, stats text) given by tail_len is counted in the frame length but
 * not copied: the caller sends those bytes right after. This lets a sender
 * queue a payload without copying it into a frame buffer.
 */
#define WIRE_ENC_MAX	(WIRE_HDR_LEN + WIRE_READ_TIMES_LEN)
size_t	wire_enc_hdr(uint8_t *out, uint8_t op, uint8_t flags, uint64_t id,
	    size_t body_len);
size_t	wire_enc_hello(uint8_t *out, uint64_t id, uint16_t min_version,
	    uint16_t max_version);
size_t	wire_enc_hello_reply(uint8_t *out, uint64_t id, uint16_t version,
	    uint32_t max_record, uint32_t max_frame, size_t server_len);
size_t	wire_enc_append(uint8_t *out, uint64_t id, uint8_t flags,
	    uint16_t type, uint16_t vshard, uint32_t tenant,
	    uint32_t payload_len);
size_t	wire_enc_append_prod(uint8_t *out, uint64_t id, uint8_t flags,
	    uint16_t type, uint16_t vshard, uint32_t tenant,
	    uint64_t producer, uint64_t seq, uint32_t payload_len);
size_t	wire_enc_truncate_plan(uint8_t *out, uint64_t id, uint64_t first,
	    uint64_t segments, uint64_t bytes);
int	wire_dec_truncate_plan(const uint8_t *b, size_t n, uint64_t *first,
	    uint64_t *segments, uint64_t *bytes, const char **cause);
size_t	wire_enc_read(uint8_t *out, uint64_t id, uint8_t flags,
	    const struct wire_read *);
size_t	wire_enc_record(uint8_t *out, uint64_t id, uint64_t lsn,
	    uint16_t type, uint16_t vshard, uint32_t tenant,
	    uint32_t payload_len);
size_t	wire_enc_u64(uint8_t *out, uint8_t op, uint64_t id, uint64_t v);
size_t	wire_enc_error(uint8_t *out, uint64_t id, uint16_t code,
	    size_t msg_len);

/* A cursor request of op up to its name (name_len bytes follow). */
size_t	wire_enc_cursor(uint8_t *out, uint8_t op, uint64_t id, uint64_t lsn,
	    size_t name_len);
/* A whole GET reply. */
size_t	wire_enc_cursor_state(uint8_t *out, uint64_t id, uint64_t lsn,
	    uint64_t commit_ms);
/* The head of a LIST reply whose entries (body_len - 8 bytes) follow. */
size_t	wire_enc_cursor_list(uint8_t *out, uint64_t id, uint32_t count,
	    uint32_t flags, size_t entries_len);
/* One list entry into out (room for WIRE_CURSOR_ENT_MAX); its length. */
size_t	wire_put_cursor_ent(uint8_t *out, uint64_t lsn, uint64_t commit_ms,
	    const char *name, size_t name_len);

/* The fixed part of a VERIFY reply's body into out (WIRE_VERIFY_FIXED). */
void	wire_put_verify(uint8_t *out, const struct wire_verify *);
/* One VERIFY entry into out (room for WIRE_VERIFY_ENT_FIXED +
   WIRE_VERIFY_FILE_MAX + WIRE_VERIFY_WHAT_MAX; longer names and texts are
   cut); its length. */
size_t	wire_put_verify_ent(uint8_t *out, uint64_t off, uint64_t lsn,
	    const char *file, const char *what);

const char *wire_op_name(uint8_t op);		/* "append", ... or "unknown" */
const char *wire_err_name(uint16_t code);	/* "sealed", ... */

#endif
