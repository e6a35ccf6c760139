/*  send_record: hamustro-send's --record file. One line per event that a
    200 acknowledged, "session<TAB>nr", with "<TAB>sends" after it when its
    request was sent more than once (503s resent, libcurl's own resends on
    a fresh connection), so tests can compare it with what reached the
    sinks. Appended to, written a megabyte at a time, flushed on close. */
#ifndef SEND_RECORD_H
#define SEND_RECORD_H

#include "send_gen.h"

typedef struct send_record_t send_record_t;

/* Opens path for appending; NULL with the reason on stderr. */
send_record_t *send_record_open (const char *path);

/* Records every event of body, whose request was sent sends times. */
void send_record_add (send_record_t *self, const send_body_t *body, unsigned sends);

/* Flushes and closes; nulls *self_p, safe on NULL. 0, or -1 with the
   reason on stderr when the file could not be written. */
int send_record_close (send_record_t **self_p);

#endif
