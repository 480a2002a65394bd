/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: walld's entry point. Reads the configuration, opens (and
 * recovers) the WAL directory, opens the socket, and runs the event loop
 * in the foreground until SIGTERM/SIGINT; SIGHUP reloads the configuration.
 *
 * Exit status: 0 after an orderly stop; 64 usage error; 78 bad
 * configuration; 74 after a WAL write or sync failure (recovery at the next
 * start decides what is in the log); 1 when start-up fails otherwise (a
 * refused data directory, a socket in use).
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cause.h"
#include "config.h"
#include "keyring.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "scrub.h"
#include "server.h"
#include "version.h"
#include "wal.h"
#include "wal-reader.h"

#define EXIT_USAGE	64
#define EXIT_CONFIG	78
#define EXIT_DATAERR	65	/* scrub.at_start found damage */

struct main_ctx {
	struct event_base	*base;
	struct server		*srv;
	struct config		*cfg;
	const char		*config_path;
	const char		*socket_flag;
	const char		*data_dir_flag;
	int			 config_transient;	/* the file could not
						   be read now (EMFILE, EIO...) */
	pthread_mutex_t		 lock;		/* for the start-up extender */
	pthread_cond_t		 cond;
	int			 opened;
	struct event		*metrics_ev;	/* rewrites metrics.file */
	int			 metrics_failing;
	int			 allow_root;	/* --allow-root */
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: walld [--config FILE] [--socket PATH] [--data-dir DIR] [--allow-root]\n"
"       walld --check-config [--config FILE]\n"
"       walld --version | --help\n"
"\n"
"walld owns a directory of WAL segments and appends records for its\n"
"clients, acknowledging each once it is durable. It runs in the\n"
"foreground; stop it with SIGTERM, reload its configuration with SIGHUP.\n"
"\n"
"  -c, --config FILE    configuration file (YAML; see walld.yaml(5))\n"
"  -s, --socket PATH    listening socket (overrides socket.path)\n"
"  -d, --data-dir DIR   WAL directory (overrides storage.data_dir)\n"
"      --check-config   validate the configuration and exit (0, or 78)\n"
"      --allow-root     run as root (refused without it: files root\n"
"                       makes are a trap for the walld user)\n"
"  -V, --version        print the version and exit\n"
"  -h, --help           print this help and exit\n"
"\n"
"Exit status: 0 stopped cleanly; 1 start-up failed; 64 usage error;\n"
"74 a WAL write or sync failed; 78 bad configuration (or root without\n"
"--allow-root).\n");
}

/* Reads defaults, the file and the flags into a new configuration. */
static struct config *
main_load_config(struct main_ctx *m, char **cause)
{
	struct config	*cfg;
	int		 rc;

	if ((cfg = calloc(1, sizeof *cfg)) == NULL) {
		*cause = strdup("out of memory");
		return (NULL);
	}
	config_defaults(cfg);
	m->config_transient = 0;
	if (m->config_path != NULL &&
	    (rc = config_load(cfg, m->config_path, cause)) != 0) {
		m->config_transient = rc == -2;
		config_free(cfg);
		free(cfg);
		return (NULL);
	}
	if (m->socket_flag != NULL) {
		free(cfg->socket_path);
		cfg->socket_path = strdup(m->socket_flag);
	}
	if (m->data_dir_flag != NULL) {
		free(cfg->data_dir);
		cfg->data_dir = strdup(m->data_dir_flag);
	}
	if (cfg->socket_path == NULL || cfg->data_dir == NULL) {
		config_free(cfg);
		free(cfg);
		*cause = strdup("out of memory");
		return (NULL);
	}
	return (cfg);
}

/*
 * Loads the key ring the configuration names (or the systemd credential):
 * 0 and *kr (NULL: no encryption) and *path, or -1 and *cause (a file
 * that is missing, malformed or open to group or others).
 */
static int
main_load_keyring(const struct config *cfg, struct keyring **kr,
    char **path, char **cause)
{
	*kr = NULL;
	if (keyring_locate(cfg->keyring, path, cause) != 0)
		return (-1);
	if (*path == NULL)
		return (0);
	if ((*kr = keyring_load(*path, cause)) == NULL) {
		free(*path);
		*path = NULL;
		return (-1);
	}
	return (0);
}

/* Creates dir and its missing parents (mode 0700 for new ones). */
static int
main_mkdirs(const char *dir, char **cause)
{
	char	*p, *s;

	if ((p = strdup(dir)) == NULL) {
		*cause = strdup("out of memory");
		return (-1);
	}
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			cause_set(cause, "%s: %s", p, strerror(errno));
			free(p);
			return (-1);
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return (0);
}

/* Raises the open-files limit to its hard limit: each client is an fd. */
static void
main_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("setrlimit(RLIMIT_NOFILE): %s",
			    strerror(errno));
	}
	log_info("open files limit: %llu", (unsigned long long)rl.rlim_cur);
}

static void
main_status(struct main_ctx *m)
{
	char	buf[256];

	server_status(m->srv, buf, sizeof buf);
	notify("STATUS=%s", buf);
}

/* While recovery (or scrub.at_start) runs, asks systemd every 5 s for 10 s
   more start time. */
static void *
main_extend_main(void *arg)
{
	struct main_ctx	*m = arg;
	struct timespec	 ts;

	pthread_mutex_lock(&m->lock);
	while (!m->opened) {
		notify("EXTEND_TIMEOUT_USEC=10000000");
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5;
		while (!m->opened &&
		    pthread_cond_timedwait(&m->cond, &m->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&m->lock);
	return (NULL);
}

/* Opens (recovering) the WAL, keeping systemd's start timeout at bay. */
static struct wal *
main_open_wal(struct main_ctx *m, const struct wal_options *wo, char **cause)
{
	struct wal	*w;
	pthread_t	 t;
	int		 extend;

	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	extend = pthread_create(&t, NULL, main_extend_main, m) == 0;
	w = wal_open(wo, cause);
	if (extend) {
		pthread_mutex_lock(&m->lock);
		m->opened = 1;
		pthread_cond_signal(&m->cond);
		pthread_mutex_unlock(&m->lock);
		pthread_join(t, NULL);
	}
	return (w);
}

/* scrub.at_start's check, keeping systemd's start timeout at bay as
   main_open_wal does: the problems found, or -1 and *cause. */
static int
main_scrub_at_start(struct main_ctx *m, struct wal *w, struct keyring *kr,
    char **cause)
{
	pthread_t	 t;
	int		 extend, n;

	m->opened = 0;
	extend = pthread_create(&t, NULL, main_extend_main, m) == 0;
	n = scrub_at_start(w, m->cfg->data_dir, kr, cause);
	if (extend) {
		pthread_mutex_lock(&m->lock);
		m->opened = 1;
		pthread_cond_signal(&m->cond);
		pthread_mutex_unlock(&m->lock);
		pthread_join(t, NULL);
	}
	return (n);
}

/* Rewrites the metrics file. A failure is logged once, and its end. */
static void
main_metrics_cb(evutil_socket_t fd, short what, void *arg)
{
	struct main_ctx	*m = arg;
	const char	*path = m->cfg->metrics_file;
	char		*text, *cause = NULL;

	(void)fd; (void)what;
	if (path == NULL)
		return;
	if ((text = server_stats_text(m->srv)) == NULL ||
	    metrics_write_file(path, text, &cause) != 0) {
		if (!m->metrics_failing)
			log_err("metrics file: %s; trying again every interval",
			    cause != NULL ? cause : "out of memory");
		m->metrics_failing = 1;
	} else if (m->metrics_failing) {
		log_info("metrics file: %s written again", path);
		m->metrics_failing = 0;
	}
	free(cause);
	free(text);
}

/* Arms (or, at a reload, re-arms or stops) the metrics file's timer, and
   writes the file at once. */
static void
main_metrics_arm(struct main_ctx *m)
{
	struct timeval	tv;
	uint64_t	us = m->cfg->metrics_interval_us;

	if (m->metrics_ev == NULL && (m->metrics_ev = event_new(m->base, -1,
	    EV_PERSIST, main_metrics_cb, m)) == NULL) {
		log_err("metrics file: cannot set up its timer");
		return;
	}
	event_del(m->metrics_ev);
	if (m->cfg->metrics_file == NULL)
		return;
	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	if (event_add(m->metrics_ev, &tv) != 0)
		log_err("metrics file: cannot arm its timer");
	log_info("metrics file: %s, every %llu ms", m->cfg->metrics_file,
	    (unsigned long long)(us / 1000));
	main_metrics_cb(-1, 0, m);
}

/* Reloads the configuration file, all or nothing (SIGHUP, and the
   RELOAD request of walctl reload): 0, or -1 and *cause when nothing
   changed. */
static int
main_reload(void *arg, char **cause)
{
	struct main_ctx	*m = arg;
	struct config	*ncfg;
	int		 rc = 0;

	notify("RELOADING=1");
	if (m->config_path == NULL)
		log_info("reload: no configuration file; nothing to do");
	else if ((ncfg = main_load_config(m, cause)) == NULL)
		rc = -1;
	else {
		if ((rc = server_reload(m->srv, ncfg, cause)) == 0)
			main_metrics_arm(m);
		config_free(ncfg);
		free(ncfg);
	}
	if (rc != 0)
		log_err("reload: %s; keeping the running configuration: "
		    "nothing changed", *cause != NULL ? *cause : "failed");
	notify("READY=1");
	main_status(m);
	return (rc);
}

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct main_ctx	*m = arg;
	char		*cause = NULL;

	(void)what;
	if (sig == SIGHUP) {
		log_info("reload: SIGHUP");
		if (main_reload(m, &cause) != 0)
			free(cause);
		return;
	}
	log_info("%s: stopping: finishing batches in flight",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT");
	notify("STOPPING=1");
	server_shutdown(m->srv);
}

static void
main_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct main_ctx	*m = arg;

	(void)fd; (void)what;
	notify("WATCHDOG=1");
	main_status(m);
}

/* Reads the command line into m and *check: -1 to go on, or the exit
   status (--version, --help, a usage error). */
static int
main_args(struct main_ctx *m, int argc, char **argv, int *check)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "allow-root", no_argument, NULL, 'R' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch;

	while ((ch = getopt_long(argc, argv, "c:s:d:Vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			m->config_path = optarg;
			break;
		case 's':
			m->socket_flag = optarg;
			break;
		case 'd':
			m->data_dir_flag = optarg;
			break;
		case 'C':
			*check = 1;
			break;
		case 'R':
			m->allow_root = 1;
			break;
		case 'V':
			printf("walld %s\n", WALD_VERSION);
			return (0);
		case 'h':
			usage(stdout);
			return (0);
		default:
			usage(stderr);
			return (EXIT_USAGE);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "walld: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return (EXIT_USAGE);
	}
	return (-1);
}

/* SIGTERM, SIGINT and SIGHUP on the loop (sigs[3]), and the watchdog's
   ping when systemd wants one (*wd_ev). -1 when a signal cannot be
   handled; a watchdog that cannot be armed is only logged. */
static int
main_events(struct main_ctx *m, struct event **sigs, struct event **wd_ev)
{
	const int	signums[3] = { SIGTERM, SIGINT, SIGHUP };
	struct timeval	tv;
	uint64_t	wd;
	int		i;

	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(m->base, signums[i], main_signal_cb, m);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) != 0) {
			log_err("cannot handle signal %d", signums[i]);
			return (-1);
		}
	}
	if ((wd = notify_watchdog_usec()) > 0) {
		*wd_ev = event_new(m->base, -1, EV_PERSIST, main_watchdog_cb, m);
		tv.tv_sec = (time_t)(wd / 2 / 1000000);
		tv.tv_usec = (suseconds_t)(wd / 2 % 1000000);
		if (*wd_ev == NULL || event_add(*wd_ev, &tv) != 0)
			log_warn("cannot arm the watchdog timer");
	}
	return (0);
}

/* walld's start-up, in order (configuration, key ring, WAL, socket,
   server, signals), its event loop, and one cleanup path for all. Kept in
   one piece (about 130 lines): every resource it opens is freed at `out`,
   which a reader checks against the opening steps above it. */
int
main(int argc, char **argv)
{
	struct main_ctx		 m;
	struct wal_options	 wo;
	struct wal		*w = NULL;
	struct keyring		*kr = NULL;
	char			*kr_path = NULL;
	struct event		*sigs[3] = { NULL, NULL, NULL }, *wd_ev = NULL;
	char			*cause = NULL;
	int			 check = 0, fd = -1, status = 1, i = 1;

	memset(&m, 0, sizeof m);
	if ((status = main_args(&m, argc, argv, &check)) != -1)
		return (status);
	status = 1;

	if ((m.cfg = main_load_config(&m, &cause)) == NULL) {
		fprintf(stderr, "walld: %s\n", cause != NULL ? cause :
		    "cannot load the configuration");
		free(cause);
		/* 78 tells systemd not to restart: only for a wrong file. */
		return (m.config_transient ? 1 : EXIT_CONFIG);
	}
	if (main_load_keyring(m.cfg, &kr, &kr_path, &cause) != 0) {
		fprintf(stderr, "walld: %s\n", cause != NULL ? cause :
		    "cannot load the key ring");
		status = EXIT_CONFIG;
		goto out;
	}
	if (check) {
		/* The key ring against the segments, when they can be read:
		   a ring that drops a key a segment needs fails here, before
		   a reload or a start would refuse it. */
		if (kr != NULL && (i = wal_verify_keyring(m.cfg->data_dir, kr,
		    &cause)) == -1) {
			fprintf(stderr, "walld: key ring %s: %s\n", kr_path,
			    cause != NULL ? cause : "refused");
			status = EXIT_CONFIG;	/* cause is freed at out */
			goto out;
		}
		printf("walld: %s: configuration OK\n", m.config_path != NULL ?
		    m.config_path : "(defaults)");
		if (kr != NULL)
			printf("walld: key ring %s: %zu keys, active key id %u%s\n",
			    kr_path, keyring_ids(kr, NULL, 0), keyring_active(kr),
			    i == 0 ? ", every segment's key present" :
			    " (the data directory could not be read: not "
			    "checked against its segments)");
		keyring_free(kr);
		free(kr_path);
		config_free(m.cfg);
		free(m.cfg);
		return (0);
	}

	/* As root, walld would make segment files that the walld user
	   cannot open after the next start under systemd. */
	if (geteuid() == 0 && !m.allow_root) {
		fprintf(stderr, "walld: running as root is refused: run as the "
		    "walld user (as walld.service does), or pass --allow-root\n");
		status = EXIT_CONFIG;
		goto out;
	}
	log_init(m.cfg->log_level);
	notify_init();
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		log_warn("ignoring SIGPIPE: %s", strerror(errno));
	main_raise_nofile();

	if (main_mkdirs(m.cfg->data_dir, &cause) != 0) {
		log_err("data directory: %s", cause);
		goto out;
	}
	memset(&wo, 0, sizeof wo);
	wo.dir = m.cfg->data_dir;
	wo.segment_size = m.cfg->segment_size;
	wo.direct_io = (enum wal_direct)m.cfg->direct_io;
	wo.recycle_segments = m.cfg->recycle_segments;
	wo.producers_max = m.cfg->producers_max;
	wo.producer_window = m.cfg->producer_window;
	wo.max_record = m.cfg->max_record;
	wo.batch_bytes = m.cfg->max_batch_bytes;
	wo.keyring = kr;
	wo.log = log_engine;
	if (kr != NULL)
		log_info("encryption: on: key ring %s: %zu keys, active key id %u",
		    kr_path, keyring_ids(kr, NULL, 0), keyring_active(kr));
	else
		log_info("encryption: off (no key ring configured)");
	log_info("walld %s: opening %s", WALD_VERSION, m.cfg->data_dir);
	notify("STATUS=recovering %s", m.cfg->data_dir);
	if ((w = main_open_wal(&m, &wo, &cause)) == NULL) {
		log_err("%s", cause != NULL ? cause : "cannot open the WAL");
		notify("STATUS=failed: cannot open the WAL");
		goto out;
	}

	/* scrub.at_start: every sealed segment checked before serving;
	   damage is refused (docs/OPERATIONS.md, "Scrubbing"). */
	if (m.cfg->scrub_at_start) {
		notify("STATUS=checking the sealed segments (scrub.at_start)");
		if ((i = main_scrub_at_start(&m, w, kr, &cause)) != 0) {
			if (i < 0)
				log_err("%s", cause);
			else
				log_err("scrub.at_start: %d problems in the "
				    "sealed segments of %s (each logged above): "
				    "refusing to start; `walctl verify --dir` "
				    "lists them, docs/OPERATIONS.md says what "
				    "to do", i, m.cfg->data_dir);
			notify("STATUS=failed: damage in the sealed segments");
			status = EXIT_DATAERR;
			goto out;
		}
	}

	if ((fd = server_listen(m.cfg, &cause)) == -1) {
		log_err("socket: %s", cause != NULL ? cause : "failed");
		goto out;
	}
	/* No evthread locking: libevent is used from the loop thread only
	   (the batcher's threads report back through an eventfd). */
	if ((m.base = event_base_new()) == NULL) {
		log_err("cannot set up the event loop");
		goto out;
	}
	m.srv = server_create(m.base, m.cfg, w, fd, &cause);
	fd = -1;	/* the listener owns it now (if server_create failed
			   early it stays open until walld exits) */
	if (m.srv == NULL) {
		log_err("%s", cause != NULL ? cause : "cannot start");
		goto out;
	}
	server_set_keyring(m.srv, kr, kr_path);
	server_set_reload(m.srv, main_reload, &m);
	keyring_free(kr);	/* the WAL and the server hold theirs */
	kr = NULL;
	if (main_events(&m, sigs, &wd_ev) != 0)
		goto out;

	log_info("ready");
	notify("READY=1");
	main_status(&m);
	main_metrics_arm(&m);
	if (event_base_dispatch(m.base) == -1)
		log_err("event loop failed");

	status = server_exit_status(m.srv);
	log_info("stopped (exit status %d)", status);

out:	/* Every start-up failure comes here too (status 1 unless set). */
	if (m.srv != NULL)
		server_free(m.srv);
	if (w != NULL)
		wal_close(w);
	if (fd != -1 && close(fd) == -1)
		log_debug("listening socket: close: %s", strerror(errno));
	for (i = 0; i < 3; i++) {
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	}
	if (wd_ev != NULL)
		event_free(wd_ev);
	if (m.metrics_ev != NULL)
		event_free(m.metrics_ev);
	if (m.base != NULL)
		event_base_free(m.base);
	keyring_free(kr);
	free(kr_path);
	free(cause);
	config_free(m.cfg);
	free(m.cfg);
	return (status);
}
