/*
 * tun_srvconn.c - one client connection of sshtund (see tun_srv.h).
 *
 * Authentication never blocks the loop: every request the engine asks
 * about is deferred while the privileged side (tun_priv) looks the user
 * up, reads authorized_keys or checks a password, and decided when the
 * answer arrives.  The engine pauses the connection's input meanwhile, so
 * requests are answered in order without being queued here.
 *
 * Refusals say why, in words a user can act on: the rule that refused a
 * forward, the limit that refused a session.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_srv.h"
#include "tun_log.h"
#include "tun_util.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "sshtun/cert.h"

#ifndef SSHTUN_VERSION
#define SSHTUN_VERSION "0"
#endif

static uint64_t next_serial;

/* ---- small helpers ---------------------------------------------------------------------------- */

/* Seconds with an optional s/m/h/d/w suffix ("5m"); -1 if malformed. */
static int parse_interval(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0)
        return -1;
    long mul = 1;
    switch (*end) {
    case '\0': case 's': case 'S': break;
    case 'm': case 'M': mul = 60; break;
    case 'h': case 'H': mul = 3600; break;
    case 'd': case 'D': mul = 86400; break;
    case 'w': case 'W': mul = 604800; break;
    default: return -1;
    }
    if (*end && end[1] != '\0')
        return -1;
    if (v > 0x7fffffffL / mul)
        return -1;
    return (int)(v * mul);
}

/* ChannelTimeout for a channel type ("session", "direct-tcpip", ...; "global"
 * for the connection as a whole); 0 none. */
static int channel_timeout_for(const tun_srvopts *o, const char *type)
{
    for (int i = 0; i < o->n_channel_timeout; i++) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", o->channel_timeout[i]);
        char *eq = strchr(buf, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        if (strcmp(type, "global") == 0 ? strcmp(buf, "global") != 0
                                        : (strcmp(buf, "global") == 0 || fnmatch(buf, type, 0) != 0))
            continue;
        int v = parse_interval(eq + 1);
        return v > 0 ? v : 0;
    }
    return 0;
}

static void set_opts(tun_srvconn *sc, const char *user)
{
    if (sc->have_opts)
        tun_srvopts_release(&sc->opts);
    tun_srvcfg_for(&sc->set->cfg, user, sc->ip, &sc->opts);
    sc->have_opts = 1;
    char m[64] = "";
    if (sc->opts.pubkey_authentication)
        strcat(m, "publickey");
    if (sc->opts.password_authentication)
        strcat(m, m[0] ? ",password" : "password");
    snprintf(sc->methods, sizeof(sc->methods), "%s", m);
    if (sc->c)
        ssh_auth_set_methods(sc->c, sc->methods);
}

/* ---- the end of a connection --------------------------------------------------------------------- */

static void reap(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_srvconn_free(w->data);
}

static void on_dead(tun_transport *t, int err, void *arg)
{
    (void)t;
    tun_srvconn *sc = arg;
    if (sc->dead)
        return;
    sc->dead = 1;
    if (sc->authenticated)
        tun_verbose("Disconnected from user %s %s port %d", sc->user.name, sc->ip, sc->port);
    else
        tun_verbose("Connection closed by %s port %d%s%s", sc->ip, sc->port,
                    err && err != SSH_ERR_CLOSED && err != SSH_ERR_CONN_LOST ? ": " : "",
                    err && err != SSH_ERR_CLOSED && err != SSH_ERR_CONN_LOST ? ssh_strerror(err)
                                                                              : "");
    /* Free from the loop, not from deep inside a callback chain that may
     * still hold pointers into this connection. */
    ev_timer_stop(sc->srv->loop, &sc->unused_timer);
    ev_timer_stop(sc->srv->loop, &sc->sweep_timer);
    ev_timer_init(&sc->sweep_timer, reap, 0., 0.);
    sc->sweep_timer.data = sc;
    ev_timer_start(sc->srv->loop, &sc->sweep_timer);
}

void tun_srvconn_disconnect(tun_srvconn *sc, const char *why)
{
    if (sc->dead || sc->c == NULL || sc->held)
        return;
    if (ssh_conn_error(sc->c) == 0)
        ssh_conn_disconnect(sc->c, SSH_DISCONNECT_BY_APPLICATION, why);
    tun_transport_kick(&sc->t);
}

void tun_srvconn_free(tun_srvconn *sc)
{
    tun_server *s = sc->srv;
    tun_priv_cancel(s->priv, sc);
    ev_timer_stop(s->loop, &sc->unused_timer);
    ev_timer_stop(s->loop, &sc->sweep_timer);
    while (sc->chans)
        sc->chans->destroy(sc->chans); /* detaches it */
    tun_srvfwd_close_listeners(sc);
    tun_priv_conn_end(s->priv, sc->serial);
    if (sc->held)
        close(sc->fd); /* never started: no transport */
    else
        tun_transport_close(&sc->t);
    if (sc->c)
        ssh_conn_free(sc->c);
    if (sc->have_opts)
        tun_srvopts_release(&sc->opts);
    if (sc->have_kopts)
        tun_keyopts_free(&sc->kopts);
    tun_server_conn_gone(s, sc);
    tun_srvsettings_unref(sc->set);
    free(sc);
}

/* ---- engine callbacks ------------------------------------------------------------------------------ */

static void on_rand(void *user, uint8_t *buf, size_t n)
{
    (void)user;
    if (RAND_bytes(buf, (int)n) != 1)
        abort(); /* no randomness: nothing safe to do */
}

static void on_log(ssh_conn *c, int level, const char *msg, void *user)
{
    (void)c;
    tun_srvconn *sc = user;
    int lvl = level <= 1 ? TUN_LOG_DEBUG1 : level == 2 ? TUN_LOG_DEBUG2 : TUN_LOG_DEBUG3;
    tun_log(lvl, "[%s port %d] %s", sc->ip, sc->port, msg);
}

static void on_disconnect(ssh_conn *c, int err, uint32_t reason, const char *msg, void *user)
{
    (void)c;
    (void)reason;
    tun_srvconn *sc = user;
    if (err == SSH_ERR_DISCONNECTED)
        tun_verbose("Received disconnect from %s port %d: %s", sc->ip, sc->port,
                    msg && *msg ? msg : "(no reason)");
    else if (err == SSH_ERR_AUTH_TOO_MANY)
        tun_info("Disconnecting %s user %s %s port %d: Too many authentication failures",
                 sc->user.found ? "authenticating" : "invalid", sc->user.name, sc->ip,
                 sc->port);
    else if (err == SSH_ERR_TIMEOUT && !sc->authenticated)
        tun_info("Timeout before authentication for %s port %d", sc->ip, sc->port);
    else if (err == SSH_ERR_TIMEOUT)
        tun_info("Timeout, client not responding from user %s %s port %d", sc->user.name,
                 sc->ip, sc->port);
    else if (err != SSH_ERR_CONN_LOST && err != SSH_ERR_CLOSED)
        tun_info("Connection from %s port %d: %s%s%s", sc->ip, sc->port, ssh_strerror(err),
                 msg && *msg ? ": " : "", msg ? msg : "");
}

/* ---- authentication ---------------------------------------------------------------------------------- */

/* Every decision is the privileged side's (tun_priv.h): this side only
 * relays what the client sent and tells the engine the verdict.  "none"
 * and keyboard-interactive can never succeed, so they are refused here
 * without asking. */

static void finish_auth(tun_srvconn *sc, int decision)
{
    sc->auth_busy = 0;
    if (sc->dead)
        return;
    ssh_auth_decide(sc->c, decision);
    tun_transport_kick(&sc->t);
}

static void on_auth_result(void *arg, const tun_auth_result *r)
{
    tun_srvconn *sc = arg;
    if (!r->ok) {
        finish_auth(sc, SSH_AUTH_REJECT);
        return;
    }
    if (sc->auth_query) {
        finish_auth(sc, SSH_AUTH_ACCEPT);
        return;
    }
    sc->user.uid = r->uid;
    sc->user.found = 1;
    if (sc->have_kopts)
        tun_keyopts_free(&sc->kopts);
    sc->have_kopts = tun_keyopts_copy(&sc->kopts, &r->opts) == 0;
    if (!sc->have_kopts) {
        /* Without the key's restrictions this side would allow more than
         * it should: better no login. */
        tun_srvconn_disconnect(sc, "out of memory");
        finish_auth(sc, SSH_AUTH_REJECT);
        return;
    }
    finish_auth(sc, SSH_AUTH_ACCEPT);
}

/* Banner, as sshd: once, before the answer to the first request (the user
 * it names may choose it by Match; an unknown user gets it too, so as to
 * look no different).  The file was read with the configuration, on the
 * privileged side (sshtund_main.c). */
static void send_banner(tun_srvconn *sc)
{
    if (sc->opts.banner == NULL)
        return;
    for (int i = 0; i < sc->set->n_banners; i++) {
        if (strcmp(sc->set->banner_path[i], sc->opts.banner) == 0) {
            if (sc->set->banner_text[i] != NULL && sc->set->banner_text[i][0] != '\0')
                ssh_auth_banner(sc->c, sc->set->banner_text[i]);
            return;
        }
    }
}

static int on_auth_request(ssh_conn *c, const ssh_auth_request *r, void *user)
{
    (void)c;
    tun_srvconn *sc = user;
    if (!sc->have_user) {
        sc->have_user = 1;
        snprintf(sc->user.name, sizeof(sc->user.name), "%s", r->user);
        set_opts(sc, sc->user.name); /* the methods offered, per Match User */
        send_banner(sc);
    }
    if (r->method != SSH_AUTH_PUBLICKEY && r->method != SSH_AUTH_PASSWORD)
        return SSH_AUTH_REJECT;
    tun_auth_req q = {0};
    ssh_buf b;
    ssh_buf_init(&b, 64 * 1024, 0);
    q.user = r->user;
    if (r->method == SSH_AUTH_PASSWORD) {
        if (r->password == NULL)
            return SSH_AUTH_REJECT;
        q.kind = TUN_AUTH_PASSWORD;
        q.password = r->password;
    } else {
        q.kind = r->has_signature ? TUN_AUTH_PUBKEY : TUN_AUTH_PUBKEY_QUERY;
        q.alg = r->key_alg;
        if (ssh_key_to_blob(r->key, &b) != 0) {
            ssh_buf_free(&b);
            return SSH_AUTH_REJECT;
        }
        q.blob = ssh_buf_ptr(&b);
        q.bloblen = ssh_buf_len(&b);
        if (r->has_signature) {
            q.sig = r->signature;
            q.siglen = r->signature_len;
            q.data = r->signed_data;
            q.datalen = r->signed_len;
        }
    }
    sc->auth_query = q.kind == TUN_AUTH_PUBKEY_QUERY;
    int rv = tun_priv_auth(sc->srv->priv, sc->serial, &q, on_auth_result, sc);
    ssh_buf_free(&b);
    if (rv != 0)
        return SSH_AUTH_REJECT;
    sc->auth_busy = 1;
    return SSH_AUTH_DEFER;
}

/* ---- the host key's signature ----------------------------------------------------------------- */

/* The private host keys are the privileged side's: it signs the exchange
 * hash (and takes the first one as the connection's session id). */
static void on_signed(void *arg, const uint8_t *sig, size_t len)
{
    tun_srvconn *sc = arg;
    if (sc->dead)
        return;
    if (sig == NULL)
        tun_error("%s port %d: the privileged helper refused to sign the key exchange", sc->ip,
                  sc->port);
    ssh_conn_hostkey_signed(sc->c, sig, len);
    tun_transport_kick(&sc->t);
}

static int on_hostkey_sign(ssh_conn *c, const ssh_key *key, const char *alg, const uint8_t *h,
                           size_t hlen, ssh_buf *sig, void *user)
{
    (void)c;
    (void)sig;
    tun_srvconn *sc = user;
    ssh_buf blob;
    ssh_buf_init(&blob, 16384, 0);
    int rv = ssh_key_to_blob(key, &blob);
    if (rv == 0)
        rv = tun_priv_sign(sc->srv->priv, sc->serial, ssh_buf_ptr(&blob), ssh_buf_len(&blob), alg,
                           h, hlen, on_signed, sc);
    ssh_buf_free(&blob);
    return rv == 0 ? SSH_DEFERRED : rv;
}

static void on_unused_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_srvconn *sc = w->data;
    tun_info("Connection from user %s %s port %d: no open channels for %d seconds (UnusedConnectionTimeout)",
             sc->user.name, sc->ip, sc->port, sc->opts.unused_connection_timeout);
    tun_srvconn_disconnect(sc, "unused connection timeout");
}

static void update_unused_timer(tun_srvconn *sc)
{
    if (sc->dead || !sc->authenticated || sc->opts.unused_connection_timeout <= 0)
        return;
    if (sc->n_chans == 0 && !ev_is_active(&sc->unused_timer)) {
        ev_timer_set(&sc->unused_timer, sc->opts.unused_connection_timeout, 0.);
        ev_timer_start(sc->srv->loop, &sc->unused_timer);
    } else if (sc->n_chans > 0) {
        ev_timer_stop(sc->srv->loop, &sc->unused_timer);
    }
}

/* hostkeys-00@openssh.com (OpenSSH's PROTOCOL 2.5): after authentication,
 * tell the client every plain host key we have, so that a client with
 * UpdateHostKeys can learn keys it does not know yet (key rotation).
 * Certificates are left out, as sshd leaves them out. */
static void send_hostkeys(tun_srvconn *sc)
{
    ssh_buf body, blob;
    ssh_buf_init(&body, 256 * 1024, 0);
    ssh_buf_init(&blob, 65536, 0);
    int n = 0;
    for (size_t i = 0; i < sc->set->n_keys; i++) {
        if (ssh_key_is_cert(sc->set->keys[i]))
            continue;
        ssh_buf_reset(&blob);
        if (ssh_key_to_blob(sc->set->keys[i], &blob) != 0 || ssh_buf_put_stringb(&body, &blob) != 0)
            continue;
        n++;
    }
    if (n > 0 && ssh_global_request(sc->c, "hostkeys-00@openssh.com", 0, ssh_buf_ptr(&body),
                                    ssh_buf_len(&body), NULL) != 0)
        tun_debug("%s port %d: could not send hostkeys-00", sc->ip, sc->port);
    ssh_buf_free(&body);
    ssh_buf_free(&blob);
}

/* The helper's answer to hostkeys-prove-00: the signatures, or a refusal. */
static void on_proved(void *arg, const uint8_t *sigs, size_t len)
{
    tun_srvconn *sc = arg;
    if (sc->dead)
        return;
    ssh_global_request_reply(sc->c, sigs != NULL, sigs, sigs ? len : 0);
    tun_transport_kick(&sc->t);
}

static void on_auth_success(ssh_conn *c, const char *user, void *user_data)
{
    (void)c;
    (void)user;
    tun_srvconn *sc = user_data;
    sc->authenticated = 1;
    send_hostkeys(sc);
    tun_server_conn_authenticated(sc->srv);
    sc->min_chan_timeout = 0;
    update_unused_timer(sc);
}

/* ---- channels ----------------------------------------------------------------------------------------- */

static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    tun_srvconn *sc = w->data;
    ev_tstamp now = ev_now(loop);
    int global = channel_timeout_for(&sc->opts, "global");
    ev_tstamp newest = 0;
    for (tun_srvchan *ch = sc->chans; ch; ch = ch->next) {
        uint64_t b = ch->pipe.bytes_in + ch->pipe.bytes_out;
        if (b != ch->seen_bytes) {
            ch->seen_bytes = b;
            ch->last_active = now;
        }
        if (ch->last_active > newest)
            newest = ch->last_active;
    }
    int closing_all = global > 0 && sc->chans && now - newest >= global;
    for (tun_srvchan *ch = sc->chans; ch; ch = ch->next) {
        if (!ch->has_id || !ch->pipe.base.open)
            continue;
        if (closing_all || (ch->timeout > 0 && now - ch->last_active >= ch->timeout)) {
            tun_verbose("channel %u: closing after %.0f seconds of inactivity (ChannelTimeout)",
                        ch->id, now - ch->last_active);
            ssh_channel_close(sc->c, ch->id);
        }
    }
    tun_transport_kick(&sc->t);
}

void tun_srvchan_attach(tun_srvconn *sc, tun_srvchan *ch, enum tun_srvchan_kind kind,
                        const char *type)
{
    ch->sc = sc;
    ch->kind = kind;
    ch->timeout = channel_timeout_for(&sc->opts, type);
    ch->last_active = ev_now(sc->srv->loop);
    ch->seen_bytes = 0;
    ch->prev = NULL;
    ch->next = sc->chans;
    if (sc->chans)
        sc->chans->prev = ch;
    sc->chans = ch;
    sc->n_chans++;
    if (kind == SC_SESSION)
        sc->n_sessions++;
    int g = channel_timeout_for(&sc->opts, "global");
    int t = ch->timeout;
    if (g > 0 && (t == 0 || g < t))
        t = g;
    if (t > 0 && (sc->min_chan_timeout == 0 || t < sc->min_chan_timeout)) {
        sc->min_chan_timeout = t;
        double every = t / 4.0 < 1.0 ? 1.0 : t / 4.0;
        ev_timer_stop(sc->srv->loop, &sc->sweep_timer);
        ev_timer_set(&sc->sweep_timer, every, every);
        ev_timer_start(sc->srv->loop, &sc->sweep_timer);
    }
    update_unused_timer(sc);
}

void tun_srvchan_detach(tun_srvchan *ch)
{
    tun_srvconn *sc = ch->sc;
    if (sc == NULL)
        return;
    if (ch->prev)
        ch->prev->next = ch->next;
    else
        sc->chans = ch->next;
    if (ch->next)
        ch->next->prev = ch->prev;
    ch->next = ch->prev = NULL;
    sc->n_chans--;
    if (ch->kind == SC_SESSION)
        sc->n_sessions--;
    tun_link_unblock(&sc->link, &ch->pipe.base);
    ch->sc = NULL;
    if (sc->n_chans == 0 && !sc->dead) {
        ev_timer_stop(sc->srv->loop, &sc->sweep_timer);
        sc->min_chan_timeout = 0;
    }
    update_unused_timer(sc);
}

int tun_srvconn_fwd_allowed(tun_srvconn *sc, int remote, int streamlocal, char *why, size_t whysz)
{
    int allow = streamlocal ? sc->opts.allow_streamlocal_forwarding : sc->opts.allow_tcp_forwarding;
    const char *kw = streamlocal ? "AllowStreamLocalForwarding" : "AllowTcpForwarding";
    if (allow == FWA_NO) {
        snprintf(why, whysz, "%s no", kw);
        return 0;
    }
    if (allow == FWA_LOCAL && remote) {
        snprintf(why, whysz, "%s local (remote forwarding disabled)", kw);
        return 0;
    }
    if (allow == FWA_REMOTE && !remote) {
        snprintf(why, whysz, "%s remote (local forwarding disabled)", kw);
        return 0;
    }
    if (sc->have_kopts && sc->kopts.no_port_forwarding) {
        snprintf(why, whysz, "no-port-forwarding in authorized_keys");
        return 0;
    }
    return 1;
}

static char whybuf[512];

static int on_channel_open(ssh_conn *c, uint32_t id, const ssh_channel_open_info *info,
                           const char **why, void *user)
{
    (void)c;
    tun_srvconn *sc = user;
    *why = whybuf;
    if (!sc->authenticated || sc->dead) {
        snprintf(whybuf, sizeof(whybuf), "not authenticated");
        return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
    }
    int maxch = sc->set->cfg.max_channels;
    if (maxch > 0 && sc->n_chans >= maxch) {
        snprintf(whybuf, sizeof(whybuf), "channel limit reached (MaxChannels %d)", maxch);
        tun_info("%s port %d: refused channel %s: %s", sc->ip, sc->port, info->type, whybuf);
        return -SSH_OPEN_RESOURCE_SHORTAGE;
    }
    char rule[256];
    switch (info->kind) {
    case SSH_CHAN_SESSION:
        if (sc->no_more_sessions) {
            snprintf(whybuf, sizeof(whybuf),
                     "no more sessions (the client sent no-more-sessions@openssh.com)");
            return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
        }
        if (sc->n_sessions >= sc->opts.max_sessions) {
            snprintf(whybuf, sizeof(whybuf), "session limit reached (MaxSessions %d)",
                     sc->opts.max_sessions);
            tun_info("%s port %d: refused session for %s: %s", sc->ip, sc->port, sc->user.name,
                     whybuf);
            return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
        }
        return tun_srvsess_open(sc, id, why);
    case SSH_CHAN_DIRECT_TCPIP:
    case SSH_CHAN_DIRECT_STREAMLOCAL: {
        int sl = info->kind == SSH_CHAN_DIRECT_STREAMLOCAL;
        if (!tun_srvconn_fwd_allowed(sc, 0, sl, rule, sizeof(rule))) {
            snprintf(whybuf, sizeof(whybuf), "%s forwarding refused by %s",
                     sl ? "streamlocal" : "port", rule);
            if (sl)
                tun_info("refused local forward for %s to %s: %s", sc->user.name, info->path,
                         rule);
            else
                tun_info("refused local forward for %s to %s port %u: %s", sc->user.name,
                         info->host, info->port, rule);
            return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
        }
        if (!sl) {
            if (sc->opts.n_permit_open &&
                !tun_permit_match(sc->opts.permit_open, sc->opts.n_permit_open, info->host,
                                  info->port)) {
                snprintf(whybuf, sizeof(whybuf), "%s:%u is not allowed by PermitOpen", info->host,
                         info->port);
                tun_info("refused direct-tcpip for %s: %s", sc->user.name, whybuf);
                return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
            }
            if (sc->have_kopts && sc->kopts.n_permitopen &&
                !tun_permit_match(sc->kopts.permitopen, sc->kopts.n_permitopen, info->host,
                                  info->port)) {
                snprintf(whybuf, sizeof(whybuf),
                         "%s:%u is not allowed by permitopen in authorized_keys", info->host,
                         info->port);
                tun_info("refused direct-tcpip for %s: %s", sc->user.name, whybuf);
                return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
            }
        }
        return tun_srvfwd_direct(sc, id, info, why);
    }
    default:
        snprintf(whybuf, sizeof(whybuf), "unknown channel type %s", info->type);
        return -SSH_OPEN_UNKNOWN_CHANNEL_TYPE;
    }
}

static int on_global_request(ssh_conn *c, const ssh_global_req *r, ssh_buf *reply, void *user)
{
    (void)c;
    tun_srvconn *sc = user;
    if (!sc->authenticated)
        return SSH_REQUEST_FAILURE;
    if (strcmp(r->name, "no-more-sessions@openssh.com") == 0) {
        sc->no_more_sessions = 1;
        return SSH_REQUEST_SUCCESS;
    }
    if (strcmp(r->name, "hostkeys-prove-00@openssh.com") == 0) {
        if (!r->want_reply)
            return SSH_REQUEST_FAILURE;
        if (tun_priv_prove(sc->srv->priv, sc->serial, r->data, r->data_len, on_proved, sc) != 0)
            return SSH_REQUEST_FAILURE;
        return SSH_REQUEST_DEFER;
    }
    if (strcmp(r->name, "tcpip-forward") == 0 || strcmp(r->name, "cancel-tcpip-forward") == 0 ||
        strcmp(r->name, "streamlocal-forward@openssh.com") == 0 ||
        strcmp(r->name, "cancel-streamlocal-forward@openssh.com") == 0)
        return tun_srvfwd_global(sc, r, reply);
    tun_debug("%s port %d: unsupported global request %s", sc->ip, sc->port, r->name);
    return SSH_REQUEST_FAILURE;
}

static void on_drained(tun_transport *t, void *arg)
{
    (void)t;
    tun_srvconn *sc = arg;
    tun_link_resume_all(&sc->link);
}

/* ---- creation ------------------------------------------------------------------------------------------ */

/* PerSourceMaxStartups: as many unauthenticated connections from the
 * client's block (PerSourceNetBlockSize) as the limit, or more?  Then the
 * new one is dropped with a log line, as MaxStartups drops.  The source is
 * the real client of a relayed connection (PROXY protocol), so one
 * balancer does not count as one source.  A walk over the connections:
 * only when the limit is set. */
static int over_per_source(tun_server *s, const struct sockaddr_storage *peer)
{
    const tun_srvcfg *c = &s->set->cfg;
    if (c->per_source_max_startups <= 0)
        return 0;
    int n = 0;
    for (tun_srvconn *sc = s->conns; sc; sc = sc->next)
        if (!sc->authenticated && !sc->dead && tun_srvcfg_same_source(c, &sc->src, peer))
            n++;
    if (n < c->per_source_max_startups)
        return 0;
    char host[64];
    int port;
    tun_sockaddr_desc(peer, host, sizeof(host), &port);
    s->n_dropped++;
    tun_info("drop connection #%llu from [%s]:%d past PerSourceMaxStartups (%d unauthenticated "
             "from its /%d)",
             (unsigned long long)s->n_accepted, host, port, n,
             peer->ss_family == AF_INET ? c->per_source_bits4 : c->per_source_bits6);
    return 1;
}

tun_srvconn *tun_srvconn_new(tun_server *s, int fd, const struct sockaddr_storage *peer,
                             const tun_srvorigin *o)
{
    /* (several workers: the helper applies it to all of them) */
    if (s->workers <= 1 && over_per_source(s, peer)) {
        close(fd);
        return NULL;
    }
    tun_srvconn *sc = calloc(1, sizeof(*sc));
    if (sc == NULL) {
        close(fd);
        return NULL;
    }
    sc->srv = s;
    sc->set = tun_srvsettings_ref(s->set);
    sc->serial = ++next_serial;
    sc->src = *peer;
    tun_sockaddr_desc(peer, sc->ip, sizeof(sc->ip), &sc->port);
    struct sockaddr_storage ls;
    socklen_t ll = sizeof(ls);
    if (o && o->local)
        tun_sockaddr_desc(o->local, sc->lip, sizeof(sc->lip), &sc->lport);
    else if (getsockname(fd, (struct sockaddr *)&ls, &ll) == 0)
        tun_sockaddr_desc(&ls, sc->lip, sizeof(sc->lip), &sc->lport);
    /* The privileged side learns of the connection from its socket (and
     * a relayed one's PROXY header, which it parses itself). */
    if (tun_priv_conn_new(s->priv, sc->serial, fd, o ? o->hdr : NULL, o ? o->hdr_len : 0) != 0) {
        tun_error("%s port %d: cannot register the connection with the privileged helper",
                  sc->ip, sc->port);
        close(fd);
        tun_srvsettings_unref(sc->set);
        free(sc);
        return NULL;
    }
    ev_init(&sc->unused_timer, on_unused_timeout);
    sc->unused_timer.data = sc;
    ev_init(&sc->sweep_timer, on_sweep);
    sc->sweep_timer.data = sc;
    set_opts(sc, NULL);

    const tun_srvcfg *cfg = &sc->set->cfg;
    ssh_conn_config cc;
    ssh_conn_config_init(&cc, SSH_ROLE_SERVER);
    cc.ident = "sshtund_" SSHTUN_VERSION;
    cc.kex_algs = cfg->kex_algorithms;
    cc.hostkey_algs = cfg->hostkey_algorithms;
    cc.pubkey_algs = cfg->pubkey_algs_any;
    cc.ciphers = cfg->ciphers;
    cc.compression = cfg->compression ? "none,zlib@openssh.com" : "none";
    cc.macs = cfg->macs;
    cc.rekey_bytes = cfg->rekey_bytes > 0 ? (uint64_t)cfg->rekey_bytes : 0;
    cc.rekey_time_ms = cfg->rekey_seconds > 0 ? (uint64_t)cfg->rekey_seconds * 1000 : 0;
    cc.host_keys = sc->set->keys;
    cc.n_host_keys = sc->set->n_keys;
    cc.login_grace_ms = cfg->login_grace_time > 0 ? (uint64_t)cfg->login_grace_time * 1000
                                                  : UINT64_MAX;
    cc.max_auth_tries = sc->opts.max_auth_tries > 0 ? (uint32_t)sc->opts.max_auth_tries : 6;
    cc.auth_methods = sc->methods;
    /* -ddd / LogLevel DEBUG3: the engine's packet trace too. */
    cc.log_level = tun_log_get_level() >= TUN_LOG_DEBUG3 ? 3 : 2;
    if (sc->opts.client_alive_interval > 0) {
        cc.alive_interval_ms = (uint64_t)sc->opts.client_alive_interval * 1000;
        cc.alive_count_max = (uint32_t)sc->opts.client_alive_count_max;
    }
    /* The engine's table a little above our cap, so that the cap's clear
     * refusal is what a client sees. */
    cc.max_channels = cfg->max_channels > 0 ? (uint32_t)cfg->max_channels + 16 : 0;

    ssh_callbacks cb = {0};
    tun_chan_install_callbacks(&cb);
    cb.rand = on_rand;
    cb.log = on_log;
    cb.disconnect = on_disconnect;
    cb.auth_request = on_auth_request;
    cb.hostkey_sign = on_hostkey_sign;
    cb.auth_success = on_auth_success;
    cb.channel_open = on_channel_open;
    cb.global_request = on_global_request;
    if (ssh_conn_new(&sc->c, &cc, &cb, sc) != 0) {
        tun_error("cannot set up a connection (check the algorithm settings)");
        tun_priv_conn_end(s->priv, sc->serial);
        close(fd);
        tun_srvopts_release(&sc->opts);
        tun_srvsettings_unref(sc->set);
        free(sc);
        return NULL;
    }
    sc->link.c = sc->c;
    sc->link.t = &sc->t;
    sc->fd = fd;
    sc->next = s->conns;
    if (s->conns)
        s->conns->prev = sc;
    s->conns = sc;
    s->n_conns++;
    s->n_unauth++;
    tun_verbose("Connection from %s port %d on %s port %d%s%s%s", sc->ip, sc->port, sc->lip,
                sc->lport, o ? " (" : "", o ? o->via : "", o ? ")" : "");
    /* Several workers: nothing is sent (not even the version line) until
     * the helper, which counts every worker's connections, accepts it
     * (tun_server_verdict), so that a connection dropped past MaxStartups
     * sees no banner, as with sshd. */
    sc->held = 1;
    if (s->workers <= 1)
        tun_srvconn_release(sc);
    return sc;
}

void tun_srvconn_release(tun_srvconn *sc)
{
    if (!sc->held)
        return;
    sc->held = 0;
    /* The socket is read from now on (never before the engine starts). */
    tun_transport_cbs tcb = {on_dead, on_drained};
    tun_transport_init(&sc->t, sc->srv->loop, sc->fd, sc->c, &tcb, sc);
    ssh_conn_start(sc->c, tun_now_ms());
    tun_transport_kick(&sc->t);
}
