/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cause.c: formatted failure causes (cause.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "cause.h"

void
cause_set(char **cause, const char *fmt, ...)
{
	va_list	ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) == -1)
		*cause = NULL;
	va_end(ap);
}
