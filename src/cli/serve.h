/* serve.h - "batch" and "serve": many candidates through one warm zygote. */
#ifndef AEGIS_SERVE_H
#define AEGIS_SERVE_H

#include <stdbool.h>

/* The batch (BATCH) or serve command; ARGV[0] is the command name.
 * Returns the exit code. */
int serve_main(int argc, char **argv, bool batch);

#endif
