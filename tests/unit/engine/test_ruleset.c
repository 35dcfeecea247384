/*
 * test_ruleset.c: the YARA-subset parser accepts what it promises and
 * refuses everything else with the right file:line:column.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/core.h"
#include "vigil/engine.h"

static char	tmpdir[] = "/tmp/vigil-rs-XXXXXX";

static void
write_file(const char *name, const char *src)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(src, f);
	fclose(f);
}

static enum vigil_err
compile_src(const char *src, struct eng_diag *d, struct eng_ruleset **rsp)
{
	char			 path[512];
	struct eng_ruleset	*rs = NULL;
	enum vigil_err		 err;

	write_file("t.yar", src);
	snprintf(path, sizeof(path), "%s/t.yar", tmpdir);
	err = eng_ruleset_compile(path, ENG_MODE_AUTO, &rs, d);
	if (rsp != NULL)
		*rsp = rs;
	else
		eng_ruleset_unref(rs);
	return err;
}

#define META "  meta:\n    clause = \"IV.9(8)\"\n    severity = \"medium\"\n"

static void
test_accepts_subset(void **state)
{
	struct eng_diag		 d;
	struct eng_ruleset	*rs;
	size_t			 counts[ENG_NCLAUSES];
	const char		*src =
	    "/* header */\n"
	    "rule a : tag1 tag2 {\n" META
	    "    description = \"x\"\n    mime = \"text/*\"\n    n = 3\n"
	    "  strings:\n"
	    "    $t = \"tab\\there \\\"q\\\" \\x41\" nocase wide ascii fullword\n"
	    "    $h = { 4D 5A ?? 0? ?F [2-4] (AA | BB CC) [3] DD }\n"
	    "    $r = /ab[c-e]{2,}x?\\d+\\/(f|g)/is\n"
	    "    $k1 = \"k1\"\n    $k2 = \"k2\"\n"
	    "  condition:\n"
	    "    ($t or #h > 2) and not $r at 0 or $r in (0..1KB) or\n"
	    "    filesize < 2MB and 1 of ($k*) or all of them or\n"
	    "    any of ($t, $h) or 2 of them or true or false\n"
	    "}\n";

	(void)state;
	if (compile_src(src, &d, &rs) != VIGIL_OK)
		fail_msg("%d:%d: %s", d.line, d.column, d.msg);
	assert_int_equal(eng_ruleset_nrules(rs), 1);
	eng_ruleset_clause_counts(rs, counts);
	assert_int_equal(counts[7], 1);
	assert_int_equal(strlen(eng_ruleset_version(rs)), 64);
	eng_ruleset_unref(rs);
}

struct bad {
	const char	*src;
	int		 line, col;
	const char	*msg;	/* substring */
};

static void
test_refuses_with_position(void **state)
{
	static const struct bad bad[] = {
		{ "rule a {\n" META "  strings:\n    $a = \"x\" xor\n"
		  "  condition:\n    $a\n}\n", 6, 14, "xor" },
		{ "import \"pe\"\n", 1, 1, "import" },
		{ "rule a {\n" META "  condition:\n    pe.is_dll()\n}\n", 6, 5,
		  "pe" },
		{ "rule a {\n" META "  strings:\n    $a = \"x\"\n  condition:\n"
		  "    @a[1] == 0\n}\n", 8, 5, "offsets" },
		{ "rule a {\n  meta:\n    severity = \"low\"\n  condition:\n"
		  "    true\n}\n", 1, 1, "clause" },
		{ "rule a {\n  meta:\n    clause = \"IV.9(9)\"\n", 3, 14,
		  "unknown clause" },
		{ "rule a {\n" META "  strings:\n    $a = \"x\"\n    $b = \"y\"\n"
		  "  condition:\n    $a\n}\n", 1, 1, "unreferenced" },
		{ "rule a {\n" META "  strings:\n    $a = /a(?=b)/\n  condition:\n"
		  "    $a\n}\n", 6, 12, "(?" },
		{ "rule a {\n" META "  strings:\n    $a = \"\\q\"\n", 6, 12,
		  "escape" },
		{ "rule a {\n" META "  strings:\n    $a = { 4D [2] }\n", 6, 19,
		  "jump" },
		{ "rule a {\n" META "  condition:\n    $a\n}\n", 6, 5,
		  "undefined" },
		{ "rule a {\n" META "  strings:\n    $a = \"x\"\n  condition:\n"
		  "    $a at filesize\n}\n", 8, 11, "constant" },
		{ "rule a {\n" META "  condition:\n    for any i in (1..2) : "
		  "(true)\n}\n", 6, 5, "for" },
		{ "rule a {\n" META "  condition:\n    true\n}\nrule a {\n" META
		  "  condition:\n    true\n}\n", 8, 6, "duplicate" },
		{ "rule a {\n" META "  condition:\n    /* open\n", 6, 5,
		  "unterminated comment" },
		{ "private rule a {}", 1, 1, "private" },
	};
	struct eng_diag d;
	int		failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (compile_src(bad[i].src, &d, NULL) == VIGIL_OK) {
			print_error("case %zu compiled\n", i);
			failed++;
			continue;
		}
		if (d.line != bad[i].line || d.column != bad[i].col ||
		    strstr(d.msg, bad[i].msg) == NULL ||
		    strstr(d.file, "t.yar") == NULL) {
			print_error("case %zu: got %s:%d:%d: %s; want "
			    "%d:%d: ...%s\n", i, d.file, d.line, d.column,
			    d.msg, bad[i].line, bad[i].col, bad[i].msg);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void
test_include_and_dir(void **state)
{
	struct eng_diag		 d;
	struct eng_ruleset	*rs;
	char			 path[512];

	(void)state;
	write_file("inc.yara", "rule inc {\n" META "  condition:\n true\n}\n");
	write_file("main.yar", "include \"inc.yara\"\nrule m {\n" META
	    "  condition:\n true\n}\n");
	write_file("t.yar", "rule t {\n" META "  condition:\n true\n}\n");
	write_file("skip.txt", "not a rule file");
	snprintf(path, sizeof(path), "%s/main.yar", tmpdir);
	assert_int_equal(eng_ruleset_compile(path, ENG_MODE_AUTO, &rs, &d),
	    VIGIL_OK);
	assert_int_equal(eng_ruleset_nrules(rs), 2);
	eng_ruleset_unref(rs);
	/* A directory: inc.yara, main.yar (which includes inc: duplicate). */
	write_file("main.yar", "rule m {\n" META "  condition:\n true\n}\n");
	assert_int_equal(eng_ruleset_compile(tmpdir, ENG_MODE_AUTO, &rs, &d),
	    VIGIL_OK);
	assert_int_equal(eng_ruleset_nrules(rs), 3);
	eng_ruleset_unref(rs);
	/* An include cycle is refused where it happens. */
	write_file("main.yar", "include \"main.yar\"\n");
	snprintf(path, sizeof(path), "%s/main.yar", tmpdir);
	assert_int_not_equal(eng_ruleset_compile(path, ENG_MODE_AUTO, &rs,
	    &d), VIGIL_OK);
	assert_non_null(strstr(d.msg, "cycle"));
	assert_int_equal(d.line, 1);
	snprintf(path, sizeof(path), "%s/main.yar", tmpdir);
	unlink(path);
}

/* Every allocation failure is an error, never a crash or a leak. */
static void
test_alloc_failures(void **state)
{
	struct eng_ruleset	*rs;
	struct eng_diag		 d;
	char			 path[512];
	enum vigil_err		 err;
	unsigned long		 n;

	(void)state;
	write_file("t.yar", "rule a {\n" META "  strings:\n    $a = \"x\"\n"
	    "    $b = /y+z/\n  condition:\n    $a or #b > 1\n}\n");
	snprintf(path, sizeof(path), "%s/t.yar", tmpdir);
	for (n = 1; n < 10000; n++) {
		vg_alloc_fail_after(n);
		err = eng_ruleset_compile(path, ENG_MODE_AUTO, &rs, &d);
		vg_alloc_fail_after(0);
		if (err == VIGIL_OK) {
			eng_ruleset_unref(rs);
			break;
		}
		assert_true(err == VIGIL_E_NOMEM || err == VIGIL_E_SYNTAX ||
		    err == VIGIL_E_LIMIT);
	}
	assert_true(n > 5 && n < 10000);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_subset),
		cmocka_unit_test(test_refuses_with_position),
		cmocka_unit_test(test_include_and_dir),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
