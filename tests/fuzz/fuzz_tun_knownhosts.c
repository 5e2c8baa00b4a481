/*
 * fuzz_tun_knownhosts.c - known_hosts lines and OpenSSH host patterns
 * (tunnel/tun_knownhosts.h).
 *
 * Input: byte 0 picks the mode (bit 0), the rest is text.
 *   mode 0: a known_hosts file: every line through tun_knownhosts_line()
 *           for "server.example.com" and "[server.example.com]:2222";
 *   mode 1: "name\npattern-list": tun_match_pattern_list() and
 *           tun_match_pattern() for each pattern of the list.
 * Checked: return codes and ownership (a key exactly when the line is
 * usable, the same key for both names, @revoked / @cert-authority only
 * when written, a CA never a certificate), the whole text loaded as a file
 * judges a fixed key consistently with the entries it holds, a
 * hashed |1| entry made for the host here matches it and nothing else,
 * and the matcher agrees with a plain dynamic-programming reference (so
 * the '*' and '?' semantics are pinned down), matches every name against
 * itself and "*", ignores case, and combines a list as documented
 * ('!' wins, then any match).
 */
#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>

#include "fuzz_tun.h"
#include "sshtun/cert.h"
#include "sshtun/key.h"
#include "tun_knownhosts.h"
#include "tun_match.h"

#define HOST  "server.example.com"
#define HOST2 "[server.example.com]:2222"
#define KEY   "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHOuzQtO+cNnh7FNldbjGNe4AXexfA5d/ge7ojS7X/YQ"

/* s matches p: O(len(s) * len(p)) with one row, '*' any run, '?' any one
 * character, the rest case-insensitively. */
static int ref_match(const char *s, const char *p)
{
    size_t n = strlen(s), m = strlen(p);
    unsigned char *row = malloc(m + 1);
    CHECK(row != NULL);
    row[0] = 1;
    for (size_t j = 1; j <= m; j++)
        row[j] = row[j - 1] && p[j - 1] == '*';
    for (size_t i = 1; i <= n; i++) {
        unsigned char diag = row[0]; /* dp[i-1][j-1] */
        row[0] = 0;
        for (size_t j = 1; j <= m; j++) {
            unsigned char up = row[j]; /* dp[i-1][j] */
            unsigned char v;
            if (p[j - 1] == '*')
                v = up || row[j - 1];
            else
                v = diag && (p[j - 1] == '?' || tolower((unsigned char)p[j - 1]) ==
                                                    tolower((unsigned char)s[i - 1]));
            diag = up;
            row[j] = v;
        }
    }
    int r = row[m];
    free(row);
    return r;
}

static void check_pattern(const char *name, const char *pat)
{
    int r = tun_match_pattern(name, pat);
    CHECK(r == 0 || r == 1);
    size_t n = strlen(name), m = strlen(pat);
    if (n * m <= 1u << 20 || m < 64)
        CHECK(r == ref_match(name, pat));
    /* Case does not matter. */
    char *up = strdup(name);
    CHECK(up != NULL);
    for (char *q = up; *q; q++)
        *q = (char)toupper((unsigned char)*q);
    CHECK(tun_match_pattern(up, pat) == r);
    free(up);
}

static void fuzz_patterns(const char *name, const char *list)
{
    int r = tun_match_pattern_list(name, list);
    CHECK(r == -1 || r == 0 || r == 1);
    /* Recompute the list result from the single patterns. */
    int neg_hit = 0, pos_hit = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        int neg = l > 0 && *p == '!';
        char *pat = strndup(p + neg, l - (size_t)neg);
        CHECK(pat != NULL);
        if (l - (size_t)neg < 1024) { /* longer patterns are ignored */
            check_pattern(name, pat);
            if (tun_match_pattern(name, pat))
                *(neg ? &neg_hit : &pos_hit) = 1;
        }
        free(pat);
        if (!e)
            break;
        p = e + 1;
    }
    CHECK(r == (neg_hit ? -1 : pos_hit ? 1 : 0));
    /* Every name matches itself ('*' and '?' match themselves) and "*". */
    CHECK(tun_match_pattern(name, name) == 1);
    CHECK(tun_match_pattern(name, "*") == 1);
    CHECK(tun_match_pattern(name, "") == (name[0] == '\0'));
}

static void check_line(const char *line)
{
    ssh_key *k1 = NULL, *k2 = NULL;
    enum tun_kh_marker m1 = TUN_KH_PLAIN, m2 = TUN_KH_PLAIN;
    int r1 = tun_knownhosts_line(line, HOST, &k1, &m1);
    int r2 = tun_knownhosts_line(line, HOST2, &k2, &m2);
    CHECK(r1 >= -1 && r1 <= 1 && r2 >= -1 && r2 <= 1);
    /* Whether a line is usable does not depend on the name looked up. */
    CHECK((r1 == -1) == (r2 == -1));
    CHECK((r1 == -1) == (k1 == NULL) && (r2 == -1) == (k2 == NULL));
    if (k1) {
        CHECK(m1 == m2);
        const char *q = line + strspn(line, " \t");
        if (m1 == TUN_KH_REVOKED)
            CHECK(strncmp(q, "@revoked", 8) == 0);
        else if (m1 == TUN_KH_CA)
            CHECK(strncmp(q, "@cert-authority", 15) == 0 && !ssh_key_is_cert(k1));
        else
            CHECK(*q != '@');
        CHECK(ssh_key_equal_public(k1, k2));
    }
    ssh_key_free(k1);
    ssh_key_free(k2);
}

/* The whole text as a file: the entries for HOST judge KEY consistently. */
static void check_set(const char *text)
{
    static ssh_key *key;
    if (key == NULL)
        CHECK(ssh_key_parse_public_line(KEY, strlen(KEY), &key, NULL) == 0);
    tun_kh_set s = {NULL, 0};
    tun_kh_load_text(&s, text, strlen(text), "fuzz", HOST, 0);
    tun_hk_result r;
    tun_kh_check(&s, key, &r);
    switch (r.status) {
    case TUN_HK_OK:
        CHECK(r.found && r.found->marker == TUN_KH_PLAIN &&
              ssh_key_equal_public(r.found->key, key));
        break;
    case TUN_HK_REVOKED:
        CHECK(r.found && r.found->marker == TUN_KH_REVOKED && !r.revoked_ca);
        break;
    case TUN_HK_CHANGED:
        CHECK(r.found && r.found->marker == TUN_KH_PLAIN &&
              ssh_key_type(r.found->key) == ssh_key_type(key) &&
              !ssh_key_equal_public(r.found->key, key));
        break;
    case TUN_HK_NEW:
        CHECK(r.found == NULL);
        for (size_t i = 0; i < s.n; i++)
            CHECK(s.v[i].marker != TUN_KH_PLAIN || ssh_key_is_cert(s.v[i].key) ||
                  ssh_key_type(s.v[i].key) != ssh_key_type(key));
        break;
    }
    char algs[512];
    int n = tun_kh_algs(&s, algs, sizeof(algs));
    CHECK(n >= 0 && (n == 0) == (algs[0] == '\0'));
    tun_kh_free(&s);
}

/* A hashed entry for HOST with a salt from the input matches HOST only. */
static void check_hashed(const uint8_t *data, size_t size)
{
    uint8_t salt[32], mac[EVP_MAX_MD_SIZE];
    unsigned sl = 0;
    size_t ml = 0;
    CHECK(EVP_Digest(data, size, salt, &sl, EVP_sha1(), NULL) == 1 && sl == 20);
    CHECK(EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, salt, 20, (const unsigned char *)HOST,
                    strlen(HOST), mac, sizeof(mac), &ml) != NULL &&
          ml == 20);
    char b1[64], b2[64], line[256];
    EVP_EncodeBlock((unsigned char *)b1, salt, 20);
    EVP_EncodeBlock((unsigned char *)b2, mac, 20);
    snprintf(line, sizeof(line), "%s|1|%s|%s %s", (data[0] & 2) ? "@revoked " : "", b1, b2, KEY);
    ssh_key *k = NULL;
    enum tun_kh_marker m;
    CHECK(tun_knownhosts_line(line, HOST, &k, &m) == 1 && k != NULL);
    CHECK(m == ((data[0] & 2) ? TUN_KH_REVOKED : TUN_KH_PLAIN));
    ssh_key_free(k);
    CHECK(tun_knownhosts_line(line, HOST2, &k, &m) == 0 && k != NULL);
    ssh_key_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_tun_devnull();
    if (size < 1)
        return 0;
    char *text = strndup((const char *)data + 1, size - 1);
    CHECK(text != NULL);
    if ((data[0] & 1) == 0) {
        check_set(text);
        /* Cut into lines as tun_knownhosts_foreach_text() does. */
        char *p = text;
        while (*p) {
            char *nl = strchr(p, '\n');
            if (nl)
                *nl = '\0';
            check_line(p);
            if (!nl)
                break;
            p = nl + 1;
        }
        check_hashed(data, size);
    } else {
        char *nl = strchr(text, '\n');
        const char *list = "";
        if (nl) {
            *nl = '\0';
            list = nl + 1;
        }
        fuzz_patterns(text, list);
    }
    free(text);
    return 0;
}
