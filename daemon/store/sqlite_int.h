/*
 * sqlite_int.h: what the SQLite backend shares with the other SQL of
 * daemon/store/ (review.c): its writer connection.
 */
#ifndef VIGIL_SQLITE_INT_H
#define VIGIL_SQLITE_INT_H

#include <sqlite3.h>

struct store;

/*
 * The writer connection of a store opened by the SQLite backend, or NULL
 * for another backend.  Use it under the same rules as the store: one
 * thread at a time, inside the caller's transactions.
 */
sqlite3		*store_sqlite_db(struct store *);

#endif /* VIGIL_SQLITE_INT_H */
