/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_metrics.c: Check suite for proto/metrics.c: stats text in,
 * Prometheus text out: plain values, microseconds as seconds, histograms
 * from non-cumulative buckets in any order, labeled families, the state
 * set, segment names, what is left out, and the atomic file writer.
 */
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"

/* The exposition of stats, allocated. */
static char *
expose(const char *stats)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;

	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(metrics_format(stats, f), 0);
	fclose(f);
	return (buf);
}

/* Asserts that out has the line (whole). */
static void
has_line(const char *out, const char *line)
{
	const char	*p = out;
	size_t		 n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == out || p[-1] == '\n') && p[n] == '\n')
			return;
		p++;
	}
	ck_abort_msg("no line \"%s\" in:\n%s", line, out);
}

START_TEST(test_values)
{
	char	*out;

	out = expose("version 0.1.0\nappends_total 26\ndurable_lsn 7\n"
	    "fsync_usec_max 1500000\n");
	has_line(out, "# HELP walld_appends_total Records appended");
	has_line(out, "# TYPE walld_appends_total counter");
	has_line(out, "walld_appends_total 26");
	has_line(out, "# TYPE walld_durable_lsn gauge");
	has_line(out, "walld_durable_lsn 7");
	has_line(out, "walld_fsync_duration_max_seconds 1.5");
	has_line(out, "walld_build_info{version=\"0.1.0\"} 1");
	/* Families without their stats are left out, HELP and TYPE too. */
	ck_assert_ptr_null(strstr(out, "walld_next_lsn"));
	free(out);
}
END_TEST

START_TEST(test_histogram)
{
	char	*out;

	/* Buckets in any order, each counting its own range; inf last. */
	out = expose("fsync_usec_le_32 2\nfsync_usec_le_inf 1\n"
	    "fsync_usec_le_16 3\nfsync_usec_le_64 0\nfsync_usec_total 1000016\n");
	has_line(out, "# TYPE walld_fsync_duration_seconds histogram");
	has_line(out, "walld_fsync_duration_seconds_bucket{le=\"0.000016\"} 3");
	has_line(out, "walld_fsync_duration_seconds_bucket{le=\"0.000032\"} 5");
	has_line(out, "walld_fsync_duration_seconds_bucket{le=\"0.000064\"} 5");
	has_line(out, "walld_fsync_duration_seconds_bucket{le=\"+Inf\"} 6");
	has_line(out, "walld_fsync_duration_seconds_sum 1.000016");
	has_line(out, "walld_fsync_duration_seconds_count 6");
	ck_assert(strstr(out, "0.000016") < strstr(out, "0.000032"));
	free(out);

	out = expose("batch_records_le_1 4\nbatch_records_le_2 1\n"
	    "batch_records_le_inf 0\nbatch_records_total 6\n");
	has_line(out, "walld_batch_records_bucket{le=\"1\"} 4");
	has_line(out, "walld_batch_records_bucket{le=\"2\"} 5");
	has_line(out, "walld_batch_records_bucket{le=\"+Inf\"} 5");
	has_line(out, "walld_batch_records_sum 6");
	free(out);

	/* No sum: no histogram at all. */
	out = expose("batch_records_le_1 4\n");
	ck_assert_ptr_null(strstr(out, "walld_batch_records"));
	free(out);
}
END_TEST

START_TEST(test_labeled)
{
	char	*out;

	out = expose("errors_bad_request_total 2\nerrors_io_total 0\n"
	    "denied_total 5\ndenied_append_total 5\nprotocol_errors_total 1\n");
	has_line(out, "# TYPE walld_errors_total counter");
	has_line(out, "walld_errors_total{kind=\"bad_request\"} 2");
	has_line(out, "walld_errors_total{kind=\"io\"} 0");
	has_line(out, "walld_denied_total{kind=\"append\"} 5");
	has_line(out, "walld_protocol_errors_total 1");
	/* The sum of the denials is not a sample: it would count twice. */
	ck_assert_ptr_null(strstr(out, "walld_denied_total 5"));
	ck_assert_ptr_null(strstr(out, "kind=\"\""));
	free(out);
}
END_TEST

START_TEST(test_state_and_segment)
{
	char	*out;

	out = expose("state sealed\narchive_last_segment "
	    "00000000000000000033.wal\n");
	has_line(out, "walld_state{state=\"read-write\"} 0");
	has_line(out, "walld_state{state=\"sealed\"} 1");
	has_line(out, "walld_state{state=\"stopping\"} 0");
	has_line(out, "walld_state{state=\"failed\"} 0");
	has_line(out, "walld_archive_last_segment_lsn 33");
	free(out);

	out = expose("state odd\"one\narchive_last_segment none\n");
	has_line(out, "walld_state{state=\"odd\\\"one\"} 1");
	has_line(out, "walld_archive_last_segment_lsn 0");
	free(out);
}
END_TEST

/* Malformed or unknown stats are left out; the rest goes on. */
START_TEST(test_left_out)
{
	char	*out;

	out = expose("appends_total -3\nconnections 1.5\nsegments 4\n"
	    "no_such_stat 9\n\nnospace\n keys_needed 1,2\n");
	ck_assert_ptr_null(strstr(out, "walld_appends_total"));
	ck_assert_ptr_null(strstr(out, "walld_connections "));
	ck_assert_ptr_null(strstr(out, "no_such_stat"));
	has_line(out, "walld_segments 4");
	free(out);
}
END_TEST

START_TEST(test_write_file)
{
	char		 dir[] = "/tmp/check_metrics.XXXXXX", path[128], *cause;
	struct stat	 sb;
	FILE		*f;
	char		 buf[4096];
	size_t		 n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/walld.prom", dir);
	umask(077);
	ck_assert_int_eq(metrics_write_file(path, "appends_total 3\n",
	    &cause), 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0644);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	has_line(buf, "walld_appends_total 3");
	/* Replaced, and no temporary file left behind. */
	ck_assert_int_eq(metrics_write_file(path, "appends_total 4\n",
	    &cause), 0);
	snprintf(buf, sizeof buf, "%s/.walld.prom.tmp", dir);
	ck_assert_int_ne(access(buf, F_OK), 0);
	unlink(path);
	ck_assert_int_eq(rmdir(dir), 0);

	/* A directory that is not there: -1 and a cause naming the file. */
	snprintf(path, sizeof path, "%s/walld.prom", dir);
	ck_assert_int_eq(metrics_write_file(path, "appends_total 3\n",
	    &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, ".walld.prom.tmp: open: No such file") !=
	    NULL, "%s", cause);
	free(cause);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc = tcase_create("format");

	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_histogram);
	tcase_add_test(tc, test_labeled);
	tcase_add_test(tc, test_state_and_segment);
	tcase_add_test(tc, test_left_out);
	tcase_add_test(tc, test_write_file);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(metrics_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
