/*  sink_attempt: the socket-free half of the sink runtime: the result a
    backend fills in (and the name of its config section, for its errors),
    and one attempt at a batch (deliver, then dead
    letters). Kept apart from the loop so tests can drive a backend and the
    dead-letter file directly. */
#include "sink.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dead_letter.h"
#include "hm_buf.h"

void
hm_sink_result_init (hm_sink_result_t *self)
{
    memset (self, 0, sizeof *self);
}

void
hm_sink_result_reset (hm_sink_result_t *self)
{
    for (size_t i = 0; i < self->dead_count; i++)
        free (self->dead[i].reason);
    self->dead_count = 0;
    self->reason[0] = '\0';
    self->retry_class = HM_RETRY_OTHER;
    self->seconds = 0;
}

void
hm_sink_result_free (hm_sink_result_t *self)
{
    hm_sink_result_reset (self);
    free (self->dead);
    self->dead = NULL;
    self->dead_cap = 0;
}

static hm_sink_status_t
s_set_reason (hm_sink_result_t *self, hm_sink_status_t status, const char *fmt, va_list ap)
{
    vsnprintf (self->reason, sizeof self->reason, fmt, ap);
    return status;
}

hm_sink_status_t
hm_sink_retry (hm_sink_result_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    hm_sink_status_t status = s_set_reason (self, HM_SINK_RETRY, fmt, ap);
    va_end (ap);
    return status;
}

hm_sink_status_t
hm_sink_retry_as (hm_sink_result_t *self, hm_retry_class_t cls, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    hm_sink_status_t status = s_set_reason (self, HM_SINK_RETRY, fmt, ap);
    va_end (ap);
    self->retry_class = cls < HM_RETRY_CLASSES ? cls : HM_RETRY_OTHER;
    return status;
}

hm_sink_status_t
hm_sink_drop (hm_sink_result_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    hm_sink_status_t status = s_set_reason (self, HM_SINK_DROP, fmt, ap);
    va_end (ap);
    return status;
}

int
hm_sink_dead_letter (hm_sink_result_t *self, size_t index, const char *fmt, ...)
{
    if (self->dead_count == self->dead_cap) {
        size_t cap = self->dead_cap ? self->dead_cap * 2 : 8;
        hm_sink_dead_t *dead = realloc (self->dead, cap * sizeof *dead);
        if (!dead)
            return -1;
        self->dead = dead;
        self->dead_cap = cap;
    }
    char reason[HM_SINK_REASON_MAX];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, sizeof reason, fmt, ap);
    va_end (ap);
    char *copy = strdup (reason);
    if (!copy)
        return -1;
    self->dead[self->dead_count].index = index;
    self->dead[self->dead_count].reason = copy;
    self->dead_count++;
    return 0;
}

void
hm_sink_keypath (const hm_config_t *cfg, const hm_route_config_t *route, char *out, size_t cap)
{
    snprintf (out, cap, "%s: routes.%s.%s", cfg && cfg->path ? cfg->path : "(config)", route->name,
              route->sink);
}

/* Writes the dead letters of one attempt: every event on DROP (with the
   batch's reason unless the backend gave the event its own), else the
   events the backend marked. Returns how many, or -1 with reason set. */
static int64_t
s_write_dead_letters (const hm_route_config_t *route, const hm_batch_t *batch,
                      hm_sink_status_t status, hm_sink_result_t *result)
{
    size_t n = batch->n_events;
    if (n == 0 || (status == HM_SINK_OK && result->dead_count == 0))
        return 0;
    /* reasons[i]: why event i is dead-lettered, NULL if it is not. A
       backend naming an event twice gets one line (its last reason). */
    const char **reasons = calloc (n, sizeof *reasons);
    if (!reasons) {
        snprintf (result->reason, sizeof result->reason, "dead-letter: out of memory");
        return -1;
    }
    if (status == HM_SINK_DROP)
        for (size_t i = 0; i < n; i++)
            reasons[i] = result->reason;
    for (size_t i = 0; i < result->dead_count; i++)
        if (result->dead[i].index < n)
            reasons[result->dead[i].index] = result->dead[i].reason;

    hm_buf_t lines;
    hm_buf_init (&lines, 0);
    hm_event_scratch_t scratch;
    hm_event_scratch_init (&scratch);
    int64_t count = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!reasons[i])
            continue;
        const Hm__Event *e = hm_batch_event (batch, i, &scratch);
        rc = e ? hm_dead_letter_line (&lines, reasons[i], route->name, batch->first_offset,
                                      batch->last_offset, e)
               : -1;
        count++;
    }
    hm_event_scratch_free (&scratch);
    free (reasons);
    char errbuf[HM_SINK_REASON_MAX - 16];
    if (rc != 0)
        snprintf (errbuf, sizeof errbuf, "out of memory");
    else if (!route->dead_letter || !*route->dead_letter)
        snprintf (errbuf, sizeof errbuf, "route has no dead-letter file");
    else if ((rc = hm_dead_letter_append (route->dead_letter, lines.data, lines.len, errbuf,
                                          sizeof errbuf)) != 0)
        result->retry_class = HM_RETRY_IO; /* the batch was fine, the file was not */
    hm_buf_free (&lines);
    if (rc != 0) {
        snprintf (result->reason, sizeof result->reason, "dead-letter: %s", errbuf);
        return -1;
    }
    return count;
}

hm_sink_status_t
hm_sink_attempt (const hm_sink_backend_t *backend, void *state, const hm_route_config_t *route,
                 const hm_batch_t *batch, hm_sink_result_t *result, uint32_t *dead_lettered)
{
    *dead_lettered = 0;
    hm_sink_result_reset (result);
    /* The backend request latency: deliver alone, not the dead letters. */
    struct timespec t0, t1;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    hm_sink_status_t status = backend->deliver (state, batch, result);
    clock_gettime (CLOCK_MONOTONIC, &t1);
    result->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (status == HM_SINK_RETRY)
        return HM_SINK_RETRY;
    if (status != HM_SINK_OK && status != HM_SINK_DROP)
        return hm_sink_retry (result, "backend answered unknown status %d", (int)status);
    int64_t count = s_write_dead_letters (route, batch, status, result);
    if (count < 0)
        return HM_SINK_RETRY;
    *dead_lettered = (uint32_t)count;
    return HM_SINK_OK;
}
