/*  log_cut: cutting the log back after seq (rlog_truncate_after, see
    log.h): after a failed write, sync or cut back, to the durable mark.
    The cut is found by reading the last kept segment the way the
    open-time scan does (stepping over damage), then the file is truncated
    there and synced, with its directory. */
#include "log.h"
#include "log_priv.h"
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* Where the records after seq start in seg (read from the file, stepping
   over damage as the open-time scan does): *keep_p the byte offset, *last_p
   the last seq kept (seg->first - 1 if none). 0 or -1. */
static int
s_find_cut (int fd, const rlog_segment_t *seg, uint64_t seq, uint64_t *keep_p, uint64_t *last_p)
{
    record_reader_t r;
    if (record_reader_init (&r, RLOG_SCAN_CHUNK) != 0) {
        errno = ENOMEM;
        return -1;
    }
    record_reader_reset (&r, fd, 0);
    uint64_t keep = 0, last = seg->first - 1;
    int rc = 0;
    for (;;) {
        uint64_t rseq;
        const uint8_t *data;
        size_t len;
        record_rc_t pc = record_reader_peek (&r, &rseq, &data, &len);
        if (pc == RECORD_OK && rseq > seq)
            break;
        if (pc == RECORD_OK && rseq == last + 1) {
            record_reader_consume (&r, len);
            keep = r.pos, last = rseq;
            continue;
        }
        if (pc == RECORD_EOF)
            break;
        if (pc != RECORD_IOERR)
            pc = record_reader_resync (&r, last + 1, &rseq);
        if (pc == RECORD_IOERR)
            rc = -1;
        if (pc != RECORD_OK || rseq > seq)
            break;
        last = rseq - 1; /* damaged records, stepped over */
    }
    record_reader_free (&r);
    *keep_p = keep, *last_p = last;
    return rc;
}

int
rlog_truncate_after (rlog_t *self, uint64_t seq)
{
    if (seq >= self->next_seq)
        seq = self->next_seq - 1;
    if (seq + 1 >= self->next_seq && !self->failed)
        return 0;
    /* Cursors must drop whatever they buffered past the cut: new records
       take those offsets (and this counts even if the cut fails half way). */
    self->cuts++;
    /* Drop whole segments that start after seq (never the first one). */
    while (self->nsegs > 1 && self->segs[self->nsegs - 1].first > seq)
        if (rlog_remove_segment (self, self->nsegs - 1) != 0)
            goto fail;
    rlog_segment_t *seg = &self->segs[self->nsegs - 1];
    int fd = rlog_seg_open (self, seg->first, O_RDWR);
    if (fd < 0)
        goto fail;
    uint64_t keep, last;
    if (s_find_cut (fd, seg, seq, &keep, &last) != 0 || ftruncate (fd, (off_t)keep) != 0 ||
        rlog_fdatasync (self, fd) != 0 || fsync (self->dirfd) != 0) {
        int err = errno;
        close (fd);
        errno = err;
        goto fail;
    }
    self->bytes -= seg->size - keep;
    seg->size = keep;
    if (self->fd >= 0)
        close (self->fd);
    self->fd = fd;
    self->zero_end = keep;
    uint64_t next = seg->first > seq + 1 ? seg->first : seq + 1;
    if (last + 1 < next) {
        /* Records last + 1 .. seq are in no segment (a gap left by
           rlog_advance_to, whose segment was just deleted): the next record
           starts a segment of its own. Written after a gap inside this one,
           it read as a torn tail at the next open and every record after
           it was cut, synced and acknowledged as they were. */
        if (rlog_create_segment (self, next) != 0)
            goto fail;
        if (keep == 0 && rlog_remove_segment (self, self->nsegs - 2) != 0)
            goto fail; /* the emptied one */
    }
    self->next_seq = next;
    if (self->durable >= next)
        self->durable = next - 1;
    if (self->durable + 1 >= self->next_seq)
        self->failed = false; /* nothing past the durable mark is left */
    return 0;
fail:
    self->failed = true;
    return -1;
}
