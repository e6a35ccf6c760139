/*  log_lines: a program's recent warnings and errors (hm_log.h's ring) on
    the wire (LogLine in proto/pipeline.proto, in SinkStats and IngestStats)
    and in the router's status JSON. The sender puts its newest lines in a
    report; the router takes them back as text from a peer: at most a few,
    each cut to HM_LOG_RECENT_BYTES, the time on its own clock (the sender
    says how long ago, not when, so the hosts' clocks need not agree). */
#ifndef HM_LOG_LINES_H
#define HM_LOG_LINES_H

#include "hm_buf.h"
#include "hm_log.h"
#include "pipeline.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* Lines a report carries, and the most a router reads from one. */
#define HM_LOG_LINES_SENT 2

/* Sender: this process's newest n <= HM_LOG_LINES_SENT entries as
   LogLines, in lines (room for HM_LOG_LINES_SENT) pointed at by ptrs; the
   messages point into entries, which must outlive the send. now_ms: wall
   clock, epoch ms. Returns n. */
size_t hm_log_lines_fill (hm_log_entry_t *entries, Hm__LogLine *lines, Hm__LogLine **ptrs,
                          uint64_t now_ms);

/* Router: a peer's n lines (received when its wall clock said received_ms)
   into at most max entries, checked: a NULL line or one without a message
   is skipped, a NUL ends a message, a long one is cut (HM_LOG_CUT_MARK),
   an age beyond received_ms is taken as 0 (epoch), repeats are at least 1.
   Returns how many. The bytes are kept as they are: escape them where
   they are shown (hm_log_lines_json, the status table). */
size_t hm_log_lines_take (hm_log_entry_t *out, size_t max, Hm__LogLine *const *lines, size_t n,
                          uint64_t received_ms);

/* Appends one entry of the status JSON's recent_errors: time (UTC
   ISO-8601), age_s (by now_ms), level, program, then key:value if key (the
   sink_instance or ingest_instance), message (escaped: valid JSON whatever
   the bytes), repeats. */
void hm_log_lines_json (hm_buf_t *out, const hm_log_entry_t *e, uint64_t now_ms,
                        const char *program, const char *key, const char *value);

/* The wall clock, epoch ms. */
uint64_t hm_log_lines_wall_ms (void);

#endif
