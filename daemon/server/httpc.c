/*
 * httpc.c: outbound HTTP requests as libcurl transfers on the loop.
 *
 * DESIGN (curl's multi-socket API, as in its docs/examples/multi-event.c)
 *
 *   httpc_start ──> easy handle ──> curl_multi_add_handle
 *                                        │
 *   curl: "watch fd for IN|OUT" ──> sock_cb: one persistent event per fd
 *   curl: "wake me in N ms"     ──> timer_cb: the one timer event
 *                                        │
 *   fd ready / timer fires ──> curl_multi_socket_action ──> finish():
 *       curl_multi_info_read, then per finished transfer: remove it,
 *       run its completion, free it
 *
 * libcurl never runs its own loop or blocks: it says which sockets to
 * watch and when to call back, and the event_base does the waiting.  All
 * of it happens on the loop thread.
 *
 * Requests are copied: libcurl copies the URL, method and headers it is
 * given; the body is ours (vg_malloc) because curl reads it as it sends.
 * A response body fills a capped vg_buf; past the cap the write callback
 * stops the transfer, which still completes with its status.
 *
 * Freeing the client cancels what is in flight, running completions with
 * "cancelled" so their callers can release what arg points to.  A
 * completion may free its own client: finish() then stops reading
 * messages, and the client goes when finish() unwinds (`dispatching`).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "vigil/core.h"
#include "vigil/httpc.h"

struct httpc_xfer {
	TAILQ_ENTRY(httpc_xfer)	 entry;
	struct httpc		*h;
	CURL			*easy;
	struct curl_slist	*headers;
	void			*body;
	struct vg_buf		 resp;
	int			 truncated;
	httpc_done_fn		*done;
	void			*arg;
	char			 errbuf[CURL_ERROR_SIZE];
};

/* One socket curl asked us to watch. */
struct httpc_sock {
	LIST_ENTRY(httpc_sock)	 entry;
	struct httpc		*h;
	struct event		*ev;
	curl_socket_t		 fd;
};

struct httpc {
	struct event_base		*base;
	CURLM				*multi;
	struct event			*timer;
	TAILQ_HEAD(, httpc_xfer)	 xfers;
	LIST_HEAD(, httpc_sock)		 socks;
	size_t				 n;
	int				 dying;
	int				 dispatching;
};

static pthread_once_t	curl_once = PTHREAD_ONCE_INIT;
static CURLcode		curl_init_rc;

static void
curl_init(void)
{
	/* Once per process; curl_global_cleanup() is left to exit. */
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
xfer_free(struct httpc_xfer *x)
{
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	vg_free(x->body);
	vg_buf_free(&x->resp);
	vg_free(x);
}

static void
destroy(struct httpc *h)
{
	struct httpc_sock	*s;

	/* Closing cached connections may still call sock_cb. */
	curl_multi_cleanup(h->multi);
	while ((s = LIST_FIRST(&h->socks)) != NULL) {
		LIST_REMOVE(s, entry);
		event_free(s->ev);
		vg_free(s);
	}
	event_free(h->timer);
	vg_free(h);
}

/*
 * Why a transfer failed, in x->errbuf.  curl's own words ("Couldn't
 * connect to server") leave out the system's reason, which says whether
 * nobody listens or nothing answers.
 */
static const char *
describe(struct httpc_xfer *x, CURLcode rc)
{
	size_t	n;
	long	oserr = 0;

	if (x->errbuf[0] == '\0')
		snprintf(x->errbuf, sizeof(x->errbuf), "%s",
		    curl_easy_strerror(rc));
	if (curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr) ==
	    CURLE_OK && oserr != 0 &&
	    strstr(x->errbuf, strerror((int)oserr)) == NULL) {
		n = strlen(x->errbuf);
		snprintf(x->errbuf + n, sizeof(x->errbuf) - n, " (%s)",
		    strerror((int)oserr));
	}
	return x->errbuf;
}

/*
 * Runs the completions of every finished transfer.  Returns -1 if a
 * completion freed the client, which is then gone.
 */
static int
finish(struct httpc *h)
{
	struct httpc_xfer	*x;
	CURLMsg			*msg;
	CURLcode		 rc;
	char			*priv;
	const char		*err;
	long			 status;
	int			 left;

	h->dispatching++;
	while (!h->dying && (msg = curl_multi_info_read(h->multi, &left)) !=
	    NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		rc = msg->data.result;
		priv = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		x = (struct httpc_xfer *)priv;
		/* msg dies here. */
		curl_multi_remove_handle(h->multi, x->easy);
		TAILQ_REMOVE(&h->xfers, x, entry);
		h->n--;
		status = -1;
		err = NULL;
		if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR &&
		    x->truncated)) {
			curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE,
			    &status);
			if (status <= 0) {
				status = -1;
				err = "no HTTP response";
			}
		} else
			err = describe(x, rc);
		if (err != NULL)
			x->done(-1, err, NULL, 0, x->arg);
		else
			x->done(status, NULL, x->resp.data != NULL ?
			    x->resp.data : "", x->resp.len, x->arg);
		xfer_free(x);
	}
	if (--h->dispatching == 0 && h->dying) {
		destroy(h);
		return -1;
	}
	return 0;
}

static void
on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct httpc_sock	*s = arg;
	struct httpc		*h = s->h;
	CURLMcode		 mc;
	int			 running;

	/* s may be freed by sock_cb inside this call: use h from here on. */
	mc = curl_multi_socket_action(h->multi, fd,
	    (what & EV_READ ? CURL_CSELECT_IN : 0) |
	    (what & EV_WRITE ? CURL_CSELECT_OUT : 0), &running);
	if (mc != CURLM_OK)
		vg_log_warnx("httpc: %s", curl_multi_strerror(mc));
	(void)finish(h);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct httpc	*h = arg;
	CURLMcode	 mc;
	int		 running;

	(void)fd;
	(void)what;
	mc = curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	if (mc != CURLM_OK)
		vg_log_warnx("httpc: %s", curl_multi_strerror(mc));
	(void)finish(h);
}

/* curl: watch fd for `what`, or stop watching it. */
static int
sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct httpc		*h = userp;
	struct httpc_sock	*s = socketp;
	short			 kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			LIST_REMOVE(s, entry);
			event_free(s->ev);
			vg_free(s);
		}
		return 0;
	}
	kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
	    (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (s == NULL) {
		if ((s = vg_calloc(1, sizeof(*s))) == NULL)
			goto fail;
		s->h = h;
		s->fd = fd;
		if ((s->ev = event_new(h->base, fd, kind, on_sock, s)) ==
		    NULL) {
			vg_free(s);
			goto fail;
		}
		LIST_INSERT_HEAD(&h->socks, s, entry);
		curl_multi_assign(h->multi, fd, s);
	} else {
		event_del(s->ev);
		event_assign(s->ev, h->base, fd, kind, on_sock, s);
	}
	if (event_add(s->ev, NULL) == -1)
		goto fail;
	return 0;
fail:
	/* curl aborts the multi handle's transfers. */
	vg_log_warnx("httpc: cannot watch a socket");
	return -1;
}

/* curl: call back in timeout_ms (0: as soon as possible), or never. */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct httpc	*h = userp;
	struct timeval	 tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(h->timer);
		return 0;
	}
	/* Not curl_multi_socket_action() from here: curl forbids it. */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(h->timer, &tv) == 0 ? 0 : -1;
}

static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct httpc_xfer	*x = arg;
	size_t			 len = size * n, room;

	room = x->resp.max - x->resp.len;
	if (len <= room) {
		if (vg_buf_add(&x->resp, data, len) != VIGIL_OK)
			return 0;
		return len;
	}
	/* Keep what fits and stop reading: finish() sees truncated. */
	if (room > 0 && vg_buf_add(&x->resp, data, room) != VIGIL_OK)
		return 0;
	x->truncated = 1;
	return 0;
}

struct httpc *
httpc_new(struct event_base *base)
{
	struct httpc	*h;

	if (pthread_once(&curl_once, curl_init) != 0 ||
	    curl_init_rc != CURLE_OK)
		return NULL;
	if ((h = vg_calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->base = base;
	TAILQ_INIT(&h->xfers);
	LIST_INIT(&h->socks);
	if ((h->timer = evtimer_new(base, on_timer, h)) == NULL)
		goto fail;
	if ((h->multi = curl_multi_init()) == NULL)
		goto fail;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
fail:
	if (h->timer != NULL)
		event_free(h->timer);
	vg_free(h);
	return NULL;
}

void
httpc_free(struct httpc *h)
{
	struct httpc_xfer	*x;

	if (h == NULL || h->dying)
		return;
	h->dying = 1;
	while ((x = TAILQ_FIRST(&h->xfers)) != NULL) {
		TAILQ_REMOVE(&h->xfers, x, entry);
		h->n--;
		curl_multi_remove_handle(h->multi, x->easy);
		x->done(-1, "cancelled", NULL, 0, x->arg);
		xfer_free(x);
	}
	/* Inside finish(), which destroys h on its way out. */
	if (h->dispatching == 0)
		destroy(h);
}

/* Sets the method and body; returns -1 if curl refused. */
static int
set_method(struct httpc_xfer *x, const struct httpc_req *req)
{
	const char	*m = req->method;
	CURL		*e = x->easy;

	if (req->len > 0 || (m != NULL && strcasecmp(m, "POST") == 0)) {
		if (req->len > 0) {
			if ((x->body = vg_malloc(req->len)) == NULL)
				return -1;
			memcpy(x->body, req->body, req->len);
		}
		if (curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->len) != CURLE_OK ||
		    curl_easy_setopt(e, CURLOPT_POSTFIELDS,
		    x->body != NULL ? x->body : "") != CURLE_OK)
			return -1;
		if (m != NULL && strcasecmp(m, "POST") != 0 &&
		    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m) != CURLE_OK)
			return -1;
		return 0;
	}
	if (m == NULL || strcasecmp(m, "GET") == 0)
		return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK ?
		    0 : -1;
	if (strcasecmp(m, "HEAD") == 0)
		return curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK ?
		    0 : -1;
	return curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m) == CURLE_OK ?
	    0 : -1;
}

/* Copies the caller's headers; returns -1 when out of memory. */
static int
set_headers(struct httpc_xfer *x, const char *const *headers)
{
	struct curl_slist	*l;
	int			 expect = 0;

	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		if (strncasecmp(headers[i], "Expect:", 7) == 0)
			expect = 1;
		if ((l = curl_slist_append(x->headers, headers[i])) == NULL)
			return -1;
		x->headers = l;
	}
	/*
	 * Bodies over 1 KiB would wait for "100 Continue", a round trip
	 * (or a second, from servers that never send it) for nothing.
	 */
	if (!expect) {
		if ((l = curl_slist_append(x->headers, "Expect:")) == NULL)
			return -1;
		x->headers = l;
	}
	return curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers) ==
	    CURLE_OK ? 0 : -1;
}

int
httpc_start(struct httpc *h, const struct httpc_req *req,
    httpc_done_fn *done, void *arg)
{
	struct httpc_xfer	*x;
	CURL			*e;
	long			 timeout;
	int			 ok;

	if (h->dying || req->url == NULL || done == NULL)
		return -1;
	if ((x = vg_calloc(1, sizeof(*x))) == NULL)
		return -1;
	x->h = h;
	x->done = done;
	x->arg = arg;
	vg_buf_init(&x->resp, HTTPC_BODY_MAX);
	if ((x->easy = e = curl_easy_init()) == NULL)
		goto fail;
	timeout = req->timeout_ms > 0 ? req->timeout_ms : HTTPC_TIMEOUT_MS;
	ok = curl_easy_setopt(e, CURLOPT_URL, req->url) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ==
	    CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)x) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)x) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER,
	    req->verify_tls ? 1L : 0L) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST,
	    req->verify_tls ? 2L : 0L) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_USERAGENT, "vigil/" VIGIL_VERSION) ==
	    CURLE_OK;
	if (!ok || set_method(x, req) == -1 ||
	    set_headers(x, req->headers) == -1)
		goto fail;
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
		goto fail;
	TAILQ_INSERT_TAIL(&h->xfers, x, entry);
	h->n++;
	return 0;
fail:
	xfer_free(x);
	return -1;
}

size_t
httpc_inflight(const struct httpc *h)
{
	return h->n;
}
