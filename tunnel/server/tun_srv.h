/*
 * tun_srv.h - sshtund's internals, shared by its files:
 *
 *   tun_server.c   listening sockets, accepting, MaxStartups, reload, stop
 *   tun_srvconn.c  one client connection: engine glue, authentication
 *                  through tun_priv, channel opens and global requests,
 *                  limits and timeouts
 *   tun_srvsess.c  session channels: exec/shell/subsystem, pty, env,
 *                  signals, exit status
 *   tun_srvfwd.c   direct-tcpip/streamlocal connects and tcpip-forward /
 *                  streamlocal-forward listeners
 *   tun_srvsessfwd.c  a session's agent and X11 listeners and the
 *                  auth-agent@openssh.com / x11 channels they open
 *
 * Everything runs on one libev loop; nothing here blocks.
 */
#ifndef SSHTUN_TUN_SRV_H
#define SSHTUN_TUN_SRV_H

#include <ev.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sshtun/conn.h"
#include "tun_authkeys.h"
#include "tun_chan.h"
#include "tun_pipe.h"
#include "tun_priv.h"
#include "tun_resolve.h"
#include "tun_sock.h"
#include "tun_srvconfig.h"
#include "tun_transport.h"

typedef struct tun_server tun_server;
typedef struct tun_srvconn tun_srvconn;
typedef struct tun_srvchan tun_srvchan;
typedef struct tun_srvsess tun_srvsess;
typedef struct tun_rlisten tun_rlisten;
typedef struct tun_sesslisten tun_sesslisten;
typedef struct tun_srvproxy tun_srvproxy;

/* A loaded configuration with its host keys.  Connections keep the one
 * they were accepted under, so a reload (SIGHUP) changes only new ones. */
typedef struct tun_srvsettings {
    int refs;
    tun_srvcfg cfg;
    ssh_key *keys[TUN_SRV_MAX_LIST];
    size_t n_keys;
    /* Every Banner file the configuration names, read when it was loaded
     * (text NULL: could not be read). */
    char *banner_path[TUN_SRV_MAX_LIST];
    char *banner_text[TUN_SRV_MAX_LIST];
    int n_banners;
} tun_srvsettings;

tun_srvsettings *tun_srvsettings_ref(tun_srvsettings *s);
void tun_srvsettings_unref(tun_srvsettings *s);

#define TUN_SRV_PID_BUCKETS 1024

struct tun_server {
    struct ev_loop *loop;
    tun_priv *priv;
    tun_resolver *res;
    tun_srvsettings *set;       /* for new connections */
    tun_acceptor **listeners;
    int *listener_worker; /* the worker each listener belongs to */
    size_t n_listeners;
    int workers;          /* Workers: network processes sharing the ports */
    tun_srvconn *conns;
    unsigned n_conns, n_unauth;
    tun_srvproxy *proxying;     /* waiting for their PROXY header */
    unsigned n_proxying;
    uint64_t n_accepted, n_dropped;
    int root;                   /* privileged helper in use */
    char self_user[64];         /* not root: the only user served */
    int stopping;
    void (*idle)(tun_server *s); /* stopping and the last connection ended */
    tun_srvsess *by_pid[TUN_SRV_PID_BUCKETS]; /* running session processes */
};

/* ---- the server (tun_server.c) ---------------------------------------------------------- */

/* Bind every Port x ListenAddress of `set`.  0, or -1 after messages. */
int tun_server_listen(tun_server *s);
/* Several workers: keep only the listeners of worker `index` (each
 * address is bound once per worker with SO_REUSEPORT). */
void tun_server_keep_listeners(tun_server *s, int index);
/* tun_priv's verdict callback (several workers: the helper's MaxStartups
 * and PerSourceMaxStartups): start the held connection, or close it. */
void tun_server_verdict(void *arg, uint64_t serial, int accepted, unsigned n_unauth);
/* Stop listening; connections go on.  `idle` runs when the last ends. */
void tun_server_stop_listening(tun_server *s);
/* Replace the settings used for new connections. */
void tun_server_set_settings(tun_server *s, tun_srvsettings *set);
/* End every connection now (SIGTERM a second time, exit). */
void tun_server_close_all(tun_server *s, const char *why);
/* A connection authenticated / ended: MaxStartups accounting. */
void tun_server_conn_authenticated(tun_server *s);
void tun_server_conn_gone(tun_server *s, tun_srvconn *sc);
/* Session processes by pid (exit reports arrive by pid). */
void tun_server_pid_add(tun_server *s, tun_srvsess *ss);
void tun_server_pid_del(tun_server *s, tun_srvsess *ss);
/* tun_priv's exit callback. */
void tun_server_child_exited(void *arg, pid_t pid, int status);

/* ---- PROXY protocol listeners (tun_srvproxy.c) --------------------------------------------- */

/* An accepted connection on a PROXY protocol listener: refused at once
 * unless its peer is in ProxyProtocolFrom, else its header is read (within
 * a deadline) and it becomes a tun_srvconn.  The fd is taken over. */
void tun_srvproxy_start(tun_server *s, int fd, const struct sockaddr_storage *peer);
/* Close every connection still waiting for its header (stop listening). */
void tun_srvproxy_close_all(tun_server *s);

/* ---- connections (tun_srvconn.c) --------------------------------------------------------- */

/* Several workers: the helper accepted a held connection; start it. */
void tun_srvconn_release(tun_srvconn *sc);

enum tun_srvchan_kind {
    SC_SESSION = 1,
    SC_DIRECT_TCPIP,
    SC_FORWARDED_TCPIP,
    SC_DIRECT_STREAMLOCAL,
    SC_FORWARDED_STREAMLOCAL,
    SC_AGENT, /* auth-agent@openssh.com, opened by us */
    SC_X11,   /* x11, opened by us */
};

/* What every channel of a server connection has: the pipe (first, so the
 * tun_chan is the engine's ch_user), its place in the connection's list
 * and the idle bookkeeping for ChannelTimeout. */
struct tun_srvchan {
    tun_pipe pipe;
    tun_srvconn *sc;
    enum tun_srvchan_kind kind;
    uint32_t id;
    int has_id;          /* the engine knows the channel */
    int timeout;         /* ChannelTimeout seconds, 0 none */
    uint64_t seen_bytes; /* traffic at the last sweep */
    ev_tstamp last_active;
    tun_srvchan *next, *prev;
    /* Kind-specific teardown: detaches the channel and frees it. */
    void (*destroy)(tun_srvchan *ch);
};

struct tun_srvconn {
    tun_server *srv;
    tun_srvsettings *set;
    ssh_conn *c;
    tun_transport t;
    tun_link link;
    uint64_t serial; /* also the connection's token with the privileged side */
    struct sockaddr_storage src; /* the client (PerSourceMaxStartups) */
    int held; /* not started: several workers, waiting for the helper's verdict */
    int fd;   /* the socket (the transport's once started) */
    char ip[64];
    int port;
    char lip[64];
    int lport;
    /* authentication */
    int have_user;  /* the client named its user (fixed from then on) */
    tun_user_info user; /* name as the client gave it; uid once authenticated */
    tun_srvopts opts; /* effective settings (per user once known) */
    int have_opts;
    tun_keyopts kopts; /* options of the authorized_keys line used */
    int have_kopts;
    int authenticated;
    int auth_busy;  /* the privileged side is deciding */
    int auth_query; /* ... a publickey query */
    char methods[64];
    /* channels */
    tun_srvchan *chans;
    int n_chans, n_sessions;
    tun_rlisten *rlisteners;
    int no_more_sessions;
    ev_timer unused_timer, sweep_timer;
    int min_chan_timeout;
    int dead;
    tun_srvconn *next, *prev;
};

/* Where a connection relayed by a load balancer really comes from
 * (tun_srvproxy.c): the PROXY header as received (passed on to the
 * privileged helper, which parses it itself), the client's view of the
 * server's address (NULL: the socket's), and the balancer for the log. */
typedef struct tun_srvorigin {
    const uint8_t *hdr;
    size_t hdr_len;
    const struct sockaddr_storage *local;
    char via[128];
} tun_srvorigin;

/* Take over an accepted socket; `peer` is the client (the header's source
 * for a relayed connection, `o` then says the rest; NULL otherwise).
 * NULL on failure (the fd is closed). */
tun_srvconn *tun_srvconn_new(tun_server *s, int fd, const struct sockaddr_storage *peer,
                             const tun_srvorigin *o);
/* Send DISCONNECT with `why` and end the connection once it is flushed. */
void tun_srvconn_disconnect(tun_srvconn *sc, const char *why);
/* Free at once (server shutdown). */
void tun_srvconn_free(tun_srvconn *sc);

/* Register / forget a channel on its connection (counts, timeouts). */
void tun_srvchan_attach(tun_srvconn *sc, tun_srvchan *ch, enum tun_srvchan_kind kind,
                        const char *type);
void tun_srvchan_detach(tun_srvchan *ch);
/* Is port forwarding of this direction allowed (config and key options)?
 * `remote` selects tcpip-forward vs direct-tcpip; streamlocal selects
 * AllowStreamLocalForwarding.  On refusal, `why` names the rule. */
int tun_srvconn_fwd_allowed(tun_srvconn *sc, int remote, int streamlocal, char *why,
                            size_t whysz);

/* ---- sessions (tun_srvsess.c) ------------------------------------------------------------- */

/* An incoming "session" open (limits already checked): 0 or -reason. */
int tun_srvsess_open(tun_srvconn *sc, uint32_t id, const char **why);
/* The session process `pid` ended with wait status `status`. */
void tun_srvsess_exited(tun_srvsess *ss, int status);
pid_t tun_srvsess_pid(const tun_srvsess *ss);
tun_srvsess *tun_srvsess_next_by_pid(const tun_srvsess *ss);
void tun_srvsess_set_next_by_pid(tun_srvsess *ss, tun_srvsess *next);

/* ---- a session's agent and X11 forwarding (tun_srvsessfwd.c) ------------------------------ */

/* Each connection to the agent socket `fd` (from the privileged side)
 * becomes an auth-agent@openssh.com channel to the client. */
tun_sesslisten *tun_srvsessfwd_agent(tun_srvconn *sc, uint32_t session, int fd);
/* Each connection to the display's sockets becomes an x11 channel; with
 * `single` only the first (RFC 4254 6.3.1). */
tun_sesslisten *tun_srvsessfwd_x11(tun_srvconn *sc, uint32_t session, const int *fds, int nfds,
                                   int single);
/* Stop listening (the session is gone); open channels go on. */
void tun_sesslisten_free(tun_sesslisten *l);

/* ---- forwarding (tun_srvfwd.c) ------------------------------------------------------------- */

/* direct-tcpip / direct-streamlocal@openssh.com (policy already checked):
 * SSH_DEFERRED (answered later) or -reason with *why. */
int tun_srvfwd_direct(tun_srvconn *sc, uint32_t id, const ssh_channel_open_info *info,
                      const char **why);
/* tcpip-forward, cancel-tcpip-forward, streamlocal-forward@openssh.com,
 * cancel-streamlocal-forward@openssh.com: the engine's return convention. */
int tun_srvfwd_global(tun_srvconn *sc, const ssh_global_req *r, ssh_buf *reply);
/* Close every remote-forward listener of the connection. */
void tun_srvfwd_close_listeners(tun_srvconn *sc);

#endif
