/*
 * key_text.c - the text forms of SSH keys: base64 (through libcrypto's
 * EVP_EncodeBlock/EVP_DecodeBlock), the one-line public form of
 * authorized_keys and known_hosts ("type base64 [comment]") and the
 * SHA256 fingerprint as OpenSSH prints it.
 *
 * Split from key.c, which keeps the binary encodings and the cryptography;
 * everything here goes through the blob functions, never through a key's
 * internals.
 */
#include "key_int.h"

#include "sshtun/cert.h"
#include "sshtun/err.h"
#include "sshtun/key.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

/* A libcrypto failure: its error queue is not ours to keep. */
static int crypto_fail(int rv)
{
    ERR_clear_error();
    return rv;
}

/* ---- base64 ------------------------------------------------------------ */

static int b64_value(unsigned char ch)
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

int ssh_base64_decode(const char *in, size_t n, ssh_buf *out)
{
    if (in == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    if (n == 0)
        return 0;
    /* EVP_DecodeBlock silently trims whitespace, decodes '=' as zero bits
     * and counts padding in its result, so validate first: 4-aligned, only
     * alphabet characters, at most two '=' and only at the very end, and
     * zero excess bits (as OpenSSH's b64_pton demands). */
    if (n % 4 != 0 || n > INT_MAX)
        return SSH_ERR_FORMAT;
    size_t pad = 0;
    if (in[n - 1] == '=')
        pad = in[n - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < n - pad; i++)
        if (b64_value((unsigned char)in[i]) < 0)
            return SSH_ERR_FORMAT;
    int last = b64_value((unsigned char)in[n - pad - 1]);
    if ((pad == 2 && (last & 0x0f) != 0) || (pad == 1 && (last & 0x03) != 0))
        return SSH_ERR_FORMAT;

    size_t olen = n / 4 * 3;
    uint8_t *p;
    int rv = ssh_buf_reserve(out, olen, &p);
    if (rv != 0)
        return rv;
    int got = EVP_DecodeBlock(p, (const unsigned char *)in, (int)n);
    if (got < 0 || (size_t)got != olen) {
        OPENSSL_cleanse(p, olen);
        return crypto_fail(SSH_ERR_FORMAT);
    }
    /* The bytes that stand for the padding are zeros; leave them out. */
    return ssh_buf_commit(out, olen - pad);
}

int ssh_base64_encode(const uint8_t *in, size_t n, ssh_buf *out)
{
    if ((in == NULL && n != 0) || out == NULL)
        return SSH_ERR_ARGUMENT;
    if (n > (size_t)INT_MAX / 4 * 3 - 3)
        return SSH_ERR_TOO_LONG;
    size_t olen = (n + 2) / 3 * 4;
    uint8_t *p;
    int rv = ssh_buf_reserve(out, olen + 1, &p); /* EVP_EncodeBlock adds a NUL */
    if (rv != 0)
        return rv;
    int got = EVP_EncodeBlock(p, in ? in : (const uint8_t *)"", (int)n);
    if (got < 0 || (size_t)got != olen)
        return crypto_fail(SSH_ERR_LIBCRYPTO);
    return ssh_buf_commit(out, olen);
}

/* ---- one-line public form ---------------------------------------------- */

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

int ssh_key_parse_public_line(const char *line, size_t len, ssh_key **out, char **comment)
{
    if (line == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    *out = NULL;
    if (comment)
        *comment = NULL;
    if (len > SSH_KEY_LINE_MAX)
        return SSH_ERR_TOO_LONG;
    if (memchr(line, '\0', len) != NULL)
        return SSH_ERR_EMBEDDED_NUL;
    /* One line: the newline, if any, must be the last byte. */
    const char *nl = memchr(line, '\n', len);
    if (nl != NULL) {
        if ((size_t)(nl - line) != len - 1)
            return SSH_ERR_TRAILING;
        len--;
    }
    if (len > 0 && line[len - 1] == '\r')
        len--;

    size_t i = 0;
    while (i < len && is_blank(line[i]))
        i++;
    size_t ts = i;
    while (i < len && !is_blank(line[i]))
        i++;
    size_t te = i;
    while (i < len && is_blank(line[i]))
        i++;
    size_t bs = i;
    while (i < len && !is_blank(line[i]))
        i++;
    size_t be = i;
    while (i < len && is_blank(line[i]))
        i++;
    size_t cs = i, ce = len;
    while (ce > cs && is_blank(line[ce - 1]))
        ce--;
    if (te == ts || be == bs)
        return SSH_ERR_FORMAT;

    char type[SSH_KEY_NAME_MAX];
    if (te - ts >= sizeof(type))
        return SSH_ERR_KEY_TYPE;
    memcpy(type, line + ts, te - ts);
    type[te - ts] = '\0';
    int cert;
    enum ssh_key_type kt;
    if (ssh_key_type_by_name(type, &kt, &cert) != 0)
        return SSH_ERR_KEY_TYPE;

    ssh_buf blob;
    ssh_buf_init(&blob, SSH_KEY_LINE_MAX, 0);
    ssh_key *k = NULL;
    int rv = ssh_base64_decode(line + bs, be - bs, &blob);
    if (rv == 0)
        rv = ssh_key_from_blob(ssh_buf_ptr(&blob), ssh_buf_len(&blob), &k);
    ssh_buf_free(&blob);
    if (rv != 0)
        return rv;
    /* The type in front must say what the blob says. */
    if (ssh_key_type(k) != kt || ssh_key_is_cert(k) != cert) {
        ssh_key_free(k);
        return SSH_ERR_KEY_INVALID;
    }
    if (comment && ce > cs) {
        char *s = malloc(ce - cs + 1);
        if (s == NULL) {
            ssh_key_free(k);
            return SSH_ERR_ALLOC;
        }
        memcpy(s, line + cs, ce - cs);
        s[ce - cs] = '\0';
        *comment = s;
    }
    *out = k;
    return 0;
}

int ssh_key_to_public_line(const ssh_key *k, const char *comment, char **out)
{
    if (k == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    /* A line break would end the line early and forge a second one. */
    if (comment && strpbrk(comment, "\r\n") != NULL)
        return SSH_ERR_ARGUMENT;
    ssh_buf blob, line;
    ssh_buf_init(&blob, 0, 0);
    ssh_buf_init(&line, 0, 0);
    const char *name = ssh_key_type_name(k);
    int rv = ssh_key_to_blob(k, &blob);
    if (rv == 0)
        rv = ssh_buf_put(&line, name, strlen(name));
    if (rv == 0)
        rv = ssh_buf_put_u8(&line, ' ');
    if (rv == 0)
        rv = ssh_base64_encode(ssh_buf_ptr(&blob), ssh_buf_len(&blob), &line);
    if (rv == 0 && comment && *comment) {
        if ((rv = ssh_buf_put_u8(&line, ' ')) == 0)
            rv = ssh_buf_put(&line, comment, strlen(comment));
    }
    if (rv == 0) {
        char *s = malloc(ssh_buf_len(&line) + 1);
        if (s == NULL) {
            rv = SSH_ERR_ALLOC;
        } else {
            memcpy(s, ssh_buf_ptr(&line), ssh_buf_len(&line));
            s[ssh_buf_len(&line)] = '\0';
            *out = s;
        }
    }
    ssh_buf_free(&blob);
    ssh_buf_free(&line);
    return rv;
}

/* ---- fingerprint ------------------------------------------------------- */

int ssh_key_fingerprint(const ssh_key *k, char *out, size_t outsz)
{
    static const char prefix[] = "SHA256:";
    uint8_t md[32];
    unsigned int mdlen = 0;
    char b64[4 * 11 + 1];
    if (k == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    ssh_buf blob;
    ssh_buf_init(&blob, 0, 0);
    /* Of the certified key, as OpenSSH prints a certificate's. */
    int rv = ssh_key_to_plain_blob(k, &blob);
    if (rv == 0 &&
        (!EVP_Digest(ssh_buf_ptr(&blob), ssh_buf_len(&blob), md, &mdlen, EVP_sha256(), NULL) ||
         mdlen != sizeof(md)))
        rv = crypto_fail(SSH_ERR_LIBCRYPTO);
    ssh_buf_free(&blob);
    if (rv != 0)
        return rv;
    int n = EVP_EncodeBlock((unsigned char *)b64, md, (int)sizeof(md));
    if (n != 44)
        return crypto_fail(SSH_ERR_LIBCRYPTO);
    /* OpenSSH prints it without the '=' padding. */
    while (n > 0 && b64[n - 1] == '=')
        n--;
    if (outsz < sizeof(prefix) + (size_t)n)
        return SSH_ERR_NO_SPACE;
    memcpy(out, prefix, sizeof(prefix) - 1);
    memcpy(out + sizeof(prefix) - 1, b64, (size_t)n);
    out[sizeof(prefix) - 1 + (size_t)n] = '\0';
    return 0;
}
