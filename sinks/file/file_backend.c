/*  file_backend: stores each sealed batch as one file (the original
    Hamustro's "file" dialect).

        directory = hm_path_expand (route file_path, seal_time)
        name      = hm_batch_name (route, first, last, seal_time, format, compress)
        content   = every event encoded (JSON lines or CSV), gzip'd if compress

    The file appears complete or not at all: it is written under a
    temporary name in the same directory, fsync'd, renamed over the final
    name, and the directory is fsync'd; only then is the batch OK. A
    redelivered batch has the same name, so the rename replaces the earlier
    copy and exactly one file remains.

    The temporary name carries the pid: if the router ever hands the same
    batch to two instances at once (one was slow, not dead), they must not
    write into one temporary file.

    Every failure is RETRY, never DROP: a full or read-only disk, a missing
    permission, a path that is a file, all can be fixed while we wait. */
#include "file_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encode.h"
#include "fsutil.h"
#include "gz.h"
#include "pathname.h"

typedef struct {
    const hm_route_config_t *route; /* the route served (owned by the config) */
    hm_buf_t encoded;               /* scratch: the batch encoded, reused across batches */
    hm_buf_t compressed;            /* scratch: the same gzip'd */
} s_file_t;

static void *
s_init (const hm_config_t *cfg, const hm_route_config_t *route, char *errbuf, size_t errlen)
{
    (void)cfg;
    if (!route->file_path || !*route->file_path) {
        snprintf (errbuf, errlen, "route '%s': file.file_path is empty", route->name);
        return NULL;
    }
    char dir[4096];
    if (hm_path_expand (route->file_path, 0, dir, sizeof dir) != 0) {
        snprintf (errbuf, errlen, "route '%s': file.file_path is too long", route->name);
        return NULL;
    }
    s_file_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (errbuf, errlen, "out of memory");
        return NULL;
    }
    self->route = route;
    hm_buf_init (&self->encoded, HM_FILE_MAX_BATCH_BYTES);
    hm_buf_init (&self->compressed, HM_FILE_MAX_BATCH_BYTES);
    return self;
}

static void
s_destroy (void **state_p)
{
    s_file_t *self = *state_p;
    if (!self)
        return;
    hm_buf_free (&self->encoded);
    hm_buf_free (&self->compressed);
    free (self);
    *state_p = NULL;
}

/* Writes data to dir/tmp, fsyncs, renames to dir/name, fsyncs dir. */
static hm_sink_status_t
s_write_durably (const char *dir, const char *tmp, const char *name, const void *data, size_t len,
                 hm_sink_result_t *result)
{
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return hm_sink_retry_as (result, HM_RETRY_IO, "open %s: %s", tmp, strerror (errno));
    if (hm_fs_write_all (fd, data, len) != 0 || fsync (fd) != 0) {
        int err = errno;
        close (fd);
        unlink (tmp);
        return hm_sink_retry_as (result, HM_RETRY_IO, "write %s: %s", tmp, strerror (err));
    }
    if (close (fd) != 0) {
        int err = errno;
        unlink (tmp);
        return hm_sink_retry_as (result, HM_RETRY_IO, "close %s: %s", tmp, strerror (err));
    }
    if (rename (tmp, name) != 0) {
        int err = errno;
        unlink (tmp);
        return hm_sink_retry_as (result, HM_RETRY_IO, "rename %s to %s: %s", tmp, name,
                                 strerror (err));
    }
    /* Without this a crash could forget the rename after we said OK. */
    if (hm_fs_fsync_dir (dir) != 0)
        return hm_sink_retry_as (result, HM_RETRY_IO, "fsync %s: %s", dir, strerror (errno));
    return HM_SINK_OK;
}

static hm_sink_status_t
s_deliver (void *state, const Hm__Delivery *batch, hm_sink_result_t *result)
{
    s_file_t *self = state;
    const hm_route_config_t *route = self->route;
    if (batch->n_events == 0)
        return HM_SINK_OK;

    char dir[4096], name[256], tmp[4096 + 300], final[4096 + 300];
    if (hm_path_expand (route->file_path, batch->seal_time, dir, sizeof dir) != 0)
        return hm_sink_retry (result, "file_path expands to more than %zu bytes", sizeof dir);
    if (hm_batch_name (route->name, batch->first_offset, batch->last_offset, batch->seal_time,
                       route->format, route->compress, name, sizeof name) != 0)
        return hm_sink_retry (result, "cannot build the file name");
    /* "dir/" and "dir" both name the directory; "" is the working directory. */
    size_t dlen = strlen (dir);
    const char *sep = (dlen == 0 || dir[dlen - 1] == '/') ? "" : "/";
    snprintf (final, sizeof final, "%s%s%s", dir, sep, name);
    snprintf (tmp, sizeof tmp, "%s%s.%s.%ld.tmp", dir, sep, name, (long)getpid ());

    char errbuf[HM_SINK_REASON_MAX - 16];
    if (dlen > 0 && hm_fs_mkdirs (dir, 0755, errbuf, sizeof errbuf) != 0)
        return hm_sink_retry_as (result, HM_RETRY_IO, "%s", errbuf);

    hm_buf_reset (&self->encoded);
    for (size_t i = 0; i < batch->n_events; i++)
        if (hm_encode (&self->encoded, batch->events[i], route->format) != 0)
            return hm_sink_retry (result, "encoding event %zu: over %u bytes or out of memory", i,
                                  HM_FILE_MAX_BATCH_BYTES);
    const hm_buf_t *content = &self->encoded;
    if (route->compress) {
        hm_buf_reset (&self->compressed);
        if (hm_gzip (self->encoded.data, self->encoded.len, &self->compressed) != 0)
            return hm_sink_retry (result, "gzip: out of memory");
        content = &self->compressed;
    }
    hm_sink_status_t status =
        s_write_durably (dlen ? dir : ".", tmp, final, content->data, content->len, result);
    /* Keep memory bounded between batches: a huge batch's buffers go. */
    if (self->encoded.cap > (16u << 20)) {
        hm_buf_free (&self->encoded);
        hm_buf_free (&self->compressed);
    }
    return status;
}

const hm_sink_backend_t hm_file_backend = {
    .kind = "file",
    .init = s_init,
    .deliver = s_deliver,
    .destroy = s_destroy,
};
