/*  test_collection_json: JSON bodies as jsonpb accepted them: both field
    spellings, enums by name or number, 64-bit integers exact, and a clear
    error naming the field for everything else. Every test runs twice: with
    malloc (hamustro-push's parse) and into an arena (the ingest's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "collection_json.h"
#include "hm_test_bytes.h"

/* The group's decoder: NULL for malloc, else this arena. */
static hm_arena_t *s_arena;

static Collection *
s_parse_n (const char *json, size_t len, char *err, size_t errlen)
{
    return s_arena ? hm_collection_from_json_in (s_arena, json, len, err, errlen)
                   : hm_collection_from_json (json, len, err, errlen);
}

/* Releases what a parse took, as its user does. */
static void
s_free (Collection *c)
{
    if (s_arena)
        hm_arena_reset (s_arena);
    else
        hm_collection_json_free (c);
}

static const char *s_snake =
    "{\"device_id\":\"a73b1c37-2c24-4786-af7a-16de88fbe23a\","
    "\"client_id\":\"bce44f67b2661fd445d469b525b04f68\","
    "\"session\":\"0e350a2cc31648bb24ba61eb14be337c\","
    "\"system_version\":\"10.10\",\"product_version\":\"1.1.2\",\"env\":\"DEVELOPMENT\","
    "\"device_make\":\"Apple\",\"device_model\":\"MacBookPro11,1\",\"system\":\"OSX\","
    "\"system_language\":\"hu\",\"browser\":\"Safari\",\"browser_version\":\"9\","
    "\"product_git_hash\":\"abc123\",\"product_language\":\"en\","
    "\"payloads\":[{\"at\":1454514088,\"event\":\"open\",\"nr\":1,\"timezone\":\"+01:00\","
    "\"tenant_id\":\"t1\",\"user_id\":\"u1\",\"ip\":\"1.2.3.4\",\"country\":\"HU\","
    "\"parameters\":[{\"name\":\"a\",\"value\":\"1\"},{\"name\":\"b\",\"value\":\"\\u00e1\"}]},"
    "{\"at\":\"18446744073709551615\",\"event\":\"close\",\"nr\":\"4294967295\"}]}";

static const char *s_camel =
    "{\"deviceId\":\"a73b1c37-2c24-4786-af7a-16de88fbe23a\","
    "\"clientId\":\"bce44f67b2661fd445d469b525b04f68\","
    "\"session\":\"0e350a2cc31648bb24ba61eb14be337c\","
    "\"systemVersion\":\"10.10\",\"productVersion\":\"1.1.2\",\"env\":11,"
    "\"deviceMake\":\"Apple\",\"deviceModel\":\"MacBookPro11,1\",\"system\":\"OSX\","
    "\"systemLanguage\":\"hu\",\"browser\":\"Safari\",\"browserVersion\":\"9\","
    "\"productGitHash\":\"abc123\",\"productLanguage\":\"en\","
    "\"payloads\":[{\"at\":\"1454514088\",\"event\":\"open\",\"nr\":\"1\",\"timezone\":\"+01:00\","
    "\"tenantId\":\"t1\",\"userId\":\"u1\",\"ip\":\"1.2.3.4\",\"country\":\"HU\","
    "\"parameters\":[{\"name\":\"a\",\"value\":\"1\"},{\"name\":\"b\",\"value\":\"á\"}]},"
    "{\"at\":18446744073709551615,\"event\":\"close\",\"nr\":4294967295}]}";

static Collection *
s_parse (const char *json, char *err, size_t errlen)
{
    return s_parse_n (json, strlen (json), err, errlen);
}

static void
s_assert_full (const Collection *c)
{
    assert_non_null (c);
    assert_bytes_equal (c->device_id, "a73b1c37-2c24-4786-af7a-16de88fbe23a");
    assert_bytes_equal (c->client_id, "bce44f67b2661fd445d469b525b04f68");
    assert_bytes_equal (c->session, "0e350a2cc31648bb24ba61eb14be337c");
    assert_bytes_equal (c->system_version, "10.10");
    assert_bytes_equal (c->product_version, "1.1.2");
    assert_int_equal (c->env, ENVIRONMENT__DEVELOPMENT);
    assert_bytes_equal (c->device_make, "Apple");
    assert_bytes_equal (c->device_model, "MacBookPro11,1");
    assert_bytes_equal (c->system, "OSX");
    assert_bytes_equal (c->system_language, "hu");
    assert_bytes_equal (c->browser, "Safari");
    assert_bytes_equal (c->browser_version, "9");
    assert_bytes_equal (c->product_git_hash, "abc123");
    assert_bytes_equal (c->product_language, "en");
    assert_int_equal (c->n_payloads, 2);
    const Payload *p = c->payloads[0];
    assert_true (p->at == 1454514088u);
    assert_bytes_equal (p->event, "open");
    assert_int_equal (p->nr, 1);
    assert_bytes_equal (p->timezone, "+01:00");
    assert_bytes_equal (p->tenant_id, "t1");
    assert_bytes_equal (p->user_id, "u1");
    assert_bytes_equal (p->ip, "1.2.3.4");
    assert_bytes_equal (p->country, "HU");
    assert_int_equal (p->n_parameters, 2);
    assert_bytes_equal (p->parameters[0]->name, "a");
    assert_bytes_equal (p->parameters[0]->value, "1");
    assert_bytes_equal (p->parameters[1]->name, "b");
    assert_bytes_equal (p->parameters[1]->value, "á");
    p = c->payloads[1];
    assert_true (p->at == UINT64_MAX);
    assert_int_equal (p->nr, 4294967295u);
    assert_false (p->has_timezone);
    assert_int_equal (p->n_parameters, 0);
}

static void
test_snake_and_camel (void **state)
{
    (void)state;
    char err[256] = "";
    Collection *c = s_parse (s_snake, err, sizeof err);
    if (!c)
        print_error ("%s\n", err);
    s_assert_full (c);
    assert_int_equal (hm_collection_check (c, err, sizeof err), 0);
    s_free (c);

    c = s_parse (s_camel, err, sizeof err);
    if (!c)
        print_error ("%s\n", err);
    s_assert_full (c);
    s_free (c);
    hm_collection_json_free (NULL);
}

/* Which member a field takes when a body names it more than once: the
   last under the camelCase name, else the last under the original name
   (jsonpb's rule), whatever the order. */
static void
test_name_precedence (void **state)
{
    (void)state;
    const char *head = "{\"client_id\":\"c\",\"session\":\"s\",\"system_version\":\"1\","
                       "\"product_version\":\"2\",\"env\":1,";
    struct {
        const char *members, *want;
    } cases[] = {
        {"\"device_id\":\"orig\",\"deviceId\":\"camel\"", "camel"},
        {"\"deviceId\":\"camel\",\"device_id\":\"orig\"", "camel"},
        {"\"deviceId\":\"first\",\"deviceId\":\"second\",\"device_id\":\"o\"", "second"},
        {"\"device_id\":\"first\",\"device_id\":\"second\"", "second"},
        {"\"device_id\":\"orig\",\"deviceId\":null", NULL}, /* camel null: absent */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[512], err[256] = "";
        snprintf (body, sizeof body, "%s%s}", head, cases[i].members);
        Collection *c = s_parse_n (body, strlen (body), err, sizeof err);
        if (!cases[i].want) {
            assert_null (c);
            assert_string_equal (err, "device_id: required field missing");
            continue;
        }
        if (!c)
            fail_msg ("%s: %s", body, err);
        assert_bytes_equal (c->device_id, cases[i].want);
        s_free (c);
    }
}

/* A body from s_snake with one change, made with cJSON. */
typedef void (*s_edit_fn) (cJSON *root, const char *arg);

static Collection *
s_parse_edited (s_edit_fn edit, const char *arg, char *err, size_t errlen)
{
    cJSON *root = cJSON_Parse (s_snake);
    assert_non_null (root);
    edit (root, arg);
    char *text = cJSON_PrintUnformatted (root);
    cJSON_Delete (root);
    Collection *c = s_parse (text, err, errlen);
    free (text);
    return c;
}

/* arg: "field", "payloads.field" (second payload) or "parameters.field"
   (second parameter of the first payload). */
static cJSON *
s_target (cJSON *root, const char *arg, const char **field)
{
    if (strncmp (arg, "payloads.", 9) == 0) {
        *field = arg + 9;
        return cJSON_GetArrayItem (cJSON_GetObjectItemCaseSensitive (root, "payloads"), 1);
    }
    if (strncmp (arg, "parameters.", 11) == 0) {
        *field = arg + 11;
        cJSON *p0 = cJSON_GetArrayItem (cJSON_GetObjectItemCaseSensitive (root, "payloads"), 0);
        return cJSON_GetArrayItem (cJSON_GetObjectItemCaseSensitive (p0, "parameters"), 1);
    }
    *field = arg;
    return root;
}

static void
s_remove (cJSON *root, const char *arg)
{
    const char *field;
    cJSON *obj = s_target (root, arg, &field);
    cJSON_DeleteItemFromObjectCaseSensitive (obj, field);
}

static void
s_nullify (cJSON *root, const char *arg)
{
    const char *field;
    cJSON *obj = s_target (root, arg, &field);
    if (cJSON_GetObjectItemCaseSensitive (obj, field))
        cJSON_ReplaceItemInObjectCaseSensitive (obj, field, cJSON_CreateNull ());
    else
        cJSON_AddNullToObject (obj, field);
}

static void
test_required_missing (void **state)
{
    (void)state;
    struct {
        const char *edit;
        const char *error;
    } cases[] = {
        {"device_id", "device_id: required field missing"},
        {"client_id", "client_id: required field missing"},
        {"session", "session: required field missing"},
        {"system_version", "system_version: required field missing"},
        {"product_version", "product_version: required field missing"},
        {"env", "env: required field missing"},
        {"payloads.at", "payloads[1].at: required field missing"},
        {"payloads.event", "payloads[1].event: required field missing"},
        {"payloads.nr", "payloads[1].nr: required field missing"},
        {"parameters.name", "payloads[0].parameters[1].name: required field missing"},
        {"parameters.value", "payloads[0].parameters[1].value: required field missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        Collection *c = s_parse_edited (s_remove, cases[i].edit, err, sizeof err);
        assert_null (c);
        assert_string_equal (err, cases[i].error);
        /* null is absent, as in jsonpb */
        err[0] = '\0';
        c = s_parse_edited (s_nullify, cases[i].edit, err, sizeof err);
        assert_null (c);
        assert_string_equal (err, cases[i].error);
    }
    /* optional ones may go */
    const char *optional[] = {"device_make", "payloads", "payloads.timezone", "system"};
    for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++) {
        char err[256] = "";
        Collection *c = s_parse_edited (s_remove, optional[i], err, sizeof err);
        assert_non_null (c);
        s_free (c);
        c = s_parse_edited (s_nullify, optional[i], err, sizeof err);
        assert_non_null (c);
        s_free (c);
    }
}

/* Replaces (or adds) one member with raw JSON text ("field=json"). */
static void
s_set_raw (cJSON *root, const char *arg)
{
    char field_path[256];
    const char *eq = strchr (arg, '=');
    snprintf (field_path, sizeof field_path, "%.*s", (int)(eq - arg), arg);
    const char *field;
    cJSON *obj = s_target (root, field_path, &field);
    /* raw: printed back exactly, so big numbers keep their digits */
    cJSON *value = cJSON_CreateRaw (eq + 1);
    assert_non_null (value);
    if (cJSON_GetObjectItemCaseSensitive (obj, field))
        cJSON_ReplaceItemInObjectCaseSensitive (obj, field, value);
    else
        cJSON_AddItemToObject (obj, field, value);
}

static void
s_assert_error (const char *edit, const char *error)
{
    char err[256] = "";
    Collection *c = s_parse_edited (s_set_raw, edit, err, sizeof err);
    if (c || strstr (err, error) != err)
        print_error ("%s: got \"%s\", expected \"%s...\"\n", edit, err, error);
    assert_null (c);
    assert_true (strstr (err, error) == err);
}

static Collection *
s_parse_ok (const char *edit)
{
    char err[256] = "";
    Collection *c = s_parse_edited (s_set_raw, edit, err, sizeof err);
    if (!c)
        print_error ("%s: %s\n", edit, err);
    assert_non_null (c);
    return c;
}

static void
test_enum (void **state)
{
    (void)state;
    Collection *c = s_parse_ok ("env=\"PRODUCTION\"");
    assert_int_equal (c->env, ENVIRONMENT__PRODUCTION);
    s_free (c);
    c = s_parse_ok ("env=7");
    assert_int_equal (c->env, ENVIRONMENT__NIGHTLY);
    s_free (c);

    s_assert_error ("env=\"11\"", "env: unknown value");
    s_assert_error ("env=12", "env: unknown value");
    s_assert_error ("env=-1", "env: unknown value");
    s_assert_error ("env=11.5", "env: unknown value");
    s_assert_error ("env=\"development\"", "env: unknown value");
    s_assert_error ("env=true", "env: expected an enum name or number");
}

static void
test_integers (void **state)
{
    (void)state;
    Collection *c = s_parse_ok ("payloads.at=18446744073709551615");
    assert_true (c->payloads[1]->at == UINT64_MAX);
    s_free (c);
    /* beyond a double's 53 bits: exact */
    c = s_parse_ok ("payloads.at=9007199254740993");
    assert_true (c->payloads[1]->at == 9007199254740993u);
    s_free (c);
    c = s_parse_ok ("payloads.at=\"0\"");
    assert_true (c->payloads[1]->at == 0);
    s_free (c);
    c = s_parse_ok ("payloads.nr=0");
    assert_int_equal (c->payloads[1]->nr, 0);
    s_free (c);

    s_assert_error ("payloads.at=18446744073709551616", "payloads[1].at: value out of range");
    s_assert_error ("payloads.at=\"18446744073709551616\"", "payloads[1].at: value out of range");
    s_assert_error ("payloads.nr=4294967296", "payloads[1].nr: value out of range");
    s_assert_error ("payloads.nr=\"4294967296\"", "payloads[1].nr: value out of range");
    s_assert_error ("payloads.at=-1", "payloads[1].at: expected a non-negative integer");
    s_assert_error ("payloads.at=\"-1\"", "payloads[1].at: expected a non-negative integer");
    s_assert_error ("payloads.at=1.5", "payloads[1].at: expected a non-negative integer");
    s_assert_error ("payloads.at=1.0", "payloads[1].at: expected a non-negative integer");
    s_assert_error ("payloads.at=1e3", "payloads[1].at: expected a non-negative integer");
    s_assert_error ("payloads.at=\" 12\"", "payloads[1].at: expected a non-negative integer");
    s_assert_error ("payloads.at=\"\"", "payloads[1].at: expected an integer");
    s_assert_error ("payloads.at=true", "payloads[1].at: expected an integer");
    s_assert_error ("payloads.nr=[1]", "payloads[1].nr: expected an integer");
}

static void
test_wrong_types (void **state)
{
    (void)state;
    s_assert_error ("device_id=5", "device_id: expected a string");
    s_assert_error ("browser=false", "browser: expected a string");
    s_assert_error ("payloads.event={}", "payloads[1].event: expected a string");
    s_assert_error ("parameters.value=1", "payloads[0].parameters[1].value: expected a string");
    s_assert_error ("payloads={}", "payloads: expected an array");
    s_assert_error ("payloads=[1]", "payloads[0]: expected an object");
    s_assert_error ("payloads.parameters=\"a=b\"", "payloads[1].parameters: expected an array");
    s_assert_error ("payloads.parameters=[null]", "payloads[1].parameters[0]: expected an object");
}

static void
test_unknown_and_both_names (void **state)
{
    (void)state;
    s_assert_error ("foo=1", "foo: unknown field");
    s_assert_error ("payloads.Event=\"x\"", "payloads[1].Event: unknown field");
    s_assert_error ("parameters.n=\"x\"", "payloads[0].parameters[1].n: unknown field");
    s_assert_error ("device_Id=\"x\"", "device_Id: unknown field");
    /* A client's member name reaches the ingest's log through the reason,
       and so does a quoted value: their control bytes are escaped, so it
       stays one line (fuzz_request's corpus/request/json-name-newline,
       json-value-newline). */
    s_assert_error ("a\r\nb\x7f=1", "a\\x0d\\x0ab\\x7f: unknown field");
    s_assert_error ("payloads.x\ty=1", "payloads[1].x\\x09y: unknown field");
    /* A long name is quoted up to 64 bytes, so the reason stays whole and
       short (fuzz_collection's corpus/collection/json-name-like-why-cut). */
    char name[200 + 3], want[64 + 32];
    memset (name, 'n', 200);
    strcpy (name + 200, "=1");
    memset (want, 'n', 64);
    strcpy (want + 64, "...: unknown field");
    s_assert_error (name, want);
    s_assert_error ("payloads.at=\"1\\r\\n2\"",
                    "payloads[1].at: expected a non-negative integer, got \"1\\x0d\\x0a2\"");

    /* both spellings: camelCase wins, as in jsonpb */
    Collection *c = s_parse_ok ("deviceId=\"camel\"");
    assert_bytes_equal (c->device_id, "camel");
    s_free (c);
    c = s_parse_ok ("payloads.userId=\"camel\"");
    assert_bytes_equal (c->payloads[1]->user_id, "camel");
    s_free (c);
}

static void
s_assert_body_error (const char *json, size_t len, const char *error)
{
    char err[256] = "";
    Collection *c = s_parse_n (json, len, err, sizeof err);
    if (c || strstr (err, error) != err)
        print_error ("%.*s: got \"%s\"\n", (int)len, json, err);
    assert_null (c);
    assert_true (strstr (err, error) == err);
}

static void
test_malformed (void **state)
{
    (void)state;
    s_assert_body_error ("", 0, "body: malformed JSON");
    s_assert_body_error ("{", 1, "body: malformed JSON");
    s_assert_body_error ("{\"device_id\":}", 14, "body: malformed JSON");
    s_assert_body_error ("{\"a\":1,}", 8, "body: malformed JSON");
    s_assert_body_error ("[]", 2, "body: expected a JSON object");
    s_assert_body_error ("null", 4, "body: expected a JSON object");
    s_assert_body_error ("\"x\"", 3, "body: expected a JSON object");
    s_assert_body_error ("{} {}", 5, "body: unexpected data");
    s_assert_body_error ("{}\0{}", 5, "body: unexpected data");
    /* the length is what counts, not a NUL */
    size_t len = strlen (s_snake);
    s_assert_body_error (s_snake, len - 1, "body: malformed JSON");

    /* an empty object is valid JSON but misses the first required field */
    s_assert_body_error ("{}", 2, "device_id: required field missing");
    /* trailing white space is fine, and no payloads is fine */
    char err[256];
    char *body = malloc (len + 8);
    memcpy (body, s_snake, len);
    memcpy (body + len, " \r\n\t XX", 7); /* XX is past len */
    Collection *c = s_parse_n (body, len + 5, err, sizeof err);
    assert_non_null (c);
    s_free (c);
    free (body);
    /* a NULL error buffer is allowed */
    assert_null (s_parse_n ("{", 1, NULL, 0));
}

static void
test_no_payloads (void **state)
{
    (void)state;
    char err[256];
    Collection *c = s_parse_edited (s_set_raw, "payloads=[]", err, sizeof err);
    assert_non_null (c);
    assert_int_equal (c->n_payloads, 0);
    s_free (c);
}

static void
test_check (void **state)
{
    (void)state;
    char err[256];
    Collection *c = s_parse (s_snake, err, sizeof err);
    assert_non_null (c);
    assert_int_equal (hm_collection_check (c, err, sizeof err), 0);

    c->env = (Environment)99;
    assert_int_equal (hm_collection_check (c, err, sizeof err), -1);
    assert_string_equal (err, "env: unknown value");
    c->env = ENVIRONMENT__BETA;

    /* Parameters (payloads[0] has two) and a hole in the payload list. */
    /* (A missing required string is protobuf-c's to refuse on unpack,
       and the JSON decoder's: as bytes, it cannot be seen here.) */
    Parameter *q = c->payloads[0]->parameters[1];
    c->payloads[0]->parameters[1] = NULL;
    assert_int_equal (hm_collection_check (c, err, sizeof err), -1);
    assert_string_equal (err, "payloads[0].parameters[1]: missing");
    c->payloads[0]->parameters[1] = q;
    Payload *p = c->payloads[1];
    c->payloads[1] = NULL;
    assert_int_equal (hm_collection_check (c, err, sizeof err), -1);
    assert_string_equal (err, "payloads[1]: missing");
    c->payloads[1] = p;
    assert_int_equal (hm_collection_check (c, err, sizeof err), 0);

    /* what protobuf-c decodes passes too */
    size_t len = collection__get_packed_size (c);
    uint8_t *buf = malloc (len);
    collection__pack (c, buf);
    Collection *d = collection__unpack (NULL, len, buf);
    assert_non_null (d);
    assert_int_equal (hm_collection_check (d, err, sizeof err), 0);
    assert_true (d->payloads[1]->at == UINT64_MAX);
    collection__free_unpacked (d, NULL);
    free (buf);
    s_free (c);
}

/* Issue 19: "\u0000" in a JSON string is a NUL byte inside the value, and
   the value goes on after it (cJSON alone would end the string there). */
#define CTL "ctl\0\1\x1f\x7f"
#define J "\"ctl\\u0000\\u0001\\u001f\\u007f\"" /* the DEL escaped */
#define JR "\"ctl\\u0000\\u0001\\u001F\x7f\""   /* the DEL raw */

static void
test_nul_whole (void **state)
{
    (void)state;
    const char *body =
        "{\"device_id\":" J ",\"clientId\":" JR ",\"session\":" J ",\"system_version\":" JR
        ",\"productVersion\":" J ",\"env\":\"BETA\",\"device_make\":" JR ",\"deviceModel\":" J
        ",\"system\":" JR ",\"system_language\":" J ",\"browser\":" JR ",\"browserVersion\":" J
        ",\"product_git_hash\":" JR ",\"productLanguage\":" J ",\"payloads\":[{\"at\":1,"
        "\"event\":" J ",\"nr\":1,\"timezone\":" JR ",\"tenantId\":" J ",\"user_id\":" JR
        ",\"ip\":" J ",\"country\":" JR ",\"parameters\":[{\"name\":" J ",\"value\":" JR
        "},{\"name\":\"\\u0000\",\"value\":\"\\ud83d\\ude00\\u0000\\\"\\\\/\"}]}]}";
    char err[256] = "";
    Collection *c = s_parse (body, err, sizeof err);
    if (!c)
        fail_msg ("%s", err);
    const ProtobufCBinaryData *all[] = {
        &c->device_id,
        &c->client_id,
        &c->session,
        &c->system_version,
        &c->product_version,
        &c->device_make,
        &c->device_model,
        &c->system,
        &c->system_language,
        &c->browser,
        &c->browser_version,
        &c->product_git_hash,
        &c->product_language,
        &c->payloads[0]->event,
        &c->payloads[0]->timezone,
        &c->payloads[0]->tenant_id,
        &c->payloads[0]->user_id,
        &c->payloads[0]->ip,
        &c->payloads[0]->country,
        &c->payloads[0]->parameters[0]->name,
        &c->payloads[0]->parameters[0]->value,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!hm_bytes_eq (*all[i], CTL, 7))
            fail_msg ("string %zu: %zu bytes, not the 7 of \"ctl\\0\\1\\x1f\\x7f\"", i,
                      all[i]->len);
    }
    assert_true (c->has_device_make && c->payloads[0]->has_country);
    /* One NUL alone; a surrogate pair, a NUL, the simple escapes after it. */
    assert_bytes_equal_n (c->payloads[0]->parameters[1]->name, "\0", 1);
    assert_bytes_equal_n (c->payloads[0]->parameters[1]->value, "\xf0\x9f\x98\x80\0\"\\/", 8);
    s_free (c);
}

/* Where a NUL cannot be carried, the request is refused with the field,
   never read as the part before the NUL. */
static void
test_nul_refused (void **state)
{
    (void)state;
    s_assert_error ("payloads.at=\"1\\u00002\"",
                    "payloads[1].at: expected a non-negative integer, got a string holding a NUL");
    s_assert_error ("payloads.nr=\"\\u0000\"", "payloads[1].nr: expected a non-negative integer");
    s_assert_error ("env=\"BETA\\u0000\"", "env: unknown value");
    s_assert_error ("env=\"BETA\\u0000x\"", "env: unknown value");
    /* cJSON reads a bad hex digit as \u0000; Go refused it. */
    s_assert_error ("device_id=\"a\\u00G0b\"", "device_id: invalid escape in string");
    s_assert_error ("payloads.event=\"\\u12G4\"", "payloads[1].event: invalid escape");
    const char *key = "{\"device_id\\u0000x\":\"a\"}";
    s_assert_body_error (key, strlen (key), "body: a field name holds a NUL byte");
    key = "{\"payloads\":[{\"event\0\":\"a\"}]}"; /* a raw NUL in the name */
    s_assert_body_error (key, 29, "body: a field name holds a NUL byte");
    /* Through an edit, and a raw NUL byte inside a value (cJSON takes raw
       control bytes, as it always did here): both are kept whole. */
    Collection *c = s_parse_ok ("device_model=\"x\\u0000y\"");
    assert_bytes_equal_n (c->device_model, "x\0y", 3);
    s_free (c);
    size_t len = strlen (s_snake);
    char *raw = malloc (len);
    memcpy (raw, s_snake, len);
    char *apple = strstr (raw, "Apple");
    apple[2] = '\0';
    char err[256] = "";
    c = s_parse_n (raw, len, err, sizeof err);
    if (!c)
        fail_msg ("%s", err);
    assert_bytes_equal_n (c->device_make, "Ap\0le", 5);
    s_free (c);
    free (raw);
}

/* A body denser in values than json_doc's first guess (one per 16 bytes)
   grows its list of spans: every value must still be read from its own
   text. 300 parameters of one-byte names and values: 600 values in about
   8 KB, where the guess was ~530. */
static void
test_dense_values (void **state)
{
    (void)state;
    enum { N = 300 };
    char *body = malloc (64 * N + 1024);
    assert_non_null (body);
    size_t n =
        (size_t)sprintf (body, "{\"deviceId\":\"d\",\"clientId\":\"c\",\"session\":\"s\","
                               "\"systemVersion\":\"1\",\"productVersion\":\"2\",\"env\":11,"
                               "\"payloads\":[{\"at\":1,\"event\":\"e\",\"nr\":1,\"parameters\":[");
    for (int i = 0; i < N; i++)
        n += (size_t)sprintf (body + n, "%s{\"name\":\"%c\",\"value\":\"%c\"}", i ? "," : "",
                              'a' + i % 26, 'A' + (i * 7) % 26);
    n += (size_t)sprintf (body + n, "]}]}");
    char err[256] = "";
    Collection *c = s_parse_n (body, n, err, sizeof err);
    if (!c)
        fail_msg ("%s", err);
    assert_int_equal (c->n_payloads, 1);
    assert_int_equal (c->payloads[0]->n_parameters, N);
    for (int i = 0; i < N; i++) {
        const char name[2] = {(char)('a' + i % 26), 0}, value[2] = {(char)('A' + (i * 7) % 26), 0};
        assert_bytes_equal (c->payloads[0]->parameters[i]->name, name);
        assert_bytes_equal (c->payloads[0]->parameters[i]->value, value);
    }
    s_free (c);
    free (body);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_snake_and_camel),
        cmocka_unit_test (test_name_precedence),
        cmocka_unit_test (test_required_missing),
        cmocka_unit_test (test_enum),
        cmocka_unit_test (test_integers),
        cmocka_unit_test (test_wrong_types),
        cmocka_unit_test (test_unknown_and_both_names),
        cmocka_unit_test (test_malformed),
        cmocka_unit_test (test_no_payloads),
        cmocka_unit_test (test_check),
        cmocka_unit_test (test_nul_whole),
        cmocka_unit_test (test_nul_refused),
        cmocka_unit_test (test_dense_values),
    };
    int failed = cmocka_run_group_tests_name ("malloc", tests, NULL, NULL);
    hm_arena_t arena;
    hm_arena_init (&arena, 4096); /* small: the tests' bodies cross blocks */
    s_arena = &arena;
    failed += cmocka_run_group_tests_name ("arena", tests, NULL, NULL);
    hm_arena_destroy (&arena);
    return failed;
}
