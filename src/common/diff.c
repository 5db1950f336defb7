/* diff.c - see diff.h.
 *
 * Myers' greedy algorithm ("An O(ND) Difference Algorithm and Its
 * Variations", 1986) on lines, after the common prefix and suffix are cut
 * off.  It keeps the furthest-reaching paths of every edit distance d to
 * walk back along, 2d + 1 of them per step: memory grows with the square
 * of the number of changed lines, not with the product of the two file
 * lengths.  Past MAX_D changed lines (two unrelated files) it stops and
 * replaces the whole middle: still a correct diff, no longer a minimal one.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/diff.h"
#include "common/sbuf.h"
#include "common/util.h"

#define MAX_D 1000

struct line {
	const char *s;
	size_t len; /* without the newline */
	uint64_t hash;
	bool nl; /* ends in a newline */
};

enum op { OP_EQ, OP_DEL, OP_INS };

static struct line *split_lines(const char *text, size_t *n)
{
	struct line *v = NULL;
	size_t cap = 0;

	*n = 0;
	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		uint64_t h = 1469598103934665603ull; /* FNV-1a */

		for (size_t i = 0; i < len; i++)
			h = (h ^ (unsigned char)l[i]) * 1099511628211ull;
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[(*n)++] = (struct line){.s = l, .len = len, .hash = h, .nl = nl != NULL};
		l = nl ? nl + 1 : NULL;
	}
	return v;
}

static bool same(const struct line *a, const struct line *b)
{
	return a->hash == b->hash && a->len == b->len && a->nl == b->nl && !memcmp(a->s, b->s, a->len);
}

/* The edit script turning A[0..n) into B[0..m) (both already without a
 * common prefix or suffix), appended to OPS (in order). */
static void myers(const struct line *a, size_t n, const struct line *b, size_t m, enum op **ops, size_t *nops,
		  size_t *cap)
{
	long max = (long)(n + m), off, d, found = -1;
	long **trace;
	long *v;

#define PUSH(o)                                                                                                        \
	do {                                                                                                           \
		if (*nops == *cap) {                                                                                   \
			*cap = *cap ? 2 * *cap : 256;                                                                  \
			*ops = xrealloc(*ops, *cap * sizeof(**ops));                                                   \
		}                                                                                                      \
		(*ops)[(*nops)++] = (o);                                                                               \
	} while (0)

	if (max == 0)
		return;
	if (max > 2 * MAX_D)
		max = 2 * MAX_D;
	off = max + 1;
	trace = xcalloc((size_t)max + 1, sizeof(*trace));
	v = xcalloc(2 * (size_t)off + 1, sizeof(*v));
	for (d = 0; d <= max && d <= MAX_D; d++) {
		for (long k = -d; k <= d; k += 2) {
			long x, y;

			if (k == -d || (k != d && v[off + k - 1] < v[off + k + 1]))
				x = v[off + k + 1]; /* down: an insertion */
			else
				x = v[off + k - 1] + 1; /* right: a deletion */
			y = x - k;
			while (x < (long)n && y < (long)m && same(&a[x], &b[y]))
				x++, y++;
			v[off + k] = x;
			if (x >= (long)n && y >= (long)m) {
				found = d;
				break;
			}
		}
		/* the furthest points of step d, for the walk back */
		trace[d] = xmalloc((2 * (size_t)d + 1) * sizeof(long));
		for (long k = -d; k <= d; k++)
			trace[d][k + d] = v[off + k];
		if (found >= 0)
			break;
	}
	if (found < 0) {
		/* too many changes for a minimal script: replace it all */
		for (size_t i = 0; i < n; i++)
			PUSH(OP_DEL);
		for (size_t j = 0; j < m; j++)
			PUSH(OP_INS);
	} else {
		/* walk back from (n, m), collecting the script reversed */
		enum op *rev = xmalloc((n + m + 1) * sizeof(*rev));
		size_t nrev = 0;
		long x = (long)n, y = (long)m;

		for (d = found; d > 0; d--) {
			long k = x - y, pk, px, py;
			const long *pv = trace[d - 1]; /* indexed k + (d - 1) */

			if (k == -d || (k != d && pv[k - 1 + d - 1] < pv[k + 1 + d - 1]))
				pk = k + 1;
			else
				pk = k - 1;
			px = pv[pk + d - 1];
			py = px - pk;
			while (x > px + (pk == k - 1) && y > py + (pk == k + 1)) {
				rev[nrev++] = OP_EQ;
				x--, y--;
			}
			if (pk == k + 1) {
				rev[nrev++] = OP_INS;
				y--;
			} else {
				rev[nrev++] = OP_DEL;
				x--;
			}
		}
		while (x > 0 && y > 0) {
			rev[nrev++] = OP_EQ;
			x--, y--;
		}
		while (nrev)
			PUSH(rev[--nrev]);
		free(rev);
	}
	for (long i = 0; i <= max; i++)
		free(trace[i]);
	free(trace);
	free(v);
#undef PUSH
}

/* "@@ -START,COUNT" as diff -u writes it: COUNT 1 is left out, and an
 * empty range starts at the line before it. */
static void range(struct sbuf *out, char sign, size_t start, size_t count)
{
	if (count == 0)
		sbuf_addf(out, "%c%zu,0", sign, start);
	else if (count == 1)
		sbuf_addf(out, "%c%zu", sign, start + 1);
	else
		sbuf_addf(out, "%c%zu,%zu", sign, start + 1, count);
}

static void emit_line(struct sbuf *out, char mark, const struct line *l)
{
	sbuf_addc(out, mark);
	sbuf_add(out, l->s, l->len);
	sbuf_addc(out, '\n');
	if (!l->nl)
		sbuf_adds(out, "\\ No newline at end of file\n");
}

char *diff_unified(const char *a, const char *b, const char *name_a, const char *name_b, int context)
{
	struct sbuf out = SBUF_INIT;
	size_t na, nb, pre = 0, suf = 0, nops = 0, cap = 0;
	struct line *la = split_lines(a, &na), *lb = split_lines(b, &nb);
	enum op *ops = NULL;

	while (pre < na && pre < nb && same(&la[pre], &lb[pre]))
		pre++;
	while (suf < na - pre && suf < nb - pre && same(&la[na - 1 - suf], &lb[nb - 1 - suf]))
		suf++;
	if (pre == na && pre == nb)
		goto out; /* no difference: no output, as diff -u */
	cap = na + nb + 1;
	ops = xmalloc(cap * sizeof(*ops));
	for (size_t i = 0; i < pre; i++)
		ops[nops++] = OP_EQ;
	myers(la + pre, na - pre - suf, lb + pre, nb - pre - suf, &ops, &nops, &cap);
	for (size_t i = 0; i < suf; i++) {
		if (nops == cap) {
			cap *= 2;
			ops = xrealloc(ops, cap * sizeof(*ops));
		}
		ops[nops++] = OP_EQ;
	}
	sbuf_addf(&out, "--- %s\n+++ %s\n", name_a, name_b);
	/* hunks: each change with CONTEXT equal lines around it; changes
	 * closer than 2 * CONTEXT share a hunk */
	for (size_t i = 0, x = 0, y = 0; i < nops;) {
		size_t start, end, hx, hy, cx = 0, cy = 0, eq_run;

		if (ops[i] == OP_EQ) {
			i++, x++, y++;
			continue;
		}
		/* back up CONTEXT equal lines */
		start = i;
		hx = x;
		hy = y;
		for (int c = 0; c < context && start > 0 && ops[start - 1] == OP_EQ; c++)
			start--, hx--, hy--;
		/* forward to the end of the hunk: it ends where more than
		 * 2 * CONTEXT equal lines follow a change */
		end = i;
		eq_run = 0;
		while (end < nops) {
			if (ops[end] == OP_EQ) {
				if (eq_run == 2 * (size_t)context)
					break;
				eq_run++;
			} else {
				eq_run = 0;
			}
			end++;
		}
		/* [start, end) ends in EQ_RUN equal lines: keep CONTEXT */
		if (eq_run > (size_t)context)
			end -= eq_run - (size_t)context;
		for (size_t j = start; j < end; j++) {
			if (ops[j] != OP_INS)
				cx++;
			if (ops[j] != OP_DEL)
				cy++;
		}
		sbuf_adds(&out, "@@ ");
		range(&out, '-', hx, cx);
		sbuf_addc(&out, ' ');
		range(&out, '+', hy, cy);
		sbuf_adds(&out, " @@\n");
		for (size_t j = start, ox = hx, oy = hy; j < end; j++) {
			if (ops[j] == OP_EQ)
				emit_line(&out, ' ', &la[ox++]), oy++;
			else if (ops[j] == OP_DEL)
				emit_line(&out, '-', &la[ox++]);
			else
				emit_line(&out, '+', &lb[oy++]);
		}
		/* continue after the hunk */
		for (; i < end; i++) {
			if (ops[i] != OP_INS)
				x++;
			if (ops[i] != OP_DEL)
				y++;
		}
	}
out:
	free(ops);
	free(la);
	free(lb);
	return sbuf_detach(&out, NULL);
}
