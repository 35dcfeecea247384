/*
 * source.c: the table of object source backends and the checks every
 * backend applies to bucket names and keys before touching anything.
 */
#include <string.h>

#include "vigil/core.h"
#include "vigil/sources.h"

extern const struct source_backend source_local;
extern const struct source_backend source_s3;

static const struct source_backend *const backends[] = {
	&source_local,
	&source_s3,
};

const struct source_backend *
source_backend_find(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

void
source_listing_free(struct source_listing *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->nkeys; i++) {
		vg_free(l->keys[i]);
		if (l->etags != NULL)
			vg_free(l->etags[i]);
	}
	vg_free(l->keys);
	vg_free(l->sizes);
	vg_free(l->mtimes);
	vg_free(l->etags);
	vg_free(l->token);
	memset(l, 0, sizeof(*l));
}

int
source_key_valid(const char *key, size_t len)
{
	size_t	i, start;

	if (len == 0 || len > 1024 || memchr(key, '\0', len) != NULL ||
	    key[0] == '/')
		return 0;
	for (start = 0, i = 0; i <= len; i++) {
		if (i < len && key[i] != '/')
			continue;
		/* Component key[start, i). */
		if (i == start)
			return 0;
		if (i - start == 2 && key[start] == '.' && key[start + 1] == '.')
			return 0;
		if (i - start == 1 && key[start] == '.')
			return 0;
		start = i + 1;
	}
	return 1;
}

int
source_bucket_valid(const char *bucket)
{
	size_t	len = strlen(bucket);

	return len > 0 && len <= 255 && strchr(bucket, '/') == NULL &&
	    strcmp(bucket, ".") != 0 && strcmp(bucket, "..") != 0;
}
