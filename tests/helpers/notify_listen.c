/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify_listen.c: a stand-in for systemd's notification socket, for the
 * tests. Binds an AF_UNIX datagram socket at PATH (the test then starts
 * walld with NOTIFY_SOCKET=PATH) and prints each datagram it receives as
 * one line, prefixed with the sender's pid (SCM_CREDENTIALS), until
 * SECONDS have passed or it is killed. A PATH beginning with '@' names an
 * abstract socket, as in $NOTIFY_SOCKET.
 *
 *   notify_listen PATH SECONDS
 *
 * A datagram holding several "KEY=value" lines is printed one line each.
 * stdout is flushed after every datagram.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int
main(int argc, char **argv)
{
	struct sockaddr_un	 sun;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(struct ucred))];
	}			 cbuf;
	struct msghdr		 msg;
	struct iovec		 iov;
	struct cmsghdr		*cm;
	struct ucred		 cred;
	struct pollfd		 pfd;
	char			 buf[4096], *line, *save;
	long long		 deadline, left;
	ssize_t			 n;
	socklen_t		 sunlen;
	size_t			 len;
	int			 fd, on = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: notify_listen PATH SECONDS\n");
		return (64);
	}
	if ((len = strlen(argv[1])) >= sizeof sun.sun_path) {
		fprintf(stderr, "notify_listen: %s: path too long\n", argv[1]);
		return (64);
	}
	deadline = now_ms() + atoll(argv[2]) * 1000;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "notify_listen: socket: %s\n", strerror(errno));
		return (1);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
		fprintf(stderr, "notify_listen: SO_PASSCRED: %s\n",
		    strerror(errno));
		return (1);
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, argv[1], len);
	sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (argv[1][0] == '@')
		sun.sun_path[0] = '\0';
	else
		(void)unlink(argv[1]);
	if (bind(fd, (struct sockaddr *)&sun, sunlen) != 0) {
		fprintf(stderr, "notify_listen: bind %s: %s\n", argv[1],
		    strerror(errno));
		return (1);
	}

	pfd.fd = fd;
	pfd.events = POLLIN;
	while ((left = deadline - now_ms()) > 0) {
		if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "notify_listen: poll: %s\n",
			    strerror(errno));
			return (1);
		}
		if (!(pfd.revents & POLLIN))
			continue;
		memset(&msg, 0, sizeof msg);
		iov.iov_base = buf;
		iov.iov_len = sizeof buf - 1;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof cbuf.buf;
		if ((n = recvmsg(fd, &msg, 0)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "notify_listen: recvmsg: %s\n",
			    strerror(errno));
			return (1);
		}
		buf[n] = '\0';
		cred.pid = 0;
		for (cm = CMSG_FIRSTHDR(&msg); cm != NULL;
		    cm = CMSG_NXTHDR(&msg, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_CREDENTIALS)
				memcpy(&cred, CMSG_DATA(cm), sizeof cred);
		for (line = strtok_r(buf, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			printf("%ld %s\n", (long)cred.pid, line);
		fflush(stdout);
	}
	return (0);
}
