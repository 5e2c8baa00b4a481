/*
 * tun_resolve.c - c-ares driven by libev.
 *
 * c-ares tells us which sockets it wants watched through the socket state
 * callback; we keep one ev_io per socket in a small list.  After every
 * socket event and every timer expiry, the timer is re-armed to
 * ares_timeout(), so c-ares' own retry schedule is followed exactly.
 *
 * A lookup cannot be cancelled individually in c-ares; cancelling just
 * detaches the caller, and the lookup record is freed when c-ares reports.
 *
 * Literal addresses never reach c-ares: the c-ares of Debian 12 (1.18)
 * sends a DNS query even for "127.0.0.1" when the family is AF_UNSPEC,
 * which is slow, depends on a reachable DNS server and can stall under
 * load.  They are parsed with inet_pton() and answered from the loop.
 */
#include "tun_resolve.h"
#include "tun_log.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct sockw {
    ev_io io;
    struct sockw *next;
    tun_resolver *r;
} sockw;

struct tun_resolver {
    struct ev_loop *loop;
    ares_channel ch;
    ev_timer timer;
    sockw *socks;
};

struct tun_lookup {
    tun_resolver *r;
    tun_resolve_cb cb;
    tun_resolve_canon_cb ccb; /* instead of cb: the canonical name too */
    char *host;               /* ccb: the name asked for */
    char *canon;              /* ccb: its canonical name, if another */
    void *arg;
    int cancelled;
    int starting; /* inside ares_getaddrinfo(): deliver from the loop */
    ev_timer later;
    tun_addr *addrs;
    size_t n;
    const char *err;
};

static void rearm(tun_resolver *r)
{
    struct timeval tv, *tvp = ares_timeout(r->ch, NULL, &tv);
    ev_timer_stop(r->loop, &r->timer);
    if (tvp != NULL) {
        ev_timer_set(&r->timer, (double)tvp->tv_sec + tvp->tv_usec / 1e6, 0.);
        ev_timer_start(r->loop, &r->timer);
    }
}

static void on_sock(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    sockw *s = (sockw *)w;
    tun_resolver *r = s->r;
    ares_process_fd(r->ch, (revents & EV_READ) ? w->fd : ARES_SOCKET_BAD,
                    (revents & EV_WRITE) ? w->fd : ARES_SOCKET_BAD);
    rearm(r);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_resolver *r = w->data;
    ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm(r);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    tun_resolver *r = data;
    sockw **pp = &r->socks, *s;
    while ((s = *pp) != NULL && s->io.fd != fd)
        pp = &s->next;
    if (!readable && !writable) {
        if (s) {
            ev_io_stop(r->loop, &s->io);
            *pp = s->next;
            free(s);
        }
        return;
    }
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            return; /* the lookup then times out */
        s->r = r;
        s->next = r->socks;
        r->socks = s;
        ev_io_init(&s->io, on_sock, fd, 0);
    }
    ev_io_stop(r->loop, &s->io);
    ev_io_set(&s->io, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
    ev_io_start(r->loop, &s->io);
}

tun_resolver *tun_resolver_new(struct ev_loop *loop)
{
    return tun_resolver_new_flags(loop, 0);
}

tun_resolver *tun_resolver_new_flags(struct ev_loop *loop, unsigned flags)
{
    static int lib_init;
    if (!lib_init) {
        if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
            tun_error("c-ares initialisation failed");
            return NULL;
        }
        lib_init = 1;
    }
    tun_resolver *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->loop = loop;
    struct ares_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.sock_state_cb = sock_state;
    opt.sock_state_cb_data = r;
    int mask = ARES_OPT_SOCK_STATE_CB;
    if (flags & TUN_RESOLVE_NOSEARCH) {
        opt.flags = ARES_FLAG_NOSEARCH;
        mask |= ARES_OPT_FLAGS;
    }
    int st = ares_init_options(&r->ch, &opt, mask);
    if (st != ARES_SUCCESS) {
        tun_error("c-ares: %s", ares_strerror(st));
        free(r);
        return NULL;
    }
    ev_timer_init(&r->timer, on_timer, 0., 0.);
    r->timer.data = r;
    return r;
}

void tun_resolver_free(tun_resolver *r)
{
    if (r == NULL)
        return;
    /* Destroying the channel runs pending callbacks with ARES_EDESTRUCTION,
     * which free their lookup records. */
    ares_destroy(r->ch);
    ev_timer_stop(r->loop, &r->timer);
    while (r->socks) {
        sockw *s = r->socks;
        r->socks = s->next;
        ev_io_stop(r->loop, &s->io);
        free(s);
    }
    free(r);
}

static const char *reason(int status)
{
    switch (status) {
    case ARES_ENOTFOUND:
    case ARES_ENONAME:
    case ARES_ENODATA: return "Name or service not known";
    case ARES_ETIMEOUT: return "Temporary failure in name resolution";
    default: return ares_strerror(status);
    }
}

static void deliver(tun_lookup *l, const tun_addr *addrs, size_t n, const char *err)
{
    if (l->ccb)
        l->ccb(l->arg, addrs, n, n ? l->canon : NULL, err);
    else
        l->cb(l->arg, addrs, n, err);
}

static void lookup_free(tun_lookup *l)
{
    free(l->addrs);
    free(l->host);
    free(l->canon);
    free(l);
}

/* Where the CNAME records lead from the name asked for (compared without
 * case or a trailing dot).  The chain is bounded by the answer's length;
 * a loop stops after as many steps as there are records. */
static void find_canon(tun_lookup *l, const struct ares_addrinfo *res)
{
    const char *cur = l->host;
    size_t steps = 0, nrec = 0;
    for (const struct ares_addrinfo_cname *c = res->cnames; c; c = c->next)
        nrec++;
    while (steps++ < nrec) {
        const struct ares_addrinfo_cname *hit = NULL;
        for (const struct ares_addrinfo_cname *c = res->cnames; c && !hit; c = c->next) {
            size_t al = c->alias ? strlen(c->alias) : 0, cl = strlen(cur);
            if (al && c->alias[al - 1] == '.')
                al--;
            if (cl && cur[cl - 1] == '.')
                cl--;
            if (c->name && al == cl && strncasecmp(c->alias, cur, al) == 0)
                hit = c;
        }
        if (hit == NULL)
            break;
        cur = hit->name;
    }
    if (cur == l->host)
        return;
    size_t n = strlen(cur);
    if (n && cur[n - 1] == '.')
        n--;
    if ((l->canon = malloc(n + 1)) != NULL) {
        memcpy(l->canon, cur, n);
        l->canon[n] = '\0';
    }
}

static void on_result(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    tun_lookup *l = arg;
    if (l->ccb && status == ARES_SUCCESS && res != NULL)
        find_canon(l, res);
    tun_addr *addrs = NULL;
    size_t n = 0;
    if (status == ARES_SUCCESS && res != NULL) {
        size_t cap = 0;
        for (struct ares_addrinfo_node *nd = res->nodes; nd; nd = nd->ai_next)
            cap++;
        addrs = calloc(cap ? cap : 1, sizeof(*addrs));
        for (struct ares_addrinfo_node *nd = res->nodes; addrs && nd; nd = nd->ai_next) {
            if (nd->ai_addrlen > sizeof(addrs[n].ss))
                continue;
            /* The same address can come back once per socket type. */
            int dup = 0;
            for (size_t i = 0; i < n; i++)
                if (addrs[i].len == nd->ai_addrlen &&
                    memcmp(&addrs[i].ss, nd->ai_addr, nd->ai_addrlen) == 0)
                    dup = 1;
            if (dup)
                continue;
            memcpy(&addrs[n].ss, nd->ai_addr, nd->ai_addrlen);
            addrs[n].len = nd->ai_addrlen;
            n++;
        }
    }
    if (res)
        ares_freeaddrinfo(res);
    const char *err = n ? NULL : (status == ARES_SUCCESS ? "no addresses" : reason(status));
    if (l->starting && status != ARES_EDESTRUCTION) {
        /* Answered synchronously (a literal address or /etc/hosts): the
         * caller does not even hold the handle yet, so report from the
         * loop. */
        l->addrs = addrs;
        l->n = n;
        l->err = err;
        ev_timer_start(l->r->loop, &l->later);
        return;
    }
    if (!l->cancelled && status != ARES_EDESTRUCTION)
        deliver(l, addrs, n, err);
    free(addrs);
    l->addrs = NULL;
    lookup_free(l);
}

static void on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_lookup *l = w->data;
    if (!l->cancelled)
        deliver(l, l->addrs, l->n, l->err);
    lookup_free(l);
}

/* A numeric IPv4 or IPv6 address (IPv6 possibly with a %scope): fill in
 * l's answer and return 1; anything else: 0. */
static int literal(tun_lookup *l, const char *host, unsigned port, int family)
{
    struct in_addr a4;
    struct in6_addr a6;
    char buf[INET6_ADDRSTRLEN + 1];
    int is4 = inet_pton(AF_INET, host, &a4) == 1;
    int is6 = 0;
    if (!is4) {
        /* A scope id needs the interface table: leave those to c-ares. */
        if (strlen(host) >= sizeof(buf) || strchr(host, '%') != NULL)
            return 0;
        is6 = inet_pton(AF_INET6, host, &a6) == 1;
    }
    if (!is4 && !is6)
        return 0;
    if ((is4 && family == AF_INET6) || (is6 && family == AF_INET)) {
        l->err = "Address family for hostname not supported";
        return 1;
    }
    l->addrs = calloc(1, sizeof(*l->addrs));
    if (l->addrs == NULL) {
        l->err = "out of memory";
        return 1;
    }
    if (is4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&l->addrs[0].ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        sin->sin_addr = a4;
        l->addrs[0].len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->addrs[0].ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        sin6->sin6_addr = a6;
        l->addrs[0].len = sizeof(*sin6);
    }
    l->n = 1;
    return 1;
}

static tun_lookup *start(tun_resolver *r, const char *host, unsigned port, int family,
                         tun_resolve_cb cb, tun_resolve_canon_cb ccb, void *arg)
{
    tun_lookup *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->r = r;
    l->cb = cb;
    l->ccb = ccb;
    l->arg = arg;
    if (ccb && (l->host = strdup(host)) == NULL) {
        free(l);
        return NULL;
    }
    ev_timer_init(&l->later, on_later, 0., 0.);
    l->later.data = l;
    if (literal(l, host, port, family)) {
        ev_timer_start(r->loop, &l->later);
        return l;
    }
    char service[16];
    snprintf(service, sizeof(service), "%u", port);
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = ARES_AI_NUMERICSERV | (ccb ? ARES_AI_CANONNAME : 0);
    l->starting = 1;
    ares_getaddrinfo(r->ch, host, service, &hints, on_result, l);
    l->starting = 0;
    rearm(r);
    return l;
}

tun_lookup *tun_resolve(tun_resolver *r, const char *host, unsigned port, int family,
                        tun_resolve_cb cb, void *arg)
{
    return start(r, host, port, family, cb, NULL, arg);
}

tun_lookup *tun_resolve_canon(tun_resolver *r, const char *host, unsigned port, int family,
                              tun_resolve_canon_cb cb, void *arg)
{
    return start(r, host, port, family, NULL, cb, arg);
}

void tun_resolve_cancel(tun_lookup *l)
{
    if (l)
        l->cancelled = 1;
}
