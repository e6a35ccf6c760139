/*  hm_log: one line per event to stderr (supervisord keeps it) or to the
    configured logfile. The daemon name and component come first, e.g.
    "2026-11-29T20:01:14Z [router] route archive: sealed 1..20".
    The level is checked before anything is formatted. */
#ifndef HM_LOG_H
#define HM_LOG_H

#include <stdbool.h>

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
void hm_log_write (hm_log_level_t level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

#define hm_debug(...) do { if (hm_log_enabled (HM_LOG_DEBUG)) hm_log_write (HM_LOG_DEBUG, __VA_ARGS__); } while (0)
#define hm_info(...) do { if (hm_log_enabled (HM_LOG_INFO)) hm_log_write (HM_LOG_INFO, __VA_ARGS__); } while (0)
#define hm_warn(...) hm_log_write (HM_LOG_WARN, __VA_ARGS__)
#define hm_error(...) hm_log_write (HM_LOG_ERROR, __VA_ARGS__)

#endif
