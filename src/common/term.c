/* term.c - see term.h. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "common/sbuf.h"
#include "common/term.h"

/* The length of the UTF-8 sequence at P (at most N bytes) and its code
 * point in *CP, or 0 when it is not valid UTF-8 (overlong, surrogate,
 * truncated, past U+10FFFF). */
static size_t utf8_decode(const unsigned char *p, size_t n, unsigned *cp)
{
	size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc0 ? 2 : 0;
	unsigned v;

	if (!len || len > n || p[0] > 0xf4)
		return 0;
	v = p[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

static bool term_hidden(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

const char *util_term(const char *s, bool lines)
{
	static __thread struct sbuf ring[8];
	static __thread unsigned next;
	struct sbuf *sb = &ring[next++ % 8];
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);

	sb->len = 0;
	sbuf_add(sb, "", 0);
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		unsigned cp;
		size_t len;

		if (c < 0x20 || c == 0x7f) {
			if (lines && (c == '\n' || c == '\t'))
				sbuf_addc(sb, (char)c);
			else if (c == '\n')
				sbuf_adds(sb, "\\n");
			else if (c == '\t')
				sbuf_adds(sb, "\\t");
			else
				sbuf_addf(sb, "\\x%02x", c);
			i++;
		} else if (c < 0x80) {
			sbuf_addc(sb, (char)c);
			i++;
		} else if ((len = utf8_decode(p + i, n - i, &cp)) == 0) {
			sbuf_addf(sb, "\\x%02x", c);
			i++;
		} else {
			if (term_hidden(cp))
				sbuf_addf(sb, "\\u%04x", cp);
			else
				sbuf_add(sb, p + i, len);
			i += len;
		}
	}
	return sbuf_str(sb);
}
