/*  log_fixture: a log in a temporary directory for a unit test
    (log_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log_fixture.h"

#include "fixture_dir.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

int
lf_setup (void **state, const char *name)
{
    lf_fixture_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    fixture_dir_make (f->dir, sizeof f->dir, name);
    snprintf (f->log, sizeof f->log, "%s/log", f->dir);
    *state = f;
    return 0;
}

int
lf_teardown (void **state)
{
    lf_fixture_t *f = *state;
    fixture_dir_remove (f->dir);
    free (f);
    return 0;
}

rlog_t *
lf_open (lf_fixture_t *f, uint64_t segment_bytes, uint64_t max_bytes)
{
    char err[256] = "";
    rlog_t *log = rlog_new (f->log, segment_bytes, max_bytes, err, sizeof err);
    if (!log)
        fail_msg ("rlog_new: %s", err);
    return log;
}

int
lf_payload (char *out, size_t cap, const char *tag, int i)
{
    return snprintf (out, cap, "%s-%d", tag, i);
}

uint64_t
lf_append (rlog_t *log, const char *tag, int from, int to)
{
    char bufs[64][48];
    struct iovec iov[64];
    assert_true (to - from <= 64);
    for (int i = from; i < to; i++)
        iov[i - from] = (struct iovec){bufs[i - from],
                                       (size_t)lf_payload (bufs[i - from], sizeof bufs[0], tag, i)};
    uint64_t first = 0;
    assert_int_equal (rlog_append (log, iov, (size_t)(to - from), &first), 0);
    return first;
}

void
lf_seg_path (lf_fixture_t *f, uint64_t first, char *out, size_t cap)
{
    snprintf (out, cap, "%s/%020" PRIu64 ".seg", f->log, first);
}

void
lf_flip_crc (const char *path, off_t at)
{
    int fd = open (path, O_RDWR);
    assert_true (fd >= 0);
    uint8_t b;
    /* The crc is at bytes 4..7 of a record's header. */
    assert_int_equal (pread (fd, &b, 1, at + 5), 1);
    b ^= 0x40;
    assert_int_equal (pwrite (fd, &b, 1, at + 5), 1);
    close (fd);
}
