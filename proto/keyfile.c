/*
 * keyfile.c - private key files: OpenSSH's "openssh-key-v1" format and the
 * PEM formats (PKCS#1, SEC1, PKCS#8) that libcrypto reads.
 *
 * openssh-key-v1 (OpenSSH PROTOCOL.key), inside
 * "-----BEGIN OPENSSH PRIVATE KEY-----" armour, base64:
 *
 *     byte[15] "openssh-key-v1\0"
 *     string   ciphername          "none", "aes256-ctr", ...
 *     string   kdfname             "none" or "bcrypt"
 *     string   kdfoptions          bcrypt: string salt, uint32 rounds
 *     uint32   number of keys      (we accept exactly 1, as OpenSSH does)
 *     string   public key blob
 *     string   private section, encrypted
 *     byte[]   AEAD tag, for aes*-gcm@openssh.com only (not in the string)
 *
 * The private section, once decrypted, is
 *
 *     uint32 check1, uint32 check2, private key (key_int.h), string comment,
 *     byte 1, 2, 3, ... padding to the cipher block size (8 for "none").
 *
 * The cipher key and IV come from bcrypt_pbkdf(passphrase, salt, rounds)
 * (bcrypt_pbkdf.c): key_len + iv_len bytes, key first.  GCM uses the
 * 12-byte IV as the nonce of its single invocation with no AAD.  A wrong
 * passphrase shows up as check1 != check2 (or as a GCM tag failure), which
 * is why the two equal random words are there.
 *
 * Strictness: we reject anything ssh-keygen would not write -- more or less
 * than one key, trailing bytes, padding that is not 1, 2, 3, ... or is a
 * block or longer, a private half that does not match the public blob, and
 * anything but whitespace after the END line.
 *
 * PEM goes through libcrypto's PEM_read_bio_PrivateKey_ex on a memory BIO
 * with our own passphrase callback: with the default callback libcrypto
 * would prompt on the terminal, which an I/O-free library must never do.
 */
#include "bcrypt_pbkdf.h"
#include "key_int.h"

#include "sshtun/err.h"
#include "sshtun/key.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define MARK_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define MARK_END   "-----END OPENSSH PRIVATE KEY-----"
#define AUTH_MAGIC "openssh-key-v1" /* followed by its NUL on the wire */
#define LINE_WIDTH 70               /* base64 characters per line, as ssh-keygen */

/* bcrypt parameters: ssh-keygen writes a 16-byte salt and 16 rounds by
 * default (-a).  The bounds only stop a hostile file from making us spin
 * for hours; 65536 rounds already take minutes. */
#define KDF_SALT_MAX   1024
#define KDF_ROUNDS_MAX 65536

struct kf_cipher {
    const char *name;
    const char *evp; /* libcrypto cipher name, NULL for "none" */
    unsigned key_len, iv_len, block, tag_len;
};

/* The ciphers ssh-keygen -Z can write and libcrypto can do.  Default since
 * OpenSSH 7.6 is aes256-ctr; aes256-cbc was the default before that. */
static const struct kf_cipher kf_ciphers[] = {
    {"none", NULL, 0, 0, 8, 0},
    {"aes128-ctr", "AES-128-CTR", 16, 16, 16, 0},
    {"aes192-ctr", "AES-192-CTR", 24, 16, 16, 0},
    {"aes256-ctr", "AES-256-CTR", 32, 16, 16, 0},
    {"aes128-cbc", "AES-128-CBC", 16, 16, 16, 0},
    {"aes192-cbc", "AES-192-CBC", 24, 16, 16, 0},
    {"aes256-cbc", "AES-256-CBC", 32, 16, 16, 0},
    {"aes128-gcm@openssh.com", "AES-128-GCM", 16, 12, 16, 16},
    {"aes256-gcm@openssh.com", "AES-256-GCM", 32, 12, 16, 16},
};

static const struct kf_cipher *kf_cipher_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof(kf_ciphers) / sizeof(kf_ciphers[0]); i++)
        if (strcmp(kf_ciphers[i].name, name) == 0)
            return &kf_ciphers[i];
    return NULL;
}

static int is_space(uint8_t ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Does data (after leading whitespace) start with the openssh armour? */
static int is_openssh(const uint8_t *data, size_t len)
{
    size_t i = 0, ml = strlen(MARK_BEGIN);
    while (i < len && is_space(data[i]))
        i++;
    return len - i >= ml && memcmp(data + i, MARK_BEGIN, ml) == 0;
}

/* ---- armour ------------------------------------------------------------ */

/* Remove the BEGIN/END lines and base64-decode what lies between into
 * `out` (a secret buffer).  Lines may end in CRLF; only whitespace may
 * follow the END line. */
static int unarmor(const uint8_t *data, size_t len, ssh_buf *out)
{
    const size_t bl = strlen(MARK_BEGIN), el = strlen(MARK_END);
    size_t i = 0;
    ssh_buf text;
    int rv;

    while (i < len && is_space(data[i]))
        i++;
    if (len - i < bl || memcmp(data + i, MARK_BEGIN, bl) != 0)
        return SSH_ERR_FORMAT;
    i += bl;
    if (i < len && data[i] == '\r')
        i++;
    if (i >= len || data[i] != '\n')
        return SSH_ERR_FORMAT;
    i++;

    ssh_buf_init(&text, len, SSH_BUF_SECRET);
    for (;;) {
        if (i >= len) {
            rv = SSH_ERR_FORMAT; /* no END line */
            goto out;
        }
        const uint8_t *nl = memchr(data + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - data) : len;
        size_t le = e;
        while (le > i && is_space(data[le - 1]))
            le--;
        if (le - i == el && memcmp(data + i, MARK_END, el) == 0) {
            i = e;
            break;
        }
        /* Base64 characters are checked by the decoder; anything else in
         * the line (inner spaces, headers) makes it fail. */
        if ((rv = ssh_buf_put(&text, data + i, le - i)) != 0)
            goto out;
        i = e + 1;
    }
    for (; i < len; i++)
        if (!is_space(data[i])) {
            rv = SSH_ERR_TRAILING;
            goto out;
        }
    rv = ssh_base64_decode((const char *)ssh_buf_ptr(&text), ssh_buf_len(&text), out);
out:
    ssh_buf_free(&text);
    return rv;
}

/* ---- container --------------------------------------------------------- */

struct kf {
    const struct kf_cipher *cipher; /* NULL: not one we know */
    char kdfname[32];
    ssh_cur kdfopts;
    const uint8_t *pub, *priv, *tag;
    size_t publen, privlen;
};

/* Parse the outer structure.  With `need_cipher` an unknown cipher fails
 * (SSH_ERR_KEY_TYPE); without it (public half only) we just cannot check
 * for trailing bytes after the section, since we do not know the tag
 * length. */
static int kf_parse(const ssh_buf *blob, int need_cipher, struct kf *kf)
{
    ssh_cur c;
    const uint8_t *magic;
    char ciphername[32];
    uint32_t nkeys;
    int rv;

    memset(kf, 0, sizeof(*kf));
    ssh_cur_from_buf(&c, blob);
    if ((rv = ssh_cur_get_bytes(&c, sizeof(AUTH_MAGIC), &magic)) != 0)
        return rv;
    if (memcmp(magic, AUTH_MAGIC, sizeof(AUTH_MAGIC)) != 0) /* includes the NUL */
        return SSH_ERR_FORMAT;
    if ((rv = ssh_cur_get_cstr(&c, ciphername, sizeof(ciphername))) != 0 ||
        (rv = ssh_cur_get_cstr(&c, kf->kdfname, sizeof(kf->kdfname))) != 0) {
        return rv == SSH_ERR_TOO_LONG ? SSH_ERR_KEY_TYPE : rv;
    }
    kf->cipher = kf_cipher_by_name(ciphername);
    if (kf->cipher == NULL && need_cipher)
        return SSH_ERR_KEY_TYPE;
    if ((rv = ssh_cur_get_cur(&c, &kf->kdfopts)) != 0 || (rv = ssh_cur_get_u32(&c, &nkeys)) != 0)
        return rv;
    if (nkeys != 1)
        return SSH_ERR_FORMAT;
    if ((rv = ssh_cur_get_string(&c, &kf->pub, &kf->publen)) != 0 ||
        (rv = ssh_cur_get_string(&c, &kf->priv, &kf->privlen)) != 0)
        return rv;
    if (kf->cipher == NULL)
        return 0;
    if (kf->cipher->tag_len && (rv = ssh_cur_get_bytes(&c, kf->cipher->tag_len, &kf->tag)) != 0)
        return rv;
    return ssh_cur_end(&c);
}

/* Decrypt (or copy) the private section into `plain` (secret buffer). */
static int kf_decrypt(const struct kf *kf, const char *pass, ssh_buf *plain)
{
    const struct kf_cipher *kc = kf->cipher;
    const uint8_t *salt;
    size_t saltlen;
    uint32_t rounds;
    uint8_t keyiv[32 + 16];
    EVP_CIPHER *cipher = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *p;
    int rv, outl = 0, finl = 0;

    if (kf->privlen % kc->block != 0)
        return SSH_ERR_FORMAT;
    if (kc->evp == NULL) {
        /* PROTOCOL.key section 5: cipher "none" goes with kdf "none" and
         * empty options. */
        if (strcmp(kf->kdfname, "none") != 0 || kf->kdfopts.len != 0)
            return SSH_ERR_FORMAT;
        return ssh_buf_put(plain, kf->priv, kf->privlen);
    }
    if (strcmp(kf->kdfname, "bcrypt") != 0)
        return SSH_ERR_KEY_TYPE;
    ssh_cur o = kf->kdfopts;
    if ((rv = ssh_cur_get_string(&o, &salt, &saltlen)) != 0 ||
        (rv = ssh_cur_get_u32(&o, &rounds)) != 0 || (rv = ssh_cur_end(&o)) != 0)
        return rv;
    if (saltlen == 0 || saltlen > KDF_SALT_MAX || rounds == 0 || rounds > KDF_ROUNDS_MAX)
        return SSH_ERR_FORMAT;
    if (pass == NULL)
        return SSH_ERR_KEY_ENCRYPTED;
    /* bcrypt_pbkdf is undefined for an empty password, and ssh-keygen
     * never encrypts with one: an empty passphrase is simply wrong. */
    if (*pass == '\0')
        return SSH_ERR_KEY_PASSPHRASE;

    if ((rv = ssh_bcrypt_pbkdf((const uint8_t *)pass, strlen(pass), salt, saltlen, keyiv,
                               kc->key_len + kc->iv_len, rounds)) != 0)
        goto out;
    rv = SSH_ERR_LIBCRYPTO;
    if ((cipher = EVP_CIPHER_fetch(NULL, kc->evp, NULL)) == NULL ||
        (ctx = EVP_CIPHER_CTX_new()) == NULL)
        goto out;
    if (EVP_DecryptInit_ex2(ctx, cipher, NULL, NULL, NULL) != 1)
        goto out;
    if (kc->tag_len &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)kc->iv_len, NULL) != 1)
        goto out;
    if (EVP_DecryptInit_ex2(ctx, NULL, keyiv, keyiv + kc->key_len, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
        goto out;
    if ((rv = ssh_buf_reserve(plain, kf->privlen, &p)) != 0)
        goto out;
    rv = SSH_ERR_LIBCRYPTO;
    if (EVP_DecryptUpdate(ctx, p, &outl, kf->priv, (int)kf->privlen) != 1 ||
        (size_t)outl != kf->privlen)
        goto out;
    if (kc->tag_len &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)kc->tag_len, (void *)kf->tag) != 1)
        goto out;
    if (EVP_DecryptFinal_ex(ctx, p + outl, &finl) != 1) {
        /* Only GCM can fail here: the tag did not match, which for a file
         * written by ssh-keygen means the passphrase is wrong. */
        OPENSSL_cleanse(p, kf->privlen);
        rv = SSH_ERR_KEY_PASSPHRASE;
        goto out;
    }
    rv = ssh_buf_commit(plain, kf->privlen);
out:
    if (rv != 0)
        ERR_clear_error();
    OPENSSL_cleanse(keyiv, sizeof(keyiv));
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);
    return rv;
}

/* Parse the decrypted private section. */
static int kf_private(const struct kf *kf, const ssh_buf *plain, ssh_key **out, char **comment)
{
    ssh_cur c;
    uint32_t check1, check2;
    ssh_key *k = NULL;
    char *cmt = NULL;
    ssh_buf pub;
    int rv;

    ssh_buf_init(&pub, 0, 0);
    ssh_cur_from_buf(&c, plain);
    if ((rv = ssh_cur_get_u32(&c, &check1)) != 0 || (rv = ssh_cur_get_u32(&c, &check2)) != 0)
        goto out;
    if (check1 != check2) {
        rv = kf->cipher->evp ? SSH_ERR_KEY_PASSPHRASE : SSH_ERR_FORMAT;
        goto out;
    }
    if ((rv = ssh_key_get_private(&c, &k)) != 0 ||
        (rv = ssh_cur_get_strdup(&c, SSH_KEY_COMMENT_MAX, &cmt)) != 0)
        goto out;
    /* Padding 1, 2, 3, ... shorter than a block. */
    if (c.len >= kf->cipher->block) {
        rv = SSH_ERR_FORMAT;
        goto out;
    }
    for (size_t i = 0; i < c.len; i++)
        if (c.p[i] != (uint8_t)(i + 1)) {
            rv = SSH_ERR_FORMAT;
            goto out;
        }
    /* The private half must belong to the public blob in the header. */
    if ((rv = ssh_key_to_blob(k, &pub)) != 0)
        goto out;
    if (ssh_buf_len(&pub) != kf->publen || memcmp(ssh_buf_ptr(&pub), kf->pub, kf->publen) != 0) {
        rv = SSH_ERR_KEY_INVALID;
        goto out;
    }
    if (comment != NULL && *cmt != '\0') {
        *comment = cmt;
        cmt = NULL;
    }
    *out = k;
    k = NULL;
out:
    free(cmt);
    ssh_key_free(k);
    ssh_buf_free(&pub);
    return rv;
}

static int openssh_parse(const uint8_t *data, size_t len, const char *pass, int public_only,
                         ssh_key **out, char **comment)
{
    ssh_buf blob, plain;
    struct kf kf;
    ssh_buf_init(&blob, SSH_KEY_FILE_MAX, SSH_BUF_SECRET);
    ssh_buf_init(&plain, SSH_KEY_FILE_MAX, SSH_BUF_SECRET);
    int rv = unarmor(data, len, &blob);
    if (rv == 0)
        rv = kf_parse(&blob, !public_only, &kf);
    if (rv == 0 && public_only)
        rv = ssh_key_from_blob_plain(kf.pub, kf.publen, out);
    if (rv == 0 && !public_only) {
        if ((rv = kf_decrypt(&kf, pass, &plain)) == 0)
            rv = kf_private(&kf, &plain, out, comment);
    }
    ssh_buf_free(&blob);
    ssh_buf_free(&plain);
    return rv;
}

/* ---- PEM --------------------------------------------------------------- */

struct pw_ctx {
    const char *pass;
    int asked;
};

static int pw_cb(char *buf, int size, int rwflag, void *u)
{
    struct pw_ctx *pw = u;
    (void)rwflag;
    pw->asked = 1;
    if (pw->pass == NULL)
        return -1; /* no passphrase: make libcrypto give up, never prompt */
    size_t n = strlen(pw->pass);
    if (size < 0 || n > (size_t)size)
        return -1;
    memcpy(buf, pw->pass, n);
    return (int)n;
}

static int pem_parse(const uint8_t *data, size_t len, const char *pass, ssh_key **out)
{
    struct pw_ctx pw = {pass, 0};
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (bio == NULL)
        return SSH_ERR_ALLOC;
    EVP_PKEY *pk = PEM_read_bio_PrivateKey_ex(bio, NULL, pw_cb, &pw, NULL, NULL);
    BIO_free(bio);
    if (pk == NULL) {
        ERR_clear_error();
        if (pw.asked)
            return pass ? SSH_ERR_KEY_PASSPHRASE : SSH_ERR_KEY_ENCRYPTED;
        return SSH_ERR_FORMAT;
    }
    return ssh_key_from_evp(pk, 1, out);
}

/* ---- entry points ------------------------------------------------------ */

int ssh_key_parse_private(const uint8_t *data, size_t len, const char *passphrase, ssh_key **out,
                          char **comment)
{
    if (data == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    *out = NULL;
    if (comment)
        *comment = NULL;
    if (len > SSH_KEY_FILE_MAX)
        return SSH_ERR_TOO_LONG;
    if (is_openssh(data, len))
        return openssh_parse(data, len, passphrase, 0, out, comment);
    return pem_parse(data, len, passphrase, out);
}

int ssh_key_parse_private_public(const uint8_t *data, size_t len, ssh_key **out)
{
    if (data == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    *out = NULL;
    if (len > SSH_KEY_FILE_MAX)
        return SSH_ERR_TOO_LONG;
    if (is_openssh(data, len))
        return openssh_parse(data, len, NULL, 1, out, NULL);
    /* PEM has no clear-text public part: load it (fails with
     * SSH_ERR_KEY_ENCRYPTED if it needs a passphrase) and keep the public
     * half. */
    ssh_key *k = NULL;
    int rv = pem_parse(data, len, NULL, &k);
    if (rv == 0)
        rv = ssh_key_public(k, out);
    ssh_key_free(k);
    return rv;
}

int ssh_key_to_private_openssh(const ssh_key *k, const char *comment, char **out)
{
    if (k == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    if (!ssh_key_has_private(k))
        return SSH_ERR_ARGUMENT;
    ssh_buf pub, sect, blob, b64, text;
    uint8_t check[4];
    int rv;
    ssh_buf_init(&pub, 0, 0);
    ssh_buf_init(&sect, 0, SSH_BUF_SECRET);
    ssh_buf_init(&blob, 0, SSH_BUF_SECRET);
    ssh_buf_init(&b64, 0, SSH_BUF_SECRET);
    ssh_buf_init(&text, 0, SSH_BUF_SECRET);

    /* The check words only matter for encrypted files; random as
     * ssh-keygen makes them all the same. */
    if (RAND_bytes(check, sizeof(check)) != 1) {
        rv = SSH_ERR_LIBCRYPTO;
        ERR_clear_error();
        goto out;
    }
    if ((rv = ssh_key_to_plain_blob(k, &pub)) != 0 || (rv = ssh_buf_put(&sect, check, 4)) != 0 ||
        (rv = ssh_buf_put(&sect, check, 4)) != 0 || (rv = ssh_key_put_private(k, &sect)) != 0 ||
        (rv = ssh_buf_put_cstring(&sect, comment ? comment : "")) != 0)
        goto out;
    for (uint8_t i = 1; ssh_buf_len(&sect) % 8 != 0; i++)
        if ((rv = ssh_buf_put_u8(&sect, i)) != 0)
            goto out;

    if ((rv = ssh_buf_put(&blob, AUTH_MAGIC, sizeof(AUTH_MAGIC))) != 0 ||
        (rv = ssh_buf_put_cstring(&blob, "none")) != 0 ||
        (rv = ssh_buf_put_cstring(&blob, "none")) != 0 ||
        (rv = ssh_buf_put_string(&blob, NULL, 0)) != 0 || (rv = ssh_buf_put_u32(&blob, 1)) != 0 ||
        (rv = ssh_buf_put_stringb(&blob, &pub)) != 0 ||
        (rv = ssh_buf_put_stringb(&blob, &sect)) != 0)
        goto out;
    if ((rv = ssh_base64_encode(ssh_buf_ptr(&blob), ssh_buf_len(&blob), &b64)) != 0)
        goto out;

    if ((rv = ssh_buf_put(&text, MARK_BEGIN "\n", strlen(MARK_BEGIN) + 1)) != 0)
        goto out;
    for (size_t off = 0; off < ssh_buf_len(&b64); off += LINE_WIDTH) {
        size_t n = ssh_buf_len(&b64) - off;
        if (n > LINE_WIDTH)
            n = LINE_WIDTH;
        if ((rv = ssh_buf_put(&text, ssh_buf_ptr(&b64) + off, n)) != 0 ||
            (rv = ssh_buf_put_u8(&text, '\n')) != 0)
            goto out;
    }
    if ((rv = ssh_buf_put(&text, MARK_END "\n", strlen(MARK_END) + 1)) != 0 ||
        (rv = ssh_buf_put_u8(&text, '\0')) != 0)
        goto out;
    char *s = malloc(ssh_buf_len(&text));
    if (s == NULL) {
        rv = SSH_ERR_ALLOC;
        goto out;
    }
    memcpy(s, ssh_buf_ptr(&text), ssh_buf_len(&text));
    *out = s;
out:
    OPENSSL_cleanse(check, sizeof(check));
    ssh_buf_free(&pub);
    ssh_buf_free(&sect);
    ssh_buf_free(&blob);
    ssh_buf_free(&b64);
    ssh_buf_free(&text);
    return rv;
}
