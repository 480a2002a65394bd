/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rawclient.c: a raw-protocol test client for walld. It sends whatever the
 * command line says, frames well or badly formed, and prints one line per
 * frame it gets back, so that tests can play a misbehaving client and check
 * the daemon's answers. It uses proto/frame.c and nothing of libwal.
 *
 *   rawclient [-s SOCKET] [-t TIMEOUT_MS] COMMAND...
 *   rawclient [-s SOCKET] idle N     hold N connections (see cmd_idle)
 *
 * Lines printed for frames received:
 *   hello-reply id=1 version=1 max_record=1048576 max_frame=1048600
 *   error id=3 code=bad_request msg=...
 *   append-reply id=2 value=17        (every reply whose body is one u64)
 *   record id=4 lsn=17 tenant=3 len=5
 *   read-end id=4 value=18
 *   stats-reply id=5 bytes=1400 / ping-reply id=6
 *   eof | reset | timeout | bad-frame WHY
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

#define RAW_BUF		(WIRE_MAX_FRAME_HARD + 64)

struct raw {
	int		 fd;
	int		 timeout_ms;
	uint64_t	 next_id;
	uint8_t		*in;		/* received, not yet printed */
	size_t		 in_len;
	int		 eof;
};

static void
usage(void)
{
	fprintf(stderr,
"usage: rawclient [-s SOCKET] [-t TIMEOUT_MS] COMMAND...\n"
"       rawclient [-s SOCKET] [-t TIMEOUT_MS] idle N\n"
"commands (ids count up from 1 unless given):\n"
"  hello | hello-v MIN MAX       HELLO\n"
"  frame LEN OP FLAGS ID HEX|-   a frame with any header; HEX is the body\n"
"  raw HEX                       bytes as they are\n"
"  append TENANT TEXT | append-nowait TENANT TEXT\n"
"  appends N TENANT SIZE         N appends in a row, nothing read\n"
"  read FROM TO [TENANT]         READ, with a tenant filter if given\n"
"  read-follow FROM TO [TENANT]  the same with FOLLOW\n"
"  sync | seal | rotate | stats | ping | truncate LSN\n"
"  shutwr                        shutdown(SHUT_WR)\n"
"  sleep MS\n"
"  recv N                        print N frames\n"
"  recv-all                      print frames until end of stream\n"
"  flood TENANT SIZE             appends without reading, until cut off\n");
	exit(64);
}

static int
raw_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		close(fd);
		errno = ENAMETOOLONG;
		return (-1);
	}
	strcpy(sun.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* Sends all of buf; prints the error and returns -1 when the peer is
   gone. */
static int
raw_send(struct raw *r, const void *buf, size_t n)
{
	const uint8_t	*p = buf;
	ssize_t		 w;

	while (n > 0) {
		w = send(r->fd, p, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1) {
			printf("send-error %s\n", strerror(errno));
			return (-1);
		}
		p += w;
		n -= (size_t)w;
	}
	return (0);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* Decodes hex ("-" is empty) into a malloc'd buffer. */
static uint8_t *
unhex(const char *s, size_t *n)
{
	uint8_t	*b;
	size_t	 len = strcmp(s, "-") == 0 ? 0 : strlen(s), i;

	if (len % 2 != 0 || (b = malloc(len / 2 + 1)) == NULL)
		usage();
	for (i = 0; i < len / 2; i++) {
		if (hexval(s[2 * i]) < 0 || hexval(s[2 * i + 1]) < 0)
			usage();
		b[i] = (uint8_t)(hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
	}
	*n = len / 2;
	return (b);
}

static uint64_t
num(const char *s)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (*s == '\0' || *end != '\0' || errno != 0)
		usage();
	return (v);
}

/* Prints one whole frame (hdr and body). */
static void
raw_print(const struct wire_hdr *h, const uint8_t *body, size_t n)
{
	struct wire_hello_reply	 hr;
	struct wire_error	 e;
	struct wire_record	 rec;
	const char		*why;
	uint64_t		 v;
	size_t			 i;

	switch (h->op) {
	case WIRE_OP_HELLO | WIRE_REPLY:
		if (wire_dec_hello_reply(body, n, &hr, &why) != 0)
			break;
		printf("hello-reply id=%" PRIu64 " version=%u max_record=%u "
		    "max_frame=%u\n", h->id, hr.version, hr.max_record,
		    hr.max_frame);
		return;
	case WIRE_OP_ERROR:
		if (wire_dec_error(body, n, &e, &why) != 0)
			break;
		printf("error id=%" PRIu64 " code=%s msg=", h->id,
		    wire_err_name(e.code));
		for (i = 0; i < e.msg_len; i++)
			putchar(e.msg[i] == '\n' ? ' ' : e.msg[i]);
		putchar('\n');
		return;
	case WIRE_OP_RECORD:
		if (wire_dec_record(body, n, &rec, &why) != 0)
			break;
		printf("record id=%" PRIu64 " lsn=%" PRIu64 " tenant=%u "
		    "len=%u\n", h->id, rec.lsn, rec.tenant, rec.len);
		return;
	case WIRE_OP_STATS | WIRE_REPLY:
		printf("stats-reply id=%" PRIu64 " bytes=%zu\n", h->id, n);
		return;
	case WIRE_OP_PING | WIRE_REPLY:
		printf("ping-reply id=%" PRIu64 "\n", h->id);
		return;
	default:
		if (wire_dec_u64(body, n, &v, &why) != 0)
			break;
		printf("%s id=%" PRIu64 " value=%" PRIu64 "\n",
		    wire_op_name(h->op), h->id, v);
		return;
	}
	printf("bad-frame op=0x%02x len=%u: body does not decode\n", h->op,
	    h->len);
}

/* Reads and prints one frame. 1 printed, 0 end of stream / timeout /
   error (also printed). */
static int
raw_recv(struct raw *r)
{
	struct wire_hdr	 h;
	struct pollfd	 pfd;
	const char	*why;
	ssize_t		 n;
	int		 rc;

	for (;;) {
		rc = wire_peek_hdr(r->in, r->in_len, WIRE_MAX_FRAME_HARD, &h,
		    &why);
		if (rc < 0) {
			printf("bad-frame %s\n", why);
			return (0);
		}
		if (rc == 1 && r->in_len >= h.len) {
			raw_print(&h, r->in + WIRE_HDR_LEN, h.len - WIRE_HDR_LEN);
			memmove(r->in, r->in + h.len, r->in_len - h.len);
			r->in_len -= h.len;
			return (1);
		}
		if (r->eof) {
			printf(r->in_len > 0 ? "eof-in-frame\n" : "eof\n");
			return (0);
		}
		pfd.fd = r->fd;
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, r->timeout_ms);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == 0) {
			printf("timeout\n");
			return (0);
		}
		n = recv(r->fd, r->in + r->in_len, RAW_BUF - r->in_len, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			printf(errno == ECONNRESET ? "reset\n" : "recv-error %s\n",
			    strerror(errno));
			return (0);
		}
		if (n == 0)
			r->eof = 1;
		r->in_len += (size_t)n;
	}
}

/* Sends a frame: the encoded header part, then tail bytes. */
static int
raw_frame(struct raw *r, const uint8_t *hdr, size_t n, const void *tail,
    size_t tail_len)
{
	if (raw_send(r, hdr, n) != 0)
		return (-1);
	return (tail_len > 0 ? raw_send(r, tail, tail_len) : 0);
}

/* Appends without reading until the daemon cuts the connection off. */
static void
raw_flood(struct raw *r, uint32_t tenant, size_t size)
{
	uint8_t		 hdr[WIRE_ENC_MAX], *payload;
	uint64_t	 count = 0, bytes = 0;
	size_t		 n;

	if ((payload = calloc(1, size + 1)) == NULL)
		exit(2);
	for (;;) {
		n = wire_enc_append(hdr, r->next_id++, 0, 1, 0, tenant,
		    (uint32_t)size);
		if (raw_send(r, hdr, n) != 0 || raw_send(r, payload, size) != 0)
			break;
		count++;
		bytes += n + size;
	}
	printf("flood: cut off after %" PRIu64 " appends (%" PRIu64
	    " bytes)\n", count, bytes);
	free(payload);
}

/* Milliseconds on the monotonic clock. */
static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * idle N: opens N connections, says HELLO on each, waits for the replies
 * (all within the -t timeout), prints "ready OK busy=B silent=S" (OK hello
 * replies, B errors such as busy, S with no answer in time), then holds
 * every connection until stdin reaches its end, and prints "done".
 */
static int
cmd_idle(const char *path, long n, int timeout_ms)
{
	uint8_t		 buf[WIRE_ENC_MAX], rbuf[512];
	struct wire_hdr	 h;
	struct pollfd	 pfd;
	const char	*why;
	int		*fds;
	long		 i, ok = 0, busy = 0;
	long long	 deadline, left;
	size_t		 len, got;
	ssize_t		 k;
	char		 line[16];

	if (n < 1 || (fds = calloc((size_t)n, sizeof *fds)) == NULL)
		usage();
	for (i = 0; i < n; i++) {
		if ((fds[i] = raw_connect(path)) == -1) {
			fprintf(stderr, "rawclient: connection %ld: %s\n", i,
			    strerror(errno));
			break;
		}
		/* A refused connection may be closed already: its error
		   reply is read below all the same. */
		len = wire_enc_hello(buf, 1, WIRE_VERSION, WIRE_VERSION);
		if (send(fds[i], buf, len, MSG_NOSIGNAL) != (ssize_t)len &&
		    errno != EPIPE && errno != ECONNRESET) {
			fprintf(stderr, "rawclient: hello %ld: %s\n", i,
			    strerror(errno));
			break;
		}
	}
	n = i;
	deadline = now_ms() + timeout_ms;
	for (i = 0; i < n; i++) {
		got = 0;
		for (;;) {
			left = deadline - now_ms();
			pfd.fd = fds[i];
			pfd.events = POLLIN;
			if (left <= 0 || poll(&pfd, 1, (int)left) != 1)
				break;
			k = recv(fds[i], rbuf + got, sizeof rbuf - got, 0);
			if (k <= 0)
				break;
			got += (size_t)k;
			if (wire_peek_hdr(rbuf, got, 0, &h, &why) == 1 &&
			    got >= h.len)
				break;
		}
		if (got >= WIRE_HDR_LEN && rbuf[4] == (WIRE_OP_HELLO |
		    WIRE_REPLY))
			ok++;
		else if (got >= WIRE_HDR_LEN && rbuf[4] == WIRE_OP_ERROR)
			busy++;
	}
	printf("ready %ld busy=%ld silent=%ld\n", ok, busy, n - ok - busy);
	fflush(stdout);
	while (fgets(line, sizeof line, stdin) != NULL)
		;
	for (i = 0; i < n; i++)
		close(fds[i]);
	printf("done\n");
	free(fds);
	return (ok == n ? 0 : 1);
}

int
main(int argc, char **argv)
{
	struct raw		 r;
	struct wire_read	 rd;
	uint8_t			 hdr[WIRE_ENC_MAX], *body, *payload;
	const char		*path = getenv("WALLD_SOCKET");
	size_t			 n, blen;
	uint64_t		 k, count;
	int			 ch, i;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&r, 0, sizeof r);
	r.timeout_ms = 5000;
	r.next_id = 1;
	while ((ch = getopt(argc, argv, "+s:t:")) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 't':
			r.timeout_ms = (int)num(optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (path == NULL || argc == 0)
		usage();
	if (strcmp(argv[0], "idle") == 0) {
		if (argc != 2)
			usage();
		return (cmd_idle(path, (long)num(argv[1]), r.timeout_ms));
	}
	if ((r.in = malloc(RAW_BUF)) == NULL)
		return (2);
	if ((r.fd = raw_connect(path)) == -1) {
		fprintf(stderr, "rawclient: %s: %s\n", path, strerror(errno));
		return (69);
	}

#define NEED(k)	do { if (i + (k) >= argc) usage(); } while (0)
	for (i = 0; i < argc; i++) {
		const char	*c = argv[i];

		if (strcmp(c, "hello") == 0) {
			n = wire_enc_hello(hdr, r.next_id++, WIRE_VERSION,
			    WIRE_VERSION);
			raw_frame(&r, hdr, n, NULL, 0);
		} else if (strcmp(c, "hello-v") == 0) {
			NEED(2);
			n = wire_enc_hello(hdr, r.next_id++,
			    (uint16_t)num(argv[i + 1]),
			    (uint16_t)num(argv[i + 2]));
			raw_frame(&r, hdr, n, NULL, 0);
			i += 2;
		} else if (strcmp(c, "frame") == 0) {
			/* LEN OP FLAGS ID HEX: the length field as given. */
			NEED(5);
			body = unhex(argv[i + 5], &blen);
			k = num(argv[i + 1]);
			wire_enc_hdr(hdr, (uint8_t)num(argv[i + 2]),
			    (uint8_t)num(argv[i + 3]), num(argv[i + 4]), 0);
			hdr[0] = (uint8_t)k;
			hdr[1] = (uint8_t)(k >> 8);
			hdr[2] = (uint8_t)(k >> 16);
			hdr[3] = (uint8_t)(k >> 24);
			raw_frame(&r, hdr, WIRE_HDR_LEN, body, blen);
			free(body);
			i += 5;
		} else if (strcmp(c, "raw") == 0) {
			NEED(1);
			body = unhex(argv[++i], &blen);
			raw_send(&r, body, blen);
			free(body);
		} else if (strcmp(c, "append") == 0 ||
		    strcmp(c, "append-nowait") == 0) {
			NEED(2);
			n = wire_enc_append(hdr, r.next_id++, c[6] == '-' ?
			    WIRE_F_NOWAIT : 0, 1, 0, (uint32_t)num(argv[i + 1]),
			    (uint32_t)strlen(argv[i + 2]));
			raw_frame(&r, hdr, n, argv[i + 2], strlen(argv[i + 2]));
			i += 2;
		} else if (strcmp(c, "appends") == 0) {
			NEED(3);
			count = num(argv[i + 1]);
			blen = (size_t)num(argv[i + 3]);
			if ((payload = calloc(1, blen + 1)) == NULL)
				return (2);
			for (k = 0; k < count; k++) {
				n = wire_enc_append(hdr, r.next_id++, 0, 1, 0,
				    (uint32_t)num(argv[i + 2]), (uint32_t)blen);
				if (raw_frame(&r, hdr, n, payload, blen) != 0)
					break;
			}
			free(payload);
			i += 3;
		} else if (strcmp(c, "read") == 0 ||
		    strcmp(c, "read-follow") == 0) {
			uint8_t	flags = c[4] == '-' ? WIRE_F_FOLLOW : 0;

			NEED(2);
			memset(&rd, 0, sizeof rd);
			rd.from = num(argv[i + 1]);
			rd.to = num(argv[i + 2]);
			i += 2;
			if (i + 1 < argc && argv[i + 1][0] >= '0' &&
			    argv[i + 1][0] <= '9') {
				rd.tenant = (uint32_t)num(argv[++i]);
				flags |= WIRE_F_TENANT;
			}
			n = wire_enc_read(hdr, r.next_id++, flags, &rd);
			raw_frame(&r, hdr, n, NULL, 0);
		} else if (strcmp(c, "sync") == 0 || strcmp(c, "seal") == 0 ||
		    strcmp(c, "rotate") == 0 || strcmp(c, "stats") == 0 ||
		    strcmp(c, "ping") == 0) {
			uint8_t	op = c[1] == 'y' ? WIRE_OP_SYNC : c[1] == 'e' ?
			    WIRE_OP_SEAL : c[1] == 'o' ? WIRE_OP_ROTATE :
			    c[1] == 't' ? WIRE_OP_STATS : WIRE_OP_PING;

			n = wire_enc_hdr(hdr, op, 0, r.next_id++, 0);
			raw_frame(&r, hdr, n, NULL, 0);
		} else if (strcmp(c, "truncate") == 0) {
			NEED(1);
			n = wire_enc_u64(hdr, WIRE_OP_TRUNCATE, r.next_id++,
			    num(argv[++i]));
			raw_frame(&r, hdr, n, NULL, 0);
		} else if (strcmp(c, "shutwr") == 0) {
			if (shutdown(r.fd, SHUT_WR) != 0)
				printf("shutdown-error %s\n", strerror(errno));
		} else if (strcmp(c, "sleep") == 0) {
			NEED(1);
			k = num(argv[++i]);
			struct timespec ts = { (time_t)(k / 1000),
			    (long)(k % 1000) * 1000000 };
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		} else if (strcmp(c, "recv") == 0) {
			NEED(1);
			count = num(argv[++i]);
			for (k = 0; k < count; k++) {
				if (!raw_recv(&r))
					break;
			}
		} else if (strcmp(c, "recv-all") == 0) {
			while (raw_recv(&r))
				;
		} else if (strcmp(c, "flood") == 0) {
			NEED(2);
			raw_flood(&r, (uint32_t)num(argv[i + 1]),
			    (size_t)num(argv[i + 2]));
			i += 2;
		} else {
			fprintf(stderr, "rawclient: unknown command %s\n", c);
			usage();
		}
	}
	close(r.fd);
	free(r.in);
	return (0);
}
