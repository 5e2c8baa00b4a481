/*
 * tun_sandbox.h - confining sshtund's network process (root mode).
 *
 * The network process parses everything the internet sends, so it gets as
 * little as the system allows, in this order (each step needs the one
 * before it to have been done as root):
 *
 *   1. its own mount namespace whose root is an empty, read-only tmpfs
 *      holding only what it still reads: /etc (read-only: resolv.conf and
 *      hosts for c-ares, the configuration files an Include names on
 *      SIGHUP, localtime) and /dev/null, /dev/urandom, /dev/log.  No /home,
 *      /tmp, /proc, no users' sockets, no programs.  Where a mount namespace
 *      cannot be had (a container without CAP_SYS_ADMIN), this step is
 *      skipped and says so;
 *   2. the capability bounding set emptied, then every uid and gid set to
 *      the unprivileged user, with no supplementary groups: no capability
 *      is left (checked), and no way back (checked);
 *   3. PR_SET_NO_NEW_PRIVS, not dumpable;
 *   4. a seccomp filter that refuses (EPERM) the system calls a hijacked
 *      network process could use to get further - exec, ptrace and
 *      process_vm_*, mount/namespace/chroot calls, module and kexec loading,
 *      bpf, perf, keyrings, userfaultfd, handle-based opens - and kills it
 *      for a system call of another architecture (x86-64 and AArch64).
 *      Elsewhere the filter is skipped and says so.
 */
#ifndef SSHTUN_TUN_SANDBOX_H
#define SSHTUN_TUN_SANDBOX_H

#include <stddef.h>

/* Steps 1-4 for `user` (its passwd entry is looked up first, before the
 * file system goes away).  0, or -1 with `why` filled when the process
 * could not be made unprivileged (the caller must exit).  Steps that are
 * not available here are logged and skipped. */
int tun_sandbox_enter(const char *user, char *why, size_t whysz);

#endif
