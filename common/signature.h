/*  signature: the original Hamustro's request signature and session id
    (ARCHITECTURE section 2).
      signature = base64(sha256(time + "|" + md5hex(body) + "|" + secret))
      session   = md5hex(device_id:client_id:system_version:product_version:env) */
#ifndef HM_SIGNATURE_H
#define HM_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>

/* out: 45 bytes (44 chars of base64 + NUL). */
void hm_signature (const void *body, size_t body_len, const char *time, const char *secret,
                   char out[45]);
/* True when signature (as received) matches; compared in constant time. */
bool hm_signature_ok (const void *body, size_t body_len, const char *time, const char *secret,
                      const char *signature);
/* out: 33 bytes of lowercase hex + NUL. env is the Environment number. */
void hm_session (const char *device_id, const char *client_id, const char *system_version,
                 const char *product_version, int env, char out[33]);
/* The same over (data, len) values, which may hold NUL bytes (hashed as
   they are, as Go's Sprintf did): device_id, client_id, system_version,
   product_version. */
void hm_session_n (const char *const parts[4], const size_t lens[4], int env, char out[33]);

#endif
