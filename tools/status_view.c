/*  status_view: see status_view.h. Reads the JSON with cJSON: the counters
    it shows fit a double exactly (below 2^53) in any real run. */
#include "status_view.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define HM_VIEW_ERRORS 10   /* recent error lines in the table at most */
#define HM_VIEW_MESSAGE 160 /* bytes of a message shown when the width is not known */
#define HM_VIEW_CUT "..."   /* ends a message cut for the table */

/* A number member as uint64 (0 if absent or not a number). */
static uint64_t
s_u64 (const cJSON *obj, const char *name)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive (obj, name);
    return cJSON_IsNumber (n) && n->valuedouble > 0 ? (uint64_t)n->valuedouble : 0;
}

static const char *
s_str (const cJSON *obj, const char *name)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive (obj, name);
    return cJSON_IsString (n) ? n->valuestring : "?";
}

static bool
s_true (const cJSON *obj, const char *name)
{
    return cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (obj, name));
}

/* Bytes for people: 1023 B, 1.5 KiB, 12.0 MiB, 1.0 GiB. */
static void
s_bytes (char *out, size_t cap, uint64_t n)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf (out, cap, "%" PRIu64 " B", n);
    else
        snprintf (out, cap, "%.1f %s", v, units[u]);
}

/* The route named name in a status's routes, or NULL. */
static const cJSON *
s_route (const cJSON *status, const char *name)
{
    const cJSON *r;
    cJSON_ArrayForEach (r, cJSON_GetObjectItemCaseSensitive (status, "routes"))
    {
        if (strcmp (s_str (r, "name"), name) == 0)
            return r;
    }
    return NULL;
}

/* "name value, name value" for every non-zero number member of obj whose
   name is in names (NULL: every member); nothing if all are zero. */
static void
s_nonzero (hm_buf_t *out, const char *label, const cJSON *obj, const char *const *names)
{
    bool first = true;
    const cJSON *m;
    cJSON_ArrayForEach (m, obj)
    {
        bool wanted = !names;
        for (size_t i = 0; names && names[i] && !wanted; i++)
            wanted = strcmp (names[i], m->string) == 0;
        if (!wanted || !cJSON_IsNumber (m) || m->valuedouble <= 0)
            continue;
        hm_buf_printf (out, "%s%s %" PRIu64, first ? label : ", ", m->string,
                       (uint64_t)m->valuedouble);
        first = false;
    }
    if (!first)
        hm_buf_puts (out, "\n");
}

/* What a route counts that means something went wrong or was done twice. */
static const char *const s_route_problems[] = {
    "undecodable",    "nacks",       "requeued", "save_errors", "missing",       "read_errors",
    "alloc_failures", "redelivered", "died",     "malformed",   "stale_answers", NULL};

static void
s_routes (hm_buf_t *out, const cJSON *st, const cJSON *prev, double dt_s)
{
    const cJSON *routes = cJSON_GetObjectItemCaseSensitive (st, "routes");
    int w = 5;
    const cJSON *r;
    cJSON_ArrayForEach (r, routes)
    {
        int n = (int)strlen (s_str (r, "name"));
        w = n > w ? (n > 40 ? 40 : n) : w;
    }
    hm_buf_printf (out, "%-*s %-6s %10s %8s %7s %9s %6s %8s %s\n", w, "ROUTE", "SINK", "COMMITTED",
                   "LAG", "OLDEST", "RATE/s", "SEALED", "INFLIGHT", "INSTANCES");
    cJSON_ArrayForEach (r, routes)
    {
        char oldest[24] = "-", rate[24] = "-";
        /* The age of the oldest unacknowledged event, if the router says. */
        const cJSON *age = cJSON_GetObjectItemCaseSensitive (r, "oldest_age_s");
        if (cJSON_IsNumber (age))
            snprintf (oldest, sizeof oldest, "%.0fs", age->valuedouble);
        const cJSON *pr = prev ? s_route (prev, s_str (r, "name")) : NULL;
        if (pr && dt_s > 0) {
            uint64_t now = s_u64 (r, "committed"), then = s_u64 (pr, "committed");
            /* A replay moves committed back: no rate for that sample. */
            if (now >= then)
                snprintf (rate, sizeof rate, "%.1f", (double)(now - then) / dt_s);
        }
        const cJSON *insts = cJSON_GetObjectItemCaseSensitive (r, "instances");
        int ninst = cJSON_GetArraySize (insts), busy = 0;
        const cJSON *in;
        cJSON_ArrayForEach (in, insts)
        {
            busy += s_u64 (in, "inflight") > 0;
        }
        char inst[48];
        if (ninst == 0)
            snprintf (inst, sizeof inst, "0 (none connected)");
        else
            snprintf (inst, sizeof inst, "%d (%d busy)", ninst, busy);
        hm_buf_printf (
            out, "%-*.*s %-6.6s %10" PRIu64 " %8" PRIu64 " %7s %9s %6" PRIu64 " %8" PRIu64 " %s\n",
            w, w, s_str (r, "name"), s_str (r, "sink"), s_u64 (r, "committed"), s_u64 (r, "lag"),
            oldest, rate, s_u64 (r, "sealed"), s_u64 (r, "inflight"), inst);
    }
}

static void
s_instances (hm_buf_t *out, const cJSON *st)
{
    bool any = false;
    const cJSON *r, *in;
    cJSON_ArrayForEach (r, cJSON_GetObjectItemCaseSensitive (st, "routes"))
    {
        cJSON_ArrayForEach (in, cJSON_GetObjectItemCaseSensitive (r, "instances"))
        {
            if (!any)
                hm_buf_puts (out, "\nINSTANCES\n");
            any = true;
            uint64_t inflight = s_u64 (in, "inflight");
            hm_buf_printf (out,
                           "  %s %s: %s, %" PRIu64 " in flight, credit %" PRIu64 ", %" PRIu64
                           " delivered, last heard %" PRIu64 " ms ago\n",
                           s_str (r, "name"), s_str (in, "id"), inflight ? "busy" : "idle",
                           inflight, s_u64 (in, "credit"), s_u64 (in, "delivered"),
                           s_u64 (in, "silent_ms"));
        }
    }
}

/* The ingests reporting to the router: answers by code (the non-zero
   ones), accepted events, connections. */
static void
s_ingests (hm_buf_t *out, const cJSON *st)
{
    bool any = false;
    const cJSON *in, *code;
    cJSON_ArrayForEach (in, cJSON_GetObjectItemCaseSensitive (st, "ingests"))
    {
        if (!any)
            hm_buf_puts (out, "\nINGESTS\n");
        any = true;
        hm_buf_printf (out, "  %s: %" PRIu64 " requests (", s_str (in, "name"),
                       s_u64 (in, "requests"));
        bool first = true;
        cJSON_ArrayForEach (code, cJSON_GetObjectItemCaseSensitive (in, "answers"))
        {
            if (!cJSON_IsNumber (code) || code->valuedouble <= 0)
                continue;
            hm_buf_printf (out, "%s%s: %.0f", first ? "" : ", ", code->string, code->valuedouble);
            first = false;
        }
        hm_buf_printf (out,
                       "), %" PRIu64 " events accepted, %" PRIu64 " connections, reported %" PRIu64
                       " ms ago\n",
                       s_u64 (in, "accepted_events"), s_u64 (in, "connections"),
                       s_u64 (in, "reported_ms_ago"));
    }
}

/* Appends s for a terminal, at most max bytes (then HM_VIEW_CUT): text
   from a peer may hold anything, so control bytes (C0, DEL, C1) and bytes
   that are not UTF-8 become \xNN and a terminal never sees an escape
   sequence; a cut never splits a character. */
static void
s_safe (hm_buf_t *out, const char *s, size_t max)
{
    hm_buf_t t;
    hm_buf_init (&t, 0);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t len = *p < 0x80             ? 1
                     : (*p & 0xE0) == 0xC0 ? 2
                     : (*p & 0xF0) == 0xE0 ? 3
                     : (*p & 0xF8) == 0xF0 ? 4
                                           : 0;
        for (size_t k = 1; k < len; k++)
            if ((p[k] & 0xC0) != 0x80)
                len = 0; /* a NUL ends the loop here too */
        bool c1 = len == 2 && p[0] == 0xC2 && p[1] < 0xA0;
        if (len == 0 || c1 || (len == 1 && (*p < 0x20 || *p == 0x7F))) {
            hm_buf_printf (&t, "\\x%02x", *p);
            p++;
            continue;
        }
        hm_buf_append (&t, p, len);
        p += len;
    }
    const char *text = t.len ? t.data : "";
    size_t n = t.len, mark = strlen (HM_VIEW_CUT);
    if (n > max && max > mark) {
        /* Back to the first byte of a character, as hm_log_cut does. */
        n = max - mark;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
        hm_buf_append (out, text, n);
        hm_buf_puts (out, HM_VIEW_CUT);
    }
    else
        hm_buf_append (out, text, n);
    hm_buf_free (&t);
}

/* "12s ago", "5m ago", "3h ago", "2d ago". */
static void
s_age (char *out, size_t cap, uint64_t s)
{
    if (s < 120)
        snprintf (out, cap, "%" PRIu64 "s ago", s);
    else if (s < 7200)
        snprintf (out, cap, "%" PRIu64 "m ago", s / 60);
    else if (s < 172800)
        snprintf (out, cap, "%" PRIu64 "h ago", s / 3600);
    else
        snprintf (out, cap, "%" PRIu64 "d ago", s / 86400);
}

/* The newest warnings and errors of the router, its sinks and ingests
   (recent_errors, newest first as the router sorts them): at most
   HM_VIEW_ERRORS lines, each cut to width columns (0: messages cut at
   HM_VIEW_MESSAGE bytes). */
static void
s_errors (hm_buf_t *out, const cJSON *st, int width)
{
    const cJSON *errs = cJSON_GetObjectItemCaseSensitive (st, "recent_errors");
    int total = cJSON_GetArraySize (errs), shown = 0;
    if (total <= 0)
        return;
    hm_buf_puts (out, "\nRECENT ERRORS (newest first)\n");
    const cJSON *e;
    cJSON_ArrayForEach (e, errs)
    {
        if (shown == HM_VIEW_ERRORS)
            break;
        size_t start = out->len;
        char age[32];
        s_age (age, sizeof age, s_u64 (e, "age_s"));
        hm_buf_printf (out, "  %8s  ", age);
        s_safe (out, s_str (e, "program"), 32);
        const char *who = cJSON_IsString (cJSON_GetObjectItemCaseSensitive (e, "sink_instance"))
                              ? s_str (e, "sink_instance")
                          : cJSON_IsString (cJSON_GetObjectItemCaseSensitive (e, "ingest_instance"))
                              ? s_str (e, "ingest_instance")
                              : NULL;
        if (who) {
            hm_buf_putc (out, ' ');
            s_safe (out, who, 80);
        }
        hm_buf_puts (out, " ");
        s_safe (out, s_str (e, "level"), 8);
        hm_buf_puts (out, ": ");
        uint64_t repeats = s_u64 (e, "repeats");
        char times[32] = "";
        if (repeats > 1)
            snprintf (times, sizeof times, " (x%" PRIu64 ")", repeats);
        size_t used = out->len - start + strlen (times);
        size_t room = HM_VIEW_MESSAGE;
        if (width > 0)
            room = (size_t)width > used + 16 ? (size_t)width - used : 16;
        s_safe (out, s_str (e, "message"), room);
        hm_buf_printf (out, "%s\n", times);
        shown++;
    }
    if (total > shown)
        hm_buf_printf (out, "  ... %d more (--json has them all)\n", total - shown);
}

int
hm_status_view_render (const char *json, const char *prev_json, double dt_s, int width,
                       hm_buf_t *out)
{
    cJSON *st = cJSON_Parse (json);
    const cJSON *log = cJSON_GetObjectItemCaseSensitive (st, "log");
    if (!cJSON_IsObject (log) || !cJSON_IsArray (cJSON_GetObjectItemCaseSensitive (st, "routes"))) {
        hm_buf_puts (out, "the router's answer is not a status JSON object\n");
        cJSON_Delete (st);
        return -1;
    }
    cJSON *prev = prev_json ? cJSON_Parse (prev_json) : NULL;
    hm_buf_printf (out, "hamustro-router %s, up %" PRIu64 " s, durability %s\n",
                   s_str (st, "version"), s_u64 (st, "uptime_s"), s_str (st, "durability"));
    char used[32], bound[32];
    uint64_t bytes = s_u64 (log, "bytes"), max = s_u64 (log, "max_bytes");
    s_bytes (used, sizeof used, bytes);
    s_bytes (bound, sizeof bound, max);
    /* next_seq is the next record's: the log holds first_seq..next_seq-1. */
    uint64_t last = s_u64 (log, "next_seq") ? s_u64 (log, "next_seq") - 1 : 0;
    hm_buf_printf (out, "log: %s", used);
    if (max)
        hm_buf_printf (out, " of %s (%.1f%%)", bound, 100.0 * (double)bytes / (double)max);
    hm_buf_printf (out, ", %" PRIu64 " segments, ", s_u64 (log, "segments"));
    if (last >= s_u64 (log, "first_seq") && last)
        hm_buf_printf (out, "records %" PRIu64 "..%" PRIu64, s_u64 (log, "first_seq"), last);
    else
        hm_buf_puts (out, "no records");
    hm_buf_printf (out, ", durable to %" PRIu64 ", %" PRIu64 " appends waiting%s%s\n\n",
                   s_u64 (log, "durable_seq"), s_u64 (log, "pending_replies"),
                   s_true (log, "full") ? ", FULL (appends refused)" : "",
                   s_true (log, "failed") ? ", FAILED (appends refused until cut back)" : "");
    s_routes (out, st, prev, dt_s);
    s_instances (out, st);
    s_ingests (out, st);
    s_errors (out, st, width);
    hm_buf_puts (out, "\n");
    size_t before = out->len;
    s_nonzero (out, "counters: ", cJSON_GetObjectItemCaseSensitive (st, "counters"), NULL);
    static const char *const log_problems[] = {"failures", "refused",         "recover_errors",
                                               "damaged",  "damaged_records", NULL};
    s_nonzero (out, "log problems: ", log, log_problems);
    const cJSON *r;
    cJSON_ArrayForEach (r, cJSON_GetObjectItemCaseSensitive (st, "routes"))
    {
        char label[96];
        snprintf (label, sizeof label, "route %.64s: ", s_str (r, "name"));
        s_nonzero (out, label, r, s_route_problems);
    }
    if (out->len == before)
        hm_buf_puts (out, "counters: all zero\n");
    cJSON_Delete (prev);
    cJSON_Delete (st);
    return 0;
}
