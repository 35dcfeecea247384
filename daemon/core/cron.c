/*
 * cron.c: crontab(5) schedules: parsing the five fields, and finding the
 * next (or the latest past) firing time in local time.
 *
 * DESIGN
 *
 * A schedule is one bit set per field.  Searching happens in two spaces:
 *
 *   civil:   wall-clock minutes, counted as seconds since 1970-01-01 00:00
 *            on a clock that shows local time with no zone at all.  The
 *            calendar search (civil_next, civil_prev) lives here and skips
 *            whole months, days and hours that cannot match; a month has
 *            no DST and every day has 1440 minutes.
 *   instant: unix time.  civil_instants() maps one civil minute to the
 *            instants that show it, with localtime_r(3) and the UTC offset
 *            a day either side: none in a spring-forward gap (then the
 *            instant the gap ends), two in a repeated fall-back hour, one
 *            otherwise.
 *
 * vg_cron_next() walks civil candidates upward from just before `after`'s
 * wall-clock time and keeps the earliest eligible instant (cron.h says
 * which instants of a gap or an overlap are eligible).  The first instant
 * at which the clock reaches a civil minute grows with the minute, so the
 * walk stops at the first candidate first reached at or after the best
 * instant so far; only around a repeated hour does it take more than one
 * candidate.  vg_cron_prev() is the mirror image, walking down.
 *
 * The offset probes a day either side assume a zone changes its offset at
 * most once in two days, true of every zone since the 1970s.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vigil/cron.h"

#define DAY		86400
#define HORIZON_DAYS	(5 * 366)	/* "within five years" */
#define ALL_HOURS	0xffffffu	/* bits 0-23 */

/* Parsing ------------------------------------------------------------- */

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const dow_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const struct cron_field {
	const char		*name;
	int			 min, max;
	const char *const	*names;	/* names[i] is value min + i */
	const char		*kind;	/* "not a month name" */
	int			 sunday7; /* max is another name for 0 */
} fields[5] = {
	{ "minute", 0, 59, NULL, NULL, 0 },
	{ "hour", 0, 23, NULL, NULL, 0 },
	{ "day-of-month", 1, 31, NULL, NULL, 0 },
	{ "month", 1, 12, month_names, "month", 0 },
	{ "day-of-week", 0, 7, dow_names, "day", 1 },
};

static const struct {
	const char	*name;
	const char	*expr;
} macros[] = {
	{ "@hourly", "0 * * * *" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@monthly", "0 0 1 * *" },
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
};

/* Longest offending text quoted in a message. */
#define SHOW	40

static enum vigil_err __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return VIGIL_E_SYNTAX;
}

/* A character that cannot be where it is; bytes shown in hex. */
static enum vigil_err
unexpected(const struct cron_field *f, char ch, const char *item,
    size_t len, char *err, size_t errlen)
{
	if (isprint((unsigned char)ch))
		return fail(err, errlen, "%s: unexpected '%c' in %.*s",
		    f->name, ch, (int)len, item);
	return fail(err, errlen, "%s: unexpected byte 0x%02x", f->name,
	    (unsigned char)ch);
}

/*
 * One number or name of field f at *pp (before end): the value in *v,
 * *pp moved past it.  Long numbers are capped, still out of every range,
 * so that range_check() reports them with their text.
 */
static enum vigil_err
parse_value(const struct cron_field *f, const char **pp, const char *end,
    const char *elem, size_t elemlen, int *v, char *err, size_t errlen)
{
	const char	*p = *pp, *tok = p;
	int		 n = 0;

	if (p == end)
		return fail(err, errlen, "%s: %.*s: a number is missing",
		    f->name, (int)elemlen, elem);
	if (isdigit((unsigned char)*p)) {
		while (p < end && isdigit((unsigned char)*p)) {
			if (n < 1000000)
				n = n * 10 + (*p - '0');
			p++;
		}
		*v = n;
		*pp = p;
		return VIGIL_OK;
	}
	if (!isalpha((unsigned char)*p))
		return unexpected(f, *p, elem, elemlen, err, errlen);
	while (p < end && isalpha((unsigned char)*p))
		p++;
	if (f->names != NULL && p - tok == 3) {
		for (int i = 0; f->names[i] != NULL; i++)
			if (strncasecmp(tok, f->names[i], 3) == 0) {
				*v = f->min + i;
				*pp = p;
				return VIGIL_OK;
			}
	}
	if (f->names == NULL)
		return fail(err, errlen, "%s: %.*s is not a number", f->name,
		    (int)(p - tok > SHOW ? SHOW : p - tok), tok);
	return fail(err, errlen, "%s: %.*s is not a number or %s name",
	    f->name, (int)(p - tok > SHOW ? SHOW : p - tok), tok, f->kind);
}

static enum vigil_err
range_check(const struct cron_field *f, const char *tok, const char *end,
    int v, char *err, size_t errlen)
{
	if (v >= f->min && v <= f->max)
		return VIGIL_OK;
	return fail(err, errlen, "%s: %.*s is out of range %d-%d", f->name,
	    (int)(end - tok > SHOW ? SHOW : end - tok), tok, f->min, f->max);
}

/* One list item of field f, [s, e), added to *bits. */
static enum vigil_err
parse_item(const struct cron_field *f, const char *s, const char *e,
    uint64_t *bits, char *err, size_t errlen)
{
	const char	*p = s, *lotok, *hitok = NULL, *rend;
	size_t		 len = e - s > SHOW ? SHOW : (size_t)(e - s);
	int		 lo, hi, step = 1, ranged;
	enum vigil_err	 rc;

	lotok = p;
	if (*p == '*') {
		lo = f->min;
		hi = f->max;
		if (f->sunday7)
			hi = f->max - 1;	/* max would repeat 0 */
		p++;
		ranged = 1;
	} else {
		if ((rc = parse_value(f, &p, e, s, len, &lo, err, errlen)) !=
		    VIGIL_OK)
			return rc;
		if ((rc = range_check(f, lotok, p, lo, err, errlen)) !=
		    VIGIL_OK)
			return rc;
		hi = lo;
		ranged = 0;
		if (p < e && *p == '-') {
			hitok = ++p;
			if ((rc = parse_value(f, &p, e, s, len, &hi, err,
			    errlen)) != VIGIL_OK)
				return rc;
			if ((rc = range_check(f, hitok, p, hi, err, errlen)) !=
			    VIGIL_OK)
				return rc;
			if (lo > hi)
				return fail(err, errlen,
				    "%s: %.*s is a backwards range", f->name,
				    (int)(p - s > SHOW ? SHOW : p - s), s);
			ranged = 1;
		}
	}
	rend = p;
	if (p < e && *p == '/') {
		if (!ranged)
			return fail(err, errlen,
			    "%s: %.*s: a step needs a range or *", f->name,
			    (int)len, s);
		if (++p == e || !isdigit((unsigned char)*p))
			return fail(err, errlen,
			    "%s: %.*s: the step is not a number", f->name,
			    (int)len, s);
		step = 0;
		while (p < e && isdigit((unsigned char)*p)) {
			if (step < 1000000)
				step = step * 10 + (*p - '0');
			p++;
		}
		if (step < 1 || step > f->max - f->min + 1)
			return fail(err, errlen,
			    "%s: step %.*s is out of range 1-%d", f->name,
			    (int)(p - rend - 1 > SHOW ? SHOW : p - rend - 1),
			    rend + 1, f->max - f->min + 1);
	}
	if (p != e)
		return unexpected(f, *p, s, len, err, errlen);
	for (int v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << (f->sunday7 && v == f->max ? 0 : v);
	return VIGIL_OK;
}

/* One whole field [s, e): a comma list. */
static enum vigil_err
parse_field(const struct cron_field *f, const char *s, const char *e,
    uint64_t *bits, char *err, size_t errlen)
{
	const char	*p, *q;
	enum vigil_err	 rc;

	*bits = 0;
	for (p = s;; p = q + 1) {
		for (q = p; q < e && *q != ','; q++)
			;
		if (q == p)
			return fail(err, errlen, "%s: empty item in %.*s",
			    f->name, (int)(e - s > SHOW ? SHOW : e - s), s);
		if ((rc = parse_item(f, p, q, bits, err, errlen)) != VIGIL_OK)
			return rc;
		if (q == e)
			return VIGIL_OK;
	}
}

enum vigil_err
vg_cron_parse(const char *expr, struct vg_cron *out, char *err,
    size_t errlen)
{
	struct vg_cron	 c;
	const char	*p, *start[5], *end[5];
	uint64_t	 bits[5];
	int		 n = 0;
	size_t		 len;
	enum vigil_err	 rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (expr == NULL)
		return VIGIL_E_INVAL;
	for (p = expr; isspace((unsigned char)*p); p++)
		;
	if (*p == '@') {
		for (len = 0; p[len] != '\0' && !isspace((unsigned char)p[len]);
		    len++)
			;
		for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]);
		    i++) {
			if (strlen(macros[i].name) != len ||
			    strncasecmp(p, macros[i].name, len) != 0)
				continue;
			for (p += len; isspace((unsigned char)*p); p++)
				;
			if (*p != '\0')
				return fail(err, errlen,
				    "%s takes no fields", macros[i].name);
			return vg_cron_parse(macros[i].expr, out, err, errlen);
		}
		if (len == 7 && strncasecmp(p, "@reboot", len) == 0) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen,
				    "@reboot is not supported");
			return VIGIL_E_UNSUPPORTED;
		}
		return fail(err, errlen, "%.*s is not a known macro",
		    (int)(len > SHOW ? SHOW : len), p);
	}
	while (*p != '\0') {
		if (n < 5)
			start[n] = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		if (n < 5)
			end[n] = p;
		n++;
		while (isspace((unsigned char)*p))
			p++;
	}
	if (n != 5)
		return fail(err, errlen, "expected 5 fields, found %d", n);
	for (int i = 0; i < 5; i++)
		if ((rc = parse_field(&fields[i], start[i], end[i], &bits[i],
		    err, errlen)) != VIGIL_OK)
			return rc;
	memset(&c, 0, sizeof(c));
	c.minute = bits[0];
	c.hour = (uint32_t)bits[1];
	c.dom = (uint32_t)bits[2];
	c.month = (uint16_t)bits[3];
	c.dow = (uint8_t)bits[4];
	c.dom_star = *start[2] == '*';
	c.dow_star = *start[4] == '*';
	*out = c;
	return VIGIL_OK;
}

/* Civil time ---------------------------------------------------------- */

static int64_t
floordiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = floordiv(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t	era, doe, yoe, doy, mp;

	z += 719468;
	era = floordiv(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* 0 is Sunday; 1970-01-01 was a Thursday. */
static int
weekday(int64_t days)
{
	return (int)(days + 4 - floordiv(days + 4, 7) * 7);
}

/* Vixie cron's rule: restricted day-of-month and day-of-week OR. */
static int
day_matches(const struct vg_cron *c, int64_t days, int d)
{
	int	dom = c->dom >> d & 1;
	int	dow = c->dow >> weekday(days) & 1;

	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

static int
next_bit(uint64_t mask, int from, int max)
{
	for (int i = from; i <= max; i++)
		if (mask >> i & 1)
			return i;
	return -1;
}

static int
prev_bit(uint64_t mask, int from)
{
	for (int i = from; i >= 0; i--)
		if (mask >> i & 1)
			return i;
	return -1;
}

/* The first matching civil minute at or after from, or -1 past limit. */
static int64_t
civil_next(const struct vg_cron *c, int64_t from, int64_t limit)
{
	int64_t	days = floordiv(from, DAY), y, r;
	int	m, d, b;
	int	h = (int)(from - days * DAY) / 3600;
	int	mi = (int)(from - days * DAY) % 3600 / 60;

	civil_from_days(days, &y, &m, &d);
	while (days <= floordiv(limit, DAY)) {
		if (!(c->month >> m & 1)) {
			if (++m > 12) {
				m = 1;
				y++;
			}
			d = 1;
			days = days_from_civil(y, m, d);
			h = mi = 0;
			continue;
		}
		if (!day_matches(c, days, d) ||
		    (b = next_bit(c->hour, h, 23)) == -1) {
			civil_from_days(++days, &y, &m, &d);
			h = mi = 0;
			continue;
		}
		if (b != h) {
			h = b;
			mi = 0;
		}
		if ((b = next_bit(c->minute, mi, 59)) == -1) {
			if (++h == 24) {
				civil_from_days(++days, &y, &m, &d);
				h = 0;
			}
			mi = 0;
			continue;
		}
		r = days * DAY + h * 3600 + b * 60;
		return r <= limit ? r : -1;
	}
	return -1;
}

/* The last matching civil minute at or before from, or -1 below limit. */
static int64_t
civil_prev(const struct vg_cron *c, int64_t from, int64_t limit)
{
	int64_t	days = floordiv(from, DAY), y, r;
	int	m, d, b;
	int	h = (int)(from - days * DAY) / 3600;
	int	mi = (int)(from - days * DAY) % 3600 / 60;

	civil_from_days(days, &y, &m, &d);
	while (days >= floordiv(limit, DAY)) {
		if (!(c->month >> m & 1)) {
			days = days_from_civil(y, m, 1) - 1;
			civil_from_days(days, &y, &m, &d);
			h = 23;
			mi = 59;
			continue;
		}
		if (!day_matches(c, days, d) ||
		    (b = prev_bit(c->hour, h)) == -1) {
			civil_from_days(--days, &y, &m, &d);
			h = 23;
			mi = 59;
			continue;
		}
		if (b != h) {
			h = b;
			mi = 59;
		}
		if ((b = prev_bit(c->minute, mi)) == -1) {
			if (--h < 0) {
				civil_from_days(--days, &y, &m, &d);
				h = 23;
			}
			mi = 59;
			continue;
		}
		r = days * DAY + h * 3600 + b * 60;
		return r >= limit ? r : -1;
	}
	return -1;
}

/* Instants ------------------------------------------------------------ */

static long
utcoff(time_t t)
{
	struct tm	tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return tm.tm_gmtoff;
}

/* The instants whose wall clock shows one civil minute. */
struct cron_inst {
	int	n;	/* 0 (a gap, or a zone we cannot follow), 1 or 2 */
	time_t	t[2];	/* ascending */
	int	gap;
	time_t	g;	/* gap: the first whole minute after it */
};

static void
civil_instants(int64_t c, struct cron_inst *in)
{
	long	oa = utcoff(c - DAY), ob = utcoff(c + DAY);
	time_t	lo, hi, mid;

	in->n = 0;
	in->gap = 0;
	/* t shows c exactly when the offset at t is the one assumed. */
	if (utcoff(c - ob) == ob)
		in->t[in->n++] = c - ob;
	if (oa != ob && utcoff(c - oa) == oa)
		in->t[in->n++] = c - oa;
	if (in->n == 2 && in->t[0] > in->t[1]) {
		mid = in->t[0];
		in->t[0] = in->t[1];
		in->t[1] = mid;
	}
	if (in->n > 0 || ob <= oa)
		return;
	/* Skipped: find where the offset changes. */
	lo = c - DAY;
	hi = c + DAY;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (utcoff(mid) == oa)
			lo = mid;
		else
			hi = mid;
	}
	in->gap = 1;
	in->g = (time_t)floordiv(hi + 59, 60) * 60;
}

time_t
vg_cron_next(const struct vg_cron *c, time_t after)
{
	struct cron_inst	 in;
	long			 onow = utcoff(after), olater;
	int64_t			 civ, limit;
	time_t			 best = -1, first;
	int			 hourly = (c->hour & ALL_HOURS) == ALL_HOURS;

	civ = floordiv((int64_t)after + onow, 60) * 60 + 60;
	limit = civ + (int64_t)HORIZON_DAYS * DAY;
	/* In a first pass, a repeated hour still to come shows earlier. */
	if ((olater = utcoff(after + DAY)) < onow)
		civ -= onow - olater;
	for (; (civ = civil_next(c, civ, limit)) != -1; civ += 60) {
		civil_instants(civ, &in);
		if (in.gap) {
			first = in.g;
			if (!hourly && first > after &&
			    (best == -1 || first < best))
				best = first;
		} else if (in.n > 0) {
			first = in.t[0];
			for (int i = 0; i < in.n; i++)
				if (in.t[i] > after &&
				    (best == -1 || in.t[i] < best) &&
				    (i == 0 || hourly))
					best = in.t[i];
		} else
			continue;
		if (best != -1 && first >= best)
			break;
	}
	return best;
}

time_t
vg_cron_prev(const struct vg_cron *c, time_t since, time_t now)
{
	struct cron_inst	 in;
	long			 onow = utcoff(now), obefore;
	int64_t			 civ, limit;
	time_t			 best = -1, last, t;
	int			 hourly = (c->hour & ALL_HOURS) == ALL_HOURS;

	if (now <= since)
		return -1;
	civ = floordiv((int64_t)now + onow, 60) * 60;
	limit = civ - (int64_t)HORIZON_DAYS * DAY;
	if (limit < (int64_t)since + utcoff(since) - DAY)
		limit = (int64_t)since + utcoff(since) - DAY;
	/* In a second pass, the first pass showed later times. */
	if ((obefore = utcoff(now - DAY)) > onow)
		civ += obefore - onow;
	for (; (civ = civil_prev(c, civ, limit)) != -1; civ -= 60) {
		civil_instants(civ, &in);
		if (in.gap) {
			last = in.g - 60;
			t = in.g;
			if (!hourly && t > since && t <= now &&
			    (best == -1 || t > best))
				best = t;
		} else if (in.n > 0) {
			last = in.t[in.n - 1];
			for (int i = 0; i < in.n; i++) {
				t = in.t[i];
				if (t > since && t <= now &&
				    (best == -1 || t > best) &&
				    (i == 0 || hourly))
					best = t;
			}
		} else
			continue;
		if (last <= since || (best != -1 && last <= best))
			break;
	}
	return best;
}
