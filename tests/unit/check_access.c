/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_access.c: the access list: the syntax of operations, tenants and
 * names; rules matching by uid, primary and supplementary group; tenant
 * ranges; the default policy; and the `access:` section of the loader,
 * errors included, with their FILE:LINE:COLUMN.
 */
#include <sys/socket.h>

#include <check.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "config.h"
#include "wire.h"

#define NOBODY	4242u	/* a uid that is neither root nor ours */

static struct access_peer
peer(uid_t uid, gid_t gid, const gid_t *groups, unsigned n)
{
	struct access_peer	p = { uid, gid, groups, n };

	return (p);
}

START_TEST(test_parse_ops)
{
	unsigned	ops = 0;
	char		why[256];

	ck_assert_int_eq(access_parse_ops("append", 6, &ops, why, sizeof why),
	    0);
	ck_assert_uint_eq(ops, ACCESS_BIT(ACCESS_APPEND));
	ops = 0;
	ck_assert_int_eq(access_parse_ops("read, sync,stats", 16, &ops, why,
	    sizeof why), 0);
	ck_assert_uint_eq(ops, ACCESS_BIT(ACCESS_READ) |
	    ACCESS_BIT(ACCESS_SYNC) | ACCESS_BIT(ACCESS_STATS));
	ops = 0;
	ck_assert_int_eq(access_parse_ops("any", 3, &ops, why, sizeof why), 0);
	ck_assert_uint_eq(ops, ACCESS_ALL_OPS);
	ops = 0;
	ck_assert_int_eq(access_parse_ops("keys", 4, &ops, why, sizeof why), 0);
	ck_assert_uint_eq(ops, ACCESS_BIT(ACCESS_KEYS));

	ck_assert_int_eq(access_parse_ops("flush", 5, &ops, why, sizeof why),
	    -1);
	ck_assert_str_eq(why, "unknown operation \"flush\" (expected one of: "
	    "append, read, sync, seal, rotate, truncate, keys, stats, cursor, "
	    "any)");
	ck_assert_int_eq(access_parse_ops("Append", 6, &ops, why, sizeof why),
	    -1);
	ck_assert_int_eq(access_parse_ops("read,,sync", 10, &ops, why,
	    sizeof why), -1);
	ck_assert_str_eq(why, "empty item in a list");
	ck_assert_int_eq(access_parse_ops("", 0, &ops, why, sizeof why), -1);
	/* Only n bytes count: "appendix" cut at 6 is "append". */
	ops = 0;
	ck_assert_int_eq(access_parse_ops("appendix", 6, &ops, why,
	    sizeof why), 0);
	ck_assert_uint_eq(ops, ACCESS_BIT(ACCESS_APPEND));
}
END_TEST

START_TEST(test_parse_tenants)
{
	struct access_rule	r;
	char			why[256];

	memset(&r, 0, sizeof r);
	ck_assert_int_eq(access_parse_tenants(&r, "7", 1, why, sizeof why), 0);
	ck_assert_int_eq(access_parse_tenants(&r, "10-20", 5, why, sizeof why),
	    0);
	ck_assert_int_eq(access_parse_tenants(&r, "1, 3 - 4", 8, why,
	    sizeof why), 0);
	ck_assert_int_eq(access_parse_tenants(&r, "4294967295", 10, why,
	    sizeof why), 0);
	ck_assert_uint_eq(r.nranges, 5);
	ck_assert_uint_eq(r.ranges[1].lo, 10);
	ck_assert_uint_eq(r.ranges[1].hi, 20);
	ck_assert_uint_eq(r.ranges[3].hi, 4);
	ck_assert_uint_eq(r.ranges[4].lo, 4294967295u);
	ck_assert_int_eq(r.any_tenant, 0);
	ck_assert_int_eq(access_parse_tenants(&r, "any", 3, why, sizeof why),
	    0);
	ck_assert_int_eq(r.any_tenant, 1);

	ck_assert_int_eq(access_parse_tenants(&r, "4294967296", 10, why,
	    sizeof why), -1);
	ck_assert_str_eq(why, "bad tenant \"4294967296\": expected a tenant "
	    "id (0..4294967295), a range such as 10-20, or any");
	ck_assert_int_eq(access_parse_tenants(&r, "20-10", 5, why, sizeof why),
	    -1);
	ck_assert_str_eq(why, "tenant range \"20-10\" ends before it starts");
	ck_assert_int_eq(access_parse_tenants(&r, "-5", 2, why, sizeof why),
	    -1);
	ck_assert_int_eq(access_parse_tenants(&r, "5-", 2, why, sizeof why),
	    -1);
	ck_assert_int_eq(access_parse_tenants(&r, "1-2-3", 5, why, sizeof why),
	    -1);
	ck_assert_int_eq(access_parse_tenants(&r, "x", 1, why, sizeof why),
	    -1);
	ck_assert_int_eq(access_parse_tenants(&r, "00000000000000000000001",
	    23, why, sizeof why), -1);
	access_rule_clear(&r);
	ck_assert_ptr_null(r.ranges);
}
END_TEST

START_TEST(test_resolve)
{
	struct passwd	*pw;
	uint32_t	 id = 99;
	char		 why[256];

	ck_assert_int_eq(access_resolve(0, "root", 4, &id, why, sizeof why), 0);
	ck_assert_uint_eq(id, 0);
	ck_assert_int_eq(access_resolve(1, "root", 4, &id, why, sizeof why), 0);
	ck_assert_uint_eq(id, 0);
	ck_assert_int_eq(access_resolve(0, "1001", 4, &id, why, sizeof why), 0);
	ck_assert_uint_eq(id, 1001);
	ck_assert_int_eq(access_resolve(1, "4294967294", 10, &id, why,
	    sizeof why), 0);
	ck_assert_uint_eq(id, 4294967294u);
	ck_assert_int_eq(access_resolve(0, "4294967295", 10, &id, why,
	    sizeof why), -1);
	ck_assert_str_eq(why, "user id out of range: must be 0..4294967294");
	ck_assert_int_eq(access_resolve(0, "no-such-user-walld", 18, &id, why,
	    sizeof why), -1);
	ck_assert_str_eq(why, "no such user: no-such-user-walld");
	ck_assert_int_eq(access_resolve(1, "no-such-group-walld", 19, &id, why,
	    sizeof why), -1);
	ck_assert_str_eq(why, "no such group: no-such-group-walld");
	if ((pw = getpwnam("nobody")) != NULL) {
		ck_assert_int_eq(access_resolve(0, "nobody", 6, &id, why,
		    sizeof why), 0);
		ck_assert_uint_eq(id, pw->pw_uid);
	}
}
END_TEST

/* One rule built from text, added to acl. */
static void
add_rule(struct access *acl, int is_group, uint32_t id, const char *ops,
    const char *tenants)
{
	struct access_rule	r;
	char			why[256];

	memset(&r, 0, sizeof r);
	r.is_group = is_group;
	r.id = id;
	ck_assert_int_eq(access_parse_ops(ops, strlen(ops), &r.ops, why,
	    sizeof why), 0);
	if (tenants != NULL)
		ck_assert_int_eq(access_parse_tenants(&r, tenants,
		    strlen(tenants), why, sizeof why), 0);
	ck_assert_int_eq(access_add(acl, &r), 0);
	ck_assert_ptr_null(r.ranges);
}

START_TEST(test_default_policy)
{
	struct access_peer	root = peer(0, 0, NULL, 0);
	struct access_peer	self = peer(geteuid(), 1234, NULL, 0);
	struct access_peer	other = peer(NOBODY, NOBODY, NULL, 0);
	struct access_peer	unknown = peer((uid_t)-1, (gid_t)-1, NULL, 0);
	int			op;

	for (op = 0; op < ACCESS_NOPS; op++) {
		ck_assert_int_eq(access_allows(NULL, &root, op, 7), 1);
		ck_assert_int_eq(access_allows(NULL, &self, op, 7), 1);
		ck_assert_int_eq(access_allows(NULL, &other, op, 7), 0);
		ck_assert_int_eq(access_allows(NULL, &unknown, op, 7), 0);
	}
	ck_assert_int_eq(access_read_scope(NULL, &root), ACCESS_SCOPE_ALL);
	ck_assert_int_eq(access_read_scope(NULL, &other), ACCESS_SCOPE_NONE);
}
END_TEST

START_TEST(test_rules)
{
	struct access		*acl = access_create();
	gid_t			 groups[] = { 50, 60, 70 };
	struct access_peer	 u = peer(NOBODY, 100, NULL, 0);
	struct access_peer	 g = peer(NOBODY + 1, 100, groups, 3);
	struct access_peer	 v = peer(NOBODY + 2, 60, NULL, 0);
	struct access_peer	 w = peer(NOBODY + 3, 100, NULL, 0);

	ck_assert_ptr_nonnull(acl);
	add_rule(acl, 0, NOBODY, "append, read", "1, 5, 10-20");
	add_rule(acl, 1, 70, "read", "any");
	add_rule(acl, 1, 60, "seal, stats", NULL);

	/* By uid: tenants listed, and only the ops listed. */
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_APPEND, 1), 1);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_APPEND, 5), 1);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_APPEND, 10), 1);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_APPEND, 20), 1);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_APPEND, 0), 0);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_APPEND, 2), 0);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_APPEND, 9), 0);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_APPEND, 21), 0);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_READ, 15), 1);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_SYNC, 0), 0);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_SEAL, 0), 0);
	ck_assert_int_eq(access_read_scope(acl, &u), ACCESS_SCOPE_SOME);

	/* By supplementary group: read any tenant; seal through group 60. */
	ck_assert_int_eq(access_allows(acl, &g, ACCESS_READ, 123456), 1);
	ck_assert_int_eq(access_allows(acl, &g, ACCESS_APPEND, 1), 0);
	ck_assert_int_eq(access_allows(acl, &g, ACCESS_SEAL, 0), 1);
	ck_assert_int_eq(access_allows(acl, &g, ACCESS_STATS, 0), 1);
	ck_assert_int_eq(access_allows(acl, &g, ACCESS_ROTATE, 0), 0);
	ck_assert_int_eq(access_read_scope(acl, &g), ACCESS_SCOPE_ALL);

	/* By primary group. */
	ck_assert_int_eq(access_allows(acl, &v, ACCESS_SEAL, 0), 1);
	ck_assert_int_eq(access_allows(acl, &v, ACCESS_READ, 1), 0);
	ck_assert_int_eq(access_read_scope(acl, &v), ACCESS_SCOPE_NONE);

	/* Nobody named: nothing. */
	ck_assert_int_eq(access_allows(acl, &w, ACCESS_STATS, 0), 0);
	ck_assert_int_eq(access_allows(acl, &w, ACCESS_READ, 1), 0);

	/* root and walld's own uid: anything, whatever the list says. */
	w.uid = 0;
	ck_assert_int_eq(access_allows(acl, &w, ACCESS_TRUNCATE, 0), 1);
	ck_assert_int_eq(access_read_scope(acl, &w), ACCESS_SCOPE_ALL);
	access_free(acl);
}
END_TEST

START_TEST(test_admin_not_implied)
{
	struct access		*acl = access_create();
	struct access_peer	 u = peer(NOBODY, NOBODY, NULL, 0);

	add_rule(acl, 0, NOBODY, "append, read, sync, stats", "any");
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_APPEND, 9), 1);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_SEAL, 0), 0);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_ROTATE, 0), 0);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_TRUNCATE, 0), 0);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_KEYS, 0), 0);
	add_rule(acl, 0, NOBODY, "any", "3");
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_KEYS, 0), 1);
	access_free(acl);
}
END_TEST

START_TEST(test_ranges_merge)
{
	struct access		*acl = access_create();
	struct access_peer	 u = peer(NOBODY, NOBODY, NULL, 0);
	uint32_t		 t;

	add_rule(acl, 0, NOBODY, "append",
	    "30-40, 1, 2, 3, 35-50, 4294967290-4294967295, 100, 0");
	ck_assert_uint_eq(acl->rules[0].nranges, 4);	/* 0-3 30-50 100 top */
	ck_assert_uint_eq(acl->rules[0].ranges[0].lo, 0);
	ck_assert_uint_eq(acl->rules[0].ranges[0].hi, 3);
	ck_assert_uint_eq(acl->rules[0].ranges[1].lo, 30);
	ck_assert_uint_eq(acl->rules[0].ranges[1].hi, 50);
	for (t = 0; t < 200; t++)
		ck_assert_int_eq(access_allows(acl, &u, ACCESS_APPEND, t),
		    t <= 3 || (t >= 30 && t <= 50) || t == 100);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_APPEND, 4294967295u), 1);
	ck_assert_int_eq(access_allows(acl, &u, ACCESS_APPEND, 4294967289u), 0);
	access_free(acl);
}
END_TEST

START_TEST(test_wire_ops)
{
	enum access_op	op;

	ck_assert_int_eq(access_op_of_wire(WIRE_OP_APPEND, &op), 0);
	ck_assert_int_eq(op, ACCESS_APPEND);
	ck_assert_int_eq(access_op_of_wire(WIRE_OP_TRUNCATE, &op), 0);
	ck_assert_int_eq(op, ACCESS_TRUNCATE);
	ck_assert_int_eq(access_op_of_wire(WIRE_OP_STATS, &op), 0);
	ck_assert_int_eq(op, ACCESS_STATS);
	ck_assert_int_eq(access_op_of_wire(WIRE_OP_HELLO, &op), -1);
	ck_assert_int_eq(access_op_of_wire(WIRE_OP_PING, &op), -1);
	ck_assert_int_eq(access_op_of_wire(WIRE_OP_READ_CANCEL, &op), -1);
	ck_assert_int_eq(access_op_of_wire(0x77, &op), -1);
	ck_assert_str_eq(access_op_name(ACCESS_KEYS), "keys");
	ck_assert_str_eq(access_op_name(ACCESS_NOPS), "unknown");
}
END_TEST

START_TEST(test_peer_groups)
{
	gid_t		*groups;
	unsigned	 n;
	int		 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(access_peer_groups(sv[0], &groups, &n), 0);
	ck_assert_int_eq((int)n, getgroups(0, NULL));
	free(groups);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Loads text as a config file; returns the result and the cause with the
   temporary file name cut off. */
static int
load(struct config *cfg, const char *text, char **why)
{
	char	 path[] = "/tmp/check_access.XXXXXX";
	char	*cause = NULL;
	FILE	*f;
	int	 fd, rc;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	rc = config_load(cfg, path, &cause);
	unlink(path);
	*why = NULL;
	if (cause != NULL) {
		ck_assert_int_eq(strncmp(cause, path, strlen(path)), 0);
		*why = strdup(cause + strlen(path) + 1);
		free(cause);
	}
	return (rc);
}

START_TEST(test_config_section)
{
	struct config		 c;
	struct access_peer	 u = peer(NOBODY, NOBODY, NULL, 0);
	char			*why;

	config_defaults(&c);
	ck_assert_ptr_null(c.access);
	ck_assert_int_eq(load(&c,
	    "limits:\n"
	    "  max_record: 4KiB\n"
	    "access:\n"
	    "  - user: 4242\n"
	    "    ops: [append, read]\n"
	    "    tenants: [1, 5, 10-20]\n"
	    "  - group: root\n"
	    "    ops: any\n"
	    "    tenants: any\n"
	    "  - user: 4242\n"
	    "    ops: stats\n", &why), 0);
	ck_assert_ptr_null(why);
	ck_assert_ptr_nonnull(c.access);
	ck_assert_uint_eq(c.access->nrules, 3);
	ck_assert_int_eq(access_allows(c.access, &u, ACCESS_APPEND, 12), 1);
	ck_assert_int_eq(access_allows(c.access, &u, ACCESS_APPEND, 2), 0);
	ck_assert_int_eq(access_allows(c.access, &u, ACCESS_STATS, 0), 1);
	ck_assert_int_eq(access_allows(c.access, &u, ACCESS_SYNC, 0), 0);

	/* A bad file changes nothing, the list included. */
	ck_assert_int_eq(load(&c, "access:\n  - user: 1\n    ops: nope\n",
	    &why), -1);
	ck_assert_ptr_nonnull(why);
	free(why);
	ck_assert_uint_eq(c.access->nrules, 3);

	/* A good one replaces it. */
	ck_assert_int_eq(load(&c, "access: []\n", &why), 0);
	ck_assert_ptr_nonnull(c.access);
	ck_assert_uint_eq(c.access->nrules, 0);
	ck_assert_int_eq(access_allows(c.access, &u, ACCESS_STATS, 0), 0);
	config_free(&c);
	ck_assert_ptr_null(c.access);
	config_free(&c);
}
END_TEST

struct error_case {
	const char	*text;
	const char	*cause;
};

static const struct error_case errors[] = {
	{ "access:\n  - user: no-such-user-walld\n    ops: any\n"
	  "    tenants: any\n",
	  "2:11: access[0].user: no such user: no-such-user-walld" },
	{ "access:\n  - group: no-such-group-walld\n    ops: stats\n",
	  "2:12: access[0].group: no such group: no-such-group-walld" },
	{ "access:\n  - user: root\n    group: root\n    ops: any\n",
	  "3:5: access[0].group: a rule names a user or a group, not both"
	  " (user at line 2 column 5)" },
	{ "access:\n  - user: root\n    ops: [append, flush]\n"
	  "    tenants: any\n",
	  "3:19: access[0].ops: unknown operation \"flush\" (expected one of:"
	  " append, read, sync, seal, rotate, truncate, keys, stats, cursor,"
	  " any)" },
	{ "access:\n  - user: root\n    ops: stats\n  - user: root\n"
	  "    ops: append\n",
	  "4:5: access[1]: grants append or read but lists no tenants"
	  " (tenants: any allows every tenant)" },
	{ "access:\n  - ops: [stats]\n",
	  "2:5: access[0]: names no user or group" },
	{ "access:\n  - user: root\n",
	  "2:5: access[0]: lists no ops" },
	{ "access:\n  - user: root\n    ops: append\n"
	  "    tenants: [1, 20-10]\n",
	  "4:18: access[0].tenants: tenant range \"20-10\" ends before it"
	  " starts" },
	{ "access:\n  - user: root\n    ops: append\n    tenants: [1, [2]]\n",
	  "4:18: access[0].tenants: expected a single value in the list, got"
	  " a list" },
	{ "access:\n  - user: root\n    ops: []\n",
	  "3:10: access[0].ops: empty list" },
	{ "access:\n  - user: root\n    ops: {a: b}\n",
	  "3:10: access[0].ops: expected a value or a list of values, got a"
	  " mapping" },
	{ "access:\n  - user: [root]\n    ops: any\n",
	  "2:11: access[0].user: expected a single value, got a list" },
	{ "access:\n  - user:\n    ops: any\n",
	  "2:10: access[0].user: missing value" },
	{ "access:\n  - user: root\n    ops: stats\n    opps: sync\n",
	  "4:5: access[0].opps: unknown key (expected one of: user, group,"
	  " ops, tenants, cursors)" },
	{ "access:\n  - user: root\n    ops: stats\n    ops: sync\n",
	  "4:5: access[0].ops: duplicate key (first at line 3 column 5)" },
	{ "access:\n  - root\n",
	  "2:5: access[0]: expected a rule (a mapping of user or group, ops,"
	  " tenants), got a single value" },
	{ "access:\n  user: root\n",
	  "2:3: access: expected a list of rules, got a mapping" },
	{ "access: root\n",
	  "1:9: access: expected a list of rules, got a single value" },
	{ "access: []\naccess: []\n",
	  "2:1: access: duplicate section (first at line 1 column 1)" },
	{ "access:\n  - user: 4294967295\n    ops: stats\n",
	  "2:11: access[0].user: user id out of range: must be 0..4294967294" },
	{ "acces: []\n",
	  "1:1: acces: unknown section (expected one of: socket, storage,"
	  " producers, group_commit, limits, cursors, retention, scrub, logging,"
	  " metrics, archive, encryption, replication, access)" },
};

START_TEST(test_config_errors)
{
	const struct error_case	*ec = &errors[_i];
	struct config		 c;
	char			*why;

	config_defaults(&c);
	ck_assert_int_eq(load(&c, ec->text, &why), -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, ec->cause);
	ck_assert_ptr_null(c.access);
	free(why);
	config_free(&c);
}
END_TEST

/* cursors: names and prefixes; the cursor operation needed too. */
START_TEST(test_cursors)
{
	struct access		*acl = access_create();
	struct access_rule	 r;
	struct access_peer	 p = peer(NOBODY, NOBODY, NULL, 0);
	struct access_peer	 q = peer(NOBODY + 1, NOBODY + 1, NULL, 0);
	char			 why[256];

	memset(&r, 0, sizeof r);
	r.id = NOBODY;
	r.ops = ACCESS_BIT(ACCESS_CURSOR);
	ck_assert_int_eq(access_parse_cursors(&r, "etl-*, audit", 12, why,
	    sizeof why), 0);
	ck_assert_int_eq(access_parse_cursors(&r, "-x", 2, why, sizeof why),
	    -1);
	ck_assert_ptr_nonnull(strstr(why, "not a cursor name"));
	ck_assert_int_eq(access_add(acl, &r), 0);
	memset(&r, 0, sizeof r);
	r.id = NOBODY + 1;
	r.ops = ACCESS_BIT(ACCESS_READ);
	r.any_cursor = 1;	/* without the operation: nothing */
	r.any_tenant = 1;
	ck_assert_int_eq(access_add(acl, &r), 0);
	ck_assert_int_eq(access_allows_cursor(acl, &p, "etl-", 4), 1);
	ck_assert_int_eq(access_allows_cursor(acl, &p, "etl-orders", 10), 1);
	ck_assert_int_eq(access_allows_cursor(acl, &p, "audit", 5), 1);
	ck_assert_int_eq(access_allows_cursor(acl, &p, "audit2", 6), 0);
	ck_assert_int_eq(access_allows_cursor(acl, &p, "etl", 3), 0);
	ck_assert_int_eq(access_allows_cursor(acl, &p, "aud", 3), 0);
	ck_assert_int_eq(access_allows_cursor(acl, &q, "etl-a", 5), 0);
	ck_assert_int_eq(access_allows_cursor(NULL, &p, "etl-a", 5), 0);
	access_free(acl);
}
END_TEST

START_TEST(test_describe)
{
	struct access	*acl = access_create();
	char		 buf[256], want[256];

	access_describe(NULL, buf, sizeof buf);
	snprintf(want, sizeof want, "access: no access list: only root and "
	    "uid %lu (walld's own) may use walld", (unsigned long)geteuid());
	ck_assert_str_eq(buf, want);
	add_rule(acl, 0, 5, "stats", NULL);
	access_describe(acl, buf, sizeof buf);
	snprintf(want, sizeof want, "access: 1 rule in force; root and uid "
	    "%lu (walld's own) may do anything", (unsigned long)geteuid());
	ck_assert_str_eq(buf, want);
	access_free(acl);
}
END_TEST

static Suite *
access_suite(void)
{
	Suite	*s = suite_create("access");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_parse_ops);
	tcase_add_test(tc, test_parse_tenants);
	tcase_add_test(tc, test_resolve);
	tcase_add_test(tc, test_default_policy);
	tcase_add_test(tc, test_rules);
	tcase_add_test(tc, test_admin_not_implied);
	tcase_add_test(tc, test_ranges_merge);
	tcase_add_test(tc, test_wire_ops);
	tcase_add_test(tc, test_peer_groups);
	tcase_add_test(tc, test_config_section);
	tcase_add_loop_test(tc, test_config_errors, 0,
	    (int)(sizeof errors / sizeof errors[0]));
	tcase_add_test(tc, test_cursors);
	tcase_add_test(tc, test_describe);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(access_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? 0 : 1);
}
