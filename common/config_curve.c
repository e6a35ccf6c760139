/*  config_curve: the optional "curve" section (curve.h): Z85 key pairs,
    each secret checked against its public key, and the allowed clients. */
#include "config_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_CURVE_MAX_CLIENTS 1024

/* A Z85 CurveZMQ key: 40 characters that decode to 32 bytes. */
static int
s_curve_key (hm_cfg_ctx_t *ctx, const char *key, const char *text, uint8_t out[32])
{
    if (strlen (text) != 40 || !zmq_z85_decode (out, text))
        return hm_cfg_fail (ctx, key,
                            "not a CurveZMQ key (40 characters of Z85 text; "
                            "hamustro-ctl keygen makes a pair)");
    return 0;
}

/* Reads a key pair of the section: a secret needs its public key, and
   must be that key's secret. */
static int
s_curve_pair (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *public_name, const char *secret_name,
              char **public_key, char **secret_key)
{
    char pk[64], sk[64];
    hm_cfg_keypath (pk, sizeof pk, "curve", public_name);
    hm_cfg_keypath (sk, sizeof sk, "curve", secret_name);
    if (hm_cfg_string (ctx, obj, "curve", public_name, public_key) != 0 ||
        hm_cfg_string (ctx, obj, "curve", secret_name, secret_key) != 0)
        return -1;
    uint8_t bin[32];
    if (*public_key && s_curve_key (ctx, pk, *public_key, bin) != 0)
        return -1;
    if (!*secret_key)
        return 0;
    char derived[41];
    if (!*public_key)
        return hm_cfg_fail (ctx, pk, "missing: %s is given", sk);
    if (s_curve_key (ctx, sk, *secret_key, bin) != 0)
        return -1;
    if (zmq_curve_public (derived, *secret_key) != 0 || strcmp (derived, *public_key) != 0)
        return hm_cfg_fail (ctx, sk, "is not the secret key of %s", pk);
    return 0;
}

int
hm_cfg_curve (hm_cfg_ctx_t *ctx, hm_config_t *self, const cJSON *obj)
{
    static const char *const keys[] = {"server_public_key", "server_secret_key",
                                       "client_public_key", "client_secret_key",
                                       "allowed_clients",   NULL};
    if (hm_cfg_known_keys (ctx, obj, "curve", keys) != 0)
        return -1;
    if (!zmq_has ("curve"))
        return hm_cfg_fail (ctx, "curve", "this libzmq was built without CurveZMQ");
    if (s_curve_pair (ctx, obj, "server_public_key", "server_secret_key",
                      &self->curve_server_public, &self->curve_server_secret) != 0 ||
        s_curve_pair (ctx, obj, "client_public_key", "client_secret_key",
                      &self->curve_client_public, &self->curve_client_secret) != 0)
        return -1;
    if (!self->curve_server_public)
        return hm_cfg_fail (ctx, "curve.server_public_key", "missing: every program needs it");
    if (self->curve_client_public && !self->curve_client_secret)
        return hm_cfg_fail (ctx, "curve.client_secret_key",
                            "missing: curve.client_public_key is given");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive (obj, "allowed_clients");
    if (!list || cJSON_IsNull (list))
        return 0;
    int n = cJSON_GetArraySize (list);
    if (!cJSON_IsArray (list) || n > S_CURVE_MAX_CLIENTS)
        return hm_cfg_fail (ctx, "curve.allowed_clients",
                            "must be a list of at most %d client public keys", S_CURVE_MAX_CLIENTS);
    self->curve_allowed = calloc ((size_t)n + 1, sizeof *self->curve_allowed);
    if (!self->curve_allowed)
        return hm_cfg_fail (ctx, "curve.allowed_clients", "out of memory");
    const cJSON *item;
    cJSON_ArrayForEach (item, list)
    {
        char key[64];
        uint8_t bin[32];
        snprintf (key, sizeof key, "curve.allowed_clients[%zu]", self->curve_allowed_count);
        if (!cJSON_IsString (item))
            return hm_cfg_fail (ctx, key, "must be a string");
        if (s_curve_key (ctx, key, item->valuestring, bin) != 0)
            return -1;
        if (!(self->curve_allowed[self->curve_allowed_count++] = strdup (item->valuestring)))
            return hm_cfg_fail (ctx, key, "out of memory");
    }
    return 0;
}
