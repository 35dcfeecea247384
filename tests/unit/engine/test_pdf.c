/*
 * test_pdf.c: a PDF as a reader sees it (engine/pdf.c): page text through
 * poppler into the text layer, FlateDecode streams inflated as members
 * "#stream-N", a damaged file still raw-matched and reported corrupt, and
 * a deflate bomb stopped by the ratio limit.  PDFs are written here, with
 * zlib, so the offsets in their xref tables are exact.
 *
 * Each case runs twice: poppler in this process, then in the helper process
 * of the built vigil program (engine/pdfproc.c).  Helpers that hang, crash
 * or do not exist check the supervision: a problem each, nothing more.
 */
#define _GNU_SOURCE	/* memfd_create */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rules_src.h"
#include <zlib.h>

#include "vigil/core.h"
#include "vigil/engine.h"

static const char rules[] =
    "rule needle_ascii { meta: clause = \"IV.9(7)\" severity = \"high\"\n"
    "  strings: $a = \"vigil needle casino royale\" condition: $a }\n"
    "rule secret { meta: clause = \"IV.9(7)\" severity = \"high\"\n"
    "  strings: $a = \"FLATESECRET\" condition: $a }\n"
    "rule needle_cjk { meta: clause = \"IV.9(7)\" severity = \"high\"\n"
    "  strings: $a = \"\xe6\xb6\x89\xe8\xb5\x8c\xe7\xbd\x91\xe7\xab\x99\" "
    "condition: $a }\n";

static struct eng_ruleset *rs;
static struct eng_scanner *sc;

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
scan_lim(const char *name, const void *data, size_t len,
    const struct vigil_limits *lim)
{
	struct eng_result	*r = NULL;
	int			 fd = memfd_create("t", 0);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(eng_scan_fd(sc, rs, fd, name, lim, &r), VIGIL_OK);
	close(fd);
	return r;
}

static struct eng_result *
scan(const char *name, const void *data, size_t len, int text_layer)
{
	struct vigil_limits	lim;

	vigil_limits_default(&lim);
	lim.text_layer = text_layer;
	return scan_lim(name, data, len, &lim);
}

/*
 * Scans pdf with the text layer and frees it: rule must hit at path, or,
 * with rule NULL, the verdict must be clean.
 */
static void
expect_pdf(uint8_t *pdf, size_t len, const char *name, const char *rule,
    const char *path)
{
	struct eng_result	*r = scan(name, pdf, len, 1);

	if (rule != NULL)
		assert_true(hit(r, rule, path));
	else
		assert_int_equal(r->verdict, VIGIL_CLEAN);
	eng_result_free(r);
	free(pdf);
}

/* The groups' setups: where poppler runs. */
static int
inproc(void **state)
{
	eng_set_pdf_helper(NULL);
	return setup(state);
}

static int
helper(void **state)
{
	eng_set_pdf_helper(VIGIL_BIN);
	return setup(state);
}

/* A helper program: a shell script with body. */
static char *
fake_helper(const char *body)
{
	static char	path[] = "/tmp/vigil-test-helper-XXXXXX";
	FILE		*f;
	int		 fd;

	strcpy(path, "/tmp/vigil-test-helper-XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "#!/bin/sh\n%s\n", body);
	assert_int_equal(fchmod(fd, 0700), 0);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* Appends n bytes to a growing buffer. */
static void
put(uint8_t **b, size_t *len, const void *p, size_t n)
{
	assert_non_null(*b = realloc(*b, *len + n + 1));
	memcpy(*b + *len, p, n);
	*len += n;
}

static void
putz(uint8_t **b, size_t *len, const char *s)
{
	put(b, len, s, strlen(s));
}

/* A deflated stream object's body: dictionary, data, endstream. */
static void
put_flate(uint8_t **b, size_t *len, const char *extra, const void *data,
    size_t n)
{
	uLongf	 zn = compressBound(n);
	uint8_t	*z = malloc(zn);
	char	 dict[256];

	assert_non_null(z);
	assert_int_equal(compress2(z, &zn, data, n, 9), Z_OK);
	snprintf(dict, sizeof(dict), "<< /Length %lu /Filter /FlateDecode%s "
	    ">>\nstream\n", (unsigned long)zn, extra);
	putz(b, len, dict);
	put(b, len, z, zn);
	putz(b, len, "\nendstream");
	free(z);
}

/* A PDF of n object bodies (objects 1..n, the catalog first), xref exact. */
static uint8_t *
pdf_of(uint8_t **body, const size_t *blen, int n, size_t *outlen)
{
	uint8_t	*b = NULL;
	size_t	 len = 0, off[16], xref;
	char	 line[256];

	assert_true(n < 16);
	putz(&b, &len, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
	for (int i = 1; i <= n; i++) {
		off[i] = len;
		snprintf(line, sizeof(line), "%d 0 obj\n", i);
		putz(&b, &len, line);
		put(&b, &len, body[i - 1], blen[i - 1]);
		putz(&b, &len, "\nendobj\n");
		free(body[i - 1]);
	}
	xref = len;
	snprintf(line, sizeof(line), "xref\n0 %d\n0000000000 65535 f \n",
	    n + 1);
	putz(&b, &len, line);
	for (int i = 1; i <= n; i++) {
		snprintf(line, sizeof(line), "%010zu 00000 n \n", off[i]);
		putz(&b, &len, line);
	}
	snprintf(line, sizeof(line), "trailer\n<< /Size %d /Root 1 0 R >>\n"
	    "startxref\n%zu\n%%%%EOF\n", n + 1, xref);
	putz(&b, &len, line);
	*outlen = len;
	return b;
}

/* An object body from a string. */
static void
obj(uint8_t **body, size_t *blen, const char *s)
{
	*body = NULL;
	*blen = 0;
	putz(body, blen, s);
}

/*
 * Objects 1-4: catalog, pages, one page using font 5 as /F1, and its
 * deflated content stream showing the PDF string str ("(...)", "<...>").
 */
static void
page_objs(uint8_t **body, size_t *blen, const char *str)
{
	char	line[256];

	obj(&body[0], &blen[0], "<< /Type /Catalog /Pages 2 0 R >>");
	obj(&body[1], &blen[1], "<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
	obj(&body[2], &blen[2], "<< /Type /Page /Parent 2 0 R "
	    "/MediaBox [0 0 612 792] /Contents 4 0 R "
	    "/Resources << /Font << /F1 5 0 R >> >> >>");
	snprintf(line, sizeof(line), "BT /F1 12 Tf 72 712 Td %s Tj ET", str);
	obj(&body[3], &blen[3], "");
	put_flate(&body[3], &blen[3], "", line, strlen(line));
}

/*
 * One page showing text (in a deflated content stream), and a deflated
 * embedded file holding payload (n bytes).
 */
static uint8_t *
make_pdf(const char *text, const void *payload, size_t n, size_t *outlen)
{
	uint8_t	*body[6];
	size_t	 blen[6];
	char	 line[256];

	snprintf(line, sizeof(line), "(%s)", text);
	page_objs(body, blen, line);
	obj(&body[4], &blen[4], "<< /Type /Font /Subtype /Type1 "
	    "/BaseFont /Helvetica >>");
	obj(&body[5], &blen[5], "");
	put_flate(&body[5], &blen[5], " /Type /EmbeddedFile", payload, n);
	return pdf_of(body, blen, 6, outlen);
}

/*
 * Chinese as many Chinese PDFs carry it: a font that is not embedded,
 * Adobe-GB1 glyphs and the predefined UniGB-UCS2-H CMap, no ToUnicode.
 * Only poppler-data's CMaps turn the codes into text.
 */
static uint8_t *
make_cjk_pdf(const char *hexcodes, size_t *outlen)
{
	uint8_t	*body[7];
	size_t	 blen[7];
	char	 line[256];

	snprintf(line, sizeof(line), "<%s>", hexcodes);
	page_objs(body, blen, line);
	obj(&body[4], &blen[4], "<< /Type /Font /Subtype /Type0 "
	    "/BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
	    "/DescendantFonts [6 0 R] >>");
	obj(&body[5], &blen[5], "<< /Type /Font /Subtype /CIDFontType0 "
	    "/BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) "
	    "/Ordering (GB1) /Supplement 4 >> /FontDescriptor 7 0 R >>");
	obj(&body[6], &blen[6], "<< /Type /FontDescriptor /FontName "
	    "/STSong-Light /Flags 6 /FontBBox [0 -200 1000 900] "
	    "/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 "
	    "/StemV 93 >>");
	return pdf_of(body, blen, 7, outlen);
}

/* The predefined CJK CMap: the phrase in #text, the near miss clean. */
static void
test_cjk_cmap(void **state)
{
	struct eng_result	*r;
	uint8_t			*pdf;
	size_t			 len;

	(void)state;
	/* U+6D89 U+8D4C U+7F51 U+7AD9: the rule's phrase, then a space. */
	pdf = make_cjk_pdf("6D898D4C7F517AD90020", &len);
	r = scan("cjk.pdf", pdf, len, 1);
	assert_true(hit(r, "needle_cjk", "cjk.pdf/#text"));
	assert_int_equal(r->nproblems, 0);
	eng_result_free(r);
	free(pdf);
	/* The phrase with its last character changed (U+7AD6). */
	pdf = make_cjk_pdf("6D898D4C7F517AD60020", &len);
	expect_pdf(pdf, len, "cjk.pdf", NULL, NULL);
}

/*
 * Lines flow into one text, as a reader takes a paragraph: a phrase
 * wrapped between two Chinese characters joins with nothing, between
 * words with a space, and words are never glued.
 */
static void
test_wrapped_lines(void **state)
{
	uint8_t	*pdf;
	size_t	 len;

	(void)state;
	/* U+6D89 U+8D4C | next line | U+7F51 U+7AD9. */
	pdf = make_cjk_pdf("6D898D4C> Tj 0 -14 Td <7F517AD90020", &len);
	expect_pdf(pdf, len, "wrap.pdf", "needle_cjk", "wrap.pdf/#text");
	pdf = make_pdf("vigil needle casino) Tj 0 -14 Td (royale", "", 0,
	    &len);
	expect_pdf(pdf, len, "en.pdf", "needle_ascii", "en.pdf/#text");
	/* Words are not glued: "casi" at a line's end, "no" after it. */
	pdf = make_pdf("vigil needle casi) Tj 0 -14 Td (no royale", "", 0,
	    &len);
	expect_pdf(pdf, len, "split.pdf", NULL, NULL);
}

/* Page text in #text, the content stream and embedded file inflated. */
static void
test_text_and_streams(void **state)
{
	struct eng_result	*r;
	uint8_t			*pdf;
	size_t			 len;

	(void)state;
	pdf = make_pdf("vigil needle ca\\163ino royale", "FLATESECRET", 11,
	    &len);
	r = scan("p.pdf", pdf, len, 1);
	assert_string_equal(r->mime, "application/pdf");
	/* The octal escape hides the phrase from the content stream. */
	assert_true(hit(r, "needle_ascii", "p.pdf/#text"));
	assert_false(hit(r, "needle_ascii", "p.pdf/#stream-4"));
	assert_true(hit(r, "secret", "p.pdf/#stream-6"));
	assert_int_equal(r->members, 2);
	assert_int_equal(r->nproblems, 0);
	eng_result_free(r);
	/* Without a text layer the streams are still members. */
	r = scan("p.pdf", pdf, len, 0);
	assert_false(hit(r, "needle_ascii", "p.pdf/#text"));
	assert_true(hit(r, "secret", "p.pdf/#stream-6"));
	eng_result_free(r);
	free(pdf);
}

/* A PDF poppler refuses: corrupt, its bytes matched all the same. */
static void
test_corrupt(void **state)
{
	static const char pdf[] = "%PDF-1.4\n% vigil needle casino royale\n"
	    "1 0 obj\n<< /Type /Catalog /Pages 9 0 R\ngarbage garbage\n";
	struct eng_result *r;

	(void)state;
	r = scan("c.pdf", pdf, sizeof(pdf) - 1, 1);
	assert_true(hit(r, "needle_ascii", "c.pdf"));
	assert_int_equal(r->nproblems, 1);
	assert_int_equal(r->problems[0].reason, VIGIL_R_CORRUPT);
	eng_result_free(r);
}

/* 64 MiB of zeros in one stream: the ratio limit, not 64 MiB scanned. */
static void
test_bomb(void **state)
{
	struct eng_result	*r;
	uint8_t			*zeros, *pdf;
	size_t			 len, n = 64u << 20;

	(void)state;
	assert_non_null(zeros = calloc(1, n));
	pdf = make_pdf("hello", zeros, n, &len);
	free(zeros);
	r = scan("b.pdf", pdf, len, 1);
	assert_int_equal(r->verdict, VIGIL_UNSCANNABLE);
	assert_int_equal(r->problems[0].reason, VIGIL_R_LIMIT_RATIO);
	assert_true(r->bytes_scanned < n / 8);
	eng_result_free(r);
	free(pdf);
}

/*
 * A helper that never answers: the deadline kills it, the object is
 * unscannable for time, and the scan does not wait for the helper.
 */
static void
test_helper_hangs(void **state)
{
	struct vigil_limits	 lim;
	struct eng_result	*r;
	uint8_t			*pdf;
	size_t			 len;
	char			*path = fake_helper("exec sleep 60");
	struct eng_pdf_stats	 s0, s1;
	double			 t0;

	(void)state;
	eng_pdf_helper_stats(&s0);
	pdf = make_pdf("vigil needle casino royale", "x", 1, &len);
	eng_set_pdf_helper(path);
	vigil_limits_default(&lim);
	lim.max_time = 1.0;
	t0 = vg_now();
	r = scan_lim("h.pdf", pdf, len, &lim);
	assert_true(vg_now() - t0 < 10.0);
	assert_int_equal(r->verdict, VIGIL_UNSCANNABLE);
	assert_int_equal(r->nproblems, 1);
	assert_int_equal(r->problems[0].reason, VIGIL_R_LIMIT_TIME);
	eng_pdf_helper_stats(&s1);
	assert_int_equal(s1.killed, s0.killed + 1);
	assert_int_equal(s1.crashed, s0.crashed);
	eng_result_free(r);
	unlink(path);
	free(pdf);
	eng_set_pdf_helper(VIGIL_BIN);
}

/*
 * A helper that crashes: corrupt, saying how; the streams are still
 * scanned; the next document gets a new helper.
 */
static void
test_helper_crashes(void **state)
{
	struct eng_result	*r;
	uint8_t			*pdf;
	size_t			 len;
	char			*path;
	struct eng_pdf_stats	 s0, s1;

	(void)state;
	/*
	 * It reads the request first: a helper that dies before the send
	 * is a stale one, which the scanner replaces and asks again.
	 */
	path = fake_helper("head -c 4 >/dev/null; kill -SEGV $$");
	eng_pdf_helper_stats(&s0);
	pdf = make_pdf("vigil needle casino royale", "FLATESECRET", 11, &len);
	eng_set_pdf_helper(path);
	r = scan("c.pdf", pdf, len, 1);
	assert_int_equal(r->verdict, VIGIL_FLAGGED);
	assert_true(hit(r, "secret", "c.pdf/#stream-6"));
	assert_false(hit(r, "needle_ascii", "c.pdf/#text"));
	assert_int_equal(r->nproblems, 1);
	assert_int_equal(r->problems[0].reason, VIGIL_R_CORRUPT);
	assert_non_null(strstr(r->problems[0].detail, "signal 11"));
	eng_pdf_helper_stats(&s1);
	assert_int_equal(s1.crashed, s0.crashed + 1);
	assert_int_equal(s1.started, s0.started + 1);
	eng_result_free(r);
	unlink(path);

	eng_set_pdf_helper(VIGIL_BIN);
	r = scan("c.pdf", pdf, len, 1);
	assert_true(hit(r, "needle_ascii", "c.pdf/#text"));
	assert_int_equal(r->nproblems, 0);
	eng_result_free(r);
	free(pdf);
}

/* A helper that is not there: an "io" problem and an error verdict. */
static void
test_helper_missing(void **state)
{
	struct eng_result	*r;
	uint8_t			*pdf;
	size_t			 len;

	(void)state;
	pdf = make_pdf("hello", "x", 1, &len);
	eng_set_pdf_helper("/nonexistent/vigil");
	r = scan("m.pdf", pdf, len, 1);
	assert_int_equal(r->verdict, VIGIL_ERROR);
	assert_int_equal(r->problems[0].reason, VIGIL_R_IO);
	eng_result_free(r);
	free(pdf);
	eng_set_pdf_helper(VIGIL_BIN);
}

/* The value of field in /proc/PID/status, or -1. */
static long
proc_status(pid_t pid, const char *field)
{
	char	 path[64], line[256];
	size_t	 n = strlen(field);
	long	 v = -1;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/* This process's `vigil pdf-text` child, or -1. */
static pid_t
helper_child(void)
{
	DIR		*d = opendir("/proc");
	struct dirent	*e;
	pid_t		 found = -1;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL && found == -1) {
		char	path[300], argv[64];
		FILE	*f;
		size_t	n;

		if (e->d_name[0] < '0' || e->d_name[0] > '9' ||
		    proc_status(atoi(e->d_name), "PPid") != getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(argv, 1, sizeof(argv) - 1, f);
		fclose(f);
		argv[n] = '\0';
		/* argv[0] "vigil", then argv[1]. */
		if (strlen(argv) + 1 < n && strcmp(argv + strlen(argv) + 1,
		    "pdf-text") == 0)
			found = atoi(e->d_name);
	}
	closedir(d);
	return found;
}

/* Whether the process's environment holds a variable called name. */
static int
has_env(pid_t pid, const char *name)
{
	char	 path[64], buf[65536];
	size_t	 n, k = strlen(name);
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
		if (strncmp(buf + i, name, k) == 0 && buf[i + k] == '=')
			return 1;
	return 0;
}

/*
 * The helper that served a document is still there for the next, under
 * its seccomp filter (mode 2) with no new privileges (sanitizer builds
 * run it unfiltered), and without the scanner's secrets in its
 * environment.
 */
static void
test_helper_sandboxed(void **state)
{
	struct eng_result	*r;
	uint8_t			*pdf;
	size_t			 len;
	pid_t			 pid;

	(void)state;
	/* A new helper, started with a secret in the environment. */
	assert_int_equal(setenv("AWS_SECRET_ACCESS_KEY", "not-for-poppler",
	    1), 0);
	assert_int_equal(setenv("LC_ALL", "C.UTF-8", 1), 0);
	eng_set_pdf_helper(VIGIL_BIN);
	pdf = make_pdf("vigil needle casino royale", "x", 1, &len);
	r = scan("s.pdf", pdf, len, 1);
	assert_true(hit(r, "needle_ascii", "s.pdf/#text"));
	eng_result_free(r);
	free(pdf);
	assert_true((pid = helper_child()) > 0);
	assert_false(has_env(pid, "AWS_SECRET_ACCESS_KEY"));
	assert_true(has_env(pid, "LC_ALL"));
	unsetenv("AWS_SECRET_ACCESS_KEY");
#if defined(__SANITIZE_ADDRESS__)
	assert_int_equal(proc_status(pid, "Seccomp"), 0);
#else
	assert_int_equal(proc_status(pid, "Seccomp"), 2);
	assert_int_equal(proc_status(pid, "NoNewPrivs"), 1);
#endif
}

/* One helper serves many documents, and its replacement the rest. */
static void
test_helper_many(void **state)
{
	uint8_t	*pdf;
	size_t	 len;

	(void)state;
	pdf = make_pdf("vigil needle casino royale", "x", 1, &len);
	for (int i = 0; i < 300; i++) {
		struct eng_result *r = scan("n.pdf", pdf, len, 1);

		assert_true(hit(r, "needle_ascii", "n.pdf/#text"));
		assert_int_equal(r->nproblems, 0);
		eng_result_free(r);
	}
	free(pdf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_and_streams),
		cmocka_unit_test(test_cjk_cmap),
		cmocka_unit_test(test_wrapped_lines),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_bomb),
	};
	const struct CMUnitTest helper_tests[] = {
		cmocka_unit_test(test_text_and_streams),
		cmocka_unit_test(test_cjk_cmap),
		cmocka_unit_test(test_wrapped_lines),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_helper_hangs),
		cmocka_unit_test(test_helper_crashes),
		cmocka_unit_test(test_helper_missing),
		cmocka_unit_test(test_helper_many),
		cmocka_unit_test(test_helper_sandboxed),
	};

	return cmocka_run_group_tests_name("in process", tests, inproc,
	    teardown) | cmocka_run_group_tests_name("helper process",
	    helper_tests, helper, teardown);
}
