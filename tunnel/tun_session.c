/*
 * tun_session.c - exec/shell over a session channel with the local stdio.
 *
 * Exit status is the remote command's (exit-status); a command killed by a
 * signal (exit-signal) is reported on stderr and gives 255, as does a
 * channel that closes without either.  When our stdout goes away (EPIPE,
 * e.g. `| head -c1`), the peer is told with eow@openssh.com so that the
 * remote command stops promptly instead of filling a dead pipe.
 */
#include "tun_session.h"
#include "tun_log.h"
#include "tun_pipe.h"
#include "tun_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tun_session {
    tun_pipe pipe;
    tun_client *cl;
    ssh_conn *c;
    char *command;
    int have_status;
    uint32_t status;
    char signame[64];
    int have_signal;
    int saved_fl[3];
};

static int peer_understands_eow(ssh_conn *c)
{
    const char *id = ssh_conn_peer_ident(c);
    return id && (strstr(id, "OpenSSH") || strstr(id, "sshtun"));
}

static void h_open_result(tun_pipe *p, uint32_t reason, const char *msg)
{
    tun_session *s = p->owner;
    if (reason != 0) {
        tun_client_fail(s->cl, "channel %u: open failed: %s: %s", p->base.id,
                        reason == SSH_OPEN_ADMINISTRATIVELY_PROHIBITED ? "administratively prohibited"
                        : reason == SSH_OPEN_CONNECT_FAILED           ? "connect failed"
                        : reason == SSH_OPEN_UNKNOWN_CHANNEL_TYPE     ? "unknown channel type"
                        : reason == SSH_OPEN_RESOURCE_SHORTAGE        ? "resource shortage"
                                                                      : "unknown reason",
                        msg && *msg ? msg : "(no message)");
        return;
    }
    ssh_channel_req r = {0};
    r.want_reply = 1;
    if (s->command) {
        r.type = "exec";
        r.command = s->command;
        r.command_len = strlen(s->command);
        tun_debug("Sending command: %s", s->command);
    } else {
        r.type = "shell";
    }
    int rv = ssh_channel_request_send(s->c, p->base.id, &r, NULL);
    if (rv != 0)
        tun_client_fail(s->cl, "channel %u: %s request: %s", p->base.id, r.type, ssh_strerror(rv));
}

static void h_request_result(tun_pipe *p, int ok, void *req_user)
{
    (void)req_user;
    tun_session *s = p->owner;
    if (!ok) {
        tun_client_fail(s->cl, "%s request failed on channel %u", s->command ? "exec" : "shell",
                        p->base.id);
        return;
    }
    if (p->in_fd < 0)
        ssh_channel_eof(s->c, p->base.id); /* -n: nothing will come */
    else
        tun_pipe_start_input(p);
}

static int h_request(tun_pipe *p, const ssh_channel_req *r)
{
    tun_session *s = p->owner;
    if (strcmp(r->type, "exit-status") == 0) {
        s->have_status = 1;
        s->status = r->exit_status;
        tun_debug("client_input_channel_req: channel %u rtype exit-status reply %d", p->base.id,
                  r->want_reply);
        return SSH_REQUEST_SUCCESS;
    }
    if (strcmp(r->type, "exit-signal") == 0) {
        s->have_signal = 1;
        snprintf(s->signame, sizeof(s->signame), "%s", r->name ? r->name : "?");
        return SSH_REQUEST_SUCCESS;
    }
    return SSH_REQUEST_FAILURE;
}

static void h_out_failed(tun_pipe *p, int stream, int err)
{
    tun_session *s = p->owner;
    tun_debug("channel %u: local %s closed: %s", p->base.id, stream ? "stderr" : "stdout",
              strerror(err));
    if (stream == 0 && p->base.open && peer_understands_eow(s->c)) {
        ssh_channel_req r = {.type = "eow@openssh.com", .want_reply = 0};
        ssh_channel_request_send(s->c, p->base.id, &r, NULL);
    }
}

static void h_closed(tun_pipe *p)
{
    tun_session *s = p->owner;
    tun_pipe_flush_blocking(p);
    int status = 255;
    if (s->have_status) {
        status = (int)(s->status & 0xff);
    } else if (s->have_signal) {
        tun_error("Remote command terminated by signal %s", s->signame);
    }
    tun_client_session_done(s->cl, status);
}

static const tun_pipe_hooks hooks = {
    .open_result = h_open_result,
    .out_failed = h_out_failed,
    .request = h_request,
    .request_result = h_request_result,
    .closed = h_closed,
};

tun_session *tun_session_start(tun_client *cl, ssh_conn *c, const char *command, int no_stdin)
{
    tun_session *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->cl = cl;
    s->c = c;
    s->command = command ? strdup(command) : NULL;
    /* Non-blocking local stdio (not terminals: their flags are shared with
     * the user's shell); restored when the session is freed. */
    for (int fd = 0; fd < 3; fd++) {
        s->saved_fl[fd] = -1;
        if (fd == 0 && no_stdin)
            continue;
        if (!isatty(fd))
            s->saved_fl[fd] = tun_set_nonblock(fd, 1);
    }
    tun_pipe_init(&s->pipe, tun_client_loop(cl), tun_client_link(cl), no_stdin ? -1 : 0, 1, 2,
                  &hooks, s);
    ssh_channel_open_info info = {.kind = SSH_CHAN_SESSION};
    uint32_t id;
    int rv = ssh_channel_open(c, &info, &s->pipe.base, &id);
    if (rv != 0) {
        tun_error("channel open: %s", ssh_strerror(rv));
        tun_session_free(s);
        return NULL;
    }
    s->pipe.base.id = id;
    return s;
}

void tun_session_free(tun_session *s)
{
    if (s == NULL)
        return;
    tun_pipe_free(&s->pipe);
    for (int fd = 0; fd < 3; fd++)
        if (s->saved_fl[fd] >= 0)
            fcntl(fd, F_SETFL, s->saved_fl[fd]);
    free(s->command);
    free(s);
}
