/*
 * test_engine_algos.c - the client engine pumped against the server engine
 * for every supported algorithm: each side's kex_algs / hostkey_algs /
 * ciphers / macs list is restricted to a single name, the connection is
 * authenticated with a user key (its type varies), a session channel is
 * opened, "exec" is requested and a few KB go each way in randomly sized
 * transfer steps.  Both sides must report the same negotiated names and
 * every byte must arrive.
 *
 * The matrix (see run_kex below): the complete cross product, 10 kex x 6
 * host key algorithms x 6 ciphers x 4 MACs = 1440 connections (and the
 * reduced one below for the two sntrup761 names), the user key
 * type rotating through Ed25519, ECDSA P-256/384/521 and RSA.  (With an AEAD
 * cipher the MAC list is configured but not negotiated: "<implicit>".)  It
 * takes about 20 s under ASan+UBSan on one core, most of it in the 8192-bit
 * groups.  SSHTUN_QUICK_MATRIX=1 in the environment reduces it to 840
 * connections (~7 s): the full product for the elliptic-curve kex methods,
 * and for the finite-field ones (group14/16/18 and group exchange) every
 * kex x host key pair plus every kex x cipher x MAC triple, which still
 * covers every pair of dimensions.
 *
 * Plus negotiation edge cases: ssh-rsa (SHA-1) host keys only when both
 * sides list it, and no common algorithm in each slot.
 */
#include "pump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kexes[] = {
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group-exchange-sha256",
    "mlkem768x25519-sha256",
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
};
#define N_KEX      (sizeof(kexes) / sizeof(kexes[0]))
#define N_FAST_KEX 5 /* the first five: elliptic curves */
#define I_MLKEM    9 /* the PQ hybrids: ML-KEM (fast), then sntrup761 (slow key generation) */

static const struct {
    const char *alg;
    enum ssh_key_type type;
} hostkeys[] = {
    {"ssh-ed25519", SSH_KEY_ED25519},
    {"ecdsa-sha2-nistp256", SSH_KEY_ECDSA_P256},
    {"ecdsa-sha2-nistp384", SSH_KEY_ECDSA_P384},
    {"ecdsa-sha2-nistp521", SSH_KEY_ECDSA_P521},
    {"rsa-sha2-512", SSH_KEY_RSA},
    {"rsa-sha2-256", SSH_KEY_RSA},
};
#define N_HK (sizeof(hostkeys) / sizeof(hostkeys[0]))

static const struct {
    const char *name;
    int aead;
} ciphers[] = {
    {"chacha20-poly1305@openssh.com", 1},
    {"aes128-gcm@openssh.com", 1},
    {"aes256-gcm@openssh.com", 1},
    {"aes128-ctr", 0},
    {"aes192-ctr", 0},
    {"aes256-ctr", 0},
};
#define N_CIPHER (sizeof(ciphers) / sizeof(ciphers[0]))

static const char *const macs[] = {
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
};
#define N_MAC (sizeof(macs) / sizeof(macs[0]))

static const enum ssh_key_type userkeys[] = {
    SSH_KEY_ED25519, SSH_KEY_ECDSA_P256, SSH_KEY_ECDSA_P384, SSH_KEY_ECDSA_P521, SSH_KEY_RSA,
};
#define N_UK (sizeof(userkeys) / sizeof(userkeys[0]))

static unsigned long combos_run;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "combination %s: ", label);                                            \
            fail_msg(__VA_ARGS__);                                                                 \
        }                                                                                          \
    } while (0)

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void check_algs(const char *label, ssh_conn *c, const char *kex, const char *hk,
                       const char *cipher, const char *mac)
{
    CHECK(ssh_conn_alg(c, SSH_ALG_KEX) && strcmp(ssh_conn_alg(c, SSH_ALG_KEX), kex) == 0, "kex %s",
          ssh_conn_alg(c, SSH_ALG_KEX));
    CHECK(ssh_conn_alg(c, SSH_ALG_HOSTKEY) && strcmp(ssh_conn_alg(c, SSH_ALG_HOSTKEY), hk) == 0,
          "hostkey %s", ssh_conn_alg(c, SSH_ALG_HOSTKEY));
    for (int s = SSH_ALG_CIPHER_CTOS; s <= SSH_ALG_CIPHER_STOC; s++)
        CHECK(ssh_conn_alg(c, s) && strcmp(ssh_conn_alg(c, s), cipher) == 0, "cipher %s",
              ssh_conn_alg(c, s));
    for (int s = SSH_ALG_MAC_CTOS; s <= SSH_ALG_MAC_STOC; s++)
        CHECK(ssh_conn_alg(c, s) && strcmp(ssh_conn_alg(c, s), mac) == 0, "mac %s",
              ssh_conn_alg(c, s));
}

/* One full connection with every list restricted to one name. */
static void run_combo(size_t ki, size_t hi, size_t ci, size_t mi, size_t ui)
{
    const char *kex = kexes[ki], *hk = hostkeys[hi].alg, *cipher = ciphers[ci].name,
               *mac = macs[mi];
    char label[256];
    snprintf(label, sizeof(label), "%s / %s / %s / %s / user key type %d", kex, hk, cipher, mac,
             (int)userkeys[ui]);
    uint64_t seed = mix(ki * 1000003 + hi * 10007 + ci * 101 + mi * 7 + ui);

    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    cc.kex_algs = sc.kex_algs = kex;
    cc.hostkey_algs = sc.hostkey_algs = hk;
    cc.ciphers = sc.ciphers = cipher;
    cc.macs = sc.macs = mac;
    tp_pair *p = tp_pair_new(&cc, &sc, tp_key(hostkeys[hi].type), tp_key(userkeys[ui]));
    p->cli.rng = seed;
    p->srv.rng = mix(seed);
    p->chunk = 1 + (size_t)(seed % 3000);

    CHECK(tp_connect(p) == 0, "did not connect: client error %s, server error %s",
          ssh_strerror(ssh_conn_error(p->cli.c)), ssh_strerror(ssh_conn_error(p->srv.c)));
    CHECK(p->cli.auth_success == 1 && p->srv.auth_success == 1, "authentication");
    CHECK(p->cli.hostkey_calls == 1, "host key callback");
    CHECK(ssh_key_equal_public(ssh_conn_hostkey(p->cli.c), tp_key(hostkeys[hi].type)),
          "host key seen by the client");
    CHECK(ssh_conn_strict_kex(p->cli.c) && ssh_conn_strict_kex(p->srv.c), "strict kex");
    const char *want_mac = ciphers[ci].aead ? "<implicit>" : mac;
    check_algs(label, p->cli.c, kex, hk, cipher, want_mac);
    check_algs(label, p->srv.c, kex, hk, cipher, want_mac);
    size_t l1, l2;
    const uint8_t *s1 = ssh_conn_session_id(p->cli.c, &l1);
    const uint8_t *s2 = ssh_conn_session_id(p->srv.c, &l2);
    CHECK(s1 && s2 && l1 == l2 && memcmp(s1, s2, l1) == 0, "session ids differ");
    /* The user key's signature algorithm (RSA: rsa-sha2-512 by default). */
    CHECK(strcmp(p->srv.last_key_alg, userkeys[ui] == SSH_KEY_RSA
                                          ? "rsa-sha2-512"
                                          : ssh_key_type_name(tp_key(userkeys[ui]))) == 0,
          "user key alg %s", p->srv.last_key_alg);

    int id = tp_open_session(p);
    CHECK(id >= 0, "session open");
    ssh_channel_req r = {.type = "exec", .want_reply = 1, .command = "cat"};
    CHECK(ssh_channel_request_send(p->cli.c, (uint32_t)id, &r, NULL) == 0, "exec send");
    tp_pump(p, 0);
    CHECK(tp_chan_of(&p->cli, (uint32_t)id)->req_ok == 1, "exec reply");
    CHECK(strcmp(tp_chan_of(&p->srv, 0)->last_cmd, "cat") == 0, "exec command");

    /* A few KB each way, in several sends. */
    size_t n = 2048 + (size_t)(mix(seed + 1) % 6144);
    uint8_t *up = malloc(n), *down = malloc(n);
    assert_non_null(up);
    assert_non_null(down);
    uint64_t r1 = seed ^ 1, r2 = seed ^ 2;
    test_rand(&r1, up, n);
    test_rand(&r2, down, n);
    for (size_t off = 0; off < n;) {
        size_t k = 1 + (size_t)(mix(seed + off) % 1500);
        if (k > n - off)
            k = n - off;
        CHECK(ssh_channel_send(p->cli.c, (uint32_t)id, 0, up + off, k) == (long)k, "send up");
        CHECK(ssh_channel_send(p->srv.c, 0, 0, down + off, k) == (long)k, "send down");
        off += k;
        tp_pump(p, 1);
    }
    tp_pump(p, 0);
    tp_chan *sc0 = tp_chan_of(&p->srv, 0), *cc0 = tp_chan_of(&p->cli, (uint32_t)id);
    CHECK(ssh_buf_len(&sc0->sink) == n && memcmp(ssh_buf_ptr(&sc0->sink), up, n) == 0,
          "client to server data (%zu of %zu bytes)", ssh_buf_len(&sc0->sink), n);
    CHECK(ssh_buf_len(&cc0->sink) == n && memcmp(ssh_buf_ptr(&cc0->sink), down, n) == 0,
          "server to client data (%zu of %zu bytes)", ssh_buf_len(&cc0->sink), n);
    free(up);
    free(down);

    CHECK(ssh_channel_close(p->cli.c, (uint32_t)id) == 0, "close");
    tp_pump(p, 0);
    CHECK(cc0->closed == 1 && sc0->closed == 1, "closed callbacks");
    /* Every byte and packet one side wrote, the other read. */
    ssh_conn_stats sa, sb;
    ssh_conn_get_stats(p->cli.c, &sa);
    ssh_conn_get_stats(p->srv.c, &sb);
    CHECK(sa.bytes_out == sb.bytes_in && sa.bytes_in == sb.bytes_out, "byte counters");
    CHECK(sa.packets_out == sb.packets_in && sa.packets_in == sb.packets_out, "packet counters");
    CHECK(sa.kex_count == 1 && sb.kex_count == 1 && sa.channels_open == 0, "stats");
    CHECK(ssh_conn_error(p->cli.c) == 0 && ssh_conn_error(p->srv.c) == 0, "errors: %s / %s",
          ssh_strerror(ssh_conn_error(p->cli.c)), ssh_strerror(ssh_conn_error(p->srv.c)));
    tp_pair_free(p);
    combos_run++;
}

static int quick_matrix(void)
{
    const char *e = getenv("SSHTUN_QUICK_MATRIX");
    return e && atoi(e) > 0;
}

/* See the header comment. */
static void run_kex(size_t ki)
{
    size_t ui = ki;
    /* ML-KEM costs about what X25519 does; sntrup761's key generation
     * (two inversions) is ~50 ms under ASan, so it always gets the
     * reduced matrix, which still covers every pair of dimensions. */
    int full = ki < N_FAST_KEX || ki == I_MLKEM || (!quick_matrix() && ki < I_MLKEM);
    if (full) {
        for (size_t hi = 0; hi < N_HK; hi++)
            for (size_t ci = 0; ci < N_CIPHER; ci++)
                for (size_t mi = 0; mi < N_MAC; mi++)
                    run_combo(ki, hi, ci, mi, ui++ % N_UK);
        return;
    }
    /* every host key (cipher/MAC rotating) */
    for (size_t hi = 0; hi < N_HK; hi++)
        run_combo(ki, hi, (hi + ki) % N_CIPHER, (hi + ki) % N_MAC, ui++ % N_UK);
    /* every cipher x MAC (host key rotating) */
    for (size_t ci = 0; ci < N_CIPHER; ci++)
        for (size_t mi = 0; mi < N_MAC; mi++)
            run_combo(ki, (ci * N_MAC + mi + ki) % N_HK, ci, mi, ui++ % N_UK);
}

#define KEX_TEST(i)                                                                                \
    static void kex_##i(void **state)                                                              \
    {                                                                                              \
        (void)state;                                                                               \
        unsigned long before = combos_run;                                                         \
        run_kex(i);                                                                                \
        assert_true(combos_run > before);                                                          \
    }
KEX_TEST(0)
KEX_TEST(1)
KEX_TEST(2)
KEX_TEST(3)
KEX_TEST(4)
KEX_TEST(5)
KEX_TEST(6)
KEX_TEST(7)
KEX_TEST(8)
KEX_TEST(9)
KEX_TEST(10)
KEX_TEST(11)

/* ---- re-exchange with every method ---------------------------------------------------- */

/* A second key exchange of each method, started by either side, with data
 * queued on both sides across it. */
static void rekey_every_kex(void **state)
{
    (void)state;
    for (size_t ki = 0; ki < N_KEX; ki++) {
        for (int who = 0; who < 2; who++) {
            size_t hi = (ki * 2 + (size_t)who) % N_HK, ci = (ki + (size_t)who) % N_CIPHER;
            const char *label = kexes[ki];
            ssh_conn_config cc, sc;
            ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
            ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
            cc.kex_algs = sc.kex_algs = kexes[ki];
            cc.hostkey_algs = sc.hostkey_algs = hostkeys[hi].alg;
            cc.ciphers = sc.ciphers = ciphers[ci].name;
            tp_pair *p = tp_pair_new(&cc, &sc, tp_key(hostkeys[hi].type), tp_key(SSH_KEY_ED25519));
            CHECK(tp_connect(p) == 0, "connect");
            int id = tp_open_session(p);
            CHECK(id >= 0, "session");
            ssh_conn *init = who ? p->srv.c : p->cli.c;
            CHECK(ssh_channel_send(p->cli.c, (uint32_t)id, 0, "abc", 3) == 3, "send");
            CHECK(ssh_conn_rekey(init) == 0, "rekey");
            CHECK(ssh_channel_send(p->cli.c, (uint32_t)id, 0, "def", 3) == 3, "send");
            CHECK(ssh_channel_send(p->srv.c, 0, 0, "xyz", 3) == 3, "send");
            p->chunk = 33;
            tp_pump(p, 0);
            CHECK(ssh_conn_error(p->cli.c) == 0 && ssh_conn_error(p->srv.c) == 0, "%s / %s",
                  ssh_strerror(ssh_conn_error(p->cli.c)), ssh_strerror(ssh_conn_error(p->srv.c)));
            CHECK(p->cli.kex_done == 2 && p->srv.kex_done == 2, "kex count %d %d", p->cli.kex_done,
                  p->srv.kex_done);
            CHECK(p->cli.hostkey_calls == 1, "host key asked again");
            CHECK(strcmp(ssh_conn_alg(p->cli.c, SSH_ALG_KEX), kexes[ki]) == 0, "kex name");
            tp_chan *s0 = tp_chan_of(&p->srv, 0), *c0 = tp_chan_of(&p->cli, (uint32_t)id);
            CHECK(ssh_buf_len(&s0->sink) == 6 && memcmp(ssh_buf_ptr(&s0->sink), "abcdef", 6) == 0,
                  "data up");
            CHECK(ssh_buf_len(&c0->sink) == 3 && memcmp(ssh_buf_ptr(&c0->sink), "xyz", 3) == 0,
                  "data down");
            tp_pair_free(p);
        }
    }
}

/* ---- negotiation edge cases -------------------------------------------------------- */

/* Run a pair whose handshake must fail; returns it for inspection. */
static tp_pair *failing_pair(const ssh_conn_config *cc, const ssh_conn_config *sc, ssh_key *hk)
{
    tp_pair *p = tp_pair_new(cc, sc, hk, tp_key(SSH_KEY_ED25519));
    tp_start(p);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_CLOSED);
    assert_int_equal(ssh_conn_state(p->srv.c), SSH_STATE_CLOSED);
    assert_int_equal(p->cli.disconnected, 1);
    assert_int_equal(p->srv.disconnected, 1);
    return p;
}

static void ssh_rsa_sha1_hostkey(void **state)
{
    (void)state;
    ssh_conn_config cc, sc;
    /* Only the server lists ssh-rsa: the default client list lacks it. */
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    sc.hostkey_algs = "ssh-rsa";
    tp_pair *p = failing_pair(&cc, &sc, tp_key(SSH_KEY_RSA));
    assert_int_equal(ssh_conn_error(p->cli.c), SSH_ERR_NO_HOSTKEY_ALG);
    assert_int_equal(ssh_conn_error(p->srv.c), SSH_ERR_NO_HOSTKEY_ALG);
    assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
    tp_pair_free(p);

    /* Only the client lists it; the server's default list lacks it. */
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    cc.hostkey_algs = "ssh-rsa";
    p = failing_pair(&cc, &sc, tp_key(SSH_KEY_RSA));
    assert_int_equal(ssh_conn_error(p->cli.c), SSH_ERR_NO_HOSTKEY_ALG);
    assert_int_equal(ssh_conn_error(p->srv.c), SSH_ERR_NO_HOSTKEY_ALG);
    assert_int_equal(p->srv.disc_reason, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
    tp_pair_free(p);

    /* The defaults on both sides never pick it, even with only an RSA key. */
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    p = tp_pair_new(&cc, &sc, tp_key(SSH_KEY_RSA), tp_key(SSH_KEY_ED25519));
    assert_int_equal(tp_connect(p), 0);
    assert_string_equal(ssh_conn_alg(p->cli.c, SSH_ALG_HOSTKEY), "rsa-sha2-512");
    tp_pair_free(p);

    /* Both list it explicitly: accepted, with a SHA-1 signature. */
    cc.hostkey_algs = "ssh-rsa";
    sc.hostkey_algs = "ssh-rsa";
    p = tp_pair_new(&cc, &sc, tp_key(SSH_KEY_RSA), tp_key(SSH_KEY_ED25519));
    assert_int_equal(tp_connect(p), 0);
    assert_string_equal(ssh_conn_alg(p->cli.c, SSH_ALG_HOSTKEY), "ssh-rsa");
    assert_string_equal(ssh_conn_alg(p->srv.c, SSH_ALG_HOSTKEY), "ssh-rsa");
    assert_int_equal(p->cli.auth_success, 1);
    tp_pair_free(p);

    /* Preference: with both on both lists the SHA-2 one wins. */
    cc.hostkey_algs = "rsa-sha2-256,ssh-rsa";
    sc.hostkey_algs = "ssh-rsa,rsa-sha2-256";
    p = tp_pair_new(&cc, &sc, tp_key(SSH_KEY_RSA), tp_key(SSH_KEY_ED25519));
    assert_int_equal(tp_connect(p), 0);
    assert_string_equal(ssh_conn_alg(p->cli.c, SSH_ALG_HOSTKEY), "rsa-sha2-256");
    tp_pair_free(p);
}

/* The client's preference order decides (RFC 4253 section 7.1). */
static void client_preference_wins(void **state)
{
    (void)state;
    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    cc.kex_algs = "ecdh-sha2-nistp256,curve25519-sha256";
    sc.kex_algs = "curve25519-sha256,ecdh-sha2-nistp256";
    cc.ciphers = "aes256-ctr,aes128-gcm@openssh.com";
    sc.ciphers = "aes128-gcm@openssh.com,aes256-ctr";
    cc.macs = "hmac-sha2-512,hmac-sha2-256-etm@openssh.com";
    sc.macs = "hmac-sha2-256-etm@openssh.com,hmac-sha2-512";
    tp_pair *p = tp_pair_new(&cc, &sc, tp_key(SSH_KEY_ED25519), tp_key(SSH_KEY_ED25519));
    assert_int_equal(tp_connect(p), 0);
    for (int i = 0; i < 2; i++) {
        ssh_conn *c = i ? p->srv.c : p->cli.c;
        assert_string_equal(ssh_conn_alg(c, SSH_ALG_KEX), "ecdh-sha2-nistp256");
        assert_string_equal(ssh_conn_alg(c, SSH_ALG_CIPHER_CTOS), "aes256-ctr");
        assert_string_equal(ssh_conn_alg(c, SSH_ALG_CIPHER_STOC), "aes256-ctr");
        assert_string_equal(ssh_conn_alg(c, SSH_ALG_MAC_CTOS), "hmac-sha2-512");
        assert_string_equal(ssh_conn_alg(c, SSH_ALG_MAC_STOC), "hmac-sha2-512");
    }
    /* Defaults: the first of each default list. */
    tp_pair_free(p);
    p = tp_pair_new(NULL, NULL, tp_key(SSH_KEY_ED25519), tp_key(SSH_KEY_ED25519));
    assert_int_equal(tp_connect(p), 0);
    assert_string_equal(ssh_conn_alg(p->cli.c, SSH_ALG_KEX), "mlkem768x25519-sha256");
    assert_string_equal(ssh_conn_alg(p->cli.c, SSH_ALG_HOSTKEY), "ssh-ed25519");
    assert_string_equal(ssh_conn_alg(p->cli.c, SSH_ALG_CIPHER_CTOS),
                        "chacha20-poly1305@openssh.com");
    assert_string_equal(ssh_conn_alg(p->cli.c, SSH_ALG_MAC_CTOS), "<implicit>");
    tp_pair_free(p);
}

/* No common name in one slot: both sides fail with the slot's error and
 * KEY_EXCHANGE_FAILED goes on the wire. */
static void no_common_algorithm(void **state)
{
    (void)state;
    static const struct {
        int slot;
        const char *cli, *srv;
        int err;
    } cases[] = {
        {0, "curve25519-sha256", "ecdh-sha2-nistp256", SSH_ERR_NO_KEX_ALG},
        {1, "ssh-ed25519", "ecdsa-sha2-nistp256", SSH_ERR_NO_HOSTKEY_ALG},
        {2, "aes128-ctr", "aes256-ctr", SSH_ERR_NO_CIPHER_ALG},
        {3, "hmac-sha2-256", "hmac-sha2-512", SSH_ERR_NO_MAC_ALG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ssh_conn_config cc, sc;
        ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
        ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
        const char **f[2][4] = {{&cc.kex_algs, &cc.hostkey_algs, &cc.ciphers, &cc.macs},
                                {&sc.kex_algs, &sc.hostkey_algs, &sc.ciphers, &sc.macs}};
        *f[0][cases[i].slot] = cases[i].cli;
        *f[1][cases[i].slot] = cases[i].srv;
        if (cases[i].slot == 3)
            cc.ciphers = sc.ciphers = "aes128-ctr"; /* a MAC is needed */
        tp_pair *p = failing_pair(&cc, &sc, tp_key(SSH_KEY_ED25519));
        assert_int_equal(ssh_conn_error(p->cli.c), cases[i].err);
        assert_int_equal(ssh_conn_error(p->srv.c), cases[i].err);
        assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
        assert_int_equal(p->srv.disc_reason, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
        assert_int_equal(p->cli.auth_ready, 0);
        tp_pair_free(p);
    }
    /* AEAD ciphers need no MAC: disjoint MAC lists do not matter. */
    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    cc.ciphers = sc.ciphers = "aes256-gcm@openssh.com";
    cc.macs = "hmac-sha2-256";
    sc.macs = "hmac-sha2-512";
    tp_pair *p = tp_pair_new(&cc, &sc, tp_key(SSH_KEY_ED25519), tp_key(SSH_KEY_ED25519));
    assert_int_equal(tp_connect(p), 0);
    assert_string_equal(ssh_conn_alg(p->srv.c, SSH_ALG_MAC_STOC), "<implicit>");
    tp_pair_free(p);

    /* Unknown names are dropped; a list left empty is refused at creation. */
    ssh_conn *c = NULL;
    ssh_callbacks cb = {.rand = test_rand};
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    cc.kex_algs = "no-such-kex,curve25519-sha1";
    uint64_t seed = 1;
    assert_int_equal(ssh_conn_new(&c, &cc, &cb, &seed), SSH_ERR_ARGUMENT);
    assert_null(c);
    cc.kex_algs = "no-such-kex,curve25519-sha256";
    assert_int_equal(ssh_conn_new(&c, &cc, &cb, &seed), 0);
    ssh_conn_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kex_0),
        cmocka_unit_test(kex_1),
        cmocka_unit_test(kex_2),
        cmocka_unit_test(kex_3),
        cmocka_unit_test(kex_4),
        cmocka_unit_test(kex_5),
        cmocka_unit_test(kex_6),
        cmocka_unit_test(kex_7),
        cmocka_unit_test(kex_8),
        cmocka_unit_test(kex_9),
        cmocka_unit_test(kex_10),
        cmocka_unit_test(kex_11),
        cmocka_unit_test(rekey_every_kex),
        cmocka_unit_test(ssh_rsa_sha1_hostkey),
        cmocka_unit_test(client_preference_wins),
        cmocka_unit_test(no_common_algorithm),
    };
    int rv = cmocka_run_group_tests(tests, NULL, NULL);
    fprintf(stderr, "%lu algorithm combinations connected\n", combos_run);
    return rv;
}
