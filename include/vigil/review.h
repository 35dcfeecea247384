/*
 * review.h: accounts, findings, the moderator review queue, the feed of
 * account and review events, and the audit log (docs/review-api.md).
 *
 * Everything lives in the store's SQLite database and every call runs on
 * the store's writer connection, so a caller holds the store the way it
 * does for store_*() calls.  Calls that change state join the caller's
 * open transaction when there is one (the server's writer cycle), and
 * otherwise run in one of their own.  Reads return jansson values in the
 * wire form of the HTTP API, which the server sends as they are.
 *
 * Policy: a finding weighs what its severity weighs (per-clause overrides
 * allowed); an account's score is the sum, over its distinct objects with
 * active findings younger than the window, of each object's heaviest
 * finding.  Reaching the threshold, or any critical finding, moves an
 * active or cleared account to flagged and opens one review item for it;
 * later findings join the open item.  A finding of an auto-suspend clause
 * suspends the account at once.
 */
#ifndef VIGIL_REVIEW_H
#define VIGIL_REVIEW_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vigil/vigil.h"

struct store;
struct vg_config;
struct review;

/* One match of a verdict, as the engine reported it. */
struct review_match {
	const char	*rule;
	const char	*clause;
	int		 severity;	/* enum eng_severity */
	json_t		*path;		/* array of strings (borrowed) */
	uint64_t	 offset;
	/* Bytes around the match, or NULL; the match is [mark, mark+marklen). */
	const uint8_t	*excerpt;
	size_t		 excerpt_len, mark, marklen;
};

/* A verdict to account for. */
struct review_verdict {
	const char	*bucket, *key;	/* NULL for a body scan */
	const char	*object;	/* "bucket/key" or the scan's name */
	const char	*account;	/* NULL: no account, nothing counted */
	const char	*sha256, *ruleset;
	const char	*verdict;	/* clean, flagged, unscannable, error */
	const struct review_match *m;
	size_t		 nm;
	const char	*actor;		/* "hook", "bucket-scan", "scan" */
};

/* Opens over st (the SQLite backend only); cfg is borrowed for life. */
enum vigil_err	review_open(struct store *, const struct vg_config *,
		    struct review **, char *err, size_t errlen);
void		review_close(struct review *);

/* The severity's suggestion: "block", "review" or "pass". */
const char	*review_suggestion(int severity);

/*
 * Records a verdict: findings of the object (a rescan keeps identical
 * findings, supersedes vanished ones, never counts twice and never
 * revives a dismissed one), the account's score and state, its review
 * item, feed events and an audit record.  Unscannable and error verdicts
 * leave the object's findings as they were.
 */
enum vigil_err	review_verdict(struct review *, const struct review_verdict *,
		    double now);
/* An object was deleted: its findings stop counting. */
enum vigil_err	review_removed(struct review *, const char *bucket,
		    const char *key, double now);

/*
 * Moderator actions.  VIGIL_E_NOTFOUND: no such item or account;
 * VIGIL_E_LIMIT: a conflict (claimed by another, already decided, not
 * holding the claim, account not suspended), with why set; VIGIL_E_INVAL:
 * a bad decision name.  On VIGIL_OK *item is the item after the action.
 */
enum vigil_err	review_claim(struct review *, int64_t id, const char *mod,
		    double now, json_t **item, char *why, size_t whylen);
enum vigil_err	review_release(struct review *, int64_t id, const char *mod,
		    double now, json_t **item, char *why, size_t whylen);
enum vigil_err	review_decide(struct review *, int64_t id, const char *mod,
		    const char *decision, const char *reason, double now,
		    json_t **item, char *why, size_t whylen);
enum vigil_err	review_reinstate(struct review *, const char *account,
		    const char *mod, const char *reason, double now,
		    json_t **acct, char *why, size_t whylen);

/*
 * Reads.  status: pending, claimed, escalated, decided, open or all;
 * after: a cursor from a previous page's "next", or NULL.
 */
enum vigil_err	review_list(struct review *, const char *status,
		    const char *after, size_t limit, double now, json_t **out);
enum vigil_err	review_item(struct review *, int64_t id, double now,
		    json_t **out);
enum vigil_err	review_account(struct review *, const char *id, double now,
		    json_t **out);
enum vigil_err	review_accounts(struct review *, const char *state,
		    const char *after, size_t limit, double now, json_t **out);
/* Feed events with id > after, at most limit; *last: the newest id. */
enum vigil_err	review_feed(struct review *, int64_t after, size_t limit,
		    json_t **out, int64_t *last);
int64_t		review_feed_last(struct review *);
/* One event by id, in the wire form, or VIGIL_E_NOTFOUND. */
enum vigil_err	review_feed_event(struct review *, int64_t id, char **json);

/* Audit ---------------------------------------------------------------- */

/* Records an action; detail may be NULL (borrowed). */
enum vigil_err	review_audit(struct review *, const char *actor,
		    const char *action, const char *subject,
		    const char *account, json_t *detail, double now);
enum vigil_err	review_audit_query(struct review *, const char *subject,
		    int64_t after, size_t limit, json_t **out);
/* Deletes audit records and feed events older than the retention. */
enum vigil_err	review_purge(struct review *, double now, int64_t *n);
/*
 * Where a verdict purge has got to: records are taken in (scanned, id)
 * order, so each batch starts where the last one ended.  Start from
 * REVIEW_PURGE_START.
 */
struct review_purge_pos {
	double		scanned;
	int64_t		id;
};
#define REVIEW_PURGE_START	((struct review_purge_pos){ -1e300, 0 })
/*
 * Deletes up to batch verdict records older than verdict_retention_days
 * past *pos, keeping each bucket object's latest; *n gets how many went
 * and *pos the last one deleted.  Each batch reads only old records.
 */
enum vigil_err	review_purge_verdicts(struct review *, double now,
		    int64_t batch, struct review_purge_pos *pos, int64_t *n);

/* Webhook delivery positions ------------------------------------------ */

/* VIGIL_E_NOTFOUND for a receiver never seen. */
enum vigil_err	review_hook_get(struct review *, const char *url,
		    int64_t *delivered);
enum vigil_err	review_hook_set(struct review *, const char *url,
		    int64_t delivered, int failures, const char *error,
		    double now);

#endif /* VIGIL_REVIEW_H */
