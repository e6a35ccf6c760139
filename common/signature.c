/*  signature: the original Hamustro's request signature and session id.

    Both are part of the client protocol (ARCHITECTURE section 2), so the
    exact bytes hashed matter more than anything else here: the signature
    covers "time|md5hex(body)|secret" and the session is the md5 of the
    colon-joined collection fields with env as its decimal number. */
#include "signature.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

void
hm_signature (const void *body, size_t body_len, const char *time, const char *secret, char out[45])
{
    char body_md5[33];
    hm_md5_hex (body, body_len, body_md5);

    /* The time comes from a header and the secret from config: their length
       is not bounded here, so long ones go to the heap. */
    size_t tlen = strlen (time);
    size_t slen = strlen (secret);
    size_t len = tlen + 1 + 32 + 1 + slen;
    char stack[256];
    char *text = len <= sizeof stack ? stack : malloc (len);
    uint8_t digest[32];
    if (!text) {
        /* Out of memory: produce a value no client can match. */
        out[0] = '\0';
        return;
    }
    memcpy (text, time, tlen);
    text[tlen] = '|';
    memcpy (text + tlen + 1, body_md5, 32);
    text[tlen + 33] = '|';
    memcpy (text + tlen + 34, secret, slen);
    hm_sha256 (text, len, digest);
    if (text != stack)
        free (text);
    hm_base64_encode (digest, sizeof digest, out);
}

bool
hm_signature_ok (const void *body, size_t body_len, const char *time, const char *secret,
                 const char *signature)
{
    if (!time || !secret || !signature)
        return false;
    char expected[45];
    hm_signature (body, body_len, time, secret, expected);
    if (expected[0] == '\0')
        return false;
    return hm_const_eq (expected, strlen (expected), signature, strlen (signature));
}

void
hm_session (const char *device_id, const char *client_id, const char *system_version,
            const char *product_version, int env, char out[33])
{
    const char *parts[4] = {device_id, client_id, system_version, product_version};
    size_t lens[4];
    for (size_t i = 0; i < 4; i++)
        lens[i] = parts[i] ? strlen (parts[i]) : 0;
    hm_session_n (parts, lens, env, out);
}

void
hm_session_n (const char *const parts_in[4], const size_t lens_in[4], int env, char out[33])
{
    char env_text[16];
    int env_len = snprintf (env_text, sizeof env_text, "%d", env);
    const char *parts[5];
    size_t lens[5];
    for (size_t i = 0; i < 4; i++) {
        parts[i] = parts_in[i] && lens_in[i] ? parts_in[i] : "";
        lens[i] = parts_in[i] ? lens_in[i] : 0;
    }
    parts[4] = env_text;
    lens[4] = env_len > 0 ? (size_t)env_len : 0;
    size_t n = sizeof parts / sizeof parts[0];
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += lens[i] + 1;

    char stack[512];
    char *text = len <= sizeof stack ? stack : malloc (len);
    if (!text) {
        out[0] = '\0';
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            text[o++] = ':';
        memcpy (text + o, parts[i], lens[i]);
        o += lens[i];
    }
    hm_md5_hex (text, o, out);
    if (text != stack)
        free (text);
}
