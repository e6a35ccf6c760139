/*  route: see route.h. This file: the route's life cycle, reading the
    log and sealing; batches are built in route_batch.c, the state file is
    route_state.c, delivery bookkeeping route_deliver.c (route_priv.h). */
#include "route_priv.h"

#include "fsutil.h"
#include "hm_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_RETRY_MIN_MS 1000  /* a stopped route reads again after this */
#define S_RETRY_MAX_MS 30000 /* ... doubling up to this while it keeps failing */

static uint64_t
s_wall (void)
{
    return (uint64_t)time (NULL);
}

static void s_check_flush (route_t *self);

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
    self->realloc_fn = realloc;
    self->readahead = 2;
    self->dir = s_strdupf (data_dir, "/routes", "");
    char *base = self->dir ? s_strdupf (self->dir, "/", cfg->name) : NULL;
    self->path = base ? s_strdupf (base, ".state", "") : NULL;
    self->tmp_path = base ? s_strdupf (base, ".state.tmp", "") : NULL;
    free (base);
    self->open = self->path ? route_batch_new (self, 0) : NULL;
    if (!self->tmp_path || !self->open) {
        snprintf (errbuf, errlen, "out of memory");
        goto fail;
    }
    /* Made durable (fsync of each new directory's parent): a power cut
       must not take the route's state with the directory it is in. */
    if (hm_fs_mkdirs (self->dir, 0755, errbuf, errlen) != 0)
        goto fail;
    int rc = route_state_load (self, errbuf, errlen);
    if (rc < 0)
        goto fail;
    if (rc == 1) /* no state yet: start with the oldest record kept */
        self->committed = self->sealed_end = first_seq ? first_seq - 1 : 0;
    route_state_skip_missing (self, first_seq);
    self->read_next = self->committed + 1;
    route_advance_commit (self);
    self->commit_dirty = false;
    return self;
fail:
    route_destroy (&self);
    return NULL;
}

void
route_destroy (route_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    route_t *self = *self_p;
    route_forget_batches (self);
    free (self->batches);
    route_batch_destroy (&self->open);
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

void
route_set_allocator (route_t *self, void *(*realloc_fn) (void *, size_t))
{
    self->realloc_fn = realloc_fn ? realloc_fn : realloc;
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
    st->pending_events = st->oldest_seal = 0;
    for (size_t i = 0; i < self->nbatches; i++) {
        route_batch_state_t s = self->batches[i]->state;
        if (s != ROUTE_BATCH_ACKED) {
            st->pending_events += self->batches[i]->events;
            if (!st->oldest_seal || self->batches[i]->seal_time < st->oldest_seal)
                st->oldest_seal = self->batches[i]->seal_time;
        }
        st->queued += s == ROUTE_BATCH_QUEUED;
        st->inflight += s == ROUTE_BATCH_INFLIGHT;
        st->loading += s == ROUTE_BATCH_LOADING;
    }
    st->open_events = self->open->events;
    st->open_since_ms = self->open_since_ms;
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

/* Records read_next .. upto are not in the log (a gap: the log lost its
   tail and its numbers were advanced past it, rlog_advance_to). Batches
   being rebuilt over it are ready with what was read; past the sealed
   batches, the open batch (if it has events) or an empty acknowledged
   batch covers it, so the state file stays without holes. 0 or -1 (out
   of memory: nothing changed). */
static int
s_skip_gap (route_t *self, uint64_t upto)
{
    if (upto < self->read_next)
        return 0;
    if (upto > self->sealed_end) {
        if (self->open->events)
            self->open->last = upto;
        else if (route_commit_empty (self, upto) != 0)
            return -1;
    }
    self->read_next = upto + 1;
    route_finish_loaded (self, upto);
    return 0;
}

/* Takes record seq (n kept events, bytes in all) into the batches. 0 or
   -1 (out of memory): then the record is in no batch and nothing that
   would have to be undone changed (a seal before it may have happened). */
static int
s_take (route_t *self, uint64_t seq, const uint8_t *data, size_t len, uint32_t n, uint64_t bytes,
        uint64_t now_ms)
{
    if (seq <= self->sealed_end) {
        /* Rebuilding: the record belongs to a batch sealed before a restart. */
        for (size_t i = 0; i < self->nbatches; i++) {
            route_batch_t *b = self->batches[i];
            if (b->first <= seq && seq <= b->last) {
                if (b->state == ROUTE_BATCH_LOADING && n &&
                    route_batch_add (self, b, data, len, n, bytes) != 0) {
                    hm_error ("route %s: out of memory rebuilding %" PRIu64 "..%" PRIu64,
                              self->cfg->name, b->first, b->last);
                    return -1;
                }
                break;
            }
        }
        route_finish_loaded (self, seq);
        return 0;
    }
    route_batch_t *open = self->open;
    if (n == 0) {
        if (open->events) {
            open->last = seq;
            return 0;
        }
        return route_commit_empty (self, seq);
    }
    if (open->events &&
        (open->events + (uint64_t)n > self->max_events || open->bytes + bytes > self->max_bytes)) {
        if (route_seal (self) != 0)
            return -1;
        open = self->open;
    }
    bool starts = open->events == 0;
    /* Why not drop the record on failure, as this once did: it was
       acknowledged to a client; the caller reads it again later. */
    if (route_batch_add (self, open, data, len, n, bytes) != 0) {
        hm_error ("route %s: out of memory taking record %" PRIu64 " into a batch", self->cfg->name,
                  seq);
        return -1;
    }
    if (starts) {
        open->first = seq;
        self->open_since_ms = now_ms;
    }
    open->last = seq;
    if (open->events >= self->max_events || open->bytes >= self->max_bytes)
        route_seal (self); /* if it fails, the batch is sealed before the next record */
    return 0;
}

int
route_feed (route_t *self, uint64_t seq, const uint8_t *data, size_t len, uint64_t now_ms)
{
    if (seq < self->read_next)
        return 0;
    /* A FLUSH's batch ends at the last record it covered. */
    if (self->flush_upto && seq > self->flush_upto)
        s_check_flush (self);
    if (s_skip_gap (self, seq - 1) != 0)
        return -1;
    uint32_t n = 0, all = 0;
    uint64_t bytes = 0;
    bool bad = route_measure (self, data, len, &n, &all, &bytes) != 0;
    if (bad)
        n = 0, bytes = 0, all = 0;
    if (s_take (self, seq, data, len, n, bytes, now_ms) != 0)
        return -1;
    self->read_next = seq + 1;
    self->st.records++;
    self->st.events_in += all;
    self->st.events_kept += n;
    if (bad) {
        self->st.undecodable++;
        hm_warn ("route %s: record %" PRIu64 " does not decode; skipped", self->cfg->name, seq);
    }
    return 0;
}

int
route_fed_upto (route_t *self, uint64_t seq)
{
    if (s_skip_gap (self, seq) != 0)
        return -1;
    route_finish_loaded (self, seq);
    s_check_flush (self);
    return 0;
}

/* The route stops before read_next: read it again later, from a new
   cursor (the old one has handed the record out already, or holds bytes
   of a log that was cut back since). */
static void
s_stop (route_t *self, uint64_t now_ms, const char *why)
{
    uint64_t pause = self->retry_pause_ms ? self->retry_pause_ms * 2 : S_RETRY_MIN_MS;
    self->retry_pause_ms = pause < S_RETRY_MAX_MS ? pause : S_RETRY_MAX_MS;
    self->retry_ms = now_ms + self->retry_pause_ms;
    self->stalled = true;
    hm_error ("route %s: stopped before record %" PRIu64 " (%s); reading it again in %" PRIu64
              " ms (%" PRIu64 " read errors, %" PRIu64 " allocation failures so far)",
              self->cfg->name, self->read_next, why, self->retry_pause_ms, self->st.read_errors,
              self->st.alloc_failures);
}

int
route_pump (route_t *self, uint64_t limit, uint64_t now_ms, size_t max_records)
{
    if (!self->log || self->read_next > limit)
        return 0;
    if (self->stalled && now_ms < self->retry_ms)
        return 0;
    if (self->stalled || !self->cursor) {
        if (route_attach_log (self, self->log) != 0) {
            self->st.read_errors++;
            s_stop (self, now_ms, "cannot open a cursor on the log");
            return -1;
        }
        if (self->stalled)
            hm_info ("route %s: reading again from record %" PRIu64, self->cfg->name,
                     self->read_next);
        self->stalled = false;
    }
    int count = 0;
    while ((size_t)count < max_records && route_wants_records (self)) {
        uint64_t seq;
        const uint8_t *data;
        size_t len;
        int rc = rlog_cursor_next (self->cursor, limit, &seq, &data, &len);
        if (rc < 0) {
            /* Damage or a read error where records up to limit should be:
               never count them as read (they were acknowledged). */
            self->st.read_errors++;
            s_stop (self, now_ms, "the log cannot be read there: damaged, or a read error");
            return -1;
        }
        if (rc == 0) {
            /* Everything up to limit was read: gaps in the log are over. */
            if (route_fed_upto (self, limit) != 0) {
                self->st.alloc_failures++;
                s_stop (self, now_ms, "out of memory");
                return -1;
            }
            break;
        }
        if (route_feed (self, seq, data, len, now_ms) != 0) {
            self->st.alloc_failures++;
            s_stop (self, now_ms, "out of memory");
            return -1;
        }
        self->retry_pause_ms = 0;
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
        route_seal (self);
}

void
route_flush (route_t *self)
{
    route_seal (self);
}

/* A FLUSH covers records the route has not read yet (its read-ahead may
   be full): remember how far, and seal again once they are read. */
void
route_flush_upto (route_t *self, uint64_t upto)
{
    route_seal (self);
    if (self->read_next <= upto && upto > self->flush_upto)
        self->flush_upto = upto;
}

static void
s_check_flush (route_t *self)
{
    if (self->flush_upto && self->read_next > self->flush_upto && route_seal (self) == 0)
        self->flush_upto = 0;
}

uint64_t
route_next_deadline (const route_t *self)
{
    uint64_t t = self->open->events ? self->open_since_ms + self->cfg->max_age_ms : UINT64_MAX;
    return self->stalled && self->retry_ms < t ? self->retry_ms : t;
}

int
route_replay (route_t *self, uint64_t offset)
{
    if (offset == 0)
        offset = 1;
    route_forget_batches (self);
    route_batch_destroy (&self->open);
    self->open = route_batch_new (self, 0);
    if (!self->open)
        return -1;
    self->committed = self->sealed_end = offset - 1;
    self->read_next = offset;
    self->flush_upto = 0;
    self->commit_dirty = true;
    self->stalled = false;
    self->retry_pause_ms = 0;
    if (self->log && route_attach_log (self, self->log) != 0)
        return -1;
    hm_info ("route %s: replaying from offset %" PRIu64, self->cfg->name, offset);
    return route_save (self);
}
