/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_config.c: the configuration loader: defaults, conf/walld.yaml, the
 * unit syntaxes, and every kind of error with its exact FILE:LINE:COLUMN.
 * Bad samples live in tests/unit/fixtures/config/; run from the repository
 * top or with WALD_TOP set (tests/run.sh sets it).
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "wal.h"

static const char *
top(void)
{
	const char	*t = getenv("WALD_TOP");

	return (t != NULL && *t != '\0' ? t : ".");
}

/* A path under the repository top, in a static buffer. */
static const char *
top_path(const char *rel)
{
	static char	buf[PATH_MAX];

	ck_assert_int_lt(snprintf(buf, sizeof buf, "%s/%s", top(), rel),
	    (int)sizeof buf);
	return (buf);
}

/* Writes n bytes to a new temporary file; returns its path (static). */
static const char *
write_temp(const void *data, size_t n)
{
	static char	path[64];
	FILE		*f;
	int		 fd;

	strcpy(path, "/tmp/check_config.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
	return (path);
}

/* Loads text over defaults; returns config_load's result and the cause
   with the temporary path cut off (so "3:1: ..."), or NULL. */
static int
load_text(struct config *cfg, const char *text, size_t n, char **why)
{
	const char	*path;
	char		*cause = NULL;
	size_t		 plen;
	int		 rc;

	path = write_temp(text, n);
	rc = config_load(cfg, path, &cause);
	unlink(path);
	*why = NULL;
	if (cause != NULL) {
		plen = strlen(path);
		ck_assert_int_eq(strncmp(cause, path, plen), 0);
		ck_assert_int_eq(cause[plen], ':');
		*why = strdup(cause + plen + 1);
		ck_assert_ptr_nonnull(*why);
		free(cause);
	}
	return (rc);
}

static int
load_str(struct config *cfg, const char *text, char **why)
{
	return (load_text(cfg, text, strlen(text), why));
}

static void
assert_defaults(const struct config *c, const char *sock, const char *dir)
{
	ck_assert_str_eq(c->socket_path, sock);
	ck_assert_uint_eq(c->socket_mode, 0660);
	ck_assert_ptr_null(c->socket_owner);
	ck_assert_ptr_null(c->socket_group);
	ck_assert_str_eq(c->data_dir, dir);
	ck_assert_uint_eq(c->segment_size, 64ull << 20);
	ck_assert_int_eq(c->direct_io, WAL_DIRECT_AUTO);
	ck_assert_uint_eq(c->recycle_segments, 4);
	ck_assert_uint_eq(c->max_batch_bytes, 8ull << 20);
	ck_assert_uint_eq(c->commit_delay_us, 0);
	ck_assert_uint_eq(c->commit_siblings, 0);
	ck_assert_uint_eq(c->max_record, 1u << 20);
	ck_assert_uint_eq(c->max_connections, 16384);
	ck_assert_uint_eq(c->max_conn_inflight, 4ull << 20);
	ck_assert_uint_eq(c->max_total_inflight, 64ull << 20);
	ck_assert_uint_eq(c->max_conn_output, 8ull << 20);
	ck_assert_int_eq(c->log_level, LOG_LVL_INFO);
	ck_assert_uint_eq(c->archive_timeout_us, 0);
}

START_TEST(test_defaults)
{
	struct config	c;

	config_defaults(&c);
	assert_defaults(&c, "/run/walld/walld.sock", "/var/lib/walld");
	ck_assert_uint_eq(c.segment_size, WAL_DEFAULT_SEGMENT);
	ck_assert_uint_eq(c.max_record, WAL_DEFAULT_RECORD);
	config_free(&c);
	ck_assert_ptr_null(c.socket_path);
	ck_assert_ptr_null(c.data_dir);
	config_free(&c);		/* twice is harmless */
}
END_TEST

/* The shipped file shows the defaults, except the two ./var paths. */
START_TEST(test_shipped_file)
{
	struct config	c;
	char		*cause = NULL;

	config_defaults(&c);
	ck_assert_msg(config_load(&c, top_path("conf/walld.yaml"), &cause) == 0,
	    "%s", cause);
	ck_assert_ptr_null(cause);
	assert_defaults(&c, "./var/walld.sock", "./var/data");
	config_free(&c);
}
END_TEST

START_TEST(test_every_key)
{
	struct config	c;
	char		*why;

	config_defaults(&c);
	ck_assert_int_eq(load_str(&c,
	    "socket:\n"
	    "  path: /tmp/w.sock\n"
	    "  mode: 0600\n"
	    "  owner: walld\n"
	    "  group: \"1234\"\n"
	    "storage:\n"
	    "  data_dir: '/srv/wal data'\n"
	    "  segment_size: 1GiB\n"
	    "  direct_io: off\n"
	    "  recycle_segments: 0\n"
	    "group_commit:\n"
	    "  max_batch_bytes: 64KiB\n"
	    "  commit_delay: 250us\n"
	    "  commit_siblings: 5\n"
	    "limits:\n"
	    "  max_record: 16MiB\n"
	    "  max_connections: 1000000\n"
	    "  max_inflight_per_connection: 1GiB\n"
	    "  max_inflight_total: 64GiB\n"
	    "  max_output_per_connection: 65536\n"
	    "logging:\n"
	    "  level: debug\n", &why), 0);
	ck_assert_ptr_null(why);
	ck_assert_str_eq(c.socket_path, "/tmp/w.sock");
	ck_assert_uint_eq(c.socket_mode, 0600);
	ck_assert_str_eq(c.socket_owner, "walld");
	ck_assert_str_eq(c.socket_group, "1234");
	ck_assert_str_eq(c.data_dir, "/srv/wal data");
	ck_assert_uint_eq(c.segment_size, 1ull << 30);
	ck_assert_int_eq(c.direct_io, WAL_DIRECT_OFF);
	ck_assert_uint_eq(c.recycle_segments, 0);
	ck_assert_uint_eq(c.max_batch_bytes, 64 << 10);
	ck_assert_uint_eq(c.commit_delay_us, 250);
	ck_assert_uint_eq(c.commit_siblings, 5);
	ck_assert_uint_eq(c.max_record, 16u << 20);
	ck_assert_uint_eq(c.max_connections, 1000000);
	ck_assert_uint_eq(c.max_conn_inflight, 1ull << 30);
	ck_assert_uint_eq(c.max_total_inflight, 64ull << 30);
	ck_assert_uint_eq(c.max_conn_output, 65536);
	ck_assert_int_eq(c.log_level, LOG_LVL_DEBUG);
	config_free(&c);
}
END_TEST

/* scrub: off by default; every key read; each bad value named with its
   place, as FILE:LINE:COLUMN: scrub.KEY: why. */
START_TEST(test_scrub)
{
	static const struct {
		const char	*text;
		const char	*why;
	} bad[] = {
		{ "scrub:\n  rate: fast\n", "2:9: scrub.rate: expected a size:"
		  " an integer and an optional unit (B, KiB, MiB, GiB, TiB, kB,"
		  " MB, GB, TB)" },
		{ "scrub:\n  rate: 17GiB\n", "2:9: scrub.rate: out of range:"
		  " must be 0..16GiB" },
		{ "scrub:\n  interval: 0\n", "2:13: scrub.interval: out of"
		  " range: must be 1s..365d" },
		{ "scrub:\n  interval: 10\n", "2:13: scrub.interval: expected"
		  " a duration: an integer and a unit (us, ms, s, m); 0 may"
		  " stand alone" },
		{ "scrub:\n  at_start: yes\n", "2:13: scrub.at_start: expected"
		  " one of: false, true" },
		{ "scrub:\n  speed: 1MiB\n", "2:3: scrub.speed: unknown key"
		  " (expected one of: rate, interval, at_start)" },
		{ "scrub:\n  rate: 1MiB\n  rate: 2MiB\n", "3:3: scrub.rate:"
		  " duplicate key (first at line 2 column 3)" },
		{ "scrub: 8MiB\n", "1:8: scrub: expected a mapping of keys,"
		  " got a single value" },
	};
	struct config	c;
	char		*why;
	size_t		 i;

	config_defaults(&c);
	ck_assert_uint_eq(c.scrub_rate, 0);
	ck_assert_uint_eq(c.scrub_interval_us, 24ull * 3600 * 1000000);
	ck_assert_int_eq(c.scrub_at_start, 0);
	ck_assert_int_eq(load_str(&c,
	    "scrub:\n"
	    "  rate: 8MiB\n"
	    "  interval: 90m\n"
	    "  at_start: true\n", &why), 0);
	ck_assert_ptr_null(why);
	ck_assert_uint_eq(c.scrub_rate, 8ull << 20);
	ck_assert_uint_eq(c.scrub_interval_us, 90ull * 60 * 1000000);
	ck_assert_int_eq(c.scrub_at_start, 1);
	/* 0 turns the background scrub off again. */
	ck_assert_int_eq(load_str(&c, "scrub:\n  rate: 0\n  at_start: false\n",
	    &why), 0);
	ck_assert_uint_eq(c.scrub_rate, 0);
	ck_assert_int_eq(c.scrub_at_start, 0);
	config_free(&c);

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		config_defaults(&c);
		ck_assert_int_eq(load_str(&c, bad[i].text, &why), -1);
		ck_assert_ptr_nonnull(why);
		ck_assert_str_eq(why, bad[i].why);
		/* A failed load changes nothing. */
		ck_assert_uint_eq(c.scrub_rate, 0);
		ck_assert_int_eq(c.scrub_at_start, 0);
		free(why);
		config_free(&c);
	}
}
END_TEST

/* replication: off by default; servers as a list or one string, kept
   comma-separated; every key read; bad values named with their place. */
START_TEST(test_replication)
{
	struct config	c;
	char		*why;

	config_defaults(&c);
	ck_assert_ptr_null(c.repl_servers);
	ck_assert_str_eq(c.repl_stream, "WALLD");
	ck_assert_str_eq(c.repl_subject_prefix, "walld.log");
	ck_assert_uint_eq(c.repl_replicas, 3);
	ck_assert_int_eq(c.repl_ack, CONFIG_ACK_LOCAL);
	ck_assert_uint_eq(c.repl_timeout_us, 5000000);
	ck_assert_int_eq(load_str(&c,
	    "replication:\n"
	    "  servers: [nats://127.0.0.1:4222, \"nats://h2:4222\"]\n"
	    "  stream: LOG\n"
	    "  subject_prefix: a.b\n"
	    "  replicas: 5\n"
	    "  ack: replicated\n"
	    "  publish_window: 1\n"
	    "  timeout: 10ms\n"
	    "  backlog_records: 7\n"
	    "  backlog_bytes: 2MiB\n"
	    "  credentials: /etc/walld/nats.creds\n"
	    "  user: u\n"
	    "  password: p\n"
	    "  token: t\n"
	    "  tls_ca: /etc/ssl/ca.pem\n", &why), 0);
	ck_assert_ptr_null(why);
	ck_assert_str_eq(c.repl_servers, "nats://127.0.0.1:4222,nats://h2:4222");
	ck_assert_str_eq(c.repl_stream, "LOG");
	ck_assert_str_eq(c.repl_subject_prefix, "a.b");
	ck_assert_uint_eq(c.repl_replicas, 5);
	ck_assert_int_eq(c.repl_ack, CONFIG_ACK_REPLICATED);
	ck_assert_uint_eq(c.repl_window, 1);
	ck_assert_uint_eq(c.repl_timeout_us, 10000);
	ck_assert_uint_eq(c.repl_backlog_records, 7);
	ck_assert_uint_eq(c.repl_backlog_bytes, 2 << 20);
	ck_assert_str_eq(c.repl_creds, "/etc/walld/nats.creds");
	ck_assert_str_eq(c.repl_user, "u");
	ck_assert_str_eq(c.repl_password, "p");
	ck_assert_str_eq(c.repl_token, "t");
	ck_assert_str_eq(c.repl_tls_ca, "/etc/ssl/ca.pem");
	ck_assert_int_eq(load_str(&c, "replication:\n  servers: nats://x:1\n",
	    &why), 0);
	ck_assert_str_eq(c.repl_servers, "nats://x:1");
	ck_assert_int_eq(load_str(&c, "replication:\n  servers:\n    - a,b\n",
	    &why), -1);
	ck_assert_str_eq(why, "3:7: replication.servers: a list item may not "
	    "contain a comma");
	free(why);
	ck_assert_int_eq(load_str(&c, "replication:\n  servers: []\n", &why),
	    -1);
	ck_assert_str_eq(why, "2:12: replication.servers: empty list");
	free(why);
	ck_assert_int_eq(load_str(&c, "replication:\n  ack: maybe\n", &why),
	    -1);
	ck_assert_str_eq(why, "2:8: replication.ack: expected one of: local, "
	    "replicated");
	free(why);
	ck_assert_int_eq(load_str(&c, "replication:\n  replicas: 6\n", &why),
	    -1);
	ck_assert_str_eq(why, "2:13: replication.replicas: out of range: must "
	    "be 1..5");
	free(why);
	config_free(&c);
}
END_TEST

/* A file applies over what is there: keys it leaves out keep their value. */
START_TEST(test_overlay)
{
	struct config	c;
	char		*why;

	config_defaults(&c);
	ck_assert_int_eq(load_str(&c, "storage:\n  segment_size: 2MiB\n"
	    "socket:\n  owner: alice\n", &why), 0);
	ck_assert_int_eq(load_str(&c, "logging:\n  level: warning\n", &why), 0);
	ck_assert_uint_eq(c.segment_size, 2 << 20);
	ck_assert_str_eq(c.socket_owner, "alice");
	ck_assert_int_eq(c.log_level, LOG_LVL_WARN);
	/* A second file replaces a string (the old one is freed: ASan). */
	ck_assert_int_eq(load_str(&c, "socket:\n  owner: bob\n", &why), 0);
	ck_assert_str_eq(c.socket_owner, "bob");
	/* Empty, ~ and null all mean "unset" for owner and group. */
	ck_assert_int_eq(load_str(&c, "socket:\n  owner: ~\n  group: bob\n",
	    &why), 0);
	ck_assert_ptr_null(c.socket_owner);
	ck_assert_str_eq(c.socket_group, "bob");
	ck_assert_int_eq(load_str(&c, "socket:\n  group: ''\n", &why), 0);
	ck_assert_ptr_null(c.socket_group);
	config_free(&c);
}
END_TEST

/* A failed load changes nothing, even keys set before the error. */
START_TEST(test_failed_load_keeps_config)
{
	struct config	c;
	char		*why;
	char		*path, *dir;

	config_defaults(&c);
	path = c.socket_path;
	dir = c.data_dir;
	ck_assert_int_eq(load_str(&c,
	    "socket:\n  path: /elsewhere\n  owner: x\n"
	    "storage:\n  data_dir: /d\n  segment_size: 2MiB\n"
	    "logging:\n  level: loud\n", &why), -1);
	ck_assert_str_eq(why, "8:10: logging.level: expected one of: error,"
	    " warning, info, debug");
	free(why);
	ck_assert_ptr_eq(c.socket_path, path);
	ck_assert_ptr_eq(c.data_dir, dir);
	assert_defaults(&c, "/run/walld/walld.sock", "/var/lib/walld");
	config_free(&c);
}
END_TEST

/* Valid files that set nothing. */
static const char *const empty_files[] = {
	"",
	"# only a comment\n",
	"\n\n   \n# a\n  # b\n",
	"---\n",
	"--- ~\n...\n",
	"{}\n",
	"logging:\n",
	"logging:\n  # level: debug\nstorage: ~\n",
	"socket: {}\n",
};

START_TEST(test_empty)
{
	struct config	c;
	char		*why;

	config_defaults(&c);
	ck_assert_msg(load_str(&c, empty_files[_i], &why) == 0, "%s: %s",
	    empty_files[_i], why);
	assert_defaults(&c, "/run/walld/walld.sock", "/var/lib/walld");
	config_free(&c);
}
END_TEST

struct size_case {
	const char	*text;
	uint64_t	 value;
};

static const struct size_case sizes[] = {
	{ "0", 0 }, { "4096", 4096 }, { "4096B", 4096 }, { "1B", 1 },
	{ "1KiB", 1024 }, { "512KiB", 512 << 10 }, { "64MiB", 64ull << 20 },
	{ "1GiB", 1ull << 30 }, { "2TiB", 2ull << 40 },
	{ "1kB", 1000 }, { "1MB", 1000000 }, { "3GB", 3000000000ull },
	{ "1TB", 1000000000000ull }, { "64 MiB", 64ull << 20 },
	{ "18446744073709551615", UINT64_MAX }, { "16777215TiB",
	  16777215ull << 40 },
};

static const char *const bad_sizes[] = {
	"", " 1", "MiB", "1.5MiB", "-1", "+1", "1K", "1KB", "1k", "1mib",
	"1 MiB ", "0x10", "1e6", "1MiBB", "1iB", "1 2", "ten",
	"18446744073709551616", "16777216TiB", "99999999999999999999GiB",
};

START_TEST(test_size)
{
	uint64_t	v = 7;

	ck_assert_msg(config_parse_size(sizes[_i].text, &v) == 0, "%s",
	    sizes[_i].text);
	ck_assert_uint_eq(v, sizes[_i].value);
}
END_TEST

START_TEST(test_bad_size)
{
	uint64_t	v = 7;

	ck_assert_msg(config_parse_size(bad_sizes[_i], &v) == -1, "%s",
	    bad_sizes[_i]);
	ck_assert_uint_eq(v, 7);
}
END_TEST

static const struct size_case durations[] = {
	{ "0", 0 }, { "0us", 0 }, { "0ms", 0 }, { "0s", 0 }, { "0m", 0 },
	{ "500us", 500 }, { "2ms", 2000 }, { "1s", 1000000 },
	{ "1m", 60000000 }, { "90 s", 90000000 }, { "000", 0 },
	{ "1h", 3600000000ull }, { "7d", 604800000000ull },
};

static const char *const bad_durations[] = {
	"", "5", "1w", "1.5s", "-1s", "ms", "1 ", "1S", "1sec", "1 m s",
	"1µs", "18446744073709551616us", "18446744073709551615ms",
};

START_TEST(test_duration)
{
	uint64_t	v = 7;

	ck_assert_msg(config_parse_duration(durations[_i].text, &v) == 0,
	    "%s", durations[_i].text);
	ck_assert_uint_eq(v, durations[_i].value);
}
END_TEST

START_TEST(test_bad_duration)
{
	uint64_t	v = 7;

	ck_assert_msg(config_parse_duration(bad_durations[_i], &v) == -1,
	    "%s", bad_durations[_i]);
	ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(test_parse_errno)
{
	uint64_t	v;

	ck_assert_int_eq(config_parse_size(NULL, &v), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(config_parse_size("1x", &v), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(config_parse_size("20000000TiB", &v), -1);
	ck_assert_int_eq(errno, ERANGE);
	ck_assert_int_eq(config_parse_duration(NULL, &v), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(config_parse_duration("99999999999999999999s", &v),
	    -1);
	ck_assert_int_eq(errno, ERANGE);
}
END_TEST

/* Octal in every spelling, and the enum words, through the loader. */
struct value_case {
	const char	*text;		/* a whole file */
	size_t		 offset;	/* of the field checked */
	uint64_t	 value;
};

#define AT(f)	offsetof(struct config, f)

static const struct value_case values[] = {
	{ "socket:\n  mode: \"0660\"\n", AT(socket_mode), 0660 },
	{ "socket:\n  mode: 0660\n", AT(socket_mode), 0660 },
	{ "socket:\n  mode: 660\n", AT(socket_mode), 0660 },
	{ "socket:\n  mode: 0o640\n", AT(socket_mode), 0640 },
	{ "socket:\n  mode: '0777'\n", AT(socket_mode), 0777 },
	{ "socket:\n  mode: 0\n", AT(socket_mode), 0 },
	{ "storage:\n  direct_io: auto\n", AT(direct_io), WAL_DIRECT_AUTO },
	{ "storage:\n  direct_io: on\n", AT(direct_io), WAL_DIRECT_ON },
	{ "storage:\n  direct_io: \"off\"\n", AT(direct_io), WAL_DIRECT_OFF },
	{ "logging:\n  level: error\n", AT(log_level), LOG_LVL_ERR },
	{ "logging:\n  level: warning\n", AT(log_level), LOG_LVL_WARN },
	{ "logging:\n  level: info\n", AT(log_level), LOG_LVL_INFO },
	{ "logging:\n  level: debug\n", AT(log_level), LOG_LVL_DEBUG },
	{ "group_commit:\n  commit_delay: 1s\n", AT(commit_delay_us), 1000000 },
	{ "group_commit:\n  commit_delay: 0\n", AT(commit_delay_us), 0 },
	{ "group_commit:\n  commit_delay: \"750 us\"\n", AT(commit_delay_us),
	  750 },
	{ "archive:\n  timeout: 10m\n", AT(archive_timeout_us), 600000000 },
	{ "archive:\n  timeout: 1440m\n", AT(archive_timeout_us),
	  86400000000ull },
	{ "archive:\n  timeout: 0\n", AT(archive_timeout_us), 0 },
	{ "limits:\n  max_record: 1\n", AT(max_record), 1 },
	{ "limits:\n  max_record: 1MB\n", AT(max_record), 1000000 },
	{ "storage:\n  segment_size: 1MiB\n", AT(segment_size), 1 << 20 },
	{ "\"storage\":\n  'segment_size': 2MiB\n", AT(segment_size), 2 << 20 },
	{ "{storage: {segment_size: 3MiB}}\n", AT(segment_size), 3 << 20 },
	{ "storage:\n  segment_size: !!str 4MiB\n", AT(segment_size), 4 << 20 },
};

START_TEST(test_values)
{
	const struct value_case	*vc = &values[_i];
	struct config		 c;
	char			*why;
	uint32_t		 v32;
	uint64_t		 v64;
	const char		*field;

	config_defaults(&c);
	ck_assert_msg(load_str(&c, vc->text, &why) == 0, "%s: %s", vc->text,
	    why);
	field = (const char *)&c + vc->offset;
	if (vc->offset == AT(segment_size) ||
	    vc->offset == AT(commit_delay_us) ||
	    vc->offset == AT(archive_timeout_us)) {
		memcpy(&v64, field, sizeof v64);
		ck_assert_uint_eq(v64, vc->value);
	} else {
		memcpy(&v32, field, sizeof v32);
		ck_assert_uint_eq(v32, vc->value);
	}
	config_free(&c);
}
END_TEST

/* Every error kind on a sample file, with its exact position. */
struct error_case {
	const char	*file;
	const char	*cause;		/* after "FILE:" */
};

static const struct error_case errors[] = {
	{ "unknown_key.yaml", "4:3: storage.segment_sise: unknown key"
	  " (expected one of: data_dir, segment_size, direct_io,"
	  " recycle_segments)" },
	{ "unknown_section.yaml", "3:1: backup: unknown section (expected"
	  " one of: socket, storage, producers, group_commit, limits, cursors,"
	  " retention, scrub, logging, metrics, archive, encryption,"
	  " replication, access)" },
	{ "duplicate_key.yaml", "4:3: limits.max_record: duplicate key"
	  " (first at line 2 column 3)" },
	{ "duplicate_section.yaml", "5:1: logging: duplicate section"
	  " (first at line 1 column 1)" },
	{ "wrong_type_mapping.yaml", "3:5: storage.segment_size: expected a"
	  " single value, got a mapping" },
	{ "wrong_type_sequence.yaml", "2:9: socket.path: expected a single"
	  " value, got a list" },
	{ "section_not_mapping.yaml", "1:10: storage: expected a mapping of"
	  " keys, got a single value" },
	{ "top_not_mapping.yaml", "1:1: top level: expected a mapping of"
	  " sections, got a list" },
	{ "key_not_scalar.yaml", "2:5: logging: expected a key name, got a"
	  " list" },
	{ "alias.yaml", "4:9: socket.path: expected a single value, got an"
	  " alias (aliases are not supported)" },
	{ "not_a_number.yaml", "2:20: group_commit.max_batch_bytes: expected"
	  " a size: an integer and an optional unit (B, KiB, MiB, GiB, TiB,"
	  " kB, MB, GB, TB)" },
	{ "bad_count.yaml", "2:20: limits.max_connections: expected a whole"
	  " number" },
	{ "bad_mode.yaml", "2:9: socket.mode: expected octal permission bits,"
	  " such as \"0660\"" },
	{ "bad_enum.yaml", "2:14: storage.direct_io: expected one of: auto,"
	  " on, off" },
	{ "duration_no_unit.yaml", "2:17: group_commit.commit_delay: expected"
	  " a duration: an integer and a unit (us, ms, s, m); 0 may stand"
	  " alone" },
	{ "missing_value.yaml", "2:14: limits.max_record: missing value" },
	{ "empty_path.yaml", "2:13: storage.data_dir: must not be empty" },
	{ "nul_in_value.yaml", "2:9: socket.path: value contains a NUL byte" },
	{ "out_of_range.yaml", "2:17: storage.segment_size: out of range:"
	  " must be 1MiB..1GiB" },
	{ "mode_out_of_range.yaml", "2:9: socket.mode: out of range: must be"
	  " 0..0777" },
	{ "duration_out_of_range.yaml", "2:17: group_commit.commit_delay: out"
	  " of range: must be 0..1s" },
	{ "count_overflow.yaml", "2:20: limits.max_connections: out of range:"
	  " must be 1..1000000" },
	{ "two_documents.yaml", "3:1: top level: only one YAML document is"
	  " allowed" },
	{ "syntax_error.yaml", "3:2: syntax error: did not find expected key"
	  " (while parsing a block mapping at line 1 column 1)" },
	{ "unterminated_quote.yaml", "3:1: syntax error: found unexpected end"
	  " of stream (while scanning a quoted scalar at line 2 column 9)" },
	{ "tab_indent.yaml", "2:1: syntax error: found character that cannot"
	  " start any token (while scanning for the next token at line 2"
	  " column 1)" },
};

START_TEST(test_error)
{
	const struct error_case	*ec = &errors[_i];
	struct config		 c;
	char			 rel[256], *expect, *cause = (char *)"unset";
	const char		*path;

	snprintf(rel, sizeof rel, "tests/unit/fixtures/config/%s", ec->file);
	path = top_path(rel);
	ck_assert_int_ne(access(path, R_OK), -1);
	ck_assert_int_gt(asprintf(&expect, "%s:%s", path, ec->cause), 0);
	config_defaults(&c);
	ck_assert_int_eq(config_load(&c, path, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_str_eq(cause, expect);
	assert_defaults(&c, "/run/walld/walld.sock", "/var/lib/walld");
	free(expect);
	free(cause);
	config_free(&c);
}
END_TEST

/* Errors easier to make in the test than to keep as files. */
START_TEST(test_error_generated)
{
	struct config	 c;
	char		*why, *cause, *big, path[300];
	size_t		 n;

	config_defaults(&c);

	/* Invalid UTF-8: a reader error, located by counting bytes. */
	ck_assert_int_eq(load_str(&c, "logging:\n  level: in\xff" "fo\n", &why),
	    -1);
	ck_assert_str_eq(why, "2:12: syntax error: invalid leading UTF-8"
	    " octet");
	free(why);

	/* A control character. */
	ck_assert_int_eq(load_str(&c, "socket:\n  path: /a\x01\n", &why), -1);
	ck_assert_str_eq(why, "2:11: syntax error: control characters are"
	    " not allowed");
	free(why);

	/* A socket path longer than sockaddr_un holds (107 bytes). */
	n = (size_t)snprintf(path, sizeof path, "socket:\n  path: /%0107d\n",
	    0);
	ck_assert_int_eq(load_text(&c, path, n, &why), -1);
	ck_assert_str_eq(why, "2:9: socket.path: too long: at most 107 bytes");
	free(why);

	/* An unknown key's name is cut short and made printable. */
	ck_assert_int_eq(load_str(&c, "logging:\n  \"lev\\tel\\u00e9"
	    "0123456789012345678901234567890123456789\": x\n", &why), -1);
	ck_assert_str_eq(why, "2:3: logging.lev?el\xc3\xa9"
	    "01234567890123456789012345678901...: unknown key (expected"
	    " one of: level)");
	free(why);

	/* A key with a NUL inside does not match the name before it. */
	ck_assert_int_eq(load_str(&c, "logging:\n  \"level\\0x\": info\n",
	    &why), -1);
	ck_assert_str_eq(why, "2:3: logging.level?x: unknown key (expected"
	    " one of: level)");
	free(why);

	/* A file over 1 MiB. */
	n = (1u << 20) + 1;
	big = malloc(n);
	ck_assert_ptr_nonnull(big);
	memset(big, '#', n);
	ck_assert_int_eq(load_text(&c, big, n, &why), -1);
	ck_assert_str_eq(why, " file is larger than 1048576 bytes");
	free(why);
	/* 1 MiB exactly is fine. */
	ck_assert_int_eq(load_text(&c, big, n - 1, &why), 0);
	free(big);

	/* No such file, and a directory. */
	ck_assert_int_eq(config_load(&c, "/nonexistent/walld.yaml", &cause),
	    -1);
	ck_assert_str_eq(cause, "/nonexistent/walld.yaml: open: No such file"
	    " or directory");
	free(cause);
	ck_assert_int_eq(config_load(&c, "/", &cause), -1);
	ck_assert_str_eq(cause, "/: read: Is a directory");
	free(cause);

	/* A NULL cause is allowed. */
	ck_assert_int_eq(config_load(&c, "/nonexistent", NULL), -1);

	assert_defaults(&c, "/run/walld/walld.sock", "/var/lib/walld");
	config_free(&c);
}
END_TEST

/* Every prefix of the shipped file, and random damage to it: any result,
   no crash and no leak (run under ASan or valgrind to see the latter). */
START_TEST(test_robust)
{
	struct config	 c;
	FILE		*f;
	char		*text, *copy, *why;
	size_t		 n, cut, i;
	unsigned	 seed = 12345;
	static const char junk[] = " \n\t:-?[]{},&*!|>'\"%@`#~0aZ\xff\x01";

	f = fopen(top_path("conf/walld.yaml"), "r");
	ck_assert_ptr_nonnull(f);
	text = malloc(1 << 16);
	ck_assert_ptr_nonnull(text);
	n = fread(text, 1, 1 << 16, f);
	fclose(f);
	ck_assert_uint_gt(n, 0);
	copy = malloc(n);
	ck_assert_ptr_nonnull(copy);

	config_defaults(&c);
	for (cut = 0; cut <= n; cut += 7) {
		(void)load_text(&c, text, cut, &why);
		free(why);
	}
	for (i = 0; i < 1500; i++) {
		size_t	k, edits = 1 + rand_r(&seed) % 4;

		memcpy(copy, text, n);
		for (k = 0; k < edits; k++) {
			copy[rand_r(&seed) % n] =
			    junk[rand_r(&seed) % (sizeof junk - 1)];
		}
		if (load_text(&c, copy, n, &why) == -1) {
			ck_assert_ptr_nonnull(why);
			ck_assert_msg(strstr(why, ": ") != NULL, "%s", why);
		}
		free(why);
	}
	config_free(&c);
	free(copy);
	free(text);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

	tc = tcase_create("defaults");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_shipped_file);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_overlay);
	tcase_add_test(tc, test_replication);
	tcase_add_test(tc, test_scrub);
	tcase_add_test(tc, test_failed_load_keeps_config);
	tcase_add_loop_test(tc, test_empty, 0,
	    sizeof empty_files / sizeof empty_files[0]);
	suite_add_tcase(s, tc);

	tc = tcase_create("units");
	tcase_add_loop_test(tc, test_size, 0, sizeof sizes / sizeof sizes[0]);
	tcase_add_loop_test(tc, test_bad_size, 0,
	    sizeof bad_sizes / sizeof bad_sizes[0]);
	tcase_add_loop_test(tc, test_duration, 0,
	    sizeof durations / sizeof durations[0]);
	tcase_add_loop_test(tc, test_bad_duration, 0,
	    sizeof bad_durations / sizeof bad_durations[0]);
	tcase_add_test(tc, test_parse_errno);
	tcase_add_loop_test(tc, test_values, 0,
	    sizeof values / sizeof values[0]);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_error, 0, sizeof errors / sizeof errors[0]);
	tcase_add_test(tc, test_error_generated);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_robust);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(config_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
