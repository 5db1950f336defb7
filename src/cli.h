/* cli.h - the aegis-sandbox command line. */
#ifndef AEGIS_CLI_H
#define AEGIS_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"
#include "pipeline.h"
#include "policy.h"

/* Dispatch ARGV; returns the process exit code (DESIGN.md). */
int cli_main(int argc, char **argv);
/* Print "aegis-sandbox: MSG" and a hint to stderr; returns AEGIS_EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int usage_error(const char *fmt, ...);
/* Defaults, then PATH (may be NULL).  0, or -1 with the FILE:LINE:COL
 * message printed (P is then released). */
int cli_load_policy(struct policy *p, const char *path);
/* Read a candidate source; an oversized one becomes a stand-in the
 * pipeline rejects.  0 with *CODE (the caller's) or a negative errno. */
int cli_read_source(const char *path, size_t max, char **code, size_t *len);
/* The trusted Python helpers' directory (borrowed). */
const char *cli_pyhelpers_dir(void);
/* Record RES in the pool at DB_PATH (with an approval request for an
 * accepted candidate when WANT_APPROVAL); ids go into RES.  0 or -1 with a
 * message on stderr. */
int cli_record_result(const char *db_path, struct json *res, const char *code, size_t code_len, long parent,
		      long generation, bool want_approval, const struct candidate *cand);

#endif
