/*
 * tun_trim.c - idle-buffer release (see tun_trim.h).
 *
 * Why malloc needs help: glibc serves requests above its mmap threshold
 * (128 KiB at start) with their own mapping, returned on free; but the
 * threshold adapts upwards to the largest block freed (up to 32 MiB), after
 * which megabyte buffers come from the heap, and a free block in the middle
 * of the heap stays resident.  After a burst of a thousand 2 MiB channel
 * buffers the process kept its peak size (172 MB in the issue 14 report)
 * although every buffer had been freed.  tun_trim_setup() pins the
 * threshold (no adaptation), and tun_trim_heap() returns what the heap
 * holds free (malloc_trim also releases whole free pages inside the heap).
 *
 * Objects that go away (the thousand streams of a burst closing) free their
 * buffers directly; what stays are the small blocks around them, and
 * tun_trim_freed() trims once a second after such frees.  Under
 * AddressSanitizer malloc is ASan's own allocator, which gives free pages
 * back only when a later allocation of the same size class happens past its
 * release interval; an idle process after a burst never gets there, so the
 * trim calls the allocator's purge instead (the test suite's memory checks
 * run under ASan and read RSS).
 */
#define _GNU_SOURCE
#include "tun_trim.h"
#include "tun_transport.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TRIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TRIM_ASAN 1
#endif
#endif
#ifdef TRIM_ASAN
/* The sanitizer runtime's public interface (sanitizer/allocator_interface.h,
 * which not every compiler installs). */
void __sanitizer_purge_allocator(void);
#endif

#define TRIM_SWEEP_S   1.0
#define MMAP_THRESHOLD (256 * 1024)

static tun_trim *list;
static ev_timer sweep;
static struct ev_loop *sweep_loop;
static ev_timer freed_timer;
static struct ev_loop *freed_loop;

void tun_trim_setup(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
#endif
}

void tun_trim_heap(void)
{
#ifdef TRIM_ASAN
    __sanitizer_purge_allocator();
#elif defined(__GLIBC__)
    malloc_trim(0);
#endif
}

static void on_freed(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    /* one-shot: already stopped by libev; give back the reference */
    ev_ref(loop);
    tun_trim_heap();
}

void tun_trim_freed(struct ev_loop *loop)
{
    if (ev_is_active(&freed_timer) && freed_loop == loop)
        return;
    /* Active on another loop: a program has one loop, so that is a unit
     * test's earlier loop, already destroyed; it is not touched. */
    freed_loop = loop;
    ev_timer_init(&freed_timer, on_freed, TRIM_SWEEP_S, 0.);
    ev_timer_start(loop, &freed_timer);
    ev_unref(loop);
}

/* No entries left: the timer goes too (and gives back the loop reference
 * tun_trim_arm took away, as libev wants before a stop). */
static void sweep_stop(void)
{
    if (!ev_is_active(&sweep))
        return;
    ev_ref(sweep_loop);
    ev_timer_stop(sweep_loop, &sweep);
}

static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    uint64_t now = tun_now_ms();
    size_t freed = 0;
    tun_trim *t = list;
    while (t) {
        tun_trim *next = t->next;
        if (now - t->since >= TUN_TRIM_IDLE_MS) {
            tun_trim_disarm(t);
            freed += t->fn(t); /* touches its own entry only */
        }
        t = next;
    }
    if (freed)
        tun_trim_heap();
}

void tun_trim_arm(struct ev_loop *loop, tun_trim *t)
{
    t->since = tun_now_ms();
    if (t->linked)
        return;
    t->linked = 1;
    t->prev = NULL;
    t->next = list;
    if (list)
        list->prev = t;
    list = t;
    if (!ev_is_active(&sweep)) {
        /* (Re)attached to the caller's loop: a program has one, but a
         * test may make a new one for each case. */
        sweep_loop = loop;
        ev_timer_init(&sweep, on_sweep, TRIM_SWEEP_S, TRIM_SWEEP_S);
        ev_timer_again(sweep_loop, &sweep);
        /* a sweep timer must not keep the loop alive by itself */
        ev_unref(sweep_loop);
    }
}

void tun_trim_disarm(tun_trim *t)
{
    if (!t->linked)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        list = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->linked = 0;
    if (list == NULL)
        sweep_stop();
}
