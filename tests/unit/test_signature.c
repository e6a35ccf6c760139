/*  test_signature: the original Hamustro's signature and session id, on
    the vectors from its own test suite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "payload.pb-c.h"
#include "signature.h"

static const char *s_body = "something";
static const char *s_time = "1454514088";
static const char *s_secret = "ultrasafesecret";
static const char *s_expected = "DAfTAP+9T/K/N08k+nwRTWNpfacimS8DJcQG1I4+Moo=";

static void
test_signature_vector (void **state)
{
    (void)state;
    char sig[45];
    hm_signature (s_body, strlen (s_body), s_time, s_secret, sig);
    assert_string_equal (sig, s_expected);
}

static void
test_signature_ok (void **state)
{
    (void)state;
    size_t len = strlen (s_body);
    assert_true (hm_signature_ok (s_body, len, s_time, s_secret, s_expected));
    /* any change to body, time, secret or signature fails */
    assert_false (hm_signature_ok ("somethinG", len, s_time, s_secret, s_expected));
    assert_false (hm_signature_ok (s_body, len, "1454514089", s_secret, s_expected));
    assert_false (hm_signature_ok (s_body, len, s_time, "ultrasafesecreT", s_expected));
    assert_false (hm_signature_ok (s_body, len, s_time, s_secret,
                                   "DAfTAP+9T/K/N08k+nwRTWNpfacimS8DJcQG1I4+Moo"));
    assert_false (hm_signature_ok (s_body, len, s_time, s_secret,
                                   "EAfTAP+9T/K/N08k+nwRTWNpfacimS8DJcQG1I4+Moo="));
    assert_false (hm_signature_ok (s_body, len, s_time, s_secret, ""));
    assert_false (hm_signature_ok (s_body, len, NULL, s_secret, s_expected));
    assert_false (hm_signature_ok (s_body, len, s_time, s_secret, NULL));
}

static void
test_signature_long_inputs (void **state)
{
    (void)state;
    /* time and secret longer than the stack buffer take the heap path and
       still agree with themselves */
    char secret[600];
    memset (secret, 's', sizeof secret - 1);
    secret[sizeof secret - 1] = '\0';
    char sig[45];
    hm_signature (s_body, strlen (s_body), s_time, secret, sig);
    assert_int_equal (strlen (sig), 44);
    assert_true (hm_signature_ok (s_body, strlen (s_body), s_time, secret, sig));
    assert_false (hm_signature_ok (s_body, strlen (s_body), s_time, s_secret, sig));
}

static void
test_session_vector (void **state)
{
    (void)state;
    char session[33];
    hm_session ("a73b1c37-2c24-4786-af7a-16de88fbe23a", "bce44f67b2661fd445d469b525b04f68", "10.10",
                "1.1.2", ENVIRONMENT__DEVELOPMENT, session);
    assert_string_equal (session, "0e350a2cc31648bb24ba61eb14be337c");

    /* env is part of it, as its number */
    hm_session ("a73b1c37-2c24-4786-af7a-16de88fbe23a", "bce44f67b2661fd445d469b525b04f68", "10.10",
                "1.1.2", ENVIRONMENT__PRODUCTION, session);
    assert_string_not_equal (session, "0e350a2cc31648bb24ba61eb14be337c");
    /* md5("a:b:c:d:0") */
    hm_session ("a", "b", "c", "d", 0, session);
    assert_string_equal (session, "8aee36fc3277e694d1bef1a4b1748e57");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_signature_vector),
        cmocka_unit_test (test_signature_ok),
        cmocka_unit_test (test_signature_long_inputs),
        cmocka_unit_test (test_session_vector),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
