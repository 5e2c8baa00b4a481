/*
 * tun_server.c - sshtund's listening side (see tun_srv.h).
 *
 * MaxStartups (tun_startups.h) is applied here with one worker; with
 * several, each worker's share would not be the server's limit, so the
 * privileged helper, which sees every worker's connections, applies it
 * and tells the worker to drop (tun_priv.h's drop callback).
 */
#include "tun_srv.h"
#include "tun_log.h"
#include "tun_startups.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define EARLY_EXITS 64

/* Exits reported before their session knew its pid (the spawn reply and
 * the exit can race in one loop iteration). */
static struct {
    pid_t pid;
    int status;
} early[EARLY_EXITS];
static unsigned early_next;

tun_srvsettings *tun_srvsettings_ref(tun_srvsettings *s)
{
    s->refs++;
    return s;
}

void tun_srvsettings_unref(tun_srvsettings *s)
{
    if (s == NULL || --s->refs > 0)
        return;
    for (size_t i = 0; i < s->n_keys; i++)
        ssh_key_free(s->keys[i]);
    for (int i = 0; i < s->n_banners; i++) {
        free(s->banner_path[i]);
        free(s->banner_text[i]);
    }
    tun_srvcfg_free(&s->cfg);
    free(s);
}

/* ---- session processes by pid -------------------------------------------------------------------- */

static unsigned bucket(pid_t pid)
{
    return (unsigned)pid % TUN_SRV_PID_BUCKETS;
}

void tun_server_pid_add(tun_server *s, tun_srvsess *ss)
{
    pid_t pid = tun_srvsess_pid(ss);
    for (unsigned i = 0; i < EARLY_EXITS; i++) {
        if (early[i].pid == pid && pid > 0) {
            early[i].pid = 0;
            tun_srvsess_set_next_by_pid(ss, NULL);
            /* Not in the table: tun_srvsess_exited's removal is a no-op. */
            tun_srvsess_exited(ss, early[i].status);
            return;
        }
    }
    unsigned b = bucket(pid);
    tun_srvsess_set_next_by_pid(ss, s->by_pid[b]);
    s->by_pid[b] = ss;
}

void tun_server_pid_del(tun_server *s, tun_srvsess *ss)
{
    unsigned b = bucket(tun_srvsess_pid(ss));
    tun_srvsess *prev = NULL;
    for (tun_srvsess *cur = s->by_pid[b]; cur; prev = cur, cur = tun_srvsess_next_by_pid(cur)) {
        if (cur != ss)
            continue;
        if (prev)
            tun_srvsess_set_next_by_pid(prev, tun_srvsess_next_by_pid(cur));
        else
            s->by_pid[b] = tun_srvsess_next_by_pid(cur);
        tun_srvsess_set_next_by_pid(cur, NULL);
        return;
    }
}

void tun_server_child_exited(void *arg, pid_t pid, int status)
{
    tun_server *s = arg;
    for (tun_srvsess *ss = s->by_pid[bucket(pid)]; ss; ss = tun_srvsess_next_by_pid(ss)) {
        if (tun_srvsess_pid(ss) == pid) {
            tun_srvsess_exited(ss, status);
            return;
        }
    }
    early[early_next % EARLY_EXITS].pid = pid;
    early[early_next % EARLY_EXITS].status = status;
    early_next++;
}

/* ---- accepting -------------------------------------------------------------------------------------- */

static int past_max_startups(tun_server *s)
{
    /* Several workers: the helper decides for all of them (EV_DROP). */
    if (s->workers > 1)
        return 0;
    return tun_max_startups_drop(&s->set->cfg, s->n_unauth + s->n_proxying,
                                 tun_max_startups_rand());
}

/* A listening socket and the address it is bound to: whether its
 * connections start with a PROXY protocol header (tun_srvproxy.c) is
 * decided from that address under the settings in force at each accept,
 * as the privileged helper decides it under its own (both change together
 * on SIGHUP). */
typedef struct listener {
    tun_acceptor a; /* first: the server's list holds these as acceptors */
    struct sockaddr_storage addr;
    int have_addr;
} listener;

static void on_accept(tun_acceptor *a, int fd, const struct sockaddr_storage *peer,
                      socklen_t peerlen)
{
    (void)peerlen;
    tun_server *s = a->data;
    if (s->stopping) {
        close(fd);
        return;
    }
    s->n_accepted++;
    if (past_max_startups(s)) {
        char host[64];
        int port;
        tun_sockaddr_desc(peer, host, sizeof(host), &port);
        s->n_dropped++;
        tun_info("drop connection #%llu from [%s]:%d past MaxStartups (%u unauthenticated)",
                 (unsigned long long)s->n_accepted, host, port, s->n_unauth);
        close(fd);
        return;
    }
    const listener *l = (const listener *)a;
    if (l->have_addr && tun_srvcfg_listener_proxy(&s->set->cfg, &l->addr))
        tun_srvproxy_start(s, fd, peer);
    else
        tun_srvconn_new(s, fd, peer, NULL);
}

static int add_listener(tun_server *s, int fd, int worker)
{
    tun_acceptor **n = realloc(s->listeners, (s->n_listeners + 1) * sizeof(*n));
    if (n)
        s->listeners = n;
    int *o = realloc(s->listener_worker, (s->n_listeners + 1) * sizeof(*o));
    if (o)
        s->listener_worker = o;
    listener *l = calloc(1, sizeof(*l));
    if (n == NULL || o == NULL || l == NULL) {
        free(l);
        close(fd);
        return -1;
    }
    socklen_t ll = sizeof(l->addr);
    l->have_addr = getsockname(fd, (struct sockaddr *)&l->addr, &ll) == 0;
    if (l->have_addr && tun_srvcfg_listener_proxy(&s->set->cfg, &l->addr) && worker == 0) {
        char host[64];
        int port;
        tun_sockaddr_desc(&l->addr, host, sizeof(host), &port);
        tun_info("%s port %d: connections start with a PROXY protocol header, accepted from %s.",
                 host, port, s->set->cfg.proxy_from);
    }
    tun_acceptor_start(&l->a, s->loop, fd, on_accept, s);
    s->listener_worker[s->n_listeners] = worker;
    s->listeners[s->n_listeners++] = &l->a;
    return 0;
}

/* One socket per worker on the address (SO_REUSEPORT when several). */
static int bind_all(tun_server *s, int family, const void *addr, int port, char *err, size_t el)
{
    int n = s->workers > 1 ? s->workers : 1;
    for (int i = 0; i < n; i++) {
        int fd = tun_listen_tcp_shared(family, addr, port, n > 1, err, el);
        if (fd < 0)
            return fd;
        if (add_listener(s, fd, i) != 0)
            return -1;
    }
    return 0;
}

void tun_server_keep_listeners(tun_server *s, int index)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n_listeners; i++) {
        if (s->listener_worker[i] == index) {
            s->listener_worker[k] = index;
            s->listeners[k++] = s->listeners[i];
        } else {
            tun_acceptor_close(s->listeners[i]);
            free(s->listeners[i]);
        }
    }
    s->n_listeners = k;
}

void tun_server_verdict(void *arg, uint64_t serial, int accepted, unsigned n_unauth)
{
    tun_server *s = arg;
    for (tun_srvconn *sc = s->conns; sc; sc = sc->next) {
        if (sc->serial == serial) {
            if (accepted) {
                tun_srvconn_release(sc);
                return;
            }
            s->n_dropped++;
            tun_debug("connection from %s port %d dropped past MaxStartups (%u unauthenticated "
                      "in all workers)",
                      sc->ip, sc->port, n_unauth);
            tun_srvconn_free(sc);
            return;
        }
    }
}

/* "addr", "addr:port", "[v6]:port" (ListenAddress); -1 if malformed. */
static int split_listen(const char *spec, char *host, size_t hl, int *port)
{
    *port = 0;
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (end == NULL || (size_t)(end - spec - 1) >= hl)
            return -1;
        memcpy(host, spec + 1, (size_t)(end - spec - 1));
        host[end - spec - 1] = '\0';
        if (end[1] == ':')
            *port = atoi(end + 2);
        else if (end[1] != '\0')
            return -1;
        return 0;
    }
    const char *colon = strchr(spec, ':');
    if (colon && strchr(colon + 1, ':') == NULL) {
        if ((size_t)(colon - spec) >= hl)
            return -1;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        *port = atoi(colon + 1);
        return 0;
    }
    if (strlen(spec) >= hl)
        return -1;
    strcpy(host, spec);
    return 0;
}

static int listen_one(tun_server *s, const char *host, int port)
{
    int family;
    unsigned char addr[16];
    char err[256];
    if (!tun_parse_numeric(host, &family, addr)) {
        tun_error("ListenAddress %s: only numeric addresses are supported", host);
        return -1;
    }
    if (bind_all(s, family, addr, port, err, sizeof(err)) != 0) {
        tun_error("%s", err);
        return -1;
    }
    tun_info("Server listening on %s port %d.", host, port);
    return 0;
}

int tun_server_listen(tun_server *s)
{
    const tun_srvcfg *c = &s->set->cfg;
    int bad = 0;
    if (c->n_listen_addresses == 0) {
        /* sshd's default: every address of both families. */
        for (int i = 0; i < c->n_ports; i++) {
            if (c->address_family != AF_INET6 && listen_one(s, "0.0.0.0", c->ports[i]) != 0)
                bad++;
            if (c->address_family != AF_INET) {
                unsigned char a6[16] = {0};
                char err[256];
                int fd = bind_all(s, AF_INET6, a6, c->ports[i], err, sizeof(err));
                if (fd >= 0) {
                    tun_info("Server listening on :: port %d.", c->ports[i]);
                } else if (fd == -1) {
                    tun_error("%s", err);
                    bad++;
                }
            }
        }
    }
    for (int i = 0; i < c->n_listen_addresses; i++) {
        char host[256];
        int port;
        if (split_listen(c->listen_addresses[i], host, sizeof(host), &port) != 0) {
            tun_error("bad ListenAddress %s", c->listen_addresses[i]);
            bad++;
            continue;
        }
        if (port) {
            bad += listen_one(s, host, port) != 0;
            continue;
        }
        for (int j = 0; j < c->n_ports; j++)
            bad += listen_one(s, host, c->ports[j]) != 0;
    }
    if (s->n_listeners == 0) {
        tun_error("Cannot bind any address.");
        return -1;
    }
    return bad ? -1 : 0;
}

void tun_server_stop_listening(tun_server *s)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        tun_acceptor_close(s->listeners[i]);
        free(s->listeners[i]);
    }
    free(s->listeners);
    s->listeners = NULL;
    free(s->listener_worker);
    s->listener_worker = NULL;
    s->n_listeners = 0;
    s->stopping = 1;
    tun_srvproxy_close_all(s);
    if (s->n_conns == 0 && s->idle)
        s->idle(s);
}

void tun_server_set_settings(tun_server *s, tun_srvsettings *set)
{
    tun_srvsettings *old = s->set;
    s->set = tun_srvsettings_ref(set);
    if (old)
        tun_srvsettings_unref(old);
}

void tun_server_close_all(tun_server *s, const char *why)
{
    while (s->conns) {
        tun_srvconn *sc = s->conns;
        if (!sc->dead && !sc->held && sc->c && ssh_conn_error(sc->c) == 0) {
            ssh_conn_disconnect(sc->c, SSH_DISCONNECT_BY_APPLICATION, why);
            tun_transport_kick(&sc->t); /* best effort: the DISCONNECT */
        }
        tun_srvconn_free(sc);
    }
}

void tun_server_conn_authenticated(tun_server *s)
{
    if (s->n_unauth > 0)
        s->n_unauth--;
}

void tun_server_conn_gone(tun_server *s, tun_srvconn *sc)
{
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        s->conns = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    s->n_conns--;
    if (!sc->authenticated && s->n_unauth > 0)
        s->n_unauth--;
    if (s->stopping && s->n_conns == 0 && s->idle)
        s->idle(s);
}
