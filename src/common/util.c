/* util.c - see util.h. */
#include "config.h"

#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

const char *aegis_progname = "aegis-sandbox";

void die(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	size_t len = strlen(fmt);

	fflush(stdout);
	fprintf(stderr, "%s: ", aegis_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (len && fmt[len - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
	exit(AEGIS_EXIT_ERROR);
}

void util_vmessage(const char *kind, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: %s", aegis_progname, kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void warnx_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	util_vmessage("warning: ", fmt, ap);
	va_end(ap);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("out of memory allocating %zu bytes", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die("out of memory allocating %zu x %zu bytes", n, size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		die("out of memory reallocating %zu bytes", n);
	return q;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		die("out of memory: %zu elements of %zu bytes", n, size);
	return xrealloc(p, n * size);
}

char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		die("out of memory");
	return d;
}

char *xstrndup(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc < 0)
		die("out of memory");
	return s;
}

int util_read_fd(int fd, size_t max, char **out, size_t *out_len)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	*out = NULL;
	if (out_len)
		*out_len = 0;
	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			free(buf);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			free(buf);
			return -EFBIG;
		}
	}
	if (!buf)
		buf = xmalloc(1);
	buf[len] = '\0';
	*out = buf;
	if (out_len)
		*out_len = len;
	return 0;
}

int util_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
	int fd, rc;

	*out = NULL;
	if (out_len)
		*out_len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = util_read_fd(fd, max, out, out_len);
	close(fd);
	return rc;
}

/* Copy in the kernel: copy_file_range, else sendfile (across file
 * systems, e.g. a job's tmpfs work directory to the caller's disk), never
 * through a buffer of ours.  An archive of 7 MB is the common case. */
int util_copy_file(const char *src, const char *dst, size_t max)
{
	struct stat st;
	int in = open(src, O_RDONLY | O_CLOEXEC), out, rc = 0;
	off_t left;

	if (in < 0)
		return -errno;
	if (fstat(in, &st) < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		close(in);
		return S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	for (left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP))
			n = sendfile(out, in, NULL, (size_t)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break; /* it shrank under us: what was there is copied */
		left -= n;
	}
	close(in);
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

enum util_exe util_exe_kind(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return UTIL_EXE_OTHER;
	exe[n] = '\0';
	if (!strcmp(exe, AEGIS_BUILD_EXE))
		return UTIL_EXE_BUILD;
	if (!strcmp(exe, AEGIS_INSTALLED_EXE))
		return UTIL_EXE_INSTALLED;
	return UTIL_EXE_OTHER;
}

char *util_xdg_path(const char *var, const char *default_dir, const char *name)
{
	const char *x = getenv(var), *home = getenv("HOME");

	if (x && *x == '/')
		return xasprintf("%s/aegis-sandbox/%s", x, name);
	if (!home || *home != '/') {
		struct passwd *pw = getpwuid(getuid());

		home = pw ? pw->pw_dir : "/";
	}
	return xasprintf("%s/%s/aegis-sandbox/%s", home, default_dir, name);
}

const char *util_relocated_prefix(void)
{
	static const char *const tails[] = {"/bin/aegis-sandbox", "/libexec/aegis-sandbox/aegis-zygote"};
	static char prefix[PATH_MAX];
	static int done;

	if (!done) {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		done = 1;
		if (n > 0) {
			exe[n] = '\0';
			for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
				size_t lt = strlen(tails[i]), le = (size_t)n;

				if (le > lt && !strcmp(exe + le - lt, tails[i])) {
					exe[le - lt] = '\0';
					/* moved: not where it was configured to be, and
					 * a whole install around it */
					if (strcmp(exe, AEGIS_PREFIX)) {
						char *z = xasprintf("%s/libexec/aegis-sandbox/aegis-zygote", exe);

						if (access(z, X_OK) == 0)
							snprintf(prefix, sizeof(prefix), "%s", exe);
						free(z);
					}
					break;
				}
			}
		}
	}
	return prefix[0] ? prefix : NULL;
}

const char *util_relocate(const char *path)
{
	static char *made[16];
	static size_t nmade;
	const char *p = util_relocated_prefix();
	size_t lp = strlen(AEGIS_PREFIX);
	char *r;

	if (!p || !path || strncmp(path, AEGIS_PREFIX, lp) || (path[lp] != '/' && path[lp] != '\0'))
		return path;
	r = xasprintf("%s%s", p, path + lp);
	for (size_t i = 0; i < nmade; i++)
		if (!strcmp(made[i], r)) {
			free(r);
			return made[i];
		}
	if (nmade < sizeof(made) / sizeof(made[0]))
		made[nmade++] = r;
	return r;
}

int util_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int util_write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd, rc;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	rc = util_write_all(fd, buf, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* One level of util_rm_rf's walk: a directory's identity and its name in
 * its parent. */
struct rm_level {
	dev_t dev;
	ino_t ino;
	char *name;
};

/* Empty the directory open at FD of everything but subdirectories; the
 * first subdirectory's name goes into *SUB (the caller's), NULL when
 * there is none left.  0 or the first negative errno. */
static int rm_files_in(int fd, char **sub)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0), rc = 0;
	DIR *d;
	struct dirent *de;

	*sub = NULL;
	if (dup_fd < 0)
		return -errno;
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return -errno;
	}
	while (!*sub && (de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && rc == 0)
				rc = -errno;
			continue;
		}
		if (S_ISDIR(st.st_mode))
			*sub = xstrdup(de->d_name);
		else if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT && rc == 0)
			rc = -errno;
	}
	closedir(d);
	return rc;
}

/* Open the subdirectory NAME of FD for the walk, making it readable and
 * writable first (a job may have left it 000 for a supervisor of its own
 * uid): it is a directory, checked without following links. */
static int rm_open_sub(int fd, const char *name, struct stat *st)
{
	int sub;

	if (fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st->st_mode))
		return -ENOTDIR;
	if ((st->st_mode & S_IRWXU) != S_IRWXU && fchmodat(fd, name, S_IRWXU, 0) < 0) {
		/* not ours to change: the open below says whether it matters */
	}
	sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return sub < 0 ? -errno : sub;
}

/* Iterative and depth-independent: one fd open at a time (the walk goes
 * back up through "..", checked against the device and inode it came
 * from), the path of names on the heap.  A tree a job built 10,000 levels
 * deep is removed like a flat one; no symbolic link is followed. */
int util_rm_rf(const char *path)
{
	struct rm_level *stack = NULL;
	size_t depth = 0, cap = 0;
	struct stat st;
	int fd, rc = 0, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	if ((st.st_mode & S_IRWXU) != S_IRWXU && chmod(path, S_IRWXU) < 0) {
		/* not ours to change: the open below says whether it matters */
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	stack = xreallocarray(NULL, cap = 16, sizeof(*stack));
	stack[depth++] = (struct rm_level){st.st_dev, st.st_ino, NULL};
	for (;;) {
		char *sub = NULL;

		r = rm_files_in(fd, &sub);
		if (r < 0 && rc == 0)
			rc = r;
		if (sub) {
			int child = rm_open_sub(fd, sub, &st);

			if (child < 0) {
				free(sub);
				rc = child;
				break; /* it would be found again: give up, say why */
			}
			if (depth == cap)
				stack = xreallocarray(stack, cap *= 2, sizeof(*stack));
			stack[depth++] = (struct rm_level){st.st_dev, st.st_ino, sub};
			close(fd);
			fd = child;
			continue;
		}
		if (depth == 1)
			break;
		{
			/* back up one level, to exactly where we came from */
			int parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			struct rm_level *up = &stack[depth - 2];

			if (parent < 0 || fstat(parent, &st) < 0 || st.st_dev != up->dev || st.st_ino != up->ino) {
				rc = parent < 0 ? -errno : -ESTALE;
				if (parent >= 0)
					close(parent);
				break;
			}
			close(fd);
			fd = parent;
			if (unlinkat(fd, stack[depth - 1].name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
				rc = -errno;
				break; /* it would be found again: give up, say why */
			}
			free(stack[--depth].name);
		}
	}
	close(fd);
	while (depth > 1)
		free(stack[--depth].name);
	free(stack);
	if (rc == 0 && rmdir(path) < 0 && errno != ENOENT)
		rc = -errno;
	return rc;
}

static unsigned long long du_total;

static int du_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)flag;
	(void)ftw;
	du_total += (unsigned long long)st->st_blocks * 512;
	return 0;
}

int util_du(const char *path, unsigned long long *bytes)
{
	du_total = 0;
	if (nftw(path, du_add, 16, FTW_PHYS | FTW_MOUNT) != 0)
		return errno ? -errno : -EIO;
	*bytes = du_total;
	return 0;
}

int util_remove_workdir(const char *path)
{
	/* EINVAL: not a mount point; EPERM: not root, so it cannot be one */
	if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != EPERM && errno != ENOENT)
		return -errno;
	return util_rm_rf(path);
}

double util_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool util_parse_long(const char *s, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s)
		return false;
	*out = v;
	return true;
}

bool util_parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || !isfinite(v))
		return false;
	*out = v;
	return true;
}

size_t util_utf8_char(const char *buf, size_t avail)
{
	const unsigned char *s = (const unsigned char *)buf;
	unsigned char c = avail ? s[0] : 0;
	size_t n;
	unsigned int cp;

	if (!avail)
		return 0;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		n = 1;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2;
		cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		n = 3;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n >= avail)
		return 0;
	for (size_t k = 1; k <= n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n + 1;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *util_base64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v =
		    (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < len ? p[i + 2] : 0);

		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

int util_base64_decode(const char *s, size_t slen, unsigned char **out, size_t *out_len)
{
	unsigned char *buf, *o;
	size_t pad = 0;

	*out = NULL;
	*out_len = 0;
	if (slen % 4)
		return -EINVAL;
	if (slen && s[slen - 1] == '=')
		pad = slen > 1 && s[slen - 2] == '=' ? 2 : 1;
	o = buf = xmalloc(slen / 4 * 3 + 1);
	for (size_t i = 0; i < slen; i += 4) {
		unsigned v = 0;

		for (size_t k = 0; k < 4; k++) {
			const char *c = s[i + k] ? strchr(b64, s[i + k]) : NULL;

			if (i + k >= slen - pad) { /* padding, only at the very end */
				if (s[i + k] != '=')
					goto bad;
				v <<= 6;
				continue;
			}
			if (!c)
				goto bad;
			v = v << 6 | (unsigned)(c - b64);
		}
		*o++ = (unsigned char)(v >> 16);
		if (i + 2 < slen - pad)
			*o++ = (unsigned char)(v >> 8);
		if (i + 3 < slen - pad)
			*o++ = (unsigned char)v;
	}
	*out = buf;
	*out_len = (size_t)(o - buf);
	return 0;
bad:
	free(buf);
	return -EINVAL;
}

bool util_utf8_valid(const char *buf, size_t len)
{
	for (size_t i = 0, n; i < len; i += n)
		if (!(n = util_utf8_char(buf + i, len - i)))
			return false;
	return true;
}

void strv_push(struct strv *sv, const char *s)
{
	sv->v = xrealloc(sv->v, (sv->n + 2) * sizeof(char *));
	sv->v[sv->n++] = xstrdup(s);
	sv->v[sv->n] = NULL;
}

void strv_clear(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

bool strv_contains(const struct strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!strcmp(sv->v[i], s))
			return true;
	return false;
}

int util_mkdir_parents(const char *path)
{
	char *dup = xstrdup(path);

	for (char *s = dup + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(dup, 0700) < 0 && errno != EEXIST) {
			int e = -errno;

			free(dup);
			return e;
		}
		*s = '/';
	}
	free(dup);
	return 0;
}

size_t util_edit_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b), d[128][128];

	if (n >= 128 || m >= 128)
		return (size_t)-1;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= n; i++) {
		for (size_t j = 1; j <= m; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[n][m];
}

bool util_close_enough(const char *word, const char *candidate)
{
	/* a dotted path: judged by its last part (the one mistyped, often) */
	const char *last = strrchr(word, '.');
	size_t limit = strlen(last ? last + 1 : word) / 3;

	return util_edit_distance(word, candidate) <= (limit ? limit : 1);
}

const char *util_closest(const char *word, char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1;

	for (size_t i = 0; i < n; i++) {
		size_t d = util_edit_distance(word, cands[i]);

		if (d && d < bestd && util_close_enough(word, cands[i])) {
			bestd = d;
			best = cands[i];
		}
	}
	return best;
}
