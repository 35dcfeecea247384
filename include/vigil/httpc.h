/*
 * httpc.h: an asynchronous HTTP(S) client on the server's libevent loop
 * (daemon/server/httpc.c), for webhooks and other outbound calls.
 *
 * Every function runs on the loop thread that owns the event_base, and
 * every completion runs there too.  Requests are libcurl transfers driven
 * by the loop: nothing blocks, and many may be in flight at once.
 */
#ifndef VIGIL_HTTPC_H
#define VIGIL_HTTPC_H

#include <stddef.h>

struct event_base;
struct httpc;

/* Largest response body handed to a completion; the rest is not read. */
#define HTTPC_BODY_MAX	(64 * 1024)
/* The timeout when a request gives none. */
#define HTTPC_TIMEOUT_MS	30000L

/*
 * A new client on base, or NULL if memory or libcurl ran out.  Free it
 * with httpc_free() before base.
 */
struct httpc	*httpc_new(struct event_base *base);

/*
 * Cancels every request in flight, running each completion at once with
 * status -1 and err "cancelled" (a completion may not start requests on a
 * client being freed: httpc_start() refuses them), then frees the client.
 * A completion may call this on its own client; the rest are cancelled
 * and the client goes when that completion returns.  NULL is a no-op.
 */
void		 httpc_free(struct httpc *);

/*
 * One request.  httpc_start() copies everything it points to, so the
 * caller's buffers may go away as soon as it returns.  method NULL means
 * POST if there is a body, else GET; url is http: or https: only; headers
 * ("Name: value", NULL-terminated) may be NULL, and so may body when len
 * is 0.  timeout_ms bounds the whole request (<= 0: HTTPC_TIMEOUT_MS).
 * verify_tls checks the server's certificate and name: set it outside
 * tests.
 */
struct httpc_req {
	const char		*method;
	const char		*url;
	const char *const	*headers;
	const void		*body;
	size_t			 len;
	long			 timeout_ms;
	int			 verify_tls;
};

/*
 * The completion of one request, run on the loop exactly once unless
 * httpc_start() failed.  status is the HTTP status (any, 404 included)
 * with err NULL; or -1 with err saying why (connection refused, timed
 * out, "cancelled") and body NULL.  body holds the first HTTPC_BODY_MAX
 * bytes of the response, NUL-terminated; body and err are valid only
 * during the call.
 */
typedef void	httpc_done_fn(long status, const char *err,
		    const char *body, size_t len, void *arg);

/*
 * Starts req; done(..., arg) runs when it finishes.  Returns 0, or -1
 * (done will not run) when req has no URL, memory ran out, libcurl
 * refused, or the client is being freed.
 */
int		 httpc_start(struct httpc *, const struct httpc_req *req,
		    httpc_done_fn *done, void *arg);

/* Requests started whose completion has not run yet. */
size_t		 httpc_inflight(const struct httpc *);

#endif /* VIGIL_HTTPC_H */
