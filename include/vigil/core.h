/*
 * core.h: logging, allocation and bounded buffers, shared by every module.
 */
#ifndef VIGIL_CORE_H
#define VIGIL_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/vigil.h"

/*
 * Logging.  Lines go to stderr, as "vigil: message" for the command-line
 * tools or as one JSON object per line for the daemon (vg_log_json(1)).
 * The *_warn and vg_fatal variants append strerror(errno); the *x variants
 * do not.  vg_fatal*() exit(3) and belong to start-up code.
 */
enum vg_log_level { VG_LOG_ERROR, VG_LOG_WARN, VG_LOG_INFO, VG_LOG_DEBUG };

void	vg_log_init(const char *progname, enum vg_log_level, int json);
void	vg_log(enum vg_log_level, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	vg_log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	vg_log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	vg_log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	vg_log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	vg_fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	vg_fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Allocation.  Every allocation in vigil goes through these, so tests can
 * make the Nth call fail (vg_alloc_fail_after) and check error paths.
 * They return NULL on failure; callers turn that into VIGIL_E_NOMEM.
 */
void	*vg_malloc(size_t);
void	*vg_calloc(size_t, size_t);
void	*vg_realloc(void *, size_t);
void	*vg_reallocarray(void *, size_t, size_t);
char	*vg_strdup(const char *);
char	*vg_strndup(const char *, size_t);
void	 vg_free(void *);
/* Fail the nth allocation from now (1 = the next); 0 turns failing off. */
void	 vg_alloc_fail_after(unsigned long n);

/*
 * A growable byte buffer with a hard cap given at creation (curl's dynbuf,
 * OpenSSH's sshbuf): growing past the cap is VIGIL_E_LIMIT.  The bytes are
 * kept NUL-terminated for convenience; len excludes the terminator.
 */
struct vg_buf {
	char	*data;
	size_t	 len;
	size_t	 cap;	/* allocated */
	size_t	 max;	/* hard cap on len */
};

void		vg_buf_init(struct vg_buf *, size_t max);
enum vigil_err	vg_buf_add(struct vg_buf *, const void *, size_t);
enum vigil_err	vg_buf_addf(struct vg_buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
enum vigil_err	vg_buf_addc(struct vg_buf *, char);
/*
 * Make room for extra more bytes, for a caller that writes them at
 * data + len itself and then advances len.
 */
enum vigil_err	vg_buf_reserve(struct vg_buf *, size_t extra);
void		vg_buf_reset(struct vg_buf *);
/* Returns the bytes and hands them to the caller (free with vg_free). */
char		*vg_buf_detach(struct vg_buf *, size_t *lenp);
void		vg_buf_free(struct vg_buf *);
/*
 * Keeps the last cap bytes of a stream in win (*have of them so far),
 * adding n more from p: a sliding window over data fed in chunks.
 */
void		vg_keep_tail(uint8_t *win, size_t cap, size_t *have,
		    const void *p, size_t n);

/*
 * Append s to b with every invalid UTF-8 sequence replaced by U+FFFD and
 * control characters kept; used wherever untrusted names become output.
 */
enum vigil_err	vg_buf_add_utf8(struct vg_buf *, const char *s, size_t n);

/* The value of hex digit c (either case), -1 if it is not one. */
int	vg_hexval(int c);

/* Parse "10", "10k", "64M", "1G" (binary units).  -1 on malformed input. */
int	vg_parse_size(const char *, uint64_t *out);

/* Monotonic seconds. */
double	vg_now(void);
/*
 * Unix time t as ISO 8601 UTC, "2026-11-26T10:13:40Z", or with ms
 * "2026-11-26T10:13:40.123Z", into buf (at least 32 bytes).
 */
void	vg_iso_time(double t, int ms, char *buf, size_t len);

#endif /* VIGIL_CORE_H */
