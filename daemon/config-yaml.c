/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config-yaml.c: the YAML plumbing under walld's config loader: pulling
 * events, telling what an event is, and errors that name the place
 * ("FILE:LINE:COLUMN: where: why"), the parser's own included.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config-int.h"

#define CONFIG_MAX_NAME	40		/* bytes of a user's key quoted in errors */

/* Copies a name from the file for an error message: bounded, printable. */
void
config_quote(const char *s, size_t n, char *buf, size_t size)
{
	size_t	i, o = 0;

	for (i = 0; i < n && i < CONFIG_MAX_NAME && o + 4 < size; i++) {
		unsigned char	c = (unsigned char)s[i];

		buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (i < n && o + 4 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

/* Sets *cause to "FILE:LINE:COLUMN: where: why" (1-based). Returns -1. */
int
config_error_at(struct config_loader *l, size_t line, size_t column,
    const char *where, const char *fmt, ...)
{
	va_list	 ap;
	char	*why;

	if (l->cause == NULL || *l->cause != NULL)
		return (-1);
	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) == -1)
		why = NULL;
	va_end(ap);
	if (why == NULL ||
	    asprintf(l->cause, "%s:%zu:%zu: %s: %s", l->path, line, column,
	    where, why) == -1)
		*l->cause = NULL;
	free(why);
	return (-1);
}

/* Reports the parser's error: syntax, bad encoding, or memory. */
static int
config_syntax_error(struct config_loader *l)
{
	yaml_parser_t	*p = &l->parser;
	size_t		 i, line = 1, column = 1;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return (config_error_at(l, 1, 1, "yaml", "out of memory"));
	case YAML_READER_ERROR:
		/* No mark for these: count lines up to the bad byte (columns
		   in bytes here, in characters elsewhere). */
		for (i = 0; i < p->problem_offset && i < l->len; i++) {
			if (l->buf[i] == '\n') {
				line++;
				column = 1;
			} else
				column++;
		}
		return (config_error_at(l, line, column, "syntax error",
		    "%s", p->problem != NULL ? p->problem : "bad input"));
	default:
		if (p->context != NULL) {
			return (config_error(l, p->problem_mark, "syntax error",
			    "%s (%s at line %zu column %zu)",
			    p->problem != NULL ? p->problem : "invalid YAML",
			    p->context, p->context_mark.line + 1,
			    p->context_mark.column + 1));
		}
		return (config_error(l, p->problem_mark, "syntax error", "%s",
		    p->problem != NULL ? p->problem : "invalid YAML"));
	}
}

/* Pulls the next event; on error reports it and returns -1. */
int
config_next(struct config_loader *l, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&l->parser, ev))
		return (config_syntax_error(l));
	return (0);
}

/* YAML's null: an empty plain scalar, "~", or "null". */
int
config_is_null(const yaml_event_t *ev)
{
	const char	*s = (const char *)ev->data.scalar.value;

	if (ev->type != YAML_SCALAR_EVENT ||
	    ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return (0);
	return (ev->data.scalar.length == 0 || strcmp(s, "~") == 0 ||
	    strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	    strcmp(s, "NULL") == 0);
}

/* Is the scalar equal to the C string name (no NUL tricks)? */
int
config_scalar_is(const yaml_event_t *ev, const char *name)
{
	return (strlen(name) == ev->data.scalar.length &&
	    memcmp(name, ev->data.scalar.value, ev->data.scalar.length) == 0);
}

/* What a non-scalar event is, for messages. */
const char *
config_event_what(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return ("a mapping");
	case YAML_SEQUENCE_START_EVENT:
		return ("a list");
	case YAML_ALIAS_EVENT:
		return ("an alias (aliases are not supported)");
	default:
		return ("not a value");
	}
}
