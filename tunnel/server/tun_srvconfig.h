/*
 * tun_srvconfig.h - sshtund's configuration: sshd_config(5) keywords with
 * sshd's meaning, plus a few of sshtund's own.
 *
 * Global keywords: Port, ListenAddress, HostKey, PidFile, MaxStartups,
 * LoginGraceTime, Ciphers, MACs, KexAlgorithms, HostKeyAlgorithms,
 * RekeyLimit, LogLevel, Subsystem, StrictModes, PermitUserEnvironment, SshtundUser (sshtund: the
 * unprivileged user of the network process), MaxChannels (sshtund: channels per connection),
 * ProxyProtocol, ProxyProtocolFrom and "ListenAddress ... proxy-protocol" (sshtund: behind a
 * load balancer).
 *
 * Per-connection keywords, also allowed in "Match User/Address" blocks:
 * AuthorizedKeysFile, PasswordAuthentication, PubkeyAuthentication,
 * PermitRootLogin, AllowUsers, DenyUsers, AllowGroups, DenyGroups,
 * MaxSessions, MaxAuthTries,
 * ClientAliveInterval, ClientAliveCountMax, AllowTcpForwarding,
 * AllowStreamLocalForwarding, PermitOpen, PermitListen, GatewayPorts,
 * ChannelTimeout, UnusedConnectionTimeout, AcceptEnv, SetEnv, ForceCommand,
 * PermitTTY, Banner (file path), AllowAgentForwarding, X11Forwarding,
 * X11DisplayOffset, X11UseLocalhost (XAuthLocation is global), TrustedUserCAKeys, RevokedKeys,
 * CASignatureAlgorithms, AuthorizedPrincipalsFile,
 * AuthorizedPrincipalsCommand(User), AuthorizedKeysCommand(User).
 * HostCertificate is global.
 *
 * As in sshd, the first value obtained for a keyword wins (so -o on the
 * command line beats the file); inside Match blocks, the first matching
 * block's value wins over the global one.  An unknown keyword is an error
 * naming the file and line.
 */
#ifndef SSHTUN_TUN_SRVCONFIG_H
#define SSHTUN_TUN_SRVCONFIG_H

#include <stdint.h>
#include <stdio.h>

#define TUN_SRV_MAX_LIST 32

enum tun_permit_root { PRL_UNSET = -1, PRL_NO = 0, PRL_YES, PRL_PROHIBIT_PASSWORD, PRL_FORCED_ONLY };
enum tun_fwd_allow { FWA_UNSET = -1, FWA_NO = 0, FWA_ALL, FWA_LOCAL, FWA_REMOTE };
enum tun_gateway { GWP_UNSET = -1, GWP_NO = 0, GWP_YES, GWP_CLIENTSPECIFIED };

/* Settings that may differ per user/address (Match). */
typedef struct tun_srvopts {
    char *authorized_keys_file[TUN_SRV_MAX_LIST]; /* tokens %h %u %% unexpanded */
    int n_authorized_keys_file;
    int password_authentication;
    int pubkey_authentication;
    int permit_root_login;  /* enum tun_permit_root */
    char *allow_users[TUN_SRV_MAX_LIST];
    int n_allow_users;
    char *deny_users[TUN_SRV_MAX_LIST];
    int n_deny_users;
    char *allow_groups[TUN_SRV_MAX_LIST]; /* group name patterns */
    int n_allow_groups;
    char *deny_groups[TUN_SRV_MAX_LIST];
    int n_deny_groups;
    int max_sessions;
    int max_auth_tries;
    int client_alive_interval;
    int client_alive_count_max;
    int allow_tcp_forwarding;        /* enum tun_fwd_allow */
    int allow_streamlocal_forwarding; /* enum tun_fwd_allow */
    char *permit_open[TUN_SRV_MAX_LIST]; /* "any", "none", host:port */
    int n_permit_open;
    char *permit_listen[TUN_SRV_MAX_LIST];
    int n_permit_listen;
    int gateway_ports;               /* enum tun_gateway */
    char *channel_timeout[TUN_SRV_MAX_LIST]; /* "type=interval" */
    int n_channel_timeout;
    int unused_connection_timeout;   /* seconds, 0 none */
    char *accept_env[TUN_SRV_MAX_LIST];
    int n_accept_env;
    char *set_env[TUN_SRV_MAX_LIST]; /* "NAME=value" (SetEnv: first line wins) */
    int n_set_env;
    char *force_command;
    int permit_tty;
    char *banner;
    int allow_agent_forwarding; /* AllowAgentForwarding */
    int x11_forwarding;         /* X11Forwarding */
    int x11_display_offset;     /* X11DisplayOffset */
    int x11_use_localhost;      /* X11UseLocalhost */
    /* User certificates and revocation (tun_privpk.c). */
    char *trusted_user_ca_keys;          /* file of CA keys, NULL none */
    char *revoked_keys;                  /* KRL or key list, NULL none */
    char *ca_signature_algorithms;       /* resolved list */
    char *pubkey_accepted_algorithms;    /* resolved list (PubkeyAcceptedAlgorithms) */
    char *authorized_principals_file;    /* tokens %h %u %U %% unexpanded, NULL none */
    char *authorized_principals_command; /* command line, NULL none */
    char *authorized_principals_command_user;
    char *authorized_keys_command;
    char *authorized_keys_command_user;
} tun_srvopts;

typedef struct tun_match_block tun_match_block;

typedef struct tun_srvcfg {
    int ports[TUN_SRV_MAX_LIST];
    int n_ports;
    char *listen_addresses[TUN_SRV_MAX_LIST]; /* "addr", "addr:port", "[v6]:port" */
    int n_listen_addresses;
    char *host_keys[TUN_SRV_MAX_LIST];
    int n_host_keys;
    char *host_certificates[TUN_SRV_MAX_LIST]; /* HostCertificate files */
    int n_host_certificates;
    char *pid_file;
    int max_startups_begin, max_startups_rate, max_startups_full;
    int login_grace_time; /* seconds, 0 none */
    char *ciphers, *macs, *kex_algorithms, *hostkey_algorithms;
    /* Every name any PubkeyAcceptedAlgorithms (global or a Match block's)
     * lets in: what the network process's engine accepts and advertises in
     * server-sig-algs; the helper applies the connection's own list. */
    char *pubkey_algs_any;
    int64_t rekey_bytes, rekey_seconds;
    int log_level;        /* tun_log_level */
    char *subsystem_name[TUN_SRV_MAX_LIST];
    char *subsystem_command[TUN_SRV_MAX_LIST];
    int n_subsystems;
    char *sshtund_user;
    int sshtund_user_default; /* not configured: "sshtund", nobody if missing */
    int max_channels;
    int workers;          /* Workers: network processes (default: the CPUs) */
    int compression;      /* Compression: 1 yes/delayed (zlib@openssh.com), 0 no */
    int address_family;   /* AddressFamily: AF_UNSPEC (any), AF_INET, AF_INET6 */
    int strict_modes;     /* StrictModes: check owners and modes of users' files */
    char *permit_user_environment; /* "no", "yes" or names: environment= in authorized_keys */
    char *xauth_location;          /* XAuthLocation: xauth, run in X11 sessions */
    /* PROXY protocol (sshtund): on every listener (ProxyProtocol yes) or on
     * the ListenAddress entries marked "proxy-protocol" (listen_proxy[i]
     * for listen_addresses[i]); accepted only from the peers matching
     * proxy_from (ProxyProtocolFrom, a comma-separated address pattern and
     * CIDR list, tun_match_address_list). */
    int proxy_protocol;
    int listen_proxy[TUN_SRV_MAX_LIST];
    char *proxy_from;
    /* PerSourceMaxStartups (0: none) over sources grouped by
     * PerSourceNetBlockSize bits (IPv4, IPv6); the source is the real
     * client of a relayed connection. */
    int per_source_max_startups;
    int per_source_bits4, per_source_bits6;
    tun_srvopts global;
    tun_match_block *matches; /* in file order */
    struct tun_srvcfg_incs *incs; /* Include's recording (not owned), NULL none */
    int incs_replay;              /* Include reads from it, not from files */
} tun_srvcfg;

#define TUN_SRV_MAX_WORKERS 256
/* The CPUs this process may use (Workers' default), 1..TUN_SRV_MAX_WORKERS. */
int tun_srvcfg_cpus(void);

void tun_srvcfg_init(tun_srvcfg *c);
void tun_srvcfg_free(tun_srvcfg *c);
/* Apply "Keyword value" (or "Keyword=value").  `where` names the source
 * for messages.  Returns 0, or -1 after printing
 * "<where>: Bad configuration option: <kw>" / a bad value message. */
int tun_srvcfg_apply(tun_srvcfg *c, const char *line, const char *where);
/* Read a file (Match blocks included).  0, or -1 after messages and
 * "<file>: terminating, N bad configuration options". */
int tun_srvcfg_read(tun_srvcfg *c, const char *path);
/* The same from memory (fuzzing, tests); `name` is used in messages. */
int tun_srvcfg_read_mem(tun_srvcfg *c, const char *data, size_t len, const char *name);
/* Include sources.  The privileged side records what Include reads (each
 * pattern's matches, each file's text) while it parses; the bundle carries
 * the recording to the network process, which sees only /etc and parses
 * the same files from it (replay: a pattern or file the recording lacks is
 * an error).  Set a recording before reading; it is not owned. */
typedef struct tun_srvcfg_incs tun_srvcfg_incs;
struct ssh_buf;
struct ssh_cur;
tun_srvcfg_incs *tun_srvcfg_incs_new(void);
void tun_srvcfg_incs_free(tun_srvcfg_incs *r);
void tun_srvcfg_incs_use(tun_srvcfg *c, tun_srvcfg_incs *r, int replay);
/* To and from a bundle: put 0 or -1; get NULL when malformed. */
int tun_srvcfg_incs_put(const tun_srvcfg_incs *r, struct ssh_buf *out);
tun_srvcfg_incs *tun_srvcfg_incs_get(struct ssh_cur *c);
/* Fill defaults (sshd's, except MaxStartups which is far larger: sshtund
 * holds thousands of connections).  0 or -1 with a message. */
int tun_srvcfg_finish(tun_srvcfg *c);
/* Does any listener speak the PROXY protocol?  1 or 0. */
int tun_srvcfg_any_proxy(const tun_srvcfg *c);
/* Does the listener whose local address is `local` (a socket's
 * getsockname) speak the PROXY protocol?  ProxyProtocol yes: every one;
 * else the most specific ListenAddress entry covering it says.  1 or 0.
 * The network process and the privileged helper both ask this. */
struct sockaddr_storage;
int tun_srvcfg_listener_proxy(const tun_srvcfg *c, const struct sockaddr_storage *local);
/* Are `a` and `b` (IPv4 or IPv6 socket addresses) in the same
 * PerSourceNetBlockSize block?  An IPv4-mapped IPv6 address counts as its
 * IPv4 address.  1 or 0. */
int tun_srvcfg_same_source(const tun_srvcfg *c, const struct sockaddr_storage *a,
                           const struct sockaddr_storage *b);

/* The effective per-connection settings for `user` (NULL before it is
 * known) connecting from `addr`: matching Match blocks first, then the
 * global values.  The result borrows strings from `c`; free it with
 * tun_srvopts_release() (frees only the arrays, not the strings).
 * "none" is folded away in the result: ForceCommand, Banner,
 * TrustedUserCAKeys, RevokedKeys, AuthorizedPrincipalsFile and the two
 * commands (and their users) none give NULL, AuthorizedKeysFile none and ChannelTimeout none an
 * empty list; PermitOpen/PermitListen keep "any"/"none" for tun_permit_match(). A criterion that
 * cannot be evaluated (user NULL) does not match. */
void tun_srvcfg_for(const tun_srvcfg *c, const char *user, const char *addr, tun_srvopts *out);
/* Every distinct Banner file named by `c` (global value and Match blocks;
 * "none" left out) into out[0..max): how many. */
int tun_srvcfg_banners(const tun_srvcfg *c, const char **out, int max);
void tun_srvopts_release(tun_srvopts *o);

/* Print the effective configuration (-T style, lowercase keywords). */
void tun_srvcfg_dump(const tun_srvcfg *c, FILE *f);

#endif
