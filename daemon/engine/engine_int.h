/*
 * engine_int.h: how the engine's files talk to each other.  scan.c drives
 * a job; unpack.c walks containers; match.c matches one unit (an object or
 * a member) at a time; classify.c names its type.
 */
#ifndef VIGIL_ENGINE_INT_H
#define VIGIL_ENGINE_INT_H

#include <stdint.h>

#include "vigil/engine.h"

/* Deepest unit stack a job may open (objects, members, members of ...). */
#define ENG_MAX_DEPTH	64
/* Matcher slots: one raw unit and one text unit per depth. */
#define RAW_SLOT(d)	(d)
#define TEXT_SLOT(d)	(ENG_MAX_DEPTH + 1 + (d))
#define MATCH_SLOTS	(2 * (ENG_MAX_DEPTH + 1))

/* Which layer a unit is: rules may keep to one (meta layer). */
enum match_layer { LAYER_RAW = 1, LAYER_TEXT = 2 };

struct match_ctx;
struct match_unit;

/* A rule that held in one unit: rule index and offset of its first hit. */
typedef void	(*match_report_fn)(void *arg, unsigned rule, uint64_t offset);

/* Per-thread matcher state; match_ctx_prepare() before each job. */
enum vigil_err	match_ctx_new(struct match_ctx **);
void		match_ctx_free(struct match_ctx *);
enum vigil_err	match_ctx_prepare(struct match_ctx *, struct eng_ruleset *);
/* Keep up to bytes on each side of each string's first match; 0: off. */
void		match_ctx_set_excerpt(struct match_ctx *, size_t bytes);
/*
 * Inside a report callback: the excerpt of the string that gave the
 * rule's offset.  0 if there is none.
 */
int		match_ctx_excerpt(const struct match_ctx *, const uint8_t **buf,
		    size_t *len, size_t *mark, size_t *marklen);

/*
 * Start matching a unit in a slot (RAW_SLOT(depth) or TEXT_SLOT(depth)).
 * Units in different slots may be open at once: a container's own bytes
 * are matched while its members are.  The unit lives in the ctx until
 * match_end().
 */
enum vigil_err	match_begin(struct match_ctx *, unsigned slot,
		    struct match_unit **);
/*
 * A text unit whose text is the raw unit's in rawslot with only delta
 * characters folded (plain UTF-8, delta.c): when the ruleset allows, it
 * matches only the patterns those edits can affect and answers for the
 * others from the raw unit, which must end before this one does and stay
 * put until then.  match_upgrade() makes it match every pattern, when
 * the text is about to differ in any other way: given all the text fed so
 * far, exactly as an ordinary unit would have; given NULL, from the
 * history on (see match.c).
 */
enum vigil_err	match_begin_delta(struct match_ctx *, unsigned slot,
		    unsigned rawslot, struct match_unit **);
void		match_upgrade(struct match_unit *, const void *text,
		    size_t len);
/* Whether the ruleset allows delta units, and guards can watch for them. */
int		match_delta_ok(const struct match_ctx *);
/* Whether the unit in slot (a raw one) has met a guard (delta.c). */
int		match_guarded(const struct match_ctx *, unsigned slot);
int		match_unit_delta(const struct match_unit *);
/* Feed the next bytes of the unit; chunks may be of any size. */
enum vigil_err	match_feed(struct match_unit *, const void *, size_t);
/*
 * End of the unit: flush, evaluate every rule that applies to mime and
 * report those that hold through fn.  Returns the bytes fed.
 */
enum vigil_err	match_end(struct match_unit *, const char *mime,
		    match_report_fn fn, void *arg);
/* The same, for a unit of the given layer: rules of the other skipped. */
enum vigil_err	match_end_layer(struct match_unit *, const char *mime,
		    enum match_layer, match_report_fn fn, void *arg);
/*
 * Evaluate an ended unit's rules again for another layer (the unit's
 * state lasts until the next match_begin() in its slot), with filesize
 * fsize.
 */
void		match_eval_layer(struct match_unit *, const char *mime,
		    enum match_layer, uint64_t fsize, match_report_fn fn,
		    void *arg);
uint64_t	match_unit_bytes(const struct match_unit *);

/*
 * text.c: a rule literal as the text layer would hold it (zero-width
 * characters dropped, NFKC), in *out (free() it; NULL when *outlen is 0,
 * a literal of zero-width characters only) with its length; 0 when the
 * literal is not UTF-8 or the text layer would leave it alone.
 */
int		text_fold(const uint8_t *, size_t, uint8_t **out, size_t *);
/*
 * delta.c: the full-width marks a delta pass allows, ，：；！？（）, and
 * their ASCII forms , : ; ! ? ( ) (bits of 0x20-0x3f).
 */
static inline int
delta_product(uint8_t b)
{
	return b >= 0x20 && b < 0x40 && ((0x8c001302u >> (b - 0x20)) & 1);
}

static inline int
delta_char(uint32_t c)
{
	return c >= 0xff01 && c <= 0xff5e &&
	    delta_product((uint8_t)(c - 0xfee0));
}

/* classify.c: one libmagic handle per thread, loaded once. */
struct classifier;
enum vigil_err	classify_new(struct classifier **);
void		classify_free(struct classifier *);
/* Writes the MIME type of the leading bytes into out. */
void		classify_buffer(struct classifier *, const void *, size_t,
		    char *out, size_t outlen);
/* "UTF-16LE" or "UTF-16BE" for UTF-16 text without a BOM, else NULL. */
const char	*classify_utf16(const uint8_t *, size_t);

#endif /* VIGIL_ENGINE_INT_H */
