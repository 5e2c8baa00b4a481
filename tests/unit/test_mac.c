/*
 * test_mac.c - HMAC-SHA2 packet MACs.
 *
 * Vectors: RFC 4231 test cases 1-4, 6 and 7 for HMAC-SHA-256 and
 * HMAC-SHA-512 (case 5 is truncated output, which SSH never uses).
 *
 * An SSH MAC key is always exactly the digest length and the MAC input
 * always starts with the 4-byte sequence number, while the RFC cases use
 * other key lengths and arbitrary messages.  Both are bridged without
 * changing what is computed:
 *  - key: RFC 2104 pads a key shorter than the hash block with zeros and
 *    replaces a longer one by its hash, so K || 00.. (cases 1-4) and H(K)
 *    (cases 6, 7: 131-byte keys) are the same HMAC key as K;
 *  - message: its first 4 bytes are passed as the sequence number
 *    (big-endian) and the rest as the data.
 */
#include "util.h"

#include "mac.h"
#include "sshtun/buf.h"
#include "sshtun/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

static void dump(const char *label, const uint8_t *p, size_t n)
{
    print_message("  %s:", label);
    for (size_t i = 0; i < n; i++)
        print_message("%s%02x", i % 32 ? "" : "\n    ", p[i]);
    print_message("\n");
}

static void check_bytes(const char *what, const uint8_t *got, const uint8_t *want, size_t n)
{
    if (memcmp(got, want, n) != 0) {
        print_message("MISMATCH: %s\n", what);
        dump("got", got, n);
        dump("want", want, n);
        fail_msg("%s: MAC differs from the expected value", what);
    }
}

static void check_rv(const char *what, int got, int want)
{
    if (got != want)
        fail_msg("%s: returned %d (%s), expected %d (%s)", what, got, ssh_strerror(got), want,
                 ssh_strerror(want));
}

static const ssh_mac_info *info_of(const char *name)
{
    const ssh_mac_info *info = ssh_mac_by_name(name);
    if (info == NULL)
        fail_msg("MAC %s unknown", name);
    return info;
}

static uint64_t rng_state;

static void rnd(uint8_t *p, size_t n)
{
    test_rand(&rng_state, p, n);
}

static const char *const all_macs[] = {
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
};
#define N_MACS (sizeof(all_macs) / sizeof(all_macs[0]))

/* Independent one-shot HMAC(key, seq || data). */
static void hmac_expected(const ssh_mac_info *info, const uint8_t *key, uint32_t seq,
                          const uint8_t *data, size_t len, uint8_t *out)
{
    uint8_t *msg = malloc(len + 4);
    size_t outl;
    assert_non_null(msg);
    ssh_poke_u32(msg, seq);
    if (len)
        memcpy(msg + 4, data, len);
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, info->digest, NULL, key, info->key_len, msg,
                              len + 4, out, EVP_MAX_MD_SIZE, &outl));
    assert_int_equal(outl, info->out_len);
    free(msg);
}

/* ---- names -------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    static const struct {
        const char *name, *digest;
        unsigned key_len, out_len;
        int etm;
    } want[] = {
        {"hmac-sha2-256-etm@openssh.com", "SHA256", 32, 32, 1},
        {"hmac-sha2-512-etm@openssh.com", "SHA512", 64, 64, 1},
        {"hmac-sha2-256", "SHA256", 32, 32, 0},
        {"hmac-sha2-512", "SHA512", 64, 64, 0},
    };
    assert_string_equal(ssh_mac_all(), "hmac-sha2-256-etm@openssh.com,"
                                       "hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512");
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const ssh_mac_info *info = info_of(want[i].name);
        uint8_t key[64] = {0};
        ssh_mac *m;
        assert_string_equal(info->name, want[i].name);
        assert_string_equal(info->digest, want[i].digest);
        assert_int_equal(info->key_len, want[i].key_len);
        assert_int_equal(info->out_len, want[i].out_len);
        if (info->etm != want[i].etm)
            fail_msg("%s: etm flag %d, expected %d", want[i].name, info->etm, want[i].etm);
        assert_true(ssh_namelist_has(ssh_mac_all(), want[i].name));
        assert_int_equal(ssh_mac_new(info, key, &m), 0);
        assert_ptr_equal(ssh_mac_get_info(m), info);
        assert_int_equal(ssh_mac_get_info(m)->etm, want[i].etm);
        ssh_mac_free(m);
    }
    static const char *const unknown[] = {
        "",
        "hmac-sha2-256-etm",
        "hmac-sha2-256 ",
        "HMAC-SHA2-256",
        "hmac-sha1",
        "hmac-md5",
        "none",
        "hmac-sha2",
        "umac-64@openssh.com",
        "hmac-sha2-384",
        "hmac-sha1-etm@openssh.com",
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        if (ssh_mac_by_name(unknown[i]) != NULL)
            fail_msg("\"%s\" must be unknown", unknown[i]);
    assert_null(ssh_mac_by_name(NULL));
}

static void test_arguments(void **state)
{
    (void)state;
    uint8_t key[64] = {0}, out[64];
    ssh_mac *m = (ssh_mac *)&m;
    ssh_mac_info fake = *info_of("hmac-sha2-256");
    fake.name = "hmac-sha2-224";
    check_rv("unknown info", ssh_mac_new(&fake, key, &m), SSH_ERR_ARGUMENT);
    assert_null(m);
    check_rv("NULL info", ssh_mac_new(NULL, key, &m), SSH_ERR_ARGUMENT);
    check_rv("NULL key", ssh_mac_new(info_of("hmac-sha2-256"), NULL, &m), SSH_ERR_ARGUMENT);
    check_rv("NULL out", ssh_mac_new(info_of("hmac-sha2-256"), key, NULL), SSH_ERR_ARGUMENT);

    /* A copy of a table entry is accepted and mapped to the entry. */
    ssh_mac_info copy = *info_of("hmac-sha2-512");
    assert_int_equal(ssh_mac_new(&copy, key, &m), 0);
    assert_ptr_equal(ssh_mac_get_info(m), info_of("hmac-sha2-512"));
    check_rv("NULL data with length", ssh_mac_compute(m, 0, NULL, 1, out), SSH_ERR_ARGUMENT);
    check_rv("NULL out", ssh_mac_compute(m, 0, key, 1, NULL), SSH_ERR_ARGUMENT);
    check_rv("verify NULL mac", ssh_mac_verify(m, 0, key, 1, NULL), SSH_ERR_ARGUMENT);
    /* Empty data is fine: the MAC covers the sequence number alone. */
    uint8_t want[64];
    check_rv("empty data", ssh_mac_compute(m, 77, NULL, 0, out), 0);
    hmac_expected(info_of("hmac-sha2-512"), key, 77, NULL, 0, want);
    check_bytes("HMAC-SHA-512 of the sequence number alone", out, want, 64);
    check_rv("verify empty data", ssh_mac_verify(m, 77, NULL, 0, want), 0);
    ssh_mac_free(m);
    ssh_mac_free(NULL);
    assert_null(ssh_mac_get_info(NULL));
}

/* ---- RFC 4231 ----------------------------------------------------------- */

static const struct rfc4231 {
    const char *what;
    const char *key_hex;  /* NULL: 131 bytes of 0xaa */
    const char *data;     /* text; NULL: data_hex */
    const char *data_hex; /* NULL if text */
    const char *sha256, *sha512;
} rfc4231[] = {
    {"RFC 4231 test case 1", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There", NULL,
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
     "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
     "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
    {"RFC 4231 test case 2", "4a656665", "what do ya want for nothing?", NULL,
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
     "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
     "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
    {"RFC 4231 test case 3", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL,
     "dddddddddddddddddddddddddddddddddddddddddddddddddd"
     "dddddddddddddddddddddddddddddddddddddddddddddddddd",
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
     "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
     "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"},
    {"RFC 4231 test case 4", "0102030405060708090a0b0c0d0e0f10111213141516171819", NULL,
     "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
     "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
     "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
     "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
    {"RFC 4231 test case 6", NULL, "Test Using Larger Than Block-Size Key - Hash Key First", NULL,
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
     "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
     "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
    {"RFC 4231 test case 7", NULL,
     "This is a test using a larger than block-size key and a larger than block-size data. "
     "The key needs to be hashed before being used by the HMAC algorithm.",
     NULL, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
     "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
     "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"},
};

/* The SSH key (digest length) that is the same HMAC key as the RFC key. */
static void equivalent_key(const ssh_mac_info *info, const struct rfc4231 *v, uint8_t *key)
{
    memset(key, 0, info->key_len);
    if (v->key_hex) {
        size_t n;
        uint8_t *k = test_unhex(v->key_hex, &n);
        assert_true(n <= info->key_len);
        memcpy(key, k, n); /* RFC 2104: zero padding */
        free(k);
    } else {
        uint8_t k[131];
        unsigned int n;
        memset(k, 0xaa, sizeof(k)); /* longer than the block: hashed */
        assert_int_equal(
            EVP_Digest(k, sizeof(k), key, &n, EVP_get_digestbyname(info->digest), NULL), 1);
        assert_int_equal(n, info->key_len);
    }
}

static void test_rfc4231(void **state)
{
    (void)state;
    char what[160];
    for (size_t i = 0; i < sizeof(rfc4231) / sizeof(rfc4231[0]); i++) {
        const struct rfc4231 *v = &rfc4231[i];
        size_t dn;
        uint8_t *data;
        if (v->data) {
            dn = strlen(v->data);
            data = malloc(dn);
            assert_non_null(data);
            memcpy(data, v->data, dn);
        } else {
            data = test_unhex(v->data_hex, &dn);
        }
        assert_true(dn >= 4);
        uint32_t seq = ssh_peek_u32(data);

        for (size_t m = 0; m < N_MACS; m++) {
            const ssh_mac_info *info = info_of(all_macs[m]);
            const char *want_hex = info->out_len == 32 ? v->sha256 : v->sha512;
            uint8_t key[64], out[64], *want;
            size_t wn;
            ssh_mac *mac;

            snprintf(what, sizeof(what), "%s, %s", v->what, info->name);
            want = test_unhex(want_hex, &wn);
            assert_int_equal(wn, info->out_len);
            equivalent_key(info, v, key);
            assert_int_equal(ssh_mac_new(info, key, &mac), 0);
            check_rv(what, ssh_mac_compute(mac, seq, data + 4, dn - 4, out), 0);
            check_bytes(what, out, want, wn);
            check_rv(what, ssh_mac_verify(mac, seq, data + 4, dn - 4, want), 0);
            /* Same context again: re-initialisation without re-keying. */
            check_rv(what, ssh_mac_compute(mac, seq, data + 4, dn - 4, out), 0);
            check_bytes(what, out, want, wn);
            ssh_mac_free(mac);
            free(want);
        }
        free(data);
    }
}

/* ---- against an independent HMAC(key, seq || data) ---------------------- */

static void test_against_evp(void **state)
{
    (void)state;
    static const uint32_t seqs[] = {0, 1, 3, 0x01020304, 0x7fffffff, 0x80000000, 0xffffffff};
    static const size_t lens[] = {0, 1, 55, 56, 59, 60, 63, 64, 111, 112, 124, 128, 1000, 35000};
    uint8_t key[64], out[64], want[64];
    char what[160];

    rng_state = 11;
    uint8_t *data = malloc(35000);
    assert_non_null(data);
    for (size_t m = 0; m < N_MACS; m++) {
        const ssh_mac_info *info = info_of(all_macs[m]);
        ssh_mac *mac;
        rnd(key, sizeof(key));
        assert_int_equal(ssh_mac_new(info, key, &mac), 0);
        for (size_t s = 0; s < sizeof(seqs) / sizeof(seqs[0]); s++) {
            for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
                snprintf(what, sizeof(what), "%s seq=%u len=%zu", info->name, seqs[s], lens[l]);
                rnd(data, lens[l]);
                hmac_expected(info, key, seqs[s], data, lens[l], want);
                check_rv(what, ssh_mac_compute(mac, seqs[s], data, lens[l], out), 0);
                check_bytes(what, out, want, info->out_len);
            }
        }
        ssh_mac_free(mac);
    }
    free(data);
}

/* ---- verification ------------------------------------------------------- */

static void test_verify(void **state)
{
    (void)state;
    enum { LEN = 40 };
    uint8_t key[64], data[LEN], mac[64], bad[64];
    char what[160];
    const uint32_t seq = 1234;

    rng_state = 3;
    for (size_t m = 0; m < N_MACS; m++) {
        const ssh_mac_info *info = info_of(all_macs[m]);
        ssh_mac *ctx;
        rnd(key, sizeof(key));
        rnd(data, sizeof(data));
        assert_int_equal(ssh_mac_new(info, key, &ctx), 0);
        assert_int_equal(ssh_mac_compute(ctx, seq, data, LEN, mac), 0);
        check_rv(info->name, ssh_mac_verify(ctx, seq, data, LEN, mac), 0);

        for (size_t bit = 0; bit < info->out_len * 8; bit++) {
            memcpy(bad, mac, info->out_len);
            bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            snprintf(what, sizeof(what), "%s: MAC bit %zu flipped", info->name, bit);
            check_rv(what, ssh_mac_verify(ctx, seq, data, LEN, bad), SSH_ERR_MAC_INVALID);
        }
        for (size_t bit = 0; bit < LEN * 8; bit++) {
            data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            snprintf(what, sizeof(what), "%s: data bit %zu flipped", info->name, bit);
            check_rv(what, ssh_mac_verify(ctx, seq, data, LEN, mac), SSH_ERR_MAC_INVALID);
            data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        for (int bit = 0; bit < 32; bit++) {
            snprintf(what, sizeof(what), "%s: sequence number bit %d flipped", info->name, bit);
            check_rv(what, ssh_mac_verify(ctx, seq ^ (1u << bit), data, LEN, mac),
                     SSH_ERR_MAC_INVALID);
        }
        snprintf(what, sizeof(what), "%s: data one byte short", info->name);
        check_rv(what, ssh_mac_verify(ctx, seq, data, LEN - 1, mac), SSH_ERR_MAC_INVALID);
        /* The failures left the context usable. */
        snprintf(what, sizeof(what), "%s: genuine MAC after the forgeries", info->name);
        check_rv(what, ssh_mac_verify(ctx, seq, data, LEN, mac), 0);
        ssh_mac_free(ctx);
    }
}

/* ---- reuse -------------------------------------------------------------- */

/* One context over many packets (the data path) gives the same MACs as a
 * fresh context per packet, whatever happened in between. */
static void test_reuse(void **state)
{
    (void)state;
    enum { NPKT = 300 };
    uint8_t key[64], data[2048], out[64], fresh_out[64];
    char what[160];

    rng_state = 17;
    for (size_t m = 0; m < N_MACS; m++) {
        const ssh_mac_info *info = info_of(all_macs[m]);
        ssh_mac *reused, *fresh;
        rnd(key, sizeof(key));
        assert_int_equal(ssh_mac_new(info, key, &reused), 0);
        for (uint32_t seq = 0; seq < NPKT; seq++) {
            size_t len = (size_t)(seq * 37u) % sizeof(data);
            rnd(data, len);
            snprintf(what, sizeof(what), "%s packet %u (len %zu)", info->name, seq, len);
            check_rv(what, ssh_mac_compute(reused, seq, data, len, out), 0);
            assert_int_equal(ssh_mac_new(info, key, &fresh), 0);
            check_rv(what, ssh_mac_compute(fresh, seq, data, len, fresh_out), 0);
            ssh_mac_free(fresh);
            check_bytes(what, out, fresh_out, info->out_len);
            if (seq % 3 == 0) {
                /* A failed verification in between must not leave state. */
                out[0] ^= 1;
                check_rv(what, ssh_mac_verify(reused, seq, data, len, out), SSH_ERR_MAC_INVALID);
            }
        }
        ssh_mac_free(reused);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),   cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_rfc4231), cmocka_unit_test(test_against_evp),
        cmocka_unit_test(test_verify),  cmocka_unit_test(test_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
