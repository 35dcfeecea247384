/*
 * hsprobe.c: Vectorscan alone, without vigil around it.  Scans every file
 * named in FILELIST (read into memory first) in stream mode, 64 KiB per
 * call as vigil does, through each database in turn, and prints the best
 * of three rounds.  Each PATFILE becomes one database; a line is
 * "FLAGS<TAB>EXPRESSION", FLAGS from i (caseless), 1 (single match),
 * s (dot-all).  bench/scan/floor.py writes the pattern files.
 *
 * usage: hsprobe FILELIST PATFILE...
 * prints: SECONDS MBPS MATCHES
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <hs/hs.h>

#define CHUNK	65536
#define MAXDB	16

static unsigned long long matches;

static int
on_match(unsigned id, unsigned long long from, unsigned long long to,
    unsigned flags, void *arg)
{
	(void)id, (void)from, (void)to, (void)flags, (void)arg;
	matches++;
	return 0;
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static hs_database_t *
compile(const char *path)
{
	hs_database_t		 *db;
	hs_compile_error_t	 *e;
	char			  line[8192], **ex = NULL;
	unsigned		 *fl = NULL, *ids = NULL, n = 0, cap = 0;
	FILE			 *f = fopen(path, "r");

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *tab = strchr(line, '\t');

		line[strcspn(line, "\n")] = '\0';
		if (tab == NULL)
			continue;
		*tab = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			ex = realloc(ex, cap * sizeof(*ex));
			fl = realloc(fl, cap * sizeof(*fl));
			ids = realloc(ids, cap * sizeof(*ids));
			if (ex == NULL || fl == NULL || ids == NULL)
				exit(2);
		}
		fl[n] = (strchr(line, 'i') ? HS_FLAG_CASELESS : 0) |
		    (strchr(line, '1') ? HS_FLAG_SINGLEMATCH : 0) |
		    (strchr(line, 's') ? HS_FLAG_DOTALL : 0);
		ex[n] = strdup(tab + 1);
		ids[n] = n;
		n++;
	}
	fclose(f);
	if (hs_compile_multi((const char *const *)ex, fl, ids, n,
	    HS_MODE_STREAM, NULL, &db, &e) != HS_SUCCESS) {
		fprintf(stderr, "%s: pattern %d: %s\n", path, e->expression,
		    e->message);
		exit(2);
	}
	for (unsigned i = 0; i < n; i++)
		free(ex[i]);
	free(ex);
	free(fl);
	free(ids);
	return db;
}

int
main(int argc, char **argv)
{
	hs_database_t	*db[MAXDB];
	hs_scratch_t	*scratch = NULL;
	char		 line[4096], **data = NULL;
	size_t		*len = NULL, nf = 0, cap = 0, total = 0;
	double		 best = 1e30;
	int		 ndb = argc - 2;
	FILE		*l;

	if (argc < 3 || ndb > MAXDB) {
		fprintf(stderr, "usage: hsprobe FILELIST PATFILE...\n");
		return 2;
	}
	if ((l = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		return 2;
	}
	while (fgets(line, sizeof(line), l) != NULL) {
		struct stat	 sb;
		FILE		*f;

		line[strcspn(line, "\n")] = '\0';
		if ((f = fopen(line, "rb")) == NULL || fstat(fileno(f), &sb))
			continue;
		if (nf == cap) {
			cap = cap ? cap * 2 : 1024;
			data = realloc(data, cap * sizeof(*data));
			len = realloc(len, cap * sizeof(*len));
			if (data == NULL || len == NULL)
				return 2;
		}
		if ((data[nf] = malloc((size_t)sb.st_size + 1)) == NULL)
			return 2;
		len[nf] = fread(data[nf], 1, (size_t)sb.st_size, f);
		total += len[nf++];
		fclose(f);
	}
	fclose(l);
	for (int d = 0; d < ndb; d++) {
		db[d] = compile(argv[2 + d]);
		if (hs_alloc_scratch(db[d], &scratch) != HS_SUCCESS)
			return 2;
	}
	for (int round = 0; round < 3; round++) {
		double t0 = now(), t;

		matches = 0;
		for (int d = 0; d < ndb; d++)
			for (size_t i = 0; i < nf; i++) {
				hs_stream_t *st;

				if (hs_open_stream(db[d], 0, &st) != HS_SUCCESS)
					return 2;
				for (size_t o = 0; o < len[i]; o += CHUNK)
					hs_scan_stream(st, data[i] + o,
					    len[i] - o < CHUNK ? (unsigned)(len[i] -
					    o) : CHUNK, 0, scratch, on_match, NULL);
				hs_close_stream(st, scratch, on_match, NULL);
			}
		if ((t = now() - t0) < best)
			best = t;
	}
	printf("%.3f %.0f %llu\n", best, (double)total / 1e6 / best, matches);
	return 0;
}
