/*
 * text_int.h: the text layer (text.c) and its markup readers (markup.c).
 */
#ifndef VIGIL_TEXT_INT_H
#define VIGIL_TEXT_INT_H

#include <iconv.h>
#include <stdint.h>

#include "vigil/core.h"
#include "engine_int.h"

struct job;
struct markup;

/* MARKUP_FLOW: no markup, but white space flows as in HTML (PDF text). */
enum markup_kind {
	MARKUP_NONE, MARKUP_HTML, MARKUP_XML, MARKUP_RTF, MARKUP_FLOW
};

struct tl {
	struct job		*job;
	unsigned		 depth;
	struct match_unit	*unit;
	int			 active;	/* pipeline running */
	int			 lazy;		/* watching for a reason to */
	int			 stopped;	/* a limit ended the layer */
	int			 delta_ok;	/* lazy may pass delta characters */
	int			 delta;		/* unit in delta mode (delta.c) */
	uint64_t		 ndelta;	/* delta characters passed lazily */
	struct vg_buf		*raw;		/* delta_ok: raw bytes so far */
	int			 rekept;	/* feeding them (wake()) */
	uint64_t		 base;		/* raw offset of text offset 0 */
	size_t			 skip;		/* BOM bytes still to drop */
	/* lazy: the tail of the raw bytes, and a split sequence */
	uint8_t			 seed[8192];
	size_t			 nseed;
	uint8_t			 lazycarry[4];
	size_t			 nlazycarry;
	/* charset */
	char			 charset[64];
	iconv_t			 cd;
	uint8_t			 carry[32];
	size_t			 ncarry;
	/* markup */
	enum markup_kind	 markup_kind;
	struct markup		*markup;
	/* unicode */
	struct uninorm_filter	*nf;
	int			 nf_dirty;	/* nf holds characters */
	uint8_t			 u8[4];
	size_t			 nu8;
	struct vg_buf		 out;
	struct vg_buf		 replay;	/* delta unit: the text so far */
};

/*
 * Start the text layer of a unit if its type bears text (*out stays NULL
 * otherwise); feed it the unit's raw bytes; at the end, evaluate the
 * rules on it and report through fn.  Offsets reported are text-layer
 * offsets; add tl_base() for a layer that started late.
 */
enum vigil_err	tl_begin(struct job *, unsigned depth, const char *mime,
		    const uint8_t *peek, size_t n, struct tl **out);
enum vigil_err	tl_feed(struct tl *, const uint8_t *, size_t);
/*
 * A text layer for a unit whose text is extracted rather than read (PDF
 * pages, mail bodies): feed it UTF-8 (markup kind NONE) or UTF-8 HTML/XML
 * with tl_feed(); *out stays NULL when the job has no text layer.
 */
enum vigil_err	tl_begin_utf8(struct job *, unsigned depth, enum markup_kind,
		    struct tl **out);
enum vigil_err	tl_end(struct tl *, const char *mime, match_report_fn,
		    void *arg);
uint64_t	tl_base(const struct tl *);
/*
 * True when the layer never started: its text equals the raw bytes, or
 * differs only at delta characters no string can tell (delta.c).
 */
int		tl_lazy(const struct tl *);
/*
 * After the raw unit's end: a lazy layer whose raw unit has met a guard
 * (delta.c) starts now.  One that stays lazy is answered by the raw unit,
 * the text's size being tl_lazy_size() of the raw size.
 */
enum vigil_err	tl_settle(struct tl *);
uint64_t	tl_lazy_size(const struct tl *, uint64_t raw);
void		tl_free(struct tl *);
/* Decoded UTF-8 text, from the markup readers. */
enum vigil_err	tl_text(struct tl *, const uint8_t *, size_t);

/* markup.c: HTML and XML through libxml2's push parsers, RTF by hand. */
enum vigil_err	markup_new(struct tl *, enum markup_kind, struct markup **);
enum vigil_err	markup_feed(struct markup *, const uint8_t *, size_t);
enum vigil_err	markup_end(struct markup *);
void		markup_free(struct markup *);

#endif /* VIGIL_TEXT_INT_H */
