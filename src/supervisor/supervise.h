/* supervise.h - the supervisor: owns the zygote, every job's limits and
 * timers, and the raw facts each verdict is built from. */
#ifndef AEGIS_SUPERVISE_H
#define AEGIS_SUPERVISE_H

#include <stdbool.h>
#include <sys/types.h>

#include "supervisor/cgroup.h"
#include "common/json.h"
#include "policy/policy.h"
#include "common/sbuf.h"

#define SUPERVISE_STASH 8

/* One job between supervise_job_start and supervise_job_finish. */
struct job_run {
	const struct policy *pol; /* the candidate's: limits, timers (borrowed) */
	long id;
	pid_t pid;
	int pidfd;
	int out[2], err[2], rep[2]; /* the read ends stay here */
	int hold[2];                /* a held job's start pipe */
	struct cgroup cg;
	bool awaiting;      /* the zygote's "started" is still to be read */
	char *failure;      /* it could not be started: why */
	double released_at; /* supervise_job_release's time, 0 when not released so */
	/* called by supervise_job_finish whenever report bytes arrive, with
	 * everything read so far (the pipeline watches a build child's report
	 * for the archive it announces) */
	void (*on_report)(void *arg, const struct sbuf *report);
	void *on_report_arg;
};

struct supervisor {
	char *pyhelpers_dir;
	pid_t zygote;
	bool owns_zygote; /* this one reaps it (the first of a pool) */
	int ctl;
	enum cgroup_mode cg_mode;
	long serial;
	double warm_s;
	int zygote_threads;
	struct json *runtime;                /* the zygote's: python, torch, archive format */
	struct json *stash[SUPERVISE_STASH]; /* ctl messages for other jobs */
	size_t nstash;
	/* a held build child for the next candidate (supervise_make_spare) */
	bool have_spare;
	struct job_run spare;
	char *spare_workdir;
	int spare_lock;
	char *spare_key; /* job_spare_key() of the policy it was made with */
};

/* Everything the supervisor observed about one job child. */
struct job_outcome {
	pid_t pid;
	bool exited; /* we have its wait status */
	int wstatus;
	double wall_s;
	double cpu_s;
	long maxrss_kb;
	long long peak_bytes; /* cgroup peak, -1 when unknown */
	bool killed_wall;     /* the wall-clock timer fired */
	bool killed_memory;   /* the RSS watch fired (no cgroup) */
	bool killed_flood;    /* output far past the cap */
	bool oom;             /* the cgroup's OOM killer acted */
	bool disk_full;       /* its work directory was full when it ended */
	struct sbuf out, err; /* captured, capped */
	size_t out_dropped, err_dropped;
	struct sbuf report;    /* JSON lines from the report fd, capped */
	size_t report_dropped; /* bytes past the cap (tampering: verdict.h) */
	char *failure;         /* the supervisor could not run the job at all */
};

/* Start the zygote and wait until it is warm.  POL gives the cgroup mode
 * and where stale work directories are reclaimed; each job then brings
 * its own policy.  0 or -1 with ERR. */
int supervise_start(struct supervisor *s, const struct policy *pol, const char *pyhelpers_dir, char *err,
		    size_t errlen);
/* Start one zygote shared by N supervisors (SV[0..N-1]), each with its
 * own control channel: for a process pool where every worker runs jobs
 * independently.  SV[0] owns (reaps) the zygote, so stop it last.  0 or -1
 * with ERR. */
int supervise_start_many(struct supervisor *sv, size_t n, const struct policy *pol, const char *pyhelpers_dir,
			 char *err, size_t errlen);
/* Close the control channel and, for the owner, wait for the zygote (it
 * exits when all channels are closed).  Accepts one never started. */
void supervise_stop(struct supervisor *s);
/* Run one job child with REQUEST (borrowed) in WORKDIR, confined and
 * limited by POL (borrowed until the job ends), and fill OUT (release it with job_outcome_release).
 * Returns 0 when the job ran (whatever it did), -1 when it could not be run
 * (OUT->failure says why). */
int supervise_job(struct supervisor *s, const struct policy *pol, const struct json *request, const char *workdir,
		  bool writable, struct job_outcome *out);
void job_outcome_release(struct job_outcome *o);
/* supervise_job in two halves, so that a job child can be forked and
 * confined while something else runs.  With HOLD the child stops after
 * confinement, before any Python runs, and REQUEST is not sent (pass NULL):
 * supervise_job_finish hands it REQUEST and starts it (its timers start
 * then too); without HOLD finish's REQUEST is ignored.
 * supervise_job_start returns 0 or -1 (R->failure says why, and finish
 * reports it); every started R must end in supervise_job_finish or
 * supervise_job_cancel, which kills it. */
int supervise_job_start(struct supervisor *s, const struct policy *pol, const struct json *request, const char *workdir,
			bool writable, bool hold, struct job_run *r);
int supervise_job_finish(struct supervisor *s, struct job_run *r, const struct json *request, struct job_outcome *o);
void supervise_job_cancel(struct supervisor *s, struct job_run *r);
/* Start a held job now, before supervise_job_finish (which then sends
 * nothing): REQUEST goes to it at once, and the start pipe stays open for
 * the bytes the request announces ("artifact_bytes", read by the validate
 * harness).  Returns the pipe's write end, the caller's to fill and close
 * (a write fails with EPIPE once the child is gone), or -1 with errno. */
int supervise_job_release(struct supervisor *s, struct job_run *r, const struct json *request);
/* Fork and hold a build child, in a work directory of its own, for the
 * next candidate, made with POL's limits (supervise.c says why). */
void supervise_make_spare(struct supervisor *s, const struct policy *pol);
/* Hand the spare to the caller if it was confined as POL would confine it
 * (else cancel it): R to finish with the build request, the work
 * directory and its lock, as workdir_make gives them. */
bool supervise_take_spare(struct supervisor *s, const struct policy *pol, struct job_run *r, char **workdir,
			  int *lock_fd);
/* The read-only roots a job child may read: Python, torch, pyhelpers. */
const char *const *supervise_ro_roots(const struct supervisor *s);

#endif
