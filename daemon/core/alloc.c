/*
 * alloc.c: the allocation hook.  Tests make the Nth allocation fail
 * (SQLite's test_malloc.c fault countdown, curl's torture tests) to walk
 * every error path; release builds pay one relaxed atomic load per call.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/core.h"

static atomic_ulong	fail_countdown;

void
vg_alloc_fail_after(unsigned long n)
{
	atomic_store(&fail_countdown, n);
}

/* True when this allocation is the one a test asked to fail. */
static int
should_fail(void)
{
	unsigned long	n = atomic_load_explicit(&fail_countdown,
			    memory_order_relaxed);

	while (n != 0) {
		if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1))
			return n == 1;
	}
	return 0;
}

void *
vg_malloc(size_t n)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return malloc(n == 0 ? 1 : n);
}

void *
vg_calloc(size_t nmemb, size_t size)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);
}

void *
vg_realloc(void *p, size_t n)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n == 0 ? 1 : n);
}

void *
vg_reallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return vg_realloc(p, nmemb * size);
}

char *
vg_strndup(const char *s, size_t n)
{
	char	*p;

	n = strnlen(s, n);
	if ((p = vg_malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
vg_strdup(const char *s)
{
	return vg_strndup(s, strlen(s));
}

void
vg_free(void *p)
{
	free(p);
}
