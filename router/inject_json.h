/*  inject_json: one single-frame text message on the inject socket (one
    JSON event in hamustro-push's flat form, or one JSON Collection in the
    client's body format) turned into the AppendRequest the log stores.

    The parsing is push_parse_line's (common/push_parse.h): the same checks
    as hamustro-push and the ingest's Collection decoding, so a message that
    would not pass there never enters the log. */
#ifndef HM_ROUTER_INJECT_JSON_H
#define HM_ROUTER_INJECT_JSON_H

#include <stddef.h>
#include <zmq.h>

/* Parses text (len bytes) and on success initialises out (an unused
   zmq_msg_t) with the packed AppendRequest (batch_id 0), sets *nevents and
   returns 0. Otherwise returns -1 with the reason in errbuf, out untouched.
   A Collection without payloads is refused (nothing to append). */
int inject_json_request (const void *text, size_t len, zmq_msg_t *out, size_t *nevents,
                         char *errbuf, size_t errlen);

#endif
