/*  inject_json: see inject_json.h. */
#include "inject_json.h"

#include "pipeline.pb-c.h"
#include "push_parse.h"

#include <stdio.h>
#include <stdlib.h>

static void
s_free (void *data, void *hint)
{
    (void)hint;
    free (data);
}

int
inject_json_request (const void *text, size_t len, zmq_msg_t *out, size_t *nevents, char *errbuf,
                     size_t errlen)
{
    Hm__Event **events = NULL;
    size_t n = 0;
    if (push_parse_line (text, len, &events, &n, errbuf, errlen) != 0)
        return -1;
    int rc = -1;
    if (n == 0)
        snprintf (errbuf, errlen, "a Collection without payloads: nothing to append");
    else {
        Hm__AppendRequest req = HM__APPEND_REQUEST__INIT;
        req.n_events = n;
        req.events = events;
        size_t size = hm__append_request__get_packed_size (&req);
        uint8_t *packed = malloc (size ? size : 1);
        if (!packed)
            snprintf (errbuf, errlen, "out of memory");
        else {
            hm__append_request__pack (&req, packed);
            /* The log writes from the message's bytes: no second copy. */
            if (zmq_msg_init_data (out, packed, size, s_free, NULL) != 0) {
                free (packed);
                snprintf (errbuf, errlen, "out of memory");
            }
            else {
                *nevents = n;
                rc = 0;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        hm__event__free_unpacked (events[i], NULL);
    free (events);
    return rc;
}
