/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libwal-int.h: what libwal's two files share, and no application sees
 * (libwal.h is the public face). The connection, request and cursor
 * structures, and the machinery libwal.c calls into:
 *
 *   libwal-io.c	requests in flight, framing, the socket, replies
 *   libwal.c		connecting, the calls, completions, cursors
 *   libwal-cursor.c	durable consumer cursors (protocol version 2)
 *   libwal-admin.c	VERIFY and its report (protocol version 2)
 *
 * Everything declared here is hidden: libwal.so exports libwal.h only.
 */
#ifndef WALD_LIBWAL_INT_H
#define WALD_LIBWAL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "libwal.h"
#include "wire.h"

#pragma GCC visibility push(hidden)

#define LIBWAL_BUF_INIT		(64u << 10)	/* first size of in/out buffers */
#define LIBWAL_FLUSH_AT		(256u << 10)	/* submit writes past this much */
#define LIBWAL_RING_INIT	1024		/* first request ring size */

/* A request in flight, in the ring slot of its id. */
struct libwal_req {
	uint64_t	 id;
	uint64_t	 end;		/* output stream offset after its last byte */
	uint8_t		 op;
	uint8_t		 active;
	uint8_t		 waited;	/* a blocking call waits: no completion */
};

/* A completion not yet taken by the application. */
struct libwal_done {
	uint64_t	 id;
	enum wal_result	 result;
	uint16_t	 code;
	uint64_t	 lsn;
	char		*msg;		/* allocated, only on failure */
};

enum libwal_cur_state { LIBWAL_CUR_RUNNING, LIBWAL_CUR_ENDED,
    LIBWAL_CUR_FAILED };

struct wal_cursor {
	struct wal_conn		*conn;		/* NULL once detached */
	struct wal_cursor	*next;		/* the connection's list */
	uint64_t		 id;
	enum libwal_cur_state	 state;
	int			 closing;	/* drop records: close drains */
	int			 sealed_end;	/* READ_END said SEALED_END */
	int			 until_end;	/* READ_END said UNTIL_END */
	uint64_t		 next_lsn;
	enum wal_result		 result;
	char			*err;

	/* Records received: u32 body length, then the RECORD body. */
	uint8_t			*buf;
	size_t			 rd, wr, cap;
};

struct wal_conn {
	int			 fd;
	int			 closed;
	enum wal_result		 close_result;
	uint64_t		 next_id;
	int			 timeout_ms;
	uint8_t			 ack;		/* WIRE_F_REPLICATED, _LOCAL or 0 */

	uint16_t		 version;
	uint32_t		 max_record;
	uint32_t		 max_frame;	/* 0 until the HELLO reply */
	uint32_t		 recv_max;	/* largest frame walld may send */
	char			*server;

	uint8_t			*out;
	size_t			 out_off, out_len, out_cap;
	uint64_t		 queued;	/* bytes ever queued */
	uint64_t		 sent;		/* bytes ever written */

	uint8_t			*in;
	size_t			 in_off, in_len, in_cap;

	struct libwal_req	*reqs;		/* ring, reqs_cap a power of 2 */
	size_t			 reqs_cap;
	uint64_t		 oldest;	/* no active request below this id */
	size_t			 nreqs;		/* active requests */
	size_t			 nsubmitted;	/* active and not waited */

	struct libwal_done	*done;		/* ring of completions */
	size_t			 done_cap, done_head, done_count;
	char			*done_msg;	/* message of the last one taken */

	/* The reply a blocking call waits for. */
	uint64_t		 w_id;
	int			 w_done;
	enum wal_result		 w_result;
	uint64_t		 w_u64;
	uint64_t		 w_plan[2];	/* a TRUNCATE plan's segments,
						   bytes */
	char			*w_text;
	uint8_t			*w_body;	/* cursor get and list replies */
	size_t			 w_body_len;

	struct wal_cursor	*cursors;

	char			*err;
	uint16_t		 err_code;
	char			*hangup;	/* ERROR received for no request */
};

/* libwal.c */
enum wal_result	 libwal_call(struct wal_conn *, uint8_t op, uint8_t flags,
		     const uint8_t *fixed, size_t flen, const void *tail,
		     size_t tlen, uint64_t *v, int timeout_ms);

/* libwal-io.c */
char		*libwal_fmt(const char *fmt, ...)
		     __attribute__((format(printf, 1, 2)));
void		 libwal_seterr(struct wal_conn *, uint16_t code,
		     const char *fmt, ...)
		     __attribute__((format(printf, 3, 4)));
int64_t		 libwal_deadline(int timeout_ms);
int		 libwal_left(int64_t deadline);
void		 libwal_cursor_fail(struct wal_cursor *, enum wal_result,
		     const char *msg, size_t msg_len);
void		 libwal_break(struct wal_conn *, enum wal_result,
		     const char *why);
int		 libwal_queue(struct wal_conn *, const uint8_t *head,
		     size_t hlen, const void *tail, size_t tlen);
void		 libwal_flush(struct wal_conn *);
void		 libwal_read(struct wal_conn *);
int		 libwal_step(struct wal_conn *, int64_t deadline);
enum wal_result	 libwal_enqueue(struct wal_conn *, uint8_t op, uint8_t flags,
		     const uint8_t *fixed, size_t flen, const void *tail,
		     size_t tlen, int waited, struct libwal_req **rp);

/* libwal.c */
enum wal_result	 libwal_call(struct wal_conn *, uint8_t op, uint8_t flags,
		     const uint8_t *fixed, size_t flen, const void *tail,
		     size_t tlen, uint64_t *v, int timeout_ms);
enum wal_result	 libwal_submit(struct wal_conn *, uint8_t op, uint8_t flags,
		     const uint8_t *fixed, size_t flen, const void *tail,
		     size_t tlen, uint64_t *id);
int		 libwal_check_len(struct wal_conn *, size_t len);

#pragma GCC visibility pop

#endif
