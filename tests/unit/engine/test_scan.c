/*
 * test_scan.c: what scan.c and dbcache.c promise beyond the CLI tests:
 * rules kept to one layer, MIME globs, a digest the caller supplies, and
 * compiled databases reused from the cache (and ignored when damaged),
 * and the text layer's Unicode folding against libunistring's own NFKC.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>
#include <unistr.h>
#include <uninorm.h>

#include "rules_src.h"
#include "vigil/core.h"

static const char rules[] =
    "rule text_only { meta: clause = \"IV.9(7)\" severity = \"low\"\n"
    "  layer = \"text\" strings: $a = \"casino\" condition: $a }\n"
    "rule raw_only { meta: clause = \"IV.9(7)\" severity = \"low\"\n"
    "  layer = \"raw\" strings: $a = \"casino\" condition: $a }\n"
    "rule texty { meta: clause = \"IV.9(7)\" severity = \"low\"\n"
    "  mime = \"text/*\" strings: $a = \"MARK\" condition: $a }\n"
    "rule zippy { meta: clause = \"IV.9(7)\" severity = \"low\"\n"
    "  mime = \"application/zip\" strings: $a = \"MARK\" condition: $a }\n";

static struct eng_ruleset	*rs;
static struct eng_scanner	*sc;

static int
setup(void **state)
{
	(void)state;
	if ((rs = rules_from_src(rules, ENG_MODE_AUTO)) == NULL)
		return -1;
	return eng_scanner_new(&sc) == VIGIL_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	eng_scanner_free(sc);
	eng_ruleset_unref(rs);
	return 0;
}

static struct eng_result *
scan_bytes(struct eng_ruleset *set, const void *data, size_t n,
    const char *digest)
{
	struct vigil_limits	 lim;
	struct eng_result	*r = NULL;
	int			 fd = memfd_create("t", 0);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	vigil_limits_default(&lim);
	assert_int_equal(eng_scan_fd_digest(sc, set, fd, "obj", &lim, digest,
	    &r), VIGIL_OK);
	close(fd);
	return r;
}

/* The path of rule's match, joined with '/', or NULL if it did not hold. */
static const char *
match_path(const struct eng_result *r, const char *rule, char *buf,
    size_t n)
{
	for (size_t i = 0; i < r->nmatches; i++) {
		if (strcmp(r->matches[i].rule, rule) != 0)
			continue;
		buf[0] = '\0';
		for (size_t k = 0; k < r->matches[i].npath; k++) {
			strncat(buf, r->matches[i].path[k], n - strlen(buf) - 1);
			if (k + 1 < r->matches[i].npath)
				strncat(buf, "/", n - strlen(buf) - 1);
		}
		return buf;
	}
	return NULL;
}

static void
test_layers(void **state)
{
	/* ASCII: the text layer never starts, yet text rules are answered. */
	static const char plain[] = "a plain casino line\n";
	/* Full-width: only the text layer reads "casino". */
	static const char wide[] =
	    "\xef\xbd\x83\xef\xbd\x81\xef\xbd\x93\xef\xbd\x89\xef\xbd\x8e"
	    "\xef\xbd\x8f here\n";
	struct eng_result	*r;
	char			 p[256];

	(void)state;
	r = scan_bytes(rs, plain, sizeof(plain) - 1, NULL);
	assert_non_null(match_path(r, "raw_only", p, sizeof(p)));
	assert_string_equal(p, "obj");
	assert_non_null(match_path(r, "text_only", p, sizeof(p)));
	assert_string_equal(p, "obj/#text");
	eng_result_free(r);

	r = scan_bytes(rs, wide, sizeof(wide) - 1, NULL);
	assert_null(match_path(r, "raw_only", p, sizeof(p)));
	assert_non_null(match_path(r, "text_only", p, sizeof(p)));
	assert_string_equal(p, "obj/#text");
	eng_result_free(r);
}

static void
test_mime_glob(void **state)
{
	static const char	text[] = "some MARK in text\n";
	static const uint8_t	bin[] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 'M', 'A', 'R', 'K', 0, 0, 0, 0 };
	struct eng_result	*r;
	char			 p[256];

	(void)state;
	r = scan_bytes(rs, text, sizeof(text) - 1, NULL);
	assert_string_equal(r->mime, "text/plain");
	assert_non_null(match_path(r, "texty", p, sizeof(p)));
	assert_null(match_path(r, "zippy", p, sizeof(p)));
	eng_result_free(r);

	r = scan_bytes(rs, bin, sizeof(bin), NULL);
	assert_string_not_equal(r->mime, "text/plain");
	assert_null(match_path(r, "texty", p, sizeof(p)));
	assert_int_equal(r->verdict, VIGIL_CLEAN);
	eng_result_free(r);
}

static void
test_digest(void **state)
{
	static const char	data[] = "hello\n";
	static const char	sha[] =
	    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
	const char		*given =
	    "0000000000000000000000000000000000000000000000000000000000000000";
	struct eng_result	*r;

	(void)state;
	r = scan_bytes(rs, data, sizeof(data) - 1, NULL);
	assert_string_equal(r->sha256, sha);
	assert_int_equal(r->size, 6);
	eng_result_free(r);
	/* A supplied digest is reported as given: it is not recomputed. */
	r = scan_bytes(rs, data, sizeof(data) - 1, given);
	assert_string_equal(r->sha256, given);
	assert_int_equal(r->size, 6);
	eng_result_free(r);
}

/* Counts cache files, returns the inode of the last, damages if asked. */
static int
count_and_damage(const char *dir, int damage, ino_t *ino)
{
	DIR		*d = opendir(dir);
	struct dirent	*e;
	char		 path[1024];
	int		 n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strstr(e->d_name, ".hsdb") == NULL)
			continue;
		n++;
		if (ino != NULL)
			*ino = e->d_ino;
		if (damage) {
			FILE *f;

			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			assert_non_null(f = fopen(path, "r+"));
			fseek(f, 60, SEEK_SET);
			fputs("garbage garbage garbage", f);
			fclose(f);
		}
	}
	closedir(d);
	return n;
}

static void
test_cache(void **state)
{
	char			 dir[] = "/tmp/vigil-cache-XXXXXX";
	static const char	 plain[] = "a plain casino line\n";
	struct eng_ruleset	*a;
	struct eng_result	*r;
	struct eng_diag		 d;
	char			 cmd[64], p[256], src[64];
	ino_t			 ino[3];
	FILE			*f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* The key covers file names too, so the rules keep one path. */
	snprintf(src, sizeof(src), "%s/rules.yar", dir);
	assert_non_null(f = fopen(src, "w"));
	fputs(rules, f);
	fclose(f);
	eng_ruleset_set_cache_dir(dir);
	for (int round = 0; round < 3; round++) {
		/*
		 * 0: compiled and stored; 1: loaded, the file left alone;
		 * 2: damaged, so rebuilt and replaced (a new inode).
		 */
		if (round == 2)
			assert_int_equal(count_and_damage(dir, 1, NULL), 1);
		assert_int_equal(eng_ruleset_compile(src, ENG_MODE_AUTO, &a, &d),
		    VIGIL_OK);
		assert_int_equal(count_and_damage(dir, 0, &ino[round]), 1);
		if (round == 1)
			assert_true(ino[1] == ino[0]);
		if (round == 2)
			assert_true(ino[2] != ino[1]);
		r = scan_bytes(a, plain, sizeof(plain) - 1, NULL);
		assert_non_null(match_path(r, "raw_only", p, sizeof(p)));
		assert_non_null(match_path(r, "text_only", p, sizeof(p)));
		eng_result_free(r);
		eng_ruleset_unref(a);
	}
	eng_ruleset_set_cache_dir(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * The text layer copies most text past the NFKC filter (fast_run() in
 * text.c) and must still fold exactly as libunistring does on the whole
 * string, zero-width characters dropped first: at the edges of its runs,
 * across the engine's chunk, peek and flush boundaries, where a lazy
 * layer starts, and where a mark composes with a character copied fast.
 * Each case is "<<N:" random text ">>" after a random filler; its rule's
 * literal is the folded case, so the rule holds only if every byte is
 * right.
 */
#define NFKC_CASES	48

static const uint32_t nfkc_alphabet[] = {
	'a', 'e', 'o', 'A', 'C', ' ', '1', ',', '.',
	0x4e2d, 0x6587, 0x3002,			/* 中 文 。 */
	0xff0c, 0xff41, 0xff21, 0xff10, 0xff5e,	/* full-width */
	0x0301, 0x0308, 0x0327, 0x0323,		/* combining marks */
	0x200b, 0x200d, 0xfeff, 0x00ad, 0x2060,	/* zero-width */
	0xfb01, 0x2460, 0x3000, 0x2126, 0x212b,	/* compatibility */
	0x00e9, 0x00c5, 0x1e9b,
	0x1100, 0x1161, 0x11a8, 0xac00,		/* Hangul jamo, syllable */
	0x1f600, 0x2f800, 0xfffd,
	0x110000				/* stands for a 0xff byte */
};

static uint32_t
lcg(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

static void
test_text_nfkc(void **state)
{
	struct vg_buf		 src, data;
	struct eng_ruleset	*set;
	struct eng_result	*r;
	uint32_t		 seed = 20261126, in[64], kept[64];
	char			 name[32], p[256];

	(void)state;
	vg_buf_init(&src, 1 << 20);
	vg_buf_init(&data, 8 << 20);
	for (int c = 0; c < NFKC_CASES; c++) {
		size_t		 n = 8 + lcg(&seed) % 48, nk = 0, fill, outn;
		uint8_t		*folded, enc[6];
		uint32_t	*nf;

		/*
		 * Filler: ASCII, or ASCII and ideographs; cases land on both
		 * sides of the 36 KiB peek and the 128 KiB chunks.
		 */
		fill = lcg(&seed) % 3 == 0 ? lcg(&seed) % 64 :
		    lcg(&seed) % (160 * 1024);
		for (size_t i = 0; i < fill; i++) {
			if (c % 2 == 1 && lcg(&seed) % 16 == 0 &&
			    i + 3 <= fill) {
				assert_int_equal(vg_buf_add(&data, "\xe5\xad\x97",
				    3), VIGIL_OK);
				i += 2;
			} else
				assert_int_equal(vg_buf_addc(&data,
				    (char)('a' + lcg(&seed) % 26)), VIGIL_OK);
		}
		assert_int_equal(vg_buf_addf(&data, "\n<<%d:", c), VIGIL_OK);
		for (size_t i = 0; i < n; i++) {
			uint32_t u = nfkc_alphabet[lcg(&seed) %
			    (sizeof(nfkc_alphabet) / sizeof(nfkc_alphabet[0]))];

			in[i] = u == 0x110000 ? 0xfffd : u;
			if (u == 0x110000)
				assert_int_equal(vg_buf_addc(&data, (char)0xff),
				    VIGIL_OK);
			else
				assert_int_equal(vg_buf_add(&data, enc,
				    (size_t)u8_uctomb(enc, u, sizeof(enc))),
				    VIGIL_OK);
			if (!(in[i] >= 0x200b && in[i] <= 0x200f) &&
			    in[i] != 0xfeff && in[i] != 0x00ad &&
			    in[i] != 0x2060)
				kept[nk++] = in[i];
		}
		assert_int_equal(vg_buf_add(&data, ">>\n", 3), VIGIL_OK);

		nf = u32_normalize(UNINORM_NFKC, kept, nk, NULL, &outn);
		assert_non_null(nf);
		folded = u32_to_u8(nf, outn, NULL, &outn);
		assert_non_null(folded);
		assert_int_equal(vg_buf_addf(&src, "rule nfkc%d { meta: clause = "
		    "\"IV.9(7)\" severity = \"low\" strings: $a = \"<<%d:",
		    c, c), VIGIL_OK);
		for (size_t i = 0; i < outn; i++)
			assert_int_equal(vg_buf_addf(&src, "\\x%02x",
			    folded[i]), VIGIL_OK);
		assert_int_equal(vg_buf_addf(&src, ">>\" condition: $a }\n"),
		    VIGIL_OK);
		free(nf);
		free(folded);
	}
	set = rules_from_src(src.data, ENG_MODE_AUTO);
	assert_non_null(set);
	r = scan_bytes(set, data.data, data.len, NULL);
	for (int c = 0; c < NFKC_CASES; c++) {
		snprintf(name, sizeof(name), "nfkc%d", c);
		if (match_path(r, name, p, sizeof(p)) == NULL)
			fail_msg("case %d: its folded text was not seen", c);
	}
	eng_result_free(r);
	eng_ruleset_unref(set);
	vg_buf_free(&src);
	vg_buf_free(&data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layers),
		cmocka_unit_test(test_mime_glob),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_text_nfkc),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
