/*  ingests: see ingests.h. */
#include "ingests.h"

#include "config.h"
#include "hm_log.h"
#include "log_lines.h"
#include "pipeline.pb-c.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingests_priv.h"

ingests_t *
ingests_new (void)
{
    return calloc (1, sizeof (ingests_t));
}

void
ingests_destroy (ingests_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ingests_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        hm__ingest_stats__free_unpacked (self->held[i].stats, NULL);
    free (self);
    *self_p = NULL;
}

/* What the exporter relies on: a label-safe name, a bounded set of known
   codes, a histogram with increasing finite bounds and one count more. */
static const char *
s_invalid (const Hm__IngestStats *st)
{
    if (!st->name || !hm_config_label_ok (st->name, strlen (st->name)))
        return "name missing or not 1 to 64 letters, digits or \"._:-\"";
    if (st->n_answers > INGESTS_ANSWERS_MAX)
        return "too many status codes";
    for (size_t i = 0; i < st->n_answers; i++) {
        unsigned code = st->answers[i]->code;
        if (code != 0 && (code < 100 || code > 599))
            return "status code out of range";
        for (size_t j = 0; j < i; j++)
            if (st->answers[j]->code == code)
                return "status code given twice";
    }
    if (st->n_refusals > INGESTS_REFUSALS_MAX)
        return "too many refusal causes";
    for (size_t i = 0; i < st->n_refusals; i++) {
        /* A cause this router does not know (a newer ingest) is kept but
           not exported (metrics_ingest.c): the label set stays its own. */
        if (!st->refusals[i]->reason)
            return "refusal cause without a name";
        for (size_t j = 0; j < i; j++)
            if (strcmp (st->refusals[j]->reason, st->refusals[i]->reason) == 0)
                return "refusal cause given twice";
    }
    if (st->n_latency_bounds > INGESTS_BUCKETS_MAX)
        return "too many latency buckets";
    if (st->n_latency_counts != (st->n_latency_bounds ? st->n_latency_bounds + 1 : 0))
        return "latency counts do not match the bounds";
    for (size_t i = 0; i < st->n_latency_bounds; i++)
        if (!isfinite (st->latency_bounds[i]) || st->latency_bounds[i] <= 0 ||
            (i && st->latency_bounds[i] <= st->latency_bounds[i - 1]))
            return "latency bounds not positive and increasing";
    if (!isfinite (st->latency_sum) || st->latency_sum < 0)
        return "latency sum not a finite positive number";
    return NULL;
}

static void
s_forget (ingests_t *self, size_t i)
{
    hm__ingest_stats__free_unpacked (self->held[i].stats, NULL);
    self->held[i] = self->held[--self->count];
}

void
ingests_expire (ingests_t *self, uint64_t now)
{
    for (size_t i = self->count; i-- > 0;)
        if (now >= self->held[i].seen_ms + INGESTS_SILENT_MS) {
            hm_info ("ingest %s: no counters for %d s, its series are dropped",
                     self->held[i].stats->name, INGESTS_SILENT_MS / 1000);
            s_forget (self, i);
        }
}

int
ingests_report (ingests_t *self, const void *data, size_t len, uint64_t now, const char **why)
{
    Hm__IngestStats *st = hm__ingest_stats__unpack (NULL, len, data);
    if (!st) {
        *why = "IngestStats does not decode";
        return -1;
    }
    if ((*why = s_invalid (st))) {
        hm__ingest_stats__free_unpacked (st, NULL);
        return -1;
    }
    ingests_expire (self, now);
    size_t i = 0;
    while (i < self->count && strcmp (self->held[i].stats->name, st->name) != 0)
        i++;
    if (i == self->count) {
        if (self->count == INGESTS_MAX) {
            if (self->dropped++ % 1000 == 0)
                hm_warn ("ingest %s: counters dropped, %d ingests already report here "
                         "(%llu reports dropped so far)",
                         st->name, INGESTS_MAX, (unsigned long long)self->dropped);
            hm__ingest_stats__free_unpacked (st, NULL);
            return 1;
        }
        hm_info ("ingest %s: reporting its counters", st->name);
        self->held[self->count++].stats = NULL;
    }
    else
        hm__ingest_stats__free_unpacked (self->held[i].stats, NULL);
    self->held[i].stats = st;
    self->held[i].seen_ms = now;
    self->reports++;
    return 0;
}

size_t
ingests_count (const ingests_t *self)
{
    return self->count;
}

uint64_t
ingests_reports (const ingests_t *self)
{
    return self->reports;
}

uint64_t
ingests_dropped (const ingests_t *self)
{
    return self->dropped;
}

void
ingests_status_json (ingests_t *self, hm_buf_t *out, uint64_t now)
{
    ingests_expire (self, now);
    hm_buf_putc (out, '[');
    for (size_t i = 0; i < self->count; i++) {
        const Hm__IngestStats *st = self->held[i].stats;
        uint64_t requests = 0;
        for (size_t a = 0; a < st->n_answers; a++)
            requests += st->answers[a]->count;
        /* The name passed the label rules: nothing in it needs escaping. */
        hm_buf_printf (out,
                       "%s{\"name\":\"%s\",\"requests\":%" PRIu64 ",\"accepted_requests\":%" PRIu64
                       ",\"accepted_events\":%" PRIu64
                       ",\"connections\":%u,\"reported_ms_ago\":%" PRIu64 ",\"answers\":{",
                       i ? "," : "", st->name, requests, st->track_accepted, st->events_accepted,
                       st->connections, now - self->held[i].seen_ms);
        for (size_t a = 0; a < st->n_answers; a++) {
            if (st->answers[a]->code)
                hm_buf_printf (out, "%s\"%u\":%" PRIu64, a ? "," : "", st->answers[a]->code,
                               st->answers[a]->count);
            else
                hm_buf_printf (out, "%s\"other\":%" PRIu64, a ? "," : "", st->answers[a]->count);
        }
        hm_buf_puts (out, "}}");
    }
    hm_buf_putc (out, ']');
}

size_t
ingests_recent_errors (const ingests_t *self, uint64_t now, uint64_t wall_ms, ingests_error_t *out,
                       size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < self->count && n < max; i++) {
        const Hm__IngestStats *st = self->held[i].stats;
        /* Its ages were counted when it sent them: the wall clock then. */
        uint64_t ago = now > self->held[i].seen_ms ? now - self->held[i].seen_ms : 0;
        hm_log_entry_t e[HM_LOG_LINES_SENT];
        size_t k = hm_log_lines_take (e, HM_LOG_LINES_SENT, st->recent_errors, st->n_recent_errors,
                                      wall_ms > ago ? wall_ms - ago : 0);
        for (size_t j = 0; j < k && n < max; j++, n++) {
            snprintf (out[n].name, sizeof out[n].name, "%s", st->name);
            out[n].entry = e[j];
        }
    }
    return n;
}
