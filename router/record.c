/*  record: see record.h. */
#include "record.h"

#include "digest.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
s_put32 (uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void
s_put64 (uint8_t *p, uint64_t v)
{
    s_put32 (p, (uint32_t)v);
    s_put32 (p + 4, (uint32_t)(v >> 32));
}

static uint32_t
s_get32 (const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
s_get64 (const uint8_t *p)
{
    return (uint64_t)s_get32 (p) | (uint64_t)s_get32 (p + 4) << 32;
}

void
rlog_header (uint8_t hdr[RLOG_HEADER], uint64_t seq, const void *payload, size_t len)
{
    s_put32 (hdr, (uint32_t)len);
    s_put64 (hdr + 8, seq);
    uint32_t crc = hm_crc32c (0, hdr + 8, 8);
    s_put32 (hdr + 4, hm_crc32c (crc, payload, len));
}

int
record_reader_init (record_reader_t *r, size_t cap)
{
    memset (r, 0, sizeof *r);
    r->fd = -1;
    r->limit = UINT64_MAX;
    r->buf = malloc (cap);
    r->cap = cap;
    return r->buf ? 0 : -1;
}

void
record_reader_reset (record_reader_t *r, int fd, uint64_t pos)
{
    r->fd = fd;
    r->start = r->end = 0;
    r->pos = pos;
    r->limit = UINT64_MAX;
}

/* Forgets buffered bytes: the file after pos may change (a cut after a
   failed sync), so never trust bytes we did not hand out. */
void
record_reader_drop (record_reader_t *r)
{
    r->start = r->end = 0;
}

/* Makes at least want bytes available from start; 1 if so, 0 at EOF, -1 on error. */
static int
s_fill (record_reader_t *r, size_t want)
{
    if (r->end - r->start >= want)
        return 1;
    if (want > r->cap) {
        size_t cap = r->cap;
        while (cap < want)
            cap *= 2;
        uint8_t *buf = malloc (cap);
        if (!buf)
            return -1;
        memcpy (buf, r->buf + r->start, r->end - r->start);
        free (r->buf);
        r->buf = buf, r->cap = cap;
        r->end -= r->start, r->start = 0;
    }
    else if (r->start + want > r->cap) {
        memmove (r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start, r->start = 0;
    }
    while (r->end - r->start < want) {
        uint64_t off = r->pos + (r->end - r->start);
        if (off >= r->limit)
            return 0;
        size_t room = r->cap - r->end;
        if (r->limit - off < room)
            room = (size_t)(r->limit - off);
        ssize_t n = pread (r->fd, r->buf + r->end, room, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        r->end += (size_t)n;
    }
    return 1;
}

/* The record at the reader's position, not consumed. */
record_rc_t
record_reader_peek (record_reader_t *r, uint64_t *seq_p, const uint8_t **data_p, size_t *len_p)
{
    int rc = s_fill (r, RLOG_HEADER);
    if (rc < 0)
        return RECORD_IOERR;
    if (rc == 0)
        return r->end == r->start ? RECORD_EOF : RECORD_SHORT;
    const uint8_t *h = r->buf + r->start;
    uint32_t len = s_get32 (h);
    /* No record has seq 0, so an all-zero header is never a record: it is
       the zero-filled space the log writes ahead of its end. */
    if (len == 0 && s_get32 (h + 4) == 0 && s_get64 (h + 8) == 0)
        return RECORD_ZERO;
    if (len > RLOG_MAX_PAYLOAD)
        return RECORD_BADLEN;
    rc = s_fill (r, RLOG_HEADER + (size_t)len);
    if (rc < 0)
        return RECORD_IOERR;
    if (rc == 0)
        return RECORD_SHORT;
    h = r->buf + r->start;
    uint32_t crc = hm_crc32c (hm_crc32c (0, h + 8, 8), h + RLOG_HEADER, len);
    if (crc != s_get32 (h + 4))
        return RECORD_BADCRC;
    *seq_p = s_get64 (h + 8);
    *data_p = h + RLOG_HEADER;
    *len_p = len;
    return RECORD_OK;
}

void
record_reader_consume (record_reader_t *r, size_t len)
{
    r->start += RLOG_HEADER + len;
    r->pos += RLOG_HEADER + len;
}

record_rc_t
record_reader_resync (record_reader_t *r, uint64_t lo, uint64_t *seq_p)
{
    uint64_t from = r->pos;
    for (;;) {
        int rc = s_fill (r, 1);
        if (rc <= 0)
            return rc < 0 ? RECORD_IOERR : RECORD_EOF;
        r->start++, r->pos++;
        rc = s_fill (r, RLOG_HEADER);
        if (rc < 0)
            return RECORD_IOERR;
        if (rc == 0) {
            /* Less than a header left: no record can start here. */
            r->pos += r->end - r->start;
            r->start = r->end;
            return RECORD_EOF;
        }
        /* Cheap checks first: most bytes fail the seq window. */
        const uint8_t *h = r->buf + r->start;
        uint64_t seq = s_get64 (h + 8);
        if (seq < lo || seq > lo + (r->pos - from) / RLOG_HEADER || s_get32 (h) > RLOG_MAX_PAYLOAD)
            continue;
        const uint8_t *data;
        size_t len;
        record_rc_t prc = record_reader_peek (r, &seq, &data, &len);
        if (prc == RECORD_IOERR)
            return prc;
        if (prc == RECORD_OK) {
            *seq_p = seq;
            return RECORD_OK;
        }
    }
}

const char *
record_reason (record_rc_t rc)
{
    switch (rc) {
    case RECORD_SHORT:
        return "short record";
    case RECORD_BADLEN:
        return "impossible length";
    case RECORD_BADCRC:
        return "bad crc";
    case RECORD_IOERR:
        return "read error";
    case RECORD_ZERO:
        return "zero-filled space";
    default:
        return "wrong sequence number";
    }
}

void
record_reader_free (record_reader_t *r)
{
    free (r->buf);
    r->buf = NULL;
}
