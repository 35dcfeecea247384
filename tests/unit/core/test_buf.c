/*
 * test_buf.c: bounded buffers, UTF-8 repair and size parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/core.h"

static void
test_cap(void **state)
{
	struct vg_buf	b;

	(void)state;
	vg_buf_init(&b, 10);
	assert_int_equal(vg_buf_add(&b, "0123456789", 10), VIGIL_OK);
	assert_int_equal(vg_buf_addc(&b, 'x'), VIGIL_E_LIMIT);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "0123456789");
	vg_buf_reset(&b);
	assert_int_equal(vg_buf_addf(&b, "%d-%s", 42, "abcdefgh"),
	    VIGIL_E_LIMIT);
	assert_int_equal(vg_buf_addf(&b, "%d-%s", 42, "ab"), VIGIL_OK);
	assert_string_equal(b.data, "42-ab");
	vg_buf_free(&b);
}

static void
test_nomem(void **state)
{
	struct vg_buf	b;

	(void)state;
	vg_buf_init(&b, 1000);
	vg_alloc_fail_after(1);
	assert_int_equal(vg_buf_add(&b, "x", 1), VIGIL_E_NOMEM);
	vg_alloc_fail_after(0);
	assert_int_equal(vg_buf_add(&b, "x", 1), VIGIL_OK);
	vg_buf_free(&b);
}

static void
test_utf8_repair(void **state)
{
	static const struct {
		const char	*in;
		size_t		 n;
		const char	*out;
	} cases[] = {
		{ "plain", 5, "plain" },
		{ "\xe4\xb8\xad\xe6\x96\x87", 6, "\xe4\xb8\xad\xe6\x96\x87" },
		{ "a\xff" "b", 3, "a\xef\xbf\xbd" "b" },
		{ "\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd" },	/* overlong */
		{ "\xed\xa0\x80", 3,
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },	/* surrogate */
		{ "\xe4\xb8", 2, "\xef\xbf\xbd\xef\xbf\xbd" },	/* truncated */
		{ "x\0y", 3, "x\0y" },
	};
	struct vg_buf	b;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		vg_buf_init(&b, 100);
		assert_int_equal(vg_buf_add_utf8(&b, cases[i].in, cases[i].n),
		    VIGIL_OK);
		assert_int_equal(b.len, i == 6 ? 3 : strlen(cases[i].out));
		assert_memory_equal(b.data, cases[i].out, b.len);
		vg_buf_free(&b);
	}
}

static void
test_parse_size(void **state)
{
	uint64_t	v;

	(void)state;
	assert_int_equal(vg_parse_size("10", &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(vg_parse_size("64k", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(vg_parse_size("1G", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(vg_parse_size("2MiB", &v), 0);
	assert_int_equal(v, 2ULL << 20);
	assert_int_equal(vg_parse_size("", &v), -1);
	assert_int_equal(vg_parse_size("-1", &v), -1);
	assert_int_equal(vg_parse_size("10x", &v), -1);
	assert_int_equal(vg_parse_size("99999999999999999999", &v), -1);
	assert_int_equal(vg_parse_size("17179869184G", &v), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_nomem),
		cmocka_unit_test(test_utf8_repair),
		cmocka_unit_test(test_parse_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
