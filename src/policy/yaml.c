/* yaml.c - reading a policy file.
 *
 * The parser loads the whole document with libyaml's document API (every
 * node keeps its start mark, so each error can say FILE:LINE:COL) and walks
 * it against the schema table (policy.c).  Nothing is silently ignored: an
 * unknown key, a duplicate key, a wrong type, a value out of range, a
 * quoted number, an alias, a missing "version" are all errors. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/util.h"
#include "policy/policy.h"
#include "policy/schema.h"

/* Every error of a file is reported at once, one per line (up to
 * MAX_ERRORS), so a person fixes a policy in one pass. */
#define MAX_ERRORS 20

struct walk {
	yaml_document_t *doc;
	struct policy *p;
	const char *name;
	char *err;
	size_t errlen;
	size_t nerr;
};

static int node_error(struct walk *w, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int node_error(struct walk *w, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	size_t used = w->nerr ? strlen(w->err) : 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->nerr < MAX_ERRORS && used < w->errlen)
		snprintf(w->err + used, w->errlen - used, "%s%s:%zu:%zu: %s", w->nerr ? "\n" : "", w->name,
			 n ? (size_t)n->start_mark.line + 1 : 1, n ? (size_t)n->start_mark.column + 1 : 1, msg);
	w->nerr++;
	return -1;
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_SCALAR_NODE: return "a scalar";
	default: return "nothing";
	}
}

static bool scalar_is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL"));
}

static bool scalar_is_quoted(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
	       n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
}

static int walk_value(struct walk *w, const struct key *k, yaml_node_t *v)
{
	char msg[384];

	if (k->type == K_SECTION) {
		if (v->type != YAML_MAPPING_NODE)
			return node_error(w, v, "key '%s': expected a mapping (a section), got %s", k->path,
					  node_kind(v));
		return 0; /* the caller recurses */
	}
	if (k->type == K_LIST) {
		struct strv *sv = schema_field(w->p, k);

		if (v->type != YAML_SEQUENCE_NODE)
			return node_error(w, v, "key '%s': expected a list, got %s", k->path, node_kind(v));
		strv_clear(sv);
		for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
			yaml_node_t *item = yaml_document_get_node(w->doc, *it);
			const char *s;

			if (!item || item->type != YAML_SCALAR_NODE)
				return node_error(w, item, "key '%s': list items must be scalars, got %s", k->path,
						  item ? node_kind(item) : "nothing");
			s = (const char *)item->data.scalar.value;
			if (scalar_is_null(item) || !schema_check_item(k->check, s))
				return node_error(w, item, "key '%s': item '%s' is not %s", k->path, s,
						  schema_check_desc(k->check));
			if (strv_contains(sv, s))
				return node_error(w, item, "key '%s': duplicate item '%s'", k->path, s);
			strv_push(sv, s);
		}
		return 0;
	}
	if (v->type != YAML_SCALAR_NODE)
		return node_error(w, v, "key '%s': expected %s, got %s", k->path,
				  k->type == K_BOOL  ? "a boolean"
				  : k->type == K_INT ? "an integer"
				  : k->type == K_NUM ? "a number"
						     : "a string",
				  node_kind(v));
	if (scalar_is_null(v) && k->type != K_STR)
		return node_error(w, v, "key '%s': missing value", k->path);
	if (scalar_is_quoted(v) && (k->type == K_BOOL || k->type == K_INT || k->type == K_NUM))
		return node_error(w, v, "key '%s': expected %s, got a quoted string", k->path,
				  k->type == K_BOOL  ? "a boolean"
				  : k->type == K_INT ? "an integer"
						     : "a number");
	if (!k->off && k->type == K_INT && strcmp((const char *)v->data.scalar.value, "1"))
		return node_error(w, v, "unsupported policy version '%s' (this program reads version: 1)",
				  (const char *)v->data.scalar.value);
	if (schema_set_scalar(w->p, k, scalar_is_null(v) ? "" : (const char *)v->data.scalar.value, msg, sizeof(msg)) <
	    0)
		return node_error(w, v, "key '%s': %s", k->path, msg);
	return 0;
}

static int walk_mapping(struct walk *w, yaml_node_t *map, const char *prefix)
{
	int rc = 0;

	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = yaml_document_get_node(w->doc, pr->key);
		yaml_node_t *vn = yaml_document_get_node(w->doc, pr->value);
		char path[256], hint[300];
		const struct key *k;
		bool dup = false;

		/* an error in one key does not hide the next one's */
		if (!kn || kn->type != YAML_SCALAR_NODE) {
			rc = node_error(w, kn, "keys must be plain strings, got %s", kn ? node_kind(kn) : "nothing");
			continue;
		}
		if (snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "",
			     (const char *)kn->data.scalar.value) >= (int)sizeof(path)) {
			rc = node_error(w, kn, "key too long");
			continue;
		}
		/* duplicate keys: libyaml keeps them, so look back */
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pr && !dup; q++) {
			yaml_node_t *qk = yaml_document_get_node(w->doc, q->key);

			if (qk && qk->type == YAML_SCALAR_NODE &&
			    !strcmp((const char *)qk->data.scalar.value, (const char *)kn->data.scalar.value)) {
				rc = node_error(w, kn, "duplicate key '%s' (first at line %zu)", path,
						(size_t)qk->start_mark.line + 1);
				dup = true;
			}
		}
		if (dup)
			continue;
		k = schema_find(path);
		if (!k) {
			rc = node_error(w, kn, "unknown key '%s'%s", path, schema_suggest(path, hint, sizeof(hint)));
			continue;
		}
		if (!vn) {
			rc = node_error(w, kn, "key '%s': missing value", path);
			continue;
		}
		if (walk_value(w, k, vn) < 0) {
			rc = -1;
			continue;
		}
		if (k->type == K_SECTION && walk_mapping(w, vn, path) < 0)
			rc = -1;
	}
	return rc;
}

/* Anchors and aliases would let one node appear under two keys; refuse
 * them so every value has exactly one position to report. */
static int reject_aliases(struct walk *w, const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = 0;

	if (!yaml_parser_initialize(&parser))
		die("cannot initialise libyaml");
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	for (;;) {
		if (!yaml_parser_parse(&parser, &ev))
			break; /* the loader reports syntax errors */
		if (ev.type == YAML_ALIAS_EVENT || (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.anchor) ||
		    (ev.type == YAML_MAPPING_START_EVENT && ev.data.mapping_start.anchor) ||
		    (ev.type == YAML_SEQUENCE_START_EVENT && ev.data.sequence_start.anchor)) {
			snprintf(w->err, w->errlen, "%s:%zu:%zu: anchors and aliases are not allowed in policy files",
				 w->name, (size_t)ev.start_mark.line + 1, (size_t)ev.start_mark.column + 1);
			rc = -1;
		}
		if (ev.type == YAML_DOCUMENT_END_EVENT && rc == 0) {
			/* a second document is checked by the loader below */
		}
		{
			bool end = ev.type == YAML_STREAM_END_EVENT;

			yaml_event_delete(&ev);
			if (end || rc)
				break;
		}
	}
	yaml_parser_delete(&parser);
	return rc;
}

int policy_load_buffer(struct policy *p, const char *name, const char *buf, size_t len, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc, doc2;
	struct walk w = {&doc, p, name, err, errlen};
	yaml_node_t *root;
	int rc = -1;
	bool have_version = false;

	if (!util_utf8_valid(buf, len) || memchr(buf, '\0', len)) {
		/* point at the first offending byte */
		size_t line = 1, col = 1, i = 0;

		while (i < len) {
			size_t n = 1;
			unsigned char c = (unsigned char)buf[i];

			if (c >= 0xf0)
				n = 4;
			else if (c >= 0xe0)
				n = 3;
			else if (c >= 0xc0)
				n = 2;
			if (c == 0 || i + n > len || !util_utf8_valid(buf + i, n))
				break;
			if (c == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
			i += n;
		}
		snprintf(err, errlen, "%s:%zu:%zu: the file is not UTF-8 text (%s)", name, line, col,
			 i < len && buf[i] == 0 ? "a NUL byte" : "an invalid byte sequence");
		return -1;
	}
	if (reject_aliases(&w, buf, len) < 0)
		return -1;
	if (!yaml_parser_initialize(&parser))
		die("cannot initialise libyaml");
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: YAML syntax error: %s%s%s", name,
			 (size_t)parser.problem_mark.line + 1, (size_t)parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "unknown problem", parser.context ? " " : "",
			 parser.context ? parser.context : "");
		goto out_parser;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		snprintf(err, errlen, "%s:1:1: empty policy: at least 'version: 1' is required", name);
		goto out_doc;
	}
	if (root->type != YAML_MAPPING_NODE) {
		node_error(&w, root, "the document must be a mapping, got %s", node_kind(root));
		goto out_doc;
	}
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = yaml_document_get_node(&doc, pr->key);

		if (kn && kn->type == YAML_SCALAR_NODE && !strcmp((const char *)kn->data.scalar.value, "version"))
			have_version = true;
	}
	if (!have_version)
		node_error(&w, root, "missing required key 'version' (this program reads version: 1)");
	if (walk_mapping(&w, root, "") < 0 || w.nerr) {
		if (w.nerr > MAX_ERRORS) {
			size_t used = strlen(err);

			if (used < errlen)
				snprintf(err + used, errlen - used, "\n%s: and %zu more errors", name,
					 w.nerr - MAX_ERRORS);
		}
		goto out_doc;
	}
	/* exactly one document */
	if (!yaml_parser_load(&parser, &doc2)) {
		snprintf(err, errlen, "%s:%zu:%zu: YAML syntax error: %s", name, (size_t)parser.problem_mark.line + 1,
			 (size_t)parser.problem_mark.column + 1, parser.problem ? parser.problem : "unknown problem");
		goto out_doc;
	}
	root = yaml_document_get_root_node(&doc2);
	if (root) {
		node_error(&w, root, "a policy file holds one YAML document; found a second");
		yaml_document_delete(&doc2);
		goto out_doc;
	}
	yaml_document_delete(&doc2);
	free(p->source);
	p->source = xstrdup(name);
	rc = 0;
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	return rc;
}

int policy_load_file(struct policy *p, const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc = util_read_file(path, 1 << 20, &buf, &len);

	if (rc < 0) {
		snprintf(err, errlen, "%s:0:0: cannot read the policy: %s", path,
			 rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
		return -1;
	}
	rc = policy_load_buffer(p, path, buf, len, err, errlen);
	free(buf);
	return rc;
}
