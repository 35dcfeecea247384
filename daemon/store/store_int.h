/*
 * store_int.h: what a store backend provides (daemon/store/ only).
 *
 * A backend is a struct of functions looked up by name, the way
 * OpenSMTPD's scheduler_backend.c picks scheduler_ramqueue or
 * scheduler_null.  store.c forwards each store_*() call of
 * include/vigil/store.h to the backend of the object it is given, so a
 * PostgreSQL backend can sit beside sqlite.c without the server knowing.
 * Each entry has the contract of the store_*() function of the same name.
 */
#ifndef VIGIL_STORE_INT_H
#define VIGIL_STORE_INT_H

#include "vigil/store.h"

/* A backend's own struct begins with this, so a cast reaches the rest. */
struct store {
	const struct store_backend	*be;
};

struct store_reader {
	const struct store_backend	*be;
};

struct store_backend {
	const char	*name;
	enum vigil_err	(*open)(const char *dir, struct store **,
			    char *err, size_t errlen);
	void		(*close)(struct store *);
	enum vigil_err	(*begin)(struct store *);
	enum vigil_err	(*begin_lazy)(struct store *);
	enum vigil_err	(*commit)(struct store *);
	void		(*rollback)(struct store *);
	enum vigil_err	(*ping)(struct store *);
	enum vigil_err	(*inbox_add)(struct store *, const struct store_item *,
			    int *added);
	enum vigil_err	(*inbox_cancel)(struct store *, const char *bucket,
			    const char *key, int *n);
	enum vigil_err	(*inbox_claim)(struct store *, int suspects,
			    size_t max, struct store_item **, size_t *n);
	enum vigil_err	(*inbox_recover)(struct store *, int max_attempts,
			    struct store_item **poison, size_t *n);
	enum vigil_err	(*inbox_finish)(struct store *, int64_t id);
	enum vigil_err	(*inbox_release)(struct store *, int64_t id);
	enum vigil_err	(*inbox_stats)(struct store *, int64_t *pending,
			    double *oldest_age);
	enum vigil_err	(*verdict_put)(struct store *,
			    const struct store_verdict *);
	enum vigil_err	(*verdict_get)(struct store *, const char *bucket,
			    const char *key, struct store_verdict **);
	enum vigil_err	(*reader_open)(const char *dir, struct store_reader **);
	void		(*reader_close)(struct store_reader *);
	enum vigil_err	(*reader_cached)(struct store_reader *,
			    const char *sha256, const char *ruleset,
			    char **result);
};

extern const struct store_backend store_sqlite_backend;

/* The backend called name ("sqlite"), or NULL. */
const struct store_backend *store_backend_find(const char *name);

#endif /* VIGIL_STORE_INT_H */
