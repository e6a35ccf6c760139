/*  log_cursor: a route's reader of the log (log.h, "reading").

    A cursor reads one segment at a time in large chunks (record.c). Two
    things can make what it buffered wrong, and both are handled here:

    - A cut back after a failed sync (rlog_truncate_after): the cursor may
      hold bytes of records past the durable mark that were cut off, and new
      records take their offsets. It would hand out the old records under
      the new numbers, then read mid-record. So every cut bumps the log's
      count of cuts, and a cursor that sees it changed forgets its buffer
      (and starts over at its next seq if its segment went).
    - Damage: a record that does not read, with a valid one after it. The
      cursor first reads the bytes again from the file (a stale buffer is
      not damage); then it steps over the bad bytes to the next valid
      record (record_reader_resync), as the open-time scan does, logging
      and counting the records lost. It never reports "nothing more up to
      the limit" while a record <= limit could still be there: a route takes
      that answer as "everything up to the limit was read". */
#include "log.h"
#include "log_priv.h"
#include "record.h"

#include "hm_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_CURSOR_CHUNK (256u << 10) /* a route cursor reads this much at a time */

struct _rlog_cursor_t {
    rlog_t *log;        /* the log read (not owned) */
    int fd;             /* segment being read, -1 if none */
    uint64_t seg_first; /* its first seq */
    record_reader_t r;  /* buffered reader over fd */
    uint64_t next_seq;  /* seq expected next */
    uint64_t skip_to;   /* records below this are skipped (positioning) */
    bool failing;       /* a read error was logged; quiet until a read works */
    uint64_t cuts;      /* the log's count of cuts when the buffer was filled */
    uint64_t reread_at; /* offset re-read from the file after it read as damaged */
    uint64_t expect;    /* seq of the next record in the file (after the last consumed) */
};

/* Index of the segment holding seq (the last with first <= seq), or 0. */
static size_t
s_find_segment (const rlog_t *log, uint64_t seq)
{
    size_t i = 0;
    while (i + 1 < log->nsegs && log->segs[i + 1].first <= seq)
        i++;
    return i;
}

static int
s_cursor_enter (rlog_cursor_t *self, uint64_t first)
{
    if (self->fd >= 0)
        close (self->fd);
    self->fd = rlog_seg_open (self->log, first, O_RDONLY);
    if (self->fd < 0)
        return -1;
    self->seg_first = first;
    self->expect = first;
    record_reader_reset (&self->r, self->fd, 0);
    self->reread_at = UINT64_MAX;
    if (self->next_seq < first)
        self->next_seq = first;
    return 0;
}

/* The log was cut back since we last read: forget the buffer; if our
   segment is gone or now ends before our position, find our place again. */
static int
s_cursor_after_cut (rlog_cursor_t *self)
{
    const rlog_t *log = self->log;
    self->cuts = log->cuts;
    record_reader_drop (&self->r);
    size_t i = 0;
    while (i < log->nsegs && log->segs[i].first != self->seg_first)
        i++;
    if (i < log->nsegs && self->r.pos <= log->segs[i].size && self->next_seq <= log->next_seq)
        return 0;
    if (self->next_seq > log->next_seq)
        self->next_seq = log->next_seq; /* we had read records the cut took */
    self->skip_to = self->next_seq;
    i = s_find_segment (log, self->next_seq);
    if (s_cursor_enter (self, log->segs[i].first) != 0) {
        hm_error ("log: cursor cannot open segment %020" PRIu64 ": %s", log->segs[i].first,
                  strerror (errno));
        return -1;
    }
    return 0;
}

rlog_cursor_t *
rlog_cursor_new (rlog_t *log, uint64_t seq)
{
    rlog_cursor_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->log = log;
    self->fd = -1;
    self->cuts = log->cuts;
    if (record_reader_init (&self->r, S_CURSOR_CHUNK) != 0) {
        free (self);
        return NULL;
    }
    size_t i = s_find_segment (log, seq);
    self->next_seq = log->segs[i].first;
    self->skip_to = seq;
    if (s_cursor_enter (self, log->segs[i].first) != 0) {
        hm_error ("log: cursor cannot open segment %020" PRIu64 ": %s", log->segs[i].first,
                  strerror (errno));
        rlog_cursor_destroy (&self);
        return NULL;
    }
    if (self->next_seq < seq)
        self->next_seq = seq;
    return self;
}

void
rlog_cursor_destroy (rlog_cursor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rlog_cursor_t *self = *self_p;
    if (self->fd >= 0)
        close (self->fd);
    record_reader_free (&self->r);
    free (self);
    *self_p = NULL;
}

uint64_t
rlog_cursor_seq (const rlog_cursor_t *self)
{
    return self->next_seq;
}

/* A read error: logged once until a read works. -1. */
static int
s_cursor_error (rlog_cursor_t *self, const char *what)
{
    if (!self->failing)
        hm_error ("log: cursor %s in segment %020" PRIu64 " at byte %" PRIu64 ": %s", what,
                  self->seg_first, self->r.pos, strerror (errno));
    self->failing = true;
    record_reader_drop (&self->r);
    return -1;
}

/* The record at the reader's position is bad (rc; zeros are zero-ahead
   space if nothing valid follows them): steps over it to the next valid
   one in this segment. 1 stepped (or re-reading first), 0 none
   left in this segment, -1 error (the cursor stays where it was). */
static int
s_cursor_damage (rlog_cursor_t *self, record_rc_t rc, bool last_segment)
{
    uint64_t bad_at = self->r.pos, found;
    if (self->reread_at != bad_at) {
        /* Once from the file before calling it damage. */
        self->reread_at = bad_at;
        record_reader_drop (&self->r);
        return 1;
    }
    record_rc_t rs = record_reader_resync (&self->r, self->expect, &found);
    if (rs == RECORD_IOERR) {
        record_reader_reset (&self->r, self->fd, bad_at);
        return s_cursor_error (self, "read error");
    }
    if (rs == RECORD_OK) {
        /* Loud, once per place: every route meets it (after the open scan). */
        if (rlog_count_damage (self->log, self->seg_first, bad_at))
            hm_error (
                "log: segment %020" PRIu64 " DAMAGED at byte %" PRIu64 " (%s): records %" PRIu64
                "..%" PRIu64 " unreadable, skipped; reading on at byte %" PRIu64,
                self->seg_first, bad_at, record_reason (rc), self->expect, found - 1, self->r.pos);
        self->reread_at = UINT64_MAX;
        return 1;
    }
    struct stat st;
    if (!last_segment && fstat (self->fd, &st) == 0 &&
        rlog_all_zero (self->fd, bad_at, (uint64_t)st.st_size))
        return 0; /* zero-ahead space behind a rolled segment's records */
    if (last_segment) {
        /* Nothing valid after it where the writer writes: the records may
           be there after all (we must not say "all read"). Stay. */
        record_reader_reset (&self->r, self->fd, bad_at);
        errno = EBADMSG;
        return s_cursor_error (self, "cannot read the record (damaged?)");
    }
    if (rlog_count_damage (self->log, self->seg_first, bad_at))
        hm_error ("log: segment %020" PRIu64 " DAMAGED at byte %" PRIu64
                  " (%s) to its end: the records there from %" PRIu64 " on are skipped",
                  self->seg_first, bad_at, record_reason (rc), self->expect);
    return 0;
}

int
rlog_cursor_next (rlog_cursor_t *self, uint64_t limit, uint64_t *seq_p, const uint8_t **data_p,
                  size_t *len_p)
{
    for (;;) {
        const rlog_t *log = self->log;
        if (self->cuts != log->cuts && s_cursor_after_cut (self) != 0)
            return -1;
        if (self->next_seq > limit)
            return 0;
        uint64_t seq;
        const uint8_t *data;
        size_t len;
        /* In the segment being written, read only what was written: past
           its end lie zeros (zero-ahead) that records will overwrite. */
        bool last = self->seg_first == log->segs[log->nsegs - 1].first;
        self->r.limit = last ? log->segs[log->nsegs - 1].size : UINT64_MAX;
        record_rc_t rc = record_reader_peek (&self->r, &seq, &data, &len);
        if (rc == RECORD_OK && seq < self->skip_to && seq >= self->expect) {
            record_reader_consume (&self->r, len);
            self->expect = seq + 1;
            continue;
        }
        if (rc == RECORD_OK && seq >= self->next_seq && seq <= limit) {
            record_reader_consume (&self->r, len);
            self->expect = seq + 1;
            self->next_seq = seq + 1;
            self->failing = false;
            *seq_p = seq, *data_p = data, *len_p = len;
            return 1;
        }
        if (rc == RECORD_OK && seq > limit) {
            record_reader_drop (&self->r);
            return 0;
        }
        if (rc == RECORD_IOERR)
            return s_cursor_error (self, "read error");
        /* A clean end. Anything else is damage, a stale buffer, or (zeros
           behind a rolled segment's records) zero-ahead space. */
        if (rc != RECORD_EOF) {
            int d = s_cursor_damage (self, rc == RECORD_OK ? RECORD_BADSEQ : rc, last);
            if (d < 0)
                return -1;
            if (d > 0)
                continue;
        }
        /* End of this segment: move on if a later one holds readable
           records. Ours may have been deleted meanwhile (all of it was
           committed), so look for the first segment after it by name. */
        size_t next = 0;
        while (next < log->nsegs && log->segs[next].first <= self->seg_first)
            next++;
        if (next >= log->nsegs || log->segs[next].first > limit) {
            record_reader_drop (&self->r);
            return 0;
        }
        if (s_cursor_enter (self, log->segs[next].first) != 0) {
            hm_error ("log: cursor cannot open segment %020" PRIu64 ": %s", log->segs[next].first,
                      strerror (errno));
            return -1;
        }
    }
}
