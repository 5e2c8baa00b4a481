/*
 * tun_client.h - the sshtun client: resolve, connect, verify the host key,
 * authenticate, then run a remote command (or shell) with the local stdio.
 */
#ifndef SSHTUN_TUN_CLIENT_H
#define SSHTUN_TUN_CLIENT_H

#include "tun_options.h"

#include <ev.h>

#include "tun_fwdspec.h"

struct tun_conn;

typedef struct tun_client_args {
    tun_options *opts;    /* finished options */
    const char *host;     /* destination as given (alias) */
    const char *command;  /* NULL: shell */
    int no_command;       /* -N */
    int no_stdin;         /* -n */
    int fork_after_auth;  /* -f */
    tun_fwdspec *fwds;    /* -L/-R/-D and the config's forwards, parsed */
    int n_fwds;
    const char *stdio_host; /* -W host:port */
    int stdio_port;
    int subsystem;        /* -s: the command is a subsystem name */
    struct ev_loop *loop; /* NULL: the default loop */
    /* Connection sharing: become the master on this control socket. */
    const char *control_path;
    int keep_stderr;      /* -E given: a background master keeps logging */
    void (*ready_hook)(void *arg, struct tun_conn *conn);
    void *ready_arg;
} tun_client_args;

/* Run to completion; returns the process exit status (the remote command's,
 * or 255 for ssh-level failures). */
int tun_client_run(const tun_client_args *args);

#endif
