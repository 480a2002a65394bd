/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.h: the listening socket, the connections and what they ask for.
 */
#ifndef WALD_SERVER_H
#define WALD_SERVER_H

struct event_base;
struct config;
struct wal;
struct server;
struct keyring;

/* Opens the listening socket: the one systemd passed (LISTEN_FDS), else
   binds cfg->socket_path, refusing a path another live walld answers on. */
int		 server_listen(const struct config *, char **cause);
struct server	*server_create(struct event_base *, struct config *,
		    struct wal *, int listen_fd, char **cause);
/* Begins an orderly stop: no new connections or requests, batches in
   flight finish and are acknowledged, then the loop exits. */
void		 server_shutdown(struct server *);
/* The key ring reads decrypt with (the WAL's; NULL: none) and its file,
   re-read at reload. The server takes a reference. */
void		 server_set_keyring(struct server *, struct keyring *,
		    const char *path);
/* Applies a reloaded configuration; reports what cannot change live. */
int		 server_reload(struct server *, struct config *, char **cause);
/* What a RELOAD request (walctl reload) runs: main's reload, the same as
   SIGHUP's. 0, or -1 and *cause: then nothing changed. */
void		 server_set_reload(struct server *,
		     int (*)(void *, char **cause), void *);
/* The exit status once the loop has ended: 0, or 74 after an I/O failure. */
int		 server_exit_status(struct server *);
/* One line for STATUS=: state, durable LSN, connections, archive backlog. */
void		 server_status(struct server *, char *buf, size_t len);
/* The stats text ("name value" lines, as the STATS reply), allocated;
   NULL when out of memory. metrics.c turns it into Prometheus metrics. */
char		*server_stats_text(struct server *);
void		 server_free(struct server *);

#endif
