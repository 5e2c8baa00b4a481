/*
 * tun_options.c - OpenSSH-compatible client options (ssh_config(5)).
 *
 * This file knows the keywords, their value syntax and their defaults.  The
 * configuration file reader (Host/Match blocks, Include, tokens) builds on
 * tun_options_apply().
 */
#include "tun_options.h"
#include "tun_knownhosts.h"
#include "tun_log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "sshtun/conn.h"

void tun_options_init(tun_options *o)
{
    memset(o, 0, sizeof(*o));
    o->port = -1;
    o->identities_only = -1;
    o->strict_host_key_checking = SHKC_UNSET;
    o->hash_known_hosts = -1;
    o->batch_mode = -1;
    o->connect_timeout = -1;
    o->connection_attempts = -1;
    o->address_family = -1;
    o->password_authentication = -1;
    o->kbd_interactive_authentication = -1;
    o->pubkey_authentication = -1;
    o->rekey_bytes = -1;
    o->rekey_seconds = -1;
    o->log_level = -1;
    o->server_alive_interval = -1;
    o->server_alive_count_max = -1;
    o->request_tty = -1;
    o->tcp_keepalive = -1;
}

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
}

void tun_options_free(tun_options *o)
{
    free(o->user);
    free(o->hostname);
    free_list(o->identity_files, o->n_identity_files);
    free_list(o->user_known_hosts, o->n_user_known_hosts);
    free_list(o->global_known_hosts, o->n_global_known_hosts);
    free(o->ciphers);
    free(o->macs);
    free(o->kex_algorithms);
    free(o->hostkey_algorithms);
    free(o->pubkey_algorithms);
    free(o->preferred_authentications);
    memset(o, 0, sizeof(*o));
}

static int yesno(const char *v, int *out)
{
    if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int set_str(char **field, const char *v)
{
    if (*field == NULL)
        *field = strdup(v);
    return 0;
}

static int set_int(int *field, int v)
{
    if (*field == -1)
        *field = v;
    return 0;
}

/* Space-separated file lists: IdentityFile accumulates; the known-hosts
 * keywords take the first line that sets them. */
static int set_files(char **v, int *n, const char *val, int accumulate)
{
    if (!accumulate && *n > 0)
        return 0;
    char *copy = strdup(val), *save = NULL;
    if (copy == NULL)
        return -1;
    for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (*n >= TUN_MAX_LIST)
            break;
        int dup = 0;
        for (int i = 0; i < *n; i++)
            if (strcmp(v[i], t) == 0)
                dup = 1;
        if (!dup)
            v[(*n)++] = strdup(t);
    }
    free(copy);
    return 0;
}

/* "1G", "500M", "default none" etc. */
static int parse_size(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || n < 0 || end == v)
        return -1;
    int64_t mult = 1;
    switch (toupper((unsigned char)*end)) {
    case '\0': break;
    case 'K': mult = 1024; end++; break;
    case 'M': mult = 1024 * 1024; end++; break;
    case 'G': mult = 1024LL * 1024 * 1024; end++; break;
    default: return -1;
    }
    if (*end != '\0' || n > INT64_MAX / mult)
        return -1;
    *out = n * mult;
    return 0;
}

/* "3600", "1h", "30m", "1h30m" */
static int parse_time(const char *v, int64_t *out)
{
    int64_t total = 0;
    const char *p = v;
    if (*p == '\0')
        return -1;
    while (*p) {
        char *end;
        errno = 0;
        long long n = strtoll(p, &end, 10);
        if (errno || n < 0 || end == p)
            return -1;
        int64_t m = 1;
        switch (tolower((unsigned char)*end)) {
        case '\0': break;
        case 's': end++; break;
        case 'm': m = 60; end++; break;
        case 'h': m = 3600; end++; break;
        case 'd': m = 86400; end++; break;
        case 'w': m = 604800; end++; break;
        default: return -1;
        }
        total += n * m;
        p = end;
    }
    *out = total;
    return 0;
}

static int bad_value(const char *where, const char *kw, const char *v)
{
    tun_error("%s: invalid %s value \"%s\"", where, kw, v);
    return -1;
}

int tun_options_apply(tun_options *o, const char *line, const char *where)
{
    char kw[64];
    while (isspace((unsigned char)*line))
        line++;
    size_t kl = strcspn(line, " \t=");
    if (kl == 0 || kl >= sizeof(kw)) {
        tun_error("%s: Bad configuration option: %s", where, line);
        return -1;
    }
    memcpy(kw, line, kl);
    kw[kl] = '\0';
    const char *v = line + kl;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v == '=')
        v++;
    while (*v == ' ' || *v == '\t')
        v++;
    char val[4096];
    snprintf(val, sizeof(val), "%s", v);
    size_t vl = strlen(val);
    while (vl && isspace((unsigned char)val[vl - 1]))
        val[--vl] = '\0';
    /* Quoted values ("..."): strip the quotes. */
    if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
        memmove(val, val + 1, vl - 2);
        val[vl - 2] = '\0';
    }
    int b;
    int64_t n64;
    if (strcasecmp(kw, "User") == 0)
        return set_str(&o->user, val);
    if (strcasecmp(kw, "HostName") == 0)
        return set_str(&o->hostname, val);
    if (strcasecmp(kw, "Port") == 0) {
        char *end;
        long p = strtol(val, &end, 10);
        if (*end || p <= 0 || p > 65535)
            return bad_value(where, kw, val);
        return set_int(&o->port, (int)p);
    }
    if (strcasecmp(kw, "IdentityFile") == 0)
        return set_files(o->identity_files, &o->n_identity_files, val, 1);
    if (strcasecmp(kw, "IdentitiesOnly") == 0) {
        if (yesno(val, &b) != 0)
            return bad_value(where, kw, val);
        return set_int(&o->identities_only, b);
    }
    if (strcasecmp(kw, "UserKnownHostsFile") == 0)
        return set_files(o->user_known_hosts, &o->n_user_known_hosts, val, 0);
    if (strcasecmp(kw, "GlobalKnownHostsFile") == 0)
        return set_files(o->global_known_hosts, &o->n_global_known_hosts, val, 0);
    if (strcasecmp(kw, "StrictHostKeyChecking") == 0) {
        int s;
        if (strcasecmp(val, "accept-new") == 0)
            s = SHKC_ACCEPT_NEW;
        else if (strcasecmp(val, "ask") == 0)
            s = SHKC_ASK;
        else if (strcasecmp(val, "off") == 0)
            s = SHKC_NO;
        else if (yesno(val, &b) == 0)
            s = b ? SHKC_YES : SHKC_NO;
        else
            return bad_value(where, kw, val);
        return set_int(&o->strict_host_key_checking, s);
    }
    if (strcasecmp(kw, "HashKnownHosts") == 0 || strcasecmp(kw, "BatchMode") == 0 ||
        strcasecmp(kw, "PasswordAuthentication") == 0 ||
        strcasecmp(kw, "KbdInteractiveAuthentication") == 0 ||
        strcasecmp(kw, "ChallengeResponseAuthentication") == 0 ||
        strcasecmp(kw, "PubkeyAuthentication") == 0 || strcasecmp(kw, "TCPKeepAlive") == 0) {
        if (yesno(val, &b) != 0)
            return bad_value(where, kw, val);
        int *f = strcasecmp(kw, "HashKnownHosts") == 0   ? &o->hash_known_hosts
                 : strcasecmp(kw, "BatchMode") == 0      ? &o->batch_mode
                 : strcasecmp(kw, "TCPKeepAlive") == 0   ? &o->tcp_keepalive
                 : strcasecmp(kw, "PubkeyAuthentication") == 0 ? &o->pubkey_authentication
                 : strcasecmp(kw, "PasswordAuthentication") == 0
                     ? &o->password_authentication
                     : &o->kbd_interactive_authentication;
        return set_int(f, b);
    }
    if (strcasecmp(kw, "ConnectTimeout") == 0) {
        if (strcasecmp(val, "none") == 0)
            return set_int(&o->connect_timeout, 0);
        if (parse_time(val, &n64) != 0 || n64 > INT_MAX)
            return bad_value(where, kw, val);
        return set_int(&o->connect_timeout, (int)n64);
    }
    if (strcasecmp(kw, "ConnectionAttempts") == 0 || strcasecmp(kw, "ServerAliveInterval") == 0 ||
        strcasecmp(kw, "ServerAliveCountMax") == 0) {
        int64_t t;
        if (strcasecmp(kw, "ServerAliveInterval") == 0 ? parse_time(val, &t) != 0
                                                        : parse_size(val, &t) != 0)
            return bad_value(where, kw, val);
        if (t > INT_MAX)
            return bad_value(where, kw, val);
        int *f = strcasecmp(kw, "ConnectionAttempts") == 0    ? &o->connection_attempts
                 : strcasecmp(kw, "ServerAliveInterval") == 0 ? &o->server_alive_interval
                                                               : &o->server_alive_count_max;
        return set_int(f, (int)t);
    }
    if (strcasecmp(kw, "AddressFamily") == 0) {
        int af;
        if (strcasecmp(val, "any") == 0)
            af = AF_UNSPEC;
        else if (strcasecmp(val, "inet") == 0)
            af = AF_INET;
        else if (strcasecmp(val, "inet6") == 0)
            af = AF_INET6;
        else
            return bad_value(where, kw, val);
        return set_int(&o->address_family, af);
    }
    if (strcasecmp(kw, "Ciphers") == 0)
        return set_str(&o->ciphers, val);
    if (strcasecmp(kw, "MACs") == 0)
        return set_str(&o->macs, val);
    if (strcasecmp(kw, "KexAlgorithms") == 0)
        return set_str(&o->kex_algorithms, val);
    if (strcasecmp(kw, "HostKeyAlgorithms") == 0)
        return set_str(&o->hostkey_algorithms, val);
    if (strcasecmp(kw, "PubkeyAcceptedAlgorithms") == 0 ||
        strcasecmp(kw, "PubkeyAcceptedKeyTypes") == 0)
        return set_str(&o->pubkey_algorithms, val);
    if (strcasecmp(kw, "PreferredAuthentications") == 0)
        return set_str(&o->preferred_authentications, val);
    if (strcasecmp(kw, "RekeyLimit") == 0) {
        char a[64] = "", t[64] = "";
        if (sscanf(val, "%63s %63s", a, t) < 1)
            return bad_value(where, kw, val);
        int64_t bytes = 0, secs = 0;
        if (strcasecmp(a, "default") != 0 && parse_size(a, &bytes) != 0)
            return bad_value(where, kw, val);
        if (t[0] && strcasecmp(t, "none") != 0 && strcasecmp(t, "default") != 0 &&
            parse_time(t, &secs) != 0)
            return bad_value(where, kw, val);
        if (o->rekey_bytes == -1) {
            o->rekey_bytes = bytes;
            o->rekey_seconds = secs;
        }
        return 0;
    }
    if (strcasecmp(kw, "LogLevel") == 0) {
        int l = tun_log_level_from_name(val);
        if (l < 0)
            return bad_value(where, kw, val);
        return set_int(&o->log_level, l);
    }
    if (strcasecmp(kw, "RequestTTY") == 0) {
        int t;
        if (strcasecmp(val, "force") == 0)
            t = 2;
        else if (strcasecmp(val, "auto") == 0)
            t = 3;
        else if (yesno(val, &b) == 0)
            t = b;
        else
            return bad_value(where, kw, val);
        return set_int(&o->request_tty, t);
    }
    tun_error("%s: Bad configuration option: %s", where, kw);
    return -1;
}

/* ---- algorithm lists ----------------------------------------------------------- */

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
    char out[4096] = "", names[4096];
    char mode = (spec[0] == '+' || spec[0] == '-' || spec[0] == '^') ? spec[0] : 0;
    snprintf(names, sizeof(names), "%s", mode ? spec + 1 : spec);
    /* Validate every name (patterns only for '-'). */
    char *save = NULL;
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", names);
    for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (mode == '-')
            continue;
        if (!ssh_namelist_has(supported, t)) {
            tun_error("Bad SSH2 %s spec '%s'.", what, spec);
            return NULL;
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

static int finish_list(char **field, const char *def, const char *supported, const char *what)
{
    char *l = tun_alg_list(*field ? *field : def, def, supported, what);
    if (l == NULL)
        return -1;
    free(*field);
    *field = l;
    return 0;
}

#define SUPPORTED_HOSTKEY SSH_DEFAULT_HOSTKEY_ALGS ",ssh-rsa"

int tun_options_finish(tun_options *o)
{
    if (o->port == -1)
        o->port = 22;
    if (o->identities_only == -1)
        o->identities_only = 0;
    if (o->n_identity_files == 0) {
        set_files(o->identity_files, &o->n_identity_files, "~/.ssh/id_ed25519", 1);
        set_files(o->identity_files, &o->n_identity_files, "~/.ssh/id_ecdsa", 1);
        set_files(o->identity_files, &o->n_identity_files, "~/.ssh/id_rsa", 1);
    }
    if (o->n_user_known_hosts == 0)
        set_files(o->user_known_hosts, &o->n_user_known_hosts,
                  "~/.ssh/known_hosts ~/.ssh/known_hosts2", 0);
    if (o->n_global_known_hosts == 0)
        set_files(o->global_known_hosts, &o->n_global_known_hosts,
                  "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2", 0);
    if (o->strict_host_key_checking == SHKC_UNSET)
        o->strict_host_key_checking = SHKC_ASK;
    if (o->hash_known_hosts == -1)
        o->hash_known_hosts = 0;
    if (o->batch_mode == -1)
        o->batch_mode = 0;
    if (o->connect_timeout == -1)
        o->connect_timeout = 0;
    if (o->connection_attempts <= 0)
        o->connection_attempts = 1;
    if (o->address_family == -1)
        o->address_family = AF_UNSPEC;
    if (o->password_authentication == -1)
        o->password_authentication = 1;
    if (o->kbd_interactive_authentication == -1)
        o->kbd_interactive_authentication = 1;
    if (o->pubkey_authentication == -1)
        o->pubkey_authentication = 1;
    if (o->rekey_bytes == -1) {
        o->rekey_bytes = 0;
        o->rekey_seconds = 0;
    }
    if (o->server_alive_interval == -1)
        o->server_alive_interval = 0;
    if (o->server_alive_count_max == -1)
        o->server_alive_count_max = 3;
    if (o->request_tty == -1)
        o->request_tty = 3;
    if (o->tcp_keepalive == -1)
        o->tcp_keepalive = 1;
    if (o->preferred_authentications == NULL)
        o->preferred_authentications = strdup("publickey,keyboard-interactive,password");
    if (finish_list(&o->ciphers, SSH_DEFAULT_CIPHERS, SSH_DEFAULT_CIPHERS, "cipher") != 0 ||
        finish_list(&o->macs, SSH_DEFAULT_MACS, SSH_DEFAULT_MACS, "MAC") != 0 ||
        finish_list(&o->kex_algorithms, SSH_DEFAULT_KEX, SSH_DEFAULT_KEX, "KexAlgorithms") != 0 ||
        finish_list(&o->hostkey_algorithms, SSH_DEFAULT_HOSTKEY_ALGS, SUPPORTED_HOSTKEY,
                    "HostKeyAlgorithms") != 0 ||
        finish_list(&o->pubkey_algorithms, SSH_DEFAULT_PUBKEY_ALGS, SUPPORTED_HOSTKEY,
                    "PubkeyAcceptedAlgorithms") != 0)
        return -1;
    return 0;
}
