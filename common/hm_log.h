/*  hm_log: one line per event to stderr (supervisord keeps it) or to the
    configured logfile. The daemon name and component come first, e.g.
    "2026-11-29T20:01:14Z [router] route archive: sealed 1..20".
    The level is checked before anything is formatted. */
#ifndef HM_LOG_H
#define HM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { HM_LOG_DEBUG = 0, HM_LOG_INFO, HM_LOG_WARN, HM_LOG_ERROR } hm_log_level_t;

/* Sets the ident printed on every line ("router", "sink:file:archive"). */
void hm_log_init (const char *ident, hm_log_level_t level);
/* Sends the log to a file (appending); NULL or "" keeps stderr. -1 on error.
   For the daemons (ingest, router, sinks), not the command-line tools: from
   then on SIGHUP no longer ends the process but makes the next line open the
   logfile again by its path, so logrotate can move it away. */
int hm_log_open_file (const char *path);
/* What SIGHUP does, for a thread that takes its signals with sigwait:
   the next line goes to a newly opened logfile. Async-signal-safe. */
void hm_log_reopen (void);
bool hm_log_enabled (hm_log_level_t level);
void hm_log_write (hm_log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* The recent warnings and errors: every warn or error line's message (the
   text after "[ident] level: ") is also kept in a small ring, so that a
   program can report what went wrong (the router's status, a sink's or an
   ingest's counters) without anyone reading its log. The ring is fixed:
   HM_LOG_RECENT entries, the oldest overwritten; a message longer than
   HM_LOG_RECENT_BYTES is cut at a UTF-8 character boundary and ends in
   HM_LOG_CUT_MARK. A message logged again at once (same level, same text)
   is folded into the newest entry: its count grows, its time moves on, and
   a retry loop does not push every other line out. */
#define HM_LOG_RECENT 8
#define HM_LOG_RECENT_BYTES 240 /* message bytes kept, the marker included */
#define HM_LOG_CUT_MARK "..."

typedef struct {
    uint64_t time_ms;                      /* wall clock (epoch ms) of its last occurrence */
    hm_log_level_t level;                  /* HM_LOG_WARN or HM_LOG_ERROR */
    uint32_t repeats;                      /* times it was logged in a row (1: once) */
    char message[HM_LOG_RECENT_BYTES + 1]; /* NUL-terminated, cut */
} hm_log_entry_t;

/* Copies up to max recent entries into out, newest first; returns how
   many. Thread-safe. */
size_t hm_log_recent (hm_log_entry_t *out, size_t max);
/* Empties the ring (tests). */
void hm_log_recent_clear (void);
/* "debug", "info", "warn", "error". */
const char *hm_log_level_name (hm_log_level_t level);
/* The ident given to hm_log_init ("router", "sink:file:archive"). */
const char *hm_log_ident (void);
/* Copies s (len bytes; a NUL in it ends it) into out (cap bytes, cap > 3)
   NUL-terminated; if it does not fit, cuts it at a UTF-8 character
   boundary and ends it in HM_LOG_CUT_MARK. Returns the length written.
   For text from a peer as much as for our own. */
size_t hm_log_cut (char *out, size_t cap, const char *s, size_t len);

#define hm_debug(...)                                                                              \
    do {                                                                                           \
        if (hm_log_enabled (HM_LOG_DEBUG))                                                         \
            hm_log_write (HM_LOG_DEBUG, __VA_ARGS__);                                              \
    } while (0)
#define hm_info(...)                                                                               \
    do {                                                                                           \
        if (hm_log_enabled (HM_LOG_INFO))                                                          \
            hm_log_write (HM_LOG_INFO, __VA_ARGS__);                                               \
    } while (0)
#define hm_warn(...) hm_log_write (HM_LOG_WARN, __VA_ARGS__)
#define hm_error(...) hm_log_write (HM_LOG_ERROR, __VA_ARGS__)

#endif
