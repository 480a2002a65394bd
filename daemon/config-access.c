/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config-access.c: the config file's access: section, a list of rules read
 * into a struct access (access.c holds the rules' meaning and the syntax of
 * operations and tenants; this file, the YAML shape and its errors).
 */
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "access.h"
#include "config.h"
#include "config-int.h"

/*
 * The access section: a list of rules, each a mapping
 *
 *   - user: NAME|UID   (or group: NAME|GID)
 *     ops: [append, read, ...] | any
 *     tenants: [1, 5, 10-20] | any   (needed when ops has append or read)
 *     cursors: [name, prefix-*] | any (with ops cursor; none: any)
 *
 * Names are resolved now (unknown ones are errors); access.c holds the
 * syntax of operations and tenants.
 */
typedef int (*config_item_fn)(void *, const char *, size_t, char *, size_t);

static int
config_ops_item(void *arg, const char *s, size_t n, char *why, size_t whysz)
{
	return (access_parse_ops(s, n, arg, why, whysz));
}

static int
config_cursors_item(void *arg, const char *s, size_t n, char *why,
    size_t whysz)
{
	return (access_parse_cursors(arg, s, n, why, whysz));
}

static int
config_tenants_item(void *arg, const char *s, size_t n, char *why,
    size_t whysz)
{
	return (access_parse_tenants(arg, s, n, why, whysz));
}

/* Hands one scalar to fn; reports its error at the scalar. */
static int
config_access_scalar(struct config_loader *l, yaml_event_t *ev,
    const char *where, config_item_fn fn, void *arg)
{
	char	why[256];

	if (config_is_null(ev))
		return (config_error(l, ev->start_mark, where, "missing value"));
	if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length) != NULL)
		return (config_error(l, ev->start_mark, where,
		    "value contains a NUL byte"));
	if (fn(arg, (const char *)ev->data.scalar.value,
	    ev->data.scalar.length, why, sizeof why) != 0)
		return (config_error(l, ev->start_mark, where, "%s", why));
	return (0);
}

/* Reads a value that is one scalar or a list of scalars, item by item;
   ev is its first event (deleted here). */
static int
config_access_items(struct config_loader *l, yaml_event_t *ev,
    const char *where, config_item_fn fn, void *arg)
{
	yaml_mark_t	start = ev->start_mark;
	int		rc, n = 0;

	if (ev->type == YAML_SCALAR_EVENT) {
		rc = config_access_scalar(l, ev, where, fn, arg);
		yaml_event_delete(ev);
		return (rc);
	}
	if (ev->type != YAML_SEQUENCE_START_EVENT) {
		rc = config_error(l, ev->start_mark, where, "expected a value "
		    "or a list of values, got %s", config_event_what(ev));
		yaml_event_delete(ev);
		return (rc);
	}
	yaml_event_delete(ev);
	for (;;) {
		if (config_next(l, ev) != 0)
			return (-1);
		if (ev->type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(ev);
			break;
		}
		if (ev->type != YAML_SCALAR_EVENT)
			rc = config_error(l, ev->start_mark, where, "expected a "
			    "single value in the list, got %s",
			    config_event_what(ev));
		else
			rc = config_access_scalar(l, ev, where, fn, arg);
		yaml_event_delete(ev);
		if (rc != 0)
			return (rc);
		n++;
	}
	if (n == 0)
		return (config_error(l, start, where, "empty list"));
	return (0);
}

static const char *const config_rule_keys[] = { "user", "group", "ops",
    "tenants", "cursors" };
#define CONFIG_RULE_NKEYS	5

/* Reads one rule (its mapping start is consumed) into acl. */
static int
config_load_rule(struct config_loader *l, struct access *acl, size_t idx,
    yaml_mark_t start)
{
	struct access_rule	 r;
	yaml_event_t		 ev;
	yaml_mark_t		 seen[CONFIG_RULE_NKEYS];
	int			 have[CONFIG_RULE_NKEYS] = { 0 };
	char			 where[96], name[64], why[256];
	size_t			 i;
	int			 rc = -1;

	memset(&r, 0, sizeof r);
	for (;;) {
		if (config_next(l, &ev) != 0)
			goto out;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		snprintf(where, sizeof where, "access[%zu]", idx);
		if (ev.type != YAML_SCALAR_EVENT) {
			config_error(l, ev.start_mark, where, "expected a key "
			    "name, got %s", config_event_what(&ev));
			yaml_event_delete(&ev);
			goto out;
		}
		for (i = 0; i < CONFIG_RULE_NKEYS; i++) {
			if (config_scalar_is(&ev, config_rule_keys[i]))
				break;
		}
		if (i == CONFIG_RULE_NKEYS) {
			config_quote((const char *)ev.data.scalar.value,
			    ev.data.scalar.length, name, sizeof name);
			snprintf(where, sizeof where, "access[%zu].%s", idx,
			    name);
			config_error(l, ev.start_mark, where, "unknown key "
			    "(expected one of: user, group, ops, tenants, "
			    "cursors)");
			yaml_event_delete(&ev);
			goto out;
		}
		snprintf(where, sizeof where, "access[%zu].%s", idx,
		    config_rule_keys[i]);
		if (have[i]) {
			config_error(l, ev.start_mark, where, "duplicate key "
			    "(first at line %zu column %zu)", seen[i].line + 1,
			    seen[i].column + 1);
			yaml_event_delete(&ev);
			goto out;
		}
		if (i <= 1 && have[1 - i]) {
			config_error(l, ev.start_mark, where, "a rule names a "
			    "user or a group, not both (%s at line %zu column "
			    "%zu)", config_rule_keys[1 - i],
			    seen[1 - i].line + 1, seen[1 - i].column + 1);
			yaml_event_delete(&ev);
			goto out;
		}
		have[i] = 1;
		seen[i] = ev.start_mark;
		yaml_event_delete(&ev);

		if (config_next(l, &ev) != 0)
			goto out;
		if (i <= 1) {	/* user or group: one name */
			if (ev.type != YAML_SCALAR_EVENT)
				rc = config_error(l, ev.start_mark, where,
				    "expected a single value, got %s",
				    config_event_what(&ev));
			else if (config_is_null(&ev))
				rc = config_error(l, ev.start_mark, where,
				    "missing value");
			else if (access_resolve(i == 1,
			    (const char *)ev.data.scalar.value,
			    ev.data.scalar.length, &r.id, why, sizeof why) != 0)
				rc = config_error(l, ev.start_mark, where, "%s",
				    why);
			else
				rc = 0;
			r.is_group = i == 1;
			yaml_event_delete(&ev);
		} else if (i == 2)
			rc = config_access_items(l, &ev, where, config_ops_item,
			    &r.ops);
		else if (i == 3)
			rc = config_access_items(l, &ev, where,
			    config_tenants_item, &r);
		else
			rc = config_access_items(l, &ev, where,
			    config_cursors_item, &r);
		if (rc != 0)
			goto out;
		rc = -1;
	}

	snprintf(where, sizeof where, "access[%zu]", idx);
	/* cursor without cursors: every name. */
	if (!have[4])
		r.any_cursor = 1;
	if (!have[0] && !have[1])
		config_error(l, start, where, "names no user or group");
	else if (!have[2])
		config_error(l, start, where, "lists no ops");
	else if ((r.ops & ACCESS_TENANT_OPS) != 0 && !have[3])
		config_error(l, start, where, "grants append or read but "
		    "lists no tenants (tenants: any allows every tenant)");
	else if (have[4] && (r.ops & ACCESS_BIT(ACCESS_CURSOR)) == 0)
		config_error(l, start, where, "lists cursors but does not "
		    "grant cursor (ops: [cursor, ...])");
	else if (access_add(acl, &r) != 0)
		config_error(l, start, where, "out of memory");
	else
		rc = 0;
out:
	access_rule_clear(&r);
	return (rc);
}

/* Reads the access section's value: a list of rules (or nothing). */
int
config_load_access(struct config_loader *l)
{
	struct access	*acl;
	yaml_event_t	 ev;
	char		 where[32];
	size_t		 idx = 0;
	int		 rc;

	if (config_next(l, &ev) != 0)
		return (-1);
	if (ev.type != YAML_SEQUENCE_START_EVENT && !config_is_null(&ev)) {
		rc = config_error(l, ev.start_mark, "access", "expected a list "
		    "of rules, got %s", ev.type == YAML_SCALAR_EVENT ?
		    "a single value" : config_event_what(&ev));
		yaml_event_delete(&ev);
		return (rc);
	}
	if ((acl = access_create()) == NULL) {
		rc = config_error(l, ev.start_mark, "access", "out of memory");
		yaml_event_delete(&ev);
		return (rc);
	}
	if (ev.type == YAML_SEQUENCE_START_EVENT) {	/* else "access:" */
		for (;;) {
			yaml_event_delete(&ev);
			if (config_next(l, &ev) != 0)
				goto fail;
			if (ev.type == YAML_SEQUENCE_END_EVENT)
				break;
			snprintf(where, sizeof where, "access[%zu]", idx);
			if (ev.type != YAML_MAPPING_START_EVENT) {
				config_error(l, ev.start_mark, where, "expected "
				    "a rule (a mapping of user or group, ops, "
				    "tenants), got %s", ev.type ==
				    YAML_SCALAR_EVENT ? "a single value" :
				    config_event_what(&ev));
				yaml_event_delete(&ev);
				goto fail;
			}
			if (config_load_rule(l, acl, idx, ev.start_mark) != 0) {
				yaml_event_delete(&ev);
				goto fail;
			}
			idx++;
		}
	}
	yaml_event_delete(&ev);
	l->cfg->access = acl;
	return (0);
fail:
	access_free(acl);
	return (-1);
}
