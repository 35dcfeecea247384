/*
 * match.c: all strings of all rules in one Vectorscan stream database,
 * PCRE2 where Vectorscan cannot answer exactly, and the rule conditions.
 *
 * DESIGN
 * Each string becomes one pattern per variant (ascii, wide).  A pattern
 * runs one of three ways, as rspamd's re_cache records them:
 *
 *   PAT_HS_EXACT      Vectorscan's end offsets are the truth.  If the
 *                     pattern has a fixed width the start is end - width
 *                     and the match is recorded in the callback.
 *   PAT_HS_PREFILTER  Vectorscan over-approximates; each end it reports
 *                     marks a window where PCRE2 confirms.
 *   PAT_PCRE_ONLY     PCRE2 runs over every byte (patterns Vectorscan
 *                     refuses, ENG_MODE_PCRE2, CPUs without SSSE3).
 *
 * YARA counts a string's matches by distinct start offsets.  For patterns
 * without a fixed width, every end offset e reported by Vectorscan means
 * some match starts in [e - maxw, e - minw]; those intervals are searched
 * with PCRE2, start by start.  Units are fed chunk by chunk, so the matcher
 * keeps the last few KiB (history) and decides a start only once all bytes
 * a match from it could need have arrived:
 *
 *          decided            pending (may still grow)
 *   ... ---------------|---------------------------|  avail
 *                  final = avail - maxw - 2
 *
 * A start is "decided" when it is <= final (or at end of stream); per
 * pattern, next_start marks what is decided, so no start counts twice.
 * Fullword checks need the byte after a match, so they wait the same way.
 * Per-unit state is reset in O(1) by a generation number, which matters
 * when 10,000 strings meet a 4 KiB object.
 *
 * The text layer is NFKC text without zero-width characters, so a literal
 * that text_fold() changes ("澳门，娱乐", "ｃａｓｉｎｏ") could never match
 * it as written.  Such a string gets a second pattern, its folded form,
 * whose matches are kept apart (state slot nstrings + string): the raw
 * layer counts only the literal as written, the text layer only the
 * folded form.
 *
 * A delta text unit (delta.c) runs db_delta, the few patterns the
 * full-width marks of Chinese prose can affect, and str_state() answers
 * for every other string from the raw unit of the same bytes.  text.c
 * starts one only once the raw unit has met a guard (match_guarded()).
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/core.h"
#include "engine_int.h"
#include "ruleset_int.h"

/* Bytes of history a unit keeps for PCRE2 windows and fullword checks. */
#define HISTORY		(2 * RS_MAX_MATCH + 64)

struct str_state {
	uint32_t	gen;
	uint32_t	count;
	uint64_t	first;
	uint64_t	bits;		/* offset ranges hit */
};

struct pat_state {
	uint32_t	gen;
	uint64_t	next_start;	/* starts below are decided */
};

struct cand {
	unsigned	pat;
	uint64_t	end;
};

/* The bytes around a string's first match (eng_scanner_set_excerpt()). */
struct exc {
	uint32_t	gen;
	size_t		len, mark, marklen;
	uint8_t		buf[];
};

struct match_unit {
	struct match_ctx	*ctx;
	struct eng_ruleset	*rs;
	hs_stream_t		*stream;
	uint32_t		 gen;
	enum match_layer	 layer;		/* being evaluated */
	enum vigil_err		 err;
	struct str_state	*ss;		/* strings, then folded forms */
	struct pat_state	*pst;
	uint32_t		*rule_gen;
	unsigned		*touched;	/* rules with a string hit */
	unsigned		 ntouched;
	struct cand		*cands;
	size_t			 ncands, capcands;
	uint8_t			 hist[HISTORY];
	size_t			 histlen;
	uint64_t		 avail;		/* bytes fed so far */
	uint8_t			*win;		/* history + chunk, if needed */
	size_t			 wincap;
	const uint8_t		*wdata;		/* current window */
	size_t			 wlen;
	/*
	 * A delta text unit (match_begin_delta()): its stream is db_delta's
	 * and rawsrc answers for the other strings.  Once upgraded, the
	 * stream is db's, opened at unit offset sbase and fed the history
	 * again (replay) for the patterns it has just gained.
	 */
	unsigned		 slot;
	int			 guard_hit;	/* a raw unit met a guard */
	int			 delta;
	int			 upgraded;
	int			 replay;
	struct match_unit	*rawsrc;
	uint64_t		 sbase;
	/* Excerpts: the chunk being fed, at stream offset curbase. */
	struct exc		**exc;		/* per string, lazily */
	unsigned		 nexc;
	const uint8_t		*cur;
	size_t			 curlen;
	uint64_t		 curbase;
};

struct match_ctx {
	struct eng_ruleset	*rs;	/* borrowed: the job holds a ref */
	hs_scratch_t		*scratch;
	pcre2_match_data	*md;
	pcre2_match_context	*mctx;
	pcre2_jit_stack		*jit;
	uint32_t		 gen;
	struct match_unit	*units[MATCH_SLOTS];
	size_t			 excerpt;	/* bytes each side; 0: off */
	const struct exc	*rep;		/* of the rule being reported */
};

/* Compile ------------------------------------------------------------ */

static enum vigil_err
diag_at(struct eng_diag *d, const struct eng_ruleset *rs,
    const struct rs_string *s, enum vigil_err err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum vigil_err
diag_at(struct eng_diag *d, const struct eng_ruleset *rs,
    const struct rs_string *s, enum vigil_err err, const char *fmt, ...)
{
	va_list	ap;

	snprintf(d->file, sizeof(d->file), "%s", rs->rules[s->rule].file);
	d->line = s->line;
	d->column = s->col;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return err;
}

/* A literal as an expression both engines read: every byte as \xHH. */
static char *
literal_expr(const uint8_t *p, size_t n, int wide)
{
	static const char	 hex[] = "0123456789abcdef";
	char			*out, *o;

	if ((out = vg_malloc(n * 8 + 1)) == NULL)
		return NULL;
	o = out;
	for (size_t i = 0; i < n; i++) {
		*o++ = '\\';
		*o++ = 'x';
		*o++ = hex[p[i] >> 4];
		*o++ = hex[p[i] & 15];
		if (wide) {
			memcpy(o, "\\x00", 4);
			o += 4;
		}
	}
	*o = '\0';
	return out;
}

static enum vigil_err
add_pattern(struct eng_ruleset *rs, unsigned *cap, unsigned str, char *expr,
    int wide)
{
	struct rs_string	*s = &rs->strings[str];
	struct rs_pattern	*p;

	if (expr == NULL)
		return VIGIL_E_NOMEM;
	if (rs->npatterns == *cap) {
		void *np = vg_reallocarray(rs->patterns, *cap ? *cap * 2 : 64,
		    sizeof(*rs->patterns));

		if (np == NULL) {
			vg_free(expr);
			return VIGIL_E_NOMEM;
		}
		rs->patterns = np;
		*cap = *cap ? *cap * 2 : 64;
	}
	p = &rs->patterns[rs->npatterns++];
	memset(p, 0, sizeof(*p));
	p->string = str;
	p->expr = expr;
	p->wide = wide;
	p->litlen = (uint32_t)s->textlen;
	p->fullword = (s->mods & RS_FULLWORD) != 0;
	if (s->mods & RS_NOCASE) {
		p->hs_flags |= HS_FLAG_CASELESS;
		p->pcre_opts |= PCRE2_CASELESS;
	}
	if (s->mods & RS_DOTALL || s->kind == RS_HEX) {
		p->hs_flags |= HS_FLAG_DOTALL;
		p->pcre_opts |= PCRE2_DOTALL;
	}
	p->pcre_opts |= PCRE2_DOLLAR_ENDONLY;
	/*
	 * A literal whose conditions only ask whether it occurs (not how
	 * often, not where) needs its first match only: Vectorscan then
	 * stops reporting it for the unit, which matters for common words
	 * among 10,000 keywords.  Fullword is excluded: the first candidate
	 * may fail its boundary check and a later one pass.
	 */
	if (s->kind == RS_TEXT && !p->fullword && !s->counted &&
	    s->nranges == 0)
		p->hs_flags |= HS_FLAG_SINGLEMATCH;
	return VIGIL_OK;
}

/* Adds expr as string str's folded form (see DESIGN), litlen for a text. */
static enum vigil_err
add_alt(struct eng_ruleset *rs, unsigned *cap, unsigned str, char *expr,
    uint32_t litlen)
{
	enum vigil_err	err;

	if ((err = add_pattern(rs, cap, str, expr, 0)) != VIGIL_OK)
		return err;
	rs->patterns[rs->npatterns - 1].text_alt = 1;
	rs->patterns[rs->npatterns - 1].litlen = litlen;
	rs->strings[str].has_alt = 1;
	return VIGIL_OK;
}

/* The folded form of text string str, when the text layer has another. */
static enum vigil_err
add_text_alt(struct eng_ruleset *rs, unsigned *cap, unsigned str)
{
	struct rs_string	*s = &rs->strings[str];
	uint8_t			*f;
	size_t			 n;
	char			*e;

	/* A literal of zero-width characters never meets the text layer. */
	if (!text_fold(s->text, s->textlen, &f, &n) || n == 0)
		return VIGIL_OK;
	e = literal_expr(f, n, 0);
	free(f);
	return add_alt(rs, cap, str, e, (uint32_t)n);
}

/*
 * A regular expression as the text layer needs it: each character outside
 * a class and not escaped that the layer folds ("：" in "(:|：)") becomes
 * its folded form, written as \xHH so that a "（" that folds to "(" stays
 * a literal.  Classes are byte sets and are left alone; a zero-width
 * character (which folds to nothing, and would hand its quantifier to
 * the atom before it) leaves the whole expression as it is.  NULL when
 * nothing changes.
 */
static char *
fold_regex(const char *expr)
{
	static const char	 hex[] = "0123456789abcdef";
	const uint8_t		*p = (const uint8_t *)expr;
	size_t			 n = strlen(expr), i = 0, k;
	struct vg_buf		 b;
	int			 changed = 0, cls = 0;
	uint8_t			*f;
	size_t			 fn;

	vg_buf_init(&b, 4 * n + 1);
	while (i < n) {
		if (p[i] == '\\' && i + 1 < n) {
			if (vg_buf_add(&b, p + i, 2) != VIGIL_OK)
				goto fail;
			i += 2;
			continue;
		}
		if (cls || p[i] < 0x80) {
			if (!cls && p[i] == '[') {
				cls = 1;
				/* A ']' first in the class is a member. */
				k = i + 1 < n && p[i + 1] == '^' ? 2 : 1;
				if (i + k < n && p[i + k] == ']')
					k++;
				if (vg_buf_add(&b, p + i, k) != VIGIL_OK)
					goto fail;
				i += k;
				continue;
			}
			if (cls && p[i] == ']')
				cls = 0;
			if (vg_buf_add(&b, p + i, 1) != VIGIL_OK)
				goto fail;
			i++;
			continue;
		}
		/* One UTF-8 character (or a stray byte, copied as it is). */
		for (k = 1; i + k < n && k < 4 && (p[i + k] & 0xc0) == 0x80; k++)
			;
		if (!text_fold(p + i, k, &f, &fn)) {
			if (vg_buf_add(&b, p + i, k) != VIGIL_OK)
				goto fail;
			i += k;
			continue;
		}
		if (fn == 0)
			goto fail;	/* zero-width: see above */
		for (size_t j = 0; j < fn; j++) {
			char	x[4] = { '\\', 'x', hex[f[j] >> 4],
			    hex[f[j] & 15] };

			if (vg_buf_add(&b, x, 4) != VIGIL_OK) {
				free(f);
				goto fail;
			}
		}
		free(f);
		changed = 1;
		i += k;
	}
	if (!changed || vg_buf_add(&b, "", 1) != VIGIL_OK)
		goto fail;
	return (char *)b.data;
fail:
	vg_buf_free(&b);
	return NULL;
}

/* Widths and the way each pattern runs, before the database is built. */
static enum vigil_err
classify_pattern(struct eng_ruleset *rs, struct rs_pattern *p,
    struct eng_diag *d)
{
	struct rs_string	*s = &rs->strings[p->string];
	hs_expr_info_t		*info = NULL;
	hs_compile_error_t	*cerr = NULL;

	if (hs_expression_info(p->expr, p->hs_flags, &info, &cerr) ==
	    HS_SUCCESS) {
		p->minw = info->min_width;
		p->maxw = info->max_width;
		free(info);
		p->mode = PAT_HS_EXACT;
	} else {
		hs_free_compile_error(cerr);
		cerr = NULL;
		if (hs_expression_info(p->expr, p->hs_flags |
		    HS_FLAG_PREFILTER, &info, &cerr) == HS_SUCCESS) {
			free(info);
			p->mode = PAT_HS_PREFILTER;
		} else {
			hs_free_compile_error(cerr);
			p->mode = PAT_PCRE_ONLY;
		}
		p->minw = 0;
		p->maxw = UINT32_MAX;
	}
	if (s->kind == RS_TEXT && !p->guard)
		p->minw = p->maxw = p->litlen * (p->wide ? 2 : 1);
	if (p->maxw == 0 && p->mode == PAT_HS_EXACT && !p->guard)
		return diag_at(d, rs, s, VIGIL_E_SYNTAX, "string '$%s' can "
		    "match an empty string", s->name);
	if (p->maxw > RS_MAX_MATCH)
		p->maxw = RS_MAX_MATCH;
	if (p->minw > p->maxw)
		p->minw = p->maxw;
	if (rs->mode == ENG_MODE_PCRE2)
		p->mode = PAT_PCRE_ONLY;
	return VIGIL_OK;
}

static enum vigil_err
compile_pcre(struct eng_ruleset *rs, struct rs_pattern *p,
    struct eng_diag *d)
{
	struct rs_string	*s = &rs->strings[p->string];
	int			 errcode;
	PCRE2_SIZE		 erroff;
	PCRE2_UCHAR		 msg[256];

	p->re = pcre2_compile((PCRE2_SPTR)p->expr, PCRE2_ZERO_TERMINATED,
	    p->pcre_opts, &errcode, &erroff, NULL);
	if (p->re == NULL) {
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		return diag_at(d, rs, s, VIGIL_E_SYNTAX, "string '$%s': %s "
		    "at offset %zu of the expression", s->name,
		    (const char *)msg, (size_t)erroff);
	}
	(void)pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE);
	return VIGIL_OK;
}

/* What hs_compile_multi() is given: the patterns Vectorscan runs. */
struct hs_input {
	const char	**exprs;
	unsigned	 *flags, *ids, n;
};

static void
hs_input_free(struct hs_input *in)
{
	vg_free(in->exprs);
	vg_free(in->flags);
	vg_free(in->ids);
	memset(in, 0, sizeof(*in));
}

/* Every pattern not left to PCRE2 (only the delta pass's if delta). */
static enum vigil_err
hs_input_fill(const struct eng_ruleset *rs, int delta, struct hs_input *in)
{
	hs_input_free(in);
	in->exprs = vg_calloc(rs->npatterns + 1, sizeof(*in->exprs));
	in->flags = vg_calloc(rs->npatterns + 1, sizeof(*in->flags));
	in->ids = vg_calloc(rs->npatterns + 1, sizeof(*in->ids));
	if (in->exprs == NULL || in->flags == NULL || in->ids == NULL)
		return VIGIL_E_NOMEM;
	for (unsigned i = 0; i < rs->npatterns; i++) {
		const struct rs_pattern *p = &rs->patterns[i];

		if (p->mode == PAT_PCRE_ONLY || (delta && !p->text_pass))
			continue;
		in->exprs[in->n] = p->expr;
		in->flags[in->n] = p->hs_flags | (p->mode == PAT_HS_PREFILTER ?
		    HS_FLAG_PREFILTER : 0);
		in->ids[in->n++] = i;
	}
	return VIGIL_OK;
}

/* Builds the Vectorscan database, demoting patterns it refuses. */
static enum vigil_err
compile_hs(struct eng_ruleset *rs, struct eng_diag *d)
{
	struct hs_input		 in = { 0 };
	hs_compile_error_t	*cerr = NULL;
	enum vigil_err		 err = VIGIL_OK;

	for (unsigned tries = 0; tries <= rs->npatterns; tries++) {
		if ((err = hs_input_fill(rs, 0, &in)) != VIGIL_OK)
			goto out;
		if (in.n == 0)
			goto out;
		if (hs_compile_multi(in.exprs, in.flags, in.ids, in.n,
		    HS_MODE_STREAM, NULL, &rs->db, &cerr) == HS_SUCCESS)
			goto out;
		if (cerr->expression < 0) {
			snprintf(d->file, sizeof(d->file), "%s",
			    rs->nrules ? rs->rules[0].file : "");
			snprintf(d->msg, sizeof(d->msg), "Vectorscan could not "
			    "build the database: %s", cerr->message);
			err = VIGIL_E_ENGINE;
			goto out;
		}
		{
			struct rs_pattern *p =
			    &rs->patterns[in.ids[cerr->expression]];

			vg_log_debug("pattern %s: %s; demoted", p->expr,
			    cerr->message);
			p->mode = p->mode == PAT_HS_EXACT ? PAT_HS_PREFILTER :
			    PAT_PCRE_ONLY;
		}
		hs_free_compile_error(cerr);
		cerr = NULL;
	}
out:
	if (cerr != NULL)
		hs_free_compile_error(cerr);
	hs_input_free(&in);
	return err;
}

/* A guard (delta.c) in the raw database for each pattern of the delta pass. */
static enum vigil_err
add_guards(struct eng_ruleset *rs, unsigned *cap)
{
	unsigned	n = rs->npatterns;
	enum vigil_err	err;

	for (unsigned i = 0; rs->delta && i < n; i++) {
		struct rs_pattern	*g;
		unsigned		 flags;

		if (!rs->patterns[i].text_pass)
			continue;
		flags = rs->patterns[i].hs_flags;
		if ((err = add_pattern(rs, cap, rs->patterns[i].string,
		    delta_guard_expr(rs->patterns[i].expr),
		    rs->patterns[i].wide)) != VIGIL_OK)
			return err;
		g = &rs->patterns[rs->npatterns - 1];
		g->guard = 1;
		g->hs_flags = flags | HS_FLAG_SINGLEMATCH;
	}
	return VIGIL_OK;
}

/*
 * The delta text pass's database: the patterns delta.c marked, modes as
 * the full build left them.  Best effort: if Vectorscan refuses the
 * subset, every text unit matches every pattern, as without it.
 */
static void
compile_delta(struct eng_ruleset *rs)
{
	struct hs_input		 in = { 0 };
	hs_compile_error_t	*cerr = NULL;

	if (!rs->delta)
		return;
	if (hs_input_fill(rs, 1, &in) != VIGIL_OK)
		rs->delta = 0;
	else if (in.n > 0 && hs_compile_multi(in.exprs, in.flags, in.ids,
	    in.n, HS_MODE_STREAM, NULL, &rs->db_delta, &cerr) != HS_SUCCESS) {
		vg_log_debug("delta text pass: %s; matching every pattern on "
		    "text", cerr->message);
		hs_free_compile_error(cerr);
		rs->delta = 0;
	}
	hs_input_free(&in);
}

enum vigil_err
match_compile(struct eng_ruleset *rs, struct eng_diag *d)
{
	unsigned	cap = 0, npo = 0;
	char		*e;
	enum vigil_err	err;

	if (rs->mode == ENG_MODE_AUTO && hs_valid_platform() != HS_SUCCESS) {
		vg_log_warnx("this CPU cannot run Vectorscan; matching with "
		    "PCRE2 only (much slower)");
		rs->mode = ENG_MODE_PCRE2;
	}
	for (unsigned i = 0; i < rs->nstrings; i++) {
		struct rs_string *s = &rs->strings[i];
		int ascii = !(s->mods & RS_WIDE) || (s->mods & RS_ASCII);

		if (s->kind == RS_TEXT) {
			if (ascii && (err = add_pattern(rs, &cap, i,
			    literal_expr(s->text, s->textlen, 0), 0)) !=
			    VIGIL_OK)
				return err;
			if ((s->mods & RS_WIDE) && (err = add_pattern(rs, &cap,
			    i, literal_expr(s->text, s->textlen, 1), 1)) !=
			    VIGIL_OK)
				return err;
			if (ascii && (err = add_text_alt(rs, &cap, i)) !=
			    VIGIL_OK)
				return err;
		} else {
			if ((err = add_pattern(rs, &cap, i,
			    vg_strdup(s->expr), 0)) != VIGIL_OK)
				return err;
			if (s->kind == RS_REGEX &&
			    (e = fold_regex(s->expr)) != NULL &&
			    (err = add_alt(rs, &cap, i, e, 0)) != VIGIL_OK)
				return err;
		}
	}
	delta_classify(rs);
	if ((err = add_guards(rs, &cap)) != VIGIL_OK)
		return err;
	if (!dbcache_load(rs)) {
		for (unsigned i = 0; i < rs->npatterns; i++)
			if ((err = classify_pattern(rs, &rs->patterns[i], d))
			    != VIGIL_OK)
				return err;
		if ((err = compile_hs(rs, d)) != VIGIL_OK)
			return err;
		compile_delta(rs);
		dbcache_store(rs);
	}

	for (unsigned i = 0; i < rs->npatterns; i++) {
		struct rs_pattern *p = &rs->patterns[i];

		if (p->guard) {
			/* Only Vectorscan can watch for it. */
			rs->delta_always |= p->mode == PAT_PCRE_ONLY;
			continue;
		}
		p->fixed = p->mode == PAT_HS_EXACT && p->minw == p->maxw;
		if (!p->fixed && (err = compile_pcre(rs, p, d)) != VIGIL_OK)
			return err;
		if (p->mode == PAT_PCRE_ONLY)
			npo++;
	}
	if ((rs->pcre_only = vg_calloc(npo + 1, sizeof(unsigned))) == NULL)
		return VIGIL_E_NOMEM;
	for (unsigned i = 0; i < rs->npatterns; i++)
		if (rs->patterns[i].mode == PAT_PCRE_ONLY &&
		    !rs->patterns[i].guard)
			rs->pcre_only[rs->npcre_only++] = i;
	return VIGIL_OK;
}

void
match_free(struct eng_ruleset *rs)
{
	for (unsigned i = 0; i < rs->npatterns; i++) {
		vg_free(rs->patterns[i].expr);
		pcre2_code_free(rs->patterns[i].re);
	}
	vg_free(rs->patterns);
	vg_free(rs->pcre_only);
	hs_free_database(rs->db);
	hs_free_database(rs->db_delta);
}

/* Runtime ------------------------------------------------------------ */

enum vigil_err
match_ctx_new(struct match_ctx **out)
{
	struct match_ctx	*ctx;

	if ((ctx = vg_calloc(1, sizeof(*ctx))) == NULL)
		return VIGIL_E_NOMEM;
	ctx->md = pcre2_match_data_create(16, NULL);
	ctx->mctx = pcre2_match_context_create(NULL);
	ctx->jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
	if (ctx->md == NULL || ctx->mctx == NULL || ctx->jit == NULL) {
		match_ctx_free(ctx);
		return VIGIL_E_NOMEM;
	}
	/* Hostile content must not make one confirmation run for minutes. */
	pcre2_set_match_limit(ctx->mctx, 1000000);
	pcre2_set_depth_limit(ctx->mctx, 10000);
	pcre2_jit_stack_assign(ctx->mctx, NULL, ctx->jit);
	*out = ctx;
	return VIGIL_OK;
}

static void
unit_free(struct match_unit *u)
{
	if (u == NULL)
		return;
	if (u->stream != NULL)
		hs_close_stream(u->stream, NULL, NULL, NULL);
	vg_free(u->ss);
	vg_free(u->pst);
	vg_free(u->rule_gen);
	vg_free(u->touched);
	vg_free(u->cands);
	vg_free(u->win);
	/* u->rs may be gone: units outlive the ruleset they were made for. */
	for (unsigned i = 0; i < u->nexc; i++)
		vg_free(u->exc[i]);
	vg_free(u->exc);
	vg_free(u);
}

void
match_ctx_set_excerpt(struct match_ctx *ctx, size_t bytes)
{
	ctx->excerpt = bytes > 4096 ? 4096 : bytes;
}

int
match_ctx_excerpt(const struct match_ctx *ctx, const uint8_t **buf,
    size_t *len, size_t *mark, size_t *marklen)
{
	if (ctx->rep == NULL)
		return 0;
	*buf = ctx->rep->buf;
	*len = ctx->rep->len;
	*mark = ctx->rep->mark;
	*marklen = ctx->rep->marklen;
	return 1;
}

void
match_ctx_free(struct match_ctx *ctx)
{
	if (ctx == NULL)
		return;
	for (unsigned i = 0; i < MATCH_SLOTS; i++)
		unit_free(ctx->units[i]);
	hs_free_scratch(ctx->scratch);
	pcre2_match_data_free(ctx->md);
	pcre2_match_context_free(ctx->mctx);
	pcre2_jit_stack_free(ctx->jit);
	vg_free(ctx);
}

enum vigil_err
match_ctx_prepare(struct match_ctx *ctx, struct eng_ruleset *rs)
{
	if (ctx->rs == rs)
		return VIGIL_OK;
	/* Units are sized for one ruleset; a new one gets new units. */
	for (unsigned i = 0; i < MATCH_SLOTS; i++) {
		unit_free(ctx->units[i]);
		ctx->units[i] = NULL;
	}
	if ((rs->db != NULL && hs_alloc_scratch(rs->db, &ctx->scratch) !=
	    HS_SUCCESS) || (rs->db_delta != NULL &&
	    hs_alloc_scratch(rs->db_delta, &ctx->scratch) != HS_SUCCESS))
		return VIGIL_E_NOMEM;
	ctx->rs = rs;
	return VIGIL_OK;
}

static enum vigil_err
unit_new(struct match_ctx *ctx, struct match_unit **out)
{
	struct eng_ruleset	*rs = ctx->rs;
	struct match_unit	*u;

	if ((u = vg_calloc(1, sizeof(*u))) == NULL)
		return VIGIL_E_NOMEM;
	u->ctx = ctx;
	u->rs = rs;
	u->ss = vg_calloc(2 * rs->nstrings + 1, sizeof(*u->ss));
	u->pst = vg_calloc(rs->npatterns + 1, sizeof(*u->pst));
	u->rule_gen = vg_calloc(rs->nrules + 1, sizeof(*u->rule_gen));
	u->touched = vg_calloc(rs->nrules + 1, sizeof(*u->touched));
	if (u->ss == NULL || u->pst == NULL || u->rule_gen == NULL ||
	    u->touched == NULL) {
		unit_free(u);
		return VIGIL_E_NOMEM;
	}
	*out = u;
	return VIGIL_OK;
}

static enum vigil_err
begin_unit(struct match_ctx *ctx, unsigned slot, const hs_database_t *db,
    struct match_unit **out)
{
	struct match_unit	*u;
	enum vigil_err		 err;

	if (slot >= MATCH_SLOTS)
		return VIGIL_E_LIMIT;
	if (ctx->units[slot] == NULL &&
	    (err = unit_new(ctx, &ctx->units[slot])) != VIGIL_OK)
		return err;
	u = ctx->units[slot];
	u->slot = slot;
	if (++ctx->gen == 0) {
		/* Wrapped: forget every generation, once in 2^32 units. */
		for (unsigned i = 0; i < MATCH_SLOTS; i++) {
			struct match_unit *w = ctx->units[i];

			if (w == NULL)
				continue;
			memset(w->ss, 0, 2 * ctx->rs->nstrings *
			    sizeof(*w->ss));
			memset(w->pst, 0, ctx->rs->npatterns *
			    sizeof(*w->pst));
			memset(w->rule_gen, 0, ctx->rs->nrules *
			    sizeof(*w->rule_gen));
		}
		ctx->gen = 1;
	}
	u->gen = ctx->gen;
	u->ntouched = 0;
	u->ncands = 0;
	u->histlen = 0;
	u->avail = 0;
	u->err = VIGIL_OK;
	u->delta = u->upgraded = u->replay = u->guard_hit = 0;
	u->rawsrc = NULL;
	u->sbase = 0;
	if (db != NULL && hs_open_stream(db, 0, &u->stream) != HS_SUCCESS)
		return VIGIL_E_NOMEM;
	*out = u;
	return VIGIL_OK;
}

enum vigil_err
match_begin(struct match_ctx *ctx, unsigned slot, struct match_unit **out)
{
	return begin_unit(ctx, slot, ctx->rs->db, out);
}

enum vigil_err
match_begin_delta(struct match_ctx *ctx, unsigned slot, unsigned rawslot,
    struct match_unit **out)
{
	enum vigil_err	err;

	if (!ctx->rs->delta || rawslot >= MATCH_SLOTS ||
	    ctx->units[rawslot] == NULL)
		return match_begin(ctx, slot, out);
	if ((err = begin_unit(ctx, slot, ctx->rs->db_delta, out)) != VIGIL_OK)
		return err;
	(*out)->delta = 1;
	(*out)->rawsrc = ctx->units[rawslot];
	return VIGIL_OK;
}

int
match_unit_delta(const struct match_unit *u)
{
	return u != NULL && u->delta;
}

int
match_delta_ok(const struct match_ctx *ctx)
{
	return ctx->rs->delta && !ctx->rs->delta_always;
}

int
match_guarded(const struct match_ctx *ctx, unsigned slot)
{
	return slot < MATCH_SLOTS && ctx->units[slot] != NULL &&
	    ctx->units[slot]->guard_hit;
}

uint64_t
match_unit_bytes(const struct match_unit *u)
{
	return u->avail;
}

/*
 * Copies the bytes around a match at [start, end) that are still at hand
 * (history before the chunk, the chunk itself) as str's excerpt.  Best
 * effort: out of memory means no excerpt, never a failed scan.
 */
static void
capture(struct match_unit *u, unsigned str, uint64_t start, uint64_t end)
{
	size_t		 e = u->ctx->excerpt, n = 0;
	uint64_t	 hbase = u->curbase - u->histlen, a, b, o;
	struct exc	*x;

	if (u->exc == NULL) {
		if ((u->exc = vg_calloc(2 * u->rs->nstrings,
		    sizeof(*u->exc))) == NULL)
			return;
		u->nexc = 2 * u->rs->nstrings;
	}
	if ((x = u->exc[str]) == NULL) {
		if ((x = vg_malloc(sizeof(*x) + 2 * e)) == NULL)
			return;
		u->exc[str] = x;
	}
	a = start > hbase + e ? start - e : hbase;
	if (a > start)
		a = start;
	b = start + e;
	if (b > u->curbase + u->curlen)
		b = u->curbase + u->curlen;
	for (o = a; o < b && n < 2 * e; o++, n++)
		x->buf[n] = o < u->curbase ? u->hist[o - hbase] :
		    u->cur[o - u->curbase];
	x->gen = u->gen;
	x->len = n;
	x->mark = start >= a ? (size_t)(start - a) : 0;
	x->marklen = end > start ? (size_t)(end - start) : 0;
	if (x->mark > n)
		x->mark = n;
	if (x->marklen > n - x->mark)
		x->marklen = n - x->mark;
}

/* The state slot of pattern p's matches. */
static inline unsigned
pat_slot(const struct match_unit *u, const struct rs_pattern *p)
{
	return p->text_alt ? u->rs->nstrings + p->string : p->string;
}

/* The state slot string str is judged by in the layer being evaluated. */
static inline unsigned
eval_slot(const struct match_unit *u, unsigned str)
{
	return u->layer == LAYER_TEXT && u->rs->strings[str].has_alt ?
	    u->rs->nstrings + str : str;
}

/* A match of state slot (a string, or its folded form) at [start, end). */
static void
record(struct match_unit *u, unsigned slot, uint64_t start, uint64_t end)
{
	struct str_state	*st = &u->ss[slot];
	unsigned		 str = slot % u->rs->nstrings;
	const struct rs_string	*s = &u->rs->strings[str];

	if (u->ctx->excerpt > 0 && (st->gen != u->gen || start < st->first))
		capture(u, slot, start, end);
	if (st->gen != u->gen) {
		unsigned rule = s->rule;

		st->gen = u->gen;
		st->count = 0;
		st->first = start;
		st->bits = 0;
		if (u->rule_gen[rule] != u->gen) {
			u->rule_gen[rule] = u->gen;
			u->touched[u->ntouched++] = rule;
		}
	}
	if (st->count != UINT32_MAX)
		st->count++;
	if (start < st->first)
		st->first = start;
	for (unsigned k = 0; k < s->nranges; k++)
		if (start >= s->ranges[k].lo && start <= s->ranges[k].hi)
			st->bits |= 1ULL << k;
}

static int
on_hs_match(unsigned id, unsigned long long from, unsigned long long to,
    unsigned flags, void *arg)
{
	struct match_unit	*u = arg;
	const struct rs_pattern	*p = &u->rs->patterns[id];

	(void)from;
	(void)flags;
	if (p->guard) {
		u->guard_hit = 1;
		return 0;
	}
	/* Replayed history: the delta stream has seen these already. */
	if (u->replay && p->text_pass)
		return 0;
	to += u->sbase;
	if (p->fixed && !p->fullword) {
		record(u, pat_slot(u, p), to - p->maxw, to);
		return 0;
	}
	if (u->ncands == u->capcands) {
		size_t	 ncap = u->capcands ? u->capcands * 2 : 256;
		void	*np = vg_reallocarray(u->cands, ncap,
			    sizeof(*u->cands));

		if (np == NULL) {
			u->err = VIGIL_E_NOMEM;
			return 1;
		}
		u->cands = np;
		u->capcands = ncap;
	}
	u->cands[u->ncands].pat = id;
	u->cands[u->ncands].end = to;
	u->ncands++;
	return 0;
}

/* The byte at stream offset off, which must lie in the window. */
static inline int
wbyte(const struct match_unit *u, uint64_t off)
{
	return u->wdata[off - (u->avail - u->wlen)];
}

/* An ASCII letter or digit, whatever the locale (as in YARA). */
static inline int
alnum(int c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* YARA's fullword: no alphanumeric character touching either end. */
static int
fullword_ok(const struct match_unit *u, const struct rs_pattern *p,
    uint64_t start, uint64_t end, int eof)
{
	uint64_t	wstart = u->avail - u->wlen;

	if (p->wide) {
		if (start >= wstart + 2 && wbyte(u, start - 1) == 0 &&
		    alnum(wbyte(u, start - 2)))
			return 0;
		if (end + 1 < u->avail && wbyte(u, end + 1) == 0 &&
		    alnum(wbyte(u, end)))
			return 0;
	} else {
		if (start >= wstart + 1 && alnum(wbyte(u, start - 1)))
			return 0;
		if (end < u->avail && alnum(wbyte(u, end)))
			return 0;
	}
	(void)eof;
	return 1;
}

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->pat != y->pat)
		return x->pat < y->pat ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* Last start offset whose every possible match has arrived, or -1. */
static int64_t
decided_upto(const struct match_unit *u, const struct rs_pattern *p, int eof)
{
	if (eof)
		return (int64_t)u->avail;
	return (int64_t)u->avail - (int64_t)p->maxw - 2;
}

/* Enumerates match starts of p in [lo, hi] with PCRE2. */
static void
pcre_scan(struct match_unit *u, const struct rs_pattern *p, uint64_t lo,
    uint64_t hi, int eof)
{
	struct match_ctx	*ctx = u->ctx;
	uint64_t		 wstart = u->avail - u->wlen;
	PCRE2_SIZE		*ov = pcre2_get_ovector_pointer(ctx->md);
	uint64_t		 pos = lo;
	int			 rc;

	while (pos <= hi) {
		rc = pcre2_match(p->re, u->wdata, u->wlen,
		    (PCRE2_SIZE)(pos - wstart), eof ? 0 : PCRE2_NOTEOL,
		    ctx->md, ctx->mctx);
		if (rc < 0)
			break;	/* no match, or a match limit */
		uint64_t ms = wstart + ov[0], me = wstart + ov[1];

		if (ms > hi)
			break;
		if (!p->fullword || fullword_ok(u, p, ms, me, eof))
			record(u, pat_slot(u, p), ms, me);
		pos = ms + 1;
	}
}

/*
 * Decides what the candidates (and PCRE2-only patterns) allow, keeping the
 * undecided ones for the next chunk.
 */
static void
confirm(struct match_unit *u, int eof)
{
	const struct eng_ruleset *rs = u->rs;
	size_t			 keep = 0, i, j;

	if (u->ncands > 1)
		qsort(u->cands, u->ncands, sizeof(*u->cands), cand_cmp);
	for (i = 0; i < u->ncands; i = j) {
		unsigned		 id = u->cands[i].pat;
		const struct rs_pattern	*p = &rs->patterns[id];
		struct pat_state	*ps = &u->pst[id];
		int64_t			 final = decided_upto(u, p, eof);

		if (ps->gen != u->gen) {
			ps->gen = u->gen;
			ps->next_start = u->sbase;
		}
		for (j = i; j < u->ncands && u->cands[j].pat == id; j++) {
			uint64_t	end = u->cands[j].end;
			uint64_t	lo = end >= p->maxw ? end - p->maxw : 0;
			uint64_t	hi = end >= p->minw ? end - p->minw : 0;

			if (p->fixed) {
				/* Fullword: wait for the byte(s) after it. */
				if (!eof && end + (p->wide ? 2 : 1) >
				    u->avail) {
					u->cands[keep++] = u->cands[j];
					continue;
				}
				if (fullword_ok(u, p, lo, end, eof))
					record(u, pat_slot(u, p), lo,
					    end);
				continue;
			}
			if ((int64_t)hi > final)
				u->cands[keep++] = u->cands[j];
			if ((int64_t)hi > final)
				hi = final < 0 ? 0 : (uint64_t)final;
			if (lo < ps->next_start)
				lo = ps->next_start;
			if (final < 0 || lo > hi)
				continue;
			pcre_scan(u, p, lo, hi, eof);
			ps->next_start = hi + 1;
		}
	}
	u->ncands = keep;

	for (i = 0; i < rs->npcre_only; i++) {
		unsigned		 id = rs->pcre_only[i];
		const struct rs_pattern	*p = &rs->patterns[id];
		struct pat_state	*ps = &u->pst[id];
		int64_t			 final = decided_upto(u, p, eof);

		if (u->delta && !p->text_pass)
			continue;
		if (ps->gen != u->gen) {
			ps->gen = u->gen;
			ps->next_start = u->sbase;
		}
		if (final < 0 || (int64_t)ps->next_start > final)
			continue;
		pcre_scan(u, p, ps->next_start, (uint64_t)final, eof);
		ps->next_start = (uint64_t)final + 1;
	}
}

/* Makes history + data one contiguous window for PCRE2. */
static enum vigil_err
make_window(struct match_unit *u, const uint8_t *data, size_t len)
{
	size_t	need = u->histlen + len;

	if (u->histlen == 0) {
		u->wdata = data;
		u->wlen = len;
		return VIGIL_OK;
	}
	if (need > u->wincap) {
		void *p = vg_realloc(u->win, need);

		if (p == NULL)
			return VIGIL_E_NOMEM;
		u->win = p;
		u->wincap = need;
	}
	memcpy(u->win, u->hist, u->histlen);
	if (len != 0)
		memcpy(u->win + u->histlen, data, len);
	u->wdata = u->win;
	u->wlen = need;
	return VIGIL_OK;
}

enum vigil_err
match_feed(struct match_unit *u, const void *buf, size_t len)
{
	const uint8_t	*data = buf;
	enum vigil_err	 err;

	if (u->err != VIGIL_OK)
		return u->err;
	if (len == 0)
		return VIGIL_OK;
	u->cur = data;
	u->curlen = len;
	u->curbase = u->avail;
	if (u->stream != NULL && hs_scan_stream(u->stream, (const char *)data,
	    (unsigned)len, 0, u->ctx->scratch, on_hs_match, u) != HS_SUCCESS &&
	    u->err == VIGIL_OK)
		u->err = VIGIL_E_ENGINE;
	u->avail += len;
	if (u->ncands != 0 || u->rs->npcre_only != 0) {
		if ((err = make_window(u, data, len)) != VIGIL_OK)
			u->err = err;
		else
			confirm(u, 0);
	}
	vg_keep_tail(u->hist, HISTORY, &u->histlen, data, len);
	/* The caller's bytes may go now: excerpts come from history. */
	u->cur = NULL;
	u->curlen = 0;
	u->curbase = u->avail;
	return u->err;
}

/*
 * From here on the text may differ from the raw bytes in ways delta.c did
 * not vet, so every pattern must run on it.  Given the text so far, the
 * unit starts again as an ordinary one and is fed it: the result is as if
 * it had never been a delta unit.  Without it, the new stream starts at
 * the oldest byte of history, which it is fed again so that a match
 * ending ahead can start there (maxw <= RS_MAX_MATCH < HISTORY); what the
 * delta stream already reported is not reported twice, and str_state()
 * combines what came before with the raw unit's matches.
 */
void
match_upgrade(struct match_unit *u, const void *text, size_t len)
{
	const struct eng_ruleset *rs = u->rs;
	struct match_unit	*nu;
	enum vigil_err		 err;

	if (!u->delta)
		return;
	if (u->stream != NULL) {
		(void)hs_close_stream(u->stream, NULL, NULL, NULL);
		u->stream = NULL;
	}
	if (text != NULL || u->avail == 0) {
		if ((err = begin_unit(u->ctx, u->slot, rs->db, &nu)) !=
		    VIGIL_OK)
			u->err = err;
		else if (len > 0)
			(void)match_feed(nu, text, len);
		return;
	}
	u->delta = 0;
	u->upgraded = 1;
	u->sbase = u->avail - u->histlen;
	if (rs->db == NULL)
		return;
	if (hs_open_stream(rs->db, 0, &u->stream) != HS_SUCCESS) {
		u->stream = NULL;
		u->err = VIGIL_E_NOMEM;
		return;
	}
	if (u->histlen == 0)
		return;
	u->cur = NULL;
	u->curlen = 0;
	u->curbase = u->avail;
	u->replay = 1;
	if (hs_scan_stream(u->stream, (const char *)u->hist,
	    (unsigned)u->histlen, 0, u->ctx->scratch, on_hs_match, u) !=
	    HS_SUCCESS && u->err == VIGIL_OK)
		u->err = VIGIL_E_ENGINE;
	u->replay = 0;
}

/*
 * The state string str is judged by, in *st; 0 when it has no match.  A
 * delta text unit answers for the strings its pass leaves out from the
 * raw unit, whose matches they are (delta.c), and *own says which; after
 * an upgrade, from both: the text has them from sbase on, the raw bytes
 * before it, and a count is the larger of the two.
 */
static int
str_state(const struct match_unit *u, unsigned str, struct str_state *st,
    int *own)
{
	unsigned		 k = eval_slot(u, str);
	const struct str_state	*a = &u->ss[k], *b;
	int			 ha = a->gen == u->gen && a->count > 0, hb;

	*own = 1;
	if (ha)
		*st = *a;
	if (u->rawsrc == NULL || u->layer != LAYER_TEXT ||
	    u->rs->strings[str].text_pass)
		return ha;
	b = &u->rawsrc->ss[k];
	hb = b->gen == u->rawsrc->gen && b->count > 0;
	if (!hb)
		return ha && u->upgraded;
	if (!ha || !u->upgraded) {
		*st = *b;
		*own = 0;
		return 1;
	}
	if (b->count > st->count)
		st->count = b->count;
	st->bits |= b->bits;
	return 1;
}

/* Integer value of e; 0 when undefined (division by zero). */
static int
eval_int(const struct match_unit *u, const struct cond *c, uint64_t fsize,
    int64_t *v)
{
	struct str_state	st;
	int64_t			a, b;
	int			own;

	switch (c->op) {
	case E_INT:
		*v = c->ival;
		return 1;
	case E_FILESIZE:
		*v = (int64_t)fsize;
		return 1;
	case E_COUNT:
		*v = str_state(u, c->str, &st, &own) ? st.count : 0;
		return 1;
	case E_NEG:
		if (!eval_int(u, c->a, fsize, &a))
			return 0;
		*v = -a;
		return 1;
	default:
		return eval_int(u, c->a, fsize, &a) &&
		    eval_int(u, c->b, fsize, &b) && cond_arith(c->op, a, b, v);
	}
}

static int
str_hit(const struct match_unit *u, unsigned str)
{
	struct str_state	st;
	int			own;

	return str_state(u, str, &st, &own);
}

static int
eval(const struct match_unit *u, const struct cond *c, uint64_t fsize)
{
	struct str_state	st;
	int64_t			a, b;
	unsigned		n;
	int			own;

	switch (c->op) {
	case C_TRUE:
		return 1;
	case C_FALSE:
		return 0;
	case C_AND:
		return eval(u, c->a, fsize) && eval(u, c->b, fsize);
	case C_OR:
		return eval(u, c->a, fsize) || eval(u, c->b, fsize);
	case C_NOT:
		return !eval(u, c->a, fsize);
	case C_STR:
		return str_hit(u, c->str);
	case C_AT:
	case C_IN:
		return str_state(u, c->str, &st, &own) &&
		    (st.bits & (1ULL << c->range)) != 0;
	case C_OF:
		n = 0;
		for (unsigned i = 0; i < c->nset; i++)
			n += str_hit(u, c->set[i]);
		return c->ival < 0 ? n == c->nset : n >= (uint64_t)c->ival;
	case C_EQ:
	case C_NE:
	case C_LT:
	case C_LE:
	case C_GT:
	case C_GE:
		return eval_int(u, c->a, fsize, &a) &&
		    eval_int(u, c->b, fsize, &b) && cond_cmp(c->op, a, b);
	default:
		return 0;
	}
}

static void
eval_rule(struct match_unit *u, unsigned ri, const char *mime,
    enum match_layer layer, uint64_t fsize, match_report_fn fn, void *arg)
{
	const struct rs_rule	*r = &u->rs->rules[ri];
	const struct match_unit	*src = u;
	uint64_t		 off = UINT64_MAX;
	unsigned		 first = UINT32_MAX;

	if ((r->layers & layer) == 0)
		return;
	if (r->mime != NULL && fnmatch(r->mime, mime, 0) != 0)
		return;
	u->layer = layer;
	if (!eval(u, r->cond, fsize))
		return;
	/*
	 * The first hit, from this unit's own strings when it has any: a
	 * delta unit's others are raw matches at raw offsets, and a rule
	 * holding on them alone holds in the raw layer too (delta.c).
	 */
	for (int pass = 1; pass >= 0 && first == UINT32_MAX; pass--)
		for (unsigned i = 0; i < r->nstrings; i++) {
			struct str_state	st;
			unsigned		s = r->first_string + i;
			int			own;

			if (str_state(u, s, &st, &own) && own == pass &&
			    st.first < off) {
				off = st.first;
				first = eval_slot(u, s);
				src = own ? u : u->rawsrc;
			}
		}
	u->ctx->rep = first != UINT32_MAX && src->exc != NULL &&
	    src->exc[first] != NULL && src->exc[first]->gen == src->gen ?
	    src->exc[first] : NULL;
	fn(arg, ri, off == UINT64_MAX ? 0 : off);
	u->ctx->rep = NULL;
}

enum vigil_err
match_end(struct match_unit *u, const char *mime, match_report_fn fn,
    void *arg)
{
	return match_end_layer(u, mime, LAYER_RAW, fn, arg);
}

enum vigil_err
match_end_layer(struct match_unit *u, const char *mime,
    enum match_layer layer, match_report_fn fn, void *arg)
{
	enum vigil_err		 err;

	if (u->stream != NULL) {
		if (hs_close_stream(u->stream, u->ctx->scratch, on_hs_match,
		    u) != HS_SUCCESS && u->err == VIGIL_OK)
			u->err = VIGIL_E_ENGINE;
		u->stream = NULL;
	}
	if ((err = make_window(u, NULL, 0)) != VIGIL_OK && u->err == VIGIL_OK)
		u->err = err;
	u->cur = NULL;
	u->curlen = 0;
	u->curbase = u->avail;
	if (err == VIGIL_OK)
		confirm(u, 1);
	u->ncands = 0;
	if (u->err != VIGIL_OK)
		return u->err;
	match_eval_layer(u, mime, layer, u->avail, fn, arg);
	return VIGIL_OK;
}

void
match_eval_layer(struct match_unit *u, const char *mime,
    enum match_layer layer, uint64_t fsize, match_report_fn fn, void *arg)
{
	const struct eng_ruleset *rs = u->rs;

	if (mime == NULL)
		mime = "application/octet-stream";
	for (unsigned i = 0; i < rs->nalways; i++)
		eval_rule(u, rs->always_rules[i], mime, layer, fsize, fn,
		    arg);
	for (unsigned i = 0; i < u->ntouched; i++)
		if (rs->rules[u->touched[i]].string_driven)
			eval_rule(u, u->touched[i], mime, layer, fsize, fn,
			    arg);
	/* A delta unit's rules hit only through the raw unit's strings. */
	if (u->rawsrc == NULL || layer != LAYER_TEXT)
		return;
	for (unsigned i = 0; i < u->rawsrc->ntouched; i++) {
		unsigned ri = u->rawsrc->touched[i];

		if (rs->rules[ri].string_driven && u->rule_gen[ri] != u->gen)
			eval_rule(u, ri, mime, layer, fsize, fn, arg);
	}
}
