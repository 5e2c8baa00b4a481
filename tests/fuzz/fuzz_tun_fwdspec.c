/*
 * fuzz_tun_fwdspec.c - forwarding specifications (tunnel/tun_fwdspec.h) as
 * given to -L, -R, -D and the LocalForward/RemoteForward/DynamicForward
 * keywords.
 *
 * Input: the text of one specification (up to the first NUL); it is parsed
 * for each kind, 'L', 'R' and 'D'.
 *
 * Checked: -1 leaves nothing allocated; a parsed spec is consistent (a
 * listen port or a path, never both; a target host and port, a target path,
 * or dynamic - exactly one; ports in range, 0 only where allowed; kinds
 * respected: -L never dynamic, -D always); tun_fwdspec_describe_*() write
 * a terminated string into buffers of any size; and the spec written back
 * in canonical form (brackets where a field needs them) parses to the same
 * spec.
 */
#include <string.h>

#include "fuzz_tun.h"
#include "tun_fwdspec.h"

static int streq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* A host or path field as the parser reads it back: brackets around what
 * would otherwise be cut (':', whitespace) or read as brackets (a bracketed
 * field with a '/' is a path, as in OpenSSH).  A '/' needs
 * none: no host position is tested for being a path ("-D a/b:1080" binds
 * to the "address" a/b, as in OpenSSH). */
static size_t put_host(char *out, size_t outsz, const char *h)
{
    if (h[0] == '[' || h[strcspn(h, ": \t\n\v\f\r")] != '\0') {
        CHECK(strchr(h, ']') == NULL); /* it came from brackets */
        return (size_t)snprintf(out, outsz, "[%s]", h);
    }
    return (size_t)snprintf(out, outsz, "%s", h);
}

static void canonical(const tun_fwdspec *f, char *out, size_t outsz)
{
    size_t n = 0;
    if (f->listen_path) {
        n += put_host(out + n, outsz - n, f->listen_path);
    } else {
        if (f->listen_host) {
            n += put_host(out + n, outsz - n, f->listen_host);
            n += (size_t)snprintf(out + n, outsz - n, ":");
        }
        n += (size_t)snprintf(out + n, outsz - n, "%d", f->listen_port);
    }
    if (f->connect_path) {
        n += (size_t)snprintf(out + n, outsz - n, ":");
        n += put_host(out + n, outsz - n, f->connect_path);
    } else if (f->connect_host) {
        n += (size_t)snprintf(out + n, outsz - n, ":");
        n += put_host(out + n, outsz - n, f->connect_host);
        n += (size_t)snprintf(out + n, outsz - n, ":%d", f->connect_port);
    }
    CHECK(n < outsz);
}

static void check_describe(const tun_fwdspec *f)
{
    static const unsigned sizes[] = {1, 2, 8, 17, 64, 320, 4096};
    char buf[4100];
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memset(buf, 'x', sizeof(buf));
        tun_fwdspec_describe_listen(f, buf, sizes[i]);
        CHECK(memchr(buf, 0, sizes[i]) != NULL && buf[sizes[i]] == 'x');
        memset(buf, 'x', sizeof(buf));
        tun_fwdspec_describe_connect(f, buf, sizes[i]);
        CHECK(memchr(buf, 0, sizes[i]) != NULL && buf[sizes[i]] == 'x');
    }
    tun_fwdspec_describe_connect(f, buf, sizeof(buf));
    if (f->dynamic)
        CHECK(strcmp(buf, "socks") == 0);
}

static void one(const char *spec, enum tun_fwd_kind kind)
{
    tun_fwdspec f;
    memset(&f, 0xa5, sizeof(f));
    if (tun_fwdspec_parse(spec, kind, &f) != 0) {
        CHECK(f.listen_host == NULL && f.listen_path == NULL && f.connect_host == NULL &&
              f.connect_path == NULL);
        return;
    }
    CHECK(f.kind == kind);
    CHECK(f.dynamic == 0 || f.dynamic == 1);
    if (kind == TUN_FWD_LOCAL)
        CHECK(!f.dynamic);
    if (kind == TUN_FWD_DYNAMIC)
        CHECK(f.dynamic);
    /* Listen side: a path, or an optional address and a port. */
    if (f.listen_path) {
        CHECK(f.listen_port == -1 && f.listen_host == NULL && f.listen_path[0] != '\0');
        CHECK(strchr(f.listen_path, '/') != NULL);
    } else {
        CHECK(f.listen_port >= 0 && f.listen_port <= 65535);
        if (f.listen_port == 0)
            CHECK(kind == TUN_FWD_REMOTE);
    }
    /* Target side: exactly one of dynamic, a path, a host and port. */
    CHECK(f.dynamic + (f.connect_path != NULL) + (f.connect_host != NULL) == 1);
    if (f.connect_host)
        CHECK(f.connect_host[0] != '\0' && f.connect_port >= 1 && f.connect_port <= 65535);
    if (f.connect_path)
        CHECK(strchr(f.connect_path, '/') != NULL);
    check_describe(&f);

    /* Written back in canonical form, it parses to the same thing. */
    char text[8192];
    canonical(&f, text, sizeof(text));
    tun_fwdspec g;
    CHECK(tun_fwdspec_parse(text, kind, &g) == 0);
    CHECK(g.kind == f.kind && g.dynamic == f.dynamic && g.listen_port == f.listen_port &&
          g.connect_port == f.connect_port);
    CHECK(streq(g.listen_host, f.listen_host) && streq(g.listen_path, f.listen_path) &&
          streq(g.connect_host, f.connect_host) && streq(g.connect_path, f.connect_path));
    tun_fwdspec_free(&g);
    tun_fwdspec_free(&f);
    CHECK(f.listen_host == NULL && f.connect_host == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_tun_devnull();
    char *spec = strndup((const char *)data, size);
    CHECK(spec != NULL);
    one(spec, TUN_FWD_LOCAL);
    one(spec, TUN_FWD_REMOTE);
    one(spec, TUN_FWD_DYNAMIC);
    free(spec);
    return 0;
}
