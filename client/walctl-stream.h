/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walctl-stream.h: a walld replication stream read back from NATS
 * JetStream (docs/REPLICATION.md), for walctl restore and read --nats:
 * its messages in stream order, each decoded and checked against the
 * ones before it (one log, epochs never going down, consecutive LSNs).
 * Functions return a sysexits code, and *cause when it is not EX_OK.
 */
#ifndef WALD_WALCTL_STREAM_H
#define WALD_WALCTL_STREAM_H

#include <stdint.h>

#include "replmsg.h"
#include "wal-reader.h"

struct keyring;

struct walctl_stream_opts {
	const char	*urls;		/* "URL[,URL...]" */
	const char	*stream;
	const char	*creds;		/* a NATS credentials file, or NULL */
	int		 timeout_ms;	/* connecting, and each API request */
};

/* One message: its record (payload as stored, pointing into the message:
   valid until the next call), its segment's fields, who published it. */
struct walctl_stream_msg {
	uint64_t		seq;	/* stream sequence */
	struct wal_record	rec;
	struct wal_segmeta	seg;
	struct repl_ident	ident;
};

struct walctl_stream;

/* Connects and looks the stream up: *first and *last are its first and
   last sequence (last < first: it holds no message). */
int	walctl_stream_open(struct walctl_stream **,
	    const struct walctl_stream_opts *, uint64_t *first,
	    uint64_t *last, char **cause);
/* The LSN and identity of the message at seq, fetched alone. */
int	walctl_stream_peek(struct walctl_stream *, uint64_t seq,
	    uint64_t *lsn, struct repl_ident *, char **cause);
/* Reads from seq on, up to last (UINT64_MAX: for ever, waiting). */
int	walctl_stream_start(struct walctl_stream *, uint64_t seq,
	    uint64_t last, char **cause);
/* The next message: *m, or *done at the end. */
int	walctl_stream_next(struct walctl_stream *, struct walctl_stream_msg *,
	    int *done, char **cause);
/* 1 when messages have arrived that walctl_stream_next has not returned
   yet (0: it may wait). */
int	walctl_stream_pending(struct walctl_stream *);
/* Decrypts m's record in place (its payload then points into the
   stream's buffer) with the key ring, which may be NULL: then an
   encrypted record is an error, as for read --dir. Plaintext: nothing. */
int	walctl_stream_decrypt(struct walctl_stream *, struct keyring *,
	    struct walctl_stream_msg *, char **cause);
void	walctl_stream_close(struct walctl_stream *);

#endif
