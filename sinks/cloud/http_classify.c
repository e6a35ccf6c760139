/*  http_classify: which answers of AWS and Azure are worth another try.

    The delivery contract (ARCHITECTURE §4) retries without a limit
    whatever can pass and dead-letters only what can never be accepted.
    So the default leans to RETRY: a request is DROPped only when the
    service said, with a 4xx that is not about credentials, throttling or a
    missing resource, that this request itself is wrong. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "http_client.h"

/* Codes that mean "slow down" or "try again", whatever the status (AWS's
   query APIs send Throttling with 400). */
static const char *s_transient_codes[] = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
    "RequestThrottledException", "TooManyRequestsException", "SlowDown", "SlowDownRead",
    "SlowDownWrite", "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
    "ProvisionedThroughputExceededException", "PriorRequestNotComplete", "ServerBusy",
    "ServiceUnavailable", "InternalError", "InternalFailure", "InternalServerError",
    "OperationTimedOut", "RequestTimeout", "RequestTimeoutException", "KMSThrottling",
    "KMSThrottlingException", "EC2ThrottledException", "TransactionInProgressException",
    "OperationAborted",
    /* The body arrived damaged (S3 checks Content-MD5 / x-amz-content-sha256). */
    "BadDigest", "XAmzContentSHA256Mismatch", "Md5Mismatch"};

/* Of those, the ones that say "slow down" (the throttled retry class). */
static const char *s_throttle_codes[] = {"Throttling",
                                         "ThrottlingException",
                                         "ThrottledException",
                                         "RequestThrottled",
                                         "RequestThrottledException",
                                         "TooManyRequestsException",
                                         "SlowDown",
                                         "SlowDownRead",
                                         "SlowDownWrite",
                                         "RequestLimitExceeded",
                                         "BandwidthLimitExceeded",
                                         "LimitExceededException",
                                         "ProvisionedThroughputExceededException",
                                         "ServerBusy",
                                         "KMSThrottling",
                                         "KMSThrottlingException",
                                         "EC2ThrottledException"};

/* ... and the ones that say "too slow" (the timeout class). */
static const char *s_timeout_codes[] = {"OperationTimedOut", "RequestTimeout",
                                        "RequestTimeoutException"};

/* Codes that a fixed credential, clock, key or policy cures. */
static const char *s_auth_codes[] = {"SignatureDoesNotMatch",
                                     "InvalidAccessKeyId",
                                     "InvalidClientTokenId",
                                     "ExpiredToken",
                                     "ExpiredTokenException",
                                     "TokenRefreshRequired",
                                     "RequestExpired",
                                     "RequestTimeTooSkewed",
                                     "IncompleteSignature",
                                     "MissingAuthenticationToken",
                                     "InvalidToken",
                                     "AuthFailure",
                                     "AccessDenied",
                                     "AccessDeniedException",
                                     "AuthorizationError",
                                     "AuthenticationFailed",
                                     "AuthorizationFailure",
                                     "AuthorizationPermissionMismatch",
                                     "InvalidAuthenticationInfo",
                                     "NoAuthenticationInformation",
                                     "InsufficientAccountPermissions",
                                     "KMSAccessDenied",
                                     "KMSAccessDeniedException",
                                     "KMSDisabled",
                                     "KMSDisabledException",
                                     "KMSInvalidState",
                                     "KMSInvalidStateException",
                                     "KMSNotFound",
                                     "KMSNotFoundException",
                                     "KMSOptInRequired"};

static bool
s_in (const char *code, const char **list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp (code, list[i]) == 0)
            return true;
    return false;
}

const char *
hm_http_verdict_name (hm_http_verdict_t verdict)
{
    return verdict == HM_HTTP_OK ? "OK" : verdict == HM_HTTP_RETRY ? "RETRY" : "DROP";
}

hm_http_verdict_t
hm_http_classify (long status, int curl_code, const char *error_code, char *reason,
                  size_t reason_len)
{
    const char *code = error_code ? error_code : "";
    char dummy[1];
    if (!reason || reason_len == 0) {
        reason = dummy;
        reason_len = sizeof dummy;
    }
    if (curl_code != CURLE_OK) {
        /* Timeouts, refused or reset connections, DNS, TLS: the network
           or the service is away for now. */
        snprintf (reason, reason_len, "curl: %s", curl_easy_strerror ((CURLcode)curl_code));
        return HM_HTTP_RETRY;
    }
    snprintf (reason, reason_len, "HTTP %ld%s%s", status, *code ? " " : "", code);
    if (status >= 200 && status <= 299)
        return HM_HTTP_OK;
    if (s_in (code, s_transient_codes, sizeof s_transient_codes / sizeof *s_transient_codes) ||
        s_in (code, s_auth_codes, sizeof s_auth_codes / sizeof *s_auth_codes))
        return HM_HTTP_RETRY;
    switch (status) {
    case 401: /* credentials */
    case 403: /* credentials, clock skew, policy */
    case 404: /* a bucket, container, queue or topic an operator may create */
    case 408: /* request timeout */
    case 409: /* resource being created or deleted */
    case 410:
    case 412: /* a lease or condition on the resource */
    case 429: /* too many requests */
        return HM_HTTP_RETRY;
    default:
        break;
    }
    if (status >= 400 && status <= 499)
        return HM_HTTP_DROP;
    return HM_HTTP_RETRY; /* 5xx, and 1xx/3xx we did not ask for */
}

/* The text between <tag> and </tag>, or false. */
static bool
s_xml_text (const char *body, size_t len, const char *tag, char *out, size_t outlen)
{
    char open[32], close[32];
    snprintf (open, sizeof open, "<%s>", tag);
    snprintf (close, sizeof close, "</%s>", tag);
    const char *start = memmem (body, len, open, strlen (open));
    if (!start)
        return false;
    start += strlen (open);
    const char *end = memmem (start, len - (size_t)(start - body), close, strlen (close));
    if (!end)
        return false;
    snprintf (out, outlen, "%.*s", (int)(end - start), start);
    return true;
}

static bool
s_json_string (const cJSON *obj, const char *key, char *out, size_t outlen)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, key);
    if (!cJSON_IsString (item) || !item->valuestring || !*item->valuestring)
        return false;
    snprintf (out, outlen, "%s", item->valuestring);
    return true;
}

/* JSON bodies: {"__type":"com.amazon...#ThrottlingException","message":..}
   or {"code":..,"message":..} or Azure's {"odata.error":{"code":..}}. */
static void
s_json_fields (const char *body, size_t len, char *code, size_t codelen, char *msg, size_t msglen)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
        i++;
    if (i == len || body[i] != '{')
        return;
    cJSON *root = cJSON_ParseWithLength (body, len);
    if (!root)
        return;
    const cJSON *obj = root;
    const cJSON *inner = cJSON_GetObjectItemCaseSensitive (root, "odata.error");
    if (!cJSON_IsObject (inner))
        inner = cJSON_GetObjectItemCaseSensitive (root, "error");
    if (cJSON_IsObject (inner))
        obj = inner;
    if (code && !*code &&
        (s_json_string (obj, "__type", code, codelen) ||
         s_json_string (obj, "code", code, codelen) ||
         s_json_string (obj, "Code", code, codelen))) {
        char *hash = strrchr (code, '#');
        if (hash)
            memmove (code, hash + 1, strlen (hash + 1) + 1);
    }
    if (msg && !*msg && !s_json_string (obj, "message", msg, msglen))
        s_json_string (obj, "Message", msg, msglen);
    cJSON_Delete (root);
}

void
hm_http_error_code (const hm_http_response_t *response, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *value = hm_http_response_header (response, "x-ms-error-code");
    if (value && *value) {
        snprintf (out, outlen, "%s", value);
        return;
    }
    value = hm_http_response_header (response, "x-amzn-ErrorType");
    if (value && *value) {
        snprintf (out, outlen, "%.*s", (int)strcspn (value, ":"), value);
        return;
    }
    if (!response->body || !response->body_len)
        return;
    if (!s_xml_text (response->body, response->body_len, "Code", out, outlen))
        s_json_fields (response->body, response->body_len, out, outlen, NULL, 0);
}

hm_http_verdict_t
hm_http_classify_response (const hm_http_response_t *response, char *reason, size_t reason_len)
{
    char code[128] = "", msg[256] = "";
    if (response->curl_code == CURLE_OK) {
        hm_http_error_code (response, code, sizeof code);
        if (response->body && response->body_len &&
            !s_xml_text (response->body, response->body_len, "Message", msg, sizeof msg))
            s_json_fields (response->body, response->body_len, NULL, 0, msg, sizeof msg);
    }
    hm_http_verdict_t verdict =
        hm_http_classify (response->status, response->curl_code, code, reason, reason_len);
    if (response->curl_code != CURLE_OK && response->error && *response->error)
        snprintf (reason, reason_len, "curl: %s", response->error);
    else if (verdict != HM_HTTP_OK && *msg && reason && reason_len) {
        size_t used = strlen (reason);
        snprintf (reason + used, reason_len - used, ": %s", msg);
    }
    /* The reason ends up in one log line: no line breaks (Azure's messages
       carry "\nRequestId:...\nTime:..."). */
    for (char *c = reason; c && reason_len && *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' ';
    return verdict;
}

#define S_IN(code, list) s_in ((code), (list), sizeof (list) / sizeof *(list))

hm_retry_class_t
hm_http_retry_class (long status, int curl_code, const char *error_code)
{
    const char *code = error_code ? error_code : "";
    if (curl_code == CURLE_OPERATION_TIMEDOUT)
        return HM_RETRY_TIMEOUT;
    if (curl_code != CURLE_OK)
        return HM_RETRY_CONNECT; /* refused, reset, DNS, TLS, nothing answered */
    if (status == 408 || S_IN (code, s_timeout_codes))
        return HM_RETRY_TIMEOUT;
    if (status == 429 || S_IN (code, s_throttle_codes))
        return HM_RETRY_THROTTLED;
    if (status == 401 || status == 403 || S_IN (code, s_auth_codes))
        return HM_RETRY_AUTH;
    if (status >= 400 && status <= 499)
        return HM_RETRY_HTTP_4XX;
    if (status >= 500 && status <= 599)
        return HM_RETRY_HTTP_5XX;
    return HM_RETRY_OTHER;
}

hm_retry_class_t
hm_http_retry_class_response (const hm_http_response_t *response)
{
    char code[128] = "";
    if (response->curl_code == CURLE_OK)
        hm_http_error_code (response, code, sizeof code);
    return hm_http_retry_class (response->status, response->curl_code, code);
}
