/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal-reader.h: reading a WAL directory, independent of any writer: the
 * reader with its filters (wal-reader.c), and the offline checker
 * (wal-verify.c). Both work from the files alone; the reader of a live
 * log is told the writer's durable LSN as its limit.
 */
#ifndef WALD_WAL_READER_H
#define WALD_WAL_READER_H

#include <stdint.h>
#include <stdio.h>

struct keyring;

struct wal_filter {
	uint32_t	tenant;
	uint16_t	vshard;
	uint16_t	type;
	uint64_t	since_ns;	/* records timed at or after (unix ns) */
	uint64_t	until_ns;	/* at or before */
	unsigned	has_tenant:1, has_vshard:1, has_type:1;
	unsigned	has_since:1, has_until:1;	/* a record without a
					   time (version 1, 2) matches neither */
};

/* What a record's segment header says that a copy of the record elsewhere
   needs: to decrypt it (key id, salt, id, first LSN) and to rebuild the
   segment byte for byte (FORMAT.md section 3). */
struct wal_segmeta {
	uint64_t	first_lsn;
	uint64_t	ctime_ns;
	uint32_t	key_id;		/* 0: not encrypted */
	uint8_t		id[16];
	uint8_t		salt[32];
	uint8_t		check[16];
};

struct wal_record {
	uint64_t	 lsn;
	uint16_t	 type;
	uint32_t	 tenant;
	uint16_t	 vshard;
	uint32_t	 len;		/* of the payload (decrypted, or as
					   stored by a raw reader) */
	const void	*payload;	/* valid until the next call on the reader */
	uint64_t	 batch_lsn;	/* first LSN of the flush that wrote it */
	uint64_t	 time_ns;	/* wall clock at append, unix ns (0:
					   none, a version 1 or 2 segment) */
	uint64_t	 producer;	/* its producer id (0: none) */
	uint64_t	 seq;		/* and sequence number */
	const struct wal_segmeta *seg;	/* its segment's; valid as payload */
};

struct wal_reader;
/* Positions at the first record with LSN >= from (0: the log's first). */
struct wal_reader *wal_reader_open(const char *dir, uint64_t from,
		    const struct wal_filter *, char **cause);
/* The same, decrypting with the key ring (may be NULL: then an encrypted
   segment is an error). The reader takes a reference. */
struct wal_reader *wal_reader_open_keys(const char *dir, uint64_t from,
		    const struct wal_filter *, struct keyring *, char **cause);
/* A raw reader: payloads as stored (an encrypted record's ciphertext and
   tag, not authenticated), and no key ring needed. For copies of the log
   that keep it encrypted (replication). */
struct wal_reader *wal_reader_open_raw(const char *dir, uint64_t from,
		    const struct wal_filter *, char **cause);
/* Gives a reader a new key ring, for the segments it opens from now on. */
void		 wal_reader_set_keyring(struct wal_reader *, struct keyring *);
/* 1 and *rec for the next matching record with LSN <= limit; 0 when there
   is none yet (more may appear later: call again); -1 and *cause on damage
   (file, offset, LSN) or when from is below the log's first LSN. */
int		 wal_reader_next(struct wal_reader *, uint64_t limit,
		    struct wal_record *, char **cause);
/* Tells the reader that every limit it will be given is an LSN that
   exists (the writer's durable LSN): then what a reused segment's file
   held before, met where a record at or below the limit is expected, is
   damage. Without it, as for a reader of a directory alone, that is the
   end of the records for now (FORMAT.md, section 10). */
void		 wal_reader_durable(struct wal_reader *);
void		 wal_reader_close(struct wal_reader *);

/* Checks every segment offline; prints a summary, and each problem with
   file, offset and LSN, to out. Returns the number of problems, -1 when
   the directory cannot be read. */
int		 wal_verify(const char *dir, FILE *out);
/* The same, and with a key ring (may be NULL) every record of an
   encrypted segment is authenticated too. */
int		 wal_verify_keys(const char *dir, struct keyring *, FILE *out);

#endif
