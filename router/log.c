/*  log: see log.h.

    The writer appends whole rounds with pwritev at a tracked offset (no
    O_APPEND, no lseek), so cutting back after a failed write is one
    ftruncate to the offset the round started at. The list of segments is
    a small sorted array: a 1 GiB log of 64 MiB segments has 16 entries.

    Readers (log_cursor.c) and the open-time scan share one buffered
    reader (record.c) that reads a segment sequentially in large chunks and
    hands out records in place, so reading costs one pread per chunk, not
    one per record; both step over damage the same way (s_scan_segment).

    Failure (rlog_failed): after a failed fdatasync, or a cut back that
    failed, nothing is appended until rlog_truncate_after (log_cut.c) has
    cut the log back to its durable mark and made that durable (see log.h
    for why).

    Zero-ahead (rlog_set_zero_ahead, the router turns it on): after a round
    the writer keeps some zeros written past the end of the segment. Why:
    fdatasync after an append must also write the inode (the file grew,
    blocks were allocated); overwriting blocks that exist already needs only
    the data. Measured on ext4 here: small append + fdatasync ~165 us, the
    same into pre-zeroed space ~80 us, and group commit waits on exactly
    that call. The zeros go out with the next sync, once per zero-ahead/2
    bytes. An all-zero header is never a record (no seq is 0), so readers
    take it as the end, and opening cuts it off like a torn tail (silently):
    whatever stale bytes lay beyond are gone before anything is appended. */
#include "log.h"
#include "log_priv.h"
#include "reaper.h"
#include "record.h"

#include "digest.h"
#include "fsutil.h"
#include "hm_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_NAME_DIGITS 20
#define S_CURSOR_CHUNK (256u << 10) /* a route cursor reads this much at a time */
#define S_ZERO_PIECE (256u << 10)   /* zero-ahead writes at most this much per call */

/* --- segments ------------------------------------------------------------ */

static void
s_seg_name (char *out, size_t cap, uint64_t first)
{
    snprintf (out, cap, "%020" PRIu64 ".seg", first);
}

int
rlog_seg_open (const rlog_t *self, uint64_t first, int flags)
{
    char name[32];
    s_seg_name (name, sizeof name, first);
    return openat (self->dirfd, name, flags | O_CLOEXEC, 0644);
}

static int
s_segs_push (rlog_t *self, uint64_t first, uint64_t size)
{
    if (self->nsegs == self->segs_cap) {
        size_t cap = self->segs_cap ? self->segs_cap * 2 : 16;
        rlog_segment_t *segs = realloc (self->segs, cap * sizeof *segs);
        if (!segs)
            return -1;
        self->segs = segs, self->segs_cap = cap;
    }
    self->segs[self->nsegs++] = (rlog_segment_t){first, size};
    return 0;
}

static int
s_cmp_seg (const void *a, const void *b)
{
    uint64_t x = ((const rlog_segment_t *)a)->first, y = ((const rlog_segment_t *)b)->first;
    return x < y ? -1 : x > y;
}

static int
s_parse_name (const char *name, uint64_t *first_p)
{
    if (strlen (name) != S_NAME_DIGITS + 4 || strcmp (name + S_NAME_DIGITS, ".seg") != 0)
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < S_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    if (v == 0)
        return -1;
    *first_p = v;
    return 0;
}

/* True when bytes [from, to) of fd are all zero (or cannot be read: the
   caller cuts them either way, this only decides whether to warn). */
bool
rlog_all_zero (int fd, uint64_t from, uint64_t to)
{
    uint8_t buf[64 << 10];
    while (from < to) {
        size_t n = to - from < sizeof buf ? (size_t)(to - from) : sizeof buf;
        ssize_t got = pread (fd, buf, n, (off_t)from);
        if (got <= 0)
            return true;
        for (ssize_t i = 0; i < got; i++)
            if (buf[i])
                return false;
        from += (uint64_t)got;
    }
    return true;
}

/* Validates one segment. next_first: the next segment's first seq, 0 for
   the last segment. Returns the seq after its last good record, or 0 on
   an I/O error.

   Why torn tails and damage are told apart: only the last segment can end
   in a torn write (a segment is fdatasync'd before the next one is
   created), and a tear is always the end (nothing was written after it).
   A bad record followed by a valid one (record_reader_resync), or a bad
   end of an older segment, is damage: the records after it were synced
   and maybe acknowledged, so they are kept and read on, the bad bytes
   stay where they are (cursors step over them the same way), and the
   loss is counted and logged as an error. A bad end of the last segment
   is cut as before: that is where the writer goes on. */
static uint64_t
s_scan_segment (rlog_t *self, rlog_segment_t *seg, record_reader_t *r, uint64_t next_first)
{
    int fd = rlog_seg_open (self, seg->first, O_RDWR);
    if (fd < 0) {
        hm_error ("log: cannot open segment %020" PRIu64 ": %s", seg->first, strerror (errno));
        return 0;
    }
    struct stat st;
    if (fstat (fd, &st) != 0) {
        close (fd);
        return 0;
    }
    record_reader_reset (r, fd, 0);
    uint64_t expect = seg->first, end = 0;
    record_rc_t rc, first_bad = RECORD_EOF;
    for (;;) {
        uint64_t seq;
        const uint8_t *data;
        size_t len;
        rc = record_reader_peek (r, &seq, &data, &len);
        if (rc == RECORD_OK && seq == expect) {
            record_reader_consume (r, len);
            expect++;
            end = r->pos;
            continue;
        }
        if (rc == RECORD_EOF || rc == RECORD_IOERR)
            break;
        if (rc == RECORD_OK)
            rc = RECORD_BADSEQ;
        if (first_bad == RECORD_EOF)
            first_bad = rc;
        uint64_t bad_at = r->pos, found;
        record_rc_t rs = record_reader_resync (r, expect, &found);
        if (rs != RECORD_OK) {
            rc = rs == RECORD_IOERR ? rs : first_bad;
            break;
        }
        rlog_count_damage (self, seg->first, bad_at);
        self->damaged_records += found - expect;
        hm_error ("log: segment %020" PRIu64 " DAMAGED at byte %" PRIu64 " (%s): %" PRIu64
                  " bytes unreadable, records %" PRIu64 "..%" PRIu64
                  " lost; the records after them are kept",
                  seg->first, bad_at, record_reason (rc), r->pos - bad_at, expect, found - 1);
        expect = found;
    }
    if (rc == RECORD_IOERR) {
        hm_error ("log: cannot read segment %020" PRIu64 ": %s", seg->first, strerror (errno));
        close (fd);
        return 0;
    }
    seg->size = end;
    if ((uint64_t)st.st_size > end) {
        uint64_t cut = (uint64_t)st.st_size - end;
        /* Zero-ahead space is expected (also behind a rolled segment);
           anything else past the end is a tear or damage worth a line. */
        bool quiet = rlog_all_zero (fd, end, (uint64_t)st.st_size);
        if (ftruncate (fd, (off_t)end) != 0 || rlog_fdatasync (self, fd) != 0) {
            hm_error ("log: cannot cut segment %020" PRIu64 ": %s", seg->first, strerror (errno));
            close (fd);
            return 0;
        }
        if (quiet) {
            close (fd);
            return expect;
        }
        if (next_first) {
            rlog_count_damage (self, seg->first, end);
            self->damaged_records += next_first > expect ? next_first - expect : 0;
            hm_error ("log: segment %020" PRIu64 " DAMAGED at its end (%s): %" PRIu64
                      " unreadable bytes after seq %" PRIu64 " cut; it was synced at its roll, so "
                      "records up to %" PRIu64 " may be lost",
                      seg->first, record_reason (first_bad), cut, expect - 1, next_first - 1);
        }
        else {
            self->cut_bytes += cut;
            hm_warn ("log: segment %020" PRIu64 ": torn tail (%s) after seq %" PRIu64
                     ": cut %" PRIu64 " bytes",
                     seg->first,
                     first_bad == RECORD_ZERO ? "bytes beyond the zero-filled space"
                                              : record_reason (first_bad),
                     expect - 1, cut);
        }
    }
    close (fd);
    return expect;
}

static int
s_list_segments (rlog_t *self)
{
    DIR *d = fdopendir (dup (self->dirfd));
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir (d))) {
        uint64_t first;
        if (s_parse_name (e->d_name, &first) == 0 && s_segs_push (self, first, 0) != 0) {
            closedir (d);
            return -1;
        }
    }
    closedir (d);
    if (self->nsegs)
        qsort (self->segs, self->nsegs, sizeof *self->segs, s_cmp_seg);
    return 0;
}

/* Takes segment i out of the table (its file is someone else's now). */
static void
s_forget_segment (rlog_t *self, size_t i)
{
    self->bytes -= self->segs[i].size;
    memmove (self->segs + i, self->segs + i + 1, (self->nsegs - i - 1) * sizeof *self->segs);
    self->nsegs--;
}

int
rlog_remove_segment (rlog_t *self, size_t i)
{
    char name[32];
    s_seg_name (name, sizeof name, self->segs[i].first);
    if (unlinkat (self->dirfd, name, 0) != 0 && errno != ENOENT)
        return -1;
    s_forget_segment (self, i);
    return 0;
}

int
rlog_create_segment (rlog_t *self, uint64_t first)
{
    int fd = rlog_seg_open (self, first, O_RDWR | O_CREAT | O_TRUNC);
    if (fd < 0)
        return -1;
    /* Why: without the directory fsync a crash could lose the new file's
       name, and with it every record acknowledged in it. */
    if (fsync (self->dirfd) != 0 || s_segs_push (self, first, 0) != 0) {
        int err = errno;
        close (fd);
        errno = err;
        return -1;
    }
    if (self->fd >= 0)
        close (self->fd);
    self->fd = fd;
    self->zero_end = 0;
    return 0;
}

rlog_t *
rlog_new (const char *dir, uint64_t segment_bytes, uint64_t max_bytes, char *errbuf, size_t errlen)
{
    rlog_t *self = calloc (1, sizeof *self);
    record_reader_t r = {0};
    if (!self || record_reader_init (&r, RLOG_SCAN_CHUNK) != 0) {
        snprintf (errbuf, errlen, "out of memory");
        free (self);
        record_reader_free (&r);
        return NULL;
    }
    self->fd = -1;
    self->dirfd = -1;
    self->segment_bytes = segment_bytes ? segment_bytes : 1;
    self->max_bytes = max_bytes;
    self->dir = strdup (dir);
    if (!self->dir) {
        snprintf (errbuf, errlen, "out of memory");
        goto fail;
    }
    /* New directories made durable too: a power cut must not take the log
       with a directory nobody fsync'd. */
    if (hm_fs_mkdirs (dir, 0755, errbuf, errlen) != 0)
        goto fail;
    if ((self->dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        s_list_segments (self) != 0) {
        snprintf (errbuf, errlen, "%s: %s", dir, strerror (errno));
        goto fail;
    }
    uint64_t next = 1;
    for (size_t i = 0; i < self->nsegs; i++) {
        rlog_segment_t *seg = &self->segs[i];
        if (seg->first < next) {
            snprintf (errbuf, errlen, "%s: segment %020" PRIu64 " overlaps its predecessor", dir,
                      seg->first);
            goto fail;
        }
        uint64_t end =
            s_scan_segment (self, seg, &r, i + 1 < self->nsegs ? self->segs[i + 1].first : 0);
        if (end == 0) {
            snprintf (errbuf, errlen, "%s: cannot read segment %020" PRIu64, dir, seg->first);
            goto fail;
        }
        next = end;
        self->bytes += seg->size;
    }
    /* Empty segments other than the last carry nothing; drop them. */
    for (size_t i = 0; i + 1 < self->nsegs;)
        if (self->segs[i].size == 0)
            rlog_remove_segment (self, i);
        else
            i++;
    if (self->nsegs == 0) {
        if (rlog_create_segment (self, 1) != 0) {
            snprintf (errbuf, errlen, "%s: cannot create a segment: %s", dir, strerror (errno));
            goto fail;
        }
        next = 1;
    }
    else {
        self->fd = rlog_seg_open (self, self->segs[self->nsegs - 1].first, O_RDWR);
        /* Whatever a previous process wrote is made durable before anyone
           reads it as such. */
        if (self->fd < 0 || rlog_fdatasync (self, self->fd) != 0) {
            snprintf (errbuf, errlen, "%s: cannot open the last segment: %s", dir,
                      strerror (errno));
            goto fail;
        }
        self->zero_end = self->segs[self->nsegs - 1].size;
    }
    self->next_seq = next;
    self->durable = next - 1;
    record_reader_free (&r);
    return self;
fail:
    record_reader_free (&r);
    rlog_destroy (&self);
    return NULL;
}

void
rlog_destroy (rlog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rlog_t *self = *self_p;
    reaper_destroy (&self->reaper);
    if (self->fd >= 0)
        close (self->fd);
    if (self->dirfd >= 0)
        close (self->dirfd);
    free (self->segs);
    free (self->hdrs);
    free (self->iov);
    free (self->zeros);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

uint64_t
rlog_first_seq (const rlog_t *self)
{
    /* The oldest segment may be empty only when it is the only one. */
    return self->segs[0].size ? self->segs[0].first : self->next_seq;
}

uint64_t
rlog_next_seq (const rlog_t *self)
{
    return self->next_seq;
}

uint64_t
rlog_durable_seq (const rlog_t *self)
{
    return self->durable;
}

void
rlog_set_durable (rlog_t *self, uint64_t seq)
{
    if (seq > self->durable && seq < self->next_seq)
        self->durable = seq;
}

uint64_t
rlog_bytes (const rlog_t *self)
{
    return self->bytes + (self->reaper ? reaper_pending_bytes (self->reaper) : 0);
}

uint64_t
rlog_max_bytes (const rlog_t *self)
{
    return self->max_bytes;
}

size_t
rlog_segment_count (const rlog_t *self)
{
    return self->nsegs;
}

int
rlog_fd (const rlog_t *self)
{
    return self->fd;
}

uint64_t
rlog_segment_first (const rlog_t *self)
{
    return self->segs[self->nsegs - 1].first;
}

uint64_t
rlog_cut_bytes (const rlog_t *self)
{
    return self->cut_bytes;
}

bool
rlog_failed (const rlog_t *self)
{
    return self->failed;
}

bool
rlog_count_damage (rlog_t *self, uint64_t seg, uint64_t at)
{
    for (size_t i = 0; i < self->nknown; i++)
        if (self->known[i].seg == seg && self->known[i].at == at)
            return false;
    if (self->nknown < RLOG_KNOWN_MAX)
        self->known[self->nknown++] = (rlog_place_t){seg, at};
    self->damaged++; /* beyond RLOG_KNOWN_MAX places, counted at each meeting */
    return true;
}

void
rlog_sync_failed (rlog_t *self)
{
    self->failed = true;
}

uint64_t
rlog_damaged (const rlog_t *self)
{
    return self->damaged;
}

uint64_t
rlog_damaged_records (const rlog_t *self)
{
    return self->damaged_records;
}

int
rlog_fdatasync (rlog_t *self, int fd)
{
    self->syncs++;
    return fdatasync (fd);
}

uint64_t
rlog_syncs (const rlog_t *self)
{
    return self->syncs;
}

bool
rlog_has_room (const rlog_t *self, uint64_t extra, size_t len)
{
    return rlog_bytes (self) + extra + RLOG_HEADER + len <= self->max_bytes;
}

bool
rlog_needs_roll (const rlog_t *self)
{
    return self->segs[self->nsegs - 1].size >= self->segment_bytes;
}

/* Starts a new segment at first, after making the current one durable.
   A failed fdatasync here fails the log (rlog_failed): retried, it would
   succeed without the pages whose write failed ever reaching the disk
   (PostgreSQL's "fsyncgate", 2018), and the records would pass as durable. */
static int
s_roll (rlog_t *self, uint64_t first)
{
    if (self->durable + 1 < self->next_seq) {
        if (rlog_fdatasync (self, self->fd) != 0) {
            int err = errno;
            self->failed = true;
            hm_error ("log: fdatasync of segment %020" PRIu64 " before a roll failed: %s",
                      self->segs[self->nsegs - 1].first, strerror (err));
            errno = err;
            return -1;
        }
        self->durable = self->next_seq - 1;
    }
    if (self->segs[self->nsegs - 1].size == 0) {
        /* An empty current segment is simply replaced. */
        char name[32];
        s_seg_name (name, sizeof name, self->segs[self->nsegs - 1].first);
        if (unlinkat (self->dirfd, name, 0) != 0)
            return -1;
        self->nsegs--;
    }
    return rlog_create_segment (self, first);
}

int
rlog_advance_to (rlog_t *self, uint64_t seq)
{
    if (seq <= self->next_seq)
        return 0;
    if (s_roll (self, seq) != 0)
        return -1;
    hm_warn ("log: sequence numbers advanced from %" PRIu64 " to %" PRIu64
             " (routes remember records the log lost)",
             self->next_seq, seq);
    self->next_seq = seq;
    self->durable = seq - 1;
    return 0;
}

static int
s_scratch (rlog_t *self, size_t n)
{
    if (n <= self->scratch_cap)
        return 0;
    uint8_t *hdrs = realloc (self->hdrs, n * RLOG_HEADER);
    if (hdrs)
        self->hdrs = hdrs;
    struct iovec *iov = realloc (self->iov, 2 * n * sizeof *iov);
    if (iov)
        self->iov = iov;
    if (!hdrs || !iov)
        return -1;
    self->scratch_cap = n;
    return 0;
}

/* pwritev all of iov at off, across partial writes and IOV_MAX. */
static int
s_pwritev_all (int fd, struct iovec *iov, size_t cnt, uint64_t off)
{
    while (cnt > 0) {
        int chunk = cnt > IOV_MAX ? IOV_MAX : (int)cnt;
        ssize_t n = pwritev (fd, iov, chunk, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = ENOSPC;
            return -1;
        }
        off += (uint64_t)n;
        size_t left = (size_t)n;
        while (cnt > 0 && left >= iov->iov_len)
            left -= iov->iov_len, iov++, cnt--;
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

void
rlog_set_zero_ahead (rlog_t *self, uint64_t bytes)
{
    self->zero_ahead = bytes;
}

/* Keeps zero_ahead bytes of zeros past size (the segment's end), topping up
   when less than half is left. Best effort: a failure only costs speed.
   The zeros become durable with the next sync of the segment. */
static void
s_zero_ahead (rlog_t *self, uint64_t size)
{
    if (!self->zero_ahead || self->zero_end >= size + self->zero_ahead / 2)
        return;
    if (!self->zeros && !(self->zeros = calloc (1, S_ZERO_PIECE)))
        return;
    uint64_t from = self->zero_end > size ? self->zero_end : size;
    uint64_t to = size + self->zero_ahead;
    while (from < to) {
        size_t n = to - from < S_ZERO_PIECE ? (size_t)(to - from) : S_ZERO_PIECE;
        ssize_t w = pwrite (self->fd, self->zeros, n, (off_t)from);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        from += (uint64_t)w;
    }
    self->zero_end = from;
}

int
rlog_append (rlog_t *self, const struct iovec *payloads, size_t n, uint64_t *first_p)
{
    if (self->failed) {
        errno = EIO; /* until rlog_truncate_after cut back to the durable mark */
        return -1;
    }
    if (n == 0) {
        *first_p = self->next_seq;
        return 0;
    }
    rlog_segment_t *cur = &self->segs[self->nsegs - 1];
    if (cur->size >= self->segment_bytes) {
        if (s_roll (self, self->next_seq) != 0)
            return -1;
        cur = &self->segs[self->nsegs - 1];
    }
    if (s_scratch (self, n) != 0) {
        errno = ENOMEM;
        return -1;
    }
    uint64_t seq = self->next_seq, total = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *h = self->hdrs + i * RLOG_HEADER;
        rlog_header (h, seq + i, payloads[i].iov_base, payloads[i].iov_len);
        self->iov[2 * i] = (struct iovec){h, RLOG_HEADER};
        self->iov[2 * i + 1] = payloads[i];
        total += RLOG_HEADER + payloads[i].iov_len;
    }
    if (s_pwritev_all (self->fd, self->iov, 2 * n, cur->size) != 0) {
        int err = errno;
        /* Keep the log whole: nothing of this round stays on disk. */
        if (ftruncate (self->fd, (off_t)cur->size) != 0) {
            /* Part of the round may stay past the end: nothing more is
               written until a cut back succeeds. */
            self->failed = true;
            hm_error ("log: cannot cut back a failed write: %s", strerror (errno));
        }
        self->zero_end = cur->size;
        errno = err;
        return -1;
    }
    cur->size += total;
    self->bytes += total;
    self->next_seq += n;
    *first_p = seq;
    s_zero_ahead (self, cur->size);
    return 0;
}

int
rlog_set_reaper (rlog_t *self, size_t max)
{
    reaper_destroy (&self->reaper);
    self->reaper = reaper_new (self->dirfd, max);
    return self->reaper ? 0 : -1;
}

void
rlog_reap_wait (rlog_t *self)
{
    if (self->reaper)
        reaper_wait (self->reaper);
}

uint64_t
rlog_reap_failures (const rlog_t *self)
{
    return self->reaper ? reaper_failures (self->reaper) : 0;
}

int
rlog_delete_upto (rlog_t *self, uint64_t seq)
{
    int deleted = 0, here = 0;
    /* Segment 0 holds records first .. segs[1].first - 1 (at most). */
    while (self->nsegs > 1 && self->segs[1].first - 1 <= seq) {
        char name[32];
        s_seg_name (name, sizeof name, self->segs[0].first);
        if (self->reaper && reaper_post (self->reaper, name, self->segs[0].size) == 0)
            s_forget_segment (self, 0);
        else if (rlog_remove_segment (self, 0) == 0)
            here++;
        else {
            hm_error ("log: cannot delete a segment: %s", strerror (errno));
            return -1;
        }
        deleted++;
    }
    if (here && fsync (self->dirfd) != 0)
        return -1;
    return deleted;
}
