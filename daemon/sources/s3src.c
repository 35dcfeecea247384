/*
 * s3src.c: the S3 object source, a bucket in S3-compatible storage (AWS
 * S3, MinIO, Ceph RGW) through the client in s3.c.
 *
 * DESIGN
 * An object is read as an eng_reader: a thread streams one GetObject
 * into a pipe that the scanning thread reads, so the object never sits in
 * memory whole, and pread() issues ranged GETs for formats that seek (a
 * zip's central directory, 7z), instead of the engine spooling them.  A
 * GET that breaks after delivering bytes is resumed from where it broke
 * with a ranged GET (up to the configured retries), then reported as an
 * I/O error naming the status; an object is never judged on a part of
 * it.  Listing is ListObjectsV2 with StartAfter set to the last key seen,
 * which survives a restart where continuation tokens may not.
 *
 * s3_client handles are not shared between threads: a small pool hands
 * one to each reader, pread and listing, and takes it back after.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/config.h"
#include "vigil/core.h"
#include "vigil/engine.h"
#include "vigil/s3.h"
#include "vigil/sources.h"

struct s3src {
	struct s3_config	 cfg;
	char			*endpoint, *region, *ak, *sk, *tok, *ca;
	pthread_mutex_t		 mu;
	struct s3_client	**pool;
	size_t			 npool;
};

struct s3reader {
	struct source_reader	 pub;	/* first: what callers hold */
	struct s3src		*s;
	struct s3_client	*c;	/* the streaming thread's */
	char			*bucket, *key;
	uint64_t		 size;
	int			 rfd, wfd;
	pthread_t		 th;
	int			 running;
	enum vigil_err		 err;	/* the stream's, once it ended */
	char			 msg[320];
	uint64_t		 sent;	/* bytes the stream delivered */
	uint64_t		 ranges;	/* ranged GETs made */
};

static struct s3_client *
client_get(struct s3src *s, char *err, size_t errlen)
{
	struct s3_client	*c = NULL;

	pthread_mutex_lock(&s->mu);
	if (s->npool > 0)
		c = s->pool[--s->npool];
	pthread_mutex_unlock(&s->mu);
	if (c == NULL)
		c = s3_client_new(&s->cfg, err, errlen);
	return c;
}

static void
client_put(struct s3src *s, struct s3_client *c)
{
	struct s3_client	**p;

	if (c == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	if ((p = vg_reallocarray(s->pool, s->npool + 1, sizeof(*p))) != NULL) {
		s->pool = p;
		s->pool[s->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	s3_client_free(c);
}

static enum vigil_err
map_status(enum vigil_err rc)
{
	return rc == VIGIL_E_NOTFOUND || rc == VIGIL_E_PERM ? rc : VIGIL_E_IO;
}

/* Streaming thread ------------------------------------------------------ */

static int
to_pipe(const void *buf, size_t n, void *arg)
{
	struct s3reader	*r = arg;
	const uint8_t	*p = buf;
	ssize_t		 w;

	while (n > 0) {
		if ((w = write(r->wfd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;	/* the reader went away */
		}
		p += w;
		n -= (size_t)w;
		r->sent += (uint64_t)w;
	}
	return 0;
}

static void *
streamer(void *arg)
{
	struct s3reader		*r = arg;
	struct s3_status	 st;
	enum vigil_err		 rc;
	int			 tries = 0;

	for (;;) {
		uint64_t from = r->sent;

		memset(&st, 0, sizeof(st));
		rc = s3_get(r->c, r->bucket, r->key, from, from > 0 ?
		    r->size - from : UINT64_MAX, to_pipe, r, &st);
		if (rc == VIGIL_OK || r->sent == from ||
		    tries++ >= r->s->cfg.retries || r->sent >= r->size)
			break;
		/* Broke mid-object: ask for the rest. */
		vg_log_warnx("s3: %s/%s broke after %llu bytes (%s); resuming",
		    r->bucket, r->key, (unsigned long long)r->sent, st.msg);
	}
	if (rc == VIGIL_OK && r->sent != r->size) {
		rc = VIGIL_E_IO;
		snprintf(st.msg, sizeof(st.msg), "GET %s/%s: %llu of %llu "
		    "bytes", r->bucket, r->key, (unsigned long long)r->sent,
		    (unsigned long long)r->size);
	}
	r->err = rc;
	snprintf(r->msg, sizeof(r->msg), "%s", rc == VIGIL_OK ? "" : st.msg);
	close(r->wfd);
	r->wfd = -1;
	return NULL;
}

/* eng_reader callbacks -------------------------------------------------- */

static ssize_t
rd_read(void *arg, void *buf, size_t n)
{
	struct s3reader	*r = arg;
	ssize_t		 got;

	do
		got = read(r->rfd, buf, n);
	while (got == -1 && errno == EINTR);
	if (got > 0)
		return got;
	if (got == -1) {
		snprintf(r->msg, sizeof(r->msg), "reading %s/%s: %s", r->bucket,
		    r->key, strerror(errno));
		return -1;
	}
	/* The end of the stream: the object's, or the stream's failure. */
	if (r->running) {
		pthread_join(r->th, NULL);
		r->running = 0;
	}
	return r->err == VIGIL_OK ? 0 : -1;
}

struct range {
	uint8_t	*buf;
	size_t	 cap, len;
};

static int
to_buf(const void *p, size_t n, void *arg)
{
	struct range	*rg = arg;

	if (n > rg->cap - rg->len)
		n = rg->cap - rg->len;
	memcpy(rg->buf + rg->len, p, n);
	rg->len += n;
	return 0;
}

static ssize_t
rd_pread(void *arg, void *buf, size_t n, uint64_t off)
{
	struct s3reader		*r = arg;
	struct s3_status	 st;
	struct s3_client	*c;
	struct range		 rg = { buf, n, 0 };
	enum vigil_err		 rc;
	char			 err[256];

	if (off >= r->size || n == 0)
		return 0;
	if (n > r->size - off)
		n = rg.cap = (size_t)(r->size - off);
	if ((c = client_get(r->s, err, sizeof(err))) == NULL) {
		snprintf(r->msg, sizeof(r->msg), "%s", err);
		return -1;
	}
	memset(&st, 0, sizeof(st));
	rc = s3_get(c, r->bucket, r->key, off, n, to_buf, &rg, &st);
	client_put(r->s, c);
	r->ranges++;
	if (rc != VIGIL_OK) {
		snprintf(r->msg, sizeof(r->msg), "%s", st.msg);
		return -1;
	}
	return (ssize_t)rg.len;
}

static const char *
rd_error(void *arg)
{
	return ((struct s3reader *)arg)->msg;
}

/* Backend --------------------------------------------------------------- */

static void
reader_close(struct source_reader *pub)
{
	struct s3reader	*r = (struct s3reader *)pub;

	if (r == NULL)
		return;
	if (r->rfd != -1)
		close(r->rfd);	/* a streamer blocked in write() gets EPIPE */
	if (r->running)
		pthread_join(r->th, NULL);
	if (r->wfd != -1)
		close(r->wfd);
	client_put(r->s, r->c);
	vg_free(r->bucket);
	vg_free(r->key);
	vg_free(r);
}

static enum vigil_err
s3src_reader(void *state, const char *bucket, const char *key,
    struct source_reader **out, struct source_stat *sst)
{
	struct s3src		*s = state;
	struct s3reader		*r;
	struct s3_object_info	 info;
	struct s3_status	 st;
	enum vigil_err		 rc;
	int			 p[2];

	*out = NULL;
	memset(sst, 0, sizeof(*sst));
	if (!source_key_valid(key, strlen(key)))
		return VIGIL_E_INVAL;
	if ((r = vg_calloc(1, sizeof(*r))) == NULL)
		return VIGIL_E_NOMEM;
	r->s = s;
	r->rfd = r->wfd = -1;
	if ((r->bucket = vg_strdup(bucket)) == NULL ||
	    (r->key = vg_strdup(key)) == NULL) {
		reader_close(&r->pub);
		return VIGIL_E_NOMEM;
	}
	if ((r->c = client_get(s, sst->error, sizeof(sst->error))) == NULL) {
		reader_close(&r->pub);
		return VIGIL_E_IO;
	}
	memset(&st, 0, sizeof(st));
	if ((rc = s3_head(r->c, bucket, key, &info, &st)) != VIGIL_OK) {
		snprintf(sst->error, sizeof(sst->error), "%s", st.msg);
		reader_close(&r->pub);
		return map_status(rc);
	}
	sst->size = r->size = info.size;
	sst->mtime = info.mtime;
	snprintf(sst->etag, sizeof(sst->etag), "%s", info.etag);
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(sst->error, sizeof(sst->error), "pipe: %s",
		    strerror(errno));
		reader_close(&r->pub);
		return VIGIL_E_IO;
	}
	r->rfd = p[0];
	r->wfd = p[1];
	if (pthread_create(&r->th, NULL, streamer, r) != 0) {
		snprintf(sst->error, sizeof(sst->error), "cannot start a "
		    "thread");
		reader_close(&r->pub);
		return VIGIL_E_IO;
	}
	r->running = 1;
	r->pub.rd.arg = r;
	r->pub.rd.read = rd_read;
	r->pub.rd.pread = rd_pread;
	r->pub.rd.size = r->size;
	r->pub.rd.error = rd_error;
	r->pub.close = reader_close;
	*out = &r->pub;
	return VIGIL_OK;
}

static enum vigil_err
s3src_list(void *state, const char *bucket, const char *prefix,
    const char *after, const char *token, size_t max,
    struct source_listing *out)
{
	struct s3src		*s = state;
	struct s3_client	*c;
	struct s3_page		 pg;
	struct s3_status	 st;
	enum vigil_err		 rc;
	char			 err[256];

	memset(out, 0, sizeof(*out));
	if (max > 1000)
		max = 1000;
	if ((c = client_get(s, err, sizeof(err))) == NULL) {
		vg_log_warnx("s3: %s", err);
		return VIGIL_E_IO;
	}
	memset(&pg, 0, sizeof(pg));
	memset(&st, 0, sizeof(st));
	/* The continuation token, else (or if refused) the last key. */
	if (token != NULL && *token != '\0') {
		rc = s3_list(c, bucket, prefix && *prefix ? prefix : NULL,
		    token, NULL, max, &pg, &st);
		if (rc != VIGIL_OK && rc != VIGIL_E_NOTFOUND &&
		    rc != VIGIL_E_PERM) {
			vg_log_warnx("s3: listing %s with a continuation token: "
			    "%s; going on after the last key", bucket, st.msg);
			s3_page_free(&pg);
			memset(&pg, 0, sizeof(pg));
			token = NULL;
		}
	}
	if (token == NULL || *token == '\0')
		rc = s3_list(c, bucket, prefix && *prefix ? prefix : NULL,
		    NULL, after && *after ? after : NULL, max, &pg, &st);
	client_put(s, c);
	if (rc != VIGIL_OK) {
		vg_log_warnx("s3: listing %s: %s", bucket, st.msg);
		s3_page_free(&pg);
		return rc == VIGIL_E_NOTFOUND ? rc : VIGIL_E_IO;
	}
	if (pg.n > 0 && ((out->keys = vg_calloc(pg.n, sizeof(char *))) ==
	    NULL || (out->sizes = vg_calloc(pg.n, sizeof(uint64_t))) == NULL ||
	    (out->mtimes = vg_calloc(pg.n, sizeof(double))) == NULL ||
	    (out->etags = vg_calloc(pg.n, sizeof(char *))) == NULL)) {
		source_listing_free(out);
		s3_page_free(&pg);
		return VIGIL_E_NOMEM;
	}
	for (size_t i = 0; i < pg.n; i++) {
		out->keys[i] = pg.entries[i].key;
		pg.entries[i].key = NULL;
		out->sizes[i] = pg.entries[i].size;
		out->mtimes[i] = pg.entries[i].mtime;
		out->etags[i] = vg_strdup(pg.entries[i].etag);
		out->nkeys++;
	}
	out->more = pg.next_token != NULL;
	out->token = pg.next_token;
	pg.next_token = NULL;
	s3_page_free(&pg);
	return VIGIL_OK;
}

/* The tags as one memo line: key=value pairs, tab-separated. */
static char *
tags_memo(char **kv)
{
	size_t	n = 1;
	char	*m;

	for (size_t i = 0; kv != NULL && kv[i] != NULL; i++)
		n += strlen(kv[i]) + 1;
	if ((m = vg_malloc(n)) == NULL)
		return NULL;
	*m = '\0';
	for (size_t i = 0; kv != NULL && kv[i] != NULL; i += 2) {
		strcat(m, kv[i]);
		strcat(m, "=");
		strcat(m, kv[i + 1] != NULL ? kv[i + 1] : "");
		strcat(m, "\t");
	}
	return m;
}

/*
 * Quarantine: tag = PutObjectTagging adding vigil-verdict=flagged to the
 * object's tags (the memo keeps the old ones), move = CopyObject to the
 * quarantine bucket then DeleteObject, private = canned ACL private (the
 * memo says whether AllUsers could read).  Undo puts things back.
 */
static enum vigil_err
s3src_action(void *state, const char *bucket, const char *key,
    unsigned action, int undo, const char *qbucket, const char *memo_in,
    char **memo, char *err, size_t errlen)
{
	struct s3src		*s = state;
	struct s3_client	*c;
	struct s3_status	 st;
	enum vigil_err		 rc = VIGIL_OK;
	char			**old = NULL;
	const char		*kv[66];
	char			*dup = NULL, *p, *tab, *eq;
	size_t			 n = 0;
	int			 pub = 0;

	*memo = NULL;
	if ((c = client_get(s, err, errlen)) == NULL)
		return VIGIL_E_IO;
	memset(&st, 0, sizeof(st));
	switch (action) {
	case VG_Q_TAG:
		if (!undo) {
			if ((rc = s3_get_tagging(c, bucket, key, &old, &st)) !=
			    VIGIL_OK)
				break;
			*memo = tags_memo(old);
			for (size_t i = 0; old != NULL && old[i] != NULL &&
			    n < 60; i += 2)
				if (strcmp(old[i], "vigil-verdict") != 0) {
					kv[n++] = old[i];
					kv[n++] = old[i + 1];
				}
			kv[n++] = "vigil-verdict";
			kv[n++] = "flagged";
			kv[n] = NULL;
			rc = s3_put_tagging(c, bucket, key, kv, &st);
			break;
		}
		if (memo_in == NULL || *memo_in == '\0') {
			rc = s3_delete_tagging(c, bucket, key, &st);
			break;
		}
		if ((dup = vg_strdup(memo_in)) == NULL) {
			rc = VIGIL_E_NOMEM;
			break;
		}
		for (p = dup; *p != '\0' && n < 60; p = tab + 1) {
			if ((tab = strchr(p, '\t')) == NULL)
				break;
			*tab = '\0';
			if ((eq = strchr(p, '=')) == NULL)
				continue;
			*eq = '\0';
			kv[n++] = p;
			kv[n++] = eq + 1;
		}
		kv[n] = NULL;
		rc = s3_put_tagging(c, bucket, key, kv, &st);
		break;
	case VG_Q_MOVE: {
		const char *from = undo ? qbucket : bucket;
		const char *to = undo ? bucket : qbucket;

		if ((rc = s3_copy(c, from, key, to, key, &st)) == VIGIL_OK)
			rc = s3_delete(c, from, key, &st);
		break;
	}
	case VG_Q_PRIVATE:
		if (!undo) {
			if ((rc = s3_get_acl_public(c, bucket, key, &pub,
			    &st)) != VIGIL_OK)
				break;
			*memo = vg_strdup(pub ? "public-read" : "private");
			rc = s3_put_acl(c, bucket, key, "private", &st);
		} else if (memo_in != NULL &&
		    strcmp(memo_in, "public-read") == 0)
			rc = s3_put_acl(c, bucket, key, "public-read", &st);
		break;
	default:
		rc = VIGIL_E_UNSUPPORTED;
	}
	client_put(s, c);
	s3_kv_free(old);
	vg_free(dup);
	if (rc != VIGIL_OK) {
		snprintf(err, errlen, "%s", st.msg[0] ? st.msg :
		    vigil_strerror(rc));
		vg_free(*memo);
		*memo = NULL;
	}
	return rc;
}

/* Not used: S3 objects are read through s3src_reader(). */
static enum vigil_err
s3src_object(void *state, const char *bucket, const char *key, int *fd,
    struct source_stat *st)
{
	(void)state;
	(void)bucket;
	(void)key;
	(void)st;
	*fd = -1;
	return VIGIL_E_UNSUPPORTED;
}

static void
s3src_close(void *state)
{
	struct s3src	*s = state;

	if (s == NULL)
		return;
	for (size_t i = 0; i < s->npool; i++)
		s3_client_free(s->pool[i]);
	vg_free(s->pool);
	pthread_mutex_destroy(&s->mu);
	vg_free(s->endpoint);
	vg_free(s->region);
	vg_free(s->ak);
	vg_free(s->sk);
	vg_free(s->tok);
	vg_free(s->ca);
	vg_free(s);
}

static char *
dup_or_null(const char *v)
{
	return v != NULL && *v != '\0' ? vg_strdup(v) : NULL;
}

enum vigil_err
source_s3_open(const struct vg_bucket *b, void **state, char *err,
    size_t errlen)
{
	struct s3src		*s;
	struct s3_client	*c;

	*state = NULL;
	if ((s = vg_calloc(1, sizeof(*s))) == NULL)
		return VIGIL_E_NOMEM;
	pthread_mutex_init(&s->mu, NULL);
	s3_config_default(&s->cfg);
	s->endpoint = dup_or_null(b->endpoint);
	s->region = dup_or_null(b->region);
	s->ak = dup_or_null(b->access_key);
	s->sk = dup_or_null(b->secret_key);
	s->tok = dup_or_null(b->session_token);
	s->ca = dup_or_null(b->ca_file);
	s->cfg.endpoint = s->endpoint;
	s->cfg.region = s->region;
	s->cfg.path_style = strcmp(b->addressing, "virtual") != 0;
	s->cfg.access_key = s->ak;
	s->cfg.secret_key = s->sk;
	s->cfg.session_token = s->tok;
	s->cfg.verify_tls = b->verify_tls;
	s->cfg.ca_file = s->ca;
	/* A client now: a bad endpoint or missing credentials show at start. */
	if ((c = s3_client_new(&s->cfg, err, errlen)) == NULL) {
		s3src_close(s);
		return VIGIL_E_INVAL;
	}
	client_put(s, c);
	*state = s;
	return VIGIL_OK;
}

const struct source_backend source_s3 = {
	.name = "s3",
	.object = s3src_object,
	.reader = s3src_reader,
	.list = s3src_list,
	.action = s3src_action,
	.close = s3src_close,
};
