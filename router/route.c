/*  route: see route.h.

    Batches are kept as the bytes of the Delivery message that will carry
    them: each kept event is copied once, as it sits in the log record
    (the AppendRequest's "events" field and the Delivery's have the same
    encoding but for the tag), behind room left for the Delivery's header,
    which is written in front at seal time. Sending a batch is then one
    copy into a ZeroMQ frame; nothing is unpacked and packed again.

    So the route reads records with a tiny protobuf wire scanner rather
    than hm__append_request__unpack: it only needs each event's bytes, and
    its name and env when the route filters. Records were fully validated
    by protobuf-c when they were appended; the scanner still checks every
    length so a damaged record is skipped (and counted), never trusted.

    The sealed batches of a route are an array in offset order that
    covers (committed, sealed_end] without gaps; records with no kept
    event while nothing is open become "empty" batches that count as
    acknowledged, so a route whose filter matches nothing still commits. */
#include "route.h"

#include "fsutil.h"
#include "hm_buf.h"
#include "hm_log.h"
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_STATE_MAGIC "hamustro-route-state 1"

struct _route_t {
    const hm_route_config_t *cfg; /* the route's config (not owned; outlives us) */
    char *dir;                    /* data_dir/routes */
    char *path;                   /* its state file */
    char *tmp_path;               /* where the next state file is written first */
    size_t headroom;              /* bytes kept in front of a batch's events for the header */
    uint32_t max_events;          /* seal limits, from cfg */
    uint64_t max_bytes;           /* ... */
    uint64_t (*wall_s) (void);    /* epoch seconds for seal_time */
    uint64_t committed;           /* end of the acknowledged prefix */
    bool commit_dirty;            /* committed changed since the last save */
    route_batch_t **batches;      /* sealed batches, contiguous, in offset order */
    size_t nbatches;              /* in use */
    size_t batches_cap;           /* allocated */
    uint64_t sealed_end;          /* last offset covered by batches (committed if none) */
    route_batch_t *open;          /* the open batch (events == 0: nothing open) */
    uint64_t open_since_ms;       /* when its first event was read */
    uint64_t read_next;           /* next record to feed */
    uint64_t flush_upto;          /* FLUSH: seal once records up to here are read (0: none) */
    size_t readahead;             /* unacknowledged sealed batches held at most */
    rlog_t *log;                  /* attached log (not owned) */
    rlog_cursor_t *cursor;        /* our position in it */
    route_stats_t st;             /* counters */
};

static void s_check_flush (route_t *self);

/* Does the event pass the route's filter? -1 if undecodable. */
static int
s_passes (const route_t *self, const uint8_t *ev, size_t len)
{
    return scan_event_passes (self->cfg->filter_event, self->cfg->filter_env, ev, len);
}

/* Counts a record's events that pass the filter, and their bytes. -1 if
   the record does not decode as an AppendRequest. */
static int
s_measure (route_t *self, const uint8_t *rec, size_t len, uint32_t *n_p, uint64_t *bytes_p)
{
    const uint8_t *p = rec, *end = rec + len;
    bool have_id = false;
    uint32_t n = 0;
    uint64_t bytes = 0;
    while (p < end) {
        scan_field_t f;
        if (scan_field (&p, end, &f) != 0)
            return -1;
        if (f.num == 1) /* batch_id */
            have_id = f.wt == 0;
        else if (f.num == 2) { /* events */
            if (f.wt != 2)
                return -1;
            int pass = s_passes (self, f.data, f.len);
            if (pass < 0)
                return -1;
            self->st.events_in++;
            if (pass)
                n++, bytes += f.len;
        }
    }
    if (!have_id)
        return -1;
    *n_p = n, *bytes_p = bytes;
    return 0;
}

/* --- batches ------------------------------------------------------------- */

static route_batch_t *
s_batch_new (route_t *self, uint64_t first)
{
    route_batch_t *b = calloc (1, sizeof *b);
    if (!b)
        return NULL;
    b->first = b->last = first;
    b->buf_cap = self->headroom + 4096;
    b->buf = malloc (b->buf_cap);
    if (!b->buf) {
        free (b);
        return NULL;
    }
    b->buf_len = self->headroom;
    return b;
}

static void
s_batch_release (route_batch_t *b)
{
    free (b->buf);
    b->buf = NULL;
    b->msg = NULL;
    b->buf_len = b->buf_cap = b->msg_len = 0;
}

static void
s_batch_destroy (route_batch_t **b_p)
{
    if (*b_p) {
        s_batch_release (*b_p);
        free (*b_p);
        *b_p = NULL;
    }
}

/* Copies the record's kept events into b as Delivery field 5 entries.
   The size is bounded by the seal limits: a batch is sealed before a
   record would take it past max_bytes, so it holds at most max_bytes or
   one record (<= RLOG_MAX_PAYLOAD). */
static int
s_batch_add (route_t *self, route_batch_t *b, const uint8_t *rec, size_t len, uint32_t n,
             uint64_t bytes)
{
    size_t need = b->buf_len + bytes + (size_t)n * 6;
    if (need > b->buf_cap) {
        size_t cap = b->buf_cap;
        while (cap < need)
            cap *= 2;
        uint8_t *buf = realloc (b->buf, cap);
        if (!buf)
            return -1;
        b->buf = buf, b->buf_cap = cap;
    }
    const uint8_t *p = rec, *end = rec + len;
    while (p < end) {
        scan_field_t f;
        if (scan_field (&p, end, &f) != 0)
            return -1; /* cannot happen: s_measure read the same bytes */
        if (f.num != 2 || s_passes (self, f.data, f.len) != 1)
            continue;
        b->buf[b->buf_len++] = 0x2a; /* Delivery.events: field 5, length-delimited */
        b->buf_len += scan_put_varint (b->buf + b->buf_len, f.len);
        memcpy (b->buf + b->buf_len, f.data, f.len);
        b->buf_len += f.len;
    }
    b->events += n;
    b->bytes += bytes;
    return 0;
}

/* Writes the Delivery header in front of the events: the batch is ready. */
static void
s_batch_finish (route_t *self, route_batch_t *b)
{
    if (b->events == 0) {
        b->state = ROUTE_BATCH_ACKED;
        s_batch_release (b);
        return;
    }
    uint8_t hdr[256];
    size_t name_len = strlen (self->cfg->name), n = 0;
    hdr[n++] = 0x0a; /* route */
    n += scan_put_varint (hdr + n, name_len);
    memcpy (hdr + n, self->cfg->name, name_len);
    n += name_len;
    hdr[n++] = 0x10; /* first_offset */
    n += scan_put_varint (hdr + n, b->first);
    hdr[n++] = 0x18; /* last_offset */
    n += scan_put_varint (hdr + n, b->last);
    hdr[n++] = 0x20; /* seal_time */
    n += scan_put_varint (hdr + n, b->seal_time);
    uint8_t *msg = b->buf + self->headroom - n;
    memcpy (msg, hdr, n);
    b->msg = msg;
    b->msg_len = b->buf_len - (self->headroom - n);
    b->state = ROUTE_BATCH_QUEUED;
    b->ready_ms = 0;
}

/* Room for one more batch, so that sealing cannot fail half-way. */
static int
s_reserve (route_t *self)
{
    if (self->nbatches == self->batches_cap) {
        size_t cap = self->batches_cap ? self->batches_cap * 2 : 16;
        route_batch_t **a = realloc (self->batches, cap * sizeof *a);
        if (!a)
            return -1;
        self->batches = a, self->batches_cap = cap;
    }
    return 0;
}

static int
s_push (route_t *self, route_batch_t *b)
{
    if (s_reserve (self) != 0)
        return -1;
    self->batches[self->nbatches++] = b;
    self->sealed_end = b->last;
    return 0;
}

/* Drops the acknowledged prefix and advances the committed offset. */
static void
s_advance_commit (route_t *self)
{
    size_t k = 0;
    while (k < self->nbatches && self->batches[k]->state == ROUTE_BATCH_ACKED) {
        self->committed = self->batches[k]->last;
        s_batch_destroy (&self->batches[k]);
        k++;
    }
    if (k) {
        memmove (self->batches, self->batches + k, (self->nbatches - k) * sizeof *self->batches);
        self->nbatches -= k;
        self->commit_dirty = true;
    }
}

static route_batch_t *
s_find (route_t *self, uint64_t first, uint64_t last)
{
    for (size_t i = 0; i < self->nbatches; i++)
        if (self->batches[i]->first == first && self->batches[i]->last == last)
            return self->batches[i];
    return NULL;
}

static uint64_t
s_wall (void)
{
    return (uint64_t)time (NULL);
}

static void
s_seal (route_t *self)
{
    route_batch_t *b = self->open;
    if (!b || b->events == 0)
        return;
    route_batch_t *next = s_batch_new (self, 0);
    if (!next || s_reserve (self) != 0) {
        hm_error ("route %s: out of memory, cannot seal", self->cfg->name);
        s_batch_destroy (&next);
        return;
    }
    b->seal_time = self->wall_s ();
    s_batch_finish (self, b);
    s_push (self, b); /* cannot fail after s_reserve */
    b->saved = false;
    self->open = next;
    self->st.sealed++;
    hm_debug ("route %s: sealed %" PRIu64 "..%" PRIu64 " (%u events)", self->cfg->name, b->first,
              b->last, b->events);
}

/* A record with nothing kept while no batch is open: acknowledged at once. */
static void
s_commit_empty (route_t *self, uint64_t seq)
{
    if (self->nbatches == 0) {
        self->committed = self->sealed_end = seq;
        self->commit_dirty = true;
        return;
    }
    route_batch_t *tail = self->batches[self->nbatches - 1];
    if (tail->state == ROUTE_BATCH_ACKED && tail->events == 0) {
        tail->last = self->sealed_end = seq;
        tail->saved = false;
        return;
    }
    route_batch_t *b = calloc (1, sizeof *b);
    if (!b || s_push (self, b) != 0) {
        free (b);
        hm_error ("route %s: out of memory", self->cfg->name);
        return;
    }
    b->first = b->last = seq;
    b->state = ROUTE_BATCH_ACKED;
}

/* Rebuilt batches whose records have all been read are ready. */
static void
s_finish_loaded (route_t *self, uint64_t upto)
{
    for (size_t i = 0; i < self->nbatches; i++) {
        route_batch_t *b = self->batches[i];
        if (b->first > upto)
            break;
        if (b->state == ROUTE_BATCH_LOADING && b->last <= upto)
            s_batch_finish (self, b);
    }
    s_advance_commit (self);
}

/* --- life cycle ---------------------------------------------------------- */

static char *
s_strdupf (const char *a, const char *b, const char *c)
{
    size_t n = strlen (a) + strlen (b) + strlen (c) + 1;
    char *s = malloc (n);
    if (s)
        snprintf (s, n, "%s%s%s", a, b, c);
    return s;
}

static int
s_load (route_t *self, char *errbuf, size_t errlen)
{
    FILE *f = fopen (self->path, "r");
    if (!f && errno == ENOENT)
        return 1;
    if (!f) {
        snprintf (errbuf, errlen, "%s: %s", self->path, strerror (errno));
        return -1;
    }
    char line[256];
    int lineno = 0, rc = -1;
    bool header = false, have_commit = false, ended = false;
    uint64_t end = 0;
    while (fgets (line, sizeof line, f)) {
        lineno++;
        uint64_t first, last, seal;
        unsigned acked;
        char extra;
        if (!header) {
            if (strcmp (line, S_STATE_MAGIC "\n") != 0)
                goto bad;
            header = true;
        }
        else if (!have_commit) {
            if (sscanf (line, "committed %" SCNu64 " %c", &self->committed, &extra) != 1)
                goto bad;
            have_commit = true;
            end = self->committed;
        }
        else if (strcmp (line, "end\n") == 0)
            ended = true;
        else if (!ended &&
                 sscanf (line, "batch %" SCNu64 " %" SCNu64 " %" SCNu64 " %u %c", &first, &last,
                         &seal, &acked, &extra) == 4 &&
                 first == end + 1 && last >= first && acked <= 1) {
            route_batch_t *b = acked ? calloc (1, sizeof *b) : s_batch_new (self, first);
            if (!b || s_push (self, b) != 0) {
                free (b);
                snprintf (errbuf, errlen, "%s: out of memory", self->path);
                goto done;
            }
            b->first = first, b->last = last, b->seal_time = seal;
            b->state = acked ? ROUTE_BATCH_ACKED : ROUTE_BATCH_LOADING;
            b->saved = true;
            end = last;
        }
        else
            goto bad;
    }
    if (!ended)
        goto bad;
    self->sealed_end = end;
    rc = 0;
    goto done;
bad:
    snprintf (errbuf, errlen, "%s: line %d: not a route state file (or a truncated one)",
              self->path, lineno);
done:
    fclose (f);
    return rc;
}

/* The state file counts on records past its committed offset still being
   in the log (to rebuild the batches it lists). If the log starts later
   (segments deleted by hand, a disk that lost them, or a router before
   e6346b5 that deleted ahead of the saved offset) those records are gone:
   a batch wholly before the log's start is not delivered again, and one
   reaching into the log is rebuilt from the log's first record. Its
   offsets, and so its object name, change: a partial batch must never
   overwrite a whole one delivered before (a duplicate beats a loss). */
static void
s_skip_missing (route_t *self, uint64_t first_seq)
{
    if (first_seq == 0 || self->committed + 1 >= first_seq)
        return;
    hm_error ("route %s: records %" PRIu64 "..%" PRIu64 " are no longer in the log (deleted or "
              "lost); batches over them are not delivered again, one reaching past them is "
              "delivered from %" PRIu64 " under a new name",
              self->cfg->name, self->committed + 1, first_seq - 1, first_seq);
    self->st.missing = first_seq - 1 - self->committed;
    size_t keep = 0;
    for (size_t i = 0; i < self->nbatches; i++) {
        route_batch_t *b = self->batches[i];
        if (b->last < first_seq) {
            s_batch_destroy (&self->batches[i]);
            continue;
        }
        if (b->first < first_seq) {
            b->first = first_seq;
            b->saved = false;
        }
        self->batches[keep++] = b;
    }
    self->nbatches = keep;
    self->committed = first_seq - 1;
    if (self->sealed_end < self->committed)
        self->sealed_end = self->committed;
}

route_t *
route_new (const hm_route_config_t *cfg, const char *data_dir, uint64_t first_seq, char *errbuf,
           size_t errlen)
{
    route_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (errbuf, errlen, "out of memory");
        return NULL;
    }
    self->cfg = cfg;
    self->max_events = cfg->max_events ? cfg->max_events : 1;
    self->max_bytes = cfg->max_bytes ? cfg->max_bytes : 1;
    self->headroom = strlen (cfg->name) + 48;
    self->wall_s = s_wall;
    self->readahead = 2;
    self->dir = s_strdupf (data_dir, "/routes", "");
    char *base = self->dir ? s_strdupf (self->dir, "/", cfg->name) : NULL;
    self->path = base ? s_strdupf (base, ".state", "") : NULL;
    self->tmp_path = base ? s_strdupf (base, ".state.tmp", "") : NULL;
    free (base);
    self->open = self->path ? s_batch_new (self, 0) : NULL;
    if (!self->tmp_path || !self->open) {
        snprintf (errbuf, errlen, "out of memory");
        goto fail;
    }
    /* Made durable (fsync of each new directory's parent): a power cut
       must not take the route's state with the directory it is in. */
    if (hm_fs_mkdirs (self->dir, 0755, errbuf, errlen) != 0)
        goto fail;
    int rc = s_load (self, errbuf, errlen);
    if (rc < 0)
        goto fail;
    if (rc == 1) /* no state yet: start with the oldest record kept */
        self->committed = self->sealed_end = first_seq ? first_seq - 1 : 0;
    s_skip_missing (self, first_seq);
    self->read_next = self->committed + 1;
    s_advance_commit (self);
    self->commit_dirty = false;
    return self;
fail:
    route_destroy (&self);
    return NULL;
}

static void
s_forget_batches (route_t *self)
{
    for (size_t i = 0; i < self->nbatches; i++)
        s_batch_destroy (&self->batches[i]);
    self->nbatches = 0;
}

void
route_destroy (route_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    route_t *self = *self_p;
    s_forget_batches (self);
    free (self->batches);
    s_batch_destroy (&self->open);
    rlog_cursor_destroy (&self->cursor);
    free (self->dir);
    free (self->path);
    free (self->tmp_path);
    free (self);
    *self_p = NULL;
}

const char *
route_name (const route_t *self)
{
    return self->cfg->name;
}

const hm_route_config_t *
route_config (const route_t *self)
{
    return self->cfg;
}

void
route_set_clock (route_t *self, uint64_t (*wall_s) (void))
{
    self->wall_s = wall_s ? wall_s : s_wall;
}

uint64_t
route_highest_offset (const route_t *self)
{
    return self->sealed_end > self->committed ? self->sealed_end : self->committed;
}

uint64_t
route_committed (const route_t *self)
{
    return self->committed;
}

void
route_stats (const route_t *self, route_stats_t *st)
{
    *st = self->st;
    st->committed = self->committed;
    st->read_next = self->read_next;
    st->batches = self->nbatches;
    st->queued = st->inflight = st->loading = 0;
    for (size_t i = 0; i < self->nbatches; i++) {
        route_batch_state_t s = self->batches[i]->state;
        st->queued += s == ROUTE_BATCH_QUEUED;
        st->inflight += s == ROUTE_BATCH_INFLIGHT;
        st->loading += s == ROUTE_BATCH_LOADING;
    }
    st->open_events = self->open->events;
}

/* --- reading ------------------------------------------------------------- */

int
route_attach_log (route_t *self, rlog_t *log)
{
    rlog_cursor_destroy (&self->cursor);
    self->log = log;
    self->cursor = rlog_cursor_new (log, self->read_next);
    return self->cursor ? 0 : -1;
}

bool
route_wants_records (const route_t *self)
{
    if (self->read_next <= self->sealed_end)
        return true; /* rebuilding batches it already promised */
    size_t unacked = 0;
    for (size_t i = 0; i < self->nbatches; i++)
        unacked += self->batches[i]->state != ROUTE_BATCH_ACKED;
    return unacked < self->readahead && self->nbatches < ROUTE_MAX_BATCHES;
}

void
route_set_readahead (route_t *self, size_t batches)
{
    self->readahead = batches ? batches : 1;
}

void
route_feed (route_t *self, uint64_t seq, const uint8_t *data, size_t len, uint64_t now_ms)
{
    if (seq < self->read_next)
        return;
    /* A FLUSH's batch ends at the last record it covered. */
    if (self->flush_upto && seq > self->flush_upto)
        s_check_flush (self);
    self->st.records++;
    self->read_next = seq + 1;
    uint32_t n = 0;
    uint64_t bytes = 0;
    if (s_measure (self, data, len, &n, &bytes) != 0) {
        self->st.undecodable++;
        hm_warn ("route %s: record %" PRIu64 " does not decode; skipped", self->cfg->name, seq);
        n = 0, bytes = 0;
    }
    else
        self->st.events_kept += n;
    if (seq <= self->sealed_end) {
        /* Rebuilding: the record belongs to a batch sealed before a restart. */
        for (size_t i = 0; i < self->nbatches; i++) {
            route_batch_t *b = self->batches[i];
            if (b->first <= seq && seq <= b->last) {
                if (b->state == ROUTE_BATCH_LOADING && n &&
                    s_batch_add (self, b, data, len, n, bytes) != 0)
                    hm_error ("route %s: out of memory rebuilding %" PRIu64 "..%" PRIu64,
                              self->cfg->name, b->first, b->last);
                break;
            }
        }
        s_finish_loaded (self, seq);
        return;
    }
    route_batch_t *open = self->open;
    if (n == 0) {
        if (open->events)
            open->last = seq;
        else
            s_commit_empty (self, seq);
        return;
    }
    if (open->events &&
        (open->events + (uint64_t)n > self->max_events || open->bytes + bytes > self->max_bytes)) {
        s_seal (self);
        open = self->open;
    }
    if (open->events == 0) {
        open->first = seq;
        self->open_since_ms = now_ms;
    }
    if (s_batch_add (self, open, data, len, n, bytes) != 0) {
        hm_error ("route %s: out of memory, record %" PRIu64 " dropped from the batch",
                  self->cfg->name, seq);
        return;
    }
    open->last = seq;
    if (open->events >= self->max_events || open->bytes >= self->max_bytes)
        s_seal (self);
}

void
route_fed_upto (route_t *self, uint64_t seq)
{
    if (self->read_next <= seq)
        self->read_next = seq + 1;
    s_finish_loaded (self, seq);
    s_check_flush (self);
}

int
route_pump (route_t *self, uint64_t limit, uint64_t now_ms, size_t max_records)
{
    if (!self->cursor || self->read_next > limit)
        return 0;
    int count = 0;
    while ((size_t)count < max_records && route_wants_records (self)) {
        uint64_t seq;
        const uint8_t *data;
        size_t len;
        int rc = rlog_cursor_next (self->cursor, limit, &seq, &data, &len);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            /* Everything up to limit was read: gaps in the log are over. */
            route_fed_upto (self, limit);
            break;
        }
        route_feed (self, seq, data, len, now_ms);
        count++;
    }
    s_check_flush (self);
    return count;
}

/* --- sealing ------------------------------------------------------------- */

void
route_tick (route_t *self, uint64_t now_ms)
{
    if (self->open->events && now_ms >= self->open_since_ms + self->cfg->max_age_ms)
        s_seal (self);
}

void
route_flush (route_t *self)
{
    s_seal (self);
}

/* A FLUSH covers records the route has not read yet (its read-ahead may
   be full): remember how far, and seal again once they are read. */
void
route_flush_upto (route_t *self, uint64_t upto)
{
    s_seal (self);
    if (self->read_next <= upto && upto > self->flush_upto)
        self->flush_upto = upto;
}

static void
s_check_flush (route_t *self)
{
    if (self->flush_upto && self->read_next > self->flush_upto) {
        s_seal (self);
        self->flush_upto = 0;
    }
}

uint64_t
route_next_deadline (const route_t *self)
{
    return self->open->events ? self->open_since_ms + self->cfg->max_age_ms : UINT64_MAX;
}

/* --- persistence --------------------------------------------------------- */

bool
route_needs_save (const route_t *self, bool seals_only)
{
    for (size_t i = 0; i < self->nbatches; i++) {
        const route_batch_t *b = self->batches[i];
        if (!b->saved && (!seals_only || b->state != ROUTE_BATCH_ACKED))
            return true;
    }
    return !seals_only && self->commit_dirty;
}

int
route_save (route_t *self)
{
    hm_buf_t text;
    hm_buf_init (&text, 0);
    hm_buf_printf (&text, S_STATE_MAGIC "\ncommitted %" PRIu64 "\n", self->committed);
    for (size_t i = 0; i < self->nbatches; i++) {
        const route_batch_t *b = self->batches[i];
        hm_buf_printf (&text, "batch %" PRIu64 " %" PRIu64 " %" PRIu64 " %d\n", b->first, b->last,
                       b->seal_time, b->state == ROUTE_BATCH_ACKED);
    }
    int rc = hm_buf_puts (&text, "end\n");
    int fd = rc == 0 ? open (self->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    /* Why the fsyncs: rename is atomic, but without them a crash can leave
       the new name pointing at a file whose bytes never reached the disk. */
    if (fd < 0 || hm_fs_write_all (fd, text.data, text.len) != 0 || fsync (fd) != 0) {
        hm_error ("route %s: cannot write %s: %s", self->cfg->name, self->tmp_path,
                  strerror (errno));
        goto fail;
    }
    close (fd);
    fd = -1;
    if (rename (self->tmp_path, self->path) != 0) {
        hm_error ("route %s: cannot rename %s: %s", self->cfg->name, self->tmp_path,
                  strerror (errno));
        goto fail;
    }
    if (hm_fs_fsync_dir (self->dir) != 0) {
        hm_error ("route %s: cannot sync %s: %s", self->cfg->name, self->dir, strerror (errno));
        goto fail;
    }
    hm_buf_free (&text);
    for (size_t i = 0; i < self->nbatches; i++)
        self->batches[i]->saved = true;
    self->commit_dirty = false;
    return 0;
fail:
    if (fd >= 0)
        close (fd);
    hm_buf_free (&text);
    self->st.save_errors++;
    return -1;
}

/* --- delivery ------------------------------------------------------------ */

route_batch_t *
route_next_ready (route_t *self, uint64_t now_ms)
{
    for (size_t i = 0; i < self->nbatches; i++) {
        route_batch_t *b = self->batches[i];
        if (b->state == ROUTE_BATCH_QUEUED && b->saved && b->ready_ms <= now_ms)
            return b;
    }
    return NULL;
}

uint64_t
route_next_retry (const route_t *self)
{
    uint64_t t = UINT64_MAX;
    for (size_t i = 0; i < self->nbatches; i++) {
        const route_batch_t *b = self->batches[i];
        if (b->state == ROUTE_BATCH_QUEUED && b->saved && b->ready_ms < t)
            t = b->ready_ms;
    }
    return t;
}

void
route_mark_sent (route_t *self, route_batch_t *b, void *owner)
{
    (void)self;
    b->state = ROUTE_BATCH_INFLIGHT;
    b->owner = owner;
    b->deliveries++;
}

int
route_ack (route_t *self, uint64_t first, uint64_t last, void **owner_p)
{
    *owner_p = NULL;
    route_batch_t *b = s_find (self, first, last);
    /* A LOADING batch may be acknowledged too: a sink can finish a batch
       it got before the router restarted. */
    if (!b || b->state == ROUTE_BATCH_ACKED)
        return 0;
    if (b->state == ROUTE_BATCH_INFLIGHT)
        *owner_p = b->owner;
    b->owner = NULL;
    b->state = ROUTE_BATCH_ACKED;
    b->saved = false; /* the acked flag is worth saving, but not urgent */
    s_batch_release (b);
    self->st.acked++;
    s_advance_commit (self);
    return 1;
}

int
route_nack (route_t *self, uint64_t first, uint64_t last, uint64_t ready_ms, void **owner_p)
{
    *owner_p = NULL;
    route_batch_t *b = s_find (self, first, last);
    if (!b || b->state != ROUTE_BATCH_INFLIGHT)
        return 0;
    *owner_p = b->owner;
    b->owner = NULL;
    b->state = ROUTE_BATCH_QUEUED;
    b->ready_ms = ready_ms;
    self->st.nacked++;
    return 1;
}

size_t
route_requeue_owner (route_t *self, void *owner)
{
    size_t n = 0;
    for (size_t i = 0; i < self->nbatches; i++) {
        route_batch_t *b = self->batches[i];
        if (b->state == ROUTE_BATCH_INFLIGHT && b->owner == owner) {
            b->state = ROUTE_BATCH_QUEUED;
            b->owner = NULL;
            b->ready_ms = 0;
            n++;
        }
    }
    self->st.requeued += n;
    return n;
}

int
route_replay (route_t *self, uint64_t offset)
{
    if (offset == 0)
        offset = 1;
    s_forget_batches (self);
    s_batch_destroy (&self->open);
    self->open = s_batch_new (self, 0);
    if (!self->open)
        return -1;
    self->committed = self->sealed_end = offset - 1;
    self->read_next = offset;
    self->flush_upto = 0;
    self->commit_dirty = true;
    if (self->log && route_attach_log (self, self->log) != 0)
        return -1;
    hm_info ("route %s: replaying from offset %" PRIu64, self->cfg->name, offset);
    return route_save (self);
}
