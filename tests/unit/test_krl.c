/*
 * test_krl.c - key revocation lists (PROTOCOL.krl) and revoked-key lists.
 *
 * The KRLs in tests/unit/data/certs/ were made by ssh-keygen -k (gen.sh
 * there says what each revokes); the malformed ones are built here, each
 * wrong in one way.
 */
#include "util.h"

#include "key_int.h"

#include "sshtun/buf.h"
#include "sshtun/cert.h"
#include "sshtun/err.h"
#include "sshtun/key.h"
#include "sshtun/krl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *slurp(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/certs/%s", SSHTUN_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    uint8_t *s = malloc(1 << 20);
    assert_non_null(s);
    *len = fread(s, 1, (1 << 20) - 1, f);
    fclose(f);
    s[*len] = 0;
    return s;
}

static ssh_key *pub(const char *name)
{
    size_t n;
    uint8_t *s = slurp(name, &n);
    ssh_key *k = NULL;
    int rv = ssh_key_parse_public_line((const char *)s, strcspn((char *)s, "\n"), &k, NULL);
    if (rv != 0)
        fail_msg("%s: %s", name, ssh_strerror(rv));
    free(s);
    return k;
}

static ssh_krl *krl(const char *name)
{
    size_t n;
    uint8_t *s = slurp(name, &n);
    ssh_krl *k = NULL;
    assert_true(ssh_krl_is_krl(s, n));
    int rv = ssh_krl_parse(s, n, &k);
    if (rv != 0)
        fail_msg("%s: %s", name, ssh_strerror(rv));
    free(s);
    return k;
}

static void expect(const ssh_krl *k, const char *keyfile, int revoked)
{
    ssh_key *key = pub(keyfile);
    int rv = ssh_krl_check(k, key);
    if (rv != (revoked ? SSH_ERR_KEY_REVOKED : 0))
        fail_msg("%s: expected %s, got %s", keyfile, revoked ? "revoked" : "not revoked",
                 ssh_strerror(rv));
    ssh_key_free(key);
}

static void test_serials_and_ids(void **state)
{
    (void)state;
    ssh_krl *k = krl("serial.krl");
    assert_int_equal(ssh_krl_version(k), 7);
    assert_true(ssh_krl_date(k) > 1700000000ull);
    /* CA ca_ed25519: serial 42, 100-200, key id "verify". */
    expect(k, "user_ed25519-cert.pub", 1); /* serial 42 */
    expect(k, "user_rsa-cert.pub", 1);     /* serial 42, same CA */
    expect(k, "verify-cert.pub", 1);       /* key id */
    expect(k, "opts-cert.pub", 0);         /* serial 10 */
    expect(k, "host_ed25519-cert.pub", 0); /* serial 7 */
    /* Serial 42, but another CA. */
    expect(k, "user_ecdsa256-cert.pub", 0);
    /* A plain key is not revoked by serials; nor is the CA itself. */
    expect(k, "user_ed25519_key.pub", 0);
    expect(k, "ca_ed25519_key.pub", 0);
    ssh_krl_free(k);

    /* Even serials 2..100 of CA ca_ecdsa, as a bitmap. */
    k = krl("bitmap.krl");
    expect(k, "user_ecdsa256-cert.pub", 1); /* 42 */
    expect(k, "user_ecdsa521-cert.pub", 1);
    expect(k, "host_rsa-cert.pub", 1);     /* 8 */
    expect(k, "user_ed25519-cert.pub", 0); /* 42, other CA */
    ssh_krl_free(k);
}

static void test_keys(void **state)
{
    (void)state;
    ssh_krl *k = krl("keys.krl");
    expect(k, "host_rsa_key.pub", 1);      /* SHA-256 */
    expect(k, "user_ecdsa384_key.pub", 1); /* SHA-1 */
    expect(k, "user_ecdsa521_key.pub", 1); /* fingerprint */
    expect(k, "user_rsa_key.pub", 1);      /* explicit */
    expect(k, "user_ed25519_key.pub", 0);
    expect(k, "host_ed25519_key.pub", 0);
    /* A certificate of a revoked key, and one signed by a revoked CA. */
    expect(k, "host_rsa-cert.pub", 1);
    expect(k, "user_rsa-cert.pub", 1);
    expect(k, "user_ecdsa256-cert.pub", 1); /* CA ca_ecdsa */
    expect(k, "ca_ecdsa_key.pub", 1);
    expect(k, "user_ed25519-cert.pub", 0);
    ssh_krl_free(k);
}

static void test_key_list(void **state)
{
    (void)state;
    size_t n;
    uint8_t *list = slurp("revoked_keys", &n);
    assert_false(ssh_krl_is_krl(list, n));
    static const struct {
        const char *file;
        int revoked;
    } v[] = {{"host_ed25519_key.pub", 1},  {"host_ed25519-cert.pub", 1},
             {"ca_sha1-cert.pub", 1},      {"ca_rsa512-cert.pub", 1},
             {"ca_rsa_key.pub", 1},        {"user_ed25519_key.pub", 0},
             {"user_ed25519-cert.pub", 0}, {"host_rsa_key.pub", 0}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        ssh_key *k = pub(v[i].file);
        assert_int_equal(ssh_revoked_check(list, n, k), v[i].revoked ? SSH_ERR_KEY_REVOKED : 0);
        ssh_key_free(k);
    }
    /* A KRL through the same door. */
    size_t kn;
    uint8_t *kr = slurp("serial.krl", &kn);
    ssh_key *k = pub("user_ed25519-cert.pub");
    assert_int_equal(ssh_revoked_check(kr, kn, k), SSH_ERR_KEY_REVOKED);
    /* A line that does not parse fails the list (fail closed); an empty
     * list revokes nothing. */
    const char *bad = "# list\nssh-ed25519 AAAA%%%% broken\n";
    assert_int_not_equal(ssh_revoked_check((const uint8_t *)bad, strlen(bad), k), 0);
    assert_int_not_equal(ssh_revoked_check((const uint8_t *)bad, strlen(bad), k),
                         SSH_ERR_KEY_REVOKED);
    assert_int_equal(ssh_revoked_check((const uint8_t *)"", 0, k), 0);
    assert_int_equal(ssh_revoked_check((const uint8_t *)"\n  \n#x\n", 7, k), 0);
    /* A truncated KRL is no list of keys either. */
    assert_int_not_equal(ssh_revoked_check(kr, kn - 1, k), 0);
    assert_int_not_equal(ssh_revoked_check(kr, kn - 1, k), SSH_ERR_KEY_REVOKED);
    ssh_key_free(k);
    free(kr);
    free(list);
}

/* ---- built KRLs --------------------------------------------------------------------------------
 */

static void header(ssh_buf *b)
{
    assert_int_equal(ssh_buf_put(b, "SSHKRL\n\0", 8), 0);
    assert_int_equal(ssh_buf_put_u32(b, 1), 0);
    assert_int_equal(ssh_buf_put_u64(b, 3), 0);          /* krl version */
    assert_int_equal(ssh_buf_put_u64(b, 1700000000), 0); /* date */
    assert_int_equal(ssh_buf_put_u64(b, 0), 0);          /* flags */
    assert_int_equal(ssh_buf_put_cstring(b, ""), 0);     /* reserved */
    assert_int_equal(ssh_buf_put_cstring(b, "built"), 0);
}

static void section(ssh_buf *b, uint8_t type, const ssh_buf *data)
{
    assert_int_equal(ssh_buf_put_u8(b, type), 0);
    assert_int_equal(ssh_buf_put_stringb(b, data), 0);
}

/* A certificate section for `ca` (NULL: any CA) with one subsection. */
static void cert_section(ssh_buf *b, const ssh_key *ca, uint8_t sub, const ssh_buf *subdata)
{
    ssh_buf s, cab;
    ssh_buf_init(&s, 0, 0);
    ssh_buf_init(&cab, 0, 0);
    if (ca)
        assert_int_equal(ssh_key_to_blob(ca, &cab), 0);
    assert_int_equal(ssh_buf_put_stringb(&s, &cab), 0);
    assert_int_equal(ssh_buf_put_cstring(&s, ""), 0);
    assert_int_equal(ssh_buf_put_u8(&s, sub), 0);
    assert_int_equal(ssh_buf_put_stringb(&s, subdata), 0);
    section(b, 1, &s);
    ssh_buf_free(&s);
    ssh_buf_free(&cab);
}

static int parse_check(const ssh_buf *b, const ssh_key *key)
{
    ssh_krl *k = NULL;
    int rv = ssh_krl_parse(ssh_buf_ptr(b), ssh_buf_len(b), &k);
    if (rv != 0) {
        assert_null(k);
        return rv;
    }
    if (key != NULL)
        rv = ssh_krl_check(k, key);
    ssh_krl_free(k);
    return rv;
}

static void test_built(void **state)
{
    (void)state;
    ssh_key *cert = pub("user_ed25519-cert.pub"); /* serial 42, id alice@example */
    ssh_key *ca = pub("ca_ed25519_key.pub");
    ssh_key *other = pub("ca_ecdsa_key.pub");
    ssh_buf b, d;
    ssh_buf_init(&b, 0, 0);
    ssh_buf_init(&d, 0, 0);

    /* Empty KRL: nothing revoked; its comment read. */
    header(&b);
    ssh_krl *k = NULL;
    assert_int_equal(ssh_krl_parse(ssh_buf_ptr(&b), ssh_buf_len(&b), &k), 0);
    assert_string_equal(ssh_krl_comment(k), "built");
    assert_int_equal(ssh_krl_version(k), 3);
    assert_int_equal(ssh_krl_check(k, cert), 0);
    ssh_krl_free(k);

    /* Key id for any CA (an empty CA key): revoked whatever signed it. */
    ssh_buf_reset(&b);
    header(&b);
    assert_int_equal(ssh_buf_put_cstring(&d, "alice@example"), 0);
    cert_section(&b, NULL, 0x23, &d);
    assert_int_equal(parse_check(&b, cert), SSH_ERR_KEY_REVOKED);
    /* The same under another CA: not this certificate. */
    ssh_buf_reset(&b);
    header(&b);
    cert_section(&b, other, 0x23, &d);
    assert_int_equal(parse_check(&b, cert), 0);
    ssh_buf_reset(&b);
    header(&b);
    cert_section(&b, ca, 0x23, &d);
    assert_int_equal(parse_check(&b, cert), SSH_ERR_KEY_REVOKED);

    /* Serials: list, range edges, bitmap bits. */
    static const struct {
        uint8_t sub;
        uint64_t a, b;
        int revoked;
    } ser[] = {{0x20, 42, 0, 1},  {0x20, 43, 0, 0},  {0x21, 42, 42, 1}, {0x21, 40, 42, 1},
               {0x21, 42, 99, 1}, {0x21, 43, 99, 0}, {0x21, 1, 41, 0}};
    for (size_t i = 0; i < sizeof(ser) / sizeof(ser[0]); i++) {
        ssh_buf_reset(&b);
        ssh_buf_reset(&d);
        header(&b);
        assert_int_equal(ssh_buf_put_u64(&d, ser[i].a), 0);
        if (ser[i].sub == 0x21)
            assert_int_equal(ssh_buf_put_u64(&d, ser[i].b), 0);
        cert_section(&b, ca, ser[i].sub, &d);
        assert_int_equal(parse_check(&b, cert), ser[i].revoked ? SSH_ERR_KEY_REVOKED : 0);
    }
    /* Bitmap: offset 40, bit 2 (serial 42), as a 2-byte mpint with bit 9
     * set too (serial 49). */
    for (int bit = 0; bit < 2; bit++) {
        ssh_buf_reset(&b);
        ssh_buf_reset(&d);
        header(&b);
        uint8_t mag[2] = {0x02, bit ? 0x04 : 0x08};
        assert_int_equal(ssh_buf_put_u64(&d, 40), 0);
        assert_int_equal(ssh_buf_put_mpint(&d, mag, 2), 0);
        cert_section(&b, ca, 0x22, &d);
        assert_int_equal(parse_check(&b, cert), bit ? SSH_ERR_KEY_REVOKED : 0);
    }

    /* Refused: serial 0, a backwards range, a bitmap reaching serial 0 or
     * wrapping, trailing bytes in a subsection, an unknown subsection, a
     * critical extension; a non-critical extension is fine. */
    struct {
        uint8_t sub;
        uint64_t a, b;
    } bad[] = {{0x20, 0, 0}, {0x21, 0, 5}, {0x21, 9, 8}};
    for (size_t i = 0; i < 3; i++) {
        ssh_buf_reset(&b);
        ssh_buf_reset(&d);
        header(&b);
        assert_int_equal(ssh_buf_put_u64(&d, bad[i].a), 0);
        if (bad[i].sub == 0x21)
            assert_int_equal(ssh_buf_put_u64(&d, bad[i].b), 0);
        cert_section(&b, ca, bad[i].sub, &d);
        assert_int_equal(parse_check(&b, cert), SSH_ERR_FORMAT);
    }
    ssh_buf_reset(&b);
    ssh_buf_reset(&d);
    header(&b);
    assert_int_equal(ssh_buf_put_u64(&d, 0), 0);
    assert_int_equal(ssh_buf_put_mpint(&d, (const uint8_t *)"\x01", 1), 0);
    cert_section(&b, ca, 0x22, &d);
    assert_int_equal(parse_check(&b, cert), SSH_ERR_FORMAT);
    ssh_buf_reset(&b);
    ssh_buf_reset(&d);
    header(&b);
    assert_int_equal(ssh_buf_put_u64(&d, UINT64_MAX - 3), 0);
    assert_int_equal(ssh_buf_put_mpint(&d, (const uint8_t *)"\x10", 1), 0);
    cert_section(&b, ca, 0x22, &d);
    assert_int_equal(parse_check(&b, cert), SSH_ERR_FORMAT);
    ssh_buf_reset(&b);
    ssh_buf_reset(&d);
    header(&b);
    assert_int_equal(ssh_buf_put_u64(&d, 40), 0);
    assert_int_equal(ssh_buf_put_u64(&d, 42), 0);
    assert_int_equal(ssh_buf_put_u32(&d, 0), 0);
    cert_section(&b, ca, 0x21, &d); /* a range with 4 extra bytes */
    assert_int_equal(parse_check(&b, cert), SSH_ERR_TRAILING);
    ssh_buf_reset(&b);
    ssh_buf_reset(&d);
    header(&b);
    cert_section(&b, ca, 0x30, &d);
    assert_int_equal(parse_check(&b, cert), SSH_ERR_FORMAT);
    for (int crit = 0; crit < 2; crit++) {
        ssh_buf_reset(&b);
        ssh_buf_reset(&d);
        header(&b);
        assert_int_equal(ssh_buf_put_cstring(&d, "x@example.com"), 0);
        assert_int_equal(ssh_buf_put_u8(&d, (uint8_t)crit), 0);
        assert_int_equal(ssh_buf_put_cstring(&d, "v"), 0);
        cert_section(&b, ca, 0x39, &d);
        assert_int_equal(parse_check(&b, cert), crit ? SSH_ERR_FORMAT : 0);
        ssh_buf_reset(&b);
        header(&b);
        section(&b, 255, &d);
        assert_int_equal(parse_check(&b, cert), crit ? SSH_ERR_FORMAT : 0);
    }

    /* Explicit keys, fingerprints of the wrong length, unknown sections,
     * a bad CA blob, wrong format version, signatures not last. */
    ssh_key *plain = NULL;
    assert_int_equal(ssh_key_plain(cert, &plain), 0);
    ssh_buf kb;
    ssh_buf_init(&kb, 0, 0);
    assert_int_equal(ssh_key_to_plain_blob(plain, &kb), 0);
    ssh_buf_reset(&b);
    ssh_buf_reset(&d);
    header(&b);
    assert_int_equal(ssh_buf_put_stringb(&d, &kb), 0);
    section(&b, 2, &d);
    assert_int_equal(parse_check(&b, plain), SSH_ERR_KEY_REVOKED);
    assert_int_equal(parse_check(&b, cert), SSH_ERR_KEY_REVOKED); /* its certificate */
    assert_int_equal(parse_check(&b, ca), 0);
    ssh_buf_reset(&b);
    ssh_buf_reset(&d);
    header(&b);
    assert_int_equal(ssh_buf_put_string(&d, "0123456789012345678", 19), 0);
    section(&b, 3, &d);
    assert_int_equal(parse_check(&b, plain), SSH_ERR_FORMAT);
    ssh_buf_reset(&b);
    header(&b);
    section(&b, 6, &d);
    assert_int_equal(parse_check(&b, plain), SSH_ERR_FORMAT);
    ssh_buf_reset(&b);
    ssh_buf_reset(&d);
    header(&b);
    assert_int_equal(ssh_buf_put_cstring(&d, "ssh-dss"), 0);
    assert_int_equal(ssh_buf_put_cstring(&d, ""), 0);
    section(&b, 1, &d);
    assert_int_equal(parse_check(&b, plain), SSH_ERR_FORMAT);
    /* A signature section, then keys: refused; signatures last: fine. */
    ssh_buf_reset(&b);
    ssh_buf_reset(&d);
    header(&b);
    ssh_buf sk;
    ssh_buf_init(&sk, 0, 0);
    assert_int_equal(ssh_key_to_blob(ca, &sk), 0);
    section(&b, 4, &sk);
    assert_int_equal(ssh_buf_put_cstring(&b, "signature bytes"), 0);
    assert_int_equal(parse_check(&b, plain), 0);
    assert_int_equal(ssh_buf_put_stringb(&d, &kb), 0);
    section(&b, 2, &d);
    assert_int_equal(parse_check(&b, plain), SSH_ERR_FORMAT);
    ssh_buf_free(&sk);
    ssh_buf_reset(&b);
    header(&b);
    ((uint8_t *)ssh_buf_ptr(&b))[11] = 2; /* format version 2 */
    assert_int_equal(parse_check(&b, plain), SSH_ERR_FORMAT);

    /* Truncations of a real KRL: the format has no overall length, so a
     * cut at a section boundary is a shorter KRL; every other cut fails
     * cleanly, and a shorter KRL revokes no more than the whole. */
    size_t n, failed = 0;
    uint8_t *real = slurp("keys.krl", &n);
    ssh_key *revoked = pub("user_rsa_key.pub"); /* the last section or so */
    for (size_t i = 0; i < n; i++) {
        k = NULL;
        int rv = ssh_krl_parse(real, i, &k);
        if (i < 8)
            assert_int_equal(rv, SSH_ERR_FORMAT);
        if (rv != 0) {
            assert_null(k);
            failed++;
            continue;
        }
        int c = ssh_krl_check(k, revoked);
        assert_true(c == 0 || c == SSH_ERR_KEY_REVOKED);
        ssh_krl_free(k);
    }
    assert_true(failed > n - 8);
    ssh_key_free(revoked);
    free(real);

    ssh_buf_free(&kb);
    ssh_key_free(plain);
    ssh_buf_free(&b);
    ssh_buf_free(&d);
    ssh_key_free(cert);
    ssh_key_free(ca);
    ssh_key_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serials_and_ids),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_key_list),
        cmocka_unit_test(test_built),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
