/*
 * buf.c: bounded growable buffers (see struct vg_buf in core.h).
 */
#include <stdio.h>
#include <string.h>

#include "vigil/core.h"

void
vg_buf_init(struct vg_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

enum vigil_err
vg_buf_reserve(struct vg_buf *b, size_t extra)
{
	size_t	 want, ncap;
	char	*p;

	if (extra > b->max || b->len > b->max - extra)
		return VIGIL_E_LIMIT;
	want = b->len + extra + 1;
	if (want <= b->cap)
		return VIGIL_OK;
	ncap = b->cap < 64 ? 64 : b->cap;
	while (ncap < want)
		ncap *= 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	if ((p = vg_realloc(b->data, ncap)) == NULL)
		return VIGIL_E_NOMEM;
	b->data = p;
	b->cap = ncap;
	return VIGIL_OK;
}

enum vigil_err
vg_buf_add(struct vg_buf *b, const void *p, size_t n)
{
	enum vigil_err	err;

	if ((err = vg_buf_reserve(b, n)) != VIGIL_OK)
		return err;
	if (n != 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return VIGIL_OK;
}

enum vigil_err
vg_buf_addc(struct vg_buf *b, char c)
{
	return vg_buf_add(b, &c, 1);
}

enum vigil_err
vg_buf_addf(struct vg_buf *b, const char *fmt, ...)
{
	va_list		ap;
	int		n;
	enum vigil_err	err;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return VIGIL_E_INVAL;
	if ((err = vg_buf_reserve(b, (size_t)n)) != VIGIL_OK)
		return err;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return VIGIL_OK;
}

void
vg_keep_tail(uint8_t *win, size_t cap, size_t *have, const void *p, size_t n)
{
	const uint8_t	*src = p;

	if (n >= cap) {
		memcpy(win, src + n - cap, cap);
		*have = cap;
		return;
	}
	if (*have + n > cap) {
		size_t drop = *have + n - cap;

		memmove(win, win + drop, *have - drop);
		*have -= drop;
	}
	memcpy(win + *have, src, n);
	*have += n;
}

void
vg_buf_reset(struct vg_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

char *
vg_buf_detach(struct vg_buf *b, size_t *lenp)
{
	char	*p = b->data;

	if (p == NULL)
		p = vg_strdup("");
	if (lenp != NULL)
		*lenp = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void
vg_buf_free(struct vg_buf *b)
{
	vg_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t		len;
	uint32_t	cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

enum vigil_err
vg_buf_add_utf8(struct vg_buf *b, const char *str, size_t n)
{
	const unsigned char	*s = (const unsigned char *)str;
	enum vigil_err		 err;
	size_t			 i = 0, run = 0, k;

	while (i < n) {
		if ((k = utf8_seq(s + i, n - i)) != 0) {
			i += k;
			run += k;
			continue;
		}
		if ((err = vg_buf_add(b, s + i - run, run)) != VIGIL_OK ||
		    (err = vg_buf_add(b, "\xef\xbf\xbd", 3)) != VIGIL_OK)
			return err;
		run = 0;
		i++;
	}
	return vg_buf_add(b, s + i - run, run);
}
