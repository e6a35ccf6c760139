/*  reaper: see reaper.h. One thread, a ring of names under a mutex; the
    head entry stays in the ring (and its bytes pending) until its unlink
    has returned, so reaper_wait and the byte count never run ahead of the
    disk. */
#include "reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hm_log.h"

#define S_NAME_MAX 48 /* segment names are 20 digits and ".log" */

typedef struct {
    char name[S_NAME_MAX];
    uint64_t bytes;
} s_entry_t;

struct _reaper_t {
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake; /* loop -> thread: a name was posted, or stop */
    pthread_cond_t idle; /* thread -> reaper_wait: the ring emptied */
    int dirfd;           /* our own dup of the log directory */
    s_entry_t *ring;     /* max entries */
    size_t max;          /* ring capacity */
    size_t head;         /* the entry being or next to be deleted */
    size_t count;        /* entries waiting, the one being deleted included */
    /* Bytes of the entries, plus those that failed. Written under mutex;
       read without it, since the log asks at every append round. */
    _Atomic uint64_t pending;
    uint64_t failures; /* unlinks or directory fsyncs that failed */
    bool stop;         /* reaper_destroy: finish the ring, then end */
};

static void *
s_run (void *arg)
{
    reaper_t *self = arg;
    pthread_mutex_lock (&self->mutex);
    while (true) {
        while (!self->stop && self->count == 0)
            pthread_cond_wait (&self->wake, &self->mutex);
        if (self->count == 0)
            break; /* stopping, nothing left */
        s_entry_t e = self->ring[self->head];
        pthread_mutex_unlock (&self->mutex);

        const char *what = "unlink";
        int rc = unlinkat (self->dirfd, e.name, 0);
        if (rc != 0 && errno == ENOENT)
            rc = 0; /* gone already: what we wanted */
        /* Why the directory fsync: as before the reaper, a deleted name
           stays deleted after a power cut. */
        if (rc == 0 && (rc = fsync (self->dirfd)) != 0)
            what = "fsync of the directory after unlinking";
        int err = errno;

        pthread_mutex_lock (&self->mutex);
        self->head = (self->head + 1) % self->max;
        self->count--;
        if (rc == 0)
            atomic_fetch_sub (&self->pending, e.bytes);
        else
            self->failures++; /* its bytes stay counted: they are on disk */
        if (self->count == 0)
            pthread_cond_broadcast (&self->idle);
        if (rc != 0) {
            pthread_mutex_unlock (&self->mutex);
            hm_error ("log: %s of segment %s failed: %s (it stays until the next start)", what,
                      e.name, strerror (err));
            pthread_mutex_lock (&self->mutex);
        }
    }
    pthread_mutex_unlock (&self->mutex);
    return NULL;
}

reaper_t *
reaper_new (int dirfd, size_t max)
{
    reaper_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max = max; /* 0: room for nothing, every post fails (tests) */
    self->dirfd = fcntl (dirfd, F_DUPFD_CLOEXEC, 0);
    self->ring = calloc (max ? max : 1, sizeof *self->ring);
    if (self->dirfd < 0 || !self->ring)
        goto fail;
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->wake, NULL);
    pthread_cond_init (&self->idle, NULL);
    int rc = pthread_create (&self->thread, NULL, s_run, self);
    if (rc != 0) {
        pthread_cond_destroy (&self->idle);
        pthread_cond_destroy (&self->wake);
        pthread_mutex_destroy (&self->mutex);
        errno = rc;
        goto fail;
    }
    return self;
fail:;
    int err = errno;
    if (self->dirfd >= 0)
        close (self->dirfd);
    free (self->ring);
    free (self);
    errno = err;
    return NULL;
}

void
reaper_destroy (reaper_t **self_p)
{
    reaper_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&self->mutex);
    self->stop = true;
    pthread_cond_signal (&self->wake);
    pthread_mutex_unlock (&self->mutex);
    pthread_join (self->thread, NULL);
    pthread_cond_destroy (&self->idle);
    pthread_cond_destroy (&self->wake);
    pthread_mutex_destroy (&self->mutex);
    close (self->dirfd);
    free (self->ring);
    free (self);
    *self_p = NULL;
}

int
reaper_post (reaper_t *self, const char *name, uint64_t bytes)
{
    size_t len = strlen (name);
    if (len >= S_NAME_MAX)
        return -1;
    pthread_mutex_lock (&self->mutex);
    if (self->count >= self->max) {
        pthread_mutex_unlock (&self->mutex);
        return -1;
    }
    s_entry_t *e = &self->ring[(self->head + self->count) % self->max];
    memcpy (e->name, name, len + 1);
    e->bytes = bytes;
    self->count++;
    atomic_fetch_add (&self->pending, bytes);
    pthread_cond_signal (&self->wake);
    pthread_mutex_unlock (&self->mutex);
    return 0;
}

uint64_t
reaper_pending_bytes (reaper_t *self)
{
    return atomic_load (&self->pending);
}

uint64_t
reaper_failures (reaper_t *self)
{
    pthread_mutex_lock (&self->mutex);
    uint64_t v = self->failures;
    pthread_mutex_unlock (&self->mutex);
    return v;
}

void
reaper_wait (reaper_t *self)
{
    pthread_mutex_lock (&self->mutex);
    while (self->count > 0)
        pthread_cond_wait (&self->idle, &self->mutex);
    pthread_mutex_unlock (&self->mutex);
}
