/* cli.h - the aegis-sandbox command line. */
#ifndef AEGIS_CLI_H
#define AEGIS_CLI_H

/* Dispatch ARGV; returns the process exit code (aegis-sandbox(1)). */
int cli_main(int argc, char **argv);

#endif
