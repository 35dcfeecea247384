/*
 * event.c: S3 event notifications from AWS, MinIO and Ceph RGW.
 *
 * DESIGN
 * The three speak nearly the same JSON and differ where it hurts, in the
 * object key:
 *
 *   AWS     {"Records":[...]}, eventName "ObjectCreated:Put", key
 *           form-encoded: '+' is a space, %XX a byte.
 *   MinIO   {"EventName":"s3:ObjectCreated:Put","Key":"bucket/key",
 *           "Records":[...]}, eventSource "minio:s3", record key
 *           query-escaped ('/' as %2F, space as '+'); the envelope Key is
 *           already decoded and wins when there is one record.
 *   Ceph    eventSource "ceph:s3", keys not encoded at all, object.size
 *           sometimes a string.
 *
 * So each record names its flavor and its key is decoded that way; a key
 * that does not decode, or decodes to something source_key_valid()
 * refuses, fails the whole body so the sender sees the error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vigil/core.h"
#include "vigil/sources.h"

enum vigil_err
source_event_decode_key(enum source_flavor flavor, const char *in,
    char **out)
{
	size_t	n = strlen(in), j = 0;
	char	*s;
	int	 hi, lo;

	*out = NULL;
	if ((s = vg_malloc(n + 1)) == NULL)
		return VIGIL_E_NOMEM;
	if (flavor == SOURCE_CEPH) {
		memcpy(s, in, n + 1);
		*out = s;
		return VIGIL_OK;
	}
	/* AWS form encoding and Go's url.QueryEscape decode alike. */
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '+')
			s[j++] = ' ';
		else if (in[i] == '%') {
			if (i + 2 >= n)
				goto bad;
			if ((hi = vg_hexval((unsigned char)in[i + 1])) < 0 ||
			    (lo = vg_hexval((unsigned char)in[i + 2])) < 0 ||
			    (hi == 0 && lo == 0))
				goto bad;
			s[j++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			s[j++] = in[i];
	}
	s[j] = '\0';
	*out = s;
	return VIGIL_OK;
bad:
	vg_free(s);
	return VIGIL_E_SYNTAX;
}

static const char *
str_at(json_t *o, const char *path)
{
	char		 part[64];
	const char	*dot;
	json_t		*v = o;

	while (v != NULL && *path != '\0') {
		dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		v = json_is_object(v) ? json_object_get(v, part) : NULL;
		path += n + (dot ? 1 : 0);
	}
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static char *
dup_or_empty(const char *s)
{
	return vg_strdup(s != NULL ? s : "");
}

static void
event_clear(struct source_event *e)
{
	vg_free(e->name);
	vg_free(e->bucket);
	vg_free(e->key);
	vg_free(e->etag);
	vg_free(e->version_id);
	vg_free(e->sequencer);
	vg_free(e->owner);
	vg_free(e->uploader);
}

void
source_events_free(struct source_events *evs)
{
	if (evs == NULL)
		return;
	for (size_t i = 0; i < evs->n; i++)
		event_clear(&evs->ev[i]);
	vg_free(evs->ev);
	vg_free(evs);
}

static enum vigil_err
parse_record(json_t *rec, const char *envkey, struct source_event *e,
    char *err, size_t errlen)
{
	const char	*name, *src, *bucket, *key, *etag;
	json_t		*size;
	enum vigil_err	 rc;

	name = str_at(rec, "eventName");
	src = str_at(rec, "eventSource");
	bucket = str_at(rec, "s3.bucket.name");
	key = str_at(rec, "s3.object.key");
	if (name == NULL || bucket == NULL || key == NULL) {
		snprintf(err, errlen, "a record lacks eventName, "
		    "s3.bucket.name or s3.object.key");
		return VIGIL_E_SYNTAX;
	}
	if (src != NULL && strcmp(src, "ceph:s3") == 0)
		e->flavor = SOURCE_CEPH;
	else if ((src != NULL && strcmp(src, "minio:s3") == 0) ||
	    envkey != NULL)
		e->flavor = SOURCE_MINIO;
	else
		e->flavor = SOURCE_AWS;
	if (strncmp(name, "s3:", 3) == 0)
		name += 3;
	if (strncmp(name, "ObjectCreated:", 14) == 0)
		e->kind = SOURCE_EV_CREATED;
	else if (strncmp(name, "ObjectRemoved:", 14) == 0)
		e->kind = SOURCE_EV_REMOVED;
	if ((e->name = vg_strdup(name)) == NULL ||
	    (e->bucket = vg_strdup(bucket)) == NULL)
		return VIGIL_E_NOMEM;
	if (envkey != NULL && strncmp(envkey, bucket, strlen(bucket)) == 0 &&
	    envkey[strlen(bucket)] == '/')
		rc = (e->key = vg_strdup(envkey + strlen(bucket) + 1)) ?
		    VIGIL_OK : VIGIL_E_NOMEM;
	else
		rc = source_event_decode_key(e->flavor, key, &e->key);
	if (rc == VIGIL_E_SYNTAX || (rc == VIGIL_OK &&
	    (!source_key_valid(e->key, strlen(e->key)) ||
	    !source_bucket_valid(bucket)))) {
		snprintf(err, errlen, "refused bucket or object key in "
		    "bucket '%.100s'", bucket);
		return VIGIL_E_SYNTAX;
	}
	if (rc != VIGIL_OK)
		return rc;
	etag = str_at(rec, "s3.object.eTag");
	if (etag == NULL)
		etag = str_at(rec, "s3.object.etag");
	if ((e->etag = dup_or_empty(etag)) == NULL ||
	    (e->version_id = dup_or_empty(str_at(rec,
	    "s3.object.versionId"))) == NULL ||
	    (e->sequencer = dup_or_empty(str_at(rec,
	    "s3.object.sequencer"))) == NULL ||
	    (e->owner = dup_or_empty(str_at(rec,
	    "s3.bucket.ownerIdentity.principalId"))) == NULL ||
	    (e->uploader = dup_or_empty(str_at(rec,
	    "userIdentity.principalId"))) == NULL)
		return VIGIL_E_NOMEM;
	size = json_object_get(json_object_get(json_object_get(rec, "s3"),
	    "object"), "size");
	if (json_is_integer(size) && json_integer_value(size) >= 0)
		e->size = (uint64_t)json_integer_value(size);
	else if (json_is_string(size)) {
		char *end;

		errno = 0;
		e->size = strtoull(json_string_value(size), &end, 10);
		if (*end != '\0' || errno != 0)
			e->size = 0;
	}
	return VIGIL_OK;
}

enum vigil_err
source_event_parse(const char *body, size_t len, struct source_events **out,
    char *err, size_t errlen)
{
	struct source_events	*evs = NULL;
	json_t			*root, *recs;
	json_error_t		 jerr;
	const char		*ev, *envkey;
	enum vigil_err		 rc = VIGIL_OK;
	size_t			 n;

	*out = NULL;
	if ((root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		snprintf(err, errlen, "bad JSON at line %d: %s", jerr.line,
		    jerr.text);
		return VIGIL_E_SYNTAX;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object");
		rc = VIGIL_E_SYNTAX;
		goto out;
	}
	if ((evs = vg_calloc(1, sizeof(*evs))) == NULL) {
		rc = VIGIL_E_NOMEM;
		goto out;
	}
	ev = str_at(root, "Event");
	if (ev != NULL && strcmp(ev, "s3:TestEvent") == 0) {
		evs->test = 1;
		goto out;
	}
	recs = json_object_get(root, "Records");
	if (!json_is_array(recs)) {
		snprintf(err, errlen, "no Records array");
		rc = VIGIL_E_SYNTAX;
		goto out;
	}
	n = json_array_size(recs);
	envkey = n == 1 ? str_at(root, "Key") : NULL;
	if (n > 0 && (evs->ev = vg_calloc(n, sizeof(*evs->ev))) == NULL) {
		rc = VIGIL_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && rc == VIGIL_OK; i++) {
		rc = parse_record(json_array_get(recs, i), envkey, &evs->ev[i],
		    err, errlen);
		evs->n++;
	}
out:
	json_decref(root);
	if (rc != VIGIL_OK) {
		source_events_free(evs);
		return rc;
	}
	*out = evs;
	return VIGIL_OK;
}

char *
source_event_dedup(const struct source_event *e)
{
	struct vg_buf	b;

	vg_buf_init(&b, 4096);
	if (*e->version_id != '\0')
		(void)vg_buf_addf(&b, "v:%s", e->version_id);
	else
		(void)vg_buf_addf(&b, "e:%s", e->etag);
	if (vg_buf_addf(&b, "|s:%s", e->sequencer) != VIGIL_OK) {
		vg_buf_free(&b);
		return NULL;
	}
	return vg_buf_detach(&b, NULL);
}
