/* init.h - running as PID 1 of a pid namespace (a container's entrypoint).
 *
 * PID 1 inherits every orphan of its namespace, and the kernel drops any
 * signal PID 1 has no handler for (so `docker stop`'s SIGTERM would do
 * nothing).  init_if_pid1() makes aegis-sandbox behave there: PID 1 forks
 * the real program, forwards the termination signals to it, reaps every
 * process that ends (its own child and adopted orphans alike) and exits
 * with the program's status.  The program itself then runs as PID 2 with
 * a living parent, as everywhere else (the approach of tini and
 * `docker run --init`). */
#ifndef AEGIS_INIT_H
#define AEGIS_INIT_H

/* Returns in the real program (PID 2, or any PID but 1, at once); as
 * PID 1 never returns. */
void init_if_pid1(void);

#endif
