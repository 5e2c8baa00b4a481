/*
 * tun_sandbox.c - confining sshtund's network process (see tun_sandbox.h).
 *
 * The seccomp program is a deny list, not an allow list: the network
 * process's legitimate system calls are many (libev, c-ares, OpenSSL,
 * sockets, pipes to sessions, the sanitizers in test builds) and an allow
 * list that misses one kills a working server at the worst moment, while
 * what a hijacked process needs to go further - run a program, attach to
 * another process, change its view of the file system or the kernel's - is
 * a short, stable list.  With PR_SET_NO_NEW_PRIVS, no capabilities and an
 * empty root, what remains is talking over its own sockets.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_sandbox.h"
#include "tun_log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROOT "/tmp" /* mounted over only in our own namespace */

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* ---- 1. an empty root ---------------------------------------------------------------------- */

static int bind_into(const char *src, const char *dst, int dir, int ro)
{
    struct stat st;
    if (stat(src, &st) != 0)
        return 0; /* nothing to bring along */
    if (dir) {
        if (mkdir(dst, 0755) != 0 && errno != EEXIST)
            return -1;
    } else {
        int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return -1;
        close(fd);
    }
    if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) != 0)
        return -1;
    if (ro &&
        mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) != 0)
        return -1;
    return 0;
}

static int empty_root(char *why, size_t whysz)
{
    if (unshare(CLONE_NEWNS) != 0) {
        snprintf(why, whysz, "unshare(CLONE_NEWNS): %s", strerror(errno));
        return -1;
    }
    /* From here on, mounts are ours alone. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("sshtund", ROOT, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=755") !=
            0) {
        snprintf(why, whysz, "mount: %s", strerror(errno));
        return -1;
    }
    if (mkdir(ROOT "/dev", 0755) != 0 || bind_into("/etc", ROOT "/etc", 1, 1) != 0 ||
        bind_into("/dev/null", ROOT "/dev/null", 0, 0) != 0 ||
        bind_into("/dev/urandom", ROOT "/dev/urandom", 0, 1) != 0 ||
        bind_into("/dev/log", ROOT "/dev/log", 0, 0) != 0 ||
        (SANITIZED && bind_into("/proc", ROOT "/proc", 1, 1) != 0) ||
        mount(NULL, ROOT, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) !=
            0) {
        snprintf(why, whysz, "building the empty root: %s", strerror(errno));
        return -1;
    }
    if (chroot(ROOT) != 0 || chdir("/") != 0) {
        snprintf(why, whysz, "chroot: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- 2. no capabilities, no way back ----------------------------------------------------------
 */

static int no_caps_left(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capget, &h, d) != 0)
        return 0;
    for (int i = 0; i < 2; i++)
        if (d[i].effective || d[i].permitted || d[i].inheritable)
            return 0;
    return 1;
}

static int become(const struct passwd *pw, char *why, size_t whysz)
{
    for (int cap = 0; cap < 64; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
            snprintf(why, whysz, "dropping capability %d from the bounding set: %s", cap,
                     strerror(errno));
            return -1;
        }
    if (setgroups(0, NULL) != 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
        snprintf(why, whysz, "becoming %s: %s", pw->pw_name, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0 || geteuid() == 0 || getegid() == 0 || !no_caps_left()) {
        snprintf(why, whysz, "privileges still held after becoming %s", pw->pw_name);
        return -1;
    }
    return 0;
}

/* ---- 4. seccomp
 * ----------------------------------------------------------------------------------- */

#if defined(__x86_64__)
#define SB_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SB_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef SB_ARCH
static const int denied[] = {
    __NR_execve,
    __NR_execveat,
#if !SANITIZED /* LeakSanitizer ptraces its own process at exit */
    __NR_ptrace,
#endif
    __NR_process_vm_readv,
    __NR_process_vm_writev,
    __NR_mount,
    __NR_umount2,
    __NR_pivot_root,
    __NR_chroot,
    __NR_unshare,
    __NR_setns,
    __NR_kexec_load,
#ifdef __NR_kexec_file_load
    __NR_kexec_file_load,
#endif
    __NR_init_module,
    __NR_finit_module,
    __NR_delete_module,
    __NR_bpf,
    __NR_perf_event_open,
    __NR_keyctl,
    __NR_add_key,
    __NR_request_key,
    __NR_userfaultfd,
    __NR_open_by_handle_at,
    __NR_name_to_handle_at,
    __NR_acct,
    __NR_swapon,
    __NR_swapoff,
    __NR_reboot,
    __NR_settimeofday,
    __NR_clock_settime,
    __NR_adjtimex,
    __NR_quotactl,
    __NR_mknodat,
#ifdef __NR_mknod
    __NR_mknod,
#endif
#ifdef __NR_fsopen
    __NR_fsopen,
    __NR_fsmount,
    __NR_move_mount,
    __NR_open_tree,
#endif
};

static int seccomp_deny(char *why, size_t whysz)
{
    enum { N = sizeof(denied) / sizeof(denied[0]) };
    struct sock_filter f[N + 8];
    unsigned n = 0;
    f[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SB_ARCH, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
    /* x32 system calls (bit 30) are another table: refused as a whole. */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, N + 1, 0);
#endif
    for (unsigned i = 0; i < N; i++) /* a match jumps to the EPERM return below */
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied[i],
                                              (unsigned char)(N - i), 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
                                          SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
    struct sock_fprog prog = {(unsigned short)n, f};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
        snprintf(why, whysz, "seccomp: %s", strerror(errno));
        return -1;
    }
    return 0;
}
#else
static int seccomp_deny(char *why, size_t whysz)
{
    snprintf(why, whysz, "no seccomp filter for this architecture");
    return -1;
}
#endif

/* ---- all of it
 * ------------------------------------------------------------------------------------ */

int tun_sandbox_enter(const char *user, char *why, size_t whysz)
{
    struct passwd *p = getpwnam(user);
    if (p == NULL) {
        snprintf(why, whysz, "no user %s", user);
        return -1;
    }
    struct passwd pw = *p;
    char name[64];
    snprintf(name, sizeof(name), "%s", p->pw_name);
    pw.pw_name = name;
    tzset(); /* log time stamps keep the zone once /etc is all there is */
    char note[256];
    if (empty_root(note, sizeof(note)) == 0)
        tun_debug("network process: empty root, its own mount namespace");
    else
        tun_info("network process: no empty root (%s); it keeps the file system view", note);
    if (become(&pw, why, whysz) != 0)
        return -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(why, whysz, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return -1;
    }
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (seccomp_deny(note, sizeof(note)) == 0)
        tun_debug("network process: seccomp filter on");
    else
        tun_info("network process: %s", note);
    return 0;
}
