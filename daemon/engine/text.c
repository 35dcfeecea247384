/*
 * text.c: the normalised text layer.  A rule written in UTF-8 must fire
 * whatever form the text is stored in, so every text-bearing unit is
 * matched twice: its raw bytes, and the text a person would read.
 *
 * DESIGN
 *
 *   raw bytes --> charset --> markup --> unicode --> text match unit
 *                 (BOM,       (HTML and   (zero-width
 *                  uchardet,   XML via     dropped, NFKC
 *                  iconv)      libxml2,    via libunistring)
 *                              RTF)
 *
 * Every stage streams chunk by chunk and carries what it cannot finish
 * (a split multibyte sequence, an open tag) to the next chunk, so memory
 * does not grow with the unit.
 *
 * Most text needs none of this: UTF-8 with no character NFKC would change
 * gives a text layer identical to the raw one, and matching it again
 * would only halve throughput.  A unit whose leading bytes are such text
 * starts "lazy": chunks are checked against a table of unstable code
 * points (built once from libunistring), and only when one turns up is
 * the pipeline started, seeded with the last few KiB so that a match
 * spanning the switch is found.  Text offsets then count from where the
 * layer started plus that base; a rule counting more matches than the
 * seeded history holds can miss in the text layer after a late switch,
 * never in the raw one.
 *
 * Plain UTF-8 (no charset, no markup, no BOM) that changes only at the
 * full-width marks of Chinese prose (delta.c) needs no text matching
 * either, unless the raw unit meets a guard: the lazy check passes those
 * marks, counting them, and keeps all the raw bytes (up to 4 MiB, in the
 * scanner's buffer) instead of a seed.  A guard (or a full buffer) starts
 * a delta unit, which takes most strings' matches from the raw unit; any
 * other change starts an ordinary one; either is fed all the kept bytes.
 * A delta unit keeps its text in tl->replay, to start over from as an
 * ordinary unit at the first other change (match_upgrade()).
 */
#include <errno.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uchardet/uchardet.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "vigil/core.h"
#include "scan_int.h"
#include "text_int.h"

#define TL_FLUSH	(64 * 1024)
/* What one call may add before a flush: a chunk and then some. */
#define TL_OUT_MAX	(4u << 20)
#define TL_SEED		8192
/* Text a delta unit keeps to start again from on an upgrade (delta.c). */
#define TL_REPLAY	(4u << 20)
#define STABLE_MAX	0x30000

/*
 * Which code points are unstable, decided on first sight and remembered:
 * known[] says a bit of unstable[] is set.  Text uses few distinct
 * characters, so this costs microseconds where working out all 196,608
 * up front cost 30 ms per process.  Bits are only ever set, atomically.
 */
static uint8_t		known[STABLE_MAX / 8];
static uint8_t		unstable[STABLE_MAX / 8];

static int
is_zero_width(ucs4_t c)
{
	return (c >= 0x200b && c <= 0x200f) || c == 0x2060 || c == 0xfeff ||
	    c == 0x00ad || (c >= 0x2061 && c <= 0x2064) || c == 0x180e;
}

/* Whether c's text-layer form may differ from its bytes. */
static int
compute_unstable(ucs4_t c)
{
	uint32_t	 buf[32];
	size_t		 n = 32;
	uint32_t	*r;
	int		 bad;

	if (c < 0x80 || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	/* Marks (some with class 0) can compose with what precedes. */
	bad = is_zero_width(c) || uc_combining_class(c) != 0 ||
	    uc_is_general_category(c, UC_CATEGORY_M) ||
	    (c >= 0x1100 && c <= 0x11ff) || (c >= 0xac00 && c <= 0xd7a3);
	if (!bad) {
		r = u32_normalize(UNINORM_NFKC, &c, 1, buf, &n);
		bad = r == NULL || n != 1 || r[0] != c;
		if (r != NULL && r != buf)
			free(r);
	}
	return bad;
}

static inline int
is_unstable(ucs4_t c)
{
	uint8_t	bit;
	int	bad;

	if (c >= STABLE_MAX)
		return 1;
	bit = (uint8_t)(1u << (c % 8));
	if (__atomic_load_n(&known[c / 8], __ATOMIC_ACQUIRE) & bit)
		return (__atomic_load_n(&unstable[c / 8], __ATOMIC_RELAXED) &
		    bit) != 0;
	if ((bad = compute_unstable(c)))
		__atomic_fetch_or(&unstable[c / 8], bit, __ATOMIC_RELAXED);
	__atomic_fetch_or(&known[c / 8], bit, __ATOMIC_RELEASE);
	return bad;
}

/*
 * The next UTF-8 character of p: its length, -2 if p ends inside it, -1
 * if it is not valid UTF-8 (overlong forms and surrogates included).
 * Inline because it runs once per character of every text unit.
 */
static inline int
utf8_next(const uint8_t *p, size_t n, ucs4_t *c)
{
	uint8_t	b = p[0];
	int	len;
	ucs4_t	v;

	if (b < 0x80) {
		*c = b;
		return 1;
	}
	if (b >= 0xc2 && b <= 0xdf)
		len = 2, v = b & 0x1f;
	else if (b >= 0xe0 && b <= 0xef)
		len = 3, v = b & 0x0f;
	else if (b >= 0xf0 && b <= 0xf4)
		len = 4, v = b & 0x07;
	else
		return -1;
	for (int i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return -2;
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
	    (len == 4 && (v < 0x10000 || v > 0x10ffff)))
		return -1;
	*c = v;
	return len;
}

/* Index of the first non-ASCII byte at or after i, eight bytes a step. */
static inline size_t
skip_ascii(const uint8_t *p, size_t n, size_t i)
{
	while (i + 8 <= n) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w & 0x8080808080808080ULL)
			break;
		i += 8;
	}
	while (i < n && p[i] < 0x80)
		i++;
	return i;
}

#ifdef __SSE2__
/*
 * How many of the 64 bytes at p form whole characters that are ASCII or
 * CJK ideographs U+4000-U+9FFF, valid UTF-8: lead bytes E4-E9 each
 * followed by two continuation bytes, no other byte above 0x7f.  Three
 * masks and two shifts decide a block, so most of a Chinese text goes
 * through here rather than a character at a time.
 */
static inline uint64_t
mask16(__m128i v, unsigned k)
{
	return (uint64_t)(unsigned)_mm_movemask_epi8(v) << (16 * k);
}

/*
 * The same, and with xm not NULL also taking every other three-byte
 * character (E0-EF and two continuation bytes; the caller checks each,
 * for 、。，： and the like): *xm gets where they start in the prefix.
 */
static inline size_t
scan64(const uint8_t *p, uint64_t *xm)
{
	const __m128i	 c40 = _mm_set1_epi8(-64), e4 = _mm_set1_epi8((char)0xe4);
	const __m128i	 b80 = _mm_set1_epi8((char)0x80), c122 = _mm_set1_epi8(-122);
	const __m128i	 cf0 = _mm_set1_epi8((char)0xf0);
	const __m128i	 ce0 = _mm_set1_epi8((char)0xe0);
	__m128i		 v0, v1, v2, v3;
	uint64_t	 high, cont, lead, x3 = 0, other, m, want;
	unsigned	 f;

	v0 = _mm_loadu_si128((const __m128i *)(const void *)p);
	v1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
	v2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
	v3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
	high = mask16(_mm_or_si128(_mm_or_si128(v0, v1), _mm_or_si128(v2,
	    v3)), 0);
	if (xm != NULL)
		*xm = 0;
	if (high == 0)
		return 64;
	high = mask16(v0, 0) | mask16(v1, 1) | mask16(v2, 2) | mask16(v3, 3);
	/* 80-BF are the signed bytes below -64. */
#define CONT(v, k)	mask16(_mm_cmplt_epi8((v), c40), (k))
	cont = CONT(v0, 0) | CONT(v1, 1) | CONT(v2, 2) | CONT(v3, 3);
#undef CONT
	/* E4-E9: v - 0xe4 in 0..5, compared signed, bit 7 flipped. */
#define LEAD(v, k)	mask16(_mm_cmplt_epi8(_mm_xor_si128(_mm_sub_epi8((v), \
			    e4), b80), c122), (k))
	lead = LEAD(v0, 0) | LEAD(v1, 1) | LEAD(v2, 2) | LEAD(v3, 3);
#undef LEAD
	if (xm != NULL) {
#define L3(v, k)	mask16(_mm_cmpeq_epi8(_mm_and_si128((v), cf0), ce0), (k))
		x3 = (L3(v0, 0) | L3(v1, 1) | L3(v2, 2) | L3(v3, 3)) & ~lead;
#undef L3
		lead |= x3;
	}
	other = high & ~(cont | lead);
	f = other != 0 ? (unsigned)__builtin_ctzll(other) : 64;
	m = f == 64 ? ~0ULL : (1ULL << f) - 1;
	want = ((lead << 1) | (lead << 2)) & m;
	if ((cont & m) != want)
		return 0;
	/* A character the prefix cuts is left for the next step. */
	lead &= m;
	if (f >= 1 && (lead >> (f - 1)) & 1)
		f -= 1;
	else if (f >= 2 && (lead >> (f - 2)) & 1)
		f -= 2;
	if (xm != NULL)
		*xm = x3 & (f == 64 ? ~0ULL : (1ULL << f) - 1);
	return f;
}

static inline size_t
plain64(const uint8_t *p)
{
	return scan64(p, NULL);
}
#endif

/* Whether p[i] starts a CJK ideograph U+4000-U+9FFF (E4-E9 80-BF 80-BF). */
static inline int
ideograph(const uint8_t *p, size_t n, size_t i)
{
	return i + 2 < n && p[i] >= 0xe4 && p[i] <= 0xe9 &&
	    (p[i + 1] & 0xc0) == 0x80 && (p[i + 2] & 0xc0) == 0x80;
}

/*
 * Index of the first byte at or after i that is neither ASCII nor part of
 * a CJK ideograph: the bulk of Chinese text, which is valid and stable,
 * passes here without a decode or a table lookup.
 */
static inline size_t
skip_plain(const uint8_t *p, size_t n, size_t i)
{
	for (;;) {
#ifdef __SSE2__
		size_t l;

		while (i + 64 <= n && (l = plain64(p + i)) > 0)
			i += l;
#endif
		i = skip_ascii(p, n, i);
		if (!ideograph(p, n, i))
			return i;
		i += 3;
	}
}

/* Whether a lazy layer may pass c: stable, or a delta character. */
static inline int
quiet(struct tl *tl, ucs4_t c)
{
	if (!is_unstable(c))
		return 1;
	if (!tl->delta_ok || !delta_char(c))
		return 0;
	tl->ndelta++;
	return 1;
}

/*
 * Scans UTF-8 for anything the text layer would change, delta characters
 * (delta.c) aside when tl->delta_ok: those are counted, 64-byte blocks at
 * a time.  A sequence cut by the end of the chunk is carried in
 * tl->lazycarry.
 */
static int
chunk_is_stable(struct tl *tl, const uint8_t *p, size_t n)
{
	size_t	i = 0;

	if (tl->nlazycarry > 0) {
		uint8_t	tmp[8];
		size_t	k = tl->nlazycarry, take = n < 4 ? n : 4;
		ucs4_t	c;
		int	len;

		memcpy(tmp, tl->lazycarry, k);
		memcpy(tmp + k, p, take);
		len = utf8_next(tmp, k + take, &c);
		if (len == -2 && k + take < 4) {
			memcpy(tl->lazycarry + k, p, take);
			tl->nlazycarry += take;
			return 1;
		}
		if (len < 0 || !quiet(tl, c))
			return 0;
		i = (size_t)len - k;
		tl->nlazycarry = 0;
	}
	for (;;) {
		ucs4_t	c;
		int	len;

#ifdef __SSE2__
		uint64_t	xm;
		size_t		l, k = 0;

		/*
		 * Blocks at a time, each three-byte character outside the
		 * ideographs (、。「」, the delta characters) checked in place.
		 */
		while (i + 64 <= n && (l = scan64(p + i, &xm)) > 0) {
			for (; xm != 0; xm &= xm - 1) {
				k = (size_t)__builtin_ctzll(xm);
				c = (ucs4_t)(p[i + k] & 0x0f) << 12 |
				    (ucs4_t)(p[i + k + 1] & 0x3f) << 6 |
				    (p[i + k + 2] & 0x3f);
				/* Overlong forms and surrogates are not UTF-8. */
				if (c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ||
				    !quiet(tl, c))
					break;
			}
			if (xm != 0) {
				i += k;
				break;
			}
			i += l;
		}
#endif
		if ((i = skip_plain(p, n, i)) >= n)
			return 1;
		len = utf8_next(p + i, n - i, &c);
		if (len == -2) {
			memcpy(tl->lazycarry, p + i, n - i);
			tl->nlazycarry = n - i;
			return 1;
		}
		if (len < 0 || !quiet(tl, c))
			return 0;
		i += (size_t)len;
	}
}

/* Unicode stage ------------------------------------------------------- */

int
text_fold(const uint8_t *p, size_t n, uint8_t **out, size_t *outlen)
{
	uint32_t	*u, *z;
	uint8_t		*r;
	size_t		 i = 0, nu, nz = 0, nn, nr;

	*out = NULL;
	/* What the layer copies as it is (ASCII, most CJK) stays as it is. */
	while (i < n) {
		ucs4_t	c;
		int	len;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((len = utf8_next(p + i, n - i, &c)) <= 0)
			return 0;	/* not UTF-8: the layer has U+FFFD */
		if (is_unstable(c))
			break;
		i += (size_t)len;
	}
	if (i >= n || u8_check(p, n) != NULL ||
	    (u = u8_to_u32(p, n, NULL, &nu)) == NULL)
		return 0;
	for (i = 0; i < nu; i++)
		if (!is_zero_width(u[i]))
			u[nz++] = u[i];
	if (nz == 0) {
		/* Only zero-width characters: the layer drops them all. */
		free(u);
		*outlen = 0;
		return 1;
	}
	z = u32_normalize(UNINORM_NFKC, u, nz, NULL, &nn);
	free(u);
	if (z == NULL)
		return 0;
	r = u32_to_u8(z, nn, NULL, &nr);
	free(z);
	if (r == NULL || (nr == n && memcmp(r, p, n) == 0)) {
		free(r);
		return 0;
	}
	*out = r;
	*outlen = nr;
	return 1;
}

static enum vigil_err
flush_out(struct tl *tl)
{
	enum vigil_err	err = VIGIL_OK;

	if (tl->out.len == 0)
		return VIGIL_OK;
	/* Kept bytes were accepted before any limit came: never dropped. */
	if (!scan_account(tl->job, tl->out.len) && !tl->rekept) {
		vg_buf_reset(&tl->out);
		tl->stopped = 1;
		return VIGIL_OK;
	}
	/* A delta unit's text is kept while it fits, to start over from. */
	if (tl->delta && tl->replay.max != 0 && vg_buf_add(&tl->replay,
	    tl->out.data, tl->out.len) != VIGIL_OK) {
		vg_buf_free(&tl->replay);
		tl->replay.max = 0;
	}
	err = match_feed(tl->unit, tl->out.data, tl->out.len);
	vg_buf_reset(&tl->out);
	return err;
}

static int
emit_uc(void *arg, ucs4_t c)
{
	struct tl	*tl = arg;
	uint8_t		 b[6];
	int		 n = u8_uctomb(b, c, sizeof(b));

	if (n > 0 && vg_buf_add(&tl->out, b, (size_t)n) != VIGIL_OK)
		return -1;
	return 0;
}

/* Writes out what the NFKC filter holds, before text it cannot change. */
static enum vigil_err
nf_flush(struct tl *tl)
{
	if (!tl->nf_dirty)
		return VIGIL_OK;
	tl->nf_dirty = 0;
	return uninorm_filter_flush(tl->nf) < 0 ? VIGIL_E_NOMEM : VIGIL_OK;
}

/*
 * The length of the character at p[i] if it may bypass the filter (ASCII,
 * a CJK ideograph, full-width ASCII, anything else NFKC leaves alone and
 * nothing composes with), 0 if not or if the buffer ends inside it.  *fw
 * gets the ASCII byte a full-width form becomes, 0 for the others.
 */
static inline size_t
fast_char(const uint8_t *p, size_t n, size_t i, int delta, uint8_t *fw)
{
	uint8_t	b = p[i];
	ucs4_t	c;
	int	l;

	*fw = 0;
	if (b < 0x80)
		return 1;
	/* U+4000-U+9FFF: ideographs, all stable. */
	if (ideograph(p, n, i))
		return 3;
	/*
	 * U+FF01-U+FF5E (EF BC 81-BF, EF BD 80-9E) is ASCII under NFKC;
	 * Chinese text has a full-width comma in every sentence.
	 */
	if (b == 0xef && i + 2 < n && ((p[i + 1] == 0xbc && p[i + 2] >= 0x81 &&
	    p[i + 2] <= 0xbf) || (p[i + 1] == 0xbd && p[i + 2] >= 0x80 &&
	    p[i + 2] <= 0x9e))) {
		*fw = (uint8_t)(p[i + 1] == 0xbc ? p[i + 2] - 0x60 :
		    p[i + 2] - 0x20);
		/* Under a delta pass, tl_text() upgrades at the others. */
		return delta && !delta_product(*fw) ? 0 : 3;
	}
	l = utf8_next(p + i, n - i, &c);
	return l > 0 && !is_unstable(c) ? (size_t)l : 0;
}


/*
 * Copies a run of fast-path characters from p[*ip] straight into the
 * output (at most TL_FLUSH bytes of input a call) and stops before one
 * that needs the filter.  The run's last character is handed back in *ip:
 * it may compose with a mark that follows, here or in the next chunk, so
 * the filter must see it.
 */
static enum vigil_err
fast_run(struct tl *tl, const uint8_t *p, size_t n, size_t *ip)
{
	size_t		 i = *ip, end, li = i, lo = 0, l;
	uint8_t		*o0, *o, fw;
	enum vigil_err	 err;

	if (fast_char(p, n, i, tl->delta, &fw) == 0)
		return VIGIL_OK;
	if ((err = nf_flush(tl)) != VIGIL_OK)
		return err;
	end = n - i > TL_FLUSH ? i + TL_FLUSH : n;
	if ((err = vg_buf_reserve(&tl->out, end - i + 4)) != VIGIL_OK)
		return err;
	o0 = o = (uint8_t *)tl->out.data + tl->out.len;
	while (i < end) {
#ifdef __SSE2__
		if (i + 64 <= end && (l = plain64(p + i)) > 0) {
			memcpy(o, p + i, 64);	/* reserved: end - i + 4 */
			o += l;
			i += l;
			/* The last character: ASCII, or an ideograph's third. */
			li = p[i - 1] < 0x80 ? i - 1 : i - 3;
			lo = (size_t)(o - o0) - (i - li);
			continue;
		}
#endif
		if (p[i] < 0x80) {
			size_t j = skip_ascii(p, end, i);

			memcpy(o, p + i, j - i);
			o += j - i;
			li = j - 1;
			lo = (size_t)(o - o0) - 1;
			i = j;
			continue;
		}
		if ((l = fast_char(p, n, i, tl->delta, &fw)) == 0)
			break;
		li = i;
		lo = (size_t)(o - o0);
		if (fw != 0)
			*o++ = fw;
		else if (l == 3) {
			o[0] = p[i];
			o[1] = p[i + 1];
			o[2] = p[i + 2];
			o += 3;
		} else {
			memcpy(o, p + i, l);
			o += l;
		}
		i += l;
	}
	tl->out.len += lo;
	*ip = li;
	return VIGIL_OK;
}

/*
 * Decoded UTF-8 text into the unit: zero-width characters out, NFKC
 * applied.  Runs of characters NFKC leaves alone are copied past
 * libunistring's filter (fast_run()); the rest goes through it one
 * character at a time.
 */
enum vigil_err
tl_text(struct tl *tl, const uint8_t *p, size_t n)
{
	size_t		i = 0;
	enum vigil_err	err;

	while (!tl->stopped && (i < n || tl->nu8 > 0)) {
		ucs4_t	c;
		int	len, bad = 0;

		if (tl->nu8 > 0) {
			/* A sequence cut by the end of the last chunk. */
			size_t take = n - i < 4 - tl->nu8 ? n - i : 4 - tl->nu8;

			memcpy(tl->u8 + tl->nu8, p + i, take);
			len = utf8_next(tl->u8, tl->nu8 + take, &c);
			if (len == -2 && i + take == n && tl->nu8 + take < 4) {
				tl->nu8 += take;
				return VIGIL_OK;
			}
			if (len < 0) {
				c = 0xfffd;
				len = 1;
				bad = 1;
			}
			if ((size_t)len <= tl->nu8) {
				/* Invalid lead byte: drop it, retry the rest. */
				memmove(tl->u8, tl->u8 + len,
				    tl->nu8 - (size_t)len);
				tl->nu8 -= (size_t)len;
			} else {
				i += (size_t)len - tl->nu8;
				tl->nu8 = 0;
			}
		} else {
			if ((err = fast_run(tl, p, n, &i)) != VIGIL_OK)
				return err;
			if (tl->out.len >= TL_FLUSH &&
			    (err = flush_out(tl)) != VIGIL_OK)
				return err;
			if (tl->stopped)
				break;
			len = utf8_next(p + i, n - i, &c);
			if (len == -2) {
				tl->nu8 = n - i;
				memcpy(tl->u8, p + i, tl->nu8);
				return VIGIL_OK;
			}
			if (len < 0) {
				c = 0xfffd;
				len = 1;
				bad = 1;
			}
			i += (size_t)len;
		}
		/*
		 * An edit other than a delta character: from here on every
		 * pattern runs on the text.  What the filter holds may still
		 * compose with c, so only the output is handed over first.
		 */
		if (tl->delta && (bad || (is_unstable(c) && !delta_char(c)))) {
			if ((err = flush_out(tl)) != VIGIL_OK)
				return err;
			match_upgrade(tl->unit, tl->replay.data, tl->replay.len);
			vg_buf_free(&tl->replay);
			tl->replay.max = 0;
			tl->delta = 0;
		}
		if (!is_zero_width(c)) {
			if (uninorm_filter_write(tl->nf, c) < 0)
				return VIGIL_E_NOMEM;
			tl->nf_dirty = 1;
		}
		if (tl->out.len >= TL_FLUSH) {
			if ((err = nf_flush(tl)) != VIGIL_OK ||
			    (err = flush_out(tl)) != VIGIL_OK)
				return err;
		}
	}
	return VIGIL_OK;
}

/* Charset stage ------------------------------------------------------- */

/* Hands UTF-8 to the markup stage (or straight to the unicode stage). */
static enum vigil_err
to_markup(struct tl *tl, const uint8_t *p, size_t n)
{
	if (tl->markup != NULL)
		return markup_feed(tl->markup, p, n);
	return tl_text(tl, p, n);
}

static enum vigil_err
decode(struct tl *tl, const uint8_t *p, size_t n)
{
	char	 obuf[16384];
	char	*in, *out;
	size_t	 inleft, outleft;
	uint8_t	 joined[64];
	enum vigil_err err;

	if (tl->cd == (iconv_t)-1)
		return to_markup(tl, p, n);
	/* Finish a sequence split across chunks first. */
	while (tl->ncarry > 0 && n > 0) {
		size_t take = sizeof(joined) - tl->ncarry;

		if (take > n)
			take = n;
		memcpy(joined, tl->carry, tl->ncarry);
		memcpy(joined + tl->ncarry, p, take);
		in = (char *)joined;
		inleft = tl->ncarry + take;
		out = obuf;
		outleft = sizeof(obuf);
		if (iconv(tl->cd, &in, &inleft, &out, &outleft) == (size_t)-1 &&
		    errno == EILSEQ) {
			memcpy(out, "\xef\xbf\xbd", 3);
			out += 3;
			in++;
			inleft--;
		}
		{
			size_t used = (size_t)(in - (char *)joined);

			if ((err = to_markup(tl, (uint8_t *)obuf,
			    (size_t)(out - obuf))) != VIGIL_OK)
				return err;
			if (used <= tl->ncarry) {
				/* Still incomplete: keep it all. */
				if (used == 0 && tl->ncarry + take <
				    sizeof(tl->carry)) {
					memcpy(tl->carry + tl->ncarry, p, take);
					tl->ncarry += take;
					return VIGIL_OK;
				}
				memmove(tl->carry, tl->carry + used,
				    tl->ncarry - used);
				tl->ncarry -= used;
				if (used == 0)
					tl->ncarry = 0;	/* give up on it */
				continue;
			}
			p += used - tl->ncarry;
			n -= used - tl->ncarry;
			tl->ncarry = 0;
		}
	}
	in = (char *)p;
	inleft = n;
	while (inleft > 0) {
		out = obuf;
		outleft = sizeof(obuf);
		if (iconv(tl->cd, &in, &inleft, &out, &outleft) == (size_t)-1) {
			if (errno == EILSEQ) {
				/* Invalid input: U+FFFD, skip one byte. */
				if (outleft >= 3) {
					memcpy(out, "\xef\xbf\xbd", 3);
					out += 3;
				}
				in++;
				inleft--;
			} else if (errno == EINVAL) {
				/* Incomplete at the end: carry it. */
				if (inleft < sizeof(tl->carry)) {
					memcpy(tl->carry, in, inleft);
					tl->ncarry = inleft;
				}
				inleft = 0;
			}
			/* E2BIG: flush and go on. */
		}
		if ((err = to_markup(tl, (uint8_t *)obuf,
		    (size_t)(out - obuf))) != VIGIL_OK)
			return err;
	}
	return VIGIL_OK;
}

/* Valid UTF-8, allowing a sequence cut by the end of the peek. */
static int
is_utf8(const uint8_t *p, size_t n)
{
	size_t	i = 0;
	ucs4_t	c;
	int	len;

	while ((i = skip_plain(p, n, i)) < n) {
		if ((len = utf8_next(p + i, n - i, &c)) == -2)
			return 1;
		if (len < 0)
			return 0;
		i += (size_t)len;
	}
	return 1;
}

/* Which charset the leading bytes are in; NULL for UTF-8. */
static const char *
detect_charset(struct tl *tl, const uint8_t *p, size_t n, size_t *bom)
{
	uchardet_t	 ud;
	const char	*cs;

	*bom = 0;
	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		*bom = 3;
		return NULL;
	}
	if (n >= 2 && p[0] == 0xff && p[1] == 0xfe) {
		*bom = 2;
		return "UTF-16LE";
	}
	if (n >= 2 && p[0] == 0xfe && p[1] == 0xff) {
		*bom = 2;
		return "UTF-16BE";
	}
	/*
	 * ASCII read as UTF-16 looks like CJK, so UTF-16 is only guessed for
	 * bytes with NULs in them (UTF-16 of Latin text) or that are not
	 * UTF-8 at all (UTF-16 of CJK text).
	 */
	if (memchr(p, 0, n > 4096 ? 4096 : n) != NULL &&
	    (cs = classify_utf16(p, n)) != NULL)
		return cs;
	if (is_utf8(p, n))
		return NULL;
	if ((cs = classify_utf16(p, n)) != NULL)
		return cs;
	if ((ud = uchardet_new()) == NULL)
		return NULL;
	cs = NULL;
	if (uchardet_handle_data(ud, (const char *)p, n) == 0) {
		uchardet_data_end(ud);
		cs = uchardet_get_charset(ud);
		if (cs != NULL && (cs[0] == '\0' ||
		    strcasecmp(cs, "ASCII") == 0 ||
		    strcasecmp(cs, "UTF-8") == 0))
			cs = NULL;
	}
	if (cs != NULL) {
		snprintf(tl->charset, sizeof(tl->charset), "%s", cs);
		/* GB2312 and GBK text is read as their superset. */
		if (strcasecmp(cs, "GB2312") == 0 || strcasecmp(cs, "GBK") == 0 ||
		    strcasecmp(cs, "GB18030") == 0)
			snprintf(tl->charset, sizeof(tl->charset), "GB18030");
		cs = tl->charset;
	}
	uchardet_delete(ud);
	return cs;
}

/* Lifecycle ----------------------------------------------------------- */

static int
is_texty(const char *mime)
{
	return strncmp(mime, "text/", 5) == 0 ||
	    strcmp(mime, "application/xml") == 0 ||
	    strcmp(mime, "application/xhtml+xml") == 0 ||
	    strcmp(mime, "image/svg+xml") == 0 ||
	    strcmp(mime, "application/json") == 0 ||
	    strcmp(mime, "application/javascript") == 0;
}

static enum vigil_err
tl_start(struct tl *tl)
{
	enum vigil_err	err;

	if ((tl->nf = uninorm_filter_create(UNINORM_NFKC, emit_uc, tl)) ==
	    NULL)
		return VIGIL_E_NOMEM;
	if (tl->delta_ok)
		err = match_begin_delta(tl->job->sc_match, TEXT_SLOT(tl->depth),
		    RAW_SLOT(tl->depth), &tl->unit);
	else
		err = match_begin(tl->job->sc_match, TEXT_SLOT(tl->depth),
		    &tl->unit);
	if (err != VIGIL_OK)
		return err;
	tl->delta = match_unit_delta(tl->unit);
	vg_buf_init(&tl->replay, tl->delta ? TL_REPLAY : 0);
	if (tl->markup_kind != MARKUP_NONE &&
	    (err = markup_new(tl, tl->markup_kind, &tl->markup)) != VIGIL_OK)
		return err;
	tl->active = 1;
	return VIGIL_OK;
}

enum vigil_err
tl_begin(struct job *job, unsigned depth, const char *mime,
    const uint8_t *peek, size_t n, struct tl **out)
{
	struct tl	*tl;
	const char	*cs;
	size_t		 bom;
	enum vigil_err	 err;

	*out = NULL;
	if (!job->text_layer || !is_texty(mime))
		return VIGIL_OK;
	if ((tl = vg_calloc(1, sizeof(*tl))) == NULL)
		return VIGIL_E_NOMEM;
	tl->job = job;
	tl->depth = depth;
	tl->cd = (iconv_t)-1;
	vg_buf_init(&tl->out, TL_OUT_MAX);
	if (strcmp(mime, "text/html") == 0 ||
	    strcmp(mime, "application/xhtml+xml") == 0)
		tl->markup_kind = MARKUP_HTML;
	else if (strcmp(mime, "text/xml") == 0 ||
	    strcmp(mime, "application/xml") == 0 ||
	    strcmp(mime, "image/svg+xml") == 0)
		tl->markup_kind = MARKUP_XML;
	else if (strcmp(mime, "text/rtf") == 0)
		tl->markup_kind = MARKUP_RTF;
	cs = detect_charset(tl, peek, n, &bom);
	tl->skip = bom;
	if (cs != NULL && (tl->cd = iconv_open("UTF-8", cs)) == (iconv_t)-1)
		vg_log_debug("iconv cannot read %s; reading as UTF-8", cs);
	/*
	 * The raw unit holds these very bytes, so delta characters may wait
	 * (delta.c), their bytes kept in the scanner's buffer.
	 */
	if (cs == NULL && tl->markup_kind == MARKUP_NONE && bom == 0 &&
	    match_delta_ok(job->sc_match) &&
	    (tl->raw = scan_keep_take(job, TL_REPLAY)) != NULL)
		tl->delta_ok = 1;
	/* Plain UTF-8 waits: tl_feed() checks the peek as the first chunk. */
	if (cs != NULL || tl->markup_kind != MARKUP_NONE || bom != 0) {
		if ((err = tl_start(tl)) != VIGIL_OK) {
			tl_free(tl);
			return err;
		}
	} else
		tl->lazy = 1;
	*out = tl;
	return VIGIL_OK;
}

enum vigil_err
tl_begin_utf8(struct job *job, unsigned depth, enum markup_kind kind,
    struct tl **out)
{
	struct tl	*tl;
	enum vigil_err	 err;

	*out = NULL;
	if (!job->text_layer || depth >= ENG_MAX_DEPTH)
		return VIGIL_OK;
	if ((tl = vg_calloc(1, sizeof(*tl))) == NULL)
		return VIGIL_E_NOMEM;
	tl->job = job;
	tl->depth = depth;
	tl->cd = (iconv_t)-1;
	tl->markup_kind = kind;
	vg_buf_init(&tl->out, TL_OUT_MAX);
	if ((err = tl_start(tl)) != VIGIL_OK) {
		tl_free(tl);
		return err;
	}
	*out = tl;
	return VIGIL_OK;
}

/*
 * Starts a lazy layer, fed what it kept: all the raw bytes so far (as a
 * delta unit if as_delta), or the seed.
 */
static enum vigil_err
wake(struct tl *tl, int as_delta)
{
	struct vg_buf	*raw = tl->raw;
	enum vigil_err	 err;
	size_t		 s = 0;

	tl->lazy = 0;
	/* The lazy check's carry is in what is fed again. */
	tl->nlazycarry = 0;
	if (raw != NULL) {
		tl->delta_ok = as_delta;
		tl->rekept = 1;
		if ((err = tl_start(tl)) == VIGIL_OK && raw->len > 0)
			err = decode(tl, (const uint8_t *)raw->data, raw->len);
		tl->rekept = 0;
		tl->raw = NULL;
		scan_keep_give(tl->job, raw);
		return err;
	}
	tl->base -= tl->nseed;
	/* The seed may start inside a character: skip to a lead. */
	while (s < tl->nseed && (tl->seed[s] & 0xc0) == 0x80)
		s++;
	tl->base += s;
	if ((err = tl_start(tl)) != VIGIL_OK)
		return err;
	return decode(tl, tl->seed + s, tl->nseed - s);
}

enum vigil_err
tl_settle(struct tl *tl)
{
	if (tl == NULL || !tl->lazy || !tl->delta_ok ||
	    !match_guarded(tl->job->sc_match, RAW_SLOT(tl->depth)))
		return VIGIL_OK;
	return wake(tl, 1);
}

uint64_t
tl_lazy_size(const struct tl *tl, uint64_t raw)
{
	/* Each delta character is three bytes, its ASCII form one. */
	return raw - 2 * tl->ndelta;
}

enum vigil_err
tl_feed(struct tl *tl, const uint8_t *p, size_t n)
{
	enum vigil_err	err;

	if (tl == NULL || tl->stopped)
		return VIGIL_OK;
	if (tl->skip > 0) {
		size_t k = tl->skip < n ? tl->skip : n;

		p += k;
		n -= k;
		tl->skip -= k;
	}
	if (tl->lazy && tl->delta_ok) {
		/*
		 * Delta characters wait, their bytes kept, until the raw unit
		 * meets a guard or the bytes outgrow the buffer: then a delta
		 * unit matches from the start.  Any other change makes it an
		 * ordinary unit, also from the start.
		 */
		if (match_guarded(tl->job->sc_match, RAW_SLOT(tl->depth)))
			err = wake(tl, 1);
		else if (!chunk_is_stable(tl, p, n))
			err = wake(tl, 0);
		else if (vg_buf_add(tl->raw, p, n) == VIGIL_OK)
			return VIGIL_OK;
		else
			err = wake(tl, 1);
		if (err != VIGIL_OK)
			return err;
	} else if (tl->lazy) {
		if (chunk_is_stable(tl, p, n)) {
			/* Remember the tail, to seed a late start. */
			vg_keep_tail(tl->seed, TL_SEED, &tl->nseed, p, n);
			tl->base += n;
			return VIGIL_OK;
		}
		if ((err = wake(tl, 0)) != VIGIL_OK)
			return err;
	}
	if ((err = decode(tl, p, n)) != VIGIL_OK)
		return err;
	return VIGIL_OK;
}

enum vigil_err
tl_end(struct tl *tl, const char *mime, match_report_fn fn, void *arg)
{
	enum vigil_err	err = VIGIL_OK;

	if (tl == NULL || !tl->active)
		return VIGIL_OK;
	if (tl->markup != NULL)
		err = markup_end(tl->markup);
	if (err == VIGIL_OK && tl->nu8 > 0) {
		/* A sequence cut by the end of the unit. */
		tl->nu8 = 0;
		(void)emit_uc(tl, 0xfffd);
	}
	if (uninorm_filter_flush(tl->nf) < 0 && err == VIGIL_OK)
		err = VIGIL_E_NOMEM;
	if (err == VIGIL_OK)
		err = flush_out(tl);
	if (err == VIGIL_OK)
		err = match_end_layer(tl->unit, mime, LAYER_TEXT, fn, arg);
	else
		(void)match_end_layer(tl->unit, mime, LAYER_TEXT, fn, arg);
	tl->unit = NULL;
	return err;
}

int
tl_lazy(const struct tl *tl)
{
	return tl != NULL && !tl->active;
}

uint64_t
tl_base(const struct tl *tl)
{
	return tl->base;
}

void
tl_free(struct tl *tl)
{
	if (tl == NULL)
		return;
	if (tl->markup != NULL)
		markup_free(tl->markup);
	if (tl->nf != NULL)
		uninorm_filter_free(tl->nf);
	if (tl->cd != (iconv_t)-1)
		iconv_close(tl->cd);
	vg_buf_free(&tl->out);
	vg_buf_free(&tl->replay);
	if (tl->raw != NULL)
		scan_keep_give(tl->job, tl->raw);
	vg_free(tl);
}
