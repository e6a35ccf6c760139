/*  worker_priv: what worker.c (the loop and the sockets) and request.c
    (the HTTP callbacks) share inside one ingest thread. Not for use outside
    ingest/. */
#ifndef HM_INGEST_WORKER_PRIV_H
#define HM_INGEST_WORKER_PRIV_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "hm_buf.h"
#include "ingest_http.h"
#include "payload.pb-c.h"
#include "pending.h"
#include "pipeline.pb-c.h"
#include "police.h"
#include "refusal.h"
#include "stats.h"
#include "tls.h"
#include "worker.h"

/* Control requests in flight at once per thread; more answer 503. */
#define HM_CONTROL_MAX 32
/* How long a health check waits for the router, and how long a positive
   answer is reused. */
#define HM_HEALTH_TIMEOUT_MS 1000
#define HM_HEALTH_CACHE_MS 1000

/* Where a request is. */
typedef enum {
    HM_CONN_IDLE = 0, /* between requests */
    HM_CONN_BODY,     /* reading the body of a track or flush request */
    HM_CONN_WAIT,     /* suspended, waiting for the router */
    HM_CONN_DONE,     /* answer decided, queued on the body's last callback (the
                         rest of the body is dropped) */
    HM_CONN_QUEUED,   /* answer queued; MHD is sending it */
} hm_conn_state_t;

/* Which fixed body a successful answer carries. */
typedef enum {
    HM_BODY_NONE = 0,    /* error JSON built from reason (or empty 200/204) */
    HM_BODY_HEALTH_UP,   /* {"up":true,"router":true} */
    HM_BODY_HEALTH_DOWN, /* {"up":false,"error":"..."} */
    HM_BODY_FLUSHED,     /* {"flushed":true} */
    HM_BODY_STATS,       /* the counters (stats.h), built when queued */
} hm_answer_body_t;

typedef struct ingest_worker_t ingest_worker_t;
typedef struct ingest_conn_t ingest_conn_t;

/* Coalescing: every track request decided in one turn of the loop goes
   into ONE AppendRequest (one ZeroMQ message, one log record, one reply
   that answers all of them). A batch is what the pending table holds. */
typedef struct hm_batch_t {
    uint64_t id;             /* batch id (from the pending table) */
    ingest_conn_t *conns;    /* connections answered by its reply */
    size_t count;            /* how many */
    struct hm_batch_t *next; /* next free batch (free list) */
} hm_batch_t;

/* One client connection (MHD's socket context); it outlives its requests
   so the body buffer is reused from one request to the next. */
struct ingest_conn_t {
    ingest_worker_t *worker;           /* owning thread */
    struct MHD_Connection *connection; /* libmicrohttpd's handle */
    hm_buf_t body;                     /* request body, bounded by max_body_bytes */
    const char *url;                   /* the request's URL (MHD keeps it for the request) */
    hm_req_kind_t kind;                /* what the request is for */
    hm_conn_state_t state;             /* see hm_conn_state_t */
    bool suspended;                    /* MHD_suspend_connection was called */
    hm_batch_t *batch;                 /* the batch this request waits for, or NULL */
    struct ingest_conn_t *batch_prev;  /* neighbours in batch->conns */
    struct ingest_conn_t *batch_next;  /* ... */
    uint64_t discarded;                /* body bytes dropped after the answer was decided */
    uint64_t events;                   /* events of the track request sent to the router */
    uint64_t head_us;                  /* monotonic us: the request's head was whole (latency) */
    unsigned status;                   /* the answer's HTTP status */
    hm_refusal_t refusal;              /* why it is refused, if it is (refusal.h; counted) */
    hm_answer_body_t answer_body;      /* fixed body for the answer, if any */
    const char *allow;                 /* Allow header for 405 */
    char reason[256];                  /* error reason, logged and sent as {"error":...} */
    char peer[64];                     /* peer address as text */
    struct ingest_conn_t *next_waiter; /* next connection waiting on the same control request */
    hm_buf_t inflated;                 /* a compressed body, inflated (inflate.h) */
    ingest_tls_ref_t *tls_ref;         /* the TLS pair its handshake used (tls.c), or NULL */
    hm_police_conn_t police;           /* slow-client deadlines (police.h) */
};

/* One control request in flight to the router. */
typedef struct {
    int command;            /* HM__CONTROL_REQUEST__COMMAND__FLUSH or __STATUS */
    int64_t deadline;       /* monotonic ms */
    ingest_conn_t *waiters; /* connections answered by its reply */
} hm_control_req_t;

struct ingest_worker_t {
    const hm_config_t *cfg;     /* configuration (not owned) */
    unsigned index;             /* thread number, also in batch ids */
    void *zmq_ctx;              /* shared ZeroMQ context (not owned) */
    void *dealer;               /* DEALER to cfg->router_endpoint */
    void *control;              /* DEALER to cfg->control_endpoint; recreated on timeout */
    void *monitor;              /* PAIR: connect/disconnect events of dealer */
    unsigned append_links;      /* dealer's connections up (from monitor) */
    struct MHD_Daemon *daemon;  /* this thread's HTTP daemon */
    ingest_tls_t *tls;          /* the TLS pair store (shared, not owned), or NULL: plain HTTP */
    int epoll_fd;               /* the daemon's epoll fd (not owned) */
    int wake_fd;                /* eventfd: ingest_worker_stop wakes the loop */
    pthread_t thread;           /* the loop's thread */
    bool started;               /* thread was created */
    atomic_bool stop_requested; /* set by ingest_worker_stop */
    atomic_bool finished;       /* set when the loop has returned */
    int result;                 /* 0 clean exit, -1 failure */

    bool stopping;            /* draining: no new work, answer what was sent */
    int64_t grace_deadline;   /* when draining gives up */
    atomic_uint *undrained;   /* workers still draining (shared, see worker.h) */
    atomic_uint *unlinked;    /* workers without a router link (shared, see worker.h) */
    hm_ingest_stats_t *stats; /* counters of every thread (shared, not owned) */
    bool drained;             /* this worker has decremented undrained */
    unsigned active_requests; /* requests started and not yet completed */
    hm_pending_t *pending;    /* batches (hm_batch_t) sent to the router, by batch id */
    hm_batch_t *open_batch;   /* the batch being filled in this turn, or NULL */
    hm_buf_t out;             /* its AppendRequest bytes, packed as requests come */
    hm_arena_t decode;        /* a protobuf Collection while its request is handled */
    hm_buf_t events;          /* a request's events, packed (hm_events_write) */
    hm_buf_t scratch;         /* hm_events_write's room for an event's parameters and ip */
    hm_batch_t *free_batches; /* batches to reuse (at most the pending capacity) */
    bool resumed;             /* connections were resumed during or after MHD_run: run it
                                 again (MHD's wake-up for them is not reliable then) */
    hm_control_req_t control_reqs[HM_CONTROL_MAX]; /* ring of control requests in flight */
    unsigned control_head;                         /* oldest control request */
    unsigned control_count;                        /* control requests in flight */
    int64_t health_ok_until; /* a positive STATUS answer is reused until then */
    bool flush_enabled;      /* a maintenance key is configured */
    char flush_key_hex[65];  /* sha256hex(maintenance_key) */
    hm_police_t police;      /* slow-client deadlines of this thread's connections */
    int64_t mhd_log_window;  /* libmicrohttpd's log lines: start of the current window */
    unsigned mhd_log_lines;  /* lines logged in it */
    uint64_t mhd_log_held;   /* lines dropped in it */
    int64_t report_ms;       /* thread 0: when the counters last went to the router */
    char report_name[HM_CONFIG_LABEL_MAX + 1]; /* thread 0: ingest_instance (ingest.name) */

    /* Responses built once and shared by every request of this thread. */
    struct MHD_Response *resp_ok;         /* 200, empty */
    struct MHD_Response *resp_no_content; /* 204, empty */
    struct MHD_Response *resp_health_up;  /* 200 {"up":true,"router":true} */
    struct MHD_Response *resp_flushed;    /* 200 {"flushed":true} */
};

/* request.c: libmicrohttpd callbacks (cls is the worker). */
enum MHD_Result hm_request_access (void *cls, struct MHD_Connection *connection, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls);
void hm_request_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                           enum MHD_RequestTerminationCode toe);
void hm_request_connection (void *cls, struct MHD_Connection *connection, void **socket_context,
                            enum MHD_ConnectionNotificationCode toe);

/* request.c: decides the answer of a waiting connection (from a router
   reply or a deadline) and resumes it; the answer is queued when MHD calls
   the handler again. reason may be NULL. */
void hm_request_finish (ingest_conn_t *conn, unsigned status, hm_answer_body_t body,
                        const char *reason);
/* request.c: hm_request_finish of a refusal of a track request, with its
   cause (counted by it). */
void hm_request_refuse (ingest_conn_t *conn, unsigned status, hm_refusal_t why, const char *reason);

/* worker_router.c: a DEALER with explicit bounds (ZMQ_IMMEDIATE); with
   monitor_p, also a PAIR that gets its connect/disconnect events. NULL on
   failure (zmq_errno). */
void *hm_worker_dealer_new (void *zmq_ctx, const hm_config_t *cfg, const char *endpoint, int hwm,
                            const char *monitor_endpoint, void **monitor_p);
/* worker_router.c: counts the append socket's links from its monitor. */
void hm_worker_monitor_drain (ingest_worker_t *self);
/* worker_router.c: router replies and control replies, each resuming the
   connections that wait for it. */
void hm_worker_router_drain (ingest_worker_t *self);
void hm_worker_control_drain (ingest_worker_t *self);
/* worker_router.c: thread 0 sends the process's counters (IngestStats)
   on its append socket every HM_REPORT_MS; no reply comes. */
#define HM_REPORT_MS 1000
void hm_worker_report (ingest_worker_t *self, int64_t now);
/* worker_router.c: answers 503 what waited past its deadline. */
void hm_worker_expire (ingest_worker_t *self, int64_t now);
/* worker_router.c: sends this turn's AppendRequest, if any. */
void hm_worker_batch_flush (ingest_worker_t *self);
/* worker_router.c: answers every connection of batch and recycles it. */
void hm_worker_batch_finish (ingest_worker_t *self, hm_batch_t *batch, unsigned status,
                             hm_refusal_t why, const char *reason);
/* worker_router.c: fails every control request in flight and starts a
   fresh control socket. */
void hm_worker_control_reset (ingest_worker_t *self, const char *reason);
/* worker_router.c: sends a control request for conn (health or flush) and
   suspends nothing (the caller does); returns 0 when conn now waits on it, or -1 with the
   reason in conn (answer decided). */
int hm_worker_control (ingest_worker_t *self, ingest_conn_t *conn, int command);
/* worker_router.c: adds conn's events to this turn's AppendRequest (sent once the
   turn's MHD_run returns) and makes conn wait for its reply; 0, or -1 with
   the answer decided (503). */
int hm_worker_append (ingest_worker_t *self, ingest_conn_t *conn, const Collection *col,
                      const char *ip);
/* worker_router.c: conn no longer waits for its batch (MHD gave up on it). */
void hm_worker_unbatch (ingest_worker_t *self, ingest_conn_t *conn);
/* worker_router.c: removes conn from every control request's waiters. */
void hm_worker_forget (ingest_worker_t *self, ingest_conn_t *conn);

#endif
