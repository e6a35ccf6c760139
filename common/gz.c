/*  gz: gzip a buffer in one go with zlib, and the inverse.

    Objects and files are written whole, so there is no streaming API: the
    output is a standard gzip member (RFC 1952; deflateInit2 with
    windowBits 15 + 16) that gunzip, S3 and Azure clients all read. Both
    directions respect the output buffer's bound and fail cleanly past it,
    which is what keeps hm_gunzip safe on untrusted input. */
#include "gz.h"

#include <stdbool.h>
#include <string.h>
#include <zlib.h>

#define S_GZIP_WINDOW (15 + 16)
/* Z_BEST_SPEED, not zlib's default 6: measured on a batch of the bench's
   JSON lines (4.9 MB), level 1 takes 16 ms and gives 616 KB, level 6 takes
   38 ms for 482 KB; the sinks share two cores with the rest of the
   pipeline, so 2.4x less CPU is worth 28% more bytes. Only the gzip container's bytes change (they
   never matched the original's Go output anyway); what gunzip gives back is the same. */
#define S_GZIP_LEVEL Z_BEST_SPEED
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

/* Runs zs (set up for deflate or inflate) over all of data into out.
   Deflating finishes the stream once the input is fed and tolerates
   Z_BUF_ERROR (no progress possible this call); inflating fails on it,
   since with room to write it means the input ended inside the member. */
static int
s_pump (z_stream *zs, bool deflating, const void *data, size_t len, hm_buf_t *out)
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
        rc = deflating ? deflate (zs, left == 0 ? Z_FINISH : Z_NO_FLUSH) : inflate (zs, Z_NO_FLUSH);
        out->len += before - zs->avail_out;
        out->data[out->len] = '\0';
        if (rc != Z_OK && rc != Z_STREAM_END && !(deflating && rc == Z_BUF_ERROR))
            return -1;
    }
    /* Trailing bytes after the gzip member are not ours to ignore. */
    return zs->avail_in != 0 || left != 0 ? -1 : 0;
}

int
hm_gzip (const void *data, size_t len, hm_buf_t *out)
{
    size_t mark = out->len;
    z_stream zs;
    memset (&zs, 0, sizeof zs);
    if (deflateInit2 (&zs, S_GZIP_LEVEL, Z_DEFLATED, S_GZIP_WINDOW, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    int rc = s_pump (&zs, true, data, len, out);
    deflateEnd (&zs);
    if (rc != 0)
        s_rollback (out, mark);
    return rc;
}

int
hm_gunzip (const void *data, size_t len, hm_buf_t *out)
{
    size_t mark = out->len;
    z_stream zs;
    memset (&zs, 0, sizeof zs);
    if (inflateInit2 (&zs, S_GZIP_WINDOW) != Z_OK)
        return -1;
    int rc = s_pump (&zs, false, data, len, out);
    inflateEnd (&zs);
    if (rc != 0)
        s_rollback (out, mark);
    return rc;
}
