/*
 * config.h: the settings of `vigil serve`.
 *
 * One table of settings (name, type, default, target field, documentation)
 * in daemon/core/config.c feeds the INI parser, the command-line overrides,
 * `vigil serve --check-config` and the documented packaging/vigil.conf, the
 * way Redis's static_configs[] does.  Keys sit at the top of the file or
 * under a [serve] section; unknown keys and sections are errors.
 */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "vigil/vigil.h"

enum vg_role {
	VG_ROLE_HOOK = 0,	/* posts events and scans */
	VG_ROLE_MODERATOR,	/* reads verdicts, and what hook may do */
	VG_ROLE_ADMIN,		/* reloads rules, and everything else */
};

const char	*vg_role_name(enum vg_role);

struct vg_token {
	enum vg_role	 role;
	char		*secret;
	char		*name;		/* moderator NAME, or NULL */
};

/* A repeatable key's values, in the order given. */
struct vg_strs {
	char		**v;
	size_t		  n;
};

/* A per-clause weight: clause, severity (-1: any) and weight. */
struct vg_weight {
	char		 clause[16];
	int		 severity;
	uint64_t	 weight;
};

/*
 * A [bucket "NAME"] section: how that bucket is reached and scanned.  A
 * bucket with no section is a directory under the local buckets root.
 */
struct vg_bucket {
	char		*name;
	char		*source;	/* "local" or "s3" */
	char		*schedule;	/* cron expression, or NULL */
	char		*prefix;	/* scheduled scans: key prefix */
	char		*mode;		/* scheduled scans: incremental|full */
	char		*endpoint, *region, *addressing;
	char		*access_key, *secret_key, *session_token;
	char		*ca_file;
	int		 verify_tls;
	char		*quarantine_bucket;	/* s3: copy flagged here */
	char		*account;	/* bucket scans' default account */
	uint64_t	 max_objects_per_s, max_bytes_per_s;	/* 0: none */
	uint64_t	 list_page;	/* keys per listing request */
};

/* Where the account behind a bucket object comes from. */
enum vg_account_from {
	VG_ACCOUNT_OWNER = 0,	/* s3.bucket.ownerIdentity.principalId */
	VG_ACCOUNT_UPLOADER,	/* userIdentity.principalId */
	VG_ACCOUNT_PREFIX,	/* first capture of account_prefix on key */
	VG_ACCOUNT_MAP,		/* bucket -> account, from account_map */
};

struct vg_config {
	char		*listen;	/* ADDR:PORT */
	char		*state_dir;
	char		*user;		/* to run as when started as root */
	char		*buckets;	/* "" means STATE_DIR/buckets */
	char		*rules;
	uint64_t	 workers;	/* 0: one per core */
	uint64_t	 queue_size;
	uint64_t	 max_body;
	uint64_t	 max_connections;
	uint64_t	 timeout;	/* seconds: headers and body */
	uint64_t	 drain_timeout;
	uint64_t	 commit_delay_ms;
	struct vigil_limits limits;
	uint64_t	 max_depth;	/* copied into limits */
	uint64_t	 max_files;
	uint64_t	 max_ratio;
	double		 max_time;
	uint64_t	 max_bytes;
	int		 text_layer;
	char		*account_from_s;
	enum vg_account_from account_from;
	char		*account_prefix;
	char		*account_map;
	char		*log_level_s;
	int		 log_level;	/* enum vg_log_level */
	struct vg_token	*tokens;
	size_t		 ntokens;
	/* Accounts and review. */
	uint64_t	 weight[4];	/* by enum eng_severity */
	struct vg_weight *weights;	/* per-clause overrides */
	size_t		 nweights;
	uint64_t	 flag_threshold;
	uint64_t	 score_window_days;
	char		*auto_suspend_s;
	unsigned	 auto_suspend;	/* bit i: eng_clauses[i] */
	uint64_t	 claim_lease;	/* seconds */
	uint64_t	 excerpt_bytes;
	char		*excerpt_s;
	int		 excerpt;	/* enum vg_excerpt */
	uint64_t	 audit_retention_days;
	uint64_t	 verdict_retention_days;
	struct vg_strs	 webhooks;	/* "URL [SECRET]" */
	struct vg_strs	 quarantine_s;	/* "SELECTOR ACTION[,ACTION]" */
	struct vg_quarantine *quarantine;
	size_t		 nquarantine;
	uint64_t	 webhook_timeout;
	uint64_t	 webhook_backoff_max;
	uint64_t	 feed_poll_max;
	/* Buckets, from [bucket "NAME"] sections. */
	struct vg_bucket *buckets_cfg;
	size_t		 nbuckets;
};

/* Quarantine actions, applied to a flagged bucket object. */
enum {
	VG_Q_TAG = 1 << 0,	/* tag it vigil-verdict=flagged */
	VG_Q_MOVE = 1 << 1,	/* move it to the quarantine bucket */
	VG_Q_PRIVATE = 1 << 2,	/* revoke public read */
};

/* A quarantine rule: findings of clause (-1 any) at severity >= min. */
struct vg_quarantine {
	int		 clause;	/* index in clause order, or -1 */
	int		 min_severity;	/* enum eng_severity, or -1 */
	unsigned	 actions;
};

/* The index of clause name s[0..len) in eng_clauses[], or -1. */
int		vg_clause_index(const char *s, size_t len);
/* The actions quarantine rules give a finding, as VG_Q_* bits. */
unsigned	vg_config_quarantine(const struct vg_config *,
		    const char *clause, int severity);
const char	*vg_quarantine_action_name(unsigned action);

enum vg_excerpt {
	VG_EXCERPT_CONTEXT = 0,	/* bytes around the match */
	VG_EXCERPT_REDACTED,	/* the matched bytes only */
	VG_EXCERPT_OFF,
};

/* The [bucket "NAME"] section of name, or NULL. */
const struct vg_bucket *vg_config_bucket(const struct vg_config *,
		    const char *name);

/* The built-in defaults; free with vg_config_free(). NULL: no memory. */
struct vg_config *vg_config_new(void);
void		vg_config_free(struct vg_config *);

/*
 * Reads an INI file into cfg, on top of what is there.  VIGIL_E_IO: the
 * file could not be read; VIGIL_E_SYNTAX: err (errlen bytes) says
 * "file:line: why".
 */
enum vigil_err	vg_config_load(struct vg_config *, const char *path,
		    char *err, size_t errlen);
/* Same, from a string (tests); name is what errors call it. */
enum vigil_err	vg_config_load_string(struct vg_config *, const char *text,
		    const char *name, char *err, size_t errlen);
/* Sets one key, as the file or a command-line flag would. */
enum vigil_err	vg_config_set(struct vg_config *, const char *key,
		    const char *value, char *err, size_t errlen);
/*
 * Checks settings against each other after loading and fills derived
 * fields (limits, buckets default, enums).  VIGIL_E_INVAL with err set.
 */
enum vigil_err	vg_config_finish(struct vg_config *, char *err,
		    size_t errlen);
/*
 * Writes every setting as documented INI.  With cfg NULL the defaults are
 * written commented out: that text is packaging/vigil.conf.  Token secrets
 * are never written.
 */
void		vg_config_write(FILE *, const struct vg_config *);

/* Splits "ADDR:PORT" (ADDR may be [v6]).  -1 if malformed. */
int		vg_config_split_listen(const char *, char *host, size_t hostlen,
		    uint16_t *port);

#endif /* VIGIL_CONFIG_H */
