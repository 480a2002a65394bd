/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libwal.h: the C client library of walld. A connection to the daemon,
 * blocking calls for every request, pipelined appends with completions for
 * applications with their own event loop, and read cursors.
 *
 * Link with -lwal (pkg-config libwal). This header is the library's
 * documentation. The protocol underneath is specified in PROTOCOL.md
 * (proto/PROTOCOL.md in the source; installed by the libwal-dev package as
 * /usr/share/doc/libwal-dev/PROTOCOL.md.gz).
 *
 * ABI. libwal.so.1 exports the functions below and nothing else, under the
 * symbol version LIBWAL_1. The SONAME changes only when a function or
 * struct here changes incompatibly; additions keep libwal.so.1
 * (docs/PACKAGING.md, "libwal's ABI").
 *
 * THREADS. A struct wal_conn, and the cursors opened on it, are used by one
 * thread at a time: calls on one connection must not overlap (serialize
 * them yourself if threads share one). Distinct connections are fully
 * independent and may be used by different threads at the same time. The
 * library has no global state and installs no signal handler; it never
 * raises SIGPIPE (sends use MSG_NOSIGNAL) and retries calls that EINTR
 * interrupts.
 *
 * OWNERSHIP. Every pointer the library returns (error messages, cursor
 * records, completion messages, limits) is owned by the library and valid
 * until the next call on the same connection, unless a function says
 * otherwise. Payloads handed to the library are copied before the call
 * returns: the caller may reuse its buffer at once.
 *
 * RESULTS. Calls return an enum wal_result. WAL_RESULT_OK is success;
 * WAL_RESULT_UNKNOWN means the request may or may not have taken effect
 * (an append may or may not be durable): the connection or the daemon died
 * after the request was sent and before its reply came, or walld reported a
 * write/sync failure (WAL_E_IO). Every other code is a failure with a known
 * outcome: nothing was done. wal_conn_error() gives a one-line message (the
 * daemon's, or a local description) and wal_conn_error_code() the daemon's
 * error code (enum wal_error_code below) or 0 when the error is local.
 *
 * MEMORY. In the steady state no call allocates: output, input, request and
 * completion buffers grow to their peak size once and are reused. Errors may
 * allocate their message.
 */
#ifndef LIBWAL_H
#define LIBWAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WAL_SOCKET_ENV		"WALLD_SOCKET"
#define WAL_SOCKET_DEFAULT	"/run/walld/walld.sock"

enum wal_result {
	WAL_RESULT_OK = 0,
	WAL_RESULT_UNKNOWN,		/* outcome unknown: may or may not be done */
	WAL_RESULT_BAD_REQUEST,		/* walld refused the request as malformed */
	WAL_RESULT_TOO_LARGE,		/* payload above the server's max_record */
	WAL_RESULT_NOT_PERMITTED,	/* walld, or the socket, refused access */
	WAL_RESULT_SEALED,		/* the log is sealed: no append can succeed */
	WAL_RESULT_NO_SPACE,		/* walld is out of disk: not written, retry */
	WAL_RESULT_SHUTTING_DOWN,	/* walld is stopping: not written, retry */
	WAL_RESULT_VERSION,		/* no common protocol version */
	WAL_RESULT_RANGE,		/* LSN out of range (e.g. truncated away) */
	WAL_RESULT_BUSY,		/* a walld limit was reached: not written, retry */
	WAL_RESULT_INTERNAL,		/* a walld bug, or an unknown error code */
	WAL_RESULT_UNAVAILABLE,		/* walld could not be reached: nothing sent */
	WAL_RESULT_CLOSED,		/* the connection is closed: not sent */
	WAL_RESULT_PROTOCOL,		/* walld sent an invalid frame (conn closed) */
	WAL_RESULT_SYSTEM,		/* a local system call failed (errno kept) */
	WAL_RESULT_INVALID,		/* a bad argument; nothing sent */
	WAL_RESULT_REPL_UNAVAILABLE,	/* durable on walld's disk, not replicated
					   in time: walld replicates it later;
					   do not append it again */
	WAL_RESULT_REPL_BACKLOG,	/* too much not yet replicated: not
					   written, retry */
	WAL_RESULT_NOT_FOUND,		/* no such durable cursor */
	WAL_RESULT_SEQUENCE,		/* a producer's sequence number out of
					   order: not written (wal_producer) */
	WAL_RESULT_HELD,		/* truncation would pass a cursor: nothing
					   removed (WAL_TRUNCATE_FORCE) */
	WAL_RESULT_DAMAGED,		/* a read met damage in the log (the
					   message names file, offset, LSN) */
	WAL_RESULT_CONFIG,		/* a reload refused: the configuration
					   has an error; nothing changed */
};

/* The daemon's error codes: the protocol's (PROTOCOL.md, "Errors"), as
   wal_conn_error_code() and struct wal_completion's code give them; 0
   means the error was local. Each leads to one enum wal_result above
   (WAL_E_IO to WAL_RESULT_UNKNOWN), so most programs compare results and
   never need these. A code not listed here (from a newer walld) is to be
   read as WAL_E_INTERNAL. The values never change. */
enum wal_error_code {
	WAL_E_BAD_REQUEST	= 1,	/* malformed request; connection closed */
	WAL_E_TOO_LARGE		= 2,	/* payload above max_record */
	WAL_E_NOT_PERMITTED	= 3,	/* the access list refused it */
	WAL_E_SEALED		= 4,	/* the log is sealed, for good */
	WAL_E_NO_SPACE		= 5,	/* nothing written; retry later */
	WAL_E_IO		= 6,	/* write or sync failed: outcome unknown */
	WAL_E_SHUTTING_DOWN	= 7,	/* nothing written; retry */
	WAL_E_VERSION		= 8,	/* no common protocol version */
	WAL_E_RANGE		= 9,	/* LSN out of range */
	WAL_E_BUSY		= 10,	/* a limit reached; nothing written */
	WAL_E_INTERNAL		= 11,	/* a walld bug */
	WAL_E_REPL_UNAVAILABLE	= 12,	/* durable, not replicated in time */
	WAL_E_REPL_BACKLOG	= 13,	/* nothing written; retry */
	WAL_E_DAMAGED		= 14,	/* a record where a read went is damaged */
	WAL_E_SEQUENCE		= 15,	/* a producer's sequence out of order */
	WAL_E_NOT_FOUND		= 16,	/* no such cursor */
	WAL_E_HELD		= 17,	/* truncation would pass a cursor */
	WAL_E_CONFIG		= 18	/* a reload refused: nothing changed */
};

/* A short name for a result: "ok", "outcome unknown", "sealed", ... */
const char	*wal_result_name(enum wal_result);

/* 1 when a request that failed with this result may simply be sent again:
   nothing was written (NO_SPACE, SHUTTING_DOWN, BUSY, CLOSED). */
int		 wal_result_retryable(enum wal_result);

struct wal_conn;
struct wal_cursor;

/*
 * Connecting.
 */

/* Connects to walld at path (NULL: $WALLD_SOCKET, else WAL_SOCKET_DEFAULT)
   and does the HELLO exchange, all within timeout_ms (< 0: no limit). On
   WAL_RESULT_OK, *connp is the new connection (close it with
   wal_conn_close). Otherwise *connp is NULL and *cause, when cause is not
   NULL, is an allocated message the caller frees. Errors: UNAVAILABLE (no
   socket, refused, timed out), NOT_PERMITTED (socket permission), VERSION,
   PROTOCOL, INVALID (path too long), SYSTEM. */
enum wal_result	 wal_conn_open(struct wal_conn **connp, const char *path,
		    int timeout_ms, char **cause);

/* Closes the socket and frees the connection. Requests still in flight
   are abandoned (their outcome is unknown). Close the connection's cursors
   first; any left open are detached and must still be closed. */
void		 wal_conn_close(struct wal_conn *);

/* The server's limits and version string, from its HELLO reply. */
uint32_t	 wal_conn_max_record(struct wal_conn *);
uint32_t	 wal_conn_max_frame(struct wal_conn *);
uint16_t	 wal_conn_version(struct wal_conn *);
const char	*wal_conn_server(struct wal_conn *);	/* NUL-terminated */

/* Time limit in ms for each later blocking call (< 0, the default: none).
   A blocking call that times out closes the connection and returns
   WAL_RESULT_UNKNOWN: its request may still be carried out (or CLOSED when
   not all of it could be written, so walld cannot have acted on it). */
void		 wal_conn_set_timeout(struct wal_conn *, int timeout_ms);

/* How far a waiting append or a sync must have gone before it completes,
   for every later request on the connection (docs/REPLICATION.md):
   WAL_ACK_LOCAL, durable on walld's disk; WAL_ACK_REPLICATED, and held by
   the NATS JetStream stream walld replicates into (else the request
   completes with WAL_RESULT_REPL_UNAVAILABLE: the record is durable, not
   replicated in time); WAL_ACK_DEFAULT, walld's replication.ack. */
enum wal_ack { WAL_ACK_DEFAULT, WAL_ACK_LOCAL, WAL_ACK_REPLICATED };
void		 wal_conn_set_ack(struct wal_conn *, enum wal_ack);

/* The message and daemon error code (WAL_E_*, 0 when local) of the last
   failed call on this connection. The message is never NULL. */
const char	*wal_conn_error(struct wal_conn *);
uint16_t	 wal_conn_error_code(struct wal_conn *);

/* 1 once the connection is closed (daemon gone, protocol error, timeout):
   every later request fails with WAL_RESULT_CLOSED. Reconnect. */
int		 wal_conn_closed(struct wal_conn *);

/*
 * Blocking calls. Each sends one request and waits for its reply; replies
 * to pipelined requests that arrive meanwhile are kept as completions. All
 * may also return UNKNOWN (connection lost after sending), CLOSED (the
 * connection was already closed), SYSTEM, SHUTTING_DOWN and BUSY.
 */

/* Appends one record and waits until it is durable; *lsn is its LSN.
   Errors: TOO_LARGE (len above wal_conn_max_record: checked before
   sending), SEALED, NO_SPACE, UNKNOWN (also when walld reports an I/O
   failure: the record may or may not survive), NOT_PERMITTED. */
enum wal_result	 wal_conn_append(struct wal_conn *, uint16_t type,
		    uint32_t tenant, uint16_t vshard, const void *data,
		    size_t len, uint64_t *lsn);

/* Appends one record and returns as soon as walld assigned its LSN; the
   LSN is only a promise until a later sync (or a later durable append)
   covers it. Same errors as wal_conn_append. */
enum wal_result	 wal_conn_append_nowait(struct wal_conn *, uint16_t type,
		    uint32_t tenant, uint16_t vshard, const void *data,
		    size_t len, uint64_t *lsn);

/* Waits until everything this connection sent before is durable;
   *durable is the highest durable LSN (0: empty log). Errors: UNKNOWN. */
enum wal_result	 wal_conn_sync(struct wal_conn *, uint64_t *durable);

/* Seals the log; *last is its last LSN (0: no record). Appends fail with
   SEALED afterwards. Sealing a sealed log succeeds. */
enum wal_result	 wal_conn_seal(struct wal_conn *, uint64_t *last);

/* Starts a new segment; *first is the LSN its first record will get. */
enum wal_result	 wal_conn_rotate(struct wal_conn *, uint64_t *first);

/* Deletes whole sealed segments whose records are all below before;
   *new_first is the log's first LSN afterwards. */
enum wal_result	 wal_conn_truncate(struct wal_conn *, uint64_t before,
		    uint64_t *new_first);

/* The same with guard rails (protocol version 2): walld refuses (RANGE)
   a `before` above its durable LSN + 1, and (HELD, naming the cursor) one
   that would remove records a cursor has not consumed, unless
   WAL_TRUNCATE_FORCE. With WAL_TRUNCATE_DRY_RUN nothing is removed:
   *new_first, *segments and *bytes (may be NULL) say what would be. */
#define WAL_TRUNCATE_DRY_RUN	0x01
#define WAL_TRUNCATE_FORCE	0x02
enum wal_result	 wal_conn_truncate_ex(struct wal_conn *, uint64_t before,
		    int flags, uint64_t *new_first, uint64_t *segments,
		    uint64_t *bytes);

/* Fetches the daemon's metrics: *text is an allocated NUL-terminated
   string, one "name value\n" line per metric; the caller frees it. */
enum wal_result	 wal_conn_stats(struct wal_conn *, char **text);

/* Round trip to walld: OK when it is up and serving requests. */
enum wal_result	 wal_conn_ping(struct wal_conn *);

/* Asks walld to reload its configuration file (as SIGHUP does), all or
   nothing: OK once applied; CONFIG, with wal_conn_error saying why, when
   it was refused and nothing changed. Needs the `keys` permission. */
enum wal_result	 wal_conn_reload(struct wal_conn *);

/*
 * Pipelining. wal_conn_submit_* queue a request without waiting and give
 * its request id; the library writes queued requests in large writes when
 * the socket takes them. Completions come back in the order walld sends
 * them (appends in LSN order). One connection may keep any number of
 * requests in flight; walld may answer BUSY past its in-flight limit.
 *
 * With your own event loop: watch wal_conn_fd() for wal_conn_events(),
 * level-triggered (poll, epoll without EPOLLET, libevent's default: a pump
 * reads what the socket holds then, not until EAGAIN); when it is ready,
 * call wal_conn_pump(), then take completions with wal_conn_completion()
 * until it returns 0. Or block in wal_conn_wait(). Replies become
 * completions only in wal_conn_pump(), wal_conn_wait() and the blocking
 * calls: submitting never reads them, so a loop that has taken every
 * completion may go back to waiting for wal_conn_events() right after
 * submitting. (When the connection breaks, every call completes what was
 * in flight; the socket is then shut down, so it polls readable.)
 */

#define WAL_APPEND_NOWAIT	0x01	/* complete when the LSN is assigned */

struct wal_completion {
	uint64_t	 id;		/* the id wal_conn_submit_* gave */
	enum wal_result	 result;
	uint16_t	 code;		/* daemon error code (WAL_E_*), 0 if none */
	uint64_t	 lsn;		/* append: the record's LSN; sync: durable */
	const char	*msg;		/* NULL on success; valid until the next
					   wal_conn_completion or wal_conn_wait */
};

/* Queues an append; *id identifies its completion, whose lsn is durable
   (or with WAL_APPEND_NOWAIT, assigned). The data is copied. Returns OK,
   TOO_LARGE, INVALID (unknown flags), CLOSED or SYSTEM; other failures
   come in the completion. Never blocks. */
enum wal_result	 wal_conn_submit_append(struct wal_conn *, uint16_t type,
		    uint32_t tenant, uint16_t vshard, const void *data,
		    size_t len, int flags, uint64_t *id);

/*
 * Idempotent appends (PROTOCOL.md, "Producers"; docs/PRODUCERS.md). An
 * append that carries a producer id (not 0) and a sequence number (1, 2,
 * 3, ... one more with each append of that producer and tenant) is
 * written once: sent again after an UNKNOWN outcome, it completes with
 * the LSN the first one got, and is not written twice. A number that is
 * neither the producer's next nor one of its last (walld's
 * producers.window) completes with SEQUENCE, nothing written. Needs
 * protocol version 2 (walld 0.3 or later): else VERSION, nothing sent.
 * The struct wal_producer below does the numbering and the retrying.
 */
enum wal_result	 wal_conn_append_seq(struct wal_conn *, uint64_t producer,
		    uint64_t seq, uint16_t type, uint32_t tenant,
		    uint16_t vshard, const void *data, size_t len,
		    uint64_t *lsn);
enum wal_result	 wal_conn_submit_append_seq(struct wal_conn *,
		    uint64_t producer, uint64_t seq, uint16_t type,
		    uint32_t tenant, uint16_t vshard, const void *data,
		    size_t len, uint64_t *id);

/* Queues a sync; its completion's lsn is the durable LSN once everything
   sent before it on this connection is durable. Never blocks. */
enum wal_result	 wal_conn_submit_sync(struct wal_conn *, uint64_t *id);

/* The socket, for poll/epoll/libevent. Do not read, write or close it. */
int		 wal_conn_fd(struct wal_conn *);

/* The poll events to wait for: POLLIN, plus POLLOUT while queued output
   remains. */
short		 wal_conn_events(struct wal_conn *);

/* Non-blocking step: writes what the socket takes, reads what is there,
   and turns replies into completions (and cursor records). OK, or the
   result that closed the connection (CLOSED when walld hung up, PROTOCOL,
   SYSTEM): the requests in flight then complete with UNKNOWN, or with
   CLOSED when no byte of them had been sent. */
enum wal_result	 wal_conn_pump(struct wal_conn *);

/* Takes the next completion without blocking: 1 and *comp, or 0 when none
   is ready. */
int		 wal_conn_completion(struct wal_conn *, struct wal_completion *);

/* Waits up to timeout_ms (< 0: no limit) for the next completion, flushing
   queued requests meanwhile. 1 and *comp; 0 on timeout; -1 when no
   submitted request remains to complete. */
int		 wal_conn_wait(struct wal_conn *, int timeout_ms,
		    struct wal_completion *);

/* Submitted requests whose completions were not taken yet. */
size_t		 wal_conn_inflight(struct wal_conn *);

/* Bytes queued but not yet written to the socket. */
size_t		 wal_conn_output_pending(struct wal_conn *);

/*
 * Read cursors. A cursor streams records in LSN order; several may be
 * open on a connection at once, alongside other requests.
 */

struct wal_cursor_opts {
	uint64_t	 from;		/* first LSN (0: the log's start; an LSN
					   below it is WAL_RESULT_RANGE) */
	uint64_t	 to;		/* last LSN, inclusive; 0: no end */
	uint32_t	 tenant;	/* filters, used when has_* is set */
	uint16_t	 vshard;
	uint16_t	 type;
	unsigned	 has_tenant:1, has_vshard:1, has_type:1;
	unsigned	 follow:1;	/* at the end, wait for new records */
	/* Protocol version 2: only records whose time (unix ns, when walld
	   appended them) is at or after since_ns, at or before until_ns. */
	uint64_t	 since_ns;
	uint64_t	 until_ns;
	unsigned	 has_since:1, has_until:1;
};

/* One record. payload is owned by the cursor and valid until the next call
   on the cursor or its connection. */
struct wal_entry {
	uint64_t	 lsn;
	uint16_t	 type;
	uint16_t	 vshard;
	uint32_t	 tenant;
	uint32_t	 len;
	const void	*payload;
};

/* Starts a read. OK and *curp, or CLOSED, INVALID (to below from),
   SYSTEM. Later failures (RANGE when from was truncated away) come from
   wal_cursor_next. */
enum wal_result	 wal_cursor_open(struct wal_conn *,
		    const struct wal_cursor_opts *, struct wal_cursor **curp);

#define WAL_CURSOR_AGAIN	(-2)
/* Waits up to timeout_ms (< 0: no limit; 0: only what has arrived) for the
   next record. 1 and *e; 0 when the stream has ended (to reached, end of
   the log without follow, or cancelled); -1 on failure (wal_cursor_result,
   wal_cursor_error); WAL_CURSOR_AGAIN on timeout (the cursor stays
   usable). */
int		 wal_cursor_next(struct wal_cursor *, int timeout_ms,
		    struct wal_entry *e);

/* After the end: the LSN to read from to continue where it stopped. */
uint64_t	 wal_cursor_next_lsn(struct wal_cursor *);

/* Why wal_cursor_next failed; the message is never NULL. */
enum wal_result	 wal_cursor_result(struct wal_cursor *);
const char	*wal_cursor_error(struct wal_cursor *);

/* After the end (wal_cursor_next returned 0): 1 when walld ended the read
   because the log is sealed and the read is past its last record (nothing
   will ever follow; protocol version 2), 0 otherwise: with follow, walld
   ended it (stopping; the connection closes next): read again from
   wal_cursor_next_lsn once walld is back. */
int		 wal_cursor_sealed(struct wal_cursor *);
/* After the end: 1 when walld ended a follow read with an until time
   because no later record can match it (every record appended up to
   that time has been sent; protocol version 2). Since LIBWAL_1.1. */
int		 wal_cursor_until_end(struct wal_cursor *);

/* Ends the read (cancelling it when still running, and draining what walld
   sent for it) and frees the cursor. */
void		 wal_cursor_close(struct wal_cursor *);

/*
 * Durable consumer cursors (docs/CURSORS.md; walld speaking protocol
 * version 2, else VERSION). walld keeps, by name, the LSN of the last
 * record a consumer has finished with, fsynced before each call returns
 * OK; a consumer resumes reading at that LSN + 1. Names are 1..64 bytes of
 * [A-Za-z0-9._-], the first a letter or a digit (INVALID otherwise,
 * nothing sent). Create, commit and drop need the access list's cursor
 * permission for the name; get and list need read permission. A change
 * that ends UNKNOWN (walld died, or could not write its cursors file) may
 * or may not have been made: get the cursor to know.
 */
#define WAL_CURSOR_NAME_MAX	64

struct wal_cursor_state {
	char		 name[WAL_CURSOR_NAME_MAX + 1];
	uint64_t	 lsn;		/* last record consumed; 0: none */
	uint64_t	 commit_ms;	/* last commit, Unix ms; 0: never */
};

/* 1 when name is a valid cursor name. */
int		 wal_cursor_name_valid(const char *name);

/* Creates the cursor name at lsn (0: nothing consumed yet; above the
   durable LSN: RANGE). A cursor that exists is left as it is: *cur_lsn
   (may be NULL) is its LSN either way. BUSY: cursors.max reached. */
enum wal_result	 wal_conn_cursor_create(struct wal_conn *, const char *name,
		    uint64_t lsn, uint64_t *cur_lsn);

/* Moves the cursor to lsn. The same LSN again succeeds; a lower one is
   RANGE (cursors never go back: drop and create to rewind), and so is one
   above the durable LSN. NOT_FOUND: no such cursor. */
enum wal_result	 wal_conn_cursor_commit(struct wal_conn *, const char *name,
		    uint64_t lsn);

/* The cursor's durable state. NOT_FOUND: no such cursor. */
enum wal_result	 wal_conn_cursor_get(struct wal_conn *, const char *name,
		    struct wal_cursor_state *);

/* Every cursor, sorted by name: *list is allocated (the caller frees it,
   NULL when *n is 0). */
enum wal_result	 wal_conn_cursor_list(struct wal_conn *,
		    struct wal_cursor_state **list, size_t *n);

/* Removes the cursor; *last_lsn (may be NULL) is the LSN it had. */
enum wal_result	 wal_conn_cursor_drop(struct wal_conn *, const char *name,
		    uint64_t *last_lsn);

/*
 * Verify (protocol version 2; the access list's stats permission): walld
 * checks every sealed segment of its log, as `walctl verify --dir` does
 * offline (headers, footers, every record's CRC and LSN, and with the
 * key ring walld holds every record's authentication), on a thread of
 * its own, and reports what it found. The call waits for the whole check
 * (the connection's timeout applies: wal_conn_set_timeout).
 */
struct wal_verify_problem {
	char		 file[32];	/* the segment file's name ("" when
					   about the directory) */
	uint64_t	 offset;	/* in it (0: none) */
	uint64_t	 lsn;		/* expected there (0: none) */
	char		*what;		/* in words */
};

struct wal_verify_report {
	uint64_t	 segments;	/* sealed segments checked */
	uint64_t	 records;	/* records found valid */
	uint64_t	 damaged;	/* records found damaged */
	uint64_t	 problems;	/* problems found, listed or not */
	uint64_t	 first_lsn;	/* of the first segment checked */
	uint64_t	 last_lsn;	/* the last record checked (0: none) */
	uint64_t	 bytes;		/* of the segment files checked */
	int		 authenticated;	/* walld holds a key ring: records of
					   encrypted segments were
					   authenticated */
	int		 more;		/* more problems than listed */
	size_t		 nlisted;
	struct wal_verify_problem *list;
};

/* OK and *report (free it with wal_verify_report_free), whatever was
   found: report->problems says. VERSION when walld speaks version 1. */
enum wal_result	 wal_conn_verify(struct wal_conn *,
		    struct wal_verify_report **report);
void		 wal_verify_report_free(struct wal_verify_report *);

/*
 * A producer: a connection of its own that numbers its appends and, when
 * an append's outcome is unknown (walld restarted, the connection lost),
 * reconnects with back-off and sends it again until it gets the LSN or a
 * definite answer. Blocking, one append at a time.
 *
 * wal_producer_open connects to path (as wal_conn_open) as producer id
 * (0: a random one) whose next sequence number is next_seq (1 for a new
 * producer; a process that restarts as the same producer passes the
 * number after the last one it saw acknowledged, or uses a new id).
 * retry_ms bounds how long one append keeps retrying (< 0: for ever).
 */
struct wal_producer;
enum wal_result	 wal_producer_open(struct wal_producer **, const char *path,
		    uint64_t producer, uint64_t next_seq, int retry_ms,
		    char **cause);
/* Appends one record, durable (as wal_conn_set_ack says: see
   wal_producer_set_ack) before it returns OK with *lsn: the record's LSN,
   the same whether it took one try or many. When retrying ran out of
   time it returns UNKNOWN: the record may or may not be in the log, and
   every later call returns INVALID until wal_producer_resume (which sends
   the same record again) settles it. Definite failures (SEALED,
   TOO_LARGE, NOT_PERMITTED, SEQUENCE, ...) are returned as they come;
   when the first try got one, nothing was written and the sequence
   number is not used. When one comes after a try whose outcome was
   unknown (or is INTERNAL) the record may be in the log: the append
   stays pending, as for UNKNOWN (resume it, or close the producer and
   take a new id). */
enum wal_result	 wal_producer_append(struct wal_producer *, uint16_t type,
		    uint32_t tenant, uint16_t vshard, const void *data,
		    size_t len, uint64_t *lsn);
enum wal_result	 wal_producer_resume(struct wal_producer *, uint64_t *lsn);
void		 wal_producer_set_ack(struct wal_producer *, enum wal_ack);
uint64_t	 wal_producer_id(struct wal_producer *);
/* The sequence number the next append will carry. */
uint64_t	 wal_producer_next_seq(struct wal_producer *);
/* How many times appends were sent again (reconnects included). */
uint64_t	 wal_producer_retries(struct wal_producer *);
/* The last failure's message (never NULL). */
const char	*wal_producer_error(struct wal_producer *);
void		 wal_producer_close(struct wal_producer *);

#ifdef __cplusplus
}
#endif

#endif
