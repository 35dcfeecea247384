/*
 * test_cron.c: crontab schedules: every syntax form and error message,
 * next and prev across month and year ends, leap days, the day-of-month
 * OR day-of-week rule, Europe/Berlin's DST changes, and a minute-by-minute
 * reference run against a few hundred random schedules in five zones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "vigil/core.h"
#include "vigil/cron.h"

#define ALL_MIN		((1ULL << 60) - 1)
#define ALL_HOUR	((1U << 24) - 1)
#define ALL_DOM		(((1U << 31) - 1) << 1)
#define ALL_MONTH	((uint16_t)(((1U << 12) - 1) << 1))
#define ALL_DOW		((uint8_t)0x7f)

static void
zone(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* A local time that exists exactly once. */
static time_t
local(int y, int mo, int d, int h, int mi)
{
	struct tm	tm = { 0 };

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

static time_t
utc(int y, int mo, int d, int h, int mi)
{
	struct tm	tm = { 0 };

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return timegm(&tm);
}

static struct vg_cron
parse(const char *expr)
{
	struct vg_cron	c;
	char		err[128];

	if (vg_cron_parse(expr, &c, err, sizeof(err)) != VIGIL_OK)
		fail_msg("%s: %s", expr, err);
	return c;
}

static time_t
next(const char *expr, time_t after)
{
	struct vg_cron	c = parse(expr);

	return vg_cron_next(&c, after);
}

static time_t
prev(const char *expr, time_t since, time_t now)
{
	struct vg_cron	c = parse(expr);

	return vg_cron_prev(&c, since, now);
}

static uint64_t
bits(int lo, int hi, int step)
{
	uint64_t	b = 0;

	for (int v = lo; v <= hi; v += step)
		b |= 1ULL << v;
	return b;
}

static void
test_parse_forms(void **state)
{
	struct vg_cron	c, d;

	(void)state;
	c = parse("* * * * *");
	assert_true(c.minute == ALL_MIN && c.hour == ALL_HOUR);
	assert_true(c.dom == ALL_DOM && c.month == ALL_MONTH);
	assert_true(c.dow == ALL_DOW && c.dom_star && c.dow_star);

	c = parse("  */15\t0-6/2  1,15 jan-MAR,Dec Mon-fri ");
	assert_true(c.minute == bits(0, 59, 15));
	assert_true(c.hour == bits(0, 6, 2));
	assert_true(c.dom == ((1U << 1) | (1U << 15)));
	assert_true(c.month == (bits(1, 3, 1) | bits(12, 12, 1)));
	assert_true(c.dow == bits(1, 5, 1));
	assert_false(c.dom_star || c.dow_star);

	c = parse("5,10-20/5,59 23 */10 2-12/3 7");
	assert_true(c.minute == (bits(5, 5, 1) | bits(10, 20, 5) |
	    bits(59, 59, 1)));
	assert_true(c.dom == bits(1, 31, 10) && c.dom_star);
	assert_true(c.month == bits(2, 12, 3));
	assert_true(c.dow == 1 && !c.dow_star);		/* 7 is Sunday */

	c = parse("0 0 * * 5-7");
	assert_true(c.dow == (bits(5, 6, 1) | 1));
	c = parse("0 0 * * SUN,sat");
	assert_true(c.dow == (1 | 1 << 6));
	c = parse("0 0 * * */2");
	assert_true(c.dow == bits(0, 6, 2) && c.dow_star);
	c = parse("0 0 1 * *");
	assert_false(c.dom_star);
	assert_true(c.dow_star);

	static const char *const macros[][2] = {
		{ "@hourly", "0 * * * *" },
		{ "@daily", "0 0 * * *" },
		{ "@midnight", "0 0 * * *" },
		{ "@weekly", "0 0 * * 0" },
		{ "@monthly", "0 0 1 * *" },
		{ "@yearly", "0 0 1 1 *" },
		{ " @Annually\n", "0 0 1 1 *" },
	};
	for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
		c = parse(macros[i][0]);
		d = parse(macros[i][1]);
		assert_memory_equal(&c, &d, sizeof(c));
	}
}

static void
test_parse_errors(void **state)
{
	static const char *const cases[][2] = {
		{ "0 25 * * *", "hour: 25 is out of range 0-23" },
		{ "60 * * * *", "minute: 60 is out of range 0-59" },
		{ "* * 0 * *", "day-of-month: 0 is out of range 1-31" },
		{ "* * 32 * *", "day-of-month: 32 is out of range 1-31" },
		{ "* * * 13 *", "month: 13 is out of range 1-12" },
		{ "* * * * 8", "day-of-week: 8 is out of range 0-7" },
		{ "1-99999999999 * * * *",
		  "minute: 99999999999 is out of range 0-59" },
		{ "0 0 * *", "expected 5 fields, found 4" },
		{ "0 0 * * * /bin/true", "expected 5 fields, found 6" },
		{ "", "expected 5 fields, found 0" },
		{ "* * * foo *", "month: foo is not a number or month name" },
		{ "* * * * funday",
		  "day-of-week: funday is not a number or day name" },
		{ "* * * jan-sun *",
		  "month: sun is not a number or month name" },
		{ "x * * * *", "minute: x is not a number" },
		{ "30-10 * * * *", "minute: 30-10 is a backwards range" },
		{ "* * * * fri-mon",
		  "day-of-week: fri-mon is a backwards range" },
		{ "*/0 * * * *", "minute: step 0 is out of range 1-60" },
		{ "* */25 * * *", "hour: step 25 is out of range 1-24" },
		{ "5/15 * * * *", "minute: 5/15: a step needs a range or *" },
		{ "*/x * * * *", "minute: */x: the step is not a number" },
		{ "1-5/ * * * *", "minute: 1-5/: the step is not a number" },
		{ "1,,2 * * * *", "minute: empty item in 1,,2" },
		{ "1, * * * *", "minute: empty item in 1," },
		{ "1- * * * *", "minute: 1-: a number is missing" },
		{ "-1 * * * *", "minute: unexpected '-' in -1" },
		{ "1.5 * * * *", "minute: unexpected '.' in 1.5" },
		{ "*-3 * * * *", "minute: unexpected '-' in *-3" },
		{ "1-2-3 * * * *", "minute: unexpected '-' in 1-2-3" },
		{ "1\x01 * * * *", "minute: unexpected byte 0x01" },
		{ "@fortnightly", "@fortnightly is not a known macro" },
		{ "@daily 1", "@daily takes no fields" },
	};
	struct vg_cron	c, before;
	char		err[128], small[8];

	(void)state;
	memset(&before, 0x5a, sizeof(before));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = before;
		strcpy(err, "untouched");
		if (vg_cron_parse(cases[i][0], &c, err, sizeof(err)) !=
		    VIGIL_E_SYNTAX)
			fail_msg("%s: parsed", cases[i][0]);
		assert_string_equal(err, cases[i][1]);
		assert_memory_equal(&c, &before, sizeof(c));
	}
	assert_int_equal(vg_cron_parse("@reboot", &c, err, sizeof(err)),
	    VIGIL_E_UNSUPPORTED);
	assert_string_equal(err, "@reboot is not supported");
	assert_int_equal(vg_cron_parse(NULL, &c, err, sizeof(err)),
	    VIGIL_E_INVAL);
	/* Short or absent buffers truncate or skip the message. */
	assert_int_equal(vg_cron_parse("0 25 * * *", &c, small,
	    sizeof(small)), VIGIL_E_SYNTAX);
	assert_string_equal(small, "hour: 2");
	assert_int_equal(vg_cron_parse("0 25 * * *", &c, NULL, 0),
	    VIGIL_E_SYNTAX);
}

static void
test_next(void **state)
{
	(void)state;
	zone("UTC");
	/* Strictly after, whole minutes, from a time between minutes. */
	assert_int_equal(next("*/15 * * * *", utc(2024, 5, 1, 10, 7) + 30),
	    utc(2024, 5, 1, 10, 15));
	assert_int_equal(next("*/15 * * * *", utc(2024, 5, 1, 10, 15)),
	    utc(2024, 5, 1, 10, 30));
	assert_int_equal(next("* * * * *", utc(2024, 5, 1, 10, 15) - 1),
	    utc(2024, 5, 1, 10, 15));
	/* Month, year and hour ends. */
	assert_int_equal(next("0 0 1 * *", utc(2024, 1, 31, 12, 0)),
	    utc(2024, 2, 1, 0, 0));
	assert_int_equal(next("59 23 31 12 *", utc(2024, 6, 1, 0, 0)),
	    utc(2024, 12, 31, 23, 59));
	assert_int_equal(next("59 23 31 12 *", utc(2024, 12, 31, 23, 59)),
	    utc(2025, 12, 31, 23, 59));
	assert_int_equal(next("0 0 * * *", utc(2024, 12, 31, 23, 59)),
	    utc(2025, 1, 1, 0, 0));
	assert_int_equal(next("10 * * * *", utc(2024, 12, 31, 23, 30)),
	    utc(2025, 1, 1, 0, 10));
	assert_int_equal(next("0 0 31 * *", utc(2024, 4, 1, 0, 0)),
	    utc(2024, 5, 31, 0, 0));
	assert_int_equal(next("@yearly", utc(2024, 1, 1, 0, 0)),
	    utc(2025, 1, 1, 0, 0));
	/* Leap days. */
	assert_int_equal(next("0 0 29 2 *", utc(2023, 1, 1, 0, 0)),
	    utc(2024, 2, 29, 0, 0));
	assert_int_equal(next("0 0 29 2 *", utc(2024, 2, 29, 0, 0)),
	    utc(2028, 2, 29, 0, 0));
	assert_int_equal(next("0 0 29 2 *", utc(2099, 3, 1, 0, 0)),
	    utc(2104, 2, 29, 0, 0));	/* 2100 is not a leap year */
	assert_int_equal(next("0 0 29 2 *", utc(2096, 3, 1, 0, 0)), -1);
	assert_int_equal(next("0 0 29 2 *", utc(2000, 2, 28, 0, 0)),
	    utc(2000, 2, 29, 0, 0));	/* but 2000 was */
	/* Never, within five years. */
	assert_int_equal(next("0 0 31 2 *", utc(2024, 1, 1, 0, 0)), -1);
	assert_int_equal(next("0 0 30 2 *", utc(2024, 1, 1, 0, 0)), -1);
	assert_int_equal(next("0 0 31 4,6,9,11 *", utc(2024, 1, 1, 0, 0)),
	    -1);
	/* Weekdays, 7 = Sunday; 2024-01-03 was a Wednesday. */
	assert_int_equal(next("0 0 * * 7", utc(2024, 1, 3, 0, 0)),
	    utc(2024, 1, 7, 0, 0));
	assert_int_equal(next("0 0 * * sun", utc(2024, 1, 3, 0, 0)),
	    utc(2024, 1, 7, 0, 0));
	assert_int_equal(next("@weekly", utc(2024, 1, 3, 0, 0)),
	    utc(2024, 1, 7, 0, 0));
	assert_int_equal(next("0 9 * * mon-fri", utc(2024, 1, 5, 10, 0)),
	    utc(2024, 1, 8, 9, 0));
}

/* Both day fields restricted: either matches; one starred: both must. */
static void
test_dom_dow(void **state)
{
	(void)state;
	zone("UTC");
	/* Friday 2024-09-06 comes before the 13th (itself a Friday). */
	assert_int_equal(next("0 12 13 * fri", utc(2024, 9, 1, 0, 0)),
	    utc(2024, 9, 6, 12, 0));
	assert_int_equal(next("0 12 13 * fri", utc(2024, 9, 6, 12, 0)),
	    utc(2024, 9, 13, 12, 0));
	assert_int_equal(next("0 12 13 * mon", utc(2024, 9, 3, 0, 0)),
	    utc(2024, 9, 9, 12, 0));
	assert_int_equal(next("0 12 13 * mon", utc(2024, 9, 10, 0, 0)),
	    utc(2024, 9, 13, 12, 0));
	assert_int_equal(next("0 12 13 * *", utc(2024, 9, 1, 0, 0)),
	    utc(2024, 9, 13, 12, 0));
	assert_int_equal(next("0 12 * * mon", utc(2024, 9, 1, 0, 0)),
	    utc(2024, 9, 2, 12, 0));
	/* "*" + step still counts as '*': odd days that are Mondays. */
	assert_int_equal(next("0 12 */2 * mon", utc(2024, 9, 1, 0, 0)),
	    utc(2024, 9, 9, 12, 0));
	assert_int_equal(next("0 12 */2 * mon", utc(2024, 9, 9, 12, 0)),
	    utc(2024, 9, 23, 12, 0));
	/* The OR rule makes "31 February" reachable through weekdays. */
	assert_int_equal(next("0 0 31 2 mon", utc(2024, 2, 1, 0, 0)),
	    utc(2024, 2, 5, 0, 0));
}

/*
 * Europe/Berlin, 2024: 2024-03-31 02:00 CET jumps to 03:00 CEST (01:00
 * UTC); 2024-10-27 03:00 CEST falls back to 02:00 CET (01:00 UTC).
 */
static void
test_dst(void **state)
{
	(void)state;
	zone("Europe/Berlin");
	assert_int_equal(local(2024, 3, 30, 12, 0), utc(2024, 3, 30, 11, 0));

	/* Spring: a fixed time in the gap runs when the gap ends, once. */
	assert_int_equal(next("30 2 * * *", local(2024, 3, 30, 12, 0)),
	    utc(2024, 3, 31, 1, 0));
	assert_int_equal(next("30 2 * * *", utc(2024, 3, 31, 1, 0)),
	    utc(2024, 4, 1, 0, 30));
	assert_int_equal(next("*/15 2 * * *", local(2024, 3, 31, 1, 59)),
	    utc(2024, 3, 31, 1, 0));
	assert_int_equal(next("*/15 2 * * *", utc(2024, 3, 31, 1, 0)),
	    utc(2024, 4, 1, 0, 0));
	assert_int_equal(next("0,30 2,3 * * *", utc(2024, 3, 31, 1, 0)),
	    utc(2024, 3, 31, 1, 30));
	/* ... while an every-hour schedule follows the clock. */
	assert_int_equal(next("30 * * * *", utc(2024, 3, 31, 0, 30)),
	    utc(2024, 3, 31, 1, 30));
	assert_int_equal(next("0 * * * *", utc(2024, 3, 31, 0, 0)),
	    utc(2024, 3, 31, 1, 0));
	assert_int_equal(next("* * * * *", utc(2024, 3, 31, 0, 59)),
	    utc(2024, 3, 31, 1, 0));
	assert_int_equal(prev("30 2 * * *", utc(2024, 3, 30, 12, 0),
	    utc(2024, 3, 31, 10, 0)), utc(2024, 3, 31, 1, 0));
	assert_int_equal(prev("30 2 * * *", utc(2024, 3, 29, 12, 0),
	    utc(2024, 3, 31, 0, 59)), utc(2024, 3, 30, 1, 30));
	assert_int_equal(prev("30 2 * * *", utc(2024, 3, 30, 12, 0),
	    utc(2024, 3, 31, 0, 59)), -1);

	/* Autumn: a fixed time in the repeated hour runs the first time. */
	assert_int_equal(next("30 2 * * *", local(2024, 10, 26, 12, 0)),
	    utc(2024, 10, 27, 0, 30));
	assert_int_equal(next("30 2 * * *", utc(2024, 10, 27, 0, 30)),
	    utc(2024, 10, 28, 1, 30));
	assert_int_equal(next("0 2 * * *", utc(2024, 10, 26, 12, 0)),
	    utc(2024, 10, 27, 0, 0));
	assert_int_equal(next("0 3 * * *", utc(2024, 10, 27, 0, 0)),
	    utc(2024, 10, 27, 2, 0));
	/* ... and an every-hour schedule runs in both passes. */
	assert_int_equal(next("30 * * * *", utc(2024, 10, 27, 0, 0)),
	    utc(2024, 10, 27, 0, 30));
	assert_int_equal(next("30 * * * *", utc(2024, 10, 27, 0, 30)),
	    utc(2024, 10, 27, 1, 30));
	assert_int_equal(next("30 * * * *", utc(2024, 10, 27, 1, 30)),
	    utc(2024, 10, 27, 2, 30));
	/* From late in the first pass, 02:15 CET comes before 03:15. */
	assert_int_equal(next("15 * * * *", utc(2024, 10, 27, 0, 50)),
	    utc(2024, 10, 27, 1, 15));
	/* From early in the second pass, 02:45 CEST is already past. */
	assert_int_equal(prev("45 2 * * *", utc(2024, 10, 26, 0, 0),
	    utc(2024, 10, 27, 1, 10)), utc(2024, 10, 27, 0, 45));
	assert_int_equal(prev("45 * * * *", utc(2024, 10, 26, 0, 0),
	    utc(2024, 10, 27, 1, 50)), utc(2024, 10, 27, 1, 45));
	assert_int_equal(prev("45 * * * *", utc(2024, 10, 26, 0, 0),
	    utc(2024, 10, 27, 1, 10)), utc(2024, 10, 27, 0, 45));
	zone("UTC");
}

/* A run missed while the daemon was down runs once at start. */
static void
test_prev(void **state)
{
	time_t	now = utc(2024, 1, 4, 10, 0);

	(void)state;
	zone("UTC");
	assert_int_equal(prev("0 3 * * *", utc(2024, 1, 1, 3, 0), now),
	    utc(2024, 1, 4, 3, 0));
	assert_int_equal(prev("0 3 * * *", utc(2024, 1, 4, 3, 0), now), -1);
	assert_int_equal(prev("0 3 * * *", utc(2024, 1, 4, 2, 59), now),
	    utc(2024, 1, 4, 3, 0));
	assert_int_equal(prev("0 10 * * *", utc(2024, 1, 1, 0, 0), now),
	    now);				/* at or before now */
	assert_int_equal(prev("0 10 * * *", now, now), -1);
	assert_int_equal(prev("0 10 * * *", now + 1, now), -1);
	assert_int_equal(prev("0 0 1 1 *", utc(2023, 6, 1, 0, 0), now),
	    utc(2024, 1, 1, 0, 0));
	assert_int_equal(prev("0 0 1 * *", utc(2023, 6, 1, 0, 0), now + 30),
	    utc(2024, 1, 1, 0, 0));
	assert_int_equal(prev("0 0 31 12 *", utc(2023, 6, 1, 0, 0), now),
	    utc(2023, 12, 31, 0, 0));
	assert_int_equal(prev("0 0 29 2 *", 0, utc(2025, 6, 1, 0, 0)),
	    utc(2024, 2, 29, 0, 0));
	assert_int_equal(prev("0 0 31 2 *", 0, now), -1);
	assert_int_equal(prev("* * * * *", 0, now + 59), now);
}

/* A reference: every minute of 2024 (and a margin) in one zone. */
struct minute {
	time_t	t;
	int64_t	civ;	/* wall clock in seconds, no zone */
	uint8_t	min, hour, mday, mon, wday;
	uint8_t	repeat;	/* the wall clock showed this before */
	uint8_t	gap;	/* the wall clock jumped forward to this */
};

struct sweep {
	struct minute	*m;
	size_t		 n;
	size_t		 change[8];	/* where the offset changed */
	size_t		 nchange;
};

static void
sweep_build(struct sweep *s, const char *tz)
{
	time_t		from = utc(2023, 12, 29, 0, 0);
	time_t		to = utc(2025, 1, 3, 0, 0);
	int64_t		maxciv = INT64_MIN;
	struct tm	tm;

	zone(tz);
	s->nchange = 0;
	s->n = (size_t)(to - from) / 60;
	s->m = calloc(s->n, sizeof(*s->m));
	assert_non_null(s->m);
	for (size_t i = 0; i < s->n; i++) {
		struct minute	*m = &s->m[i];

		m->t = from + (time_t)i * 60;
		localtime_r(&m->t, &tm);
		m->civ = m->t + tm.tm_gmtoff;
		m->min = tm.tm_min;
		m->hour = tm.tm_hour;
		m->mday = tm.tm_mday;
		m->mon = tm.tm_mon + 1;
		m->wday = tm.tm_wday;
		m->repeat = m->civ <= maxciv;
		m->gap = i > 0 && m->civ - s->m[i - 1].civ > 60;
		if (i > 0 && m->civ - s->m[i - 1].civ != 60 &&
		    s->nchange < sizeof(s->change) / sizeof(s->change[0]))
			s->change[s->nchange++] = i;
		if (m->civ > maxciv)
			maxciv = m->civ;
	}
}

static int
fields_match(const struct vg_cron *c, int min, int hour, int mday, int mon,
    int wday)
{
	int	dom, dow;

	if (!(c->minute >> min & 1) || !(c->hour >> hour & 1) ||
	    !(c->month >> mon & 1))
		return 0;
	dom = c->dom >> mday & 1;
	dow = c->dow >> wday & 1;
	return c->dom_star || c->dow_star ? dom && dow : dom || dow;
}

/* cron.h's rules, read literally, one minute at a time. */
static int
fires(const struct vg_cron *c, const struct sweep *s, size_t i)
{
	const struct minute	*m = &s->m[i];
	int			 hourly = c->hour == ALL_HOUR;
	struct tm		 tm;
	time_t			 v;

	if (fields_match(c, m->min, m->hour, m->mday, m->mon, m->wday) &&
	    (!m->repeat || hourly))
		return 1;
	if (!m->gap || hourly)
		return 0;
	for (v = s->m[i - 1].civ + 60; v < m->civ; v += 60) {
		gmtime_r(&v, &tm);
		if (fields_match(c, tm.tm_min, tm.tm_hour, tm.tm_mday,
		    tm.tm_mon + 1, tm.tm_wday))
			return 1;
	}
	return 0;
}

static uint64_t	rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static int
gen_value(char *buf, size_t len, int v, const char *const *names,
    int min)
{
	if (names != NULL && v - min < 7 + 5 * (min == 1) && rnd(3) == 0)
		return snprintf(buf, len, "%s", names[v - min]);
	return snprintf(buf, len, "%d", v);
}

/* A random field text in buf with the set it stands for in *set. */
static void
gen_field(char *buf, size_t len, int min, int max, const char *const *names,
    int sunday7, uint64_t *set, int *star)
{
	int		 items = rnd(4) == 0 ? 2 + rnd(2) : 1;
	int		 lo, hi, step, n;
	size_t		 off = 0;
	uint32_t	 form;

	*set = 0;
	*star = 0;
	for (int i = 0; i < items; i++) {
		if (i > 0)
			buf[off++] = ',';
		form = items == 1 ? rnd(10) : 3 + rnd(7);
		lo = min + (int)rnd(max - min + 1);
		hi = lo + (int)rnd(max - lo + 1);
		step = 1 + (int)rnd((max - min) / 2 + 1);
		if (form < 3) {
			*star = 1;
			lo = min;
			hi = sunday7 ? max - 1 : max;
			if (form == 0)
				step = 1;
			n = form == 0 ? snprintf(buf + off, len - off, "*") :
			    snprintf(buf + off, len - off, "*/%d", step);
		} else if (form < 6) {
			hi = lo;
			step = 1;
			n = gen_value(buf + off, len - off, lo, names, min);
		} else {
			if (form < 8)
				step = 1;
			n = gen_value(buf + off, len - off, lo, names, min);
			off += n;
			buf[off++] = '-';
			n = gen_value(buf + off, len - off, hi, names, min);
			if (form >= 8) {
				off += n;
				n = snprintf(buf + off, len - off, "/%d",
				    step);
			}
		}
		off += n;
		for (int v = lo; v <= hi; v += step)
			*set |= 1ULL << (sunday7 && v == max ? 0 : v);
	}
	buf[off] = '\0';
}

static const char *const months[] = { "Jan", "feb", "MAR", "apr", "May",
    "jun", "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const days[] = { "sun", "Mon", "tue", "WED", "thu",
    "fri", "sat" };

static void
gen(char *expr, size_t len, struct vg_cron *want)
{
	char		f[5][64];
	uint64_t	set;
	int		star;

	memset(want, 0, sizeof(*want));
	gen_field(f[0], sizeof(f[0]), 0, 59, NULL, 0, &set, &star);
	want->minute = set;
	/* Half every-hour schedules, which DST treats differently. */
	if (rnd(2) == 0) {
		strcpy(f[1], "*");
		set = ALL_HOUR;
	} else
		gen_field(f[1], sizeof(f[1]), 0, 23, NULL, 0, &set, &star);
	want->hour = (uint32_t)set;
	gen_field(f[2], sizeof(f[2]), 1, 31, NULL, 0, &set, &star);
	want->dom = (uint32_t)set;
	want->dom_star = star;
	gen_field(f[3], sizeof(f[3]), 1, 12, months, 0, &set, &star);
	want->month = (uint16_t)set;
	gen_field(f[4], sizeof(f[4]), 0, 7, days, 1, &set, &star);
	want->dow = (uint8_t)set;
	want->dow_star = star;
	snprintf(expr, len, "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
}

/* Index of the first reference minute after t (t within the sweep). */
static size_t
index_after(const struct sweep *s, time_t t)
{
	return (size_t)((t - s->m[0].t) / 60 + 1);
}

static void
test_reference(void **state)
{
	static const char *const zones[] = { "UTC", "Europe/Berlin",
	    "Australia/Sydney", "America/New_York", "Australia/Lord_Howe" };
	struct sweep	 s;
	struct vg_cron	 c, want;
	char		 expr[400];
	uint8_t		*fire;
	uint32_t	*nxt, *lst;	/* firing at or after i, up to i */
	time_t		 start, end, after, since, got, ref;
	size_t		 i, j, k, nfire;

	(void)state;
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		sweep_build(&s, zones[z]);
		fire = calloc(s.n, 1);
		nxt = calloc(s.n, sizeof(*nxt));
		lst = calloc(s.n, sizeof(*lst));
		assert_true(fire != NULL && nxt != NULL && lst != NULL);
		/* Queries from 2024 on; the sweep starts two days earlier. */
		start = utc(2024, 1, 1, 0, 0);
		end = s.m[s.n - 1].t;
		for (int e = 0; e < 60; e++) {
			gen(expr, sizeof(expr), &want);
			if (vg_cron_parse(expr, &c, NULL, 0) != VIGIL_OK)
				fail_msg("%s: does not parse", expr);
			if (memcmp(&c, &want, sizeof(c)) != 0)
				fail_msg("%s: parsed differently", expr);
			nfire = 0;
			lst[0] = UINT32_MAX;
			for (i = 1; i < s.n; i++) {
				nfire += fire[i] = fires(&c, &s, i);
				lst[i] = fire[i] ? i : lst[i - 1];
			}
			for (i = s.n; i-- > 0;)
				nxt[i] = fire[i] ? i : i + 1 < s.n ?
				    nxt[i + 1] : UINT32_MAX;
			/* Random queries, and near every DST change. */
			for (int q = 0; q < 200; q++) {
				if (q < 120 || s.nchange == 0)
					after = start + (time_t)rnd((uint32_t)
					    (end - start - 2 * 86400));
				else {
					k = s.change[rnd((uint32_t)s.nchange)];
					after = s.m[k].t - 3600 * 3 +
					    (time_t)rnd(3600 * 6);
				}
				got = vg_cron_next(&c, after);
				j = nxt[index_after(&s, after)];
				ref = j != UINT32_MAX ? s.m[j].t : -1;
				if (got != ref && !(ref == -1 &&
				    (got == -1 || got > end)))
					fail_msg("%s, %s: next after %lld: "
					    "%lld, want %lld", zones[z], expr,
					    (long long)after, (long long)got,
					    (long long)ref);
				/* prev over the preceding 0-40 days. */
				since = after - (time_t)rnd(40 * 86400);
				if (since < start)
					since = start;
				got = vg_cron_prev(&c, since, after);
				j = lst[index_after(&s, after) - 1];
				ref = j != UINT32_MAX && s.m[j].t > since ?
				    s.m[j].t : -1;
				if (got != ref)
					fail_msg("%s, %s: prev (%lld, %lld]: "
					    "%lld, want %lld", zones[z], expr,
					    (long long)since, (long long)after,
					    (long long)got, (long long)ref);
			}
			/* A sparse schedule: follow it through the year. */
			if (nfire > 3000)
				continue;
			got = start;
			for (j = index_after(&s, start); j < s.n; j++) {
				if (!fire[j])
					continue;
				got = vg_cron_next(&c, got);
				if (got != s.m[j].t)
					fail_msg("%s, %s: chain: %lld, want "
					    "%lld", zones[z], expr,
					    (long long)got,
					    (long long)s.m[j].t);
			}
		}
		free(lst);
		free(nxt);
		free(fire);
		free(s.m);
	}
	zone("UTC");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_dom_dow),
		cmocka_unit_test(test_dst),
		cmocka_unit_test(test_prev),
		cmocka_unit_test(test_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
