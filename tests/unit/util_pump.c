/*
 * util_pump.c - the in-memory client/server harness (see pump.h).
 */
#include "pump.h"
#include "conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tp_side *side_of(void *user)
{
    return user;
}

static tp_chan *chan(tp_side *s, uint32_t id)
{
    if (id >= TP_MAX_CH)
        fail_msg("channel id %u beyond test table", id);
    tp_chan *ch = &s->ch[id];
    if (!ch->used) {
        memset(ch, 0, sizeof(*ch));
        ch->used = 1;
        ch->open_result = -1;
        ssh_buf_init(&ch->sink, 512u * 1024 * 1024, 0);
        ssh_buf_init(&ch->sink_err, 64u * 1024 * 1024, 0);
    }
    return ch;
}

tp_chan *tp_chan_of(tp_side *s, uint32_t id)
{
    return chan(s, id);
}

static void cb_rand(void *user, uint8_t *buf, size_t n)
{
    test_rand(&side_of(user)->rng, buf, n);
}

static void cb_disconnect(ssh_conn *c, int err, uint32_t reason, const char *msg, void *user)
{
    (void)c;
    tp_side *s = side_of(user);
    s->disconnected++;
    s->disc_err = err;
    s->disc_reason = reason;
    snprintf(s->disc_msg, sizeof(s->disc_msg), "%s", msg ? msg : "");
}

static void cb_kex_done(ssh_conn *c, int first, void *user)
{
    (void)c;
    side_of(user)->kex_done++;
    if (first)
        side_of(user)->kex_first++;
}

static void cb_debug_msg(ssh_conn *c, const char *msg, void *user)
{
    (void)c;
    (void)msg;
    side_of(user)->debug_msgs++;
}

static int cb_hostkey(ssh_conn *c, const ssh_key *key, void *user)
{
    (void)c;
    tp_side *s = side_of(user);
    s->hostkey_calls++;
    if (s->defer_hostkey)
        return SSH_DEFERRED;
    if (s->reject_hostkey)
        return SSH_ERR_HOSTKEY_REJECTED;
    return ssh_key_equal_public(key, s->pair->hostkey) ? 0 : SSH_ERR_HOSTKEY_REJECTED;
}

static void start_auth(tp_side *s)
{
    const char *m = s->auth_method ? s->auth_method : "publickey";
    int rv;
    if (strcmp(m, "password") == 0)
        rv = ssh_auth_password(s->c, "user", s->password ? s->password : "secret");
    else if (strcmp(m, "kbdint") == 0)
        rv = ssh_auth_kbdint(s->c, "user", "");
    else if (strcmp(m, "none") == 0)
        rv = ssh_auth_none(s->c, "user");
    else if (strcmp(m, "pkquery") == 0)
        rv = ssh_auth_publickey(s->c, "user", s->pair->userkey, 0);
    else if (strcmp(m, "manual") == 0)
        rv = 0;
    else
        rv = ssh_auth_publickey(s->c, "user", s->pair->userkey, 1);
    if (rv != 0)
        fail_msg("starting auth %s: %s", m, ssh_strerror(rv));
}

static void cb_auth_ready(ssh_conn *c, void *user)
{
    (void)c;
    tp_side *s = side_of(user);
    s->auth_ready++;
    start_auth(s);
}

static void cb_auth_banner(ssh_conn *c, const char *msg, void *user)
{
    (void)c;
    tp_side *s = side_of(user);
    s->banners++;
    snprintf(s->banner, sizeof(s->banner), "%s", msg);
}

static void cb_auth_result(ssh_conn *c, const ssh_auth_result *r, void *user)
{
    tp_side *s = side_of(user);
    snprintf(s->last_methods, sizeof(s->last_methods), "%s", r->methods ? r->methods : "");
    s->last_auth_method = r->method;
    switch (r->status) {
    case SSH_AUTH_SUCCESS: s->auth_success++; break;
    case SSH_AUTH_FAILURE: s->auth_failures++; break;
    case SSH_AUTH_PARTIAL: s->auth_partial++; break;
    case SSH_AUTH_PK_OK:
        s->pk_ok++;
        if (s->on_auth_result == NULL)
            assert_int_equal(ssh_auth_publickey(c, "user", s->pair->userkey, 1), 0);
        break;
    }
    if (s->on_auth_result)
        s->on_auth_result(s, r);
}

static int cb_sign(ssh_conn *c, const ssh_key *key, const char *alg, const uint8_t *data,
                   size_t len, ssh_buf *sig, void *user)
{
    (void)c;
    tp_side *s = side_of(user);
    s->sign_calls++;
    snprintf(s->sign_alg, sizeof(s->sign_alg), "%s", alg);
    assert_true(ssh_key_equal_public(key, s->pair->userkey));
    if (s->defer_sign) {
        ssh_buf_free(&s->sign_data);
        ssh_buf_init(&s->sign_data, 0, 0);
        assert_int_equal(ssh_buf_put(&s->sign_data, data, len), 0);
        return SSH_DEFERRED;
    }
    /* The engine asks for ssh-rsa only when the configuration allows it. */
    return ssh_key_sign(s->pair->userkey, alg, SSH_KEY_ALLOW_SHA1, data, len, sig);
}

static void cb_kbdint(ssh_conn *c, const ssh_kbdint_prompt *p, void *user)
{
    tp_side *s = side_of(user);
    s->kbdint_prompts++;
    snprintf(s->kbd_name, sizeof(s->kbd_name), "%s", p->name);
    snprintf(s->kbd_instr, sizeof(s->kbd_instr), "%s", p->instruction);
    snprintf(s->kbd_prompt, sizeof(s->kbd_prompt), "%s", p->n_prompts ? p->prompts[0] : "");
    s->kbd_echo = p->n_prompts ? p->echo[0] : -1;
    const char *answers[8];
    for (uint32_t i = 0; i < p->n_prompts && i < 8; i++)
        answers[i] = s->password ? s->password : "secret";
    assert_int_equal(ssh_auth_kbdint_respond(c, p->n_prompts < 8 ? p->n_prompts : 8, answers), 0);
}

static int server_decide(tp_side *s, const ssh_auth_request *r)
{
    switch (r->method) {
    case SSH_AUTH_NONE: return SSH_AUTH_REJECT;
    case SSH_AUTH_PASSWORD:
        return strcmp(r->password, "secret") == 0 ? SSH_AUTH_ACCEPT : SSH_AUTH_REJECT;
    case SSH_AUTH_PUBLICKEY:
        return ssh_key_equal_public(r->key, s->authorized_key ? s->authorized_key
                                                              : s->pair->userkey)
                   ? SSH_AUTH_ACCEPT
                   : SSH_AUTH_REJECT;
    case SSH_AUTH_KBDINT:
        if (r->n_responses == 0) {
            const char *prompts[] = {"Password: "};
            int echo[] = {0};
            assert_int_equal(ssh_auth_kbdint_challenge(s->c, "", "", 1, prompts, echo), 0);
            return SSH_AUTH_CHALLENGE;
        }
        return (r->n_responses == 1 && strcmp(r->responses[0], "secret") == 0) ? SSH_AUTH_ACCEPT
                                                                               : SSH_AUTH_REJECT;
    }
    return SSH_AUTH_REJECT;
}

static int cb_auth_request(ssh_conn *c, const ssh_auth_request *r, void *user)
{
    (void)c;
    tp_side *s = side_of(user);
    s->auth_requests++;
    s->last_auth_method = r->method;
    if (r->method == SSH_AUTH_PUBLICKEY) {
        snprintf(s->last_key_alg, sizeof(s->last_key_alg), "%s", r->key_alg);
        s->last_has_signature = r->has_signature;
    }
    int d = s->on_auth_request ? s->on_auth_request(s, r) : server_decide(s, r);
    if (s->defer_auth && d != SSH_AUTH_CHALLENGE && d != SSH_AUTH_DEFER) {
        s->deferred_decision = d;
        return SSH_AUTH_DEFER;
    }
    return d;
}

static void cb_auth_success(ssh_conn *c, const char *u, void *user)
{
    (void)c;
    (void)u;
    side_of(user)->auth_success++;
}

static int cb_channel_open(ssh_conn *c, uint32_t id, const ssh_channel_open_info *info,
                           const char **why, void *user)
{
    (void)c;
    tp_side *s = side_of(user);
    tp_chan *ch = chan(s, id);
    ch->open_result = 0;
    snprintf(ch->last_req, sizeof(ch->last_req), "%s", info->type);
    if (s->on_channel_open) {
        int rv = s->on_channel_open(s, id, info, why);
        if (rv < 0) {
            ch->used = 0;
            ssh_buf_free(&ch->sink);
            ssh_buf_free(&ch->sink_err);
        }
        return rv;
    }
    if (s->refuse_open) {
        ch->used = 0;
        ssh_buf_free(&ch->sink);
        ssh_buf_free(&ch->sink_err);
        *why = "refused by test";
        return -s->refuse_open;
    }
    if (s->defer_open)
        return SSH_DEFERRED;
    return 0;
}

static void cb_open_result(ssh_conn *c, uint32_t id, uint32_t reason, const char *msg,
                           void *ch_user)
{
    (void)ch_user;
    tp_side *s = side_of(ssh_conn_get_user(c));
    tp_chan *ch = chan(s, id);
    ch->open_result = (int)reason;
    ch->open_results++;
    snprintf(ch->open_msg, sizeof(ch->open_msg), "%s", msg ? msg : "");
}

static void cb_data(ssh_conn *c, uint32_t id, int stream, const uint8_t *data, size_t len,
                    void *ch_user)
{
    (void)ch_user;
    tp_side *s = side_of(ssh_conn_get_user(c));
    tp_chan *ch = chan(s, id);
    if (s->on_data)
        s->on_data(s, id, stream, data, len);
    else
        assert_int_equal(ssh_buf_put(stream ? &ch->sink_err : &ch->sink, data, len), 0);
    if (!s->hold)
        assert_int_equal(ssh_channel_consumed(c, id, len), 0);
}

static void cb_writable(ssh_conn *c, uint32_t id, void *ch_user)
{
    (void)ch_user;
    chan(side_of(ssh_conn_get_user(c)), id)->writable++;
}

static void cb_eof(ssh_conn *c, uint32_t id, void *ch_user)
{
    (void)ch_user;
    chan(side_of(ssh_conn_get_user(c)), id)->eof++;
}

static void cb_closed(ssh_conn *c, uint32_t id, void *ch_user)
{
    (void)ch_user;
    chan(side_of(ssh_conn_get_user(c)), id)->closed++;
}

static int cb_peer_close(ssh_conn *c, uint32_t id, void *ch_user)
{
    (void)ch_user;
    tp_side *s = side_of(ssh_conn_get_user(c));
    chan(s, id)->peer_closes++;
    if (s->on_peer_close)
        return s->on_peer_close(s, id);
    return s->hold_close ? SSH_DEFERRED : 0;
}

static int cb_channel_request(ssh_conn *c, uint32_t id, const ssh_channel_req *r, void *ch_user)
{
    (void)ch_user;
    tp_side *s = side_of(ssh_conn_get_user(c));
    tp_chan *ch = chan(s, id);
    ch->requests++;
    snprintf(ch->last_req, sizeof(ch->last_req), "%s", r->type);
    if (strcmp(r->type, "exec") == 0)
        snprintf(ch->last_cmd, sizeof(ch->last_cmd), "%.*s", (int)r->command_len, r->command);
    if (strcmp(r->type, "exit-status") == 0) {
        ch->exit_status = r->exit_status;
        ch->got_exit_status = 1;
    }
    if (s->on_channel_request)
        return s->on_channel_request(s, id, r);
    static const char *const ok[] = {"exec", "shell", "env", "pty-req", "subsystem",
                                     "window-change", "signal"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(r->type, ok[i]) == 0)
            return 1;
    return 0;
}

static void cb_request_result(ssh_conn *c, uint32_t id, int ok, void *req_user, void *ch_user)
{
    (void)ch_user;
    tp_chan *ch = chan(side_of(ssh_conn_get_user(c)), id);
    if (ch->n_res < 32) {
        ch->res_user[ch->n_res] = req_user;
        ch->res_ok[ch->n_res] = ok;
        ch->n_res++;
    }
    if (ok)
        ch->req_ok++;
    else
        ch->req_fail++;
}

static int cb_global_request(ssh_conn *c, const ssh_global_req *r, ssh_buf *reply, void *user)
{
    (void)c;
    tp_side *s = side_of(user);
    s->global_requests++;
    if (s->on_global_request)
        return s->on_global_request(s, r, reply);
    if (s->defer_global)
        return SSH_REQUEST_DEFER;
    if (strcmp(r->name, "tcpip-forward") == 0) {
        if (r->port == 0)
            assert_int_equal(ssh_buf_put_u32(reply, 40000), 0);
        return 1;
    }
    return 0;
}

static void cb_global_reply(ssh_conn *c, int ok, const uint8_t *data, size_t len, void *req_user)
{
    tp_side *s = side_of(ssh_conn_get_user(c));
    if (s->n_greply < 32) {
        s->greply_user[s->n_greply] = req_user;
        s->greply_ok[s->n_greply] = ok;
        s->n_greply++;
    }
    if (ok)
        s->global_ok++;
    else
        s->global_fail++;
    if (ok && len == 4)
        s->global_port = ssh_peek_u32(data);
}

static void cb_log(ssh_conn *c, int level, const char *msg, void *user)
{
    (void)c;
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("TP_DEBUG") ? atoi(getenv("TP_DEBUG")) : 0;
    if (side_of(user)->log_grep && strstr(msg, side_of(user)->log_grep))
        side_of(user)->log_hits++;
    if (level <= verbose)
        fprintf(stderr, "[%s] %s\n", side_of(user)->server ? "srv" : "cli", msg);
}

int tp_hostkey_sign;

static int cb_hostkey_sign(ssh_conn *c, const ssh_key *key, const char *alg, const uint8_t *h,
                           size_t hlen, ssh_buf *sig, void *user)
{
    (void)c;
    (void)key;
    tp_side *s = side_of(user);
    s->hk_sign_calls++;
    snprintf(s->hk_sign_alg, sizeof(s->hk_sign_alg), "%s", alg);
    assert_true(hlen <= sizeof(s->hk_sign_h));
    memcpy(s->hk_sign_h, h, hlen);
    s->hk_sign_hlen = hlen;
    if (tp_hostkey_sign == 2)
        return SSH_DEFERRED;
    return ssh_key_sign(s->pair->hostkey, alg, SSH_KEY_ALLOW_SHA1, h, hlen, sig);
}

static const ssh_callbacks callbacks = {
    .rand = cb_rand,
    .log = cb_log,
    .hostkey = cb_hostkey,
    .kex_done = cb_kex_done,
    .disconnect = cb_disconnect,
    .debug_msg = cb_debug_msg,
    .auth_ready = cb_auth_ready,
    .auth_banner = cb_auth_banner,
    .auth_result = cb_auth_result,
    .sign = cb_sign,
    .kbdint_prompt = cb_kbdint,
    .auth_request = cb_auth_request,
    .auth_success = cb_auth_success,
    .channel_open = cb_channel_open,
    .channel_open_result = cb_open_result,
    .channel_data = cb_data,
    .channel_writable = cb_writable,
    .channel_eof = cb_eof,
    .channel_closed = cb_closed,
    .channel_peer_close = cb_peer_close,
    .channel_request = cb_channel_request,
    .channel_request_result = cb_request_result,
    .global_request = cb_global_request,
    .global_reply = cb_global_reply,
};

tp_pair *tp_pair_new(const ssh_conn_config *ccfg, const ssh_conn_config *scfg, ssh_key *hostkey,
                     ssh_key *userkey)
{
    tp_pair *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    p->hostkey = hostkey;
    p->userkey = userkey;
    p->now = 1000;
    p->flip_bit_at = -1;
    p->cli.pair = p->srv.pair = p;
    p->srv.server = 1;
    p->cli.rng = 1;
    p->srv.rng = 2;

    ssh_conn_config c, s;
    if (ccfg)
        c = *ccfg;
    else
        ssh_conn_config_init(&c, SSH_ROLE_CLIENT);
    if (scfg)
        s = *scfg;
    else
        ssh_conn_config_init(&s, SSH_ROLE_SERVER);
    c.role = SSH_ROLE_CLIENT;
    s.role = SSH_ROLE_SERVER;
    ssh_key *keys[1] = {hostkey};
    if (s.n_host_keys == 0) {
        s.host_keys = keys;
        s.n_host_keys = 1;
    }
    if (s.auth_methods == NULL)
        s.auth_methods = "publickey,password,keyboard-interactive";
    int rv = ssh_conn_new(&p->cli.c, &c, &callbacks, &p->cli);
    if (rv != 0)
        fail_msg("client ssh_conn_new: %s", ssh_strerror(rv));
    ssh_callbacks scb = callbacks;
    if (tp_hostkey_sign)
        scb.hostkey_sign = cb_hostkey_sign;
    rv = ssh_conn_new(&p->srv.c, &s, &scb, &p->srv);
    if (rv != 0)
        fail_msg("server ssh_conn_new: %s", ssh_strerror(rv));
    return p;
}

static void side_free(tp_side *s)
{
    ssh_conn_free(s->c);
    ssh_buf_free(&s->sign_data);
    for (int i = 0; i < TP_MAX_CH; i++) {
        if (s->ch[i].used) {
            ssh_buf_free(&s->ch[i].sink);
            ssh_buf_free(&s->ch[i].sink_err);
        }
    }
}

void tp_pair_free(tp_pair *p)
{
    if (p == NULL)
        return;
    side_free(&p->cli);
    side_free(&p->srv);
    free(p);
}

void tp_start(tp_pair *p)
{
    assert_int_equal(ssh_conn_start(p->cli.c, p->now), 0);
    assert_int_equal(ssh_conn_start(p->srv.c, p->now), 0);
}

size_t tp_transfer(tp_pair *p, tp_side *from, tp_side *to)
{
    struct iovec iov[4];
    size_t moved = 0;
    size_t n = ssh_conn_output(from->c, iov, 4);
    for (size_t i = 0; i < n; i++) {
        size_t len = iov[i].iov_len;
        if (p->chunk && len > p->chunk)
            len = p->chunk;
        uint8_t *data = iov[i].iov_base;
        if (from == &p->cli && p->flip_bit_at >= 0 && ssh_conn_state(from->c) != SSH_STATE_HANDSHAKE) {
            if ((uint64_t)p->flip_bit_at >= p->cli_sent && (uint64_t)p->flip_bit_at < p->cli_sent + len) {
                data[p->flip_bit_at - p->cli_sent] ^= 0x01;
                p->flip_bit_at = -1;
            }
            p->cli_sent += len;
        }
        /* A side that has failed still flushes (its DISCONNECT) but the
         * receiver may have failed too: then the bytes are dropped. */
        if (ssh_conn_error(to->c) == 0)
            ssh_conn_feed(to->c, data, len, p->now);
        ssh_conn_output_consumed(from->c, len);
        moved += len;
        if (len < iov[i].iov_len)
            break;
    }
    return moved;
}

size_t tp_pump(tp_pair *p, int max_rounds)
{
    size_t total = 0;
    for (int r = 0; max_rounds <= 0 || r < max_rounds; r++) {
        size_t a = tp_transfer(p, &p->cli, &p->srv);
        size_t b = tp_transfer(p, &p->srv, &p->cli);
        total += a + b;
        if (a == 0 && b == 0)
            break;
    }
    return total;
}

void tp_advance(tp_pair *p, uint64_t ms)
{
    p->now += ms;
    if (ssh_conn_deadline(p->cli.c) <= p->now)
        ssh_conn_tick(p->cli.c, p->now);
    if (ssh_conn_deadline(p->srv.c) <= p->now)
        ssh_conn_tick(p->srv.c, p->now);
}

int tp_connect(tp_pair *p)
{
    tp_start(p);
    tp_pump(p, 0);
    return ssh_conn_state(p->cli.c) == SSH_STATE_OPEN ? 0 : -1;
}

int tp_open_session(tp_pair *p)
{
    uint32_t id;
    ssh_channel_open_info info = {.kind = SSH_CHAN_SESSION};
    if (ssh_channel_open(p->cli.c, &info, NULL, &id) != 0)
        return -1;
    tp_chan *ch = chan(&p->cli, id);
    ch->open_result = -1;
    tp_pump(p, 0);
    return ch->open_result == 0 ? (int)id : -1;
}

ssh_key *tp_key(enum ssh_key_type t)
{
    static ssh_key *keys[8];
    if (keys[t] == NULL) {
        int rv = ssh_key_generate(t, t == SSH_KEY_RSA ? 2048 : 0, &keys[t]);
        if (rv != 0)
            fail_msg("generating key type %d: %s", (int)t, ssh_strerror(rv));
    }
    return keys[t];
}

ssh_key *tp_key_alt(enum ssh_key_type t)
{
    static ssh_key *keys[8];
    if (keys[t] == NULL) {
        int rv = ssh_key_generate(t, t == SSH_KEY_RSA ? 2048 : 0, &keys[t]);
        if (rv != 0)
            fail_msg("generating key type %d: %s", (int)t, ssh_strerror(rv));
    }
    return keys[t];
}

void tp_send_raw(ssh_conn *c, uint8_t type, const void *body, size_t len)
{
    ssh_buf *b = ssh_pkt_begin(c, type);
    assert_int_equal(ssh_buf_put(b, body, len), 0);
    assert_int_equal(ssh_pkt_end(c), 0);
}

void tp_inject_packet(ssh_conn *c, const uint8_t *payload, size_t n, size_t padlen, uint32_t plen)
{
    ssh_pktdir *d = &c->tx;
    size_t total = 4 + 1 + n + padlen;
    uint8_t *pkt;
    assert_false(c->pkt_open);
    assert_true(padlen < 256);
    assert_int_equal(ssh_buf_append_space(&c->out, total + d->maclen, &pkt), 0);
    ssh_poke_u32(pkt, plen ? plen : (uint32_t)(1 + n + padlen));
    pkt[4] = (uint8_t)padlen;
    memcpy(pkt + 5, payload, n);
    memset(pkt + 5 + n, 0xa5, padlen);
    uint8_t *mac = pkt + total;
    int rv = 0;
    if (d->cipher == NULL) {
        rv = 0;
    } else if (d->aead) {
        rv = ssh_cipher_aead_seal(d->cipher, d->seq, pkt, total, mac);
    } else if (d->etm) {
        rv = ssh_cipher_crypt(d->cipher, pkt + 4, total - 4);
        if (rv == 0)
            rv = ssh_mac_compute(d->mac, d->seq, pkt, total, mac);
    } else {
        rv = ssh_mac_compute(d->mac, d->seq, pkt, total, mac);
        if (rv == 0)
            rv = ssh_cipher_crypt(d->cipher, pkt, total);
    }
    assert_int_equal(rv, 0);
    d->seq++;
}
