/*
 * ct.h - constant-time test annotations for the KEMs.  Internal to
 * libsshtun.
 *
 * SSH_CT_PUBLIC(p, n) says that n bytes at p, computed from secrets, are
 * public from here on (a public key, a rejected random value).  In normal
 * builds it is nothing.  tests/unit/ct_pq.c compiles mlkem.c and
 * sntrup761.c with SSHTUN_CT_VALGRIND and runs them under valgrind with
 * every secret input marked undefined: memcheck then reports each branch
 * and each memory address that depends on a secret, and this macro is the
 * only way to tell it a value may be used so.
 */
#ifndef SSHTUN_PROTO_CT_H
#define SSHTUN_PROTO_CT_H

#ifdef SSHTUN_CT_VALGRIND
#include <valgrind/memcheck.h>
#define SSH_CT_PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define SSH_CT_PUBLIC(p, n) ((void)(p), (void)(n))
#endif

#endif
