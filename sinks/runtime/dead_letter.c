/*  dead_letter: see dead_letter.h. Dead letters are rare, so every append
    opens, writes, fsyncs and closes the file: nothing stays open, and
    several sink instances of one route can share the file (O_APPEND, one
    write() per batch). */
#include "dead_letter.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "encode.h"
#include "fsutil.h"

int
hm_dead_letter_line (hm_buf_t *out, const char *reason, const char *route, uint64_t first,
                     uint64_t last, const Hm__Event *event)
{
    size_t mark = out->len;
    if (hm_buf_puts (out, "{\"reason\":") != 0 ||
        hm_json_string (out, reason ? reason : "", reason ? strlen (reason) : 0) != 0 ||
        hm_buf_puts (out, ",\"route\":") != 0 ||
        hm_json_string (out, route ? route : "", route ? strlen (route) : 0) != 0 ||
        hm_buf_printf (out, ",\"first_offset\":%" PRIu64 ",\"last_offset\":%" PRIu64 ",\"event\":",
                       first, last) != 0 ||
        hm_encode_json (out, event) != 0)
        goto fail;
    /* hm_encode_json ends the object with '\n': it goes after our '}'. */
    if (out->len > mark && out->data[out->len - 1] == '\n')
        out->len--;
    if (hm_buf_puts (out, "}\n") != 0)
        goto fail;
    return 0;
fail:
    out->len = mark;
    if (out->data)
        out->data[mark] = '\0';
    return -1;
}

int
hm_dead_letter_append (const char *path, const void *data, size_t len, char *errbuf, size_t errlen)
{
    char dir[4096];
    if (hm_fs_dirname (path, dir, sizeof dir) != 0) {
        snprintf (errbuf, errlen, "dead-letter path too long");
        return -1;
    }
    if (hm_fs_mkdirs (dir, 0755, errbuf, errlen) != 0)
        return -1;

    int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf (errbuf, errlen, "open %s: %s", path, strerror (errno));
        return -1;
    }
    if (hm_fs_write_all (fd, data, len) != 0 || fsync (fd) != 0) {
        snprintf (errbuf, errlen, "write %s: %s", path, strerror (errno));
        close (fd);
        return -1;
    }
    if (close (fd) != 0) {
        snprintf (errbuf, errlen, "close %s: %s", path, strerror (errno));
        return -1;
    }
    /* The file may have just been created: make its name durable too. */
    if (hm_fs_fsync_dir (dir) != 0) {
        snprintf (errbuf, errlen, "fsync %s: %s", dir, strerror (errno));
        return -1;
    }
    return 0;
}
