/*  The file sink's backend, driven without sockets: a batch becomes one
    file named after the batch under the expanded path, with the events
    encoded (and gzip'd), a redelivery replaces it, and a disk problem is
    RETRY with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "delivery_decode.h"
#include "encode.h"
#include "file_backend.h"
#include "gz.h"
#include "hm_test_bytes.h"
#include "pathname.h"

#define SEAL_TIME 1700000123u /* 2023-11-14 22:15:23 UTC */

typedef struct {
    char dir[64];            /* temporary directory of this test */
    char file_path[256];     /* the route's file_path template */
    char dead_letter[256];   /* the route's dead-letter file */
    hm_route_config_t route; /* route under test */
    Hm__Event events[3];     /* the batch's events */
    Hm__Event *ptrs[3];      /* ... as the Delivery points to them */
    uint8_t *packed;         /* the Delivery packed, as the router sends it */
    hm_arena_t arena;        /* batch's route and spans */
    hm_batch_t batch;        /* the batch, decoded lazily as the sink does */
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *f = calloc (1, sizeof *f);
    snprintf (f->dir, sizeof f->dir, "/tmp/hm_fs_XXXXXX");
    if (!mkdtemp (f->dir))
        return -1;
    snprintf (f->file_path, sizeof f->file_path, "%s/events/{year}/{month}/{date}/", f->dir);
    snprintf (f->dead_letter, sizeof f->dead_letter, "%s/dead-letter/archive.jsonl", f->dir);
    f->route.name = "archive";
    f->route.sink = "file";
    f->route.file_path = f->file_path;
    f->route.dead_letter = f->dead_letter;
    f->route.format = HM_FORMAT_JSON;
    static const char *names[] = {"open", "click \"<b>\"", "close\001tab"};
    for (int i = 0; i < 3; i++) {
        Hm__Event *e = &f->events[i];
        hm__event__init (e);
        HM_SET_STR (e, device_id, "device-a");
        HM_SET_STR (e, client_id, "client-a");
        HM_SET_STR (e, session, "5f4dcc3b5aa765d61d8327deb882cf99");
        e->has_nr = 1;
        e->nr = (uint32_t)i + 1;
        e->has_env = 1;
        e->env = 11;
        HM_SET_STR (e, system_version, "14.1");
        HM_SET_STR (e, product_version, "3.2.1");
        e->has_at = 1;
        e->at = 1700000000u + (uint64_t)i;
        HM_SET_STR (e, timezone, "+01:00");
        HM_SET_STR (e, event, (char *)names[i]);
        HM_SET_STR (e, user_id, i == 1 ? "u-7" : NULL);
        e->parameters = i == 2 ? "{\"k\":\"v\"}" : "{}";
        f->ptrs[i] = e;
    }
    Hm__Delivery d = HM__DELIVERY__INIT;
    d.route = "archive";
    d.first_offset = 17;
    d.last_offset = 19;
    d.seal_time = SEAL_TIME;
    d.n_events = 3;
    d.events = f->ptrs;
    size_t len = hm__delivery__get_packed_size (&d);
    f->packed = malloc (len);
    if (!f->packed)
        return -1;
    hm__delivery__pack (&d, f->packed);
    hm_arena_init (&f->arena, 4096);
    if (hm_batch_decode (&f->arena, f->packed, len, &f->batch) != 0 || f->batch.events)
        return -1;
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *f = *state;
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", f->dir);
    int rc = system (cmd);
    hm_arena_destroy (&f->arena);
    free (f->packed);
    free (f);
    return rc == 0 ? 0 : -1;
}

static char *
s_slurp (const char *path, size_t *len)
{
    FILE *fp = fopen (path, "rb");
    if (!fp)
        return NULL;
    hm_buf_t buf;
    hm_buf_init (&buf, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread (chunk, 1, sizeof chunk, fp)) > 0)
        hm_buf_append (&buf, chunk, n);
    fclose (fp);
    hm_buf_reserve (&buf, 0);
    return hm_buf_steal (&buf, len);
}

/* Entries of dir (not . and ..); 'name' gets the last one. */
static int
s_count_entries (const char *dir, char *name, size_t cap)
{
    DIR *d = opendir (dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir (d)) != NULL) {
        if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
            continue;
        n++;
        snprintf (name, cap, "%s", de->d_name);
    }
    closedir (d);
    return n;
}

static hm_sink_status_t
s_deliver (s_fixture_t *f, hm_sink_result_t *result)
{
    char errbuf[256];
    void *backend = hm_file_backend.init (NULL, &f->route, errbuf, sizeof errbuf);
    assert_non_null (backend);
    uint32_t dead = 0;
    hm_sink_status_t status =
        hm_sink_attempt (&hm_file_backend, backend, &f->route, &f->batch, result, &dead);
    assert_int_equal (dead, 0);
    hm_file_backend.destroy (&backend);
    assert_null (backend);
    return status;
}

/* Delivers twice and checks the one file holds exactly the encoded events. */
static void
s_check_round_trip (s_fixture_t *f)
{
    hm_buf_t expected;
    hm_buf_init (&expected, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal (hm_encode (&expected, f->ptrs[i], f->route.format), 0);

    char dir[512], name[128], path[700], seen[256];
    snprintf (dir, sizeof dir, "%s/events/2023/11/2023-11-14", f->dir);
    assert_int_equal (hm_batch_name ("archive", 17, 19, SEAL_TIME, f->route.format,
                                     f->route.compress, name, sizeof name),
                      0);
    snprintf (path, sizeof path, "%s/%s", dir, name);

    hm_sink_result_t result;
    hm_sink_result_init (&result);
    for (int round = 0; round < 2; round++) {
        assert_int_equal (s_deliver (f, &result), HM_SINK_OK);
        /* Exactly one file, under the batch's name; no temporary left. */
        assert_int_equal (s_count_entries (dir, seen, sizeof seen), 1);
        assert_string_equal (seen, name);
        size_t len = 0;
        char *content = s_slurp (path, &len);
        assert_non_null (content);
        if (f->route.compress) {
            assert_true (len > 2);
            assert_int_equal ((unsigned char)content[0], 0x1f);
            assert_int_equal ((unsigned char)content[1], 0x8b);
            hm_buf_t plain;
            hm_buf_init (&plain, 0);
            assert_int_equal (hm_gunzip (content, len, &plain), 0);
            assert_int_equal (plain.len, expected.len);
            assert_memory_equal (plain.data, expected.data, expected.len);
            hm_buf_free (&plain);
        }
        else {
            assert_int_equal (len, expected.len);
            assert_memory_equal (content, expected.data, expected.len);
        }
        free (content);
    }
    hm_sink_result_free (&result);
    hm_buf_free (&expected);
}

static void
test_json_lines (void **state)
{
    s_fixture_t *f = *state;
    s_check_round_trip (f);
}

static void
test_json_lines_gzip (void **state)
{
    s_fixture_t *f = *state;
    f->route.compress = true;
    s_check_round_trip (f);
}

static void
test_csv_gzip (void **state)
{
    s_fixture_t *f = *state;
    f->route.format = HM_FORMAT_CSV;
    f->route.compress = true;
    s_check_round_trip (f);
}

static void
test_csv_plain (void **state)
{
    s_fixture_t *f = *state;
    f->route.format = HM_FORMAT_CSV;
    s_check_round_trip (f);
}

static void
test_empty_batch_writes_nothing (void **state)
{
    s_fixture_t *f = *state;
    f->batch.n_events = 0;
    hm_sink_result_t result;
    hm_sink_result_init (&result);
    assert_int_equal (s_deliver (f, &result), HM_SINK_OK);
    char events[300], seen[256];
    snprintf (events, sizeof events, "%s/events", f->dir);
    assert_int_equal (s_count_entries (events, seen, sizeof seen), -1);
    hm_sink_result_free (&result);
}

static void
test_unwritable_directory_is_retry (void **state)
{
    s_fixture_t *f = *state;
    /* Tests run as root, so permissions do not stop us: a path through a
       regular file does. */
    char afile[300];
    snprintf (afile, sizeof afile, "%s/afile", f->dir);
    FILE *fp = fopen (afile, "w");
    assert_non_null (fp);
    fclose (fp);
    snprintf (f->file_path, sizeof f->file_path, "%s/afile/x/{date}/", f->dir);

    hm_sink_result_t result;
    hm_sink_result_init (&result);
    assert_int_equal (s_deliver (f, &result), HM_SINK_RETRY);
    assert_non_null (strstr (result.reason, "afile"));
    assert_non_null (strstr (result.reason, "Not a directory"));
    assert_int_equal (result.retry_class, HM_RETRY_IO);
    /* Never dropped: nothing went to the dead-letter file. */
    char seen[256], dl[300];
    snprintf (dl, sizeof dl, "%s/dead-letter", f->dir);
    assert_int_equal (s_count_entries (dl, seen, sizeof seen), -1);

    /* Once the path is usable again, the same batch goes through. */
    snprintf (f->file_path, sizeof f->file_path, "%s/events/{year}/{month}/{date}/", f->dir);
    assert_int_equal (s_deliver (f, &result), HM_SINK_OK);
    hm_sink_result_free (&result);
}

static void
test_target_is_a_directory_is_retry (void **state)
{
    s_fixture_t *f = *state;
    /* Something in the way of the final name: rename fails, RETRY, and the
       temporary file is cleaned up. */
    char dir[512], name[128], path[700], seen[256];
    snprintf (dir, sizeof dir, "%s/events/2023/11/2023-11-14", f->dir);
    assert_int_equal (
        hm_batch_name ("archive", 17, 19, SEAL_TIME, HM_FORMAT_JSON, false, name, sizeof name), 0);
    snprintf (path, sizeof path, "%s/%s/inside", dir, name);
    char cmd[800];
    snprintf (cmd, sizeof cmd, "mkdir -p '%s'", path);
    assert_int_equal (system (cmd), 0);

    hm_sink_result_t result;
    hm_sink_result_init (&result);
    assert_int_equal (s_deliver (f, &result), HM_SINK_RETRY);
    assert_non_null (strstr (result.reason, "rename"));
    assert_int_equal (result.retry_class, HM_RETRY_IO);
    assert_int_equal (s_count_entries (dir, seen, sizeof seen), 1);
    assert_string_equal (seen, name);
    hm_sink_result_free (&result);
}

static void
test_init_rejects_empty_path (void **state)
{
    s_fixture_t *f = *state;
    f->route.file_path = "";
    char errbuf[256] = "";
    void *backend = hm_file_backend.init (NULL, &f->route, errbuf, sizeof errbuf);
    assert_null (backend);
    assert_non_null (strstr (errbuf, "file_path"));
    assert_string_equal (hm_file_backend.kind, "file");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_json_lines, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_json_lines_gzip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_csv_gzip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_csv_plain, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_empty_batch_writes_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unwritable_directory_is_retry, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_target_is_a_directory_is_retry, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_init_rejects_empty_path, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
