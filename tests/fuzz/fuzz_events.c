/*
 * fuzz_events.c: libFuzzer target for storage notifications, the bodies
 * anyone holding a hook token can POST to /v1/events: any bytes give
 * events or a message, and every event's key decodes and dedups, never a
 * crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/core.h"
#include "vigil/sources.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum source_flavor flavors[] = { SOURCE_AWS,
	    SOURCE_MINIO, SOURCE_CEPH };
	struct source_events	*evs = NULL;
	char			 err[256], *s, *key;

	if (source_event_parse((const char *)data, size, &evs, err,
	    sizeof(err)) == VIGIL_OK) {
		for (size_t i = 0; i < evs->n; i++)
			if ((s = source_event_dedup(&evs->ev[i])) != NULL)
				vg_free(s);
		source_events_free(evs);
	} else if (memchr(err, '\0', sizeof(err)) == NULL)
		abort();	/* the message must be a string */
	/* The same bytes as an encoded key, in each flavor's encoding. */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (size_t i = 0; i < sizeof(flavors) / sizeof(flavors[0]); i++)
		if (source_event_decode_key(flavors[i], s, &key) == VIGIL_OK)
			vg_free(key);
	free(s);
	return 0;
}
