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

/* Why a reader failed (wal_reader_fault, wal_reader_open_fault): what a
   daemon tells its client, and what an offline tool's exit code says. */
enum wal_read_fault_kind {
	WAL_READ_OK = 0,
	WAL_READ_RANGE,		/* the LSN asked for is not in the log
				   (below its first LSN: truncated) */
	WAL_READ_DAMAGED,	/* a record, header or footer is damaged,
				   a segment is missing between others,
				   or the disk failed to read it */
	WAL_READ_OTHER,		/* none of those: memory, descriptors, an
				   unreadable directory, a missing key */
};

struct wal_read_fault {
	enum wal_read_fault_kind kind;
	char		 file[32];	/* segment file name; "" if none */
	uint64_t	 off;		/* in it, of the damage */
	uint64_t	 lsn;		/* the LSN expected there */
	int		 err;		/* WAL_READ_OTHER: the errno, if one
					   (EMFILE: out of descriptors) */
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
/* wal_reader_open_keys that also says why it failed (fault may be NULL). */
struct wal_reader *wal_reader_open_fault(const char *dir, uint64_t from,
		    const struct wal_filter *, struct keyring *,
		    struct wal_read_fault *fault, char **cause);
/* Why the last wal_reader_next that returned -1 failed. */
void		 wal_reader_fault(const struct wal_reader *,
		    struct wal_read_fault *);
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
/* 1 once the reader has met a record with a time later than its
   filter's until: the times of a log never go back, so no record from
   there on can match, and wal_reader_next returns 0 for ever. */
int		 wal_reader_past_until(const struct wal_reader *);
void		 wal_reader_close(struct wal_reader *);

/* Checks every segment offline; prints a summary, and each problem with
   file, offset and LSN, to out. Returns the number of problems, -1 when
   the directory cannot be read. */
int		 wal_verify(const char *dir, FILE *out);
/* The same, and with a key ring (may be NULL) every record of an
   encrypted segment is authenticated too. */
int		 wal_verify_keys(const char *dir, struct keyring *, FILE *out);
/* The checker's walk for a running walld (its scrub, `walctl verify`
   through it): no stream; problems go to problem_cb. */
struct wal_verify_opts {
	struct keyring	*keyring;	/* authenticate with it; NULL: no */
	uint64_t	 below;		/* only segments whose first LSN is
					   below (the first not sealed);
					   0: all */
	int		 live;		/* a writer runs: a segment truncated
					   or recycled while read is skipped,
					   not a problem */
	/* Each problem: file is the segment's name ("" for the directory),
	   off and lsn where (0: none), what in words. May be NULL. */
	void		(*problem_cb)(void *, const char *file, uint64_t off,
			    uint64_t lsn, const char *what);
	/* Called as the walk reads, with the bytes read since the last
	   call (about 256 KiB at a time, and each segment's rest): it may
	   sleep to bound the rate. Non-zero: stop after this segment. */
	int		(*pace_cb)(void *, uint64_t bytes);
	void		*arg;
};
struct wal_verify_result {
	uint64_t	segments;	/* checked */
	uint64_t	records;	/* found valid */
	uint64_t	damaged;	/* records found damaged */
	uint64_t	problems;
	uint64_t	first_lsn;	/* of the first segment checked */
	uint64_t	last_lsn;	/* the last record checked (0: none) */
	uint64_t	bytes;		/* of the segment files checked */
	uint64_t	encrypted;	/* segments */
	uint64_t	authenticated;	/* of them, every record authentic */
	int		stopped;	/* pace_cb asked to stop: incomplete */
};
/* Checks the segments as wal_verify_keys does; with out NULL nothing is
   printed. Returns the number of problems, -1 when the directory cannot
   be read (said on out, or to problem_cb with file ""). res may be NULL. */
int		 wal_verify_run(const char *dir, const struct wal_verify_opts *,
		    FILE *out, struct wal_verify_result *res);
/* 0 when dir is a directory that can be read and holds a segment file;
   -1 and *cause (missing, unreadable, empty: a failed mount) if not. */
int		 wal_verify_dir_check(const char *dir, char **cause);
/* Checks that the key ring kr (NULL: no encryption) opens every
   segment of dir: 0; -1 and *cause naming a segment whose key is missing
   or not the one it was written with; 1 when dir (or a segment) cannot
   be read, so nothing could be checked. */
int		 wal_verify_keyring(const char *dir, struct keyring *,
		    char **cause);

#endif
