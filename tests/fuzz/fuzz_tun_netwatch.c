/*
 * fuzz_tun_netwatch.c - the rtnetlink parser behind network change events
 * (tunnel/core/tun_netwatch.h), fed datagrams as recvfrom() would hand
 * them over.
 *
 * Checked: no message counted beyond what the datagram can hold (16 bytes
 * a message at least); the removed-address list bounded and only holding
 * IPv4/IPv6 entries; parsing is additive (two parses into one event give
 * twice the counts of one) and does not depend on what lies beyond `size`
 * (the same bytes copied into a buffer of exactly that size parse the
 * same: no read past the end).
 */
#include <string.h>

#include "fuzz_tun.h"
#include "tun_netwatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    tun_netevent a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    int n = tun_netwatch_parse(copy, size, &a);
    CHECK(n >= 0 && (size_t)n <= size / 16);
    CHECK(a.addr_added + a.addr_removed + a.route_changed + a.link_changed == (unsigned)n);
    CHECK(a.n_removed <= TUN_NETWATCH_MAX_REMOVED && a.n_removed <= a.addr_removed);
    for (size_t i = 0; i < a.n_removed; i++)
        CHECK(a.removed[i].family == 2 || a.removed[i].family == 10);
    int n2 = tun_netwatch_parse(data, size, &b);
    CHECK(n2 == n);
    n2 = tun_netwatch_parse(copy, size, &b);
    CHECK(n2 == n && b.addr_removed == 2 * a.addr_removed &&
          b.route_changed == 2 * a.route_changed);
    free(copy);
    return 0;
}
