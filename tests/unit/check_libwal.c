/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_libwal.c: Check suite for client/libwal.c against the real walld
 * ($WALD_BUILD/walld), started per test on a private socket and data
 * directory: blocking calls, pipelining, cursors, and outcome unknown.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libwal.h"
#include "wire.h"

/* The walld of the running test. */
static struct {
	pid_t	pid;
	char	dir[64];
	char	sock[128];
	char	data[128];
} check_walld;

/* Kills walld and removes its directory (at exit, even after a failure). */
static void
check_walld_cleanup(void)
{
	char	cmd[128];

	if (check_walld.pid > 0) {
		kill(check_walld.pid, SIGKILL);
		waitpid(check_walld.pid, NULL, 0);
		check_walld.pid = 0;
	}
	if (check_walld.dir[0] != '\0') {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", check_walld.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", check_walld.dir);
		check_walld.dir[0] = '\0';
	}
}

/* Starts walld on the test's directory and waits until it answers. */
static void
check_walld_start(void)
{
	const char	*b = getenv("WALD_BUILD");
	char		 path[512], path2[512];
	struct wal_conn	*c;
	int		 i, st, fd;

	snprintf(path, sizeof path, "%s/walld", b != NULL ? b : "build");
	check_walld.pid = fork();
	ck_assert_int_ne(check_walld.pid, -1);
	if (check_walld.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* walld's log goes to a file beside its socket. */
		snprintf(path2, sizeof path2, "%s/walld.log", check_walld.dir);
		if ((fd = open(path2, O_WRONLY|O_CREAT|O_APPEND, 0644)) != -1)
			dup2(fd, STDERR_FILENO);
		/* --allow-root: the tests may run as root (for any other
		   user the flag changes nothing). */
		execl(path, "walld", "--allow-root", "--socket",
		    check_walld.sock,
		    "--data-dir", check_walld.data, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	for (i = 0; i < 400; i++) {
		if (wal_conn_open(&c, check_walld.sock, 1000, NULL) ==
		    WAL_RESULT_OK) {
			wal_conn_close(c);
			return;
		}
		if (waitpid(check_walld.pid, &st, WNOHANG) ==
		    check_walld.pid) {
			check_walld.pid = 0;
			ck_abort_msg("walld exited at start-up (status %d)",
			    st);
		}
		usleep(25000);
	}
	ck_abort_msg("walld did not answer within 10 s");
}

/* Stops walld with SIGTERM and checks that it exits 0. */
static void
check_walld_stop(void)
{
	int	st;

	ck_assert_int_eq(kill(check_walld.pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(check_walld.pid, &st, 0), check_walld.pid);
	check_walld.pid = 0;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "walld exit status %d", st);
}

/* Per-test fixture: a fresh directory and a running walld. */
static void
check_setup(void)
{
	static int	registered;

	if (!registered) {
		atexit(check_walld_cleanup);
		registered = 1;
	}
	strcpy(check_walld.dir, "/tmp/check_libwal.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(check_walld.dir));
	snprintf(check_walld.sock, sizeof check_walld.sock, "%s/s",
	    check_walld.dir);
	snprintf(check_walld.data, sizeof check_walld.data, "%s/d",
	    check_walld.dir);
	check_walld_start();
}

/* Per-test fixture: walld and its directory go. */
static void
check_teardown(void)
{
	check_walld_cleanup();
}

/* Opens a connection to the test's walld. */
static struct wal_conn *
check_open(void)
{
	struct wal_conn	*c;
	char		*cause = NULL;
	enum wal_result	 r;

	r = wal_conn_open(&c, check_walld.sock, 5000, &cause);
	ck_assert_msg(r == WAL_RESULT_OK, "open: %s", cause);
	return (c);
}

START_TEST(test_hello_limits)
{
	struct wal_conn	*c = check_open();

	ck_assert_uint_eq(wal_conn_version(c), WIRE_VERSION);
	ck_assert_uint_gt(wal_conn_max_record(c), 0);
	ck_assert_uint_ge(wal_conn_max_frame(c), wal_conn_max_record(c) +
	    WIRE_HDR_LEN + WIRE_APPEND_FIXED);
	ck_assert_str_ne(wal_conn_server(c), "");
	ck_assert_int_eq(wal_conn_ping(c), WAL_RESULT_OK);
	ck_assert_int_eq(wal_conn_closed(c), 0);
	wal_conn_close(c);
	check_walld_stop();
}
END_TEST

START_TEST(test_connect_errors)
{
	struct wal_conn	*c = (struct wal_conn *)1;
	char		*cause = NULL, path[200];
	enum wal_result	 r;

	snprintf(path, sizeof path, "%s/nothing", check_walld.dir);
	r = wal_conn_open(&c, path, 1000, &cause);
	ck_assert_int_eq(r, WAL_RESULT_UNAVAILABLE);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_nonnull(strstr(cause, path));
	free(cause);

	/* $WALLD_SOCKET is the default path. */
	setenv(WAL_SOCKET_ENV, check_walld.sock, 1);
	ck_assert_int_eq(wal_conn_open(&c, NULL, 1000, NULL), WAL_RESULT_OK);
	wal_conn_close(c);
	unsetenv(WAL_SOCKET_ENV);
	check_walld_stop();
}
END_TEST

START_TEST(test_append_durable)
{
	struct wal_conn	*c = check_open();
	uint64_t	 lsn[3], durable;
	int		 i;

	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(wal_conn_append(c, 1, 2, 3, "abc", 3,
		    &lsn[i]), WAL_RESULT_OK);
		ck_assert_uint_gt(lsn[i], 0);
		if (i > 0)
			ck_assert_uint_eq(lsn[i], lsn[i - 1] + 1);
	}
	ck_assert_int_eq(wal_conn_sync(c, &durable), WAL_RESULT_OK);
	ck_assert_uint_ge(durable, lsn[2]);
	/* An empty payload is a record too. */
	ck_assert_int_eq(wal_conn_append(c, 0, 0, 0, NULL, 0, &lsn[0]),
	    WAL_RESULT_OK);
	ck_assert_uint_eq(lsn[0], lsn[2] + 1);
	wal_conn_close(c);
	check_walld_stop();
}
END_TEST

START_TEST(test_nowait_sync)
{
	struct wal_conn	*c = check_open();
	uint64_t	 lsn, prev = 0, durable;
	int		 i;

	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(wal_conn_append_nowait(c, 0, 0, 0, &i,
		    sizeof i, &lsn), WAL_RESULT_OK);
		if (prev != 0)
			ck_assert_uint_eq(lsn, prev + 1);
		prev = lsn;
	}
	ck_assert_int_eq(wal_conn_sync(c, &durable), WAL_RESULT_OK);
	ck_assert_uint_ge(durable, lsn);
	wal_conn_close(c);
	check_walld_stop();
}
END_TEST

START_TEST(test_too_large)
{
	struct wal_conn	*c = check_open();
	size_t		 n = (size_t)wal_conn_max_record(c) + 1;
	char		*big = calloc(1, n);
	uint64_t	 lsn, id;

	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(wal_conn_append(c, 0, 0, 0, big, n, &lsn),
	    WAL_RESULT_TOO_LARGE);
	ck_assert_int_eq(wal_conn_submit_append(c, 0, 0, 0, big, n, 0, &id),
	    WAL_RESULT_TOO_LARGE);
	ck_assert_int_eq(wal_conn_submit_append(c, 0, 0, 0, big, 1, 0x80,
	    &id), WAL_RESULT_INVALID);
	/* The largest record goes through. */
	ck_assert_int_eq(wal_conn_append(c, 0, 0, 0, big, n - 1, &lsn),
	    WAL_RESULT_OK);
	ck_assert_int_eq(wal_conn_inflight(c), 0);
	free(big);
	wal_conn_close(c);
	check_walld_stop();
}
END_TEST

START_TEST(test_pipeline_10000)
{
	struct wal_conn		*c = check_open();
	struct wal_completion	 comp;
	uint64_t		 id, first_id = 0, next_id, prev = 0;
	char			 buf[32];
	int			 i, n, got = 0;

	for (i = 0; i < 10000; i++) {
		n = snprintf(buf, sizeof buf, "record %d", i);
		ck_assert_int_eq(wal_conn_submit_append(c, 0, 0, 0, buf, n, 0,
		    &id), WAL_RESULT_OK);
		if (i == 0)
			first_id = id;
		else
			ck_assert_uint_gt(id, first_id);
	}
	ck_assert_uint_ge(wal_conn_inflight(c), 1);
	next_id = first_id;
	while (got < 10000) {
		ck_assert_int_eq(wal_conn_wait(c, 30000, &comp), 1);
		ck_assert_msg(comp.result == WAL_RESULT_OK, "append %d: %s",
		    got, comp.msg);
		ck_assert_ptr_null(comp.msg);
		ck_assert_uint_eq(comp.id, next_id);
		if (prev != 0)
			ck_assert_uint_eq(comp.lsn, prev + 1);
		prev = comp.lsn;
		next_id++;
		got++;
	}
	ck_assert_uint_eq(wal_conn_inflight(c), 0);
	ck_assert_int_eq(wal_conn_wait(c, 0, &comp), -1);
	wal_conn_close(c);
	check_walld_stop();
}
END_TEST

START_TEST(test_event_loop)
{
	struct wal_conn		*c = check_open();
	struct wal_completion	 comp;
	struct pollfd		 pfd;
	uint64_t		 id, sync_id = 0, last = 0;
	int			 i, done = 0, synced = 0;

	/* Nowait appends then a sync, driven by poll and wal_conn_pump. */
	for (i = 0; i < 2000; i++)
		ck_assert_int_eq(wal_conn_submit_append(c, 5, 6, 7, "x", 1,
		    WAL_APPEND_NOWAIT, &id), WAL_RESULT_OK);
	ck_assert_int_eq(wal_conn_submit_sync(c, &sync_id), WAL_RESULT_OK);
	while (!synced) {
		pfd.fd = wal_conn_fd(c);
		pfd.events = wal_conn_events(c);
		ck_assert_int_ge(poll(&pfd, 1, 10000), 1);
		ck_assert_int_eq(wal_conn_pump(c), WAL_RESULT_OK);
		while (wal_conn_completion(c, &comp)) {
			ck_assert_int_eq(comp.result, WAL_RESULT_OK);
			if (comp.id == sync_id) {
				ck_assert_int_eq(done, 2000);
				ck_assert_uint_ge(comp.lsn, last);
				synced = 1;
			} else {
				ck_assert_uint_gt(comp.lsn, last);
				last = comp.lsn;
				done++;
			}
		}
	}
	ck_assert_int_eq(wal_conn_events(c) & POLLOUT, 0);
	wal_conn_close(c);
	check_walld_stop();
}
END_TEST

/* Appends one record with the given labels and returns its LSN. */
static uint64_t
check_append(struct wal_conn *c, uint16_t type, uint32_t tenant,
    uint16_t vshard, const char *s)
{
	uint64_t	lsn;

	ck_assert_int_eq(wal_conn_append(c, type, tenant, vshard, s,
	    strlen(s), &lsn), WAL_RESULT_OK);
	return (lsn);
}

/* Reads a whole stream and returns the number of records. */
static int
check_read_all(struct wal_conn *c, const struct wal_cursor_opts *o,
    uint64_t *lsns, int max)
{
	struct wal_cursor	*cur;
	struct wal_entry	 e;
	int			 n = 0, rc;

	ck_assert_int_eq(wal_cursor_open(c, o, &cur), WAL_RESULT_OK);
	while ((rc = wal_cursor_next(cur, 10000, &e)) == 1) {
		ck_assert_int_lt(n, max);
		if (o->has_tenant)
			ck_assert_uint_eq(e.tenant, o->tenant);
		if (o->has_type)
			ck_assert_uint_eq(e.type, o->type);
		if (o->has_vshard)
			ck_assert_uint_eq(e.vshard, o->vshard);
		if (n > 0)
			ck_assert_uint_gt(e.lsn, lsns[n - 1]);
		lsns[n++] = e.lsn;
	}
	ck_assert_msg(rc == 0, "cursor: %d %s", rc, wal_cursor_error(cur));
	wal_cursor_close(cur);
	return (n);
}

/* A reply that arrives before a large submit stays in the socket, where an
   event loop sees it: submitting must not turn it into a completion the
   loop would never look for (walbench hung so with 100 KiB appends). */
START_TEST(test_submit_leaves_replies)
{
	struct wal_conn		*c = check_open();
	struct wal_completion	 comp;
	struct pollfd		 pfd;
	uint64_t		 id1, id2;
	size_t			 n = 300 * 1024;
	char			*big;

	ck_assert_uint_ge(wal_conn_max_record(c), n);
	ck_assert_ptr_nonnull(big = calloc(1, n));
	ck_assert_int_eq(wal_conn_submit_append(c, 0, 0, 0, "first", 5, 0,
	    &id1), WAL_RESULT_OK);
	ck_assert_int_eq(wal_conn_pump(c), WAL_RESULT_OK);
	pfd.fd = wal_conn_fd(c);
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 10000), 1);	/* the reply is there */

	/* Past the library's write threshold: this submit writes. */
	ck_assert_int_eq(wal_conn_submit_append(c, 0, 0, 0, big, n, 0, &id2),
	    WAL_RESULT_OK);
	ck_assert_uint_lt(wal_conn_output_pending(c), n);	/* it wrote */
	ck_assert_int_eq(wal_conn_completion(c, &comp), 0);
	pfd.revents = 0;
	ck_assert_int_eq(poll(&pfd, 1, 0), 1);
	ck_assert(pfd.revents & POLLIN);

	ck_assert_int_eq(wal_conn_wait(c, 10000, &comp), 1);
	ck_assert_uint_eq(comp.id, id1);
	ck_assert_int_eq(comp.result, WAL_RESULT_OK);
	ck_assert_int_eq(wal_conn_wait(c, 10000, &comp), 1);
	ck_assert_uint_eq(comp.id, id2);
	ck_assert_int_eq(comp.result, WAL_RESULT_OK);
	free(big);
	wal_conn_close(c);
	check_walld_stop();
}
END_TEST

START_TEST(test_cursor_filters)
{
	struct wal_conn		*c = check_open();
	struct wal_cursor_opts	 o;
	struct wal_cursor	*cur;
	struct wal_entry	 e;
	uint64_t		 l[10], got[16];
	int			 i;

	for (i = 0; i < 10; i++)
		l[i] = check_append(c, i % 2, i % 3, i % 5, i == 4 ?
		    "with\ttab" : "rec");

	memset(&o, 0, sizeof o);
	ck_assert_int_eq(check_read_all(c, &o, got, 16), 10);
	ck_assert_uint_eq(got[0], l[0]);
	ck_assert_uint_eq(got[9], l[9]);

	o.has_tenant = 1;
	o.tenant = 1;			/* i = 1, 4, 7 */
	ck_assert_int_eq(check_read_all(c, &o, got, 16), 3);
	ck_assert_uint_eq(got[1], l[4]);

	o.has_type = 1;
	o.type = 0;			/* and even: i = 4 */
	ck_assert_int_eq(check_read_all(c, &o, got, 16), 1);
	ck_assert_uint_eq(got[0], l[4]);

	memset(&o, 0, sizeof o);
	o.has_vshard = 1;
	o.vshard = 0;			/* i = 0, 5 */
	ck_assert_int_eq(check_read_all(c, &o, got, 16), 2);

	memset(&o, 0, sizeof o);
	o.from = l[2];
	o.to = l[5];
	ck_assert_int_eq(check_read_all(c, &o, got, 16), 4);
	ck_assert_uint_eq(got[0], l[2]);
	ck_assert_uint_eq(got[3], l[5]);

	/* Payload and labels come back as written. */
	o.from = o.to = l[4];
	ck_assert_int_eq(wal_cursor_open(c, &o, &cur), WAL_RESULT_OK);
	ck_assert_int_eq(wal_cursor_next(cur, 10000, &e), 1);
	ck_assert_uint_eq(e.lsn, l[4]);
	ck_assert_uint_eq(e.type, 0);
	ck_assert_uint_eq(e.tenant, 1);
	ck_assert_uint_eq(e.vshard, 4);
	ck_assert_uint_eq(e.len, 8);
	ck_assert_int_eq(memcmp(e.payload, "with\ttab", 8), 0);
	ck_assert_int_eq(wal_cursor_next(cur, 10000, &e), 0);
	ck_assert_uint_eq(wal_cursor_next_lsn(cur), l[4] + 1);
	wal_cursor_close(cur);

	o.from = 10;
	o.to = 5;
	ck_assert_int_eq(wal_cursor_open(c, &o, &cur), WAL_RESULT_INVALID);
	wal_conn_close(c);
	check_walld_stop();
}
END_TEST

START_TEST(test_cursor_follow)
{
	struct wal_conn		*c = check_open(), *w = check_open();
	struct wal_cursor_opts	 o;
	struct wal_cursor	*cur;
	struct wal_entry	 e;
	uint64_t		 l1, l2, lsn;

	l1 = check_append(w, 0, 0, 0, "one");
	memset(&o, 0, sizeof o);
	o.follow = 1;
	ck_assert_int_eq(wal_cursor_open(c, &o, &cur), WAL_RESULT_OK);
	ck_assert_int_eq(wal_cursor_next(cur, 10000, &e), 1);
	ck_assert_uint_eq(e.lsn, l1);
	ck_assert_int_eq(wal_cursor_next(cur, 200, &e), WAL_CURSOR_AGAIN);

	/* A record appended elsewhere arrives; so do replies meanwhile. */
	l2 = check_append(w, 0, 0, 0, "two");
	ck_assert_int_eq(wal_cursor_next(cur, 10000, &e), 1);
	ck_assert_uint_eq(e.lsn, l2);
	ck_assert_int_eq(memcmp(e.payload, "two", 3), 0);
	ck_assert_int_eq(wal_conn_append(c, 0, 0, 0, "three", 5, &lsn),
	    WAL_RESULT_OK);
	ck_assert_int_eq(wal_cursor_next(cur, 10000, &e), 1);
	ck_assert_uint_eq(e.lsn, lsn);

	/* Close cancels the follow; the connection goes on. */
	wal_cursor_close(cur);
	ck_assert_int_eq(wal_conn_ping(c), WAL_RESULT_OK);
	wal_conn_close(w);
	wal_conn_close(c);
	check_walld_stop();
}
END_TEST

START_TEST(test_seal_stats_rotate)
{
	struct wal_conn	*c = check_open();
	uint64_t	 l, last, first, id;
	struct wal_completion comp;
	char		*text = NULL;

	l = check_append(c, 0, 0, 0, "a");
	ck_assert_int_eq(wal_conn_rotate(c, &first), WAL_RESULT_OK);
	ck_assert_uint_eq(first, l + 1);
	ck_assert_int_eq(wal_conn_stats(c, &text), WAL_RESULT_OK);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strchr(text, '\n'));
	free(text);

	ck_assert_int_eq(wal_conn_seal(c, &last), WAL_RESULT_OK);
	ck_assert_uint_eq(last, l);
	ck_assert_int_eq(wal_conn_append(c, 0, 0, 0, "b", 1, &l),
	    WAL_RESULT_SEALED);
	ck_assert_uint_eq(wal_conn_error_code(c), WIRE_E_SEALED);
	ck_assert_ptr_nonnull(strstr(wal_conn_error(c), "sealed"));
	ck_assert_int_eq(wal_conn_submit_append(c, 0, 0, 0, "b", 1, 0, &id),
	    WAL_RESULT_OK);
	ck_assert_int_eq(wal_conn_wait(c, 10000, &comp), 1);
	ck_assert_int_eq(comp.result, WAL_RESULT_SEALED);
	ck_assert_uint_eq(comp.code, WIRE_E_SEALED);
	ck_assert_ptr_nonnull(comp.msg);
	/* The connection survives errors. */
	ck_assert_int_eq(wal_conn_ping(c), WAL_RESULT_OK);
	wal_conn_close(c);
	check_walld_stop();
}
END_TEST

START_TEST(test_outcome_unknown)
{
	struct wal_conn		*c = check_open();
	struct wal_completion	 comp;
	uint64_t		 id, lsn;
	int			 st;

	ck_assert_int_eq(wal_conn_append(c, 0, 0, 0, "before", 6, &lsn),
	    WAL_RESULT_OK);
	ck_assert_int_eq(kill(check_walld.pid, SIGSTOP), 0);
	ck_assert_int_eq(wal_conn_submit_append(c, 0, 0, 0, "lost?", 5, 0,
	    &id), WAL_RESULT_OK);
	ck_assert_int_eq(wal_conn_wait(c, 300, &comp), 0);	/* sent */
	ck_assert_uint_eq(wal_conn_output_pending(c), 0);
	ck_assert_int_eq(kill(check_walld.pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(check_walld.pid, &st, 0), check_walld.pid);
	check_walld.pid = 0;

	ck_assert_int_eq(wal_conn_wait(c, 10000, &comp), 1);
	ck_assert_uint_eq(comp.id, id);
	ck_assert_int_eq(comp.result, WAL_RESULT_UNKNOWN);
	ck_assert_ptr_nonnull(comp.msg);
	ck_assert_int_eq(wal_conn_closed(c), 1);
	ck_assert_int_eq(wal_conn_append(c, 0, 0, 0, "x", 1, &lsn),
	    WAL_RESULT_CLOSED);
	ck_assert_int_eq(wal_conn_submit_append(c, 0, 0, 0, "x", 1, 0, &id),
	    WAL_RESULT_CLOSED);
	wal_conn_close(c);
}
END_TEST

START_TEST(test_blocking_unknown)
{
	struct wal_conn	*c = check_open();
	uint64_t	 lsn;
	pid_t		 killer;

	/* A blocking append whose walld dies before replying. */
	ck_assert_int_eq(kill(check_walld.pid, SIGSTOP), 0);
	killer = fork();
	ck_assert_int_ne(killer, -1);
	if (killer == 0) {
		usleep(300000);
		kill(check_walld.pid, SIGKILL);
		_exit(0);
	}
	ck_assert_int_eq(wal_conn_append(c, 0, 0, 0, "x", 1, &lsn),
	    WAL_RESULT_UNKNOWN);
	ck_assert_int_eq(wal_conn_error_code(c), 0);
	waitpid(killer, NULL, 0);
	waitpid(check_walld.pid, NULL, 0);
	check_walld.pid = 0;
	wal_conn_close(c);
}
END_TEST

START_TEST(test_timeout)
{
	struct wal_conn	*c = check_open();

	ck_assert_int_eq(kill(check_walld.pid, SIGSTOP), 0);
	wal_conn_set_timeout(c, 200);
	ck_assert_int_eq(wal_conn_ping(c), WAL_RESULT_UNKNOWN);
	ck_assert_int_eq(wal_conn_closed(c), 1);
	wal_conn_close(c);
	kill(check_walld.pid, SIGCONT);
	check_walld_stop();
}
END_TEST

START_TEST(test_result_names)
{
	ck_assert_str_eq(wal_result_name(WAL_RESULT_OK), "ok");
	ck_assert_str_eq(wal_result_name(WAL_RESULT_UNKNOWN),
	    "outcome unknown");
	ck_assert_str_eq(wal_result_name(WAL_RESULT_SEALED), "sealed");
	ck_assert_int_eq(wal_result_retryable(WAL_RESULT_BUSY), 1);
	ck_assert_int_eq(wal_result_retryable(WAL_RESULT_UNKNOWN), 0);
	ck_assert_int_eq(wal_result_retryable(WAL_RESULT_SEALED), 0);
	check_walld_stop();
}
END_TEST

/* Builds the suite. */
static Suite *
check_libwal_suite(void)
{
	Suite	*s = suite_create("libwal");
	TCase	*tc = tcase_create("libwal");

	tcase_add_checked_fixture(tc, check_setup, check_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hello_limits);
	tcase_add_test(tc, test_connect_errors);
	tcase_add_test(tc, test_append_durable);
	tcase_add_test(tc, test_nowait_sync);
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_pipeline_10000);
	tcase_add_test(tc, test_event_loop);
	tcase_add_test(tc, test_submit_leaves_replies);
	tcase_add_test(tc, test_cursor_filters);
	tcase_add_test(tc, test_cursor_follow);
	tcase_add_test(tc, test_seal_stats_rotate);
	tcase_add_test(tc, test_outcome_unknown);
	tcase_add_test(tc, test_blocking_unknown);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_result_names);
	suite_add_tcase(s, tc);
	return (s);
}

/* Runs the suite; walld is started by each test. */
int
main(void)
{
	SRunner	*sr = srunner_create(check_libwal_suite());
	int	 failed;

	signal(SIGPIPE, SIG_DFL);	/* libwal must not need SIG_IGN */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
