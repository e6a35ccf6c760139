/*  send_gen: see send_gen.h.

    Every body is a Collection the collector must accept: the required
    fields are set, the session is hm_session() of the device fields, and
    nr grows within a session. The optional fields are switched on at random
    so that the encoders downstream see empty and present values, and a few
    parameter values hold characters that need escaping (quotes, '<', '&',
    non-ASCII) because those are the ones output formats get wrong. */
#include "send_gen.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "encode.h"
#include "event.h"
#include "payload.pb-c.h"
#include "signature.h"

#define S_MAX_PARAMS 5

/* One simulated device: the Collection-level fields of its bodies. */
typedef struct {
    char device_id[37];       /* uuid4 text */
    char client_id[33];       /* 32 hex digits */
    char system_version[16];  /* "10.3" */
    char product_version[16]; /* "3.12.1" */
    int env;                  /* Environment number */
    char session[33];         /* hm_session of the fields above */
    uint32_t next_nr;         /* nr of the next payload of this session */
    const char *device_make;  /* optional fields: NULL when absent */
    const char *device_model;
    const char *system;
    const char *system_language;
    const char *browser;
    const char *browser_version;
    const char *product_language;
    char git_hash[41]; /* product_git_hash, "" when absent */
} s_device_t;

/* Scratch space for one payload of the body being built. */
typedef struct {
    Payload payload;                     /* points into the fields below */
    Parameter params[S_MAX_PARAMS];      /* its parameters */
    Parameter *param_ptrs[S_MAX_PARAMS]; /* protobuf-c wants an array of pointers */
    char tenant_id[24];
    char user_id[24];
    char ip[48];
    char values[S_MAX_PARAMS][32]; /* parameter values */
} s_slot_t;

struct send_gen_t {
    uint64_t rng;          /* xorshift64* state, never 0 */
    send_format_t format;  /* what send_gen_next encodes to */
    uint32_t min_payloads; /* payloads per body: uniform in [min, max] */
    uint32_t max_payloads;
    s_device_t *devices; /* the session pool */
    uint32_t device_count;
    s_slot_t *slots;        /* max_payloads payload scratch slots */
    Payload **payload_ptrs; /* max_payloads pointers for the Collection */
};

static const char *s_events[] = {"app.open", "app.close", "screen.view", "button.click",
                                 "purchase", "login",     "logout",      "search",
                                 "share",    "error",     "sync.start",  "sync.done"};
static const char *s_makes[] = {"Apple", "Samsung", "Google", "Xiaomi", "Dell", "Lenovo"};
static const char *s_models[] = {"iPhone14,2", "SM-G991B", "Pixel 7", "XPS 13", "ThinkPad X1"};
static const char *s_systems[] = {"iOS", "Android", "OSX", "Windows", "Linux"};
static const char *s_languages[] = {"en", "en-US", "hu", "de", "fr", "pt-BR", "ja"};
static const char *s_browsers[] = {"Safari", "Chrome", "Firefox", "Edge"};
static const char *s_timezones[] = {"+00:00", "+01:00", "-05:00", "+09:00", "Europe/Budapest"};
static const char *s_countries[] = {"HU", "US", "DE", "GB", "FR", "BR", "JP", "IN"};
static const char *s_param_names[] = {"screen", "button",  "duration_ms", "count",
                                      "source", "variant", "query",       "item_id"};
/* Values that exercise escaping in the JSON and CSV encoders. */
static const char *s_odd_values[] = {"say \"hi\"",     "<b>&amp;</b>", "árvíztűrő tükörfúrógép",
                                     " leading space", "tab\there",    "line\nbreak",
                                     "a\001b"};
/* First octets of public IPv4 ranges (so the collector records them). */
static const int s_ip_octets[] = {23, 31, 52, 81, 91, 104, 151, 185};

#define S_COUNT(a) (sizeof (a) / sizeof ((a)[0]))

static uint64_t
s_next (send_gen_t *self)
{
    uint64_t x = self->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint64_t
send_gen_rand (send_gen_t *self, uint64_t n)
{
    if (n == 0)
        return 0;
    /* Multiply-shift instead of '%': no modulo bias worth speaking of. */
    return (uint64_t)(((unsigned __int128)s_next (self) * n) >> 64);
}

static const char *
s_pick (send_gen_t *self, const char **list, size_t n)
{
    return list[send_gen_rand (self, n)];
}

/* The optional field or NULL, each present with probability 1/2. */
static const char *
s_maybe (send_gen_t *self, const char **list, size_t n)
{
    return send_gen_rand (self, 2) ? s_pick (self, list, n) : NULL;
}

static void
s_hex (send_gen_t *self, char *out, size_t digits)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < digits; i++)
        out[i] = hex[send_gen_rand (self, 16)];
    out[digits] = '\0';
}

static void
s_device_init (send_gen_t *self, s_device_t *d)
{
    char h[33];
    s_hex (self, h, 32);
    /* uuid4: version nibble 4, variant nibble 8..b */
    snprintf (d->device_id, sizeof d->device_id, "%.8s-%.4s-4%.3s-%c%.3s-%.12s", h, h + 8, h + 12,
              "89ab"[send_gen_rand (self, 4)], h + 15, h + 18);
    s_hex (self, d->client_id, 32);
    snprintf (d->system_version, sizeof d->system_version, "%d.%d",
              (int)send_gen_rand (self, 15) + 1, (int)send_gen_rand (self, 10));
    snprintf (d->product_version, sizeof d->product_version, "%d.%d.%d",
              (int)send_gen_rand (self, 5) + 1, (int)send_gen_rand (self, 30),
              (int)send_gen_rand (self, 100));
    /* Mostly production, as in real traffic; sometimes any other. */
    d->env = send_gen_rand (self, 4) ? 0 : (int)send_gen_rand (self, 12);
    hm_session (d->device_id, d->client_id, d->system_version, d->product_version, d->env,
                d->session);
    d->next_nr = 1;
    d->device_make = s_maybe (self, s_makes, S_COUNT (s_makes));
    d->device_model = d->device_make ? s_pick (self, s_models, S_COUNT (s_models)) : NULL;
    d->system = s_maybe (self, s_systems, S_COUNT (s_systems));
    d->system_language = s_maybe (self, s_languages, S_COUNT (s_languages));
    d->browser = s_maybe (self, s_browsers, S_COUNT (s_browsers));
    d->browser_version = d->browser ? "17.1" : NULL;
    d->product_language = s_maybe (self, s_languages, S_COUNT (s_languages));
    if (send_gen_rand (self, 2))
        s_hex (self, d->git_hash, 40);
    else
        d->git_hash[0] = '\0';
}

send_gen_t *
send_gen_new (uint64_t seed, send_format_t format, uint32_t min_payloads, uint32_t max_payloads,
              uint32_t sessions)
{
    if (min_payloads < 1 || min_payloads > max_payloads || max_payloads > SEND_GEN_MAX_PAYLOADS ||
        sessions < 1)
        return NULL;
    send_gen_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    if (seed == 0) {
        struct timespec ts;
        clock_gettime (CLOCK_REALTIME, &ts);
        seed = ((uint64_t)ts.tv_sec * 1000000007ULL) ^ (uint64_t)ts.tv_nsec ^
               ((uint64_t)getpid () << 32);
    }
    /* splitmix64 step so that nearby seeds give unrelated streams */
    seed += 0x9E3779B97F4A7C15ULL;
    seed = (seed ^ (seed >> 30)) * 0xBF58476D1CE4E5B9ULL;
    seed = (seed ^ (seed >> 27)) * 0x94D049BB133111EBULL;
    seed ^= seed >> 31;
    self->rng = seed ? seed : 1;
    self->format = format;
    self->min_payloads = min_payloads;
    self->max_payloads = max_payloads;
    self->device_count = sessions;
    self->devices = calloc (sessions, sizeof *self->devices);
    self->slots = calloc (max_payloads, sizeof *self->slots);
    self->payload_ptrs = calloc (max_payloads, sizeof *self->payload_ptrs);
    if (!self->devices || !self->slots || !self->payload_ptrs) {
        send_gen_destroy (&self);
        return NULL;
    }
    for (uint32_t i = 0; i < sessions; i++)
        s_device_init (self, &self->devices[i]);
    return self;
}

void
send_gen_destroy (send_gen_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    send_gen_t *self = *self_p;
    free (self->devices);
    free (self->slots);
    free (self->payload_ptrs);
    free (self);
    *self_p = NULL;
}

static void
s_fill_payload (send_gen_t *self, s_slot_t *slot, uint64_t now, uint32_t nr)
{
    Payload *p = &slot->payload;
    payload__init (p);
    p->at = now - send_gen_rand (self, 3600);
    p->event = hm_bytes (s_pick (self, s_events, S_COUNT (s_events)));
    p->nr = nr;
    HM_SET_STR (p, timezone, s_maybe (self, s_timezones, S_COUNT (s_timezones)));
    if (send_gen_rand (self, 2)) {
        snprintf (slot->tenant_id, sizeof slot->tenant_id, "tenant-%u",
                  (unsigned)send_gen_rand (self, 1000));
        HM_SET_STR (p, tenant_id, slot->tenant_id);
    }
    if (send_gen_rand (self, 2)) {
        snprintf (slot->user_id, sizeof slot->user_id, "%u",
                  (unsigned)send_gen_rand (self, 99000000) + 1);
        HM_SET_STR (p, user_id, slot->user_id);
    }
    if (send_gen_rand (self, 2)) {
        snprintf (slot->ip, sizeof slot->ip, "%d.%u.%u.%u",
                  s_ip_octets[send_gen_rand (self, S_COUNT (s_ip_octets))],
                  (unsigned)send_gen_rand (self, 256), (unsigned)send_gen_rand (self, 256),
                  (unsigned)send_gen_rand (self, 254) + 1);
        HM_SET_STR (p, ip, slot->ip);
    }
    HM_SET_STR (p, country, s_maybe (self, s_countries, S_COUNT (s_countries)));
    size_t n = send_gen_rand (self, S_MAX_PARAMS + 1);
    for (size_t i = 0; i < n; i++) {
        Parameter *param = &slot->params[i];
        parameter__init (param);
        param->name = hm_bytes (s_pick (self, s_param_names, S_COUNT (s_param_names)));
        if (send_gen_rand (self, 10) == 0)
            param->value = hm_bytes (s_pick (self, s_odd_values, S_COUNT (s_odd_values)));
        else {
            snprintf (slot->values[i], sizeof slot->values[i], "v%u",
                      (unsigned)send_gen_rand (self, 100000));
            param->value = hm_bytes (slot->values[i]);
        }
        slot->param_ptrs[i] = param;
    }
    p->n_parameters = n;
    p->parameters = n ? slot->param_ptrs : NULL;
}

/* Adds key: value when value is set (absent optional fields are left out).
   The value is written by hm_json_string, not cJSON, so that a NUL byte
   inside it is sent as \u0000 rather than ending it. */
static int
s_json_bytes (cJSON *obj, const char *key, protobuf_c_boolean has, ProtobufCBinaryData value)
{
    if (!has)
        return 0;
    hm_buf_t text;
    hm_buf_init (&text, 0);
    int rc = hm_json_string (&text, (const char *)value.data, value.len) == 0 &&
                     cJSON_AddRawToObject (obj, key, text.data)
                 ? 0
                 : -1;
    hm_buf_free (&text);
    return rc;
}

static int
s_json_str (cJSON *obj, const char *key, const char *value)
{
    return s_json_bytes (obj, key, value != NULL, hm_bytes (value));
}

/* The protobuf JSON mapping: camelCase names, 64-bit integers as strings,
   enums by name. */
static int
s_encode_json (const Collection *c, hm_buf_t *out)
{
    int rc = -1;
    cJSON *root = cJSON_CreateObject ();
    if (!root)
        return -1;
    const char *env = hm_env_name (c->env);
    if (s_json_bytes (root, "deviceId", true, c->device_id) ||
        s_json_bytes (root, "clientId", true, c->client_id) ||
        s_json_bytes (root, "session", true, c->session) ||
        s_json_bytes (root, "systemVersion", true, c->system_version) ||
        s_json_bytes (root, "productVersion", true, c->product_version) ||
        s_json_str (root, "env", env ? env : "PRODUCTION") ||
        s_json_bytes (root, "deviceMake", c->has_device_make, c->device_make) ||
        s_json_bytes (root, "deviceModel", c->has_device_model, c->device_model) ||
        s_json_bytes (root, "system", c->has_system, c->system) ||
        s_json_bytes (root, "systemLanguage", c->has_system_language, c->system_language) ||
        s_json_bytes (root, "browser", c->has_browser, c->browser) ||
        s_json_bytes (root, "browserVersion", c->has_browser_version, c->browser_version) ||
        s_json_bytes (root, "productGitHash", c->has_product_git_hash, c->product_git_hash) ||
        s_json_bytes (root, "productLanguage", c->has_product_language, c->product_language))
        goto done;
    cJSON *payloads = cJSON_AddArrayToObject (root, "payloads");
    if (!payloads)
        goto done;
    for (size_t i = 0; i < c->n_payloads; i++) {
        const Payload *p = c->payloads[i];
        cJSON *jp = cJSON_CreateObject ();
        if (!jp || !cJSON_AddItemToArray (payloads, jp))
            goto done;
        char at[24];
        snprintf (at, sizeof at, "%llu", (unsigned long long)p->at);
        if (s_json_str (jp, "at", at) || s_json_bytes (jp, "event", true, p->event) ||
            !cJSON_AddNumberToObject (jp, "nr", p->nr) ||
            s_json_bytes (jp, "timezone", p->has_timezone, p->timezone) ||
            s_json_bytes (jp, "tenantId", p->has_tenant_id, p->tenant_id) ||
            s_json_bytes (jp, "userId", p->has_user_id, p->user_id) ||
            s_json_bytes (jp, "ip", p->has_ip, p->ip) ||
            s_json_bytes (jp, "country", p->has_country, p->country))
            goto done;
        if (p->n_parameters) {
            cJSON *params = cJSON_AddArrayToObject (jp, "parameters");
            if (!params)
                goto done;
            for (size_t k = 0; k < p->n_parameters; k++) {
                cJSON *jparam = cJSON_CreateObject ();
                if (!jparam || !cJSON_AddItemToArray (params, jparam) ||
                    s_json_bytes (jparam, "name", true, p->parameters[k]->name) ||
                    s_json_bytes (jparam, "value", true, p->parameters[k]->value))
                    goto done;
            }
        }
    }
    char *text = cJSON_PrintUnformatted (root);
    if (!text)
        goto done;
    rc = hm_buf_append (out, text, strlen (text));
    cJSON_free (text);
done:
    cJSON_Delete (root);
    return rc;
}

int
send_gen_next (send_gen_t *self, send_body_t *out)
{
    s_device_t *d = &self->devices[send_gen_rand (self, self->device_count)];
    uint32_t n = self->min_payloads +
                 (uint32_t)send_gen_rand (self, self->max_payloads - self->min_payloads + 1);
    uint64_t now = (uint64_t)time (NULL);

    Collection c = COLLECTION__INIT;
    c.device_id = hm_bytes (d->device_id);
    c.client_id = hm_bytes (d->client_id);
    c.session = hm_bytes (d->session);
    c.system_version = hm_bytes (d->system_version);
    c.product_version = hm_bytes (d->product_version);
    c.env = (Environment)d->env;
    HM_SET_STR (&c, device_make, d->device_make);
    HM_SET_STR (&c, device_model, d->device_model);
    HM_SET_STR (&c, system, d->system);
    HM_SET_STR (&c, system_language, d->system_language);
    HM_SET_STR (&c, browser, d->browser);
    HM_SET_STR (&c, browser_version, d->browser_version);
    HM_SET_STR (&c, product_git_hash, d->git_hash[0] ? d->git_hash : NULL);
    HM_SET_STR (&c, product_language, d->product_language);
    out->first_nr = d->next_nr;
    for (uint32_t i = 0; i < n; i++) {
        s_fill_payload (self, &self->slots[i], now, d->next_nr++);
        self->payload_ptrs[i] = &self->slots[i].payload;
    }
    c.n_payloads = n;
    c.payloads = self->payload_ptrs;
    out->events = n;
    memcpy (out->session, d->session, sizeof out->session);

    hm_buf_reset (&out->body);
    if (self->format == SEND_FORMAT_JSON)
        return s_encode_json (&c, &out->body);
    size_t len = collection__get_packed_size (&c);
    if (hm_buf_reserve (&out->body, len) != 0)
        return -1;
    out->body.len = collection__pack (&c, (uint8_t *)out->body.data);
    out->body.data[out->body.len] = '\0';
    return 0;
}

const char *
send_format_content_type (send_format_t format)
{
    return format == SEND_FORMAT_JSON ? "application/json" : "application/protobuf";
}
