/*  file_backend: stores each sealed batch as one file (the original
    Hamustro's "file" dialect).

        directory = hm_path_expand (route file_path, seal_time)
        name      = hm_batch_name (route, first, last, seal_time, format, compress)
        content   = every event encoded (JSON lines or CSV), gzip'd if compress

    The content is made and written in chunks (S_CHUNK of encoded events,
    compressed by one gzip stream), not built whole in memory first: a
    batch of 10,000 events is ~5 MB of JSON, and holding it was the file
    sink's largest buffer (issue #17).

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

#define S_CHUNK (256u << 10) /* encoded bytes gathered before they are compressed and written */

typedef struct {
    const hm_route_config_t *route; /* the route served (owned by the config) */
    hm_buf_t encoded;               /* scratch: a chunk of the batch encoded */
    hm_buf_t compressed;            /* scratch: what the gzip stream gave for it */
    hm_gzs_t *gz;                   /* the gzip stream (compress only) */
    hm_event_scratch_t scratch;     /* the event being encoded */
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
    hm_event_scratch_init (&self->scratch);
    hm_buf_init (&self->encoded, HM_FILE_MAX_BATCH_BYTES);
    hm_buf_init (&self->compressed, HM_FILE_MAX_BATCH_BYTES);
    if (route->compress && !(self->gz = hm_gzs_new ())) {
        free (self);
        snprintf (errbuf, errlen, "out of memory");
        return NULL;
    }
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
    hm_gzs_destroy (&self->gz);
    hm_event_scratch_free (&self->scratch);
    free (self);
    *state_p = NULL;
}

/* Encodes (and compresses) the batch into fd, a chunk at a time. */
static hm_sink_status_t
s_write_content (s_file_t *self, const hm_batch_t *batch, int fd, const char *tmp,
                 hm_sink_result_t *result)
{
    const hm_route_config_t *route = self->route;
    uint64_t total = 0; /* encoded bytes: the batch's bound is on these */
    hm_buf_reset (&self->encoded);
    hm_buf_reset (&self->compressed);
    if (route->compress)
        hm_gzs_begin (self->gz);
    for (size_t i = 0; i < batch->n_events; i++) {
        size_t before = self->encoded.len;
        const Hm__Event *e = hm_batch_event (batch, i, &self->scratch);
        if (!e || hm_encode (&self->encoded, e, route->format) != 0 ||
            (total += self->encoded.len - before) > HM_FILE_MAX_BATCH_BYTES)
            return hm_sink_retry (result, "encoding event %zu: over %u bytes or out of memory", i,
                                  HM_FILE_MAX_BATCH_BYTES);
        bool last = i + 1 == batch->n_events;
        if (self->encoded.len < S_CHUNK && !last)
            continue;
        const hm_buf_t *out = &self->encoded;
        if (route->compress) {
            if (hm_gzs_write (self->gz, self->encoded.data, self->encoded.len, last,
                              &self->compressed) != 0)
                return hm_sink_retry (result, "gzip: out of memory");
            out = &self->compressed;
        }
        if (out->len && hm_fs_write_all (fd, out->data, out->len) != 0)
            return hm_sink_retry_as (result, HM_RETRY_IO, "write %s: %s", tmp, strerror (errno));
        hm_buf_reset (&self->encoded);
        hm_buf_reset (&self->compressed);
    }
    return HM_SINK_OK;
}

/* Writes the batch to dir/tmp, fsyncs, renames to dir/name, fsyncs dir. */
static hm_sink_status_t
s_write_durably (s_file_t *self, const hm_batch_t *batch, const char *dir, const char *tmp,
                 const char *name, hm_sink_result_t *result)
{
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return hm_sink_retry_as (result, HM_RETRY_IO, "open %s: %s", tmp, strerror (errno));
    hm_sink_status_t status = s_write_content (self, batch, fd, tmp, result);
    if (status == HM_SINK_OK && fsync (fd) != 0)
        status = hm_sink_retry_as (result, HM_RETRY_IO, "write %s: %s", tmp, strerror (errno));
    if (status != HM_SINK_OK) {
        close (fd);
        unlink (tmp);
        return status;
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
s_deliver (void *state, const hm_batch_t *batch, hm_sink_result_t *result)
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

    hm_sink_status_t status = s_write_durably (self, batch, dlen ? dir : ".", tmp, final, result);
    /* Keep memory bounded between batches: a huge event's buffers go. */
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
