/*
 * classify.c: the MIME type of an object or member, from its leading bytes,
 * with libmagic.  One magic_t per scanner (thread), loaded once: loading
 * the database costs milliseconds, classifying a buffer much less.
 *
 * DESIGN
 * libmagic's text tests are regular expressions run over the buffer, and
 * on ordinary text they cost milliseconds per object (measured here: 0.4 to
 * 7 ms for an 8 KiB buffer), which alone would cap a thread below 100 MB/s
 * on a corpus of small files.  They name text dialects (C source, shell
 * script) that change nothing vigil does.  So libmagic runs with its
 * binary tests only (MAGIC_NO_CHECK_TEXT and friends), which identify
 * every container, compression and document format we act on; when it
 * finds nothing and the bytes look like text, a few fixed prefixes decide
 * between text/html, text/xml, text/rtf, message/rfc822 and text/plain.
 * Bytes that are text by our own check (no NUL, under 1% control
 * characters) skip libmagic altogether, unless they start like a
 * document it could name (classify_buffer() says why).
 * libmagic is never asked to decompress (that would fork a decompressor)
 * and never sees more than the buffer we give it.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <magic.h>

#include "vigil/core.h"
#include "engine_int.h"

struct classifier {
	magic_t	magic;
};

enum vigil_err
classify_new(struct classifier **out)
{
	struct classifier	*c;
	int			 flags = MAGIC_MIME_TYPE | MAGIC_NO_COMPRESS_FORK |
				    MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_TEXT |
				    MAGIC_NO_CHECK_ENCODING | MAGIC_NO_CHECK_ELF |
				    MAGIC_NO_CHECK_CDF | MAGIC_NO_CHECK_JSON |
				    MAGIC_NO_CHECK_CSV;

	if ((c = vg_calloc(1, sizeof(*c))) == NULL)
		return VIGIL_E_NOMEM;
	if ((c->magic = magic_open(flags)) == NULL) {
		vg_free(c);
		return VIGIL_E_NOMEM;
	}
	if (magic_load(c->magic, NULL) != 0) {
		vg_log_warnx("libmagic: cannot load its database: %s",
		    magic_error(c->magic));
		magic_close(c->magic);
		vg_free(c);
		return VIGIL_E_IO;
	}
	*out = c;
	return VIGIL_OK;
}

void
classify_free(struct classifier *c)
{
	if (c == NULL)
		return;
	magic_close(c->magic);
	vg_free(c);
}

/* Code units that text is mostly made of: Latin, CJK, kana, punctuation. */
static int
common_unit(unsigned u)
{
	return (u >= 0x20 && u < 0x7f) || u == 0x0a || u == 0x0d ||
	    u == 0x09 || (u >= 0xa0 && u < 0x250) ||
	    (u >= 0x3000 && u < 0x3100) || (u >= 0x4e00 && u < 0xa000) ||
	    (u >= 0xff00 && u < 0xfff0) || (u >= 0xac00 && u < 0xd7a4) ||
	    (u >= 0x400 && u < 0x530) || (u >= 0x2000 && u < 0x2070);
}

/*
 * UTF-16 without a byte order mark, which uchardet does not detect:
 * nearly every code unit, read one way, falls where text lives.
 */
const char *
classify_utf16(const uint8_t *p, size_t n)
{
	size_t	le = 0, be = 0, units;

	if (n > 4096)
		n = 4096;
	units = n / 2;
	if (units < 4)
		return NULL;
	for (size_t i = 0; i + 1 < n; i += 2) {
		le += common_unit((unsigned)p[i] | (unsigned)p[i + 1] << 8);
		be += common_unit((unsigned)p[i] << 8 | p[i + 1]);
	}
	if (le * 100 >= units * 95 && le > be)
		return "UTF-16LE";
	if (be * 100 >= units * 95 && be > le)
		return "UTF-16BE";
	return NULL;
}

/*
 * Text, in any 8-bit charset or UTF-8: no NUL, few control characters.
 * UTF-16 with a byte order mark counts as text too.
 */
static int
looks_text(const unsigned char *p, size_t n)
{
	size_t	ctl = 0;

	if (n >= 2 && ((p[0] == 0xff && p[1] == 0xfe) ||
	    (p[0] == 0xfe && p[1] == 0xff))) {
		/* UTF-16 text has no NUL code units (a tar name may start so). */
		for (size_t i = 2; i + 1 < n; i += 2)
			if (p[i] == 0 && p[i + 1] == 0)
				return 0;
		return 1;
	}
	if (memchr(p, 0, n) != NULL)
		return classify_utf16(p, n) != NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0)
			return 0;
		if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' &&
		    p[i] != '\r' && p[i] != '\f' && p[i] != '\v' &&
		    p[i] != 0x1b)
			ctl++;
	}
	return ctl * 100 <= n;
}

/* Does the text (after blanks and a UTF-8 BOM) start with word? */
static int
starts_with(const char *p, size_t n, const char *word)
{
	size_t	i = 0, w = strlen(word);

	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < n && isspace((unsigned char)p[i]))
		i++;
	return n - i >= w && strncasecmp(p + i, word, w) == 0;
}

static const char *
text_type(const char *p, size_t n)
{
	static const struct {
		const char *prefix, *mime;
	} prefixes[] = {
		{ "<!doctype html", "text/html" },
		{ "<html", "text/html" },
		{ "<head", "text/html" },
		{ "<body", "text/html" },
		{ "<?xml", "text/xml" },
		{ "{\\rtf", "text/rtf" },
		{ "return-path:", "message/rfc822" },
		{ "received:", "message/rfc822" },
		{ "mime-version:", "message/rfc822" },
		{ "from ", "message/rfc822" },
	};

	if (n > 1024)
		n = 1024;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
		if (starts_with(p, n, prefixes[i].prefix))
			return prefixes[i].mime;
	return "text/plain";
}

/*
 * Text that libmagic's binary tests could still name: PDF and PostScript
 * are often all printable at the start, uuencoded data is a container.
 */
static int
text_needs_magic(const char *p, size_t n)
{
	static const char *const sigs[] = {
		"%PDF-", "%!", "begin ", "begin-base64 ", "\x04%!",
		"!<arch>\n", "WARC/", "070707", "070701", "070702",
	};

	if (n > 262 && memcmp(p + 257, "ustar", 5) == 0)
		return 1;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++) {
		size_t k = strlen(sigs[i]);

		if (n >= k && memcmp(p, sigs[i], k) == 0)
			return 1;
	}
	return 0;
}

void
classify_buffer(struct classifier *c, const void *p, size_t n, char *out,
    size_t outlen)
{
	const char	*m = NULL;

	/*
	 * libmagic's binary tests cost 0.2-1 ms on text they cannot name
	 * anyway (measured: 1.0 ms on 36 KiB of Chinese text under load,
	 * 0.17 ms on an ISO image), which on small files costs more than
	 * matching them.  Text by our check skips them unless it starts like
	 * a document libmagic would recognise.
	 */
	if (n == 0)
		m = "application/x-empty";
	else if (looks_text(p, n) && !text_needs_magic(p, n))
		m = text_type(p, n);
	else
		m = magic_buffer(c->magic, p, n);
	if (m == NULL)
		m = "application/octet-stream";
	if (strcmp(m, "application/octet-stream") == 0 && looks_text(p, n))
		m = text_type(p, n);
	snprintf(out, outlen, "%s", m);
}
