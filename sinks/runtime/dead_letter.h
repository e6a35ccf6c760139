/*  dead_letter: the route's file of events that can never be delivered
    (ARCHITECTURE section 4: nothing disappears silently). One JSON line per
    event:
      {"reason":"...","route":"...","first_offset":N,"last_offset":N,"event":{...}}
    where event is the event's JSON line (as hm_encode_json writes it). The
    file is appended to and fsync'd before the batch is ACKed. */
#ifndef HM_DEAD_LETTER_H
#define HM_DEAD_LETTER_H

#include <stddef.h>
#include <stdint.h>

#include "hm_buf.h"
#include "pipeline.pb-c.h"

/* Appends one line (with '\n') to out. 0 or -1 (buffer limit / memory). */
int hm_dead_letter_line (hm_buf_t *out, const char *reason, const char *route, uint64_t first,
                         uint64_t last, const Hm__Event *event);

/* Appends len bytes of lines to path (creating it and its directories),
   fsyncs it, and closes it. 0, or -1 with the reason in errbuf. */
int hm_dead_letter_append (const char *path, const void *data, size_t len, char *errbuf,
                           size_t errlen);

#endif
