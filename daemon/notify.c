/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify.c: sends "KEY=value" datagrams to the socket in $NOTIFY_SOCKET
 * (a path, or an abstract name when it begins with '@'), as sd_notify(3)
 * does. Failures are logged once and otherwise ignored: the service
 * manager's absence must not stop walld.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

static struct sockaddr_un	notify_sun;
static socklen_t		notify_len;
static int			notify_fd = -1;
static uint64_t			notify_wd_usec;

void
notify_init(void)
{
	const char	*path = getenv("NOTIFY_SOCKET");
	const char	*wd = getenv("WATCHDOG_USEC");
	const char	*wdpid = getenv("WATCHDOG_PID");
	size_t		 len;

	if (wd != NULL && (wdpid == NULL || strtol(wdpid, NULL, 10) == getpid()))
		notify_wd_usec = strtoull(wd, NULL, 10);
	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof notify_sun.sun_path) {
		log_warn("NOTIFY_SOCKET: path too long; not notifying");
		return;
	}
	memset(&notify_sun, 0, sizeof notify_sun);
	notify_sun.sun_family = AF_UNIX;
	memcpy(notify_sun.sun_path, path, len);
	if (path[0] == '@')
		notify_sun.sun_path[0] = '\0';
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd == -1)
		log_warn("NOTIFY_SOCKET: socket: %s", strerror(errno));
}

uint64_t
notify_watchdog_usec(void)
{
	return (notify_wd_usec);
}

void
notify(const char *fmt, ...)
{
	static int	warned;
	char		msg[512];
	va_list		ap;
	int		n;

	if (notify_fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof msg)
		n = sizeof msg - 1;
	if (sendto(notify_fd, msg, (size_t)n, MSG_NOSIGNAL,
	    (struct sockaddr *)&notify_sun, notify_len) == -1 && !warned) {
		warned = 1;
		log_warn("NOTIFY_SOCKET: sendto: %s", strerror(errno));
	}
}
