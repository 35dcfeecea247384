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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_last_byte),
		cmocka_unit_test(test_straddle),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_fullword),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
