/*
 * bucket.c: `vigil bucket-scan BUCKET [--prefix P] [--full]`, a client of
 * a running daemon's POST /v1/bucket-scans.
 *
 * It starts the job (or follows the one already running for that bucket
 * and prefix), polls GET /v1/bucket-scans/ID until the job ends and shows
 * progress: a bar redrawn in place on a terminal, a plain line every few
 * seconds otherwise.  The exit status is `vigil scan`'s: 0 nothing
 * flagged and everything examined, 1 something flagged, 2 something
 * unscannable or in error (or the job was cancelled), 3 usage,
 * configuration or connection errors, and a job that failed or was
 * refused (no such bucket).
 *
 * Where the daemon is and which token to use come from the flags, else
 * VIGIL_URL and VIGIL_TOKEN, else the daemon's config (listen, and its
 * first admin token) and state directory (port, admin.token), the way a
 * local operator would find them.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "vigil/cli.h"
#include "vigil/config.h"
#include "vigil/core.h"

struct resp {
	char	*data;
	size_t	 len;
};

static size_t
collect(void *p, size_t size, size_t n, void *arg)
{
	struct resp	*r = arg;
	size_t		 add = size * n;
	char		*d;

	if (r->len + add > (1 << 20))
		return 0;
	if ((d = vg_realloc(r->data, r->len + add + 1)) == NULL)
		return 0;
	memcpy(d + r->len, p, add);
	r->data = d;
	r->len += add;
	d[r->len] = '\0';
	return add;
}

/* One request; *out is the JSON reply (any status) or NULL. */
static long
request(CURL *c, const char *method, const char *url, const char *token,
    const char *body, json_t **out, char *err, size_t errlen)
{
	struct curl_slist	*h = NULL;
	struct resp		 r = { NULL, 0 };
	char			 auth[512];
	long			 status = 0;
	CURLcode		 cc;

	*out = NULL;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(cc));
		vg_free(r.data);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (r.data != NULL)
		*out = json_loadb(r.data, r.len, 0, NULL);
	vg_free(r.data);
	return status;
}

static char *
read_small(const char *path)
{
	FILE	*f;
	char	 buf[512];
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return *buf ? vg_strdup(buf) : NULL;
}

static json_int_t
jint(json_t *j, const char *k)
{
	return json_integer_value(json_object_get(j, k));
}

static void
progress(json_t *j, int tty, int final)
{
	json_int_t	listed = jint(j, "listed"), done = jint(j, "scanned") +
			    jint(j, "skipped");
	double		rate = json_real_value(json_object_get(j, "rate"));
	json_t		*eta = json_object_get(j, "eta_seconds");
	int		all = json_is_true(json_object_get(j, "listed_all"));
	char		etas[32] = "?";
	int		width = 30, fill;

	if (json_is_number(eta))
		snprintf(etas, sizeof(etas), "%.0fs", json_number_value(eta));
	if (tty) {
		fill = listed > 0 && all ? (int)(width * done / listed) : 0;
		fprintf(stderr, "\r[%.*s%.*s] %lld/%lld%s objects, %lld flagged, "
		    "%.0f/s, ETA %s   ", fill,
		    "##############################", width - fill,
		    "..............................", (long long)done,
		    (long long)listed, all ? "" : "+",
		    (long long)jint(j, "flagged"), rate, etas);
		if (final)
			fputc('\n', stderr);
	} else
		fprintf(stderr, "bucket scan %lld: %s, listed %lld%s, scanned "
		    "%lld, skipped %lld, flagged %lld, unscannable %lld, errors "
		    "%lld, %.0f objects/s, ETA %s\n", (long long)jint(j, "id"),
		    json_string_value(json_object_get(j, "state")),
		    (long long)listed, all ? "" : "+",
		    (long long)jint(j, "scanned"), (long long)jint(j, "skipped"),
		    (long long)jint(j, "flagged"),
		    (long long)jint(j, "unscannable"),
		    (long long)jint(j, "errors"), rate, etas);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil bucket-scan BUCKET [--prefix P] [--full] "
	    "[--url URL] [--token TOKEN]\n"
	    "                          [--config FILE] [--state-dir DIR] "
	    "[--no-wait]\n");
}

int
cli_bucket_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prefix", required_argument, NULL, 'p' },
		{ "full", no_argument, NULL, 'f' },
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*prefix = "", *url = getenv("VIGIL_URL");
	const char		*conf = NULL, *state = NULL, *token;
	struct vg_config	*cfg = NULL;
	char			 base[600], u[800], err[512], host[256];
	char			*tok = NULL, *port = NULL, *body = NULL;
	uint16_t		 p;
	int			 full = 0, wait = 1, ch, rc = VIGIL_EXIT_USAGE;
	int			 tty = isatty(2);
	long			 st;
	json_t			*j = NULL;
	json_int_t		 id;
	CURL			*c = NULL;
	const char		*s;

	token = getenv("VIGIL_TOKEN");
	while ((ch = getopt_long(argc, argv, "p:fu:t:c:s:nh", opts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'p': prefix = optarg; break;
		case 'f': full = 1; break;
		case 'u': url = optarg; break;
		case 't': token = optarg; break;
		case 'c': conf = optarg; break;
		case 's': state = optarg; break;
		case 'n': wait = 0; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return VIGIL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return VIGIL_EXIT_USAGE;
	}
	if ((cfg = vg_config_new()) == NULL)
		return VIGIL_EXIT_USAGE;
	if (conf != NULL && vg_config_load(cfg, conf, err, sizeof(err)) !=
	    VIGIL_OK) {
		fprintf(stderr, "vigil: %s\n", err);
		goto out;
	}
	if (state == NULL)
		state = cfg->state_dir;
	if (url == NULL) {
		/* The daemon writes its bound port to STATE_DIR/port. */
		snprintf(u, sizeof(u), "%s/port", state);
		port = read_small(u);
		if (vg_config_split_listen(cfg->listen, host, sizeof(host), &p)
		    == -1) {
			fprintf(stderr, "vigil: listen: '%s' is not ADDR:PORT\n",
			    cfg->listen);
			goto out;
		}
		if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
			snprintf(host, sizeof(host), "127.0.0.1");
		snprintf(base, sizeof(base), "http://%s%s%s:%s",
		    strchr(host, ':') ? "[" : "", host,
		    strchr(host, ':') ? "]" : "", port != NULL ? port :
		    strrchr(cfg->listen, ':') + 1);
	} else
		snprintf(base, sizeof(base), "%s", url);
	if (token == NULL) {
		for (size_t i = 0; i < cfg->ntokens && token == NULL; i++)
			if (cfg->tokens[i].role == VG_ROLE_ADMIN)
				token = cfg->tokens[i].secret;
		if (token == NULL) {
			snprintf(u, sizeof(u), "%s/admin.token", state);
			token = tok = read_small(u);
		}
	}
	if (token == NULL) {
		fprintf(stderr, "vigil: no admin token: give --token, set "
		    "VIGIL_TOKEN, or run where %s/admin.token is readable\n",
		    state);
		goto out;
	}
	if ((j = json_pack("{ss ss ss}", "bucket", argv[optind], "prefix",
	    prefix, "mode", full ? "full" : "incremental")) == NULL ||
	    (body = json_dumps(j, JSON_COMPACT)) == NULL)
		goto out;
	json_decref(j);
	j = NULL;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((c = curl_easy_init()) == NULL)
		goto out;
	snprintf(u, sizeof(u), "%s/v1/bucket-scans", base);
	st = request(c, "POST", u, token, body, &j, err, sizeof(err));
	if (st == -1) {
		fprintf(stderr, "vigil: %s (is vigil serve running?)\n", err);
		goto out;
	}
	if (st != 201 && st != 409) {
		s = json_string_value(json_object_get(j, "error"));
		fprintf(stderr, "vigil: bucket scan refused: HTTP %ld: %s\n", st,
		    s != NULL ? s : "no reason given");
		goto out;
	}
	id = jint(j, "id");
	fprintf(stderr, "bucket scan %lld of %s%s%s (%s)%s\n", (long long)id,
	    argv[optind], *prefix ? ", prefix " : "", prefix,
	    full ? "full" : "incremental", st == 409 ?
	    ": already running, following it" : "");
	if (!wait) {
		printf("%lld\n", (long long)id);
		rc = 0;
		goto out;
	}
	snprintf(u, sizeof(u), "%s/v1/bucket-scans/%lld", base, (long long)id);
	for (time_t last = 0;;) {
		json_decref(j);
		st = request(c, "GET", u, token, NULL, &j, err, sizeof(err));
		if (st != 200 || j == NULL) {
			fprintf(stderr, "\nvigil: %s\n", st == -1 ? err :
			    "the daemon stopped answering about the job");
			goto out;
		}
		s = json_string_value(json_object_get(j, "state"));
		if (s != NULL && strcmp(s, "running") != 0)
			break;
		if (tty || time(NULL) - last >= 2) {
			progress(j, tty, 0);
			last = time(NULL);
		}
		usleep(tty ? 200000 : 500000);
	}
	progress(j, tty, 1);
	if (strcmp(s, "done") != 0) {
		const char *e = json_string_value(json_object_get(j, "error"));

		fprintf(stderr, "vigil: bucket scan %lld %s%s%s\n",
		    (long long)id, s, e ? ": " : "", e ? e : "");
		rc = strcmp(s, "failed") == 0 ? VIGIL_EXIT_USAGE :
		    VIGIL_EXIT_UNSCANNABLE;
	} else if (jint(j, "flagged") > 0)
		rc = VIGIL_EXIT_FLAGGED;
	else if (jint(j, "unscannable") + jint(j, "errors") > 0)
		rc = VIGIL_EXIT_UNSCANNABLE;
	else
		rc = VIGIL_EXIT_CLEAN;
out:
	json_decref(j);
	if (c != NULL)
		curl_easy_cleanup(c);
	free(body);
	vg_free(tok);
	vg_free(port);
	vg_config_free(cfg);
	return rc;
}
