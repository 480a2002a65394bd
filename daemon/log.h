/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h: walld's log: one line per event on stderr, the level word first,
 * with syslog priority prefixes when stderr is the journal.
 */
#ifndef WALD_LOG_H
#define WALD_LOG_H

#include <stdarg.h>

/* Levels are syslog priorities (the engine's log callback passes the same
   numbers); a line is logged when its level is at or below logging.level. */
enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6,
    LOG_LVL_DEBUG = 7 };

void	log_init(int level);
void	log_set_level(int level);
void	log_msg(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Like log_msg, but at most 5 lines per key per 10 s; the number
   suppressed is reported with the next line that gets through. */
void	log_limited(const char *key, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Logs, for each key whose 10 s window has ended with lines suppressed,
   how many were (a timer calls it, so that the count of a burst that
   stopped is told too). */
void	log_limited_flush(void);
/* Adapter for the engine's log callback. */
void	log_engine(int level, const char *msg);

#define log_err(...)	log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
