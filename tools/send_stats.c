/*  send_stats: see send_stats.h.

    Bucket layout: values below 32 have a bucket each; a larger value with
    its top bit at position e (5..63) falls in one of 16 equal-width
    sub-buckets of [2^e, 2^(e+1)), chosen by the 4 bits under the top bit.
    That is 32 + 59 * 16 = 976 buckets for any uint64. */
#include "send_stats.h"

#include <string.h>

static unsigned
s_bucket (uint64_t v)
{
    if (v < 32)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll (v);
    unsigned sub = (unsigned)(v >> (e - 4)) & 15u;
    return 32u + (e - 5u) * 16u + sub;
}

/* Midpoint of bucket b. */
static uint64_t
s_bucket_mid (unsigned b)
{
    if (b < 32)
        return b;
    unsigned e = (b - 32u) / 16u + 5u;
    unsigned sub = (b - 32u) % 16u;
    uint64_t lower = (uint64_t)(16u + sub) << (e - 4);
    uint64_t width = (uint64_t)1 << (e - 4);
    return lower + width / 2;
}

void
send_hist_add (send_hist_t *self, uint64_t value)
{
    self->counts[s_bucket (value)]++;
    self->total++;
    if (value > self->max)
        self->max = value;
}

uint64_t
send_hist_quantile (const send_hist_t *self, double q)
{
    if (self->total == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    /* rank of the sample we want, 1-based */
    uint64_t rank = (uint64_t)(q * (double)self->total + 0.5);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < SEND_HIST_BUCKETS; b++) {
        seen += self->counts[b];
        if (seen >= rank) {
            uint64_t mid = s_bucket_mid (b);
            return mid > self->max ? self->max : mid;
        }
    }
    return self->max;
}

void
send_stats_finish (send_stats_t *self, long status, uint32_t events, uint64_t bytes)
{
    self->requests++;
    self->events_sent += events;
    self->bytes_sent += bytes;
    if (status <= 0 || status >= 600) {
        self->errors++;
        return;
    }
    self->status[status]++;
    if (status == 200)
        self->events_accepted += events;
}

/* Sum of the status counts in [lo, hi]. */
static uint64_t
s_range (const send_stats_t *self, int lo, int hi)
{
    uint64_t n = 0;
    for (int code = lo; code <= hi; code++)
        n += self->status[code];
    return n;
}

static double
s_per_s (uint64_t n, double elapsed)
{
    return elapsed > 0 ? (double)n / elapsed : 0.0;
}

void
send_stats_progress (const send_stats_t *self, double elapsed, FILE *out)
{
    fprintf (out, "\r%7.1f s  %9llu req  %8.0f req/s ", elapsed, (unsigned long long)self->requests,
             s_per_s (self->requests, elapsed));
    for (int code = 100; code < 600; code++)
        if (self->status[code])
            fprintf (out, " %d:%llu", code, (unsigned long long)self->status[code]);
    fprintf (out, " err:%llu   ", (unsigned long long)self->errors);
    fflush (out);
}

static void
s_summary_json (const send_stats_t *self, double elapsed, FILE *out)
{
    fprintf (out, "{\"requests\":%llu,\"status\":{", (unsigned long long)self->requests);
    const char *sep = "";
    for (int code = 100; code < 600; code++)
        if (self->status[code]) {
            fprintf (out, "%s\"%d\":%llu", sep, code, (unsigned long long)self->status[code]);
            sep = ",";
        }
    fprintf (out,
             "},\"ok\":%llu,\"no_content\":%llu,\"client_errors\":%llu,\"server_errors\":%llu,"
             "\"errors\":%llu,\"retries\":%llu,\"reconnect_resends\":%llu,\"events_sent\":%llu,"
             "\"events_accepted\":%llu,"
             "\"bytes_sent\":%llu,\"elapsed_s\":%.3f,\"req_per_s\":%.1f,\"events_per_s\":%.1f,"
             "\"accepted_events_per_s\":%.1f,\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,"
             "\"p99\":%.3f,\"max\":%.3f}}\n",
             (unsigned long long)self->status[200], (unsigned long long)self->status[204],
             (unsigned long long)s_range (self, 400, 499),
             (unsigned long long)s_range (self, 500, 599), (unsigned long long)self->errors,
             (unsigned long long)self->retries, (unsigned long long)self->rewinds,
             (unsigned long long)self->events_sent, (unsigned long long)self->events_accepted,
             (unsigned long long)self->bytes_sent, elapsed, s_per_s (self->requests, elapsed),
             s_per_s (self->events_sent, elapsed), s_per_s (self->events_accepted, elapsed),
             send_hist_quantile (&self->latency, 0.50) / 1000.0,
             send_hist_quantile (&self->latency, 0.90) / 1000.0,
             send_hist_quantile (&self->latency, 0.99) / 1000.0, self->latency.max / 1000.0);
}

void
send_stats_summary (const send_stats_t *self, double elapsed, bool json, FILE *out)
{
    if (json) {
        s_summary_json (self, elapsed, out);
        return;
    }
    fprintf (out, "requests   %llu in %.2f s, %.1f req/s\n", (unsigned long long)self->requests,
             elapsed, s_per_s (self->requests, elapsed));
    fprintf (out,
             "status     200: %llu  204: %llu  other 1xx-3xx: %llu  4xx: %llu  5xx: %llu  "
             "errors: %llu\n",
             (unsigned long long)self->status[200], (unsigned long long)self->status[204],
             (unsigned long long)(s_range (self, 100, 399) - self->status[200] - self->status[204]),
             (unsigned long long)s_range (self, 400, 499),
             (unsigned long long)s_range (self, 500, 599), (unsigned long long)self->errors);
    fprintf (out, "codes     ");
    for (int code = 100; code < 600; code++)
        if (self->status[code])
            fprintf (out, " %d=%llu", code, (unsigned long long)self->status[code]);
    fprintf (out, "%s (503 retried: %llu; resent on a fresh connection: %llu)\n",
             self->requests == self->errors ? " none" : "", (unsigned long long)self->retries,
             (unsigned long long)self->rewinds);
    fprintf (out, "events     sent %llu (%.1f/s), accepted in 200 answers %llu (%.1f/s)\n",
             (unsigned long long)self->events_sent, s_per_s (self->events_sent, elapsed),
             (unsigned long long)self->events_accepted, s_per_s (self->events_accepted, elapsed));
    fprintf (out, "bytes      %llu sent in bodies\n", (unsigned long long)self->bytes_sent);
    fprintf (out, "latency ms p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  (%llu answers)\n",
             send_hist_quantile (&self->latency, 0.50) / 1000.0,
             send_hist_quantile (&self->latency, 0.90) / 1000.0,
             send_hist_quantile (&self->latency, 0.99) / 1000.0, self->latency.max / 1000.0,
             (unsigned long long)self->latency.total);
}
