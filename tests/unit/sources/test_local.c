/*
 * test_local.c: the local object source: key checks, reading objects
 * without leaving the tree, paged listing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/config.h"
#include "vigil/core.h"
#include "vigil/sources.h"

static void
test_key_valid(void **state)
{
	static const char *const good[] = { "a", "a/b", "a b/c.txt", "..a",
	    "a../b", "x/.hidden" };
	static const char *const bad[] = { "", "/a", "a//b", "a/", "..",
	    "a/../b", "a/..", "./a", "a/./b" };

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(source_key_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (source_key_valid(bad[i], strlen(bad[i])))
			fail_msg("accepted '%s'", bad[i]);
	assert_false(source_key_valid("a\0b", 3));
	assert_true(source_bucket_valid("b-1"));
	assert_false(source_bucket_valid("a/b"));
	assert_false(source_bucket_valid(".."));
	assert_false(source_bucket_valid(""));
}

static void
put(const char *root, const char *rel, const char *text)
{
	char	 path[4096];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static void
test_object_and_list(void **state)
{
	const struct source_backend	*be = source_backend_find("local");
	struct source_listing		 l;
	char				 root[] = "/tmp/vigil-local-XXXXXX";
	char				 path[4200], buf[16];
	void				*st;
	struct source_stat		 sst;
	int				 fd;

	(void)state;
	assert_non_null(be);
	assert_null(source_backend_find("nope"));
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/b", root);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/b/d", root);
	assert_int_equal(mkdir(path, 0700), 0);
	put(root, "b/one", "1");
	put(root, "b/d/two", "22");
	put(root, "b/three", "333");
	put(root, "secret", "s");
	snprintf(path, sizeof(path), "%s/b/link", root);
	assert_int_equal(symlink("../secret", path), 0);
	snprintf(path, sizeof(path), "%s/b/fifo", root);
	assert_int_equal(mkfifo(path, 0600), 0);

	assert_int_equal(be->open(root, &st), VIGIL_OK);
	assert_int_equal(be->object(st, "b", "d/two", &fd, &sst), VIGIL_OK);
	assert_int_equal(sst.size, 2);
	assert_true(sst.mtime > 1e9);
	assert_int_equal(read(fd, buf, sizeof(buf)), 2);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	close(fd);
	assert_int_equal(be->object(st, "b", "nope", &fd, &sst),
	    VIGIL_E_NOTFOUND);
	assert_int_equal(be->object(st, "b", "../secret", &fd, &sst),
	    VIGIL_E_INVAL);
	assert_int_equal(be->object(st, "b", "link", &fd, &sst),
	    VIGIL_E_UNSUPPORTED);
	assert_int_equal(be->object(st, "b", "fifo", &fd, &sst),
	    VIGIL_E_UNSUPPORTED);
	assert_int_equal(be->object(st, "..", "secret", &fd, &sst),
	    VIGIL_E_INVAL);

	assert_int_equal(be->list(st, "b", NULL, NULL, NULL, 2, &l), VIGIL_OK);
	assert_int_equal(l.nkeys, 2);
	assert_true(l.more);
	assert_string_equal(l.keys[0], "d/two");
	assert_int_equal(l.sizes[0], 2);
	assert_string_equal(l.keys[1], "one");
	source_listing_free(&l);
	assert_int_equal(be->list(st, "b", NULL, "one", NULL, 2, &l), VIGIL_OK);
	assert_int_equal(l.nkeys, 1);
	assert_false(l.more);
	assert_string_equal(l.keys[0], "three");
	source_listing_free(&l);
	/* A prefix keeps only the keys under it. */
	assert_int_equal(be->list(st, "b", "d/", NULL, NULL, 10, &l), VIGIL_OK);
	assert_int_equal(l.nkeys, 1);
	assert_string_equal(l.keys[0], "d/two");
	source_listing_free(&l);
	be->close(st);

	snprintf(path, sizeof(path), "rm -rf '%s'", root);
	assert_int_equal(system(path), 0);
}

/* Quarantine on the local store: xattr tag, no-read mode, move; undo. */
static void
test_quarantine(void **state)
{
	const struct source_backend	*be = source_backend_find("local");
	char				 root[] = "/tmp/vigil-test-qXXXXXX";
	char				 path[512], err[256], *memo = NULL;
	char				*pmemo = NULL;
	void				*st;
	struct stat			 sb;
	char				 v[16];

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "mkdir -p '%s/b/d' && printf x > "
	    "'%s/b/d/f' && chmod 644 '%s/b/d/f'", root, root, root);
	assert_int_equal(system(path), 0);
	assert_int_equal(be->open(root, &st), VIGIL_OK);
	snprintf(path, sizeof(path), "%s/b/d/f", root);

	if (be->action(st, "b", "d/f", VG_Q_TAG, 0, "q", NULL, &memo, err,
	    sizeof(err)) == VIGIL_OK) {
		assert_int_equal(getxattr(path, "user.vigil-verdict", v,
		    sizeof(v)), 7);
		assert_int_equal(be->action(st, "b", "d/f", VG_Q_TAG, 1, "q",
		    NULL, &memo, err, sizeof(err)), VIGIL_OK);
		assert_true(getxattr(path, "user.vigil-verdict", v,
		    sizeof(v)) == -1);
	} else	/* a filesystem without user xattrs says so */
		assert_non_null(strstr(err, "xattr"));

	assert_int_equal(be->action(st, "b", "d/f", VG_Q_PRIVATE, 0, "q",
	    NULL, &pmemo, err, sizeof(err)), VIGIL_OK);
	assert_string_equal(pmemo, "644");
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	assert_int_equal(be->action(st, "b", "d/f", VG_Q_MOVE, 0, "q", NULL,
	    &memo, err, sizeof(err)), VIGIL_OK);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/q/d/f", root);
	assert_int_equal(access(path, F_OK), 0);
	/* Nothing left to move: a clear error, not a crash. */
	assert_int_not_equal(be->action(st, "b", "d/f", VG_Q_MOVE, 0, "q",
	    NULL, &memo, err, sizeof(err)), VIGIL_OK);
	assert_non_null(strstr(err, "b/d/f"));
	assert_int_equal(be->action(st, "b", "d/f", VG_Q_MOVE, 1, "q", NULL,
	    &memo, err, sizeof(err)), VIGIL_OK);
	assert_int_equal(be->action(st, "b", "d/f", VG_Q_PRIVATE, 1, "q",
	    pmemo, &memo, err, sizeof(err)), VIGIL_OK);
	snprintf(path, sizeof(path), "%s/b/d/f", root);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	/* Refused names never reach the filesystem. */
	assert_int_equal(be->action(st, "b", "../x", VG_Q_MOVE, 0, "q", NULL,
	    &memo, err, sizeof(err)), VIGIL_E_INVAL);
	vg_free(pmemo);
	be->close(st);
	snprintf(path, sizeof(path), "rm -rf '%s'", root);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_valid),
		cmocka_unit_test(test_object_and_list),
		cmocka_unit_test(test_quarantine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
