/*
 * fuzz_cert.c - the OpenSSH certificate parser (sshtun/cert.h) on arbitrary
 * bytes.
 *
 * Input: byte 0 picks the mode, the rest is the certificate.
 *   mode 0 (even): the rest is a whole certificate blob, parsed as it
 *                  comes (ssh_key_from_blob), and also as a public line.
 *   mode 1 (odd):  the rest is a certificate up to and including its
 *                  "reserved" field; the target appends a fixed CA key and
 *                  that CA's signature over the whole, so that mutations of
 *                  any field still reach everything after the signature
 *                  check (principals, options, accessors, the checks).
 *
 * Invariants checked on every certificate that parses:
 *  - it is a certificate, its blob comes back byte for byte, a public copy
 *    and a parse of its public line are equal to it, dropping the
 *    certificate gives a plain key with the same fingerprint that is not
 *    equal to it;
 *  - principals and options are within their limits, options strictly
 *    ordered by name, every option's data lies inside the blob;
 *  - ssh_cert_option_string answers 0, SSH_ERR_FORMAT or
 *    SSH_ERR_EMBEDDED_NUL, and a value it returns is exactly the option's
 *    data minus the length prefix;
 *  - ssh_cert_check agrees with the fields: at valid_after with no name and
 *    every critical option known it succeeds iff the interval is not empty
 *    and there are principals; every listed principal passes as a name;
 *    a time before valid_after is "not yet valid".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key_int.h"

#include "sshtun/buf.h"
#include "sshtun/cert.h"
#include "sshtun/err.h"
#include "sshtun/key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_cert: check failed at line %d: %s\n", __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static ssh_key *ca_key(void)
{
    static ssh_key *ca;
    if (ca == NULL && ssh_key_generate(SSH_KEY_ED25519, 0, &ca) != 0) {
        fprintf(stderr, "fuzz_cert: cannot generate the CA key\n");
        abort();
    }
    return ca;
}

static void exercise(const ssh_key *k, const uint8_t *blob, size_t len)
{
    const ssh_cert *c = ssh_key_cert(k);
    CHECK(c != NULL && ssh_key_is_cert(k));
    CHECK(ssh_cert_type(c) == SSH_CERT_TYPE_USER || ssh_cert_type(c) == SSH_CERT_TYPE_HOST);
    CHECK(ssh_key_alg_is_cert(ssh_key_type_name(k)));

    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    CHECK(ssh_key_to_blob(k, &b) == 0);
    CHECK(ssh_buf_len(&b) == len && memcmp(ssh_buf_ptr(&b), blob, len) == 0);
    ssh_buf_free(&b);

    ssh_key *pub = NULL, *plain = NULL, *k2 = NULL;
    CHECK(ssh_key_public(k, &pub) == 0);
    CHECK(ssh_key_equal_public(k, pub) && ssh_key_is_cert(pub));
    CHECK(ssh_cert_serial(ssh_key_cert(pub)) == ssh_cert_serial(c));
    CHECK(ssh_key_plain(k, &plain) == 0);
    CHECK(!ssh_key_is_cert(plain) && !ssh_key_equal_public(k, plain));
    char fa[SSH_KEY_FP_MAX], fb[SSH_KEY_FP_MAX];
    CHECK(ssh_key_fingerprint(k, fa, sizeof(fa)) == 0);
    CHECK(ssh_key_fingerprint(plain, fb, sizeof(fb)) == 0);
    CHECK(strcmp(fa, fb) == 0);
    char *line = NULL;
    CHECK(ssh_key_to_public_line(k, "c", &line) == 0);
    CHECK(ssh_key_parse_public_line(line, strlen(line), &k2, NULL) == 0);
    CHECK(ssh_key_equal_public(k, k2));
    free(line);
    ssh_key_free(k2);
    ssh_key_free(pub);
    ssh_key_free(plain);

    CHECK(ssh_cert_n_principals(c) <= SSH_CERT_MAX_PRINCIPALS);
    for (size_t i = 0; i < ssh_cert_n_principals(c); i++)
        sink += (unsigned)strlen(ssh_cert_principal(c, i));
    CHECK(ssh_cert_principal(c, ssh_cert_n_principals(c)) == NULL);
    for (int crit = 0; crit < 2; crit++) {
        size_t n = ssh_cert_n_options(c, crit);
        CHECK(n <= SSH_CERT_MAX_OPTIONS);
        const char *prev = NULL;
        for (size_t i = 0; i < n; i++) {
            const char *name;
            const uint8_t *d;
            size_t dl;
            CHECK(ssh_cert_option(c, crit, i, &name, &d, &dl) == 0);
            CHECK(name[0] != '\0');
            CHECK(prev == NULL || strcmp(prev, name) < 0);
            prev = name;
            if (crit) {
                char *s = NULL;
                int rv = ssh_cert_option_string(c, name, &s);
                CHECK(rv == 0 || rv == SSH_ERR_FORMAT || rv == SSH_ERR_EMBEDDED_NUL);
                if (rv == 0) {
                    CHECK(s != NULL && dl >= 4 && strlen(s) == dl - 4 &&
                          memcmp(s, d + 4, dl - 4) == 0);
                } else {
                    CHECK(s == NULL);
                }
                free(s);
            } else {
                CHECK(ssh_cert_has_extension(c, name));
            }
        }
        CHECK(ssh_cert_option(c, crit, n, NULL, NULL, NULL) == SSH_ERR_ARGUMENT);
    }

    /* Every critical option known: "name1,name2,..." (a name holding a
     * comma cannot be listed: then only "unsupported" may differ). */
    char known[SSH_CERT_MAX_OPTIONS * (SSH_CERT_TEXT_MAX + 1) + 1];
    size_t kl = 0;
    int comma = 0;
    known[0] = '\0';
    for (size_t i = 0; i < ssh_cert_n_options(c, 1); i++) {
        const char *name;
        CHECK(ssh_cert_option(c, 1, i, &name, NULL, NULL) == 0);
        comma |= strchr(name, ',') != NULL;
        kl += (size_t)snprintf(known + kl, sizeof(known) - kl, "%s%s", kl ? "," : "", name);
    }
    uint32_t t = ssh_cert_type(c);
    uint64_t va = ssh_cert_valid_after(c), vb = ssh_cert_valid_before(c);
    const char *why = NULL;
    int rv = ssh_cert_check(k, t, NULL, 0, va, known, NULL, &why);
    int want = va >= vb                        ? SSH_ERR_CERT_EXPIRED
               : ssh_cert_n_principals(c) == 0 ? SSH_ERR_CERT_NO_PRINCIPALS
                                               : 0;
    CHECK(rv == want || (comma && want == 0 && rv == SSH_ERR_CERT_CRITICAL));
    CHECK((rv == 0) == (why == NULL));
    if (va > 0)
        CHECK(ssh_cert_check(k, t, NULL, 0, va - 1, known, NULL, &why) ==
              SSH_ERR_CERT_NOT_YET_VALID);
    CHECK(ssh_cert_check(k, t == SSH_CERT_TYPE_USER ? SSH_CERT_TYPE_HOST : SSH_CERT_TYPE_USER, NULL,
                         0, va, known, NULL, &why) == SSH_ERR_CERT_TYPE);
    if (rv == 0) {
        for (size_t i = 0; i < ssh_cert_n_principals(c); i++) {
            const char *p = ssh_cert_principal(c, i);
            CHECK(ssh_cert_check(k, t, p, 0, va, known, NULL, &why) == 0);
            sink += (unsigned)ssh_cert_check(k, t, p, 1, va, known, NULL, &why);
        }
        sink += (unsigned)ssh_cert_check(k, t, "host.example.com", 1, va, known,
                                         SSH_DEFAULT_CA_SIG_ALGS, &why);
    }
    char v[128];
    ssh_cert_validity_str(c, v, sizeof(v));
    sink += (unsigned)strlen(v);
}

static void try_blob(const uint8_t *blob, size_t len)
{
    ssh_key *k = NULL;
    int rv = ssh_key_from_blob(blob, len, &k);
    if (rv == 0) {
        if (ssh_key_is_cert(k))
            exercise(k, blob, len);
    } else {
        CHECK(k == NULL);
    }
    ssh_key_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] & 1;
    data++;
    size--;
    if (mode == 0) {
        try_blob(data, size);
        ssh_key *k = NULL;
        if (ssh_key_parse_public_line((const char *)data, size, &k, NULL) == 0)
            sink += (unsigned)ssh_key_is_cert(k);
        ssh_key_free(k);
        return 0;
    }
    /* Re-signed: body || string CA key || string signature. */
    ssh_buf b, cab, sig;
    ssh_buf_init(&b, 0, 0);
    ssh_buf_init(&cab, 0, 0);
    ssh_buf_init(&sig, 0, 0);
    CHECK(ssh_buf_put(&b, data, size) == 0);
    CHECK(ssh_key_to_blob(ca_key(), &cab) == 0);
    CHECK(ssh_buf_put_stringb(&b, &cab) == 0);
    CHECK(ssh_key_sign(ca_key(), NULL, 0, ssh_buf_ptr(&b), ssh_buf_len(&b), &sig) == 0);
    CHECK(ssh_buf_put_stringb(&b, &sig) == 0);
    try_blob(ssh_buf_ptr(&b), ssh_buf_len(&b));
    ssh_buf_free(&b);
    ssh_buf_free(&cab);
    ssh_buf_free(&sig);
    return 0;
}
