/*
 * serve.c: `vigil serve`, the HTTP daemon.
 *
 * DESIGN
 * One libevent loop (this thread) owns every socket, timer and the current
 * ruleset pointer.  Scans run on the workq threads; a job carries copies
 * of what it needs (fd, names, a ruleset reference, limits) and comes back
 * to the loop through the workq's eventfd.  SQLite writes run on a store
 * writer thread (a workq of one), so the loop never waits for a commit or
 * an fsync: the loop fills a cycle (events to insert, finished jobs to
 * record, inbox rows to claim) while the writer commits the previous one
 * in one transaction, then answers everyone the cycle covered.
 *
 *   POST /v1/scan    body (its evbuffer, moved, not copied) -> job ->
 *                    worker (hash, cache, scan from memory, result JSON
 *                    made there) -> done -> 200 at once if clean, then
 *                    cycle; other verdicts answer after the cycle, so a
 *                    finding is in the review queue before the caller
 *                    acts on it
 *   POST /v1/events  body -> cycle -> writer parses; one durable
 *                    (synchronous=FULL) commit for every waiting request
 *                    -> 202 each (400 for a malformed body)
 *   cycle            loop: fill ──> writer: BEGIN; inserts; verdicts and
 *                    inbox rows done; claim pending rows (attempt
 *                    counted); COMMIT ──> loop: 202s, 200s, claimed rows
 *                    -> jobs.  While the writer is busy the next cycle
 *                    fills: that is the group commit.  An idle writer
 *                    takes events after commit_delay_ms, other work at once.
 *   SIGHUP, POST /v1/rules/reload
 *                    compile on a thread -> eventfd -> swap pointer; jobs
 *                    in flight keep their reference to the old ruleset
 *   SIGTERM          stop listening, 503 new requests, commit the cycle,
 *                    wait for jobs in flight up to drain_timeout, exit 0
 *
 * An evhttp request that has not been answered stays allocated even if
 * its client goes away (libevent detaches it and frees it when we reply),
 * so a job may hold its request until completion; the loop answers every
 * held request before evhttp_free().
 *
 * The bound port is logged ("listening on ADDR:PORT") and written to
 * STATE_DIR/port, so tests can start with --listen 127.0.0.1:0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <pwd.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "vigil/bscan.h"
#include "vigil/cli.h"
#include "vigil/config.h"
#include "vigil/core.h"
#include "vigil/cron.h"
#include "vigil/engine.h"
#include "vigil/review.h"
#include "vigil/server.h"
#include "vigil/sources.h"
#include "vigil/store.h"

#include "srv_int.h"
#include "workq.h"

#define MAX_ATTEMPTS	2	/* scans that crashed the daemon, then "error" */
#define RELOAD_WAITERS	32
#define DONE_BATCH	1024	/* finished jobs one cycle records */
#define PURGE_INTERVAL	86400.0	/* seconds between audit purges */
#define LIST_PAGE	1000	/* keys per bucket listing page */
#define LIST_AHEAD	2000	/* list more when fewer items wait */
#define MAX_BJOBS	64	/* bucket scan jobs running at once */

enum { ROLE_HOOK = 1 << VG_ROLE_HOOK, ROLE_MOD = 1 << VG_ROLE_MODERATOR,
    ROLE_ADMIN = 1 << VG_ROLE_ADMIN, ROLE_ANY = 7 };

enum job_kind { JOB_BODY, JOB_OBJECT };

struct srv;

struct job {
	enum job_kind		 kind;
	struct srv		*srv;
	struct job		*prev, *next;	/* in flight, loop only */
	struct evhttp_request	*req;		/* JOB_BODY, loop only */
	/* JOB_BODY: the request body, its chains, and a read position. */
	struct evbuffer		*body;
	struct evbuffer_iovec	*iov;
	int			 niov, bi;
	size_t			 boff;
	uint64_t		 bodylen;
	char			*name;
	char			*account;
	struct eng_ruleset	*rs;
	struct store_item	 item;		/* JOB_OBJECT */
	double			 queued, received;
	/* Filled by the worker: a fresh result, or a cached one's JSON. */
	struct eng_result	*res;
	char			*json;		/* cache hit (vg_free) */
	enum vigil_verdict	 verdict;	/* of the hit */
	uint64_t		 size;
	char			 sha256[65];
	double			 seconds;
	int			 stored;	/* written by the writer */
	/* Bucket objects: what the source said when opening it. */
	struct source_stat	 sst;
	int64_t			 bjob;		/* bucket scan job, or 0 */
	unsigned		 qactions;	/* quarantine, VG_Q_* */
	int			 bcached;	/* verdict reused by sha256 */
};

/*
 * A running bucket scan job, as the loop drives it: listing pages come
 * from the lister thread, items are claimed through store cycles, and a
 * token bucket per job enforces its rate limits.
 */
struct brun {
	struct bscan_job	 j;
	int			 listing;	/* a page is being listed */
	int			 stalled;	/* listing failed: retry later */
	int64_t			 outstanding;	/* items listed, not done */
	int			 maybe;		/* pending items may exist */
	double			 tok_obj, tok_bytes, refilled;
	/* Listed sizes of the items claimed: how many bytes a claim is. */
	uint64_t		 claimed_bytes, claimed_objs;
	/* The POST that started the job, held until its first listing. */
	struct evhttp_request	*req;
	double			 req_since;
};

/* A quarantine action (or its undo) for the quarantine thread. */
struct qtask {
	struct srv	*srv;
	char		*bucket, *key, *memo, *qbucket, *actor;
	unsigned	 actions;
	int		 undo;
};

/* A listing page on its way from the lister thread to the store. */
struct bpage {
	struct srv		*srv;
	int64_t			 job;
	char			*bucket, *prefix, *after, *token;
	struct source_listing	 l;
	enum vigil_err		 err;
};

/* What each worker thread keeps: a scanner and a cache reader. */
struct wstate {
	struct eng_scanner	*sc;
	struct store_reader	*rd;
};

struct intake {
	struct evhttp_request	*req;
	/* The body (in req's input buffer), parsed by the writer. */
	const char		*body;
	size_t			 len;
	struct source_events	*evs;
	int			 status;	/* 0: applied; else the reply's */
	char			 err[256];	/* why, for a 4xx or 5xx */
	/* What the 202 reports, filled inside the commit. */
	uint64_t		 accepted, duplicates, cancelled, ignored;
};

/*
 * One transaction's worth of store work, filled by the loop and run by
 * the writer thread: event intake (which makes it a durable commit),
 * verdicts of finished jobs, and a claim of pending inbox rows.
 */
struct cycle {
	struct srv		*srv;
	struct intake		*in;		/* max_connections */
	size_t			 nin;
	struct job		**done;		/* DONE_BATCH */
	size_t			 ndone;
	size_t			 claim;		/* rows wanted, 0 for none */
	int			 suspects;	/* claim crash suspects */
	/* Bucket scans: pages to record, a claim, jobs to check. */
	struct bpage		*pages[MAX_BJOBS];
	size_t			 npages;
	int64_t			 bclaim_job;
	size_t			 bclaim;
	int64_t			 bids[MAX_BJOBS];
	size_t			 nbids;
	/* Filled by the writer. */
	enum vigil_err		 rc;
	struct store_item	*items;
	size_t			 nitems;
	int64_t			 feed_last;	/* after the commit */
	struct bscan_item	*bitems;
	size_t			 nbitems, bskipped;
	int64_t			 bout[MAX_BJOBS];	/* outstanding */
	int			 bdone[MAX_BJOBS];
};

static const double latency_bounds[] = { 0.005, 0.01, 0.05, 0.1, 0.25, 0.5,
    1, 2.5, 5, 10, 30, 60, 120 };
#define NBOUNDS (sizeof(latency_bounds) / sizeof(latency_bounds[0]))

struct metrics {
	uint64_t	events_accepted, events_duplicate, events_cancelled;
	uint64_t	scans[4];	/* by enum vigil_verdict */
	uint64_t	bytes_scanned;
	uint64_t	reloads_ok, reloads_failed;
	uint64_t	refused;	/* 503s for a full queue */
	uint64_t	cache_hits;
	uint64_t	latency[NBOUNDS + 1];
	double		latency_sum;
	uint64_t	latency_count;
};

struct srv {
	const struct vg_config	*cfg;
	struct event_base	*base;
	struct evhttp		*http;
	struct evhttp_bound_socket *bound;
	char			 host[256];	/* listening on host:port */
	unsigned		 port;
	struct srv_workq	*wq;
	struct store		*st;
	const struct source_backend *src;	/* local buckets */
	void			*src_state;
	/* Buckets with a source of their own ([bucket] source = s3). */
	struct {
		const char			*bucket;
		const struct source_backend	*be;
		void				*state;
	}			*binds;
	size_t			 nbinds;
	struct eng_ruleset	*rs;
	struct vg_token		 admin;		/* generated, if none set */
	regex_t			 prefix_re;
	int			 have_re;
	char			**acct_map;	/* bucket, account, ..., NULL */
	struct event		*ev_done, *ev_sig[3], *ev_commit, *ev_tick;
	struct event		*ev_reload, *ev_drain;
	struct job		*inflight;
	size_t			 ninflight;
	struct job		*solo;		/* a crash suspect, run alone */
	/*
	 * The store writer: one thread (a workq of one) runs a cycle at a
	 * time while the loop fills the other.  store_mu is held by the
	 * writer for a whole cycle and by the loop around its own store
	 * calls (start-up, releases, GET /v1/objects, metrics, readyz).
	 */
	struct srv_workq	*wr;
	struct event		*ev_wrdone;
	pthread_mutex_t		 store_mu;
	struct cycle		 cyc[2];
	struct cycle		*fill, *busy;	/* busy: NULL when idle */
	int			 inbox_maybe;	/* claimable rows may exist */
	struct evhttp_connection **conns;
	size_t			 nconns;
	int			 draining;
	int			 suspects;	/* crash suspects may wait */
	/* Background reload. */
	struct {
		int			 running;
		pthread_t		 th;
		int			 efd;
		struct eng_ruleset	*rs;
		enum vigil_err		 err;
		struct eng_diag		 diag;
		struct evhttp_request	*waiters[RELOAD_WAITERS];
		size_t			 nwaiters;
		const char		*actor;	/* "admin" or "SIGHUP" */
	} reload;
	struct metrics		 m;
	double			 started;
	/* Accounts and review (store/review.c, api.c, webhook.c). */
	struct review		*rv;
	struct api_feed		*feed;
	struct hooks		*hooks;
	int64_t			 feed_last;	/* newest event announced */
	double			 last_purge;
	/* Bucket scans. */
	struct bscan		*bs;
	struct brun		 bj[MAX_BJOBS];
	size_t			 nbj;
	size_t			 bj_next;	/* round robin */
	struct srv_workq	*lister;
	struct srv_workq	*qwq;		/* quarantine actions */
	struct event		*ev_qdone;
	struct event		*ev_lister, *ev_throttle;
	struct bpage		*pages[MAX_BJOBS];	/* listed, to store */
	size_t			 npages;
	int			 bcheck;	/* jobs may have finished */
	time_t			*sched_next;	/* per [bucket] section */
	struct vg_cron		*crons;
	uint64_t		 bucket_reads;	/* objects opened by jobs */
};

/* The source of bucket: its [bucket] section's, else the local store. */
static void
srv_source(struct srv *srv, const char *bucket,
    const struct source_backend **be, void **state)
{
	for (size_t i = 0; i < srv->nbinds; i++)
		if (strcmp(srv->binds[i].bucket, bucket) == 0) {
			*be = srv->binds[i].be;
			*state = srv->binds[i].state;
			return;
		}
	*be = srv->src;
	*state = srv->src_state;
}

/* Opens the sources of [bucket] sections; -1 with the reason logged. */
static int
sources_open(struct srv *srv)
{
	const struct vg_config	*cfg = srv->cfg;
	char			 err[256];

	if (cfg->nbuckets > 0 && (srv->binds = vg_calloc(cfg->nbuckets,
	    sizeof(*srv->binds))) == NULL)
		return -1;
	for (size_t i = 0; i < cfg->nbuckets; i++) {
		const struct vg_bucket *b = &cfg->buckets_cfg[i];

		if (strcmp(b->source, "s3") != 0)
			continue;
		if (source_s3_open(b, &srv->binds[srv->nbinds].state, err,
		    sizeof(err)) != VIGIL_OK) {
			vg_log_warnx("bucket \"%s\": %s", b->name, err);
			return -1;
		}
		srv->binds[srv->nbinds].bucket = b->name;
		srv->binds[srv->nbinds].be = source_backend_find("s3");
		srv->nbinds++;
		vg_log_info("bucket \"%s\": S3 at %s", b->name, b->endpoint);
	}
	return 0;
}

static double
wallclock(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Replies ------------------------------------------------------------- */

/* The body goes straight into the request's own output buffer. */
static void
reply_raw2(struct evhttp_request *req, int code, const char *type,
    const char *body, size_t len, const char *tail, size_t tlen)
{
	struct evbuffer	*b = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	(void)evbuffer_add(b, body, len);
	if (tlen > 0)
		(void)evbuffer_add(b, tail, tlen);
	evhttp_send_reply(req, code, NULL, NULL);
}

void
reply_raw(struct evhttp_request *req, int code, const char *type,
    const char *body, size_t len)
{
	reply_raw2(req, code, type, body, len, NULL, 0);
}

/* Takes the reference to j. */
void
reply_json(struct evhttp_request *req, int code, json_t *j)
{
	char	*s;

	s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s == NULL) {
		reply_raw(req, 500, "application/json",
		    "{\"error\":\"out of memory\"}\n", 25);
		return;
	}
	reply_raw(req, code, "application/json", s, strlen(s));
	free(s);
}

void
reply_error(struct evhttp_request *req, int code, const char *msg)
{
	reply_json(req, code, json_pack("{ss}", "error", msg));
}

/* Authentication ------------------------------------------------------ */

static int
token_matches(const char *given, size_t glen, const char *secret)
{
	size_t	slen = strlen(secret);

	return glen == slen && CRYPTO_memcmp(given, secret, slen) == 0;
}

/*
 * Whether the request carries a token with one of the roles in mask.  If
 * not, the request has been answered (401 or 403) and must not be used.
 */
int
srv_who(struct srv *srv, struct evhttp_request *req, int mask,
    enum vg_role *rolep, const char **name)
{
	const char	*h, *tok;
	size_t		 tlen;
	int		 role = -1;

	*name = NULL;
	h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0) {
		for (tok = h + 7; *tok == ' '; tok++)
			;
		tlen = strlen(tok);
		for (size_t i = 0; i < srv->cfg->ntokens; i++)
			if (token_matches(tok, tlen,
			    srv->cfg->tokens[i].secret)) {
				role = (int)srv->cfg->tokens[i].role;
				*name = srv->cfg->tokens[i].name;
			}
		if (srv->admin.secret != NULL && token_matches(tok, tlen,
		    srv->admin.secret))
			role = VG_ROLE_ADMIN;
	}
	if (role < 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer realm=\"vigil\"");
		reply_error(req, 401, "missing or unknown bearer token");
		return 0;
	}
	if ((mask & (1 << role)) == 0) {
		reply_error(req, 403, "this token's role may not do that");
		return 0;
	}
	*rolep = (enum vg_role)role;
	return 1;
}

static int
authorize(struct srv *srv, struct evhttp_request *req, int mask)
{
	enum vg_role	 role;
	const char	*name;

	return srv_who(srv, req, mask, &role, &name);
}

const struct vg_config *
srv_config(struct srv *srv)
{
	return srv->cfg;
}

struct event_base *
srv_base(struct srv *srv)
{
	return srv->base;
}

double
srv_now(void)
{
	return wallclock();
}

/* Connections --------------------------------------------------------- */

static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct srv	*srv = arg;

	for (size_t i = 0; i < srv->nconns; i++)
		if (srv->conns[i] == evcon) {
			srv->conns[i] = srv->conns[--srv->nconns];
			break;
		}
}

/*
 * Counts the request's connection; 0 when the limit is reached (the
 * request has then been answered 503 and its connection will close).
 * libevent 2.1 has no accept hook, so connections count from their first
 * request; idle ones are bounded by the read timeout.
 */
static int
conn_admit(struct srv *srv, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	if (evcon == NULL)
		return 1;
	for (size_t i = 0; i < srv->nconns; i++)
		if (srv->conns[i] == evcon)
			return 1;
	if (srv->nconns == srv->cfg->max_connections) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		reply_error(req, 503, "too many connections");
		return 0;
	}
	srv->conns[srv->nconns++] = evcon;
	evhttp_connection_set_closecb(evcon, conn_closed, srv);
	return 1;
}

/*
 * libevent 2.1 reads a socket 4 KiB at a time whatever the bufferevent
 * asks (EVBUFFER_MAX_READ; 2.2 makes it settable), each read with an
 * ioctl and a trip back through epoll: 800 system calls for a 1 MiB scan
 * body, a third of the daemon's CPU under 1 MiB scans.  When a read
 * brings a full 4 KiB, the socket probably holds more, so this callback
 * on the connection's input buffer reads what is there straight in (up
 * to READ_AHEAD a call) before evhttp looks at it.  An EOF or error it
 * meets is met again by libevent's next read, which handles it.
 */
#define READ_AHEAD	(256 * 1024)
#define LIBEVENT_READ	4096	/* EVBUFFER_MAX_READ in libevent 2.1 */

static void
conn_input(struct evbuffer *in, const struct evbuffer_cb_info *info,
    void *arg)
{
	static int		 inside;	/* loop thread only */
	struct bufferevent	*bev = arg;
	struct evbuffer_iovec	 v[2];
	evutil_socket_t		 fd;
	ssize_t			 r;
	size_t			 left;
	int			 n;

	if (inside || info->n_added < LIBEVENT_READ ||
	    evbuffer_get_length(in) > 4 * READ_AHEAD ||
	    (fd = bufferevent_getfd(bev)) == -1 ||
	    (n = evbuffer_reserve_space(in, READ_AHEAD, v, 2)) <= 0)
		return;
	do
		r = readv(fd, (struct iovec *)v, n);
	while (r == -1 && errno == EINTR);
	if (r <= 0)
		return;
	left = (size_t)r;
	for (int i = 0; i < n; i++) {
		if (left < v[i].iov_len)
			v[i].iov_len = left;
		left -= v[i].iov_len;
		if (v[i].iov_len == 0) {
			n = i;
			break;
		}
	}
	inside = 1;
	(void)evbuffer_commit_space(in, v, n);
	inside = 0;
}

/* Each connection's bufferevent, with conn_input() on its input. */
static struct bufferevent *
conn_bev(struct event_base *base, void *arg)
{
	struct bufferevent	*bev;

	(void)arg;
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL) {
		(void)bufferevent_set_max_single_read(bev, READ_AHEAD);
		if (evbuffer_add_cb(bufferevent_get_input(bev), conn_input,
		    bev) == NULL) {
			bufferevent_free(bev);
			return NULL;
		}
	}
	return bev;
}

/* Jobs ---------------------------------------------------------------- */

/* A finished job's verdict: of its result, or of the cached one. */
static enum vigil_verdict
job_verdict(const struct job *job)
{
	return job->res != NULL ? job->res->verdict : job->verdict;
}

static void
job_free(struct job *job)
{
	if (job == NULL)
		return;
	if (job->body != NULL)
		evbuffer_free(job->body);
	vg_free(job->iov);
	vg_free(job->name);
	vg_free(job->account);
	if (job->rs != NULL)
		eng_ruleset_unref(job->rs);
	store_item_free(&job->item);
	eng_result_free(job->res);
	vg_free(job->json);
	vg_free(job);
}

static struct job *
job_new(struct srv *srv, enum job_kind kind)
{
	struct job	*job;

	if ((job = vg_calloc(1, sizeof(*job))) == NULL)
		return NULL;
	job->kind = kind;
	job->srv = srv;
	job->queued = vg_now();
	job->received = wallclock();
	return job;
}

/* Worker side: a scanner and a cache reader per thread. */
static void *
worker_init(void *arg)
{
	struct srv	*srv = arg;
	struct wstate	*ws;

	if ((ws = vg_calloc(1, sizeof(*ws))) == NULL)
		return NULL;
	if (eng_scanner_new(&ws->sc) != VIGIL_OK)
		vg_log_warnx("cannot set up a scanner (libmagic database "
		    "missing?)");
	else if (srv->cfg->excerpt != VG_EXCERPT_OFF)
		eng_scanner_set_excerpt(ws->sc, (size_t)srv->cfg->excerpt_bytes);
	if (store_reader_open(srv->cfg->state_dir, &ws->rd) != VIGIL_OK)
		vg_log_warnx("verdict cache unavailable on a worker");
	return ws;
}

static void
worker_fini(void *state)
{
	struct wstate	*ws = state;

	if (ws == NULL)
		return;
	eng_scanner_free(ws->sc);
	store_reader_close(ws->rd);
	vg_free(ws);
}

/* A SHA-256 context, or NULL. */
static EVP_MD_CTX *
sha_begin(void)
{
	EVP_MD_CTX	*ctx;

	if ((ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

/* Frees ctx; if ok, its digest as hex.  0, or -1 if !ok or it failed. */
static int
sha_end(EVP_MD_CTX *ctx, int ok, char hex[65])
{
	unsigned char	md[32];
	unsigned int	mdlen;

	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	for (int i = 0; ok && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return ok ? 0 : -1;
}

/* SHA-256 of everything in fd, as hex; -1 on a read error. */
static int
hash_fd(int fd, char hex[65])
{
	EVP_MD_CTX	*ctx;
	unsigned char	 buf[65536];
	off_t		 off = 0;
	ssize_t		 n;

	if ((ctx = sha_begin()) == NULL)
		return -1;
	while ((n = pread(fd, buf, sizeof(buf), off)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			return sha_end(ctx, 0, hex);
		off += n;
	}
	return sha_end(ctx, 1, hex);
}

/* The SHA-256 of a request body, from its chains in place. */
static int
hash_body(const struct job *job, char hex[65])
{
	EVP_MD_CTX	*ctx;

	if ((ctx = sha_begin()) == NULL)
		return -1;
	for (int i = 0; i < job->niov; i++)
		if (EVP_DigestUpdate(ctx, job->iov[i].iov_base,
		    job->iov[i].iov_len) != 1)
			return sha_end(ctx, 0, hex);
	return sha_end(ctx, 1, hex);
}

/* eng_reader over a request body in memory (the worker's thread). */
static ssize_t
body_read(void *arg, void *buf, size_t n)
{
	struct job	*job = arg;
	size_t		 got = 0, k;

	while (got < n && job->bi < job->niov) {
		const struct evbuffer_iovec *v = &job->iov[job->bi];

		k = v->iov_len - job->boff;
		if (k > n - got)
			k = n - got;
		memcpy((char *)buf + got, (const char *)v->iov_base +
		    job->boff, k);
		got += k;
		if ((job->boff += k) == v->iov_len) {
			job->bi++;
			job->boff = 0;
		}
	}
	return (ssize_t)got;
}

static ssize_t
body_pread(void *arg, void *buf, size_t n, uint64_t off)
{
	struct job	*job = arg;
	size_t		 got = 0, k;
	int		 i = 0;

	while (i < job->niov && off >= job->iov[i].iov_len)
		off -= job->iov[i++].iov_len;
	for (; got < n && i < job->niov; i++, off = 0) {
		k = job->iov[i].iov_len - (size_t)off;
		if (k > n - got)
			k = n - got;
		memcpy((char *)buf + got, (const char *)job->iov[i].iov_base +
		    off, k);
		got += k;
	}
	return (ssize_t)got;
}

/* Points path[0] of each entry of arr (matches or problems) at name. */
static void
rename_paths(json_t *arr, const char *name)
{
	size_t	 i;
	json_t	*e, *path;

	json_array_foreach(arr, i, e) {
		path = json_object_get(e, "path");
		if (json_array_size(path) > 0)
			json_array_set_new(path, 0, json_string(name));
	}
}

/*
 * Turns a cached result for the same bytes into this object's result:
 * only the names differ.  jansson writes it as eng_result_json() does.
 */
static int
cached_result(struct job *job, const char *cached)
{
	json_t		*o;
	const char	*v;
	char		*s;
	int		 rc = -1;

	if ((o = json_loads(cached, 0, NULL)) == NULL)
		return -1;
	if (json_object_set_new(o, "object", json_string(job->name)) != 0)
		goto out;
	rename_paths(json_object_get(o, "matches"), job->name);
	rename_paths(json_object_get(o, "problems"), job->name);
	v = json_string_value(json_object_get(o, "verdict"));
	if (v == NULL)
		goto out;
	job->verdict = strcmp(v, "flagged") == 0 ? VIGIL_FLAGGED : VIGIL_CLEAN;
	job->size = (uint64_t)json_integer_value(json_object_get(o, "size"));
	if ((s = json_dumps(o, 0)) != NULL) {
		job->json = vg_strdup(s);
		free(s);
		rc = job->json != NULL ? 0 : -1;
	}
out:
	json_decref(o);
	return rc;
}

/*
 * Answers from the verdict cache if bytes with job->sha256 were judged
 * before, under this ruleset.
 */
static int
cached(struct job *job, struct wstate *ws)
{
	char	*cached;

	if (ws->rd == NULL)
		return 0;
	if (store_reader_cached(ws->rd, job->sha256,
	    eng_ruleset_version(job->rs), &cached) != VIGIL_OK)
		return 0;
	if (cached_result(job, cached) == -1) {
		vg_free(cached);
		return 0;
	}
	vg_free(cached);
	return 1;
}

/* cached(), for an object in a file. */
static int
try_cache(struct job *job, struct wstate *ws, int fd)
{
	if (ws->rd == NULL || hash_fd(fd, job->sha256) == -1)
		return 0;
	return cached(job, ws);
}

static void
worker_run(void *arg, void *state)
{
	struct job		*job = arg;
	struct srv		*srv = job->srv;
	struct wstate		*ws = state;
	enum vigil_err		 err = VIGIL_OK;
	enum vigil_reason	 why = VIGIL_R_IO;
	double			 t0 = vg_now();
	int			 fd = -1;
	const struct source_backend *be;
	void			*bst;
	struct source_reader	*rdr;
	const char		*detail = NULL;

	if (job->json != NULL)		/* a bucket item's reused verdict */
		goto out;
	if (ws == NULL || ws->sc == NULL) {
		err = VIGIL_E_ENGINE;
		goto out;
	}
#ifdef VIGIL_TEST_HOOKS
	{
		/* Integration tests hold workers busy with this (seconds). */
		const char *delay = getenv("VIGIL_TEST_SCAN_DELAY");

		if (delay != NULL)
			usleep((useconds_t)(atof(delay) * 1e6));
	}
#endif
	if (job->kind == JOB_BODY) {
		struct eng_reader rd = { job, body_read, body_pread,
		    job->bodylen, NULL };

		if (hash_body(job, job->sha256) == -1)
			err = VIGIL_E_NOMEM;
		else if (!cached(job, ws))
			err = eng_scan_reader_digest(ws->sc, job->rs, &rd,
			    job->name, &srv->cfg->limits, job->sha256,
			    &job->res);
		goto out;
	}
#ifdef VIGIL_TEST_HOOKS
	{
		/* Integration tests crash the daemon mid-scan with this. */
		const char *crash = getenv("VIGIL_TEST_CRASH_KEY");

		if (crash != NULL && strcmp(crash, job->item.key) == 0)
			abort();
	}
#endif
	srv_source(srv, job->item.bucket, &be, &bst);
	if (be->reader != NULL) {
		/* An object store: streamed, ranged reads where it seeks. */
		err = be->reader(bst, job->item.bucket, job->item.key, &rdr,
		    &job->sst);
		if (err == VIGIL_OK) {
			err = eng_scan_reader(ws->sc, job->rs, &rdr->rd,
			    job->name, &srv->cfg->limits, &job->res);
			rdr->close(rdr);
		} else if (job->sst.error[0] != '\0')
			detail = job->sst.error;
		goto out;
	}
	err = be->object(bst, job->item.bucket, job->item.key, &fd,
	    &job->sst);
	if (err == VIGIL_E_UNSUPPORTED)
		why = VIGIL_R_UNSUPPORTED;
	if (err == VIGIL_OK) {
		if (!try_cache(job, ws, fd)) {
			(void)lseek(fd, 0, SEEK_SET);
			err = eng_scan_fd_digest(ws->sc, job->rs, fd,
			    job->name, &srv->cfg->limits, job->sha256[0] ?
			    job->sha256 : NULL, &job->res);
		}
		close(fd);
	}
out:
	if (err != VIGIL_OK) {
		eng_result_free(job->res);
		job->res = NULL;
		(void)eng_result_new_problem(job->name, why, detail != NULL ?
		    detail : vigil_strerror(err), &job->res);
	}
	/* The wire form is made here, off the loop; a hit has it already. */
	if (job->json == NULL) {
		if (job->res == NULL)
			(void)eng_result_new_problem(job->name, VIGIL_R_IO,
			    "out of memory", &job->res);
		if (job->res != NULL)
			job->json = eng_result_json_ex(job->res, 1);
	}
	job->seconds = vg_now() - t0;
}

static const struct srv_workq_ops workq_ops = {
	.init = worker_init,
	.fini = worker_fini,
	.run = worker_run,
};

static void
inflight_add(struct srv *srv, struct job *job)
{
	job->prev = NULL;
	job->next = srv->inflight;
	if (srv->inflight != NULL)
		srv->inflight->prev = job;
	srv->inflight = job;
	srv->ninflight++;
}

static void
inflight_del(struct srv *srv, struct job *job)
{
	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		srv->inflight = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	srv->ninflight--;
}

/* Queues job; VIGIL_E_LIMIT when the queue is full (the caller keeps it). */
static enum vigil_err
job_submit(struct srv *srv, struct job *job)
{
	enum vigil_err	rc;

	job->rs = eng_ruleset_ref(srv->rs);
	if ((rc = srv_workq_push(srv->wq, job)) != VIGIL_OK) {
		eng_ruleset_unref(job->rs);
		job->rs = NULL;
		return rc;
	}
	inflight_add(srv, job);
	return VIGIL_OK;
}

static void
metrics_scan(struct srv *srv, const struct job *job)
{
	double	seconds = job->seconds;
	size_t	i;

	if (job->res != NULL) {
		srv->m.scans[job->res->verdict]++;
		srv->m.bytes_scanned += job->res->bytes_scanned;
	} else {
		srv->m.scans[job->verdict]++;
		srv->m.cache_hits++;
	}
	for (i = 0; i < NBOUNDS && seconds > latency_bounds[i]; i++)
		;
	srv->m.latency[i]++;
	srv->m.latency_sum += seconds;
	srv->m.latency_count++;
}

static enum vigil_err
save_verdict(struct srv *srv, struct job *job, const char *json)
{
	struct store_verdict	v = { 0 };
	const struct eng_result	*r = job->res;

	if (job->kind == JOB_OBJECT) {
		v.bucket = job->item.bucket;
		v.key = job->item.key;
		v.etag = job->item.etag;
		v.version_id = job->item.version_id;
	}
	v.name = job->name;
	v.account = job->kind == JOB_OBJECT ? job->item.account : job->account;
	v.size = r != NULL ? r->size : job->size;
	v.sha256 = (char *)(r != NULL ? r->sha256 : job->sha256);
	v.ruleset = (char *)(job->rs != NULL ? eng_ruleset_version(job->rs) :
	    "");
	v.verdict = (char *)vigil_verdict_name(r != NULL ? r->verdict :
	    job->verdict);
	v.result = (char *)json;
	v.received = job->kind == JOB_OBJECT ? job->item.received :
	    job->received;
	v.scanned = wallclock();
	return store_verdict_put(srv->st, &v);
}

static void	cycle_kick(struct srv *, int now);
static void	drain_check(struct srv *);
static void	bucket_job_answered(struct srv *, struct job *);
static void	bucket_tick(struct srv *);
static unsigned	job_qactions(struct srv *, struct job *);
static void	qtask_push(struct srv *, const char *, const char *,
		    unsigned, int, const char *, const char *, const char *);
static const char *qbucket_of(const struct vg_config *, const char *,
		    char *, size_t);
static void	bucket_cycle_done(struct srv *, struct cycle *, int);
static void	audit_bscan(struct srv *, int64_t, const char *,
		    const char *);
static void	schedule_run(struct srv *, const struct vg_bucket *, time_t,
		    const char *);
static char	*bucket_account(struct srv *, const char *, const char *,
		    const char *);

static void
store_lock(struct srv *srv)
{
	pthread_mutex_lock(&srv->store_mu);
}

static void
store_unlock(struct srv *srv)
{
	pthread_mutex_unlock(&srv->store_mu);
}

struct review *
srv_review_hold(struct srv *srv)
{
	store_lock(srv);
	return srv->rv;
}

void
srv_review_drop(struct srv *srv)
{
	store_unlock(srv);
}

/* Announces feed events newer than those announced (loop thread). */
static void
feed_announce(struct srv *srv, int64_t last)
{
	if (last <= srv->feed_last)
		return;
	srv->feed_last = last;
	api_feed_notify(srv->feed, last);
	if (srv->hooks != NULL)
		hooks_notify(srv->hooks, last);
}

void
srv_feed_check(struct srv *srv)
{
	int64_t	last;

	store_lock(srv);
	last = review_feed_last(srv->rv);
	store_unlock(srv);
	feed_announce(srv, last);
}

/*
 * A finished job's matches for review_verdict(): from its result, or
 * from the cached result's JSON (*hold keeps that alive).  Paths are new
 * arrays in *paths (decref each).  0, or -1 out of memory.
 */
static int
job_matches(struct job *job, struct review_match **out, size_t *n,
    json_t **hold)
{
	struct review_match	*m;
	const struct eng_result	*r = job->res;
	json_t			*arr, *e;
	size_t			 cnt, i, k;

	*out = NULL;
	*n = 0;
	*hold = NULL;
	if (r != NULL)
		cnt = r->nmatches;
	else {
		if ((*hold = json_loads(job->json, 0, NULL)) == NULL)
			return -1;
		arr = json_object_get(*hold, "matches");
		cnt = json_array_size(arr);
	}
	if (cnt == 0)
		return 0;
	if ((m = vg_calloc(cnt, sizeof(*m))) == NULL)
		return -1;
	for (i = 0; i < cnt; i++) {
		if (r != NULL) {
			const struct eng_match *em = &r->matches[i];

			m[i].rule = em->rule;
			m[i].clause = em->clause;
			m[i].severity = (int)em->severity;
			m[i].offset = em->offset;
			m[i].excerpt = em->excerpt;
			m[i].excerpt_len = em->excerpt_len;
			m[i].mark = em->excerpt_mark;
			m[i].marklen = em->excerpt_marklen;
			if ((m[i].path = json_array()) == NULL)
				goto nomem;
			for (k = 0; k < em->npath; k++)
				json_array_append_new(m[i].path, json_string(
				    em->path[k]));
			continue;
		}
		e = json_array_get(json_object_get(*hold, "matches"), i);
		m[i].rule = json_string_value(json_object_get(e, "rule"));
		m[i].clause = json_string_value(json_object_get(e, "clause"));
		m[i].offset = (uint64_t)json_integer_value(json_object_get(e,
		    "offset"));
		m[i].severity = eng_severity_parse(json_string_value(
		    json_object_get(e, "severity")));
		m[i].path = json_incref(json_object_get(e, "path"));
		if (m[i].rule == NULL || m[i].clause == NULL ||
		    m[i].path == NULL)
			goto nomem;
	}
	*out = m;
	*n = cnt;
	return 0;
nomem:
	for (k = 0; k <= i && k < cnt; k++)
		json_decref(m[k].path);
	vg_free(m);
	json_decref(*hold);
	*hold = NULL;
	return -1;
}

/* Accounts for a stored verdict (writer thread, inside the cycle). */
static enum vigil_err
review_job(struct srv *srv, struct job *job)
{
	struct review_verdict	 v = { 0 };
	struct review_match	*m;
	json_t			*hold;
	char			*object = NULL;
	size_t			 n;
	enum vigil_err		 rc;

	/*
	 * A clean body scan with no account has nothing to count and names
	 * no customer object: the verdict row (the cache) is its record.
	 * At thousands of scans a second an audit row each would double
	 * the writer's random index writes for nothing a moderator uses.
	 */
	if (job->kind == JOB_BODY && (job->account == NULL ||
	    *job->account == '\0') && job_verdict(job) == VIGIL_CLEAN)
		return VIGIL_OK;
	if (job_matches(job, &m, &n, &hold) == -1)
		return VIGIL_E_NOMEM;
	v.sha256 = job->res != NULL ? job->res->sha256 : job->sha256;
	if (job->kind == JOB_OBJECT) {
		v.bucket = job->item.bucket;
		v.key = job->item.key;
		v.object = job->name;
		v.account = job->item.account;
		v.actor = "hook";
	} else {
		/* A body: its content is its identity. */
		if ((object = vg_malloc(strlen(v.sha256) + 6)) == NULL) {
			rc = VIGIL_E_NOMEM;
			goto out;
		}
		sprintf(object, "scan:%s", v.sha256);
		v.object = object;
		v.account = job->account;
		v.actor = "scan";
	}
	v.ruleset = job->rs != NULL ? eng_ruleset_version(job->rs) : "";
	v.verdict = vigil_verdict_name(job_verdict(job));
	v.m = m;
	v.nm = n;
	rc = review_verdict(srv->rv, &v, wallclock());
out:
	for (size_t i = 0; i < n; i++)
		json_decref(m[i].path);
	vg_free(m);
	json_decref(hold);
	vg_free(object);
	return rc;
}

/* Gives an inbox row back from the loop (the writer may be busy). */
static void
release_row(struct srv *srv, int64_t id)
{
	store_lock(srv);
	(void)store_inbox_release(srv->st, id);
	store_unlock(srv);
	srv->inbox_maybe = 1;
}

/* Gives a bucket object's inbox row or job item back (loop). */
static void
release_job(struct srv *srv, struct job *job)
{
	if (job->bjob == 0) {
		release_row(srv, job->item.id);
		return;
	}
	store_lock(srv);
	(void)bscan_release(srv->bs, job->item.id);
	store_unlock(srv);
}

/*
 * A job whose verdict the writer has committed, or failed to (loop
 * thread): answers the waiting request or, for an inbox row whose verdict
 * was not stored, gives the row back.  Frees job.
 */
static void
job_answer(struct srv *srv, struct job *job, int stored)
{
	enum vigil_verdict	 verdict;
	char			*json = job->json;

	inflight_del(srv, job);
	if (job == srv->solo)
		srv->solo = NULL;
	if (json != NULL)
		metrics_scan(srv, job);
	verdict = job_verdict(job);
	if (job->bjob != 0)
		bucket_job_answered(srv, job);
	if (stored && job->qactions != 0) {
		char qb[300];

		qtask_push(srv, job->item.bucket, job->item.key,
		    job->qactions, 0, NULL, qbucket_of(srv->cfg,
		    job->item.bucket, qb, sizeof(qb)), "policy");
	}
	if (job->kind == JOB_OBJECT) {
		if (stored && job->bjob != 0)
			vg_log_debug("bucket scan %lld: %s/%s: %s%s",
			    (long long)job->bjob, job->item.bucket,
			    job->item.key, vigil_verdict_name(verdict),
			    job->res == NULL ? " (cached)" : "");
		else if (stored)
			vg_log_info("scanned %s/%s: %s%s", job->item.bucket,
			    job->item.key, vigil_verdict_name(verdict),
			    job->res == NULL ? " (cached)" : "");
		else {
			/* Not recorded: let it run again later. */
			vg_log_warnx("%s/%s: verdict not stored; will retry",
			    job->item.bucket, job->item.key);
			release_job(srv, job);
		}
	} else {
		/* Answered already if clean (job_finished()). */
		if (job->req != NULL && json == NULL)
			reply_error(job->req, 500, "out of memory");
		else if (job->req != NULL)
			/* Exactly what `vigil scan --json` prints. */
			reply_raw2(job->req, 200, "application/json", json,
			    strlen(json), "\n", 1);
		job->req = NULL;
		if (!stored)
			vg_log_warnx("%s: verdict not stored", job->name);
	}
	job_free(job);
}

/*
 * A finished sync scan gives back its body at once, and one found clean
 * is answered as soon as it is done: nothing in it waits on the commit
 * (no finding, no quarantine), and the caller should not wait on an
 * fsync for a "clean".  Its verdict is still stored by the next cycle.
 */
static void
job_finished(struct job *job)
{
	if (job->kind != JOB_BODY)
		return;
	/* The scan is over: the body need not wait for the commit. */
	if (job->body != NULL) {
		evbuffer_free(job->body);
		job->body = NULL;
		vg_free(job->iov);
		job->iov = NULL;
		job->niov = 0;
	}
	if (job->req == NULL || job->json == NULL ||
	    job_verdict(job) != VIGIL_CLEAN)
		return;
	reply_raw2(job->req, 200, "application/json", job->json,
	    strlen(job->json), "\n", 1);
	job->req = NULL;
}

/*
 * Finished jobs join the cycle being filled; their verdicts are written
 * by the next one.  While the writer is busy they stay on the workq's
 * done list (which bounds how many can pile up) and are collected when
 * the cycle comes back.
 */
static void
collect_done(struct srv *srv)
{
	struct cycle	*c = srv->fill;
	size_t		 n;

	if (c->ndone == DONE_BATCH)
		return;
	n = srv_workq_done(srv->wq, (void **)c->done + c->ndone,
	    DONE_BATCH - c->ndone);
	for (size_t i = c->ndone; i < c->ndone + n; i++)
		job_finished(c->done[i]);
	c->ndone += n;
	if (n > 0)
		cycle_kick(srv, 1);
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct srv	*srv = arg;

	(void)fd;
	(void)what;
	/*
	 * While the writer is busy, finished jobs still join the next cycle
	 * (clean sync scans are answered then) until it is full; then the
	 * level-triggered event is quiet until the cycle is back.
	 */
	collect_done(srv);
	if (srv->busy != NULL && srv->fill->ndone == DONE_BATCH)
		event_del(srv->ev_done);
}

/* Inbox dispatch ------------------------------------------------------ */

/*
 * How many pending inbox rows the next cycle claims for the workers.
 * Inbox work fills at most half the queue so POST /v1/scan keeps room.
 * Crash suspects (see store.c) go first, one at a time with no other
 * inbox work in flight, so a second crash blames only the object that
 * caused it.
 */
static void
plan_claim(struct srv *srv, struct cycle *c)
{
	size_t	want, waiting;

	c->claim = 0;
	c->suspects = 0;
	if (srv->draining || srv->solo != NULL)
		return;
	if (srv->suspects > 0) {
		if (srv->ninflight == 0) {
			c->claim = 1;
			c->suspects = 1;
		}
		return;
	}
	if (!srv->inbox_maybe)
		return;
	want = srv_workq_capacity(srv->wq) / 2;
	if (want == 0)
		want = 1;
	waiting = srv_workq_waiting(srv->wq);
	/* Refill when half drained: fewer, larger claims. */
	if (waiting > want / 2)
		return;
	c->claim = want - waiting;
}

/*
 * Refills b's token buckets for the time since the last refill.  A
 * bucket holds at most a fifth of a second's worth, so bursts stay short
 * and the rate holds over any second.
 */
static void
brun_refill(struct brun *b)
{
	double	t = vg_now(), dt = t - b->refilled, cap;

	b->refilled = t;
	if (b->j.max_objects_per_s > 0) {
		cap = (double)b->j.max_objects_per_s / 5;
		b->tok_obj += dt * (double)b->j.max_objects_per_s;
		if (b->tok_obj > (cap < 1 ? 1 : cap))
			b->tok_obj = cap < 1 ? 1 : cap;
	}
	if (b->j.max_bytes_per_s > 0) {
		cap = (double)b->j.max_bytes_per_s / 5;
		b->tok_bytes += dt * (double)b->j.max_bytes_per_s;
		if (b->tok_bytes > cap)
			b->tok_bytes = cap;
	}
}

/*
 * Bucket scan work for the next cycle: listed pages to record, the jobs
 * to check for completion, and a claim of items for one job (round
 * robin) within its rate limits.  Upload-hook work goes first: items are
 * claimed only while no inbox row waits, and fill at most half the queue.
 */
static void
plan_bucket(struct srv *srv, struct cycle *c)
{
	size_t	want, waiting, n;
	struct brun *b;

	c->npages = srv->npages;
	memcpy(c->pages, srv->pages, sizeof(*c->pages) * srv->npages);
	srv->npages = 0;
	c->nbids = 0;
	if (srv->bcheck)
		for (size_t i = 0; i < srv->nbj; i++)
			c->bids[c->nbids++] = srv->bj[i].j.id;
	srv->bcheck = 0;
	c->bclaim = 0;
	if (srv->draining || srv->solo != NULL || srv->suspects > 0 ||
	    srv->inbox_maybe || c->claim > 0 || srv->nbj == 0)
		return;
	want = srv_workq_capacity(srv->wq) / 2;
	waiting = srv_workq_waiting(srv->wq);
	if (want == 0)
		want = 1;
	if (waiting > want / 2)
		return;
	for (n = 0; n < srv->nbj; n++) {
		b = &srv->bj[(srv->bj_next + n) % srv->nbj];
		if (!b->maybe)
			continue;
		brun_refill(b);
		if ((b->j.max_bytes_per_s > 0 && b->tok_bytes <= 0) ||
		    (b->j.max_objects_per_s > 0 && b->tok_obj < 1)) {
			/* Throttled: look again in 20 ms. */
			struct timeval tv = { 0, 20000 };

			if (!evtimer_pending(srv->ev_throttle, NULL))
				evtimer_add(srv->ev_throttle, &tv);
			continue;
		}
		c->bclaim = want - waiting;
		if (b->j.max_objects_per_s > 0) {
			if ((double)c->bclaim > b->tok_obj)
				c->bclaim = (size_t)b->tok_obj;
			b->tok_obj -= (double)c->bclaim;
		}
		if (b->j.max_bytes_per_s > 0) {
			/*
			 * As many items as the byte tokens pay for, at the
			 * average size claimed so far (one to start with):
			 * a claim of 32 large objects is not a burst of
			 * gigabytes.  Submission debits the listed sizes.
			 */
			size_t k = 1;

			if (b->claimed_objs > 0)
				k = (size_t)(b->tok_bytes / ((double)
				    b->claimed_bytes / (double)b->claimed_objs));
			if (k < 1)
				k = 1;
			if (c->bclaim > k)
				c->bclaim = k;
		}
		c->bclaim_job = b->j.id;
		srv->bj_next = (srv->bj_next + n + 1) % srv->nbj;
		return;
	}
}

/* Turns claimed rows into jobs (loop thread, writer idle). */
static void
submit_claimed(struct srv *srv, struct cycle *c)
{
	struct store_item	*items = c->items;
	struct job		*job;

	for (size_t i = 0; i < c->nitems; i++) {
		job = job_new(srv, JOB_OBJECT);
		if (job != NULL) {
			job->item = items[i];
			memset(&items[i], 0, sizeof(items[i]));
			job->name = vg_malloc(strlen(job->item.bucket) +
			    strlen(job->item.key) + 2);
		}
		if (job == NULL || job->name == NULL) {
			release_row(srv, job != NULL ? job->item.id :
			    items[i].id);
			job_free(job);
			continue;
		}
		sprintf(job->name, "%s/%s", job->item.bucket, job->item.key);
		if (job_submit(srv, job) != VIGIL_OK) {
			release_row(srv, job->item.id);
			job_free(job);
		} else if (c->suspects) {
			vg_log_info("%s/%s was in the scanner at a crash; "
			    "scanning it alone", job->item.bucket,
			    job->item.key);
			srv->solo = job;
		}
	}
	for (size_t i = 0; i < c->nitems; i++)
		store_item_free(&items[i]);
	vg_free(items);
	c->items = NULL;
	c->nitems = 0;
}

/*
 * The daily purge of audit records, feed events and verdicts past their
 * retention (never under 90 days: review.c enforces it).  Runs at start
 * and every PURGE_INTERVAL; a purge that fails is tried again next tick.
 * Verdicts go in batches, each its own transaction, so scans waiting for
 * the store are not held behind a year's worth of deletes.
 */
#define PURGE_BATCH	5000

static void
audit_purge(struct srv *srv)
{
	struct review_purge_pos	 pos = REVIEW_PURGE_START;
	int64_t			 n, nv = 0;
	double			 now = wallclock();
	enum vigil_err		 rc;

	store_lock(srv);
	rc = review_purge(srv->rv, now, &n);
	store_unlock(srv);
	if (rc != VIGIL_OK)
		return;
	if (n > 0)
		vg_log_info("audit: purged %lld records older than %llu days",
		    (long long)n, (unsigned long long)
		    srv->cfg->audit_retention_days);
	do {
		store_lock(srv);
		rc = review_purge_verdicts(srv->rv, now, PURGE_BATCH, &pos, &n);
		store_unlock(srv);
		nv += n;
	} while (rc == VIGIL_OK && n == PURGE_BATCH);
	if (nv > 0) {
		json_t *d = json_pack("{sI sI}", "deleted", (json_int_t)nv,
		    "retention_days", (json_int_t)srv->cfg->
		    verdict_retention_days);

		vg_log_info("verdicts: purged %lld records older than %llu "
		    "days", (long long)nv, (unsigned long long)
		    srv->cfg->verdict_retention_days);
		store_lock(srv);
		if (d != NULL)
			(void)review_audit(srv->rv, "policy", "purge",
			    "verdicts", NULL, d, now);
		store_unlock(srv);
		json_decref(d);
	}
	if (rc == VIGIL_OK)
		srv->last_purge = now;
}

/* Records the configuration the daemon runs with (start-up, loop). */
static void
audit_start(struct srv *srv)
{
	json_t	*d;

	d = json_pack("{ss ss sI sI sI sI ss sI}", "version", VIGIL_VERSION,
	    "rules", eng_ruleset_version(srv->rs), "flag_threshold",
	    (json_int_t)srv->cfg->flag_threshold, "score_window_days",
	    (json_int_t)srv->cfg->score_window_days, "audit_retention_days",
	    (json_int_t)srv->cfg->audit_retention_days,
	    "verdict_retention_days",
	    (json_int_t)srv->cfg->verdict_retention_days, "excerpt",
	    srv->cfg->excerpt_s, "webhooks", (json_int_t)srv->cfg->webhooks.n);
	store_lock(srv);
	(void)review_audit(srv->rv, "vigil", "config.load", "config", NULL,
	    d, wallclock());
	store_unlock(srv);
	json_decref(d);
}

/* Seconds a POST /v1/bucket-scans waits for its first listing. */
#define BSCAN_HOLD	5.0

static void	brun_answer_held(struct srv *, double older_than);

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct srv	*srv = arg;

	(void)fd;
	(void)what;
	/* Rows may have come from elsewhere (a restart's recovery). */
	srv->inbox_maybe = 1;
	cycle_kick(srv, 1);
	if (wallclock() - srv->last_purge >= PURGE_INTERVAL)
		audit_purge(srv);
	brun_answer_held(srv, wallclock() - BSCAN_HOLD);
	bucket_tick(srv);
	cycle_kick(srv, 1);
}

/* Bucket scans ---------------------------------------------------------- */

static struct brun *
brun_find(struct srv *srv, int64_t id)
{
	for (size_t i = 0; i < srv->nbj; i++)
		if (srv->bj[i].j.id == id)
			return &srv->bj[i];
	return NULL;
}

/*
 * Answers the POST that started b, if it still waits: 404 when the bucket
 * turned out not to exist, else 201.  Either way the body is the job.
 */
static void
brun_answer(struct srv *srv, struct brun *b, int status)
{
	json_t	*out = NULL;

	if (b->req == NULL)
		return;
	store_lock(srv);
	(void)bscan_get(srv->bs, b->j.id, wallclock(), &out);
	store_unlock(srv);
	if (out == NULL)
		reply_error(b->req, 500, "out of memory");
	else
		reply_json(b->req, status, out);
	b->req = NULL;
}

static void
brun_remove(struct srv *srv, struct brun *b)
{
	size_t	i = (size_t)(b - srv->bj);

	brun_answer(srv, b, 201);
	bscan_job_clear(&b->j);
	memmove(&srv->bj[i], &srv->bj[i + 1], (srv->nbj - i - 1) *
	    sizeof(*b));
	srv->nbj--;
	if (srv->bj_next >= srv->nbj)
		srv->bj_next = 0;
}

/*
 * POST /v1/bucket-scans answers once the first listing page says whether
 * the bucket exists, so a missing one is a 404 and not a job that fails
 * later.  The listing runs on the lister thread, never the loop; a
 * listing slower than BSCAN_HOLD (a busy lister, S3 retrying) gets its
 * 201 from the tick instead.
 */
int
srv_bscan_hold(struct srv *srv, int64_t id, struct evhttp_request *req)
{
	struct brun	*b = brun_find(srv, id);

	if (b == NULL || !b->listing || b->req != NULL || srv->draining)
		return 0;
	b->req = req;
	b->req_since = wallclock();
	return 1;
}

static void
brun_answer_held(struct srv *srv, double older_than)
{
	for (size_t i = 0; i < srv->nbj; i++)
		if (srv->bj[i].req != NULL &&
		    srv->bj[i].req_since <= older_than)
			brun_answer(srv, &srv->bj[i], 201);
}

/* A bucket job's scan came back (loop): rate and progress bookkeeping. */
static void
bucket_job_answered(struct srv *srv, struct job *job)
{
	struct brun	*b = brun_find(srv, job->bjob);

	if (job->res != NULL && !job->bcached)
		srv->bucket_reads++;
	srv->bcheck = 1;
	/* An object that grew since it was listed pays the difference. */
	if (b != NULL && b->j.max_bytes_per_s > 0 && !job->bcached &&
	    job->res != NULL && job->res->size > job->item.size)
		b->tok_bytes -= (double)(job->res->size - job->item.size);
}

static void
page_free(struct bpage *p)
{
	if (p == NULL)
		return;
	source_listing_free(&p->l);
	vg_free(p->bucket);
	vg_free(p->prefix);
	vg_free(p->after);
	vg_free(p->token);
	vg_free(p);
}

/* The lister thread: one page of one bucket. */
static void
lister_run(void *arg, void *state)
{
	struct bpage	*p = arg;
	struct srv	*srv = p->srv;

	(void)state;
	const struct source_backend	*be;
	void				*st;

	const struct vg_bucket		*bc = vg_config_bucket(srv->cfg,
					    p->bucket);

	srv_source(srv, p->bucket, &be, &st);
	p->err = be->list(st, p->bucket, p->prefix, p->after, p->token,
	    bc != NULL ? (size_t)bc->list_page : LIST_PAGE, &p->l);
}

static const struct srv_workq_ops lister_ops = {
	.run = lister_run,
};

/* Starts listing the next page of b if it needs one (loop). */
static void
brun_list(struct srv *srv, struct brun *b)
{
	struct bpage	*p;

	if (b->listing || b->stalled || b->j.listed_all ||
	    b->outstanding >= LIST_AHEAD || srv->draining)
		return;
	if ((p = vg_calloc(1, sizeof(*p))) == NULL)
		return;
	p->srv = srv;
	p->job = b->j.id;
	if ((p->bucket = vg_strdup(b->j.bucket)) == NULL ||
	    (p->prefix = vg_strdup(b->j.prefix)) == NULL ||
	    (b->j.cursor != NULL && (p->after = vg_strdup(b->j.cursor)) ==
	    NULL) || (b->j.token != NULL && (p->token =
	    vg_strdup(b->j.token)) == NULL) ||
	    srv_workq_push(srv->lister, p) != VIGIL_OK) {
		page_free(p);
		return;
	}
	b->listing = 1;
}

static void
on_lister_done(evutil_socket_t fd, short what, void *arg)
{
	struct srv	*srv = arg;
	struct bpage	*p;
	struct brun	*b;

	(void)fd;
	(void)what;
	while (srv_workq_done(srv->lister, (void **)&p, 1) == 1) {
		b = brun_find(srv, p->job);
		if (b == NULL) {	/* cancelled meanwhile */
			page_free(p);
			continue;
		}
		if (p->err != VIGIL_OK) {
			b->listing = 0;
			if (p->err == VIGIL_E_NOTFOUND ||
			    p->err == VIGIL_E_INVAL) {
				vg_log_warnx("bucket scan %lld: no bucket %s",
				    (long long)b->j.id, b->j.bucket);
				store_lock(srv);
				(void)bscan_fail(srv->bs, b->j.id, "no such "
				    "bucket", wallclock());
				store_unlock(srv);
				brun_answer(srv, b, 404);
				brun_remove(srv, b);
			} else {
				vg_log_warnx("bucket scan %lld: listing %s: %s; "
				    "retrying", (long long)b->j.id,
				    b->j.bucket, vigil_strerror(p->err));
				b->stalled = 1;
				brun_answer(srv, b, 201);
			}
			page_free(p);
			continue;
		}
		brun_answer(srv, b, 201);
		srv->pages[srv->npages++] = p;
	}
	cycle_kick(srv, 1);
}

/* The loop's side of a committed (or failed) cycle's bucket work. */
static void
bucket_cycle_done(struct srv *srv, struct cycle *c, int ok)
{
	struct bpage		*p;
	struct brun		*b;
	struct job		*job;
	struct bscan_item	*x;
	size_t			 i;

	for (i = 0; i < c->npages; i++) {
		p = c->pages[i];
		if ((b = brun_find(srv, p->job)) != NULL) {
			b->listing = 0;
			if (ok) {
				if (p->l.nkeys > 0) {
					vg_free(b->j.cursor);
					b->j.cursor = vg_strdup(
					    p->l.keys[p->l.nkeys - 1]);
				}
				b->j.listed_all = !p->l.more;
				vg_free(b->j.token);
				b->j.token = p->l.token != NULL ?
				    vg_strdup(p->l.token) : NULL;
				b->outstanding += (int64_t)p->l.nkeys;
				b->maybe = 1;
			}
		}
		page_free(p);
		srv->bcheck = 1;
	}
	c->npages = 0;
	b = c->bclaim > 0 ? brun_find(srv, c->bclaim_job) : NULL;
	if (b != NULL && ok && c->nbitems + c->bskipped < c->bclaim)
		b->maybe = 0;
	if (c->bskipped > 0)
		srv->bcheck = 1;
	for (i = 0; i < c->nbitems; i++) {
		x = &c->bitems[i];
		if ((job = job_new(srv, JOB_OBJECT)) == NULL)
			goto release;
		job->bjob = x->job;
		job->item.id = x->id;
		job->item.bucket = x->bucket;
		job->item.key = x->key;
		job->item.etag = x->etag;
		job->item.size = x->size;
		job->item.mtime = x->mtime;
		job->item.account = bucket_account(srv, x->bucket, x->key,
		    x->account);
		job->item.source = vg_strdup("bucket-scan");
		x->bucket = x->key = x->etag = NULL;
		job->name = vg_malloc(strlen(job->item.bucket) +
		    strlen(job->item.key) + 2);
		if (job->name == NULL)
			goto release;
		sprintf(job->name, "%s/%s", job->item.bucket, job->item.key);
		if (x->cached != NULL) {
			memcpy(job->sha256, x->sha256, sizeof(job->sha256));
			if (cached_result(job, x->cached) == 0)
				job->bcached = 1;
		}
		if (job_submit(srv, job) == VIGIL_OK) {
			/* Bytes about to be read count now, not once read. */
			if (b != NULL && b->j.max_bytes_per_s > 0 &&
			    !job->bcached) {
				b->tok_bytes -= (double)job->item.size;
				b->claimed_bytes += job->item.size;
				b->claimed_objs++;
			}
			continue;
		}
release:
		store_lock(srv);
		(void)bscan_release(srv->bs, x->id);
		store_unlock(srv);
		if (b != NULL)
			b->maybe = 1;
		job_free(job);
	}
	bscan_items_free(c->bitems, c->nbitems);
	c->bitems = NULL;
	c->nbitems = 0;
	c->bskipped = 0;
	c->bclaim = 0;
	for (i = 0; ok && i < c->nbids; i++) {
		if ((b = brun_find(srv, c->bids[i])) == NULL)
			continue;
		b->outstanding = c->bout[i];
		if (c->bdone[i]) {
			vg_log_info("bucket scan %lld of %s done",
			    (long long)b->j.id, b->j.bucket);
			audit_bscan(srv, b->j.id, "bucket-scan.done", "vigil");
			brun_remove(srv, b);
		}
	}
	memset(c->bdone, 0, sizeof(c->bdone));
	c->nbids = 0;
	for (i = 0; i < srv->nbj; i++)
		brun_list(srv, &srv->bj[i]);
}

/* Adds a running job to the loop's list (a copy of j's strings). */
static struct brun *
brun_add(struct srv *srv, const struct bscan_job *j)
{
	struct brun	*b;

	if (srv->nbj == MAX_BJOBS)
		return NULL;
	b = &srv->bj[srv->nbj];
	memset(b, 0, sizeof(*b));
	b->j = *j;
	b->j.bucket = vg_strdup(j->bucket);
	b->j.prefix = vg_strdup(j->prefix != NULL ? j->prefix : "");
	b->j.mode = vg_strdup(j->mode);
	b->j.cursor = j->cursor != NULL ? vg_strdup(j->cursor) : NULL;
	b->j.token = j->token != NULL ? vg_strdup(j->token) : NULL;
	if (b->j.bucket == NULL || b->j.prefix == NULL || b->j.mode == NULL) {
		bscan_job_clear(&b->j);
		return NULL;
	}
	b->maybe = 1;
	b->refilled = vg_now();		/* buckets start empty */
	srv->nbj++;
	srv->bcheck = 1;
	return b;
}

static void
audit_bscan(struct srv *srv, int64_t id, const char *action,
    const char *actor)
{
	char	subj[48];
	json_t	*d = NULL;

	snprintf(subj, sizeof(subj), "bucket-scan/%lld", (long long)id);
	store_lock(srv);
	(void)bscan_get(srv->bs, id, wallclock(), &d);
	(void)review_audit(srv->rv, actor, action, subj, NULL, d,
	    wallclock());
	store_unlock(srv);
	json_decref(d);
}

enum vigil_err
srv_bscan_start(struct srv *srv, const char *bucket, const char *prefix,
    const char *mode, uint64_t mops, uint64_t mbps, const char *actor,
    int64_t *id, char *why, size_t whylen)
{
	struct bscan_job	 j;
	const struct vg_bucket	*bc = vg_config_bucket(srv->cfg, bucket);
	enum vigil_err		 rc;

	if (!source_bucket_valid(bucket)) {
		snprintf(why, whylen, "bucket: '%s' is not a bucket name",
		    bucket);
		return VIGIL_E_INVAL;
	}
	if (strcmp(mode, "incremental") != 0 && strcmp(mode, "full") != 0) {
		snprintf(why, whylen, "mode: '%s' is not incremental or full",
		    mode);
		return VIGIL_E_INVAL;
	}
	for (size_t i = 0; i < srv->nbj; i++)
		if (strcmp(srv->bj[i].j.bucket, bucket) == 0 &&
		    strcmp(srv->bj[i].j.prefix, prefix) == 0) {
			snprintf(why, whylen, "a scan of %s is already running "
			    "(job %lld)", bucket, (long long)srv->bj[i].j.id);
			*id = srv->bj[i].j.id;
			return VIGIL_E_LIMIT;
		}
	if (srv->nbj == MAX_BJOBS) {
		snprintf(why, whylen, "%d bucket scans are running already",
		    MAX_BJOBS);
		return VIGIL_E_LIMIT;
	}
	if (bc != NULL) {
		if (mops == 0)
			mops = bc->max_objects_per_s;
		if (mbps == 0)
			mbps = bc->max_bytes_per_s;
	}
	store_lock(srv);
	rc = bscan_create(srv->bs, bucket, prefix, mode, actor, mops, mbps,
	    wallclock(), id);
	store_unlock(srv);
	if (rc != VIGIL_OK) {
		snprintf(why, whylen, "%s", vigil_strerror(rc));
		return rc;
	}
	memset(&j, 0, sizeof(j));
	j.id = *id;
	j.bucket = (char *)bucket;
	j.prefix = (char *)prefix;
	j.mode = (char *)mode;
	j.max_objects_per_s = mops;
	j.max_bytes_per_s = mbps;
	if (brun_add(srv, &j) == NULL) {
		snprintf(why, whylen, "out of memory");
		return VIGIL_E_NOMEM;
	}
	vg_log_info("bucket scan %lld of %s%s%s (%s) started by %s",
	    (long long)*id, bucket, *prefix ? " prefix " : "", prefix, mode,
	    actor);
	audit_bscan(srv, *id, "bucket-scan.start", actor);
	brun_list(srv, &srv->bj[srv->nbj - 1]);
	return VIGIL_OK;
}

enum vigil_err
srv_bscan_cancel(struct srv *srv, int64_t id, const char *actor)
{
	struct brun	*b;
	enum vigil_err	 rc;

	store_lock(srv);
	rc = bscan_cancel(srv->bs, id, wallclock());
	store_unlock(srv);
	if (rc != VIGIL_OK)
		return rc;
	if ((b = brun_find(srv, id)) != NULL)
		brun_remove(srv, b);
	vg_log_info("bucket scan %lld cancelled by %s", (long long)id, actor);
	audit_bscan(srv, id, "bucket-scan.cancel", actor);
	return VIGIL_OK;
}

struct bscan *
srv_bscan(struct srv *srv)
{
	store_lock(srv);
	return srv->bs;
}

/* Token buckets, stalled listings and schedules (each tick). */
static void
bucket_tick(struct srv *srv)
{
	time_t		 now = time(NULL);
	struct brun	*b;

	for (size_t i = 0; i < srv->nbj; i++) {
		b = &srv->bj[i];
		b->stalled = 0;
		brun_list(srv, b);
	}
	for (size_t i = 0; i < srv->cfg->nbuckets; i++) {
		const struct vg_bucket *bc = &srv->cfg->buckets_cfg[i];

		if (srv->sched_next == NULL || srv->sched_next[i] <= 0 ||
		    now < srv->sched_next[i])
			continue;
		srv->sched_next[i] = vg_cron_next(&srv->crons[i], now);
		schedule_run(srv, bc, now, "schedule");
	}
}

/* Starts bc's scheduled scan and remembers when (loop). */
static void
schedule_run(struct srv *srv, const struct vg_bucket *bc, time_t now,
    const char *actor)
{
	int64_t	id;
	char	why[256];

	store_lock(srv);
	(void)bscan_schedule_set(srv->bs, bc->name, (double)now);
	store_unlock(srv);
	if (srv_bscan_start(srv, bc->name, bc->prefix, bc->mode, 0, 0, actor,
	    &id, why, sizeof(why)) != VIGIL_OK)
		vg_log_warnx("scheduled scan of %s: %s", bc->name, why);
}

/*
 * Schedules at start: a bucket never scheduled before starts counting
 * now; one whose run fell while the daemon was down runs once at once.
 */
static int
schedules_start(struct srv *srv)
{
	const struct vg_config	*cfg = srv->cfg;
	time_t			 now = time(NULL), prev;
	double			 last;
	char			 err[256];

	if (cfg->nbuckets == 0)
		return 0;
	if ((srv->sched_next = vg_calloc(cfg->nbuckets,
	    sizeof(*srv->sched_next))) == NULL ||
	    (srv->crons = vg_calloc(cfg->nbuckets, sizeof(*srv->crons))) ==
	    NULL)
		return -1;
	for (size_t i = 0; i < cfg->nbuckets; i++) {
		const struct vg_bucket *bc = &cfg->buckets_cfg[i];

		if (*bc->schedule == '\0')
			continue;
		if (vg_cron_parse(bc->schedule, &srv->crons[i], err,
		    sizeof(err)) != VIGIL_OK) {
			vg_log_warnx("bucket \"%s\": schedule: %s", bc->name,
			    err);
			return -1;
		}
		store_lock(srv);
		if (bscan_schedule_get(srv->bs, bc->name, &last) ==
		    VIGIL_E_NOTFOUND) {
			(void)bscan_schedule_set(srv->bs, bc->name,
			    (double)now);
			last = (double)now;
		}
		store_unlock(srv);
		prev = vg_cron_prev(&srv->crons[i], (time_t)last, now);
		srv->sched_next[i] = vg_cron_next(&srv->crons[i], now);
		if (prev != -1) {
			vg_log_info("bucket \"%s\": the scheduled scan missed "
			    "while down runs now", bc->name);
			schedule_run(srv, bc, now, "schedule (missed)");
		}
	}
	return 0;
}

/* Running jobs at start: they continue where their last commit left. */
static int
bucket_start(struct srv *srv)
{
	struct bscan_job	*j;
	size_t			 n;

	store_lock(srv);
	if (bscan_recover(srv->bs) != VIGIL_OK ||
	    bscan_running(srv->bs, &j, &n) != VIGIL_OK) {
		store_unlock(srv);
		return -1;
	}
	store_unlock(srv);
	for (size_t i = 0; i < n; i++) {
		if (brun_add(srv, &j[i]) == NULL)
			break;
		vg_log_info("bucket scan %lld of %s resumes after %s",
		    (long long)j[i].id, j[i].bucket, j[i].cursor ?
		    j[i].cursor : "the start");
	}
	bscan_jobs_free(j, n);
	for (size_t i = 0; i < srv->nbj; i++)
		brun_list(srv, &srv->bj[i]);
	return schedules_start(srv);
}

/* Quarantine ------------------------------------------------------------ */

static void
qtask_free(struct qtask *t)
{
	if (t == NULL)
		return;
	vg_free(t->bucket);
	vg_free(t->key);
	vg_free(t->memo);
	vg_free(t->qbucket);
	vg_free(t->actor);
	vg_free(t);
}

/* Where a move takes objects of bucket. */
static const char *
qbucket_of(const struct vg_config *cfg, const char *bucket, char *buf,
    size_t len)
{
	const struct vg_bucket	*b = vg_config_bucket(cfg, bucket);

	if (b != NULL && *b->quarantine_bucket != '\0')
		return b->quarantine_bucket;
	snprintf(buf, len, "%s-quarantine", bucket);
	return buf;
}

/*
 * The quarantine thread: each action of a task through the bucket's
 * source, recorded (pending before, so the ObjectRemoved that a move
 * causes is not taken for a deletion; applied, undone or failed after)
 * and audited.  Network calls happen here, never on the loop.
 */
static void
qtask_run(void *arg, void *state)
{
	struct qtask			*t = arg;
	struct srv			*srv = t->srv;
	const struct source_backend	*be;
	void				*bst;
	char				 err[300], subj[1100], *memo;
	enum vigil_err			 rc;
	json_t				*d;

	(void)state;
	srv_source(srv, t->bucket, &be, &bst);
	snprintf(subj, sizeof(subj), "%s/%s", t->bucket, t->key);
	/* Tag and lock the object where it is, then move it. */
	for (size_t ai = 0; ai < 3; ai++) {
		unsigned	 a = (const unsigned[]){ VG_Q_TAG, VG_Q_PRIVATE,
				    VG_Q_MOVE }[ai];
		const char	*name = vg_quarantine_action_name(a);

		if ((t->actions & a) == 0)
			continue;
		*err = '\0';
		memo = NULL;
		if (be->action == NULL) {
			snprintf(err, sizeof(err), "the %s source has no "
			    "quarantine actions", be->name);
			rc = VIGIL_E_UNSUPPORTED;
		} else	/* Pending since the verdict's commit. */
			rc = be->action(bst, t->bucket, t->key, a, t->undo,
			    t->qbucket, t->memo, &memo, err, sizeof(err));
		if (rc != VIGIL_OK)
			vg_log_warnx("quarantine %s%s of %s: %s", t->undo ?
			    "undo " : "", name, subj, err);
		else
			vg_log_info("quarantine: %s%s %s", t->undo ? "undid " :
			    "", name, subj);
		d = json_pack("{ss ss sb ss? ss?}", "action", name, "bucket",
		    t->bucket, "undo", t->undo, "quarantine_bucket",
		    a == VG_Q_MOVE ? t->qbucket : NULL, "error",
		    rc == VIGIL_OK ? NULL : err);
		store_lock(srv);
		(void)bscan_q_put(srv->bs, t->bucket, t->key, name,
		    rc != VIGIL_OK ? (t->undo ? "applied" : "failed") :
		    t->undo ? "undone" : "applied", memo, t->qbucket,
		    rc == VIGIL_OK ? NULL : err, wallclock());
		(void)review_audit(srv->rv, t->actor, t->undo ?
		    "quarantine.undo" : "quarantine", subj, NULL, d,
		    wallclock());
		store_unlock(srv);
		json_decref(d);
		vg_free(memo);
	}
}

static const struct srv_workq_ops qwq_ops = {
	.run = qtask_run,
};

static void
on_qdone(evutil_socket_t fd, short what, void *arg)
{
	struct srv	*srv = arg;
	void		*t;

	(void)fd;
	(void)what;
	while (srv_workq_done(srv->qwq, &t, 1) == 1)
		qtask_free(t);
}

static void
qtask_push(struct srv *srv, const char *bucket, const char *key,
    unsigned actions, int undo, const char *memo, const char *qbucket,
    const char *actor)
{
	struct qtask	*t;

	if ((t = vg_calloc(1, sizeof(*t))) == NULL)
		goto fail;
	t->srv = srv;
	t->actions = actions;
	t->undo = undo;
	if ((t->bucket = vg_strdup(bucket)) == NULL ||
	    (t->key = vg_strdup(key)) == NULL ||
	    (t->qbucket = vg_strdup(qbucket)) == NULL ||
	    (t->actor = vg_strdup(actor)) == NULL ||
	    (memo != NULL && (t->memo = vg_strdup(memo)) == NULL) ||
	    srv_workq_push(srv->qwq, t) != VIGIL_OK)
		goto fail;
	return;
fail:
	vg_log_warnx("quarantine of %s/%s not queued", bucket, key);
	qtask_free(t);
}

/* The quarantine actions a flagged bucket object's verdict calls for. */
static unsigned
job_qactions(struct srv *srv, struct job *job)
{
	unsigned	 actions = 0;
	json_t		*hold = NULL, *m;
	size_t		 i;

	if (srv->cfg->nquarantine == 0 || job->kind != JOB_OBJECT)
		return 0;
	if (job->res != NULL)
		for (i = 0; i < job->res->nmatches; i++)
			actions |= vg_config_quarantine(srv->cfg,
			    job->res->matches[i].clause,
			    (int)job->res->matches[i].severity);
	else if (job->json != NULL &&
	    (hold = json_loads(job->json, 0, NULL)) != NULL)
		json_array_foreach(json_object_get(hold, "matches"), i, m)
			actions |= vg_config_quarantine(srv->cfg,
			    json_string_value(json_object_get(m, "clause")) ?
			    json_string_value(json_object_get(m, "clause")) :
			    "", (int)eng_severity_parse(json_string_value(
			    json_object_get(m, "severity"))));
	json_decref(hold);
	return actions;
}

/* One task per recorded action (undo: with the memo it left). */
static void
qrows_push(struct srv *srv, const struct bscan_q *x, size_t n, int undo,
    const char *actor)
{
	for (size_t i = 0; i < n; i++) {
		unsigned a = 0;

		for (unsigned k = 1; k <= VG_Q_PRIVATE; k <<= 1)
			if (strcmp(vg_quarantine_action_name(k),
			    x[i].action) == 0)
				a = k;
		if (a != 0)
			qtask_push(srv, x[i].bucket, x[i].key, a, undo,
			    undo ? x[i].memo : NULL, x[i].qbucket != NULL ?
			    x[i].qbucket : "", actor);
	}
}

/*
 * Quarantine actions recorded pending but never done (a stop or crash
 * came first) run now; they were committed with their verdicts.
 */
static void
quarantine_recover(struct srv *srv)
{
	struct bscan_q	*x;
	size_t		 n;
	enum vigil_err	 rc;

	store_lock(srv);
	rc = bscan_q_pending(srv->bs, &x, &n);
	store_unlock(srv);
	if (rc != VIGIL_OK)
		return;
	qrows_push(srv, x, n, 0, "policy (after a restart)");
	if (n > 0)
		vg_log_info("quarantine: %zu actions left pending run now", n);
	bscan_q_free(x, n);
}

void
srv_quarantine_undo(struct srv *srv, int64_t review, const char *actor)
{
	struct bscan_q	*x;
	size_t		 n;
	enum vigil_err	 rc;

	store_lock(srv);
	rc = bscan_q_for_review(srv->bs, review, &x, &n);
	store_unlock(srv);
	if (rc != VIGIL_OK)
		return;
	qrows_push(srv, x, n, 1, actor);
	bscan_q_free(x, n);
}

/* Events: intake and group commit ------------------------------------- */

char *
srv_event_account(const struct vg_config *cfg, const struct source_event *ev,
    const void *prefix_re, char *const *map)
{
	regmatch_t	m[2];

	switch (cfg->account_from) {
	case VG_ACCOUNT_OWNER:
		return *ev->owner ? vg_strdup(ev->owner) : NULL;
	case VG_ACCOUNT_UPLOADER:
		return *ev->uploader ? vg_strdup(ev->uploader) : NULL;
	case VG_ACCOUNT_PREFIX:
		if (prefix_re == NULL || regexec(prefix_re, ev->key, 2, m, 0)
		    != 0 || m[1].rm_so < 0)
			return NULL;
		return vg_strndup(ev->key + m[1].rm_so,
		    (size_t)(m[1].rm_eo - m[1].rm_so));
	case VG_ACCOUNT_MAP:
		for (size_t i = 0; map != NULL && map[i] != NULL; i += 2)
			if (strcmp(map[i], ev->bucket) == 0)
				return vg_strdup(map[i + 1]);
		return NULL;
	}
	return NULL;
}

/*
 * The account of a bucket object met by a bucket scan, with no event to
 * name it: the one its last verdict recorded, else by prefix or map as
 * for events, else the bucket section's account.
 */
static char *
bucket_account(struct srv *srv, const char *bucket, const char *key,
    const char *known)
{
	struct source_event	 ev;
	const struct vg_bucket	*bc;
	char			*a;

	if (known != NULL && *known != '\0')
		return vg_strdup(known);
	memset(&ev, 0, sizeof(ev));
	ev.bucket = (char *)bucket;
	ev.key = (char *)key;
	ev.owner = ev.uploader = (char *)"";
	if ((a = srv_event_account(srv->cfg, &ev, srv->have_re ?
	    &srv->prefix_re : NULL, srv->acct_map)) != NULL)
		return a;
	bc = vg_config_bucket(srv->cfg, bucket);
	return bc != NULL && *bc->account != '\0' ? vg_strdup(bc->account) :
	    NULL;
}

static const char *const flavor_names[] = { "aws", "minio", "ceph" };

/*
 * Parses an intake's body (writer thread): 0 when it holds events to
 * apply; otherwise in->status says how to answer (a test event, a
 * malformed body).
 */
static int
intake_parse(struct intake *in)
{
	enum vigil_err	rc;

	rc = source_event_parse(in->body, in->len, &in->evs, in->err,
	    sizeof(in->err));
	if (rc != VIGIL_OK) {
		in->status = rc == VIGIL_E_NOMEM ? 500 : 400;
		if (rc == VIGIL_E_NOMEM)
			snprintf(in->err, sizeof(in->err), "out of memory");
		return -1;
	}
	if (in->evs->test) {
		in->status = 200;
		return -1;
	}
	return 0;
}

/* Applies one intake's events inside the open transaction (writer). */
static enum vigil_err
intake_apply(struct srv *srv, struct intake *in)
{
	struct source_event	*e;
	struct store_item	 it;
	enum vigil_err		 rc = VIGIL_OK;
	int			 added, n;
	uint64_t		 acc = 0, dup = 0, can = 0, ign = 0;

	for (size_t i = 0; i < in->evs->n && rc == VIGIL_OK; i++) {
		e = &in->evs->ev[i];
		if (e->kind == SOURCE_EV_REMOVED) {
			if ((rc = store_inbox_cancel(srv->st, e->bucket, e->key,
			    &n)) == VIGIL_OK)
				can += (uint64_t)n;
			/* Our own quarantine move is not a deletion. */
			if (rc == VIGIL_OK && !bscan_q_moved(srv->bs,
			    e->bucket, e->key))
				rc = review_removed(srv->rv, e->bucket, e->key,
				    wallclock());
			continue;
		}
		if (e->kind != SOURCE_EV_CREATED) {
			ign++;
			continue;
		}
		memset(&it, 0, sizeof(it));
		it.bucket = e->bucket;
		it.key = e->key;
		it.etag = e->etag;
		it.version_id = e->version_id;
		it.sequencer = e->sequencer;
		it.source = (char *)flavor_names[e->flavor];
		it.size = e->size;
		it.received = wallclock();
		it.dedup = source_event_dedup(e);
		it.account = srv_event_account(srv->cfg, e,
		    srv->have_re ? &srv->prefix_re : NULL, srv->acct_map);
		if (it.dedup == NULL)
			rc = VIGIL_E_NOMEM;
		else if ((rc = store_inbox_add(srv->st, &it, &added)) ==
		    VIGIL_OK) {
			if (added)
				acc++;
			else
				dup++;
		}
		vg_free(it.dedup);
		vg_free(it.account);
	}
	in->accepted = acc;
	in->duplicates = dup;
	in->cancelled = can;
	in->ignored = ign;
	return rc;
}

/*
 * The bookkeeping of a bucket object's stored verdict (writer): what the
 * object looked like for incremental scans, then its inbox row or its
 * bucket scan item.
 */
static enum vigil_err
object_done(struct srv *srv, struct job *job)
{
	const struct eng_result	*r = job->res;
	enum vigil_verdict	 v = job_verdict(job);
	enum vigil_err		 rc = VIGIL_OK;

	/*
	 * Only a verdict on content read in full says what the object looked
	 * like: for a job's item what the listing said (what the next listing
	 * is compared with), for a hook event what the source said on opening.
	 */
	if (v == VIGIL_CLEAN || v == VIGIL_FLAGGED)
		rc = bscan_object_put(srv->bs, job->item.bucket, job->item.key,
		    job->bjob != 0 ? job->item.etag : job->sst.etag,
		    job->bjob != 0 ? job->item.size : job->sst.size,
		    job->bjob != 0 ? job->item.mtime : job->sst.mtime,
		    r != NULL ? r->sha256 : job->sha256,
		    eng_ruleset_version(job->rs), vigil_verdict_name(v),
		    job->item.account, wallclock());
	if (rc != VIGIL_OK)
		return rc;
	/*
	 * Quarantine actions are recorded pending with the verdict, so the
	 * move's own ObjectRemoved is known for what it is and a restart
	 * finds what was not done yet.
	 */
	if (v == VIGIL_FLAGGED && (job->qactions = job_qactions(srv, job)) !=
	    0) {
		char qb[300];

		for (unsigned a = 1; a <= VG_Q_PRIVATE && rc == VIGIL_OK;
		    a <<= 1)
			if (job->qactions & a)
				rc = bscan_q_put(srv->bs, job->item.bucket,
				    job->item.key, vg_quarantine_action_name(a),
				    "pending", NULL, qbucket_of(srv->cfg,
				    job->item.bucket, qb, sizeof(qb)), NULL,
				    wallclock());
		if (rc != VIGIL_OK)
			return rc;
	}
	if (job->bjob == 0)
		return store_inbox_finish(srv->st, job->item.id);
	return bscan_finish(srv->bs, job->item.id, job->bjob,
	    vigil_verdict_name(v), r != NULL ? r->bytes_scanned : 0,
	    job->bcached, job->seconds);
}

/*
 * The writer thread: one transaction for the whole cycle.  With event
 * intake in it the commit is durable (synchronous=FULL) before the loop
 * sends any 202; verdicts and claims alone commit lazily (see store.h):
 * a verdict lost with the machine only means a scan runs again.  A write
 * that fails rolls the whole cycle back: events are refused with 503,
 * inbox rows of finished jobs are given back and scanned again later.
 */
static void
cycle_run(void *arg, void *state)
{
	struct cycle	*c = arg;
	struct srv	*srv = c->srv;
	struct job	*job;
	enum vigil_err	 rc;

	(void)state;
	store_lock(srv);
	rc = c->nin > 0 ? store_begin(srv->st) : store_begin_lazy(srv->st);
	/*
	 * The events are freed here, by the thread that allocated them:
	 * glibc frees across threads' arenas slowly, and the loop is what
	 * limits intake.
	 */
	for (size_t i = 0; i < c->nin; i++) {
		if (rc == VIGIL_OK && intake_parse(&c->in[i]) == 0)
			rc = intake_apply(srv, &c->in[i]);
		source_events_free(c->in[i].evs);
		c->in[i].evs = NULL;
	}
	for (size_t i = 0; i < c->ndone && rc == VIGIL_OK; i++) {
		job = c->done[i];
		/* No JSON (out of memory): answered, not recorded. */
		if (job->json == NULL)
			continue;
		/*
		 * A body answered from the cache has its verdict row already
		 * (same bytes, same ruleset): another would only grow the
		 * table.  Its account's findings are still recorded.
		 */
		rc = job->kind == JOB_BODY && job->res == NULL ? VIGIL_OK :
		    save_verdict(srv, job, job->json);
		if (rc == VIGIL_OK)
			rc = review_job(srv, job);
		if (rc == VIGIL_OK && job->kind == JOB_OBJECT)
			rc = object_done(srv, job);
		job->stored = rc == VIGIL_OK;
	}
	for (size_t i = 0; i < c->npages && rc == VIGIL_OK; i++)
		if (c->pages[i]->err == VIGIL_OK)
			rc = bscan_page(srv->bs, c->pages[i]->job,
			    &c->pages[i]->l);
	if (c->claim > 0 && rc == VIGIL_OK)
		rc = store_inbox_claim(srv->st, c->suspects, c->claim,
		    &c->items, &c->nitems);
	if (c->bclaim > 0 && rc == VIGIL_OK)
		rc = bscan_claim(srv->bs, c->bclaim_job, c->bclaim,
		    eng_ruleset_version(srv->rs), &c->bitems, &c->nbitems,
		    &c->bskipped);
	for (size_t i = 0; i < c->nbids && rc == VIGIL_OK; i++) {
		if ((rc = bscan_maybe_done(srv->bs, c->bids[i], wallclock(),
		    &c->bdone[i])) == VIGIL_OK)
			rc = bscan_outstanding(srv->bs, c->bids[i],
			    &c->bout[i]);
	}
	if (rc == VIGIL_OK)
		rc = store_commit(srv->st);
	c->feed_last = review_feed_last(srv->rv);
	if (rc != VIGIL_OK) {
		store_rollback(srv->st);
		for (size_t i = 0; i < c->nitems; i++)
			store_item_free(&c->items[i]);
		vg_free(c->items);
		c->items = NULL;
		c->nitems = 0;
		bscan_items_free(c->bitems, c->nbitems);
		c->bitems = NULL;
		c->nbitems = 0;
		c->bskipped = 0;
		memset(c->bdone, 0, sizeof(c->bdone));
	}
	store_unlock(srv);
	c->rc = rc;
}

static const struct srv_workq_ops writer_ops = {
	.run = cycle_run,
};

/*
 * Hands the filled cycle to the writer if it is idle and there is work.
 * Events alone wait up to commit_delay_ms for company unless now; while
 * the writer is busy everything waits for it, which is the batching.
 */
static void
cycle_kick(struct srv *srv, int now)
{
	struct cycle	*c = srv->fill;
	struct timeval	 tv;

	if (srv->busy != NULL)
		return;
	if (c->ndone == 0 && !now && c->nin > 0 &&
	    srv->cfg->commit_delay_ms > 0) {
		if (!evtimer_pending(srv->ev_commit, NULL)) {
			tv.tv_sec = 0;
			tv.tv_usec = (suseconds_t)srv->cfg->commit_delay_ms *
			    1000;
			evtimer_add(srv->ev_commit, &tv);
		}
		return;
	}
	plan_claim(srv, c);
	plan_bucket(srv, c);
	if (c->nin == 0 && c->ndone == 0 && c->claim == 0 && c->npages == 0 &&
	    c->bclaim == 0 && c->nbids == 0)
		return;
	event_del(srv->ev_commit);
	c->rc = VIGIL_OK;
	if (srv_workq_push(srv->wr, c) != VIGIL_OK) {
		/* Cannot happen with one cycle at a time; retry on tick. */
		vg_log_warnx("store writer refused a cycle");
		return;
	}
	srv->busy = c;
	srv->fill = c == &srv->cyc[0] ? &srv->cyc[1] : &srv->cyc[0];
}

/* A cycle is back from the writer (loop thread): answer everyone. */
static void
on_writer_done(evutil_socket_t fd, short what, void *arg)
{
	struct srv	*srv = arg;
	struct cycle	*c;
	struct intake	*in;
	char		 body[200];
	int		 len, ok;

	(void)fd;
	(void)what;
	if (srv_workq_done(srv->wr, (void **)&c, 1) != 1)
		return;
	srv->busy = NULL;
	ok = c->rc == VIGIL_OK;
	if (!ok)
		vg_log_warnx("store cycle not committed: %s",
		    vigil_strerror(c->rc));
	/* The 202 is formatted here, sparing jansson's allocations. */
	for (size_t i = 0; i < c->nin; i++) {
		in = &c->in[i];
		if (in->status == 200)
			reply_json(in->req, 200, json_pack("{sb}", "test", 1));
		else if (in->status != 0)
			reply_error(in->req, in->status, in->err);
		else if (ok) {
			srv->m.events_accepted += in->accepted;
			srv->m.events_duplicate += in->duplicates;
			srv->m.events_cancelled += in->cancelled;
			len = snprintf(body, sizeof(body), "{\"accepted\":%llu,"
			    "\"duplicates\":%llu,\"cancelled\":%llu,"
			    "\"ignored\":%llu}", (unsigned long long)in->accepted,
			    (unsigned long long)in->duplicates,
			    (unsigned long long)in->cancelled,
			    (unsigned long long)in->ignored);
			reply_raw(in->req, 202, "application/json", body,
			    (size_t)len);
		} else
			reply_error(in->req, 503, "events not stored; retry");
	}
	for (size_t i = 0; i < c->ndone; i++)
		job_answer(srv, c->done[i], ok && c->done[i]->stored);
	if (c->claim > 0 && ok) {
		if (c->suspects && c->nitems == 0)
			srv->suspects = 0;
		else if (!c->suspects && c->nitems < c->claim)
			srv->inbox_maybe = 0;
	}
	/* Rows this cycle added were claimable by it only after the above. */
	for (size_t i = 0; ok && i < c->nin; i++)
		if (c->in[i].accepted > 0 && (c->claim == 0 || c->suspects))
			srv->inbox_maybe = 1;
	submit_claimed(srv, c);
	bucket_cycle_done(srv, c, ok);
	feed_announce(srv, c->feed_last);
	c->nin = 0;
	c->ndone = 0;
	c->claim = 0;
	/* Done jobs left waiting while the writer was busy. */
	event_add(srv->ev_done, NULL);
	collect_done(srv);
	cycle_kick(srv, 1);
	drain_check(srv);
}

static void
on_commit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cycle_kick(arg, 1);
}

static void
handle_events(struct srv *srv, struct evhttp_request *req)
{
	struct evbuffer		*b;
	struct cycle		*c = srv->fill;
	struct intake		*in;
	char			*body;
	size_t			 len;

	/*
	 * One contiguous view of the body, copied only if it is in pieces;
	 * the writer parses it (the loop is what limits intake), and a
	 * malformed one is refused when the cycle comes back.
	 */
	b = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(b);
	if ((body = (char *)evbuffer_pullup(b, -1)) == NULL && len > 0) {
		reply_error(req, 500, "out of memory");
		return;
	}
	/* One request per connection at a time: room for every one. */
	if (c->nin == srv->cfg->max_connections) {
		reply_error(req, 503, "events not stored; retry");
		return;
	}
	in = &c->in[c->nin++];
	memset(in, 0, sizeof(*in));
	in->req = req;
	in->body = body != NULL ? body : "";
	in->len = len;
	cycle_kick(srv, 0);
}

/* POST /v1/scan ------------------------------------------------------- */

/*
 * Moves the request body into the job (its chains change owner; nothing
 * is copied) and maps them for the worker.  -1 out of memory.
 */
static int
take_body(struct job *job, struct evhttp_request *req)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	int		 n;

	if ((job->body = evbuffer_new()) == NULL ||
	    evbuffer_add_buffer(job->body, in) != 0)
		return -1;
	job->bodylen = evbuffer_get_length(job->body);
	n = evbuffer_peek(job->body, -1, NULL, NULL, 0);
	if ((job->iov = vg_calloc(n > 0 ? (size_t)n : 1,
	    sizeof(*job->iov))) == NULL)
		return -1;
	job->niov = evbuffer_peek(job->body, -1, NULL, job->iov, n);
	return 0;
}

static void
handle_scan(struct srv *srv, struct evhttp_request *req)
{
	struct evkeyvalq	 q;
	const char		*query, *name, *account;
	struct job		*job;

	if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) >
	    srv->cfg->max_body) {
		reply_error(req, 413, "body larger than max_body");
		return;
	}
	TAILQ_INIT(&q);
	query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		reply_error(req, 400, "malformed query string");
		return;
	}
	name = evhttp_find_header(&q, "name");
	account = evhttp_find_header(&q, "account");
	if ((job = job_new(srv, JOB_BODY)) == NULL ||
	    (job->name = vg_strdup(name != NULL ? name : "upload")) == NULL ||
	    (account != NULL && (job->account = vg_strdup(account)) ==
	    NULL)) {
		evhttp_clear_headers(&q);
		job_free(job);
		reply_error(req, 500, "out of memory");
		return;
	}
	evhttp_clear_headers(&q);
	if (srv_workq_waiting(srv->wq) >= srv_workq_capacity(srv->wq)) {
		job_free(job);
		srv->m.refused++;
		reply_error(req, 503, "scan queue full; retry later");
		return;
	}
	if (take_body(job, req) == -1) {
		job_free(job);
		reply_error(req, 500, "out of memory");
		return;
	}
	job->req = req;
	if (job_submit(srv, job) != VIGIL_OK) {
		job->req = NULL;
		job_free(job);
		srv->m.refused++;
		reply_error(req, 503, "scan queue full; retry later");
	}
}

/* GET /v1/objects/{bucket}/{key} -------------------------------------- */

static json_t *
iso_time(double t)
{
	char	buf[40];

	vg_iso_time(t, 0, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *
jstr_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static void
handle_object(struct srv *srv, struct evhttp_request *req, const char *rest)
{
	struct store_verdict	*v;
	json_t			*out, *res;
	char			*path, *slash;
	size_t			 len;
	enum vigil_err		 rc;

	if ((path = evhttp_uridecode(rest, 0, &len)) == NULL) {
		reply_error(req, 500, "out of memory");
		return;
	}
	if (strlen(path) != len || (slash = strchr(path, '/')) == NULL) {
		free(path);
		reply_error(req, 400, "expected /v1/objects/BUCKET/KEY");
		return;
	}
	*slash = '\0';
	if (!source_bucket_valid(path) || !source_key_valid(slash + 1,
	    strlen(slash + 1))) {
		free(path);
		reply_error(req, 400, "refused bucket or key");
		return;
	}
	store_lock(srv);
	rc = store_verdict_get(srv->st, path, slash + 1, &v);
	store_unlock(srv);
	free(path);
	if (rc == VIGIL_E_NOTFOUND) {
		reply_error(req, 404, "no verdict for this object");
		return;
	}
	if (rc != VIGIL_OK) {
		reply_error(req, 500, vigil_strerror(rc));
		return;
	}
	res = json_loads(v->result, 0, NULL);
	out = json_object();
	if (out != NULL) {
		json_object_set_new(out, "bucket", json_string(v->bucket));
		json_object_set_new(out, "key", json_string(v->key));
		json_object_set_new(out, "object", json_string(v->name));
		json_object_set_new(out, "etag", jstr_or_null(v->etag));
		json_object_set_new(out, "version_id",
		    jstr_or_null(v->version_id));
		json_object_set_new(out, "account", jstr_or_null(v->account));
		json_object_set_new(out, "size", json_integer(
		    (json_int_t)v->size));
		json_object_set_new(out, "sha256", json_string(v->sha256));
		json_object_set_new(out, "ruleset", json_string(v->ruleset));
		json_object_set_new(out, "verdict", json_string(v->verdict));
		json_object_set_new(out, "matches", json_deep_copy(
		    json_object_get(res, "matches")));
		json_object_set_new(out, "problems", json_deep_copy(
		    json_object_get(res, "problems")));
		json_object_set_new(out, "received", iso_time(v->received));
		json_object_set_new(out, "scanned", iso_time(v->scanned));
	}
	json_decref(res);
	store_verdict_free(v);
	reply_json(req, 200, out);
}

/* Rules --------------------------------------------------------------- */

static json_t *
rules_json(const struct eng_ruleset *rs)
{
	size_t	 counts[ENG_NCLAUSES];
	json_t	*o, *c;

	eng_ruleset_clause_counts(rs, counts);
	if ((c = json_object()) == NULL)
		return NULL;
	for (size_t i = 0; i < ENG_NCLAUSES; i++)
		json_object_set_new(c, eng_clauses[i],
		    json_integer((json_int_t)counts[i]));
	o = json_pack("{sssIso}", "version", eng_ruleset_version(rs),
	    "rules", (json_int_t)eng_ruleset_nrules(rs), "clauses", c);
	return o;
}

static void *
reload_thread(void *arg)
{
	struct srv	*srv = arg;
	uint64_t	 one = 1;

	srv->reload.err = eng_ruleset_compile(srv->cfg->rules, ENG_MODE_AUTO,
	    &srv->reload.rs, &srv->reload.diag);
	(void)!write(srv->reload.efd, &one, sizeof(one));
	return NULL;
}

/* Starts a background compile; req (may be NULL) waits for the outcome. */
static void
reload_start(struct srv *srv, struct evhttp_request *req)
{
	if (req != NULL) {
		if (srv->reload.nwaiters == RELOAD_WAITERS) {
			reply_error(req, 503, "too many reload requests");
			return;
		}
		srv->reload.waiters[srv->reload.nwaiters++] = req;
	}
	if (srv->reload.running)
		return;
	srv->reload.rs = NULL;
	memset(&srv->reload.diag, 0, sizeof(srv->reload.diag));
	if (pthread_create(&srv->reload.th, NULL, reload_thread, srv) != 0) {
		vg_log_warnx("rules reload: cannot start a thread");
		for (size_t i = 0; i < srv->reload.nwaiters; i++)
			reply_error(srv->reload.waiters[i], 500,
			    "cannot start a thread");
		srv->reload.nwaiters = 0;
		return;
	}
	srv->reload.running = 1;
	srv->reload.actor = req != NULL ? "admin" : "SIGHUP";
	vg_log_info("rules reload: compiling %s", srv->cfg->rules);
}

static void
audit_reload(struct srv *srv, const char *version, const char *error)
{
	json_t	*d = json_pack("{ss ss ss?}", "rules", srv->cfg->rules,
	    "version", version, "error", error);

	store_lock(srv);
	(void)review_audit(srv->rv, srv->reload.actor, error == NULL ?
	    "rules.reload" : "rules.reload.failed", "rules", NULL, d,
	    wallclock());
	store_unlock(srv);
	json_decref(d);
}

static void
on_reload_done(evutil_socket_t fd, short what, void *arg)
{
	struct srv	*srv = arg;
	struct eng_diag	*d = &srv->reload.diag;
	uint64_t	 v;
	char		 msg[2048];
	json_t		*j;

	(void)what;
	(void)!read(fd, &v, sizeof(v));
	if (!srv->reload.running)
		return;
	pthread_join(srv->reload.th, NULL);
	srv->reload.running = 0;
	if (srv->reload.err == VIGIL_OK) {
		eng_ruleset_unref(srv->rs);
		srv->rs = srv->reload.rs;
		srv->reload.rs = NULL;
		srv->m.reloads_ok++;
		vg_log_info("rules reloaded: version %.16s, %zu rules",
		    eng_ruleset_version(srv->rs), eng_ruleset_nrules(srv->rs));
		audit_reload(srv, eng_ruleset_version(srv->rs), NULL);
	} else {
		if (d->line > 0)
			snprintf(msg, sizeof(msg), "%s:%d:%d: %s", d->file,
			    d->line, d->column, d->msg);
		else
			snprintf(msg, sizeof(msg), "%s: %s", d->file[0] ?
			    d->file : srv->cfg->rules, d->msg[0] ? d->msg :
			    vigil_strerror(srv->reload.err));
		srv->m.reloads_failed++;
		audit_reload(srv, eng_ruleset_version(srv->rs), msg);
		vg_log_warnx("rules reload failed, keeping version %.16s: %s",
		    eng_ruleset_version(srv->rs), msg);
	}
	for (size_t i = 0; i < srv->reload.nwaiters; i++) {
		if (srv->reload.err == VIGIL_OK) {
			j = rules_json(srv->rs);
			if (j != NULL)
				json_object_set_new(j, "reloaded",
				    json_true());
			reply_json(srv->reload.waiters[i], 200, j);
		} else {
			j = json_pack("{ssss}", "error", msg, "version",
			    eng_ruleset_version(srv->rs));
			reply_json(srv->reload.waiters[i], 422, j);
		}
	}
	srv->reload.nwaiters = 0;
}

/* Health and metrics -------------------------------------------------- */

static void
handle_readyz(struct srv *srv, struct evhttp_request *req)
{
	int	rules = srv->rs != NULL, store;

	store_lock(srv);
	store = store_ping(srv->st) == VIGIL_OK;
	store_unlock(srv);

	reply_json(req, rules && store && !srv->draining ? 200 : 503,
	    json_pack("{sbsbsb}", "ready", rules && store && !srv->draining,
	    "rules", rules, "store", store));
}

/* The PDF helpers (engine/pdfproc.c): a rising crash count is poppler's. */
static enum vigil_err
pdf_metrics(struct vg_buf *b)
{
	struct eng_pdf_stats	s;

	eng_pdf_helper_stats(&s);
	return vg_buf_addf(b, "# HELP vigil_pdf_helpers_total PDF text "
	    "helper processes started, and documents one crashed on or was "
	    "killed at a limit.\n# TYPE vigil_pdf_helpers_total counter\n"
	    "vigil_pdf_helpers_total{event=\"started\"} %llu\n"
	    "vigil_pdf_helpers_total{event=\"crashed\"} %llu\n"
	    "vigil_pdf_helpers_total{event=\"killed\"} %llu\n",
	    (unsigned long long)s.started, (unsigned long long)s.crashed,
	    (unsigned long long)s.killed);
}

static void
handle_metrics(struct srv *srv, struct evhttp_request *req)
{
	struct vg_buf	 b;
	int64_t		 pending = 0;
	double		 age = 0;
	uint64_t	 cum = 0;

	store_lock(srv);
	(void)store_inbox_stats(srv->st, &pending, &age);
	store_unlock(srv);
	vg_buf_init(&b, 1 << 20);
	(void)vg_buf_addf(&b,
	    "# HELP vigil_events_accepted_total Object events stored in the "
	    "inbox.\n# TYPE vigil_events_accepted_total counter\n"
	    "vigil_events_accepted_total %llu\n"
	    "# HELP vigil_events_duplicate_total Events already in the inbox."
	    "\n# TYPE vigil_events_duplicate_total counter\n"
	    "vigil_events_duplicate_total %llu\n"
	    "# HELP vigil_events_cancelled_total Pending scans cancelled by "
	    "ObjectRemoved.\n# TYPE vigil_events_cancelled_total counter\n"
	    "vigil_events_cancelled_total %llu\n"
	    "# HELP vigil_scans_total Scans finished, by verdict.\n"
	    "# TYPE vigil_scans_total counter\n",
	    (unsigned long long)srv->m.events_accepted,
	    (unsigned long long)srv->m.events_duplicate,
	    (unsigned long long)srv->m.events_cancelled);
	for (int v = 0; v < 4; v++)
		(void)vg_buf_addf(&b, "vigil_scans_total{verdict=\"%s\"} "
		    "%llu\n", vigil_verdict_name((enum vigil_verdict)v),
		    (unsigned long long)srv->m.scans[v]);
	(void)vg_buf_addf(&b,
	    "# HELP vigil_cache_hits_total Verdicts reused for content already "
	    "judged\n# by the same ruleset.\n"
	    "# TYPE vigil_cache_hits_total counter\nvigil_cache_hits_total "
	    "%llu\n"
	    "# HELP vigil_bytes_scanned_total Bytes examined, all layers.\n"
	    "# TYPE vigil_bytes_scanned_total counter\n"
	    "vigil_bytes_scanned_total %llu\n"
	    "# HELP vigil_queue_depth Scans waiting for a worker.\n"
	    "# TYPE vigil_queue_depth gauge\nvigil_queue_depth %zu\n"
	    "# HELP vigil_scans_in_flight Scans queued or running.\n"
	    "# TYPE vigil_scans_in_flight gauge\nvigil_scans_in_flight %zu\n"
	    "# HELP vigil_refused_total Requests refused with 503 for a full "
	    "queue.\n# TYPE vigil_refused_total counter\n"
	    "vigil_refused_total %llu\n"
	    "# HELP vigil_rule_reloads_total Rule reloads by outcome.\n"
	    "# TYPE vigil_rule_reloads_total counter\n"
	    "vigil_rule_reloads_total{result=\"ok\"} %llu\n"
	    "vigil_rule_reloads_total{result=\"failed\"} %llu\n"
	    "# HELP vigil_inbox_pending Inbox events not yet scanned.\n"
	    "# TYPE vigil_inbox_pending gauge\nvigil_inbox_pending %lld\n"
	    "# HELP vigil_inbox_oldest_age_seconds Age of the oldest "
	    "unscanned inbox event.\n"
	    "# TYPE vigil_inbox_oldest_age_seconds gauge\n"
	    "vigil_inbox_oldest_age_seconds %.3f\n"
	    "# HELP vigil_scan_duration_seconds Time per scan.\n"
	    "# TYPE vigil_scan_duration_seconds histogram\n",
	    (unsigned long long)srv->m.cache_hits,
	    (unsigned long long)srv->m.bytes_scanned,
	    srv_workq_waiting(srv->wq), srv->ninflight,
	    (unsigned long long)srv->m.refused,
	    (unsigned long long)srv->m.reloads_ok,
	    (unsigned long long)srv->m.reloads_failed,
	    (long long)pending, age);
	for (size_t i = 0; i < NBOUNDS; i++) {
		cum += srv->m.latency[i];
		(void)vg_buf_addf(&b, "vigil_scan_duration_seconds_bucket"
		    "{le=\"%g\"} %llu\n", latency_bounds[i],
		    (unsigned long long)cum);
	}
	cum += srv->m.latency[NBOUNDS];
	if (vg_buf_addf(&b, "vigil_scan_duration_seconds_bucket{le=\"+Inf\"} "
	    "%llu\nvigil_scan_duration_seconds_sum %.6f\n"
	    "vigil_scan_duration_seconds_count %llu\n",
	    (unsigned long long)cum, srv->m.latency_sum,
	    (unsigned long long)srv->m.latency_count) != VIGIL_OK ||
	    pdf_metrics(&b) != VIGIL_OK ||
	    vg_buf_addf(&b, "# HELP vigil_bucket_scans_running Bucket scan "
	    "jobs running.\n# TYPE vigil_bucket_scans_running gauge\n"
	    "vigil_bucket_scans_running %zu\n"
	    "# HELP vigil_bucket_objects_read_total Objects whose content "
	    "bucket scans read.\n"
	    "# TYPE vigil_bucket_objects_read_total counter\n"
	    "vigil_bucket_objects_read_total %llu\n", srv->nbj,
	    (unsigned long long)srv->bucket_reads) != VIGIL_OK)
		reply_error(req, 500, "out of memory");
	else
		reply_raw(req, 200, "text/plain; version=0.0.4", b.data,
		    b.len);
	vg_buf_free(&b);
}

/* Routing ------------------------------------------------------------- */

static void
route(struct evhttp_request *req, void *arg)
{
	struct srv		*srv = arg;
	enum evhttp_cmd_type	 m = evhttp_request_get_command(req);
	const char		*path;

	if (!conn_admit(srv, req))
		return;
	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (path == NULL)
		path = "/";
	if (srv->draining) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		reply_error(req, 503, "shutting down");
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		if (m != EVHTTP_REQ_GET)
			goto method;
		reply_json(req, 200, json_pack("{ss}", "status", "ok"));
	} else if (strcmp(path, "/readyz") == 0) {
		if (m != EVHTTP_REQ_GET)
			goto method;
		if (authorize(srv, req, ROLE_ANY))
			handle_readyz(srv, req);
	} else if (strcmp(path, "/metrics") == 0) {
		if (m != EVHTTP_REQ_GET)
			goto method;
		if (authorize(srv, req, ROLE_MOD | ROLE_ADMIN))
			handle_metrics(srv, req);
	} else if (strcmp(path, "/v1/scan") == 0) {
		if (m != EVHTTP_REQ_POST)
			goto method;
		if (authorize(srv, req, ROLE_ANY))
			handle_scan(srv, req);
	} else if (strcmp(path, "/v1/events") == 0) {
		if (m != EVHTTP_REQ_POST)
			goto method;
		if (authorize(srv, req, ROLE_HOOK | ROLE_ADMIN))
			handle_events(srv, req);
	} else if (strcmp(path, "/v1/rules") == 0) {
		if (m != EVHTTP_REQ_GET)
			goto method;
		if (authorize(srv, req, ROLE_ANY))
			reply_json(req, 200, rules_json(srv->rs));
	} else if (strcmp(path, "/v1/rules/reload") == 0) {
		if (m != EVHTTP_REQ_POST)
			goto method;
		if (authorize(srv, req, ROLE_ADMIN))
			reload_start(srv, req);
	} else if (strncmp(path, "/v1/objects/", 12) == 0) {
		if (m != EVHTTP_REQ_GET)
			goto method;
		if (authorize(srv, req, ROLE_MOD | ROLE_ADMIN))
			handle_object(srv, req, path + 12);
	} else if (!api_route(srv, srv->feed, req, path))
		reply_error(req, 404, "no such endpoint");
	return;
method:
	reply_error(req, 405, "method not allowed");
}

/* Signals and draining ------------------------------------------------ */

static void
drain_check(struct srv *srv)
{
	/* A moment more of the loop lets the last replies reach clients. */
	struct timeval	flush = { 0, 200000 };

	if (srv->draining == 1 && srv->ninflight == 0 && srv->busy == NULL &&
	    srv->fill->nin == 0) {
		vg_log_info("drained; exiting");
		srv->draining = 2;
		event_base_loopexit(srv->base, &flush);
	}
}

static void
on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct srv	*srv = arg;

	(void)fd;
	(void)what;
	vg_log_warnx("drain deadline passed with %zu scans in flight",
	    srv->ninflight);
	event_base_loopbreak(srv->base);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct srv	*srv = arg;
	struct timeval	 tv;

	(void)what;
	if (sig == SIGHUP) {
		reload_start(srv, NULL);
		return;
	}
	if (srv->draining)
		return;
	vg_log_info("%s: no longer accepting; draining %zu scans",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT", srv->ninflight);
	srv->draining = 1;
	brun_answer_held(srv, HUGE_VAL);
	if (srv->bound != NULL) {
		evhttp_del_accept_socket(srv->http, srv->bound);
		srv->bound = NULL;
	}
	/* Events already read were promised a commit. */
	cycle_kick(srv, 1);
	tv.tv_sec = (time_t)srv->cfg->drain_timeout;
	tv.tv_usec = 0;
	evtimer_add(srv->ev_drain, &tv);
	drain_check(srv);
}

/* Start-up ------------------------------------------------------------ */

static int
mkdir_p(const char *path, mode_t mode)
{
	char	buf[4096];
	size_t	n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * With no token configured, an admin token is made once and kept in
 * STATE_DIR/admin.token (0600) so an operator can read it and add real
 * tokens to the config.
 */
static int
admin_token(struct srv *srv)
{
	const char	*dir = srv->cfg->state_dir;
	unsigned char	 rnd[32];
	char		 path[4096], hex[65];
	ssize_t		 n;
	int		 fd, created = 0;

	snprintf(path, sizeof(path), "%s/admin.token", dir);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) != -1) {
		n = read(fd, hex, sizeof(hex) - 1);
		close(fd);
		while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == ' '))
			n--;
		if (n < 16) {
			vg_log_warnx("%s: too short to be a token", path);
			return -1;
		}
		hex[n] = '\0';
	} else {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			vg_log_warn("getrandom");
			return -1;
		}
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd == -1 || write(fd, hex, 64) != 64 ||
		    write(fd, "\n", 1) != 1) {
			vg_log_warn("%s", path);
			if (fd != -1)
				close(fd);
			return -1;
		}
		close(fd);
		created = 1;
		vg_log_info("no tokens configured: created an admin token in "
		    "%s", path);
	}
	if ((srv->admin.secret = vg_strdup(hex)) == NULL)
		return -1;
	srv->admin.role = VG_ROLE_ADMIN;
	if (!created)
		vg_log_info("no tokens configured: the admin token is in %s",
		    path);
	return 0;
}

static int
load_account_map(struct srv *srv)
{
	FILE	*f;
	char	 line[1024], b[512], a[512];
	size_t	 n = 0;
	char	**m;

	if ((f = fopen(srv->cfg->account_map, "r")) == NULL) {
		vg_log_warn("account_map %s", srv->cfg->account_map);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#' || sscanf(line, "%511s %511s", b, a) != 2)
			continue;
		if ((m = vg_reallocarray(srv->acct_map, n + 3,
		    sizeof(char *))) == NULL)
			break;
		srv->acct_map = m;
		m[n] = vg_strdup(b);
		m[n + 1] = vg_strdup(a);
		m[n + 2] = NULL;
		n += 2;
	}
	fclose(f);
	return 0;
}

static int
write_port(struct srv *srv, const char *host, unsigned port)
{
	char	path[4096], tmp[4096];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/port", srv->cfg->state_dir);
	snprintf(tmp, sizeof(tmp), "%s/port.tmp", srv->cfg->state_dir);
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, path) == -1)
		return -1;
	vg_log_info("listening on %s%s%s:%u", strchr(host, ':') ? "[" : "",
	    host, strchr(host, ':') ? "]" : "", port);
	return 0;
}

static int
listen_http(struct srv *srv)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = sizeof(ss);
	char			host[256];
	uint16_t		port;
	unsigned		bound;

	(void)vg_config_split_listen(srv->cfg->listen, host, sizeof(host),
	    &port);
	srv->bound = evhttp_bind_socket_with_handle(srv->http, host, port);
	if (srv->bound == NULL) {
		vg_log_warn("cannot listen on %s", srv->cfg->listen);
		return -1;
	}
	if (getsockname(evhttp_bound_socket_get_fd(srv->bound),
	    (struct sockaddr *)&ss, &sl) == -1)
		return -1;
	bound = ss.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&ss)->sin_port);
	snprintf(srv->host, sizeof(srv->host), "%s", host);
	srv->port = bound;
	return 0;
}

/*
 * Started as root: hands the state directory's files to cfg->user and
 * becomes that user, with its primary group and no other, for good (real,
 * effective and saved ids).  Called once the socket, database and rules
 * are open and before any worker thread starts.  0 when switched or when
 * there is nothing to do, -1 to stop start-up (logged).
 */
static int
drop_privileges(const struct vg_config *cfg)
{
	static const char *const files[] = { "", "/vigil.db",
	    "/vigil.db-wal", "/vigil.db-shm", "/admin.token", "/port" };
	struct passwd	*pw;
	uid_t		 uid, ruid, euid, suid;
	gid_t		 gid, rgid, egid, sgid;
	char		 path[4096];
	size_t		 sl = strlen(cfg->state_dir);

	if (geteuid() != 0)
		return 0;
	if (cfg->user[0] == '\0') {
		vg_log_info("user is empty: running as root");
		return 0;
	}
	if ((pw = getpwnam(cfg->user)) == NULL) {
		if (strcmp(cfg->user, "vigil") == 0) {
			vg_log_warnx("user vigil does not exist: running as "
			    "root");
			return 0;
		}
		vg_log_warnx("user %s does not exist", cfg->user);
		return -1;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0) {
		vg_log_info("user %s is root: running as root", cfg->user);
		return 0;
	}
	/* What this process made as root it must still write as uid. */
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", cfg->state_dir, files[i]);
		if (lchown(path, uid, gid) == -1 && errno != ENOENT) {
			vg_log_warn("chown %s", path);
			return -1;
		}
	}
	if (strncmp(cfg->buckets, cfg->state_dir, sl) == 0 &&
	    cfg->buckets[sl] == '/' && lchown(cfg->buckets, uid, gid) == -1) {
		vg_log_warn("chown %s", cfg->buckets);
		return -1;
	}
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		vg_log_warn("switching to user %s", cfg->user);
		return -1;
	}
	/* Trust but verify: no id may be left behind, nor a way back. */
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1 || ruid != uid ||
	    euid != uid || suid != uid || rgid != gid || egid != gid ||
	    sgid != gid || setuid(0) != -1 || setgid(0) != -1) {
		vg_log_warnx("still privileged after switching to user %s",
		    cfg->user);
		return -1;
	}
	vg_log_info("running as user %s (uid %u, gid %u)", cfg->user,
	    (unsigned)uid, (unsigned)gid);
	return 0;
}

/* Scans left running by a crash: run again, or "error" after two. */
static void
recover_inbox(struct srv *srv)
{
	struct store_item	*poison;
	struct job		*job;
	size_t			 n;
	char			*json;

	if (store_inbox_recover(srv->st, MAX_ATTEMPTS, &poison, &n) !=
	    VIGIL_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		vg_log_warnx("%s/%s crashed the scanner %d times; verdict "
		    "error", poison[i].bucket, poison[i].key,
		    poison[i].attempts);
		if ((job = job_new(srv, JOB_OBJECT)) == NULL)
			break;
		job->item = poison[i];
		memset(&poison[i], 0, sizeof(poison[i]));
		job->name = vg_malloc(strlen(job->item.bucket) +
		    strlen(job->item.key) + 2);
		if (job->name != NULL) {
			sprintf(job->name, "%s/%s", job->item.bucket,
			    job->item.key);
			job->rs = eng_ruleset_ref(srv->rs);
			(void)eng_result_new_problem(job->name, VIGIL_R_IO,
			    "the scanner crashed on this object twice",
			    &job->res);
		}
		json = job->res != NULL ? eng_result_json_ex(job->res, 1) :
		    NULL;
		if (json != NULL) {
			srv->m.scans[job->res->verdict]++;
			store_lock(srv);
			(void)save_verdict(srv, job, json);
			store_unlock(srv);
		}
		vg_free(json);
		job_free(job);
	}
	for (size_t i = 0; i < n; i++)
		store_item_free(&poison[i]);
	vg_free(poison);
	/* Anything else left running is now a suspect: see plan_claim(). */
	srv->suspects = 1;
}

static unsigned
worker_count(const struct vg_config *cfg)
{
	long	n;

	if (cfg->workers > 0)
		return (unsigned)cfg->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

static void
drop_qtask(void *arg)
{
	qtask_free(arg);
}

static void
drop_page(void *arg)
{
	page_free(arg);
}

static void
drop_job(void *arg)
{
	job_free(arg);
}

int
srv_main(const struct vg_config *cfg)
{
	struct srv	 srv_, *srv = &srv_;
	struct event_config *ecfg;
	struct eng_diag	 d;
	char		 err[512];
	const int	 sigs[3] = { SIGHUP, SIGTERM, SIGINT };
	int		 status = 3;
	enum vigil_err	 rc;

	memset(srv, 0, sizeof(*srv));
	srv->cfg = cfg;
	pthread_mutex_init(&srv->store_mu, NULL);
	srv->fill = &srv->cyc[0];
	srv->reload.efd = -1;
	srv->started = wallclock();
	signal(SIGPIPE, SIG_IGN);

	/* Open state, rules and sockets; nothing listens anew later. */
	if (mkdir_p(cfg->state_dir, 0700) == -1 ||
	    mkdir_p(cfg->buckets, 0750) == -1) {
		vg_log_warn("creating %s", errno == 0 ? cfg->state_dir :
		    cfg->state_dir);
		goto out;
	}
	if ((rc = store_open(cfg->state_dir, &srv->st, err, sizeof(err))) !=
	    VIGIL_OK) {
		vg_log_warnx("store: %s", err);
		goto out;
	}
	if ((rc = review_open(srv->st, cfg, &srv->rv, err, sizeof(err))) !=
	    VIGIL_OK || (rc = bscan_open(srv->st, &srv->bs, err,
	    sizeof(err))) != VIGIL_OK) {
		vg_log_warnx("store: %s", err);
		goto out;
	}
	if (cfg->ntokens == 0 && admin_token(srv) == -1)
		goto out;
	if (cfg->account_from == VG_ACCOUNT_PREFIX) {
		if (regcomp(&srv->prefix_re, cfg->account_prefix,
		    REG_EXTENDED) != 0) {
			vg_log_warnx("account_prefix: bad regular expression");
			goto out;
		}
		srv->have_re = 1;
	}
	if (cfg->account_from == VG_ACCOUNT_MAP && load_account_map(srv) == -1)
		goto out;
	srv->src = source_backend_find("local");
	if (srv->src->open(cfg->buckets, &srv->src_state) != VIGIL_OK) {
		vg_log_warn("buckets %s", cfg->buckets);
		goto out;
	}
	if (sources_open(srv) == -1)
		goto out;
	if ((rc = eng_ruleset_compile(cfg->rules, ENG_MODE_AUTO, &srv->rs,
	    &d)) != VIGIL_OK) {
		if (d.line > 0)
			vg_log_warnx("rules: %s:%d:%d: %s", d.file, d.line,
			    d.column, d.msg);
		else
			vg_log_warnx("rules: %s: %s", d.file[0] ? d.file :
			    cfg->rules, d.msg[0] ? d.msg : vigil_strerror(rc));
		goto out;
	}
	vg_log_info("rules %s: version %.16s, %zu rules", cfg->rules,
	    eng_ruleset_version(srv->rs), eng_ruleset_nrules(srv->rs));
	audit_start(srv);
	if ((srv->conns = vg_calloc(cfg->max_connections,
	    sizeof(*srv->conns))) == NULL)
		goto out;
	for (int i = 0; i < 2; i++) {
		srv->cyc[i].srv = srv;
		if ((srv->cyc[i].in = vg_calloc(cfg->max_connections,
		    sizeof(struct intake))) == NULL ||
		    (srv->cyc[i].done = vg_calloc(DONE_BATCH,
		    sizeof(struct job *))) == NULL)
			goto out;
	}
	/*
	 * Request bodies arrive in 256 KiB chains that live a few
	 * milliseconds.  glibc's defaults mmap such blocks (or trim the
	 * heap under them) and fault fresh zeroed pages in for the next
	 * body: half the throughput of 1 MiB sync scans went to that.
	 * Blocks under 4 MiB come from the heap, and up to 64 MiB of free
	 * heap is kept for reuse.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, 4 << 20);
	(void)mallopt(M_TRIM_THRESHOLD, 64 << 20);
	/*
	 * evhttp turns a connection's read and write events off and on
	 * around every request; the changelist folds those into one
	 * epoll_ctl per fd and loop iteration, or none when they cancel.
	 */
	if ((ecfg = event_config_new()) == NULL)
		goto out;
	(void)event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	srv->base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	if (srv->base == NULL || (srv->http = evhttp_new(srv->base)) == NULL)
		goto out;
	evhttp_set_max_body_size(srv->http, (ev_ssize_t)cfg->max_body);
	evhttp_set_max_headers_size(srv->http, 16384);
	evhttp_set_timeout(srv->http, (int)cfg->timeout);
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(srv->http, route, srv);
	evhttp_set_bevcb(srv->http, conn_bev, NULL);
	/*
	 * The port file comes after the switch of user, so whoever reads it
	 * finds the daemon as it will run.
	 */
	if (listen_http(srv) == -1 || drop_privileges(cfg) == -1)
		goto out;
	if (write_port(srv, srv->host, srv->port) == -1) {
		vg_log_warn("writing %s/port", cfg->state_dir);
		goto out;
	}
	if ((rc = srv_workq_new(&workq_ops, srv, worker_count(cfg),
	    (size_t)cfg->queue_size, &srv->wq)) != VIGIL_OK) {
		vg_log_warnx("workers: %s", vigil_strerror(rc));
		goto out;
	}
	if ((rc = srv_workq_new(&writer_ops, srv, 1, 1, &srv->wr)) !=
	    VIGIL_OK || (rc = srv_workq_new(&lister_ops, srv, 1, MAX_BJOBS,
	    &srv->lister)) != VIGIL_OK || (rc = srv_workq_new(&qwq_ops, srv,
	    1, 100000, &srv->qwq)) != VIGIL_OK) {
		vg_log_warnx("store writer: %s", vigil_strerror(rc));
		goto out;
	}
	if ((srv->reload.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		goto out;
	srv->ev_wrdone = event_new(srv->base, srv_workq_fd(srv->wr),
	    EV_READ | EV_PERSIST, on_writer_done, srv);
	srv->ev_done = event_new(srv->base, srv_workq_fd(srv->wq),
	    EV_READ | EV_PERSIST, on_done, srv);
	srv->ev_lister = event_new(srv->base, srv_workq_fd(srv->lister),
	    EV_READ | EV_PERSIST, on_lister_done, srv);
	srv->ev_throttle = evtimer_new(srv->base, on_commit, srv);
	srv->ev_qdone = event_new(srv->base, srv_workq_fd(srv->qwq),
	    EV_READ | EV_PERSIST, on_qdone, srv);
	srv->ev_reload = event_new(srv->base, srv->reload.efd,
	    EV_READ | EV_PERSIST, on_reload_done, srv);
	srv->ev_commit = evtimer_new(srv->base, on_commit, srv);
	srv->ev_drain = evtimer_new(srv->base, on_drain_deadline, srv);
	srv->ev_tick = event_new(srv->base, -1, EV_PERSIST, on_tick, srv);
	for (int i = 0; i < 3; i++)
		srv->ev_sig[i] = evsignal_new(srv->base, sigs[i], on_signal,
		    srv);
	if (srv->ev_done == NULL || srv->ev_reload == NULL ||
	    srv->ev_lister == NULL || srv->ev_throttle == NULL ||
	    srv->ev_qdone == NULL ||
	    srv->ev_wrdone == NULL ||
	    srv->ev_commit == NULL || srv->ev_drain == NULL ||
	    srv->ev_tick == NULL || srv->ev_sig[0] == NULL ||
	    srv->ev_sig[1] == NULL || srv->ev_sig[2] == NULL)
		goto out;
	event_add(srv->ev_done, NULL);
	event_add(srv->ev_lister, NULL);
	event_add(srv->ev_qdone, NULL);
	event_add(srv->ev_wrdone, NULL);
	event_add(srv->ev_reload, NULL);
	event_add(srv->ev_tick, &(struct timeval){ 1, 0 });
	for (int i = 0; i < 3; i++)
		event_add(srv->ev_sig[i], NULL);

	if ((srv->feed = api_feed_new(srv)) == NULL)
		goto out;
	srv->feed_last = review_feed_last(srv->rv);
	if (cfg->webhooks.n > 0 && (srv->hooks = hooks_new(srv)) == NULL)
		goto out;
	recover_inbox(srv);
	if (bucket_start(srv) == -1)
		goto out;
	quarantine_recover(srv);
	srv->inbox_maybe = 1;
	cycle_kick(srv, 1);
	vg_log_info("serving with %u workers, queue %llu",
	    worker_count(cfg), (unsigned long long)cfg->queue_size);
	event_base_dispatch(srv->base);
	status = 0;

	if (srv->ninflight > 0) {
		/*
		 * The deadline passed: answer held requests, give unfinished
		 * inbox rows their attempt back (no crash happened), and
		 * leave without joining workers still inside a scan.
		 */
		for (struct job *j = srv->inflight; j != NULL; j = j->next) {
			if (j->kind == JOB_OBJECT)
				release_job(srv, j);
			else if (j->req != NULL)
				reply_error(j->req, 503, "shutting down");
		}
		store_close(srv->st);
		vg_log_info("exiting with %zu scans abandoned", srv->ninflight);
		_exit(0);
	}
out:
	if (srv->reload.running)
		pthread_join(srv->reload.th, NULL);
	if (srv->reload.rs != NULL)
		eng_ruleset_unref(srv->reload.rs);
	for (size_t i = 0; i < srv->reload.nwaiters; i++)
		reply_error(srv->reload.waiters[i], 503, "shutting down");
	srv_workq_free(srv->wq, drop_job);
	srv_workq_free(srv->lister, drop_page);
	/* Waits for the action in progress; the others are dropped. */
	srv_workq_free(srv->qwq, drop_qtask);
	if (srv->ev_qdone != NULL)
		event_free(srv->ev_qdone);
	if (srv->ev_lister != NULL)
		event_free(srv->ev_lister);
	if (srv->ev_throttle != NULL)
		event_free(srv->ev_throttle);
	for (size_t i = 0; i < srv->npages; i++)
		page_free(srv->pages[i]);
	while (srv->nbj > 0)
		brun_remove(srv, &srv->bj[srv->nbj - 1]);
	vg_free(srv->sched_next);
	vg_free(srv->crons);
	/* Idle by now: the loop ran until every cycle came back. */
	srv_workq_free(srv->wr, NULL);
	if (srv->ev_wrdone != NULL)
		event_free(srv->ev_wrdone);
	for (int i = 0; i < 2; i++) {
		vg_free(srv->cyc[i].in);
		vg_free(srv->cyc[i].done);
	}
	pthread_mutex_destroy(&srv->store_mu);
	for (int i = 0; i < 3; i++)
		if (srv->ev_sig[i] != NULL)
			event_free(srv->ev_sig[i]);
	if (srv->ev_done != NULL)
		event_free(srv->ev_done);
	if (srv->ev_reload != NULL)
		event_free(srv->ev_reload);
	if (srv->ev_commit != NULL)
		event_free(srv->ev_commit);
	if (srv->ev_drain != NULL)
		event_free(srv->ev_drain);
	if (srv->ev_tick != NULL)
		event_free(srv->ev_tick);
	api_feed_free(srv->feed);
	hooks_free(srv->hooks);
	if (srv->http != NULL)
		evhttp_free(srv->http);
	if (srv->base != NULL)
		event_base_free(srv->base);
	if (srv->reload.efd != -1)
		close(srv->reload.efd);
	vg_free(srv->conns);
	if (srv->rs != NULL)
		eng_ruleset_unref(srv->rs);
	if (srv->src != NULL && srv->src_state != NULL)
		srv->src->close(srv->src_state);
	for (size_t i = 0; i < srv->nbinds; i++)
		srv->binds[i].be->close(srv->binds[i].state);
	vg_free(srv->binds);
	for (size_t i = 0; srv->acct_map != NULL && srv->acct_map[i]; i++)
		vg_free(srv->acct_map[i]);
	vg_free(srv->acct_map);
	if (srv->have_re)
		regfree(&srv->prefix_re);
	vg_free(srv->admin.secret);
	review_close(srv->rv);
	bscan_close(srv->bs);
	store_close(srv->st);
	return status;
}

/* The command line ---------------------------------------------------- */

static void
serve_usage(FILE *f)
{
	fprintf(f,
	    "usage: vigil serve [--config FILE] [--listen ADDR:PORT] "
	    "[--state-dir DIR]\n"
	    "                   [--buckets DIR] [--rules PATH] [--workers N]\n"
	    "                   [--check-config] [--print-defaults]\n");
}

int
cli_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "buckets", required_argument, NULL, 'b' },
		{ "rules", required_argument, NULL, 'r' },
		{ "workers", required_argument, NULL, 'w' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "print-defaults", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* Flags are applied after the file, in the table's key names. */
	const char		*keys[6] = { NULL }, *vals[6] = { NULL };
	const char		*config = NULL;
	struct vg_config	*cfg;
	struct eng_ruleset	*rs;
	char			 err[512];
	int			 c, nset = 0, check = 0, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		const char *key = NULL;

		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'l':
			key = "listen";
			break;
		case 's':
			key = "state_dir";
			break;
		case 'b':
			key = "buckets";
			break;
		case 'r':
			key = "rules";
			break;
		case 'w':
			key = "workers";
			break;
		case 'C':
			check = 1;
			break;
		case 'D':
			vg_config_write(stdout, NULL);
			return 0;
		case 'h':
			serve_usage(stdout);
			return 0;
		default:
			serve_usage(stderr);
			return VIGIL_EXIT_USAGE;
		}
		if (key != NULL && nset < 6) {
			keys[nset] = key;
			vals[nset++] = optarg;
		}
	}
	if (optind != argc) {
		serve_usage(stderr);
		return VIGIL_EXIT_USAGE;
	}
	if ((cfg = vg_config_new()) == NULL) {
		fprintf(stderr, "vigil: out of memory\n");
		return VIGIL_EXIT_USAGE;
	}
	status = VIGIL_EXIT_USAGE;
	if (config != NULL && vg_config_load(cfg, config, err, sizeof(err)) !=
	    VIGIL_OK) {
		fprintf(stderr, "vigil: %s\n", err);
		goto out;
	}
	for (int i = 0; i < nset; i++)
		if (vg_config_set(cfg, keys[i], vals[i], err, sizeof(err)) !=
		    VIGIL_OK) {
			fprintf(stderr, "vigil: --%s\n", err);
			goto out;
		}
	if (vg_config_finish(cfg, err, sizeof(err)) != VIGIL_OK) {
		fprintf(stderr, "vigil: %s%s%s\n", config ? config : "",
		    config ? ": " : "", err);
		goto out;
	}
	if (check) {
		if ((rs = cli_load_rules(cfg->rules, ENG_MODE_AUTO)) == NULL)
			goto out;
		eng_ruleset_unref(rs);
		vg_config_write(stdout, cfg);
		fprintf(stderr, "vigil: configuration ok\n");
		status = 0;
		goto out;
	}
	vg_log_init("vigil", (enum vg_log_level)cfg->log_level, 1);
	status = srv_main(cfg);
out:
	vg_config_free(cfg);
	return status;
}
