/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c: the daemon's log. Lines go to stderr as "walld: LEVEL: message";
 * when $JOURNAL_STREAM names our stderr, they carry a "<N>" priority prefix
 * instead, so journald files them at the right level.
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

static void
log_vmsg(int level, const char *fmt, va_list ap)
{
	char	line[2048];

	if (level > log_level)
		return;
	vsnprintf(line, sizeof line, fmt, ap);
	pthread_mutex_lock(&log_lock);
	if (log_journal)
		fprintf(stderr, "<%d>%s: %s\n", level, log_word(level), line);
	else
		fprintf(stderr, "walld: %s: %s\n", log_word(level), line);
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

void
log_engine(int level, const char *msg)
{
	log_msg(level, "%s", msg);
}
