/*
 * ruleset_int.h: the compiled form of a ruleset, shared by the parser
 * (ruleset.c) and the pattern compiler, matcher and condition evaluator
 * (match.c).  Nothing outside daemon/engine/ includes it.
 */
#ifndef VIGIL_RULESET_INT_H
#define VIGIL_RULESET_INT_H

#include <stdatomic.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <hs/hs.h>

#include "vigil/engine.h"

/* A regex match spans at most this many bytes, as YARA's scan limit. */
#define RS_MAX_MATCH	4096
/* Offset constraints ($a at N, $a in (N..M)) per string. */
#define RS_MAX_RANGES	64

enum rs_kind { RS_TEXT, RS_HEX, RS_REGEX };

enum rs_mod {
	RS_NOCASE = 1 << 0,
	RS_WIDE = 1 << 1,
	RS_ASCII = 1 << 2,
	RS_FULLWORD = 1 << 3,
	RS_DOTALL = 1 << 4,	/* regex /s */
};

struct rs_range {
	uint64_t	lo, hi;
};

struct rs_string {
	char		*name;		/* without '$'; "" when anonymous */
	enum rs_kind	 kind;
	unsigned	 mods;
	uint8_t		*text;		/* RS_TEXT: the decoded bytes */
	size_t		 textlen;
	char		*expr;		/* RS_HEX, RS_REGEX: PCRE syntax */
	unsigned	 rule;
	int		 line, col;	/* where it is declared */
	struct rs_range	 ranges[RS_MAX_RANGES];
	unsigned	 nranges;
	int		 counted;	/* #a: every match matters */
	int		 has_alt;	/* a text-layer form differs (match.c) */
	int		 text_pass;	/* the delta text pass needs it (delta.c) */
};

enum cond_op {
	C_TRUE, C_FALSE, C_AND, C_OR, C_NOT,
	C_STR,			/* $a */
	C_AT, C_IN,		/* $a at N, $a in (N..M): range index */
	C_OF,			/* quant of set; quant: a (NULL = any), ival -1 = all */
	C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE,
	E_INT, E_FILESIZE, E_COUNT,
	E_ADD, E_SUB, E_MUL, E_DIV, E_MOD, E_NEG,
};

struct cond {
	enum cond_op	 op;
	struct cond	*a, *b;
	int64_t		 ival;
	unsigned	 str;		/* global string index */
	unsigned	 range;
	unsigned	*set;		/* C_OF: global string indexes */
	unsigned	 nset;
};

struct rs_rule {
	char		*name;
	char		*file;
	int		 line;
	unsigned	 clause;	/* index into eng_clauses[] */
	enum eng_severity severity;
	char		*description;
	char		*mime;		/* glob on the member's MIME type */
	unsigned	 layers;	/* LAYER_RAW | LAYER_TEXT */
	unsigned	 first_string;
	unsigned	 nstrings;
	struct cond	*cond;
	int		 string_driven;	/* false whenever no string matched */
};

enum pat_mode {
	PAT_HS_EXACT,		/* Vectorscan reports exact end offsets */
	PAT_HS_PREFILTER,	/* Vectorscan over-approximates, PCRE2 says */
	PAT_PCRE_ONLY,		/* PCRE2 runs over every byte */
};

/* One expression given to the engines: a string has one per variant. */
struct rs_pattern {
	unsigned	 string;
	char		*expr;		/* PCRE / Vectorscan syntax */
	unsigned	 hs_flags;
	uint32_t	 pcre_opts;
	enum pat_mode	 mode;
	uint32_t	 minw, maxw;	/* match width; maxw capped */
	int		 fixed;		/* exact and minw == maxw */
	int		 wide;		/* fullword looks two bytes away */
	int		 fullword;
	int		 text_alt;	/* the string's text-layer form */
	int		 text_pass;	/* in db_delta (delta.c) */
	int		 guard;		/* a guard in db (delta.c) */
	uint32_t	 litlen;	/* RS_TEXT: bytes of the literal */
	pcre2_code	*re;		/* NULL when fixed */
};

struct eng_ruleset {
	atomic_uint		 refs;
	struct rs_rule		*rules;
	unsigned		 nrules;
	struct rs_string	*strings;
	unsigned		 nstrings;
	struct rs_pattern	*patterns;
	unsigned		 npatterns;
	unsigned		*pcre_only;	/* pattern ids */
	unsigned		 npcre_only;
	unsigned		*always_rules;	/* rules not string-driven */
	unsigned		 nalways;
	hs_database_t		*db;		/* NULL without HS patterns */
	/* The text pass for units with delta edits only (delta.c). */
	hs_database_t		*db_delta;	/* NULL: nothing sensitive */
	int			 delta;		/* some string is not */
	int			 delta_always;	/* a guard is missing */
	char			 version[65];
	enum eng_match_mode	 mode;
};

/* match.c: compile the patterns of a parsed ruleset. */
enum vigil_err	match_compile(struct eng_ruleset *, struct eng_diag *);
void		match_free(struct eng_ruleset *);

/* dbcache.c: 1 when the compiled database came from the cache. */
/* delta.c: marks what the delta text pass needs (text_pass, delta). */
void		delta_classify(struct eng_ruleset *);
/* delta.c: a guard for a text_pass pattern's expression, or NULL. */
char		*delta_guard_expr(const char *);

int		dbcache_load(struct eng_ruleset *);
void		dbcache_store(const struct eng_ruleset *);

/* ruleset.c */
void		cond_free(struct cond *);
int		cond_arith(enum cond_op, int64_t, int64_t, int64_t *);
int		cond_cmp(enum cond_op, int64_t, int64_t);
/* Three-valued evaluation with no string matched: 0 false, 1 true, 2 ?. */
int		cond_eval_unmatched(const struct cond *);

#endif /* VIGIL_RULESET_INT_H */
