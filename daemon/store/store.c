/*
 * store.c: the store interface (see include/vigil/store.h).
 *
 * DESIGN
 * Backends are structs of functions (store_int.h) found by name in
 * backends[], like OpenSMTPD's scheduler_backend.c; each store or reader
 * object remembers its backend, and every store_*() call here forwards to
 * it.  SQLite (sqlite.c) is the only backend and the default; the
 * functions that only free plain structs live here, shared by all.
 */
#include <string.h>

#include "vigil/core.h"
#include "vigil/store.h"

#include "store_int.h"

#define DEFAULT_BACKEND	"sqlite"

static const struct store_backend *const backends[] = {
	&store_sqlite_backend,
};

const struct store_backend *
store_backend_find(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

enum vigil_err
store_open(const char *dir, struct store **out, char *err, size_t errlen)
{
	return store_backend_find(DEFAULT_BACKEND)->open(dir, out, err,
	    errlen);
}

void
store_close(struct store *s)
{
	if (s != NULL)
		s->be->close(s);
}

enum vigil_err
store_begin(struct store *s)
{
	return s->be->begin(s);
}

enum vigil_err
store_begin_lazy(struct store *s)
{
	return s->be->begin_lazy(s);
}

enum vigil_err
store_commit(struct store *s)
{
	return s->be->commit(s);
}

void
store_rollback(struct store *s)
{
	s->be->rollback(s);
}

enum vigil_err
store_ping(struct store *s)
{
	return s->be->ping(s);
}

enum vigil_err
store_inbox_add(struct store *s, const struct store_item *it, int *added)
{
	return s->be->inbox_add(s, it, added);
}

enum vigil_err
store_inbox_cancel(struct store *s, const char *bucket, const char *key,
    int *n)
{
	return s->be->inbox_cancel(s, bucket, key, n);
}

enum vigil_err
store_inbox_claim(struct store *s, int suspects, size_t max,
    struct store_item **items, size_t *n)
{
	return s->be->inbox_claim(s, suspects, max, items, n);
}

enum vigil_err
store_inbox_recover(struct store *s, int max_attempts,
    struct store_item **poison, size_t *n)
{
	return s->be->inbox_recover(s, max_attempts, poison, n);
}

enum vigil_err
store_inbox_finish(struct store *s, int64_t id)
{
	return s->be->inbox_finish(s, id);
}

enum vigil_err
store_inbox_release(struct store *s, int64_t id)
{
	return s->be->inbox_release(s, id);
}

enum vigil_err
store_inbox_stats(struct store *s, int64_t *pending, double *oldest_age)
{
	return s->be->inbox_stats(s, pending, oldest_age);
}

enum vigil_err
store_verdict_put(struct store *s, const struct store_verdict *v)
{
	return s->be->verdict_put(s, v);
}

enum vigil_err
store_verdict_get(struct store *s, const char *bucket, const char *key,
    struct store_verdict **out)
{
	return s->be->verdict_get(s, bucket, key, out);
}

enum vigil_err
store_reader_open(const char *dir, struct store_reader **out)
{
	return store_backend_find(DEFAULT_BACKEND)->reader_open(dir, out);
}

void
store_reader_close(struct store_reader *r)
{
	if (r != NULL)
		r->be->reader_close(r);
}

enum vigil_err
store_reader_cached(struct store_reader *r, const char *sha256,
    const char *ruleset, char **result)
{
	return r->be->reader_cached(r, sha256, ruleset, result);
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
