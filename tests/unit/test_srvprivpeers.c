/*
 * test_srvprivpeers.c - the privileged side with several workers
 * (tun_privproto.h's peers): a connection token names a connection only
 * for the worker that opened it, answers go to that worker only, the
 * helper's MaxStartups counts every worker's unauthenticated connections
 * and answers each CONN_NEW with EV_ACCEPT, or EV_DROP past the limit,
 * and a worker that goes away takes its connections (only its own) with
 * it.
 */
#include "util.h"

#include "tun_privproto.h"
#include "tun_srv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct rec {
    int accepts; /* EV_ACCEPT verdicts (counted apart) */
    int n;
    uint32_t type[16];
    uint64_t drop_token[16];
} rec;

static void sink(void *arg, const uint8_t *msg, size_t len, const int *fds, int nfds)
{
    (void)fds;
    (void)nfds;
    rec *r = arg;
    assert_true(len >= 8);
    if (msg[0] == 0 && msg[1] == 0 && msg[2] == (TUN_PRIV_EV_ACCEPT >> 8) &&
        msg[3] == (TUN_PRIV_EV_ACCEPT & 0xff)) {
        r->accepts++;
        return;
    }
    if (r->n < 16) {
        r->type[r->n] =
            (uint32_t)msg[0] << 24 | (uint32_t)msg[1] << 16 | (uint32_t)msg[2] << 8 | msg[3];
        if (r->type[r->n] == TUN_PRIV_EV_DROP && len >= 16) {
            uint64_t t = 0;
            for (int i = 0; i < 8; i++)
                t = t << 8 | msg[8 + i];
            r->drop_token[r->n] = t;
        }
    }
    r->n++;
}

static int server_fd = -1; /* an accepted loopback connection */
static int client_fd = -1;

static tun_privd *setup(const char *max_startups)
{
    tun_srvsettings *set = calloc(1, sizeof(*set));
    assert_non_null(set);
    set->refs = 1;
    tun_srvcfg_init(&set->cfg);
    assert_int_equal(tun_srvcfg_apply(&set->cfg, max_startups, "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&set->cfg, "AuthorizedKeysFile /nonexistent/%u", "t"), 0);
    assert_int_equal(tun_srvcfg_finish(&set->cfg), 0);
    tun_privd *d = tun_privd_new(EV_DEFAULT, 0, set, NULL, NULL, NULL);
    tun_srvsettings_unref(set);
    assert_non_null(d);
    tun_privd_set_global_startups(d, 1);
    if (server_fd < 0) {
        int l = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a;
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t al = sizeof(a);
        assert_true(l >= 0);
        assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(l, 1), 0);
        assert_int_equal(getsockname(l, (struct sockaddr *)&a, &al), 0);
        client_fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(connect(client_fd, (struct sockaddr *)&a, sizeof(a)), 0);
        server_fd = accept(l, NULL, NULL);
        assert_true(server_fd >= 0);
        close(l);
    }
    return d;
}

static void put_hdr(uint8_t *m, uint32_t type, uint32_t id, uint64_t token)
{
    for (int i = 0; i < 4; i++) {
        m[i] = (uint8_t)(type >> (24 - 8 * i));
        m[4 + i] = (uint8_t)(id >> (24 - 8 * i));
    }
    for (int i = 0; i < 8; i++)
        m[8 + i] = (uint8_t)(token >> (56 - 8 * i));
}

static void conn_new(tun_privd *d, tun_privpeer *w, uint64_t token)
{
    uint8_t m[16];
    put_hdr(m, TUN_PRIV_CONN_NEW, 0, token);
    int fd = dup(server_fd);
    tun_privd_request_from(d, w, m, sizeof(m), &fd, 1);
}

static void simple(tun_privd *d, tun_privpeer *w, uint32_t type, uint32_t id, uint64_t token)
{
    uint8_t m[16];
    put_hdr(m, type, id, token);
    tun_privd_request_from(d, w, m, sizeof(m), NULL, 0);
}

static void tokens_belong_to_their_worker(void **state)
{
    (void)state;
    tun_privd *d = setup("MaxStartups 100");
    rec ra = {0}, rb = {0};
    tun_privpeer *a = tun_privd_peer_add(d, 1, 0, sink, &ra);
    tun_privpeer *b = tun_privd_peer_add(d, 2, 0, sink, &rb);
    conn_new(d, a, 7);
    assert_int_equal(tun_privd_unauthenticated(d), 1);
    assert_int_equal(ra.accepts, 1); /* the verdict goes to the opener only */
    assert_int_equal(rb.accepts, 0);
    /* B names A's token: refused to B, nothing reaches A */
    simple(d, b, TUN_PRIV_SPAWN, 11, 7);
    simple(d, b, TUN_PRIV_UNIX, 12, 7);
    assert_int_equal(rb.n, 2);
    assert_int_equal(rb.type[0], TUN_PRIV_SPAWN | TUN_PRIV_REPLY);
    assert_int_equal(rb.type[1], TUN_PRIV_UNIX | TUN_PRIV_REPLY);
    assert_int_equal(ra.n, 0);
    /* B cannot end A's connection */
    simple(d, b, TUN_PRIV_CONN_END, 0, 7);
    assert_int_equal(tun_privd_unauthenticated(d), 1);
    /* the same token number is B's own connection, a different one */
    conn_new(d, b, 7);
    assert_int_equal(tun_privd_unauthenticated(d), 2);
    /* A's own request about its connection is answered to A */
    simple(d, a, TUN_PRIV_UNIX, 13, 7);
    assert_int_equal(ra.n, 1);
    assert_int_equal(ra.type[0], TUN_PRIV_UNIX | TUN_PRIV_REPLY);
    assert_int_equal(rb.n, 2);
    /* ends: each its own */
    simple(d, a, TUN_PRIV_CONN_END, 0, 7);
    assert_int_equal(tun_privd_unauthenticated(d), 1);
    simple(d, b, TUN_PRIV_CONN_END, 0, 7);
    assert_int_equal(tun_privd_unauthenticated(d), 0);
    tun_privd_free(d);
}

static void max_startups_over_all_workers(void **state)
{
    (void)state;
    tun_privd *d = setup("MaxStartups 3");
    rec ra = {0}, rb = {0};
    tun_privpeer *a = tun_privd_peer_add(d, 1, 0, sink, &ra);
    tun_privpeer *b = tun_privd_peer_add(d, 2, 0, sink, &rb);
    conn_new(d, a, 1);
    conn_new(d, b, 1);
    conn_new(d, a, 2);
    assert_int_equal(tun_privd_unauthenticated(d), 3);
    assert_int_equal(ra.n + rb.n, 0);
    assert_int_equal(ra.accepts, 2);
    assert_int_equal(rb.accepts, 1);
    /* the fourth, whichever worker has it, is past the server's limit */
    conn_new(d, b, 2);
    assert_int_equal(tun_privd_unauthenticated(d), 3);
    assert_int_equal(rb.n, 1);
    assert_int_equal(rb.type[0], TUN_PRIV_EV_DROP);
    assert_int_equal(rb.drop_token[0], 2);
    assert_int_equal(ra.n, 0);
    /* a dropped token is unknown: ending it changes nothing */
    simple(d, b, TUN_PRIV_CONN_END, 0, 2);
    assert_int_equal(tun_privd_unauthenticated(d), 3);
    /* one ends: room again */
    simple(d, a, TUN_PRIV_CONN_END, 0, 1);
    conn_new(d, b, 3);
    assert_int_equal(tun_privd_unauthenticated(d), 3);
    assert_int_equal(rb.n, 1);
    assert_int_equal(rb.accepts, 2);
    tun_privd_free(d);
}

static void removed_worker_takes_its_connections(void **state)
{
    (void)state;
    tun_privd *d = setup("MaxStartups 100");
    rec ra = {0}, rb = {0};
    tun_privpeer *a = tun_privd_peer_add(d, 1, 0, sink, &ra);
    tun_privpeer *b = tun_privd_peer_add(d, 2, 0, sink, &rb);
    conn_new(d, a, 1);
    conn_new(d, a, 2);
    conn_new(d, b, 1);
    assert_int_equal(tun_privd_unauthenticated(d), 3);
    tun_privd_peer_remove(d, a);
    assert_int_equal(tun_privd_unauthenticated(d), 1);
    /* B's connection is still there and still B's */
    simple(d, b, TUN_PRIV_UNIX, 5, 1);
    assert_int_equal(rb.n, 1);
    simple(d, b, TUN_PRIV_CONN_END, 0, 1);
    assert_int_equal(tun_privd_unauthenticated(d), 0);
    tun_privd_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tokens_belong_to_their_worker),
        cmocka_unit_test(max_startups_over_all_workers),
        cmocka_unit_test(removed_worker_takes_its_connections),
    };
    int rv = cmocka_run_group_tests(tests, NULL, NULL);
    if (server_fd >= 0)
        close(server_fd);
    if (client_fd >= 0)
        close(client_fd);
    return rv;
}
