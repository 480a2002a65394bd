/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replica.h: replication of the log into a NATS JetStream stream
 * (docs/REPLICATION.md). A thread publishes every durable record, in LSN
 * order, and keeps the replicated LSN: the highest LSN that the stream,
 * and so a quorum of its replicas, holds with every LSN before it.
 */
#ifndef WALD_REPLICA_H
#define WALD_REPLICA_H

#include <stdint.h>

struct config;
struct replica;

enum replica_state {
	REPLICA_CONNECTING,	/* no connection, or none yet */
	REPLICA_RUNNING,	/* connected and publishing */
	REPLICA_FENCED,		/* another walld took the log over */
	REPLICA_REFUSED,	/* the stream is not this log's */
};

/* Room for the last error's text: a NATS status, what the library said
   of it, and JetStream's error code. */
#define REPLICA_WHY_SIZE	256

struct replica_stats {
	enum replica_state state;
	uint64_t	 lsn;		/* replicated LSN (0: none yet) */
	uint64_t	 published;	/* messages published since start */
	uint64_t	 acked;		/* messages the stream acknowledged */
	uint64_t	 acked_bytes;	/* their payload bytes */
	uint64_t	 errors;	/* publish errors, then resynced */
	uint64_t	 resyncs;	/* times the stream was asked where it is */
	uint64_t	 lat_count;	/* publish-to-ack latency histogram: */
	uint64_t	 lat_sum_us;
	uint64_t	 lat_le[9];	/* per bucket (not cumulative): up to
					   250us, 500us, 1ms, 2ms, 5ms, 10ms,
					   50ms, 1s, and above */
	char		 error[REPLICA_WHY_SIZE];	/* the last error, "" if
							   none */
};

/* The histogram's bounds, in microseconds (REPLICA_NBUCKETS of them). */
#define REPLICA_NBUCKETS	8
extern const uint64_t replica_bucket_us[REPLICA_NBUCKETS];

/*
 * Starts replicating the log in dir (the daemon's data directory) as cfg
 * says. first_lsn is the log's first LSN and durable its durable LSN at
 * start. notify_fd (an eventfd) is written whenever the replicated LSN
 * moves or the state changes, so that the loop can answer the appends
 * waiting for it. NULL and *cause when it cannot start (the identity file
 * cannot be made, the thread cannot be created); a NATS server that does
 * not answer is not an error: the thread keeps trying.
 */
struct replica	*replica_start(const struct config *, const char *dir,
		    uint64_t durable, int notify_fd, char **cause);
/* The log's durable LSN moved (loop thread): there is more to publish. */
void		 replica_durable(struct replica *, uint64_t durable);
/* The replicated LSN (any thread). */
uint64_t	 replica_lsn(struct replica *);
/* The LSN the backlog counts from (any thread): the replicated LSN once
   the replicator has heard from the stream; before that, the durable LSN
   at start (whether those records wait is not known: they are not
   counted, lest a restart during an outage count the whole log). */
uint64_t	 replica_floor(struct replica *);
enum replica_state replica_state(struct replica *);
const char	*replica_state_name(enum replica_state);
void		 replica_stats(struct replica *, struct replica_stats *);
/* Stops the thread, waiting at most a second for messages in flight,
   then for the NATS library's threads to end (they may still hold a
   callback for it), and frees everything. Once only: at walld's exit.
   NULL is fine. */
void		 replica_stop(struct replica *);

#endif
