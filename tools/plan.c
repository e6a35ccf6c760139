/*  plan: see plan.h. The only place that knows which program serves
    which sink kind and how the programs are ordered: sinks start first
    (the router hands them its backlog), then the router, then the ingest
    (which needs the router); stopping goes the other way, so the ingest
    stops taking requests first and the sinks store the router's last
    batches. */
#include "plan.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct hm_plan {
    const hm_config_t *cfg;      /* what the plan is of (not owned) */
    hm_role_t role;              /* what of it runs here: ALL, EDGE or SINKS */
    hm_plan_program_t *programs; /* router, ingest, then one per route */
    size_t size;                 /* entries in programs */
    char **names;                /* owned "sink-ROUTE" names, one per route */
};

/* Start order (supervisord priority) and stop grace, as deploy/supervisord.conf had. */
#define S_SINK_PRIORITY 10
#define S_ROUTER_PRIORITY 20
#define S_INGEST_PRIORITY 30
#define S_SINK_STOPWAIT 15
#define S_ROUTER_STOPWAIT 30 /* it seals and hands out every open batch */
#define S_INGEST_STOPWAIT 15

static const struct {
    const char *kind;   /* the route's "sink" */
    const char *binary; /* the program serving it */
} s_sinks[] = {
    {"file", "hamustro-file-sink"}, {"s3", "hamustro-s3-sink"},     {"sns", "hamustro-sns-sink"},
    {"abs", "hamustro-blob-sink"},  {"aqs", "hamustro-queue-sink"},
};

const char *
hm_plan_sink_binary (const char *kind)
{
    for (size_t i = 0; kind && i < sizeof s_sinks / sizeof s_sinks[0]; i++)
        if (strcmp (s_sinks[i].kind, kind) == 0)
            return s_sinks[i].binary;
    return NULL;
}

hm_plan_t *
hm_plan_new (const hm_config_t *cfg, hm_role_t role)
{
    if (role == HM_ROLE_UNSET)
        role = cfg->role;
    bool edge = role != HM_ROLE_SINKS, sinks = role != HM_ROLE_EDGE;
    hm_plan_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->role = role;
    self->programs = calloc (cfg->route_count + 2, sizeof *self->programs);
    self->names = calloc (cfg->route_count + 1, sizeof *self->names);
    if (!self->programs || !self->names) {
        hm_plan_destroy (&self);
        return NULL;
    }
    if (edge) {
        self->programs[self->size++] = (hm_plan_program_t){
            "router", "hamustro-router", NULL, NULL, NULL, 1, S_ROUTER_PRIORITY, S_ROUTER_STOPWAIT};
        self->programs[self->size++] = (hm_plan_program_t){
            "ingest", "hamustro-ingest", NULL, NULL, NULL, 1, S_INGEST_PRIORITY, S_INGEST_STOPWAIT};
    }
    for (size_t i = 0; sinks && i < cfg->route_count; i++) {
        const hm_route_config_t *route = &cfg->routes[i];
        size_t len = strlen ("sink-") + strlen (route->name) + 1;
        char *name = malloc (len);
        if (!name) {
            hm_plan_destroy (&self);
            return NULL;
        }
        snprintf (name, len, "sink-%s", route->name);
        self->names[i] = name;
        /* A loaded config only has kinds hm_plan_sink_binary knows. */
        self->programs[self->size++] = (hm_plan_program_t){name,
                                                           hm_plan_sink_binary (route->sink),
                                                           route->name,
                                                           route->sink,
                                                           route->endpoint,
                                                           route->instances,
                                                           S_SINK_PRIORITY,
                                                           S_SINK_STOPWAIT};
    }
    return self;
}

void
hm_plan_destroy (hm_plan_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hm_plan_t *self = *self_p;
    for (size_t i = 0; self->names && i < self->cfg->route_count; i++)
        free (self->names[i]);
    free (self->names);
    free (self->programs);
    free (self);
    *self_p = NULL;
}

size_t
hm_plan_size (const hm_plan_t *self)
{
    return self->size;
}

const hm_plan_program_t *
hm_plan_program (const hm_plan_t *self, size_t index)
{
    return index < self->size ? &self->programs[index] : NULL;
}

void
hm_plan_print (const hm_plan_t *self, FILE *out)
{
    const hm_config_t *cfg = self->cfg;
    fprintf (out, "config: %s\n", cfg->path);
    fprintf (out, "role: %s (%s)\n", hm_role_name (self->role),
             self->role == HM_ROLE_EDGE    ? "router and ingest"
             : self->role == HM_ROLE_SINKS ? "the routes' sinks"
                                           : "router, ingest and the routes' sinks");
    if (self->role != HM_ROLE_SINKS) {
        fprintf (out, "listener: %s://%s:%u (hamustro-ingest)\n", cfg->tls_cert ? "https" : "http",
                 cfg->host, (unsigned)cfg->port);
        fprintf (out, "router: %s (hamustro-router), data_dir %s\n", cfg->router_endpoint,
                 cfg->data_dir);
    }
    for (size_t i = 0; i < self->size; i++) {
        const hm_plan_program_t *p = &self->programs[i];
        if (!p->route)
            continue;
        const hm_route_config_t *route = hm_config_route (cfg, p->route);
        fprintf (out, "route %s: sink %s, %s x %" PRIu32 ", endpoint %s", p->route, p->kind,
                 p->binary, p->instances, p->endpoint);
        if (route->file_path)
            fprintf (out, ", files %s", route->file_path);
        fprintf (out, "\n");
    }
}

void
hm_plan_print_units (const hm_plan_t *self, FILE *out)
{
    for (size_t i = 0; i < self->size; i++) {
        const hm_plan_program_t *p = &self->programs[i];
        if (!p->route)
            fprintf (out, "%s.service\n", p->binary);
        else
            for (uint32_t n = 1; n <= p->instances; n++)
                fprintf (out, "%s@%s:%" PRIu32 ".service\n", p->binary, p->route, n);
    }
}

/* A value in a supervisord file: '%' starts an expansion there, so it is
   doubled. As a command argument (shell-split by supervisord) anything
   beyond a plain path is single-quoted. */
static void
s_put (FILE *out, const char *value, bool arg)
{
    bool plain = *value != '\0';
    for (const char *c = value; *c && plain; c++)
        plain = strchr ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/.,:@+=-%",
                        *c) != NULL;
    bool quote = arg && !plain;
    if (quote)
        fputc ('\'', out);
    for (const char *c = value; *c; c++) {
        if (*c == '%')
            fputs ("%%", out);
        else if (quote && *c == '\'')
            fputs ("'\"'\"'", out);
        else
            fputc (*c, out);
    }
    if (quote)
        fputc ('\'', out);
}

static bool
s_one_line (const char *value)
{
    return !value || !strpbrk (value, "\r\n");
}

int
hm_plan_print_supervisord (const hm_plan_t *self, const hm_plan_supervisord_t *opts, FILE *out)
{
    /* A line break in a path would start a line of its own in the file. */
    if (!s_one_line (opts->bin_dir) || !s_one_line (opts->directory) ||
        !s_one_line (opts->config_path) || !s_one_line (opts->user) ||
        !s_one_line (opts->log_dir) || !s_one_line (self->cfg->path))
        return -1;
    const char *prefix = opts->prefix ? opts->prefix : "";
    if (strspn (prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
        strlen (prefix))
        return -1;
    fprintf (out, "; Generated by hamustro-ctl supervisord-conf from ");
    s_put (out, self->cfg->path, false);
    fprintf (out, " (role %s): do not edit;\n", hm_role_name (self->role));
    fprintf (out, "; change the config (a route's \"instances\") and generate it again.\n");
    for (size_t i = 0; i < self->size; i++) {
        const hm_plan_program_t *p = &self->programs[i];
        fprintf (out, "\n[program:%s%s]\ncommand=", prefix, p->name);
        char binary[4096];
        snprintf (binary, sizeof binary, "%s/%s", opts->bin_dir, p->binary);
        s_put (out, binary, true);
        if (opts->config_path) {
            fprintf (out, " --config ");
            s_put (out, opts->config_path, true);
        }
        if (p->route)
            fprintf (out, " --route %s:%%(process_num)d", p->route);
        fprintf (out, "\n");
        if (p->route)
            /* Process numbers from 1, as the units' instances: sink-ROUTE-N. */
            fprintf (out,
                     "process_name=%%(program_name)s-%%(process_num)d\n"
                     "numprocs=%" PRIu32 "\nnumprocs_start=1\n",
                     p->instances);
        if (opts->directory) {
            fprintf (out, "directory=");
            s_put (out, opts->directory, false);
            fprintf (out, "\n");
        }
        if (opts->user) {
            fprintf (out, "user=");
            s_put (out, opts->user, false);
            fprintf (out, "\n");
        }
        fprintf (out,
                 "priority=%d\nautorestart=true\nstartsecs=1\nstopsignal=TERM\nstopwaitsecs=%d\n"
                 "redirect_stderr=true\n",
                 p->priority, p->stopwaitsecs);
        if (opts->log_dir) {
            fprintf (out, "stdout_logfile=");
            s_put (out, opts->log_dir, false);
            fprintf (out, "/%s\n",
                     p->route ? "%(program_name)s-%(process_num)d.log" : "%(program_name)s.log");
        }
        else
            fprintf (out, "stdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n");
    }
    return 0;
}
