/*
 * tun_knownhosts.c - the known_hosts file format (see tun_knownhosts.h).
 *
 * Hashed names use HMAC-SHA1 keyed by the salt, as OpenSSH writes them.
 * Matching follows OpenSSH's hostfile.c: a line matches a name if its
 * pattern list does (negation wins) or its single |1| entry hashes to it.
 */
#include "tun_knownhosts.h"
#include "tun_log.h"
#include "tun_match.h"
#include "tun_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sshtun/cert.h"

#define KH_FILE_MAX  (64u * 1024 * 1024)
#define KH_HOSTS_MAX 4096

void tun_hk_hostname(const char *host, unsigned port, char *out, size_t outsz)
{
    if (port == 22 || port == 0)
        snprintf(out, outsz, "%s", host);
    else
        snprintf(out, outsz, "[%s]:%u", host, port);
}

/* |1|salt|hash */
static int match_hashed(const char *entry, const char *hostname)
{
    const char *s = entry + 3;
    const char *bar = strchr(s, '|');
    if (bar == NULL)
        return 0;
    char tmp[128];
    /* EVP_DecodeBlock writes 3 bytes per 4 characters, before the length
     * check below can reject them: room for the longest input let through
     * (127 characters, of which 124 decode, to 93 bytes). */
    uint8_t salt[sizeof(tmp) / 4 * 3], want[sizeof(tmp) / 4 * 3], got[EVP_MAX_MD_SIZE];
    size_t sl = (size_t)(bar - s), hl = strlen(bar + 1);
    if (sl >= sizeof(tmp) || hl >= sizeof(tmp))
        return 0;
    memcpy(tmp, s, sl);
    tmp[sl] = '\0';
    int n1 = EVP_DecodeBlock(salt, (const unsigned char *)tmp, (int)sl);
    int n2 = EVP_DecodeBlock(want, (const unsigned char *)bar + 1, (int)hl);
    if (n1 != 21 || n2 != 21) /* 20 bytes + EVP_DecodeBlock's padding quirk */
        return 0;
    size_t gl = 0;
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, salt, 20, (const unsigned char *)hostname,
                  strlen(hostname), got, sizeof(got), &gl) == NULL ||
        gl != 20)
        return 0;
    return CRYPTO_memcmp(got, want, 20) == 0;
}

static int match_name(const char *hosts, int hashed, const char *name)
{
    if (name == NULL)
        return 0;
    return hashed ? match_hashed(hosts, name) : tun_match_pattern_list(name, hosts) == 1;
}

/* The marker and host field of one line; *rest is where the key starts.
 * Returns -1 for a line to skip. */
static int split_line(const char *line, char *hosts, size_t hsz, enum tun_kh_marker *marker,
                      const char **rest)
{
    *marker = TUN_KH_PLAIN;
    while (*line == ' ' || *line == '\t')
        line++;
    if (*line == '\0' || *line == '#' || *line == '\n' || *line == '\r')
        return -1;
    if (*line == '@') {
        if (strncmp(line, "@revoked", 8) == 0 && (line[8] == ' ' || line[8] == '\t')) {
            *marker = TUN_KH_REVOKED;
            line += 8;
        } else if (strncmp(line, "@cert-authority", 15) == 0 &&
                   (line[15] == ' ' || line[15] == '\t')) {
            *marker = TUN_KH_CA;
            line += 15;
        } else {
            return -1; /* an unknown marker: OpenSSH skips the line too */
        }
        while (*line == ' ' || *line == '\t')
            line++;
    }
    size_t hl = strcspn(line, " \t");
    if (hl == 0 || hl >= hsz || line[hl] == '\0')
        return -1;
    memcpy(hosts, line, hl);
    hosts[hl] = '\0';
    *rest = line + hl;
    return 0;
}

/* Keys already decoded, by the exact text they were decoded from.  One
 * connection reads the same known_hosts lines twice (to order the host key
 * algorithms, then to verify the server's key), a jump or a reconnection
 * again, and decoding and validating a key is most of what reading a line
 * costs.  The same text always decodes to the same key, so a text seen
 * before takes a reference to the key it gave then (ssh_key_public: the
 * libcrypto key shared, a certificate copied); nothing a file says is
 * remembered beyond that.  Bounded: the first KH_MEMO_MAX texts of up to
 * KH_MEMO_TEXT bytes, kept until exit. */
#define KH_MEMO_MAX  32
#define KH_MEMO_TEXT 8192

static struct kh_memo {
    char *text;
    size_t len;
    ssh_key *key;
} kh_memo[KH_MEMO_MAX];
static size_t kh_memo_n;

static int decode_key(const char *text, size_t len, ssh_key **key)
{
    for (size_t i = 0; i < kh_memo_n; i++)
        if (kh_memo[i].len == len && memcmp(kh_memo[i].text, text, len) == 0)
            return ssh_key_public(kh_memo[i].key, key);
    int rv = ssh_key_parse_public_line(text, len, key, NULL);
    if (rv != 0 || kh_memo_n == KH_MEMO_MAX || len > KH_MEMO_TEXT)
        return rv;
    struct kh_memo *m = &kh_memo[kh_memo_n];
    if ((m->text = malloc(len)) == NULL)
        return 0;
    if (ssh_key_public(*key, &m->key) != 0) {
        free(m->text);
        return 0;
    }
    memcpy(m->text, text, len);
    m->len = len;
    kh_memo_n++;
    return 0;
}

/* The key of a line split_line accepted.  Returns -1 for a line to skip,
 * 0 when parsed (*key set, caller frees). */
static int parse_key(const char *rest, enum tun_kh_marker marker, ssh_key **key)
{
    *key = NULL;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    size_t rl = strcspn(rest, "\r\n");
    if (decode_key(rest, rl, key) != 0) {
        *key = NULL;
        return -1;
    }
    /* A certification authority is a plain key (no chains). */
    if (marker == TUN_KH_CA && ssh_key_is_cert(*key)) {
        ssh_key_free(*key);
        *key = NULL;
        return -1;
    }
    return 0;
}

/* The parts of one line.  Returns -1 for a line to skip, 0 when parsed
 * (*key set, caller frees). */
static int parse_line(const char *line, char *hosts, size_t hsz, enum tun_kh_marker *marker,
                      ssh_key **key)
{
    const char *rest;
    *key = NULL;
    if (split_line(line, hosts, hsz, marker, &rest) != 0)
        return -1;
    return parse_key(rest, *marker, key);
}

int tun_knownhosts_line(const char *line, const char *name, ssh_key **key,
                        enum tun_kh_marker *marker)
{
    char hosts[KH_HOSTS_MAX];
    if (parse_line(line, hosts, sizeof(hosts), marker, key) != 0)
        return -1;
    return match_name(hosts, strncmp(hosts, "|1|", 3) == 0, name);
}

/* The walk.  With `all` every line with a usable key is reported; without,
 * only the lines that match host or ip, and the others' keys are not even
 * parsed (as OpenSSH's hostkeys_foreach with HKF_WANT_MATCH): a known_hosts
 * file names many hosts, and decoding and validating the key of each (an
 * EC point check, an RSA modulus) is most of what reading it costs. */
static int walk_text(const char *text, size_t len, const char *origin, const char *host,
                     const char *ip, int all, tun_kh_fn fn, void *arg)
{
    size_t i = 0;
    unsigned lineno = 0;
    char hosts[KH_HOSTS_MAX];
    char *line = NULL;
    size_t cap = 0;
    int rv = 0;
    while (i < len && rv == 0) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t ll = end - i;
        lineno++;
        if (ll + 1 > cap) {
            char *nlb = realloc(line, ll + 1);
            if (nlb == NULL)
                break;
            line = nlb;
            cap = ll + 1;
        }
        memcpy(line, text + i, ll);
        line[ll] = '\0';
        i = end + 1;
        if (memchr(line, '\0', ll) != NULL)
            continue;
        ssh_key *key;
        const char *rest;
        tun_kh_line l = {0};
        if (split_line(line, hosts, sizeof(hosts), &l.marker, &rest) != 0)
            continue;
        l.hashed = strncmp(hosts, "|1|", 3) == 0;
        l.match_host = match_name(hosts, l.hashed, host);
        l.match_ip = match_name(hosts, l.hashed, ip);
        if (!all && !l.match_host && !l.match_ip)
            continue;
        if (parse_key(rest, l.marker, &key) != 0)
            continue;
        l.origin = origin;
        l.lineno = lineno;
        l.text = line;
        l.hosts = hosts;
        l.key = key;
        rv = fn(arg, &l);
        ssh_key_free(key);
    }
    free(line);
    return rv;
}

int tun_knownhosts_foreach_text(const char *text, size_t len, const char *origin, const char *host,
                                const char *ip, tun_kh_fn fn, void *arg)
{
    return walk_text(text, len, origin, host, ip, 1, fn, arg);
}

static int walk_file(const char *file, const char *host, const char *ip, int all, tun_kh_fn fn,
                     void *arg)
{
    char *path = tun_expand_home(file);
    uint8_t *data;
    size_t len;
    if (path == NULL)
        return 0;
    int r = tun_read_file(path, KH_FILE_MAX, &data, &len);
    if (r != 0) {
        if (errno != ENOENT)
            tun_debug("cannot read %s: %s", path, strerror(errno));
        free(path);
        return 0;
    }
    int rv = walk_text((const char *)data, len, path, host, ip, all, fn, arg);
    free(data);
    free(path);
    return rv;
}

int tun_knownhosts_foreach(const char *file, const char *host, const char *ip, tun_kh_fn fn,
                           void *arg)
{
    return walk_file(file, host, ip, 1, fn, arg);
}

/* ---- entries for one host ------------------------------------------------------------------- */

struct load_ctx {
    tun_kh_set *s;
    int note;
};

static int load_line(void *arg, const tun_kh_line *l)
{
    struct load_ctx *x = arg;
    tun_kh_set *s = x->s;
    if (!l->match_host)
        return 0;
    tun_kh_entry *nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
    if (nv == NULL)
        return 0;
    s->v = nv;
    tun_kh_entry *e = &s->v[s->n];
    memset(e, 0, sizeof(*e));
    if (ssh_key_public(l->key, &e->key) != 0 || (e->origin = strdup(l->origin)) == NULL) {
        ssh_key_free(e->key);
        return 0;
    }
    e->marker = l->marker;
    e->lineno = l->lineno;
    e->note = x->note;
    s->n++;
    return 0;
}

void tun_kh_load_file(tun_kh_set *s, const char *file, const char *host, int note)
{
    struct load_ctx x = {s, note};
    walk_file(file, host, NULL, 0, load_line, &x);
}

void tun_kh_load_text(tun_kh_set *s, const char *text, size_t len, const char *origin,
                      const char *host, int note)
{
    struct load_ctx x = {s, note};
    walk_text(text, len, origin, host, NULL, 0, load_line, &x);
}

void tun_kh_free(tun_kh_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        ssh_key_free(s->v[i].key);
        free(s->v[i].origin);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* The same public half, certificate or not (a revoked key revokes its
 * certificates). */
static int same_plain(const ssh_key *a, const ssh_key *b)
{
    ssh_key *pa = NULL, *pb = NULL;
    int eq =
        ssh_key_plain(a, &pa) == 0 && ssh_key_plain(b, &pb) == 0 && ssh_key_equal_public(pa, pb);
    ssh_key_free(pa);
    ssh_key_free(pb);
    return eq;
}

void tun_kh_check(const tun_kh_set *s, const ssh_key *key, tun_hk_result *r)
{
    memset(r, 0, sizeof(*r));
    r->status = TUN_HK_NEW;
    const ssh_key *ca = ssh_key_is_cert(key) ? ssh_cert_ca(ssh_key_cert(key)) : NULL;
    const tun_kh_entry *ok = NULL, *changed = NULL;
    for (size_t i = 0; i < s->n; i++) {
        const tun_kh_entry *e = &s->v[i];
        if (e->marker == TUN_KH_REVOKED) {
            if (same_plain(e->key, key) || (ca != NULL && same_plain(e->key, ca))) {
                r->status = TUN_HK_REVOKED;
                r->found = e;
                r->revoked_ca = !same_plain(e->key, key);
                return;
            }
            continue;
        }
        if (e->marker == TUN_KH_CA) {
            r->have_ca = 1;
            if (ca != NULL && ok == NULL && ssh_key_equal_public(e->key, ca))
                ok = e;
            continue;
        }
        if (ca != NULL || ssh_key_is_cert(e->key))
            continue; /* a certificate is judged by its CA only */
        if (ssh_key_equal_public(e->key, key)) {
            if (ok == NULL)
                ok = e;
        } else if (ssh_key_type(e->key) == ssh_key_type(key)) {
            if (changed == NULL)
                changed = e;
        } else {
            r->other_types = 1;
        }
    }
    if (ok != NULL) {
        r->status = TUN_HK_OK;
        r->found = ok;
    } else if (changed != NULL) {
        r->status = TUN_HK_CHANGED;
        r->found = changed;
    }
}

static void add_alg(char *out, size_t outsz, const char *a, int *n)
{
    if (ssh_namelist_has(out, a))
        return;
    size_t l = strlen(out);
    snprintf(out + l, outsz - l, "%s%s", l ? "," : "", a);
    (*n)++;
}

int tun_kh_algs(const tun_kh_set *s, char *out, size_t outsz)
{
    int n = 0;
    if (outsz)
        out[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        const ssh_key *k = s->v[i].key;
        if (s->v[i].marker != TUN_KH_PLAIN || ssh_key_is_cert(k))
            continue;
        if (ssh_key_type(k) == SSH_KEY_RSA) {
            add_alg(out, outsz, "rsa-sha2-512", &n);
            add_alg(out, outsz, "rsa-sha2-256", &n);
        } else {
            add_alg(out, outsz, ssh_key_type_name(k), &n);
        }
    }
    return n;
}

/* ---- writing -------------------------------------------------------------------------------- */

/* One "name key\n" line into `out`; `name` hashed if asked. */
static int format_line(const char *name, const char *keyline, int hash, char *out, size_t outsz)
{
    char entry[1200];
    if (hash) {
        uint8_t salt[20], mac[EVP_MAX_MD_SIZE];
        size_t ml = 0;
        char b1[64], b2[64];
        if (RAND_bytes(salt, sizeof(salt)) != 1 ||
            EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, salt, sizeof(salt),
                      (const unsigned char *)name, strlen(name), mac, sizeof(mac), &ml) == NULL)
            return -1;
        EVP_EncodeBlock((unsigned char *)b1, salt, sizeof(salt));
        EVP_EncodeBlock((unsigned char *)b2, mac, (int)ml);
        snprintf(entry, sizeof(entry), "|1|%s|%s", b1, b2);
    } else {
        snprintf(entry, sizeof(entry), "%s", name);
    }
    int n = snprintf(out, outsz, "%s %s\n", entry, keyline);
    return n > 0 && (size_t)n < outsz ? n : -1;
}

/* The lines for `names` ("host" or "host,ip"): one line, or with `hash`
 * one hashed line per name. */
static int format_lines(const char *names, const ssh_key *key, int hash, char *out, size_t outsz)
{
    char *keyline = NULL;
    if (ssh_key_to_public_line(key, NULL, &keyline) != 0)
        return -1;
    int total = 0;
    if (!hash) {
        total = format_line(names, keyline, 0, out, outsz);
    } else {
        char copy[1100], *save = NULL;
        snprintf(copy, sizeof(copy), "%s", names);
        for (char *n = strtok_r(copy, ",", &save); n && total >= 0;
             n = strtok_r(NULL, ",", &save)) {
            int w = format_line(n, keyline, 1, out + total, outsz - (size_t)total);
            total = w < 0 ? -1 : total + w;
        }
    }
    free(keyline);
    return total;
}

int tun_knownhosts_add(const char *file, const char *names, const ssh_key *key, int hash)
{
    char *path = tun_expand_home(file);
    char line[32768];
    int rv = -1;
    if (path == NULL)
        return -1;
    int n = format_lines(names, key, hash, line, sizeof(line));
    if (n > 0 && tun_mkdir_parent(path, 0700) == 0) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            if (write(fd, line, (size_t)n) == n)
                rv = 0;
            close(fd);
        }
    }
    free(path);
    return rv;
}

struct replace_ctx {
    const char *host, *ip;
    ssh_key *const *keys;
    size_t nkeys;
    unsigned *matched; /* per key: 1 host, 2 ip */
    FILE *out;
    size_t removed;
    int err;
};

/* Decide one raw line: keep it (written out) or drop it. */
static void replace_line(struct replace_ctx *x, const char *line)
{
    char hosts[KH_HOSTS_MAX];
    enum tun_kh_marker marker;
    ssh_key *key = NULL;
    int keep = 1;
    if (parse_line(line, hosts, sizeof(hosts), &marker, &key) == 0 && marker == TUN_KH_PLAIN) {
        int hashed = strncmp(hosts, "|1|", 3) == 0;
        unsigned m = (match_name(hosts, hashed, x->host) ? 1u : 0u) |
                     (match_name(hosts, hashed, x->ip) ? 2u : 0u);
        if (m != 0) {
            keep = 0;
            for (size_t i = 0; i < x->nkeys; i++) {
                if (ssh_key_equal_public(key, x->keys[i])) {
                    x->matched[i] |= m;
                    keep = 1;
                    break;
                }
            }
            if (!keep) {
                char fp[SSH_KEY_FP_MAX] = "";
                ssh_key_fingerprint(key, fp, sizeof(fp));
                tun_debug("Removed %s key %s for host %s", ssh_key_type_name(key), fp, x->host);
                x->removed++;
            }
        }
    }
    ssh_key_free(key);
    if (keep && fprintf(x->out, "%s\n", line) < 0)
        x->err = errno ? errno : EIO;
}

int tun_knownhosts_replace(const char *file, const char *host, const char *ip, ssh_key *const *keys,
                           size_t nkeys, int hash, size_t *removed, size_t *added)
{
    char *path = tun_expand_home(file);
    uint8_t *data = NULL;
    size_t len = 0;
    char *tmp = NULL;
    FILE *out = NULL;
    int fd = -1, rv = -1, saved = 0;
    struct replace_ctx x = {host, ip, keys, nkeys, calloc(nkeys ? nkeys : 1, sizeof(unsigned)),
                            NULL, 0,  0};
    struct stat st;
    *removed = *added = 0;
    if (path == NULL || x.matched == NULL)
        goto out;
    if (tun_read_file(path, KH_FILE_MAX, &data, &len) != 0 || stat(path, &st) != 0)
        goto out;
    size_t pl = strlen(path);
    if ((tmp = malloc(pl + 16)) == NULL)
        goto out;
    snprintf(tmp, pl + 16, "%s.XXXXXXXXXX", path);
    if ((fd = mkstemp(tmp)) < 0)
        goto out;
    if (fchmod(fd, st.st_mode & 07777) != 0 || (out = fdopen(fd, "w")) == NULL)
        goto out;
    fd = -1;
    x.out = out;
    size_t i = 0;
    while (i < len && x.err == 0) {
        const uint8_t *nl = memchr(data + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - data) : len;
        char *line = strndup((const char *)data + i, end - i);
        if (line == NULL) {
            x.err = ENOMEM;
            break;
        }
        replace_line(&x, line);
        free(line);
        i = end + 1;
    }
    /* Keys no line holds (or holds for one of the two names only). */
    unsigned want = ip ? 3u : 1u;
    for (size_t k = 0; k < nkeys && x.err == 0; k++) {
        unsigned miss = want & ~x.matched[k];
        if (miss == 0)
            continue;
        char names[1100], buf[32768];
        snprintf(names, sizeof(names), "%s%s%s", (miss & 1) ? host : "", miss == 3 ? "," : "",
                 (miss & 2) ? ip : "");
        int n = format_lines(names, keys[k], hash, buf, sizeof(buf));
        if (n < 0 || fwrite(buf, 1, (size_t)n, out) != (size_t)n)
            x.err = EIO;
        else
            (*added)++;
    }
    if (x.err == 0 && fflush(out) != 0)
        x.err = errno;
    if (x.err == 0 && fsync(fileno(out)) != 0)
        x.err = errno;
    if (fclose(out) != 0 && x.err == 0)
        x.err = errno;
    out = NULL;
    if (x.err != 0) {
        saved = x.err;
        goto out;
    }
    if (*added == 0 && x.removed == 0) {
        rv = 0; /* nothing to change: leave the file alone */
        goto out;
    }
    /* As OpenSSH: the previous version stays as file.old. */
    char *old = malloc(pl + 5);
    if (old != NULL) {
        snprintf(old, pl + 5, "%s.old", path);
        unlink(old);
        if (link(path, old) != 0)
            tun_debug("cannot keep %s: %s", old, strerror(errno));
        free(old);
    }
    if (rename(tmp, path) != 0) {
        saved = errno;
        goto out;
    }
    free(tmp);
    tmp = NULL;
    *removed = x.removed;
    rv = 0;
out:
    if (out != NULL)
        fclose(out);
    if (fd >= 0)
        close(fd);
    if (tmp != NULL) {
        unlink(tmp);
        free(tmp);
    }
    free(x.matched);
    free(data);
    free(path);
    if (rv != 0 && saved != 0)
        errno = saved;
    return rv;
}
