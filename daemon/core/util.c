/*
 * util.c: the error strings and the small parsers every command shares.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vigil/core.h"

/* No default: the compiler flags an error code without a message. */
const char *
vigil_strerror(enum vigil_err err)
{
	switch (err) {
	case VIGIL_OK:
		return "success";
	case VIGIL_E_NOMEM:
		return "out of memory";
	case VIGIL_E_IO:
		return "input/output error";
	case VIGIL_E_LIMIT:
		return "limit reached";
	case VIGIL_E_SYNTAX:
		return "syntax error";
	case VIGIL_E_UNSUPPORTED:
		return "not supported";
	case VIGIL_E_INVAL:
		return "invalid argument";
	case VIGIL_E_ENGINE:
		return "pattern engine failure";
	case VIGIL_E_CORRUPT:
		return "corrupt data";
	case VIGIL_E_ENCRYPTED:
		return "encrypted content";
	case VIGIL_E_NOTFOUND:
		return "not found";
	case VIGIL_E_PERM:
		return "permission denied";
	}
	return "unknown error";
}

const char *
vigil_verdict_name(enum vigil_verdict v)
{
	switch (v) {
	case VIGIL_CLEAN:
		return "clean";
	case VIGIL_FLAGGED:
		return "flagged";
	case VIGIL_UNSCANNABLE:
		return "unscannable";
	case VIGIL_ERROR:
		return "error";
	}
	return "error";
}

const char *
vigil_reason_name(enum vigil_reason r)
{
	switch (r) {
	case VIGIL_R_ENCRYPTED:
		return "encrypted";
	case VIGIL_R_CORRUPT:
		return "corrupt";
	case VIGIL_R_LIMIT_DEPTH:
		return "limit-depth";
	case VIGIL_R_LIMIT_BYTES:
		return "limit-bytes";
	case VIGIL_R_LIMIT_FILES:
		return "limit-files";
	case VIGIL_R_LIMIT_RATIO:
		return "limit-ratio";
	case VIGIL_R_LIMIT_TIME:
		return "limit-time";
	case VIGIL_R_UNSUPPORTED:
		return "unsupported";
	case VIGIL_R_IO:
		return "io";
	case VIGIL_R__COUNT:
		break;
	}
	return "io";
}

void
vigil_limits_default(struct vigil_limits *l)
{
	l->max_depth = VIGIL_DEFAULT_MAX_DEPTH;
	l->max_bytes = VIGIL_DEFAULT_MAX_BYTES;
	l->max_files = VIGIL_DEFAULT_MAX_FILES;
	l->max_ratio = VIGIL_DEFAULT_MAX_RATIO;
	l->max_time = VIGIL_DEFAULT_MAX_TIME;
	l->text_layer = 1;
}

int
vg_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
vg_parse_size(const char *s, uint64_t *out)
{
	char			*end;
	unsigned long long	 v;
	unsigned		 shift = 0;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'k':
		shift = 10;
		break;
	case 'm':
		shift = 20;
		break;
	case 'g':
		shift = 30;
		break;
	case 't':
		shift = 40;
		break;
	default:
		return -1;
	}
	if (*end != '\0') {
		end++;
		if (tolower((unsigned char)*end) == 'i')
			end++;
		if (tolower((unsigned char)*end) == 'b')
			end++;
		if (*end != '\0')
			return -1;
	}
	if (shift != 0 && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

double
vg_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
vg_iso_time(double t, int ms, char *buf, size_t len)
{
	struct tm	tm;
	time_t		s = (time_t)t;
	char		base[32];
	int		frac = (int)((t - (double)s) * 1000);

	gmtime_r(&s, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	if (ms)
		snprintf(buf, len, "%s.%03dZ", base, frac > 999 ? 999 :
		    frac < 0 ? 0 : frac);
	else
		snprintf(buf, len, "%sZ", base);
}
