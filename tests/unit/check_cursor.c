/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_cursor.c: the cursor store (daemon/cursor.c): changes answered
 * only after the CURSORS file is written, the file read back at the next
 * open, commits that go back refused, cursors.max, a damaged file refused
 * at open with a clear cause, a leftover CURSORS.tmp removed, a failed
 * fsync latched, and the lowest cursor for retention.
 */
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cursor.h"
#include "sysio.h"

static char		 dir[64];
static struct event_base *base;

/* What a callback saw. */
struct answer {
	int	called;
	int	ok;
};

static void
answer_cb(void *arg, int ok, const char *cause)
{
	struct answer	*a = arg;

	(void)cause;
	a->called++;
	a->ok = ok;
}

/* Runs the loop until a is answered (or 5 s). */
static void
wait_for(struct answer *a)
{
	int	i;

	for (i = 0; i < 500 && !a->called; i++) {
		struct timeval	tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		ck_assert_int_ne(event_base_loop(base, 0), -1);
	}
	ck_assert_int_eq(a->called, 1);
}

static void
setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/check_cursor.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(base = event_base_new());
}

static void
teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	event_base_free(base);
	sysio = sysio_real;
}

/* Writes bytes to dir/CURSORS. */
static void
put_file(const void *b, size_t n)
{
	char	path[128];
	FILE	*f;

	snprintf(path, sizeof path, "%s/CURSORS", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_uint_eq(fwrite(b, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

/* Reads dir/CURSORS into b; its length. */
static size_t
get_file(uint8_t *b, size_t size)
{
	char	path[128];
	FILE	*f;
	size_t	n;

	snprintf(path, sizeof path, "%s/CURSORS", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	n = fread(b, 1, size, f);
	ck_assert_int_eq(fclose(f), 0);
	return (n);
}

START_TEST(test_names)
{
	ck_assert_int_eq(cursor_name_valid("etl", 3), 1);
	ck_assert_int_eq(cursor_name_valid("a.b_c-9", 7), 1);
	ck_assert_int_eq(cursor_name_valid("", 0), 0);
	ck_assert_int_eq(cursor_name_valid("-x", 2), 0);
	ck_assert_int_eq(cursor_name_valid(".x", 2), 0);
	ck_assert_int_eq(cursor_name_valid("a b", 3), 0);
	ck_assert_int_eq(cursor_name_valid("a/b", 3), 0);
	ck_assert_int_eq(cursor_name_valid(
	    "0123456789012345678901234567890123456789012345678901234567890123",
	    64), 1);
	ck_assert_int_eq(cursor_name_valid(
	    "01234567890123456789012345678901234567890123456789012345678901234",
	    65), 0);
}
END_TEST

START_TEST(test_roundtrip)
{
	struct cursor_store		*cs;
	const struct cursor_info	*ci;
	struct answer			 a1 = { 0, 0 }, a2 = { 0, 0 };
	struct answer			 a3 = { 0, 0 };
	uint64_t			 lsn;
	size_t				 n;
	char				*cause = NULL, name[CURSOR_NAME_MAX + 1];

	cs = cursor_store_open(base, dir, &cause);
	ck_assert_msg(cs != NULL, "%s", cause);
	ck_assert_uint_eq(cursor_lowest(cs, name, sizeof name), CURSOR_NONE);
	ck_assert_str_eq(name, "");
	lsn = 7;
	ck_assert_int_eq(cursor_create(cs, "beta", &lsn, 10, answer_cb, &a1),
	    CURSOR_QUEUED);
	/* Not durable yet: get does not see it, retention does. */
	ck_assert_ptr_null(cursor_get(cs, "beta"));
	ck_assert_uint_eq(cursor_lowest(cs, name, sizeof name), 7);
	ck_assert_int_eq(a1.called, 0);
	wait_for(&a1);
	ck_assert_int_eq(a1.ok, 1);
	ck_assert_ptr_nonnull(ci = cursor_get(cs, "beta"));
	ck_assert_uint_eq(ci->lsn, 7);
	lsn = 3;
	ck_assert_int_eq(cursor_create(cs, "alpha", &lsn, 10, answer_cb, &a2),
	    CURSOR_QUEUED);
	wait_for(&a2);
	lsn = 12;
	ck_assert_int_eq(cursor_commit(cs, "alpha", &lsn, answer_cb, &a3),
	    CURSOR_QUEUED);
	wait_for(&a3);
	ck_assert_uint_eq(cursor_lowest(cs, name, sizeof name), 7);
	ck_assert_str_eq(name, "beta");
	cursor_store_free(cs);

	/* Read back by a new store. */
	cs = cursor_store_open(base, dir, &cause);
	ck_assert_msg(cs != NULL, "%s", cause);
	ci = cursor_list(cs, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(ci[0].name, "alpha");
	ck_assert_uint_eq(ci[0].lsn, 12);
	ck_assert_uint_ne(ci[0].commit_ms, 0);
	ck_assert_str_eq(ci[1].name, "beta");
	ck_assert_uint_eq(ci[1].lsn, 7);
	ck_assert_uint_eq(ci[1].commit_ms, 0);
	cursor_store_free(cs);
}
END_TEST

START_TEST(test_rules)
{
	struct cursor_store	*cs;
	struct answer		 a = { 0, 0 }, b = { 0, 0 }, d = { 0, 0 };
	uint64_t		 lsn;
	char			*cause = NULL;

	ck_assert_ptr_nonnull(cs = cursor_store_open(base, dir, &cause));
	lsn = 10;
	ck_assert_int_eq(cursor_create(cs, "c1", &lsn, 1, answer_cb, &a),
	    CURSOR_QUEUED);
	wait_for(&a);
	/* cursors.max reached. */
	lsn = 0;
	ck_assert_int_eq(cursor_create(cs, "c2", &lsn, 1, answer_cb, &b),
	    CURSOR_EFULL);
	/* Creating it again leaves it as it is. */
	lsn = 99;
	ck_assert_int_eq(cursor_create(cs, "c1", &lsn, 1, answer_cb, &b),
	    CURSOR_QUEUED);
	ck_assert_uint_eq(lsn, 10);
	wait_for(&b);
	/* Back is refused, the same LSN is fine. */
	lsn = 9;
	ck_assert_int_eq(cursor_commit(cs, "c1", &lsn, answer_cb, &d),
	    CURSOR_EBACK);
	ck_assert_uint_eq(lsn, 10);
	lsn = 0;
	ck_assert_int_eq(cursor_commit(cs, "nope", &lsn, answer_cb, &d),
	    CURSOR_ENOENT);
	ck_assert_int_eq(cursor_drop(cs, "nope", &lsn, answer_cb, &d),
	    CURSOR_ENOENT);
	ck_assert_int_eq(cursor_drop(cs, "c1", &lsn, answer_cb, &d),
	    CURSOR_QUEUED);
	ck_assert_uint_eq(lsn, 10);
	wait_for(&d);
	ck_assert_ptr_null(cursor_get(cs, "c1"));
	cursor_store_free(cs);
}
END_TEST

/* Each kind of damage is refused at open, with a cause naming the file. */
START_TEST(test_damaged)
{
	struct cursor_store	*cs;
	struct answer		 a = { 0, 0 };
	uint8_t			 good[256], bad[256];
	uint64_t		 lsn = 5;
	size_t			 n;
	char			*cause = NULL;

	ck_assert_ptr_nonnull(cs = cursor_store_open(base, dir, &cause));
	ck_assert_int_eq(cursor_create(cs, "etl", &lsn, 10, answer_cb, &a),
	    CURSOR_QUEUED);
	wait_for(&a);
	cursor_store_free(cs);
	n = get_file(good, sizeof good);
	ck_assert_uint_eq(n, 16 + 24 + 3 + 4);

	/* One bit flipped in the LSN. */
	memcpy(bad, good, n);
	bad[16 + 8] ^= 1;
	put_file(bad, n);
	ck_assert_ptr_null(cs = cursor_store_open(base, dir, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "CURSORS: damaged: "));
	ck_assert_ptr_nonnull(strstr(cause, "CRC mismatch"));
	free(cause);
	cause = NULL;

	/* Cut short. */
	put_file(good, n - 1);
	ck_assert_ptr_null(cs = cursor_store_open(base, dir, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "damaged"));
	free(cause);
	cause = NULL;

	/* Empty. */
	put_file(good, 0);
	ck_assert_ptr_null(cs = cursor_store_open(base, dir, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "shorter than a header"));
	free(cause);
	cause = NULL;

	/* Not ours. */
	put_file("hello, world, this is not a cursor file", 39);
	ck_assert_ptr_null(cs = cursor_store_open(base, dir, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "bad magic"));
	free(cause);
	cause = NULL;

	/* The good file opens again. */
	put_file(good, n);
	cs = cursor_store_open(base, dir, &cause);
	ck_assert_msg(cs != NULL, "%s", cause);
	ck_assert_uint_eq(cursor_get(cs, "etl")->lsn, 5);
	cursor_store_free(cs);
}
END_TEST

START_TEST(test_tmp_removed)
{
	struct cursor_store	*cs;
	char			 path[128], *cause = NULL;
	int			 fd;

	snprintf(path, sizeof path, "%s/CURSORS.tmp", dir);
	ck_assert_int_ne(fd = open(path, O_WRONLY | O_CREAT, 0600), -1);
	ck_assert_int_eq(write(fd, "torn", 4), 4);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_ptr_nonnull(cs = cursor_store_open(base, dir, &cause));
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
	cursor_store_free(cs);
}
END_TEST

static int
failing_fsync(int fd)
{
	(void)fd;
	errno = EIO;
	return (-1);
}

/* A failed fsync: the change is answered with ok 0, later ones refused. */
START_TEST(test_fsync_fails)
{
	struct cursor_store	*cs;
	struct answer		 a = { 0, 0 }, b = { 0, 0 };
	uint64_t		 lsn = 1;
	char			*cause = NULL;

	ck_assert_ptr_nonnull(cs = cursor_store_open(base, dir, &cause));
	sysio.fsync = failing_fsync;
	ck_assert_int_eq(cursor_create(cs, "x", &lsn, 10, answer_cb, &a),
	    CURSOR_QUEUED);
	wait_for(&a);
	ck_assert_int_eq(a.ok, 0);
	sysio = sysio_real;
	ck_assert_int_eq(cursor_create(cs, "y", &lsn, 10, answer_cb, &b),
	    CURSOR_EFAILED);
	ck_assert_ptr_null(cursor_get(cs, "x"));
	cursor_store_free(cs);
}
END_TEST

/* Changes made while a write is under way are grouped into the next. */
START_TEST(test_many)
{
	struct cursor_store		*cs;
	struct answer			 a[200];
	const struct cursor_info	*ci;
	char				 nm[16], *cause = NULL;
	uint64_t			 lsn;
	size_t				 n;
	int				 i;

	memset(a, 0, sizeof a);
	ck_assert_ptr_nonnull(cs = cursor_store_open(base, dir, &cause));
	for (i = 0; i < 200; i++) {
		snprintf(nm, sizeof nm, "c%03d", i);
		lsn = (uint64_t)i;
		ck_assert_int_eq(cursor_create(cs, nm, &lsn, 1024, answer_cb,
		    &a[i]), CURSOR_QUEUED);
	}
	for (i = 0; i < 200; i++) {
		wait_for(&a[i]);
		ck_assert_int_eq(a[i].ok, 1);
	}
	ck_assert_int_eq(cursor_store_busy(cs), 0);
	cursor_store_free(cs);
	ck_assert_ptr_nonnull(cs = cursor_store_open(base, dir, &cause));
	ci = cursor_list(cs, &n);
	ck_assert_uint_eq(n, 200);
	ck_assert_str_eq(ci[199].name, "c199");
	ck_assert_uint_eq(ci[199].lsn, 199);
	cursor_store_free(cs);
}
END_TEST

static Suite *
cursor_suite(void)
{
	Suite	*s = suite_create("cursor");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_rules);
	tcase_add_test(tc, test_damaged);
	tcase_add_test(tc, test_tmp_removed);
	tcase_add_test(tc, test_fsync_fails);
	tcase_add_test(tc, test_many);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(cursor_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? 0 : 1);
}
