/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hist.c: walbench's log-linear latency histogram (see bench.h): constant
 * time to add, exact count, min and max, quantiles within 0.8 %.
 */
#include <string.h>

#include "bench.h"

void
hist_init(struct hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

/* The bucket of a value. */
static unsigned
hist_index(uint64_t v)
{
	unsigned	top, shift;

	if (v < HIST_SUB)
		return ((unsigned)v);
	top = 63 - (unsigned)__builtin_clzll(v);
	shift = top - (HIST_SUB_BITS - 1);	/* v >> shift in [HALF, SUB) */
	if (shift > HIST_MAX_SHIFT)
		return (HIST_BUCKETS - 1);
	return (HIST_SUB + (shift - 1) * HIST_HALF +
	    (unsigned)((v >> shift) - HIST_HALF));
}

/* The midpoint of a bucket. */
static uint64_t
hist_value(unsigned i)
{
	unsigned	shift;
	uint64_t	lo;

	if (i < HIST_SUB)
		return (i);
	shift = (i - HIST_SUB) / HIST_HALF + 1;
	lo = (uint64_t)((i - HIST_SUB) % HIST_HALF + HIST_HALF) << shift;
	return (lo + ((1ull << shift) >> 1));
}

void
hist_add(struct hist *h, uint64_t ns)
{
	h->b[hist_index(ns)]++;
	h->count++;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
}

void
hist_merge(struct hist *into, const struct hist *from)
{
	unsigned	i;

	if (from->count == 0)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		into->b[i] += from->b[i];
	into->count += from->count;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t	rank, seen = 0, v;
	unsigned	i;

	if (h->count == 0)
		return (0);
	if (q >= 1.0)
		return (h->max);
	rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > rank)
			break;
	}
	v = hist_value(i < HIST_BUCKETS ? i : HIST_BUCKETS - 1);
	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return (v);
}
