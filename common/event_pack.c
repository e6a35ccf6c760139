/*  event_pack: a collection's events written straight in protobuf form.

    The ingest used to build an Hm__Event per payload (hm_events_build:
    a calloc, a malloc for the ip and one for the parameters text), ask
    protobuf-c for each one's size twice and pack it. This writes the same
    bytes from the collection's fields: the same fields in the same order
    (field number order, the optional ones when the client sent them), so
    what the router decodes and logs does not change. tests/unit/
    test_event_pack.c compares both byte for byte. */
#include <string.h>

#include "event.h"

/* Counts (p NULL) or writes the bytes of one event: the same code sizes
   and writes, so the length written before the event is its length.
   Everything is inlined, so the counting copy is plain arithmetic. */
#define S_INLINE static inline __attribute__ ((always_inline))
typedef struct {
    uint8_t *p;
    size_t n;
} s_out_t;

S_INLINE void
s_varint (s_out_t *o, uint64_t v)
{
    if (!o->p) {
        do
            o->n++;
        while ((v >>= 7) != 0);
        return;
    }
    while (v >= 0x80) {
        o->p[o->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    o->p[o->n++] = (uint8_t)v;
}

/* Field numbers are at most 23 here: a key is one or two bytes. */
S_INLINE void
s_key (s_out_t *o, unsigned field, unsigned wire_type)
{
    s_varint (o, (uint64_t)(field << 3 | wire_type));
}

S_INLINE void
s_bytes (s_out_t *o, unsigned field, const void *data, size_t len)
{
    s_key (o, field, 2);
    s_varint (o, len);
    if (o->p && len)
        memcpy (o->p + o->n, data, len);
    o->n += len;
}

#define S_BIN(o, field, b) s_bytes (o, field, (b).data, (b).len)
#define S_OPT(o, field, m, name)                                                                   \
    do {                                                                                           \
        if ((m)->has_##name)                                                                       \
            S_BIN (o, field, (m)->name);                                                           \
    } while (0)

/* Event's fields (proto/pipeline.proto) in number order, as
   hm_events_build fills them and protobuf-c packs them. */
S_INLINE void
s_event (s_out_t *o, const Collection *c, const Payload *p, const char *ip, size_t ip_len,
         const char *params, size_t params_len)
{
    S_BIN (o, 1, c->device_id);
    S_BIN (o, 2, c->client_id);
    S_BIN (o, 3, c->session);
    s_key (o, 4, 0);
    s_varint (o, p->nr);
    s_key (o, 5, 0);
    /* int32: a negative one is sign-extended to ten bytes, as protobuf-c does. */
    s_varint (o, (uint64_t)(int64_t)(int32_t)c->env);
    S_BIN (o, 6, c->system_version);
    S_BIN (o, 7, c->product_version);
    s_key (o, 8, 0);
    s_varint (o, p->at);
    S_OPT (o, 9, p, timezone);
    S_BIN (o, 10, p->event);
    S_OPT (o, 11, c, device_make);
    S_OPT (o, 12, c, device_model);
    S_OPT (o, 13, c, system);
    S_OPT (o, 14, c, system_language);
    S_OPT (o, 15, c, browser);
    S_OPT (o, 16, c, browser_version);
    S_OPT (o, 17, c, product_git_hash);
    S_OPT (o, 18, c, product_language);
    S_OPT (o, 19, p, user_id);
    S_OPT (o, 20, p, tenant_id);
    s_bytes (o, 21, ip, ip_len);
    S_OPT (o, 22, p, country);
    s_bytes (o, 23, params, params_len);
}

int
hm_events_write (hm_buf_t *out, const Collection *c, const char *fallback_ip, bool masked_ip,
                 uint8_t key, hm_buf_t *scratch)
{
    size_t start = out->len;
    for (size_t i = 0; i < c->n_payloads; i++) {
        const Payload *p = c->payloads[i];
        /* scratch: the parameters text, then (when masked) the ip's copy. */
        hm_buf_reset (scratch);
        if (hm_parameters_json_append (scratch, p->parameters, p->n_parameters) != 0)
            goto fail;
        size_t params_len = scratch->len;
        const char *ip = fallback_ip ? fallback_ip : "";
        size_t ip_len = strlen (ip);
        if (p->has_ip && p->ip.len > 0)
            ip = (const char *)p->ip.data, ip_len = p->ip.len;
        size_t ip_at = 0;
        /* Masking rewrites a copy in canonical form, so the copy has room
           for any address text; with a NUL inside it is no address (the C
           string would be cut) and is kept as sent. */
        bool mask = masked_ip && !memchr (ip, '\0', ip_len);
        if (mask) {
            size_t cap = ip_len < 64 ? 64 : ip_len + 1;
            if (hm_buf_reserve (scratch, cap) != 0)
                goto fail;
            ip_at = scratch->len;
            memcpy (scratch->data + ip_at, ip, ip_len);
            scratch->data[ip_at + ip_len] = '\0';
            hm_mask_ip (scratch->data + ip_at, cap);
            ip = scratch->data + ip_at;
            ip_len = strlen (ip);
        }
        s_out_t size = {NULL, 0};
        s_event (&size, c, p, ip, ip_len, scratch->data, params_len);
        if (hm_buf_reserve (out, 1 + 10 + size.n) != 0)
            goto fail;
        s_out_t o = {(uint8_t *)out->data + out->len, 0};
        o.p[o.n++] = key;
        s_varint (&o, size.n);
        s_event (&o, c, p, ip, ip_len, scratch->data, params_len);
        out->len += o.n;
    }
    return 0;
fail:
    out->len = start;
    return -1;
}
