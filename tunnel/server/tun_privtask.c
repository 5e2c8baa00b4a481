/*
 * tun_privtask.c - the privileged side's work for a user, in a child that
 * has become the user (see tun_privtask.h).
 *
 * Why a child rather than O_NONBLOCK alone: O_NONBLOCK makes open() of a
 * FIFO return at once (and fstat then shows it is no file), but a read
 * from a FUSE or NFS file, a lookup through an automounter or a connect()
 * to a Unix socket whose backlog is full can still block, and only a
 * process can be given up on.  The child is cheap (one fork of a small
 * process per publickey check) and runs with the user's rights, so a
 * symlink the user planted leads only where the user could read anyway:
 * that is why authorized_keys is opened without O_NOFOLLOW (sshd follows
 * it too; StrictModes checks the resolved path).  A Unix socket is never
 * followed into by bind(), and connect() as the user reaches only what the
 * user may reach.
 *
 * Wire format from the child (SOCK_SEQPACKET, any number of messages, the
 * parent concatenates them until end of stream):
 *   files:  per path: bool ok, bool missing, u32 errno, string why,
 *           string contents
 *   unix:   u32 errno (0: one descriptor attached)
 *   agent:  the same as unix
 *   cleanup: nothing (the parent only reaps it)
 *   cmd:    u32 errno, u32 wait status, string why, string output
 *
 * A command runs in a grandchild: the child (already the command's user)
 * checks the path, forks the command with its stdout on a pipe, reads at
 * most maxout + 1 bytes from it and waits for it.  Both are in the
 * child's own process group, which the deadline kills as a whole.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_privtask.h"
#include "tun_log.h"
#include "tun_sock.h"
#include "tun_util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sshtun/buf.h"

#define CHUNK 32768

enum { T_FILES = 1, T_UNIX, T_CLEANUP, T_CMD };

struct tun_ptask {
    struct ev_loop *loop;
    int kind;
    pid_t pid;
    int sock;
    ev_io io;
    ev_timer deadline;
    ev_child reap;
    int finished; /* callback ran or cancelled */
    int reaped;
    ssh_buf in;
    int fd; /* unix: the descriptor received */
    int n_files;
    void *cb;
    void *arg;
    tun_ptask *next, *prev;
    /* files: the request as the reader takes it, and what a child forked
     * for it instead needs (see "the reader" below) */
    ssh_buf req;
    int as_root;
    tun_user_info u;
    int where;        /* R_* */
    int fail;         /* a child could not be forked: the errno, delivered
                       * from the deadline timer (never from the call) */
    tun_ptask *qnext; /* R_QUEUED: the reader's queue */
};

enum { R_NONE = 0, R_QUEUED, R_READER };

static tun_ptask *all_tasks;
static void reader_forget(tun_ptask *t);

/* ---- StrictModes ------------------------------------------------------------------------------
 */

static int owner_ok(uint32_t owner, uint32_t uid)
{
    return owner == 0 || owner == uid;
}

int tun_ptask_secure_path(const char *path, const struct stat *st, const char *home, uint32_t uid,
                          char *why, size_t whysz)
{
    char buf[PATH_MAX], homedir[PATH_MAX];
    int comparehome = 0;
    if (realpath(path, buf) == NULL) {
        snprintf(why, whysz, "realpath %s failed: %s", path, strerror(errno));
        return -1;
    }
    if (home && realpath(home, homedir) != NULL)
        comparehome = 1;
    if (!S_ISREG(st->st_mode)) {
        snprintf(why, whysz, "%s is not a regular file", buf);
        return -1;
    }
    if (!owner_ok(st->st_uid, uid) || (st->st_mode & 022) != 0) {
        snprintf(why, whysz, "bad ownership or modes for file %s", buf);
        return -1;
    }
    /* Every directory above, up to the home directory (or "/"): whoever
     * can write one of them can replace what is below it. */
    for (;;) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof(tmp), "%s", buf);
        snprintf(buf, sizeof(buf), "%s", dirname(tmp));
        struct stat ds;
        if (stat(buf, &ds) != 0 || !owner_ok(ds.st_uid, uid) || (ds.st_mode & 022) != 0) {
            snprintf(why, whysz, "bad ownership or modes for directory %s", buf);
            return -1;
        }
        if (comparehome && strcmp(homedir, buf) == 0)
            break;
        if (strcmp(buf, "/") == 0 || strcmp(buf, ".") == 0)
            break;
    }
    return 0;
}

/* ---- the child --------------------------------------------------------------------------------
 */

/* Every descriptor but `keep` (moved to 3) closed; the user's identity
 * taken for good (real, effective and saved ids: nothing to come back to
 * in a child that exits after one job); the helper's death ends it. */
static void child_setup(int as_root, const tun_user_info *u, int keep)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    if (keep != 3) {
        if (dup2(keep, 3) < 0)
            _exit(1);
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 4U, ~0U, 0) != 0)
#endif
        for (int fd = 4; fd < 1024; fd++)
            close(fd);
    if (as_root) {
        if (initgroups(u->name, u->gid) != 0 || setresgid(u->gid, u->gid, u->gid) != 0 ||
            setresuid(u->uid, u->uid, u->uid) != 0 || geteuid() != u->uid)
            _exit(1);
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

static void send_all(int sock, const ssh_buf *b)
{
    const uint8_t *p = ssh_buf_ptr(b);
    size_t n = ssh_buf_len(b);
    while (n > 0) {
        size_t k = n > CHUNK ? CHUNK : n;
        if (tun_send_fds(sock, p, k, NULL, 0) != 0)
            _exit(1);
        p += k;
        n -= k;
    }
}

const char *tun_ptask_test_stall;

static void read_one(const tun_user_info *u, const char *path, int strict, size_t maxsize,
                     ssh_buf *out)
{
    if (tun_ptask_test_stall && strcmp(path, tun_ptask_test_stall) == 0)
        sleep(60); /* a file that never answers (the unit tests; see the header) */
    char why[PATH_MAX + 128] = "";
    int missing = 0;
    uint32_t err = 0;
    uint8_t *data = NULL;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        err = (uint32_t)errno;
        missing = errno == ENOENT;
        snprintf(why, sizeof(why), "Could not open user '%s' authorized keys '%s': %s", u->name,
                 path, strerror(errno));
    } else if (fstat(fd, &st) != 0) {
        snprintf(why, sizeof(why), "fstat %s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(why, sizeof(why), "User %s authorized keys %s is not a regular file", u->name,
                 path);
    } else if ((uint64_t)st.st_size > maxsize) {
        snprintf(why, sizeof(why), "User %s authorized keys %s is larger than %zu bytes", u->name,
                 path, maxsize);
    } else if (strict &&
               tun_ptask_secure_path(path, &st, u->home, u->uid, why + 24, sizeof(why) - 24) != 0) {
        memcpy(why, "Authentication refused: ", 24);
    } else {
        data = malloc(maxsize + 1);
        if (data == NULL)
            _exit(1);
        for (;;) {
            ssize_t k = read(fd, data + len, maxsize + 1 - len);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                snprintf(why, sizeof(why), "read %s: %s", path, strerror(errno));
                len = 0;
                free(data);
                data = NULL;
                break;
            }
            if (k == 0)
                break;
            len += (size_t)k;
            if (len > maxsize) {
                snprintf(why, sizeof(why), "User %s authorized keys %s is larger than %zu bytes",
                         u->name, path, maxsize);
                free(data);
                data = NULL;
                len = 0;
                break;
            }
        }
    }
    if (fd >= 0)
        close(fd);
    ssh_buf_put_bool(out, data != NULL);
    ssh_buf_put_bool(out, missing);
    ssh_buf_put_u32(out, data ? 0 : err);
    ssh_buf_put_cstring(out, data ? "" : why);
    ssh_buf_put_string(out, data ? data : (const uint8_t *)"", len);
    free(data);
}

/* A files request (both the reader's and a forked child's input):
 *   u32 as_root, u32 uid, u32 gid, string name, string home, bool strict,
 *   u32 maxsize, u32 n, n x string path
 * (tun_privtask.h: tun_ptask_req_build / tun_ptask_req_parse). */
#define REQ_MAX (TUN_PTASK_MAX_FILES * (PATH_MAX + 8) + 2048)

int tun_ptask_req_parse(const uint8_t *p, size_t len, tun_ptask_req *r)
{
    ssh_cur c;
    uint32_t as_root, n;
    ssh_cur_init(&c, p, len);
    memset(&r->u, 0, sizeof(r->u));
    r->u.found = 1;
    if (ssh_cur_get_u32(&c, &as_root) != 0 || as_root > 1 || ssh_cur_get_u32(&c, &r->u.uid) != 0 ||
        ssh_cur_get_u32(&c, &r->u.gid) != 0 ||
        ssh_cur_get_cstr(&c, r->u.name, sizeof(r->u.name)) != 0 ||
        ssh_cur_get_cstr(&c, r->u.home, sizeof(r->u.home)) != 0 ||
        ssh_cur_get_bool(&c, &r->strict) != 0 || ssh_cur_get_u32(&c, &r->maxsize) != 0 ||
        r->maxsize > UINT32_MAX - 4096 || ssh_cur_get_u32(&c, &n) != 0 ||
        n > TUN_PTASK_MAX_FILES)
        return -1;
    r->as_root = (int)as_root;
    r->n = (int)n;
    for (int i = 0; i < r->n; i++)
        if (ssh_cur_get_cstr(&c, r->path[i], sizeof(r->path[i])) != 0)
            return -1;
    return ssh_cur_end(&c);
}

int tun_ptask_req_build(ssh_buf *b, int as_root, const tun_user_info *u, int strict,
                        size_t maxsize, char *const *paths, int n)
{
    if (n < 0 || n > TUN_PTASK_MAX_FILES || maxsize > UINT32_MAX - 4096)
        return -1;
    if (ssh_buf_put_u32(b, as_root != 0) != 0 || ssh_buf_put_u32(b, u->uid) != 0 ||
        ssh_buf_put_u32(b, u->gid) != 0 || ssh_buf_put_cstring(b, u->name) != 0 ||
        ssh_buf_put_cstring(b, u->home) != 0 || ssh_buf_put_bool(b, strict) != 0 ||
        ssh_buf_put_u32(b, (uint32_t)maxsize) != 0 || ssh_buf_put_u32(b, (uint32_t)n) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (strlen(paths[i]) >= PATH_MAX || ssh_buf_put_cstring(b, paths[i]) != 0)
            return -1;
    return 0;
}

/* Each path read into `out` (the reply's body, see the wire format). */
static void files_serve(const tun_ptask_req *r, ssh_buf *out)
{
    ssh_buf_init(out, (size_t)r->n * (r->maxsize + 4096) + 4096, 0);
    for (int i = 0; i < r->n; i++)
        read_one(&r->u, r->path[i], r->strict, r->maxsize, out);
}

static __attribute__((noreturn)) void child_files(const ssh_buf *req)
{
    static tun_ptask_req r;
    ssh_buf out;
    if (tun_ptask_req_parse(ssh_buf_ptr(req), ssh_buf_len(req), &r) != 0)
        _exit(1);
    files_serve(&r, &out);
    send_all(3, &out);
    _exit(0);
}

/* ---- the reader (its own side) ----------------------------------------------------------------
 *
 * Reading authorized_keys is the privileged side's most frequent task (at
 * least once per publickey login), and forking the helper for it cost the
 * helper ~0.6 ms per login (page tables, copy-on-write faults, exit: perf,
 * issue 14) -- most of what a login cost it.  So files are read by one
 * long-lived child, the reader, forked once.  It stays root and, for each
 * request, takes the user's identity for file access only: supplementary
 * groups, then fsgid and fsuid (the kernel checks permissions against
 * those, and drops the capabilities that bypass the checks while fsuid is
 * not 0: capabilities(7)); afterwards it takes root's back.  That is what
 * sshd's temporarily_use_uid() does with the effective ids for the same
 * files; a request that cannot take or give back the identity ends the
 * reader (the helper then forks children as before).  The reader sends
 * each reply as u32 length + body, the body as a forked child sends it.
 */
static int fs_identity(uint32_t uid, uint32_t gid, const gid_t *groups, int ngroups)
{
    if (setgroups((size_t)ngroups, groups) != 0)
        return -1;
    setfsgid((gid_t)gid);
    setfsuid((uid_t)uid);
    /* setfs*id() report the previous id, never an error: ask again */
    if ((uid_t)setfsuid((uid_t)-1) != (uid_t)uid || (gid_t)setfsgid((gid_t)-1) != (gid_t)gid)
        return -1;
    return 0;
}

/* The user's groups (getgrouplist), remembered for READER_GROUPS_TTL
 * seconds: a login asks twice (the key query, then the signed attempt),
 * and the lookup is most of the reader's work (with nss_systemd, some
 * sixty system calls walking the userdb directories).  A membership change
 * reaches the reading of that user's files a few seconds later at most;
 * sessions are not concerned (they call initgroups() themselves). */
#define READER_GROUPS_TTL 5
#define READER_GROUPS_USERS 64

static int reader_groups(const tun_user_info *u, gid_t *groups, int max)
{
    static struct {
        char name[sizeof(((tun_user_info *)0)->name)];
        gid_t gid;
        time_t at;
        int n;
        gid_t *g;
    } cache[READER_GROUPS_USERS];
    static unsigned next;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    for (int i = 0; i < READER_GROUPS_USERS; i++) {
        if (cache[i].g != NULL && cache[i].gid == (gid_t)u->gid &&
            now.tv_sec - cache[i].at < READER_GROUPS_TTL && strcmp(cache[i].name, u->name) == 0 &&
            cache[i].n <= max) {
            memcpy(groups, cache[i].g, (size_t)cache[i].n * sizeof(gid_t));
            return cache[i].n;
        }
    }
    int ng = max;
    if (getgrouplist(u->name, (gid_t)u->gid, groups, &ng) < 0)
        return -1;
    unsigned k = next++ % READER_GROUPS_USERS;
    gid_t *copy = malloc((size_t)(ng > 0 ? ng : 1) * sizeof(gid_t));
    if (copy != NULL) {
        free(cache[k].g);
        memcpy(copy, groups, (size_t)ng * sizeof(gid_t));
        snprintf(cache[k].name, sizeof(cache[k].name), "%s", u->name);
        cache[k].gid = (gid_t)u->gid;
        cache[k].at = now.tv_sec;
        cache[k].n = ng;
        cache[k].g = copy;
    }
    return ng;
}

static __attribute__((noreturn)) void reader_main(void)
{
    static uint8_t req[REQ_MAX];
    static tun_ptask_req r;
    static gid_t rootgroups[NGROUPS_MAX], groups[NGROUPS_MAX];
    int nroot = getgroups(NGROUPS_MAX, rootgroups);
    if (nroot < 0)
        _exit(1);
    for (;;) {
        ssize_t n;
        do
            n = recv(3, req, sizeof(req), 0);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            _exit(0); /* the helper closed it, or went */
        if (tun_ptask_req_parse(req, (size_t)n, &r) != 0)
            _exit(1);
        if (r.as_root) {
            int ng = reader_groups(&r.u, groups, NGROUPS_MAX);
            if (ng < 0 || fs_identity(r.u.uid, r.u.gid, groups, ng) != 0)
                _exit(1);
        }
        ssh_buf out, msg;
        files_serve(&r, &out);
        if (r.as_root && fs_identity(0, 0, rootgroups, nroot) != 0)
            _exit(1);
        ssh_buf_init(&msg, ssh_buf_len(&out) + 4, 0);
        if (ssh_buf_put_u32(&msg, (uint32_t)ssh_buf_len(&out)) != 0 ||
            ssh_buf_put(&msg, ssh_buf_ptr(&out), ssh_buf_len(&out)) != 0)
            _exit(1);
        send_all(3, &msg);
        ssh_buf_free(&out);
        ssh_buf_free(&msg);
    }
}

static __attribute__((noreturn)) void child_unix(const char *path, int listen_it)
{
    uint32_t e = 0;
    int fd = -1;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        e = ENAMETOOLONG;
    } else {
        memcpy(sun.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int rv = -1;
        if (fd >= 0 && listen_it) {
            mode_t old = umask(0177);
            rv = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
            umask(old);
            if (rv == 0)
                rv = listen(fd, SOMAXCONN);
        } else if (fd >= 0) {
            /* May block (a full backlog): the parent's deadline covers it. */
            do
                rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
            while (rv != 0 && errno == EINTR);
        }
        if (rv != 0) {
            e = (uint32_t)errno;
            if (fd >= 0)
                close(fd);
            fd = -1;
        }
    }
    uint8_t msg[4] = {(uint8_t)(e >> 24), (uint8_t)(e >> 16), (uint8_t)(e >> 8), (uint8_t)e};
    tun_send_fds(3, msg, sizeof(msg), &fd, fd >= 0 ? 1 : 0);
    _exit(0);
}

/* Agent forwarding's directory and socket (the user's, 0700 / 0600).
 * The parent named them; mkdir refuses anything already there, so a
 * planted directory or link is never used. */
static __attribute__((noreturn)) void child_agent(const char *dir, const char *path)
{
    uint32_t e = 0;
    int fd = -1;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        e = ENAMETOOLONG;
    } else if (mkdir(dir, 0700) != 0) {
        e = (uint32_t)errno;
    } else {
        memcpy(sun.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        mode_t old = umask(0177);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
            listen(fd, SOMAXCONN) != 0) {
            e = (uint32_t)errno;
            if (fd >= 0)
                close(fd);
            fd = -1;
            unlink(path);
            rmdir(dir);
        }
        umask(old);
    }
    uint8_t msg[4] = {(uint8_t)(e >> 24), (uint8_t)(e >> 16), (uint8_t)(e >> 8), (uint8_t)e};
    tun_send_fds(3, msg, sizeof(msg), &fd, fd >= 0 ? 1 : 0);
    _exit(0);
}

static __attribute__((noreturn)) void child_cleanup(const char *dir, const char *path)
{
    unlink(path);
    rmdir(dir);
    _exit(0);
}

static __attribute__((noreturn)) void cmd_reply(uint32_t err, uint32_t status, const char *why,
                                                const uint8_t *out, size_t len)
{
    ssh_buf b;
    ssh_buf_init(&b, len + 4096, 0);
    ssh_buf_put_u32(&b, err);
    ssh_buf_put_u32(&b, status);
    ssh_buf_put_cstring(&b, why);
    ssh_buf_put_string(&b, out ? out : (const uint8_t *)"", len);
    send_all(3, &b);
    _exit(0);
}

static __attribute__((noreturn)) void child_cmd(const tun_user_info *u, char *const *argv,
                                                size_t maxout)
{
    char why[PATH_MAX + 160] = "";
    struct stat st;
    signal(SIGCHLD, SIG_DFL);
    if (argv[0] == NULL || argv[0][0] != '/') {
        snprintf(why, sizeof(why), "path is not absolute");
        cmd_reply(EACCES, 0, why, NULL, 0);
    }
    if (stat(argv[0], &st) != 0) {
        int e = errno;
        snprintf(why, sizeof(why), "Could not stat \"%s\": %s", argv[0], strerror(e));
        cmd_reply((uint32_t)e, 0, why, NULL, 0);
    }
    /* sshd's safe_path with uid 0: root's file, in root's directories. */
    char w2[PATH_MAX + 128];
    if (tun_ptask_secure_path(argv[0], &st, NULL, 0, w2, sizeof(w2)) != 0) {
        snprintf(why, sizeof(why), "Unsafe \"%s\": %s", argv[0], w2);
        cmd_reply(EACCES, 0, why, NULL, 0);
    }
    int p[2];
    if (pipe(p) != 0)
        cmd_reply((uint32_t)errno, 0, "pipe", NULL, 0);
    pid_t pid = fork();
    if (pid < 0)
        cmd_reply((uint32_t)errno, 0, "fork", NULL, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(null, 2) < 0)
            _exit(127);
        close(3);
        if (null > 2)
            close(null);
        close(p[0]);
        close(p[1]);
        for (int sig = 1; sig < NSIG; sig++)
            signal(sig, SIG_DFL);
        char e_path[] = "PATH=/usr/bin:/bin:/usr/sbin:/sbin";
        char e_user[128], e_logname[128], e_home[PATH_MAX + 8], e_lang[256];
        char *env[6];
        int ne = 0;
        env[ne++] = e_path;
        snprintf(e_user, sizeof(e_user), "USER=%s", u->name);
        env[ne++] = e_user;
        snprintf(e_logname, sizeof(e_logname), "LOGNAME=%s", u->name);
        env[ne++] = e_logname;
        snprintf(e_home, sizeof(e_home), "HOME=%s", u->home);
        env[ne++] = e_home;
        const char *lang = getenv("LANG");
        if (lang != NULL && strlen(lang) < 200) {
            snprintf(e_lang, sizeof(e_lang), "LANG=%s", lang);
            env[ne++] = e_lang;
        }
        env[ne] = NULL;
        execve(argv[0], argv, env);
        _exit(127);
    }
    close(p[1]);
    uint8_t *out = malloc(maxout + 1);
    if (out == NULL) {
        kill(pid, SIGKILL);
        _exit(1);
    }
    size_t len = 0;
    int big = 0;
    for (;;) {
        ssize_t k = read(p[0], out + len, maxout + 1 - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
        if (len > maxout) {
            big = 1;
            kill(pid, SIGKILL);
            break;
        }
    }
    close(p[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (big)
        cmd_reply(EFBIG, 0, "too much output", NULL, 0);
    cmd_reply(0, (uint32_t)status, "", out, len);
}

/* ---- the parent -------------------------------------------------------------------------------
 */

static void task_unlink_free(tun_ptask *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        all_tasks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    ssh_buf_free(&t->in);
    ssh_buf_free(&t->req);
    if (t->fd >= 0)
        close(t->fd);
    free(t);
}

static void task_stop_io(tun_ptask *t)
{
    ev_io_stop(t->loop, &t->io);
    ev_timer_stop(t->loop, &t->deadline);
    if (t->sock >= 0) {
        close(t->sock);
        t->sock = -1;
    }
}

/* Deliver the result (err 0: parse what arrived). */
static void task_finish(tun_ptask *t, int err)
{
    task_stop_io(t);
    t->finished = 1;
    if (t->kind == T_FILES) {
        tun_ptask_file files[TUN_PTASK_MAX_FILES];
        char whys[TUN_PTASK_MAX_FILES][PATH_MAX + 160];
        memset(files, 0, sizeof(files));
        ssh_cur c;
        ssh_cur_from_buf(&c, &t->in);
        for (int i = 0; err == 0 && i < t->n_files; i++) {
            const uint8_t *d = NULL;
            size_t dl = 0;
            uint32_t e = 0;
            if (ssh_cur_get_bool(&c, &files[i].ok) != 0 ||
                ssh_cur_get_bool(&c, &files[i].missing) != 0 || ssh_cur_get_u32(&c, &e) != 0 ||
                ssh_cur_get_cstr(&c, whys[i], sizeof(whys[i])) != 0 ||
                ssh_cur_get_string(&c, &d, &dl) != 0)
                err = EIO;
            files[i].err = (int)e;
            files[i].why = whys[i];
            files[i].data = d;
            files[i].len = dl;
        }
        if (err == 0 && ssh_cur_end(&c) != 0)
            err = EIO;
        ((tun_ptask_files_cb)t->cb)(t->arg, err, err ? NULL : files, err ? 0 : t->n_files);
    } else if (t->kind == T_CMD) {
        ssh_cur c;
        uint32_t e = EIO, status = 0;
        char why[512] = "";
        const uint8_t *out = NULL;
        size_t ol = 0;
        ssh_cur_from_buf(&c, &t->in);
        if (err == 0 && (ssh_cur_get_u32(&c, &e) != 0 || ssh_cur_get_u32(&c, &status) != 0 ||
                         ssh_cur_get_cstr(&c, why, sizeof(why)) != 0 ||
                         ssh_cur_get_string(&c, &out, &ol) != 0 || ssh_cur_end(&c) != 0))
            err = EIO;
        if (err == 0)
            err = (int)e;
        ((tun_ptask_cmd_cb)t->cb)(t->arg, err, (int)status, why, err ? NULL : out, err ? 0 : ol);
    } else {
        int fd = t->fd;
        t->fd = -1;
        ((tun_ptask_fd_cb)t->cb)(t->arg, err ? -1 : fd, err);
        if (err && fd >= 0)
            close(fd);
    }
    if (t->reaped)
        task_unlink_free(t);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_ptask *t = w->data;
    static uint8_t buf[CHUNK];
    int fds[3], nfds = 0;
    int n = tun_recv_fds(t->sock, buf, sizeof(buf), fds, &nfds);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    for (int i = 0; i < nfds; i++) {
        if (t->kind == T_UNIX && t->fd < 0 && i == 0)
            t->fd = fds[i];
        else
            close(fds[i]);
    }
    if (n < 0) {
        task_finish(t, EIO);
        return;
    }
    if (n == 0) {
        /* End of stream: the child has said all it will. */
        if (t->kind == T_UNIX) {
            ssh_cur c;
            uint32_t e = EIO;
            ssh_cur_from_buf(&c, &t->in);
            if (ssh_cur_get_u32(&c, &e) != 0)
                e = EIO;
            if (e == 0 && t->fd < 0)
                e = EIO;
            task_finish(t, (int)e);
        } else {
            task_finish(t, 0);
        }
        return;
    }
    if (ssh_buf_put(&t->in, buf, (size_t)n) != 0) {
        kill(t->pid, SIGKILL);
        task_finish(t, EFBIG);
    }
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_ptask *t = w->data;
    if (t->fail) {
        task_finish(t, t->fail);
        return;
    }
    if (t->where != R_NONE) {
        reader_forget(t);
        task_finish(t, ETIMEDOUT);
        return;
    }
    if (t->kind == T_CMD && !t->reaped)
        kill(-t->pid, SIGKILL); /* the command too (its own process group) */
    if (!t->reaped)
        kill(t->pid, SIGKILL);
    task_finish(t, ETIMEDOUT);
}

static void on_reaped(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    tun_ptask *t = w->data;
    ev_child_stop(loop, w);
    t->reaped = 1;
    if (t->finished)
        task_unlink_free(t);
}

static tun_ptask *task_new(struct ev_loop *loop, int kind, size_t max, void *cb, void *arg,
                           int sp[2])
{
    tun_ptask *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
        free(t);
        return NULL;
    }
    t->loop = loop;
    t->kind = kind;
    t->fd = -1;
    t->cb = cb;
    t->arg = arg;
    t->sock = sp[0];
    ssh_buf_init(&t->in, max, 0);
    return t;
}

/* Watch a forked child: its answers on t->sock, and its exit. */
static void task_watch(tun_ptask *t, pid_t pid)
{
    t->pid = pid;
    tun_set_nonblock(t->sock, 1);
    ev_io_init(&t->io, on_readable, t->sock, EV_READ);
    t->io.data = t;
    ev_io_start(t->loop, &t->io);
    ev_child_init(&t->reap, on_reaped, pid, 0);
    t->reap.data = t;
    ev_child_start(t->loop, &t->reap);
}

static void task_started(tun_ptask *t, pid_t pid, int child_end, double timeout)
{
    close(child_end);
    task_watch(t, pid);
    ev_timer_init(&t->deadline, on_deadline, timeout, 0.);
    t->deadline.data = t;
    ev_timer_start(t->loop, &t->deadline);
    t->next = all_tasks;
    if (all_tasks)
        all_tasks->prev = t;
    all_tasks = t;
}

static void task_abort(tun_ptask *t, int sp[2])
{
    int e = errno;
    close(sp[0]);
    close(sp[1]);
    ssh_buf_free(&t->in);
    free(t);
    errno = e;
}

/* Fork the task's child: in the child (0 returned) it is already the user,
 * with its end of the socket as descriptor 3, and the caller runs its
 * child_* function, which never returns.  In the parent the task is
 * started (deadline armed) and the pid returned; -1 after a failed fork
 * (the task freed, errno kept).  own_group: the child leads a process
 * group of its own, so the deadline can kill whatever it started. */
static pid_t task_fork(tun_ptask *t, int sp[2], int as_root, const tun_user_info *u, int own_group,
                       double timeout)
{
    pid_t pid = fork();
    if (pid < 0) {
        task_abort(t, sp);
        return -1;
    }
    if (pid == 0) {
        if (own_group)
            setpgid(0, 0);
        child_setup(as_root, u, sp[1]);
        return 0;
    }
    if (own_group)
        setpgid(pid, pid); /* whichever runs first */
    task_started(t, pid, sp[1], timeout);
    return pid;
}

/* ---- the reader (the helper's side) -----------------------------------------------------------
 *
 * Requests wait for the reader in a queue, one in flight at a time.  A
 * request may take long through no fault of the others (a FUSE file that
 * never answers): once the one in flight has taken READER_STUCK, the queue
 * and every new request go to children forked for each, as before the
 * reader existed, so nobody waits behind it; at its deadline the reader is
 * killed, and the next request starts a new one.  The reader is also
 * given up (killed, its requests forked) when it dies or says something
 * that does not parse.
 */
#define READER_STUCK 0.2

static struct {
    struct ev_loop *loop;
    pid_t pid; /* 0: none */
    int sock;
    ev_io io;
    ev_timer stuck;
    int is_stuck;
    tun_ptask *cur;  /* in flight */
    int have_len;    /* the reply's length prefix arrived */
    uint32_t want;   /* its body's length */
    tun_ptask *head, *tail; /* the queue */
    unsigned started; /* readers started (for the tests) */
} rdr = {.sock = -1};

static void files_fork(tun_ptask *t);
static void reader_kick(void);

struct reaper {
    ev_child w;
};

static void on_reader_reaped(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    ev_child_stop(loop, w);
    free(w->data);
}

/* The queue, each request to a child forked for it. */
static void queue_to_children(void)
{
    while (rdr.head) {
        tun_ptask *t = rdr.head;
        rdr.head = t->qnext;
        t->where = R_NONE;
        files_fork(t);
    }
    rdr.tail = NULL;
}

/* The reader given up: killed, its watchers stopped; what it had in
 * flight and in its queue goes to forked children. */
static void reader_drop(void)
{
    if (rdr.pid > 0)
        kill(rdr.pid, SIGKILL);
    if (rdr.sock >= 0) {
        ev_io_stop(rdr.loop, &rdr.io);
        ev_timer_stop(rdr.loop, &rdr.stuck);
        close(rdr.sock);
    }
    rdr.pid = 0;
    rdr.sock = -1;
    rdr.is_stuck = 0;
    tun_ptask *cur = rdr.cur;
    rdr.cur = NULL;
    rdr.have_len = 0;
    if (cur) {
        cur->where = R_NONE;
        ssh_buf_reset(&cur->in);
        files_fork(cur);
    }
    queue_to_children();
}

static void on_reader_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    static uint8_t buf[CHUNK];
    ssize_t n = recv(rdr.sock, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    tun_ptask *t = rdr.cur;
    if (n <= 0 || t == NULL) {
        tun_log(TUN_LOG_DEBUG1, "file reader %d gone (%s): reading in forked children",
                (int)rdr.pid, n < 0 ? strerror(errno) : n == 0 ? "closed" : "unasked reply");
        reader_drop();
        return;
    }
    const uint8_t *p = buf;
    size_t k = (size_t)n;
    if (!rdr.have_len) {
        if (k < 4) {
            reader_drop();
            return;
        }
        rdr.want = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        rdr.have_len = 1;
        p += 4;
        k -= 4;
    }
    if (ssh_buf_len(&t->in) + k > rdr.want || ssh_buf_put(&t->in, p, k) != 0) {
        reader_drop();
        return;
    }
    if (ssh_buf_len(&t->in) < rdr.want)
        return;
    /* complete: the next one can go while this one is delivered */
    rdr.cur = NULL;
    rdr.have_len = 0;
    rdr.is_stuck = 0;
    ev_timer_stop(rdr.loop, &rdr.stuck);
    t->where = R_NONE;
    reader_kick();
    task_finish(t, 0);
}

static void on_reader_stuck(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    rdr.is_stuck = 1;
    queue_to_children();
}

/* Fork the reader: 0, or -1 (then children are forked per request). */
static int reader_start(struct ev_loop *loop)
{
    int mine = -1, theirs = -1;
    pid_t pid = tun_fork_pair(&mine, &theirs);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* as_root 0: it keeps the helper's identity, and takes the user's
         * for each request itself */
        child_setup(0, NULL, theirs);
        reader_main();
    }
    struct reaper *r = calloc(1, sizeof(*r));
    if (r) {
        ev_child_init(&r->w, on_reader_reaped, pid, 0);
        r->w.data = r;
        ev_child_start(loop, &r->w);
    }
    rdr.loop = loop;
    rdr.pid = pid;
    rdr.sock = mine;
    rdr.started++;
    tun_set_nonblock(rdr.sock, 1);
    ev_io_init(&rdr.io, on_reader_readable, rdr.sock, EV_READ);
    ev_io_start(loop, &rdr.io);
    ev_timer_init(&rdr.stuck, on_reader_stuck, READER_STUCK, 0.);
    return 0;
}

/* The next queued request to the reader, if it is free. */
static void reader_kick(void)
{
    while (rdr.cur == NULL && rdr.head != NULL && rdr.pid > 0) {
        tun_ptask *t = rdr.head;
        rdr.head = t->qnext;
        if (rdr.head == NULL)
            rdr.tail = NULL;
        if (send(rdr.sock, ssh_buf_ptr(&t->req), ssh_buf_len(&t->req), MSG_NOSIGNAL) !=
            (ssize_t)ssh_buf_len(&t->req)) {
            t->where = R_NONE;
            files_fork(t);
            reader_drop();
            return;
        }
        t->where = R_READER;
        rdr.cur = t;
        rdr.have_len = 0;
        ev_timer_set(&rdr.stuck, READER_STUCK, 0.);
        ev_timer_start(rdr.loop, &rdr.stuck);
    }
}

/* Whether `t` can wait for the reader (started here if need be). */
static int reader_take(tun_ptask *t)
{
    if (rdr.is_stuck || (rdr.loop != NULL && rdr.loop != t->loop))
        return 0;
    if (rdr.pid <= 0 && reader_start(t->loop) != 0)
        return 0;
    t->where = R_QUEUED;
    t->qnext = NULL;
    if (rdr.tail)
        rdr.tail->qnext = t;
    else
        rdr.head = t;
    rdr.tail = t;
    reader_kick();
    return 1;
}

/* `t` no longer waits for the reader (its deadline, or cancelled). */
static void reader_forget(tun_ptask *t)
{
    if (t->where == R_READER) {
        /* the reader is busy with it and cannot be told to stop */
        rdr.cur = NULL;
        t->where = R_NONE;
        reader_drop();
    } else if (t->where == R_QUEUED) {
        tun_ptask **pp = &rdr.head;
        rdr.tail = NULL;
        while (*pp) {
            if (*pp == t)
                *pp = t->qnext;
            else {
                rdr.tail = *pp;
                pp = &(*pp)->qnext;
            }
        }
        t->where = R_NONE;
    }
}

/* A child forked for the request (the reader is stuck, gone or absent). */
static void files_fork(tun_ptask *t)
{
    int mine = -1, theirs = -1;
    pid_t pid = tun_fork_pair(&mine, &theirs);
    if (pid < 0) {
        t->fail = errno ? errno : EAGAIN;
        ev_timer_stop(t->loop, &t->deadline);
        ev_timer_set(&t->deadline, 0., 0.);
        ev_timer_start(t->loop, &t->deadline);
        return;
    }
    if (pid == 0) {
        child_setup(t->as_root, &t->u, theirs);
        child_files(&t->req);
    }
    /* the deadline runs since the request: not armed again */
    t->sock = mine;
    t->reaped = 0;
    task_watch(t, pid);
}

unsigned tun_ptask_readers_started(void)
{
    return rdr.started;
}

int tun_ptask_reader_pid(void)
{
    return (int)rdr.pid;
}

tun_ptask *tun_ptask_read_files(struct ev_loop *loop, int as_root, const tun_user_info *u,
                                char *const *paths, int n, int strict, size_t maxsize,
                                double timeout, tun_ptask_files_cb cb, void *arg)
{
    if (n < 0 || n > TUN_PTASK_MAX_FILES || maxsize > UINT32_MAX - 4096) {
        errno = EINVAL;
        return NULL;
    }
    tun_ptask *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->loop = loop;
    t->kind = T_FILES;
    t->fd = -1;
    t->sock = -1;
    t->cb = (void *)cb;
    t->arg = arg;
    t->n_files = n;
    t->as_root = as_root;
    t->u = *u;
    t->reaped = 1; /* nothing to reap until a child is forked for it */
    ssh_buf_init(&t->in, (size_t)n * (maxsize + 4096) + 4096, 0);
    ssh_buf_init(&t->req, REQ_MAX, 0);
    if (tun_ptask_req_build(&t->req, as_root, u, strict, maxsize, paths, n) != 0) {
        ssh_buf_free(&t->in);
        ssh_buf_free(&t->req);
        free(t);
        errno = ENAMETOOLONG;
        return NULL;
    }
    ev_timer_init(&t->deadline, on_deadline, timeout, 0.);
    t->deadline.data = t;
    ev_timer_start(loop, &t->deadline);
    t->next = all_tasks;
    if (all_tasks)
        all_tasks->prev = t;
    all_tasks = t;
    if (!reader_take(t))
        files_fork(t); /* (a failure is delivered by the callback, later) */
    return t;
}

tun_ptask *tun_ptask_unix(struct ev_loop *loop, int as_root, const tun_user_info *u,
                          const char *path, int listen_it, double timeout, tun_ptask_fd_cb cb,
                          void *arg)
{
    int sp[2];
    tun_ptask *t = task_new(loop, T_UNIX, 64, (void *)cb, arg, sp);
    if (t == NULL)
        return NULL;
    pid_t pid = task_fork(t, sp, as_root, u, 0, timeout);
    if (pid == 0)
        child_unix(path, listen_it);
    return pid < 0 ? NULL : t;
}

tun_ptask *tun_ptask_agent_dir(struct ev_loop *loop, int as_root, const tun_user_info *u,
                               const char *dir, const char *path, double timeout,
                               tun_ptask_fd_cb cb, void *arg)
{
    int sp[2];
    tun_ptask *t = task_new(loop, T_UNIX, 64, (void *)cb, arg, sp);
    if (t == NULL)
        return NULL;
    pid_t pid = task_fork(t, sp, as_root, u, 0, timeout);
    if (pid == 0)
        child_agent(dir, path);
    return pid < 0 ? NULL : t;
}

tun_ptask *tun_ptask_command(struct ev_loop *loop, int as_root, const tun_user_info *runas,
                             char *const *argv, size_t maxout, double timeout, tun_ptask_cmd_cb cb,
                             void *arg)
{
    int sp[2];
    tun_ptask *t = task_new(loop, T_CMD, maxout + 8192, (void *)cb, arg, sp);
    if (t == NULL)
        return NULL;
    pid_t pid = task_fork(t, sp, as_root, runas, 1, timeout);
    if (pid == 0)
        child_cmd(runas, argv, maxout);
    return pid < 0 ? NULL : t;
}

static void cleanup_done(void *arg, int fd, int err)
{
    (void)arg;
    (void)err;
    if (fd >= 0)
        close(fd);
}

int tun_ptask_agent_cleanup(struct ev_loop *loop, int as_root, const tun_user_info *u,
                            const char *dir, const char *path, double timeout)
{
    int sp[2];
    tun_ptask *t = task_new(loop, T_CLEANUP, 64, (void *)cleanup_done, NULL, sp);
    if (t == NULL)
        return -1;
    pid_t pid = task_fork(t, sp, as_root, u, 0, timeout);
    if (pid == 0)
        child_cleanup(dir, path);
    return pid < 0 ? -1 : 0;
}

void tun_ptask_cancel(tun_ptask *t)
{
    if (t == NULL || t->finished)
        return;
    reader_forget(t);
    task_stop_io(t);
    t->finished = 1;
    if (t->kind == T_CMD && !t->reaped)
        kill(-t->pid, SIGKILL);
    if (!t->reaped)
        kill(t->pid, SIGKILL);
    if (t->reaped)
        task_unlink_free(t);
}
