/*
 * review.c: accounts, findings, the review queue, the feed and the audit
 * log, on the SQLite store's writer connection (include/vigil/review.h,
 * docs/review-api.md).
 *
 * DESIGN
 * The tables are the store's (migration 2 in sqlite.c); this file owns
 * their SQL.  It is SQLite-specific by choice: the policy is a handful of
 * set operations (sum of each object's heaviest finding in a window,
 * supersede what a rescan no longer sees) that read best as SQL, and a
 * second backend would bring its own copy.
 *
 * A finding is identified by (object, content sha256, rule, path): a
 * rescan of unchanged content finds the same rows and only marks them
 * seen, so nothing counts twice; rows the rescan did not see are
 * superseded; a dismissed row stays dismissed.  States: 0 active,
 * 1 dismissed, 2 removed (the object was deleted), 3 superseded.
 *
 * Review items have no status column: an item is decided once "decided"
 * is set, claimed while lease_until lies ahead, escalated when marked so
 * and unclaimed, and pending otherwise; an expired lease is pending again
 * without anyone touching the row.  The queue's order is (created,
 * severity descending, id) and its cursor is those three values.
 *
 * Feed ids come from an AUTOINCREMENT key, so they never go back, even
 * after the purge removed every row.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "vigil/config.h"
#include "vigil/core.h"
#include "vigil/engine.h"
#include "vigil/review.h"
#include "vigil/store.h"

#include "sqlite_int.h"
#include "sqlq.h"

enum {
	Q_F_FIND, Q_F_TOUCH, Q_F_ADD, Q_F_SUPERSEDE, Q_F_REMOVE_ACCTS,
	Q_F_REMOVE, Q_A_GET, Q_A_ADD, Q_A_SET, Q_A_SCORE, Q_R_OPEN_FOR,
	Q_R_CREATE, Q_R_ATTACH, Q_R_BUMP, Q_R_GET, Q_R_CLAIM, Q_R_DECIDE,
	Q_R_ESCALATE, Q_R_DISMISS, Q_R_NFIND, Q_FEED_ADD, Q_FEED_LIST,
	Q_FEED_LAST, Q_FEED_ONE, Q_AUDIT_ADD, Q_AUDIT_Q, Q_PURGE_AUDIT,
	Q_PURGE_FEED, Q_PURGE_VERDICTS, Q_HOOK_GET, Q_HOOK_SET, Q_F_EXCERPT,
	Q__COUNT
};

static const char *const sql[Q__COUNT] = {
	[Q_F_FIND] = "SELECT id, state FROM findings WHERE object = ?1 AND "
	    "sha256 = ?2 AND rule = ?3 AND path = ?4 ORDER BY id DESC LIMIT 1",
	[Q_F_TOUCH] = "UPDATE findings SET seen = ?2 WHERE id = ?1",
	[Q_F_ADD] = "INSERT INTO findings (account, bucket, key, object, "
	    "sha256, rule, clause, severity, weight, path, offset, excerpt, "
	    "found, seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
	    "?11, ?12, ?13, ?13)",
	[Q_F_SUPERSEDE] = "UPDATE findings SET state = 3 WHERE object = ?1 "
	    "AND state = 0 AND seen < ?2",
	[Q_F_REMOVE_ACCTS] = "SELECT DISTINCT account FROM findings WHERE "
	    "object = ?1 AND state = 0",
	[Q_F_REMOVE] = "UPDATE findings SET state = 2 WHERE object = ?1 AND "
	    "state = 0",
	[Q_A_GET] = "SELECT state FROM accounts WHERE id = ?1",
	[Q_A_ADD] = "INSERT OR IGNORE INTO accounts (id, state, created, "
	    "updated) VALUES (?1, 'active', ?2, ?2)",
	[Q_A_SET] = "UPDATE accounts SET state = ?2, updated = ?3 WHERE "
	    "id = ?1",
	[Q_A_SCORE] = "SELECT coalesce(sum(w), 0) FROM (SELECT max(weight) "
	    "AS w FROM findings WHERE account = ?1 AND state = 0 AND "
	    "found >= ?2 GROUP BY object)",
	[Q_R_OPEN_FOR] = "SELECT id FROM review WHERE account = ?1 AND "
	    "decided IS NULL ORDER BY id LIMIT 1",
	[Q_R_CREATE] = "INSERT INTO review (account, severity, created, "
	    "updated) VALUES (?1, ?2, ?3, ?3)",
	[Q_R_ATTACH] = "UPDATE findings SET review = ?2 WHERE account = ?1 "
	    "AND state = 0 AND review IS NULL",
	[Q_R_BUMP] = "UPDATE review SET severity = max(?2, coalesce((SELECT "
	    "max(severity) FROM findings WHERE review = ?1 AND state = 0), "
	    "0)), updated = ?3 WHERE id = ?1",
	[Q_R_GET] = "SELECT id, account, severity, created, updated, "
	    "claimed_by, lease_until, escalated, decision, decided_by, "
	    "reason, decided FROM review WHERE id = ?1",
	[Q_R_CLAIM] = "UPDATE review SET claimed_by = ?2, lease_until = ?3, "
	    "updated = ?4 WHERE id = ?1",
	[Q_R_DECIDE] = "UPDATE review SET decision = ?2, decided_by = ?3, "
	    "reason = ?4, decided = ?5, updated = ?5, claimed_by = NULL, "
	    "lease_until = NULL WHERE id = ?1",
	[Q_R_ESCALATE] = "UPDATE review SET escalated = 1, claimed_by = "
	    "NULL, lease_until = NULL, updated = ?2 WHERE id = ?1",
	[Q_R_DISMISS] = "UPDATE findings SET state = 1 WHERE review = ?1 AND "
	    "state = 0",
	[Q_R_NFIND] = "SELECT count(*) FROM findings WHERE review = ?1",
	[Q_FEED_ADD] = "INSERT INTO feed (at, type, account, review, data) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_FEED_LIST] = "SELECT id, at, type, account, review, data FROM feed "
	    "WHERE id > ?1 ORDER BY id LIMIT ?2",
	[Q_FEED_LAST] = "SELECT coalesce((SELECT seq FROM sqlite_sequence "
	    "WHERE name = 'feed'), 0)",
	[Q_FEED_ONE] = "SELECT id, at, type, account, review, data FROM feed "
	    "WHERE id = ?1",
	[Q_AUDIT_ADD] = "INSERT INTO audit (at, actor, action, subject, "
	    "account, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_AUDIT_Q] = "SELECT id, at, actor, action, subject, account, detail "
	    "FROM audit WHERE (subject = ?1 OR account = ?1) AND id > ?2 "
	    "ORDER BY id LIMIT ?3",
	[Q_PURGE_AUDIT] = "DELETE FROM audit WHERE at < ?1",
	[Q_PURGE_FEED] = "DELETE FROM feed WHERE at < ?1",
	/*
	 * Old verdicts, a batch at a time in (scanned, id) order from after
	 * (?4, ?3) along verdicts_scanned, so no batch reads the records
	 * being kept; never a bucket object's latest, which is what
	 * GET /v1/objects/{bucket}/{key} answers.  The rows come back, so
	 * the next batch starts past the latest ones this one passed over.
	 */
	[Q_PURGE_VERDICTS] = "DELETE FROM verdicts WHERE id IN ("
	    "SELECT v.id FROM verdicts v WHERE v.scanned < ?1 AND "
	    "(v.scanned, v.id) > (?4, ?3) AND (v.bucket IS NULL OR "
	    "v.key IS NULL OR EXISTS (SELECT 1 FROM verdicts w WHERE "
	    "w.bucket = v.bucket AND w.key = v.key AND w.id > v.id)) "
	    "ORDER BY v.scanned, v.id LIMIT ?2) RETURNING scanned, id",
	[Q_F_EXCERPT] = "SELECT excerpt FROM findings WHERE sha256 = ?1 AND "
	    "rule = ?2 AND path = ?3 AND excerpt IS NOT NULL LIMIT 1",
	[Q_HOOK_GET] = "SELECT delivered FROM webhooks WHERE url = ?1",
	[Q_HOOK_SET] = "INSERT INTO webhooks (url, delivered, failures, "
	    "last_error, updated) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT "
	    "(url) DO UPDATE SET delivered = ?2, failures = ?3, "
	    "last_error = ?4, updated = ?5",
};

enum { F_ACTIVE = 0, F_DISMISSED, F_REMOVED, F_SUPERSEDED };

static const char *const finding_states[] = { "active", "dismissed",
    "removed", "superseded" };
struct review {
	struct store		*st;
	sqlite3			*db;
	const struct vg_config	*cfg;
	struct sqlq		 sq;
	double			 last_now;
};

/* Helpers -------------------------------------------------------------- */

static sqlite3_stmt *
q(struct review *rv, int which)
{
	return sqlq_get(&rv->sq, which);
}

static enum vigil_err
fail(struct review *rv, const char *what)
{
	return sqlq_fail(&rv->sq, what);
}

static enum vigil_err
run(struct review *rv, int which)
{
	return sqlq_run(&rv->sq, which);
}

#define bind_str	sqlq_bind_str
#define col_str		sqlq_col

/* Joins the caller's transaction, or opens a durable one of our own. */
static enum vigil_err
tx_begin(struct review *rv, int *own)
{
	*own = sqlite3_get_autocommit(rv->db);
	return *own ? store_begin(rv->st) : VIGIL_OK;
}

static enum vigil_err
tx_end(struct review *rv, int own, enum vigil_err rc)
{
	if (!own)
		return rc;
	if (rc == VIGIL_OK && (rc = store_commit(rv->st)) == VIGIL_OK)
		return VIGIL_OK;
	store_rollback(rv->st);
	return rc;
}

static json_t *
iso(double t)
{
	char	buf[40];

	if (t <= 0)
		return json_null();
	vg_iso_time(t, 1, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *
jstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static const char *
sev_name(int s)
{
	return eng_severity_name(s >= ENG_SEV_LOW && s <= ENG_SEV_CRITICAL ?
	    (enum eng_severity)s : ENG_SEV_LOW);
}

const char *
review_suggestion(int severity)
{
	return severity >= 2 ? "block" : severity == 1 ? "review" : "pass";
}

/*
 * Excerpt bytes as JSON-safe text: valid UTF-8 kept, control characters
 * and invalid bytes written as \xNN, so the moderator sees exactly what
 * is there and nothing in it can be taken for markup or a line break.
 */
static char *
excerpt_text(const uint8_t *p, size_t n)
{
	char	*out, *o;
	size_t	 i = 0, k;

	if ((out = vg_malloc(n * 4 + 1)) == NULL)
		return NULL;
	o = out;
	while (i < n) {
		uint8_t c = p[i];
		size_t	len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
		    (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;

		if (len == 1 && c >= 0x20 && c != 0x7f) {
			*o++ = (char)c;
			i++;
			continue;
		}
		if (len > 1 && i + len <= n) {
			for (k = 1; k < len; k++)
				if ((p[i + k] & 0xc0) != 0x80)
					break;
			if (k == len && !(len == 2 && c < 0xc2)) {
				memcpy(o, p + i, len);
				o += len;
				i += len;
				continue;
			}
		}
		o += sprintf(o, "\\x%02x", c);
		i++;
	}
	*o = '\0';
	return out;
}

/* What config says to keep of an engine excerpt, or NULL. */
static char *
make_excerpt(const struct vg_config *cfg, const struct review_match *m)
{
	size_t	max = (size_t)cfg->excerpt_bytes, a, b, ml;

	if (m->excerpt == NULL || max == 0 || cfg->excerpt == VG_EXCERPT_OFF ||
	    m->mark > m->excerpt_len)
		return NULL;
	ml = m->marklen;
	if (ml > m->excerpt_len - m->mark)
		ml = m->excerpt_len - m->mark;
	if (cfg->excerpt == VG_EXCERPT_REDACTED)
		return excerpt_text(m->excerpt + m->mark, ml < max ? ml : max);
	/* Centre the window on the match. */
	if (ml >= max) {
		a = m->mark;
		b = a + max;
	} else {
		size_t pre = (max - ml) / 2;

		a = m->mark > pre ? m->mark - pre : 0;
		b = a + max;
		if (b > m->excerpt_len) {
			b = m->excerpt_len;
			a = b > max ? b - max : 0;
		}
	}
	return excerpt_text(m->excerpt + a, b - a);
}

static int64_t
weight_of(const struct vg_config *cfg, const char *clause, int sev)
{
	int64_t	w = (int64_t)cfg->weight[sev >= 0 && sev < 4 ? sev : 0];

	/* The last override that applies wins, as later lines do in INI. */
	for (size_t i = 0; i < cfg->nweights; i++)
		if (strcmp(cfg->weights[i].clause, clause) == 0 &&
		    (cfg->weights[i].severity < 0 ||
		    cfg->weights[i].severity == sev))
			w = (int64_t)cfg->weights[i].weight;
	return w;
}

static int
auto_suspends(const struct vg_config *cfg, const char *clause)
{
	int	c = vg_clause_index(clause, strlen(clause));

	return c >= 0 && ((cfg->auto_suspend >> c) & 1);
}

/* Open and close ------------------------------------------------------- */

enum vigil_err
review_open(struct store *st, const struct vg_config *cfg,
    struct review **out, char *err, size_t errlen)
{
	struct review	*rv;

	*out = NULL;
	if (store_sqlite_db(st) == NULL) {
		snprintf(err, errlen, "accounts and review need the SQLite "
		    "store");
		return VIGIL_E_UNSUPPORTED;
	}
	if ((rv = vg_calloc(1, sizeof(*rv))) == NULL)
		return VIGIL_E_NOMEM;
	rv->st = st;
	rv->db = store_sqlite_db(st);
	rv->cfg = cfg;
	if (sqlq_open(&rv->sq, rv->db, sql, Q__COUNT, "review", err,
	    errlen) != VIGIL_OK) {
		vg_free(rv);
		return VIGIL_E_IO;
	}
	*out = rv;
	return VIGIL_OK;
}

void
review_close(struct review *rv)
{
	if (rv == NULL)
		return;
	sqlq_close(&rv->sq);
	vg_free(rv);
}

/* Feed and audit ------------------------------------------------------- */

static enum vigil_err
feed_add(struct review *rv, const char *type, const char *account,
    int64_t item, json_t *data, double now)
{
	sqlite3_stmt	*s = q(rv, Q_FEED_ADD);
	char		*text;
	enum vigil_err	 rc;

	if ((text = json_dumps(data, JSON_COMPACT)) == NULL)
		return VIGIL_E_NOMEM;
	sqlite3_bind_double(s, 1, now);
	bind_str(s, 2, type);
	bind_str(s, 3, account);
	if (item > 0)
		sqlite3_bind_int64(s, 4, item);
	sqlite3_bind_text(s, 5, text, -1, SQLITE_TRANSIENT);
	rc = run(rv, Q_FEED_ADD);
	free(text);
	return rc;
}

enum vigil_err
review_audit(struct review *rv, const char *actor, const char *action,
    const char *subject, const char *account, json_t *detail, double now)
{
	sqlite3_stmt	*s = q(rv, Q_AUDIT_ADD);
	char		*text = NULL;
	enum vigil_err	 rc;

	if (detail != NULL && (text = json_dumps(detail,
	    JSON_COMPACT)) == NULL)
		return VIGIL_E_NOMEM;
	sqlite3_bind_double(s, 1, now);
	bind_str(s, 2, actor);
	bind_str(s, 3, action);
	bind_str(s, 4, subject);
	bind_str(s, 5, account);
	bind_str(s, 6, text);
	rc = run(rv, Q_AUDIT_ADD);
	free(text);
	return rc;
}

/* Moves an account to state, with its feed event and audit record. */
static enum vigil_err
account_move(struct review *rv, const char *account, const char *from,
    const char *to, const char *actor, const char *reason, int64_t item,
    int64_t score, double now)
{
	sqlite3_stmt	*s = q(rv, Q_A_SET);
	json_t		*d;
	char		 type[32];
	enum vigil_err	 rc;

	bind_str(s, 1, account);
	bind_str(s, 2, to);
	sqlite3_bind_double(s, 3, now);
	if ((rc = run(rv, Q_A_SET)) != VIGIL_OK)
		return rc;
	d = json_pack("{ss ss ss ss? sI}", "from", from, "to", to, "actor",
	    actor, "reason", reason, "score", (json_int_t)score);
	if (d == NULL)
		return VIGIL_E_NOMEM;
	snprintf(type, sizeof(type), "account.%s", to);
	if ((rc = feed_add(rv, type, account, item, d, now)) == VIGIL_OK)
		rc = review_audit(rv, actor, strcmp(to, "flagged") == 0 ?
		    "flag" : strcmp(to, "suspended") == 0 ? "suspend" :
		    strcmp(to, "active") == 0 ? "reinstate" : "clear",
		    account, account, d, now);
	json_decref(d);
	return rc;
}

static enum vigil_err
account_state(struct review *rv, const char *account, char *state,
    size_t len)
{
	sqlite3_stmt	*s = q(rv, Q_A_GET);
	int		 rc;

	bind_str(s, 1, account);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		snprintf(state, len, "%s", col_str(s, 0));
		sqlite3_reset(s);
		return VIGIL_OK;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? VIGIL_E_NOTFOUND : fail(rv, "account");
}

static enum vigil_err
account_score(struct review *rv, const char *account, double now,
    int64_t *score)
{
	sqlite3_stmt	*s = q(rv, Q_A_SCORE);

	bind_str(s, 1, account);
	sqlite3_bind_double(s, 2, now - (double)rv->cfg->score_window_days *
	    86400.0);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return fail(rv, "score");
	}
	*score = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return VIGIL_OK;
}

static enum vigil_err
open_item(struct review *rv, const char *account, int64_t *id)
{
	sqlite3_stmt	*s = q(rv, Q_R_OPEN_FOR);
	int		 rc;

	*id = 0;
	bind_str(s, 1, account);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? VIGIL_OK :
	    fail(rv, "review item");
}

/* Verdicts ------------------------------------------------------------- */

struct item_row {
	int64_t	 id;
	char	 account[256];
	int	 severity, escalated;
	double	 created, updated, lease_until, decided;
	char	 claimed_by[256], decision[16], decided_by[256];
	char	*reason;
};

static enum vigil_err	item_get(struct review *, int64_t, struct item_row *);

/* Records one match; *added 1 if it is a new finding. */
static enum vigil_err
finding_put(struct review *rv, const struct review_verdict *v,
    const struct review_match *m, const char *path, double now, int *added)
{
	sqlite3_stmt	*s = q(rv, Q_F_FIND);
	char		*ex;
	int64_t		 id = 0;
	int		 state = -1, rc;
	enum vigil_err	 err;

	*added = 0;
	bind_str(s, 1, v->object);
	bind_str(s, 2, v->sha256);
	bind_str(s, 3, m->rule);
	bind_str(s, 4, path);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		state = sqlite3_column_int(s, 1);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(rv, "finding");
	if (state == F_ACTIVE || state == F_DISMISSED) {
		/* Seen again; a dismissal stands for this content. */
		s = q(rv, Q_F_TOUCH);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_double(s, 2, now);
		return run(rv, Q_F_TOUCH);
	}
	s = q(rv, Q_F_ADD);
	bind_str(s, 1, v->account);
	bind_str(s, 2, v->bucket);
	bind_str(s, 3, v->key);
	bind_str(s, 4, v->object);
	bind_str(s, 5, v->sha256);
	bind_str(s, 6, m->rule);
	bind_str(s, 7, m->clause);
	sqlite3_bind_int(s, 8, m->severity);
	sqlite3_bind_int64(s, 9, weight_of(rv->cfg, m->clause, m->severity));
	bind_str(s, 10, path);
	sqlite3_bind_int64(s, 11, (sqlite3_int64)m->offset);
	if ((ex = make_excerpt(rv->cfg, m)) == NULL && m->excerpt == NULL &&
	    rv->cfg->excerpt != VG_EXCERPT_OFF) {
		/* A cached verdict: the same content's earlier evidence. */
		sqlite3_stmt *e = q(rv, Q_F_EXCERPT);

		bind_str(e, 1, v->sha256);
		bind_str(e, 2, m->rule);
		bind_str(e, 3, path);
		if (sqlite3_step(e) == SQLITE_ROW)
			ex = vg_strdup(col_str(e, 0));
		sqlite3_reset(e);
	}
	bind_str(s, 12, ex);
	sqlite3_bind_double(s, 13, now);
	err = run(rv, Q_F_ADD);
	vg_free(ex);
	*added = err == VIGIL_OK;
	return err;
}

/* After new findings: score, state, review item (inside a transaction). */
static enum vigil_err
account_update(struct review *rv, const char *account, int maxsev,
    int critical, const char *suspend_clause, const char *suspend_rule,
    double now)
{
	sqlite3_stmt	*s;
	char		 state[32], reason[256], subj[32];
	int64_t		 score, item;
	int		 created = 0;
	struct item_row	 r;
	enum vigil_err	 rc;
	json_t		*d;

	s = q(rv, Q_A_ADD);
	bind_str(s, 1, account);
	sqlite3_bind_double(s, 2, now);
	if ((rc = run(rv, Q_A_ADD)) != VIGIL_OK ||
	    (rc = account_state(rv, account, state, sizeof(state))) !=
	    VIGIL_OK ||
	    (rc = account_score(rv, account, now, &score)) != VIGIL_OK ||
	    (rc = open_item(rv, account, &item)) != VIGIL_OK)
		return rc;
	if (suspend_clause != NULL && strcmp(state, "suspended") != 0) {
		snprintf(reason, sizeof(reason), "auto-suspend: clause %s "
		    "(rule %s)", suspend_clause, suspend_rule);
		if ((rc = account_move(rv, account, state, "suspended",
		    "policy", reason, item, score, now)) != VIGIL_OK)
			return rc;
		snprintf(state, sizeof(state), "suspended");
	} else if ((strcmp(state, "active") == 0 ||
	    strcmp(state, "cleared") == 0) &&
	    (critical || score >= (int64_t)rv->cfg->flag_threshold)) {
		if (critical)
			snprintf(reason, sizeof(reason), "a critical finding");
		else
			snprintf(reason, sizeof(reason), "score %lld reached "
			    "the threshold %llu", (long long)score,
			    (unsigned long long)rv->cfg->flag_threshold);
		if ((rc = account_move(rv, account, state, "flagged", "policy",
		    reason, item, score, now)) != VIGIL_OK)
			return rc;
		snprintf(state, sizeof(state), "flagged");
	}
	if (item == 0 && strcmp(state, "flagged") == 0) {
		s = q(rv, Q_R_CREATE);
		bind_str(s, 1, account);
		sqlite3_bind_int(s, 2, maxsev);
		sqlite3_bind_double(s, 3, now);
		if ((rc = run(rv, Q_R_CREATE)) != VIGIL_OK)
			return rc;
		item = sqlite3_last_insert_rowid(rv->db);
		created = 1;
	}
	if (item == 0)
		return VIGIL_OK;
	s = q(rv, Q_R_ATTACH);
	bind_str(s, 1, account);
	sqlite3_bind_int64(s, 2, item);
	if ((rc = run(rv, Q_R_ATTACH)) != VIGIL_OK)
		return rc;
	s = q(rv, Q_R_BUMP);
	sqlite3_bind_int64(s, 1, item);
	sqlite3_bind_int(s, 2, maxsev);
	sqlite3_bind_double(s, 3, now);
	if ((rc = run(rv, Q_R_BUMP)) != VIGIL_OK || !created)
		return rc;
	if ((rc = item_get(rv, item, &r)) != VIGIL_OK)
		return rc;
	vg_free(r.reason);
	if ((d = json_pack("{ss sI}", "severity", sev_name(r.severity),
	    "score", (json_int_t)score)) == NULL)
		return VIGIL_E_NOMEM;
	snprintf(subj, sizeof(subj), "review/%lld", (long long)item);
	if ((rc = feed_add(rv, "review.opened", account, item, d, now)) ==
	    VIGIL_OK)
		rc = review_audit(rv, "policy", "review.open", subj, account,
		    d, now);
	json_decref(d);
	return rc;
}

static enum vigil_err
verdict_findings(struct review *rv, const struct review_verdict *v,
    double now)
{
	sqlite3_stmt	*s;
	const char	*susp_clause = NULL, *susp_rule = NULL;
	char		*path;
	int		 added, nnew = 0, maxsev = 0, critical = 0;
	enum vigil_err	 rc = VIGIL_OK;

	for (size_t i = 0; i < v->nm && rc == VIGIL_OK; i++) {
		const struct review_match *m = &v->m[i];

		if ((path = json_dumps(m->path, JSON_COMPACT)) == NULL)
			return VIGIL_E_NOMEM;
		rc = finding_put(rv, v, m, path, now, &added);
		free(path);
		if (!added)
			continue;
		nnew++;
		if (m->severity > maxsev)
			maxsev = m->severity;
		if (m->severity == 3)
			critical = 1;
		if (susp_clause == NULL && auto_suspends(rv->cfg, m->clause)) {
			susp_clause = m->clause;
			susp_rule = m->rule;
		}
	}
	if (rc != VIGIL_OK)
		return rc;
	s = q(rv, Q_F_SUPERSEDE);
	bind_str(s, 1, v->object);
	sqlite3_bind_double(s, 2, now);
	if ((rc = run(rv, Q_F_SUPERSEDE)) != VIGIL_OK || nnew == 0)
		return rc;
	return account_update(rv, v->account, maxsev, critical, susp_clause,
	    susp_rule, now);
}

enum vigil_err
review_verdict(struct review *rv, const struct review_verdict *v,
    double now)
{
	enum vigil_err	 rc;
	json_t		*d;
	int		 own;

	/* Strictly increasing: "seen < now" must not catch this verdict. */
	if (now <= rv->last_now)
		now = nextafter(rv->last_now, INFINITY);
	rv->last_now = now;
	if ((rc = tx_begin(rv, &own)) != VIGIL_OK)
		return rc;
	if (v->account != NULL && *v->account != '\0' &&
	    (strcmp(v->verdict, "clean") == 0 ||
	    strcmp(v->verdict, "flagged") == 0))
		rc = verdict_findings(rv, v, now);
	if (rc == VIGIL_OK) {
		d = json_pack("{ss ss ss sI}", "verdict", v->verdict,
		    "sha256", v->sha256, "ruleset", v->ruleset ? v->ruleset :
		    "", "matches", (json_int_t)v->nm);
		if (d == NULL)
			rc = VIGIL_E_NOMEM;
		else
			rc = review_audit(rv, v->actor ? v->actor : "scanner",
			    "verdict", v->object, v->account, d, now);
		json_decref(d);
	}
	return tx_end(rv, own, rc);
}

enum vigil_err
review_removed(struct review *rv, const char *bucket, const char *key,
    double now)
{
	sqlite3_stmt	*s;
	char		*object, **accts = NULL;
	size_t		 n = 0;
	int		 own, r;
	enum vigil_err	 rc;

	if ((object = vg_malloc(strlen(bucket) + strlen(key) + 2)) == NULL)
		return VIGIL_E_NOMEM;
	sprintf(object, "%s/%s", bucket, key);
	if ((rc = tx_begin(rv, &own)) != VIGIL_OK) {
		vg_free(object);
		return rc;
	}
	s = q(rv, Q_F_REMOVE_ACCTS);
	bind_str(s, 1, object);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		char **na = vg_reallocarray(accts, n + 1, sizeof(*na));

		if (na == NULL || (na[n] = vg_strdup(col_str(s, 0))) ==
		    NULL) {
			if (na != NULL)
				accts = na;
			rc = VIGIL_E_NOMEM;
			break;
		}
		accts = na;
		n++;
	}
	sqlite3_reset(s);
	if (rc == VIGIL_OK && r != SQLITE_DONE)
		rc = fail(rv, "removed");
	if (rc == VIGIL_OK && n > 0) {
		s = q(rv, Q_F_REMOVE);
		bind_str(s, 1, object);
		rc = run(rv, Q_F_REMOVE);
	}
	for (size_t i = 0; i < n; i++) {
		if (rc == VIGIL_OK)
			rc = review_audit(rv, "hook", "object.removed", object,
			    accts[i], NULL, now);
		vg_free(accts[i]);
	}
	vg_free(accts);
	vg_free(object);
	return tx_end(rv, own, rc);
}

/* Review items ----------------------------------------------------------- */


static void
item_fill(sqlite3_stmt *s, struct item_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	snprintf(r->account, sizeof(r->account), "%s", col_str(s, 1));
	r->severity = sqlite3_column_int(s, 2);
	r->created = sqlite3_column_double(s, 3);
	r->updated = sqlite3_column_double(s, 4);
	if (col_str(s, 5) != NULL)
		snprintf(r->claimed_by, sizeof(r->claimed_by), "%s",
		    col_str(s, 5));
	r->lease_until = sqlite3_column_double(s, 6);
	r->escalated = sqlite3_column_int(s, 7);
	if (col_str(s, 8) != NULL)
		snprintf(r->decision, sizeof(r->decision), "%s",
		    col_str(s, 8));
	if (col_str(s, 9) != NULL)
		snprintf(r->decided_by, sizeof(r->decided_by), "%s",
		    col_str(s, 9));
	if (col_str(s, 10) != NULL)
		r->reason = vg_strdup(col_str(s, 10));
	r->decided = sqlite3_column_double(s, 11);
}

static enum vigil_err
item_get(struct review *rv, int64_t id, struct item_row *r)
{
	sqlite3_stmt	*s = q(rv, Q_R_GET);
	int		 rc;

	sqlite3_bind_int64(s, 1, id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		item_fill(s, r);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return VIGIL_E_NOTFOUND;
	return rc == SQLITE_ROW ? VIGIL_OK : fail(rv, "review item");
}

static const char *
item_status(const struct item_row *r, double now)
{
	if (r->decided > 0)
		return "decided";
	if (*r->claimed_by != '\0' && r->lease_until > now)
		return "claimed";
	return r->escalated ? "escalated" : "pending";
}

static json_t *
item_json(struct review *rv, const struct item_row *r, double now)
{
	sqlite3_stmt	*s;
	json_t		*j, *dec = NULL;
	int64_t		 nf = 0, score = 0;
	char		 state[32] = "active";
	int		 claimed = strcmp(item_status(r, now), "claimed") == 0;

	s = q(rv, Q_R_NFIND);
	sqlite3_bind_int64(s, 1, r->id);
	if (sqlite3_step(s) == SQLITE_ROW)
		nf = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	(void)account_score(rv, r->account, now, &score);
	(void)account_state(rv, r->account, state, sizeof(state));
	if (r->decided > 0)
		dec = json_pack("{ss ss ss? so}", "decision", r->decision,
		    "moderator", r->decided_by, "reason", r->reason, "at",
		    iso(r->decided));
	j = json_pack("{sI ss ss ss sI sI ss so so so? so? so?}",
	    "id", (json_int_t)r->id, "account", r->account,
	    "status", item_status(r, now), "severity", sev_name(r->severity),
	    "findings", (json_int_t)nf, "score", (json_int_t)score,
	    "account_state", state, "created", iso(r->created),
	    "updated", iso(r->updated),
	    "claimed_by", claimed ? json_string(r->claimed_by) : NULL,
	    "lease_until", claimed ? iso(r->lease_until) : NULL,
	    "decision", r->decided > 0 ? dec : NULL);
	return j;
}

/* One finding row (SELECT FINDING_COLS) as JSON. */
#define FINDING_COLS "id, rule, clause, severity, bucket, key, object, " \
	"path, offset, excerpt, sha256, found, state, review, account"

static json_t *
finding_json(sqlite3_stmt *s)
{
	int	sev = sqlite3_column_int(s, 3), st = sqlite3_column_int(s, 12);
	json_t	*path = json_loads(col_str(s, 7), 0, NULL);

	return json_pack("{sI ss ss ss ss so so ss so sI so ss so ss so "
	    "so}",
	    "id", (json_int_t)sqlite3_column_int64(s, 0),
	    "rule", col_str(s, 1), "clause", col_str(s, 2),
	    "severity", sev_name(sev), "suggestion", review_suggestion(sev),
	    "bucket", jstr(col_str(s, 4)), "key", jstr(col_str(s, 5)),
	    "object", col_str(s, 6),
	    "path", path != NULL ? path : json_array(),
	    "offset", (json_int_t)sqlite3_column_int64(s, 8),
	    "excerpt", jstr(col_str(s, 9)), "sha256", col_str(s, 10),
	    "found", iso(sqlite3_column_double(s, 11)),
	    "state", finding_states[st >= 0 && st < 4 ? st : 0],
	    "review", sqlite3_column_type(s, 13) == SQLITE_NULL ?
	    json_null() : json_integer(sqlite3_column_int64(s, 13)),
	    "account", jstr(col_str(s, 14)));
}

/* Runs a one-off SELECT with one int64 or text parameter into an array. */
static json_t *
select_array(struct review *rv, const char *query, int64_t ip,
    const char *tp, json_t *(*row)(sqlite3_stmt *))
{
	sqlite3_stmt	*s;
	json_t		*a = json_array();
	int		 rc;

	if (a == NULL || sqlite3_prepare_v2(rv->db, query, -1, &s, NULL) !=
	    SQLITE_OK) {
		if (a != NULL)
			(void)fail(rv, query);
		json_decref(a);
		return NULL;
	}
	if (tp != NULL)
		sqlite3_bind_text(s, 1, tp, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(s, 1, ip);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(a, row(s));
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *
feed_row(sqlite3_stmt *s)
{
	json_t	*data = json_loads(col_str(s, 5), 0, NULL);

	return json_pack("{sI ss so so so so}",
	    "id", (json_int_t)sqlite3_column_int64(s, 0),
	    "type", col_str(s, 2), "at", iso(sqlite3_column_double(s, 1)),
	    "account", jstr(col_str(s, 3)),
	    "review", sqlite3_column_type(s, 4) == SQLITE_NULL ? json_null() :
	    json_integer(sqlite3_column_int64(s, 4)),
	    "data", data != NULL ? data : json_object());
}

enum vigil_err
review_item(struct review *rv, int64_t id, double now, json_t **out)
{
	struct item_row	 r;
	json_t		*j, *f, *h;
	enum vigil_err	 rc;

	*out = NULL;
	if ((rc = item_get(rv, id, &r)) != VIGIL_OK)
		return rc;
	j = item_json(rv, &r, now);
	vg_free(r.reason);
	f = select_array(rv, "SELECT " FINDING_COLS " FROM findings WHERE "
	    "review = ?1 ORDER BY severity DESC, id", id, NULL, finding_json);
	h = select_array(rv, "SELECT id, at, type, account, review, data "
	    "FROM feed WHERE review = ?1 ORDER BY id", id, NULL, feed_row);
	if (j == NULL || f == NULL || h == NULL) {
		json_decref(j);
		json_decref(f);
		json_decref(h);
		return VIGIL_E_NOMEM;
	}
	json_object_set_new(j, "findings", f);
	json_object_set_new(j, "history", h);
	*out = j;
	return VIGIL_OK;
}

/* The item after an action, as review_item() returns it. */
static enum vigil_err
item_after(struct review *rv, int64_t id, double now, json_t **item,
    enum vigil_err rc)
{
	if (rc != VIGIL_OK || item == NULL)
		return rc;
	return review_item(rv, id, now, item);
}

static void
subject_of(char *buf, size_t len, int64_t id)
{
	snprintf(buf, len, "review/%lld", (long long)id);
}

enum vigil_err
review_claim(struct review *rv, int64_t id, const char *mod, double now,
    json_t **item, char *why, size_t whylen)
{
	struct item_row	 r;
	sqlite3_stmt	*s;
	json_t		*d;
	char		 subj[32];
	double		 until = now + (double)rv->cfg->claim_lease;
	int		 own;
	enum vigil_err	 rc;

	if ((rc = tx_begin(rv, &own)) != VIGIL_OK)
		return rc;
	if ((rc = item_get(rv, id, &r)) != VIGIL_OK)
		return tx_end(rv, own, rc);
	vg_free(r.reason);
	if (r.decided > 0) {
		snprintf(why, whylen, "item %lld is already decided (%s by %s)",
		    (long long)id, r.decision, r.decided_by);
		return tx_end(rv, own, VIGIL_E_LIMIT);
	}
	if (*r.claimed_by != '\0' && r.lease_until > now &&
	    strcmp(r.claimed_by, mod) != 0) {
		json_t *t = iso(r.lease_until);

		snprintf(why, whylen, "item %lld is claimed by %s until %s",
		    (long long)id, r.claimed_by, json_string_value(t));
		json_decref(t);
		return tx_end(rv, own, VIGIL_E_LIMIT);
	}
	s = q(rv, Q_R_CLAIM);
	sqlite3_bind_int64(s, 1, id);
	bind_str(s, 2, mod);
	sqlite3_bind_double(s, 3, until);
	sqlite3_bind_double(s, 4, now);
	if ((rc = run(rv, Q_R_CLAIM)) == VIGIL_OK) {
		d = json_pack("{ss so}", "moderator", mod, "lease_until",
		    iso(until));
		subject_of(subj, sizeof(subj), id);
		if (d == NULL)
			rc = VIGIL_E_NOMEM;
		else if ((rc = feed_add(rv, "review.claimed", r.account, id, d,
		    now)) == VIGIL_OK)
			rc = review_audit(rv, mod, "claim", subj, r.account, d,
			    now);
		json_decref(d);
	}
	return item_after(rv, id, now, item, tx_end(rv, own, rc));
}

/* Whether mod holds the claim on r now; if not, why says so. */
static int
holds(const struct item_row *r, const char *mod, double now, char *why,
    size_t whylen)
{
	if (r->decided > 0) {
		snprintf(why, whylen, "item %lld is already decided (%s by %s)",
		    (long long)r->id, r->decision, r->decided_by);
		return 0;
	}
	if (*r->claimed_by == '\0' || r->lease_until <= now) {
		snprintf(why, whylen, "item %lld is not claimed by %s: claim "
		    "it first", (long long)r->id, mod);
		return 0;
	}
	if (strcmp(r->claimed_by, mod) != 0) {
		snprintf(why, whylen, "item %lld is claimed by %s, not %s",
		    (long long)r->id, r->claimed_by, mod);
		return 0;
	}
	return 1;
}

enum vigil_err
review_release(struct review *rv, int64_t id, const char *mod, double now,
    json_t **item, char *why, size_t whylen)
{
	struct item_row	 r;
	sqlite3_stmt	*s;
	json_t		*d;
	char		 subj[32];
	int		 own;
	enum vigil_err	 rc;

	if ((rc = tx_begin(rv, &own)) != VIGIL_OK)
		return rc;
	if ((rc = item_get(rv, id, &r)) != VIGIL_OK)
		return tx_end(rv, own, rc);
	vg_free(r.reason);
	if (!holds(&r, mod, now, why, whylen))
		return tx_end(rv, own, VIGIL_E_LIMIT);
	s = q(rv, Q_R_CLAIM);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_null(s, 2);
	sqlite3_bind_null(s, 3);
	sqlite3_bind_double(s, 4, now);
	if ((rc = run(rv, Q_R_CLAIM)) == VIGIL_OK) {
		subject_of(subj, sizeof(subj), id);
		if ((d = json_pack("{ss}", "moderator", mod)) == NULL)
			rc = VIGIL_E_NOMEM;
		else if ((rc = feed_add(rv, "review.released", r.account, id,
		    d, now)) == VIGIL_OK)
			rc = review_audit(rv, mod, "release", subj, r.account,
			    d, now);
		json_decref(d);
	}
	return item_after(rv, id, now, item, tx_end(rv, own, rc));
}

enum vigil_err
review_decide(struct review *rv, int64_t id, const char *mod,
    const char *decision, const char *reason, double now, json_t **item,
    char *why, size_t whylen)
{
	struct item_row	 r;
	sqlite3_stmt	*s;
	json_t		*d;
	char		 subj[32], state[32];
	int64_t		 score = 0;
	int		 own, esc;
	enum vigil_err	 rc;

	esc = strcmp(decision, "escalate") == 0;
	if (!esc && strcmp(decision, "suspend") != 0 &&
	    strcmp(decision, "dismiss") != 0) {
		snprintf(why, whylen, "decision '%s' is not suspend, dismiss "
		    "or escalate", decision);
		return VIGIL_E_INVAL;
	}
	if ((rc = tx_begin(rv, &own)) != VIGIL_OK)
		return rc;
	if ((rc = item_get(rv, id, &r)) != VIGIL_OK)
		return tx_end(rv, own, rc);
	vg_free(r.reason);
	if (!holds(&r, mod, now, why, whylen))
		return tx_end(rv, own, VIGIL_E_LIMIT);
	if (esc && r.escalated) {
		snprintf(why, whylen, "item %lld is already escalated",
		    (long long)id);
		return tx_end(rv, own, VIGIL_E_LIMIT);
	}
	if (esc) {
		s = q(rv, Q_R_ESCALATE);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_double(s, 2, now);
		rc = run(rv, Q_R_ESCALATE);
	} else {
		s = q(rv, Q_R_DECIDE);
		sqlite3_bind_int64(s, 1, id);
		bind_str(s, 2, decision);
		bind_str(s, 3, mod);
		bind_str(s, 4, reason);
		sqlite3_bind_double(s, 5, now);
		rc = run(rv, Q_R_DECIDE);
	}
	if (rc == VIGIL_OK && strcmp(decision, "dismiss") == 0) {
		s = q(rv, Q_R_DISMISS);
		sqlite3_bind_int64(s, 1, id);
		rc = run(rv, Q_R_DISMISS);
	}
	subject_of(subj, sizeof(subj), id);
	if (rc == VIGIL_OK) {
		if ((d = json_pack("{ss ss ss}", "decision", decision,
		    "moderator", mod, "reason", reason)) == NULL)
			rc = VIGIL_E_NOMEM;
		else if ((rc = feed_add(rv, "review.decided", r.account, id, d,
		    now)) == VIGIL_OK)
			rc = review_audit(rv, mod, "decision", subj, r.account,
			    d, now);
		json_decref(d);
	}
	if (rc == VIGIL_OK && !esc &&
	    (rc = account_state(rv, r.account, state, sizeof(state))) ==
	    VIGIL_OK && (rc = account_score(rv, r.account, now, &score)) ==
	    VIGIL_OK) {
		const char *to = strcmp(decision, "suspend") == 0 ?
		    "suspended" : "cleared";

		if (strcmp(state, to) != 0)
			rc = account_move(rv, r.account, state, to, mod,
			    reason, id, score, now);
	}
	return item_after(rv, id, now, item, tx_end(rv, own, rc));
}

/* Accounts --------------------------------------------------------------- */

static json_t *
item_summary_row(sqlite3_stmt *s)
{
	double		 now = sqlite3_column_double(s, 8);
	const char	*status;

	if (sqlite3_column_type(s, 2) != SQLITE_NULL)
		status = "decided";
	else if (sqlite3_column_type(s, 5) != SQLITE_NULL &&
	    sqlite3_column_double(s, 6) > now)
		status = "claimed";
	else
		status = sqlite3_column_int(s, 7) ? "escalated" : "pending";
	return json_pack("{sI ss ss sb so so}",
	    "id", (json_int_t)sqlite3_column_int64(s, 0),
	    "severity", sev_name(sqlite3_column_int(s, 1)),
	    "status", status,
	    "decided", sqlite3_column_type(s, 2) != SQLITE_NULL,
	    "decision", jstr(col_str(s, 3)),
	    "created", iso(sqlite3_column_double(s, 4)));
}

enum vigil_err
review_account(struct review *rv, const char *id, double now, json_t **out)
{
	char		 state[32];
	int64_t		 score = 0;
	json_t		*j, *f, *r, *h;
	enum vigil_err	 rc;

	*out = NULL;
	if ((rc = account_state(rv, id, state, sizeof(state))) != VIGIL_OK ||
	    (rc = account_score(rv, id, now, &score)) != VIGIL_OK)
		return rc;
	f = select_array(rv, "SELECT " FINDING_COLS " FROM findings WHERE "
	    "account = ?1 ORDER BY id DESC LIMIT 1000", 0, id, finding_json);
	r = select_array(rv, "SELECT id, severity, decided, decision, created, "
	    "claimed_by, lease_until, escalated, (julianday('now') - "
	    "2440587.5) * 86400.0 FROM "
	    "review WHERE account = ?1 ORDER BY id", 0, id, item_summary_row);
	h = select_array(rv, "SELECT id, at, type, account, review, data "
	    "FROM feed WHERE account = ?1 ORDER BY id", 0, id, feed_row);
	j = json_pack("{ss ss sI sI sI}", "id", id, "state", state, "score",
	    (json_int_t)score, "threshold",
	    (json_int_t)rv->cfg->flag_threshold, "window_days",
	    (json_int_t)rv->cfg->score_window_days);
	if (j == NULL || f == NULL || r == NULL || h == NULL) {
		json_decref(j);
		json_decref(f);
		json_decref(r);
		json_decref(h);
		return VIGIL_E_NOMEM;
	}
	json_object_set_new(j, "findings", f);
	json_object_set_new(j, "review", r);
	json_object_set_new(j, "history", h);
	*out = j;
	return VIGIL_OK;
}

enum vigil_err
review_reinstate(struct review *rv, const char *account, const char *mod,
    const char *reason, double now, json_t **acct, char *why, size_t whylen)
{
	char		state[32];
	int64_t		score = 0;
	int		own;
	enum vigil_err	rc;

	if ((rc = tx_begin(rv, &own)) != VIGIL_OK)
		return rc;
	if ((rc = account_state(rv, account, state, sizeof(state))) !=
	    VIGIL_OK)
		return tx_end(rv, own, rc);
	if (strcmp(state, "suspended") != 0) {
		snprintf(why, whylen, "account %s is %s, not suspended",
		    account, state);
		return tx_end(rv, own, VIGIL_E_LIMIT);
	}
	if ((rc = account_score(rv, account, now, &score)) == VIGIL_OK)
		rc = account_move(rv, account, state, "active", mod, reason, 0,
		    score, now);
	if ((rc = tx_end(rv, own, rc)) != VIGIL_OK || acct == NULL)
		return rc;
	return review_account(rv, account, now, acct);
}

/* Lists -------------------------------------------------------------------- */

enum vigil_err
review_list(struct review *rv, const char *status, const char *after,
    size_t limit, double now, json_t **out)
{
	static const struct {
		const char *name, *where;
	} filters[] = {
		{ "pending", "decided IS NULL AND escalated = 0 AND "
		    "(claimed_by IS NULL OR lease_until <= ?1)" },
		{ "claimed", "decided IS NULL AND claimed_by IS NOT NULL AND "
		    "lease_until > ?1" },
		{ "escalated", "decided IS NULL AND escalated = 1 AND "
		    "(claimed_by IS NULL OR lease_until <= ?1)" },
		{ "decided", "decided IS NOT NULL AND ?1 = ?1" },
		{ "open", "decided IS NULL AND ?1 = ?1" },
		{ "all", "?1 = ?1" },
	};
	const char	*where = NULL;
	char		 query[1024], next[96];
	sqlite3_stmt	*s;
	struct item_row	 r;
	json_t		*items, *j;
	double		 ac = 0;
	int		 asev = 0, rc;
	long long	 aid = 0;
	size_t		 n = 0;

	*out = NULL;
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
		if (strcmp(filters[i].name, status) == 0)
			where = filters[i].where;
	if (where == NULL)
		return VIGIL_E_INVAL;
	if (after != NULL && sscanf(after, "%lf,%d,%lld", &ac, &asev, &aid) !=
	    3)
		return VIGIL_E_SYNTAX;
	snprintf(query, sizeof(query), "SELECT id, account, severity, "
	    "created, updated, claimed_by, lease_until, escalated, decision, "
	    "decided_by, reason, decided FROM review WHERE %s%s ORDER BY "
	    "created, severity DESC, id LIMIT ?5", where, after == NULL ? "" :
	    " AND (created > ?2 OR (created = ?2 AND (severity < ?3 OR "
	    "(severity = ?3 AND id > ?4))))");
	if (sqlite3_prepare_v2(rv->db, query, -1, &s, NULL) != SQLITE_OK)
		return fail(rv, query);
	sqlite3_bind_double(s, 1, now);
	if (after != NULL) {
		sqlite3_bind_double(s, 2, ac);
		sqlite3_bind_int(s, 3, asev);
		sqlite3_bind_int64(s, 4, aid);
	}
	sqlite3_bind_int64(s, 5, (sqlite3_int64)limit + 1);
	if ((items = json_array()) == NULL) {
		sqlite3_finalize(s);
		return VIGIL_E_NOMEM;
	}
	*next = '\0';
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		item_fill(s, &r);
		if (n++ == limit) {
			vg_free(r.reason);
			break;
		}
		json_array_append_new(items, item_json(rv, &r, now));
		vg_free(r.reason);
		snprintf(next, sizeof(next), "%.17g,%d,%lld", r.created,
		    r.severity, (long long)r.id);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(items);
		return fail(rv, "review list");
	}
	j = json_pack("{so so}", "items", items, "next", n > limit ?
	    json_string(next) : json_null());
	if (j == NULL)
		return VIGIL_E_NOMEM;
	*out = j;
	return VIGIL_OK;
}

enum vigil_err
review_accounts(struct review *rv, const char *state, const char *after,
    size_t limit, double now, json_t **out)
{
	sqlite3_stmt	*s;
	json_t		*a, *j;
	const char	*last = NULL;
	char		*next = NULL;
	int64_t		 score;
	size_t		 n = 0;
	int		 rc;

	*out = NULL;
	if (sqlite3_prepare_v2(rv->db, "SELECT id, state, updated FROM "
	    "accounts WHERE (?1 IS NULL OR state = ?1) AND id > ?2 ORDER BY "
	    "id LIMIT ?3", -1, &s, NULL) != SQLITE_OK)
		return fail(rv, "accounts");
	bind_str(s, 1, state);
	bind_str(s, 2, after != NULL ? after : "");
	sqlite3_bind_int64(s, 3, (sqlite3_int64)limit + 1);
	if ((a = json_array()) == NULL) {
		sqlite3_finalize(s);
		return VIGIL_E_NOMEM;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n++ == limit)
			break;
		last = col_str(s, 0);
		vg_free(next);
		next = vg_strdup(last);
		score = 0;
		(void)account_score(rv, last, now, &score);
		json_array_append_new(a, json_pack("{ss ss sI so}", "id", last,
		    "state", col_str(s, 1), "score", (json_int_t)score,
		    "updated", iso(sqlite3_column_double(s, 2))));
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		vg_free(next);
		json_decref(a);
		return fail(rv, "accounts");
	}
	j = json_pack("{so so}", "accounts", a, "next", n > limit && next ?
	    json_string(next) : json_null());
	vg_free(next);
	if (j == NULL)
		return VIGIL_E_NOMEM;
	*out = j;
	return VIGIL_OK;
}

/* Feed --------------------------------------------------------------------- */

int64_t
review_feed_last(struct review *rv)
{
	sqlite3_stmt	*s = q(rv, Q_FEED_LAST);
	int64_t		 last = 0;

	if (sqlite3_step(s) == SQLITE_ROW)
		last = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return last;
}

enum vigil_err
review_feed(struct review *rv, int64_t after, size_t limit, json_t **out,
    int64_t *last)
{
	sqlite3_stmt	*s = q(rv, Q_FEED_LIST);
	json_t		*a;
	int		 rc;

	*out = NULL;
	*last = review_feed_last(rv);
	if ((a = json_array()) == NULL)
		return VIGIL_E_NOMEM;
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(a, feed_row(s));
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return fail(rv, "feed");
	}
	*out = a;
	return VIGIL_OK;
}

enum vigil_err
review_feed_event(struct review *rv, int64_t id, char **json)
{
	sqlite3_stmt	*s = q(rv, Q_FEED_ONE);
	json_t		*e = NULL;
	int		 rc;

	*json = NULL;
	sqlite3_bind_int64(s, 1, id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		e = feed_row(s);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return VIGIL_E_NOTFOUND;
	if (rc != SQLITE_ROW)
		return fail(rv, "feed event");
	if (e == NULL || (*json = json_dumps(e, JSON_COMPACT)) == NULL) {
		json_decref(e);
		return VIGIL_E_NOMEM;
	}
	json_decref(e);
	return VIGIL_OK;
}

/* Audit -------------------------------------------------------------------- */

static json_t *
audit_row(sqlite3_stmt *s)
{
	json_t	*d = col_str(s, 6) ? json_loads(col_str(s, 6), 0, NULL) : NULL;

	return json_pack("{sI so ss ss so so so}",
	    "id", (json_int_t)sqlite3_column_int64(s, 0),
	    "at", iso(sqlite3_column_double(s, 1)), "actor", col_str(s, 2),
	    "action", col_str(s, 3), "subject", jstr(col_str(s, 4)),
	    "account", jstr(col_str(s, 5)),
	    "detail", d != NULL ? d : json_null());
}

enum vigil_err
review_audit_query(struct review *rv, const char *subject, int64_t after,
    size_t limit, json_t **out)
{
	sqlite3_stmt	*s = q(rv, Q_AUDIT_Q);
	json_t		*a;
	int64_t		 lastid = 0;
	size_t		 n = 0;
	int		 rc;

	*out = NULL;
	if ((a = json_array()) == NULL)
		return VIGIL_E_NOMEM;
	bind_str(s, 1, subject);
	sqlite3_bind_int64(s, 2, after);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)limit + 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n++ == limit)
			break;
		lastid = sqlite3_column_int64(s, 0);
		json_array_append_new(a, audit_row(s));
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(a);
		return fail(rv, "audit");
	}
	*out = json_pack("{so so}", "records", a, "next", n > limit ?
	    json_integer(lastid) : json_null());
	return *out != NULL ? VIGIL_OK : VIGIL_E_NOMEM;
}

/* Days a record is kept: never less than 90, whatever the config (IV.3). */
static double
retention(uint64_t days)
{
	return days < 90 ? 90.0 : (double)days;
}

/* Runs a purge query for records older than days; *n gets how many went. */
static enum vigil_err
purge_older(struct review *rv, int query, double days, double now,
    int64_t *n)
{
	sqlite3_stmt	*s = q(rv, query);
	enum vigil_err	 rc;

	sqlite3_bind_double(s, 1, now - days * 86400.0);
	if ((rc = run(rv, query)) == VIGIL_OK)
		*n = sqlite3_changes(rv->db);
	return rc;
}

enum vigil_err
review_purge(struct review *rv, double now, int64_t *n)
{
	double		 days = retention(rv->cfg->audit_retention_days);
	int64_t		 nfeed;
	json_t		*d;
	int		 own;
	enum vigil_err	 rc;

	*n = 0;
	if ((rc = tx_begin(rv, &own)) != VIGIL_OK)
		return rc;
	if ((rc = purge_older(rv, Q_PURGE_AUDIT, days, now, n)) == VIGIL_OK)
		rc = purge_older(rv, Q_PURGE_FEED, days, now, &nfeed);
	if (rc == VIGIL_OK) {
		d = json_pack("{sI sI}", "deleted", (json_int_t)*n,
		    "retention_days", (json_int_t)days);
		rc = d != NULL ? review_audit(rv, "policy", "purge", "audit",
		    NULL, d, now) : VIGIL_E_NOMEM;
		json_decref(d);
	}
	return tx_end(rv, own, rc);
}

enum vigil_err
review_purge_verdicts(struct review *rv, double now, int64_t batch,
    struct review_purge_pos *pos, int64_t *n)
{
	double		 days = retention(rv->cfg->verdict_retention_days);
	sqlite3_stmt	*s;
	int		 own, step;
	enum vigil_err	 rc;

	*n = 0;
	if ((rc = tx_begin(rv, &own)) != VIGIL_OK)
		return rc;
	s = q(rv, Q_PURGE_VERDICTS);
	sqlite3_bind_double(s, 1, now - days * 86400.0);
	sqlite3_bind_int64(s, 2, batch);
	sqlite3_bind_int64(s, 3, pos->id);
	sqlite3_bind_double(s, 4, pos->scanned);
	/* RETURNING promises no order: keep the greatest (scanned, id). */
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		double	sc = sqlite3_column_double(s, 0);
		int64_t	id = sqlite3_column_int64(s, 1);

		if (sc > pos->scanned || (sc == pos->scanned && id > pos->id)) {
			pos->scanned = sc;
			pos->id = id;
		}
		(*n)++;
	}
	sqlite3_reset(s);
	if (step != SQLITE_DONE)
		rc = fail(rv, "verdicts");
	return tx_end(rv, own, rc);
}

/* Webhooks ----------------------------------------------------------------- */

enum vigil_err
review_hook_get(struct review *rv, const char *url, int64_t *delivered)
{
	sqlite3_stmt	*s = q(rv, Q_HOOK_GET);
	int		 rc;

	*delivered = 0;
	bind_str(s, 1, url);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*delivered = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return VIGIL_E_NOTFOUND;
	return rc == SQLITE_ROW ? VIGIL_OK : fail(rv, "webhook");
}

enum vigil_err
review_hook_set(struct review *rv, const char *url, int64_t delivered,
    int failures, const char *error, double now)
{
	sqlite3_stmt	*s = q(rv, Q_HOOK_SET);

	bind_str(s, 1, url);
	sqlite3_bind_int64(s, 2, delivered);
	sqlite3_bind_int(s, 3, failures);
	bind_str(s, 4, error);
	sqlite3_bind_double(s, 5, now);
	return run(rv, Q_HOOK_SET);
}
