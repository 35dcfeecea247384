/*
 * scan.c: one job, one top-level object: classify each unit (the object and
 * every member below it), match it, unpack it if it is a container, and
 * build the result.
 *
 * DESIGN
 * A unit is scanned in one pass over its bytes.  Its first few KiB are
 * read ahead and classified with libmagic; that decides whether the unit is
 * a plain stream (fed to the matcher chunk by chunk) or a container (handed
 * to unpack.c, which feeds the container's own bytes to the same matcher as
 * they go past, and opens a unit one level deeper for every member).
 * Limits are counted in one place, scan_account(): bytes and time stop the
 * whole job, the depth limit stops one branch, and every limit hit becomes
 * a problem naming the path where it happened.  Nothing hit by a limit is
 * ever reported clean.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/core.h"
#include "ruleset_int.h"
#include "scan_int.h"
#include "text_int.h"
#include "pdf_int.h"

struct eng_scanner {
	struct classifier	*cls;
	struct match_ctx	*mctx;
	uint8_t			*bufs[ENG_MAX_DEPTH + 1];
	struct pdf_helper	*pdf;		/* pdfproc.c's, or NULL */
	struct vg_buf		 keep;		/* text.c's, while !keep_busy */
	int			 keep_busy;
};

struct pdf_helper **
scan_pdf_helper(struct job *job)
{
	return &job->sc->pdf;
}

struct vg_buf *
scan_keep_take(struct job *job, size_t max)
{
	struct eng_scanner *sc = job->sc;

	if (sc->keep_busy)
		return NULL;
	sc->keep_busy = 1;
	vg_buf_reset(&sc->keep);
	sc->keep.max = max;
	return &sc->keep;
}

void
scan_keep_give(struct job *job, struct vg_buf *b)
{
	if (b == &job->sc->keep)
		job->sc->keep_busy = 0;
}

enum vigil_err
eng_scanner_new(struct eng_scanner **out)
{
	struct eng_scanner	*sc;
	enum vigil_err		 err;

	if ((sc = vg_calloc(1, sizeof(*sc))) == NULL)
		return VIGIL_E_NOMEM;
	if ((err = classify_new(&sc->cls)) != VIGIL_OK ||
	    (err = match_ctx_new(&sc->mctx)) != VIGIL_OK) {
		eng_scanner_free(sc);
		return err;
	}
	*out = sc;
	return VIGIL_OK;
}

void
eng_scanner_free(struct eng_scanner *sc)
{
	if (sc == NULL)
		return;
	classify_free(sc->cls);
	match_ctx_free(sc->mctx);
	pdfproc_free(sc->pdf);
	vg_buf_free(&sc->keep);
	for (unsigned i = 0; i <= ENG_MAX_DEPTH; i++)
		vg_free(sc->bufs[i]);
	vg_free(sc);
}

/* Results ------------------------------------------------------------- */

static char **
copy_path(struct job *job, unsigned depth, size_t *np)
{
	char	**p;
	size_t	  n = 0;

	if ((p = vg_calloc(depth + 1, sizeof(*p))) == NULL)
		return NULL;
	for (unsigned i = 0; i <= depth; i++) {
		if (i > 0 && job->hide[i])
			continue;
		if ((p[n++] = vg_strdup(job->path[i] ? job->path[i] : "")) ==
		    NULL) {
			for (size_t j = 0; j + 1 < n; j++)
				vg_free(p[j]);
			vg_free(p);
			return NULL;
		}
	}
	*np = n;
	return p;
}

static void
free_path(char **p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vg_free(p[i]);
	vg_free(p);
}

void
scan_problem(struct job *job, unsigned depth, enum vigil_reason reason,
    const char *detail)
{
	struct eng_result	*r = job->res;
	struct eng_problem	*p;

	if (r->nproblems == SCAN_MAX_PROBLEMS)
		return;
	/* One problem per (path, reason): a damaged member says it once. */
	for (size_t i = 0; i < r->nproblems; i++) {
		const struct eng_problem *q = &r->problems[i];

		if (q->reason == reason && strcmp(q->path[q->npath - 1],
		    job->path[depth] ? job->path[depth] : "") == 0)
			return;
	}
	if ((p = vg_reallocarray(r->problems, r->nproblems + 1,
	    sizeof(*p))) == NULL) {
		job->err = VIGIL_E_NOMEM;
		return;
	}
	r->problems = p;
	p = &r->problems[r->nproblems];
	memset(p, 0, sizeof(*p));
	p->reason = reason;
	if ((p->path = copy_path(job, depth, &p->npath)) == NULL) {
		job->err = VIGIL_E_NOMEM;
		return;
	}
	if (detail != NULL)
		p->detail = vg_strdup(detail);
	r->nproblems++;
}

struct report_arg {
	struct job	*job;
	unsigned	 depth;
	uint64_t	 base;		/* text layer: offset of its start */
};

static void
on_rule(void *arg, unsigned ri, uint64_t offset)
{
	struct report_arg	*ra = arg;
	struct job		*job = ra->job;
	struct eng_result	*r = job->res;
	const struct rs_rule	*rule = &job->rs->rules[ri];
	struct eng_match	*m;

	char			**path;
	size_t			  npath;

	if (r->nmatches == SCAN_MAX_MATCHES)
		return;
	offset += ra->base;
	if ((path = copy_path(job, ra->depth, &npath)) == NULL) {
		job->err = VIGIL_E_NOMEM;
		return;
	}
	/*
	 * A container's raw bytes hold its stored members' bytes: when the
	 * rule already held in a member below, that member is the news.
	 */
	for (size_t i = 0; i < r->nmatches; i++) {
		const struct eng_match *o = &r->matches[i];
		size_t k;

		if (o->npath <= npath || strcmp(o->rule, rule->name) != 0)
			continue;
		for (k = 0; k < npath && strcmp(o->path[k], path[k]) == 0; k++)
			;
		if (k == npath) {
			free_path(path, npath);
			return;
		}
	}
	if ((m = vg_reallocarray(r->matches, r->nmatches + 1,
	    sizeof(*m))) == NULL) {
		free_path(path, npath);
		job->err = VIGIL_E_NOMEM;
		return;
	}
	r->matches = m;
	m = &r->matches[r->nmatches];
	memset(m, 0, sizeof(*m));
	m->clause = eng_clauses[rule->clause];
	m->severity = rule->severity;
	m->offset = offset;
	m->path = path;
	m->npath = npath;
	if ((m->rule = vg_strdup(rule->name)) == NULL) {
		free_path(path, npath);
		job->err = VIGIL_E_NOMEM;
		return;
	}
	{
		const uint8_t	*xb;
		size_t		 xl, xm, xml;

		if (match_ctx_excerpt(job->sc_match, &xb, &xl, &xm, &xml) &&
		    (m->excerpt = vg_malloc(xl > 0 ? xl : 1)) != NULL) {
			memcpy(m->excerpt, xb, xl);
			m->excerpt_len = xl;
			m->excerpt_mark = xm;
			m->excerpt_marklen = xml;
		}
	}
	r->nmatches++;
}

/*
 * A rule that held in a unit's text layer: reported as [..., "#text"],
 * unless it already held in the unit's raw bytes.
 */
static void
on_text_rule(void *arg, unsigned ri, uint64_t offset)
{
	struct report_arg	*ra = arg;
	struct job		*job = ra->job;
	struct eng_result	*r = job->res;
	const char		*name = job->rs->rules[ri].name;
	struct report_arg	 ta = *ra;
	size_t			 npath = 0;

	for (unsigned i = 0; i <= ra->depth; i++)
		npath += i == 0 || !job->hide[i];
	for (size_t i = 0; i < r->nmatches; i++)
		if (r->matches[i].npath == npath &&
		    strcmp(r->matches[i].rule, name) == 0 &&
		    strcmp(r->matches[i].path[npath - 1],
		    job->path[ra->depth]) == 0)
			return;
	job->path[ra->depth + 1] = "#text";
	job->hide[ra->depth + 1] = 0;
	ta.depth = ra->depth + 1;
	on_rule(&ta, ri, offset);
	job->path[ra->depth + 1] = NULL;
}

enum vigil_err
scan_text_end(struct job *job, unsigned depth, struct tl *tl,
    const char *mime)
{
	struct report_arg	ta = { job, depth, 0 };
	enum vigil_err		err;

	if (tl == NULL)
		return VIGIL_OK;
	ta.base = tl_base(tl);
	err = tl_end(tl, mime, on_text_rule, &ta);
	tl_free(tl);
	return err;
}

/* Sources and limits -------------------------------------------------- */

int
scan_account(struct job *job, size_t n)
{
	if (job->stop)
		return 0;
	job->bytes += n;
	if (job->bytes > job->lim->max_bytes) {
		scan_problem(job, job->depth, VIGIL_R_LIMIT_BYTES, NULL);
		job->stop = 1;
		return 0;
	}
	if (vg_now() > job->deadline) {
		scan_problem(job, job->depth, VIGIL_R_LIMIT_TIME, NULL);
		job->stop = 1;
		return 0;
	}
	return 1;
}

int
scan_wait_readable(const struct job *job, int fd)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	double		left;
	int		r;

	while ((left = job->deadline - vg_now()) > 0) {
		r = poll(&pfd, 1, left > 3600 ? 3600000 : (int)(left * 1000) +
		    1);
		if (r > 0 || (r == -1 && errno != EINTR))
			return 1;	/* an error: let read() report it */
	}
	return 0;
}

/* Waits for a pipe or socket to become readable until the job's deadline. */
static int
fd_wait(struct src *s)
{
	struct job	*job = s->job;

	if (scan_wait_readable(job, s->fd))
		return 1;
	s->timed_out = 1;
	if (!job->stop) {
		scan_problem(job, job->depth, VIGIL_R_LIMIT_TIME, NULL);
		job->stop = 1;
	}
	return 0;
}

static ssize_t
fd_read(struct src *s, void *buf, size_t n)
{
	ssize_t	r;

	if (s->eof || s->failed || s->timed_out)
		return 0;
	if (!s->seekable && !fd_wait(s))
		return 0;
	do
		r = read(s->fd, buf, n);
	while (r == -1 && errno == EINTR);
	if (r < 0) {
		s->failed = 1;
		scan_problem(s->job, 0, VIGIL_R_IO, strerror(errno));
		return -1;
	}
	if (r == 0)
		s->eof = 1;
	if (r > 0 && s->hash && s->job->sha != NULL)
		EVP_DigestUpdate(s->job->sha, buf, (size_t)r);
	s->pos += r;
	return r;
}

/* The top level from an eng_reader. */
static ssize_t
reader_read(struct src *s, void *buf, size_t n)
{
	const struct eng_reader	*rd = s->rd;
	ssize_t			 r;

	if (s->eof || s->failed)
		return 0;
	if (s->job->deadline > 0 && vg_now() > s->job->deadline) {
		if (!s->job->stop) {
			scan_problem(s->job, s->job->depth,
			    VIGIL_R_LIMIT_TIME, NULL);
			s->job->stop = 1;
		}
		return 0;
	}
	if ((r = rd->read(rd->arg, buf, n)) < 0) {
		s->failed = 1;
		scan_problem(s->job, 0, VIGIL_R_IO, rd->error != NULL ?
		    rd->error(rd->arg) : "read failed");
		return -1;
	}
	if (r == 0)
		s->eof = 1;
	if (r > 0 && s->hash && s->job->sha != NULL)
		EVP_DigestUpdate(s->job->sha, buf, (size_t)r);
	s->pos += r;
	return r;
}

/* Reads until n bytes or the end; -1 only if nothing could be read. */
ssize_t
src_read_full(struct src *s, void *buf, size_t n)
{
	size_t	got = 0;
	ssize_t	r;

	while (got < n) {
		r = s->read(s, (uint8_t *)buf + got, n - got);
		if (r <= 0) {
			if (r < 0 && got == 0)
				return -1;
			break;
		}
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * Sources for extracted units (pdf.c, mail.c): bytes in memory, a memfd,
 * and a spool that copies a unit into a memfd while raw-matching it.
 */
static ssize_t
mem_read(struct src *s, void *buf, size_t n)
{
	if (s->eof || s->job->stop)
		return 0;
	if (n > s->blklen)
		n = s->blklen;
	if (n == 0) {
		s->eof = 1;
		return 0;
	}
	memcpy(buf, s->blk, n);
	s->blk += n;
	s->blklen -= n;
	s->pos += (int64_t)n;
	return (ssize_t)n;
}

void
src_init_mem(struct src *s, struct job *job, const void *p, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->read = mem_read;
	s->job = job;
	s->fd = -1;
	s->blk = p;
	s->blklen = n;
}

void
src_init_fd(struct src *s, struct job *job, int fd)
{
	memset(s, 0, sizeof(*s));
	s->read = fd_read;
	s->job = job;
	s->fd = fd;
	s->seekable = 1;
}

int
scan_spool(struct job *job, struct src *src, unsigned depth,
    const uint8_t *peek, size_t npeek, struct match_unit *unit,
    uint8_t *buf)
{
	ssize_t	n;
	int	fd;

	if ((fd = memfd_create("vigil-doc", MFD_CLOEXEC)) == -1) {
		scan_problem(job, depth, VIGIL_R_IO, strerror(errno));
		return -1;
	}
	if (!scan_account(job, npeek))
		return fd;
	if (match_feed(unit, peek, npeek) != VIGIL_OK)
		goto engine;
	if (npeek > 0 && write(fd, peek, npeek) != (ssize_t)npeek)
		goto fail;
	while (!job->stop && (n = src->read(src, buf, SCAN_CHUNK)) > 0) {
		if (!scan_account(job, (size_t)n))
			break;
		if (match_feed(unit, buf, (size_t)n) != VIGIL_OK)
			goto engine;
		if (write(fd, buf, (size_t)n) != n)
			goto fail;
	}
	return fd;
engine:
	scan_problem(job, depth, VIGIL_R_IO, "pattern engine failure");
	close(fd);
	return -1;
fail:
	scan_problem(job, depth, VIGIL_R_IO, strerror(errno));
	close(fd);
	return -1;
}

int
scan_map(struct job *job, unsigned depth, int fd, uint8_t **map, size_t *len)
{
	off_t	end;
	void	*p;

	if ((end = lseek(fd, 0, SEEK_END)) <= 0)
		return 0;
	if ((p = mmap(NULL, (size_t)end, PROT_READ, MAP_PRIVATE, fd, 0)) ==
	    MAP_FAILED) {
		scan_problem(job, depth, VIGIL_R_IO, strerror(errno));
		return -1;
	}
	*map = p;
	*len = (size_t)end;
	return 1;
}

static uint8_t *
unit_buffer(struct job *job, unsigned depth)
{
	struct eng_scanner *sc = job->sc;

	if (sc->bufs[depth] == NULL)
		sc->bufs[depth] = vg_malloc(SCAN_PEEK + SCAN_CHUNK);
	return sc->bufs[depth];
}

/* Units --------------------------------------------------------------- */

enum vigil_err
scan_unit(struct job *job, struct src *src, unsigned depth)
{
	struct match_unit	*u;
	struct tl		*tl = NULL;
	struct report_arg	 ra = { job, depth, 0 };
	enum unpack_kind	 kind;
	uint8_t			*buf;
	char			 mime[128];
	ssize_t			 n, r;
	enum vigil_err		 err;

	if (depth > ENG_MAX_DEPTH || (buf = unit_buffer(job, depth)) == NULL)
		return VIGIL_E_NOMEM;
	job->depth = depth;
	n = src_read_full(src, buf, SCAN_PEEK);
	if (n < 0)
		n = 0;
	classify_buffer(job->sc->cls, buf, (size_t)n, mime, sizeof(mime));
	/* Issue 3: a header block that names a message is one (mail.c). */
	if (strcmp(mime, "text/plain") == 0 && mail_sniff(buf, (size_t)n))
		snprintf(mime, sizeof(mime), "message/rfc822");
	if (depth == 0)
		snprintf(job->res->mime, sizeof(job->res->mime), "%s", mime);
	if ((err = match_begin(job->sc->mctx, RAW_SLOT(depth), &u)) !=
	    VIGIL_OK)
		return err;

	kind = unpack_kind(mime, buf, (size_t)n);
	/* tar inside gzip: one layer to the reader, two to us. */
	job->hide[depth] = src->decompressed && kind == UNPACK_STREAM;
	if (kind != UNPACK_NONE && depth >= job->lim->max_depth) {
		scan_problem(job, depth, VIGIL_R_LIMIT_DEPTH, NULL);
		kind = UNPACK_NONE;
	}
	if (kind == UNPACK_NONE && depth < ENG_MAX_DEPTH &&
	    (err = tl_begin(job, depth, mime, buf, (size_t)n, &tl)) !=
	    VIGIL_OK)
		return err;
	if (kind != UNPACK_NONE) {
		err = unpack_container(job, src, depth, kind, mime, buf,
		    (size_t)n, u);
		job->depth = depth;
	} else if (strcmp(mime, "application/pdf") == 0) {
		/* Issue 3: text as a reader sees it (pdf.c, mail.c). */
		err = pdf_scan(job, src, depth, buf, (size_t)n, u, &tl);
		job->depth = depth;
	} else if (strcmp(mime, "message/rfc822") == 0) {
		err = mail_scan(job, src, depth, buf, (size_t)n, u, &tl);
		job->depth = depth;
	} else if (scan_account(job, (size_t)n)) {
		err = match_feed(u, buf, (size_t)n);
		if (err == VIGIL_OK)
			err = tl_feed(tl, buf, (size_t)n);
		while (err == VIGIL_OK && !job->stop &&
		    (r = src->read(src, buf, SCAN_CHUNK)) > 0) {
			if (!scan_account(job, (size_t)r))
				break;
			err = match_feed(u, buf, (size_t)r);
			if (err == VIGIL_OK)
				err = tl_feed(tl, buf, (size_t)r);
		}
	}
	if (err == VIGIL_E_ENGINE) {
		scan_problem(job, depth, VIGIL_R_IO, "pattern engine failure");
		err = VIGIL_OK;
	}
	if (err == VIGIL_OK)
		err = match_end(u, mime, on_rule, &ra);
	else
		(void)match_end(u, mime, on_rule, &ra);
	/*
	 * A text layer that never started equals the raw bytes, but for
	 * delta characters no string can tell: rules kept to the text layer
	 * are answered from the raw unit.
	 */
	if (err == VIGIL_OK)
		err = tl_settle(tl);
	if (err == VIGIL_OK && tl_lazy(tl))
		match_eval_layer(u, mime, LAYER_TEXT, tl_lazy_size(tl,
		    match_unit_bytes(u)), on_text_rule, &ra);
	if (err == VIGIL_OK)
		err = scan_text_end(job, depth, tl, mime);
	else
		tl_free(tl);
	job->res->members += depth > 0;
	return err != VIGIL_OK ? err : job->err;
}

/* Jobs ---------------------------------------------------------------- */

static enum vigil_err
result_new(const char *name, struct eng_result **out)
{
	struct eng_result	*r;

	if ((r = vg_calloc(1, sizeof(*r))) == NULL)
		return VIGIL_E_NOMEM;
	if ((r->object = vg_strdup(name)) == NULL) {
		vg_free(r);
		return VIGIL_E_NOMEM;
	}
	snprintf(r->mime, sizeof(r->mime), "application/octet-stream");
	*out = r;
	return VIGIL_OK;
}

static void
set_verdict(struct eng_result *r)
{
	r->verdict = VIGIL_CLEAN;
	if (r->nmatches > 0) {
		r->verdict = VIGIL_FLAGGED;
		return;
	}
	for (size_t i = 0; i < r->nproblems; i++) {
		if (r->problems[i].reason == VIGIL_R_IO &&
		    r->problems[i].npath == 1) {
			r->verdict = VIGIL_ERROR;
			return;
		}
		r->verdict = VIGIL_UNSCANNABLE;
	}
}

enum vigil_err
eng_scan_fd(struct eng_scanner *sc, struct eng_ruleset *rs, int fd,
    const char *name, const struct vigil_limits *lim,
    struct eng_result **out)
{
	return eng_scan_fd_digest(sc, rs, fd, name, lim, NULL, out);
}

/*
 * One top-level object from src (fd_read or reader_read): scan, digest
 * (unless the caller's sha256 is trusted: a regular file of st_size
 * bytes), verdict.
 */
static enum vigil_err
scan_top(struct eng_scanner *sc, struct eng_ruleset *rs, struct src *src,
    const char *name, const struct vigil_limits *lim, const char *sha256,
    uint64_t st_size, struct eng_result **out)
{
	struct job		 job;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned		 mdlen = 0;
	uint8_t			*buf;
	double			 t0 = vg_now();
	enum vigil_err		 err;

	*out = NULL;
	memset(&job, 0, sizeof(job));
	job.sc = sc;
	job.rs = rs;
	job.lim = lim;
	job.deadline = t0 + lim->max_time;
	job.path[0] = name;
	job.sc_match = sc->mctx;
	job.text_layer = lim->text_layer;
	if ((err = match_ctx_prepare(sc->mctx, rs)) != VIGIL_OK ||
	    (err = result_new(name, &job.res)) != VIGIL_OK)
		return err;
	if (sha256 == NULL && ((job.sha = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex(job.sha, EVP_sha256(), NULL))) {
		EVP_MD_CTX_free(job.sha);
		eng_result_free(job.res);
		return VIGIL_E_NOMEM;
	}
	src->job = &job;
	src->hash = 1;
	err = scan_unit(&job, src, 0);

	if (sha256 != NULL) {
		memcpy(job.res->sha256, sha256, 64);
		job.res->sha256[64] = '\0';
		job.res->size = st_size;
	} else {
		/*
		 * The digest covers the whole object, even past a limit, for
		 * files; a pipe is not read on past a limit.  An object we
		 * could not read to its end has no digest rather than a
		 * digest of a part.
		 */
		if (err == VIGIL_OK && (src->seekable || !job.stop) &&
		    (buf = unit_buffer(&job, 0)) != NULL)
			while (src->read(src, buf, SCAN_CHUNK) > 0)
				;
		EVP_DigestFinal_ex(job.sha, md, &mdlen);
		EVP_MD_CTX_free(job.sha);
		for (unsigned i = 0; src->eof && i < mdlen && i < 32; i++)
			snprintf(job.res->sha256 + 2 * i, 3, "%02x", md[i]);
		job.res->size = (uint64_t)src->pos;
	}
	if (err != VIGIL_OK) {
		eng_result_free(job.res);
		return err;
	}
	job.res->bytes_scanned = job.bytes;
	job.res->seconds = vg_now() - t0;
	set_verdict(job.res);
	*out = job.res;
	return VIGIL_OK;
}

enum vigil_err
eng_scan_fd_digest(struct eng_scanner *sc, struct eng_ruleset *rs, int fd,
    const char *name, const struct vigil_limits *lim, const char *sha256,
    struct eng_result **out)
{
	struct src	 src;
	struct stat	 st;
	int		 regular;

	*out = NULL;
	if (sc == NULL || rs == NULL || lim == NULL || name == NULL ||
	    (sha256 != NULL && strlen(sha256) != 64))
		return VIGIL_E_INVAL;
	regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	/* A digest the caller already has is only trusted for a file. */
	if (sha256 != NULL && !regular)
		sha256 = NULL;
	memset(&src, 0, sizeof(src));
	src.read = fd_read;
	src.fd = fd;
	src.seekable = regular && lseek(fd, 0, SEEK_CUR) != -1;
	return scan_top(sc, rs, &src, name, lim, sha256, regular ?
	    (uint64_t)st.st_size : 0, out);
}

enum vigil_err
eng_scan_reader(struct eng_scanner *sc, struct eng_ruleset *rs,
    const struct eng_reader *rd, const char *name,
    const struct vigil_limits *lim, struct eng_result **out)
{
	return eng_scan_reader_digest(sc, rs, rd, name, lim, NULL, out);
}

enum vigil_err
eng_scan_reader_digest(struct eng_scanner *sc, struct eng_ruleset *rs,
    const struct eng_reader *rd, const char *name,
    const struct vigil_limits *lim, const char *sha256,
    struct eng_result **out)
{
	struct src	src;

	*out = NULL;
	if (sc == NULL || rs == NULL || lim == NULL || name == NULL ||
	    rd == NULL || rd->read == NULL ||
	    (sha256 != NULL && strlen(sha256) != 64))
		return VIGIL_E_INVAL;
	memset(&src, 0, sizeof(src));
	src.read = reader_read;
	src.fd = -1;
	src.rd = rd;
	src.size = rd->size;
	src.seekable = rd->pread != NULL;
	return scan_top(sc, rs, &src, name, lim, sha256, rd->size, out);
}

enum vigil_err
eng_result_new_problem(const char *name, enum vigil_reason reason,
    const char *detail, struct eng_result **out)
{
	struct job	job;
	enum vigil_err	err;

	memset(&job, 0, sizeof(job));
	if ((err = result_new(name, &job.res)) != VIGIL_OK)
		return err;
	job.path[0] = name;
	scan_problem(&job, 0, reason, detail);
	if (job.err != VIGIL_OK) {
		eng_result_free(job.res);
		return job.err;
	}
	set_verdict(job.res);
	*out = job.res;
	return VIGIL_OK;
}

void
eng_scanner_set_excerpt(struct eng_scanner *sc, size_t bytes)
{
	match_ctx_set_excerpt(sc->mctx, bytes);
}

void
eng_result_free(struct eng_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nmatches; i++) {
		vg_free(r->matches[i].rule);
		vg_free(r->matches[i].excerpt);
		free_path(r->matches[i].path, r->matches[i].npath);
	}
	for (size_t i = 0; i < r->nproblems; i++) {
		free_path(r->problems[i].path, r->problems[i].npath);
		vg_free(r->problems[i].detail);
	}
	vg_free(r->matches);
	vg_free(r->problems);
	vg_free(r->object);
	vg_free(r);
}
