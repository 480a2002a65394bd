/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replmsg.h: one WAL record as one NATS JetStream message, and back. The
 * layout is docs/REPLICATION.md's "Messages": the payload exactly as
 * stored (ciphertext and tag when the log is encrypted), and headers that
 * say where it belongs and how to decrypt it. walld publishes with these;
 * walctl restore and walctl read --nats decode them.
 */
#ifndef WALD_REPLMSG_H
#define WALD_REPLMSG_H

#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

struct wal_record;
struct wal_segmeta;

#define REPL_LOG_ID_LEN		32	/* hex digits of a log's identity */
#define REPL_MSG_ID_SIZE	80
#define REPL_SUBJECT_SIZE	160

#define REPL_H_LOG		"Walld-Log"
#define REPL_H_EPOCH		"Walld-Epoch"
#define REPL_H_LSN		"Walld-Lsn"
#define REPL_H_BATCH		"Walld-Batch"
#define REPL_H_TYPE		"Walld-Type"
#define REPL_H_TENANT		"Walld-Tenant"
#define REPL_H_VSHARD		"Walld-Vshard"
#define REPL_H_SEGMENT		"Walld-Segment"
#define REPL_H_TIME		"Walld-Time"	/* extension fields, when */
#define REPL_H_PRODUCER		"Walld-Producer"	/* the record has */
#define REPL_H_SEQ		"Walld-Seq"	/* them (FORMAT.md) */

/* Which log, and which writer of it: the log's identity is made once,
   with its directory; the epoch goes up each time the log is restored
   elsewhere, so that a message says which walld published it. */
struct repl_ident {
	char		log_id[REPL_LOG_ID_LEN + 1];
	uint64_t	epoch;
};

/* Nats-Msg-Id of the record at lsn: "<log id>-<epoch>-<lsn>". */
void	replmsg_id(char *buf, size_t size, const struct repl_ident *,
	    uint64_t lsn);
/* The subject of a record of vshard: "<prefix>.<vshard>". */
void	replmsg_subject(char *buf, size_t size, const char *prefix,
	    uint16_t vshard);
/* A message for the record (from a raw reader: payload as stored, seg
   set). 0, or -1 and *cause. */
int	replmsg_encode(natsMsg **, const char *prefix,
	    const struct repl_ident *, const struct wal_record *,
	    char **cause);
/* Reads a message back: *rec (payload pointing into the message), *seg
   (rec->seg points to it) and *id. 0, or -1 and *cause naming what is
   missing or malformed. */
int	replmsg_decode(natsMsg *, struct wal_record *, struct wal_segmeta *,
	    struct repl_ident *, char **cause);
/* The LSN and identity of a message (its headers alone). 0 or -1. */
int	replmsg_lsn(natsMsg *, uint64_t *lsn, struct repl_ident *);

/* The directory's identity file (REPLICA_NAME): read it, or make one
   with a fresh log id and epoch 1 when there is none (temp file, fsync,
   rename, directory fsync). 0, or -1 and *cause. */
int	repl_ident_load(const char *dir, int create, struct repl_ident *,
	    char **cause);
/* Writes it (the same way): restore gives the copy a new epoch. */
int	repl_ident_store(const char *dir, const struct repl_ident *,
	    char **cause);

#endif
