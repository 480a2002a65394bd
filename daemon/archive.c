/* SPDX-License-Identifier: Apache-2.0 */
/*
 * archive.c: ships sealed segments with archive.command. Owns the child
 * process running the command (at most one), its back-off timer, and the
 * ARCHIVED file in the data directory (the name of the last segment
 * archived, replaced by temp file, fsync, rename, directory fsync).
 *
 * A run longer than archive.timeout (when set) is stopped as a stop is:
 * SIGTERM to its process group; SIGKILL to the group once the shell has
 * ended (a member that ignored SIGTERM would outlive it), or
 * ARCHIVE_KILL_WAIT_MS later if the shell has not. The shell is reaped
 * only after that SIGKILL: until then its zombie holds the group's id, so
 * the signal cannot reach a group that reused it. Timers on the loop, not
 * a wait, as walld goes on serving. The run then counts as a failure,
 * retried after the back-off.
 *
 * Order: a segment is archived only after every segment before it, and
 * ARCHIVED moves on only after the command exited 0, so after a crash or
 * a stop the command may run again for the segment it was running for,
 * never for an earlier one, and no segment is skipped. "Sealed" is read
 * from the file itself (a valid footer at its end, which the engine writes
 * and syncs before it cuts the file there), so this file needs nothing
 * from the engine but the directory listing.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "archive.h"
#include "cause.h"
#include "log.h"
#include "segment.h"
#include "sysio.h"

#define ARCHIVE_KILL_WAIT_MS	2000	/* SIGTERM, then SIGKILL */
#define ARCHIVE_STATE_MAX	64	/* bytes of ARCHIVED read */

extern char **environ;

struct archive {
	struct event_base	*base;
	char			*dir;		/* as configured, for logs */
	char			*abs_dir;	/* absolute, for %p */
	int			 dirfd;
	char			*command;	/* NULL: off */
	uint64_t		 retry_min;	/* microseconds */
	uint64_t		 retry_max;
	uint64_t		 delay;		/* the next back-off */
	uint64_t		 timeout;	/* per run; 0: none */
	uint64_t		 run_timeout;	/* the run under way's */

	int			 have_done;
	uint64_t		 done;		/* first LSN of the last archived */
	uint64_t		 sealed_upto;	/* segments up to here are sealed */
	uint64_t		 seen_active;	/* for archive_check */
	int			 seen_sealed;
	int			 all_sealed;	/* the last scan found no active */
	uint64_t		 backlog;

	pid_t			 pid;		/* -1: nothing running */
	uint64_t		 cur;		/* its segment's first LSN */
	struct timespec		 started;
	int			 outfd;		/* its stdout and stderr */
	char			 out[512];	/* their first bytes */
	size_t			 outlen;

	struct event		*chld_ev;	/* SIGCHLD */
	struct event		*out_ev;
	struct event		*retry_ev;
	struct event		*timeout_ev;	/* the run's time is up */
	int			 stopping;	/* past its time: SIGTERM sent */
	uint64_t		 archived;
	uint64_t		 failures;
	unsigned		 failing;
};

static void	archive_kick(struct archive *);

/* Milliseconds since ts (CLOCK_MONOTONIC). */
static long long
archive_ms_since(const struct timespec *ts)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((long long)(now.tv_sec - ts->tv_sec) * 1000 +
	    (now.tv_nsec - ts->tv_nsec) / 1000000);
}

/* Writes a delay as "250ms" or "4s". */
static void
archive_fmt_delay(char *buf, size_t size, uint64_t usec)
{
	if (usec % 1000000 == 0)
		snprintf(buf, size, "%llus", (unsigned long long)(usec / 1000000));
	else
		snprintf(buf, size, "%llums", (unsigned long long)(usec / 1000));
}

/* Reads ARCHIVED: the last segment archived. A missing file means none;
   an unreadable one is logged and means none too (archiving starts again
   from the oldest segment: twice rather than never). */
static void
archive_load(struct archive *ar)
{
	char	buf[ARCHIVE_STATE_MAX + 1];
	ssize_t	n;
	int	fd;

	ar->have_done = 0;
	fd = openat(ar->dirfd, ARCHIVED_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		if (errno != ENOENT)
			log_warn("archive: %s/%s: open: %s; archiving from the "
			    "oldest segment", ar->dir, ARCHIVED_NAME,
			    strerror(errno));
		return;
	}
	n = read(fd, buf, ARCHIVE_STATE_MAX);
	close(fd);
	if (n < 0) {
		log_warn("archive: %s/%s: read: %s; archiving from the oldest "
		    "segment", ar->dir, ARCHIVED_NAME, strerror(errno));
		return;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	if (segment_parse_name(buf, &ar->done) != 0) {
		log_warn("archive: %s/%s: not a segment name; archiving from "
		    "the oldest segment", ar->dir, ARCHIVED_NAME);
		return;
	}
	ar->have_done = 1;
	log_info("archive: last segment archived: %s", buf);
}

/* Replaces ARCHIVED with the name of the segment beginning at first:
   temp file, fsync, rename, fsync of the directory. */
static int
archive_save(struct archive *ar, uint64_t first)
{
	char		 name[SEG_NAME_SIZE], line[SEG_NAME_SIZE + 1];
	const char	*call = "open";
	size_t		 len;
	int		 fd;

	segment_name(name, first);
	len = (size_t)snprintf(line, sizeof line, "%s\n", name);
	/* Through sysio, as the WAL's own files: the fault-injection tests
	   reach this file too. */
	fd = sysio.openat(ar->dirfd, ARCHIVED_TMP_NAME, O_WRONLY | O_CREAT |
	    O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		goto fail;
	call = "write";
	if (sysio.pwrite(fd, line, len, 0) != (ssize_t)len) {
		if (errno == 0)
			errno = EIO;
		sysio.close(fd);
		goto fail;
	}
	call = "fsync";
	if (sysio.fsync(fd) != 0) {
		sysio.close(fd);
		goto fail;
	}
	call = "close";
	if (sysio.close(fd) != 0)
		goto fail;
	call = "rename";
	if (sysio.renameat(ar->dirfd, ARCHIVED_TMP_NAME, ar->dirfd,
	    ARCHIVED_NAME) != 0)
		goto fail;
	call = "fsync directory";
	if (sysio.fsync(ar->dirfd) != 0)
		goto fail;
	return (0);
fail:
	log_limited("archive state", LOG_LVL_ERR, "archive: %s/%s: %s: %s; "
	    "after a restart %s may be archived again", ar->dir,
	    ARCHIVED_TMP_NAME, call, strerror(errno), name);
	return (-1);
}

/* 1 when the segment file has a valid footer at its end (sealed). */
static int
archive_sealed(struct archive *ar, const char *name, uint64_t first)
{
	struct seg_header	 h;
	struct seg_footer	 f;
	struct stat		 sb;
	const char		*why = NULL;
	int			 fd, rc;

	if ((fd = openat(ar->dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	rc = fstat(fd, &sb) == 0 && segment_read_header(fd, &h, &why) == 0 ?
	    segment_read_footer(fd, (uint64_t)sb.st_size, first, h.seed, &f,
	    &why) : -1;
	close(fd);
	return (rc == 1);
}

static void
archive_ignore_cb(void *arg, const char *name)
{
	(void)arg;
	(void)name;
}

/*
 * Lists the directory: counts the sealed segments not archived yet (the
 * backlog) and returns the first LSN of the first of them, 0 for none.
 */
static uint64_t
archive_scan(struct archive *ar)
{
	struct seg_ent	*ents = NULL;
	size_t		 n = 0, i;
	uint64_t	 next = 0;
	char		*cause = NULL;

	ar->backlog = 0;
	if (segment_list(ar->dirfd, ar->dir, &ents, &n, archive_ignore_cb,
	    archive_ignore_cb, NULL, &cause) != 0) {
		log_limited("archive scan", LOG_LVL_ERR, "archive: %s",
		    cause != NULL ? cause : "cannot list the data directory");
		free(cause);
		return (0);
	}
	ar->all_sealed = 1;
	for (i = 0; i < n; i++) {
		if (ar->have_done && ents[i].first <= ar->done)
			continue;
		if (ents[i].first > ar->sealed_upto) {
			if (!archive_sealed(ar, ents[i].name, ents[i].first)) {
				/* The active segment: nothing after it. */
				ar->all_sealed = 0;
				break;
			}
			ar->sealed_upto = ents[i].first;
		}
		if (next == 0)
			next = ents[i].first;
		ar->backlog++;
	}
	free(ents);
	return (next);
}

/* "cp %p /backup/%f": %p the segment's path, %f its name, %% a %; any
   other % stays as it is (as PostgreSQL does). */
static char *
archive_expand(const char *cmd, const char *path, const char *name)
{
	const char	*s, *put;
	char		*buf, *o;
	size_t		 len = 0;

	for (s = cmd; *s != '\0'; s++) {
		if (*s == '%' && s[1] == 'p')
			len += strlen(path), s++;
		else if (*s == '%' && s[1] == 'f')
			len += strlen(name), s++;
		else if (*s == '%' && s[1] == '%')
			len++, s++;
		else
			len++;
	}
	if ((buf = malloc(len + 1)) == NULL)
		return (NULL);
	for (s = cmd, o = buf; *s != '\0'; s++) {
		put = NULL;
		if (*s == '%' && s[1] == 'p')
			put = path;
		else if (*s == '%' && s[1] == 'f')
			put = name;
		if (put != NULL) {
			memcpy(o, put, strlen(put));
			o += strlen(put);
			s++;
			continue;
		}
		if (*s == '%' && s[1] == '%')
			s++;
		*o++ = *s;
	}
	*o = '\0';
	return (buf);
}

/* Keeps the first bytes the command writes; drops the rest. */
static void
archive_drain(struct archive *ar)
{
	char	buf[4096];
	ssize_t	n;
	size_t	room;

	if (ar->outfd == -1)
		return;
	for (;;) {
		n = read(ar->outfd, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		room = sizeof ar->out - 1 - ar->outlen;
		if (room > (size_t)n)
			room = (size_t)n;
		memcpy(ar->out + ar->outlen, buf, room);
		ar->outlen += room;
	}
	ar->out[ar->outlen] = '\0';
	if (n == 0 && ar->out_ev != NULL)	/* end of file: stop watching */
		event_del(ar->out_ev);
}

static void
archive_out_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	archive_drain(arg);
}

/* Closes the command's output pipe. */
static void
archive_close_out(struct archive *ar)
{
	if (ar->out_ev != NULL) {
		event_free(ar->out_ev);
		ar->out_ev = NULL;
	}
	if (ar->outfd != -1) {
		close(ar->outfd);
		ar->outfd = -1;
	}
}

/* The first line of the command's output, printable, for a log line. */
static void
archive_first_line(const struct archive *ar, char *buf, size_t size)
{
	size_t	i, o = 0;

	for (i = 0; i < ar->outlen && ar->out[i] != '\n' && o + 1 < size; i++)
		buf[o++] = (ar->out[i] < 0x20 || ar->out[i] == 0x7f) ? '?' :
		    ar->out[i];
	buf[o] = '\0';
}

/* Schedules the next try after the back-off, and doubles it. */
static void
archive_backoff(struct archive *ar)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(ar->delay / 1000000);
	tv.tv_usec = (suseconds_t)(ar->delay % 1000000);
	evtimer_add(ar->retry_ev, &tv);
	ar->delay = ar->delay > ar->retry_max / 2 ? ar->retry_max :
	    ar->delay * 2;
	if (ar->delay < ar->retry_min)
		ar->delay = ar->retry_min;
}

/* A run failed (why says how): counted, logged, retried later. */
static void
archive_failed(struct archive *ar, const char *name, const char *why)
{
	char	line[200], wait[32];

	ar->failures++;
	ar->failing++;
	archive_first_line(ar, line, sizeof line);
	archive_fmt_delay(wait, sizeof wait, ar->delay);
	log_limited("archive failed", LOG_LVL_WARN, "archive: %s: %s%s%s%s; "
	    "retrying in %s (%u in a row)", name, why, line[0] != '\0' ? " (" :
	    "", line, line[0] != '\0' ? ")" : "", wait, ar->failing);
	archive_backoff(ar);
}

/* Arms the run's timer for usec from now. */
static void
archive_timer(struct archive *ar, uint64_t usec)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	if (evtimer_add(ar->timeout_ev, &tv) != 0)
		log_warn("archive: cannot time the command; it may run "
		    "past archive.timeout");
}

/* A signal to the run's process group; ESRCH (all gone) is no error. */
static void
archive_signal(struct archive *ar, int sig)
{
	if (kill(-ar->pid, sig) != 0 && errno != ESRCH)
		log_err("archive: kill %ld: %s", -(long)ar->pid,
		    strerror(errno));
}

/* The run's time is up: SIGTERM to its process group, then SIGKILL if it
   is still there ARCHIVE_KILL_WAIT_MS later. Its end (SIGCHLD) does the
   rest, as a failure unless it exited 0 meanwhile. */
static void
archive_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct archive	*ar = arg;
	char		 name[SEG_NAME_SIZE], limit[32];

	(void)fd;
	(void)what;
	if (ar->pid == -1)
		return;
	segment_name(name, ar->cur);
	if (!ar->stopping) {
		archive_fmt_delay(limit, sizeof limit, ar->run_timeout);
		log_warn("archive: %s: the command (pid %ld) ran longer than "
		    "archive.timeout (%s): stopping it", name, (long)ar->pid,
		    limit);
		archive_signal(ar, SIGTERM);
		ar->stopping = 1;
		archive_timer(ar, (uint64_t)ARCHIVE_KILL_WAIT_MS * 1000);
		return;
	}
	log_warn("archive: %s: the command (pid %ld) is still there %d ms "
	    "after SIGTERM: SIGKILL", name, (long)ar->pid,
	    ARCHIVE_KILL_WAIT_MS);
	archive_signal(ar, SIGKILL);
}

/* Whether the shell of a run has ended, without reaping it: 1 yes, 0 no,
   -1 on an error (logged). */
static int
archive_exited(struct archive *ar)
{
	siginfo_t	si;

	memset(&si, 0, sizeof si);
	while (waitid(P_PID, (id_t)ar->pid, &si, WEXITED | WNOHANG |
	    WNOWAIT) == -1) {
		if (errno != EINTR) {
			log_err("archive: waitid %ld: %s", (long)ar->pid,
			    strerror(errno));
			return (-1);
		}
	}
	return (si.si_pid != 0);
}

/* Starts the command for the segment beginning at first. */
static void
archive_start(struct archive *ar, uint64_t first)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 none, dfl;
	char				 name[SEG_NAME_SIZE], *path = NULL;
	char				*cmd = NULL;
	char				*argv[4];
	int				 p[2] = { -1, -1 }, rc;
	static const int		 sigs[] = { SIGPIPE, SIGCHLD, SIGHUP,
	    SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGXFSZ };
	size_t				 i;

	segment_name(name, first);
	ar->cur = first;
	ar->outlen = 0;
	ar->out[0] = '\0';
	if (asprintf(&path, "%s/%s", ar->abs_dir, name) == -1) {
		path = NULL;
		archive_failed(ar, name, "out of memory");
		return;
	}
	if ((cmd = archive_expand(ar->command, path, name)) == NULL) {
		free(path);
		archive_failed(ar, name, "out of memory");
		return;
	}
	free(path);
	/* Non-blocking on our end only: the command's end is its stdout. */
	if (pipe2(p, O_CLOEXEC) != 0 ||
	    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK) == -1) {
		snprintf(ar->out, sizeof ar->out, "pipe: %s", strerror(errno));
		ar->outlen = strlen(ar->out);
		if (p[0] != -1) {
			close(p[0]);
			close(p[1]);
		}
		free(cmd);
		archive_failed(ar, name, "cannot start the command");
		return;
	}
	/* The command gets /dev/null as stdin and our pipe as stdout and
	   stderr, default signal handling (walld ignores SIGPIPE), no
	   blocked signals, and a process group of its own: a stop ends the
	   whole pipeline, and a Ctrl-C meant for walld does not reach it. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&dfl);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(&dfl, sigs[i]);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = cmd;
	argv[3] = NULL;
	rc = posix_spawn(&ar->pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(cmd);
	close(p[1]);
	if (rc != 0) {
		ar->pid = -1;
		close(p[0]);
		snprintf(ar->out, sizeof ar->out, "posix_spawn /bin/sh: %s",
		    strerror(rc));
		ar->outlen = strlen(ar->out);
		archive_failed(ar, name, "cannot start the command");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ar->started);
	ar->stopping = 0;
	ar->run_timeout = ar->timeout;
	if (ar->run_timeout > 0)
		archive_timer(ar, ar->run_timeout);
	ar->outfd = p[0];
	ar->out_ev = event_new(ar->base, ar->outfd, EV_READ | EV_PERSIST,
	    archive_out_cb, ar);
	if (ar->out_ev == NULL || event_add(ar->out_ev, NULL) != 0)
		log_warn("archive: cannot watch the output of the command");
	log_debug("archive: %s: started (pid %ld)", name, (long)ar->pid);
}

/* The child ended with status: ARCHIVED moves on, or a retry waits. */
static void
archive_ended(struct archive *ar, int status)
{
	char	name[SEG_NAME_SIZE], how[48], why[128], limit[32];

	segment_name(name, ar->cur);
	ar->pid = -1;
	if (evtimer_del(ar->timeout_ev) != 0)
		log_warn("archive: cannot stop the command's timer");
	archive_drain(ar);
	archive_close_out(ar);
	/* Exit status 0 is a success even when the time was up: the copy
	   finished before the signal could stop it. */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		ar->done = ar->cur;
		ar->have_done = 1;
		ar->archived++;
		(void)archive_save(ar, ar->cur);
		if (ar->failing > 0)
			log_info("archive: %s archived after %u failed "
			    "attempts", name, ar->failing);
		else
			log_info("archive: %s archived (%lld ms)", name,
			    archive_ms_since(&ar->started));
		ar->failing = 0;
		ar->delay = ar->retry_min;
		archive_kick(ar);
		return;
	}
	if (WIFEXITED(status))
		snprintf(how, sizeof how, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(how, sizeof how, "killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(how, sizeof how, "ended with status 0x%x",
		    (unsigned)status);
	if (ar->stopping) {
		archive_fmt_delay(limit, sizeof limit, ar->run_timeout);
		snprintf(why, sizeof why, "stopped after archive.timeout (%s): "
		    "command %s", limit, how);
	} else
		snprintf(why, sizeof why, "command %s", how);
	archive_failed(ar, name, why);
}

/* SIGCHLD: reaps our child, if it is the one that ended. */
static void
archive_chld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct archive	*ar = arg;
	pid_t		 r;
	int		 status, ended;

	(void)sig;
	(void)what;
	if (ar->pid == -1)
		return;
	/* A run being stopped: what is left of its group goes once its
	   shell has ended, before the shell is reaped (see the top). */
	if (ar->stopping) {
		if ((ended = archive_exited(ar)) == 0)
			return;
		if (ended == 1)		/* not on an error: no zombie then */
			archive_signal(ar, SIGKILL);
	}
	do
		r = waitpid(ar->pid, &status, WNOHANG);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return;
	if (r == -1) {
		log_err("archive: waitpid %ld: %s", (long)ar->pid,
		    strerror(errno));
		status = 0x7f00;	/* "exited with status 127" */
	}
	archive_ended(ar, status);
}

static void
archive_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	archive_kick(arg);
}

/* Rescans; starts the next segment when nothing runs or waits. */
static void
archive_kick(struct archive *ar)
{
	uint64_t	next;

	if (ar->command == NULL) {
		ar->backlog = 0;
		return;
	}
	next = archive_scan(ar);
	if (ar->pid != -1 || evtimer_pending(ar->retry_ev, NULL) || next == 0)
		return;
	archive_start(ar, next);
}

struct archive *
archive_create(struct event_base *base, const char *dir, const char *command,
    uint64_t retry_min, uint64_t retry_max, uint64_t timeout, char **cause)
{
	struct archive	*ar;
	char		 real[PATH_MAX];

	if ((ar = calloc(1, sizeof *ar)) == NULL)
		goto nomem;
	ar->base = base;
	ar->pid = -1;
	ar->outfd = -1;
	ar->dirfd = -1;
	if ((ar->dir = strdup(dir)) == NULL)
		goto nomem;
	/* %p is absolute, so that a command may change directory. */
	ar->abs_dir = strdup(realpath(dir, real) != NULL ? real : dir);
	if (ar->abs_dir == NULL)
		goto nomem;
	if ((ar->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		cause_set(cause, "archive: %s: open: %s", dir,
		    strerror(errno));
		archive_free(ar);
		return (NULL);
	}
	ar->chld_ev = evsignal_new(base, SIGCHLD, archive_chld_cb, ar);
	ar->retry_ev = evtimer_new(base, archive_retry_cb, ar);
	ar->timeout_ev = evtimer_new(base, archive_timeout_cb, ar);
	if (ar->chld_ev == NULL || ar->retry_ev == NULL ||
	    ar->timeout_ev == NULL ||
	    evsignal_add(ar->chld_ev, NULL) != 0) {
		*cause = strdup("archive: cannot watch child processes");
		archive_free(ar);
		return (NULL);
	}
	archive_load(ar);
	archive_reload(ar, command, retry_min, retry_max, timeout);
	return (ar);
nomem:
	*cause = strdup("out of memory");
	if (ar != NULL)
		archive_free(ar);
	return (NULL);
}

void
archive_reload(struct archive *ar, const char *command, uint64_t retry_min,
    uint64_t retry_max, uint64_t timeout)
{
	char	*copy = NULL;
	int	 changed;

	ar->timeout = timeout;		/* from the next run on */
	ar->retry_min = retry_min;
	ar->retry_max = retry_max < retry_min ? retry_min : retry_max;
	changed = (command == NULL) != (ar->command == NULL) ||
	    (command != NULL && strcmp(command, ar->command) != 0);
	if (!changed) {
		if (ar->delay < ar->retry_min || ar->delay > ar->retry_max)
			ar->delay = ar->retry_min;
		return;
	}
	if (command != NULL && (copy = strdup(command)) == NULL) {
		log_err("archive: out of memory; keeping the running command");
		return;
	}
	free(ar->command);
	ar->command = copy;
	ar->delay = ar->retry_min;
	if (ar->command == NULL) {
		log_info("archive: off (no archive.command)%s", ar->pid != -1 ?
		    "; the command running now is let finish" : "");
		evtimer_del(ar->retry_ev);
		ar->backlog = 0;
		return;
	}
	log_info("archive: command: %s", ar->command);
	/* A new command is tried now, not after the old one's back-off. */
	evtimer_del(ar->retry_ev);
	archive_kick(ar);
}

void
archive_check(struct archive *ar, uint64_t active_first, int sealed)
{
	if (ar->command == NULL)
		return;
	/* Once the log is sealed (or a seal is pending), look again after
	   each batch until a scan made since finds the last segment sealed. */
	if (active_first == ar->seen_active && !(sealed && (!ar->seen_sealed ||
	    !ar->all_sealed)))
		return;
	ar->seen_active = active_first;
	ar->seen_sealed = sealed;
	archive_kick(ar);
}

uint64_t
archive_hold(struct archive *ar, char *name, size_t size)
{
	struct seg_ent	*ents = NULL;
	size_t		 n = 0, i;
	uint64_t	 hold = UINT64_MAX;
	char		*cause = NULL;

	if (ar->command == NULL)
		return (UINT64_MAX);
	if (segment_list(ar->dirfd, ar->dir, &ents, &n, archive_ignore_cb,
	    archive_ignore_cb, NULL, &cause) != 0) {
		/* Cannot tell: hold everything rather than lose a segment. */
		log_err("archive: %s", cause != NULL ? cause :
		    "cannot list the data directory");
		free(cause);
		snprintf(name, size, "(unknown)");
		return (0);
	}
	/* The first segment not archived; when it is the active one, every
	   sealed segment is archived, and the engine keeps the active one. */
	for (i = 0; i < n; i++) {
		if (ar->have_done && ents[i].first <= ar->done)
			continue;
		if (ents[i].first <= ar->sealed_upto ||
		    archive_sealed(ar, ents[i].name, ents[i].first)) {
			hold = ents[i].first;
			snprintf(name, size, "%s", ents[i].name);
		}
		break;
	}
	free(ents);
	return (hold);
}

int
archive_enabled(struct archive *ar)
{
	return (ar->command != NULL);
}

void
archive_stats(struct archive *ar, struct archive_stats *st)
{
	memset(st, 0, sizeof *st);
	st->enabled = ar->command != NULL;
	st->running = ar->pid != -1;
	st->backlog = ar->backlog;
	st->archived = ar->archived;
	st->failures = ar->failures;
	st->failing = ar->failing;
	if (ar->have_done)
		segment_name(st->last, ar->done);
}

/* Ends a command still running: SIGTERM to its process group, SIGKILL to
   the group once the shell has ended or after ARCHIVE_KILL_WAIT_MS, then
   the shell is reaped. Blocks (at most that long): only at exit. */
static void
archive_stop_child(struct archive *ar)
{
	struct timespec	ts = { 0, 10 * 1000000 };
	char		name[SEG_NAME_SIZE];
	int		status, ended, waited = 0;
	pid_t		r;

	if (ar->pid == -1)
		return;
	segment_name(name, ar->cur);
	log_warn("archive: stopping the command for %s (pid %ld); it runs "
	    "again at the next start", name, (long)ar->pid);
	archive_signal(ar, SIGTERM);
	while ((ended = archive_exited(ar)) == 0 &&
	    waited < ARCHIVE_KILL_WAIT_MS) {
		nanosleep(&ts, NULL);
		waited += 10;
	}
	if (ended != -1)
		archive_signal(ar, SIGKILL);
	do
		r = waitpid(ar->pid, &status, 0);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		log_err("archive: waitpid %ld: %s", (long)ar->pid,
		    strerror(errno));
	ar->pid = -1;
}

void
archive_free(struct archive *ar)
{
	if (ar == NULL)
		return;
	archive_stop_child(ar);
	archive_close_out(ar);
	if (ar->chld_ev != NULL)
		event_free(ar->chld_ev);
	if (ar->retry_ev != NULL)
		event_free(ar->retry_ev);
	if (ar->timeout_ev != NULL)
		event_free(ar->timeout_ev);
	if (ar->dirfd != -1)
		close(ar->dirfd);
	free(ar->command);
	free(ar->abs_dir);
	free(ar->dir);
	free(ar);
}
