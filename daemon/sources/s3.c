/*
 * s3.c: the S3 client (see s3.h): libcurl for HTTP and SigV4, libxml2 for
 * the XML answers, libcrypto for payload hashes.
 *
 * DESIGN
 * Every call builds one request (method, bucket, key, query, headers,
 * body) and hands it to s3_perform(), which owns the retry loop:
 *
 *   attempt --2xx--> parse the body (or it was streamed) --> VIGIL_OK
 *      |  \--4xx, 3xx--> <Error><Code> from the body --> mapped error
 *      \--5xx, connection error, stall, 200 <Error> on copy-->
 *           attempts left and nothing streamed yet?  sleep, attempt again
 *           otherwise --> VIGIL_E_IO
 *
 * Signing is curl's CURLOPT_AWS_SIGV4.  Curl 7.88 (Debian 12) signs what
 * it sends verbatim rather than canonicalising it, so each request is
 * built in canonical form beforehand (each point checked against Ceph
 * RGW, which refuses or misreads the request otherwise):
 *   - the path is signed as sent, so keys are URI-encoded here once, the
 *     S3 way ('/' kept), and CURLOPT_PATH_AS_IS stops curl from turning
 *     the key "a/../b" into "b": that would fetch another object;
 *   - the query is signed as sent, neither sorted nor completed with '='
 *     nor encoded: parameters are written here sorted by name with their
 *     values encoded ('/' too), and value-less sub-resources as
 *     "tagging=" ("?tagging" is SignatureDoesNotMatch);
 *   - every header set with CURLOPT_HTTPHEADER is signed, host (with its
 *     port) and x-amz-date are added; a header only removed ("Expect:")
 *     would be signed though never sent, so none is removed.  Headers are
 *     sorted as whole "name:value" lines, which misorders a name that
 *     prefixes another (x-amz-copy-source, x-amz-copy-source-range): not
 *     used together here;
 *   - x-amz-content-sha256 is not added by 7.88 and S3 wants it, so it is
 *     set here: the body's SHA-256, or the empty string's.  Curl signs
 *     that value instead of hashing POSTFIELDS itself.
 * Credentials go in as CURLOPT_USERNAME and CURLOPT_PASSWORD, not as one
 * "user:secret" string, so a ':' in a secret cannot split it wrongly.
 *
 * libxml2 parses with XML_PARSE_NONET and without XML_PARSE_NOENT or
 * DTD loading: entities stay unexpanded and nothing is fetched.  Bodies
 * are capped (S3_MAX_BODY) before they are parsed.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

#include "vigil/core.h"
#include "vigil/s3.h"
#include "vigil/sources.h"

#define S3_MAX_BODY	(16u << 20)	/* a 1000-key page is ~1.5 MB */
#define S3_MAX_ERRBODY	(64u << 10)
#define S3_MAX_BACKOFF	20000		/* ms */
/* SHA-256 of the empty string: the payload hash of a bodiless request. */
#define S3_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_client {
	CURL	*curl;
	char	*scheme;	/* "http" or "https" */
	char	*host;		/* host, with [] for IPv6 */
	char	*port;		/* NULL: the scheme's */
	char	*base;		/* endpoint path without trailing '/', or "" */
	char	*region;
	char	*sigv4;		/* "aws:amz:REGION:s3" */
	char	*access_key;
	char	*secret_key;
	char	*token_hdr;	/* "x-amz-security-token: ..." or NULL */
	char	*ca_file;
	int	 path_style;
	int	 verify_tls;
	long	 connect_timeout_ms;
	long	 timeout_ms;
	int	 retries;
	long	 backoff_ms;
	char	 curlerr[CURL_ERROR_SIZE];
};

/* One request and what came back; s3_perform() fills the lower half. */
struct s3_req {
	const char	*what;		/* "GET bucket/key", for messages */
	const char	*method;
	const char	*bucket;
	const char	*key;		/* NULL: the bucket itself */
	const char	*query;		/* canonical form, or NULL */
	const char	*hdrs[4];	/* extra headers, NULL-terminated */
	const char	*body;		/* NULL: none */
	size_t		 bodylen;
	int		 copy;		/* a 200 may carry an <Error> */

	/* Streaming (GET): cb sees the bytes of [off, off + len). */
	int		(*cb)(const void *, size_t, void *);
	void		*arg;
	uint64_t	 off, len;
	uint64_t	 delivered;
	uint64_t	 skip;		/* bytes of this answer before off */
	int		 started;	/* this answer's first bytes came */
	int		 cb_abort;
	int		 range_bad;

	/* The answer of the last attempt. */
	long		 http;
	struct vg_buf	 resp;		/* body (2xx, not streamed) or error */
	int		 resp_full;	/* the body passed its cap */
	uint64_t	 clen;
	int		 have_clen;
	char		 etag[80];
	double		 mtime;
	uint64_t	 range_start;
	int		 have_range;
};

/*
 * One public call in progress (see call_init()): its request, the label
 * its messages start with, and the status it writes to when the caller
 * passed none.
 */
struct s3_call {
	struct s3_req		 r;
	struct s3_status	 local;
	char			 what[160];
};

static pthread_once_t	 s3_once = PTHREAD_ONCE_INIT;
static int		 s3_init_ok;

/* Process-wide setup, once, whichever thread makes the first client. */
static void
s3_init(void)
{
	s3_init_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	xmlInitParser();
}

void
s3_config_default(struct s3_config *c)
{
	memset(c, 0, sizeof(*c));
	c->path_style = 1;
	c->verify_tls = 1;
	c->connect_timeout_ms = 10000;
	c->timeout_ms = 30000;
	c->retries = 3;
	c->backoff_ms = 200;
}

char *
s3_uri_encode(const char *s, int keep_slash)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	char			*out, *o;

	if ((out = vg_malloc(strlen(s) * 3 + 1)) == NULL)
		return NULL;
	for (o = out, p = (const unsigned char *)s; *p != '\0'; p++) {
		if (isascii(*p) && (isalnum(*p) || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~' || (keep_slash && *p == '/')))
			*o++ = (char)*p;
		else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 0xf];
		}
	}
	*o = '\0';
	return out;
}

/* Copies s into dst for a message, control bytes shown as '?'. */
static void
safe_copy(char *dst, size_t dstlen, const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < dstlen; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' :
		    s[i];
	dst[i] = '\0';
}

static void
set_msg(struct s3_status *st, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_msg(struct s3_status *st, const char *what, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(st->msg, sizeof(st->msg), "%s: ", what);
	if (n < 0 || (size_t)n >= sizeof(st->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(st->msg + n, sizeof(st->msg) - (size_t)n, fmt, ap);
	va_end(ap);
}

static void
status_clear(struct s3_status *st)
{
	st->http = 0;
	st->code[0] = '\0';
	st->msg[0] = '\0';
}

/* "METHOD bucket/key" with unprintable bytes masked, for messages. */
static void
req_what(char *dst, size_t dstlen, const char *label, const char *bucket,
    const char *key)
{
	char	tmp[512];

	snprintf(tmp, sizeof(tmp), "%s %s%s%s", label, bucket,
	    key != NULL ? "/" : "", key != NULL ? key : "");
	safe_copy(dst, dstlen, tmp);
}

static char *
dupstr(const char *s)
{
	return s == NULL ? NULL : vg_strdup(s);
}

static void
free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		vg_free(s);
	}
}

void
s3_client_free(struct s3_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	vg_free(c->scheme);
	vg_free(c->host);
	vg_free(c->port);
	vg_free(c->base);
	vg_free(c->region);
	vg_free(c->sigv4);
	vg_free(c->access_key);
	free_secret(c->secret_key);
	free_secret(c->token_hdr);
	vg_free(c->ca_file);
	vg_free(c);
}

/* Splits the endpoint URL with curl's own parser, so both agree. */
static int
parse_endpoint(struct s3_client *c, const char *endpoint, char *err,
    size_t errlen)
{
	CURLU	*u;
	char	*scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	size_t	 n;
	int	 ok = 0;

	if ((u = curl_url()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	if (curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(err, errlen, "endpoint: not a URL");
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		snprintf(err, errlen, "endpoint: not http or https");
		goto out;
	}
	(void)curl_url_get(u, CURLUPART_PORT, &port, 0);
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		path = NULL;
	c->scheme = vg_strdup(scheme);
	c->host = vg_strdup(host);
	c->port = dupstr(port);
	c->base = vg_strdup(path != NULL ? path : "");
	if (c->scheme == NULL || c->host == NULL || c->base == NULL ||
	    (port != NULL && c->port == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	ok = 1;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return ok;
}

struct s3_client *
s3_client_new(const struct s3_config *cfg, char *err, size_t errlen)
{
	struct s3_client	*c;
	const char		*ak, *sk, *tok;
	int			 n;

	(void)pthread_once(&s3_once, s3_init);
	if (!s3_init_ok) {
		snprintf(err, errlen, "curl_global_init failed");
		return NULL;
	}
	if (cfg->endpoint == NULL || *cfg->endpoint == '\0') {
		snprintf(err, errlen, "no endpoint");
		return NULL;
	}
	ak = cfg->access_key != NULL ? cfg->access_key :
	    getenv("AWS_ACCESS_KEY_ID");
	sk = cfg->secret_key != NULL ? cfg->secret_key :
	    getenv("AWS_SECRET_ACCESS_KEY");
	tok = cfg->session_token;
	/* A token belongs to the keys it came with. */
	if (tok == NULL && cfg->access_key == NULL && cfg->secret_key == NULL)
		tok = getenv("AWS_SESSION_TOKEN");
	if (ak == NULL || *ak == '\0' || sk == NULL || *sk == '\0') {
		snprintf(err, errlen, "no credentials: set an access and a "
		    "secret key, or AWS_ACCESS_KEY_ID and "
		    "AWS_SECRET_ACCESS_KEY");
		return NULL;
	}
	if (tok != NULL && (*tok == '\0' || strpbrk(tok, "\r\n") != NULL))
		tok = NULL;

	if ((c = vg_calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!parse_endpoint(c, cfg->endpoint, err, errlen))
		goto fail;
	c->region = vg_strdup(cfg->region != NULL && *cfg->region != '\0' ?
	    cfg->region : "us-east-1");
	c->access_key = vg_strdup(ak);
	c->secret_key = vg_strdup(sk);
	c->ca_file = dupstr(cfg->ca_file);
	if (c->region == NULL || c->access_key == NULL ||
	    c->secret_key == NULL || (cfg->ca_file != NULL &&
	    c->ca_file == NULL))
		goto nomem;
	if (strchr(c->region, ':') != NULL || strlen(c->region) > 64) {
		snprintf(err, errlen, "bad region");
		goto fail;
	}
	n = snprintf(NULL, 0, "aws:amz:%s:s3", c->region);
	if ((c->sigv4 = vg_malloc((size_t)n + 1)) == NULL)
		goto nomem;
	snprintf(c->sigv4, (size_t)n + 1, "aws:amz:%s:s3", c->region);
	if (tok != NULL) {
		n = snprintf(NULL, 0, "x-amz-security-token: %s", tok);
		if ((c->token_hdr = vg_malloc((size_t)n + 1)) == NULL)
			goto nomem;
		snprintf(c->token_hdr, (size_t)n + 1,
		    "x-amz-security-token: %s", tok);
	}
	c->path_style = cfg->path_style;
	c->verify_tls = cfg->verify_tls;
	c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ?
	    cfg->connect_timeout_ms : 10000;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
	c->retries = cfg->retries > 0 ? cfg->retries : 0;
	c->backoff_ms = cfg->backoff_ms > 0 ? cfg->backoff_ms : 1;
	if ((c->curl = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		goto fail;
	}
	return c;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	s3_client_free(c);
	return NULL;
}

/* The request URL, path and query already in SigV4 canonical form. */
static char *
req_url(struct s3_client *c, const struct s3_req *r)
{
	struct vg_buf	 b;
	char		*bucket = NULL, *key = NULL;

	vg_buf_init(&b, 64 * 1024);
	if ((bucket = s3_uri_encode(r->bucket, 0)) == NULL ||
	    (r->key != NULL && (key = s3_uri_encode(r->key, 1)) == NULL))
		goto fail;
	if (vg_buf_addf(&b, "%s://", c->scheme) != VIGIL_OK)
		goto fail;
	if (!c->path_style && vg_buf_addf(&b, "%s.", bucket) != VIGIL_OK)
		goto fail;
	if (vg_buf_addf(&b, "%s%s%s%s", c->host, c->port != NULL ? ":" : "",
	    c->port != NULL ? c->port : "", c->base) != VIGIL_OK)
		goto fail;
	if (c->path_style && vg_buf_addf(&b, "/%s", bucket) != VIGIL_OK)
		goto fail;
	/* A bucket is "/" virtual-hosted and "/bucket" path-style. */
	if (key != NULL || !c->path_style)
		if (vg_buf_addf(&b, "/%s", key != NULL ? key : "") != VIGIL_OK)
			goto fail;
	if (r->query != NULL && vg_buf_addf(&b, "?%s", r->query) != VIGIL_OK)
		goto fail;
	vg_free(bucket);
	vg_free(key);
	return vg_buf_detach(&b, NULL);
fail:
	vg_free(bucket);
	vg_free(key);
	vg_buf_free(&b);
	return NULL;
}

static void
sha256_hex(const void *p, size_t n, char out[65])
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		md[EVP_MAX_MD_SIZE];
	unsigned int		mdlen = 0, i;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1)
		mdlen = 0;
	for (i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[2 * i] = '\0';
}

/* Content-MD5: some operations (PutObjectTagging) require one on AWS. */
static void
md5_base64(const void *p, size_t n, char out[32])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;

	out[0] = '\0';
	if (EVP_Digest(p, n, md, &mdlen, EVP_md5(), NULL) == 1)
		EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

static void
copy_trimmed(char *dst, size_t dstlen, const char *v, size_t n)
{
	while (n > 0 && isspace((unsigned char)*v)) {
		v++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)v[n - 1]))
		n--;
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static size_t
header_cb(char *line, size_t size, size_t nitems, void *arg)
{
	struct s3_req	*r = arg;
	size_t		 n = size * nitems, nl;
	const char	*v;
	char		 tmp[128];
	long		 code;
	unsigned long long a;

	/* A status line starts a new answer (after a 100, a redirect). */
	if (n > 5 && strncmp(line, "HTTP/", 5) == 0) {
		v = memchr(line, ' ', n);
		code = v != NULL ? strtol(v + 1, NULL, 10) : 0;
		r->http = code;
		r->have_clen = r->have_range = 0;
		r->etag[0] = '\0';
		r->mtime = 0;
		return n;
	}
	if ((v = memchr(line, ':', n)) == NULL)
		return n;
	nl = (size_t)(v - line);
	v++;
	copy_trimmed(tmp, sizeof(tmp), v, n - (size_t)(v - line));
	if (nl == 14 && strncasecmp(line, "Content-Length", nl) == 0) {
		r->clen = strtoull(tmp, NULL, 10);
		r->have_clen = 1;
	} else if (nl == 4 && strncasecmp(line, "ETag", nl) == 0)
		copy_trimmed(r->etag, sizeof(r->etag), tmp, strlen(tmp));
	else if (nl == 13 && strncasecmp(line, "Last-Modified", nl) == 0) {
		time_t	t = curl_getdate(tmp, NULL);

		r->mtime = t == -1 ? 0 : (double)t;
	} else if (nl == 13 && strncasecmp(line, "Content-Range", nl) == 0 &&
	    sscanf(tmp, "bytes %llu-", &a) == 1) {
		r->range_start = a;
		r->have_range = 1;
	}
	return n;
}

/*
 * Keeps a body for parsing, up to a cap: past it a 2xx answer stops the
 * transfer (resp_full), an error body is only cut short.
 */
static size_t
keep_body(struct s3_req *r, const char *p, size_t n)
{
	if (vg_buf_add(&r->resp, p, n) == VIGIL_OK)
		return n;
	if (r->http < 200 || r->http > 299)
		return n;
	r->resp_full = 1;
	return 0;
}

static size_t
write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct s3_req	*r = arg;
	size_t		 n = size * nmemb, give;
	uint64_t	 left;

	if (r->cb == NULL || r->http < 200 || r->http > 299)
		return keep_body(r, p, n);
	if (!r->started) {
		/*
		 * First bytes of a streamed answer: a server that ignored the
		 * Range header sends the whole object (200), one that honoured
		 * it the range from Content-Range's start; skip up to off
		 * either way.
		 */
		r->started = 1;
		if (r->http == 206 && r->have_range) {
			if (r->range_start > r->off) {
				r->range_bad = 1;
				return 0;
			}
			r->skip = r->off - r->range_start;
		} else if (r->http == 200)
			r->skip = r->off;
	}
	if (r->skip > 0) {
		give = (uint64_t)n < r->skip ? n : (size_t)r->skip;
		r->skip -= give;
		p += give;
		n -= give;
		if (n == 0)
			return size * nmemb;
	}
	left = r->len == UINT64_MAX ? UINT64_MAX : r->len - r->delivered;
	give = (uint64_t)n < left ? n : (size_t)left;
	if (give > 0) {
		if (r->cb(p, give, r->arg) != 0) {
			r->cb_abort = 1;
			return 0;
		}
		r->delivered += give;
	}
	/* More than was asked for (a 200 to a range): stop here. */
	if (give < n)
		return 0;
	return size * nmemb;
}

/* Pulls <Code> and <Message> out of an error body, if there is one. */
static void
parse_error_body(const struct vg_buf *b, char *code, size_t codelen,
    char *msg, size_t msglen)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 root, n;
	xmlChar		*t;

	code[0] = msg[0] = '\0';
	if (b->len == 0 || (doc = xmlReadMemory(b->data, (int)b->len, NULL,
	    NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
	    XML_PARSE_NOWARNING)) == NULL)
		return;
	if ((root = xmlDocGetRootElement(doc)) != NULL &&
	    xmlStrcmp(root->name, (const xmlChar *)"Error") == 0) {
		for (n = root->children; n != NULL; n = n->next) {
			if (n->type != XML_ELEMENT_NODE)
				continue;
			if (xmlStrcmp(n->name, (const xmlChar *)"Code") == 0 &&
			    (t = xmlNodeGetContent(n)) != NULL) {
				safe_copy(code, codelen, (const char *)t);
				xmlFree(t);
			} else if (xmlStrcmp(n->name,
			    (const xmlChar *)"Message") == 0 &&
			    (t = xmlNodeGetContent(n)) != NULL) {
				safe_copy(msg, msglen, (const char *)t);
				xmlFree(t);
			}
		}
	}
	xmlFreeDoc(doc);
}

static int
curl_retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static void
backoff(struct s3_client *c, int attempt)
{
	struct timespec	ts;
	long		ms = c->backoff_ms;
	int		i;

	for (i = 0; i < attempt && ms < S3_MAX_BACKOFF; i++)
		ms *= 2;
	if (ms > S3_MAX_BACKOFF)
		ms = S3_MAX_BACKOFF;
	/* "Equal jitter": half fixed, half random, so clients spread out. */
	ms = ms / 2 + (long)arc4random_uniform((uint32_t)(ms / 2 + 1));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Sets up the easy handle for one attempt of r. */
static enum vigil_err
setup(struct s3_client *c, struct s3_req *r, const char *url,
    struct curl_slist **hdrsp)
{
	struct curl_slist	*h = NULL, *t;
	char			 line[160], md5[32], sha[65];
	long			 stall;
	size_t			 i;
	CURL			*e = c->curl;

	*hdrsp = NULL;
	/*
	 * Reset keeps live connections and the DNS cache; only options go,
	 * so no option of the previous request leaks into this one.
	 */
	curl_easy_reset(e);
	if (r->body != NULL)
		sha256_hex(r->body, r->bodylen, sha);
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s",
	    r->body != NULL ? sha : S3_EMPTY_SHA256);
	if ((t = curl_slist_append(h, line)) == NULL)
		goto nomem;
	h = t;
	if (r->body != NULL) {
		md5_base64(r->body, r->bodylen, md5);
		snprintf(line, sizeof(line), "Content-MD5: %s", md5);
		if ((t = curl_slist_append(h, line)) == NULL ||
		    (h = t, t = curl_slist_append(h,
		    "Content-Type: application/xml")) == NULL)
			goto nomem;
		h = t;
	}
	if (c->token_hdr != NULL) {
		if ((t = curl_slist_append(h, c->token_hdr)) == NULL)
			goto nomem;
		h = t;
	}
	for (i = 0; i < sizeof(r->hdrs) / sizeof(r->hdrs[0]) &&
	    r->hdrs[i] != NULL; i++) {
		if ((t = curl_slist_append(h, r->hdrs[i])) == NULL)
			goto nomem;
		h = t;
	}
	if (r->cb != NULL && (r->off > 0 || r->len != UINT64_MAX)) {
		if (r->len == UINT64_MAX)
			snprintf(line, sizeof(line), "Range: bytes=%llu-",
			    (unsigned long long)r->off);
		else
			snprintf(line, sizeof(line), "Range: bytes=%llu-%llu",
			    (unsigned long long)r->off,
			    (unsigned long long)(r->off + r->len - 1));
		if ((t = curl_slist_append(h, line)) == NULL)
			goto nomem;
		h = t;
	}
	*hdrsp = h;

	stall = (c->timeout_ms + 999) / 1000;
	c->curlerr[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->curlerr);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "vigil/" VIGIL_VERSION);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, stall);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c->verify_tls ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c->verify_tls ? 2L : 0L);
	if (c->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(e, CURLOPT_AWS_SIGV4, c->sigv4);
	curl_easy_setopt(e, CURLOPT_USERNAME, c->access_key);
	curl_easy_setopt(e, CURLOPT_PASSWORD, c->secret_key);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	if (strcmp(r->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(r->method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	if (r->body != NULL || strcmp(r->method, "PUT") == 0) {
		/* Curl hashes POSTFIELDS too; x-amz-content-sha256 wins. */
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(r->body != NULL ? r->bodylen : 0));
		curl_easy_setopt(e, CURLOPT_POSTFIELDS,
		    r->body != NULL ? r->body : "");
	}
	return VIGIL_OK;
nomem:
	curl_slist_free_all(h);
	return VIGIL_E_NOMEM;
}

static enum vigil_err
map_http(long http)
{
	if (http == 404)
		return VIGIL_E_NOTFOUND;
	if (http == 401 || http == 403)
		return VIGIL_E_PERM;
	if (http == 416)
		return VIGIL_E_INVAL;
	return VIGIL_E_IO;
}

/* A short text for a status without an error body (HEAD answers). */
static const char *
http_reason(long http)
{
	switch (http) {
	case 301:
		return "Moved Permanently (wrong region or endpoint?)";
	case 307:
		return "Temporary Redirect (wrong region or endpoint?)";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden (no error body: check the keys, the region, "
		    "the clock and the permissions)";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 416:
		return "Range Not Satisfiable";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "unexpected status";
	}
}

/* What an error code means, for servers (Ceph RGW) that send no text. */
static const char *
code_hint(const char *code)
{
	static const struct {
		const char	*code, *hint;
	} hints[] = {
		{ "AccessDenied", "access denied" },
		{ "InvalidAccessKeyId", "the access key is unknown" },
		{ "SignatureDoesNotMatch",
		    "the secret key or the region is wrong" },
		{ "RequestTimeTooSkewed", "the clock is off" },
		{ "NoSuchBucket", "no such bucket" },
		{ "NoSuchKey", "no such key" },
		{ "InvalidRange", "the range starts past the end" },
		{ "SlowDown", "the server asks to slow down" },
	};
	size_t	i;

	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (strcmp(code, hints[i].code) == 0)
			return hints[i].hint;
	return "";
}

/*
 * Runs r with retries (see DESIGN).  On VIGIL_OK a body that was not
 * streamed is in r->resp, which the caller frees with vg_buf_free().
 */
static enum vigil_err
s3_perform(struct s3_client *c, struct s3_req *r, struct s3_status *st)
{
	struct curl_slist	*hdrs = NULL;
	char			*url;
	char			 code[64], emsg[200];
	enum vigil_err		 err;
	CURLcode		 cc;
	long			 os_errno;
	int			 attempt, retry;

	status_clear(st);
	vg_buf_init(&r->resp, r->cb != NULL ? S3_MAX_ERRBODY : S3_MAX_BODY);
	if ((url = req_url(c, r)) == NULL) {
		set_msg(st, r->what, "out of memory");
		return VIGIL_E_NOMEM;
	}
	for (attempt = 0;; attempt++) {
		vg_buf_reset(&r->resp);
		r->resp_full = 0;
		r->http = 0;
		r->have_clen = r->have_range = 0;
		r->etag[0] = '\0';
		r->mtime = 0;
		r->skip = 0;
		r->started = 0;
		r->range_bad = 0;
		r->cb_abort = 0;
		if ((err = setup(c, r, url, &hdrs)) != VIGIL_OK) {
			set_msg(st, r->what, "out of memory");
			break;
		}
		cc = curl_easy_perform(c->curl);
		curl_slist_free_all(hdrs);
		hdrs = NULL;
		st->http = r->http;
		code[0] = emsg[0] = '\0';
		retry = 0;

		if (r->cb_abort) {
			set_msg(st, r->what, "aborted by the caller after "
			    "%llu bytes", (unsigned long long)r->delivered);
			err = VIGIL_E_IO;
			break;
		}
		if (r->range_bad == 1) {
			set_msg(st, r->what, "server sent a range starting "
			    "at %llu for one at %llu",
			    (unsigned long long)r->range_start,
			    (unsigned long long)r->off);
			err = VIGIL_E_IO;
			break;
		}
		if (cc == CURLE_WRITE_ERROR && r->cb != NULL &&
		    r->len != UINT64_MAX && r->delivered >= r->len)
			cc = CURLE_OK;	/* we stopped a too-long answer */
		if (cc != CURLE_OK && r->resp_full) {
			set_msg(st, r->what, "answer larger than %zu bytes",
			    r->resp.max);
			err = VIGIL_E_IO;
			break;
		}
		if (cc != CURLE_OK) {
			if (r->delivered > 0) {
				set_msg(st, r->what, "broken after %llu "
				    "bytes: %s",
				    (unsigned long long)r->delivered,
				    c->curlerr[0] != '\0' ? c->curlerr :
				    curl_easy_strerror(cc));
				err = VIGIL_E_IO;
				break;
			}
			retry = curl_retryable(cc);
			os_errno = 0;
			(void)curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO,
			    &os_errno);
			set_msg(st, r->what, "%s%s%s%s", c->curlerr[0] != '\0' ?
			    c->curlerr : curl_easy_strerror(cc),
			    os_errno != 0 ? " (" : "",
			    os_errno != 0 ? strerror((int)os_errno) : "",
			    os_errno != 0 ? ")" : "");
			err = VIGIL_E_IO;
		} else if (r->http >= 200 && r->http <= 299) {
			err = VIGIL_OK;
			if (!r->copy || r->resp.len == 0)
				break;
			parse_error_body(&r->resp, code, sizeof(code), emsg,
			    sizeof(emsg));
			if (code[0] == '\0')
				break;
			/* CopyObject failed after the server said 200. */
			snprintf(st->code, sizeof(st->code), "%s", code);
			set_msg(st, r->what, "%ld %s%s%s", r->http, code,
			    emsg[0] != '\0' ? ": " : "", emsg);
			retry = strcmp(code, "InternalError") == 0 ||
			    strcmp(code, "SlowDown") == 0 ||
			    strcmp(code, "ServiceUnavailable") == 0;
			err = VIGIL_E_IO;
		} else {
			parse_error_body(&r->resp, code, sizeof(code), emsg,
			    sizeof(emsg));
			if (emsg[0] == '\0')
				snprintf(emsg, sizeof(emsg), "%s",
				    code_hint(code));
			snprintf(st->code, sizeof(st->code), "%s", code);
			if (code[0] != '\0')
				set_msg(st, r->what, "%ld %s%s%s", r->http,
				    code, emsg[0] != '\0' ? ": " : "", emsg);
			else
				set_msg(st, r->what, "%ld %s", r->http,
				    http_reason(r->http));
			err = map_http(r->http);
			/* 501 NotImplemented will not change its mind. */
			retry = r->http == 500 || r->http == 502 ||
			    r->http == 503 || r->http == 504 || r->http == 429;
		}
		if (!retry || attempt >= c->retries || r->delivered > 0)
			break;
		vg_log_info("s3: %s; retry %d of %d", st->msg, attempt + 1,
		    c->retries);
		backoff(c, attempt);
	}
	if (err != VIGIL_OK && attempt > 0) {
		size_t	n = strlen(st->msg);

		snprintf(st->msg + n, sizeof(st->msg) - n, " (%d attempts)",
		    attempt + 1);
	}
	vg_free(url);
	if (err != VIGIL_OK)
		vg_buf_free(&r->resp);
	return err;
}

static int
args_ok(const char *bucket, const char *key, struct s3_status *st,
    const char *what)
{
	if (bucket == NULL || *bucket == '\0' || strchr(bucket, '/') !=
	    NULL || (key != NULL && *key == '\0')) {
		set_msg(st, what, "empty or malformed bucket or key");
		return 0;
	}
	return 1;
}

/*
 * Starts a call on bucket, or on its object key.  A NULL *stp becomes the
 * call's own status, so callers need not check, and the status is cleared
 * so that a call refused before it sends leaves no stale message.  The
 * request is addressed and labelled "LABEL bucket/key"; the caller fills
 * in the rest of what it sends.
 */
static void
call_init(struct s3_call *k, struct s3_status **stp, const char *label,
    const char *method, const char *bucket, const char *key)
{
	if (*stp == NULL)
		*stp = &k->local;
	status_clear(*stp);
	req_what(k->what, sizeof(k->what), label, bucket, key);
	memset(&k->r, 0, sizeof(k->r));
	k->r.what = k->what;
	k->r.method = method;
	k->r.bucket = bucket;
	k->r.key = key;
}

/*
 * call_init() for a call on an object.  Returns 0 if the names cannot
 * make a request; *stp says why, unless key is NULL.
 */
static int
object_call(struct s3_call *k, struct s3_status **stp, const char *label,
    const char *method, const char *bucket, const char *key)
{
	call_init(k, stp, label, method, bucket, key);
	return key != NULL && args_ok(bucket, key, *stp, k->what);
}

/* Runs r for its status and headers: a body that came back is dropped. */
static enum vigil_err
perform_drop(struct s3_client *c, struct s3_req *r, struct s3_status *st)
{
	enum vigil_err	err;

	if ((err = s3_perform(c, r, st)) == VIGIL_OK)
		vg_buf_free(&r->resp);
	return err;
}

/*
 * A query or body that could not be built in b, which is freed.  Past the
 * cap means the caller's names or tags are too long: VIGIL_E_INVAL, the
 * caller's error rather than a limit of ours.
 */
static enum vigil_err
build_failed(struct vg_buf *b, enum vigil_err err, const char *what,
    struct s3_status *st)
{
	vg_buf_free(b);
	set_msg(st, what, "%s", vigil_strerror(err));
	return err == VIGIL_E_LIMIT ? VIGIL_E_INVAL : err;
}

enum vigil_err
s3_head(struct s3_client *c, const char *bucket, const char *key,
    struct s3_object_info *info, struct s3_status *st)
{
	struct s3_call	k;
	enum vigil_err	err;

	memset(info, 0, sizeof(*info));
	if (!object_call(&k, &st, "HEAD", "HEAD", bucket, key))
		return VIGIL_E_INVAL;
	if ((err = perform_drop(c, &k.r, st)) != VIGIL_OK)
		return err;
	info->size = k.r.have_clen ? k.r.clen : 0;
	snprintf(info->etag, sizeof(info->etag), "%s", k.r.etag);
	info->mtime = k.r.mtime;
	return VIGIL_OK;
}

enum vigil_err
s3_get(struct s3_client *c, const char *bucket, const char *key,
    uint64_t off, uint64_t len, int (*cb)(const void *, size_t, void *),
    void *arg, struct s3_status *st)
{
	struct s3_call	k;

	/*
	 * Not object_call(): a NULL callback, like a NULL key, is refused
	 * before the names are checked.
	 */
	call_init(&k, &st, "GET", "GET", bucket, key);
	if (key == NULL || cb == NULL || !args_ok(bucket, key, st, k.what))
		return VIGIL_E_INVAL;
	if (len == 0)
		return VIGIL_OK;
	if (len != UINT64_MAX && off > UINT64_MAX - len) {
		set_msg(st, k.what, "range overflows");
		return VIGIL_E_INVAL;
	}
	k.r.cb = cb;
	k.r.arg = arg;
	k.r.off = off;
	k.r.len = len;
	return perform_drop(c, &k.r, st);
}

static int
is_elem(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE &&
	    xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

static xmlNodePtr
child(xmlNodePtr n, const char *name)
{
	for (n = n != NULL ? n->children : NULL; n != NULL; n = n->next)
		if (is_elem(n, name))
			return n;
	return NULL;
}

/* The text of n's first child called name as a new string, or NULL. */
static char *
child_text(xmlNodePtr n, const char *name)
{
	xmlChar	*t;
	char	*s;

	if ((n = child(n, name)) == NULL || (t = xmlNodeGetContent(n)) ==
	    NULL)
		return NULL;
	s = vg_strdup((const char *)t);
	xmlFree(t);
	return s;
}

/*
 * Like child_text(), but a missing child reads as "" (an empty <Value/>
 * is an empty value), so NULL means out of memory.
 */
static char *
child_text_or_empty(xmlNodePtr n, const char *name)
{
	char	*s;

	if ((s = child_text(n, name)) == NULL)
		s = vg_strdup("");
	return s;
}

/* Whether the text of n's child called name is value, case aside. */
static int
child_is(xmlNodePtr n, const char *name, const char *value)
{
	char	*s;
	int	 is;

	s = child_text(n, name);
	is = s != NULL && strcasecmp(s, value) == 0;
	vg_free(s);
	return is;
}

/* How many children of n (NULL: none) are elements called name. */
static size_t
count_children(xmlNodePtr n, const char *name)
{
	size_t	count = 0;

	for (n = n != NULL ? n->children : NULL; n != NULL; n = n->next)
		if (is_elem(n, name))
			count++;
	return count;
}

/*
 * Runs a request whose answer must be an XML document with the root
 * element root; desc names what was expected in the message if it is
 * not.  On VIGIL_OK the caller frees *docp with xmlFreeDoc() and *rootp
 * is its root; otherwise both are NULL.
 */
static enum vigil_err
xml_request(struct s3_client *c, struct s3_req *r, const char *root,
    const char *desc, xmlDocPtr *docp, xmlNodePtr *rootp,
    struct s3_status *st)
{
	xmlDocPtr	doc = NULL;
	xmlNodePtr	n = NULL;
	enum vigil_err	err;

	*docp = NULL;
	*rootp = NULL;
	if ((err = s3_perform(c, r, st)) != VIGIL_OK)
		return err;
	if (r->resp.len > 0 && (doc = xmlReadMemory(r->resp.data,
	    (int)r->resp.len, NULL, NULL, XML_PARSE_NONET |
	    XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) == NULL) {
		set_msg(st, r->what, "%ld with a malformed XML body",
		    r->http);
		err = VIGIL_E_IO;
	} else if (doc == NULL || (n = xmlDocGetRootElement(doc)) == NULL ||
	    !is_elem(n, root)) {
		set_msg(st, r->what, "answer is not %s", desc);
		err = VIGIL_E_IO;
	}
	vg_buf_free(&r->resp);
	if (err != VIGIL_OK) {
		if (doc != NULL)
			xmlFreeDoc(doc);
		return err;
	}
	*docp = doc;
	*rootp = n;
	return VIGIL_OK;
}

/* "2026-01-02T03:04:05.678Z" to unix seconds; 0 if malformed. */
static double
parse_iso8601(const char *s)
{
	struct tm	tm;
	double		frac = 0;
	const char	*p;
	time_t		t;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return 0;
	if (*p == '.')
		frac = strtod(p, NULL);
	if ((t = timegm(&tm)) == -1)
		return 0;
	return (double)t + frac;
}

static void
page_clear(struct s3_page *p)
{
	p->entries = NULL;
	p->n = 0;
	p->next_token = NULL;
}

void
s3_page_free(struct s3_page *p)
{
	size_t	i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		vg_free(p->entries[i].key);
	vg_free(p->entries);
	vg_free(p->next_token);
	page_clear(p);
}

static enum vigil_err
query_param(struct vg_buf *q, const char *name, const char *value)
{
	char		*v;
	enum vigil_err	 err;

	if ((v = s3_uri_encode(value, 0)) == NULL)
		return VIGIL_E_NOMEM;
	err = vg_buf_addf(q, "%s%s=%s", q->len > 0 ? "&" : "", name, v);
	vg_free(v);
	return err;
}

/* Fills page from the ListBucketResult root. */
static enum vigil_err
parse_list(xmlNodePtr root, struct s3_page *page, const char *what,
    struct s3_status *st)
{
	xmlNodePtr	 n;
	struct s3_entry	*e;
	char		*s;
	size_t		 count;
	enum vigil_err	 err = VIGIL_OK;
	int		 urlenc, truncated;

	/*
	 * encoding-type=url was asked for; a server that applied it says so
	 * in <EncodingType>, and only then are keys decoded (s3rver, for
	 * one, ignores the parameter and sends keys as they are).
	 */
	urlenc = child_is(root, "EncodingType", "url");
	truncated = child_is(root, "IsTruncated", "true");

	count = count_children(root, "Contents");
	if (count > 0 && (page->entries = vg_calloc(count,
	    sizeof(*page->entries))) == NULL)
		return VIGIL_E_NOMEM;
	for (n = root->children; n != NULL && err == VIGIL_OK; n = n->next) {
		if (!is_elem(n, "Contents"))
			continue;
		e = &page->entries[page->n];
		if ((s = child_text(n, "Key")) == NULL) {
			set_msg(st, what, "an entry without a key");
			err = VIGIL_E_IO;
			break;
		}
		if (urlenc) {
			err = source_event_decode_key(SOURCE_AWS, s, &e->key);
			vg_free(s);
			if (err == VIGIL_E_SYNTAX) {
				set_msg(st, what, "a key that does not "
				    "decode");
				err = VIGIL_E_IO;
			}
			if (err != VIGIL_OK)
				break;
		} else
			e->key = s;
		page->n++;
		if ((s = child_text(n, "Size")) != NULL)
			e->size = strtoull(s, NULL, 10);
		vg_free(s);
		if ((s = child_text(n, "ETag")) != NULL)
			copy_trimmed(e->etag, sizeof(e->etag), s, strlen(s));
		vg_free(s);
		s = child_text(n, "LastModified");
		e->mtime = parse_iso8601(s);
		vg_free(s);
	}
	if (err == VIGIL_OK && truncated) {
		page->next_token = child_text(root, "NextContinuationToken");
		if (page->next_token == NULL || *page->next_token == '\0') {
			set_msg(st, what, "truncated page without a "
			    "continuation token");
			err = VIGIL_E_IO;
		}
	}
	return err;
}

enum vigil_err
s3_list(struct s3_client *c, const char *bucket, const char *prefix,
    const char *token, const char *start_after, size_t max,
    struct s3_page *page, struct s3_status *st)
{
	struct s3_call	k;
	struct vg_buf	q;
	xmlDocPtr	doc;
	xmlNodePtr	root;
	char		num[24];
	enum vigil_err	err;

	page_clear(page);
	call_init(&k, &st, "LIST", "GET", bucket, NULL);
	if (!args_ok(bucket, NULL, st, k.what))
		return VIGIL_E_INVAL;
	if (max < 1 || max > 1000) {
		set_msg(st, k.what, "max must be 1 to 1000");
		return VIGIL_E_INVAL;
	}
	/* Sorted by name, as SigV4 signs them (see DESIGN). */
	vg_buf_init(&q, 64 * 1024);
	snprintf(num, sizeof(num), "%zu", max);
	err = VIGIL_OK;
	if (token != NULL && *token != '\0')
		err = query_param(&q, "continuation-token", token);
	if (err == VIGIL_OK)
		err = query_param(&q, "encoding-type", "url");
	if (err == VIGIL_OK)
		err = query_param(&q, "list-type", "2");
	if (err == VIGIL_OK)
		err = query_param(&q, "max-keys", num);
	if (err == VIGIL_OK && prefix != NULL && *prefix != '\0')
		err = query_param(&q, "prefix", prefix);
	if (err == VIGIL_OK && (token == NULL || *token == '\0') &&
	    start_after != NULL && *start_after != '\0')
		err = query_param(&q, "start-after", start_after);
	if (err != VIGIL_OK)
		return build_failed(&q, err, k.what, st);
	k.r.query = q.data;
	err = xml_request(c, &k.r, "ListBucketResult", "a ListBucketResult",
	    &doc, &root, st);
	vg_buf_free(&q);
	if (err == VIGIL_OK) {
		err = parse_list(root, page, k.what, st);
		xmlFreeDoc(doc);
	}
	if (err != VIGIL_OK)
		s3_page_free(page);
	return err;
}

void
s3_kv_free(char **kv)
{
	size_t	i;

	if (kv == NULL)
		return;
	for (i = 0; kv[i] != NULL; i++)
		vg_free(kv[i]);
	vg_free(kv);
}

/* Appends s with the five XML special characters escaped. */
static enum vigil_err
xml_escape(struct vg_buf *b, const char *s)
{
	static const char	 special[] = "<>&\"'";
	static const char	*entity[] = {
		"&lt;", "&gt;", "&amp;", "&quot;", "&apos;"
	};
	const char		*p;
	enum vigil_err		 err = VIGIL_OK;

	/* *s is never '\0' here, which strchr() would find too. */
	for (; *s != '\0' && err == VIGIL_OK; s++) {
		if ((p = strchr(special, *s)) != NULL)
			err = vg_buf_add(b, entity[p - special],
			    strlen(entity[p - special]));
		else
			err = vg_buf_addc(b, *s);
	}
	return err;
}

/*
 * Sends kv as the tag set of k's object.  Only the method, query and body
 * are set here, so s3_delete_tagging() can fall back to this on its own
 * request: s3_perform() starts the answer half afresh.
 */
static enum vigil_err
put_tagging(struct s3_client *c, struct s3_call *k, const char *const *kv,
    struct s3_status *st)
{
	struct vg_buf	b;
	enum vigil_err	err;
	size_t		i;

	vg_buf_init(&b, 64 * 1024);
	err = vg_buf_addf(&b, "<Tagging xmlns=\"http://s3.amazonaws.com/doc/"
	    "2006-03-01/\"><TagSet>");
	for (i = 0; kv != NULL && kv[i] != NULL && err == VIGIL_OK; i += 2) {
		if (kv[i + 1] == NULL) {
			set_msg(st, k->what, "a tag key without a value");
			vg_buf_free(&b);
			return VIGIL_E_INVAL;
		}
		if ((err = vg_buf_addf(&b, "<Tag><Key>")) == VIGIL_OK &&
		    (err = xml_escape(&b, kv[i])) == VIGIL_OK &&
		    (err = vg_buf_addf(&b, "</Key><Value>")) == VIGIL_OK &&
		    (err = xml_escape(&b, kv[i + 1])) == VIGIL_OK)
			err = vg_buf_addf(&b, "</Value></Tag>");
	}
	if (err == VIGIL_OK)
		err = vg_buf_addf(&b, "</TagSet></Tagging>");
	if (err != VIGIL_OK)
		return build_failed(&b, err, k->what, st);
	k->r.method = "PUT";
	k->r.query = "tagging=";
	k->r.body = b.data;
	k->r.bodylen = b.len;
	err = perform_drop(c, &k->r, st);
	vg_buf_free(&b);
	return err;
}

enum vigil_err
s3_put_tagging(struct s3_client *c, const char *bucket, const char *key,
    const char *const *kv, struct s3_status *st)
{
	struct s3_call	k;

	if (!object_call(&k, &st, "PUT-TAGGING", "PUT", bucket, key))
		return VIGIL_E_INVAL;
	return put_tagging(c, &k, kv, st);
}

enum vigil_err
s3_get_tagging(struct s3_client *c, const char *bucket, const char *key,
    char ***kvp, struct s3_status *st)
{
	struct s3_call	  k;
	xmlDocPtr	  doc = NULL;
	xmlNodePtr	  root, set, n;
	char		**kv = NULL;
	size_t		  i = 0;
	enum vigil_err	  err;

	*kvp = NULL;
	if (!object_call(&k, &st, "GET-TAGGING", "GET", bucket, key))
		return VIGIL_E_INVAL;
	k.r.query = "tagging=";
	if ((err = xml_request(c, &k.r, "Tagging", "a Tagging document", &doc,
	    &root, st)) != VIGIL_OK)
		goto out;
	set = child(root, "TagSet");
	if ((kv = vg_calloc(2 * count_children(set, "Tag") + 1,
	    sizeof(*kv))) == NULL) {
		err = VIGIL_E_NOMEM;
		goto out;
	}
	for (n = set != NULL ? set->children : NULL; n != NULL; n = n->next) {
		if (!is_elem(n, "Tag"))
			continue;
		/* On failure kv still ends at a NULL, for s3_kv_free(). */
		if ((kv[i] = child_text_or_empty(n, "Key")) == NULL ||
		    (kv[i + 1] = child_text_or_empty(n, "Value")) == NULL) {
			err = VIGIL_E_NOMEM;
			goto out;
		}
		i += 2;
	}
	*kvp = kv;
	kv = NULL;
out:
	if (err == VIGIL_E_NOMEM && st->msg[0] == '\0')
		set_msg(st, k.what, "out of memory");
	s3_kv_free(kv);
	if (doc != NULL)
		xmlFreeDoc(doc);
	return err;
}

enum vigil_err
s3_delete_tagging(struct s3_client *c, const char *bucket, const char *key,
    struct s3_status *st)
{
	struct s3_call	k;
	enum vigil_err	err;

	if (!object_call(&k, &st, "DELETE-TAGGING", "DELETE", bucket, key))
		return VIGIL_E_INVAL;
	k.r.query = "tagging=";
	if ((err = perform_drop(c, &k.r, st)) == VIGIL_OK || st->http != 501)
		return err;
	/* No DeleteObjectTagging here (s3rver): an empty set is the same. */
	return put_tagging(c, &k, NULL, st);
}

enum vigil_err
s3_copy(struct s3_client *c, const char *src_bucket, const char *src_key,
    const char *dst_bucket, const char *dst_key, struct s3_status *st)
{
	struct s3_call	 k;
	struct vg_buf	 h;
	char		 what[256], *sb = NULL, *sk = NULL;
	enum vigil_err	 err;

	/*
	 * The label names both ends: the source as call_init() labels it, cut
	 * to 127 bytes to leave room for the destination.  The request goes
	 * to the destination.
	 */
	call_init(&k, &st, "COPY", "PUT", src_bucket, src_key);
	snprintf(what, sizeof(what), "%.127s to %s/%s", k.what,
	    dst_bucket != NULL ? dst_bucket : "", dst_key != NULL ? dst_key :
	    "");
	safe_copy(what, sizeof(what), what);
	k.r.what = what;
	k.r.bucket = dst_bucket;
	k.r.key = dst_key;
	if (src_key == NULL || dst_key == NULL ||
	    !args_ok(src_bucket, src_key, st, what) ||
	    !args_ok(dst_bucket, dst_key, st, what))
		return VIGIL_E_INVAL;
	vg_buf_init(&h, 64 * 1024);
	if ((sb = s3_uri_encode(src_bucket, 0)) == NULL ||
	    (sk = s3_uri_encode(src_key, 1)) == NULL ||
	    vg_buf_addf(&h, "x-amz-copy-source: /%s/%s", sb, sk) !=
	    VIGIL_OK) {
		set_msg(st, what, "out of memory or key too long");
		err = VIGIL_E_NOMEM;
		goto out;
	}
	k.r.hdrs[0] = h.data;
	k.r.copy = 1;
	err = perform_drop(c, &k.r, st);
out:
	vg_free(sb);
	vg_free(sk);
	vg_buf_free(&h);
	return err;
}

enum vigil_err
s3_delete(struct s3_client *c, const char *bucket, const char *key,
    struct s3_status *st)
{
	struct s3_call	k;

	if (!object_call(&k, &st, "DELETE", "DELETE", bucket, key))
		return VIGIL_E_INVAL;
	return perform_drop(c, &k.r, st);
}

enum vigil_err
s3_put_acl(struct s3_client *c, const char *bucket, const char *key,
    const char *canned, struct s3_status *st)
{
	struct s3_call	 k;
	char		 hdr[96];
	const char	*p;

	if (!object_call(&k, &st, "PUT-ACL", "PUT", bucket, key))
		return VIGIL_E_INVAL;
	for (p = canned; p != NULL && *p != '\0'; p++)
		if (!islower((unsigned char)*p) && *p != '-')
			break;
	if (canned == NULL || *canned == '\0' || *p != '\0' ||
	    strlen(canned) > 64) {
		set_msg(st, k.what, "not a canned ACL name");
		return VIGIL_E_INVAL;
	}
	snprintf(hdr, sizeof(hdr), "x-amz-acl: %s", canned);
	k.r.query = "acl=";
	k.r.hdrs[0] = hdr;
	return perform_drop(c, &k.r, st);
}

#define ALL_USERS	"http://acs.amazonaws.com/groups/global/AllUsers"

enum vigil_err
s3_get_acl_public(struct s3_client *c, const char *bucket, const char *key,
    int *public_read, struct s3_status *st)
{
	struct s3_call	 k;
	xmlDocPtr	 doc;
	xmlNodePtr	 root, list, g, grantee;
	char		*uri, *perm;
	enum vigil_err	 err;

	*public_read = 0;
	if (!object_call(&k, &st, "GET-ACL", "GET", bucket, key))
		return VIGIL_E_INVAL;
	k.r.query = "acl=";
	if ((err = xml_request(c, &k.r, "AccessControlPolicy",
	    "an AccessControlPolicy", &doc, &root, st)) != VIGIL_OK)
		return err;
	list = child(root, "AccessControlList");
	for (g = list != NULL ? list->children : NULL; g != NULL;
	    g = g->next) {
		if (!is_elem(g, "Grant") || (grantee = child(g, "Grantee")) ==
		    NULL)
			continue;
		uri = child_text(grantee, "URI");
		perm = child_text(g, "Permission");
		if (uri != NULL && perm != NULL &&
		    strcmp(uri, ALL_USERS) == 0 &&
		    (strcmp(perm, "READ") == 0 ||
		    strcmp(perm, "FULL_CONTROL") == 0))
			*public_read = 1;
		vg_free(uri);
		vg_free(perm);
	}
	xmlFreeDoc(doc);
	return VIGIL_OK;
}
