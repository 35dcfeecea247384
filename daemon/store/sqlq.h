/*
 * sqlq.h: a table of prepared statements on one SQLite connection, the
 * way sqlite.c, review.c and bscan.c each keep their SQL: an array of
 * texts indexed by an enum, prepared once (persistent), reset before each
 * use.  daemon/store/ only.
 */
#ifndef VIGIL_STORE_SQLQ_H
#define VIGIL_STORE_SQLQ_H

#include <stddef.h>

#include <sqlite3.h>

#include "vigil/vigil.h"

struct sqlq {
	sqlite3			*db;
	const char *const	*sql;
	sqlite3_stmt		**st;
	int			 n;
	const char		*who;	/* what log lines start with */
};

/* Prepares n statements; VIGIL_E_IO with err naming the one refused. */
enum vigil_err	sqlq_open(struct sqlq *, sqlite3 *, const char *const *sql,
		    int n, const char *who, char *err, size_t errlen);
void		sqlq_close(struct sqlq *);
/* Statement which, reset and unbound, ready for binding. */
sqlite3_stmt	*sqlq_get(struct sqlq *, int which);
/* Steps statement which, expecting no rows; resets it. */
enum vigil_err	sqlq_run(struct sqlq *, int which);
/* Logs SQLite's last error about what; VIGIL_E_IO. */
enum vigil_err	sqlq_fail(struct sqlq *, const char *what);
/* Binds text (NULL binds NULL). */
void		sqlq_bind_str(sqlite3_stmt *, int, const char *);
/* Column i as text, or a new copy of it (vg_free), NULL for NULL. */
const char	*sqlq_col(sqlite3_stmt *, int i);
char		*sqlq_col_dup(sqlite3_stmt *, int i);

#endif /* VIGIL_STORE_SQLQ_H */
