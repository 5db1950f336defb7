/* poolcmd.h - the "pool" and "approvals" commands. */
#ifndef AEGIS_CLI_POOLCMD_H
#define AEGIS_CLI_POOLCMD_H

#include <stdbool.h>

/* "pool VERB ..." or, with APPROVALS, "approvals VERB ..."; ARGV[0] is the
 * command.  Returns the exit code. */
int poolcmd_main(int argc, char **argv, bool approvals);

#endif
