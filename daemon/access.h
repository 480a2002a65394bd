/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access.h: who may do what. The configuration's `access:` list compiled
 * into rules (a user or a group, a set of operations, a set of tenants),
 * and the check walld makes for every request against the credentials the
 * kernel reported for the connection (docs/SECURITY.md).
 */
#ifndef WALD_ACCESS_H
#define WALD_ACCESS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* Operations a rule grants. HELLO, PING and READ_CANCEL need none. */
enum access_op {
	ACCESS_APPEND,
	ACCESS_READ,
	ACCESS_SYNC,
	ACCESS_SEAL,
	ACCESS_ROTATE,
	ACCESS_TRUNCATE,
	ACCESS_KEYS,		/* key rotation */
	ACCESS_STATS,
	ACCESS_CURSOR,		/* create, commit, drop a cursor (named in
				   the rule's cursors:); get and list are
				   read's */
	ACCESS_NOPS
};
#define ACCESS_BIT(op)		(1u << (op))
#define ACCESS_ALL_OPS		((1u << ACCESS_NOPS) - 1)
/* The operations checked against a tenant; the others have none. */
#define ACCESS_TENANT_OPS	(ACCESS_BIT(ACCESS_APPEND) | ACCESS_BIT(ACCESS_READ))

/* Tenants lo..hi, inclusive. */
struct access_range {
	uint32_t	lo;
	uint32_t	hi;
};

/* One entry of the list: a user or a group, its operations and tenants. */
struct access_rule {
	int			 is_group;
	uint32_t		 id;		/* uid or gid */
	unsigned		 ops;		/* ACCESS_BIT()s */
	int			 any_tenant;
	struct access_range	*ranges;	/* sorted, disjoint */
	size_t			 nranges;
	size_t			 cap;
	int			 any_cursor;	/* cursors: any */
	char			**cursors;	/* names; "p*": a prefix */
	size_t			 ncursors;
};

/* The compiled list. No list at all (NULL) is the default policy. */
struct access {
	struct access_rule	*rules;
	size_t			 nrules;
	size_t			 cap;
};

/* A connection's peer as the kernel reported it (SO_PEERCRED and
   SO_PEERGROUPS). */
struct access_peer {
	uid_t		 uid;
	gid_t		 gid;
	const gid_t	*groups;
	unsigned	 ngroups;
};

/* How much of the log a peer may read. */
enum access_scope { ACCESS_SCOPE_NONE, ACCESS_SCOPE_SOME, ACCESS_SCOPE_ALL };

struct access	*access_create(void);
void		 access_free(struct access *);
/* Appends a rule; the list takes its ranges (the rule is emptied). 0 or
   -1 (out of memory; the rule is left to the caller). */
int		 access_add(struct access *, struct access_rule *);
/* Frees what a rule that was not added holds. */
void		 access_rule_clear(struct access_rule *);

/*
 * Parsing pieces of the configuration; each takes text of n bytes (no NUL
 * needed) and returns 0, or -1 with the reason in why.
 */
/* "append", "read", ..., or "any"; commas separate several. */
int	access_parse_ops(const char *s, size_t n, unsigned *ops, char *why,
	    size_t whysz);
/* "7", "10-20", or "any"; commas separate several. Adds to the rule. */
int	access_parse_tenants(struct access_rule *, const char *s, size_t n,
	    char *why, size_t whysz);
/* Cursor names: "any", a name, or a prefix ending in "*" ("etl-*");
   commas separate several. Adds to the rule. */
int	access_parse_cursors(struct access_rule *, const char *s, size_t n,
	    char *why, size_t whysz);
/* A user (group) name or numeric id, resolved now. */
int	access_resolve(int is_group, const char *s, size_t n, uint32_t *id,
	    char *why, size_t whysz);

/* 1 when the peer may do op (on tenant, for append and read). */
int	access_allows(const struct access *, const struct access_peer *,
	    enum access_op, uint32_t tenant);
/* 1 when the peer may create, commit and drop the cursor name. */
int	access_allows_cursor(const struct access *, const struct access_peer *,
	    const char *name, size_t len);
/* Whether the peer may read every tenant, some, or none. */
enum access_scope access_read_scope(const struct access *,
	    const struct access_peer *);
/* root and walld's own uid may do anything, whatever the list says. */
int	access_is_superuser(uid_t);

/* The operation a request needs: 0 and *op, or -1 when it needs none. */
int	access_op_of_wire(uint8_t wire_op, enum access_op *op);
const char *access_op_name(enum access_op);

/* The peer's supplementary groups (SO_PEERGROUPS) into a malloc'd array.
   0, or -1 with errno; *groups may be NULL with *n 0. */
int	access_peer_groups(int fd, gid_t **groups, unsigned *n);

/* One line describing the policy in force, for the log. */
void	access_describe(const struct access *, char *buf, size_t len);

#endif
