/* util.h - process-wide helpers: the "we failed" path and checked allocation.
 *
 * Two kinds of failure exist in aegis-sandbox.  "We failed" (the host, a
 * broken install, our bug) goes through die(), which prints and exits with
 * AEGIS_EXIT_ERROR.  "The candidate failed" is never an error of ours: it is
 * a verdict, built in verdict.c and pipeline.c.  Forked children never call die(): they
 * report over their error pipe and _exit(). */
#ifndef AEGIS_UTIL_H
#define AEGIS_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Exit codes (aegis-sandbox(1), EXIT STATUS). */
enum aegis_exit {
	AEGIS_EXIT_ACCEPTED = 0,
	AEGIS_EXIT_REJECTED = 1,
	AEGIS_EXIT_USAGE = 2,
	AEGIS_EXIT_VIOLATION = 3,
	AEGIS_EXIT_TIMEOUT = 4,
	AEGIS_EXIT_MEMORY = 5,
	AEGIS_EXIT_CRASH = 6,
	AEGIS_EXIT_ERROR = 7,
	/* the pool's commands, which give no verdict */
	AEGIS_EXIT_NOT_FOUND = 8, /* no such candidate, request or archive */
	AEGIS_EXIT_CONFLICT = 9,  /* already decided; changed while deciding */
};

extern const char *aegis_progname;

/* Print "aegis-sandbox: MSG[: strerror(errno)]" and exit(AEGIS_EXIT_ERROR).
 * errno is saved on entry; ": %m" style suffix is added when it is nonzero
 * and FMT ends with ':'. */
__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
/* Print a warning to stderr (supervisor only). */
/* "aegis-sandbox: KIND" and the message, one line on stderr. */
void util_vmessage(const char *kind, const char *fmt, va_list ap);
__attribute__((format(printf, 1, 2))) void warnx_(const char *fmt, ...);

/* Allocation that cannot fail (dies instead).  Memory is the caller's. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* realloc for N elements of SIZE bytes, dying on overflow as on failure. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* asprintf that dies on failure.  The string is the caller's. */
__attribute__((format(printf, 1, 2))) char *xasprintf(const char *fmt, ...);

/* Read a whole file into a NUL-terminated heap buffer (the caller's).
 * Returns 0 or a negative errno; -EFBIG when it is larger than MAX. */
int util_read_file(const char *path, size_t max, char **out, size_t *out_len);
/* The same for what FD holds until EOF (FD stays open). */
int util_read_fd(int fd, size_t max, char **out, size_t *out_len);
/* Copy SRC (at most MAX bytes) to a new DST with mode 0600; 0 or -errno. */
int util_copy_file(const char *src, const char *dst, size_t max);
/* Write all of BUF to FD, retrying on EINTR/short writes; 0 or -errno. */
int util_write_all(int fd, const void *buf, size_t len);
/* Write a whole file atomically enough for our use (O_TRUNC); 0 or -errno. */
int util_write_file(const char *path, const void *buf, size_t len, mode_t mode);
/* Create every missing directory above PATH (mode 0700): 0 or -errno. */
int util_mkdir_parents(const char *path);
/* Remove a directory tree of any depth without following symlinks, one fd
 * at a time; directories a job left unreadable are made readable first.
 * 0 or the first -errno (then part of the tree is left). */
int util_rm_rf(const char *path);
/* The disk space the tree at PATH takes (blocks, not sizes: a sparse file
 * counts what it holds), without following links or crossing mounts.
 * 0 or -errno (a tree deeper than PATH_MAX cannot be measured).  Not
 * thread-safe. */
int util_du(const char *path, unsigned long long *bytes);
/* Remove a job's work directory: unmount the tmpfs it may be (lazily: a
 * dying job may still hold it), then util_rm_rf.  0 or -errno. */
int util_remove_workdir(const char *path);
/* Which aegis-sandbox this process is: the uninstalled build tree's, the
 * installed one, or another binary (a copy, a unit test).  The first two
 * know where their own helpers (Python, the zygote program) are. */
enum util_exe { UTIL_EXE_OTHER, UTIL_EXE_BUILD, UTIL_EXE_INSTALLED };
enum util_exe util_exe_kind(void);
/* $VAR/aegis-sandbox/NAME when VAR (XDG_CONFIG_HOME, XDG_DATA_HOME) is an
 * absolute path, else HOME/DEFAULT_DIR/aegis-sandbox/NAME (HOME from the
 * password database when unset).  The caller's. */
char *util_xdg_path(const char *var, const char *default_dir, const char *name);
/* An install that was moved (a wheel built in one venv and installed in
 * another, or on another node): the prefix this program runs from, when
 * it is PREFIX/bin/aegis-sandbox or PREFIX/libexec/aegis-sandbox/
 * aegis-zygote of a prefix other than the configured one (AEGIS_PREFIX);
 * NULL otherwise. */
const char *util_relocated_prefix(void);
/* PATH, a path under the configured prefix, under the relocated one when
 * the install was moved (see above); PATH itself otherwise.  The result
 * lives as long as the process (each distinct path is made once). */
const char *util_relocate(const char *path);
/* Monotonic time in seconds. */
double util_now(void);
/* Parse a decimal integer / number fully; false on garbage or overflow. */
bool util_parse_long(const char *s, long *out);
bool util_parse_double(const char *s, double *out);
/* True when BUF is valid UTF-8 (no overlongs, no surrogates). */
bool util_utf8_valid(const char *buf, size_t len);
/* The edit distance (insertions, deletions, substitutions, and swaps of
 * two neighbours) between A and B, for "did you mean": strings longer
 * than 127 bytes count as far from everything. */
size_t util_edit_distance(const char *a, const char *b);
/* Whether CANDIDATE is close enough to WORD to suggest: an edit distance of
 * at most a third of the length of WORD's last dotted part (at least 1). */
bool util_close_enough(const char *word, const char *candidate);
/* The candidate of N (in CANDS) closest to WORD and close enough to
 * suggest, or NULL; WORD itself is never suggested. */
const char *util_closest(const char *word, char *const *cands, size_t n);
/* Base64 (RFC 4648, with padding) of LEN bytes: a new string. */
char *util_base64_encode(const void *data, size_t len);
/* Decode S (SLEN characters, padded, no whitespace) into a new buffer of
 * *OUT_LEN bytes: 0, or -EINVAL for anything that is not such base64. */
int util_base64_decode(const char *s, size_t slen, unsigned char **out, size_t *out_len);
/* The length (1 to 4) of the valid UTF-8 character at BUF, of at most
 * AVAIL bytes; 0 when there is none. */
size_t util_utf8_char(const char *buf, size_t avail);

/* A NULL-terminated vector of owned strings. */
struct strv {
	char **v;
	size_t n;
};
void strv_push(struct strv *sv, const char *s);
void strv_clear(struct strv *sv);
bool strv_contains(const struct strv *sv, const char *s);

#endif
