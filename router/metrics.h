/*  metrics: the router's Prometheus endpoint (router.metrics_listen).
    libmicrohttpd answers GET /metrics from its own thread with the last
    text the loop published; the loop renders a fresh snapshot every
    METRICS_PERIOD_MS, so a scrape never touches the loop's state and
    never waits on the log's append path (the loop holds the lock only to
    swap a pointer). */
#ifndef HM_ROUTER_METRICS_H
#define HM_ROUTER_METRICS_H

#include "hm_buf.h"

#include <stddef.h>

#define METRICS_PERIOD_MS 500 /* how stale a scrape can be */

typedef struct _metrics_t metrics_t;

/* Listens on "host:port" (IPv4 address or name, IPv6 in brackets).
   NULL with a reason in errbuf if the address is bad or taken. */
metrics_t *metrics_new (const char *listen, char *errbuf, size_t errlen);
void metrics_destroy (metrics_t **self_p);
/* Takes text's bytes as the snapshot scrapes get from now on (text is
   left empty). */
void metrics_publish (metrics_t *self, hm_buf_t *text);

#endif
