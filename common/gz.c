/*  gz: gzip a buffer in one go, and the inverse.

    Objects and files are written whole, so there is no streaming API: the
    output is one standard gzip member (RFC 1952) that gunzip, S3 and Azure
    clients all read. Compressing uses ISA-L's igzip on the whole buffer
    (libdeflate where igzip's output would not fit the bound: it knows the
    exact worst case); gunzip is the ingest's bounded inflate (inflate.c),
    which stops at the output buffer's bound on untrusted input. Both
    directions respect that bound and fail cleanly past it. */
#include "gz.h"

#include "inflate.h"

#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

/* libdeflate at level 1, not zlib at level 1 (Z_BEST_SPEED): on a batch of
   the bench's JSON lines (4.97 MB, 9,991 events) zlib took 31 ms and gave
   613 KB, libdeflate 19 ms and 562 KB. The file sink spent ~40 % of its CPU
   in zlib on the bench's 1-25 events load (bench/RESULTS.md). Only the gzip
   container's bytes change (they never matched the original's Go output
   anyway); what gunzip gives back is the same. */
#define S_GZIP_LEVEL 1
/* ISA-L igzip level 2 before libdeflate level 1 (issue #17): on a batch of
   the bench's JSON lines (4.88 MB, 9,891 events) libdeflate took 17.6 ms for
   556 KB, igzip level 2 5.4 ms for 572 KB (+3 %; level 1: 5.6 ms, 576 KB;
   level 3: 22.9 ms). Compression was ~38 % of the file sink's CPU. */
#define S_ISAL_LEVEL 2
#define S_ISAL_LEVEL_BUF ISAL_DEF_LVL2_DEFAULT
#define S_CHUNK 65536

/* igzip's stateless deflate of data into out's room (at most room bytes);
   the length written, or 0 when it did not fit or memory ran out. */
static size_t
s_isal_gzip (const void *data, size_t len, uint8_t *dst, size_t room)
{
    if (len > UINT32_MAX || room > UINT32_MAX)
        return 0; /* its counters are 32 bits: libdeflate takes these */
    uint8_t *level_buf = malloc (S_ISAL_LEVEL_BUF);
    if (!level_buf)
        return 0;
    struct isal_zstream zs;
    isal_deflate_stateless_init (&zs);
    zs.level = S_ISAL_LEVEL;
    zs.level_buf = level_buf;
    zs.level_buf_size = S_ISAL_LEVEL_BUF;
    zs.gzip_flag = IGZIP_GZIP;
    zs.end_of_stream = 1;
    zs.flush = NO_FLUSH;
    zs.next_in = (uint8_t *)data;
    zs.avail_in = (uint32_t)len;
    zs.next_out = dst;
    zs.avail_out = (uint32_t)room;
    int rc = isal_deflate_stateless (&zs);
    free (level_buf);
    return rc == COMP_OK && zs.avail_in == 0 ? zs.total_out : 0;
}

/* At least libdeflate's worst case for len bytes (stored blocks of at
   least 5,000 bytes with 5 bytes of header each, gzip's 18 and padding). */
static size_t
s_gzip_bound (size_t len)
{
    size_t blocks = len / 4096 + 1;
    if (len > SIZE_MAX / 2 - 5 * blocks - 1024)
        return SIZE_MAX;
    return len + 5 * blocks + 1024;
}

int
hm_gzip (const void *data, size_t len, hm_buf_t *out)
{
    size_t limit = out->limit ? out->limit : SIZE_MAX - 1;
    if (out->len >= limit)
        return -1;
    /* Room for the worst case, or all the bound allows: the output may still
       fit, and both compressors say 0 when it does not. */
    size_t room = s_gzip_bound (len);
    if (room > limit - out->len)
        room = limit - out->len;
    size_t n = 0;
    if (hm_buf_reserve (out, room) == 0) {
        n = s_isal_gzip (data, len, (uint8_t *)out->data + out->len, room);
        /* igzip did not fit (past its 32-bit counters, or data that only
           fits the bound compressed harder): libdeflate decides. */
        if (n == 0) {
            struct libdeflate_compressor *c = libdeflate_alloc_compressor (S_GZIP_LEVEL);
            if (c)
                n = libdeflate_gzip_compress (c, data, len, out->data + out->len, room);
            libdeflate_free_compressor (c);
        }
    }
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
    /* One loop inflates for both (inflate.c): into scratch memory bounded
       by what out may still take, then appended, so out is as it was on
       failure. Several members are one stream, as gunzip(1) reads them. */
    size_t limit = out->limit ? out->limit : SIZE_MAX - 1;
    if (out->len > limit)
        return -1;
    hm_buf_t tmp;
    hm_buf_init (&tmp, 0);
    int rc = hm_inflate (HM_CODING_GZIP, data, len, limit - out->len, &tmp, NULL, NULL, 0) ==
                     HM_INFLATE_OK
                 ? hm_buf_append (out, tmp.data ? tmp.data : "", tmp.len)
                 : -1;
    hm_buf_free (&tmp);
    return rc;
}

struct hm_gzs {
    struct isal_zstream zs;
    uint8_t *level_buf; /* igzip's working memory, kept across members */
};

hm_gzs_t *
hm_gzs_new (void)
{
    hm_gzs_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->level_buf = malloc (S_ISAL_LEVEL_BUF);
    if (!self->level_buf) {
        free (self);
        return NULL;
    }
    hm_gzs_begin (self);
    return self;
}

void
hm_gzs_begin (hm_gzs_t *self)
{
    isal_deflate_init (&self->zs);
    self->zs.level = S_ISAL_LEVEL;
    self->zs.level_buf = self->level_buf;
    self->zs.level_buf_size = S_ISAL_LEVEL_BUF;
    self->zs.gzip_flag = IGZIP_GZIP;
    self->zs.flush = NO_FLUSH;
}

int
hm_gzs_write (hm_gzs_t *self, const void *data, size_t len, bool last, hm_buf_t *out)
{
    const uint8_t *in = data;
    size_t left = len;
    size_t limit = out->limit ? out->limit : SIZE_MAX - 1;
    struct isal_zstream *zs = &self->zs;
    while (true) {
        /* avail_in is 32 bits: feed very large inputs in slices. */
        if (zs->avail_in == 0 && left > 0) {
            size_t slice = left > UINT32_MAX ? UINT32_MAX : left;
            zs->next_in = (uint8_t *)in;
            zs->avail_in = (uint32_t)slice;
            in += slice;
            left -= slice;
        }
        zs->end_of_stream = last && left == 0;
        if (zs->avail_in == 0 && left == 0 && (!last || zs->internal_state.state == ZSTATE_END))
            return 0;
        size_t room = limit - out->len;
        if (room == 0)
            return -1;
        if (room > S_CHUNK)
            room = S_CHUNK;
        if (hm_buf_reserve (out, room) != 0)
            return -1;
        zs->next_out = (uint8_t *)out->data + out->len;
        zs->avail_out = (uint32_t)room;
        if (isal_deflate (zs) != COMP_OK)
            return -1;
        out->len += room - zs->avail_out;
        out->data[out->len] = '\0';
    }
}

void
hm_gzs_destroy (hm_gzs_t **self_p)
{
    hm_gzs_t *self = *self_p;
    if (!self)
        return;
    free (self->level_buf);
    free (self);
    *self_p = NULL;
}
