/*
 * store.c: the SQLite store (see include/vigil/store.h).
 *
 * DESIGN
 * One connection, opened by the loop thread and used only there, so no
 * locking of ours; WAL with synchronous=FULL because a 202 for an event
 * promises that it survives kill -9 and power loss, and group commits
 * (store_begin ... store_commit around many events) pay that fsync once
 * per batch.  All SQL is in stmts[] below, prepared once at open.  The
 * schema version lives in PRAGMA user_version; migrations[i] moves a
 * database from version i to i + 1 inside one transaction.
 *
 * Inbox rows move  pending -> running -> done, or pending -> cancelled.
 * "running" with attempts counted is committed before the scan starts, so
 * after a crash the next start knows how often an object was in the
 * scanner when the daemon died.  A crash blames every object in flight,
 * so those come back as suspects (pending, attempts > 0), which the
 * server runs one at a time with nothing beside them: a second crash then
 * names the culprit alone.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "vigil/core.h"
#include "vigil/store.h"

enum {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_INBOX_ADD, S_INBOX_CANCEL, S_INBOX_PENDING, S_INBOX_SUSPECT,
	S_INBOX_RUN,
	S_INBOX_RUNNING, S_INBOX_STATE, S_INBOX_RELEASE, S_INBOX_STATS,
	S_VERDICT_PUT, S_VERDICT_GET, S_CACHE_GET,
	S__COUNT
};

static const char *const stmts[S__COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_INBOX_ADD] =
	    "INSERT OR IGNORE INTO inbox (bucket, key, dedup, etag, "
	    "version_id, sequencer, account, source, size, received) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[S_INBOX_CANCEL] =
	    "UPDATE inbox SET state = 3 WHERE bucket = ?1 AND key = ?2 "
	    "AND state = 0",
	[S_INBOX_PENDING] =
	    "SELECT id, bucket, key, dedup, etag, version_id, sequencer, "
	    "account, source, size, attempts, received FROM inbox "
	    "WHERE state = 0 AND attempts = 0 ORDER BY id LIMIT ?1",
	[S_INBOX_SUSPECT] =
	    "SELECT id, bucket, key, dedup, etag, version_id, sequencer, "
	    "account, source, size, attempts, received FROM inbox "
	    "WHERE state = 0 AND attempts > 0 ORDER BY id LIMIT ?1",
	[S_INBOX_RUN] =
	    "UPDATE inbox SET state = 1, attempts = attempts + 1 "
	    "WHERE id = ?1",
	[S_INBOX_RUNNING] =
	    "SELECT id, bucket, key, dedup, etag, version_id, sequencer, "
	    "account, source, size, attempts, received FROM inbox "
	    "WHERE state = 1 ORDER BY id",
	[S_INBOX_STATE] = "UPDATE inbox SET state = ?2 WHERE id = ?1",
	[S_INBOX_RELEASE] =
	    "UPDATE inbox SET state = 0, attempts = max(attempts - 1, 0) "
	    "WHERE id = ?1 AND state = 1",
	[S_INBOX_STATS] =
	    "SELECT count(*), min(received) FROM inbox WHERE state IN (0, 1)",
	[S_VERDICT_PUT] =
	    "INSERT INTO verdicts (bucket, key, name, account, etag, "
	    "version_id, size, sha256, ruleset, verdict, result, received, "
	    "scanned) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
	    "?12, ?13)",
	[S_VERDICT_GET] =
	    "SELECT bucket, key, name, account, etag, version_id, size, "
	    "sha256, ruleset, verdict, result, received, scanned "
	    "FROM verdicts WHERE bucket = ?1 AND key = ?2 "
	    "ORDER BY id DESC LIMIT 1",
	/* Reader connections only. */
	[S_CACHE_GET] =
	    "SELECT result FROM verdicts WHERE sha256 = ?1 AND ruleset = ?2 "
	    "AND verdict IN ('clean', 'flagged') ORDER BY id DESC LIMIT 1",
};

/* migrations[i] takes user_version i to i + 1. */
static const char *const migrations[] = {
	"CREATE TABLE inbox ("
	"  id INTEGER PRIMARY KEY,"
	"  bucket TEXT NOT NULL, key TEXT NOT NULL, dedup TEXT NOT NULL,"
	"  etag TEXT, version_id TEXT, sequencer TEXT, account TEXT,"
	"  source TEXT, size INTEGER NOT NULL DEFAULT 0,"
	"  state INTEGER NOT NULL DEFAULT 0,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  received REAL NOT NULL,"
	"  UNIQUE (bucket, key, dedup));"
	"CREATE INDEX inbox_state ON inbox (state, id);"
	"CREATE TABLE verdicts ("
	"  id INTEGER PRIMARY KEY,"
	"  bucket TEXT, key TEXT, name TEXT, account TEXT,"
	"  etag TEXT, version_id TEXT, size INTEGER NOT NULL,"
	"  sha256 TEXT NOT NULL, ruleset TEXT NOT NULL,"
	"  verdict TEXT NOT NULL, result TEXT NOT NULL,"
	"  received REAL NOT NULL, scanned REAL NOT NULL);"
	"CREATE INDEX verdicts_object ON verdicts (bucket, key, id);"
	"CREATE INDEX verdicts_content ON verdicts (sha256, ruleset);",
};

#define NMIGRATIONS (int)(sizeof(migrations) / sizeof(migrations[0]))

struct store {
	sqlite3		*db;
	sqlite3_stmt	*st[S__COUNT];
};

static double
wallclock(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static sqlite3_stmt *
stmt(struct store *s, int which)
{
	sqlite3_reset(s->st[which]);
	sqlite3_clear_bindings(s->st[which]);
	return s->st[which];
}

static enum vigil_err
fail(struct store *s, const char *what)
{
	vg_log_warnx("store: %s: %s", what, sqlite3_errmsg(s->db));
	return VIGIL_E_IO;
}

/* Steps a statement whose parameters are bound (or has none). */
static enum vigil_err
run(struct store *s, int which)
{
	int	rc = sqlite3_step(s->st[which]);

	sqlite3_reset(s->st[which]);
	if (rc != SQLITE_DONE)
		return fail(s, stmts[which]);
	return VIGIL_OK;
}

static enum vigil_err
migrate(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt	*q;
	char		 sql[64];
	int		 v = 0;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL)
	    != SQLITE_OK)
		goto bad;
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (v > NMIGRATIONS) {
		snprintf(err, errlen, "database schema %d is newer than this "
		    "vigil (%d)", v, NMIGRATIONS);
		return VIGIL_E_UNSUPPORTED;
	}
	for (; v < NMIGRATIONS; v++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
		    SQLITE_OK)
			goto bad;
		if (sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL) !=
		    SQLITE_OK || sqlite3_exec(s->db, sql, NULL, NULL, NULL) !=
		    SQLITE_OK) {
			snprintf(err, errlen, "migration to schema %d: %s",
			    v + 1, sqlite3_errmsg(s->db));
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return VIGIL_E_IO;
		}
		if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) !=
		    SQLITE_OK)
			goto bad;
	}
	return VIGIL_OK;
bad:
	snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
	return VIGIL_E_IO;
}

enum vigil_err
store_open(const char *dir, struct store **out, char *err, size_t errlen)
{
	struct store	*s;
	char		 path[4096];
	enum vigil_err	 rc;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/vigil.db", dir) >=
	    sizeof(path))
		return VIGIL_E_INVAL;
	if ((s = vg_calloc(1, sizeof(*s))) == NULL)
		return VIGIL_E_NOMEM;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, s->db ?
		    sqlite3_errmsg(s->db) : "cannot open");
		rc = VIGIL_E_IO;
		goto fail;
	}
	(void)chmod(path, 0600);
	sqlite3_busy_timeout(s->db, 5000);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL; "
	    "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
	    NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
		rc = VIGIL_E_IO;
		goto fail;
	}
	if ((rc = migrate(s, err, errlen)) != VIGIL_OK)
		goto fail;
	for (int i = 0; i < S__COUNT; i++)
		if (sqlite3_prepare_v3(s->db, stmts[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "preparing \"%s\": %s", stmts[i],
			    sqlite3_errmsg(s->db));
			rc = VIGIL_E_IO;
			goto fail;
		}
	*out = s;
	return VIGIL_OK;
fail:
	store_close(s);
	return rc;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	vg_free(s);
}

enum vigil_err
store_begin(struct store *s)
{
	return run(s, S_BEGIN);
}

enum vigil_err
store_commit(struct store *s)
{
	return run(s, S_COMMIT);
}

void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		(void)run(s, S_ROLLBACK);
}

enum vigil_err
store_ping(struct store *s)
{
	enum vigil_err	rc;

	if ((rc = store_begin(s)) != VIGIL_OK)
		return rc;
	store_rollback(s);
	return VIGIL_OK;
}

static void
bind_text(sqlite3_stmt *q, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(q, i);
	else
		sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

enum vigil_err
store_inbox_add(struct store *s, const struct store_item *it, int *added)
{
	sqlite3_stmt	*q = stmt(s, S_INBOX_ADD);

	bind_text(q, 1, it->bucket);
	bind_text(q, 2, it->key);
	bind_text(q, 3, it->dedup);
	bind_text(q, 4, it->etag);
	bind_text(q, 5, it->version_id);
	bind_text(q, 6, it->sequencer);
	bind_text(q, 7, it->account);
	bind_text(q, 8, it->source);
	sqlite3_bind_int64(q, 9, (sqlite3_int64)it->size);
	sqlite3_bind_double(q, 10, it->received > 0 ? it->received :
	    wallclock());
	if (sqlite3_step(q) != SQLITE_DONE) {
		sqlite3_reset(q);
		return fail(s, "inbox add");
	}
	*added = sqlite3_changes(s->db) > 0;
	sqlite3_reset(q);
	return VIGIL_OK;
}

enum vigil_err
store_inbox_cancel(struct store *s, const char *bucket, const char *key,
    int *n)
{
	sqlite3_stmt	*q = stmt(s, S_INBOX_CANCEL);

	bind_text(q, 1, bucket);
	bind_text(q, 2, key);
	if (sqlite3_step(q) != SQLITE_DONE) {
		sqlite3_reset(q);
		return fail(s, "inbox cancel");
	}
	*n = sqlite3_changes(s->db);
	sqlite3_reset(q);
	return VIGIL_OK;
}

void
store_item_free(struct store_item *it)
{
	if (it == NULL)
		return;
	vg_free(it->bucket);
	vg_free(it->key);
	vg_free(it->dedup);
	vg_free(it->etag);
	vg_free(it->version_id);
	vg_free(it->sequencer);
	vg_free(it->account);
	vg_free(it->source);
	memset(it, 0, sizeof(*it));
}

static char *
col_dup(sqlite3_stmt *q, int i)
{
	const unsigned char *v = sqlite3_column_text(q, i);

	return v != NULL ? vg_strdup((const char *)v) : NULL;
}

/* Reads rows of the inbox column layout into a new array. */
static enum vigil_err
read_items(struct store *s, sqlite3_stmt *q, struct store_item **out,
    size_t *n)
{
	struct store_item	*items = NULL, *t;
	size_t			 cap = 0;
	int			 rc;

	*n = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((t = vg_reallocarray(items, cap, sizeof(*t))) ==
			    NULL)
				goto nomem;
			items = t;
		}
		t = &items[(*n)++];
		memset(t, 0, sizeof(*t));
		t->id = sqlite3_column_int64(q, 0);
		t->bucket = col_dup(q, 1);
		t->key = col_dup(q, 2);
		t->dedup = col_dup(q, 3);
		t->etag = col_dup(q, 4);
		t->version_id = col_dup(q, 5);
		t->sequencer = col_dup(q, 6);
		t->account = col_dup(q, 7);
		t->source = col_dup(q, 8);
		t->size = (uint64_t)sqlite3_column_int64(q, 9);
		t->attempts = sqlite3_column_int(q, 10);
		t->received = sqlite3_column_double(q, 11);
		if (t->bucket == NULL || t->key == NULL)
			goto nomem;
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < *n; i++)
			store_item_free(&items[i]);
		vg_free(items);
		*n = 0;
		return fail(s, "inbox read");
	}
	*out = items;
	return VIGIL_OK;
nomem:
	sqlite3_reset(q);
	for (size_t i = 0; i < *n; i++)
		store_item_free(&items[i]);
	vg_free(items);
	*n = 0;
	return VIGIL_E_NOMEM;
}

static enum vigil_err
set_state(struct store *s, int64_t id, int state)
{
	sqlite3_stmt	*q = stmt(s, S_INBOX_STATE);

	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int(q, 2, state);
	return run(s, S_INBOX_STATE) == VIGIL_OK ? VIGIL_OK :
	    VIGIL_E_IO;
}

enum vigil_err
store_inbox_claim(struct store *s, int suspects, size_t max,
    struct store_item **items, size_t *n)
{
	sqlite3_stmt	*q;
	enum vigil_err	 rc;

	*items = NULL;
	*n = 0;
	if ((rc = store_begin(s)) != VIGIL_OK)
		return rc;
	q = stmt(s, suspects ? S_INBOX_SUSPECT : S_INBOX_PENDING);
	sqlite3_bind_int64(q, 1, (sqlite3_int64)max);
	if ((rc = read_items(s, q, items, n)) != VIGIL_OK)
		goto fail;
	for (size_t i = 0; i < *n; i++) {
		q = stmt(s, S_INBOX_RUN);
		sqlite3_bind_int64(q, 1, (*items)[i].id);
		if ((rc = run(s, S_INBOX_RUN)) != VIGIL_OK)
			goto fail;
		(*items)[i].attempts++;
	}
	if ((rc = store_commit(s)) != VIGIL_OK)
		goto fail;
	return VIGIL_OK;
fail:
	store_rollback(s);
	for (size_t i = 0; i < *n; i++)
		store_item_free(&(*items)[i]);
	vg_free(*items);
	*items = NULL;
	*n = 0;
	return rc;
}

enum vigil_err
store_inbox_recover(struct store *s, int max_attempts,
    struct store_item **poison, size_t *np)
{
	struct store_item	*items = NULL;
	size_t			 n = 0, k = 0;
	enum vigil_err		 rc;

	*poison = NULL;
	*np = 0;
	if ((rc = store_begin(s)) != VIGIL_OK)
		return rc;
	if ((rc = read_items(s, stmt(s, S_INBOX_RUNNING), &items, &n)) !=
	    VIGIL_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		rc = set_state(s, items[i].id, items[i].attempts >=
		    max_attempts ? STORE_DONE : STORE_PENDING);
		if (rc != VIGIL_OK)
			goto fail;
	}
	if ((rc = store_commit(s)) != VIGIL_OK)
		goto fail;
	/* Keep the poisoned ones, packed at the front. */
	for (size_t i = 0; i < n; i++) {
		if (items[i].attempts >= max_attempts)
			items[k++] = items[i];
		else
			store_item_free(&items[i]);
	}
	*poison = items;
	*np = k;
	if (k == 0) {
		vg_free(items);
		*poison = NULL;
	}
	return VIGIL_OK;
fail:
	store_rollback(s);
	for (size_t i = 0; i < n; i++)
		store_item_free(&items[i]);
	vg_free(items);
	return rc;
}

enum vigil_err
store_inbox_finish(struct store *s, int64_t id)
{
	return set_state(s, id, STORE_DONE);
}

enum vigil_err
store_inbox_release(struct store *s, int64_t id)
{
	sqlite3_stmt	*q = stmt(s, S_INBOX_RELEASE);

	sqlite3_bind_int64(q, 1, id);
	return run(s, S_INBOX_RELEASE);
}

enum vigil_err
store_inbox_stats(struct store *s, int64_t *pending, double *age)
{
	sqlite3_stmt	*q = stmt(s, S_INBOX_STATS);

	*pending = 0;
	*age = 0;
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_reset(q);
		return fail(s, "inbox stats");
	}
	*pending = sqlite3_column_int64(q, 0);
	if (sqlite3_column_type(q, 1) != SQLITE_NULL)
		*age = wallclock() - sqlite3_column_double(q, 1);
	sqlite3_reset(q);
	return VIGIL_OK;
}

enum vigil_err
store_verdict_put(struct store *s, const struct store_verdict *v)
{
	sqlite3_stmt	*q = stmt(s, S_VERDICT_PUT);

	bind_text(q, 1, v->bucket);
	bind_text(q, 2, v->key);
	bind_text(q, 3, v->name);
	bind_text(q, 4, v->account);
	bind_text(q, 5, v->etag);
	bind_text(q, 6, v->version_id);
	sqlite3_bind_int64(q, 7, (sqlite3_int64)v->size);
	bind_text(q, 8, v->sha256);
	bind_text(q, 9, v->ruleset);
	bind_text(q, 10, v->verdict);
	bind_text(q, 11, v->result);
	sqlite3_bind_double(q, 12, v->received);
	sqlite3_bind_double(q, 13, v->scanned > 0 ? v->scanned : wallclock());
	return run(s, S_VERDICT_PUT);
}

void
store_verdict_free(struct store_verdict *v)
{
	if (v == NULL)
		return;
	vg_free(v->bucket);
	vg_free(v->key);
	vg_free(v->name);
	vg_free(v->account);
	vg_free(v->etag);
	vg_free(v->version_id);
	vg_free(v->sha256);
	vg_free(v->ruleset);
	vg_free(v->verdict);
	vg_free(v->result);
	vg_free(v);
}

enum vigil_err
store_verdict_get(struct store *s, const char *bucket, const char *key,
    struct store_verdict **out)
{
	sqlite3_stmt		*q = stmt(s, S_VERDICT_GET);
	struct store_verdict	*v;
	int			 rc;

	*out = NULL;
	bind_text(q, 1, bucket);
	bind_text(q, 2, key);
	if ((rc = sqlite3_step(q)) != SQLITE_ROW) {
		sqlite3_reset(q);
		return rc == SQLITE_DONE ? VIGIL_E_NOTFOUND :
		    fail(s, "verdict get");
	}
	if ((v = vg_calloc(1, sizeof(*v))) == NULL) {
		sqlite3_reset(q);
		return VIGIL_E_NOMEM;
	}
	v->bucket = col_dup(q, 0);
	v->key = col_dup(q, 1);
	v->name = col_dup(q, 2);
	v->account = col_dup(q, 3);
	v->etag = col_dup(q, 4);
	v->version_id = col_dup(q, 5);
	v->size = (uint64_t)sqlite3_column_int64(q, 6);
	v->sha256 = col_dup(q, 7);
	v->ruleset = col_dup(q, 8);
	v->verdict = col_dup(q, 9);
	v->result = col_dup(q, 10);
	v->received = sqlite3_column_double(q, 11);
	v->scanned = sqlite3_column_double(q, 12);
	sqlite3_reset(q);
	if (v->result == NULL || v->verdict == NULL) {
		store_verdict_free(v);
		return VIGIL_E_NOMEM;
	}
	*out = v;
	return VIGIL_OK;
}

/* Readers -------------------------------------------------------------- */

struct store_reader {
	sqlite3		*db;
	sqlite3_stmt	*cache;
};

enum vigil_err
store_reader_open(const char *dir, struct store_reader **out)
{
	struct store_reader	*r;
	char			 path[4096];

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/vigil.db", dir) >=
	    sizeof(path))
		return VIGIL_E_INVAL;
	if ((r = vg_calloc(1, sizeof(*r))) == NULL)
		return VIGIL_E_NOMEM;
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(r->db, stmts[S_CACHE_GET], -1,
	    SQLITE_PREPARE_PERSISTENT, &r->cache, NULL) != SQLITE_OK) {
		vg_log_warnx("store reader: %s", r->db ? sqlite3_errmsg(r->db) :
		    "cannot open");
		store_reader_close(r);
		return VIGIL_E_IO;
	}
	sqlite3_busy_timeout(r->db, 1000);
	*out = r;
	return VIGIL_OK;
}

void
store_reader_close(struct store_reader *r)
{
	if (r == NULL)
		return;
	sqlite3_finalize(r->cache);
	sqlite3_close(r->db);
	vg_free(r);
}

enum vigil_err
store_reader_cached(struct store_reader *r, const char *sha256,
    const char *ruleset, char **result)
{
	const unsigned char	*v;
	int			 rc;

	*result = NULL;
	sqlite3_reset(r->cache);
	bind_text(r->cache, 1, sha256);
	bind_text(r->cache, 2, ruleset);
	rc = sqlite3_step(r->cache);
	if (rc == SQLITE_ROW && (v = sqlite3_column_text(r->cache, 0)) !=
	    NULL && (*result = vg_strdup((const char *)v)) == NULL) {
		sqlite3_reset(r->cache);
		return VIGIL_E_NOMEM;
	}
	sqlite3_reset(r->cache);
	if (rc == SQLITE_ROW && *result != NULL)
		return VIGIL_OK;
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? VIGIL_E_NOTFOUND :
	    VIGIL_E_IO;
}
