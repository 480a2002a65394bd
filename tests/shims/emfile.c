/* SPDX-License-Identifier: Apache-2.0 */
/*
 * emfile.c: an LD_PRELOAD shim for tests. While the file named by
 * WALD_EMFILE_FLAG exists, accept() and accept4() fail with EMFILE without
 * taking a connection off the backlog, as they do when a process is out of
 * descriptors; every other call, and every call while the file is absent,
 * goes to the C library.
 */
#define _GNU_SOURCE
#include <sys/socket.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int	(*real_accept)(int, struct sockaddr *, socklen_t *);
static int	(*real_accept4)(int, struct sockaddr *, socklen_t *, int);

static int
out_of_descriptors(void)
{
	const char	*flag = getenv("WALD_EMFILE_FLAG");

	return (flag != NULL && access(flag, F_OK) == 0);
}

int
accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	if (out_of_descriptors()) {
		errno = EMFILE;
		return (-1);
	}
	if (real_accept == NULL)
		real_accept = (int (*)(int, struct sockaddr *, socklen_t *))
		    dlsym(RTLD_NEXT, "accept");
	return (real_accept(fd, sa, len));
}

int
accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	if (out_of_descriptors()) {
		errno = EMFILE;
		return (-1);
	}
	if (real_accept4 == NULL)
		real_accept4 = (int (*)(int, struct sockaddr *, socklen_t *,
		    int))dlsym(RTLD_NEXT, "accept4");
	return (real_accept4(fd, sa, len, flags));
}
