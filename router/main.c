/*  hamustro-router: appends every batch of events to a durable log and
    delivers the log to each route's sinks at the route's own pace
    (ARCHITECTURE sections 1, 3 and 4). This file is only the command
    line, the config and the signals; the daemon is server.c. */
#include "config.h"
#include "curve.h"
#include "hm_log.h"
#include "hm_signal.h"
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t s_stop = 0;

static void
s_on_signal (int sig)
{
    (void)sig;
    /* The first signal stops cleanly (with the shutdown drain); a second
       one cuts the drain short. */
    s_stop = s_stop ? 2 : 1;
}

/* router.cpu_latency_us: asks the kernel (PM QoS, /dev/cpu_dma_latency) to
   keep every CPU out of sleep states slower to leave than `us` for as long
   as the returned fd stays open. Each group commit is a chain of wake-ups
   (a request arriving, the fdatasync completing, the answer leaving); on a
   VM whose idle CPUs halt, each costs tens of microseconds (bench/RESULTS.md).
   The price: idle CPUs poll instead of sleeping, machine-wide. A hint, not a
   requirement: without the device or the right to write it, the router
   says so and runs as it would without the key. */
static int
s_hold_cpu_latency (uint32_t us)
{
    if (us == HM_CPU_LATENCY_OFF)
        return -1;
    const char *dev = "/dev/cpu_dma_latency";
    int fd = open (dev, O_WRONLY | O_CLOEXEC);
    int32_t value = (int32_t)us;
    if (fd < 0 || write (fd, &value, sizeof value) != (ssize_t)sizeof value) {
        hm_warn ("router.cpu_latency_us: cannot hold %s at %u us: %s; CPU sleep states stay as "
                 "they are",
                 dev, us, strerror (errno));
        if (fd >= 0)
            close (fd);
        return -1;
    }
    hm_info ("holding CPU wake-up latency at %u us (%s) while running", us, dev);
    return fd;
}

static void
s_usage (FILE *out)
{
    fprintf (out, "Usage: hamustro-router [--config FILE]\n"
                  "Appends batches of events to a durable log (fsync'd, group commit) and\n"
                  "delivers them to the sinks of every configured route.\n"
                  "\n"
                  "  --config FILE  the pipeline's JSON config (default: $HAMUSTRO_CONFIG,\n"
                  "                 else the embedded default)\n"
                  "  --help         this text\n"
                  "  --version      the version\n");
}

int
main (int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0) {
            s_usage (stdout);
            return 0;
        }
        if (strcmp (argv[i], "--version") == 0) {
            printf ("hamustro-router %s\n", HAMUSTRO_VERSION);
            return 0;
        }
        if (strcmp (argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strncmp (argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        else {
            fprintf (stderr, "hamustro-router: unknown argument \"%s\"\n", argv[i]);
            s_usage (stderr);
            return 2;
        }
    }
    if (!path) {
        const char *env = getenv ("HAMUSTRO_CONFIG");
        if (env && *env)
            path = env;
    }
    hm_log_init ("router", HM_LOG_INFO);
    /* Sealed batches, ZeroMQ's messages and the decode arena's blocks are
       MB-sized buffers made and freed all the time. From the heap they are
       reused; mmap'd (a 128 KiB threshold, as before 2026-12-07) every one
       came back as fresh zeroed pages: ~120k page faults/s, a third of the
       router's CPU at 100 connections. Measured (bench/RESULTS.md, issue
       17): router CPU 2.4-2.7 -> 1.7-1.8 s per million events, peak RSS
       ~21-27 -> ~30-35 MiB. Two arenas are plenty for our threads. */
    mallopt (M_MMAP_THRESHOLD, 32 << 20);
    mallopt (M_TRIM_THRESHOLD, 64 << 20);
    mallopt (M_ARENA_MAX, 2);
    char err[1024];
    hm_config_t *cfg = hm_config_load (path, err, sizeof err);
    if (!cfg || hm_curve_check (cfg, true, err, sizeof err) != 0) {
        fprintf (stderr, "hamustro-router: %s\n", err);
        hm_config_destroy (&cfg);
        return 1;
    }
    if (hm_log_open_file (cfg->logfile) != 0) {
        fprintf (stderr, "hamustro-router: cannot open logfile %s\n", cfg->logfile);
        hm_config_destroy (&cfg);
        return 1;
    }
    hm_signal_on_stop (s_on_signal);

    server_t *server = server_new (cfg, err, sizeof err);
    if (!server) {
        hm_error ("cannot start: %s", err);
        fprintf (stderr, "hamustro-router: %s\n", err);
        hm_config_destroy (&cfg);
        return 1;
    }
    int qos = s_hold_cpu_latency (cfg->cpu_latency_us);
    int rc = server_run (server, &s_stop);
    server_destroy (&server);
    if (qos >= 0)
        close (qos); /* the kernel drops the request with the fd */
    hm_config_destroy (&cfg);
    return rc == 0 ? 0 : 1;
}
