/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c: walld's server. Listens (on the socket systemd passed, or one
 * it binds), accepts connections (refusing them at max_connections or when
 * descriptors run short; backing off when accept fails for lack of them),
 * stops in order (new requests refused, batches in flight acknowledged,
 * then every connection drained and closed), and wires the other files
 * together: the connections' events, the batcher's callbacks and the
 * connection layer's. server-int.h says which file holds what.
 */
#include <sys/types.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "access.h"
#include "archive.h"
#include "batcher.h"
#include "cause.h"
#include "config.h"
#include "cursor.h"
#include "keyring.h"
#include "log.h"
#include "replica.h"
#include "retention.h"
#include "scrub.h"
#include "server-int.h"
#include "server.h"
#include "wal.h"
#include "wire.h"

#define DRAIN_TIMEOUT_SEC	10
#define FD_RESERVE		32	/* descriptors kept for log files */

static void	server_maybe_finish(struct server *);
static void	server_check_exit(struct server *);

/* Tells whether a live server answers on the socket path. */
static int
server_path_live(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, rc;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, path, sizeof sun.sun_path - 1);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	if (close(fd) == -1)
		log_debug("%s: close: %s", path, strerror(errno));
	return (rc == 0);
}

/* Uses the socket systemd passed, if any and if it is the right kind. */
static int
server_listen_fds(char **cause)
{
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int		 domain, type, acc;
	socklen_t	 len;

	if (pid == NULL || fds == NULL || strtol(pid, NULL, 10) != getpid())
		return (-1);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (strtol(fds, NULL, 10) != 1) {
		cause_set(cause, "LISTEN_FDS=%s: expected exactly one "
		    "socket", fds);
		return (-2);
	}
	len = sizeof domain;
	if (getsockopt(3, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
	    (len = sizeof type, getsockopt(3, SOL_SOCKET, SO_TYPE, &type,
	    &len)) != 0 || (len = sizeof acc, getsockopt(3, SOL_SOCKET,
	    SO_ACCEPTCONN, &acc, &len)) != 0 || domain != AF_UNIX ||
	    type != SOCK_STREAM || !acc) {
		cause_set(cause, "the socket passed by systemd (fd 3) is "
		    "not a listening AF_UNIX stream socket");
		return (-2);
	}
	log_info("listening on the socket passed by systemd");
	return (3);
}

/* socket.owner (group 0) or socket.group (group 1): a number, else the
   name of a user or group. */
static int
server_listen_id(const char *name, int group, id_t *id, char **cause)
{
	struct passwd	*pw;
	struct group	*gr;
	char		*end;

	*id = (id_t)strtoul(name, &end, 10);
	if (*end == '\0' && end != name)
		return (0);
	if (group && (gr = getgrnam(name)) != NULL)
		*id = gr->gr_gid;
	else if (!group && (pw = getpwnam(name)) != NULL)
		*id = pw->pw_uid;
	else {
		cause_set(cause, "socket.%s: no %s %s", group ? "group" :
		    "owner", group ? "group" : "user", name);
		return (-1);
	}
	return (0);
}

/* The listening socket: systemd's, or cfg->socket_path bound here with
   its mode and owner (server.h). */
int
server_listen(const struct config *cfg, char **cause)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;
	uid_t			 uid = (uid_t)-1;
	gid_t			 gid = (gid_t)-1;
	int			 fd, saved;

	fd = server_listen_fds(cause);
	if (fd != -1)
		return (fd == -2 ? -1 : fd);

	if (strlen(cfg->socket_path) >= sizeof sun.sun_path) {
		cause_set(cause, "%s: socket path too long",
		    cfg->socket_path);
		return (-1);
	}
	if (lstat(cfg->socket_path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			cause_set(cause, "%s: exists and is not a socket",
			    cfg->socket_path);
			return (-1);
		}
		if (server_path_live(cfg->socket_path)) {
			cause_set(cause, "%s: another walld is listening "
			    "there", cfg->socket_path);
			return (-1);
		}
		if (unlink(cfg->socket_path) != 0) {
			cause_set(cause, "%s: removing the stale socket: %s",
			    cfg->socket_path, strerror(errno));
			return (-1);
		}
	}
	if (cfg->socket_owner != NULL &&
	    server_listen_id(cfg->socket_owner, 0, &uid, cause) != 0)
		return (-1);
	if (cfg->socket_group != NULL &&
	    server_listen_id(cfg->socket_group, 1, &gid, cause) != 0)
		return (-1);

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		cause_set(cause, "socket: %s", strerror(errno));
		return (-1);
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, cfg->socket_path, sizeof sun.sun_path - 1);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
		goto fail;
	if (chmod(cfg->socket_path, cfg->socket_mode) != 0)
		goto fail;
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    chown(cfg->socket_path, uid, gid) != 0)
		goto fail;
	if (listen(fd, SOMAXCONN) != 0)
		goto fail;
	log_info("listening on %s (mode %04o)", cfg->socket_path,
	    (unsigned)cfg->socket_mode);
	return (fd);

fail:
	saved = errno;
	cause_set(cause, "%s: %s", cfg->socket_path, strerror(saved));
	if (close(fd) == -1)
		log_debug("%s: close: %s", cfg->socket_path, strerror(errno));
	return (-1);
}

/* A connection is readable: one read (conn_read), whose whole frames go
   to request_frame. */
static void
server_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	struct server	*srv = c->srv;

	(void)fd; (void)what;
	switch (conn_read(c)) {
	case -1:
		return;
	case 0:
		/* The client half-closed: its reads run to their end, what
		   it sent is answered, then the connection closes. */
		stream_eof(c);
		conn_process(c);
		break;
	}
	/* A turn that reads many busy connections is long: a batch the
	   flusher finished meanwhile is taken back now, not at its end. */
	if (srv->state != SRV_FAILED)
		batcher_poll(srv->batcher);
	ack_kick(srv);
}

/* The socket is writable: write, and let the read streams go on. */
static void
server_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd; (void)what;
	if (conn_write_out(c) < 0 || !stream_resume(c))
		return;
	conn_flush(c, stream_busy(c));
}

/* Writes the output of every connection on the dirty list; also the
   batcher's flush_cb, before the loop blocks in an inline flush. */
static void
server_write_dirty(void *arg)
{
	struct server	*srv = arg;
	struct conn	*c;

	while ((c = conn_dirty_pop(srv)) != NULL)
		conn_flush(c, stream_busy(c));
}

/* flush_ev: runs after the callbacks of a loop turn, so that the replies
   they queued go out with one send() per connection. */
static void
server_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	server_write_dirty(arg);
}

/* Every second: the count of log lines a burst had suppressed, told
   within a second of its 10 s window's end (a 10 s timer could tell it
   up to 20 s after the burst began). */
static void
server_logflush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	log_limited_flush();
}

/* A connection will close once its output is written: its reads end
   now, each with its READ_END. */
static void
server_closing_cb(struct conn *c)
{
	stream_end_all(c, 1);
}

/* A connection's socket is closed (conn_kill): its reads end, it leaves
   the list, and the reaper frees it once no waiter points at it. */
static void
server_closed_cb(struct conn *c)
{
	struct server	*srv = c->srv;

	stream_end_all(c, 0);
	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->nconns--;
	conn_release(c);
	server_check_exit(srv);
}

/* Best effort: tells a connection why it is refused, then closes it. */
static void
server_refuse(int fd, const char *why)
{
	uint8_t	buf[WIRE_ENC_MAX + 128];
	size_t	n, len = strlen(why);

	if (len > 128)
		len = 128;
	n = wire_enc_error(buf, 0, WIRE_E_BUSY, len);
	memcpy(buf + n, why, len);
	/* Nothing to do if it fails: the client sees the close. */
	if (send(fd, buf, n + len, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
		log_debug("refusing a connection: %s", strerror(errno));
	if (close(fd) == -1)
		log_debug("refusing a connection: close: %s", strerror(errno));
}

/* A new connection: refused (a busy error, then closed) while stopping,
   at max_connections, or when it took one of the last descriptors. */
static void
server_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct server		*srv = arg;
	struct conn		*c;
	static const char	 busy[] = "too many connections";
	int			 reserve;

	(void)l; (void)sa; (void)salen;
	if (srv->state != SRV_RUNNING ||
	    srv->nconns >= srv->cfg->max_connections) {
		server_refuse(fd, busy);
		log_limited("connection refused", LOG_LVL_WARN, "connection "
		    "refused: %s (max_connections %u)", busy,
		    srv->cfg->max_connections);
		return;
	}
	/* accept() hands out the lowest free descriptor: from this one up,
	   fewer than the reserve are left, and those are for the log's
	   segment files and readers, not for more clients. */
	reserve = srv->fd_limit / 4 < FD_RESERVE ? srv->fd_limit / 4 :
	    FD_RESERVE;
	if (fd >= srv->fd_limit - reserve) {
		server_refuse(fd, "too many open files: walld keeps its last "
		    "descriptors for its log");
		log_limited("connection refused", LOG_LVL_WARN, "connection "
		    "refused: descriptor %d of the open files limit %d (the "
		    "last %d are kept for the log)", (int)fd, srv->fd_limit,
		    reserve);
		return;
	}
	/* The listener hands out non-blocking sockets (accept4). */
	if ((c = conn_create(srv, fd, server_read_cb, server_write_cb)) == NULL)
		return;
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	srv->count.connections_total++;
	log_debug("connection %llu: pid %ld uid %ld gid %ld",
	    (unsigned long long)c->serial, (long)c->pid, (long)c->uid,
	    (long)c->gid);
}

/* accept_ev: the back-off after a failed accept is over. */
static void
server_accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	(void)fd; (void)what;
	if (srv->listener != NULL && srv->state == SRV_RUNNING &&
	    evconnlistener_enable(srv->listener) != 0)
		log_err("accept: cannot listen again after the back-off");
}

/* accept() failed: out of descriptors backs off for 100 ms instead of
   spinning on a listening socket that stays readable. */
static void
server_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct server	*srv = arg;
	struct timeval	 tv = { 0, 100000 };
	int		 error = EVUTIL_SOCKET_ERROR();

	log_limited("accept failed", LOG_LVL_ERR, "accept: %s; pausing new "
	    "connections for 100 ms", evutil_socket_error_to_string(error));
	/* Without the timer the listener would stay off: keep it on. */
	if (evconnlistener_disable(l) != 0 ||
	    evtimer_add(srv->accept_ev, &tv) != 0) {
		log_err("accept: cannot pause new connections");
		if (evconnlistener_enable(l) != 0)
			log_err("accept: cannot listen again");
	}
}

/* Resumes every held-back connection, oldest first, and kicks a flush
   for what they append. */
static void
server_resume(struct server *srv)
{
	conn_resume_blocked(srv);
	ack_kick(srv);
}

/* After a batch: no batch is out, so a footer on disk is durable; the
   archiver looks for newly sealed segments. */
static void
server_archive_check(struct server *srv)
{
	struct wal_stats	st;

	if (!archive_enabled(srv->archive))
		return;
	wal_stats(srv->wal, &st);
	archive_check(srv->archive, st.active_first_lsn, st.sealed);
}

/* A batch completed (batcher done_cb): its waiters are answered
   (ack_done), then whatever waited for a batch goes on: the archiver,
   follow reads, held-back connections, a stop. A failed batch stops walld
   with status 74, for recovery at the next start. */
static void
server_done_cb(void *arg, int ok, uint64_t durable, const char *cause)
{
	struct server	*srv = arg;

	srv->batches_done++;
	if (!ok) {
		srv->state = SRV_FAILED;
		srv->exit_status = 74;
		log_err("WAL write failed: %s; no record of this or any later "
		    "batch is acknowledged; waiting clients are told the outcome "
		    "is unknown; exiting with status 74 for recovery",
		    cause != NULL ? cause : "unknown error");
		ack_fail(srv, cause);
		server_shutdown(srv);
		return;
	}
	ack_done(srv, durable);
	server_archive_check(srv);

	stream_pump_followers(srv);
	server_resume(srv);
	if (srv->state != SRV_RUNNING)
		server_maybe_finish(srv);
}

/* A spare segment is ready, or preparing one failed (batcher spare_cb):
   appends held back for one go on into it, or are refused (no space). */
static void
server_spare_cb(void *arg)
{
	server_resume(arg);
}

/* Ends the event loop once the callbacks of this turn have run. */
static void
server_exit_loop(struct server *srv)
{
	if (event_base_loopexit(srv->base, NULL) != 0)
		log_err("stopping: cannot end the event loop");
}

/* drain_ev: the clients of a stopping walld had DRAIN_TIMEOUT_SEC to
   read their last replies. */
static void
server_drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct conn	*c;

	(void)fd; (void)what;
	log_warn("shutdown: clients did not read their last replies within "
	    "%d s; closing them", DRAIN_TIMEOUT_SEC);
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_kill(c, NULL);
	server_exit_loop(srv);
}

/* During shutdown: once nothing is waiting for a batch, close every
   connection after its replies are sent; exit when none is left. */
static void
server_maybe_finish(struct server *srv)
{
	struct conn	*c, *next;

	if (srv->state == SRV_RUNNING)
		return;
	if (srv->state == SRV_DRAINING) {
		if (!ack_settled(srv) || batcher_busy(srv->batcher)) {
			ack_kick(srv);
			return;
		}
	} else if (batcher_busy(srv->batcher))
		return;
	/* Cursor changes accepted are written and answered first. */
	if (cursor_store_busy(srv->cursors))
		return;
	/* conn_close_soon may kill c, which only unlinks it (the free is
	   deferred to the reaper). */
	TAILQ_FOREACH_SAFE(c, &srv->conns, entry, next)
		conn_close_soon(c);
	server_check_exit(srv);
}

/* The cursor store answered a write: a stop may go on. */
static void
server_cursor_idle_cb(void *arg)
{
	struct server	*srv = arg;

	if (srv->state != SRV_RUNNING)
		server_maybe_finish(srv);
}

/* Ends the loop once a stopping server has nothing left to do. */
static void
server_check_exit(struct server *srv)
{
	if (srv->state == SRV_RUNNING || !TAILQ_EMPTY(&srv->conns) ||
	    batcher_busy(srv->batcher) || cursor_store_busy(srv->cursors))
		return;
	if (srv->state == SRV_DRAINING && !ack_settled(srv))
		return;
	server_exit_loop(srv);
}

/* Begins an orderly stop (server.h). */
void
server_shutdown(struct server *srv)
{
	struct timeval	tv = { DRAIN_TIMEOUT_SEC, 0 };

	if (srv->state == SRV_RUNNING)
		srv->state = SRV_DRAINING;
	if (srv->listener != NULL) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
	}
	if (!evtimer_pending(srv->drain_ev, NULL) &&
	    evtimer_add(srv->drain_ev, &tv) != 0)
		log_err("shutdown: cannot arm the %d s drain timeout; waiting "
		    "for every client", DRAIN_TIMEOUT_SEC);
	server_maybe_finish(srv);
}

/* 0, or 74 after a failed write or sync. */
int
server_exit_status(struct server *srv)
{
	return (srv->exit_status);
}

/* One line for systemd's STATUS=. */
void
server_status(struct server *srv, char *buf, size_t len)
{
	struct wal_stats	st;
	struct archive_stats	as;
	size_t			n;

	wal_stats(srv->wal, &st);
	snprintf(buf, len, "%s, durable LSN %llu, %u connections",
	    server_stats_state(srv, &st), (unsigned long long)st.durable_lsn,
	    srv->nconns);
	archive_stats(srv->archive, &as);
	if (as.enabled && (n = strlen(buf)) < len)
		snprintf(buf + n, len - n, ", archive backlog %llu%s",
		    (unsigned long long)as.backlog, as.failing > 0 ?
		    " (archive.command failing)" : "");
	if (srv->replica != NULL && (n = strlen(buf)) < len)
		snprintf(buf + n, len - n, ", replication %s, replicated "
		    "LSN %llu", replica_state_name(replica_state(srv->replica)),
		    (unsigned long long)srv->replicated);
}

/* The key ring of the WAL, for reads; the server takes a reference. */
void
server_set_keyring(struct server *srv, struct keyring *kr, const char *path)
{
	keyring_free(srv->keyring);
	free(srv->keyring_path);
	srv->keyring = keyring_hold(kr);
	srv->keyring_path = path != NULL ? strdup(path) : NULL;
}

/* The replicator wrote its eventfd: the replicated LSN or its state
   moved. */
static void
server_repl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	uint64_t	 n;

	(void)what;
	if (read(fd, &n, sizeof n) == -1 && errno != EAGAIN)
		log_err("replication: reading its eventfd: %s",
		    strerror(errno));
	ack_replicated(srv);
	if (srv->state != SRV_RUNNING)
		server_maybe_finish(srv);
}

/* Starts replication (docs/REPLICATION.md): the replicator thread, the
   eventfd it wakes the loop with, the timer of replicated waiters. */
static int
server_replicate(struct server *srv, const struct wal_stats *st,
    char **cause)
{
	srv->repl_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (srv->repl_fd == -1) {
		*cause = strdup("replication: eventfd failed");
		return (-1);
	}
	srv->repl_ev = event_new(srv->base, srv->repl_fd, EV_READ | EV_PERSIST,
	    server_repl_cb, srv);
	srv->repl_timer = evtimer_new(srv->base, ack_repl_timer_cb, srv);
	if (srv->repl_ev == NULL || srv->repl_timer == NULL ||
	    event_add(srv->repl_ev, NULL) != 0) {
		*cause = strdup("replication: cannot set up its events");
		return (-1);
	}
	srv->replica = replica_start(srv->cfg, srv->cfg->data_dir,
	    st->durable_lsn, srv->repl_fd, cause);
	return (srv->replica != NULL ? 0 : -1);
}

/* The server on the listening socket fd, with its batcher and archiver;
   the connection layer's callbacks are set here (server-int.h). */
struct server *
server_create(struct event_base *base, struct config *cfg, struct wal *w,
    int fd, char **cause)
{
	struct server		*srv;
	struct wal_stats	 st;
	struct batcher_cbs	 cbs;
	struct rlimit		 rl;
	struct timeval		 logflush_tv = { 1, 0 };
	char			 line[160];

	if ((srv = calloc(1, sizeof *srv)) == NULL) {
		*cause = strdup("out of memory");
		return (NULL);
	}
	srv->base = base;
	srv->repl_fd = -1;
	srv->cfg = cfg;
	srv->wal = w;
	srv->cbs.frame_cb = request_frame;
	srv->cbs.closing_cb = server_closing_cb;
	srv->cbs.closed_cb = server_closed_cb;
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->blocked);
	TAILQ_INIT(&srv->followers);
	TAILQ_INIT(&srv->dead);
	TAILQ_INIT(&srv->dirty);
	srv->fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < 1000000000 ? (int)rl.rlim_cur : 1000000000;
	wal_stats(w, &st);
	srv->durable = st.durable_lsn;
	srv->next_lsn = st.next_lsn;

	cbs.done_cb = server_done_cb;
	cbs.spare_cb = server_spare_cb;
	cbs.flush_cb = server_write_dirty;
	cbs.arg = srv;
	if ((srv->batcher = batcher_create(base, w, &cbs, cause)) == NULL) {
		free(srv);
		return (NULL);
	}
	batcher_set_delay(srv->batcher, cfg->commit_delay_us,
	    cfg->commit_siblings);
	if (cfg->repl_servers != NULL && server_replicate(srv, &st,
	    cause) != 0) {
		server_free(srv);
		return (NULL);
	}
	srv->archive = archive_create(base, cfg->data_dir, cfg->archive_command,
	    cfg->archive_retry_min_us, cfg->archive_retry_max_us,
	    cfg->archive_timeout_us, cause);
	if (srv->archive == NULL) {
		server_free(srv);
		return (NULL);
	}
	if ((srv->cursors = cursor_store_open(base, cfg->data_dir,
	    cause)) == NULL) {
		server_free(srv);
		return (NULL);
	}
	cursor_store_set_idle_cb(srv->cursors, server_cursor_idle_cb, srv);
	srv->accept_ev = evtimer_new(base, server_accept_retry_cb, srv);
	srv->drain_ev = evtimer_new(base, server_drain_timeout_cb, srv);
	srv->reap_ev = event_new(base, -1, 0, conn_reap_cb, srv);
	srv->pump_ev = event_new(base, -1, 0, stream_pump_cb, srv);
	srv->flush_ev = event_new(base, -1, 0, server_flush_cb, srv);
	srv->logflush_ev = event_new(base, -1, EV_PERSIST,
	    server_logflush_cb, srv);
	srv->rbuf = malloc(RBUF_SIZE);
	/* evconnlistener accepts until EAGAIN: a blocking socket (ours, or
	   systemd's) would hang the whole loop in accept(). */
	if (evutil_make_socket_nonblocking(fd) != 0)
		log_warn("listening socket: cannot make it non-blocking");
	/* Backlog 0: the socket already listens (with SOMAXCONN, or systemd's
	   Backlog=); libevent must not listen() again with a smaller one. */
	srv->listener = evconnlistener_new(base, server_accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (srv->accept_ev == NULL || srv->drain_ev == NULL ||
	    srv->reap_ev == NULL || srv->pump_ev == NULL ||
	    srv->flush_ev == NULL || srv->rbuf == NULL ||
	    srv->listener == NULL || srv->logflush_ev == NULL ||
	    event_add(srv->logflush_ev, &logflush_tv) != 0) {
		*cause = strdup("cannot set up the listener");
		server_free(srv);
		return (NULL);
	}
	evconnlistener_set_error_cb(srv->listener, server_accept_error_cb);
	if (retention_start(srv) != 0) {
		*cause = strdup("cannot start the retention timer");
		server_free(srv);
		return (NULL);
	}
	if (scrub_start(srv, cause) != 0) {
		server_free(srv);
		return (NULL);
	}
	access_describe(cfg->access, line, sizeof line);
	log_info("%s", line);
	return (srv);
}

/* Closes every connection, takes back a batch in flight, and frees. */
void
server_free(struct server *srv)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_kill(c, NULL);
	/* Take back a batch still in flight before stopping the threads. */
	while (srv->batcher != NULL && batcher_busy(srv->batcher)) {
		if (event_base_loop(srv->base, EVLOOP_ONCE) == -1) {
			log_err("stopping: the event loop failed with a batch "
			    "out; not waiting for it");
			break;
		}
	}
	/* The checks under way end at their next pause; the connections
	   waiting for a VERIFY are let go. */
	scrub_stop(srv);
	/* The cursor write under way, if any: its clients are answered. */
	cursor_store_free(srv->cursors);
	srv->cursors = NULL;
	/* The replicator last: it reads the log while batches complete. */
	replica_stop(srv->replica);
	srv->replica = NULL;
	if (srv->repl_ev != NULL)
		event_free(srv->repl_ev);
	if (srv->repl_timer != NULL)
		event_free(srv->repl_timer);
	if (srv->repl_fd != -1)
		close(srv->repl_fd);
	ack_free(srv);
	retention_stop(srv);
	if (srv->listener != NULL)
		evconnlistener_free(srv->listener);
	if (srv->batcher != NULL)
		batcher_free(srv->batcher);
	if (srv->accept_ev != NULL)
		event_free(srv->accept_ev);
	if (srv->drain_ev != NULL)
		event_free(srv->drain_ev);
	if (srv->reap_ev != NULL) {
		conn_reap_cb(-1, 0, srv);
		event_free(srv->reap_ev);
	}
	if (srv->pump_ev != NULL)
		event_free(srv->pump_ev);
	if (srv->flush_ev != NULL)
		event_free(srv->flush_ev);
	if (srv->logflush_ev != NULL)
		event_free(srv->logflush_ev);
	free(srv->rbuf);
	archive_free(srv->archive);
	keyring_free(srv->keyring);
	free(srv->keyring_path);
	free(srv);
}
