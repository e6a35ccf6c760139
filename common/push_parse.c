/*  push_parse: see push_parse.h. */
#include "push_parse.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collection_json.h"
#include "encode.h"
#include "event.h"
#include "hm_buf.h"
#include "json_doc.h"

/* Where each flat field goes in the Collection. */
static const char *s_collection_keys[] = {
    "device_id", "client_id",       "session",          "system_version",   "product_version",
    "env",       "device_make",     "device_model",     "system",           "system_language",
    "browser",   "browser_version", "product_git_hash", "product_language", NULL};
static const char *s_payload_keys[] = {"at",      "event", "nr",      "timezone", "tenant_id",
                                       "user_id", "ip",    "country", NULL};

static bool
s_in (const char *key, const char **set)
{
    for (; *set; set++)
        if (strcmp (key, *set) == 0)
            return true;
    return false;
}

/* "YYYY-MM-DD HH:MM:SS" (UTC) to a number node, or NULL. */
static cJSON *
s_parse_at_text (const char *text)
{
    struct tm tm;
    memset (&tm, 0, sizeof tm);
    const char *end = strptime (text, "%Y-%m-%d %H:%M:%S", &tm);
    if (!end || *end)
        return NULL;
    time_t t = timegm (&tm);
    if (t < 0)
        return NULL;
    return cJSON_CreateNumber ((double)t);
}

/* A walk over a parsed line: the doc and the next member name in document
   order (hm_json_doc keeps names as cJSON does, cut at a NUL; their whole
   text comes from the doc). */
typedef struct {
    const hm_json_doc_t *doc; /* the line, or the parameters' JSON text */
    size_t key;               /* index of the next member name */
    char *err;                /* caller's error buffer */
    size_t errlen;            /* its size */
} s_walk_t;

/* A raw node printing "text" (quoted) or text, exactly the line's own
   escapes: a \u0000 stays in the value. NULL with the reason set. */
static cJSON *
s_raw (s_walk_t *w, const char *src, size_t len, bool quoted)
{
    /* cJSON keeps a raw node's text as a C string. */
    if (memchr (src, '\0', len)) {
        snprintf (w->err, w->errlen, "a raw NUL byte in a string (write it \\u0000)");
        return NULL;
    }
    char *text = malloc (len + 3);
    if (!text) {
        snprintf (w->err, w->errlen, "out of memory");
        return NULL;
    }
    size_t n = 0;
    if (quoted)
        text[n++] = '"';
    memcpy (text + n, src, len);
    n += len;
    if (quoted)
        text[n++] = '"';
    text[n] = '\0';
    cJSON *raw = cJSON_CreateRaw (text);
    free (text);
    if (!raw)
        snprintf (w->err, w->errlen, "out of memory");
    return raw;
}

/* The next member name of the walk as a raw JSON string. */
static cJSON *
s_raw_key (s_walk_t *w)
{
    if (w->key >= w->doc->n_keys) {
        snprintf (w->err, w->errlen, "unreadable name");
        return NULL;
    }
    const hm_json_span_t *t = &w->doc->keys[w->key++];
    return s_raw (w, w->doc->text + t->off, t->len, true);
}

/* Consumes the next member name, which must be node's own whole name (a
   field name holding a NUL is no field: cJSON cut it, and its first part
   might name one). */
static int
s_field_name (s_walk_t *w, const cJSON *node)
{
    size_t len = 0;
    const char *why = "out of memory";
    char *name = hm_json_doc_key (w->doc, w->key++, &len, &why);
    bool whole = name && strlen (name) == len && strcmp (name, node->string) == 0;
    free (name);
    if (!whole) {
        snprintf (w->err, w->errlen, name ? "a field name holds a NUL byte" : "%s", why);
        return -1;
    }
    return 0;
}

/* node copied with each string and number as the line's own text. */
static cJSON *
s_copy (s_walk_t *w, const cJSON *node)
{
    const hm_json_span_t *t = hm_json_doc_value (w->doc, node);
    if (t)
        return s_raw (w, w->doc->text + t->off, t->len, cJSON_IsString (node));
    if (!cJSON_IsArray (node) && !cJSON_IsObject (node)) {
        cJSON *copy = cJSON_Duplicate (node, false); /* true, false, null */
        if (!copy)
            snprintf (w->err, w->errlen, "out of memory");
        return copy;
    }
    cJSON *out = cJSON_IsArray (node) ? cJSON_CreateArray () : cJSON_CreateObject ();
    if (!out) {
        snprintf (w->err, w->errlen, "out of memory");
        return NULL;
    }
    for (const cJSON *c = node->child; c; c = c->next) {
        if (c->string && s_field_name (w, c) != 0)
            goto fail;
        cJSON *item = s_copy (w, c);
        if (!item)
            goto fail;
        if (c->string)
            cJSON_AddItemToObject (out, c->string, item);
        else
            cJSON_AddItemToArray (out, item);
    }
    return out;
fail:
    cJSON_Delete (out);
    return NULL;
}

/* A parameter value that is no string: its JSON text, as a JSON string. */
static cJSON *
s_text_value (s_walk_t *w, const cJSON *v)
{
    cJSON *copy = s_copy (w, v);
    char *text = copy ? cJSON_PrintUnformatted (copy) : NULL;
    cJSON_Delete (copy);
    hm_buf_t quoted;
    hm_buf_init (&quoted, 0);
    cJSON *raw = NULL;
    if (text && hm_json_string (&quoted, text, strlen (text)) == 0)
        raw = cJSON_CreateRaw (quoted.data);
    if (!raw && copy)
        snprintf (w->err, w->errlen, "out of memory");
    free (text);
    hm_buf_free (&quoted);
    return raw;
}

static cJSON *s_parameters (s_walk_t *w, const cJSON *v);

/* parameters given as the JSON text of an object: that text decoded whole
   and walked as its own doc. */
static cJSON *
s_parameters_text (s_walk_t *w, const cJSON *v)
{
    size_t len = 0;
    const char *why = "out of memory";
    char *text = hm_json_doc_string (w->doc, v, &len, &why);
    if (!text) {
        snprintf (w->err, w->errlen, "parameters: %s", why);
        return NULL;
    }
    hm_json_doc_t inner;
    char reason[96];
    cJSON *list = NULL;
    if (hm_json_doc_parse (&inner, text, len, reason, sizeof reason) != 0 ||
        !cJSON_IsObject (inner.root))
        snprintf (w->err, w->errlen, "parameters: not an object or the JSON text of one");
    else {
        s_walk_t sub = {&inner, 0, w->err, w->errlen};
        list = s_parameters (&sub, inner.root);
    }
    hm_json_doc_free (&inner);
    free (text);
    return list;
}

/* parameters (object, JSON text of an object, or [{name,value}]) to the
   Collection's list, every name and value whole. NULL with the reason set. */
static cJSON *
s_parameters (s_walk_t *w, const cJSON *v)
{
    if (cJSON_IsArray (v))
        return s_copy (w, v);
    if (cJSON_IsString (v))
        return s_parameters_text (w, v);
    if (!cJSON_IsObject (v)) {
        snprintf (w->err, w->errlen, "parameters: not an object or the JSON text of one");
        return NULL;
    }
    cJSON *list = cJSON_CreateArray ();
    if (!list) {
        snprintf (w->err, w->errlen, "out of memory");
        return NULL;
    }
    for (const cJSON *kv = v->child; kv; kv = kv->next) {
        cJSON *param = cJSON_CreateObject ();
        cJSON *name = param ? s_raw_key (w) : NULL;
        cJSON *value = NULL;
        if (name)
            value = cJSON_IsString (kv) ? s_copy (w, kv) : s_text_value (w, kv);
        if (!param || !name || !value) {
            if (!param)
                snprintf (w->err, w->errlen, "out of memory");
            cJSON_Delete (param);
            cJSON_Delete (name);
            cJSON_Delete (list);
            return NULL;
        }
        cJSON_AddItemToObject (param, "name", name);
        cJSON_AddItemToObject (param, "value", value);
        cJSON_AddItemToArray (list, param);
    }
    return list;
}

/* A flat event object rewritten as a one-payload Collection, printed. Every
   string is carried as the line's own text, so a \u0000 in it reaches the
   Collection decoder, which keeps the value whole. */
static char *
s_flat_to_collection (const hm_json_doc_t *doc, char *errbuf, size_t errlen)
{
    const cJSON *flat = doc->root;
    s_walk_t w = {doc, 0, errbuf, errlen};
    cJSON *collection = cJSON_CreateObject ();
    cJSON *payload = cJSON_CreateObject ();
    cJSON *payloads = cJSON_AddArrayToObject (collection, "payloads");
    char *text = NULL;
    if (!collection || !payload || !payloads) {
        snprintf (errbuf, errlen, "out of memory");
        cJSON_Delete (payload);
        goto done;
    }
    cJSON_AddItemToArray (payloads, payload);
    for (const cJSON *kv = flat->child; kv; kv = kv->next) {
        cJSON *value = NULL;
        cJSON *target = payload;
        if (s_field_name (&w, kv) != 0)
            goto done;
        if (strcmp (kv->string, "parameters") == 0)
            value = s_parameters (&w, kv);
        else if (strcmp (kv->string, "at") == 0 && cJSON_IsString (kv)) {
            size_t len = 0;
            const char *why = "out of memory";
            char *at = hm_json_doc_string (doc, kv, &len, &why);
            value = at && strlen (at) == len ? s_parse_at_text (at) : NULL;
            if (!value)
                snprintf (errbuf, errlen, "at: \"%.40s\" is not \"YYYY-MM-DD HH:MM:SS\"",
                          at ? at : why);
            free (at);
        }
        else if (s_in (kv->string, s_collection_keys) || s_in (kv->string, s_payload_keys)) {
            target = s_in (kv->string, s_collection_keys) ? collection : payload;
            value = s_copy (&w, kv);
        }
        else {
            snprintf (errbuf, errlen, "unknown field \"%.60s\"", kv->string);
            goto done;
        }
        if (!value)
            goto done;
        cJSON_AddItemToObject (target, kv->string, value);
    }
    text = cJSON_PrintUnformatted (collection);
    if (!text)
        snprintf (errbuf, errlen, "out of memory");
done:
    cJSON_Delete (collection);
    return text;
}

/* Heap-owned copies of the events (they point into the collection). */
static Hm__Event **
s_copy_events (const Hm__Event *events, size_t n)
{
    Hm__Event **out = calloc (n ? n : 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++) {
        size_t size = hm__event__get_packed_size (&events[i]);
        uint8_t *buf = malloc (size ? size : 1);
        if (buf) {
            hm__event__pack (&events[i], buf);
            out[i] = hm__event__unpack (NULL, size, buf);
            free (buf);
        }
        if (!out[i]) {
            for (size_t j = 0; j < i; j++)
                hm__event__free_unpacked (out[j], NULL);
            free (out);
            return NULL;
        }
    }
    return out;
}

int
push_parse_line (const char *line, size_t len, Hm__Event ***events_p, size_t *n_p, char *errbuf,
                 size_t errlen)
{
    *events_p = NULL;
    *n_p = 0;
    hm_json_doc_t doc;
    char why[96];
    if (hm_json_doc_parse (&doc, line, len, why, sizeof why) != 0 || !cJSON_IsObject (doc.root)) {
        snprintf (errbuf, errlen, doc.root ? "not a JSON object" : "not valid JSON");
        hm_json_doc_free (&doc);
        return -1;
    }
    char *flat_text = NULL;
    const char *text = line;
    size_t text_len = len;
    if (!cJSON_GetObjectItemCaseSensitive (doc.root, "payloads")) {
        flat_text = s_flat_to_collection (&doc, errbuf, errlen);
        if (!flat_text) {
            hm_json_doc_free (&doc);
            return -1;
        }
        text = flat_text;
        text_len = strlen (flat_text);
    }
    hm_json_doc_free (&doc);

    int rc = -1;
    Collection *c = hm_collection_from_json (text, text_len, errbuf, errlen);
    if (c) {
        Hm__Event *events = c->n_payloads ? hm_events_build (c, NULL, false) : NULL;
        if (c->n_payloads && !events)
            snprintf (errbuf, errlen, "out of memory");
        else if ((*events_p = s_copy_events (events, c->n_payloads)) == NULL)
            snprintf (errbuf, errlen, "out of memory");
        else {
            *n_p = c->n_payloads;
            rc = 0;
        }
        if (events)
            hm_events_free (events, c->n_payloads);
        hm_collection_json_free (c);
    }
    else if (flat_text && strncmp (errbuf, "payloads[0].", 12) == 0)
        /* The flat event's own names, not those of our rewrite. */
        memmove (errbuf, errbuf + 12, strlen (errbuf + 12) + 1);
    free (flat_text);
    return rc;
}
