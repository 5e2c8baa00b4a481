/*
 * tun_agent.c - ssh-agent client.
 *
 * Wire format: uint32 length, byte type, contents.  We send requests as soon
 * as they are made and read answers into a buffer bounded at 256 KiB; each
 * complete answer pops the oldest request.
 */
#include "tun_agent.h"
#include "tun_log.h"
#include "tun_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sshtun/buf.h"
#include "sshtun/cert.h"
#include "sshtun/err.h"

#define AGENT_FAILURE          5
#define AGENTC_REQUEST_IDS     11
#define AGENT_IDENTITIES       12
#define AGENTC_SIGN_REQUEST    13
#define AGENT_SIGN_RESPONSE    14
#define AGENT_RSA_SHA2_256     0x02
#define AGENT_RSA_SHA2_512     0x04
#define AGENT_MSG_MAX          (256 * 1024)
#define AGENT_MAX_KEYS         1024

typedef struct req {
    struct req *next;
    int type;
    tun_agent_list_cb list_cb;
    tun_agent_sign_cb sign_cb;
    void *arg;
} req;

struct tun_agent {
    struct ev_loop *loop;
    int fd;
    ev_io rio, wio;
    ssh_buf in, out;
    req *head, *tail;
    int dead;
};

static void fail_all(tun_agent *a, int err)
{
    a->dead = 1;
    ev_io_stop(a->loop, &a->rio);
    ev_io_stop(a->loop, &a->wio);
    while (a->head) {
        req *r = a->head;
        a->head = r->next;
        if (r->list_cb)
            r->list_cb(r->arg, NULL, NULL, 0, err);
        if (r->sign_cb)
            r->sign_cb(r->arg, NULL, 0, err);
        free(r);
    }
    a->tail = NULL;
}

int tun_agent_parse_identities(const uint8_t *p, size_t len, ssh_key ***keysp, char ***commentsp,
                               size_t *np)
{
    ssh_cur c;
    uint32_t n;
    ssh_cur_init(&c, p, len);
    if (ssh_cur_get_u32(&c, &n) != 0 || n > AGENT_MAX_KEYS)
        return SSH_ERR_FORMAT;
    ssh_key **keys = calloc(n ? n : 1, sizeof(*keys));
    char **comments = calloc(n ? n : 1, sizeof(*comments));
    size_t got = 0;
    int rv = 0;
    if (keys == NULL || comments == NULL) {
        rv = SSH_ERR_ALLOC;
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *blob;
        size_t bl;
        char *comment = NULL;
        if ((rv = ssh_cur_get_string(&c, &blob, &bl)) != 0 ||
            (rv = ssh_cur_get_strdup(&c, 4096, &comment)) != 0)
            goto out;
        ssh_key *k = NULL;
        /* Keys we cannot use (security keys, DSA) are skipped;
         * certificates are kept (sshtun/cert.h). */
        if (ssh_key_from_blob(blob, bl, &k) != 0) {
            free(comment);
            continue;
        }
        keys[got] = k;
        comments[got] = comment;
        got++;
    }
    rv = ssh_cur_end(&c);
out:
    if (rv != 0) {
        for (size_t i = 0; i < got; i++) {
            ssh_key_free(keys[i]);
            free(comments[i]);
        }
        free(keys);
        free(comments);
        return rv;
    }
    *keysp = keys;
    *commentsp = comments;
    *np = got;
    return 0;
}

static void answer(tun_agent *a, const uint8_t *msg, size_t len)
{
    req *r = a->head;
    if (r == NULL)
        return;
    a->head = r->next;
    if (a->head == NULL)
        a->tail = NULL;
    uint8_t type = len ? msg[0] : 0;
    if (r->type == AGENTC_REQUEST_IDS) {
        ssh_key **keys = NULL;
        char **comments = NULL;
        size_t n = 0;
        int rv = type == AGENT_IDENTITIES
                     ? tun_agent_parse_identities(msg + 1, len - 1, &keys, &comments, &n)
                     : SSH_ERR_UNEXPECTED;
        r->list_cb(r->arg, keys, comments, n, rv);
        for (size_t i = 0; i < n; i++) {
            ssh_key_free(keys[i]);
            free(comments[i]);
        }
        free(keys);
        free(comments);
    } else {
        ssh_cur c;
        const uint8_t *sig = NULL;
        size_t sl = 0;
        int rv = SSH_ERR_UNEXPECTED;
        ssh_cur_init(&c, msg + (len ? 1 : 0), len ? len - 1 : 0);
        if (type == AGENT_SIGN_RESPONSE && ssh_cur_get_string(&c, &sig, &sl) == 0 &&
            ssh_cur_end(&c) == 0)
            rv = 0;
        r->sign_cb(r->arg, rv == 0 ? sig : NULL, rv == 0 ? sl : 0, rv);
    }
    free(r);
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_agent *a = w->data;
    uint8_t *p;
    if (ssh_buf_reserve(&a->in, 16384, &p) != 0) {
        fail_all(a, SSH_ERR_NO_SPACE);
        return;
    }
    ssize_t r = read(a->fd, p, 16384);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        tun_debug("agent connection closed");
        fail_all(a, SSH_ERR_CONN_LOST);
        return;
    }
    ssh_buf_commit(&a->in, (size_t)r);
    while (a->in.len >= 4) {
        uint32_t l = ssh_peek_u32(ssh_buf_ptr(&a->in));
        if (l == 0 || l > AGENT_MSG_MAX) {
            fail_all(a, SSH_ERR_FORMAT);
            return;
        }
        if (a->in.len < 4 + (size_t)l)
            break;
        answer(a, ssh_buf_ptr(&a->in) + 4, l);
        ssh_buf_consume(&a->in, 4 + (size_t)l);
        if (a->dead)
            return;
    }
}

static void flush(tun_agent *a)
{
    while (a->out.len > 0) {
        ssize_t w = write(a->fd, ssh_buf_ptr(&a->out), a->out.len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            fail_all(a, SSH_ERR_CONN_LOST);
            return;
        }
        ssh_buf_consume(&a->out, (size_t)w);
    }
    if (a->out.len)
        ev_io_start(a->loop, &a->wio);
    else
        ev_io_stop(a->loop, &a->wio);
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    flush(w->data);
}

tun_agent *tun_agent_connect(struct ev_loop *loop, const char *path)
{
    if (path == NULL)
        path = getenv("SSH_AUTH_SOCK");
    if (path == NULL || *path == '\0')
        return NULL;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        tun_debug("agent socket path too long: %s", path);
        return NULL;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    /* A local connect completes (or fails) at once; go non-blocking after. */
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        tun_debug("connect to agent %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (tun_set_nonblock(fd, 1) < 0) {
        close(fd);
        return NULL;
    }
    tun_agent *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        close(fd);
        return NULL;
    }
    a->loop = loop;
    a->fd = fd;
    ssh_buf_init(&a->in, AGENT_MSG_MAX + 4 + 16384, 0);
    ssh_buf_init(&a->out, 4 * 1024 * 1024, 0);
    ev_io_init(&a->rio, on_read, fd, EV_READ);
    ev_io_init(&a->wio, on_write, fd, EV_WRITE);
    a->rio.data = a->wio.data = a;
    ev_io_start(loop, &a->rio);
    tun_debug("connected to agent %s", path);
    return a;
}

static int enqueue(tun_agent *a, const ssh_buf *msg, int type, tun_agent_list_cb lcb,
                   tun_agent_sign_cb scb, void *arg)
{
    if (a == NULL || a->dead)
        return SSH_ERR_CONN_LOST;
    req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return SSH_ERR_ALLOC;
    int rv = ssh_buf_put_u32(&a->out, (uint32_t)msg->len);
    if (rv == 0)
        rv = ssh_buf_put(&a->out, ssh_buf_ptr(msg), msg->len);
    if (rv != 0) {
        free(r);
        return rv;
    }
    r->type = type;
    r->list_cb = lcb;
    r->sign_cb = scb;
    r->arg = arg;
    if (a->tail)
        a->tail->next = r;
    else
        a->head = r;
    a->tail = r;
    flush(a);
    return 0;
}

int tun_agent_list(tun_agent *a, tun_agent_list_cb cb, void *arg)
{
    ssh_buf m;
    ssh_buf_init(&m, 16, 0);
    ssh_buf_put_u8(&m, AGENTC_REQUEST_IDS);
    int rv = enqueue(a, &m, AGENTC_REQUEST_IDS, cb, NULL, arg);
    ssh_buf_free(&m);
    return rv;
}

int tun_agent_sign(tun_agent *a, const ssh_key *key, const char *alg, const uint8_t *data,
                   size_t len, tun_agent_sign_cb cb, void *arg)
{
    ssh_buf m, blob;
    uint32_t flags = 0;
    /* RSA keys sign with SHA-2 only when asked to (PROTOCOL.agent 4.5.1);
     * a certificate algorithm asks as the signature algorithm it names. */
    const char *sig = alg ? ssh_key_alg_plain(alg) : NULL;
    if (sig && strcmp(sig, "rsa-sha2-256") == 0)
        flags = AGENT_RSA_SHA2_256;
    else if (sig && strcmp(sig, "rsa-sha2-512") == 0)
        flags = AGENT_RSA_SHA2_512;
    ssh_buf_init(&m, AGENT_MSG_MAX, 0);
    ssh_buf_init(&blob, 16384, 0);
    int rv = ssh_key_to_blob(key, &blob);
    if (rv == 0)
        rv = ssh_buf_put_u8(&m, AGENTC_SIGN_REQUEST);
    if (rv == 0)
        rv = ssh_buf_put_stringb(&m, &blob);
    if (rv == 0)
        rv = ssh_buf_put_string(&m, data, len);
    if (rv == 0)
        rv = ssh_buf_put_u32(&m, flags);
    if (rv == 0)
        rv = enqueue(a, &m, AGENTC_SIGN_REQUEST, NULL, cb, arg);
    ssh_buf_free(&m);
    ssh_buf_free(&blob);
    return rv;
}

void tun_agent_free(tun_agent *a)
{
    if (a == NULL)
        return;
    ev_io_stop(a->loop, &a->rio);
    ev_io_stop(a->loop, &a->wio);
    while (a->head) {
        req *r = a->head;
        a->head = r->next;
        free(r);
    }
    close(a->fd);
    ssh_buf_free(&a->in);
    ssh_buf_free(&a->out);
    free(a);
}
