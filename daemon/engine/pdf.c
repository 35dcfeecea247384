/*
 * pdf.c: a PDF as a reader sees it.  Its text comes from poppler-glib,
 * which knows fonts, ToUnicode maps and CID encodings, and goes into the
 * unit's text layer; its FlateDecode streams are inflated and scanned as
 * members "#stream-N" (N the object number), so byte rules see content
 * streams and embedded files as they are, not as deflate output.
 *
 * DESIGN
 * The unit is spooled into a memfd first (raw-matched on the way, counted
 * against the byte limit), because poppler and the stream walk both need
 * to seek.  Poppler reads the spool through a GBytes over a private map:
 * no copy, and no fd whose ownership poppler takes.  Pages are read one at
 * a time up to PDF_MAX_PAGES.  In the vigil program poppler runs in a
 * helper process (pdfproc.c), killed at the job's deadline, so a page
 * that takes poppler forever, or crashes it, costs one problem and not
 * the daemon; without a helper it runs here, checking the deadline
 * between pages.
 *
 * The stream walk does not parse the document: it looks for the keyword
 * "stream" after a dictionary that names /FlateDecode, and inflates from
 * there until zlib says the stream ended or "endstream" is reached.  That
 * finds streams in damaged files poppler refuses too, and costs nothing
 * where the keyword is absent.  Image streams are skipped: their samples
 * are pixels, which nobody reads as bytes, and a scan of a photo album
 * would spend the byte budget on them.  A stream that does not inflate
 * (encrypted, or under another filter first) is passed over silently:
 * reporting it would turn every encrypted PDF unscannable twice.
 *
 * Poppler is not thread-safe for one document, but each job opens its
 * own, and poppler-glib initialises its globals under its own lock.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib.h>
#include <poppler.h>
#include <zlib.h>

#include "vigil/core.h"
#include "scan_int.h"
#include "text_int.h"
#include "pdf_int.h"

/* How far back from "stream" its dictionary may start. */
#define PDF_DICT_MAX	(64 * 1024)
/* Below this many inflated bytes a stream's ratio is not judged. */
#define PDF_RATIO_FLOOR	(1u << 20)

/* GLib logging ------------------------------------------------------- */

static pthread_once_t	glib_once = PTHREAD_ONCE_INIT;

/*
 * Hostile documents make poppler and GMime complain, through g_log, at
 * whatever rate they like; the complaint is not ours to print.
 */
static void
glib_log(const gchar *domain, GLogLevelFlags level, const gchar *msg,
    gpointer arg)
{
	(void)arg;
	vg_log_debug("%s (level %d): %s", domain != NULL ? domain : "glib",
	    (int)(level & G_LOG_LEVEL_MASK), msg);
}

static void
glib_quiet_once(void)
{
	g_log_set_default_handler(glib_log, NULL);
}

void
doc_glib_quiet(void)
{
	pthread_once(&glib_once, glib_quiet_once);
}

/* Text --------------------------------------------------------------- */

enum pdf_status
pdf_pages(const uint8_t *map, size_t len, unsigned max_pages, pdf_sink sink,
    void *arg, char *msg, size_t msgsz)
{
	PopplerDocument	*doc;
	GBytes		*bytes;
	GError		*gerr = NULL;
	enum pdf_status	 st = PDF_OK;
	int		 npages;

	doc_glib_quiet();
	*msg = '\0';
	bytes = g_bytes_new_static(map, len);
	doc = poppler_document_new_from_bytes(bytes, NULL, &gerr);
	if (doc == NULL) {
		if (gerr != NULL && gerr->domain == POPPLER_ERROR &&
		    gerr->code == POPPLER_ERROR_ENCRYPTED)
			st = PDF_ENCRYPTED;
		else {
			st = PDF_CORRUPT;
			snprintf(msg, msgsz, "%s", gerr != NULL ?
			    gerr->message : "poppler cannot open it");
		}
		g_clear_error(&gerr);
		g_bytes_unref(bytes);
		return st;
	}
	/* Opened anyway with max_pages 0: encryption is news. */
	npages = max_pages > 0 ? poppler_document_get_n_pages(doc) : 0;
	if (npages > 0 && (unsigned)npages > max_pages) {
		st = PDF_PAGES;
		npages = (int)max_pages;
	}
	for (int i = 0; i < npages; i++) {
		PopplerPage	*page;
		char		*text;
		int		 stop = 0;

		if ((page = poppler_document_get_page(doc, i)) == NULL)
			continue;
		if ((text = poppler_page_get_text(page)) != NULL) {
			/* A space: the last word of a page is not the next's. */
			stop = sink(arg, text, strlen(text)) ||
			    sink(arg, " ", 1);
			g_free(text);
		}
		g_object_unref(page);
		if (stop)
			break;
	}
	g_object_unref(doc);
	g_bytes_unref(bytes);
	return st;
}

void
pdf_report(struct job *job, unsigned depth, enum pdf_status st,
    const char *msg)
{
	char	detail[64];

	switch (st) {
	case PDF_OK:
		break;
	case PDF_ENCRYPTED:
		scan_problem(job, depth, VIGIL_R_ENCRYPTED, NULL);
		break;
	case PDF_PAGES:
		snprintf(detail, sizeof(detail), "pages past %u not read",
		    PDF_MAX_PAGES);
		scan_problem(job, depth, VIGIL_R_LIMIT_FILES, detail);
		break;
	default:
		scan_problem(job, depth, VIGIL_R_CORRUPT, msg != NULL &&
		    *msg != '\0' ? msg : NULL);
		break;
	}
}

struct inproc {
	struct job	*job;
	unsigned	 depth;
	struct tl	*tl;
	enum vigil_err	 err;
};

/* In the scanning thread: the deadline is checked between pages. */
static int
inproc_sink(void *arg, const char *text, size_t len)
{
	struct inproc	*ip = arg;

	if (ip->job->stop)
		return 1;
	if (vg_now() > ip->job->deadline) {
		scan_problem(ip->job, ip->depth, VIGIL_R_LIMIT_TIME, NULL);
		ip->job->stop = 1;
		return 1;
	}
	ip->err = tl_feed(ip->tl, (const uint8_t *)text, len);
	return ip->err != VIGIL_OK;
}

static enum vigil_err
pdf_text(struct job *job, unsigned depth, int fd, const uint8_t *map,
    size_t len, struct tl *tl)
{
	struct inproc	ip = { job, depth, tl, VIGIL_OK };
	char		msg[256];
	enum pdf_status	st;

	if (pdfproc_enabled())
		return pdfproc_text(scan_pdf_helper(job), job, depth, fd, tl);
	st = pdf_pages(map, len, tl != NULL ? PDF_MAX_PAGES : 0, inproc_sink,
	    &ip, msg, sizeof(msg));
	pdf_report(job, depth, st, msg);
	return ip.err;
}

/* Streams ------------------------------------------------------------ */

struct pdf_stream {
	struct job	*job;
	unsigned	 depth;		/* the PDF's */
	z_stream	 z;
	uint64_t	 in, out;
	int		 done;
};

/* A member's bytes: inflated on demand, never held whole. */
static ssize_t
inflate_read(struct src *s, void *buf, size_t n)
{
	struct pdf_stream	*ps = s->owner;
	struct job		*job = s->job;
	size_t			 got = 0;
	int			 r;

	if (ps->done || job->stop)
		return 0;
	ps->z.next_out = buf;
	ps->z.avail_out = n > UINT_MAX ? UINT_MAX : (unsigned)n;
	while (got == 0 && !ps->done) {
		uInt before = ps->z.avail_in;

		r = inflate(&ps->z, Z_NO_FLUSH);
		got = n - ps->z.avail_out;
		ps->in += before - ps->z.avail_in;
		if (r == Z_STREAM_END || ps->z.avail_in == 0)
			ps->done = 1;
		else if (r != Z_OK) {
			vg_log_debug("%s: inflate: %s", job->path[0],
			    ps->z.msg != NULL ? ps->z.msg : "error");
			ps->done = 1;
		}
	}
	ps->out += got;
	s->pos += (int64_t)got;
	if (ps->out > PDF_RATIO_FLOOR && job->lim->max_ratio > 0 &&
	    ps->out / (ps->in ? ps->in : 1) >= job->lim->max_ratio) {
		scan_problem(job, ps->depth, VIGIL_R_LIMIT_RATIO, NULL);
		ps->done = 1;
	}
	return (ssize_t)got;
}

static int
is_pdf_space(uint8_t c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' ||
	    c == '\0';
}

/*
 * The dictionary that ends just before p[end]: its start, found by
 * counting << and >> backwards, or (size_t)-1.
 */
static size_t
dict_start(const uint8_t *p, size_t end)
{
	size_t	i = end, stop = end > PDF_DICT_MAX ? end - PDF_DICT_MAX : 0;
	int	nest = 0;

	while (i > 0 && is_pdf_space(p[i - 1]))
		i--;
	if (i < 2 || p[i - 1] != '>' || p[i - 2] != '>')
		return (size_t)-1;
	while (i >= stop + 2) {
		if (p[i - 1] == '>' && p[i - 2] == '>') {
			nest++;
			i -= 2;
		} else if (p[i - 1] == '<' && p[i - 2] == '<') {
			if (--nest == 0)
				return i - 2;
			i -= 2;
		} else
			i--;
	}
	return (size_t)-1;
}

/* "12 0 obj" just before p[at]: 12, or -1. */
static long
obj_number(const uint8_t *p, size_t at)
{
	size_t	i = at;
	long	num = 0, mul = 1;

	while (i > 0 && is_pdf_space(p[i - 1]))
		i--;
	if (i < 3 || memcmp(p + i - 3, "obj", 3) != 0)
		return -1;
	i -= 3;
	while (i > 0 && is_pdf_space(p[i - 1]))
		i--;
	while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
		i--;			/* generation */
	while (i > 0 && is_pdf_space(p[i - 1]))
		i--;
	while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9' && mul <
	    1000000000) {
		num += (p[i - 1] - '0') * mul;
		mul *= 10;
		i--;
	}
	return mul > 1 ? num : -1;
}

static int
dict_has(const uint8_t *d, size_t n, const char *name)
{
	size_t		 k = strlen(name);
	const uint8_t	*q;

	while ((q = memmem(d, n, name, k)) != NULL) {
		size_t rest = n - (size_t)(q - d) - k;

		/* A name ends at a delimiter: /Image, not /ImageMask. */
		if (rest == 0 || !((q[k] >= 'A' && q[k] <= 'Z') ||
		    (q[k] >= 'a' && q[k] <= 'z') || (q[k] >= '0' &&
		    q[k] <= '9')))
			return 1;
		n = rest;
		d = q + k;
	}
	return 0;
}

/* A zlib header: deflate, a window zlib accepts, and its check bits. */
static int
zlib_header(const uint8_t *p, size_t n)
{
	return n >= 2 && (p[0] & 0x0f) == 8 && (p[0] >> 4) <= 7 &&
	    ((p[0] << 8) | p[1]) % 31 == 0;
}

static enum vigil_err
scan_stream(struct job *job, unsigned depth, const uint8_t *data,
    size_t len, const char *name)
{
	struct pdf_stream	 ps;
	struct src		 m;
	enum vigil_err		 err;

	memset(&ps, 0, sizeof(ps));
	ps.job = job;
	ps.depth = depth;
	if (inflateInit(&ps.z) != Z_OK)
		return VIGIL_E_NOMEM;
	ps.z.next_in = (Bytef *)(uintptr_t)data;
	ps.z.avail_in = len > UINT_MAX ? UINT_MAX : (uInt)len;
	memset(&m, 0, sizeof(m));
	m.read = inflate_read;
	m.job = job;
	m.fd = -1;
	m.owner = &ps;
	job->path[depth + 1] = name;
	job->hide[depth + 1] = 0;
	err = scan_unit(job, &m, depth + 1);
	job->path[depth + 1] = NULL;
	job->depth = depth;
	inflateEnd(&ps.z);
	return err;
}

static enum vigil_err
pdf_streams(struct job *job, unsigned depth, const uint8_t *p, size_t n)
{
	const uint8_t	*s;
	size_t		 pos = 0;
	unsigned	 ordinal = 0;
	enum vigil_err	 err = VIGIL_OK;

	while (err == VIGIL_OK && !job->stop && pos < n &&
	    (s = memmem(p + pos, n - pos, "stream", 6)) != NULL) {
		size_t		 at = (size_t)(s - p), data, end, ds;
		const uint8_t	*e;
		char		 name[40];
		long		 num;

		pos = at + 6;
		if (at >= 3 && memcmp(s - 3, "end", 3) == 0)
			continue;
		/* The keyword ends its line: CRLF, LF, or a lone CR. */
		data = at + 6;
		if (data < n && p[data] == '\r')
			data++;
		if (data < n && p[data] == '\n')
			data++;
		if (data == at + 6 || (ds = dict_start(p, at)) == (size_t)-1)
			continue;
		if (!dict_has(p + ds, at - ds, "/FlateDecode") ||
		    dict_has(p + ds, at - ds, "/Image") ||
		    !zlib_header(p + data, n - data))
			continue;
		e = memmem(p + data, n - data, "endstream", 9);
		end = e != NULL ? (size_t)(e - p) : n;
		pos = end;
		ordinal++;
		if (depth >= job->lim->max_depth ||
		    depth + 1 >= ENG_MAX_DEPTH) {
			scan_problem(job, depth, VIGIL_R_LIMIT_DEPTH, NULL);
			break;
		}
		if (++job->members > job->lim->max_files) {
			scan_problem(job, depth, VIGIL_R_LIMIT_FILES, NULL);
			job->stop = 1;
			break;
		}
		num = obj_number(p, ds);
		snprintf(name, sizeof(name), "#stream-%ld",
		    num >= 0 ? num : (long)ordinal);
		err = scan_stream(job, depth, p + data, end - data, name);
	}
	return err;
}

/* The unit ------------------------------------------------------------ */

enum vigil_err
pdf_scan(struct job *job, struct src *src, unsigned depth,
    const uint8_t *peek, size_t npeek, struct match_unit *unit,
    struct tl **tlp)
{
	uint8_t		*map = NULL;
	size_t		 len = 0;
	enum vigil_err	 err = VIGIL_OK;
	int		 fd;

	*tlp = NULL;
	/* peek lives in the unit buffer, which the spool reuses after it. */
	if ((fd = scan_spool(job, src, depth, peek, npeek, unit,
	    (uint8_t *)(uintptr_t)peek)) == -1)
		return job->err;
	if (job->stop)
		goto out;
	if (scan_map(job, depth, fd, &map, &len) != 1)
		goto out;
	if ((err = tl_begin_utf8(job, depth, MARKUP_FLOW, tlp)) != VIGIL_OK)
		goto out;
	err = pdf_text(job, depth, fd, map, len, *tlp);
	if (err == VIGIL_OK && !job->stop)
		err = pdf_streams(job, depth, map, len);
out:
	if (map != NULL)
		munmap(map, len);
	close(fd);
	return err;
}
