/* main.c - entry point; everything happens in cli.c. */
#include "config.h"

#include "cli/cli.h"
#include "supervisor/init.h"

int main(int argc, char **argv)
{
	/* as a container's entrypoint: reap orphans, forward signals */
	init_if_pid1();
	return cli_main(argc, argv);
}
