/*
 * srv_int.h: what serve.c shares with the rest of daemon/server/ (the
 * review API, webhooks, the moderator page).  serve.c owns the loop, the
 * store lock and authentication; the others reach them through these.
 */
#ifndef VIGIL_SERVER_SRV_INT_H
#define VIGIL_SERVER_SRV_INT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

#include "vigil/config.h"

struct srv;
struct review;

/* Replies (serve.c).  reply_json takes the reference to j. */
void		reply_raw(struct evhttp_request *, int code, const char *type,
		    const char *body, size_t len);
void		reply_json(struct evhttp_request *, int code, json_t *j);
void		reply_error(struct evhttp_request *, int code,
		    const char *msg);

/*
 * Whether the request carries a token with a role in mask (bits 1 <<
 * enum vg_role); if not it has been answered 401 or 403.  *name is the
 * moderator a moderator token names, or NULL.
 */
int		srv_who(struct srv *, struct evhttp_request *, int mask,
		    enum vg_role *role, const char **name);
const struct vg_config *srv_config(struct srv *);
struct event_base *srv_base(struct srv *);
double		srv_now(void);
/* The review state with the store locked, and the unlock. */
struct review	*srv_review_hold(struct srv *);
void		 srv_review_drop(struct srv *);
/* After a change that may have added feed events (store not held). */
void		 srv_feed_check(struct srv *);

/* Bucket scans (serve.c) ----------------------------------------------- */

struct bscan;

/*
 * Starts a job: VIGIL_E_INVAL (bad bucket or mode) or VIGIL_E_LIMIT (one
 * runs for that bucket and prefix: *id names it) with why set.
 */
enum vigil_err	srv_bscan_start(struct srv *, const char *bucket,
		    const char *prefix, const char *mode, uint64_t mops,
		    uint64_t mbps, const char *actor, int64_t *id, char *why,
		    size_t whylen);
/*
 * Holds POST req of a job just started until its first listing says
 * whether the bucket exists (then 201, or 404); 0 when it cannot wait
 * and the caller answers now.
 */
int		srv_bscan_hold(struct srv *, int64_t id,
		    struct evhttp_request *req);
/* VIGIL_E_NOTFOUND, or VIGIL_E_LIMIT: not running. */
enum vigil_err	srv_bscan_cancel(struct srv *, int64_t id, const char *actor);
/* Undoes the quarantine actions on review item's objects (a dismissal). */
void		srv_quarantine_undo(struct srv *, int64_t review,
		    const char *actor);
/* The bucket scan store with the store locked; srv_review_drop() after. */
struct bscan	*srv_bscan(struct srv *);

/* api.c: accounts, review, feed, audit, /ui/ --------------------------- */

struct api_feed;

/* Handles req if path is one of api.c's; 0 if not (not answered). */
int		api_route(struct srv *, struct api_feed *,
		    struct evhttp_request *, const char *path);
struct api_feed	*api_feed_new(struct srv *);
/* New feed events up to last: answer the long-polls waiting for them. */
void		api_feed_notify(struct api_feed *, int64_t last);
/* Answers every waiting long-poll and frees. */
void		api_feed_free(struct api_feed *);

/* webhook.c: pushes feed events to the configured receivers ----------- */

struct hooks;

struct hooks	*hooks_new(struct srv *);
void		 hooks_notify(struct hooks *, int64_t last);
/* Stops deliveries in flight (they are retried after a restart). */
void		 hooks_free(struct hooks *);

/* The embedded moderator page (ui_assets.c, generated) ----------------- */

struct ui_asset {
	const char		*name;		/* "index.html" */
	const char		*type;		/* Content-Type */
	const unsigned char	*data;
	size_t			 len;
};

extern const struct ui_asset	ui_assets[];
extern const size_t		ui_nassets;

#endif /* VIGIL_SERVER_SRV_INT_H */
