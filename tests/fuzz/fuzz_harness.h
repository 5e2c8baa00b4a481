/*
 * fuzz_harness.h - one engine (server or client) driven by fuzzer input.
 *
 * Shared by fuzz_server.c, fuzz_client.c and gen_corpus.c.  The corpus
 * generator must drive the engine exactly as the targets do: with the same
 * configuration, callbacks, deterministic randomness and fixed keys, a
 * session it records between two harness engines replays byte for byte in a
 * target, including the encrypted packets after NEWKEYS (the session keys
 * depend only on the recorded peer bytes and on our own random stream).
 *
 * Input layout (both roles):
 *
 *   byte 0  bits 0-1  mode
 *                     0 A: the raw stream from the start (identification,
 *                          KEXINIT, kex method messages, NEWKEYS, then
 *                          encrypted packets if the input is a recording)
 *                     1 B: ssh_conn_fuzz_skip_kex(c, 0): plaintext packets in
 *                          the authentication phase.  Server: SERVICE_REQUEST
 *                          is expected first.  Client: an authentication
 *                          attempt is outstanding (see the variant below).
 *                     2 C: ssh_conn_fuzz_skip_kex(c, 1): plaintext packets in
 *                          the connection phase.  Client: a session channel
 *                          open (id 0) and a tcpip-forward request wait for
 *                          answers.
 *                     3 D: as C, plus more locally initiated channels and
 *                          requests whose replies then parse.  Client:
 *                          direct-tcpip (1), direct-streamlocal (2), an
 *                          unknown type (3), streamlocal-forward.  Server:
 *                          forwarded-tcpip (0), forwarded-streamlocal (1), a
 *                          global request with want_reply.
 *           bit 2     DEFER   callbacks answer later: auth decisions, host
 *                             key, signature, channel opens, channel and
 *                             global requests are answered at the next chunk
 *                             boundary or, after every other boundary, from
 *                             inside the next channel/request/banner/debug
 *                             callback
 *           bit 3     REJECT  callbacks refuse auth, opens and requests
 *           bit 4     HOLD    channel data is consumed at the next boundary
 *           bit 5     ACTIVE  at each boundary the local side sends data,
 *                             EOF, CLOSE, requests, IGNORE, rekeys...
 *           bit 6     TIME    the fake clock jumps 45 s per chunk instead of
 *                             1 ms (login grace, keepalives, rekey by time)
 *           bit 7     END     end with ssh_conn_disconnect() instead of
 *                             ssh_conn_input_eof()
 *   byte 1  bits 0-3  chunking k: 0 feeds the rest at once, otherwise in
 *                     chunks of 1..2^k bytes drawn from a PRNG seeded by
 *                     byte 1 (the input bytes themselves stay untouched)
 *           bits 4-5  variant: the client's authentication order
 *                     0 password, publickey, kbdint, none
 *                     1 publickey query (then signed), password, ...
 *                     2 keyboard-interactive, password, ...
 *                     3 none, wrong password, publickey, password
 *           bit 6     small limits: 4 KiB windows, 1 KiB packets, 8
 *                     channels, 3 auth tries, 16 banner lines, rekey
 *                     every 32 KiB
 *           bit 7     client: the sign callback fails (with DEFER: the
 *                     deferred signature is abandoned) and, with REJECT,
 *                     the host key is refused; server: the first signed
 *                     publickey request gets partial success
 *   byte 2+ the peer's bytes.
 *
 * Credentials: user "fuzz", password "x", keyboard-interactive answer "x",
 * user key FZ_USER_KEY; the server accepts any key whose signature the
 * engine verified.
 *
 * Besides what the sanitizers catch, the harness aborts when the engine
 * breaks its own API contract (fz_fail): a channel callback for a channel
 * that is not open, channel_closed or channel_open_result out of turn, an
 * id handed out twice, a deferred open lost, the wrong channel user
 * pointer, disconnect / kex_done(first) / authentication success twice.
 */
#ifndef SSHTUN_FUZZ_HARNESS_H
#define SSHTUN_FUZZ_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_int.h" /* ssh_conn_fuzz_skip_kex (SSHTUN_FUZZING builds) */
#include "sshtun/conn.h"
#include "sshtun/key.h"

#define FZ_FN static __attribute__((unused))

#define FZ_MODE_A 0
#define FZ_MODE_B 1
#define FZ_MODE_C 2
#define FZ_MODE_D 3

#define FZ_DEFER  0x04u
#define FZ_REJECT 0x08u
#define FZ_HOLD   0x10u
#define FZ_ACTIVE 0x20u
#define FZ_TIME   0x40u
#define FZ_END    0x80u

#define FZ_VARIANT(v) ((unsigned)(v) << 4)
#define FZ_SMALL      0x40u
#define FZ_ALT        0x80u

#define FZ_Q 32 /* deferred answers and tracked channels per kind */

/* Channel ids below this have their life cycle checked (see fz_chk). */
#define FZ_CHCHECK 256
enum { CHS_NONE = 0, CHS_OPENING, CHS_PENDING, CHS_OPEN };

/* Fixed Ed25519 keys (generated once with ssh_key_generate and written
 * with ssh_key_to_private_openssh).  They are fixed rather than generated
 * per process because the exchange hash covers the host key: a recorded
 * session only decrypts in the target if the host key is the recorder's. */
static const char fz_host_key_text[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDhMD9AIRVlPcuQJ69j0UwL8ebVBeBFFzFnwtF+vXw1uAAAAJAUxhWgFMYV\n"
    "oAAAAAtzc2gtZWQyNTUxOQAAACDhMD9AIRVlPcuQJ69j0UwL8ebVBeBFFzFnwtF+vXw1uA\n"
    "AAAECmwc0CniycY+8fbxAHYYtYwON2H3W9Zj1PszoI+jR7B+EwP0AhFWU9y5Anr2PRTAvx\n"
    "5tUF4EUXMWfC0X69fDW4AAAACWZ1enotaG9zdAECAwQ=\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
static const char fz_user_key_text[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACCkRyg5tmusgj09NfltnX6Cp0w8ov8qFPZHsDRtLBdMrAAAAJBIG12RSBtd\n"
    "kQAAAAtzc2gtZWQyNTUxOQAAACCkRyg5tmusgj09NfltnX6Cp0w8ov8qFPZHsDRtLBdMrA\n"
    "AAAEArr/I2mdMNO8JgJJ+UDB0CmHbxI/KVlFn+MzXtimV0jqRHKDm2a6yCPT01+W2dfoKn\n"
    "TDyi/yoU9kewNG0sF0ysAAAACWZ1enotdXNlcgECAwQ=\n"
    "-----END OPENSSH PRIVATE KEY-----\n";

#define FZ_HOST_KEY 0
#define FZ_USER_KEY 1

/* The static keys, parsed once per process (never freed: still reachable,
 * so LeakSanitizer does not count them).  If the key file parser cannot
 * read them, fall back to fresh keys: everything but the replay of
 * recorded encrypted sessions still works. */
FZ_FN ssh_key *fz_key(int which)
{
    static ssh_key *keys[2];
    if (keys[which] == NULL) {
        const char *t = which == FZ_HOST_KEY ? fz_host_key_text : fz_user_key_text;
        if (ssh_key_parse_private((const uint8_t *)t, strlen(t), NULL, &keys[which], NULL) != 0 &&
            ssh_key_generate(SSH_KEY_ED25519, 0, &keys[which]) != 0) {
            fprintf(stderr, "fuzz harness: no ed25519 key\n");
            abort();
        }
    }
    return keys[which];
}

typedef struct fz_result {
    int state; /* enum ssh_conn_state before the end */
    int err;   /* ssh_conn_error() before the end */
    uint64_t packets_in;
    uint64_t bytes_in;
    uint32_t kex_count;
    uint32_t channels;
    int authed;
} fz_result;

typedef struct fz_ctx {
    ssh_conn *c;
    int server;
    int mode;
    unsigned flags; /* byte 0 */
    unsigned b1;    /* byte 1 */
    uint64_t rng;
    uint64_t now;
    uint32_t counter;
    ssh_buf *sink;  /* gen_corpus: receives everything we send */
    unsigned touch; /* folds bytes the callbacks are handed (ASan checks) */

    /* deferred answers */
    int auth_pending, auth_decision;
    int hostkey_pending;
    int sign_pending;
    ssh_buf sign_data;
    char sign_alg[64];
    uint32_t opens[FZ_Q];
    unsigned n_opens;
    uint32_t reqs[FZ_Q];
    unsigned n_reqs;
    unsigned greqs;
    struct {
        uint32_t id;
        size_t n;
    } hold[FZ_Q];
    unsigned n_hold;
    uint32_t chans[FZ_Q]; /* open channels, for ACTIVE */
    unsigned n_chans;

    /* client */
    const char *auth_seq;
    unsigned auth_step;
    uint32_t session;
    int have_session;
    /* server */
    int partial_done;
    unsigned kbd_rounds;

    int disconnected;
    int resolving;
    /* what the callbacks told us, to check the engine's story */
    uint8_t chstate[FZ_CHCHECK];
    int kex_first, auth_successes;
} fz_ctx;

static void fz_maybe_resolve(fz_ctx *x);

/* ---- helpers ------------------------------------------------------------------ */

FZ_FN uint64_t fz_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fz_cb_rand(void *user, uint8_t *buf, size_t n)
{
    fz_ctx *x = user;
    while (n > 0) {
        uint64_t v = fz_splitmix(&x->rng);
        size_t k = n < 8 ? n : 8;
        memcpy(buf, &v, k);
        buf += k;
        n -= k;
    }
}

static fz_ctx *fz_of(ssh_conn *c)
{
    return ssh_conn_get_user(c);
}

/* Read every byte the engine hands us, so ASan sees out-of-bounds
 * pointers and lengths. */
static void fz_touch(fz_ctx *x, const void *p, size_t n)
{
    const uint8_t *b = p;
    unsigned h = x->touch;
    if (b == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        h = h * 31 + b[i];
    x->touch = h;
}

static void fz_touch_str(fz_ctx *x, const char *s)
{
    if (s != NULL)
        fz_touch(x, s, strlen(s));
}

static void fz_touch_key(fz_ctx *x, const ssh_key *k)
{
    char fp[SSH_KEY_FP_MAX];
    if (k == NULL)
        return;
    x->touch += (unsigned)ssh_key_type(k) + ssh_key_bits(k);
    fz_touch_str(x, ssh_key_type_name(k));
    if (ssh_key_fingerprint(k, fp, sizeof(fp)) == 0)
        fz_touch_str(x, fp);
}

/* Channel callbacks get the pointer attached to the channel: ours or none. */
static void fz_check_ch_user(fz_ctx *x, void *ch_user)
{
    if (ch_user != NULL && ch_user != x) {
        fprintf(stderr, "fuzz harness: wrong channel user pointer\n");
        abort();
    }
}

/* The engine broke its own API contract: report and stop (the fuzzer keeps
 * the input as a crash). */
static void fz_fail(const char *what, uint32_t id)
{
    fprintf(stderr, "fuzz harness: engine contract violated: %s (channel %u)\n", what, id);
    abort();
}

/* Channel life cycle: a callback for channel `id` must find it in one of
 * the states of `allowed` (bit mask of 1 << CHS_*); then it moves to `to`
 * (or stays, for to < 0). */
static void fz_chk(fz_ctx *x, uint32_t id, unsigned allowed, int to, const char *what)
{
    if (id >= FZ_CHCHECK)
        return;
    if (!(allowed & (1u << x->chstate[id])))
        fz_fail(what, id);
    if (to >= 0)
        x->chstate[id] = (uint8_t)to;
}

#define CHB(s) (1u << (s))

static void fz_opened(fz_ctx *x, int rv, uint32_t id)
{
    if (rv == 0)
        fz_chk(x, id, CHB(CHS_NONE), CHS_OPENING, "ssh_channel_open returned a busy id");
}

static void fz_track(fz_ctx *x, uint32_t id)
{
    for (unsigned i = 0; i < x->n_chans; i++)
        if (x->chans[i] == id)
            return;
    if (x->n_chans < FZ_Q)
        x->chans[x->n_chans++] = id;
}

static void fz_untrack(fz_ctx *x, uint32_t id)
{
    unsigned i, j;
    for (i = j = 0; i < x->n_chans; i++)
        if (x->chans[i] != id)
            x->chans[j++] = x->chans[i];
    x->n_chans = j;
    for (i = j = 0; i < x->n_hold; i++)
        if (x->hold[i].id != id)
            x->hold[j++] = x->hold[i];
    x->n_hold = j;
    for (i = j = 0; i < x->n_reqs; i++)
        if (x->reqs[i] != id)
            x->reqs[j++] = x->reqs[i];
    x->n_reqs = j;
}

/* ---- callbacks: both roles ------------------------------------------------------- */

static void fz_cb_log(ssh_conn *c, int level, const char *msg, void *user)
{
    (void)c;
    fz_ctx *x = user;
    x->touch += (unsigned)level;
    fz_touch_str(x, msg);
}

static void fz_cb_kex_done(ssh_conn *c, int first, void *user)
{
    (void)c;
    fz_ctx *x = user;
    x->touch += (unsigned)first;
    if (first && x->kex_first++)
        fz_fail("kex_done(first) twice", 0);
}

static void fz_cb_disconnect(ssh_conn *c, int err, uint32_t reason, const char *msg, void *user)
{
    (void)c;
    fz_ctx *x = user;
    if (x->disconnected++)
        fz_fail("disconnect callback twice", 0);
    x->touch += (unsigned)err + reason;
    fz_touch_str(x, msg);
}

static void fz_cb_debug(ssh_conn *c, const char *msg, void *user)
{
    (void)c;
    fz_maybe_resolve(user);
    fz_touch_str(user, msg);
}

static int fz_cb_channel_open(ssh_conn *c, uint32_t id, const ssh_channel_open_info *in,
                              const char **why, void *user)
{
    fz_ctx *x = user;
    fz_touch_str(x, in->type);
    fz_touch_str(x, in->host);
    fz_touch_str(x, in->orig_host);
    fz_touch_str(x, in->path);
    fz_touch(x, in->extra, in->extra_len);
    x->touch += in->port + in->orig_port + (unsigned)in->kind;
    fz_chk(x, id, CHB(CHS_NONE), -1, "channel_open for a busy id");
    if (x->flags & FZ_REJECT) {
        *why = "refused by fuzz harness";
        return -(int)(1 + x->counter % 4);
    }
    ssh_channel_set_user(c, id, x);
    if ((x->flags & FZ_DEFER) && x->n_opens < FZ_Q) {
        x->opens[x->n_opens++] = id;
        fz_chk(x, id, ~0u, CHS_PENDING, "");
        return SSH_DEFERRED;
    }
    fz_chk(x, id, ~0u, CHS_OPEN, "");
    fz_track(x, id);
    return 0;
}

static void fz_client_session_requests(fz_ctx *x, uint32_t id);

static void fz_cb_open_result(ssh_conn *c, uint32_t id, uint32_t reason, const char *msg,
                              void *ch_user)
{
    fz_ctx *x = fz_of(c);
    fz_check_ch_user(x, ch_user);
    fz_touch_str(x, msg);
    fz_chk(x, id, CHB(CHS_OPENING), reason ? CHS_NONE : CHS_OPEN,
           "channel_open_result for a channel we are not opening");
    if (reason != 0) {
        if (!x->server && x->have_session && id == x->session)
            x->have_session = 0;
        return;
    }
    fz_track(x, id);
    if (!x->server && x->have_session && id == x->session)
        fz_client_session_requests(x, id);
    else if (x->flags & FZ_ACTIVE)
        ssh_channel_send(c, id, 0, "ping", 4);
}

static void fz_cb_data(ssh_conn *c, uint32_t id, int stream, const uint8_t *data, size_t len,
                       void *ch_user)
{
    fz_ctx *x = fz_of(c);
    fz_check_ch_user(x, ch_user);
    fz_chk(x, id, CHB(CHS_OPEN), -1, "channel_data on a channel not open");
    fz_maybe_resolve(x);
    fz_touch(x, data, len);
    x->touch += (unsigned)stream;
    if ((x->flags & FZ_HOLD) && x->n_hold < FZ_Q) {
        x->hold[x->n_hold].id = id;
        x->hold[x->n_hold].n = len;
        x->n_hold++;
        return;
    }
    ssh_channel_consumed(c, id, len);
}

static void fz_cb_writable(ssh_conn *c, uint32_t id, void *ch_user)
{
    fz_ctx *x = fz_of(c);
    fz_check_ch_user(x, ch_user);
    fz_chk(x, id, CHB(CHS_OPEN), -1, "channel_writable on a channel not open");
    x->touch += (unsigned)ssh_channel_window(c, id);
    if (x->flags & FZ_ACTIVE)
        ssh_channel_send(c, id, 0, "more", 4);
}

static void fz_cb_eof(ssh_conn *c, uint32_t id, void *ch_user)
{
    fz_ctx *x = fz_of(c);
    fz_check_ch_user(x, ch_user);
    fz_chk(x, id, CHB(CHS_OPEN), -1, "channel_eof on a channel not open");
    fz_maybe_resolve(x);
    x->touch += ssh_channel_peer_eof(c, id);
    if (x->flags & FZ_ACTIVE) {
        ssh_channel_eof(c, id);
        ssh_channel_close(c, id);
    }
}

static void fz_cb_closed(ssh_conn *c, uint32_t id, void *ch_user)
{
    fz_ctx *x = fz_of(c);
    fz_check_ch_user(x, ch_user);
    /* OPENING: we closed it before the confirmation came. */
    fz_chk(x, id, CHB(CHS_OPEN) | CHB(CHS_OPENING), CHS_NONE,
           "channel_closed for a channel not open");
    fz_untrack(x, id);
    if (x->have_session && id == x->session)
        x->have_session = 0;
}

static int fz_cb_channel_request(ssh_conn *c, uint32_t id, const ssh_channel_req *r, void *ch_user)
{
    fz_ctx *x = fz_of(c);
    fz_check_ch_user(x, ch_user);
    fz_chk(x, id, CHB(CHS_OPEN), -1, "channel_request on a channel not open");
    fz_maybe_resolve(x);
    fz_touch_str(x, r->type);
    fz_touch(x, r->command, r->command_len);
    fz_touch_str(x, r->name);
    fz_touch_str(x, r->value);
    fz_touch_str(x, r->term);
    fz_touch(x, r->modes, r->modes_len);
    fz_touch_str(x, r->error_msg);
    fz_touch(x, r->data, r->data_len);
    x->touch +=
        r->cols + r->rows + r->width_px + r->height_px + r->exit_status + (unsigned)r->core_dumped;
    if (r->want_reply && (x->flags & FZ_DEFER) && x->n_reqs < FZ_Q) {
        x->reqs[x->n_reqs++] = id;
        return SSH_REQUEST_DEFER;
    }
    return (x->flags & FZ_REJECT) ? SSH_REQUEST_FAILURE : SSH_REQUEST_SUCCESS;
}

static void fz_cb_request_result(ssh_conn *c, uint32_t id, int ok, void *req_user, void *ch_user)
{
    (void)req_user;
    fz_ctx *x = fz_of(c);
    fz_check_ch_user(x, ch_user);
    fz_chk(x, id, CHB(CHS_OPEN), -1, "channel_request_result on a channel not open");
    x->touch += id + (unsigned)ok;
}

static int fz_cb_global_request(ssh_conn *c, const ssh_global_req *r, ssh_buf *reply, void *user)
{
    (void)c;
    fz_ctx *x = user;
    fz_maybe_resolve(x);
    fz_touch_str(x, r->name);
    fz_touch_str(x, r->address);
    fz_touch_str(x, r->path);
    fz_touch(x, r->data, r->data_len);
    x->touch += r->port;
    if (r->want_reply && (x->flags & FZ_DEFER)) {
        x->greqs++;
        return SSH_REQUEST_DEFER;
    }
    if (x->flags & FZ_REJECT)
        return SSH_REQUEST_FAILURE;
    if (strcmp(r->name, "tcpip-forward") == 0 && r->port == 0)
        ssh_buf_put_u32(reply, 40000);
    return SSH_REQUEST_SUCCESS;
}

static void fz_cb_global_reply(ssh_conn *c, int ok, const uint8_t *data, size_t len, void *req_user)
{
    (void)req_user;
    fz_ctx *x = fz_of(c);
    x->touch += (unsigned)ok;
    fz_touch(x, data, len);
}

/* ---- callbacks: server ---------------------------------------------------------------- */

static int fz_cb_auth_request(ssh_conn *c, const ssh_auth_request *r, void *user)
{
    fz_ctx *x = user;
    int d = SSH_AUTH_REJECT;
    fz_touch_str(x, r->user);
    switch (r->method) {
    case SSH_AUTH_NONE:
        d = SSH_AUTH_REJECT;
        break;
    case SSH_AUTH_PASSWORD:
        d = strcmp(r->password, "x") == 0 ? SSH_AUTH_ACCEPT : SSH_AUTH_REJECT;
        break;
    case SSH_AUTH_PUBLICKEY:
        fz_touch_key(x, r->key);
        fz_touch_str(x, r->key_alg);
        d = SSH_AUTH_ACCEPT;
        if (r->has_signature && (x->b1 & FZ_ALT) && !x->partial_done) {
            x->partial_done = 1;
            ssh_auth_set_methods(c, "password,keyboard-interactive");
            d = SSH_AUTH_PARTIAL_OK;
        }
        break;
    case SSH_AUTH_KBDINT:
        fz_touch_str(x, r->submethods);
        if (r->n_responses == 0 && !(x->flags & FZ_REJECT)) {
            static const char *const prompts[] = {"Password: ", "Token: "};
            static const int echo[] = {0, 1};
            uint32_t n = (x->kbd_rounds++ % 3 == 2) ? 2 : 1;
            if (ssh_auth_kbdint_challenge(c, "fuzz", "answer x", n, prompts, echo) == 0)
                return SSH_AUTH_CHALLENGE;
            return SSH_AUTH_REJECT;
        }
        for (uint32_t i = 0; i < r->n_responses; i++)
            fz_touch_str(x, r->responses[i]);
        d = (r->n_responses >= 1 && strcmp(r->responses[0], "x") == 0) ? SSH_AUTH_ACCEPT
                                                                       : SSH_AUTH_REJECT;
        break;
    }
    if (x->flags & FZ_REJECT)
        d = SSH_AUTH_REJECT;
    if (x->flags & FZ_DEFER) {
        x->auth_pending = 1;
        x->auth_decision = d;
        return SSH_AUTH_DEFER;
    }
    return d;
}

static void fz_cb_auth_success(ssh_conn *c, const char *u, void *user)
{
    (void)c;
    fz_ctx *x = user;
    fz_touch_str(x, u);
    if (x->auth_successes++)
        fz_fail("auth_success twice", 0);
}

/* ---- callbacks: client ---------------------------------------------------------------- */

static int fz_cb_hostkey(ssh_conn *c, const ssh_key *key, void *user)
{
    (void)c;
    fz_ctx *x = user;
    fz_touch_key(x, key);
    if ((x->flags & FZ_REJECT) && (x->b1 & FZ_ALT))
        return SSH_ERR_HOSTKEY_REJECTED;
    if (x->flags & FZ_DEFER) {
        x->hostkey_pending = 1;
        return SSH_DEFERRED;
    }
    return 0;
}

static const char *const fz_auth_orders[4] = {"pkin", "qpin", "ipkn", "nwkp"};

/* Start the next authentication method of the variant's order. */
static void fz_client_next_auth(fz_ctx *x)
{
    ssh_conn *c = x->c;
    while (x->auth_seq[x->auth_step] != '\0') {
        char m = x->auth_seq[x->auth_step++];
        int rv = -1;
        switch (m) {
        case 'p':
            rv = ssh_auth_password(c, "fuzz", "x");
            break;
        case 'w':
            rv = ssh_auth_password(c, "fuzz", "wrong");
            break;
        case 'k':
            rv = ssh_auth_publickey(c, "fuzz", fz_key(FZ_USER_KEY), 1);
            break;
        case 'q':
            rv = ssh_auth_publickey(c, "fuzz", fz_key(FZ_USER_KEY), 0);
            break;
        case 'i':
            rv = ssh_auth_kbdint(c, "fuzz", "");
            break;
        case 'n':
            rv = ssh_auth_none(c, "fuzz");
            break;
        }
        if (rv == 0)
            return;
    }
}

/* Authenticated (or mode C/D): open what the client has to open. */
static void fz_client_open(fz_ctx *x)
{
    ssh_conn *c = x->c;
    uint32_t id;
    ssh_channel_open_info s = {.kind = SSH_CHAN_SESSION};
    int rv = ssh_channel_open(c, &s, x, &id);
    fz_opened(x, rv, id);
    if (rv == 0) {
        x->session = id;
        x->have_session = 1;
    }
    ssh_global_tcpip_forward(c, 0, "localhost", 0, NULL);
    if (x->mode != FZ_MODE_D)
        return;
    ssh_channel_open_info t = {.kind = SSH_CHAN_DIRECT_TCPIP,
                               .host = "localhost",
                               .port = 22,
                               .orig_host = "127.0.0.1",
                               .orig_port = 50000};
    rv = ssh_channel_open(c, &t, x, &id);
    fz_opened(x, rv, id);
    ssh_channel_open_info l = {.kind = SSH_CHAN_DIRECT_STREAMLOCAL, .path = "/tmp/fuzz.sock"};
    rv = ssh_channel_open(c, &l, NULL, &id);
    fz_opened(x, rv, id);
    static const uint8_t extra[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 7};
    ssh_channel_open_info o = {.kind = SSH_CHAN_OTHER,
                               .type = "x-fuzz@sshtun",
                               .extra = extra,
                               .extra_len = sizeof(extra)};
    rv = ssh_channel_open(c, &o, NULL, &id);
    fz_opened(x, rv, id);
    ssh_global_streamlocal_forward(c, 0, "/tmp/fuzz-fwd.sock", NULL);
    ssh_global_request(c, "no-more-sessions@openssh.com", 0, NULL, 0, NULL);
}

static void fz_client_session_requests(fz_ctx *x, uint32_t id)
{
    static const uint8_t modes[] = {53, 0, 0, 0, 1, 0}; /* ECHO 1, TTY_OP_END */
    ssh_channel_req pty = {.type = "pty-req",
                           .want_reply = 1,
                           .term = "xterm",
                           .cols = 80,
                           .rows = 24,
                           .modes = modes,
                           .modes_len = sizeof(modes)};
    ssh_channel_req env = {.type = "env", .name = "LANG", .value = "C"};
    ssh_channel_req exec = {.type = "exec", .want_reply = 1, .command = "uname -a"};
    ssh_channel_request_send(x->c, id, &pty, NULL);
    ssh_channel_request_send(x->c, id, &env, NULL);
    ssh_channel_request_send(x->c, id, &exec, NULL);
    if (x->flags & FZ_ACTIVE) {
        ssh_channel_send(x->c, id, 0, "hello\n", 6);
        ssh_channel_eof(x->c, id);
    }
}

static void fz_cb_auth_ready(ssh_conn *c, void *user)
{
    (void)c;
    fz_client_next_auth(user);
}

static void fz_cb_banner(ssh_conn *c, const char *msg, void *user)
{
    (void)c;
    fz_maybe_resolve(user);
    fz_touch_str(user, msg);
}

static void fz_cb_auth_result(ssh_conn *c, const ssh_auth_result *r, void *user)
{
    fz_ctx *x = user;
    fz_touch_str(x, r->methods);
    x->touch += (unsigned)r->method;
    switch (r->status) {
    case SSH_AUTH_SUCCESS:
        if (x->auth_successes++)
            fz_fail("auth_result SUCCESS twice", 0);
        fz_client_open(x);
        break;
    case SSH_AUTH_PK_OK:
        ssh_auth_publickey(c, "fuzz", fz_key(FZ_USER_KEY), 1);
        break;
    case SSH_AUTH_FAILURE:
    case SSH_AUTH_PARTIAL:
        fz_client_next_auth(x);
        break;
    }
}

static int fz_cb_sign(ssh_conn *c, const ssh_key *key, const char *alg, const uint8_t *data,
                      size_t len, ssh_buf *sig, void *user)
{
    (void)c;
    fz_ctx *x = user;
    fz_touch_key(x, key);
    if ((x->b1 & FZ_ALT) && !(x->flags & FZ_DEFER))
        return SSH_ERR_LIBCRYPTO;
    if (x->flags & FZ_DEFER) {
        ssh_buf_reset(&x->sign_data);
        if (ssh_buf_put(&x->sign_data, data, len) != 0)
            return SSH_ERR_NO_SPACE;
        snprintf(x->sign_alg, sizeof(x->sign_alg), "%s", alg);
        x->sign_pending = 1;
        return SSH_DEFERRED;
    }
    return ssh_key_sign(fz_key(FZ_USER_KEY), alg, 0, data, len, sig);
}

static void fz_cb_kbdint(ssh_conn *c, const ssh_kbdint_prompt *p, void *user)
{
    fz_ctx *x = user;
    const char *answers[SSH_KBDINT_MAX];
    fz_touch_str(x, p->name);
    fz_touch_str(x, p->instruction);
    uint32_t n = p->n_prompts < SSH_KBDINT_MAX ? p->n_prompts : SSH_KBDINT_MAX;
    for (uint32_t i = 0; i < n; i++) {
        fz_touch_str(x, p->prompts[i]);
        x->touch += (unsigned)p->echo[i];
        answers[i] = "x";
    }
    ssh_auth_kbdint_respond(c, n, answers);
}

static const ssh_callbacks fz_callbacks = {
    .rand = fz_cb_rand,
    .log = fz_cb_log,
    .hostkey = fz_cb_hostkey,
    .kex_done = fz_cb_kex_done,
    .disconnect = fz_cb_disconnect,
    .debug_msg = fz_cb_debug,
    .auth_ready = fz_cb_auth_ready,
    .auth_banner = fz_cb_banner,
    .auth_result = fz_cb_auth_result,
    .sign = fz_cb_sign,
    .kbdint_prompt = fz_cb_kbdint,
    .auth_request = fz_cb_auth_request,
    .auth_success = fz_cb_auth_success,
    .channel_open = fz_cb_channel_open,
    .channel_open_result = fz_cb_open_result,
    .channel_data = fz_cb_data,
    .channel_writable = fz_cb_writable,
    .channel_eof = fz_cb_eof,
    .channel_closed = fz_cb_closed,
    .channel_request = fz_cb_channel_request,
    .channel_request_result = fz_cb_request_result,
    .global_request = fz_cb_global_request,
    .global_reply = fz_cb_global_reply,
};

/* ---- driving ------------------------------------------------------------------------ */

/* Create the engine.  `alg` (may be NULL) overrides the algorithm lists and,
 * for a server, the host keys: gen_corpus uses it for the recorded peer;
 * the targets never do. */
FZ_FN int fz_init(fz_ctx *x, int server, uint8_t b0, uint8_t b1, const ssh_conn_config *alg)
{
    memset(x, 0, sizeof(*x));
    x->server = server;
    x->mode = b0 & 3;
    x->flags = b0 & ~3u;
    x->b1 = b1;
    x->rng = server ? 0x5e12e12f5e12e12full : 0xc11e27c11e27c11eull;
    /* Small: ssh_conn_fuzz_skip_kex() leaves the last-KEX time at 0, and
     * a clock already past rekey_time_ms would rekey on the first tick. */
    x->now = 1000;
    x->auth_seq = fz_auth_orders[(b1 >> 4) & 3];
    ssh_buf_init(&x->sign_data, 256 * 1024, 0);

    ssh_conn_config cfg;
    ssh_conn_config_init(&cfg, server ? SSH_ROLE_SERVER : SSH_ROLE_CLIENT);
    ssh_key *hk[1] = {fz_key(FZ_HOST_KEY)};
    /* ssh_conn_fuzz_skip_kex() records the peer as "SSH-2.0-fuzz": with
     * the same identification on both sides a key re-exchange between two
     * skipped engines (gen_corpus) hashes the same strings on both ends. */
    cfg.ident = "fuzz";
    cfg.alive_interval_ms = 30000;
    cfg.alive_count_max = 2;
    cfg.rekey_time_ms = 600000;
    if (server) {
        cfg.host_keys = hk;
        cfg.n_host_keys = 1;
        cfg.auth_methods = "publickey,password,keyboard-interactive";
    }
    if (b1 & FZ_SMALL) {
        cfg.window = 4096;
        cfg.window_max = 16384;
        cfg.max_packet = 1024;
        cfg.max_channels = 8;
        cfg.max_auth_tries = 3;
        cfg.max_banner_lines = 16;
        cfg.rekey_bytes = 32768; /* rekey by volume after NEWKEYS */
    }
    if (alg != NULL) {
        cfg.kex_algs = alg->kex_algs;
        cfg.hostkey_algs = alg->hostkey_algs;
        cfg.ciphers = alg->ciphers;
        cfg.macs = alg->macs;
        cfg.pubkey_algs = alg->pubkey_algs;
        if (server && alg->n_host_keys) {
            cfg.host_keys = alg->host_keys;
            cfg.n_host_keys = alg->n_host_keys;
        }
    }
    int rv = ssh_conn_new(&x->c, &cfg, &fz_callbacks, x);
    if (rv != 0) {
        ssh_buf_free(&x->sign_data);
        x->c = NULL;
    }
    return rv;
}

/* ssh_conn_start plus the mode's setup. */
FZ_FN void fz_start(fz_ctx *x)
{
    ssh_conn *c = x->c;
    if (ssh_conn_start(c, x->now) != 0 || x->mode == FZ_MODE_A)
        return;
    ssh_conn_fuzz_skip_kex(c, x->mode >= FZ_MODE_C);
    if (!x->server) {
        if (x->mode == FZ_MODE_B)
            fz_client_next_auth(x);
        else
            fz_client_open(x);
        return;
    }
    if (x->mode == FZ_MODE_D) {
        uint32_t id;
        int rv;
        ssh_channel_open_info f = {.kind = SSH_CHAN_FORWARDED_TCPIP,
                                   .host = "0.0.0.0",
                                   .port = 8080,
                                   .orig_host = "192.0.2.7",
                                   .orig_port = 40000};
        rv = ssh_channel_open(c, &f, x, &id);
        fz_opened(x, rv, id);
        ssh_channel_open_info l = {.kind = SSH_CHAN_FORWARDED_STREAMLOCAL, .path = "/tmp/fwd"};
        rv = ssh_channel_open(c, &l, NULL, &id);
        fz_opened(x, rv, id);
        static const uint8_t body[] = {0, 0, 0, 1, 'x'};
        ssh_global_request(c, "fuzz-request@sshtun", 1, body, sizeof(body), NULL);
    }
}

FZ_FN void fz_drain(fz_ctx *x)
{
    struct iovec iov[4];
    size_t n;
    while ((n = ssh_conn_output(x->c, iov, 4)) > 0) {
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            fz_touch(x, iov[i].iov_base, iov[i].iov_len);
            if (x->sink)
                ssh_buf_put(x->sink, iov[i].iov_base, iov[i].iov_len);
            total += iov[i].iov_len;
        }
        /* A short write now and then. */
        if ((x->counter & 1) && total > 1) {
            ssh_conn_output_consumed(x->c, total / 2);
            total -= total / 2;
        }
        ssh_conn_output_consumed(x->c, total);
    }
    x->touch += (unsigned)ssh_conn_output_pending(x->c);
}

/* Local activity between chunks (ACTIVE). */
static void fz_active(fz_ctx *x)
{
    static const uint8_t junk[600];
    ssh_conn *c = x->c;
    unsigned k = x->counter;
    uint32_t ids[FZ_Q];
    unsigned n = x->n_chans;
    memcpy(ids, x->chans, n * sizeof(ids[0]));
    for (unsigned i = 0; i < n; i++) {
        uint32_t id = ids[i];
        uint8_t *p;
        size_t room;
        switch ((k + i) % 9) {
        case 0:
            ssh_channel_send(c, id, SSH_STREAM_STDOUT, junk, sizeof(junk));
            break;
        case 1:
            ssh_channel_send(c, id, SSH_STREAM_STDERR, junk, 40);
            break;
        case 2:
            if (ssh_channel_send_reserve(c, id, 0, 100, &p, &room) == 0) {
                memset(p, 'z', room);
                /* Now and then more than was reserved: refused. */
                ssh_channel_send_commit(c, id, k % 3 == 0 ? room + 1 : room / 2);
            }
            break;
        case 3: {
            ssh_channel_req r = {.type = x->server ? "exit-status" : "window-change",
                                 .exit_status = 3,
                                 .cols = 100,
                                 .rows = 40};
            ssh_channel_request_send(c, id, &r, NULL);
            break;
        }
        case 4: {
            ssh_channel_req r = {.type = x->server ? "keepalive@openssh.com" : "signal",
                                 .want_reply = x->server,
                                 .name = "INT"};
            ssh_channel_request_send(c, id, &r, NULL);
            break;
        }
        case 5:
            ssh_channel_eof(c, id);
            break;
        case 6:
            x->touch += (unsigned)(ssh_channel_window(c, id) + ssh_channel_max_packet(c, id));
            x->touch += (unsigned)(uintptr_t)ssh_channel_get_user(c, id);
            break;
        case 7: {
            ssh_channel_req r = {
                .type = "exit-signal", .name = "KILL", .core_dumped = 1, .error_msg = "killed"};
            ssh_channel_request_send(c, id, &r, NULL);
            break;
        }
        case 8:
            ssh_channel_close(c, id);
            break;
        }
    }
    /* Close our session channel while its open is still unanswered. */
    if (!x->server && x->have_session && k % 11 == 4) {
        int opening = 1;
        for (unsigned i = 0; i < x->n_chans; i++)
            opening &= x->chans[i] != x->session;
        if (opening)
            ssh_channel_close(c, x->session);
    }
    if (k % 4 == 1)
        ssh_conn_send_ignore(c, k % 64);
    if (k % 16 == 9)
        ssh_conn_rekey(c);
    if (k % 8 == 3) {
        if (x->server)
            ssh_auth_banner(c, "fuzz banner");
        else
            ssh_global_request(c, "keepalive@openssh.com", 1, NULL, 0, NULL);
    }
    if (k % 8 == 5 && x->server)
        ssh_global_tcpip_forward(c, 1, "localhost", 8080, NULL);
}

/* Answer what was deferred and consume held data. */
static void fz_resolve(fz_ctx *x)
{
    ssh_conn *c = x->c;
    if (x->resolving)
        return;
    x->resolving = 1;
    if (x->hostkey_pending) {
        x->hostkey_pending = 0;
        ssh_conn_hostkey_verified(c, 1);
    }
    if (x->auth_pending) {
        x->auth_pending = 0;
        ssh_auth_decide(c, x->auth_decision);
    }
    if (x->sign_pending) {
        ssh_buf sig;
        ssh_buf_init(&sig, 16384, 0);
        x->sign_pending = 0;
        if (!(x->b1 & FZ_ALT) &&
            ssh_key_sign(fz_key(FZ_USER_KEY), x->sign_alg, 0, ssh_buf_ptr(&x->sign_data),
                         ssh_buf_len(&x->sign_data), &sig) == 0)
            ssh_auth_sign_done(c, ssh_buf_ptr(&sig), ssh_buf_len(&sig));
        else
            ssh_auth_sign_done(c, NULL, 0);
        ssh_buf_free(&sig);
    }
    /* Answering may resume input processing, which may defer more: work
     * on copies. */
    uint32_t q[FZ_Q];
    unsigned n = x->n_opens;
    memcpy(q, x->opens, n * sizeof(q[0]));
    x->n_opens = 0;
    for (unsigned i = 0; i < n; i++) {
        int rv;
        if ((x->counter + i) % 3 != 2) {
            rv = ssh_channel_open_confirm(c, q[i], NULL);
            if (rv == 0)
                fz_track(x, q[i]);
        } else {
            rv = ssh_channel_open_fail(c, q[i], SSH_OPEN_CONNECT_FAILED, "deferred refusal");
        }
        /* The engine must still hold the deferred open. */
        if (rv == SSH_ERR_CHANNEL_STATE && q[i] < FZ_CHCHECK && ssh_conn_error(c) == 0)
            fz_fail("deferred open lost", q[i]);
        if (rv == 0)
            fz_chk(x, q[i], CHB(CHS_PENDING), (x->counter + i) % 3 != 2 ? CHS_OPEN : CHS_NONE,
                   "deferred open in an unexpected state");
    }
    n = x->n_reqs;
    memcpy(q, x->reqs, n * sizeof(q[0]));
    x->n_reqs = 0;
    for (unsigned i = 0; i < n; i++)
        ssh_channel_request_reply(c, q[i], (x->counter + i) % 4 != 3);
    n = x->greqs;
    x->greqs = 0;
    for (unsigned i = 0; i < n; i++) {
        static const uint8_t port[4] = {0, 0, 0x9c, 0x40};
        int ok = (x->counter + i) % 3 != 1;
        ssh_global_request_reply(c, ok, ok ? port : NULL, ok ? sizeof(port) : 0);
    }
    n = x->n_hold;
    x->n_hold = 0;
    for (unsigned i = 0; i < n; i++)
        ssh_channel_consumed(c, x->hold[i].id, x->hold[i].n);
    x->resolving = 0;
}

/* Deferred answers may also come from inside later callbacks (the API
 * allows resume calls from anywhere): on every other chunk, a channel,
 * global request, banner or debug callback first answers what is due. */
static void fz_maybe_resolve(fz_ctx *x)
{
    if ((x->flags & FZ_DEFER) && (x->counter & 1))
        fz_resolve(x);
}

/* Chunk boundary: answer what was deferred, consume held data, act, tick. */
FZ_FN void fz_boundary(fz_ctx *x)
{
    ssh_conn *c = x->c;
    x->counter++;
    fz_resolve(x);
    if (x->flags & FZ_ACTIVE)
        fz_active(x);
    x->now += (x->flags & FZ_TIME) ? 45000 : 1;
    x->touch += (unsigned)ssh_conn_deadline(c);
    ssh_conn_tick(c, x->now);
}

FZ_FN void fz_feed(fz_ctx *x, const uint8_t *p, size_t n)
{
    ssh_conn_feed(x->c, p, n, x->now);
}

/* Query everything, end the connection, free. */
FZ_FN void fz_finish(fz_ctx *x, fz_result *res)
{
    ssh_conn *c = x->c;
    ssh_conn_stats st;
    size_t sidlen = 0;
    char fp[SSH_KEY_FP_MAX];
    fz_result r = {0};

    ssh_conn_get_stats(c, &st);
    r.state = (int)ssh_conn_state(c);
    r.err = ssh_conn_error(c);
    r.packets_in = st.packets_in;
    r.bytes_in = st.bytes_in;
    r.kex_count = st.kex_count;
    r.channels = st.channels_open;
    r.authed = ssh_auth_user(c) != NULL;
    for (int s = 0; s < SSH_ALG_SLOTS; s++)
        fz_touch_str(x, ssh_conn_alg(c, (enum ssh_alg_slot)s));
    fz_touch_str(x, ssh_conn_peer_ident(c));
    fz_touch_str(x, ssh_conn_server_sig_algs(c));
    fz_touch_str(x, ssh_auth_user(c));
    if (ssh_conn_hostkey(c) && ssh_key_fingerprint(ssh_conn_hostkey(c), fp, sizeof(fp)) == 0)
        fz_touch_str(x, fp);
    fz_touch(x, ssh_conn_session_id(c, &sidlen), sidlen);
    x->touch += (unsigned)ssh_conn_strict_kex(c);

    if (r.err == 0) {
        if (x->flags & FZ_END)
            ssh_conn_disconnect(c, 11, "fuzz input ended");
        else
            ssh_conn_input_eof(c);
    }
    fz_drain(x);
    ssh_conn_free(c);
    ssh_buf_free(&x->sign_data);
    x->c = NULL;
    if (res)
        *res = r;
}

/* Keeps the folded bytes alive so the reads are not optimised away. */
static volatile unsigned fz_touch_sink;

/* The whole run over one input (see the layout above). */
FZ_FN void fz_run(int server, const uint8_t *data, size_t size, fz_result *res)
{
    fz_ctx x;
    if (res)
        memset(res, 0, sizeof(*res));
    if (size < 2)
        return;
    if (fz_init(&x, server, data[0], data[1], NULL) != 0)
        abort(); /* the harness configuration must always be accepted */
    fz_start(&x);
    fz_drain(&x);
    unsigned k = data[1] & 15u;
    uint64_t crng = data[1];
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    while (n > 0 && ssh_conn_error(x.c) == 0) {
        size_t chunk = n;
        if (k != 0) {
            chunk = 1 + (size_t)(fz_splitmix(&crng) & ((1u << k) - 1));
            if (chunk > n)
                chunk = n;
        }
        fz_feed(&x, p, chunk);
        p += chunk;
        n -= chunk;
        fz_boundary(&x);
        fz_drain(&x);
    }
    /* Deferred answers that arrived with the last chunk. */
    if (ssh_conn_error(x.c) == 0) {
        fz_boundary(&x);
        fz_drain(&x);
    }
    fz_finish(&x, res);
    fz_touch_sink = x.touch;
}

#endif
