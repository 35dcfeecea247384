/*
 * scanload.c: the sync-scan load generator for bench/serve/run.py, one
 * client for both servers so they are measured alike.
 *
 *   scanload clamd PORT BODYFILE CONNECTIONS SECONDS
 *   scanload http PORT BODYFILE CONNECTIONS SECONDS TOKEN
 *
 * Each of CONNECTIONS threads opens one connection to 127.0.0.1 (for
 * clamd an IDSESSION, for vigil HTTP/1.1 keep-alive) and sends the body
 * over and over for SECONDS, its first 16 bytes replaced by (thread,
 * counter) so no two bodies are equal and no verdict cache can answer:
 * clamd by INSTREAM, vigil by POST /v1/scan.  Prints one line: JSON with
 * requests, seconds, found, errors, p50_us, p99_us.
 *
 * wrk did the HTTP side before: its Lua builds each request as a new
 * string, about 10 ms of CPU per 1 MiB body here, so on two cores the
 * client took half the machine from the server it measured.
 */
#define _GNU_SOURCE	/* strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXLAT	(1 << 21)

static int	port, http;
static const char *token;
static char	*tmpl;
static size_t	tlen;
static double	seconds;

struct worker {
	pthread_t	th;
	int		id;
	unsigned long	n, found, errors;
	double		*lat;
};

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
send_all(int fd, const void *p, size_t n)
{
	const char	*c = p;
	ssize_t		 w;

	while (n > 0) {
		if ((w = send(fd, c, n, MSG_NOSIGNAL)) <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one NUL-terminated reply into buf. */
static int
recv_reply(int fd, char *buf, size_t len)
{
	size_t	 n = 0;
	ssize_t	 r;

	while (n < len - 1) {
		if ((r = recv(fd, buf + n, 1, 0)) <= 0)
			return -1;
		if (buf[n] == '\0')
			return 0;
		n++;
	}
	return -1;
}

/*
 * Reads one HTTP response (status line, headers, Content-Length body)
 * into buf; returns the status, -1 on a broken or oversized reply.
 */
static int
recv_http(int fd, char *buf, size_t len)
{
	size_t	 n = 0, want = 0;
	ssize_t	 r;
	char	*end = NULL, *cl;
	int	 status;

	for (;;) {
		if (n >= len - 1)
			return -1;
		if ((r = recv(fd, buf + n, len - 1 - n, 0)) <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = '\0';
		if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			if ((cl = strcasestr(buf, "\r\nContent-Length:")) ==
			    NULL || cl > end)
				return -1;
			want = (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL,
			    10);
		}
		if (end != NULL && n >= want)
			break;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	return status;
}

/* One scan of body; 1 found, 0 clean, -1 error. */
static int
scan_once(int fd, const char *body, char *reply, size_t rlen)
{
	uint32_t	len = htonl((uint32_t)tlen), zero = 0;
	char		hdr[512];
	int		hl, status;

	if (!http) {
		if (send_all(fd, "zINSTREAM", 10) == -1 ||
		    send_all(fd, &len, 4) == -1 ||
		    send_all(fd, body, tlen) == -1 ||
		    send_all(fd, &zero, 4) == -1 ||
		    recv_reply(fd, reply, rlen) == -1)
			return -1;
		if (strstr(reply, "FOUND") != NULL)
			return 1;
		return strstr(reply, "OK") != NULL ? 0 : -1;
	}
	hl = snprintf(hdr, sizeof(hdr), "POST /v1/scan?name=bench HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Length: %zu\r\n\r\n", token, tlen);
	if (send_all(fd, hdr, (size_t)hl) == -1 ||
	    send_all(fd, body, tlen) == -1 ||
	    (status = recv_http(fd, reply, rlen)) != 200)
		return -1;
	if (strstr(reply, "\"verdict\": \"flagged\"") != NULL)
		return 1;
	return strstr(reply, "\"verdict\": \"clean\"") != NULL ? 0 : -1;
}

static void *
run(void *arg)
{
	struct worker		*w = arg;
	struct sockaddr_in	 sa;
	char			*body, reply[4096];
	double			 end, t0;
	int			 fd, one = 1, rc;

	if ((body = malloc(tlen)) == NULL)
		return NULL;
	memcpy(body, tmpl, tlen);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		w->errors++;
		free(body);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!http && send_all(fd, "zIDSESSION", 11) == -1)
		goto out;
	end = now() + seconds;
	while ((t0 = now()) < end) {
		char pfx[32];

		snprintf(pfx, sizeof(pfx), "%02d-%012lu\n", w->id % 100,
		    w->n % 1000000000000UL);
		memcpy(body, pfx, tlen < 16 ? tlen : 16);
		if ((rc = scan_once(fd, body, reply, sizeof(reply))) == -1) {
			w->errors++;
			break;
		}
		w->found += rc == 1;
		if (w->n < MAXLAT)
			w->lat[w->n] = now() - t0;
		w->n++;
	}
	if (!http)
		(void)send_all(fd, "zEND", 5);
out:
	close(fd);
	free(body);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct worker	*ws;
	FILE		*f;
	double		*all, t0, took;
	unsigned long	 n = 0, found = 0, errors = 0, k = 0;
	int		 nw;

	if (argc < 6 || (strcmp(argv[1], "clamd") != 0 &&
	    strcmp(argv[1], "http") != 0) || (argc != 6 + (argv[1][0] == 'h'))) {
		fprintf(stderr, "usage: scanload clamd PORT BODY CONNECTIONS "
		    "SECONDS\n       scanload http PORT BODY CONNECTIONS "
		    "SECONDS TOKEN\n");
		return 64;
	}
	http = argv[1][0] == 'h';
	token = http ? argv[6] : NULL;
	port = atoi(argv[2]);
	nw = atoi(argv[4]);
	seconds = atof(argv[5]);
	if ((f = fopen(argv[3], "rb")) == NULL)
		return 1;
	fseek(f, 0, SEEK_END);
	tlen = (size_t)ftell(f);
	rewind(f);
	tmpl = malloc(tlen);
	if (tmpl == NULL || fread(tmpl, 1, tlen, f) != tlen)
		return 1;
	fclose(f);
	ws = calloc((size_t)nw, sizeof(*ws));
	t0 = now();
	for (int i = 0; i < nw; i++) {
		ws[i].id = i;
		ws[i].lat = malloc(MAXLAT * sizeof(double));
		pthread_create(&ws[i].th, NULL, run, &ws[i]);
	}
	for (int i = 0; i < nw; i++) {
		pthread_join(ws[i].th, NULL);
		n += ws[i].n;
		found += ws[i].found;
		errors += ws[i].errors;
	}
	took = now() - t0;
	all = malloc((n + 1) * sizeof(double));
	for (int i = 0; i < nw; i++)
		for (unsigned long j = 0; j < ws[i].n && j < MAXLAT; j++)
			all[k++] = ws[i].lat[j];
	qsort(all, k, sizeof(double), cmp);
	printf("{\"requests\": %lu, \"seconds\": %.3f, \"found\": %lu, "
	    "\"errors\": %lu, \"p50_us\": %.0f, \"p99_us\": %.0f}\n", n, took,
	    found, errors, k ? all[k / 2] * 1e6 : 0,
	    k ? all[(size_t)(k * 0.99)] * 1e6 : 0);
	return errors > 0 && n == 0;
}
