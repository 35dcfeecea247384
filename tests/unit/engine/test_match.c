/*
 * test_match.c: the matcher's promises, checked through match.c's own
 * interface: a result does not depend on how the bytes are chunked, the
 * Vectorscan and PCRE2-only paths agree, and counts, offsets, "at", "in",
 * fullword and variable-length strings mean what YARA means.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rules_src.h"

#include "vigil/core.h"
#include "vigil/engine.h"
#include "../../../daemon/engine/engine_int.h"
#include "../../../daemon/engine/ruleset_int.h"

static struct eng_ruleset *
compile(const char *src, enum eng_match_mode mode)
{
	struct eng_ruleset	*rs = rules_from_src(src, mode);

	if (rs == NULL)
		fail_msg("rules did not compile");
	return rs;
}

struct hits {
	int		matched[16];
	uint64_t	offset[16];
};

static void
on_hit(void *arg, unsigned rule, uint64_t off)
{
	struct hits *h = arg;

	if (rule < 16) {
		h->matched[rule] = 1;
		h->offset[rule] = off;
	}
}

/* Runs data through a fresh unit in chunks of the given size. */
static struct hits
run(struct eng_ruleset *rs, const void *data, size_t len, size_t chunk)
{
	struct match_ctx	*ctx;
	struct match_unit	*u;
	struct hits		 h;

	memset(&h, 0, sizeof(h));
	assert_int_equal(match_ctx_new(&ctx), VIGIL_OK);
	assert_int_equal(match_ctx_prepare(ctx, rs), VIGIL_OK);
	assert_int_equal(match_begin(ctx, 0, &u), VIGIL_OK);
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		assert_int_equal(match_feed(u, (const char *)data + off, n),
		    VIGIL_OK);
	}
	assert_int_equal(match_end(u, "text/plain", on_hit, &h), VIGIL_OK);
	match_ctx_free(ctx);
	return h;
}

static const size_t chunks[] = { 1, 2, 3, 7, 64, 4095, 65536, 1 << 20 };

/* Same answer for every chunking, under both engines. */
static void
check_all(const char *rules, const void *data, size_t len,
    const int *want, const int64_t *want_off, unsigned nrules)
{
	for (int mode = 0; mode < 2; mode++) {
		struct eng_ruleset *rs = compile(rules, mode ?
		    ENG_MODE_PCRE2 : ENG_MODE_AUTO);

		for (size_t c = 0; c < sizeof(chunks) / sizeof(*chunks); c++) {
			struct hits h = run(rs, data, len, chunks[c]);

			for (unsigned r = 0; r < nrules; r++) {
				if (h.matched[r] != want[r])
					fail_msg("rule %u: matched=%d, want %d "
					    "(chunk %zu, %s)", r, h.matched[r],
					    want[r], chunks[c],
					    mode ? "pcre2" : "auto");
				if (want[r] && want_off != NULL &&
				    want_off[r] >= 0 &&
				    h.offset[r] != (uint64_t)want_off[r])
					fail_msg("rule %u: offset %llu, want "
					    "%lld (chunk %zu, %s)", r,
					    (unsigned long long)h.offset[r],
					    (long long)want_off[r], chunks[c],
					    mode ? "pcre2" : "auto");
			}
		}
		eng_ruleset_unref(rs);
	}
}

#define META "meta: clause = \"IV.9(7)\" severity = \"low\" "

static void
test_first_last_byte(void **state)
{
	const char	*rules =
	    "rule first { " META "strings: $a = \"NEEDLE\" condition: $a at 0 }"
	    "rule last { " META "strings: $a = \"ENDTAG\" condition: "
	    "$a in (4090..4100) }"
	    "rule nowhere { " META "strings: $a = \"NEEDLE\" condition: "
	    "$a at 1 }";
	char		 buf[4096];
	int		 want[] = { 1, 1, 0 };
	int64_t		 off[] = { 0, 4090, -1 };

	(void)state;
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "NEEDLE", 6);
	memcpy(buf + sizeof(buf) - 6, "ENDTAG", 6);
	check_all(rules, buf, sizeof(buf), want, off, 3);
}

static void
test_straddle(void **state)
{
	const char	*rules =
	    "rule lit { " META "strings: $a = \"straddling-needle\" nocase "
	    "condition: $a }"
	    "rule re { " META "strings: $a = /id=[0-9]{6,12}x/ "
	    "condition: $a }"
	    "rule hex { " META "strings: $a = { 41 42 [1-300] 43 44 } "
	    "condition: #a == 1 }";
	size_t		 len = 300000;
	char		*buf = calloc(1, len);
	int		 want[] = { 1, 1, 1 };
	int64_t		 off[] = { 65530, 131069, 196600 };

	(void)state;
	memset(buf, '.', len);
	memcpy(buf + 65530, "STRADDLING-needle", 17);
	memcpy(buf + 131069, "id=12345678x", 12);
	memcpy(buf + 196600, "AB", 2);
	memcpy(buf + 196600 + 250, "CD", 2);
	check_all(rules, buf, len, want, off, 3);
	free(buf);
}

static void
test_counts(void **state)
{
	/* Overlapping literals count at each start, as in YARA. */
	const char	*rules =
	    "rule four { " META "strings: $a = \"aa\" condition: #a == 4 }"
	    "rule starts { " META "strings: $a = /a+b/ condition: #a == 5 }"
	    "rule two_of { " META "strings: $a = \"aa\" $b = \"zz\" "
	    "$c = \"ab\" condition: 2 of them }"
	    "rule all_of { " META "strings: $a = \"aa\" $b = \"zz\" "
	    "condition: all of them }"
	    "rule arith { " META "strings: $a = \"aa\" condition: "
	    "#a * 2 + 1 == 9 and filesize < 1KB }"
	    "rule notmatch { " META "strings: $a = \"zz\" condition: "
	    "not $a }";
	const char	*data = "aaaaab";
	int		 want[] = { 1, 1, 1, 0, 1, 1 };

	(void)state;
	check_all(rules, data, strlen(data), want, NULL, 6);
}

static void
test_fullword(void **state)
{
	const char	*rules =
	    "rule fw { " META "strings: $a = \"cat\" fullword condition: "
	    "#a == 2 }"
	    "rule widedog { " META "strings: $a = \"dog\" wide condition: $a }"
	    "rule both { " META "strings: $a = \"bird\" ascii wide "
	    "condition: #a == 2 }";
	const char	 data[] = "cat concat cats (cat)\0d\0o\0g\0bird b\0i\0r\0d\0";
	int		 want[] = { 1, 1, 1 };

	(void)state;
	check_all(rules, data, sizeof(data) - 1, want, NULL, 3);
}

/* Issue 3: which strings the delta text pass must match (delta.c). */
static void
test_delta_classify(void **state)
{
	static const struct {
		const char	*str;
		const char	*cond;	/* NULL: "$a" */
		int		 text_pass;
	} cases[] = {
		{ "\"casino\" nocase", NULL, 0 },
		{ "\"\xe6\xbe\xb3\xe9\x97\xa8\"", NULL, 0 },	/* 澳门 */
		{ "\"\xe4\xbc\xbc\"", NULL, 0 },	/* 似: E4 BC BC, whole */
		{ "\"gold, fish\"", NULL, 1 },
		{ "\"\xe6\xbe\xb3\xe9\x97\xa8\xef\xbc\x8c\"", NULL, 1 },	/* 澳门， */
		{ "\"cat\" fullword", NULL, 0 },
		{ "/AKIA[0-9A-Z]{16}/", NULL, 0 },
		{ "/\\bcasino\\b/", NULL, 0 },
		{ "/ab{2,5}c/", NULL, 0 },
		{ "/card[=:][0-9]+/", NULL, 1 },
		{ "/https?:/", NULL, 1 },
		{ "/a\\(b/", NULL, 1 },
		{ "/a[^\\n]{0,30}b/", NULL, 1 },
		{ "/a.b/", NULL, 1 },
		{ "/x\\W/", NULL, 1 },
		{ "/\\xbc\\x8c/", NULL, 1 },
		{ "{ BC 8C }", NULL, 1 },
		{ "{ E4 BC BC }", NULL, 0 },
		{ "{ 41 ?? 42 }", NULL, 1 },
		{ "{ 41 ( 42 | 43 ) }", NULL, 0 },	/* (?: is not ? : */
		{ "{ 41 ( 2C | 43 ) }", NULL, 1 },
		{ "\"\xef\xbd\x83" "asino\"", NULL, 1 },	/* ｃasino: folded */
		{ "\"casino\"", "$a in (0..100)", 1 },
		{ "\"casino\"", "not $a", 1 },
		{ "\"casino\"", "#a < 3", 1 },
		{ "\"casino\"", "#a >= 3", 0 },
		{ "\"casino\"", "$a and filesize < 100", 1 },
	};
	char	src[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct eng_ruleset *rs;

		snprintf(src, sizeof(src), "rule r { " META "strings: $a = %s "
		    "condition: %s }", cases[i].str, cases[i].cond ?
		    cases[i].cond : "$a");
		rs = compile(src, ENG_MODE_AUTO);
		if (rs->strings[0].text_pass != cases[i].text_pass)
			fail_msg("%s (%s): text_pass %d, want %d",
			    cases[i].str, cases[i].cond ? cases[i].cond : "$a",
			    rs->strings[0].text_pass, cases[i].text_pass);
		eng_ruleset_unref(rs);
	}
	/* A rule kept to the text layer has no raw answer to borrow. */
	{
		struct eng_ruleset *rs = compile("rule r { meta: clause = "
		    "\"IV.9(7)\" severity = \"low\" layer = \"text\" strings: "
		    "$a = \"casino\" condition: $a }", ENG_MODE_AUTO);

		assert_int_equal(rs->strings[0].text_pass, 1);
		eng_ruleset_unref(rs);
		/* One kept to the raw layer is never asked about text. */
		rs = compile("rule r { meta: clause = \"IV.9(7)\" severity = "
		    "\"low\" layer = \"raw\" strings: $a = /a[=:]b/ condition: "
		    "not $a }", ENG_MODE_AUTO);
		assert_int_equal(rs->strings[0].text_pass, 0);
		eng_ruleset_unref(rs);
	}
}

/* A guard takes the delta characters wherever the text takes products. */
static void
test_delta_guard(void **state)
{
	static const char *cases[][2] = {
		{ "a,b", "a(?:,|\\xef\\xbc[\\x8c])b" },
		{ "x[=:]y", "x(?:[=:]|\\xef\\xbc[\\x9a])y" },
		{ "a[^\\n]{0,3}",
		    "a(?:[^\\n]|\\xef\\xbc[\\x81\\x88\\x89\\x8c\\x9a\\x9b\\x9f])"
		    "{0,3}" },
		{ "\\x2c", "(?:\\x2c|\\xef\\xbc[\\x8c])" },
		{ "a{2,3}b", "a{2,3}b" },
		{ "AKIA[0-9A-Z]{16}", "AKIA[0-9A-Z]{16}" },
		{ "(ab|cd)?\\(", "(ab|cd)?(?:\\(|\\xef\\xbc[\\x88])" },
		{ "(?:\\x41|\\x42)", "(?:\\x41|\\x42)" },
		/* Dense: every token grows by 42 bytes. */
		{ "..",
		    "(?:.|\\xef\\xbc[\\x81\\x88\\x89\\x8c\\x9a\\x9b\\x9f])"
		    "(?:.|\\xef\\xbc[\\x81\\x88\\x89\\x8c\\x9a\\x9b\\x9f])" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *g = delta_guard_expr(cases[i][0]);

		assert_non_null(g);
		assert_string_equal(g, cases[i][1]);
		free(g);
	}
	/* A rule of dots and colons still loads. */
	{
		struct eng_ruleset *rs = compile("rule r { " META "strings: "
		    "$a = /..:..:..:..:..:../ $b = \"casino\" condition: "
		    "any of them }", ENG_MODE_AUTO);

		assert_int_equal(rs->strings[0].text_pass, 1);
		assert_int_equal(rs->delta, 1);
		eng_ruleset_unref(rs);
	}
}

/*
 * The mechanism, unit by unit: a raw unit meets the guards, a delta text
 * unit answers for insensitive strings from it, and starts over as an
 * ordinary unit on an upgrade.
 */
static void
test_delta_units(void **state)
{
	const char	*rules =
	    "rule kw { " META "strings: $a = \"casino\" condition: $a }"
	    "rule qq { " META "strings: $a = /qq:[0-9]{5}/ condition: $a }"
	    "rule both { " META "strings: $a = \"casino\" "
	    "$b = /qq:[0-9]{5}/ condition: $a and $b }"
	    "rule kw2 { " META "strings: $a = \"casino\" condition: #a >= 2 }";
	/* The raw bytes, and the text with ： folded. */
	const char	*raw = "casino \xef\xbc\x81 qq\xef\xbc\x9a" "12345";
	const char	*text = "casino ! qq:12345";
	struct eng_ruleset *rs = compile(rules, ENG_MODE_AUTO);
	struct match_ctx *ctx;
	struct match_unit *r, *t;
	struct hits	 h;

	(void)state;
	assert_int_equal(match_ctx_new(&ctx), VIGIL_OK);
	assert_int_equal(match_ctx_prepare(ctx, rs), VIGIL_OK);

	assert_true(match_delta_ok(ctx));
	/* "qq：" in the raw bytes meets the qq rule's guard. */
	memset(&h, 0, sizeof(h));
	assert_int_equal(match_begin(ctx, RAW_SLOT(0), &r), VIGIL_OK);
	assert_int_equal(match_feed(r, raw, strlen(raw)), VIGIL_OK);
	assert_int_equal(match_end(r, "text/plain", on_hit, &h), VIGIL_OK);
	assert_true(h.matched[0] && !h.matched[1] && !h.matched[2]);
	assert_true(match_guarded(ctx, RAW_SLOT(0)));
	memset(&h, 0, sizeof(h));
	assert_int_equal(match_begin_delta(ctx, TEXT_SLOT(0), RAW_SLOT(0), &t),
	    VIGIL_OK);
	assert_true(match_unit_delta(t));
	assert_int_equal(match_feed(t, text, strlen(text)), VIGIL_OK);
	assert_int_equal(match_end_layer(t, "text/plain", LAYER_TEXT, on_hit,
	    &h), VIGIL_OK);
	/* "casino" answered from the raw unit, qq from the text. */
	assert_true(h.matched[0] && h.matched[1] && h.matched[2]);
	assert_false(h.matched[3]);

	/* Only a count the raw unit has: from it, through the delta unit. */
	memset(&h, 0, sizeof(h));
	assert_int_equal(match_begin(ctx, RAW_SLOT(0), &r), VIGIL_OK);
	assert_int_equal(match_feed(r, "casino casino", 13), VIGIL_OK);
	assert_int_equal(match_end(r, "text/plain", on_hit, &h), VIGIL_OK);
	assert_false(match_guarded(ctx, RAW_SLOT(0)));
	memset(&h, 0, sizeof(h));
	assert_int_equal(match_begin_delta(ctx, TEXT_SLOT(0), RAW_SLOT(0), &t),
	    VIGIL_OK);
	assert_int_equal(match_feed(t, "qq:12345", 8), VIGIL_OK);
	assert_int_equal(match_end_layer(t, "text/plain", LAYER_TEXT, on_hit,
	    &h), VIGIL_OK);
	assert_true(h.matched[0] && h.matched[3] && h.matched[1]);

	/* An upgrade with the text so far: an ordinary unit from then on. */
	memset(&h, 0, sizeof(h));
	assert_int_equal(match_begin(ctx, RAW_SLOT(0), &r), VIGIL_OK);
	assert_int_equal(match_feed(r, "qq", 2), VIGIL_OK);
	assert_int_equal(match_end(r, "text/plain", on_hit, &h), VIGIL_OK);
	assert_int_equal(match_begin_delta(ctx, TEXT_SLOT(0), RAW_SLOT(0), &t),
	    VIGIL_OK);
	assert_int_equal(match_feed(t, "casino ", 7), VIGIL_OK);
	match_upgrade(t, "casino ", 7);
	assert_false(match_unit_delta(t));
	assert_int_equal(match_feed(t, "casino qq:54321", 15), VIGIL_OK);
	assert_int_equal(match_end_layer(t, "text/plain", LAYER_TEXT, on_hit,
	    &h), VIGIL_OK);
	/* Both casinos are the text's own now, and qq matched on it. */
	assert_true(h.matched[0] && h.matched[1] && h.matched[2] &&
	    h.matched[3]);

	match_ctx_free(ctx);
	eng_ruleset_unref(rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_last_byte),
		cmocka_unit_test(test_straddle),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_fullword),
		cmocka_unit_test(test_delta_classify),
		cmocka_unit_test(test_delta_guard),
		cmocka_unit_test(test_delta_units),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
