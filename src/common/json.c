/* json.c - see json.h.  A recursive-descent parser over a bounded depth. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"

#define JSON_MAX_DEPTH 256

struct parser {
	const char *p, *end, *start;
	char *err;
	size_t errlen;
	bool failed;
};

static void perr(struct parser *ps, const char *msg)
{
	size_t line = 1, col = 1;

	if (ps->failed)
		return;
	ps->failed = true;
	for (const char *q = ps->start; q < ps->p && q < ps->end; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	if (ps->err)
		snprintf(ps->err, ps->errlen, "line %zu col %zu: %s", line, col, msg);
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct json *new_node(enum json_type t)
{
	struct json *j = xcalloc(1, sizeof(*j));

	j->type = t;
	return j;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool read_hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4) {
		perr(ps, "truncated \\u escape");
		return false;
	}
	for (int i = 0; i < 4; i++) {
		int h = hexval(ps->p[i]);

		if (h < 0) {
			perr(ps, "bad \\u escape");
			return false;
		}
		v = v * 16 + (unsigned)h;
	}
	ps->p += 4;
	*out = v;
	return true;
}

static void put_utf8(struct sbuf *sb, unsigned cp)
{
	char b[4];

	if (cp < 0x80) {
		sbuf_addc(sb, (char)cp);
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		sbuf_add(sb, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		sbuf_add(sb, b, 3);
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		sbuf_add(sb, b, 4);
	}
}

/* Parses a string starting at the opening quote; the result is the caller's. */
static char *parse_string(struct parser *ps, size_t *len)
{
	struct sbuf sb = SBUF_INIT;

	ps->p++; /* opening quote */
	while (ps->p < ps->end && *ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;

		if (c < 0x20) {
			perr(ps, "control character in string");
			goto out_fail;
		}
		if (c != '\\') {
			sbuf_addc(&sb, (char)c);
			ps->p++;
			continue;
		}
		ps->p++;
		if (ps->p >= ps->end)
			break;
		switch (*ps->p++) {
		case '"': sbuf_addc(&sb, '"'); break;
		case '\\': sbuf_addc(&sb, '\\'); break;
		case '/': sbuf_addc(&sb, '/'); break;
		case 'b': sbuf_addc(&sb, '\b'); break;
		case 'f': sbuf_addc(&sb, '\f'); break;
		case 'n': sbuf_addc(&sb, '\n'); break;
		case 'r': sbuf_addc(&sb, '\r'); break;
		case 't': sbuf_addc(&sb, '\t'); break;
		case 'u': {
			unsigned cp, lo;

			if (!read_hex4(ps, &cp))
				goto out_fail;
			if (cp >= 0xd800 && cp <= 0xdbff && ps->end - ps->p >= 6 && ps->p[0] == '\\' &&
			    ps->p[1] == 'u') {
				ps->p += 2;
				if (!read_hex4(ps, &lo))
					goto out_fail;
				if (lo >= 0xdc00 && lo <= 0xdfff)
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				else
					cp = 0xfffd;
			} else if (cp >= 0xd800 && cp <= 0xdfff) {
				cp = 0xfffd;
			}
			put_utf8(&sb, cp);
			break;
		}
		default:
			ps->p--;
			perr(ps, "bad escape in string");
			goto out_fail;
		}
	}
	if (ps->p >= ps->end) {
		perr(ps, "unterminated string");
		goto out_fail;
	}
	ps->p++;
	return sbuf_detach(&sb, len);
out_fail:
	sbuf_release(&sb);
	return NULL;
}

static struct json *parse_value(struct parser *ps, int depth);

/* Room for one more item (and key) in J, doubling: appends are amortised
 * O(1), so a report line with 150,000 keys costs what its bytes cost. */
static void grow(struct json *j)
{
	if (j->count < j->cap)
		return;
	j->cap = j->cap ? 2 * j->cap : 4;
	j->items = xreallocarray(j->items, j->cap, sizeof(*j->items));
	if (j->type == JSON_OBJECT)
		j->keys = xreallocarray(j->keys, j->cap, sizeof(*j->keys));
}

/* Append KEY (owned by the object from now on) and VAL, without looking
 * for an existing KEY: the parser checks for repeats once per object. */
static void push_key(struct json *obj, char *key, struct json *val)
{
	grow(obj);
	obj->keys[obj->count] = key;
	obj->items[obj->count++] = val;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether OBJ names a key twice: sort a copy of its key pointers, compare
 * neighbours.  O(n log n), where json_set's scan on every insert was
 * O(n^2). */
static bool has_repeated_key(const struct json *obj)
{
	char **k;
	bool rep = false;

	if (obj->count < 2)
		return false;
	k = xreallocarray(NULL, obj->count, sizeof(*k));
	memcpy(k, obj->keys, obj->count * sizeof(*k));
	qsort(k, obj->count, sizeof(*k), cmp_keys);
	for (size_t i = 1; i < obj->count && !rep; i++)
		rep = !strcmp(k[i - 1], k[i]);
	free(k);
	return rep;
}

static struct json *parse_container(struct parser *ps, int depth, bool object)
{
	struct json *j = new_node(object ? JSON_OBJECT : JSON_ARRAY);
	char close = object ? '}' : ']';

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return j;
	}
	for (;;) {
		char *key = NULL;
		struct json *v;

		skip_ws(ps);
		if (object) {
			size_t klen;

			if (ps->p >= ps->end || *ps->p != '"') {
				perr(ps, "expected a string key");
				goto out_fail;
			}
			key = parse_string(ps, &klen);
			if (!key)
				goto out_fail;
			if (strlen(key) != klen) {
				/* "ok\u0000" would read as "ok" to every lookup */
				free(key);
				perr(ps, "NUL in an object key");
				goto out_fail;
			}
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				perr(ps, "expected ':'");
				goto out_fail;
			}
			ps->p++;
		}
		v = parse_value(ps, depth + 1);
		if (!v) {
			free(key);
			goto out_fail;
		}
		if (object) {
			push_key(j, key, v);
		} else {
			json_append(j, v);
		}
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			if (object && has_repeated_key(j)) {
				perr(ps, "repeated key in an object");
				goto out_fail;
			}
			return j;
		}
		perr(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
		goto out_fail;
	}
out_fail:
	json_free(j);
	return NULL;
}

static bool match_word(struct parser *ps, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, w, n)) {
		ps->p += n;
		return true;
	}
	return false;
}

static struct json *parse_value(struct parser *ps, int depth)
{
	struct json *j;

	if (depth > JSON_MAX_DEPTH) {
		perr(ps, "nesting too deep");
		return NULL;
	}
	skip_ws(ps);
	if (ps->p >= ps->end) {
		perr(ps, "unexpected end of input");
		return NULL;
	}
	switch (*ps->p) {
	case '{': return parse_container(ps, depth, true);
	case '[': return parse_container(ps, depth, false);
	case '"':
		j = new_node(JSON_STRING);
		j->s = parse_string(ps, &j->slen);
		if (!j->s) {
			free(j);
			return NULL;
		}
		return j;
	default: break;
	}
	if (match_word(ps, "true")) {
		j = new_node(JSON_BOOL);
		j->b = true;
		return j;
	}
	if (match_word(ps, "false"))
		return new_node(JSON_BOOL);
	if (match_word(ps, "null"))
		return new_node(JSON_NULL);
	if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
		char tmp[64];
		const char *q = ps->p;
		size_t n;
		char *end;

		while (q < ps->end && (strchr("+-.eE", *q) || (*q >= '0' && *q <= '9')))
			q++;
		n = (size_t)(q - ps->p);
		if (n >= sizeof(tmp)) {
			perr(ps, "number too long");
			return NULL;
		}
		memcpy(tmp, ps->p, n);
		tmp[n] = '\0';
		j = new_node(JSON_NUMBER);
		j->n = strtod(tmp, &end);
		if (*end) {
			free(j);
			perr(ps, "bad number");
			return NULL;
		}
		ps->p = q;
		return j;
	}
	perr(ps, "unexpected character");
	return NULL;
}

struct json *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct parser ps = {text, text + len, text, err, errlen, false};
	struct json *j;

	if (err && errlen)
		err[0] = '\0';
	j = parse_value(&ps, 0);
	if (!j)
		return NULL;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		perr(&ps, "trailing characters after the document");
		json_free(j);
		return NULL;
	}
	return j;
}

void json_free(struct json *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->count; i++) {
		json_free(j->items[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->items);
	free(j->keys);
	free(j->s);
	free(j);
}

struct json *json_null(void)
{
	return new_node(JSON_NULL);
}

struct json *json_bool(bool b)
{
	struct json *j = new_node(JSON_BOOL);

	j->b = b;
	return j;
}

struct json *json_num(double n)
{
	struct json *j = new_node(JSON_NUMBER);

	j->n = n;
	return j;
}

struct json *json_strn(const char *s, size_t len)
{
	struct json *j = new_node(JSON_STRING);

	j->s = xstrndup(s ? s : "", s ? len : 0);
	j->slen = s ? len : 0;
	return j;
}

struct json *json_str(const char *s)
{
	return json_strn(s, s ? strlen(s) : 0);
}

struct json *json_array(void)
{
	return new_node(JSON_ARRAY);
}
struct json *json_object(void)
{
	return new_node(JSON_OBJECT);
}

struct json *json_set(struct json *obj, const char *key, struct json *val)
{
	for (size_t i = 0; i < obj->count; i++) {
		if (!strcmp(obj->keys[i], key)) {
			json_free(obj->items[i]);
			obj->items[i] = val;
			return val;
		}
	}
	push_key(obj, xstrdup(key), val);
	return val;
}

struct json *json_append(struct json *arr, struct json *val)
{
	grow(arr);
	arr->items[arr->count++] = val;
	return val;
}

struct json *json_take(struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->count; i++) {
		if (!strcmp(obj->keys[i], key)) {
			struct json *v = obj->items[i];

			free(obj->keys[i]);
			memmove(obj->items + i, obj->items + i + 1, (obj->count - i - 1) * sizeof(*obj->items));
			memmove(obj->keys + i, obj->keys + i + 1, (obj->count - i - 1) * sizeof(*obj->keys));
			obj->count--;
			return v;
		}
	}
	return NULL;
}

struct json *json_dup(const struct json *j)
{
	struct json *d;

	if (!j)
		return NULL;
	d = new_node(j->type);
	d->b = j->b;
	d->n = j->n;
	if (j->type == JSON_STRING) {
		d->s = xstrndup(j->s, j->slen);
		d->slen = j->slen;
	}
	for (size_t i = 0; i < j->count; i++) {
		if (j->type == JSON_OBJECT)
			push_key(d, xstrdup(j->keys[i]), json_dup(j->items[i])); /* J has no repeats */
		else
			json_append(d, json_dup(j->items[i]));
	}
	return d;
}

struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->count; i++)
		if (!strcmp(obj->keys[i], key))
			return obj->items[i];
	return NULL;
}

const char *json_get_str(const struct json *obj, const char *key)
{
	struct json *v = json_get(obj, key);

	return v && v->type == JSON_STRING ? v->s : NULL;
}

bool json_get_num(const struct json *obj, const char *key, double *out)
{
	struct json *v = json_get(obj, key);

	if (!v || v->type != JSON_NUMBER)
		return false;
	*out = v->n;
	return true;
}

bool json_get_bool(const struct json *obj, const char *key, bool def)
{
	struct json *v = json_get(obj, key);

	return v && v->type == JSON_BOOL ? v->b : def;
}

void json_write_string(struct sbuf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	sbuf_addc(out, '"');
	while (i < len) {
		unsigned char c = u[i];

		switch (c) {
		case '"':
			sbuf_adds(out, "\\\"");
			i++;
			continue;
		case '\\':
			sbuf_adds(out, "\\\\");
			i++;
			continue;
		case '\n':
			sbuf_adds(out, "\\n");
			i++;
			continue;
		case '\r':
			sbuf_adds(out, "\\r");
			i++;
			continue;
		case '\t':
			sbuf_adds(out, "\\t");
			i++;
			continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			char e[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};

			sbuf_adds(out, e);
			i++;
		} else if (c < 0x80) {
			sbuf_addc(out, (char)c);
			i++;
		} else {
			/* Copy a valid UTF-8 sequence; replace invalid bytes with U+FFFD
			 * so the output is always valid JSON text. */
			size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;

			if (n && i + n <= len && util_utf8_valid(s + i, n)) {
				sbuf_add(out, s + i, n);
				i += n;
			} else {
				sbuf_adds(out, "\xef\xbf\xbd");
				i++;
			}
		}
	}
	sbuf_addc(out, '"');
}

static void write_indent(struct sbuf *out, int indent, int level)
{
	sbuf_addc(out, '\n');
	for (int i = 0; i < indent * level; i++)
		sbuf_addc(out, ' ');
}

static void json_write_level(const struct json *j, struct sbuf *out, int indent, int level)
{
	switch (j->type) {
	case JSON_NULL: sbuf_adds(out, "null"); break;
	case JSON_BOOL: sbuf_adds(out, j->b ? "true" : "false"); break;
	case JSON_NUMBER:
		if (!isfinite(j->n))
			sbuf_adds(out, "null");
		else if (j->n == floor(j->n) && fabs(j->n) < 9007199254740992.0)
			sbuf_addf(out, "%lld", (long long)j->n);
		else
			sbuf_addf(out, "%.10g", j->n);
		break;
	case JSON_STRING: json_write_string(out, j->s, j->slen); break;
	case JSON_ARRAY:
	case JSON_OBJECT: {
		bool obj = j->type == JSON_OBJECT;

		sbuf_addc(out, obj ? '{' : '[');
		for (size_t i = 0; i < j->count; i++) {
			if (i)
				sbuf_addc(out, ',');
			if (indent >= 0)
				write_indent(out, indent, level + 1);
			if (obj) {
				json_write_string(out, j->keys[i], strlen(j->keys[i]));
				sbuf_adds(out, indent >= 0 ? ": " : ":");
			}
			json_write_level(j->items[i], out, indent, level + 1);
		}
		if (indent >= 0 && j->count)
			write_indent(out, indent, level);
		sbuf_addc(out, obj ? '}' : ']');
		break;
	}
	}
}

void json_write(const struct json *j, struct sbuf *out, int indent)
{
	json_write_level(j, out, indent, 0);
}

const char *json_get_str_or(const struct json *obj, const char *key, const char *def)
{
	const char *s = json_get_str(obj, key);

	return s ? s : def;
}
