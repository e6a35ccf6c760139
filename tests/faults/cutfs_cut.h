/*  cutfs_cut: the power cut of cutfs (see cutfs.c): the commands written
    to /.cutfs ("off", "off after N", "cut drop", "cut random SEED"), what
    each file and directory keeps of what was not made durable, and the
    report reading /.cutfs gives. */
#ifndef CUTFS_CUT_H
#define CUTFS_CUT_H

#include <stddef.h>

/* Writes the power state and the last cut's counters to cutfs_state.report. */
void cutfs_report (void);
/* Runs a command written to /.cutfs; 0, or a negative errno (-EINVAL for
   an unknown command, -ENOMEM when the cut ran out of memory). */
int cutfs_ctl_command (const char *buf, size_t size);

#endif
