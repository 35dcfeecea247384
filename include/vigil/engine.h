/*
 * engine.h: the scanning engine's contract.
 *
 * A job (an fd or bytes, limits, a ruleset) goes in and a result comes out.
 * The engine includes no libevent header and knows nothing of HTTP, stores
 * or accounts, so unpacking can later move into a sandbox process.
 *
 *   eng_ruleset_compile()  rule files -> immutable, refcounted ruleset
 *   eng_scanner_new()      per-thread state: libmagic, Vectorscan scratch
 *   eng_scan_fd()          one top-level object -> struct eng_result
 *   eng_result_json()      the wire form (one JSON object, one line)
 */
#ifndef VIGIL_ENGINE_H
#define VIGIL_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "vigil/vigil.h"

struct eng_ruleset;
struct eng_scanner;

/* Where a rule file is wrong: file, 1-based line and column, and what. */
struct eng_diag {
	char	file[1024];
	int	line;
	int	column;
	char	msg[512];
};

/* Severities in increasing order; names are a wire contract. */
enum eng_severity {
	ENG_SEV_LOW = 0,
	ENG_SEV_MEDIUM,
	ENG_SEV_HIGH,
	ENG_SEV_CRITICAL,
};

const char	*eng_severity_name(enum eng_severity);
/* The severity called name; low for NULL or an unknown name. */
enum eng_severity eng_severity_parse(const char *name);

/* The clauses a rule may name, in the order reports list them. */
extern const char *const eng_clauses[];
#define ENG_NCLAUSES 9

enum eng_match_mode {
	ENG_MODE_AUTO = 0,	/* Vectorscan, PCRE2 where it must */
	ENG_MODE_PCRE2,		/* every pattern through PCRE2 (tests, CPUs
				   Vectorscan does not support) */
};

/*
 * Compile a rule file, or every *.yar / *.yara file in a directory (in name
 * order), into a new ruleset with a reference count of one.  On
 * VIGIL_E_SYNTAX or VIGIL_E_UNSUPPORTED, diag says file:line:column and why.
 * A mode of ENG_MODE_AUTO is overridden by VIGIL_ENGINE=pcre2 in the
 * environment.  Any thread; compiling 10,000 strings takes seconds.
 */
enum vigil_err	eng_ruleset_compile(const char *path, enum eng_match_mode,
		    struct eng_ruleset **out, struct eng_diag *diag);
/*
 * Keep compiled databases in dir between runs (created 0700 if missing);
 * NULL or "" turns the cache off (the default).  Call before compiling.
 */
void		eng_ruleset_set_cache_dir(const char *dir);
/* Refcounting is atomic: a ruleset may be dropped from any thread. */
struct eng_ruleset *eng_ruleset_ref(struct eng_ruleset *);
void		eng_ruleset_unref(struct eng_ruleset *);
/* The content hash of the sources: two rulesets with one version agree. */
const char	*eng_ruleset_version(const struct eng_ruleset *);
size_t		eng_ruleset_nrules(const struct eng_ruleset *);
/* Rules per clause, indexed like eng_clauses[]. */
void		eng_ruleset_clause_counts(const struct eng_ruleset *,
		    size_t counts[ENG_NCLAUSES]);
/* How many patterns run exactly in Vectorscan, prefiltered, PCRE2 only. */
void		eng_ruleset_pattern_stats(const struct eng_ruleset *,
		    size_t *exact, size_t *prefilter, size_t *pcre_only);

/*
 * PDF text comes from poppler, which a hostile document can crash, hang or
 * drive out of memory.  With a helper named, each scanner runs poppler in
 * a child process, path with the argument "pdf-text" (the vigil program
 * itself, or a wrapper that execs it), killed at the object's deadline.
 * NULL, the default, runs poppler in the scanning thread.
 */
void		eng_set_pdf_helper(const char *path);
/* Helpers started, and documents they died or were killed on, so far. */
struct eng_pdf_stats {
	uint64_t	started;
	uint64_t	crashed;	/* died mid-document */
	uint64_t	killed;		/* at the deadline, or a limit */
};
void		eng_pdf_helper_stats(struct eng_pdf_stats *);
/* The "pdf-text" helper's main: serves one scanner on its stdin. */
int		eng_pdf_helper_main(void);

/*
 * A scanner holds one thread's private state: a libmagic handle loaded
 * once, Vectorscan scratch and PCRE2 match data.  Use it from one thread at
 * a time.  It borrows no ruleset: each scan names the ruleset it runs.
 */
enum vigil_err	eng_scanner_new(struct eng_scanner **);
void		eng_scanner_free(struct eng_scanner *);
/*
 * Keep up to bytes before and after the first match of each rule as
 * eng_match.excerpt (moderators' evidence); 0, the default, keeps none.
 */
void		eng_scanner_set_excerpt(struct eng_scanner *, size_t bytes);

struct eng_match {
	char		*rule;
	const char	*clause;	/* static: one of eng_clauses[] */
	enum eng_severity severity;
	char		**path;		/* object name, member, deeper member */
	size_t		 npath;
	uint64_t	 offset;	/* start of the first string matched,
					   inside the innermost member */
	/*
	 * With eng_scanner_set_excerpt(): bytes around that first match
	 * (the match is [excerpt_mark, excerpt_mark + excerpt_marklen)),
	 * or NULL.  Never part of the JSON result.
	 */
	uint8_t		*excerpt;
	size_t		 excerpt_len, excerpt_mark, excerpt_marklen;
};

struct eng_problem {
	char		**path;
	size_t		 npath;
	enum vigil_reason reason;
	char		*detail;	/* optional human text, may be NULL */
};

struct eng_result {
	char			*object;
	enum vigil_verdict	 verdict;
	uint64_t		 size;		/* top-level bytes read */
	char			 sha256[65];
	char			 mime[128];
	struct eng_match	*matches;
	size_t			 nmatches;
	struct eng_problem	*problems;
	size_t			 nproblems;
	uint64_t		 bytes_scanned;	/* all layers */
	uint64_t		 members;
	double			 seconds;
};

/*
 * Scan one top-level object read from fd (a regular file, pipe or memfd;
 * the fd is not closed).  name is what "object" and the path chains
 * report.  On VIGIL_OK *out is a new result: free with eng_result_free().
 * A damaged or hostile object is VIGIL_OK with problems in the result; only
 * VIGIL_E_NOMEM and VIGIL_E_INVAL are errors.  Worker threads.
 */
enum vigil_err	eng_scan_fd(struct eng_scanner *, struct eng_ruleset *,
		    int fd, const char *name, const struct vigil_limits *,
		    struct eng_result **out);
/*
 * The same, for a regular file whose SHA-256 the caller has already
 * computed (64 hex digits): the object is not hashed again.  Ignored for
 * anything but a regular file.
 */
enum vigil_err	eng_scan_fd_digest(struct eng_scanner *, struct eng_ruleset *,
		    int fd, const char *name, const struct vigil_limits *,
		    const char *sha256, struct eng_result **out);
/*
 * An object read through callbacks rather than an fd (an object store):
 * read streams it from the start (bytes, 0 at the end, -1 on an error
 * that error() describes); pread, if not NULL, reads any range of its
 * size bytes, so seekable formats (zip's central directory, 7z) are read
 * by ranges instead of being spooled.  Callbacks run on the scanning
 * thread.
 */
struct eng_reader {
	void		*arg;
	ssize_t		(*read)(void *arg, void *buf, size_t n);
	ssize_t		(*pread)(void *arg, void *buf, size_t n, uint64_t off);
	uint64_t	 size;
	const char	*(*error)(void *arg);
};

/* eng_scan_fd() for an eng_reader.  The SHA-256 is of the bytes read. */
enum vigil_err	eng_scan_reader(struct eng_scanner *, struct eng_ruleset *,
		    const struct eng_reader *, const char *name,
		    const struct vigil_limits *, struct eng_result **out);
/*
 * The same, for an object whose SHA-256 (64 hex digits) and size
 * (rd->size) the caller already has, e.g. a request body in memory: it is
 * reported as given, not computed again.
 */
enum vigil_err	eng_scan_reader_digest(struct eng_scanner *,
		    struct eng_ruleset *, const struct eng_reader *,
		    const char *name, const struct vigil_limits *,
		    const char *sha256, struct eng_result **out);

/*
 * A result for an object that could not be opened at all: verdict "error"
 * (reason io) or "unscannable" (reason unsupported, e.g. a FIFO).
 */
enum vigil_err	eng_result_new_problem(const char *name, enum vigil_reason,
		    const char *detail, struct eng_result **out);
void		eng_result_free(struct eng_result *);

/* The result as one line of JSON (no newline); free with vg_free(). */
char		*eng_result_json(const struct eng_result *);
/*
 * The same, with details: each problem that has one gains "detail" (why,
 * in words: "HEAD b/k: 403 AccessDenied").  The daemon stores and serves
 * this form; `vigil scan --json` prints the exact one above.
 */
char		*eng_result_json_ex(const struct eng_result *, int details);
/* The result as one clamscan-like text line (no newline); vg_free(). */
char		*eng_result_text(const struct eng_result *);

#endif /* VIGIL_ENGINE_H */
