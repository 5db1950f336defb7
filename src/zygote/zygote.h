/* zygote.h - the zygote: an embedded CPython with torch imported once,
 * which forks a fresh job child per request and never runs candidate code.
 * It speaks the control protocol of proto/ctl.h. */
#ifndef AEGIS_ZYGOTE_H
#define AEGIS_ZYGOTE_H

#include <stddef.h>

/* Run the zygote on the N control sockets CTLS (one per supervisor worker;
 * each gets the ready message, and its jobs' exits).  When a channel
 * closes, the jobs that came from it are killed and cleaned up; when all
 * have closed, the zygote exits.  Never returns. */
__attribute__((noreturn)) void zygote_main(const int *ctls, size_t n, const char *pyhelpers_dir);

#endif
