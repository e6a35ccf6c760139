/*  push_parse: see push_parse.h. */
#include "push_parse.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collection_json.h"
#include "event.h"

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

/* parameters (object, JSON text of an object, or [{name,value}]) to the
   Collection's list. NULL with errbuf set on error. */
static cJSON *
s_parameters (const cJSON *v, char *errbuf, size_t errlen)
{
    if (cJSON_IsArray (v))
        return cJSON_Duplicate (v, true);
    cJSON *parsed = NULL;
    if (cJSON_IsString (v)) {
        parsed = cJSON_Parse (v->valuestring);
        v = parsed;
    }
    if (!cJSON_IsObject (v)) {
        snprintf (errbuf, errlen, "parameters: not an object or the JSON text of one");
        cJSON_Delete (parsed);
        return NULL;
    }
    cJSON *list = cJSON_CreateArray ();
    for (const cJSON *kv = v->child; list && kv; kv = kv->next) {
        cJSON *param = cJSON_CreateObject ();
        char *text = cJSON_IsString (kv) ? NULL : cJSON_PrintUnformatted (kv);
        if (!param || !cJSON_AddStringToObject (param, "name", kv->string) ||
            !cJSON_AddStringToObject (param, "value", text ? text : kv->valuestring)) {
            cJSON_Delete (param);
            cJSON_Delete (list);
            list = NULL;
        }
        else
            cJSON_AddItemToArray (list, param);
        free (text);
    }
    cJSON_Delete (parsed);
    if (!list)
        snprintf (errbuf, errlen, "out of memory");
    return list;
}

/* A flat event object rewritten as a one-payload Collection, printed. */
static char *
s_flat_to_collection (const cJSON *flat, char *errbuf, size_t errlen)
{
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
        if (strcmp (kv->string, "parameters") == 0) {
            value = s_parameters (kv, errbuf, errlen);
            if (!value)
                goto done;
        }
        else if (strcmp (kv->string, "at") == 0 && cJSON_IsString (kv)) {
            value = s_parse_at_text (kv->valuestring);
            if (!value) {
                snprintf (errbuf, errlen, "at: \"%.40s\" is not \"YYYY-MM-DD HH:MM:SS\"",
                          kv->valuestring);
                goto done;
            }
        }
        else if (s_in (kv->string, s_collection_keys) || s_in (kv->string, s_payload_keys)) {
            target = s_in (kv->string, s_collection_keys) ? collection : payload;
            value = cJSON_Duplicate (kv, true);
        }
        else {
            snprintf (errbuf, errlen, "unknown field \"%.60s\"", kv->string);
            goto done;
        }
        if (!value) {
            snprintf (errbuf, errlen, "out of memory");
            goto done;
        }
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
    cJSON *root = cJSON_ParseWithLength (line, len);
    if (!cJSON_IsObject (root)) {
        snprintf (errbuf, errlen, root ? "not a JSON object" : "not valid JSON");
        cJSON_Delete (root);
        return -1;
    }
    char *flat_text = NULL;
    const char *text = line;
    size_t text_len = len;
    if (!cJSON_GetObjectItemCaseSensitive (root, "payloads")) {
        flat_text = s_flat_to_collection (root, errbuf, errlen);
        if (!flat_text) {
            cJSON_Delete (root);
            return -1;
        }
        text = flat_text;
        text_len = strlen (flat_text);
    }
    cJSON_Delete (root);

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
