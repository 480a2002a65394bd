/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access.c: the access list. Parses the pieces of a rule (operations,
 * tenants, user and group names), keeps each rule's tenants as sorted
 * disjoint ranges, and answers "may this peer do this" for the server.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "wire.h"

#define ACCESS_MAX_GROUPS	65536	/* the kernel's NGROUPS_MAX */

static const char *const access_names[ACCESS_NOPS] = {
	[ACCESS_APPEND]		= "append",
	[ACCESS_READ]		= "read",
	[ACCESS_SYNC]		= "sync",
	[ACCESS_SEAL]		= "seal",
	[ACCESS_ROTATE]		= "rotate",
	[ACCESS_TRUNCATE]	= "truncate",
	[ACCESS_KEYS]		= "keys",
	[ACCESS_STATS]		= "stats",
	[ACCESS_CURSOR]		= "cursor",
};

const char *
access_op_name(enum access_op op)
{
	return ((unsigned)op < ACCESS_NOPS ? access_names[op] : "unknown");
}

struct access *
access_create(void)
{
	return (calloc(1, sizeof(struct access)));
}

void
access_rule_clear(struct access_rule *r)
{
	size_t	i;

	free(r->ranges);
	r->ranges = NULL;
	r->nranges = r->cap = 0;
	for (i = 0; i < r->ncursors; i++)
		free(r->cursors[i]);
	free(r->cursors);
	r->cursors = NULL;
	r->ncursors = 0;
	r->any_cursor = 0;
}

void
access_free(struct access *acl)
{
	size_t	i;

	if (acl == NULL)
		return;
	for (i = 0; i < acl->nrules; i++)
		access_rule_clear(&acl->rules[i]);
	free(acl->rules);
	free(acl);
}

static int
access_range_cmp(const void *a, const void *b)
{
	const struct access_range	*x = a, *y = b;

	if (x->lo != y->lo)
		return (x->lo < y->lo ? -1 : 1);
	return (x->hi < y->hi ? -1 : x->hi > y->hi);
}

/* Sorts the ranges and merges those that overlap or touch. */
static void
access_rule_normalize(struct access_rule *r)
{
	size_t	i, o = 0;

	if (r->nranges == 0)
		return;
	qsort(r->ranges, r->nranges, sizeof *r->ranges, access_range_cmp);
	for (i = 1; i < r->nranges; i++) {
		if (r->ranges[o].hi == UINT32_MAX ||
		    r->ranges[i].lo <= r->ranges[o].hi + 1) {
			if (r->ranges[i].hi > r->ranges[o].hi)
				r->ranges[o].hi = r->ranges[i].hi;
		} else
			r->ranges[++o] = r->ranges[i];
	}
	r->nranges = o + 1;
}

int
access_add(struct access *acl, struct access_rule *r)
{
	struct access_rule	*n;
	size_t			 ncap;

	if (acl->nrules == acl->cap) {
		ncap = acl->cap == 0 ? 8 : acl->cap * 2;
		if ((n = realloc(acl->rules, ncap * sizeof *n)) == NULL)
			return (-1);
		acl->rules = n;
		acl->cap = ncap;
	}
	access_rule_normalize(r);
	acl->rules[acl->nrules++] = *r;
	memset(r, 0, sizeof *r);
	return (0);
}

/* Strips spaces at both ends of s[0..*n). */
static const char *
access_trim(const char *s, size_t *n)
{
	while (*n > 0 && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		(*n)--;
	}
	while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
		(*n)--;
	return (s);
}

static int
access_word_is(const char *s, size_t n, const char *word)
{
	return (strlen(word) == n && memcmp(s, word, n) == 0);
}

/* Copies text for a message: bounded, control bytes replaced. */
static void
access_quote(const char *s, size_t n, char *buf, size_t size)
{
	size_t	i, o = 0;

	for (i = 0; i < n && o + 4 < size; i++) {
		unsigned char	c = (unsigned char)s[i];

		buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (i < n && o + 4 <= size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

/* Calls fn on every comma-separated item of s; stops at the first error. */
static int
access_each_item(const char *s, size_t n,
    int (*fn)(void *, const char *, size_t, char *, size_t), void *arg,
    char *why, size_t whysz)
{
	const char	*comma, *item;
	size_t		 len;

	for (;;) {
		comma = memchr(s, ',', n);
		len = comma != NULL ? (size_t)(comma - s) : n;
		item = access_trim(s, &len);
		if (len == 0) {
			snprintf(why, whysz, "empty item in a list");
			return (-1);
		}
		if (fn(arg, item, len, why, whysz) != 0)
			return (-1);
		if (comma == NULL)
			return (0);
		n -= (size_t)(comma - s) + 1;
		s = comma + 1;
	}
}

static int
access_op_item(void *arg, const char *s, size_t n, char *why, size_t whysz)
{
	unsigned	*ops = arg;
	char		 q[48];
	int		 i;

	if (access_word_is(s, n, "any")) {
		*ops |= ACCESS_ALL_OPS;
		return (0);
	}
	for (i = 0; i < ACCESS_NOPS; i++) {
		if (access_word_is(s, n, access_names[i])) {
			*ops |= ACCESS_BIT(i);
			return (0);
		}
	}
	access_quote(s, n, q, sizeof q);
	snprintf(why, whysz, "unknown operation \"%s\" (expected one of: "
	    "append, read, sync, seal, rotate, truncate, keys, stats, cursor, "
	    "any)", q);
	return (-1);
}

int
access_parse_ops(const char *s, size_t n, unsigned *ops, char *why,
    size_t whysz)
{
	return (access_each_item(s, n, access_op_item, ops, why, whysz));
}

/* One item of cursors:: "any", a name, or a name prefix and "*". */
static int
access_cursor_item(void *arg, const char *s, size_t n, char *why,
    size_t whysz)
{
	struct access_rule	 *r = arg;
	char			**nc, q[80];
	size_t			  len = n;

	if (access_word_is(s, n, "any")) {
		r->any_cursor = 1;
		return (0);
	}
	if (len > 0 && s[len - 1] == '*')
		len--;
	if ((len > 0 || n == len) && !wire_cursor_name_valid(s, len)) {
		access_quote(s, n, q, sizeof q);
		snprintf(why, whysz, "\"%s\" is not a cursor name or a prefix "
		    "and \"*\" (names are 1..64 bytes of [A-Za-z0-9._-], the "
		    "first a letter or a digit; \"any\" allows every name)", q);
		return (-1);
	}
	if (len == 0) {		/* "*" alone */
		r->any_cursor = 1;
		return (0);
	}
	if ((nc = realloc(r->cursors, (r->ncursors + 1) * sizeof *nc)) == NULL) {
		snprintf(why, whysz, "out of memory");
		return (-1);
	}
	r->cursors = nc;
	if ((nc[r->ncursors] = strndup(s, n)) == NULL) {
		snprintf(why, whysz, "out of memory");
		return (-1);
	}
	r->ncursors++;
	return (0);
}

int
access_parse_cursors(struct access_rule *r, const char *s, size_t n,
    char *why, size_t whysz)
{
	return (access_each_item(s, n, access_cursor_item, r, why, whysz));
}

/* A decimal number 0..max with nothing else. 0 or -1. */
static int
access_number(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (n == 0 || n > 20)
		return (-1);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return (-1);
	}
	*out = v;
	return (0);
}

static int
access_tenant_item(void *arg, const char *s, size_t n, char *why,
    size_t whysz)
{
	struct access_rule	*r = arg;
	struct access_range	*nr;
	const char		*dash, *a, *b;
	uint64_t		 lo, hi;
	size_t			 alen, blen, ncap;
	char			 q[48];

	if (access_word_is(s, n, "any")) {
		r->any_tenant = 1;
		return (0);
	}
	dash = memchr(s, '-', n);
	a = s;
	alen = dash != NULL ? (size_t)(dash - s) : n;
	a = access_trim(a, &alen);
	if (access_number(a, alen, UINT32_MAX, &lo) != 0)
		goto bad;
	hi = lo;
	if (dash != NULL) {
		blen = n - (size_t)(dash - s) - 1;
		b = access_trim(dash + 1, &blen);
		if (access_number(b, blen, UINT32_MAX, &hi) != 0)
			goto bad;
		if (hi < lo) {
			access_quote(s, n, q, sizeof q);
			snprintf(why, whysz, "tenant range \"%s\" ends before it "
			    "starts", q);
			return (-1);
		}
	}
	if (r->nranges == r->cap) {
		ncap = r->cap == 0 ? 4 : r->cap * 2;
		if ((nr = realloc(r->ranges, ncap * sizeof *nr)) == NULL) {
			snprintf(why, whysz, "out of memory");
			return (-1);
		}
		r->ranges = nr;
		r->cap = ncap;
	}
	r->ranges[r->nranges++] = (struct access_range){ (uint32_t)lo,
	    (uint32_t)hi };
	return (0);

bad:
	access_quote(s, n, q, sizeof q);
	snprintf(why, whysz, "bad tenant \"%s\": expected a tenant id "
	    "(0..4294967295), a range such as 10-20, or any", q);
	return (-1);
}

int
access_parse_tenants(struct access_rule *r, const char *s, size_t n,
    char *why, size_t whysz)
{
	return (access_each_item(s, n, access_tenant_item, r, why, whysz));
}

static int
access_all_digits(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (0);
	}
	return (n > 0);
}

int
access_resolve(int is_group, const char *s, size_t n, uint32_t *id,
    char *why, size_t whysz)
{
	struct passwd	*pw;
	struct group	*gr;
	uint64_t	 v;
	char		*name, q[48];
	const char	*what = is_group ? "group" : "user";

	s = access_trim(s, &n);
	if (n == 0 || memchr(s, '\0', n) != NULL) {
		snprintf(why, whysz, "expected a %s name or id", what);
		return (-1);
	}
	/* (uid_t)-1 stands for "unknown" and never matches a rule. */
	if (access_number(s, n, UINT32_MAX - 1, &v) == 0) {
		*id = (uint32_t)v;
		return (0);
	}
	if (access_all_digits(s, n)) {
		snprintf(why, whysz, "%s id out of range: must be "
		    "0..4294967294", what);
		return (-1);
	}
	if ((name = strndup(s, n)) == NULL) {
		snprintf(why, whysz, "out of memory");
		return (-1);
	}
	errno = 0;
	if (is_group) {
		gr = getgrnam(name);
		if (gr != NULL)
			*id = gr->gr_gid;
		pw = NULL;
	} else {
		pw = getpwnam(name);
		if (pw != NULL)
			*id = pw->pw_uid;
		gr = NULL;
	}
	free(name);
	if (pw == NULL && gr == NULL) {
		access_quote(s, n, q, sizeof q);
		if (errno != 0 && errno != ENOENT && errno != ESRCH)
			snprintf(why, whysz, "cannot look up %s %s: %s", what,
			    q, strerror(errno));
		else
			snprintf(why, whysz, "no such %s: %s", what, q);
		return (-1);
	}
	return (0);
}

int
access_is_superuser(uid_t uid)
{
	static uid_t	self = (uid_t)-1;

	/* Checked for every record a read streams: ask the kernel once. */
	if (self == (uid_t)-1)
		self = geteuid();
	return (uid == 0 || uid == self);
}

/* Does the rule name this peer, by uid or by one of its groups? */
static int
access_rule_matches(const struct access_rule *r, const struct access_peer *p)
{
	unsigned	i;

	if (!r->is_group)
		return (p->uid != (uid_t)-1 && r->id == p->uid);
	if (p->gid != (gid_t)-1 && r->id == p->gid)
		return (1);
	for (i = 0; i < p->ngroups; i++) {
		if (p->groups[i] == r->id)
			return (1);
	}
	return (0);
}

/* Binary search of the rule's ranges. */
static int
access_rule_has_tenant(const struct access_rule *r, uint32_t tenant)
{
	size_t	lo = 0, hi = r->nranges, mid;

	if (r->any_tenant)
		return (1);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (tenant < r->ranges[mid].lo)
			hi = mid;
		else if (tenant > r->ranges[mid].hi)
			lo = mid + 1;
		else
			return (1);
	}
	return (0);
}

int
access_allows(const struct access *acl, const struct access_peer *p,
    enum access_op op, uint32_t tenant)
{
	const struct access_rule	*r;
	size_t				 i;

	if (access_is_superuser(p->uid))
		return (1);
	if (acl == NULL || (unsigned)op >= ACCESS_NOPS)
		return (0);
	for (i = 0; i < acl->nrules; i++) {
		r = &acl->rules[i];
		if ((r->ops & ACCESS_BIT(op)) == 0 || !access_rule_matches(r, p))
			continue;
		if ((ACCESS_BIT(op) & ACCESS_TENANT_OPS) == 0 ||
		    access_rule_has_tenant(r, tenant))
			return (1);
	}
	return (0);
}

/* 1 when one of the peer's rules grants cursor and names name, exactly or
   by a prefix ("etl-*"). */
int
access_allows_cursor(const struct access *acl, const struct access_peer *p,
    const char *name, size_t len)
{
	const struct access_rule	*r;
	const char			*pat;
	size_t				 i, j, pl;

	if (access_is_superuser(p->uid))
		return (1);
	if (acl == NULL)
		return (0);
	for (i = 0; i < acl->nrules; i++) {
		r = &acl->rules[i];
		if ((r->ops & ACCESS_BIT(ACCESS_CURSOR)) == 0 ||
		    !access_rule_matches(r, p))
			continue;
		if (r->any_cursor)
			return (1);
		for (j = 0; j < r->ncursors; j++) {
			pat = r->cursors[j];
			pl = strlen(pat);
			if (pl > 0 && pat[pl - 1] == '*') {
				if (len >= pl - 1 && memcmp(name, pat, pl - 1)
				    == 0)
					return (1);
			} else if (pl == len && memcmp(name, pat, len) == 0)
				return (1);
		}
	}
	return (0);
}

enum access_scope
access_read_scope(const struct access *acl, const struct access_peer *p)
{
	const struct access_rule	*r;
	enum access_scope		 scope = ACCESS_SCOPE_NONE;
	size_t				 i;

	if (access_is_superuser(p->uid))
		return (ACCESS_SCOPE_ALL);
	if (acl == NULL)
		return (ACCESS_SCOPE_NONE);
	for (i = 0; i < acl->nrules; i++) {
		r = &acl->rules[i];
		if ((r->ops & ACCESS_BIT(ACCESS_READ)) == 0 ||
		    !access_rule_matches(r, p))
			continue;
		if (r->any_tenant)
			return (ACCESS_SCOPE_ALL);
		if (r->nranges > 0)
			scope = ACCESS_SCOPE_SOME;
	}
	return (scope);
}

int
access_op_of_wire(uint8_t wire_op, enum access_op *op)
{
	switch (wire_op) {
	case WIRE_OP_APPEND:	*op = ACCESS_APPEND; return (0);
	case WIRE_OP_READ:	*op = ACCESS_READ; return (0);
	case WIRE_OP_SYNC:	*op = ACCESS_SYNC; return (0);
	case WIRE_OP_SEAL:	*op = ACCESS_SEAL; return (0);
	case WIRE_OP_ROTATE:	*op = ACCESS_ROTATE; return (0);
	case WIRE_OP_TRUNCATE:	*op = ACCESS_TRUNCATE; return (0);
	case WIRE_OP_STATS:	*op = ACCESS_STATS; return (0);
	case WIRE_OP_VERIFY:	*op = ACCESS_STATS; return (0);	/* reads, changes nothing */
	case WIRE_OP_RELOAD:	*op = ACCESS_KEYS; return (0);	/* key rotation */
	}
	return (-1);	/* hello, ping, read-cancel: always allowed */
}

int
access_peer_groups(int fd, gid_t **groups, unsigned *n)
{
	gid_t		 small[32], *g;
	socklen_t	 len = sizeof small;
	size_t		 count;

	*groups = NULL;
	*n = 0;
	g = small;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) != 0) {
		if (errno != ERANGE)
			return (-1);
		/* len now holds the size needed. */
		if (len > ACCESS_MAX_GROUPS * sizeof(gid_t))
			len = ACCESS_MAX_GROUPS * sizeof(gid_t);
		if ((g = malloc(len)) == NULL)
			return (-1);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) != 0) {
			free(g);
			return (-1);
		}
	}
	count = len / sizeof(gid_t);
	if (count == 0) {
		if (g != small)
			free(g);
		return (0);
	}
	if (g == small) {
		if ((g = malloc(count * sizeof(gid_t))) == NULL)
			return (-1);
		memcpy(g, small, count * sizeof(gid_t));
	}
	*groups = g;
	*n = (unsigned)count;
	return (0);
}

void
access_describe(const struct access *acl, char *buf, size_t len)
{
	unsigned long	self = (unsigned long)geteuid();

	if (acl == NULL)
		snprintf(buf, len, "access: no access list: only root and uid "
		    "%lu (walld's own) may use walld", self);
	else
		snprintf(buf, len, "access: %zu rule%s in force; root and uid "
		    "%lu (walld's own) may do anything", acl->nrules,
		    acl->nrules == 1 ? "" : "s", self);
}
