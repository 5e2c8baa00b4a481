/*
 * tun_knownhosts.c - checking and recording host keys.
 *
 * Decision order for one key, over all files: a matching @revoked line
 * wins; otherwise an exact match means OK; otherwise a line for the host
 * with the same key type but another key means CHANGED; otherwise NEW.
 * Hashed names use HMAC-SHA1 keyed by the salt, as OpenSSH writes them.
 */
#include "tun_knownhosts.h"
#include "tun_log.h"
#include "tun_match.h"
#include "tun_util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define KH_FILE_MAX (64u * 1024 * 1024)

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

int tun_knownhosts_line(const char *line, const char *hostname, ssh_key **key, int *revoked)
{
    *key = NULL;
    *revoked = 0;
    while (*line == ' ' || *line == '\t')
        line++;
    if (*line == '\0' || *line == '#' || *line == '\n' || *line == '\r')
        return -1;
    if (*line == '@') {
        if (strncmp(line, "@revoked", 8) == 0 && (line[8] == ' ' || line[8] == '\t')) {
            *revoked = 1;
            line += 8;
        } else {
            if (strncmp(line, "@cert-authority", 15) == 0)
                tun_debug3("known_hosts: @cert-authority lines are not supported, skipped");
            return -1;
        }
        while (*line == ' ' || *line == '\t')
            line++;
    }
    size_t hl = strcspn(line, " \t");
    if (hl == 0 || hl >= 4096 || line[hl] == '\0')
        return -1;
    char hosts[4096];
    memcpy(hosts, line, hl);
    hosts[hl] = '\0';
    const char *rest = line + hl;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    int match;
    if (strncmp(hosts, "|1|", 3) == 0)
        match = match_hashed(hosts, hostname);
    else
        match = tun_match_pattern_list(hostname, hosts) == 1;
    size_t rl = strcspn(rest, "\r\n");
    if (ssh_key_parse_public_line(rest, rl, key, NULL) != 0) {
        *key = NULL;
        return -1;
    }
    return match;
}

static int for_each_line(const char *file, const char *hostname,
                         int (*fn)(void *arg, const char *file, unsigned lineno, ssh_key *key,
                                   int revoked),
                         void *arg)
{
    uint8_t *data;
    size_t len;
    if (tun_read_file(file, KH_FILE_MAX, &data, &len) != 0)
        return 0;
    char *p = (char *)data;
    unsigned lineno = 0;
    int stop = 0;
    while (*p && !stop) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        ssh_key *key;
        int revoked;
        if (tun_knownhosts_line(p, hostname, &key, &revoked) == 1)
            stop = fn(arg, file, lineno, key, revoked);
        ssh_key_free(key);
        if (!nl)
            break;
        p = nl + 1;
    }
    free(data);
    return stop;
}

struct check_ctx {
    const ssh_key *key;
    tun_hk_result *res;
    int ok_found, changed_found;
};

static int check_line(void *arg, const char *file, unsigned lineno, ssh_key *k, int revoked)
{
    struct check_ctx *x = arg;
    tun_hk_result *r = x->res;
    int same = ssh_key_equal_public(k, x->key);
    if (revoked) {
        if (same) {
            r->status = TUN_HK_REVOKED;
            snprintf(r->file, sizeof(r->file), "%s", file);
            r->line = lineno;
            return 1;
        }
        return 0;
    }
    if (same) {
        if (!x->ok_found) {
            x->ok_found = 1;
            r->status = TUN_HK_OK;
            snprintf(r->file, sizeof(r->file), "%s", file);
            r->line = lineno;
        }
    } else if (ssh_key_type(k) == ssh_key_type(x->key)) {
        if (!x->ok_found && !x->changed_found) {
            x->changed_found = 1;
            r->status = TUN_HK_CHANGED;
            snprintf(r->file, sizeof(r->file), "%s", file);
            r->line = lineno;
        }
    } else {
        r->other_types = 1;
    }
    return 0;
}

void tun_knownhosts_check(const char *const *files, size_t nfiles, const char *host,
                          unsigned port, const ssh_key *key, tun_hk_result *res)
{
    char hostname[1100];
    memset(res, 0, sizeof(*res));
    res->status = TUN_HK_NEW;
    tun_hk_hostname(host, port, hostname, sizeof(hostname));
    struct check_ctx x = {key, res, 0, 0};
    for (size_t i = 0; i < nfiles; i++) {
        if (files[i] == NULL)
            continue;
        char *f = tun_expand_home(files[i]);
        if (f == NULL)
            continue;
        int stop = for_each_line(f, hostname, check_line, &x);
        free(f);
        if (stop)
            return; /* revoked */
    }
    /* An exact match anywhere beats a mismatch elsewhere (keys rotate). */
    if (x.ok_found && res->status == TUN_HK_CHANGED)
        res->status = TUN_HK_OK;
}

int tun_knownhosts_add(const char *file, const char *host, unsigned port, const ssh_key *key,
                       int hash)
{
    char hostname[1100], entry[1200];
    char *path = tun_expand_home(file);
    char *keyline = NULL;
    int rv = -1;
    if (path == NULL)
        return -1;
    tun_hk_hostname(host, port, hostname, sizeof(hostname));
    if (hash) {
        uint8_t salt[20], mac[EVP_MAX_MD_SIZE];
        size_t ml = 0;
        char b1[64], b2[64];
        if (RAND_bytes(salt, sizeof(salt)) != 1 ||
            EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, salt, sizeof(salt),
                      (const unsigned char *)hostname, strlen(hostname), mac, sizeof(mac),
                      &ml) == NULL)
            goto out;
        EVP_EncodeBlock((unsigned char *)b1, salt, sizeof(salt));
        EVP_EncodeBlock((unsigned char *)b2, mac, (int)ml);
        snprintf(entry, sizeof(entry), "|1|%s|%s", b1, b2);
    } else {
        snprintf(entry, sizeof(entry), "%s", hostname);
    }
    if (ssh_key_to_public_line(key, NULL, &keyline) != 0)
        goto out;
    if (tun_mkdir_parent(path, 0700) != 0)
        goto out;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        goto out;
    char line[16384];
    int n = snprintf(line, sizeof(line), "%s %s\n", entry, keyline);
    if (n > 0 && (size_t)n < sizeof(line) && write(fd, line, (size_t)n) == n)
        rv = 0;
    close(fd);
out:
    free(keyline);
    free(path);
    return rv;
}

struct algs_ctx {
    char *out;
    size_t outsz;
    int n;
};

static void add_alg(struct algs_ctx *x, const char *a)
{
    if (ssh_namelist_has(x->out, a))
        return;
    size_t l = strlen(x->out);
    snprintf(x->out + l, x->outsz - l, "%s%s", l ? "," : "", a);
    x->n++;
}

static int algs_line(void *arg, const char *file, unsigned lineno, ssh_key *k, int revoked)
{
    (void)file;
    (void)lineno;
    struct algs_ctx *x = arg;
    if (revoked)
        return 0;
    if (ssh_key_type(k) == SSH_KEY_RSA) {
        add_alg(x, "rsa-sha2-512");
        add_alg(x, "rsa-sha2-256");
    } else {
        add_alg(x, ssh_key_type_name(k));
    }
    return 0;
}

int tun_knownhosts_algs(const char *const *files, size_t nfiles, const char *host, unsigned port,
                        char *out, size_t outsz)
{
    char hostname[1100];
    tun_hk_hostname(host, port, hostname, sizeof(hostname));
    struct algs_ctx x = {out, outsz, 0};
    if (outsz)
        out[0] = '\0';
    for (size_t i = 0; i < nfiles; i++) {
        if (files[i] == NULL)
            continue;
        char *f = tun_expand_home(files[i]);
        if (f) {
            for_each_line(f, hostname, algs_line, &x);
            free(f);
        }
    }
    return x.n;
}
