/*
 * webhook.c: pushes feed events to the receivers in the config.
 *
 * DESIGN
 * Each receiver ("webhook = URL [SECRET]") has a delivery position, the
 * id of the last event it acknowledged with a 2xx, kept in the store's
 * webhooks table.  One request at a time per receiver, in id order, each
 * event its own POST with Idempotency-Key set to its id: a receiver sees
 * every event at least once and can drop repeats by that key.  The
 * position is saved after the 2xx, so a crash in between sends that
 * event again, never skips it.  A failure (no answer, timeout, non-2xx)
 * waits 1 s, 2 s, 4 s ... up to webhook_backoff_max and tries the same
 * event again, forever: a receiver down for an hour gets everything once
 * it is back, within one backoff period.  Requests run on the loop through
 * httpc (libcurl's multi interface on libevent).
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "vigil/core.h"
#include "vigil/httpc.h"
#include "vigil/review.h"

#include "srv_int.h"

struct hook {
	struct hooks	*hs;
	char		*url, *secret;	/* secret may be NULL */
	int64_t		 delivered;	/* last acknowledged event id */
	int64_t		 sending;	/* in flight, 0 if none */
	int		 failures;
	int		 waiting;	/* backing off */
	struct event	*timer;
};

struct hooks {
	struct srv	*srv;
	struct httpc	*hc;
	struct hook	*h;
	size_t		 n;
	int64_t		 last;		/* newest event known */
};

static void	hook_next(struct hook *);

static void
hook_done(long status, const char *err, const char *body, size_t len,
    void *arg)
{
	struct hook	*h = arg;
	struct review	*rv;
	double		 wait;
	char		 why[256];
	struct timeval	 tv;

	(void)body;
	(void)len;
	if (status >= 200 && status < 300) {
		h->delivered = h->sending;
		h->sending = 0;
		if (h->failures > 0)
			vg_log_info("webhook %s: delivering again", h->url);
		h->failures = 0;
		rv = srv_review_hold(h->hs->srv);
		(void)review_hook_set(rv, h->url, h->delivered, 0, NULL,
		    srv_now());
		srv_review_drop(h->hs->srv);
		hook_next(h);
		return;
	}
	if (status == -1 && err != NULL && strcmp(err, "cancelled") == 0)
		return;		/* shutting down: hooks_free() is running */
	if (status > 0)
		snprintf(why, sizeof(why), "HTTP %ld", status);
	else
		snprintf(why, sizeof(why), "%s", err != NULL ? err : "failed");
	if (h->failures++ == 0)
		vg_log_warnx("webhook %s: event %lld: %s; retrying with "
		    "backoff", h->url, (long long)h->sending, why);
	rv = srv_review_hold(h->hs->srv);
	(void)review_hook_set(rv, h->url, h->delivered, h->failures, why,
	    srv_now());
	srv_review_drop(h->hs->srv);
	h->sending = 0;
	wait = 1.0;
	for (int i = 1; i < h->failures && wait < 1e6; i++)
		wait *= 2;
	if (wait > (double)srv_config(h->hs->srv)->webhook_backoff_max)
		wait = (double)srv_config(h->hs->srv)->webhook_backoff_max;
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = 0;
	h->waiting = 1;
	evtimer_add(h->timer, &tv);
}

static void
hook_timer(evutil_socket_t fd, short what, void *arg)
{
	struct hook	*h = arg;

	(void)fd;
	(void)what;
	h->waiting = 0;
	hook_next(h);
}

/* Sends the event after h->delivered, if there is one and h is idle. */
static void
hook_next(struct hook *h)
{
	const struct vg_config	*cfg = srv_config(h->hs->srv);
	struct review		*rv;
	struct httpc_req	 r;
	char			*json = NULL, idk[64], idh[64], typ[128];
	char			 sig[160];
	const char		*hdrs[6];
	unsigned char		 mac[EVP_MAX_MD_SIZE];
	unsigned int		 maclen = 0;
	int64_t			 id;
	json_t			*e;
	size_t			 nh = 0;
	enum vigil_err		 rc;

	if (h->sending != 0 || h->waiting || h->delivered >= h->hs->last)
		return;
	rv = srv_review_hold(h->hs->srv);
	/* The next id may be gone (purged); find the first after it. */
	rc = review_feed(rv, h->delivered, 1, &e, &id);
	srv_review_drop(h->hs->srv);
	if (rc != VIGIL_OK)
		return;
	if (json_array_size(e) == 0) {
		json_decref(e);
		return;
	}
	id = json_integer_value(json_object_get(json_array_get(e, 0), "id"));
	snprintf(typ, sizeof(typ), "X-Vigil-Event: %s", json_string_value(
	    json_object_get(json_array_get(e, 0), "type")));
	json = json_dumps(json_array_get(e, 0), JSON_COMPACT);
	json_decref(e);
	if (json == NULL)
		return;
	snprintf(idk, sizeof(idk), "Idempotency-Key: %lld", (long long)id);
	snprintf(idh, sizeof(idh), "X-Vigil-Event-Id: %lld", (long long)id);
	hdrs[nh++] = "Content-Type: application/json";
	hdrs[nh++] = idk;
	hdrs[nh++] = idh;
	hdrs[nh++] = typ;
	if (h->secret != NULL && HMAC(EVP_sha256(), h->secret,
	    (int)strlen(h->secret), (const unsigned char *)json, strlen(json),
	    mac, &maclen) != NULL) {
		size_t o = (size_t)snprintf(sig, sizeof(sig),
		    "X-Vigil-Signature: sha256=");

		for (unsigned i = 0; i < maclen && o + 3 < sizeof(sig); i++)
			o += (size_t)snprintf(sig + o, sizeof(sig) - o, "%02x",
			    mac[i]);
		hdrs[nh++] = sig;
	}
	hdrs[nh] = NULL;
	memset(&r, 0, sizeof(r));
	r.method = "POST";
	r.url = h->url;
	r.headers = hdrs;
	r.body = json;
	r.len = strlen(json);
	r.timeout_ms = (long)cfg->webhook_timeout * 1000;
	r.verify_tls = 1;
	h->sending = id;
	if (httpc_start(h->hs->hc, &r, hook_done, h) == -1) {
		h->sending = 0;
		free(json);
		hook_done(-1, "cannot start the request", NULL, 0, h);
		return;
	}
	free(json);
}

struct hooks *
hooks_new(struct srv *srv)
{
	const struct vg_config	*cfg = srv_config(srv);
	struct hooks		*hs;
	struct review		*rv;
	struct hook		*h;
	size_t			 ul;

	if ((hs = vg_calloc(1, sizeof(*hs))) == NULL)
		return NULL;
	hs->srv = srv;
	if ((hs->hc = httpc_new(srv_base(srv))) == NULL ||
	    (hs->h = vg_calloc(cfg->webhooks.n, sizeof(*hs->h))) == NULL)
		goto fail;
	rv = srv_review_hold(srv);
	hs->last = review_feed_last(rv);
	for (size_t i = 0; i < cfg->webhooks.n; i++) {
		const char *v = cfg->webhooks.v[i], *sec;

		h = &hs->h[hs->n];
		h->hs = hs;
		ul = strcspn(v, " \t");
		for (sec = v + ul; *sec == ' ' || *sec == '\t'; sec++)
			;
		if ((h->url = vg_strndup(v, ul)) == NULL ||
		    (*sec != '\0' && (h->secret = vg_strdup(sec)) == NULL) ||
		    (h->timer = evtimer_new(srv_base(srv), hook_timer, h)) ==
		    NULL) {
			vg_free(h->url);
			vg_free(h->secret);
			srv_review_drop(srv);
			goto fail;
		}
		/* A new receiver starts with what happens from now on. */
		if (review_hook_get(rv, h->url, &h->delivered) ==
		    VIGIL_E_NOTFOUND)
			h->delivered = hs->last;
		(void)review_hook_set(rv, h->url, h->delivered, 0, NULL,
		    srv_now());
		hs->n++;
	}
	srv_review_drop(srv);
	for (size_t i = 0; i < hs->n; i++) {
		vg_log_info("webhook %s: from event %lld", hs->h[i].url,
		    (long long)hs->h[i].delivered + 1);
		hook_next(&hs->h[i]);
	}
	return hs;
fail:
	hooks_free(hs);
	return NULL;
}

void
hooks_notify(struct hooks *hs, int64_t last)
{
	if (last <= hs->last)
		return;
	hs->last = last;
	for (size_t i = 0; i < hs->n; i++)
		hook_next(&hs->h[i]);
}

void
hooks_free(struct hooks *hs)
{
	if (hs == NULL)
		return;
	httpc_free(hs->hc);
	for (size_t i = 0; i < hs->n; i++) {
		if (hs->h[i].timer != NULL)
			event_free(hs->h[i].timer);
		vg_free(hs->h[i].url);
		vg_free(hs->h[i].secret);
	}
	vg_free(hs->h);
	vg_free(hs);
}
