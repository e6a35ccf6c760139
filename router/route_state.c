/*  route_state: the route's state file (see route.h): its committed
    offset and every sealed batch, written atomically before a sealed
    batch is handed out, read back at start. */
#include "route_priv.h"

#include "fsutil.h"
#include "hm_buf.h"
#include "hm_log.h"
#include "reserve.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
route_state_load (route_t *self, char *errbuf, size_t errlen)
{
    FILE *f = fopen (self->path, "r");
    if (!f && errno == ENOENT)
        return 1;
    if (!f) {
        snprintf (errbuf, errlen, "%s: %s", self->path, strerror (errno));
        return -1;
    }
    char line[256];
    int lineno = 0, rc = -1;
    bool header = false, have_commit = false, ended = false;
    uint64_t end = 0;
    while (fgets (line, sizeof line, f)) {
        lineno++;
        uint64_t first, last, seal;
        unsigned acked;
        char extra;
        if (!header) {
            if (strcmp (line, ROUTE_STATE_MAGIC "\n") != 0)
                goto bad;
            header = true;
        }
        else if (!have_commit) {
            if (sscanf (line, "committed %" SCNu64 " %c", &self->committed, &extra) != 1)
                goto bad;
            have_commit = true;
            end = self->committed;
        }
        else if (strcmp (line, "end\n") == 0)
            ended = true;
        else if (!ended &&
                 sscanf (line, "batch %" SCNu64 " %" SCNu64 " %" SCNu64 " %u %c", &first, &last,
                         &seal, &acked, &extra) == 4 &&
                 first == end + 1 && last >= first && acked <= 1) {
            route_batch_t *b = acked ? calloc (1, sizeof *b) : route_batch_new (self, first);
            if (!b || route_push (self, b) != 0) {
                free (b);
                snprintf (errbuf, errlen, "%s: out of memory", self->path);
                goto done;
            }
            b->first = first, b->last = last, b->seal_time = seal;
            b->state = acked ? ROUTE_BATCH_ACKED : ROUTE_BATCH_LOADING;
            b->saved = true;
            end = last;
        }
        else
            goto bad;
    }
    if (!ended)
        goto bad;
    self->sealed_end = end;
    rc = 0;
    goto done;
bad:
    snprintf (errbuf, errlen, "%s: line %d: not a route state file (or a truncated one)",
              self->path, lineno);
done:
    fclose (f);
    return rc;
}

/* The state file counts on records past its committed offset still being
   in the log (to rebuild the batches it lists). If the log starts later
   (segments deleted by hand, a disk that lost them, or a router before
   e6346b5 that deleted ahead of the saved offset) those records are gone:
   a batch wholly before the log's start is not delivered again, and one
   reaching into the log is rebuilt from the log's first record. Its
   offsets, and so its object name, change: a partial batch must never
   overwrite a whole one delivered before (a duplicate beats a loss). */
void
route_state_skip_missing (route_t *self, uint64_t first_seq)
{
    if (first_seq == 0 || self->committed + 1 >= first_seq)
        return;
    hm_error ("route %s: records %" PRIu64 "..%" PRIu64 " are no longer in the log (deleted or "
              "lost); batches over them are not delivered again, one reaching past them is "
              "delivered from %" PRIu64 " under a new name",
              self->cfg->name, self->committed + 1, first_seq - 1, first_seq);
    self->st.missing = first_seq - 1 - self->committed;
    size_t keep = 0;
    for (size_t i = 0; i < self->nbatches; i++) {
        route_batch_t *b = self->batches[i];
        if (b->last < first_seq) {
            route_batch_destroy (&self->batches[i]);
            continue;
        }
        if (b->first < first_seq) {
            b->first = first_seq;
            b->saved = false;
        }
        self->batches[keep++] = b;
    }
    self->nbatches = keep;
    self->committed = first_seq - 1;
    if (self->sealed_end < self->committed)
        self->sealed_end = self->committed;
}

bool
route_needs_save (const route_t *self, bool seals_only)
{
    for (size_t i = 0; i < self->nbatches; i++) {
        const route_batch_t *b = self->batches[i];
        if (!b->saved && (!seals_only || b->state != ROUTE_BATCH_ACKED))
            return true;
    }
    return !seals_only && self->commit_dirty;
}

/* The longest state file: its header and every batch line at their
   widest (three 20-digit numbers). A save writes a whole new file beside
   the old one, so on a full disk the reserve must hold it (server_disk.c),
   with room to spare for the file system's own blocks. */
#define S_STATE_MAX_BYTES (64 + (size_t)ROUTE_MAX_BATCHES * 72)
_Static_assert(S_STATE_MAX_BYTES <= RESERVE_BYTES / 2, "the reserve must hold a route's state");

int
route_save (route_t *self)
{
    hm_buf_t text;
    hm_buf_init (&text, 0);
    hm_buf_printf (&text, ROUTE_STATE_MAGIC "\ncommitted %" PRIu64 "\n", self->committed);
    for (size_t i = 0; i < self->nbatches; i++) {
        const route_batch_t *b = self->batches[i];
        hm_buf_printf (&text, "batch %" PRIu64 " %" PRIu64 " %" PRIu64 " %d\n", b->first, b->last,
                       b->seal_time, b->state == ROUTE_BATCH_ACKED);
    }
    int rc = hm_buf_puts (&text, "end\n");
    int fd = rc == 0 ? open (self->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    /* Why the fsyncs: rename is atomic, but without them a crash can leave
       the new name pointing at a file whose bytes never reached the disk. */
    if (fd < 0 || hm_fs_write_all (fd, text.data, text.len) != 0 || fsync (fd) != 0) {
        hm_error ("route %s: cannot write %s: %s", self->cfg->name, self->tmp_path,
                  strerror (errno));
        goto fail;
    }
    close (fd);
    fd = -1;
    if (rename (self->tmp_path, self->path) != 0) {
        hm_error ("route %s: cannot rename %s: %s", self->cfg->name, self->tmp_path,
                  strerror (errno));
        goto fail;
    }
    if (hm_fs_fsync_dir (self->dir) != 0) {
        hm_error ("route %s: cannot sync %s: %s", self->cfg->name, self->dir, strerror (errno));
        goto fail;
    }
    hm_buf_free (&text);
    for (size_t i = 0; i < self->nbatches; i++)
        self->batches[i]->saved = true;
    self->commit_dirty = false;
    return 0;
fail:
    if (fd >= 0)
        close (fd);
    hm_buf_free (&text);
    self->st.save_errors++;
    return -1;
}
