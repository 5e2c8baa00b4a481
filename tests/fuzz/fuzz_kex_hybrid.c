/*
 * fuzz_kex_hybrid.c - the messages of the post-quantum hybrid key
 * exchanges, as the peer sends them, into a real engine.
 *
 * A client and a server engine (fixed Ed25519 host key, deterministic
 * randomness) negotiate the method chosen by the first input byte
 * (mlkem768x25519-sha256, sntrup761x25519-sha512 or its @openssh.com
 * name) and run until one of them sends its method message; that packet
 * (before the first NEWKEYS: plaintext) is replaced by one built from the
 * rest of the input, and the exchange goes on to its end:
 *
 *   bit 2 clear: the server receives KEX_ECDH_INIT (30) carrying C_INIT;
 *   bit 2 set:   the client receives KEX_ECDH_REPLY (31) carrying S_REPLY;
 *   bit 3 set:   the input is the share only, wrapped as the real message
 *                wraps it (string C_INIT; or the server's own string K_S,
 *                string S_REPLY, its own string signature);
 *   bit 3 clear: the input is the whole payload after the type byte.
 *
 * The engine must either finish or fail with an error code and a
 * DISCONNECT - never crash, leak, or accept a share of the wrong length.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sshtun/conn.h"
#include "sshtun/err.h"
#include "sshtun/key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_kex_hybrid: check failed at line %d: %s\n", __LINE__, #cond);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char *const methods[3] = {
    "mlkem768x25519-sha256",
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
};
static const size_t c_share[3] = {1216, 1190, 1190}; /* KEM public key + 32 */
static const size_t s_share[3] = {1120, 1071, 1071}; /* KEM ciphertext + 32 */

typedef struct side {
    uint64_t rng;
    int disconnected, err;
    int kex_done;
} side;

static void cb_rand(void *user, uint8_t *buf, size_t n)
{
    side *s = user;
    for (size_t i = 0; i < n; i++) {
        s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(s->rng >> 56);
    }
}

static void cb_disconnect(ssh_conn *c, int err, uint32_t reason, const char *msg, void *user)
{
    (void)c, (void)reason, (void)msg;
    side *s = user;
    s->disconnected++;
    s->err = err;
}

static void cb_kex_done(ssh_conn *c, int first, void *user)
{
    (void)c, (void)first;
    ((side *)user)->kex_done++;
}

static int cb_hostkey(ssh_conn *c, const ssh_key *key, void *user)
{
    (void)c, (void)key, (void)user;
    return 0;
}

static ssh_key *host_key(void)
{
    static ssh_key *k;
    if (k == NULL)
        CHECK(ssh_key_generate(SSH_KEY_ED25519, 0, &k) == 0);
    return k;
}

/* All of c's output into buf (cap bytes); returns the length. */
static size_t drain(ssh_conn *c, uint8_t *buf, size_t cap)
{
    struct iovec iov[8];
    size_t got = 0, n = ssh_conn_output(c, iov, 8);
    for (size_t i = 0; i < n; i++) {
        size_t l = iov[i].iov_len;
        if (got + l > cap)
            l = cap - got;
        memcpy(buf + got, iov[i].iov_base, l);
        got += l;
    }
    ssh_conn_output_consumed(c, got);
    return got;
}

static uint32_t get32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static void put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8),
    b[3] = (uint8_t)v;
}

/* Plaintext packet around payload[n] into out; returns its size. */
static size_t frame(uint8_t *out, const uint8_t *payload, size_t n)
{
    size_t pad = 8 - ((5 + n) % 8);
    if (pad < 4)
        pad += 8;
    put32(out, (uint32_t)(1 + n + pad));
    out[4] = (uint8_t)pad;
    memcpy(out + 5, payload, n);
    memset(out + 5 + n, 0, pad);
    return 4 + 1 + n + pad;
}

static uint8_t raw[256 * 1024], out[256 * 1024], pl[256 * 1024];

/* Build the replacement payload for the intercepted message `orig`. */
static size_t build(uint8_t *p, uint8_t type, int wrap, const uint8_t *orig, size_t olen,
                    const uint8_t *data, size_t size)
{
    size_t n = 0;
    p[n++] = type;
    if (!wrap || olen < 1 + 4) {
        memcpy(p + n, data, size);
        return n + size;
    }
    if (type == 30) {
        put32(p + n, (uint32_t)size);
        memcpy(p + n + 4, data, size);
        return n + 4 + size;
    }
    /* REPLY: keep K_S and the signature of the original */
    size_t at = 1;
    uint32_t kslen = get32(orig + at);
    CHECK(at + 4 + kslen + 4 <= olen);
    memcpy(p + n, orig + at, 4 + kslen);
    n += 4 + kslen;
    at += 4 + kslen;
    uint32_t qlen = get32(orig + at);
    CHECK(at + 4 + qlen <= olen);
    at += 4 + qlen;
    put32(p + n, (uint32_t)size);
    memcpy(p + n + 4, data, size);
    n += 4 + size;
    memcpy(p + n, orig + at, olen - at);
    return n + olen - at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    unsigned m = (data[0] & 3) % 3, to_client = (data[0] >> 2) & 1, wrap = (data[0] >> 3) & 1;
    data++, size--;

    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    cc.kex_algs = sc.kex_algs = methods[m];
    ssh_key *hk = host_key();
    sc.host_keys = &hk;
    sc.n_host_keys = 1;
    side cs = {.rng = 1}, ss = {.rng = 2};
    ssh_callbacks cb = {.rand = cb_rand,
                        .disconnect = cb_disconnect,
                        .kex_done = cb_kex_done,
                        .hostkey = cb_hostkey};
    ssh_conn *cli = NULL, *srv = NULL;
    CHECK(ssh_conn_new(&cli, &cc, &cb, &cs) == 0);
    CHECK(ssh_conn_new(&srv, &sc, &cb, &ss) == 0);
    CHECK(ssh_conn_start(cli, 0) == 0 && ssh_conn_start(srv, 0) == 0);

    ssh_conn *src = to_client ? srv : cli, *dst = to_client ? cli : srv;
    uint8_t type = to_client ? 31 : 30;
    int edited = 0;
    for (int round = 0; round < 8 && !edited; round++) {
        size_t n = drain(dst, raw, sizeof(raw));
        if (n)
            ssh_conn_feed(src, raw, n, 0);
        n = drain(src, raw, sizeof(raw));
        size_t pos = 0, o = 0;
        if (n >= 4 && memcmp(raw, "SSH-", 4) == 0) {
            uint8_t *nl = memchr(raw, '\n', n);
            CHECK(nl != NULL);
            pos = o = (size_t)(nl - raw) + 1;
            memcpy(out, raw, pos);
        }
        while (pos + 5 <= n) {
            if (edited) { /* NEWKEYS and what follows: as they are */
                memcpy(out + o, raw + pos, n - pos);
                o += n - pos;
                pos = n;
                break;
            }
            uint32_t plen = get32(raw + pos);
            CHECK(pos + 4 + plen <= n && plen >= 1 + (uint32_t)raw[pos + 4]);
            size_t plsz = plen - 1 - raw[pos + 4];
            const uint8_t *payload = raw + pos + 5;
            if (payload[0] == type) {
                size_t l = build(pl, type, wrap, payload, plsz, data, size);
                o += frame(out + o, pl, l);
                edited = 1;
            } else {
                memcpy(out + o, raw + pos, 4 + plen);
                o += 4 + plen;
            }
            pos += 4 + plen;
        }
        if (o)
            ssh_conn_feed(dst, out, o, 0);
    }
    CHECK(edited);
    /* Let the exchange finish (or fail) both ways. */
    for (int round = 0; round < 8; round++) {
        size_t a = drain(cli, raw, sizeof(raw));
        if (a && ssh_conn_error(srv) == 0)
            ssh_conn_feed(srv, raw, a, 0);
        size_t b = drain(srv, raw, sizeof(raw));
        if (b && ssh_conn_error(cli) == 0)
            ssh_conn_feed(cli, raw, b, 0);
        if (a == 0 && b == 0)
            break;
    }
    /* The receiver of a share of the wrong length must have refused it. */
    if (wrap && size != (to_client ? s_share[m] : c_share[m])) {
        side *rcv = to_client ? &cs : &ss;
        CHECK(rcv->disconnected == 1 && rcv->err == SSH_ERR_KEX);
        CHECK(rcv->kex_done == 0);
    }
    /* A failed side said so once, with an error code. */
    CHECK(cs.disconnected <= 1 && ss.disconnected <= 1);
    if (cs.disconnected)
        CHECK(ssh_conn_error(cli) != 0);
    if (ss.disconnected)
        CHECK(ssh_conn_error(srv) != 0);
    ssh_conn_free(cli);
    ssh_conn_free(srv);
    return 0;
}
