/*
 * tun_agentfwd.c - agent forwarding, the client's half (see
 * tun_agentfwd.h).
 *
 * Each auth-agent@openssh.com channel is one connection to the agent: a
 * tun_pipe between the channel and the socket, so the agent's answers
 * and the server's requests are flow controlled like any forward.  The
 * channel is confirmed once the socket exists (a Unix connect completes
 * at once or fails), refused with the reason otherwise.
 */
#include "tun_agentfwd.h"
#include "tun_log.h"
#include "tun_pipe.h"
#include "tun_sock.h"
#include "tun_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct aconn {
    tun_pipe pipe; /* first: its tun_chan is the channel's ch_user */
    tun_agentfwd *a;
    ev_timer confirm; /* the open is answered from the loop */
    int confirmed;
    struct aconn *next, *prev;
} aconn;

struct tun_agentfwd {
    struct ev_loop *loop;
    char *path;
    aconn *conns;
    int n;
};

/* ${VAR} in a path, as ssh's percent_dollar_expand (an unset variable is
 * an error). */
static char *expand_vars(const char *in)
{
    char out[4096];
    size_t o = 0;
    for (const char *p = in; *p;) {
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (end == NULL)
                return NULL;
            char name[256];
            size_t nl = (size_t)(end - p - 2);
            if (nl == 0 || nl >= sizeof(name))
                return NULL;
            memcpy(name, p + 2, nl);
            name[nl] = '\0';
            const char *v = getenv(name);
            if (v == NULL) {
                tun_error("env var ${%s} has no value", name);
                return NULL;
            }
            size_t vl = strlen(v);
            if (o + vl >= sizeof(out))
                return NULL;
            memcpy(out + o, v, vl);
            o += vl;
            p = end + 1;
            continue;
        }
        if (o + 1 >= sizeof(out))
            return NULL;
        out[o++] = *p++;
    }
    out[o] = '\0';
    return strdup(out);
}

char *tun_agentfwd_socket(const tun_options *o)
{
    if (o->forward_agent != 1)
        return NULL;
    const char *p = o->forward_agent_path;
    char *path = NULL;
    if (p && p[0] == '$' && p[1] != '{') {
        /* $VAR: the variable holds the path; unset, no forwarding. */
        const char *v = getenv(p + 1);
        if (v == NULL || *v == '\0') {
            tun_debug("ForwardAgent %s: variable not set; not forwarding the agent", p);
            return NULL;
        }
        path = strdup(v);
    } else if (p) {
        path = expand_vars(p);
        if (path == NULL) {
            tun_error("Cannot forward agent socket path \"%s\": bad variable", p);
            return NULL;
        }
    } else {
        /* IdentityAgent names the agent ssh itself uses, and forwards. */
        const char *ia = o->identity_agent;
        if (ia && strcmp(ia, "none") == 0)
            return NULL;
        if (ia && strcmp(ia, "SSH_AUTH_SOCK") != 0)
            path = strdup(ia);
        else if (getenv("SSH_AUTH_SOCK") && *getenv("SSH_AUTH_SOCK"))
            path = strdup(getenv("SSH_AUTH_SOCK"));
        else {
            /* ssh's check_agent_present: no agent, nothing to forward. */
            tun_debug("Agent forwarding requested, but no agent is running");
            return NULL;
        }
    }
    if (path == NULL)
        return NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        tun_error("Cannot forward agent socket path \"%s\": %s", path, strerror(errno));
    return path;
}

static void aconn_free(aconn *ac)
{
    tun_agentfwd *a = ac->a;
    tun_link *link = ac->pipe.base.link;
    ev_timer_stop(a->loop, &ac->confirm);
    tun_link_unblock(link, &ac->pipe.base);
    if (!ac->confirmed && ssh_channel_get_user(link->c, ac->pipe.base.id) == &ac->pipe.base)
        ssh_channel_open_fail(link->c, ac->pipe.base.id, SSH_OPEN_CONNECT_FAILED, "closed");
    tun_pipe_free(&ac->pipe); /* closes the socket */
    if (ac->prev)
        ac->prev->next = ac->next;
    else
        a->conns = ac->next;
    if (ac->next)
        ac->next->prev = ac->prev;
    a->n--;
    free(ac);
}

static void h_closed(tun_pipe *p)
{
    aconn *ac = p->owner;
    tun_debug2("channel %u: agent connection closed", p->base.id);
    aconn_free(ac);
}

static const tun_pipe_hooks agent_hooks = {
    .closed = h_closed,
};

/* Engine calls may not answer an open from inside its callback: confirm
 * from the loop, then read the agent's answers. */
static void on_confirm(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    aconn *ac = w->data;
    tun_link *link = ac->pipe.base.link;
    ac->confirmed = 1;
    if (ssh_channel_open_confirm(link->c, ac->pipe.base.id, &ac->pipe.base) != 0) {
        aconn_free(ac);
        return;
    }
    ac->pipe.base.open = 1;
    tun_pipe_start_input(&ac->pipe);
    tun_link_kick(link);
}

int tun_agentfwd_channel_open(tun_agentfwd *a, tun_link *link, uint32_t id, const char **why)
{
    int fd = tun_connect_unix(a->path);
    if (fd < 0) {
        tun_error("Could not connect to agent \"%s\": %s", a->path, strerror(errno));
        *why = "could not connect to the agent";
        return -SSH_OPEN_CONNECT_FAILED;
    }
    aconn *ac = calloc(1, sizeof(*ac));
    if (ac == NULL) {
        close(fd);
        *why = "out of memory";
        return -SSH_OPEN_RESOURCE_SHORTAGE;
    }
    ac->a = a;
    tun_pipe_init(&ac->pipe, a->loop, link, fd, fd, -1, &agent_hooks, ac);
    ac->pipe.is_socket = 1;
    ac->pipe.auto_close = 1;
    ac->pipe.base.id = id;
    ev_timer_init(&ac->confirm, on_confirm, 0., 0.);
    ac->confirm.data = ac;
    ev_timer_start(a->loop, &ac->confirm);
    ac->next = a->conns;
    if (a->conns)
        a->conns->prev = ac;
    a->conns = ac;
    a->n++;
    ssh_channel_set_user(link->c, id, &ac->pipe.base);
    tun_debug("channel %u: agent connection to %s", id, a->path);
    return SSH_DEFERRED;
}

tun_agentfwd *tun_agentfwd_new(struct ev_loop *loop, const char *path)
{
    tun_agentfwd *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->loop = loop;
    a->path = strdup(path);
    if (a->path == NULL) {
        free(a);
        return NULL;
    }
    return a;
}

void tun_agentfwd_conn_lost(tun_agentfwd *a, tun_link *link)
{
    if (a == NULL)
        return;
    aconn *next;
    for (aconn *ac = a->conns; ac; ac = next) {
        next = ac->next;
        if (ac->pipe.base.link == link)
            aconn_free(ac);
    }
}

int tun_agentfwd_active(const tun_agentfwd *a)
{
    return a ? a->n : 0;
}

void tun_agentfwd_free(tun_agentfwd *a)
{
    if (a == NULL)
        return;
    while (a->conns)
        aconn_free(a->conns);
    free(a->path);
    free(a);
}
