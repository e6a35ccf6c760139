/*  gz: gzip a buffer in one go, and the inverse.

    Objects and files are written whole, so there is no streaming API: the
    output is one standard gzip member (RFC 1952) that gunzip, S3 and Azure
    clients all read. Compressing uses libdeflate, which works on whole
    buffers only, exactly our case; gunzip stays on zlib's streaming inflate
    so that it can stop at the output buffer's bound on untrusted input.
    Both directions respect that bound and fail cleanly past it. */
#include "gz.h"

#include <libdeflate.h>
#include <string.h>
#include <zlib.h>

#define S_GZIP_WINDOW (15 + 16)
/* libdeflate at level 1, not zlib at level 1 (Z_BEST_SPEED): on a batch of
   the bench's JSON lines (4.97 MB, 9,991 events) zlib took 31 ms and gave
   613 KB, libdeflate 19 ms and 562 KB. The file sink spent ~40 % of its CPU
   in zlib on the bench's 1-25 events load (bench/RESULTS.md). Only the gzip
   container's bytes change (they never matched the original's Go output
   anyway); what gunzip gives back is the same. */
#define S_GZIP_LEVEL 1
#define S_CHUNK 65536

static void
s_rollback (hm_buf_t *out, size_t mark)
{
    out->len = mark;
    if (out->data)
        out->data[mark] = '\0';
}

/* Grows out by up to one chunk (less when near its limit) and points the
   stream's output at the free space. -1 when the bound leaves no room. */
static int
s_make_room (hm_buf_t *out, z_stream *zs)
{
    size_t limit = out->limit ? out->limit : SIZE_MAX - 1;
    size_t room = limit - out->len;
    if (room == 0)
        return -1;
    size_t want = room < S_CHUNK ? room : S_CHUNK;
    if (want > UINT32_MAX)
        want = UINT32_MAX;
    if (hm_buf_reserve (out, want) != 0)
        return -1;
    zs->next_out = (Bytef *)out->data + out->len;
    zs->avail_out = (uInt)want;
    return 0;
}

/* Inflates all of data into out. Z_BUF_ERROR fails: with room to write it
   means the input ended inside the member. */
static int
s_inflate_all (z_stream *zs, const void *data, size_t len, hm_buf_t *out)
{
    const Bytef *in = data;
    size_t left = len;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        /* avail_in is 32 bits: feed very large inputs in slices. */
        if (zs->avail_in == 0 && left > 0) {
            size_t slice = left > UINT32_MAX ? UINT32_MAX : left;
            zs->next_in = (Bytef *)in;
            zs->avail_in = (uInt)slice;
            in += slice;
            left -= slice;
        }
        if (s_make_room (out, zs) != 0)
            return -1;
        uInt before = zs->avail_out;
        rc = inflate (zs, Z_NO_FLUSH);
        out->len += before - zs->avail_out;
        out->data[out->len] = '\0';
        if (rc != Z_OK && rc != Z_STREAM_END)
            return -1;
    }
    /* Trailing bytes after the gzip member are not ours to ignore. */
    return zs->avail_in != 0 || left != 0 ? -1 : 0;
}

int
hm_gzip (const void *data, size_t len, hm_buf_t *out)
{
    size_t limit = out->limit ? out->limit : SIZE_MAX - 1;
    if (out->len >= limit)
        return -1;
    struct libdeflate_compressor *c = libdeflate_alloc_compressor (S_GZIP_LEVEL);
    if (!c)
        return -1;
    /* Room for the worst case, or all the bound allows: the output may still
       fit, and libdeflate says 0 when it does not. */
    size_t room = libdeflate_gzip_compress_bound (c, len);
    if (room > limit - out->len)
        room = limit - out->len;
    size_t n = 0;
    if (hm_buf_reserve (out, room) == 0)
        n = libdeflate_gzip_compress (c, data, len, out->data + out->len, room);
    libdeflate_free_compressor (c);
    if (n == 0) {
        if (out->data)
            out->data[out->len] = '\0';
        return -1;
    }
    out->len += n;
    out->data[out->len] = '\0';
    return 0;
}

int
hm_gunzip (const void *data, size_t len, hm_buf_t *out)
{
    size_t mark = out->len;
    z_stream zs;
    memset (&zs, 0, sizeof zs);
    if (inflateInit2 (&zs, S_GZIP_WINDOW) != Z_OK)
        return -1;
    int rc = s_inflate_all (&zs, data, len, out);
    inflateEnd (&zs);
    if (rc != 0)
        s_rollback (out, mark);
    return rc;
}
