/*
 * bscan.c: bucket scan jobs, their items and the objects table, on the
 * SQLite store's writer connection (include/vigil/bscan.h).
 *
 * DESIGN
 * A job is a row of counters and a listing cursor; its items are the
 * listed keys not judged yet (0 pending, 1 running).  The listing cursor
 * and the items of a page move in one transaction; an item leaves in the
 * transaction that stores its verdict.  So after kill -9 every key is
 * either judged (its verdict is committed and its item gone), or an item
 * (back to pending on start), or after the cursor (listed again): none is
 * lost, none is judged twice.
 *
 * The objects table keeps, per bucket object, what its last verdict saw:
 * eTag, size, mtime, content sha256 and the ruleset version.  Incremental
 * mode compares the listing's eTag, size and mtime with it and skips an
 * unchanged object judged under the current rules without opening it; an
 * unchanged object judged under older rules whose content already has a
 * verdict under the current ones (verdicts by sha256 and ruleset) reuses
 * that verdict, again without reading the content.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "vigil/bscan.h"
#include "vigil/core.h"
#include "vigil/sources.h"
#include "vigil/store.h"

#include "sqlite_int.h"
#include "sqlq.h"

enum {
	B_CREATE, B_RUNNING, B_CANCEL, B_CANCEL_ITEMS, B_ITEM_ADD, B_CURSOR,
	B_PENDING, B_RUN, B_CACHE, B_SKIP, B_FINISH, B_COUNT,
	B_RELEASE, B_RECOVER, B_OUTSTANDING, B_DONE, B_FAIL, B_OBJ_PUT,
	B_SCHED_GET, B_SCHED_SET, B_STATE, B_Q_PUT, B_Q_MOVED, B_Q_REVIEW,
	B_Q_PENDING,
	B__COUNT
};

static const char *const sql[B__COUNT] = {
	[B_CREATE] = "INSERT INTO bscan_jobs (bucket, prefix, mode, state, "
	    "actor, created, max_objects_per_s, max_bytes_per_s) VALUES "
	    "(?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7)",
	[B_RUNNING] = "SELECT id, bucket, prefix, mode, cursor, token, "
	    "listed_all, max_objects_per_s, max_bytes_per_s FROM bscan_jobs "
	    "WHERE state = 'running' ORDER BY id",
	[B_CANCEL] = "UPDATE bscan_jobs SET state = 'cancelled', finished = "
	    "?2 WHERE id = ?1 AND state = 'running'",
	[B_CANCEL_ITEMS] = "DELETE FROM bscan_items WHERE job = ?1 AND "
	    "state = 0",
	[B_ITEM_ADD] = "INSERT OR IGNORE INTO bscan_items (job, key, etag, "
	    "size, mtime) VALUES (?1, ?2, ?3, ?4, ?5)",
	[B_CURSOR] = "UPDATE bscan_jobs SET cursor = coalesce(?2, cursor), "
	    "token = ?3, "
	    "listed_all = ?4, listed = listed + ?5 WHERE id = ?1",
	[B_PENDING] = "SELECT i.id, i.key, i.etag, i.size, i.mtime, o.etag, "
	    "o.size, o.mtime, o.sha256, o.ruleset, o.account, j.mode, "
	    "j.bucket FROM bscan_items i JOIN bscan_jobs j ON j.id = i.job "
	    "LEFT JOIN objects o ON o.bucket = j.bucket AND o.key = i.key "
	    "WHERE i.job = ?1 AND i.state = 0 ORDER BY i.id LIMIT ?2",
	[B_RUN] = "UPDATE bscan_items SET state = 1 WHERE id = ?1",
	[B_CACHE] = "SELECT result FROM verdicts WHERE sha256 = ?1 AND "
	    "ruleset = ?2 AND verdict IN ('clean', 'flagged') ORDER BY id "
	    "DESC LIMIT 1",
	[B_SKIP] = "UPDATE bscan_jobs SET skipped = skipped + ?2 WHERE "
	    "id = ?1",
	[B_FINISH] = "DELETE FROM bscan_items WHERE id = ?1",
	[B_COUNT] = "UPDATE bscan_jobs SET scanned = scanned + 1, "
	    "cached = cached + ?2, flagged = flagged + ?3, "
	    "unscannable = unscannable + ?4, errors = errors + ?5, "
	    "bytes = bytes + ?6, run_seconds = run_seconds + ?7 WHERE id = ?1",
	[B_RELEASE] = "UPDATE bscan_items SET state = 0 WHERE id = ?1",
	[B_RECOVER] = "UPDATE bscan_items SET state = 0 WHERE state = 1",
	[B_OUTSTANDING] = "SELECT count(*) FROM bscan_items WHERE job = ?1",
	[B_DONE] = "UPDATE bscan_jobs SET state = 'done', finished = ?2 "
	    "WHERE id = ?1 AND state = 'running' AND listed_all = 1",
	[B_FAIL] = "UPDATE bscan_jobs SET state = 'failed', error = ?2, "
	    "finished = ?3 WHERE id = ?1 AND state = 'running'",
	[B_OBJ_PUT] = "INSERT INTO objects (bucket, key, etag, size, mtime, "
	    "sha256, ruleset, verdict, account, scanned) VALUES (?1, ?2, ?3, "
	    "?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (bucket, key) DO UPDATE "
	    "SET etag = ?3, size = ?4, mtime = ?5, sha256 = ?6, ruleset = ?7, "
	    "verdict = ?8, account = coalesce(?9, account), scanned = ?10",
	[B_SCHED_GET] = "SELECT last_run FROM schedules WHERE bucket = ?1",
	[B_SCHED_SET] = "INSERT INTO schedules (bucket, last_run) VALUES "
	    "(?1, ?2) ON CONFLICT (bucket) DO UPDATE SET last_run = ?2",
	[B_STATE] = "SELECT state FROM bscan_jobs WHERE id = ?1",
	[B_Q_PUT] = "INSERT INTO quarantine (bucket, key, action, state, memo, "
	    "qbucket, error, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON "
	    "CONFLICT (bucket, key, action) DO UPDATE SET state = ?4, "
	    "memo = coalesce(?5, memo), qbucket = coalesce(?6, qbucket), "
	    "error = ?7, at = ?8",
	[B_Q_MOVED] = "SELECT 1 FROM quarantine WHERE bucket = ?1 AND "
	    "key = ?2 AND action = 'move' AND state IN ('pending', 'applied')",
	[B_Q_PENDING] = "SELECT bucket, key, action, memo, qbucket FROM "
	    "quarantine WHERE state = 'pending' ORDER BY bucket, key",
	[B_Q_REVIEW] = "SELECT q.bucket, q.key, q.action, q.memo, q.qbucket "
	    "FROM quarantine q WHERE q.state = 'applied' AND EXISTS (SELECT 1 "
	    "FROM findings f WHERE f.review = ?1 AND f.bucket = q.bucket AND "
	    "f.key = q.key) ORDER BY q.bucket, q.key, q.action",
};

struct bscan {
	struct store	*st;
	sqlite3		*db;
	struct sqlq	 sq;
};

static sqlite3_stmt *
q(struct bscan *b, int which)
{
	return sqlq_get(&b->sq, which);
}

static enum vigil_err
fail(struct bscan *b, const char *what)
{
	return sqlq_fail(&b->sq, what);
}

static enum vigil_err
run(struct bscan *b, int which)
{
	return sqlq_run(&b->sq, which);
}

#define bind_str	sqlq_bind_str
#define col		sqlq_col
#define col_dup		sqlq_col_dup

enum vigil_err
bscan_open(struct store *st, struct bscan **out, char *err, size_t errlen)
{
	struct bscan	*b;

	*out = NULL;
	if (store_sqlite_db(st) == NULL) {
		snprintf(err, errlen, "bucket scans need the SQLite store");
		return VIGIL_E_UNSUPPORTED;
	}
	if ((b = vg_calloc(1, sizeof(*b))) == NULL)
		return VIGIL_E_NOMEM;
	b->st = st;
	b->db = store_sqlite_db(st);
	if (sqlq_open(&b->sq, b->db, sql, B__COUNT, "bucket scans", err,
	    errlen) != VIGIL_OK) {
		vg_free(b);
		return VIGIL_E_IO;
	}
	*out = b;
	return VIGIL_OK;
}

void
bscan_close(struct bscan *b)
{
	if (b == NULL)
		return;
	sqlq_close(&b->sq);
	vg_free(b);
}

/* Jobs ----------------------------------------------------------------- */

enum vigil_err
bscan_create(struct bscan *b, const char *bucket, const char *prefix,
    const char *mode, const char *actor, uint64_t mops, uint64_t mbps,
    double now, int64_t *id)
{
	sqlite3_stmt	*s = q(b, B_CREATE);
	enum vigil_err	 rc;

	bind_str(s, 1, bucket);
	bind_str(s, 2, prefix != NULL ? prefix : "");
	bind_str(s, 3, mode);
	bind_str(s, 4, actor);
	sqlite3_bind_double(s, 5, now);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)mops);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)mbps);
	if ((rc = run(b, B_CREATE)) == VIGIL_OK)
		*id = sqlite3_last_insert_rowid(b->db);
	return rc;
}

void
bscan_job_clear(struct bscan_job *j)
{
	vg_free(j->bucket);
	vg_free(j->prefix);
	vg_free(j->mode);
	vg_free(j->cursor);
	vg_free(j->token);
	j->bucket = j->prefix = j->mode = j->cursor = j->token = NULL;
}

void
bscan_jobs_free(struct bscan_job *j, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bscan_job_clear(&j[i]);
	vg_free(j);
}

enum vigil_err
bscan_running(struct bscan *b, struct bscan_job **out, size_t *np)
{
	sqlite3_stmt	*s = q(b, B_RUNNING);
	struct bscan_job *j = NULL, *nj;
	size_t		 n = 0;
	int		 rc;

	*out = NULL;
	*np = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nj = vg_reallocarray(j, n + 1, sizeof(*j))) == NULL)
			goto nomem;
		j = nj;
		memset(&j[n], 0, sizeof(j[n]));
		j[n].id = sqlite3_column_int64(s, 0);
		j[n].bucket = col_dup(s, 1);
		j[n].prefix = col_dup(s, 2);
		j[n].mode = col_dup(s, 3);
		j[n].cursor = col_dup(s, 4);
		j[n].token = col_dup(s, 5);
		j[n].listed_all = sqlite3_column_int(s, 6);
		j[n].max_objects_per_s = (uint64_t)sqlite3_column_int64(s, 7);
		j[n].max_bytes_per_s = (uint64_t)sqlite3_column_int64(s, 8);
		n++;
		if (j[n - 1].bucket == NULL || j[n - 1].mode == NULL ||
		    j[n - 1].prefix == NULL)
			goto nomem;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		bscan_jobs_free(j, n);
		return fail(b, "running jobs");
	}
	*out = j;
	*np = n;
	return VIGIL_OK;
nomem:
	sqlite3_reset(s);
	bscan_jobs_free(j, n);
	return VIGIL_E_NOMEM;
}

enum vigil_err
bscan_cancel(struct bscan *b, int64_t id, double now)
{
	sqlite3_stmt	*s = q(b, B_STATE);
	int		 rc, running;
	enum vigil_err	 err;

	sqlite3_bind_int64(s, 1, id);
	if ((rc = sqlite3_step(s)) == SQLITE_DONE) {
		sqlite3_reset(s);
		return VIGIL_E_NOTFOUND;
	}
	running = rc == SQLITE_ROW && strcmp(col(s, 0), "running") == 0;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return fail(b, "job state");
	if (!running)
		return VIGIL_E_LIMIT;
	s = q(b, B_CANCEL);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_double(s, 2, now);
	if ((err = run(b, B_CANCEL)) != VIGIL_OK)
		return err;
	s = q(b, B_CANCEL_ITEMS);
	sqlite3_bind_int64(s, 1, id);
	return run(b, B_CANCEL_ITEMS);
}

static json_t *
iso(double t)
{
	char	buf[40];

	if (t <= 0)
		return json_null();
	vg_iso_time(t, 0, buf, sizeof(buf));
	return json_string(buf);
}

#define JOB_COLS "id, bucket, prefix, mode, state, actor, created, " \
	"finished, listed_all, listed, scanned, skipped, cached, flagged, " \
	"unscannable, errors, bytes, error, max_objects_per_s, " \
	"max_bytes_per_s, (SELECT count(*) FROM bscan_items i WHERE " \
	"i.job = bscan_jobs.id)"

static json_t *
job_json(sqlite3_stmt *s, double now)
{
	double		 created = sqlite3_column_double(s, 6);
	double		 fin = sqlite3_column_double(s, 7);
	double		 el = (fin > 0 ? fin : now) - created;
	int64_t		 listed = sqlite3_column_int64(s, 9);
	int64_t		 scanned = sqlite3_column_int64(s, 10);
	int64_t		 skipped = sqlite3_column_int64(s, 11);
	int64_t		 bytes = sqlite3_column_int64(s, 16);
	int64_t		 left = sqlite3_column_int64(s, 20);
	int		 all = sqlite3_column_int(s, 8);
	double		 rate = el > 0 ? (double)(scanned + skipped) / el : 0;
	json_t		*eta;

	if (strcmp(col(s, 4), "running") != 0)
		eta = json_integer(0);
	else if (!all || rate <= 0)
		eta = json_null();	/* unknown until listed or moving */
	else
		eta = json_real((double)left / rate);
	return json_pack("{sI ss ss ss ss so? so so sb sI sI sI sI sI sI sI "
	    "sI sI sf sf so so? sI sI}",
	    "id", (json_int_t)sqlite3_column_int64(s, 0),
	    "bucket", col(s, 1), "prefix", col(s, 2), "mode", col(s, 3),
	    "state", col(s, 4),
	    "actor", col(s, 5) ? json_string(col(s, 5)) : NULL,
	    "created", iso(created), "finished", iso(fin),
	    "listed_all", all,
	    "listed", (json_int_t)listed,
	    "scanned", (json_int_t)scanned,
	    "skipped", (json_int_t)skipped,
	    "cached", (json_int_t)sqlite3_column_int64(s, 12),
	    "flagged", (json_int_t)sqlite3_column_int64(s, 13),
	    "unscannable", (json_int_t)sqlite3_column_int64(s, 14),
	    "errors", (json_int_t)sqlite3_column_int64(s, 15),
	    "bytes", (json_int_t)bytes,
	    "remaining", (json_int_t)left,
	    "rate", rate, "bytes_per_s", el > 0 ? (double)bytes / el : 0.0,
	    "eta_seconds", eta,
	    "error", col(s, 17) ? json_string(col(s, 17)) : NULL,
	    "max_objects_per_s", (json_int_t)sqlite3_column_int64(s, 18),
	    "max_bytes_per_s", (json_int_t)sqlite3_column_int64(s, 19));
}

enum vigil_err
bscan_get(struct bscan *b, int64_t id, double now, json_t **out)
{
	sqlite3_stmt	*s;
	int		 rc;

	*out = NULL;
	if (sqlite3_prepare_v2(b->db, "SELECT " JOB_COLS " FROM bscan_jobs "
	    "WHERE id = ?1", -1, &s, NULL) != SQLITE_OK)
		return fail(b, "job");
	sqlite3_bind_int64(s, 1, id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*out = job_json(s, now);
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return VIGIL_E_NOTFOUND;
	if (rc != SQLITE_ROW)
		return fail(b, "job");
	return *out != NULL ? VIGIL_OK : VIGIL_E_NOMEM;
}

enum vigil_err
bscan_list(struct bscan *b, size_t limit, double now, json_t **out)
{
	sqlite3_stmt	*s;
	json_t		*a;
	int		 rc;

	*out = NULL;
	if (sqlite3_prepare_v2(b->db, "SELECT " JOB_COLS " FROM bscan_jobs "
	    "ORDER BY id DESC LIMIT ?1", -1, &s, NULL) != SQLITE_OK)
		return fail(b, "jobs");
	sqlite3_bind_int64(s, 1, (sqlite3_int64)limit);
	if ((a = json_array()) == NULL) {
		sqlite3_finalize(s);
		return VIGIL_E_NOMEM;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(a, job_json(s, now));
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return fail(b, "jobs");
	}
	*out = json_pack("{so}", "jobs", a);
	return *out != NULL ? VIGIL_OK : VIGIL_E_NOMEM;
}

/* Items ---------------------------------------------------------------- */

enum vigil_err
bscan_page(struct bscan *b, int64_t job, const struct source_listing *l)
{
	sqlite3_stmt	*s;
	enum vigil_err	 rc;
	int64_t		 added = 0;

	for (size_t i = 0; i < l->nkeys; i++) {
		s = q(b, B_ITEM_ADD);
		sqlite3_bind_int64(s, 1, job);
		bind_str(s, 2, l->keys[i]);
		bind_str(s, 3, l->etags != NULL ? l->etags[i] : NULL);
		sqlite3_bind_int64(s, 4, l->sizes != NULL ?
		    (sqlite3_int64)l->sizes[i] : 0);
		sqlite3_bind_double(s, 5, l->mtimes != NULL ? l->mtimes[i] :
		    0);
		if ((rc = run(b, B_ITEM_ADD)) != VIGIL_OK)
			return rc;
		added += sqlite3_changes(b->db);
	}
	s = q(b, B_CURSOR);
	sqlite3_bind_int64(s, 1, job);
	if (l->nkeys > 0)
		bind_str(s, 2, l->keys[l->nkeys - 1]);
	else
		sqlite3_bind_null(s, 2);
	bind_str(s, 3, l->token);
	sqlite3_bind_int(s, 4, !l->more);
	sqlite3_bind_int64(s, 5, added);
	return run(b, B_CURSOR);
}

void
bscan_items_free(struct bscan_item *it, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		vg_free(it[i].bucket);
		vg_free(it[i].key);
		vg_free(it[i].etag);
		vg_free(it[i].account);
		vg_free(it[i].cached);
	}
	vg_free(it);
}

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || *a == '\0')
		return b == NULL || *b == '\0';
	return b != NULL && strcmp(a, b) == 0;
}

/* A verdict of content sha256 under ruleset, or NULL. */
static char *
cached_verdict(struct bscan *b, const char *sha256, const char *ruleset)
{
	sqlite3_stmt	*s = q(b, B_CACHE);
	char		*r = NULL;

	bind_str(s, 1, sha256);
	bind_str(s, 2, ruleset);
	if (sqlite3_step(s) == SQLITE_ROW)
		r = col_dup(s, 0);
	sqlite3_reset(s);
	return r;
}

enum vigil_err
bscan_claim(struct bscan *b, int64_t job, size_t max, const char *ruleset,
    struct bscan_item **out, size_t *np, size_t *skipped)
{
	sqlite3_stmt		*s = q(b, B_PENDING), *u;
	struct bscan_item	*it = NULL, *x;
	size_t			 n = 0, skip = 0;
	int			 rc, incr, same;
	int64_t			*ids = NULL, *nids;
	size_t			 nids_n = 0;
	enum vigil_err		 err = VIGIL_OK;

	*out = NULL;
	*np = 0;
	*skipped = 0;
	sqlite3_bind_int64(s, 1, job);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nids = vg_reallocarray(ids, nids_n + 1,
		    sizeof(*ids))) == NULL) {
			err = VIGIL_E_NOMEM;
			break;
		}
		ids = nids;
		incr = strcmp(col(s, 11), "incremental") == 0;
		/* Same listing facts as the object's last verdict? */
		same = col(s, 9) != NULL && same_str(col(s, 2), col(s, 5)) &&
		    sqlite3_column_int64(s, 3) == sqlite3_column_int64(s, 6) &&
		    sqlite3_column_double(s, 4) == sqlite3_column_double(s, 7);
		if (incr && same && strcmp(col(s, 9), ruleset) == 0) {
			ids[nids_n++] = -sqlite3_column_int64(s, 0);
			skip++;
			continue;
		}
		if ((x = vg_reallocarray(it, n + 1, sizeof(*it))) == NULL) {
			err = VIGIL_E_NOMEM;
			break;
		}
		it = x;
		x = &it[n++];
		memset(x, 0, sizeof(*x));
		x->id = sqlite3_column_int64(s, 0);
		x->job = job;
		ids[nids_n++] = x->id;
		x->key = col_dup(s, 1);
		x->etag = col_dup(s, 2);
		x->size = (uint64_t)sqlite3_column_int64(s, 3);
		x->mtime = sqlite3_column_double(s, 4);
		x->account = col_dup(s, 10);
		x->bucket = col_dup(s, 12);
		if (x->key == NULL || x->bucket == NULL) {
			err = VIGIL_E_NOMEM;
			break;
		}
		if (incr && same && col(s, 8) != NULL &&
		    strlen(col(s, 8)) == 64) {
			memcpy(x->sha256, col(s, 8), 65);
			x->cached = cached_verdict(b, x->sha256, ruleset);
		}
	}
	sqlite3_reset(s);
	if (err == VIGIL_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = fail(b, "claim");
	/* Skipped items are done; the others run. */
	for (size_t i = 0; err == VIGIL_OK && i < nids_n; i++) {
		if (ids[i] < 0) {
			u = q(b, B_FINISH);
			sqlite3_bind_int64(u, 1, -ids[i]);
			err = run(b, B_FINISH);
		} else {
			u = q(b, B_RUN);
			sqlite3_bind_int64(u, 1, ids[i]);
			err = run(b, B_RUN);
		}
	}
	if (err == VIGIL_OK && skip > 0) {
		u = q(b, B_SKIP);
		sqlite3_bind_int64(u, 1, job);
		sqlite3_bind_int64(u, 2, (sqlite3_int64)skip);
		err = run(b, B_SKIP);
	}
	vg_free(ids);
	if (err != VIGIL_OK) {
		bscan_items_free(it, n);
		return err;
	}
	*out = it;
	*np = n;
	*skipped = skip;
	return VIGIL_OK;
}

enum vigil_err
bscan_finish(struct bscan *b, int64_t item, int64_t job, const char *verdict,
    uint64_t bytes, int cached, double seconds)
{
	sqlite3_stmt	*s = q(b, B_FINISH);
	enum vigil_err	 rc;

	sqlite3_bind_int64(s, 1, item);
	if ((rc = run(b, B_FINISH)) != VIGIL_OK)
		return rc;
	s = q(b, B_COUNT);
	sqlite3_bind_int64(s, 1, job);
	sqlite3_bind_int(s, 2, cached != 0);
	sqlite3_bind_int(s, 3, strcmp(verdict, "flagged") == 0);
	sqlite3_bind_int(s, 4, strcmp(verdict, "unscannable") == 0);
	sqlite3_bind_int(s, 5, strcmp(verdict, "error") == 0);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)bytes);
	sqlite3_bind_double(s, 7, seconds);
	return run(b, B_COUNT);
}

enum vigil_err
bscan_release(struct bscan *b, int64_t item)
{
	sqlite3_stmt	*s = q(b, B_RELEASE);

	sqlite3_bind_int64(s, 1, item);
	return run(b, B_RELEASE);
}

enum vigil_err
bscan_recover(struct bscan *b)
{
	(void)q(b, B_RECOVER);
	return run(b, B_RECOVER);
}

enum vigil_err
bscan_outstanding(struct bscan *b, int64_t job, int64_t *n)
{
	sqlite3_stmt	*s = q(b, B_OUTSTANDING);
	int		 rc;

	sqlite3_bind_int64(s, 1, job);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? VIGIL_OK : fail(b, "outstanding");
}

enum vigil_err
bscan_maybe_done(struct bscan *b, int64_t job, double now, int *done)
{
	sqlite3_stmt	*s;
	int64_t		 n;
	enum vigil_err	 rc;

	*done = 0;
	if ((rc = bscan_outstanding(b, job, &n)) != VIGIL_OK || n > 0)
		return rc;
	s = q(b, B_DONE);
	sqlite3_bind_int64(s, 1, job);
	sqlite3_bind_double(s, 2, now);
	if ((rc = run(b, B_DONE)) == VIGIL_OK)
		*done = sqlite3_changes(b->db) > 0;
	return rc;
}

enum vigil_err
bscan_fail(struct bscan *b, int64_t job, const char *error, double now)
{
	sqlite3_stmt	*s = q(b, B_FAIL);

	sqlite3_bind_int64(s, 1, job);
	bind_str(s, 2, error);
	sqlite3_bind_double(s, 3, now);
	return run(b, B_FAIL);
}

/* Objects and schedules -------------------------------------------------- */

enum vigil_err
bscan_object_put(struct bscan *b, const char *bucket, const char *key,
    const char *etag, uint64_t size, double mtime, const char *sha256,
    const char *ruleset, const char *verdict, const char *account,
    double now)
{
	sqlite3_stmt	*s = q(b, B_OBJ_PUT);

	bind_str(s, 1, bucket);
	bind_str(s, 2, key);
	bind_str(s, 3, etag != NULL && *etag ? etag : NULL);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)size);
	sqlite3_bind_double(s, 5, mtime);
	bind_str(s, 6, sha256);
	bind_str(s, 7, ruleset);
	bind_str(s, 8, verdict);
	bind_str(s, 9, account);
	sqlite3_bind_double(s, 10, now);
	return run(b, B_OBJ_PUT);
}

enum vigil_err
bscan_schedule_get(struct bscan *b, const char *bucket, double *last)
{
	sqlite3_stmt	*s = q(b, B_SCHED_GET);
	int		 rc;

	*last = 0;
	bind_str(s, 1, bucket);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*last = sqlite3_column_double(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return VIGIL_E_NOTFOUND;
	return rc == SQLITE_ROW ? VIGIL_OK : fail(b, "schedule");
}

enum vigil_err
bscan_schedule_set(struct bscan *b, const char *bucket, double last)
{
	sqlite3_stmt	*s = q(b, B_SCHED_SET);

	bind_str(s, 1, bucket);
	sqlite3_bind_double(s, 2, last);
	return run(b, B_SCHED_SET);
}

/* Quarantine ------------------------------------------------------------- */

enum vigil_err
bscan_q_put(struct bscan *b, const char *bucket, const char *key,
    const char *action, const char *state, const char *memo,
    const char *qbucket, const char *error, double now)
{
	sqlite3_stmt	*s = q(b, B_Q_PUT);

	bind_str(s, 1, bucket);
	bind_str(s, 2, key);
	bind_str(s, 3, action);
	bind_str(s, 4, state);
	bind_str(s, 5, memo);
	bind_str(s, 6, qbucket);
	bind_str(s, 7, error);
	sqlite3_bind_double(s, 8, now);
	return run(b, B_Q_PUT);
}

int
bscan_q_moved(struct bscan *b, const char *bucket, const char *key)
{
	sqlite3_stmt	*s = q(b, B_Q_MOVED);
	int		 rc;

	bind_str(s, 1, bucket);
	bind_str(s, 2, key);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_ROW;
}

void
bscan_q_free(struct bscan_q *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		vg_free(x[i].bucket);
		vg_free(x[i].key);
		vg_free(x[i].action);
		vg_free(x[i].memo);
		vg_free(x[i].qbucket);
	}
	vg_free(x);
}

static enum vigil_err
q_rows(struct bscan *b, sqlite3_stmt *s, struct bscan_q **out, size_t *np)
{
	struct bscan_q	*x = NULL, *nx;
	size_t		 n = 0;
	int		 rc;

	*out = NULL;
	*np = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nx = vg_reallocarray(x, n + 1, sizeof(*x))) == NULL) {
			sqlite3_reset(s);
			bscan_q_free(x, n);
			return VIGIL_E_NOMEM;
		}
		x = nx;
		x[n].bucket = col_dup(s, 0);
		x[n].key = col_dup(s, 1);
		x[n].action = col_dup(s, 2);
		x[n].memo = col_dup(s, 3);
		x[n].qbucket = col_dup(s, 4);
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		bscan_q_free(x, n);
		return fail(b, "quarantine");
	}
	*out = x;
	*np = n;
	return VIGIL_OK;
}

enum vigil_err
bscan_q_for_review(struct bscan *b, int64_t review, struct bscan_q **out,
    size_t *np)
{
	sqlite3_stmt	*s = q(b, B_Q_REVIEW);

	sqlite3_bind_int64(s, 1, review);
	return q_rows(b, s, out, np);
}

enum vigil_err
bscan_q_pending(struct bscan *b, struct bscan_q **out, size_t *np)
{
	return q_rows(b, q(b, B_Q_PENDING), out, np);
}
