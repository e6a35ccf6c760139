/*  status_errors: the recent_errors part of the router's status JSON
    (control.c): the router's own last warnings and errors (hm_log.h's
    ring), each connected sink instance's (SinkStats.recent_errors,
    labelled sink_instance="ROUTE:N") and each reporting ingest's
    (IngestStats.recent_errors, labelled ingest_instance), newest first.
    A peer's text was cut when it came (log_lines.c) and is escaped here,
    so the JSON stays valid whatever a sink sent. Never in /metrics: error
    text would make label values without bound. */
#include "server_priv.h"

#include "hm_buf.h"
#include "hm_log.h"
#include "log_lines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    hm_log_entry_t e; /* the line */
    char program[32]; /* "router", "file-sink", "ingest" */
    const char *key;  /* "sink_instance", "ingest_instance" or NULL */
    char value[96];   /* its value */
    size_t order;     /* collection order, to sort equal times steadily */
} s_error_t;

static int
s_newest_first (const void *a, const void *b)
{
    const s_error_t *x = a, *y = b;
    if (x->e.time_ms != y->e.time_ms)
        return x->e.time_ms > y->e.time_ms ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

void
server_status_errors (server_t *self, hm_buf_t *out, uint64_t now)
{
    uint64_t wall = hm_log_lines_wall_ms ();
    size_t max = HM_LOG_RECENT + INGESTS_MAX * HM_LOG_LINES_SENT;
    for (size_t r = 0; r < self->nroutes; r++)
        max += dispatch_instance_count (self->disp[r]) * HM_LOG_LINES_SENT;
    s_error_t *all = calloc (max, sizeof *all);
    hm_log_entry_t *mine = calloc (HM_LOG_RECENT, sizeof *mine);
    dispatch_error_t *sinks = calloc (DISPATCH_MAX_INSTANCES * HM_LOG_LINES_SENT, sizeof *sinks);
    ingests_error_t *ings = calloc (INGESTS_MAX * HM_LOG_LINES_SENT, sizeof *ings);
    hm_buf_puts (out, "\"recent_errors\":[");
    if (!all || !mine || !sinks || !ings) {
        /* Out of memory: this status goes without them, still valid. */
        hm_buf_puts (out, "]");
        free (all);
        free (mine);
        free (sinks);
        free (ings);
        return;
    }
    size_t n = 0;
    size_t k = hm_log_recent (mine, HM_LOG_RECENT);
    for (size_t i = 0; i < k && n < max; i++, n++) {
        all[n].e = mine[i];
        snprintf (all[n].program, sizeof all[n].program, "router");
    }
    for (size_t r = 0; r < self->nroutes; r++) {
        const hm_route_config_t *rc = route_config (self->routes[r]);
        k = dispatch_recent_errors (self->disp[r], sinks,
                                    DISPATCH_MAX_INSTANCES * HM_LOG_LINES_SENT);
        for (size_t i = 0; i < k && n < max; i++, n++) {
            all[n].e = sinks[i].entry;
            /* The executable's name: abs and aqs run as blob and queue. */
            const char *prog = strcmp (rc->sink, "abs") == 0   ? "blob"
                               : strcmp (rc->sink, "aqs") == 0 ? "queue"
                                                               : rc->sink;
            snprintf (all[n].program, sizeof all[n].program, "%.16s-sink", prog);
            all[n].key = "sink_instance";
            snprintf (all[n].value, sizeof all[n].value, "%.64s:%u", rc->name, sinks[i].instance);
        }
    }
    k = ingests_recent_errors (self->ingests, now, wall, ings, INGESTS_MAX * HM_LOG_LINES_SENT);
    for (size_t i = 0; i < k && n < max; i++, n++) {
        all[n].e = ings[i].entry;
        snprintf (all[n].program, sizeof all[n].program, "ingest");
        all[n].key = "ingest_instance";
        snprintf (all[n].value, sizeof all[n].value, "%s", ings[i].name);
    }
    for (size_t i = 0; i < n; i++)
        all[i].order = i;
    qsort (all, n, sizeof *all, s_newest_first);
    for (size_t i = 0; i < n; i++) {
        if (i)
            hm_buf_putc (out, ',');
        hm_log_lines_json (out, &all[i].e, wall, all[i].program, all[i].key, all[i].value);
    }
    hm_buf_puts (out, "]");
    free (all);
    free (mine);
    free (sinks);
    free (ings);
}
