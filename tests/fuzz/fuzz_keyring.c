/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_keyring.c: libFuzzer target for the key ring parser
 * (engine/keyring.c, docs/KEYS.md). A parse must succeed with 1 to 1024
 * keys, distinct ids from 1 up, and an active key among them; or fail with
 * a "NAME:LINE: why" cause that quotes no key material (no run of 64 hex
 * digits from the input). Nothing may leak either way.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyring.h"

/* 1 when the cause holds 64 hex digits in a row. */
static int
fuzz_has_key_text(const char *s)
{
	size_t	run = 0;

	for (; *s != '\0'; s++) {
		if ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		    (*s >= 'A' && *s <= 'F')) {
			if (++run >= 64)
				return (1);
		} else
			run = 0;
	}
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyring	*kr;
	uint32_t	 ids[1025];
	size_t		 n, i, j;
	char		*cause = NULL;

	kr = keyring_parse((const char *)data, size, "fuzz", &cause);
	if (kr == NULL) {
		if (cause == NULL || strncmp(cause, "fuzz", 4) != 0 ||
		    fuzz_has_key_text(cause))
			abort();
		free(cause);
		return (0);
	}
	n = keyring_ids(kr, ids, 1025);
	if (n == 0 || n > 1024 || !keyring_has(kr, keyring_active(kr)))
		abort();
	for (i = 0; i < n; i++) {
		if (ids[i] == 0 || !keyring_has(kr, ids[i]))
			abort();
		for (j = i + 1; j < n; j++)
			if (ids[i] == ids[j])
				abort();
	}
	keyring_free(kr);
	return (0);
}
