/*
 * tun_privd.c - sshtund's privileged side: the requests of tun_privproto.h
 * and the state that lets it decide them without trusting the network
 * process (see tun_priv.h for the boundary, tun_privauth.c for the
 * authentication decisions).
 *
 * State per connection (a `pconn`, found by its token): the addresses read
 * from the accepted socket, the settings in force when it arrived, the
 * user it is authenticating as and its failures, after success the
 * authorized_keys options of the key used, and its session processes by
 * session id.  The connection's end (CONN_END) frees all of it: work still
 * under way for it (a key file read, a password check, a Unix connect) is
 * cancelled and its answer never sent, and its session processes are hung
 * up.  So nothing a connection obtained outlives it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_privd.h"
#include "tun_log.h"
#include "tun_proxyproto.h"
#include "tun_sock.h"
#include "tun_spawn.h"
#include "tun_startups.h"
#include "tun_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <crypt.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define UNIX_TIMEOUT 30.0
#define MAX_ENV      (64 + TUN_SRV_MAX_LIST + 8) /* the client's, SSH_*, SetEnv */
#define MAX_CLIENT_ENV 64
#define MAX_CMD      65536

/* ---- connections -------------------------------------------------------------------------- */

static unsigned conn_bucket(uint64_t token)
{
    return (unsigned)((token ^ (token >> 29) ^ (token >> 47)) % PRIVD_CONN_BUCKETS);
}

pconn *privd_conn_find(tun_privd *d, const tun_privpeer *w, uint64_t token)
{
    if (token == 0)
        return NULL;
    /* Tokens are each network process's own serials: (peer, token) is the
     * key, so a worker naming another's token finds nothing. */
    for (pconn *c = d->conns[conn_bucket(token)]; c; c = c->next)
        if (c->token == token && c->w == w)
            return c;
    return NULL;
}

void privd_conn_authenticated(pconn *c)
{
    if (!c->authenticated && c->d->n_unauth > 0)
        c->d->n_unauth--;
    c->authenticated = 1;
}

unsigned tun_privd_unauthenticated(const tun_privd *d)
{
    return d->n_unauth;
}

void tun_privd_set_global_startups(tun_privd *d, int on)
{
    d->global_startups = on;
}

static void op_list_cancel(pconn *c)
{
    while (c->ops) {
        pop *o = c->ops;
        c->ops = o->next;
        privd_op_cancel(o);
    }
}

static void conn_free(tun_privd *d, pconn *c)
{
    op_list_cancel(c);
    privd_sessions_free(c);
    if (!c->authenticated && d->n_unauth > 0)
        d->n_unauth--;
    if (c->w && c->w->n_conns > 0)
        c->w->n_conns--;
    /* Its sessions end with it, whatever the network process says later. */
    for (pchild *ch = d->children; ch; ch = ch->next) {
        if (ch->conn == c) {
            kill(-ch->pid, SIGHUP);
            kill(ch->pid, SIGHUP);
            ch->conn = NULL;
        }
    }
    if (c->have_opts)
        tun_srvopts_release(&c->opts);
    if (c->have_kopts)
        tun_keyopts_free(&c->kopts);
    tun_srvsettings_unref(c->set);
    OPENSSL_cleanse(c->session_id, sizeof(c->session_id));
    free(c);
}

/* A relayed connection's client, from its PROXY header - but only where
 * the helper itself can see that a header belongs: the socket was
 * accepted on a PROXY protocol listener (its local address says which)
 * and its peer, the load balancer, is in ProxyProtocolFrom.  The header
 * bytes come from the network process, which is not trusted: they are
 * parsed here, and a header on any other socket, a missing one on a PROXY
 * listener, or one that does not parse to exactly its length refuses the
 * connection.  So a compromised network process can claim a client
 * address only for connections that really come from a trusted balancer
 * (it could lie about those: the balancer's own word is all there is).
 * 0, or -1 after a log line. */
static int proxied(tun_privd *d, uint64_t token, const struct sockaddr_storage *peer,
                   const struct sockaddr_storage *local, const uint8_t *hdr, size_t hlen,
                   pconn *c)
{
    const tun_srvcfg *cfg = &d->set->cfg;
    int listener = tun_srvcfg_listener_proxy(cfg, local);
    char pip[64];
    int pport;
    tun_sockaddr_desc(peer, pip, sizeof(pip), &pport);
    if (!listener && hdr == NULL)
        return 0;
    if (!listener || hdr == NULL) {
        tun_error("sshtund helper: connection %llu from %s: PROXY header %s; refused",
                  (unsigned long long)token, pip,
                  hdr ? "on a listener without the PROXY protocol" : "missing");
        return -1;
    }
    if (cfg->proxy_from == NULL || !tun_match_address_list(pip, cfg->proxy_from)) {
        tun_error("sshtund helper: connection %llu: PROXY header from %s, not in "
                  "ProxyProtocolFrom; refused",
                  (unsigned long long)token, pip);
        return -1;
    }
    tun_proxyhdr h;
    const char *why = NULL;
    int rv = tun_proxy_parse(hdr, hlen, &h, &why);
    if (rv != (int)hlen || hlen == 0) {
        tun_error("sshtund helper: connection %llu from %s: bad PROXY header (%s); refused",
                  (unsigned long long)token, pip,
                  why            ? why
                  : rv > 0       ? "bytes after its end"
                                 : "incomplete");
        return -1;
    }
    if (h.local)
        return 0;
    char ip[64];
    if (tun_proxy_src_text(&h, ip, sizeof(ip)) != 0)
        return -1;
    snprintf(c->ip, sizeof(c->ip), "%s", ip);
    c->port = h.src_port;
    memset(&c->src, 0, sizeof(c->src));
    if (h.family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&c->src;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, h.src, 4);
        s4->sin_port = htons(h.src_port);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&c->src;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, h.src, 16);
        s6->sin6_port = htons(h.src_port);
    }
    if (inet_ntop(h.family, h.dst, c->lip, sizeof(c->lip)) != NULL)
        c->lport = h.dst_port;
    return 0;
}

/* PerSourceMaxStartups over every worker's connections (several
 * workers): as many unauthenticated connections from the client's block
 * as the limit already?  The source is the real client of a relayed
 * connection.  1 after the log line. */
static int over_per_source(tun_privd *d, const pconn *c)
{
    const tun_srvcfg *cfg = &d->set->cfg;
    if (cfg->per_source_max_startups <= 0)
        return 0;
    int n = 0;
    for (unsigned b = 0; b < PRIVD_CONN_BUCKETS; b++)
        for (const pconn *q = d->conns[b]; q; q = q->next)
            if (!q->authenticated && tun_srvcfg_same_source(cfg, &q->src, &c->src))
                n++;
    if (n < cfg->per_source_max_startups)
        return 0;
    tun_info("drop connection #%llu from [%s]:%d past PerSourceMaxStartups (%d unauthenticated "
             "from its /%d)",
             (unsigned long long)c->token, c->ip, c->port, n,
             c->src.ss_family == AF_INET ? cfg->per_source_bits4 : cfg->per_source_bits6);
    return 1;
}

/* Several workers: the verdict on a CONN_NEW (EV_ACCEPT or EV_DROP); the
 * worker holds the connection, sending nothing, until it comes. */
static void verdict_event(tun_privd *d, uint64_t token, int accepted)
{
    ssh_buf m;
    ssh_buf_init(&m, 64, 0);
    ssh_buf_put_u32(&m, accepted ? TUN_PRIV_EV_ACCEPT : TUN_PRIV_EV_DROP);
    ssh_buf_put_u32(&m, 0);
    ssh_buf_put_u64(&m, token);
    ssh_buf_put_u32(&m, d->n_unauth);
    if (d->req_from)
        d->req_from->send(d->req_from->send_arg, ssh_buf_ptr(&m), ssh_buf_len(&m), NULL, 0);
    ssh_buf_free(&m);
}

static int conn_new(tun_privd *d, uint64_t token, int fd, const uint8_t *hdr, size_t hlen)
{
    struct sockaddr_storage peer, local;
    socklen_t pl = sizeof(peer), ll = sizeof(local);
    int type = 0;
    socklen_t tl = sizeof(type);
    if (token == 0 || privd_conn_find(d, d->req_from, token) != NULL) {
        tun_error("sshtund helper: connection token reused or zero; refused");
        return -1;
    }
    if (d->n_conns >= PRIVD_MAX_CONNS) {
        tun_error("sshtund helper: too many connections (%u)", d->n_conns);
        return -1;
    }
    /* The client's address is what the accepted TCP socket says, never
     * what the network process says. */
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM ||
        getpeername(fd, (struct sockaddr *)&peer, &pl) != 0 ||
        getsockname(fd, (struct sockaddr *)&local, &ll) != 0 ||
        (peer.ss_family != AF_INET && peer.ss_family != AF_INET6)) {
        tun_error("sshtund helper: connection %llu: not a connected TCP socket; refused",
                  (unsigned long long)token);
        return -1;
    }
    /* Several workers: MaxStartups over all of them, decided here (the
     * helper knows which connections have authenticated). */
    if (d->global_startups && d->set &&
        tun_max_startups_drop(&d->set->cfg, d->n_unauth, tun_max_startups_rand())) {
        char ip[64];
        int port = 0;
        tun_sockaddr_desc(&peer, ip, sizeof(ip), &port);
        tun_info("drop connection #%llu from [%s]:%d past MaxStartups (%u unauthenticated, all "
                 "workers)",
                 (unsigned long long)token, ip, port, d->n_unauth);
        return -1;
    }
    pconn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    c->token = token;
    c->d = d;
    tun_sockaddr_desc(&peer, c->ip, sizeof(c->ip), &c->port);
    tun_sockaddr_desc(&local, c->lip, sizeof(c->lip), &c->lport);
    c->src = peer;
    if (proxied(d, token, &peer, &local, hdr, hlen, c) != 0) {
        free(c);
        return -1;
    }
    if (d->global_startups && over_per_source(d, c)) {
        free(c);
        return -1;
    }
    c->w = d->req_from;
    if (c->w)
        c->w->n_conns++;
    d->n_unauth++;
    c->set = tun_srvsettings_ref(d->set);
    unsigned b = conn_bucket(token);
    c->next = d->conns[b];
    d->conns[b] = c;
    d->n_conns++;
    return 0;
}

static void conn_end(tun_privd *d, const tun_privpeer *w, uint64_t token)
{
    unsigned b = conn_bucket(token);
    for (pconn **pp = &d->conns[b]; *pp; pp = &(*pp)->next) {
        if ((*pp)->token == token && (*pp)->w == w) {
            pconn *c = *pp;
            *pp = c->next;
            d->n_conns--;
            conn_free(d, c);
            return;
        }
    }
}

/* ---- network processes (workers) ----------------------------------------------------------- */

tun_privpeer *tun_privd_peer_add(tun_privd *d, int index, long pid, tun_privd_send_fn send,
                                 void *arg)
{
    tun_privpeer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->d = d;
    w->index = index;
    w->pid = pid;
    w->send = send;
    w->send_arg = arg;
    w->next = d->peers;
    d->peers = w;
    if (d->dflt == NULL)
        d->dflt = w;
    return w;
}

void tun_privd_peer_remove(tun_privd *d, tun_privpeer *w)
{
    /* Its connections end as with CONN_END: their sessions are hung up. */
    for (unsigned b = 0; b < PRIVD_CONN_BUCKETS && w->n_conns > 0; b++) {
        for (pconn **pp = &d->conns[b]; *pp;) {
            if ((*pp)->w == w) {
                pconn *c = *pp;
                *pp = c->next;
                d->n_conns--;
                conn_free(d, c);
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    for (pchild *ch = d->children; ch; ch = ch->next)
        if (ch->peer == w)
            ch->peer = NULL;
    for (tun_privpeer **pp = &d->peers; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    if (d->dflt == w)
        d->dflt = NULL;
    if (d->req_from == w)
        d->req_from = NULL;
    free(w);
}

/* ---- operations under way ------------------------------------------------------------------ */

pop *privd_op_new(pconn *c, uint32_t type, uint32_t id)
{
    pop *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->c = c;
    o->type = type;
    o->id = id;
    o->next = c->ops;
    c->ops = o;
    return o;
}

static void op_unlink(pop *o)
{
    for (pop **pp = &o->c->ops; *pp; pp = &(*pp)->next) {
        if (*pp == o) {
            *pp = o->next;
            return;
        }
    }
}

void privd_op_done(pop *o)
{
    op_unlink(o);
    if (o->cleanup)
        o->cleanup(o);
    free(o);
}

void privd_op_abandon(pop *o)
{
    op_unlink(o);
    privd_op_cancel(o);
}

void privd_op_cancel(pop *o)
{
    if (o->task)
        tun_ptask_cancel(o->task);
    if (o->job)
        tun_pwpool_cancel(o->job);
    if (o->cleanup)
        o->cleanup(o);
    free(o);
}

/* ---- answers ------------------------------------------------------------------------------------
 */

void privd_answer(tun_privd *d, const pconn *c, uint32_t type, uint32_t id, const ssh_buf *body,
                  const int *fds, int nfds)
{
    /* A connection's answers go to the worker that opened it (the only one
     * whose requests find it); a refusal for an unknown token to the
     * asker. */
    tun_privpeer *w = c ? c->w : d->req_from;
    if (w == NULL)
        return;
    ssh_buf m;
    ssh_buf_init(&m, TUN_PRIV_MSG_MAX, SSH_BUF_SECRET);
    ssh_buf_put_u32(&m, type | TUN_PRIV_REPLY);
    ssh_buf_put_u32(&m, id);
    if (body)
        ssh_buf_put(&m, ssh_buf_ptr(body), ssh_buf_len(body));
    w->send(w->send_arg, ssh_buf_ptr(&m), ssh_buf_len(&m), fds, nfds);
    ssh_buf_free(&m);
}

/* ---- session processes
 * --------------------------------------------------------------------------- */

static void child_exited(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    pchild *ch = w->data;
    tun_privd *d = ch->d;
    ev_child_stop(loop, w);
    for (pchild **pp = &d->children; *pp; pp = &(*pp)->next) {
        if (*pp == ch) {
            *pp = ch->next;
            break;
        }
    }
    if (ch->conn)
        ch->conn->n_sessions--;
    d->n_children--;
    ssh_buf m;
    ssh_buf_init(&m, 64, 0);
    ssh_buf_put_u32(&m, TUN_PRIV_EV_EXIT);
    ssh_buf_put_u32(&m, 0);
    ssh_buf_put_u32(&m, (uint32_t)ch->pid);
    ssh_buf_put_u32(&m, (uint32_t)w->rstatus);
    if (ch->peer)
        ch->peer->send(ch->peer->send_arg, ssh_buf_ptr(&m), ssh_buf_len(&m), NULL, 0);
    ssh_buf_free(&m);
    free(ch);
}

static pchild *child_of(tun_privd *d, const pconn *c, uint32_t session)
{
    for (pchild *ch = d->children; ch; ch = ch->next)
        if (ch->conn == c && ch->session == session)
            return ch;
    return NULL;
}

static int watch_child(tun_privd *d, pconn *c, uint32_t session, pid_t pid)
{
    if (d->n_children >= PRIVD_MAX_CHILDREN)
        return -1;
    pchild *ch = calloc(1, sizeof(*ch));
    if (ch == NULL)
        return -1;
    ch->d = d;
    ch->conn = c;
    ch->peer = c->w;
    ch->session = session;
    ch->pid = pid;
    ev_child_init(&ch->w, child_exited, pid, 0);
    ch->w.data = ch;
    ev_child_start(d->loop, &ch->w);
    ch->next = d->children;
    d->children = ch;
    d->n_children++;
    c->n_sessions++;
    return 0;
}

/* An environment variable name as the client sent it: '=' and control
 * characters are refused before any AcceptEnv pattern sees the name
 * ("A=B" would otherwise match "A*" and set A to "B=value"). */
static int env_name_ok(const char *n)
{
    if (*n == '\0' || strlen(n) > 256)
        return 0;
    for (const char *p = n; *p; p++)
        if (*p == '=' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static int accept_env(const tun_srvopts *o, const char *name)
{
    for (int i = 0; i < o->n_accept_env; i++)
        if (fnmatch(o->accept_env[i], name, 0) == 0)
            return 1;
    return 0;
}

/* PermitUserEnvironment: "no", "yes" or a pattern list of names. */
static int user_env_ok(const tun_srvcfg *cfg, const char *entry)
{
    const char *p = cfg->permit_user_environment;
    if (p == NULL || strcmp(p, "no") == 0)
        return 0;
    if (strcmp(p, "yes") == 0)
        return 1;
    const char *eq = strchr(entry, '=');
    if (eq == NULL)
        return 0;
    char name[257];
    size_t nl = (size_t)(eq - entry);
    if (nl >= sizeof(name))
        return 0;
    memcpy(name, entry, nl);
    name[nl] = '\0';
    char list[1024];
    snprintf(list, sizeof(list), "%s", p);
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (fnmatch(t, name, 0) == 0)
            return 1;
    return 0;
}

static int env_add(char **env, int *n, const char *name, const char *value)
{
    size_t nl = strlen(name);
    char *e;
    if (asprintf(&e, "%s=%s", name, value) < 0)
        return -1;
    /* A later value for the same name replaces the earlier one. */
    for (int i = 0; i < *n; i++) {
        if (strncmp(env[i], name, nl) == 0 && env[i][nl] == '=') {
            free(env[i]);
            env[i] = e;
            return 0;
        }
    }
    if (*n >= MAX_ENV) {
        free(e);
        return -1;
    }
    env[(*n)++] = e;
    return 0;
}

static const char *subsystem_command(const tun_srvcfg *cfg, const char *name)
{
    for (int i = 0; i < cfg->n_subsystems; i++)
        if (strcmp(cfg->subsystem_name[i], name) == 0)
            return cfg->subsystem_command[i];
    return NULL;
}

/* SPAWN: everything about what runs is decided here. */
static void do_spawn(tun_privd *d, uint32_t id, pconn *c, ssh_cur *in)
{
    uint32_t session, cols, rows, wpx, hpx, n_env;
    int pty;
    char what[16], term[256];
    char *arg = NULL;
    const uint8_t *modes;
    size_t ml;
    char *env[MAX_ENV];
    int ne = 0, n_client = 0, e = EPERM, nfds = 0;
    int fds[3] = {-1, -1, -1};
    pid_t pid = -1;
    char tty[64] = "";
    const char *why = NULL;
    const tun_srvopts *o = NULL;
    const tun_srvcfg *cfg = NULL;
    if (ssh_cur_get_u32(in, &session) != 0 || ssh_cur_get_cstr(in, what, sizeof(what)) != 0 ||
        ssh_cur_get_strdup(in, MAX_CMD, &arg) != 0 || ssh_cur_get_bool(in, &pty) != 0 ||
        ssh_cur_get_cstr(in, term, sizeof(term)) != 0 || ssh_cur_get_u32(in, &cols) != 0 ||
        ssh_cur_get_u32(in, &rows) != 0 || ssh_cur_get_u32(in, &wpx) != 0 ||
        ssh_cur_get_u32(in, &hpx) != 0 || ssh_cur_get_string(in, &modes, &ml) != 0 ||
        ssh_cur_get_u32(in, &n_env) != 0 || n_env > 1024) {
        why = "malformed request";
        e = EINVAL;
        goto out;
    }
    if (c == NULL || !c->authenticated) {
        why = c ? "connection not authenticated" : "unknown connection";
        goto drain;
    }
    o = &c->opts;
    cfg = &c->set->cfg;
    char conn_env[256];
    snprintf(conn_env, sizeof(conn_env), "%s %d %s %d", c->ip, c->port, c->lip, c->lport);
    env_add(env, &ne, "SSH_CONNECTION", conn_env);
    snprintf(conn_env, sizeof(conn_env), "%s %d %d", c->ip, c->port, c->lport);
    env_add(env, &ne, "SSH_CLIENT", conn_env);
drain:
    /* The client's env requests: all parsed (the request must be well
     * formed), only acceptable ones kept. */
    for (uint32_t i = 0; i < n_env; i++) {
        char name[1024];
        char *value = NULL;
        if (ssh_cur_get_cstr(in, name, sizeof(name)) != 0 ||
            ssh_cur_get_strdup(in, 8192, &value) != 0) {
            free(value);
            why = "malformed request";
            e = EINVAL;
            goto out;
        }
        if (why == NULL) {
            if (!env_name_ok(name))
                tun_verbose("session %u: refused env name with '=' or control characters", session);
            else if (!accept_env(&c->opts, name) || !tun_spawn_valid_name(name))
                tun_debug2("session %u: ignoring env %s (not in AcceptEnv)", session, name);
            else if (n_client >= MAX_CLIENT_ENV || env_add(env, &ne, name, value) != 0)
                tun_verbose("session %u: too many environment variables", session);
            else
                n_client++;
        }
        free(value);
    }
    if (ssh_cur_end(in) != 0) {
        why = "malformed request";
        e = EINVAL;
        goto out;
    }
    if (why)
        goto out;
    if (child_of(d, c, session) != NULL) {
        why = "session already has a process";
        goto out;
    }
    if (c->n_sessions >= (unsigned)o->max_sessions + 16) {
        why = "too many session processes";
        e = EAGAIN;
        goto out;
    }
    if (pty && (!o->permit_tty || (c->have_kopts && c->kopts.no_pty))) {
        tun_verbose("session %u: pty refused for %s (%s)", session, c->u.name,
                    !o->permit_tty ? "PermitTTY no" : "no-pty in authorized_keys");
        why = "pty not permitted";
        goto out;
    }
    const char *command = NULL;
    if (strcmp(what, "exec") == 0) {
        command = arg;
    } else if (strcmp(what, "subsystem") == 0) {
        command = subsystem_command(cfg, arg);
        if (command == NULL || strcmp(command, "internal-sftp") == 0) {
            tun_info("subsystem request for %s by user %s failed, %s", arg, c->u.name,
                     command ? "internal-sftp is not supported" : "subsystem not found");
            why = "no such subsystem";
            e = ENOENT;
            goto out;
        }
    } else if (strcmp(what, "shell") != 0) {
        why = "unknown session type";
        e = EINVAL;
        goto out;
    }
    /* ForceCommand first, then the key's command= (sshd's order). */
    const char *forced = o->force_command                    ? o->force_command
                         : c->have_kopts && c->kopts.command ? c->kopts.command
                                                             : NULL;
    if (forced) {
        if (command)
            env_add(env, &ne, "SSH_ORIGINAL_COMMAND", command);
        tun_verbose("session %u: forced command for %s (%s): %s", session, c->u.name,
                    o->force_command ? "ForceCommand" : "authorized_keys", forced);
        command = forced;
    }
    if (c->have_kopts && c->set->cfg.permit_user_environment)
        for (int i = 0; i < c->kopts.n_environment; i++)
            if (user_env_ok(cfg, c->kopts.environment[i])) {
                char *eq = strchr(c->kopts.environment[i], '=');
                if (eq == NULL)
                    continue;
                *eq = '\0';
                if (tun_spawn_valid_name(c->kopts.environment[i]))
                    env_add(env, &ne, c->kopts.environment[i], eq + 1);
                *eq = '=';
            }
    /* Agent and X11 forwarding set up for this session (tun_privfwd.c). */
    privd_sessfwd fw;
    privd_session_forwarding(c, session, &fw);
    if (fw.auth_sock[0])
        env_add(env, &ne, "SSH_AUTH_SOCK", fw.auth_sock);
    if (fw.display[0])
        env_add(env, &ne, "DISPLAY", fw.display);
    /* SetEnv last: the administrator's values win over the client's, the
     * key's and the defaults (sshd_config(5)).  Names were checked when
     * the configuration was read. */
    for (int i = 0; i < o->n_set_env; i++) {
        const char *se = o->set_env[i], *eq = strchr(se, '=');
        char name[257];
        if (eq == NULL || (size_t)(eq - se) >= sizeof(name))
            continue;
        memcpy(name, se, (size_t)(eq - se));
        name[eq - se] = '\0';
        if (tun_spawn_valid_name(name) && env_add(env, &ne, name, eq + 1) != 0)
            tun_error("session %u: SetEnv %s dropped: too many environment variables", session,
                      name);
    }
    tun_verbose("Starting session: %s%s%s for %s from %s port %d id %u", what, command ? " " : "",
                command ? command : "", c->u.name, c->ip, c->port, session);
    struct winsize ws;
    ws.ws_col = (unsigned short)(cols > 4096 ? 80 : cols);
    ws.ws_row = (unsigned short)(rows > 4096 ? 24 : rows);
    ws.ws_xpixel = (unsigned short)(wpx > 65535 ? 0 : wpx);
    ws.ws_ypixel = (unsigned short)(hpx > 65535 ? 0 : hpx);
    pid = tun_spawn_session(d->root, &c->u, command, pty, term, &ws, modes, ml, env, ne,
                            fw.xauth_input[0] ? cfg->xauth_location : NULL, fw.xauth_input, fds,
                            tty, sizeof(tty));
    OPENSSL_cleanse(&fw, sizeof(fw));
    if (pid < 0) {
        e = errno;
        why = strerror(e);
    } else if (watch_child(d, c, session, pid) != 0) {
        kill(pid, SIGKILL);
        e = EAGAIN;
        why = "too many processes";
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0)
                close(fds[i]);
    } else {
        e = 0;
        nfds = fds[2] >= 0 ? 3 : 2;
    }
out:
    if (why && e != 0)
        tun_verbose("sshtund helper: session %u refused: %s", session, why);
    for (int i = 0; i < ne; i++)
        free(env[i]);
    free(arg);
    ssh_buf r;
    ssh_buf_init(&r, 1024, 0);
    ssh_buf_put_u32(&r, (uint32_t)e);
    ssh_buf_put_u32(&r, (uint32_t)(e ? 0 : pid));
    ssh_buf_put_bool(&r, e == 0 && pty);
    ssh_buf_put_cstring(&r, tty);
    privd_answer(d, c, TUN_PRIV_SPAWN, id, &r, fds, e == 0 ? nfds : 0);
    ssh_buf_free(&r);
    if (e == 0)
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
}

static void do_signal(tun_privd *d, pconn *c, ssh_cur *in)
{
    uint32_t session, sig;
    if (ssh_cur_get_u32(in, &session) != 0 || ssh_cur_get_u32(in, &sig) != 0 ||
        ssh_cur_end(in) != 0 || c == NULL || !c->authenticated)
        return;
    pchild *ch = child_of(d, c, session);
    /* Only a process of this connection's session, only ordinary signals. */
    if (ch == NULL || sig == 0 || sig >= 32 || sig == SIGSTOP)
        return;
    if (kill(-ch->pid, (int)sig) != 0)
        kill(ch->pid, (int)sig);
}

/* ---- Unix sockets
 * ---------------------------------------------------------------------------------- */

static void unix_done(void *arg, int fd, int err)
{
    pop *o = arg;
    tun_privd *d = o->c->d;
    o->task = NULL;
    ssh_buf r;
    ssh_buf_init(&r, 64, 0);
    ssh_buf_put_u32(&r, (uint32_t)(fd >= 0 ? 0 : err ? err : EIO));
    privd_answer(d, o->c, TUN_PRIV_UNIX, o->id, &r, &fd, fd >= 0 ? 1 : 0);
    ssh_buf_free(&r);
    if (fd >= 0)
        close(fd);
    privd_op_done(o);
}

static void do_unix(tun_privd *d, uint32_t id, pconn *c, ssh_cur *in)
{
    char path[256];
    int lst;
    int e = EPERM;
    if (ssh_cur_get_cstr(in, path, sizeof(path)) != 0 || ssh_cur_get_bool(in, &lst) != 0 ||
        ssh_cur_end(in) != 0) {
        e = EINVAL;
    } else if (c != NULL && c->authenticated) {
        int allow = c->opts.allow_streamlocal_forwarding;
        if (allow == FWA_NO || (allow == FWA_LOCAL && lst) || (allow == FWA_REMOTE && !lst) ||
            (c->have_kopts && c->kopts.no_port_forwarding)) {
            tun_verbose("sshtund helper: streamlocal %s for %s refused by policy",
                        lst ? "listen" : "connect", c->u.name);
        } else {
            pop *o = privd_op_new(c, TUN_PRIV_UNIX, id);
            if (o != NULL) {
                o->task =
                    tun_ptask_unix(d->loop, d->root, &c->u, path, lst, UNIX_TIMEOUT, unix_done, o);
                if (o->task != NULL)
                    return;
                e = errno;
                privd_op_done(o);
            } else {
                e = ENOMEM;
            }
        }
    }
    ssh_buf r;
    ssh_buf_init(&r, 64, 0);
    ssh_buf_put_u32(&r, (uint32_t)e);
    privd_answer(d, c, TUN_PRIV_UNIX, id, &r, NULL, 0);
    ssh_buf_free(&r);
}

/* ---- configuration
 * ------------------------------------------------------------------------------------ */

static void do_load(tun_privd *d, uint32_t id, ssh_cur *in)
{
    ssh_buf b, r;
    ssh_buf_init(&b, TUN_PRIV_MSG_MAX - 64, SSH_BUF_SECRET);
    ssh_buf_init(&r, TUN_PRIV_MSG_MAX, SSH_BUF_SECRET);
    int ok = ssh_cur_end(in) == 0 && d->conf.load != NULL && d->conf.load(d->conf.ctx, &b) == 0;
    if (ok && d->conf.parse) {
        struct tun_srvsettings *s = d->conf.parse(d->conf.ctx, ssh_buf_ptr(&b), ssh_buf_len(&b));
        if (s == NULL) {
            ok = 0;
        } else {
            tun_srvsettings_unref(d->set);
            d->set = s;
        }
    }
    ssh_buf_put_bool(&r, ok);
    if (ok && d->conf.publish) {
        /* The network process gets public keys only. */
        ssh_buf pub;
        ssh_buf_init(&pub, TUN_PRIV_MSG_MAX - 64, 0);
        ok = d->conf.publish(d->conf.ctx, ssh_buf_ptr(&b), ssh_buf_len(&b), &pub) == 0;
        ssh_buf_reset(&r);
        ssh_buf_put_bool(&r, ok);
        ssh_buf_put_stringb(&r, &pub);
        ssh_buf_free(&pub);
    } else {
        ssh_buf_put_stringb(&r, &b);
    }
    privd_answer(d, NULL, TUN_PRIV_LOAD, id, &r, NULL, 0);
    ssh_buf_free(&b);
    ssh_buf_free(&r);
}

/* ---- dispatch
 * ------------------------------------------------------------------------------------------ */

void tun_privd_request(tun_privd *d, const uint8_t *msg, size_t len, int *fds, int nfds)
{
    if (d->dflt == NULL) {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        return;
    }
    tun_privd_request_from(d, d->dflt, msg, len, fds, nfds);
}

void tun_privd_request_from(tun_privd *d, tun_privpeer *w, const uint8_t *msg, size_t len, int *fds,
                            int nfds)
{
    ssh_cur in;
    d->req_from = w;
    uint32_t type, id;
    uint64_t token;
    ssh_cur_init(&in, msg, len);
    if (ssh_cur_get_u32(&in, &type) != 0 || ssh_cur_get_u32(&in, &id) != 0 ||
        ssh_cur_get_u64(&in, &token) != 0) {
        tun_error("sshtund helper: malformed request from worker %d", w->index);
        goto out;
    }
    pconn *c = privd_conn_find(d, w, token);
    switch (type) {
    case TUN_PRIV_CONN_NEW: {
        /* An optional PROXY header after the token (tun_privproto.h). */
        const uint8_t *hdr = NULL;
        size_t hlen = 0;
        int ok = nfds == 1;
        if (ok && in.len > 0)
            ok = ssh_cur_get_string(&in, &hdr, &hlen) == 0 && hlen <= TUN_PROXY_MAX;
        int rv = -1;
        if (ok && ssh_cur_end(&in) == 0)
            rv = conn_new(d, token, fds[0], hdr, hlen);
        else
            tun_error("sshtund helper: malformed CONN_NEW");
        if (d->global_startups)
            verdict_event(d, token, rv == 0);
        break;
    }
    case TUN_PRIV_CONN_END:
        if (c != NULL)
            conn_end(d, w, token);
        break;
    case TUN_PRIV_AUTH:
        privd_auth(d, id, c, &in);
        break;
    case TUN_PRIV_SPAWN:
        do_spawn(d, id, c, &in);
        break;
    case TUN_PRIV_SIGNAL:
        do_signal(d, c, &in);
        break;
    case TUN_PRIV_UNIX:
        do_unix(d, id, c, &in);
        break;
    case TUN_PRIV_LOAD:
        do_load(d, id, &in);
        break;
    case TUN_PRIV_SIGN:
        privd_sign(d, id, c, &in);
        break;
    case TUN_PRIV_AGENT:
        privd_agent(d, id, c, &in);
        break;
    case TUN_PRIV_X11:
        privd_x11(d, id, c, &in);
        break;
    case TUN_PRIV_SESS_END:
        privd_sess_end(d, c, &in);
        break;
    case TUN_PRIV_PROVE:
        privd_prove(d, id, c, &in);
        break;
    default:
        tun_error("sshtund helper: unknown request %u from worker %d", type, w->index);
        break;
    }
out:
    d->req_from = NULL;
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
}

/* The password workers must not keep the host keys the helper holds. */
static void scrub_settings(void *arg)
{
    tun_privd *d = arg;
    tun_srvsettings_unref(d->set);
    d->set = NULL;
}

tun_privd *tun_privd_new(struct ev_loop *loop, int root, struct tun_srvsettings *set,
                         const tun_priv_conf *conf, tun_privd_send_fn send, void *send_arg)
{
    tun_privd *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->loop = loop;
    d->root = root;
    d->self_uid = getuid();
    d->set = tun_srvsettings_ref(set);
    if (conf)
        d->conf = *conf;
    if (send != NULL && tun_privd_peer_add(d, 0, (long)getpid(), send, send_arg) == NULL) {
        free(d);
        return NULL;
    }
    uint32_t wuid = 0, wgid = 0;
    if (root)
        privd_unprivileged_ids(set->cfg.sshtund_user, &wuid, &wgid);
    /* A SHA-512 crypt hash (the method Debian's login.defs sets) of a
     * random password nobody knows. */
    {
        unsigned char rnd[24];
        char pw[64], salt[32];
        static const char b64[] =
            "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        RAND_bytes(rnd, sizeof(rnd));
        for (size_t i = 0; i < 16; i++)
            salt[i] = b64[rnd[i] & 63];
        salt[16] = '\0';
        snprintf(pw, sizeof(pw), "%02x%02x%02x%02x%02x%02x%02x%02x", rnd[16], rnd[17], rnd[18],
                 rnd[19], rnd[20], rnd[21], rnd[22], rnd[23]);
        char setting[64];
        snprintf(setting, sizeof(setting), "$6$%s$", salt);
        struct crypt_data cd;
        memset(&cd, 0, sizeof(cd));
        const char *h = crypt_r(pw, setting, &cd);
        snprintf(d->decoy_hash, sizeof(d->decoy_hash), "%s", h && h[0] != '*' ? h : "*");
        OPENSSL_cleanse(&cd, sizeof(cd));
        OPENSSL_cleanse(pw, sizeof(pw));
    }
    d->pw = tun_pwpool_new(loop, TUN_PWPOOL_WORKERS, wuid, wgid, scrub_settings, d);
    if (d->pw == NULL) {
        tun_srvsettings_unref(d->set);
        free(d);
        return NULL;
    }
    return d;
}

void tun_privd_free(tun_privd *d)
{
    if (d == NULL)
        return;
    for (unsigned b = 0; b < PRIVD_CONN_BUCKETS; b++) {
        while (d->conns[b]) {
            pconn *c = d->conns[b];
            d->conns[b] = c->next;
            conn_free(d, c);
        }
    }
    while (d->children) {
        pchild *ch = d->children;
        d->children = ch->next;
        kill(-ch->pid, SIGHUP);
        kill(ch->pid, SIGHUP);
        ev_child_stop(d->loop, &ch->w);
        free(ch);
    }
    tun_pwpool_free(d->pw);
    tun_srvsettings_unref(d->set);
    while (d->peers) {
        tun_privpeer *w = d->peers;
        d->peers = w->next;
        free(w);
    }
    free(d);
}
