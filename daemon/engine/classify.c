/*
 * classify.c: the MIME type of an object or member, from its leading bytes,
 * with libmagic.  One magic_t per scanner (thread), loaded once: loading
 * the database costs milliseconds, classifying a buffer microseconds.
 *
 * libmagic is asked for the MIME type only, never to decompress (it would
 * fork a decompressor) and never to look at more than the buffer we give.
 * Checks that cost much and tell us nothing we act on are switched off:
 * we unpack by container type, and text is text whatever its dialect.
 */
#include <stdio.h>
#include <string.h>

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
				    MAGIC_NO_CHECK_COMPRESS |
				    MAGIC_NO_CHECK_ELF | MAGIC_NO_CHECK_CDF |
				    MAGIC_NO_CHECK_JSON | MAGIC_NO_CHECK_CSV |
				    MAGIC_ERROR;

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

void
classify_buffer(struct classifier *c, const void *p, size_t n, char *out,
    size_t outlen)
{
	const char	*m = NULL;

	if (n == 0)
		m = "application/x-empty";
	else
		m = magic_buffer(c->magic, p, n);
	if (m == NULL)
		m = "application/octet-stream";
	snprintf(out, outlen, "%s", m);
}
