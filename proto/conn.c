/*
 * conn.c - the connection object: life cycle, the message dispatcher, the
 * input/output interface and timers.
 *
 * Dispatch rules (RFC 4253 sections 7.1 and 11, RFC 4252 section 6,
 * strict KEX):
 *  - during the first key exchange with strict KEX only KEXINIT, NEWKEYS
 *    and method messages are accepted (DISCONNECT is honoured too); without
 *    strict KEX nothing above 49 is accepted before the first NEWKEYS
 *    either (there is no service yet);
 *  - during a later key exchange, messages above 49 are handled as at any
 *    other time, even after the peer's KEXINIT.  RFC 4253 section 7.1 says
 *    a peer must not send them there, but some do (AsyncSSH keeps sending
 *    channel data after its KEXINIT) and OpenSSH accepts them: its key
 *    exchange replaces only the handlers of messages 1-49.  What we send
 *    meanwhile still waits for our NEWKEYS (packet.c);
 *  - service, authentication and connection messages are only accepted in
 *    their phase; an unknown message number gets SSH_MSG_UNIMPLEMENTED.
 */
#include "conn_int.h"

#include "sshtun/cert.h"
#include "kex.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#define INPUT_MAX  (2u * 1024 * 1024)
#define OUTPUT_MAX (512u * 1024 * 1024)

/* ---- configuration ------------------------------------------------------------ */

void ssh_conn_config_init(ssh_conn_config *cfg, enum ssh_role role)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->role = role;
}

/* Keep only names this build supports, in the given order. */
static char *filter_list(const char *list, int (*known)(const char *))
{
    size_t n = strlen(list);
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    out[0] = '\0';
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char name[SSH_NAME_MAX];
        if (l > 0 && l < sizeof(name)) {
            memcpy(name, p, l);
            name[l] = '\0';
            if (known(name) && !ssh_namelist_has(out, name)) {
                if (o)
                    out[o++] = ',';
                memcpy(out + o, name, l);
                o += l;
            }
        }
        out[o] = '\0';
        if (!e)
            break;
        p = e + 1;
    }
    out[o] = '\0';
    return out;
}

static int known_kex(const char *n)
{
    return ssh_kexm_by_name(n) != NULL;
}
/* Signature algorithms and their certificate variants. */
static int known_hostkey(const char *n)
{
    return ssh_key_alg_plain(n) != NULL;
}
static int known_cipher(const char *n)
{
    return ssh_cipher_by_name(n) != NULL;
}
static int known_mac(const char *n)
{
    return ssh_mac_by_name(n) != NULL;
}
static int known_comp(const char *n)
{
    return ssh_comp_type_by_name(n) >= 0;
}

int ssh_conn_new(ssh_conn **out, const ssh_conn_config *cfg, const ssh_callbacks *cb, void *user)
{
    if (out == NULL || cfg == NULL || cb == NULL)
        return SSH_ERR_ARGUMENT;
    if (cfg->role == SSH_ROLE_SERVER && cfg->n_host_keys == 0)
        return SSH_ERR_ARGUMENT;
    ssh_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SSH_ERR_ALLOC;
    c->cfg = *cfg;
    c->cb = *cb;
    c->user = user;
    c->server = cfg->role == SSH_ROLE_SERVER;

    struct {
        const char **field;
        const char *def;
        int (*known)(const char *);
    } lists[] = {
        {&c->cfg.kex_algs, SSH_DEFAULT_KEX, known_kex},
        {&c->cfg.hostkey_algs, SSH_DEFAULT_HOSTKEY_ALGS, known_hostkey},
        {&c->cfg.ciphers, SSH_DEFAULT_CIPHERS, known_cipher},
        {&c->cfg.macs, SSH_DEFAULT_MACS, known_mac},
        {&c->cfg.pubkey_algs, SSH_DEFAULT_PUBKEY_ALGS, known_hostkey},
        {&c->cfg.compression, c->server ? "none,zlib@openssh.com" : "none,zlib@openssh.com,zlib",
         known_comp},
    };
    int rv = SSH_ERR_ALLOC;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        const char *src = *lists[i].field ? *lists[i].field : lists[i].def;
        char *f = filter_list(src, lists[i].known);
        if (f == NULL)
            goto fail;
        c->strpool[i] = f;
        *lists[i].field = f;
        /* Ciphers and MACs may legitimately be reduced to AEAD only, but
         * there must be a kex, a host key algorithm and a cipher. */
        if (f[0] == '\0' && i != 3) {
            rv = SSH_ERR_ARGUMENT;
            goto fail;
        }
    }
    if (cfg->n_host_keys > 0) {
        /* Copy the array of pointers; the keys themselves stay the
         * application's. */
        ssh_key **hk = calloc(cfg->n_host_keys, sizeof(*hk));
        if (hk == NULL)
            goto fail;
        memcpy(hk, cfg->host_keys, cfg->n_host_keys * sizeof(*hk));
        c->host_keys_copy = hk;
        c->cfg.host_keys = hk;
    }
    /* RFC 4253 section 4.2: at most 255 bytes including CR LF, and no line
     * break inside. */
    const char *ident = cfg->ident ? cfg->ident : "sshtun_" "0.1";
    if (strlen("SSH-2.0-") + strlen(ident) + 2 > SSH_IDENT_MAX || strpbrk(ident, "\r\n")) {
        rv = SSH_ERR_ARGUMENT;
        goto fail;
    }
    snprintf(c->v_ours, sizeof(c->v_ours), "SSH-2.0-%s", ident);
    c->cfg.ident = NULL;
    c->cfg.auth_methods = NULL;
    if ((rv = ssh_auth_set_methods(c, cfg->auth_methods ? cfg->auth_methods : "publickey")) != 0)
        goto fail;

    if (c->cfg.window == 0)
        c->cfg.window = SSH_WINDOW_DEFAULT;
    if (c->cfg.window_max == 0)
        c->cfg.window_max = SSH_WINDOW_MAX;
    if (c->cfg.window_max < c->cfg.window)
        c->cfg.window_max = c->cfg.window;
    if (c->cfg.window_budget == 0)
        c->cfg.window_budget = SSH_WINDOW_BUDGET;
    if (c->cfg.max_packet == 0)
        c->cfg.max_packet = SSH_MAXPKT_DEFAULT;
    if (c->cfg.max_packet > SSH_MAXPKT_LIMIT)
        c->cfg.max_packet = SSH_MAXPKT_LIMIT;
    if (c->cfg.max_channels == 0)
        c->cfg.max_channels = 4096;
    if (c->cfg.max_channels > SSH_CHANNEL_MAX_ABS)
        c->cfg.max_channels = SSH_CHANNEL_MAX_ABS;
    if (c->cfg.rekey_time_ms == 0)
        c->cfg.rekey_time_ms = SSH_REKEY_TIME_MS;
    if (c->cfg.alive_count_max == 0)
        c->cfg.alive_count_max = 3;
    if (c->cfg.login_grace_ms == 0)
        c->cfg.login_grace_ms = 120 * 1000;
    if (c->cfg.max_auth_tries == 0)
        c->cfg.max_auth_tries = 6;
    if (c->cfg.max_banner_lines == 0)
        c->cfg.max_banner_lines = 1024;
    if (c->cfg.log_level <= 0)
        c->cfg.log_level = 2;

    ssh_buf_init(&c->in, INPUT_MAX, 0);
    ssh_buf_init(&c->out, OUTPUT_MAX, 0);
    ssh_buf_init(&c->pending, OUTPUT_MAX, 0);
    ssh_buf_init(&c->auth_sigdata, 256 * 1024, 0);
    /* Payloads pass through here decompressed (passwords among them with
     * "zlib"): cleansed on free.  Deflate may add a little to a packet. */
    ssh_buf_init(&c->zin, 2 * SSH_PACKET_MAX, SSH_BUF_SECRET);
    ssh_buf_init(&c->zout, 2 * SSH_PACKET_MAX, SSH_BUF_SECRET);
    c->tx.block = c->rx.block = 8;
    c->tx.rekey_bytes = c->rx.rekey_bytes = SSH_REKEY_BYTES_MAX;
    ssh_ptrq_init(&c->greq_out, SSH_REPLYQ_MAX);
    ssh_replyq_init(&c->greq_in, SSH_REPLYQ_MAX);
    c->phase = PHASE_IDENT;
    *out = c;
    return 0;
fail:
    for (size_t i = 0; i < sizeof(c->strpool) / sizeof(c->strpool[0]); i++)
        free(c->strpool[i]);
    free(c->auth_methods);
    free(c->host_keys_copy);
    free(c);
    return rv;
}

void ssh_conn_free(ssh_conn *c)
{
    if (c == NULL)
        return;
    ssh_kex_free(c->kex);
    ssh_pktdir_clear(&c->tx);
    ssh_pktdir_clear(&c->rx);
    ssh_channels_free(c);
    ssh_auth_free(c);
    ssh_buf_free(&c->in);
    ssh_buf_free(&c->out);
    ssh_buf_free(&c->pending);
    ssh_buf_free(&c->auth_sigdata);
    ssh_buf_free(&c->zin);
    ssh_buf_free(&c->zout);
    for (int i = 0; i < SSH_ALG_SLOTS; i++)
        free(c->alg[i]);
    for (size_t i = 0; i < sizeof(c->strpool) / sizeof(c->strpool[0]); i++)
        free(c->strpool[i]);
    ssh_key_free(c->hostkey);
    ssh_key_free(c->auth_key);
    free(c->server_sig_algs);
    free(c->auth_user);
    free(c->auth_methods);
    free(c->host_keys_copy);
    OPENSSL_cleanse(c->session_id, sizeof(c->session_id));
    OPENSSL_cleanse(c->padpool, sizeof(c->padpool));
    free(c);
}

void *ssh_conn_get_user(const ssh_conn *c)
{
    return c->user;
}

void ssh_conn_random(ssh_conn *c, uint8_t *buf, size_t n)
{
    if (c->cb.rand)
        c->cb.rand(c->user, buf, n);
    else if (RAND_bytes(buf, (int)n) != 1)
        memset(buf, 0, n); /* unreachable in practice; KEX then fails */
}

void ssh_conn_logf(ssh_conn *c, int level, const char *fmt, ...)
{
    if (c->cb.log == NULL || level > c->cfg.log_level)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->cb.log(c, level, msg, c->user);
}

int ssh_conn_start(ssh_conn *c, uint64_t now_ms)
{
    int rv;
    if (c->phase != PHASE_IDENT || c->out.len != 0 || c->kex != NULL)
        return SSH_ERR_STATE;
    c->now = now_ms;
    c->start_time = now_ms;
    c->last_rx = now_ms;
    if ((rv = ssh_ident_send(c)) != 0 || (rv = ssh_kex_start(c)) != 0)
        return ssh_conn_fail(c, rv, NULL);
    return 0;
}

/* ---- failure ---------------------------------------------------------------------- */

int ssh_conn_fail(ssh_conn *c, int err, const char *msg)
{
    if (c->err != 0)
        return c->err;
    c->err = err;
    uint32_t reason = ssh_err_disconnect(err);
    const char *text = msg ? msg : ssh_strerror(err);
    if (err != SSH_ERR_DISCONNECTED && err != SSH_ERR_CONN_LOST) {
        c->phase = c->phase == PHASE_CLOSED ? PHASE_CLOSED : c->phase;
        ssh_pkt_send_disconnect(c, reason, text);
    }
    c->phase = PHASE_CLOSED;
    c->paused = 0;
    if (!c->disconnect_cb_done) {
        c->disconnect_cb_done = 1;
        if (c->cb.disconnect)
            c->cb.disconnect(c, err, reason, text, c->user);
    }
    return err;
}

int ssh_conn_disconnect(ssh_conn *c, uint32_t reason, const char *msg)
{
    if (c->err != 0)
        return c->err;
    ssh_pkt_send_disconnect(c, reason, msg);
    c->err = SSH_ERR_CLOSED;
    c->phase = PHASE_CLOSED;
    if (!c->disconnect_cb_done) {
        c->disconnect_cb_done = 1;
        if (c->cb.disconnect)
            c->cb.disconnect(c, SSH_ERR_CLOSED, reason, msg ? msg : "", c->user);
    }
    return 0;
}

/* ---- dispatch ------------------------------------------------------------------------ */

static int recv_disconnect(ssh_conn *c, ssh_cur *p)
{
    uint32_t reason = 0;
    char msg[1024] = "";
    ssh_cur_get_u32(p, &reason);
    if (ssh_cur_get_cstr(p, msg, sizeof(msg)) != 0)
        msg[0] = '\0';
    c->err = SSH_ERR_DISCONNECTED;
    c->phase = PHASE_CLOSED;
    ssh_conn_logf(c, 1, "Received disconnect: %u: %s", reason, msg);
    if (!c->disconnect_cb_done) {
        c->disconnect_cb_done = 1;
        if (c->cb.disconnect)
            c->cb.disconnect(c, SSH_ERR_DISCONNECTED, reason, msg, c->user);
    }
    return SSH_ERR_DISCONNECTED;
}

static int recv_ext_info(ssh_conn *c, ssh_cur *p)
{
    uint32_t n;
    int rv;
    if ((rv = ssh_cur_get_u32(p, &n)) != 0)
        return rv;
    if (n > 64)
        return SSH_ERR_TOO_LONG;
    for (uint32_t i = 0; i < n; i++) {
        char name[SSH_NAME_MAX];
        const uint8_t *v;
        size_t vl;
        if ((rv = ssh_cur_get_cstr(p, name, sizeof(name))) != 0 ||
            (rv = ssh_cur_get_string(p, &v, &vl)) != 0)
            return rv;
        if (strcmp(name, "server-sig-algs") == 0 && !c->server) {
            if (vl > SSH_NAMELIST_MAX || memchr(v, 0, vl) != NULL)
                return SSH_ERR_FORMAT;
            char *s = malloc(vl + 1);
            if (s == NULL)
                return SSH_ERR_ALLOC;
            memcpy(s, v, vl);
            s[vl] = '\0';
            free(c->server_sig_algs);
            c->server_sig_algs = s;
            ssh_conn_logf(c, 1, "kex_input_ext_info: server-sig-algs=<%s>", s);
        }
    }
    return ssh_cur_end(p);
}

static int send_unimplemented(ssh_conn *c, uint32_t seq)
{
    ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_UNIMPLEMENTED);
    if (ssh_buf_put_u32(b, seq) != 0) {
        ssh_pkt_cancel(c);
        return SSH_ERR_NO_SPACE;
    }
    return ssh_pkt_end(c);
}

static int dispatch(ssh_conn *c, const uint8_t *payload, size_t len, uint32_t seq)
{
    uint8_t type = payload[0];
    ssh_cur p;
    ssh_cur_init(&p, payload + 1, len - 1);
    int rv;

    /* Strict KEX: nothing unexpected during the first exchange. */
    if (c->kex_strict && !c->kex_done_once && type != SSH_MSG_DISCONNECT &&
        !(type == SSH_MSG_KEXINIT || type == SSH_MSG_NEWKEYS || (type >= 30 && type <= 49))) {
        ssh_conn_logf(c, 1, "strict KEX violation: unexpected message %u during initial KEX", type);
        return SSH_ERR_STRICT_KEX;
    }

    switch (type) {
    case SSH_MSG_DISCONNECT:
        return recv_disconnect(c, &p);
    case SSH_MSG_IGNORE:
        return 0;
    case SSH_MSG_DEBUG: {
        int display;
        char msg[1024];
        if (ssh_cur_get_bool(&p, &display) == 0 && ssh_cur_get_cstr(&p, msg, sizeof(msg)) == 0) {
            ssh_conn_logf(c, 2, "Remote: %s", msg);
            if (display && c->cb.debug_msg)
                c->cb.debug_msg(c, msg, c->user);
        }
        return 0;
    }
    case SSH_MSG_UNIMPLEMENTED: {
        uint32_t s = 0;
        ssh_cur_get_u32(&p, &s);
        ssh_conn_logf(c, 2, "Received SSH2_MSG_UNIMPLEMENTED for %u", s);
        return 0;
    }
    case SSH_MSG_KEXINIT:
        return ssh_kex_dispatch(c, type, payload, len, seq);
    case SSH_MSG_SERVICE_REQUEST: {
        char name[SSH_NAME_MAX];
        if (!c->server || c->phase != PHASE_SERVICE)
            return SSH_ERR_UNEXPECTED;
        if ((rv = ssh_cur_get_cstr(&p, name, sizeof(name))) != 0 || (rv = ssh_cur_end(&p)) != 0)
            return rv;
        if (strcmp(name, "ssh-userauth") != 0)
            return SSH_ERR_SERVICE;
        ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_SERVICE_ACCEPT);
        if (ssh_buf_put_cstring(b, name) != 0) {
            ssh_pkt_cancel(c);
            return SSH_ERR_NO_SPACE;
        }
        c->phase = PHASE_AUTH;
        return ssh_pkt_end(c);
    }
    case SSH_MSG_SERVICE_ACCEPT: {
        char name[SSH_NAME_MAX];
        if (c->server || c->phase != PHASE_SERVICE)
            return SSH_ERR_UNEXPECTED;
        /* Some old servers send an empty accept; the name is optional. */
        if (p.len && (rv = ssh_cur_get_cstr(&p, name, sizeof(name))) != 0)
            return rv;
        c->phase = PHASE_AUTH;
        ssh_conn_logf(c, 2, "SSH2_MSG_SERVICE_ACCEPT received");
        /* The first round trip the server answers without work of its own
         * (a key exchange's answers wait for host key checks, the
         * authentication's for signatures and the server's decisions). */
        ssh_rtt_sample(c, c->now - c->svc_sent, "service request");
        if (c->cb.auth_ready)
            c->cb.auth_ready(c, c->user);
        return 0;
    }
    case SSH_MSG_EXT_INFO:
        if (!c->kex_done_once && !(c->kex && (c->kex->flags & KEX_GOT_NEWKEYS)))
            return SSH_ERR_UNEXPECTED;
        return recv_ext_info(c, &p);
    }
    if (type == SSH_MSG_NEWKEYS || (type >= 30 && type <= 49)) {
        /* Outside an exchange, as OpenSSH's kex_protocol_error does:
         * answer UNIMPLEMENTED and go on (strict KEX only binds the
         * first exchange, which is running until kex_done_once). */
        if (c->kex == NULL && c->kex_done_once) {
            ssh_conn_logf(c, 1, "kex protocol error: type %u seq %u", type, seq);
            return send_unimplemented(c, seq);
        }
        return ssh_kex_dispatch(c, type, payload, len, seq);
    }
    if (!c->kex_done_once)
        return SSH_ERR_UNEXPECTED;
    if (type >= 50 && type <= 79) {
        if (c->phase == PHASE_AUTH)
            return c->server ? ssh_auth_dispatch_server(c, type, &p)
                             : ssh_auth_dispatch_client(c, type, &p);
        /* RFC 4252 section 5.1: requests after success are ignored. */
        if (c->phase == PHASE_OPEN && c->server && type == SSH_MSG_USERAUTH_REQUEST)
            return 0;
        if (c->phase == PHASE_OPEN && !c->server && type == SSH_MSG_USERAUTH_BANNER)
            return 0;
        return SSH_ERR_UNEXPECTED;
    }
    if (type >= 80 && type <= 127) {
        if (c->phase != PHASE_OPEN)
            return SSH_ERR_UNEXPECTED;
        if (type <= 82)
            return ssh_global_dispatch(c, type, &p);
        return ssh_channel_dispatch(c, type, &p);
    }
    return send_unimplemented(c, seq);
}

int ssh_conn_dispatch(ssh_conn *c, const uint8_t *payload, size_t len, uint32_t seq)
{
    c->last_rx = c->now;
    c->alive_missed = 0;
    c->alive_next = 0;
    return dispatch(c, payload, len, seq);
}

void ssh_conn_kex_finished(ssh_conn *c)
{
    int first = !c->kex_done_once;
    c->kex_done_once = 1;
    c->kex_count++;
    c->kex_time = c->now;
    if (first) {
        c->phase = PHASE_SERVICE;
        if (!c->server) {
            c->svc_sent = c->now;
            ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_SERVICE_REQUEST);
            if (ssh_buf_put_cstring(b, "ssh-userauth") != 0)
                ssh_pkt_cancel(c);
            else
                ssh_pkt_end(c);
        }
    }
    if (c->cb.kex_done)
        c->cb.kex_done(c, first, c->user);
}

/* ---- input ----------------------------------------------------------------------------- */

static int process(ssh_conn *c)
{
    if (c->in_dispatch)
        return 0; /* the outer loop continues */
    c->in_dispatch = 1;
    int rv = ssh_pkt_process(c);
    c->in_dispatch = 0;
    if (rv < 0 && c->err == 0)
        return ssh_conn_fail(c, rv, NULL);
    return c->err == SSH_ERR_CLOSED ? 0 : c->err;
}

int ssh_conn_resume(ssh_conn *c)
{
    if (c->err != 0)
        return c->err;
    return process(c);
}

int ssh_conn_input_space(ssh_conn *c, size_t want, uint8_t **p, size_t *n)
{
    if (c->err != 0)
        return c->err;
    if (want == 0)
        want = 64 * 1024;
    size_t room = c->in.max - c->in.len;
    if (room == 0)
        return SSH_ERR_AGAIN;
    if (want > room)
        want = room;
    int rv = ssh_buf_reserve(&c->in, want, p);
    if (rv != 0)
        return rv;
    *n = ssh_buf_avail(&c->in);
    if (*n > room)
        *n = room;
    return 0;
}

int ssh_conn_want_input(const ssh_conn *c)
{
    return c->err == 0 && c->in.len < c->in.max;
}

int ssh_conn_input_commit(ssh_conn *c, size_t n, uint64_t now_ms)
{
    if (c->err != 0)
        return c->err == SSH_ERR_CLOSED ? 0 : c->err;
    if (ssh_buf_commit(&c->in, n) != 0)
        return SSH_ERR_ARGUMENT;
    c->now = now_ms;
    return process(c);
}

int ssh_conn_feed(ssh_conn *c, const uint8_t *data, size_t n, uint64_t now_ms)
{
    while (n > 0) {
        uint8_t *p;
        size_t room;
        int rv = ssh_conn_input_space(c, n, &p, &room);
        if (rv != 0)
            return rv;
        size_t k = room < n ? room : n;
        memcpy(p, data, k);
        if ((rv = ssh_conn_input_commit(c, k, now_ms)) != 0)
            return rv;
        data += k;
        n -= k;
    }
    return 0;
}

int ssh_conn_input_eof(ssh_conn *c)
{
    if (c->err != 0)
        return c->err;
    return ssh_conn_fail(c, SSH_ERR_CONN_LOST, "connection closed by peer");
}

/* ---- output ---------------------------------------------------------------------------- */

size_t ssh_conn_output(ssh_conn *c, struct iovec *iov, size_t max)
{
    /* A vectored reservation lies beyond the output's end: consuming the
     * output before it is committed could move that end (an emptied
     * buffer starts over at its front). */
    if (max == 0 || c->out.len == 0 || c->resv_n > 0)
        return 0;
    /* While a packet is being built only the finished part may go out. */
    size_t len = c->pkt_open && c->pkt == &c->out ? c->pkt_start : c->out.len;
    if (len == 0)
        return 0;
    iov[0].iov_base = ssh_buf_mutable_ptr(&c->out);
    iov[0].iov_len = len;
    return 1;
}

void ssh_conn_output_consumed(ssh_conn *c, size_t n)
{
    /* Only what ssh_conn_output() handed out can have been written. */
    size_t avail = c->pkt_open && c->pkt == &c->out ? c->pkt_start : c->out.len;
    if (n > avail)
        n = avail;
    if (c->pkt_open && c->pkt == &c->out)
        c->pkt_start -= n;
    ssh_buf_consume(&c->out, n);
}

size_t ssh_conn_output_pending(const ssh_conn *c)
{
    return c->out.len;
}

size_t ssh_conn_trim(ssh_conn *c)
{
    size_t n = 0;
    if (c->in_dispatch || c->pkt_open)
        return 0;
    /* An empty input buffer holds no partial packet (rx_plen is only set
     * while its bytes are there), and nothing points into an empty output
     * buffer or queue. */
    ssh_buf *bufs[] = {&c->in, &c->out, &c->pending};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
        if (bufs[i]->len == 0 && bufs[i]->cap > 0) {
            n += bufs[i]->cap;
            ssh_buf_free(bufs[i]);
        }
    }
    return n;
}

/* ---- timers ---------------------------------------------------------------------------- */

static uint64_t alive_deadline(const ssh_conn *c)
{
    if (c->cfg.alive_interval_ms == 0 || c->phase != PHASE_OPEN)
        return UINT64_MAX;
    return c->alive_next ? c->alive_next : c->last_rx + c->cfg.alive_interval_ms;
}

uint64_t ssh_conn_deadline(const ssh_conn *c)
{
    uint64_t d = UINT64_MAX;
    if (c->err != 0 || c->phase == PHASE_CLOSED)
        return d;
    if (c->server && c->phase < PHASE_OPEN && c->cfg.login_grace_ms != UINT64_MAX)
        d = c->start_time + c->cfg.login_grace_ms;
    if (c->kex_done_once && c->kex == NULL && c->cfg.rekey_time_ms != UINT64_MAX) {
        uint64_t r = c->kex_time + c->cfg.rekey_time_ms;
        if (r < d)
            d = r;
    }
    uint64_t a = alive_deadline(c);
    if (a < d)
        d = a;
    uint64_t r = ssh_rtt_deadline(c);
    return r < d ? r : d;
}

void ssh_conn_set_rtt(ssh_conn *c, uint32_t rtt_us)
{
    if (c)
        c->rtt_us = rtt_us;
}

uint32_t ssh_conn_rtt(const ssh_conn *c)
{
    return ssh_path_rtt_us(c);
}

int ssh_conn_tick(ssh_conn *c, uint64_t now_ms)
{
    int rv = 0;
    if (c->err != 0)
        return c->err == SSH_ERR_CLOSED ? 0 : c->err;
    c->now = now_ms;
    if (c->server && c->phase < PHASE_OPEN && c->cfg.login_grace_ms != UINT64_MAX &&
        now_ms >= c->start_time + c->cfg.login_grace_ms)
        return ssh_conn_fail(c, SSH_ERR_AUTH_TIMEOUT, "Timeout before authentication");
    if (c->kex_done_once && c->kex == NULL && c->cfg.rekey_time_ms != UINT64_MAX &&
        now_ms >= c->kex_time + c->cfg.rekey_time_ms) {
        ssh_conn_logf(c, 2, "rekeying after %llu ms", (unsigned long long)c->cfg.rekey_time_ms);
        if ((rv = ssh_kex_start(c)) != 0)
            return ssh_conn_fail(c, rv, NULL);
    }
    if (now_ms >= alive_deadline(c)) {
        /* ServerAliveInterval/ClientAliveInterval semantics: a keepalive
         * after each silent interval, fail after count_max unanswered. */
        if (c->alive_missed >= c->cfg.alive_count_max)
            return ssh_conn_fail(c, SSH_ERR_TIMEOUT, "keepalive timeout");
        c->alive_missed++;
        c->alive_next = now_ms + c->cfg.alive_interval_ms;
        if ((rv = ssh_global_keepalive(c)) != 0)
            return ssh_conn_fail(c, rv, NULL);
    }
    if ((rv = ssh_rtt_tick(c)) != 0)
        return ssh_conn_fail(c, rv, NULL);
    return 0;
}

/* ---- state queries ----------------------------------------------------------------------- */

enum ssh_conn_state ssh_conn_state(const ssh_conn *c)
{
    switch (c->phase) {
    case PHASE_IDENT:
    case PHASE_KEX1: return SSH_STATE_HANDSHAKE;
    case PHASE_SERVICE:
    case PHASE_AUTH: return SSH_STATE_AUTH;
    case PHASE_OPEN: return SSH_STATE_OPEN;
    default: return SSH_STATE_CLOSED;
    }
}

int ssh_conn_error(const ssh_conn *c)
{
    return c->err;
}

const char *ssh_conn_alg(const ssh_conn *c, enum ssh_alg_slot slot)
{
    return (unsigned)slot < SSH_ALG_SLOTS ? c->alg[slot] : NULL;
}

const char *ssh_conn_peer_ident(const ssh_conn *c)
{
    return c->v_peer[0] ? c->v_peer : NULL;
}

const ssh_key *ssh_conn_hostkey(const ssh_conn *c)
{
    return c->hostkey;
}

const char *ssh_conn_server_sig_algs(const ssh_conn *c)
{
    return c->server_sig_algs;
}

int ssh_conn_strict_kex(const ssh_conn *c)
{
    return c->kex_strict;
}

const uint8_t *ssh_conn_session_id(const ssh_conn *c, size_t *len)
{
    if (len)
        *len = c->session_id_len;
    return c->session_id_len ? c->session_id : NULL;
}

void ssh_conn_get_stats(const ssh_conn *c, ssh_conn_stats *st)
{
    st->bytes_in = c->bytes_in;
    st->bytes_out = c->bytes_out;
    st->packets_in = c->packets_in;
    st->packets_out = c->packets_out;
    st->kex_count = c->kex_count;
    st->channels_open = c->ch_count;
}

/* ---- control ------------------------------------------------------------------------------- */

int ssh_conn_hostkey_verified(ssh_conn *c, int ok)
{
    if (c->err != 0)
        return c->err;
    if (c->kex == NULL || !(c->kex->flags & KEX_HOSTKEY_WAIT))
        return SSH_ERR_STATE;
    c->paused = 0;
    int rv = ssh_kex_hostkey_result(c, ok);
    if (rv != 0)
        return ssh_conn_fail(c, rv, NULL);
    return ssh_conn_resume(c);
}

int ssh_conn_hostkey_signed(ssh_conn *c, const uint8_t *sig, size_t len)
{
    if (c->err != 0)
        return c->err;
    if (c->kex == NULL || !(c->kex->flags & KEX_SIGN_WAIT))
        return SSH_ERR_STATE;
    c->paused = 0;
    int rv = ssh_kex_hostkey_signed(c, sig, len);
    if (rv != 0)
        return ssh_conn_fail(c, rv, NULL);
    return ssh_conn_resume(c);
}

int ssh_conn_rekey(ssh_conn *c)
{
    if (c->err != 0)
        return c->err;
    if (!c->kex_done_once)
        return SSH_ERR_STATE;
    int rv = ssh_kex_start(c);
    return rv ? ssh_conn_fail(c, rv, NULL) : 0;
}

int ssh_conn_send_ignore(ssh_conn *c, size_t n)
{
    uint8_t *p;
    if (c->err != 0)
        return c->err;
    ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_IGNORE);
    if (ssh_buf_put_u32(b, (uint32_t)n) != 0 || ssh_buf_append_space(b, n, &p) != 0) {
        ssh_pkt_cancel(c);
        return SSH_ERR_NO_SPACE;
    }
    ssh_conn_random(c, p, n);
    return ssh_pkt_end(c);
}

#ifdef SSHTUN_FUZZING
int ssh_conn_fuzz_skip_kex(ssh_conn *c, int authed)
{
    ssh_kex_free(c->kex);
    c->kex = NULL;
    c->kex_done_once = 1;
    c->kex_strict = 0;
    c->session_id_len = 32;
    memset(c->session_id, 0x5a, 32);
    c->phase = authed ? PHASE_OPEN : (c->server ? PHASE_SERVICE : PHASE_AUTH);
    snprintf(c->v_peer, sizeof(c->v_peer), "SSH-2.0-fuzz");
    ssh_buf_reset(&c->out);
    /* The discarded KEXINIT must not leave the counters apart, and the
     * rekey timer starts now. */
    c->tx.seq = c->rx.seq = 0;
    c->kex_time = c->now;
    if (authed && c->auth_user == NULL)
        c->auth_user = strdup("fuzz");
    return 0;
}
#endif
