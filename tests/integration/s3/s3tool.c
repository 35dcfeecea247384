/*
 * s3tool.c: every call of the S3 client (include/vigil/s3.h) from the
 * command line, for test_s3_client.py and for poking at a real bucket.
 *
 * Results go to stdout; a failure prints the status to stderr as
 *
 *   s3tool: ERRNAME http=403 code=SignatureDoesNotMatch: GET b/k: ...
 *
 * and exits with the enum vigil_err value (2 VIGIL_E_IO, 10 NOTFOUND,
 * 11 PERM, ...); 64 is a usage error.  Credentials come from the options
 * or, as in the daemon, from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/core.h"
#include "vigil/s3.h"

static void
usage(void)
{
	fprintf(stderr,
"usage: s3tool [--endpoint URL] [--region R] [--vhost] [--access-key K]\n"
"              [--secret-key S] [--session-token T] [--retries N]\n"
"              [--backoff MS] [--timeout MS] [--connect-timeout MS]\n"
"              [--insecure] [--ca-file F] [-v] COMMAND ...\n"
"commands:\n"
"  head BUCKET KEY                  size, etag and mtime\n"
"  get [--resume N] [--abort-after N] BUCKET KEY [OFF LEN]\n"
"                                   the bytes, to stdout\n"
"  list [--prefix P] [--start-after K] [--max N] [--long] BUCKET\n"
"                                   every key over all pages\n"
"  tag BUCKET KEY [K=V ...]         replace the tag set\n"
"  tags BUCKET KEY                  print K=V lines\n"
"  untag BUCKET KEY                 delete the tag set\n"
"  copy SRC_BUCKET SRC_KEY DST_BUCKET DST_KEY\n"
"  delete BUCKET KEY\n"
"  acl BUCKET KEY CANNED            put a canned ACL\n"
"  public BUCKET KEY                \"public\" or \"private\"\n");
	exit(64);
}

static int
fail(enum vigil_err err, const struct s3_status *st)
{
	fprintf(stderr, "s3tool: %s http=%ld code=%s: %s\n",
	    vigil_strerror(err), st->http, st->code[0] != '\0' ? st->code :
	    "-", st->msg[0] != '\0' ? st->msg : "(no message)");
	return (int)err;
}

static uint64_t
num(const char *s)
{
	char			*end;
	unsigned long long	 v;

	v = strtoull(s, &end, 10);
	if (*s == '\0' || *end != '\0')
		usage();
	return v;
}

struct getctx {
	uint64_t	delivered;
	uint64_t	abort_after;	/* UINT64_MAX: never */
};

static int
get_cb(const void *buf, size_t n, void *arg)
{
	struct getctx	*g = arg;

	if (g->delivered + n > g->abort_after)
		return -1;
	if (fwrite(buf, 1, n, stdout) != n)
		return -1;
	g->delivered += n;
	return 0;
}

/*
 * get, re-requesting what is left after a broken transfer up to `resume`
 * times: the pattern s3.h asks callers to follow.
 */
static int
cmd_get(struct s3_client *c, int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "resume", required_argument, NULL, 'r' },
		{ "abort-after", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	struct s3_status	 st;
	struct getctx		 g = { 0, UINT64_MAX };
	uint64_t		 off = 0, len = UINT64_MAX, before;
	enum vigil_err		 err;
	int			 ch, resume = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (ch == 'r')
			resume = (int)num(optarg);
		else if (ch == 'a')
			g.abort_after = num(optarg);
		else
			usage();
	}
	argc -= optind;
	argv += optind;
	if (argc != 2 && argc != 4)
		usage();
	if (argc == 4) {
		off = num(argv[2]);
		len = num(argv[3]);
	}
	for (;;) {
		before = g.delivered;
		err = s3_get(c, argv[0], argv[1], off, len, get_cb, &g, &st);
		if (err != VIGIL_E_IO || g.delivered == before ||
		    resume-- <= 0 || g.delivered >= g.abort_after)
			break;
		fprintf(stderr, "s3tool: resuming after %" PRIu64 " bytes: "
		    "%s\n", g.delivered, st.msg);
		off += g.delivered - before;
		if (len != UINT64_MAX)
			len -= g.delivered - before;
	}
	fflush(stdout);
	if (err != VIGIL_OK)
		return fail(err, &st);
	return 0;
}

static int
cmd_list(struct s3_client *c, int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "prefix", required_argument, NULL, 'p' },
		{ "start-after", required_argument, NULL, 's' },
		{ "max", required_argument, NULL, 'm' },
		{ "long", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	struct s3_status	 st;
	struct s3_page		 page;
	const char		*prefix = NULL, *after = NULL;
	char			*token = NULL;
	size_t			 max = 1000, i, npages = 0, nkeys = 0;
	enum vigil_err		 err;
	int			 ch, lng = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			prefix = optarg;
			break;
		case 's':
			after = optarg;
			break;
		case 'm':
			max = (size_t)num(optarg);
			break;
		case 'l':
			lng = 1;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	do {
		err = s3_list(c, argv[optind], prefix, token, after, max,
		    &page, &st);
		vg_free(token);
		token = NULL;
		if (err != VIGIL_OK)
			return fail(err, &st);
		npages++;
		for (i = 0; i < page.n; i++, nkeys++) {
			if (lng)
				printf("%zu\t%" PRIu64 "\t%s\t%.3f\t%s\n",
				    npages, page.entries[i].size,
				    page.entries[i].etag,
				    page.entries[i].mtime,
				    page.entries[i].key);
			else
				printf("%s\n", page.entries[i].key);
		}
		if (page.next_token != NULL) {
			token = page.next_token;
			page.next_token = NULL;
		}
		s3_page_free(&page);
	} while (token != NULL);
	fprintf(stderr, "s3tool: %zu keys in %zu pages\n", nkeys, npages);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "region", required_argument, NULL, 'R' },
		{ "vhost", no_argument, NULL, 'H' },
		{ "access-key", required_argument, NULL, 'A' },
		{ "secret-key", required_argument, NULL, 'S' },
		{ "session-token", required_argument, NULL, 'T' },
		{ "retries", required_argument, NULL, 'r' },
		{ "backoff", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ "connect-timeout", required_argument, NULL, 'c' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "ca-file", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 }
	};
	struct s3_config	 cfg;
	struct s3_client	*c;
	struct s3_status	 st;
	struct s3_object_info	 info;
	enum vigil_err		 err;
	const char		*cmd;
	char			 errbuf[256], **kv, **tv;
	int			 ch, verbose = 0, rc = 0, n, i, pub;

	s3_config_default(&cfg);
	cfg.endpoint = getenv("S3_ENDPOINT");
	while ((ch = getopt_long(argc, argv, "+v", opts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			cfg.endpoint = optarg;
			break;
		case 'R':
			cfg.region = optarg;
			break;
		case 'H':
			cfg.path_style = 0;
			break;
		case 'A':
			cfg.access_key = optarg;
			break;
		case 'S':
			cfg.secret_key = optarg;
			break;
		case 'T':
			cfg.session_token = optarg;
			break;
		case 'r':
			cfg.retries = (int)num(optarg);
			break;
		case 'b':
			cfg.backoff_ms = (long)num(optarg);
			break;
		case 't':
			cfg.timeout_ms = (long)num(optarg);
			break;
		case 'c':
			cfg.connect_timeout_ms = (long)num(optarg);
			break;
		case 'k':
			cfg.verify_tls = 0;
			break;
		case 'C':
			cfg.ca_file = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	vg_log_init("s3tool", verbose ? VG_LOG_DEBUG : VG_LOG_WARN, 0);
	if ((c = s3_client_new(&cfg, errbuf, sizeof(errbuf))) == NULL) {
		fprintf(stderr, "s3tool: %s\n", errbuf);
		return 64;
	}
	cmd = argv[0];
	if (strcmp(cmd, "get") == 0)
		rc = cmd_get(c, argc, argv);
	else if (strcmp(cmd, "list") == 0)
		rc = cmd_list(c, argc, argv);
	else if (strcmp(cmd, "head") == 0 && argc == 3) {
		if ((err = s3_head(c, argv[1], argv[2], &info, &st)) !=
		    VIGIL_OK)
			rc = fail(err, &st);
		else
			printf("size=%" PRIu64 " etag=%s mtime=%.0f\n",
			    info.size, info.etag, info.mtime);
	} else if (strcmp(cmd, "tag") == 0 && argc >= 3) {
		n = argc - 3;
		if ((kv = vg_calloc((size_t)n * 2 + 1, sizeof(*kv))) == NULL)
			return 1;
		for (i = 0; i < n; i++) {
			char	*eq = strchr(argv[3 + i], '=');

			if (eq == NULL)
				usage();
			*eq = '\0';
			kv[2 * i] = argv[3 + i];
			kv[2 * i + 1] = eq + 1;
		}
		if ((err = s3_put_tagging(c, argv[1], argv[2],
		    (const char *const *)kv, &st)) != VIGIL_OK)
			rc = fail(err, &st);
		vg_free(kv);
	} else if (strcmp(cmd, "tags") == 0 && argc == 3) {
		if ((err = s3_get_tagging(c, argv[1], argv[2], &tv, &st)) !=
		    VIGIL_OK)
			rc = fail(err, &st);
		else {
			for (i = 0; tv[i] != NULL; i += 2)
				printf("%s=%s\n", tv[i], tv[i + 1]);
			s3_kv_free(tv);
		}
	} else if (strcmp(cmd, "untag") == 0 && argc == 3) {
		if ((err = s3_delete_tagging(c, argv[1], argv[2], &st)) !=
		    VIGIL_OK)
			rc = fail(err, &st);
	} else if (strcmp(cmd, "copy") == 0 && argc == 5) {
		if ((err = s3_copy(c, argv[1], argv[2], argv[3], argv[4],
		    &st)) != VIGIL_OK)
			rc = fail(err, &st);
	} else if (strcmp(cmd, "delete") == 0 && argc == 3) {
		if ((err = s3_delete(c, argv[1], argv[2], &st)) != VIGIL_OK)
			rc = fail(err, &st);
	} else if (strcmp(cmd, "acl") == 0 && argc == 4) {
		if ((err = s3_put_acl(c, argv[1], argv[2], argv[3], &st)) !=
		    VIGIL_OK)
			rc = fail(err, &st);
	} else if (strcmp(cmd, "public") == 0 && argc == 3) {
		if ((err = s3_get_acl_public(c, argv[1], argv[2], &pub,
		    &st)) != VIGIL_OK)
			rc = fail(err, &st);
		else
			printf("%s\n", pub ? "public" : "private");
	} else
		usage();
	s3_client_free(c);
	return rc;
}
