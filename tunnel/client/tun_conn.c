/*
 * tun_conn.c - a client connection up to authentication (see tun_conn.h).
 *
 * Authentication order follows PreferredAuthentications (default
 * publickey, keyboard-interactive, password).  Unencrypted identity files
 * are offered with a signature straight away (saving the query round
 * trip); agent keys and encrypted files are first offered unsigned, so the
 * agent is asked to sign, or the passphrase asked for, only for a key the
 * server accepts.
 */
#include "tun_conn.h"
#include "tun_config.h"
#include "tun_connect.h"
#include "tun_hostkey.h"
#include "tun_hostupdate.h"
#include "tun_jump.h"
#include "tun_log.h"
#include "tun_prompt.h"
#include "tun_proxy.h"
#include "tun_sock.h"
#include "tun_util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "sshtun/cert.h"

struct tun_conn {
    struct ev_loop *loop;
    const tun_options *o;
    char *host;
    char *user;
    tun_resolver *res;
    tun_idstore *ids;
    tun_conn_hooks hooks;
    void *arg;
    tun_lookup *lookup;
    tun_connector *connector;
    int attempts;
    ev_timer retry, later;
    ssh_conn *c;
    tun_transport t;
    tun_link link;
    int have_transport;
    /* how the server is reached (tun_conn_start picks one) */
    tun_proxy *proxy; /* ProxyCommand */
    tun_fdwire pipes; /* its stdout and stdin (ProxyCommand - : ours) */
    int proxy_lost;   /* it closed before authentication: it explains */
    tun_jump *jump;   /* ProxyJump */
    int sock;         /* the TCP socket under the transport, else -1 */
    int qos_set;
    tun_lookup *bind_lookup; /* BindAddress */
    tun_addr bind[2];
    size_t n_bind;
    /* authentication */
    tun_id_waiter idwait;
    char server_methods[512];
    int methods_known;
    char cur_method[32];
    int id_idx;
    int kbd_tries, pw_tries;
    int none_tried;
    int authenticated;
    int auth_started; /* key exchange done, the userauth service accepted */
    char errmsg[512];
    int dead_reported;
    enum tun_conn_failure failure;
    char pin_fp[SSH_KEY_FP_MAX]; /* reconnecting: the key accepted before */
    /* Bounds before authentication: ConnectTimeout over banner, key
     * exchange and authentication; ServerAliveInterval x CountMax of
     * silence (the engine's keepalives take over once authenticated). */
    ev_timer hs_timer, pre_alive;
    uint64_t hs_start, hs_prompt_base;
    uint64_t alive_bytes, alive_prompt;
    int alive_missed;
    tun_hk_verdict hk_verdict; /* how the host key was trusted (UpdateHostKeys) */
    tun_hostupdate hostupdate;
};

/* ---- the end ---------------------------------------------------------------------------- */

static void report_dead(tun_conn *tc, const char *msg)
{
    if (tc->dead_reported)
        return;
    tc->dead_reported = 1;
    /* Ended before it was connected (a failure, a time limit, the owner
     * giving up on it): nothing may go on connecting in the background. */
    if (tc->lookup) {
        tun_resolve_cancel(tc->lookup);
        tc->lookup = NULL;
    }
    if (tc->connector) {
        tun_connect_cancel(tc->connector);
        tc->connector = NULL;
    }
    if (tc->bind_lookup) {
        tun_resolve_cancel(tc->bind_lookup);
        tc->bind_lookup = NULL;
    }
    ev_timer_stop(tc->loop, &tc->retry);
    ev_timer_stop(tc->loop, &tc->later);
    /* A jump host's connection says which hop it is: its messages name
     * the address it connected to, the user knows it by the name given.
     * A refused host key was explained at length already; the last line
     * names the hop too. */
    char named[700];
    if (tc->o->jump_depth > 0 && msg != NULL && strncmp(msg, "jump host ", 10) != 0) {
        const char *name = tc->o->original_host ? tc->o->original_host : tc->host;
        if (*msg)
            snprintf(named, sizeof(named), "jump host %s: %s", name, msg);
        else if (tc->c && ssh_conn_error(tc->c) == SSH_ERR_HOSTKEY_REJECTED)
            snprintf(named, sizeof(named), "jump host %s: host key verification failed", name);
        else
            snprintf(named, sizeof(named), "jump host %s: connection failed", name);
        msg = named;
    }
    if (tc->hooks.dead)
        tc->hooks.dead(tc, msg, tc->arg);
}

void tun_conn_fail(tun_conn *tc, const char *fmt, ...)
{
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tc->errmsg, sizeof(tc->errmsg), fmt, ap);
        va_end(ap);
    }
    if (tc->c && ssh_conn_error(tc->c) == 0) {
        ssh_conn_disconnect(tc->c, SSH_DISCONNECT_BY_APPLICATION, "disconnected by user");
        if (tc->have_transport) {
            tun_transport_kick(&tc->t); /* reports through on_transport_dead */
            return;
        }
    }
    /* No text: the reason was printed already (an empty message). */
    report_dead(tc, tc->errmsg[0] ? tc->errmsg : fmt ? "connection failed" : "");
}

void tun_conn_close(tun_conn *tc)
{
    tc->errmsg[0] = '\0';
    if (tc->c && ssh_conn_error(tc->c) == 0) {
        ssh_conn_disconnect(tc->c, SSH_DISCONNECT_BY_APPLICATION, "disconnected by user");
        if (tc->have_transport) {
            tun_transport_kick(&tc->t);
            return;
        }
    }
    report_dead(tc, NULL);
}

tun_link *tun_conn_link(tun_conn *tc)
{
    return &tc->link;
}

int tun_conn_is_ready(const tun_conn *tc)
{
    return tc->authenticated && tc->c && ssh_conn_error(tc->c) == 0;
}

void tun_conn_kick(tun_conn *tc)
{
    if (tc->have_transport)
        tun_transport_kick(&tc->t);
    /* Then the jump hosts' connections, which carry what it wrote. */
    tun_jump_kick(tc->jump);
}

void tun_conn_set_interactive(tun_conn *tc, int interactive)
{
    if (tc->qos_set || tc->sock < 0)
        return;
    tc->qos_set = 1;
    int tos = interactive ? tc->o->ip_qos_interactive : tc->o->ip_qos_bulk;
    if (tos == TUN_QOS_NONE)
        return;
    tun_debug3("set socket %d IP_TOS 0x%02x", tc->sock, (unsigned)tos);
    if (tun_sock_set_tos(tc->sock, tos) != 0)
        tun_error("setsockopt IP_TOS %d: %s", tos, strerror(errno));
}

enum tun_conn_failure tun_conn_failure(const tun_conn *tc)
{
    if (tc->failure != TUN_CONN_FAIL_NONE)
        return tc->failure;
    return tc->dead_reported ? TUN_CONN_FAIL_OTHER : TUN_CONN_FAIL_NONE;
}

void tun_conn_pin_hostkey(tun_conn *tc, const char *fp)
{
    snprintf(tc->pin_fp, sizeof(tc->pin_fp), "%s", fp ? fp : "");
}

const char *tun_conn_hostkey_fp(const tun_conn *tc)
{
    return tc->hk_verdict.fp;
}

int tun_conn_connecting(const tun_conn *tc)
{
    return !tc->have_transport && !tc->dead_reported;
}

int tun_conn_local_addr(const tun_conn *tc, struct sockaddr_storage *ss)
{
    socklen_t sl = sizeof(*ss);
    /* Through jump hosts: the first hop's socket is the one on this host. */
    if (tc->jump)
        return tun_jump_local_addr(tc->jump, ss);
    if (!tc->have_transport || tc->sock < 0 ||
        getsockname(tc->sock, (struct sockaddr *)ss, &sl) != 0)
        return -1;
    return 0;
}

void tun_conn_describe(const tun_conn *tc, char *buf, size_t len)
{
    ssh_conn_stats st = {0};
    if (tc->c)
        ssh_conn_get_stats(tc->c, &st);
    snprintf(buf, len, "%s@%s:%d %s, %u channels, %llu bytes in, %llu bytes out, %u key exchanges",
             tc->user, tc->host, tc->o->port,
             tun_conn_is_ready(tc) ? "up" : (tc->dead_reported ? "closed" : "connecting"),
             st.channels_open, (unsigned long long)st.bytes_in, (unsigned long long)st.bytes_out,
             st.kex_count);
}

/* ---- authentication ------------------------------------------------------------------------ */

static int method_allowed(tun_conn *tc, const char *m)
{
    return !tc->methods_known || ssh_namelist_has(tc->server_methods, m);
}

static int method_enabled(tun_conn *tc, const char *m)
{
    if (strcmp(m, "publickey") == 0)
        return tc->o->pubkey_authentication;
    if (strcmp(m, "password") == 0)
        return tc->o->password_authentication && !tc->o->batch_mode;
    if (strcmp(m, "keyboard-interactive") == 0)
        return tc->o->kbd_interactive_authentication && !tc->o->batch_mode;
    return 0;
}

static void auth_give_up(tun_conn *tc)
{
    /* Nothing tried yet: ask with "none" to learn what the server offers
     * (it may even let us in), so the refusal can name the methods. */
    if (!tc->methods_known && !tc->none_tried) {
        tc->none_tried = 1;
        if (ssh_auth_none(tc->c, tc->user) == 0)
            return;
    }
    tc->failure = TUN_CONN_FAIL_AUTH;
    tun_conn_fail(tc, "%s@%s: Permission denied (%s).", tc->user, tc->host,
                  tc->methods_known ? tc->server_methods : "none");
}

/* Start the next attempt in preference order (resuming at cur_method). */
static void auth_next(tun_conn *tc)
{
    char list[512];
    snprintf(list, sizeof(list), "%s", tc->o->preferred_authentications);
    char *save = NULL;
    int passed_current = tc->cur_method[0] == '\0';
    for (char *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        if (!passed_current) {
            if (strcmp(m, tc->cur_method) != 0)
                continue;
            passed_current = 1;
        }
        if (!method_enabled(tc, m) || !method_allowed(tc, m)) {
            tc->cur_method[0] = '\0';
            continue;
        }
        snprintf(tc->cur_method, sizeof(tc->cur_method), "%s", m);
        if (strcmp(m, "publickey") == 0) {
            while (tc->id_idx < tc->ids->n) {
                tun_identity *id = &tc->ids->ids[tc->id_idx];
                if (ssh_key_type(id->pub) == SSH_KEY_RSA &&
                    ssh_key_bits(id->pub) < (unsigned)tc->o->required_rsa_size) {
                    tun_debug("Skipping %s: RSA key of %u bits, below RequiredRSASize %d", id->path,
                              ssh_key_bits(id->pub), tc->o->required_rsa_size);
                    tc->id_idx++;
                    continue;
                }
                int sign = tun_idstore_has_private(tc->ids, tc->id_idx);
                const char *alg = ssh_auth_pubkey_alg(tc->c, id->pub);
                tun_debug("Offering public key: %s %s %s", id->path, ssh_key_type_name(id->pub),
                          alg ? alg : "(no algorithm allowed)");
                int rv = ssh_auth_publickey(tc->c, tc->user, id->pub, sign);
                if (rv == 0)
                    return;
                tun_debug("key %s not usable: %s", id->path, ssh_strerror(rv));
                tc->id_idx++;
            }
        } else if (strcmp(m, "keyboard-interactive") == 0) {
            if (tc->kbd_tries < tc->o->number_of_password_prompts && tun_prompt_possible()) {
                tc->kbd_tries++;
                if (ssh_auth_kbdint(tc->c, tc->user, "") == 0)
                    return;
            }
        } else if (strcmp(m, "password") == 0) {
            if (tc->pw_tries < tc->o->number_of_password_prompts && tun_prompt_possible()) {
                char prompt[600], pw[1024];
                tc->pw_tries++;
                snprintf(prompt, sizeof(prompt), "%s@%s's password: ", tc->user, tc->host);
                if (tun_prompt(prompt, 0, pw, sizeof(pw)) == 0) {
                    int rv = ssh_auth_password(tc->c, tc->user, pw);
                    OPENSSL_cleanse(pw, sizeof(pw));
                    if (rv == 0)
                        return;
                }
            }
        }
        tc->cur_method[0] = '\0';
    }
    auth_give_up(tc);
}

static void ids_ready(void *arg)
{
    tun_conn *tc = arg;
    auth_next(tc);
    tun_conn_kick(tc);
}

/* OpenSSH 10.1's warning, once per process, after the first key exchange
 * and before authentication, as ssh prints it: only when the user did not
 * choose the key exchange (KexAlgorithms), only at LogLevel INFO and above
 * (not with -q), and WarnWeakCrypto no or no-pq-kex silences it. */
static void warn_non_pq(tun_conn *tc)
{
    static int warned;
    const char *kex = ssh_conn_alg(tc->c, SSH_ALG_KEX);
    if (warned || kex == NULL || ssh_kex_is_pq(kex) || tc->o->kex_algorithms_set ||
        !tc->o->warn_weak_crypto || tun_log_get_level() < TUN_LOG_INFO)
        return;
    warned = 1;
    tun_info("** WARNING: connection is not using a post-quantum key exchange algorithm.");
    tun_info("** This session may be vulnerable to \"store now, decrypt later\" attacks.");
    tun_info("** The server may need to be upgraded. See https://openssh.com/pq.html");
}

static void on_auth_ready(ssh_conn *c, void *user)
{
    (void)c;
    tun_conn *tc = user;
    tc->auth_started = 1;
    warn_non_pq(tc);
    tc->cur_method[0] = '\0';
    tun_idstore_when_ready(tc->ids, &tc->idwait, ids_ready, tc);
}

static void on_auth_banner(ssh_conn *c, const char *msg, void *user)
{
    (void)c;
    (void)user;
    if (tun_log_get_level() >= TUN_LOG_INFO)
        fprintf(stderr, "%s", msg);
}

static void on_auth_result(ssh_conn *c, const ssh_auth_result *r, void *user)
{
    tun_conn *tc = user;
    if (r->methods) {
        snprintf(tc->server_methods, sizeof(tc->server_methods), "%s", r->methods);
        tc->methods_known = 1;
    }
    switch (r->status) {
    case SSH_AUTH_SUCCESS:
        tc->authenticated = 1;
        ev_timer_stop(tc->loop, &tc->hs_timer);
        ev_timer_stop(tc->loop, &tc->pre_alive);
        tun_verbose("Authenticated to %s using \"%s\".", tc->host,
                    tc->cur_method[0] ? tc->cur_method : "none");
        if (tc->proxy)
            tun_proxy_established(tc->proxy);
        if (tc->hooks.ready)
            tc->hooks.ready(tc, tc->arg);
        return;
    case SSH_AUTH_PK_OK: {
        tun_identity *id = &tc->ids->ids[tc->id_idx];
        tun_debug("Server accepts key: %s", id->path);
        if (tun_idstore_decrypt(tc->ids, tc->id_idx) != 0 ||
            ssh_auth_publickey(c, tc->user, id->pub, 1) != 0) {
            tc->id_idx++;
            auth_next(tc);
        }
        return;
    }
    case SSH_AUTH_PARTIAL:
        tun_verbose("Authenticated using \"%s\" with partial success.", tc->cur_method);
        tc->cur_method[0] = '\0'; /* start over with what the server still wants */
        auth_next(tc);
        return;
    case SSH_AUTH_FAILURE:
        if (r->method == SSH_AUTH_PUBLICKEY)
            tc->id_idx++;
        else if (r->method == SSH_AUTH_PASSWORD && tc->pw_tries < tc->o->number_of_password_prompts)
            tun_error("Permission denied, please try again.");
        else if (r->method == SSH_AUTH_NONE)
            tc->cur_method[0] = '\0';
        auth_next(tc);
        return;
    }
}

static void on_signed(void *arg, const uint8_t *sig, size_t len, int err)
{
    tun_conn *tc = arg;
    if (tc->c == NULL || ssh_conn_error(tc->c) != 0)
        return;
    if (err != 0) {
        tun_debug("agent refused to sign: %s", ssh_strerror(err));
        ssh_auth_sign_done(tc->c, NULL, 0);
        tc->id_idx++;
        auth_next(tc);
    } else {
        ssh_auth_sign_done(tc->c, sig, len);
    }
    tun_conn_kick(tc);
}

static int on_sign(ssh_conn *c, const ssh_key *key, const char *alg, const uint8_t *data,
                   size_t len, ssh_buf *sig, void *user)
{
    (void)c;
    (void)key;
    tun_conn *tc = user;
    return tun_idstore_sign(tc->ids, tc->id_idx, alg, data, len, sig, on_signed, tc);
}

static void on_kbdint(ssh_conn *c, const ssh_kbdint_prompt *p, void *user)
{
    (void)user;
    char *answers[32] = {0};
    uint32_t n = p->n_prompts < 32 ? p->n_prompts : 32;
    if (p->name && *p->name)
        fprintf(stderr, "%s\n", p->name);
    if (p->instruction && *p->instruction)
        fprintf(stderr, "%s\n", p->instruction);
    for (uint32_t i = 0; i < n; i++) {
        answers[i] = calloc(1, 1024);
        if (answers[i] && tun_prompt(p->prompts[i], p->echo[i], answers[i], 1024) != 0)
            answers[i][0] = '\0';
    }
    ssh_auth_kbdint_respond(c, n, (const char *const *)answers);
    for (uint32_t i = 0; i < n; i++)
        tun_free_secret(answers[i], 1024);
}

/* ---- host key ------------------------------------------------------------------------------- */

/* What tun_hostkey needs to know about this connection. */
static void hk_target(tun_conn *tc, tun_hk_target *t, struct sockaddr_storage *ss)
{
    memset(t, 0, sizeof(*t));
    t->o = tc->o;
    t->host = tc->host;
    t->original_host = tc->o->original_host;
    t->port = (unsigned)tc->o->port;
    t->now = (uint64_t)time(NULL);
    t->pinned_fp = tc->pin_fp[0] ? tc->pin_fp : NULL;
    socklen_t sl = sizeof(*ss);
    /* Through a ProxyCommand or a jump host the server's address is not
     * known here (ssh: "no hostip for proxy command"). */
    if (tc->sock >= 0 && tc->proxy == NULL && tc->jump == NULL &&
        getpeername(tc->sock, (struct sockaddr *)ss, &sl) == 0) {
        t->addr = (const struct sockaddr *)ss;
        t->addrlen = sl;
    }
}

static int on_hostkey(ssh_conn *c, const ssh_key *key, void *user)
{
    (void)c;
    tun_conn *tc = user;
    tun_hk_target t;
    struct sockaddr_storage ss;
    hk_target(tc, &t, &ss);
    return tun_hostkey_verify(&t, key, &tc->hk_verdict);
}

/* ---- engine events -------------------------------------------------------------------------- */

static void on_rand(void *user, uint8_t *buf, size_t n)
{
    (void)user;
    if (RAND_bytes(buf, (int)n) != 1)
        abort(); /* no randomness: nothing safe can be done */
}

static void on_log(ssh_conn *c, int level, const char *msg, void *user)
{
    (void)c;
    (void)user;
    tun_log(level <= 1 ? TUN_LOG_DEBUG1 : level == 2 ? TUN_LOG_DEBUG2 : TUN_LOG_DEBUG3, "%s", msg);
}

static void on_disconnect(ssh_conn *c, int err, uint32_t reason, const char *msg, void *user)
{
    (void)c;
    tun_conn *tc = user;
    if (err == SSH_ERR_CLOSED || tc->errmsg[0])
        return;
    if (err == SSH_ERR_DISCONNECTED) {
        /* The server gave up on our login (sshd's MaxAuthTries). */
        if (tc->auth_started && !tc->authenticated &&
            (reason == SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE ||
             (msg && strstr(msg, "authentication failures"))))
            tc->failure = TUN_CONN_FAIL_AUTH;
        snprintf(tc->errmsg, sizeof(tc->errmsg), "Received disconnect from %s port %d:%u: %s",
                 tc->host, tc->o->port, reason, msg);
    } else if (err == SSH_ERR_CONN_LOST && tun_jump_failure(tc->jump)) {
        /* A jump host's connection ended under us: its reason. */
        snprintf(tc->errmsg, sizeof(tc->errmsg), "%s", tun_jump_failure(tc->jump));
    } else if (err == SSH_ERR_CONN_LOST && tc->proxy && !tc->authenticated) {
        tc->proxy_lost = 1; /* the command tells why (on_transport_dead) */
    } else if (err == SSH_ERR_CONN_LOST) {
        snprintf(tc->errmsg, sizeof(tc->errmsg), "Connection closed by %s port %d", tc->host,
                 tc->o->port);
    } else if (err == SSH_ERR_TIMEOUT) {
        snprintf(tc->errmsg, sizeof(tc->errmsg), "Timeout, server %s not responding.", tc->host);
    } else if (err == SSH_ERR_HOSTKEY_REJECTED) {
        tc->failure = TUN_CONN_FAIL_HOSTKEY;
        snprintf(tc->errmsg, sizeof(tc->errmsg), "%s", ""); /* already explained */
    } else if (err <= SSH_ERR_NO_KEX_ALG && err >= SSH_ERR_NO_COMPRESS_ALG) {
        snprintf(tc->errmsg, sizeof(tc->errmsg), "Unable to negotiate with %s port %d: %s",
                 tc->host, tc->o->port, ssh_strerror(err));
    } else {
        snprintf(tc->errmsg, sizeof(tc->errmsg), "Connection to %s port %d: %s", tc->host,
                 tc->o->port, msg ? msg : ssh_strerror(err));
    }
}

static void on_proxy_explained(void *arg, const char *msg)
{
    tun_conn *tc = arg;
    snprintf(tc->errmsg, sizeof(tc->errmsg), "%s", msg);
    report_dead(tc, tc->errmsg);
}

static void on_transport_dead(tun_transport *t, int err, void *arg)
{
    (void)t;
    tun_conn *tc = arg;
    tc->have_transport = 0;
    if (tc->proxy_lost && tc->errmsg[0] == '\0') {
        /* Wait for the command's exit and stderr: they say why. */
        tun_proxy_explain(tc->proxy, on_proxy_explained, tc);
        return;
    }
    report_dead(tc, err == SSH_ERR_CLOSED && tc->errmsg[0] == '\0' ? NULL : tc->errmsg);
}

static void on_transport_drained(tun_transport *t, void *arg)
{
    (void)t;
    tun_conn *tc = arg;
    tun_link_resume_all(&tc->link);
}

static int on_global_request(ssh_conn *c, const ssh_global_req *r, ssh_buf *reply, void *user)
{
    (void)reply;
    tun_conn *tc = user;
    tun_debug2("client_input_global_request: rtype %s want_reply %d", r->name, r->want_reply);
    if (strcmp(r->name, "hostkeys-00@openssh.com") == 0 && tc->authenticated) {
        if (tc->hostupdate.reply.fn == NULL)
            tun_hostupdate_init(&tc->hostupdate, tc->o, c, &tc->hk_verdict);
        return tun_hostupdate_input(&tc->hostupdate, r->data, r->data_len);
    }
    return SSH_REQUEST_FAILURE;
}

static void on_global_reply(ssh_conn *c, int ok, const uint8_t *data, size_t len, void *req_user)
{
    (void)c;
    tun_reqcb *r = req_user;
    if (r && r->fn)
        r->fn(r, ok, data, len);
}

static int on_channel_open(ssh_conn *c, uint32_t id, const ssh_channel_open_info *info,
                           const char **why, void *user)
{
    (void)c;
    tun_conn *tc = user;
    if (tc->hooks.channel_open)
        return tc->hooks.channel_open(tc, id, info, why, tc->arg);
    tun_debug("refusing channel of type %s", info->type);
    *why = "open refused";
    return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
}

/* ---- time limits before authentication ---------------------------------------------------- */

/* ConnectTimeout covers the TCP connect (tun_connect), then, afresh, the
 * banner exchange, key exchange and authentication: a server that accepts
 * and never speaks, or stalls half way, must not hold us forever.  Time
 * spent waiting for the user (passphrase, password, host key question)
 * does not count. */
static void on_hs_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    tun_conn *tc = w->data;
    uint64_t limit = (uint64_t)tc->o->connect_timeout * 1000;
    uint64_t spent = tun_now_ms() - tc->hs_start - (tun_prompt_waited_ms() - tc->hs_prompt_base);
    if (spent + 10 < limit) {
        ev_timer_set(w, (double)(limit - spent) / 1000.0, 0.);
        ev_timer_start(loop, w);
        return;
    }
    if (tc->authenticated || tc->dead_reported)
        return;
    const char *phase = tc->c == NULL || ssh_conn_peer_ident(tc->c) == NULL ? "banner exchange"
                        : !tc->auth_started                                 ? "key exchange"
                                                                            : "authentication";
    tun_conn_fail(tc, "Connection timed out during %s", phase);
}

/* ServerAliveInterval before authentication: nothing from the server for
 * ServerAliveCountMax intervals ends the connection, as ssh's packet
 * timeout does there (keepalive requests only exist once logged in). */
static void on_pre_alive(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_conn *tc = w->data;
    if (tc->c == NULL || tc->authenticated || tc->dead_reported)
        return;
    ssh_conn_stats st = {0};
    ssh_conn_get_stats(tc->c, &st);
    uint64_t waited = tun_prompt_waited_ms();
    if (st.bytes_in != tc->alive_bytes || waited != tc->alive_prompt) {
        tc->alive_bytes = st.bytes_in;
        tc->alive_prompt = waited;
        tc->alive_missed = 0;
        return;
    }
    if (++tc->alive_missed >= tc->o->server_alive_count_max)
        tun_conn_fail(tc, "Connection to %s port %d timed out", tc->host, tc->o->port);
}

static void start_limits(tun_conn *tc)
{
    if (tc->o->connect_timeout > 0) {
        tc->hs_start = tun_now_ms();
        tc->hs_prompt_base = tun_prompt_waited_ms();
        ev_timer_set(&tc->hs_timer, (double)tc->o->connect_timeout, 0.);
        ev_timer_start(tc->loop, &tc->hs_timer);
    }
    if (tc->o->server_alive_interval > 0 && tc->o->server_alive_count_max > 0) {
        double iv = (double)tc->o->server_alive_interval;
        tc->alive_bytes = 0;
        tc->alive_prompt = tun_prompt_waited_ms();
        tc->alive_missed = 0;
        ev_timer_set(&tc->pre_alive, iv, iv);
        ev_timer_start(tc->loop, &tc->pre_alive);
    }
}

/* Run the engine over the chosen wire: `sock` (a socket, in == out) or
 * `w` (ProxyCommand pipes, a jump host's channel). */
static void start_ssh(tun_conn *tc, int sock, tun_wire *w)
{
    ssh_conn_config cfg;
    ssh_conn_config_init(&cfg, SSH_ROLE_CLIENT);
    char hk[2048];
    tun_hk_target hkt;
    struct sockaddr_storage ss;
    hk_target(tc, &hkt, &ss);
    tun_hostkey_order_algs(&hkt, hk, sizeof(hk));
    cfg.ident = "sshtun_" SSHTUN_VERSION;
    cfg.kex_algs = tc->o->kex_algorithms;
    cfg.hostkey_algs = hk;
    cfg.ciphers = tc->o->ciphers;
    /* As OpenSSH's client: -C / Compression yes prefers delayed zlib, and
     * without it "none" comes first, so a server forcing compression still
     * gets an answer. */
    cfg.compression = tc->o->compression ? "zlib@openssh.com,zlib,none" : "none,zlib@openssh.com,zlib";
    /* -vvv: the engine's per-packet trace too, as ssh -vvv shows its packets. */
    cfg.log_level = tun_log_get_level() >= TUN_LOG_DEBUG3 ? 3 : 2;
    cfg.macs = tc->o->macs;
    cfg.pubkey_algs = tc->o->pubkey_algorithms;
    if (tc->o->rekey_bytes > 0)
        cfg.rekey_bytes = (uint64_t)tc->o->rekey_bytes;
    cfg.rekey_time_ms =
        tc->o->rekey_seconds > 0 ? (uint64_t)tc->o->rekey_seconds * 1000 : UINT64_MAX;
    if (tc->o->server_alive_interval > 0) {
        cfg.alive_interval_ms = (uint64_t)tc->o->server_alive_interval * 1000;
        cfg.alive_count_max = (uint32_t)tc->o->server_alive_count_max;
    }
    ssh_callbacks cb = {
        .rand = on_rand,
        .log = on_log,
        .hostkey = on_hostkey,
        .disconnect = on_disconnect,
        .auth_ready = on_auth_ready,
        .auth_banner = on_auth_banner,
        .auth_result = on_auth_result,
        .sign = on_sign,
        .kbdint_prompt = on_kbdint,
        .global_request = on_global_request,
        .global_reply = on_global_reply,
    };
    /* Channel events go to each channel's tun_chan; opens come here. */
    tun_chan_install_callbacks(&cb);
    cb.channel_open = on_channel_open;
    int rv = ssh_conn_new(&tc->c, &cfg, &cb, tc);
    if (rv != 0) {
        if (sock >= 0)
            close(sock);
        else
            w->ops->close(w);
        tun_conn_fail(tc, "cannot create connection: %s", ssh_strerror(rv));
        return;
    }
    tun_transport_cbs tcb = {on_transport_dead, on_transport_drained};
    if (sock >= 0) {
        if (tc->o->tcp_keepalive) {
            int one = 1;
            setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        }
        tc->sock = sock;
        tun_transport_init(&tc->t, tc->loop, sock, tc->c, &tcb, tc);
        /* sshd answers a connection without a terminal with Nagle's
         * algorithm on: see tun_fdwire_quickack. */
        tun_fdwire_quickack(&tc->t.fdw, 1);
    } else {
        tun_transport_init_wire(&tc->t, tc->loop, w, tc->c, &tcb, tc);
    }
    tc->have_transport = 1;
    tc->link.c = tc->c;
    tc->link.t = &tc->t;
    tun_debug("Local version string SSH-2.0-sshtun_%s", SSHTUN_VERSION);
    start_limits(tc);
    ssh_conn_start(tc->c, tun_now_ms());
    tun_transport_kick(&tc->t);
}

/* ---- the direct route: resolve and connect --------------------------------------------------- */

static void start_resolve(tun_conn *tc);

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    start_resolve(w->data);
}

static void on_connected(void *arg, int fd, const tun_addr *addr, const char *err)
{
    tun_conn *tc = arg;
    tc->connector = NULL;
    if (fd < 0) {
        if (++tc->attempts < tc->o->connection_attempts) {
            tun_debug("connect to host %s port %d: %s; retrying", tc->host, tc->o->port, err);
            ev_timer_set(&tc->retry, 1., 0.);
            ev_timer_start(tc->loop, &tc->retry);
            return;
        }
        tun_conn_fail(tc, "connect to host %s port %d: %s", tc->host, tc->o->port, err);
        return;
    }
    char a[64];
    tun_debug("Connection established to %s.", tun_addr_str(addr, a, sizeof(a)));
    start_ssh(tc, fd, NULL);
}

static void on_resolved(void *arg, const tun_addr *addrs, size_t n, const char *err)
{
    tun_conn *tc = arg;
    tc->lookup = NULL;
    if (n == 0) {
        tun_conn_fail(tc, "Could not resolve hostname %s: %s", tc->host, err);
        return;
    }
    /* As ssh: the interactive type of service until the session says
     * otherwise (tun_conn_set_interactive), and BindAddress/BindInterface. */
    tun_connect_opts co = {
        .bind = tc->bind,
        .n_bind = tc->n_bind,
        .bind_name = tc->o->bind_address ? tc->o->bind_address : tc->o->bind_interface,
        .tos = tc->o->ip_qos_interactive == TUN_QOS_NONE ? -1 : tc->o->ip_qos_interactive,
    };
    tc->connector = tun_connect_start_opts(tc->loop, addrs, n, (double)tc->o->connect_timeout, &co,
                                           on_connected, tc);
    if (tc->connector == NULL)
        tun_conn_fail(tc, "out of memory");
}

static void start_resolve(tun_conn *tc)
{
    tc->lookup = tun_resolve(tc->res, tc->host, (unsigned)tc->o->port, tc->o->address_family,
                             on_resolved, tc);
    if (tc->lookup == NULL)
        tun_conn_fail(tc, "out of memory");
}

/* BindAddress: one address of each family it names (ssh binds the one of
 * the destination address's family). */
static void on_bind_resolved(void *arg, const tun_addr *addrs, size_t n, const char *err)
{
    tun_conn *tc = arg;
    tc->bind_lookup = NULL;
    for (size_t i = 0; i < n && tc->n_bind < 2; i++) {
        int have = 0;
        for (size_t k = 0; k < tc->n_bind; k++)
            have |= tc->bind[k].ss.ss_family == addrs[i].ss.ss_family;
        if (!have)
            tc->bind[tc->n_bind++] = addrs[i];
    }
    if (tc->n_bind == 0) {
        tun_conn_fail(tc, "connect to host %s port %d: BindAddress %s: %s", tc->host, tc->o->port,
                      tc->o->bind_address, err ? err : "no address");
        return;
    }
    start_resolve(tc);
}

static void start_direct(tun_conn *tc)
{
    if (tc->o->bind_address) {
        tc->bind_lookup = tun_resolve(tc->res, tc->o->bind_address, 0, tc->o->address_family,
                                      on_bind_resolved, tc);
        if (tc->bind_lookup == NULL)
            tun_conn_fail(tc, "out of memory");
        return;
    }
    if (tc->o->bind_interface) {
        static const int fams[2] = {AF_INET, AF_INET6};
        for (int i = 0; i < 2; i++) {
            int f = fams[i];
            if (tc->o->address_family != AF_UNSPEC && tc->o->address_family != f)
                continue;
            tun_addr *b = &tc->bind[tc->n_bind];
            if (tun_iface_addr(tc->o->bind_interface, f, &b->ss, &b->len) == 0)
                tc->n_bind++;
        }
        if (tc->n_bind == 0) {
            tun_conn_fail(tc, "connect to host %s port %d: BindInterface %s: no suitable address",
                          tc->host, tc->o->port, tc->o->bind_interface);
            return;
        }
    }
    start_resolve(tc);
}

/* ---- ProxyCommand ---------------------------------------------------------------------------- */

static void on_proxy_fds(void *arg, int in_fd, int out_fd, const char *err)
{
    tun_conn *tc = arg;
    if (in_fd < 0) {
        tun_conn_fail(tc, "%s", err ? err : "ProxyCommand failed");
        return;
    }
    if (in_fd == out_fd) { /* ProxyUseFdpass: a connected socket */
        int one = 1;
        setsockopt(in_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        start_ssh(tc, in_fd, NULL);
        return;
    }
    tun_fdwire_init(&tc->pipes, tc->loop, in_fd, out_fd);
    start_ssh(tc, -1, &tc->pipes.base);
}

static void start_proxy(tun_conn *tc)
{
    const tun_options *o = tc->o;
    if (strcmp(o->proxy_command, "-") == 0) {
        /* ssh's "ProxyCommand -": our own stdin and stdout are the
         * connection. */
        int in = dup(0), out = dup(1);
        if (in < 0 || out < 0) {
            if (in >= 0)
                close(in);
            tun_conn_fail(tc, "dup() in/out failed: %s", strerror(errno));
            return;
        }
        tun_set_nonblock(in, 1);
        tun_set_nonblock(out, 1);
        tun_fdwire_init(&tc->pipes, tc->loop, in, out);
        start_ssh(tc, -1, &tc->pipes.base);
        return;
    }
    /* %h %n %p %r %k %%, as ssh's expand_proxy_command (%k: the
     * HostKeyAlias, else the host as given). */
    const char *host_arg = o->original_host ? o->original_host : tc->host;
    tun_tokens t;
    tun_tokens_init(&t, o, host_arg);
    t.host = tc->host;
    t.remote_user = tc->user;
    t.host_key_alias = o->host_key_alias ? o->host_key_alias : host_arg;
    char *cmd = tun_expand(o->proxy_command, &t, "hknpr%");
    tun_tokens_free(&t);
    if (cmd == NULL) {
        tun_conn_fail(tc, NULL);
        return;
    }
    tc->proxy = tun_proxy_start(tc->loop, cmd, o->proxy_use_fdpass, on_proxy_fds, tc);
    free(cmd);
    if (tc->proxy == NULL)
        tun_conn_fail(tc, NULL);
}

/* ---- ProxyJump ------------------------------------------------------------------------------- */

static void on_jump_wire(void *arg, tun_wire *w, const char *err)
{
    tun_conn *tc = arg;
    if (w == NULL) {
        /* A host key or login refused on a hop is refused for us too. */
        int kind = tun_jump_failure_kind(tc->jump);
        if (kind == TUN_CONN_FAIL_HOSTKEY || kind == TUN_CONN_FAIL_AUTH)
            tc->failure = (enum tun_conn_failure)kind;
        if (err && *err)
            tun_conn_fail(tc, "%s", err);
        else
            tun_conn_fail(tc, NULL);
        return;
    }
    start_ssh(tc, -1, w);
}

/* ---- start ----------------------------------------------------------------------------------- */

static void on_start(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_conn *tc = w->data;
    if (tc->o->proxy_jump) {
        tc->jump = tun_jump_start(tc->loop, tc->o, tc->host, tc->res, on_jump_wire, tc);
        if (tc->jump == NULL)
            tun_conn_fail(tc, NULL);
    } else if (tc->o->proxy_command) {
        start_proxy(tc);
    } else {
        start_direct(tc);
    }
}

tun_conn *tun_conn_start(struct ev_loop *loop, const tun_options *o, const char *host,
                         tun_resolver *res, tun_idstore *ids, const tun_conn_hooks *hooks,
                         void *arg)
{
    tun_conn *tc = calloc(1, sizeof(*tc));
    if (tc == NULL)
        return NULL;
    tc->loop = loop;
    tc->o = o;
    tc->sock = -1;
    tc->host = strdup(host);
    const char *u = o->user;
    if (u == NULL) {
        struct passwd *pw = getpwuid(getuid());
        u = pw && pw->pw_name ? pw->pw_name : "root";
    }
    tc->user = strdup(u);
    tc->res = res;
    tc->ids = ids;
    if (hooks)
        tc->hooks = *hooks;
    tc->arg = arg;
    ev_timer_init(&tc->retry, on_retry, 1., 0.);
    tc->retry.data = tc;
    ev_timer_init(&tc->hs_timer, on_hs_timeout, 1., 0.);
    tc->hs_timer.data = tc;
    ev_timer_init(&tc->pre_alive, on_pre_alive, 1., 1.);
    tc->pre_alive.data = tc;
    if (tc->host == NULL || tc->user == NULL) {
        tun_conn_free(tc);
        return NULL;
    }
    /* From the loop: failures report through the hooks after we return. */
    ev_timer_init(&tc->later, on_start, 0., 0.);
    tc->later.data = tc;
    ev_timer_start(loop, &tc->later);
    return tc;
}

void tun_conn_free(tun_conn *tc)
{
    if (tc == NULL)
        return;
    if (tc->have_transport)
        tun_transport_close(&tc->t);
    if (tc->lookup)
        tun_resolve_cancel(tc->lookup);
    if (tc->bind_lookup)
        tun_resolve_cancel(tc->bind_lookup);
    if (tc->connector)
        tun_connect_cancel(tc->connector);
    tun_idstore_cancel(tc->ids, &tc->idwait);
    ev_timer_stop(tc->loop, &tc->retry);
    ev_timer_stop(tc->loop, &tc->later);
    ev_timer_stop(tc->loop, &tc->hs_timer);
    ev_timer_stop(tc->loop, &tc->pre_alive);
    /* The chain under us after the transport on it (its CLOSE goes out
     * first), the command after the connection it carried. */
    tun_jump_free(tc->jump);
    tun_proxy_free(tc->proxy);
    ssh_conn_free(tc->c);
    tun_hostupdate_free(&tc->hostupdate);
    free(tc->host);
    free(tc->user);
    free(tc);
}
