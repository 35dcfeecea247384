/*
 * sqlq.c: prepared statement tables (sqlq.h).
 */
#include <stdio.h>

#include "vigil/core.h"

#include "sqlq.h"

enum vigil_err
sqlq_open(struct sqlq *q, sqlite3 *db, const char *const *sql, int n,
    const char *who, char *err, size_t errlen)
{
	q->db = db;
	q->sql = sql;
	q->n = n;
	q->who = who;
	if ((q->st = vg_calloc((size_t)n, sizeof(*q->st))) == NULL)
		return VIGIL_E_NOMEM;
	for (int i = 0; i < n; i++)
		if (sqlite3_prepare_v3(db, sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &q->st[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "preparing \"%s\": %s", sql[i],
			    sqlite3_errmsg(db));
			sqlq_close(q);
			return VIGIL_E_IO;
		}
	return VIGIL_OK;
}

void
sqlq_close(struct sqlq *q)
{
	if (q->st == NULL)
		return;
	for (int i = 0; i < q->n; i++)
		sqlite3_finalize(q->st[i]);
	vg_free(q->st);
	q->st = NULL;
}

sqlite3_stmt *
sqlq_get(struct sqlq *q, int which)
{
	sqlite3_reset(q->st[which]);
	sqlite3_clear_bindings(q->st[which]);
	return q->st[which];
}

enum vigil_err
sqlq_fail(struct sqlq *q, const char *what)
{
	vg_log_warnx("%s: %s: %s", q->who, what, sqlite3_errmsg(q->db));
	return VIGIL_E_IO;
}

enum vigil_err
sqlq_run(struct sqlq *q, int which)
{
	int	rc = sqlite3_step(q->st[which]);

	sqlite3_reset(q->st[which]);
	return rc == SQLITE_DONE ? VIGIL_OK : sqlq_fail(q, q->sql[which]);
}

void
sqlq_bind_str(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

const char *
sqlq_col(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

char *
sqlq_col_dup(sqlite3_stmt *s, int i)
{
	return sqlq_col(s, i) != NULL ? vg_strdup(sqlq_col(s, i)) : NULL;
}
