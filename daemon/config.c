/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c: walld's settings. One table (config_keys) describes every key:
 * its section, name, type, field, range and default. The defaults, the YAML
 * loader and its error messages are all driven by that table, so a new
 * setting is a field in struct config plus one row here.
 */
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "access.h"
#include "cause.h"
#include "config.h"
#include "config-int.h"
#include "log.h"
#include "segment.h"
#include "wal.h"

#define CONFIG_MAX_FILE	(1u << 20)	/* a bigger config file is an error */

#define KIB	(1ull << 10)
#define MIB	(1ull << 20)
#define GIB	(1ull << 30)
#define TIB	(1ull << 40)
#define SECOND	1000000ull		/* durations are kept in microseconds */

/* Longest socket path that fits sockaddr_un, without the NUL. */
#define SUN_PATH_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

enum config_type {
	CONFIG_PATH,		/* string, length min..max (min 1: required) */
	CONFIG_NAME,		/* string or empty/null, stored as NULL */
	CONFIG_MODE,		/* permission bits, always octal */
	CONFIG_SIZE,		/* bytes, optional unit */
	CONFIG_DURATION,	/* microseconds, unit required unless 0 */
	CONFIG_COUNT,		/* plain decimal integer */
	CONFIG_ENUM,		/* one of the words in names */
	CONFIG_LIST,		/* a string or a list of strings, kept as
				   one string, comma-separated; NULL: none */
};

struct config_name {
	const char	*name;
	int		 value;
};

struct config_key {
	const char	*section;
	const char	*key;
	enum config_type type;
	size_t		 offset;	/* of the field in struct config */
	size_t		 size;		/* of the field: 4 or 8 for numbers */
	uint64_t	 min;		/* numbers: range; strings: length */
	uint64_t	 max;
	const char	*def;		/* default in file syntax; NULL: unset */
	const struct config_name *names;	/* CONFIG_ENUM only */
};

static const struct config_name config_direct_names[] = {
	{ "auto", WAL_DIRECT_AUTO },
	{ "on", WAL_DIRECT_ON },
	{ "off", WAL_DIRECT_OFF },
	{ NULL, 0 }
};

static const struct config_name config_ack_names[] = {
	{ "local", CONFIG_ACK_LOCAL },
	{ "replicated", CONFIG_ACK_REPLICATED },
	{ NULL, 0 }
};

static const struct config_name config_bool_names[] = {
	{ "false", 0 },
	{ "true", 1 },
	{ NULL, 0 }
};

static const struct config_name config_level_names[] = {
	{ "error", LOG_LVL_ERR },
	{ "warning", LOG_LVL_WARN },
	{ "info", LOG_LVL_INFO },
	{ "debug", LOG_LVL_DEBUG },
	{ NULL, 0 }
};

#define FIELD(f)	offsetof(struct config, f), sizeof(((struct config *)0)->f)

/*
 * Every setting. Rows of a section need not be adjacent, but keep them so:
 * the order here is the order of the "expected one of" lists in errors.
 * docs/CONFIG.md and conf/walld.yaml must follow this table.
 */
static const struct config_key config_keys[] = {
	{ "socket", "path", CONFIG_PATH, FIELD(socket_path),
	  1, SUN_PATH_MAX, "/run/walld/walld.sock", NULL },
	{ "socket", "mode", CONFIG_MODE, FIELD(socket_mode),
	  0, 0777, "0660", NULL },
	{ "socket", "owner", CONFIG_NAME, FIELD(socket_owner),
	  0, 255, NULL, NULL },
	{ "socket", "group", CONFIG_NAME, FIELD(socket_group),
	  0, 255, NULL, NULL },

	{ "storage", "data_dir", CONFIG_PATH, FIELD(data_dir),
	  1, PATH_MAX - 1, "/var/lib/walld", NULL },
	{ "storage", "segment_size", CONFIG_SIZE, FIELD(segment_size),
	  WAL_MIN_SEGMENT, GIB, "64MiB", NULL },
	{ "storage", "direct_io", CONFIG_ENUM, FIELD(direct_io),
	  0, 0, "auto", config_direct_names },
	{ "storage", "recycle_segments", CONFIG_COUNT, FIELD(recycle_segments),
	  0, 1024, "4", NULL },

	{ "producers", "max", CONFIG_COUNT, FIELD(producers_max),
	  1, 1000000, "4096", NULL },
	{ "producers", "window", CONFIG_COUNT, FIELD(producer_window),
	  1, 4096, "32", NULL },

	{ "group_commit", "max_batch_bytes", CONFIG_SIZE, FIELD(max_batch_bytes),
	  64 * KIB, 256 * MIB, "8MiB", NULL },
	{ "group_commit", "commit_delay", CONFIG_DURATION, FIELD(commit_delay_us),
	  0, SECOND, "0", NULL },
	{ "group_commit", "commit_siblings", CONFIG_COUNT, FIELD(commit_siblings),
	  0, 100000, "0", NULL },

	{ "limits", "max_record", CONFIG_SIZE, FIELD(max_record),
	  1, REC_MAX_PAYLOAD, "1MiB", NULL },
	{ "limits", "max_connections", CONFIG_COUNT, FIELD(max_connections),
	  1, 1000000, "16384", NULL },
	{ "limits", "max_inflight_per_connection", CONFIG_SIZE,
	  FIELD(max_conn_inflight), 64 * KIB, GIB, "4MiB", NULL },
	{ "limits", "max_inflight_total", CONFIG_SIZE, FIELD(max_total_inflight),
	  MIB, 64 * GIB, "64MiB", NULL },
	{ "limits", "max_output_per_connection", CONFIG_SIZE,
	  FIELD(max_conn_output), 64 * KIB, GIB, "8MiB", NULL },

	{ "cursors", "max", CONFIG_COUNT, FIELD(cursors_max),
	  1, 65536, "1024", NULL },

	{ "retention", "cursors", CONFIG_ENUM, FIELD(retention_cursors),
	  0, 0, "false", config_bool_names },
	{ "retention", "max_bytes", CONFIG_SIZE, FIELD(retention_max_bytes),
	  0, 1024 * TIB, "0", NULL },
	{ "retention", "max_age", CONFIG_DURATION, FIELD(retention_max_age_us),
	  0, 36500ull * 86400 * SECOND, "0", NULL },
	{ "retention", "interval", CONFIG_DURATION,
	  FIELD(retention_interval_us), 100000, 3600 * SECOND, "10s", NULL },

	{ "scrub", "rate", CONFIG_SIZE, FIELD(scrub_rate),
	  0, 16 * GIB, "0", NULL },
	{ "scrub", "interval", CONFIG_DURATION, FIELD(scrub_interval_us),
	  SECOND, 365ull * 86400 * SECOND, "24h", NULL },
	{ "scrub", "at_start", CONFIG_ENUM, FIELD(scrub_at_start),
	  0, 0, "false", config_bool_names },

	{ "logging", "level", CONFIG_ENUM, FIELD(log_level),
	  0, 0, "info", config_level_names },

	{ "metrics", "file", CONFIG_NAME, FIELD(metrics_file),
	  0, PATH_MAX - 1, NULL, NULL },
	{ "metrics", "interval", CONFIG_DURATION, FIELD(metrics_interval_us),
	  SECOND, 3600 * SECOND, "10s", NULL },

	{ "archive", "command", CONFIG_NAME, FIELD(archive_command),
	  0, 4095, NULL, NULL },
	{ "archive", "retry_min", CONFIG_DURATION, FIELD(archive_retry_min_us),
	  10000, 3600 * SECOND, "1s", NULL },
	{ "archive", "retry_max", CONFIG_DURATION, FIELD(archive_retry_max_us),
	  10000, 3600 * SECOND, "60s", NULL },
	{ "archive", "timeout", CONFIG_DURATION, FIELD(archive_timeout_us),
	  0, 24 * 3600 * SECOND, "0", NULL },

	{ "encryption", "keyring", CONFIG_NAME, FIELD(keyring),
	  0, PATH_MAX - 1, NULL, NULL },

	{ "replication", "servers", CONFIG_LIST, FIELD(repl_servers),
	  0, 4095, NULL, NULL },
	{ "replication", "stream", CONFIG_PATH, FIELD(repl_stream),
	  1, 255, "WALLD", NULL },
	{ "replication", "subject_prefix", CONFIG_PATH,
	  FIELD(repl_subject_prefix), 1, 127, "walld.log", NULL },
	{ "replication", "replicas", CONFIG_COUNT, FIELD(repl_replicas),
	  1, 5, "3", NULL },
	{ "replication", "ack", CONFIG_ENUM, FIELD(repl_ack),
	  0, 0, "local", config_ack_names },
	{ "replication", "publish_window", CONFIG_COUNT, FIELD(repl_window),
	  1, 65536, "4096", NULL },
	{ "replication", "timeout", CONFIG_DURATION, FIELD(repl_timeout_us),
	  10000, 3600 * SECOND, "5s", NULL },
	{ "replication", "backlog_records", CONFIG_COUNT,
	  FIELD(repl_backlog_records), 1, 1000000000000ull, "1000000", NULL },
	{ "replication", "backlog_bytes", CONFIG_SIZE, FIELD(repl_backlog_bytes),
	  MIB, TIB, "1GiB", NULL },
	{ "replication", "credentials", CONFIG_NAME, FIELD(repl_creds),
	  0, PATH_MAX - 1, NULL, NULL },
	{ "replication", "user", CONFIG_NAME, FIELD(repl_user),
	  0, 255, NULL, NULL },
	{ "replication", "password", CONFIG_NAME, FIELD(repl_password),
	  0, 255, NULL, NULL },
	{ "replication", "token", CONFIG_NAME, FIELD(repl_token),
	  0, 255, NULL, NULL },
	{ "replication", "tls_ca", CONFIG_NAME, FIELD(repl_tls_ca),
	  0, PATH_MAX - 1, NULL, NULL },
};
#define CONFIG_NKEYS	(sizeof config_keys / sizeof config_keys[0])

struct config_unit {
	const char	*name;
	uint64_t	 mult;
};

static const struct config_unit config_size_units[] = {
	{ "", 1 }, { "B", 1 },
	{ "KiB", KIB }, { "MiB", MIB }, { "GiB", GIB }, { "TiB", TIB },
	{ "kB", 1000ull }, { "MB", 1000000ull }, { "GB", 1000000000ull },
	{ "TB", 1000000000000ull },
	{ NULL, 0 }
};

static const struct config_unit config_count_units[] = {
	{ "", 1 },
	{ NULL, 0 }
};

/* No "" entry: a duration needs a unit, except 0 (checked by the parser). */
static const struct config_unit config_duration_units[] = {
	{ "us", 1 }, { "ms", 1000 }, { "s", SECOND }, { "m", 60 * SECOND },
	{ "h", 3600 * SECOND }, { "d", 86400 * SECOND },
	{ NULL, 0 }
};

/* What one config_load has met so far, to report duplicates. */
struct config_seen {
	yaml_mark_t	 key_mark[CONFIG_NKEYS];	/* keys set, by row */
	int		 key[CONFIG_NKEYS];
	yaml_mark_t	 section_mark[CONFIG_NKEYS];	/* sections, by first row */
	int		 section[CONFIG_NKEYS];
	yaml_mark_t	 access_mark;		/* the access: list */
	int		 access;
};

static void *
config_field(struct config *cfg, const struct config_key *k)
{
	return ((char *)cfg + k->offset);
}

static char **
config_string(struct config *cfg, const struct config_key *k)
{
	return (config_field(cfg, k));
}

static int
config_is_string(const struct config_key *k)
{
	return (k->type == CONFIG_PATH || k->type == CONFIG_NAME ||
	    k->type == CONFIG_LIST);
}

/* Stores a number into a field of 4 or 8 bytes (the table's ranges fit). */
static void
config_put(struct config *cfg, const struct config_key *k, uint64_t v)
{
	uint32_t	v32 = (uint32_t)v;

	if (k->size == sizeof v32)
		memcpy(config_field(cfg, k), &v32, sizeof v32);
	else
		memcpy(config_field(cfg, k), &v, sizeof v);
}

/*
 * Parses digits, optional spaces and a unit from units. Returns 0, -1 for
 * bad syntax, -2 for a value beyond 2^64-1. With need_unit, only 0 may
 * stand without a unit.
 */
static int
config_parse_number(const char *s, size_t n, const struct config_unit *units,
    int need_unit, uint64_t *out)
{
	const struct config_unit	*u;
	uint64_t			 v = 0;
	size_t				 i = 0, ulen;
	int				 over = 0;

	if (n == 0 || s[0] < '0' || s[0] > '9')
		return (-1);
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			over = 1;
		else
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	while (i < n && s[i] == ' ')
		i++;
	ulen = n - i;
	if (ulen == 0 && need_unit)
		return (v == 0 && !over ? (*out = 0, 0) : -1);
	for (u = units; u->name != NULL; u++) {
		if (strlen(u->name) == ulen && memcmp(u->name, s + i, ulen) == 0)
			break;
	}
	if (u->name == NULL)
		return (-1);
	if (over || v > UINT64_MAX / u->mult)
		return (-2);
	*out = v * u->mult;
	return (0);
}

/* Octal permission bits: "0660", "660", "0o660". 0, -1 syntax, -2 huge. */
static int
config_parse_mode(const char *s, size_t n, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i = 0;
	int		over = 0;

	if (n >= 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		i = 2;
	if (i == n)
		return (-1);
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return (-1);
		if (v > 07777)
			over = 1;
		else
			v = v * 8 + (uint64_t)(s[i] - '0');
	}
	if (over)
		return (-2);
	*out = v;
	return (0);
}

/* Public form of the size syntax; errno EINVAL or ERANGE on failure. */
int
config_parse_size(const char *s, uint64_t *out)
{
	int	rc;

	if (s == NULL) {
		errno = EINVAL;
		return (-1);
	}
	rc = config_parse_number(s, strlen(s), config_size_units, 0, out);
	if (rc != 0)
		errno = rc == -2 ? ERANGE : EINVAL;
	return (rc == 0 ? 0 : -1);
}

/* Public form of the duration syntax; errno EINVAL or ERANGE on failure. */
int
config_parse_duration(const char *s, uint64_t *out)
{
	int	rc;

	if (s == NULL) {
		errno = EINVAL;
		return (-1);
	}
	rc = config_parse_number(s, strlen(s), config_duration_units, 1, out);
	if (rc != 0)
		errno = rc == -2 ? ERANGE : EINVAL;
	return (rc == 0 ? 0 : -1);
}

/* Writes v as the file would say it: "64MiB", "1s", "0660", "16384". */
static void
config_format(const struct config_key *k, uint64_t v, char *buf, size_t size)
{
	static const struct config_unit	 bin[] = {
		{ "TiB", TIB }, { "GiB", GIB }, { "MiB", MIB }, { "KiB", KIB },
		{ NULL, 0 }
	};
	static const struct config_unit	 dur[] = {
		{ "d", 86400 * SECOND }, { "h", 3600 * SECOND },
		{ "m", 60 * SECOND }, { "s", SECOND }, { "ms", 1000 }, { "us", 1 },
		{ NULL, 0 }
	};
	const struct config_unit	*u = NULL;

	if (k->type == CONFIG_MODE) {
		snprintf(buf, size, "%#" PRIo64, v);
		return;
	}
	if (k->type == CONFIG_SIZE)
		u = bin;
	else if (k->type == CONFIG_DURATION)
		u = dur;
	for (; u != NULL && u->name != NULL && v != 0; u++) {
		if (v % u->mult == 0) {
			snprintf(buf, size, "%" PRIu64 "%s", v / u->mult, u->name);
			return;
		}
	}
	snprintf(buf, size, "%" PRIu64, v);
}

/* Joins the enum words: "auto, on, off". */
static void
config_join_names(const struct config_name *names, char *buf, size_t size)
{
	size_t	used = 0;

	buf[0] = '\0';
	for (; names->name != NULL && used < size; names++) {
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
		    used == 0 ? "" : ", ", names->name);
	}
}

/*
 * Sets one key of cfg from the text of a value (n bytes, no NUL inside;
 * null: YAML's empty/~/null). 0, or -1 with the reason in why. A string
 * field is overwritten, not freed: the caller owns the old pointer (see
 * config_load).
 */
static int
config_set(struct config *cfg, const struct config_key *k, const char *s,
    size_t n, int null, char *why, size_t whysz)
{
	const struct config_name	*nm;
	char				 lo[32], hi[32], list[128];
	uint64_t			 v = 0;
	int				 rc = 0;

	if (config_is_string(k)) {
		if (null || n == 0) {
			if (k->type == CONFIG_PATH) {
				snprintf(why, whysz, "must not be empty");
				return (-1);
			}
			*config_string(cfg, k) = NULL;
			return (0);
		}
		if (n > k->max) {
			snprintf(why, whysz, "too long: at most %" PRIu64
			    " bytes", k->max);
			return (-1);
		}
		if ((*config_string(cfg, k) = strndup(s, n)) == NULL) {
			snprintf(why, whysz, "out of memory");
			return (-1);
		}
		return (0);
	}
	if (null) {
		snprintf(why, whysz, "missing value");
		return (-1);
	}
	switch (k->type) {
	case CONFIG_ENUM:
		for (nm = k->names; nm->name != NULL; nm++) {
			if (strlen(nm->name) == n && memcmp(nm->name, s, n) == 0) {
				memcpy(config_field(cfg, k), &nm->value,
				    sizeof nm->value);
				return (0);
			}
		}
		config_join_names(k->names, list, sizeof list);
		snprintf(why, whysz, "expected one of: %s", list);
		return (-1);
	case CONFIG_MODE:
		if ((rc = config_parse_mode(s, n, &v)) == -1) {
			snprintf(why, whysz, "expected octal permission bits,"
			    " such as \"0660\"");
			return (-1);
		}
		break;
	case CONFIG_SIZE:
		rc = config_parse_number(s, n, config_size_units, 0, &v);
		if (rc == -1) {
			snprintf(why, whysz, "expected a size: an integer and"
			    " an optional unit (B, KiB, MiB, GiB, TiB, kB, MB,"
			    " GB, TB)");
			return (-1);
		}
		break;
	case CONFIG_DURATION:
		rc = config_parse_number(s, n, config_duration_units, 1, &v);
		if (rc == -1) {
			snprintf(why, whysz, "expected a duration: an integer"
			    " and a unit (us, ms, s, m); 0 may stand alone");
			return (-1);
		}
		break;
	case CONFIG_COUNT:
		rc = config_parse_number(s, n, config_count_units, 0, &v);
		if (rc == -1) {
			snprintf(why, whysz, "expected a whole number");
			return (-1);
		}
		break;
	case CONFIG_PATH:
	case CONFIG_NAME:
	case CONFIG_LIST:
		break;
	}
	if (rc == -2 || v < k->min || v > k->max) {
		config_format(k, k->min, lo, sizeof lo);
		config_format(k, k->max, hi, sizeof hi);
		snprintf(why, whysz, "out of range: must be %s..%s", lo, hi);
		return (-1);
	}
	config_put(cfg, k, v);
	return (0);
}

/* Fills cfg from the table's defaults (the old contents are not freed). */
void
config_defaults(struct config *cfg)
{
	const struct config_key	*k;
	char			 why[256];

	memset(cfg, 0, sizeof *cfg);
	for (k = config_keys; k < config_keys + CONFIG_NKEYS; k++) {
		if (k->def == NULL)
			continue;
		if (config_set(cfg, k, k->def, strlen(k->def), 0, why,
		    sizeof why) != 0) {
			/* A bad default is a bug; out of memory is fatal. */
			fprintf(stderr, "fatal: config default %s.%s: %s\n",
			    k->section, k->key, why);
			abort();
		}
	}
}

/* Frees the strings; the fields become NULL, so a second call is harmless. */
void
config_free(struct config *cfg)
{
	const struct config_key	*k;
	char			**sp;

	for (k = config_keys; k < config_keys + CONFIG_NKEYS; k++) {
		if (!config_is_string(k))
			continue;
		sp = config_string(cfg, k);
		free(*sp);
		*sp = NULL;
	}
	access_free(cfg->access);
	cfg->access = NULL;
}


/* Lists the sections ("socket, storage, ...") or one section's keys. */
static void
config_list(const char *section, char *buf, size_t size)
{
	const struct config_key	*k, *j;
	size_t			 used = 0;

	buf[0] = '\0';
	for (k = config_keys; k < config_keys + CONFIG_NKEYS && used < size;
	    k++) {
		if (section != NULL && strcmp(k->section, section) != 0)
			continue;
		if (section == NULL) {
			for (j = config_keys; j < k; j++) {
				if (strcmp(j->section, k->section) == 0)
					break;
			}
			if (j != k)
				continue;
		}
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
		    used == 0 ? "" : ", ", section == NULL ? k->section : k->key);
	}
	/* The access list is a section outside the table. */
	if (section == NULL && used < size)
		snprintf(buf + used, size - used, "%saccess",
		    used == 0 ? "" : ", ");
}

/*
 * A CONFIG_LIST value given as a list (its start event in ev): the items,
 * each a non-empty string without a comma, joined with commas.
 */
static int
config_load_list(struct config_loader *l, const struct config_key *k,
    yaml_event_t *ev, const char *where)
{
	yaml_mark_t	 start = ev->start_mark;
	char		 buf[4096], why[256];
	size_t		 used = 0, n;
	const char	*v;
	int		 rc = 0;

	yaml_event_delete(ev);
	for (;;) {
		if (config_next(l, ev) != 0)
			return (-1);
		if (ev->type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(ev);
			break;
		}
		if (ev->type != YAML_SCALAR_EVENT || config_is_null(ev) ||
		    ev->data.scalar.length == 0) {
			rc = config_error(l, ev->start_mark, where, "expected a "
			    "non-empty value in the list, got %s",
			    config_event_what(ev));
			yaml_event_delete(ev);
			return (rc);
		}
		v = (const char *)ev->data.scalar.value;
		n = ev->data.scalar.length;
		if (memchr(v, ',', n) != NULL || memchr(v, '\0', n) != NULL ||
		    used + n + 1 >= sizeof buf || used + n + 1 > k->max) {
			rc = config_error(l, ev->start_mark, where, "%s",
			    memchr(v, ',', n) != NULL ? "a list item may not "
			    "contain a comma" : "too long");
			yaml_event_delete(ev);
			return (rc);
		}
		if (used > 0)
			buf[used++] = ',';
		memcpy(buf + used, v, n);
		used += n;
		yaml_event_delete(ev);
	}
	if (used == 0)
		return (config_error(l, start, where, "empty list"));
	free(*config_string(l->cfg, k));
	if (config_set(l->cfg, k, buf, used, 0, why, sizeof why) != 0)
		return (config_error(l, start, where, "%s", why));
	return (0);
}

/* Reads the keys of one section up to its mapping's end. */
static int
config_load_keys(struct config_loader *l, const char *section)
{
	const struct config_key	*k;
	yaml_event_t		 ev;
	char			 where[160], name[64], list[512], why[256];
	size_t			 i;
	int			 rc;

	for (;;) {
		if (config_next(l, &ev) != 0)
			return (-1);
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return (0);
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			rc = config_error(l, ev.start_mark, section,
			    "expected a key name, got %s",
			    config_event_what(&ev));
			yaml_event_delete(&ev);
			return (rc);
		}
		for (i = 0; i < CONFIG_NKEYS; i++) {
			k = &config_keys[i];
			if (strcmp(k->section, section) == 0 &&
			    config_scalar_is(&ev, k->key))
				break;
		}
		if (i == CONFIG_NKEYS) {
			config_quote((const char *)ev.data.scalar.value,
			    ev.data.scalar.length, name, sizeof name);
			snprintf(where, sizeof where, "%s.%s", section, name);
			config_list(section, list, sizeof list);
			rc = config_error(l, ev.start_mark, where,
			    "unknown key (expected one of: %s)", list);
			yaml_event_delete(&ev);
			return (rc);
		}
		snprintf(where, sizeof where, "%s.%s", section, k->key);
		if (l->seen->key[i]) {
			rc = config_error(l, ev.start_mark, where,
			    "duplicate key (first at line %zu column %zu)",
			    l->seen->key_mark[i].line + 1, l->seen->key_mark[i].column + 1);
			yaml_event_delete(&ev);
			return (rc);
		}
		l->seen->key[i] = 1;
		l->seen->key_mark[i] = ev.start_mark;
		yaml_event_delete(&ev);

		if (config_next(l, &ev) != 0)
			return (-1);
		if (k->type == CONFIG_LIST &&
		    ev.type == YAML_SEQUENCE_START_EVENT) {
			if ((rc = config_load_list(l, k, &ev, where)) != 0)
				return (rc);
			continue;
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			rc = config_error(l, ev.start_mark, where,
			    "expected a single value, got %s",
			    config_event_what(&ev));
			yaml_event_delete(&ev);
			return (rc);
		}
		if (memchr(ev.data.scalar.value, '\0',
		    ev.data.scalar.length) != NULL) {
			rc = config_error(l, ev.start_mark, where,
			    "value contains a NUL byte");
			yaml_event_delete(&ev);
			return (rc);
		}
		rc = config_set(l->cfg, k, (const char *)ev.data.scalar.value,
		    ev.data.scalar.length, config_is_null(&ev), why,
		    sizeof why);
		if (rc != 0)
			rc = config_error(l, ev.start_mark, where, "%s", why);
		yaml_event_delete(&ev);
		if (rc != 0)
			return (rc);
	}
}

/* Reads the top-level mapping of sections up to its end. */
static int
config_load_sections(struct config_loader *l)
{
	yaml_event_t	 ev;
	char		 name[64], list[256];
	const char	*section;
	size_t		 i;
	int		 rc;

	for (;;) {
		if (config_next(l, &ev) != 0)
			return (-1);
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return (0);
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			rc = config_error(l, ev.start_mark, "top level",
			    "expected a section name, got %s",
			    config_event_what(&ev));
			yaml_event_delete(&ev);
			return (rc);
		}
		if (config_scalar_is(&ev, "access")) {
			if (l->seen->access) {
				rc = config_error(l, ev.start_mark, "access",
				    "duplicate section (first at line %zu column"
				    " %zu)", l->seen->access_mark.line + 1,
				    l->seen->access_mark.column + 1);
				yaml_event_delete(&ev);
				return (rc);
			}
			l->seen->access = 1;
			l->seen->access_mark = ev.start_mark;
			yaml_event_delete(&ev);
			if (config_load_access(l) != 0)
				return (-1);
			continue;
		}
		for (i = 0; i < CONFIG_NKEYS; i++) {
			if (config_scalar_is(&ev, config_keys[i].section))
				break;
		}
		if (i == CONFIG_NKEYS) {
			config_quote((const char *)ev.data.scalar.value,
			    ev.data.scalar.length, name, sizeof name);
			config_list(NULL, list, sizeof list);
			rc = config_error(l, ev.start_mark, name,
			    "unknown section (expected one of: %s)", list);
			yaml_event_delete(&ev);
			return (rc);
		}
		section = config_keys[i].section;	/* i: its first row */
		if (l->seen->section[i]) {
			rc = config_error(l, ev.start_mark, section,
			    "duplicate section (first at line %zu column %zu)",
			    l->seen->section_mark[i].line + 1, l->seen->section_mark[i].column + 1);
			yaml_event_delete(&ev);
			return (rc);
		}
		l->seen->section[i] = 1;
		l->seen->section_mark[i] = ev.start_mark;
		yaml_event_delete(&ev);

		if (config_next(l, &ev) != 0)
			return (-1);
		if (ev.type == YAML_MAPPING_START_EVENT) {
			yaml_event_delete(&ev);
			if (config_load_keys(l, section) != 0)
				return (-1);
			continue;
		}
		if (config_is_null(&ev)) {	/* "logging:" with all keys commented */
			yaml_event_delete(&ev);
			continue;
		}
		rc = config_error(l, ev.start_mark, section,
		    "expected a mapping of keys, got %s",
		    ev.type == YAML_SCALAR_EVENT ? "a single value" :
		    config_event_what(&ev));
		yaml_event_delete(&ev);
		return (rc);
	}
}

/* Reads the whole stream: nothing, or one document holding a mapping. */
static int
config_load_stream(struct config_loader *l)
{
	yaml_event_t	ev;
	int		rc;

	if (config_next(l, &ev) != 0)		/* stream start */
		return (-1);
	yaml_event_delete(&ev);
	if (config_next(l, &ev) != 0)
		return (-1);
	if (ev.type == YAML_STREAM_END_EVENT) {	/* empty or only comments */
		yaml_event_delete(&ev);
		return (0);
	}
	yaml_event_delete(&ev);			/* document start */

	if (config_next(l, &ev) != 0)
		return (-1);
	if (ev.type == YAML_MAPPING_START_EVENT) {
		yaml_event_delete(&ev);
		if (config_load_sections(l) != 0)
			return (-1);
	} else if (config_is_null(&ev))
		yaml_event_delete(&ev);
	else {
		rc = config_error(l, ev.start_mark, "top level",
		    "expected a mapping of sections, got %s",
		    ev.type == YAML_SCALAR_EVENT ? "a single value" :
		    config_event_what(&ev));
		yaml_event_delete(&ev);
		return (rc);
	}

	if (config_next(l, &ev) != 0)		/* document end */
		return (-1);
	yaml_event_delete(&ev);
	if (config_next(l, &ev) != 0)
		return (-1);
	rc = 0;
	if (ev.type != YAML_STREAM_END_EVENT) {
		rc = config_error(l, ev.start_mark, "top level",
		    "only one YAML document is allowed");
	}
	yaml_event_delete(&ev);
	return (rc);
}

/*
 * 1 when a failure to open or read the file is the system's of the moment
 * (out of descriptors or memory, an I/O error): the file may be right, and
 * a later start may read it; else the file itself is at fault (missing,
 * not readable by walld, a directory).
 */
static int
config_transient(int err)
{
	switch (err) {
	case EIO:
	case ENOMEM:
	case EMFILE:
	case ENFILE:
	case EAGAIN:
	case EINTR:
	case ENOBUFS:
	case ETIMEDOUT:
	case ESTALE:
		return (1);
	}
	return (0);
}

/* Reads the file into a malloc'd buffer, at most CONFIG_MAX_FILE bytes. */
static int
config_read(struct config_loader *l, char **bufp, size_t *lenp)
{
	char	*buf;
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd, saved;

	if ((fd = open(l->path, O_RDONLY | O_CLOEXEC)) == -1) {
		saved = errno;
		cause_set(l->cause, "%s: open: %s%s", l->path,
		    strerror(saved), config_transient(saved) ? " (cannot be "
		    "read now; not a fault of the file)" : "");
		return (config_transient(saved) ? -2 : -1);
	}
	/* One byte more than allowed, to tell "too large" from "just fits". */
	if ((buf = malloc(CONFIG_MAX_FILE + 1)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail;
	}
	while (len <= CONFIG_MAX_FILE) {
		n = read(fd, buf + len, CONFIG_MAX_FILE + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			free(buf);
			close(fd);
			errno = saved;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > CONFIG_MAX_FILE) {
		free(buf);
		if (l->cause != NULL && asprintf(l->cause, "%s: file is larger"
		    " than %u bytes", l->path, CONFIG_MAX_FILE) == -1)
			*l->cause = NULL;
		return (-1);
	}
	*bufp = buf;
	*lenp = len;
	return (0);

fail:
	saved = errno;
	cause_set(l->cause, "%s: read: %s%s", l->path, strerror(saved),
	    config_transient(saved) ? " (cannot be read now; not a fault of "
	    "the file)" : "");
	return (config_transient(saved) ? -2 : -1);
}

/*
 * Parses into a copy and commits only on success, so a bad file (say, on
 * SIGHUP) changes nothing. Strings: a key is set at most once per load
 * (duplicates are errors), so a copy's string differs from the original's
 * exactly when the file set it; the loser of each such pair is freed.
 */
int
config_load(struct config *cfg, const char *path, char **cause)
{
	struct config_loader	 l;
	struct config_seen	 seen;
	struct config		 tmp = *cfg;
	const struct config_key	*k;
	char			*buf = NULL, **now, **was;
	size_t			 len = 0;
	int			 rc;

	if (cause != NULL)
		*cause = NULL;
	memset(&l, 0, sizeof l);
	memset(&seen, 0, sizeof seen);
	l.seen = &seen;
	l.path = path;
	l.cause = cause;
	l.cfg = &tmp;
	if ((rc = config_read(&l, &buf, &len)) != 0)
		return (rc);
	l.buf = buf;
	l.len = len;

	if (!yaml_parser_initialize(&l.parser)) {
		free(buf);
		cause_set(cause, "%s: out of memory", path);
		return (-1);
	}
	yaml_parser_set_input_string(&l.parser, (const unsigned char *)buf,
	    len);
	rc = config_load_stream(&l);
	yaml_parser_delete(&l.parser);
	free(buf);

	for (k = config_keys; k < config_keys + CONFIG_NKEYS; k++) {
		if (!config_is_string(k))
			continue;
		now = config_string(&tmp, k);
		was = config_string(cfg, k);
		if (*now != *was)
			free(rc == 0 ? *was : *now);
	}
	/* The same for the access list, which the file sets at most once. */
	if (tmp.access != cfg->access)
		access_free(rc == 0 ? cfg->access : tmp.access);
	if (rc == 0)
		*cfg = tmp;
	return (rc);
}
