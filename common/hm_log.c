/*  hm_log: see hm_log.h. A process has one log, so its state is the only
    module-level state we keep; it is set once at start-up, but for the
    logfile, which SIGHUP makes us open again by its path. The reopen waits
    for the next line: a signal handler may only set a flag, and a line is
    the first moment anything is written to the old file. The ring of
    recent warnings and errors (hm_log.h) is the other piece: fixed, under
    its own lock, so logging never allocates. */
#include "hm_log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char s_ident[64] = "hamustro";
static hm_log_level_t s_level = HM_LOG_INFO;
static FILE *s_out = NULL;
static char *s_path = NULL;                                     /* the logfile, to open again */
static volatile sig_atomic_t s_reopen = 0;                      /* set by SIGHUP */
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;      /* s_out while it is swapped */
static hm_log_entry_t s_ring[HM_LOG_RECENT];                    /* recent warnings and errors */
static size_t s_ring_next = 0;                                  /* slot the next entry takes */
static size_t s_ring_count = 0;                                 /* entries held */
static pthread_mutex_t s_ring_lock = PTHREAD_MUTEX_INITIALIZER; /* the three above */
static const char *const s_level_names[] = {"debug", "info", "warn", "error"};

void
hm_log_init (const char *ident, hm_log_level_t level)
{
    snprintf (s_ident, sizeof s_ident, "%s", ident);
    s_level = level;
}

void
hm_log_reopen (void)
{
    s_reopen = 1;
}

static void
s_on_hup (int sig)
{
    (void)sig;
    hm_log_reopen ();
}

int
hm_log_open_file (const char *path)
{
    /* A daemon's SIGHUP means "reopen your logfile" (logrotate), never
       "end": without a logfile it does nothing. */
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_hup;
    sa.sa_flags = SA_RESTART;
    sigemptyset (&sa.sa_mask);
    sigaction (SIGHUP, &sa, NULL);
    if (!path || !*path)
        return 0;
    FILE *f = fopen (path, "a");
    char *copy = strdup (path);
    if (!f || !copy) {
        if (f)
            fclose (f);
        free (copy);
        return -1;
    }
    setvbuf (f, NULL, _IOLBF, 0);
    s_out = f;
    free (s_path);
    s_path = copy;
    return 0;
}

/* "2026-11-29T20:01:14Z [router] info: " into line; returns its length. */
static int
s_prefix (char *line, size_t cap, hm_log_level_t level)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime (CLOCK_REALTIME, &ts);
    gmtime_r (&ts.tv_sec, &tm);
    int n = (int)strftime (line, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    n += snprintf (line + n, cap - (size_t)n, " [%s] %s: ", s_ident, s_level_names[level]);
    return n < (int)cap ? n : (int)cap - 1;
}

/* Under s_lock: opens the logfile again; on failure keeps the old stream
   and says so there. */
static void
s_reopen_file (void)
{
    s_reopen = 0;
    FILE *f = fopen (s_path, "a");
    if (!f) {
        char line[512];
        int n = s_prefix (line, sizeof line, HM_LOG_ERROR);
        snprintf (line + n, sizeof line - (size_t)n,
                  "cannot open logfile %s again (SIGHUP): %s; still writing to the old one\n",
                  s_path, strerror (errno));
        fputs (line, s_out);
        return;
    }
    setvbuf (f, NULL, _IOLBF, 0);
    fclose (s_out);
    s_out = f;
}

bool
hm_log_enabled (hm_log_level_t level)
{
    return level >= s_level;
}

const char *
hm_log_level_name (hm_log_level_t level)
{
    return (unsigned)level <= HM_LOG_ERROR ? s_level_names[level] : "?";
}

const char *
hm_log_ident (void)
{
    return s_ident;
}

size_t
hm_log_cut (char *out, size_t cap, const char *s, size_t len)
{
    size_t n = 0;
    while (n < len && s[n])
        n++;
    if (n < cap) {
        memcpy (out, s, n);
        out[n] = '\0';
        return n;
    }
    size_t mark = strlen (HM_LOG_CUT_MARK), keep = cap - 1 - mark;
    /* s[keep] is the first byte left out: if it continues a character
       (10xxxxxx), that character's first bytes go too. */
    for (int k = 0; k < 3 && keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80; k++)
        keep--;
    memcpy (out, s, keep);
    memcpy (out + keep, HM_LOG_CUT_MARK, mark + 1);
    return keep + mark;
}

/* Keeps a warning's or error's message (len bytes) in the ring. */
static void
s_remember (hm_log_level_t level, const char *msg, size_t len)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    uint64_t now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    char cut[HM_LOG_RECENT_BYTES + 1];
    size_t n = hm_log_cut (cut, sizeof cut, msg, len);
    pthread_mutex_lock (&s_ring_lock);
    hm_log_entry_t *last =
        s_ring_count ? &s_ring[(s_ring_next + HM_LOG_RECENT - 1) % HM_LOG_RECENT] : NULL;
    if (last && last->level == level && strcmp (last->message, cut) == 0) {
        if (last->repeats < UINT32_MAX)
            last->repeats++;
        last->time_ms = now_ms;
    }
    else {
        hm_log_entry_t *e = &s_ring[s_ring_next];
        e->time_ms = now_ms;
        e->level = level;
        e->repeats = 1;
        memcpy (e->message, cut, n + 1);
        s_ring_next = (s_ring_next + 1) % HM_LOG_RECENT;
        if (s_ring_count < HM_LOG_RECENT)
            s_ring_count++;
    }
    pthread_mutex_unlock (&s_ring_lock);
}

size_t
hm_log_recent (hm_log_entry_t *out, size_t max)
{
    pthread_mutex_lock (&s_ring_lock);
    size_t n = 0;
    for (; n < s_ring_count && n < max; n++)
        out[n] = s_ring[(s_ring_next + HM_LOG_RECENT - 1 - n) % HM_LOG_RECENT];
    pthread_mutex_unlock (&s_ring_lock);
    return n;
}

void
hm_log_recent_clear (void)
{
    pthread_mutex_lock (&s_ring_lock);
    s_ring_count = 0;
    s_ring_next = 0;
    pthread_mutex_unlock (&s_ring_lock);
}

void
hm_log_write (hm_log_level_t level, const char *fmt, ...)
{
    char line[2048];
    int n = s_prefix (line, sizeof line, level), prefix = n;
    va_list ap;
    va_start (ap, fmt);
    if (n < (int)sizeof line)
        n += vsnprintf (line + n, sizeof line - (size_t)n, fmt, ap);
    va_end (ap);
    if (n >= (int)sizeof line - 1)
        n = (int)sizeof line - 2;
    if (level >= HM_LOG_WARN)
        s_remember (level, line + prefix, (size_t)(n - prefix));
    line[n++] = '\n';
    /* One write per line so lines from several processes sharing a file
       do not interleave. */
    if (s_out) {
        pthread_mutex_lock (&s_lock);
        if (s_reopen)
            s_reopen_file ();
        fwrite (line, 1, (size_t)n, s_out);
        pthread_mutex_unlock (&s_lock);
    }
    else {
        ssize_t rc = write (STDERR_FILENO, line, (size_t)n);
        (void)rc;
    }
}
