/* inputspec.h - test-input specifications ("tokens:2x20:1000", "float:2x100",
 * a .pt/.npy file, or "auto").  Parsed once here; the job child only builds
 * the tensor from the parsed form.  "auto" is resolved in each job child
 * from the model's first layer with parameters (an Embedding gives tokens
 * over its vocabulary, a Linear(in, ...) float 2 x in, a Conv2d(c, ...) an
 * image batch; pyhelpers/aegis_job/inputs.py), the same way on the model
 * and on its archive, so no child takes another's word for it; a model
 * that says nothing gets the fallback, tokens:2x20:1000. */
#ifndef AEGIS_INPUTSPEC_H
#define AEGIS_INPUTSPEC_H

#include <stddef.h>

#include "common/json.h"

#define INPUTSPEC_MAX_DIMS 8

enum inputspec_kind { INPUT_TOKENS, INPUT_FLOAT, INPUT_FILE, INPUT_AUTO };

struct inputspec {
	enum inputspec_kind kind;
	size_t ndims;
	long dims[INPUTSPEC_MAX_DIMS];
	long vocab;   /* INPUT_TOKENS */
	char *path;   /* INPUT_FILE: absolute path, the caller's */
	char *format; /* INPUT_FILE: "pt" or "npy" */
};

/* Parse SPEC.  Returns 0, or -1 with a message in ERR.  Element count is
 * limited to 2^28 and each dimension to [1, 2^24]. */
int inputspec_parse(const char *spec, struct inputspec *out, char *err, size_t errlen);
void inputspec_release(struct inputspec *s);
/* The parsed spec as JSON for a job request (FILE_NAME: the name of the
 * copy inside the work directory, for INPUT_FILE).  The caller's. */
struct json *inputspec_to_json(const struct inputspec *s, const char *file_name);

#endif
