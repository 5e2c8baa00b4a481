/*
 * tun_localcmd.h - LocalCommand (with PermitLocalCommand): a command run
 * on our side through the user's shell ($SHELL -c, else /bin/sh), as ssh
 * does once the connection is up, and from the ~C command line ("!cmd").
 */
#ifndef SSHTUN_TUN_LOCALCMD_H
#define SSHTUN_TUN_LOCALCMD_H

#include <ev.h>

#include "tun_options.h"

typedef struct tun_localcmd tun_localcmd;

/* Expand LocalCommand's %-tokens (ssh's: %C %d %h %i %k %L %l %n %p %r %T
 * %u %%; %T is "NONE": no tun device) for `original_host`.  malloc'd, or
 * NULL after a message. */
char *tun_localcmd_expand(const tun_options *o, const char *original_host);

/* Start `command` with our stdin/stdout/stderr; `done` gets its wait
 * status when it exits (from the loop: ev_child, so the loop must be the
 * default one).  NULL when it could not be started (message printed). */
tun_localcmd *tun_localcmd_start(struct ev_loop *loop, const char *command,
                                 void (*done)(void *arg, int status), void *arg);
/* Forget it (the process is left to run; `done` is never called). */
void tun_localcmd_free(tun_localcmd *lc);

/* Run `command` and wait for it (the ~C "!" command: the user waits at
 * the terminal, as with ssh).  Returns its wait status, -1 if it could not
 * run. */
int tun_localcmd_run_wait(const char *command);

#endif
