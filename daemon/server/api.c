/*
 * api.c: the accounts, review queue, feed and audit endpoints, and the
 * moderator page at /ui/ (docs/review-api.md).
 *
 * DESIGN
 * Each handler runs on the loop: it checks the token, parses the query or
 * the JSON body, then calls review.c with the store held.  Moderator
 * actions commit on their own (durably) before the reply; they are rare
 * next to scans, so the loop may wait for that one fsync.  Clause V.3:
 * only moderator and admin tokens reach anything here, the audit log only
 * admins, and the hook role nothing.
 *
 * GET /v1/feed long-polls: a request with nothing newer than ?after waits
 * on a list, with a timer, until srv_feed_check() sees new events and
 * calls api_feed_notify(), or the timeout answers it with no events.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "vigil/bscan.h"
#include "vigil/core.h"
#include "vigil/review.h"

#include "srv_int.h"

#define ROLE_MOD	(1 << VG_ROLE_MODERATOR)
#define ROLE_ADMIN	(1 << VG_ROLE_ADMIN)
#define MAX_JSON_BODY	(64 * 1024)
#define DEFAULT_LIMIT	50
#define MAX_LIMIT	1000

struct waiter {
	TAILQ_ENTRY(waiter)	 entry;
	struct api_feed		*feed;
	struct evhttp_request	*req;
	struct event		*timer;
	int64_t			 after;
	size_t			 limit;
};

struct api_feed {
	struct srv		*srv;
	TAILQ_HEAD(, waiter)	 waiters;
};

/* Query and body helpers ----------------------------------------------- */

/* Parses the query into q; 0, or -1 with req answered. */
static int
query_parse(struct evhttp_request *req, struct evkeyvalq *q)
{
	const char	*s;

	TAILQ_INIT(q);
	s = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (s != NULL && evhttp_parse_query_str(s, q) != 0) {
		reply_error(req, 400, "malformed query string");
		return -1;
	}
	return 0;
}

/* A non-negative integer parameter; -1 with req answered if malformed. */
static int
query_int(struct evhttp_request *req, struct evkeyvalq *q, const char *name,
    long long def, long long max, long long *out)
{
	const char	*s = evhttp_find_header(q, name);
	char		*end, msg[128];
	long long	 v;

	if (s == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > max) {
		snprintf(msg, sizeof(msg), "%s: '%.40s' is not a number from 0 "
		    "to %lld", name, s, max);
		reply_error(req, 400, msg);
		return -1;
	}
	*out = v;
	return 0;
}

/* The request's JSON object body, or NULL with req answered. */
static json_t *
body_json(struct evhttp_request *req)
{
	struct evbuffer	*b = evhttp_request_get_input_buffer(req);
	size_t		 len = evbuffer_get_length(b);
	json_error_t	 e;
	json_t		*j;
	char		 msg[300];

	if (len > MAX_JSON_BODY) {
		reply_error(req, 413, "body larger than 64 KiB");
		return NULL;
	}
	j = json_loadb((const char *)evbuffer_pullup(b, -1), len,
	    JSON_REJECT_DUPLICATES, &e);
	if (j == NULL) {
		snprintf(msg, sizeof(msg), "malformed JSON body at line %d, "
		    "column %d: %s", e.line, e.column, e.text);
		reply_error(req, 400, msg);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(req, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* A string member of the body, or NULL. */
static const char *
body_str(json_t *j, const char *name)
{
	return json_string_value(json_object_get(j, name));
}

/*
 * The moderator an action is taken as: a moderator token acts as the one
 * its config entry names; an admin token acts for the one the body
 * names.  NULL with req answered.
 */
static const char *
acting_moderator(struct evhttp_request *req, enum vg_role role,
    const char *tokname, json_t *body)
{
	const char	*m = body_str(body, "moderator");
	json_t		*mj = json_object_get(body, "moderator");

	if (mj != NULL && !json_is_string(mj)) {
		reply_error(req, 400, "moderator must be a string");
		return NULL;
	}
	if (role == VG_ROLE_MODERATOR) {
		if (tokname == NULL) {
			reply_error(req, 403, "this moderator token names no "
			    "moderator (token = moderator SECRET NAME)");
			return NULL;
		}
		if (m != NULL && strcmp(m, tokname) != 0) {
			reply_error(req, 403, "this token acts as its own "
			    "moderator, not the one the body names");
			return NULL;
		}
		return tokname;
	}
	if (m == NULL || *m == '\0' || strlen(m) > 200) {
		reply_error(req, 400, "moderator: name the moderator this "
		    "admin acts for (1 to 200 characters)");
		return NULL;
	}
	return m;
}

/* Maps a review.c result to a reply; takes the reference to out. */
static void
reply_result(struct evhttp_request *req, enum vigil_err rc, json_t *out,
    const char *why, const char *notfound)
{
	switch (rc) {
	case VIGIL_OK:
		reply_json(req, 200, out);
		return;
	case VIGIL_E_NOTFOUND:
		reply_error(req, 404, notfound);
		break;
	case VIGIL_E_LIMIT:
		reply_error(req, 409, why);
		break;
	case VIGIL_E_INVAL:
	case VIGIL_E_SYNTAX:
		reply_error(req, 400, *why ? why : "bad request");
		break;
	default:
		reply_error(req, 500, vigil_strerror(rc));
		break;
	}
	json_decref(out);
}

/* "/123/claim" -> 123 and "claim"; -1 if no number leads. */
static long long
path_id(const char *p, const char **rest)
{
	char		*end;
	long long	 v;

	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtoll(p, &end, 10);
	if (errno != 0 || v <= 0)
		return -1;
	*rest = end;
	return v;
}

/* Review --------------------------------------------------------------- */

static void
review_get_list(struct srv *srv, struct evhttp_request *req)
{
	struct evkeyvalq	 q;
	struct review		*rv;
	const char		*status, *after;
	long long		 limit;
	json_t			*out = NULL;
	enum vigil_err		 rc;

	if (query_parse(req, &q) == -1)
		return;
	status = evhttp_find_header(&q, "status");
	after = evhttp_find_header(&q, "after");
	if (query_int(req, &q, "limit", DEFAULT_LIMIT, MAX_LIMIT, &limit) ==
	    -1)
		goto out;
	rv = srv_review_hold(srv);
	rc = review_list(rv, status != NULL ? status : "pending", after,
	    (size_t)limit, srv_now(), &out);
	srv_review_drop(srv);
	reply_result(req, rc, out, rc == VIGIL_E_INVAL ? "status: want "
	    "pending, claimed, escalated, decided, open or all" :
	    "after: not a cursor from this list", "");
out:
	evhttp_clear_headers(&q);
}

static void
review_action(struct srv *srv, struct evhttp_request *req, long long id,
    const char *what, enum vg_role role, const char *tokname)
{
	struct review	*rv;
	json_t		*body, *out = NULL;
	const char	*mod, *decision = NULL, *reason;
	char		 why[512] = "";
	enum vigil_err	 rc;
	double		 now = srv_now();

	if ((body = body_json(req)) == NULL)
		return;
	if ((mod = acting_moderator(req, role, tokname, body)) == NULL)
		goto out;
	if (strcmp(what, "decision") == 0) {
		decision = body_str(body, "decision");
		reason = body_str(body, "reason");
		if (decision == NULL) {
			reply_error(req, 400, "decision: want \"suspend\", "
			    "\"dismiss\" or \"escalate\"");
			goto out;
		}
		if (reason == NULL || reason[strspn(reason, " \t\r\n")] ==
		    '\0') {
			reply_error(req, 400, "reason: a decision needs a "
			    "reason");
			goto out;
		}
		if (strlen(reason) > 4000) {
			reply_error(req, 400, "reason: at most 4000 bytes");
			goto out;
		}
		rv = srv_review_hold(srv);
		rc = review_decide(rv, id, mod, decision, reason, now, &out,
		    why, sizeof(why));
	} else {
		rv = srv_review_hold(srv);
		rc = strcmp(what, "claim") == 0 ?
		    review_claim(rv, id, mod, now, &out, why, sizeof(why)) :
		    review_release(rv, id, mod, now, &out, why, sizeof(why));
	}
	srv_review_drop(srv);
	if (rc == VIGIL_OK && strcmp(what, "decision") == 0 &&
	    strcmp(decision, "dismiss") == 0)
		srv_quarantine_undo(srv, id, mod);
	reply_result(req, rc, out, why, "no such review item");
	srv_feed_check(srv);
out:
	json_decref(body);
}

static void
route_review(struct srv *srv, struct evhttp_request *req, const char *rest)
{
	enum evhttp_cmd_type	 m = evhttp_request_get_command(req);
	enum vg_role		 role;
	const char		*tokname, *what;
	struct review		*rv;
	long long		 id;
	json_t			*out = NULL;
	enum vigil_err		 rc;

	if (*rest == '\0') {
		if (m != EVHTTP_REQ_GET) {
			reply_error(req, 405, "method not allowed");
			return;
		}
		if (srv_who(srv, req, ROLE_MOD | ROLE_ADMIN, &role, &tokname))
			review_get_list(srv, req);
		return;
	}
	if (*rest != '/' || (id = path_id(rest + 1, &what)) == -1) {
		reply_error(req, 404, "no such endpoint");
		return;
	}
	if (*what == '\0') {
		if (m != EVHTTP_REQ_GET) {
			reply_error(req, 405, "method not allowed");
			return;
		}
		if (!srv_who(srv, req, ROLE_MOD | ROLE_ADMIN, &role, &tokname))
			return;
		rv = srv_review_hold(srv);
		rc = review_item(rv, id, srv_now(), &out);
		srv_review_drop(srv);
		reply_result(req, rc, out, "", "no such review item");
		return;
	}
	if (strcmp(what, "/claim") != 0 && strcmp(what, "/release") != 0 &&
	    strcmp(what, "/decision") != 0) {
		reply_error(req, 404, "no such endpoint");
		return;
	}
	if (m != EVHTTP_REQ_POST) {
		reply_error(req, 405, "method not allowed");
		return;
	}
	if (srv_who(srv, req, ROLE_MOD | ROLE_ADMIN, &role, &tokname))
		review_action(srv, req, id, what + 1, role, tokname);
}

/* Accounts --------------------------------------------------------------- */

static void
route_accounts(struct srv *srv, struct evhttp_request *req, const char *rest)
{
	enum evhttp_cmd_type	 m = evhttp_request_get_command(req);
	struct evkeyvalq	 q;
	enum vg_role		 role;
	const char		*tokname, *mod, *reason, *slash;
	struct review		*rv;
	long long		 limit;
	char			*id, why[512] = "";
	size_t			 idlen;
	json_t			*out = NULL, *body;
	enum vigil_err		 rc;

	if (!srv_who(srv, req, ROLE_MOD | ROLE_ADMIN, &role, &tokname))
		return;
	if (*rest == '\0') {
		if (m != EVHTTP_REQ_GET) {
			reply_error(req, 405, "method not allowed");
			return;
		}
		if (query_parse(req, &q) == -1)
			return;
		if (query_int(req, &q, "limit", DEFAULT_LIMIT, MAX_LIMIT,
		    &limit) == 0) {
			rv = srv_review_hold(srv);
			rc = review_accounts(rv, evhttp_find_header(&q,
			    "state"), evhttp_find_header(&q, "after"),
			    (size_t)limit, srv_now(), &out);
			srv_review_drop(srv);
			reply_result(req, rc, out, "", "");
		}
		evhttp_clear_headers(&q);
		return;
	}
	if (*rest != '/' || rest[1] == '\0') {
		reply_error(req, 404, "no such endpoint");
		return;
	}
	rest++;
	slash = strchr(rest, '/');
	/* Decode the id segment alone: an encoded '/' belongs to the id. */
	if ((id = vg_strndup(rest, slash != NULL ? (size_t)(slash - rest) :
	    strlen(rest))) == NULL) {
		reply_error(req, 500, "out of memory");
		return;
	}
	{
		char *dec = evhttp_uridecode(id, 0, &idlen);

		vg_free(id);
		if (dec == NULL) {
			reply_error(req, 500, "out of memory");
			return;
		}
		if (strlen(dec) != idlen) {
			free(dec);
			reply_error(req, 400, "account id holds a NUL");
			return;
		}
		id = dec;
	}
	if (slash == NULL) {
		if (m != EVHTTP_REQ_GET)
			reply_error(req, 405, "method not allowed");
		else {
			rv = srv_review_hold(srv);
			rc = review_account(rv, id, srv_now(), &out);
			srv_review_drop(srv);
			reply_result(req, rc, out, "", "no such account");
		}
	} else if (strcmp(slash, "/reinstate") != 0)
		reply_error(req, 404, "no such endpoint");
	else if (m != EVHTTP_REQ_POST)
		reply_error(req, 405, "method not allowed");
	else if ((body = body_json(req)) != NULL) {
		reason = body_str(body, "reason");
		if ((mod = acting_moderator(req, role, tokname, body)) == NULL)
			;
		else if (reason == NULL || *reason == '\0')
			reply_error(req, 400, "reason: reinstating needs a "
			    "reason");
		else {
			rv = srv_review_hold(srv);
			rc = review_reinstate(rv, id, mod, reason, srv_now(),
			    &out, why, sizeof(why));
			srv_review_drop(srv);
			reply_result(req, rc, out, why, "no such account");
			srv_feed_check(srv);
		}
		json_decref(body);
	}
	free(id);
}

/* Feed ------------------------------------------------------------------- */

static void
feed_answer(struct srv *srv, struct evhttp_request *req, int64_t after,
    size_t limit)
{
	struct review	*rv;
	json_t		*events = NULL;
	int64_t		 last = 0;
	enum vigil_err	 rc;

	rv = srv_review_hold(srv);
	rc = review_feed(rv, after, limit, &events, &last);
	srv_review_drop(srv);
	if (rc != VIGIL_OK) {
		reply_error(req, 500, vigil_strerror(rc));
		return;
	}
	reply_json(req, 200, json_pack("{so sI}", "events", events, "last",
	    (json_int_t)last));
}

static void
waiter_free(struct waiter *w)
{
	TAILQ_REMOVE(&w->feed->waiters, w, entry);
	if (w->timer != NULL)
		event_free(w->timer);
	vg_free(w);
}

static void
waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct waiter	*w = arg;

	(void)fd;
	(void)what;
	feed_answer(w->feed->srv, w->req, w->after, w->limit);
	waiter_free(w);
}

static void
feed_get(struct srv *srv, struct api_feed *feed, struct evhttp_request *req)
{
	struct evkeyvalq	 q;
	struct review		*rv;
	struct waiter		*w;
	struct timeval		 tv;
	long long		 after, limit, timeout;
	int64_t			 last;

	if (query_parse(req, &q) == -1)
		return;
	if (query_int(req, &q, "after", 0, INT64_MAX, &after) == -1 ||
	    query_int(req, &q, "limit", 100, MAX_LIMIT, &limit) == -1 ||
	    query_int(req, &q, "timeout", 0,
	    (long long)srv_config(srv)->feed_poll_max, &timeout) == -1) {
		evhttp_clear_headers(&q);
		return;
	}
	evhttp_clear_headers(&q);
	rv = srv_review_hold(srv);
	last = review_feed_last(rv);
	srv_review_drop(srv);
	if (last > after || timeout == 0 || limit == 0) {
		feed_answer(srv, req, after, (size_t)limit);
		return;
	}
	if ((w = vg_calloc(1, sizeof(*w))) == NULL) {
		reply_error(req, 500, "out of memory");
		return;
	}
	w->feed = feed;
	w->req = req;
	w->after = after;
	w->limit = (size_t)limit;
	TAILQ_INSERT_TAIL(&feed->waiters, w, entry);
	if ((w->timer = evtimer_new(srv_base(srv), waiter_timeout, w)) ==
	    NULL) {
		waiter_free(w);
		reply_error(req, 500, "out of memory");
		return;
	}
	tv.tv_sec = (time_t)timeout;
	tv.tv_usec = 0;
	evtimer_add(w->timer, &tv);
}

struct api_feed *
api_feed_new(struct srv *srv)
{
	struct api_feed	*f;

	if ((f = vg_calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->srv = srv;
	TAILQ_INIT(&f->waiters);
	return f;
}

void
api_feed_notify(struct api_feed *f, int64_t last)
{
	struct waiter	*w, *next;

	for (w = TAILQ_FIRST(&f->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (last > w->after) {
			feed_answer(f->srv, w->req, w->after, w->limit);
			waiter_free(w);
		}
	}
}

void
api_feed_free(struct api_feed *f)
{
	if (f == NULL)
		return;
	while (!TAILQ_EMPTY(&f->waiters)) {
		struct waiter *w = TAILQ_FIRST(&f->waiters);

		feed_answer(f->srv, w->req, w->after, w->limit);
		waiter_free(w);
	}
	vg_free(f);
}

/* Audit ------------------------------------------------------------------ */

static void
audit_get(struct srv *srv, struct evhttp_request *req)
{
	struct evkeyvalq	 q;
	struct review		*rv;
	const char		*subject;
	long long		 after, limit;
	json_t			*out = NULL;
	enum vigil_err		 rc;

	if (query_parse(req, &q) == -1)
		return;
	subject = evhttp_find_header(&q, "subject");
	if (subject == NULL || *subject == '\0')
		reply_error(req, 400, "subject: name an account, an object "
		    "(BUCKET/KEY) or a review item (review/ID)");
	else if (query_int(req, &q, "after", 0, INT64_MAX, &after) == 0 &&
	    query_int(req, &q, "limit", 100, MAX_LIMIT, &limit) == 0) {
		rv = srv_review_hold(srv);
		rc = review_audit_query(rv, subject, after, (size_t)limit,
		    &out);
		srv_review_drop(srv);
		reply_result(req, rc, out, "", "");
	}
	evhttp_clear_headers(&q);
}

/* The moderator page ----------------------------------------------------- */

static void
ui_get(struct evhttp_request *req, const char *rest)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		reply_error(req, 405, "method not allowed");
		return;
	}
	if (*rest == '\0') {
		evhttp_add_header(h, "Location", "/ui/");
		reply_raw(req, 301, "text/plain", "/ui/\n", 5);
		return;
	}
	rest++;
	if (*rest == '\0')
		rest = "index.html";
	for (size_t i = 0; i < ui_nassets; i++) {
		if (strcmp(ui_assets[i].name, rest) != 0)
			continue;
		/* The page's data comes from the API, with the token. */
		evhttp_add_header(h, "Content-Security-Policy",
		    "default-src 'none'; script-src 'self'; style-src 'self'; "
		    "connect-src 'self'; img-src 'self' data:; "
		    "base-uri 'none'; form-action 'none'; "
		    "frame-ancestors 'none'");
		evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
		evhttp_add_header(h, "Referrer-Policy", "no-referrer");
		evhttp_add_header(h, "Cache-Control", "no-cache");
		reply_raw(req, 200, ui_assets[i].type,
		    (const char *)ui_assets[i].data, ui_assets[i].len);
		return;
	}
	reply_error(req, 404, "no such page");
}

/* Bucket scans ------------------------------------------------------------ */

/* An optional non-negative integer member; -1 with req answered. */
static int
body_uint(struct evhttp_request *req, json_t *body, const char *name,
    uint64_t *out)
{
	json_t	*v = json_object_get(body, name);
	char	 msg[128];

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		snprintf(msg, sizeof(msg), "%s: want a number of 0 or more",
		    name);
		reply_error(req, 400, msg);
		return -1;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static void
bscan_post(struct srv *srv, struct evhttp_request *req)
{
	json_t		*body, *out = NULL, *bj, *pj, *mj;
	const char	*bucket, *prefix = "", *mode = "incremental";
	uint64_t	 mops, mbps;
	int64_t		 id = 0;
	char		 why[512] = "";
	enum vigil_err	 rc;

	if ((body = body_json(req)) == NULL)
		return;
	bj = json_object_get(body, "bucket");
	pj = json_object_get(body, "prefix");
	mj = json_object_get(body, "mode");
	if ((bucket = json_string_value(bj)) == NULL || *bucket == '\0') {
		reply_error(req, 400, "bucket: name the bucket to scan");
		goto out;
	}
	if (pj != NULL && !json_is_null(pj) && (prefix =
	    json_string_value(pj)) == NULL) {
		reply_error(req, 400, "prefix: want a string");
		goto out;
	}
	if (mj != NULL && !json_is_null(mj) && (mode =
	    json_string_value(mj)) == NULL) {
		reply_error(req, 400, "mode: want \"incremental\" or "
		    "\"full\"");
		goto out;
	}
	if (body_uint(req, body, "max_objects_per_s", &mops) == -1 ||
	    body_uint(req, body, "max_bytes_per_s", &mbps) == -1)
		goto out;
	rc = srv_bscan_start(srv, bucket, prefix, mode, mops, mbps, "admin",
	    &id, why, sizeof(why));
	if (rc == VIGIL_E_INVAL) {
		reply_error(req, 400, why);
		goto out;
	}
	if (rc == VIGIL_E_LIMIT && id == 0) {
		reply_error(req, 503, why);
		goto out;
	}
	if (rc != VIGIL_OK && rc != VIGIL_E_LIMIT) {
		reply_error(req, 500, why);
		goto out;
	}
	if (rc == VIGIL_OK && srv_bscan_hold(srv, id, req))
		goto out;
	(void)bscan_get(srv_bscan(srv), id, srv_now(), &out);
	srv_review_drop(srv);
	if (rc == VIGIL_E_LIMIT && out != NULL)
		json_object_set_new(out, "error", json_string(why));
	reply_json(req, rc == VIGIL_OK ? 201 : 409, out);
out:
	json_decref(body);
}

static void
route_bscans(struct srv *srv, struct evhttp_request *req, const char *rest)
{
	enum evhttp_cmd_type	 m = evhttp_request_get_command(req);
	enum vg_role		 role;
	const char		*tokname, *tail;
	struct evkeyvalq	 q;
	long long		 id, limit;
	json_t			*out = NULL;
	enum vigil_err		 rc;

	if (*rest == '\0') {
		if (m == EVHTTP_REQ_POST) {
			if (srv_who(srv, req, ROLE_ADMIN, &role, &tokname))
				bscan_post(srv, req);
		} else if (m == EVHTTP_REQ_GET) {
			if (!srv_who(srv, req, ROLE_MOD | ROLE_ADMIN, &role,
			    &tokname) || query_parse(req, &q) == -1)
				return;
			if (query_int(req, &q, "limit", 100, MAX_LIMIT,
			    &limit) == 0) {
				rc = bscan_list(srv_bscan(srv), (size_t)limit,
				    srv_now(), &out);
				srv_review_drop(srv);
				reply_result(req, rc, out, "", "");
			}
			evhttp_clear_headers(&q);
		} else
			reply_error(req, 405, "method not allowed");
		return;
	}
	if (*rest != '/' || (id = path_id(rest + 1, &tail)) == -1 ||
	    *tail != '\0') {
		reply_error(req, 404, "no such endpoint");
		return;
	}
	if (m == EVHTTP_REQ_GET) {
		if (!srv_who(srv, req, ROLE_MOD | ROLE_ADMIN, &role, &tokname))
			return;
		rc = bscan_get(srv_bscan(srv), id, srv_now(), &out);
		srv_review_drop(srv);
		reply_result(req, rc, out, "", "no such bucket scan");
	} else if (m == EVHTTP_REQ_DELETE) {
		if (!srv_who(srv, req, ROLE_ADMIN, &role, &tokname))
			return;
		rc = srv_bscan_cancel(srv, id, "admin");
		if (rc == VIGIL_OK || rc == VIGIL_E_LIMIT) {
			(void)bscan_get(srv_bscan(srv), id, srv_now(), &out);
			srv_review_drop(srv);
		}
		reply_result(req, rc, out, "the bucket scan is not running",
		    "no such bucket scan");
	} else
		reply_error(req, 405, "method not allowed");
}

/* Routing ---------------------------------------------------------------- */

int
api_route(struct srv *srv, struct api_feed *feed, struct evhttp_request *req,
    const char *path)
{
	enum vg_role	 role;
	const char	*tokname;

	if (strncmp(path, "/v1/review", 10) == 0 && (path[10] == '\0' ||
	    path[10] == '/'))
		route_review(srv, req, path + 10);
	else if (strncmp(path, "/v1/bucket-scans", 16) == 0 &&
	    (path[16] == '\0' || path[16] == '/'))
		route_bscans(srv, req, path + 16);
	else if (strncmp(path, "/v1/accounts", 12) == 0 &&
	    (path[12] == '\0' || path[12] == '/'))
		route_accounts(srv, req, path + 12);
	else if (strcmp(path, "/v1/feed") == 0) {
		if (evhttp_request_get_command(req) != EVHTTP_REQ_GET)
			reply_error(req, 405, "method not allowed");
		else if (srv_who(srv, req, ROLE_MOD | ROLE_ADMIN, &role,
		    &tokname))
			feed_get(srv, feed, req);
	} else if (strcmp(path, "/v1/audit") == 0) {
		if (evhttp_request_get_command(req) != EVHTTP_REQ_GET)
			reply_error(req, 405, "method not allowed");
		else if (srv_who(srv, req, ROLE_ADMIN, &role, &tokname))
			audit_get(srv, req);
	} else if (strncmp(path, "/ui", 3) == 0 && (path[3] == '\0' ||
	    path[3] == '/'))
		ui_get(req, path + 3);
	else
		return 0;
	return 1;
}
