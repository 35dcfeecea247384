/*
 * local.c: the embedded object source, a local filesystem tree.
 *
 * A bucket is a directory under the root, a key a path inside it.  Every
 * path is walked one component at a time with O_NOFOLLOW from a root fd
 * opened once, so neither a symlink nor a ".." (refused earlier anyway)
 * leads outside the tree, and the daemon can later chroot or drop
 * privileges without breaking reads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "vigil/config.h"
#include "vigil/core.h"
#include "vigil/sources.h"

struct local {
	int	rootfd;
};

static enum vigil_err
local_open(const char *root, void **state)
{
	struct local	*l;

	if ((l = vg_calloc(1, sizeof(*l))) == NULL)
		return VIGIL_E_NOMEM;
	if ((l->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		vg_free(l);
		return VIGIL_E_IO;
	}
	*state = l;
	return VIGIL_OK;
}

static enum vigil_err
errno_err(void)
{
	if (errno == ENOENT || errno == ENOTDIR)
		return VIGIL_E_NOTFOUND;
	if (errno == ELOOP)
		return VIGIL_E_UNSUPPORTED;
	return VIGIL_E_IO;
}

/*
 * Opens directory bucket/dirpart beneath root, no symlinks; with create,
 * missing directories are made (mode 0750) on the way.
 */
static enum vigil_err
walk_dirs(struct local *l, const char *bucket, const char *key,
    int create, const char **leaf, int *dirfd)
{
	const char	*p, *slash;
	char		 comp[1025];
	int		 fd, nfd;

	if (create && mkdirat(l->rootfd, bucket, 0750) == -1 &&
	    errno != EEXIST)
		return errno_err();
	if ((fd = openat(l->rootfd, bucket, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno_err();
	for (p = key; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		memcpy(comp, p, (size_t)(slash - p));
		comp[slash - p] = '\0';
		if (create && mkdirat(fd, comp, 0750) == -1 &&
		    errno != EEXIST) {
			close(fd);
			return errno_err();
		}
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		close(fd);
		if (nfd == -1)
			return errno_err();
		fd = nfd;
	}
	*leaf = p;
	*dirfd = fd;
	return VIGIL_OK;
}

static enum vigil_err
local_object(void *state, const char *bucket, const char *key, int *fdp,
    struct source_stat *sst)
{
	struct local	*l = state;
	struct stat	 st;
	const char	*leaf;
	enum vigil_err	 err;
	int		 dfd, fd;

	*fdp = -1;
	if (!source_bucket_valid(bucket) || !source_key_valid(key,
	    strlen(key)))
		return VIGIL_E_INVAL;
	if ((err = walk_dirs(l, bucket, key, 0, &leaf, &dfd)) != VIGIL_OK)
		return err;
	/* O_NONBLOCK: a FIFO planted in the tree must not hang a worker. */
	fd = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY);
	err = fd == -1 ? errno_err() : VIGIL_OK;
	close(dfd);
	if (err != VIGIL_OK)
		return err;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return VIGIL_E_UNSUPPORTED;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*fdp = fd;
	memset(sst, 0, sizeof(*sst));
	sst->size = (uint64_t)st.st_size;
	sst->mtime = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
	return VIGIL_OK;
}

struct collect {
	char	**keys;
	size_t	  n, cap;
	const char *after;
	const char *prefix;
	uint64_t *sizes;
	double	 *mtimes;
};

/* Collects every regular file's key beneath dirfd (consumes dirfd). */
static enum vigil_err
collect(struct collect *c, int dirfd, const char *prefix, int depth)
{
	DIR		*d;
	struct dirent	*e;
	struct stat	 st;
	enum vigil_err	 err = VIGIL_OK;
	char		 key[2048], **k;
	int		 fd;

	if ((d = fdopendir(dirfd)) == NULL) {
		close(dirfd);
		return VIGIL_E_IO;
	}
	while (err == VIGIL_OK && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(key, sizeof(key), "%s%s", prefix,
		    e->d_name) >= sizeof(key) - 1)
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (S_ISDIR(st.st_mode) && depth < 64) {
			fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (fd == -1)
				continue;
			strcat(key, "/");
			err = collect(c, fd, key, depth + 1);
			continue;
		}
		if (!S_ISREG(st.st_mode) || (c->after != NULL &&
		    strcmp(key, c->after) <= 0) || (c->prefix != NULL &&
		    strncmp(key, c->prefix, strlen(c->prefix)) != 0))
			continue;
		if (c->n == c->cap) {
			size_t	 ncap = c->cap ? c->cap * 2 : 64;
			void	*sz, *mt;

			k = vg_reallocarray(c->keys, ncap, sizeof(*k));
			if (k != NULL)
				c->keys = k;
			sz = vg_reallocarray(c->sizes, ncap, sizeof(*c->sizes));
			if (sz != NULL)
				c->sizes = sz;
			mt = vg_reallocarray(c->mtimes, ncap,
			    sizeof(*c->mtimes));
			if (mt != NULL)
				c->mtimes = mt;
			if (k == NULL || sz == NULL || mt == NULL) {
				err = VIGIL_E_NOMEM;
				break;
			}
			c->cap = ncap;
		}
		c->sizes[c->n] = (uint64_t)st.st_size;
		c->mtimes[c->n] = (double)st.st_mtim.tv_sec +
		    st.st_mtim.tv_nsec / 1e9;
		if ((c->keys[c->n] = vg_strdup(key)) == NULL)
			err = VIGIL_E_NOMEM;
		else
			c->n++;
	}
	closedir(d);
	return err;
}

/*
 * Walks the whole bucket and returns the page after `after`: simple and
 * O(bucket) per page, which suits the local store's test and small-site
 * use.  A large tree wants a cursor kept between pages.
 */
struct sort_ctx_entry {
	char		*key;
	uint64_t	 size;
	double		 mtime;
};

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct sort_ctx_entry *)a)->key,
	    ((const struct sort_ctx_entry *)b)->key);
}

/* Sorts keys with their sizes and mtimes; -1 out of memory. */
static int
sort_listing(struct collect *c)
{
	struct sort_ctx_entry	*e;
	size_t			 i;

	if (c->n < 2)
		return 0;
	if ((e = vg_reallocarray(NULL, c->n, sizeof(*e))) == NULL)
		return -1;
	for (i = 0; i < c->n; i++) {
		e[i].key = c->keys[i];
		e[i].size = c->sizes[i];
		e[i].mtime = c->mtimes[i];
	}
	qsort(e, c->n, sizeof(*e), cmp_entry);
	for (i = 0; i < c->n; i++) {
		c->keys[i] = e[i].key;
		c->sizes[i] = e[i].size;
		c->mtimes[i] = e[i].mtime;
	}
	vg_free(e);
	return 0;
}

/*
 * Walks the whole bucket and returns the page after `after`: simple and
 * O(bucket) per page (20,000 objects list in tens of milliseconds a
 * page), which suits the local store.  A large tree wants a cursor kept
 * between pages.
 */
static enum vigil_err
local_list(void *state, const char *bucket, const char *prefix,
    const char *after, const char *token, size_t max,
    struct source_listing *out)
{
	struct local	*l = state;
	struct collect	 c;
	enum vigil_err	 err;
	int		 fd;

	(void)token;	/* pages are found by key */
	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.after = after && *after ? after : NULL;
	c.prefix = prefix && *prefix ? prefix : NULL;
	if (!source_bucket_valid(bucket) || max == 0)
		return VIGIL_E_INVAL;
	if ((fd = openat(l->rootfd, bucket, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno_err();
	err = collect(&c, fd, "", 0);
	if (err == VIGIL_OK && sort_listing(&c) == -1)
		err = VIGIL_E_NOMEM;
	if (err == VIGIL_OK && c.n > max) {
		for (size_t i = max; i < c.n; i++)
			vg_free(c.keys[i]);
		c.n = max;
		out->more = 1;
	}
	out->keys = c.keys;
	out->nkeys = c.n;
	out->sizes = c.sizes;
	out->mtimes = c.mtimes;
	if (err != VIGIL_OK)
		source_listing_free(out);
	return err;
}

/* Moves bucket/key to qbucket/key (or back when undo). */
static enum vigil_err
local_move(struct local *l, const char *bucket, const char *key,
    const char *qbucket, int undo, char *err, size_t errlen)
{
	const char	*from = undo ? qbucket : bucket, *to = undo ? bucket :
			    qbucket, *fl, *tl;
	enum vigil_err	 rc;
	int		 fd1, fd2;

	if ((rc = walk_dirs(l, from, key, 0, &fl, &fd1)) != VIGIL_OK) {
		snprintf(err, errlen, "%s/%s: %s", from, key, strerror(errno));
		return rc;
	}
	if ((rc = walk_dirs(l, to, key, 1, &tl, &fd2)) != VIGIL_OK) {
		snprintf(err, errlen, "%s/%s: %s", to, key, strerror(errno));
		close(fd1);
		return rc;
	}
	if (renameat(fd1, fl, fd2, tl) == -1) {
		snprintf(err, errlen, "moving %s/%s to %s: %s", from, key, to,
		    strerror(errno));
		rc = errno_err();
	}
	close(fd1);
	close(fd2);
	return rc;
}

/*
 * The local store's quarantine: tag = user.vigil-verdict xattr, move =
 * rename into a quarantine directory beside the bucket, private = no read
 * for group and others (the memo keeps the old mode).
 */
static enum vigil_err
local_action(void *state, const char *bucket, const char *key,
    unsigned action, int undo, const char *qbucket, const char *memo_in,
    char **memo, char *err, size_t errlen)
{
	struct local	*l = state;
	struct stat	 st;
	const char	*leaf, *b = bucket;
	enum vigil_err	 rc;
	char		 m[32];
	int		 dfd, fd;

	*memo = NULL;
	if (!source_bucket_valid(bucket) || !source_key_valid(key,
	    strlen(key)) || (action == VG_Q_MOVE && (qbucket == NULL ||
	    !source_bucket_valid(qbucket)))) {
		snprintf(err, errlen, "%s/%s: refused name", bucket, key);
		return VIGIL_E_INVAL;
	}
	if (action == VG_Q_MOVE)
		return local_move(l, bucket, key, qbucket, undo, err, errlen);
	if ((rc = walk_dirs(l, b, key, 0, &leaf, &dfd)) != VIGIL_OK) {
		snprintf(err, errlen, "%s/%s: %s", b, key, strerror(errno));
		return rc;
	}
	fd = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dfd);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s/%s: %s", b, key, fd == -1 ?
		    strerror(errno) : "not a regular file");
		if (fd != -1)
			close(fd);
		return fd == -1 ? errno_err() : VIGIL_E_UNSUPPORTED;
	}
	rc = VIGIL_OK;
	if (action == VG_Q_TAG) {
		if (undo ? fremovexattr(fd, "user.vigil-verdict") == -1 &&
		    errno != ENODATA : fsetxattr(fd, "user.vigil-verdict",
		    "flagged", 7, 0) == -1) {
			snprintf(err, errlen, "%s/%s: xattr: %s", b, key,
			    strerror(errno));
			rc = VIGIL_E_IO;
		}
	} else if (action == VG_Q_PRIVATE) {
		mode_t mode = st.st_mode & 07777;

		if (undo && memo_in != NULL)
			mode = (mode_t)strtoul(memo_in, NULL, 8);
		else if (!undo) {
			snprintf(m, sizeof(m), "%o", (unsigned)mode);
			*memo = vg_strdup(m);
			mode &= (mode_t)~(S_IRWXG | S_IRWXO);
		}
		if (fchmod(fd, mode) == -1) {
			snprintf(err, errlen, "%s/%s: chmod: %s", b, key,
			    strerror(errno));
			rc = VIGIL_E_IO;
		}
	} else
		rc = VIGIL_E_UNSUPPORTED;
	close(fd);
	return rc;
}

static void
local_close(void *state)
{
	struct local	*l = state;

	if (l == NULL)
		return;
	close(l->rootfd);
	vg_free(l);
}

const struct source_backend source_local = {
	.name = "local",
	.open = local_open,
	.object = local_object,
	.list = local_list,
	.action = local_action,
	.close = local_close,
};
