/*
 * rules_src.h: compile a ruleset from a string, for the engine's tests.
 * The source goes through a temporary file, as rules do in real use.
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

#endif /* VIGIL_TEST_RULES_SRC_H */
