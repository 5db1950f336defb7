/* inputspec.c - see inputspec.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/inputspec.h"
#include "common/util.h"

static int parse_dims(const char *s, struct inputspec *out, char *err, size_t errlen)
{
	const char *p = s;
	double total = 1;

	out->ndims = 0;
	if (!*p) {
		snprintf(err, errlen, "input spec: missing shape (e.g. 2x20)");
		return -1;
	}
	for (;;) {
		char *end;
		long v;

		if (*p < '0' || *p > '9') {
			snprintf(err, errlen, "input spec: bad shape '%s' (expected dimensions like 2x3x32x32)", s);
			return -1;
		}
		v = strtol(p, &end, 10);
		if (v < 1 || v > (1L << 24)) {
			snprintf(err, errlen, "input spec: dimension %ld out of range [1, 16777216]", v);
			return -1;
		}
		if (out->ndims == INPUTSPEC_MAX_DIMS) {
			snprintf(err, errlen, "input spec: more than %d dimensions", INPUTSPEC_MAX_DIMS);
			return -1;
		}
		out->dims[out->ndims++] = v;
		total *= (double)v;
		if (*end == '\0')
			break;
		if (*end != 'x') {
			snprintf(err, errlen, "input spec: bad shape '%s' (expected dimensions like 2x3x32x32)", s);
			return -1;
		}
		p = end + 1;
	}
	if (total > (double)(1L << 28)) {
		snprintf(err, errlen, "input spec: %.0f elements is more than the 268435456 allowed", total);
		return -1;
	}
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

int inputspec_parse(const char *spec, struct inputspec *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!spec || !*spec) {
		snprintf(err, errlen, "input spec: empty");
		return -1;
	}
	if (!strcmp(spec, "auto")) {
		out->kind = INPUT_AUTO;
		return 0;
	}
	if (!strncmp(spec, "tokens:", 7)) {
		const char *shape = spec + 7, *colon = strrchr(shape, ':');
		char *dims;
		int rc;

		out->kind = INPUT_TOKENS;
		if (!colon || !util_parse_long(colon + 1, &out->vocab)) {
			snprintf(err, errlen, "input spec '%s': expected tokens:SHAPE:VOCAB, e.g. tokens:2x20:1000",
				 spec);
			return -1;
		}
		if (out->vocab < 2 || out->vocab > 100000000) {
			snprintf(err, errlen, "input spec '%s': vocabulary %ld out of range [2, 100000000]", spec,
				 out->vocab);
			return -1;
		}
		dims = xstrndup(shape, (size_t)(colon - shape));
		rc = parse_dims(dims, out, err, errlen);
		free(dims);
		return rc;
	}
	if (!strncmp(spec, "float:", 6)) {
		out->kind = INPUT_FLOAT;
		return parse_dims(spec + 6, out, err, errlen);
	}
	if (ends_with(spec, ".pt") || ends_with(spec, ".npy")) {
		char *abs = realpath(spec, NULL);

		if (!abs) {
			snprintf(err, errlen, "input spec: cannot open tensor file '%s'", spec);
			return -1;
		}
		out->kind = INPUT_FILE;
		out->path = abs;
		out->format = xstrdup(ends_with(spec, ".pt") ? "pt" : "npy");
		return 0;
	}
	snprintf(err, errlen, "input spec '%s': expected tokens:BxT:VOCAB, float:D1xD2..., a .pt/.npy file, or auto",
		 spec);
	return -1;
}

void inputspec_release(struct inputspec *s)
{
	free(s->path);
	free(s->format);
	memset(s, 0, sizeof(*s));
}

struct json *inputspec_to_json(const struct inputspec *s, const char *file_name)
{
	struct json *j = json_object(), *dims = json_array();

	static const char *const kinds[] = {"tokens", "float", "file", "auto"};

	json_set(j, "kind", json_str(kinds[s->kind]));
	if (s->kind == INPUT_AUTO) {
		/* what a model whose first layer says nothing gets */
		struct json *fb = json_set(j, "fallback", json_object()), *fd = json_array();

		json_set(fb, "kind", json_str("tokens"));
		json_append(fd, json_num(2));
		json_append(fd, json_num(20));
		json_set(fb, "shape", fd);
		json_set(fb, "vocab", json_num(1000));
	}
	for (size_t i = 0; i < s->ndims; i++)
		json_append(dims, json_num((double)s->dims[i]));
	json_set(j, "shape", dims);
	if (s->kind == INPUT_TOKENS)
		json_set(j, "vocab", json_num((double)s->vocab));
	if (s->kind == INPUT_FILE) {
		json_set(j, "file", json_str(file_name));
		json_set(j, "format", json_str(s->format));
	}
	return j;
}
