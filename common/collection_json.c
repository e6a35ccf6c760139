/*  collection_json: a Collection from the protobuf JSON mapping.

    The original accepted JSON bodies through Go's jsonpb, so this follows
    jsonpb's rules rather than inventing its own: a field may be named in
    lowerCamelCase or by its original name (camelCase wins when both are
    sent), null means absent, enums come by name or number, integers by
    number or decimal string, and an unknown field is an error.

    Why the token pre-scan: cJSON stores numbers as doubles, which cannot
    hold every uint64 (`at`), and strings as C strings, which end at the
    first NUL (a "\u0000" would cut the value there). Before walking the
    tree we record where every number and string value sits in the text, in
    document order, and number the cJSON nodes in the same order (their
    valueint, which we own). Each integer is then parsed exactly from the
    client's own digits and each string is decoded from its own text with
    its length (s_unquote, which must agree with cJSON byte for byte up to
    the first NUL: it is checked on every value). */
#include "collection_json.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

/* Where a number or string value sits in the input. */
typedef struct {
    size_t off; /* first byte (of a string: after its opening quote) */
    size_t len; /* bytes (of a string: up to its closing quote) */
} s_span_t;

/* One parse: the input text and its value tokens, and the error buffer. */
typedef struct {
    const char *json; /* the body, not NUL-terminated */
    s_span_t *toks;   /* number and string values in document order */
    size_t n_toks;    /* entries in toks */
    char *err;        /* caller's error buffer */
    size_t errlen;    /* its size */
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

static int s_fail (s_ctx_t *ctx, const char *path, const char *name, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

/* Writes "<path>.<name>: <reason>" (path or name may be empty). */
static int
s_fail (s_ctx_t *ctx, const char *path, const char *name, const char *fmt, ...)
{
    if (!ctx->err || ctx->errlen == 0)
        return -1;
    int n = snprintf (ctx->err, ctx->errlen, "%s%s%s: ", path, *path && *name ? "." : "", name);
    if (n >= 0 && (size_t)n < ctx->errlen) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (ctx->err + n, ctx->errlen - (size_t)n, fmt, ap);
        va_end (ap);
    }
    return -1;
}

/* Decodes the text of a JSON string (between its quotes, n bytes) into
   out (room for n bytes: no escape decodes longer than it is written) as
   cJSON does, keeping NULs: \uXXXX and surrogate pairs become UTF-8, every
   other byte is copied as it is. -1 for what cJSON refuses, and for a \u
   with a bad hex digit, which cJSON reads as \u0000 and Go refused. */
static int
s_unquote (const char *in, size_t n, char *out, size_t *out_len)
{
    const uint8_t *p = (const uint8_t *)in, *end = p + n;
    uint8_t *o = (uint8_t *)out;
    while (p < end) {
        const uint8_t *bs = memchr (p, '\\', (size_t)(end - p));
        size_t plain = bs ? (size_t)(bs - p) : (size_t)(end - p);
        memcpy (o, p, plain);
        o += plain, p += plain;
        if (!bs)
            break;
        if (end - p < 2)
            return -1;
        if (p[1] != 'u') {
            static const char from[] = "bfnrt\"\\/", to[] = "\b\f\n\r\t\"\\/";
            const char *k = p[1] ? strchr (from, p[1]) : NULL;
            if (!k)
                return -1;
            *o++ = (uint8_t)to[k - from];
            p += 2;
            continue;
        }
        uint32_t cp = 0, lo = 0;
        for (int i = 0; i < 2; i++) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                return -1;
            uint32_t v = 0;
            for (int k = 2; k < 6; k++) {
                int d = p[k] >= '0' && p[k] <= '9'   ? p[k] - '0'
                        : p[k] >= 'a' && p[k] <= 'f' ? p[k] - 'a' + 10
                        : p[k] >= 'A' && p[k] <= 'F' ? p[k] - 'A' + 10
                                                     : -1;
                if (d < 0)
                    return -1;
                v = v << 4 | (uint32_t)d;
            }
            p += 6;
            if (i == 0)
                cp = v;
            else
                lo = v;
            if (i == 0 && (cp < 0xd800 || cp > 0xdbff))
                break; /* no surrogate pair */
        }
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return -1; /* a low surrogate first */
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (lo < 0xdc00 || lo > 0xdfff)
                return -1;
            cp = 0x10000 + ((cp & 0x3ff) << 10 | (lo & 0x3ff));
        }
        if (cp < 0x80)
            *o++ = (uint8_t)cp;
        else if (cp < 0x800) {
            *o++ = (uint8_t)(0xc0 | cp >> 6);
            *o++ = (uint8_t)(0x80 | (cp & 0x3f));
        }
        else if (cp < 0x10000) {
            *o++ = (uint8_t)(0xe0 | cp >> 12);
            *o++ = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
            *o++ = (uint8_t)(0x80 | (cp & 0x3f));
        }
        else {
            *o++ = (uint8_t)(0xf0 | cp >> 18);
            *o++ = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
            *o++ = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
            *o++ = (uint8_t)(0x80 | (cp & 0x3f));
        }
    }
    *out_len = (size_t)(o - (uint8_t *)out);
    return 0;
}

/* Whether a member name (its text between the quotes) holds a NUL once
   decoded. Such a name is no field of ours; cJSON would cut it and might
   match a field by its first part, so it is refused before that. */
static bool
s_key_has_nul (const char *in, size_t n)
{
    if (!memchr (in, '\\', n))
        return memchr (in, '\0', n) != NULL;
    char stack[64];
    char *buf = n <= sizeof stack ? stack : malloc (n);
    size_t len = 0;
    /* Out of memory or undecodable: refused as if it held one. */
    bool nul = !buf || s_unquote (in, n, buf, &len) != 0 || memchr (buf, '\0', len);
    if (buf != stack)
        free (buf);
    return nul;
}

static int
s_push_token (s_ctx_t *ctx, size_t *cap, size_t off, size_t len)
{
    if (ctx->n_toks == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        s_span_t *toks = realloc (ctx->toks, *cap * sizeof *toks);
        if (!toks)
            return -1;
        ctx->toks = toks;
    }
    ctx->toks[ctx->n_toks++] = (s_span_t){off, len};
    return 0;
}

/* Records every number and string value (member names are not values: a
   string followed by ':'). cJSON has already accepted the text, so a token
   is exactly what cJSON read as one value. */
static int
s_scan_tokens (s_ctx_t *ctx, size_t len)
{
    size_t cap = 0;
    const char *s = ctx->json;
    size_t i = 0;
    while (i < len) {
        char c = s[i];
        if (c == '"') {
            size_t start = ++i;
            for (; i < len && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            size_t end = i < len ? i : len;
            i++;
            size_t k = i;
            while (k < len && (uint8_t)s[k] <= ' ') /* cJSON's white space */
                k++;
            if (k < len && s[k] == ':') {
                if (s_key_has_nul (s + start, end - start)) {
                    s_fail (ctx, "", "body", "a field name holds a NUL byte");
                    return -1;
                }
            }
            else if (s_push_token (ctx, &cap, start, end - start) != 0)
                return s_fail (ctx, "", "body", "out of memory");
        }
        else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i;
            while (i < len && strchr ("0123456789+-.eE", s[i]) && s[i] != '\0')
                i++;
            if (s_push_token (ctx, &cap, start, i - start) != 0)
                return s_fail (ctx, "", "body", "out of memory");
        }
        else
            i++;
    }
    return 0;
}

/* Numbers the number and string nodes in document order; returns the next
   index. */
static size_t
s_index_tokens (cJSON *node, size_t next)
{
    for (; node; node = node->next) {
        if (cJSON_IsNumber (node) || cJSON_IsString (node))
            node->valueint = (int)next++;
        if (node->child)
            next = s_index_tokens (node->child, next);
    }
    return next;
}

/* A string value decoded whole: a malloc'd copy with a NUL after its len
   bytes (which may hold NULs themselves). NULL with the reason set. */
static char *
s_string_value (s_ctx_t *ctx, const cJSON *v, const char *path, const char *name, size_t *len)
{
    size_t idx = (size_t)v->valueint;
    if (idx >= ctx->n_toks) {
        s_fail (ctx, path, name, "unreadable string");
        return NULL;
    }
    const s_span_t *t = &ctx->toks[idx];
    char *out = malloc (t->len + 1);
    if (!out) {
        s_fail (ctx, path, name, "out of memory");
        return NULL;
    }
    if (s_unquote (ctx->json + t->off, t->len, out, len) != 0) {
        free (out);
        s_fail (ctx, path, name, "invalid escape in string");
        return NULL;
    }
    out[*len] = '\0';
    /* Up to its first NUL, the value is what cJSON read: anything else
       means the tokens and the nodes are out of step. Never cut, never
       guess: refuse. */
    size_t cut = strlen (v->valuestring);
    if (cut > *len || memcmp (out, v->valuestring, cut) != 0) {
        free (out);
        s_fail (ctx, path, name, "string does not decode consistently");
        return NULL;
    }
    return out;
}

/* Parses an unsigned decimal (digits only: no sign, fraction or exponent,
   as Go's json rejected those for unsigned integers) no larger than max. */
static int s_parse_digits (s_ctx_t *ctx, const char *text, size_t len, uint64_t max,
                           const char *path, const char *name, uint64_t *out);

static int
s_parse_uint (s_ctx_t *ctx, const cJSON *v, uint64_t max, const char *path, const char *name,
              uint64_t *out)
{
    const char *text;
    size_t len;
    char *decoded = NULL;
    if (cJSON_IsNumber (v)) {
        size_t idx = (size_t)v->valueint;
        if (idx >= ctx->n_toks)
            return s_fail (ctx, path, name, "unreadable number");
        text = ctx->json + ctx->toks[idx].off;
        len = ctx->toks[idx].len;
    }
    else if (cJSON_IsString (v)) {
        /* Decoded whole: "12\u00003" is no number, not 12. */
        decoded = s_string_value (ctx, v, path, name, &len);
        if (!decoded)
            return -1;
        text = decoded;
    }
    else
        return s_fail (ctx, path, name, "expected an integer (number or decimal string)");
    int rc = s_parse_digits (ctx, text, len, max, path, name, out);
    free (decoded);
    return rc;
}

/* The digits of an unsigned integer, no larger than max. */
static int
s_parse_digits (s_ctx_t *ctx, const char *text, size_t len, uint64_t max, const char *path,
                const char *name, uint64_t *out)
{
    if (len == 0)
        return s_fail (ctx, path, name, "expected an integer, got an empty string");
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return s_fail (ctx, path, name, "expected a non-negative integer, got \"%.*s\"",
                           (int)strnlen (text, len > 32 ? 32 : len), text);
        unsigned d = (unsigned)(text[i] - '0');
        if (n > (max - d) / 10)
            return s_fail (ctx, path, name, "value out of range");
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

static int
s_parse_env (s_ctx_t *ctx, const cJSON *v, const char *path, const char *name, Environment *out)
{
    int env = -1;
    if (cJSON_IsString (v)) {
        size_t len;
        char *text = s_string_value (ctx, v, path, name, &len);
        if (!text)
            return -1;
        /* A name with a NUL in it is no name (cJSON's copy would stop at it). */
        if (strlen (text) == len)
            env = hm_env_from_name (text);
        free (text);
    }
    else if (cJSON_IsNumber (v)) {
        uint64_t n;
        /* A negative number is no Environment either. */
        if (s_parse_uint (ctx, v, 1000, path, name, &n) != 0)
            return s_fail (ctx, path, name, "unknown value");
        env = hm_env_name ((int)n) ? (int)n : -1;
    }
    else
        return s_fail (ctx, path, name, "expected an enum name or number");
    if (env < 0)
        return s_fail (ctx, path, name, "unknown value");
    *out = (Environment)env;
    return 0;
}

static int s_parse_message (s_ctx_t *ctx, const cJSON *obj, const s_field_t *fields,
                            size_t n_fields, void *msg, const char *path);

/* "path.name[index]"; paths are short, a cut one only shortens a message. */
static char *
s_path (char *buf, size_t cap, const char *path, const char *name, size_t index)
{
    int n = snprintf (buf, cap, "%s%s%s[%zu]", path, *path ? "." : "", name, index);
    if (n < 0)
        buf[0] = '\0';
    return buf;
}

/* A repeated message field: an array of objects. */
static int
s_parse_repeated (s_ctx_t *ctx, const cJSON *v, const s_field_t *f, void *msg, const char *path)
{
    if (!cJSON_IsArray (v))
        return s_fail (ctx, path, f->orig, "expected an array");
    size_t count = (size_t)cJSON_GetArraySize (v);
    if (count == 0)
        return 0;
    void ***items_p = (void ***)((char *)msg + f->offset);
    size_t *n_p = (size_t *)((char *)msg + f->n_offset);
    void **items = calloc (count, sizeof *items);
    if (!items)
        return s_fail (ctx, path, f->orig, "out of memory");
    *items_p = items;

    size_t i = 0;
    for (const cJSON *el = v->child; el; el = el->next, i++) {
        char sub[96];
        s_path (sub, sizeof sub, path, f->orig, i);
        if (!cJSON_IsObject (el))
            return s_fail (ctx, sub, "", "expected an object");
        void *item;
        const s_field_t *fields;
        size_t n_fields;
        if (f->kind == S_PAYLOADS) {
            item = malloc (sizeof (Payload));
            if (item)
                payload__init (item);
            fields = s_payload_fields;
            n_fields = S_COUNT (s_payload_fields);
        }
        else {
            item = malloc (sizeof (Parameter));
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
s_parse_field (s_ctx_t *ctx, const cJSON *v, const s_field_t *f, void *msg, const char *path)
{
    void *member = (char *)msg + f->offset;
    switch (f->kind) {
    case S_STRING: {
        if (!cJSON_IsString (v))
            return s_fail (ctx, path, f->orig, "expected a string");
        size_t len;
        char *copy = s_string_value (ctx, v, path, f->orig, &len);
        if (!copy)
            return -1;
        *(ProtobufCBinaryData *)member = (ProtobufCBinaryData){len, (uint8_t *)copy};
        if (f->n_offset) /* optional: has_<name> */
            *(protobuf_c_boolean *)((char *)msg + f->n_offset) = true;
        return 0;
    }
    case S_UINT64:
        return s_parse_uint (ctx, v, UINT64_MAX, path, f->orig, (uint64_t *)member);
    case S_UINT32: {
        uint64_t n;
        if (s_parse_uint (ctx, v, UINT32_MAX, path, f->orig, &n) != 0)
            return -1;
        *(uint32_t *)member = (uint32_t)n;
        return 0;
    }
    case S_ENV:
        return s_parse_env (ctx, v, path, f->orig, (Environment *)member);
    default:
        return s_parse_repeated (ctx, v, f, msg, path);
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
                 void *msg, const char *path)
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
            return s_fail (ctx, path, m->string, "unknown field");
    }
    for (size_t i = 0; i < n_fields; i++) {
        const cJSON *v = by_camel[i] ? by_camel[i] : by_orig[i];
        if (!v || cJSON_IsNull (v)) {
            if (fields[i].required)
                return s_fail (ctx, path, fields[i].orig, "required field missing");
            continue;
        }
        if (s_parse_field (ctx, v, &fields[i], msg, path) != 0)
            return -1;
    }
    return 0;
}

Collection *
hm_collection_from_json (const char *json, size_t len, char *errbuf, size_t errlen)
{
    s_ctx_t ctx = {json, NULL, 0, errbuf, errlen};
    Collection *c = NULL;
    const char *end = NULL;
    if (errbuf && errlen)
        errbuf[0] = '\0';

    cJSON *root = cJSON_ParseWithLengthOpts (json, len, &end, false);
    if (!root) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        s_fail (&ctx, "", "body", "malformed JSON near byte %zu", at);
        goto done;
    }
    /* cJSON stops after the value; anything but white space after it is
       not one JSON document. */
    for (size_t i = (size_t)(end - json); i < len; i++)
        if (!strchr (" \t\r\n", json[i]) || json[i] == '\0') {
            s_fail (&ctx, "", "body", "unexpected data after the JSON value at byte %zu", i);
            goto done;
        }
    if (!cJSON_IsObject (root)) {
        s_fail (&ctx, "", "body", "expected a JSON object");
        goto done;
    }
    if (s_scan_tokens (&ctx, len) != 0)
        goto done;
    if (s_index_tokens (root, 0) != ctx.n_toks) {
        s_fail (&ctx, "", "body", "unreadable values");
        goto done;
    }
    c = malloc (sizeof *c);
    if (!c) {
        s_fail (&ctx, "", "body", "out of memory");
        goto done;
    }
    collection__init (c);
    if (s_parse_message (&ctx, root, s_collection_fields, S_COUNT (s_collection_fields), c, "") !=
        0) {
        hm_collection_json_free (c);
        c = NULL;
    }
done:
    cJSON_Delete (root);
    free (ctx.toks);
    return c;
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
    char path[96], sub[96];
    s_path (path, sizeof path, "", "payloads", i);
    if (k)
        s_path (sub, sizeof sub, path, "parameters", *k);
    return s_fail (ctx, k ? sub : path, name, "%s", why);
}

int
hm_collection_check (const Collection *c, char *errbuf, size_t errlen)
{
    s_ctx_t ctx = {NULL, NULL, 0, errbuf, errlen};
    if (!c)
        return s_fail (&ctx, "", "body", "no collection");
    /* The required strings need no check here: protobuf-c refuses a
       message without them, and as bytes an empty one is {0, NULL}. */
    if (!hm_env_name ((int)c->env))
        return s_fail (&ctx, "", "env", "unknown value");
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
