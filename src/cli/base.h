/* base.h - what every command shares: usage errors, the policy and the
 * source a command reads, the helpers' directory, recording a result in
 * the pool, and safe terminal output. */
#ifndef AEGIS_CLI_BASE_H
#define AEGIS_CLI_BASE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/json.h"
#include "common/term.h"
#include "common/util.h"
#include "pipeline/pipeline.h"
#include "policy/policy.h"

/* Every string a candidate (or a client) controls goes through T() (one
 * line) or TL() (code, diffs: newlines kept) before it reaches a terminal:
 * an ESC in a class name must not erase the verdict line, an ESC[8m in a
 * comment must not hide code from the reviewer. */
#define T(s) util_term((s), false)
#define TL(s) util_term((s), true)

/* Print "aegis-sandbox: MSG" and a hint to stderr; returns AEGIS_EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int usage_error(const char *fmt, ...);
/* Defaults, then PATH (may be NULL; see cli_policy_path).  0, or -1 with
 * the FILE:LINE:COL message printed (P is then released). */
int cli_load_policy(struct policy *p, const char *path);
/* The file a --policy argument names: NAME itself when it is a path (has
 * a '/') or a file, else NAME.yaml in $AEGIS_POLICY_DIR, the build tree's
 * policies/ (for a program run from its build tree) or the installed
 * policies, the first there is; NAME when none is.  The caller's. */
char *cli_policy_path(const char *name);
/* Read a candidate source ("-": standard input); an oversized one becomes
 * a stand-in the pipeline rejects.  0 with *CODE (the caller's) or a
 * negative errno. */
int cli_read_source(const char *path, size_t max, char **code, size_t *len);
/* The trusted Python helpers' directory (borrowed). */
const char *cli_pyhelpers_dir(void);
/* Whether J (a result, a pool row, an approval) carries a verdict the
 * candidate's own process gave (validation.export_failure: in-process). */
bool cli_unverified(const struct json *j);
/* The line "archive  verified (...): sha256 ..." (or REFUSED) for J (a
 * result or a pool row), when J says what the archive verifier read;
 * INDENT: as a field of a result (two spaces, then the label). */
void cli_print_archive(const struct json *j, bool indent);
/* J as indented JSON on stdout. */
void cli_print_json(const struct json *j);
/* The approval request a person reads for RES (a result document or a
 * pool row): title, description and risk assessment, all the caller's. */
void cli_approval_of(const struct json *res, char **title, char **description, struct json **risk);
/* Record RES in the pool at DB_PATH (with an approval request for an
 * accepted candidate when WANT_APPROVAL); ids go into RES.  0 or -1 with a
 * message on stderr. */
/* 0 when DB (a --db or storage.db) names a pool that can be opened or
 * made, else a usage error printed and AEGIS_EXIT_USAGE: checked before
 * any candidate runs, and no directory is made for a typo. */
int cli_check_db(const char *db);
int cli_record_result(const char *db_path, struct json *res, const char *code, size_t code_len, long parent,
		      long generation, bool want_approval, struct candidate *cand);
/* Remove the archive copy a run staged for the pool and nobody recorded
 * (a failed or skipped record). */
void cli_drop_staged(struct candidate *cand);

#endif
