/*  digest: the hashes and encodings the client protocol and the log need,
    on OpenSSL and zlib. Pure functions, no state. */
#ifndef HM_DIGEST_H
#define HM_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* out: 33 bytes, lowercase hex + NUL */
void hm_md5_hex (const void *data, size_t len, char out[33]);
/* out: 32 raw bytes */
void hm_sha256 (const void *data, size_t len, uint8_t out[32]);
/* out: 65 bytes, lowercase hex + NUL */
void hm_sha256_hex (const void *data, size_t len, char out[65]);
/* Standard base64 with padding; out must hold 4*((len+2)/3)+1 bytes. Returns length. */
size_t hm_base64_encode (const void *data, size_t len, char *out);
/* Returns decoded length or -1 on invalid input; out must hold len*3/4+3 bytes. */
long hm_base64_decode (const char *in, size_t len, uint8_t *out);
/* Constant-time equality of two strings (time depends only on lengths). */
bool hm_const_eq (const char *a, size_t alen, const char *b, size_t blen);
/* CRC-32C (Castagnoli) for log records; crc is the running value, start with 0. */
uint32_t hm_crc32c (uint32_t crc, const void *data, size_t len);

#endif
