/* json.h - a small JSON document model: parse, build, write.
 *
 * Used for everything that crosses a process boundary (job requests to the
 * zygote, reports from job children, results to the user).  Strings carry an
 * explicit length, so captured output with NUL bytes survives.  Numbers are
 * doubles; NaN and infinities are written as null (JSON has neither). */
#ifndef AEGIS_JSON_H
#define AEGIS_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "common/sbuf.h"

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	bool b;
	double n;
	char *s; /* JSON_STRING: owned, NUL-terminated, may hold NULs */
	size_t slen;
	size_t count; /* JSON_ARRAY / JSON_OBJECT */
	size_t cap;   /* allocated slots in items (and keys) */
	struct json **items;
	char **keys; /* JSON_OBJECT only */
};

/* Parse TEXT.  Returns a tree the caller must json_free(), or NULL with a
 * message ("line L col C: ...") in ERR.  Nesting is limited to 256.  Hostile
 * input is expected (job children's reports): the cost is O(n log n) in the
 * input's size whatever its shape, and documents a reader could take two
 * ways are refused: an object with a repeated key, a key holding a NUL. */
struct json *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(struct json *j);

/* Constructors; the value is the caller's until handed to json_set/append. */
struct json *json_null(void);
struct json *json_bool(bool b);
struct json *json_num(double n);
struct json *json_str(const char *s);
struct json *json_strn(const char *s, size_t len);
struct json *json_array(void);
struct json *json_object(void);

/* Ownership of VAL passes to the container.  json_set replaces an existing
 * key.  Both return VAL for chaining. */
struct json *json_set(struct json *obj, const char *key, struct json *val);
struct json *json_append(struct json *arr, struct json *val);
/* Remove KEY and hand its value to the caller (NULL when absent). */
struct json *json_take(struct json *obj, const char *key);
/* A deep copy, the caller's. */
struct json *json_dup(const struct json *j);

/* Lookups: borrowed pointers, NULL when absent or of another type. */
struct json *json_get(const struct json *obj, const char *key);
const char *json_get_str(const struct json *obj, const char *key);
/* KEY's string, or DEF when it is absent or not a string. */
const char *json_get_str_or(const struct json *obj, const char *key, const char *def);
bool json_get_num(const struct json *obj, const char *key, double *out);
bool json_get_bool(const struct json *obj, const char *key, bool def);

/* Serialise.  INDENT < 0: compact one line; otherwise pretty with INDENT
 * spaces per level. */
void json_write(const struct json *j, struct sbuf *out, int indent);
/* Append S as a quoted JSON string. */
void json_write_string(struct sbuf *out, const char *s, size_t len);

#endif
