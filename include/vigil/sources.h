/*
 * sources.h: where bucket objects come from, and the event notifications
 * that say one changed.
 *
 * A source backend is a struct of functions (OpenSMTPD's scheduler_backend):
 * the embedded default is a local-filesystem object store; an S3 source
 * (libcurl) can sit beside it.  Backends are looked up by name.
 */
#ifndef VIGIL_SOURCES_H
#define VIGIL_SOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/engine.h"
#include "vigil/vigil.h"

struct source_listing {
	char	**keys;		/* in byte order, each after the previous */
	size_t	  nkeys;
	int	  more;		/* another page follows the last key */
	/* Per key, as the listing reports them (may be NULL arrays). */
	uint64_t *sizes;
	double	 *mtimes;	/* unix time, 0 if unknown */
	char	**etags;	/* NULL entries where there is none */
	char	 *token;	/* backend's continuation token, or NULL */
};

/* What a source knows of an object it opened. */
struct source_stat {
	uint64_t	size;
	double		mtime;		/* unix time, 0 if unknown */
	char		etag[80];	/* "" if none (local files) */
	char		error[256];	/* why opening failed, if it says */
};

/*
 * An object opened as a stream with ranged reads (an object store): rd
 * goes to eng_scan_reader(); close() ends it, whether read in full or not.
 */
struct source_reader {
	struct eng_reader	 rd;
	void			(*close)(struct source_reader *);
};

struct vg_bucket;

struct source_backend {
	const char	*name;
	/* Opens the backend over root; *state is passed to every call. */
	enum vigil_err	(*open)(const char *root, void **state);
	/*
	 * Opens one object for reading (any thread): *fd is a seekable,
	 * blocking, close-on-exec fd the caller closes.  VIGIL_E_INVAL: the
	 * bucket or key is refused; VIGIL_E_NOTFOUND; VIGIL_E_UNSUPPORTED:
	 * not a regular file; VIGIL_E_IO with errno.
	 */
	enum vigil_err	(*object)(void *state, const char *bucket,
			    const char *key, int *fd, struct source_stat *st);
	/*
	 * If not NULL, objects are read this way instead (any thread):
	 * VIGIL_E_NOTFOUND, VIGIL_E_PERM or VIGIL_E_IO with st->error set.
	 */
	enum vigil_err	(*reader)(void *state, const char *bucket,
			    const char *key, struct source_reader **,
			    struct source_stat *st);
	/*
	 * One page of a bucket's keys that start with prefix (NULL or ""
	 * for all), those sorting after `after` (NULL or "" for the first
	 * page), at most max.  token, if not NULL, is the previous page's
	 * out->token (an S3 continuation token), used when the backend
	 * still accepts it, with `after` as the fallback.  Free with
	 * source_listing_free().
	 */
	enum vigil_err	(*list)(void *state, const char *bucket,
			    const char *prefix, const char *after,
			    const char *token, size_t max,
			    struct source_listing *out);
	/*
	 * A quarantine action (VG_Q_TAG, VG_Q_MOVE, VG_Q_PRIVATE of
	 * config.h) on an object, or its undo.  Applying returns in *memo
	 * (new, vg_free) what undoing needs (former tags, mode, ACL); undo
	 * gets it back.  qbucket: where a move goes.  err says why on failure.
	 * NULL if the backend has none.
	 */
	enum vigil_err	(*action)(void *state, const char *bucket,
			    const char *key, unsigned action, int undo,
			    const char *qbucket, const char *memo_in,
			    char **memo, char *err, size_t errlen);
	void		(*close)(void *state);
};

/* The backend called name ("local", "s3"), or NULL. */
const struct source_backend *source_backend_find(const char *name);
/*
 * Opens the S3 source of a [bucket] section (its open() takes no root):
 * VIGIL_E_INVAL with err set if the endpoint or credentials are unusable.
 */
enum vigil_err	source_s3_open(const struct vg_bucket *, void **state,
		    char *err, size_t errlen);
void		source_listing_free(struct source_listing *);

/*
 * Whether a bucket name or an object key is acceptable: keys with a ".."
 * component, a leading "/", an empty component or a NUL are refused, as
 * are bucket names that are not one plain path component.
 */
int		source_key_valid(const char *key, size_t len);
int		source_bucket_valid(const char *bucket);

/* S3 event notifications (AWS, MinIO, Ceph RGW) ----------------------- */

enum source_flavor {
	SOURCE_AWS = 0,		/* object.key form-encoded ('+' is space) */
	SOURCE_MINIO,		/* key query-escaped, '/' as %2F */
	SOURCE_CEPH,		/* keys not encoded, size maybe a string */
};

enum source_event_kind {
	SOURCE_EV_OTHER = 0,
	SOURCE_EV_CREATED,	/* ObjectCreated:* */
	SOURCE_EV_REMOVED,	/* ObjectRemoved:* */
};

struct source_event {
	enum source_flavor	 flavor;
	enum source_event_kind	 kind;
	char			*name;	/* eventName without "s3:" */
	char			*bucket;
	char			*key;	/* decoded */
	char			*etag;	/* may be "" */
	char			*version_id;
	char			*sequencer;
	char			*owner;	/* bucket ownerIdentity.principalId */
	char			*uploader; /* userIdentity.principalId */
	uint64_t		 size;
};

struct source_events {
	int			 test;	/* an s3:TestEvent: acknowledge it */
	struct source_event	*ev;
	size_t			 n;
};

/*
 * Parses one notification body.  VIGIL_OK: *out is new, free with
 * source_events_free().  VIGIL_E_SYNTAX: err says what is wrong (bad
 * JSON, a record without bucket or key, a key that does not decode or is
 * refused by source_key_valid()).
 */
enum vigil_err	source_event_parse(const char *body, size_t len,
		    struct source_events **out, char *err, size_t errlen);
void		source_events_free(struct source_events *);
/*
 * Decodes a record's object key the way flavor encodes it; *out is new
 * (vg_free).  VIGIL_E_SYNTAX on a bad escape or a decoded NUL.
 */
enum vigil_err	source_event_decode_key(enum source_flavor, const char *in,
		    char **out);
/* "versionId or eTag, sequencer": what makes two deliveries one event. */
char		*source_event_dedup(const struct source_event *);

#endif /* VIGIL_SOURCES_H */
