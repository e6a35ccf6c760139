/*  collection_json: a Collection from the protobuf JSON mapping.

    The original accepted JSON bodies through Go's jsonpb, so this follows
    jsonpb's rules rather than inventing its own: a field may be named in
    lowerCamelCase or by its original name (camelCase wins when both are
    sent), null means absent, enums come by name or number, integers by
    number or decimal string, and an unknown field is an error.

    The body is read as an hm_json_doc (json_doc.h): cJSON stores numbers
    as doubles, which cannot hold every uint64 (`at`), and strings as C
    strings, which end at the first NUL (a "\u0000" would cut the value
    there). So each integer is parsed exactly from the client's own digits
    and each string is decoded from its own text with its length. */
#include "collection_json.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "json_doc.h"

/* Where a value sits: "payloads[2].parameters[0]" as a chain up to the
   body, written out only for an error (this runs on every request). */
typedef struct s_at {
    const struct s_at *up; /* the enclosing element; NULL at the body */
    const char *name;      /* the repeated field */
    size_t index;          /* the element */
} s_at_t;

static const s_at_t s_body = {NULL, NULL, 0};

/* One parse: the body as a doc, and the error buffer. */
typedef struct {
    hm_json_doc_t doc; /* the body's tree and where its values sit */
    char *err;         /* caller's error buffer */
    size_t errlen;     /* its size */
} s_ctx_t;

typedef enum { S_STRING, S_UINT64, S_UINT32, S_ENV, S_PAYLOADS, S_PARAMETERS } s_kind_t;

/* One field of a message: its JSON names, how to read it, where it goes. */
typedef struct {
    const char *orig;  /* original (proto) name, also used in error paths */
    const char *camel; /* lowerCamelCase name (same as orig for one word) */
    s_kind_t kind;     /* how the value is read */
    size_t offset;     /* member in the protobuf-c struct */
    size_t n_offset;   /* repeated fields: the n_<name> count member;
                          optional strings: the has_<name> member */
    bool required;     /* proto2 required */
} s_field_t;

#define S_F(type, orig, camel, kind, req)                                                          \
    {                                                                                              \
#orig, camel, kind, offsetof(type, orig), 0, req                                           \
    }
#define S_O(type, orig, camel)                                                                     \
    {                                                                                              \
#orig, camel, S_STRING, offsetof(type, orig), offsetof(type, has_##orig), false            \
    }
#define S_R(type, orig, kind)                                                                      \
    {                                                                                              \
#orig, #orig, kind, offsetof(type, orig), offsetof(type, n_##orig), false                  \
    }

static const s_field_t s_collection_fields[] = {
    S_F (Collection, device_id, "deviceId", S_STRING, true),
    S_F (Collection, client_id, "clientId", S_STRING, true),
    S_F (Collection, session, "session", S_STRING, true),
    S_F (Collection, system_version, "systemVersion", S_STRING, true),
    S_F (Collection, product_version, "productVersion", S_STRING, true),
    S_F (Collection, env, "env", S_ENV, true),
    S_O (Collection, device_make, "deviceMake"),
    S_O (Collection, device_model, "deviceModel"),
    S_O (Collection, system, "system"),
    S_O (Collection, system_language, "systemLanguage"),
    S_O (Collection, browser, "browser"),
    S_O (Collection, browser_version, "browserVersion"),
    S_O (Collection, product_git_hash, "productGitHash"),
    S_O (Collection, product_language, "productLanguage"),
    S_R (Collection, payloads, S_PAYLOADS),
};

static const s_field_t s_payload_fields[] = {
    S_F (Payload, at, "at", S_UINT64, true),
    S_F (Payload, event, "event", S_STRING, true),
    S_F (Payload, nr, "nr", S_UINT32, true),
    S_O (Payload, timezone, "timezone"),
    S_O (Payload, tenant_id, "tenantId"),
    S_O (Payload, user_id, "userId"),
    S_O (Payload, ip, "ip"),
    S_O (Payload, country, "country"),
    S_R (Payload, parameters, S_PARAMETERS),
};

static const s_field_t s_parameter_fields[] = {
    S_F (Parameter, name, "name", S_STRING, true),
    S_F (Parameter, value, "value", S_STRING, true),
};

#define S_COUNT(a) (sizeof (a) / sizeof (a)[0])
#define S_MAX_FIELDS 16 /* the most fields a message has (Collection: 15) */
_Static_assert(S_COUNT (s_collection_fields) <= S_MAX_FIELDS, "S_MAX_FIELDS");
_Static_assert(S_COUNT (s_payload_fields) <= S_MAX_FIELDS, "S_MAX_FIELDS");
_Static_assert(S_COUNT (s_parameter_fields) <= S_MAX_FIELDS, "S_MAX_FIELDS");

static int s_fail (s_ctx_t *ctx, const s_at_t *at, const char *name, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

/* at written as "path.name[index]" into buf; a cut one only shortens a
   message. Returns the bytes written. */
static size_t
s_path (char *buf, size_t cap, const s_at_t *at)
{
    if (!at->up)
        return 0;
    size_t n = s_path (buf, cap, at->up);
    if (n < cap) {
        int k = snprintf (buf + n, cap - n, "%s%s[%zu]", n ? "." : "", at->name, at->index);
        n = k < 0 ? n : n + (size_t)k;
    }
    return n < cap ? n : cap - 1;
}

/* Writes "<path>.<name>: <reason>" (path or name may be empty). The name
   and the reason may quote the client's text: control bytes are written
   as \xNN, so the reason stays one line where it is logged (the ingest's
   log, a tool's stderr). A client's member name is quoted up to
   S_NAME_QUOTE bytes and then "...", so the reason itself is never pushed
   off the end by a long name. */
#define S_NAME_QUOTE 64
static int
s_fail (s_ctx_t *ctx, const s_at_t *at, const char *name, const char *fmt, ...)
{
    if (!ctx->err || ctx->errlen == 0)
        return -1;
    char path[96] = "";
    s_path (path, sizeof path, at);
    char raw[512] = "";
    size_t name_len = strlen (name);
    int n = snprintf (raw, sizeof raw, "%s%s%.*s%s: ", path, *path && *name ? "." : "",
                      (int)(name_len > S_NAME_QUOTE ? S_NAME_QUOTE : name_len), name,
                      name_len > S_NAME_QUOTE ? "..." : "");
    if (n >= 0 && (size_t)n < sizeof raw) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (raw + n, sizeof raw - (size_t)n, fmt, ap);
        va_end (ap);
    }
    size_t o = 0;
    for (const unsigned char *c = (const unsigned char *)raw; *c && o + 1 < ctx->errlen; c++) {
        if (*c >= 0x20 && *c != 0x7f)
            ctx->err[o++] = (char)*c;
        else if (o + 5 < ctx->errlen)
            o += (size_t)snprintf (ctx->err + o, ctx->errlen - o, "\\x%02x", *c);
        else
            break;
    }
    ctx->err[o] = '\0';
    return -1;
}

/* A string value decoded whole: a copy with a NUL after its len bytes
   (which may hold NULs themselves). NULL with the reason set. Like every
   allocation of a parse, it is hm_json_doc_alloc's: from the doc's arena,
   or malloc'd for hm_collection_json_free (protobuf-c's default allocator
   frees them). */
static char *
s_string_value (s_ctx_t *ctx, const cJSON *v, const s_at_t *at, const char *name, size_t *len)
{
    const char *why = NULL;
    char *out = hm_json_doc_string (&ctx->doc, v, len, &why);
    if (!out)
        s_fail (ctx, at, name, "%s", why);
    return out;
}

/* The digits of an unsigned integer, no larger than max. */
static int
s_parse_digits (s_ctx_t *ctx, const char *text, size_t len, uint64_t max, const s_at_t *at,
                const char *name, uint64_t *out)
{
    if (len == 0)
        return s_fail (ctx, at, name, "expected an integer, got an empty string");
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0')
            return s_fail (ctx, at, name,
                           "expected a non-negative integer, got a string holding a NUL byte");
        if (text[i] < '0' || text[i] > '9')
            return s_fail (ctx, at, name, "expected a non-negative integer, got \"%.*s\"",
                           (int)strnlen (text, len > 32 ? 32 : len), text);
        unsigned d = (unsigned)(text[i] - '0');
        if (n > (max - d) / 10)
            return s_fail (ctx, at, name, "value out of range");
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

/* Parses an unsigned decimal (digits only: no sign, fraction or exponent,
   as Go's json rejected those for unsigned integers) no larger than max,
   from a number or a string. */
static int
s_parse_uint (s_ctx_t *ctx, const cJSON *v, uint64_t max, const s_at_t *at, const char *name,
              uint64_t *out)
{
    const char *text;
    size_t len;
    char *decoded = NULL;
    if (cJSON_IsNumber (v)) {
        const hm_json_span_t *t = hm_json_doc_value (&ctx->doc, v);
        if (!t)
            return s_fail (ctx, at, name, "unreadable number");
        text = ctx->doc.text + t->off;
        len = t->len;
    }
    else if (cJSON_IsString (v)) {
        /* Decoded whole: "12\u00003" is no number, not 12. */
        decoded = s_string_value (ctx, v, at, name, &len);
        if (!decoded)
            return -1;
        text = decoded;
    }
    else
        return s_fail (ctx, at, name, "expected an integer (number or decimal string)");
    int rc = s_parse_digits (ctx, text, len, max, at, name, out);
    hm_json_doc_release (&ctx->doc, decoded);
    return rc;
}

static int
s_parse_env (s_ctx_t *ctx, const cJSON *v, const s_at_t *at, const char *name, Environment *out)
{
    int env = -1;
    if (cJSON_IsString (v)) {
        size_t len;
        char *text = s_string_value (ctx, v, at, name, &len);
        if (!text)
            return -1;
        /* A name with a NUL in it is no name (cJSON's copy would stop at it). */
        if (strlen (text) == len)
            env = hm_env_from_name (text);
        hm_json_doc_release (&ctx->doc, text);
    }
    else if (cJSON_IsNumber (v)) {
        uint64_t n;
        /* A negative number is no Environment either. */
        if (s_parse_uint (ctx, v, 1000, at, name, &n) != 0)
            return s_fail (ctx, at, name, "unknown value");
        env = hm_env_name ((int)n) ? (int)n : -1;
    }
    else
        return s_fail (ctx, at, name, "expected an enum name or number");
    if (env < 0)
        return s_fail (ctx, at, name, "unknown value");
    *out = (Environment)env;
    return 0;
}

static int s_parse_message (s_ctx_t *ctx, const cJSON *obj, const s_field_t *fields,
                            size_t n_fields, void *msg, const s_at_t *at);

/* A repeated message field: an array of objects. */
static int
s_parse_repeated (s_ctx_t *ctx, const cJSON *v, const s_field_t *f, void *msg, const s_at_t *at)
{
    if (!cJSON_IsArray (v))
        return s_fail (ctx, at, f->orig, "expected an array");
    size_t count = (size_t)cJSON_GetArraySize (v);
    if (count == 0)
        return 0;
    void ***items_p = (void ***)((char *)msg + f->offset);
    size_t *n_p = (size_t *)((char *)msg + f->n_offset);
    if (count > SIZE_MAX / sizeof (void *))
        return s_fail (ctx, at, f->orig, "out of memory");
    void **items = hm_json_doc_alloc (&ctx->doc, count * sizeof *items);
    if (!items)
        return s_fail (ctx, at, f->orig, "out of memory");
    memset (items, 0, count * sizeof *items);
    *items_p = items;

    size_t i = 0;
    for (const cJSON *el = v->child; el; el = el->next, i++) {
        const s_at_t sub_at = {at, f->orig, i}, *sub = &sub_at;
        if (!cJSON_IsObject (el))
            return s_fail (ctx, sub, "", "expected an object");
        void *item;
        const s_field_t *fields;
        size_t n_fields;
        if (f->kind == S_PAYLOADS) {
            item = hm_json_doc_alloc (&ctx->doc, sizeof (Payload));
            if (item)
                payload__init (item);
            fields = s_payload_fields;
            n_fields = S_COUNT (s_payload_fields);
        }
        else {
            item = hm_json_doc_alloc (&ctx->doc, sizeof (Parameter));
            if (item)
                parameter__init (item);
            fields = s_parameter_fields;
            n_fields = S_COUNT (s_parameter_fields);
        }
        if (!item)
            return s_fail (ctx, sub, "", "out of memory");
        /* Counted before it is filled, so a failure frees it with the rest. */
        items[i] = item;
        *n_p = i + 1;
        if (s_parse_message (ctx, el, fields, n_fields, item, sub) != 0)
            return -1;
    }
    return 0;
}

static int
s_parse_field (s_ctx_t *ctx, const cJSON *v, const s_field_t *f, void *msg, const s_at_t *at)
{
    void *member = (char *)msg + f->offset;
    switch (f->kind) {
    case S_STRING: {
        if (!cJSON_IsString (v))
            return s_fail (ctx, at, f->orig, "expected a string");
        size_t len;
        char *copy = s_string_value (ctx, v, at, f->orig, &len);
        if (!copy)
            return -1;
        *(ProtobufCBinaryData *)member = (ProtobufCBinaryData){len, (uint8_t *)copy};
        if (f->n_offset) /* optional: has_<name> */
            *(protobuf_c_boolean *)((char *)msg + f->n_offset) = true;
        return 0;
    }
    case S_UINT64:
        return s_parse_uint (ctx, v, UINT64_MAX, at, f->orig, (uint64_t *)member);
    case S_UINT32: {
        uint64_t n;
        if (s_parse_uint (ctx, v, UINT32_MAX, at, f->orig, &n) != 0)
            return -1;
        *(uint32_t *)member = (uint32_t)n;
        return 0;
    }
    case S_ENV:
        return s_parse_env (ctx, v, at, f->orig, (Environment *)member);
    default:
        return s_parse_repeated (ctx, v, f, msg, at);
    }
}

static bool
s_name_is (const char *name, const char *want)
{
    return name[0] == want[0] && strcmp (name, want) == 0;
}

/* Reads obj's members into msg. Each field takes the member jsonpb would
   use: the last one under its camelCase name, else the last one under its
   original name; a null member counts as absent. One pass sorts the
   members to their fields (and finds an unknown one before anything is
   parsed), so the cost is members x fields, not that twice over again. */
static int
s_parse_message (s_ctx_t *ctx, const cJSON *obj, const s_field_t *fields, size_t n_fields,
                 void *msg, const s_at_t *at)
{
    const cJSON *by_camel[S_MAX_FIELDS] = {NULL}, *by_orig[S_MAX_FIELDS] = {NULL};
    for (const cJSON *m = obj->child; m; m = m->next) {
        size_t i = 0;
        for (; i < n_fields; i++) {
            if (s_name_is (m->string, fields[i].camel)) {
                by_camel[i] = m;
                break;
            }
            if (s_name_is (m->string, fields[i].orig)) {
                by_orig[i] = m;
                break;
            }
        }
        if (i == n_fields)
            return s_fail (ctx, at, m->string, "unknown field");
    }
    for (size_t i = 0; i < n_fields; i++) {
        const cJSON *v = by_camel[i] ? by_camel[i] : by_orig[i];
        if (!v || cJSON_IsNull (v)) {
            if (fields[i].required)
                return s_fail (ctx, at, fields[i].orig, "required field missing");
            continue;
        }
        if (s_parse_field (ctx, v, &fields[i], msg, at) != 0)
            return -1;
    }
    return 0;
}

static Collection *
s_from_json (hm_arena_t *arena, const char *json, size_t len, char *errbuf, size_t errlen)
{
    s_ctx_t ctx = {.err = errbuf, .errlen = errlen};
    Collection *c = NULL;
    if (errbuf && errlen)
        errbuf[0] = '\0';
    char why[96];
    if (hm_json_doc_parse_in (&ctx.doc, arena, json, len, why, sizeof why) != 0) {
        s_fail (&ctx, &s_body, "body", "%s", why);
        goto done;
    }
    if (!cJSON_IsObject (ctx.doc.root)) {
        s_fail (&ctx, &s_body, "body", "expected a JSON object");
        goto done;
    }
    /* Such a name is no field of ours; cJSON cut it, and its first part
       might match a field: refused before that. */
    if (ctx.doc.nul_keys) {
        s_fail (&ctx, &s_body, "body", "a field name holds a NUL byte");
        goto done;
    }
    c = hm_json_doc_alloc (&ctx.doc, sizeof *c);
    if (!c) {
        s_fail (&ctx, &s_body, "body", "out of memory");
        goto done;
    }
    collection__init (c);
    if (s_parse_message (&ctx, ctx.doc.root, s_collection_fields, S_COUNT (s_collection_fields), c,
                         &s_body) != 0) {
        if (!arena)
            hm_collection_json_free (c);
        c = NULL;
    }
done:
    hm_json_doc_free (&ctx.doc);
    return c;
}

Collection *
hm_collection_from_json (const char *json, size_t len, char *errbuf, size_t errlen)
{
    return s_from_json (NULL, json, len, errbuf, errlen);
}

Collection *
hm_collection_from_json_in (hm_arena_t *arena, const char *json, size_t len, char *errbuf,
                            size_t errlen)
{
    return s_from_json (arena, json, len, errbuf, errlen);
}

void
hm_collection_json_free (Collection *c)
{
    /* Every string, array and sub-message was malloc'd, which is exactly
       what protobuf-c's default allocator frees. */
    if (c)
        collection__free_unpacked (c, NULL);
}

/* hm_collection_check's error at "payloads[i]" or, with a parameter
   index, "payloads[i].parameters[k]". */
static int
s_fail_payload (s_ctx_t *ctx, size_t i, const size_t *k, const char *name, const char *why)
{
    const s_at_t payload = {&s_body, "payloads", i};
    const s_at_t parameter = {&payload, "parameters", k ? *k : 0};
    return s_fail (ctx, k ? &parameter : &payload, name, "%s", why);
}

int
hm_collection_check (const Collection *c, char *errbuf, size_t errlen)
{
    s_ctx_t ctx = {.err = errbuf, .errlen = errlen};
    if (!c)
        return s_fail (&ctx, &s_body, "body", "no collection");
    /* The required strings need no check here: protobuf-c refuses a
       message without them, and as bytes an empty one is {0, NULL}. */
    if (!hm_env_name ((int)c->env))
        return s_fail (&ctx, &s_body, "env", "unknown value");
    /* Paths are written only for an error: this runs on every request. */
    for (size_t i = 0; i < c->n_payloads; i++) {
        const Payload *p = c->payloads[i];
        if (!p)
            return s_fail_payload (&ctx, i, NULL, "", "missing");
        for (size_t k = 0; k < p->n_parameters; k++) {
            const Parameter *q = p->parameters[k];
            if (!q)
                return s_fail_payload (&ctx, i, &k, "", "missing");
        }
    }
    return 0;
}
