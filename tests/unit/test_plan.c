/*  test_plan: what a config runs (plan.c), and hamustro-ctl's config
    verbs on top of it (ctl_config.c, config_check.c): check-config with
    every kind of problem, supervisord-conf and systemd-units. */
/* cmocka needs these before it; keep clang-format from sorting them. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "config.h"
#include "config_check.h"
#include "ctl_config.h"
#include "plan.h"

/* Three routes: file, s3 (two instances), aqs. */
static const char *three_routes =
    "{\"shared_secret\":\"s\",\"ingest\":{\"port\":8111},\"router\":{\"data_dir\":\"/d\"},"
    "\"routes\":{"
    "\"archive\":{\"sink\":\"file\",\"file\":{\"file_path\":\"out/{date}/\"}},"
    "\"lake\":{\"sink\":\"s3\",\"instances\":2,\"s3\":{\"region\":\"eu-west-1\","
    "\"access_key_id\":\"A\",\"secret_access_key\":\"S\",\"bucket\":\"b\"}},"
    "\"q\":{\"sink\":\"queue\",\"aqs\":{\"account\":\"acc\",\"access_key\":\"a2V5\","
    "\"queue_name\":\"events\"}}}}";

static char path[64];

/* Writes json to a temporary file named in path. */
static const char *
s_file (const char *json)
{
    strcpy (path, "/tmp/test_plan_XXXXXX");
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, json, strlen (json)), (ssize_t)strlen (json));
    close (fd);
    return path;
}

/* Runs a verb on json; out and err get what it printed. */
static int
s_run (hm_ctl_config_verb_t verb, const char *json, hm_plan_supervisord_t opts, char **out,
       char **err)
{
    size_t out_len, err_len;
    FILE *o = open_memstream (out, &out_len);
    FILE *e = open_memstream (err, &err_len);
    int code = hm_ctl_config_run (verb, s_file (json), opts, o, e);
    fclose (o);
    fclose (e);
    unlink (path);
    return code;
}

static size_t
s_lines (const char *text)
{
    size_t n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

static void
test_sink_binaries (void **state)
{
    (void)state;
    assert_string_equal (hm_plan_sink_binary ("file"), "hamustro-file-sink");
    assert_string_equal (hm_plan_sink_binary ("s3"), "hamustro-s3-sink");
    assert_string_equal (hm_plan_sink_binary ("sns"), "hamustro-sns-sink");
    assert_string_equal (hm_plan_sink_binary ("abs"), "hamustro-blob-sink");
    assert_string_equal (hm_plan_sink_binary ("aqs"), "hamustro-queue-sink");
    assert_null (hm_plan_sink_binary ("ftp"));
    assert_null (hm_plan_sink_binary (NULL));
}

static void
test_plan_of_three_routes (void **state)
{
    (void)state;
    char err[512];
    hm_config_t *cfg = hm_config_parse (three_routes, "t.json", err, sizeof err);
    if (!cfg)
        fail_msg ("%s", err);
    hm_plan_t *plan = hm_plan_new (cfg, HM_ROLE_UNSET);
    assert_non_null (plan);
    assert_int_equal (hm_plan_size (plan), 5);
    const hm_plan_program_t *router = hm_plan_program (plan, 0);
    const hm_plan_program_t *ingest = hm_plan_program (plan, 1);
    const hm_plan_program_t *lake = hm_plan_program (plan, 3);
    assert_string_equal (router->binary, "hamustro-router");
    assert_string_equal (ingest->binary, "hamustro-ingest");
    assert_string_equal (hm_plan_program (plan, 2)->binary, "hamustro-file-sink");
    assert_string_equal (lake->binary, "hamustro-s3-sink");
    assert_string_equal (lake->name, "sink-lake");
    assert_string_equal (lake->route, "lake");
    assert_int_equal (lake->instances, 2);
    assert_string_equal (hm_plan_program (plan, 4)->binary, "hamustro-queue-sink");
    assert_null (hm_plan_program (plan, 5));
    /* Start: sinks, router, ingest; stop is the reverse. */
    assert_true (lake->priority < router->priority);
    assert_true (router->priority < ingest->priority);
    assert_int_equal (router->stopwaitsecs, 30);
    hm_plan_destroy (&plan);
    hm_plan_destroy (&plan);
    assert_null (plan);
    hm_config_destroy (&cfg);
}

static void
test_systemd_units (void **state)
{
    (void)state;
    char *out, *err;
    hm_plan_supervisord_t opts = {0};
    assert_int_equal (s_run (HM_CTL_SYSTEMD_UNITS, three_routes, opts, &out, &err), 0);
    assert_string_equal (out, "hamustro-router.service\n"
                              "hamustro-ingest.service\n"
                              "hamustro-file-sink@archive:1.service\n"
                              "hamustro-s3-sink@lake:1.service\n"
                              "hamustro-s3-sink@lake:2.service\n"
                              "hamustro-queue-sink@q:1.service\n");
    assert_string_equal (err, "");
    free (out);
    free (err);
}

static void
test_supervisord_conf (void **state)
{
    (void)state;
    char *out, *err;
    hm_plan_supervisord_t opts = {.bin_dir = "/opt/h m/bin", .directory = "/srv/100%"};
    assert_int_equal (s_run (HM_CTL_SUPERVISORD_CONF, three_routes, opts, &out, &err), 0);
    assert_string_equal (err, "");
    /* The config as an absolute path; a path with a space quoted, '%' doubled. */
    char want[512];
    snprintf (want, sizeof want,
              "[program:sink-lake]\ncommand='/opt/h m/bin/hamustro-s3-sink' --config %s "
              "--route lake:%%(process_num)d\nprocess_name=%%(program_name)s-%%(process_num)d\n"
              "numprocs=2\nnumprocs_start=1\ndirectory=/srv/100%%%%\npriority=10\n",
              path);
    if (!strstr (out, want))
        fail_msg ("no\n%s\nin\n%s", want, out);
    assert_non_null (strstr (out, "[program:router]\ncommand='/opt/h m/bin/hamustro-router' "));
    assert_non_null (strstr (out, "stopwaitsecs=30\n"));
    assert_non_null (strstr (out, "[program:ingest]\n"));
    assert_non_null (strstr (out, "[program:sink-archive]\n"));
    assert_non_null (strstr (out, "[program:sink-q]\n"));
    assert_non_null (strstr (out, "stdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n"));
    assert_null (strstr (out, "user="));
    free (out);
    free (err);

    opts = (hm_plan_supervisord_t){.bin_dir = "/b", .user = "hamustro", .log_dir = "/var/log/h"};
    assert_int_equal (s_run (HM_CTL_SUPERVISORD_CONF, three_routes, opts, &out, &err), 0);
    assert_non_null (strstr (out, "command=/b/hamustro-router --config"));
    assert_non_null (strstr (out, "user=hamustro\n"));
    assert_non_null (strstr (out, "stdout_logfile=/var/log/h/%(program_name)s.log\n"));
    assert_non_null (
        strstr (out, "stdout_logfile=/var/log/h/%(program_name)s-%(process_num)d.log\n"));
    assert_null (strstr (out, "/dev/stdout"));
    free (out);
    free (err);

    /* A line break would make a line of its own in the file. */
    opts = (hm_plan_supervisord_t){.bin_dir = "/b", .user = "x\n[program:evil]"};
    assert_int_equal (s_run (HM_CTL_SUPERVISORD_CONF, three_routes, opts, &out, &err), 1);
    assert_string_equal (out, "");
    assert_non_null (strstr (err, "line break"));
    free (out);
    free (err);
}

static void
test_check_config_prints_the_plan (void **state)
{
    (void)state;
    char *out, *err;
    hm_plan_supervisord_t opts = {0};
    assert_int_equal (s_run (HM_CTL_CHECK_CONFIG, three_routes, opts, &out, &err), 0);
    assert_string_equal (err, "");
    assert_non_null (strstr (out, "listener: http://127.0.0.1:8111"));
    assert_non_null (strstr (out, "data_dir /d"));
    assert_non_null (strstr (out, "route lake: sink s3, hamustro-s3-sink x 2, endpoint "
                                  "ipc://var/run/route-lake.ipc"));
    assert_non_null (strstr (out, "route archive: sink file, hamustro-file-sink x 1"));
    assert_non_null (strstr (out, "config ok\n"));
    free (out);
    free (err);
}

/* Every problem, one line each, "FILE: KEY: REASON"; nothing on stdout. */
static void
s_expect_problems (hm_ctl_config_verb_t verb, const char *json, const char *const *keys)
{
    char *out, *err;
    hm_plan_supervisord_t opts = {.bin_dir = "/b"};
    assert_int_equal (s_run (verb, json, opts, &out, &err), 1);
    assert_string_equal (out, "");
    size_t n = 0;
    for (; keys[n]; n++) {
        char want[256];
        snprintf (want, sizeof want, "%s: %s: ", path, keys[n]);
        if (!strstr (err, want))
            fail_msg ("no \"%s\" in\n%s", want, err);
    }
    /* check-config ends with a count. */
    size_t lines = s_lines (err);
    if (verb == HM_CTL_CHECK_CONFIG) {
        char count[64];
        snprintf (count, sizeof count, "%zu problem%s found\n", n, n == 1 ? "" : "s");
        if (!strstr (err, count))
            fail_msg ("no \"%s\" in\n%s", count, err);
        lines--;
    }
    if (lines != n)
        fail_msg ("%zu lines, want %zu:\n%s", lines, n, err);
    free (out);
    free (err);
}

static void
test_check_config_collects_problems (void **state)
{
    (void)state;
    unsetenv ("AWS_ACCESS_KEY_ID");
    unsetenv ("AWS_SECRET_ACCESS_KEY");
    unsetenv ("AZURE_STORAGE_CONNECTION_STRING");
    /* A config-level error, and the first problem of each bad route. */
    const char *json =
        "{\"shared_secret\":\"s\",\"ingest\":{\"port\":0,\"threads\":0},\"routes\":{"
        "\"a\":{\"sink\":\"file\",\"instances\":0,\"max_events\":0,\"file\":{\"file_path\":\"x\"}},"
        "\"ok\":{\"sink\":\"file\",\"file\":{\"file_path\":\"y\"}},"
        "\"b\":{\"sink\":\"ftp\"},"
        "\"c\":{\"sink\":\"file\",\"max_bytes\":1073741824,\"file\":{\"file_path\":\"x\"}}}}";
    const char *keys[] = {"ingest.port", "routes.a.max_events", "routes.b.sink",
                          "routes.c.max_bytes", NULL};
    s_expect_problems (HM_CTL_CHECK_CONFIG, json, keys);
    s_expect_problems (HM_CTL_SUPERVISORD_CONF, json, keys);
    s_expect_problems (HM_CTL_SYSTEMD_UNITS, json, keys);

    /* The sink backends' own checks, one per route. */
    json = "{\"shared_secret\":\"s\",\"routes\":{"
           "\"s3\":{\"sink\":\"s3\",\"s3\":{\"region\":\"eu-west-1\",\"bucket\":\"b\"}},"
           "\"sns\":{\"sink\":\"sns\",\"sns\":{\"region\":\"eu-west-1\",\"access_key_id\":\"A\","
           "\"secret_access_key\":\"S\"}},"
           "\"blob\":{\"sink\":\"abs\",\"abs\":{\"account\":\"acc\",\"access_key\":\"a2V5\","
           "\"container\":\"No_Such\"}},"
           "\"queue\":{\"sink\":\"aqs\",\"aqs\":{\"account\":\"acc\",\"access_key\":\"a2V5\","
           "\"queue_name\":\"q\"}},"
           "\"file\":{\"sink\":\"file\",\"endpoint\":\"inproc://x\",\"file\":{\"file_path\":\"x\"}}"
           "}}";
    const char *backend_keys[] = {"routes.s3.s3.access_key_id", "routes.sns.sns.topic_arn",
                                  "routes.blob.abs.container", "routes.queue.aqs.queue_name",
                                  "routes.file.endpoint", NULL};
    s_expect_problems (HM_CTL_CHECK_CONFIG, json, backend_keys);

    /* The file sink's: a directory template longer than a path. */
    char *long_path = malloc (6000);
    assert_non_null (long_path);
    int n = snprintf (long_path, 6000, "{\"shared_secret\":\"s\",\"routes\":{\"f\":{\"sink\":"
                                       "\"file\",\"file\":{\"file_path\":\"");
    memset (long_path + n, 'a', 5000);
    strcpy (long_path + n + 5000, "\"}}}}");
    const char *file_keys[] = {"routes.f", NULL};
    s_expect_problems (HM_CTL_CHECK_CONFIG, long_path, file_keys);
    free (long_path);

    /* The router's own endpoints. */
    json = "{\"shared_secret\":\"s\",\"router\":{\"endpoint\":\"tcp://host\","
           "\"control\":\"tcp://*:99999\",\"tap\":\"ipc://\"},\"dialect\":\"file\","
           "\"file\":{\"file_path\":\"x\"}}";
    const char *endpoint_keys[] = {"router.endpoint", "router.tap", "router.control", NULL};
    s_expect_problems (HM_CTL_CHECK_CONFIG, json, endpoint_keys);

    /* Curve: the router needs the server's secret, the others a client pair. */
    char pub[41], sec[41];
    assert_int_equal (zmq_curve_keypair (pub, sec), 0);
    char curve[512];
    snprintf (curve, sizeof curve,
              "{\"shared_secret\":\"s\",\"curve\":{\"server_public_key\":\"%s\"},"
              "\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}",
              pub);
    const char *curve_keys[] = {"curve.server_secret_key", "curve.client_public_key", NULL};
    s_expect_problems (HM_CTL_CHECK_CONFIG, curve, curve_keys);

    /* The file itself: its syntax. */
    const char *syntax_keys[] = {"(syntax)", NULL};
    s_expect_problems (HM_CTL_CHECK_CONFIG, "{\"shared_secret\":", syntax_keys);
}

/* A host's role: what runs (plan, units, supervisord) and what is checked. */
static void
test_roles (void **state)
{
    (void)state;
    char err[512];
    hm_config_t *cfg = hm_config_parse (three_routes, "t.json", err, sizeof err);
    if (!cfg)
        fail_msg ("%s", err);
    assert_int_equal (cfg->role, HM_ROLE_ALL);
    hm_plan_t *plan = hm_plan_new (cfg, HM_ROLE_EDGE);
    assert_int_equal (hm_plan_size (plan), 2);
    assert_string_equal (hm_plan_program (plan, 0)->name, "router");
    assert_string_equal (hm_plan_program (plan, 1)->name, "ingest");
    hm_plan_destroy (&plan);
    plan = hm_plan_new (cfg, HM_ROLE_SINKS);
    assert_int_equal (hm_plan_size (plan), 3);
    assert_string_equal (hm_plan_program (plan, 0)->name, "sink-archive");
    assert_string_equal (hm_plan_program (plan, 2)->name, "sink-q");
    hm_plan_destroy (&plan);
    hm_config_destroy (&cfg);

    /* The config's "role", which --role overrides. */
    char json[1024];
    snprintf (json, sizeof json, "{\"role\":\"sinks\",%s", three_routes + 1);
    char *out, *errs;
    hm_plan_supervisord_t opts = {0};
    assert_int_equal (s_run (HM_CTL_SYSTEMD_UNITS, json, opts, &out, &errs), 0);
    assert_string_equal (out, "hamustro-file-sink@archive:1.service\n"
                              "hamustro-s3-sink@lake:1.service\n"
                              "hamustro-s3-sink@lake:2.service\n"
                              "hamustro-queue-sink@q:1.service\n");
    free (out);
    free (errs);
    opts.role = HM_ROLE_EDGE;
    assert_int_equal (s_run (HM_CTL_SYSTEMD_UNITS, json, opts, &out, &errs), 0);
    assert_string_equal (out, "hamustro-router.service\nhamustro-ingest.service\n");
    free (out);
    free (errs);
    opts.role = HM_ROLE_ALL;
    assert_int_equal (s_run (HM_CTL_SYSTEMD_UNITS, json, opts, &out, &errs), 0);
    assert_int_equal (s_lines (out), 6);
    free (out);
    free (errs);

    /* supervisord: a sink host's sections, names prefixed; a prefix
       supervisord would misread is refused, nothing written. */
    opts = (hm_plan_supervisord_t){.bin_dir = "/b", .prefix = "edge1-", .role = HM_ROLE_SINKS};
    assert_int_equal (s_run (HM_CTL_SUPERVISORD_CONF, three_routes, opts, &out, &errs), 0);
    assert_string_equal (errs, "");
    assert_non_null (strstr (out, "(role sinks): do not edit;\n"));
    assert_non_null (strstr (out, "\n[program:edge1-sink-archive]\n"));
    assert_non_null (strstr (out, "\n[program:edge1-sink-lake]\n"));
    assert_non_null (strstr (out, "\n[program:edge1-sink-q]\n"));
    assert_null (strstr (out, "router"));
    assert_null (strstr (out, "ingest"));
    free (out);
    free (errs);
    opts.prefix = "edge:1-";
    assert_int_equal (s_run (HM_CTL_SUPERVISORD_CONF, three_routes, opts, &out, &errs), 1);
    assert_string_equal (out, "");
    assert_non_null (strstr (errs, "prefix 'edge:1-'"));
    free (out);
    free (errs);

    /* check-config: a sink host's config has no server secret and no TLS
       files (a problem for role all, none for sinks); an edge's needs no
       sink credentials. */
    unsetenv ("AWS_ACCESS_KEY_ID");
    unsetenv ("AWS_SECRET_ACCESS_KEY");
    char pub[41], sec[41], cpub[41], csec[41];
    assert_int_equal (zmq_curve_keypair (pub, sec), 0);
    assert_int_equal (zmq_curve_keypair (cpub, csec), 0);
    /* (Z85 keys may hold '%': they go in as arguments, never as a format.) */
    const char *sinks_host = "{\"shared_secret\":\"s\",%s\"ingest\":{\"tls_cert\":"
                             "\"/nonexistent/c.pem\",\"tls_key\":\"/nonexistent/k.pem\"},"
                             "\"curve\":{\"server_public_key\":\"%s\",\"client_public_key\":"
                             "\"%s\",\"client_secret_key\":\"%s\"},\"routes\":{\"a\":{"
                             "\"sink\":\"file\",\"endpoint\":\"tcp://10.0.0.1:5601\","
                             "\"file\":{\"file_path\":\"x\"}}}}";
    snprintf (json, sizeof json, sinks_host, "", pub, cpub, csec);
    const char *all_keys[] = {"curve.server_secret_key", "ingest.tls_cert", NULL};
    s_expect_problems (HM_CTL_CHECK_CONFIG, json, all_keys);
    opts = (hm_plan_supervisord_t){.role = HM_ROLE_SINKS};
    assert_int_equal (s_run (HM_CTL_CHECK_CONFIG, json, opts, &out, &errs), 0);
    assert_string_equal (errs, "");
    assert_non_null (strstr (out, "role: sinks"));
    assert_null (strstr (out, "listener:"));
    assert_non_null (strstr (out, "config ok\n"));
    free (out);
    free (errs);
    snprintf (json, sizeof json, sinks_host, "\"role\":\"sinks\",", pub, cpub, csec);
    opts.role = HM_ROLE_UNSET;
    assert_int_equal (s_run (HM_CTL_CHECK_CONFIG, json, opts, &out, &errs), 0);
    free (out);
    free (errs);

    const char *edge = "{\"shared_secret\":\"s\",\"role\":\"edge\",\"routes\":{\"lake\":{"
                       "\"sink\":\"s3\",\"s3\":{\"region\":\"eu-west-1\",\"bucket\":\"b\"}}}}";
    assert_int_equal (s_run (HM_CTL_CHECK_CONFIG, edge, opts, &out, &errs), 0);
    assert_string_equal (errs, "");
    free (out);
    free (errs);
    const char *lake_keys[] = {"routes.lake.s3.access_key_id", NULL};
    opts.role = HM_ROLE_SINKS;
    assert_int_equal (s_run (HM_CTL_CHECK_CONFIG, edge, opts, &out, &errs), 1);
    free (out);
    free (errs);
    /* Without an override the config's edge role is checked; with none, all. */
    s_expect_problems (HM_CTL_CHECK_CONFIG,
                       "{\"shared_secret\":\"s\",\"routes\":{\"lake\":{\"sink\":\"s3\","
                       "\"s3\":{\"region\":\"eu-west-1\",\"bucket\":\"b\"}}}}",
                       lake_keys);

    /* A role the config module does not know. */
    const char *role_keys[] = {"role", NULL};
    s_expect_problems (HM_CTL_CHECK_CONFIG,
                       "{\"shared_secret\":\"s\",\"role\":\"both\",\"dialect\":\"file\",\"file\":{"
                       "\"file_path\":\"x\"}}",
                       role_keys);
}

/* Problems outside the key table: the file, the environment. */
static void
test_check_config_file_and_environment (void **state)
{
    (void)state;
    char *out, *err;
    size_t out_len, err_len;
    hm_plan_supervisord_t opts = {.bin_dir = "/b"};
    FILE *o = open_memstream (&out, &out_len);
    FILE *e = open_memstream (&err, &err_len);
    assert_int_equal (hm_ctl_config_run (HM_CTL_CHECK_CONFIG, "/nonexistent/h.json", opts, o, e),
                      1);
    fclose (o);
    fclose (e);
    assert_string_equal (out, "");
    assert_non_null (strstr (err, "/nonexistent/h.json: (file): cannot open"));
    free (out);
    free (err);

    /* No FILE: $HAMUSTRO_CONFIG, as every program. */
    setenv ("HAMUSTRO_CONFIG", s_file (three_routes), 1);
    o = open_memstream (&out, &out_len);
    e = open_memstream (&err, &err_len);
    assert_int_equal (hm_ctl_config_run (HM_CTL_SYSTEMD_UNITS, NULL, opts, o, e), 0);
    fclose (o);
    fclose (e);
    assert_non_null (strstr (out, "hamustro-s3-sink@lake:2.service\n"));
    free (out);
    free (err);

    setenv ("HAMUSTRO_PORT", "http", 1);
    o = open_memstream (&out, &out_len);
    e = open_memstream (&err, &err_len);
    assert_int_equal (hm_ctl_config_run (HM_CTL_CHECK_CONFIG, NULL, opts, o, e), 1);
    fclose (o);
    fclose (e);
    unsetenv ("HAMUSTRO_PORT");
    unsetenv ("HAMUSTRO_CONFIG");
    unlink (path);
    assert_non_null (strstr (err, "environment: HAMUSTRO_PORT: \"http\" is not a port"));
    free (out);
    free (err);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sink_binaries),
        cmocka_unit_test (test_plan_of_three_routes),
        cmocka_unit_test (test_systemd_units),
        cmocka_unit_test (test_supervisord_conf),
        cmocka_unit_test (test_check_config_prints_the_plan),
        cmocka_unit_test (test_check_config_collects_problems),
        cmocka_unit_test (test_check_config_file_and_environment),
        cmocka_unit_test (test_roles),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
