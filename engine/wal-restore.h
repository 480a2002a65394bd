/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wal-restore.h: rebuilding a data directory from records as stored (a
 * raw reader's, or replication messages'): the same segments, byte for
 * byte as far as records go, each but the last sealed, the last left
 * active for walld's recovery to finish. docs/REPLICATION.md, "Restore".
 */
#ifndef WALD_WAL_RESTORE_H
#define WALD_WAL_RESTORE_H

#include <stdint.h>

struct seg_header;
struct wal_record;
struct wal_segmeta;

/* wal_restore_add: the record cannot follow the ones before it (a gap,
   a segment that disagrees with itself, ...): nothing was written. */
#define WAL_RESTORE_REFUSED	(-2)

struct wal_restore_stats {
	uint64_t	records;
	uint64_t	segments;
	uint64_t	first_lsn;	/* 0: no record yet */
	uint64_t	last_lsn;
};

struct wal_restore;

/* Starts a restore into dir, which must not exist or be empty (it is
   made, and its parent fsynced). NULL and *cause otherwise. Until
   wal_restore_close returns, the directory is not a log that walld or a
   reader accepts: its first segment has no header yet. */
struct wal_restore *wal_restore_open(const char *dir, char **cause);
/* Adds the next record: rec->seg set, the payload as stored, its LSN the
   one after the previous record's. 0; WAL_RESTORE_REFUSED and *cause;
   or -1 and *cause when a system call failed (then only abort is left). */
int		 wal_restore_add(struct wal_restore *,
		    const struct wal_record *, char **cause);
void		 wal_restore_stats(const struct wal_restore *,
		    struct wal_restore_stats *);
/* Finishes: the last segment left active, everything synced, and the
   first segment's header written last. 0 (r is freed), or -1 and *cause
   (then only wal_restore_abort is left). */
int		 wal_restore_close(struct wal_restore *, char **cause);
/* Gives up: removes the segments the restore made, the identity file
   (REPLICA) if its caller wrote one, and the directory if it made it.
   Frees r. 0, or -1 and *cause saying what is left. */
int		 wal_restore_abort(struct wal_restore *, char **cause);

/* The header of the segment a record's seg describes, beginning at
   first (its own first LSN, or a later one: wal-restore.c). */
void		 wal_restore_header(const struct wal_segmeta *,
		    uint64_t first, struct seg_header *);
/* The header a record has as stored (REC_HDR_SIZE bytes at p), its CRC
   field 0, then its extension fields (up to REC_EXT_MAX bytes): what
   encryption authenticates (FORMAT.md, 12). Returns the extension's
   length. */
uint32_t	 wal_restore_rec_header(unsigned char *p,
		    const struct wal_record *);
/* 1 when two records' segment fields are the same segment's. */
int		 wal_restore_same(const struct wal_segmeta *,
		    const struct wal_segmeta *);

#endif
