/*
 * test_cert.c - OpenSSH certificates: parsing, CA signatures, validity and
 * principal checks, signing under certificate algorithm names, and the
 * engine presenting and accepting certificates (host and user).
 *
 * Fixtures: tests/unit/data/certs/, made by ssh-keygen -s (gen.sh
 * there regenerates them; the serials, principals, options and validity
 * window asserted below are the ones gen.sh sets).  Throwaway keys.
 *
 * What is proved against an independent implementation: every certificate
 * ssh-keygen made parses, its CA signature verifies (each CA type, each
 * RSA signature algorithm), its fields read back as ssh-keygen wrote them,
 * and its blob and public line come back byte for byte.  Malformed
 * certificates (which ssh-keygen will not make) are built here with the
 * fixture CA's private key, so that each is refused for the one reason it
 * was built with, not for a bad signature.
 */
#include "util.h"
#include "pump.h"

#include "key_int.h"

#include "sshtun/buf.h"
#include "sshtun/cert.h"
#include "sshtun/conn.h"
#include "sshtun/err.h"
#include "sshtun/key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SSHTUN_TEST_DATA
#error "SSHTUN_TEST_DATA must name tests/unit/data"
#endif

#define VALID_AFTER  1577836800ull /* 2020-01-01T00:00:00Z */
#define VALID_BEFORE 2208988800ull /* 2040-01-01T00:00:00Z */
#define NOW          1700000000ull

static char *slurp(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/certs/%s", SSHTUN_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open fixture %s", path);
    char *s = malloc(65536);
    assert_non_null(s);
    size_t n = fread(s, 1, 65535, f);
    fclose(f);
    s[n] = '\0';
    return s;
}

static ssh_key *load_pub(const char *name)
{
    char *s = slurp(name);
    ssh_key *k = NULL;
    int rv = ssh_key_parse_public_line(s, strlen(s), &k, NULL);
    if (rv != 0)
        fail_msg("%s: %s", name, ssh_strerror(rv));
    free(s);
    return k;
}

static ssh_key *load_priv(const char *name)
{
    char *s = slurp(name);
    ssh_key *k = NULL;
    int rv = ssh_key_parse_private((const uint8_t *)s, strlen(s), NULL, &k, NULL);
    if (rv != 0)
        fail_msg("%s: %s", name, ssh_strerror(rv));
    free(s);
    return k;
}

/* The blob of a .pub line (the base64 field decoded). */
static void line_blob(const char *name, ssh_buf *out)
{
    char *s = slurp(name);
    char *b = strchr(s, ' ');
    assert_non_null(b);
    b++;
    char *e = strchr(b, ' ');
    if (e == NULL)
        e = b + strcspn(b, "\n");
    assert_int_equal(ssh_base64_decode(b, (size_t)(e - b), out), 0);
    free(s);
}

/* ---- fixtures made by ssh-keygen ------------------------------------------------------------ */

static const char *const default_exts[] = {"permit-X11-forwarding", "permit-agent-forwarding",
                                           "permit-port-forwarding", "permit-pty",
                                           "permit-user-rc"};

static void check_user_cert(const char *cert_file, const char *key_file, const char *ca_file,
                            enum ssh_key_type type, const char *type_name, const char *sig_alg)
{
    ssh_key *k = load_pub(cert_file);
    ssh_key *plain = load_pub(key_file);
    ssh_key *ca = load_pub(ca_file);
    const ssh_cert *c = ssh_key_cert(k);
    assert_non_null(c);
    assert_true(ssh_key_is_cert(k));
    assert_false(ssh_key_is_cert(plain));
    assert_int_equal(ssh_key_type(k), type);
    assert_string_equal(ssh_key_type_name(k), type_name);
    assert_int_equal(ssh_cert_type(c), SSH_CERT_TYPE_USER);
    assert_int_equal(ssh_cert_serial(c), 42);
    assert_string_equal(ssh_cert_key_id(c), "alice@example");
    assert_int_equal(ssh_cert_n_principals(c), 2);
    assert_string_equal(ssh_cert_principal(c, 0), "alice");
    assert_string_equal(ssh_cert_principal(c, 1), "bob");
    assert_null(ssh_cert_principal(c, 2));
    assert_int_equal(ssh_cert_valid_after(c), VALID_AFTER);
    assert_int_equal(ssh_cert_valid_before(c), VALID_BEFORE);
    assert_int_equal(ssh_cert_n_options(c, 1), 0);
    assert_int_equal(ssh_cert_n_options(c, 0), 5);
    for (size_t i = 0; i < 5; i++) {
        const char *name;
        size_t len = 99;
        assert_int_equal(ssh_cert_option(c, 0, i, &name, NULL, &len), 0);
        assert_string_equal(name, default_exts[i]);
        assert_int_equal(len, 0);
        assert_true(ssh_cert_has_extension(c, default_exts[i]));
    }
    assert_int_equal(ssh_cert_option(c, 0, 5, NULL, NULL, NULL), SSH_ERR_ARGUMENT);
    assert_true(ssh_key_equal_public(ssh_cert_ca(c), ca));
    assert_false(ssh_key_is_cert(ssh_cert_ca(c)));
    assert_string_equal(ssh_cert_sig_alg(c), sig_alg);

    /* The certified key: same fingerprint (as ssh-keygen -l prints a
     * certificate's), equal once the certificate is dropped, never equal
     * as a certificate. */
    char fa[SSH_KEY_FP_MAX], fb[SSH_KEY_FP_MAX];
    assert_int_equal(ssh_key_fingerprint(k, fa, sizeof(fa)), 0);
    assert_int_equal(ssh_key_fingerprint(plain, fb, sizeof(fb)), 0);
    assert_string_equal(fa, fb);
    assert_false(ssh_key_equal_public(k, plain));
    assert_false(ssh_key_equal_public(plain, k));
    ssh_key *p2 = NULL;
    assert_int_equal(ssh_key_plain(k, &p2), 0);
    assert_false(ssh_key_is_cert(p2));
    assert_true(ssh_key_equal_public(p2, plain));
    ssh_key_free(p2);

    /* Byte for byte back: the blob and the public line. */
    ssh_buf want, got;
    ssh_buf_init(&want, 0, 0);
    ssh_buf_init(&got, 0, 0);
    line_blob(cert_file, &want);
    assert_int_equal(ssh_key_to_blob(k, &got), 0);
    assert_int_equal(ssh_buf_len(&got), ssh_buf_len(&want));
    assert_memory_equal(ssh_buf_ptr(&got), ssh_buf_ptr(&want), ssh_buf_len(&want));
    char *line = NULL, *file = slurp(cert_file);
    assert_int_equal(ssh_key_to_public_line(k, NULL, &line), 0);
    const char *end = strchr(strchr(file, ' ') + 1, ' '); /* type and base64, no comment */
    assert_non_null(end);
    assert_int_equal(strlen(line), (size_t)(end - file));
    assert_memory_equal(line, file, strlen(line));
    free(line);
    free(file);

    /* A public copy keeps the certificate. */
    ssh_key *pub = NULL;
    assert_int_equal(ssh_key_public(k, &pub), 0);
    assert_true(ssh_key_is_cert(pub));
    assert_true(ssh_key_equal_public(pub, k));
    assert_int_equal(ssh_cert_serial(ssh_key_cert(pub)), 42);
    ssh_key_free(pub);

    /* Algorithm names: only certificate names fit a certificate. */
    assert_true(ssh_key_alg_ok(k, type_name));
    assert_false(ssh_key_alg_ok(k, ssh_key_type_name(plain)));
    assert_false(ssh_key_alg_ok(plain, type_name));
    assert_int_equal(ssh_key_type_from_name(type_name), type);
    assert_true(ssh_key_alg_is_cert(type_name));
    assert_string_equal(ssh_key_alg_plain(type_name), ssh_key_type_name(plain));

    assert_int_equal(
        ssh_cert_check(k, SSH_CERT_TYPE_USER, "alice", 0, NOW, NULL, SSH_DEFAULT_CA_SIG_ALGS, NULL),
        0);
    ssh_buf_free(&want);
    ssh_buf_free(&got);
    ssh_key_free(k);
    ssh_key_free(plain);
    ssh_key_free(ca);
}

static void test_user_certs(void **state)
{
    (void)state;
    check_user_cert("user_ed25519-cert.pub", "user_ed25519_key.pub", "ca_ed25519_key.pub",
                    SSH_KEY_ED25519, "ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519");
    check_user_cert("user_ecdsa256-cert.pub", "user_ecdsa256_key.pub", "ca_ecdsa_key.pub",
                    SSH_KEY_ECDSA_P256, "ecdsa-sha2-nistp256-cert-v01@openssh.com",
                    "ecdsa-sha2-nistp256");
    check_user_cert("user_ecdsa384-cert.pub", "user_ecdsa384_key.pub", "ca_ecdsa_key.pub",
                    SSH_KEY_ECDSA_P384, "ecdsa-sha2-nistp384-cert-v01@openssh.com",
                    "ecdsa-sha2-nistp256");
    check_user_cert("user_ecdsa521-cert.pub", "user_ecdsa521_key.pub", "ca_ecdsa_key.pub",
                    SSH_KEY_ECDSA_P521, "ecdsa-sha2-nistp521-cert-v01@openssh.com",
                    "ecdsa-sha2-nistp256");
    check_user_cert("user_rsa-cert.pub", "user_rsa_key.pub", "ca_ed25519_key.pub", SSH_KEY_RSA,
                    "ssh-rsa-cert-v01@openssh.com", "ssh-ed25519");
}

/* RSA CA: each signature algorithm ssh-keygen can use, and the
 * CASignatureAlgorithms policy (SHA-1 refused by default). */
static void test_ca_sig_algs(void **state)
{
    (void)state;
    static const struct {
        const char *file, *alg;
    } v[] = {{"ca_rsa512-cert.pub", "rsa-sha2-512"},
             {"ca_rsa256-cert.pub", "rsa-sha2-256"},
             {"ca_sha1-cert.pub", "ssh-rsa"}};
    ssh_key *ca = load_pub("ca_rsa_key.pub");
    for (size_t i = 0; i < 3; i++) {
        ssh_key *k = load_pub(v[i].file);
        const char *why = NULL;
        assert_string_equal(ssh_cert_sig_alg(ssh_key_cert(k)), v[i].alg);
        assert_true(ssh_key_equal_public(ssh_cert_ca(ssh_key_cert(k)), ca));
        int rv = ssh_cert_check(k, SSH_CERT_TYPE_USER, "alice", 0, NOW, NULL,
                                SSH_DEFAULT_CA_SIG_ALGS, &why);
        if (i == 2) {
            assert_int_equal(rv, SSH_ERR_CERT_SIG_ALG);
            assert_string_equal(why, "Certificate signed with disallowed algorithm");
        } else {
            assert_int_equal(rv, 0);
            assert_null(why);
        }
        /* Patterns and negation, as CASignatureAlgorithms takes them. */
        assert_int_equal(
            ssh_cert_check(k, SSH_CERT_TYPE_USER, "alice", 0, NOW, NULL, "rsa-*", NULL),
            i == 2 ? SSH_ERR_CERT_SIG_ALG : 0);
        assert_int_equal(
            ssh_cert_check(k, SSH_CERT_TYPE_USER, "alice", 0, NOW, NULL, "*,!rsa-sha2-256", NULL),
            i == 1 ? SSH_ERR_CERT_SIG_ALG : 0);
        assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_USER, "alice", 0, NOW, NULL, NULL, NULL),
                         0);
        ssh_key_free(k);
    }
    ssh_key_free(ca);
}

static void test_validity_principals(void **state)
{
    (void)state;
    ssh_key *k = load_pub("user_ed25519-cert.pub");
    const char *why = NULL;
    /* valid after <= now < valid before (PROTOCOL.certkeys). */
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_USER, "bob", 0, VALID_AFTER, NULL, NULL, &why),
                     0);
    assert_int_equal(
        ssh_cert_check(k, SSH_CERT_TYPE_USER, "bob", 0, VALID_AFTER - 1, NULL, NULL, &why),
        SSH_ERR_CERT_NOT_YET_VALID);
    assert_string_equal(why, "Certificate invalid: not yet valid");
    assert_int_equal(
        ssh_cert_check(k, SSH_CERT_TYPE_USER, "bob", 0, VALID_BEFORE - 1, NULL, NULL, &why), 0);
    assert_int_equal(
        ssh_cert_check(k, SSH_CERT_TYPE_USER, "bob", 0, VALID_BEFORE, NULL, NULL, &why),
        SSH_ERR_CERT_EXPIRED);
    assert_string_equal(why, "Certificate invalid: expired");
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_HOST, "bob", 0, NOW, NULL, NULL, &why),
                     SSH_ERR_CERT_TYPE);
    assert_string_equal(why, "Certificate invalid: not a host certificate");
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_USER, "carol", 0, NOW, NULL, NULL, &why),
                     SSH_ERR_CERT_PRINCIPAL);
    assert_string_equal(why, "Certificate invalid: name is not a listed principal");
    /* A user principal is a name, not a pattern: "ali*" is no principal
     * of a certificate for "alice", and wildcard matching applies only when
     * asked for. */
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_USER, "ali*", 0, NOW, NULL, NULL, &why),
                     SSH_ERR_CERT_PRINCIPAL);
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_USER, NULL, 0, NOW, NULL, NULL, &why), 0);
    char v[96];
    ssh_cert_validity_str(ssh_key_cert(k), v, sizeof(v));
    assert_string_equal(v, "from 2020-01-01T00:00:00 to 2040-01-01T00:00:00");
    ssh_key_free(k);

    /* Host certificate with an exact and a wildcard principal. */
    k = load_pub("host_ed25519-cert.pub");
    assert_int_equal(ssh_cert_type(ssh_key_cert(k)), SSH_CERT_TYPE_HOST);
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_USER, NULL, 0, NOW, NULL, NULL, &why),
                     SSH_ERR_CERT_TYPE);
    assert_string_equal(why, "Certificate invalid: not a user certificate");
    assert_int_equal(
        ssh_cert_check(k, SSH_CERT_TYPE_HOST, "host.example.com", 1, NOW, NULL, NULL, &why), 0);
    assert_int_equal(
        ssh_cert_check(k, SSH_CERT_TYPE_HOST, "www.example.org", 1, NOW, NULL, NULL, &why), 0);
    assert_int_equal(
        ssh_cert_check(k, SSH_CERT_TYPE_HOST, "a.b.example.org", 1, NOW, NULL, NULL, &why), 0);
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_HOST, "example.org", 1, NOW, NULL, NULL, &why),
                     SSH_ERR_CERT_PRINCIPAL);
    assert_int_equal(
        ssh_cert_check(k, SSH_CERT_TYPE_HOST, "www.example.org", 0, NOW, NULL, NULL, &why),
        SSH_ERR_CERT_PRINCIPAL);
    assert_int_equal(
        ssh_cert_check(k, SSH_CERT_TYPE_HOST, "www.example.org.evil", 1, NOW, NULL, NULL, &why),
        SSH_ERR_CERT_PRINCIPAL);
    ssh_key_free(k);

    /* No principals: refused for every name (CVE-2024-7594's lesson). */
    k = load_pub("noprinc-cert.pub");
    assert_int_equal(ssh_cert_n_principals(ssh_key_cert(k)), 0);
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_USER, "alice", 0, NOW, NULL, NULL, &why),
                     SSH_ERR_CERT_NO_PRINCIPALS);
    assert_string_equal(why, "Certificate lacks principal list");
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_USER, NULL, 0, NOW, NULL, NULL, &why),
                     SSH_ERR_CERT_NO_PRINCIPALS);
    ssh_key_free(k);

    k = load_pub("forever-cert.pub");
    assert_int_equal(ssh_cert_valid_after(ssh_key_cert(k)), 0);
    assert_int_equal(ssh_cert_valid_before(ssh_key_cert(k)), UINT64_MAX);
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_USER, "alice", 0, 0, NULL, NULL, &why), 0);
    assert_int_equal(
        ssh_cert_check(k, SSH_CERT_TYPE_USER, "alice", 0, UINT64_MAX - 1, NULL, NULL, &why), 0);
    ssh_cert_validity_str(ssh_key_cert(k), v, sizeof(v));
    assert_string_equal(v, "forever");
    ssh_key_free(k);

    ssh_key *plain = load_pub("user_ed25519_key.pub");
    assert_int_equal(ssh_cert_check(plain, SSH_CERT_TYPE_USER, NULL, 0, NOW, NULL, NULL, &why),
                     SSH_ERR_ARGUMENT);
    assert_string_equal(why, "Key is not a certificate");
    ssh_key_free(plain);
}

static void test_options(void **state)
{
    (void)state;
    const char *why = NULL;
    char *s = NULL;
    ssh_key *k = load_pub("opts-cert.pub");
    const ssh_cert *c = ssh_key_cert(k);
    assert_int_equal(ssh_cert_n_options(c, 1), 2);
    assert_int_equal(ssh_cert_option_string(c, "force-command", &s), 0);
    assert_string_equal(s, "echo forced");
    free(s);
    assert_int_equal(ssh_cert_option_string(c, "source-address", &s), 0);
    assert_string_equal(s, "127.0.0.1/32,::1");
    free(s);
    assert_int_equal(ssh_cert_option_string(c, "verify-required", &s), 0);
    assert_null(s);
    /* -O no-pty: every default extension but permit-pty, plus the custom
     * one, sorted as ssh-keygen sorts them. */
    assert_false(ssh_cert_has_extension(c, "permit-pty"));
    assert_true(ssh_cert_has_extension(c, "permit-port-forwarding"));
    const char *name;
    const uint8_t *data;
    size_t len;
    assert_int_equal(ssh_cert_option(c, 0, 0, &name, &data, &len), 0);
    assert_string_equal(name, "custom@example.com");
    assert_int_equal(len, 9);
    assert_memory_equal(data, "\0\0\0\5value", 9);
    /* Critical options: known ones pass, anything else refuses. */
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_USER, "alice", 0, NOW, NULL, NULL, &why),
                     SSH_ERR_CERT_CRITICAL);
    assert_string_equal(why, "Certificate contains unsupported critical options");
    assert_int_equal(
        ssh_cert_check(k, SSH_CERT_TYPE_USER, "alice", 0, NOW, "force-command", NULL, &why),
        SSH_ERR_CERT_CRITICAL);
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_USER, "alice", 0, NOW,
                                    "force-command,source-address", NULL, &why),
                     0);
    ssh_key_free(k);

    k = load_pub("crit-cert.pub");
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_USER, "alice", 0, NOW,
                                    "force-command,source-address", NULL, &why),
                     SSH_ERR_CERT_CRITICAL);
    ssh_key_free(k);
    k = load_pub("verify-cert.pub");
    assert_int_equal(ssh_cert_n_options(ssh_key_cert(k), 1), 1);
    assert_int_equal(ssh_cert_option(ssh_key_cert(k), 1, 0, &name, NULL, &len), 0);
    assert_string_equal(name, "verify-required");
    assert_int_equal(ssh_cert_check(k, SSH_CERT_TYPE_USER, "alice", 0, NOW,
                                    "force-command,source-address", NULL, &why),
                     SSH_ERR_CERT_CRITICAL);
    ssh_key_free(k);
    k = load_pub("clear-cert.pub");
    assert_int_equal(ssh_cert_n_options(ssh_key_cert(k), 0), 0);
    assert_int_equal(ssh_cert_n_options(ssh_key_cert(k), 1), 0);
    ssh_key_free(k);
}

/* A private key plus its certificate signs under certificate algorithm
 * names; the signature is the plain algorithm's. */
static void test_sign_with_cert(void **state)
{
    (void)state;
    static const struct {
        const char *key, *cert;
    } v[] = {{"user_ed25519_key", "user_ed25519-cert.pub"},
             {"user_ecdsa384_key", "user_ecdsa384-cert.pub"},
             {"user_rsa_key", "user_rsa-cert.pub"}};
    static const uint8_t msg[] = "certified data";
    for (size_t i = 0; i < 3; i++) {
        ssh_key *priv = load_priv(v[i].key);
        ssh_key *cert = load_pub(v[i].cert);
        ssh_key *kc = NULL;
        assert_int_equal(ssh_key_with_cert(priv, cert, &kc), 0);
        assert_true(ssh_key_has_private(kc));
        assert_true(ssh_key_equal_public(kc, cert));
        /* Certificate algorithms of this key, in preference order. */
        const char *algs = ssh_key_sig_algs(kc, 0);
        assert_true(ssh_key_alg_is_cert(ssh_key_type_name(kc)));
        char list[256];
        snprintf(list, sizeof(list), "%s", algs);
        for (char *save = NULL, *a = strtok_r(list, ",", &save); a;
             a = strtok_r(NULL, ",", &save)) {
            assert_true(ssh_key_alg_is_cert(a));
            assert_true(ssh_key_alg_ok(kc, a));
            ssh_buf sig;
            ssh_buf_init(&sig, 0, 0);
            assert_int_equal(ssh_key_sign(kc, a, 0, msg, sizeof(msg), &sig), 0);
            char sa[64];
            assert_int_equal(ssh_sig_alg(ssh_buf_ptr(&sig), ssh_buf_len(&sig), sa, sizeof(sa)), 0);
            assert_string_equal(sa, ssh_key_alg_plain(a));
            /* Verifies with the certificate (under its name) and with the
             * plain key. */
            assert_int_equal(
                ssh_key_verify(cert, a, 0, ssh_buf_ptr(&sig), ssh_buf_len(&sig), msg, sizeof(msg)),
                0);
            assert_int_equal(ssh_key_verify(priv, ssh_key_alg_plain(a), 0, ssh_buf_ptr(&sig),
                                            ssh_buf_len(&sig), msg, sizeof(msg)),
                             0);
            ssh_buf_free(&sig);
        }
        if (ssh_key_type(kc) == SSH_KEY_RSA) {
            assert_string_equal(algs, "rsa-sha2-512-cert-v01@openssh.com,"
                                      "rsa-sha2-256-cert-v01@openssh.com");
            assert_string_equal(ssh_key_sig_algs(kc, SSH_KEY_ALLOW_SHA1),
                                "rsa-sha2-512-cert-v01@openssh.com,"
                                "rsa-sha2-256-cert-v01@openssh.com,ssh-rsa-cert-v01@openssh.com");
            ssh_buf sig;
            ssh_buf_init(&sig, 0, 0);
            assert_int_equal(
                ssh_key_sign(kc, "ssh-rsa-cert-v01@openssh.com", 0, msg, sizeof(msg), &sig),
                SSH_ERR_KEY_ALG_DISABLED);
            ssh_buf_free(&sig);
        }
        /* Dropping the certificate keeps the private half. */
        ssh_key *plain = NULL;
        assert_int_equal(ssh_key_plain(kc, &plain), 0);
        assert_true(ssh_key_has_private(plain));
        assert_false(ssh_key_is_cert(plain));
        assert_true(ssh_key_equal_public(plain, priv));
        /* Refusals: a certificate of another key; no certificate; twice. */
        ssh_key *other = load_priv(i == 0 ? "user_ecdsa384_key" : "user_ed25519_key");
        ssh_key *bad = NULL;
        assert_int_equal(ssh_key_with_cert(other, cert, &bad), SSH_ERR_KEY_INVALID);
        assert_int_equal(ssh_key_with_cert(priv, priv, &bad), SSH_ERR_ARGUMENT);
        assert_int_equal(ssh_key_with_cert(kc, cert, &bad), SSH_ERR_ARGUMENT);
        assert_null(bad);
        ssh_key_free(other);
        ssh_key_free(plain);
        ssh_key_free(kc);
        ssh_key_free(cert);
        ssh_key_free(priv);
    }
    assert_string_equal(ssh_key_alg_cert("ssh-ed25519"), "ssh-ed25519-cert-v01@openssh.com");
    assert_string_equal(ssh_key_alg_cert("rsa-sha2-256"), "rsa-sha2-256-cert-v01@openssh.com");
    assert_null(ssh_key_alg_cert("ssh-ed25519-cert-v01@openssh.com"));
    assert_null(ssh_key_alg_plain("bogus"));
    assert_false(ssh_key_alg_is_cert("ssh-ed25519"));
    assert_int_equal(ssh_key_type_from_name("rsa-sha2-512-cert-v01@openssh.com"), SSH_KEY_RSA);
    assert_int_equal(ssh_key_type_from_name("ssh-dss-cert-v01@openssh.com"), SSH_KEY_UNKNOWN);
}

/* ---- malformed certificates, built here ------------------------------------------------------ */

typedef struct spec {
    const char *type_name; /* NULL: the subject's certificate type name */
    uint32_t type;
    ssh_buf principals, crit, ext, reserved;
    const ssh_buf *ca_blob; /* NULL: the CA's public blob */
    int corrupt_sig;
} spec;

static void spec_init(spec *s)
{
    memset(s, 0, sizeof(*s));
    s->type = SSH_CERT_TYPE_USER;
    ssh_buf_init(&s->principals, 0, 0);
    ssh_buf_init(&s->crit, 0, 0);
    ssh_buf_init(&s->ext, 0, 0);
    ssh_buf_init(&s->reserved, 0, 0);
    assert_int_equal(ssh_buf_put_cstring(&s->principals, "alice"), 0);
}

static void spec_free(spec *s)
{
    ssh_buf_free(&s->principals);
    ssh_buf_free(&s->crit);
    ssh_buf_free(&s->ext);
    ssh_buf_free(&s->reserved);
}

static void put_opt(ssh_buf *b, const char *name, const char *data)
{
    assert_int_equal(ssh_buf_put_cstring(b, name), 0);
    assert_int_equal(ssh_buf_put_cstring(b, data), 0);
}

/* A certificate for `subject` signed by `ca` (private) following `s`. */
static void build(const ssh_key *subject, const ssh_key *ca, const spec *s, ssh_buf *out)
{
    ssh_buf plain, cab, sig;
    ssh_buf_init(&plain, 0, 0);
    ssh_buf_init(&cab, 0, 0);
    ssh_buf_init(&sig, 0, 0);
    assert_int_equal(ssh_key_to_plain_blob(subject, &plain), 0);
    ssh_cur c;
    ssh_cur_from_buf(&c, &plain);
    assert_int_equal(ssh_cur_get_string(&c, NULL, NULL), 0); /* the type name */
    assert_int_equal(ssh_key_to_blob(ca, &cab), 0);
    const char *tn = s->type_name ? s->type_name : ssh_key_alg_cert(ssh_key_type_name(subject));
    if (tn == NULL) /* RSA: the certificate type is ssh-rsa-cert-v01 */
        tn = "ssh-rsa-cert-v01@openssh.com";
    assert_int_equal(ssh_buf_put_cstring(out, tn), 0);
    assert_int_equal(ssh_buf_put_cstring(out, "0123456789abcdef"), 0); /* nonce */
    assert_int_equal(ssh_buf_put(out, c.p, c.len), 0);
    assert_int_equal(ssh_buf_put_u64(out, 99), 0);
    assert_int_equal(ssh_buf_put_u32(out, s->type), 0);
    assert_int_equal(ssh_buf_put_cstring(out, "built"), 0);
    assert_int_equal(ssh_buf_put_stringb(out, &s->principals), 0);
    assert_int_equal(ssh_buf_put_u64(out, VALID_AFTER), 0);
    assert_int_equal(ssh_buf_put_u64(out, VALID_BEFORE), 0);
    assert_int_equal(ssh_buf_put_stringb(out, &s->crit), 0);
    assert_int_equal(ssh_buf_put_stringb(out, &s->ext), 0);
    assert_int_equal(ssh_buf_put_stringb(out, &s->reserved), 0);
    assert_int_equal(ssh_buf_put_stringb(out, s->ca_blob ? s->ca_blob : &cab), 0);
    assert_int_equal(ssh_key_sign(ca, NULL, 0, ssh_buf_ptr(out), ssh_buf_len(out), &sig), 0);
    if (s->corrupt_sig)
        ((uint8_t *)ssh_buf_ptr(&sig))[ssh_buf_len(&sig) - 1] ^= 1;
    assert_int_equal(ssh_buf_put_stringb(out, &sig), 0);
    ssh_buf_free(&plain);
    ssh_buf_free(&cab);
    ssh_buf_free(&sig);
}

static int build_parse(const ssh_key *subject, const ssh_key *ca, const spec *s, ssh_key **out)
{
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    build(subject, ca, s, &b);
    ssh_key *k = NULL;
    int rv = ssh_key_from_blob(ssh_buf_ptr(&b), ssh_buf_len(&b), &k);
    ssh_buf_free(&b);
    if (out)
        *out = k;
    else
        ssh_key_free(k);
    return rv;
}

static void test_built(void **state)
{
    (void)state;
    ssh_key *ca = load_priv("ca_ed25519_key");
    ssh_key *subject = load_pub("user_ecdsa256_key.pub");
    ssh_key *k = NULL;
    spec s;

    /* The builder's baseline parses: what follows differs in one thing. */
    spec_init(&s);
    put_opt(&s.crit, "force-command", "");
    put_opt(&s.crit, "source-address", "");
    put_opt(&s.ext, "permit-pty", "");
    put_opt(&s.ext, "permit-user-rc", "");
    assert_int_equal(ssh_buf_put_cstring(&s.reserved, "ignored, as the format says"), 0);
    assert_int_equal(build_parse(subject, ca, &s, &k), 0);
    assert_int_equal(ssh_cert_serial(ssh_key_cert(k)), 99);
    assert_int_equal(ssh_cert_n_options(ssh_key_cert(k), 1), 2);
    /* force-command's data "" is no string inside: malformed as a value. */
    char *str = NULL;
    assert_int_equal(ssh_cert_option_string(ssh_key_cert(k), "force-command", &str),
                     SSH_ERR_FORMAT);
    ssh_key_free(k);
    spec_free(&s);

    /* Options out of order, and repeated: critical options and extensions. */
    for (int crit = 0; crit < 2; crit++) {
        spec_init(&s);
        put_opt(crit ? &s.crit : &s.ext, "permit-pty", "");
        put_opt(crit ? &s.crit : &s.ext, "permit-X11-forwarding", "");
        assert_int_equal(build_parse(subject, ca, &s, NULL), SSH_ERR_FORMAT);
        spec_free(&s);
        spec_init(&s);
        put_opt(crit ? &s.crit : &s.ext, "permit-pty", "");
        put_opt(crit ? &s.crit : &s.ext, "permit-pty", "");
        assert_int_equal(build_parse(subject, ca, &s, NULL), SSH_ERR_FORMAT);
        spec_free(&s);
        /* An empty name; a name without its data. */
        spec_init(&s);
        put_opt(crit ? &s.crit : &s.ext, "", "");
        assert_int_equal(build_parse(subject, ca, &s, NULL), SSH_ERR_FORMAT);
        spec_free(&s);
        spec_init(&s);
        assert_int_equal(ssh_buf_put_cstring(crit ? &s.crit : &s.ext, "permit-pty"), 0);
        assert_int_equal(build_parse(subject, ca, &s, NULL), SSH_ERR_INCOMPLETE);
        spec_free(&s);
    }
    /* Too many options: 64 pass, 65 do not. */
    for (int n = 64; n <= 65; n++) {
        spec_init(&s);
        for (int i = 0; i < n; i++) {
            char name[16];
            snprintf(name, sizeof(name), "x%03d", i);
            put_opt(&s.ext, name, "");
        }
        assert_int_equal(build_parse(subject, ca, &s, NULL), n == 64 ? 0 : SSH_ERR_FORMAT);
        spec_free(&s);
    }
    /* Principals: 256 pass, 257 do not; a truncated list; a NUL inside. */
    for (int n = 256; n <= 257; n++) {
        spec_init(&s);
        ssh_buf_reset(&s.principals);
        for (int i = 0; i < n; i++)
            assert_int_equal(ssh_buf_put_cstring(&s.principals, "p"), 0);
        assert_int_equal(build_parse(subject, ca, &s, &k), n == 256 ? 0 : SSH_ERR_FORMAT);
        if (k)
            assert_int_equal(ssh_cert_n_principals(ssh_key_cert(k)), 256);
        ssh_key_free(k);
        k = NULL;
        spec_free(&s);
    }
    spec_init(&s);
    assert_int_equal(ssh_buf_put_u32(&s.principals, 10), 0);
    assert_int_equal(ssh_buf_put(&s.principals, "bob", 3), 0);
    assert_int_equal(build_parse(subject, ca, &s, NULL), SSH_ERR_INCOMPLETE);
    spec_free(&s);
    spec_init(&s);
    assert_int_equal(ssh_buf_put_string(&s.principals, "b\0b", 3), 0);
    assert_int_equal(build_parse(subject, ca, &s, NULL), SSH_ERR_EMBEDDED_NUL);
    spec_free(&s);

    /* Types other than user and host. */
    spec_init(&s);
    s.type = 3;
    assert_int_equal(build_parse(subject, ca, &s, NULL), SSH_ERR_CERT_TYPE);
    s.type = 0;
    assert_int_equal(build_parse(subject, ca, &s, NULL), SSH_ERR_CERT_TYPE);
    spec_free(&s);

    /* A signature that does not verify. */
    spec_init(&s);
    s.corrupt_sig = 1;
    assert_int_equal(build_parse(subject, ca, &s, NULL), SSH_ERR_CERT_SIGNATURE);
    spec_free(&s);

    /* The type name must be the subject's certificate type. */
    spec_init(&s);
    s.type_name = "ssh-ed25519-cert-v01@openssh.com";
    assert_int_not_equal(build_parse(subject, ca, &s, NULL), 0);
    spec_free(&s);

    /* No chains: a CA "key" that is itself a certificate; a CA blob with
     * trailing bytes; garbage. */
    ssh_key *certkey = load_pub("user_ed25519-cert.pub");
    ssh_buf cab;
    ssh_buf_init(&cab, 0, 0);
    assert_int_equal(ssh_key_to_blob(certkey, &cab), 0);
    spec_init(&s);
    s.ca_blob = &cab;
    assert_int_equal(build_parse(subject, ca, &s, NULL), SSH_ERR_CERT_CA);
    ssh_buf_reset(&cab);
    assert_int_equal(ssh_key_to_blob(ca, &cab), 0);
    assert_int_equal(ssh_buf_put_u8(&cab, 0), 0);
    assert_int_equal(build_parse(subject, ca, &s, NULL), SSH_ERR_CERT_CA);
    ssh_buf_reset(&cab);
    assert_int_equal(ssh_buf_put_cstring(&cab, "ssh-dss"), 0);
    assert_int_equal(build_parse(subject, ca, &s, NULL), SSH_ERR_CERT_CA);
    spec_free(&s);
    ssh_buf_free(&cab);
    ssh_key_free(certkey);

    /* A public line whose type says "plain" but whose blob is a
     * certificate, and the other way round. */
    spec_init(&s);
    ssh_buf b, line;
    ssh_buf_init(&b, 0, 0);
    ssh_buf_init(&line, 0, 0);
    build(subject, ca, &s, &b);
    assert_int_equal(ssh_buf_put(&line, "ecdsa-sha2-nistp256 ", 20), 0);
    assert_int_equal(ssh_base64_encode(ssh_buf_ptr(&b), ssh_buf_len(&b), &line), 0);
    assert_int_equal(
        ssh_key_parse_public_line((const char *)ssh_buf_ptr(&line), ssh_buf_len(&line), &k, NULL),
        SSH_ERR_KEY_INVALID);
    spec_free(&s);
    ssh_buf_free(&b);
    ssh_buf_free(&line);
    char *pl = slurp("user_ecdsa256_key.pub");
    char fake[2048];
    snprintf(fake, sizeof(fake), "ecdsa-sha2-nistp256-cert-v01@openssh.com %s",
             strchr(pl, ' ') + 1);
    assert_int_equal(ssh_key_parse_public_line(fake, strcspn(fake, "\n"), &k, NULL),
                     SSH_ERR_KEY_INVALID);
    free(pl);

    ssh_key_free(subject);
    ssh_key_free(ca);
}

/* Every truncation and a trailing byte of a real certificate fail cleanly;
 * changing any signed byte breaks the CA signature (or the format). */
static void test_truncate_tamper(void **state)
{
    (void)state;
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    line_blob("opts-cert.pub", &b);
    size_t n = ssh_buf_len(&b);
    uint8_t *t = malloc(n + 1);
    assert_non_null(t);
    memcpy(t, ssh_buf_ptr(&b), n);
    ssh_key *k = NULL;
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(ssh_key_from_blob(t, i, &k), 0);
        assert_null(k);
    }
    t[n] = 0;
    assert_int_equal(ssh_key_from_blob(t, n + 1, &k), SSH_ERR_TRAILING);
    /* The key id sits well inside the signed part: same length, one bit. */
    size_t id = 0;
    while (id + 4 <= n && memcmp(t + id, "opts", 4) != 0)
        id++;
    assert_true(id + 4 <= n);
    t[id] ^= 0x20;
    assert_int_equal(ssh_key_from_blob(t, n, &k), SSH_ERR_CERT_SIGNATURE);
    t[id] ^= 0x20;
    for (size_t i = 0; i < n; i += 7) {
        t[i] ^= 0x01;
        assert_int_not_equal(ssh_key_from_blob(t, n, &k), 0);
        ssh_key_free(k);
        k = NULL;
        t[i] ^= 0x01;
    }
    assert_int_equal(ssh_key_from_blob(t, n, &k), 0);
    ssh_key_free(k);
    free(t);
    ssh_buf_free(&b);
}

/* ---- the engine with certificates --------------------------------------------------------------
 */

static ssh_key *certified(const char *key, const char *cert)
{
    ssh_key *priv = load_priv(key), *c = load_pub(cert), *kc = NULL;
    assert_int_equal(ssh_key_with_cert(priv, c, &kc), 0);
    ssh_key_free(priv);
    ssh_key_free(c);
    return kc;
}

static void test_engine_host_cert(void **state)
{
    (void)state;
    static const struct {
        const char *key, *cert, *alg;
    } v[] = {{"host_ed25519_key", "host_ed25519-cert.pub", "ssh-ed25519-cert-v01@openssh.com"},
             {"host_rsa_key", "host_rsa-cert.pub", "rsa-sha2-512-cert-v01@openssh.com"}};
    for (size_t i = 0; i < 2; i++) {
        ssh_key *hk = certified(v[i].key, v[i].cert);
        tp_pair *p = tp_pair_new(NULL, NULL, hk, tp_key(SSH_KEY_ED25519));
        assert_int_equal(tp_connect(p), 0);
        assert_string_equal(ssh_conn_alg(p->cli.c, SSH_ALG_HOSTKEY), v[i].alg);
        const ssh_key *seen = ssh_conn_hostkey(p->cli.c);
        assert_true(ssh_key_is_cert(seen));
        assert_true(ssh_key_equal_public(seen, hk));
        assert_int_equal(ssh_cert_type(ssh_key_cert(seen)), SSH_CERT_TYPE_HOST);
        /* A re-exchange presents the same certificate. */
        assert_int_equal(ssh_conn_rekey(p->cli.c), 0);
        tp_pump(p, 100);
        assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_OPEN);
        tp_pair_free(p);

        /* RSA: rsa-sha2-256 when the client prefers it. */
        if (ssh_key_type(hk) == SSH_KEY_RSA) {
            ssh_conn_config cc;
            ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
            cc.hostkey_algs = "rsa-sha2-256-cert-v01@openssh.com";
            p = tp_pair_new(&cc, NULL, hk, tp_key(SSH_KEY_ED25519));
            assert_int_equal(tp_connect(p), 0);
            assert_string_equal(ssh_conn_alg(p->cli.c, SSH_ALG_HOSTKEY),
                                "rsa-sha2-256-cert-v01@openssh.com");
            tp_pair_free(p);
        }

        /* The server holds the plain key and its certificate: a client
         * that asks for plain keys only gets the plain key. */
        ssh_key *plain = NULL;
        assert_int_equal(ssh_key_plain(hk, &plain), 0);
        ssh_key *both[2] = {hk, plain};
        ssh_conn_config sc, cc;
        ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
        ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
        sc.host_keys = both;
        sc.n_host_keys = 2;
        cc.hostkey_algs = ssh_key_type(hk) == SSH_KEY_RSA ? "rsa-sha2-512" : "ssh-ed25519";
        p = tp_pair_new(&cc, &sc, plain, tp_key(SSH_KEY_ED25519));
        assert_int_equal(tp_connect(p), 0);
        assert_false(ssh_key_is_cert(ssh_conn_hostkey(p->cli.c)));
        tp_pair_free(p);
        /* ... and one that asks for certificates only, the certificate. */
        cc.hostkey_algs = v[i].alg;
        p = tp_pair_new(&cc, &sc, hk, tp_key(SSH_KEY_ED25519));
        assert_int_equal(tp_connect(p), 0);
        assert_true(ssh_key_is_cert(ssh_conn_hostkey(p->cli.c)));
        tp_pair_free(p);
        /* A client that knows no certificate algorithm, against a server
         * that has only its certificate: no common host key algorithm. */
        cc.hostkey_algs = "ssh-ed25519,rsa-sha2-512";
        p = tp_pair_new(&cc, NULL, hk, tp_key(SSH_KEY_ED25519));
        tp_start(p);
        tp_pump(p, 100);
        assert_int_equal(ssh_conn_error(p->cli.c), SSH_ERR_NO_HOSTKEY_ALG);
        tp_pair_free(p);
        ssh_key_free(plain);
        ssh_key_free(hk);
    }
}

static void test_engine_user_cert(void **state)
{
    (void)state;
    static const struct {
        const char *key, *cert, *alg;
    } v[] = {
        {"user_ed25519_key", "user_ed25519-cert.pub", "ssh-ed25519-cert-v01@openssh.com"},
        {"user_ecdsa521_key", "user_ecdsa521-cert.pub", "ecdsa-sha2-nistp521-cert-v01@openssh.com"},
        {"user_rsa_key", "user_rsa-cert.pub", "rsa-sha2-512-cert-v01@openssh.com"}};
    for (size_t i = 0; i < 3; i++) {
        ssh_key *uk = certified(v[i].key, v[i].cert);
        tp_pair *p = tp_pair_new(NULL, NULL, tp_key(SSH_KEY_ED25519), uk);
        assert_int_equal(tp_connect(p), 0);
        assert_string_equal(p->cli.sign_alg, v[i].alg);
        assert_string_equal(p->srv.last_key_alg, v[i].alg);
        assert_int_equal(p->srv.last_has_signature, 1);
        tp_pair_free(p);

        /* The server's list without certificate algorithms: refused. */
        ssh_conn_config sc;
        ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
        sc.pubkey_algs = "ssh-ed25519,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256";
        p = tp_pair_new(NULL, &sc, tp_key(SSH_KEY_ED25519), uk);
        tp_start(p);
        tp_pump(p, 200);
        assert_int_equal(p->cli.auth_success, 0);
        assert_true(p->cli.auth_failures > 0);
        assert_int_equal(p->srv.auth_requests, 0); /* never got as far as asking */
        tp_pair_free(p);

        /* The client's list without them: nothing to offer. */
        ssh_conn_config cc;
        ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
        cc.pubkey_algs = "ssh-ed25519,ecdsa-sha2-nistp521,rsa-sha2-512";
        p = tp_pair_new(&cc, NULL, tp_key(SSH_KEY_ED25519), uk);
        p->cli.auth_method = "manual";
        tp_start(p);
        tp_pump(p, 200);
        assert_null(ssh_auth_pubkey_alg(p->cli.c, uk));
        assert_int_equal(ssh_auth_publickey(p->cli.c, "u", uk, 1), SSH_ERR_KEY_ALG_DISABLED);
        tp_pair_free(p);
        ssh_key_free(uk);
    }

    /* RSA certificate against a server that only announces rsa-sha2-256:
     * rsa-sha2-256-cert-v01@openssh.com. */
    ssh_key *uk = certified("user_rsa_key", "user_rsa-cert.pub");
    ssh_conn_config sc;
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    sc.pubkey_algs = "rsa-sha2-256-cert-v01@openssh.com";
    tp_pair *p = tp_pair_new(NULL, &sc, tp_key(SSH_KEY_ED25519), uk);
    assert_int_equal(tp_connect(p), 0);
    assert_string_equal(ssh_conn_server_sig_algs(p->cli.c), "rsa-sha2-256");
    assert_string_equal(p->srv.last_key_alg, "rsa-sha2-256-cert-v01@openssh.com");
    tp_pair_free(p);
    ssh_key_free(uk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_certs),          cmocka_unit_test(test_ca_sig_algs),
        cmocka_unit_test(test_validity_principals), cmocka_unit_test(test_options),
        cmocka_unit_test(test_sign_with_cert),      cmocka_unit_test(test_built),
        cmocka_unit_test(test_truncate_tamper),     cmocka_unit_test(test_engine_host_cert),
        cmocka_unit_test(test_engine_user_cert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
