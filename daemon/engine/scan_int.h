/*
 * scan_int.h: one job's state, shared by scan.c (units, results, limits)
 * and unpack.c (containers).
 */
#ifndef VIGIL_SCAN_INT_H
#define VIGIL_SCAN_INT_H

#include <sys/types.h>

#include <openssl/evp.h>

#include "engine_int.h"

#define SCAN_CHUNK	(128 * 1024)
/* Leading bytes classified: ISO 9660 says who it is at 32 KiB + 1. */
#define SCAN_PEEK	(36 * 1024)
#define SCAN_MAX_MATCHES 256
#define SCAN_MAX_PROBLEMS 256

struct job;

/*
 * A source of bytes for one unit: the top-level fd, a member of an open
 * archive, or a spool.  read returns bytes read, 0 at the end, -1 on error
 * (the source records the problem itself).
 */
struct src {
	ssize_t		(*read)(struct src *, void *, size_t);
	struct job	*job;
	int		 fd;		/* -1 unless fd-backed */
	int		 seekable;	/* fd supports pread */
	int		 hash;		/* top level: feed the SHA-256 */
	struct archive	*ar;		/* member of this archive */
	void		*owner;		/* unpack.c's state for ar */
	int		 decompressed;	/* all of a compressed stream */
	const uint8_t	*blk;		/* member: current data block */
	size_t		 blklen;
	int64_t		 blkoff;	/* member offset of blk[0] */
	int64_t		 pos;		/* bytes handed out so far */
	int		 eof;
	int		 failed;
	int		 timed_out;	/* a pipe stayed silent too long */
	/* Top level from an eng_reader: pread for seekable formats. */
	const struct eng_reader *rd;
	uint64_t	 size;		/* with rd->pread */
};

struct job {
	struct eng_scanner		*sc;
	struct eng_ruleset		*rs;
	const struct vigil_limits	*lim;
	struct eng_result		*res;
	EVP_MD_CTX			*sha;
	double				 deadline;
	uint64_t			 bytes;		/* fed to matchers */
	uint64_t			 members;
	struct match_ctx		*sc_match;	/* the scanner's matcher */
	int				 text_layer;	/* normalise text too */
	int				 stop;		/* a job-wide limit hit */
	enum vigil_err			 err;		/* NOMEM and the like */
	const char			*path[ENG_MAX_DEPTH + 2];
	/* Hidden path elements: the tar inside .tar.gz is one layer. */
	unsigned char			 hide[ENG_MAX_DEPTH + 2];
	unsigned			 depth;		/* path[0..depth] */
};

/* scan.c */
enum vigil_err	scan_unit(struct job *, struct src *, unsigned depth);
void		scan_problem(struct job *, unsigned depth, enum vigil_reason,
		    const char *detail);
struct tl;
/*
 * End a unit's text layer (from tl_begin_utf8()): evaluate the rules on
 * it, report those that held only there as [..., "#text"], free it.
 * tl may be NULL.  Call after the unit's raw match_end().
 */
enum vigil_err	scan_text_end(struct job *, unsigned depth, struct tl *,
		    const char *mime);
/*
 * Waits until fd is readable (or in error: the read will say) before the
 * job's deadline: 1, or 0 once the deadline passed.
 */
int		scan_wait_readable(const struct job *, int fd);
/*
 * The buffer a lazy text layer keeps raw bytes in (text.c), empty, holding
 * at most max: one per scanner, so that its pages stay mapped from one
 * object to the next.  NULL while another layer has it.
 */
struct vg_buf	*scan_keep_take(struct job *, size_t max);
void		 scan_keep_give(struct job *, struct vg_buf *);
/* Count n more bytes against the limits; false once the job must stop. */
int		scan_account(struct job *, size_t n);
ssize_t		src_read_full(struct src *, void *, size_t);

/*
 * Sources for units extracted by pdf.c and mail.c.  src_init_mem(): n bytes
 * at p, borrowed for the unit's life.  src_init_fd(): a regular file or
 * memfd from its current offset to its end, borrowed.
 */
void		src_init_mem(struct src *, struct job *, const void *p,
		    size_t n);
void		src_init_fd(struct src *, struct job *, int fd);
/*
 * Copy a unit (peek[0..npeek), then the rest of src) into a new memfd,
 * counting every byte and feeding it to unit, its raw layer; buf is
 * scratch of SCAN_CHUNK bytes.  Returns the fd (the caller closes it),
 * holding a prefix if a limit stopped the job, or -1 after recording a
 * problem.
 */
int		scan_spool(struct job *, struct src *, unsigned depth,
		    const uint8_t *peek, size_t npeek, struct match_unit *unit,
		    uint8_t *buf);
/*
 * Map a spool read-only: 1 with *map and *len set (munmap when done), 0
 * when it is empty, -1 when mmap failed (an "io" problem is recorded).
 */
int		scan_map(struct job *, unsigned depth, int fd, uint8_t **map,
		    size_t *len);

/*
 * pdf.c and mail.c (issue 3): documents whose text is extracted.  Each
 * feeds every byte of the unit (peek, then the rest of src) to unit,
 * scans its parts as members at depth + 1 and returns in *tl the unit's
 * text layer (or NULL), for scan_unit() to end after the raw layer.  A
 * damaged document is VIGIL_OK with a problem recorded.
 */
enum vigil_err	pdf_scan(struct job *, struct src *, unsigned depth,
		    const uint8_t *peek, size_t npeek, struct match_unit *unit,
		    struct tl **tl);
enum vigil_err	mail_scan(struct job *, struct src *, unsigned depth,
		    const uint8_t *peek, size_t npeek, struct match_unit *unit,
		    struct tl **tl);
/* Do these leading bytes of a "text/plain" unit hold a mail header? */
int		mail_sniff(const uint8_t *peek, size_t n);
/* Sends GLib's, GMime's and poppler's log messages to vg_log_debug(). */
void		doc_glib_quiet(void);

/* unpack.c */
enum unpack_kind { UNPACK_NONE, UNPACK_STREAM, UNPACK_SEEK };
enum unpack_kind unpack_kind(const char *mime, const uint8_t *peek,
		    size_t n);
/*
 * Walk the container whose first bytes are peek[0..npeek) and the rest in
 * src, scanning every member at depth + 1.  Every byte of the container
 * itself is fed to unit (its raw layer).
 */
enum vigil_err	unpack_container(struct job *, struct src *, unsigned depth,
		    enum unpack_kind, const char *mime, const uint8_t *peek,
		    size_t npeek, struct match_unit *unit);

#endif /* VIGIL_SCAN_INT_H */
