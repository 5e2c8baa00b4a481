/*
 * test_tun_resolve.c - the resolver's answers for literal addresses
 * (tunnel/tun_resolve.h): given without c-ares or DNS, from the loop and
 * not inside tun_resolve(), with the port, honouring the address family,
 * and never after a cancel.
 */
#include "util.h"

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "tun_resolve.h"

typedef struct {
    int calls;
    size_t n;
    tun_addr addr;
    char err[128];
} answer;

static void on_answer(void *arg, const tun_addr *addrs, size_t n, const char *err)
{
    answer *a = arg;
    a->calls++;
    a->n = n;
    if (n > 0)
        a->addr = addrs[0];
    snprintf(a->err, sizeof(a->err), "%s", err ? err : "");
}

/* Run the loop until `a` is answered (bounded: a literal needs one turn). */
static void run(struct ev_loop *loop, answer *a)
{
    for (int i = 0; i < 10 && a->calls == 0; i++)
        ev_run(loop, EVRUN_NOWAIT);
}

static void test_ipv4_literal(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    tun_resolver *r = tun_resolver_new(loop);
    assert_non_null(r);
    answer a = {0};
    assert_non_null(tun_resolve(r, "127.0.0.1", 2222, AF_UNSPEC, on_answer, &a));
    assert_int_equal(a.calls, 0); /* never from inside tun_resolve() */
    run(loop, &a);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.n, 1);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.addr.ss;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 2222);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
    assert_int_equal(a.addr.len, sizeof(struct sockaddr_in));
    tun_resolver_free(r);
    ev_loop_destroy(loop);
}

static void test_ipv6_literal(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    tun_resolver *r = tun_resolver_new(loop);
    answer a = {0};
    assert_non_null(tun_resolve(r, "::1", 22, AF_INET6, on_answer, &a));
    run(loop, &a);
    assert_int_equal(a.n, 1);
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.addr.ss;
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 22);
    assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
    tun_resolver_free(r);
    ev_loop_destroy(loop);
}

static void test_family_mismatch(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    tun_resolver *r = tun_resolver_new(loop);
    answer a = {0}, b = {0};
    assert_non_null(tun_resolve(r, "127.0.0.1", 22, AF_INET6, on_answer, &a));
    assert_non_null(tun_resolve(r, "::1", 22, AF_INET, on_answer, &b));
    run(loop, &a);
    run(loop, &b);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.n, 0);
    assert_string_equal(a.err, "Address family for hostname not supported");
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.n, 0);
    tun_resolver_free(r);
    ev_loop_destroy(loop);
}

static void test_cancelled_literal(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    tun_resolver *r = tun_resolver_new(loop);
    answer a = {0};
    tun_lookup *l = tun_resolve(r, "10.1.2.3", 80, AF_UNSPEC, on_answer, &a);
    assert_non_null(l);
    tun_resolve_cancel(l);
    for (int i = 0; i < 5; i++)
        ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(a.calls, 0); /* and the lookup is freed (ASan checks) */
    tun_resolver_free(r);
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_literal),
        cmocka_unit_test(test_ipv6_literal),
        cmocka_unit_test(test_family_mismatch),
        cmocka_unit_test(test_cancelled_literal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
