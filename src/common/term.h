/* term.h - candidate-controlled text made safe for a terminal. */
#ifndef AEGIS_TERM_H
#define AEGIS_TERM_H

#include <stdbool.h>

/* S made safe to print on a terminal: C0 controls, DEL, C1 controls
 * (U+0080..U+009F), the bidirectional overrides of "Trojan Source" and
 * invalid UTF-8 are written as visible escapes (\x1b, \u202e); with
 * LINES, newline and tab stay as they are (code, diffs).  Every string a
 * candidate controls goes through this before a person sees it.  The
 * result lives in a per-thread ring of 8 buffers: valid until the 8th
 * next call on the thread, so one printf can take several.  NULL -> "". */
const char *util_term(const char *s, bool lines);

#endif
