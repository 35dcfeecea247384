/*
 * fuzz_rules.c: libFuzzer target for the rule compiler: any bytes in a
 * rule file give a ruleset or a diagnostic, never a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vigil/core.h"
#include "vigil/engine.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 path[64];
	struct eng_ruleset	*rs = NULL;
	struct eng_diag		 d;
	FILE			*f;

	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "/tmp/vigil-fuzz-rules-%d.yar",
		    (int)getpid());
		vg_log_init("fuzz", VG_LOG_ERROR, 0);
	}
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	if (eng_ruleset_compile(path, ENG_MODE_AUTO, &rs, &d) == VIGIL_OK)
		eng_ruleset_unref(rs);
	return 0;
}
