/*  collection_json: a Collection from the protobuf JSON mapping.

    The original accepted JSON bodies through Go's jsonpb, so this follows
    jsonpb's rules rather than inventing its own: a field may be named in
    lowerCamelCase or by its original name (camelCase wins when both are
    sent), null means absent, enums come by name or number, integers by
    number or decimal string, and an unknown field is an error.

    Why the number pre-scan: cJSON stores numbers as doubles, which cannot
    hold every uint64 (`at`). Before walking the tree we record the text of
    every number token in document order, and number the cJSON nodes in the
    same order (their valueint, which we own), so each integer is parsed
    exactly from the client's own digits. */
#include "collection_json.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

/* Where a number token sits in the input. */
typedef struct {
    size_t off; /* first byte */
    size_t len; /* bytes */
} s_span_t;

/* One parse: the input text and its number tokens, and the error buffer. */
typedef struct {
    const char *json; /* the body, not NUL-terminated */
    s_span_t *nums;   /* number tokens in document order */
    size_t n_nums;    /* entries in nums */
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
    size_t n_offset;   /* repeated fields: the n_<name> count member */
    bool required;     /* proto2 required */
} s_field_t;

#define S_F(type, orig, camel, kind, req)                                                          \
    {                                                                                              \
#orig, camel, kind, offsetof(type, orig), 0, req                                           \
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
    S_F (Collection, device_make, "deviceMake", S_STRING, false),
    S_F (Collection, device_model, "deviceModel", S_STRING, false),
    S_F (Collection, system, "system", S_STRING, false),
    S_F (Collection, system_language, "systemLanguage", S_STRING, false),
    S_F (Collection, browser, "browser", S_STRING, false),
    S_F (Collection, browser_version, "browserVersion", S_STRING, false),
    S_F (Collection, product_git_hash, "productGitHash", S_STRING, false),
    S_F (Collection, product_language, "productLanguage", S_STRING, false),
    S_R (Collection, payloads, S_PAYLOADS),
};

static const s_field_t s_payload_fields[] = {
    S_F (Payload, at, "at", S_UINT64, true),
    S_F (Payload, event, "event", S_STRING, true),
    S_F (Payload, nr, "nr", S_UINT32, true),
    S_F (Payload, timezone, "timezone", S_STRING, false),
    S_F (Payload, tenant_id, "tenantId", S_STRING, false),
    S_F (Payload, user_id, "userId", S_STRING, false),
    S_F (Payload, ip, "ip", S_STRING, false),
    S_F (Payload, country, "country", S_STRING, false),
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

/* Records every number token outside strings. cJSON has already accepted
   the text, so a token is exactly what cJSON read as one number. */
static int
s_scan_numbers (s_ctx_t *ctx, size_t len)
{
    size_t cap = 0;
    const char *s = ctx->json;
    size_t i = 0;
    while (i < len) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            i++;
        }
        else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i;
            while (i < len && strchr ("0123456789+-.eE", s[i]) && s[i] != '\0')
                i++;
            if (ctx->n_nums == cap) {
                cap = cap ? cap * 2 : 16;
                s_span_t *nums = realloc (ctx->nums, cap * sizeof *nums);
                if (!nums)
                    return -1;
                ctx->nums = nums;
            }
            ctx->nums[ctx->n_nums++] = (s_span_t){start, i - start};
        }
        else
            i++;
    }
    return 0;
}

/* Numbers the number nodes in document order; returns the next index. */
static size_t
s_index_numbers (cJSON *node, size_t next)
{
    for (; node; node = node->next) {
        if (cJSON_IsNumber (node))
            node->valueint = (int)next++;
        if (node->child)
            next = s_index_numbers (node->child, next);
    }
    return next;
}

/* Parses an unsigned decimal (digits only: no sign, fraction or exponent,
   as Go's json rejected those for unsigned integers) no larger than max. */
static int
s_parse_uint (s_ctx_t *ctx, const cJSON *v, uint64_t max, const char *path, const char *name,
              uint64_t *out)
{
    const char *text;
    size_t len;
    if (cJSON_IsNumber (v)) {
        size_t idx = (size_t)v->valueint;
        if (idx >= ctx->n_nums)
            return s_fail (ctx, path, name, "unreadable number");
        text = ctx->json + ctx->nums[idx].off;
        len = ctx->nums[idx].len;
    }
    else if (cJSON_IsString (v)) {
        text = v->valuestring;
        len = strlen (text);
    }
    else
        return s_fail (ctx, path, name, "expected an integer (number or decimal string)");
    if (len == 0)
        return s_fail (ctx, path, name, "expected an integer, got an empty string");
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return s_fail (ctx, path, name, "expected a non-negative integer, got \"%.*s\"",
                           len > 32 ? 32 : (int)len, text);
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
    if (cJSON_IsString (v))
        env = hm_env_from_name (v->valuestring);
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
        char *copy = strdup (v->valuestring);
        if (!copy)
            return s_fail (ctx, path, f->orig, "out of memory");
        *(char **)member = copy;
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
    if (s_scan_numbers (&ctx, len) != 0) {
        s_fail (&ctx, "", "body", "out of memory");
        goto done;
    }
    if (s_index_numbers (root, 0) != ctx.n_nums) {
        s_fail (&ctx, "", "body", "unreadable numbers");
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
    free (ctx.nums);
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
    const char *required[] = {c->device_id, c->client_id, c->session, c->system_version,
                              c->product_version};
    const char *names[] = {"device_id", "client_id", "session", "system_version",
                           "product_version"};
    for (size_t i = 0; i < S_COUNT (required); i++)
        if (!required[i])
            return s_fail (&ctx, "", names[i], "required field missing");
    if (!hm_env_name ((int)c->env))
        return s_fail (&ctx, "", "env", "unknown value");
    /* Paths are written only for an error: this runs on every request. */
    for (size_t i = 0; i < c->n_payloads; i++) {
        const Payload *p = c->payloads[i];
        if (!p)
            return s_fail_payload (&ctx, i, NULL, "", "missing");
        if (!p->event)
            return s_fail_payload (&ctx, i, NULL, "event", "required field missing");
        for (size_t k = 0; k < p->n_parameters; k++) {
            const Parameter *q = p->parameters[k];
            if (!q)
                return s_fail_payload (&ctx, i, &k, "", "missing");
            if (!q->name)
                return s_fail_payload (&ctx, i, &k, "name", "required field missing");
            if (!q->value)
                return s_fail_payload (&ctx, i, &k, "value", "required field missing");
        }
    }
    return 0;
}
