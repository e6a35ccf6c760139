/*  config: the one JSON file that configures the whole pipeline
    (ARCHITECTURE section 6). Every program loads all of it and uses its part,
    so a typo anywhere is caught by whichever program starts first.

    The original Hamustro's file (a "dialect" key plus its section) is read
    as a single route named after the dialect. An unknown key or a bad value
    fails the load with "FILE: KEY: REASON" in errbuf. */
#ifndef HM_CONFIG_H
#define HM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client_ip.h"

/* routes.NAME.instances: sink processes of one route, at most. */
#define HM_CONFIG_MAX_INSTANCES 64

/* router.cpu_latency_us not set: the router leaves CPU sleep states alone. */
#define HM_CPU_LATENCY_OFF UINT32_MAX

typedef enum { HM_FORMAT_JSON = 0, HM_FORMAT_CSV = 1 } hm_format_t;
typedef enum { HM_DURABILITY_FSYNC = 0, HM_DURABILITY_WRITE = 1 } hm_durability_t;

/* One named output of the router and the sink program that serves it. */
typedef struct {
    char *name;          /* route name, [A-Za-z0-9_-]+ */
    char *sink;          /* "file", "s3", "sns", "abs" or "aqs" */
    char *endpoint;      /* ZeroMQ endpoint the router binds for this route's sinks */
    uint32_t max_events; /* seal a batch at this many events */
    uint64_t max_bytes;  /* ... or at this many bytes of events (protobuf size) */
    uint32_t max_age_ms; /* ... or when its oldest event is this old */
    char *filter_event;  /* NULL: every event; else a glob on the event name ('*', '?') */
    int filter_env;      /* -1: any env; else only this Environment number */
    uint32_t instances;  /* sink processes serving this route (1..64); they share its batches */
    char *dead_letter;   /* file where undeliverable events are appended, with reasons
                            (default data_dir/dead-letter/<route>.jsonl) */
    hm_format_t format;  /* output format ("file_format") */
    /* "file" sink section */
    char *file_path; /* directory template, e.g. "var/events/{date}/" */
    bool compress;   /* gzip the file */
    /* Cloud sink sections (s3, sns, abs, aqs) are kept as JSON text for
       the sink that serves them; the config module checks only that the
       keys are known. */
    char *section_json;
} hm_route_config_t;

/* What a host runs of a config ("role", top level): hamustro-ctl's
   check-config, supervisord-conf and systemd-units derive the programs
   from it; the programs themselves do not read it. UNSET only as "no
   override" (hamustro-ctl --role absent); a loaded config has ALL by
   default. */
typedef enum {
    HM_ROLE_UNSET = 0, /* take the config's */
    HM_ROLE_ALL,       /* "all": router, ingest and every route's sinks (one host) */
    HM_ROLE_EDGE,      /* "edge": router and ingest; the sinks run elsewhere */
    HM_ROLE_SINKS      /* "sinks": only the routes' sinks, connecting to an edge */
} hm_role_t;

/* "all", "edge", "sinks" -> *role; -1 for anything else. */
int hm_role_parse (const char *text, hm_role_t *role);
/* The config word of a role ("all" for UNSET). */
const char *hm_role_name (hm_role_t role);

typedef struct {
    char *path;     /* where this came from; "(embedded default)" if built in */
    hm_role_t role; /* "role": what a host runs of this config (default all) */

    /* Client protocol */
    char *shared_secret;     /* HMAC-ish secret of the signature */
    bool signature_required; /* "signature": "required" (default) | "optional" */
    char *maintenance_key;   /* NULL: /api/flush answers 503 */
    bool masked_ip;          /* zero the last IPv4 octet / last 80 bits of IPv6 */
    /* trusted_proxies (top level, beside masked_ip): peers whose
       X-Forwarded-For / X-Real-IP are believed; none by default. */
    hm_cidr_t trusted_proxies[HM_TRUSTED_PROXIES_MAX];
    size_t n_trusted_proxies;
    char *logfile; /* NULL: stderr */

    /* Replay window (top level, beside "signature"): a signed request's
       X-Hamustro-Time may be this many seconds from now, else 401; 0 (the
       default): not checked, as in the original. */
    uint32_t max_clock_skew_s;

    /* hamustro-ingest */
    char *host;                    /* listen address; HAMUSTRO_HOST overrides */
    uint16_t port;                 /* listen port; HAMUSTRO_PORT overrides */
    uint64_t max_body_bytes;       /* 413 above this */
    uint32_t ingest_threads;       /* event-loop threads, each with its own socket */
    uint32_t max_connections;      /* per ingest process */
    uint32_t connection_timeout_s; /* idle client connections are closed after this */
    uint32_t router_timeout_ms;    /* no router answer within this: 503 */
    uint32_t retry_after_s;        /* Retry-After on 503 */
    char *tls_cert;                /* PEM certificate chain (leaf first), or NULL: plain HTTP */
    char *tls_key;                 /* PEM private key of its leaf (set with tls_cert) */
    char *ingest_name;             /* ingest.name: ingest_instance in the router's metrics;
                                      NULL: the ingest uses HOSTNAME:PORT */
    /* hamustro-ingest: slow clients and early answers (ingest/police.c) */
    uint32_t header_timeout_s; /* a request head must arrive whole within this */
    uint32_t body_timeout_s;   /* a body's grace before body_min_rate counts */
    uint32_t body_min_rate;    /* bytes/s a body must average after that; 0: body_timeout is all */
    uint32_t linger_timeout_s; /* after an early answer, read and drop the body this long... */
    uint64_t linger_max_bytes; /* ... and at most this many bytes; 0: close at once */

    /* hamustro-router */
    char *run_dir;          /* where default ipc:// endpoints live */
    char *router_endpoint;  /* ingest -> router (ROUTER) */
    char *tap_endpoint;     /* PUB of every appended record */
    char *inject_endpoint;  /* PULL, events without acknowledgement */
    char *control_endpoint; /* flush / status / replay */
    char *metrics_listen;   /* "host:port" of the Prometheus endpoint; "" none */
    char *data_dir;         /* the durable log (data_dir/log) and route state (data_dir/routes) */
    /* PUB of every event as its JSON line (router.tap_json); NULL: off, the default */
    char *tap_json_endpoint;
    hm_durability_t durability;
    uint64_t max_log_bytes;   /* FULL above this */
    uint64_t segment_bytes;   /* roll to a new segment after this */
    uint32_t heartbeat_ms;    /* router <-> sink heartbeat interval */
    uint32_t sink_timeout_ms; /* a sink silent this long loses its batches */
    uint32_t cpu_latency_us;  /* PM QoS wakeup latency held while running; HM_CPU_LATENCY_OFF */

    /* hamustro-*-sink */
    uint32_t sink_credit;  /* batches one sink instance holds at once */
    uint32_t retry_min_ms; /* backoff: first retry ceiling */
    uint32_t retry_max_ms; /* backoff: cap */

    /* CurveZMQ (optional "curve" section, see curve.h): Z85 keys, NULL when
       absent. The router needs the server pair; every program that connects
       to it, the server's public key and a client pair. */
    char *curve_server_public;
    char *curve_server_secret;
    char *curve_client_public;
    char *curve_client_secret;
    char **curve_allowed; /* client public keys the router accepts (none: any) */
    size_t curve_allowed_count;
    hm_route_config_t *routes;
    size_t route_count;
} hm_config_t;

/* Loads path (NULL: the embedded default) and applies the environment
   overrides. Returns NULL with the reason in errbuf on any error. */
hm_config_t *hm_config_load (const char *path, char *errbuf, size_t errlen);
/* Same from a JSON text; origin names it in errors. */
hm_config_t *hm_config_parse (const char *json, const char *origin, char *errbuf, size_t errlen);
void hm_config_destroy (hm_config_t **self_p);

/* A name that may become a metrics label value from a peer (ingest.name):
   1 to HM_CONFIG_LABEL_MAX bytes of letters, digits and "._:-", so the
   label set stays bounded and readable whatever a peer sends. */
#define HM_CONFIG_LABEL_MAX 64
bool hm_config_label_ok (const char *s, size_t len);

/* Receives one "FILE: KEY: REASON" line of a check. */
typedef void (hm_config_error_fn) (void *arg, const char *line);
/* hm_config_load for `hamustro-ctl check-config`: it does not stop at the
   first error but reads every route (reporting each route's first
   problem) after the first error of the rest of the file, and passes
   every error to fn. Returns the config only when there was none. */
hm_config_t *hm_config_check (const char *path, hm_config_error_fn *fn, void *arg);

/* The route called name, or NULL. */
const hm_route_config_t *hm_config_route (const hm_config_t *self, const char *name);

/* Splits a sink's --route argument, "NAME" or "NAME:N" (instance N of
   the route, 1..HM_CONFIG_MAX_INSTANCES; route names have no ':'), into
   name and *instance (0 when not given). 0, or -1 with the reason. */
int hm_config_route_arg (const char *arg, char *name, size_t name_cap, uint32_t *instance,
                         char *errbuf, size_t errlen);

/* The embedded default configuration text (file sink under var/events). */
extern const char *hm_config_default_json;

#endif
