/*
 * krl.c - OpenSSH key revocation lists (PROTOCOL.krl) and revoked-key
 * lists (see sshtun/krl.h).
 *
 * Layout (PROTOCOL.krl section 1):
 *
 *     uint64  KRL_MAGIC "SSHKRL\n\0"     uint32  format version (1)
 *     uint64  krl_version                uint64  generated_date
 *     uint64  flags                      string  reserved
 *     string  comment
 *     (byte section_type, string section_data)*
 *
 * Sections: 1 certificates (string ca_key, string reserved, then
 * (byte subsection_type, string data)*: 0x20 serial list, 0x21 serial
 * range, 0x22 serial bitmap, 0x23 key ids, 0x39 extension), 2 explicit
 * keys, 3 SHA-1 fingerprints, 5 SHA-256 fingerprints, 4 signature (its
 * data is the signing key, a second string - the signature - follows), 255
 * extension.  Where OpenSSH's reader refuses something (a serial 0, a
 * backwards range, a bitmap that wraps, an unknown section, a critical
 * extension, unparsed bytes in a section) we refuse it too: a revocation
 * list we do not fully understand must not be half applied.
 *
 * Everything is kept as parsed: blobs and fingerprints as byte strings,
 * serial lists and ranges as ranges, bitmaps as the bytes of their mpint
 * (bit N of the number is serial offset + N), so a small file can never
 * expand into a large structure.  Lookups are linear; KRLs hold a few
 * thousand entries at most and are checked once per connection.
 */
#include "key_int.h"

#include "sshtun/buf.h"
#include "sshtun/cert.h"
#include "sshtun/err.h"
#include "sshtun/krl.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define KRL_MAGIC     "SSHKRL\n\0"
#define KRL_MAGIC_LEN 8
#define KRL_FORMAT    1
#define SEC_CERTS     1
#define SEC_KEYS      2
#define SEC_SHA1      3
#define SEC_SIGNATURE 4
#define SEC_SHA256    5
#define SEC_EXTENSION 255
#define SUB_SERIALS   0x20
#define SUB_RANGE     0x21
#define SUB_BITMAP    0x22
#define SUB_KEY_ID    0x23
#define SUB_EXTENSION 0x39
#define KRL_TEXT_MAX  4096

typedef struct blob {
    const uint8_t *p; /* into the KRL's copy of the input */
    size_t n;
} blob;

typedef struct range {
    uint64_t lo, hi;
} range;

typedef struct bitmap {
    uint64_t offset;
    blob bits; /* big-endian magnitude: bit N is serial offset + N */
} bitmap;

typedef struct certs {
    ssh_key *ca; /* NULL: any CA */
    range *ranges;
    size_t n_ranges;
    bitmap *bitmaps;
    size_t n_bitmaps;
    blob *ids;
    size_t n_ids;
} certs;

struct ssh_krl {
    uint8_t *data; /* the input, copied: every blob points into it */
    uint64_t version, date;
    char *comment;
    blob *keys, *sha1, *sha256;
    size_t n_keys, n_sha1, n_sha256;
    certs *certs;
    size_t n_certs;
};

int ssh_krl_is_krl(const uint8_t *data, size_t len)
{
    return data != NULL && len >= KRL_MAGIC_LEN && memcmp(data, KRL_MAGIC, KRL_MAGIC_LEN) == 0;
}

void ssh_krl_free(ssh_krl *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->n_certs; i++) {
        ssh_key_free(k->certs[i].ca);
        free(k->certs[i].ranges);
        free(k->certs[i].bitmaps);
        free(k->certs[i].ids);
    }
    free(k->certs);
    free(k->keys);
    free(k->sha1);
    free(k->sha256);
    free(k->comment);
    free(k->data);
    free(k);
}

uint64_t ssh_krl_version(const ssh_krl *k)
{
    return k ? k->version : 0;
}

uint64_t ssh_krl_date(const ssh_krl *k)
{
    return k ? k->date : 0;
}

const char *ssh_krl_comment(const ssh_krl *k)
{
    return k ? k->comment : NULL;
}

/* ---- parsing -------------------------------------------------------------------------------- */

/* Make room in *arr (elements of `size`) for one more beyond n.  The
 * capacity is 4, then doubles whenever n reaches a power of two. */
static int grow(void **arr, size_t n, size_t size)
{
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
        return 0;
    size_t cap = n ? n * 2 : 4;
    if (cap > SIZE_MAX / size)
        return SSH_ERR_ALLOC;
    void *na = realloc(*arr, cap * size);
    if (na == NULL)
        return SSH_ERR_ALLOC;
    *arr = na;
    return 0;
}

static int add_blob(blob **arr, size_t *n, const uint8_t *p, size_t len)
{
    int rv = grow((void **)arr, *n, sizeof(blob));
    if (rv != 0)
        return rv;
    (*arr)[*n].p = p;
    (*arr)[*n].n = len;
    (*n)++;
    return 0;
}

static int add_range(certs *c, uint64_t lo, uint64_t hi)
{
    /* As OpenSSH: serial 0 means "none" and cannot be revoked; a range
     * runs forwards. */
    if (lo == 0 || lo > hi)
        return SSH_ERR_FORMAT;
    int rv = grow((void **)&c->ranges, c->n_ranges, sizeof(range));
    if (rv != 0)
        return rv;
    c->ranges[c->n_ranges].lo = lo;
    c->ranges[c->n_ranges].hi = hi;
    c->n_ranges++;
    return 0;
}

/* string name, byte critical, string value: only non-critical extensions
 * can be ignored (none is defined). */
static int extension(ssh_cur *s)
{
    uint8_t critical;
    int rv;
    if ((rv = ssh_cur_get_string(s, NULL, NULL)) != 0 || (rv = ssh_cur_get_u8(s, &critical)) != 0 ||
        (rv = ssh_cur_get_string(s, NULL, NULL)) != 0)
        return rv;
    return critical ? SSH_ERR_FORMAT : 0;
}

/* A list of strings, each exactly `want` bytes (0: any length). */
static int blob_list(ssh_cur *s, blob **arr, size_t *n, size_t want)
{
    while (s->len > 0) {
        const uint8_t *p;
        size_t l;
        int rv = ssh_cur_get_string(s, &p, &l);
        if (rv != 0)
            return rv;
        if ((want != 0 && l != want) || l == 0)
            return SSH_ERR_FORMAT;
        if ((rv = add_blob(arr, n, p, l)) != 0)
            return rv;
    }
    return 0;
}

static int cert_subsection(certs *c, uint8_t type, ssh_cur *s)
{
    int rv = 0;
    switch (type) {
    case SUB_SERIALS:
        while (rv == 0 && s->len > 0) {
            uint64_t serial;
            if ((rv = ssh_cur_get_u64(s, &serial)) == 0)
                rv = add_range(c, serial, serial);
        }
        return rv;
    case SUB_RANGE: {
        uint64_t lo, hi;
        if ((rv = ssh_cur_get_u64(s, &lo)) != 0 || (rv = ssh_cur_get_u64(s, &hi)) != 0)
            return rv;
        return add_range(c, lo, hi);
    }
    case SUB_BITMAP: {
        uint64_t off;
        const uint8_t *mag;
        size_t n;
        if ((rv = ssh_cur_get_u64(s, &off)) != 0 || (rv = ssh_cur_get_mpint(s, &mag, &n)) != 0)
            return rv;
        if (n == 0)
            return 0; /* no bit set */
        /* Highest bit: serial off + nbits - 1 must not wrap; bit 0 with
         * offset 0 would be serial 0. */
        unsigned top = 8;
        while (top > 0 && !(mag[0] & (1u << (top - 1))))
            top--;
        uint64_t nbits = (uint64_t)(n - 1) * 8 + top;
        if (off > UINT64_MAX - (nbits - 1) || (off == 0 && (mag[n - 1] & 1)))
            return SSH_ERR_FORMAT;
        if ((rv = grow((void **)&c->bitmaps, c->n_bitmaps, sizeof(bitmap))) != 0)
            return rv;
        c->bitmaps[c->n_bitmaps].offset = off;
        c->bitmaps[c->n_bitmaps].bits.p = mag;
        c->bitmaps[c->n_bitmaps].bits.n = n;
        c->n_bitmaps++;
        return 0;
    }
    case SUB_KEY_ID:
        while (rv == 0 && s->len > 0) {
            const uint8_t *p;
            size_t l;
            if ((rv = ssh_cur_get_string(s, &p, &l)) != 0)
                return rv;
            if (l > KRL_TEXT_MAX || memchr(p, 0, l) != NULL)
                return SSH_ERR_FORMAT;
            rv = add_blob(&c->ids, &c->n_ids, p, l);
        }
        return rv;
    case SUB_EXTENSION:
        return extension(s);
    default:
        return SSH_ERR_FORMAT;
    }
}

static int cert_section(ssh_krl *k, ssh_cur *s)
{
    const uint8_t *cab;
    size_t cal;
    int rv;
    if ((rv = ssh_cur_get_string(s, &cab, &cal)) != 0 ||
        (rv = ssh_cur_get_string(s, NULL, NULL)) != 0) /* reserved */
        return rv;
    if ((rv = grow((void **)&k->certs, k->n_certs, sizeof(certs))) != 0)
        return rv;
    certs *c = &k->certs[k->n_certs];
    memset(c, 0, sizeof(*c));
    k->n_certs++;
    /* An empty CA key: these revocations apply whatever the CA. */
    if (cal > 0 && (rv = ssh_key_from_blob_plain(cab, cal, &c->ca)) != 0)
        return rv == SSH_ERR_ALLOC ? rv : SSH_ERR_FORMAT;
    while (s->len > 0) {
        uint8_t type;
        ssh_cur sub;
        if ((rv = ssh_cur_get_u8(s, &type)) != 0 || (rv = ssh_cur_get_cur(s, &sub)) != 0 ||
            (rv = cert_subsection(c, type, &sub)) != 0)
            return rv;
        if (sub.len != 0)
            return SSH_ERR_TRAILING;
    }
    return 0;
}

int ssh_krl_parse(const uint8_t *data, size_t len, ssh_krl **out)
{
    if (data == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    *out = NULL;
    if (!ssh_krl_is_krl(data, len))
        return SSH_ERR_FORMAT;
    ssh_krl *k = calloc(1, sizeof(*k));
    if (k == NULL || (k->data = malloc(len)) == NULL) {
        free(k);
        return SSH_ERR_ALLOC;
    }
    memcpy(k->data, data, len);
    ssh_cur c;
    uint32_t format;
    uint64_t flags;
    int rv, signed_part_over = 0;
    ssh_cur_init(&c, k->data + KRL_MAGIC_LEN, len - KRL_MAGIC_LEN);
    if ((rv = ssh_cur_get_u32(&c, &format)) != 0)
        goto out;
    if (format != KRL_FORMAT) {
        rv = SSH_ERR_FORMAT;
        goto out;
    }
    if ((rv = ssh_cur_get_u64(&c, &k->version)) != 0 || (rv = ssh_cur_get_u64(&c, &k->date)) != 0 ||
        (rv = ssh_cur_get_u64(&c, &flags)) != 0 ||
        (rv = ssh_cur_get_string(&c, NULL, NULL)) != 0 || /* reserved */
        (rv = ssh_cur_get_strdup(&c, KRL_TEXT_MAX, &k->comment)) != 0)
        goto out;
    while (c.len > 0) {
        uint8_t type;
        ssh_cur s;
        if ((rv = ssh_cur_get_u8(&c, &type)) != 0 || (rv = ssh_cur_get_cur(&c, &s)) != 0)
            goto out;
        /* Signature sections come last (PROTOCOL.krl section 5). */
        if (signed_part_over && type != SEC_SIGNATURE) {
            rv = SSH_ERR_FORMAT;
            goto out;
        }
        switch (type) {
        case SEC_CERTS:
            rv = cert_section(k, &s);
            break;
        case SEC_KEYS:
            rv = blob_list(&s, &k->keys, &k->n_keys, 0);
            break;
        case SEC_SHA1:
            rv = blob_list(&s, &k->sha1, &k->n_sha1, 20);
            break;
        case SEC_SHA256:
            rv = blob_list(&s, &k->sha256, &k->n_sha256, 32);
            break;
        case SEC_SIGNATURE:
            /* The section holds the signing key; the signature follows as
             * one more string.  Not verified (see krl.h). */
            signed_part_over = 1;
            s.len = 0;
            rv = ssh_cur_get_string(&c, NULL, NULL);
            break;
        case SEC_EXTENSION:
            rv = extension(&s);
            break;
        default:
            rv = SSH_ERR_FORMAT;
            break;
        }
        if (rv == 0 && s.len != 0)
            rv = SSH_ERR_TRAILING;
        if (rv != 0)
            goto out;
    }
    *out = k;
    k = NULL;
    rv = 0;
out:
    ssh_krl_free(k);
    return rv;
}

/* ---- checking -------------------------------------------------------------------------------- */

static int in_blobs(const blob *arr, size_t n, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (arr[i].n == len && memcmp(arr[i].p, p, len) == 0)
            return 1;
    return 0;
}

static int bit_set(const bitmap *b, uint64_t serial)
{
    if (serial < b->offset)
        return 0;
    uint64_t bit = serial - b->offset;
    if (bit / 8 >= b->bits.n)
        return 0;
    return (b->bits.p[b->bits.n - 1 - (size_t)(bit / 8)] >> (bit % 8)) & 1;
}

static int cert_revoked(const certs *c, const ssh_cert *cert)
{
    const char *id = ssh_cert_key_id(cert);
    if (in_blobs(c->ids, c->n_ids, (const uint8_t *)id, strlen(id)))
        return 1;
    uint64_t serial = ssh_cert_serial(cert);
    if (serial == 0) /* no serial: nothing to match (OpenSSH) */
        return 0;
    for (size_t i = 0; i < c->n_ranges; i++)
        if (serial >= c->ranges[i].lo && serial <= c->ranges[i].hi)
            return 1;
    for (size_t i = 0; i < c->n_bitmaps; i++)
        if (bit_set(&c->bitmaps[i], serial))
            return 1;
    return 0;
}

/* The key itself (its plain blob and fingerprints) and, for a
 * certificate, its serial and key id under its CA's sections. */
static int key_revoked(const ssh_krl *k, const ssh_key *key, int *revoked)
{
    ssh_buf b;
    uint8_t md[32];
    unsigned int mdlen;
    ssh_buf_init(&b, 0, 0);
    int rv = ssh_key_to_plain_blob(key, &b);
    if (rv != 0)
        return rv;
    const uint8_t *p = ssh_buf_ptr(&b);
    size_t n = ssh_buf_len(&b);
    *revoked = in_blobs(k->keys, k->n_keys, p, n);
    if (!*revoked && k->n_sha1 > 0) {
        if (!EVP_Digest(p, n, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
            rv = SSH_ERR_LIBCRYPTO;
        else
            *revoked = in_blobs(k->sha1, k->n_sha1, md, 20);
    }
    if (rv == 0 && !*revoked && k->n_sha256 > 0) {
        if (!EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
            rv = SSH_ERR_LIBCRYPTO;
        else
            *revoked = in_blobs(k->sha256, k->n_sha256, md, 32);
    }
    ssh_buf_free(&b);
    const ssh_cert *cert = ssh_key_cert(key);
    for (size_t i = 0; rv == 0 && !*revoked && cert != NULL && i < k->n_certs; i++) {
        const certs *c = &k->certs[i];
        if (c->ca == NULL || ssh_key_equal_public(c->ca, ssh_cert_ca(cert)))
            *revoked = cert_revoked(c, cert);
    }
    return rv;
}

int ssh_krl_check(const ssh_krl *k, const ssh_key *key)
{
    if (k == NULL || key == NULL)
        return SSH_ERR_ARGUMENT;
    int revoked = 0;
    int rv = key_revoked(k, key, &revoked);
    if (rv == 0 && !revoked && ssh_key_is_cert(key))
        rv = key_revoked(k, ssh_cert_ca(ssh_key_cert(key)), &revoked);
    if (rv != 0)
        return rv;
    return revoked ? SSH_ERR_KEY_REVOKED : 0;
}

/* ---- revoked-key lists ---------------------------------------------------------------------- */

/* Same public half, certificate or not. */
static int same_plain(const ssh_key *a, const ssh_key *b)
{
    ssh_buf x, y;
    ssh_buf_init(&x, 0, 0);
    ssh_buf_init(&y, 0, 0);
    int eq = ssh_key_to_plain_blob(a, &x) == 0 && ssh_key_to_plain_blob(b, &y) == 0 &&
             ssh_buf_len(&x) == ssh_buf_len(&y) &&
             memcmp(ssh_buf_ptr(&x), ssh_buf_ptr(&y), ssh_buf_len(&x)) == 0;
    ssh_buf_free(&x);
    ssh_buf_free(&y);
    return eq;
}

int ssh_revoked_check(const uint8_t *data, size_t len, const ssh_key *key)
{
    if ((data == NULL && len > 0) || key == NULL)
        return SSH_ERR_ARGUMENT;
    if (ssh_krl_is_krl(data, len)) {
        ssh_krl *k = NULL;
        int rv = ssh_krl_parse(data, len, &k);
        if (rv == 0)
            rv = ssh_krl_check(k, key);
        ssh_krl_free(k);
        return rv;
    }
    const ssh_key *ca = ssh_key_is_cert(key) ? ssh_cert_ca(ssh_key_cert(key)) : NULL;
    size_t i = 0;
    while (i < len) {
        const uint8_t *nl = memchr(data + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - data) : len;
        const char *line = (const char *)data + i;
        size_t ll = end - i;
        i = end + 1;
        size_t s = 0;
        while (s < ll && (line[s] == ' ' || line[s] == '\t'))
            s++;
        if (s == ll || line[s] == '#' || line[s] == '\r')
            continue;
        ssh_key *k = NULL;
        int rv = ssh_key_parse_public_line(line + s, ll - s, &k, NULL);
        if (rv == SSH_ERR_KEY_TYPE || rv == SSH_ERR_KEY_INVALID)
            continue; /* a key we never accept (DSA, short RSA) cannot be presented */
        if (rv != 0)
            return rv;
        int hit = same_plain(k, key) || (ca != NULL && same_plain(k, ca));
        ssh_key_free(k);
        if (hit)
            return SSH_ERR_KEY_REVOKED;
    }
    return 0;
}
