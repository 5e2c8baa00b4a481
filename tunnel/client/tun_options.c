/*
 * tun_options.c - OpenSSH-compatible client options (ssh_config(5)).
 *
 * One table describes every keyword OpenSSH 9.2 knows: its value syntax
 * and where it goes.  Every such keyword is accepted or refused in one
 * line, as the README's "Configuration keywords" section lists:
 *
 *  - implemented keywords take effect;
 *  - keywords that change nothing essential for a tunnel tool (e.g.
 *    VisualHostKey) are accepted, and a value that asks for
 *    something is reported once (tun_options_report): at -v, or as a
 *    warning where the user relies on it (ForwardAgent, ForwardX11);
 *  - keywords whose silent omission would change where or how we connect
 *    or what we trust (PKCS11Provider, Tunnel...) are
 *    refused with a clear message, except for their "none" value;
 *  - OpenSSH's deprecated names are accepted silently, the ones it calls
 *    unsupported get its own one-line complaint, and its aliases map to
 *    the keyword they stand for.
 */
#include "tun_options.h"
#include "tun_cfgval.h"
#include "tun_fwdspec.h"
#include "tun_jumpspec.h"
#include "tun_log.h"
#include "tun_match.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "sshtun/cert.h"
#include "sshtun/conn.h"

enum ktype {
    K_STR,  /* first value wins */
    K_BOOL, /* yes/no */
    K_PORT,
    K_INT,       /* non-negative integer */
    K_TIME,      /* seconds with units */
    K_FILES_ACC, /* space-separated, accumulates (IdentityFile) */
    K_FILES,     /* space-separated, first line wins (UserKnownHostsFile) */
    K_LIST_ACC,  /* whole value appended to a list (LocalForward, SendEnv) */
    K_ALGS,      /* algorithm list */
    K_SHKC,
    K_TTY,
    K_AF,
    K_CONNTIMEOUT,
    K_REKEY,
    K_LOGLEVEL,
    K_FACILITY,    /* SyslogFacility: DAEMON, USER, AUTH, AUTHPRIV, LOCAL0-7 */
    K_SETENV,
    K_CONTROLMASTER,
    K_CONTROLPERSIST,
    K_SESSIONTYPE,
    K_WARNWEAK,    /* WarnWeakCrypto: yes, no, no-pq-kex */
    K_UHK,         /* UpdateHostKeys: yes, no, ask */
    K_CANON,       /* CanonicalizeHostname: yes, no, always, none */
    K_CNAMES,      /* CanonicalizePermittedCNAMEs: source:target rules, first line wins */
    K_RECONNECTIV, /* ReconnectInterval min[:max] */
    K_PROXYCMD,    /* ProxyCommand: first of it and ProxyJump wins */
    K_PROXYJUMP,   /* ProxyJump (tun_jumpspec.h) */
    K_IPQOS,       /* IPQoS interactive [bulk] */
    K_FWDAGENT,    /* ForwardAgent: yes, no, a socket path or $VAR */
    K_ESCAPE,      /* EscapeChar: a character, ^X or none */
    K_IGNORED,     /* known to OpenSSH, no effect here (off: slot, noff: KF_ flags) */
    K_UNSUPPORTED, /* known to OpenSSH, refused (its "none" value is accepted) */
    K_DEPRECATED,  /* OpenSSH ignores it silently, and so do we */
    K_OBSOLETE,    /* OpenSSH says "Unsupported option" and goes on; so do we */
};

#define KF_WARN 1 /* ignoring a value that asks for something: a warning, not debug */

#define F(field) offsetof(tun_options, field)
#define NOFIELD  ((size_t)-1)

typedef struct kw {
    const char *name;
    enum ktype type;
    size_t off;       /* field (K_IGNORED: slot in o->noeffect) */
    size_t noff;      /* count field for lists (K_IGNORED: KF_ flags) */
    const char *noop; /* K_IGNORED: a value besides no/none that asks for nothing */
} kw;

/* OpenSSH's old and alternative names (aliases, deprecated and withdrawn
 * keywords): read as OpenSSH reads them, named in sshtun(1) in one
 * sentence rather than one by one (and not offered by the completion). */
/* clang-format off */
#define LEGACY(name, type, off, noff) {name, type, off, noff, NULL}
/* clang-format on */

static const kw keywords[] = {
    {"User", K_STR, F(user), 0, NULL},
    {"HostName", K_STR, F(hostname), 0, NULL}, /* printed by -G as "hostname" first */
    {"Port", K_PORT, F(port), 0, NULL},
    {"IdentityFile", K_FILES_ACC, F(identity_files), F(n_identity_files), NULL},
    {"IdentitiesOnly", K_BOOL, F(identities_only), 0, NULL},
    {"IdentityAgent", K_STR, F(identity_agent), 0, NULL},
    {"UserKnownHostsFile", K_FILES, F(user_known_hosts), F(n_user_known_hosts), NULL},
    {"GlobalKnownHostsFile", K_FILES, F(global_known_hosts), F(n_global_known_hosts), NULL},
    {"StrictHostKeyChecking", K_SHKC, F(strict_host_key_checking), 0, NULL},
    {"HashKnownHosts", K_BOOL, F(hash_known_hosts), 0, NULL},
    {"BatchMode", K_BOOL, F(batch_mode), 0, NULL},
    {"ConnectTimeout", K_CONNTIMEOUT, F(connect_timeout), 0, NULL},
    {"ConnectionAttempts", K_INT, F(connection_attempts), 0, NULL},
    {"AddressFamily", K_AF, F(address_family), 0, NULL},
    {"Ciphers", K_ALGS, F(ciphers), 0, NULL},
    {"MACs", K_ALGS, F(macs), 0, NULL},
    {"KexAlgorithms", K_ALGS, F(kex_algorithms), 0, NULL},
    {"HostKeyAlgorithms", K_ALGS, F(hostkey_algorithms), 0, NULL},
    {"PubkeyAcceptedAlgorithms", K_ALGS, F(pubkey_algorithms), 0, NULL},
    {"PubkeyAcceptedKeyTypes", K_ALGS, F(pubkey_algorithms), 0, NULL},
    {"PreferredAuthentications", K_STR, F(preferred_authentications), 0, NULL},
    {"PasswordAuthentication", K_BOOL, F(password_authentication), 0, NULL},
    {"KbdInteractiveAuthentication", K_BOOL, F(kbd_interactive_authentication), 0, NULL},
    {"ChallengeResponseAuthentication", K_BOOL, F(kbd_interactive_authentication), 0, NULL},
    LEGACY("SkeyAuthentication", K_BOOL, F(kbd_interactive_authentication), 0),
    LEGACY("TISAuthentication", K_BOOL, F(kbd_interactive_authentication), 0),
    {"PubkeyAuthentication", K_BOOL, F(pubkey_authentication), 0, NULL},
    LEGACY("DSAAuthentication", K_BOOL, F(pubkey_authentication), 0),
    {"NumberOfPasswordPrompts", K_INT, F(number_of_password_prompts), 0, NULL},
    {"RekeyLimit", K_REKEY, 0, 0, NULL},
    {"LogLevel", K_LOGLEVEL, F(log_level), 0, NULL},
    {"SyslogFacility", K_FACILITY, F(syslog_facility), 0, NULL},
    {"ServerAliveInterval", K_TIME, F(server_alive_interval), 0, NULL},
    {"ServerAliveCountMax", K_INT, F(server_alive_count_max), 0, NULL},
    {"RequestTTY", K_TTY, F(request_tty), 0, NULL},
    {"TCPKeepAlive", K_BOOL, F(tcp_keepalive), 0, NULL},
    LEGACY("KeepAlive", K_BOOL, F(tcp_keepalive), 0),
    {"SendEnv", K_LIST_ACC, F(send_env), F(n_send_env), NULL},
    {"SetEnv", K_SETENV, 0, 0, NULL},
    {"LocalForward", K_LIST_ACC, F(local_forwards), F(n_local_forwards), NULL},
    {"RemoteForward", K_LIST_ACC, F(remote_forwards), F(n_remote_forwards), NULL},
    {"DynamicForward", K_LIST_ACC, F(dynamic_forwards), F(n_dynamic_forwards), NULL},
    {"GatewayPorts", K_BOOL, F(gateway_ports), 0, NULL},
    {"ExitOnForwardFailure", K_BOOL, F(exit_on_forward_failure), 0, NULL},
    {"ClearAllForwardings", K_BOOL, F(clear_all_forwardings), 0, NULL},
    {"PermitRemoteOpen", K_STR, F(permit_remote_open), 0, NULL},
    {"ControlMaster", K_CONTROLMASTER, F(control_master), 0, NULL},
    {"ControlPath", K_STR, F(control_path), 0, NULL},
    {"ControlPersist", K_CONTROLPERSIST, F(control_persist), 0, NULL},
    {"MaxSessions", K_INT, F(max_sessions), 0, NULL},
    {"Reconnect", K_BOOL, F(reconnect), 0, NULL},
    {"ReconnectInterval", K_RECONNECTIV, F(reconnect_min), 0, NULL},
    {"IgnoreUnknown", K_STR, F(ignore_unknown), 0, NULL},
    {"HostKeyAlias", K_STR, F(host_key_alias), 0, NULL},
    {"RemoteCommand", K_STR, F(remote_command), 0, NULL},
    {"Compression", K_BOOL, F(compression), 0, NULL},
    {"SessionType", K_SESSIONTYPE, F(session_type), 0, NULL},
    {"StdinNull", K_BOOL, F(stdin_null), 0, NULL},
    {"ForkAfterAuthentication", K_BOOL, F(fork_after_authentication), 0, NULL},
    {"RequiredRSASize", K_INT, F(required_rsa_size), 0, NULL},
    {"WarnWeakCrypto", K_WARNWEAK, F(warn_weak_crypto), 0, NULL},
    /* host keys and certificates (tun_hostkey.c, tun_idstore.c) */
    {"CertificateFile", K_FILES_ACC, F(certificate_files), F(n_certificate_files), NULL},
    {"RevokedHostKeys", K_FILES, F(revoked_host_keys), F(n_revoked_host_keys), NULL},
    {"KnownHostsCommand", K_STR, F(known_hosts_command), 0, NULL},
    {"CASignatureAlgorithms", K_ALGS, F(ca_signature_algorithms), 0, NULL},
    {"CheckHostIP", K_BOOL, F(check_host_ip), 0, NULL},
    {"UpdateHostKeys", K_UHK, F(update_host_keys), 0, NULL},
    /* host name canonicalisation (tun_canon.c) */
    {"CanonicalizeHostname", K_CANON, F(canonicalize_hostname), 0, NULL},
    {"CanonicalDomains", K_FILES, F(canonical_domains), F(n_canonical_domains), NULL},
    {"CanonicalizeMaxDots", K_INT, F(canonicalize_max_dots), 0, NULL},
    {"CanonicalizeFallbackLocal", K_BOOL, F(canonicalize_fallback_local), 0, NULL},
    {"CanonicalizePermittedCNAMEs", K_CNAMES, F(permitted_cnames), F(n_permitted_cnames), NULL},
    {"ProxyCommand", K_PROXYCMD, F(proxy_command), 0, NULL},
    {"ProxyJump", K_PROXYJUMP, F(proxy_jump), 0, NULL},
    {"ProxyUseFdpass", K_BOOL, F(proxy_use_fdpass), 0, NULL},
    {"BindAddress", K_STR, F(bind_address), 0, NULL},
    {"BindInterface", K_STR, F(bind_interface), 0, NULL},
    {"IPQoS", K_IPQOS, 0, 0, NULL},
    {"ForwardAgent", K_FWDAGENT, F(forward_agent), 0, NULL},
    {"ForwardX11", K_BOOL, F(forward_x11), 0, NULL},
    {"ForwardX11Trusted", K_BOOL, F(forward_x11_trusted), 0, NULL},
    {"ForwardX11Timeout", K_TIME, F(forward_x11_timeout), 0, NULL},
    {"XAuthLocation", K_STR, F(xauth_location), 0, NULL},
    {"EscapeChar", K_ESCAPE, F(escape_char), 0, NULL},
    {"EnableEscapeCommandline", K_BOOL, F(enable_escape_commandline), 0, NULL},
    {"LocalCommand", K_STR, F(local_command), 0, NULL},
    {"PermitLocalCommand", K_BOOL, F(permit_local_command), 0, NULL},
    {"VisualHostKey", K_BOOL, F(visual_host_key), 0, NULL},
    /* accepted, no effect in sshtun (reported by tun_options_report) */
    {"AddKeysToAgent", K_IGNORED, 0, 0, NULL},
    {"EnableSSHKeysign", K_IGNORED, 9, 0, NULL},
    {"FingerprintHash", K_IGNORED, 11, 0, "sha256"},
    {"GSSAPIAuthentication", K_IGNORED, 16, 0, NULL},
    {"GSSAPIClientIdentity", K_IGNORED, 17, 0, NULL},
    {"GSSAPIDelegateCredentials", K_IGNORED, 18, 0, NULL},
    {"GSSAPIKeyExchange", K_IGNORED, 19, 0, NULL},
    {"GSSAPIRenewalForcesRekey", K_IGNORED, 20, 0, NULL},
    {"GSSAPIServerIdentity", K_IGNORED, 21, 0, NULL},
    {"GSSAPITrustDns", K_IGNORED, 22, 0, NULL},
    {"GSSAPIKexAlgorithms", K_IGNORED, 23, 0, NULL},
    {"HostbasedAcceptedAlgorithms", K_IGNORED, 24, 0, NULL},
    LEGACY("HostbasedKeyTypes", K_IGNORED, 24, 0),
    {"HostbasedAuthentication", K_IGNORED, 25, 0, NULL},
    {"KbdInteractiveDevices", K_IGNORED, 27, 0, NULL},
    {"LogVerbose", K_IGNORED, 29, 0, NULL},
    {"NoHostAuthenticationForLocalhost", K_IGNORED, 30, 0, NULL},
    {"StreamLocalBindMask", K_IGNORED, 33, 0, NULL},
    {"StreamLocalBindUnlink", K_IGNORED, 34, 0, NULL},
    {"TunnelDevice", K_IGNORED, 36, 0, NULL},
    {"UseKeychain", K_IGNORED, 38, 0, NULL},
    {"VerifyHostKeyDNS", K_IGNORED, 39, 0, NULL},
    /* refused: ignoring them would silently connect differently or trust
     * differently ("none" is accepted: it asks for nothing) */
    {"PKCS11Provider", K_UNSUPPORTED, NOFIELD, 0, NULL},
    LEGACY("SmartcardDevice", K_UNSUPPORTED, NOFIELD, 0),
    {"SecurityKeyProvider", K_UNSUPPORTED, NOFIELD, 0, "internal"},
    {"Tunnel", K_UNSUPPORTED, NOFIELD, 0, "no"},
    /* OpenSSH's deprecated names: silently ignored, as there */
    LEGACY("Protocol", K_DEPRECATED, NOFIELD, 0),
    LEGACY("Cipher", K_DEPRECATED, NOFIELD, 0),
    LEGACY("FallBackToRsh", K_DEPRECATED, NOFIELD, 0),
    LEGACY("GlobalKnownHostsFile2", K_DEPRECATED, NOFIELD, 0),
    LEGACY("RhostsAuthentication", K_DEPRECATED, NOFIELD, 0),
    LEGACY("UserKnownHostsFile2", K_DEPRECATED, NOFIELD, 0),
    LEGACY("UseRoaming", K_DEPRECATED, NOFIELD, 0),
    LEGACY("UseRsh", K_DEPRECATED, NOFIELD, 0),
    LEGACY("UsePrivilegedPort", K_DEPRECATED, NOFIELD, 0),
    /* OpenSSH's "Unsupported option" names */
    LEGACY("AFSTokenPassing", K_OBSOLETE, NOFIELD, 0),
    LEGACY("KerberosAuthentication", K_OBSOLETE, NOFIELD, 0),
    LEGACY("KerberosTGTPassing", K_OBSOLETE, NOFIELD, 0),
    LEGACY("RSAAuthentication", K_OBSOLETE, NOFIELD, 0),
    LEGACY("RhostsRSAAuthentication", K_OBSOLETE, NOFIELD, 0),
    LEGACY("CompressionLevel", K_OBSOLETE, NOFIELD, 0),
};
#define N_KEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

#define FIELD(o, off, type) ((type *)((char *)(o) + (off)))

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
    o->number_of_password_prompts = -1;
    o->rekey_bytes = -1;
    o->rekey_seconds = -1;
    o->log_level = -1;
    o->syslog_facility = -1;
    o->server_alive_interval = -1;
    o->server_alive_count_max = -1;
    o->request_tty = TTY_UNSET;
    o->tcp_keepalive = -1;
    o->gateway_ports = -1;
    o->exit_on_forward_failure = -1;
    o->clear_all_forwardings = -1;
    o->control_master = -1;
    o->control_persist = -1;
    o->max_sessions = -1;
    o->reconnect = -1;
    o->reconnect_min = -1;
    o->reconnect_max = -1;
    o->compression = -1;
    o->session_type = SESSION_UNSET;
    o->stdin_null = -1;
    o->fork_after_authentication = -1;
    o->required_rsa_size = -1;
    o->warn_weak_crypto = -1;
    o->check_host_ip = -1;
    o->update_host_keys = UHK_UNSET;
    o->canonicalize_hostname = CANON_UNSET;
    o->canonicalize_max_dots = -1;
    o->canonicalize_fallback_local = -1;
    o->proxy_use_fdpass = -1;
    o->ip_qos_interactive = -1;
    o->ip_qos_bulk = -1;
    o->forward_agent = -1;
    o->forward_x11 = -1;
    o->forward_x11_trusted = -1;
    o->forward_x11_timeout = -1;
    o->escape_char = -1;
    o->enable_escape_commandline = -1;
    o->permit_local_command = -1;
    o->visual_host_key = -1;
}

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
}

void tun_options_free(tun_options *o)
{
    for (size_t i = 0; i < N_KEYWORDS; i++) {
        const kw *k = &keywords[i];
        if (k->type == K_STR || k->type == K_ALGS || k->type == K_PROXYCMD ||
            k->type == K_PROXYJUMP) {
            char **s = FIELD(o, k->off, char *);
            free(*s);
            *s = NULL;
        } else if (k->type == K_FILES || k->type == K_FILES_ACC || k->type == K_LIST_ACC ||
                   k->type == K_CNAMES) {
            int *n = FIELD(o, k->noff, int);
            free_list(FIELD(o, k->off, char *), *n);
            *n = 0;
        }
    }
    free_list(o->set_env, o->n_set_env);
    free_list(o->identity_files_written, TUN_MAX_LIST);
    free_list(o->certificate_files_written, TUN_MAX_LIST);
    free(o->original_host);
    free(o->config_file);
    free(o->forward_agent_path);
    free_list(o->noeffect, TUN_MAX_NOEFFECT);
    free_list(o->noeffect_where, TUN_MAX_NOEFFECT);
    memset(o, 0, sizeof(*o));
}

static const kw *lookup(const char *name)
{
    for (size_t i = 0; i < N_KEYWORDS; i++)
        if (strcasecmp(keywords[i].name, name) == 0)
            return &keywords[i];
    return NULL;
}

int tun_options_known(const char *name)
{
    return lookup(name) != NULL;
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

static int set_words(char **v, int *n, const char *val, int accumulate)
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

int tun_options_split(const char *line, char *kwout, size_t kwsz, char *val, size_t valsz)
{
    const char *v;
    if (tun_cfg_split_keyword(line, kwout, kwsz, &v) != 0)
        return -1;
    snprintf(val, valsz, "%s", v);
    size_t vl = strlen(val);
    while (vl && isspace((unsigned char)val[vl - 1]))
        val[--vl] = '\0';
    if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
        memmove(val, val + 1, vl - 2);
        val[vl - 2] = '\0';
    }
    return 0;
}

/* Keywords whose value is the rest of the line, '#' included (OpenSSH
 * takes the commands verbatim; every other value ends at a word that
 * starts with '#'). */
static int takes_command(const char *name)
{
    return strcasecmp(name, "RemoteCommand") == 0 || strcasecmp(name, "LocalCommand") == 0 ||
           strcasecmp(name, "ProxyCommand") == 0 || strcasecmp(name, "KnownHostsCommand") == 0;
}

void tun_options_strip_comment(char *val)
{
    int quoted = 0;
    for (char *p = val; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '#' && !quoted && (p == val || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            break;
        }
    }
    size_t l = strlen(val);
    while (l && isspace((unsigned char)val[l - 1]))
        val[--l] = '\0';
}

int tun_options_parse_escape(const char *v)
{
    /* "^X" is the control character X & 31 (X from '@' to DEL). */
    if (v[0] == '^' && v[1] && v[2] == '\0' && (unsigned char)v[1] >= 64 &&
        (unsigned char)v[1] < 128)
        return (unsigned char)v[1] & 31;
    if (v[0] && v[1] == '\0')
        return (unsigned char)v[0];
    if (strcasecmp(v, "none") == 0)
        return TUN_ESCAPE_NONE;
    return -1;
}

int tun_options_env_name_ok(const char *n)
{
    if (*n == '\0' || (*n >= '0' && *n <= '9'))
        return 0;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && *n != '_')
            return 0;
    return 1;
}

static int is_none(const char *v)
{
    return strcasecmp(v, "none") == 0;
}

/* IPQoS names (OpenSSH 9.2's table, in its order: -G prints the first
 * name of a value) and their IP_TOS values. */
static const struct {
    const char *name;
    int tos;
} ipqos[] = {
    {"none", TUN_QOS_NONE}, {"af11", 0x28},        {"af12", 0x30}, {"af13", 0x38},
    {"af21", 0x48},         {"af22", 0x50},        {"af23", 0x58}, {"af31", 0x68},
    {"af32", 0x70},         {"af33", 0x78},        {"af41", 0x88}, {"af42", 0x90},
    {"af43", 0x98},         {"cs0", 0x00},         {"cs1", 0x20},  {"cs2", 0x40},
    {"cs3", 0x60},          {"cs4", 0x80},         {"cs5", 0xa0},  {"cs6", 0xc0},
    {"cs7", 0xe0},          {"ef", 0xb8},          {"le", 0x04},   {"lowdelay", 0x10},
    {"throughput", 0x08},   {"reliability", 0x04},
};

/* SyslogFacility's names, as ssh's log_facility_number. */
static const struct {
    const char *name;
    int facility;
} facilities[] = {
    {"DAEMON", LOG_DAEMON}, {"USER", LOG_USER},     {"AUTH", LOG_AUTH},     {"AUTHPRIV", LOG_AUTHPRIV},
    {"LOCAL0", LOG_LOCAL0}, {"LOCAL1", LOG_LOCAL1}, {"LOCAL2", LOG_LOCAL2}, {"LOCAL3", LOG_LOCAL3},
    {"LOCAL4", LOG_LOCAL4}, {"LOCAL5", LOG_LOCAL5}, {"LOCAL6", LOG_LOCAL6}, {"LOCAL7", LOG_LOCAL7},
};

static int facility_from_name(const char *v)
{
    for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
        if (strcasecmp(v, facilities[i].name) == 0)
            return facilities[i].facility;
    return -1;
}

static const char *facility_name(int facility)
{
    for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
        if (facilities[i].facility == facility)
            return facilities[i].name;
    return "USER";
}

static int parse_ipqos(const char *s, int *out)
{
    for (size_t i = 0; i < sizeof(ipqos) / sizeof(ipqos[0]); i++) {
        if (strcasecmp(s, ipqos[i].name) == 0) {
            *out = ipqos[i].tos;
            return 0;
        }
    }
    char *end;
    long v = strtol(s, &end, 0);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 255)
        return -1;
    *out = (int)v;
    return 0;
}

const char *tun_ipqos_name(int tos, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof(ipqos) / sizeof(ipqos[0]); i++)
        if (ipqos[i].tos == tos)
            return ipqos[i].name;
    snprintf(buf, len, "0x%02x", (unsigned)tos & 0xff);
    return buf;
}

int tun_options_jump_flag(tun_options *o, const char *spec)
{
    if (o->proxy_jump != NULL) {
        tun_error("Only a single -J option is permitted (use commas to separate multiple "
                  "jump hops)");
        return -1;
    }
    if (o->proxy_command != NULL) {
        tun_error("Cannot specify -J with ProxyCommand");
        return -1;
    }
    if (!is_none(spec)) {
        tun_jumpspec j;
        if (tun_jumpspec_parse(spec, 1, &j) != 0) {
            tun_error("Invalid -J argument");
            return -1;
        }
        tun_jumpspec_free(&j);
    }
    o->proxy_jump = strdup(is_none(spec) ? "none" : spec);
    o->proxy_command = strdup("none");
    return o->proxy_jump && o->proxy_command ? 0 : -1;
}

const char *tun_options_jump_host(const tun_options *o, char *buf, size_t len)
{
    tun_jumpspec j;
    buf[0] = '\0';
    if (o->proxy_jump == NULL || is_none(o->proxy_jump) ||
        tun_jumpspec_parse(o->proxy_jump, 0, &j) != 0)
        return buf;
    snprintf(buf, len, "%s", j.host);
    tun_jumpspec_free(&j);
    return buf;
}

int tun_options_apply(tun_options *o, const char *line, const char *where)
{
    char name[64], val[4096];
    const char *rest;
    if (tun_cfg_split_keyword(line, name, sizeof(name), &rest) != 0) {
        tun_error("%s: Bad configuration option: %s", where, line);
        return -2;
    }
    if (takes_command(name)) {
        tun_options_split(line, name, sizeof(name), val, sizeof(val));
    } else {
        snprintf(val, sizeof(val), "%s", rest);
        tun_options_strip_comment(val);
        size_t l = strlen(val);
        if (l >= 2 && val[0] == '"' && val[l - 1] == '"') {
            memmove(val, val + 1, l - 2);
            val[l - 2] = '\0';
        }
    }
    const kw *k = lookup(name);
    if (k == NULL) {
        if (o->ignore_unknown && tun_match_pattern_list(name, o->ignore_unknown) == 1) {
            tun_debug2("%s: ignoring unknown option %s", where, name);
            return 0;
        }
        tun_error("%s: Bad configuration option: %s", where, name);
        return -2;
    }
    if (val[0] == '\0' && k->type != K_STR && k->type != K_DEPRECATED && k->type != K_OBSOLETE) {
        tun_error("%s: Missing argument for %s.", where, k->name);
        return -1;
    }
    int b;
    int64_t n64;
    switch (k->type) {
    case K_STR: {
        char **f = FIELD(o, k->off, char *);
        if (*f == NULL && (*f = strdup(val)) == NULL)
            return -1;
        return 0;
    }
    case K_ALGS: {
        char **f = FIELD(o, k->off, char *);
        if (*f == NULL && (*f = strdup(val)) == NULL)
            return -1;
        if (k->off == F(hostkey_algorithms))
            o->hostkey_algorithms_set = 1;
        return 0;
    }
    case K_BOOL:
        if (yesno(val, &b) != 0)
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(FIELD(o, k->off, int), b);
    case K_PORT: {
        char *end;
        long p = strtol(val, &end, 10);
        if (*end || p <= 0 || p > 65535)
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(FIELD(o, k->off, int), (int)p);
    }
    case K_INT:
        if (tun_parse_size(val, &n64) != 0 || n64 > INT_MAX)
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(FIELD(o, k->off, int), (int)n64);
    case K_TIME:
        if (tun_parse_time(val, &n64) != 0 || n64 > INT_MAX)
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(FIELD(o, k->off, int), (int)n64);
    case K_CONNTIMEOUT:
        if (strcasecmp(val, "none") == 0)
            return tun_cfg_set_int(&o->connect_timeout, 0);
        if (tun_parse_time(val, &n64) != 0 || n64 > INT_MAX)
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(&o->connect_timeout, (int)n64);
    case K_FILES_ACC:
    case K_FILES:
        return set_words(FIELD(o, k->off, char *), FIELD(o, k->noff, int), val,
                         k->type == K_FILES_ACC);
    case K_LIST_ACC: {
        char **v = FIELD(o, k->off, char *);
        int *n = FIELD(o, k->noff, int);
        if (k->off == F(send_env))
            return set_words(v, n, val, 1);
        if (*n < TUN_MAX_LIST)
            v[(*n)++] = strdup(val);
        return 0;
    }
    case K_SHKC: {
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
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(&o->strict_host_key_checking, s);
    }
    case K_TTY: {
        int t;
        if (strcasecmp(val, "force") == 0)
            t = TTY_FORCE;
        else if (strcasecmp(val, "auto") == 0)
            t = TTY_AUTO;
        else if (yesno(val, &b) == 0)
            t = b ? TTY_YES : TTY_NO;
        else
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(&o->request_tty, t);
    }
    case K_AF: {
        int af;
        if (strcasecmp(val, "any") == 0)
            af = AF_UNSPEC;
        else if (strcasecmp(val, "inet") == 0)
            af = AF_INET;
        else if (strcasecmp(val, "inet6") == 0)
            af = AF_INET6;
        else
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(&o->address_family, af);
    }
    case K_REKEY: {
        char a[64] = "", t[64] = "";
        if (sscanf(val, "%63s %63s", a, t) < 1)
            return tun_cfg_bad_value(where, k->name, val);
        int64_t bytes = 0, secs = 0;
        if (strcasecmp(a, "default") != 0 && (tun_parse_size(a, &bytes) != 0 || bytes < 16))
            return tun_cfg_bad_value(where, k->name, val);
        if (t[0] && strcasecmp(t, "none") != 0 && strcasecmp(t, "default") != 0 &&
            tun_parse_time(t, &secs) != 0)
            return tun_cfg_bad_value(where, k->name, val);
        if (o->rekey_bytes == -1) {
            o->rekey_bytes = bytes;
            o->rekey_seconds = secs;
        }
        return 0;
    }
    case K_FACILITY: {
        int fac = facility_from_name(val);
        if (fac < 0)
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(&o->syslog_facility, fac);
    }
    case K_LOGLEVEL: {
        int l = tun_log_level_from_name(val);
        if (l < 0)
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(&o->log_level, l);
    }
    case K_SETENV: {
        /* The first SetEnv line sets all its variables (ssh_config(5)). */
        if (o->set_env_set)
            return 0;
        o->set_env_set = 1;
        char *copy = strdup(val), *save = NULL;
        if (copy == NULL)
            return -1;
        for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
            if (strchr(t, '=') == NULL) {
                free(copy);
                return tun_cfg_bad_value(where, k->name, val);
            }
            if (o->n_set_env < TUN_MAX_LIST)
                o->set_env[o->n_set_env++] = strdup(t);
        }
        free(copy);
        return 0;
    }
    case K_CONTROLMASTER: {
        int m;
        if (strcasecmp(val, "ask") == 0)
            m = 2;
        else if (strcasecmp(val, "auto") == 0)
            m = 3;
        else if (strcasecmp(val, "autoask") == 0)
            m = 4;
        else if (yesno(val, &b) == 0)
            m = b;
        else
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(&o->control_master, m);
    }
    case K_CONTROLPERSIST: {
        int p;
        if (yesno(val, &b) == 0)
            p = b ? -2 : 0;
        else if (tun_parse_time(val, &n64) == 0 && n64 <= INT_MAX)
            p = n64 == 0 ? -2 : (int)n64;
        else
            return tun_cfg_bad_value(where, k->name, val);
        if (o->control_persist == -1)
            o->control_persist = p;
        return 0;
    }
    case K_WARNWEAK: {
        /* OpenSSH 10.1: yes/no/true/false, and no-pq-kex to turn off only
         * the post-quantum warning (the only one there is so far). */
        if (strcasecmp(val, "no-pq-kex") == 0)
            b = 0;
        else if (yesno(val, &b) != 0)
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(&o->warn_weak_crypto, b);
    }
    case K_CANON: {
        int cv;
        if (strcasecmp(val, "always") == 0)
            cv = CANON_ALWAYS;
        else if (is_none(val))
            cv = CANON_NO;
        else if (yesno(val, &b) == 0)
            cv = b ? CANON_YES : CANON_NO;
        else
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(&o->canonicalize_hostname, cv);
    }
    case K_CNAMES: {
        /* Each rule is "source-domains:target-domains" (pattern lists);
         * "none" (alone) sets the empty list. */
        char copy[4096], *save = NULL;
        snprintf(copy, sizeof(copy), "%s", val);
        for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
            char *colon = strchr(t, ':');
            if (is_none(t) && strcmp(val, t) == 0)
                break;
            if (colon == NULL || colon == t || colon[1] == '\0' || strchr(colon + 1, ':'))
                return tun_cfg_bad_value(where, k->name, val);
        }
        return set_words(FIELD(o, k->off, char *), FIELD(o, k->noff, int), val, 0);
    }
    case K_UHK: {
        int u;
        if (strcasecmp(val, "ask") == 0)
            u = UHK_ASK;
        else if (yesno(val, &b) == 0)
            u = b ? UHK_YES : UHK_NO;
        else
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(&o->update_host_keys, u);
    }
    case K_RECONNECTIV: {
        /* min[:max], each a time in whole seconds (units as for the other
         * times: 90, 1m30s); max defaults to 30 s, or to min when min is
         * longer. */
        char a[64], *colon;
        int64_t lo, hi = -1;
        snprintf(a, sizeof(a), "%s", val);
        colon = strchr(a, ':');
        if (colon)
            *colon = '\0';
        if (tun_parse_time(a, &lo) != 0 || lo < 1 || lo > 86400 ||
            (colon && (tun_parse_time(colon + 1, &hi) != 0 || hi < lo || hi > 86400)))
            return tun_cfg_bad_value(where, k->name, val);
        if (o->reconnect_min == -1) {
            o->reconnect_min = (int)lo;
            o->reconnect_max = (int)hi;
        }
        return 0;
    }
    case K_SESSIONTYPE: {
        int t;
        if (strcasecmp(val, "none") == 0)
            t = SESSION_NONE;
        else if (strcasecmp(val, "subsystem") == 0)
            t = SESSION_SUBSYSTEM;
        else if (strcasecmp(val, "default") == 0)
            t = SESSION_DEFAULT;
        else
            return tun_cfg_bad_value(where, k->name, val);
        return tun_cfg_set_int(&o->session_type, t);
    }
    case K_PROXYCMD:
        /* The first of ProxyCommand and ProxyJump wins, "ProxyJump none"
         * included (as OpenSSH 9.2 and 10 read them). */
        if (o->proxy_command == NULL && o->proxy_jump == NULL &&
            (o->proxy_command = strdup(val)) == NULL)
            return -1;
        return 0;
    case K_PROXYJUMP: {
        if (is_none(val)) {
            if (o->proxy_jump == NULL && o->proxy_command == NULL &&
                (o->proxy_jump = strdup("none")) == NULL)
                return -1;
            return 0;
        }
        tun_jumpspec j;
        if (tun_jumpspec_parse(val, 0, &j) != 0) {
            tun_error("%s: Invalid ProxyJump \"%s\"", where, val);
            return -1;
        }
        tun_jumpspec_free(&j);
        if (o->proxy_command == NULL && o->proxy_jump == NULL) {
            o->proxy_jump = strdup(val);
            o->proxy_command = strdup("none");
            if (o->proxy_jump == NULL || o->proxy_command == NULL)
                return -1;
        }
        return 0;
    }
    case K_IPQOS: {
        char q1[64] = "", q2[64] = "", more[8] = "";
        int n = sscanf(val, "%63s %63s %7s", q1, q2, more), v1, v2;
        if (n < 1 || n > 2 || parse_ipqos(q1, &v1) != 0 || (n == 2 && parse_ipqos(q2, &v2) != 0)) {
            tun_error("%s: Bad IPQoS value: %s", where, val);
            return -1;
        }
        if (n == 1)
            v2 = v1;
        if (o->ip_qos_interactive == -1) {
            o->ip_qos_interactive = v1;
            o->ip_qos_bulk = v2;
        }
        return 0;
    }
    case K_FWDAGENT:
        /* yes/no, or a socket path (~, %-tokens, ${VAR}) or $VAR naming
         * a variable that holds one (ssh_config(5)). */
        if (o->forward_agent != -1)
            return 0;
        if (yesno(val, &b) == 0)
            return tun_cfg_set_int(&o->forward_agent, b);
        if (val[0] == '$' && !tun_options_env_name_ok(val + 1)) {
            tun_error("%s: Invalid environment name %s", where, val);
            return -1;
        }
        if ((o->forward_agent_path = strdup(val)) == NULL)
            return -1;
        o->forward_agent = 1;
        return 0;
    case K_ESCAPE: {
        int e = tun_options_parse_escape(val);
        if (e == -1) {
            tun_error("%s: Bad escape character.", where);
            return -1;
        }
        return tun_cfg_set_int(&o->escape_char, e);
    }
    case K_IGNORED:
        /* First value wins, as for the keywords that do something; said
         * once, after all files are read (tun_options_report). */
        if (o->noeffect[k->off] == NULL) {
            o->noeffect[k->off] = strdup(val);
            o->noeffect_where[k->off] = strdup(where);
        }
        return 0;
    case K_UNSUPPORTED:
        if (is_none(val) || (k->noop && strcasecmp(val, k->noop) == 0))
            return 0;
        tun_error("%s: %s is not supported by sshtun", where, k->name);
        return -1;
    case K_DEPRECATED:
        tun_debug("%s: Deprecated option \"%s\"", where, k->name);
        return 0;
    case K_OBSOLETE:
        tun_error("%s: Unsupported option \"%s\"", where, k->name);
        return 0;
    }
    return -1;
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

#define SUPPORTED_HOSTKEY SSH_DEFAULT_HOSTKEY_ALGS ",ssh-rsa,ssh-rsa-cert-v01@openssh.com"
#define SUPPORTED_CA_SIG  SSH_DEFAULT_CA_SIG_ALGS ",ssh-rsa"

static void dflt(int *f, int v)
{
    if (*f == -1)
        *f = v;
}

int tun_options_finish(tun_options *o)
{
    /* UpdateHostKeys defaults to yes only while UserKnownHostsFile is
     * ssh's own (readconf.c's rule): keys are never learnt into files the
     * user chose for some other purpose. */
    int default_user_files =
        o->n_user_known_hosts == 0 ||
        (o->n_user_known_hosts == 1 && strcmp(o->user_known_hosts[0], "~/.ssh/known_hosts") == 0);
    dflt(&o->update_host_keys, default_user_files ? UHK_YES : UHK_NO);
    dflt(&o->check_host_ip, 0);
    dflt(&o->canonicalize_hostname, CANON_NO);
    dflt(&o->canonicalize_max_dots, 1);
    dflt(&o->canonicalize_fallback_local, 1);
    dflt(&o->port, 22);
    dflt(&o->identities_only, 0);
    if (o->n_identity_files == 0) {
        set_words(o->identity_files, &o->n_identity_files,
                  "~/.ssh/id_rsa ~/.ssh/id_ecdsa ~/.ssh/id_ed25519", 1);
    }
    if (o->n_user_known_hosts == 0)
        set_words(o->user_known_hosts, &o->n_user_known_hosts,
                  "~/.ssh/known_hosts ~/.ssh/known_hosts2", 0);
    if (o->n_global_known_hosts == 0)
        set_words(o->global_known_hosts, &o->n_global_known_hosts,
                  "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2", 0);
    dflt(&o->strict_host_key_checking, SHKC_ASK);
    dflt(&o->hash_known_hosts, 0);
    dflt(&o->batch_mode, 0);
    dflt(&o->connect_timeout, 0);
    dflt(&o->connection_attempts, 1);
    if (o->connection_attempts <= 0)
        o->connection_attempts = 1;
    dflt(&o->address_family, AF_UNSPEC);
    dflt(&o->password_authentication, 1);
    dflt(&o->kbd_interactive_authentication, 1);
    dflt(&o->pubkey_authentication, 1);
    dflt(&o->number_of_password_prompts, 3);
    if (o->rekey_bytes == -1) {
        o->rekey_bytes = 0;
        o->rekey_seconds = 0;
    }
    dflt(&o->log_level, TUN_LOG_INFO);
    dflt(&o->syslog_facility, LOG_USER);
    dflt(&o->reconnect, 0);
    if (o->reconnect_min == -1)
        o->reconnect_min = 1;
    if (o->reconnect_max == -1)
        o->reconnect_max = o->reconnect_min > 30 ? o->reconnect_min : 30;
    o->server_alive_interval_set = o->server_alive_interval != -1;
    /* A persistent tunnel must notice a dead path by itself: keepalives
     * every 15 s, 3 unanswered ones end the connection (45 s), unless the
     * user chose otherwise (ServerAliveInterval 0 turns them off). */
    dflt(&o->server_alive_interval, o->reconnect ? 15 : 0);
    dflt(&o->server_alive_count_max, 3);
    dflt(&o->request_tty, TTY_AUTO);
    dflt(&o->tcp_keepalive, 1);
    dflt(&o->gateway_ports, 0);
    dflt(&o->exit_on_forward_failure, 0);
    dflt(&o->clear_all_forwardings, 0);
    dflt(&o->control_master, 0);
    dflt(&o->control_persist, 0);
    dflt(&o->max_sessions, 10);
    if (o->max_sessions < 1)
        o->max_sessions = 1;
    dflt(&o->compression, 0);
    dflt(&o->session_type, SESSION_DEFAULT);
    dflt(&o->stdin_null, 0);
    dflt(&o->fork_after_authentication, 0);
    dflt(&o->required_rsa_size, 1024);
    dflt(&o->warn_weak_crypto, 1);
    dflt(&o->proxy_use_fdpass, 0);
    if (o->ip_qos_interactive == -1) {
        /* Debian's ssh: lowdelay for interactive sessions, throughput for
         * bulk ones (upstream OpenSSH 9.2 says af21 cs1). */
        o->ip_qos_interactive = 0x10;
        o->ip_qos_bulk = 0x08;
    }
    if (o->proxy_command && is_none(o->proxy_command)) {
        free(o->proxy_command);
        o->proxy_command = NULL;
    }
    if (o->proxy_jump && is_none(o->proxy_jump)) {
        free(o->proxy_jump);
        o->proxy_jump = NULL;
    }
    if (o->proxy_jump)
        o->proxy_use_fdpass = 0; /* never for a jump host (as ssh) */
    if (o->proxy_command && strcmp(o->proxy_command, "-") == 0 && o->proxy_use_fdpass) {
        tun_error("ProxyCommand=- and ProxyUseFDPass are incompatible");
        return -1;
    }
    dflt(&o->forward_agent, 0);
    dflt(&o->forward_x11, 0);
    dflt(&o->forward_x11_trusted, 0);
    dflt(&o->forward_x11_timeout, 1200);
    if (o->xauth_location == NULL)
        o->xauth_location = strdup("/usr/bin/xauth");
    dflt(&o->escape_char, '~');
    dflt(&o->enable_escape_commandline, 0);
    dflt(&o->permit_local_command, 0);
    dflt(&o->visual_host_key, 0);
    o->kex_algorithms_set = o->kex_algorithms != NULL;
    if (o->required_rsa_size < 1024) {
        tun_error("RequiredRSASize %d is below the minimum 1024", o->required_rsa_size);
        return -1;
    }
    if (o->preferred_authentications == NULL)
        o->preferred_authentications = strdup("publickey,keyboard-interactive,password");
    /* "RemoteCommand none" (scp passes it) asks for no command; as the first
     * value it still kept later ones out. */
    if (o->remote_command && strcasecmp(o->remote_command, "none") == 0) {
        free(o->remote_command);
        o->remote_command = NULL;
    }
    if (finish_list(&o->ciphers, SSH_DEFAULT_CIPHERS, SSH_DEFAULT_CIPHERS, "cipher") != 0 ||
        finish_list(&o->macs, SSH_DEFAULT_MACS, SSH_DEFAULT_MACS, "MAC") != 0 ||
        finish_list(&o->kex_algorithms, SSH_DEFAULT_KEX, SSH_DEFAULT_KEX, "KexAlgorithms") != 0 ||
        finish_list(&o->hostkey_algorithms, SSH_DEFAULT_HOSTKEY_ALGS, SUPPORTED_HOSTKEY,
                    "HostKeyAlgorithms") != 0 ||
        finish_list(&o->pubkey_algorithms, SSH_DEFAULT_PUBKEY_ALGS, SUPPORTED_HOSTKEY,
                    "PubkeyAcceptedAlgorithms") != 0 ||
        finish_list(&o->ca_signature_algorithms, SSH_DEFAULT_CA_SIG_ALGS, SUPPORTED_CA_SIG,
                    "CASignatureAlgorithms") != 0)
        return -1;
    return 0;
}

/* ---- keywords that do nothing here ----------------------------------------------------- */

void tun_options_report(const tun_options *o)
{
    for (size_t i = 0; i < N_KEYWORDS; i++) {
        const kw *k = &keywords[i];
        if (k->type != K_IGNORED || o->noeffect[k->off] == NULL)
            continue;
        /* Aliases share a slot: report under the first name only. */
        int first = 1;
        for (size_t j = 0; j < i; j++)
            if (keywords[j].type == K_IGNORED && keywords[j].off == k->off)
                first = 0;
        if (!first)
            continue;
        const char *v = o->noeffect[k->off];
        int b;
        if (is_none(v) || (yesno(v, &b) == 0 && !b) || (k->noop && strcasecmp(v, k->noop) == 0))
            continue; /* asks for nothing */
        if (k->noff & KF_WARN)
            tun_info("Warning: %s: %s %s has no effect: sshtun does not implement it",
                     o->noeffect_where[k->off], k->name, v);
        else
            tun_debug("%s: %s %s has no effect in sshtun; ignored", o->noeffect_where[k->off],
                      k->name, v);
    }
}

/* ---- -G ---------------------------------------------------------------------------- */

static void lower_kw(const char *name, char *out, size_t outsz)
{
    size_t i = 0;
    for (; name[i] && i + 1 < outsz; i++)
        out[i] = (char)tolower((unsigned char)name[i]);
    out[i] = '\0';
}

static const char *yesno_str(int v)
{
    return v ? "yes" : "no";
}

/* One LocalForward/RemoteForward/DynamicForward as ssh -G prints it
 * (readconf.c's dump_cfg_forwards): a listen or target host in brackets
 * with its port, a bare port, or a path; a remote dynamic forward's target
 * is "[socks]:0" there.  A spec that does not parse (the fuzzer) is printed
 * as written. */
static void dump_forward(FILE *f, const char *name, const char *spec, enum tun_fwd_kind kind)
{
    tun_fwdspec fs;
    if (tun_fwdspec_parse(spec, kind, &fs) != 0) {
        fprintf(f, "%s %s\n", name, spec);
        return;
    }
    fprintf(f, "%s", name);
    if (fs.listen_path)
        fprintf(f, " %s", fs.listen_path);
    else if (fs.listen_host == NULL)
        fprintf(f, " %d", fs.listen_port);
    else
        fprintf(f, " [%s]:%d", fs.listen_host, fs.listen_port);
    if (kind != TUN_FWD_DYNAMIC) {
        if (fs.connect_path)
            fprintf(f, " %s", fs.connect_path);
        else if (fs.dynamic)
            fprintf(f, " [socks]:0");
        else if (fs.connect_host == NULL)
            fprintf(f, " %d", fs.connect_port);
        else
            fprintf(f, " [%s]:%d", fs.connect_host, fs.connect_port);
    }
    fprintf(f, "\n");
    tun_fwdspec_free(&fs);
}

void tun_options_dump(const tun_options *o, FILE *f)
{
    static const char *const shkc[] = {"false", "true", "accept-new", "ask"};
    /* ssh -G prints RequestTTY yes/no as true/false (a multistate). */
    static const char *const tty[] = {"false", "true", "force", "auto"};
    static const char *const cm[] = {"false", "true", "ask", "auto", "autoask"};
    char name[64];
    for (size_t i = 0; i < N_KEYWORDS; i++) {
        const kw *k = &keywords[i];
        if (k->type == K_IGNORED || k->type == K_UNSUPPORTED || k->type == K_DEPRECATED ||
            k->type == K_OBSOLETE)
            continue;
        if (strcmp(k->name, "PubkeyAcceptedKeyTypes") == 0 || strcmp(k->name, "HostName") == 0 ||
            strcmp(k->name, "ChallengeResponseAuthentication") == 0 ||
            strcmp(k->name, "SkeyAuthentication") == 0 ||
            strcmp(k->name, "TISAuthentication") == 0 ||
            strcmp(k->name, "DSAAuthentication") == 0 || strcmp(k->name, "KeepAlive") == 0)
            continue; /* aliases */
        lower_kw(k->name, name, sizeof(name));
        switch (k->type) {
        case K_STR:
        case K_ALGS: {
            const char *s = *FIELD(o, k->off, const char *);
            if (s && k->off == offsetof(tun_options, control_path) && strcmp(s, "none") == 0) {
                s = NULL; /* ssh: "none" is no control path */
            } else if (s == NULL && k->off == offsetof(tun_options, user)) {
                /* ssh -G prints the user it would log in as. */
                struct passwd *pw = getpwuid(getuid());
                s = pw ? pw->pw_name : NULL;
            } else if (s == NULL && k->off == offsetof(tun_options, permit_remote_open)) {
                s = "any";
            }
            if (s)
                fprintf(f, "%s %s\n", name, s);
            break;
        }
        case K_BOOL:
            if (k->off == offsetof(tun_options, pubkey_authentication))
                /* ssh's PubkeyAuthentication is a multistate printed by its
                 * first name: true/false. */
                fprintf(f, "%s %s\n", name, *FIELD(o, k->off, const int) ? "true" : "false");
            else
                fprintf(f, "%s %s\n", name, yesno_str(*FIELD(o, k->off, const int)));
            break;
        case K_PORT:
        case K_INT:
        case K_TIME:
            fprintf(f, "%s %d\n", name, *FIELD(o, k->off, const int));
            break;
        case K_CONNTIMEOUT:
            if (o->connect_timeout > 0)
                fprintf(f, "%s %d\n", name, o->connect_timeout);
            else
                fprintf(f, "%s none\n", name);
            break;
        case K_FILES:
        case K_FILES_ACC:
        case K_LIST_ACC: {
            char *const *v = FIELD(o, k->off, char *const);
            int n = *FIELD(o, k->noff, const int);
            if (k->off == offsetof(tun_options, identity_files) && o->identity_files_written[0])
                v = o->identity_files_written;
            else if (k->off == offsetof(tun_options, certificate_files) &&
                     o->certificate_files_written[0])
                v = o->certificate_files_written;
            if (k->off == offsetof(tun_options, local_forwards) ||
                k->off == offsetof(tun_options, remote_forwards) ||
                k->off == offsetof(tun_options, dynamic_forwards)) {
                enum tun_fwd_kind kind =
                    k->off == offsetof(tun_options, local_forwards)    ? TUN_FWD_LOCAL
                    : k->off == offsetof(tun_options, remote_forwards) ? TUN_FWD_REMOTE
                                                                       : TUN_FWD_DYNAMIC;
                for (int j = 0; j < n; j++)
                    dump_forward(f, name, v[j], kind);
            } else if (k->off == offsetof(tun_options, canonical_domains) && n == 0) {
                fprintf(f, "%s none\n", name);
            } else if (k->type == K_FILES && n > 0) {
                fprintf(f, "%s", name);
                for (int j = 0; j < n; j++)
                    fprintf(f, " %s", v[j]);
                fprintf(f, "\n");
            } else {
                for (int j = 0; j < n; j++)
                    fprintf(f, "%s %s\n", name, v[j]);
            }
            break;
        }
        case K_SHKC:
            fprintf(f, "%s %s\n", name, shkc[o->strict_host_key_checking & 3]);
            break;
        case K_TTY:
            fprintf(f, "%s %s\n", name, tty[o->request_tty & 3]);
            break;
        case K_AF:
            fprintf(f, "%s %s\n", name,
                    o->address_family == AF_INET    ? "inet"
                    : o->address_family == AF_INET6 ? "inet6"
                                                    : "any");
            break;
        case K_REKEY:
            fprintf(f, "%s %lld %lld\n", name, (long long)o->rekey_bytes,
                    (long long)o->rekey_seconds);
            break;
        case K_FACILITY:
            fprintf(f, "%s %s\n", name, facility_name(o->syslog_facility));
            break;
        case K_LOGLEVEL: {
            static const char *const lv[] = {"QUIET", "FATAL", "ERROR", "INFO",
                                             "VERBOSE", "DEBUG1", "DEBUG2", "DEBUG3"};
            fprintf(f, "%s %s\n", name, lv[o->log_level >= 0 && o->log_level < 8 ? o->log_level : 3]);
            break;
        }
        case K_SETENV:
            /* One line per variable, as ssh -G. */
            for (int j = 0; j < o->n_set_env; j++)
                fprintf(f, "%s %s\n", name, o->set_env[j]);
            break;
        case K_CONTROLMASTER:
            fprintf(f, "%s %s\n", name, cm[o->control_master >= 0 && o->control_master < 5 ? o->control_master : 0]);
            break;
        case K_WARNWEAK:
            fprintf(f, "%s %s\n", name, yesno_str(o->warn_weak_crypto));
            break;
        case K_CANON: {
            static const char *const cn[] = {"false", "true", "always"};
            int v = o->canonicalize_hostname;
            fprintf(f, "%s %s\n", name, cn[v >= 0 && v < 3 ? v : 0]);
            break;
        }
        case K_CNAMES:
            /* ssh -G spells this key "canonicalizePermittedcnames" (its
             * dump names it by hand); scripts reading ssh -G look for that. */
            fprintf(f, "canonicalizePermittedcnames");
            for (int j = 0; j < o->n_permitted_cnames; j++)
                fprintf(f, " %s", o->permitted_cnames[j]);
            fprintf(f, "%s\n", o->n_permitted_cnames ? "" : " none");
            break;
        case K_UHK: {
            /* A multistate in ssh, printed by its first names. */
            static const char *const uhk[] = {"false", "true", "ask"};
            fprintf(
                f, "%s %s\n", name,
                uhk[o->update_host_keys >= 0 && o->update_host_keys < 3 ? o->update_host_keys : 0]);
            break;
        }
        case K_RECONNECTIV:
            fprintf(f, "%s %d:%d\n", name, o->reconnect_min, o->reconnect_max);
            break;
        case K_FWDAGENT:
            if (o->forward_agent_path)
                fprintf(f, "%s %s\n", name, o->forward_agent_path);
            else
                fprintf(f, "%s %s\n", name, yesno_str(o->forward_agent));
            break;
        case K_ESCAPE: {
            /* As ssh -G prints it (vis(3) with VIS_WHITE). */
            int e = o->escape_char;
            if (e == TUN_ESCAPE_NONE)
                fprintf(f, "%s none\n", name);
            else if (e == ' ' || e == '\t' || e == '\n')
                fprintf(f, "%s \\%03o\n", name, e);
            else if (e == '\\')
                fprintf(f, "%s \\\\\n", name);
            else if (e >= 128 && (e & 127) >= 32 && (e & 127) < 127)
                fprintf(f, "%s \\M-%c\n", name, e & 127);
            else if (e >= 128)
                fprintf(f, "%s \\M^%c\n", name, (e & 127) == 127 ? '?' : (e & 127) + 64);
            else if (e < 32 || e == 127)
                fprintf(f, "%s \\^%c\n", name, e == 127 ? '?' : e + 64);
            else
                fprintf(f, "%s %c\n", name, e);
            break;
        }
        case K_SESSIONTYPE: {
            static const char *const st[] = {"none", "subsystem", "default"};
            fprintf(f, "%s %s\n", name,
                    st[o->session_type >= 0 && o->session_type < 3 ? o->session_type : 2]);
            break;
        }
        case K_PROXYCMD:
            if (o->proxy_jump == NULL && o->proxy_command)
                fprintf(f, "%s %s\n", name, o->proxy_command);
            break;
        case K_PROXYJUMP: {
            tun_jumpspec j;
            char buf[2048];
            if (o->proxy_jump && tun_jumpspec_parse(o->proxy_jump, 0, &j) == 0) {
                tun_jumpspec_format(&j, buf, sizeof(buf));
                fprintf(f, "%s %s\n", name, buf);
                tun_jumpspec_free(&j);
            }
            break;
        }
        case K_IPQOS: {
            char b1[8], b2[8];
            fprintf(f, "ipqos %s %s\n", tun_ipqos_name(o->ip_qos_interactive, b1, sizeof(b1)),
                    tun_ipqos_name(o->ip_qos_bulk, b2, sizeof(b2)));
            break;
        }
        case K_CONTROLPERSIST:
            if (o->control_persist == -2)
                fprintf(f, "%s yes\n", name);
            else if (o->control_persist <= 0)
                fprintf(f, "%s no\n", name);
            else
                fprintf(f, "%s %d\n", name, o->control_persist);
            break;
        default:
            break;
        }
    }
}

void tun_options_each_send_env(const tun_options *o, void (*fn)(void *arg, const char *pair),
                               void *arg)
{
    extern char **environ;
    for (char **e = environ; o->n_send_env && e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL || (size_t)(eq - *e) >= 256)
            continue;
        char name[256];
        memcpy(name, *e, (size_t)(eq - *e));
        name[eq - *e] = '\0';
        for (int i = 0; i < o->n_send_env; i++) {
            if (o->send_env[i][0] != '-' && tun_match_pattern(name, o->send_env[i])) {
                fn(arg, *e);
                break;
            }
        }
    }
}
