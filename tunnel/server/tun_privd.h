/*
 * tun_privd.h - internals of sshtund's privileged side, shared by
 * tun_privd.c (connections, sessions, Unix sockets, configuration),
 * tun_privauth.c (authentication decisions), tun_privpk.c (publickey and
 * certificates) and tun_privhelper.c (the helper process and its
 * socket).
 */
#ifndef SSHTUN_TUN_PRIVD_H
#define SSHTUN_TUN_PRIVD_H

#include <ev.h>
#include <stdint.h>
#include <sys/types.h>

#include "sshtun/buf.h"
#include "tun_authkeys.h"
#include "tun_priv.h"
#include "tun_privproto.h"
#include "tun_privpw.h"
#include "tun_privtask.h"
#include "tun_srv.h"

#define PRIVD_CONN_BUCKETS 4096
#define PRIVD_MAX_CONNS    65536
#define PRIVD_MAX_CHILDREN 65536

typedef struct pconn pconn;
typedef struct pop pop;
typedef struct pchild pchild;
typedef struct psess psess;

/* A network process (tun_privproto.h): where its answers go. */
struct tun_privpeer {
    tun_privd *d;
    int index;
    long pid;
    tun_privd_send_fn send;
    void *send_arg;
    unsigned n_conns;
    tun_privpeer *next;
};

/* Work under way for a connection, answered later. */
struct pop {
    pconn *c;
    uint32_t type, id;
    tun_ptask *task;
    tun_pwjob *job;
    void (*cleanup)(pop *o); /* frees what the kind of work attached */
    void *data;
    pop *next;
};

struct pconn {
    tun_privd *d;
    tun_privpeer *w; /* the network process that opened it: the only one that may name it */
    struct sockaddr_storage src; /* the client, a PROXY header's if relayed (PerSourceMaxStartups) */
    uint64_t token;
    char ip[64], lip[64];
    int port, lport;
    tun_srvsettings *set;
    /* authentication */
    int have_user;    /* the first AUTH named the user; it never changes */
    char user[64];    /* as the client named it */
    tun_user_info u;  /* u.found: an account exists (and may be served) */
    tun_srvopts opts; /* settings for this user and address (Match applied) */
    int have_opts;
    unsigned failures; /* failed attempts, against MaxAuthTries */
    unsigned tried;    /* methods tried (1 << tun_auth_kind) */
    int busy;          /* an AUTH is under way */
    int authenticated;
    tun_keyopts kopts; /* authorized_keys options of the key used */
    int have_kopts;
    uint8_t session_id[64]; /* the first exchange hash signed for it */
    size_t session_id_len;
    unsigned n_signed; /* exchange hashes signed */
    char hostkey_alg[64];   /* the algorithm of the last exchange signed */
    unsigned n_proves;      /* hostkeys-prove-00 requests answered */
    ev_tstamp last_signed;  /* re-exchange budget: a token bucket */
    double sign_tokens;
    unsigned n_sessions;
    psess *psess; /* sessions' agent and X11 forwarding (tun_privfwd.c) */
    unsigned n_psess;
    pop *ops;
    pconn *next;
};

struct pchild {
    tun_privd *d;
    pconn *conn; /* NULL once the connection ended */
    tun_privpeer *peer; /* told of the exit (NULL once that worker is gone) */
    uint32_t session;
    pid_t pid;
    ev_child w;
    pchild *next;
};

struct tun_privd {
    struct ev_loop *loop;
    int root;
    uid_t self_uid;
    tun_srvsettings *set; /* for new connections */
    tun_priv_conf conf;
    tun_privpeer *peers;
    tun_privpeer *dflt;     /* tun_privd_request's peer */
    tun_privpeer *req_from; /* the peer whose request is being handled */
    int global_startups;    /* MaxStartups counted here (several workers) */
    unsigned n_unauth;      /* connections not authenticated yet */
    pconn *conns[PRIVD_CONN_BUCKETS];
    unsigned n_conns;
    pchild *children;
    unsigned n_children;
    tun_pwpool *pw;
    char decoy_hash[128]; /* what unknown users' passwords are hashed against */
};

/* The connection `token` of peer `w` (NULL: unknown to that peer). */
pconn *privd_conn_find(tun_privd *d, const tun_privpeer *w, uint64_t token);
/* The connection has authenticated (MaxStartups stops counting it). */
void privd_conn_authenticated(pconn *c);
pop *privd_op_new(pconn *c, uint32_t type, uint32_t id);
/* Finished: unlink and free (after answering). */
void privd_op_done(pop *o);
/* Cancelled with its connection: stop its work, no answer. */
void privd_op_cancel(pop *o);
/* Answer a request about `c` (to the peer that opened it) or, with `c`
 * NULL, the request being handled (to the peer that sent it). */
void privd_answer(tun_privd *d, const pconn *c, uint32_t type, uint32_t id, const ssh_buf *body,
                  const int *fds, int nfds);

/* Cancelled on its own (its connection goes on): unlink, stop, free. */
void privd_op_abandon(pop *o);

/* AGENT, X11 and SESS_END (tun_privfwd.c). */
void privd_agent(tun_privd *d, uint32_t id, pconn *c, ssh_cur *in);
void privd_x11(tun_privd *d, uint32_t id, pconn *c, ssh_cur *in);
void privd_sess_end(tun_privd *d, pconn *c, ssh_cur *in);
/* The connection ends: every session's forwarding goes (agent directories
 * removed as the user). */
void privd_sessions_free(pconn *c);
/* What SPAWN adds for a session's forwarding: empty strings for none. */
typedef struct privd_sessfwd {
    char auth_sock[64];      /* SSH_AUTH_SOCK */
    char display[300];       /* DISPLAY */
    char xauth_display[300]; /* the display as xauth names it */
    char xauth_input[2048];  /* "remove ...\nadd ...\n" for xauth -q - */
} privd_sessfwd;
int privd_session_forwarding(pconn *c, uint32_t session, privd_sessfwd *out);

/* AUTH and SIGN (tun_privauth.c). */
void privd_auth(tun_privd *d, uint32_t id, pconn *c, ssh_cur *in);
void privd_sign(tun_privd *d, uint32_t id, pconn *c, ssh_cur *in);
void privd_prove(tun_privd *d, uint32_t id, pconn *c, ssh_cur *in);
/* The answers to AUTH: failed counts a failure, succeeded marks the
 * connection authenticated (with c->kopts when have_kopts). */
void privd_auth_answer(tun_privd *d, uint32_t id, pconn *c, int ok, const tun_keyopts *ko);
void privd_auth_failed(tun_privd *d, uint32_t id, pconn *c);
void privd_auth_succeeded(tun_privd *d, uint32_t id, pconn *c);
/* The account `name` (found == 0: none, or a name we never serve). */
void privd_lookup_user(const char *name, tun_user_info *out);
/* A publickey attempt (or query) of an allowed user (tun_privpk.c). */
void privd_pubkey(tun_privd *d, uint32_t id, pconn *c, enum tun_auth_kind kind, const char *alg,
                  const uint8_t *blob, size_t bl, const uint8_t *sig, size_t sl,
                  const uint8_t *data, size_t dl);
/* The uid/gid the password workers run as (SshtundUser, else nobody). */
void privd_unprivileged_ids(const char *user, uint32_t *uid, uint32_t *gid);

#endif
