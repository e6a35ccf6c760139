/*  fuzz_collection: a client's body, as the ingest and a sink treat it.

    Input: one byte of mode, then the body. Mode bit 0 picks the decoder
    (protobuf into the kept arena with hm_pb_read, as the ingest does, which
    must accept, refuse and decode as protobuf-c's unpack does, or the JSON
    mapping into the same arena, as the ingest does, which must accept and
    refuse with the same reason, and decode to the same Collection, as the
    JSON mapping with malloc does),
    bit 1 masked_ip. A body that decodes and passes the checks becomes
    events, which are packed as the ingest sends them, unpacked as the router
    and the sinks receive them, and written as JSON lines and as CSV.

    Besides "no crash, no leak, no undefined behaviour", five properties:
    the round trip through the wire changes no output byte; every JSON line
    is one valid JSON object whose "parameters" is itself a JSON object, and
    holds only bytes Go's encoder writes raw (s_check_go_bytes); every
    CSV record holds 23 fields; strings stay whole (NUL bytes included): each
    event's strings are the decoded collection's, length and bytes, and its
    JSON line holds each one as hm_json_string writes it. In JSON mode the
    decoder's own check (its string decoding agrees with cJSON's up to the
    first NUL) must never refuse a body. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "arena.h"
#include "collection_json.h"
#include "encode.h"
#include "event.h"
#include "hm_buf.h"
#include "pb_diff.h"
#include "signature.h"

#define S_FIELDS 23 /* ARCHITECTURE section 5 */

static void
s_fail (const char *what, const char *detail)
{
    fprintf (stderr, "fuzz_collection: %s: %s\n", what, detail);
    abort ();
}

/* Fields of one \001-CSV record as Go's encoding/csv reads it: a field
   starting with a quote runs to the closing quote ("" is a quote). */
static size_t
s_csv_fields (const char *s, size_t len)
{
    if (len == 0 || s[len - 1] != '\n')
        s_fail ("csv", "record does not end in a newline");
    size_t fields = 1, i = 0;
    bool at_start = true;
    while (i < len - 1) {
        if (at_start && s[i] == '"') {
            for (i++;; i++) {
                if (i >= len - 1)
                    s_fail ("csv", "unterminated quoted field");
                if (s[i] == '"') {
                    if (s[i + 1] != '"')
                        break;
                    i++;
                }
            }
            i++;
            if (i < len - 1 && s[i] != '\001')
                s_fail ("csv", "text after a closing quote");
            continue;
        }
        if (s[i] == '\001') {
            fields++;
            at_start = true;
        }
        else {
            if (s[i] == '"' || s[i] == '\n' || s[i] == '\r')
                s_fail ("csv", "quote or line break in an unquoted field");
            at_start = false;
        }
        i++;
    }
    return fields;
}

/* What Go's encoder writes, whatever the input: no control byte, no raw
   <, > or &, and valid UTF-8 (invalid bytes became \ufffd) without a raw
   U+2028 or U+2029. Checked byte by byte here, apart from encode.c's own
   scanning (16 bytes at a time) and UTF-8 decoding. */
static void
s_check_go_bytes (const char *line, size_t len)
{
    const uint8_t *p = (const uint8_t *)line, *end = p + len;
    while (p < end) {
        uint8_t b = *p;
        if (b < 0x80) {
            if (b < 0x20 || b == '<' || b == '>' || b == '&')
                s_fail ("json", "a byte Go escapes is written raw");
            p++;
            continue;
        }
        size_t n = b >= 0xc2 && b <= 0xdf   ? 2
                   : b >= 0xe0 && b <= 0xef ? 3
                   : b >= 0xf0 && b <= 0xf4 ? 4
                                            : 0;
        if (n == 0 || (size_t)(end - p) < n)
            s_fail ("json", "invalid UTF-8 written raw");
        uint32_t cp = b & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                s_fail ("json", "invalid UTF-8 written raw");
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            s_fail ("json", "invalid UTF-8 written raw");
        if (cp == 0x2028 || cp == 0x2029)
            s_fail ("json", "U+2028/2029 written raw");
        p += n;
    }
}

static void
s_check_json_line (const char *s, size_t len)
{
    if (len == 0 || s[len - 1] != '\n' || memchr (s, '\n', len - 1))
        s_fail ("json", "not one line");
    s_check_go_bytes (s, len - 1);
    cJSON *obj = cJSON_ParseWithLength (s, len - 1);
    if (!cJSON_IsObject (obj))
        s_fail ("json", s);
    cJSON *params = cJSON_GetObjectItemCaseSensitive (obj, "parameters");
    if (!cJSON_IsString (params))
        s_fail ("json", "parameters is not a string");
    cJSON *inner = cJSON_Parse (params->valuestring);
    if (!cJSON_IsObject (inner))
        s_fail ("json parameters", params->valuestring);
    cJSON_Delete (inner);
    cJSON_Delete (obj);
}

/* Every event written both ways into out, one after another. */
static void
s_encode_all (hm_buf_t *out, Hm__Event *const *events, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t mark = out->len;
        if (hm_encode_json (out, events[i]) != 0)
            s_fail ("encode", "json failed");
        s_check_json_line (out->data + mark, out->len - mark);
        mark = out->len;
        if (hm_encode_csv (out, events[i]) != 0)
            s_fail ("encode", "csv failed");
        if (s_csv_fields (out->data + mark, out->len - mark) != S_FIELDS)
            s_fail ("csv", "not 23 fields");
    }
}

/* The JSON line holds "key":<value as hm_json_string writes it>. */
static void
s_line_holds (const hm_buf_t *line, const char *key, ProtobufCBinaryData v)
{
    hm_buf_t want;
    hm_buf_init (&want, 0);
    if (hm_buf_printf (&want, "\"%s\":", key) != 0 ||
        hm_json_string (&want, (const char *)v.data, v.len) != 0) {
        hm_buf_free (&want);
        return; /* out of memory: nothing to compare */
    }
    if (!memmem (line->data, line->len, want.data, want.len))
        s_fail ("whole", key);
    hm_buf_free (&want);
}

static void
s_same (ProtobufCBinaryData got, ProtobufCBinaryData sent, const char *key)
{
    if (!hm_bytes_eq (got, sent.data, sent.len))
        s_fail ("whole", key);
}

/* Strings, NULs and all, reach the events and their JSON lines whole. */
static void
s_check_whole (const Collection *c, const Hm__Event *events)
{
    for (size_t i = 0; i < c->n_payloads; i++) {
        const Payload *p = c->payloads[i];
        const Hm__Event *e = &events[i];
        s_same (e->device_id, c->device_id, "device_id");
        s_same (e->client_id, c->client_id, "client_id");
        s_same (e->product_version, c->product_version, "product_version");
        s_same (e->event, p->event, "event");
        if (c->has_browser)
            s_same (e->browser, c->browser, "browser");
        if (p->has_user_id)
            s_same (e->user_id, p->user_id, "user_id");
        hm_buf_t line;
        hm_buf_init (&line, 0);
        if (hm_encode_json (&line, e) == 0) {
            s_line_holds (&line, "device_id", c->device_id);
            s_line_holds (&line, "event", p->event);
            if (p->has_user_id && p->user_id.len)
                s_line_holds (&line, "user_id", p->user_id);
        }
        hm_buf_free (&line);
    }
}

/* Pack as the ingest sends, unpack as the router and sinks receive, and
   compare what both sides encode. */
static void
s_round_trip (hm_arena_t *arena, Hm__Event *events, size_t n)
{
    Hm__Event **ptrs = malloc ((n ? n : 1) * sizeof *ptrs);
    if (!ptrs)
        return;
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &events[i];
    Hm__AppendRequest req = HM__APPEND_REQUEST__INIT;
    req.batch_id = 7;
    req.n_events = n;
    req.events = ptrs;
    size_t len = hm__append_request__get_packed_size (&req);
    uint8_t *wire = malloc (len ? len : 1);
    if (!wire) {
        free (ptrs);
        return;
    }
    hm__append_request__pack (&req, wire);
    Hm__AppendRequest *back = hm__append_request__unpack (&arena->pb, len, wire);
    if (!back || back->n_events != n)
        s_fail ("wire", "events do not come back");
    hm_buf_t before, after;
    hm_buf_init (&before, 0);
    hm_buf_init (&after, 0);
    s_encode_all (&before, ptrs, n);
    s_encode_all (&after, back->events, back->n_events);
    if (before.len != after.len || memcmp (before.data, after.data, before.len) != 0)
        s_fail ("wire", "output changed through pack and unpack");
    hm_buf_free (&before);
    hm_buf_free (&after);
    free (wire);
    free (ptrs);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* hm_events_write (the ingest's path) writes byte for byte what packing
   hm_events_build's events with protobuf-c writes. */
static void
s_check_written (const Collection *col, Hm__Event *events, bool masked)
{
    hm_buf_t packed, written, scratch;
    hm_buf_init (&packed, 0);
    hm_buf_init (&written, 0);
    hm_buf_init (&scratch, 0);
    if (hm_pb_pack_events (&packed, events, col->n_payloads) != 0)
        s_fail ("pack", "out of memory");
    if (hm_events_write (&written, col, "203.0.113.9", masked, 0x12, &scratch) != 0)
        s_fail ("hm_events_write", "failed");
    if (written.len != packed.len || memcmp (written.data, packed.data, packed.len) != 0)
        s_fail ("hm_events_write", "bytes differ from protobuf-c's packing");
    hm_buf_free (&packed);
    hm_buf_free (&written);
    hm_buf_free (&scratch);
}

/* A JSON body parsed into the arena is what the malloc'd parse gives: both
   refuse it with the same reason, or both give a Collection that packs to
   the same bytes. */
static void
s_same_as_malloc (const Collection *in_arena, const char *body, size_t len, const char *err)
{
    char err2[2048] = "";
    Collection *c = hm_collection_from_json (body, len, err2, sizeof err2);
    if (!c != !in_arena || strcmp (err, err2) != 0)
        s_fail ("the arena's JSON parse against malloc's", err2);
    if (c) {
        size_t n = collection__get_packed_size (c);
        if (n != collection__get_packed_size (in_arena))
            s_fail ("the arena's JSON parse against malloc's", "packed sizes differ");
        uint8_t *a = malloc (n ? n : 1), *b = malloc (n ? n : 1);
        if (!a || !b)
            abort ();
        collection__pack (c, a);
        collection__pack (in_arena, b);
        if (memcmp (a, b, n) != 0)
            s_fail ("the arena's JSON parse against malloc's", "packed bytes differ");
        free (a);
        free (b);
        hm_collection_json_free (c);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    /* Kept across inputs, as the ingest keeps its decode arena. */
    static hm_arena_t arena;
    static bool ready;
    if (!ready) {
        hm_arena_init (&arena, 64u << 10);
        ready = true;
    }
    if (size == 0)
        return 0;
    bool json = data[0] & 1, masked = data[0] & 2;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char err[2048] = ""; /* room for any reason: see below */
    Collection *col;
    if (json) {
        /* The ingest parses into its arena: the same answer as malloc's. */
        col = hm_collection_from_json_in (&arena, body, len, err, sizeof err);
        s_same_as_malloc (col, body, len, err);
    }
    else {
        /* The ingest's reader must agree with protobuf-c's unpack. */
        bool accepted;
        const char *why = hm_pb_diff (&arena, len, (const uint8_t *)body, &accepted);
        if (why)
            s_fail ("hm_pb_read against protobuf-c", why);
        col =
            (Collection *)hm_pb_read (&collection__descriptor, &arena, len, (const uint8_t *)body);
        if (col && hm_collection_check (col, err, sizeof err) != 0)
            col = NULL;
    }
    if (!col) {
        if (json && !*err)
            s_fail ("decode", "a JSON body refused without a reason");
        /* The reason ends with the decoder's why; the client's member names
           and values come before it (corpus/collection/json-name-like-why),
           and a reason cut by its buffer could end anywhere inside them
           (corpus/collection/json-name-like-why-cut). The decoder quotes
           names up to 64 bytes, so a reason filling this buffer is a bug. */
        static const char why[] = ": string does not decode consistently";
        size_t n = strlen (err);
        if (n >= sizeof err - 1)
            s_fail ("decode", "a reason longer than any the decoder writes");
        if (json && n >= sizeof why - 1 && strcmp (err + n - (sizeof why - 1), why) == 0)
            s_fail ("decode", err);
        hm_arena_reset (&arena);
        return 0;
    }
    char session[33];
    const char *parts[4] = {(char *)col->device_id.data, (char *)col->client_id.data,
                            (char *)col->system_version.data, (char *)col->product_version.data};
    size_t lens[4] = {col->device_id.len, col->client_id.len, col->system_version.len,
                      col->product_version.len};
    hm_session_n (parts, lens, (int)col->env, session);
    /* The session check is not applied: the events are built either way,
       so that inputs need not carry a matching MD5 to reach the encoders. */
    Hm__Event *events = col->n_payloads ? hm_events_build (col, "203.0.113.9", masked) : NULL;
    if (events) {
        s_check_written (col, events, masked);
        s_check_whole (col, events);
        s_round_trip (&arena, events, col->n_payloads);
        hm_events_free (events, col->n_payloads);
    }
    hm_arena_reset (&arena);
    return 0;
}
