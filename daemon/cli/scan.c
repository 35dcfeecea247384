/*
 * scan.c: `vigil scan`, the command-line front end of the engine, used the
 * way people use clamscan or yara.
 *
 * DESIGN
 * The main thread walks the named paths (fts, physical: symlinks inside a
 * tree are never followed, those named on the command line are) and puts
 * each object on a bounded queue; --threads workers take objects, scan
 * them with a scanner of their own, and print each result as one whole
 * line under a lock.  Anything that is not a regular file (FIFO, socket,
 * device) is reported "unsupported" from its lstat alone, and regular
 * files are opened O_NONBLOCK|O_NOFOLLOW and checked with fstat, so a file
 * swapped for a FIFO after the walk cannot hang a worker either.
 */
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/cli.h"
#include "vigil/core.h"

#define QUEUE_MAX	1024

struct item {
	char		*path;
	int		 kind;	/* ITEM_FILE, ITEM_STDIN, ITEM_UNSUPPORTED,
				   ITEM_ERROR */
	int		 err;	/* errno for ITEM_ERROR */
};

enum { ITEM_FILE, ITEM_STDIN, ITEM_UNSUPPORTED, ITEM_ERROR };

struct run {
	struct eng_ruleset	*rs;
	struct vigil_limits	 lim;
	int			 json;
	/* queue */
	pthread_mutex_t		 mu;
	pthread_cond_t		 nonempty, nonfull;
	struct item		 q[QUEUE_MAX];
	size_t			 qhead, qlen;
	int			 done;
	/* output and totals, under out_mu */
	pthread_mutex_t		 out_mu;
	uint64_t		 n[4], objects, bytes;
	int			 fatal;
};

static void
put(struct run *run, char *path, int kind, int err)
{
	pthread_mutex_lock(&run->mu);
	while (run->qlen == QUEUE_MAX)
		pthread_cond_wait(&run->nonfull, &run->mu);
	run->q[(run->qhead + run->qlen) % QUEUE_MAX] =
	    (struct item){ path, kind, err };
	run->qlen++;
	pthread_cond_signal(&run->nonempty);
	pthread_mutex_unlock(&run->mu);
}

static int
take(struct run *run, struct item *it)
{
	pthread_mutex_lock(&run->mu);
	while (run->qlen == 0 && !run->done)
		pthread_cond_wait(&run->nonempty, &run->mu);
	if (run->qlen == 0) {
		pthread_mutex_unlock(&run->mu);
		return 0;
	}
	*it = run->q[run->qhead];
	run->qhead = (run->qhead + 1) % QUEUE_MAX;
	run->qlen--;
	pthread_cond_signal(&run->nonfull);
	pthread_mutex_unlock(&run->mu);
	return 1;
}

static void
emit(struct run *run, struct eng_result *r)
{
	char	*line;

	line = run->json ? eng_result_json(r) : eng_result_text(r);
	pthread_mutex_lock(&run->out_mu);
	if (line != NULL) {
		fputs(line, stdout);
		fputc('\n', stdout);
	} else
		run->fatal = 1;
	run->n[r->verdict]++;
	run->objects++;
	run->bytes += r->size;
	pthread_mutex_unlock(&run->out_mu);
	vg_free(line);
}

static struct eng_result *
scan_item(struct run *run, struct eng_scanner *sc, const struct item *it)
{
	struct eng_result	*r = NULL;
	struct stat		 st;
	enum vigil_err		 err = VIGIL_OK;
	int			 fd = -1;

	switch (it->kind) {
	case ITEM_UNSUPPORTED:
		err = eng_result_new_problem(it->path, VIGIL_R_UNSUPPORTED,
		    "not a regular file", &r);
		break;
	case ITEM_ERROR:
		err = eng_result_new_problem(it->path, VIGIL_R_IO,
		    strerror(it->err), &r);
		break;
	case ITEM_STDIN:
		err = eng_scan_fd(sc, run->rs, STDIN_FILENO, it->path,
		    &run->lim, &r);
		break;
	case ITEM_FILE:
		fd = open(it->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC | O_NOCTTY);
		if (fd == -1) {
			err = eng_result_new_problem(it->path, errno == ELOOP ?
			    VIGIL_R_UNSUPPORTED : VIGIL_R_IO, strerror(errno),
			    &r);
			break;
		}
		if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
			err = eng_result_new_problem(it->path,
			    VIGIL_R_UNSUPPORTED, "not a regular file", &r);
			break;
		}
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		err = eng_scan_fd(sc, run->rs, fd, it->path, &run->lim, &r);
		break;
	}
	if (fd != -1)
		close(fd);
	if (err != VIGIL_OK) {
		fprintf(stderr, "vigil: %s: %s\n", it->path,
		    vigil_strerror(err));
		eng_result_free(r);
		r = NULL;
		(void)eng_result_new_problem(it->path, VIGIL_R_IO,
		    vigil_strerror(err), &r);
	}
	return r;
}

static void *
worker(void *arg)
{
	struct run		*run = arg;
	struct eng_scanner	*sc = NULL;
	struct eng_result	*r;
	struct item		 it;

	if (eng_scanner_new(&sc) != VIGIL_OK) {
		fprintf(stderr, "vigil: cannot set up a scanner (libmagic "
		    "database missing?)\n");
		pthread_mutex_lock(&run->out_mu);
		run->fatal = 1;
		pthread_mutex_unlock(&run->out_mu);
	}
	while (take(run, &it)) {
		if (sc != NULL && (r = scan_item(run, sc, &it)) != NULL) {
			emit(run, r);
			eng_result_free(r);
		}
		free(it.path);
	}
	eng_scanner_free(sc);
	return NULL;
}

/* Walks one command-line path, queueing what it finds. */
static void
walk(struct run *run, const char *path)
{
	char	*argv[2] = { (char *)path, NULL };
	FTS	*fts;
	FTSENT	*e;

	if (strcmp(path, "-") == 0) {
		put(run, strdup("-"), ITEM_STDIN, 0);
		return;
	}
	fts = fts_open(argv, FTS_PHYSICAL | FTS_COMFOLLOW | FTS_NOCHDIR,
	    NULL);
	if (fts == NULL) {
		put(run, strdup(path), ITEM_ERROR, errno);
		return;
	}
	while ((e = fts_read(fts)) != NULL) {
		switch (e->fts_info) {
		case FTS_F:
			put(run, strdup(e->fts_path), ITEM_FILE, 0);
			break;
		case FTS_DEFAULT:
			put(run, strdup(e->fts_path), ITEM_UNSUPPORTED, 0);
			break;
		case FTS_DNR:
		case FTS_ERR:
		case FTS_NS:
			put(run, strdup(e->fts_path), ITEM_ERROR,
			    e->fts_errno);
			break;
		case FTS_SL:
		case FTS_SLNONE:
			/* Symlinks inside a tree are not followed. */
			break;
		default:
			break;
		}
	}
	fts_close(fts);
}

static void
scan_usage(void)
{
	fprintf(stderr,
	    "usage: vigil scan [--rules PATH] [--json] [--threads N] "
	    "[--max-depth N]\n"
	    "                  [--max-bytes SIZE] [--max-files N] "
	    "[--max-ratio N]\n"
	    "                  [--max-time SECONDS] [--no-summary] "
	    "[--engine auto|pcre2]\n"
	    "                  [--no-text-layer] PATH...\n");
}

static int
parse_uint(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v > max) {
		fprintf(stderr, "vigil: %s: '%s' is not a number from 0 to "
		    "%llu\n", opt, s, (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int
cli_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "threads", required_argument, NULL, 't' },
		{ "max-depth", required_argument, NULL, 'D' },
		{ "max-bytes", required_argument, NULL, 'B' },
		{ "max-files", required_argument, NULL, 'F' },
		{ "max-ratio", required_argument, NULL, 'R' },
		{ "max-time", required_argument, NULL, 'T' },
		{ "no-summary", no_argument, NULL, 'n' },
		{ "engine", required_argument, NULL, 'e' },
		{ "no-text-layer", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run		 run;
	const char		*rules = NULL;
	enum eng_match_mode	 mode = ENG_MODE_AUTO;
	pthread_t		*th;
	uint64_t		 v, nthreads;
	double			 t0;
	char			*end;
	int			 c, summary = 1, rc;
	long			 ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(&run, 0, sizeof(run));
	vigil_limits_default(&run.lim);
	nthreads = ncpu > 0 ? (uint64_t)ncpu : 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:jt:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rules = optarg;
			break;
		case 'j':
			run.json = 1;
			break;
		case 't':
			if (parse_uint("--threads", optarg, 256, &nthreads) ||
			    nthreads == 0) {
				if (nthreads == 0)
					fprintf(stderr, "vigil: --threads: "
					    "must be at least 1\n");
				return VIGIL_EXIT_USAGE;
			}
			break;
		case 'D':
			if (parse_uint("--max-depth", optarg, VIGIL_MAX_DEPTH_CAP,
			    &v))
				return VIGIL_EXIT_USAGE;
			run.lim.max_depth = (unsigned)v;
			break;
		case 'B':
			if (vg_parse_size(optarg, &run.lim.max_bytes) == -1) {
				fprintf(stderr, "vigil: --max-bytes: '%s' is "
				    "not a size (e.g. 512M, 1G)\n", optarg);
				return VIGIL_EXIT_USAGE;
			}
			break;
		case 'F':
			if (parse_uint("--max-files", optarg, UINT64_MAX,
			    &run.lim.max_files))
				return VIGIL_EXIT_USAGE;
			break;
		case 'R':
			if (parse_uint("--max-ratio", optarg, UINT32_MAX, &v))
				return VIGIL_EXIT_USAGE;
			run.lim.max_ratio = (unsigned)v;
			break;
		case 'T':
			run.lim.max_time = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' ||
			    !(run.lim.max_time > 0)) {
				fprintf(stderr, "vigil: --max-time: '%s' is "
				    "not a positive number of seconds\n",
				    optarg);
				return VIGIL_EXIT_USAGE;
			}
			break;
		case 'n':
			summary = 0;
			break;
		case 'N':
			run.lim.text_layer = 0;
			break;
		case 'e':
			if (strcmp(optarg, "pcre2") == 0)
				mode = ENG_MODE_PCRE2;
			else if (strcmp(optarg, "auto") != 0) {
				fprintf(stderr, "vigil: --engine: want auto "
				    "or pcre2\n");
				return VIGIL_EXIT_USAGE;
			}
			break;
		case 'h':
			scan_usage();
			return 0;
		default:
			scan_usage();
			return VIGIL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "vigil: scan: no PATH given\n");
		scan_usage();
		return VIGIL_EXIT_USAGE;
	}
	if (rules == NULL)
		rules = cli_default_rules();
	if ((run.rs = cli_load_rules(rules, mode)) == NULL)
		return VIGIL_EXIT_USAGE;

	t0 = vg_now();
	pthread_mutex_init(&run.mu, NULL);
	pthread_mutex_init(&run.out_mu, NULL);
	pthread_cond_init(&run.nonempty, NULL);
	pthread_cond_init(&run.nonfull, NULL);
	if ((th = calloc(nthreads, sizeof(*th))) == NULL)
		vg_fatal("calloc");
	for (uint64_t i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, worker, &run) != 0)
			vg_fatal("pthread_create");
	for (int i = optind; i < argc; i++)
		walk(&run, argv[i]);
	pthread_mutex_lock(&run.mu);
	run.done = 1;
	pthread_cond_broadcast(&run.nonempty);
	pthread_mutex_unlock(&run.mu);
	for (uint64_t i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	free(th);

	if (summary) {
		FILE *f = run.json ? stderr : stdout;

		fprintf(f, "\n----------- SCAN SUMMARY -----------\n"
		    "Objects: %llu\nClean: %llu\nFlagged: %llu\n"
		    "Unscannable: %llu\nErrors: %llu\n"
		    "Data read: %.2f MiB (%llu bytes)\nTime: %.3f sec\n",
		    (unsigned long long)run.objects,
		    (unsigned long long)run.n[VIGIL_CLEAN],
		    (unsigned long long)run.n[VIGIL_FLAGGED],
		    (unsigned long long)run.n[VIGIL_UNSCANNABLE],
		    (unsigned long long)run.n[VIGIL_ERROR],
		    (double)run.bytes / (1 << 20),
		    (unsigned long long)run.bytes, vg_now() - t0);
	}
	fflush(stdout);
	eng_ruleset_unref(run.rs);
	if (run.n[VIGIL_FLAGGED] > 0)
		rc = VIGIL_EXIT_FLAGGED;
	else if (run.n[VIGIL_UNSCANNABLE] > 0 || run.n[VIGIL_ERROR] > 0 ||
	    run.fatal)
		rc = VIGIL_EXIT_UNSCANNABLE;
	else
		rc = VIGIL_EXIT_CLEAN;
	return rc;
}
