/*
 * test_store.c: the store through its interface (store.c) over the SQLite
 * backend: migration, inbox dedup, cancel, claim and crash recovery with
 * attempt counting, verdicts, lazy and durable commits, and a log that
 * stays bounded under steady writes and reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/core.h"
#include "vigil/store.h"

static char	dir[] = "/tmp/vigil-store-XXXXXX";

static struct store *
open_store(void)
{
	struct store	*s;
	char		 err[256];

	if (store_open(dir, &s, err, sizeof(err)) != VIGIL_OK)
		fail_msg("store_open: %s", err);
	return s;
}

static int
add(struct store *s, const char *key, const char *dedup)
{
	struct store_item	it = { 0 };
	int			added;

	it.bucket = "b";
	it.key = (char *)key;
	it.dedup = (char *)dedup;
	assert_int_equal(store_inbox_add(s, &it, &added), VIGIL_OK);
	return added;
}

static void
free_items(struct store_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_item_free(&items[i]);
	vg_free(items);
}

static void
test_inbox(void **state)
{
	struct store		*s;
	struct store_item	*items;
	size_t			 n;
	int			 c;
	int64_t			 pending;
	double			 age;

	(void)state;
	s = open_store();
	assert_int_equal(store_begin(s), VIGIL_OK);
	assert_true(add(s, "k1", "e:1|s:1"));
	assert_false(add(s, "k1", "e:1|s:1"));	/* duplicate */
	assert_true(add(s, "k1", "e:2|s:2"));	/* a new version */
	assert_true(add(s, "k2", "e:1|s:1"));
	assert_true(add(s, "k3", "e:1|s:1"));
	assert_int_equal(store_commit(s), VIGIL_OK);
	assert_int_equal(store_inbox_cancel(s, "b", "k3", &c), VIGIL_OK);
	assert_int_equal(c, 1);
	assert_int_equal(store_inbox_stats(s, &pending, &age), VIGIL_OK);
	assert_int_equal(pending, 3);

	assert_int_equal(store_inbox_claim(s, 0, 2, &items, &n), VIGIL_OK);
	assert_int_equal(n, 2);
	assert_string_equal(items[0].key, "k1");
	assert_int_equal(items[0].attempts, 1);
	assert_int_equal(store_inbox_finish(s, items[0].id), VIGIL_OK);
	free_items(items, n);
	/* "Crash" with k1 (second version) running: reopen. */
	store_close(s);
	s = open_store();
	assert_int_equal(store_inbox_recover(s, 2, &items, &n), VIGIL_OK);
	assert_int_equal(n, 0);
	/* Fresh work excludes the suspect... */
	assert_int_equal(store_inbox_claim(s, 0, 10, &items, &n), VIGIL_OK);
	assert_int_equal(n, 1);
	assert_string_equal(items[0].key, "k2");
	assert_int_equal(items[0].attempts, 1);
	assert_int_equal(store_inbox_release(s, items[0].id), VIGIL_OK);
	free_items(items, n);
	/* ...which is claimed on its own, and crashes again. */
	assert_int_equal(store_inbox_claim(s, 1, 10, &items, &n), VIGIL_OK);
	assert_int_equal(n, 1);
	assert_string_equal(items[0].key, "k1");
	assert_int_equal(items[0].attempts, 2);
	free_items(items, n);
	store_close(s);
	s = open_store();
	/* k1 crashed twice: poison; k2 was released, not counted. */
	assert_int_equal(store_inbox_recover(s, 2, &items, &n), VIGIL_OK);
	assert_int_equal(n, 1);
	assert_string_equal(items[0].key, "k1");
	free_items(items, n);
	assert_int_equal(store_inbox_claim(s, 1, 10, &items, &n), VIGIL_OK);
	assert_int_equal(n, 0);
	vg_free(items);
	assert_int_equal(store_inbox_claim(s, 0, 10, &items, &n), VIGIL_OK);
	assert_int_equal(n, 1);
	assert_string_equal(items[0].key, "k2");
	assert_int_equal(items[0].attempts, 1);
	free_items(items, n);
	assert_int_equal(store_ping(s), VIGIL_OK);
	store_close(s);
}

static void
test_verdicts(void **state)
{
	struct store		*s;
	struct store_verdict	 v = { 0 }, *got;

	(void)state;
	s = open_store();
	assert_int_equal(store_verdict_get(s, "b", "x", &got),
	    VIGIL_E_NOTFOUND);
	v.bucket = "b";
	v.key = "x";
	v.name = "b/x";
	v.sha256 = "aa";
	v.ruleset = "r1";
	v.verdict = "clean";
	v.result = "{}";
	v.size = 7;
	assert_int_equal(store_verdict_put(s, &v), VIGIL_OK);
	v.verdict = "flagged";
	v.ruleset = "r2";
	assert_int_equal(store_verdict_put(s, &v), VIGIL_OK);
	assert_int_equal(store_verdict_get(s, "b", "x", &got), VIGIL_OK);
	assert_string_equal(got->verdict, "flagged");
	assert_string_equal(got->ruleset, "r2");
	assert_int_equal(got->size, 7);
	assert_null(got->etag);
	store_verdict_free(got);
	store_close(s);
}

/*
 * Lazy transactions (synchronous=NORMAL) and durable ones alternate on one
 * connection: both are visible after a reopen, and a rolled back lazy
 * one leaves nothing.
 */
static void
test_lazy(void **state)
{
	struct store		*s;
	struct store_verdict	*got;
	int64_t			 pending;
	double			 age;

	(void)state;
	s = open_store();
	assert_int_equal(store_begin_lazy(s), VIGIL_OK);
	assert_true(add(s, "lazy1", "e:1|s:1"));
	assert_int_equal(store_commit(s), VIGIL_OK);
	assert_int_equal(store_begin(s), VIGIL_OK);
	assert_true(add(s, "full1", "e:1|s:1"));
	assert_int_equal(store_commit(s), VIGIL_OK);
	assert_int_equal(store_begin_lazy(s), VIGIL_OK);
	assert_true(add(s, "gone", "e:1|s:1"));
	store_rollback(s);
	store_close(s);
	s = open_store();
	assert_int_equal(store_begin(s), VIGIL_OK);
	assert_false(add(s, "lazy1", "e:1|s:1"));
	assert_false(add(s, "full1", "e:1|s:1"));
	assert_true(add(s, "gone", "e:1|s:1"));
	assert_int_equal(store_commit(s), VIGIL_OK);
	assert_int_equal(store_inbox_stats(s, &pending, &age), VIGIL_OK);
	assert_true(pending >= 3);
	assert_int_equal(store_verdict_get(s, "b", "none", &got),
	    VIGIL_E_NOTFOUND);
	store_close(s);
}

static long long
file_size(const char *name)
{
	char		path[256];
	struct stat	st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/*
 * The daemon commits many small transactions while workers read the
 * verdict cache.  The log must be copied back into the database (the
 * checkpoint connection once never did it: it had not read the database,
 * so did not know it was in WAL mode) and must not grow without bound
 * (passive checkpoints never catch up with a busy writer): 48 MiB written
 * through the log leave it well under that.
 */
static void
test_wal_bounded(void **state)
{
	struct store		*s;
	struct store_reader	*rd;
	struct store_verdict	 v = { 0 };
	char			 sha[65], *res, big[2048];
	long long		 wal, db;

	(void)state;
	s = open_store();
	assert_int_equal(store_reader_open(dir, &rd), VIGIL_OK);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	v.name = "body";
	v.ruleset = "r1";
	v.verdict = "clean";
	v.result = big;
	v.size = 1;
	for (int i = 0; i < 3000; i++) {
		if (i == 300) {
			/*
			 * About 5 MiB in: below the truncate threshold, only
			 * the checkpoint thread (every 250 ms) copies it back.
			 */
			for (int t = 0; t < 40 &&
			    file_size("vigil.db") < (4 << 20); t++)
				usleep(100 * 1000);
			db = file_size("vigil.db");
			if (db < (4 << 20))
				fail_msg("the log was not copied back: "
				    "vigil.db is %lld bytes", db);
		}
		assert_int_equal(store_begin_lazy(s), VIGIL_OK);
		for (int k = 0; k < 8; k++) {
			snprintf(sha, sizeof(sha), "%064x", i * 8 + k);
			v.sha256 = sha;
			assert_int_equal(store_verdict_put(s, &v), VIGIL_OK);
		}
		assert_int_equal(store_commit(s), VIGIL_OK);
		if (store_reader_cached(rd, sha, "r1", &res) == VIGIL_OK)
			vg_free(res);
	}
	wal = file_size("vigil.db-wal");
	if (wal > (40 << 20))
		fail_msg("the log grew to %lld bytes", wal);
	store_reader_close(rd);
	store_close(s);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inbox),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_lazy),
		cmocka_unit_test(test_wal_bounded),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
