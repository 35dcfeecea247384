/*
 * main.c: the vigil program.  One binary, several subcommands, like git:
 *
 *   vigil scan [options] PATH...     scan files and directories
 *   vigil rules check PATH           compile rule packs and report
 *   vigil serve [options]            the HTTP daemon (daemon/server/)
 *   vigil bucket-scan BUCKET         a full-bucket scan by a running daemon
 *
 * The promise of `vigil serve` started as root: it opens its listening
 * socket, its database and its rules first, then becomes the configured
 * user (default vigil; real, effective and saved ids, that user's group
 * only, checked that there is no way back) before any scan thread starts,
 * and from then on it neither listens anew nor writes outside its state
 * directory.  Objects and rules it reads must be readable by that user.
 */
#include <locale.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "vigil/cli.h"
#include "vigil/core.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: vigil scan [--rules PATH] [--json] [--threads N] "
	    "[--max-depth N]\n"
	    "                  [--max-bytes SIZE] [--max-files N] "
	    "[--max-ratio N]\n"
	    "                  [--max-time SECONDS] [--no-summary] "
	    "[--engine auto|pcre2]\n"
	    "                  [--no-text-layer] PATH...\n"
	    "       vigil rules check [PATH]\n"
	    "       vigil serve [--config FILE] [--listen ADDR:PORT] "
	    "[--state-dir DIR]\n"
	    "                   [--buckets DIR] [--rules PATH] [--workers N] "
	    "[--check-config]\n"
	    "                   [--print-defaults]\n"
	    "       vigil bucket-scan BUCKET [--prefix P] [--full] [--url URL] "
	    "[--token TOKEN]\n"
	    "                         [--config FILE] [--state-dir DIR] "
	    "[--no-wait]\n"
	    "       vigil --version\n");
}

int
main(int argc, char **argv)
{
	const char	*helper;

	/*
	 * Archive member names reach us through libarchive's charset
	 * conversion, which in the C locale gives up on non-ASCII names.
	 * Character classes stay ASCII (isalnum is false above 0x7f).
	 */
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		(void)setlocale(LC_CTYPE, "");
	vg_log_init("vigil", VG_LOG_INFO, 0);
	if (argc < 2) {
		usage(stderr);
		return VIGIL_EXIT_USAGE;
	}
	/* Internal: poppler in its own process (daemon/engine/pdfproc.c). */
	if (strcmp(argv[1], "pdf-text") == 0)
		return eng_pdf_helper_main();
	helper = getenv("VIGIL_PDF_HELPER");
	eng_set_pdf_helper(helper != NULL && *helper != '\0' ? helper :
	    "/proc/self/exe");
	if (strcmp(argv[1], "scan") == 0)
		return cli_scan(argc - 1, argv + 1);
	if (strcmp(argv[1], "rules") == 0)
		return cli_rules(argc - 1, argv + 1);
	if (strcmp(argv[1], "serve") == 0)
		return cli_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "bucket-scan") == 0)
		return cli_bucket_scan(argc - 1, argv + 1);
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("vigil %s\n", VIGIL_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "vigil: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return VIGIL_EXIT_USAGE;
}
