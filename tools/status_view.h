/*  status_view: the router's status JSON (control.c) as a table for
    people, what `hamustro-ctl status` prints by default (--json prints the
    JSON itself). Per route: committed offset, lag (log records durable but
    not yet acknowledged), age of the oldest one when the router reports it,
    delivery rate, batches sealed and in flight, sink instances; then each
    instance's state, the log's use against its bound, the newest warnings
    and errors of the router, its sink instances and ingests (at most 10
    lines, control bytes escaped), and every counter that is not zero. */
#ifndef HM_STATUS_VIEW_H
#define HM_STATUS_VIEW_H

#include "hm_buf.h"

/* Renders json (one STATUS answer) into out. prev_json: the sample taken
   dt_s seconds before (--watch), from which each route's rate is the
   records it committed per second; NULL (one-shot) shows "-". width: the
   terminal's columns, to which an error line is cut (0: not a terminal,
   messages cut at 160 bytes). 0, or -1 with a one-line reason in out (the
   JSON is not a status). */
int hm_status_view_render (const char *json, const char *prev_json, double dt_s, int width,
                           hm_buf_t *out);

#endif
