/* zygote.h - the zygote: an embedded CPython with torch imported once,
 * which forks a fresh job child per request and never runs candidate code.
 *
 * Control protocol (one SOCK_SEQPACKET pair, created by the supervisor; no
 * job child ever holds either end):
 *
 *   zygote -> supervisor  {"op":"ready","threads":N,"warm_s":S}
 *                         {"op":"fatal","error":"..."}
 *   supervisor -> zygote  {"op":"job","id":N,"request":{...},"confine":{...}}
 *                         with SCM_RIGHTS [stdout_w, stderr_w, report_w]
 *   zygote -> supervisor  {"op":"started","id":N,"pid":P}
 *                         {"op":"failed","id":N,"error":"..."}
 *                         {"op":"exited","id":N,"pid":P,"status":W,
 *                          "cpu_s":C,"maxrss_kb":K}
 *
 * When a supervisor's end closes (it exited, or was killed), the zygote
 * SIGKILLs every job that supervisor started, reaps them, and removes their
 * work directories and cgroups; when every end has closed it exits.
 * Nothing is left behind. */
#ifndef AEGIS_ZYGOTE_H
#define AEGIS_ZYGOTE_H

#include <stddef.h>

#define ZYGOTE_MSG_MAX (256 * 1024)

/* Run the zygote on the N control sockets CTLS (one per supervisor worker;
 * each gets the ready message, and its jobs' exits).  When a channel
 * closes, the jobs that came from it are killed and cleaned up; when all
 * have closed, the zygote exits.  Never returns. */
__attribute__((noreturn)) void zygote_main(const int *ctls, size_t n, const char *pyhelpers_dir);

/* Send / receive one message with up to NFDS fds.  0 or -errno; recv
 * returns -EPIPE at end of stream.  Received fds are close-on-exec. */
int zygote_send(int sock, const char *msg, size_t len, const int *fds, size_t nfds);
int zygote_recv(int sock, char *buf, size_t cap, size_t *len, int *fds, size_t *nfds);

#endif
