/*
 * test_tun_privtask.c - the privileged side's work in children
 * (tun_privtask.h): commands run for AuthorizedKeysCommand /
 * AuthorizedPrincipalsCommand (output, exit status, the deadline and the
 * output limit killing the whole process group, sshd's path rules, the
 * minimal environment, cancellation) and the errno of files that could not
 * be read.  Runs as whoever runs the tests (as_root 0: no identity change).
 */
#include "util.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tun_privtask.h"

static struct ev_loop *loop;
static tun_user_info self;
static char dir[64];
static char stall[128]; /* reading it stalls (tun_ptask_test_stall) */

struct result {
    int done, err, status;
    char why[512];
    char out[4096];
    size_t len;
};

static void on_cmd(void *arg, int err, int status, const char *why, const uint8_t *out, size_t len)
{
    struct result *r = arg;
    r->done = 1;
    r->err = err;
    r->status = status;
    snprintf(r->why, sizeof(r->why), "%s", why ? why : "");
    r->len = len;
    if (len >= sizeof(r->out))
        len = sizeof(r->out) - 1;
    if (out)
        memcpy(r->out, out, len);
    r->out[len] = '\0';
}

static void run_until(struct result *r, double limit)
{
    ev_tstamp start = ev_time();
    while (!r->done && ev_time() - start < limit)
        ev_run(loop, EVRUN_ONCE);
}

static void cmd(struct result *r, char *const *argv, size_t maxout, double timeout)
{
    memset(r, 0, sizeof(*r));
    tun_ptask *t = tun_ptask_command(loop, 0, &self, argv, maxout, timeout, on_cmd, r);
    assert_non_null(t);
    run_until(r, timeout + 10);
    assert_true(r->done);
}

static int setup(void **state)
{
    (void)state;
    loop = EV_DEFAULT;
    struct passwd *pw = getpwuid(getuid());
    assert_non_null(pw);
    memset(&self, 0, sizeof(self));
    self.found = 1;
    self.uid = pw->pw_uid;
    self.gid = pw->pw_gid;
    snprintf(self.name, sizeof(self.name), "%s", pw->pw_name);
    snprintf(self.home, sizeof(self.home), "%s", pw->pw_dir);
    snprintf(dir, sizeof(dir), "/tmp/test_privtask.XXXXXX");
    assert_non_null(mkdtemp(dir));
    /* before any reader is forked: each process keeps the value it was
     * forked with */
    snprintf(stall, sizeof(stall), "%s/stall", dir);
    tun_ptask_test_stall = stall;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char c[128];
    snprintf(c, sizeof(c), "rm -rf '%s'", dir);
    return system(c) == 0 ? 0 : -1;
}

static void test_output_and_status(void **state)
{
    (void)state;
    struct result r;
    char *ok[] = {"/bin/sh", "-c", "printf 'line1\\nline2\\n'; echo err >&2", NULL};
    cmd(&r, ok, 4096, 5);
    assert_int_equal(r.err, 0);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    assert_string_equal(r.out, "line1\nline2\n"); /* stderr is not collected */
    char *fail[] = {"/bin/sh", "-c", "echo partial; exit 7", NULL};
    cmd(&r, fail, 4096, 5);
    assert_int_equal(r.err, 0);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 7);
    assert_string_equal(r.out, "partial\n");
    char *sig[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    cmd(&r, sig, 4096, 5);
    assert_int_equal(r.err, 0);
    assert_true(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGTERM);
    /* Exactly maxout bytes are fine; stdin is /dev/null. */
    char *exact[] = {"/bin/sh", "-c", "cat; printf 0123456789", NULL};
    cmd(&r, exact, 10, 5);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.len, 10);
}

static void test_environment(void **state)
{
    (void)state;
    setenv("TUN_TEST_SECRET", "leak", 1);
    struct result r;
    char *env[] = {"/usr/bin/env", NULL};
    cmd(&r, env, 4096, 5);
    assert_int_equal(r.err, 0);
    assert_non_null(strstr(r.out, "PATH=/usr/bin:/bin:/usr/sbin:/sbin\n"));
    char want[600];
    snprintf(want, sizeof(want), "USER=%s\n", self.name);
    assert_non_null(strstr(r.out, want));
    snprintf(want, sizeof(want), "HOME=%s\n", self.home);
    assert_non_null(strstr(r.out, want));
    assert_null(strstr(r.out, "TUN_TEST_SECRET"));
    unsetenv("TUN_TEST_SECRET");
}

static int alive(pid_t pid)
{
    return pid > 0 && kill(pid, 0) == 0;
}

static void test_deadline_kills_the_group(void **state)
{
    (void)state;
    char pidfile[128], script[256];
    snprintf(pidfile, sizeof(pidfile), "%s/sleeper.pid", dir);
    snprintf(script, sizeof(script), "sleep 60 & echo $! > %s; wait", pidfile);
    char *slow[] = {"/bin/sh", "-c", script, NULL};
    struct result r;
    ev_tstamp start = ev_time();
    cmd(&r, slow, 4096, 0.5);
    double took = ev_time() - start;
    assert_int_equal(r.err, ETIMEDOUT);
    assert_true(took < 5.0);
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    int pid = 0;
    assert_int_equal(fscanf(f, "%d", &pid), 1);
    fclose(f);
    for (int i = 0; i < 100 && alive(pid); i++) {
        ev_run(loop, EVRUN_NOWAIT); /* reap */
        usleep(20000);
    }
    /* The command's own child, in its process group, is gone too (or a
     * zombie of init's, which kill(0) still sees briefly). */
    char stat[64], buf[256] = "";
    snprintf(stat, sizeof(stat), "/proc/%d/stat", pid);
    f = fopen(stat, "r");
    if (f != NULL) {
        if (fgets(buf, sizeof(buf), f) == NULL)
            buf[0] = '\0';
        fclose(f);
        char *p = strrchr(buf, ')');
        assert_true(p == NULL || p[2] == 'Z' || p[2] == 'X');
    }
}

static void test_output_limit(void **state)
{
    (void)state;
    char *flood[] = {"/usr/bin/yes", "key", NULL};
    struct result r;
    cmd(&r, flood, 1000, 5);
    assert_int_equal(r.err, EFBIG);
    assert_int_equal(r.len, 0);
}

static void test_path_rules(void **state)
{
    (void)state;
    struct result r;
    char *rel[] = {"bin/true", NULL};
    cmd(&r, rel, 100, 5);
    assert_int_equal(r.err, EACCES);
    assert_non_null(strstr(r.why, "not absolute"));
    char *missing[] = {"/nonexistent/cmd", NULL};
    cmd(&r, missing, 100, 5);
    assert_int_equal(r.err, ENOENT);
    /* A copy of a program under a world-writable directory (/tmp). */
    char copy[128], c[300];
    snprintf(copy, sizeof(copy), "%s/true", dir);
    snprintf(c, sizeof(c), "cp /bin/true '%s' && chmod 755 '%s'", copy, copy);
    assert_int_equal(system(c), 0);
    char *unsafe[] = {copy, NULL};
    cmd(&r, unsafe, 100, 5);
    assert_int_equal(r.err, EACCES);
    assert_non_null(strstr(r.why, "Unsafe"));
}

static void never(void *arg, int err, int status, const char *why, const uint8_t *out, size_t len)
{
    (void)arg;
    (void)err;
    (void)status;
    (void)why;
    (void)out;
    (void)len;
    fail_msg("callback after cancel");
}

static void test_cancel(void **state)
{
    (void)state;
    char *slow[] = {"/bin/sleep", "30", NULL};
    tun_ptask *t = tun_ptask_command(loop, 0, &self, slow, 100, 30, never, NULL);
    assert_non_null(t);
    ev_run(loop, EVRUN_NOWAIT);
    tun_ptask_cancel(t);
    ev_tstamp start = ev_time();
    while (ev_time() - start < 0.5)
        ev_run(loop, EVRUN_NOWAIT);
}

struct files {
    int done, err, n;
    int ok[2], ferr[2];
};

static void on_files(void *arg, int err, const tun_ptask_file *f, int n)
{
    struct files *r = arg;
    r->done = 1;
    r->err = err;
    r->n = n;
    for (int i = 0; i < n && i < 2; i++) {
        r->ok[i] = f[i].ok;
        r->ferr[i] = f[i].err;
    }
}

static void test_file_errno(void **state)
{
    (void)state;
    char present[128];
    snprintf(present, sizeof(present), "%s/present", dir);
    FILE *f = fopen(present, "w");
    assert_non_null(f);
    fputs("data\n", f);
    fclose(f);
    char *paths[] = {"/nonexistent/file", present};
    struct files r;
    memset(&r, 0, sizeof(r));
    tun_ptask *t = tun_ptask_read_files(loop, 0, &self, paths, 2, 0, 1024, 5, on_files, &r);
    assert_non_null(t);
    ev_tstamp start = ev_time();
    while (!r.done && ev_time() - start < 10)
        ev_run(loop, EVRUN_ONCE);
    assert_true(r.done);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.n, 2);
    assert_false(r.ok[0]);
    assert_int_equal(r.ferr[0], ENOENT);
    assert_true(r.ok[1]);
    assert_int_equal(r.ferr[1], 0);
}

/* ---- the reader ---- */

struct fread {
    int done, err, n, ok;
    int ferr;
    char data[256];
    ev_tstamp at;
};

static void on_one(void *arg, int err, const tun_ptask_file *f, int n)
{
    struct fread *r = arg;
    r->done = 1;
    r->err = err;
    r->n = n;
    r->at = ev_time();
    if (n == 1) {
        r->ok = f[0].ok;
        r->ferr = f[0].err;
        size_t l = f[0].len < sizeof(r->data) - 1 ? f[0].len : sizeof(r->data) - 1;
        if (f[0].data)
            memcpy(r->data, f[0].data, l);
        r->data[l] = '\0';
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void run_all(struct fread *r, int n, double limit)
{
    ev_tstamp start = ev_time();
    for (;;) {
        int all = 1;
        for (int i = 0; i < n; i++)
            all &= r[i].done;
        if (all || ev_time() - start > limit)
            break;
        ev_run(loop, EVRUN_ONCE);
    }
}

static tun_ptask *read1(const tun_user_info *u, int as_root, const char *path, double timeout,
                        struct fread *r)
{
    char *paths[] = {(char *)path};
    memset(r, 0, sizeof(*r));
    tun_ptask *t = tun_ptask_read_files(loop, as_root, u, paths, 1, 0, 1024, timeout, on_one, r);
    assert_non_null(t);
    return t;
}

/* Many requests, one after another and all at once: one reader serves
 * them all (no fork per request), each gets its own file. */
static void test_reader_serves_many(void **state)
{
    (void)state;
    char path[20][128];
    struct fread r[20];
    for (int i = 0; i < 20; i++) {
        char text[32];
        snprintf(path[i], sizeof(path[i]), "%s/many%d", dir, i);
        snprintf(text, sizeof(text), "file %d\n", i);
        write_file(path[i], text);
    }
    unsigned before = tun_ptask_readers_started();
    for (int i = 0; i < 10; i++) {
        read1(&self, 0, path[i], 5, &r[i]);
        run_all(&r[i], 1, 10);
    }
    for (int i = 10; i < 20; i++)
        read1(&self, 0, path[i], 5, &r[i]);
    run_all(r, 20, 10);
    for (int i = 0; i < 20; i++) {
        char text[32];
        snprintf(text, sizeof(text), "file %d\n", i);
        assert_true(r[i].done);
        assert_int_equal(r[i].err, 0);
        assert_true(r[i].ok);
        assert_string_equal(r[i].data, text);
    }
    assert_true(tun_ptask_readers_started() - before <= 1);
    assert_true(tun_ptask_reader_pid() > 0);
}

/* A request that never finishes does not hold up the others: they are
 * served (by forked children) long before its deadline; it gets
 * ETIMEDOUT; the reader is replaced and serves again. */
static void test_reader_stuck(void **state)
{
    (void)state;
    char other[3][128];
    write_file(stall, "never\n");
    struct fread rs, r[3];
    read1(&self, 0, stall, 6, &rs);
    int stuck_pid = tun_ptask_reader_pid();
    assert_true(stuck_pid > 0);
    ev_tstamp t0 = ev_time();
    for (int i = 0; i < 3; i++) {
        snprintf(other[i], sizeof(other[i]), "%s/other%d", dir, i);
        write_file(other[i], "fine\n");
        read1(&self, 0, other[i], 5, &r[i]);
    }
    run_all(r, 3, 10);
    for (int i = 0; i < 3; i++) {
        assert_true(r[i].done);
        assert_true(r[i].ok);
        assert_string_equal(r[i].data, "fine\n");
        assert_true(r[i].at - t0 < 3); /* long before the stalled one's deadline */
    }
    assert_false(rs.done);
    run_all(&rs, 1, 10);
    assert_true(rs.done);
    assert_int_equal(rs.err, ETIMEDOUT);
    assert_true(rs.at - t0 >= 5.5);
    unsigned before = tun_ptask_readers_started();
    read1(&self, 0, other[0], 5, &r[0]);
    run_all(r, 1, 10);
    assert_true(r[0].ok);
    assert_int_equal(tun_ptask_readers_started(), before + 1);
    assert_true(tun_ptask_reader_pid() != stuck_pid);
    /* the stalled reader was killed */
    ev_tstamp w = ev_time();
    while (kill(stuck_pid, 0) == 0 && ev_time() - w < 5)
        ev_run(loop, EVRUN_NOWAIT), usleep(10000);
    assert_int_not_equal(kill(stuck_pid, 0), 0);
}

/* The reader dies between requests, or while one is in flight: nothing
 * is lost (the request goes to a forked child), and the next request
 * starts a new reader. */
static void test_reader_dies(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/dies", dir);
    write_file(path, "still here\n");
    struct fread r;
    read1(&self, 0, path, 5, &r);
    run_all(&r, 1, 10);
    assert_true(r.ok);
    int pid = tun_ptask_reader_pid();
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    usleep(50000);
    read1(&self, 0, path, 5, &r);
    run_all(&r, 1, 10);
    assert_true(r.done);
    assert_int_equal(r.err, 0);
    assert_true(r.ok);
    assert_string_equal(r.data, "still here\n");
    /* in flight: killed while stalled in a request */
    write_file(stall, "x\n");
    read1(&self, 0, path, 5, &r);
    run_all(&r, 1, 10);
    assert_true(r.ok);
    struct fread rs;
    read1(&self, 0, stall, 30, &rs);
    pid = tun_ptask_reader_pid();
    ev_run(loop, EVRUN_NOWAIT);
    tun_ptask_test_stall = NULL; /* a child forked from now on reads it at once */
    assert_int_equal(kill(pid, SIGKILL), 0);
    run_all(&rs, 1, 10);
    assert_true(rs.done);
    assert_int_equal(rs.err, 0);
    assert_true(rs.ok);
    assert_string_equal(rs.data, "x\n");
}

/* Cancelled while the reader works on it: the callback never runs, and the
 * next request is served. */
static void test_reader_cancel(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/cancel", dir);
    write_file(path, "c\n");
    struct fread r1, r2;
    tun_ptask *t = read1(&self, 0, path, 5, &r1);
    tun_ptask_cancel(t);
    read1(&self, 0, path, 5, &r2);
    run_all(&r2, 1, 10);
    ev_tstamp w = ev_time();
    while (ev_time() - w < 0.3)
        ev_run(loop, EVRUN_NOWAIT), usleep(10000);
    assert_false(r1.done);
    assert_true(r2.done);
    assert_true(r2.ok);
    assert_string_equal(r2.data, "c\n");
}

/* Out of descriptors (EMFILE): neither a reader nor a child can be
 * started; the request fails through its callback, later, never from the
 * call itself, and works again once descriptors are free. */
static void test_no_descriptors(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/emfile", dir);
    write_file(path, "e\n");
    int pid = tun_ptask_reader_pid();
    if (pid > 0) {
        assert_int_equal(kill(pid, SIGKILL), 0);
        ev_tstamp w = ev_time();
        while (tun_ptask_reader_pid() != 0 && ev_time() - w < 5)
            ev_run(loop, EVRUN_ONCE);
        assert_int_equal(tun_ptask_reader_pid(), 0);
    }
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int top = dup(0); /* the lowest free descriptor: none from it on */
    assert_true(top >= 0);
    close(top);
    low = old;
    low.rlim_cur = (rlim_t)top;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct fread r;
    read1(&self, 0, path, 5, &r);
    int early = r.done;
    run_all(&r, 1, 10);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_false(early);
    assert_true(r.done);
    assert_int_equal(r.err, EMFILE);
    read1(&self, 0, path, 5, &r);
    run_all(&r, 1, 10);
    assert_true(r.ok);
    assert_string_equal(r.data, "e\n");
}

/* As root: each request is read with that user's identity (uid and
 * primary group), and root's comes back for the next one. */
static void test_reader_identity(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    struct passwd *pw = getpwnam("nobody");
    assert_non_null(pw);
    tun_user_info nobody;
    memset(&nobody, 0, sizeof(nobody));
    nobody.found = 1;
    nobody.uid = pw->pw_uid;
    nobody.gid = pw->pw_gid;
    snprintf(nobody.name, sizeof(nobody.name), "%s", pw->pw_name);
    snprintf(nobody.home, sizeof(nobody.home), "%s", pw->pw_dir);
    assert_int_equal(chmod(dir, 0755), 0);
    char secret[128], grp[128], mine[128];
    snprintf(secret, sizeof(secret), "%s/root-only", dir);
    snprintf(grp, sizeof(grp), "%s/group-readable", dir);
    snprintf(mine, sizeof(mine), "%s/nobodys", dir);
    write_file(secret, "s\n");
    write_file(grp, "g\n");
    write_file(mine, "m\n");
    assert_int_equal(chmod(secret, 0600), 0);
    assert_int_equal(chown(grp, 0, pw->pw_gid), 0);
    assert_int_equal(chmod(grp, 0640), 0);
    assert_int_equal(chown(mine, pw->pw_uid, pw->pw_gid), 0);
    assert_int_equal(chmod(mine, 0600), 0);
    struct fread r[4];
    read1(&nobody, 1, secret, 5, &r[0]);
    read1(&nobody, 1, grp, 5, &r[1]);
    read1(&nobody, 1, mine, 5, &r[2]);
    read1(&self, 0, secret, 5, &r[3]);
    run_all(r, 4, 10);
    assert_int_equal(r[0].err, 0);
    assert_false(r[0].ok);
    assert_int_equal(r[0].ferr, EACCES);
    assert_true(r[1].ok);
    assert_string_equal(r[1].data, "g\n");
    assert_true(r[2].ok);
    assert_true(r[3].ok);
    assert_string_equal(r[3].data, "s\n");
    assert_int_equal(chmod(dir, 0700), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_and_status),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_deadline_kills_the_group),
        cmocka_unit_test(test_output_limit),
        cmocka_unit_test(test_path_rules),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_file_errno),
        cmocka_unit_test(test_reader_serves_many),
        cmocka_unit_test(test_reader_stuck),
        cmocka_unit_test(test_reader_dies),
        cmocka_unit_test(test_reader_cancel),
        cmocka_unit_test(test_no_descriptors),
        cmocka_unit_test(test_reader_identity),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
