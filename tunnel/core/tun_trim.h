/*
 * tun_trim.h - memory that comes back after a burst.
 *
 * Buffers grow for a burst (a slow local reader, a thousand streams at
 * once) and, left alone, keep that size for the life of their connection
 * or channel.  An object whose buffers are worth releasing arms a
 * tun_trim entry each time it becomes quiet; one timer per loop calls the
 * entry's function once it has stayed quiet for TUN_TRIM_IDLE_MS, and then
 * hands malloc's free pages back to the kernel.  Arming again (activity)
 * only moves the entry's time; disarming unlinks it.  All O(1) but the
 * sweep, which runs once a second and only while entries exist (so a loop
 * with nothing armed has no timer of ours, and the sweep never keeps a
 * loop running by itself).
 */
#ifndef SSHTUN_TUN_TRIM_H
#define SSHTUN_TUN_TRIM_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#define TUN_TRIM_IDLE_MS 1000

typedef struct tun_trim tun_trim;
struct tun_trim {
    tun_trim *prev, *next;
    uint64_t since; /* quiet since (ms, tun_now_ms) */
    /* Release what can be released; returns the bytes freed. */
    size_t (*fn)(tun_trim *t);
    int linked;
};

/* Quiet from now on: call t->fn once it stays so (set fn before). */
void tun_trim_arm(struct ev_loop *loop, tun_trim *t);
/* Busy again, or going away. */
void tun_trim_disarm(tun_trim *t);
/* Hand free heap pages back to the kernel (malloc_trim; under
 * AddressSanitizer, its allocator's purge); called by the sweep after
 * releasing memory, and by owners that freed a lot at once. */
void tun_trim_heap(void);
/* An object that held buffers has gone away: trim the heap once, a second
 * from now (one timer however many go; it never keeps the loop alive). */
void tun_trim_freed(struct ev_loop *loop);
/* Set the process's malloc up so that large buffers are mapped on their
 * own and go back to the kernel when freed (programs call it first). */
void tun_trim_setup(void);

#endif
