/*  faultshim: makes chosen file system calls fail on demand, for the tests
    of the router's log failure paths (tests/faults/README.md, "Failed syncs").

    Why a shim and not a fake disk: the calls that matter (fdatasync,
    fsync, ftruncate, the writes) are the real ones on the real file
    system; only their result is replaced, as a disk returning EIO or a
    full file system would. The program under test is unchanged.

    Two ways to arm it:
      - LD_PRELOAD=libhm_faultshim.so and HM_FAULTS=FILE: FILE holds the
        rules; the shim reads it again whenever it changes (a new inode,
        size or mtime: write a temporary file and rename it over FILE), so a
        test can arm and disarm a running program. A missing FILE: no rules.
      - linked into a test program: hm_faults_set (rules) (declared below).

    A rule is one line:   CALL PATTERN AFTER COUNT ERRNO
        CALL     fdatasync, fsync, ftruncate, write, pwrite or pwritev
        PATTERN  fnmatch(3) glob on the file's path (from /proc/self/fd)
        AFTER    how many matching calls succeed first
        COUNT    how many fail after those (-1: every one from then on)
        ERRNO    EIO, ENOSPC, EDQUOT or EROFS
    e.g. "fdatasync *.seg 2 1 EIO": the third fdatasync of a log segment
    fails with EIO, the others pass. Counting starts when the rule
    is loaded. '#' starts a comment line.

    Every failure it injects is written to stderr ("faultshim: ..."), so
    the program's log shows the cause next to the program's own line. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif

#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define S_RULES_MAX 16
#define S_CALL_MAX 16

typedef struct {
    char call[S_CALL_MAX];  /* the call's name */
    char pattern[PATH_MAX]; /* glob on the path */
    long after;             /* matching calls that still pass */
    long count;             /* failures left (-1: forever) */
    int err;                /* errno to fail with */
} s_rule_t;

/* The shim's state: one per process by nature (it stands in for libc). */
static pthread_mutex_t s_mutex = PTHREAD_MUTEX_INITIALIZER;
static s_rule_t s_rules[S_RULES_MAX]; /* the rules loaded */
static int s_nrules;                  /* how many */
static bool s_by_api;                 /* set by hm_faults_set: ignore HM_FAULTS */
static struct stat s_seen;            /* HM_FAULTS as last loaded */
static bool s_seen_any;               /* s_seen is valid */

int hm_faults_set (const char *rules);

static int
s_errno (const char *name)
{
    static const struct {
        const char *name;
        int err;
    } names[] = {{"EIO", EIO}, {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"EROFS", EROFS}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp (name, names[i].name) == 0)
            return names[i].err;
    return 0;
}

/* Parses rules (caller holds the mutex). -1 on a bad line (no rule kept). */
static int
s_parse (const char *text)
{
    s_nrules = 0;
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr (p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen (p);
        char line[PATH_MAX + 64];
        if (n >= sizeof line)
            n = sizeof line - 1;
        memcpy (line, p, n);
        line[n] = 0;
        p = nl ? nl + 1 : NULL;
        char call[S_CALL_MAX], pattern[PATH_MAX], err[16];
        long after, count;
        if (line[0] == '#' || strspn (line, " \t\r") == strlen (line))
            continue;
        if (s_nrules == S_RULES_MAX ||
            sscanf (line, "%15s %4095s %ld %ld %15s", call, pattern, &after, &count, err) != 5 ||
            !s_errno (err) || after < 0 || count < -1) {
            fprintf (stderr, "faultshim: bad rule '%s' (no rules loaded)\n", line);
            s_nrules = 0;
            return -1;
        }
        s_rule_t *r = &s_rules[s_nrules++];
        snprintf (r->call, sizeof r->call, "%s", call);
        snprintf (r->pattern, sizeof r->pattern, "%s", pattern);
        r->after = after, r->count = count, r->err = s_errno (err);
    }
    return 0;
}

/* Reloads HM_FAULTS if it changed (caller holds the mutex). */
static void
s_reload (void)
{
    const char *file = getenv ("HM_FAULTS");
    if (s_by_api || !file || !*file)
        return;
    struct stat st;
    if (stat (file, &st) != 0) {
        if (s_seen_any)
            s_nrules = 0; /* removed: disarmed */
        s_seen_any = false;
        return;
    }
    if (s_seen_any && st.st_ino == s_seen.st_ino && st.st_size == s_seen.st_size &&
        st.st_mtim.tv_sec == s_seen.st_mtim.tv_sec && st.st_mtim.tv_nsec == s_seen.st_mtim.tv_nsec)
        return;
    s_seen = st, s_seen_any = true;
    char text[8192] = {0};
    FILE *f = fopen (file, "re");
    if (!f) {
        s_nrules = 0;
        return;
    }
    size_t got = fread (text, 1, sizeof text - 1, f);
    fclose (f);
    text[got] = 0;
    s_parse (text);
}

/* Should this call on fd fail? 0: no, else the errno to fail with. */
static int
s_should_fail (const char *call, int fd)
{
    pthread_mutex_lock (&s_mutex);
    s_reload ();
    int err = 0;
    char path[PATH_MAX] = "";
    bool have_path = false;
    for (int i = 0; i < s_nrules && !err; i++) {
        s_rule_t *r = &s_rules[i];
        if (strcmp (r->call, call) != 0 || r->count == 0)
            continue;
        if (!have_path) {
            char link[64];
            snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t n = readlink (link, path, sizeof path - 1);
            path[n > 0 ? n : 0] = 0;
            have_path = true;
        }
        if (fnmatch (r->pattern, path, 0) != 0)
            continue;
        if (r->after > 0) {
            r->after--;
            continue;
        }
        if (r->count > 0)
            r->count--;
        err = r->err;
    }
    pthread_mutex_unlock (&s_mutex);
    if (err)
        fprintf (stderr, "faultshim: %s(%s) fails with %s\n", call, path, strerror (err));
    return err;
}

int
hm_faults_set (const char *rules)
{
    pthread_mutex_lock (&s_mutex);
    s_by_api = rules != NULL;
    int rc = s_parse (rules ? rules : "");
    pthread_mutex_unlock (&s_mutex);
    return rc;
}

#define S_NEXT(type, name, args)                                                                   \
    static type (*next) args;                                                                      \
    if (!next)                                                                                     \
        *(void **)&next = dlsym (RTLD_NEXT, name);

int
fdatasync (int fd)
{
    S_NEXT (int, "fdatasync", (int));
    int err = s_should_fail ("fdatasync", fd);
    if (err) {
        errno = err;
        return -1;
    }
    return next (fd);
}

int
fsync (int fd)
{
    S_NEXT (int, "fsync", (int));
    int err = s_should_fail ("fsync", fd);
    if (err) {
        errno = err;
        return -1;
    }
    return next (fd);
}

static int
s_ftruncate (const char *name, int fd, off_t len)
{
    int (*next) (int, off_t);
    *(void **)&next = dlsym (RTLD_NEXT, name);
    int err = s_should_fail ("ftruncate", fd);
    if (err) {
        errno = err;
        return -1;
    }
    return next (fd, len);
}

int
ftruncate (int fd, off_t len)
{
    return s_ftruncate ("ftruncate", fd, len);
}

int
ftruncate64 (int fd, off_t len)
{
    return s_ftruncate ("ftruncate64", fd, len);
}

ssize_t
write (int fd, const void *buf, size_t n)
{
    S_NEXT (ssize_t, "write", (int, const void *, size_t));
    /* Only regular files: the shim must not break eventfds, pipes, sockets
       (stderr included, where it reports). */
    struct stat st;
    int err =
        fd > 2 && fstat (fd, &st) == 0 && S_ISREG (st.st_mode) ? s_should_fail ("write", fd) : 0;
    if (err) {
        errno = err;
        return -1;
    }
    return next (fd, buf, n);
}

static ssize_t
s_pwrite (const char *name, int fd, const void *buf, size_t n, off_t off)
{
    ssize_t (*next) (int, const void *, size_t, off_t);
    *(void **)&next = dlsym (RTLD_NEXT, name);
    int err = s_should_fail ("pwrite", fd);
    if (err) {
        errno = err;
        return -1;
    }
    return next (fd, buf, n, off);
}

ssize_t
pwrite (int fd, const void *buf, size_t n, off_t off)
{
    return s_pwrite ("pwrite", fd, buf, n, off);
}

ssize_t
pwrite64 (int fd, const void *buf, size_t n, off_t off)
{
    return s_pwrite ("pwrite64", fd, buf, n, off);
}

static ssize_t
s_pwritev (const char *name, int fd, const struct iovec *iov, int cnt, off_t off)
{
    ssize_t (*next) (int, const struct iovec *, int, off_t);
    *(void **)&next = dlsym (RTLD_NEXT, name);
    int err = s_should_fail ("pwritev", fd);
    if (err) {
        errno = err;
        return -1;
    }
    return next (fd, iov, cnt, off);
}

ssize_t
pwritev (int fd, const struct iovec *iov, int cnt, off_t off)
{
    return s_pwritev ("pwritev", fd, iov, cnt, off);
}

ssize_t
pwritev64 (int fd, const struct iovec *iov, int cnt, off_t off)
{
    return s_pwritev ("pwritev64", fd, iov, cnt, off);
}
