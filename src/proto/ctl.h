/* ctl.h - the contract between the supervisor, the zygote and job children.
 *
 * Everything that crosses a process boundary inside aegis-sandbox is named
 * here or in proto/job.h; doc/architecture.md draws the picture.
 *
 * Control channel: one SOCK_SEQPACKET pair per supervisor worker, created
 * by the supervisor; no job child ever holds either end.  One message is
 * one JSON object (at most CTL_MSG_MAX bytes), with up to 8 fds in
 * SCM_RIGHTS:
 *
 *   zygote -> supervisor  {"op":"ready","protocol":P,"threads":N,"warm_s":S}
 *                         {"op":"fatal","error":"..."}
 *   supervisor -> zygote  {"op":"job","id":N,"job":{...},"request":{...}}
 *                         with [stdout_w, stderr_w, report_w(, hold_r)]
 *                         (the "job" object: proto/job.h)
 *                         {"op":"bye"}
 *   zygote -> supervisor  {"op":"started","id":N,"pid":P}
 *                         {"op":"failed","id":N,"error":"..."}
 *                         {"op":"exited","id":N,"pid":P,"status":W,
 *                          "cpu_s":C,"maxrss_kb":K}
 *
 * P is CTL_PROTOCOL: a supervisor refuses a zygote program that speaks
 * another one (a stale install, a copy from another build).
 *
 * When a supervisor's end closes (it exited, or was killed), the zygote
 * SIGKILLs every job that supervisor started, reaps them, and removes their
 * work directories and cgroups; when every end has closed it exits. */
#ifndef AEGIS_PROTO_CTL_H
#define AEGIS_PROTO_CTL_H

#include <stddef.h>

#define CTL_MSG_MAX (256 * 1024)
/* Bumped with every change to a message or to the job object's layout. */
#define CTL_PROTOCOL PACKAGE_VERSION "/2"

/* Send / receive one message with up to NFDS fds (8 at most).  0 or
 * -errno; recv returns -EPIPE at end of stream and -EMSGSIZE for a
 * message longer than CAP - 1.  Received fds are close-on-exec; BUF is
 * NUL-terminated. */
int ctl_send(int sock, const char *msg, size_t len, const int *fds, size_t nfds);
int ctl_recv(int sock, char *buf, size_t cap, size_t *len, int *fds, size_t *nfds);

#endif
