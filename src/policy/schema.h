/* schema.h - the policy schema table, shared by policy.c and yaml.c only
 * (everyone else uses policy.h). */
#ifndef AEGIS_POLICY_SCHEMA_H
#define AEGIS_POLICY_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

struct policy;

enum ktype { K_SECTION, K_BOOL, K_INT, K_NUM, K_STR, K_ENUM, K_LIST };

/* List item syntax checks. */
enum kcheck { C_NONE, C_MODULE, C_EVENT, C_ENVVAR, C_IDENT, C_ARGV };

struct key {
	const char *path;
	enum ktype type;
	size_t off;
	const char *def; /* lists: items separated by '|' */
	double min, max;
	const char *choices; /* K_ENUM: '|'-separated */
	enum kcheck check;
	const char *doc;
	unsigned to; /* enum policy_to: the processes this key is sent to */
};

extern const struct key schema[];
extern const size_t schema_nkeys;

const struct key *schema_find(const char *path);
/* For an unknown PATH: " (did you mean 'KEY'?)" naming the closest key,
 * or "" when none is close. */
const char *schema_suggest(const char *path, char *buf, size_t len);
void *schema_field(struct policy *p, const struct key *k);
/* Set a scalar key from text.  MSG gets a reason on failure. */
int schema_set_scalar(struct policy *p, const struct key *k, const char *v, char *msg, size_t msglen);
bool schema_check_item(enum kcheck check, const char *s);
const char *schema_check_desc(enum kcheck c);

#endif
