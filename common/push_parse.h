/*  push_parse: one line of hamustro-push's input turned into events.

    A line is either a Collection in the protobuf JSON mapping (it has
    "payloads"), flattened exactly as the ingest does (no fallback IP), or
    one flat event with the field names of ARCHITECTURE section 5:
        device_id client_id session nr env system_version product_version
        at timezone event device_make device_model system system_language
        browser browser_version product_git_hash product_language user_id
        tenant_id ip country parameters
    env by name or number; at as epoch seconds or "YYYY-MM-DD HH:MM:SS"
    (UTC); parameters as an object, as JSON text of one, or as the
    Collection's [{name, value}] list. A flat event is rewritten as a
    one-payload Collection so both kinds go through the same checks and the
    same flattening. */
#ifndef PUSH_PARSE_H
#define PUSH_PARSE_H

#include <stddef.h>

#include "pipeline.pb-c.h"

/* Parses line (len bytes). On success returns 0 and sets *events_p to an
   array of *n_p heap-owned events (free each with hm__event__free_unpacked,
   then the array); a Collection without payloads gives 0 events. On error
   returns -1 with the reason in errbuf. */
int push_parse_line (const char *line, size_t len, Hm__Event ***events_p, size_t *n_p, char *errbuf,
                     size_t errlen);

#endif
