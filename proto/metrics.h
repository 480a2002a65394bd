/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.h: walld's counters in the Prometheus text exposition format
 * (version 0.0.4). The input is walld's stats text ("name value" lines,
 * the STATS reply); one table in metrics.c says which stat becomes which
 * metric, so `walctl stats --prometheus` and the metrics file agree.
 */
#ifndef WALD_METRICS_H
#define WALD_METRICS_H

#include <stdio.h>

/* Writes the exposition of the stats text to out. Stats without a row in
   the table are left out. 0, or -1 when writing failed (errno kept). */
int	metrics_format(const char *stats, FILE *out);

/* Replaces the file at path with the exposition of stats, atomically: a
   temporary file ".NAME.tmp" in the same directory, renamed over path
   (no fsync: the file is rewritten every interval). Mode 0644. 0, or -1
   and *cause ("PATH: call: why"). */
int	metrics_write_file(const char *path, const char *stats, char **cause);

#endif
