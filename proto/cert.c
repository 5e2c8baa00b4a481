/*
 * cert.c - OpenSSH certificates: parsing, CA signature, validity checks.
 *
 * The format is OpenSSH's PROTOCOL.certkeys ("New public key formats"):
 *
 *     string    "<type>-cert-v01@openssh.com"
 *     string    nonce
 *     ...       the certified key's public fields (as in its plain blob)
 *     uint64    serial
 *     uint32    type                 1 user, 2 host
 *     string    key id
 *     string    valid principals     strings packed inside
 *     uint64    valid after
 *     uint64    valid before
 *     string    critical options     (string name, string data)*
 *     string    extensions           (string name, string data)*
 *     string    reserved
 *     string    signature key        a plain public key blob
 *     string    signature            over every byte before this field
 *
 * Why the strictness listed in sshtun/cert.h: certificates arrive from the
 * network before anything is authenticated (the server's host certificate
 * in KEX, a user's certificate in a publickey request), so every length is
 * checked against what contains it, every list is bounded, and what the
 * specification says must hold (options ordered and unique, one CA key of a
 * plain type) is enforced rather than assumed.  The reserved field is the
 * one exception: the specification says it is ignored, so its contents are.
 *
 * The CA signature is verified while parsing (as OpenSSH's cert_parse
 * does): a certificate object only exists for a blob its CA really signed.
 * SHA-1 RSA CA signatures verify here; refusing them is policy
 * (CASignatureAlgorithms, ssh_cert_check()), so that the refusal can say
 * why.
 */
#include "cert_int.h"
#include "key_int.h"

#include "sshtun/cert.h"
#include "sshtun/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cert_opt {
    char *name;
    size_t off, len; /* data, as an offset into the owned blob */
};

struct ssh_cert {
    uint8_t *blob; /* the whole certificate blob, owned */
    size_t len;
    uint64_t serial;
    uint32_t type;
    char *key_id;
    char **principals;
    size_t n_principals;
    uint64_t valid_after, valid_before;
    struct cert_opt *opts[2]; /* [1] critical options, [0] extensions */
    size_t n_opts[2];
    ssh_key *ca;
    char sig_alg[SSH_KEY_NAME_MAX];
};

void ssh_cert_free(ssh_cert *c)
{
    if (c == NULL)
        return;
    free(c->blob);
    free(c->key_id);
    for (size_t i = 0; i < c->n_principals; i++)
        free(c->principals[i]);
    free(c->principals);
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < c->n_opts[k]; i++)
            free(c->opts[k][i].name);
        free(c->opts[k]);
    }
    ssh_key_free(c->ca);
    free(c);
}

const uint8_t *ssh_cert_blob(const ssh_cert *c, size_t *len)
{
    *len = c->len;
    return c->blob;
}

/* ---- parsing ------------------------------------------------------------ */

static int get_principals(ssh_cur *list, ssh_cert *c)
{
    while (list->len > 0) {
        if (c->n_principals >= SSH_CERT_MAX_PRINCIPALS)
            return SSH_ERR_FORMAT;
        char *s = NULL;
        int rv = ssh_cur_get_strdup(list, SSH_CERT_TEXT_MAX, &s);
        if (rv != 0)
            return rv;
        char **np = realloc(c->principals, (c->n_principals + 1) * sizeof(*np));
        if (np == NULL) {
            free(s);
            return SSH_ERR_ALLOC;
        }
        c->principals = np;
        c->principals[c->n_principals++] = s;
    }
    return 0;
}

/* (string name, string data)* in strictly increasing order of name, which
 * also makes every name unique. */
static int get_options(ssh_cur *list, const uint8_t *start, ssh_cert *c, int critical)
{
    size_t cap = 0;
    while (list->len > 0) {
        size_t n = c->n_opts[critical];
        if (n >= SSH_CERT_MAX_OPTIONS)
            return SSH_ERR_FORMAT;
        char *name = NULL;
        const uint8_t *data;
        size_t dlen;
        int rv = ssh_cur_get_strdup(list, SSH_CERT_TEXT_MAX, &name);
        if (rv == 0 && name[0] == '\0')
            rv = SSH_ERR_FORMAT;
        if (rv == 0)
            rv = ssh_cur_get_string(list, &data, &dlen);
        if (rv == 0 && n > 0 && strcmp(c->opts[critical][n - 1].name, name) >= 0)
            rv = SSH_ERR_FORMAT; /* out of order or repeated */
        if (rv == 0 && n == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct cert_opt *no = realloc(c->opts[critical], ncap * sizeof(*no));
            if (no == NULL)
                rv = SSH_ERR_ALLOC;
            else {
                c->opts[critical] = no;
                cap = ncap;
            }
        }
        if (rv != 0) {
            free(name);
            return rv;
        }
        c->opts[critical][n].name = name;
        c->opts[critical][n].off = (size_t)(data - start);
        c->opts[critical][n].len = dlen;
        c->n_opts[critical] = n + 1;
    }
    return 0;
}

int ssh_cert_parse(ssh_cur *cur, const uint8_t *start, enum ssh_key_type ktype, ssh_key **out)
{
    ssh_cur t = *cur;
    ssh_key *key = NULL;
    ssh_cert *c = calloc(1, sizeof(*c));
    ssh_cur principals, crit, exts, cablob;
    const uint8_t *sig;
    size_t siglen, signed_len;
    int rv;
    if (c == NULL)
        return SSH_ERR_ALLOC;
    /* Everything up to the signature, in the order of the format. */
    if ((rv = ssh_cur_get_string(&t, NULL, NULL)) != 0 || /* nonce */
        (rv = ssh_key_get_public_fields(&t, ktype, &key)) != 0 ||
        (rv = ssh_cur_get_u64(&t, &c->serial)) != 0 || (rv = ssh_cur_get_u32(&t, &c->type)) != 0 ||
        (rv = ssh_cur_get_strdup(&t, SSH_CERT_TEXT_MAX, &c->key_id)) != 0 ||
        (rv = ssh_cur_get_cur(&t, &principals)) != 0 ||
        (rv = ssh_cur_get_u64(&t, &c->valid_after)) != 0 ||
        (rv = ssh_cur_get_u64(&t, &c->valid_before)) != 0 ||
        (rv = ssh_cur_get_cur(&t, &crit)) != 0 || (rv = ssh_cur_get_cur(&t, &exts)) != 0 ||
        (rv = ssh_cur_get_string(&t, NULL, NULL)) != 0 || /* reserved */
        (rv = ssh_cur_get_cur(&t, &cablob)) != 0)
        goto out;
    signed_len = (size_t)(t.p - start);
    if ((rv = ssh_cur_get_string(&t, &sig, &siglen)) != 0)
        goto out;
    if (c->type != SSH_CERT_TYPE_USER && c->type != SSH_CERT_TYPE_HOST) {
        rv = SSH_ERR_CERT_TYPE;
        goto out;
    }
    if ((rv = get_principals(&principals, c)) != 0 || (rv = get_options(&crit, start, c, 1)) != 0 ||
        (rv = get_options(&exts, start, c, 0)) != 0)
        goto out;

    /* No chains: the signature key is a plain key (PROTOCOL.certkeys). */
    rv = ssh_key_from_blob_plain(cablob.p, cablob.len, &c->ca);
    if (rv == SSH_ERR_ALLOC)
        goto out;
    if (rv != 0) {
        rv = SSH_ERR_CERT_CA;
        goto out;
    }
    rv = ssh_sig_alg(sig, siglen, c->sig_alg, sizeof(c->sig_alg));
    if (rv == 0)
        rv = ssh_key_verify(c->ca, NULL, SSH_KEY_ALLOW_SHA1, sig, siglen, start, signed_len);
    if (rv == SSH_ERR_ALLOC)
        goto out;
    if (rv != 0) {
        rv = SSH_ERR_CERT_SIGNATURE;
        goto out;
    }

    c->len = (size_t)(t.p - start);
    if ((c->blob = malloc(c->len)) == NULL) {
        rv = SSH_ERR_ALLOC;
        goto out;
    }
    memcpy(c->blob, start, c->len);
    ssh_key_set_cert(key, c);
    c = NULL;
    *out = key;
    key = NULL;
    *cur = t;
    rv = 0;
out:
    ssh_cert_free(c);
    ssh_key_free(key);
    return rv;
}

int ssh_cert_dup(const ssh_cert *c, ssh_cert **out)
{
    ssh_cert *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return SSH_ERR_ALLOC;
    d->len = c->len;
    d->serial = c->serial;
    d->type = c->type;
    d->valid_after = c->valid_after;
    d->valid_before = c->valid_before;
    memcpy(d->sig_alg, c->sig_alg, sizeof(d->sig_alg));
    int rv = SSH_ERR_ALLOC;
    if ((d->blob = malloc(c->len)) == NULL || (d->key_id = strdup(c->key_id)) == NULL)
        goto fail;
    memcpy(d->blob, c->blob, c->len);
    if (c->n_principals > 0) {
        if ((d->principals = calloc(c->n_principals, sizeof(char *))) == NULL)
            goto fail;
        for (; d->n_principals < c->n_principals; d->n_principals++)
            if ((d->principals[d->n_principals] = strdup(c->principals[d->n_principals])) == NULL)
                goto fail;
    }
    for (int k = 0; k < 2; k++) {
        if (c->n_opts[k] == 0)
            continue;
        if ((d->opts[k] = calloc(c->n_opts[k], sizeof(struct cert_opt))) == NULL)
            goto fail;
        for (; d->n_opts[k] < c->n_opts[k]; d->n_opts[k]++) {
            struct cert_opt *o = &d->opts[k][d->n_opts[k]];
            *o = c->opts[k][d->n_opts[k]];
            if ((o->name = strdup(o->name)) == NULL)
                goto fail;
        }
    }
    if ((rv = ssh_key_public(c->ca, &d->ca)) != 0)
        goto fail;
    *out = d;
    return 0;
fail:
    ssh_cert_free(d);
    return rv;
}

/* ---- inspection --------------------------------------------------------- */

uint32_t ssh_cert_type(const ssh_cert *c)
{
    return c ? c->type : 0;
}

uint64_t ssh_cert_serial(const ssh_cert *c)
{
    return c ? c->serial : 0;
}

const char *ssh_cert_key_id(const ssh_cert *c)
{
    return c ? c->key_id : NULL;
}

size_t ssh_cert_n_principals(const ssh_cert *c)
{
    return c ? c->n_principals : 0;
}

const char *ssh_cert_principal(const ssh_cert *c, size_t i)
{
    return c && i < c->n_principals ? c->principals[i] : NULL;
}

uint64_t ssh_cert_valid_after(const ssh_cert *c)
{
    return c ? c->valid_after : 0;
}

uint64_t ssh_cert_valid_before(const ssh_cert *c)
{
    return c ? c->valid_before : 0;
}

const ssh_key *ssh_cert_ca(const ssh_cert *c)
{
    return c ? c->ca : NULL;
}

const char *ssh_cert_sig_alg(const ssh_cert *c)
{
    return c ? c->sig_alg : NULL;
}

size_t ssh_cert_n_options(const ssh_cert *c, int critical)
{
    return c ? c->n_opts[critical ? 1 : 0] : 0;
}

int ssh_cert_option(const ssh_cert *c, int critical, size_t i, const char **name,
                    const uint8_t **data, size_t *len)
{
    int k = critical ? 1 : 0;
    if (c == NULL || i >= c->n_opts[k])
        return SSH_ERR_ARGUMENT;
    const struct cert_opt *o = &c->opts[k][i];
    if (name)
        *name = o->name;
    if (data)
        *data = c->blob + o->off;
    if (len)
        *len = o->len;
    return 0;
}

static const struct cert_opt *find_opt(const ssh_cert *c, int critical, const char *name)
{
    int k = critical ? 1 : 0;
    for (size_t i = 0; c && i < c->n_opts[k]; i++)
        if (strcmp(c->opts[k][i].name, name) == 0)
            return &c->opts[k][i];
    return NULL;
}

int ssh_cert_has_extension(const ssh_cert *c, const char *name)
{
    return find_opt(c, 0, name) != NULL;
}

int ssh_cert_option_string(const ssh_cert *c, const char *name, char **out)
{
    if (c == NULL || name == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    *out = NULL;
    const struct cert_opt *o = find_opt(c, 1, name);
    if (o == NULL)
        return 0;
    ssh_cur d;
    char *s = NULL;
    ssh_cur_init(&d, c->blob + o->off, o->len);
    int rv = ssh_cur_get_strdup(&d, o->len, &s);
    if (rv == SSH_ERR_INCOMPLETE)
        rv = SSH_ERR_FORMAT;
    if (rv == 0 && ssh_cur_end(&d) != 0)
        rv = SSH_ERR_FORMAT;
    if (rv != 0) {
        free(s);
        return rv;
    }
    *out = s;
    return 0;
}

/* Civil date from days since 1970-01-01 (the proleptic Gregorian calendar
 * in 400-year eras of 146097 days; the year runs from March so that the
 * leap day comes last). */
static void civil(uint64_t days, uint64_t *y, unsigned *m, unsigned *d)
{
    uint64_t z = days + 719468; /* days since 0000-03-01 */
    uint64_t era = z / 146097;
    uint64_t doe = z - era * 146097;
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static void fmt_time(uint64_t t, char *out, size_t outsz)
{
    uint64_t y;
    unsigned mo, d;
    uint64_t s = t % 86400;
    civil(t / 86400, &y, &mo, &d);
    snprintf(out, outsz, "%04llu-%02u-%02uT%02u:%02u:%02u", (unsigned long long)y, mo, d,
             (unsigned)(s / 3600), (unsigned)(s / 60 % 60), (unsigned)(s % 60));
}

void ssh_cert_validity_str(const ssh_cert *c, char *out, size_t outsz)
{
    char a[48], b[48];
    if (c == NULL || outsz == 0)
        return;
    if (c->valid_after == 0 && c->valid_before == UINT64_MAX) {
        snprintf(out, outsz, "forever");
        return;
    }
    fmt_time(c->valid_after, a, sizeof(a));
    fmt_time(c->valid_before, b, sizeof(b));
    if (c->valid_after == 0)
        snprintf(out, outsz, "before %s", b);
    else if (c->valid_before == UINT64_MAX)
        snprintf(out, outsz, "after %s", a);
    else
        snprintf(out, outsz, "from %s to %s", a, b);
}

/* ---- validation ----------------------------------------------------------- */

/* OpenSSH patterns: '*' any run of characters, '?' exactly one.  Greedy
 * with one backtrack point: the latest '*' (enough for globs without
 * character classes). */
static int pattern_match(const char *s, const char *p, size_t plen)
{
    size_t pi = 0, star_pi = 0;
    const char *star_s = NULL;
    while (*s) {
        if (pi < plen && p[pi] == '*') {
            star_pi = ++pi;
            star_s = s;
        } else if (pi < plen && (p[pi] == '?' || p[pi] == *s)) {
            s++;
            pi++;
        } else if (star_s != NULL) {
            pi = star_pi;
            s = ++star_s;
        } else {
            return 0;
        }
    }
    while (pi < plen && p[pi] == '*')
        pi++;
    return pi == plen;
}

/* A comma-separated pattern list with '!' negation: 1 if `s` matches a
 * positive pattern and no negated one. */
static int pattern_list_match(const char *s, const char *list)
{
    int got = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        int neg = l > 0 && p[0] == '!';
        if (pattern_match(s, p + neg, l - (size_t)neg)) {
            if (neg)
                return 0;
            got = 1;
        }
        if (e == NULL)
            break;
        p = e + 1;
    }
    return got;
}

int ssh_cert_check(const ssh_key *k, uint32_t want_type, const char *name, int wildcard,
                   uint64_t now, const char *known_critical, const char *ca_sig_algs,
                   const char **reason)
{
    static const char *dummy;
    const ssh_cert *c = ssh_key_cert(k);
    if (reason == NULL)
        reason = &dummy;
    if (c == NULL) {
        *reason = "Key is not a certificate";
        return SSH_ERR_ARGUMENT;
    }
    if (c->type != want_type) {
        *reason = want_type == SSH_CERT_TYPE_HOST ? "Certificate invalid: not a host certificate"
                                                  : "Certificate invalid: not a user certificate";
        return SSH_ERR_CERT_TYPE;
    }
    if (now < c->valid_after) {
        *reason = "Certificate invalid: not yet valid";
        return SSH_ERR_CERT_NOT_YET_VALID;
    }
    if (now >= c->valid_before) {
        *reason = "Certificate invalid: expired";
        return SSH_ERR_CERT_EXPIRED;
    }
    if (c->n_principals == 0) {
        *reason = "Certificate lacks principal list";
        return SSH_ERR_CERT_NO_PRINCIPALS;
    }
    if (name != NULL) {
        int found = 0;
        for (size_t i = 0; i < c->n_principals && !found; i++)
            found = wildcard ? pattern_match(name, c->principals[i], strlen(c->principals[i]))
                             : strcmp(name, c->principals[i]) == 0;
        if (!found) {
            *reason = "Certificate invalid: name is not a listed principal";
            return SSH_ERR_CERT_PRINCIPAL;
        }
    }
    for (size_t i = 0; i < c->n_opts[1]; i++) {
        if (known_critical == NULL || !ssh_namelist_has(known_critical, c->opts[1][i].name)) {
            *reason = "Certificate contains unsupported critical options";
            return SSH_ERR_CERT_CRITICAL;
        }
    }
    if (ca_sig_algs != NULL && !pattern_list_match(c->sig_alg, ca_sig_algs)) {
        *reason = "Certificate signed with disallowed algorithm";
        return SSH_ERR_CERT_SIG_ALG;
    }
    *reason = NULL;
    return 0;
}
