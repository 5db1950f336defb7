/* sbuf.h - a growable byte buffer, always NUL-terminated. */
#ifndef AEGIS_SBUF_H
#define AEGIS_SBUF_H

#include <stddef.h>

struct sbuf {
	char *buf;
	size_t len;
	size_t cap;
};

#define SBUF_INIT                                                                                                      \
	{                                                                                                              \
		NULL, 0, 0                                                                                             \
	}

void sbuf_add(struct sbuf *sb, const void *data, size_t len);
void sbuf_adds(struct sbuf *sb, const char *s);
void sbuf_addc(struct sbuf *sb, char c);
__attribute__((format(printf, 2, 3))) void sbuf_addf(struct sbuf *sb, const char *fmt, ...);
/* Hand the buffer to the caller (who frees it); SB is reset. */
char *sbuf_detach(struct sbuf *sb, size_t *len);
void sbuf_release(struct sbuf *sb);
/* Never NULL: "" for an empty buffer. */
const char *sbuf_str(const struct sbuf *sb);

#endif
