/*  json_doc: see json_doc.h. */
#include "json_doc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cJSON allocates through process-wide hooks. They take from the arena of
   the parse running on this thread, if any, and are malloc and free
   otherwise: a tree parsed without an arena is freed as before, and one
   parsed into an arena is never handed to cJSON_Delete (hm_json_doc_free
   skips it). A failed parse deletes its partial tree inside the window,
   where free is a no-op for nodes the arena gave out. */
static __thread hm_arena_t *t_arena;

static void *
s_cjson_malloc (size_t n)
{
    return t_arena ? hm_arena_alloc (t_arena, n) : malloc (n);
}

static void
s_cjson_free (void *p)
{
    if (!t_arena)
        free (p);
}

static pthread_once_t s_hooks_once = PTHREAD_ONCE_INIT;

static void
s_hooks_install (void)
{
    cJSON_Hooks hooks = {.malloc_fn = s_cjson_malloc, .free_fn = s_cjson_free};
    cJSON_InitHooks (&hooks);
}

void *
hm_json_doc_alloc (const hm_json_doc_t *doc, size_t n)
{
    return doc->arena ? hm_arena_alloc (doc->arena, n) : malloc (n);
}

void
hm_json_doc_release (const hm_json_doc_t *doc, char *s)
{
    if (!doc->arena)
        free (s);
}

/* Decodes the text of a JSON string (between its quotes, n bytes) into
   out (room for n bytes: no escape decodes longer than it is written) as
   cJSON does, keeping NULs: \uXXXX and surrogate pairs become UTF-8, every
   other byte is copied as it is. -1 for what cJSON refuses, and for a \u
   with a bad hex digit, which cJSON reads as \u0000 and Go refused. */
int
hm_json_unquote (const char *in, size_t n, char *out, size_t *out_len)
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
   decoded; an undecodable one counts as holding one. */
static bool
s_key_has_nul (const char *in, size_t n)
{
    bool escapes = false;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '\0')
            return true;
        escapes |= in[i] == '\\';
    }
    if (!escapes)
        return false;
    char stack[64];
    char *buf = n <= sizeof stack ? stack : malloc (n);
    size_t len = 0;
    bool nul = !buf || hm_json_unquote (in, n, buf, &len) != 0 || memchr (buf, '\0', len);
    if (buf != stack)
        free (buf);
    return nul;
}

static int
s_push (hm_json_doc_t *doc, hm_json_span_t **list, size_t *n, size_t *cap, size_t off, size_t len)
{
    if (*n == *cap) {
        size_t want = *cap ? *cap * 2 : 32;
        hm_json_span_t *grown;
        if (!doc->arena)
            grown = realloc (*list, want * sizeof *grown);
        else if ((grown = hm_arena_alloc (doc->arena, want * sizeof *grown)))
            memcpy (grown, *list, *n * sizeof *grown); /* the old copy goes at the reset */
        if (!grown)
            return -1;
        *list = grown;
        *cap = want;
    }
    (*list)[(*n)++] = (hm_json_span_t){off, len};
    return 0;
}

/* Records every number and string value and every member name (a string
   followed by ':'). cJSON has already accepted the text, so a token is
   exactly what cJSON read as one. */
static int
s_scan (hm_json_doc_t *doc, size_t len)
{
    /* About one value per 16 bytes of a body: most bodies need no regrowth. */
    size_t val_cap = len / 16 + 16, key_cap = val_cap;
    doc->vals = hm_json_doc_alloc (doc, val_cap * sizeof *doc->vals);
    doc->keys = hm_json_doc_alloc (doc, key_cap * sizeof *doc->keys);
    if (!doc->vals || !doc->keys)
        return -1;
    const char *s = doc->text;
    size_t i = 0;
    while (i < len) {
        char c = s[i];
        if (c == '"') {
            /* The closing quote: the next one not escaped, that is not
               after an odd run of backslashes. */
            size_t start = ++i, end = len;
            while (i < len) {
                const char *q = memchr (s + i, '"', len - i);
                if (!q) {
                    i = len;
                    break;
                }
                size_t at = (size_t)(q - s), bs = 0;
                while (at - bs > start && s[at - bs - 1] == '\\')
                    bs++;
                i = at + 1;
                if (bs % 2 == 0) {
                    end = at;
                    break;
                }
            }
            size_t k = i;
            while (k < len && (uint8_t)s[k] <= ' ') /* cJSON's white space */
                k++;
            if (k < len && s[k] == ':') {
                if (s_push (doc, &doc->keys, &doc->n_keys, &key_cap, start, end - start) != 0)
                    return -1;
                if (s_key_has_nul (s + start, end - start))
                    doc->nul_keys++;
            }
            else if (s_push (doc, &doc->vals, &doc->n_vals, &val_cap, start, end - start) != 0)
                return -1;
        }
        else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i;
            while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' ||
                               s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
                i++;
            if (s_push (doc, &doc->vals, &doc->n_vals, &val_cap, start, i - start) != 0)
                return -1;
        }
        else
            i++;
    }
    return 0;
}

/* Numbers the number and string nodes in document order; returns the next
   index. */
static size_t
s_index (cJSON *node, size_t next)
{
    for (; node; node = node->next) {
        if (cJSON_IsNumber (node) || cJSON_IsString (node))
            node->valueint = (int)next++;
        if (node->child)
            next = s_index (node->child, next);
    }
    return next;
}

int
hm_json_doc_parse_in (hm_json_doc_t *doc, hm_arena_t *arena, const char *text, size_t len,
                      char *err, size_t errlen)
{
    memset (doc, 0, sizeof *doc);
    doc->text = text;
    doc->arena = arena;
    const char *end = NULL;
    if (arena) {
        pthread_once (&s_hooks_once, s_hooks_install);
        t_arena = arena;
    }
    doc->root = cJSON_ParseWithLengthOpts (text, len, &end, false);
    t_arena = NULL;
    if (!doc->root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        snprintf (err, errlen, "malformed JSON near byte %zu", at);
        return -1;
    }
    /* cJSON stops after the value; anything but white space after it is
       not one JSON document. */
    for (size_t i = (size_t)(end - text); i < len; i++)
        if (!strchr (" \t\r\n", text[i]) || text[i] == '\0') {
            snprintf (err, errlen, "unexpected data after the JSON value at byte %zu", i);
            goto fail;
        }
    if (s_scan (doc, len) != 0) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    if (s_index (doc->root, 0) != doc->n_vals) {
        snprintf (err, errlen, "unreadable values");
        goto fail;
    }
    return 0;
fail:
    hm_json_doc_free (doc);
    return -1;
}

int
hm_json_doc_parse (hm_json_doc_t *doc, const char *text, size_t len, char *err, size_t errlen)
{
    return hm_json_doc_parse_in (doc, NULL, text, len, err, errlen);
}

void
hm_json_doc_free (hm_json_doc_t *doc)
{
    if (!doc->arena) {
        cJSON_Delete (doc->root);
        free (doc->vals);
        free (doc->keys);
    }
    memset (doc, 0, sizeof *doc);
}

const hm_json_span_t *
hm_json_doc_value (const hm_json_doc_t *doc, const cJSON *node)
{
    if (!cJSON_IsNumber (node) && !cJSON_IsString (node))
        return NULL;
    size_t idx = (size_t)node->valueint;
    return idx < doc->n_vals ? &doc->vals[idx] : NULL;
}

/* A span decoded into a copy (malloc'd or from the arena) with a NUL
   after it. */
static char *
s_decode (const hm_json_doc_t *doc, const hm_json_span_t *t, size_t *len, const char **why)
{
    char *out = hm_json_doc_alloc (doc, t->len + 1);
    if (!out) {
        *why = "out of memory";
        return NULL;
    }
    if (hm_json_unquote (doc->text + t->off, t->len, out, len) != 0) {
        hm_json_doc_release (doc, out);
        *why = "invalid escape in string";
        return NULL;
    }
    out[*len] = '\0';
    return out;
}

char *
hm_json_doc_string (const hm_json_doc_t *doc, const cJSON *node, size_t *len, const char **why)
{
    const hm_json_span_t *t = cJSON_IsString (node) ? hm_json_doc_value (doc, node) : NULL;
    if (!t) {
        *why = "unreadable string";
        return NULL;
    }
    char *out = s_decode (doc, t, len, why);
    /* Up to its first NUL, the value is what cJSON read: anything else
       means the tokens and the nodes are out of step. Never cut, never
       guess: refuse. */
    if (out) {
        size_t cut = strlen (node->valuestring);
        if (cut > *len || memcmp (out, node->valuestring, cut) != 0) {
            hm_json_doc_release (doc, out);
            *why = "string does not decode consistently";
            return NULL;
        }
    }
    return out;
}

char *
hm_json_doc_key (const hm_json_doc_t *doc, size_t index, size_t *len, const char **why)
{
    if (index >= doc->n_keys) {
        *why = "unreadable name";
        return NULL;
    }
    return s_decode (doc, &doc->keys[index], len, why);
}

size_t
hm_json_doc_subtree_keys (const cJSON *node)
{
    size_t n = 0;
    for (const cJSON *c = node ? node->child : NULL; c; c = c->next)
        n += (c->string ? 1 : 0) + hm_json_doc_subtree_keys (c);
    return n;
}
