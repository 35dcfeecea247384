/*
 * test_s3.c: the S3 client's parts that need no server: SigV4 key
 * encoding, client set-up and its failures, refused arguments, and a
 * connection refused.  tests/integration/s3 runs it against real servers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/core.h"
#include "vigil/s3.h"

static void
test_uri_encode(void **state)
{
	static const struct {
		const char	*in;
		int		 keep_slash;
		const char	*out;
	} cases[] = {
		{ "dir/a b+c%d \xc3\xa9?x#y", 1,
		    "dir/a%20b%2Bc%25d%20%C3%A9%3Fx%23y" },
		{ "dir/a b", 0, "dir%2Fa%20b" },
		{ "AZaz09-._~", 1, "AZaz09-._~" },
		{ "!*'()=&;:@$,[]", 1,
		    "%21%2A%27%28%29%3D%26%3B%3A%40%24%2C%5B%5D" },
		{ "a/../b//c", 1, "a/../b//c" },
		{ "", 1, "" },
	};
	char	*s;
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = s3_uri_encode(cases[i].in, cases[i].keep_slash);
		assert_non_null(s);
		assert_string_equal(s, cases[i].out);
		vg_free(s);
	}
}

static struct s3_client *
client(const char *endpoint, const char *region, char *err, size_t errlen)
{
	struct s3_config	c;

	s3_config_default(&c);
	c.endpoint = endpoint;
	c.region = region;
	c.access_key = "AKID";
	c.secret_key = "secret";
	c.retries = 0;
	return s3_client_new(&c, err, errlen);
}

static void
test_client_new(void **state)
{
	struct s3_config	 c;
	struct s3_client	*cl;
	char			 err[256];

	(void)state;
	s3_config_default(&c);
	assert_int_equal(c.verify_tls, 1);
	assert_int_equal(c.retries, 3);
	assert_int_equal(c.path_style, 1);

	assert_null(client(NULL, NULL, err, sizeof(err)));
	assert_string_equal(err, "no endpoint");
	assert_null(client("ftp://host/", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "not http"));
	assert_null(client("http://", NULL, err, sizeof(err)));
	assert_null(client("http://h", "us:east", err, sizeof(err)));
	assert_string_equal(err, "bad region");

	cl = client("https://s3.eu-west-1.amazonaws.com/base/", "eu-west-1",
	    err, sizeof(err));
	assert_non_null(cl);
	s3_client_free(cl);
	s3_client_free(NULL);

	/* Credentials from the environment, and none at all. */
	s3_config_default(&c);
	c.endpoint = "http://127.0.0.1:9";
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_null(s3_client_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "no credentials"));
	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_SESSION_TOKEN", "token", 1);
	cl = s3_client_new(&c, err, sizeof(err));
	assert_non_null(cl);
	s3_client_free(cl);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
}

/* Every allocation of s3_client_new() may fail: NULL, a message, no leak. */
static void
test_client_new_nomem(void **state)
{
	struct s3_client	*cl;
	char			 err[256];
	unsigned long		 n;

	(void)state;
	for (n = 1; n < 100; n++) {
		vg_alloc_fail_after(n);
		cl = client("http://127.0.0.1:9", "eu-west-1", err,
		    sizeof(err));
		vg_alloc_fail_after(0);
		if (cl != NULL) {
			s3_client_free(cl);
			break;
		}
		assert_string_equal(err, "out of memory");
	}
	assert_true(n > 1 && n < 100);
}

static int
never(const void *buf, size_t n, void *arg)
{
	(void)buf;
	(void)n;
	(void)arg;
	fail_msg("callback called");
	return -1;
}

static void
test_refused_arguments(void **state)
{
	struct s3_client	*cl;
	struct s3_status	 st;
	struct s3_page		 page;
	struct s3_object_info	 info;
	char			 err[256];

	(void)state;
	cl = client("http://127.0.0.1:9", NULL, err, sizeof(err));
	assert_non_null(cl);
	assert_int_equal(s3_list(cl, "b", NULL, NULL, NULL, 0, &page, &st),
	    VIGIL_E_INVAL);
	assert_non_null(strstr(st.msg, "max"));
	assert_int_equal(s3_list(cl, "b", NULL, NULL, NULL, 1001, &page,
	    &st), VIGIL_E_INVAL);
	assert_int_equal(s3_head(cl, "a/b", "k", &info, &st), VIGIL_E_INVAL);
	assert_int_equal(s3_head(cl, "b", "", &info, &st), VIGIL_E_INVAL);
	assert_int_equal(s3_put_acl(cl, "b", "k", "public read", &st),
	    VIGIL_E_INVAL);
	assert_int_equal(s3_get(cl, "b", "k", 5, 0, never, NULL, &st),
	    VIGIL_OK);
	assert_int_equal(s3_get(cl, "b", "k", UINT64_MAX, 2, never, NULL,
	    &st), VIGIL_E_INVAL);
	s3_client_free(cl);
}

static void
test_connection_refused(void **state)
{
	struct s3_client	*cl;
	struct s3_status	 st;
	char			 err[256];

	(void)state;
	/* Port 9 (discard) is closed on any test machine worth the name. */
	cl = client("http://127.0.0.1:9", NULL, err, sizeof(err));
	assert_non_null(cl);
	assert_int_equal(s3_get(cl, "b", "k", 0, UINT64_MAX, never, NULL,
	    &st), VIGIL_E_IO);
	assert_int_equal(st.http, 0);
	assert_non_null(strstr(st.msg, "GET b/k: "));
	assert_non_null(strstr(st.msg, "Connection refused"));
	assert_null(strstr(st.msg, "secret"));
	s3_client_free(cl);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_client_new),
		cmocka_unit_test(test_client_new_nomem),
		cmocka_unit_test(test_refused_arguments),
		cmocka_unit_test(test_connection_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
