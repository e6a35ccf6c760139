/*  prom: the Prometheus text exposition format (see prom.h). */
#include "prom.h"

#include <math.h>
#include <stdio.h>

/* Escapes backslash and newline (HELP text), and double quote too (label
   values), as the format asks. */
static void
s_escape (hm_buf_t *out, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            hm_buf_puts (out, "\\\\");
        else if (*s == '\n')
            hm_buf_puts (out, "\\n");
        else if (*s == '"' && quote)
            hm_buf_puts (out, "\\\"");
        else
            hm_buf_putc (out, *s);
    }
}

void
hm_prom_family (hm_buf_t *out, const char *name, const char *type, const char *help)
{
    hm_buf_printf (out, "# HELP %s ", name);
    s_escape (out, help, 0);
    hm_buf_printf (out, "\n# TYPE %s %s\n", name, type);
}

void
hm_prom_label (hm_buf_t *labels, const char *key, const char *value)
{
    hm_buf_printf (labels, "%s%s=\"", labels->len ? "," : "", key);
    s_escape (labels, value ? value : "", 1);
    hm_buf_putc (labels, '"');
}

static void
s_name (hm_buf_t *out, const char *name, const char *labels)
{
    if (labels && *labels)
        hm_buf_printf (out, "%s{%s} ", name, labels);
    else
        hm_buf_printf (out, "%s ", name);
}

void
hm_prom_u64 (hm_buf_t *out, const char *name, const char *labels, uint64_t value)
{
    s_name (out, name, labels);
    hm_buf_printf (out, "%llu\n", (unsigned long long)value);
}

void
hm_prom_f64 (hm_buf_t *out, const char *name, const char *labels, double value)
{
    s_name (out, name, labels);
    if (isnan (value))
        hm_buf_puts (out, "NaN\n");
    else if (isinf (value))
        hm_buf_puts (out, value > 0 ? "+Inf\n" : "-Inf\n");
    else
        hm_buf_printf (out, "%.17g\n", value);
}

void
hm_prom_u64_by (hm_buf_t *out, const char *name, const char *labels, const char *key,
                const char *value, uint64_t v)
{
    hm_buf_t lb;
    hm_buf_init (&lb, 0);
    hm_buf_puts (&lb, labels ? labels : "");
    hm_prom_label (&lb, key, value);
    hm_prom_u64 (out, name, lb.data, v);
    hm_buf_free (&lb);
}

void
hm_prom_histogram (hm_buf_t *out, const char *name, const char *labels, const double *bounds,
                   size_t nbounds, const uint64_t *counts, double sum)
{
    char sample[128];
    uint64_t cum = 0;
    snprintf (sample, sizeof sample, "%s_bucket", name);
    for (size_t b = 0; b <= nbounds; b++) {
        char le[32];
        cum += counts[b];
        if (b < nbounds)
            snprintf (le, sizeof le, "%g", bounds[b]);
        else
            snprintf (le, sizeof le, "+Inf");
        hm_prom_u64_by (out, sample, labels, "le", le, cum);
    }
    snprintf (sample, sizeof sample, "%s_sum", name);
    hm_prom_f64 (out, sample, labels, sum);
    snprintf (sample, sizeof sample, "%s_count", name);
    hm_prom_u64 (out, sample, labels, cum);
}
