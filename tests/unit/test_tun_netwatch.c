/*
 * test_tun_netwatch.c - the rtnetlink parser behind network change events
 * (tunnel/core/tun_netwatch.h): address, route and link messages counted,
 * removed addresses taken from IFA_LOCAL (else IFA_ADDRESS), several
 * messages in one datagram, and truncated or lying lengths stopping the
 * parse without reading past the buffer.
 */
#include "util.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "tun_netwatch.h"

typedef struct {
    uint8_t b[1024];
    size_t len;
} msgbuf;

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* Start a message of `type`; returns its offset (the length is fixed by end_msg). */
static size_t begin_msg(msgbuf *m, uint16_t type)
{
    size_t at = m->len;
    memset(m->b + at, 0, 16);
    put16(m->b + at + 4, type);
    m->len += 16;
    return at;
}

static void end_msg(msgbuf *m, size_t at)
{
    put32(m->b + at, (uint32_t)(m->len - at));
    while (m->len % 4)
        m->b[m->len++] = 0;
}

static void put_ifaddr(msgbuf *m, uint8_t family)
{
    memset(m->b + m->len, 0, 8);
    m->b[m->len] = family;
    m->len += 8;
}

static void put_attr(msgbuf *m, uint16_t type, const void *data, size_t n)
{
    put16(m->b + m->len, (uint16_t)(4 + n));
    put16(m->b + m->len + 2, type);
    memcpy(m->b + m->len + 4, data, n);
    m->len += 4 + n;
    while (m->len % 4)
        m->b[m->len++] = 0;
}

static void test_messages(void **state)
{
    (void)state;
    msgbuf m = {.len = 0};
    uint8_t a4[4], l4[4], a6[16];
    inet_pton(AF_INET, "10.0.0.1", a4);
    inet_pton(AF_INET, "192.168.1.5", l4);
    inet_pton(AF_INET6, "2001:db8::5", a6);
    /* a removed point-to-point address: IFA_ADDRESS is the peer, IFA_LOCAL ours */
    size_t at = begin_msg(&m, 21 /* RTM_DELADDR */);
    put_ifaddr(&m, 2);
    put_attr(&m, 1 /* IFA_ADDRESS */, a4, 4);
    put_attr(&m, 2 /* IFA_LOCAL */, l4, 4);
    put_attr(&m, 3 /* IFA_LABEL */, "eth0", 5);
    end_msg(&m, at);
    /* a removed IPv6 address (IFA_ADDRESS only) */
    at = begin_msg(&m, 21);
    put_ifaddr(&m, 10);
    put_attr(&m, 1, a6, 16);
    end_msg(&m, at);
    /* an added address, a route, a link, and a NLMSG_DONE */
    at = begin_msg(&m, 20);
    put_ifaddr(&m, 2);
    put_attr(&m, 1, a4, 4);
    end_msg(&m, at);
    at = begin_msg(&m, 24);
    end_msg(&m, at);
    at = begin_msg(&m, 16);
    end_msg(&m, at);
    at = begin_msg(&m, 3 /* NLMSG_DONE */);
    end_msg(&m, at);

    tun_netevent ev;
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(tun_netwatch_parse(m.b, m.len, &ev), 5);
    assert_int_equal(ev.addr_removed, 2);
    assert_int_equal(ev.addr_added, 1);
    assert_int_equal(ev.route_changed, 1);
    assert_int_equal(ev.link_changed, 1);
    assert_int_equal(ev.n_removed, 2);
    assert_true(tun_netwatch_removed(&ev, AF_INET, l4));
    assert_false(tun_netwatch_removed(&ev, AF_INET, a4)); /* the peer, not ours */
    assert_true(tun_netwatch_removed(&ev, AF_INET6, a6));
    /* an added address is not a removed one */
    uint8_t other[16] = {0};
    assert_false(tun_netwatch_removed(&ev, AF_INET6, other));
}

static void test_bad_lengths(void **state)
{
    (void)state;
    msgbuf m = {.len = 0};
    uint8_t a4[4] = {10, 1, 2, 3};
    size_t at = begin_msg(&m, 21);
    put_ifaddr(&m, 2);
    put_attr(&m, 1, a4, 4);
    end_msg(&m, at);
    tun_netevent ev;
    /* every truncation of a valid message: never read beyond, never a
     * removed address from a cut attribute */
    for (size_t n = 0; n < m.len; n++) {
        memset(&ev, 0, sizeof(ev));
        uint8_t copy[64];
        memcpy(copy, m.b, n);
        tun_netwatch_parse(copy, n, &ev);
        assert_int_equal(ev.n_removed, 0);
    }
    /* a message length larger than the datagram: nothing counted */
    msgbuf big = m;
    put32(big.b, 4000);
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(tun_netwatch_parse(big.b, big.len, &ev), 0);
    /* a message length below the header: the parse stops */
    put32(big.b, 8);
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(tun_netwatch_parse(big.b, big.len, &ev), 0);
    /* an attribute claiming more than its message: address ignored, message counted */
    msgbuf lie = m;
    put16(lie.b + 16 + 8, 200);
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(tun_netwatch_parse(lie.b, lie.len, &ev), 1);
    assert_int_equal(ev.n_removed, 0);
    /* an attribute length below its header: ignored */
    put16(lie.b + 16 + 8, 2);
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(tun_netwatch_parse(lie.b, lie.len, &ev), 1);
    assert_int_equal(ev.n_removed, 0);
    /* an address of the wrong size for its family: ignored */
    msgbuf odd = {.len = 0};
    at = begin_msg(&odd, 21);
    put_ifaddr(&odd, 10);
    put_attr(&odd, 1, a4, 4);
    end_msg(&odd, at);
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(tun_netwatch_parse(odd.b, odd.len, &ev), 1);
    assert_int_equal(ev.n_removed, 0);
}

static void test_many_removed(void **state)
{
    (void)state;
    msgbuf m = {.len = 0};
    for (int i = 0; i < 20; i++) {
        uint8_t a4[4] = {10, 0, 0, (uint8_t)i};
        size_t at = begin_msg(&m, 21);
        put_ifaddr(&m, 2);
        put_attr(&m, 2, a4, 4);
        end_msg(&m, at);
    }
    tun_netevent ev;
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(tun_netwatch_parse(m.b, m.len, &ev), 20);
    assert_int_equal(ev.addr_removed, 20);
    assert_int_equal(ev.n_removed, TUN_NETWATCH_MAX_REMOVED); /* bounded */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_many_removed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
