/* pipeline.h - one candidate through static check, build, validate; the
 * verdict and the result document (doc/architecture.md, "Result"). */
#ifndef AEGIS_PIPELINE_H
#define AEGIS_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/inputspec.h"
#include "common/json.h"
#include "supervisor/supervise.h"
#include "pipeline/verdict.h"

/* The caller's data set for a full training run after validation (the
 * seed's run_full_training): two .npy files, copied into the work
 * directory and loaded there without unpickling. */
struct dataset {
	const char *inputs, *targets; /* paths */
	long epochs, batch_size;
	double learning_rate;
};

struct candidate {
	const char *code; /* not necessarily NUL-free or UTF-8: checked */
	size_t code_len;
	const char *class_name; /* NULL: Model, else the last nn.Module */
	const struct inputspec *input;
	const char *arch_id;
	bool keep_workdir;
	bool static_only; /* the "check" command */
	/* When STAGE_DIR is set, the archive is copied into a new file there
	 * (while the validate child runs) and, when accepted, STAGED names
	 * it (the caller's: rename it on, or unlink it), with its size and
	 * SHA-256 in hex; NULL when there is none. */
	const char *stage_dir;
	char *staged;
	size_t staged_len;
	char staged_sha256[65];
	/* when accepted, move the archive here (rename, else copy); the
	 * result's "artifact" names it, or "artifact_error" says why not */
	const char *artifact_out;
	/* train the validated archive on this data set too (NULL: no) */
	const struct dataset *dataset;
};

/* Run CAND under POL (borrowed) on S's zygote.  Returns the result
 * document (the caller's). */
struct json *pipeline_run(struct supervisor *s, const struct policy *pol, struct candidate *cand);

#endif
