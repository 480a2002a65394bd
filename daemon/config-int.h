/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config-int.h: what the config loader's files share, and nobody else sees
 * (the rest of walld uses config.h):
 *
 *   config-yaml.c	pulling YAML events, errors that name the place
 *   config-access.c	the access: section
 *   config.c		the key table, values, defaults, load and commit
 */
#ifndef WALD_CONFIG_INT_H
#define WALD_CONFIG_INT_H

#include <stddef.h>

#include <yaml.h>

struct config;
struct config_seen;		/* config.c's: keys and sections met */

/* One config_load in progress. */
struct config_loader {
	const char		*path;
	const char		*buf;		/* the whole file */
	size_t			 len;
	yaml_parser_t		 parser;
	struct config		*cfg;	/* being filled; committed on success */
	char			**cause;
	struct config_seen	*seen;
};

/* config-yaml.c */
void		 config_quote(const char *, size_t, char *, size_t);
int		 config_error_at(struct config_loader *, size_t line,
		     size_t column, const char *where, const char *fmt, ...)
		     __attribute__((format(printf, 5, 6)));
#define config_error(l, mark, where, ...) \
	config_error_at((l), (mark).line + 1, (mark).column + 1, (where), \
	    __VA_ARGS__)
int		 config_next(struct config_loader *, yaml_event_t *);
int		 config_is_null(const yaml_event_t *);
int		 config_scalar_is(const yaml_event_t *, const char *);
const char	*config_event_what(const yaml_event_t *);

/* config-access.c */
int		 config_load_access(struct config_loader *);

#endif
