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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vigil/config.h"
#include "vigil/core.h"
#include "vigil/cron.h"
#include "vigil/engine.h"

enum cfg_type {
	CFG_STR, CFG_UINT, CFG_SIZE, CFG_SECONDS, CFG_TOKEN,
	CFG_STRS,	/* repeatable: struct vg_strs */
	CFG_WEIGHT,	/* repeatable: "CLAUSE SEVERITY|* WEIGHT" */
	CFG_BOOL,	/* yes/no, true/false, on/off, 1/0 into an int */
};

struct setting {
	const char	*name;
	enum cfg_type	 type;
	const char	*def;
	size_t		 off;
	uint64_t	 min, max;	/* CFG_UINT, CFG_SIZE */
	const char	*doc;
};

#define F(f)	offsetof(struct vg_config, f)
#define B(f)	offsetof(struct vg_bucket, f)

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
	{ "text_layer", CFG_BOOL, "yes", F(text_layer), 0, 0,
	  "Match text as a reader sees it too (charsets, markup, documents,\n"
	  "PDF, mail, NFKC), not only the raw bytes." },
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
	  "An API token, \"ROLE SECRET [NAME]\" with ROLE hook, moderator or\n"
	  "admin; repeat the key for more.  A moderator token names the\n"
	  "moderator it acts as (\"moderator SECRET alice\"); without a NAME\n"
	  "it may read the review queue but not claim or decide.  With no\n"
	  "tokens, the first start writes an admin token to\n"
	  "STATE_DIR/admin.token (mode 0600)." },
	/* [policy]: accounts and the review queue. */
	{ "weight_low", CFG_UINT, "1", F(weight[0]), 0, 1000000,
	  "[policy] Score a flagged object adds to its account, by the\n"
	  "highest severity among its findings: low." },
	{ "weight_medium", CFG_UINT, "5", F(weight[1]), 0, 1000000,
	  "[policy] The same for medium." },
	{ "weight_high", CFG_UINT, "25", F(weight[2]), 0, 1000000,
	  "[policy] The same for high." },
	{ "weight_critical", CFG_UINT, "100", F(weight[3]), 0, 1000000,
	  "[policy] The same for critical (a critical finding also flags\n"
	  "its account at once, whatever the score)." },
	{ "weight_clause", CFG_WEIGHT, NULL, F(weights), 0, 0,
	  "[policy] A per-clause override, \"CLAUSE SEVERITY WEIGHT\" with\n"
	  "SEVERITY low, medium, high, critical or * for all; repeatable,\n"
	  "e.g. \"IV.9(8) low 0\"." },
	{ "flag_threshold", CFG_UINT, "50", F(flag_threshold), 1, UINT32_MAX,
	  "[policy] An account whose score reaches this is flagged and gets\n"
	  "a review item." },
	{ "score_window_days", CFG_UINT, "30", F(score_window_days), 1, 3650,
	  "[policy] The score sums distinct flagged objects whose findings\n"
	  "are younger than this many days." },
	{ "auto_suspend", CFG_STR, "", F(auto_suspend_s), 0, 0,
	  "[policy] Clauses whose findings suspend the account at once, no\n"
	  "review awaited: a comma-separated list such as \"network-safety\"." },
	{ "claim_lease", CFG_UINT, "900", F(claim_lease), 1, 86400,
	  "[policy] Seconds a moderator's claim on a review item lasts; an\n"
	  "expired claim returns the item to the queue." },
	{ "excerpt", CFG_STR, "context", F(excerpt_s), 0, 0,
	  "[policy] Evidence excerpts: context (bytes around the match),\n"
	  "redacted (the matched bytes only) or off." },
	{ "excerpt_bytes", CFG_UINT, "64", F(excerpt_bytes), 0, 1024,
	  "[policy] Largest excerpt kept per finding; 0 keeps none." },
	{ "audit_retention_days", CFG_UINT, "365", F(audit_retention_days),
	  90, 36500,
	  "[policy] Days audit records and feed events are kept before the\n"
	  "daily purge; never less than 90 (terms of service, IV.3)." },
	{ "verdict_retention_days", CFG_UINT, "365",
	  F(verdict_retention_days), 90, 36500,
	  "[policy] Days each scan's verdict record is kept before the daily\n"
	  "purge; an object's latest verdict is kept whatever its age.\n"
	  "Never less than 90 (IV.3)." },
	{ "webhook", CFG_STRS, NULL, F(webhooks), 0, 0,
	  "[policy] \"URL [SECRET]\": POST every feed event there, one per\n"
	  "request, in order, at least once (Idempotency-Key is the event\n"
	  "id; with a SECRET, X-Vigil-Signature is sha256=HMAC of the\n"
	  "body).  Repeatable." },
	{ "quarantine", CFG_STRS, NULL, F(quarantine_s), 0, 0,
	  "[policy] \"SELECTOR ACTION[,ACTION]\": what to do to a bucket\n"
	  "object flagged with a finding SELECTOR names: a clause\n"
	  "(IV.9(7), network-safety), a severity (that or worse: high\n"
	  "means high and critical) or * for any.  Actions: tag (S3 object\n"
	  "tags vigil-verdict=flagged and vigil-rule; local: user.vigil-*\n"
	  "xattrs), move (to the bucket's quarantine_bucket; local: a\n"
	  "directory beside the bucket), private (S3: canned ACL private;\n"
	  "local: no read for group and others).  A moderator's dismissal\n"
	  "undoes them.  Repeatable, e.g. \"critical move\", \"IV.9(7) tag\"." },
	{ "webhook_timeout", CFG_UINT, "10", F(webhook_timeout), 1, 600,
	  "[policy] Seconds a webhook delivery may take." },
	{ "webhook_backoff_max", CFG_UINT, "300", F(webhook_backoff_max), 1,
	  86400,
	  "[policy] Longest wait in seconds between retries to a webhook\n"
	  "that fails (the wait doubles from one second up to this)." },
	{ "feed_poll_max", CFG_UINT, "60", F(feed_poll_max), 1, 3600,
	  "[policy] Longest GET /v1/feed long-poll, in seconds." },
};

/* Keys of a [bucket "NAME"] section. */
static const struct setting bucket_settings[] = {
	{ "source", CFG_STR, "local", B(source), 0, 0,
	  "local (a directory under the buckets root) or s3." },
	{ "schedule", CFG_STR, "", B(schedule), 0, 0,
	  "When to scan the whole bucket, in cron syntax (\"0 3 * * *\");\n"
	  "a run missed while the daemon was down runs once at start." },
	{ "prefix", CFG_STR, "", B(prefix), 0, 0,
	  "Scheduled scans cover keys starting with this." },
	{ "mode", CFG_STR, "incremental", B(mode), 0, 0,
	  "Scheduled scans: incremental (skip objects unchanged since their\n"
	  "last verdict under the same rules) or full." },
	{ "account", CFG_STR, "", B(account), 0, 0,
	  "The account of this bucket's objects when a bucket scan meets one\n"
	  "no event has named (account_from = owner or uploader)." },
	{ "max_objects_per_s", CFG_UINT, "0", B(max_objects_per_s), 0,
	  UINT32_MAX, "Bucket scans read at most this many objects a second;\n"
	  "0: no limit." },
	{ "max_bytes_per_s", CFG_SIZE, "0", B(max_bytes_per_s), 0,
	  1ULL << 50, "Bucket scans read at most this many bytes a second;\n"
	  "0: no limit." },
	{ "list_page", CFG_UINT, "1000", B(list_page), 1, 1000,
	  "Keys per listing request (ListObjectsV2 max-keys)." },
	{ "endpoint", CFG_STR, "", B(endpoint), 0, 0,
	  "s3: the service URL, e.g. https://s3.eu-west-1.amazonaws.com,\n"
	  "http://127.0.0.1:9000 (MinIO) or https://rgw.example:7480 (Ceph)." },
	{ "region", CFG_STR, "us-east-1", B(region), 0, 0,
	  "s3: the region signatures name." },
	{ "addressing", CFG_STR, "path", B(addressing), 0, 0,
	  "s3: path (ENDPOINT/BUCKET/KEY, MinIO and Ceph) or virtual\n"
	  "(BUCKET.HOST/KEY, AWS)." },
	{ "access_key", CFG_STR, "", B(access_key), 0, 0,
	  "s3: credentials; empty takes AWS_ACCESS_KEY_ID,\n"
	  "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from the environment." },
	{ "secret_key", CFG_STR, "", B(secret_key), 0, 0, "s3: see access_key." },
	{ "session_token", CFG_STR, "", B(session_token), 0, 0,
	  "s3: see access_key." },
	{ "verify_tls", CFG_BOOL, "yes", B(verify_tls), 0, 0,
	  "s3: check the server's certificate (yes or no)." },
	{ "ca_file", CFG_STR, "", B(ca_file), 0, 0,
	  "s3: CA bundle for verify_tls; empty uses the system's." },
	{ "quarantine_bucket", CFG_STR, "", B(quarantine_bucket), 0, 0,
	  "Where the quarantine action moves flagged objects (s3: a bucket;\n"
	  "local: a directory under the buckets root).  Empty: a bucket\n"
	  "named NAME-quarantine." },
};

#define NBUCKET_SETTINGS (sizeof(bucket_settings) / sizeof(bucket_settings[0]))

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
find(const struct setting *tab, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tab[i].name, name) == 0)
			return &tab[i];
	return NULL;
}

static enum vigil_err
add_token(struct vg_config *cfg, const char *value, char *err,
    size_t errlen)
{
	struct vg_token	*t;
	const char	*sp, *name = NULL;
	char		*secret;
	size_t		 i, rl, sl;

	if ((sp = strchr(value, ' ')) == NULL)
		goto bad;
	rl = (size_t)(sp - value);
	while (*sp == ' ')
		sp++;
	sl = strcspn(sp, " ");
	if (sp[sl] != '\0') {
		for (name = sp + sl; *name == ' '; name++)
			;
		if (*name == '\0' || strchr(name, ' ') != NULL)
			goto bad;
	}
	if (sl < 16) {
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
	if (name != NULL && i != VG_ROLE_MODERATOR) {
		snprintf(err, errlen, "token: only a moderator token names "
		    "someone (\"moderator SECRET NAME\")");
		return VIGIL_E_INVAL;
	}
	t = vg_reallocarray(cfg->tokens, cfg->ntokens + 1, sizeof(*t));
	if (t == NULL)
		return VIGIL_E_NOMEM;
	cfg->tokens = t;
	if ((secret = vg_strndup(sp, sl)) == NULL)
		return VIGIL_E_NOMEM;
	t += cfg->ntokens;
	t->secret = secret;
	t->role = (enum vg_role)i;
	t->name = NULL;
	if (name != NULL && (t->name = vg_strdup(name)) == NULL) {
		vg_free(secret);
		return VIGIL_E_NOMEM;
	}
	cfg->ntokens++;
	return VIGIL_OK;
bad:
	snprintf(err, errlen, "token: expected \"ROLE SECRET [NAME]\" with "
	    "ROLE hook, moderator or admin");
	return VIGIL_E_INVAL;
}

/* The severity called s[0..len), or -2. */
static int
severity_index(const char *s, size_t len)
{
	for (int i = ENG_SEV_LOW; i <= ENG_SEV_CRITICAL; i++) {
		const char *n = eng_severity_name((enum eng_severity)i);

		if (strlen(n) == len && strncmp(n, s, len) == 0)
			return i;
	}
	return -2;
}

int
vg_clause_index(const char *s, size_t len)
{
	for (int i = 0; i < ENG_NCLAUSES; i++)
		if (strlen(eng_clauses[i]) == len &&
		    strncmp(eng_clauses[i], s, len) == 0)
			return i;
	return -1;
}

#define clause_index	vg_clause_index

static enum vigil_err
add_weight(struct vg_config *cfg, const char *value, char *err,
    size_t errlen)
{
	struct vg_weight	 w, *nw;
	char			 c[32], sv[32], *end;
	unsigned long long	 u;
	int			 n = 0;

	if (sscanf(value, "%31s %31s %n", c, sv, &n) != 2 || n == 0 ||
	    clause_index(c, strlen(c)) < 0 ||
	    (strcmp(sv, "*") != 0 && severity_index(sv, strlen(sv)) < 0))
		goto bad;
	errno = 0;
	u = strtoull(value + n, &end, 10);
	if (value[n] == '\0' || value[n] == '-' || *end != '\0' ||
	    errno != 0 || u > 1000000)
		goto bad;
	memset(&w, 0, sizeof(w));
	/* clause_index() accepted it: it fits. */
	memcpy(w.clause, c, strlen(c) < sizeof(w.clause) ? strlen(c) :
	    sizeof(w.clause) - 1);
	w.severity = strcmp(sv, "*") == 0 ? -1 : severity_index(sv,
	    strlen(sv));
	w.weight = u;
	if ((nw = vg_reallocarray(cfg->weights, cfg->nweights + 1,
	    sizeof(*nw))) == NULL)
		return VIGIL_E_NOMEM;
	cfg->weights = nw;
	nw[cfg->nweights++] = w;
	return VIGIL_OK;
bad:
	snprintf(err, errlen, "weight_clause: '%s' is not \"CLAUSE SEVERITY "
	    "WEIGHT\" (clause IV.9(1)..IV.9(8) or network-safety, severity low, "
	    "medium, high, critical or *, weight 0 to 1000000)", value);
	return VIGIL_E_INVAL;
}

static enum vigil_err
strs_add(struct vg_strs *l, const char *value)
{
	char	**v, *dup;

	if ((dup = vg_strdup(value)) == NULL)
		return VIGIL_E_NOMEM;
	if ((v = vg_reallocarray(l->v, l->n + 1, sizeof(*v))) == NULL) {
		vg_free(dup);
		return VIGIL_E_NOMEM;
	}
	l->v = v;
	v[l->n++] = dup;
	return VIGIL_OK;
}

static void
strs_free(struct vg_strs *l)
{
	for (size_t i = 0; i < l->n; i++)
		vg_free(l->v[i]);
	vg_free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Sets one key of tab on the struct at base (the config or a bucket). */
static enum vigil_err
set_in(struct vg_config *cfg, const struct setting *tab, size_t ntab,
    void *base, const char *key, const char *value, char *err,
    size_t errlen)
{
	const struct setting	*s;
	char			*p = base, *end, *dup;
	uint64_t		 u;
	double			 d;

	if ((s = find(tab, ntab, key)) == NULL) {
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
	case CFG_BOOL:
		if (strcasecmp(value, "yes") == 0 ||
		    strcasecmp(value, "true") == 0 ||
		    strcasecmp(value, "on") == 0 || strcmp(value, "1") == 0)
			*(int *)(p + s->off) = 1;
		else if (strcasecmp(value, "no") == 0 ||
		    strcasecmp(value, "false") == 0 ||
		    strcasecmp(value, "off") == 0 || strcmp(value, "0") == 0)
			*(int *)(p + s->off) = 0;
		else {
			snprintf(err, errlen, "%s: '%s' is not yes or no", key,
			    value);
			return VIGIL_E_INVAL;
		}
		return VIGIL_OK;
	case CFG_TOKEN:
		return add_token(cfg, value, err, errlen);
	case CFG_WEIGHT:
		return add_weight(cfg, value, err, errlen);
	case CFG_STRS:
		return strs_add((struct vg_strs *)(p + s->off), value);
	}
range:
	if (s->type == CFG_SIZE)
		snprintf(err, errlen, "%s: '%s' is not a size from %llu to "
		    "%llu (suffixes k, M, G, T; KiB or MB alike)", key, value,
		    (unsigned long long)s->min, (unsigned long long)s->max);
	else
		snprintf(err, errlen, "%s: '%s' is not a number from %llu to "
		    "%llu", key, value, (unsigned long long)s->min,
		    (unsigned long long)s->max);
	return VIGIL_E_INVAL;
}

enum vigil_err
vg_config_set(struct vg_config *cfg, const char *key, const char *value,
    char *err, size_t errlen)
{
	return set_in(cfg, settings, NSETTINGS, cfg, key, value, err, errlen);
}

/* Fills the defaults of tab into base. */
static enum vigil_err
set_defaults(struct vg_config *cfg, const struct setting *tab, size_t n,
    void *base)
{
	char		err[256];
	enum vigil_err	rc;

	for (size_t i = 0; i < n; i++) {
		if (tab[i].def == NULL)
			continue;
		if ((rc = set_in(cfg, tab, n, base, tab[i].name, tab[i].def,
		    err, sizeof(err))) != VIGIL_OK)
			return rc;
	}
	return VIGIL_OK;
}

static void
free_in(const struct setting *tab, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++) {
		if (tab[i].type == CFG_STR)
			vg_free(*(char **)((char *)base + tab[i].off));
		else if (tab[i].type == CFG_STRS)
			strs_free((struct vg_strs *)((char *)base +
			    tab[i].off));
	}
}

struct vg_config *
vg_config_new(void)
{
	struct vg_config	*cfg;

	if ((cfg = vg_calloc(1, sizeof(*cfg))) == NULL)
		return NULL;
	if (set_defaults(cfg, settings, NSETTINGS, cfg) != VIGIL_OK) {
		vg_config_free(cfg);
		return NULL;
	}
	return cfg;
}

void
vg_config_free(struct vg_config *cfg)
{
	if (cfg == NULL)
		return;
	free_in(settings, NSETTINGS, cfg);
	for (size_t i = 0; i < cfg->ntokens; i++) {
		vg_free(cfg->tokens[i].secret);
		vg_free(cfg->tokens[i].name);
	}
	vg_free(cfg->tokens);
	vg_free(cfg->weights);
	vg_free(cfg->quarantine);
	for (size_t i = 0; i < cfg->nbuckets; i++) {
		free_in(bucket_settings, NBUCKET_SETTINGS,
		    &cfg->buckets_cfg[i]);
		vg_free(cfg->buckets_cfg[i].name);
	}
	vg_free(cfg->buckets_cfg);
	vg_free(cfg);
}

const struct vg_bucket *
vg_config_bucket(const struct vg_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nbuckets; i++)
		if (strcmp(cfg->buckets_cfg[i].name, name) == 0)
			return &cfg->buckets_cfg[i];
	return NULL;
}

/*
 * The bucket of a section header 'bucket "NAME"', added on first sight
 * with its defaults.  NULL with err set if the header is malformed.
 */
static struct vg_bucket *
section_bucket(struct vg_config *cfg, const char *section, char *err,
    size_t errlen, enum vigil_err *rc)
{
	struct vg_bucket	*b;
	const char		*q;
	char			*name;
	size_t			 n;

	*rc = VIGIL_E_SYNTAX;
	q = section + 6;
	while (*q == ' ' || *q == '\t')
		q++;
	n = strlen(q);
	if (q == section + 6 || n < 3 || q[0] != '"' || q[n - 1] != '"' ||
	    memchr(q + 1, '"', n - 2) != NULL) {
		snprintf(err, errlen, "section [%s]: expected [bucket \"NAME\"]",
		    section);
		return NULL;
	}
	if ((name = vg_strndup(q + 1, n - 2)) == NULL) {
		*rc = VIGIL_E_NOMEM;
		return NULL;
	}
	for (size_t i = 0; i < cfg->nbuckets; i++)
		if (strcmp(cfg->buckets_cfg[i].name, name) == 0) {
			vg_free(name);
			return &cfg->buckets_cfg[i];
		}
	if ((b = vg_reallocarray(cfg->buckets_cfg, cfg->nbuckets + 1,
	    sizeof(*b))) == NULL) {
		vg_free(name);
		*rc = VIGIL_E_NOMEM;
		return NULL;
	}
	cfg->buckets_cfg = b;
	b += cfg->nbuckets;
	memset(b, 0, sizeof(*b));
	b->name = name;
	cfg->nbuckets++;
	if ((*rc = set_defaults(cfg, bucket_settings, NBUCKET_SETTINGS, b)) !=
	    VIGIL_OK)
		return NULL;
	return b;
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
	struct load		*l = arg;
	struct vg_bucket	*b = NULL;
	char			 why[256];
	enum vigil_err		 rc;

	if (l->rc != VIGIL_OK)
		return 0;
	if (strncmp(section, "bucket", 6) == 0 && (section[6] == '\0' ||
	    section[6] == ' ' || section[6] == '\t' || section[6] == '"')) {
		if ((b = section_bucket(l->cfg, section, why, sizeof(why),
		    &rc)) == NULL)
			goto fail;
		rc = set_in(l->cfg, bucket_settings, NBUCKET_SETTINGS, b, key,
		    value, why, sizeof(why));
	} else if (*section != '\0' && strcmp(section, "serve") != 0 &&
	    strcmp(section, "policy") != 0) {
		snprintf(why, sizeof(why), "unknown section [%s]", section);
		rc = VIGIL_E_SYNTAX;
	} else
		rc = vg_config_set(l->cfg, key, value, why, sizeof(why));
	if (rc == VIGIL_OK)
		return 1;
fail:
	if (rc == VIGIL_E_NOMEM)
		snprintf(why, sizeof(why), "out of memory");
	snprintf(l->err, l->errlen, "%s: %s", l->name, why);
	l->rc = rc == VIGIL_E_NOMEM ? rc : VIGIL_E_SYNTAX;
	return 0;
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

static const char *const q_actions[] = { "tag", "move", "private" };

const char *
vg_quarantine_action_name(unsigned action)
{
	for (unsigned i = 0; i < 3; i++)
		if (action == 1U << i)
			return q_actions[i];
	return "?";
}

unsigned
vg_config_quarantine(const struct vg_config *cfg, const char *clause,
    int severity)
{
	unsigned	a = 0;
	int		c = clause_index(clause, strlen(clause));

	for (size_t i = 0; i < cfg->nquarantine; i++) {
		const struct vg_quarantine *q = &cfg->quarantine[i];

		if ((q->clause < 0 || q->clause == c) &&
		    (q->min_severity < 0 || severity >= q->min_severity))
			a |= q->actions;
	}
	return a;
}

static enum vigil_err
finish_quarantine(struct vg_config *cfg, char *err, size_t errlen)
{
	struct vg_quarantine	*q;
	const char		*v, *p;
	size_t			 n, k;

	vg_free(cfg->quarantine);
	cfg->quarantine = NULL;
	cfg->nquarantine = 0;
	if (cfg->quarantine_s.n == 0)
		return VIGIL_OK;
	if ((cfg->quarantine = vg_calloc(cfg->quarantine_s.n,
	    sizeof(*cfg->quarantine))) == NULL)
		return VIGIL_E_NOMEM;
	for (size_t i = 0; i < cfg->quarantine_s.n; i++) {
		q = &cfg->quarantine[cfg->nquarantine];
		v = cfg->quarantine_s.v[i];
		n = strcspn(v, " \t");
		q->clause = q->min_severity = -1;
		if (n == 1 && *v == '*')
			;
		else if ((q->clause = clause_index(v, n)) >= 0)
			;
		else if ((q->min_severity = severity_index(v, n)) < 0)
			goto bad;
		p = v + n;
		p += strspn(p, " \t");
		if (*p == '\0')
			goto bad;
		while (*p != '\0') {
			n = strcspn(p, ",");
			while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
				n--;
			for (k = 0; k < 3; k++)
				if (strlen(q_actions[k]) == n &&
				    strncmp(q_actions[k], p, n) == 0)
					break;
			if (k == 3)
				goto bad;
			q->actions |= 1U << k;
			p += strcspn(p, ",");
			p += strspn(p, ", \t");
		}
		cfg->nquarantine++;
		continue;
bad:
		snprintf(err, errlen, "quarantine: '%s' is not \"SELECTOR "
		    "ACTION[,ACTION]\" (SELECTOR a clause, a severity or *; "
		    "ACTION tag, move or private)", v);
		return VIGIL_E_INVAL;
	}
	return VIGIL_OK;
}

static enum vigil_err
finish_policy(struct vg_config *cfg, char *err, size_t errlen)
{
	static const char *const excerpts[] = { "context", "redacted",
	    "off" };
	const char	*p = cfg->auto_suspend_s;
	size_t		 n, i;
	int		 c;
	enum vigil_err	 rc;

	cfg->auto_suspend = 0;
	for (;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		n = strcspn(p, ", \t");
		if ((c = clause_index(p, n)) < 0) {
			snprintf(err, errlen, "auto_suspend: '%.*s' is not a "
			    "clause (IV.9(1)..IV.9(8) or network-safety)", (int)n, p);
			return VIGIL_E_INVAL;
		}
		cfg->auto_suspend |= 1U << c;
		p += n;
	}
	for (i = 0; i < 3; i++)
		if (strcmp(cfg->excerpt_s, excerpts[i]) == 0)
			break;
	if (i == 3) {
		snprintf(err, errlen, "excerpt: '%s' is not context, redacted "
		    "or off", cfg->excerpt_s);
		return VIGIL_E_INVAL;
	}
	cfg->excerpt = (int)i;
	if ((rc = finish_quarantine(cfg, err, errlen)) != VIGIL_OK)
		return rc;
	for (i = 0; i < cfg->webhooks.n; i++) {
		const char *u = cfg->webhooks.v[i];

		if (strncmp(u, "http://", 7) != 0 &&
		    strncmp(u, "https://", 8) != 0) {
			snprintf(err, errlen, "webhook: '%s' is not \"URL "
			    "[SECRET]\" with an http:// or https:// URL", u);
			return VIGIL_E_INVAL;
		}
	}
	return VIGIL_OK;
}

static enum vigil_err
finish_buckets(struct vg_config *cfg, char *err, size_t errlen)
{
	const struct vg_bucket	*b;

	for (size_t i = 0; i < cfg->nbuckets; i++) {
		b = &cfg->buckets_cfg[i];
		if (strcmp(b->source, "local") != 0 &&
		    strcmp(b->source, "s3") != 0) {
			snprintf(err, errlen, "bucket \"%s\": source '%s' is "
			    "not local or s3", b->name, b->source);
			return VIGIL_E_INVAL;
		}
		if (strcmp(b->source, "s3") == 0 && *b->endpoint == '\0') {
			snprintf(err, errlen, "bucket \"%s\": source = s3 "
			    "needs an endpoint", b->name);
			return VIGIL_E_INVAL;
		}
		if (strcmp(b->addressing, "path") != 0 &&
		    strcmp(b->addressing, "virtual") != 0) {
			snprintf(err, errlen, "bucket \"%s\": addressing '%s' "
			    "is not path or virtual", b->name, b->addressing);
			return VIGIL_E_INVAL;
		}
		if (strcmp(b->mode, "incremental") != 0 &&
		    strcmp(b->mode, "full") != 0) {
			snprintf(err, errlen, "bucket \"%s\": mode '%s' is not "
			    "incremental or full", b->name, b->mode);
			return VIGIL_E_INVAL;
		}
		if (*b->schedule != '\0') {
			struct vg_cron	c;
			char		why[200];

			if (vg_cron_parse(b->schedule, &c, why, sizeof(why)) !=
			    VIGIL_OK) {
				snprintf(err, errlen, "bucket \"%s\": schedule: "
				    "%s", b->name, why);
				return VIGIL_E_INVAL;
			}
		}
		if (*b->access_key != '\0' && *b->secret_key == '\0') {
			snprintf(err, errlen, "bucket \"%s\": access_key "
			    "without secret_key", b->name);
			return VIGIL_E_INVAL;
		}
	}
	return VIGIL_OK;
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
	enum vigil_err	 rc;

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
	if ((rc = finish_policy(cfg, err, errlen)) != VIGIL_OK ||
	    (rc = finish_buckets(cfg, err, errlen)) != VIGIL_OK)
		return rc;
	cfg->limits.max_depth = (unsigned)cfg->max_depth;
	cfg->limits.max_bytes = cfg->max_bytes;
	cfg->limits.max_files = cfg->max_files;
	cfg->limits.max_ratio = (unsigned)cfg->max_ratio;
	cfg->limits.max_time = cfg->max_time;
	cfg->limits.text_layer = cfg->text_layer;
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

/* Whether a setting's value is a secret, never written back. */
static int
secret_setting(const struct setting *s)
{
	return strcmp(s->name, "secret_key") == 0 ||
	    strcmp(s->name, "session_token") == 0;
}

static void
write_one(FILE *f, const struct setting *s, const void *base,
    const struct vg_config *cfg)
{
	const char	*p = base, *doc = s->doc;

	if (strncmp(doc, "[policy] ", 9) == 0)
		doc += 9;
	fputc('\n', f);
	write_doc(f, doc);
	if (base == NULL) {
		if (s->type == CFG_TOKEN)
			fprintf(f, "#%s = admin "
			    "CHANGE-ME-TO-A-LONG-RANDOM-SECRET\n", s->name);
		else if (s->def == NULL)
			fprintf(f, "#%s =\n", s->name);
		else
			fprintf(f, "#%s =%s%s\n", s->name, *s->def ? " " : "",
			    s->def);
		return;
	}
	switch (s->type) {
	case CFG_STR:
		if (secret_setting(s) && **(char *const *)(p + s->off) != '\0')
			fprintf(f, "#%s = (secret not shown)\n", s->name);
		else
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
	case CFG_BOOL:
		fprintf(f, "%s = %s\n", s->name,
		    *(const int *)(p + s->off) ? "yes" : "no");
		break;
	case CFG_TOKEN:
		for (size_t t = 0; t < cfg->ntokens; t++)
			fprintf(f, "#%s = %s (secret not shown)%s%s\n",
			    s->name, role_names[cfg->tokens[t].role],
			    cfg->tokens[t].name ? " " : "",
			    cfg->tokens[t].name ? cfg->tokens[t].name : "");
		break;
	case CFG_WEIGHT:
		for (size_t w = 0; w < cfg->nweights; w++)
			fprintf(f, "%s = %s %s %llu\n", s->name,
			    cfg->weights[w].clause,
			    cfg->weights[w].severity < 0 ? "*" :
			    (const char *[]){ "low", "medium", "high",
			    "critical" }[cfg->weights[w].severity],
			    (unsigned long long)cfg->weights[w].weight);
		break;
	case CFG_STRS: {
		const struct vg_strs *l = (const void *)(p + s->off);

		/* Only the URL: a webhook's secret follows a space. */
		for (size_t k = 0; k < l->n; k++)
			fprintf(f, "%s = %.*s\n", s->name,
			    (int)strcspn(l->v[k], " "), l->v[k]);
		break;
	}
	}
}

void
vg_config_write(FILE *f, const struct vg_config *cfg)
{
	int	policy;

	if (cfg == NULL)
		fputs("# vigil.conf: settings of `vigil serve`.  Generated from "
		    "the settings table\n# in daemon/core/config.c "
		    "(vigil serve --print-defaults); every line\n# shows the "
		    "built-in default.  Command-line flags override the "
		    "file.\n", f);
	fputs("[serve]\n", f);
	for (policy = 0; policy < 2; policy++) {
		if (policy)
			fputs("\n# Accounts, the review queue, the feed and the "
			    "audit log.\n[policy]\n", f);
		for (size_t i = 0; i < NSETTINGS; i++)
			if ((strncmp(settings[i].doc, "[policy] ", 9) == 0) ==
			    policy)
				write_one(f, &settings[i], cfg, cfg);
	}
	for (size_t b = 0; cfg != NULL && b < cfg->nbuckets; b++) {
		fprintf(f, "\n[bucket \"%s\"]\n", cfg->buckets_cfg[b].name);
		for (size_t i = 0; i < NBUCKET_SETTINGS; i++)
			write_one(f, &bucket_settings[i], &cfg->buckets_cfg[b],
			    cfg);
	}
	if (cfg == NULL) {
		fputs("\n# One section per bucket that is not a plain directory "
		    "under the buckets\n# root, or that is scanned on a "
		    "schedule (git-config style names).\n#[bucket \"NAME\"]\n",
		    f);
		for (size_t i = 0; i < NBUCKET_SETTINGS; i++)
			write_one(f, &bucket_settings[i], NULL, NULL);
	}
}
