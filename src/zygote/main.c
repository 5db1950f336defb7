/* zygote-main.c - aegis-zygote: the zygote as a program of its own.
 *
 * The supervisor forks and execs this with a scrubbed (empty) environment:
 *
 *     aegis-zygote PYHELPERS_DIR CTL_FD...
 *
 * one control socket per supervisor worker, inherited across exec.
 * Everything else is zygote_main() (zygote.c), the same code the
 * supervisor runs in-process when this program is missing.  It is a
 * separate program only so that it can be linked with the static libpython
 * (configure.ac says why); it is not meant to be run by hand.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "zygote/zygote.h"

int main(int argc, char **argv)
{
	int fds[64];
	size_t n = 0;

	if (argc < 3 || argc - 2 > (int)(sizeof(fds) / sizeof(fds[0]))) {
		fprintf(stderr, "aegis-zygote: started by aegis-sandbox, not by hand\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		char *end;
		long v;

		errno = 0;
		v = strtol(argv[i], &end, 10);
		if (errno || end == argv[i] || *end || v < 3 || v > 1 << 20) {
			fprintf(stderr, "aegis-zygote: bad control descriptor '%s'\n", argv[i]);
			return 2;
		}
		fds[n++] = (int)v;
	}
	zygote_main(fds, n, argv[1]);
}
