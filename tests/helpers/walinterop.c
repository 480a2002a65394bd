/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walinterop.c: the C side of tests/integ/clients_interop.sh, through
 * libwal. The Python (tests/helpers/interop.py) and Rust
 * (rust/examples/interop.rs) sides do the same with their clients.
 *
 *   walinterop append SOCKET COUNT    append COUNT records, print each one
 *   walinterop dump SOCKET [TENANT]   print every record of the log (of
 *                                     TENANT only, when given)
 *
 * One line per record, in the same form on the three sides:
 * "LSN TYPE TENANT VSHARD HEX", HEX the payload in lower-case hex ("-"
 * when empty). Record i of a writer: type BASE + i % 3, tenant TENANT,
 * vshard i % 7; payload empty when i % 97 == 1, else "TAG i " followed by
 * the 256 byte values from i on (i % 10 == 0) or by xorshift32 bytes,
 * 70000 of them when i % 499 == 7, else (i * 7919) % 300. This side's
 * TAG is "c", BASE 300, TENANT 3003.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libwal.h"

#define IOP_TAG		"c"
#define IOP_TYPE	300
#define IOP_TENANT	3003
#define IOP_MAX		(70000 + 64)
#define IOP_DEPTH	64	/* pipelined appends in flight */
#define IOP_SINGLE	40	/* records 0..39: one blocking append each */
#define IOP_NOWAIT	80	/* records 40..79: nowait, then one sync */

/* Builds the payload of record i into buf; returns its length. */
static size_t
iop_payload(uint8_t *buf, uint64_t i)
{
	uint32_t	x;
	size_t		n, len, k;

	if (i % 97 == 1)
		return (0);
	len = (size_t)snprintf((char *)buf, 32, "%s %" PRIu64 " ", IOP_TAG, i);
	if (i % 10 == 0) {
		for (k = 0; k < 256; k++)
			buf[len++] = (uint8_t)((i + k) & 255);
		return (len);
	}
	n = i % 499 == 7 ? 70000 : (size_t)((i * 7919) % 300);
	x = (uint32_t)(i * 2654435761u + 1);
	for (k = 0; k < n; k++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[len++] = (uint8_t)(x >> 24);
	}
	return (len);
}

/* Prints one record in the shared line form; -1 when stdout fails. */
static int
iop_print(uint64_t lsn, uint16_t type, uint32_t tenant, uint16_t vshard,
    const uint8_t *p, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	static char		 out[2 * IOP_MAX + 2];
	char			*o = out;
	size_t			 k;

	if (2 * len + 2 > sizeof out) {
		fprintf(stderr, "walinterop: LSN %" PRIu64 ": payload of %zu "
		    "bytes is larger than this helper prints\n", lsn, len);
		return (-1);
	}
	if (len == 0)
		*o++ = '-';
	for (k = 0; k < len; k++) {
		*o++ = hex[p[k] >> 4];
		*o++ = hex[p[k] & 15];
	}
	*o++ = '\n';
	if (printf("%" PRIu64 " %u %u %u ", lsn, type, tenant, vshard) < 0 ||
	    fwrite(out, 1, (size_t)(o - out), stdout) != (size_t)(o - out))
		return (-1);
	return (0);
}

/* Prints record i of this writer, appended at lsn. */
static int
iop_print_seq(uint8_t *buf, uint64_t lsn, uint64_t i)
{
	size_t	len = iop_payload(buf, i);

	return (iop_print(lsn, (uint16_t)(IOP_TYPE + i % 3), IOP_TENANT,
	    (uint16_t)(i % 7), buf, len));
}

static int
iop_fail(struct wal_conn *c, const char *what, enum wal_result r)
{
	fprintf(stderr, "walinterop: %s: %s: %s\n", what, wal_result_name(r),
	    wal_conn_error(c));
	return (1);
}

/*
 * Appends count records three ways: blocking appends acknowledged LOCAL,
 * nowait appends made durable by one sync, then pipelined appends at
 * walld's default level. Each record is printed once its LSN is durable.
 */
static int
iop_append(struct wal_conn *c, uint64_t count)
{
	static uint8_t		 buf[IOP_MAX];
	struct wal_completion	 comp;
	enum wal_result		 r;
	uint64_t		 i, lsn, last = 0, durable, id;
	uint64_t		 nowait_lsn[IOP_NOWAIT];
	uint64_t		 ring_id[IOP_DEPTH], ring_seq[IOP_DEPTH];
	size_t			 len, head = 0, n = 0;

	wal_conn_set_ack(c, WAL_ACK_LOCAL);
	for (i = 0; i < count && i < IOP_SINGLE; i++) {
		len = iop_payload(buf, i);
		r = wal_conn_append(c, (uint16_t)(IOP_TYPE + i % 3), IOP_TENANT,
		    (uint16_t)(i % 7), buf, len, &lsn);
		if (r != WAL_RESULT_OK)
			return (iop_fail(c, "append", r));
		if (lsn <= last || iop_print_seq(buf, lsn, i) != 0)
			return (1);
		last = lsn;
	}
	for (; i < count && i < IOP_NOWAIT; i++) {
		len = iop_payload(buf, i);
		r = wal_conn_append_nowait(c, (uint16_t)(IOP_TYPE + i % 3),
		    IOP_TENANT, (uint16_t)(i % 7), buf, len,
		    &nowait_lsn[i - IOP_SINGLE]);
		if (r != WAL_RESULT_OK)
			return (iop_fail(c, "append nowait", r));
	}
	if (count > IOP_SINGLE) {
		if ((r = wal_conn_sync(c, &durable)) != WAL_RESULT_OK)
			return (iop_fail(c, "sync", r));
		for (i = IOP_SINGLE; i < count && i < IOP_NOWAIT; i++) {
			lsn = nowait_lsn[i - IOP_SINGLE];
			if (lsn <= last || lsn > durable ||
			    iop_print_seq(buf, lsn, i) != 0) {
				fprintf(stderr, "walinterop: nowait LSN %"
				    PRIu64 " (last %" PRIu64 ", durable %"
				    PRIu64 ")\n", lsn, last, durable);
				return (1);
			}
			last = lsn;
		}
	}
	/* Completions of appends on one connection come in LSN order, the
	   order they were submitted in: a ring of (id, record). */
	wal_conn_set_ack(c, WAL_ACK_DEFAULT);
	while (i < count || n > 0) {
		while (i < count && n < IOP_DEPTH) {
			len = iop_payload(buf, i);
			r = wal_conn_submit_append(c, (uint16_t)(IOP_TYPE + i % 3),
			    IOP_TENANT, (uint16_t)(i % 7), buf, len, 0, &id);
			if (r != WAL_RESULT_OK)
				return (iop_fail(c, "submit append", r));
			ring_id[(head + n) % IOP_DEPTH] = id;
			ring_seq[(head + n) % IOP_DEPTH] = i;
			n++;
			i++;
		}
		if (wal_conn_wait(c, 30000, &comp) != 1) {
			fprintf(stderr, "walinterop: no completion in 30 s\n");
			return (1);
		}
		if (comp.result != WAL_RESULT_OK)
			return (iop_fail(c, "pipelined append", comp.result));
		if (comp.id != ring_id[head] || comp.lsn <= last) {
			fprintf(stderr, "walinterop: completion id %" PRIu64
			    " LSN %" PRIu64 ", expected id %" PRIu64 " above "
			    "LSN %" PRIu64 "\n", comp.id, comp.lsn,
			    ring_id[head], last);
			return (1);
		}
		if (iop_print_seq(buf, comp.lsn, ring_seq[head]) != 0)
			return (1);
		last = comp.lsn;
		head = (head + 1) % IOP_DEPTH;
		n--;
	}
	return (0);
}

/* Prints every record of the log (of one tenant), in LSN order. */
static int
iop_dump(struct wal_conn *c, int has_tenant, uint32_t tenant)
{
	struct wal_cursor_opts	 q;
	struct wal_cursor	*cur;
	struct wal_entry	 e;
	enum wal_result		 r;
	uint64_t		 last = 0;
	int			 rc, st = 0;

	memset(&q, 0, sizeof q);
	q.tenant = tenant;
	q.has_tenant = has_tenant ? 1 : 0;
	if ((r = wal_cursor_open(c, &q, &cur)) != WAL_RESULT_OK)
		return (iop_fail(c, "read", r));
	while ((rc = wal_cursor_next(cur, 30000, &e)) == 1) {
		if (e.lsn <= last) {
			fprintf(stderr, "walinterop: LSN %" PRIu64 " after %"
			    PRIu64 "\n", e.lsn, last);
			st = 1;
			break;
		}
		last = e.lsn;
		if (iop_print(e.lsn, e.type, e.tenant, e.vshard, e.payload,
		    e.len) != 0) {
			st = 1;
			break;
		}
	}
	if (rc == -1) {
		fprintf(stderr, "walinterop: read: %s: %s\n",
		    wal_result_name(wal_cursor_result(cur)),
		    wal_cursor_error(cur));
		st = 1;
	} else if (rc == WAL_CURSOR_AGAIN) {
		fprintf(stderr, "walinterop: read: no record in 30 s\n");
		st = 1;
	}
	wal_cursor_close(cur);
	return (st);
}

/* A decimal number, whole, below 2^64; -1 otherwise. */
static int
iop_number(const char *s, uint64_t max, uint64_t *v)
{
	char	*end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || *v > max)
		return (-1);
	return (0);
}

int
main(int argc, char **argv)
{
	struct wal_conn	*c;
	enum wal_result	 r;
	char		*cause = NULL;
	uint64_t	 n = 0;
	int		 st, dump;

	dump = argc >= 3 && strcmp(argv[1], "dump") == 0;
	if (!(dump && (argc == 3 || (argc == 4 &&
	    iop_number(argv[3], UINT32_MAX, &n) == 0))) &&
	    !(argc == 4 && strcmp(argv[1], "append") == 0 &&
	    iop_number(argv[3], UINT64_MAX / 2, &n) == 0)) {
		fprintf(stderr, "usage: walinterop append SOCKET COUNT\n"
		    "       walinterop dump SOCKET [TENANT]\n");
		return (64);
	}
	r = wal_conn_open(&c, argv[2], 10000, &cause);
	if (r != WAL_RESULT_OK) {
		fprintf(stderr, "walinterop: %s: %s\n", argv[2], cause);
		free(cause);
		return (1);
	}
	wal_conn_set_timeout(c, 60000);
	st = dump ? iop_dump(c, argc == 4, (uint32_t)n) : iop_append(c, n);
	wal_conn_close(c);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "walinterop: stdout: %s\n", strerror(errno));
		return (1);
	}
	return (st);
}
