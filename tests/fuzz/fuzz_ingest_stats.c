/*  fuzz_ingest_stats: what the router does with an ingest's counter report
    (IngestStats, router/ingests.h), which comes from a peer on the append
    socket.

    Input: the packed IngestStats. Properties: a report is kept, dropped or
    refused with a reason, never partly kept; a kept report's name passes
    the label rules (config.h); the Prometheus text of what is held has, on
    every sample line, only label values from the bounded sets (the name,
    a status code or "other", a known refusal cause, a slow-close reason,
    a bucket bound) and one value; kept twice, the same report leaves one
    ingest; silent past INGESTS_SILENT_MS, it is forgotten. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "hm_log.h"
#include "ingests.h"
#include "log_lines.h"

static void
s_fail (const char *what, const char *text)
{
    fprintf (stderr, "fuzz_ingest_stats: %s\n%s\n", what, text ? text : "");
    abort ();
}

/* Each sample line: NAME{k="v",...} VALUE with every v label-safe (no
   quote, backslash or newline inside: nothing a peer sent breaks out). */
static void
s_check_text (const char *text)
{
    for (const char *line = text; *line;) {
        const char *end = strchr (line, '\n');
        if (!end)
            s_fail ("text does not end in a newline", text);
        if (*line != '#') {
            const char *open = memchr (line, '{', (size_t)(end - line));
            const char *close = open ? memchr (open, '}', (size_t)(end - open)) : NULL;
            if (open && !close)
                s_fail ("label set not closed", text);
            for (const char *p = open; p && p < close; p++)
                if (*p == '\\')
                    s_fail ("an escaped label value: a peer's bytes reached a label", text);
            const char *from = close ? close : line;
            const char *space = memchr (from, ' ', (size_t)(end - from));
            if (!space || memchr (space + 1, ' ', (size_t)(end - space - 1)))
                s_fail ("a sample line is not NAME{LABELS} VALUE", text);
        }
        line = end + 1;
    }
}

/* The held ingest's recent errors: bounded, and valid JSON in the status. */
static void
s_check_errors (ingests_t *self)
{
    ingests_error_t e[INGESTS_MAX * HM_LOG_LINES_SENT];
    size_t n = ingests_recent_errors (self, 1000, 1796000000000ULL, e, sizeof e / sizeof e[0]);
    if (n > HM_LOG_LINES_SENT)
        s_fail ("more recent errors than a report may carry", NULL);
    for (size_t i = 0; i < n; i++) {
        if (strlen (e[i].entry.message) > HM_LOG_RECENT_BYTES)
            s_fail ("a recent error longer than its bound", e[i].entry.message);
        hm_buf_t out;
        hm_buf_init (&out, 0);
        hm_log_lines_json (&out, &e[i].entry, 1796000000000ULL, "ingest", "ingest_instance",
                           e[i].name);
        hm_buf_putc (&out, '\0');
        for (const char *p = out.data; *p; p++)
            if ((unsigned char)*p < 0x20)
                s_fail ("a raw control byte in the status JSON", out.data);
        cJSON *j = cJSON_Parse (out.data);
        if (!j)
            s_fail ("a recent error is not valid JSON", out.data);
        cJSON_Delete (j);
        hm_buf_free (&out);
    }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet++)
        hm_log_init ("fuzz", HM_LOG_ERROR); /* not the "reporting its counters" lines */
    ingests_t *self = ingests_new ();
    if (!self)
        return 0;
    const char *why = NULL;
    int rc = ingests_report (self, data, size, 1000, &why);
    if (rc < 0 && (!why || !*why || strchr (why, '\n')))
        s_fail ("refused without a one-line reason", why);
    if (rc != 0 && ingests_count (self) != 0)
        s_fail ("a refused report was kept", NULL);
    hm_buf_t out;
    hm_buf_init (&out, 0);
    ingests_metrics_text (self, &out, 1000);
    hm_buf_putc (&out, '\0');
    s_check_text (out.data);
    if (rc == 0) {
        if (ingests_count (self) != 1)
            s_fail ("a kept report is not held", out.data);
        s_check_errors (self);
        if (ingests_report (self, data, size, 2000, &why) != 0 || ingests_count (self) != 1)
            s_fail ("the same report again is not one ingest", out.data);
        hm_buf_reset (&out);
        ingests_metrics_text (self, &out, 2000 + INGESTS_SILENT_MS);
        if (ingests_count (self) != 0)
            s_fail ("a silent ingest is not forgotten", NULL);
    }
    hm_buf_free (&out);
    ingests_destroy (&self);
    return 0;
}
