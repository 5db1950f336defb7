/* job.h - what a job child is given and what it gives back.
 *
 * A job child is forked by the zygote for one phase of one candidate
 * (build, validate, fix) and confined by sandbox/confine.c before it reads
 * a byte of candidate input.  It keeps exactly these fds:
 *
 *   fd 0  /dev/null
 *   fd 1  stdout pipe  -> supervisor (captured, capped, flood-killed)
 *   fd 2  stderr pipe  -> supervisor
 *   fd 3  report pipe  -> supervisor: JSON lines, the protocol of
 *                         pipeline/verdict.h (line 1 is the C side's)
 *   fd 4  hold pipe    <- supervisor: only for a held job, which waits
 *                         here, confined, for its request: its length in
 *                         decimal, a newline, the JSON; when the request
 *                         has "artifact_bytes", that many bytes of the
 *                         archive follow, for the validate harness
 *
 * The job object of a "job" message (proto/ctl.h) is built by
 * job_config_json() from the policy's schema (policy/policy.h,
 * policy_encode() with POLICY_FOR_CONFINE) plus the facts of this one job,
 * and read back by job_config_parse() in the zygote: one codec, so a key
 * cannot be written under one name and read under another, or defaulted
 * differently on the two sides.  The request (the Python phase's input)
 * carries its own policy subset the same way (POLICY_FOR_BUILD, ...). */
#ifndef AEGIS_PROTO_JOB_H
#define AEGIS_PROTO_JOB_H

/* Exit code of a job child whose confinement could not be applied; the
 * reason went to its report fd first. */
#define CONFINE_EXIT_SETUP 121
/* Exit code of a job child killed by our SIGSYS handler (a denied syscall). */
#define CONFINE_EXIT_SECCOMP 122

/* The fds a job child keeps, at these numbers. */
#define JOB_FD_STDIN 0
#define JOB_FD_STDOUT 1
#define JOB_FD_STDERR 2
#define JOB_FD_REPORT 3
#define JOB_FD_HOLD 4

/* The name of the candidate's source in every work directory, and in every
 * traceback and static finding a person reads. */
#define JOB_SOURCE_NAME "candidate.py"

#include <stdbool.h>
#include <stddef.h>

#include "common/json.h"
#include "policy/policy.h"

/* What the supervisor knows of one job beyond the policy. */
struct job_facts {
	const char *workdir; /* absolute, canonical */
	bool workdir_writable;
	const char *cgroups[2]; /* cgroup.procs files to join */
	size_t ncgroups;
	bool memory_rlimit, pids_rlimit; /* no cgroup controller: use the rlimit */
	const char *const *ro_paths;     /* NULL-terminated: Landlock's read-only roots */
};

/* The "job" object of a ctl "job" message: POL's POLICY_TO_CONFINE keys
 * under "policy", and F.  The caller's. */
struct json *job_object(const struct policy *pol, const struct job_facts *f);

/* The zygote's reading of a job object: POL holds the defaults overlaid
 * with the object's policy keys; F's strings are borrowed from the object. */
struct job_config {
	struct policy pol;
	struct job_facts facts;
	const char **ro; /* owned array behind facts.ro_paths */
};
/* 0, or -1 with a message in ERR (C is then released). */
int job_object_parse(const struct json *j, struct job_config *c, char *err, size_t errlen);
void job_config_release(struct job_config *c);

/* What a held (spare) job child was confined under, as text: it serves
 * only a candidate whose policy gives the same key. */
char *job_spare_key(const struct policy *pol);

/* A phase's request to a job child's Python: {"phase": PHASE, "source":
 * JOB_SOURCE_NAME (but for validate), "policy": {the policy keys sent to
 * that phase}}.  The
 * caller adds the phase's own fields.  PHASE is "static", "build",
 * "validate" or "fix". */
struct json *job_request(const struct policy *pol, const char *phase);

#endif
