/*
 * cron.h: crontab(5) schedules (daemon/core/cron.c).
 *
 * A schedule is parsed once into bit sets and then asked for its next
 * firing time, or for the latest one in a past interval (a run missed while
 * the daemon was down).  Times are unix seconds; matching is on whole
 * minutes of local time as set by TZ at the last tzset(3).  Pure functions:
 * any thread, as long as nobody changes TZ meanwhile.
 *
 * Daylight saving time.  A schedule tied to particular hours (its hour
 * field leaves out at least one hour) runs once per matching wall-clock
 * time: a time skipped by a spring-forward gap runs at the first minute
 * after the gap (02:30 in Europe/Berlin's lost hour runs at 03:00 CEST,
 * once however many matches fell in the gap), and a time in an hour that
 * is repeated at fall-back runs in its first pass only.  A schedule that
 * runs in every hour follows the clock instead: matches in a gap do not
 * happen and matches in a repeated hour happen twice, so "0 * * * *" fires
 * each real hour.  (cronie behaves alike but tells the two kinds apart by
 * a leading '*' in the minute or hour field.)
 */
#ifndef VIGIL_CRON_H
#define VIGIL_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vigil/vigil.h"

/*
 * Bit n of a field set means value n matches.  dow is 0-6 with Sunday 0
 * (7 in the text is Sunday too).  dom_star and dow_star record that the
 * field's text began with '*': as in Vixie cron, when neither does, a day
 * matches if either its day of month or its day of week does; otherwise
 * both must.
 */
struct vg_cron {
	uint64_t	minute;		/* 0-59 */
	uint32_t	hour;		/* 0-23 */
	uint32_t	dom;		/* 1-31 */
	uint16_t	month;		/* 1-12 */
	uint8_t		dow;		/* 0-6 */
	uint8_t		dom_star;
	uint8_t		dow_star;
};

/*
 * Parses expr, five blank-separated fields (minute hour day-of-month
 * month day-of-week) of comma lists of "*", "n", "n-m", each with an
 * optional "/step" ("n/step" alone is refused); months and weekdays also
 * by English three-letter names, any case.  Or one of @hourly @daily
 * @midnight @weekly @monthly @yearly @annually.  On VIGIL_OK fills *out.
 * VIGIL_E_SYNTAX: err (if errlen > 0) names the field and the text, e.g.
 * "hour: 25 is out of range 0-23".  VIGIL_E_UNSUPPORTED: @reboot.
 */
enum vigil_err	vg_cron_parse(const char *expr, struct vg_cron *out,
		    char *err, size_t errlen);

/*
 * The first firing time strictly after `after` (a whole minute), or -1 if
 * there is none within five years (e.g. "0 0 31 2 *").
 */
time_t		vg_cron_next(const struct vg_cron *, time_t after);

/*
 * The latest firing time t with since < t <= now, or -1 if there is none
 * (looking back at most five years).  A scheduler that was not running at
 * a firing time calls this at start with the time of its last run, and
 * runs the job once if it returns a time.
 */
time_t		vg_cron_prev(const struct vg_cron *, time_t since,
		    time_t now);

#endif /* VIGIL_CRON_H */
