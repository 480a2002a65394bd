/* SPDX-License-Identifier: Apache-2.0 */
/*
 * promcheck.c: a strict checker of the Prometheus text exposition format,
 * version 0.0.4, for the metrics tests. Checks the syntax of every line
 * (HELP and TYPE comments, metric and label names, label values and their
 * escapes, float values, timestamps) and the rules across lines: one HELP
 * and one TYPE per family, TYPE before the family's samples, a family's
 * lines together, no series twice, counters not negative, and each
 * histogram's buckets in increasing "le" order, cumulative, ending with
 * le="+Inf" equal to _count, with _sum and _count present.
 *
 * usage: promcheck [-p PREFIX] [-q] FILE...   ("-" is stdin)
 * Exits 0 when every file passes (printing "FILE: N families, N samples"
 * unless -q), 1 with "FILE:LINE: why" on the first problem, 2 on usage.
 * Beyond the format, it requires a HELP and a TYPE for every family, and
 * with -p that every metric name begins with PREFIX.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINE	65536
#define MAX_LABELS	32
#define MAX_NAME	256
#define MAX_VALUE	1024

enum ptype { T_NONE, T_COUNTER, T_GAUGE, T_HISTOGRAM, T_SUMMARY, T_UNTYPED };

struct family {
	char		name[MAX_NAME];
	enum ptype	type;
	int		help;
	int		closed;		/* another family came after it */
	unsigned long	samples;
};

struct label {
	char	name[MAX_NAME];
	char	value[MAX_VALUE];
};

/* One histogram series: the family and its labels other than le. */
struct hseries {
	size_t	family;
	char	key[2048];
	double	last_le;
	double	last_count;
	int	buckets;
	int	has_inf;
	double	inf;
	int	has_sum;
	int	has_count;
	double	count;
};

struct check {
	const char	*file;
	unsigned long	 line;
	const char	*prefix;
	struct family	*fam;
	size_t		 nfam;
	size_t		 capfam;
	size_t		 cur;		/* family of the last line; -1 none */
	char		**series;
	size_t		 nseries;
	size_t		 capseries;
	struct hseries	*hs;
	size_t		 nhs;
	size_t		 caphs;
	unsigned long	 nsamples;
};

static void __attribute__((format(printf, 2, 3), noreturn))
die(struct check *c, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "promcheck: %s:%lu: ", c->file, c->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *
grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return (p);
	*cap = *cap == 0 ? 16 : *cap * 2;
	if ((p = realloc(p, *cap * size)) == NULL) {
		perror("promcheck");
		exit(2);
	}
	return (p);
}

static int
name_start(int ch, int colon)
{
	return (isalpha(ch) || ch == '_' || (colon && ch == ':'));
}

static int
name_char(int ch, int colon)
{
	return (isalnum(ch) || ch == '_' || (colon && ch == ':'));
}

/* Reads a metric name (colon) or label name at *p into buf. */
static void
read_name(struct check *c, const char **p, char *buf, int colon,
    const char *what)
{
	const char	*s = *p;
	size_t		 n = 0;

	if (!name_start((unsigned char)*s, colon))
		die(c, "%s expected, got '%.20s'", what, s);
	while (name_char((unsigned char)*s, colon)) {
		if (n + 1 >= MAX_NAME)
			die(c, "%s too long", what);
		buf[n++] = *s++;
	}
	buf[n] = '\0';
	*p = s;
}

/* Skips at least one blank (space or tab) when need, else any. */
static void
blanks(struct check *c, const char **p, int need, const char *where)
{
	if (need && **p != ' ' && **p != '\t')
		die(c, "blank expected %s, got '%.20s'", where, *p);
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* A float as the format allows: [+-]digits[.digits][e[+-]digits],
   [+-].digits..., [+-]Inf, NaN. Returns it; dies on anything else. */
static double
parse_float(struct check *c, const char *s, const char *what)
{
	const char	*p = s;
	char		*end;
	int		 digits = 0;
	double		 v;

	if (strcmp(s, "NaN") == 0)
		return (NAN);
	if (strcmp(s, "+Inf") == 0 || strcmp(s, "Inf") == 0)
		return (INFINITY);
	if (strcmp(s, "-Inf") == 0)
		return (-INFINITY);
	if (*p == '+' || *p == '-')
		p++;
	while (isdigit((unsigned char)*p))
		p++, digits++;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++, digits++;
	}
	if (digits == 0)
		die(c, "%s: not a number: '%s'", what, s);
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			die(c, "%s: bad exponent: '%s'", what, s);
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p != '\0')
		die(c, "%s: not a number: '%s'", what, s);
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0')
		die(c, "%s: not a number: '%s'", what, s);
	return (v);
}

/* Reads up to the next blank or end of line into buf. */
static void
read_token(struct check *c, const char **p, char *buf, size_t size,
    const char *what)
{
	size_t	n = 0;

	while (**p != '\0' && **p != ' ' && **p != '\t') {
		if (n + 1 >= size)
			die(c, "%s too long", what);
		buf[n++] = *(*p)++;
	}
	buf[n] = '\0';
	if (n == 0)
		die(c, "%s expected", what);
}

static size_t
family_find(struct check *c, const char *name)
{
	size_t	i;

	for (i = 0; i < c->nfam; i++) {
		if (strcmp(c->fam[i].name, name) == 0)
			return (i);
	}
	return ((size_t)-1);
}

/* The family index of name, created if new. A family may not come back
   once another one has had lines after it. */
static size_t
family_enter(struct check *c, const char *name)
{
	size_t	i = family_find(c, name);

	if (i == (size_t)-1) {
		c->fam = grow(c->fam, &c->capfam, c->nfam, sizeof *c->fam);
		i = c->nfam++;
		memset(&c->fam[i], 0, sizeof c->fam[i]);
		snprintf(c->fam[i].name, sizeof c->fam[i].name, "%s", name);
		if (c->prefix != NULL &&
		    strncmp(name, c->prefix, strlen(c->prefix)) != 0)
			die(c, "%s: does not begin with %s", name, c->prefix);
	}
	if (c->cur != i) {
		if (c->fam[i].closed)
			die(c, "%s: its lines are not together (another family "
			    "came in between)", name);
		if (c->cur != (size_t)-1)
			c->fam[c->cur].closed = 1;
		c->cur = i;
	}
	return (i);
}

/* "# HELP name text" and "# TYPE name type"; other comments pass. */
static void
comment(struct check *c, const char *line)
{
	static const char *const types[] = { "", "counter", "gauge",
	    "histogram", "summary", "untyped" };
	const char	*p = line + 1;
	char		 kw[8], name[MAX_NAME];
	size_t		 f, i;
	int		 t;

	blanks(c, &p, 0, "");
	if (strncmp(p, "HELP", 4) != 0 && strncmp(p, "TYPE", 4) != 0)
		return;
	if (p[4] != ' ' && p[4] != '\t')
		return;		/* "# HELPER": a comment */
	memcpy(kw, p, 4);
	kw[4] = '\0';
	p += 4;
	blanks(c, &p, 1, "after HELP or TYPE");
	read_name(c, &p, name, 1, "metric name");
	f = family_enter(c, name);
	if (strcmp(kw, "HELP") == 0) {
		if (c->fam[f].help)
			die(c, "%s: second HELP", name);
		c->fam[f].help = 1;
		if (*p == '\0')
			return;	/* an empty docstring */
		blanks(c, &p, 1, "after the name");
		for (; *p != '\0'; p++) {
			if (*p != '\\')
				continue;
			if (p[1] != '\\' && p[1] != 'n')
				die(c, "%s: HELP: bad escape \\%c", name, p[1]);
			p++;
		}
		return;
	}
	if (c->fam[f].type != T_NONE)
		die(c, "%s: second TYPE", name);
	if (c->fam[f].samples > 0)
		die(c, "%s: TYPE after its samples", name);
	blanks(c, &p, 1, "after the name");
	for (t = 1; t <= T_UNTYPED; t++) {
		i = strlen(types[t]);
		if (strncmp(p, types[t], i) == 0) {
			const char *q = p + i;

			blanks(c, &q, 0, "");
			if (*q == '\0')
				break;
		}
	}
	if (t > T_UNTYPED)
		die(c, "%s: unknown type '%s'", name, p);
	c->fam[f].type = (enum ptype)t;
}

/* Reads {name="value",...} into l; returns how many labels. */
static size_t
read_labels(struct check *c, const char **p, struct label *l)
{
	const char	*s = *p;
	size_t		 n = 0, i, o;

	s++;	/* '{' */
	for (;;) {
		blanks(c, &s, 0, "");
		if (*s == '}')
			break;
		if (n == MAX_LABELS)
			die(c, "more than %d labels", MAX_LABELS);
		read_name(c, &s, l[n].name, 0, "label name");
		if (strncmp(l[n].name, "__", 2) == 0)
			die(c, "label %s: names beginning with __ are reserved",
			    l[n].name);
		for (i = 0; i < n; i++) {
			if (strcmp(l[i].name, l[n].name) == 0)
				die(c, "label %s twice", l[n].name);
		}
		blanks(c, &s, 0, "");
		if (*s++ != '=')
			die(c, "label %s: '=' expected", l[n].name);
		blanks(c, &s, 0, "");
		if (*s++ != '"')
			die(c, "label %s: '\"' expected", l[n].name);
		for (o = 0; *s != '"'; s++) {
			if (*s == '\0')
				die(c, "label %s: unterminated value",
				    l[n].name);
			if (o + 2 >= MAX_VALUE)
				die(c, "label %s: value too long", l[n].name);
			if (*s == '\\') {
				s++;
				if (*s == 'n')
					l[n].value[o++] = '\n';
				else if (*s == '\\' || *s == '"')
					l[n].value[o++] = *s;
				else
					die(c, "label %s: bad escape \\%c",
					    l[n].name, *s);
				continue;
			}
			l[n].value[o++] = *s;
		}
		l[n].value[o] = '\0';
		s++;
		n++;
		blanks(c, &s, 0, "");
		if (*s == ',') {
			s++;
			continue;
		}
		if (*s != '}')
			die(c, "',' or '}' expected after label %s",
			    l[n - 1].name);
	}
	*p = s + 1;
	return (n);
}

static int
label_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct label *)a)->name,
	    ((const struct label *)b)->name));
}

/* The labels (sorted) other than skip, as one string. */
static void
label_key(struct label *l, size_t n, const char *skip, char *buf,
    size_t size)
{
	size_t	i, used = 0;

	qsort(l, n, sizeof *l, label_cmp);
	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++) {
		if (skip != NULL && strcmp(l[i].name, skip) == 0)
			continue;
		used += (size_t)snprintf(buf + used, size - used, "%s=\"%s\",",
		    l[i].name, l[i].value);
	}
}

static const char *
label_get(const struct label *l, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(l[i].name, name) == 0)
			return (l[i].value);
	}
	return (NULL);
}

static struct hseries *
hseries_get(struct check *c, size_t fam, const char *key)
{
	size_t	i;

	for (i = 0; i < c->nhs; i++) {
		if (c->hs[i].family == fam && strcmp(c->hs[i].key, key) == 0)
			return (&c->hs[i]);
	}
	c->hs = grow(c->hs, &c->caphs, c->nhs, sizeof *c->hs);
	memset(&c->hs[c->nhs], 0, sizeof c->hs[c->nhs]);
	c->hs[c->nhs].family = fam;
	c->hs[c->nhs].last_le = -INFINITY;
	snprintf(c->hs[c->nhs].key, sizeof c->hs[c->nhs].key, "%s", key);
	return (&c->hs[c->nhs++]);
}

/* 1 when name is base + suffix. */
static int
has_suffix(const char *name, const char *base, const char *suffix)
{
	size_t	b = strlen(base);

	return (strncmp(name, base, b) == 0 && strcmp(name + b, suffix) == 0);
}

/* The family a sample name belongs to: a histogram's or summary's
   _bucket, _sum, _count go to it (its TYPE came first). */
static void
sample_family(struct check *c, const char *name, char *fam)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	size_t	i, j, len = strlen(name);

	for (i = 0; i < 3; i++) {
		j = strlen(sfx[i]);
		if (len <= j || strcmp(name + len - j, sfx[i]) != 0)
			continue;
		snprintf(fam, MAX_NAME, "%.*s", (int)(len - j), name);
		j = family_find(c, fam);
		if (j != (size_t)-1 && (c->fam[j].type == T_HISTOGRAM ||
		    (c->fam[j].type == T_SUMMARY && i > 0)))
			return;
	}
	snprintf(fam, MAX_NAME, "%s", name);
}

static void
sample(struct check *c, const char *line)
{
	struct label	 l[MAX_LABELS];
	struct hseries	*h;
	const char	*p = line, *le;
	char		 name[MAX_NAME], fname[MAX_NAME], tok[128];
	char		 key[2048], id[2400];
	size_t		 n = 0, f, i;
	double		 v, lev;

	read_name(c, &p, name, 1, "metric name");
	if (*p == '{')
		n = read_labels(c, &p, l);
	blanks(c, &p, 1, "before the value");
	read_token(c, &p, tok, sizeof tok, "value");
	v = parse_float(c, tok, name);
	if (*p != '\0') {
		blanks(c, &p, 1, "");
		if (*p != '\0') {
			read_token(c, &p, tok, sizeof tok, "timestamp");
			for (i = tok[0] == '-' ? 1 : 0; tok[i] != '\0'; i++) {
				if (!isdigit((unsigned char)tok[i]))
					die(c, "%s: bad timestamp '%s'", name,
					    tok);
			}
			blanks(c, &p, 0, "");
			if (*p != '\0')
				die(c, "%s: junk after the timestamp: '%.20s'",
				    name, p);
		}
	}
	sample_family(c, name, fname);
	f = family_enter(c, fname);
	c->fam[f].samples++;
	c->nsamples++;

	label_key(l, n, NULL, key, sizeof key);
	snprintf(id, sizeof id, "%s{%s}", name, key);
	for (i = 0; i < c->nseries; i++) {
		if (strcmp(c->series[i], id) == 0)
			die(c, "%s: the same series twice", id);
	}
	c->series = grow(c->series, &c->capseries, c->nseries,
	    sizeof *c->series);
	if ((c->series[c->nseries++] = strdup(id)) == NULL) {
		perror("promcheck");
		exit(2);
	}

	switch (c->fam[f].type) {
	case T_COUNTER:
		if (strcmp(name, fname) != 0)
			die(c, "%s: not the counter %s itself", name, fname);
		if (isnan(v) || v < 0)
			die(c, "%s: a counter is never negative or NaN", name);
		break;
	case T_GAUGE:
	case T_UNTYPED:
		if (strcmp(name, fname) != 0)
			die(c, "%s: not the metric %s itself", name, fname);
		break;
	case T_HISTOGRAM:
		le = label_get(l, n, "le");
		label_key(l, n, "le", key, sizeof key);
		h = hseries_get(c, f, key);
		if (has_suffix(name, fname, "_bucket")) {
			if (le == NULL)
				die(c, "%s: a bucket without le", name);
			lev = parse_float(c, le, "le");
			if (isnan(lev))
				die(c, "%s: le is NaN", name);
			if (h->buckets > 0 && lev <= h->last_le)
				die(c, "%s: le=\"%s\" not above the previous "
				    "bucket's", name, le);
			if (isnan(v) || v < 0 || (h->buckets > 0 &&
			    v < h->last_count))
				die(c, "%s{le=\"%s\"}: %g is below the previous "
				    "bucket (buckets are cumulative)", name, le,
				    v);
			if (h->has_sum || h->has_count)
				die(c, "%s: a bucket after _sum or _count",
				    name);
			h->buckets++;
			h->last_le = lev;
			h->last_count = v;
			if (isinf(lev) && lev > 0) {
				h->has_inf = 1;
				h->inf = v;
			}
		} else {
			if (le != NULL)
				die(c, "%s: le on a histogram's %s", name,
				    name + strlen(fname));
			if (has_suffix(name, fname, "_sum")) {
				if (h->has_sum)
					die(c, "%s: _sum twice", fname);
				h->has_sum = 1;
			} else if (has_suffix(name, fname, "_count")) {
				if (h->has_count)
					die(c, "%s: _count twice", fname);
				if (isnan(v) || v < 0)
					die(c, "%s: negative count", name);
				h->has_count = 1;
				h->count = v;
			} else
				die(c, "%s: a histogram's sample is _bucket, "
				    "_sum or _count", name);
		}
		break;
	case T_SUMMARY:
		break;
	case T_NONE:
		die(c, "%s: a sample before its family's TYPE", name);
	}
}

/* The rules that need the whole file. */
static void
finish(struct check *c)
{
	struct hseries	*h;
	size_t		 i;

	for (i = 0; i < c->nfam; i++) {
		if (!c->fam[i].help)
			die(c, "%s: no HELP", c->fam[i].name);
		if (c->fam[i].type == T_NONE)
			die(c, "%s: no TYPE", c->fam[i].name);
	}
	for (i = 0; i < c->nhs; i++) {
		h = &c->hs[i];
		if (!h->has_inf)
			die(c, "%s{%s}: no le=\"+Inf\" bucket",
			    c->fam[h->family].name, h->key);
		if (!h->has_sum)
			die(c, "%s{%s}: no _sum", c->fam[h->family].name,
			    h->key);
		if (!h->has_count)
			die(c, "%s{%s}: no _count", c->fam[h->family].name,
			    h->key);
		if (h->count != h->inf)
			die(c, "%s{%s}: _count %g differs from the +Inf "
			    "bucket %g", c->fam[h->family].name, h->key,
			    h->count, h->inf);
	}
}

static void
check_file(const char *path, const char *prefix, int quiet)
{
	struct check	 c;
	FILE		*f;
	char		*line;
	size_t		 len;
	int		 ch;
	size_t		 i;

	memset(&c, 0, sizeof c);
	c.file = path;
	c.prefix = prefix;
	c.cur = (size_t)-1;
	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "promcheck: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if ((line = malloc(MAX_LINE + 1)) == NULL) {
		perror("promcheck");
		exit(2);
	}
	for (;;) {
		len = 0;
		while ((ch = getc(f)) != EOF && ch != '\n') {
			if (ch == '\0' || ch == '\r')
				die(&c, "%s in a line", ch == 0 ? "NUL" : "CR");
			if (len == MAX_LINE)
				die(&c, "line longer than %d bytes", MAX_LINE);
			line[len++] = (char)ch;
		}
		if (ch == EOF && len == 0)
			break;
		c.line++;
		line[len] = '\0';
		if (ch == EOF)
			die(&c, "the last line does not end with a newline");
		if (len == 0)
			continue;	/* the format ignores empty lines */
		if (line[0] == '#')
			comment(&c, line);
		else
			sample(&c, line);
	}
	if (ferror(f))
		die(&c, "read: %s", strerror(errno));
	if (f != stdin)
		fclose(f);
	if (c.nsamples == 0)
		die(&c, "no samples");
	finish(&c);
	if (!quiet)
		printf("%s: %zu families, %lu samples\n", path, c.nfam,
		    c.nsamples);
	for (i = 0; i < c.nseries; i++)
		free(c.series[i]);
	free(c.series);
	free(c.fam);
	free(c.hs);
	free(line);
}

int
main(int argc, char **argv)
{
	const char	*prefix = NULL;
	int		 ch, quiet = 0;

	while ((ch = getopt(argc, argv, "p:q")) != -1) {
		switch (ch) {
		case 'p':
			prefix = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			fprintf(stderr, "usage: promcheck [-p PREFIX] [-q] "
			    "FILE...\n");
			return (2);
		}
	}
	if (optind == argc) {
		fprintf(stderr, "usage: promcheck [-p PREFIX] [-q] FILE...\n");
		return (2);
	}
	for (; optind < argc; optind++)
		check_file(argv[optind], prefix, quiet);
	return (0);
}
