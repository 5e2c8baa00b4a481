/*
 * tun_srvconfig.c - sshtund's configuration file (sshd_config(5) syntax).
 *
 * One table describes every keyword: how its value is parsed, whether it
 * is global or per-connection (and so allowed inside a Match block), and
 * where it is stored.  Values are checked when they are read, so a bad
 * line inside a Match block is reported at start-up with its file and
 * line, not when the first matching client connects.
 *
 * Semantics, following sshd_config(5):
 *  - The first value obtained for a keyword wins: `-o` options are applied
 *    before the file, and a later line never overrides an earlier one.
 *    Keywords that name several things accumulate instead: Port,
 *    ListenAddress, HostKey, Subsystem, AllowUsers, DenyUsers, AcceptEnv.
 *    A Subsystem whose name is already defined is ignored (first wins, so
 *    "-o Subsystem=sftp ..." replaces the file's definition).
 *  - A "Match" line starts a block that lasts until the next Match line or
 *    the end of the file that contains it (a Match inside an Included file
 *    does not leak into the including file).  Only per-connection keywords
 *    are allowed inside.  Criteria: "all" (alone), "User list" and
 *    "Address list"; when both are given, both must match.  An unknown or
 *    unsupported criterion is an error (ignoring it would apply the block
 *    to the wrong connections).  User patterns are case-sensitive (user
 *    names are); address lists use tun_match_address_list() (CIDR,
 *    wildcards, '!').
 *  - Each Match block's lines are parsed into the block's own tun_srvopts
 *    when the file is read; tun_srvcfg_for() merges the matching blocks in
 *    file order (first value wins, lists of the accumulating keywords are
 *    concatenated) and then takes every field still unset from the global
 *    values.  The result only borrows strings from the configuration.
 *  - In tun_srvcfg_for()'s result, "none" is folded away so callers need
 *    no special case: ForceCommand none and Banner none become NULL,
 *    AuthorizedKeysFile none and ChannelTimeout none become empty lists.
 *    PermitOpen/PermitListen keep "any"/"none" (tun_permit_match() reads
 *    them).
 *  - Include takes glob patterns; relative ones are under /etc/ssh.  A
 *    pattern matching nothing is not an error.  Includes nest at most 16
 *    deep (which also stops a file including itself).  Only regular files
 *    are read.
 *  - Keywords that sshd knows and whose absence changes nothing about who
 *    may log in or what they may do are accepted and ignored (with a
 *    debug message) so that Debian's stock sshd_config loads.  Keywords
 *    whose silent omission would weaken or change access control are
 *    refused ("... is not supported by sshtund").
 *
 * Values are split into words like sshd does: blanks separate words,
 * double or single quotes group, a backslash escapes a quote, a backslash
 * or a blank, and a word starting with '#' ends the line.  ForceCommand and
 * the command of Subsystem are taken verbatim (the rest of the line), since
 * they are handed to the shell.
 *
 * This is an independent implementation of the documented file format; no
 * code is taken from OpenSSH.
 */
#include "tun_srvconfig.h"
#include "tun_srvconfig_int.h"
#include "tun_cfgval.h"
#include "tun_authkeys.h"
#include "tun_log.h"
#include "tun_util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sshtun/cert.h"
#include "sshtun/conn.h"

#define CONFIG_MAX    (4 * 1024 * 1024)
#define SUPPORTED_CA_SIG SSH_DEFAULT_CA_SIG_ALGS ",ssh-rsa"
/* PubkeyAcceptedAlgorithms: sshd's default (OpenSSH 8.8 and later: no
 * ssh-rsa, SHA-1) and every name sshd knows; FIDO names are accepted in
 * the list although sshtund has no such keys (a configuration written for
 * sshd keeps working). */
#define SUPPORTED_PUBKEY_ALGS                                                                      \
    SSH_DEFAULT_PUBKEY_ALGS ",ssh-rsa,ssh-rsa-cert-v01@openssh.com,sk-ssh-ed25519@openssh.com,"    \
                            "sk-ecdsa-sha2-nistp256@openssh.com,"                                  \
                            "sk-ssh-ed25519-cert-v01@openssh.com,"                                 \
                            "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com"
#define INCLUDE_DEPTH 16
#define MAX_WORDS     256
#define INCLUDE_BASE  "/etc/ssh"


/* ---- keyword table ----------------------------------------------------------- */

enum ktype {
    /* global (tun_srvcfg fields) */
    K_PORT,
    K_LISTEN,
    K_HOSTKEY,
    K_HOSTCERT,
    K_GSTR, /* one word, first wins */
    K_MAXSTARTUPS,
    K_GTIME, /* time, first wins */
    K_ALGS,  /* algorithm spec, stored unresolved */
    K_REKEY,
    K_LOGLEVEL,
    K_SUBSYSTEM,
    K_GPOSINT, /* integer >= 1 */
    K_AF,
    K_USEPAM,
    K_COMPRESSION, /* yes/delayed/no */
    K_PROXYFROM,   /* ProxyProtocolFrom: address patterns/CIDRs, first line wins */
    K_PERSRCMAX,   /* PerSourceMaxStartups: N or none */
    K_NETBLOCK,    /* PerSourceNetBlockSize: v4[:v6] */
    /* per-connection (tun_srvopts fields) */
    K_AKFILE, /* AuthorizedKeysFile */
    K_BOOL,
    K_PRL,
    K_USERS,  /* AllowUsers/DenyUsers: accumulate */
    K_GROUPS, /* AllowGroups/DenyGroups: accumulate */
    K_INT,    /* integer >= 0 */
    K_TIME,
    K_FWD,
    K_PERMITOPEN,
    K_PERMITLISTEN,
    K_GATEWAY,
    K_CHANTIMEOUT,
    K_TIME_NONE, /* time or "none" (0) */
    K_ENV,       /* AcceptEnv: accumulate */
    K_SETENV,    /* NAME=value words, first line wins */
    K_CMD,       /* rest of the line, first wins */
    K_OSTR,      /* one word, first wins (Banner) */
    K_CASIG,     /* CASignatureAlgorithms: resolved when read */
    K_PKALGS,    /* PubkeyAcceptedAlgorithms: resolved when read */
    /* accepted and ignored, refused */
    K_IGNORED,      /* any value */
    K_IGNORED_BOOL, /* yes/no */
    K_IF_VALUE,     /* ignored when the value is `arg`, else unsupported */
    K_DEPRECATED,
    K_UNSUPPORTED,
};

#define KF_MATCH 0x1 /* allowed inside Match */
#define KF_OPTS  0x2 /* field is in tun_srvopts (else in tun_srvcfg) */
#define KF_CONN  (KF_MATCH | KF_OPTS)

#define G(f) offsetof(tun_srvcfg, f)
#define O(f) offsetof(tun_srvopts, f)

typedef struct kw {
    const char *name;
    enum ktype type;
    unsigned flags;
    size_t off;      /* field */
    size_t noff;     /* list count field */
    const char *arg; /* K_IF_VALUE: the value accepted as a no-op */
} kw;

static const kw keywords[] = {
    /* global */
    {"Port", K_PORT, 0, 0, 0, NULL},
    {"ListenAddress", K_LISTEN, 0, 0, 0, NULL},
    {"HostKey", K_HOSTKEY, 0, 0, 0, NULL},
    {"HostCertificate", K_HOSTCERT, 0, 0, 0, NULL},
    {"PidFile", K_GSTR, 0, G(pid_file), 0, NULL},
    {"MaxStartups", K_MAXSTARTUPS, 0, 0, 0, NULL},
    {"LoginGraceTime", K_GTIME, 0, G(login_grace_time), 0, NULL},
    {"Ciphers", K_ALGS, 0, G(ciphers), 0, NULL},
    {"MACs", K_ALGS, 0, G(macs), 0, NULL},
    {"KexAlgorithms", K_ALGS, 0, G(kex_algorithms), 0, NULL},
    {"HostKeyAlgorithms", K_ALGS, 0, G(hostkey_algorithms), 0, NULL},
    {"RekeyLimit", K_REKEY, 0, 0, 0, NULL},
    {"LogLevel", K_LOGLEVEL, 0, 0, 0, NULL},
    {"Subsystem", K_SUBSYSTEM, 0, 0, 0, NULL},
    {"SshtundUser", K_GSTR, 0, G(sshtund_user), 0, NULL},
    {"MaxChannels", K_GPOSINT, 0, G(max_channels), 0, NULL},
    {"Workers", K_GPOSINT, 0, G(workers), 0, NULL},
    {"AddressFamily", K_AF, 0, 0, 0, NULL},
    {"UsePAM", K_USEPAM, 0, 0, 0, NULL},
    {"StrictModes", K_BOOL, 0, G(strict_modes), 0, NULL},
    {"PermitUserEnvironment", K_GSTR, 0, G(permit_user_environment), 0, NULL},
    {"Compression", K_COMPRESSION, 0, G(compression), 0, NULL},
    {"ProxyProtocol", K_BOOL, 0, G(proxy_protocol), 0, NULL},
    {"ProxyProtocolFrom", K_PROXYFROM, 0, 0, 0, NULL},
    /* per connection */
    {"AuthorizedKeysFile", K_AKFILE, KF_CONN, O(authorized_keys_file), O(n_authorized_keys_file),
     NULL},
    {"PasswordAuthentication", K_BOOL, KF_CONN, O(password_authentication), 0, NULL},
    {"PubkeyAuthentication", K_BOOL, KF_CONN, O(pubkey_authentication), 0, NULL},
    {"PermitRootLogin", K_PRL, KF_CONN, O(permit_root_login), 0, NULL},
    {"AllowUsers", K_USERS, KF_CONN, O(allow_users), O(n_allow_users), NULL},
    {"DenyUsers", K_USERS, KF_CONN, O(deny_users), O(n_deny_users), NULL},
    {"AllowGroups", K_GROUPS, KF_CONN, O(allow_groups), O(n_allow_groups), NULL},
    {"DenyGroups", K_GROUPS, KF_CONN, O(deny_groups), O(n_deny_groups), NULL},
    {"MaxSessions", K_INT, KF_CONN, O(max_sessions), 0, NULL},
    {"MaxAuthTries", K_INT, KF_CONN, O(max_auth_tries), 0, NULL},
    {"ClientAliveInterval", K_TIME, KF_CONN, O(client_alive_interval), 0, NULL},
    {"ClientAliveCountMax", K_INT, KF_CONN, O(client_alive_count_max), 0, NULL},
    {"AllowTcpForwarding", K_FWD, KF_CONN, O(allow_tcp_forwarding), 0, NULL},
    {"AllowStreamLocalForwarding", K_FWD, KF_CONN, O(allow_streamlocal_forwarding), 0, NULL},
    {"PermitOpen", K_PERMITOPEN, KF_CONN, O(permit_open), O(n_permit_open), NULL},
    {"PermitListen", K_PERMITLISTEN, KF_CONN, O(permit_listen), O(n_permit_listen), NULL},
    {"GatewayPorts", K_GATEWAY, KF_CONN, O(gateway_ports), 0, NULL},
    {"ChannelTimeout", K_CHANTIMEOUT, KF_CONN, O(channel_timeout), O(n_channel_timeout), NULL},
    {"UnusedConnectionTimeout", K_TIME_NONE, KF_CONN, O(unused_connection_timeout), 0, NULL},
    {"AcceptEnv", K_ENV, KF_CONN, O(accept_env), O(n_accept_env), NULL},
    {"SetEnv", K_SETENV, KF_CONN, O(set_env), O(n_set_env), NULL},
    {"ForceCommand", K_CMD, KF_CONN, O(force_command), 0, NULL},
    {"PermitTTY", K_BOOL, KF_CONN, O(permit_tty), 0, NULL},
    {"Banner", K_OSTR, KF_CONN, O(banner), 0, NULL},
    {"AllowAgentForwarding", K_BOOL, KF_CONN, O(allow_agent_forwarding), 0, NULL},
    {"X11Forwarding", K_BOOL, KF_CONN, O(x11_forwarding), 0, NULL},
    {"X11DisplayOffset", K_INT, KF_CONN, O(x11_display_offset), 0, NULL},
    {"X11UseLocalhost", K_BOOL, KF_CONN, O(x11_use_localhost), 0, NULL},
    {"XAuthLocation", K_GSTR, 0, G(xauth_location), 0, NULL},
    {"TrustedUserCAKeys", K_OSTR, KF_CONN, O(trusted_user_ca_keys), 0, NULL},
    {"RevokedKeys", K_OSTR, KF_CONN, O(revoked_keys), 0, NULL},
    {"CASignatureAlgorithms", K_CASIG, KF_CONN, O(ca_signature_algorithms), 0, NULL},
    {"AuthorizedPrincipalsFile", K_OSTR, KF_CONN, O(authorized_principals_file), 0, NULL},
    {"AuthorizedPrincipalsCommand", K_CMD, KF_CONN, O(authorized_principals_command), 0, NULL},
    {"AuthorizedPrincipalsCommandUser", K_OSTR, KF_CONN, O(authorized_principals_command_user), 0,
     NULL},
    {"AuthorizedKeysCommand", K_CMD, KF_CONN, O(authorized_keys_command), 0, NULL},
    {"AuthorizedKeysCommandUser", K_OSTR, KF_CONN, O(authorized_keys_command_user), 0, NULL},
    /* Accepted, no effect.  Each is either about a feature sshtund does not
     * have (so nothing it would allow exists: tun devices, GSSAPI, Kerberos, host-based
     * authentication, user rc and environment files, motd/lastlog) or about tuning that changes no
     * access decision (logging target, keepalives, DNS, QoS, ...). */
    {"KbdInteractiveAuthentication", K_IGNORED_BOOL, KF_MATCH, 0, 0, NULL},
    {"ChallengeResponseAuthentication", K_IGNORED_BOOL, 0, 0, 0, NULL},
    {"PermitTunnel", K_IGNORED, KF_MATCH, 0, 0, NULL},
    {"PermitUserRC", K_IGNORED_BOOL, KF_MATCH, 0, 0, NULL},
    {"PermitEmptyPasswords", K_IGNORED_BOOL, KF_MATCH, 0, 0, NULL},
    {"HostbasedAuthentication", K_IGNORED_BOOL, KF_MATCH, 0, 0, NULL},
    {"HostbasedAcceptedAlgorithms", K_IGNORED, KF_MATCH, 0, 0, NULL},
    {"HostbasedUsesNameFromPacketOnly", K_IGNORED_BOOL, KF_MATCH, 0, 0, NULL},
    {"IgnoreRhosts", K_IGNORED, KF_MATCH, 0, 0, NULL},
    {"IgnoreUserKnownHosts", K_IGNORED_BOOL, KF_MATCH, 0, 0, NULL},
    {"GSSAPIAuthentication", K_IGNORED_BOOL, KF_MATCH, 0, 0, NULL},
    {"GSSAPICleanupCredentials", K_IGNORED_BOOL, 0, 0, 0, NULL},
    {"GSSAPIStrictAcceptorCheck", K_IGNORED_BOOL, 0, 0, 0, NULL},
    {"GSSAPIKeyExchange", K_IGNORED_BOOL, 0, 0, 0, NULL},
    {"GSSAPIStoreCredentialsOnRekey", K_IGNORED_BOOL, 0, 0, 0, NULL},
    {"KerberosAuthentication", K_IGNORED_BOOL, KF_MATCH, 0, 0, NULL},
    {"KerberosOrLocalPasswd", K_IGNORED_BOOL, 0, 0, 0, NULL},
    {"KerberosTicketCleanup", K_IGNORED_BOOL, 0, 0, 0, NULL},
    {"KerberosGetAFSToken", K_IGNORED_BOOL, 0, 0, 0, NULL},
    {"PrintMotd", K_IGNORED_BOOL, 0, 0, 0, NULL},
    {"PrintLastLog", K_IGNORED_BOOL, 0, 0, 0, NULL},
    {"TCPKeepAlive", K_IGNORED_BOOL, 0, 0, 0, NULL},
    {"UseDNS", K_IGNORED_BOOL, 0, 0, 0, NULL},
    {"SyslogFacility", K_IGNORED, 0, 0, 0, NULL},
    {"LogVerbose", K_IGNORED, KF_MATCH, 0, 0, NULL},
    {"VersionAddendum", K_IGNORED, 0, 0, 0, NULL},
    {"DebianBanner", K_IGNORED_BOOL, 0, 0, 0, NULL},
    {"IPQoS", K_IGNORED, KF_MATCH, 0, 0, NULL},
    {"ModuliFile", K_IGNORED, 0, 0, 0, NULL},
    {"PerSourceMaxStartups", K_PERSRCMAX, 0, 0, 0, NULL},
    {"PerSourceNetBlockSize", K_NETBLOCK, 0, 0, 0, NULL},
    {"PerSourcePenalties", K_IGNORED, 0, 0, 0, NULL},
    {"PerSourcePenaltyExemptList", K_IGNORED, 0, 0, 0, NULL},
    {"StreamLocalBindMask", K_IGNORED, KF_MATCH, 0, 0, NULL},
    {"StreamLocalBindUnlink", K_IGNORED_BOOL, KF_MATCH, 0, 0, NULL},
    {"ExposeAuthInfo", K_IGNORED_BOOL, KF_MATCH, 0, 0, NULL},
    /* Accepted only with the value that changes nothing. */
    {"AuthenticationMethods", K_IF_VALUE, KF_MATCH, 0, 0, "any"},
    {"PubkeyAuthOptions", K_IF_VALUE, KF_MATCH, 0, 0, "none"},
    {"DisableForwarding", K_IF_VALUE, KF_MATCH, 0, 0, "no"},
    /* Removed from sshd long ago; sshd itself only warns. */
    {"Protocol", K_DEPRECATED, 0, 0, 0, NULL},
    {"UsePrivilegeSeparation", K_DEPRECATED, 0, 0, 0, NULL},
    {"UseLogin", K_DEPRECATED, 0, 0, 0, NULL},
    {"RSAAuthentication", K_DEPRECATED, KF_MATCH, 0, 0, NULL},
    {"RhostsRSAAuthentication", K_DEPRECATED, KF_MATCH, 0, 0, NULL},
    {"ServerKeyBits", K_DEPRECATED, 0, 0, 0, NULL},
    {"KeyRegenerationInterval", K_DEPRECATED, 0, 0, 0, NULL},
    /* Refused: without them, different users or keys would get in, or
     * users would get more than the administrator meant to give. */
    /* ("none", their default, is accepted: stock files spell it out.) */
    {"ChrootDirectory", K_IF_VALUE, KF_MATCH, 0, 0, "none"},
    {"PubkeyAcceptedAlgorithms", K_PKALGS, KF_CONN, O(pubkey_accepted_algorithms), 0, NULL},
    {"PubkeyAcceptedKeyTypes", K_PKALGS, KF_CONN, O(pubkey_accepted_algorithms), 0, NULL},
    {"RequiredRSASize", K_UNSUPPORTED, KF_MATCH, 0, 0, NULL},
    {"HostKeyAgent", K_UNSUPPORTED, 0, 0, 0, NULL},
    {"SecurityKeyProvider", K_UNSUPPORTED, 0, 0, 0, NULL},
    {"RDomain", K_UNSUPPORTED, KF_MATCH, 0, 0, NULL},
    {"PAMServiceName", K_UNSUPPORTED, KF_MATCH, 0, 0, NULL},
};
#define N_KEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

#define FIELD(base, off, type) ((type *)((char *)(base) + (off)))

static const kw *lookup(const char *name)
{
    for (size_t i = 0; i < N_KEYWORDS; i++)
        if (strcasecmp(keywords[i].name, name) == 0)
            return &keywords[i];
    return NULL;
}

/* ---- init / free --------------------------------------------------------------- */

void srvcfg_opts_init(tun_srvopts *o)
{
    memset(o, 0, sizeof(*o));
    o->password_authentication = -1;
    o->pubkey_authentication = -1;
    o->permit_root_login = PRL_UNSET;
    o->max_sessions = -1;
    o->max_auth_tries = -1;
    o->client_alive_interval = -1;
    o->client_alive_count_max = -1;
    o->allow_tcp_forwarding = FWA_UNSET;
    o->allow_streamlocal_forwarding = FWA_UNSET;
    o->gateway_ports = GWP_UNSET;
    o->unused_connection_timeout = -1;
    o->permit_tty = -1;
    o->allow_agent_forwarding = -1;
    o->x11_forwarding = -1;
    o->x11_display_offset = -1;
    o->x11_use_localhost = -1;
}

static void free_list(char **v, int *n)
{
    for (int i = 0; i < *n; i++) {
        free(v[i]);
        v[i] = NULL;
    }
    *n = 0;
}

static void opts_free(tun_srvopts *o)
{
    free_list(o->authorized_keys_file, &o->n_authorized_keys_file);
    free_list(o->allow_users, &o->n_allow_users);
    free_list(o->deny_users, &o->n_deny_users);
    free_list(o->allow_groups, &o->n_allow_groups);
    free_list(o->deny_groups, &o->n_deny_groups);
    free_list(o->permit_open, &o->n_permit_open);
    free_list(o->permit_listen, &o->n_permit_listen);
    free_list(o->channel_timeout, &o->n_channel_timeout);
    free_list(o->accept_env, &o->n_accept_env);
    free_list(o->set_env, &o->n_set_env);
    free(o->force_command);
    free(o->banner);
    free(o->trusted_user_ca_keys);
    free(o->revoked_keys);
    free(o->ca_signature_algorithms);
    free(o->pubkey_accepted_algorithms);
    free(o->authorized_principals_file);
    free(o->authorized_principals_command);
    free(o->authorized_principals_command_user);
    free(o->authorized_keys_command);
    free(o->authorized_keys_command_user);
    srvcfg_opts_init(o);
}

void tun_srvcfg_init(tun_srvcfg *c)
{
    memset(c, 0, sizeof(*c));
    c->max_startups_begin = c->max_startups_rate = c->max_startups_full = -1;
    c->login_grace_time = -1;
    c->rekey_bytes = -1;
    c->rekey_seconds = -1;
    c->log_level = -1;
    c->max_channels = -1;
    c->workers = -1;
    c->compression = -1;
    c->address_family = -1;
    c->strict_modes = -1;
    c->proxy_protocol = -1;
    c->per_source_max_startups = -1;
    c->per_source_bits4 = c->per_source_bits6 = -1;
    srvcfg_opts_init(&c->global);
    c->matches = NULL;
}

void tun_srvcfg_free(tun_srvcfg *c)
{
    c->n_ports = 0;
    free_list(c->listen_addresses, &c->n_listen_addresses);
    free_list(c->host_keys, &c->n_host_keys);
    free_list(c->host_certificates, &c->n_host_certificates);
    free(c->pid_file);
    free(c->ciphers);
    free(c->macs);
    free(c->kex_algorithms);
    free(c->hostkey_algorithms);
    free(c->pubkey_algs_any);
    for (int i = 0; i < c->n_subsystems; i++) {
        free(c->subsystem_name[i]);
        free(c->subsystem_command[i]);
    }
    free(c->sshtund_user);
    free(c->permit_user_environment);
    free(c->xauth_location);
    free(c->proxy_from);
    memset(c->listen_proxy, 0, sizeof(c->listen_proxy));
    opts_free(&c->global);
    tun_match_block *b = c->matches;
    while (b) {
        tun_match_block *next = b->next;
        free(b->users);
        free(b->addrs);
        opts_free(&b->opts);
        free(b);
        b = next;
    }
    tun_srvcfg_init(c);
}

/* ---- lexical ------------------------------------------------------------------- */

typedef struct words {
    char *buf;
    char *w[MAX_WORDS];
    size_t off[MAX_WORDS]; /* where each word starts in the source */
    int n;
} words;

/* Split `s` into words (see the comment at the top).  0; -1 for an
 * unterminated quote; -2 for too many words. */
static int tokenize(const char *s, words *w)
{
    w->n = 0;
    w->buf = malloc(strlen(s) + 1);
    if (w->buf == NULL)
        return -3;
    char *o = w->buf;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            return 0;
        if (w->n >= MAX_WORDS)
            return -2;
        w->off[w->n] = (size_t)(p - s);
        w->w[w->n++] = o;
        char quote = 0;
        while (*p) {
            if (quote) {
                if (*p == quote) {
                    quote = 0;
                    p++;
                    continue;
                }
                if (*p == '\\' && (p[1] == quote || p[1] == '\\'))
                    p++;
                *o++ = *p++;
                continue;
            }
            if (*p == ' ' || *p == '\t')
                break;
            if (*p == '"' || *p == '\'') {
                quote = *p++;
                continue;
            }
            if (*p == '\\' && (p[1] == '"' || p[1] == '\'' || p[1] == '\\' || p[1] == ' '))
                p++;
            *o++ = *p++;
        }
        if (quote)
            return -1;
        *o++ = '\0';
    }
}

static void words_free(words *w)
{
    free(w->buf);
    w->buf = NULL;
    w->n = 0;
}

/* A malloc'd copy of `s` without trailing blanks. */
static char *dup_trimmed(const char *s)
{
    size_t l = strlen(s);
    while (l && isspace((unsigned char)s[l - 1]))
        l--;
    char *r = malloc(l + 1);
    if (r) {
        memcpy(r, s, l);
        r[l] = '\0';
    }
    return r;
}

/* ---- value checks ----------------------------------------------------------------- */

/* AuthorizedKeysFile: only the tokens %h, %u and %% are defined. */
static int valid_akfile(const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p != '%')
            continue;
        p++;
        if (*p != '%' && *p != 'h' && *p != 'u')
            return 0;
    }
    return *s != '\0';
}

/* ChannelTimeout "type=interval": the type is a channel type name or a
 * pattern for one ("session", "direct-tcpip", "global", "*"...). */
/* An environment variable name: letters, digits, '_', not starting with a
 * digit. */
static int valid_env_name(const char *s, size_t n)
{
    if (n == 0 || isdigit((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

static int valid_channel_timeout(const char *s)
{
    const char *eq = strchr(s, '=');
    int t;
    if (eq == NULL || eq == s)
        return 0;
    for (const char *p = s; p < eq; p++)
        if (!isalnum((unsigned char)*p) && strchr("-_.@:*?", *p) == NULL)
            return 0;
    return tun_parse_time_int(eq + 1, &t) == 0;
}

/* ---- storing -------------------------------------------------------------------- */

static int set_str(char **f, const char *v)
{
    if (*f != NULL)
        return 0;
    *f = strdup(v);
    return *f ? 0 : -1;
}

int srvcfg_list_has(char *const *v, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* Append (duplicates dropped).  Too many entries is an error: silently
 * dropping a DenyUsers pattern would let someone in. */
static int list_add(char **v, int *n, const char *s, const char *where, const char *kwname)
{
    if (srvcfg_list_has(v, *n, s))
        return 0;
    if (*n >= TUN_SRV_MAX_LIST) {
        tun_error("%s: too many %s entries (at most %d)", where, kwname, TUN_SRV_MAX_LIST);
        return -1;
    }
    if ((v[*n] = strdup(s)) == NULL)
        return -1;
    (*n)++;
    return 0;
}

/* Replace-once list (first line wins): all words of the line. */
static int list_set_once(char **v, int *n, const words *w, const char *where, const char *kwname)
{
    if (*n > 0)
        return 0;
    if (w->n > TUN_SRV_MAX_LIST) {
        tun_error("%s: too many %s entries (at most %d)", where, kwname, TUN_SRV_MAX_LIST);
        return -1;
    }
    for (int i = 0; i < w->n; i++) {
        if (list_add(v, n, w->w[i], where, kwname) != 0) {
            free_list(v, n);
            return -1;
        }
    }
    return 0;
}

static int one_arg(const words *w, const char *where, const char *kwname)
{
    if (w->n > 1) {
        tun_error("%s: %s: extra arguments at end of line", where, kwname);
        return -1;
    }
    return 0;
}

/* "any" and "none" stand alone in PermitOpen/PermitListen/... */
static int check_alone(const words *w, const char *where, const char *kwname, const char *a,
                       const char *b)
{
    for (int i = 0; i < w->n; i++) {
        if ((strcasecmp(w->w[i], a) == 0 || (b && strcasecmp(w->w[i], b) == 0)) && w->n > 1) {
            tun_error("%s: %s: \"%s\" must be the only argument", where, kwname, w->w[i]);
            return -1;
        }
    }
    return 0;
}

/* An algorithm list keyword (CASignatureAlgorithms, PubkeyAcceptedAlgorithms):
 * sshd's +/-/^ forms against `dflt`, every name (but in a "-" list) one of
 * `supported`, resolved now; the first occurrence wins. */
static int alg_list_kw(const words *w, const char *where, const kw *k, const char *v, void *base,
                       const char *dflt, const char *supported, const char *what)
{
    if (one_arg(w, where, k->name) != 0)
        return -1;
    /* Names checked here first, so that the message names the line. */
    const char *names = (*v == '+' || *v == '-' || *v == '^') ? v + 1 : v;
    char tmp[1024], *save = NULL;
    if (strlen(names) >= sizeof(tmp) || names[0] == '\0')
        return tun_cfg_bad_value(where, k->name, v);
    snprintf(tmp, sizeof(tmp), "%s", names);
    for (char *e = strtok_r(tmp, ",", &save); e && *v != '-'; e = strtok_r(NULL, ",", &save))
        if (!ssh_namelist_has(supported, e))
            return tun_cfg_bad_value(where, k->name, v);
    char *l = tun_alg_list(v, dflt, supported, what);
    if (l == NULL)
        return tun_cfg_bad_value(where, k->name, v);
    char **f = FIELD(base, k->off, char *);
    if (*f == NULL)
        *f = l;
    else
        free(l);
    return 0;
}

/* Apply one parsed keyword: global keywords to `c`, per-connection ones to
 * `o` (c->global or a Match block's options).  `rest` is the raw value
 * text (for the commands of ForceCommand and Subsystem). */
static int apply_kw(tun_srvcfg *c, tun_srvopts *o, const kw *k, const char *rest, const words *w,
                    const char *where)
{
    void *base = (k->flags & KF_OPTS) ? (void *)o : (void *)c;
    const char *v = w->n ? w->w[0] : "";
    long n;
    int b, t;

    switch (k->type) {
    case K_PORT:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (tun_parse_int(v, 1, 65535, &n) != 0)
            return tun_cfg_bad_value(where, k->name, v);
        for (int i = 0; i < c->n_ports; i++)
            if (c->ports[i] == (int)n)
                return 0;
        if (c->n_ports >= TUN_SRV_MAX_LIST) {
            tun_error("%s: too many %s entries (at most %d)", where, k->name, TUN_SRV_MAX_LIST);
            return -1;
        }
        c->ports[c->n_ports++] = (int)n;
        return 0;
    case K_LISTEN:
        if (w->n == 3 && strcasecmp(w->w[1], "rdomain") == 0) {
            tun_error("%s: ListenAddress ... rdomain is not supported by sshtund", where);
            return -1;
        }
        /* sshtund: "ListenAddress addr[:port] proxy-protocol" - connections
         * to it start with a PROXY protocol header (tun_proxyproto.h). */
        t = w->n == 2 && strcasecmp(w->w[1], "proxy-protocol") == 0;
        if (!t && one_arg(w, where, k->name) != 0)
            return -1;
        if (!tun_valid_hostport(v, 0, 1, 0))
            return tun_cfg_bad_value(where, k->name, v);
        if (list_add(c->listen_addresses, &c->n_listen_addresses, v, where, k->name) != 0)
            return -1;
        for (int i = 0; i < c->n_listen_addresses; i++)
            if (t && strcmp(c->listen_addresses[i], v) == 0)
                c->listen_proxy[i] = 1;
        return 0;
    case K_HOSTKEY:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        return list_add(c->host_keys, &c->n_host_keys, v, where, k->name);
    case K_HOSTCERT:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        return list_add(c->host_certificates, &c->n_host_certificates, v, where, k->name);
    case K_GSTR:
    case K_OSTR:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (*v == '\0')
            return tun_cfg_bad_value(where, k->name, v);
        return set_str(FIELD(base, k->off, char *), v);
    case K_MAXSTARTUPS: {
        long s, r, f;
        if (one_arg(w, where, k->name) != 0)
            return -1;
        const char *c1 = strchr(v, ':');
        if (c1 == NULL) {
            if (tun_parse_int(v, 1, INT_MAX, &f) != 0)
                return tun_cfg_bad_value(where, k->name, v);
            s = f; /* refuse beyond `full`, never early */
            r = 100;
        } else {
            char a[32], bb[32];
            const char *c2 = strchr(c1 + 1, ':');
            if (c2 == NULL || (size_t)(c1 - v) >= sizeof(a) || (size_t)(c2 - c1 - 1) >= sizeof(bb))
                return tun_cfg_bad_value(where, k->name, v);
            memcpy(a, v, (size_t)(c1 - v));
            a[c1 - v] = '\0';
            memcpy(bb, c1 + 1, (size_t)(c2 - c1 - 1));
            bb[c2 - c1 - 1] = '\0';
            if (tun_parse_int(a, 0, INT_MAX, &s) != 0 || tun_parse_int(bb, 1, 100, &r) != 0 ||
                tun_parse_int(c2 + 1, 1, INT_MAX, &f) != 0 || s > f)
                return tun_cfg_bad_value(where, k->name, v);
        }
        if (c->max_startups_full == -1) {
            c->max_startups_begin = (int)s;
            c->max_startups_rate = (int)r;
            c->max_startups_full = (int)f;
        }
        return 0;
    }
    case K_GTIME:
    case K_TIME:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (tun_parse_time_int(v, &t) != 0)
            return tun_cfg_bad_value(where, k->name, v);
        return tun_cfg_set_int(FIELD(base, k->off, int), t);
    case K_TIME_NONE:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (strcasecmp(v, "none") == 0)
            t = 0;
        else if (tun_parse_time_int(v, &t) != 0)
            return tun_cfg_bad_value(where, k->name, v);
        return tun_cfg_set_int(FIELD(base, k->off, int), t);
    case K_ALGS: {
        if (one_arg(w, where, k->name) != 0)
            return -1;
        /* Checked only for shape here; names and +/-/^ are resolved by
         * the caller against what the engine supports (tun_alg_list). */
        const char *names = (*v == '+' || *v == '-' || *v == '^') ? v + 1 : v;
        size_t l = strlen(names);
        if (l == 0 || names[0] == ',' || names[l - 1] == ',' || strstr(names, ",,"))
            return tun_cfg_bad_value(where, k->name, v);
        return set_str(FIELD(base, k->off, char *), v);
    }
    case K_REKEY: {
        int64_t bytes = 0, secs = 0;
        if (w->n > 2) {
            tun_error("%s: %s: extra arguments at end of line", where, k->name);
            return -1;
        }
        if (strcasecmp(v, "default") != 0 &&
            (tun_parse_size(v, &bytes) != 0 || (bytes != 0 && bytes < 16)))
            return tun_cfg_bad_value(where, k->name, v);
        if (w->n == 2 && strcasecmp(w->w[1], "none") != 0 && strcasecmp(w->w[1], "default") != 0 &&
            tun_parse_time(w->w[1], &secs) != 0)
            return tun_cfg_bad_value(where, k->name, w->w[1]);
        if (c->rekey_bytes == -1) {
            c->rekey_bytes = bytes;
            c->rekey_seconds = secs;
        }
        return 0;
    }
    case K_LOGLEVEL:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if ((t = tun_log_level_from_name(v)) < 0)
            return tun_cfg_bad_value(where, k->name, v);
        return tun_cfg_set_int(&c->log_level, t);
    case K_SUBSYSTEM: {
        if (w->n < 2) {
            tun_error("%s: Subsystem: missing command for \"%s\"", where, v);
            return -1;
        }
        for (const char *p = v; *p; p++)
            if (!isalnum((unsigned char)*p) && strchr("-_.@", *p) == NULL)
                return tun_cfg_bad_value(where, k->name, v);
        for (int i = 0; i < c->n_subsystems; i++) {
            if (strcmp(c->subsystem_name[i], v) == 0) {
                tun_debug("%s: Subsystem '%s' already defined, ignored", where, v);
                return 0;
            }
        }
        if (c->n_subsystems >= TUN_SRV_MAX_LIST) {
            tun_error("%s: too many %s entries (at most %d)", where, k->name, TUN_SRV_MAX_LIST);
            return -1;
        }
        char *name = strdup(v), *cmd = dup_trimmed(rest + w->off[1]);
        if (name == NULL || cmd == NULL) {
            free(name);
            free(cmd);
            return -1;
        }
        c->subsystem_name[c->n_subsystems] = name;
        c->subsystem_command[c->n_subsystems] = cmd;
        c->n_subsystems++;
        return 0;
    }
    case K_GPOSINT:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (tun_parse_int(v, 1, INT_MAX, &n) != 0)
            return tun_cfg_bad_value(where, k->name, v);
        return tun_cfg_set_int(FIELD(base, k->off, int), (int)n);
    case K_INT:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (tun_parse_int(v, 0, INT_MAX, &n) != 0)
            return tun_cfg_bad_value(where, k->name, v);
        return tun_cfg_set_int(FIELD(base, k->off, int), (int)n);
    case K_AF:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (strcasecmp(v, "any") == 0)
            t = AF_UNSPEC;
        else if (strcasecmp(v, "inet") == 0)
            t = AF_INET;
        else if (strcasecmp(v, "inet6") == 0)
            t = AF_INET6;
        else
            return tun_cfg_bad_value(where, k->name, v);
        return tun_cfg_set_int(&c->address_family, t);
    case K_PROXYFROM: {
        /* Words and commas both separate entries; the first line wins. */
        if (w->n == 0)
            return tun_cfg_bad_value(where, k->name, v);
        if (c->proxy_from != NULL)
            return 0;
        size_t len = 1;
        for (int i = 0; i < w->n; i++)
            len += strlen(w->w[i]) + 1;
        char *list = calloc(1, len);
        if (list == NULL)
            return -1;
        for (int i = 0; i < w->n; i++) {
            if (i)
                strcat(list, ",");
            strcat(list, w->w[i]);
        }
        if (!tun_valid_pattern_list(list, 1)) {
            int rv = tun_cfg_bad_value(where, k->name, list);
            free(list);
            return rv;
        }
        c->proxy_from = list;
        return 0;
    }
    case K_PERSRCMAX:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (strcasecmp(v, "none") == 0)
            n = 0;
        else if (tun_parse_int(v, 1, INT_MAX, &n) != 0)
            return tun_cfg_bad_value(where, k->name, v);
        return tun_cfg_set_int(&c->per_source_max_startups, (int)n);
    case K_NETBLOCK: {
        long b4, b6 = 128;
        char a[16];
        const char *colon = strchr(v, ':');
        if (one_arg(w, where, k->name) != 0)
            return -1;
        size_t l = colon ? (size_t)(colon - v) : strlen(v);
        if (l >= sizeof(a))
            return tun_cfg_bad_value(where, k->name, v);
        memcpy(a, v, l);
        a[l] = '\0';
        if (tun_parse_int(a, 0, 32, &b4) != 0 ||
            (colon && tun_parse_int(colon + 1, 0, 128, &b6) != 0))
            return tun_cfg_bad_value(where, k->name, v);
        if (c->per_source_bits4 == -1) {
            c->per_source_bits4 = (int)b4;
            c->per_source_bits6 = (int)b6;
        }
        return 0;
    }
    case K_COMPRESSION:
        /* sshd: "yes" and its old synonym "delayed" offer zlib@openssh.com,
         * which starts only after authentication; plain "zlib" is not
         * offered (an unauthenticated peer never reaches the inflater). */
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (strcasecmp(v, "delayed") == 0)
            b = 1;
        else if (tun_parse_yesno(v, &b) != 0)
            return tun_cfg_bad_value(where, k->name, v);
        return tun_cfg_set_int(FIELD(base, k->off, int), b);
    case K_USEPAM:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (tun_parse_yesno(v, &b) != 0)
            return tun_cfg_bad_value(where, k->name, v);
        if (b)
            tun_info("%s: warning: UsePAM yes is ignored: sshtund does not use PAM (no PAM "
                     "authentication, account or session modules run)",
                     where);
        else
            tun_debug("%s: UsePAM no", where);
        return 0;
    case K_AKFILE:
        for (int i = 0; i < w->n; i++)
            if (strcasecmp(w->w[i], "none") != 0 && !valid_akfile(w->w[i]))
                return tun_cfg_bad_value(where, k->name, w->w[i]);
        if (check_alone(w, where, k->name, "none", NULL) != 0)
            return -1;
        return list_set_once(FIELD(base, k->off, char *), FIELD(base, k->noff, int), w, where,
                             k->name);
    case K_BOOL:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (tun_parse_yesno(v, &b) != 0)
            return tun_cfg_bad_value(where, k->name, v);
        return tun_cfg_set_int(FIELD(base, k->off, int), b);
    case K_PRL:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (strcasecmp(v, "prohibit-password") == 0 || strcasecmp(v, "without-password") == 0)
            t = PRL_PROHIBIT_PASSWORD;
        else if (strcasecmp(v, "forced-commands-only") == 0)
            t = PRL_FORCED_ONLY;
        else if (tun_parse_yesno(v, &b) == 0)
            t = b ? PRL_YES : PRL_NO;
        else
            return tun_cfg_bad_value(where, k->name, v);
        return tun_cfg_set_int(&o->permit_root_login, t);
    case K_USERS:
        for (int i = 0; i < w->n; i++) {
            /* "user@host": the host part may be a CIDR block. */
            const char *at = strrchr(w->w[i], '@');
            if (w->w[i][0] == '\0' || (at && (at == w->w[i] || at[1] == '\0')) ||
                (at && strchr(at, '/') && !tun_valid_cidr(at + 1)))
                return tun_cfg_bad_value(where, k->name, w->w[i]);
        }
        for (int i = 0; i < w->n; i++)
            if (list_add(FIELD(base, k->off, char *), FIELD(base, k->noff, int), w->w[i], where,
                         k->name) != 0)
                return -1;
        return 0;
    case K_GROUPS:
        for (int i = 0; i < w->n; i++)
            if (w->w[i][0] == '\0')
                return tun_cfg_bad_value(where, k->name, w->w[i]);
        for (int i = 0; i < w->n; i++)
            if (list_add(FIELD(base, k->off, char *), FIELD(base, k->noff, int), w->w[i], where,
                         k->name) != 0)
                return -1;
        return 0;
    case K_FWD:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "all") == 0)
            t = FWA_ALL;
        else if (strcasecmp(v, "no") == 0)
            t = FWA_NO;
        else if (strcasecmp(v, "local") == 0)
            t = FWA_LOCAL;
        else if (strcasecmp(v, "remote") == 0)
            t = FWA_REMOTE;
        else
            return tun_cfg_bad_value(where, k->name, v);
        return tun_cfg_set_int(FIELD(base, k->off, int), t);
    case K_PERMITOPEN:
    case K_PERMITLISTEN:
        for (int i = 0; i < w->n; i++) {
            const char *e = w->w[i];
            if (strcasecmp(e, "any") == 0 || strcasecmp(e, "none") == 0)
                continue;
            int ok =
                k->type == K_PERMITOPEN ? tun_valid_hostport(e, 1, 0, 0) : tun_valid_hostport(e, 1, 0, 1);
            if (!ok)
                return tun_cfg_bad_value(where, k->name, e);
        }
        if (check_alone(w, where, k->name, "any", "none") != 0)
            return -1;
        return list_set_once(FIELD(base, k->off, char *), FIELD(base, k->noff, int), w, where,
                             k->name);
    case K_GATEWAY:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (strcasecmp(v, "clientspecified") == 0)
            t = GWP_CLIENTSPECIFIED;
        else if (tun_parse_yesno(v, &b) == 0)
            t = b ? GWP_YES : GWP_NO;
        else
            return tun_cfg_bad_value(where, k->name, v);
        return tun_cfg_set_int(&o->gateway_ports, t);
    case K_CHANTIMEOUT:
        for (int i = 0; i < w->n; i++)
            if (strcasecmp(w->w[i], "none") != 0 && !valid_channel_timeout(w->w[i]))
                return tun_cfg_bad_value(where, k->name, w->w[i]);
        if (check_alone(w, where, k->name, "none", NULL) != 0)
            return -1;
        return list_set_once(FIELD(base, k->off, char *), FIELD(base, k->noff, int), w, where,
                             k->name);
    case K_ENV:
        for (int i = 0; i < w->n; i++)
            if (w->w[i][0] == '\0' || strchr(w->w[i], '=') != NULL)
                return tun_cfg_bad_value(where, k->name, w->w[i]);
        for (int i = 0; i < w->n; i++)
            if (list_add(FIELD(base, k->off, char *), FIELD(base, k->noff, int), w->w[i], where,
                         k->name) != 0)
                return -1;
        return 0;
    case K_SETENV: {
        /* As sshd: every word NAME=value (quotes group a value with
         * blanks), the first SetEnv line wins, and of a name given twice
         * on it the first value. */
        char **list = FIELD(base, k->off, char *);
        int *cnt = FIELD(base, k->noff, int);
        for (int i = 0; i < w->n; i++) {
            const char *eq = strchr(w->w[i], '=');
            if (eq == NULL || eq == w->w[i] || !valid_env_name(w->w[i], (size_t)(eq - w->w[i])))
                return tun_cfg_bad_value(where, k->name, w->w[i]);
            if (strncmp(w->w[i], "LD_", 3) == 0) {
                /* The helper never passes them (tun_spawn_valid_env):
                 * better refused here than silently dropped. */
                tun_error("%s: SetEnv %.*s: variables of the dynamic linker are not "
                          "supported by sshtund",
                          where, (int)(eq - w->w[i]), w->w[i]);
                return -1;
            }
        }
        if (w->n == 0)
            return tun_cfg_bad_value(where, k->name, "");
        if (*cnt > 0)
            return 0;
        for (int i = 0; i < w->n; i++) {
            size_t nl = (size_t)(strchr(w->w[i], '=') - w->w[i]);
            int dup = 0;
            for (int j = 0; j < *cnt && !dup; j++)
                dup = strncmp(list[j], w->w[i], nl + 1) == 0;
            if (!dup && list_add(list, cnt, w->w[i], where, k->name) != 0) {
                free_list(list, cnt);
                return -1;
            }
        }
        return 0;
    }
    case K_CMD: {
        char **f = FIELD(base, k->off, char *);
        if (*f != NULL)
            return 0;
        /* A single quoted word ("ForceCommand 'internal-sftp'") loses its
         * quotes; anything longer goes to the shell as written. */
        *f = (w->n == 1 && (rest[0] == '"' || rest[0] == '\'')) ? strdup(v) : dup_trimmed(rest);
        if (*f == NULL)
            return -1;
        /* The Authorized*Command programs are run directly (no shell):
         * sshd wants an absolute path, checked here as sshd does. */
        if (strncasecmp(k->name, "Authorized", 10) == 0 && strcasecmp(*f, "none") != 0 &&
            v[0] != '/') {
            tun_error("%s: %s must be an absolute path", where, k->name);
            free(*f);
            *f = NULL;
            return -1;
        }
        return 0;
    }
    case K_CASIG:
        return alg_list_kw(w, where, k, v, base, SSH_DEFAULT_CA_SIG_ALGS, SUPPORTED_CA_SIG,
                           "CASignatureAlgorithms");
    case K_PKALGS:
        return alg_list_kw(w, where, k, v, base, SSH_DEFAULT_PUBKEY_ALGS, SUPPORTED_PUBKEY_ALGS,
                           "PubkeyAcceptedAlgorithms");
    case K_IGNORED_BOOL:
        if (one_arg(w, where, k->name) != 0)
            return -1;
        if (tun_parse_yesno(v, &b) != 0)
            return tun_cfg_bad_value(where, k->name, v);
        /* fall through */
    case K_IGNORED:
        tun_debug("%s: option %s has no effect in sshtund, ignored", where, k->name);
        return 0;
    case K_IF_VALUE:
        if (w->n == 1 && strcasecmp(v, k->arg) == 0) {
            tun_debug("%s: %s %s: nothing to do", where, k->name, k->arg);
            return 0;
        }
        tun_error("%s: %s other than \"%s\" is not supported by sshtund", where, k->name, k->arg);
        return -1;
    case K_DEPRECATED:
        tun_debug("%s: Deprecated option %s, ignored", where, k->name);
        return 0;
    case K_UNSUPPORTED:
        tun_error("%s: %s is not supported by sshtund", where, k->name);
        return -1;
    }
    return -1;
}

/* Parse a line for the global scope (`blk` NULL) or a Match block. */
static int apply_line(tun_srvcfg *c, tun_match_block *blk, const char *line, const char *where)
{
    char name[64];
    const char *rest;
    if (tun_cfg_split_keyword(line, name, sizeof(name), &rest) != 0) {
        tun_error("%s: Bad configuration option: %s", where, line);
        return -1;
    }
    const kw *k = lookup(name);
    if (k == NULL) {
        tun_error("%s: Bad configuration option: %s", where, name);
        return -1;
    }
    if (k->type == K_UNSUPPORTED) {
        tun_error("%s: %s is not supported by sshtund", where, k->name);
        return -1;
    }
    if (blk && !(k->flags & KF_MATCH)) {
        tun_error("%s: Directive '%s' is not allowed within a Match block", where, k->name);
        return -1;
    }
    words w;
    int rv = tokenize(rest, &w);
    if (rv != 0) {
        if (rv == -1)
            tun_error("%s: %s: unterminated quote", where, k->name);
        else if (rv == -2)
            tun_error("%s: %s: too many arguments", where, k->name);
        words_free(&w);
        return -1;
    }
    if (w.n == 0) {
        tun_error("%s: Missing argument for %s.", where, k->name);
        words_free(&w);
        return -1;
    }
    rv = apply_kw(c, blk ? &blk->opts : &c->global, k, rest, &w, where);
    words_free(&w);
    return rv;
}

int tun_srvcfg_apply(tun_srvcfg *c, const char *line, const char *where)
{
    char name[64];
    const char *rest;
    if (tun_cfg_split_keyword(line, name, sizeof(name), &rest) == 0 &&
        (strcasecmp(name, "Match") == 0 || strcasecmp(name, "Include") == 0)) {
        tun_error("%s: %s is only allowed in a configuration file", where, name);
        return -1;
    }
    return apply_line(c, NULL, line, where);
}

/* ---- Match ----------------------------------------------------------------------- */

/* Parse the criteria of a Match line into `b`.  0 or -1 after a message. */
static int parse_match(tun_match_block *b, const char *rest, const char *where)
{
    words w;
    int rv = tokenize(rest, &w);
    if (rv != 0 || w.n == 0) {
        tun_error("%s: %s", where, rv ? "Match: bad arguments" : "Missing Match criteria");
        words_free(&w);
        return -1;
    }
    rv = 0;
    for (int i = 0; i < w.n && rv == 0; i++) {
        const char *crit = w.w[i];
        if (strcasecmp(crit, "all") == 0) {
            if (w.n != 1) {
                tun_error("%s: Match: 'all' cannot be combined with other criteria", where);
                rv = -1;
            }
            b->all = 1;
            continue;
        }
        char **slot;
        int cidr;
        if (strcasecmp(crit, "user") == 0) {
            slot = &b->users;
            cidr = 0;
        } else if (strcasecmp(crit, "address") == 0) {
            slot = &b->addrs;
            cidr = 1;
        } else {
            static const char *const known[] = {
                "group",        "host",   "localaddress", "localport",   "rdomain",
                "invalid-user", "tagged", "version",      "sessiontype", "command"};
            int is_known = 0;
            for (size_t j = 0; j < sizeof(known) / sizeof(known[0]); j++)
                if (strcasecmp(crit, known[j]) == 0)
                    is_known = 1;
            if (is_known)
                tun_error("%s: Match %s is not supported by sshtund", where, crit);
            else
                tun_error("%s: Unsupported Match attribute %s", where, crit);
            rv = -1;
            break;
        }
        if (i + 1 >= w.n) {
            tun_error("%s: Match %s: missing argument", where, crit);
            rv = -1;
            break;
        }
        const char *arg = w.w[++i];
        if (*slot != NULL) {
            tun_error("%s: Match %s given twice", where, crit);
            rv = -1;
        } else if (!tun_valid_pattern_list(arg, cidr)) {
            tun_error("%s: Match %s: invalid pattern list \"%s\"", where, crit, arg);
            rv = -1;
        } else if ((*slot = strdup(arg)) == NULL) {
            rv = -1;
        }
    }
    words_free(&w);
    return rv;
}

/* ---- files ------------------------------------------------------------------------ */

typedef struct parser {
    tun_srvcfg *c;
    tun_match_block *block; /* current Match block, NULL: global */
    int depth;
    int errors;
} parser;

static void read_file(parser *x, const char *path, const char *where);

static tun_match_block *new_block(tun_srvcfg *c)
{
    tun_match_block *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    srvcfg_opts_init(&b->opts);
    tun_match_block **tail = &c->matches;
    while (*tail)
        tail = &(*tail)->next;
    *tail = b;
    return b;
}

static void include(parser *x, const char *rest, const char *where)
{
    if (x->depth >= INCLUDE_DEPTH) {
        tun_error("%s: Include nested too deeply", where);
        x->errors++;
        return;
    }
    words w;
    if (tokenize(rest, &w) != 0 || w.n == 0) {
        tun_error("%s: Include: %s", where, w.n == 0 ? "missing argument" : "bad arguments");
        x->errors++;
        words_free(&w);
        return;
    }
    for (int i = 0; i < w.n; i++) {
        char pat[PATH_MAX];
        int l = w.w[i][0] == '/' ? snprintf(pat, sizeof(pat), "%s", w.w[i])
                                 : snprintf(pat, sizeof(pat), "%s/%s", INCLUDE_BASE, w.w[i]);
        if (l < 0 || (size_t)l >= sizeof(pat)) {
            tun_error("%s: Include: path too long", where);
            x->errors++;
            continue;
        }
        char **paths;
        size_t np;
        int gr = srvcfg_inc_glob(x->c, pat, &paths, &np);
        if (gr == 1) {
            tun_debug("%s: Include: no match for %s", where, pat);
            continue;
        }
        if (gr == 3) {
            tun_error("%s: Include: %s is not among what the privileged side read", where, pat);
            x->errors++;
            continue;
        }
        if (gr != 0) {
            tun_error("%s: Include: glob failed for %s", where, pat);
            x->errors++;
            continue;
        }
        for (size_t j = 0; j < np; j++) {
            tun_debug("%s: including %s", where, paths[j]);
            x->depth++;
            read_file(x, paths[j], where);
            x->depth--;
        }
        srvcfg_inc_paths_free(paths, np);
    }
    words_free(&w);
}

static int parse_line(void *arg, char *line, const char *where)
{
    parser *x = arg;
    char kwname[64];
    const char *rest;
    if (tun_cfg_split_keyword(line, kwname, sizeof(kwname), &rest) != 0) {
        tun_error("%s: Bad configuration option: %s", where, line);
        x->errors++;
    } else if (strcasecmp(kwname, "Match") == 0) {
        x->block = new_block(x->c);
        if (x->block == NULL) {
            x->errors++;
            return -1;
        }
        if (parse_match(x->block, rest, where) != 0) {
            x->block->never = 1;
            x->errors++;
        }
    } else if (strcasecmp(kwname, "Include") == 0) {
        include(x, rest, where);
    } else if (apply_line(x->c, x->block, line, where) != 0) {
        x->errors++;
    }
    return 0;
}

/* Files and memory alike: a Match block started in a text ends with it. */
static void parse_lines(parser *x, char *data, const char *name)
{
    tun_match_block *saved = x->block;
    tun_cfg_lines(data, name, parse_line, x);
    x->block = saved;
}

static void read_file(parser *x, const char *path, const char *where)
{
    uint8_t *data;
    size_t len;
    char why[256];
    if (srvcfg_inc_read(x->c, path, CONFIG_MAX, &data, &len, why, sizeof(why)) != 0) {
        tun_error("%s: Include %s: %s", where, path, why);
        x->errors++;
        return;
    }
    tun_debug("Reading configuration data %s", path);
    parse_lines(x, (char *)data, path);
    free(data);
}

int tun_srvcfg_read(tun_srvcfg *c, const char *path)
{
    parser x = {c, NULL, 0, 0};
    struct stat st;
    uint8_t *data;
    size_t len;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        tun_error("%s: not a regular file", path);
        return -1;
    }
    if (tun_read_file(path, CONFIG_MAX, &data, &len) != 0) {
        tun_error("%s: %s", path, strerror(errno));
        return -1;
    }
    tun_debug("Reading configuration data %s", path);
    parse_lines(&x, (char *)data, path);
    free(data);
    return tun_cfg_verdict(path, x.errors);
}

int tun_srvcfg_read_mem(tun_srvcfg *c, const char *data, size_t len, const char *name)
{
    parser x = {c, NULL, 0, 0};
    char *copy = tun_cfg_text_copy(data, len, CONFIG_MAX, name);
    if (copy == NULL)
        return -1;
    parse_lines(&x, copy, name);
    free(copy);
    return tun_cfg_verdict(name, x.errors);
}
