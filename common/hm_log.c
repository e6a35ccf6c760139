/*  hm_log: see hm_log.h. A process has one log, so its state is the only
    module-level state we keep; it is set once at start-up. */
#include "hm_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char s_ident[64] = "hamustro";
static hm_log_level_t s_level = HM_LOG_INFO;
static FILE *s_out = NULL;

void
hm_log_init (const char *ident, hm_log_level_t level)
{
    snprintf (s_ident, sizeof s_ident, "%s", ident);
    s_level = level;
}

int
hm_log_open_file (const char *path)
{
    if (!path || !*path)
        return 0;
    FILE *f = fopen (path, "a");
    if (!f)
        return -1;
    setvbuf (f, NULL, _IOLBF, 0);
    s_out = f;
    return 0;
}

bool
hm_log_enabled (hm_log_level_t level)
{
    return level >= s_level;
}

void
hm_log_write (hm_log_level_t level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime (CLOCK_REALTIME, &ts);
    gmtime_r (&ts.tv_sec, &tm);
    int n = (int) strftime (line, sizeof line, "%Y-%m-%dT%H:%M:%SZ", &tm);
    n += snprintf (line + n, sizeof line - (size_t) n, " [%s] %s: ", s_ident, names[level]);
    va_list ap;
    va_start (ap, fmt);
    if (n < (int) sizeof line)
        n += vsnprintf (line + n, sizeof line - (size_t) n, fmt, ap);
    va_end (ap);
    if (n >= (int) sizeof line - 1)
        n = (int) sizeof line - 2;
    line[n++] = '\n';
    /* One write per line so lines from several processes sharing a file
       do not interleave. */
    if (s_out) {
        fwrite (line, 1, (size_t) n, s_out);
    }
    else {
        ssize_t rc = write (STDERR_FILENO, line, (size_t) n);
        (void) rc;
    }
}
