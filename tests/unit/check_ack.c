/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_ack.c: Check suite for daemon/ack.c's waiter queue: the number of
 * connections waiting (what commit_siblings is compared with) counts
 * connections, not requests; waiters are answered only at or below the
 * durable LSN, in LSN order; a NOWAIT append waits for no durability,
 * only for the replies its connection still waits for; one that
 * asks for replication waits in the replicated ring, and so do the later
 * replies of its connection. The
 * connections are closed ones (fd -1), so that nothing is sent.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "server-int.h"
#include "wire.h"

static struct event_base	*base;
static struct config		 cfg;
static struct server		 srv;
static struct conn		 ca, cb;

/* reap_ev's callback: the connections here are not the reaper's to free. */
static void
check_ack_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
}

static void
setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(&srv, 0, sizeof srv);
	config_defaults(&cfg);
	srv.cfg = &cfg;
	TAILQ_INIT(&srv.dead);
	srv.reap_ev = event_new(base, -1, 0, check_ack_reap_cb, NULL);
	ck_assert_ptr_nonnull(srv.reap_ev);
	memset(&ca, 0, sizeof ca);
	memset(&cb, 0, sizeof cb);
	ca.srv = cb.srv = &srv;
	ca.fd = cb.fd = -1;
	TAILQ_INIT(&ca.streams);
	TAILQ_INIT(&cb.streams);
}

static void
teardown(void)
{
	ack_free(&srv);
	config_free(&cfg);
	event_free(srv.reap_ev);
	event_base_free(base);
}

/* An append of LSN lsn on c, with request id lsn. */
static void
append(struct conn *c, uint64_t lsn, uint8_t flags)
{
	struct wire_hdr	h = { .len = 0, .op = WIRE_OP_APPEND, .flags = flags,
	    .id = lsn };

	ack_append(c, &h, lsn, 10);
}

START_TEST(test_siblings_are_connections)
{
	/* One connection pipelining three appends is one sibling. */
	append(&ca, 1, 0);
	append(&ca, 2, 0);
	append(&ca, 3, 0);
	ck_assert_uint_eq(srv.wq.len, 3);
	ck_assert_uint_eq(srv.wq_conns, 1);
	/* A second connection makes two; its sync adds none. */
	append(&cb, 4, 0);
	ack_sync(&cb, 99, 0);
	ck_assert_uint_eq(srv.wq.len, 5);
	ck_assert_uint_eq(srv.wq_conns, 2);
	ck_assert_uint_eq(cb.pending, 1);
	ck_assert_uint_eq(cb.refs, 2);
	/* A NOWAIT append waits for no durability: on a connection with
	   nothing waiting it is answered at once; behind replies still
	   waiting it goes out right after them (LSN order), answered with
	   the last of them, not with its own LSN's durability. */
	ack_done(&srv, 4);
	ck_assert_uint_eq(srv.wq.len, 0);
	append(&cb, 5, WIRE_F_NOWAIT);
	ck_assert_uint_eq(srv.wq.len, 0);
	append(&ca, 6, 0);
	append(&ca, 7, WIRE_F_NOWAIT);
	ck_assert_uint_eq(srv.wq.len, 2);
	ck_assert_uint_eq(srv.next_lsn, 8);
	ack_done(&srv, 6);
	ck_assert_uint_eq(srv.wq.len, 0);
	ck_assert_uint_eq(ca.refs, 0);
}
END_TEST

START_TEST(test_answered_up_to_durable)
{
	append(&ca, 1, 0);
	append(&ca, 2, 0);
	append(&cb, 3, 0);
	append(&ca, 4, 0);
	/* Durable up to 2: ca's first two go, ca still waits for 4. */
	ack_done(&srv, 2);
	ck_assert_uint_eq(srv.durable, 2);
	ck_assert_uint_eq(srv.wq.len, 2);
	ck_assert_uint_eq(srv.wq_conns, 2);
	ck_assert_uint_eq(ca.pending, 1);
	ck_assert_uint_eq(ca.inflight, 10);
	ck_assert_uint_eq(srv.inflight, 20);
	ack_done(&srv, 3);
	ck_assert_uint_eq(srv.wq_conns, 1);
	ck_assert_uint_eq(cb.refs, 0);
	ack_done(&srv, 4);
	ck_assert_uint_eq(srv.wq.len, 0);
	ck_assert_uint_eq(srv.wq_conns, 0);
	ck_assert_uint_eq(srv.inflight, 0);
	ck_assert_uint_eq(ca.refs, 0);
	/* A sync with everything durable is answered at once. */
	ack_sync(&ca, 7, 0);
	ck_assert_uint_eq(srv.wq.len, 0);
}
END_TEST

START_TEST(test_failed_batch_answers_all)
{
	append(&ca, 1, 0);
	append(&cb, 2, 0);
	ack_sync(&cb, 9, 0);
	ack_fail(&srv, "fdatasync: EIO");
	ck_assert_uint_eq(srv.wq.len, 0);
	ck_assert_uint_eq(srv.wq_conns, 0);
	ck_assert_uint_eq(ca.refs + cb.refs, 0);
	ck_assert_uint_eq(srv.durable, 0);
}
END_TEST

START_TEST(test_replicated_without_replication)
{
	/* A REPLICATED append waits in rq; a later local append of the
	   same connection waits behind it, another connection's does not. */
	append(&ca, 1, WIRE_F_REPLICATED);
	append(&ca, 2, WIRE_F_LOCAL);
	append(&cb, 3, 0);
	ck_assert_uint_eq(srv.rq.len, 2);
	ck_assert_uint_eq(srv.wq.len, 1);
	ck_assert_uint_eq(ca.rwaits, 2);
	ck_assert_uint_eq(srv.wq_conns, 2);
	/* Nothing before durability, whatever the level. */
	ack_done(&srv, 0);
	ck_assert_uint_eq(srv.rq.len, 2);
	/* Durable, and walld does not replicate: REPL_UNAVAILABLE for the
	   first (the record is durable), the local one then follows. */
	ack_done(&srv, 2);
	ck_assert_uint_eq(srv.rq.len, 0);
	ck_assert_uint_eq(srv.repl_timeouts, 1);
	ck_assert_uint_eq(ca.rwaits, 0);
	ck_assert_uint_eq(srv.wq.len, 1);
	/* The default level comes from replication.ack. */
	cfg.repl_ack = CONFIG_ACK_REPLICATED;
	append(&cb, 4, 0);
	ck_assert_uint_eq(srv.rq.len, 1);
	append(&ca, 5, WIRE_F_LOCAL);
	ck_assert_uint_eq(srv.wq.len, 2);
	ack_sync(&ca, 9, WIRE_F_REPLICATED);
	ck_assert_uint_eq(srv.rq.len, 2);
	ack_done(&srv, 5);
	ck_assert_uint_eq(srv.rq.len + srv.wq.len, 0);
	ck_assert_uint_eq(srv.repl_timeouts, 3);
	ck_assert_uint_eq(srv.inflight, 0);
}
END_TEST

static Suite *
ack_suite(void)
{
	Suite	*s = suite_create("ack");
	TCase	*tc = tcase_create("waiters");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_siblings_are_connections);
	tcase_add_test(tc, test_answered_up_to_durable);
	tcase_add_test(tc, test_failed_batch_answers_all);
	tcase_add_test(tc, test_replicated_without_replication);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(ack_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
