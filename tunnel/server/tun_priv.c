/*
 * tun_priv.c - sshtund's privileged operations (see tun_priv.h).
 *
 * One request format serves both modes: a request is encoded (u32 type,
 * u32 id, fields), handled by dispatch(), and answered with an encoded
 * reply plus descriptors.  In root mode the network process sends the
 * request over a SOCK_SEQPACKET socketpair to the helper, which owns the
 * state (tokens, seen session ids, spawned pids) and answers with
 * SCM_RIGHTS; without a helper, dispatch() runs in-process and the reply
 * is delivered from a zero timer, so callers see the same asynchrony.
 * Password checks in-process run in a short-lived child (crypt(3) with
 * yescrypt takes tens of milliseconds: too long for the loop).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_priv.h"
#include "tun_sock.h"
#include "tun_spawn.h"
#include "tun_log.h"
#include "tun_util.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sshtun/buf.h"
#include "sshtun/err.h"

#define MSG_MAX       (256 * 1024)
#define MAX_TOKENS    65536
#define MAX_SEEN      65536
#define MAX_CHILDREN  65536
#define KEYFILE_MAX   (4 * 1024 * 1024)

enum {
    REQ_USER = 1,
    REQ_CHECKKEY,
    REQ_AUTHPK,
    REQ_AUTHPW,
    REQ_SPAWN,
    REQ_SIGNAL,
    REQ_UNIX,
    REQ_RELEASE,
    REQ_LOAD,
    EV_EXIT = 0x100,
};

/* ---- state owned by whoever does the privileged work ---------------------------------- */

typedef struct tokrec {
    uint64_t id;
    tun_user_info u;
} tokrec;

typedef struct privstate privstate;

typedef struct child {
    privstate *st;
    pid_t pid;
    uint64_t token;
    ev_child w;
} child;

struct privstate {
    struct ev_loop *loop;
    tokrec *tokens;
    size_t n_tokens, cap_tokens;
    uint8_t (*seen)[32]; /* SHA-256 of session ids already used */
    size_t n_seen, cap_seen;
    child **children;
    size_t n_children, cap_children;
    void (*exited)(struct privstate *st, pid_t pid, int status);
    void *owner;
    int root;
    uid_t self_uid;
    tun_priv_loader loader;
    void *loader_ctx;
};

/* ---- pending requests on the network side -------------------------------------------------- */

typedef struct pending {
    uint32_t id;
    uint32_t type;
    void *cb;
    void *arg;
    /* local mode: the reply waiting for its zero timer */
    ssh_buf reply;
    int fds[3];
    int nfds;
    ev_timer later;
    pid_t pwchild; /* local password check */
    ev_child pwwatch;
    struct pending *next;
    tun_priv *p;
} pending;

/* A request waiting for room in the socket to the helper. */
typedef struct outmsg {
    struct outmsg *next;
    size_t len;
    uint8_t data[];
} outmsg;

/* Requests queued at most (each is small; this only bounds a runaway). */
#define MAX_QUEUED 65536

struct tun_priv {
    struct ev_loop *loop;
    int helper;      /* root mode */
    int sock;        /* to the helper */
    pid_t helper_pid;
    ev_io rio;
    /* The network process never blocks on the helper: the helper may be
     * blocked itself, sending us replies we would then never read. */
    ev_io wio;
    outmsg *oq, **oq_tail;
    size_t n_oq;
    uint32_t next_id;
    pending *pend;
    tun_priv_exit_fn on_exit;
    void *exit_arg;
    privstate local; /* without a helper */
};

/* ---- user database ------------------------------------------------------------------------------ */

static int valid_user_name(const char *u)
{
    size_t l = strlen(u);
    if (l == 0 || l > 32 || u[0] == '-' || u[0] == '.')
        return 0;
    for (size_t i = 0; i < l; i++)
        if (u[i] == '/' || u[i] == ':' || (unsigned char)u[i] < 0x20)
            return 0;
    return 1;
}

static void op_user(const char *name, tun_user_info *out)
{
    memset(out, 0, sizeof(*out));
    if (!valid_user_name(name))
        return;
    struct passwd *pw = getpwnam(name);
    if (pw == NULL)
        return;
    out->found = 1;
    out->uid = pw->pw_uid;
    out->gid = pw->pw_gid;
    snprintf(out->name, sizeof(out->name), "%s", pw->pw_name);
    snprintf(out->home, sizeof(out->home), "%s", pw->pw_dir ? pw->pw_dir : "/");
    snprintf(out->shell, sizeof(out->shell), "%s",
             pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh");
}

static const tokrec *token_find(const privstate *st, uint64_t id)
{
    for (size_t i = 0; i < st->n_tokens; i++)
        if (st->tokens[i].id == id)
            return &st->tokens[i];
    return NULL;
}

static uint64_t token_new(privstate *st, const tun_user_info *u)
{
    if (st->n_tokens >= MAX_TOKENS)
        return 0;
    if (st->n_tokens == st->cap_tokens) {
        size_t n = st->cap_tokens ? st->cap_tokens * 2 : 64;
        tokrec *t = realloc(st->tokens, n * sizeof(*t));
        if (t == NULL)
            return 0;
        st->tokens = t;
        st->cap_tokens = n;
    }
    uint64_t id = 0;
    while (id == 0)
        RAND_bytes((unsigned char *)&id, sizeof(id));
    st->tokens[st->n_tokens].id = id;
    st->tokens[st->n_tokens].u = *u;
    st->n_tokens++;
    return id;
}

static void token_release(privstate *st, uint64_t id)
{
    for (size_t i = 0; i < st->n_tokens; i++) {
        if (st->tokens[i].id == id) {
            st->tokens[i] = st->tokens[--st->n_tokens];
            return;
        }
    }
}

/* Has this session id been used for a publickey login before?  Records it
 * if not.  1: seen (replay). */
static int seen_session(privstate *st, const uint8_t *sid, size_t len)
{
    uint8_t h[32];
    unsigned hl = 0;
    if (EVP_Digest(sid, len, h, &hl, EVP_sha256(), NULL) != 1)
        return 1;
    for (size_t i = 0; i < st->n_seen; i++)
        if (memcmp(st->seen[i], h, 32) == 0)
            return 1;
    if (st->n_seen == st->cap_seen) {
        if (st->cap_seen >= MAX_SEEN) {
            /* Forget the oldest half: sessions that old are long gone. */
            memmove(st->seen, st->seen + st->n_seen / 2, (st->n_seen - st->n_seen / 2) * 32);
            st->n_seen -= st->n_seen / 2;
        } else {
            size_t n = st->cap_seen ? st->cap_seen * 2 : 256;
            void *t = realloc(st->seen, n * 32);
            if (t == NULL)
                return 1;
            st->seen = t;
            st->cap_seen = n;
        }
    }
    memcpy(st->seen[st->n_seen++], h, 32);
    return 0;
}

/* ---- authorized_keys -------------------------------------------------------------------------------- */

/* Expand %h %u %% and make a path absolute (relative to the home). */
static int keyfile_path(const char *spec, const tun_user_info *u, char *out, size_t outsz)
{
    char tmp[1024];
    size_t o = 0;
    for (const char *p = spec; *p && o + 1 < sizeof(tmp); p++) {
        if (*p != '%') {
            tmp[o++] = *p;
            continue;
        }
        p++;
        const char *rep = *p == 'h' ? u->home : *p == 'u' ? u->name : *p == '%' ? "%" : NULL;
        if (rep == NULL)
            return -1;
        size_t l = strlen(rep);
        if (o + l >= sizeof(tmp))
            return -1;
        memcpy(tmp + o, rep, l);
        o += l;
    }
    tmp[o] = '\0';
    int n = tmp[0] == '/' ? snprintf(out, outsz, "%s", tmp)
                          : snprintf(out, outsz, "%s/%s", u->home, tmp);
    return n < 0 || (size_t)n >= outsz ? -1 : 0; /* a truncated path is no path */
}

/* Read a user's file.  As root, refuse files another (non-root) user could
 * have written (sshd's StrictModes, simplified: file and its directory
 * owned by the user or root and not group/world-writable). */
static int read_user_file(const privstate *st, const char *path, const tun_user_info *u,
                          uint8_t **data, size_t *len)
{
    if (st->root) {
        struct stat sb;
        if (stat(path, &sb) != 0)
            return -1;
        if ((sb.st_uid != u->uid && sb.st_uid != 0) || (sb.st_mode & 022)) {
            tun_error("Authentication refused: bad ownership or modes for %s", path);
            return -1;
        }
    }
    return tun_read_file(path, KEYFILE_MAX, data, len);
}

static enum tun_ak_result op_keys(const privstate *st, const tun_user_info *u, const ssh_key *key,
                                  const char *ip, const char *keyfiles, tun_keyopts *opts,
                                  char *why, size_t whysz)
{
    char list[4096], *save = NULL;
    snprintf(list, sizeof(list), "%s", keyfiles ? keyfiles : "");
    for (char *f = strtok_r(list, " \t", &save); f; f = strtok_r(NULL, " \t", &save)) {
        char path[1024];
        uint8_t *data;
        size_t len;
        if (strcmp(f, "none") == 0 || keyfile_path(f, u, path, sizeof(path)) != 0)
            continue;
        if (read_user_file(st, path, u, &data, &len) != 0)
            continue;
        enum tun_ak_result r = tun_authkeys_find((const char *)data, len, key, ip,
                                                 (int64_t)time(NULL), opts, why, whysz);
        free(data);
        if (r != TUN_AK_NOT_FOUND)
            return r;
    }
    return TUN_AK_NOT_FOUND;
}

/* RFC 4252 section 7: check that the signed data is a publickey request of
 * this user for this key, and the signature over it. */
static int op_verify(const char *user, const char *alg, const ssh_key *key, const uint8_t *blob,
                     size_t bloblen, const uint8_t *sig, size_t siglen, const uint8_t *data,
                     size_t datalen, const uint8_t **sid, size_t *sidlen)
{
    ssh_cur c;
    uint8_t type;
    int has;
    char u[256], service[64], method[64], a[64];
    const uint8_t *b;
    size_t bl;
    ssh_cur_init(&c, data, datalen);
    if (ssh_cur_get_string(&c, sid, sidlen) != 0 || *sidlen == 0 || *sidlen > 64 ||
        ssh_cur_get_u8(&c, &type) != 0 || type != 50 ||
        ssh_cur_get_cstr(&c, u, sizeof(u)) != 0 || strcmp(u, user) != 0 ||
        ssh_cur_get_cstr(&c, service, sizeof(service)) != 0 ||
        strcmp(service, "ssh-connection") != 0 ||
        ssh_cur_get_cstr(&c, method, sizeof(method)) != 0 || strcmp(method, "publickey") != 0 ||
        ssh_cur_get_bool(&c, &has) != 0 || !has || ssh_cur_get_cstr(&c, a, sizeof(a)) != 0 ||
        strcmp(a, alg) != 0 || ssh_cur_get_string(&c, &b, &bl) != 0 || bl != bloblen ||
        memcmp(b, blob, bl) != 0 || ssh_cur_end(&c) != 0)
        return -1;
    return ssh_key_verify(key, alg, SSH_KEY_ALLOW_SHA1, sig, siglen, data, datalen) == 0 ? 0 : -1;
}

static int op_password(const tun_user_info *u, const char *password)
{
    const char *hash = NULL;
    struct spwd *sp = getspnam(u->name);
    if (sp && sp->sp_pwdp)
        hash = sp->sp_pwdp;
    else {
        struct passwd *pw = getpwnam(u->name);
        if (pw && pw->pw_passwd)
            hash = pw->pw_passwd;
    }
    /* Locked or passwordless accounts ("!", "*", "") never match. */
    if (hash == NULL || hash[0] == '\0' || hash[0] == '!' || hash[0] == '*')
        return 0;
    struct crypt_data cd;
    memset(&cd, 0, sizeof(cd));
    const char *res = crypt_r(password, hash, &cd);
    int ok = res != NULL && strlen(res) == strlen(hash) &&
             CRYPTO_memcmp(res, hash, strlen(hash)) == 0;
    OPENSSL_cleanse(&cd, sizeof(cd));
    return ok;
}

/* Connect to / listen on a Unix socket as the user: in a child that has
 * become the user, which passes the descriptor back. */
static int unix_socket(const char *path, int listen_it)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int rv;
    if (listen_it) {
        mode_t old = umask(0177);
        rv = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
        umask(old);
        if (rv == 0)
            rv = listen(fd, SOMAXCONN);
    } else {
        rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    }
    if (rv != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}


static int op_unix(const privstate *st, const tun_user_info *u, const char *path, int listen_it)
{
    if (!st->root)
        return unix_socket(path, listen_it);
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(sp[0]);
        close(sp[1]);
        return -1;
    }
    if (pid == 0) {
        close(sp[0]);
        int e = 0;
        if (setgid(u->gid) != 0 || initgroups(u->name, u->gid) != 0 || setuid(u->uid) != 0)
            _exit(1);
        int fd = unix_socket(path, listen_it);
        if (fd < 0)
            e = errno;
        tun_send_fds(sp[1], &e, sizeof(e), &fd, fd >= 0 ? 1 : 0);
        _exit(0);
    }
    close(sp[1]);
    int e = EIO, fd = -1, n = 0;
    int r = tun_recv_fds(sp[0], &e, sizeof(e), &fd, &n);
    close(sp[0]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (r < 0 || n != 1) {
        errno = e ? e : EIO;
        return -1;
    }
    return fd;
}

/* ---- dispatch: the privileged side ---------------------------------------------------------------------------- */

static void child_exited(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    child *ch = w->data;
    privstate *s = ch->st;
    ev_child_stop(loop, w);
    for (size_t i = 0; i < s->n_children; i++) {
        if (s->children[i] == ch) {
            s->children[i] = s->children[--s->n_children];
            break;
        }
    }
    if (s->exited)
        s->exited(s, ch->pid, w->rstatus);
    free(ch);
}

static int watch_child(privstate *st, pid_t pid, uint64_t tok)
{
    if (st->n_children >= MAX_CHILDREN)
        return -1;
    if (st->n_children == st->cap_children) {
        size_t n = st->cap_children ? st->cap_children * 2 : 64;
        child **c = realloc(st->children, n * sizeof(*c));
        if (c == NULL)
            return -1;
        st->children = c;
        st->cap_children = n;
    }
    child *ch = calloc(1, sizeof(*ch));
    if (ch == NULL)
        return -1;
    ch->st = st;
    ch->pid = pid;
    ch->token = tok;
    ev_child_init(&ch->w, child_exited, pid, 0);
    ch->w.data = ch;
    ev_child_start(st->loop, &ch->w);
    st->children[st->n_children++] = ch;
    return 0;
}

static const child *child_of(const privstate *st, pid_t pid)
{
    for (size_t i = 0; i < st->n_children; i++)
        if (st->children[i]->pid == pid)
            return st->children[i];
    return NULL;
}

#define GET_STR(cur, buf)                                                                          \
    do {                                                                                           \
        if (ssh_cur_get_cstr((cur), (buf), sizeof(buf)) != 0)                                      \
            goto bad;                                                                              \
    } while (0)

/* Handle one request; fills the reply (fields after type and id) and the
 * descriptors to pass.  Returns 0, or -1 for a malformed request. */
static int dispatch(privstate *st, uint32_t type, ssh_cur *c, ssh_buf *reply, int *fds, int *nfds)
{
    char user[64], ip[64], alg[64];
    char keyfiles[2048];
    *nfds = 0;
    switch (type) {
    case REQ_USER: {
        tun_user_info u;
        GET_STR(c, user);
        if (ssh_cur_end(c) != 0)
            goto bad;
        op_user(user, &u);
        ssh_buf_put_bool(reply, u.found);
        ssh_buf_put_u32(reply, u.uid);
        ssh_buf_put_u32(reply, u.gid);
        ssh_buf_put_cstring(reply, u.name);
        ssh_buf_put_cstring(reply, u.home);
        ssh_buf_put_cstring(reply, u.shell);
        return 0;
    }
    case REQ_CHECKKEY:
    case REQ_AUTHPK: {
        const uint8_t *blob, *sig = NULL, *data = NULL;
        size_t bl, sl = 0, dl = 0;
        GET_STR(c, user);
        if (type == REQ_AUTHPK)
            GET_STR(c, alg);
        if (ssh_cur_get_string(c, &blob, &bl) != 0)
            goto bad;
        if (type == REQ_AUTHPK &&
            (ssh_cur_get_string(c, &sig, &sl) != 0 || ssh_cur_get_string(c, &data, &dl) != 0))
            goto bad;
        GET_STR(c, ip);
        GET_STR(c, keyfiles);
        if (ssh_cur_end(c) != 0)
            goto bad;
        tun_user_info u;
        tun_keyopts opts;
        memset(&opts, 0, sizeof(opts));
        char why[256] = "";
        ssh_key *key = NULL;
        enum tun_ak_result r = TUN_AK_NOT_FOUND;
        int ok = 0;
        uint64_t tok = 0;
        op_user(user, &u);
        if (!u.found || ssh_key_from_blob(blob, bl, &key) != 0) {
            snprintf(why, sizeof(why), "invalid user or key");
        } else if (!st->root && u.uid != st->self_uid) {
            snprintf(why, sizeof(why), "this server serves only uid %u", (unsigned)st->self_uid);
        } else {
            const uint8_t *sid = NULL;
            size_t sidlen = 0;
            if (type == REQ_AUTHPK &&
                op_verify(user, alg, key, blob, bl, sig, sl, data, dl, &sid, &sidlen) != 0) {
                snprintf(why, sizeof(why), "signature verification failed");
            } else {
                r = op_keys(st, &u, key, ip, keyfiles, &opts, why, sizeof(why));
                ok = r == TUN_AK_FOUND;
                if (ok && type == REQ_AUTHPK) {
                    if (seen_session(st, sid, sidlen)) {
                        ok = 0;
                        snprintf(why, sizeof(why), "replayed authentication");
                    } else if ((tok = token_new(st, &u)) == 0) {
                        ok = 0;
                        snprintf(why, sizeof(why), "too many sessions");
                    }
                }
            }
        }
        ssh_key_free(key);
        ssh_buf_put_bool(reply, ok);
        ssh_buf_put_u32(reply, (uint32_t)r);
        ssh_buf_put_cstring(reply, why);
        ssh_buf_put_u64(reply, tok);
        tun_keyopts_encode(&opts, reply);
        tun_keyopts_free(&opts);
        return 0;
    }
    case REQ_AUTHPW: {
        char pw[1024];
        GET_STR(c, user);
        if (ssh_cur_get_cstr(c, pw, sizeof(pw)) != 0 || ssh_cur_end(c) != 0) {
            OPENSSL_cleanse(pw, sizeof(pw));
            goto bad;
        }
        tun_user_info u;
        op_user(user, &u);
        int ok = u.found && (st->root || u.uid == st->self_uid) && op_password(&u, pw);
        OPENSSL_cleanse(pw, sizeof(pw));
        uint64_t tok = ok ? token_new(st, &u) : 0;
        ssh_buf_put_bool(reply, ok && tok);
        ssh_buf_put_u32(reply, 0);
        ssh_buf_put_cstring(reply, ok ? "" : "password incorrect");
        ssh_buf_put_u64(reply, tok);
        tun_keyopts empty;
        memset(&empty, 0, sizeof(empty));
        tun_keyopts_encode(&empty, reply);
        return 0;
    }
    case REQ_SPAWN: {
        uint64_t tok;
        int has_cmd, pty;
        char cmd[65536], term[256];
        const uint8_t *modes;
        size_t ml;
        struct winsize ws;
        uint32_t cols, rows, wpx, hpx, n_env;
        char *env[256];
        int ne = 0;
        if (ssh_cur_get_u64(c, &tok) != 0 || ssh_cur_get_bool(c, &has_cmd) != 0 ||
            ssh_cur_get_cstr(c, cmd, sizeof(cmd)) != 0 || ssh_cur_get_bool(c, &pty) != 0 ||
            ssh_cur_get_cstr(c, term, sizeof(term)) != 0 || ssh_cur_get_u32(c, &cols) != 0 ||
            ssh_cur_get_u32(c, &rows) != 0 || ssh_cur_get_u32(c, &wpx) != 0 ||
            ssh_cur_get_u32(c, &hpx) != 0 || ssh_cur_get_string(c, &modes, &ml) != 0 ||
            ssh_cur_get_u32(c, &n_env) != 0 || n_env > 256)
            goto bad;
        for (uint32_t i = 0; i < n_env; i++) {
            char *e;
            if (ssh_cur_get_strdup(c, 8192, &e) != 0)
                goto badenv;
            if (!tun_spawn_valid_env(e)) {
                free(e);
                continue;
            }
            env[ne++] = e;
        }
        if (ssh_cur_end(c) != 0)
            goto badenv;
        const tokrec *t = token_find(st, tok);
        int e = 0;
        pid_t pid = -1;
        char tty[64] = "";
        if (t == NULL) {
            e = EPERM;
        } else {
            ws.ws_col = (unsigned short)(cols > 4096 ? 80 : cols);
            ws.ws_row = (unsigned short)(rows > 4096 ? 24 : rows);
            ws.ws_xpixel = (unsigned short)(wpx > 65535 ? 0 : wpx);
            ws.ws_ypixel = (unsigned short)(hpx > 65535 ? 0 : hpx);
            pid = tun_spawn_session(st->root, &t->u, has_cmd ? cmd : NULL, pty, term, &ws, modes, ml, env, ne, fds,
                           tty, sizeof(tty));
            if (pid < 0)
                e = errno;
            else if (watch_child(st, pid, tok) != 0) {
                kill(pid, SIGKILL);
                e = EAGAIN;
            }
        }
        for (int i = 0; i < ne; i++)
            free(env[i]);
        if (e == 0)
            *nfds = fds[2] >= 0 ? 3 : 2;
        ssh_buf_put_u32(reply, (uint32_t)e);
        ssh_buf_put_u32(reply, (uint32_t)(e ? 0 : pid));
        ssh_buf_put_cstring(reply, tty);
        return 0;
    badenv:
        for (int i = 0; i < ne; i++)
            free(env[i]);
        goto bad;
    }
    case REQ_SIGNAL: {
        uint64_t tok;
        uint32_t pid, sig;
        if (ssh_cur_get_u64(c, &tok) != 0 || ssh_cur_get_u32(c, &pid) != 0 ||
            ssh_cur_get_u32(c, &sig) != 0 || ssh_cur_end(c) != 0)
            goto bad;
        const child *ch = child_of(st, (pid_t)pid);
        /* Only a process spawned for the same login, only ordinary signals. */
        int ok = ch && ch->token == tok && sig > 0 && sig < 32 && sig != SIGSTOP &&
                 kill(-(pid_t)pid, (int)sig) == 0;
        if (ch && ch->token == tok && !ok)
            ok = kill((pid_t)pid, (int)sig) == 0;
        ssh_buf_put_bool(reply, ok);
        return 0;
    }
    case REQ_UNIX: {
        uint64_t tok;
        char path[256];
        int lst;
        if (ssh_cur_get_u64(c, &tok) != 0 || ssh_cur_get_cstr(c, path, sizeof(path)) != 0 ||
            ssh_cur_get_bool(c, &lst) != 0 || ssh_cur_end(c) != 0)
            goto bad;
        const tokrec *t = token_find(st, tok);
        int e = 0, fd = -1;
        if (t == NULL)
            e = EPERM;
        else if ((fd = op_unix(st, &t->u, path, lst)) < 0)
            e = errno;
        ssh_buf_put_u32(reply, (uint32_t)e);
        if (fd >= 0) {
            fds[0] = fd;
            *nfds = 1;
        }
        return 0;
    }
    case REQ_RELEASE: {
        uint64_t tok;
        if (ssh_cur_get_u64(c, &tok) != 0 || ssh_cur_end(c) != 0)
            goto bad;
        token_release(st, tok);
        return 0;
    }
    case REQ_LOAD: {
        if (ssh_cur_end(c) != 0)
            goto bad;
        ssh_buf b;
        ssh_buf_init(&b, MSG_MAX - 64, SSH_BUF_SECRET);
        int ok = st->loader != NULL && st->loader(st->loader_ctx, &b) == 0;
        ssh_buf_put_bool(reply, ok);
        ssh_buf_put_stringb(reply, &b);
        ssh_buf_free(&b);
        return 0;
    }
    }
bad:
    return -1;
}

/* ---- the helper process ------------------------------------------------------------------------------------------ */

static int helper_sock = -1;

static void helper_exited(privstate *st, pid_t pid, int status)
{
    (void)st;
    ssh_buf m;
    ssh_buf_init(&m, 64, 0);
    ssh_buf_put_u32(&m, EV_EXIT);
    ssh_buf_put_u32(&m, 0);
    ssh_buf_put_u32(&m, (uint32_t)pid);
    ssh_buf_put_u32(&m, (uint32_t)status);
    tun_send_fds(helper_sock, ssh_buf_ptr(&m), m.len, NULL, 0);
    ssh_buf_free(&m);
}

static void helper_read(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    privstate *st = ev_userdata(loop);
    static uint8_t buf[MSG_MAX];
    int fds[3], nfds;
    int n = tun_recv_fds(w->fd, buf, sizeof(buf), fds, &nfds);
    for (int i = 0; i < nfds; i++)
        close(fds[i]); /* nothing legitimate passes descriptors to us */
    if (n <= 0) {
        /* The network process is gone: end its sessions too. */
        for (size_t i = 0; i < st->n_children; i++)
            kill(st->children[i]->pid, SIGHUP);
        _exit(0);
    }
    ssh_cur c;
    uint32_t type, id;
    ssh_cur_init(&c, buf, (size_t)n);
    if (ssh_cur_get_u32(&c, &type) != 0 || ssh_cur_get_u32(&c, &id) != 0)
        return;
    ssh_buf reply;
    ssh_buf_init(&reply, MSG_MAX, SSH_BUF_SECRET);
    ssh_buf_put_u32(&reply, type | 0x80);
    ssh_buf_put_u32(&reply, id);
    int out[3] = {-1, -1, -1}, nout = 0;
    if (dispatch(st, type, &c, &reply, out, &nout) != 0) {
        tun_error("sshtund helper: malformed request %u from the network process", type);
        ssh_buf_free(&reply);
        return;
    }
    if (type != REQ_RELEASE)
        tun_send_fds(w->fd, ssh_buf_ptr(&reply), reply.len, out, nout);
    for (int i = 0; i < nout; i++)
        close(out[i]);
    ssh_buf_free(&reply);
}

static void helper_main(int sock, tun_priv_loader loader, void *loader_ctx)
{
    struct ev_loop *loop = EV_DEFAULT;
    ev_loop_fork(loop);
    privstate st;
    memset(&st, 0, sizeof(st));
    st.loop = loop;
    st.root = 1;
    st.self_uid = getuid();
    st.exited = helper_exited;
    st.loader = loader;
    st.loader_ctx = loader_ctx;
    helper_sock = sock;
    prctl(PR_SET_NAME, "sshtund-priv", 0, 0, 0);
    ev_set_userdata(loop, &st);
    ev_io w;
    ev_io_init(&w, helper_read, sock, EV_READ);
    ev_io_start(loop, &w);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    ev_run(loop, 0);
    _exit(0);
}

/* ---- network side ------------------------------------------------------------------------------------------------- */

static void deliver(tun_priv *p, pending *pd, const uint8_t *data, size_t len, int *fds, int nfds);

static void net_read(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_priv *p = w->data;
    static uint8_t buf[MSG_MAX];
    int fds[3], nfds;
    int n = tun_recv_fds(w->fd, buf, sizeof(buf), fds, &nfds);
    if (n <= 0) {
        tun_error("sshtund: the privileged helper is gone; exiting");
        exit(1);
    }
    ssh_cur c;
    uint32_t type, id;
    ssh_cur_init(&c, buf, (size_t)n);
    if (ssh_cur_get_u32(&c, &type) != 0 || ssh_cur_get_u32(&c, &id) != 0) {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        return;
    }
    if (type == EV_EXIT) {
        uint32_t pid, status;
        if (ssh_cur_get_u32(&c, &pid) == 0 && ssh_cur_get_u32(&c, &status) == 0 && p->on_exit)
            p->on_exit(p->exit_arg, (pid_t)pid, (int)status);
        return;
    }
    pending **pp = &p->pend;
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    if (*pp == NULL) {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        return;
    }
    pending *pd = *pp;
    *pp = pd->next;
    deliver(p, pd, c.p, c.len, fds, nfds);
}

/* Decode a reply for its callback; frees `pd` and closes unused fds. */
static void deliver(tun_priv *p, pending *pd, const uint8_t *data, size_t len, int *fds, int nfds)
{
    (void)p;
    ssh_cur c;
    ssh_cur_init(&c, data, len);
    int used = 0;
    /* The helper's descriptors are blocking; this process never blocks. */
    for (int i = 0; i < nfds; i++)
        tun_set_nonblock(fds[i], 1);
    if (pd->cb != NULL) {
        switch (pd->type) {
        case REQ_USER: {
            tun_user_info u;
            memset(&u, 0, sizeof(u));
            int found = 0;
            if (ssh_cur_get_bool(&c, &found) == 0 && ssh_cur_get_u32(&c, &u.uid) == 0 &&
                ssh_cur_get_u32(&c, &u.gid) == 0 && ssh_cur_get_cstr(&c, u.name, sizeof(u.name)) == 0 &&
                ssh_cur_get_cstr(&c, u.home, sizeof(u.home)) == 0 &&
                ssh_cur_get_cstr(&c, u.shell, sizeof(u.shell)) == 0)
                u.found = found;
            ((tun_priv_user_cb)pd->cb)(pd->arg, &u);
            break;
        }
        case REQ_CHECKKEY:
        case REQ_AUTHPK:
        case REQ_AUTHPW: {
            tun_auth_result r;
            memset(&r, 0, sizeof(r));
            uint32_t ak = 0;
            if (ssh_cur_get_bool(&c, &r.ok) != 0 || ssh_cur_get_u32(&c, &ak) != 0 ||
                ssh_cur_get_cstr(&c, r.why, sizeof(r.why)) != 0 ||
                ssh_cur_get_u64(&c, &r.token) != 0 || tun_keyopts_decode(&c, &r.opts) != 0) {
                memset(&r, 0, sizeof(r));
                snprintf(r.why, sizeof(r.why), "bad reply from the privileged helper");
            }
            r.ak = (enum tun_ak_result)ak;
            ((tun_priv_auth_cb)pd->cb)(pd->arg, &r);
            tun_keyopts_free(&r.opts);
            break;
        }
        case REQ_SPAWN: {
            tun_spawn_result r;
            memset(&r, 0, sizeof(r));
            uint32_t e = EIO, pid = 0;
            r.fd_in = r.fd_out = r.fd_err = -1;
            if (ssh_cur_get_u32(&c, &e) == 0 && ssh_cur_get_u32(&c, &pid) == 0 &&
                ssh_cur_get_cstr(&c, r.tty, sizeof(r.tty)) == 0 && e == 0 && nfds >= 2) {
                r.pid = (pid_t)pid;
                r.fd_in = fds[0];
                r.fd_out = fds[1];
                r.fd_err = nfds >= 3 ? fds[2] : -1;
                used = nfds;
            }
            r.err = (int)e;
            if (r.err == 0 && used == 0)
                r.err = EIO;
            ((tun_priv_spawn_cb)pd->cb)(pd->arg, &r);
            break;
        }
        case REQ_LOAD: {
            int ok = 0;
            const uint8_t *d = NULL;
            size_t dl = 0;
            if (ssh_cur_get_bool(&c, &ok) != 0 || ssh_cur_get_string(&c, &d, &dl) != 0)
                ok = 0;
            ((tun_priv_load_cb)pd->cb)(pd->arg, ok, d, ok ? dl : 0);
            OPENSSL_cleanse((void *)data, len);
            break;
        }
        case REQ_UNIX: {
            uint32_t e = EIO;
            int fd = -1;
            if (ssh_cur_get_u32(&c, &e) == 0 && e == 0 && nfds == 1) {
                fd = fds[0];
                used = 1;
            }
            ((tun_priv_fd_cb)pd->cb)(pd->arg, fd, fd >= 0 ? 0 : (int)(e ? e : EIO));
            break;
        }
        default:
            break;
        }
    }
    for (int i = used; i < nfds; i++)
        close(fds[i]);
    ssh_buf_free(&pd->reply);
    free(pd);
}

static void local_later(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    pending *pd = w->data;
    tun_priv *p = pd->p;
    for (pending **pp = &p->pend; *pp; pp = &(*pp)->next) {
        if (*pp == pd) {
            *pp = pd->next;
            break;
        }
    }
    deliver(p, pd, ssh_buf_ptr(&pd->reply), pd->reply.len, pd->fds, pd->nfds);
}

static void local_exited(privstate *st, pid_t pid, int status)
{
    tun_priv *p = st->owner;
    if (p->on_exit)
        p->on_exit(p->exit_arg, pid, status);
}

/* Local password check: the child's exit status is the answer. */
static void pw_done(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    ev_child_stop(loop, w);
    pending *pd = w->data;
    tun_priv *p = pd->p;
    int ok = WIFEXITED(w->rstatus) && WEXITSTATUS(w->rstatus) == 0;
    tun_user_info u;
    op_user((const char *)pd->reply.data, &u); /* the user name was kept in `reply` */
    ssh_buf_reset(&pd->reply);
    uint64_t tok = ok && u.found ? token_new(&p->local, &u) : 0;
    ssh_buf_put_bool(&pd->reply, tok != 0);
    ssh_buf_put_u32(&pd->reply, 0);
    ssh_buf_put_cstring(&pd->reply, tok ? "" : "password incorrect");
    ssh_buf_put_u64(&pd->reply, tok);
    tun_keyopts empty;
    memset(&empty, 0, sizeof(empty));
    tun_keyopts_encode(&empty, &pd->reply);
    ev_timer_start(p->loop, &pd->later);
}

/* Send (or run) a request.  `body` holds the fields after type and id. */
static void oq_free(tun_priv *p)
{
    while (p->oq) {
        outmsg *o = p->oq;
        p->oq = o->next;
        OPENSSL_cleanse(o->data, o->len);
        free(o);
    }
    p->oq_tail = &p->oq;
    p->n_oq = 0;
}

static void net_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    tun_priv *p = w->data;
    while (p->oq) {
        outmsg *o = p->oq;
        ssize_t n = send(p->sock, o->data, o->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n < 0) {
            /* The helper is gone; net_read notices and ends the process. */
            oq_free(p);
            break;
        }
        p->oq = o->next;
        if (p->oq == NULL)
            p->oq_tail = &p->oq;
        p->n_oq--;
        OPENSSL_cleanse(o->data, o->len);
        free(o);
    }
    ev_io_stop(loop, w);
}

/* Send one request to the helper now, or queue it for when there is room. */
static int net_send(tun_priv *p, const uint8_t *data, size_t len)
{
    if (p->oq == NULL) {
        ssize_t n = send(p->sock, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0)
            return 0;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return SSH_ERR_CONN_LOST;
    }
    if (p->n_oq >= MAX_QUEUED)
        return SSH_ERR_ALLOC;
    outmsg *o = malloc(sizeof(*o) + len);
    if (o == NULL)
        return SSH_ERR_ALLOC;
    o->next = NULL;
    o->len = len;
    memcpy(o->data, data, len);
    *p->oq_tail = o;
    p->oq_tail = &o->next;
    p->n_oq++;
    ev_io_start(p->loop, &p->wio);
    return 0;
}

static int submit(tun_priv *p, uint32_t type, const ssh_buf *body, void *cb, void *arg)
{
    pending *pd = calloc(1, sizeof(*pd));
    if (pd == NULL)
        return SSH_ERR_ALLOC;
    pd->id = ++p->next_id;
    pd->type = type;
    pd->cb = cb;
    pd->arg = arg;
    pd->p = p;
    ssh_buf_init(&pd->reply, MSG_MAX, SSH_BUF_SECRET);
    if (p->helper) {
        ssh_buf m;
        ssh_buf_init(&m, MSG_MAX, 0);
        ssh_buf_put_u32(&m, type);
        ssh_buf_put_u32(&m, pd->id);
        int rv = ssh_buf_put(&m, ssh_buf_ptr(body), body->len);
        if (rv == 0)
            rv = net_send(p, ssh_buf_ptr(&m), m.len);
        ssh_buf_free(&m);
        if (rv != 0 || type == REQ_RELEASE) {
            ssh_buf_free(&pd->reply);
            free(pd);
            return rv;
        }
        pd->next = p->pend;
        p->pend = pd;
        return 0;
    }
    ev_timer_init(&pd->later, local_later, 0., 0.);
    pd->later.data = pd;
    pd->next = p->pend;
    p->pend = pd;
    ssh_cur c;
    ssh_cur_from_buf(&c, body);
    if (type == REQ_AUTHPW) {
        /* crypt(3) in a child: the loop never waits for it. */
        char user[64], pw[1024];
        if (ssh_cur_get_cstr(&c, user, sizeof(user)) != 0 || ssh_cur_get_cstr(&c, pw, sizeof(pw)) != 0)
            return SSH_ERR_ARGUMENT;
        tun_user_info u;
        op_user(user, &u);
        pid_t pid = fork();
        if (pid == 0) {
            int ok = u.found && u.uid == getuid() && op_password(&u, pw);
            _exit(ok ? 0 : 1);
        }
        OPENSSL_cleanse(pw, sizeof(pw));
        ssh_buf_put(&pd->reply, user, strlen(user) + 1);
        if (pid < 0) {
            ssh_buf_reset(&pd->reply);
            ssh_buf_put_bool(&pd->reply, 0);
            ev_timer_start(p->loop, &pd->later);
            return 0;
        }
        pd->pwchild = pid;
        ev_child_init(&pd->pwwatch, pw_done, pid, 0);
        pd->pwwatch.data = pd;
        ev_child_start(p->loop, &pd->pwwatch);
        return 0;
    }
    if (dispatch(&p->local, type, &c, &pd->reply, pd->fds, &pd->nfds) != 0)
        ssh_buf_reset(&pd->reply);
    if (type == REQ_RELEASE || type == REQ_SIGNAL) {
        p->pend = pd->next;
        ssh_buf_free(&pd->reply);
        free(pd);
        return 0;
    }
    ev_timer_start(p->loop, &pd->later);
    return 0;
}

tun_priv *tun_priv_new(struct ev_loop *loop, int helper, tun_priv_exit_fn on_exit, void *arg,
                       tun_priv_loader loader, void *loader_ctx)
{
    tun_priv *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->loop = loop;
    p->helper = helper;
    p->sock = -1;
    p->oq_tail = &p->oq;
    p->on_exit = on_exit;
    p->exit_arg = arg;
    p->local.loop = loop;
    p->local.root = 0;
    p->local.self_uid = getuid();
    p->local.exited = local_exited;
    p->local.owner = p;
    p->local.loader = loader;
    p->local.loader_ctx = loader_ctx;
    if (!helper)
        return p;
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
        free(p);
        return NULL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(sp[0]);
        close(sp[1]);
        free(p);
        return NULL;
    }
    if (pid == 0) {
        close(sp[0]);
        helper_main(sp[1], loader, loader_ctx);
    }
    close(sp[1]);
    p->sock = sp[0];
    p->helper_pid = pid;
    ev_io_init(&p->rio, net_read, p->sock, EV_READ);
    p->rio.data = p;
    ev_io_start(loop, &p->rio);
    ev_io_init(&p->wio, net_write, p->sock, EV_WRITE);
    p->wio.data = p;
    return p;
}

int tun_priv_drop(const char *user)
{
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        errno = ENOENT;
        return -1;
    }
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
        return -1;
    /* Verify there is no way back, and no way up through set-id programs. */
    if (setuid(0) == 0 || geteuid() == 0) {
        errno = EPERM;
        return -1;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    return 0;
}

void tun_priv_free(tun_priv *p)
{
    if (p == NULL)
        return;
    while (p->pend) {
        pending *pd = p->pend;
        p->pend = pd->next;
        ev_timer_stop(p->loop, &pd->later);
        if (pd->pwchild > 0)
            ev_child_stop(p->loop, &pd->pwwatch);
        for (int i = 0; i < pd->nfds; i++)
            close(pd->fds[i]);
        ssh_buf_free(&pd->reply);
        free(pd);
    }
    if (p->helper) {
        ev_io_stop(p->loop, &p->rio);
        ev_io_stop(p->loop, &p->wio);
        oq_free(p);
        close(p->sock);
    }
    for (size_t i = 0; i < p->local.n_children; i++) {
        ev_child_stop(p->loop, &p->local.children[i]->w);
        free(p->local.children[i]);
    }
    free(p->local.children);
    free(p->local.tokens);
    free(p->local.seen);
    free(p);
}

void tun_priv_cancel(tun_priv *p, void *arg)
{
    for (pending *pd = p->pend; pd; pd = pd->next)
        if (pd->arg == arg)
            pd->cb = NULL;
}

/* ---- request builders ----------------------------------------------------------------------------------------------- */

int tun_priv_user(tun_priv *p, const char *user, tun_priv_user_cb cb, void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, 1024, 0);
    ssh_buf_put_cstring(&b, user);
    int rv = submit(p, REQ_USER, &b, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_check_key(tun_priv *p, const char *user, const uint8_t *blob, size_t bloblen,
                       const char *client_ip, const char *keyfiles, tun_priv_auth_cb cb,
                       void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, MSG_MAX, 0);
    ssh_buf_put_cstring(&b, user);
    ssh_buf_put_string(&b, blob, bloblen);
    ssh_buf_put_cstring(&b, client_ip);
    ssh_buf_put_cstring(&b, keyfiles);
    int rv = submit(p, REQ_CHECKKEY, &b, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_auth_pubkey(tun_priv *p, const char *user, const char *alg, const uint8_t *blob,
                         size_t bloblen, const uint8_t *sig, size_t siglen, const uint8_t *data,
                         size_t datalen, const char *client_ip, const char *keyfiles,
                         tun_priv_auth_cb cb, void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, MSG_MAX, 0);
    ssh_buf_put_cstring(&b, user);
    ssh_buf_put_cstring(&b, alg);
    ssh_buf_put_string(&b, blob, bloblen);
    ssh_buf_put_string(&b, sig, siglen);
    ssh_buf_put_string(&b, data, datalen);
    ssh_buf_put_cstring(&b, client_ip);
    ssh_buf_put_cstring(&b, keyfiles);
    int rv = submit(p, REQ_AUTHPK, &b, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_auth_password(tun_priv *p, const char *user, const char *password,
                           tun_priv_auth_cb cb, void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, 4096, SSH_BUF_SECRET);
    ssh_buf_put_cstring(&b, user);
    ssh_buf_put_cstring(&b, password);
    int rv = submit(p, REQ_AUTHPW, &b, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_spawn(tun_priv *p, const tun_spawn_req *r, tun_priv_spawn_cb cb, void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, MSG_MAX, 0);
    ssh_buf_put_u64(&b, r->token);
    ssh_buf_put_bool(&b, r->command != NULL);
    ssh_buf_put_cstring(&b, r->command ? r->command : "");
    ssh_buf_put_bool(&b, r->pty);
    ssh_buf_put_cstring(&b, r->term ? r->term : "");
    ssh_buf_put_u32(&b, r->cols);
    ssh_buf_put_u32(&b, r->rows);
    ssh_buf_put_u32(&b, r->width_px);
    ssh_buf_put_u32(&b, r->height_px);
    ssh_buf_put_string(&b, r->modes, r->modes_len);
    ssh_buf_put_u32(&b, (uint32_t)r->n_env);
    for (int i = 0; i < r->n_env; i++)
        ssh_buf_put_cstring(&b, r->env[i]);
    int rv = submit(p, REQ_SPAWN, &b, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_signal(tun_priv *p, uint64_t token, pid_t pid, int sig)
{
    ssh_buf b;
    ssh_buf_init(&b, 64, 0);
    ssh_buf_put_u64(&b, token);
    ssh_buf_put_u32(&b, (uint32_t)pid);
    ssh_buf_put_u32(&b, (uint32_t)sig);
    int rv = submit(p, REQ_SIGNAL, &b, NULL, NULL);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_unix(tun_priv *p, uint64_t token, const char *path, int listen_it, tun_priv_fd_cb cb,
                  void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, 1024, 0);
    ssh_buf_put_u64(&b, token);
    ssh_buf_put_cstring(&b, path);
    ssh_buf_put_bool(&b, listen_it);
    int rv = submit(p, REQ_UNIX, &b, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_load(tun_priv *p, tun_priv_load_cb cb, void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, 16, 0);
    int rv = submit(p, REQ_LOAD, &b, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

void tun_priv_release(tun_priv *p, uint64_t token)
{
    if (token == 0)
        return;
    ssh_buf b;
    ssh_buf_init(&b, 64, 0);
    ssh_buf_put_u64(&b, token);
    submit(p, REQ_RELEASE, &b, NULL, NULL);
    ssh_buf_free(&b);
}
