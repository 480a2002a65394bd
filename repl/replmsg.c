/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replmsg.c: records as JetStream messages (replmsg.h), and the log's
 * identity file. docs/REPLICATION.md is the layout's specification.
 */
#include <sys/types.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cause.h"
#include "replmsg.h"
#include "segment.h"
#include "wal-reader.h"

/* "<first>/<ctime ns>/<key id>/<id>/<salt>/<check>", the last three hex. */
#define REPL_SEGMENT_SIZE	(3 * 21 + 2 * (16 + 32 + 16) + 8)

static const char hexdig[] = "0123456789abcdef";

/* Writes n bytes as 2n hex digits and a NUL at out. */
static char *
repl_hex(char *out, const uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		*out++ = hexdig[p[i] >> 4];
		*out++ = hexdig[p[i] & 15];
	}
	*out = '\0';
	return (out);
}

/* Reads exactly 2n hex digits from s into p; the end, or NULL. */
static const char *
repl_unhex(const char *s, uint8_t *p, size_t n)
{
	size_t	i;
	int	k, hi, lo;

	for (i = 0; i < n; i++) {
		for (k = 0, hi = lo = -1; k < 2; k++, s++) {
			const char *d = *s != '\0' ? strchr(hexdig, *s) : NULL;

			if (d == NULL)
				return (NULL);
			if (k == 0)
				hi = (int)(d - hexdig);
			else
				lo = (int)(d - hexdig);
		}
		p[i] = (uint8_t)(hi << 4 | lo);
	}
	return (s);
}

void
replmsg_id(char *buf, size_t size, const struct repl_ident *id, uint64_t lsn)
{
	snprintf(buf, size, "%s-%" PRIu64 "-%" PRIu64, id->log_id, id->epoch,
	    lsn);
}

void
replmsg_subject(char *buf, size_t size, const char *prefix, uint16_t vshard)
{
	snprintf(buf, size, "%s.%u", prefix, (unsigned)vshard);
}

/* Sets header key to the decimal v. */
static natsStatus
repl_set_u64(natsMsg *m, const char *key, uint64_t v)
{
	char	buf[24];

	snprintf(buf, sizeof buf, "%" PRIu64, v);
	return (natsMsgHeader_Set(m, key, buf));
}

int
replmsg_encode(natsMsg **out, const char *prefix, const struct repl_ident *id,
    const struct wal_record *rec, char **cause)
{
	char		 subj[REPL_SUBJECT_SIZE], msgid[REPL_MSG_ID_SIZE];
	char		 seg[REPL_SEGMENT_SIZE], *p;
	const struct wal_segmeta *m = rec->seg;
	natsMsg		*msg = NULL;
	natsStatus	 s;

	replmsg_subject(subj, sizeof subj, prefix, rec->vshard);
	replmsg_id(msgid, sizeof msgid, id, rec->lsn);
	p = seg + snprintf(seg, sizeof seg, "%" PRIu64 "/%" PRIu64 "/%u/",
	    m->first_lsn, m->ctime_ns, m->key_id);
	p = repl_hex(p, m->id, sizeof m->id);
	*p++ = '/';
	p = repl_hex(p, m->salt, sizeof m->salt);
	*p++ = '/';
	repl_hex(p, m->check, sizeof m->check);

	s = natsMsg_Create(&msg, subj, NULL, rec->payload, (int)rec->len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "Nats-Msg-Id", msgid);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, REPL_H_LOG, id->log_id);
	if (s == NATS_OK)
		s = repl_set_u64(msg, REPL_H_EPOCH, id->epoch);
	if (s == NATS_OK)
		s = repl_set_u64(msg, REPL_H_LSN, rec->lsn);
	if (s == NATS_OK)
		s = repl_set_u64(msg, REPL_H_BATCH, rec->batch_lsn);
	if (s == NATS_OK)
		s = repl_set_u64(msg, REPL_H_TYPE, rec->type);
	if (s == NATS_OK)
		s = repl_set_u64(msg, REPL_H_TENANT, rec->tenant);
	if (s == NATS_OK)
		s = repl_set_u64(msg, REPL_H_VSHARD, rec->vshard);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, REPL_H_SEGMENT, seg);
	if (s == NATS_OK && rec->time_ns != 0)
		s = repl_set_u64(msg, REPL_H_TIME, rec->time_ns);
	if (s == NATS_OK && rec->producer != 0)
		s = repl_set_u64(msg, REPL_H_PRODUCER, rec->producer);
	if (s == NATS_OK && rec->producer != 0)
		s = repl_set_u64(msg, REPL_H_SEQ, rec->seq);
	if (s != NATS_OK) {
		cause_set(cause, "LSN %" PRIu64 ": building its message: %s",
		    rec->lsn, natsStatus_GetText(s));
		natsMsg_Destroy(msg);
		return (-1);
	}
	*out = msg;
	return (0);
}

/* Header key as a decimal no greater than max: 0, or -1. */
static int
repl_get_u64(natsMsg *m, const char *key, uint64_t max, uint64_t *v)
{
	const char	*s;
	char		*end;

	if (natsMsgHeader_Get(m, key, &s) != NATS_OK || *s < '0' || *s > '9')
		return (-1);
	errno = 0;
	*v = strtoull(s, &end, 10);
	return (errno != 0 || *end != '\0' || *v > max ? -1 : 0);
}

/* An optional header as a decimal: 0 with *v (0 when absent), or -1
   when it is there and malformed. */
static int
repl_get_opt(natsMsg *m, const char *key, uint64_t *v)
{
	const char	*s;

	*v = 0;
	if (natsMsgHeader_Get(m, key, &s) != NATS_OK)
		return (0);
	return (repl_get_u64(m, key, UINT64_MAX, v) != 0 || *v == 0 ? -1 : 0);
}

int
replmsg_lsn(natsMsg *m, uint64_t *lsn, struct repl_ident *id)
{
	const char	*log;

	if (natsMsgHeader_Get(m, REPL_H_LOG, &log) != NATS_OK ||
	    strlen(log) != REPL_LOG_ID_LEN ||
	    repl_get_u64(m, REPL_H_EPOCH, UINT64_MAX, &id->epoch) != 0 ||
	    repl_get_u64(m, REPL_H_LSN, UINT64_MAX, lsn) != 0 || *lsn == 0)
		return (-1);
	memcpy(id->log_id, log, REPL_LOG_ID_LEN + 1);
	return (0);
}

/* Parses a Walld-Segment header into *seg. 0, or -1. */
static int
repl_parse_segment(const char *s, struct wal_segmeta *seg)
{
	unsigned long long	first, ctime;
	unsigned long		key;
	int			n = 0;

	if (sscanf(s, "%llu/%llu/%lu/%n", &first, &ctime, &key, &n) != 3 ||
	    n == 0 || key > UINT32_MAX || first == 0)
		return (-1);
	seg->first_lsn = first;
	seg->ctime_ns = ctime;
	seg->key_id = (uint32_t)key;
	s += n;
	if ((s = repl_unhex(s, seg->id, sizeof seg->id)) == NULL ||
	    *s++ != '/' ||
	    (s = repl_unhex(s, seg->salt, sizeof seg->salt)) == NULL ||
	    *s++ != '/' ||
	    (s = repl_unhex(s, seg->check, sizeof seg->check)) == NULL ||
	    *s != '\0')
		return (-1);
	return (0);
}

int
replmsg_decode(natsMsg *m, struct wal_record *rec, struct wal_segmeta *seg,
    struct repl_ident *id, char **cause)
{
	const char	*segh, *what;
	uint64_t	 v;

	memset(rec, 0, sizeof *rec);
	what = "Walld-Log, Walld-Epoch or Walld-Lsn";
	if (replmsg_lsn(m, &rec->lsn, id) != 0)
		goto bad;
	what = REPL_H_BATCH;
	if (repl_get_u64(m, REPL_H_BATCH, rec->lsn, &rec->batch_lsn) != 0)
		goto bad;
	what = REPL_H_TYPE;
	if (repl_get_u64(m, REPL_H_TYPE, UINT16_MAX, &v) != 0)
		goto bad;
	rec->type = (uint16_t)v;
	what = REPL_H_TENANT;
	if (repl_get_u64(m, REPL_H_TENANT, UINT32_MAX, &v) != 0)
		goto bad;
	rec->tenant = (uint32_t)v;
	what = REPL_H_VSHARD;
	if (repl_get_u64(m, REPL_H_VSHARD, UINT16_MAX, &v) != 0)
		goto bad;
	rec->vshard = (uint16_t)v;
	what = REPL_H_SEGMENT;
	if (natsMsgHeader_Get(m, REPL_H_SEGMENT, &segh) != NATS_OK ||
	    repl_parse_segment(segh, seg) != 0 || seg->first_lsn > rec->lsn)
		goto bad;
	if (natsMsg_GetDataLength(m) < 0 ||
	    (uint64_t)natsMsg_GetDataLength(m) > REC_MAX_PAYLOAD) {
		what = "payload length";
		goto bad;
	}
	rec->len = (uint32_t)natsMsg_GetDataLength(m);
	rec->payload = natsMsg_GetData(m);
	rec->seg = seg;
	/* The extension fields, when the record has them (FORMAT.md): a
	   header there must be well formed; a producer has both. */
	what = REPL_H_TIME;
	if (repl_get_opt(m, REPL_H_TIME, &rec->time_ns) != 0)
		goto bad;
	what = "Walld-Producer or Walld-Seq";
	if (repl_get_opt(m, REPL_H_PRODUCER, &rec->producer) != 0 ||
	    repl_get_opt(m, REPL_H_SEQ, &rec->seq) != 0 ||
	    (rec->producer == 0) != (rec->seq == 0))
		goto bad;
	return (0);

bad:
	cause_set(cause, "message on %s: %s missing or malformed",
	    natsMsg_GetSubject(m), what);
	return (-1);
}

/* The identity file: "log <32 hex>\nepoch <n>\n". */
int
repl_ident_load(const char *dir, int create, struct repl_ident *id,
    char **cause)
{
	char		 path[4096], buf[128];
	uint8_t		 raw[REPL_LOG_ID_LEN / 2];
	unsigned long long epoch;
	ssize_t		 n;
	int		 fd;

	snprintf(path, sizeof path, "%s/%s", dir, REPLICA_NAME);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT || !create) {
			cause_set(cause, "open: %s: %s", path,
			    strerror(errno));
			return (-1);
		}
		if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
			cause_set(cause, "getrandom: %s", strerror(errno));
			return (-1);
		}
		repl_hex(id->log_id, raw, sizeof raw);
		id->epoch = 1;
		return (repl_ident_store(dir, id, cause));
	}
	n = read(fd, buf, sizeof buf - 1);
	if (n == -1) {
		cause_set(cause, "read: %s: %s", path, strerror(errno));
		close(fd);
		return (-1);
	}
	close(fd);
	buf[n] = '\0';
	if (sscanf(buf, "log %32[0-9a-f]\nepoch %llu\n", id->log_id,
	    &epoch) != 2 || strlen(id->log_id) != REPL_LOG_ID_LEN ||
	    epoch == 0) {
		cause_set(cause, "%s: not \"log <32 hex digits>\" and "
		    "\"epoch <n>\" lines", path);
		return (-1);
	}
	id->epoch = epoch;
	return (0);
}

int
repl_ident_store(const char *dir, const struct repl_ident *id, char **cause)
{
	char		 path[4096], tmp[4096], buf[128];
	const char	*call = "open";
	int		 fd, dfd = -1, len;

	snprintf(path, sizeof path, "%s/%s", dir, REPLICA_NAME);
	snprintf(tmp, sizeof tmp, "%s/%s", dir, REPLICA_TMP_NAME);
	len = snprintf(buf, sizeof buf, "log %s\nepoch %" PRIu64 "\n",
	    id->log_id, id->epoch);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd == -1)
		goto fail;
	call = "write";
	if (write(fd, buf, (size_t)len) != len) {
		if (errno == 0)
			errno = EIO;
		goto fail;
	}
	call = "fsync";
	if (fsync(fd) != 0)
		goto fail;
	call = "close";
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	call = "rename";
	if (rename(tmp, path) != 0)
		goto fail;
	call = "fsync directory";
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) != 0)
		goto fail;
	close(dfd);
	return (0);

fail:
	cause_set(cause, "%s: %s: %s", call, path, strerror(errno));
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	return (-1);
}
