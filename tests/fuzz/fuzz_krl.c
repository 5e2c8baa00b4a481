/*
 * fuzz_krl.c - the revocation list parsers (sshtun/krl.h) on arbitrary
 * bytes: OpenSSH KRLs and text lists of revoked keys.
 *
 * The whole input goes to ssh_krl_parse() and to ssh_revoked_check(), and
 * is checked against keys made in the target: a plain key, a certificate
 * of it (serial 42, key id "fuzz") and its CA.  The CA is fresh in each
 * process, so only "any CA" sections, explicit keys and fingerprints of
 * keys the input cannot know match; that is enough to run every lookup.
 *
 * Invariants:
 *  - a KRL that parses answers every check with 0 or SSH_ERR_KEY_REVOKED,
 *    and ssh_revoked_check() on the same bytes answers the same;
 *  - a revoked CA or certified key revokes the certificate;
 *  - input with the KRL magic that does not parse is never "not revoked"
 *    for ssh_revoked_check() (fail closed);
 *  - appending the certificate's CA line to a text list that parses
 *    revokes the certificate.
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
#include "sshtun/krl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_krl: check failed at line %d: %s\n", __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static ssh_key *plain, *ca, *cert;
static char *ca_line;

/* A user certificate for `plain` by `ca`: serial 42, key id "fuzz". */
static void make_keys(void)
{
    if (cert != NULL)
        return;
    ssh_buf b, pb, cab, sig;
    ssh_buf_init(&b, 0, 0);
    ssh_buf_init(&pb, 0, 0);
    ssh_buf_init(&cab, 0, 0);
    ssh_buf_init(&sig, 0, 0);
    CHECK(ssh_key_generate(SSH_KEY_ED25519, 0, &plain) == 0);
    CHECK(ssh_key_generate(SSH_KEY_ED25519, 0, &ca) == 0);
    CHECK(ssh_key_to_plain_blob(plain, &pb) == 0);
    CHECK(ssh_key_to_blob(ca, &cab) == 0);
    ssh_cur c;
    ssh_cur_from_buf(&c, &pb);
    CHECK(ssh_cur_get_string(&c, NULL, NULL) == 0);
    CHECK(ssh_buf_put_cstring(&b, "ssh-ed25519-cert-v01@openssh.com") == 0);
    CHECK(ssh_buf_put_cstring(&b, "nonce") == 0);
    CHECK(ssh_buf_put(&b, c.p, c.len) == 0);
    CHECK(ssh_buf_put_u64(&b, 42) == 0);
    CHECK(ssh_buf_put_u32(&b, SSH_CERT_TYPE_USER) == 0);
    CHECK(ssh_buf_put_cstring(&b, "fuzz") == 0);
    CHECK(ssh_buf_put_u32(&b, 9) == 0 && ssh_buf_put_cstring(&b, "alice") == 0);
    CHECK(ssh_buf_put_u64(&b, 0) == 0 && ssh_buf_put_u64(&b, UINT64_MAX) == 0);
    CHECK(ssh_buf_put_cstring(&b, "") == 0 && ssh_buf_put_cstring(&b, "") == 0);
    CHECK(ssh_buf_put_cstring(&b, "") == 0);
    CHECK(ssh_buf_put_stringb(&b, &cab) == 0);
    CHECK(ssh_key_sign(ca, NULL, 0, ssh_buf_ptr(&b), ssh_buf_len(&b), &sig) == 0);
    CHECK(ssh_buf_put_stringb(&b, &sig) == 0);
    CHECK(ssh_key_from_blob(ssh_buf_ptr(&b), ssh_buf_len(&b), &cert) == 0);
    CHECK(ssh_key_to_public_line(ca, NULL, &ca_line) == 0);
    ssh_buf_free(&b);
    ssh_buf_free(&pb);
    ssh_buf_free(&cab);
    ssh_buf_free(&sig);
}

static int ok(int rv)
{
    return rv == 0 || rv == SSH_ERR_KEY_REVOKED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    make_keys();
    const ssh_key *keys[3] = {plain, cert, ca};
    ssh_krl *k = NULL;
    int rv = ssh_krl_parse(data, size, &k);
    if (rv == 0) {
        int r[3];
        for (int i = 0; i < 3; i++) {
            r[i] = ssh_krl_check(k, keys[i]);
            CHECK(ok(r[i]));
            CHECK(ssh_revoked_check(data, size, keys[i]) == r[i]);
        }
        if (r[0] == SSH_ERR_KEY_REVOKED || r[2] == SSH_ERR_KEY_REVOKED)
            CHECK(r[1] == SSH_ERR_KEY_REVOKED);
        CHECK(ssh_krl_comment(k) != NULL);
        ssh_krl_free(k);
        return 0;
    }
    CHECK(k == NULL);
    if (ssh_krl_is_krl(data, size)) {
        for (int i = 0; i < 3; i++)
            CHECK(!ok(ssh_revoked_check(data, size, keys[i])));
        return 0;
    }
    /* A text list. */
    int r1 = ssh_revoked_check(data, size, cert);
    CHECK(r1 != SSH_ERR_ALLOC && r1 != SSH_ERR_INTERNAL);
    (void)ssh_revoked_check(data, size, plain);
    (void)ssh_revoked_check(data, size, ca);
    if (ok(r1) && memchr(data, '\0', size) == NULL) {
        ssh_buf b;
        ssh_buf_init(&b, 0, 0);
        CHECK(ssh_buf_put(&b, data, size) == 0);
        CHECK(ssh_buf_put_u8(&b, '\n') == 0);
        CHECK(ssh_buf_put(&b, ca_line, strlen(ca_line)) == 0);
        CHECK(ssh_revoked_check(ssh_buf_ptr(&b), ssh_buf_len(&b), cert) == SSH_ERR_KEY_REVOKED);
        ssh_buf_free(&b);
    }
    return 0;
}
