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
	/* The daemon's evidence excerpts, so their capture is fuzzed too. */
	eng_scanner_set_excerpt(sc, 64);
	unlink(path);
	vg_log_init("fuzz", VG_LOG_ERROR, 0);
}

/* An in-memory object for eng_scan_reader(): the object-store path. */
struct mem {
	const uint8_t	*p;
	size_t		 n, off;
};

static ssize_t
mem_read(void *arg, void *buf, size_t n)
{
	struct mem *m = arg;

	if (n > m->n - m->off)
		n = m->n - m->off;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static ssize_t
mem_pread(void *arg, void *buf, size_t n, uint64_t off)
{
	struct mem *m = arg;

	if (off >= m->n)
		return 0;
	if (n > m->n - off)
		n = m->n - (size_t)off;
	memcpy(buf, m->p + off, n);
	return (ssize_t)n;
}

static const char *
mem_error(void *arg)
{
	(void)arg;
	return "no error";
}

/* Reads every excerpt byte, so a bad bound shows under ASan. */
static unsigned
touch(const struct eng_result *r)
{
	unsigned	sum = 0;

	for (size_t i = 0; i < r->nmatches; i++) {
		const struct eng_match *m = &r->matches[i];

		if (m->excerpt == NULL)
			continue;
		if (m->excerpt_mark + m->excerpt_marklen > m->excerpt_len)
			abort();
		for (size_t k = 0; k < m->excerpt_len; k++)
			sum += m->excerpt[k];
	}
	return sum;
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
		json = eng_result_json_ex(r, 1);
		free(json);
		(void)touch(r);
		eng_result_free(r);
	}
	close(fd);
	/* Half the inputs again through the reader path (ranged reads). */
	if (size & 1) {
		struct mem		m = { data, size, 0 };
		struct eng_reader	rd = { &m, mem_read, mem_pread, size,
					    mem_error };

		r = NULL;
		if (eng_scan_reader(sc, rs, &rd, "obj", &lim, &r) ==
		    VIGIL_OK) {
			(void)touch(r);
			eng_result_free(r);
		}
	}
	return 0;
}
