/*
 * tun_authcert.c - user certificates on the server (see tun_authcert.h).
 *
 * The rules are sshd's (auth-options.c: cert_option_list, sshauthopt_merge;
 * auth2-pubkeyfile.c: the principals files), implemented from their
 * documented behaviour.  Where sshd leaves a detail open we refuse:
 * a source-address entry that is not an address or CIDR block makes the
 * certificate unusable rather than match by pattern.
 */
#include "tun_authcert.h"
#include "tun_log.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sshtun/buf.h"
#include "sshtun/err.h"

__attribute__((format(printf, 3, 4))) static void say(char *why, size_t whysz, const char *fmt, ...)
{
    if (why == NULL || whysz == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whysz, fmt, ap);
    va_end(ap);
}

/* "addr" or "addr/len" entries, comma-separated, nothing else. */
static int valid_cidr_list(const char *list)
{
    char copy[4096], *save = NULL;
    if (strlen(list) >= sizeof(copy) || list[0] == '\0')
        return 0;
    snprintf(copy, sizeof(copy), "%s", list);
    for (char *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        char *slash = strchr(e, '/');
        long bits = -1;
        if (slash) {
            char *end;
            *slash = '\0';
            bits = strtol(slash + 1, &end, 10);
            if (*end != '\0' || slash[1] == '\0' || bits < 0)
                return 0;
        }
        uint8_t a[16];
        int v4 = inet_pton(AF_INET, e, a) == 1, v6 = !v4 && inet_pton(AF_INET6, e, a) == 1;
        if (!v4 && !v6)
            return 0;
        if (bits > (v4 ? 32 : 128))
            return 0;
    }
    return 1;
}

int tun_cert_keyopts(const ssh_key *cert, const char *client_ip, tun_keyopts *out, char *why,
                     size_t whysz)
{
    const ssh_cert *c = ssh_key_cert(cert);
    memset(out, 0, sizeof(*out));
    if (c == NULL || ssh_cert_type(c) != SSH_CERT_TYPE_USER) {
        say(why, whysz, "Not a user certificate");
        return -1;
    }
    /* Restricted unless an extension permits. */
    out->no_pty = !ssh_cert_has_extension(c, "permit-pty");
    out->no_port_forwarding = !ssh_cert_has_extension(c, "permit-port-forwarding");
    out->no_agent_forwarding = !ssh_cert_has_extension(c, "permit-agent-forwarding");
    out->no_x11_forwarding = !ssh_cert_has_extension(c, "permit-X11-forwarding");
    out->no_user_rc = !ssh_cert_has_extension(c, "permit-user-rc");
    for (size_t i = 0; i < ssh_cert_n_options(c, 0); i++) {
        const char *name;
        ssh_cert_option(c, 0, i, &name, NULL, NULL);
        if (strncmp(name, "permit-", 7) != 0 && strcmp(name, "no-touch-required") != 0)
            tun_debug("Certificate extension \"%s\" is not supported", name);
    }
    for (size_t i = 0; i < ssh_cert_n_options(c, 1); i++) {
        const char *name;
        char *val = NULL;
        ssh_cert_option(c, 1, i, &name, NULL, NULL);
        if (strcmp(name, "verify-required") == 0) {
            say(why, whysz,
                "Certificate requires user verification (verify-required), which only FIDO "
                "security keys provide");
            goto fail;
        }
        if (strcmp(name, "force-command") != 0 && strcmp(name, "source-address") != 0) {
            say(why, whysz, "Certificate critical option \"%s\" is not supported", name);
            goto fail;
        }
        if (ssh_cert_option_string(c, name, &val) != 0 || val == NULL) {
            say(why, whysz, "Certificate option \"%s\" corrupt", name);
            goto fail;
        }
        if (strcmp(name, "force-command") == 0) {
            out->command = val;
            continue;
        }
        /* source-address */
        int ok = valid_cidr_list(val);
        if (!ok) {
            say(why, whysz, "Certificate source-address contents invalid");
        } else if (client_ip == NULL || tun_match_address_list(client_ip, val) != 1) {
            say(why, whysz,
                "Authentication tried with valid certificate but not from a permitted source "
                "address (%s)",
                client_ip ? client_ip : "unknown");
            ok = 0;
        }
        free(val);
        if (!ok)
            goto fail;
    }
    return 0;
fail:
    tun_keyopts_free(out);
    return -1;
}

static int dup_list(char **dst, int *dn, char *const *src, int sn)
{
    for (int i = 0; i < sn; i++) {
        if ((dst[i] = strdup(src[i])) == NULL)
            return -1;
        *dn = i + 1;
    }
    return 0;
}

int tun_keyopts_merge(tun_keyopts *line, const tun_keyopts *cert, char *why, size_t whysz)
{
    /* Permissions need both: a restriction from either holds. */
    line->no_port_forwarding |= cert->no_port_forwarding;
    line->no_pty |= cert->no_pty;
    line->no_agent_forwarding |= cert->no_agent_forwarding;
    line->no_x11_forwarding |= cert->no_x11_forwarding;
    line->no_user_rc |= cert->no_user_rc;
    if (line->command != NULL && cert->command != NULL) {
        if (strcmp(line->command, cert->command) != 0) {
            say(why, whysz, "forced command options do not match");
            return -1;
        }
    } else if (cert->command != NULL && (line->command = strdup(cert->command)) == NULL) {
        return -1;
    }
    /* Lists: the line's, if it has any. */
    if (line->n_permitopen == 0 &&
        dup_list(line->permitopen, &line->n_permitopen, cert->permitopen, cert->n_permitopen) != 0)
        return -1;
    if (line->n_permitlisten == 0 && dup_list(line->permitlisten, &line->n_permitlisten,
                                              cert->permitlisten, cert->n_permitlisten) != 0)
        return -1;
    if (line->n_environment == 0 && dup_list(line->environment, &line->n_environment,
                                             cert->environment, cert->n_environment) != 0)
        return -1;
    return 0;
}

int tun_cert_principals_match(const ssh_cert *c, const char *list)
{
    for (size_t i = 0; i < ssh_cert_n_principals(c); i++) {
        const char *p = ssh_cert_principal(c, i);
        size_t pl = strlen(p);
        for (const char *e = list; e && *e;) {
            const char *comma = strchr(e, ',');
            size_t el = comma ? (size_t)(comma - e) : strlen(e);
            if (el == pl && memcmp(e, p, pl) == 0)
                return 1;
            e = comma ? comma + 1 : NULL;
        }
    }
    return 0;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

enum tun_ak_result tun_principals_find(const char *data, size_t len, const ssh_cert *cert,
                                       const char *client_ip, int64_t now, tun_keyopts *opts,
                                       char *why, size_t whysz)
{
    memset(opts, 0, sizeof(*opts));
    size_t pos = 0;
    unsigned lineno = 0;
    while (pos < len) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        lineno++;
        while (ll > 0 && (line[ll - 1] == '\r' || is_blank(line[ll - 1])))
            ll--;
        while (ll > 0 && is_blank(*line)) {
            line++;
            ll--;
        }
        if (ll == 0 || *line == '#' || memchr(line, '\0', ll) != NULL)
            continue;
        /* The principal is the last word; any words before are options. */
        size_t ps = ll;
        while (ps > 0 && !is_blank(line[ps - 1]))
            ps--;
        char name[1024];
        if (ll - ps >= sizeof(name))
            continue;
        memcpy(name, line + ps, ll - ps);
        name[ll - ps] = '\0';
        int listed = 0;
        for (size_t i = 0; i < ssh_cert_n_principals(cert) && !listed; i++)
            listed = strcmp(ssh_cert_principal(cert, i), name) == 0;
        if (!listed)
            continue;
        tun_keyopts o;
        char *from = NULL, *expiry = NULL;
        int ca_only = 0;
        size_t ol = ps;
        while (ol > 0 && is_blank(line[ol - 1]))
            ol--;
        if (ol > 0 && tun_authkeys_parse_optlist(line, ol, &o, &from, &expiry, &ca_only) != 0) {
            tun_debug("principals line %u: bad options, skipped", lineno);
            continue;
        }
        if (ol == 0)
            memset(&o, 0, sizeof(o));
        enum tun_ak_result r = TUN_AK_FOUND;
        if (ca_only) {
            say(why, whysz, "principals line: cert-authority/principals/tunnel invalid here");
            r = TUN_AK_DENIED;
        } else if (tun_authkeys_expired(expiry, now)) {
            say(why, whysz, "principals line expired");
            r = TUN_AK_DENIED;
        } else if (from != NULL &&
                   (client_ip == NULL || tun_match_address_list(client_ip, from) != 1)) {
            say(why, whysz, "from= does not match %s", client_ip ? client_ip : "(unknown)");
            r = TUN_AK_DENIED;
        }
        free(from);
        free(expiry);
        if (r == TUN_AK_FOUND) {
            tun_debug("principals line %u: principal \"%s\" accepted", lineno, name);
            *opts = o;
        } else {
            tun_keyopts_free(&o);
        }
        return r;
    }
    return TUN_AK_NOT_FOUND;
}

int tun_keylist_has(const char *data, size_t len, const ssh_key *k)
{
    size_t pos = 0;
    while (pos < len) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        while (ll > 0 && is_blank(*line)) {
            line++;
            ll--;
        }
        if (ll == 0 || *line == '#')
            continue;
        ssh_key *x = NULL;
        if (ssh_key_parse_public_line(line, ll, &x, NULL) != 0)
            continue;
        int eq = !ssh_key_is_cert(x) && ssh_key_equal_public(x, k);
        ssh_key_free(x);
        if (eq)
            return 1;
    }
    return 0;
}
