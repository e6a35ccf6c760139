/*  hm_test_bytes: cmocka checks for the protobuf bytes fields that carry
    the client's strings (common/event.h says why they are bytes). */
#ifndef HM_TEST_BYTES_H
#define HM_TEST_BYTES_H

#include <string.h>

#include "event.h"

/* The bytes value b holds exactly the C string s. */
#define assert_bytes_equal(b, s) assert_true (hm_bytes_eq ((b), (s), strlen (s)))
/* The bytes value b holds exactly the n bytes at s (which may hold NULs). */
#define assert_bytes_equal_n(b, s, n) assert_true (hm_bytes_eq ((b), (s), (n)))

#endif
