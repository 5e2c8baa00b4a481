/*
 * tun_privpw.c - crypt(3) in worker processes, with a per-source delay
 * after failures (see tun_privpw.h).
 *
 * Worker protocol (SOCK_SEQPACKET, one job at a time per worker):
 *   to the worker:   string hash, string password
 *   from the worker: bool match
 * A worker that does not answer within JOB_TIMEOUT is killed and replaced;
 * its job fails.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_privpw.h"
#include "tun_log.h"
#include "tun_sock.h"
#include "tun_util.h"

#include <crypt.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sshtun/buf.h"

#define JOB_TIMEOUT  30.0
#define MAX_SOURCES  1024
#define FORGET_AFTER 60.0
#define MAX_WORKERS  8
#define WMSG_MAX     8192

typedef struct source {
    char addr[64];
    unsigned fails;
    ev_tstamp last_fail;
    unsigned active; /* jobs waiting or running */
} source;

typedef struct worker {
    tun_pwpool *p;
    pid_t pid;
    int sock;
    ev_io io;
    ev_timer tmo;
    tun_pwjob *job;
} worker;

struct tun_pwjob {
    tun_pwpool *p;
    source *src;
    char *hash;
    char *pw;
    size_t pwlen;
    tun_pwpool_cb cb;
    void *arg;
    int cancelled;
    int refuse;      /* over the source's limit: fails when the delay ends, unhashed */
    worker *w;       /* running on */
    ev_timer delay;  /* waiting for the source's delay */
    tun_pwjob *next; /* ready queue */
};

struct tun_pwpool {
    struct ev_loop *loop;
    worker workers[MAX_WORKERS];
    int n_workers;
    uint32_t uid, gid;
    void (*scrub)(void *);
    void *scrub_arg;
    source sources[MAX_SOURCES];
    unsigned n_sources;
    tun_pwjob *ready, **ready_tail;
    unsigned n_jobs;
};

/* ---- the worker process ------------------------------------------------------------------- */

static void worker_main(int sock)
{
    static uint8_t buf[WMSG_MAX];
    for (;;) {
        int fds[3], nfds = 0;
        int n = tun_recv_fds(sock, buf, sizeof(buf), fds, &nfds);
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        if (n <= 0)
            _exit(0);
        ssh_cur c;
        char hash[512], pw[1024];
        int ok = 0;
        ssh_cur_init(&c, buf, (size_t)n);
        if (ssh_cur_get_cstr(&c, hash, sizeof(hash)) == 0 &&
            ssh_cur_get_cstr(&c, pw, sizeof(pw)) == 0 && ssh_cur_end(&c) == 0) {
            struct crypt_data cd;
            memset(&cd, 0, sizeof(cd));
            const char *res = crypt_r(pw, hash, &cd);
            size_t hl = strlen(hash);
            ok = res != NULL && hash[0] != '\0' && strlen(res) == hl &&
                 CRYPTO_memcmp(res, hash, hl) == 0;
            OPENSSL_cleanse(&cd, sizeof(cd));
        }
        OPENSSL_cleanse(pw, sizeof(pw));
        OPENSSL_cleanse(buf, (size_t)n);
        uint8_t r = (uint8_t)ok;
        if (tun_send_fds(sock, &r, 1, NULL, 0) != 0)
            _exit(0);
    }
}

/* ---- the parent -------------------------------------------------------------------------------
 */

static void dispatch(tun_pwpool *p);

static void job_free(tun_pwjob *j)
{
    if (j->src && j->src->active && !j->refuse)
        j->src->active--;
    j->p->n_jobs--;
    free(j->hash);
    tun_free_secret(j->pw, j->pwlen);
    free(j);
}

static void job_done(tun_pwjob *j, int ok)
{
    tun_pwpool *p = j->p;
    if (j->src) {
        if (ok) {
            j->src->fails = 0;
        } else {
            if (ev_now(p->loop) - j->src->last_fail > FORGET_AFTER)
                j->src->fails = 0;
            j->src->fails++;
            j->src->last_fail = ev_now(p->loop);
        }
    }
    if (!j->cancelled)
        j->cb(j->arg, ok);
    job_free(j);
}

static void worker_stop(worker *w)
{
    tun_pwpool *p = w->p;
    ev_io_stop(p->loop, &w->io);
    ev_timer_stop(p->loop, &w->tmo);
    if (w->sock >= 0)
        close(w->sock);
    w->sock = -1;
    if (w->pid > 0)
        kill(w->pid, SIGKILL);
    w->pid = 0;
}

static int worker_start(worker *w);

/* A worker died or hung: its job fails, a new worker takes its place. */
static void worker_lost(worker *w)
{
    tun_pwjob *j = w->job;
    w->job = NULL;
    worker_stop(w);
    if (j)
        job_done(j, 0);
    if (worker_start(w) != 0)
        tun_error("sshtund: cannot restart a password worker: %s", strerror(errno));
    dispatch(w->p);
}

static void on_worker_answer(struct ev_loop *loop, ev_io *w_, int revents)
{
    (void)loop;
    (void)revents;
    worker *w = w_->data;
    uint8_t r = 0;
    int fds[3], nfds = 0;
    int n = tun_recv_fds(w->sock, &r, 1, fds, &nfds);
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n != 1 || w->job == NULL) {
        worker_lost(w);
        return;
    }
    ev_timer_stop(w->p->loop, &w->tmo);
    tun_pwjob *j = w->job;
    w->job = NULL;
    job_done(j, r == 1);
    dispatch(w->p);
}

static void on_worker_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    worker *w = t->data;
    tun_error("sshtund: a password check took longer than %.0f s; worker replaced", JOB_TIMEOUT);
    worker_lost(w);
}

static int worker_start(worker *w)
{
    tun_pwpool *p = w->p;
    int mine = -1, theirs = -1;
    pid_t pid = tun_fork_pair(&mine, &theirs);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        prctl(PR_SET_NAME, "sshtund-pw", 0, 0, 0);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        if (dup2(theirs, 3) < 0)
            _exit(1);
#ifdef SYS_close_range
        if (syscall(SYS_close_range, 4U, ~0U, 0) != 0)
#endif
            for (int fd = 4; fd < 1024; fd++)
                close(fd);
        if (p->scrub)
            p->scrub(p->scrub_arg);
        if (p->uid != 0 && (setgroups(0, NULL) != 0 || setresgid(p->gid, p->gid, p->gid) != 0 ||
                            setresuid(p->uid, p->uid, p->uid) != 0))
            _exit(1);
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        /* Hashing yields to key logins and sessions. */
        setpriority(PRIO_PROCESS, 0, 10);
        worker_main(3);
    }
    w->pid = pid;
    w->sock = mine;
    w->job = NULL;
    tun_set_nonblock(w->sock, 1);
    ev_io_init(&w->io, on_worker_answer, w->sock, EV_READ);
    w->io.data = w;
    ev_io_start(p->loop, &w->io);
    ev_init(&w->tmo, on_worker_timeout);
    w->tmo.data = w;
    return 0;
}

static void dispatch(tun_pwpool *p)
{
    for (int i = 0; i < p->n_workers && p->ready; i++) {
        worker *w = &p->workers[i];
        if (w->job || w->sock < 0)
            continue;
        tun_pwjob *j = p->ready;
        p->ready = j->next;
        if (p->ready == NULL)
            p->ready_tail = &p->ready;
        j->next = NULL;
        if (j->cancelled) {
            job_free(j);
            i--;
            continue;
        }
        ssh_buf m;
        ssh_buf_init(&m, WMSG_MAX, SSH_BUF_SECRET);
        ssh_buf_put_cstring(&m, j->hash);
        ssh_buf_put_cstring(&m, j->pw);
        int rv = tun_send_fds(w->sock, ssh_buf_ptr(&m), ssh_buf_len(&m), NULL, 0);
        ssh_buf_free(&m);
        if (rv != 0) {
            job_done(j, 0);
            worker_lost(w);
            return;
        }
        w->job = j;
        j->w = w;
        ev_timer_set(&w->tmo, JOB_TIMEOUT, 0.);
        ev_timer_start(p->loop, &w->tmo);
    }
}

static void enqueue(tun_pwpool *p, tun_pwjob *j)
{
    *p->ready_tail = j;
    p->ready_tail = &j->next;
    dispatch(p);
}

static void on_delay(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    tun_pwjob *j = t->data;
    if (j->refuse) {
        job_done(j, 0);
        return;
    }
    enqueue(j->p, j);
}

static source *source_get(tun_pwpool *p, const char *addr)
{
    ev_tstamp now = ev_now(p->loop);
    source *victim = NULL;
    for (unsigned i = 0; i < p->n_sources; i++) {
        source *s = &p->sources[i];
        if (strcmp(s->addr, addr) == 0)
            return s;
        if (s->active == 0 && (victim == NULL || s->last_fail < victim->last_fail))
            victim = s;
    }
    if (p->n_sources < MAX_SOURCES)
        victim = &p->sources[p->n_sources++];
    else if (victim == NULL || now - victim->last_fail < FORGET_AFTER)
        return NULL; /* every slot busy or recent: refuse rather than forget a guesser */
    memset(victim, 0, sizeof(*victim));
    snprintf(victim->addr, sizeof(victim->addr), "%s", addr);
    return victim;
}

tun_pwpool *tun_pwpool_new(struct ev_loop *loop, int nworkers, uint32_t uid, uint32_t gid,
                           void (*scrub)(void *), void *scrub_arg)
{
    tun_pwpool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->loop = loop;
    p->uid = uid;
    p->gid = gid;
    p->scrub = scrub;
    p->scrub_arg = scrub_arg;
    p->ready_tail = &p->ready;
    p->n_workers = nworkers < 1 ? 1 : nworkers > MAX_WORKERS ? MAX_WORKERS : nworkers;
    for (int i = 0; i < p->n_workers; i++) {
        p->workers[i].p = p;
        p->workers[i].sock = -1;
        if (worker_start(&p->workers[i]) != 0) {
            tun_pwpool_free(p);
            return NULL;
        }
    }
    return p;
}

tun_pwjob *tun_pwpool_check(tun_pwpool *p, const char *src_addr, const char *hash,
                            const char *password, tun_pwpool_cb cb, void *arg)
{
    if (p->n_jobs >= TUN_PWPOOL_QUEUE) {
        tun_info("password check for a client at %s refused: %u checks under way", src_addr,
                 p->n_jobs);
        return NULL;
    }
    source *s = source_get(p, src_addr);
    if (s == NULL)
        return NULL;
    /* Over the source's limit: no hashing, but the answer (a failure)
     * still waits - an immediate refusal would let a guesser loop as fast
     * as the network allows. */
    int refuse = s->active >= TUN_PWPOOL_PER_SOURCE;
    if (refuse)
        tun_info("password check for a client at %s refused: too many at once from there",
                 src_addr);
    tun_pwjob *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->p = p;
    j->pwlen = strlen(password);
    j->hash = strdup(hash);
    j->pw = strdup(password);
    if (j->hash == NULL || j->pw == NULL) {
        free(j->hash);
        if (j->pw)
            tun_free_secret(j->pw, j->pwlen);
        free(j);
        return NULL;
    }
    j->src = s;
    j->cb = cb;
    j->arg = arg;
    j->refuse = refuse;
    if (!refuse)
        s->active++;
    p->n_jobs++;
    ev_tstamp now = ev_now(p->loop);
    if (s->fails && now - s->last_fail > FORGET_AFTER)
        s->fails = 0;
    double d = 0;
    if (s->fails) {
        d = 0.25;
        for (unsigned i = 1; i < s->fails && d < 4.0; i++)
            d *= 2;
        if (d > 4.0)
            d = 4.0;
        d -= now - s->last_fail; /* the time already waited counts */
    }
    if (refuse && d < 1.0)
        d = 1.0;
    if (d > 0) {
        ev_timer_init(&j->delay, on_delay, d, 0.);
        j->delay.data = j;
        ev_timer_start(p->loop, &j->delay);
    } else {
        enqueue(p, j);
    }
    return j;
}

void tun_pwpool_cancel(tun_pwjob *j)
{
    if (j == NULL)
        return;
    tun_pwpool *p = j->p;
    j->cancelled = 1;
    if (j->w)
        return; /* running: dropped when the worker answers */
    if (ev_is_active(&j->delay)) {
        ev_timer_stop(p->loop, &j->delay);
        job_free(j);
        return;
    }
    /* In the ready queue: dispatch() frees it when its turn comes. */
}

void tun_pwpool_free(tun_pwpool *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->n_workers; i++) {
        worker *w = &p->workers[i];
        tun_pwjob *j = w->job;
        w->job = NULL;
        if (w->sock >= 0 || w->pid > 0)
            worker_stop(w);
        if (j)
            job_free(j);
    }
    while (p->ready) {
        tun_pwjob *j = p->ready;
        p->ready = j->next;
        job_free(j);
    }
    free(p);
}
