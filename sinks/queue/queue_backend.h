/*  queue_backend: the "aqs" sink's backend (hamustro-queue-sink): one Azure
    Queue Storage message per event, the event's JSON line as its text.
    The message builders are exposed for the unit tests. */
#ifndef HM_QUEUE_BACKEND_H
#define HM_QUEUE_BACKEND_H

#include <stddef.h>

#include "azure.h"
#include "sink.h"

/* The service's limit on a message's text as sent (64 KiB). */
#define HM_QUEUE_MAX_TEXT 65536
/* Put Message requests in flight at once. */
#define HM_QUEUE_IN_FLIGHT 32

typedef enum {
    HM_QUEUE_BASE64 = 0, /* "base64": what Azure's SDKs and Functions expect (default) */
    HM_QUEUE_XML = 1     /* "xml": the line as plain text, XML-escaped */
} hm_queue_encoding_t;

extern const hm_sink_backend_t hm_queue_backend;

/* Appends s[0..len) with &, <, > and CR escaped for XML text. 0 / -1. */
int hm_queue_xml_escape (hm_buf_t *out, const char *s, size_t len);

/* Bytes the message text of a len-byte line takes in encoding, without
   building it (base64: 4 * ceil(len / 3); xml: counts the escapes). */
size_t hm_queue_text_size (const char *line, size_t len, hm_queue_encoding_t encoding);

/* Appends the Put Message body for the line:
   <QueueMessage><MessageText>TEXT</MessageText></QueueMessage>. 0 / -1. */
int hm_queue_message_body (hm_buf_t *out, const char *line, size_t len,
                           hm_queue_encoding_t encoding);

#endif
