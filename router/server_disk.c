/*  server_disk: saving the routes' state, and the disk reserve that keeps
    a full disk from stopping those saves (reserve.h, ARCHITECTURE
    section 4). Part of the router's loop (server_priv.h).

    Why appends wait while the reserve is out. Segments are deleted only
    behind every route's saved committed offset, and a sealed batch leaves
    only once its seal is saved, so on a full disk the state save is the
    one write that makes room. A save writes a new file and renames it over
    the old one (atomic), so it needs free blocks. When a save fails the
    reserve is given back to make them; but if appends went on, a client's
    retry could take that room first (the log writes into whatever is
    free) and the next save fails with no reserve left to give: nothing is
    committed, nothing deleted, for good (seen under load: save_errors
    counting up every second). So while the reserve is not held (given
    back, or not made at start) every append is answered ERROR (a 503 for
    the client), the room it leaves is the state saves' alone, and the
    reserve is made again only once every route's last save succeeded; it
    is tried again after segments were deleted and every second. Then
    appends resume by themselves.

    Why not rewrite a preallocated state file in place (no new blocks):
    the state's size varies with the sealed batches (up to
    ROUTE_MAX_BATCHES lines), so a fixed slot must be sized for the worst
    case, and the format on disk would change; the reserve already holds
    the largest state file (asserted in route_state.c), and with appends
    stopped nothing else in the router takes it. Another process filling
    the disk can still take it: then the saves fail, appends stay refused,
    and all resumes once that room is given back. */
#include "server_priv.h"

#include "hm_log.h"
#include "reserve.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_SAVE_EVERY_MS 100     /* a route's committed offset is saved at most this often */
#define S_SAVE_RETRY_MS 1000    /* after a failed save, the next try */
#define S_RESERVE_RETRY_MS 1000 /* while the reserve is out, it is made again this often */

/* The reason appends are refused while the reserve is out. */
static void
s_set_reason (server_t *self, int err)
{
    snprintf (self->reserve_reason, sizeof self->reserve_reason,
              "no room kept for route state (%s): appends refused until every route's state "
              "is saved and the %u KiB reserve is made again",
              strerror (err ? err : ENOSPC), RESERVE_BYTES >> 10);
}

void
server_reserve_start (server_t *self, uint64_t now)
{
    snprintf (self->reserve, sizeof self->reserve, "%s/reserve", self->cfg->data_dir);
    self->reserve_held = reserve_make (self->reserve) == 0;
    self->reserve_tried_ms = now;
    if (!self->reserve_held) {
        s_set_reason (self, errno);
        hm_warn ("cannot keep %u KiB free in %s (%s): appends are refused until it can be made "
                 "(tried every %d ms), so that a full disk cannot stop route state from being "
                 "saved",
                 RESERVE_BYTES >> 10, self->reserve, strerror (errno), S_RESERVE_RETRY_MS);
    }
}

const char *
server_reserve_refusal (server_t *self)
{
    if (self->reserve_held)
        return NULL;
    self->c.reserve_refused++;
    return self->reserve_reason;
}

/* A state save failed (a full disk, most likely): give back the reserve
   so the next try has room, and refuse appends until it is made again.
   True if there was one to give. */
static bool
s_release (server_t *self, int err)
{
    if (!self->reserve_held || !reserve_release (self->reserve))
        return false;
    self->reserve_held = false;
    self->c.reserve_releases++;
    s_set_reason (self, err);
    hm_warn ("route state could not be saved (%s): released the %u KiB reserve (%s) to save it; "
             "appends are refused until every route's state is saved and the reserve is made "
             "again",
             strerror (err), RESERVE_BYTES >> 10, self->reserve);
    return true;
}

/* Makes the reserve again once every route's state is saved. */
static void
s_remake (server_t *self, uint64_t now)
{
    self->reserve_tried_ms = now;
    for (size_t i = 0; i < self->nroutes; i++)
        if (self->save_failed[i])
            return;
    if (reserve_make (self->reserve) != 0) {
        s_set_reason (self, errno);
        return;
    }
    self->reserve_held = true;
    self->c.reserve_made++;
    hm_info ("disk: the %u KiB reserve is back (%s); accepting appends (%" PRIu64
             " refused while it was out, in all)",
             RESERVE_BYTES >> 10, self->reserve, self->c.reserve_refused);
}

void
server_reserve_tick (server_t *self, uint64_t now, bool deleted)
{
    if (!self->reserve_held && (deleted || now >= self->reserve_tried_ms + S_RESERVE_RETRY_MS))
        s_remake (self, now);
}

uint64_t
server_reserve_due (const server_t *self)
{
    return self->reserve_held ? UINT64_MAX : self->reserve_tried_ms + S_RESERVE_RETRY_MS;
}

uint64_t
server_save_due (const server_t *self, size_t i)
{
    const route_t *r = self->routes[i];
    uint64_t pause = self->save_failed[i] ? S_SAVE_RETRY_MS : 0;
    if (route_needs_save (r, true))
        return self->saved_ms[i] + pause;
    if (route_committed (r) != self->saved_commit[i])
        return self->saved_ms[i] + pause + (self->full ? 0 : S_SAVE_EVERY_MS);
    return UINT64_MAX;
}

void
server_route_save (server_t *self, size_t i, uint64_t now)
{
    route_t *r = self->routes[i];
    uint64_t committed = route_committed (r);
    self->save_failed[i] = route_save (r) != 0;
    if (self->save_failed[i] && s_release (self, errno))
        self->save_failed[i] = route_save (r) != 0;
    if (!self->save_failed[i])
        self->saved_commit[i] = committed;
    self->saved_ms[i] = now;
}
