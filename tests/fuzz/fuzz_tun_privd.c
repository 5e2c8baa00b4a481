/*
 * fuzz_tun_privd.c - the privileged side's request parser
 * (tun_privd_request) fed what a compromised network process could send.
 *
 * Input: a sequence of messages, each a u16 big-endian length and that
 * many bytes (tun_privproto.h's format: u32 type, u32 id, u64 token,
 * fields).  A message whose token field starts with an odd byte gets the
 * token of a real connection opened for this input (a TCP socket on
 * loopback), so the decisions behind the parsers run too; the connection
 * is ended after the input, which must cancel whatever is under way.
 * The privileged side runs in-process as in single-user mode; its answers
 * are only checked to be well-formed messages.
 */
#include "tun_privproto.h"
#include "tun_srv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static tun_privd *d;
static struct ev_loop *loop;
static int peer_fd = -1; /* an accepted loopback connection, handed over each time */
static uint64_t next_token = 1;

static void sink(void *arg, const uint8_t *msg, size_t len, const int *fds, int nfds)
{
    (void)arg;
    (void)fds;
    (void)nfds;
    /* Every answer starts with its type and request id. */
    if (len < 8)
        abort();
    (void)msg;
}

static void setup(void)
{
    loop = EV_DEFAULT;
    tun_srvsettings *set = calloc(1, sizeof(*set));
    if (set == NULL)
        abort();
    set->refs = 1;
    tun_srvcfg_init(&set->cfg);
    if (tun_srvcfg_apply(&set->cfg, "AuthorizedKeysFile /nonexistent/ak/%u", "fuzz") != 0 ||
        tun_srvcfg_apply(&set->cfg, "AcceptEnv LC_* FUZZ_*", "fuzz") != 0 ||
        tun_srvcfg_apply(&set->cfg, "PermitRootLogin yes", "fuzz") != 0 ||
        tun_srvcfg_apply(&set->cfg, "Subsystem sub /bin/true", "fuzz") != 0 ||
        tun_srvcfg_finish(&set->cfg) != 0)
        abort();
    d = tun_privd_new(loop, 0, set, NULL, sink, NULL);
    tun_srvsettings_unref(set);
    if (d == NULL)
        abort();
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &al) != 0)
        abort();
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0)
        abort();
    peer_fd = accept(l, NULL, NULL);
    if (peer_fd < 0)
        abort();
    close(l);
    /* `c` stays open: the accepted socket keeps its peer address. */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (d == NULL)
        setup();
    uint64_t token = next_token++;
    uint8_t tok[8];
    for (int i = 0; i < 8; i++)
        tok[i] = (uint8_t)(token >> (56 - 8 * i));
    uint8_t hello[16] = {0, 0, 0, TUN_PRIV_CONN_NEW, 0, 0, 0, 0};
    memcpy(hello + 8, tok, 8);
    int fd = dup(peer_fd);
    tun_privd_request(d, hello, sizeof(hello), &fd, fd >= 0 ? 1 : 0);
    size_t off = 0;
    uint8_t *msg = malloc(65536);
    if (msg == NULL)
        return 0;
    while (off + 2 <= size) {
        size_t len = ((size_t)data[off] << 8) | data[off + 1];
        off += 2;
        if (len > size - off)
            len = size - off;
        memcpy(msg, data + off, len);
        off += len;
        if (len >= 16 && (msg[8] & 1))
            memcpy(msg + 8, tok, 8);
        tun_privd_request(d, msg, len, NULL, 0);
    }
    free(msg);
    ev_run(loop, EVRUN_NOWAIT);
    uint8_t bye[16] = {0, 0, 0, TUN_PRIV_CONN_END, 0, 0, 0, 0};
    memcpy(bye + 8, tok, 8);
    tun_privd_request(d, bye, sizeof(bye), NULL, 0);
    return 0;
}
