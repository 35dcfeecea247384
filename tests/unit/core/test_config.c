/*
 * test_config.c: the settings table: defaults, the INI parser, errors
 * naming file:line, command-line overrides, and that the shipped
 * packaging/vigil.conf is exactly what the table writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/config.h"
#include "vigil/core.h"

static void
test_defaults(void **state)
{
	struct vg_config	*cfg;
	char			 err[256];

	(void)state;
	assert_non_null(cfg = vg_config_new());
	assert_int_equal(vg_config_finish(cfg, err, sizeof(err)), VIGIL_OK);
	assert_string_equal(cfg->listen, "127.0.0.1:8750");
	assert_string_equal(cfg->state_dir, "./var");
	assert_string_equal(cfg->buckets, "./var/buckets");
	assert_string_equal(cfg->rules, "./rules");
	assert_int_equal(cfg->workers, 0);
	assert_int_equal(cfg->max_body, 64 << 20);
	assert_int_equal(cfg->limits.max_depth, 16);
	assert_int_equal(cfg->account_from, VG_ACCOUNT_OWNER);
	assert_int_equal(cfg->ntokens, 0);
	vg_config_free(cfg);
}

static void
test_load(void **state)
{
	struct vg_config	*cfg;
	char			 err[256];

	(void)state;
	assert_non_null(cfg = vg_config_new());
	assert_int_equal(vg_config_load_string(cfg,
	    "; a comment\n"
	    "listen = [::1]:9000\n"
	    "[serve]\n"
	    "state_dir = /tmp/x\n"
	    "max_body = 1M\n"
	    "account_from = uploader\n"
	    "token = hook 0123456789abcdefXYZ\n"
	    "token = admin aaaaaaaaaaaaaaaaaaaaaaaa\n",
	    "t.conf", err, sizeof(err)), VIGIL_OK);
	/* A flag after the file wins. */
	assert_int_equal(vg_config_set(cfg, "workers", "3", err, sizeof(err)),
	    VIGIL_OK);
	assert_int_equal(vg_config_finish(cfg, err, sizeof(err)), VIGIL_OK);
	assert_string_equal(cfg->listen, "[::1]:9000");
	assert_string_equal(cfg->buckets, "/tmp/x/buckets");
	assert_int_equal(cfg->max_body, 1 << 20);
	assert_int_equal(cfg->workers, 3);
	assert_int_equal(cfg->account_from, VG_ACCOUNT_UPLOADER);
	assert_int_equal(cfg->ntokens, 2);
	assert_int_equal(cfg->tokens[0].role, VG_ROLE_HOOK);
	assert_string_equal(cfg->tokens[0].secret, "0123456789abcdefXYZ");
	assert_int_equal(cfg->tokens[1].role, VG_ROLE_ADMIN);
	vg_config_free(cfg);
}

static void
test_errors(void **state)
{
	static const struct {
		const char	*text;
		const char	*msg;
	} cases[] = {
		{ "workers = x\n", "t.conf:1: workers: 'x' is not a number" },
		{ "\n\nnope = 1\n", "t.conf:3: unknown setting 'nope'" },
		{ "[other]\nworkers = 1\n", "t.conf:2: unknown section" },
		{ "max_body = 0\n", "t.conf:1: max_body: '0' is not a size" },
		{ "token = root aaaaaaaaaaaaaaaaaaaa\n", "t.conf:1: token:" },
		{ "token = hook short\n", "t.conf:1: token: the secret" },
		{ "this is not ini\n", "t.conf:1: syntax error" },
	};
	struct vg_config	*cfg;
	char			 err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_non_null(cfg = vg_config_new());
		assert_int_equal(vg_config_load_string(cfg, cases[i].text,
		    "t.conf", err, sizeof(err)), VIGIL_E_SYNTAX);
		if (strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("case %zu: got '%s', want '%s...'", i, err,
			    cases[i].msg);
		vg_config_free(cfg);
	}
}

static void
test_finish_errors(void **state)
{
	static const char *const cases[][2] = {
		{ "listen", "localhost" },
		{ "listen", "1.2.3.4:99999" },
		{ "listen", "::1:80" },
		{ "account_from", "moon" },
		{ "account_from", "map" },	/* needs account_map */
		{ "log_level", "loud" },
	};
	struct vg_config	*cfg;
	char			 err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_non_null(cfg = vg_config_new());
		assert_int_equal(vg_config_set(cfg, cases[i][0], cases[i][1],
		    err, sizeof(err)), VIGIL_OK);
		assert_int_equal(vg_config_finish(cfg, err, sizeof(err)),
		    VIGIL_E_INVAL);
		vg_config_free(cfg);
	}
}

static void
test_split_listen(void **state)
{
	char		host[64];
	uint16_t	port;

	(void)state;
	assert_int_equal(vg_config_split_listen("127.0.0.1:0", host,
	    sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 0);
	assert_int_equal(vg_config_split_listen("[::]:8750", host,
	    sizeof(host), &port), 0);
	assert_string_equal(host, "::");
	assert_int_equal(port, 8750);
	assert_int_equal(vg_config_split_listen(":80", host, sizeof(host),
	    &port), -1);
	assert_int_equal(vg_config_split_listen("a:", host, sizeof(host),
	    &port), -1);
}

/* The shipped file is the table's own output, and it parses. */
static void
test_packaged_file(void **state)
{
	struct vg_config	*cfg;
	char			*gen = NULL, *shipped;
	size_t			 genlen = 0;
	long			 n;
	FILE			*f;
	char			 err[256];

	(void)state;
	assert_non_null(f = open_memstream(&gen, &genlen));
	vg_config_write(f, NULL);
	fclose(f);
	f = fopen(VIGIL_SOURCE_DIR "/packaging/vigil.conf", "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	assert_non_null(shipped = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(shipped, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (strcmp(gen, shipped) != 0)
		fail_msg("packaging/vigil.conf is stale: regenerate it with "
		    "vigil serve --print-defaults");
	assert_non_null(cfg = vg_config_new());
	assert_int_equal(vg_config_load_string(cfg, shipped, "vigil.conf",
	    err, sizeof(err)), VIGIL_OK);
	vg_config_free(cfg);
	free(gen);
	free(shipped);
}

static void
test_nomem(void **state)
{
	struct vg_config	*cfg;

	(void)state;
	for (unsigned long n = 1; ; n++) {
		vg_alloc_fail_after(n);
		cfg = vg_config_new();
		vg_alloc_fail_after(0);
		if (cfg != NULL) {
			vg_config_free(cfg);
			break;
		}
	}
}

/* [policy], moderator names and [bucket "NAME"] sections. */
static void
test_policy_and_buckets(void **state)
{
	struct vg_config	*cfg;
	const struct vg_bucket	*b;
	char			 err[256];
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "[policy]\naudit_retention_days = 30\n",
		  "x.conf:2: audit_retention_days: '30' is not a number from 90" },
		{ "[policy]\nweight_clause = IV.9(9) low 1\n",
		  "x.conf:2: weight_clause: 'IV.9(9) low 1' is not" },
		{ "token = admin aaaaaaaaaaaaaaaaaaaa bob\n",
		  "x.conf:1: token: only a moderator token names someone" },
		{ "[bucket]\nsource = s3\n", "x.conf:2: section [bucket]: "
		  "expected [bucket \"NAME\"]" },
		{ "[bucket \"b\"]\nverify_tls = maybe\n",
		  "x.conf:2: verify_tls: 'maybe' is not yes or no" },
		{ "[bucket \"b\"]\nnope = 1\n", "x.conf:2: unknown setting" },
	};
	static const struct {
		const char *text, *want;
	} unfinished[] = {
		{ "[policy]\nauto_suspend = IV.9(7), bogus\n",
		  "auto_suspend: 'bogus' is not a clause" },
		{ "[policy]\nexcerpt = all\n", "excerpt: 'all' is not context" },
		{ "[policy]\nwebhook = ftp://x\n", "webhook: 'ftp://x' is not" },
		{ "[bucket \"b\"]\nsource = s3\n", "bucket \"b\": source = s3 "
		  "needs an endpoint" },
		{ "[bucket \"b\"]\nschedule = 0 25 * * *\n", "bucket \"b\": "
		  "schedule: hour: 25 is out of range 0-23" },
		{ "[bucket \"b\"]\nmode = fast\n", "bucket \"b\": mode 'fast'" },
	};

	(void)state;
	assert_non_null(cfg = vg_config_new());
	assert_int_equal(vg_config_load_string(cfg,
	    "token = moderator mmmmmmmmmmmmmmmmmmmm alice\n"
	    "token = moderator nnnnnnnnnnnnnnnnnnnn\n"
	    "[policy]\nweight_high = 40\n"
	    "weight_clause = IV.9(8) * 0\n"
	    "weight_clause = network-safety critical 500\n"
	    "auto_suspend = network-safety, IV.9(7)\n"
	    "excerpt = redacted\n"
	    "webhook = http://127.0.0.1:9/hook s3cret\n"
	    "[bucket \"photos\"]\nsource = s3\nendpoint = http://127.0.0.1:9000\n"
	    "schedule = 0 3 * * *\nverify_tls = no\n"
	    "[bucket \"docs\"]\nmode = full\n", "t.conf", err, sizeof(err)),
	    VIGIL_OK);
	assert_int_equal(vg_config_finish(cfg, err, sizeof(err)), VIGIL_OK);
	assert_string_equal(cfg->tokens[0].name, "alice");
	assert_null(cfg->tokens[1].name);
	assert_int_equal(cfg->weight[2], 40);
	assert_int_equal(cfg->nweights, 2);
	assert_int_equal(cfg->weights[0].severity, -1);
	assert_int_equal(cfg->weights[1].weight, 500);
	assert_int_equal(cfg->auto_suspend, (1U << 8) | (1U << 6));
	assert_int_equal(cfg->excerpt, VG_EXCERPT_REDACTED);
	assert_int_equal(cfg->webhooks.n, 1);
	assert_non_null(b = vg_config_bucket(cfg, "photos"));
	assert_string_equal(b->source, "s3");
	assert_string_equal(b->schedule, "0 3 * * *");
	assert_int_equal(b->verify_tls, 0);
	assert_string_equal(b->region, "us-east-1");
	assert_non_null(b = vg_config_bucket(cfg, "docs"));
	assert_string_equal(b->source, "local");
	assert_int_equal(b->verify_tls, 1);
	assert_null(vg_config_bucket(cfg, "other"));
	vg_config_free(cfg);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_non_null(cfg = vg_config_new());
		assert_int_not_equal(vg_config_load_string(cfg, bad[i].text,
		    "x.conf", err, sizeof(err)), VIGIL_OK);
		if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
			fail_msg("%s: got \"%s\"", bad[i].want, err);
		vg_config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(unfinished) / sizeof(unfinished[0]);
	    i++) {
		assert_non_null(cfg = vg_config_new());
		assert_int_equal(vg_config_load_string(cfg, unfinished[i].text,
		    "x.conf", err, sizeof(err)), VIGIL_OK);
		assert_int_not_equal(vg_config_finish(cfg, err, sizeof(err)),
		    VIGIL_OK);
		if (strncmp(err, unfinished[i].want,
		    strlen(unfinished[i].want)) != 0)
			fail_msg("%s: got \"%s\"", unfinished[i].want, err);
		vg_config_free(cfg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_finish_errors),
		cmocka_unit_test(test_split_listen),
		cmocka_unit_test(test_policy_and_buckets),
		cmocka_unit_test(test_packaged_file),
		cmocka_unit_test(test_nomem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
