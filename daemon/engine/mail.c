/*
 * mail.c: an e-mail, or an mbox of them, as its recipient reads it,
 * through GMime 3.
 *
 * DESIGN
 * A message is spooled into a memfd (raw-matched on the way, counted
 * against the byte limit) and parsed by GMime from there.  Its text layer
 * holds, one per line, the decoded From, To, Cc and Subject (RFC 2047
 * words and all), then every inline text/plain and text/html body part,
 * with transfer encoding undone and the charset converted to UTF-8.  One
 * layer for the whole message, not one per part: a unit has one text
 * slot, and a rule naming several strings should see the message as its
 * reader does, subject and body together.  An HTML part goes through its
 * own markup reader (markup.c) writing into that same layer, so its tags
 * are dropped while plain parts pass straight through.
 *
 * Every other part (attachments, images, non-text parts, attached
 * messages) is a member one level down, decoded into a memfd and named
 * by its file name (RFC 2231 decoded) or "part-N", N counting leaf parts
 * from 1: a zip attachment is unpacked below its name.  Without a text
 * layer the body parts are members too, so byte rules still see them
 * decoded.  Encrypted parts (PGP/MIME, S/MIME enveloped data) are a
 * problem "encrypted", as an encrypted archive member is.
 *
 * An mbox is a container of messages: each one, without its "From " line,
 * is a member "message-N", classified and scanned like any message.  The
 * split is by lines that begin "From ", as mbox readers (and GMime) do.
 *
 *   message/rfc822 unit
 *     |-- starts "From "?  yes: mbox, members message-1, message-2, ...
 *     '-- no: spool -> GMimeParser -> headers, bodies -> text layer
 *                                  '-> other parts -> members
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "vigil/core.h"
#include "scan_int.h"
#include "text_int.h"

/* Multipart nesting walked; deeper is a depth limit hit. */
#define MAIL_MAX_NEST	64

static pthread_once_t	gmime_once = PTHREAD_ONCE_INIT;

static void
gmime_init_once(void)
{
	doc_glib_quiet();
	g_mime_init();
}

/* Detection ---------------------------------------------------------- */

static int
skip_blanks(const uint8_t *p, size_t n)
{
	size_t	i = 0;

	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
	    p[i] == '\n' || p[i] == '\f' || p[i] == '\v'))
		i++;
	return (int)i;
}

/* classify.c calls text starting "From " a message: it is an mbox. */
static int
is_mbox(const uint8_t *p, size_t n)
{
	size_t	i = (size_t)skip_blanks(p, n);

	return n - i >= 5 && strncasecmp((const char *)p + i, "from ", 5) ==
	    0;
}

/*
 * A header block: every line up to the first blank one is "Name: value"
 * or a continuation, and at least two of them are headers a message has.
 * Python's email package, for one, writes From: first, which classify.c's
 * prefixes do not catch.
 */
int
mail_sniff(const uint8_t *p, size_t n)
{
	static const char *const known[] = {
		"from", "to", "cc", "subject", "date", "message-id",
		"mime-version", "content-type", "content-transfer-encoding",
		"received", "return-path", "reply-to", "sender",
		"delivered-to", "in-reply-to", "references", "x-mailer",
	};
	size_t	i = 0, lines = 0, nknown = 0;

	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < n) {
		const uint8_t	*eol = memchr(p + i, '\n', n - i);
		size_t		 le = eol != NULL ? (size_t)(eol - p) : n;
		size_t		 len = le - i, k;

		if (len > 0 && p[le - 1] == '\r')
			len--;
		if (len == 0)
			break;
		if (p[i] == ' ' || p[i] == '\t') {
			if (lines == 0)
				return 0;
		} else {
			for (k = 0; k < len && k < 77 && p[i + k] > ' ' &&
			    p[i + k] < 127 && p[i + k] != ':'; k++)
				;
			if (k == 0 || k == len || p[i + k] != ':')
				return 0;
			for (size_t j = 0; j < sizeof(known) / sizeof(*known);
			    j++)
				if (strlen(known[j]) == k &&
				    strncasecmp((const char *)p + i, known[j],
				    k) == 0) {
					nknown++;
					break;
				}
			lines++;
		}
		if (eol == NULL)
			break;
		i = le + 1;
	}
	return lines > 0 && nknown >= 2;
}

/* Walking a message -------------------------------------------------- */

struct mail_walk {
	struct job	*job;
	unsigned	 depth;		/* the message's */
	struct tl	*tl;
	unsigned	 nparts;
	enum vigil_err	 err;
};

static int
member_ok(struct mail_walk *w)
{
	struct job *job = w->job;

	if (job->stop)
		return 0;
	if (vg_now() > job->deadline) {
		scan_problem(job, w->depth, VIGIL_R_LIMIT_TIME, NULL);
		job->stop = 1;
		return 0;
	}
	if (w->depth >= job->lim->max_depth ||
	    w->depth + 1 >= ENG_MAX_DEPTH) {
		scan_problem(job, w->depth, VIGIL_R_LIMIT_DEPTH, NULL);
		return 0;
	}
	if (++job->members > job->lim->max_files) {
		scan_problem(job, w->depth, VIGIL_R_LIMIT_FILES, NULL);
		job->stop = 1;
		return 0;
	}
	return 1;
}

/*
 * One part as a member: obj written (decoded, for a leaf) into a memfd,
 * then scanned one level down under name.
 */
static void
scan_member(struct mail_walk *w, GMimeObject *obj, const char *name)
{
	struct job	*job = w->job;
	GMimeStream	*ms;
	struct src	 m;
	ssize_t		 r;
	int		 fd;

	if (!member_ok(w))
		return;
	if ((fd = memfd_create("vigil-part", MFD_CLOEXEC)) == -1) {
		scan_problem(job, w->depth, VIGIL_R_IO, strerror(errno));
		return;
	}
	ms = g_mime_stream_fs_new(fd);
	g_mime_stream_fs_set_owner(GMIME_STREAM_FS(ms), FALSE);
	if (GMIME_IS_PART(obj)) {
		GMimeDataWrapper *content =
		    g_mime_part_get_content(GMIME_PART(obj));

		r = content != NULL ?
		    g_mime_data_wrapper_write_to_stream(content, ms) : 0;
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		/* The message, not its part headers: so it reads as mail. */
		GMimeMessage *inner =
		    g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

		r = inner != NULL ? g_mime_object_write_to_stream(
		    GMIME_OBJECT(inner), NULL, ms) : 0;
	} else
		r = g_mime_object_write_to_stream(obj, NULL, ms);
	g_mime_stream_flush(ms);
	g_object_unref(ms);
	if (r < 0 || lseek(fd, 0, SEEK_SET) == -1) {
		job->path[w->depth + 1] = name;
		scan_problem(job, w->depth + 1, VIGIL_R_CORRUPT,
		    "part does not decode");
		job->path[w->depth + 1] = NULL;
		close(fd);
		return;
	}
	src_init_fd(&m, job, fd);
	job->path[w->depth + 1] = name;
	job->hide[w->depth + 1] = 0;
	w->err = scan_unit(job, &m, w->depth + 1);
	job->path[w->depth + 1] = NULL;
	job->depth = w->depth;
	close(fd);
}

/* A body part's text into the layer: decoded, in UTF-8, tags dropped. */
static void
body_text(struct mail_walk *w, GMimeTextPart *tp, int html)
{
	struct markup	*mk;
	char		*text;
	size_t		 len;

	if ((text = g_mime_text_part_get_text(tp)) == NULL)
		return;
	len = strlen(text);
	if (html) {
		if ((w->err = markup_new(w->tl, MARKUP_HTML, &mk)) ==
		    VIGIL_OK) {
			w->err = markup_feed(mk, (const uint8_t *)text, len);
			if (w->err == VIGIL_OK)
				w->err = markup_end(mk);
			markup_free(mk);
		}
	} else
		w->err = tl_feed(w->tl, (const uint8_t *)text, len);
	if (w->err == VIGIL_OK)
		w->err = tl_feed(w->tl, (const uint8_t *)"\n", 1);
	g_free(text);
}

static void
walk(struct mail_walk *w, GMimeObject *obj, int nest)
{
	GMimeContentType	*ct;
	const char		*fname;
	char			 name[32];

	if (obj == NULL || w->err != VIGIL_OK || w->job->stop)
		return;
	if (nest > MAIL_MAX_NEST) {
		scan_problem(w->job, w->depth, VIGIL_R_LIMIT_DEPTH,
		    "MIME parts nested too deep");
		return;
	}
	/* Ciphertext reads as noise: say so rather than pass it clean. */
	if (GMIME_IS_MULTIPART_ENCRYPTED(obj) ||
	    (GMIME_IS_APPLICATION_PKCS7_MIME(obj) &&
	    g_mime_application_pkcs7_mime_get_smime_type(
	    GMIME_APPLICATION_PKCS7_MIME(obj)) ==
	    GMIME_SECURE_MIME_TYPE_ENVELOPED_DATA)) {
		scan_problem(w->job, w->depth, VIGIL_R_ENCRYPTED,
		    "encrypted MIME part");
		return;
	}
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);

		for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
			walk(w, g_mime_multipart_get_part(mp, i), nest + 1);
		return;
	}
	w->nparts++;
	snprintf(name, sizeof(name), "part-%u", w->nparts);
	ct = g_mime_object_get_content_type(obj);
	if (GMIME_IS_PART(obj)) {
		GMimePart	*part = GMIME_PART(obj);
		int		 plain, html;

		plain = ct != NULL && g_mime_content_type_is_type(ct, "text",
		    "plain");
		html = ct != NULL && g_mime_content_type_is_type(ct, "text",
		    "html");
		if (w->tl != NULL && GMIME_IS_TEXT_PART(obj) &&
		    (plain || html) && !g_mime_part_is_attachment(part)) {
			body_text(w, GMIME_TEXT_PART(obj), html);
			return;
		}
		fname = g_mime_part_get_filename(part);
	} else
		fname = g_mime_object_get_content_disposition_parameter(obj,
		    "filename");
	scan_member(w, obj, fname != NULL && *fname != '\0' ? fname : name);
}

/* "Name <addr>, ..." with encoded words decoded, then a newline. */
static void
header_addrs(struct mail_walk *w, InternetAddressList *list)
{
	char	*s;

	if (list == NULL || w->err != VIGIL_OK ||
	    internet_address_list_length(list) == 0)
		return;
	if ((s = internet_address_list_to_string(list, NULL, FALSE)) == NULL)
		return;
	w->err = tl_feed(w->tl, (const uint8_t *)s, strlen(s));
	if (w->err == VIGIL_OK)
		w->err = tl_feed(w->tl, (const uint8_t *)"\n", 1);
	g_free(s);
}

static enum vigil_err
mail_message(struct job *job, unsigned depth, int fd, struct tl **tlp)
{
	struct mail_walk	 w;
	GMimeStream		*st;
	GMimeParser		*parser;
	GMimeMessage		*msg;
	const char		*subject;
	int			 dfd;

	pthread_once(&gmime_once, gmime_init_once);
	if (lseek(fd, 0, SEEK_SET) == -1 ||
	    (dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		scan_problem(job, depth, VIGIL_R_IO, strerror(errno));
		return VIGIL_OK;
	}
	st = g_mime_stream_fs_new(dfd);		/* owns dfd */
	parser = g_mime_parser_new_with_stream(st);
	g_object_unref(st);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	if (msg == NULL) {
		scan_problem(job, depth, VIGIL_R_CORRUPT, "not a message");
		return VIGIL_OK;
	}
	memset(&w, 0, sizeof(w));
	w.job = job;
	w.depth = depth;
	if ((w.err = tl_begin_utf8(job, depth, MARKUP_NONE, tlp)) !=
	    VIGIL_OK)
		goto out;
	w.tl = *tlp;
	if (w.tl != NULL) {
		header_addrs(&w, g_mime_message_get_from(msg));
		header_addrs(&w, g_mime_message_get_to(msg));
		header_addrs(&w, g_mime_message_get_cc(msg));
		if ((subject = g_mime_message_get_subject(msg)) != NULL &&
		    w.err == VIGIL_OK) {
			w.err = tl_feed(w.tl, (const uint8_t *)subject,
			    strlen(subject));
			if (w.err == VIGIL_OK)
				w.err = tl_feed(w.tl, (const uint8_t *)"\n",
				    1);
		}
	}
	walk(&w, g_mime_message_get_mime_part(msg), 0);
out:
	g_object_unref(msg);
	return w.err;
}

/* Each message of an mbox, without its "From " line, as a member. */
static enum vigil_err
mbox_walk(struct job *job, unsigned depth, const uint8_t *p, size_t n)
{
	struct mail_walk	 w;
	size_t			 at = (size_t)skip_blanks(p, n);
	char			 name[32];

	memset(&w, 0, sizeof(w));
	w.job = job;
	w.depth = depth;
	while (at < n && w.err == VIGIL_OK && !job->stop) {
		const uint8_t	*eol = memchr(p + at, '\n', n - at);
		const uint8_t	*next;
		size_t		 start, end;
		struct src	 m;

		if (eol == NULL)
			break;
		start = (size_t)(eol - p) + 1;
		next = start < n ? memmem(p + start, n - start, "\nFrom ", 6) :
		    NULL;
		end = next != NULL ? (size_t)(next - p) + 1 : n;
		at = end;
		if (!member_ok(&w))
			break;
		snprintf(name, sizeof(name), "message-%u", ++w.nparts);
		src_init_mem(&m, job, p + start, end - start);
		job->path[depth + 1] = name;
		job->hide[depth + 1] = 0;
		w.err = scan_unit(job, &m, depth + 1);
		job->path[depth + 1] = NULL;
		job->depth = depth;
	}
	return w.err;
}

/* The unit ------------------------------------------------------------ */

enum vigil_err
mail_scan(struct job *job, struct src *src, unsigned depth,
    const uint8_t *peek, size_t npeek, struct match_unit *unit,
    struct tl **tlp)
{
	uint8_t		*map = NULL;
	size_t		 len = 0;
	enum vigil_err	 err = VIGIL_OK;
	int		 fd, mbox = is_mbox(peek, npeek);

	*tlp = NULL;
	/* peek lives in the unit buffer, which the spool reuses after it. */
	if ((fd = scan_spool(job, src, depth, peek, npeek, unit,
	    (uint8_t *)(uintptr_t)peek)) == -1)
		return job->err;
	if (job->stop)
		goto out;
	if (!mbox) {
		err = mail_message(job, depth, fd, tlp);
		goto out;
	}
	if (scan_map(job, depth, fd, &map, &len) != 1)
		goto out;
	err = mbox_walk(job, depth, map, len);
out:
	if (map != NULL)
		munmap(map, len);
	close(fd);
	return err;
}
