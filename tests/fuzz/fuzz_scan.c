/*
 * fuzz_scan.c: libFuzzer target for the whole engine on one object:
 * classification, every container format libarchive reads, matching.
 * Nothing an upload holds may crash, hang or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vigil/core.h"
#include "vigil/engine.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct eng_ruleset	*rs;
static struct eng_scanner	*sc;

static const char rules[] =
    "rule lit { meta: clause = \"IV.9(7)\" severity = \"low\" strings:\n"
    "  $a = \"needle\" nocase wide ascii fullword $b = { 50 4B ?? 0? [1-8]"
    " (03 | 05 06) }\n condition: any of them }\n"
    "rule re { meta: clause = \"IV.9(8)\" severity = \"high\" strings:\n"
    "  $r = /[0-9]{6}(19|20)[0-9]{2}[0-9X]{4}/ $s = /a.{0,40}b/s\n"
    " condition: #r > 1 or $s in (0..100) }\n";

static void
setup(void)
{
	char	 path[] = "/tmp/vigil-fuzz-XXXXXX.yar";
	int	 fd = mkstemps(path, 4);

	if (fd == -1 || write(fd, rules, sizeof(rules) - 1) < 0)
		abort();
	close(fd);
	if (eng_ruleset_compile(path, ENG_MODE_AUTO, &rs, NULL) != VIGIL_OK ||
	    eng_scanner_new(&sc) != VIGIL_OK)
		abort();
	unlink(path);
	vg_log_init("fuzz", VG_LOG_ERROR, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vigil_limits	 lim;
	struct eng_result	*r = NULL;
	char			*json;
	int			 fd;

	if (rs == NULL)
		setup();
	vigil_limits_default(&lim);
	lim.max_bytes = 64 << 20;
	lim.max_time = 5;
	if ((fd = memfd_create("fuzz", MFD_CLOEXEC)) == -1)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	lseek(fd, 0, SEEK_SET);
	if (eng_scan_fd(sc, rs, fd, "obj", &lim, &r) == VIGIL_OK) {
		json = eng_result_json(r);
		free(json);
		eng_result_free(r);
	}
	close(fd);
	return 0;
}
