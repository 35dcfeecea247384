/*
 * ruleset.c: the parser for vigil's subset of the YARA language.
 *
 * DESIGN
 * Every rule file vigil accepts is a valid YARA file, and anything outside
 * the subset is refused with file:line:column and what is unsupported, never
 * silently mis-evaluated.  The parser is a hand-written recursive descent
 * over a small lexer; hex strings and regular expressions are lexed where
 * the grammar expects them (after "$x ="), as YARA's own lexer does.  Hex
 * strings become PCRE-syntax expressions; regular expressions are checked
 * construct by construct against what YARA accepts, then passed on.
 * Conditions become a small tree (struct cond) with types checked here;
 * offsets in "at" and "in" must be constants, so the matcher can test each
 * match against them as it arrives instead of keeping every offset.
 * match_compile() (match.c) then turns the strings into patterns.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "vigil/core.h"
#include "vigil/engine.h"
#include "ruleset_int.h"

#define MAX_RULE_FILE	(16u << 20)
#define MAX_INCLUDE	16
#define MAX_STRING	RS_MAX_MATCH

const char *const eng_clauses[ENG_NCLAUSES] = {
	"IV.9(1)", "IV.9(2)", "IV.9(3)", "IV.9(4)", "IV.9(5)", "IV.9(6)",
	"IV.9(7)", "IV.9(8)", "network-safety",
};

const char *
eng_severity_name(enum eng_severity s)
{
	switch (s) {
	case ENG_SEV_LOW:
		return "low";
	case ENG_SEV_MEDIUM:
		return "medium";
	case ENG_SEV_HIGH:
		return "high";
	case ENG_SEV_CRITICAL:
		return "critical";
	}
	return "low";
}

enum eng_severity
eng_severity_parse(const char *name)
{
	for (int i = ENG_SEV_CRITICAL; name != NULL && i > ENG_SEV_LOW; i--)
		if (strcmp(name, eng_severity_name((enum eng_severity)i)) == 0)
			return (enum eng_severity)i;
	return ENG_SEV_LOW;
}

enum tok_type {
	T_EOF, T_IDENT, T_STRID, T_COUNT, T_OFFSET, T_LENGTH, T_INT, T_TEXT,
	T_PUNCT, T_DOTDOT, T_EQ, T_NE, T_LE, T_GE,
};

struct tok {
	enum tok_type	 type;
	const char	*p;	/* token text in the source */
	size_t		 n;
	int		 line, col;
	int64_t		 ival;
	char		 c;	/* T_PUNCT */
};

struct lexer {
	const char	*file;
	const char	*src;
	size_t		 len, pos;
	int		 line, col;
};

/* Growable arrays of the ruleset under construction. */
struct builder {
	struct eng_ruleset	*rs;
	unsigned		 cap_rules, cap_strings;
	struct eng_diag		*diag;
	EVP_MD_CTX		*hash;
	int			 depth;	/* include nesting */
	char			*files[MAX_INCLUDE];
};

struct parser {
	struct builder	*b;
	struct lexer	 lx;
	struct tok	 t;		/* current token */
	struct rs_rule	*rule;		/* rule being parsed */
	unsigned char	*used;		/* per string of the rule */
	enum vigil_err	 err;
};

static enum vigil_err	parse_file(struct builder *, const char *path,
			    const struct tok *from, const char *fromfile);

static enum vigil_err	perr_at(struct parser *, enum vigil_err, int, int,
			    const char *, ...) __attribute__((format(printf, 5, 6)));

/* Records the first error; returns the error for "return perr(...)". */
static enum vigil_err
perr_at(struct parser *ps, enum vigil_err err, int line, int col,
    const char *fmt, ...)
{
	struct eng_diag	*d = ps->b->diag;
	va_list		 ap;

	if (ps->err != VIGIL_OK)
		return ps->err;
	ps->err = err;
	if (d != NULL) {
		snprintf(d->file, sizeof(d->file), "%s", ps->lx.file);
		d->line = line;
		d->column = col;
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

#define perr(ps, ...) \
	perr_at((ps), VIGIL_E_SYNTAX, (ps)->t.line, (ps)->t.col, __VA_ARGS__)
#define punsup(ps, ...) \
	perr_at((ps), VIGIL_E_UNSUPPORTED, (ps)->t.line, (ps)->t.col, \
	    __VA_ARGS__)

/* Lexer ---------------------------------------------------------------- */

static int
lx_peekc(const struct lexer *lx, size_t ahead)
{
	if (lx->pos + ahead >= lx->len)
		return -1;
	return (unsigned char)lx->src[lx->pos + ahead];
}

static void
lx_advance(struct lexer *lx, size_t n)
{
	while (n-- > 0 && lx->pos < lx->len) {
		if (lx->src[lx->pos] == '\n') {
			lx->line++;
			lx->col = 1;
		} else
			lx->col++;
		lx->pos++;
	}
}

/* Skips blanks and comments; an unterminated comment is an error. */
static enum vigil_err
lx_skip(struct parser *ps)
{
	struct lexer	*lx = &ps->lx;
	int		 c, line, col;

	for (;;) {
		c = lx_peekc(lx, 0);
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
		    c == '\f' || c == '\v')
			lx_advance(lx, 1);
		else if (c == '/' && lx_peekc(lx, 1) == '/') {
			while ((c = lx_peekc(lx, 0)) != -1 && c != '\n')
				lx_advance(lx, 1);
		} else if (c == '/' && lx_peekc(lx, 1) == '*') {
			line = lx->line;
			col = lx->col;
			lx_advance(lx, 2);
			for (;;) {
				if (lx_peekc(lx, 0) == -1)
					return perr_at(ps, VIGIL_E_SYNTAX,
					    line, col, "unterminated comment");
				if (lx_peekc(lx, 0) == '*' &&
				    lx_peekc(lx, 1) == '/') {
					lx_advance(lx, 2);
					break;
				}
				lx_advance(lx, 1);
			}
		} else
			return VIGIL_OK;
	}
}

static int
is_ident_char(int c)
{
	return c == '_' || isalnum(c);
}

static enum vigil_err
lx_number(struct parser *ps, struct tok *t)
{
	struct lexer		*lx = &ps->lx;
	const char		*s = lx->src + lx->pos;
	size_t			 i = 0, max = lx->len - lx->pos;
	unsigned long long	 v = 0;
	int			 base = 10, digits = 0;

	if (max >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, i = 2;
	else if (max >= 2 && s[0] == '0' && s[1] == 'o')
		base = 8, i = 2;
	for (; i < max; i++) {
		int c = (unsigned char)s[i], d;

		if (isdigit(c))
			d = c - '0';
		else if (base == 16 && isxdigit(c))
			d = tolower(c) - 'a' + 10;
		else
			break;
		if (d >= base)
			break;
		if (v > (unsigned long long)INT64_MAX / (unsigned)base)
			return perr(ps, "integer too large");
		v = v * (unsigned)base + (unsigned)d;
		digits++;
	}
	if (digits == 0)
		return perr(ps, "malformed number");
	if (i + 1 < max && (s[i] == 'K' || s[i] == 'M') && s[i + 1] == 'B') {
		unsigned shift = s[i] == 'K' ? 10 : 20;

		if (v > ((unsigned long long)INT64_MAX >> shift))
			return perr(ps, "integer too large");
		v <<= shift;
		i += 2;
	}
	if (i < max && is_ident_char((unsigned char)s[i]))
		return perr(ps, "malformed number");
	t->type = T_INT;
	t->ival = (int64_t)v;
	lx_advance(lx, i);
	return VIGIL_OK;
}

/* Reads the next token into ps->t. */
static enum vigil_err
next(struct parser *ps)
{
	struct lexer	*lx = &ps->lx;
	struct tok	*t = &ps->t;
	int		 c, c1;
	size_t		 n;

	if (lx_skip(ps) != VIGIL_OK)
		return ps->err;
	memset(t, 0, sizeof(*t));
	t->line = lx->line;
	t->col = lx->col;
	t->p = lx->src + lx->pos;
	c = lx_peekc(lx, 0);
	if (c == -1) {
		t->type = T_EOF;
		return VIGIL_OK;
	}
	if (c == '\0')
		return perr(ps, "NUL byte in rule file");
	if (isalpha(c) || c == '_') {
		for (n = 0; is_ident_char(lx_peekc(lx, n)); n++)
			;
		if (n > 128)
			return perr(ps, "identifier longer than 128 characters");
		t->type = T_IDENT;
		t->n = n;
		lx_advance(lx, n);
		return VIGIL_OK;
	}
	if (c == '$' || c == '#' || c == '@' || c == '!') {
		c1 = lx_peekc(lx, 1);
		if (c == '!' && c1 == '=') {
			t->type = T_NE;
			lx_advance(lx, 2);
			return VIGIL_OK;
		}
		for (n = 1; is_ident_char(lx_peekc(lx, n)); n++)
			;
		if (c == '$' && lx_peekc(lx, n) == '*')
			n++;
		t->type = c == '$' ? T_STRID : c == '#' ? T_COUNT :
		    c == '@' ? T_OFFSET : T_LENGTH;
		t->n = n;
		lx_advance(lx, n);
		return VIGIL_OK;
	}
	if (isdigit(c))
		return lx_number(ps, t);
	if (c == '"') {
		lx_advance(lx, 1);
		for (n = 0;; n++) {
			int d = lx_peekc(lx, n);

			if (d == -1 || d == '\n')
				return perr(ps, "unterminated string");
			if (d == '\\' && lx_peekc(lx, n + 1) != -1) {
				n++;
				continue;
			}
			if (d == '"')
				break;
		}
		t->type = T_TEXT;
		t->p = lx->src + lx->pos;
		t->n = n;
		lx_advance(lx, n + 1);
		return VIGIL_OK;
	}
	c1 = lx_peekc(lx, 1);
	t->type = T_PUNCT;
	t->c = (char)c;
	t->n = 1;
	if (c == '.' && c1 == '.')
		t->type = T_DOTDOT, t->n = 2;
	else if (c == '=' && c1 == '=')
		t->type = T_EQ, t->n = 2;
	else if (c == '<' && c1 == '=')
		t->type = T_LE, t->n = 2;
	else if (c == '>' && c1 == '=')
		t->type = T_GE, t->n = 2;
	else if ((c == '<' && c1 == '<') || (c == '>' && c1 == '>'))
		return punsup(ps, "shift operators are not supported");
	else if (strchr("{}():=,+-*\\%<>/", c) == NULL)
		return punsup(ps, "unexpected character '%c'", c);
	lx_advance(lx, t->n);
	return VIGIL_OK;
}

static int
tok_is(const struct tok *t, const char *word)
{
	return t->type == T_IDENT && t->n == strlen(word) &&
	    memcmp(t->p, word, t->n) == 0;
}

static int
tok_punct(const struct tok *t, char c)
{
	return t->type == T_PUNCT && t->c == c;
}

static enum vigil_err
expect_punct(struct parser *ps, char c, const char *what)
{
	if (!tok_punct(&ps->t, c))
		return perr(ps, "expected '%c' %s", c, what);
	return next(ps);
}

static const char *const yara_keywords[] = {
	"all", "and", "any", "ascii", "at", "base64", "base64wide",
	"condition", "contains", "endswith", "entrypoint", "false", "filesize",
	"for", "fullword", "global", "import", "icontains", "iendswith",
	"iequals", "in", "include", "int16", "int16be", "int32", "int32be",
	"int8", "int8be", "istartswith", "matches", "meta", "nocase", "none",
	"not", "of", "or", "private", "rule", "startswith", "strings", "them",
	"true", "uint16", "uint16be", "uint32", "uint32be", "uint8",
	"uint8be", "wide", "xor", "defined",
};

static int
is_keyword(const struct tok *t)
{
	for (size_t i = 0; i < sizeof(yara_keywords) / sizeof(*yara_keywords);
	    i++)
		if (tok_is(t, yara_keywords[i]))
			return 1;
	return 0;
}

/* Strings: text, hex, regex ----------------------------------------- */

/* Decodes a text string's escapes into out. */
static enum vigil_err
decode_text(struct parser *ps, const struct tok *t, struct vg_buf *out)
{
	for (size_t i = 0; i < t->n; i++) {
		unsigned char c = (unsigned char)t->p[i];
		int hi, lo;

		if (c != '\\') {
			if (vg_buf_addc(out, (char)c) != VIGIL_OK)
				return perr(ps, "string too long");
			continue;
		}
		c = (unsigned char)t->p[++i];
		switch (c) {
		case '"':
		case '\\':
			break;
		case 'n':
			c = '\n';
			break;
		case 't':
			c = '\t';
			break;
		case 'r':
			c = '\r';
			break;
		case 'x':
			if (i + 2 >= t->n + 1 ||
			    (hi = vg_hexval((unsigned char)t->p[i + 1])) < 0 ||
			    (lo = vg_hexval((unsigned char)t->p[i + 2])) < 0)
				return perr_at(ps, VIGIL_E_SYNTAX, t->line,
				    t->col + 1 + (int)i,
				    "\\x needs two hex digits");
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			break;
		default:
			return perr_at(ps, VIGIL_E_SYNTAX, t->line,
			    t->col + 1 + (int)i, "unknown escape '\\%c'", c);
		}
		if (vg_buf_addc(out, (char)c) != VIGIL_OK)
			return perr(ps, "string too long");
	}
	return VIGIL_OK;
}

static enum vigil_err
hex_byte_class(struct vg_buf *out, int hi, int lo)
{
	if (hi < 0 && lo < 0)
		return vg_buf_addf(out, "[\\x00-\\xff]");
	if (lo < 0)
		return vg_buf_addf(out, "[\\x%x0-\\x%xf]", hi, hi);
	if (hi < 0) {
		enum vigil_err err = vg_buf_addc(out, '[');

		for (int h = 0; h < 16 && err == VIGIL_OK; h++)
			err = vg_buf_addf(out, "\\x%x%x", h, lo);
		return err != VIGIL_OK ? err : vg_buf_addc(out, ']');
	}
	return vg_buf_addf(out, "\\x%x%x", hi, lo);
}

/*
 * Lexes a hex string starting at '{' into a PCRE expression.  YARA's rules
 * are kept: jumps neither first nor last, unbounded jumps not inside
 * alternatives, at least one byte.
 */
static enum vigil_err
lex_hex(struct parser *ps, struct vg_buf *out)
{
	struct lexer	*lx = &ps->lx;
	int		 depth = 0, items = 0, last_jump = 0, bytes = 0;
	int		 c, line, col;

	lx_advance(lx, 1);	/* '{' */
	for (;;) {
		c = lx_peekc(lx, 0);
		line = lx->line;
		col = lx->col;
		if (c == -1)
			return perr_at(ps, VIGIL_E_SYNTAX, ps->t.line,
			    ps->t.col, "unterminated hex string");
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx_advance(lx, 1);
			continue;
		}
		if (c == '/' && (lx_peekc(lx, 1) == '/' ||
		    lx_peekc(lx, 1) == '*')) {
			if (lx_skip(ps) != VIGIL_OK)
				return ps->err;
			continue;
		}
		if (c == '}') {
			if (depth != 0)
				return perr_at(ps, VIGIL_E_SYNTAX, line, col,
				    "unbalanced '(' in hex string");
			if (last_jump)
				return perr_at(ps, VIGIL_E_SYNTAX, line, col,
				    "a hex string cannot end with a jump");
			if (bytes == 0)
				return perr_at(ps, VIGIL_E_SYNTAX, line, col,
				    "empty hex string");
			lx_advance(lx, 1);
			return VIGIL_OK;
		}
		if (vg_hexval(c) >= 0 || c == '?') {
			int c2 = lx_peekc(lx, 1);

			if (c2 == -1 || (vg_hexval(c2) < 0 && c2 != '?'))
				return perr_at(ps, VIGIL_E_SYNTAX, line, col,
				    "hex bytes come in pairs of digits");
			if (hex_byte_class(out, c == '?' ? -1 : vg_hexval(c),
			    c2 == '?' ? -1 : vg_hexval(c2)) != VIGIL_OK)
				return perr_at(ps, VIGIL_E_LIMIT, line, col,
				    "hex string too long");
			lx_advance(lx, 2);
			items++;
			bytes++;
			last_jump = 0;
			continue;
		}
		if (c == '[') {
			long	lo = -1, hi = -1;
			char	*end;

			if (items == 0 || last_jump)
				return perr_at(ps, VIGIL_E_SYNTAX, line, col,
				    "a jump must follow a byte");
			lx_advance(lx, 1);
			while (lx_peekc(lx, 0) == ' ')
				lx_advance(lx, 1);
			if (isdigit(lx_peekc(lx, 0))) {
				lo = strtol(lx->src + lx->pos, &end, 10);
				lx_advance(lx, (size_t)(end - (lx->src +
				    lx->pos)));
			}
			while (lx_peekc(lx, 0) == ' ')
				lx_advance(lx, 1);
			if (lx_peekc(lx, 0) == '-') {
				lx_advance(lx, 1);
				while (lx_peekc(lx, 0) == ' ')
					lx_advance(lx, 1);
				if (isdigit(lx_peekc(lx, 0))) {
					hi = strtol(lx->src + lx->pos, &end,
					    10);
					lx_advance(lx, (size_t)(end -
					    (lx->src + lx->pos)));
				}
				while (lx_peekc(lx, 0) == ' ')
					lx_advance(lx, 1);
			} else {
				if (lo < 0)
					return perr_at(ps, VIGIL_E_SYNTAX,
					    line, col, "malformed jump");
				hi = lo;
			}
			if (lx_peekc(lx, 0) != ']')
				return perr_at(ps, VIGIL_E_SYNTAX, line, col,
				    "malformed jump");
			lx_advance(lx, 1);
			if (lo < 0)
				lo = 0;
			if (hi >= 0 && hi < lo)
				return perr_at(ps, VIGIL_E_SYNTAX, line, col,
				    "jump range is reversed");
			if (hi < 0 && depth > 0)
				return perr_at(ps, VIGIL_E_UNSUPPORTED, line,
				    col, "unbounded jumps inside alternatives "
				    "are not allowed");
			if (lo > RS_MAX_MATCH || hi > RS_MAX_MATCH)
				return perr_at(ps, VIGIL_E_UNSUPPORTED, line,
				    col, "jumps longer than %d bytes are not "
				    "supported", RS_MAX_MATCH);
			if (hi < 0)
				vg_buf_addf(out, "[\\x00-\\xff]{%ld,}", lo);
			else if (hi == lo)
				vg_buf_addf(out, "[\\x00-\\xff]{%ld}", lo);
			else
				vg_buf_addf(out, "[\\x00-\\xff]{%ld,%ld}", lo,
				    hi);
			last_jump = 1;
			continue;
		}
		if (c == '(') {
			depth++;
			vg_buf_add(out, "(?:", 3);
			lx_advance(lx, 1);
			items = 0;
			last_jump = 0;
			continue;
		}
		if (c == '|' || c == ')') {
			if (depth == 0)
				return perr_at(ps, VIGIL_E_SYNTAX, line, col,
				    "'%c' outside an alternative", c);
			if (items == 0 || last_jump)
				return perr_at(ps, VIGIL_E_SYNTAX, line, col,
				    "empty or jump-ended alternative");
			vg_buf_addc(out, (char)c);
			if (c == ')')
				depth--;
			else
				items = 0;
			lx_advance(lx, 1);
			items += c == ')';
			continue;
		}
		if (c == '~')
			return perr_at(ps, VIGIL_E_UNSUPPORTED, line, col,
			    "'~' (not) in hex strings needs YARA 4.3");
		return perr_at(ps, VIGIL_E_SYNTAX, line, col,
		    "unexpected '%c' in hex string", c);
	}
}

/*
 * Lexes /regex/flags, checks that it stays within what YARA accepts, and
 * writes the PCRE form ("\/" unescaped, "{,n}" as "{0,n}").
 */
static enum vigil_err
lex_regex(struct parser *ps, struct vg_buf *out, unsigned *mods)
{
	struct lexer	*lx = &ps->lx;
	int		 c, line, col, in_class = 0, can_repeat = 0;
	int		 depth = 0;

	lx_advance(lx, 1);	/* '/' */
	for (;;) {
		c = lx_peekc(lx, 0);
		line = lx->line;
		col = lx->col;
		if (c == -1 || c == '\n')
			return perr_at(ps, VIGIL_E_SYNTAX, ps->t.line,
			    ps->t.col, "unterminated regular expression");
		if (c == '/' && !in_class)
			break;
		if (c == '/')
			return perr_at(ps, VIGIL_E_SYNTAX, line, col,
			    "'/' inside a class must be escaped");
		if (c == '\\') {
			int e = lx_peekc(lx, 1);

			if (e == -1 || e == '\n')
				return perr_at(ps, VIGIL_E_SYNTAX, line, col,
				    "unterminated regular expression");
			if (e == 'x') {
				if (vg_hexval(lx_peekc(lx, 2)) < 0 ||
				    vg_hexval(lx_peekc(lx, 3)) < 0)
					return perr_at(ps, VIGIL_E_SYNTAX,
					    line, col,
					    "\\x needs two hex digits");
				vg_buf_add(out, lx->src + lx->pos, 4);
				lx_advance(lx, 4);
				can_repeat = 1;
				continue;
			}
			if ((e == 'b' || e == 'B') && in_class)
				return perr_at(ps, VIGIL_E_UNSUPPORTED, line,
				    col, "\\%c inside a class", e);
			if (isalnum(e) && strchr("nrtfawWsSdDbB", e) == NULL)
				return perr_at(ps, VIGIL_E_UNSUPPORTED, line,
				    col, "escape '\\%c' is not supported", e);
			if (e == '/')
				vg_buf_addc(out, '/');
			else
				vg_buf_add(out, lx->src + lx->pos, 2);
			lx_advance(lx, 2);
			can_repeat = e != 'b' && e != 'B';
			continue;
		}
		if (in_class) {
			if (c == '[' && lx_peekc(lx, 1) == ':')
				return perr_at(ps, VIGIL_E_UNSUPPORTED, line,
				    col, "POSIX classes [:...:] are not "
				    "supported");
			if (c == ']') {
				in_class = 0;
				can_repeat = 1;
			}
			vg_buf_addc(out, (char)c);
			lx_advance(lx, 1);
			continue;
		}
		switch (c) {
		case '[':
			in_class = 1;
			vg_buf_addc(out, '[');
			lx_advance(lx, 1);
			if (lx_peekc(lx, 0) == '^') {
				vg_buf_addc(out, '^');
				lx_advance(lx, 1);
			}
			if (lx_peekc(lx, 0) == ']') {
				vg_buf_addc(out, ']');
				lx_advance(lx, 1);
			}
			continue;
		case '(':
			if (lx_peekc(lx, 1) == '?')
				return perr_at(ps, VIGIL_E_UNSUPPORTED, line,
				    col, "'(?' group extensions are not "
				    "supported");
			depth++;
			can_repeat = 0;
			break;
		case ')':
			if (depth-- == 0)
				return perr_at(ps, VIGIL_E_SYNTAX, line, col,
				    "unbalanced ')'");
			can_repeat = 1;
			break;
		case '|':
			can_repeat = 0;
			break;
		case '^':
			can_repeat = 0;
			break;
		case '$':
			/*
			 * YARA's $ is the very end; Vectorscan's also matches
			 * before a final newline.  \z means the end in both.
			 */
			vg_buf_add(out, "\\z", 2);
			lx_advance(lx, 1);
			can_repeat = 0;
			continue;
		case '*':
		case '+':
		case '?':
		case '{':
			if (!can_repeat)
				return perr_at(ps, VIGIL_E_SYNTAX, line, col,
				    "nothing to repeat before '%c'", c);
			if (c == '{') {
				const char	*s = lx->src + lx->pos + 1;
				char		*end;
				long		 lo = 0, hi = -1;
				int		 comma = 0;

				if (isdigit((unsigned char)*s))
					lo = strtol(s, &end, 10), s = end;
				else if (*s != ',')
					return perr_at(ps, VIGIL_E_SYNTAX,
					    line, col, "malformed repeat");
				if (*s == ',') {
					comma = 1;
					s++;
					if (isdigit((unsigned char)*s))
						hi = strtol(s, &end, 10),
						    s = end;
				} else
					hi = lo;
				if (*s != '}' || (hi >= 0 && hi < lo) ||
				    lo > 32767 || hi > 32767)
					return perr_at(ps, VIGIL_E_SYNTAX,
					    line, col, "malformed repeat");
				if (!comma)
					vg_buf_addf(out, "{%ld}", lo);
				else if (hi < 0)
					vg_buf_addf(out, "{%ld,}", lo);
				else
					vg_buf_addf(out, "{%ld,%ld}", lo, hi);
				lx_advance(lx, (size_t)(s - (lx->src +
				    lx->pos)) + 1);
			} else {
				vg_buf_addc(out, (char)c);
				lx_advance(lx, 1);
			}
			if (lx_peekc(lx, 0) == '?') {
				vg_buf_addc(out, '?');
				lx_advance(lx, 1);
			}
			c = lx_peekc(lx, 0);
			if (c == '+' || c == '*' || c == '?' || c == '{')
				return perr_at(ps, VIGIL_E_UNSUPPORTED,
				    lx->line, lx->col, "possessive or "
				    "repeated quantifiers are not supported");
			can_repeat = 0;
			continue;
		default:
			can_repeat = 1;
			break;
		}
		vg_buf_addc(out, (char)c);
		lx_advance(lx, 1);
	}
	if (in_class)
		return perr_at(ps, VIGIL_E_SYNTAX, ps->t.line, ps->t.col,
		    "unterminated class in regular expression");
	if (depth != 0)
		return perr_at(ps, VIGIL_E_SYNTAX, ps->t.line, ps->t.col,
		    "unbalanced '(' in regular expression");
	if (out->len == 0)
		return perr_at(ps, VIGIL_E_SYNTAX, ps->t.line, ps->t.col,
		    "empty regular expression");
	lx_advance(lx, 1);	/* '/' */
	while ((c = lx_peekc(lx, 0)) == 'i' || c == 's') {
		*mods |= c == 'i' ? RS_NOCASE : RS_DOTALL;
		lx_advance(lx, 1);
	}
	if (is_ident_char(lx_peekc(lx, 0)))
		return perr_at(ps, VIGIL_E_UNSUPPORTED, lx->line, lx->col,
		    "regular expression flag '%c' is not supported",
		    lx_peekc(lx, 0));
	return VIGIL_OK;
}

/* Strings section ----------------------------------------------------- */

static struct rs_string *
add_string(struct parser *ps)
{
	struct builder		*b = ps->b;
	struct eng_ruleset	*rs = b->rs;
	struct rs_string	*s;

	if (rs->nstrings == b->cap_strings) {
		unsigned	 ncap = b->cap_strings ? b->cap_strings * 2 : 64;
		void		*p;

		if ((p = vg_reallocarray(rs->strings, ncap,
		    sizeof(*rs->strings))) == NULL) {
			perr_at(ps, VIGIL_E_NOMEM, ps->t.line, ps->t.col,
			    "out of memory");
			return NULL;
		}
		rs->strings = p;
		b->cap_strings = ncap;
	}
	s = &rs->strings[rs->nstrings++];
	memset(s, 0, sizeof(*s));
	s->rule = rs->nrules - 1;
	ps->rule->nstrings++;
	return s;
}

static enum vigil_err
parse_string_decl(struct parser *ps)
{
	struct rs_string	*s;
	struct vg_buf		 buf;
	struct tok		 id = ps->t;
	struct eng_ruleset	*rs = ps->b->rs;
	unsigned		 mod;

	if (id.n > 1 && id.p[id.n - 1] == '*')
		return perr(ps, "'*' is not allowed in a string declaration");
	for (unsigned i = 0; i < ps->rule->nstrings && id.n > 1; i++) {
		const char *nm = rs->strings[ps->rule->first_string + i].name;

		if (strlen(nm) == id.n - 1 && memcmp(nm, id.p + 1,
		    id.n - 1) == 0)
			return perr(ps, "duplicate string identifier '%.*s'",
			    (int)id.n, id.p);
	}
	if ((s = add_string(ps)) == NULL)
		return ps->err;
	s->line = id.line;
	s->col = id.col;
	if ((s->name = vg_strndup(id.p + 1, id.n - 1)) == NULL)
		return perr_at(ps, VIGIL_E_NOMEM, id.line, id.col, "no memory");
	if (next(ps) != VIGIL_OK || expect_punct(ps, '=', "after string "
	    "identifier") != VIGIL_OK)
		return ps->err;

	vg_buf_init(&buf, MAX_STRING * 16);
	if (ps->t.type == T_TEXT) {
		s->kind = RS_TEXT;
		if (decode_text(ps, &ps->t, &buf) != VIGIL_OK)
			goto fail;
		if (buf.len == 0) {
			perr(ps, "empty string");
			goto fail;
		}
		if (buf.len > MAX_STRING) {
			perr_at(ps, VIGIL_E_UNSUPPORTED, ps->t.line,
			    ps->t.col, "strings longer than %d bytes are not "
			    "supported", MAX_STRING);
			goto fail;
		}
		s->textlen = buf.len;
		s->text = (uint8_t *)vg_buf_detach(&buf, NULL);
	} else if (tok_punct(&ps->t, '{')) {
		/* The lexer stopped right after '{'; back up to lex it. */
		ps->lx.pos--;
		ps->lx.col--;
		s->kind = RS_HEX;
		if (lex_hex(ps, &buf) != VIGIL_OK)
			goto fail;
		s->expr = vg_buf_detach(&buf, NULL);
	} else if (tok_punct(&ps->t, '/')) {
		ps->lx.pos--;
		ps->lx.col--;
		s->kind = RS_REGEX;
		if (lex_regex(ps, &buf, &s->mods) != VIGIL_OK)
			goto fail;
		s->expr = vg_buf_detach(&buf, NULL);
	} else
		return perr(ps, "expected a text string, hex string or "
		    "regular expression");
	vg_buf_free(&buf);
	if (s->text == NULL && s->expr == NULL)
		return perr_at(ps, VIGIL_E_NOMEM, id.line, id.col, "no memory");

	if (next(ps) != VIGIL_OK)
		return ps->err;
	while (ps->t.type == T_IDENT) {
		if (tok_is(&ps->t, "nocase"))
			mod = RS_NOCASE;
		else if (tok_is(&ps->t, "wide"))
			mod = RS_WIDE;
		else if (tok_is(&ps->t, "ascii"))
			mod = RS_ASCII;
		else if (tok_is(&ps->t, "fullword"))
			mod = RS_FULLWORD;
		else if (tok_is(&ps->t, "private") || tok_is(&ps->t, "xor") ||
		    tok_is(&ps->t, "base64") || tok_is(&ps->t, "base64wide"))
			return punsup(ps, "string modifier '%.*s' is not "
			    "supported", (int)ps->t.n, ps->t.p);
		else
			break;
		if (s->kind == RS_HEX)
			return perr(ps, "hex strings take no modifiers");
		if (s->kind == RS_REGEX && mod != RS_NOCASE && mod != RS_ASCII)
			return punsup(ps, "modifier '%.*s' is not supported on "
			    "regular expressions", (int)ps->t.n, ps->t.p);
		if (s->mods & mod && (s->kind != RS_REGEX || mod != RS_NOCASE))
			return perr(ps, "duplicate modifier '%.*s'",
			    (int)ps->t.n, ps->t.p);
		s->mods |= mod;
		if (next(ps) != VIGIL_OK)
			return ps->err;
	}
	return VIGIL_OK;
fail:
	vg_buf_free(&buf);
	return ps->err;
}

/* Meta section -------------------------------------------------------- */

static enum vigil_err
parse_meta(struct parser *ps)
{
	struct rs_rule	*r = ps->rule;
	struct tok	 key;
	struct vg_buf	 val;
	char		*v;

	while (ps->t.type == T_IDENT && !tok_is(&ps->t, "strings") &&
	    !tok_is(&ps->t, "condition")) {
		key = ps->t;
		if (next(ps) != VIGIL_OK || expect_punct(ps, '=', "after meta "
		    "key") != VIGIL_OK)
			return ps->err;
		if (tok_punct(&ps->t, '-')) {
			if (next(ps) != VIGIL_OK)
				return ps->err;
			if (ps->t.type != T_INT)
				return perr(ps, "expected a number");
		}
		if (ps->t.type == T_INT || tok_is(&ps->t, "true") ||
		    tok_is(&ps->t, "false")) {
			if (tok_is(&key, "clause") || tok_is(&key, "severity") ||
			    tok_is(&key, "mime") || tok_is(&key, "description") ||
			    tok_is(&key, "layer"))
				return perr(ps, "meta '%.*s' must be a string",
				    (int)key.n, key.p);
			if (next(ps) != VIGIL_OK)
				return ps->err;
			continue;
		}
		if (ps->t.type != T_TEXT)
			return perr(ps, "expected a meta value");
		vg_buf_init(&val, 65536);
		if (decode_text(ps, &ps->t, &val) != VIGIL_OK) {
			vg_buf_free(&val);
			return ps->err;
		}
		if ((v = vg_buf_detach(&val, NULL)) == NULL)
			return perr(ps, "out of memory");
		if (tok_is(&key, "clause")) {
			unsigned i;

			for (i = 0; i < ENG_NCLAUSES; i++)
				if (strcmp(v, eng_clauses[i]) == 0)
					break;
			if (i == ENG_NCLAUSES) {
				perr(ps, "unknown clause \"%s\" (want IV.9(1) "
				    "... IV.9(8) or network-safety)", v);
				vg_free(v);
				return ps->err;
			}
			r->clause = i + 1;	/* 0 = not given yet */
			vg_free(v);
		} else if (tok_is(&key, "severity")) {
			int i;

			for (i = ENG_SEV_LOW; i <= ENG_SEV_CRITICAL; i++)
				if (strcmp(v, eng_severity_name(i)) == 0)
					break;
			vg_free(v);
			if (i > ENG_SEV_CRITICAL)
				return perr(ps, "unknown severity (want low, "
				    "medium, high or critical)");
			r->severity = (enum eng_severity)i + 1;
		} else if (tok_is(&key, "layer")) {
			unsigned l = strcmp(v, "raw") == 0 ? 1 :
			    strcmp(v, "text") == 0 ? 2 :
			    strcmp(v, "both") == 0 ? 3 : 0;

			vg_free(v);
			if (l == 0)
				return perr(ps, "unknown layer (want raw, text "
				    "or both)");
			r->layers = l;
		} else if (tok_is(&key, "mime")) {
			vg_free(r->mime);
			r->mime = v;
		} else if (tok_is(&key, "description")) {
			vg_free(r->description);
			r->description = v;
		} else
			vg_free(v);
		if (next(ps) != VIGIL_OK)
			return ps->err;
	}
	return VIGIL_OK;
}

/* Conditions ---------------------------------------------------------- */

enum ctype { TY_BOOL, TY_INT };

static struct cond	*parse_or(struct parser *, enum ctype *);
static struct cond	*parse_binary(struct parser *, enum ctype *, int);

void
cond_free(struct cond *c)
{
	if (c == NULL)
		return;
	cond_free(c->a);
	cond_free(c->b);
	vg_free(c->set);
	vg_free(c);
}

static struct cond *
cnew(struct parser *ps, enum cond_op op, struct cond *a, struct cond *b)
{
	struct cond	*c;

	if ((c = vg_calloc(1, sizeof(*c))) == NULL) {
		cond_free(a);
		cond_free(b);
		perr_at(ps, VIGIL_E_NOMEM, ps->t.line, ps->t.col,
		    "out of memory");
		return NULL;
	}
	c->op = op;
	c->a = a;
	c->b = b;
	return c;
}

/* a OP b for the arithmetic ops; 0 when undefined (overflow, / 0). */
int
cond_arith(enum cond_op op, int64_t a, int64_t b, int64_t *out)
{
	switch (op) {
	case E_ADD:
		return !__builtin_add_overflow(a, b, out);
	case E_SUB:
		return !__builtin_sub_overflow(a, b, out);
	case E_MUL:
		return !__builtin_mul_overflow(a, b, out);
	case E_DIV:
	case E_MOD:
		if (b == 0 || (a == INT64_MIN && b == -1))
			return 0;
		*out = op == E_DIV ? a / b : a % b;
		return 1;
	default:
		return 0;
	}
}

/* a OP b for the comparison ops. */
int
cond_cmp(enum cond_op op, int64_t a, int64_t b)
{
	switch (op) {
	case C_EQ:
		return a == b;
	case C_NE:
		return a != b;
	case C_LT:
		return a < b;
	case C_LE:
		return a <= b;
	case C_GT:
		return a > b;
	default:
		return a >= b;
	}
}

/* Folds a constant integer expression; 0 when it is not constant. */
static int
const_eval(const struct cond *c, int64_t *out)
{
	int64_t	a, b;

	switch (c->op) {
	case E_INT:
		*out = c->ival;
		return 1;
	case E_NEG:
		if (!const_eval(c->a, &a) || a == INT64_MIN)
			return 0;
		*out = -a;
		return 1;
	case E_ADD:
	case E_SUB:
	case E_MUL:
	case E_DIV:
	case E_MOD:
		return const_eval(c->a, &a) && const_eval(c->b, &b) &&
		    cond_arith(c->op, a, b, out);
	default:
		return 0;
	}
}

/* Finds $name (without '$') among the current rule's strings. */
static int
find_string(struct parser *ps, const char *name, size_t n)
{
	struct eng_ruleset	*rs = ps->b->rs;
	struct rs_rule		*r = ps->rule;

	for (unsigned i = 0; i < r->nstrings; i++) {
		const char *nm = rs->strings[r->first_string + i].name;

		if (n > 0 && strlen(nm) == n && memcmp(nm, name, n) == 0) {
			ps->used[i] = 1;
			return (int)(r->first_string + i);
		}
	}
	return -1;
}

static int
string_ref(struct parser *ps, const struct tok *t)
{
	int	i;

	if (t->n == 1) {
		perr_at(ps, VIGIL_E_UNSUPPORTED, t->line, t->col,
		    "anonymous '%c' outside a string set is not supported",
		    t->p[0]);
		return -1;
	}
	if ((i = find_string(ps, t->p + 1, t->n - 1)) < 0)
		perr_at(ps, VIGIL_E_SYNTAX, t->line, t->col,
		    "undefined string identifier '$%.*s'", (int)t->n - 1,
		    t->p + 1);
	return i;
}

static enum vigil_err
add_range(struct parser *ps, unsigned str, int64_t lo, int64_t hi,
    unsigned *idx)
{
	struct rs_string *s = &ps->b->rs->strings[str];

	if (lo < 0 || hi < lo)
		return perr(ps, "empty or negative offset range");
	for (unsigned i = 0; i < s->nranges; i++)
		if (s->ranges[i].lo == (uint64_t)lo &&
		    s->ranges[i].hi == (uint64_t)hi) {
			*idx = i;
			return VIGIL_OK;
		}
	if (s->nranges == RS_MAX_RANGES)
		return punsup(ps, "more than %d offset tests on one string",
		    RS_MAX_RANGES);
	s->ranges[s->nranges].lo = (uint64_t)lo;
	s->ranges[s->nranges].hi = (uint64_t)hi;
	*idx = s->nranges++;
	return VIGIL_OK;
}

/* Parses a string set: them, or ($a, $b*, ...). */
static struct cond *
parse_set(struct parser *ps, struct cond *c)
{
	struct rs_rule	*r = ps->rule;
	unsigned	*set;

	if ((set = vg_calloc(r->nstrings + 1, sizeof(*set))) == NULL) {
		cond_free(c);
		perr(ps, "out of memory");
		return NULL;
	}
	c->set = set;
	if (tok_is(&ps->t, "them")) {
		for (unsigned i = 0; i < r->nstrings; i++) {
			set[c->nset++] = r->first_string + i;
			ps->used[i] = 1;
		}
		if (r->nstrings == 0)
			goto empty;
		if (next(ps) != VIGIL_OK)
			goto fail;
		return c;
	}
	if (expect_punct(ps, '(', "or 'them' after 'of'") != VIGIL_OK)
		goto fail;
	for (;;) {
		struct tok	t = ps->t;
		int		wild, found = 0;
		size_t		plen;

		if (t.type != T_STRID) {
			perr(ps, "expected a string identifier in the set");
			goto fail;
		}
		wild = t.p[t.n - 1] == '*';
		plen = t.n - 1 - (size_t)wild;
		for (unsigned i = 0; i < r->nstrings; i++) {
			const char *nm = ps->b->rs->strings[r->first_string +
			    i].name;

			if (wild ? strncmp(nm, t.p + 1, plen) == 0 :
			    (strlen(nm) == plen &&
			    memcmp(nm, t.p + 1, plen) == 0)) {
				unsigned j, g = r->first_string + i;

				for (j = 0; j < c->nset && set[j] != g; j++)
					;
				if (j == c->nset && c->nset < r->nstrings)
					set[c->nset++] = g;
				ps->used[i] = 1;
				found = 1;
				if (!wild)
					break;
			}
		}
		if (!found) {
			perr_at(ps, VIGIL_E_SYNTAX, t.line, t.col,
			    "undefined string identifier '%.*s'", (int)t.n,
			    t.p);
			goto fail;
		}
		if (next(ps) != VIGIL_OK)
			goto fail;
		if (tok_punct(&ps->t, ')'))
			break;
		if (expect_punct(ps, ',', "or ')' in the string set") !=
		    VIGIL_OK)
			goto fail;
	}
	if (next(ps) != VIGIL_OK)
		goto fail;
	return c;
empty:
	perr(ps, "'them' used in a rule without strings");
fail:
	cond_free(c);
	return NULL;
}

static struct cond *
parse_primary(struct parser *ps, enum ctype *ty)
{
	struct tok	 t = ps->t;
	struct cond	*c, *e;
	int64_t		 lo, hi;
	int		 si;

	if (tok_is(&t, "true") || tok_is(&t, "false")) {
		*ty = TY_BOOL;
		if (next(ps) != VIGIL_OK)
			return NULL;
		return cnew(ps, tok_is(&t, "true") ? C_TRUE : C_FALSE, NULL,
		    NULL);
	}
	if (tok_is(&t, "filesize")) {
		*ty = TY_INT;
		if (next(ps) != VIGIL_OK)
			return NULL;
		return cnew(ps, E_FILESIZE, NULL, NULL);
	}
	if (t.type == T_INT || tok_is(&t, "any") || tok_is(&t, "all")) {
		if (next(ps) != VIGIL_OK)
			return NULL;
		if (!tok_is(&ps->t, "of")) {
			if (t.type != T_INT) {
				perr(ps, "expected 'of' after '%.*s'",
				    (int)t.n, t.p);
				return NULL;
			}
			*ty = TY_INT;
			if ((c = cnew(ps, E_INT, NULL, NULL)) != NULL)
				c->ival = t.ival;
			return c;
		}
		*ty = TY_BOOL;
		if (next(ps) != VIGIL_OK ||
		    (c = cnew(ps, C_OF, NULL, NULL)) == NULL)
			return NULL;
		c->ival = tok_is(&t, "all") ? -1 : tok_is(&t, "any") ? 1 :
		    t.ival;
		if ((c = parse_set(ps, c)) == NULL)
			return NULL;
		if (t.type == T_INT && (uint64_t)t.ival > c->nset) {
			perr_at(ps, VIGIL_E_SYNTAX, t.line, t.col, "%lld of a "
			    "set of %u strings can never match",
			    (long long)t.ival, c->nset);
			cond_free(c);
			return NULL;
		}
		return c;
	}
	if (t.type == T_COUNT) {
		*ty = TY_INT;
		if ((si = string_ref(ps, &t)) < 0 || next(ps) != VIGIL_OK ||
		    (c = cnew(ps, E_COUNT, NULL, NULL)) == NULL)
			return NULL;
		c->str = (unsigned)si;
		ps->b->rs->strings[si].counted = 1;
		return c;
	}
	if (t.type == T_STRID) {
		*ty = TY_BOOL;
		if (t.p[t.n - 1] == '*') {
			perr(ps, "a wildcard is only allowed in a string set");
			return NULL;
		}
		if ((si = string_ref(ps, &t)) < 0 || next(ps) != VIGIL_OK)
			return NULL;
		if (tok_is(&ps->t, "at") || tok_is(&ps->t, "in")) {
			int		at = tok_is(&ps->t, "at");
			enum ctype	ety;
			struct tok	where;

			if (next(ps) != VIGIL_OK)
				return NULL;
			if (!at && expect_punct(ps, '(', "after 'in'") !=
			    VIGIL_OK)
				return NULL;
			where = ps->t;
			if ((e = parse_binary(ps, &ety, 1)) == NULL)
				return NULL;
			if (ety != TY_INT || !const_eval(e, &lo)) {
				cond_free(e);
				perr_at(ps, VIGIL_E_UNSUPPORTED, where.line,
				    where.col, "offsets after 'at' and 'in' "
				    "must be constant integers");
				return NULL;
			}
			cond_free(e);
			hi = lo;
			if (!at) {
				if (ps->t.type != T_DOTDOT) {
					perr(ps, "expected '..' in range");
					return NULL;
				}
				if (next(ps) != VIGIL_OK)
					return NULL;
				where = ps->t;
				if ((e = parse_binary(ps, &ety, 1)) == NULL)
					return NULL;
				if (ety != TY_INT || !const_eval(e, &hi)) {
					cond_free(e);
					perr_at(ps, VIGIL_E_UNSUPPORTED,
					    where.line, where.col, "offsets "
					    "after 'at' and 'in' must be "
					    "constant integers");
					return NULL;
				}
				cond_free(e);
				if (expect_punct(ps, ')', "after range") !=
				    VIGIL_OK)
					return NULL;
			}
			if ((c = cnew(ps, at ? C_AT : C_IN, NULL, NULL)) ==
			    NULL)
				return NULL;
			c->str = (unsigned)si;
			if (add_range(ps, (unsigned)si, lo, hi, &c->range) !=
			    VIGIL_OK) {
				cond_free(c);
				return NULL;
			}
			return c;
		}
		if ((c = cnew(ps, C_STR, NULL, NULL)) != NULL)
			c->str = (unsigned)si;
		return c;
	}
	if (tok_punct(&t, '(')) {
		if (next(ps) != VIGIL_OK || (c = parse_or(ps, ty)) == NULL)
			return NULL;
		if (expect_punct(ps, ')', "to close '('") != VIGIL_OK) {
			cond_free(c);
			return NULL;
		}
		return c;
	}
	if (t.type == T_OFFSET || t.type == T_LENGTH)
		punsup(ps, "'%c' match offsets and lengths are not supported",
		    t.p[0]);
	else if (t.type == T_IDENT && is_keyword(&t))
		punsup(ps, "'%.*s' is not supported in vigil conditions",
		    (int)t.n, t.p);
	else if (t.type == T_IDENT)
		punsup(ps, "identifier '%.*s': rule references, modules and "
		    "external variables are not supported", (int)t.n, t.p);
	else if (t.type == T_EOF)
		perr(ps, "unexpected end of file in condition");
	else
		perr(ps, "unexpected '%.*s' in condition", (int)t.n, t.p);
	return NULL;
}

static struct cond *
parse_unary(struct parser *ps, enum ctype *ty)
{
	struct cond	*c;

	if (tok_punct(&ps->t, '-')) {
		if (next(ps) != VIGIL_OK || (c = parse_unary(ps, ty)) == NULL)
			return NULL;
		if (*ty != TY_INT) {
			cond_free(c);
			perr(ps, "'-' needs an integer");
			return NULL;
		}
		return cnew(ps, E_NEG, c, NULL);
	}
	return parse_primary(ps, ty);
}

/* Levels: 0 comparisons, 1 additive, 2 multiplicative. */
static struct cond *
parse_binary(struct parser *ps, enum ctype *ty, int level)
{
	struct cond	*a, *b;
	enum ctype	 tb;
	enum cond_op	 op;

	a = level == 2 ? parse_unary(ps, ty) : parse_binary(ps, ty,
	    level + 1);
	if (a == NULL)
		return NULL;
	for (;;) {
		struct tok *t = &ps->t;

		if (level == 0 && t->type == T_EQ)
			op = C_EQ;
		else if (level == 0 && t->type == T_NE)
			op = C_NE;
		else if (level == 0 && t->type == T_LE)
			op = C_LE;
		else if (level == 0 && t->type == T_GE)
			op = C_GE;
		else if (level == 0 && tok_punct(t, '<'))
			op = C_LT;
		else if (level == 0 && tok_punct(t, '>'))
			op = C_GT;
		else if (level == 1 && tok_punct(t, '+'))
			op = E_ADD;
		else if (level == 1 && tok_punct(t, '-'))
			op = E_SUB;
		else if (level == 2 && tok_punct(t, '*'))
			op = E_MUL;
		else if (level == 2 && tok_punct(t, '\\'))
			op = E_DIV;
		else if (level == 2 && tok_punct(t, '%'))
			op = E_MOD;
		else
			return a;
		if (*ty != TY_INT) {
			perr(ps, "operator '%.*s' needs integers", (int)t->n,
			    t->p);
			cond_free(a);
			return NULL;
		}
		if (next(ps) != VIGIL_OK) {
			cond_free(a);
			return NULL;
		}
		b = level == 2 ? parse_unary(ps, &tb) : parse_binary(ps, &tb,
		    level + 1);
		if (b == NULL) {
			cond_free(a);
			return NULL;
		}
		if (tb != TY_INT) {
			perr(ps, "expected an integer expression");
			cond_free(a);
			cond_free(b);
			return NULL;
		}
		if ((a = cnew(ps, op, a, b)) == NULL)
			return NULL;
		*ty = level == 0 ? TY_BOOL : TY_INT;
		if (level == 0)
			return a;	/* comparisons do not chain */
	}
}

static struct cond *
parse_not(struct parser *ps, enum ctype *ty)
{
	struct cond	*c;

	if (tok_is(&ps->t, "not")) {
		if (next(ps) != VIGIL_OK || (c = parse_not(ps, ty)) == NULL)
			return NULL;
		if (*ty != TY_BOOL) {
			cond_free(c);
			perr(ps, "'not' needs a boolean expression");
			return NULL;
		}
		return cnew(ps, C_NOT, c, NULL);
	}
	return parse_binary(ps, ty, 0);
}

static struct cond *
parse_logic(struct parser *ps, enum ctype *ty, const char *word,
    enum cond_op op)
{
	struct cond	*a, *b;
	enum ctype	 tb;

	a = op == C_OR ? parse_logic(ps, ty, "and", C_AND) :
	    parse_not(ps, ty);
	while (a != NULL && tok_is(&ps->t, word)) {
		if (*ty != TY_BOOL) {
			perr(ps, "'%s' needs boolean expressions", word);
			cond_free(a);
			return NULL;
		}
		if (next(ps) != VIGIL_OK) {
			cond_free(a);
			return NULL;
		}
		b = op == C_OR ? parse_logic(ps, &tb, "and", C_AND) :
		    parse_not(ps, &tb);
		if (b == NULL) {
			cond_free(a);
			return NULL;
		}
		if (tb != TY_BOOL) {
			perr(ps, "'%s' needs boolean expressions", word);
			cond_free(a);
			cond_free(b);
			return NULL;
		}
		a = cnew(ps, op, a, b);
	}
	return a;
}

static struct cond *
parse_or(struct parser *ps, enum ctype *ty)
{
	return parse_logic(ps, ty, "or", C_OR);
}

/* Three-valued: 0 false, 1 true, 2 unknown (depends on filesize). */
static int
ev3_int(const struct cond *c, int64_t *v)
{
	int64_t	a, b;

	switch (c->op) {
	case E_INT:
		*v = c->ival;
		return 1;
	case E_COUNT:
		*v = 0;
		return 1;
	case E_FILESIZE:
		return 0;
	case E_NEG:
		if (!ev3_int(c->a, &a))
			return 0;
		*v = -a;
		return 1;
	default:
		return ev3_int(c->a, &a) && ev3_int(c->b, &b) &&
		    cond_arith(c->op, a, b, v);
	}
}

int
cond_eval_unmatched(const struct cond *c)
{
	int	a, b;
	int64_t	x, y;

	switch (c->op) {
	case C_TRUE:
		return 1;
	case C_FALSE:
	case C_STR:
	case C_AT:
	case C_IN:
		return 0;
	case C_OF:
		return c->ival == 0 ? 1 : 0;
	case C_NOT:
		a = cond_eval_unmatched(c->a);
		return a == 2 ? 2 : !a;
	case C_AND:
		a = cond_eval_unmatched(c->a);
		b = cond_eval_unmatched(c->b);
		return (a == 0 || b == 0) ? 0 : (a == 2 || b == 2) ? 2 : 1;
	case C_OR:
		a = cond_eval_unmatched(c->a);
		b = cond_eval_unmatched(c->b);
		return (a == 1 || b == 1) ? 1 : (a == 2 || b == 2) ? 2 : 0;
	case C_EQ:
	case C_NE:
	case C_LT:
	case C_LE:
	case C_GT:
	case C_GE:
		if (!ev3_int(c->a, &x) || !ev3_int(c->b, &y))
			return 2;
		return cond_cmp(c->op, x, y);
	default:
		return 2;
	}
}

/* Rules and files ----------------------------------------------------- */

static void
rule_free(struct rs_rule *r)
{
	vg_free(r->name);
	vg_free(r->file);
	vg_free(r->description);
	vg_free(r->mime);
	cond_free(r->cond);
}

static enum vigil_err
parse_rule(struct parser *ps)
{
	struct builder		*b = ps->b;
	struct eng_ruleset	*rs = b->rs;
	struct rs_rule		*r;
	struct tok		 start = ps->t, name;
	enum ctype		 ty;

	if (next(ps) != VIGIL_OK)
		return ps->err;
	name = ps->t;
	if (name.type != T_IDENT || is_keyword(&name))
		return perr(ps, "expected a rule name");
	for (unsigned i = 0; i < rs->nrules; i++)
		if (strlen(rs->rules[i].name) == name.n &&
		    memcmp(rs->rules[i].name, name.p, name.n) == 0)
			return perr(ps, "duplicate rule name '%.*s' (first "
			    "defined in %s:%d)", (int)name.n, name.p,
			    rs->rules[i].file, rs->rules[i].line);
	if (rs->nrules == b->cap_rules) {
		unsigned	 ncap = b->cap_rules ? b->cap_rules * 2 : 32;
		void		*p;

		if ((p = vg_reallocarray(rs->rules, ncap, sizeof(*rs->rules)))
		    == NULL)
			return perr(ps, "out of memory");
		rs->rules = p;
		b->cap_rules = ncap;
	}
	r = &rs->rules[rs->nrules++];
	memset(r, 0, sizeof(*r));
	ps->rule = r;
	r->first_string = rs->nstrings;
	r->line = start.line;
	if ((r->name = vg_strndup(name.p, name.n)) == NULL ||
	    (r->file = vg_strdup(ps->lx.file)) == NULL)
		return perr(ps, "out of memory");

	if (next(ps) != VIGIL_OK)
		return ps->err;
	if (tok_punct(&ps->t, ':')) {
		if (next(ps) != VIGIL_OK)
			return ps->err;
		if (ps->t.type != T_IDENT)
			return perr(ps, "expected a tag after ':'");
		while (ps->t.type == T_IDENT && !is_keyword(&ps->t))
			if (next(ps) != VIGIL_OK)
				return ps->err;
	}
	if (expect_punct(ps, '{', "to open the rule body") != VIGIL_OK)
		return ps->err;
	if (tok_is(&ps->t, "meta")) {
		if (next(ps) != VIGIL_OK || expect_punct(ps, ':', "after "
		    "'meta'") != VIGIL_OK || parse_meta(ps) != VIGIL_OK)
			return ps->err;
	}
	if (tok_is(&ps->t, "strings")) {
		if (next(ps) != VIGIL_OK || expect_punct(ps, ':', "after "
		    "'strings'") != VIGIL_OK)
			return ps->err;
		if (ps->t.type != T_STRID)
			return perr(ps, "expected a string declaration");
		while (ps->t.type == T_STRID)
			if (parse_string_decl(ps) != VIGIL_OK)
				return ps->err;
	}
	if (!tok_is(&ps->t, "condition"))
		return perr(ps, "expected 'condition:'");
	if (next(ps) != VIGIL_OK || expect_punct(ps, ':', "after "
	    "'condition'") != VIGIL_OK)
		return ps->err;
	if ((ps->used = vg_calloc(r->nstrings + 1, 1)) == NULL)
		return perr(ps, "out of memory");
	r->cond = parse_or(ps, &ty);
	if (r->cond == NULL)
		goto out;
	if (ty != TY_BOOL) {
		perr_at(ps, VIGIL_E_UNSUPPORTED, start.line, start.col,
		    "rule '%s': an integer condition is not supported; "
		    "compare it, e.g. '#a > 0'", r->name);
		goto out;
	}
	if (!tok_punct(&ps->t, '}')) {
		perr(ps, "expected '}' to close rule '%s'", r->name);
		goto out;
	}
	for (unsigned i = 0; i < r->nstrings; i++) {
		struct rs_string *s = &rs->strings[r->first_string + i];

		if (!ps->used[i]) {
			perr_at(ps, VIGIL_E_SYNTAX, start.line, start.col,
			    "rule '%s': unreferenced string '$%s'", r->name,
			    s->name);
			goto out;
		}
	}
	if (r->clause == 0 || r->severity == 0) {
		perr_at(ps, VIGIL_E_SYNTAX, start.line, start.col,
		    "rule '%s' lacks the required meta '%s'", r->name,
		    r->clause == 0 ? "clause" : "severity");
		goto out;
	}
	r->clause--;
	r->severity--;
	if (r->layers == 0)
		r->layers = 3;	/* both */
	r->string_driven = cond_eval_unmatched(r->cond) == 0;
	if (next(ps) != VIGIL_OK)
		goto out;
out:
	vg_free(ps->used);
	ps->used = NULL;
	return ps->err;
}

static enum vigil_err
parse_source(struct parser *ps)
{
	struct tok	t;
	struct vg_buf	path;
	char		*dir, *full;
	enum vigil_err	err;

	if (next(ps) != VIGIL_OK)
		return ps->err;
	while (ps->t.type != T_EOF) {
		t = ps->t;
		if (tok_is(&t, "rule")) {
			if (parse_rule(ps) != VIGIL_OK)
				return ps->err;
		} else if (tok_is(&t, "private") || tok_is(&t, "global"))
			return punsup(ps, "'%.*s' rules are not supported",
			    (int)t.n, t.p);
		else if (tok_is(&t, "import"))
			return punsup(ps, "modules (import) are not supported");
		else if (tok_is(&t, "include")) {
			if (next(ps) != VIGIL_OK)
				return ps->err;
			if (ps->t.type != T_TEXT)
				return perr(ps, "expected a file name after "
				    "'include'");
			vg_buf_init(&path, PATH_MAX);
			if (decode_text(ps, &ps->t, &path) != VIGIL_OK) {
				vg_buf_free(&path);
				return ps->err;
			}
			full = NULL;
			if (path.data != NULL && path.data[0] != '/' &&
			    strrchr(ps->lx.file, '/') != NULL) {
				dir = vg_strndup(ps->lx.file,
				    (size_t)(strrchr(ps->lx.file, '/') -
				    ps->lx.file));
				if (dir != NULL && asprintf(&full, "%s/%s",
				    dir, path.data) < 0)
					full = NULL;
				vg_free(dir);
			} else if (path.data != NULL)
				full = vg_strdup(path.data);
			vg_buf_free(&path);
			if (full == NULL)
				return perr(ps, "out of memory");
			err = parse_file(ps->b, full, &ps->t, ps->lx.file);
			free(full);
			if (err != VIGIL_OK) {
				ps->err = err;
				return err;
			}
			if (next(ps) != VIGIL_OK)
				return ps->err;
		} else
			return perr(ps, "expected 'rule', 'include' or end of "
			    "file");
	}
	return VIGIL_OK;
}

static enum vigil_err
read_file(const char *path, char **out, size_t *lenp)
{
	struct vg_buf	buf;
	char		chunk[65536];
	ssize_t		n;
	int		fd;
	enum vigil_err	err = VIGIL_OK;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return VIGIL_E_IO;
	vg_buf_init(&buf, MAX_RULE_FILE);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = VIGIL_E_IO;
			break;
		}
		if ((err = vg_buf_add(&buf, chunk, (size_t)n)) != VIGIL_OK)
			break;
	}
	close(fd);
	if (err != VIGIL_OK) {
		vg_buf_free(&buf);
		return err;
	}
	*out = vg_buf_detach(&buf, lenp);
	return *out == NULL ? VIGIL_E_NOMEM : VIGIL_OK;
}

static enum vigil_err
parse_file(struct builder *b, const char *path, const struct tok *from,
    const char *fromfile)
{
	struct parser	ps;
	char		*src = NULL;
	size_t		 len;
	enum vigil_err	 err;
	int		 saved;

	memset(&ps, 0, sizeof(ps));
	ps.b = b;
	ps.lx.file = fromfile != NULL ? fromfile : path;
	if (from != NULL) {
		ps.t = *from;
		for (int i = 0; i < b->depth; i++)
			if (strcmp(b->files[i], path) == 0)
				return perr(&ps, "include cycle: '%s'", path);
		if (b->depth == MAX_INCLUDE)
			return perr(&ps, "includes nested deeper than %d",
			    MAX_INCLUDE);
	}
	if ((err = read_file(path, &src, &len)) != VIGIL_OK) {
		saved = errno;
		if (err == VIGIL_E_LIMIT)
			return perr_at(&ps, err, from ? from->line : 0,
			    from ? from->col : 0, "%s: larger than %u MiB",
			    path, MAX_RULE_FILE >> 20);
		return perr_at(&ps, err, from ? from->line : 0,
		    from ? from->col : 0, "cannot read %s: %s", path,
		    strerror(saved));
	}
	EVP_DigestUpdate(b->hash, path, strlen(path) + 1);
	EVP_DigestUpdate(b->hash, src, len);

	b->files[b->depth++] = (char *)path;
	ps.lx.file = path;
	ps.lx.src = src;
	ps.lx.len = len;
	ps.lx.line = 1;
	ps.lx.col = 1;
	err = parse_source(&ps);
	b->depth--;
	vg_free(src);
	return err;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
is_rule_file(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && ((n > 4 && strcmp(name + n - 4, ".yar") ==
	    0) || (n > 5 && strcmp(name + n - 5, ".yara") == 0));
}

/* Parses path: a rule file, or every rule file in a directory. */
static enum vigil_err
parse_path(struct builder *b, const char *path)
{
	struct stat	 st;
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL;
	size_t		 n = 0, cap = 0;
	enum vigil_err	 err = VIGIL_OK;

	if (stat(path, &st) == -1) {
		snprintf(b->diag->file, sizeof(b->diag->file), "%s", path);
		snprintf(b->diag->msg, sizeof(b->diag->msg), "%s",
		    strerror(errno));
		return VIGIL_E_IO;
	}
	if (!S_ISDIR(st.st_mode))
		return parse_file(b, path, NULL, NULL);
	if ((d = opendir(path)) == NULL) {
		snprintf(b->diag->file, sizeof(b->diag->file), "%s", path);
		snprintf(b->diag->msg, sizeof(b->diag->msg), "%s",
		    strerror(errno));
		return VIGIL_E_IO;
	}
	while ((de = readdir(d)) != NULL) {
		char *full;

		if (!is_rule_file(de->d_name))
			continue;
		if (n == cap) {
			void *p = vg_reallocarray(names, cap ? cap * 2 : 16,
			    sizeof(*names));

			if (p == NULL) {
				err = VIGIL_E_NOMEM;
				break;
			}
			names = p;
			cap = cap ? cap * 2 : 16;
		}
		if (asprintf(&full, "%s/%s", path, de->d_name) < 0) {
			err = VIGIL_E_NOMEM;
			break;
		}
		names[n++] = full;
	}
	closedir(d);
	if (err == VIGIL_OK && n == 0) {
		snprintf(b->diag->file, sizeof(b->diag->file), "%s", path);
		snprintf(b->diag->msg, sizeof(b->diag->msg),
		    "no *.yar or *.yara rule files in this directory");
		err = VIGIL_E_NOTFOUND;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && err == VIGIL_OK; i++)
		err = parse_file(b, names[i], NULL, NULL);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	vg_free(names);
	return err;
}

static void
ruleset_free(struct eng_ruleset *rs)
{
	if (rs == NULL)
		return;
	match_free(rs);
	for (unsigned i = 0; i < rs->nrules; i++)
		rule_free(&rs->rules[i]);
	for (unsigned i = 0; i < rs->nstrings; i++) {
		vg_free(rs->strings[i].name);
		vg_free(rs->strings[i].text);
		vg_free(rs->strings[i].expr);
	}
	vg_free(rs->rules);
	vg_free(rs->strings);
	vg_free(rs->always_rules);
	vg_free(rs);
}

enum vigil_err
eng_ruleset_compile(const char *path, enum eng_match_mode mode,
    struct eng_ruleset **out, struct eng_diag *diag)
{
	struct builder		 b;
	struct eng_diag		 scratch;
	struct eng_ruleset	*rs;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned		 mdlen = 0;
	const char		*env;
	enum vigil_err		 err;

	if (diag == NULL)
		diag = &scratch;
	memset(diag, 0, sizeof(*diag));
	*out = NULL;
	if ((rs = vg_calloc(1, sizeof(*rs))) == NULL)
		return VIGIL_E_NOMEM;
	atomic_init(&rs->refs, 1);
	env = getenv("VIGIL_ENGINE");
	rs->mode = mode;
	if (mode == ENG_MODE_AUTO && env != NULL && strcmp(env, "pcre2") == 0)
		rs->mode = ENG_MODE_PCRE2;

	memset(&b, 0, sizeof(b));
	b.rs = rs;
	b.diag = diag;
	if ((b.hash = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex(b.hash, EVP_sha256(), NULL)) {
		err = VIGIL_E_NOMEM;
		goto fail;
	}
	if ((err = parse_path(&b, path)) != VIGIL_OK)
		goto fail;
	EVP_DigestFinal_ex(b.hash, md, &mdlen);
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(rs->version + 2 * i, 3, "%02x", md[i]);

	if ((rs->always_rules = vg_calloc(rs->nrules + 1,
	    sizeof(unsigned))) == NULL) {
		err = VIGIL_E_NOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < rs->nrules; i++)
		if (!rs->rules[i].string_driven)
			rs->always_rules[rs->nalways++] = i;
	if ((err = match_compile(rs, diag)) != VIGIL_OK)
		goto fail;
	EVP_MD_CTX_free(b.hash);
	*out = rs;
	return VIGIL_OK;
fail:
	EVP_MD_CTX_free(b.hash);
	ruleset_free(rs);
	return err;
}

struct eng_ruleset *
eng_ruleset_ref(struct eng_ruleset *rs)
{
	atomic_fetch_add(&rs->refs, 1);
	return rs;
}

void
eng_ruleset_unref(struct eng_ruleset *rs)
{
	if (rs != NULL && atomic_fetch_sub(&rs->refs, 1) == 1)
		ruleset_free(rs);
}

const char *
eng_ruleset_version(const struct eng_ruleset *rs)
{
	return rs->version;
}

size_t
eng_ruleset_nrules(const struct eng_ruleset *rs)
{
	return rs->nrules;
}

void
eng_ruleset_clause_counts(const struct eng_ruleset *rs,
    size_t counts[ENG_NCLAUSES])
{
	memset(counts, 0, sizeof(size_t) * ENG_NCLAUSES);
	for (unsigned i = 0; i < rs->nrules; i++)
		counts[rs->rules[i].clause]++;
}

void
eng_ruleset_pattern_stats(const struct eng_ruleset *rs, size_t *exact,
    size_t *prefilter, size_t *pcre_only)
{
	*exact = *prefilter = *pcre_only = 0;
	for (unsigned i = 0; i < rs->npatterns; i++) {
		switch (rs->patterns[i].mode) {
		case PAT_HS_EXACT:
			(*exact)++;
			break;
		case PAT_HS_PREFILTER:
			(*prefilter)++;
			break;
		case PAT_PCRE_ONLY:
			(*pcre_only)++;
			break;
		}
	}
}
