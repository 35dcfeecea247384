/*
 * test_event.c: S3 event notifications from AWS, MinIO and Ceph RGW, and
 * each one's way of encoding object keys.
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/config.h"
#include "vigil/core.h"
#include "vigil/server.h"
#include "vigil/sources.h"

static struct source_events *
parse_ok(const char *body)
{
	struct source_events	*evs;
	char			 err[256] = "";

	if (source_event_parse(body, strlen(body), &evs, err, sizeof(err)) !=
	    VIGIL_OK)
		fail_msg("parse failed: %s", err);
	return evs;
}

static void
test_decode_key(void **state)
{
	static const struct {
		enum source_flavor	 f;
		const char		*in, *out;
	} ok[] = {
		{ SOURCE_AWS, "a+b.txt", "a b.txt" },
		{ SOURCE_AWS, "dir/x%2By.txt", "dir/x+y.txt" },
		{ SOURCE_AWS, "caf%C3%A9", "caf\xc3\xa9" },
		{ SOURCE_MINIO, "dir%2Fsub%2Fa+b", "dir/sub/a b" },
		{ SOURCE_MINIO, "100%25", "100%" },
		{ SOURCE_CEPH, "a+b%2F c", "a+b%2F c" },
	};
	static const char *const bad[] = { "%", "%4", "%zz", "a%00b" };
	char	*s;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(source_event_decode_key(ok[i].f, ok[i].in,
		    &s), VIGIL_OK);
		assert_string_equal(s, ok[i].out);
		vg_free(s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(source_event_decode_key(SOURCE_AWS, bad[i],
		    &s), VIGIL_E_SYNTAX);
}

static void
test_aws(void **state)
{
	struct source_events	*evs;
	struct source_event	*e;

	(void)state;
	evs = parse_ok("{\"Records\":[{\"eventVersion\":\"2.1\","
	    "\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\","
	    "\"userIdentity\":{\"principalId\":\"AWS:UP\"},"
	    "\"s3\":{\"bucket\":{\"name\":\"b1\",\"ownerIdentity\":"
	    "{\"principalId\":\"OWN\"}},\"object\":{\"key\":\"dir/a+b%2Bc.txt\","
	    "\"size\":12,\"eTag\":\"e1\",\"versionId\":\"v1\","
	    "\"sequencer\":\"0A\"}}},"
	    "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectRemoved:Delete\","
	    "\"s3\":{\"bucket\":{\"name\":\"b1\"},\"object\":{\"key\":\"k\"}}}]}");
	assert_int_equal(evs->test, 0);
	assert_int_equal(evs->n, 2);
	e = &evs->ev[0];
	assert_int_equal(e->flavor, SOURCE_AWS);
	assert_int_equal(e->kind, SOURCE_EV_CREATED);
	assert_string_equal(e->name, "ObjectCreated:Put");
	assert_string_equal(e->bucket, "b1");
	assert_string_equal(e->key, "dir/a b+c.txt");
	assert_int_equal(e->size, 12);
	assert_string_equal(e->etag, "e1");
	assert_string_equal(e->version_id, "v1");
	assert_string_equal(e->owner, "OWN");
	assert_string_equal(e->uploader, "AWS:UP");
	assert_int_equal(evs->ev[1].kind, SOURCE_EV_REMOVED);
	assert_string_equal(evs->ev[1].etag, "");
	source_events_free(evs);
}

static void
test_minio(void **state)
{
	struct source_events	*evs;

	(void)state;
	/* One record: the decoded envelope Key wins. */
	evs = parse_ok("{\"EventName\":\"s3:ObjectCreated:Put\","
	    "\"Key\":\"photos/2024/a b+c.jpg\",\"Records\":[{"
	    "\"eventSource\":\"minio:s3\",\"eventName\":"
	    "\"s3:ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":"
	    "\"photos\"},\"object\":{\"key\":\"2024%2Fa+b%2Bc.jpg\","
	    "\"size\":5,\"eTag\":\"x\",\"sequencer\":\"17\"}}}]}");
	assert_int_equal(evs->n, 1);
	assert_int_equal(evs->ev[0].flavor, SOURCE_MINIO);
	assert_int_equal(evs->ev[0].kind, SOURCE_EV_CREATED);
	assert_string_equal(evs->ev[0].name, "ObjectCreated:Put");
	assert_string_equal(evs->ev[0].key, "2024/a b+c.jpg");
	source_events_free(evs);
	/* Without the envelope the record's key is query-unescaped. */
	evs = parse_ok("{\"Records\":[{\"eventSource\":\"minio:s3\","
	    "\"eventName\":\"s3:ObjectRemoved:Delete\",\"s3\":{\"bucket\":"
	    "{\"name\":\"p\"},\"object\":{\"key\":\"d%2Fx+y\"}}}]}");
	assert_int_equal(evs->ev[0].kind, SOURCE_EV_REMOVED);
	assert_string_equal(evs->ev[0].key, "d/x y");
	source_events_free(evs);
}

static void
test_ceph(void **state)
{
	struct source_events	*evs;

	(void)state;
	evs = parse_ok("{\"Records\":[{\"eventVersion\":\"2.2\","
	    "\"eventSource\":\"ceph:s3\",\"eventName\":"
	    "\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"cb\"},"
	    "\"object\":{\"key\":\"a+b %41.txt\",\"size\":\"1234\","
	    "\"eTag\":\"t\"}}}]}");
	assert_int_equal(evs->ev[0].flavor, SOURCE_CEPH);
	assert_string_equal(evs->ev[0].key, "a+b %41.txt");
	assert_int_equal(evs->ev[0].size, 1234);
	source_events_free(evs);
}

static void
test_test_event(void **state)
{
	struct source_events	*evs;

	(void)state;
	evs = parse_ok("{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\","
	    "\"Time\":\"2024-01-01T00:00:00Z\",\"Bucket\":\"b\"}");
	assert_int_equal(evs->test, 1);
	assert_int_equal(evs->n, 0);
	source_events_free(evs);
}

static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"not json",
		"[]",
		"{}",
		"{\"Records\":[{\"eventName\":\"ObjectCreated:Put\"}]}",
		/* a key escaping the bucket, in each encoding */
		"{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":"
		"{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":"
		"\"..%2Fetc%2Fpasswd\"}}}]}",
		"{\"Records\":[{\"eventSource\":\"ceph:s3\",\"eventName\":"
		"\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
		"\"object\":{\"key\":\"/abs\"}}}]}",
		"{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":"
		"{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"a%00b\"}}}]}",
		"{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":"
		"{\"bucket\":{\"name\":\"..\"},\"object\":{\"key\":\"k\"}}}]}",
	};
	struct source_events	*evs;
	char			 err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (source_event_parse(bad[i], strlen(bad[i]), &evs, err,
		    sizeof(err)) != VIGIL_E_SYNTAX)
			fail_msg("case %zu accepted", i);
		assert_true(err[0] != '\0');
	}
}

static void
test_dedup_and_account(void **state)
{
	struct source_events	*evs;
	struct vg_config	*cfg;
	char			*d, *a, err[256];
	char			*map[] = { "b1", "acct-9", NULL };

	(void)state;
	evs = parse_ok("{\"Records\":[{\"eventName\":\"ObjectCreated:Put\","
	    "\"userIdentity\":{\"principalId\":\"U\"},"
	    "\"s3\":{\"bucket\":{\"name\":\"b1\",\"ownerIdentity\":"
	    "{\"principalId\":\"O\"}},\"object\":{\"key\":\"cust42/x\","
	    "\"eTag\":\"e\",\"sequencer\":\"5\"}}}]}");
	assert_non_null(d = source_event_dedup(&evs->ev[0]));
	assert_string_equal(d, "e:e|s:5");
	vg_free(d);
	assert_non_null(cfg = vg_config_new());
	assert_int_equal(vg_config_finish(cfg, err, sizeof(err)), VIGIL_OK);
	a = srv_event_account(cfg, &evs->ev[0], NULL, NULL);
	assert_string_equal(a, "O");
	vg_free(a);
	cfg->account_from = VG_ACCOUNT_UPLOADER;
	a = srv_event_account(cfg, &evs->ev[0], NULL, NULL);
	assert_string_equal(a, "U");
	vg_free(a);
	cfg->account_from = VG_ACCOUNT_PREFIX;
	{
		regex_t	re;

		assert_int_equal(regcomp(&re, cfg->account_prefix,
		    REG_EXTENDED), 0);
		a = srv_event_account(cfg, &evs->ev[0], &re, NULL);
		assert_string_equal(a, "cust42");
		vg_free(a);
		regfree(&re);
	}
	cfg->account_from = VG_ACCOUNT_MAP;
	a = srv_event_account(cfg, &evs->ev[0], NULL, map);
	assert_string_equal(a, "acct-9");
	vg_free(a);
	vg_config_free(cfg);
	source_events_free(evs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_key),
		cmocka_unit_test(test_aws),
		cmocka_unit_test(test_minio),
		cmocka_unit_test(test_ceph),
		cmocka_unit_test(test_test_event),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_dedup_and_account),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
