/*
 * pdfproc.c: poppler in a helper process.  A hostile PDF can make poppler
 * crash, allocate without end or spend minutes on one page, and poppler
 * cannot be interrupted.  So each scanner (one per scanning thread) keeps
 * one helper, `vigil pdf-text`, started on its first PDF and kept for the
 * next ones: the program and its libraries load once, not per document.
 *
 * DESIGN
 * The scanner and its helper share a socketpair (the helper's stdin).  A
 * request is the page limit, 4 bytes, with the spooled PDF's memfd passed
 * as SCM_RIGHTS, so the helper maps the same pages and nothing is copied.
 * The helper answers with frames, an 8-byte header (type, length) and a
 * payload: TEXT frames of page text, then one DONE frame with the
 * document's pdf_status and a message.  The scanner reads them with
 * poll() against the job's deadline.  On the deadline, on a limit that
 * stops the job while text still comes, or when the helper dies, the
 * scanner kills it (SIGKILL), reaps it and reports the problem: limit-time,
 * or corrupt with how the helper ended.  The next PDF starts a new one.
 *
 * The helper gets only the locale, path and sanitizer variables of the
 * environment (the daemon's may hold S3 keys) and dumps no core (it would
 * hold customer data).  It asks the kernel to kill it first when memory
 * runs out, and outside sanitizer builds it may map at most
 * PDFPROC_MAX_AS and runs under a seccomp filter: if a PDF takes poppler
 * over, it can read files and talk to its scanner, which only scans what
 * it says, but cannot open a file for writing, connect anywhere, start a
 * process or trace one.  Refused calls fail with EPERM rather than
 * killing it, so a path poppler rarely takes degrades instead of turning
 * every such PDF corrupt.  (Sanitizer runtimes need calls the filter
 * refuses, so those builds go without.)  A helper is replaced after
 * PDFPROC_MAX_DOCS documents so poppler's caches do not grow with the
 * daemon's uptime.
 *
 * eng_set_pdf_helper() names the program; the vigil program names itself
 * (or $VIGIL_PDF_HELPER, a wrapper that may sandbox it further).  With no
 * helper named, as in the library's own tests and fuzzers, poppler runs in
 * the scanning thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vigil/core.h"
#include "vigil/engine.h"
#include "scan_int.h"
#include "text_int.h"
#include "pdf_int.h"

#define PDFPROC_MAX_DOCS	256
#define PDFPROC_MAX_AS		(4ULL << 30)
#define PDFPROC_CHUNK		(64 * 1024)
#define PDFPROC_MSG		256

enum { FRAME_TEXT = 1, FRAME_DONE = 2 };

struct frame {
	uint32_t	type;
	uint32_t	len;
};

struct pdf_helper {
	pid_t		pid;
	int		sock;
	unsigned	docs;
	unsigned	gen;		/* helper_gen when started */
};

extern char	**environ;

static char	*helper_path;
static unsigned	 helper_gen;	/* changes with helper_path */
static pthread_mutex_t helper_mtx = PTHREAD_MUTEX_INITIALIZER;

static struct eng_pdf_stats stats;	/* updated atomically */

static void
count(uint64_t *c)
{
	__atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

void
eng_pdf_helper_stats(struct eng_pdf_stats *out)
{
	out->started = __atomic_load_n(&stats.started, __ATOMIC_RELAXED);
	out->crashed = __atomic_load_n(&stats.crashed, __ATOMIC_RELAXED);
	out->killed = __atomic_load_n(&stats.killed, __ATOMIC_RELAXED);
}

void
eng_set_pdf_helper(const char *path)
{
	char *p = path != NULL ? vg_strdup(path) : NULL;

	pthread_mutex_lock(&helper_mtx);
	vg_free(helper_path);
	helper_path = p;
	helper_gen++;
	pthread_mutex_unlock(&helper_mtx);
}

int
pdfproc_enabled(void)
{
	int	on;

	pthread_mutex_lock(&helper_mtx);
	on = helper_path != NULL;
	pthread_mutex_unlock(&helper_mtx);
	return on;
}

/* Whether h was started from the helper named now. */
static int
helper_current(const struct pdf_helper *h)
{
	int	cur;

	pthread_mutex_lock(&helper_mtx);
	cur = h->gen == helper_gen;
	pthread_mutex_unlock(&helper_mtx);
	return cur;
}

/* Parent side --------------------------------------------------------- */

/*
 * The helper's environment: the daemon's may hold S3 keys and tokens, and
 * the helper is where a hostile PDF runs.  Locale, paths and the
 * sanitizers' options pass; nothing else does.
 */
static char **
helper_env(void)
{
	static const char *const keep[] = { "PATH=", "HOME=", "LANG=",
	    "LANGUAGE=", "LC_", "TZ=", "TMPDIR=", "XDG_", "FONTCONFIG_",
	    "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=" };
	char	**env;
	size_t	  n = 0, k = 0;

	while (environ[n] != NULL)
		n++;
	if ((env = vg_calloc(n + 1, sizeof(*env))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < sizeof(keep) / sizeof(keep[0]); j++)
			if (strncmp(environ[i], keep[j], strlen(keep[j])) ==
			    0) {
				env[k++] = environ[i];
				break;
			}
	return env;
}

/* Kills and reaps the helper; *status gets how it ended. */
static void
helper_end(struct pdf_helper *h, int kill_it, int *status)
{
	int	st = 0;

	if (h->sock != -1)
		close(h->sock);
	h->sock = -1;
	if (h->pid > 0) {
		if (kill_it)
			(void)kill(h->pid, SIGKILL);
		while (waitpid(h->pid, &st, 0) == -1 && errno == EINTR)
			;
	}
	h->pid = 0;
	h->docs = 0;
	if (status != NULL)
		*status = st;
}

void
pdfproc_free(struct pdf_helper *h)
{
	if (h == NULL)
		return;
	/* A closed socket is the helper's signal to exit. */
	helper_end(h, 0, NULL);
	vg_free(h);
}

static int
helper_start(struct pdf_helper *h, struct job *job)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	sigset_t			 none, dfl;
	char				*argv[] = { "vigil", "pdf-text", NULL };
	char				*path, **env;
	int				 sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return errno;
	/* dup2() onto itself would keep close-on-exec. */
	if (sv[1] == 0) {
		int fd = fcntl(sv[1], F_DUPFD_CLOEXEC, 3);

		close(sv[1]);
		if ((sv[1] = fd) == -1) {
			close(sv[0]);
			return errno;
		}
	}
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	pthread_mutex_lock(&helper_mtx);
	path = vg_strdup(helper_path);
	h->gen = helper_gen;
	pthread_mutex_unlock(&helper_mtx);
	env = helper_env();
	r = path != NULL && env != NULL ? posix_spawn(&h->pid, path, &fa, &at,
	    argv, env) : ENOMEM;
	vg_free(env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	if (r != 0) {
		vg_log_warnx("%s: cannot start the PDF helper %s: %s",
		    job->path[0], path != NULL ? path : "", strerror(r));
		close(sv[0]);
		h->pid = 0;
	} else {
		h->sock = sv[0];
		count(&stats.started);
	}
	vg_free(path);
	return r;
}

static int
send_request(struct pdf_helper *h, int fd, uint32_t max_pages)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 u;
	struct iovec	 iov = { &max_pages, sizeof(max_pages) };
	struct msghdr	 msg;
	struct cmsghdr	*c;

	memset(&u, 0, sizeof(u));
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(h->sock, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof(max_pages);
}

/*
 * Reads n bytes from the helper: 1 when they came, 0 when the helper went
 * away, -1 when the job's deadline passed first.
 */
static int
recv_full(struct pdf_helper *h, struct job *job, void *buf, size_t n)
{
	uint8_t		*p = buf;
	ssize_t		 k;

	while (n > 0) {
		if (!scan_wait_readable(job, h->sock))
			return -1;
		if ((k = recv(h->sock, p, n, 0)) == -1 && (errno == EINTR ||
		    errno == EAGAIN))
			continue;
		if (k <= 0)
			return 0;
		p += k;
		n -= (size_t)k;
	}
	return 1;
}

/* How a helper that stopped answering ended, for the problem's detail. */
static void
describe_end(int st, char *buf, size_t sz)
{
	if (WIFSIGNALED(st))
		snprintf(buf, sz, "PDF text helper killed by signal %d (%s)",
		    WTERMSIG(st), strsignal(WTERMSIG(st)));
	else if (WIFEXITED(st))
		snprintf(buf, sz, "PDF text helper exited with status %d",
		    WEXITSTATUS(st));
	else
		snprintf(buf, sz, "PDF text helper stopped answering");
}

/*
 * The text of the PDF in fd (a memfd spool) through the scanner's helper,
 * into tl (NULL: only whether it opens).  Problems are recorded; the
 * return is for errors that stop the scan.
 */
enum vigil_err
pdfproc_text(struct pdf_helper **hp, struct job *job, unsigned depth,
    int fd, struct tl *tl)
{
	struct pdf_helper	*h = *hp;
	struct frame		 f;
	uint8_t			*buf = NULL;
	char			 msg[PDFPROC_MSG];
	enum vigil_err		 err = VIGIL_OK;
	int			 r, st, tries;

	if (h == NULL) {
		if ((h = vg_calloc(1, sizeof(*h))) == NULL)
			return VIGIL_E_NOMEM;
		h->sock = -1;
		*hp = h;
	}
	if (h->pid != 0 && !helper_current(h))
		helper_end(h, 0, NULL);
	/* A helper that exited between documents fails the send: again. */
	for (tries = 0; tries < 2; tries++) {
		if (h->pid == 0 && (r = helper_start(h, job)) != 0) {
			snprintf(msg, sizeof(msg), "cannot start the PDF text "
			    "helper: %s", strerror(r));
			scan_problem(job, depth, VIGIL_R_IO, msg);
			return VIGIL_OK;
		}
		if (send_request(h, fd, tl != NULL ? PDF_MAX_PAGES : 0))
			break;
		helper_end(h, 1, NULL);
	}
	if (tries == 2) {
		scan_problem(job, depth, VIGIL_R_IO, "the PDF text helper "
		    "refused the document");
		return VIGIL_OK;
	}
	h->docs++;
	if ((buf = vg_malloc(PDFPROC_CHUNK)) == NULL) {
		helper_end(h, 1, NULL);
		return VIGIL_E_NOMEM;
	}
	for (;;) {
		if ((r = recv_full(h, job, &f, sizeof(f))) != 1)
			goto gone;
		if (f.type == FRAME_DONE)
			break;
		if (f.type != FRAME_TEXT) {
			r = 0;
			goto gone;
		}
		while (f.len > 0) {
			size_t k = f.len < PDFPROC_CHUNK ? f.len : PDFPROC_CHUNK;

			if ((r = recv_full(h, job, buf, k)) != 1)
				goto gone;
			f.len -= (uint32_t)k;
			if (tl != NULL && err == VIGIL_OK && !job->stop)
				err = tl_feed(tl, buf, k);
			/* A limit stopped the job: what is left is not read. */
			if (err != VIGIL_OK || job->stop) {
				count(&stats.killed);
				helper_end(h, 1, NULL);
				goto out;
			}
		}
	}
	/* DONE: the status, then a message. */
	{
		uint32_t	status;
		size_t		mlen = f.len;

		if (mlen < sizeof(status) || mlen > sizeof(status) +
		    PDFPROC_MSG) {
			r = 0;
			goto gone;
		}
		if ((r = recv_full(h, job, buf, mlen)) != 1)
			goto gone;
		memcpy(&status, buf, sizeof(status));
		mlen -= sizeof(status);
		memcpy(msg, buf + sizeof(status), mlen);
		msg[mlen < sizeof(msg) ? mlen : sizeof(msg) - 1] = '\0';
		pdf_report(job, depth, (enum pdf_status)status, msg);
	}
	if (h->docs >= PDFPROC_MAX_DOCS)
		helper_end(h, 0, NULL);
	goto out;
gone:
	if (r == -1) {
		count(&stats.killed);
		helper_end(h, 1, NULL);
		if (!job->stop) {
			scan_problem(job, depth, VIGIL_R_LIMIT_TIME, NULL);
			job->stop = 1;
		}
	} else {
		count(&stats.crashed);
		helper_end(h, 1, &st);
		describe_end(st, msg, sizeof(msg));
		vg_log_warnx("%s: %s", job->path[0], msg);
		scan_problem(job, depth, VIGIL_R_CORRUPT, msg);
	}
out:
	vg_free(buf);
	return err;
}

/* Helper side --------------------------------------------------------- */

static int
write_full(int fd, const void *p, size_t n)
{
	const uint8_t	*b = p;
	ssize_t		 k;

	while (n > 0) {
		if ((k = write(fd, b, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static int
send_frame(uint32_t type, const void *a, size_t na, const void *b,
    size_t nb)
{
	struct frame	f = { type, (uint32_t)(na + nb) };

	return write_full(0, &f, sizeof(f)) == 0 && write_full(0, a, na) ==
	    0 && write_full(0, b, nb) == 0 ? 0 : -1;
}

static int
sink_frame(void *arg, const char *text, size_t len)
{
	(void)arg;
	while (len > 0) {
		size_t k = len < UINT32_MAX / 2 ? len : UINT32_MAX / 2;

		if (send_frame(FRAME_TEXT, text, k, NULL, 0) == -1)
			_exit(1);	/* the scanner went away */
		text += k;
		len -= k;
	}
	return 0;
}

/* Receives a request: the page limit and the document's fd. */
static int
recv_request(uint32_t *max_pages, int *fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 u;
	struct iovec	 iov = { max_pages, sizeof(*max_pages) };
	struct msghdr	 msg;
	struct cmsghdr	*c;
	ssize_t		 k;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	do
		k = recvmsg(0, &msg, MSG_CMSG_CLOEXEC);
	while (k == -1 && errno == EINTR);
	if (k != (ssize_t)sizeof(*max_pages))
		return 0;
	c = CMSG_FIRSTHDR(&msg);
	if (c == NULL || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS)
		return 0;
	memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 1;
}

static void
helper_limits(void)
{
	struct rlimit	 rl = { 0, 0 };
	int		 fd;

	(void)setrlimit(RLIMIT_CORE, &rl);
#if !defined(__SANITIZE_ADDRESS__)
	/* ASan reserves terabytes of address space up front. */
	rl.rlim_cur = rl.rlim_max = PDFPROC_MAX_AS;
	(void)setrlimit(RLIMIT_AS, &rl);
#endif
	if ((fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC)) !=
	    -1) {
		/* Best effort: without it the OOM killer just chooses alone. */
		if (write(fd, "1000", 4) == -1)
			vg_log_debug("oom_score_adj: %s", strerror(errno));
		close(fd);
	}
	/* Dies with the scanner's thread, whatever happens to it. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
}

#if !defined(__SANITIZE_ADDRESS__)
/* What poppler, glib and libc need to read a document and answer. */
static const char *const sandbox_allow[] = {
	"read", "pread64", "readv", "recvmsg", "close", "fstat", "newfstatat",
	"statx", "stat", "lstat", "lseek", "getdents64", "readlink",
	"readlinkat", "access", "faccessat", "faccessat2", "fcntl", "mmap",
	"munmap", "mremap", "mprotect", "madvise", "brk", "futex", "exit",
	"exit_group", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction",
	"sigaltstack", "clock_gettime", "clock_getres", "gettimeofday",
	"nanosleep", "clock_nanosleep", "getpid", "gettid", "getuid",
	"geteuid", "getgid", "getegid", "getrandom", "sched_yield",
	"sched_getaffinity", "uname", "prlimit64", "getrlimit",
	"set_robust_list", "rseq", "restart_syscall", "poll", "ppoll",
};

/* SCMP_A0() and friends leave datum_b out, which clang warns about. */
static struct scmp_arg_cmp
arg_cmp(unsigned arg, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp c = { .arg = arg, .op = op, .datum_a = a,
	    .datum_b = b };

	return c;
}

static int
helper_sandbox(void)
{
	scmp_filter_ctx	ctx;
	int		rc = 0;

	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(sandbox_allow) /
	    sizeof(sandbox_allow[0]); i++) {
		int nr = seccomp_syscall_resolve_name(sandbox_allow[i]);

		/* A call this architecture lacks is not needed here. */
		if (nr != __NR_SCMP_ERROR)
			rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	/* Files open for reading only: fonts, CMaps, fontconfig's cache. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
	    arg_cmp(2, SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC |
	    O_APPEND, O_RDONLY));
	/* Writes go to the scanner (fd 0) or to stderr. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
	    arg_cmp(0, SCMP_CMP_EQ, 0, 0));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
	    arg_cmp(0, SCMP_CMP_EQ, 2, 0));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(writev), 1,
	    arg_cmp(0, SCMP_CMP_EQ, 2, 0));
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}
#endif

int
eng_pdf_helper_main(void)
{
	struct stat	sb0;
	uint32_t	max_pages;
	int		fd;


	if (fstat(0, &sb0) == -1 || !S_ISSOCK(sb0.st_mode)) {
		fprintf(stderr, "vigil pdf-text: an internal helper of vigil "
		    "scan and vigil serve, not run by hand\n");
		return 2;
	}
	closefrom(3);
	helper_limits();
#if !defined(__SANITIZE_ADDRESS__)
	if (helper_sandbox() != 0) {
		fprintf(stderr, "vigil pdf-text: cannot install the seccomp "
		    "filter\n");
		return 2;
	}
#endif
	while (recv_request(&max_pages, &fd)) {
		char		 msg[PDFPROC_MSG] = "";
		enum pdf_status	 st = PDF_CORRUPT;
		struct stat	 sb;
		uint8_t		*map = MAP_FAILED;
		uint32_t	 st32;

		if (fstat(fd, &sb) == -1 || sb.st_size <= 0)
			snprintf(msg, sizeof(msg), "empty document");
		else if ((map = mmap(NULL, (size_t)sb.st_size, PROT_READ,
		    MAP_PRIVATE, fd, 0)) == MAP_FAILED)
			snprintf(msg, sizeof(msg), "mmap: %s",
			    strerror(errno));
		else
			st = pdf_pages(map, (size_t)sb.st_size, max_pages,
			    sink_frame, NULL, msg, sizeof(msg));
		if (map != MAP_FAILED)
			munmap(map, (size_t)sb.st_size);
		close(fd);
		st32 = (uint32_t)st;
		if (send_frame(FRAME_DONE, &st32, sizeof(st32), msg,
		    strlen(msg)) == -1)
			return 1;
	}
	return 0;
}
