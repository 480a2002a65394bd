/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cause.h: the one way walld's layers say why something failed. A
 * function whose failure a user reads returns -1 and a "cause": an
 * allocated string the caller prints and frees. Every folder sees this.
 */
#ifndef WALD_CAUSE_H
#define WALD_CAUSE_H

/* Sets *cause (when cause is not NULL) to a formatted, allocated string;
   to NULL when there is no memory for it (callers print "out of memory"). */
void	cause_set(char **cause, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
