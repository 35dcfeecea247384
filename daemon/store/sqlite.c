/*
 * sqlite.c: the SQLite store backend (see include/vigil/store.h and
 * store_int.h); store.c reaches it through store_sqlite_backend.
 *
 * DESIGN
 * One connection, opened by the loop thread and used only there, so no
 * locking of ours; WAL with synchronous=FULL because a 202 for an event
 * promises that it survives kill -9 and power loss, and group commits
 * (store_begin ... store_commit around many events) pay that fsync once
 * per batch.  Bookkeeping that only has to survive a crash of the daemon
 * (claims, verdicts: losing one with the machine means a scan runs again)
 * commits with synchronous=NORMAL (store_begin_lazy): in WAL mode that is
 * written to the log, so it survives kill -9, and the next FULL commit's
 * fsync makes it durable too, since the log is written in order.
 *
 * Checkpoints (copying the log into the database, two fsyncs) would stall
 * the loop for tens of milliseconds when SQLite runs them inside a
 * commit, so the writer's automatic checkpoints are off and a thread with
 * its own connection runs a PASSIVE one every CKPT_MS: it never blocks
 * the writer, and a commit's durability never depended on it.  Under
 * steady writes a passive checkpoint never finishes before the next
 * commit, so SQLite would never restart the log and it grows without
 * bound (3 GB in 20 s of sync scans): once a commit leaves more than
 * CKPT_TRUNCATE frames in it, the writer itself (its own thread, not the
 * loop) runs a TRUNCATE checkpoint before the next transaction.  The
 * passive ones have copied most frames by then, so it is short.
 *
 * All SQL is in stmts[] below, prepared once at open.  The schema version
 * lives in PRAGMA user_version; migrations[i] moves a database from
 * version i to i + 1 inside one transaction.
 *
 * Inbox rows move  pending -> running -> done, or pending -> cancelled.
 * "running" with attempts counted is committed before the scan starts, so
 * after a crash the next start knows how often an object was in the
 * scanner when the daemon died.  A crash blames every object in flight,
 * so those come back as suspects (pending, attempts > 0), which the
 * server runs one at a time with nothing beside them: a second crash then
 * names the culprit alone.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "vigil/core.h"
#include "vigil/store.h"

#include "sqlite_int.h"
#include "store_int.h"

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
	/* 2: accounts, findings, the review queue, the feed, the audit log. */
	"CREATE TABLE accounts ("
	"  id TEXT PRIMARY KEY, state TEXT NOT NULL DEFAULT 'active',"
	"  created REAL NOT NULL, updated REAL NOT NULL);"
	"CREATE INDEX accounts_state ON accounts (state, id);"
	"CREATE TABLE findings ("
	"  id INTEGER PRIMARY KEY, account TEXT NOT NULL,"
	"  bucket TEXT, key TEXT, object TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL, rule TEXT NOT NULL, clause TEXT NOT NULL,"
	"  severity INTEGER NOT NULL, weight INTEGER NOT NULL,"
	"  path TEXT NOT NULL, offset INTEGER NOT NULL, excerpt TEXT,"
	"  found REAL NOT NULL, seen REAL NOT NULL,"
	"  state INTEGER NOT NULL DEFAULT 0, review INTEGER);"
	"CREATE INDEX findings_account ON findings (account, state, found);"
	"CREATE INDEX findings_object ON findings (object, state);"
	"CREATE INDEX findings_review ON findings (review);"
	"CREATE INDEX findings_content ON findings (sha256, rule);"
	"CREATE TABLE review ("
	"  id INTEGER PRIMARY KEY, account TEXT NOT NULL,"
	"  severity INTEGER NOT NULL, created REAL NOT NULL,"
	"  updated REAL NOT NULL, claimed_by TEXT, lease_until REAL,"
	"  escalated INTEGER NOT NULL DEFAULT 0, decision TEXT,"
	"  decided_by TEXT, reason TEXT, decided REAL);"
	"CREATE INDEX review_queue ON review (created, severity DESC, id);"
	"CREATE INDEX review_account ON review (account, decided);"
	"CREATE TABLE feed ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL,"
	"  type TEXT NOT NULL, account TEXT, review INTEGER,"
	"  data TEXT NOT NULL);"
	"CREATE INDEX feed_account ON feed (account, id);"
	"CREATE INDEX feed_review ON feed (review, id);"
	"CREATE INDEX feed_at ON feed (at);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL,"
	"  actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT,"
	"  account TEXT, detail TEXT);"
	"CREATE INDEX audit_subject ON audit (subject, id);"
	"CREATE INDEX audit_account ON audit (account, id);"
	"CREATE INDEX audit_at ON audit (at);"
	"CREATE TABLE webhooks ("
	"  url TEXT PRIMARY KEY, delivered INTEGER NOT NULL DEFAULT 0,"
	"  failures INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
	"  updated REAL);",
	/* 3: what each bucket object looked like when last judged; jobs. */
	"CREATE TABLE objects ("
	"  bucket TEXT NOT NULL, key TEXT NOT NULL, etag TEXT,"
	"  size INTEGER, mtime REAL, sha256 TEXT, ruleset TEXT,"
	"  verdict TEXT, account TEXT, scanned REAL,"
	"  PRIMARY KEY (bucket, key)) WITHOUT ROWID;"
	"CREATE TABLE bscan_jobs ("
	"  id INTEGER PRIMARY KEY, bucket TEXT NOT NULL,"
	"  prefix TEXT NOT NULL DEFAULT '', mode TEXT NOT NULL,"
	"  state TEXT NOT NULL, actor TEXT, created REAL NOT NULL,"
	"  finished REAL, cursor TEXT, token TEXT,"
	"  listed_all INTEGER NOT NULL DEFAULT 0,"
	"  listed INTEGER NOT NULL DEFAULT 0,"
	"  scanned INTEGER NOT NULL DEFAULT 0,"
	"  skipped INTEGER NOT NULL DEFAULT 0,"
	"  cached INTEGER NOT NULL DEFAULT 0,"
	"  flagged INTEGER NOT NULL DEFAULT 0,"
	"  unscannable INTEGER NOT NULL DEFAULT 0,"
	"  errors INTEGER NOT NULL DEFAULT 0,"
	"  bytes INTEGER NOT NULL DEFAULT 0,"
	"  run_seconds REAL NOT NULL DEFAULT 0,"
	"  max_objects_per_s INTEGER NOT NULL DEFAULT 0,"
	"  max_bytes_per_s INTEGER NOT NULL DEFAULT 0, error TEXT);"
	"CREATE INDEX bscan_jobs_state ON bscan_jobs (state, id);"
	"CREATE TABLE bscan_items ("
	"  id INTEGER PRIMARY KEY, job INTEGER NOT NULL, key TEXT NOT NULL,"
	"  etag TEXT, size INTEGER, mtime REAL,"
	"  state INTEGER NOT NULL DEFAULT 0, UNIQUE (job, key));"
	"CREATE INDEX bscan_items_state ON bscan_items (job, state, id);"
	"CREATE TABLE schedules ("
	"  bucket TEXT PRIMARY KEY, last_run REAL NOT NULL);",
	/* 4: quarantine actions applied to flagged objects. */
	"CREATE TABLE quarantine ("
	"  bucket TEXT NOT NULL, key TEXT NOT NULL, action TEXT NOT NULL,"
	"  state TEXT NOT NULL, memo TEXT, qbucket TEXT, error TEXT,"
	"  at REAL NOT NULL, PRIMARY KEY (bucket, key, action));",
	/* 5: the verdict purge reads old records only. */
	"CREATE INDEX verdicts_scanned ON verdicts (scanned);",
};

#define NMIGRATIONS (int)(sizeof(migrations) / sizeof(migrations[0]))

#define CKPT_MS	250
#define CKPT_TRUNCATE	8192	/* log frames (pages) before a truncate */

struct sqlite_store {
	struct store	 base;		/* first: what store.c holds */
	sqlite3		*db;
	sqlite3_stmt	*st[S__COUNT];
	int		 full;		/* synchronous is FULL now */
	/* The checkpointer thread and its connection. */
	pthread_t	 ckpt_th;
	int		 ckpt_running, ckpt_stop;
	pthread_mutex_t	 ckpt_mu;
	pthread_mutex_t	 ckpt_run;	/* one checkpoint at a time */
	pthread_cond_t	 ckpt_cv;
	sqlite3		*ckpt_db;
	int		 wal_frames;	/* in the log after the last commit */
};

static void	store_sqlite_close(struct store *);

sqlite3 *
store_sqlite_db(struct store *st)
{
	if (st == NULL || st->be != &store_sqlite_backend)
		return NULL;
	return ((struct sqlite_store *)st)->db;
}
static void	store_sqlite_reader_close(struct store_reader *);

static void *
checkpointer(void *arg)
{
	struct sqlite_store	*s = arg;
	struct timespec		 ts;

	pthread_mutex_lock(&s->ckpt_mu);
	while (!s->ckpt_stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += CKPT_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		(void)pthread_cond_timedwait(&s->ckpt_cv, &s->ckpt_mu, &ts);
		if (s->ckpt_stop)
			break;
		pthread_mutex_unlock(&s->ckpt_mu);
		pthread_mutex_lock(&s->ckpt_run);
		(void)sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_unlock(&s->ckpt_run);
		pthread_mutex_lock(&s->ckpt_mu);
	}
	pthread_mutex_unlock(&s->ckpt_mu);
	return NULL;
}

/* After each of the writer's commits: how long the log is now. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct sqlite_store	*s = arg;

	(void)db;
	(void)name;
	s->wal_frames = frames;
	return SQLITE_OK;
}

/*
 * Turns the writer's automatic checkpoints off and starts the thread.
 * If it cannot, SQLite keeps checkpointing inside commits: slower, not
 * wrong.
 */
static void
checkpointer_start(struct sqlite_store *s, const char *path)
{
	pthread_mutex_init(&s->ckpt_mu, NULL);
	pthread_mutex_init(&s->ckpt_run, NULL);
	pthread_cond_init(&s->ckpt_cv, NULL);
	if (sqlite3_open_v2(path, &s->ckpt_db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		vg_log_warnx("store: checkpoint connection: %s", s->ckpt_db ?
		    sqlite3_errmsg(s->ckpt_db) : "cannot open");
		return;
	}
	sqlite3_busy_timeout(s->ckpt_db, 1000);
	/*
	 * A connection that has not read the database yet does not know it
	 * is in WAL mode, and its checkpoints do nothing (the log was never
	 * copied back before this): read the journal mode once.
	 */
	if (sqlite3_exec(s->ckpt_db, "PRAGMA journal_mode", NULL, NULL,
	    NULL) != SQLITE_OK) {
		vg_log_warnx("store: checkpoint connection: %s",
		    sqlite3_errmsg(s->ckpt_db));
		return;
	}
	if (pthread_create(&s->ckpt_th, NULL, checkpointer, s) != 0) {
		vg_log_warnx("store: cannot start the checkpoint thread");
		return;
	}
	s->ckpt_running = 1;
	(void)sqlite3_wal_autocheckpoint(s->db, 0);
	/* After the line above, which would replace it. */
	(void)sqlite3_wal_hook(s->db, wal_hook, s);
}

static double
wallclock(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static sqlite3_stmt *
stmt(struct sqlite_store *s, int which)
{
	sqlite3_reset(s->st[which]);
	sqlite3_clear_bindings(s->st[which]);
	return s->st[which];
}

static enum vigil_err
fail(struct sqlite_store *s, const char *what)
{
	vg_log_warnx("store: %s: %s", what, sqlite3_errmsg(s->db));
	return VIGIL_E_IO;
}

/* Steps a statement whose parameters are bound (or has none). */
static enum vigil_err
run(struct sqlite_store *s, int which)
{
	int	rc = sqlite3_step(s->st[which]);

	sqlite3_reset(s->st[which]);
	if (rc != SQLITE_DONE)
		return fail(s, stmts[which]);
	return VIGIL_OK;
}

static enum vigil_err
migrate(struct sqlite_store *s, char *err, size_t errlen)
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

static enum vigil_err
store_sqlite_open(const char *dir, struct store **out, char *err,
    size_t errlen)
{
	struct sqlite_store	*s;
	char			 path[4096];
	enum vigil_err		 rc;

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
	s->full = 1;
	checkpointer_start(s, path);
	s->base.be = &store_sqlite_backend;
	*out = &s->base;
	return VIGIL_OK;
fail:
	store_sqlite_close(&s->base);
	return rc;
}

static void
store_sqlite_close(struct store *st)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;

	if (s == NULL)
		return;
	if (s->ckpt_running) {
		pthread_mutex_lock(&s->ckpt_mu);
		s->ckpt_stop = 1;
		pthread_cond_signal(&s->ckpt_cv);
		pthread_mutex_unlock(&s->ckpt_mu);
		pthread_join(s->ckpt_th, NULL);
	}
	if (s->ckpt_db != NULL) {
		pthread_mutex_destroy(&s->ckpt_mu);
		pthread_mutex_destroy(&s->ckpt_run);
		pthread_cond_destroy(&s->ckpt_cv);
	}
	sqlite3_close(s->ckpt_db);
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	vg_free(s);
}

/*
 * Sets synchronous for the next transaction (outside any).  Not one of
 * stmts[]: SQLite applies this pragma when it is compiled, not when it
 * is stepped, so a prepared copy would do nothing.
 */
static enum vigil_err
sync_mode(struct sqlite_store *s, int full)
{
	if (s->full == full)
		return VIGIL_OK;
	if (sqlite3_exec(s->db, full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK)
		return fail(s, "PRAGMA synchronous");
	s->full = full;
	return VIGIL_OK;
}

static enum vigil_err
store_sqlite_begin(struct store *st)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;
	enum vigil_err		 rc;

	if ((rc = sync_mode(s, 1)) != VIGIL_OK)
		return rc;
	return run(s, S_BEGIN);
}

static enum vigil_err
store_sqlite_begin_lazy(struct store *st)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;
	enum vigil_err		 rc;

	if ((rc = sync_mode(s, 0)) != VIGIL_OK)
		return rc;
	return run(s, S_BEGIN);
}

static enum vigil_err
store_sqlite_commit(struct store *st)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;
	enum vigil_err		 rc;

	rc = run(s, S_COMMIT);
	if (rc == VIGIL_OK && s->wal_frames > CKPT_TRUNCATE) {
		/*
		 * SQLite refuses at once (SQLITE_BUSY, no busy handler) while
		 * another connection checkpoints: wait for the thread's
		 * passive one to end rather than retry commit after commit.
		 */
		s->wal_frames = 0;
		pthread_mutex_lock(&s->ckpt_run);
		(void)sqlite3_wal_checkpoint_v2(s->db, NULL,
		    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		pthread_mutex_unlock(&s->ckpt_run);
	}
	return rc;
}

static void
store_sqlite_rollback(struct store *st)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;

	if (!sqlite3_get_autocommit(s->db))
		(void)run(s, S_ROLLBACK);
}

static enum vigil_err
store_sqlite_ping(struct store *st)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;
	enum vigil_err		 rc;

	if ((rc = store_sqlite_begin(&s->base)) != VIGIL_OK)
		return rc;
	store_sqlite_rollback(&s->base);
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

static enum vigil_err
store_sqlite_inbox_add(struct store *st, const struct store_item *it,
    int *added)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;
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

static enum vigil_err
store_sqlite_inbox_cancel(struct store *st, const char *bucket,
    const char *key, int *n)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;
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

static char *
col_dup(sqlite3_stmt *q, int i)
{
	const unsigned char *v = sqlite3_column_text(q, i);

	return v != NULL ? vg_strdup((const char *)v) : NULL;
}

/* Reads rows of the inbox column layout into a new array. */
static enum vigil_err
read_items(struct sqlite_store *s, sqlite3_stmt *q, struct store_item **out,
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
set_state(struct sqlite_store *s, int64_t id, int state)
{
	sqlite3_stmt	*q = stmt(s, S_INBOX_STATE);

	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int(q, 2, state);
	return run(s, S_INBOX_STATE) == VIGIL_OK ? VIGIL_OK :
	    VIGIL_E_IO;
}

static enum vigil_err
store_sqlite_inbox_claim(struct store *st, int suspects, size_t max,
    struct store_item **items, size_t *n)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;
	sqlite3_stmt	*q;
	enum vigil_err	 rc;
	/* Inside the caller's transaction, the claim is part of it. */
	int		 own = sqlite3_get_autocommit(s->db);

	*items = NULL;
	*n = 0;
	if (own && (rc = store_sqlite_begin_lazy(&s->base)) != VIGIL_OK)
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
	if (own && (rc = store_sqlite_commit(&s->base)) != VIGIL_OK)
		goto fail;
	return VIGIL_OK;
fail:
	if (own)
		store_sqlite_rollback(&s->base);
	for (size_t i = 0; i < *n; i++)
		store_item_free(&(*items)[i]);
	vg_free(*items);
	*items = NULL;
	*n = 0;
	return rc;
}

static enum vigil_err
store_sqlite_inbox_recover(struct store *st, int max_attempts,
    struct store_item **poison, size_t *np)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;
	struct store_item	*items = NULL;
	size_t			 n = 0, k = 0;
	enum vigil_err		 rc;

	*poison = NULL;
	*np = 0;
	if ((rc = store_sqlite_begin(&s->base)) != VIGIL_OK)
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
	if ((rc = store_sqlite_commit(&s->base)) != VIGIL_OK)
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
	store_sqlite_rollback(&s->base);
	for (size_t i = 0; i < n; i++)
		store_item_free(&items[i]);
	vg_free(items);
	return rc;
}

static enum vigil_err
store_sqlite_inbox_finish(struct store *st, int64_t id)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;

	return set_state(s, id, STORE_DONE);
}

static enum vigil_err
store_sqlite_inbox_release(struct store *st, int64_t id)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;
	sqlite3_stmt	*q = stmt(s, S_INBOX_RELEASE);

	sqlite3_bind_int64(q, 1, id);
	return run(s, S_INBOX_RELEASE);
}

static enum vigil_err
store_sqlite_inbox_stats(struct store *st, int64_t *pending, double *age)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;
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

static enum vigil_err
store_sqlite_verdict_put(struct store *st, const struct store_verdict *v)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;
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

static enum vigil_err
store_sqlite_verdict_get(struct store *st, const char *bucket,
    const char *key, struct store_verdict **out)
{
	struct sqlite_store	*s = (struct sqlite_store *)st;
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

struct sqlite_reader {
	struct store_reader base;	/* first */
	sqlite3		*db;
	sqlite3_stmt	*cache;
};

static enum vigil_err
store_sqlite_reader_open(const char *dir, struct store_reader **out)
{
	struct sqlite_reader	*r;
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
		store_sqlite_reader_close(&r->base);
		return VIGIL_E_IO;
	}
	sqlite3_busy_timeout(r->db, 1000);
	r->base.be = &store_sqlite_backend;
	*out = &r->base;
	return VIGIL_OK;
}

static void
store_sqlite_reader_close(struct store_reader *rd)
{
	struct sqlite_reader	*r = (struct sqlite_reader *)rd;

	if (r == NULL)
		return;
	sqlite3_finalize(r->cache);
	sqlite3_close(r->db);
	vg_free(r);
}

static enum vigil_err
store_sqlite_reader_cached(struct store_reader *rd, const char *sha256,
    const char *ruleset, char **result)
{
	struct sqlite_reader	*r = (struct sqlite_reader *)rd;
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

const struct store_backend store_sqlite_backend = {
	.name = "sqlite",
	.open = store_sqlite_open,
	.close = store_sqlite_close,
	.begin = store_sqlite_begin,
	.begin_lazy = store_sqlite_begin_lazy,
	.commit = store_sqlite_commit,
	.rollback = store_sqlite_rollback,
	.ping = store_sqlite_ping,
	.inbox_add = store_sqlite_inbox_add,
	.inbox_cancel = store_sqlite_inbox_cancel,
	.inbox_claim = store_sqlite_inbox_claim,
	.inbox_recover = store_sqlite_inbox_recover,
	.inbox_finish = store_sqlite_inbox_finish,
	.inbox_release = store_sqlite_inbox_release,
	.inbox_stats = store_sqlite_inbox_stats,
	.verdict_put = store_sqlite_verdict_put,
	.verdict_get = store_sqlite_verdict_get,
	.reader_open = store_sqlite_reader_open,
	.reader_close = store_sqlite_reader_close,
	.reader_cached = store_sqlite_reader_cached,
};
