/*
 * tun_options.h - the client's options, with OpenSSH's keyword names and
 * "first obtained value wins" semantics: the command line (-o and flags)
 * is applied first, then ~/.ssh/config, then /etc/ssh/ssh_config; a keyword
 * already set is not overwritten (list keywords such as IdentityFile,
 * LocalForward or SendEnv accumulate).  tun_options_finish() fills in the
 * defaults.  The file syntax (Host, Match, Include) is in tun_config.c.
 */
#ifndef SSHTUN_TUN_OPTIONS_H
#define SSHTUN_TUN_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "tun_cfgval.h" /* tun_alg_list() */

#define TUN_MAX_LIST 32

enum tun_shkc { SHKC_UNSET = -1, SHKC_NO = 0, SHKC_YES, SHKC_ACCEPT_NEW, SHKC_ASK };
enum tun_tty { TTY_UNSET = -1, TTY_NO = 0, TTY_YES, TTY_FORCE, TTY_AUTO };
/* CanonicalizeHostname. */
enum tun_canon { CANON_UNSET = -1, CANON_NO = 0, CANON_YES, CANON_ALWAYS };
/* UpdateHostKeys. */
enum tun_uhk { UHK_UNSET = -1, UHK_NO = 0, UHK_YES, UHK_ASK };
/* SessionType (-N is "none", -s is "subsystem"). */
enum tun_session_type { SESSION_UNSET = -1, SESSION_NONE = 0, SESSION_SUBSYSTEM, SESSION_DEFAULT };

/* EscapeChar none. */
#define TUN_ESCAPE_NONE (-2)

/* Keywords OpenSSH knows that sshtun accepts without acting on them: the
 * first value each was given, reported once by tun_options_report(). */
#define TUN_MAX_NOEFFECT 64

/* IPQoS "none": the socket's type of service is left as it is. */
#define TUN_QOS_NONE 0x7fffffff

typedef struct tun_options {
    char *user;
    char *hostname; /* HostName */
    int port;       /* -1: unset */
    char *identity_files[TUN_MAX_LIST];
    int n_identity_files;
    /* IdentityFile and CertificateFile as written (before ~ and %-tokens
     * are expanded): what -G prints, as ssh -G does.  Set by
     * tun_options_expand, n_identity_files / n_certificate_files long. */
    char *identity_files_written[TUN_MAX_LIST];
    char *certificate_files_written[TUN_MAX_LIST];
    int identities_only;
    char *identity_agent;
    char *user_known_hosts[TUN_MAX_LIST];
    int n_user_known_hosts;
    char *global_known_hosts[TUN_MAX_LIST];
    int n_global_known_hosts;
    int strict_host_key_checking;
    int hash_known_hosts;
    int batch_mode;
    int connect_timeout; /* seconds, -1 unset, 0 none */
    int connection_attempts;
    int address_family; /* AF_UNSPEC/AF_INET/AF_INET6, -1 unset */
    char *ciphers, *macs, *kex_algorithms, *hostkey_algorithms, *pubkey_algorithms;
    int kex_algorithms_set; /* KexAlgorithms given by the user (set by finish) */
    int warn_weak_crypto;   /* WarnWeakCrypto: 1 yes, 0 no or no-pq-kex, -1 unset */
    int hostkey_algorithms_set; /* given explicitly (no reordering by known_hosts) */
    char *preferred_authentications;
    int password_authentication, kbd_interactive_authentication, pubkey_authentication;
    int number_of_password_prompts;
    int64_t rekey_bytes;   /* -1 unset, 0 default */
    int64_t rekey_seconds; /* -1 unset, 0 none */
    int log_level;         /* -1 unset */
    int syslog_facility;   /* SyslogFacility: a LOG_* value of <syslog.h>, -1 unset */
    int server_alive_interval, server_alive_count_max;
    int request_tty;       /* enum tun_tty */
    int tcp_keepalive;
    char *send_env[TUN_MAX_LIST];
    int n_send_env;
    char *set_env[TUN_MAX_LIST];
    int n_set_env;
    int set_env_set;
    /* forwarding (issue: port forwarding) */
    char *local_forwards[TUN_MAX_LIST];
    int n_local_forwards;
    char *remote_forwards[TUN_MAX_LIST];
    int n_remote_forwards;
    char *dynamic_forwards[TUN_MAX_LIST];
    int n_dynamic_forwards;
    int gateway_ports, exit_on_forward_failure, clear_all_forwardings;
    char *permit_remote_open;
    /* connection sharing */
    int control_master; /* -1 unset, 0 no, 1 yes, 2 ask, 3 auto, 4 autoask */
    char *control_path;
    int control_persist; /* -1 unset, 0 no, -2 yes (forever), >0 seconds */
    int max_sessions;    /* sessions per shared connection (sshtun) */
    /* persistent tunnels (sshtun) */
    int reconnect;                    /* Reconnect yes|no */
    int reconnect_min, reconnect_max; /* ReconnectInterval min[:max], seconds; -1 unset */
    int server_alive_interval_set;    /* given by the user (set by finish) */
    /* misc */
    char *ignore_unknown;
    char *host_key_alias;
    char *remote_command;
    int compression;
    int session_type;                       /* enum tun_session_type */
    int stdin_null;                         /* StdinNull (-n) */
    int fork_after_authentication;          /* ForkAfterAuthentication (-f) */
    int required_rsa_size;                  /* RequiredRSASize: smallest RSA key used or accepted */
    /* host keys and certificates */
    char *certificate_files[TUN_MAX_LIST]; /* CertificateFile */
    int n_certificate_files;
    char *revoked_host_keys[TUN_MAX_LIST]; /* RevokedHostKeys */
    int n_revoked_host_keys;
    char *known_hosts_command;     /* KnownHostsCommand */
    char *ca_signature_algorithms; /* CASignatureAlgorithms */
    int check_host_ip;             /* CheckHostIP */
    int update_host_keys;          /* UpdateHostKeys: enum tun_uhk */
    char *original_host;           /* the destination as given (%n), set by tun_options_expand */
    /* CanonicalizeHostname and friends (tun_canon.c) */
    int canonicalize_hostname; /* enum tun_canon */
    char *canonical_domains[TUN_MAX_LIST];
    int n_canonical_domains;
    int canonicalize_max_dots;
    int canonicalize_fallback_local;
    char *permitted_cnames[TUN_MAX_LIST]; /* "source-list:target-list" rules */
    int n_permitted_cnames;
    int want_final_pass;                    /* a "Match final" was seen (tun_config.c) */
    /* getting there: how the connection reaches the server */
    char *proxy_command;                 /* ProxyCommand (NULL after finish when none) */
    char *proxy_jump;                    /* ProxyJump as written (NULL after finish when none) */
    int proxy_use_fdpass;                /* ProxyUseFdpass */
    char *bind_address;                  /* BindAddress (-b) */
    char *bind_interface;                /* BindInterface (-B) */
    int ip_qos_interactive, ip_qos_bulk; /* IPQoS as IP_TOS values; TUN_QOS_NONE: leave */
    /* Not keywords: what a jump host's connection needs to read its own
     * configuration as the destination's was read. */
    char *config_file;                      /* -F (NULL: ~/.ssh/config and /etc/ssh/ssh_config) */
    int jump_depth;                         /* hops between us and this host (a bound on loops) */
    /* using the remote side */
    int forward_agent;                      /* ForwardAgent: -1 unset, 0 no, 1 yes */
    char *forward_agent_path;               /* ForwardAgent given a socket path or $VAR */
    int forward_x11;                        /* ForwardX11 (-X, -Y) */
    int forward_x11_trusted;                /* ForwardX11Trusted (-Y) */
    int forward_x11_timeout;                /* ForwardX11Timeout, seconds (0: none) */
    char *xauth_location;                   /* XAuthLocation */
    int escape_char;                        /* EscapeChar: -1 unset, TUN_ESCAPE_NONE, or the byte */
    int escape_nontty;                      /* -e given: escapes on sessions without a tty too */
    int enable_escape_commandline;          /* EnableEscapeCommandline (~C) */
    char *local_command;                    /* LocalCommand */
    int permit_local_command;               /* PermitLocalCommand */
    int visual_host_key;                    /* VisualHostKey */
    char *noeffect[TUN_MAX_NOEFFECT];       /* value of each no-effect keyword, by slot */
    char *noeffect_where[TUN_MAX_NOEFFECT]; /* where it was given */
} tun_options;

void tun_options_init(tun_options *o);
void tun_options_free(tun_options *o);

/* Apply one "Keyword value" / "Keyword=value" (keyword case-insensitive).
 * `where` names the source for messages ("command-line", "file line N").
 * Returns 0; -1 after printing a message for a bad value; -2 for an unknown
 * keyword (message printed unless it matches IgnoreUnknown, then 0). */
int tun_options_apply(tun_options *o, const char *line, const char *where);
/* Split a line into keyword and value (quotes removed); 0 or -1. */
int tun_options_split(const char *line, char *kw, size_t kwsz, char *val, size_t valsz);
/* Cut a value at the first word that starts with '#' (outside double
 * quotes) and trim it: OpenSSH ends every value but the commands
 * (RemoteCommand...) there, Host and Match lines included. */
void tun_options_strip_comment(char *val);
/* An EscapeChar / -e value: the byte, TUN_ESCAPE_NONE, or -1 when it is
 * not one ("^X", a single character or "none"). */
int tun_options_parse_escape(const char *v);
/* A name that can be an environment variable's ([A-Za-z_][A-Za-z0-9_]*). */
int tun_options_env_name_ok(const char *n);
/* Is this a keyword we know? */
int tun_options_known(const char *kw);

/* Fill in defaults; resolve algorithm lists with +/-/^ modifiers.
 * Returns 0 or -1 with a message. */
int tun_options_finish(tun_options *o);
/* Say once, for each keyword that was given a value sshtun does not act
 * on, that it has no effect: at -v (debug1), or as a warning at the
 * default level where ignoring it changes what the user relies on
 * (ForwardAgent, ForwardX11, CheckHostIP).  Values that ask for nothing
 * ("no", "none", the default) are not reported. */
void tun_options_report(const tun_options *o);
/* Print the resolved configuration as `ssh -G` does (lowercase keywords). */
void tun_options_dump(const tun_options *o, FILE *f);
/* Call fn with each "NAME=value" of the local environment that SendEnv
 * selects (patterns; "-pattern" entries select nothing). */
void tun_options_each_send_env(const tun_options *o, void (*fn)(void *arg, const char *pair),
                               void *arg);

/* -J: the ProxyJump of the command line, with ssh's checks (one -J, not
 * with ProxyCommand, strict syntax).  0, or -1 after a message. */
int tun_options_jump_flag(tun_options *o, const char *spec);
/* The host of the last ProxyJump hop (%j), "" when there is none. */
const char *tun_options_jump_host(const tun_options *o, char *buf, size_t len);
/* IPQoS value name as ssh -G prints it. */
const char *tun_ipqos_name(int tos, char *buf, size_t len);

#endif
