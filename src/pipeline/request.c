/* request.c - one run request, parsed and tightened in one place
 * (request.h). */
#include "config.h"

#include "pipeline/request.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* KEY of O, when present, an integer in [LO, HI] into *OUT. */
static bool get_long(const struct json *o, const char *k, long lo, long hi, long *out)
{
	double v;

	if (!json_get(o, k))
		return true;
	if (!json_get_num(o, k, &v) || v != floor(v) || v < (double)lo || v > (double)hi)
		return false;
	*out = (long)v;
	return true;
}

/* KEY of O, when present, a string into *OUT. */
static bool get_str(const struct json *o, const char *k, const char **out)
{
	const struct json *v = json_get(o, k);

	if (!v || v->type == JSON_NULL)
		return true;
	if (v->type != JSON_STRING)
		return false;
	*out = v->s;
	return true;
}

int request_parse(const struct json *req, const struct policy *base, struct run_request *r, char *err,
		  size_t errlen)
{
	const char *arch_id = NULL;
	const struct {
		const char *key;
		const char **into;
	} strs[] = {{"path", &r->path},
		    {"input", &r->input},
		    {"class", &r->class_name},
		    {"architecture_id", &r->arch_id},
		    {"arch_id", &arch_id},
		    {"artifact_out", &r->artifact_out}};
	const struct json *code;
	double v;

	*r = (struct run_request){.train = -1,
				  .train_steps = base->validation.training.steps,
				  .max_attempts = base->debug.max_attempts};
	if (!req || req->type != JSON_OBJECT) {
		snprintf(err, errlen, "a request is a JSON object");
		return -1;
	}
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (!get_str(req, strs[i].key, strs[i].into)) {
			snprintf(err, errlen, "\"%s\" must be a string", strs[i].key);
			return -1;
		}
	}
	if (!r->arch_id)
		r->arch_id = arch_id; /* the older name */
	code = json_get(req, "code");
	if (code && code->type != JSON_STRING) {
		snprintf(err, errlen, "\"code\" must be a string");
		return -1;
	}
	if (!!code == !!r->path) {
		snprintf(err, errlen, "a request has exactly one of \"code\" and \"path\"");
		return -1;
	}
	if (code) {
		r->code = code->s;
		r->code_len = code->slen; /* its size is the static check's to judge */
	}
	if (!get_long(req, "parent", 1, 1L << 62, &r->parent) ||
	    !get_long(req, "generation", 0, 1L << 30, &r->generation) ||
	    !get_long(req, "train_steps", 1, 1000000, &r->train_steps) ||
	    !get_long(req, "max_attempts", 1, 20, &r->max_attempts)) {
		snprintf(err, errlen, "parent, generation, train_steps and max_attempts are integers in range");
		return -1;
	}
	/* limits may be tightened by a request, never widened */
	if (json_get(req, "timeout")) {
		if (!json_get_num(req, "timeout", &v) || !(v > 0) || v > base->limits.wall_timeout_s) {
			snprintf(err, errlen, "timeout must be in (0, %g] (the policy's limit)",
				 base->limits.wall_timeout_s);
			return -1;
		}
		r->timeout_s = v;
	}
	if (json_get(req, "memory_mb")) {
		if (!json_get_num(req, "memory_mb", &v) || !(v >= 16) || v > (double)base->limits.memory_mb) {
			snprintf(err, errlen, "memory_mb must be in [16, %ld] (the policy's limit)", base->limits.memory_mb);
			return -1;
		}
		r->memory_mb = (long)v;
	}
	if (json_get(req, "train"))
		r->train = json_get_bool(req, "train", true) ? 1 : 0;
	r->request_approval = json_get_bool(req, "request_approval", false);
	if (json_get(req, "dataset")) {
		const struct json *d = json_get(req, "dataset");

		r->has_dataset = true;
		r->dataset = (struct dataset){.epochs = 1, .batch_size = 32, .learning_rate = 1e-3};
		r->dataset.inputs = json_get_str(d, "inputs");
		r->dataset.targets = json_get_str(d, "targets");
		if (!d || d->type != JSON_OBJECT || !r->dataset.inputs || !r->dataset.targets ||
		    !get_long(d, "epochs", 1, 100000, &r->dataset.epochs) ||
		    !get_long(d, "batch_size", 1, 1L << 20, &r->dataset.batch_size) ||
		    (json_get(d, "learning_rate") &&
		     (!json_get_num(d, "learning_rate", &r->dataset.learning_rate) ||
		      !(r->dataset.learning_rate > 0) || !isfinite(r->dataset.learning_rate)))) {
			snprintf(err, errlen,
				 "dataset: {\"inputs\": FILE.npy, \"targets\": FILE.npy, \"epochs\": N, "
				 "\"batch_size\": N, \"learning_rate\": X}");
			return -1;
		}
	}
	return 0;
}

void request_apply(const struct run_request *r, const struct policy *base, struct policy *p)
{
	*p = *base;
	if (r->timeout_s > 0)
		p->limits.wall_timeout_s = p->limits.cpu_time_s = r->timeout_s;
	if (r->memory_mb > 0)
		p->limits.memory_mb = r->memory_mb;
	if (r->train >= 0)
		p->validation.training.enabled = r->train && base->validation.training.enabled;
	p->validation.training.steps = r->train_steps;
	p->debug.max_attempts = r->max_attempts;
}
