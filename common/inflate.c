/*  inflate: see inflate.h.

    "deflate" in HTTP means the zlib format (RFC 9110 8.4.1.2), but some
    clients have always sent raw deflate, so, as browsers and curl do, a
    body whose first two bytes are not a valid zlib header is read as raw
    deflate. A wrong guess cannot pass silently: raw deflate read as zlib
    fails zlib's Adler-32 check, and either kind read wrongly is a 400. */
#include "inflate.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define S_GZIP_WINDOW (15 + 16) /* gzip wrapper only */
#define S_ZLIB_WINDOW 15        /* zlib wrapper */
#define S_RAW_WINDOW (-15)      /* no wrapper */
/* The output grows by at most this much per call of inflate, so a body
   that stops short of the bound never costs more than its size plus this. */
#define S_CHUNK (64u << 10)

hm_coding_t
hm_inflate_coding (const char *value)
{
    if (!value)
        return HM_CODING_IDENTITY;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen (value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    static const struct {
        const char *name;
        hm_coding_t coding;
    } table[] = {
        {"", HM_CODING_IDENTITY},   {"identity", HM_CODING_IDENTITY}, {"gzip", HM_CODING_GZIP},
        {"x-gzip", HM_CODING_GZIP}, {"deflate", HM_CODING_DEFLATE},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strlen (table[i].name) == n && strncasecmp (value, table[i].name, n) == 0)
            return table[i].coding;
    return HM_CODING_UNSUPPORTED;
}

/* RFC 1950: method 8 (deflate), window at most 32 KiB, and the check bits
   that make the first two bytes, big-endian, a multiple of 31. */
static bool
s_zlib_header (const uint8_t *p, size_t len)
{
    return len >= 2 && (p[0] & 0x0f) == 8 && (p[0] >> 4) <= 7 && ((p[0] << 8) | p[1]) % 31 == 0;
}

static hm_inflate_rc_t
s_fail (hm_inflate_rc_t rc, char *err, size_t errlen, const char *what, const char *detail)
{
    if (err && errlen)
        snprintf (err, errlen, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    return rc;
}

/* The loop: feeds the input in 32-bit slices, grows out a chunk at a time
   up to max_out + 1 bytes, and starts a new member after each gzip one. */
static hm_inflate_rc_t
s_run (z_stream *zs, hm_coding_t coding, const uint8_t *in, size_t len, size_t max_out,
       hm_buf_t *out, size_t *fed_p, char *err, size_t errlen)
{
    const char *name = coding == HM_CODING_GZIP ? "gzip body" : "deflate body";
    size_t left = len;
    *fed_p = 0;
    while (true) {
        if (zs->avail_in == 0 && left > 0) {
            size_t slice = left > UINT32_MAX ? UINT32_MAX : left;
            zs->next_in = (Bytef *)in;
            zs->avail_in = (uInt)slice;
            in += slice;
            left -= slice;
            *fed_p += slice;
        }
        size_t room = max_out + 1 - out->len;
        if (room == 0)
            return s_fail (HM_INFLATE_TOO_LARGE, err, errlen, name, "inflates past the bound");
        size_t want = room < S_CHUNK ? room : S_CHUNK;
        if (hm_buf_reserve (out, want) != 0)
            return s_fail (HM_INFLATE_NO_MEMORY, err, errlen, "out of memory", NULL);
        zs->next_out = (Bytef *)out->data + out->len;
        zs->avail_out = (uInt)want;
        int rc = inflate (zs, Z_NO_FLUSH);
        out->len += want - zs->avail_out;
        out->data[out->len] = '\0';
        if (out->len > max_out)
            return s_fail (HM_INFLATE_TOO_LARGE, err, errlen, name, "inflates past the bound");
        if (rc == Z_STREAM_END) {
            if (zs->avail_in == 0 && left == 0)
                return HM_INFLATE_OK;
            /* Concatenated gzip members are one body (as gunzip reads
               them); whatever follows must be another member. */
            if (coding != HM_CODING_GZIP)
                return s_fail (HM_INFLATE_BAD, err, errlen, name,
                               "bytes after the end of the stream");
            if (inflateReset (zs) != Z_OK)
                return s_fail (HM_INFLATE_BAD, err, errlen, name, "cannot start the next member");
            continue;
        }
        if (rc == Z_OK)
            continue;
        if (rc == Z_BUF_ERROR && zs->avail_in == 0 && left == 0)
            return s_fail (HM_INFLATE_BAD, err, errlen, name, "truncated");
        if (rc == Z_MEM_ERROR)
            return s_fail (HM_INFLATE_NO_MEMORY, err, errlen, "out of memory", NULL);
        if (rc == Z_NEED_DICT)
            return s_fail (HM_INFLATE_BAD, err, errlen, name, "needs a preset dictionary");
        return s_fail (HM_INFLATE_BAD, err, errlen, name, zs->msg ? zs->msg : "corrupt");
    }
}

hm_inflate_rc_t
hm_inflate (hm_coding_t coding, const void *in, size_t len, size_t max_out, hm_buf_t *out,
            size_t *consumed_p, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (consumed_p)
        *consumed_p = 0;
    hm_buf_reset (out);
    if (max_out >= SIZE_MAX - 1)
        max_out = SIZE_MAX - 2;
    out->limit = max_out + 1;
    if (coding != HM_CODING_GZIP && coding != HM_CODING_DEFLATE)
        return s_fail (HM_INFLATE_BAD, err, errlen, "not a compressed coding", NULL);
    const uint8_t *bytes = in ? in : (const uint8_t *)"";
    int window = coding == HM_CODING_GZIP     ? S_GZIP_WINDOW
                 : s_zlib_header (bytes, len) ? S_ZLIB_WINDOW
                                              : S_RAW_WINDOW;
    z_stream zs;
    memset (&zs, 0, sizeof zs);
    if (inflateInit2 (&zs, window) != Z_OK)
        return s_fail (HM_INFLATE_NO_MEMORY, err, errlen, "out of memory", NULL);
    size_t fed = 0;
    hm_inflate_rc_t rc = s_run (&zs, coding, bytes, len, max_out, out, &fed, err, errlen);
    if (consumed_p)
        *consumed_p = fed - zs.avail_in;
    inflateEnd (&zs);
    if (rc != HM_INFLATE_OK)
        hm_buf_reset (out);
    return rc;
}
