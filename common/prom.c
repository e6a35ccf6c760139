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
