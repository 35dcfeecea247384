/*
 * dbcache.c: compiled Vectorscan databases kept on disk between runs.
 *
 * Compiling 10,000 strings takes Vectorscan about a second, which every
 * `vigil scan` and every daemon start would pay again for the same rules
 * (yara has yarac for the same reason).  The database and the delta text
 * pass's (delta.c), with each pattern's mode and widths, are saved under
 * a key that covers everything they were built from: the rule sources'
 * hash, every expression, its flags and whether the delta pass has it,
 * the match mode, and the vigil and Vectorscan versions.  A file
 * that does not match its key in every respect is ignored and rebuilt.
 * Files are written to a temporary name and renamed, so readers never see
 * a torn one.  No cache directory set means no cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "vigil/core.h"
#include "ruleset_int.h"

#define CACHE_MAGIC	"VGHSDB03"
#define CACHE_MAX	(512u << 20)

static char	cache_dir[1024];

void
eng_ruleset_set_cache_dir(const char *dir)
{
	snprintf(cache_dir, sizeof(cache_dir), "%s", dir != NULL ? dir : "");
}

static int
cache_key(const struct eng_ruleset *rs, unsigned char key[32])
{
	EVP_MD_CTX	*h;
	unsigned	 len = 0;
	uint32_t	 v;
	const char	*hsv = hs_version();

	if ((h = EVP_MD_CTX_new()) == NULL)
		return -1;
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	EVP_DigestUpdate(h, CACHE_MAGIC, 8);
	EVP_DigestUpdate(h, VIGIL_VERSION, strlen(VIGIL_VERSION) + 1);
	EVP_DigestUpdate(h, hsv, strlen(hsv) + 1);
	EVP_DigestUpdate(h, rs->version, sizeof(rs->version));
	v = (uint32_t)rs->mode;
	EVP_DigestUpdate(h, &v, sizeof(v));
	v = rs->npatterns;
	EVP_DigestUpdate(h, &v, sizeof(v));
	for (unsigned i = 0; i < rs->npatterns; i++) {
		const struct rs_pattern *p = &rs->patterns[i];

		EVP_DigestUpdate(h, p->expr, strlen(p->expr) + 1);
		EVP_DigestUpdate(h, &p->hs_flags, sizeof(p->hs_flags));
		EVP_DigestUpdate(h, &p->text_pass, sizeof(p->text_pass));
	}
	EVP_DigestFinal_ex(h, key, &len);
	EVP_MD_CTX_free(h);
	return len == 32 ? 0 : -1;
}

static void
cache_path(const unsigned char key[32], char *out, size_t n)
{
	char	hex[65];

	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	snprintf(out, n, "%s/%s.hsdb", cache_dir, hex);
}

struct entry {
	uint8_t		mode;
	uint32_t	minw, maxw;
} __attribute__((packed));

int
dbcache_load(struct eng_ruleset *rs)
{
	unsigned char	 key[32];
	char		 path[1200];
	struct stat	 st;
	uint8_t		*buf = NULL;
	size_t		 off, need;
	uint32_t	 n;
	uint64_t	 dblen;
	uint8_t		 delta;
	int		 fd, ok = 0;

	if (cache_dir[0] == '\0' || rs->npatterns == 0 ||
	    cache_key(rs, key) == -1)
		return 0;
	cache_path(key, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (fstat(fd, &st) == -1 || st.st_size < 48 ||
	    (uint64_t)st.st_size > CACHE_MAX ||
	    (buf = vg_malloc((size_t)st.st_size)) == NULL ||
	    read(fd, buf, (size_t)st.st_size) != st.st_size)
		goto out;
	if (memcmp(buf, CACHE_MAGIC, 8) != 0 || memcmp(buf + 8, key, 32) != 0)
		goto out;
	memcpy(&n, buf + 40, 4);
	off = 44;
	need = off + (size_t)n * sizeof(struct entry) + 8;
	if (n != rs->npatterns || need > (size_t)st.st_size)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		struct entry e;

		memcpy(&e, buf + off, sizeof(e));
		off += sizeof(e);
		if (e.mode > PAT_PCRE_ONLY || e.minw > e.maxw ||
		    e.maxw > RS_MAX_MATCH)
			goto out;
		rs->patterns[i].mode = (enum pat_mode)e.mode;
		rs->patterns[i].minw = e.minw;
		rs->patterns[i].maxw = e.maxw;
	}
	memcpy(&dblen, buf + off, 8);
	off += 8;
	if (dblen > (uint64_t)st.st_size - off ||
	    (dblen != 0 && hs_deserialize_database((const char *)buf + off,
	    (size_t)dblen, &rs->db) != HS_SUCCESS))
		goto out;	/* dblen 0: every pattern runs in PCRE2 */
	off += (size_t)dblen;
	/* The delta text pass: whether it runs, then its database. */
	if ((uint64_t)st.st_size - off < 9)
		goto out;
	delta = buf[off];
	memcpy(&dblen, buf + off + 1, 8);
	off += 9;
	if (dblen != (uint64_t)st.st_size - off)
		goto out;
	if (dblen == 0 || hs_deserialize_database((const char *)buf + off,
	    (size_t)dblen, &rs->db_delta) == HS_SUCCESS) {
		rs->delta = rs->delta && delta;
		ok = 1;
	}
out:
	if (!ok && rs->db != NULL) {
		hs_free_database(rs->db);
		rs->db = NULL;
	}
	if (!ok)
		vg_log_debug("%s: stale or damaged; rebuilding", path);
	vg_free(buf);
	close(fd);
	return ok;
}

void
dbcache_store(const struct eng_ruleset *rs)
{
	unsigned char	 key[32];
	char		 path[1200], tmp[1300];
	char		*bytes = NULL, *dbytes = NULL;
	size_t		 len = 0, dlen = 0;
	uint64_t	 dblen;
	uint8_t		 delta = (uint8_t)rs->delta;
	uint32_t	 n = rs->npatterns;
	FILE		*f;
	int		 fd, ok;

	if (cache_dir[0] == '\0' || rs->npatterns == 0 ||
	    cache_key(rs, key) == -1)
		return;
	if (rs->db != NULL &&
	    hs_serialize_database(rs->db, &bytes, &len) != HS_SUCCESS)
		return;
	if (rs->db_delta != NULL && hs_serialize_database(rs->db_delta,
	    &dbytes, &dlen) != HS_SUCCESS)
		goto out;
	if (mkdir(cache_dir, 0700) == -1 && errno != EEXIST)
		goto out;
	cache_path(key, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1 || (f = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			close(fd);
		goto out;
	}
	dblen = len;
	ok = fwrite(CACHE_MAGIC, 8, 1, f) == 1 && fwrite(key, 32, 1, f) == 1 &&
	    fwrite(&n, 4, 1, f) == 1;
	for (unsigned i = 0; ok && i < n; i++) {
		struct entry e = {
			(uint8_t)rs->patterns[i].mode, rs->patterns[i].minw,
			rs->patterns[i].maxw,
		};

		ok = fwrite(&e, sizeof(e), 1, f) == 1;
	}
	ok = ok && fwrite(&dblen, 8, 1, f) == 1 &&
	    (len == 0 || fwrite(bytes, len, 1, f) == 1);
	dblen = dlen;
	ok = ok && fwrite(&delta, 1, 1, f) == 1 &&
	    fwrite(&dblen, 8, 1, f) == 1 &&
	    (dlen == 0 || fwrite(dbytes, dlen, 1, f) == 1);
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) == -1)
		unlink(tmp);
out:
	free(bytes);
	free(dbytes);
}
