/*
 * vigil.h: the contracts every module shares: error codes, verdicts,
 * problem reasons and scan limits.
 *
 * Error codes are stable: never renumber one, only append.  A function that
 * can fail returns enum vigil_err (VIGIL_OK is 0) and hands results back
 * through out-parameters.  "Not applicable" is not an error.
 */
#ifndef VIGIL_VIGIL_H
#define VIGIL_VIGIL_H

#include <stddef.h>
#include <stdint.h>

#define VIGIL_VERSION "0.1.0"

enum vigil_err {
	VIGIL_OK = 0,
	VIGIL_E_NOMEM = 1,	/* an allocation failed */
	VIGIL_E_IO = 2,		/* a read, write or open failed; see errno */
	VIGIL_E_LIMIT = 3,	/* a size, depth, count or time cap was hit */
	VIGIL_E_SYNTAX = 4,	/* malformed input (rules, config, JSON) */
	VIGIL_E_UNSUPPORTED = 5, /* valid elsewhere, refused by vigil */
	VIGIL_E_INVAL = 6,	/* bad argument from the caller */
	VIGIL_E_ENGINE = 7,	/* Vectorscan or PCRE2 refused or failed */
	VIGIL_E_CORRUPT = 8,	/* damaged container or stream */
	VIGIL_E_ENCRYPTED = 9,	/* content needs a key we do not have */
	VIGIL_E_NOTFOUND = 10,	/* no such object, rule or record */
	VIGIL_E_PERM = 11,	/* refused: credentials or permissions */
};

/* A static English message for every code. */
const char	*vigil_strerror(enum vigil_err);

/* What a scan concluded about one top-level object. */
enum vigil_verdict {
	VIGIL_CLEAN = 0,
	VIGIL_FLAGGED = 1,
	VIGIL_UNSCANNABLE = 2,	/* something unexamined, nothing matched */
	VIGIL_ERROR = 3,	/* the object could not be read at all */
};

const char	*vigil_verdict_name(enum vigil_verdict);

/* Why part of an object was not examined.  Names are a wire contract. */
enum vigil_reason {
	VIGIL_R_ENCRYPTED = 0,
	VIGIL_R_CORRUPT,
	VIGIL_R_LIMIT_DEPTH,
	VIGIL_R_LIMIT_BYTES,
	VIGIL_R_LIMIT_FILES,
	VIGIL_R_LIMIT_RATIO,
	VIGIL_R_LIMIT_TIME,
	VIGIL_R_UNSUPPORTED,
	VIGIL_R_IO,
	VIGIL_R__COUNT
};

const char	*vigil_reason_name(enum vigil_reason);

/* Per-object caps, ClamAV-like.  A cap reached is reported, never passed. */
struct vigil_limits {
	unsigned	max_depth;	/* container nesting below the object */
	uint64_t	max_bytes;	/* bytes examined per object, all layers */
	uint64_t	max_files;	/* members per object, all layers */
	unsigned	max_ratio;	/* unpacked:packed bytes per container */
	double		max_time;	/* seconds per object */
	int		text_layer;	/* match normalised text too (1) */
};

#define VIGIL_DEFAULT_MAX_DEPTH	16
#define VIGIL_MAX_DEPTH_CAP	63	/* the engine's hard ceiling */
#define VIGIL_DEFAULT_MAX_BYTES	(1ULL << 30)
#define VIGIL_DEFAULT_MAX_FILES	100000
#define VIGIL_DEFAULT_MAX_RATIO	250
#define VIGIL_DEFAULT_MAX_TIME	120.0

void	vigil_limits_default(struct vigil_limits *);

#endif /* VIGIL_VIGIL_H */
