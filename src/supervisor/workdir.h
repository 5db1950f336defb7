/* workdir.h - a job's work directory: made private, sized, owned by the
 * job's uid, locked while its owner lives, removed without a trace. */
#ifndef AEGIS_WORKDIR_H
#define AEGIS_WORKDIR_H

#include <stdbool.h>
#include <sys/types.h>

#include "policy/policy.h"

/* Make a private work directory under the policy's base (as root a tmpfs
 * of limits.workdir_mb when TMPFS, else a plain directory the job's uid
 * owns: one a caller keeps must outlive us as an ordinary directory); the path is the
 * caller's, and so is *LOCK_FD, an fd holding an flock on the directory
 * (the mark of a live owner; close it after removing the directory).
 * NULL with ERR on failure. */
char *workdir_make(const struct policy *pol, bool tmpfs, int *lock_fd, char *err, size_t errlen);
/* When the supervisor is root: the uid and gid job children run as
 * (sandbox.uid/gid), and true.  Else false: jobs keep the caller's. */
bool workdir_owner(const struct policy *pol, uid_t *uid, gid_t *gid);
/* Give PATH (a file the supervisor put into a work directory) to the
 * job's uid when the supervisor is root.  0 or -errno. */
int workdir_give(const struct policy *pol, const char *path);
/* Whether the job in the work directory PATH hit limits.workdir_mb: a
 * tmpfs that is full (of bytes or of inodes), or, where the supervisor
 * could not mount one, a tree larger than the limit. */
bool workdir_full(const struct policy *pol, const char *path);
/* The end of a work directory made by workdir_make: remove it
 * (unless KEEP), then close LOCK_FD (the mark of its live owner) and free
 * PATH.  Accepts NULL and -1. */
void workdir_drop(char *path, int lock_fd, bool keep);
/* Remove work directories that no live supervisor holds locked. */
void workdir_reclaim(const struct policy *pol);

#endif
