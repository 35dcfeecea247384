/*
 * test_mail.c: e-mail as its recipient reads it (engine/mail.c): header
 * sniffing, RFC 2047 subjects, base64 and quoted-printable bodies, HTML
 * parts, attachments as members and an mbox as a container of messages,
 * each checked through eng_scan_fd() on a memfd.
 */
#define _GNU_SOURCE	/* memfd_create */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "rules_src.h"

#include "vigil/core.h"
#include "vigil/engine.h"
#include "../../../daemon/engine/scan_int.h"

static const char rules[] =
    "rule needle_ascii { meta: clause = \"IV.9(7)\" severity = \"high\"\n"
    "  strings: $a = \"vigil needle casino royale\" condition: $a }\n"
    "rule needle_zh { meta: clause = \"IV.9(7)\" severity = \"high\"\n"
    "  strings: $a = \"\xe7\xbd\x91\xe4\xb8\x8a\xe8\xb5\x8c\xe5\x9c\xba\"\n"
    "  condition: $a }\n";

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
scan(const char *name, const char *data, int text_layer)
{
	struct vigil_limits	 lim;
	struct eng_result	*r = NULL;
	int			 fd = memfd_create("t", 0);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)),
	    (ssize_t)strlen(data));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	vigil_limits_default(&lim);
	lim.text_layer = text_layer;
	assert_int_equal(eng_scan_fd(sc, rs, fd, name, &lim, &r), VIGIL_OK);
	close(fd);
	return r;
}

static void
test_sniff(void **state)
{
	static const char *const yes[] = {
		"From: a@b\nTo: c@d\n\nbody\n",
		"Subject: x\r\nDate: today\r\n\r\n",
		"From: a@b\nTo: c@d,\n e@f\nSubject: hi\n\nbody",
	};
	static const char *const no[] = {
		"Hello: world\nthis is text\n",
		"From: a@b\n\nonly one known header\n",
		"HTTP/1.1 200 OK\nContent-Type: text/html\nDate: x\n\n",
		" From: a@b\nTo: c@d\n\n",
		"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		assert_true(mail_sniff((const uint8_t *)yes[i],
		    strlen(yes[i])));
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		assert_false(mail_sniff((const uint8_t *)no[i],
		    strlen(no[i])));
}

/* Base64 body and an RFC 2047 subject reach the text layer decoded. */
static void
test_base64_subject(void **state)
{
	struct eng_result *r;

	(void)state;
	/* Subject: 网上赌场; body "vigil needle casino royale" in base64. */
	r = scan("m.eml",
	    "From: a@example.org\nTo: b@example.org\n"
	    "Subject: =?utf-8?b?572R5LiK6LWM5Zy6?=\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "dmlnaWwgbmVlZGxlIGNhc2lubyByb3lhbGUK\n", 1);
	assert_string_equal(r->mime, "message/rfc822");
	assert_true(hit(r, "needle_ascii", "m.eml/#text"));
	assert_true(hit(r, "needle_zh", "m.eml/#text"));
	assert_int_equal(r->verdict, VIGIL_FLAGGED);
	eng_result_free(r);
	/* Without a text layer the body is a member, still decoded. */
	r = scan("m.eml",
	    "From: a@example.org\nTo: b@example.org\nSubject: x\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "dmlnaWwgbmVlZGxlIGNhc2lubyByb3lhbGUK\n", 0);
	assert_true(hit(r, "needle_ascii", "m.eml/part-1"));
	eng_result_free(r);
}

/* A soft line break inside the phrase, and an HTML part's tags. */
static void
test_qp_html(void **state)
{
	struct eng_result *r;

	(void)state;
	r = scan("m.eml",
	    "From: a@example.org\nTo: b@example.org\nSubject: x\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/alternative; boundary=\"B\"\n\n"
	    "--B\nContent-Type: text/plain; charset=iso-8859-1\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "vigil needle ca=\nsino royale =E9t=E9\n"
	    "--B\nContent-Type: text/html; charset=utf-8\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "<p>=E7=BD=91<b>=E4=B8=8A</b>=E8=B5=8C=E5=9C=BA</p>\n"
	    "--B--\n", 1);
	assert_true(hit(r, "needle_ascii", "m.eml/#text"));
	assert_true(hit(r, "needle_zh", "m.eml/#text"));
	eng_result_free(r);
}

/* An attachment is a member under its file name. */
static void
test_attachment(void **state)
{
	struct eng_result *r;

	(void)state;
	r = scan("m.eml",
	    "From: a@example.org\nTo: b@example.org\nSubject: x\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
	    "--B\nContent-Type: text/plain\n\nsee attached\n"
	    "--B\nContent-Type: application/octet-stream\n"
	    "Content-Disposition: attachment; filename=\"n.bin\"\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "dmlnaWwgbmVlZGxlIGNhc2lubyByb3lhbGUK\n"
	    "--B\nContent-Type: application/octet-stream\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "dmlnaWwgbmVlZGxlIGNhc2lubyByb3lhbGUK\n"
	    "--B--\n", 1);
	assert_true(hit(r, "needle_ascii", "m.eml/n.bin"));
	assert_true(hit(r, "needle_ascii", "m.eml/part-3"));
	assert_int_equal(r->members, 2);
	eng_result_free(r);
}

/* An mbox: each message a member, found past its "From " line. */
static void
test_mbox(void **state)
{
	struct eng_result *r;

	(void)state;
	r = scan("box",
	    "From a@example.org Mon Jan  1 12:00:00 2024\n"
	    "From: a@example.org\nTo: b@example.org\nSubject: one\n\n"
	    "nothing\n\n"
	    "From a@example.org Mon Jan  1 12:00:00 2024\n"
	    "From: a@example.org\nTo: b@example.org\nSubject: two\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "dmlnaWwgbmVlZGxlIGNhc2lubyByb3lhbGUK\n", 1);
	assert_true(hit(r, "needle_ascii", "box/message-2/#text"));
	assert_int_equal(r->nmatches, 1);
	eng_result_free(r);
}

/* PGP/MIME ciphertext is reported, not passed clean. */
static void
test_encrypted(void **state)
{
	struct eng_result *r;

	(void)state;
	r = scan("m.eml",
	    "From: a@example.org\nTo: b@example.org\nSubject: x\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/encrypted; boundary=\"B\";"
	    " protocol=\"application/pgp-encrypted\"\n\n"
	    "--B\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n"
	    "--B\nContent-Type: application/octet-stream\n\nxxxx\n"
	    "--B--\n", 1);
	assert_int_equal(r->verdict, VIGIL_UNSCANNABLE);
	assert_int_equal(r->nproblems, 1);
	assert_int_equal(r->problems[0].reason, VIGIL_R_ENCRYPTED);
	eng_result_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sniff),
		cmocka_unit_test(test_base64_subject),
		cmocka_unit_test(test_qp_html),
		cmocka_unit_test(test_attachment),
		cmocka_unit_test(test_mbox),
		cmocka_unit_test(test_encrypted),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
