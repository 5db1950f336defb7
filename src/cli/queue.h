/* queue.h - "submit" and "worker": a work queue in the pool. */
#ifndef AEGIS_CLI_QUEUE_H
#define AEGIS_CLI_QUEUE_H

/* The submit and worker commands; ARGV[0] is the command name.  The exit
 * code. */
int submit_main(int argc, char **argv);
int worker_main(int argc, char **argv);

#endif
