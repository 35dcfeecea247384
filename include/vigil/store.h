/*
 * store.h: vigil's durable state: the event inbox and every verdict.
 *
 * SQLite in WAL mode at STATE_DIR/vigil.db, one writer connection owned by
 * the store and used by one thread at a time (the server's store writer
 * thread, and the loop under the same lock); all SQL sits in one table
 * of prepared statements; the schema version is PRAGMA user_version and
 * migrations run on open.  store.c is the interface and forwards every
 * call to a backend chosen by name (daemon/store/store_int.h); sqlite.c
 * is the one backend, so a PostgreSQL one can sit beside it later.
 */
#ifndef VIGIL_STORE_H
#define VIGIL_STORE_H

#include <stdint.h>

#include "vigil/vigil.h"

struct store;

/* Opens (creating, migrating) dir/vigil.db.  err gets SQLite's words. */
enum vigil_err	store_open(const char *dir, struct store **,
		    char *err, size_t errlen);
void		store_close(struct store *);
/*
 * Transactions for group commits: everything between is one fsync.  One
 * begun with store_begin() is durable when store_commit() returns
 * (synchronous=FULL: it survives power loss).  One begun with
 * store_begin_lazy() survives a crash of the daemon (kill -9) at once,
 * and loss of the machine from the next durable commit on.
 */
enum vigil_err	store_begin(struct store *);
enum vigil_err	store_begin_lazy(struct store *);
enum vigil_err	store_commit(struct store *);
void		store_rollback(struct store *);
/* VIGIL_OK if a write transaction can start right now (readyz). */
enum vigil_err	store_ping(struct store *);

/* Inbox --------------------------------------------------------------- */

enum store_inbox_state {
	STORE_PENDING = 0, STORE_RUNNING = 1, STORE_DONE = 2,
	STORE_CANCELLED = 3,
};

struct store_item {
	int64_t		 id;
	char		*bucket, *key, *dedup, *etag, *version_id;
	char		*sequencer, *account, *source;
	uint64_t	 size;
	double		 mtime;		/* bucket scan items; 0 otherwise */
	int		 attempts;	/* scans started, counted before each */
	double		 received;	/* unix time */
};

void		store_item_free(struct store_item *);
/* Adds an event unless its (bucket, key, dedup) is known: *added 0/1. */
enum vigil_err	store_inbox_add(struct store *, const struct store_item *,
		    int *added);
/* Cancels pending work for an object; *n rows cancelled. */
enum vigil_err	store_inbox_cancel(struct store *, const char *bucket,
		    const char *key, int *n);
/*
 * Takes up to max pending items, oldest first, marking them running and
 * counting the attempt, committed (lazily) before return so a crash
 * during the scan is remembered.  Called inside an open transaction, the
 * claim joins it instead: the caller commits before scanning, and on an
 * error return rolls back.  With suspects 0, only items never started; with 1,
 * only items that were in the scanner when the daemon died (attempts >
 * 0), which the caller must run alone so a second crash blames the right
 * one.  *items is a new array of *n; free each item with store_item_free()
 * and the array with vg_free().
 */
enum vigil_err	store_inbox_claim(struct store *, int suspects, size_t max,
		    struct store_item **items, size_t *n);
/*
 * At start: items left running by a crash go back to pending, except
 * those already started max_attempts times, which are returned (marked
 * done) for an "error" verdict.
 */
enum vigil_err	store_inbox_recover(struct store *, int max_attempts,
		    struct store_item **poison, size_t *n);
/* Marks an item done, or back to pending with its attempt uncounted. */
enum vigil_err	store_inbox_finish(struct store *, int64_t id);
enum vigil_err	store_inbox_release(struct store *, int64_t id);
/* Pending items and the age in seconds of the oldest (0 if none). */
enum vigil_err	store_inbox_stats(struct store *, int64_t *pending,
		    double *oldest_age);

/* Verdicts ------------------------------------------------------------ */

struct store_verdict {
	char		*bucket, *key;	/* NULL for POST /v1/scan bodies */
	char		*name, *account, *etag, *version_id;
	uint64_t	 size;
	char		*sha256, *ruleset, *verdict;
	char		*result;	/* eng_result_json() */
	double		 received, scanned;	/* unix time */
};

/* Stores one verdict; every verdict is kept. */
enum vigil_err	store_verdict_put(struct store *, const struct store_verdict *);
/* The latest verdict of bucket/key: new, free with store_verdict_free(). */
enum vigil_err	store_verdict_get(struct store *, const char *bucket,
		    const char *key, struct store_verdict **);
void		store_verdict_free(struct store_verdict *);

/* Verdict cache: read-only connections for worker threads ----------- */

struct store_reader;

/* A read-only connection to dir/vigil.db for one thread (WAL readers do
 * not block the writer).  Open it after store_open() created the file. */
enum vigil_err	store_reader_open(const char *dir, struct store_reader **);
void		store_reader_close(struct store_reader *);
/*
 * The result JSON of the latest clean or flagged verdict for content
 * sha256 under ruleset version, as a new string (vg_free), or
 * VIGIL_E_NOTFOUND.  Unscannable and error verdicts are not reused: they
 * may depend on limits or on the moment.
 */
enum vigil_err	store_reader_cached(struct store_reader *, const char *sha256,
		    const char *ruleset, char **result);

#endif /* VIGIL_STORE_H */
