/*
 * bscan.h: full-bucket scan jobs and what each bucket object looked like
 * when it was last judged, in the store's SQLite database.
 *
 * A job lists its bucket page by page; each page's keys become items in
 * the same transaction that moves the listing cursor, so a restarted
 * daemon resumes the listing where the last commit left it and finds
 * every listed key still waiting or already judged.  An item is deleted
 * in the transaction that stores its verdict, so nothing is judged twice.
 * Calls follow the rules of store.h (one thread at a time, inside the
 * caller's transaction where there is one).
 */
#ifndef VIGIL_BSCAN_H
#define VIGIL_BSCAN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vigil/vigil.h"

struct store;
struct source_listing;
struct bscan;

/* A running job as the loop tracks it. */
struct bscan_job {
	int64_t		 id;
	char		*bucket, *prefix, *mode, *cursor, *token;
	int		 listed_all;
	uint64_t	 max_objects_per_s, max_bytes_per_s;
};

/* An item claimed for scanning. */
struct bscan_item {
	int64_t		 id, job;
	char		*bucket, *key, *etag;
	uint64_t	 size;
	double		 mtime;
	char		*account;	/* from the object's last verdict */
	char		*cached;	/* a verdict under this ruleset, or NULL */
	char		 sha256[65];	/* with cached */
};

enum vigil_err	bscan_open(struct store *, struct bscan **, char *err,
		    size_t errlen);
void		bscan_close(struct bscan *);

/* Jobs ----------------------------------------------------------------- */

enum vigil_err	bscan_create(struct bscan *, const char *bucket,
		    const char *prefix, const char *mode, const char *actor,
		    uint64_t max_objects_per_s, uint64_t max_bytes_per_s,
		    double now, int64_t *id);
/* Running jobs, oldest first: *jobs is new (bscan_jobs_free). */
enum vigil_err	bscan_running(struct bscan *, struct bscan_job **jobs,
		    size_t *n);
void		bscan_jobs_free(struct bscan_job *, size_t n);
/* Frees one job's strings (not the struct). */
void		bscan_job_clear(struct bscan_job *);
/* VIGIL_E_NOTFOUND, or VIGIL_E_LIMIT if it is not running. */
enum vigil_err	bscan_cancel(struct bscan *, int64_t id, double now);
/* The wire form (docs): one job, or every job newest first. */
enum vigil_err	bscan_get(struct bscan *, int64_t id, double now,
		    json_t **out);
enum vigil_err	bscan_list(struct bscan *, size_t limit, double now,
		    json_t **out);

/*
 * Records a listed page: items for its keys (ignoring keys already
 * listed), the cursor (last key, and the backend's token) and whether the
 * listing is complete.
 */
enum vigil_err	bscan_page(struct bscan *, int64_t job,
		    const struct source_listing *);
/*
 * Claims up to max pending items of job for scanning.  In incremental
 * mode an item whose eTag, size and mtime match the object's last
 * verdict under ruleset is done at once (skipped, content never read);
 * one whose content (by its last sha256) already has a verdict under
 * ruleset comes back with it in cached.  *items new (bscan_items_free);
 * *skipped counts the items finished as skipped.
 */
enum vigil_err	bscan_claim(struct bscan *, int64_t job, size_t max,
		    const char *ruleset, struct bscan_item **items,
		    size_t *n, size_t *skipped);
void		bscan_items_free(struct bscan_item *, size_t n);
/* An item's verdict is stored: counts it and deletes the item. */
enum vigil_err	bscan_finish(struct bscan *, int64_t item, int64_t job,
		    const char *verdict, uint64_t bytes, int cached,
		    double seconds);
/* Back to pending (its scan did not complete). */
enum vigil_err	bscan_release(struct bscan *, int64_t item);
/* At start: items left running go back to pending. */
enum vigil_err	bscan_recover(struct bscan *);
/* Marks job done if listed completely and nothing waits; *done 0/1. */
enum vigil_err	bscan_maybe_done(struct bscan *, int64_t job, double now,
		    int *done);
/* Pending and running items of job. */
enum vigil_err	bscan_outstanding(struct bscan *, int64_t job, int64_t *n);
enum vigil_err	bscan_fail(struct bscan *, int64_t job, const char *error,
		    double now);

/* Objects -------------------------------------------------------------- */

enum vigil_err	bscan_object_put(struct bscan *, const char *bucket,
		    const char *key, const char *etag, uint64_t size,
		    double mtime, const char *sha256, const char *ruleset,
		    const char *verdict, const char *account, double now);

/* Quarantine ----------------------------------------------------------- */

/* One action on one object: state pending, applied, undone or failed. */
struct bscan_q {
	char		*bucket, *key, *action, *memo, *qbucket;
};

enum vigil_err	bscan_q_put(struct bscan *, const char *bucket,
		    const char *key, const char *action, const char *state,
		    const char *memo, const char *qbucket, const char *error,
		    double now);
/* Whether bucket/key was moved away by quarantine (pending or applied). */
int		bscan_q_moved(struct bscan *, const char *bucket,
		    const char *key);
/* Actions recorded as pending (not yet done: a restart redoes them). */
enum vigil_err	bscan_q_pending(struct bscan *, struct bscan_q **out,
		    size_t *n);
/* Actions applied to the objects of review item's findings. */
enum vigil_err	bscan_q_for_review(struct bscan *, int64_t review,
		    struct bscan_q **out, size_t *n);
void		bscan_q_free(struct bscan_q *, size_t n);

/* Schedules ------------------------------------------------------------ */

/* When bucket's schedule last ran (0 if never: VIGIL_E_NOTFOUND). */
enum vigil_err	bscan_schedule_get(struct bscan *, const char *bucket,
		    double *last);
enum vigil_err	bscan_schedule_set(struct bscan *, const char *bucket,
		    double last);

#endif /* VIGIL_BSCAN_H */
