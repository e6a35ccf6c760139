/*  sns_request: PublishBatch packing, form bodies, FIFO ids and answers
    (see sns_request.h). */
#include "sns_request.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_section.h"
#include "digest.h"
#include "sigv4.h"

bool
hm_sns_topic_is_fifo (const char *topic_arn)
{
    size_t n = topic_arn ? strlen (topic_arn) : 0;
    return n >= 5 && strcmp (topic_arn + n - 5, ".fifo") == 0;
}

int
hm_sns_topic_region (const char *topic_arn, char *out, size_t cap)
{
    /* arn:PARTITION:sns:REGION:ACCOUNT:NAME */
    const char *p = topic_arn;
    if (!p || strncmp (p, "arn:", 4) != 0)
        return -1;
    p = strchr (p + 4, ':');
    if (!p || strncmp (p, ":sns:", 5) != 0)
        return -1;
    p += 5;
    size_t n = strcspn (p, ":");
    if (n == 0 || n >= cap || p[n] != ':')
        return -1;
    memcpy (out, p, n);
    out[n] = '\0';
    return 0;
}

void
hm_sns_fifo_ids (const char *session, size_t len, uint32_t nr, char group[HM_SNS_MAX_ID + 1],
                 char dedup[HM_SNS_MAX_ID + 1])
{
    const char *s = session && len ? session : "";
    size_t n = session ? len : 0;
    bool plain = n > 0 && n <= HM_SNS_MAX_ID;
    for (size_t i = 0; plain && i < n; i++)
        plain = isgraph ((unsigned char)s[i]) != 0; /* alphanumerics and punctuation */
    if (plain) {
        memcpy (group, s, n);
        group[n] = '\0';
    }
    else if (n == 0)
        strcpy (group, "-");
    else
        hm_sha256_hex (s, n, group);
    /* "session:nr", the session as its bytes; one that long is hashed
       first (as before: when the key would not fit), the id stays unique. */
    char key[HM_SNS_MAX_ID * 4];
    char suffix[16];
    int k = snprintf (suffix, sizeof suffix, ":%u", nr);
    size_t slen = k > 0 ? (size_t)k : 0;
    char h[65];
    if (n + slen >= sizeof key) {
        hm_sha256_hex (s, n, h);
        s = h, n = strlen (h);
    }
    memcpy (key, s, n);
    memcpy (key + n, suffix, slen);
    hm_sha256_hex (key, n + slen, dedup);
}

size_t
hm_sns_pack (const hm_sns_entry_t *entries, size_t count)
{
    size_t n = 0, bytes = 0;
    while (n < count && n < HM_SNS_MAX_ENTRIES) {
        if (n > 0 && bytes + entries[n].message_len > HM_SNS_MAX_PAYLOAD)
            break;
        bytes += entries[n].message_len;
        n++;
    }
    return n;
}

static int
s_param (hm_buf_t *out, const char *name, size_t entry, const char *value, size_t len)
{
    int rc = entry ? hm_buf_printf (out, "&PublishBatchRequestEntries.member.%zu.%s=", entry, name)
                   : hm_buf_printf (out, "&%s=", name);
    return rc == 0 ? hm_sigv4_uri_encode (out, value, len, false) : -1;
}

int
hm_sns_batch_body (hm_buf_t *out, const char *topic_arn, const hm_sns_entry_t *entries,
                   size_t count)
{
    size_t mark = out->len;
    if (hm_buf_puts (out, "Action=PublishBatch&Version=2010-03-31") != 0 ||
        s_param (out, "TopicArn", 0, topic_arn, strlen (topic_arn)) != 0)
        goto fail;
    for (size_t i = 0; i < count; i++) {
        const hm_sns_entry_t *e = &entries[i];
        char id[32];
        snprintf (id, sizeof id, "m%zu", e->index);
        if (s_param (out, "Id", i + 1, id, strlen (id)) != 0 ||
            s_param (out, "Message", i + 1, e->message, e->message_len) != 0)
            goto fail;
        if (e->group_id &&
            s_param (out, "MessageGroupId", i + 1, e->group_id, strlen (e->group_id)) != 0)
            goto fail;
        if (e->dedup_id &&
            s_param (out, "MessageDeduplicationId", i + 1, e->dedup_id, strlen (e->dedup_id)) != 0)
            goto fail;
    }
    return 0;
fail:
    out->len = mark; /* leave out as it was */
    if (out->data)
        out->data[mark] = '\0';
    return -1;
}

/* "m<index>" exactly as hm_sns_batch_body writes it (no sign, no leading
   zero, at most 9 digits, so no overflow) -> index; -1 otherwise. */
static long
s_entry_index (const char *text, size_t len)
{
    if (len < 2 || len > 10 || text[0] != 'm' || (text[1] == '0' && len > 2))
        return -1;
    long v = 0;
    for (size_t i = 1; i < len; i++) {
        if (!isdigit ((unsigned char)text[i]))
            return -1;
        v = v * 10 + (text[i] - '0');
    }
    return v;
}

/* The members of one list (Successful or Failed) into out. */
static size_t
s_members (const char *list, size_t len, bool failed, hm_sns_outcome_t *out, size_t cap)
{
    size_t n = 0, from = 0;
    const char *m;
    size_t mlen;
    while (n < cap && hm_xml_element (list, len, &from, "member", &m, &mlen) == 0) {
        size_t at = 0;
        const char *t;
        size_t tlen;
        if (hm_xml_element (m, mlen, &at, "Id", &t, &tlen) != 0)
            continue;
        long index = s_entry_index (t, tlen);
        if (index < 0)
            continue;
        hm_sns_outcome_t *o = &out[n++];
        memset (o, 0, sizeof *o);
        o->index = (size_t)index;
        o->ok = !failed;
        if (!failed)
            continue;
        at = 0;
        if (hm_xml_element (m, mlen, &at, "Code", &t, &tlen) == 0)
            hm_xml_text (t, tlen, o->code, sizeof o->code);
        at = 0;
        if (hm_xml_element (m, mlen, &at, "Message", &t, &tlen) == 0)
            hm_xml_text (t, tlen, o->message, sizeof o->message);
        at = 0;
        o->sender_fault = hm_xml_element (m, mlen, &at, "SenderFault", &t, &tlen) == 0 &&
                          tlen == 4 && memcmp (t, "true", 4) == 0;
    }
    return n;
}

long
hm_sns_parse_batch_reply (const char *body, size_t len, hm_sns_outcome_t *out, size_t cap)
{
    if (!body)
        return -1;
    size_t n = 0, from = 0;
    const char *list;
    size_t llen;
    bool seen = false;
    if (hm_xml_element (body, len, &from, "Successful", &list, &llen) == 0) {
        seen = true;
        n += s_members (list, llen, false, out, cap);
    }
    from = 0;
    if (hm_xml_element (body, len, &from, "Failed", &list, &llen) == 0) {
        seen = true;
        n += s_members (list, llen, true, out + n, cap - n);
    }
    /* An empty list may be written <Failed/>. */
    if (!seen && !memmem (body, len, "<PublishBatchResult", 19))
        return -1;
    return (long)n;
}
