/*
 * test_httpc.c: the loop's HTTP client against an evhttp server on
 * 127.0.0.1 in the same event_base: what the server receives, a hundred
 * requests at once, refused connections, timeouts, the body cap, failed
 * allocations, and freeing the client with requests in flight (from
 * outside and from inside a completion).
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "vigil/core.h"
#include "vigil/httpc.h"

/* What the server saw of one request. */
struct seen {
	char	method[8];
	char	path[32];
	char	xtest[32];
	char	ctype[64];
	char	body[64];
	size_t	len;
};

static struct {
	struct event_base	*base;
	struct evhttp		*http;
	int			 port;
	struct seen		 seen[128];
	int			 nseen;
	int			 held;	/* /hold requests unanswered */
} srv;

struct result {
	int	calls;
	long	status;
	char	err[256];
	char	body[128];
	size_t	len;
	int	allx;		/* the body was all 'x' */
	int	restart;	/* httpc_start() from the completion */
};

static int		 pending;
static struct httpc	*client;

static const char *
method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	default:
		return "other";
	}
}

static void
copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

/*
 * /echo answers 201 with the request body, /big 200 with 100 KiB, /404
 * 404; /hold never answers.
 */
static void
handler(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq	*in;
	struct evbuffer		*body;
	struct evbuffer		*out;
	struct seen		*s;
	const char		*path = evhttp_request_get_uri(req);
	static char		 big[100 * 1024];

	(void)arg;
	in = evhttp_request_get_input_headers(req);
	body = evhttp_request_get_input_buffer(req);
	if (srv.nseen < (int)(sizeof(srv.seen) / sizeof(srv.seen[0]))) {
		s = &srv.seen[srv.nseen++];
		copy(s->method, sizeof(s->method),
		    method_name(evhttp_request_get_command(req)));
		copy(s->path, sizeof(s->path), path);
		copy(s->xtest, sizeof(s->xtest),
		    evhttp_find_header(in, "X-Test"));
		copy(s->ctype, sizeof(s->ctype),
		    evhttp_find_header(in, "Content-Type"));
		s->len = evbuffer_get_length(body);
		evbuffer_copyout(body, s->body, sizeof(s->body) - 1);
	}
	if (strcmp(path, "/hold") == 0) {
		srv.held++;
		return;
	}
	out = evbuffer_new();
	if (strcmp(path, "/echo") == 0) {
		evbuffer_add_buffer(out, body);
		evhttp_send_reply(req, 201, "Created", out);
	} else if (strcmp(path, "/big") == 0) {
		memset(big, 'x', sizeof(big));
		evbuffer_add(out, big, sizeof(big));
		evhttp_send_reply(req, 200, "OK", out);
	} else {
		evbuffer_add_printf(out, "nope");
		evhttp_send_reply(req, 404, "Not Found", out);
	}
	evbuffer_free(out);
}

static int
local_port(int fd)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static int
setup(void **state)
{
	struct evhttp_bound_socket	*bound;

	(void)state;
	memset(&srv, 0, sizeof(srv));
	pending = 0;
	srv.base = event_base_new();
	srv.http = evhttp_new(srv.base);
	assert_true(srv.base != NULL && srv.http != NULL);
	evhttp_set_gencb(srv.http, handler, NULL);
	evhttp_set_allowed_methods(srv.http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	bound = evhttp_bind_socket_with_handle(srv.http, "127.0.0.1", 0);
	assert_non_null(bound);
	srv.port = local_port(evhttp_bound_socket_get_fd(bound));
	client = httpc_new(srv.base);
	assert_non_null(client);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	httpc_free(client);
	client = NULL;
	evhttp_free(srv.http);
	event_base_free(srv.base);
	return 0;
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/* Runs the loop until *counter is want, or fails after ten seconds. */
static void
run_until(const int *counter, int want)
{
	struct timeval	 tv = { 10, 0 };
	struct event	*guard;
	int		 expired = 0;

	guard = evtimer_new(srv.base, on_guard, &expired);
	evtimer_add(guard, &tv);
	while (*counter != want && !expired)
		event_base_loop(srv.base, EVLOOP_ONCE);
	event_free(guard);
	assert_int_equal(*counter, want);
}

static void
done(long status, const char *err, const char *body, size_t len,
    void *arg)
{
	struct result	*r = arg;

	r->calls++;
	r->status = status;
	copy(r->err, sizeof(r->err), err);
	copy(r->body, sizeof(r->body), body);
	r->len = len;
	r->allx = body != NULL;
	for (size_t i = 0; body != NULL && i < len; i++)
		if (body[i] != 'x')
			r->allx = 0;
	assert_true(body == NULL || body[len] == '\0');
	assert_true((status == -1) == (err != NULL));
	pending--;
}

static void
url(char *buf, size_t n, int port, const char *path)
{
	snprintf(buf, n, "http://127.0.0.1:%d%s", port, path);
}

static struct seen *
seen_method(const char *method)
{
	for (int i = 0; i < srv.nseen; i++)
		if (strcmp(srv.seen[i].method, method) == 0)
			return &srv.seen[i];
	fail_msg("no %s request", method);
	return NULL;
}

/* What arrives is what was asked, though the caller's copies are gone. */
static void
test_requests(void **state)
{
	struct httpc_req	 req;
	struct result		 post = { 0 }, put = { 0 }, get = { 0 };
	struct seen		*s;
	char			 u[64], h1[32], h2[64], body[32];
	const char		*headers[] = { h1, h2, NULL };

	(void)state;
	url(u, sizeof(u), srv.port, "/echo");
	strcpy(h1, "X-Test: yes");
	strcpy(h2, "Content-Type: application/json");
	strcpy(body, "{\"a\":1}");
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = u;
	req.headers = headers;
	req.body = body;
	req.len = strlen(body);
	req.timeout_ms = 5000;
	assert_int_equal(httpc_start(client, &req, done, &post), 0);
	memset(u, 'Z', sizeof(u) - 1);
	memset(h1, 'Z', sizeof(h1) - 1);
	memset(h2, 'Z', sizeof(h2) - 1);
	memset(body, 'Z', sizeof(body) - 1);

	url(u, sizeof(u), srv.port, "/echo");
	memset(&req, 0, sizeof(req));
	req.method = "PUT";
	req.url = u;
	req.body = "put body";
	req.len = 8;
	assert_int_equal(httpc_start(client, &req, done, &put), 0);

	url(u, sizeof(u), srv.port, "/missing");
	memset(&req, 0, sizeof(req));
	req.url = u;
	assert_int_equal(httpc_start(client, &req, done, &get), 0);
	pending = 3;
	assert_int_equal(httpc_inflight(client), 3);
	run_until(&pending, 0);
	assert_int_equal(httpc_inflight(client), 0);

	assert_int_equal(post.calls, 1);
	assert_int_equal(post.status, 201);
	assert_string_equal(post.err, "");
	assert_string_equal(post.body, "{\"a\":1}");
	assert_int_equal(post.len, 7);
	s = seen_method("POST");
	assert_string_equal(s->path, "/echo");
	assert_string_equal(s->xtest, "yes");
	assert_string_equal(s->ctype, "application/json");
	assert_string_equal(s->body, "{\"a\":1}");
	assert_int_equal(s->len, 7);

	assert_int_equal(put.status, 201);
	assert_string_equal(put.body, "put body");
	s = seen_method("PUT");
	assert_string_equal(s->body, "put body");
	assert_string_equal(s->xtest, "");

	assert_int_equal(get.status, 404);
	assert_string_equal(get.body, "nope");
	s = seen_method("GET");
	assert_string_equal(s->path, "/missing");
	assert_int_equal(s->len, 0);
}

static void
test_many(void **state)
{
	static struct result	r[100];
	struct httpc_req	req;
	char			u[64], body[32], want[32];

	(void)state;
	memset(r, 0, sizeof(r));
	url(u, sizeof(u), srv.port, "/echo");
	for (int i = 0; i < 100; i++) {
		memset(&req, 0, sizeof(req));
		req.method = "POST";
		req.url = u;
		snprintf(body, sizeof(body), "request %d", i);
		req.body = body;
		req.len = strlen(body);
		assert_int_equal(httpc_start(client, &req, done, &r[i]), 0);
	}
	pending = 100;
	assert_int_equal(httpc_inflight(client), 100);
	run_until(&pending, 0);
	assert_int_equal(httpc_inflight(client), 0);
	assert_int_equal(srv.nseen, 100);
	for (int i = 0; i < 100; i++) {
		snprintf(want, sizeof(want), "request %d", i);
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].status, 201);
		assert_string_equal(r[i].body, want);
	}
}

/* A bound socket that does not listen: connecting gets a reset. */
static void
test_refused(void **state)
{
	struct sockaddr_in	sin;
	struct httpc_req	req;
	struct result		r = { 0 };
	char			u[64];
	int			fd;

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	url(u, sizeof(u), local_port(fd), "/");
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = u;
	req.body = "x";
	req.len = 1;
	assert_int_equal(httpc_start(client, &req, done, &r), 0);
	pending = 1;
	run_until(&pending, 0);
	close(fd);
	assert_int_equal(r.status, -1);
	print_message("refused: %s\n", r.err);
	assert_non_null(strstr(r.err, "Connection refused"));
	assert_int_equal(r.len, 0);
}

/* A listener nobody accepts from: the request is sent, never answered. */
static void
test_timeout(void **state)
{
	struct sockaddr_in	sin;
	struct httpc_req	req;
	struct result		r = { 0 };
	char			u[64];
	double			t0;
	int			fd;

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	url(u, sizeof(u), local_port(fd), "/");
	memset(&req, 0, sizeof(req));
	req.url = u;
	req.timeout_ms = 200;
	t0 = vg_now();
	assert_int_equal(httpc_start(client, &req, done, &r), 0);
	pending = 1;
	run_until(&pending, 0);
	close(fd);
	assert_int_equal(r.status, -1);
	print_message("timeout: %s\n", r.err);
	assert_non_null(strstr(r.err, "timed out"));
	assert_true(vg_now() - t0 >= 0.19);
	assert_true(vg_now() - t0 < 5);
}

static void
test_body_cap(void **state)
{
	struct httpc_req	req;
	struct result		r = { 0 };
	char			u[64];

	(void)state;
	url(u, sizeof(u), srv.port, "/big");
	memset(&req, 0, sizeof(req));
	req.url = u;
	assert_int_equal(httpc_start(client, &req, done, &r), 0);
	pending = 1;
	run_until(&pending, 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, HTTPC_BODY_MAX);
	assert_true(r.allx);
}

static void
test_nomem(void **state)
{
	struct httpc_req	 req;
	struct result		 r = { 0 };
	struct httpc		*h;
	char			 u[64];
	unsigned long		 n;

	(void)state;
	for (n = 1;; n++) {
		vg_alloc_fail_after(n);
		h = httpc_new(srv.base);
		vg_alloc_fail_after(0);
		if (h != NULL)
			break;
	}
	assert_true(n > 1);
	httpc_free(h);

	url(u, sizeof(u), srv.port, "/echo");
	memset(&req, 0, sizeof(req));
	req.url = u;
	req.body = "body";
	req.len = 4;
	for (n = 1;; n++) {
		vg_alloc_fail_after(n);
		if (httpc_start(client, &req, done, &r) == 0)
			break;
		vg_alloc_fail_after(0);
		assert_int_equal(httpc_inflight(client), 0);
	}
	vg_alloc_fail_after(0);
	assert_true(n > 2);
	pending = 1;
	run_until(&pending, 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body, "body");
}

/* A cancelled completion may try to start another request: refused. */
static void
done_restart(long status, const char *err, const char *body, size_t len,
    void *arg)
{
	struct result		*r = arg;
	struct httpc_req	 req;

	memset(&req, 0, sizeof(req));
	req.url = "http://127.0.0.1:1/";
	r->restart = httpc_start(client, &req, done, r);
	done(status, err, body, len, arg);
}

static void
test_free_inflight(void **state)
{
	struct result		r[5];
	struct httpc_req	req;
	char			u[64];

	(void)state;
	memset(r, 0, sizeof(r));
	url(u, sizeof(u), srv.port, "/hold");
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = u;
	req.body = "held";
	req.len = 4;
	for (int i = 0; i < 5; i++)
		assert_int_equal(httpc_start(client, &req, done_restart,
		    &r[i]), 0);
	pending = 5;
	/* Every request has reached the server and waits for an answer. */
	run_until(&srv.held, 5);
	assert_int_equal(httpc_inflight(client), 5);
	httpc_free(client);
	client = NULL;
	assert_int_equal(pending, 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].status, -1);
		assert_string_equal(r[i].err, "cancelled");
		assert_int_equal(r[i].restart, -1);
	}
	/* Let the server see the connections go. */
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
}

/* The first completion frees the client; the others are cancelled. */
static void
done_free(long status, const char *err, const char *body, size_t len,
    void *arg)
{
	done(status, err, body, len, arg);
	httpc_free(client);
	client = NULL;
}

static void
test_free_from_done(void **state)
{
	struct result		first = { 0 }, r[2];
	struct httpc_req	req;
	char			u[64];

	(void)state;
	memset(r, 0, sizeof(r));
	memset(&req, 0, sizeof(req));
	url(u, sizeof(u), srv.port, "/hold");
	req.url = u;
	for (int i = 0; i < 2; i++)
		assert_int_equal(httpc_start(client, &req, done, &r[i]), 0);
	url(u, sizeof(u), srv.port, "/echo");
	req.method = "POST";
	req.body = "bye";
	req.len = 3;
	assert_int_equal(httpc_start(client, &req, done_free, &first), 0);
	pending = 3;
	run_until(&pending, 0);
	assert_null(client);
	assert_int_equal(first.status, 201);
	assert_string_equal(first.body, "bye");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_string_equal(r[i].err, "cancelled");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nomem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_inflight, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_from_done, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
