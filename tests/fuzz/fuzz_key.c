/*
 * fuzz_key.c - the key parsers of sshtun/key.h on arbitrary bytes.
 *
 * Every input goes through all of them (each rejects foreign formats in a
 * few bytes):
 *   - ssh_key_from_blob (public key blob);
 *   - ssh_key_parse_public_line ("type base64 comment");
 *   - ssh_key_parse_private without and with passphrase "x", and
 *     ssh_key_parse_private_public (openssh-key-v1 and PEM);
 *   - ssh_key_verify of the input as a signature blob against fixed keys of
 *     every type, and ssh_sig_alg;
 *   - structured: string key-blob, string signature-blob, rest = signed data:
 *     ssh_key_verify against the key the input carries, so valid signatures
 *     (and RSA/ECDSA edge cases) are reachable.
 * A key that parses is put through its encoders and parsed back; a private
 * key signs and must verify.  A broken round trip aborts (a bug either way).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sshtun/buf.h"
#include "sshtun/cert.h"
#include "sshtun/err.h"
#include "sshtun/key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_key: check failed at line %d: %s\n", __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char *const sig_names[] = {
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-256",
    "rsa-sha2-512",
    "ssh-rsa",
    "ssh-dss",
};

static const uint8_t msg[] = "sshtun fuzz message";

/* Fixed keys to verify input signatures against (generated once). */
static ssh_key *fixed_key(int i)
{
    static ssh_key *keys[5];
    static const enum ssh_key_type types[5] = {SSH_KEY_ED25519, SSH_KEY_ECDSA_P256,
                                               SSH_KEY_ECDSA_P384, SSH_KEY_ECDSA_P521, SSH_KEY_RSA};
    if (keys[i] == NULL && ssh_key_generate(types[i], 2048, &keys[i]) != 0) {
        fprintf(stderr, "fuzz_key: cannot generate key type %d\n", (int)types[i]);
        abort();
    }
    return keys[i];
}

/* Encoders and parsers must agree on every key that parses. */
static void exercise(const ssh_key *k)
{
    char fp[SSH_KEY_FP_MAX];
    ssh_buf blob;
    ssh_key *k2 = NULL;
    char *line = NULL, *cmt = NULL;

    enum ssh_key_type t = ssh_key_type(k);
    CHECK(t != SSH_KEY_UNKNOWN);
    CHECK(ssh_key_type_name(k) != NULL);
    CHECK(ssh_key_type_from_name(ssh_key_type_name(k)) == t);
    unsigned bits = ssh_key_bits(k);
    sink += bits;
    CHECK(ssh_key_fingerprint(k, fp, sizeof(fp)) == 0);
    CHECK(strncmp(fp, "SHA256:", 7) == 0);
    const char *algs = ssh_key_sig_algs(k, SSH_KEY_ALLOW_SHA1);
    CHECK(algs != NULL);
    for (size_t i = 0; i < sizeof(sig_names) / sizeof(sig_names[0]); i++)
        sink += (unsigned)ssh_key_alg_ok(k, sig_names[i]);

    ssh_buf_init(&blob, 0, 0);
    CHECK(ssh_key_to_blob(k, &blob) == 0);
    CHECK(ssh_key_from_blob(ssh_buf_ptr(&blob), ssh_buf_len(&blob), &k2) == 0);
    CHECK(ssh_key_equal_public(k, k2));
    CHECK(ssh_key_type(k2) == t && ssh_key_bits(k2) == bits);
    ssh_key_free(k2);
    k2 = NULL;
    ssh_buf_free(&blob);

    CHECK(ssh_key_to_public_line(k, "fuzz comment", &line) == 0);
    CHECK(ssh_key_parse_public_line(line, strlen(line), &k2, &cmt) == 0);
    CHECK(ssh_key_equal_public(k, k2));
    CHECK(cmt != NULL && strcmp(cmt, "fuzz comment") == 0);
    free(line);
    free(cmt);
    ssh_key_free(k2);
    k2 = NULL;

    ssh_key *pub = NULL;
    CHECK(ssh_key_public(k, &pub) == 0);
    CHECK(!ssh_key_has_private(pub) && ssh_key_equal_public(k, pub));

    if (ssh_key_has_private(k)) {
        /* Signing with a huge RSA key costs seconds: only up to 4096 bits. */
        if (t != SSH_KEY_RSA || bits <= 4096) {
            ssh_buf sig;
            ssh_buf_init(&sig, 0, 0);
            int rv = ssh_key_sign(k, NULL, 0, msg, sizeof(msg), &sig);
            CHECK(rv == 0);
            CHECK(ssh_key_verify(pub, NULL, 0, ssh_buf_ptr(&sig), ssh_buf_len(&sig), msg,
                                 sizeof(msg)) == 0);
            ssh_buf_free(&sig);
        }
        char *text = NULL;
        CHECK(ssh_key_to_private_openssh(k, "c", &text) == 0);
        char *c2 = NULL;
        CHECK(ssh_key_parse_private((const uint8_t *)text, strlen(text), NULL, &k2, &c2) == 0);
        CHECK(ssh_key_has_private(k2) && ssh_key_equal_public(k, k2));
        CHECK(c2 != NULL && strcmp(c2, "c") == 0);
        free(c2);
        ssh_key_free(k2);
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    ssh_key_free(pub);
}

/* ---- bcrypt guard ------------------------------------------------------------- */

static int b64v(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

/* The bcrypt rounds an openssh-key-v1 input asks for (0 if none can be
 * found).  Decoding is more tolerant than the parser's, so whatever the
 * parser would accept is seen here too.  Up to 65536 rounds are legal and
 * take minutes: the passphrase run is skipped above a handful, or the
 * fuzzer would spend its time in bcrypt. */
static uint32_t bcrypt_rounds(const uint8_t *data, size_t size)
{
    static const char mark[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
    const uint8_t *p = NULL;
    for (size_t i = 0; i + sizeof(mark) - 1 <= size; i++) {
        if (memcmp(data + i, mark, sizeof(mark) - 1) == 0) {
            p = data + i + sizeof(mark) - 1;
            break;
        }
    }
    if (p == NULL)
        return 0;
    const uint8_t *end = data + size;
    uint8_t out[512];
    size_t o = 0;
    uint32_t acc = 0;
    int nb = 0;
    for (; p < end && o < sizeof(out); p++) {
        if (*p == '-')
            break;
        int v = b64v(*p);
        if (v < 0)
            continue;
        acc = (acc << 6) | (uint32_t)v;
        nb += 6;
        if (nb >= 8) {
            nb -= 8;
            out[o++] = (uint8_t)(acc >> nb);
        }
    }
    ssh_cur c, opts;
    const uint8_t *s;
    size_t sl;
    uint32_t rounds = 0;
    ssh_cur_init(&c, out, o);
    if (ssh_cur_skip(&c, 15) != 0 || ssh_cur_get_string(&c, NULL, NULL) != 0 ||
        ssh_cur_get_string(&c, NULL, NULL) != 0 || ssh_cur_get_cur(&c, &opts) != 0)
        return UINT32_MAX; /* cannot tell: be careful */
    if (ssh_cur_get_string(&opts, &s, &sl) != 0 || ssh_cur_get_u32(&opts, &rounds) != 0)
        return 0;
    return rounds;
}

/* ---- the target --------------------------------------------------------------- */

static void try_private(const uint8_t *data, size_t size, const char *pass)
{
    ssh_key *k = NULL, *kp = NULL;
    char *cmt = NULL;
    int rv = ssh_key_parse_private(data, size, pass, &k, &cmt);
    if (rv == 0) {
        CHECK(k != NULL && ssh_key_has_private(k));
        exercise(k);
        /* The public part read without decrypting must be the same key. */
        if (ssh_key_parse_private_public(data, size, &kp) == 0) {
            CHECK(ssh_key_equal_public(k, kp));
            ssh_key_free(kp);
        }
    } else {
        CHECK(k == NULL);
    }
    if (cmt) {
        sink += (unsigned)strlen(cmt);
        free(cmt);
    }
    ssh_key_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ssh_key *k = NULL;
    char *cmt = NULL;
    char name[80];

    /* Public key blob. */
    if (ssh_key_from_blob(data, size, &k) == 0) {
        CHECK(!ssh_key_has_private(k));
        exercise(k);
    }
    ssh_key_free(k);
    k = NULL;

    /* One-line public form. */
    if (ssh_key_parse_public_line((const char *)data, size, &k, &cmt) == 0)
        exercise(k);
    if (cmt)
        sink += (unsigned)strlen(cmt);
    free(cmt);
    cmt = NULL;
    ssh_key_free(k);
    k = NULL;

    /* Private key files. */
    try_private(data, size, NULL);
    if (bcrypt_rounds(data, size) <= 4)
        try_private(data, size, "x");
    if (ssh_key_parse_private_public(data, size, &k) == 0) {
        CHECK(!ssh_key_has_private(k));
        exercise(k);
    }
    ssh_key_free(k);
    k = NULL;

    /* The input as a signature blob against fixed keys. */
    if (ssh_sig_alg(data, size, name, sizeof(name)) == 0)
        sink += (unsigned)strlen(name);
    sink += (unsigned)ssh_sig_alg(data, size, name, 8);
    for (int i = 0; i < 5; i++) {
        int rv = ssh_key_verify(fixed_key(i), NULL, 0, data, size, msg, sizeof(msg));
        CHECK(rv != 0); /* nobody can forge these */
        rv = ssh_key_verify(fixed_key(i), "rsa-sha2-256", SSH_KEY_ALLOW_SHA1, data, size, msg,
                            sizeof(msg));
        CHECK(rv != 0);
    }

    /* string blob, string sig, data. */
    ssh_cur c;
    const uint8_t *blob, *sig;
    size_t bl, sl;
    ssh_cur_init(&c, data, size);
    if (ssh_cur_get_string(&c, &blob, &bl) == 0 && ssh_cur_get_string(&c, &sig, &sl) == 0 &&
        ssh_key_from_blob(blob, bl, &k) == 0) {
        int rv = ssh_key_verify(k, NULL, SSH_KEY_ALLOW_SHA1, sig, sl, c.p, c.len);
        if (rv == 0) {
            /* A valid signature names an algorithm that fits the key, and
             * refusing SHA-1 only matters for ssh-rsa. */
            CHECK(ssh_sig_alg(sig, sl, name, sizeof(name)) == 0);
            CHECK(ssh_key_alg_ok(k, ssh_key_is_cert(k) ? ssh_key_alg_cert(name) : name));
            int strict = ssh_key_verify(k, name, 0, sig, sl, c.p, c.len);
            CHECK((strict == 0) == (strcmp(name, "ssh-rsa") != 0));
        }
        sink += (unsigned)rv;
        ssh_key_free(k);
    }
    return 0;
}
