/* sha256.h - FIPS 180-4 SHA-256, for code and policy digests. */
#ifndef AEGIS_SHA256_H
#define AEGIS_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t bytes;
	unsigned char block[64];
	size_t fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, unsigned char out[32]);
/* Digest of DATA as 64 lowercase hex digits plus NUL. */
void sha256_hex(const void *data, size_t len, char out[65]);
/* Whether S is a digest as sha256_hex writes it (64 lowercase hex digits). */
bool sha256_is_hex(const char *s);

#endif
