/*
 * tun_cfgval.c - value syntaxes of the configuration files (see
 * tun_cfgval.h).  strtol() alone accepts leading blanks and signs; every
 * parser here first checks that a digit comes first.
 */
#include "tun_cfgval.h"
#include "tun_log.h"
#include "tun_match.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sshtun/buf.h"

int tun_parse_yesno(const char *v, int *out)
{
    if (strcasecmp(v, "yes") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(v, "no") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

/* Decimal integer in [min, max], nothing else. */
int tun_parse_int(const char *v, long min, long max, long *out)
{
    if (!isdigit((unsigned char)v[0]) && !(v[0] == '-' && isdigit((unsigned char)v[1])))
        return -1;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end != '\0' || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

/* sshd_config(5) TIME FORMATS: "90", "90s", "1h30m", "2d", "1w". */
int tun_parse_time(const char *v, int64_t *out)
{
    int64_t total = 0;
    const char *p = v;
    if (*p == '\0')
        return -1;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        char *end;
        errno = 0;
        long long n = strtoll(p, &end, 10);
        if (errno || n < 0)
            return -1;
        /* a unit letter, or none (seconds) */
        static const char units[] = "smhdw";
        static const int64_t mult[] = {1, 60, 3600, 86400, 604800};
        int64_t m = 1;
        if (*end != '\0') {
            const char *u = strchr(units, tolower((unsigned char)*end));
            if (u == NULL)
                return -1;
            m = mult[u - units];
            end++;
        }
        if (n > (INT64_MAX - total) / m)
            return -1;
        total += n * m;
        p = end;
    }
    *out = total;
    return 0;
}

int tun_parse_time_int(const char *v, int *out)
{
    int64_t t;
    if (tun_parse_time(v, &t) != 0 || t > INT_MAX)
        return -1;
    *out = (int)t;
    return 0;
}

/* "1024", "64K", "500M", "1G", "1T". */
int tun_parse_size(const char *v, int64_t *out)
{
    if (!isdigit((unsigned char)v[0]))
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || n < 0)
        return -1;
    int64_t mult = 1;
    switch (toupper((unsigned char)*end)) {
    case '\0':
        break;
    case 'K':
        mult = 1LL << 10;
        end++;
        break;
    case 'M':
        mult = 1LL << 20;
        end++;
        break;
    case 'G':
        mult = 1LL << 30;
        end++;
        break;
    case 'T':
        mult = 1LL << 40;
        end++;
        break;
    default:
        return -1;
    }
    if (*end != '\0' || n > INT64_MAX / mult)
        return -1;
    *out = n * mult;
    return 0;
}

void tun_cfg_lines(char *data, const char *name, tun_cfg_line_fn fn, void *arg)
{
    unsigned lineno = 0;
    char *p = data;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        char *line = p;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r')
            line[ll - 1] = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line != '\0' && *line != '#') {
            char where[1200];
            snprintf(where, sizeof(where), "%s: line %u", name, lineno);
            if (fn(arg, line, where) != 0)
                break;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
}

char *tun_cfg_text_copy(const char *data, size_t len, size_t max, const char *name)
{
    if (len > max) {
        tun_error("%s: configuration too large", name);
        return NULL;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    if (len)
        memcpy(copy, data, len);
    copy[len] = '\0';
    return copy;
}

int tun_cfg_bad_value(const char *where, const char *kwname, const char *v)
{
    tun_error("%s: invalid %s value \"%s\"", where, kwname, v);
    return -1;
}

int tun_cfg_set_int(int *f, int v)
{
    if (*f == -1)
        *f = v;
    return 0;
}

int tun_cfg_split_keyword(const char *line, char *kwout, size_t kwsz, const char **rest)
{
    while (*line == ' ' || *line == '\t')
        line++;
    size_t kl = strcspn(line, " \t=");
    if (kl == 0 || kl >= kwsz)
        return -1;
    memcpy(kwout, line, kl);
    kwout[kl] = '\0';
    const char *v = line + kl;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v == '=')
        v++;
    while (*v == ' ' || *v == '\t')
        v++;
    *rest = v;
    return 0;
}

/* ---- address syntax ------------------------------------------------------------- */

int tun_valid_port(const char *s, int star_ok)
{
    long p;
    if (star_ok && strcmp(s, "*") == 0)
        return 1;
    return tun_parse_int(s, 1, 65535, &p) == 0;
}

/* Host names and IPv4 addresses as they may appear in ListenAddress,
 * PermitOpen and PermitListen. */
int tun_valid_hostname(const char *h, int star_ok)
{
    if (star_ok && strcmp(h, "*") == 0)
        return 1;
    if (*h == '\0' || strlen(h) > 255)
        return 0;
    for (const char *p = h; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
            return 0;
    return 1;
}

int tun_valid_ipv6(const char *s, size_t len)
{
    char tmp[INET6_ADDRSTRLEN + 32];
    uint8_t b[16];
    if (len == 0 || len >= sizeof(tmp))
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    /* A scope ("fe80::1%eth0") is allowed for listening. */
    char *pct = strchr(tmp, '%');
    if (pct) {
        if (pct[1] == '\0')
            return 0;
        *pct = '\0';
    }
    return inet_pton(AF_INET6, tmp, b) == 1;
}

/*
 * Is `s` "host:port" or "[v6]:port"?  With `port_optional` also "host",
 * "[v6]" or a bare IPv6 address; with `bare_port_ok` also "port" alone;
 * with `star_ok`, "*" may stand for the host or the port.  1 valid, 0 not.
 */
int tun_valid_hostport(const char *s, int star_ok, int port_optional, int bare_port_ok)
{
    const char *colon;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL || !tun_valid_ipv6(s + 1, (size_t)(rb - s - 1)))
            return 0;
        if (rb[1] == '\0')
            return port_optional;
        return rb[1] == ':' && tun_valid_port(rb + 2, star_ok);
    }
    colon = strchr(s, ':');
    if (colon == NULL) {
        if (bare_port_ok && tun_valid_port(s, star_ok))
            return 1;
        return port_optional && tun_valid_hostname(s, star_ok);
    }
    if (strchr(colon + 1, ':') != NULL) /* bare IPv6 address: no port */
        return port_optional && tun_valid_ipv6(s, strlen(s));
    char host[256];
    size_t hl = (size_t)(colon - s);
    if (hl == 0 || hl >= sizeof(host))
        return 0;
    memcpy(host, s, hl);
    host[hl] = '\0';
    return tun_valid_hostname(host, star_ok) && tun_valid_port(colon + 1, star_ok);
}

/* "addr/len" with a valid address and prefix length. */
int tun_valid_cidr(const char *s)
{
    const char *slash = strchr(s, '/');
    char host[INET6_ADDRSTRLEN + 1];
    uint8_t b[16];
    long bits;
    if (slash == NULL || slash == s || (size_t)(slash - s) >= sizeof(host))
        return 0;
    memcpy(host, s, (size_t)(slash - s));
    host[slash - s] = '\0';
    if (inet_pton(AF_INET, host, b) == 1)
        return tun_parse_int(slash + 1, 0, 32, &bits) == 0;
    if (inet_pton(AF_INET6, host, b) == 1)
        return tun_parse_int(slash + 1, 0, 128, &bits) == 0;
    return 0;
}

/* Each comma-separated entry of a pattern list is non-empty (after '!');
 * with `cidr`, entries containing '/' are valid CIDR blocks. */
int tun_valid_pattern_list(const char *list, int cidr)
{
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char ent[1024];
        if (l > 0 && *p == '!') {
            p++;
            l--;
        }
        if (l == 0 || l >= sizeof(ent))
            return 0;
        memcpy(ent, p, l);
        ent[l] = '\0';
        if (cidr && strchr(ent, '/') && !tun_valid_cidr(ent))
            return 0;
        if (e == NULL)
            return 1;
        p = e + 1;
    }
}

int tun_cfg_verdict(const char *name, int errors)
{
    if (errors == 0)
        return 0;
    tun_error("%s: terminating, %d bad configuration options", name, errors);
    return -1;
}

/* ---- algorithm lists -------------------------------------------------------------------- */

static int list_append(char *out, size_t outsz, const char *name)
{
    if (ssh_namelist_has(out, name))
        return 0;
    size_t l = strlen(out);
    int n = snprintf(out + l, outsz - l, "%s%s", l ? "," : "", name);
    return (n < 0 || (size_t)n >= outsz - l) ? -1 : 0;
}

char *tun_alg_list(const char *spec, const char *def, const char *supported, const char *what)
{
    char out[4096] = "", names[4096], tmp[4096];
    char mode = (spec[0] == '+' || spec[0] == '-' || spec[0] == '^') ? spec[0] : 0;
    char *save = NULL;
    snprintf(names, sizeof(names), "%s", mode ? spec + 1 : spec);
    if (mode != '-') {
        snprintf(tmp, sizeof(tmp), "%s", names);
        for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (!ssh_namelist_has(supported, t)) {
                tun_error("Bad SSH2 %s spec '%s'.", what, spec);
                return NULL;
            }
        }
    }
    if (mode == '^') {
        snprintf(tmp, sizeof(tmp), "%s", names);
        for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
            list_append(out, sizeof(out), t);
    }
    if (mode) {
        snprintf(tmp, sizeof(tmp), "%s", def);
        for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (mode == '-' && tun_match_pattern_list(t, names) == 1)
                continue;
            list_append(out, sizeof(out), t);
        }
    }
    if (mode == '+' || mode == 0) {
        snprintf(tmp, sizeof(tmp), "%s", names);
        for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
            list_append(out, sizeof(out), t);
    }
    if (out[0] == '\0') {
        tun_error("Bad SSH2 %s spec '%s': empty list.", what, spec);
        return NULL;
    }
    return strdup(out);
}
