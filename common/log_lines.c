/*  log_lines: see log_lines.h. */
#include "log_lines.h"

#include "encode.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

uint64_t
hm_log_lines_wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

size_t
hm_log_lines_fill (hm_log_entry_t *entries, Hm__LogLine *lines, Hm__LogLine **ptrs, uint64_t now_ms)
{
    size_t n = hm_log_recent (entries, HM_LOG_LINES_SENT);
    for (size_t i = 0; i < n; i++) {
        hm__log_line__init (&lines[i]);
        lines[i].has_age_ms = lines[i].has_error = lines[i].has_repeats = true;
        lines[i].age_ms = now_ms > entries[i].time_ms ? now_ms - entries[i].time_ms : 0;
        lines[i].error = entries[i].level == HM_LOG_ERROR;
        lines[i].has_message = true;
        lines[i].message.data = (uint8_t *)entries[i].message;
        lines[i].message.len = strlen (entries[i].message);
        lines[i].repeats = entries[i].repeats;
        ptrs[i] = &lines[i];
    }
    return n;
}

size_t
hm_log_lines_take (hm_log_entry_t *out, size_t max, Hm__LogLine *const *lines, size_t n,
                   uint64_t received_ms)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        const Hm__LogLine *l = lines[i];
        if (!l || !l->has_message)
            continue;
        hm_log_entry_t *e = &out[k++];
        e->time_ms = l->age_ms < received_ms ? received_ms - l->age_ms : 0;
        e->level = l->error ? HM_LOG_ERROR : HM_LOG_WARN;
        e->repeats = l->has_repeats && l->repeats ? l->repeats : 1;
        /* An empty bytes value has no data; a NUL ends the text. */
        hm_log_cut (e->message, sizeof e->message,
                    l->message.data ? (const char *)l->message.data : "", l->message.len);
    }
    return k;
}

void
hm_log_lines_json (hm_buf_t *out, const hm_log_entry_t *e, uint64_t now_ms, const char *program,
                   const char *key, const char *value)
{
    time_t t = (time_t)(e->time_ms / 1000);
    struct tm tm;
    char when[32];
    gmtime_r (&t, &tm);
    strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    hm_buf_printf (
        out, "{\"time\":\"%s\",\"age_s\":%" PRIu64 ",\"level\":\"%s\",\"program\":", when,
        now_ms > e->time_ms ? (now_ms - e->time_ms) / 1000 : 0, hm_log_level_name (e->level));
    hm_json_string (out, program, strlen (program));
    if (key) {
        hm_buf_printf (out, ",\"%s\":", key);
        hm_json_string (out, value, strlen (value));
    }
    hm_buf_puts (out, ",\"message\":");
    hm_json_string (out, e->message, strlen (e->message));
    hm_buf_printf (out, ",\"repeats\":%" PRIu32 "}", e->repeats);
}
