/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walprod: an idempotent producer for the tests. Appends COUNT records as
 * producer ID through libwal's struct wal_producer, which retries each one
 * (reconnecting) until walld gives its LSN, and prints "SEQ LSN" for each,
 * flushed at once. The payload of sequence n is "ID:n". WALPROD_PAUSE_MS
 * (the soak's) waits that long after each acknowledgement.
 *
 *	walprod SOCKET ID COUNT [FIRST_SEQ]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libwal.h"

int
main(int argc, char **argv)
{
	struct wal_producer	*p;
	enum wal_result		 r;
	char			*cause = NULL, payload[64];
	uint64_t		 id, count, first = 1, i, lsn;
	const char		*pause_env = getenv("WALPROD_PAUSE_MS");
	struct timespec		 pause = { 0, 0 };
	long			 pause_ms;
	int			 n;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: walprod SOCKET ID COUNT [FIRST_SEQ]\n");
		return (2);
	}
	id = strtoull(argv[2], NULL, 10);
	count = strtoull(argv[3], NULL, 10);
	if (argc == 5)
		first = strtoull(argv[4], NULL, 10);
	if (id == 0 || first == 0) {
		fprintf(stderr, "walprod: ID and FIRST_SEQ start at 1\n");
		return (2);
	}
	if (pause_env != NULL && (pause_ms = atol(pause_env)) > 0) {
		pause.tv_sec = pause_ms / 1000;
		pause.tv_nsec = (pause_ms % 1000) * 1000000;
	}
	r = wal_producer_open(&p, argv[1], id, first, -1, &cause);
	if (r != WAL_RESULT_OK) {
		fprintf(stderr, "walprod: open: %s: %s\n", wal_result_name(r),
		    cause != NULL ? cause : "");
		free(cause);
		return (1);
	}
	for (i = 0; i < count; i++) {
		n = snprintf(payload, sizeof payload, "%" PRIu64 ":%" PRIu64,
		    id, first + i);
		r = wal_producer_append(p, 1, 0, 0, payload, (size_t)n, &lsn);
		if (r != WAL_RESULT_OK) {
			fprintf(stderr, "walprod: seq %" PRIu64 ": %s: %s\n",
			    first + i, wal_result_name(r),
			    wal_producer_error(p));
			wal_producer_close(p);
			return (1);
		}
		if (printf("%" PRIu64 " %" PRIu64 "\n", first + i, lsn) < 0 ||
		    fflush(stdout) != 0) {
			perror("walprod: stdout");
			return (1);
		}
		if ((pause.tv_sec != 0 || pause.tv_nsec != 0) &&
		    nanosleep(&pause, NULL) != 0) {
			perror("walprod: nanosleep");
			return (1);
		}
	}
	fprintf(stderr, "walprod: %" PRIu64 " appends, %" PRIu64
	    " retries\n", count, wal_producer_retries(p));
	wal_producer_close(p);
	return (0);
}
