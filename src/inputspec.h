/* inputspec.h - test-input specifications ("tokens:2x20:1000", "float:2x100",
 * or a .pt/.npy file).  Parsed once here; the job child only builds the
 * tensor from the parsed form. */
#ifndef AEGIS_INPUTSPEC_H
#define AEGIS_INPUTSPEC_H

#include <stddef.h>

#include "json.h"

#define INPUTSPEC_MAX_DIMS 8

enum inputspec_kind { INPUT_TOKENS, INPUT_FLOAT, INPUT_FILE };

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
