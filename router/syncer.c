/*  syncer: see syncer.h. One mutex guards a handful of numbers; the thread
    never touches the log's structures, only its own dup of the segment's
    fd, so the main loop can roll or close segments while a sync runs. */
#include "syncer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct _syncer_t {
    pthread_t thread;       /* the syncing thread */
    pthread_mutex_t mutex;  /* guards everything below */
    pthread_cond_t wake;    /* main -> thread: new target or stop */
    pthread_cond_t settled; /* thread -> syncer_wait: a sync finished */
    int efd;                /* thread -> main loop: something was reported */
    int fd;                 /* our dup of the segment being written, -1 if none */
    uint64_t segment;       /* which segment fd is */
    uint64_t target;        /* highest seq asked for */
    uint64_t done;          /* highest seq durable */
    int err;                /* errno of a failed sync; stops syncing until reset */
    bool stop;              /* thread must exit once idle */
    uint32_t interval_ms;   /* minimum time between syncs ("write" durability) */
    uint64_t last_ms;       /* monotonic time of the last sync */
    uint64_t syncs;         /* fdatasync calls made */
    sync_hist_t latency;    /* how long they took */
};

const double syncer_bucket_s[SYNCER_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                0.05,   0.1,   0.25,   0.5,   1,    2.5};

double
sync_hist_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
sync_hist_observe (sync_hist_t *h, double took_s)
{
    h->count++;
    h->sum_s += took_s;
    for (size_t i = 0; i < SYNCER_BUCKETS; i++)
        if (took_s <= syncer_bucket_s[i]) {
            h->bucket[i]++;
            break;
        }
}

static uint64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
s_wait_until (syncer_t *self, uint64_t when_ms)
{
    struct timespec ts = {(time_t)(when_ms / 1000), (long)(when_ms % 1000) * 1000000};
    pthread_cond_timedwait (&self->wake, &self->mutex, &ts);
}

static void *
s_run (void *arg)
{
    syncer_t *self = arg;
    /* Signals are the main loop's (stop flags, SIGHUP's logfile reopen). */
    sigset_t all;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, NULL);
    pthread_mutex_lock (&self->mutex);
    for (;;) {
        while (!self->stop && (self->target <= self->done || self->err))
            pthread_cond_wait (&self->wake, &self->mutex);
        if (self->target <= self->done || self->err)
            break; /* stopping and nothing left to do */
        if (self->interval_ms && !self->stop) {
            uint64_t due = self->last_ms + self->interval_ms, now = s_now_ms ();
            if (now < due) {
                s_wait_until (self, due);
                continue;
            }
        }
        int fd = self->fd >= 0 ? dup (self->fd) : -1;
        uint64_t target = self->target;
        pthread_mutex_unlock (&self->mutex);
        double t0 = sync_hist_now ();
        int rc = fd >= 0 ? fdatasync (fd) : -1;
        int err = fd >= 0 ? errno : EBADF;
        double took = sync_hist_now () - t0;
        if (fd >= 0)
            close (fd);
        pthread_mutex_lock (&self->mutex);
        self->syncs++;
        sync_hist_observe (&self->latency, took);
        self->last_ms = s_now_ms ();
        if (rc == 0) {
            if (target > self->done)
                self->done = target;
        }
        else
            self->err = err ? err : EIO;
        pthread_cond_broadcast (&self->settled);
        uint64_t one = 1;
        ssize_t n = write (self->efd, &one, sizeof one);
        (void)n; /* a full counter still wakes the poller */
    }
    pthread_cond_broadcast (&self->settled);
    pthread_mutex_unlock (&self->mutex);
    return NULL;
}

syncer_t *
syncer_new (uint64_t durable, uint32_t interval_ms)
{
    syncer_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = -1;
    self->done = self->target = durable;
    self->interval_ms = interval_ms;
    self->efd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->wake, &attr);
    pthread_cond_init (&self->settled, NULL);
    pthread_condattr_destroy (&attr);
    if (self->efd < 0 || pthread_create (&self->thread, NULL, s_run, self) != 0) {
        if (self->efd >= 0)
            close (self->efd);
        pthread_mutex_destroy (&self->mutex);
        pthread_cond_destroy (&self->wake);
        pthread_cond_destroy (&self->settled);
        free (self);
        return NULL;
    }
    return self;
}

void
syncer_destroy (syncer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    syncer_t *self = *self_p;
    pthread_mutex_lock (&self->mutex);
    self->stop = true;
    pthread_cond_signal (&self->wake);
    pthread_mutex_unlock (&self->mutex);
    pthread_join (self->thread, NULL);
    if (self->fd >= 0)
        close (self->fd);
    close (self->efd);
    pthread_mutex_destroy (&self->mutex);
    pthread_cond_destroy (&self->wake);
    pthread_cond_destroy (&self->settled);
    free (self);
    *self_p = NULL;
}

int
syncer_fd (const syncer_t *self)
{
    return self->efd;
}

int
syncer_post (syncer_t *self, int fd, uint64_t segment, uint64_t seq)
{
    int rc = 0;
    pthread_mutex_lock (&self->mutex);
    if (self->fd < 0 || self->segment != segment) {
        /* Why a dup: the log closes its fd when it rolls, maybe while we
           sync; our own descriptor keeps the file open as long as we need. */
        int mine = dup (fd);
        if (mine < 0)
            rc = -1;
        else {
            if (self->fd >= 0)
                close (self->fd);
            self->fd = mine;
            self->segment = segment;
        }
    }
    if (rc == 0 && seq > self->target) {
        self->target = seq;
        pthread_cond_signal (&self->wake);
    }
    pthread_mutex_unlock (&self->mutex);
    return rc;
}

uint64_t
syncer_poll (syncer_t *self, int *err_p)
{
    uint64_t count;
    ssize_t n = read (self->efd, &count, sizeof count);
    (void)n; /* EAGAIN: nothing new, the numbers below are still right */
    pthread_mutex_lock (&self->mutex);
    uint64_t done = self->done;
    *err_p = self->err;
    pthread_mutex_unlock (&self->mutex);
    return done;
}

void
syncer_reset (syncer_t *self, uint64_t durable)
{
    pthread_mutex_lock (&self->mutex);
    self->err = 0;
    self->done = self->target = durable;
    pthread_mutex_unlock (&self->mutex);
}

uint64_t
syncer_wait (syncer_t *self, int *err_p)
{
    pthread_mutex_lock (&self->mutex);
    /* Skip the "write" interval: whoever waits wants it now. */
    uint32_t interval = self->interval_ms;
    self->interval_ms = 0;
    pthread_cond_signal (&self->wake);
    while (self->target > self->done && !self->err)
        pthread_cond_wait (&self->settled, &self->mutex);
    self->interval_ms = interval;
    uint64_t done = self->done;
    *err_p = self->err;
    pthread_mutex_unlock (&self->mutex);
    return done;
}

uint64_t
syncer_syncs (syncer_t *self)
{
    pthread_mutex_lock (&self->mutex);
    uint64_t n = self->syncs;
    pthread_mutex_unlock (&self->mutex);
    return n;
}

void
syncer_latency (syncer_t *self, sync_hist_t *out)
{
    pthread_mutex_lock (&self->mutex);
    *out = self->latency;
    pthread_mutex_unlock (&self->mutex);
}
