/*
 * log.c: one place where vigil writes diagnostics.
 *
 * The command-line tools print "vigil: message"; the daemon prints one JSON
 * object per line ({"ts":..., "level":..., "msg":...}) so log shippers need
 * no parser of ours.  Lines are written with a single write(2) so threads
 * never interleave within a line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vigil/core.h"

static const char	*log_prog = "vigil";
static enum vg_log_level log_level = VG_LOG_INFO;
static int		 log_json;

static const char *const level_names[] = {
	[VG_LOG_ERROR] = "error",
	[VG_LOG_WARN] = "warn",
	[VG_LOG_INFO] = "info",
	[VG_LOG_DEBUG] = "debug",
};

void
vg_log_init(const char *progname, enum vg_log_level level, int json)
{
	if (progname != NULL)
		log_prog = progname;
	log_level = level;
	log_json = json;
}

/* Appends s to out as a JSON string body (no quotes). */
static void
json_escape(struct vg_buf *out, const char *s)
{
	struct vg_buf	tmp;

	vg_buf_init(&tmp, 8192);
	(void)vg_buf_add_utf8(&tmp, s, strlen(s));
	for (size_t i = 0; i < tmp.len; i++) {
		unsigned char c = (unsigned char)tmp.data[i];

		if (c == '"' || c == '\\') {
			(void)vg_buf_addc(out, '\\');
			(void)vg_buf_addc(out, (char)c);
		} else if (c < 0x20)
			(void)vg_buf_addf(out, "\\u%04x", c);
		else
			(void)vg_buf_addc(out, (char)c);
	}
	vg_buf_free(&tmp);
}

static void	vlog(enum vg_log_level, int, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

static void
vlog(enum vg_log_level level, int errnum, const char *fmt, va_list ap)
{
	char		 msg[2048];
	struct vg_buf	 line;
	int		 n;

	if (level > log_level)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= 0 && errnum != 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s",
		    strerror(errnum));

	vg_buf_init(&line, 16384);
	if (log_json) {
		struct timespec	ts;
		char		tbuf[40];

		clock_gettime(CLOCK_REALTIME, &ts);
		vg_iso_time((double)ts.tv_sec + ts.tv_nsec / 1e9, 1, tbuf,
		    sizeof(tbuf));
		(void)vg_buf_addf(&line, "{\"ts\":\"%s\",\"level\":\"%s\","
		    "\"msg\":\"", tbuf, level_names[level]);
		json_escape(&line, msg);
		(void)vg_buf_add(&line, "\"}\n", 3);
	} else
		(void)vg_buf_addf(&line, "%s: %s\n", log_prog, msg);
	if (line.data != NULL)
		(void)!write(STDERR_FILENO, line.data, line.len);
	vg_buf_free(&line);
}

void
vg_log(enum vg_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, 0, fmt, ap);
	va_end(ap);
}

void
vg_log_warn(const char *fmt, ...)
{
	int	saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(VG_LOG_WARN, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
vg_log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(VG_LOG_WARN, 0, fmt, ap);
	va_end(ap);
}

void
vg_log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(VG_LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
vg_log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(VG_LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
vg_fatal(const char *fmt, ...)
{
	int	saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(VG_LOG_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(3);
}

void
vg_fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(VG_LOG_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(3);
}
