/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server-reload.c: SIGHUP. Applies a reloaded configuration to the
 * running server: what may change live (group commit delays, limits, the
 * log level, metrics, archiving, the access list, the key ring file's
 * contents) and what is reported and kept (socket.*, storage.*,
 * group_commit.max_batch_bytes, a larger max_record).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "cause.h"
#include "archive.h"
#include "batcher.h"
#include "config.h"
#include "keyring.h"
#include "log.h"
#include "retention.h"
#include "scrub.h"
#include "server-int.h"
#include "server.h"
#include "wal.h"

/* Swaps two strings of the configuration: the running one takes the
   reloaded value, the reloaded copy's owner frees the old one. */
static void
server_reload_swap(char **running, char **reloaded)
{
	char	*s = *running;

	*running = *reloaded;
	*reloaded = s;
}

/* 1 when two optional strings are equal (both unset counts as equal). */
static int
server_reload_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

/*
 * Reads the key ring file again and hands it to the WAL, which refuses it
 * (changing nothing) when it lacks (or changed) a key that a present
 * segment needs. 0 and *krp (NULL: no encryption), or -1 and *cause:
 * then the reload changes nothing at all.
 */
static int
server_reload_load_keys(struct server *srv, const struct config *ncfg,
    struct keyring **krp, char **cause)
{
	struct keyring	*kr;
	char		*path = NULL, *c2 = NULL;

	*krp = NULL;
	if (keyring_locate(ncfg->keyring, &path, &c2) != 0) {
		cause_set(cause, "%s", c2 != NULL ? c2 : "key ring");
		free(c2);
		return (-1);
	}
	if (!server_reload_same(path, srv->keyring_path))
		log_warn("reload: the key ring file cannot change while running "
		    "(now %s, was %s); kept", path != NULL ? path : "none",
		    srv->keyring_path != NULL ? srv->keyring_path : "none");
	free(path);
	if (srv->keyring == NULL)
		return (0);
	if ((kr = keyring_load(srv->keyring_path, &c2)) == NULL ||
	    wal_set_keyring(srv->wal, kr, &c2) != 0) {
		cause_set(cause, "%s; keeping the running key ring (active "
		    "key id %u)",
		    c2 != NULL ? c2 : "key ring refused",
		    keyring_active(srv->keyring));
		free(c2);
		keyring_free(kr);
		return (-1);
	}
	*krp = kr;
	return (0);
}

/*
 * Puts the key ring the WAL took (server_reload_load_keys) in the
 * server's hands. When the active key changed, the active segment is
 * sealed and the next one starts under the new key: at once, or at the
 * next append when a segment switch is already under way (the engine
 * never writes a record under the old key after wal_set_keyring).
 */
static void
server_reload_apply_keys(struct server *srv, struct keyring *kr)
{
	uint32_t	 old;
	enum wal_rc	 rc;

	if (kr == NULL)
		return;
	old = keyring_active(srv->keyring);
	keyring_free(srv->keyring);
	srv->keyring = kr;
	stream_set_keyring(srv, kr);
	log_info("reload: key ring %s: %zu keys, active key id %u",
	    srv->keyring_path, keyring_ids(kr, NULL, 0), keyring_active(kr));
	if (keyring_active(kr) == old)
		return;
	rc = wal_mark_rotate(srv->wal);
	if (rc == WAL_OK && wal_pending(srv->wal)) {
		log_info("key rotation: sealing the active segment; the next "
		    "one is written under key id %u", keyring_active(kr));
		ack_kick(srv);
	} else if (rc == WAL_OK) {
		log_info("key rotation: the active segment had no record; "
		    "records go under key id %u from now on",
		    keyring_active(kr));
	} else if (rc == WAL_EFULL || rc == WAL_EWAIT || rc == WAL_ENOSPC ||
	    rc == WAL_ESPARE) {
		log_info("key rotation: a segment switch is under way; the next "
		    "append starts a segment under key id %u",
		    keyring_active(kr));
		batcher_want_spare(srv->batcher);
		ack_kick(srv);
	}
}

/* replication: the loop's settings change live (the default level, the
   timeout, the backlog limits); what the replicator thread was started
   with (servers, stream, credentials, ...) needs a restart. */
static void
server_reload_repl(struct config *cfg, const struct config *ncfg)
{
	if (!server_reload_same(cfg->repl_servers, ncfg->repl_servers) ||
	    strcmp(cfg->repl_stream, ncfg->repl_stream) != 0 ||
	    strcmp(cfg->repl_subject_prefix, ncfg->repl_subject_prefix) != 0 ||
	    cfg->repl_replicas != ncfg->repl_replicas ||
	    cfg->repl_window != ncfg->repl_window ||
	    !server_reload_same(cfg->repl_creds, ncfg->repl_creds) ||
	    !server_reload_same(cfg->repl_user, ncfg->repl_user) ||
	    !server_reload_same(cfg->repl_password, ncfg->repl_password) ||
	    !server_reload_same(cfg->repl_token, ncfg->repl_token) ||
	    !server_reload_same(cfg->repl_tls_ca, ncfg->repl_tls_ca))
		log_warn("reload: replication.servers, stream, subject_prefix, "
		    "replicas, publish_window and the credentials cannot "
		    "change while running; kept");
	cfg->repl_ack = ncfg->repl_ack;
	cfg->repl_timeout_us = ncfg->repl_timeout_us;
	cfg->repl_backlog_records = ncfg->repl_backlog_records;
	cfg->repl_backlog_bytes = ncfg->repl_backlog_bytes;
}

/* Applies ncfg, a configuration loaded again, all or nothing: what can
   fail (the key ring) is checked first, and on failure nothing changes:
   -1 and *cause. What it takes from ncfg (strings, the access list) is
   swapped, so that ncfg's owner frees what the running configuration let
   go. Settings that cannot change while running are logged and kept. */
int
server_reload(struct server *srv, struct config *ncfg, char **cause)
{
	struct config	*cfg = srv->cfg;
	struct access	*acl;
	struct keyring	*kr;
	char		 line[160];

	if (server_reload_load_keys(srv, ncfg, &kr, cause) != 0)
		return (-1);

	if (strcmp(cfg->socket_path, ncfg->socket_path) != 0 ||
	    cfg->socket_mode != ncfg->socket_mode ||
	    !server_reload_same(cfg->socket_owner, ncfg->socket_owner) ||
	    !server_reload_same(cfg->socket_group, ncfg->socket_group))
		log_warn("reload: socket.* cannot change while running; kept");
	if (strcmp(cfg->data_dir, ncfg->data_dir) != 0 ||
	    cfg->segment_size != ncfg->segment_size ||
	    cfg->direct_io != ncfg->direct_io ||
	    cfg->recycle_segments != ncfg->recycle_segments ||
	    cfg->max_batch_bytes != ncfg->max_batch_bytes ||
	    cfg->producers_max != ncfg->producers_max ||
	    cfg->producer_window != ncfg->producer_window)
		log_warn("reload: storage.*, producers.* and "
		    "group_commit.max_batch_bytes cannot change while running; "
		    "kept");
	if (ncfg->max_record > cfg->max_record)
		log_warn("reload: limits.max_record can only be lowered while "
		    "running; kept at %u", cfg->max_record);
	else
		cfg->max_record = ncfg->max_record;
	cfg->retention_cursors = ncfg->retention_cursors;
	cfg->retention_max_bytes = ncfg->retention_max_bytes;
	cfg->retention_max_age_us = ncfg->retention_max_age_us;
	if (cfg->retention_interval_us != ncfg->retention_interval_us) {
		cfg->retention_interval_us = ncfg->retention_interval_us;
		if (retention_start(srv) != 0)
			log_warn("reload: the retention timer could not be "
			    "restarted");
	}
	cfg->commit_delay_us = ncfg->commit_delay_us;
	cfg->commit_siblings = ncfg->commit_siblings;
	cfg->max_connections = ncfg->max_connections;
	cfg->max_conn_inflight = ncfg->max_conn_inflight;
	cfg->max_total_inflight = ncfg->max_total_inflight;
	cfg->max_conn_output = ncfg->max_conn_output;
	cfg->cursors_max = ncfg->cursors_max;
	cfg->log_level = ncfg->log_level;
	cfg->scrub_rate = ncfg->scrub_rate;
	cfg->scrub_interval_us = ncfg->scrub_interval_us;
	cfg->scrub_at_start = ncfg->scrub_at_start;	/* for the next start */
	scrub_reconfigure(srv);
	log_set_level(cfg->log_level);
	server_reload_swap(&cfg->metrics_file, &ncfg->metrics_file);
	cfg->metrics_interval_us = ncfg->metrics_interval_us;
	server_reload_swap(&cfg->archive_command, &ncfg->archive_command);
	cfg->archive_retry_min_us = ncfg->archive_retry_min_us;
	cfg->archive_retry_max_us = ncfg->archive_retry_max_us;
	cfg->archive_timeout_us = ncfg->archive_timeout_us;
	server_reload_repl(cfg, ncfg);
	archive_reload(srv->archive, cfg->archive_command,
	    cfg->archive_retry_min_us, cfg->archive_retry_max_us,
	    cfg->archive_timeout_us);
	/* Later requests see the new list; ncfg's owner frees the old one. */
	acl = cfg->access;
	cfg->access = ncfg->access;
	ncfg->access = acl;
	access_describe(cfg->access, line, sizeof line);
	log_info("%s", line);
	batcher_set_delay(srv->batcher, cfg->commit_delay_us,
	    cfg->commit_siblings);
	server_reload_apply_keys(srv, kr);
	log_info("configuration reloaded");
	return (0);
}

/* Sets what a RELOAD request runs; see server.h. */
void
server_set_reload(struct server *srv, int (*cb)(void *, char **), void *arg)
{
	srv->reload_cb = cb;
	srv->reload_arg = arg;
}

/* RELOAD (walctl reload): the same reload as SIGHUP, logged with who
   asked; the reply says whether it was applied, or why nothing was. */
void
server_reload_request(struct conn *c, uint64_t id)
{
	struct server	*srv = c->srv;
	char		*cause = NULL;

	log_info("reload: asked by connection %llu (pid %ld, uid %ld)",
	    (unsigned long long)c->serial, (long)c->pid, (long)c->uid);
	if (srv->reload_cb == NULL) {
		conn_error(c, id, WIRE_E_INTERNAL, "reload: not set up");
		return;
	}
	if (srv->reload_cb(srv->reload_arg, &cause) != 0) {
		conn_error(c, id, WIRE_E_CONFIG, "%s; nothing changed",
		    cause != NULL ? cause : "refused");
		free(cause);
		return;
	}
	conn_reply_empty(c, WIRE_OP_RELOAD, id);
}
