/* workdir.c - see workdir.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "supervisor/workdir.h"

#define TMPFS_MAGIC_ 0x01021994

static const char *workdir_base(const struct policy *pol)
{
	const char *t;

	if (pol->sandbox.workdir_base && *pol->sandbox.workdir_base)
		return pol->sandbox.workdir_base;
	t = getenv("TMPDIR");
	return t && *t == '/' ? t : "/tmp";
}

bool workdir_owner(const struct policy *pol, uid_t *uid, gid_t *gid)
{
	if (geteuid() != 0)
		return false;
	*uid = (uid_t)pol->sandbox.uid;
	*gid = (gid_t)pol->sandbox.gid;
	return true;
}

int workdir_give(const struct policy *pol, const char *path)
{
	uid_t uid;
	gid_t gid;

	if (!workdir_owner(pol, &uid, &gid))
		return 0;
	return lchown(path, uid, gid) < 0 ? -errno : 0;
}

/* As root, the work directory is a tmpfs of limits.workdir_mb, owned by
 * the job's uid: the sum of everything a job writes is bounded (RLIMIT_FSIZE
 * bounds one file), its pages are charged to the job's memory cgroup
 * instead of being nobody's page cache, and unmounting it removes any tree
 * at once.  Where mounting is not allowed (a container without
 * CAP_SYS_ADMIN) the directory is only given to the job's uid. */
static void mount_tmpfs(const struct policy *pol, const char *path, bool tmpfs)
{
	uid_t uid;
	gid_t gid;
	char opts[160];

	if (!workdir_owner(pol, &uid, &gid))
		return;
	if (!tmpfs) {
		if (chown(path, uid, gid) < 0)
			warnx_("cannot give the work directory %s to uid %lu: %s", path, (unsigned long)uid,
			       strerror(errno));
		return;
	}
	snprintf(opts, sizeof(opts), "size=%ldm,nr_inodes=%ld,mode=0700,uid=%lu,gid=%lu", pol->limits.workdir_mb,
		 pol->limits.workdir_mb * 64 < 4096 ? 4096 : pol->limits.workdir_mb * 64, (unsigned long)uid,
		 (unsigned long)gid);
	if (mount("aegis-work", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) == 0)
		return;
	if (chown(path, uid, gid) < 0)
		warnx_("cannot give the work directory %s to uid %lu: %s", path, (unsigned long)uid, strerror(errno));
}

bool workdir_full(const struct policy *pol, const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf) < 0)
		return false;
	if (sf.f_type != TMPFS_MAGIC_) {
		/* not ours to bound while it runs (an unprivileged supervisor
		 * cannot mount): measured now, after the job */
		unsigned long long used;

		return util_du(path, &used) == 0 && used > (unsigned long long)pol->limits.workdir_mb << 20;
	}
	/* full: under 1% or 64 KiB of its blocks left, or no inode */
	return (unsigned long long)sf.f_bavail * (unsigned long long)sf.f_bsize <
		   ((unsigned long long)sf.f_blocks * sf.f_bsize / 100 > 65536
			? 65536
			: (unsigned long long)sf.f_blocks * sf.f_bsize / 100) ||
	       sf.f_ffree == 0;
}

char *workdir_make(const struct policy *pol, bool tmpfs, int *lock_fd, char *err, size_t errlen)
{
	char *tmpl = xasprintf("%s/aegis-%ld-XXXXXX", workdir_base(pol), (long)getpid());

	*lock_fd = -1;
	if (!mkdtemp(tmpl)) {
		snprintf(err, errlen, "cannot create a work directory under %s: %s", workdir_base(pol),
			 strerror(errno));
		free(tmpl);
		return NULL;
	}
	{
		/* canonical: the audit hook compares paths against it */
		char *canon = realpath(tmpl, NULL);

		if (canon) {
			free(tmpl);
			tmpl = canon;
		}
	}
	mount_tmpfs(pol, tmpl, tmpfs);
	/* locked after mounting: the lock is on what a reclaimer opens */
	*lock_fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*lock_fd < 0 || flock(*lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "cannot lock the work directory %s: %s", tmpl, strerror(errno));
		if (*lock_fd >= 0)
			close(*lock_fd);
		*lock_fd = -1;
		util_remove_workdir(tmpl);
		free(tmpl);
		return NULL;
	}
	return tmpl;
}

void workdir_drop(char *path, int lock_fd, bool keep)
{
	if (path && !keep) {
		int rc = util_remove_workdir(path);

		if (rc < 0)
			warnx_("cannot remove the work directory %s: %s", path, strerror(-rc));
	}
	if (lock_fd >= 0)
		close(lock_fd);
	free(path);
}

/* Work directories are named after the supervisor's pid for people, but a
 * live owner is known by the flock() it holds: pids are not unique across
 * pid namespaces, locks are.  A directory younger than a few seconds may
 * be one whose owner has not taken the lock yet. */
void workdir_reclaim(const struct policy *pol)
{
	const char *base = workdir_base(pol);
	DIR *d = opendir(base);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		long pid;
		char *end, *path;
		struct stat st;
		int fd;

		if (strncmp(de->d_name, "aegis-", 6))
			continue;
		pid = strtol(de->d_name + 6, &end, 10);
		if (end == de->d_name + 6 || *end != '-' || pid <= 0 || strlen(end) != 7)
			continue;
		path = xasprintf("%s/%s", base, de->d_name);
		/* only our own directories (given to the job's uid when root),
		 * never another user's */
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
		    (st.st_uid == geteuid() || (geteuid() == 0 && st.st_uid == (uid_t)pol->sandbox.uid)) &&
		    time(NULL) - st.st_mtime > 5) {
			fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
				int rc = util_remove_workdir(path);

				if (rc < 0)
					warnx_("cannot remove the stale work directory %s: %s", path, strerror(-rc));
			}
			if (fd >= 0)
				close(fd);
		}
		free(path);
	}
	closedir(d);
}
