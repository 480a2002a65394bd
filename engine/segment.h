/* SPDX-License-Identifier: Apache-2.0 */
/*
 * segment.h: the on-disk format of WAL segment files (specified in wal.c
 * and docs/FORMAT.md): encoding and checking of the segment header, record
 * headers and footers, directory listing, and the sequential scanner.
 */
#ifndef WALD_SEGMENT_H
#define WALD_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#define SEG_HDR_SIZE		4096
#define SEG_MAGIC		"WALLDSEG"	/* 8 bytes, no terminator */
#define SEG_VERSION		3	/* written; 2 and 1 are still read */
#define SEG_VERSION_NOEXT	2	/* records without extension fields */
#define SEG_VERSION_UNSEEDED	1	/* record CRCs without the segment id */
#define SEG_F_ENCRYPTED		0x00000001u
#define SEG_F_REQUIRED		0x0000ffffu	/* unknown ones here: refuse */
#define SEG_F_KNOWN		SEG_F_ENCRYPTED
#define SEG_F_REUSED		0x00010000u	/* optional: the file held an
						   earlier segment, whose bytes
						   follow the last record */

#define REC_MAGIC		0x43524c57u	/* "WLRC" on disk */
#define REC_VERSION		1
#define REC_HDR_SIZE		40
#define REC_ALIGN		8
#define REC_F_FOOTER		0x0001u
#define REC_F_TIME		0x0002u		/* extension: u64 time, unix ns */
#define REC_F_PRODUCER		0x0004u		/* extension: u64 producer id,
						   u64 sequence number */
#define REC_F_REQUIRED		0x000fu		/* unknown ones here: refuse */
#define REC_F_KNOWN		(REC_F_FOOTER|REC_F_TIME|REC_F_PRODUCER)
#define REC_EXT_MAX		24		/* extension bytes, at most */
#define REC_MAX_PAYLOAD		(16u << 20)	/* no record payload above
						   this, ever */

#define FOOTER_PAYLOAD		40
#define FOOTER_SIZE		(REC_HDR_SIZE + FOOTER_PAYLOAD)
#define FOOTER_F_LOG_SEALED	0x00000001u
#define FOOTER_F_REQUIRED	0x0000ffffu
#define FOOTER_F_KNOWN		FOOTER_F_LOG_SEALED

#define SEG_NAME_LEN		24		/* "%020llu.wal" */
#define SEG_NAME_SIZE		32
#define SPARE_NAME		"spare.tmp"
#define RECYCLE_PREFIX		"recycle-"	/* "recycle-%020llu.tmp": a
						   truncated segment kept for
						   reuse as a spare */
#define RECYCLE_NAME_SIZE	40
#define LOCK_NAME		"LOCK"
#define ARCHIVED_NAME		"ARCHIVED"	/* walld's archive position */
#define ARCHIVED_TMP_NAME	"ARCHIVED.tmp"
#define REPLICA_NAME		"REPLICA"	/* the log's identity for
						   replication (repl/) */
#define REPLICA_TMP_NAME	"REPLICA.tmp"
#define CURSORS_FILE_NAME	"CURSORS"	/* walld's consumer cursors */
#define CURSORS_FILE_TMP_NAME	"CURSORS.tmp"
#define PRODUCERS_NAME		"PRODUCERS"	/* the producer table's
						   snapshot (wal-producer.c) */
#define PRODUCERS_TMP_NAME	"PRODUCERS.tmp"
#define START_NAME		"START"		/* the log's first LSN
						   (wal-start.c) */
#define START_TMP_NAME		"START.tmp"
#define IO_ALIGN		4096
#define SCAN_CHUNK		(1u << 20)

struct seg_header {
	uint16_t	version;
	uint16_t	hdr_len;
	uint32_t	flags;
	uint64_t	first_lsn;
	uint8_t		id[16];
	uint64_t	ctime_ns;
	uint32_t	key_id;		/* 0 unless encrypted */
	uint8_t		salt[32];
	uint8_t		check[16];	/* key check value (keyring.c) */
	uint32_t	seed;		/* derived, not stored: what every
					   record CRC starts from
					   (segment_seed) */
};

struct rec_header {
	uint8_t		version;
	uint8_t		hdr_len;
	uint16_t	flags;
	uint16_t	type;
	uint16_t	vshard;
	uint32_t	tenant;
	uint32_t	len;
	uint32_t	crc;
	uint64_t	lsn;
	uint64_t	batch_lsn;
};

/* A record's extension fields (version 3 segments): stored right after
   the header, before the payload, counted in its length and its CRC,
   never encrypted. The time on every record; the producer on an
   idempotent append's (PROTOCOL.md, "Producers"). */
struct rec_ext {
	uint64_t	time_ns;	/* 0: none */
	uint64_t	producer;	/* 0: none */
	uint64_t	seq;
};

struct seg_footer {
	uint64_t	first_lsn;
	uint64_t	last_lsn;
	uint64_t	count;
	uint64_t	offset;		/* of the footer record itself */
	uint32_t	data_crc;	/* over bytes [4096, offset) */
	uint32_t	flags;
};

struct seg_ent {
	uint64_t	first;
	char		name[SEG_NAME_SIZE];
};

/* How a scan of records ended. */
enum seg_stop {
	SEG_STOP_EOF,		/* end of file */
	SEG_STOP_ZERO,		/* an all-zero record header */
	SEG_STOP_BAD,		/* an invalid record: why says what */
	SEG_STOP_FOOTER,	/* a valid footer matching the records */
};

struct seg_scan {
	/* in */
	int		 fd;
	uint64_t	 size;
	uint64_t	 first_lsn;
	uint32_t	 seed;		/* the header's: segment_seed */
	/* Optional: called for every valid record (not the footer), p at its
	   header, the stored payload after it; may be NULL. */
	void		(*rec_cb)(void *, const struct rec_header *,
			    const unsigned char *p, uint64_t off);
	void		*rec_arg;
	/* out */
	uint64_t	 end;		/* offset after the last valid record */
	uint64_t	 next_lsn;	/* LSN expected at end */
	uint64_t	 count;
	uint64_t	 flushes;	/* distinct batch LSNs among them */
	uint32_t	 data_crc;	/* over [4096, end) */
	enum seg_stop	 stop;
	char		 why[160];
	struct seg_footer footer;	/* SEG_STOP_FOOTER */
	int		 bad_padding;	/* a record with non-zero padding */
	uint64_t	 bad_padding_off;
};

struct seg_tail {
	int		nonzero;	/* some byte after the cut is not zero */
	uint64_t	nonzero_off;
	int		torn;		/* a valid record of the torn flush */
	int		undecided;	/* too many record-like headers to
					   check: neither torn nor later is
					   known (segment_search_tail) */
	uint64_t	undecided_off;
	int		later;		/* a valid record of a later flush */
	uint64_t	later_off;
	uint64_t	later_lsn;
	uint64_t	later_batch;
	int		later_footer;
};

/* What follows the records of the last, active segment: the one torn-tail
   rule (segment_tail_verdict, FORMAT.md section 8). */
enum seg_verdict {
	SEG_END_CLEAN,		/* zeros: the records just end there */
	SEG_END_TORN,		/* the torn tail of the flush never
				   acknowledged: cut it */
	SEG_END_REUSED,		/* a reused file's earlier contents */
	SEG_END_DAMAGED,	/* a later flush follows: acknowledged
				   data is damaged */
	SEG_END_UNDECIDED,	/* more record-shaped headers than can
				   be checked: torn and damaged cannot
				   be told apart */
};

/* Reads a little-endian u16. */
static inline uint16_t
seg_get16(const unsigned char *p)
{
	return ((uint16_t)(p[0] | (p[1] << 8)));
}

/* Reads a little-endian u32. */
static inline uint32_t
seg_get32(const unsigned char *p)
{
	return ((uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	    ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24));
}

/* Reads a little-endian u64. */
static inline uint64_t
seg_get64(const unsigned char *p)
{
	return ((uint64_t)seg_get32(p) | ((uint64_t)seg_get32(p + 4) << 32));
}

/* Writes a little-endian u16. */
static inline void
seg_put16(unsigned char *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

/* Writes a little-endian u32. */
static inline void
seg_put32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

/* Writes a little-endian u64. */
static inline void
seg_put64(unsigned char *p, uint64_t v)
{
	seg_put32(p, (uint32_t)v);
	seg_put32(p + 4, (uint32_t)(v >> 32));
}

/* Bytes of extension fields a record with these flags has. */
static inline uint32_t
rec_ext_len(uint16_t flags)
{
	return (((flags & REC_F_TIME) ? 8u : 0u) +
	    ((flags & REC_F_PRODUCER) ? 16u : 0u));
}

/* Bytes a record with a payload of len takes on disk. */
static inline uint64_t
seg_rec_size(uint32_t len)
{
	return (((uint64_t)REC_HDR_SIZE + len + REC_ALIGN - 1) &
	    ~(uint64_t)(REC_ALIGN - 1));
}

void	segment_name(char *, uint64_t first);
int	segment_parse_name(const char *, uint64_t *);
void	segment_encode_header(unsigned char *, const struct seg_header *);
int	segment_decode_header(const unsigned char *, struct seg_header *,
	    const char **why);
int	segment_read_header(int, struct seg_header *, const char **why);
void	segment_encode_rec(unsigned char *, const struct rec_header *);
int	segment_decode_rec(const unsigned char *, struct rec_header *,
	    const char **why);
/* The flags for extension x, and its bytes written at p (which has room
   for rec_ext_len of those flags); decoding reads them back. */
uint16_t segment_ext_flags(const struct rec_ext *);
void	segment_encode_ext(unsigned char *p, const struct rec_ext *);
void	segment_decode_ext(const unsigned char *p, uint16_t flags,
	    struct rec_ext *);
uint32_t segment_seed(uint16_t version, const uint8_t id[16]);
uint32_t segment_rec_crc(uint32_t seed, const unsigned char *, const void *,
	    uint32_t);
void	segment_encode_footer(unsigned char *, const struct seg_footer *,
	    uint32_t seed);
int	segment_decode_footer(const unsigned char *, uint32_t seed,
	    struct seg_footer *, const char **why);
int	segment_read_footer(int, uint64_t, uint64_t, uint32_t seed,
	    struct seg_footer *, const char **why);
int	segment_list(int, const char *, struct seg_ent **, size_t *,
	    void (*)(void *, const char *), void (*)(void *, const char *),
	    void *, char **cause);
int	segment_list_kept(int, const char *, struct seg_ent **, size_t *,
	    char **cause);
int	segment_scan(struct seg_scan *, char **cause);
/* "recycle-%020llu.tmp" for the segment whose first LSN is first. */
void	segment_recycle_name(char *, uint64_t first);
/* 1 if name is one segment_recycle_name makes, *first its LSN. */
int	segment_parse_recycle_name(const char *, uint64_t *first);
int	segment_search_tail(const struct seg_scan *, struct seg_tail *,
	    char **cause);
int	segment_tail_verdict(const struct seg_scan *, uint32_t seg_flags,
	    struct seg_tail *, enum seg_verdict *, const char **what,
	    char **cause);

#endif
