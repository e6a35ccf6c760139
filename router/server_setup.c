/*  server_setup: making and unmaking the router (server.h): the log, the
    routes and their dispatchers, the sync thread, the sockets and the
    metrics endpoint. Split from server.c, which keeps the loop and the
    append round. */
#include "server_priv.h"

#include "dispatch.h"
#include "fsutil.h"
#include "hm_log.h"
#include "ingests.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "syncer.h"
#include "tap.h"
#include "wire.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* --- set-up -------------------------------------------------------------- */

/* For ipc://PATH endpoints: creates PATH's directory (a failure shows in
   the bind's error). */
static void
s_ipc_dir (const char *endpoint)
{
    if (!endpoint || strncmp (endpoint, "ipc://", 6) != 0)
        return;
    char dir[PATH_MAX], err[256];
    if (hm_fs_dirname (endpoint + 6, dir, sizeof dir) == 0)
        hm_fs_mkdirs (dir, 0755, err, sizeof err);
}

static void *
s_bind (server_t *self, int type, const char *endpoint, int sndhwm, int rcvhwm, int linger,
        char *errbuf, size_t errlen)
{
    s_ipc_dir (endpoint);
    void *sock = zmq_socket (self->zctx, type);
    if (!sock || hm_wire_setup (sock, sndhwm, rcvhwm, linger) != 0 ||
        hm_curve_apply (sock, self->cfg, true) != 0 || !endpoint ||
        zmq_bind (sock, endpoint) != 0) {
        snprintf (errbuf, errlen, "cannot bind %s: %s", endpoint ? endpoint : "(none)",
                  zmq_strerror (zmq_errno ()));
        if (sock)
            zmq_close (sock);
        return NULL;
    }
    return sock;
}

server_t *
server_new (const hm_config_t *cfg, char *errbuf, size_t errlen)
{
    server_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (errbuf, errlen, "out of memory");
        return NULL;
    }
    self->cfg = cfg;
    self->started_ms = server_now_ms ();
    hm_arena_init (&self->decode, S_DECODE_BLOCK);
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%s/log", cfg->data_dir);
    self->log = rlog_new (dir, cfg->segment_bytes, cfg->max_log_bytes, errbuf, errlen);
    if (!self->log)
        goto fail;
    rlog_set_zero_ahead (self->log, S_ZERO_AHEAD);
    /* Delivered segments are unlinked on a thread of their own (reaper.h):
       on the loop, each 64 MiB one stalled every request ~25 ms. */
    if (rlog_set_reaper (self->log, S_REAPER_MAX) != 0)
        hm_warn ("log: no thread to delete segments (%s); deleting them on the loop",
                 strerror (errno));
    server_reserve_start (self, self->started_ms);
    self->nroutes = cfg->route_count;
    self->routes = calloc (self->nroutes + 1, sizeof *self->routes);
    self->disp = calloc (self->nroutes + 1, sizeof *self->disp);
    self->saved_commit = calloc (self->nroutes + 1, sizeof *self->saved_commit);
    self->saved_ms = calloc (self->nroutes + 1, sizeof *self->saved_ms);
    self->save_failed = calloc (self->nroutes + 1, sizeof *self->save_failed);
    self->pend = calloc (S_PENDING_MAX, sizeof *self->pend);
    self->items = calloc (self->nroutes + 5, sizeof *self->items);
    self->ingests = ingests_new ();
    self->zctx = zmq_ctx_new ();
    if (!self->routes || !self->disp || !self->saved_commit || !self->saved_ms ||
        !self->save_failed || !self->pend || !self->items || !self->ingests || !self->zctx) {
        snprintf (errbuf, errlen, "out of memory");
        goto fail;
    }
    /* Before any bind: a client's CurveZMQ handshake may come at once. */
    if (hm_zap_start (self->zctx, cfg, &self->zap, errbuf, errlen) != 0)
        goto fail;
    uint64_t highest = 0;
    for (size_t i = 0; i < self->nroutes; i++) {
        self->routes[i] =
            route_new (&cfg->routes[i], cfg->data_dir, rlog_first_seq (self->log), errbuf, errlen);
        if (!self->routes[i])
            goto fail;
        uint64_t h = route_highest_offset (self->routes[i]);
        highest = h > highest ? h : highest;
        self->saved_commit[i] = route_committed (self->routes[i]);
    }
    /* Never reuse an offset a route already used (the log may have lost
       an unsynced tail in "write" durability, or been wiped). */
    if (rlog_advance_to (self->log, highest + 1) != 0) {
        snprintf (errbuf, errlen, "%s: cannot start a segment: %s", dir, strerror (errno));
        goto fail;
    }
    for (size_t i = 0; i < self->nroutes; i++)
        if (route_attach_log (self->routes[i], self->log) != 0) {
            snprintf (errbuf, errlen, "route %s: cannot read the log", cfg->routes[i].name);
            goto fail;
        }
    self->syncer =
        syncer_new (rlog_durable_seq (self->log), cfg->durability == HM_DURABILITY_WRITE ? 100 : 0);
    if (!self->syncer) {
        snprintf (errbuf, errlen, "cannot start the sync thread");
        goto fail;
    }
    if (!(self->front = s_bind (self, ZMQ_ROUTER, cfg->router_endpoint, S_FRONT_HWM, S_FRONT_HWM,
                                S_REPLY_LINGER_MS, errbuf, errlen)) ||
        !(self->inject = s_bind (self, ZMQ_PULL, cfg->inject_endpoint, 1000, S_FRONT_HWM, 0, errbuf,
                                 errlen)) ||
        !(self->tap =
              s_bind (self, ZMQ_PUB, cfg->tap_endpoint, S_TAP_HWM, 1000, 0, errbuf, errlen)) ||
        !(self->control = s_bind (self, ZMQ_ROUTER, cfg->control_endpoint, 1000, 1000,
                                  S_REPLY_LINGER_MS, errbuf, errlen)))
        goto fail;
    /* The JSON tap (off unless configured): its own socket and bound. */
    if (cfg->tap_json_endpoint && !(self->tap_json = s_bind (self, ZMQ_PUB, cfg->tap_json_endpoint,
                                                             S_TAP_HWM, 1000, 0, errbuf, errlen)))
        goto fail;
    if (!(self->tapq = tap_new (self->tap, TAP_MAX_BYTES)) ||
        (self->tap_json && !(self->tapjq = tap_new (self->tap_json, TAP_MAX_BYTES)))) {
        snprintf (errbuf, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < self->nroutes; i++) {
        s_ipc_dir (cfg->routes[i].endpoint);
        self->disp[i] = dispatch_new (self->zctx, self->routes[i], cfg, errbuf, errlen);
        if (!self->disp[i])
            goto fail;
    }
    self->items[0] = (zmq_pollitem_t){NULL, syncer_fd (self->syncer), ZMQ_POLLIN, 0};
    self->items[1] = (zmq_pollitem_t){self->front, 0, ZMQ_POLLIN, 0};
    self->items[2] = (zmq_pollitem_t){self->inject, 0, ZMQ_POLLIN, 0};
    self->items[3] = (zmq_pollitem_t){self->control, 0, ZMQ_POLLIN, 0};
    for (size_t i = 0; i < self->nroutes; i++)
        self->items[4 + i] = (zmq_pollitem_t){dispatch_socket (self->disp[i]), 0, ZMQ_POLLIN, 0};
    self->nitems = 4 + self->nroutes;
    /* Metrics must not take the data path down: an address that cannot be
       listened on is logged and the router runs without them (a scrape
       then fails, which the "program down" alert reports). */
    if (cfg->metrics_listen && *cfg->metrics_listen) {
        char why[256];
        if (!(self->metrics = metrics_new (cfg->metrics_listen, why, sizeof why)))
            hm_error ("no metrics: %s", why);
        else
            hm_info ("metrics at http://%s/metrics", cfg->metrics_listen);
    }
    hm_info ("started: appends %s, inject %s, tap %s, control %s; data %s (%s); log %" PRIu64
             "..%" PRIu64 " in %zu segments, %" PRIu64 " bytes (%" PRIu64 " torn bytes cut); "
             "%zu routes",
             cfg->router_endpoint, cfg->inject_endpoint, cfg->tap_endpoint, cfg->control_endpoint,
             cfg->data_dir, cfg->durability == HM_DURABILITY_WRITE ? "write" : "fsync",
             rlog_first_seq (self->log), rlog_next_seq (self->log) - 1,
             rlog_segment_count (self->log), rlog_bytes (self->log), rlog_cut_bytes (self->log),
             self->nroutes);
    for (size_t i = 0; i < self->nroutes; i++)
        hm_info ("route %s: sink %s at %s, committed %" PRIu64, cfg->routes[i].name,
                 cfg->routes[i].sink, cfg->routes[i].endpoint, route_committed (self->routes[i]));
    return self;
fail:
    server_destroy (&self);
    return NULL;
}

static void
s_close (void **sock_p, int linger)
{
    if (*sock_p) {
        zmq_setsockopt (*sock_p, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close (*sock_p);
        *sock_p = NULL;
    }
}

void
server_destroy (server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    server_t *self = *self_p;
    metrics_destroy (&self->metrics);
    while (self->pend_count) {
        zmq_msg_close (&self->pend[self->pend_head].id);
        self->pend_head = (self->pend_head + 1) % S_PENDING_MAX;
        self->pend_count--;
    }
    for (size_t i = 0; i < self->nroutes; i++) {
        dispatch_destroy (&self->disp[i]);
        route_destroy (&self->routes[i]);
    }
    s_close (&self->front, S_REPLY_LINGER_MS);
    s_close (&self->control, S_REPLY_LINGER_MS);
    s_close (&self->inject, 0);
    s_close (&self->tap, 0);
    s_close (&self->tap_json, 0);
    if (self->zctx)
        zmq_ctx_term (self->zctx);
    hm_zap_join (&self->zap);  /* its wait ended with the context */
    tap_destroy (&self->tapq); /* after the context: queued records give their bytes back to it */
    tap_destroy (&self->tapjq);
    syncer_destroy (&self->syncer);
    rlog_destroy (&self->log);
    free (self->routes);
    free (self->disp);
    free (self->saved_commit);
    free (self->saved_ms);
    free (self->save_failed);
    free (self->pend);
    free (self->items);
    ingests_destroy (&self->ingests);
    hm_arena_destroy (&self->decode);
    free (self);
    *self_p = NULL;
}
