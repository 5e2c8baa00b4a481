/*
 * tun_match.c - OpenSSH's host and user pattern matching ('*', '?', '!'),
 * shared by ssh_config Host/Match, known_hosts, authorized_keys from= and
 * the server's Match and Allow/Deny lists.
 */
#include "tun_match.h"

#include <ctype.h>
#include <string.h>

/* Glob matching without recursion.  Trying every split at every '*' (the
 * obvious recursive matcher) is exponential in the number of stars:
 * "Match host *a*a*a*a*a*a*a*b" against a HostName of 100 a's ran for
 * more than five minutes.  Only the most recent '*' needs retrying: when the
 * text after it fails to match, let that star swallow one more character
 * and match again from there.  Earlier stars need not be revisited, since
 * whatever an earlier star could absorb, the later one can too, so this is
 * O(len(s) * len(p)) with the same results. */
int tun_match_pattern(const char *s, const char *p)
{
    const char *star_p = NULL; /* pattern just after the last '*' */
    const char *star_s = NULL; /* where that star's match ends now */
    for (;;) {
        if (*p == '*') {
            while (*p == '*')
                p++;
            if (*p == '\0')
                return 1;
            star_p = p;
            star_s = s;
            continue;
        }
        if (*s == '\0')
            return *p == '\0';
        if (*p != '\0' &&
            (*p == '?' || tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
            s++;
            p++;
            continue;
        }
        if (star_p == NULL)
            return 0;
        p = star_p;
        s = ++star_s;
    }
}

int tun_match_pattern_list(const char *name, const char *list)
{
    int got = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        int neg = 0;
        const char *q = p;
        if (l > 0 && *q == '!') {
            neg = 1;
            q++;
            l--;
        }
        char pat[1024];
        if (l < sizeof(pat)) {
            memcpy(pat, q, l);
            pat[l] = '\0';
            if (tun_match_pattern(name, pat)) {
                if (neg)
                    return -1;
                got = 1;
            }
        }
        if (!e)
            break;
        p = e + 1;
    }
    return got;
}
