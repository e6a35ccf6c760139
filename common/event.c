/*  event: one client Collection turned into the pipeline's flattened events.

    The ingest does this once per request so that every route and every
    format sees the same values: the client IP resolved and masked, the
    parameters rendered to their JSON text. Rendering of the env name and
    the time is left to the encoders (encode.c). */
#include "event.h"

#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "hm_buf.h"

const char *
hm_env_name (int env)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value (&environment__descriptor, env);
    return v ? v->name : NULL;
}

int
hm_env_from_name (const char *name)
{
    if (!name)
        return -1;
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value_by_name (&environment__descriptor, name);
    return v ? v->value : -1;
}

/* A parameter and where it stood in the request, so that sorting by name
   keeps repeated names in request order and the last one can win. */
typedef struct {
    const Parameter *param; /* the parameter, owned by the collection */
    size_t index;           /* its position in the request */
} s_param_ref_t;

/* Bytewise order, as Go compared strings: a prefix sorts first. */
static int
s_bytes_cmp (ProtobufCBinaryData x, ProtobufCBinaryData y)
{
    size_t n = x.len < y.len ? x.len : y.len;
    int c = n ? memcmp (x.data, y.data, n) : 0;
    if (c != 0)
        return c;
    return x.len < y.len ? -1 : x.len > y.len;
}

static int
s_param_ref_cmp (const void *a, const void *b)
{
    const s_param_ref_t *x = a, *y = b;
    int c = s_bytes_cmp (x->param->name, y->param->name);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Whether the parameter at i is the one its name keeps: Go's map kept
   only the last value of a name, the last of its run once sorted. */
static bool
s_param_kept (const s_param_ref_t *refs, size_t m, size_t i)
{
    return i + 1 == m || s_bytes_cmp (refs[i].param->name, refs[i + 1].param->name) != 0;
}

/* The least and the most bytes the sorted parameters' text takes; false
   past SIZE_MAX. */
static bool
s_params_size (const s_param_ref_t *refs, size_t m, size_t *min, size_t *max)
{
    size_t lo = 2, hi = 2; /* { } */
    for (size_t i = 0; i < m; i++) {
        if (!s_param_kept (refs, m, i))
            continue;
        size_t n = refs[i].param->name.len, v = refs[i].param->value.len;
        if (n > SIZE_MAX / 16 || v > SIZE_MAX / 16)
            return false;
        /* "name":"value", and a comma before all but the first */
        if (__builtin_add_overflow (lo, (lo > 2) + 5 + n + v, &lo) ||
            __builtin_add_overflow (hi, 2 + HM_JSON_STRING_MAX (n) + HM_JSON_STRING_MAX (v), &hi))
            return false;
    }
    *min = lo, *max = hi;
    return true;
}

typedef struct {
    const s_param_ref_t *refs; /* the parameters, sorted */
    size_t m;                  /* their count */
} s_params_arg_t;

/* Writes the sorted parameters' text at w (room: s_params_size's most). */
static char *
s_params_write (char *w, const void *arg)
{
    const s_param_ref_t *refs = ((const s_params_arg_t *)arg)->refs;
    size_t m = ((const s_params_arg_t *)arg)->m;
    *w++ = '{';
    bool first = true;
    for (size_t i = 0; i < m; i++) {
        if (!s_param_kept (refs, m, i))
            continue;
        if (!first)
            *w++ = ',';
        first = false;
        ProtobufCBinaryData name = refs[i].param->name, value = refs[i].param->value;
        w = hm_json_string_at (w, (const char *)name.data, name.len);
        *w++ = ':';
        w = hm_json_string_at (w, (const char *)value.data, value.len);
    }
    *w++ = '}';
    return w;
}

/* Parameters this many or fewer are sorted on the stack: a request's
   payloads have a handful, and the ingest renders them for every event. */
#define S_PARAMS_ON_STACK 32

int
hm_parameters_json_append (hm_buf_t *out, Parameter **params, size_t n)
{
    s_param_ref_t stack_refs[S_PARAMS_ON_STACK];
    s_param_ref_t *refs = stack_refs;
    size_t start = out->len;
    if (n > S_PARAMS_ON_STACK && !(refs = calloc (n, sizeof *refs)))
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (params[i])
            refs[m++] = (s_param_ref_t){params[i], i};
    /* A payload's few parameters: insertion sort, no qsort call per
       comparison (the order is total, so both give the same). */
    if (m > S_PARAMS_ON_STACK)
        qsort (refs, m, sizeof *refs, s_param_ref_cmp);
    else
        for (size_t i = 1; i < m; i++) {
            s_param_ref_t r = refs[i];
            size_t j = i;
            for (; j > 0 && s_param_ref_cmp (&refs[j - 1], &r) > 0; j--)
                refs[j] = refs[j - 1];
            refs[j] = r;
        }

    /* One reservation for the whole text, then written in place: the
       ingest renders this for every event (issue 17). */
    size_t min, max;
    s_params_arg_t arg = {refs, m};
    if (!s_params_size (refs, m, &min, &max) ||
        hm_buf_append_at_most (out, min, max, s_params_write, &arg) != 0)
        goto fail;
    if (refs != stack_refs)
        free (refs);
    return 0;
fail:
    if (refs != stack_refs)
        free (refs);
    out->len = start;
    return -1;
}

char *
hm_parameters_json (Parameter **params, size_t n)
{
    hm_buf_t out;
    hm_buf_init (&out, 0);
    if (hm_parameters_json_append (&out, params, n) != 0) {
        hm_buf_free (&out);
        return NULL;
    }
    return hm_buf_steal (&out, NULL);
}

Hm__Event *
hm_events_build (const Collection *c, const char *fallback_ip, bool masked_ip)
{
    size_t n = c->n_payloads;
    /* One element even for no payloads, so NULL always means failure. */
    Hm__Event *events = calloc (n ? n : 1, sizeof *events);
    if (!events)
        return NULL;
    size_t i;
    for (i = 0; i < n; i++) {
        const Payload *p = c->payloads[i];
        Hm__Event *e = &events[i];
        hm__event__init (e);
        /* Required fields are always written, optional ones when sent. */
#define S_REQ(dst, src) (e->has_##dst = true, e->dst = (src))
#define S_OPT(dst, m) (e->has_##dst = m->has_##dst, e->dst = m->dst)
        S_REQ (device_id, c->device_id);
        S_REQ (client_id, c->client_id);
        S_REQ (session, c->session);
        e->has_nr = true;
        e->nr = p->nr;
        e->has_env = true;
        e->env = (int32_t)c->env;
        S_REQ (system_version, c->system_version);
        S_REQ (product_version, c->product_version);
        e->has_at = true;
        e->at = p->at;
        S_OPT (timezone, p);
        S_REQ (event, p->event);
        S_OPT (device_make, c);
        S_OPT (device_model, c);
        S_OPT (system, c);
        S_OPT (system_language, c);
        S_OPT (browser, c);
        S_OPT (browser_version, c);
        S_OPT (product_git_hash, c);
        S_OPT (product_language, c);
        S_OPT (user_id, p);
        S_OPT (tenant_id, p);
        S_OPT (country, p);
#undef S_REQ
#undef S_OPT

        /* ip and parameters are always allocated here: hm_events_free
           frees exactly these two. Masking rewrites the ip in place in
           canonical form, so the copy has room for any address text. */
        const char *ip = fallback_ip ? fallback_ip : "";
        size_t ip_len = strlen (ip);
        if (p->has_ip && p->ip.len > 0)
            ip = (const char *)p->ip.data, ip_len = p->ip.len;
        size_t ip_cap = ip_len < 64 ? 64 : ip_len + 1;
        char *ip_copy = malloc (ip_cap);
        e->parameters = hm_parameters_json (p->parameters, p->n_parameters);
        e->has_ip = true;
        e->ip = (ProtobufCBinaryData){0, (uint8_t *)ip_copy};
        if (!ip_copy || !e->parameters) {
            i++;
            goto fail;
        }
        memcpy (ip_copy, ip, ip_len);
        ip_copy[ip_len] = '\0';
        /* With a NUL inside it is no address: the C string would be cut. */
        if (masked_ip && !memchr (ip, '\0', ip_len)) {
            hm_mask_ip (ip_copy, ip_cap);
            ip_len = strlen (ip_copy);
        }
        e->ip.len = ip_len;
    }
    return events;
fail:
    hm_events_free (events, i);
    return NULL;
}

void
hm_events_free (Hm__Event *events, size_t n)
{
    if (!events)
        return;
    for (size_t i = 0; i < n; i++) {
        free (events[i].ip.data);
        free (events[i].parameters);
    }
    free (events);
}
