/*
 * instream.c: a clamd INSTREAM load generator for bench/serve/run.py.
 *
 *   instream PORT BODYFILE CONNECTIONS SECONDS
 *
 * Each of CONNECTIONS threads opens one IDSESSION to clamd on 127.0.0.1
 * (the keep-alive wrk gives vigil) and sends the body over and over for
 * SECONDS, its first 16 bytes replaced by (thread, counter) so no two
 * bodies are equal and clamd's clean cache cannot answer.  Prints one
 * line: JSON with requests, seconds, found, errors, p50_us, p99_us.
 */
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

static int	port;
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

static void *
run(void *arg)
{
	struct worker		*w = arg;
	struct sockaddr_in	 sa;
	char			*body, reply[512];
	uint32_t		 len = htonl((uint32_t)tlen), zero = 0;
	double			 end, t0;
	int			 fd, one = 1;

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
	if (send_all(fd, "zIDSESSION", 11) == -1)
		goto out;
	end = now() + seconds;
	while ((t0 = now()) < end) {
		char pfx[32];

		snprintf(pfx, sizeof(pfx), "%02d-%012lu\n", w->id % 100,
		    w->n % 1000000000000UL);
		memcpy(body, pfx, tlen < 16 ? tlen : 16);
		if (send_all(fd, "zINSTREAM", 10) == -1 ||
		    send_all(fd, &len, 4) == -1 ||
		    send_all(fd, body, tlen) == -1 ||
		    send_all(fd, &zero, 4) == -1 ||
		    recv_reply(fd, reply, sizeof(reply)) == -1) {
			w->errors++;
			break;
		}
		if (strstr(reply, "FOUND") != NULL)
			w->found++;
		else if (strstr(reply, "OK") == NULL)
			w->errors++;
		if (w->n < MAXLAT)
			w->lat[w->n] = now() - t0;
		w->n++;
	}
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

	if (argc != 5) {
		fprintf(stderr, "usage: instream PORT BODY CONNECTIONS "
		    "SECONDS\n");
		return 64;
	}
	port = atoi(argv[1]);
	nw = atoi(argv[3]);
	seconds = atof(argv[4]);
	if ((f = fopen(argv[2], "rb")) == NULL)
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
