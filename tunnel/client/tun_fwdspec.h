/*
 * tun_fwdspec.h - forwarding specifications as ssh(1) writes them:
 *
 *   -L [bind_address:]port:host:hostport     -L [bind_address:]port:remote_socket
 *   -L local_socket:host:hostport            -L local_socket:remote_socket
 *   -R [bind_address:]port:host:hostport     -R [bind_address:]port:local_socket
 *   -R remote_socket:host:hostport           -R remote_socket:local_socket
 *   -R [bind_address:]port                   (dynamic: SOCKS on our side)
 *   -D [bind_address:]port
 *
 * Fields are separated by ':'; an IPv6 address is written in brackets; a
 * field containing '/' is a Unix socket path.  The LocalForward and
 * RemoteForward keywords take the same fields with a space instead of the
 * ':' before the target.
 */
#ifndef SSHTUN_TUN_FWDSPEC_H
#define SSHTUN_TUN_FWDSPEC_H

enum tun_fwd_kind { TUN_FWD_LOCAL = 'L', TUN_FWD_REMOTE = 'R', TUN_FWD_DYNAMIC = 'D' };

typedef struct tun_fwdspec {
    enum tun_fwd_kind kind;
    char *listen_host;  /* NULL: default (loopback) */
    int listen_port;    /* -1 when listen_path is used */
    char *listen_path;
    char *connect_host; /* NULL for dynamic forwards and paths */
    int connect_port;
    char *connect_path;
    int dynamic;        /* the far side is a SOCKS proxy (-D, -R port) */
} tun_fwdspec;

/* Parse `spec` (command-line form, or the config form where a space may
 * replace the ':' before the target).  0 or -1 (nothing allocated). */
int tun_fwdspec_parse(const char *spec, enum tun_fwd_kind kind, tun_fwdspec *out);
void tun_fwdspec_free(tun_fwdspec *f);
/* "127.0.0.1:8080" / "[::1]:8080" / "/path" style description. */
void tun_fwdspec_describe_listen(const tun_fwdspec *f, char *buf, unsigned len);
void tun_fwdspec_describe_connect(const tun_fwdspec *f, char *buf, unsigned len);

#endif
