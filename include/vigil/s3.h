/*
 * s3.h: a small S3 client (libcurl, SigV4) for the bucket sources: head,
 * ranged get, ListObjectsV2, object tagging, copy, delete and canned ACLs.
 *
 * A client is one curl easy handle, reused so connections stay alive; it
 * is used by one thread at a time, so make one per thread.  Every call
 * fills a struct s3_status (which may be NULL) and returns:
 *
 *   VIGIL_OK		2xx
 *   VIGIL_E_NOTFOUND	404 (NoSuchKey, NoSuchBucket)
 *   VIGIL_E_PERM	401, 403 (AccessDenied, SignatureDoesNotMatch, ...)
 *   VIGIL_E_INVAL	a refused argument, or 416 for a range past the end
 *   VIGIL_E_NOMEM
 *   VIGIL_E_IO		anything else: other statuses, connection failures,
 *			timeouts, malformed responses
 *
 * and on failure st->msg always says what happened, naming the request:
 * "GET bucket/key: 403 SignatureDoesNotMatch: ...".  5xx answers,
 * connection errors and stalls are retried with exponential backoff and
 * jitter before they are reported.  Secrets are never logged nor put in
 * messages.
 */
#ifndef VIGIL_S3_H
#define VIGIL_S3_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/vigil.h"

struct s3_config {
	/* "http://127.0.0.1:4568" or "https://s3.eu-west-1.amazonaws.com" */
	const char	*endpoint;
	const char	*region;	/* NULL: "us-east-1" */
	/*
	 * 1: endpoint/bucket/key.  0: virtual hosts, bucket.endpoint-host/key
	 * (the bucket must then be a DNS label).
	 */
	int		 path_style;
	/*
	 * NULL access_key, secret_key: AWS_ACCESS_KEY_ID and
	 * AWS_SECRET_ACCESS_KEY from the environment.  NULL session_token:
	 * AWS_SESSION_TOKEN, but only when both keys came from there too.
	 * Borrowed until s3_client_new() returns.
	 */
	const char	*access_key;
	const char	*secret_key;
	const char	*session_token;	/* NULL: none */
	int		 verify_tls;
	const char	*ca_file;	/* NULL: the system's */
	long		 connect_timeout_ms;
	/* Stall timeout: a transfer slower than 1 byte/s this long fails. */
	long		 timeout_ms;
	/* Extra attempts on 5xx, connection errors and stalls. */
	int		 retries;
	long		 backoff_ms;	/* first backoff; doubles, jittered */
};

/*
 * Fills c with the defaults: path_style 1, verify_tls 1, connect timeout
 * 10 s, stall timeout 30 s, 3 retries from 200 ms, everything else NULL.
 * Start from this rather than from zeroes, which turn TLS checks off.
 */
void		s3_config_default(struct s3_config *c);

struct s3_status {
	long	http;		/* last HTTP status; 0 if there was none */
	char	code[64];	/* S3 <Code> of an error body, or "" */
	char	msg[256];	/* human-readable, set whenever a call fails */
};

/*
 * A new client, free with s3_client_free().  NULL on failure, with err
 * saying why (no endpoint, no credentials, a malformed endpoint).  The
 * strings in c are copied.
 */
struct s3_client *s3_client_new(const struct s3_config *c, char *err,
		    size_t errlen);
void		s3_client_free(struct s3_client *);

struct s3_object_info {
	uint64_t	size;
	char		etag[80];	/* without the quotes */
	double		mtime;		/* unix seconds */
};

enum vigil_err	s3_head(struct s3_client *, const char *bucket,
		    const char *key, struct s3_object_info *,
		    struct s3_status *);

/*
 * Streams the object, or the byte range [off, off + len) when len is not
 * UINT64_MAX, to cb, which returns 0 to go on or -1 to abort (the call
 * then returns VIGIL_E_IO with msg "... aborted by the caller").  A range
 * running past the end of the object is cut short by the server; an off
 * past the end is VIGIL_E_INVAL (416).  Retries only while nothing has
 * been delivered to cb; a failure after data was delivered returns
 * VIGIL_E_IO, and the caller may re-request the remaining range.
 */
enum vigil_err	s3_get(struct s3_client *, const char *bucket,
		    const char *key, uint64_t off, uint64_t len,
		    int (*cb)(const void *buf, size_t n, void *arg), void *arg,
		    struct s3_status *);

struct s3_entry {
	char		*key;		/* decoded */
	uint64_t	 size;
	char		 etag[80];	/* without the quotes */
	double		 mtime;
};

struct s3_page {
	struct s3_entry	*entries;	/* in the server's (byte) order */
	size_t		 n;
	char		*next_token;	/* NULL when this is the last page */
};

/*
 * One page of ListObjectsV2: keys under prefix (NULL: all), after the
 * continuation token from the previous page (NULL: the first page) or,
 * on the first page, after start_after (NULL: from the start); at most
 * max (1..1000) entries.  On VIGIL_OK free the page with s3_page_free().
 * A page that says it is truncated but carries no token is VIGIL_E_IO.
 */
enum vigil_err	s3_list(struct s3_client *, const char *bucket,
		    const char *prefix, const char *token,
		    const char *start_after, size_t max, struct s3_page *,
		    struct s3_status *);
void		s3_page_free(struct s3_page *);

/*
 * Object tags.  kv lists keys and values alternately, NULL-terminated:
 * { "k1", "v1", "k2", "v2", NULL }.  s3_put_tagging() replaces the set.
 * s3_get_tagging() sets *kv to a new list, free with s3_kv_free().
 * s3_delete_tagging() falls back to putting an empty set on servers that
 * answer DELETE ?tagging with 501 NotImplemented.
 */
enum vigil_err	s3_put_tagging(struct s3_client *, const char *bucket,
		    const char *key, const char *const *kv, struct s3_status *);
enum vigil_err	s3_get_tagging(struct s3_client *, const char *bucket,
		    const char *key, char ***kv, struct s3_status *);
enum vigil_err	s3_delete_tagging(struct s3_client *, const char *bucket,
		    const char *key, struct s3_status *);
void		s3_kv_free(char **kv);

/*
 * Server-side copy (metadata and tags copied along).  A copy that fails
 * after the server has answered 200 (an <Error> body) is an error too.
 */
enum vigil_err	s3_copy(struct s3_client *, const char *src_bucket,
		    const char *src_key, const char *dst_bucket,
		    const char *dst_key, struct s3_status *);
/* S3 answers a delete of a missing key with success; so does this. */
enum vigil_err	s3_delete(struct s3_client *, const char *bucket,
		    const char *key, struct s3_status *);

/* A canned ACL: "private", "public-read", ... */
enum vigil_err	s3_put_acl(struct s3_client *, const char *bucket,
		    const char *key, const char *canned, struct s3_status *);
/* *public_read: whether the AllUsers group may READ (or FULL_CONTROL). */
enum vigil_err	s3_get_acl_public(struct s3_client *, const char *bucket,
		    const char *key, int *public_read, struct s3_status *);

/*
 * SigV4's URI encoding of s into a new string (vg_free): every byte but
 * A-Za-z0-9-._~ as %XX, and '/' kept when keep_slash.  NULL on ENOMEM.
 */
char		*s3_uri_encode(const char *s, int keep_slash);

#endif /* VIGIL_S3_H */
