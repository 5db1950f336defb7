/* verdict.h - what a job child's report says, and the verdict rule.
 *
 * THE RULE.  A build child *is* the candidate: every byte it writes, on
 * any fd, is a claim, never evidence.  A claim can only make a verdict
 * worse.  So the report parser is strict about the protocol an honest job
 * child speaks on fd 3 (zygote.c and pyhelpers/aegis_job/report.py write
 * it), and turns every deviation into a violation:
 *
 *   line 1    {"sandbox":{...}} or {"setup_error":"..."}, written by the C
 *             side after confinement and before any Python runs
 *   then      {"violation":{...}} and {"seccomp":{...}}, any number
 *             (the first VERDICT_MAX_VIOLATIONS kept, the rest counted)
 *             {"harness_error":"..."} at most once
 *             {"result":{...}} exactly once, last, with at most
 *             VERDICT_MAX_METRICS keys in its "metrics" and "checks"
 *
 * Every line is one JSON object with exactly one of those keys and ends
 * in a newline.  A setup_error or sandbox line anywhere but first, a
 * second result, a malformed or unterminated line, an unknown key, or a
 * report past its size cap is tampering with the report channel: a
 * violation ("report" rule), never a relabelling (a forged setup_error
 * once turned a violation into "error").
 *
 * judge_job() then decides what the supervisor's own observations and the
 * report make of one job; it never returns "accepted": that needs a
 * validate child's result, read by pipeline.c. */
#ifndef AEGIS_VERDICT_H
#define AEGIS_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/json.h"
#include "common/sbuf.h"

struct policy;
struct job_outcome;

enum verdict {
	VERDICT_ACCEPTED,
	VERDICT_REJECTED,
	VERDICT_VIOLATION,
	VERDICT_TIMEOUT,
	VERDICT_MEMORY,
	VERDICT_CRASH,
	VERDICT_ERROR,
	VERDICT_COUNT
};

/* The one table of statuses: every view, parser and exit code reads it
 * (aegis-sandbox(1), EXIT STATUS). */
struct verdict_info {
	const char *name;
	int exit_code;
	bool judged; /* a verdict about the candidate; false: the sandbox's own failure */
};
extern const struct verdict_info verdict_table[VERDICT_COUNT];

#define VERDICT_MAX_VIOLATIONS 100
/* Keys of a result's "metrics" (and of its "checks"): the harness reports
 * a few dozen; a build child that claims 150,000 is tampering, and every
 * view and the pool stay small. */
#define VERDICT_MAX_METRICS 1000

/* The parsed report of one job.  Owned pointers; report_release frees. */
struct report {
	struct json *sandbox;    /* layers the child applied (line 1) */
	struct json *violations; /* array, at most VERDICT_MAX_VIOLATIONS */
	size_t violations_dropped;
	struct json *result; /* the phase's result line */
	char *setup_error;   /* only from line 1 */
	char *harness_error;
	bool archive_announced; /* a build child said {"archive": "ready"} (pipeline.c) */
	size_t tampered;        /* protocol deviations (each also a violation) */
};

/* Parse RAW, the report fd's bytes.  EXITED_NORMALLY: the child ended by
 * exit (not a signal), so an unterminated last line was written that way
 * and is tampering; after a kill it is a cut-off write and is ignored.
 * DROPPED: bytes the supervisor did not keep past its cap (tampering when
 * non-zero).  Linear in RAW's size (json_parse is O(n log n) per line). */
void report_parse(const struct sbuf *raw, bool exited_normally, size_t dropped, struct report *r);
/* report_parse of what the supervisor collected from one job. */
void report_parse_job(const struct job_outcome *o, struct report *r);
void report_release(struct report *r);

/* An error object of the result contract; the caller's. */
struct json *verdict_error(const char *type, const char *message, long line);

/* The verdict of one job from what the supervisor saw (O) and the
 * report (R), under POL's limits.  Returns true when the job decided the
 * candidate's fate (and fills *V and *ERR, the caller's); false when the
 * phase ran to its end and its result line decides. */
bool judge_job(const struct policy *pol, const struct job_outcome *o, const struct report *r, enum verdict *v,
	       struct json **err);

const char *verdict_name(enum verdict v);
/* NAME's verdict; VERDICT_ERROR for a name that is none (see
 * verdict_known). */
enum verdict verdict_from_name(const char *name);
bool verdict_known(const char *name);
int verdict_exit_code(enum verdict v);

#endif
