/*  sns_request: the pure half of the SNS sink: SNS's limits, how events
    are packed into PublishBatch requests, the form-encoded body of one
    request (Query API), FIFO ids from (session, nr), and reading the
    PublishBatch answer (Successful / Failed entries). No network, no
    clock: unit tested on its own. */
#ifndef HM_SNS_REQUEST_H
#define HM_SNS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hm_buf.h"

#define HM_SNS_MAX_MESSAGE 262144u /* bytes of one message (256 KiB) */
#define HM_SNS_MAX_PAYLOAD 262144u /* bytes of all messages of one PublishBatch */
#define HM_SNS_MAX_ENTRIES 10      /* entries of one PublishBatch */
#define HM_SNS_MAX_ID 128          /* MessageGroupId / MessageDeduplicationId length */

/* One entry of a PublishBatch. */
typedef struct {
    size_t index;         /* the event's position in its batch; the entry Id is "m<index>" */
    const char *message;  /* the message (an event's JSON line, no newline) */
    size_t message_len;   /* bytes in message */
    const char *group_id; /* FIFO: MessageGroupId, else NULL */
    const char *dedup_id; /* FIFO: MessageDeduplicationId, else NULL */
} hm_sns_entry_t;

/* What the answer said about one entry. */
typedef struct {
    size_t index;      /* from the entry Id "m<index>" */
    bool ok;           /* in Successful */
    bool sender_fault; /* Failed with SenderFault true: never publishable */
    char code[64];     /* Failed: the error code */
    char message[256]; /* Failed: the error message */
} hm_sns_outcome_t;

/* true when the topic is FIFO (its ARN ends in ".fifo"). */
bool hm_sns_topic_is_fifo (const char *topic_arn);

/* The region of "arn:aws:sns:REGION:ACCOUNT:NAME"; 0 / -1 (not an SNS ARN). */
int hm_sns_topic_region (const char *topic_arn, char *out, size_t cap);

/* FIFO ids of an event: group = session ("-" when empty; longer than 128
   or outside SNS's alphabet: its sha256 hex), dedup = sha256hex
   ("session:nr"), so a redelivered event is deduplicated by SNS for its
   5-minute window. The session is len bytes and may hold NULs (hashed
   whole). Each out holds HM_SNS_MAX_ID + 1 bytes. */
void hm_sns_fifo_ids (const char *session, size_t len, uint32_t nr, char group[HM_SNS_MAX_ID + 1],
                      char dedup[HM_SNS_MAX_ID + 1]);

/* How many of entries[0..count) go in the next request: at most
   HM_SNS_MAX_ENTRIES and HM_SNS_MAX_PAYLOAD bytes of messages together,
   at least one. */
size_t hm_sns_pack (const hm_sns_entry_t *entries, size_t count);

/* The form body of one PublishBatch of count entries (1..10), appended to
   out: Action, Version, TopicArn, then per entry N (from 1) Id, Message
   and, when set, MessageGroupId and MessageDeduplicationId; every value
   percent-encoded (RFC 3986). 0 / -1 (out of memory or over out's limit). */
int hm_sns_batch_body (hm_buf_t *out, const char *topic_arn, const hm_sns_entry_t *entries,
                       size_t count);

/* Reads a PublishBatchResponse: one outcome per member of Successful and
   Failed whose Id has the shape "m<index>", up to cap. Returns how many,
   or -1 when the body is not a PublishBatchResponse (no <Successful> nor
   <Failed>). Entries it does not mention were not published. */
long hm_sns_parse_batch_reply (const char *body, size_t len, hm_sns_outcome_t *out, size_t cap);

#endif
