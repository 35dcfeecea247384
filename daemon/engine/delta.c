/*
 * delta.c: which edits of the text layer leave which patterns alone.
 *
 * DESIGN
 *
 * Chinese prose stored as UTF-8 has a full-width comma or colon in every
 * sentence, and NFKC turns each into its ASCII form, so nearly every
 * Chinese file starts the text layer (text.c) and is matched twice: once
 * as raw bytes, once as text.  But the text differs from the bytes only
 * where those marks stood, and most patterns cannot tell: a keyword of
 * letters and ideographs, or /AKIA[0-9A-Z]{16}/, matches "，" neither in
 * the bytes (EF BC 8C) nor in the text (","), and its matches elsewhere
 * are the same bytes in both.  Such a pattern's text-layer matches are
 * its raw matches, one for one, so the text pass can leave it out.
 *
 * The edits this covers are the "delta" characters: the seven full-width
 * marks of Chinese prose, ，：；！？（）, U+FF0C and friends, each of which NFKC
 * maps to one ASCII mark that composes with nothing.  A pattern is
 * "sensitive" to them if it can consume
 *
 *   - one of their products , : ; ! ? ( ), or
 *   - a byte of their UTF-8 forms (EF BC 81 88 89 8C 9A 9B 9F), except as
 *     part of a whole UTF-8 character written in the pattern: in valid
 *     UTF-8 such a character only ever matches a whole character, so
 *     "似" (E4 BC BC) never matches inside "，" (EF BC 8C).
 *
 * anything else (a dot, a negated class, \W, \S) counts as every byte.
 * Word boundaries and fullword need no care: the marks and their products
 * are neither letters nor digits.  A string with offset conditions ($a at
 * N, $a in (..)) is sensitive too, since the text's offsets shift, and
 * so are the strings of a rule kept to the text layer or whose condition
 * more matches could make false (monotone()).
 *
 * Everything is conservative: a pattern wrongly called sensitive costs a
 * little speed, never a match.  text.c falls back to matching every
 * pattern on the text the moment any other character would change
 * (match_upgrade()).
 *
 * Even the sensitive patterns rarely match.  Each gets a guard in the raw
 * database, its expression with every place that may take a product also
 * taking the delta character itself (delta_guard_expr(): "," becomes
 * (?:,|\xef\xbc[\x8c]), [=:] becomes (?:[=:]|\xef\xbc[\x9a])).  Any text
 * match has a guard match at the same place in the bytes (and so has any
 * raw match of the pattern), so until the raw unit meets a guard, text.c
 * only checks the text and keeps the raw bytes; then it matches from the
 * start.  A unit that never meets one is answered by its raw unit alone.
 */
#include <string.h>

#include "vigil/core.h"
#include "engine_int.h"
#include "ruleset_int.h"

/* Whether set holds a product (delta_product()). */
static int
has_product(const uint8_t *set)
{
	for (unsigned b = 0x20; b < 0x40; b++)
		if (delta_product((uint8_t)b) && (set[b >> 3] & (1u << (b & 7))))
			return 1;
	return 0;
}

struct walk {
	uint8_t		set[32];	/* bytes a match may consume */
	int		sensitive;	/* a delta character written out */
	uint8_t		u8[4];		/* a UTF-8 character being read */
	unsigned	nu8, need;
	uint8_t		last[4];	/* the character just completed */
	unsigned	nlast;
};

static void
add(struct walk *w, unsigned b)
{
	w->set[b >> 3] |= (uint8_t)(1u << (b & 7));
}

static void
add_range(uint8_t *set, unsigned lo, unsigned hi)
{
	for (unsigned b = lo; b <= hi && b < 256; b++)
		set[b >> 3] |= (uint8_t)(1u << (b & 7));
}

/* A character cut short counts byte by byte. */
static void
flush_u8(struct walk *w)
{
	for (unsigned i = 0; i < w->nu8; i++)
		add(w, w->u8[i]);
	w->nu8 = w->need = 0;
	w->nlast = 0;
}

/* A byte the pattern matches as itself. */
static void
literal(struct walk *w, uint8_t b)
{
	w->nlast = 0;
	if (w->need > 0) {
		if ((b & 0xc0) == 0x80) {
			w->u8[w->nu8++] = b;
			if (w->nu8 == w->need) {
				uint32_t c = w->u8[0] & (0x7f >> w->need);

				for (unsigned i = 1; i < w->nu8; i++)
					c = (c << 6) | (w->u8[i] & 0x3f);
				if (delta_char(c))
					w->sensitive = 1;
				memcpy(w->last, w->u8, w->nu8);
				w->nlast = w->nu8;
				w->nu8 = w->need = 0;
			}
			return;
		}
		flush_u8(w);
	}
	if (b >= 0xc2 && b <= 0xf4) {
		w->u8[0] = b;
		w->nu8 = 1;
		w->need = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
		return;
	}
	add(w, b);
}

/* A quantifier repeats the last byte, which may end a character. */
static void
quantified(struct walk *w)
{
	for (unsigned i = 0; i < w->nlast; i++)
		add(w, w->last[i]);
	flush_u8(w);
}

/*
 * The bytes escape p[0..] (after the backslash) stands for, into set;
 * returns the escape's length, and *lit gets the byte when it is one.
 */
static size_t
escape(const char *p, uint8_t *set, int *lit)
{
	*lit = -1;
	switch (p[0]) {
	case 'x':
		if (vg_hexval(p[1]) >= 0 && vg_hexval(p[2]) >= 0) {
			*lit = vg_hexval(p[1]) * 16 + vg_hexval(p[2]);
			return 3;
		}
		add_range(set, 0, 255);
		return 1;
	case 'd':
		add_range(set, '0', '9');
		return 1;
	case 'w':
		add_range(set, '0', '9');
		add_range(set, 'A', 'Z');
		add_range(set, 'a', 'z');
		add_range(set, '_', '_');
		return 1;
	case 's':
		add_range(set, '\t', '\r');
		add_range(set, ' ', ' ');
		return 1;
	case 'b':
	case 'B':
		return 1;	/* no byte */
	case 'n':
		*lit = '\n';
		return 1;
	case 'r':
		*lit = '\r';
		return 1;
	case 't':
		*lit = '\t';
		return 1;
	case 'f':
		*lit = '\f';
		return 1;
	case 'a':
		*lit = '\a';
		return 1;
	case '\0':
		return 0;
	default:
		if ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z') ||
		    (p[0] >= '0' && p[0] <= '9'))
			add_range(set, 0, 255);	/* \D \W \S and the unknown */
		else
			*lit = (uint8_t)p[0];
		return 1;
	}
}

/* A class from p (just after '['); returns its length up to the ']'. */
static size_t
klass(const char *p, uint8_t *set)
{
	uint8_t	cls[32] = { 0 };
	size_t	i = 0;
	int	neg = 0, prev = -1;

	if (p[i] == '^') {
		neg = 1;
		i++;
	}
	if (p[i] == ']') {
		prev = ']';
		add_range(cls, ']', ']');
		i++;
	}
	while (p[i] != '\0' && p[i] != ']') {
		int	b;

		if (p[i] == '\\') {
			int	lit;
			size_t	k = escape(p + i + 1, cls, &lit);

			i += 1 + k;
			b = lit;
		} else if (p[i] == '-' && prev >= 0 && p[i + 1] != ']' &&
		    p[i + 1] != '\0') {
			int hi;

			i++;
			if (p[i] == '\\') {
				size_t k = escape(p + i + 1, cls, &hi);

				i += 1 + k;
			} else
				hi = (uint8_t)p[i++];
			if (hi < 0)
				add_range(cls, 0, 255);
			else if (hi >= prev)
				add_range(cls, (unsigned)prev, (unsigned)hi);
			prev = -1;
			continue;
		} else
			b = (uint8_t)p[i++];
		if (b >= 0)
			add_range(cls, (unsigned)b, (unsigned)b);
		prev = b;
	}
	for (unsigned k = 0; k < 32; k++)
		set[k] |= neg ? (uint8_t)~cls[k] : cls[k];
	return p[i] == ']' ? i + 1 : i;
}

/* Whether p starts a counted repeat: {n}, {n,}, {n,m}, {,m}. */
static size_t
repeat_len(const char *p)
{
	size_t	i = 1;

	while (p[i] >= '0' && p[i] <= '9')
		i++;
	if (p[i] == ',')
		for (i++; p[i] >= '0' && p[i] <= '9'; i++)
			;
	return p[i] == '}' && i > 1 ? i + 1 : 0;
}

/* Whether an expression (vigil's PCRE subset) is sensitive; see DESIGN. */
static int
expr_sensitive(const char *e)
{
	struct walk	w;
	size_t		i = 0, k;

	memset(&w, 0, sizeof(w));
	while (e[i] != '\0') {
		int	lit;

		switch (e[i]) {
		case '\\':
			k = escape(e + i + 1, w.set, &lit);
			if (lit >= 0)
				literal(&w, (uint8_t)lit);
			else
				flush_u8(&w);
			i += 1 + k;
			continue;
		case '[':
			flush_u8(&w);
			i += 1 + klass(e + i + 1, w.set);
			continue;
		case '.':
			flush_u8(&w);
			add_range(w.set, 0, 255);
			break;
		case '*':
		case '+':
		case '?':
			quantified(&w);
			break;
		case '{':
			if ((k = repeat_len(e + i)) > 0) {
				quantified(&w);
				i += k;
				continue;
			}
			literal(&w, '{');
			break;
		case '(':
			flush_u8(&w);
			/* (?: opens a group (hex strings); no '?' repeats '('. */
			if (e[i + 1] == '?' && e[i + 2] == ':')
				i += 2;
			break;
		case ')':
		case '|':
		case '^':
		case '$':
			flush_u8(&w);
			break;
		default:
			literal(&w, (uint8_t)e[i]);
			break;
		}
		i++;
	}
	flush_u8(&w);
	if (w.sensitive)
		return 1;
	if (has_product(w.set))
		return 1;
	/* The bytes of ，：；！？（）. */
	for (const uint8_t *b = (const uint8_t *)
	    "\xef\xbc\x81\x88\x89\x8c\x9a\x9b\x9f"; *b != 0; b++)
		if (w.set[*b >> 3] & (1u << (*b & 7)))
			return 1;
	return 0;
}

/*
 * Whether more matches can only help c hold.  Then, if a rule holds in a
 * delta unit on strings answered from the raw unit alone, it holds in the
 * raw layer too, which reports it with its raw offset; a rule that is not
 * (not, filesize, #a < N) runs all its strings in the text pass.
 */
static int
monotone(const struct cond *c)
{
	switch (c->op) {
	case C_TRUE:
	case C_FALSE:
	case C_STR:
	case C_AT:
	case C_IN:
	case C_OF:
		return 1;
	case C_AND:
	case C_OR:
		return monotone(c->a) && monotone(c->b);
	case C_GT:
	case C_GE:
		return c->a->op == E_COUNT && c->b->op == E_INT;
	case C_LT:
	case C_LE:
		return c->a->op == E_INT && c->b->op == E_COUNT;
	default:
		return 0;
	}
}

void
delta_classify(struct eng_ruleset *rs)
{
	rs->delta = 0;
	/*
	 * Offset conditions see the text's offsets, and so does the report
	 * of a string whose literal the layer folds (match.c's has_alt),
	 * which the raw layer would not report.
	 */
	for (unsigned i = 0; i < rs->nstrings; i++)
		rs->strings[i].text_pass = rs->strings[i].nranges > 0 ||
		    rs->strings[i].has_alt;
	for (unsigned i = 0; i < rs->nrules; i++) {
		const struct rs_rule *r = &rs->rules[i];

		if ((r->layers & LAYER_RAW) && monotone(r->cond))
			continue;
		for (unsigned k = 0; k < r->nstrings; k++)
			rs->strings[r->first_string + k].text_pass = 1;
	}
	for (unsigned i = 0; i < rs->npatterns; i++) {
		struct rs_pattern	*p = &rs->patterns[i];
		struct rs_string	*s = &rs->strings[p->string];

		/* Only what the text layer counts: see eval_slot(). */
		if (s->has_alt && !p->text_alt)
			continue;
		if (expr_sensitive(p->expr))
			s->text_pass = 1;
	}
	for (unsigned i = 0; i < rs->npatterns; i++) {
		struct rs_pattern	*p = &rs->patterns[i];
		struct rs_string	*s = &rs->strings[p->string];

		/* A rule kept to the raw layer is never asked about text. */
		if (!(rs->rules[s->rule].layers & LAYER_TEXT))
			s->text_pass = 0;
		p->text_pass = s->text_pass && (p->text_alt || !s->has_alt);
	}
	for (unsigned i = 0; i < rs->nstrings; i++)
		if (!rs->strings[i].text_pass)
			rs->delta = 1;
}

/* The delta characters' last UTF-8 byte for the products in set, as a class. */
static enum vigil_err
fw_alt(struct vg_buf *b, const uint8_t *set)
{
	enum vigil_err	err = vg_buf_addf(b, "|\\xef\\xbc[");

	for (unsigned c = 0x20; c < 0x40 && err == VIGIL_OK; c++)
		if (delta_product((uint8_t)c) && (set[c >> 3] & (1u << (c & 7))))
			err = vg_buf_addf(b, "\\x%02x",
			    0x80 | ((0xfee0u + c) & 0x3f));
	return err == VIGIL_OK ? vg_buf_addf(b, "])") : err;
}

/* Token tok (n bytes) as is, or as (?:tok|FW) when it may consume products. */
static enum vigil_err
guard_token(struct vg_buf *b, const char *tok, size_t n, const uint8_t *set)
{
	enum vigil_err	err;

	if (!has_product(set))
		return vg_buf_add(b, tok, n);
	if ((err = vg_buf_addf(b, "(?:")) != VIGIL_OK ||
	    (err = vg_buf_add(b, tok, n)) != VIGIL_OK)
		return err;
	return fw_alt(b, set);
}

char *
delta_guard_expr(const char *e)
{
	struct vg_buf	b;
	size_t		i = 0, k;
	enum vigil_err	err = VIGIL_OK;

	/* A token grows by at most 42 bytes: (?: tok |\xef\xbc[7 x \xHH]) */
	vg_buf_init(&b, 48 * strlen(e) + 64);
	while (e[i] != '\0' && err == VIGIL_OK) {
		uint8_t	set[32] = { 0 };
		int	lit;

		switch (e[i]) {
		case '\\':
			k = 1 + escape(e + i + 1, set, &lit);
			if (lit >= 0)
				set[lit >> 3] |= (uint8_t)(1u << (lit & 7));
			break;
		case '[':
			k = 1 + klass(e + i + 1, set);
			break;
		case '.':
			add_range(set, 0, 255);
			k = 1;
			break;
		case '{':
			if ((k = repeat_len(e + i)) == 0) {
				k = 1;
				set['{' >> 3] |= 1u << ('{' & 7);
			}
			break;
		case '(':
			k = e[i + 1] == '?' && e[i + 2] == ':' ? 3 : 1;
			break;
		case ')':
		case '|':
		case '?':
		case '*':
		case '+':
		case '^':
		case '$':
			k = 1;
			break;
		default:
			k = 1;
			set[(uint8_t)e[i] >> 3] |= (uint8_t)(1u << (e[i] & 7));
			break;
		}
		err = guard_token(&b, e + i, k, set);
		i += k;
	}
	if (err != VIGIL_OK) {
		vg_buf_free(&b);
		return NULL;
	}
	if (b.data == NULL)
		return vg_strdup(e);
	return b.data;
}
