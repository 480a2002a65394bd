/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c: the daemon's log. Lines go to stderr as "TIME walld: LEVEL:
 * message", TIME in ISO 8601 UTC with milliseconds; when $JOURNAL_STREAM
 * names our stderr, they carry a "<N>" priority prefix instead and no time
 * (journald files them at the right level and stamps them itself).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"

static int	log_level = LOG_LVL_INFO;
static int	log_journal;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* Tells whether stderr is the stream $JOURNAL_STREAM names ("dev:ino"). */
static int
log_stderr_is_journal(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 sb;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return (0);
	if (fstat(2, &sb) != 0)
		return (0);
	return (sb.st_dev == (dev_t)dev && sb.st_ino == (ino_t)ino);
}

void
log_init(int level)
{
	log_level = level;
	log_journal = log_stderr_is_journal();
}

void
log_set_level(int level)
{
	log_level = level;
}

static const char *
log_word(int level)
{
	if (level <= LOG_LVL_ERR)
		return ("error");
	if (level == LOG_LVL_WARN)
		return ("warning");
	if (level <= LOG_LVL_INFO)
		return ("info");
	return ("debug");
}

/* The time now as "2026-01-31T12:34:56.789Z" into buf; "" when the clock
   cannot be read. */
static void
log_time(char *buf, size_t len)
{
	struct timespec	ts;
	struct tm	tm;
	size_t		n;

	buf[0] = '\0';
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL)
		return;
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return;
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void
log_vmsg(int level, const char *fmt, va_list ap)
{
	char	line[2048], when[40];

	if (level > log_level)
		return;
	vsnprintf(line, sizeof line, fmt, ap);
	pthread_mutex_lock(&log_lock);
	if (log_journal)
		fprintf(stderr, "<%d>%s: %s\n", level, log_word(level), line);
	else {
		log_time(when, sizeof when);
		fprintf(stderr, "%s%swalld: %s: %s\n", when,
		    when[0] != '\0' ? " " : "", log_word(level), line);
	}
	pthread_mutex_unlock(&log_lock);
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

#define LOG_LIMIT_KEYS	16
#define LOG_LIMIT_BURST	5
#define LOG_LIMIT_SECS	10

struct log_limit {
	const char	*key;
	time_t		 window;
	int		 level;		/* of the lines suppressed */
	unsigned	 count;
	unsigned	 dropped;
};
static struct log_limit log_limits[LOG_LIMIT_KEYS];

void
log_limited(const char *key, int level, const char *fmt, ...)
{
	struct log_limit	*l = NULL;
	time_t			 now = time(NULL);
	unsigned		 dropped = 0;
	va_list			 ap;
	size_t			 i;

	pthread_mutex_lock(&log_lock);
	for (i = 0; i < LOG_LIMIT_KEYS; i++) {
		if (log_limits[i].key == NULL || strcmp(log_limits[i].key, key) == 0) {
			l = &log_limits[i];
			break;
		}
	}
	if (l == NULL)
		l = &log_limits[0];
	if (l->key == NULL || strcmp(l->key, key) != 0 ||
	    now - l->window >= LOG_LIMIT_SECS) {
		dropped = l->dropped;
		l->key = key;
		l->window = now;
		l->count = 0;
		l->dropped = 0;
	}
	if (l->count >= LOG_LIMIT_BURST) {
		l->dropped++;
		l->level = level;
		pthread_mutex_unlock(&log_lock);
		return;
	}
	l->count++;
	pthread_mutex_unlock(&log_lock);

	if (dropped > 0)
		log_msg(level, "%s: %u similar lines suppressed", key, dropped);
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/* Reports the lines suppressed in windows that have ended, so that the
   count is told when the burst stops too, not only with the next line. */
void
log_limited_flush(void)
{
	struct {
		const char	*key;
		int		 level;
		unsigned	 dropped;
	}		 out[LOG_LIMIT_KEYS];
	time_t		 now = time(NULL);
	size_t		 i, n = 0;

	pthread_mutex_lock(&log_lock);
	for (i = 0; i < LOG_LIMIT_KEYS; i++) {
		if (log_limits[i].key == NULL || log_limits[i].dropped == 0 ||
		    now - log_limits[i].window < LOG_LIMIT_SECS)
			continue;
		out[n].key = log_limits[i].key;
		out[n].level = log_limits[i].level;
		out[n].dropped = log_limits[i].dropped;
		n++;
		/* A new window: the next line is logged, with no count. */
		log_limits[i].window = now;
		log_limits[i].count = 0;
		log_limits[i].dropped = 0;
	}
	pthread_mutex_unlock(&log_lock);
	for (i = 0; i < n; i++)
		log_msg(out[i].level, "%s: %u similar lines suppressed in the "
		    "last %d s", out[i].key, out[i].dropped, LOG_LIMIT_SECS);
}

void
log_engine(int level, const char *msg)
{
	log_msg(level, "%s", msg);
}
