/* job.c - see job.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "proto/job.h"

static struct json *str_array(const char *const *v, size_t n)
{
	struct json *a = json_array();

	for (size_t i = 0; v && (n == (size_t)-1 ? v[i] != NULL : i < n); i++)
		json_append(a, json_str(v[i]));
	return a;
}

struct json *job_object(const struct policy *pol, const struct job_facts *f)
{
	struct json *j = json_object();

	json_set(j, "policy", policy_encode(pol, POLICY_TO_CONFINE));
	json_set(j, "workdir", json_str(f->workdir));
	json_set(j, "workdir_writable", json_bool(f->workdir_writable));
	json_set(j, "cgroups", str_array(f->cgroups, f->ncgroups));
	json_set(j, "memory_rlimit", json_bool(f->memory_rlimit));
	json_set(j, "pids_rlimit", json_bool(f->pids_rlimit));
	json_set(j, "ro_paths", str_array(f->ro_paths, (size_t)-1));
	return j;
}

/* The strings of the array KEY of J, NULL-terminated, or NULL when KEY is
 * not an array of at most MAX plain strings. */
static const char **strings(const struct json *j, const char *key, size_t max)
{
	const struct json *a = json_get(j, key);
	const char **v;

	if (!a || a->type != JSON_ARRAY || a->count > max)
		return NULL;
	v = xcalloc(a->count + 1, sizeof(*v));
	for (size_t i = 0; i < a->count; i++) {
		if (a->items[i]->type != JSON_STRING || strlen(a->items[i]->s) != a->items[i]->slen) {
			free(v);
			return NULL;
		}
		v[i] = a->items[i]->s;
	}
	return v;
}

int job_object_parse(const struct json *j, struct job_config *c, char *err, size_t errlen)
{
	const struct json *wr = json_get(j, "workdir_writable"), *mr = json_get(j, "memory_rlimit"),
			  *pr = json_get(j, "pids_rlimit");
	const char **cg;

	memset(c, 0, sizeof(*c));
	policy_init_defaults(&c->pol);
	if (policy_decode(&c->pol, json_get(j, "policy"), POLICY_TO_CONFINE, err, errlen) < 0)
		goto fail;
	c->facts.workdir = json_get_str(j, "workdir");
	c->ro = strings(j, "ro_paths", 64);
	cg = strings(j, "cgroups", 2);
	if (!c->facts.workdir || c->facts.workdir[0] != '/' || !c->ro || !cg || !wr || wr->type != JSON_BOOL || !mr ||
	    mr->type != JSON_BOOL || !pr || pr->type != JSON_BOOL) {
		free(cg);
		snprintf(err, errlen, "malformed job object");
		goto fail;
	}
	for (; cg[c->facts.ncgroups]; c->facts.ncgroups++)
		c->facts.cgroups[c->facts.ncgroups] = cg[c->facts.ncgroups];
	free(cg);
	c->facts.ro_paths = c->ro;
	c->facts.workdir_writable = wr->b;
	c->facts.memory_rlimit = mr->b;
	c->facts.pids_rlimit = pr->b;
	return 0;
fail:
	job_config_release(c);
	return -1;
}

void job_config_release(struct job_config *c)
{
	policy_release(&c->pol);
	free(c->ro);
	memset(c, 0, sizeof(*c));
}

char *job_spare_key(const struct policy *pol)
{
	struct json *j = policy_encode(pol, POLICY_TO_CONFINE);
	struct sbuf sb = SBUF_INIT;

	json_write(j, &sb, -1);
	json_free(j);
	return sbuf_detach(&sb, NULL);
}

struct json *job_request(const struct policy *pol, const char *phase)
{
	struct json *r = json_object();
	unsigned to = !strcmp(phase, "validate") ? POLICY_TO_VALIDATE
		      : !strcmp(phase, "fix")    ? POLICY_TO_FIX
						 : POLICY_TO_BUILD;

	json_set(r, "phase", json_str(phase));
	if (to != POLICY_TO_VALIDATE) /* the validate child never reads the source */
		json_set(r, "source", json_str(JOB_SOURCE_NAME));
	json_set(r, "policy", policy_encode(pol, to));
	return r;
}
