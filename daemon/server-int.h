/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server-int.h: what the server's files share, and nobody else sees
 * (main.c uses server.h). The server and connection structures, and each
 * file's functions, from the bottom layer up: a file calls only the
 * functions of the files listed before it. What a lower layer hands up
 * goes through a callback the server sets (struct conn_cbs, batcher_cbs).
 *
 *   conn.c		one connection's buffers and socket I/O
 *   ack.c		the replies that wait for durability: the waiter
 *			queue, and the durability order (ack_done)
 *   stream.c		the reads clients ask for: read streams, followers
 *   server-stats.c	the stats text (STATS, the metrics, STATUS=)
 *   server-cursor.c	the cursor requests (cursor.c keeps the cursors)
 *   request.c		what each request does (request_frame, frame_cb)
 *   scrub.c		VERIFY and the background scrub (scrub.h)
 *   server-reload.c	SIGHUP: a reloaded configuration applied live
 *   server.c		listening, accepting, stopping; wires the others
 */
#ifndef WALD_SERVER_INT_H
#define WALD_SERVER_INT_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "access.h"
#include "wire.h"

#ifndef TAILQ_FOREACH_SAFE	/* glibc's sys/queue.h lacks it */
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#define RBUF_SIZE	(256 * 1024)	/* one read() of one client */

struct evconnlistener;
struct config;
struct wal;
struct batcher;
struct archive;
struct cursor_store;
struct keyring;
struct wal_stats;
struct evbuffer;
struct stream;
struct waiter;
struct ctl_waiter;
struct scrub;

enum server_state { SRV_RUNNING, SRV_DRAINING, SRV_FAILED };

/* A ring of waiters, in LSN order (ack.c). */
struct waitq {
	struct waiter	*q;
	size_t		 cap;
	size_t		 head;
	size_t		 len;
};

/* Why a connection stopped reading. */
enum conn_block { BLOCK_NONE, BLOCK_BATCH, BLOCK_SPARE, BLOCK_INFLIGHT };

/* The result of one request: done (drop the frame) or retry it later. */
enum dispatch { DISPATCH_DONE, DISPATCH_DEFER };

/*
 * One client connection. conn.c keeps its buffers, events and flags; the
 * waiter counts (refs, waits, pending, inflight) are kept by ack.c, the
 * read streams by stream.c; conn.c only reads those to know when it may
 * close.
 */
struct conn {
	TAILQ_ENTRY(conn)	 entry;		/* server->conns, then ->dead */
	TAILQ_ENTRY(conn)	 blocked_entry;	/* server->blocked */
	TAILQ_ENTRY(conn)	 dirty_entry;	/* server->dirty */
	struct server		*srv;
	int			 fd;		/* -1 once dead */
	struct event		*rev;
	struct event		*wev;
	int			 reading;	/* rev is added */
	int			 writing;	/* wev is added */
	int			 dirty;		/* on server->dirty */
	/* Input not handled yet: a partial frame, or frames held back by a
	   limit. Empty (and freed) most of the time: whole frames are handled
	   straight from the server's read buffer. */
	uint8_t			*in;
	size_t			 in_len;
	size_t			 in_cap;
	/* Output not written yet: out[out_off..out_len). */
	uint8_t			*out;
	size_t			 out_off;
	size_t			 out_len;
	size_t			 out_cap;
	uint64_t		 serial;
	uid_t			 uid;
	gid_t			 gid;
	pid_t			 pid;
	gid_t			*groups;	/* supplementary (SO_PEERGROUPS) */
	unsigned		 ngroups;

	int			 hello;		/* HELLO done */
	uint16_t		 version;	/* the protocol version it chose */
	uint32_t		 max_record;	/* what its HELLO reply announced:
						   it keeps that limit */
	int			 eof;		/* the client half-closed */
	int			 closing;	/* close once output is sent */
	enum conn_block		 blocked;
	unsigned		 refs;		/* waiters that point here */
	unsigned		 waits;		/* of them, in a waiter ring */
	unsigned		 rwaits;	/* of those, in the replicated one */
	uint64_t		 last_wait;	/* LSN key of its latest waiter */
	unsigned		 pending;	/* appends awaiting durability */
	uint64_t		 inflight;	/* their payload bytes */

	TAILQ_HEAD(, stream)	 streams;	/* its reads */
	unsigned		 nstreams;
	int			 reaping;	/* on server->dead */
};
TAILQ_HEAD(conn_list, conn);
TAILQ_HEAD(stream_list, stream);

/* What the connection layer hands up, set by server_create: conn.c calls
   nothing above itself but these. frame_cb is request_frame. */
struct conn_cbs {
	/* One whole frame, its body body[0..n). */
	enum dispatch	(*frame_cb)(struct conn *, const struct wire_hdr *,
			    const uint8_t *body, size_t n);
	/* The connection will close once its output is written. */
	void		(*closing_cb)(struct conn *);
	/* Its socket is closed: the server lets go of it and hands it to
	   the reaper (conn_release). */
	void		(*closed_cb)(struct conn *);
};

struct server_counters {
	uint64_t	appends;
	uint64_t	append_bytes;
	uint64_t	connections_total;
	uint64_t	errors[WIRE_E_MAX + 1];
	uint64_t	dropped_slow;
	uint64_t	protocol_errors;
	uint64_t	denied;
	uint64_t	denied_op[ACCESS_NOPS];
	uint64_t	truncate_held;	/* truncations held back by archiving */
	uint64_t	producer_dups;	/* retries answered with the original */
	uint64_t	producer_refused; /* sequences out of order */
	uint64_t	damaged;	/* damaged records reads met, each once */
	struct {			/* the last ones counted */
		char		file[32];
		uint64_t	off;
	}		damaged_seen[16];
	unsigned	damaged_next;
};

struct server {
	struct event_base	*base;
	struct config		*cfg;
	struct wal		*wal;
	struct batcher		*batcher;
	struct archive		*archive;	/* archive.command's runs */
	struct cursor_store	*cursors;	/* consumer cursors (cursor.c) */
	struct {
		struct event	*ev;		/* the policy's timer */
		uint64_t	 runs_removed;	/* passes that removed some */
		uint64_t	 overruns;	/* a limit passed a cursor */
	} retention;			/* retention.c */
	struct scrub		*scrub;		/* scrub.c: VERIFY, the scrub */
	struct evconnlistener	*listener;
	struct event		*accept_ev;	/* re-enable after EMFILE */
	struct event		*drain_ev;	/* drain timeout */
	struct event		*reap_ev;	/* frees dead connections */
	struct event		*pump_ev;	/* resumes reads that yielded */
	struct event		*flush_ev;	/* writes what dirty conns hold */
	struct event		*logflush_ev;	/* tells suppressed log lines */
	enum server_state	 state;
	int			 exit_status;
	struct conn_cbs		 cbs;

	struct conn_list	 conns;
	struct conn_list	 blocked;
	struct stream_list	 followers;	/* streams waiting for records */
	struct conn_list	 dead;		/* closed, waiting to be freed */
	struct conn_list	 dirty;		/* with output to write */
	uint8_t			*rbuf;		/* RBUF_SIZE: every read lands here */
	unsigned		 nconns;
	uint64_t		 serial;
	int			 fd_limit;	/* RLIMIT_NOFILE at start */

	struct waitq		 wq;		/* waiting for durability */
	struct waitq		 rq;		/* ... and for replication */
	unsigned		 wq_conns;	/* connections with a waiter */

	struct ctl_waiter	*ctl;
	size_t			 ctl_len;
	size_t			 ctl_cap;

	uint64_t		 durable;
	uint64_t		 batches_done;
	uint64_t		 next_lsn;	/* mirror of the WAL's, for sync */
	uint64_t		 inflight;	/* payload bytes awaiting acks */

	struct server_counters	 count;

	/* Replication (replica.c); replica NULL: not replicating. */
	struct replica		*replica;
	int			 repl_fd;	/* eventfd the replicator writes */
	struct event		*repl_ev;
	struct event		*repl_timer;	/* the oldest replicated
						   waiter's timeout */
	uint64_t		 replicated;	/* the replicated LSN */
	uint64_t		 repl_refused;	/* appends refused: backlog */
	uint64_t		 repl_timeouts;	/* REPL_UNAVAILABLE answers */

	int			(*reload_cb)(void *, char **cause);
	void			*reload_arg;	/* server_set_reload */
	struct keyring		*keyring;	/* reads decrypt with it; NULL: none */
	char			*keyring_path;
};

/* conn.c */
struct conn	*conn_create(struct server *, int fd, event_callback_fn read_cb,
		    event_callback_fn write_cb);
struct access_peer conn_peer(const struct conn *);
size_t		 conn_out_pending(const struct conn *);
void		 conn_send(struct conn *, const uint8_t *hdr, size_t n,
		    const void *tail, size_t tail_len);
void		 conn_send_u64(struct conn *, uint8_t op, uint64_t id,
		    uint64_t v);
void		 conn_reply_u64(struct conn *, uint8_t req_op, uint64_t id,
		    uint64_t v);
void		 conn_reply_empty(struct conn *, uint8_t op, uint64_t id);
void		 conn_error(struct conn *, uint64_t id, uint16_t code,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void		 conn_fatal(struct conn *, uint64_t id, uint16_t code,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void		 conn_close_soon(struct conn *);
void		 conn_block(struct conn *, enum conn_block);
void		 conn_resume_blocked(struct server *);
uint32_t	 conn_max_frame(const struct conn *);
void		 conn_process(struct conn *);
int		 conn_read(struct conn *);
int		 conn_write_out(struct conn *);
void		 conn_flush(struct conn *, int more);
struct conn	*conn_dirty_pop(struct server *);
void		 conn_maybe_close(struct conn *);
void		 conn_kill(struct conn *, const char *why);
void		 conn_release(struct conn *);
void		 conn_reap_cb(evutil_socket_t, short, void *);

/* ack.c */
void		 ack_kick(struct server *);
void		 ack_dup(struct conn *, const struct wire_hdr *,
		    uint64_t lsn);
void		 ack_append(struct conn *, const struct wire_hdr *,
		    uint64_t lsn, uint32_t len);
void		 ack_sync(struct conn *, uint64_t id, uint8_t flags);
void		 ack_replicated(struct server *);
void		 ack_repl_timer_cb(evutil_socket_t, short, void *);
uint64_t	 ack_backlog(struct server *);
uint64_t	 ack_backlog_bytes(struct server *);
void		 ack_control(struct conn *, uint64_t id, uint8_t op,
		    int sealed);
void		 ack_done(struct server *, uint64_t durable);
void		 ack_fail(struct server *, const char *cause);
int		 ack_settled(struct server *);
void		 ack_free(struct server *);

/* stream.c */
void		 stream_open(struct conn *, uint64_t id, uint8_t flags,
		    const struct wire_read *);
void		 stream_cancel(struct conn *, uint64_t id);
void		 stream_end_all(struct conn *, int tell);
void		 stream_eof(struct conn *);
int		 stream_resume(struct conn *);
int		 stream_busy(const struct conn *);
void		 stream_pump_followers(struct server *);
void		 stream_pump_cb(evutil_socket_t, short, void *);
void		 stream_set_keyring(struct server *, struct keyring *);

/* server-reload.c (server_reload, server_set_reload: server.h) */
void		 server_reload_request(struct conn *, uint64_t id);

/* server-stats.c */
const char	*server_stats_state(const struct server *,
		    const struct wal_stats *);
void		 server_stats_fill(struct server *, struct evbuffer *);

/* server-cursor.c */
void		 server_cursor_request(struct conn *, const struct wire_hdr *,
		    const uint8_t *body, size_t n);

/* request.c */
enum dispatch	 request_frame(struct conn *, const struct wire_hdr *,
		    const uint8_t *body, size_t n);

#endif
