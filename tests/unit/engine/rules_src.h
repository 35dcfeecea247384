/*
 * rules_src.h: helpers for the engine's tests: compile a ruleset from a
 * string (through a temporary file, as rules go in real use), and look
 * for a rule in a result by its path.
 */
#ifndef VIGIL_TEST_RULES_SRC_H
#define VIGIL_TEST_RULES_SRC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/engine.h"

/* Returns the ruleset, or NULL after printing file:line:column. */
static inline struct eng_ruleset *
rules_from_src(const char *src, enum eng_match_mode mode)
{
	char			 path[] = "/tmp/vigil-test-XXXXXX.yar";
	struct eng_ruleset	*rs = NULL;
	struct eng_diag		 d;
	int			 fd = mkstemps(path, 4);
	size_t			 n = strlen(src);

	if (fd < 0)
		return NULL;
	if (write(fd, src, n) != (ssize_t)n) {
		close(fd);
		unlink(path);
		return NULL;
	}
	close(fd);
	if (eng_ruleset_compile(path, mode, &rs, &d) != VIGIL_OK) {
		fprintf(stderr, "%d:%d: %s\n", d.line, d.column, d.msg);
		rs = NULL;
	}
	unlink(path);
	return rs;
}

/* Is rule reported with this path ("a/b/#text", elements joined by /)? */
static inline int
hit(const struct eng_result *r, const char *rule, const char *path)
{
	for (size_t i = 0; i < r->nmatches; i++) {
		char	buf[512] = "";
		size_t	len = 0;

		for (size_t k = 0; k < r->matches[i].npath &&
		    len < sizeof(buf); k++)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
			    "%s%s", k > 0 ? "/" : "", r->matches[i].path[k]);
		if (strcmp(r->matches[i].rule, rule) == 0 &&
		    strcmp(buf, path) == 0)
			return 1;
	}
	return 0;
}

#endif /* VIGIL_TEST_RULES_SRC_H */
