/*
 * markup.c: the text inside HTML, XML and RTF, as a reader sees it.
 *
 * HTML and XML go through libxml2's push parsers in SAX mode: no tree is
 * built, entities and character references arrive decoded, text in script
 * and style is kept.  A space goes where a block element separates words
 * (<p>, <br>, <td>, OOXML's <w:p>, ODF's <text:p>); inline elements
 * (<b>, <span>, OOXML's runs) join what they split, so "ca<b>sino</b>"
 * reads "casino".
 *
 * HTML text flows as a browser lays it out (CSS white-space: normal):
 * each run of white space is one space, and a line break between two
 * East Asian wide characters is none at all (CSS Text 3's segment break
 * rule), so a phrase wrapped across source lines reads whole, in Chinese
 * as in English.  <pre> and <textarea> keep their spaces.  PDF page text
 * (MARKUP_FLOW) flows the same way: poppler ends every line with a line
 * break, and a paragraph's lines are one text to its reader.  XML and
 * RTF keep their spaces.  Input is already UTF-8 (text.c decoded it), so the
 * parsers are told to ignore encoding declarations; they never load
 * external entities or touch the network.  If a parser gives up on a
 * broken document, the rest is read with tags simply dropped.
 *
 * RTF has no library in Debian worth its dependency, and its text is easy
 * to reach: control words, groups, destinations to skip, \uN escapes and
 * \'hh bytes in the document's code page (\ansicpgN, decoded with iconv).
 */
#include <ctype.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include "vigil/core.h"
#include "scan_int.h"
#include "text_int.h"

#define RTF_MAX_DEPTH	256

struct markup {
	struct tl		*tl;
	enum markup_kind	 kind;
	xmlParserCtxtPtr	 ctxt;
	int			 fallback;	/* parser gave up: strip tags */
	int			 in_tag;
	/*
	 * Flowed text (HTML, PDF): white space waiting for what follows.
	 * WS_BREAK is one line break (with any spaces), WS_SEP a block edge
	 * or a blank line, which always leaves a space.
	 */
	enum { WS_NONE, WS_SPACE, WS_BREAK, WS_SEP } ws;
	int			 wide;		/* the last character out was */
	int			 pre;		/* HTML: <pre>/<textarea> depth */
	enum vigil_err		 err;
	/* RTF */
	int			 depth;
	uint8_t			 skip[RTF_MAX_DEPTH];	/* group ignored */
	int			 uc[RTF_MAX_DEPTH];	/* \ucN per group */
	int			 pending_skip;	/* fallback chars after \u */
	char			 word[40];	/* control word being read */
	size_t			 nword;
	char			 num[12];
	size_t			 nnum;
	int			 state;
	int			 hexval, nhex;
	iconv_t			 cp;		/* \ansicpg */
	uint8_t			 bytes[256];	/* \'hh run */
	size_t			 nbytes;
};

static const char *const blocks[] = {
	/* HTML */
	"p", "div", "br", "li", "td", "th", "tr", "h1", "h2", "h3", "h4",
	"h5", "h6", "title", "table", "ul", "ol", "dt", "dd", "blockquote",
	"pre", "section", "article", "header", "footer", "nav", "option",
	"hr", "address", "figure", "figcaption", "caption", "form", "label",
	"textarea", "button", "select", "body", "head", "script", "style",
	"main", "aside", "dl", "tbody", "thead", "tfoot",
	/* OOXML (w:, a:, x:) and ODF (text:, table:) */
	"tab", "cr", "si", "h", "line-break", "s", "table-cell", "row", "c",
	"v", "tc", "sp", "txBody", "is", "lvl", "note", "list-item",
	/* generic documents and feeds */
	"item", "entry", "para", "line", "description", "summary",
};

static int
is_block(const char *name)
{
	for (size_t i = 0; i < sizeof(blocks) / sizeof(*blocks); i++)
		if (strcasecmp(name, blocks[i]) == 0)
			return 1;
	return 0;
}

static void
text_out(struct markup *m, const uint8_t *p, size_t n)
{
	if (m->err == VIGIL_OK && n > 0)
		m->err = tl_text(m->tl, p, n);
}

static int
is_flow_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/*
 * Whether the UTF-8 character at p is East Asian wide, by its leading
 * bytes: U+3000-U+9FFF (CJK punctuation, kana, ideographs), compatibility
 * ideographs, full-width forms, and the supplementary ideographs.
 */
static int
is_wide(const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	if (p[0] >= 0xe3 && p[0] <= 0xe9)
		return 1;
	if (n < 2)
		return 0;
	if (p[0] == 0xef)
		return (p[1] >= 0xa4 && p[1] <= 0xab) || p[1] == 0xbc ||
		    p[1] == 0xbd;
	return p[0] == 0xf0 && p[1] >= 0xa0 && p[1] <= 0xbf;
}

/* Whether the last character of p[0..n) is wide. */
static int
ends_wide(const uint8_t *p, size_t n)
{
	size_t	i = n;

	while (i > 0 && n - i < 4 && (p[i - 1] & 0xc0) == 0x80)
		i--;
	return i > 0 && is_wide(p + i - 1, n - i + 1);
}

/*
 * White space is held until the next word shows whether it is a space
 * (one, however long the run) or a single line break between wide
 * characters (nothing); white space at the end of the text is dropped.
 * Output gathers in buf, one tl_text() call per buffer, not per word.
 */
static void
flow_out(struct markup *m, const uint8_t *p, size_t n)
{
	uint8_t	buf[8192];
	size_t	o = 0, i;

	if (m->pre > 0) {
		if (m->ws != WS_NONE)
			text_out(m, (const uint8_t *)" ", 1);
		m->ws = WS_NONE;
		text_out(m, p, n);
		m->wide = ends_wide(p, n);
		return;
	}
	for (i = 0; i < n; i++) {
		uint8_t	c = p[i];

		if (o + 2 > sizeof(buf)) {
			m->wide = ends_wide(buf, o);
			text_out(m, buf, o);
			o = 0;
		}
		if (!is_flow_space(c)) {
			if (m->ws != WS_NONE && (m->ws != WS_BREAK ||
			    !m->wide || !is_wide(p + i, n - i)))
				buf[o++] = ' ';
			m->ws = WS_NONE;
			buf[o++] = c;
			continue;
		}
		if (c == '\n' || (c == '\r' && (i + 1 == n ||
		    p[i + 1] != '\n'))) {
			/* Whether the word before the break ended wide. */
			if (m->ws == WS_NONE || m->ws == WS_SPACE)
				m->wide = o > 0 ? ends_wide(buf, o) : m->wide;
			/* A second break makes a blank line. */
			m->ws = m->ws == WS_BREAK || m->ws == WS_SEP ? WS_SEP :
			    WS_BREAK;
		} else if (m->ws == WS_NONE)
			m->ws = WS_SPACE;
	}
	if (o > 0) {
		m->wide = ends_wide(buf, o);
		text_out(m, buf, o);
	}
}

/* A block element's edge: words either side are apart. */
static void
flow_block(struct markup *m)
{
	m->ws = WS_SEP;
}

/* Document text out, white space handled as the kind of markup says. */
static void
chars_out(struct markup *m, const uint8_t *p, size_t n)
{
	if (m->kind == MARKUP_HTML || m->kind == MARKUP_FLOW)
		flow_out(m, p, n);
	else
		text_out(m, p, n);
}

static void
sax_chars(void *arg, const xmlChar *p, int n)
{
	if (n > 0)
		chars_out(arg, (const uint8_t *)p, (size_t)n);
}

static int
is_pre(const char *name)
{
	return strcasecmp(name, "pre") == 0 ||
	    strcasecmp(name, "textarea") == 0;
}

static void
sax_html_start(void *arg, const xmlChar *name, const xmlChar **atts)
{
	struct markup	*m = arg;

	(void)atts;
	if (is_block((const char *)name))
		flow_block(m);
	if (is_pre((const char *)name))
		m->pre++;
}

static void
sax_html_end(void *arg, const xmlChar *name)
{
	struct markup	*m = arg;

	if (is_pre((const char *)name) && m->pre > 0)
		m->pre--;
	if (is_block((const char *)name))
		flow_block(m);
}

static void
sax_xml_start(void *arg, const xmlChar *local, const xmlChar *prefix,
    const xmlChar *uri, int nns, const xmlChar **ns, int nattr, int ndef,
    const xmlChar **attrs)
{
	(void)prefix;
	(void)uri;
	(void)nns;
	(void)ns;
	(void)nattr;
	(void)ndef;
	(void)attrs;
	if (is_block((const char *)local))
		text_out(arg, (const uint8_t *)" ", 1);
}

static void
sax_xml_end(void *arg, const xmlChar *local, const xmlChar *prefix,
    const xmlChar *uri)
{
	(void)prefix;
	(void)uri;
	if (is_block((const char *)local))
		text_out(arg, (const uint8_t *)" ", 1);
}

/* Tags dropped, text kept: the reader of last resort. */
static void
strip_tags(struct markup *m, const uint8_t *p, size_t n)
{
	size_t	start = 0;

	for (size_t i = 0; i < n; i++) {
		if (!m->in_tag && p[i] == '<') {
			chars_out(m, p + start, i - start);
			m->in_tag = 1;
		} else if (m->in_tag && p[i] == '>') {
			m->in_tag = 0;
			start = i + 1;
		}
	}
	if (!m->in_tag)
		chars_out(m, p + start, n - start);
}

/* RTF ----------------------------------------------------------------- */

static const char *const rtf_skip_dest[] = {
	"fonttbl", "colortbl", "stylesheet", "info", "pict", "object",
	"themedata", "colorschememapping", "datastore", "latentstyles",
	"listtable", "listoverridetable", "rsidtbl", "generator", "xmlnstbl",
	"header", "footer", "fldinst", "filetbl", "revtbl", "pgdsctbl",
};

static void
rtf_flush_bytes(struct markup *m)
{
	char	 out[1024];
	char	*in = (char *)m->bytes, *o = out;
	size_t	 inleft = m->nbytes, outleft = sizeof(out);

	if (m->nbytes == 0)
		return;
	if (m->cp == (iconv_t)-1)
		m->cp = iconv_open("UTF-8", "CP1252");
	while (inleft > 0 && m->cp != (iconv_t)-1) {
		if (iconv(m->cp, &in, &inleft, &o, &outleft) == (size_t)-1) {
			if (outleft < 3)
				break;
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			outleft -= 3;
			in++;
			inleft--;
		}
	}
	if (m->cp != (iconv_t)-1)
		iconv(m->cp, NULL, NULL, NULL, NULL);
	text_out(m, (uint8_t *)out, (size_t)(o - out));
	m->nbytes = 0;
}

static void
rtf_char(struct markup *m, uint8_t c)
{
	if (m->skip[m->depth])
		return;
	if (m->pending_skip > 0) {
		m->pending_skip--;
		return;
	}
	rtf_flush_bytes(m);
	text_out(m, &c, 1);
}

static void
rtf_byte(struct markup *m, uint8_t b)
{
	if (m->skip[m->depth])
		return;
	if (m->pending_skip > 0) {
		m->pending_skip--;
		return;
	}
	if (m->nbytes == sizeof(m->bytes))
		rtf_flush_bytes(m);
	m->bytes[m->nbytes++] = b;
}

static void
rtf_word(struct markup *m)
{
	const char	*w = m->word;
	long		 v = m->nnum > 0 ? strtol(m->num, NULL, 10) : 0;
	int		 star = m->depth > 0 && m->skip[m->depth] == 2;

	if (m->skip[m->depth] == 1)
		return;
	if (star) {
		/* "{\*\dest": skip unless we know it holds text. */
		m->skip[m->depth] = 1;
		return;
	}
	for (size_t i = 0; i < sizeof(rtf_skip_dest) / sizeof(*rtf_skip_dest);
	    i++)
		if (strcmp(w, rtf_skip_dest[i]) == 0) {
			m->skip[m->depth] = 1;
			return;
		}
	if (strcmp(w, "par") == 0 || strcmp(w, "line") == 0 ||
	    strcmp(w, "tab") == 0 || strcmp(w, "cell") == 0 ||
	    strcmp(w, "row") == 0 || strcmp(w, "sect") == 0 ||
	    strcmp(w, "page") == 0) {
		rtf_flush_bytes(m);
		text_out(m, (const uint8_t *)" ", 1);
	} else if (strcmp(w, "uc") == 0) {
		m->uc[m->depth] = (int)(v < 0 ? 0 : v > 8 ? 8 : v);
	} else if (strcmp(w, "u") == 0) {
		uint8_t	b[4];
		long	c = v < 0 ? v + 65536 : v;
		int	n = 0;

		rtf_flush_bytes(m);
		if (c < 0x80)
			b[n++] = (uint8_t)c;
		else if (c < 0x800) {
			b[n++] = (uint8_t)(0xc0 | (c >> 6));
			b[n++] = (uint8_t)(0x80 | (c & 0x3f));
		} else {
			b[n++] = (uint8_t)(0xe0 | (c >> 12));
			b[n++] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
			b[n++] = (uint8_t)(0x80 | (c & 0x3f));
		}
		text_out(m, b, (size_t)n);
		m->pending_skip = m->uc[m->depth];
	} else if (strcmp(w, "ansicpg") == 0 && v > 0 && v < 100000) {
		char name[16];

		rtf_flush_bytes(m);
		if (m->cp != (iconv_t)-1)
			iconv_close(m->cp);
		snprintf(name, sizeof(name), "CP%ld", v);
		m->cp = iconv_open("UTF-8", name);
	}
}

enum { RTF_TEXT, RTF_ESC, RTF_WORD, RTF_NUM, RTF_HEX };

static void
rtf_feed(struct markup *m, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && m->err == VIGIL_OK; i++) {
		uint8_t c = p[i];

		switch (m->state) {
		case RTF_TEXT:
			if (c == '\\')
				m->state = RTF_ESC;
			else if (c == '{') {
				if (m->depth + 1 < RTF_MAX_DEPTH) {
					m->depth++;
					m->skip[m->depth] =
					    m->skip[m->depth - 1] == 1;
					m->uc[m->depth] = m->uc[m->depth - 1];
				}
			} else if (c == '}') {
				rtf_flush_bytes(m);
				if (m->depth > 0)
					m->depth--;
			} else if (c != '\r' && c != '\n')
				rtf_char(m, c);
			break;
		case RTF_ESC:
			if (isalpha(c)) {
				m->nword = 0;
				m->nnum = 0;
				m->word[m->nword++] = (char)c;
				m->state = RTF_WORD;
			} else if (c == '\'') {
				m->nhex = 0;
				m->hexval = 0;
				m->state = RTF_HEX;
			} else if (c == '*') {
				if (!m->skip[m->depth])
					m->skip[m->depth] = 2;
				m->state = RTF_TEXT;
			} else {
				if (c == '~')
					c = ' ';
				if (c == '\\' || c == '{' || c == '}' ||
				    c == ' ')
					rtf_char(m, c);
				m->state = RTF_TEXT;
			}
			break;
		case RTF_WORD:
		case RTF_NUM:
			if (m->state == RTF_WORD && isalpha(c) &&
			    m->nword + 1 < sizeof(m->word)) {
				m->word[m->nword++] = (char)c;
				break;
			}
			if ((isdigit(c) || (c == '-' && m->nnum == 0)) &&
			    m->nnum + 1 < sizeof(m->num)) {
				m->num[m->nnum++] = (char)c;
				m->state = RTF_NUM;
				break;
			}
			m->word[m->nword] = '\0';
			m->num[m->nnum] = '\0';
			rtf_word(m);
			m->state = RTF_TEXT;
			if (c != ' ')
				i--;	/* the delimiter is text again */
			break;
		case RTF_HEX:
			if (isxdigit(c)) {
				m->hexval = m->hexval * 16 + (isdigit(c) ?
				    c - '0' : tolower(c) - 'a' + 10);
				if (++m->nhex == 2) {
					rtf_byte(m, (uint8_t)m->hexval);
					m->state = RTF_TEXT;
				}
			} else {
				m->state = RTF_TEXT;
				i--;
			}
			break;
		}
	}
}

/* Life cycle ---------------------------------------------------------- */

enum vigil_err
markup_new(struct tl *tl, enum markup_kind kind, struct markup **out)
{
	static htmlSAXHandler	 hsax;
	static xmlSAXHandler	 xsax;
	struct markup		*m;

	if ((m = vg_calloc(1, sizeof(*m))) == NULL)
		return VIGIL_E_NOMEM;
	m->tl = tl;
	m->kind = kind;
	m->cp = (iconv_t)-1;
	m->uc[0] = 1;
	if (kind == MARKUP_HTML) {
		hsax.startElement = sax_html_start;
		hsax.endElement = sax_html_end;
		hsax.characters = sax_chars;
		hsax.cdataBlock = sax_chars;
		hsax.ignorableWhitespace = sax_chars;
		m->ctxt = htmlCreatePushParserCtxt(&hsax, m, NULL, 0, NULL,
		    XML_CHAR_ENCODING_UTF8);
		if (m->ctxt != NULL)
			htmlCtxtUseOptions(m->ctxt, HTML_PARSE_RECOVER |
			    HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
			    HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC |
			    HTML_PARSE_NOIMPLIED);
	} else if (kind == MARKUP_XML) {
		xsax.initialized = XML_SAX2_MAGIC;
		xsax.startElementNs = sax_xml_start;
		xsax.endElementNs = sax_xml_end;
		xsax.characters = sax_chars;
		xsax.cdataBlock = sax_chars;
		m->ctxt = xmlCreatePushParserCtxt(&xsax, m, NULL, 0, NULL);
		if (m->ctxt != NULL)
			xmlCtxtUseOptions(m->ctxt, XML_PARSE_RECOVER |
			    XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
			    XML_PARSE_NONET | XML_PARSE_IGNORE_ENC |
			    XML_PARSE_NOCDATA);
	}
	if (kind != MARKUP_RTF && kind != MARKUP_FLOW && m->ctxt == NULL)
		m->fallback = 1;
	*out = m;
	return VIGIL_OK;
}

enum vigil_err
markup_feed(struct markup *m, const uint8_t *p, size_t n)
{
	int	rc;

	if (m->kind == MARKUP_RTF) {
		rtf_feed(m, p, n);
		return m->err;
	}
	if (m->kind == MARKUP_FLOW) {
		flow_out(m, p, n);
		return m->err;
	}
	while (!m->fallback && n > 0) {
		/* The parsers take an int length. */
		size_t k = n > (1u << 20) ? (1u << 20) : n;

		rc = m->kind == MARKUP_HTML ?
		    htmlParseChunk(m->ctxt, (const char *)p, (int)k, 0) :
		    xmlParseChunk(m->ctxt, (const char *)p, (int)k, 0);
		p += k;
		n -= k;
		if (rc != 0 && m->ctxt->instate == XML_PARSER_EOF) {
			/* Stopped for good (not well-formed beyond repair). */
			m->fallback = 1;
			break;
		}
	}
	if (m->fallback && n > 0)
		strip_tags(m, p, n);
	return m->err;
}

enum vigil_err
markup_end(struct markup *m)
{
	if (m->kind == MARKUP_RTF)
		rtf_flush_bytes(m);
	else if (m->kind != MARKUP_FLOW && !m->fallback && m->ctxt != NULL) {
		if (m->kind == MARKUP_HTML)
			htmlParseChunk(m->ctxt, NULL, 0, 1);
		else
			xmlParseChunk(m->ctxt, NULL, 0, 1);
	}
	return m->err;
}

void
markup_free(struct markup *m)
{
	if (m == NULL)
		return;
	if (m->ctxt != NULL) {
		/* A DTD in the document makes the parser build a doc for it. */
		if (m->ctxt->myDoc != NULL)
			xmlFreeDoc(m->ctxt->myDoc);
		if (m->kind == MARKUP_HTML)
			htmlFreeParserCtxt(m->ctxt);
		else
			xmlFreeParserCtxt(m->ctxt);
	}
	if (m->cp != (iconv_t)-1)
		iconv_close(m->cp);
	vg_free(m);
}
