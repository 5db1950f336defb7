/* fixer.h - the operator's fixer command (e.g. an LLM client), run by the
 * supervisor outside the sandbox with a timeout: JSON on stdin, fixed code
 * on stdout (plain, or {"code": ..., "changes": [...]}). */
#ifndef AEGIS_FIXER_H
#define AEGIS_FIXER_H

#include <stddef.h>

#include "common/json.h"
#include "common/util.h"

struct fixer_outcome {
	char *code; /* the fixed code, or NULL; the caller's */
	size_t code_len;
	struct json *changes; /* array; the caller's */
	char *error;          /* why there is no code (timeout, crash, garbage); the caller's */
	double time_s;
};

/* Run ARGV with INPUT (a JSON document) on its stdin for at most TIMEOUT_S
 * seconds and parse what it prints.  Output larger than MAX_CODE bytes is
 * refused.  Always fills OUT (release with fixer_outcome_release). */
void fixer_run(const struct strv *argv, const struct json *input, double timeout_s, size_t max_code,
	       struct fixer_outcome *out);
void fixer_outcome_release(struct fixer_outcome *o);

#endif
