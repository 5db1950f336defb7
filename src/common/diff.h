/* diff.h - a unified diff of two texts, line by line. */
#ifndef AEGIS_DIFF_H
#define AEGIS_DIFF_H

/* The unified diff ("diff -u" format) turning A into B, with CONTEXT
 * lines of context around each change, under the header names NAME_A and
 * NAME_B; "" when the texts are the same.  A text whose last line has no
 * newline gets diff's "\ No newline at end of file".  The caller's. */
char *diff_unified(const char *a, const char *b, const char *name_a, const char *name_b, int context);

#endif
