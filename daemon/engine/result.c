/*
 * result.c: a scan result in its two wire forms, the JSON line of
 * `vigil scan --json` and the HTTP API, and the clamscan-like text line.
 * Names from archives are untrusted bytes: both forms repair them to valid
 * UTF-8 (U+FFFD for each invalid byte), so every consumer can parse them.
 */
#include <string.h>

#include <jansson.h>

#include "vigil/core.h"
#include "vigil/engine.h"

static json_t *
utf8_string(const char *s)
{
	struct vg_buf	 b;
	json_t		*j;

	vg_buf_init(&b, SIZE_MAX / 2);
	if (vg_buf_add_utf8(&b, s, strlen(s)) != VIGIL_OK) {
		vg_buf_free(&b);
		return NULL;
	}
	j = json_stringn(b.data != NULL ? b.data : "", b.len);
	vg_buf_free(&b);
	return j;
}

static json_t *
path_array(char *const *path, size_t n)
{
	json_t	*a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, utf8_string(path[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

char *
eng_result_json(const struct eng_result *r)
{
	return eng_result_json_ex(r, 0);
}

char *
eng_result_json_ex(const struct eng_result *r, int details)
{
	json_t	*o, *ms, *ps;
	char	*out = NULL, *s;

	o = json_object();
	ms = json_array();
	ps = json_array();
	if (o == NULL || ms == NULL || ps == NULL)
		goto out;
	json_object_set_new(o, "object", utf8_string(r->object));
	json_object_set_new(o, "verdict",
	    json_string(vigil_verdict_name(r->verdict)));
	json_object_set_new(o, "size", json_integer((json_int_t)r->size));
	json_object_set_new(o, "sha256", json_string(r->sha256));
	json_object_set_new(o, "mime", utf8_string(r->mime));
	for (size_t i = 0; i < r->nmatches; i++) {
		const struct eng_match	*m = &r->matches[i];
		json_t			*j = json_object();

		json_object_set_new(j, "rule", utf8_string(m->rule));
		json_object_set_new(j, "clause", json_string(m->clause));
		json_object_set_new(j, "severity",
		    json_string(eng_severity_name(m->severity)));
		json_object_set_new(j, "path", path_array(m->path, m->npath));
		json_object_set_new(j, "offset",
		    json_integer((json_int_t)m->offset));
		json_array_append_new(ms, j);
	}
	for (size_t i = 0; i < r->nproblems; i++) {
		const struct eng_problem	*p = &r->problems[i];
		json_t				*j = json_object();

		json_object_set_new(j, "path", path_array(p->path, p->npath));
		json_object_set_new(j, "reason",
		    json_string(vigil_reason_name(p->reason)));
		if (details && p->detail != NULL)
			json_object_set_new(j, "detail",
			    utf8_string(p->detail));
		json_array_append_new(ps, j);
	}
	json_object_set(o, "matches", ms);
	json_object_set(o, "problems", ps);
	if ((s = json_dumps(o, 0)) != NULL) {
		out = vg_strdup(s);
		free(s);
	}
out:
	json_decref(ms);
	json_decref(ps);
	json_decref(o);
	return out;
}

/* Appends " in a/b/c" for the members below the object, if any. */
static void
add_where(struct vg_buf *b, char *const *path, size_t n)
{
	if (n <= 1)
		return;
	vg_buf_add(b, " in ", 4);
	for (size_t i = 1; i < n; i++) {
		if (i > 1)
			vg_buf_addc(b, '/');
		vg_buf_add_utf8(b, path[i], strlen(path[i]));
	}
}

char *
eng_result_text(const struct eng_result *r)
{
	struct vg_buf	b;

	vg_buf_init(&b, 1 << 20);
	vg_buf_add_utf8(&b, r->object, strlen(r->object));
	vg_buf_addf(&b, ": %s", vigil_verdict_name(r->verdict));
	if (r->verdict == VIGIL_FLAGGED) {
		for (size_t i = 0; i < r->nmatches; i++) {
			const struct eng_match *m = &r->matches[i];

			vg_buf_add(&b, i == 0 ? " " : ", ", i == 0 ? 1 : 2);
			vg_buf_add_utf8(&b, m->rule, strlen(m->rule));
			vg_buf_addf(&b, " (%s, %s)", m->clause,
			    eng_severity_name(m->severity));
			add_where(&b, m->path, m->npath);
		}
	} else if (r->nproblems > 0) {
		vg_buf_add(&b, " (", 2);
		for (size_t i = 0; i < r->nproblems; i++) {
			const struct eng_problem *p = &r->problems[i];

			if (i > 0)
				vg_buf_add(&b, ", ", 2);
			vg_buf_addf(&b, "%s", vigil_reason_name(p->reason));
			add_where(&b, p->path, p->npath);
			if (p->detail != NULL && p->npath == 1) {
				vg_buf_add(&b, ": ", 2);
				vg_buf_add_utf8(&b, p->detail,
				    strlen(p->detail));
			}
		}
		vg_buf_addc(&b, ')');
	}
	return vg_buf_detach(&b, NULL);
}
