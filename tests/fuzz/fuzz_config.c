/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config.c: libFuzzer target for the configuration loader
 * (daemon/config.c, the access list in daemon/access.c). The input is the
 * file, handed over as a memfd's /proc/self/fd path. A load must succeed
 * with values in range, or fail with a "FILE:..." cause and leave the
 * configuration as it was; nothing may leak either way.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config		 cfg, before;
	struct access_peer	 p;
	gid_t			 groups[2] = { 0, 100 };
	char			 path[64], *cause = NULL;
	int			 fd, rc, op;
	size_t			 off;

	if ((fd = memfd_create("walld.yaml", MFD_CLOEXEC)) == -1)
		abort();
	for (off = 0; off < size; ) {
		ssize_t	w = write(fd, data + off, size - off);

		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

	config_defaults(&cfg);
	before = cfg;
	rc = config_load(&cfg, path, &cause);
	close(fd);
	if (rc == 0) {
		if (cause != NULL)
			abort();
		if (cfg.socket_path == NULL || cfg.data_dir == NULL ||
		    cfg.max_record == 0 || cfg.max_record > (16u << 20) ||
		    cfg.socket_mode > 0777)
			abort();
		/* Ask the list something, for every operation. */
		for (op = 0; op < ACCESS_NOPS; op++) {
			p = (struct access_peer){ 4242, 4242, groups, 2 };
			(void)access_allows(cfg.access, &p, op, (uint32_t)op);
			p = (struct access_peer){ (uid_t)-1, (gid_t)-1, NULL, 0 };
			if (access_allows(cfg.access, &p, op, 0))
				abort();	/* an unknown peer matches nothing */
		}
		(void)access_read_scope(cfg.access, &p);
	} else {
		if (rc != -1 || cause == NULL ||
		    strncmp(cause, path, strlen(path)) != 0)
			abort();
		/* A failed load changes nothing. */
		if (memcmp(&cfg, &before, sizeof cfg) != 0)
			abort();
	}
	free(cause);
	config_free(&cfg);
	return (0);
}
