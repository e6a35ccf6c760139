/*  send_record: hamustro-send's --record file (see send_record.h). */
#include "send_record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct send_record_t {
    FILE *file; /* opened for appending, fully buffered */
    char *path; /* for messages */
};

send_record_t *
send_record_open (const char *path)
{
    send_record_t *self = calloc (1, sizeof *self);
    if (!self || !(self->path = strdup (path))) {
        fprintf (stderr, "hamustro-send: %s: out of memory\n", path);
        free (self);
        return NULL;
    }
    self->file = fopen (path, "a");
    if (!self->file) {
        fprintf (stderr, "hamustro-send: %s: %s\n", path, strerror (errno));
        free (self->path);
        free (self);
        return NULL;
    }
    /* one write per megabyte, flushed at exit */
    setvbuf (self->file, NULL, _IOFBF, 1 << 20);
    return self;
}

void
send_record_add (send_record_t *self, const send_body_t *body, unsigned sends)
{
    for (uint32_t k = 0; k < body->events; k++) {
        if (sends > 1)
            fprintf (self->file, "%s\t%u\t%u\n", body->session, body->first_nr + k, sends);
        else
            fprintf (self->file, "%s\t%u\n", body->session, body->first_nr + k);
    }
}

int
send_record_close (send_record_t **self_p)
{
    send_record_t *self = self_p ? *self_p : NULL;
    if (!self)
        return 0;
    int rc = 0;
    if (fclose (self->file) != 0) {
        fprintf (stderr, "hamustro-send: %s: %s\n", self->path, strerror (errno));
        rc = -1;
    }
    free (self->path);
    free (self);
    *self_p = NULL;
    return rc;
}
