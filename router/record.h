/*  record: reading log records (framing in log.h) sequentially from a
    segment file, in large chunks, handing out each record in place. The
    open-time scan and the route cursors share it, so reading costs one
    pread per chunk, not one per record. */
#ifndef HM_ROUTER_RECORD_H
#define HM_ROUTER_RECORD_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    RECORD_OK = 1,
    RECORD_EOF = 0,     /* clean end: no byte after the last record */
    RECORD_SHORT = -1,  /* a partial header or payload at the end */
    RECORD_BADLEN = -2, /* a length no writer could have written */
    RECORD_BADCRC = -3, /* checksum mismatch */
    RECORD_IOERR = -4,  /* pread failed */
    RECORD_BADSEQ = -5, /* a whole record with the wrong sequence number (set by callers) */
    RECORD_ZERO = -6    /* a header of zeros: space written ahead of the records (see log.c) */
} record_rc_t;

typedef struct {
    int fd;         /* segment being read (not owned) */
    uint8_t *buf;   /* chunk buffer, grown to hold the largest record seen */
    size_t cap;     /* its size */
    size_t start;   /* first unconsumed byte */
    size_t end;     /* end of valid bytes */
    uint64_t pos;   /* file offset of buf[start] */
    uint64_t limit; /* never read at or past this file offset (UINT64_MAX: no bound); the
                       log's zero-ahead space must not be buffered, it changes under us */
} record_reader_t;

/* cap: chunk size. 0 or -1 (out of memory). */
int record_reader_init (record_reader_t *r, size_t cap);
void record_reader_free (record_reader_t *r);
/* Reads fd from byte pos on (no limit until one is set). */
void record_reader_reset (record_reader_t *r, int fd, uint64_t pos);
/* Forgets buffered bytes (the file after pos may change under us). */
void record_reader_drop (record_reader_t *r);
/* The record at the reader's position (length and crc checked), not
   consumed: *data_p stays valid until the next reader call. */
record_rc_t record_reader_peek (record_reader_t *r, uint64_t *seq_p, const uint8_t **data_p,
                                size_t *len_p);
/* Steps over the record just peeked (len: its payload length). */
void record_reader_consume (record_reader_t *r, size_t len);
/* After a bad record at the reader's position (expected seq: lo): steps
   forward a byte at a time to the next whole record (length and crc
   checked) whose seq lies in [lo, lo + bytes stepped over / RLOG_HEADER]
   (each lost record took at least a header, so a later seq cannot be
   this close: a forged or stale frame is unlikely to pass). RECORD_OK:
   the reader stands at it, not consumed, *seq_p its seq. RECORD_EOF:
   none before the end (the reader stands at the end). RECORD_IOERR. */
record_rc_t record_reader_resync (record_reader_t *r, uint64_t lo, uint64_t *seq_p);
const char *record_reason (record_rc_t rc);

#endif
