/*
 * unpack.c: containers, through libarchive, in streams, never onto disk.
 *
 * DESIGN
 * A container is opened with libarchive's callback reader.  For formats
 * read front to back (tar and its compressions, cpio, ar, iso9660, lha, a
 * bare compressed stream) the read callback pulls from the unit's source,
 * and every byte it hands libarchive is also fed to the container's own
 * matcher unit, so the raw layer is scanned in the same pass.  Members are
 * pulled with archive_read_data_block() by the member's unit, one level
 * deeper, which may itself be a container reading from us: nesting is a
 * chain of pulls, one archive handle per level, with no extraction.
 *
 * Formats that need to seek (zip's central directory, 7z, rar, xar, cab)
 * read from an fd with pread: the object's own fd at the top level, or a
 * memfd spool for a member.  Spooled bytes count against the byte limit,
 * so memory stays bounded by it.  Only built-in decompressors are enabled:
 * libarchive's "program" filters would fork a process per hostile input.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "vigil/core.h"
#include "scan_int.h"

/* Below this many output bytes a container's ratio is not judged. */
#define RATIO_FLOOR	(1u << 20)
#define MAX_RETRIES	16

struct arsrc {
	struct job		*job;
	struct src		*src;
	struct match_unit	*unit;
	unsigned		 depth;
	const uint8_t		*peek;
	size_t			 npeek, peekpos;
	uint8_t			*buf;
	int			 fd;		/* seek mode */
	const struct eng_reader	*rd;		/* seek mode, no fd */
	int64_t			 off;
	uint64_t		 in;		/* bytes given to libarchive */
	uint64_t		 out;		/* member bytes taken out */
	int			 abandon;	/* ratio limit hit */
	int			 raw;		/* match the container's bytes */
};

/* Which MIME types we open, and how. */
static const struct {
	const char		*mime;
	enum unpack_kind	 kind;
} containers[] = {
	{ "application/zip", UNPACK_SEEK },
	{ "application/x-zip-compressed", UNPACK_SEEK },
	{ "application/java-archive", UNPACK_SEEK },
	{ "application/x-7z-compressed", UNPACK_SEEK },
	{ "application/x-rar", UNPACK_SEEK },
	{ "application/vnd.rar", UNPACK_SEEK },
	{ "application/x-xar", UNPACK_SEEK },
	{ "application/vnd.ms-cab-compressed", UNPACK_SEEK },
	{ "application/x-tar", UNPACK_STREAM },
	{ "application/x-gtar", UNPACK_STREAM },
	{ "application/x-ustar", UNPACK_STREAM },
	{ "application/x-cpio", UNPACK_STREAM },
	{ "application/x-archive", UNPACK_STREAM },
	{ "application/vnd.debian.binary-package", UNPACK_STREAM },
	{ "application/x-iso9660-image", UNPACK_STREAM },
	{ "application/x-lha", UNPACK_STREAM },
	{ "application/x-lzh-compressed", UNPACK_STREAM },
	{ "application/x-rpm", UNPACK_STREAM },
	{ "application/warc", UNPACK_STREAM },
	{ "application/gzip", UNPACK_STREAM },
	{ "application/x-gzip", UNPACK_STREAM },
	{ "application/x-bzip2", UNPACK_STREAM },
	{ "application/x-xz", UNPACK_STREAM },
	{ "application/x-lzma", UNPACK_STREAM },
	{ "application/x-lzip", UNPACK_STREAM },
	{ "application/zstd", UNPACK_STREAM },
	{ "application/x-zstd", UNPACK_STREAM },
	{ "application/x-lz4", UNPACK_STREAM },
	{ "application/x-compress", UNPACK_STREAM },
};

enum unpack_kind
unpack_kind(const char *mime, const uint8_t *peek, size_t n)
{
	for (size_t i = 0; i < sizeof(containers) / sizeof(*containers); i++)
		if (strcmp(mime, containers[i].mime) == 0)
			return containers[i].kind;
	/* Zip-based formats (OOXML, ODF, EPUB, APK) under their own names. */
	if (n >= 4 && memcmp(peek, "PK\003\004", 4) == 0)
		return UNPACK_SEEK;
	return UNPACK_NONE;
}

/* Bare compression: the member is named after the container. */
static int
is_compression(const char *mime)
{
	static const char *const comp[] = {
		"application/gzip", "application/x-gzip",
		"application/x-bzip2", "application/x-xz",
		"application/x-lzma", "application/x-lzip",
		"application/zstd", "application/x-zstd", "application/x-lz4",
		"application/x-compress",
	};

	for (size_t i = 0; i < sizeof(comp) / sizeof(*comp); i++)
		if (strcmp(mime, comp[i]) == 0)
			return 1;
	return 0;
}

/* "dir/notes.txt.gz" -> "notes.txt"; "x.tgz" -> "x.tar"; else "data". */
static void
content_name(const char *parent, char *out, size_t outlen)
{
	static const struct { const char *ext, *repl; } ext[] = {
		{ ".tgz", ".tar" }, { ".tbz2", ".tar" }, { ".tbz", ".tar" },
		{ ".txz", ".tar" }, { ".tzst", ".tar" }, { ".gz", "" },
		{ ".bz2", "" }, { ".xz", "" }, { ".lzma", "" }, { ".lz", "" },
		{ ".zst", "" }, { ".lz4", "" }, { ".Z", "" }, { ".z", "" },
	};
	const char	*base = strrchr(parent, '/');
	size_t		 n;

	base = base != NULL ? base + 1 : parent;
	n = strlen(base);
	for (size_t i = 0; i < sizeof(ext) / sizeof(*ext); i++) {
		size_t el = strlen(ext[i].ext);

		if (n > el && strcmp(base + n - el, ext[i].ext) == 0) {
			snprintf(out, outlen, "%.*s%s", (int)(n - el), base,
			    ext[i].repl);
			return;
		}
	}
	snprintf(out, outlen, "data");
}

static int
looks_encrypted(struct archive *a)
{
	const char *msg = archive_error_string(a);

	return msg != NULL && (strstr(msg, "ncrypt") != NULL ||
	    strstr(msg, "assphrase") != NULL || strstr(msg, "assword") !=
	    NULL);
}

/* libarchive callbacks ------------------------------------------------ */

/* Stream mode: the peeked bytes, then the source; all of it is raw-scanned. */
static la_ssize_t
stream_read(struct archive *a, void *arg, const void **out)
{
	struct arsrc	*as = arg;
	ssize_t		 n;

	(void)a;
	if (as->job->stop || as->abandon)
		return 0;
	if (as->peekpos < as->npeek) {
		*out = as->peek + as->peekpos;
		n = (ssize_t)(as->npeek - as->peekpos);
		as->peekpos = as->npeek;
		as->in += (uint64_t)n;
		return n;	/* peek bytes were accounted and fed already */
	}
	n = as->src->read(as->src, as->buf, SCAN_CHUNK);
	if (n <= 0)
		return n < 0 ? ARCHIVE_FATAL : 0;
	if (!scan_account(as->job, (size_t)n))
		return 0;
	if (as->raw && match_feed(as->unit, as->buf, (size_t)n) != VIGIL_OK)
		return ARCHIVE_FATAL;
	as->in += (uint64_t)n;
	*out = as->buf;
	return n;
}

/* Seek mode: pread from an fd that holds the whole container. */
static la_ssize_t
seek_read(struct archive *a, void *arg, const void **out)
{
	struct arsrc	*as = arg;
	ssize_t		 n;

	(void)a;
	if (as->job->stop || as->abandon)
		return 0;
	if (as->rd != NULL)	/* an eng_reader: ranged reads */
		n = as->rd->pread(as->rd->arg, as->buf, SCAN_CHUNK,
		    (uint64_t)as->off);
	else
		do
			n = pread(as->fd, as->buf, SCAN_CHUNK, as->off);
		while (n == -1 && errno == EINTR);
	if (n < 0)
		return ARCHIVE_FATAL;
	as->off += n;
	as->in += (uint64_t)n;
	*out = as->buf;
	return n;
}

static la_int64_t
seek_seek(struct archive *a, void *arg, la_int64_t off, int whence)
{
	struct arsrc	*as = arg;
	off_t		 end;

	(void)a;
	switch (whence) {
	case SEEK_SET:
		as->off = off;
		break;
	case SEEK_CUR:
		as->off += off;
		break;
	case SEEK_END:
		if (as->rd != NULL)
			end = (off_t)as->rd->size;
		else if ((end = lseek(as->fd, 0, SEEK_END)) == -1)
			return ARCHIVE_FATAL;
		as->off = end + off;
		break;
	default:
		return ARCHIVE_FATAL;
	}
	if (as->off < 0)
		return ARCHIVE_FATAL;
	return as->off;
}

static la_int64_t
seek_skip(struct archive *a, void *arg, la_int64_t n)
{
	struct arsrc *as = arg;

	(void)a;
	as->off += n;
	return n;
}

/* Members ------------------------------------------------------------- */

/* A member's bytes, with holes in sparse entries read as zeros. */
static ssize_t
member_read(struct src *s, void *buf, size_t n)
{
	struct arsrc	*as = (struct arsrc *)s->owner;
	struct job	*job = s->job;
	const void	*blk;
	size_t		 len, take;
	la_int64_t	 off;
	int		 r;

	if (s->eof || s->failed || job->stop || as->abandon)
		return 0;
	while (s->blklen == 0) {
		r = archive_read_data_block(s->ar, &blk, &len, &off);
		if (r == ARCHIVE_EOF) {
			s->eof = 1;
			return 0;
		}
		if (r < ARCHIVE_WARN) {
			s->failed = 1;
			scan_problem(job, job->depth, looks_encrypted(s->ar) ?
			    VIGIL_R_ENCRYPTED : VIGIL_R_CORRUPT,
			    archive_error_string(s->ar));
			return -1;
		}
		s->blk = blk;
		s->blklen = len;
		s->blkoff = off;
	}
	if (s->blkoff > s->pos) {
		/* A hole: zeros up to the block. */
		take = (size_t)(s->blkoff - s->pos) < n ?
		    (size_t)(s->blkoff - s->pos) : n;
		memset(buf, 0, take);
	} else {
		take = s->blklen < n ? s->blklen : n;
		memcpy(buf, s->blk, take);
		s->blk += take;
		s->blklen -= take;
		s->blkoff += (int64_t)take;
	}
	s->pos += (int64_t)take;
	as->out += take;
	if (as->out > RATIO_FLOOR && job->lim->max_ratio > 0 &&
	    as->out / (as->in ? as->in : 1) >= job->lim->max_ratio) {
		scan_problem(job, as->depth, VIGIL_R_LIMIT_RATIO, NULL);
		as->abandon = 1;
		return 0;
	}
	return (ssize_t)take;
}

static enum vigil_err
walk_members(struct arsrc *as, struct archive *a)
{
	struct job		*job = as->job;
	struct archive_entry	*e;
	unsigned		 depth = as->depth, retries = 0;
	char			 rawname[512];
	enum vigil_err		 err = VIGIL_OK;
	int			 r;

	while (!job->stop && !as->abandon && err == VIGIL_OK) {
		const char	*name;
		struct src	 m;

		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r == ARCHIVE_RETRY && ++retries < MAX_RETRIES)
			continue;
		if (r < ARCHIVE_WARN) {
			job->depth = depth;
			scan_problem(job, depth, looks_encrypted(a) ?
			    VIGIL_R_ENCRYPTED : VIGIL_R_CORRUPT,
			    archive_error_string(a));
			if (r == ARCHIVE_FATAL || ++retries >= MAX_RETRIES)
				break;
			continue;
		}
		if (++job->members > job->lim->max_files) {
			job->depth = depth;
			scan_problem(job, depth, VIGIL_R_LIMIT_FILES, NULL);
			job->stop = 1;
			break;
		}
		/* Links are never followed; only regular data is content. */
		if (archive_entry_filetype(e) != AE_IFREG ||
		    archive_entry_hardlink(e) != NULL)
			continue;
		if (archive_format(a) == ARCHIVE_FORMAT_RAW) {
			content_name(job->path[depth], rawname,
			    sizeof(rawname));
			name = rawname;
		} else if ((name = archive_entry_pathname_utf8(e)) == NULL &&
		    (name = archive_entry_pathname(e)) == NULL)
			name = "";
		job->path[depth + 1] = name;
		job->hide[depth + 1] = 0;
		if (archive_entry_is_data_encrypted(e)) {
			scan_problem(job, depth + 1, VIGIL_R_ENCRYPTED, NULL);
			continue;
		}
		memset(&m, 0, sizeof(m));
		m.read = member_read;
		m.job = job;
		m.fd = -1;
		m.ar = a;
		m.owner = as;
		m.decompressed = archive_format(a) == ARCHIVE_FORMAT_RAW;
		err = scan_unit(job, &m, depth + 1);
		job->path[depth + 1] = NULL;
		job->depth = depth;
	}
	return err;
}

static struct archive *
reader_new(const char *mime)
{
	struct archive	*a;

	if ((a = archive_read_new()) == NULL)
		return NULL;
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_compress(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_lzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_lz4(a);
	archive_read_support_filter_rpm(a);
	/*
	 * A compressed stream is its own layer: its whole content becomes
	 * one member (format "raw"), classified and unpacked like any other.
	 * Letting libarchive read tar straight through gzip would stop at
	 * tar's end marker and leave the rest of the stream unexamined.
	 */
	if (is_compression(mime))
		archive_read_support_format_raw(a);
	else
		archive_read_support_format_all(a);
	return a;
}

/* Copies the rest of a member into a memfd, raw-scanning it on the way. */
static int
spool(struct arsrc *as, const uint8_t *peek, size_t npeek)
{
	struct job	*job = as->job;
	ssize_t		 n;
	int		 fd;

	if ((fd = memfd_create("vigil-spool", MFD_CLOEXEC)) == -1) {
		scan_problem(job, as->depth, VIGIL_R_IO, strerror(errno));
		return -1;
	}
	if (npeek > 0 && write(fd, peek, npeek) != (ssize_t)npeek)
		goto fail;
	while ((n = as->src->read(as->src, as->buf, SCAN_CHUNK)) > 0) {
		if (!scan_account(job, (size_t)n) ||
		    match_feed(as->unit, as->buf, (size_t)n) != VIGIL_OK)
			break;
		if (write(fd, as->buf, (size_t)n) != n)
			goto fail;
	}
	return fd;
fail:
	scan_problem(job, as->depth, VIGIL_R_IO, strerror(errno));
	close(fd);
	return -1;
}

enum vigil_err
unpack_container(struct job *job, struct src *src, unsigned depth,
    enum unpack_kind kind, const char *mime, const uint8_t *peek,
    size_t npeek, struct match_unit *unit)
{
	struct arsrc	 as;
	struct archive	*a = NULL;
	enum vigil_err	 err = VIGIL_OK;
	ssize_t		 n;
	int		 r, spoolfd = -1;

	memset(&as, 0, sizeof(as));
	as.job = job;
	as.src = src;
	as.unit = unit;
	as.depth = depth;
	as.peek = peek;
	as.npeek = npeek;
	as.fd = -1;
	if ((as.buf = vg_malloc(SCAN_CHUNK)) == NULL)
		return VIGIL_E_NOMEM;

	/* The peeked bytes are part of the raw layer. */
	/*
	 * The tar stream inside a .tar.gz is not matched as a whole: its
	 * bytes are its members' bytes, each matched as a member, and the
	 * compressed file around it was matched as the object's raw layer.
	 */
	as.raw = !job->hide[depth];
	if (!scan_account(job, npeek) ||
	    (as.raw && (err = match_feed(unit, peek, npeek)) != VIGIL_OK))
		goto out;

	if (kind == UNPACK_SEEK) {
		if (src->seekable) {
			/* Raw pass first, then libarchive preads the fd. */
			while ((n = src->read(src, as.buf, SCAN_CHUNK)) > 0) {
				if (!scan_account(job, (size_t)n))
					break;
				if ((err = match_feed(unit, as.buf,
				    (size_t)n)) != VIGIL_OK)
					goto out;
			}
			as.fd = src->fd;
			if (src->fd == -1)
				as.rd = src->rd;
		} else if ((as.fd = spoolfd = spool(&as, peek, npeek)) == -1)
			goto out;
		if (job->stop)
			goto out;
	}
	if ((a = reader_new(mime)) == NULL) {
		err = VIGIL_E_NOMEM;
		goto out;
	}
	archive_read_set_callback_data(a, &as);
	if (kind == UNPACK_SEEK) {
		archive_read_set_read_callback(a, seek_read);
		archive_read_set_seek_callback(a, seek_seek);
		archive_read_set_skip_callback(a, seek_skip);
	} else
		archive_read_set_read_callback(a, stream_read);
	if ((r = archive_read_open1(a)) != ARCHIVE_OK) {
		if (!job->stop)
			scan_problem(job, depth, looks_encrypted(a) ?
			    VIGIL_R_ENCRYPTED : VIGIL_R_CORRUPT,
			    archive_error_string(a));
		goto drain;
	}
	err = walk_members(&as, a);
drain:
	/* Whatever libarchive did not read is still the raw layer. */
	if (kind == UNPACK_STREAM && err == VIGIL_OK)
		while (!job->stop && (n = src->read(src, as.buf,
		    SCAN_CHUNK)) > 0) {
			if (!scan_account(job, (size_t)n))
				break;
			if (as.raw && (err = match_feed(unit, as.buf,
			    (size_t)n)) != VIGIL_OK)
				break;
		}
out:
	if (a != NULL)
		archive_read_free(a);
	if (spoolfd != -1)
		close(spoolfd);
	vg_free(as.buf);
	return err;
}
