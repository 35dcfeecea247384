/*
 * config.c: the settings of `vigil serve`, from one table.
 *
 * DESIGN
 * Every setting is one row of settings[] (Redis's static_configs[]): its
 * name, its type, its default as the text a user would write, where it
 * lands in struct vg_config, and its documentation.  Defaults go through
 * the same setter as the file and the command line, so a default cannot
 * mean something the parser would refuse.  vg_config_write() prints the
 * table back as INI: commented out with the defaults it is the shipped
 * packaging/vigil.conf (a unit test keeps the two equal), filled in it is
 * what --check-config prints.
 */
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/config.h"
#include "vigil/core.h"

enum cfg_type { CFG_STR, CFG_UINT, CFG_SIZE, CFG_SECONDS, CFG_TOKEN };

struct setting {
	const char	*name;
	enum cfg_type	 type;
	const char	*def;
	size_t		 off;
	uint64_t	 min, max;	/* CFG_UINT, CFG_SIZE */
	const char	*doc;
};

#define F(f)	offsetof(struct vg_config, f)

static const struct setting settings[] = {
	{ "listen", CFG_STR, "127.0.0.1:8750", F(listen), 0, 0,
	  "Address and port the HTTP API listens on (ADDR:PORT, [v6]:PORT).\n"
	  "Port 0 picks a free port: the daemon logs \"listening on\n"
	  "ADDR:PORT\" and writes the port number to STATE_DIR/port." },
	{ "state_dir", CFG_STR, "./var", F(state_dir), 0, 0,
	  "Directory for the database (vigil.db), admin.token and port." },
	{ "user", CFG_STR, "vigil", F(user), 0, 0,
	  "Started as root, the daemon opens its socket, database and rules,\n"
	  "then runs as this user (its primary group, no others).  If the\n"
	  "default user vigil does not exist it stays root and says so; a\n"
	  "named user that does not exist is an error.  Empty: never switch." },
	{ "buckets", CFG_STR, "", F(buckets), 0, 0,
	  "Root of the local object store: a bucket is a directory under it,\n"
	  "a key a path inside that.  Empty means STATE_DIR/buckets." },
	{ "rules", CFG_STR, "./rules", F(rules), 0, 0,
	  "Rule file or directory of *.yar/*.yara files." },
	{ "workers", CFG_UINT, "0", F(workers), 0, 256,
	  "Scan worker threads; 0 means one per core." },
	{ "queue_size", CFG_UINT, "64", F(queue_size), 1, 1000000,
	  "Scans waiting for a worker; past it requests get 503." },
	{ "max_body", CFG_SIZE, "64M", F(max_body), 1, 1ULL << 40,
	  "Largest request body (POST /v1/scan object, event batch)." },
	{ "max_connections", CFG_UINT, "256", F(max_connections), 1, 65536,
	  "Open client connections; more are answered 503 and closed." },
	{ "timeout", CFG_UINT, "30", F(timeout), 1, 3600,
	  "Seconds a client has to send headers and body." },
	{ "drain_timeout", CFG_UINT, "30", F(drain_timeout), 0, 3600,
	  "On SIGTERM, seconds to let running scans finish before exit." },
	{ "commit_delay_ms", CFG_UINT, "2", F(commit_delay_ms), 0, 1000,
	  "Events arriving within this many milliseconds share one commit." },
	{ "max_depth", CFG_UINT, "16", F(max_depth), 0, VIGIL_MAX_DEPTH_CAP,
	  "Container nesting examined below an object." },
	{ "max_bytes", CFG_SIZE, "1G", F(max_bytes), 1, UINT64_MAX,
	  "Bytes examined per object, all layers." },
	{ "max_files", CFG_UINT, "100000", F(max_files), 1, UINT64_MAX,
	  "Members examined per object, all layers." },
	{ "max_ratio", CFG_UINT, "250", F(max_ratio), 1, UINT_MAX,
	  "Largest unpacked:packed ratio per container." },
	{ "max_time", CFG_SECONDS, "120", F(max_time), 0, 0,
	  "Seconds per object." },
	{ "account_from", CFG_STR, "owner", F(account_from_s), 0, 0,
	  "Where an event's account comes from: owner (the bucket owner's\n"
	  "principalId), uploader (userIdentity.principalId), prefix (the\n"
	  "first capture of account_prefix on the key) or map (account_map)." },
	{ "account_prefix", CFG_STR, "^([^/]+)/", F(account_prefix), 0, 0,
	  "POSIX extended regular expression for account_from = prefix." },
	{ "account_map", CFG_STR, "", F(account_map), 0, 0,
	  "File of \"bucket account\" lines for account_from = map." },
	{ "log_level", CFG_STR, "info", F(log_level_s), 0, 0,
	  "error, warn, info or debug." },
	{ "token", CFG_TOKEN, NULL, F(tokens), 0, 0,
	  "An API token, \"ROLE SECRET\" with ROLE hook, moderator or admin;\n"
	  "repeat the key for more.  With none, the first start writes an\n"
	  "admin token to STATE_DIR/admin.token (mode 0600)." },
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static const char *const role_names[] = {
	[VG_ROLE_HOOK] = "hook",
	[VG_ROLE_MODERATOR] = "moderator",
	[VG_ROLE_ADMIN] = "admin",
};

const char *
vg_role_name(enum vg_role r)
{
	return role_names[r];
}

static const struct setting *
find(const char *name)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

static enum vigil_err
add_token(struct vg_config *cfg, const char *value, char *err,
    size_t errlen)
{
	struct vg_token	*t;
	const char	*sp;
	size_t		 i, rl;

	if ((sp = strchr(value, ' ')) == NULL)
		goto bad;
	rl = (size_t)(sp - value);
	while (*sp == ' ')
		sp++;
	if (strlen(sp) < 16 || strchr(sp, ' ') != NULL) {
		snprintf(err, errlen, "token: the secret must be at least 16 "
		    "characters without spaces");
		return VIGIL_E_INVAL;
	}
	for (i = 0; i < 3; i++)
		if (strlen(role_names[i]) == rl &&
		    strncmp(role_names[i], value, rl) == 0)
			break;
	if (i == 3)
		goto bad;
	t = vg_reallocarray(cfg->tokens, cfg->ntokens + 1, sizeof(*t));
	if (t == NULL)
		return VIGIL_E_NOMEM;
	cfg->tokens = t;
	if ((t[cfg->ntokens].secret = vg_strdup(sp)) == NULL)
		return VIGIL_E_NOMEM;
	t[cfg->ntokens++].role = (enum vg_role)i;
	return VIGIL_OK;
bad:
	snprintf(err, errlen, "token: expected \"ROLE SECRET\" with ROLE "
	    "hook, moderator or admin");
	return VIGIL_E_INVAL;
}

enum vigil_err
vg_config_set(struct vg_config *cfg, const char *key, const char *value,
    char *err, size_t errlen)
{
	const struct setting	*s;
	char			*p = (char *)cfg, *end, *dup;
	uint64_t		 u;
	double			 d;

	if ((s = find(key)) == NULL) {
		snprintf(err, errlen, "unknown setting '%s'", key);
		return VIGIL_E_INVAL;
	}
	switch (s->type) {
	case CFG_STR:
		if ((dup = vg_strdup(value)) == NULL)
			return VIGIL_E_NOMEM;
		vg_free(*(char **)(p + s->off));
		*(char **)(p + s->off) = dup;
		return VIGIL_OK;
	case CFG_UINT:
		errno = 0;
		u = strtoull(value, &end, 10);
		if (*value == '\0' || *value == '-' || *end != '\0' ||
		    errno != 0)
			goto range;
		goto check;
	case CFG_SIZE:
		if (vg_parse_size(value, &u) == -1)
			goto range;
	check:
		if (u < s->min || u > s->max)
			goto range;
		*(uint64_t *)(p + s->off) = u;
		return VIGIL_OK;
	case CFG_SECONDS:
		errno = 0;
		d = strtod(value, &end);
		if (*value == '\0' || *end != '\0' || errno != 0 ||
		    !(d > 0 && d < 1e6)) {
			snprintf(err, errlen, "%s: '%s' is not a number of "
			    "seconds", key, value);
			return VIGIL_E_INVAL;
		}
		*(double *)(p + s->off) = d;
		return VIGIL_OK;
	case CFG_TOKEN:
		return add_token(cfg, value, err, errlen);
	}
range:
	if (s->type == CFG_SIZE)
		snprintf(err, errlen, "%s: '%s' is not a size from %llu to "
		    "%llu (k, M, G suffixes allowed)", key, value,
		    (unsigned long long)s->min, (unsigned long long)s->max);
	else
		snprintf(err, errlen, "%s: '%s' is not a number from %llu to "
		    "%llu", key, value, (unsigned long long)s->min,
		    (unsigned long long)s->max);
	return VIGIL_E_INVAL;
}

struct vg_config *
vg_config_new(void)
{
	struct vg_config	*cfg;
	char			 err[256];

	if ((cfg = vg_calloc(1, sizeof(*cfg))) == NULL)
		return NULL;
	for (size_t i = 0; i < NSETTINGS; i++) {
		if (settings[i].def == NULL)
			continue;
		if (vg_config_set(cfg, settings[i].name, settings[i].def,
		    err, sizeof(err)) != VIGIL_OK) {
			vg_config_free(cfg);
			return NULL;
		}
	}
	return cfg;
}

void
vg_config_free(struct vg_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].type == CFG_STR)
			vg_free(*(char **)((char *)cfg + settings[i].off));
	for (size_t i = 0; i < cfg->ntokens; i++)
		vg_free(cfg->tokens[i].secret);
	vg_free(cfg->tokens);
	vg_free(cfg);
}

struct load {
	struct vg_config	*cfg;
	const char		*name;
	char			*err;
	size_t			 errlen;
	enum vigil_err		 rc;
};

static int
ini_cb(void *arg, const char *section, const char *key, const char *value)
{
	struct load	*l = arg;
	char		 why[256];
	enum vigil_err	 rc;

	if (l->rc != VIGIL_OK)
		return 0;
	if (*section != '\0' && strcmp(section, "serve") != 0) {
		snprintf(l->err, l->errlen, "%s: unknown section [%s]",
		    l->name, section);
		l->rc = VIGIL_E_SYNTAX;
		return 0;
	}
	if ((rc = vg_config_set(l->cfg, key, value, why, sizeof(why))) !=
	    VIGIL_OK) {
		if (rc == VIGIL_E_NOMEM)
			snprintf(why, sizeof(why), "out of memory");
		snprintf(l->err, l->errlen, "%s: %s", l->name, why);
		l->rc = rc == VIGIL_E_NOMEM ? rc : VIGIL_E_SYNTAX;
		return 0;
	}
	return 1;
}

/* inih reports the line; prefix it into the message as file:line. */
static enum vigil_err
load_done(struct load *l, int line)
{
	char	msg[512];
	size_t	nl;

	if (line == 0)
		return VIGIL_OK;
	if (l->rc == VIGIL_OK) {
		snprintf(l->err, l->errlen, "%s:%d: syntax error", l->name,
		    line);
		return VIGIL_E_SYNTAX;
	}
	nl = strlen(l->name);
	snprintf(msg, sizeof(msg), "%s:%d:%s", l->name, line,
	    strlen(l->err) > nl ? l->err + nl + 1 : "");
	snprintf(l->err, l->errlen, "%s", msg);
	return l->rc;
}

enum vigil_err
vg_config_load(struct vg_config *cfg, const char *path, char *err,
    size_t errlen)
{
	struct load	 l = { cfg, path, err, errlen, VIGIL_OK };
	FILE		*f;
	int		 line;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VIGIL_E_IO;
	}
	line = ini_parse_file(f, ini_cb, &l);
	fclose(f);
	return load_done(&l, line);
}

enum vigil_err
vg_config_load_string(struct vg_config *cfg, const char *text,
    const char *name, char *err, size_t errlen)
{
	struct load	l = { cfg, name, err, errlen, VIGIL_OK };

	return load_done(&l, ini_parse_string(text, ini_cb, &l));
}

int
vg_config_split_listen(const char *s, char *host, size_t hostlen,
    uint16_t *port)
{
	const char	*colon, *h = s;
	size_t		 hl;
	char		*end;
	unsigned long	 p;

	if ((colon = strrchr(s, ':')) == NULL)
		return -1;
	hl = (size_t)(colon - s);
	if (*s == '[') {
		if (hl < 2 || s[hl - 1] != ']')
			return -1;
		h = s + 1;
		hl -= 2;
	} else if (memchr(s, ':', hl) != NULL)
		return -1;
	if (hl == 0 || hl >= hostlen)
		return -1;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p > 65535)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}

enum vigil_err
vg_config_finish(struct vg_config *cfg, char *err, size_t errlen)
{
	static const char *const froms[] = { "owner", "uploader", "prefix",
	    "map" };
	static const char *const levels[] = { "error", "warn", "info",
	    "debug" };
	char		 host[256];
	uint16_t	 port;
	size_t		 i;

	if (vg_config_split_listen(cfg->listen, host, sizeof(host), &port)
	    == -1) {
		snprintf(err, errlen, "listen: '%s' is not ADDR:PORT",
		    cfg->listen);
		return VIGIL_E_INVAL;
	}
	if (*cfg->state_dir == '\0' || *cfg->rules == '\0') {
		snprintf(err, errlen, "state_dir and rules must not be empty");
		return VIGIL_E_INVAL;
	}
	for (i = 0; i < 4; i++)
		if (strcmp(cfg->account_from_s, froms[i]) == 0)
			break;
	if (i == 4) {
		snprintf(err, errlen, "account_from: '%s' is not owner, "
		    "uploader, prefix or map", cfg->account_from_s);
		return VIGIL_E_INVAL;
	}
	cfg->account_from = (enum vg_account_from)i;
	if (cfg->account_from == VG_ACCOUNT_MAP && *cfg->account_map == '\0') {
		snprintf(err, errlen, "account_from = map needs account_map");
		return VIGIL_E_INVAL;
	}
	for (i = 0; i < 4; i++)
		if (strcmp(cfg->log_level_s, levels[i]) == 0)
			break;
	if (i == 4) {
		snprintf(err, errlen, "log_level: '%s' is not error, warn, "
		    "info or debug", cfg->log_level_s);
		return VIGIL_E_INVAL;
	}
	cfg->log_level = (int)i;
	if (*cfg->buckets == '\0') {
		char	*b;
		size_t	 n = strlen(cfg->state_dir) + sizeof("/buckets");

		if ((b = vg_malloc(n)) == NULL)
			return VIGIL_E_NOMEM;
		snprintf(b, n, "%s/buckets", cfg->state_dir);
		vg_free(cfg->buckets);
		cfg->buckets = b;
	}
	cfg->limits.max_depth = (unsigned)cfg->max_depth;
	cfg->limits.max_bytes = cfg->max_bytes;
	cfg->limits.max_files = cfg->max_files;
	cfg->limits.max_ratio = (unsigned)cfg->max_ratio;
	cfg->limits.max_time = cfg->max_time;
	return VIGIL_OK;
}

static void
write_doc(FILE *f, const char *doc)
{
	fputs("# ", f);
	for (; *doc != '\0'; doc++) {
		fputc(*doc, f);
		if (*doc == '\n')
			fputs("# ", f);
	}
	fputc('\n', f);
}

void
vg_config_write(FILE *f, const struct vg_config *cfg)
{
	const char	*p = (const char *)cfg;

	if (cfg == NULL)
		fputs("# vigil.conf: settings of `vigil serve`.  Generated from "
		    "the settings table\n# in daemon/core/config.c "
		    "(vigil serve --print-defaults); every line\n# shows the "
		    "built-in default.  Command-line flags override the "
		    "file.\n", f);
	fputs("[serve]\n", f);
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];

		fputc('\n', f);
		write_doc(f, s->doc);
		if (cfg == NULL) {
			if (s->type == CFG_TOKEN)
				fprintf(f, "#%s = admin "
				    "CHANGE-ME-TO-A-LONG-RANDOM-SECRET\n",
				    s->name);
			else
				fprintf(f, "#%s =%s%s\n", s->name,
				    *s->def ? " " : "", s->def);
			continue;
		}
		switch (s->type) {
		case CFG_STR:
			fprintf(f, "%s = %s\n", s->name,
			    *(char *const *)(p + s->off));
			break;
		case CFG_UINT:
		case CFG_SIZE:
			fprintf(f, "%s = %llu\n", s->name, (unsigned long long)
			    *(const uint64_t *)(p + s->off));
			break;
		case CFG_SECONDS:
			fprintf(f, "%s = %g\n", s->name,
			    *(const double *)(p + s->off));
			break;
		case CFG_TOKEN:
			for (size_t t = 0; t < cfg->ntokens; t++)
				fprintf(f, "#%s = %s (secret not shown)\n",
				    s->name, role_names[cfg->tokens[t].role]);
			break;
		}
	}
}
