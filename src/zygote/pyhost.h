/* pyhost.h - the only code that talks to CPython.
 *
 * Used by the zygote (interpreter start-up, warm-up, fork bracketing) and by
 * its job children (running one phase of the trusted pyhelpers code).  The
 * supervisor never links against any of this at run time. */
#ifndef AEGIS_PYHOST_H
#define AEGIS_PYHOST_H

#include <stddef.h>

/* Start the interpreter: isolated PyConfig, explicit module search path
 * (stdlib, lib-dynload, the torch installation, PYHELPERS_DIR), the audit
 * hook added before Py_InitializeFromConfig.  Returns 0 or -1 with ERR. */
int pyhost_init(const char *pyhelpers_dir, char *err, size_t errlen);
/* Import torch and the trusted helpers, pin torch to one thread.  Never
 * runs an OpenMP region.  0 or -1 with ERR. */
/* RUNTIME gets warm()'s description of the runtime, a JSON object:
 * {"python": "3.11.7", "torch": "2.13.0+cpu", "format": "torchscript"}. */
int pyhost_warm(char *runtime, size_t runtime_len, char *err, size_t errlen);
/* Number of threads this process has (to prove the zygote forks safely). */
int pyhost_thread_count(void);
/* Bracket fork() as CPython requires. */
void pyhost_before_fork(void);
void pyhost_after_fork_parent(void);
void pyhost_after_fork_child(void);
/* In a confined job child: run aegis_job.run(REQUEST).  The helpers write
 * their report lines to JOB_FD_REPORT.  Returns the exit code to _exit()
 * with; never returns through Python finalization. */
int pyhost_run_job(const char *request, size_t len);

#endif
