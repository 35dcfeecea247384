/*
 * rules.c: `vigil rules check PATH`, and the rule loading every command
 * shares.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vigil/cli.h"
#include "vigil/core.h"

#ifndef VIGIL_RULES_DIR
#define VIGIL_RULES_DIR "/usr/share/vigil/rules"
#endif

const char *
cli_default_rules(void)
{
	struct stat	st;

	if (stat(VIGIL_RULES_DIR, &st) == 0 && S_ISDIR(st.st_mode))
		return VIGIL_RULES_DIR;
	return "rules";
}

/*
 * The command-line tools keep compiled rules in VIGIL_CACHE_DIR, else
 * $XDG_CACHE_HOME/vigil, else ~/.cache/vigil; VIGIL_CACHE_DIR=off keeps
 * none.
 */
static void
set_cache_dir(void)
{
	const char	*env = getenv("VIGIL_CACHE_DIR"), *home;
	char		 dir[1024];

	if (env != NULL) {
		eng_ruleset_set_cache_dir(strcmp(env, "off") == 0 ? NULL :
		    env);
		return;
	}
	if ((env = getenv("XDG_CACHE_HOME")) != NULL && env[0] == '/')
		snprintf(dir, sizeof(dir), "%s/vigil", env);
	else if ((home = getenv("HOME")) != NULL && home[0] == '/') {
		snprintf(dir, sizeof(dir), "%s/.cache", home);
		(void)mkdir(dir, 0700);
		snprintf(dir, sizeof(dir), "%s/.cache/vigil", home);
	} else
		return;
	eng_ruleset_set_cache_dir(dir);
}

struct eng_ruleset *
cli_load_rules(const char *path, enum eng_match_mode mode)
{
	struct eng_ruleset	*rs;
	struct eng_diag		 d;
	enum vigil_err		 err;

	set_cache_dir();
	if ((err = eng_ruleset_compile(path, mode, &rs, &d)) == VIGIL_OK)
		return rs;
	if (d.line > 0)
		fprintf(stderr, "vigil: %s:%d:%d: %s\n", d.file, d.line,
		    d.column, d.msg);
	else if (d.file[0] != '\0')
		fprintf(stderr, "vigil: %s: %s\n", d.file,
		    d.msg[0] ? d.msg : vigil_strerror(err));
	else
		fprintf(stderr, "vigil: %s: %s\n", path, vigil_strerror(err));
	return NULL;
}

int
cli_rules(int argc, char **argv)
{
	struct eng_ruleset	*rs;
	const char		*path;
	size_t			 counts[ENG_NCLAUSES], ex, pf, po;

	if (argc < 2 || strcmp(argv[1], "check") != 0 || argc > 3) {
		fprintf(stderr, "usage: vigil rules check [PATH]\n");
		return VIGIL_EXIT_USAGE;
	}
	path = argc == 3 ? argv[2] : cli_default_rules();
	if ((rs = cli_load_rules(path, ENG_MODE_AUTO)) == NULL)
		return VIGIL_EXIT_USAGE;
	eng_ruleset_clause_counts(rs, counts);
	eng_ruleset_pattern_stats(rs, &ex, &pf, &po);
	printf("%s: ok, %zu rules, version %.16s\n", path,
	    eng_ruleset_nrules(rs), eng_ruleset_version(rs));
	for (size_t i = 0; i < ENG_NCLAUSES; i++)
		printf("  %-15s %zu\n", eng_clauses[i], counts[i]);
	printf("patterns: %zu exact, %zu prefiltered, %zu PCRE2 only\n", ex,
	    pf, po);
	eng_ruleset_unref(rs);
	return 0;
}
