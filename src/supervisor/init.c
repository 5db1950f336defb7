/* init.c - see init.h. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/init.h"
#include "common/util.h"

/* The signals a container runtime or a terminal sends to stop or signal
 * the entrypoint; forwarded to the program. */
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

void init_if_pid1(void)
{
	sigset_t set, old;
	pid_t child;

	if (getpid() != 1)
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0)
		die("sigprocmask:");
	child = fork();
	if (child < 0)
		die("fork:");
	if (child == 0) {
		/* the program: the signal state it would have had; it dies with
		 * its init, which means with the namespace */
		if (sigprocmask(SIG_SETMASK, &old, NULL) < 0)
			die("sigprocmask:");
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		return;
	}
	for (;;) {
		int sig = 0, status;
		pid_t pid;

		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGCHLD) {
			(void)kill(child, sig);
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != child)
				continue; /* an adopted orphan: reaped, nothing more */
			if (WIFEXITED(status))
				_exit(WEXITSTATUS(status));
			_exit(128 + WTERMSIG(status));
		}
	}
}
