/*
 * fuzz_tun_proxyproto.c - the PROXY protocol header parser
 * (tunnel/server/tun_proxyproto.h) with arbitrary bytes.
 *
 * Checked: the result is -1 (with a reason), 0 or a length within the
 * input and TUN_PROXY_MAX; a complete header parses to the same length and
 * the same addresses from exactly its own bytes (the bytes after it are
 * never looked at: they are overwritten between the two parses), and its
 * prefixes are incomplete or, never, malformed; an incomplete input is
 * shorter than the bound; a non-local header has an IPv4/IPv6 family whose
 * source converts to text.
 */
#include <string.h>
#include <sys/socket.h>

#include "fuzz_tun.h"
#include "tun_proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tun_proxyhdr h, h2;
    const char *why = NULL;
    int rv = tun_proxy_parse(data, size, &h, &why);
    CHECK(rv >= -1);
    if (rv == -1) {
        CHECK(why != NULL && *why != '\0');
        return 0;
    }
    if (rv == 0) {
        CHECK(size < TUN_PROXY_MAX);
        return 0;
    }
    size_t n = (size_t)rv;
    CHECK(n <= size && n <= TUN_PROXY_MAX && h.len == n);
    CHECK(h.version == 1 || h.version == 2);
    if (h.version == 1)
        CHECK(n <= TUN_PROXY_V1_MAX);
    /* the same header alone, followed by different bytes */
    uint8_t *copy = malloc(n + 16);
    CHECK(copy != NULL);
    memcpy(copy, data, n);
    memset(copy + n, 0xA5, 16);
    CHECK(tun_proxy_parse(copy, n + 16, &h2, NULL) == rv);
    CHECK(memcmp(&h, &h2, sizeof(h)) == 0);
    for (size_t i = 0; i < n; i += 1 + i / 8)
        CHECK(tun_proxy_parse(copy, i, &h2, NULL) == 0);
    free(copy);
    char t[64];
    if (h.local) {
        CHECK(tun_proxy_src_text(&h, t, sizeof(t)) == -1);
    } else {
        CHECK(h.family == AF_INET || h.family == AF_INET6);
        CHECK(tun_proxy_src_text(&h, t, sizeof(t)) == 0);
        CHECK(strlen(t) > 0 && strlen(t) < 46);
    }
    return 0;
}
