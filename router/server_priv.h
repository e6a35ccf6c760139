/*  server_priv: what server.c (the loop, the append round, the routes)
    and control.c (flush, status, replay) share inside the router. Not for
    use outside router/. */
#ifndef HM_ROUTER_SERVER_PRIV_H
#define HM_ROUTER_SERVER_PRIV_H

#include "arena.h"
#include "config.h"
#include "curve.h"
#include "dispatch.h"
#include "ingests.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "server.h"
#include "syncer.h"
#include "tap.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <zmq.h>

#define S_ROUND_MAX 256         /* requests written per round at most */
#define S_PUMP_MAX 4096         /* records a route reads per loop iteration */
#define S_PENDING_MAX 16384     /* replies waiting for durability; beyond, stop reading */
#define S_FRONT_HWM 100000      /* append socket high-water marks (messages) */
#define S_TAP_HWM 10000         /* ... and records queued for one (tap.h bounds the bytes) */
#define S_REPLY_LINGER_MS 1000  /* how long replies may still leave after shutdown */
#define S_ZERO_AHEAD (1u << 20) /* zeros kept past the log's end: halves fdatasync (log.c) */
#define S_REAPER_MAX 64         /* delivered segments waiting for the deleting thread (reaper.h) */
#define S_DECODE_BLOCK (1u << 20) /* kept decode arena: an append request at 100+ connections */

typedef struct {
    zmq_msg_t id;      /* sender's routing id (empty for inject) */
    zmq_msg_t body;    /* the AppendRequest frame: the record's payload */
    uint64_t batch_id; /* to echo in the reply */
    bool reply;        /* from the append socket (inject: no reply) */
} s_append_t;

typedef struct {
    zmq_msg_t id;      /* where the reply goes */
    uint64_t batch_id; /* echoed */
    uint64_t seq;      /* durable when the log is durable up to here */
} s_pending_t;

typedef struct {
    uint64_t appended;         /* records appended */
    uint64_t events;           /* events in them */
    uint64_t injected;         /* of which came through inject */
    uint64_t inject_refused;   /* inject JSON messages that did not parse (dropped) */
    uint64_t full;             /* requests answered FULL (or inject dropped) */
    uint64_t errors;           /* requests answered ERROR */
    uint64_t malformed;        /* messages that failed validation */
    uint64_t write_errors;     /* failed pwritev */
    uint64_t sync_errors;      /* failed fdatasync */
    uint64_t rounds;           /* group-commit rounds written */
    uint64_t deleted;          /* segments deleted */
    uint64_t log_failures;     /* times the log failed (a sync, a roll's sync, a cut back) */
    uint64_t refused;          /* requests answered ERROR while the log was failed */
    uint64_t recover_errors;   /* cut backs that failed while the log was failed */
    uint64_t reserve_releases; /* times the reserve was given back for a state save */
    uint64_t reserve_made;     /* times it was made again after that (or after start) */
    uint64_t reserve_refused;  /* requests answered ERROR while it was out */
} s_counters_t;

struct _server_t {
    const hm_config_t *cfg;             /* configuration (not owned) */
    void *zctx;                         /* libzmq context */
    hm_zap_t *zap;                      /* CurveZMQ client check (allowed_clients), or NULL */
    void *front;                        /* ROUTER: appends with replies */
    void *inject;                       /* PULL: appends without replies */
    void *tap;                          /* PUB: every appended record */
    tap_t *tapq;                        /* what it holds, bounded in bytes (tap.h) */
    void *tap_json;                     /* PUB of events as JSON lines, or NULL (off) */
    tap_t *tapjq;                       /* ... and what it holds */
    void *control;                      /* ROUTER: flush, status, replay */
    rlog_t *log;                        /* the durable log */
    syncer_t *syncer;                   /* the fdatasync thread */
    route_t **routes;                   /* one per configured route */
    dispatch_t **disp;                  /* their sink sides */
    size_t nroutes;                     /* count of both */
    s_append_t round[S_ROUND_MAX];      /* the round being built */
    struct iovec payloads[S_ROUND_MAX]; /* its records' payloads */
    s_pending_t *pend;                  /* FIFO ring of replies awaiting durability */
    size_t pend_head;                   /* oldest entry */
    size_t pend_count;                  /* entries */
    bool full;                          /* the log is over max_log_bytes (for log lines) */
    bool log_failed;                    /* appends refused until the log is cut back (s_recover) */
    uint64_t recover_ms;                /* when a cut back was last tried */
    uint64_t failing_writes;            /* failed rounds since the last good write (log lines) */
    uint64_t failing_logged_ms;         /* when that episode was last logged */
    uint64_t *saved_commit;             /* per route: committed offset last saved */
    uint64_t *saved_ms;                 /* per route: when it was saved (or last failed to) */
    bool *save_failed;                  /* per route: the last save failed (retry after a pause) */
    char reserve[PATH_MAX];             /* data_dir/reserve (reserve.h) */
    bool reserve_held;                  /* it is there (if not, appends are refused) */
    uint64_t reserve_tried_ms;          /* when it was last made or tried */
    char reserve_reason[192];           /* what appends are told while it is out */
    uint64_t started_ms;                /* for uptime */
    zmq_pollitem_t *items;              /* poll set */
    size_t nitems;                      /* its size */
    hm_arena_t decode;                  /* validating an append's decode */
    s_counters_t c;                     /* counters for STATUS */
    metrics_t *metrics;                 /* router.metrics_listen, or NULL */
    uint64_t metrics_ms;                /* when a snapshot was last published */
    sync_hist_t round_syncs;            /* "fsync": the loop's own fdatasync per round */
    ingests_t *ingests;                 /* the ingests' last counter reports (ingests.h) */
};

/* Monotonic clock in ms. */
uint64_t server_now_ms (void);
/* The syncer reported: acknowledge what is durable, or handle a failure. */
void server_on_synced (server_t *self);
/* Reads, seals, saves and delivers for every route; deletes the segments
   every route's saved state has passed. Returns true if a route has more
   to read right now. */
bool server_routes_work (server_t *self, uint64_t now);
/* Receives one multipart message: [id] type body. Returns 1 with the
   frames, 0 when nothing is waiting, -1 for a wrong frame count (drained). */
int server_recv_request (void *sock, bool routed, zmq_msg_t *id, zmq_msg_t *type, zmq_msg_t *body);

/* server_disk.c: route state saves and the disk reserve (see there why
   appends wait while the reserve is out). */
/* Makes data_dir/reserve at start (appends are refused if it cannot be). */
void server_reserve_start (server_t *self, uint64_t now);
/* NULL if appends may go to the log; else the reason to refuse one
   (counted). */
const char *server_reserve_refusal (server_t *self);
/* While the reserve is out: makes it again once every route's state is
   saved, after segments were deleted or every second. */
void server_reserve_tick (server_t *self, uint64_t now, bool deleted);
/* When server_reserve_tick has work: UINT64_MAX while the reserve is held. */
uint64_t server_reserve_due (const server_t *self);
/* When route i's state file is due: UINT64_MAX if nothing changed. Seals
   go at once (before their batches leave); a new committed offset at most
   every 100 ms, but at once while the log is full, because segments are
   deleted only behind the saved offset; after a failed save, a second
   later. */
uint64_t server_save_due (const server_t *self, size_t i);
/* Saves route i's state; on a failure gives back the reserve (if held)
   and tries once more. */
void server_route_save (server_t *self, size_t i, uint64_t now);

/* control.c: answers what waits on the control socket (a bounded number
   of requests per call, so appends are not starved). */
void server_control (server_t *self, uint64_t now);

/* metrics_text.c: the Prometheus text of the router and its routes. */
void server_metrics_text (server_t *self, hm_buf_t *out);
/* metrics_sink.c: its per sink instance block (the first nroutes routes). */
void server_metrics_sinks (server_t *self, hm_buf_t *out, size_t nroutes);
/* status_errors.c: appends "recent_errors":[...] to the status JSON: the
   router's, its sink instances' and its ingests' last warnings and errors,
   newest first. now: monotonic ms. */
void server_status_errors (server_t *self, hm_buf_t *out, uint64_t now);

#endif
