/*
 * fuzz_tun_privtask.c - the request the helper sends its file reader
 * (tunnel/server/tun_privtask.h: tun_ptask_req_parse) with arbitrary bytes.
 *
 * The reader trusts its parent, but a parser is a parser.  Checked: a
 * request that parses has at most TUN_PTASK_MAX_FILES paths, each a
 * NUL-terminated string shorter than PATH_MAX, a name and a home within
 * their fields and a maxsize the reply can be sized from; building it
 * again gives a request that parses to the same fields (so what the helper
 * builds is what the reader reads), and every prefix of that encoding is
 * refused, as is the encoding with one byte more.
 */
#include <limits.h>
#include <string.h>

#include "fuzz_tun.h"
#include "sshtun/buf.h"
#include "tun_privtask.h"

static int same(const tun_ptask_req *a, const tun_ptask_req *b)
{
    if (a->as_root != b->as_root || (a->strict != 0) != (b->strict != 0) ||
        a->maxsize != b->maxsize || a->n != b->n || a->u.uid != b->u.uid ||
        a->u.gid != b->u.gid || strcmp(a->u.name, b->u.name) != 0 ||
        strcmp(a->u.home, b->u.home) != 0)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->path[i], b->path[i]) != 0)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tun_ptask_req r, r2;
    if (tun_ptask_req_parse(data, size, &r) != 0)
        return 0;
    CHECK(r.n >= 0 && r.n <= TUN_PTASK_MAX_FILES);
    CHECK(r.as_root == 0 || r.as_root == 1);
    CHECK(r.maxsize <= UINT32_MAX - 4096);
    CHECK(memchr(r.u.name, '\0', sizeof(r.u.name)) != NULL);
    CHECK(memchr(r.u.home, '\0', sizeof(r.u.home)) != NULL);
    char *paths[TUN_PTASK_MAX_FILES];
    for (int i = 0; i < r.n; i++) {
        CHECK(strlen(r.path[i]) < PATH_MAX);
        paths[i] = r.path[i];
    }
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    CHECK(tun_ptask_req_build(&b, r.as_root, &r.u, r.strict, r.maxsize, paths, r.n) == 0);
    const uint8_t *p = ssh_buf_ptr(&b);
    size_t n = ssh_buf_len(&b);
    CHECK(tun_ptask_req_parse(p, n, &r2) == 0);
    CHECK(same(&r, &r2));
    for (size_t k = 0; k < n; k += 1 + k / 4)
        CHECK(tun_ptask_req_parse(p, k, &r2) != 0);
    CHECK(ssh_buf_put_u8(&b, 0) == 0);
    CHECK(tun_ptask_req_parse(ssh_buf_ptr(&b), ssh_buf_len(&b), &r2) != 0);
    ssh_buf_free(&b);
    return 0;
}
